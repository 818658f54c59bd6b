//! Values in a server-neutral form: what the reader returns and the writer accepts.
//!
//! Compact encodings arrive as the very bytes Redis keeps in memory (listpacks, intsets), so a
//! server that stores them the same way adopts them without re-encoding. Every such blob the
//! reader returns has been checked completely (see the `listpack`, `intset` and `stream`
//! modules); blobs handed to the writer are trusted to be valid.

/// One quicklist node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuicklistNode {
    /// A listpack of one or more elements.
    Packed(Vec<u8>),
    /// One element stored alone (Redis does this for elements of 1 GiB and more).
    Plain(Vec<u8>),
}

/// A key's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    String(Vec<u8>),
    /// A list as its elements (old linked lists and ziplists): the server packs them.
    List(Vec<Vec<u8>>),
    /// A list as quicklist nodes, in order.
    ListQuicklist(Vec<QuicklistNode>),
    /// Distinct members.
    Set(Vec<Vec<u8>>),
    /// An intset (see [`crate::intset`]).
    SetIntset(Vec<u8>),
    /// Distinct members with their scores (never NaN). Redis writes them highest score first.
    ZSet(Vec<(Vec<u8>, f64)>),
    /// A listpack of member, score pairs in ascending order.
    ZSetListpack(Vec<u8>),
    /// Distinct fields with their values.
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
    /// A listpack of field, value pairs.
    HashListpack(Vec<u8>),
    Stream(Box<crate::stream::Stream>),
}

impl Value {
    /// The name TYPE reports for the value.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::String(_) => "string",
            Value::List(_) | Value::ListQuicklist(_) => "list",
            Value::Set(_) | Value::SetIntset(_) => "set",
            Value::ZSet(_) | Value::ZSetListpack(_) => "zset",
            Value::Hash(_) | Value::HashListpack(_) => "hash",
            Value::Stream(_) => "stream",
        }
    }
}

/// What an RDB file records about a key besides its name and value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EntryMeta {
    /// Absolute expiry time, Unix milliseconds.
    pub expire_at_ms: Option<i64>,
    /// LRU idle time in seconds (written under an LRU maxmemory policy).
    pub lru_idle_secs: Option<u64>,
    /// LFU logarithmic access counter (written under an LFU maxmemory policy).
    pub lfu_freq: Option<u8>,
}

/// One key with its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: Vec<u8>,
    pub value: Value,
    pub meta: EntryMeta,
}
