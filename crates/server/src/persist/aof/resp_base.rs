//! The base file in command form (`aof-use-rdb-preamble no`): the keyspace written as the
//! commands that rebuild it, as Redis's rewrite writes them. SELECT per database; SET for
//! strings; RPUSH, SADD, ZADD and HMSET with at most 64 items per command; PEXPIREAT for
//! keys with a TTL; a `#TS:` annotation first when `aof-timestamp-enabled` is on.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

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
            if let Some(e) = shard.expires.get(key) {
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

/// Writes a snapshot begun with [`shard_encoder`]: databases `dbs` (non-empty at the
/// barrier), each after its SELECT.
pub fn write_snapshot<W: Write>(
    ks: &Keyspace,
    snap: &ActiveSnapshot,
    dbs: &[usize],
    timestamp_s: Option<i64>,
    cancel: &AtomicBool,
    mut sink: W,
) -> std::io::Result<W> {
    if let Some(ts) = timestamp_s {
        write!(sink, "#TS:{ts}\r\n")?;
    }
    for &db in dbs {
        let mut select = Vec::new();
        let n = db.to_string();
        encode_command(&[b"SELECT", n.as_bytes()], &mut select);
        sink.write_all(&select)?;
        for slot in 0..SLOTS as u16 {
            if cancel.load(Ordering::Relaxed) {
                return Err(std::io::Error::other("the rewrite was cancelled"));
            }
            let Some(shard) = ks.db(db).shard_if_allocated(slot) else {
                break;
            };
            let bytes = snap.serialize(db, slot, &mut shard.lock());
            if let Some(bytes) = bytes {
                sink.write_all(&bytes)?;
            }
        }
        for chunk in snap.take_early(db) {
            sink.write_all(&chunk)?;
        }
    }
    Ok(sink)
}

/// Writes the whole keyspace, held exclusively, in command form (start-up base).
pub fn write_held<W: Write>(
    ks: &Keyspace,
    timestamp_s: Option<i64>,
    mut sink: W,
) -> std::io::Result<W> {
    if let Some(ts) = timestamp_s {
        write!(sink, "#TS:{ts}\r\n")?;
    }
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
