//! Running blocked clients' commands again when their keys become ready (see
//! [`crate::keyspace::blocking`] for the model), and releasing a waiter when its client stops
//! waiting.

use std::sync::Arc;

use rudis_resp::{Argv, ReplyBuf};

use super::dispatch::{commit, flush_effects, invoke};
use crate::keyspace::blocking::{WaitState, Waiter};
use crate::keyspace::txn::Txn;
use crate::server::client::{cflag, Client};
use crate::server::{unix_ms, Server};

/// Serves the clients blocked on `ready` keys, oldest first per key, holding the whole
/// keyspace so each served command runs atomically. Keys made ready by served commands
/// (a BLMOVE pushing to a key another client waits on) are served in the same pass.
pub fn serve_ready(srv: &Server, mut ready: Vec<(usize, Vec<u8>)>) {
    if ready.is_empty() {
        return;
    }
    let mut txn = Txn::exclusive(&srv.keyspace, 0, unix_ms());
    txn.replica = srv.keeps_expired_keys();
    txn.writes = true;
    let mut i = 0;
    while i < ready.len() {
        let (db, key) = ready[i].clone();
        i += 1;
        while let Some(w) = next_waiter(&mut txn, db, &key) {
            if !serve_one(srv, &mut txn, &w, &key) {
                break;
            }
            release(&mut txn, &w);
            srv.blocked.remove(w.client.id);
            ready.extend(flush_effects(srv, &mut txn, false));
        }
    }
    // An attempt that left its waiter blocked may still have changed something: the key it
    // found logically expired was deleted, and that DEL must be propagated.
    let _ = flush_effects(srv, &mut txn, false);
}

fn next_waiter(txn: &mut Txn<'_>, db: usize, key: &[u8]) -> Option<Arc<Waiter>> {
    txn.shard(db, key).extras_if_any()?.waiters.front(key)
}

/// Runs a waiter's command again for the `ready` key. True if it was served (its client now
/// has a reply, which may be an error such as BLMOVE's destination of the wrong type); false
/// if the command still found nothing (the key is empty again, or of another type), leaving
/// the waiter queued.
fn serve_one(srv: &Server, txn: &mut Txn<'_>, w: &Arc<Waiter>, ready: &[u8]) -> bool {
    // Held while the command runs, so a timeout racing with serving sees the outcome.
    let mut state = w.state.lock();
    if *state != WaitState::Waiting {
        return true;
    }
    let entry = srv.commands.get(w.cmd_id);
    let mut client = Client::new(w.client.clone(), None);
    client.db = w.db;
    client.authenticated = true;
    client.serving = Some(ready.to_vec());
    let mut reply = ReplyBuf::new();
    reply.set_resp3(w.resp3);
    let (base, ranges) = flatten(&w.argv);
    let argv = Argv::new(&base, &ranges);
    txn.db = w.db;
    let dirty_before = txn.effects.dirty;
    let _ = invoke(srv, &mut client, &mut reply, txn, entry, argv);
    if client.still_blocked {
        return false;
    }
    let _ = commit(srv, txn, entry, argv, dirty_before, true);
    // Its call was counted when it blocked, as Redis counts it.
    *state = WaitState::Served(reply.take());
    drop(state);
    w.client.wake.notify();
    true
}

fn flatten(args: &[Vec<u8>]) -> (Vec<u8>, Vec<std::ops::Range<usize>>) {
    let mut base = Vec::with_capacity(args.iter().map(Vec::len).sum());
    let mut ranges = Vec::with_capacity(args.len());
    for a in args {
        let start = base.len();
        base.extend_from_slice(a);
        ranges.push(start..base.len());
    }
    (base, ranges)
}

/// Removes a waiter from the queues of all its keys.
fn release(txn: &mut Txn<'_>, w: &Arc<Waiter>) {
    for key in &w.keys {
        let shard = txn.shard(w.db, key);
        if let Some(extras) = shard.extras_if_any() {
            extras.waiters.remove(key, w);
        }
        shard.prune_extras();
    }
}

/// Called by the waiting connection once its waiter left the waiting state (served, timed
/// out, unblocked) or the client went away: unregisters it everywhere.
pub fn unregister(srv: &Server, client: &mut Client) {
    let Some(w) = client.blocked.take() else {
        return;
    };
    // Anything still waiting (the client disconnected) is abandoned.
    let _ = w.finish(WaitState::TimedOut);
    let mut txn = Txn::shared(&srv.keyspace, w.db, unix_ms());
    txn.lock_keys(w.keys.iter().map(|k| (w.db, k.as_slice())));
    release(&mut txn, &w);
    drop(txn);
    srv.blocked.remove(w.client.id);
    client.info.set_flag(cflag::BLOCKED, false);
}
