//! What a key holds, and the entry that stores it in a slot shard.
//!
//! A [`KeyEntry`] is one hash-table node: the key, the value and 8 bytes of metadata, 64 bytes
//! with the chain pointer, with short keys and short string values stored inline. Expiry times
//! live in a second per-shard table (most keys have none); `FLAG_EXPIRES` says whether to
//! look there.

use super::bytes::CompactBytes;
use super::dict::Keyed;
use crate::types::{hash::Hash, list::QuickList, set::Set, stream::Stream, zset::ZSet};

/// The value under a key. 24 bytes: short strings inline, compact collections behind one
/// thin pointer (see `types`).
#[derive(Debug, Clone)]
pub enum Value {
    Str(CompactBytes),
    List(Box<QuickList>),
    Hash(Hash),
    Set(Set),
    ZSet(ZSet),
    Stream(Box<Stream>),
}

/// Longest string Redis stores with the `embstr` encoding.
pub const EMBSTR_MAX: usize = 44;

impl Value {
    pub fn str(bytes: &[u8]) -> Value {
        Value::Str(CompactBytes::new(bytes))
    }

    /// The name TYPE reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }

    /// The string bytes, or `None` for other types.
    pub fn as_str(&self) -> Option<&[u8]> {
        match self {
            Value::Str(s) => Some(s.as_slice()),
            _ => None,
        }
    }

    /// Approximate heap bytes owned by the value (MEMORY USAGE, DEBUG OBJECT).
    pub fn heap_bytes(&self) -> usize {
        match self {
            Value::Str(s) => s.heap_bytes(),
            Value::List(l) => l.heap_bytes(),
            Value::Hash(h) => h.heap_bytes(),
            Value::Set(s) => s.heap_bytes(),
            Value::ZSet(z) => z.heap_bytes(),
            Value::Stream(s) => s.heap_bytes(),
        }
    }
}

/// The entry has an expiry time in the shard's expires table.
pub const FLAG_EXPIRES: u32 = 1;
/// The string was edited in place (APPEND, SETRANGE, SETBIT): OBJECT ENCODING says `raw`.
pub const FLAG_RAW: u32 = 2;
/// The string was stored as text, never as an integer, even if it looks like one (the result
/// of INCRBYFLOAT): OBJECT ENCODING says `embstr` or `raw`, never `int`.
pub const FLAG_NOT_INT: u32 = 4;

/// One key in a slot shard.
#[derive(Debug, Clone)]
pub struct KeyEntry {
    pub key: CompactBytes,
    pub value: Value,
    /// LRU clock (seconds) or, under an LFU policy, `decrement time << 8 | counter`.
    pub access: u32,
    pub flags: u32,
}

impl Keyed for KeyEntry {
    #[inline]
    fn key(&self) -> &[u8] {
        self.key.as_slice()
    }

    const MAX_LOAD: usize = 2;
}

impl KeyEntry {
    pub fn new(key: &[u8], value: Value, access: u32) -> Self {
        KeyEntry {
            key: CompactBytes::new(key),
            value,
            access,
            flags: 0,
        }
    }

    pub fn has_expire(&self) -> bool {
        self.flags & FLAG_EXPIRES != 0
    }

    /// The encoding name OBJECT ENCODING reports, following Redis's rules for strings: an
    /// integer-looking string of at most 20 bytes is `int`, an edited one `raw`, a short one
    /// `embstr`.
    pub fn encoding(&self) -> &'static str {
        match &self.value {
            Value::Str(s) => {
                let b = s.as_slice();
                if self.flags & FLAG_RAW != 0 {
                    "raw"
                } else if self.flags & FLAG_NOT_INT == 0
                    && b.len() <= 20
                    && rudis_resp::number::parse_i64(b).is_some()
                {
                    "int"
                } else if b.len() <= EMBSTR_MAX {
                    "embstr"
                } else {
                    "raw"
                }
            }
            Value::List(l) => l.encoding(),
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            Value::ZSet(z) => z.encoding(),
            Value::Stream(_) => "stream",
        }
    }
}

/// An expiry time in a shard's expires table.
#[derive(Debug, Clone)]
pub struct ExpireEntry {
    pub key: CompactBytes,
    /// Unix time in milliseconds at which the key expires.
    pub at_ms: i64,
}

impl Keyed for ExpireEntry {
    #[inline]
    fn key(&self) -> &[u8] {
        self.key.as_slice()
    }

    const MAX_LOAD: usize = 2;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_fits_a_64_byte_node() {
        assert_eq!(std::mem::size_of::<Value>(), 24);
        assert_eq!(std::mem::size_of::<KeyEntry>(), 56);
    }

    #[test]
    fn string_encodings() {
        let e = |v: &[u8]| KeyEntry::new(b"k", Value::str(v), 0).encoding();
        assert_eq!(e(b"123"), "int");
        assert_eq!(e(b"0123"), "embstr");
        assert_eq!(e(&[b'x'; 44]), "embstr");
        assert_eq!(e(&[b'x'; 45]), "raw");
        let mut float = KeyEntry::new(b"k", Value::str(b"3"), 0);
        float.flags |= FLAG_NOT_INT;
        assert_eq!(float.encoding(), "embstr");
    }
}
