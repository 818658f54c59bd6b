//! CLIENT and its subcommands: naming and listing connections (LIST, INFO, ID, SETNAME,
//! GETNAME), killing them (KILL), pausing everyone (PAUSE, UNPAUSE), and per-connection modes
//! (REPLY, NO-EVICT, and the client-side caching family, which this server does not offer yet:
//! TRACKING ON is refused and the rest answer as Redis does with tracking off).
//!
//! CLIENT LIST lines carry every field of Redis 7.0, computed from [`ClientInfo`], the part of
//! a connection's state other connections can read.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use rudis_resp::Argv;

use super::util::{int_arg, is, reply_help, subcommand_syntax_error, text, validate_client_name};
use crate::command::error::{CmdError, SYNTAX};
use crate::command::spec::{acl, flag, CommandSpec};
use crate::command::{CmdResult, Ctx};
use crate::keyspace::blocking::WaitState;
use crate::server::client::{cflag, Client, ClientInfo, ClientType, ReplyMode, NO_COMMAND};
use crate::server::{unix_ms, Server};

const BASE: u64 = flag::NOSCRIPT | flag::LOADING | flag::STALE | flag::SENTINEL | flag::NO_KEYSPACE;
const ADMIN: u64 = BASE | flag::ADMIN;
const CONN: u64 = acl::CONNECTION;

pub static COMMANDS: &[CommandSpec] = &[CommandSpec::new("client", -2, container)
    .subcommands(&[
        CommandSpec::new("caching", 3, client_caching)
            .flags(BASE)
            .acl(CONN)
            .doc("connection", "Instruct the server about tracking or not keys in the next request", "6.0.0", "O(1)"),
        CommandSpec::new("getname", 2, client_getname)
            .flags(BASE)
            .acl(CONN)
            .doc("connection", "Get the current connection name", "2.6.9", "O(1)"),
        CommandSpec::new("getredir", 2, client_getredir)
            .flags(BASE)
            .acl(CONN)
            .doc("connection", "Get tracking notifications redirection client ID if any", "6.0.0", "O(1)"),
        CommandSpec::new("help", 2, client_help)
            .flags(flag::LOADING | flag::STALE | flag::SENTINEL | flag::NO_KEYSPACE)
            .acl(CONN)
            .doc("connection", "Show helpful text about the different subcommands", "5.0.0", "O(1)"),
        CommandSpec::new("id", 2, client_id)
            .flags(BASE)
            .acl(CONN)
            .doc("connection", "Returns the client ID for the current connection", "5.0.0", "O(1)"),
        CommandSpec::new("info", 2, client_info)
            .flags(BASE)
            .acl(CONN)
            .tips(&["nondeterministic_output"])
            .doc("connection", "Returns information about the current client connection.", "6.2.0", "O(1)"),
        CommandSpec::new("kill", -3, client_kill)
            .flags(ADMIN)
            .acl(CONN)
            .doc("connection", "Kill the connection of a client", "2.4.0", "O(N) where N is the number of client connections"),
        CommandSpec::new("list", -2, client_list)
            .flags(ADMIN)
            .acl(CONN)
            .tips(&["nondeterministic_output"])
            .doc("connection", "Get the list of client connections", "2.4.0", "O(N) where N is the number of client connections"),
        CommandSpec::new("no-evict", 3, client_no_evict)
            .flags(ADMIN)
            .acl(CONN)
            .doc("connection", "Set client eviction mode for the current connection", "7.0.0", "O(1)"),
        CommandSpec::new("pause", -3, client_pause)
            .flags(ADMIN)
            .acl(CONN)
            .doc("connection", "Stop processing commands from clients for some time", "2.9.50", "O(1)"),
        CommandSpec::new("reply", 3, client_reply)
            .flags(BASE)
            .acl(CONN)
            .doc("connection", "Instruct the server whether to reply to commands", "3.2.0", "O(1)"),
        CommandSpec::new("setname", 3, client_setname)
            .flags(BASE)
            .acl(CONN)
            .doc("connection", "Set the current connection name", "2.6.9", "O(1)"),
        CommandSpec::new("tracking", -3, client_tracking)
            .flags(BASE)
            .acl(CONN)
            .doc("connection", "Enable or disable server assisted client side caching support", "6.0.0", "O(1). Some options may introduce additional complexity."),
        CommandSpec::new("trackinginfo", 2, client_trackinginfo)
            .flags(BASE)
            .acl(CONN)
            .doc("connection", "Return information about server assisted client side caching for the current connection", "6.2.0", "O(1)"),
        CommandSpec::new("unblock", -3, client_unblock)
            .flags(ADMIN)
            .acl(CONN)
            .doc("connection", "Unblock a client blocked in a blocking command from a different connection", "5.0.0", "O(log N) where N is the number of client connections"),
        CommandSpec::new("unpause", 2, client_unpause)
            .flags(ADMIN)
            .acl(CONN)
            .doc("connection", "Resume processing of clients that were paused", "6.2.0", "O(N) Where N is the number of paused clients"),
    ])
    .flags(flag::SENTINEL | flag::NO_KEYSPACE)
    .doc("connection", "A container for client connection commands", "2.4.0", "Depends on subcommand.")];

/// The container itself never runs: the gate resolves a subcommand or rejects the arity.
fn container(_ctx: &mut Ctx, argv: Argv) -> CmdResult {
    Err(subcommand_syntax_error(argv))
}

/// CLIENT HELP
fn client_help(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    reply_help(ctx.reply, argv.get(0), HELP);
    Ok(())
}

const HELP: &[&str] = &[
    "CACHING (YES|NO)",
    "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
    "GETREDIR",
    "    Return the client ID we are redirecting to when tracking is enabled.",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]",
    "    Control server assisted client side caching.",
    "TRACKINGINFO",
    "    Report tracking status for the current connection.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
];

// ---- Identity ------------------------------------------------------------------------------

/// CLIENT ID
fn client_id(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    ctx.reply.int(ctx.client.id() as i64);
    Ok(())
}

/// CLIENT SETNAME connection-name
fn client_setname(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let name = argv.get(2);
    validate_client_name(name)?;
    // An empty name removes the name.
    *ctx.client.info.name.lock() = (!name.is_empty()).then(|| name.to_vec());
    ctx.reply.ok();
    Ok(())
}

/// CLIENT GETNAME
fn client_getname(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    match ctx.client.info.name.lock().as_deref() {
        Some(name) => ctx.reply.bulk(name),
        None => ctx.reply.null(),
    }
    Ok(())
}

// ---- LIST, INFO ----------------------------------------------------------------------------

/// The CLIENT INFO line of `client` (ACL LOG's `client-info`).
pub fn info_line(srv: &Server, client: &Client, argv: Argv) -> String {
    let mut out = String::new();
    describe(
        srv,
        &client.info,
        &Caller::of(client, argv),
        unix_ms(),
        &mut out,
    );
    out
}

/// CLIENT INFO
fn client_info(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let mut out = String::new();
    let caller = Caller::of(ctx.client, argv);
    describe(ctx.srv, &ctx.client.info, &caller, unix_ms(), &mut out);
    out.push('\n');
    ctx.reply.verbatim("txt", out.as_bytes());
    Ok(())
}

/// CLIENT LIST [TYPE NORMAL|MASTER|REPLICA|PUBSUB] [ID client-id [client-id ...]]
fn client_list(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let srv = ctx.srv;
    let caller = Caller::of(ctx.client, argv);
    let now_ms = unix_ms();
    let mut out = String::new();
    if argv.len() == 4 && is(argv.get(2), "type") {
        let wanted = parse_type(argv.get(3))?;
        for info in srv.clients.snapshot() {
            if info.client_type() == wanted {
                describe(srv, &info, &caller, now_ms, &mut out);
                out.push('\n');
            }
        }
    } else if argv.len() > 3 && is(argv.get(2), "id") {
        let ids: Vec<i64> = argv
            .iter()
            .skip(3)
            .map(|a| int_arg(a).map_err(|_| CmdError::from("ERR Invalid client ID")))
            .collect::<Result<_, _>>()?;
        for id in ids {
            if let Some(info) = u64::try_from(id).ok().and_then(|id| srv.clients.get(id)) {
                describe(srv, &info, &caller, now_ms, &mut out);
                out.push('\n');
            }
        }
    } else if argv.len() != 2 {
        return Err(SYNTAX);
    } else {
        for info in srv.clients.snapshot() {
            describe(srv, &info, &caller, now_ms, &mut out);
            out.push('\n');
        }
    }
    ctx.reply.verbatim("txt", out.as_bytes());
    Ok(())
}

fn parse_type(name: &[u8]) -> Result<ClientType, CmdError> {
    ClientType::from_name(name)
        .ok_or_else(|| crate::err!("ERR Unknown client type '{}'", text(name)))
}

/// What only the calling connection knows about itself: the arguments it is running.
struct Caller {
    id: u64,
    argv_bytes: usize,
}

impl Caller {
    fn of(client: &Client, argv: Argv) -> Caller {
        Caller {
            id: client.id(),
            argv_bytes: argv.total_bytes(),
        }
    }
}

/// Bytes a reply buffer holds before Redis counts output as a reply list (`obl` vs `oll`).
const REPLY_CHUNK_BYTES: usize = 16 * 1024;

/// The CLIENT LIST line of `info` (without the newline), as the log names a client.
pub(crate) fn log_line(srv: &Server, info: &ClientInfo) -> String {
    let mut out = String::new();
    let nobody = Caller {
        id: 0,
        argv_bytes: 0,
    };
    describe(srv, info, &nobody, crate::server::unix_ms(), &mut out);
    out
}

/// Appends one CLIENT LIST line (without the newline) for `info`.
fn describe(srv: &Server, info: &ClientInfo, caller: &Caller, now_ms: i64, out: &mut String) {
    let is_caller = info.id == caller.id;
    let load = |a: &std::sync::atomic::AtomicUsize| a.load(Ordering::Relaxed);
    let (qbuf, qbuf_free) = (
        load(&info.query_buf_bytes),
        load(&info.query_buf_free_bytes),
    );
    let argv_mem = if is_caller { caller.argv_bytes } else { 0 };
    let multi = info.multi_len.load(Ordering::Relaxed);
    let multi_mem = if multi >= 0 {
        load(&info.multi_mem_bytes)
    } else {
        0
    };
    let pending = info.pending_output_bytes();
    // Pending output fills a first chunk (obl), then a list of chunks (oll, omem).
    let obl = pending.min(REPLY_CHUNK_BYTES);
    let omem = pending - obl;
    let oll = omem.div_ceil(REPLY_CHUNK_BYTES);
    let tot_mem = info.memory_bytes() + argv_mem;
    let name = info.name.lock().clone().unwrap_or_default();
    let cmd = match load(&info.last_cmd_id) {
        NO_COMMAND => "NULL",
        id => srv.commands.get(id).fullname.as_str(),
    };
    let _ = write!(
        out,
        "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} \
         ssub={} multi={} qbuf={} qbuf-free={} argv-mem={} multi-mem={} rbs={} rbp={} obl={} \
         oll={} omem={} tot-mem={} events={} cmd={} user={} redir=-1 resp={}",
        info.id,
        info.addr,
        info.laddr,
        info.fd,
        String::from_utf8_lossy(&name),
        (now_ms - info.created_ms).max(0) / 1000,
        (now_ms - info.last_interaction_ms.load(Ordering::Relaxed)).max(0) / 1000,
        flag_letters(info),
        load(&info.db),
        load(&info.subscriptions),
        load(&info.pattern_subscriptions),
        load(&info.shard_subscriptions),
        multi,
        qbuf,
        qbuf_free,
        argv_mem,
        multi_mem,
        load(&info.reply_buf_bytes),
        load(&info.reply_buf_peak_bytes),
        obl,
        oll,
        omem,
        tot_mem,
        if pending > 0 { "rw" } else { "r" },
        cmd,
        info.user.lock(),
        load(&info.resp),
    );
}

/// CLIENT LIST `flags=`, in Redis's order; `N` when none applies.
fn flag_letters(info: &ClientInfo) -> String {
    let f = info.flags.load(Ordering::Relaxed);
    let mut s = String::new();
    if f & cflag::MONITOR != 0 {
        s.push('O');
    } else if f & cflag::REPLICA != 0 {
        s.push('S');
    }
    let in_multi = f & cflag::MULTI != 0 || info.multi_len.load(Ordering::Relaxed) >= 0;
    for (on, letter) in [
        (f & cflag::MASTER != 0, 'M'),
        (f & cflag::PUBSUB != 0, 'P'),
        (in_multi, 'x'),
        (f & cflag::BLOCKED != 0, 'b'),
        (f & cflag::TRACKING != 0, 't'),
        (f & cflag::DIRTY_CAS != 0, 'd'),
        (f & cflag::CLOSE_AFTER_REPLY != 0, 'c'),
        (f & cflag::UNBLOCKED != 0, 'u'),
        (info.is_killed(), 'A'),
        (f & cflag::UNIX_SOCKET != 0, 'U'),
        (f & cflag::READONLY != 0, 'r'),
        (f & cflag::NO_EVICT != 0, 'e'),
    ] {
        if on {
            s.push(letter);
        }
    }
    if s.is_empty() {
        s.push('N');
    }
    s
}

// ---- KILL ----------------------------------------------------------------------------------

/// Which clients CLIENT KILL closes: all the given conditions must hold.
struct KillFilter {
    addr: Option<String>,
    laddr: Option<String>,
    id: Option<u64>,
    client_type: Option<ClientType>,
    user: Option<String>,
    /// Only clients connected for longer than this many seconds.
    max_age_s: Option<i64>,
    skip_me: bool,
}

impl KillFilter {
    fn matches(&self, info: &ClientInfo, me: u64, now_ms: i64) -> bool {
        self.addr.as_ref().is_none_or(|a| *a == info.addr)
            && self.laddr.as_ref().is_none_or(|a| *a == info.laddr)
            && self.id.is_none_or(|id| id == info.id)
            && self.client_type.is_none_or(|t| t == info.client_type())
            && self.user.as_ref().is_none_or(|u| *u == *info.user.lock())
            && self
                .max_age_s
                .is_none_or(|max| (now_ms - info.created_ms) / 1000 > max)
            && !(self.skip_me && info.id == me)
    }
}

/// Parses the filter form: `ID id | TYPE type | ADDR ip:port | LADDR ip:port | USER name |
/// SKIPME yes/no | MAXAGE seconds`, repeated. (MAXAGE comes from later Redis versions.)
fn parse_kill_filter(srv: &Server, argv: Argv) -> Result<KillFilter, CmdError> {
    let mut f = KillFilter {
        addr: None,
        laddr: None,
        id: None,
        client_type: None,
        user: None,
        max_age_s: None,
        skip_me: true,
    };
    let mut i = 2;
    while i < argv.len() {
        let (option, value) = (argv.get(i), argv.try_get(i + 1).ok_or(SYNTAX)?);
        if is(option, "id") {
            let id = int_arg(value).ok().filter(|id| *id > 0);
            let id = id.ok_or("ERR client-id should be greater than 0")?;
            f.id = Some(id as u64);
        } else if is(option, "type") {
            f.client_type = Some(parse_type(value)?);
        } else if is(option, "addr") {
            f.addr = Some(text(value));
        } else if is(option, "laddr") {
            f.laddr = Some(text(value));
        } else if is(option, "user") {
            if srv.acl.get(&text(value)).is_none() {
                return Err(crate::err!("ERR No such user '{}'", text(value)));
            }
            f.user = Some(text(value));
        } else if is(option, "skipme") {
            f.skip_me = match () {
                _ if is(value, "yes") => true,
                _ if is(value, "no") => false,
                _ => return Err(SYNTAX),
            };
        } else if is(option, "maxage") {
            f.max_age_s = Some(int_arg(value)?).filter(|max| *max != 0);
        } else {
            return Err(SYNTAX);
        }
        i += 2;
    }
    Ok(f)
}

/// CLIENT KILL ip:port | CLIENT KILL filter value [filter value ...]
fn client_kill(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let old_form = argv.len() == 3;
    let filter = if old_form {
        KillFilter {
            addr: Some(text(argv.get(2))),
            laddr: None,
            id: None,
            client_type: None,
            user: None,
            max_age_s: None,
            // With the old form a client may kill itself.
            skip_me: false,
        }
    } else {
        parse_kill_filter(ctx.srv, argv)?
    };
    let me = ctx.client.id();
    let now_ms = unix_ms();
    let mut killed = 0;
    for info in ctx.srv.clients.snapshot() {
        // A client already closing is gone as far as Redis's client list is concerned.
        if info.is_killed() || !filter.matches(&info, me, now_ms) {
            continue;
        }
        if info.id == me {
            ctx.client.close_after_reply = true;
        } else {
            info.request_kill();
            // A replica's link closes now, as Redis frees the client within the command.
            ctx.srv.replication.cut_replica(info.id);
        }
        killed += 1;
    }
    match (old_form, killed) {
        (true, 0) => return Err("ERR No such client".into()),
        (true, _) => ctx.reply.ok(),
        (false, n) => ctx.reply.int(n),
    }
    Ok(())
}

// ---- PAUSE, UNPAUSE, UNBLOCK ---------------------------------------------------------------

/// CLIENT PAUSE timeout [WRITE | ALL]
fn client_pause(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    if argv.len() > 4 {
        return Err(subcommand_syntax_error(argv));
    }
    let writes_only = match argv.try_get(3) {
        None => false,
        Some(m) if is(m, "write") => true,
        Some(m) if is(m, "all") => false,
        Some(_) => return Err("ERR CLIENT PAUSE mode must be WRITE or ALL".into()),
    };
    let timeout_ms = int_arg(argv.get(2))
        .map_err(|_| CmdError::from("ERR timeout is not an integer or out of range"))?;
    if timeout_ms < 0 {
        return Err("ERR timeout is negative".into());
    }
    // A zero timeout pauses until now, that is, not at all.
    let end_ms = if timeout_ms > 0 {
        unix_ms().saturating_add(timeout_ms)
    } else {
        0
    };
    pause_clients(ctx.srv, end_ms, writes_only);
    ctx.reply.ok();
    Ok(())
}

/// Pauses clients until `end_ms`. A pause already running is extended, never shortened,
/// and keeps the stricter of the two modes.
pub fn pause_clients(srv: &Server, end_ms: i64, writes_only: bool) {
    let state = &srv.state;
    let current_end_ms = state.paused_until_ms.load(Ordering::Acquire);
    let (end_ms, writes_only) = if current_end_ms > unix_ms() {
        let current_writes_only = state.pause_writes_only.load(Ordering::Acquire);
        (
            end_ms.max(current_end_ms),
            writes_only && current_writes_only,
        )
    } else {
        (end_ms, writes_only)
    };
    // The mode first: a held client that wakes early sees the new mode with the old end.
    state
        .pause_writes_only
        .store(writes_only, Ordering::Release);
    state.paused_until_ms.store(end_ms, Ordering::Release);
    state.pause_changed.notify_waiters();
}

/// Ends any client pause and wakes the held clients.
pub fn unpause_clients(srv: &Server) {
    srv.state.paused_until_ms.store(0, Ordering::Release);
    srv.state.pause_writes_only.store(false, Ordering::Release);
    srv.state.pause_changed.notify_waiters();
}

/// CLIENT UNPAUSE
fn client_unpause(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    unpause_clients(ctx.srv);
    ctx.reply.ok();
    Ok(())
}

/// CLIENT UNBLOCK client-id [TIMEOUT | ERROR]: ends a client's blocking command as if it
/// timed out, or with an UNBLOCKED error. Replies 1 if the client was blocked on keys.
fn client_unblock(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    if argv.len() > 4 {
        return Err(subcommand_syntax_error(argv));
    }
    let mut outcome = WaitState::TimedOut;
    if let Some(reason) = argv.try_get(3) {
        if is(reason, "error") {
            outcome = WaitState::Unblocked;
        } else if !is(reason, "timeout") {
            return Err("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR".into());
        }
    }
    let id = int_arg(argv.get(2))?;
    let waiter = u64::try_from(id)
        .ok()
        .and_then(|id| ctx.srv.blocked.get(id));
    let unblocked = waiter.as_ref().is_some_and(|w| w.finish(outcome.clone()));
    if let (true, Some(w)) = (unblocked, waiter) {
        // Redis counts the interrupted command as failed either way; an ERROR reply counts as
        // an error reply given during this CLIENT UNBLOCK, which so counts as failed too.
        let stats = &ctx.srv.stats;
        stats.command_failed(w.cmd_id);
        if outcome == WaitState::Unblocked {
            stats.count_error("UNBLOCKED");
            stats.command_failed(ctx.cmd.id);
        }
    }
    ctx.reply.int(i64::from(unblocked));
    Ok(())
}

// ---- Per-connection modes ------------------------------------------------------------------

/// CLIENT REPLY ON | OFF | SKIP. The gate drops the replies while OFF or SKIP applies.
fn client_reply(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let mode = argv.get(2);
    if is(mode, "on") {
        ctx.client.reply_mode = ReplyMode::On;
        ctx.reply.ok();
    } else if is(mode, "off") {
        ctx.client.reply_mode = ReplyMode::Off;
    } else if is(mode, "skip") {
        if ctx.client.reply_mode != ReplyMode::Off {
            ctx.client.reply_mode = ReplyMode::SkipNext;
        }
    } else {
        return Err(SYNTAX);
    }
    Ok(())
}

/// CLIENT NO-EVICT ON | OFF
fn client_no_evict(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let on = match argv.get(2) {
        m if is(m, "on") => true,
        m if is(m, "off") => false,
        _ => return Err(SYNTAX),
    };
    ctx.client.info.set_flag(cflag::NO_EVICT, on);
    ctx.reply.ok();
    Ok(())
}

/// CLIENT TRACKING ON | OFF [REDIRECT client-id] [PREFIX prefix [PREFIX prefix ...]] [BCAST]
/// [OPTIN] [OPTOUT] [NOLOOP]
///
/// Options are checked as Redis checks them; then OFF succeeds (tracking is never on) and
/// ON is refused, as client-side caching is not offered yet.
fn client_tracking(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let (mut redirect, mut bcast, mut prefixes) = (None, false, 0);
    let mut i = 3;
    while i < argv.len() {
        let option = argv.get(i);
        let has_value = i + 1 < argv.len();
        if is(option, "redirect") && has_value {
            i += 1;
            if redirect.is_some() {
                return Err("ERR A client can only redirect to a single other client".into());
            }
            let id = int_arg(argv.get(i))?;
            if u64::try_from(id)
                .ok()
                .and_then(|id| ctx.srv.clients.get(id))
                .is_none()
            {
                return Err("ERR The client ID you want redirect to does not exist".into());
            }
            redirect = Some(id);
        } else if is(option, "prefix") && has_value {
            i += 1;
            prefixes += 1;
        } else if is(option, "bcast") {
            bcast = true;
        } else if !(is(option, "optin") || is(option, "optout") || is(option, "noloop")) {
            return Err(SYNTAX);
        }
        i += 1;
    }
    let mode = argv.get(2);
    if is(mode, "on") {
        if !bcast && prefixes > 0 {
            return Err("ERR PREFIX option requires BCAST mode to be enabled".into());
        }
        return Err(
            "ERR client-side caching (CLIENT TRACKING ON) is not supported by this server".into(),
        );
    }
    if !is(mode, "off") {
        return Err(SYNTAX);
    }
    ctx.reply.ok();
    Ok(())
}

/// CLIENT CACHING YES | NO: only valid while tracking, which is never on.
fn client_caching(_ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    Err("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled".into())
}

/// CLIENT GETREDIR: -1, tracking being off.
fn client_getredir(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    ctx.reply.int(-1);
    Ok(())
}

/// CLIENT TRACKINGINFO: what Redis reports with tracking off.
fn client_trackinginfo(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    let r = &mut *ctx.reply;
    r.map(3);
    r.bulk(b"flags");
    r.set(1);
    r.bulk(b"off");
    r.bulk(b"redirect");
    r.int(-1);
    r.bulk(b"prefixes");
    r.array(0);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> ClientInfo {
        ClientInfo::new(7, "127.0.0.1:5000".into(), "127.0.0.1:6379".into(), 9, 0)
    }

    #[test]
    fn flags_follow_redis_order() {
        let i = info();
        assert_eq!(flag_letters(&i), "N");
        i.set_flag(cflag::PUBSUB | cflag::NO_EVICT | cflag::BLOCKED, true);
        assert_eq!(flag_letters(&i), "Pbe");
        i.set_flag(cflag::MONITOR | cflag::REPLICA, true);
        i.multi_len.store(0, Ordering::Relaxed);
        assert_eq!(flag_letters(&i), "OPxbe");
    }

    #[test]
    fn kill_filter_conditions_all_apply() {
        let i = info();
        let mut f = KillFilter {
            addr: Some("127.0.0.1:5000".into()),
            laddr: None,
            id: Some(7),
            client_type: Some(ClientType::Normal),
            user: Some("default".into()),
            max_age_s: None,
            skip_me: true,
        };
        assert!(f.matches(&i, 1, 0));
        assert!(!f.matches(&i, 7, 0), "SKIPME spares the caller");
        f.max_age_s = Some(10);
        assert!(!f.matches(&i, 1, 5_000));
        assert!(f.matches(&i, 1, 11_000));
        f.client_type = Some(ClientType::PubSub);
        assert!(!f.matches(&i, 1, 11_000));
    }
}
