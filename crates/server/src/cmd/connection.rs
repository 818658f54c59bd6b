//! Connection commands: PING, ECHO, SELECT, QUIT, RESET, HELLO, AUTH.

use std::sync::atomic::Ordering;

use rudis_resp::Argv;

use super::util::{is, text};
use crate::command::error::DB_INDEX;
use crate::command::spec::{acl, flag, CommandSpec};
use crate::command::{CmdResult, Ctx};
use crate::server::client::{cflag, ReplyMode};

const CONN: u64 = acl::CONNECTION;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("ping", -1, ping)
        .flags(flag::FAST | flag::SENTINEL | flag::NO_KEYSPACE)
        .acl(CONN)
        .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
        .doc(
            "connection",
            "Returns the server's liveliness response.",
            "1.0.0",
            "O(1)",
        ),
    CommandSpec::new("echo", 2, echo)
        .flags(flag::LOADING | flag::STALE | flag::FAST | flag::NO_KEYSPACE)
        .acl(CONN)
        .doc("connection", "Returns the given string.", "1.0.0", "O(1)"),
    CommandSpec::new("select", 2, select)
        .flags(flag::LOADING | flag::STALE | flag::FAST | flag::NO_KEYSPACE)
        .acl(CONN)
        .doc(
            "connection",
            "Changes the selected database.",
            "1.0.0",
            "O(1)",
        ),
    CommandSpec::new("quit", -1, quit)
        .flags(
            flag::ALLOW_BUSY
                | flag::NOSCRIPT
                | flag::LOADING
                | flag::STALE
                | flag::FAST
                | flag::NO_AUTH
                | flag::NO_KEYSPACE,
        )
        .acl(CONN)
        .doc("connection", "Closes the connection.", "1.0.0", "O(1)"),
    CommandSpec::new("reset", 1, reset)
        .flags(
            flag::NOSCRIPT
                | flag::LOADING
                | flag::STALE
                | flag::FAST
                | flag::NO_AUTH
                | flag::ALLOW_BUSY
                | flag::NO_KEYSPACE,
        )
        .acl(CONN)
        .doc("connection", "Resets the connection.", "6.2.0", "O(1)"),
    CommandSpec::new("hello", -1, hello)
        .flags(
            flag::NOSCRIPT
                | flag::LOADING
                | flag::STALE
                | flag::FAST
                | flag::NO_AUTH
                | flag::SENTINEL
                | flag::ALLOW_BUSY
                | flag::NO_KEYSPACE,
        )
        .acl(CONN)
        .doc(
            "connection",
            "Handshakes with the Redis server.",
            "6.0.0",
            "O(1)",
        ),
    CommandSpec::new("auth", -2, auth)
        .flags(
            flag::NOSCRIPT
                | flag::LOADING
                | flag::STALE
                | flag::FAST
                | flag::NO_AUTH
                | flag::SENTINEL
                | flag::ALLOW_BUSY
                | flag::NO_KEYSPACE,
        )
        .acl(CONN)
        .doc(
            "connection",
            "Authenticates the connection.",
            "1.0.0",
            "O(N) where N is the number of passwords defined for the user",
        ),
];

/// PING [message]
fn ping(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    if argv.len() > 2 {
        return Err(crate::command::error::wrong_arity("ping"));
    }
    if ctx.client.info.has_flag(cflag::PUBSUB) && !ctx.reply.is_resp3() {
        ctx.reply.array(2);
        ctx.reply.bulk(b"pong");
        ctx.reply.bulk(argv.try_get(1).unwrap_or(b""));
    } else if let Some(msg) = argv.try_get(1) {
        ctx.reply.bulk(msg);
    } else {
        ctx.reply.simple("PONG");
    }
    Ok(())
}

/// ECHO message
fn echo(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    ctx.reply.bulk(argv.get(1));
    Ok(())
}

/// SELECT index
fn select(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let index = rudis_resp::number::parse_i64(argv.get(1))
        .ok_or("ERR value is not an integer or out of range")?;
    if ctx.srv.cfg().cluster_enabled && index != 0 {
        return Err("ERR SELECT is not allowed in cluster mode".into());
    }
    if index < 0 || index as usize >= ctx.srv.keyspace.db_count() {
        return Err(DB_INDEX);
    }
    ctx.client.select(index as usize);
    ctx.txn.db = index as usize;
    ctx.reply.ok();
    Ok(())
}

/// QUIT
fn quit(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    ctx.reply.ok();
    ctx.client.close_after_reply = true;
    Ok(())
}

/// RESET: back to a fresh connection's state.
fn reset(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    let srv = ctx.srv;
    let client = &mut *ctx.client;
    if client.in_multi() {
        super::transaction::discard_transaction(srv, client);
    } else {
        super::transaction::unwatch_all(srv, client);
    }
    super::pubsub::unsubscribe_all(srv, client);
    client.select(0);
    ctx.txn.db = 0;
    client.reply_mode = ReplyMode::On;
    set_protocol(ctx, 2);
    ctx.client.info.set_flag(
        cflag::MONITOR | cflag::NO_EVICT | cflag::TRACKING | cflag::NO_TOUCH | cflag::READONLY,
        false,
    );
    *ctx.client.info.name.lock() = None;
    ctx.client.authenticated = !ctx.srv.auth_required();
    if ctx.client.user.is_some() {
        ctx.client.user = Some(ctx.srv.acl.default_user());
        ctx.client.acl_epoch = ctx.srv.acl.epoch();
        *ctx.client.info.user.lock() = "default".to_string();
    }
    ctx.reply.simple("RESET");
    Ok(())
}

fn set_protocol(ctx: &mut Ctx, version: usize) {
    ctx.reply.set_resp3(version == 3);
    ctx.client.info.resp.store(version, Ordering::Relaxed);
}

/// HELLO [protover [AUTH username password] [SETNAME clientname]]
fn hello(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let mut version = None;
    let mut next = 1;
    if argv.len() >= 2 {
        let v = rudis_resp::number::parse_i64(argv.get(1))
            .ok_or("ERR Protocol version is not an integer or out of range")?;
        if !(2..=3).contains(&v) {
            return Err("NOPROTO unsupported protocol version".into());
        }
        version = Some(v as usize);
        next = 2;
    }
    let mut auth = None;
    let mut setname = None;
    while next < argv.len() {
        let more = argv.len() - next - 1;
        if is(argv.get(next), "AUTH") && more >= 2 {
            auth = Some((argv.get(next + 1), argv.get(next + 2)));
            ctx.client.redacted_args.extend([next + 1, next + 2]);
            next += 3;
        } else if is(argv.get(next), "SETNAME") && more >= 1 {
            setname = Some(argv.get(next + 1));
            next += 2;
        } else {
            return Err(crate::err!(
                "ERR Syntax error in HELLO option '{}'",
                text(argv.get(next))
            ));
        }
    }
    if let Some((user, pass)) = auth {
        check_password(ctx, argv, Some(user), pass)?;
    }
    if !ctx.client.authenticated {
        return Err("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time".into());
    }
    if let Some(name) = setname {
        super::util::validate_client_name(name)?;
        *ctx.client.info.name.lock() = (!name.is_empty()).then(|| name.to_vec());
    }
    if let Some(v) = version {
        set_protocol(ctx, v);
    }
    let role = if ctx.srv.state.replica.load(Ordering::Relaxed) {
        "replica"
    } else {
        "master"
    };
    let mode = if ctx.srv.cfg().cluster_enabled {
        "cluster"
    } else {
        "standalone"
    };
    let r = &mut *ctx.reply;
    r.map(7);
    r.bulk(b"server");
    r.bulk(b"redis");
    r.bulk(b"version");
    r.bulk(crate::REDIS_VERSION.as_bytes());
    r.bulk(b"proto");
    r.int(r.protocol());
    r.bulk(b"id");
    r.int(ctx.client.id() as i64);
    r.bulk(b"mode");
    r.bulk(mode.as_bytes());
    r.bulk(b"role");
    r.bulk(role.as_bytes());
    r.bulk(b"modules");
    r.array(0);
    Ok(())
}

/// AUTH [username] password
fn auth(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let (user, pass) = match argv.len() {
        2 => (None, argv.get(1)),
        3 => (Some(argv.get(1)), argv.get(2)),
        _ => return Err(crate::command::error::SYNTAX),
    };
    ctx.client.redacted_args.extend(1..argv.len());
    if user.is_none() && ctx.srv.acl.default_user().nopass {
        return Err("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?".into());
    }
    check_password(ctx, argv, user, pass)?;
    ctx.reply.ok();
    Ok(())
}

/// Authenticates the connection as `user` (the default user if `None`); a failure is
/// recorded in the ACL LOG.
fn check_password(ctx: &mut Ctx, argv: Argv, user: Option<&[u8]>, pass: &[u8]) -> CmdResult {
    let name = user.unwrap_or(b"default");
    match ctx.srv.acl.authenticate(name, pass) {
        Some(u) => {
            *ctx.client.info.user.lock() = u.name.clone();
            ctx.client.user = Some(u);
            ctx.client.acl_epoch = ctx.srv.acl.epoch();
            ctx.client.authenticated = true;
            Ok(())
        }
        None => {
            crate::acl::gate::log_auth_failure(ctx.srv, ctx.client, argv, name);
            Err("WRONGPASS invalid username-password pair or user is disabled.".into())
        }
    }
}
