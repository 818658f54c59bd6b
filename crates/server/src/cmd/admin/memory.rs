//! MEMORY USAGE/STATS/DOCTOR/MALLOC-STATS/PURGE/HELP.
//!
//! MEMORY USAGE estimates what a key costs in Rudis's own layout: its hash-table node, the
//! key and value bytes that do not fit inline, and its expiry entry if it has one. It is an
//! estimate of this server's memory, not of what Redis would use for the same key.

use rudis_resp::number::parse_i64;
use rudis_resp::Argv;

use super::reply_help;
use crate::command::error::{NOT_INTEGER, SYNTAX};
use crate::command::spec::{flag, keyflag, CommandSpec, KeySpec};
use crate::command::{CmdResult, Ctx};
use crate::keyspace::value::{ExpireEntry, KeyEntry};
use crate::server::memory::{self, AllocatorStats};
use crate::server::Server;

const ALL_SHARDS_SPECIAL: &[&str] = &[
    "nondeterministic_output",
    "request_policy:all_shards",
    "response_policy:special",
];

pub static SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("doctor", 2, doctor)
        .flags(flag::WALKS_SLOTS)
        .tips(ALL_SHARDS_SPECIAL)
        .doc("server", "Outputs memory problems report", "4.0.0", "O(1)"),
    CommandSpec::new("help", 2, help)
        .flags(flag::LOADING | flag::STALE | flag::NO_KEYSPACE)
        .doc(
            "server",
            "Show helpful text about the different subcommands",
            "4.0.0",
            "O(1)",
        ),
    CommandSpec::new("malloc-stats", 2, malloc_stats)
        .flags(flag::NO_KEYSPACE)
        .tips(ALL_SHARDS_SPECIAL)
        .doc(
            "server",
            "Show allocator internal stats",
            "4.0.0",
            "Depends on how much memory is allocated, could be slow",
        ),
    CommandSpec::new("purge", 2, purge)
        .flags(flag::NO_KEYSPACE)
        .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
        .doc(
            "server",
            "Ask the allocator to release memory",
            "4.0.0",
            "Depends on how much memory is allocated, could be slow",
        ),
    CommandSpec::new("stats", 2, stats)
        .flags(flag::WALKS_SLOTS)
        .tips(ALL_SHARDS_SPECIAL)
        .doc("server", "Show memory usage details", "4.0.0", "O(1)"),
    CommandSpec::new("usage", -3, usage)
        .flags(flag::READONLY)
        .keys(&[KeySpec::one(2, keyflag::RO)])
        .doc(
            "server",
            "Estimate the memory usage of a key",
            "4.0.0",
            "O(N) where N is the number of samples.",
        ),
];

/// MEMORY USAGE key [SAMPLES count]
///
/// The key is found even if logically expired, as Redis does. Every element of a collection
/// is counted, so SAMPLES is checked but changes nothing.
fn usage(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let mut i = 3;
    while i < argv.len() {
        if !argv.get(i).eq_ignore_ascii_case(b"samples") || i + 1 >= argv.len() {
            return Err(SYNTAX);
        }
        let samples = parse_i64(argv.get(i + 1)).ok_or(NOT_INTEGER)?;
        if samples < 0 {
            return Err(SYNTAX);
        }
        i += 2;
    }
    let db = ctx.txn.db;
    let key = argv.get(2);
    match ctx.txn.shard(db, key).keys.get(key) {
        None => ctx.reply.null(),
        Some(entry) => ctx.reply.int(key_usage_bytes(entry) as i64),
    }
    Ok(())
}

/// Bytes a key costs: its table node (entry plus chain pointer), what the key and value own
/// on the heap, and its expiry entry.
pub fn key_usage_bytes(entry: &KeyEntry) -> usize {
    let node = std::mem::size_of::<KeyEntry>() + std::mem::size_of::<usize>();
    let expire = if entry.has_expire() {
        std::mem::size_of::<ExpireEntry>() + std::mem::size_of::<usize>()
    } else {
        0
    };
    node + entry.key.heap_bytes() + entry.value.heap_bytes() + expire
}

/// MEMORY STATS
fn stats(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    let o = Overview::measure(ctx);
    let a = o.alloc;
    let r = &mut *ctx.reply;
    r.map(27 + o.dbs.len());
    let ints = [
        ("peak.allocated", o.peak),
        ("total.allocated", a.allocated),
        ("startup.allocated", o.startup),
        ("replication.backlog", 0),
        ("clients.slaves", 0),
        ("clients.normal", o.clients),
        ("cluster.links", 0),
        ("aof.buffer", 0),
        ("lua.caches", 0),
        ("functions.caches", 0),
    ];
    for (name, v) in ints {
        r.bulk(name.as_bytes());
        r.int(v as i64);
    }
    for d in &o.dbs {
        r.bulk(format!("db.{}", d.index).as_bytes());
        r.map(3);
        r.bulk(b"overhead.hashtable.main");
        r.int(d.main_bytes as i64);
        r.bulk(b"overhead.hashtable.expires");
        r.int(d.expires_bytes as i64);
        r.bulk(b"overhead.hashtable.slot-to-keys");
        r.int(0);
    }
    let net = a.allocated.saturating_sub(o.startup).max(1);
    let dataset = a.allocated.saturating_sub(o.overhead());
    let tail: [(&str, Num); 17] = [
        ("overhead.total", Num::Int(o.overhead())),
        ("keys.count", Num::Int(o.keys)),
        (
            "keys.bytes-per-key",
            Num::Int(net.checked_div(o.keys).unwrap_or(0)),
        ),
        ("dataset.bytes", Num::Int(dataset)),
        ("dataset.percentage", Num::Ratio(dataset * 100, net)),
        ("peak.percentage", Num::Ratio(a.allocated * 100, o.peak)),
        ("allocator.allocated", Num::Int(a.allocated)),
        ("allocator.active", Num::Int(a.active)),
        ("allocator.resident", Num::Int(a.resident)),
        (
            "allocator-fragmentation.ratio",
            Num::Ratio(a.active, a.allocated),
        ),
        (
            "allocator-fragmentation.bytes",
            Num::Diff(a.active, a.allocated),
        ),
        ("allocator-rss.ratio", Num::Ratio(a.resident, a.active)),
        ("allocator-rss.bytes", Num::Diff(a.resident, a.active)),
        ("rss-overhead.ratio", Num::Ratio(a.rss, a.resident)),
        ("rss-overhead.bytes", Num::Diff(a.rss, a.resident)),
        ("fragmentation", Num::Ratio(a.rss, a.allocated)),
        ("fragmentation.bytes", Num::Diff(a.rss, a.allocated)),
    ];
    for (name, v) in tail {
        r.bulk(name.as_bytes());
        match v {
            Num::Int(n) => r.int(n as i64),
            Num::Diff(x, y) => r.int(x as i64 - y as i64),
            Num::Ratio(x, y) => r.double(ratio(x, y)),
        }
    }
    Ok(())
}

enum Num {
    Int(u64),
    /// The first minus the second (may be negative).
    Diff(u64, u64),
    /// The first over the second.
    Ratio(u64, u64),
}

/// A ratio at single precision, as Redis computes these (so it prints like Redis's).
fn ratio(x: u64, y: u64) -> f64 {
    f64::from(x as f32 / y.max(1) as f32)
}

/// The numbers MEMORY STATS and DOCTOR work from.
struct Overview {
    alloc: AllocatorStats,
    peak: u64,
    startup: u64,
    /// Bytes buffered for clients (queries and replies).
    clients: u64,
    keys: u64,
    dbs: Vec<DbOverhead>,
}

/// The hash-table overhead of one non-empty database.
struct DbOverhead {
    index: usize,
    main_bytes: u64,
    expires_bytes: u64,
}

impl Overview {
    /// Takes the measures. Walks every slot of the non-empty databases, one shard lock at a
    /// time: the command is declared `WALKS_SLOTS`, so it holds no shard (or, inside EXEC,
    /// holds the keyspace exclusively and may drop the shards earlier commands locked).
    fn measure(ctx: &mut Ctx) -> Self {
        ctx.txn.release_shards();
        let srv = ctx.srv;
        let alloc = AllocatorStats::read();
        let clients = srv
            .clients
            .snapshot()
            .iter()
            .map(|c| {
                use std::sync::atomic::Ordering::Relaxed;
                (c.query_buf_bytes.load(Relaxed) + c.output_buf_bytes.load(Relaxed)) as u64
            })
            .sum();
        let dbs: Vec<DbOverhead> = (0..srv.keyspace.db_count())
            .filter(|&i| srv.keyspace.db(i).key_count() > 0)
            .map(|i| db_overhead(srv, i))
            .collect();
        Overview {
            alloc,
            peak: srv.stats.note_memory_used(alloc.allocated),
            startup: srv.stats.memory_startup_bytes,
            clients,
            keys: srv.keyspace.total_keys(),
            dbs,
        }
    }

    fn overhead(&self) -> u64 {
        self.startup
            + self.clients
            + self
                .dbs
                .iter()
                .map(|d| d.main_bytes + d.expires_bytes)
                .sum::<u64>()
    }
}

/// Walks the database's slot tables one at a time (never holding two shard locks, so this
/// cannot deadlock with commands).
fn db_overhead(srv: &Server, index: usize) -> DbOverhead {
    let db = srv.keyspace.db(index);
    let (mut main_bytes, mut expires_bytes) = (0, 0);
    for slot in 0..crate::keyspace::slot::SLOTS as u16 {
        if let Some(shard) = db.shard_if_allocated(slot) {
            let shard = shard.lock();
            main_bytes += shard.keys.overhead_bytes() as u64;
            expires_bytes += shard.expires().overhead_bytes() as u64;
        }
    }
    DbOverhead {
        index,
        main_bytes,
        expires_bytes,
    }
}

/// MEMORY DOCTOR
fn doctor(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    let report = doctor_report(&Overview::measure(ctx));
    ctx.reply.verbatim("txt", report.as_bytes());
    Ok(())
}

/// Below this much memory there is nothing meaningful to diagnose.
const DOCTOR_MIN_BYTES: u64 = 5 << 20;

fn doctor_report(o: &Overview) -> String {
    let a = o.alloc;
    if a.allocated < DOCTOR_MIN_BYTES {
        return "Hi Sam, this instance is empty or is using very little memory, so there is nothing for me to diagnose yet. Come back once it holds some data.\n".to_string();
    }
    let mut findings = Vec::new();
    if o.peak > a.allocated.saturating_mul(3) / 2 {
        findings.push(format!(
            " * Peak memory: at some point {} bytes were in use, over 150% of the {} bytes used now. Fragmentation may stay high until the allocator returns the memory (MEMORY PURGE may help).",
            o.peak, a.allocated
        ));
    }
    if a.rss > a.allocated.saturating_mul(14) / 10 && a.rss - a.allocated > 10 << 20 {
        findings.push(format!(
            " * High total RSS: the process holds {} bytes resident for {} bytes of data ({:.2}x).",
            a.rss,
            a.allocated,
            ratio(a.rss, a.allocated)
        ));
    }
    if o.clients > 200 << 20 {
        findings.push(format!(
            " * Big client buffers: clients hold {} bytes of queries and replies.",
            o.clients
        ));
    }
    if findings.is_empty() {
        return "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n".to_string();
    }
    format!(
        "Sam, I found a few issues with this instance's memory:\n\n{}\n",
        findings.join("\n\n")
    )
}

/// MEMORY MALLOC-STATS
fn malloc_stats(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    let report = memory::allocator_report();
    ctx.reply.verbatim("txt", report.as_bytes());
    Ok(())
}

/// MEMORY PURGE
fn purge(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    if !memory::purge() {
        return Err("ERR Error purging dirty pages".into());
    }
    ctx.reply.ok();
    Ok(())
}

/// MEMORY HELP
fn help(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    reply_help(
        ctx,
        argv,
        &[
            "DOCTOR",
            "    Return memory problems reports.",
            "MALLOC-STATS",
            "    Return internal statistics report from the memory allocator.",
            "PURGE",
            "    Attempt to purge dirty pages for reclamation by the allocator.",
            "STATS",
            "    Return information about the memory usage of the server.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
        ],
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::Value;

    #[test]
    fn usage_grows_with_what_does_not_fit_inline() {
        let small = KeyEntry::new(b"k", Value::str(b"v"), 0);
        let big = KeyEntry::new(b"k", Value::str(&[b'x'; 100]), 0);
        assert_eq!(key_usage_bytes(&small), 64);
        assert_eq!(key_usage_bytes(&big), 64 + 100);
        let mut volatile = small.clone();
        volatile.flags |= crate::keyspace::value::FLAG_EXPIRES;
        assert!(key_usage_bytes(&volatile) > 64);
    }

    #[test]
    fn ratios_print_at_single_precision() {
        assert_eq!(ratio(104, 100), f64::from(1.04f32));
        assert_eq!(ratio(5, 0), 5.0);
    }
}
