//! Between the keyspace's values and the RDB codec (`rudis_rdb`): writing a key's value in
//! the RDB type Redis 7.0 uses for its encoding, and turning a loaded value into the
//! encoding the configured thresholds give it, as Redis converts on load.
//!
//! Compact encodings cross unchanged in both directions: listpacks and intsets are Redis's
//! own bytes here too, and a compressed quicklist node is written still compressed.
//!
//! DUMP payloads (DUMP, RESTORE, MIGRATE) are one value each: [`encode_payload`] and
//! [`decode_payload`].

use std::io::Write;

use rudis_rdb::{EntryMeta, NodeRef, ValueWriter};

use crate::config::Config;
use crate::keyspace::{KeyEntry, Value};
use crate::types::hash::{self, Hash};
use crate::types::intset::IntSet;
use crate::types::list::QuickList;
use crate::types::listpack::{Listpack, Lp};
use crate::types::set::{intset_limit, Set};
use crate::types::zset::{self, ZSet};

/// An iterator that knows its length up front, as the RDB writer's collection methods want.
struct Counted<I> {
    inner: I,
    left: usize,
}

impl<I: Iterator> Iterator for Counted<I> {
    type Item = I::Item;

    fn next(&mut self) -> Option<I::Item> {
        let item = self.inner.next()?;
        self.left -= 1;
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<I: Iterator> ExactSizeIterator for Counted<I> {}

fn counted<I: Iterator>(inner: I, len: usize) -> Counted<I> {
    Counted { inner, left: len }
}

/// Entries per stream node written (Redis's default `stream-node-max-entries`); any size
/// loads.
const STREAM_NODE_ENTRIES_MAX: usize = 100;

/// Writes `value` with Redis 7.0's RDB type for its encoding.
pub fn write_value<W: Write>(vw: ValueWriter<'_, W>, value: &Value) -> rudis_rdb::Result<()> {
    match value {
        Value::Str(s) => vw.string(s.as_slice()),
        Value::List(list) => write_list(vw, list),
        Value::Hash(Hash::Listpack(lp)) => vw.hash_listpack(lp.as_slice()),
        Value::Hash(Hash::Table(t)) => vw.hash(counted(
            t.iter()
                .map(|fv| (fv.field.as_slice(), fv.value.as_slice())),
            t.len(),
        )),
        Value::Set(Set::Intset(is)) => vw.set_intset(is.as_slice()),
        Value::Set(Set::Table(t)) => vw.set(counted(t.iter().map(|m| m.0.as_slice()), t.len())),
        Value::ZSet(ZSet::Listpack(lp)) => vw.zset_listpack(lp.as_slice()),
        Value::ZSet(z @ ZSet::SkipList(_)) => write_skiplist(vw, z),
        Value::Stream(s) => vw.stream(&super::stream_codec::to_rdb(s, STREAM_NODE_ENTRIES_MAX)),
    }
}

fn write_list<W: Write>(vw: ValueWriter<'_, W>, list: &QuickList) -> rudis_rdb::Result<()> {
    // Compressed nodes are borrowed as they are; only plain, uncompressed nodes and listpacks
    // need a view, which borrows too.
    let views: Vec<_> = list
        .nodes()
        .map(|n| (n, n.lzf().is_none().then(|| n.view())))
        .collect();
    let nodes = views.iter().map(|(node, view)| match (node.lzf(), view) {
        (Some((lzf, raw_len)), _) => NodeRef::Compressed {
            plain: node.is_plain(),
            lzf,
            raw_len,
        },
        (None, Some(v)) if node.is_plain() => NodeRef::Plain(&v.bytes),
        (None, Some(v)) => NodeRef::Packed(&v.bytes),
        (None, None) => unreachable!("uncompressed nodes have a view"),
    });
    vw.quicklist(counted(nodes, views.len()))
}

/// A skip list is written highest score first, as Redis writes it (loading is then cheapest).
fn write_skiplist<W: Write>(vw: ValueWriter<'_, W>, z: &ZSet) -> rudis_rdb::Result<()> {
    let mut buf = itoa::Buffer::new();
    let pairs: Vec<(Vec<u8>, f64)> = z
        .iter_from_rank(0, true)
        .map(|(m, s)| (m.as_bytes(&mut buf).to_vec(), s))
        .collect();
    vw.zset(counted(
        pairs.iter().map(|(m, s)| (&m[..], *s)),
        pairs.len(),
    ))
}

/// What a key's metadata records besides its expiry, per the maxmemory policy: Redis writes
/// the LRU idle time under an LRU policy and the LFU counter under an LFU policy.
#[derive(Debug, Clone, Copy)]
pub enum MetaPolicy {
    None,
    /// With the LRU clock of the save.
    Lru {
        clock: u32,
    },
    Lfu,
}

impl MetaPolicy {
    pub fn from_config(cfg: &Config, now_ms: i64) -> MetaPolicy {
        let policy = cfg.maxmemory_policy.as_str();
        if policy.ends_with("-lru") {
            MetaPolicy::Lru {
                clock: crate::keyspace::txn::lru_clock_at(now_ms),
            }
        } else if policy.ends_with("-lfu") {
            MetaPolicy::Lfu
        } else {
            MetaPolicy::None
        }
    }
}

/// What an RDB file records with a key besides its value.
pub fn entry_meta(entry: &KeyEntry, expire_at_ms: Option<i64>, policy: MetaPolicy) -> EntryMeta {
    let mut meta = EntryMeta {
        expire_at_ms,
        ..EntryMeta::default()
    };
    match policy {
        MetaPolicy::None => {}
        MetaPolicy::Lru { clock } => {
            meta.lru_idle_secs = Some(u64::from(clock.wrapping_sub(entry.access) & LRU_CLOCK_MAX));
        }
        MetaPolicy::Lfu => meta.lfu_freq = Some((entry.access & 0xff) as u8),
    }
    meta
}

/// The LRU clock's range: 24 bits of seconds, as Redis keeps it.
const LRU_CLOCK_MAX: u32 = (1 << 24) - 1;

/// The access field of a key loaded or restored with an idle time or an LFU counter, as
/// Redis sets it: the counter counts only under an LFU policy (stamped with the current
/// minute), the idle time only under any other. `None`: leave the field as created.
pub fn access_for(
    lfu_policy: bool,
    idle_secs: Option<i64>,
    lfu_freq: Option<u8>,
    now_ms: i64,
) -> Option<u32> {
    if lfu_policy {
        let minutes = ((now_ms / 60_000) & 0xFFFF) as u32;
        return lfu_freq.map(|freq| (minutes << 8) | u32::from(freq));
    }
    let clock = i64::from(crate::keyspace::txn::lru_clock_at(now_ms));
    let idle = idle_secs?;
    let mut stamp = clock.saturating_sub(idle);
    if stamp < 0 {
        // Idle longer than the clock has run: half a clock cycle away, as Redis places it.
        let max = i64::from(LRU_CLOCK_MAX);
        stamp = (clock + max / 2) % max;
    }
    Some(stamp as u32)
}

/// Why a loaded value cannot be kept.
#[derive(Debug)]
pub enum LoadError {
    /// A value whose parts contradict each other (a stream's groups and PELs), with why.
    Corrupt(&'static str),
}

/// A loaded value, in the encoding the configured thresholds choose (Redis converts loaded
/// values the same way, so a file from a server with other thresholds loads as ours would
/// have built it).
pub fn load_value(v: rudis_rdb::Value, cfg: &Config) -> Result<Value, LoadError> {
    use rudis_rdb::Value as R;
    Ok(match v {
        R::String(s) => Value::str(&s),
        R::List(items) => {
            let mut list = new_list(cfg);
            for item in &items {
                list.push_back(item);
            }
            Value::List(Box::new(list))
        }
        R::ListQuicklist(nodes) => {
            let mut list = new_list(cfg);
            for node in nodes {
                match node {
                    rudis_rdb::QuicklistNode::Packed(lp) => list.append_listpack(lp),
                    rudis_rdb::QuicklistNode::Plain(e) => list.append_plain(e),
                }
            }
            Value::List(Box::new(list))
        }
        R::Set(members) => {
            let max = intset_limit(cfg.set_max_intset_entries);
            let mut set = Set::default();
            if members.len() > max {
                set.convert_to_table();
            }
            for m in &members {
                set.add(m, max);
            }
            Value::Set(set)
        }
        R::SetIntset(bytes) => {
            let mut set = Set::Intset(IntSet::from_vec(bytes));
            if set.len() > intset_limit(cfg.set_max_intset_entries) {
                set.convert_to_table();
            }
            Value::Set(set)
        }
        R::ZSet(mut pairs) => {
            pairs.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
            Value::ZSet(ZSet::from_sorted(&pairs, zset_limits(cfg)))
        }
        R::ZSetListpack(bytes) => {
            let mut z = ZSet::Listpack(Listpack::from_vec(bytes));
            let limits = zset_limits(cfg);
            if z.len() > limits.max_entries || longest_member(&z) > limits.max_value_bytes {
                z.convert_to_skiplist();
            }
            Value::ZSet(z)
        }
        R::Hash(pairs) => {
            let limits = hash_limits(cfg);
            let mut h = Hash::default();
            if pairs.len() > limits.max_entries {
                h.convert_to_table();
            }
            h.set_many(pairs.iter().map(|(f, v)| (&f[..], &v[..])), limits);
            Value::Hash(h)
        }
        R::HashListpack(bytes) => {
            let limits = hash_limits(cfg);
            let mut buf = itoa::Buffer::new();
            let longest = Lp(&bytes)
                .iter()
                .map(|e| e.as_bytes(&mut buf).len())
                .max()
                .unwrap_or(0);
            let mut h = Hash::Listpack(Listpack::from_vec(bytes));
            if h.len() > limits.max_entries || longest > limits.max_value_bytes {
                h.convert_to_table();
            }
            Value::Hash(h)
        }
        R::Stream(s) => Value::Stream(Box::new(
            super::stream_codec::from_rdb(*s).map_err(LoadError::Corrupt)?,
        )),
    })
}

/// The DUMP payload of `value`: its RDB encoding, the RDB version and a CRC64.
pub fn encode_payload(value: &Value, compress: bool) -> Vec<u8> {
    rudis_rdb::dump::encode_with(compress, |vw| write_value(vw, value))
        .expect("writing to memory cannot fail")
}

/// Why a DUMP payload cannot be restored (RESTORE's two errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadError {
    /// A version newer than ours, a bad checksum, or too short for the footer.
    VersionOrChecksum,
    /// The value itself is malformed, or of a type Rudis does not hold: what is wrong, for
    /// the log.
    BadData(String),
}

/// Checks a DUMP payload (the CRC only if `verify_checksum`) and decodes its value in the
/// encoding the configured thresholds choose. Every byte is checked before anything is
/// built; nothing is allocated for sizes the payload merely claims.
pub fn decode_payload(
    payload: &[u8],
    verify_checksum: bool,
    cfg: &Config,
) -> Result<Value, PayloadError> {
    rudis_rdb::dump::verify(payload, verify_checksum)
        .map_err(|_| PayloadError::VersionOrChecksum)?;
    let value = rudis_rdb::dump::decode(payload, false).map_err(|e| {
        let text = e.to_string();
        let label = payload.first().and_then(|&t| integrity_label(t));
        PayloadError::BadData(match label {
            Some(label) if !text.contains("integrity check failed") => {
                format!("{text} ({label} integrity check failed)")
            }
            _ => text,
        })
    })?;
    load_value(value, cfg)
        .map_err(|LoadError::Corrupt(why)| PayloadError::BadData(format!("stream {why}")))
}

/// The name Redis's log gives the check a value of this RDB type fails as a whole, for
/// errors the codec did not already name (streams).
fn integrity_label(rdb_type: u8) -> Option<&'static str> {
    Some(match rdb_type {
        9 => "Zipmap",
        10 => "List ziplist",
        11 => "Intset",
        12 => "Zset ziplist",
        13 => "Hash ziplist",
        14 => "Ziplist",
        15 | 19 => "Stream listpack",
        16 => "Hash listpack",
        17 => "Zset listpack",
        18 => "Listpack",
        _ => return None,
    })
}

fn new_list(cfg: &Config) -> QuickList {
    QuickList::new(cfg.list_max_listpack_size, cfg.list_compress_depth)
}

fn hash_limits(cfg: &Config) -> hash::Limits {
    hash::Limits {
        max_entries: cfg.hash_max_listpack_entries.max(0) as usize,
        max_value_bytes: cfg.hash_max_listpack_value.max(0) as usize,
    }
}

fn zset_limits(cfg: &Config) -> zset::Limits {
    zset::Limits {
        max_entries: cfg.zset_max_listpack_entries.max(0) as usize,
        max_value_bytes: cfg.zset_max_listpack_value.max(0) as usize,
    }
}

fn longest_member(z: &ZSet) -> usize {
    let mut buf = itoa::Buffer::new();
    z.iter()
        .map(|(m, _)| m.as_bytes(&mut buf).len())
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cfg() -> Config {
        Config::default()
    }

    /// A small hash listpack (f1 v1 f2 v2).
    fn build_hash_listpack() -> Vec<u8> {
        let mut h = Hash::default();
        let limits = hash::Limits {
            max_entries: 128,
            max_value_bytes: 64,
        };
        h.set_many(
            [(&b"f1"[..], &b"v1"[..]), (b"f2", b"v2")].into_iter(),
            limits,
        );
        match h {
            Hash::Listpack(lp) => lp.as_slice().to_vec(),
            Hash::Table(_) => unreachable!("two small fields stay a listpack"),
        }
    }

    /// A payload of `value` loaded as our thresholds choose.
    fn payload_of(value: rudis_rdb::Value) -> Vec<u8> {
        encode_payload(&load_value(value, &cfg()).unwrap(), true)
    }

    #[test]
    fn access_follows_the_policy() {
        let now_ms = 5_000_000; // LRU clock 5000 s, LFU minute 83.
        assert_eq!(access_for(false, Some(1000), None, now_ms), Some(4000));
        assert_eq!(access_for(false, None, Some(7), now_ms), None);
        assert_eq!(access_for(true, Some(1000), None, now_ms), None);
        assert_eq!(access_for(true, None, Some(7), now_ms), Some((83 << 8) | 7));
        let wrapped = access_for(false, Some(6000), None, now_ms).unwrap();
        assert_eq!(wrapped, (5000 + LRU_CLOCK_MAX / 2) % LRU_CLOCK_MAX);
    }

    #[test]
    fn payload_errors_are_told_apart() {
        let good = payload_of(rudis_rdb::Value::String(b"hello".to_vec()));
        assert!(decode_payload(&good, true, &cfg()).is_ok());
        let mut bad_crc = good.clone();
        *bad_crc.last_mut().unwrap() ^= 1;
        assert_eq!(
            decode_payload(&bad_crc, true, &cfg()).unwrap_err(),
            PayloadError::VersionOrChecksum
        );
        assert!(decode_payload(&bad_crc, false, &cfg()).is_ok());
        let mut cut = good[..3].to_vec();
        cut.extend_from_slice(&good[good.len() - 10..good.len() - 8]);
        let crc = rudis_rdb::crc64::checksum(&cut);
        cut.extend_from_slice(&crc.to_le_bytes());
        assert!(matches!(
            decode_payload(&cut, true, &cfg()),
            Err(PayloadError::BadData(_))
        ));
        // A compact encoding that fails its check is named as Redis names it.
        let mut lp = payload_of(rudis_rdb::Value::HashListpack(build_hash_listpack()));
        lp[8] ^= 0xff;
        let crc_at = lp.len() - 8;
        let crc = rudis_rdb::crc64::checksum(&lp[..crc_at]);
        lp[crc_at..].copy_from_slice(&crc.to_le_bytes());
        match decode_payload(&lp, true, &cfg()) {
            Err(PayloadError::BadData(why)) => {
                assert!(
                    why.ends_with("(Hash listpack integrity check failed)"),
                    "{why}"
                )
            }
            other => panic!("{other:?}"),
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode_payload(&bytes, false, &cfg());
            let _ = decode_payload(&bytes, true, &cfg());
        }

        #[test]
        fn damaged_payloads_never_panic(
            items in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 1..40),
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
            cut in any::<usize>(),
        ) {
            let mut p = payload_of(rudis_rdb::Value::List(items));
            for (at, byte) in flips {
                let n = p.len();
                p[at % n] ^= byte;
            }
            let _ = decode_payload(&p, false, &cfg());
            p.truncate(cut % (p.len() + 1));
            let _ = decode_payload(&p, false, &cfg());
        }

        #[test]
        fn lists_and_small_hashes_round_trip_byte_for_byte(
            items in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 1..300),
            fields in proptest::collection::btree_map(
                proptest::collection::vec(any::<u8>(), 0..20),
                proptest::collection::vec(any::<u8>(), 0..20),
                1..100,
            ),
        ) {
            let pairs: Vec<(Vec<u8>, Vec<u8>)> = fields.into_iter().collect();
            for value in [rudis_rdb::Value::List(items), rudis_rdb::Value::Hash(pairs)] {
                let first = payload_of(value);
                let back = decode_payload(&first, true, &cfg()).unwrap();
                prop_assert_eq!(encode_payload(&back, true), first);
            }
        }
    }
}
