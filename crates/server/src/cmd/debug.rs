//! DEBUG and its subcommands: the hooks Redis's test suite and tools use to inspect and
//! steer the server.
//!
//! DEBUG is `protected` (allowed only as `enable-debug-command` says, checked by the gate)
//! and runs with the whole keyspace held still, as Redis runs everything: DEBUG SLEEP stalls
//! every command that touches keys, DEBUG DIGEST sees one consistent dataset.
//!
//! Unlike other containers, DEBUG's subcommands are not separate table entries (Redis
//! declares DEBUG as one command); [`SUBCOMMANDS`] maps each name and argument count to
//! its handler. Besides Redis 7.0's, STRINGMATCH-LEN and DICT-RESIZING (names from later
//! Redis versions) and JMAP (an old one) are accepted.

mod digest;
mod mallctl;
mod object;
mod populate;
mod protocol;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rudis_resp::Argv;

use super::admin::{reply_help, subcommand_syntax_error};
use super::util::is;
use crate::command::error::NOT_INTEGER;
use crate::command::spec::{flag, CommandSpec};
use crate::command::{CmdResult, Ctx};
use crate::server::log::{self, Verbosity};
use crate::server::RuntimeState;

pub use digest::{dataset_digest, hex as digest_hex};

pub static COMMANDS: &[CommandSpec] = &[CommandSpec::new("debug", -2, debug)
    .flags(
        flag::ADMIN
            | flag::NOSCRIPT
            | flag::LOADING
            | flag::STALE
            | flag::PROTECTED
            | flag::EXCLUSIVE,
    )
    .syscmd()
    .doc(
        "server",
        "A container for debugging commands",
        "1.0.0",
        "Depends on subcommand.",
    )];

/// How many arguments (including `DEBUG` and the subcommand) a subcommand takes.
#[derive(Clone, Copy)]
enum Args {
    Exactly(usize),
    Between(usize, usize),
    AtLeast(usize),
}

impl Args {
    fn accepts(self, argc: usize) -> bool {
        match self {
            Args::Exactly(n) => argc == n,
            Args::Between(lo, hi) => (lo..=hi).contains(&argc),
            Args::AtLeast(n) => argc >= n,
        }
    }
}

type SubHandler = fn(&mut Ctx, Argv) -> CmdResult;

/// DEBUG's subcommands. A name given with the wrong number of arguments is answered like an
/// unknown name.
static SUBCOMMANDS: &[(&str, Args, SubHandler)] = &[
    ("help", Args::Exactly(2), help),
    ("sleep", Args::Exactly(3), sleep),
    ("set-active-expire", Args::Exactly(3), set_active_expire),
    ("object", Args::Exactly(3), object::object),
    ("sdslen", Args::Exactly(3), object::sdslen),
    ("listpack", Args::Exactly(3), object::listpack),
    ("quicklist", Args::Between(3, 4), object::quicklist),
    ("htstats", Args::Exactly(3), object::htstats),
    ("htstats-key", Args::Exactly(3), object::htstats_key),
    ("populate", Args::Between(3, 5), populate::populate),
    ("digest", Args::Exactly(2), digest),
    ("digest-value", Args::AtLeast(2), digest_value),
    ("protocol", Args::Exactly(3), protocol),
    ("log", Args::Exactly(3), log_message),
    ("error", Args::Exactly(3), error),
    ("leak", Args::Exactly(3), leak),
    ("jmap", Args::Exactly(2), jmap),
    ("structsize", Args::Exactly(2), structsize),
    ("change-repl-id", Args::Exactly(2), change_repl_id),
    ("replicate", Args::AtLeast(3), replicate),
    (
        "quicklist-packed-threshold",
        Args::Exactly(3),
        quicklist_packed_threshold,
    ),
    (
        "set-skip-checksum-validation",
        Args::Exactly(3),
        set_skip_checksum_validation,
    ),
    (
        "set-disable-deny-scripts",
        Args::Exactly(3),
        set_disable_deny_scripts,
    ),
    ("aof-flush-sleep", Args::Exactly(3), aof_flush_sleep),
    ("pause-cron", Args::Exactly(3), pause_cron),
    ("dict-resizing", Args::Exactly(3), dict_resizing),
    ("replybuffer", Args::Exactly(4), replybuffer),
    ("stringmatch-test", Args::Exactly(2), stringmatch_test),
    ("stringmatch-len", Args::Exactly(2), stringmatch_test),
    ("mallctl", Args::AtLeast(3), mallctl::mallctl),
    ("mallctl-str", Args::AtLeast(3), mallctl::mallctl_str),
    (
        "drop-cluster-packet-filter",
        Args::Exactly(3),
        drop_cluster_packet_filter,
    ),
    ("client-eviction", Args::Exactly(2), client_eviction),
    ("reload", Args::AtLeast(2), reload),
    ("loadaof", Args::AtLeast(2), loadaof),
    ("restart", Args::AtLeast(2), restart),
    ("crash-and-recover", Args::AtLeast(2), restart),
    ("segfault", Args::AtLeast(2), segfault),
    ("panic", Args::AtLeast(2), crash),
    ("assert", Args::AtLeast(2), crash),
];

/// DEBUG subcommand [argument ...]
fn debug(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let sub = argv.get(1);
    match SUBCOMMANDS
        .iter()
        .find(|(name, args, _)| is(sub, name) && args.accepts(argv.len()))
    {
        Some((_, _, handler)) => handler(ctx, argv),
        None => Err(subcommand_syntax_error(argv)),
    }
}

/// Before walking the keyspace slot by slot (locking each shard alone): drops the shard
/// locks this transaction took for earlier commands of the same EXEC, which the walk would
/// otherwise wait on forever. Safe because DEBUG runs holding the keyspace gate exclusively:
/// nobody else can take a shard meanwhile.
pub(crate) fn release_for_walk(ctx: &mut Ctx) {
    debug_assert!(ctx.txn.is_exclusive(), "DEBUG runs with the keyspace held");
    ctx.txn.release_shards();
}

/// Redis reads these switches with `atoi`: leading digits, anything else is 0.
fn atoi(arg: &[u8]) -> i64 {
    let text = String::from_utf8_lossy(arg);
    let t = text.trim_start();
    let (sign, digits) = match t.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, t.strip_prefix('+').unwrap_or(t)),
    };
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse::<i64>().map_or(0, |n| sign * n)
}

/// DEBUG SLEEP seconds
///
/// Fractions allowed; a negative or unparsable duration sleeps not at all.
fn sleep(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let seconds = rudis_resp::number::parse_f64(argv.get(2)).unwrap_or(0.0);
    if seconds > 0.0 {
        if let Ok(d) = Duration::try_from_secs_f64(seconds) {
            std::thread::sleep(d);
        }
    }
    ctx.reply.ok();
    Ok(())
}

/// Sets a runtime switch from a `0|1` argument.
fn set_switch(ctx: &mut Ctx, pick: fn(&RuntimeState) -> &AtomicBool, arg: &[u8]) -> CmdResult {
    pick(&ctx.srv.state).store(atoi(arg) != 0, Ordering::Relaxed);
    ctx.reply.ok();
    Ok(())
}

/// DEBUG SET-ACTIVE-EXPIRE 0|1
fn set_active_expire(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    set_switch(ctx, |s| &s.active_expire, argv.get(2))
}

/// DEBUG SET-SKIP-CHECKSUM-VALIDATION 0|1
fn set_skip_checksum_validation(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    set_switch(ctx, |s| &s.skip_checksum_validation, argv.get(2))
}

/// DEBUG SET-DISABLE-DENY-SCRIPTS 0|1
fn set_disable_deny_scripts(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    set_switch(ctx, |s| &s.disable_deny_scripts, argv.get(2))
}

/// DEBUG PAUSE-CRON 0|1
fn pause_cron(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    set_switch(ctx, |s| &s.pause_cron, argv.get(2))
}

/// DEBUG DICT-RESIZING 0|1
fn dict_resizing(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    set_switch(ctx, |s| &s.dict_resizing, argv.get(2))
}

/// DEBUG AOF-FLUSH-SLEEP microseconds
fn aof_flush_sleep(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let us = atoi(argv.get(2)).max(0) as u64;
    ctx.srv
        .state
        .aof_flush_sleep_us
        .store(us, Ordering::Relaxed);
    ctx.reply.ok();
    Ok(())
}

/// DEBUG QUICKLIST-PACKED-THRESHOLD size
///
/// 0 restores the default (1 GB); at most 4 GB less 1 MB.
fn quicklist_packed_threshold(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    const MAX_BYTES: i64 = (1 << 32) - (1 << 20);
    let size = std::str::from_utf8(argv.get(2))
        .ok()
        .and_then(crate::config::parse_memory)
        .filter(|n| (0..=MAX_BYTES).contains(n))
        .ok_or("ERR argument must be a memory value bigger than 1 and smaller than 4gb")?;
    let bytes = match size {
        0 => RuntimeState::QUICKLIST_PACKED_THRESHOLD_DEFAULT,
        n => n as u64,
    };
    ctx.srv
        .state
        .quicklist_packed_threshold_bytes
        .store(bytes, Ordering::Relaxed);
    ctx.reply.ok();
    Ok(())
}

/// DEBUG REPLYBUFFER PEAK-RESET-TIME NEVER|RESET|<ms>, DEBUG REPLYBUFFER RESIZING 0|1
fn replybuffer(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let state = &ctx.srv.state;
    let (what, value) = (argv.get(2), argv.get(3));
    if is(what, "PEAK-RESET-TIME") {
        let ms = if is(value, "NEVER") {
            -1
        } else if is(value, "RESET") {
            RuntimeState::REPLY_BUFFER_PEAK_RESET_MS_DEFAULT
        } else {
            rudis_resp::number::parse_i64(value).ok_or(NOT_INTEGER)?
        };
        state
            .reply_buffer_peak_reset_ms
            .store(ms, Ordering::Relaxed);
    } else if is(what, "RESIZING") {
        state
            .reply_buffer_resizing
            .store(atoi(value) != 0, Ordering::Relaxed);
    } else {
        return Err(subcommand_syntax_error(argv));
    }
    ctx.reply.ok();
    Ok(())
}

/// DEBUG DIGEST
fn digest(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    release_for_walk(ctx);
    let d = dataset_digest(ctx.txn.keyspace());
    ctx.reply.simple(&digest::hex(&d));
    Ok(())
}

/// DEBUG DIGEST-VALUE [key ...]
///
/// Keys are found even if logically expired; a missing key digests to zeros.
fn digest_value(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let db = ctx.txn.db;
    ctx.reply.array(argv.len() - 2);
    for key in argv.iter().skip(2) {
        let mut d = [0u8; 20];
        if let Some(entry) = ctx.txn.shard(db, key).keys.get(key) {
            digest::value_digest(&mut d, entry);
        }
        ctx.txn.release_shards();
        ctx.reply.simple(&digest::hex(&d));
    }
    Ok(())
}

/// DEBUG PROTOCOL string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|
/// true|false
fn protocol(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    protocol::reply_sample(ctx.reply, argv.get(2))
}

/// DEBUG LOG message
fn log_message(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let message = String::from_utf8_lossy(argv.get(2));
    log::write_line(Verbosity::Warning, &format!("DEBUG LOG: {message}"));
    ctx.reply.ok();
    Ok(())
}

/// DEBUG ERROR message: replies with `-message`, whatever its first word. Like Redis, the
/// reply is not counted in the error statistics.
fn error(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    ctx.reply.error(&String::from_utf8_lossy(argv.get(2)));
    Ok(())
}

/// DEBUG LEAK string: loses a copy of the string on purpose (leak detector tests).
fn leak(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    std::mem::forget(argv.get(2).to_vec());
    ctx.reply.ok();
    Ok(())
}

/// DEBUG JMAP: writes the allocator's statistics to the log.
fn jmap(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    let report = crate::server::memory::allocator_report();
    log::write_line(Verbosity::Notice, &report);
    ctx.reply.ok();
    Ok(())
}

/// DEBUG STRUCTSIZE: sizes of the core structures, as `name:bytes` pairs.
fn structsize(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    use crate::keyspace::value::{ExpireEntry, KeyEntry, Value};
    use std::mem::size_of;
    let text = format!(
        "bits:{} keyentry:{} value:{} compactbytes:{} expireentry:{} ",
        usize::BITS,
        size_of::<KeyEntry>(),
        size_of::<Value>(),
        size_of::<crate::keyspace::bytes::CompactBytes>(),
        size_of::<ExpireEntry>()
    );
    ctx.reply.bulk(text.as_bytes());
    Ok(())
}

/// DEBUG CHANGE-REPL-ID
///
/// Replication (not built yet) owns the replication ids; once it exists this switches to a
/// new id and forgets the secondary one. Until then there is nothing to change.
fn change_repl_id(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    log::write_line(
        Verbosity::Warning,
        "Changing replication IDs after receiving DEBUG change-repl-id",
    );
    ctx.reply.ok();
    Ok(())
}

/// DEBUG REPLICATE command [arg ...]: sends a command to the replicas only, without running
/// it here (nor writing it to the AOF): tests use it to make a replica's data diverge.
fn replicate(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let args: Vec<&[u8]> = argv.iter().skip(2).collect();
    ctx.txn
        .propagate_to(&args, crate::propagate::target::REPLICAS);
    ctx.reply.ok();
    Ok(())
}

/// DEBUG STRINGMATCH-TEST: matches random patterns against random strings, to show the
/// glob matcher neither crashes nor hangs on any input.
fn stringmatch_test(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    let mut rng = fastrand::Rng::new();
    let alphabet = b"*?[]^-\\ab";
    let mut random = |max: usize| -> Vec<u8> {
        let len = rng.usize(..=max);
        (0..len)
            .map(|_| alphabet[rng.usize(..alphabet.len())])
            .collect()
    };
    for _ in 0..100_000 {
        let (p, s) = (random(32), random(32));
        let _ = crate::util::glob::matches(&p, &s, false);
    }
    ctx.reply
        .simple("Apparently Redis did not crash: test passed");
    Ok(())
}

/// DEBUG DROP-CLUSTER-PACKET-FILTER type: cluster bus testing; the bus is not built yet, so
/// the filter only has to parse.
fn drop_cluster_packet_filter(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    rudis_resp::number::parse_i64(argv.get(2)).ok_or(NOT_INTEGER)?;
    ctx.reply.ok();
    Ok(())
}

/// DEBUG CLIENT-EVICTION
fn client_eviction(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    if ctx.srv.cfg().maxmemory_clients == 0 {
        return Err("ERR maxmemory-clients is disabled.".into());
    }
    Err("ERR client eviction is not available in this server yet".into())
}

/// DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: saves the RDB file, empties the keyspace, and
/// loads the file back (DEBUG is `EXCLUSIVE`, so nothing runs in between).
fn reload(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let (mut merge, mut flush, mut save) = (false, true, true);
    for opt in argv.iter().skip(2) {
        if is(opt, "merge") {
            merge = true;
        } else if is(opt, "noflush") {
            flush = false;
        } else if is(opt, "nosave") {
            save = false;
        } else {
            return Err(
                "ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.".into(),
            );
        }
    }
    if save && crate::persist::save::save_held(ctx.srv, ctx.txn).is_err() {
        return Err("ERR".into());
    }
    // Emptying the keyspace is a write a running snapshot must see first.
    ctx.txn.writes = true;
    if flush {
        for db in 0..ctx.txn.keyspace().db_count() {
            crate::cmd::keys::flush::empty_db(ctx, db, false);
        }
        ctx.srv.scripting.flush_libraries();
    }
    ctx.txn.release_shards();
    let path = ctx.srv.cfg().dbfilename.clone();
    let loaded = std::fs::File::open(&path)
        .map_err(|e| e.to_string())
        .and_then(|f| crate::persist::load::load(ctx.srv, f, merge));
    match loaded {
        Ok(l) => {
            ctx.srv.rdb.loaded(&l);
            crate::server::log::write_line(
                crate::server::log::Verbosity::Warning,
                "DB reloaded by DEBUG RELOAD",
            );
            ctx.reply.ok();
            Ok(())
        }
        Err(e) => {
            crate::server::log::write_line(crate::server::log::Verbosity::Warning, &e);
            Err("ERR Error trying to load the RDB dump".into())
        }
    }
}

/// DEBUG LOADAOF: writes out the AOF buffer, empties the keyspace and loads the AOF back
/// (DEBUG is `EXCLUSIVE`, so nothing runs in between). As in Redis, a failed load ends the
/// process: the dataset is gone.
fn loadaof(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    let srv = ctx.srv;
    if srv.aof.is_on() {
        srv.aof.flush_and_sync(srv);
    }
    ctx.txn.writes = true;
    for db in 0..ctx.txn.keyspace().db_count() {
        crate::cmd::keys::flush::empty_db(ctx, db, false);
    }
    ctx.txn.release_shards();
    let result = crate::persist::aof::load::reload(srv, ctx.txn);
    ctx.txn.effects = Default::default();
    if let Err(e) = result {
        crate::server::log::write_line(crate::server::log::Verbosity::Warning, &e);
        std::process::exit(1);
    }
    // As in Redis, the loaded data counts as saved: no change since the last save.
    let rdb = &srv.rdb;
    rdb.dirty_at_save
        .store(rdb.dirty_now(srv), std::sync::atomic::Ordering::Relaxed);
    crate::server::log::write_line(
        crate::server::log::Verbosity::Warning,
        "Append Only File loaded by DEBUG LOADAOF",
    );
    ctx.reply.ok();
    Ok(())
}

/// DEBUG RESTART [ms], DEBUG CRASH-AND-RECOVER [ms]: restarting in place is not supported,
/// which Redis reports the same way as a failed restart.
fn restart(_ctx: &mut Ctx, argv: Argv) -> CmdResult {
    if let Some(delay) = argv.try_get(2) {
        rudis_resp::number::parse_i64(delay).ok_or(NOT_INTEGER)?;
    }
    Err("ERR failed to restart the server. Check server logs.".into())
}

/// DEBUG SEGFAULT: crashes the server with SIGSEGV (crash report tests).
fn segfault(_ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    log::write_line(Verbosity::Warning, "DEBUG SEGFAULT: crashing on request");
    // SAFETY: signals on our own process; crashing is the point of the command. The
    // runtime's stack-overflow handler would swallow a raised SIGSEGV, so it goes first.
    unsafe {
        libc::signal(libc::SIGSEGV, libc::SIG_DFL);
        libc::raise(libc::SIGSEGV);
    }
    Ok(())
}

/// DEBUG PANIC, DEBUG ASSERT: aborts the server after logging why.
fn crash(_ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let what = String::from_utf8_lossy(argv.get(1)).to_ascii_uppercase();
    log::write_line(
        Verbosity::Warning,
        &format!(
            "DEBUG {what} called at Unix time {}",
            crate::server::unix_ms() / 1000
        ),
    );
    std::process::abort();
}

/// DEBUG HELP
fn help(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    reply_help(ctx, argv, HELP);
    Ok(())
}

const HELP: &[&str] = &[
    "AOF-FLUSH-SLEEP <microsec>",
    "    Server will sleep before flushing the AOF, this is used for testing.",
    "ASSERT",
    "    Crash by assertion failed.",
    "CHANGE-REPL-ID",
    "    Change the replication IDs of the instance.",
    "    Dangerous: should be used only for testing the replication subsystem.",
    "CRASH-AND-RECOVER [<milliseconds>]",
    "    Hard crash and restart after a <milliseconds> delay (default 0).",
    "DIGEST",
    "    Output a hex signature representing the current DB content.",
    "DIGEST-VALUE <key> [<key> ...]",
    "    Output a hex signature of the values of all the specified keys.",
    "DICT-RESIZING <0|1>",
    "    Enable or disable the main dict and expire dict resizing.",
    "ERROR <string>",
    "    Return a Redis protocol error with <string> as message. Useful for clients",
    "    unit tests to simulate Redis errors.",
    "LEAK <string>",
    "    Create a memory leak of the input string.",
    "LOG <message>",
    "    Write <message> to the server log.",
    "HTSTATS <dbid>",
    "    Return hash table statistics of the specified Redis database.",
    "HTSTATS-KEY <key>",
    "    Like HTSTATS but for the hash table stored at <key>'s value.",
    "JMAP",
    "    Write the memory allocator's statistics to the server log.",
    "LOADAOF",
    "    Flush the AOF buffers on disk and reload the AOF in memory.",
    "REPLICATE <string>",
    "    Replicates the provided string to replicas, allowing data divergence.",
    "MALLCTL <key> [<val>]",
    "    Get or set a malloc tuning integer.",
    "MALLCTL-STR <key> [<val>]",
    "    Get or set a malloc tuning string.",
    "OBJECT <key>",
    "    Show low level info about `key` and associated value.",
    "DROP-CLUSTER-PACKET-FILTER <packet-type>",
    "    Drop all packets that match the filtered type. Set to -1 allow all packets.",
    "PANIC",
    "    Crash the server simulating a panic.",
    "POPULATE <count> [<prefix>] [<size>]",
    "    Create <count> string keys named key:<num>. If <prefix> is specified then",
    "    it is used instead of the 'key' prefix. These are not propagated to",
    "    replicas. Cluster slots are not respected so keys not belonging to the",
    "    current node can be created in cluster mode.",
    "PROTOCOL <type>",
    "    Reply with a test value of the specified type. <type> can be: string,",
    "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
    "    true, false.",
    "RELOAD [option ...]",
    "    Save the RDB on disk and reload it back to memory. Valid <option> values:",
    "    * MERGE: conflicting keys will be loaded from RDB.",
    "    * NOFLUSH: the existing database will not be removed before load, but",
    "      conflicting keys will generate an exception and kill the server.",
    "    * NOSAVE: the database will be loaded from an existing RDB file.",
    "RESTART [<milliseconds>]",
    "    Graceful restart: save config, db, restart after a <milliseconds> delay (default 0).",
    "SDSLEN <key>",
    "    Show low level SDS string info representing `key` and value.",
    "SEGFAULT",
    "    Crash the server with sigsegv.",
    "SET-ACTIVE-EXPIRE <0|1>",
    "    Setting it to 0 disables expiring keys in background when they are not",
    "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
    "    default.",
    "QUICKLIST-PACKED-THRESHOLD <size>",
    "    Sets the threshold for elements to be inserted as plain vs packed nodes",
    "    Default value is 1GB, allows values up to 4GB. Setting to 0 restores to default.",
    "SET-SKIP-CHECKSUM-VALIDATION <0|1>",
    "    Enables or disables checksum checks for RDB files and RESTORE's payload.",
    "SET-DISABLE-DENY-SCRIPTS <0|1>",
    "    Let scripts run commands they are normally denied.",
    "SLEEP <seconds>",
    "    Stop the server for <seconds>. Decimals allowed.",
    "STRINGMATCH-TEST",
    "    Run a fuzz tester against the stringmatchlen() function.",
    "STRUCTSIZE",
    "    Return the size of different Redis core C structures.",
    "LISTPACK <key>",
    "    Show low level info about the listpack encoding of <key>.",
    "QUICKLIST <key> [<0|1>]",
    "    Show low level info about the quicklist encoding of <key>.",
    "    The optional argument (0 by default) sets the level of detail",
    "CLIENT-EVICTION",
    "    Show low level client eviction pools info (maxmemory-clients).",
    "PAUSE-CRON <0|1>",
    "    Stop periodic cron job processing.",
    "REPLYBUFFER PEAK-RESET-TIME <NEVER||RESET|time>",
    "    Sets the time (in milliseconds) to wait between client reply buffer peak resets.",
    "    In case NEVER is provided the last observed peak will never be reset",
    "    In case RESET is provided the peak reset time will be restored to the default value",
    "REPLYBUFFER RESIZING <0|1>",
    "    Enable or disable the reply buffer resize cron job",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atoi_reads_leading_digits() {
        assert_eq!(atoi(b"1"), 1);
        assert_eq!(atoi(b"0"), 0);
        assert_eq!(atoi(b"12abc"), 12);
        assert_eq!(atoi(b"-3"), -3);
        assert_eq!(atoi(b"yes"), 0);
        assert_eq!(atoi(b""), 0);
    }

    #[test]
    fn argument_counts() {
        assert!(Args::Exactly(3).accepts(3));
        assert!(!Args::Exactly(3).accepts(4));
        assert!(Args::Between(3, 5).accepts(5));
        assert!(!Args::Between(3, 5).accepts(6));
        assert!(Args::AtLeast(2).accepts(9));
    }

    #[test]
    fn every_subcommand_is_lowercase_and_unique() {
        let mut names: Vec<&str> = SUBCOMMANDS.iter().map(|s| s.0).collect();
        assert!(names.iter().all(|n| *n == n.to_ascii_lowercase()));
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), SUBCOMMANDS.len());
    }
}
