//! Active expiry: keys with an expiry time are deleted in the background even if nobody
//! touches them, as Redis's `activeExpireCycle` does. Each run visits, in every database with
//! volatile keys, the slot shards after the ones the previous run stopped at, sampling each
//! shard's expires table and deleting the expired keys it finds.
//!
//! Like Redis, a run works in rounds of about [`ROUND_KEYS`] sampled keys and leaves a
//! database once a round finds at most [`ACCEPTABLE_STALE_PERCENT`] of its sample expired:
//! the remaining expired keys are few, and lazy expiry deletes them when touched. So a
//! database of long-lived volatile keys costs a few shard visits per run, not a walk over its
//! 16384 shards, while a database where many keys are expiring is swept (at most one full lap
//! per run) until the time budget is spent. Rounds that sample nothing do not stop the walk:
//! a handful of volatile keys spread over thousands of empty shards is still found.

use std::time::{Duration, Instant};

use super::db::Keyspace;
use super::slot::SLOTS;
use super::txn::Txn;

/// Keys sampled per round in one shard.
const SAMPLE_KEYS: usize = 20;
/// Keys sampled (over consecutive shards) before judging how stale a database is.
const ROUND_KEYS: usize = 20;
/// A round with at most this share of expired keys ends the work on a database.
const ACCEPTABLE_STALE_PERCENT: usize = 10;

/// Where the next cycle resumes: the next database, and each database's next slot.
#[derive(Debug, Default)]
pub struct ExpireCursor {
    db: usize,
    slots: Vec<usize>,
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
    let deadline = Instant::now() + budget;
    let dbs = ks.db_count();
    cursor.slots.resize(dbs, 0);
    let mut expired_total = 0;
    for _ in 0..dbs {
        let db = cursor.db % dbs;
        cursor.db = (db + 1) % dbs;
        let dbref = ks.db(db);
        if !dbref.is_allocated() || dbref.volatile_count() == 0 {
            continue;
        }
        let slot = &mut cursor.slots[db];
        expired_total += expire_db(ks, db, slot, now_ms, deadline, &mut commit);
        if Instant::now() >= deadline {
            // Resume with this database next time: it may have more to do.
            cursor.db = db;
            break;
        }
    }
    expired_total
}

/// Rounds over the shards of one database from `*slot` on, until a round shows the database
/// clean enough, a full lap is done, or the deadline passes.
fn expire_db(
    ks: &Keyspace,
    db: usize,
    slot: &mut usize,
    now_ms: i64,
    deadline: Instant,
    commit: &mut impl FnMut(&mut Txn<'_>),
) -> u64 {
    let mut shards_left = SLOTS;
    let mut expired_total = 0;
    while shards_left > 0 {
        let (mut sampled, mut expired) = (0, 0);
        while shards_left > 0 && sampled < ROUND_KEYS {
            let (s, e) = expire_shard(ks, db, *slot as u16, now_ms, deadline, commit);
            *slot = (*slot + 1) % SLOTS;
            shards_left -= 1;
            sampled += s;
            expired += e;
        }
        expired_total += expired as u64;
        let clean = sampled > 0 && expired * 100 <= sampled * ACCEPTABLE_STALE_PERCENT;
        if clean || Instant::now() >= deadline {
            break;
        }
    }
    expired_total
}

/// Samples one shard repeatedly, deleting expired keys, while a sample is more than a
/// quarter expired. Returns (keys sampled, keys deleted).
fn expire_shard(
    ks: &Keyspace,
    db: usize,
    slot: u16,
    now_ms: i64,
    deadline: Instant,
    commit: &mut impl FnMut(&mut Txn<'_>),
) -> (usize, usize) {
    let mut rng = fastrand::Rng::new();
    let (mut sampled_total, mut expired_total) = (0, 0);
    loop {
        let mut txn = Txn::shared(ks, db, now_ms);
        let shard = txn.shard_at(db, slot);
        if shard.expires().is_empty() {
            return (sampled_total, expired_total);
        }
        let mut due = Vec::new();
        let mut sampled = 0;
        shard.expires().sample(&mut rng, SAMPLE_KEYS, |e| {
            sampled += 1;
            if e.at_ms <= now_ms {
                due.push(e.key.as_slice().to_vec());
            }
        });
        for key in &due {
            txn.expire_now(db, key);
        }
        sampled_total += sampled;
        expired_total += due.len();
        if !due.is_empty() {
            commit(&mut txn);
        }
        if sampled == 0 || due.len() * 4 <= sampled || Instant::now() >= deadline {
            return (sampled_total, expired_total);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::Value;

    /// Sets `n` keys `prefix{i}` in `db`, with the expiry time `at_ms` if given.
    fn fill(ks: &Keyspace, db: usize, n: usize, prefix: &str, at_ms: Option<i64>) {
        let mut t = Txn::shared(ks, db, 0);
        for i in 0..n {
            let k = format!("{prefix}{i}");
            t.lock_keys([(db, k.as_bytes())]);
            t.set_in(db, k.as_bytes(), Value::str(b"v"), false);
            if let Some(at) = at_ms {
                t.set_expire_in(db, k.as_bytes(), at);
            }
            t.release_shards();
        }
    }

    fn cycle(ks: &Keyspace, cursor: &mut ExpireCursor, now_ms: i64) -> (u64, usize) {
        let mut commits = 0;
        let n = active_expire_cycle(ks, cursor, now_ms, Duration::from_secs(5), |_| commits += 1);
        (n, commits)
    }

    #[test]
    fn deletes_expired_keys_without_access() {
        let ks = Keyspace::new(2);
        fill(&ks, 1, 250, "vol", Some(1_000));
        fill(&ks, 1, 250, "keep", None);
        let mut cursor = ExpireCursor::default();
        let (n, commits) = cycle(&ks, &mut cursor, 2_000);
        assert_eq!(n, 250);
        assert!(commits > 0);
        assert_eq!(ks.db(1).key_count(), 250);
        assert_eq!(ks.db(1).volatile_count(), 0);
    }

    #[test]
    fn finds_a_few_expired_keys_among_empty_shards() {
        let ks = Keyspace::new(1);
        fill(&ks, 0, 3, "k", Some(1_000));
        let mut cursor = ExpireCursor::default();
        assert_eq!(cycle(&ks, &mut cursor, 2_000).0, 3);
        assert_eq!(ks.db(0).key_count(), 0);
    }

    #[test]
    fn stops_early_when_few_keys_are_expired() {
        let ks = Keyspace::new(1);
        fill(&ks, 0, 20_000, "live", Some(1_000_000));
        let mut cursor = ExpireCursor::default();
        assert_eq!(cycle(&ks, &mut cursor, 2_000).0, 0);
        // One round of about 20 sampled keys, not a lap over 16384 shards.
        assert!(cursor.slots[0] < 100, "visited {} shards", cursor.slots[0]);
    }

    #[test]
    fn keeps_going_while_many_keys_are_expired() {
        let ks = Keyspace::new(1);
        fill(&ks, 0, 20_000, "live", Some(1_000_000));
        fill(&ks, 0, 20_000, "dead", Some(1_000));
        let mut cursor = ExpireCursor::default();
        let (n, _) = cycle(&ks, &mut cursor, 2_000);
        // Half the keys are expired: the cycle sweeps on until rounds look clean.
        assert!(n > 15_000, "deleted {n}");
        assert_eq!(ks.db(0).volatile_count(), 40_000 - n);
    }

    #[test]
    fn a_spent_budget_resumes_where_it_stopped() {
        let ks = Keyspace::new(3);
        fill(&ks, 0, 50, "a", Some(1_000));
        fill(&ks, 2, 50, "b", Some(1_000));
        let mut cursor = ExpireCursor::default();
        let n = active_expire_cycle(&ks, &mut cursor, 2_000, Duration::ZERO, |_| {});
        assert!(n > 0);
        let n2 = active_expire_cycle(&ks, &mut cursor, 2_000, Duration::ZERO, |_| {});
        assert!(n2 > 0, "the next cycle goes on");
        let (rest, _) = cycle(&ks, &mut cursor, 2_000);
        assert_eq!(n + n2 + rest, 100);
    }
}
