//! Whole-database changes: FLUSHDB, FLUSHALL and SWAPDB. They run under the exclusive gate
//! (flag `EXCLUSIVE`), so no other command is between them and any shard; they still lock one
//! slot at a time, moving tables out of shards rather than freeing them under the lock.
//!
//! WATCH follows Redis: a flush or swap marks a watching client dirty only if the key it
//! watches logically changes. Per watched key, with E the table being emptied (or swapped
//! away) and R what replaces it (nothing for a flush):
//!
//! | E \ R   | missing  | live  | expired |
//! |---------|----------|-------|---------|
//! | missing | -        | dirty | -       |
//! | live    | dirty    | dirty | dirty   |
//! | expired | -        | dirty | -       |
//!
//! An expired key counts as already gone. Redis tells "expired when WATCHed" from "expired
//! since" per client; the shard does not know which, so an expired key is taken as expired
//! when watched (the case Redis's tests pin down). A missing key replaced by an expired one
//! must not fail EXEC later either, so on a primary that expired key is deleted before the
//! swap, as a lazy expiry would (a DEL is propagated ahead of the SWAPDB).

use std::mem::take;
use std::sync::atomic::{AtomicI64, Ordering};

use rudis_resp::Argv;

use super::db_index_arg;
use crate::command::error::{CmdError, SYNTAX};
use crate::command::{CmdResult, Ctx};
use crate::keyspace::db::ShardExtras;
use crate::keyspace::dict::Dict;
use crate::keyspace::lazyfree;
use crate::keyspace::slot::SLOTS;
use crate::keyspace::txn::{encode_command, event};
use crate::keyspace::value::{ExpireEntry, KeyEntry};

/// A shard's two tables.
type Tables = (Dict<KeyEntry>, Dict<ExpireEntry>);

/// FLUSHDB [ASYNC | SYNC]
pub(super) fn flushdb(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let lazy = flush_is_lazy(ctx, argv)?;
    let db = ctx.txn.db;
    let removed = empty_db(ctx, db, lazy);
    finish_flush(ctx, argv, removed);
    Ok(())
}

/// FLUSHALL [ASYNC | SYNC]. As in Redis, a running BGSAVE is abandoned (its image is of
/// the data just removed), and with save points configured the empty dataset is saved.
pub(super) fn flushall(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let lazy = flush_is_lazy(ctx, argv)?;
    crate::persist::save::cancel_bgsave(ctx.srv);
    crate::replication::sync_job::cancel(ctx.srv);
    let mut removed = 0;
    for db in 0..ctx.txn.keyspace().db_count() {
        removed += empty_db(ctx, db, lazy);
    }
    if !ctx.srv.cfg().save.0.is_empty() && crate::persist::save::save_held(ctx.srv, ctx.txn).is_ok()
    {
        // The save covers everything this command is about to count (the removals and the
        // FLUSHALL itself): Redis reports no change since the save.
        let rdb = &ctx.srv.rdb;
        let at_save = rdb.dirty_now(ctx.srv) + removed + 1;
        rdb.dirty_at_save
            .store(at_save, std::sync::atomic::Ordering::Relaxed);
    }
    finish_flush(ctx, argv, removed + 1);
    Ok(())
}

/// The flush commands count every removed key as a change and are propagated even when
/// there was nothing to remove, so replicas and the AOF stay in step.
fn finish_flush(ctx: &mut Ctx, argv: Argv, removed: u64) {
    ctx.txn.dirty(removed);
    let args: Vec<&[u8]> = argv.iter().collect();
    ctx.txn.propagate(&args);
    ctx.reply.ok();
}

/// `ASYNC` / `SYNC`, or `lazyfree-lazy-user-flush` when neither is given.
fn flush_is_lazy(ctx: &Ctx, argv: Argv) -> Result<bool, CmdError> {
    match argv.len() {
        1 => Ok(ctx.srv.cfg().lazyfree_lazy_user_flush),
        2 if argv.get(1).eq_ignore_ascii_case(b"sync") => Ok(false),
        2 if argv.get(1).eq_ignore_ascii_case(b"async") => Ok(true),
        _ => Err(SYNTAX),
    }
}

/// Empties database `db`, freeing its tables here or (if `lazy`) in the background. Returns
/// the number of keys removed.
pub(crate) fn empty_db(ctx: &mut Ctx, db: usize, lazy: bool) -> u64 {
    empty_db_txn(ctx.txn, db, lazy)
}

/// [`empty_db`] for a caller holding the keyspace exclusively outside a command (a replica
/// replacing its dataset with its master's).
pub(crate) fn empty_db_txn(txn: &mut crate::keyspace::txn::Txn<'_>, db: usize, lazy: bool) -> u64 {
    let dbref = txn.keyspace().db(db);
    if !dbref.is_allocated() {
        return 0;
    }
    let now_ms = txn.now_ms;
    let mut garbage: Vec<Tables> = Vec::new();
    let mut removed = 0;
    let mut awaited_streams = Vec::new();
    for slot in 0..SLOTS as u16 {
        let shard = txn.shard_at(db, slot);
        touch_watchers(shard.extras(), (&shard.keys, shard.expires()), None, now_ms);
        awaited_streams.extend(awaited_streams_in(shard));
        if !shard.keys.is_empty() {
            removed += shard.keys.len() as u64;
            let tables = (take(&mut shard.keys), shard.take_expires());
            if lazy {
                garbage.push(tables);
            }
        }
        txn.release_shards();
    }
    dbref.keys.store(0, Ordering::Relaxed);
    dbref.keys_upper_bound.store(0, Ordering::Release);
    dbref.volatile.store(0, Ordering::Relaxed);
    dbref.avg_ttl_ms.store(0, Ordering::Relaxed);
    if !garbage.is_empty() {
        lazyfree::free_later(Box::new(garbage), removed);
    }
    // Clients blocked in XREADGROUP on the streams just removed are answered at once.
    for key in awaited_streams {
        txn.signal_ready_in(db, &key);
    }
    removed
}

/// The keys of a shard holding streams that clients wait on.
fn awaited_streams_in(shard: &crate::keyspace::db::Shard) -> Vec<Vec<u8>> {
    let Some(extras) = shard.extras() else {
        return Vec::new();
    };
    extras
        .waiters
        .keys()
        .filter(|k| {
            shard
                .keys
                .get(k)
                .is_some_and(|e| matches!(e.value, crate::keyspace::Value::Stream(_)))
        })
        .cloned()
        .collect()
}

/// Whether a key is in a table, and alive.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum KeyState {
    Missing,
    Live,
    Expired,
}

fn key_state(tables: (&Dict<KeyEntry>, &Dict<ExpireEntry>), key: &[u8], now_ms: i64) -> KeyState {
    match tables.0.get(key) {
        None => KeyState::Missing,
        Some(e) if e.has_expire() && tables.1.get(key).is_some_and(|x| x.at_ms <= now_ms) => {
            KeyState::Expired
        }
        Some(_) => KeyState::Live,
    }
}

/// Marks the clients watching keys of `emptied` dirty where the change is logical (see the
/// module comment). Returns the watched keys missing from `emptied` whose replacement is
/// expired: the caller deletes those before swapping.
fn touch_watchers(
    extras: Option<&ShardExtras>,
    emptied: (&Dict<KeyEntry>, &Dict<ExpireEntry>),
    replaced_with: Option<(&Dict<KeyEntry>, &Dict<ExpireEntry>)>,
    now_ms: i64,
) -> Vec<Vec<u8>> {
    let mut expired_replacements = Vec::new();
    let Some(extras) = extras else {
        return expired_replacements;
    };
    for (key, watchers) in &extras.watchers {
        let before = key_state(emptied, key, now_ms);
        let after = replaced_with.map_or(KeyState::Missing, |r| key_state(r, key, now_ms));
        let changed = match (before, after) {
            (KeyState::Live, _) | (_, KeyState::Live) => true,
            (KeyState::Missing, KeyState::Expired) => {
                expired_replacements.push(key.clone());
                false
            }
            _ => false,
        };
        if changed {
            let exists_now = after != KeyState::Missing;
            for w in watchers {
                w.touch(exists_now);
            }
        }
    }
    expired_replacements
}

/// SWAPDB index1 index2
pub(super) fn swapdb(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    if ctx.srv.cfg().cluster_enabled {
        return Err("ERR SWAPDB is not allowed in cluster mode".into());
    }
    let first = db_index_arg(argv.get(1), Some("ERR invalid first DB index"))?;
    let second = db_index_arg(argv.get(2), Some("ERR invalid second DB index"))?;
    let (db1, db2) = (super::valid_db(ctx, first)?, super::valid_db(ctx, second)?);
    let ks = ctx.txn.keyspace();
    let allocated = ks.db(db1).is_allocated() || ks.db(db2).is_allocated();
    if db1 != db2 && allocated {
        for slot in 0..SLOTS as u16 {
            swap_slot(ctx, db1, db2, slot);
            ctx.txn.release_shards();
        }
        let (d1, d2) = (ks.db(db1), ks.db(db2));
        swap_counter(&d1.keys, &d2.keys);
        swap_counter(&d1.keys_upper_bound, &d2.keys_upper_bound);
        swap_counter(&d1.volatile, &d2.volatile);
        swap_counter(&d1.avg_ttl_ms, &d2.avg_ttl_ms);
        // Clients blocked in either database may find their keys there now.
        for db in [db1, db2] {
            for w in ctx.srv.blocked.in_db(db) {
                for key in &w.keys {
                    ctx.txn.signal_ready_in(db, key);
                }
            }
        }
    }
    ctx.txn.dirty(1);
    ctx.reply.ok();
    Ok(())
}

/// Swaps the tables of one slot of two databases; watchers and blocked clients stay with
/// their database.
fn swap_slot(ctx: &mut Ctx, db1: usize, db2: usize, slot: u16) {
    let now_ms = ctx.txn.now_ms;
    let shard1 = ctx.txn.shard_at(db1, slot);
    let mut side1: Tables = (take(&mut shard1.keys), shard1.take_expires());
    let shard2 = ctx.txn.shard_at(db2, slot);
    let mut side2: Tables = (take(&mut shard2.keys), shard2.take_expires());
    let stale_in_1 = touch_watchers(
        shard2.extras(),
        (&side2.0, &side2.1),
        Some((&side1.0, &side1.1)),
        now_ms,
    );
    let shard1 = ctx.txn.shard_at(db1, slot);
    let stale_in_2 = touch_watchers(
        shard1.extras(),
        (&side1.0, &side1.1),
        Some((&side2.0, &side2.1)),
        now_ms,
    );
    if !ctx.txn.replica {
        delete_expired(ctx, db1, &mut side1, &stale_in_1);
        delete_expired(ctx, db2, &mut side2, &stale_in_2);
    }
    let shard1 = ctx.txn.shard_at(db1, slot);
    shard1.keys = side2.0;
    shard1.set_expires(side2.1);
    let shard2 = ctx.txn.shard_at(db2, slot);
    shard2.keys = side1.0;
    shard2.set_expires(side1.1);
}

/// Deletes expired `keys` from `tables` (taken out of database `db`) with the effects of an
/// expiry, but without marking watchers: to them the key was already gone.
fn delete_expired(ctx: &mut Ctx, db: usize, tables: &mut Tables, keys: &[Vec<u8>]) {
    for key in keys {
        if tables.0.remove(key).is_none() {
            continue;
        }
        tables.1.remove(key);
        let dbref = ctx.txn.keyspace().db(db);
        dbref.keys.fetch_sub(1, Ordering::Relaxed);
        dbref.keys_upper_bound.fetch_sub(1, Ordering::Release);
        dbref.volatile.fetch_sub(1, Ordering::Relaxed);
        let mut cmd = Vec::new();
        encode_command(&[b"DEL", key], &mut cmd);
        ctx.txn
            .effects
            .propagate
            .push(crate::keyspace::txn::Propagated::everywhere(db, cmd));
        ctx.txn.effects.expired += 1;
        ctx.txn.notify_in(db, event::EXPIRED, "expired", key);
    }
}

fn swap_counter(a: &AtomicI64, b: &AtomicI64) {
    let old_a = a.load(Ordering::Relaxed);
    a.store(b.swap(old_a, Ordering::Relaxed), Ordering::Relaxed);
}

/// Replaces every database's contents with those of `loaded` (a replica's diskless load
/// into a temporary keyspace), which receives the old contents. The caller holds the
/// keyspace exclusively through `txn` (flagged as writing, so an active snapshot gets each
/// shard first); watchers stay where they are and are told of the keys that change, as
/// with SWAPDB. (A replica has no clients blocked on keys: they are released when it
/// becomes one, and its clients cannot write.)
pub(crate) fn swap_with_loaded(
    txn: &mut crate::keyspace::txn::Txn<'_>,
    loaded: &crate::keyspace::Keyspace,
) {
    let now_ms = txn.now_ms;
    for db in 0..txn.keyspace().db_count() {
        let other = loaded.db(db);
        if !txn.keyspace().db(db).is_allocated() && !other.is_allocated() {
            continue;
        }
        for slot in 0..SLOTS as u16 {
            let mut theirs = other.shard(slot).lock();
            let mine = txn.shard_at(db, slot);
            touch_watchers(
                mine.extras(),
                (&mine.keys, mine.expires()),
                Some((&theirs.keys, theirs.expires())),
                now_ms,
            );
            std::mem::swap(&mut mine.keys, &mut theirs.keys);
            let (my_expires, their_expires) = (mine.take_expires(), theirs.take_expires());
            mine.set_expires(their_expires);
            theirs.set_expires(my_expires);
            drop(theirs);
            txn.release_shards();
        }
        let mine = txn.keyspace().db(db);
        swap_counter(&mine.keys, &other.keys);
        swap_counter(&mine.keys_upper_bound, &other.keys_upper_bound);
        swap_counter(&mine.volatile, &other.volatile);
        swap_counter(&mine.avg_ttl_ms, &other.avg_ttl_ms);
    }
}
