//! OBJECT: what Redis reveals about the object behind a key. ENCODING, REFCOUNT, IDLETIME
//! and FREQ read the key without touching its access time or firing `keymiss`.
//!
//! REFCOUNT mirrors Redis's sharing of the integers 0..9999: Redis stores such a string
//! value as one shared object (reported with refcount `INT_MAX`) unless a maxmemory LRU/LFU
//! policy is active, when every key needs its own access time. Rudis keeps no shared objects,
//! so the rule is applied when asked.

use rudis_resp::Argv;

use crate::command::spec::{acl, flag, keyflag, CommandSpec, KeySpec};
use crate::command::{CmdResult, Ctx};
use crate::config::Config;
use crate::keyspace::access::{idle_seconds, lfu_decayed_counter, lfu_minutes};
use crate::keyspace::txn::Lookup;
use crate::keyspace::value::Value;
use crate::keyspace::KeyEntry;

const KEY2_RO: &[KeySpec] = &[KeySpec::one(2, keyflag::RO)];
const NONDETERMINISTIC: &[&str] = &["nondeterministic_output"];

pub(super) static SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("encoding", 3, encoding)
        .flags(flag::READONLY)
        .acl(acl::KEYSPACE)
        .keys(KEY2_RO)
        .tips(NONDETERMINISTIC)
        .doc(
            "generic",
            "Inspect the internal encoding of a Redis object",
            "2.2.3",
            "O(1)",
        ),
    CommandSpec::new("freq", 3, freq)
        .flags(flag::READONLY)
        .acl(acl::KEYSPACE)
        .keys(KEY2_RO)
        .tips(NONDETERMINISTIC)
        .doc(
            "generic",
            "Get the logarithmic access frequency counter of a Redis object",
            "4.0.0",
            "O(1)",
        ),
    CommandSpec::new("help", 2, help)
        .flags(flag::LOADING | flag::STALE | flag::NO_KEYSPACE)
        .acl(acl::KEYSPACE)
        .doc(
            "generic",
            "Show helpful text about the different subcommands",
            "6.2.0",
            "O(1)",
        ),
    CommandSpec::new("idletime", 3, idletime)
        .flags(flag::READONLY)
        .acl(acl::KEYSPACE)
        .keys(KEY2_RO)
        .tips(NONDETERMINISTIC)
        .doc(
            "generic",
            "Get the time since a Redis object was last accessed",
            "2.2.3",
            "O(1)",
        ),
    CommandSpec::new("refcount", 3, refcount)
        .flags(flag::READONLY)
        .acl(acl::KEYSPACE)
        .keys(KEY2_RO)
        .tips(NONDETERMINISTIC)
        .doc(
            "generic",
            "Get the number of references to the value of the key",
            "2.2.3",
            "O(1)",
        ),
];

/// The refcount Redis reports for a shared object.
const SHARED_REFCOUNT: i64 = i32::MAX as i64;
/// Redis shares the integers below this.
const SHARED_INTEGERS: i64 = 10_000;
const LFU_POLICY_ERR: &str = "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";
const NOT_LFU_POLICY_ERR: &str = "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";

/// Only reached for `OBJECT` with a subcommand the dispatcher could not resolve.
pub(super) fn container(_ctx: &mut Ctx, argv: Argv) -> CmdResult {
    Err(crate::err!(
        "ERR unknown subcommand '{}'. Try OBJECT HELP.",
        String::from_utf8_lossy(argv.try_get(1).unwrap_or_default())
    ))
}

/// Looks the key up for OBJECT: no access-time update, no `keymiss`, but the hit/miss
/// counters move. Replies null and returns `None` if the key is missing.
fn object_lookup<'t>(ctx: &'t mut Ctx, key: &[u8]) -> Option<&'t KeyEntry> {
    let db = ctx.txn.db;
    if ctx.txn.lookup(db, key, Lookup::Peek).is_none() {
        ctx.txn.effects.misses += 1;
        ctx.reply.null();
        return None;
    }
    ctx.txn.effects.hits += 1;
    ctx.txn.lookup(db, key, Lookup::Peek).map(|e| &*e)
}

pub(super) fn lfu_policy(cfg: &Config) -> bool {
    cfg.maxmemory_policy.ends_with("-lfu")
}

/// OBJECT ENCODING key
fn encoding(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    if let Some(e) = object_lookup(ctx, argv.get(2)) {
        let name = e.encoding();
        ctx.reply.bulk(name.as_bytes());
    }
    Ok(())
}

/// OBJECT REFCOUNT key
fn refcount(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let cfg = ctx.srv.cfg();
    let policy = cfg.maxmemory_policy.as_str();
    let sharing = cfg.maxmemory == 0 || !(policy.ends_with("-lru") || policy.ends_with("-lfu"));
    if let Some(e) = object_lookup(ctx, argv.get(2)) {
        let count = if sharing && is_shared_integer(e) {
            SHARED_REFCOUNT
        } else {
            1
        };
        ctx.reply.int(count);
    }
    Ok(())
}

/// A string Redis would store as one of its shared integer objects.
fn is_shared_integer(e: &KeyEntry) -> bool {
    match &e.value {
        Value::Str(s) if e.encoding() == "int" => rudis_resp::number::parse_i64(s.as_slice())
            .is_some_and(|v| (0..SHARED_INTEGERS).contains(&v)),
        _ => false,
    }
}

/// OBJECT IDLETIME key
fn idletime(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let lfu = lfu_policy(&ctx.srv.cfg());
    let now_clock = ctx.txn.lru_clock;
    if let Some(e) = object_lookup(ctx, argv.get(2)) {
        if lfu {
            return Err(LFU_POLICY_ERR.into());
        }
        let idle_s = idle_seconds(now_clock, e.access);
        ctx.reply.int(i64::from(idle_s));
    }
    Ok(())
}

/// OBJECT FREQ key
fn freq(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let cfg = ctx.srv.cfg();
    let (lfu, decay_min) = (
        lfu_policy(&cfg),
        cfg.lfu_decay_time.clamp(0, u32::MAX as i64) as u32,
    );
    let now_min = lfu_minutes(ctx.txn.now_ms);
    if let Some(e) = object_lookup(ctx, argv.get(2)) {
        if !lfu {
            return Err(NOT_LFU_POLICY_ERR.into());
        }
        let counter = lfu_decayed_counter(e.access, now_min, decay_min);
        ctx.reply.int(i64::from(counter));
    }
    Ok(())
}

/// OBJECT HELP
fn help(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    const LINES: &[&str] = &[
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Prints this help.",
    ];
    ctx.reply.array(LINES.len());
    for line in LINES {
        ctx.reply.simple(line);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::access::LRU_CLOCK_MAX;

    #[test]
    fn idle_time_wraps_with_the_lru_clock() {
        assert_eq!(idle_seconds(100, 40), 60);
        assert_eq!(idle_seconds(10, LRU_CLOCK_MAX - 5), 15);
        assert_eq!(idle_seconds(7, 7), 0);
    }

    #[test]
    fn lfu_counter_decays_per_period() {
        let stamp = (1000 << 8) | 20;
        assert_eq!(lfu_decayed_counter(stamp, 1000, 1), 20);
        assert_eq!(lfu_decayed_counter(stamp, 1005, 1), 15);
        assert_eq!(lfu_decayed_counter(stamp, 1010, 2), 15);
        assert_eq!(lfu_decayed_counter(stamp, 2000, 1), 0);
        assert_eq!(lfu_decayed_counter(stamp, 2000, 0), 20, "decay disabled");
        let wrapped = (0xFFF0 << 8) | 9;
        assert_eq!(lfu_decayed_counter(wrapped, 3, 1), 0);
    }

    #[test]
    fn shared_integers() {
        let e = |v: &[u8]| KeyEntry::new(b"k", Value::str(v), 0);
        assert!(is_shared_integer(&e(b"0")));
        assert!(is_shared_integer(&e(b"9999")));
        assert!(!is_shared_integer(&e(b"10000")));
        assert!(!is_shared_integer(&e(b"-1")));
        assert!(!is_shared_integer(&e(b"abc")));
    }
}
