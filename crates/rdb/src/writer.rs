//! The streaming RDB writer (`rdbSaveRio`): emits version 10 exactly as Redis 7.0 lays it
//! out, key by key, to any `std::io::Write`.
//!
//! The caller chooses each value's encoding (it knows how it holds the value); the writer
//! emits it with Redis 7.0's RDB type for that encoding, and each string the way Redis's
//! `rdbSaveRawString` would (integer, LZF or raw). [`ValueWriter`] serializes one value,
//! either as a file entry ([`Writer::entry`]) or as a DUMP payload body
//! ([`crate::dump::encode_with`]).
//!
//! Invariant: a count written before a collection equals the number of items written after
//! it (asserted), so a file is never silently inconsistent.

use std::io::Write;

use crate::error::Result;
use crate::format::*;
use crate::listpack::{self, Builder};
use crate::output::Output;
use crate::stream::{self, Stream};
use crate::value::{Entry, EntryMeta, QuicklistNode, Value};

/// Writer settings, Redis's `rdbcompression` and `rdbchecksum`.
#[derive(Debug, Clone, Copy)]
pub struct WriteOptions {
    pub compression: bool,
    pub checksum: bool,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            compression: true,
            checksum: true,
        }
    }
}

/// The aux fields Redis 7.0 writes after the header, in its order.
#[derive(Debug, Clone, Copy)]
pub struct AuxFields<'a> {
    pub redis_ver: &'a str,
    pub redis_bits: u32,
    pub ctime_secs: i64,
    pub used_mem_bytes: u64,
    /// Written for replication and when a replication ID is worth keeping.
    pub replication: Option<ReplicationAux<'a>>,
    /// 1 when the file is the base of a multi-part AOF.
    pub aof_base: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct ReplicationAux<'a> {
    pub stream_db: i64,
    pub id: &'a str,
    pub offset: i64,
}

/// A quicklist node as the writer takes it.
#[derive(Debug, Clone, Copy)]
pub enum NodeRef<'a> {
    /// A listpack of one or more elements.
    Packed(&'a [u8]),
    /// One element stored alone.
    Plain(&'a [u8]),
    /// A node's contents already LZF-compressed (a compressed node: a listpack, or a plain
    /// element if `plain`), with the uncompressed length: written as it is, as Redis writes
    /// compressed nodes.
    Compressed {
        plain: bool,
        lzf: &'a [u8],
        raw_len: usize,
    },
}

/// Elements of this size or more go alone in a plain node (Redis's `packed_threshold`).
const PLAIN_ELEMENT_BYTES: usize = 1 << 30;
/// Node size limit of Redis's default `list-max-listpack-size -2`.
const NODE_MAX_BYTES: usize = 8192;
/// What Redis adds to an element's size when deciding whether it fits a node.
const NODE_ENTRY_OVERHEAD_BYTES: usize = 8;

pub struct Writer<W: Write> {
    out: Output<W>,
}

impl<W: Write> Writer<W> {
    /// Writes the header (`REDIS0010`).
    pub fn new(sink: W, options: WriteOptions) -> Result<Self> {
        let mut out = Output::new(sink, options.checksum, options.compression);
        out.write(format!("REDIS{RDB_VERSION:04}").as_bytes())?;
        Ok(Writer { out })
    }

    /// A writer of a fragment of a file: entries (and SELECTDB, RESIZEDB...) with no header,
    /// to be spliced into a file with [`Writer::raw`]. Snapshots encode shards this way, in
    /// any order, and assemble the file afterwards. The fragment's own checksum is unused.
    pub fn fragment(sink: W, compression: bool) -> Self {
        Writer {
            out: Output::new(sink, false, compression),
        }
    }

    /// Appends bytes produced by a [`Writer::fragment`] (counted in the checksum).
    pub fn raw(&mut self, bytes: &[u8]) -> Result<()> {
        self.out.write(bytes)
    }

    /// Ends a fragment: its sink, without an EOF opcode or trailer.
    pub fn into_fragment(self) -> W {
        self.out.into_inner()
    }

    /// Bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        self.out.offset()
    }

    /// The sink, for flushing between keys.
    pub fn sink_mut(&mut self) -> &mut W {
        self.out.inner_mut()
    }

    pub fn aux(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.out.u8(OPCODE_AUX)?;
        self.out.string(key)?;
        self.out.string(value)
    }

    /// Writes Redis 7.0's aux fields (`rdbSaveInfoAuxFields`).
    pub fn aux_fields(&mut self, f: &AuxFields<'_>) -> Result<()> {
        self.aux(b"redis-ver", f.redis_ver.as_bytes())?;
        self.aux(b"redis-bits", f.redis_bits.to_string().as_bytes())?;
        self.aux(b"ctime", f.ctime_secs.to_string().as_bytes())?;
        self.aux(b"used-mem", f.used_mem_bytes.to_string().as_bytes())?;
        if let Some(r) = &f.replication {
            self.aux(b"repl-stream-db", r.stream_db.to_string().as_bytes())?;
            self.aux(b"repl-id", r.id.as_bytes())?;
            self.aux(b"repl-offset", r.offset.to_string().as_bytes())?;
        }
        self.aux(b"aof-base", if f.aof_base { b"1" } else { b"0" })
    }

    /// A function library's code (Redis writes these before the databases).
    pub fn function(&mut self, code: &[u8]) -> Result<()> {
        self.out.u8(OPCODE_FUNCTION2)?;
        self.out.string(code)
    }

    pub fn select_db(&mut self, db: u64) -> Result<()> {
        self.out.u8(OPCODE_SELECTDB)?;
        self.out.len(db)
    }

    pub fn resize_db(&mut self, keys: u64, expires: u64) -> Result<()> {
        self.out.u8(OPCODE_RESIZEDB)?;
        self.out.len(keys)?;
        self.out.len(expires)
    }

    /// Starts a key: the returned writer takes its value.
    pub fn entry<'w>(&'w mut self, key: &'w [u8], meta: EntryMeta) -> ValueWriter<'w, W> {
        ValueWriter {
            out: &mut self.out,
            key: Some((key, meta)),
        }
    }

    pub fn write_entry(&mut self, e: &Entry) -> Result<()> {
        self.entry(&e.key, e.meta).value(&e.value)
    }

    /// Writes the EOF opcode and the checksum trailer (zero with checksums off); returns the
    /// sink, flushed.
    pub fn finish(mut self) -> Result<W> {
        self.out.u8(OPCODE_EOF)?;
        let crc = self.out.checksum();
        self.out.write(&crc.to_le_bytes())?;
        let offset = self.out.offset();
        let mut sink = self.out.into_inner();
        sink.flush()
            .map_err(|source| crate::Error::Io { offset, source })?;
        Ok(sink)
    }
}

/// Writes one value: with its key and metadata in a file, or alone in a DUMP payload.
pub struct ValueWriter<'w, W: Write> {
    pub(crate) out: &'w mut Output<W>,
    pub(crate) key: Option<(&'w [u8], EntryMeta)>,
}

impl<W: Write> ValueWriter<'_, W> {
    /// Writes what precedes the value: metadata opcodes, type, key (only the type in DUMP).
    fn start(&mut self, rdb_type: u8) -> Result<()> {
        if let Some((key, meta)) = self.key {
            if let Some(t) = meta.expire_at_ms {
                self.out.u8(OPCODE_EXPIRETIME_MS)?;
                self.out.i64_le(t)?;
            }
            if let Some(idle) = meta.lru_idle_secs {
                self.out.u8(OPCODE_IDLE)?;
                self.out.len(idle)?;
            }
            if let Some(freq) = meta.lfu_freq {
                self.out.u8(OPCODE_FREQ)?;
                self.out.u8(freq)?;
            }
            self.out.u8(rdb_type)?;
            self.out.string(key)
        } else {
            self.out.u8(rdb_type)
        }
    }

    pub fn string(mut self, s: &[u8]) -> Result<()> {
        self.start(TYPE_STRING)?;
        self.out.string(s)
    }

    /// A list as quicklist nodes (RDB type 18).
    pub fn quicklist<'v>(
        mut self,
        nodes: impl ExactSizeIterator<Item = NodeRef<'v>>,
    ) -> Result<()> {
        self.start(TYPE_LIST_QUICKLIST_2)?;
        let n = nodes.len();
        self.out.len(n as u64)?;
        let mut written = 0;
        for node in nodes {
            match node {
                NodeRef::Packed(lp) => {
                    self.out.len(QUICKLIST_NODE_PACKED)?;
                    self.out.string(lp)?;
                }
                NodeRef::Plain(e) => {
                    self.out.len(QUICKLIST_NODE_PLAIN)?;
                    self.out.string(e)?;
                }
                NodeRef::Compressed {
                    plain,
                    lzf,
                    raw_len,
                } => {
                    let container = if plain {
                        QUICKLIST_NODE_PLAIN
                    } else {
                        QUICKLIST_NODE_PACKED
                    };
                    self.out.len(container)?;
                    self.out.lzf_blob(lzf, raw_len)?;
                }
            }
            written += 1;
        }
        assert_eq!(written, n, "quicklist node count");
        Ok(())
    }

    /// A list given as elements, packed into nodes as Redis's default configuration would.
    pub fn list<'v>(self, elements: impl IntoIterator<Item = &'v [u8]>) -> Result<()> {
        let nodes = pack_list(elements);
        self.quicklist(nodes.iter().map(|n| match n {
            QuicklistNode::Packed(lp) => NodeRef::Packed(lp),
            QuicklistNode::Plain(e) => NodeRef::Plain(e),
        }))
    }

    /// A set as distinct members (RDB type 2).
    pub fn set<'v>(mut self, members: impl ExactSizeIterator<Item = &'v [u8]>) -> Result<()> {
        self.start(TYPE_SET)?;
        let n = members.len();
        self.out.len(n as u64)?;
        let mut written = 0;
        for m in members {
            self.out.string(m)?;
            written += 1;
        }
        assert_eq!(written, n, "set member count");
        Ok(())
    }

    pub fn set_intset(mut self, intset: &[u8]) -> Result<()> {
        self.start(TYPE_SET_INTSET)?;
        self.out.string(intset)
    }

    /// A sorted set as distinct members with scores (RDB type 5). Redis writes the highest
    /// score first, which makes loading into a skiplist cheapest.
    pub fn zset<'v>(mut self, pairs: impl ExactSizeIterator<Item = (&'v [u8], f64)>) -> Result<()> {
        self.start(TYPE_ZSET_2)?;
        let n = pairs.len();
        self.out.len(n as u64)?;
        let mut written = 0;
        for (member, score) in pairs {
            self.out.string(member)?;
            self.out.binary_double(score)?;
            written += 1;
        }
        assert_eq!(written, n, "zset member count");
        Ok(())
    }

    pub fn zset_listpack(mut self, lp: &[u8]) -> Result<()> {
        self.start(TYPE_ZSET_LISTPACK)?;
        self.out.string(lp)
    }

    /// A hash as distinct fields with values (RDB type 4).
    pub fn hash<'v>(
        mut self,
        pairs: impl ExactSizeIterator<Item = (&'v [u8], &'v [u8])>,
    ) -> Result<()> {
        self.start(TYPE_HASH)?;
        let n = pairs.len();
        self.out.len(n as u64)?;
        let mut written = 0;
        for (field, value) in pairs {
            self.out.string(field)?;
            self.out.string(value)?;
            written += 1;
        }
        assert_eq!(written, n, "hash field count");
        Ok(())
    }

    pub fn hash_listpack(mut self, lp: &[u8]) -> Result<()> {
        self.start(TYPE_HASH_LISTPACK)?;
        self.out.string(lp)
    }

    /// A stream (RDB type 19).
    pub fn stream(mut self, s: &Stream) -> Result<()> {
        self.start(TYPE_STREAM_LISTPACKS_2)?;
        stream::write(self.out, s)
    }

    pub fn value(self, v: &Value) -> Result<()> {
        match v {
            Value::String(s) => self.string(s),
            Value::List(items) => self.list(items.iter().map(|i| &i[..])),
            Value::ListQuicklist(nodes) => self.quicklist(nodes.iter().map(|n| match n {
                QuicklistNode::Packed(lp) => NodeRef::Packed(lp),
                QuicklistNode::Plain(e) => NodeRef::Plain(e),
            })),
            Value::Set(members) => self.set(members.iter().map(|m| &m[..])),
            Value::SetIntset(is) => self.set_intset(is),
            Value::ZSet(pairs) => self.zset(pairs.iter().map(|(m, s)| (&m[..], *s))),
            Value::ZSetListpack(lp) => self.zset_listpack(lp),
            Value::Hash(pairs) => self.hash(pairs.iter().map(|(f, v)| (&f[..], &v[..]))),
            Value::HashListpack(lp) => self.hash_listpack(lp),
            Value::Stream(s) => self.stream(s),
        }
    }
}

/// Packs list elements into quicklist nodes as Redis does with `list-max-listpack-size -2`:
/// a node takes an element while its estimated size stays within 8 KiB; elements of 1 GiB or
/// more go alone in plain nodes.
pub fn pack_list<'v>(elements: impl IntoIterator<Item = &'v [u8]>) -> Vec<QuicklistNode> {
    let mut nodes = Vec::new();
    let mut current: Option<Builder> = None;
    for e in elements {
        if e.len() >= PLAIN_ELEMENT_BYTES {
            nodes.extend(current.take().map(|b| QuicklistNode::Packed(b.finish())));
            nodes.push(QuicklistNode::Plain(e.to_vec()));
            continue;
        }
        let fits = current
            .as_ref()
            .is_some_and(|b| b.len_bytes() + e.len() + NODE_ENTRY_OVERHEAD_BYTES <= NODE_MAX_BYTES);
        if !fits {
            nodes.extend(current.take().map(|b| QuicklistNode::Packed(b.finish())));
        }
        current.get_or_insert_with(listpack::Builder::new).push(e);
    }
    nodes.extend(current.map(|b| QuicklistNode::Packed(b.finish())));
    nodes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_aux_and_trailer() {
        let mut w = Writer::new(Vec::new(), WriteOptions::default()).unwrap();
        w.aux_fields(&AuxFields {
            redis_ver: "7.0.15",
            redis_bits: 64,
            ctime_secs: 1_700_000_000,
            used_mem_bytes: 1_000_000,
            replication: None,
            aof_base: false,
        })
        .unwrap();
        let bytes = w.finish().unwrap();
        assert!(
            bytes.starts_with(b"REDIS0010\xfa\x09redis-ver\x067.0.15\xfa\x0aredis-bits\xc0\x40")
        );
        let n = bytes.len();
        assert_eq!(bytes[n - 9], OPCODE_EOF);
        let crc = crate::crc64::checksum(&bytes[..n - 8]);
        assert_eq!(bytes[n - 8..], crc.to_le_bytes());
        let off = Writer::new(
            Vec::new(),
            WriteOptions {
                checksum: false,
                compression: true,
            },
        )
        .unwrap()
        .finish()
        .unwrap();
        assert_eq!(off, b"REDIS0010\xff\0\0\0\0\0\0\0\0");
    }

    #[test]
    fn fragments_spliced_in_read_back_as_one_file() {
        let mut frag = Writer::fragment(Vec::new(), true);
        frag.entry(b"a", EntryMeta::default()).string(b"1").unwrap();
        let lp = {
            let mut b = listpack::Builder::new();
            b.push(b"x");
            b.push(b"yy");
            b.finish()
        };
        let raw = {
            let mut b = listpack::Builder::new();
            b.push(&[b'q'; 200]);
            b.finish()
        };
        let mut lzf_lp = Vec::new();
        assert!(crate::lzf::Compressor::new().compress(&raw, raw.len() - 4, &mut lzf_lp));
        frag.entry(b"l", EntryMeta::default())
            .quicklist(
                [
                    NodeRef::Packed(&lp),
                    NodeRef::Compressed {
                        plain: false,
                        lzf: &lzf_lp,
                        raw_len: raw.len(),
                    },
                ]
                .into_iter(),
            )
            .unwrap();
        let fragment = frag.into_fragment();
        assert!(!fragment.starts_with(b"REDIS"));
        let mut w = Writer::new(Vec::new(), WriteOptions::default()).unwrap();
        w.select_db(0).unwrap();
        w.raw(&fragment).unwrap();
        let bytes = w.finish().unwrap();
        let items: Vec<_> = crate::Reader::new(&bytes[..])
            .unwrap()
            .collect::<Result<Vec<_>>>()
            .unwrap();
        let entries: Vec<&Entry> = items
            .iter()
            .filter_map(|i| match i {
                crate::Item::Entry(e) => Some(e),
                _ => None,
            })
            .collect();
        assert_eq!(entries[0].value, Value::String(b"1".to_vec()));
        assert_eq!(
            entries[1].value,
            Value::ListQuicklist(vec![QuicklistNode::Packed(lp), QuicklistNode::Packed(raw)])
        );
    }

    #[test]
    fn metadata_precedes_the_type() {
        let mut w = Writer::new(Vec::new(), WriteOptions::default()).unwrap();
        let meta = EntryMeta {
            expire_at_ms: Some(1),
            lru_idle_secs: Some(2),
            lfu_freq: Some(3),
        };
        w.entry(b"k", meta).string(b"v").unwrap();
        let bytes = w.finish().unwrap();
        assert_eq!(
            &bytes[9..bytes.len() - 9],
            b"\xfc\x01\0\0\0\0\0\0\0\xf8\x02\xf9\x03\x00\x01k\x01v"
        );
    }

    #[test]
    fn lists_pack_like_redis() {
        let small: Vec<Vec<u8>> = (0..1000)
            .map(|i| format!("element-{i}").into_bytes())
            .collect();
        let nodes = pack_list(small.iter().map(|e| &e[..]));
        assert!(nodes.len() > 1);
        let mut back = Vec::new();
        for n in &nodes {
            let QuicklistNode::Packed(lp) = n else {
                panic!()
            };
            assert!(lp.len() <= NODE_MAX_BYTES);
            back.extend(listpack::entries(lp).map(|e| e.to_vec()));
        }
        assert_eq!(back, small);
        // A big element still gets a packed node of its own.
        let big = vec![b'x'; 20_000];
        let nodes = pack_list([&b"a"[..], &big, b"b"]);
        assert_eq!(nodes.len(), 3);
    }
}
