//! The dispatch gate: the one path from a parsed request to a handler.
//!
//! In Redis's order: look the command up (unknown command, unknown subcommand, arity), then
//! check authentication, MULTI restrictions, read-only replica, replicas and monitors
//! touching keys, the RESP2 pub/sub context, loading; queue it if the client is in MULTI;
//! otherwise open a [`Txn`], lock the shards of its keys in ascending slot order, run the
//! handler, commit its effects (propagation, keyspace events) while still holding the locks,
//! and account for it (commandstats, errorstats, latency histogram, slowlog, latency monitor,
//! MONITOR feed).

use std::sync::atomic::Ordering;

use rudis_resp::{Argv, ReplyBuf};

use super::ctx::Ctx;
use super::error::{wrong_arity, CmdError};
use super::spec::{flag, key_positions};
use super::table::CmdEntry;
use crate::keyspace::txn::{encode_command, Txn};
use crate::server::client::{cflag, Client, Queued, ReplyMode};
use crate::server::{unix_ms, unix_us, Server};
use crate::util::clock;

/// Runs one request from `client`, writing its reply into `reply`.
pub fn call(srv: &Server, client: &mut Client, reply: &mut ReplyBuf, argv: Argv<'_>) {
    let entry = match lookup(srv, argv) {
        Ok(e) => e,
        Err(e) => return reject(srv, client, reply, None, e),
    };
    // Before running, so CLIENT LIST shows the command a client is executing.
    client.info.last_cmd_id.store(entry.id, Ordering::Relaxed);
    if !entry.spec.arity_ok(argv.len()) {
        // Counted as a rejected call of the command (commandstats), as in Redis.
        return reject(
            srv,
            client,
            reply,
            Some(entry),
            wrong_arity(&entry.fullname),
        );
    }
    crate::acl::gate::refresh_user(srv, client);
    if let Err(e) = precheck(srv, client, entry, argv) {
        return reject(srv, client, reply, Some(entry), e);
    }
    if client.in_multi() && !is_multi_control(entry) {
        return queue(client, reply, entry, argv);
    }
    track_reply_mode(client, reply, |client, reply| {
        run(srv, client, reply, entry, argv)
    });
}

/// CLIENT PAUSE: true if this request must wait until the pause ends. Only requests the
/// gate would run or queue are held (a rejected one gets its error at once, as in Redis);
/// during a WRITE pause, only those that may write or replicate (EXEC by what it queued).
/// Replicas are never held.
pub fn held_by_pause(srv: &Server, client: &Client, argv: Argv<'_>) -> bool {
    let until_ms = srv.state.paused_until_ms.load(Ordering::Acquire);
    if until_ms == 0 || client.info.has_flag(cflag::REPLICA) || until_ms <= unix_ms() {
        return false;
    }
    let Ok(entry) = resolve(srv, argv) else {
        return false;
    };
    if precheck(srv, client, entry, argv).is_err() {
        return false;
    }
    if !srv.state.pause_writes_only.load(Ordering::Acquire) {
        return true;
    }
    let mut flags = entry.spec.flags;
    if is_exec(entry) {
        flags |= queued_flags(srv, client);
    }
    flags & (flag::WRITE | flag::MAY_REPLICATE) != 0
}

/// Finds the command (or subcommand) and checks its arity.
pub fn resolve<'s>(srv: &'s Server, argv: Argv<'_>) -> Result<&'s CmdEntry, CmdError> {
    let entry = lookup(srv, argv)?;
    if !entry.spec.arity_ok(argv.len()) {
        return Err(wrong_arity(&entry.fullname));
    }
    Ok(entry)
}

/// Finds the command (or subcommand) `argv` names, without checking its arity.
pub fn lookup<'s>(srv: &'s Server, argv: Argv<'_>) -> Result<&'s CmdEntry, CmdError> {
    let name = argv.get(0);
    let Some(mut entry) = srv.commands.lookup(name) else {
        return Err(unknown_command(argv));
    };
    if entry.is_container() && argv.len() >= 2 {
        match srv.commands.lookup_sub(entry, argv.get(1)) {
            Some(sub) => entry = sub,
            None => {
                return Err(crate::err!(
                    "ERR unknown subcommand '{}'. Try {} HELP.",
                    truncate_lossy(argv.get(1), 128),
                    entry.fullname.to_ascii_uppercase()
                ))
            }
        }
    }
    Ok(entry)
}

fn unknown_command(argv: Argv<'_>) -> CmdError {
    let mut args = String::new();
    for a in argv.iter().skip(1) {
        if args.len() >= 128 {
            break;
        }
        let room = 128 - args.len();
        args.push_str(&format!("'{}' ", truncate_lossy(a, room)));
    }
    crate::err!(
        "ERR unknown command '{}', with args beginning with: {}",
        truncate_lossy(argv.get(0), 128),
        args
    )
}

fn truncate_lossy(b: &[u8], max: usize) -> String {
    String::from_utf8_lossy(&b[..b.len().min(max)]).into_owned()
}

/// The checks Redis makes before running or queuing a command.
fn precheck(
    srv: &Server,
    client: &Client,
    entry: &CmdEntry,
    argv: Argv<'_>,
) -> Result<(), CmdError> {
    let spec = entry.spec;
    if spec.has(flag::PROTECTED) {
        check_protected(srv, client, entry)?;
    }
    if !client.authenticated && !spec.has(flag::NO_AUTH) {
        return Err("NOAUTH Authentication required.".into());
    }
    if client.in_multi() && spec.has(flag::NO_MULTI) {
        return Err("ERR Command not allowed inside a transaction".into());
    }
    if client.user.as_ref().is_some_and(|u| !u.all_permissions) {
        let context = if client.in_multi() {
            crate::acl::log::Context::Multi
        } else {
            crate::acl::log::Context::Toplevel
        };
        crate::acl::gate::check(srv, client, entry, argv, context)
            .map_err(|r| crate::acl::gate::refusal_error(entry, r))?;
    }
    let queued = if is_exec(entry) {
        queued_flags(srv, client)
    } else {
        0
    };
    let may_grow = spec.has(flag::DENYOOM)
        || queued & flag::DENYOOM != 0
        || (client.in_multi()
            && !(entry.parent.is_none()
                && matches!(spec.name, "exec" | "discard" | "quit" | "reset")));
    if crate::evict::refuse_for_memory(srv, client.db, may_grow) {
        return Err(crate::evict::OOM.into());
    }
    let is_write = spec.has(flag::WRITE) || queued & flag::WRITE != 0;
    if is_write
        && !client.is_master
        && srv.state.replica.load(Ordering::Relaxed)
        && srv.cfg().replica_read_only
    {
        return Err("READONLY You can't write against a read only replica.".into());
    }
    if (is_write || spec.name == "ping") && !client.is_master && disk_error(srv) {
        return Err(MISCONF.into());
    }
    if is_write && !client.is_master {
        crate::replication::check_write_allowed(srv)?;
    }
    // EXEC is as stale-sensitive as the least tolerant command it would run.
    let queued_not_stale = is_exec(entry)
        && client.multi.as_ref().is_some_and(|q| {
            q.iter()
                .any(|c| !srv.commands.get(c.cmd_id).spec.has(flag::STALE))
        });
    if !spec.has(flag::STALE) || queued_not_stale {
        crate::replication::check_stale_allowed(srv)?;
    }
    let touches_keys = spec.flags & (flag::WRITE | flag::READONLY | flag::MAY_REPLICATE) != 0;
    if touches_keys && client.info.has_flag(cflag::MONITOR | cflag::REPLICA) {
        return Err("ERR Replica can't interact with the keyspace".into());
    }
    if client.info.has_flag(cflag::PUBSUB) && !client.info.resp_is_3() && !allowed_in_pubsub(entry)
    {
        return Err(crate::err!(
            "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            entry.fullname
        ));
    }
    if srv.state.loading.load(Ordering::Relaxed) && !spec.has(flag::LOADING) {
        return Err("LOADING Redis is loading the dataset in memory".into());
    }
    if srv.state.async_loading.load(Ordering::Relaxed) && spec.has(flag::NO_ASYNC_LOADING) {
        return Err("LOADING Redis is loading the dataset in memory".into());
    }
    if let Some(e) = srv.scripting.busy_error(srv, entry) {
        return Err(e);
    }
    Ok(())
}

pub const MISCONF: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";

/// True while writes are refused because the last background save failed (see
/// [`disk_error`]); scripts make the same check before their writes.
pub fn writes_refused_by_disk_error(srv: &Server) -> bool {
    disk_error(srv)
}

/// Writes (and PING) are refused while the last background save failed, save points are
/// configured and `stop-writes-on-bgsave-error` is on: the data would not be persisted.
fn disk_error(srv: &Server) -> bool {
    if !srv.state.bgsave_failed.load(Ordering::Relaxed) {
        return false;
    }
    let cfg = srv.cfg();
    cfg.stop_writes_on_bgsave_error && !cfg.save.0.is_empty()
}

fn check_protected(srv: &Server, client: &Client, entry: &CmdEntry) -> Result<(), CmdError> {
    let cfg = srv.cfg();
    let (name, setting) = match entry.spec.name {
        "debug" => ("DEBUG", cfg.enable_debug_command.as_str()),
        "module" => ("MODULE", cfg.enable_module_command.as_str()),
        _ => return Ok(()),
    };
    let allowed = setting == "yes" || (setting == "local" && client.is_local);
    if allowed {
        return Ok(());
    }
    let option = format!("enable-{}-command", name.to_ascii_lowercase());
    Err(crate::err!(
        "ERR {name} command not allowed. If the {option} option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server."
    ))
}

fn allowed_in_pubsub(entry: &CmdEntry) -> bool {
    matches!(
        entry.spec.name,
        "ping"
            | "subscribe"
            | "ssubscribe"
            | "unsubscribe"
            | "sunsubscribe"
            | "psubscribe"
            | "punsubscribe"
            | "quit"
            | "reset"
    )
}

fn is_exec(entry: &CmdEntry) -> bool {
    entry.parent.is_none() && entry.spec.name == "exec"
}

fn is_multi_control(entry: &CmdEntry) -> bool {
    entry.parent.is_none()
        && matches!(
            entry.spec.name,
            "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
        )
}

/// The union of the flags of the commands queued in MULTI.
fn queued_flags(srv: &Server, client: &Client) -> u64 {
    client.multi.as_ref().map_or(0, |q| {
        q.iter()
            .fold(0, |f, c| f | srv.commands.get(c.cmd_id).spec.flags)
    })
}

/// Replies with a rejection, counting it, and poisons an open MULTI.
fn reject(
    srv: &Server,
    client: &mut Client,
    reply: &mut ReplyBuf,
    entry: Option<&CmdEntry>,
    e: CmdError,
) {
    if let Some(entry) = entry {
        srv.stats.command_rejected(entry.id);
    }
    // A refused EXEC ends the transaction, saying why (Redis's execCommandAbort).
    let e = if client.in_multi() && entry.is_some_and(is_exec) {
        crate::cmd::transaction::discard_transaction(srv, client);
        CmdError::from(format!(
            "EXECABORT Transaction discarded because of: {}",
            e.text()
        ))
    } else {
        e
    };
    if client.in_multi() {
        client.multi_error = true;
    }
    srv.stats.count_error(e.code());
    if client.reply_mode == ReplyMode::On {
        reply.error(e.text());
    }
}

fn queue(client: &mut Client, reply: &mut ReplyBuf, entry: &CmdEntry, argv: Argv<'_>) {
    let queued = client.multi.as_mut().expect("in MULTI");
    queued.push(Queued {
        argv: argv.iter().map(<[u8]>::to_vec).collect(),
        cmd_id: entry.id,
    });
    // Redis counts a queued command as its argument bytes plus a pointer per argument.
    let mem = argv.total_bytes() + argv.len() * std::mem::size_of::<usize>();
    let info = &client.info;
    if queued.len() == 1 {
        info.multi_mem_bytes.store(mem, Ordering::Relaxed);
    } else {
        info.multi_mem_bytes.fetch_add(mem, Ordering::Relaxed);
    }
    info.multi_len.store(queued.len() as i64, Ordering::Relaxed);
    reply.simple("QUEUED");
}

/// Applies CLIENT REPLY OFF/SKIP: runs `f`, then drops what it wrote if replies are off.
fn track_reply_mode(
    client: &mut Client,
    reply: &mut ReplyBuf,
    f: impl FnOnce(&mut Client, &mut ReplyBuf),
) {
    let mode_before = client.reply_mode;
    if mode_before == ReplyMode::SkipNext {
        client.reply_mode = ReplyMode::Skip;
    }
    let mark = reply.len();
    f(client, reply);
    let suppress = matches!(mode_before, ReplyMode::Off | ReplyMode::SkipNext);
    if suppress && client.reply_mode != ReplyMode::On {
        let written = reply.as_bytes()[mark..].to_vec();
        reply.truncate(mark);
        for range in &client.pushed {
            reply.raw(&written[range.start - mark..range.end - mark]);
        }
    }
    client.pushed.clear();
    if client.reply_mode == ReplyMode::Skip {
        client.reply_mode = ReplyMode::On;
    }
}

/// How a command needs the keyspace.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Does not touch the keyspace.
    None,
    /// The shards of its declared keys.
    Keys,
    /// The whole keyspace, exclusively.
    Exclusive,
}

/// True if the command may change the keyspace.
/// A command that only looks keys up: no writes, no blocking (which registers interest in
/// keys), not a script (which may reach keys it did not declare).
fn plain_read(entry: &CmdEntry) -> bool {
    let spec = entry.spec;
    spec.has(flag::READONLY)
        && !spec.has(flag::WRITE | flag::MAY_REPLICATE | flag::BLOCKING | flag::NOSCRIPT)
}

fn writes_of(entry: &CmdEntry) -> bool {
    entry.spec.has(flag::WRITE) || entry.spec.has(flag::MAY_REPLICATE)
}

fn access_of(entry: &CmdEntry) -> Access {
    let spec = entry.spec;
    if spec.has(flag::EXCLUSIVE) {
        Access::Exclusive
    } else if spec.has(flag::NO_KEYSPACE) {
        Access::None
    } else {
        Access::Keys
    }
}

/// Runs one command outside MULTI: its own transaction, effects committed at the end.
fn run(srv: &Server, client: &mut Client, reply: &mut ReplyBuf, entry: &CmdEntry, argv: Argv<'_>) {
    let (started_us, started_ticks) = match &client.batch_clock {
        Some(clock) => (clock.wall_us_at(clock.last_ticks), clock.last_ticks),
        None => (unix_us(), clock::now_ticks()),
    };
    let now_ms = started_us / 1000;
    let ks = &srv.keyspace;
    let writes = writes_of(entry);
    let access = access_of(entry);
    // A command holding the whole keyspace keeps every other from running.
    let _busy = (access == Access::Exclusive)
        .then(|| {
            srv.watchdog
                .busy(srv, || format!("the command '{}'", entry.fullname))
        })
        .flatten();
    let mut txn = match access {
        Access::Exclusive => Txn::exclusive(ks, client.db, now_ms),
        Access::None => Txn::detached(ks, client.db, now_ms),
        Access::Keys => {
            let mut txn = Txn::shared(ks, client.db, now_ms);
            // Before locking: a write command's shards go to a running snapshot as they
            // are locked, whatever the handler then changes in place.
            txn.writes = writes;
            let db = client.db;
            if plain_read(entry) && txn.assume_empty_if_so(db) {
                txn
            } else {
                txn.lock_keys(
                    key_positions(entry.spec, argv)
                        .iter()
                        .map(|&i| (db, argv.get(i))),
                );
                txn
            }
        }
    };
    txn.replica = srv.keeps_expired_keys();
    txn.writes = writes;
    if client.is_master {
        txn.exclude_targets = crate::propagate::target::REPLICAS;
        txn.from_master = true;
    }
    let failed = invoke(srv, client, reply, &mut txn, entry, argv);
    let ready = commit(srv, &mut txn, entry, argv, 0, false);
    drop(txn);
    if writes && !client.is_master && srv.state.replica.load(Ordering::Relaxed) {
        srv.replication.local_keys.note(srv, client.db, entry, argv);
    }
    account(srv, client, entry, argv, started_ticks, failed);
    super::blocked::serve_ready(srv, ready);
}

/// Calls the handler; returns true if it replied with an error.
pub(super) fn invoke(
    srv: &Server,
    client: &mut Client,
    reply: &mut ReplyBuf,
    txn: &mut Txn<'_>,
    entry: &CmdEntry,
    argv: Argv<'_>,
) -> bool {
    let mut ctx = Ctx {
        srv,
        client,
        reply,
        txn,
        cmd: entry,
    };
    match (entry.spec.handler)(&mut ctx, argv) {
        Ok(()) => false,
        Err(e) => {
            srv.stats.count_error(e.code());
            srv.stats.command_failed(entry.id);
            reply.error(e.text());
            true
        }
    }
}

/// Records the default propagation of a command that changed something (`dirty` grew past
/// `dirty_before`) and, outside MULTI, publishes the effects. Called with the shard locks
/// still held.
/// Returns the keys that became ready for blocked clients (when it published the effects).
pub(super) fn commit(
    srv: &Server,
    txn: &mut Txn<'_>,
    entry: &CmdEntry,
    argv: Argv<'_>,
    dirty_before: u64,
    in_multi: bool,
) -> Vec<(usize, Vec<u8>)> {
    let fx = &mut txn.effects;
    // With no consumer there is nothing to encode. Sinks are added before the snapshot
    // barrier their stream starts from, so what is skipped here is in that snapshot.
    if fx.dirty > dirty_before
        && !fx.rewritten
        && srv.propagator.is_active()
        && (entry.spec.has(flag::WRITE) || entry.spec.has(flag::MAY_REPLICATE))
    {
        let mut cmd = Vec::with_capacity(argv.total_bytes() + 16 * argv.len());
        let args: smallvec::SmallVec<[&[u8]; 8]> = argv.iter().collect();
        encode_command(&args, &mut cmd);
        fx.propagate
            .push(crate::keyspace::txn::Propagated::everywhere(txn.db, cmd));
    }
    fx.rewritten = false;
    if in_multi {
        return Vec::new();
    }
    flush_effects(srv, txn, false)
}

/// Sends accumulated effects to the propagation point and the notification channels.
/// Returns the keys that became ready for blocked clients.
pub fn flush_effects(srv: &Server, txn: &mut Txn<'_>, multi: bool) -> Vec<(usize, Vec<u8>)> {
    let fx = std::mem::take(&mut txn.effects);
    srv.propagator
        .feed(&fx.propagate, multi || fx.wrap_multi, txn.exclude_targets);
    let stats = &srv.stats;
    stats.add(|c| &c.dirty, fx.dirty);
    stats.add(|c| &c.expired_keys, fx.expired);
    stats.add(|c| &c.keyspace_hits, fx.hits);
    stats.add(|c| &c.keyspace_misses, fx.misses);
    srv.publish_events(&fx.events);
    fx.ready_keys
}

/// Commandstats, slowlog and latency monitor for one call, timed in microseconds by the
/// command clock from `started_ticks`.
fn account(
    srv: &Server,
    client: &mut Client,
    entry: &CmdEntry,
    argv: Argv<'_>,
    started_ticks: u64,
    _failed: bool,
) {
    let redacted = std::mem::take(&mut client.redacted_args);
    let ended_ticks = clock::now_ticks();
    if let Some(batch) = &mut client.batch_clock {
        batch.command_ended(ended_ticks);
    }
    let usec = clock::ticks_to_us(ended_ticks.saturating_sub(started_ticks));
    srv.stats.command(entry.id, usec);
    let cfg = *client.accounting.current(srv);
    if cfg.latency_tracking {
        srv.stats.record_latency(entry.id, usec);
    }
    let threshold = cfg.slowlog_log_slower_than_us;
    if threshold >= 0 && usec as i64 >= threshold && !entry.spec.has(flag::SKIP_SLOWLOG) {
        let name = client.info.name.lock().clone().unwrap_or_default();
        let peer = client.info.addr.clone();
        let args = argv.iter().enumerate().map(|(i, a)| {
            if redacted.contains(&i) {
                b"(redacted)".to_vec()
            } else {
                a.to_vec()
            }
        });
        srv.slowlog
            .push(args, usec, peer, name, cfg.slowlog_max_len as usize);
    }
    let latency_ms = usec / 1000;
    let monitor_ms = cfg.latency_monitor_threshold_ms;
    if monitor_ms > 0 && latency_ms as i64 >= monitor_ms {
        let event = if entry.spec.has(flag::FAST) {
            "fast-command"
        } else {
            "command"
        };
        srv.latency.add(event, latency_ms);
    }
    // Administrative commands are not shown: their arguments may be secrets.
    let hidden = entry.spec.has(flag::SKIP_MONITOR | flag::ADMIN);
    if srv.monitors.is_active() && !hidden && !srv.state.loading.load(Ordering::Relaxed) {
        srv.monitors
            .feed(client.db, &client.info.monitor_source(), argv.iter());
    }
}

// ---- Loading the AOF ---------------------------------------------------------------------

/// Runs a command read from the AOF on the loader's fake client, inside the loader's
/// exclusive transaction: no client checks (the file is trusted as Redis trusts it), and
/// nothing reaches the propagation point or the statistics. A command with a wrong arity,
/// and administrative commands, are skipped; handler errors are ignored, as Redis ignores
/// them.
pub fn run_loaded(
    srv: &Server,
    client: &mut Client,
    reply: &mut ReplyBuf,
    txn: &mut Txn<'_>,
    args: &[&[u8]],
) {
    let mut base = Vec::new();
    let mut ranges = Vec::with_capacity(args.len());
    for a in args {
        let start = base.len();
        base.extend_from_slice(a);
        ranges.push(start..base.len());
    }
    let argv = Argv::new(&base, &ranges);
    let Ok(entry) = resolve(srv, argv) else {
        return;
    };
    if entry.spec.has(flag::ADMIN) {
        // Never written to an AOF; run from one, DEBUG LOADAOF or SHUTDOWN would recurse or
        // stop the load.
        return;
    }
    txn.db = client.db;
    txn.writes = true;
    txn.loading = true;
    let mut ctx = Ctx {
        srv,
        client,
        reply,
        txn,
        cmd: entry,
    };
    let _ = (entry.spec.handler)(&mut ctx, argv);
    txn.loading = false;
    let fx = std::mem::take(&mut txn.effects);
    srv.stats.add(|c| &c.expired_keys, fx.expired);
    txn.release_shards();
}

// ---- Scripts ------------------------------------------------------------------------------

/// Finds the command a script calls (`None`: unknown command or subcommand).
pub fn script_lookup<'s>(srv: &'s Server, argv: Argv<'_>) -> Option<&'s CmdEntry> {
    lookup(srv, argv).ok()
}

/// Runs a command a script calls, inside the script's transaction: the handler, its
/// effects recorded for the script's commit, and its accounting. Returns true if it
/// replied with an error.
pub fn run_for_script(
    srv: &Server,
    client: &mut Client,
    reply: &mut ReplyBuf,
    txn: &mut Txn<'_>,
    entry: &CmdEntry,
    argv: Argv<'_>,
) -> bool {
    let started_ticks = clock::now_ticks();
    txn.db = client.db;
    let dirty_before = txn.effects.dirty;
    let failed = invoke(srv, client, reply, txn, entry, argv);
    commit(srv, txn, entry, argv, dirty_before, true);
    account(srv, client, entry, argv, started_ticks, failed);
    failed
}

// ---- MULTI / EXEC ------------------------------------------------------------------------

/// EXEC: runs the queued commands atomically. Called by the EXEC handler, since it needs
/// the transaction machinery of the gate. An error (no MULTI, or a transaction poisoned by
/// a queuing error) is returned for the handler to reply with, so EXEC counts as failed.
pub fn exec(srv: &Server, client: &mut Client, reply: &mut ReplyBuf) -> Result<(), CmdError> {
    let Some(queued) = client.multi.take() else {
        return Err("ERR EXEC without MULTI".into());
    };
    client.info.multi_len.store(-1, Ordering::Relaxed);
    client.info.set_flag(cflag::MULTI, false);
    if std::mem::take(&mut client.multi_error) {
        crate::cmd::transaction::unwatch_all(srv, client);
        return Err("EXECABORT Transaction discarded because of previous errors.".into());
    }
    let now_ms = unix_us() / 1000;
    let mut txn = open_exec_txn(srv, client, &queued, now_ms);
    txn.replica = srv.keeps_expired_keys();
    txn.from_master = client.is_master;
    if crate::cmd::transaction::watch_broken(srv, client, &mut txn) {
        drop(txn);
        crate::cmd::transaction::unwatch_all(srv, client);
        reply.null_array();
        return Ok(());
    }
    reply.array(queued.len());
    let deny_blocking_before = std::mem::replace(&mut client.deny_blocking, true);
    let mut base = Vec::new();
    let mut ranges = Vec::new();
    for q in &queued {
        base.clear();
        ranges.clear();
        for a in &q.argv {
            let start = base.len();
            base.extend_from_slice(a);
            ranges.push(start..base.len());
        }
        let argv = Argv::new(&base, &ranges);
        let entry = srv.commands.get(q.cmd_id);
        txn.db = client.db;
        let started_ticks = clock::now_ticks();
        let dirty_before = txn.effects.dirty;
        let failed = invoke(srv, client, reply, &mut txn, entry, argv);
        commit(srv, &mut txn, entry, argv, dirty_before, true);
        account(srv, client, entry, argv, started_ticks, failed);
    }
    client.deny_blocking = deny_blocking_before;
    let ready = flush_effects(srv, &mut txn, true);
    drop(txn);
    crate::cmd::transaction::unwatch_all(srv, client);
    super::blocked::serve_ready(srv, ready);
    Ok(())
}

/// Locks what a transaction needs: the shards of every queued command's keys (following
/// SELECTs) and of the watched keys, or the whole keyspace if any command needs it.
fn open_exec_txn<'a>(srv: &'a Server, client: &Client, queued: &[Queued], now_ms: i64) -> Txn<'a> {
    let mut db = client.db;
    let mut keys: Vec<(usize, Vec<u8>)> = client
        .watched
        .iter()
        .map(|w| (w.db, w.key.clone()))
        .collect();
    let mut exclusive = false;
    let mut base = Vec::new();
    let mut ranges = Vec::new();
    for q in queued {
        let entry = srv.commands.get(q.cmd_id);
        let spec = entry.spec;
        if spec.has(flag::EXCLUSIVE) || spec.has(flag::WALKS_SLOTS) {
            exclusive = true;
            break;
        }
        base.clear();
        ranges.clear();
        for a in &q.argv {
            let start = base.len();
            base.extend_from_slice(a);
            ranges.push(start..base.len());
        }
        let argv = Argv::new(&base, &ranges);
        if spec.name == "select" {
            match rudis_resp::number::parse_i64(argv.get(1)) {
                Some(n) if n >= 0 && (n as usize) < srv.keyspace.db_count() => db = n as usize,
                _ => {}
            }
        }
        if spec.name == "move" || spec.name == "copy" || spec.name == "swapdb" {
            exclusive = true;
            break;
        }
        keys.extend(
            key_positions(spec, argv)
                .iter()
                .map(|&i| (db, argv.get(i).to_vec())),
        );
    }
    let writes = queued.iter().any(|q| {
        let spec = srv.commands.get(q.cmd_id).spec;
        spec.has(flag::WRITE) || spec.has(flag::MAY_REPLICATE)
    });
    if exclusive {
        let mut txn = Txn::exclusive(&srv.keyspace, client.db, now_ms);
        txn.writes = writes;
        return txn;
    }
    let mut txn = Txn::shared(&srv.keyspace, client.db, now_ms);
    txn.writes = writes;
    txn.lock_keys(keys.iter().map(|(db, k)| (*db, k.as_slice())));
    txn
}
