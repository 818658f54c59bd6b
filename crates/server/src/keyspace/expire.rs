//! Active expiry: keys with an expiry time are deleted in the background even if nobody
//! touches them, as Redis's `activeExpireCycle` does. Each run walks the slot shards of the
//! databases that have volatile keys, resuming where the previous run stopped; in each shard
//! it samples keys from the expires table and deletes the expired ones, repeating while more
//! than a quarter of a sample had expired, until its time budget is spent.

use std::time::{Duration, Instant};

use super::db::Keyspace;
use super::slot::SLOTS;
use super::txn::Txn;

/// Keys sampled per round in one shard.
const SAMPLE_KEYS: usize = 20;
/// Check the clock every this many shards.
const CLOCK_CHECK_SHARDS: usize = 64;

/// Where the next cycle resumes.
#[derive(Debug, Default)]
pub struct ExpireCursor {
    db: usize,
    slot: usize,
}

/// Runs one cycle for at most `budget`. `now_ms` is the cycle's notion of now; `commit` is
/// given every transaction that deleted keys, to publish the deletions (DEL propagation,
/// `expired` events, stats). Returns the number of keys deleted.
pub fn active_expire_cycle(
    ks: &Keyspace,
    cursor: &mut ExpireCursor,
    now_ms: i64,
    budget: Duration,
    mut commit: impl FnMut(&mut Txn<'_>),
) -> u64 {
    let started = Instant::now();
    let mut expired_total = 0;
    let mut visited = 0usize;
    let total_shards = ks.db_count() * SLOTS;
    while visited < total_shards {
        let (db, slot) = (cursor.db % ks.db_count(), cursor.slot);
        let mutex = ks.db(db).shard_if_allocated(slot as u16);
        if mutex.is_none() || ks.db(db).volatile_count() == 0 {
            // Nothing can expire in this database: skip the rest of it at once.
            visited += SLOTS - slot;
            cursor.db = (db + 1) % ks.db_count();
            cursor.slot = 0;
            continue;
        }
        advance(cursor, ks.db_count());
        visited += 1;
        if mutex.is_some_and(|m| m.lock().expires.is_empty()) {
            continue;
        }
        expired_total += expire_shard(ks, db, slot as u16, now_ms, &mut commit);
        if visited.is_multiple_of(CLOCK_CHECK_SHARDS) && started.elapsed() >= budget {
            break;
        }
    }
    expired_total
}

fn advance(cursor: &mut ExpireCursor, dbs: usize) {
    cursor.slot += 1;
    if cursor.slot == SLOTS {
        cursor.slot = 0;
        cursor.db = (cursor.db + 1) % dbs;
    }
}

/// Samples one shard repeatedly, deleting expired keys, while a sample is >25% expired.
fn expire_shard(
    ks: &Keyspace,
    db: usize,
    slot: u16,
    now_ms: i64,
    commit: &mut impl FnMut(&mut Txn<'_>),
) -> u64 {
    let mut rng = fastrand::Rng::new();
    let mut total = 0;
    loop {
        let mut txn = Txn::shared(ks, db, now_ms);
        let shard = txn.shard_at(db, slot);
        let mut due = Vec::new();
        let mut sampled = 0;
        shard.expires.sample(&mut rng, SAMPLE_KEYS, |e| {
            sampled += 1;
            if e.at_ms <= now_ms {
                due.push(e.key.as_slice().to_vec());
            }
        });
        for key in &due {
            txn.expire_now(db, key);
        }
        let n = due.len() as u64;
        total += n;
        if n > 0 {
            commit(&mut txn);
        }
        if sampled == 0 || (n as usize) * 4 <= sampled {
            return total;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::Value;

    #[test]
    fn deletes_expired_keys_without_access() {
        let ks = Keyspace::new(2);
        {
            let mut t = Txn::shared(&ks, 1, 0);
            for i in 0..500 {
                let k = format!("k{i}");
                t.lock_keys([(1, k.as_bytes())]);
                t.set(k.as_bytes(), Value::str(b"v"), false);
                if i % 2 == 0 {
                    t.set_expire(k.as_bytes(), 1_000);
                }
                t.release_shards();
            }
        }
        let mut cursor = ExpireCursor::default();
        let mut commits = 0;
        let n = active_expire_cycle(&ks, &mut cursor, 2_000, Duration::from_secs(5), |_| {
            commits += 1
        });
        assert_eq!(n, 250);
        assert!(commits > 0);
        assert_eq!(ks.db(1).key_count(), 250);
        assert_eq!(ks.db(1).volatile_count(), 0);
    }
}
