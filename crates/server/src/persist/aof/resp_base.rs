//! The base file in command form (`aof-use-rdb-preamble no`): the keyspace written as the
//! commands that rebuild it, as Redis's rewrite writes them. SELECT per database; SET for
//! strings; RPUSH, SADD, ZADD and HMSET with at most 64 items per command; PEXPIREAT for
//! keys with a TTL; a `#TS:` annotation first when `aof-timestamp-enabled` is on.

use std::io::Write;

use crate::keyspace::db::{Keyspace, Shard};
use crate::keyspace::slot::SLOTS;
use crate::keyspace::snapshot::{ActiveSnapshot, ShardEncoder};
use crate::keyspace::txn::encode_command;
use crate::keyspace::Value;
use crate::types::visit;

/// Items per command, as Redis's `AOF_REWRITE_ITEMS_PER_CMD`.
const ITEMS_PER_CMD: usize = 64;

/// Appends the commands rebuilding every key of `shard`.
pub fn write_shard(shard: &Shard, out: &mut Vec<u8>) {
    for entry in shard.keys.iter() {
        let key = entry.key.as_slice();
        write_value(key, &entry.value, out);
        if entry.has_expire() {
            if let Some(e) = shard.expires().get(key) {
                let at = e.at_ms.to_string();
                encode_command(&[b"PEXPIREAT", key, at.as_bytes()], out);
            }
        }
    }
}

fn write_value(key: &[u8], value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Str(s) => encode_command(&[b"SET", key, s.as_slice()], out),
        Value::List(l) => {
            let mut items = Vec::new();
            visit::list_items(l, |i| items.push(i.to_vec()));
            batched(b"RPUSH", key, &items, out);
        }
        Value::Set(s) => {
            let mut items = Vec::new();
            visit::set_members(s, |m| items.push(m.to_vec()));
            batched(b"SADD", key, &items, out);
        }
        Value::Hash(h) => {
            let mut pairs = Vec::new();
            visit::hash_pairs(h, |f, v| pairs.push([f.to_vec(), v.to_vec()]));
            batched_pairs(b"HMSET", key, pairs, out);
        }
        Value::ZSet(z) => {
            let mut pairs = Vec::new();
            visit::zset_pairs(z, |m, score| {
                let mut text = Vec::with_capacity(24);
                rudis_resp::number::format_g17(score, &mut text);
                pairs.push([text, m.to_vec()]);
            });
            batched_pairs(b"ZADD", key, pairs, out);
        }
        Value::Stream(s) => write_stream(key, s, out),
    }
}

/// A stream as Redis's rewrite writes it: XADD per entry (or an XADD trimmed to nothing for
/// an empty stream), XSETID with the metadata, then per group XGROUP CREATE, XCLAIM per
/// pending entry and XGROUP CREATECONSUMER for consumers with nothing pending.
fn write_stream(key: &[u8], s: &crate::types::stream::Stream, out: &mut Vec<u8>) {
    use crate::types::stream::{format_id, StreamId};
    let last = format_id(s.last_id);
    if s.is_empty() {
        // Always 0-1, which XADD accepts even when the stream never had an ID; the XSETID
        // below restores the real last ID.
        encode_command(&[b"XADD", key, b"MAXLEN", b"0", b"0-1", b"x", b"y"], out);
    }
    for e in s.range(StreamId::default(), StreamId::MAX, false) {
        let id = format_id(e.id);
        let mut args: Vec<&[u8]> = vec![b"XADD", key, &id];
        args.extend(e.strings());
        encode_command(&args, out);
    }
    let added = s.entries_added.to_string();
    let max_deleted = format_id(s.max_deleted_id);
    encode_command(
        &[
            b"XSETID",
            key,
            &last,
            b"ENTRIESADDED",
            added.as_bytes(),
            b"MAXDELETEDID",
            &max_deleted,
        ],
        out,
    );
    for (name, g) in &s.groups {
        let group_last = format_id(g.last_id);
        let read = g.entries_read.map_or(-1, |n| n as i64).to_string();
        encode_command(
            &[
                b"XGROUP",
                b"CREATE",
                key,
                name,
                &group_last,
                b"ENTRIESREAD",
                read.as_bytes(),
            ],
            out,
        );
        for (id, p) in &g.pel {
            let (id, time, count) = (
                format_id(*id),
                p.delivery_time_ms.to_string(),
                p.delivery_count.to_string(),
            );
            encode_command(
                &[
                    b"XCLAIM",
                    key,
                    name,
                    &p.consumer,
                    b"0",
                    &id,
                    b"TIME",
                    time.as_bytes(),
                    b"RETRYCOUNT",
                    count.as_bytes(),
                    b"JUSTID",
                    b"FORCE",
                ],
                out,
            );
        }
        for (consumer, c) in &g.consumers {
            if c.pending.is_empty() {
                encode_command(&[b"XGROUP", b"CREATECONSUMER", key, name, consumer], out);
            }
        }
    }
}

fn batched(name: &[u8], key: &[u8], items: &[Vec<u8>], out: &mut Vec<u8>) {
    for chunk in items.chunks(ITEMS_PER_CMD) {
        let mut args: Vec<&[u8]> = vec![name, key];
        args.extend(chunk.iter().map(Vec::as_slice));
        encode_command(&args, out);
    }
}

fn batched_pairs(name: &[u8], key: &[u8], pairs: Vec<[Vec<u8>; 2]>, out: &mut Vec<u8>) {
    for chunk in pairs.chunks(ITEMS_PER_CMD) {
        let mut args: Vec<&[u8]> = vec![name, key];
        for [a, b] in chunk {
            args.push(a);
            args.push(b);
        }
        encode_command(&args, out);
    }
}

/// The snapshot encoder for a command-form base.
pub fn shard_encoder() -> ShardEncoder {
    Box::new(|_db, _slot, shard: &Shard| {
        let mut out = Vec::new();
        write_shard(shard, &mut out);
        out
    })
}

/// What a base in command form holds besides the keys, fixed at the rewrite's barrier.
pub struct CommandBase {
    /// The databases non-empty at the barrier.
    pub dbs: Vec<usize>,
    /// The `#TS:` annotation to open with (`aof-timestamp-enabled`).
    pub timestamp_s: Option<i64>,
    /// The function libraries' code, loaded first with FUNCTION LOAD as Redis writes them.
    pub functions: Vec<Vec<u8>>,
    /// `rdb-key-save-delay`: microseconds to wait per key.
    pub key_delay_us: i64,
}

impl CommandBase {
    /// What comes before the keys: the timestamp, then a FUNCTION LOAD per library.
    fn write_preamble<W: Write>(&self, sink: &mut W) -> std::io::Result<()> {
        if let Some(ts) = self.timestamp_s {
            write!(sink, "#TS:{ts}\r\n")?;
        }
        let mut out = Vec::new();
        for code in &self.functions {
            out.clear();
            encode_command(&[b"FUNCTION", b"LOAD", code], &mut out);
            sink.write_all(&out)?;
        }
        Ok(())
    }
}

/// Writes a snapshot begun with [`shard_encoder`]: the preamble, then each database of
/// `base.dbs` after its SELECT, waiting `base.key_delay_us` per key. Stops early with an
/// error once `stop` says so.
pub fn write_snapshot<W: Write>(
    ks: &Keyspace,
    snap: &ActiveSnapshot,
    base: &CommandBase,
    stop: &dyn Fn() -> bool,
    mut sink: W,
) -> std::io::Result<W> {
    base.write_preamble(&mut sink)?;
    let key_delay_us = base.key_delay_us;
    for &db in &base.dbs {
        let mut select = Vec::new();
        let n = db.to_string();
        encode_command(&[b"SELECT", n.as_bytes()], &mut select);
        sink.write_all(&select)?;
        for slot in 0..SLOTS as u16 {
            if stop() {
                return Err(std::io::Error::other("the rewrite was stopped"));
            }
            let Some(shard) = ks.db(db).shard_if_allocated(slot) else {
                break;
            };
            let (bytes, keys) = {
                let mut guard = shard.lock();
                let keys = guard.keys.len();
                (snap.serialize(db, slot, &mut guard), keys)
            };
            if let Some(bytes) = bytes {
                sink.write_all(&bytes)?;
                crate::persist::save::delay_per_key(key_delay_us, keys, stop);
            }
        }
        for chunk in snap.take_early(db) {
            sink.write_all(&chunk)?;
        }
    }
    Ok(sink)
}

/// Writes the whole keyspace, held exclusively, in command form (start-up base).
pub fn write_held<W: Write>(ks: &Keyspace, base: &CommandBase, mut sink: W) -> std::io::Result<W> {
    base.write_preamble(&mut sink)?;
    for (db, d) in ks.dbs().iter().enumerate() {
        if d.key_count() == 0 {
            continue;
        }
        let mut out = Vec::new();
        let n = db.to_string();
        encode_command(&[b"SELECT", n.as_bytes()], &mut out);
        for slot in 0..SLOTS as u16 {
            let Some(shard) = d.shard_if_allocated(slot) else {
                break;
            };
            write_shard(&shard.lock(), &mut out);
            sink.write_all(&out)?;
            out.clear();
        }
    }
    Ok(sink)
}
