//! MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! Queuing happens in the dispatch gate; EXEC runs the queue in one transaction holding the
//! shards of every queued command's keys and of the watched keys (see
//! [`crate::command::dispatch::exec`]), so no other client sees it half done. A WATCHed key
//! is registered in its shard; any write to it sets the watching client's dirty flag, which
//! EXEC checks after taking its locks.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rudis_resp::Argv;

use crate::command::spec::{acl, flag, keyflag, CommandSpec, KeySpec};
use crate::command::{CmdResult, Ctx};
use crate::keyspace::txn::Txn;
use crate::server::client::{cflag, Client, WatchedKey};
use crate::server::Server;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("multi", 1, multi)
        .flags(
            flag::NOSCRIPT
                | flag::LOADING
                | flag::STALE
                | flag::FAST
                | flag::ALLOW_BUSY
                | flag::NO_KEYSPACE,
        )
        .acl(acl::TRANSACTION)
        .doc("transactions", "Starts a transaction.", "1.2.0", "O(1)"),
    CommandSpec::new("exec", 1, exec)
        .flags(
            flag::NOSCRIPT | flag::LOADING | flag::STALE | flag::SKIP_SLOWLOG | flag::NO_KEYSPACE,
        )
        .acl(acl::TRANSACTION)
        .doc(
            "transactions",
            "Executes all commands in a transaction.",
            "1.2.0",
            "Depends on commands in the transaction",
        ),
    CommandSpec::new("discard", 1, discard)
        .flags(
            flag::NOSCRIPT
                | flag::LOADING
                | flag::STALE
                | flag::FAST
                | flag::ALLOW_BUSY
                | flag::NO_KEYSPACE,
        )
        .acl(acl::TRANSACTION)
        .doc(
            "transactions",
            "Discards a transaction.",
            "2.0.0",
            "O(N), when N is the number of queued commands",
        ),
    CommandSpec::new("watch", -2, watch)
        .flags(flag::NOSCRIPT | flag::LOADING | flag::STALE | flag::FAST | flag::ALLOW_BUSY)
        .acl(acl::TRANSACTION)
        .keys(&[KeySpec::range(1, -1, 1, keyflag::RO)])
        .doc(
            "transactions",
            "Monitors changes to keys to determine the execution of a transaction.",
            "2.2.0",
            "O(1) for every key.",
        ),
    CommandSpec::new("unwatch", 1, unwatch)
        .flags(
            flag::NOSCRIPT
                | flag::LOADING
                | flag::STALE
                | flag::FAST
                | flag::ALLOW_BUSY
                | flag::NO_KEYSPACE,
        )
        .acl(acl::TRANSACTION)
        .doc(
            "transactions",
            "Forgets about watched keys of a transaction.",
            "2.2.0",
            "O(1)",
        ),
];

/// MULTI
fn multi(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    if ctx.client.in_multi() {
        return Err("ERR MULTI calls can not be nested".into());
    }
    ctx.client.multi = Some(Vec::new());
    ctx.client.multi_error = false;
    ctx.client.info.set_flag(cflag::MULTI, true);
    ctx.client.info.multi_len.store(0, Ordering::Relaxed);
    ctx.reply.ok();
    Ok(())
}

/// EXEC
fn exec(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    if !ctx.client.in_multi() {
        return Err("ERR EXEC without MULTI".into());
    }
    crate::command::dispatch::exec(ctx.srv, ctx.client, ctx.reply)
}

/// DISCARD
fn discard(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    if !ctx.client.in_multi() {
        return Err("ERR DISCARD without MULTI".into());
    }
    discard_transaction(ctx.srv, ctx.client);
    ctx.reply.ok();
    Ok(())
}

/// Leaves MULTI, dropping the queue and all WATCHes.
pub fn discard_transaction(srv: &Server, client: &mut Client) {
    client.multi = None;
    client.multi_error = false;
    client.info.set_flag(cflag::MULTI, false);
    client.info.multi_len.store(-1, Ordering::Relaxed);
    unwatch_all(srv, client);
}

/// WATCH key [key ...]
fn watch(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    if ctx.client.in_multi() {
        return Err("ERR WATCH inside MULTI is not allowed".into());
    }
    let db = ctx.client.db;
    for key in argv.iter().skip(1) {
        if ctx
            .client
            .watched
            .iter()
            .any(|w| w.db == db && w.key == key)
        {
            continue;
        }
        let expired_at_watch = Arc::new(AtomicBool::new(is_logically_expired(ctx.txn, db, key)));
        let watcher = ctx.client.watch_ref(expired_at_watch.clone());
        let shard = ctx.txn.shard(db, key);
        shard
            .extras_mut()
            .watchers
            .entry(key.to_vec())
            .or_default()
            .push(watcher);
        ctx.client.watched.push(WatchedKey {
            db,
            key: key.to_vec(),
            expired_at_watch,
        });
    }
    ctx.client
        .info
        .watched
        .store(ctx.client.watched.len(), Ordering::Relaxed);
    ctx.reply.ok();
    Ok(())
}

/// UNWATCH
fn unwatch(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    unwatch_all(ctx.srv, ctx.client);
    ctx.reply.ok();
    Ok(())
}

/// Removes every WATCH of `client` and clears its dirty flag.
pub fn unwatch_all(srv: &Server, client: &mut Client) {
    if client.watched.is_empty() {
        client.watch_dirty.store(false, Ordering::Release);
        return;
    }
    let id = client.id();
    let watched = std::mem::take(&mut client.watched);
    let mut txn = Txn::shared(&srv.keyspace, client.db, 0);
    txn.lock_keys(watched.iter().map(|w| (w.db, w.key.as_slice())));
    for w in &watched {
        let shard = txn.shard(w.db, &w.key);
        if let Some(extras) = shard.extras_if_any() {
            if let Some(list) = extras.watchers.get_mut(&w.key) {
                list.retain(|r| r.client_id != id);
                if list.is_empty() {
                    extras.watchers.remove(&w.key);
                }
            }
        }
        shard.prune_extras();
    }
    client.watch_dirty.store(false, Ordering::Release);
    client.info.watched.store(0, Ordering::Relaxed);
}

/// True if EXEC must fail: a watched key was modified, or expired since it was watched.
/// Called with the watched keys' shards locked.
pub fn watch_broken(_srv: &Server, client: &Client, txn: &mut Txn<'_>) -> bool {
    if client.watch_dirty.load(Ordering::Acquire) {
        return true;
    }
    client.watched.iter().any(|w| {
        !w.expired_at_watch.load(Ordering::Acquire) && is_logically_expired(txn, w.db, &w.key)
    })
}

/// The key exists but its expiry time has passed.
fn is_logically_expired(txn: &mut Txn<'_>, db: usize, key: &[u8]) -> bool {
    let now = txn.now_ms;
    let shard = txn.shard(db, key);
    shard.keys.get(key).is_some_and(|e| e.has_expire())
        && shard.expires().get(key).is_some_and(|e| e.at_ms <= now)
}
