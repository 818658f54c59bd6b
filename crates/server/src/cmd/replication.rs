//! Replication commands: REPLICAOF / SLAVEOF, ROLE, WAIT, and the internal REPLCONF, PSYNC
//! and SYNC. SYNC and PSYNC only record what the connection must become
//! (`Client::repl_handoff`); the connection task then hands itself to
//! [`crate::replication::primary::serve`].

use std::sync::atomic::Ordering;
use std::sync::Arc;

use rudis_resp::Argv;

use super::util::is;
use crate::command::spec::{acl, flag, CommandSpec};
use crate::command::{CmdResult, Ctx};
use crate::keyspace::blocking::{WaitState, Waiter};
use crate::replication::primary::Handoff;
use crate::replication::{self, replica, replica_state, LinkState};
use crate::server::client::cflag;
use crate::server::log::{self, Verbosity};

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("replicaof", 3, replicaof)
        .flags(
            flag::NO_ASYNC_LOADING
                | flag::ADMIN
                | flag::NOSCRIPT
                | flag::STALE
                | flag::NO_KEYSPACE,
        )
        .doc(
            "server",
            "Make the server a replica of another instance, or promote it as master.",
            "5.0.0",
            "O(1)",
        ),
    CommandSpec::new("slaveof", 3, replicaof)
        .flags(
            flag::NO_ASYNC_LOADING
                | flag::ADMIN
                | flag::NOSCRIPT
                | flag::STALE
                | flag::NO_KEYSPACE,
        )
        .deprecated("5.0.0", "`REPLICAOF`")
        .doc(
            "server",
            "Make the server a replica of another instance, or promote it as master.",
            "1.0.0",
            "O(1)",
        ),
    CommandSpec::new("role", 1, role)
        .flags(
            flag::NOSCRIPT
                | flag::LOADING
                | flag::STALE
                | flag::FAST
                | flag::SENTINEL
                | flag::NO_KEYSPACE,
        )
        .acl(acl::ADMIN | acl::DANGEROUS)
        .doc(
            "server",
            "Return the role of the instance in the context of replication",
            "2.8.12",
            "O(1)",
        ),
    CommandSpec::new("wait", 3, wait)
        .flags(flag::NOSCRIPT | flag::NO_KEYSPACE)
        .acl(acl::CONNECTION)
        .tips(&["request_policy:all_shards", "response_policy:agg_min"])
        .doc(
            "generic",
            "Wait for the synchronous replication of all the write commands sent in the context of the current connection",
            "3.0.0",
            "O(1)",
        ),
    CommandSpec::new("replconf", -1, replconf)
        .flags(
            flag::ADMIN
                | flag::NOSCRIPT
                | flag::LOADING
                | flag::STALE
                | flag::ALLOW_BUSY
                | flag::NO_KEYSPACE,
        )
        .syscmd()
        .doc(
            "server",
            "An internal command for configuring the replication stream",
            "3.0.0",
            "O(1)",
        ),
    CommandSpec::new("psync", -3, psync)
        .flags(
            flag::NO_ASYNC_LOADING
                | flag::ADMIN
                | flag::NO_MULTI
                | flag::NOSCRIPT
                | flag::NO_KEYSPACE,
        )
        .doc("server", "Internal command used for replication", "2.8.0", ""),
    CommandSpec::new("sync", 1, sync)
        .flags(
            flag::NO_ASYNC_LOADING
                | flag::ADMIN
                | flag::NO_MULTI
                | flag::NOSCRIPT
                | flag::NO_KEYSPACE,
        )
        .doc("server", "Internal command used for replication", "1.0.0", ""),
];

/// REPLICAOF host port | NO ONE
fn replicaof(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let srv = ctx.srv;
    if is(argv.get(1), "no") && is(argv.get(2), "one") {
        if srv.state.replica.load(Ordering::Acquire) {
            replica::stop_link(srv);
            replication::promote(srv);
            replication::disconnect_replicas(srv);
            set_config_master(ctx, None);
            log::write_line(
                Verbosity::Notice,
                "MASTER MODE enabled (user request from 'id=... addr=...')",
            );
        }
        ctx.reply.ok();
        return Ok(());
    }
    let host = String::from_utf8_lossy(argv.get(1)).into_owned();
    let port = rudis_resp::number::parse_i64(argv.get(2))
        .ok_or("ERR value is not an integer or out of range")?;
    let port = u16::try_from(port).map_err(|_| "ERR Invalid master port")?;
    if ctx.client.info.has_flag(cflag::MASTER) {
        return Err("ERR Command is not valid when client is a replica.".into());
    }
    let same = srv
        .replication
        .link
        .lock()
        .as_ref()
        .is_some_and(|l| l.host.eq_ignore_ascii_case(&host) && l.port == port);
    if same {
        log::write_line(
            Verbosity::Notice,
            "REPLICAOF would result into synchronization with the master we are already connected with. No operation performed.",
        );
        ctx.reply.simple("OK Already connected to specified master");
        return Ok(());
    }
    // Our own history is what we offer the new master in PSYNC.
    srv.replication.has_history.store(true, Ordering::Relaxed);
    if !srv.state.replica.load(Ordering::Acquire) {
        replication::ensure_backlog(srv);
    }
    // Our replicas stay, as in Redis: the new master's answer to PSYNC decides (a
    // different history disconnects them then).
    replica::start_link(srv, host.clone(), port);
    set_config_master(ctx, Some((host.clone(), port)));
    log::write_line(
        Verbosity::Notice,
        &format!("REPLICAOF {host}:{port} enabled (user request)"),
    );
    ctx.reply.ok();
    Ok(())
}

/// Keeps `replicaof` in the live configuration (CONFIG GET, CONFIG REWRITE).
fn set_config_master(ctx: &Ctx, master: Option<(String, u16)>) {
    let _guard = ctx.srv.config_lock.lock();
    let mut cfg = (**ctx.srv.cfg()).clone();
    cfg.replicaof.0 = master;
    ctx.srv.set_config(cfg);
}

/// ROLE
fn role(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    let srv = ctx.srv;
    let r = &srv.replication;
    let link = r
        .link
        .lock()
        .as_ref()
        .map(|l| (l.host.clone(), l.port, l.state));
    let reply = &mut *ctx.reply;
    match link {
        Some((host, port, state)) => {
            reply.array(5);
            reply.bulk(b"slave");
            reply.bulk(host.as_bytes());
            reply.int(i64::from(port));
            reply.bulk(state.role_name().as_bytes());
            let offset = if state == LinkState::Connected {
                r.offset()
            } else {
                -1
            };
            reply.int(offset);
        }
        None => {
            reply.array(3);
            reply.bulk(b"master");
            reply.int(r.offset());
            let replicas: Vec<_> = r.replicas.lock().iter().cloned().collect();
            let online: Vec<_> = replicas
                .iter()
                .filter(|e| e.state.load(Ordering::Relaxed) == replica_state::ONLINE)
                .collect();
            reply.array(online.len());
            for e in online {
                reply.array(3);
                reply.bulk(e.ip.as_bytes());
                reply.bulk(e.port.to_string().as_bytes());
                reply.bulk(e.ack_offset.load(Ordering::Relaxed).to_string().as_bytes());
            }
        }
    }
    Ok(())
}

/// WAIT numreplicas timeout
fn wait(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let srv = ctx.srv;
    if srv.state.replica.load(Ordering::Acquire) {
        return Err("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.".into());
    }
    let wanted = rudis_resp::number::parse_i64(argv.get(1))
        .ok_or("ERR value is not an integer or out of range")?;
    let timeout_ms = rudis_resp::number::parse_i64(argv.get(2))
        .ok_or("ERR timeout is not an integer or out of range")?;
    if timeout_ms < 0 {
        return Err("ERR timeout is negative".into());
    }
    let offset = srv.replication.offset();
    let acked = replication::wait::acked(srv, offset);
    let wanted = usize::try_from(wanted).unwrap_or(0);
    if acked >= wanted || ctx.client.deny_blocking {
        ctx.reply.int(acked as i64);
        return Ok(());
    }
    let waiter = Arc::new(Waiter {
        client: ctx.client.info.clone(),
        db: ctx.client.db,
        keys: Vec::new(),
        cmd_id: ctx.cmd.id,
        argv: Vec::new(),
        resp3: ctx.client.info.resp_is_3(),
        deadline_ms: None,
        timeout_reply: |r| r.int(0),
        state: parking_lot::Mutex::new(WaitState::Waiting),
    });
    ctx.client.blocked = Some(waiter.clone());
    ctx.client.info.set_flag(cflag::BLOCKED, true);
    srv.blocked.insert(waiter.clone());
    srv.replication
        .waits
        .add(srv, waiter, offset, wanted, timeout_ms as u64);
    Ok(())
}

/// REPLCONF option value [option value ...]
fn replconf(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    if argv.len().is_multiple_of(2) {
        return Err(crate::command::error::SYNTAX);
    }
    let hello = &mut ctx.client.replica_hello;
    let mut i = 1;
    while i + 1 < argv.len() {
        let (opt, val) = (argv.get(i), argv.get(i + 1));
        if is(opt, "listening-port") {
            hello.listening_port = rudis_resp::number::parse_i64(val)
                .ok_or("ERR value is not an integer or out of range")?;
        } else if is(opt, "ip-address") {
            let ip = String::from_utf8_lossy(val).into_owned();
            if ip.len() >= 46 {
                return Err(crate::err!(
                    "ERR REPLCONF ip-address provided by replica instance is too long: {} bytes",
                    ip.len()
                ));
            }
            hello.announced_ip = Some(ip);
        } else if is(opt, "capa") {
            if is(val, "eof") {
                hello.capa_eof = true;
            } else if is(val, "psync2") {
                hello.capa_psync2 = true;
            }
        } else if is(opt, "ack") || is(opt, "getack") {
            // ACKs are read by the replica's serving task; GETACK by the replica's link.
            return Ok(());
        } else if is(opt, "rdb-only") || is(opt, "rdb-filter-only") {
        } else {
            return Err(crate::err!(
                "ERR Unrecognized REPLCONF option: {}",
                String::from_utf8_lossy(opt)
            ));
        }
        i += 2;
    }
    ctx.reply.ok();
    Ok(())
}

/// PSYNC replicationid offset
fn psync(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let Some(offset) = rudis_resp::number::parse_i64(argv.get(2)) else {
        log::write_line(
            Verbosity::Warning,
            &format!(
                "Replica {} asks for synchronization but with a wrong offset",
                replica_name(ctx)
            ),
        );
        return Err("ERR value is not an integer or out of range".into());
    };
    let replid = String::from_utf8_lossy(argv.get(1)).into_owned();
    start_sync(ctx, Handoff::Psync { replid, offset })
}

/// How the log names a replica: its announced address, else the connection's.
fn replica_name(ctx: &Ctx) -> String {
    let hello = &ctx.client.replica_hello;
    let ip = hello.announced_ip.clone().unwrap_or_else(|| {
        ctx.client
            .peer
            .map(|p| p.ip().to_string())
            .unwrap_or_else(|| "?".into())
    });
    format!("{ip}:{}", hello.listening_port)
}

/// SYNC
fn sync(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    start_sync(ctx, Handoff::Sync)
}

fn start_sync(ctx: &mut Ctx, handoff: Handoff) -> CmdResult {
    if ctx.client.info.has_flag(cflag::REPLICA) {
        return Ok(());
    }
    let srv = ctx.srv;
    if srv.state.replica.load(Ordering::Acquire) {
        let up = srv
            .replication
            .link
            .lock()
            .as_ref()
            .is_some_and(|l| l.state == LinkState::Connected);
        if !up {
            return Err("NOMASTERLINK Can't SYNC while not connected with my master".into());
        }
    }
    ctx.client.repl_handoff = Some(handoff);
    Ok(())
}
