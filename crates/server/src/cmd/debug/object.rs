//! DEBUG subcommands that look inside keys and tables: OBJECT, SDSLEN, LISTPACK, QUICKLIST,
//! HTSTATS, HTSTATS-KEY.
//!
//! OBJECT and SDSLEN see a key even if it has logically expired (they look in the table
//! directly); the others look the key up as a read that does not touch it.

use std::fmt::Write;

use rudis_resp::Argv;

use crate::command::error::{CmdError, NOT_INTEGER, NO_SUCH_KEY};
use crate::command::{CmdResult, Ctx};
use crate::keyspace::dict::{Dict, Keyed};
use crate::keyspace::txn::{lru_clock_at, Lookup};
use crate::keyspace::value::{KeyEntry, Value};
use crate::types::visit;

/// DEBUG OBJECT key
pub fn object(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let cfg = ctx.srv.cfg();
    let shares_ints = cfg.maxmemory == 0
        || !(cfg.maxmemory_policy.contains("lru") || cfg.maxmemory_policy.contains("lfu"));
    let list_fill = cfg.list_max_listpack_size;
    let list_compressed = cfg.list_compress_depth != 0;
    drop(cfg);
    let now_lru = lru_clock_at(ctx.now_ms());
    let (db, key) = (ctx.txn.db, argv.get(2));
    let entry = ctx.txn.shard(db, key).keys.get(key).ok_or(NO_SUCH_KEY)?;
    let mut line = format!(
        "Value at:{:p} refcount:{} encoding:{} serializedlength:{} lru:{} lru_seconds_idle:{}",
        entry as *const KeyEntry,
        refcount(entry, shares_ints),
        entry.encoding(),
        serialized_len(&entry.value),
        entry.access,
        idle_seconds(entry.access, now_lru)
    );
    if let (Value::List(l), "quicklist") = (&entry.value, entry.encoding()) {
        let mut bytes = 0usize;
        visit::list_items(l, |i| bytes += i.len() + 2);
        let nodes = quicklist_nodes(l.len(), bytes, list_fill);
        let _ = write!(
            line,
            " ql_nodes:{} ql_avg_node:{:.2} ql_listpack_max:{} ql_compressed:{} ql_uncompressed_size:{}",
            nodes,
            l.len() as f64 / nodes as f64,
            list_fill,
            u8::from(list_compressed),
            bytes
        );
    }
    ctx.reply.simple(&line);
    Ok(())
}

/// Redis shares the integers 0..9999 (refcount "infinite") unless an LRU/LFU maxmemory
/// policy needs each key to have its own access time.
fn refcount(entry: &KeyEntry, shares_ints: bool) -> i64 {
    const SHARED: i64 = i32::MAX as i64;
    let small_int = entry.encoding() == "int"
        && entry
            .value
            .as_str()
            .and_then(rudis_resp::number::parse_i64)
            .is_some_and(|v| (0..10_000).contains(&v));
    if small_int && shares_ints {
        SHARED
    } else {
        1
    }
}

/// Seconds since the access time, on the 24-bit seconds clock (which wraps every 194 days).
fn idle_seconds(access: u32, now_lru: u32) -> u64 {
    const CLOCK_MAX: u32 = (1 << 24) - 1;
    let access = access & CLOCK_MAX;
    if now_lru >= access {
        u64::from(now_lru - access)
    } else {
        u64::from(now_lru) + u64::from(CLOCK_MAX - access)
    }
}

/// Nodes a quicklist of `len` elements taking `bytes` would have: `fill` > 0 caps elements
/// per node, `fill` -1..-5 caps node size at 4 KB..64 KB.
fn quicklist_nodes(len: usize, bytes: usize, fill: i64) -> usize {
    if len == 0 {
        return 1;
    }
    if fill > 0 {
        return len.div_ceil(fill as usize);
    }
    let node_bytes = 4096usize << (fill.unsigned_abs().clamp(1, 5) - 1);
    bytes.div_ceil(node_bytes).max(1)
}

/// About how many bytes the value takes in an RDB file (without compression).
pub fn serialized_len(v: &Value) -> usize {
    match v {
        Value::Str(s) => rdb_string_len(s.as_slice()),
        Value::List(l) => {
            let mut n = 0;
            visit::list_items(l, |i| n += rdb_string_len(i));
            rdb_len_len(l.len()) + n
        }
        Value::Set(s) => {
            let mut n = 0;
            visit::set_members(s, |m| n += rdb_string_len(m));
            rdb_len_len(s.len()) + n
        }
        Value::Hash(h) => {
            let mut n = 0;
            visit::hash_pairs(h, |f, v| n += rdb_string_len(f) + rdb_string_len(v));
            rdb_len_len(h.len()) + n
        }
        // Member plus an 8-byte binary score.
        Value::ZSet(z) => {
            let mut n = 0;
            visit::zset_pairs(z, |m, _| n += rdb_string_len(m) + 8);
            rdb_len_len(z.len()) + n
        }
        // Fields and values plus about 8 bytes of IDs and flags per entry.
        Value::Stream(s) => {
            let mut n = 0;
            for e in s.range(
                Default::default(),
                crate::types::stream::StreamId::MAX,
                false,
            ) {
                n += 8 + e.strings().map(rdb_string_len).sum::<usize>();
            }
            rdb_len_len(s.len()) + n
        }
    }
}

/// An RDB string: small integers in 2, 3 or 5 bytes, anything else length-prefixed.
fn rdb_string_len(s: &[u8]) -> usize {
    if s.len() <= 11 {
        if let Some(v) = rudis_resp::number::parse_i64(s).filter(|v| v.to_string().as_bytes() == s)
        {
            if let Ok(v) = i32::try_from(v) {
                return match v {
                    -128..=127 => 2,
                    -32768..=32767 => 3,
                    _ => 5,
                };
            }
        }
    }
    rdb_len_len(s.len()) + s.len()
}

/// Bytes of an RDB length prefix.
fn rdb_len_len(n: usize) -> usize {
    match n {
        0..=63 => 1,
        64..=16383 => 2,
        _ if n <= u32::MAX as usize => 5,
        _ => 9,
    }
}

/// DEBUG SDSLEN key
pub fn sdslen(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let (db, key) = (ctx.txn.db, argv.get(2));
    let entry = ctx.txn.shard(db, key).keys.get(key).ok_or(NO_SUCH_KEY)?;
    let Value::Str(val) = &entry.value else {
        return Err("ERR Not an sds encoded string.".into());
    };
    if entry.encoding() == "int" {
        return Err("ERR Not an sds encoded string.".into());
    }
    let avail = |b: &crate::keyspace::bytes::CompactBytes| match b {
        crate::keyspace::bytes::CompactBytes::Growable(v) => v.capacity() - v.len(),
        _ => 0,
    };
    let text = format!(
        "key_sds_len:{}, key_sds_avail:{}, key_zmalloc: {}, val_sds_len:{}, val_sds_avail:{}, val_zmalloc: {}",
        entry.key.len(),
        avail(&entry.key),
        entry.key.heap_bytes(),
        val.len(),
        avail(val),
        val.heap_bytes()
    );
    ctx.reply.simple(&text);
    Ok(())
}

/// DEBUG LISTPACK key
pub fn listpack(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    dump_if_encoded(ctx, argv, "listpack", "Listpack")
}

/// DEBUG QUICKLIST key [0|1]
pub fn quicklist(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    dump_if_encoded(ctx, argv, "quicklist", "Quicklist")
}

/// Prints the elements of a value held in `encoding` to standard output, as Redis prints its
/// encodings' internals there.
fn dump_if_encoded(ctx: &mut Ctx, argv: Argv, encoding: &str, title: &str) -> CmdResult {
    let db = ctx.txn.db;
    let entry = ctx
        .txn
        .lookup(db, argv.get(2), Lookup::Peek)
        .ok_or(NO_SUCH_KEY)?;
    if entry.encoding() != encoding {
        return Err(crate::err!("ERR Not a {encoding} encoded object."));
    }
    let mut out = format!("{{{encoding}}}\n");
    for (i, element) in elements(&entry.value).iter().enumerate() {
        let _ = writeln!(out, "  [{i}] {}", String::from_utf8_lossy(element));
    }
    print!("{out}");
    ctx.reply
        .simple(&format!("{title} structure printed on stdout"));
    Ok(())
}

fn elements(v: &Value) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    match v {
        Value::Str(s) => out.push(s.as_slice().to_vec()),
        Value::List(l) => visit::list_items(l, |i| out.push(i.to_vec())),
        Value::Set(s) => visit::set_members(s, |m| out.push(m.to_vec())),
        Value::Hash(h) => visit::hash_pairs(h, |f, v| out.extend([f.to_vec(), v.to_vec()])),
        Value::ZSet(z) => visit::zset_pairs(z, |m, s| {
            out.extend([m.to_vec(), s.to_string().into_bytes()])
        }),
        Value::Stream(s) => {
            for e in s.range(
                Default::default(),
                crate::types::stream::StreamId::MAX,
                false,
            ) {
                out.extend(e.strings().map(<[u8]>::to_vec));
            }
        }
    }
    out
}

/// DEBUG HTSTATS dbid
pub fn htstats(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let index = rudis_resp::number::parse_i64(argv.get(2)).ok_or(NOT_INTEGER)?;
    let ks = ctx.txn.keyspace();
    let Some(db) = usize::try_from(index).ok().filter(|&i| i < ks.db_count()) else {
        return Err("ERR Out of range database".into());
    };
    super::release_for_walk(ctx);
    let (mut main, mut expires) = (TableStats::default(), TableStats::default());
    for slot in 0..crate::keyspace::slot::SLOTS as u16 {
        if let Some(shard) = ks.db(db).shard_if_allocated(slot) {
            let shard = shard.lock();
            main.add(&shard.keys);
            expires.add(shard.expires());
        }
    }
    let text = format!(
        "[Dictionary HT]\n{}[Expires HT]\n{}",
        main.render(),
        expires.render()
    );
    ctx.reply.verbatim("txt", text.as_bytes());
    Ok(())
}

/// DEBUG HTSTATS-KEY key
pub fn htstats_key(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let db = ctx.txn.db;
    ctx.txn
        .lookup(db, argv.get(2), Lookup::Peek)
        .ok_or(NO_SUCH_KEY)?;
    // Collections keep their elements in plain vectors until the data-types work gives the
    // large encodings real hash tables; then their `Dict`s go through `TableStats` too.
    Err(not_a_hash_table())
}

fn not_a_hash_table() -> CmdError {
    "ERR The value stored at the specified key is not represented using an hash table".into()
}

/// Chains longer than this are counted with it.
const CHAIN_LENGTHS_SHOWN: usize = 50;

/// Bucket statistics of one or more hash tables taken together.
struct TableStats {
    buckets: usize,
    elements: usize,
    /// `chains[n]`: buckets holding `n` elements.
    chains: [usize; CHAIN_LENGTHS_SHOWN],
    longest: usize,
}

impl Default for TableStats {
    fn default() -> Self {
        TableStats {
            buckets: 0,
            elements: 0,
            chains: [0; CHAIN_LENGTHS_SHOWN],
            longest: 0,
        }
    }
}

impl TableStats {
    fn add<E: Keyed>(&mut self, dict: &Dict<E>) {
        self.buckets += dict.bucket_count();
        self.elements += dict.len();
        if dict.is_empty() {
            self.chains[0] += dict.bucket_count();
            return;
        }
        // A scan step visits exactly one bucket of a table that is not resizing.
        let mut cursor = 0;
        loop {
            let mut chain = 0;
            cursor = dict.scan(cursor, |_| chain += 1);
            self.chains[chain.min(CHAIN_LENGTHS_SHOWN - 1)] += 1;
            self.longest = self.longest.max(chain);
            if cursor == 0 {
                break;
            }
        }
    }

    fn render(&self) -> String {
        let mut out = String::from("Hash table 0 stats (main hash table):\n");
        if self.elements == 0 {
            out.push_str("No stats available for empty dictionaries\n");
            return out;
        }
        let used = self.buckets - self.chains[0];
        let avg = self.elements as f64 / used as f64;
        let _ = write!(
            out,
            " table size: {}\n number of elements: {}\n different slots: {}\n max chain length: {}\n avg chain length (counted): {avg:.2}\n avg chain length (computed): {avg:.2}\n Chain length distribution:\n",
            self.buckets, self.elements, used, self.longest
        );
        for (len, &count) in self.chains.iter().enumerate().filter(|(_, &c)| c > 0) {
            let share = count as f64 * 100.0 / self.buckets as f64;
            let _ = writeln!(out, "   {len}: {count} ({share:.2}%)");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::bytes::CompactBytes;
    use crate::keyspace::value::ExpireEntry;

    #[test]
    fn rdb_lengths() {
        assert_eq!(serialized_len(&Value::str(b"123")), 2);
        assert_eq!(serialized_len(&Value::str(b"123456")), 5);
        assert_eq!(serialized_len(&Value::str(b"0123")), 5, "not canonical");
        assert_eq!(serialized_len(&Value::str(&[b'a'; 100])), 102);
    }

    #[test]
    fn idle_time_wraps_with_the_clock() {
        assert_eq!(idle_seconds(100, 160), 60);
        assert_eq!(idle_seconds((1 << 24) - 11, 5), 15);
    }

    #[test]
    fn small_integers_are_shared() {
        let e = |v: &[u8]| KeyEntry::new(b"k", Value::str(v), 0);
        assert_eq!(refcount(&e(b"123"), true), 2147483647);
        assert_eq!(refcount(&e(b"123"), false), 1);
        assert_eq!(refcount(&e(b"20000"), true), 1);
        assert_eq!(refcount(&e(b"abc"), true), 1);
    }

    #[test]
    fn table_stats_text() {
        let mut d: Dict<ExpireEntry> = Dict::new();
        for k in [&b"a"[..], b"b", b"c"] {
            d.insert_new(ExpireEntry {
                key: CompactBytes::new(k),
                at_ms: 0,
            });
        }
        let mut s = TableStats::default();
        s.add(&d);
        s.add(&Dict::<ExpireEntry>::new());
        let text = s.render();
        assert!(text.starts_with(
            "Hash table 0 stats (main hash table):\n table size: 4\n number of elements: 3\n"
        ));
        let listed: usize = s.chains.iter().sum();
        assert_eq!(listed, 4, "every bucket counted once");
        assert_eq!(
            TableStats::default().render(),
            "Hash table 0 stats (main hash table):\nNo stats available for empty dictionaries\n"
        );
    }
}
