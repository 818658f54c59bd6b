//! Warming the cache for the keys of a pipelined batch before its commands run.
//!
//! A command on a random key waits on three cache misses in a row: the slot shard (its lock),
//! the bucket of the shard's table, and the key's node. Run one after another, sixteen
//! pipelined commands wait for forty-eight misses. Given the keys of the commands about to run,
//! [`Warmer`] walks them in three passes, each asking the CPU for one level of every key before
//! waiting for any: the misses of a batch then overlap, and the commands that follow find
//! their keys in cache. It changes nothing and decides nothing; a key it misses (a shard
//! another thread holds, a database never written) is just looked up cold.

use parking_lot::Mutex;

use super::db::{Db, Keyspace, Shard};
use super::dict::hash_key;
use super::slot::key_slot;

/// The keys warmed at most per call, as many as the CPU keeps misses in flight.
pub const MAX_KEYS: usize = 16;

/// Asks the CPU to load the cache line at `addr` into every level. Never faults.
#[inline(always)]
pub fn prefetch(addr: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint; it reads nothing architecturally and never faults.
    #[allow(unused_unsafe)]
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(addr.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = addr;
}

/// Collects the keys of the requests about to run, then warms their shard, bucket and node.
pub struct Warmer<'a> {
    db: &'a Db,
    wanted: [(u16, u64); MAX_KEYS],
    n: usize,
}

impl<'a> Warmer<'a> {
    /// A warmer for database `db`; `None` if it holds no key (nothing to warm).
    pub fn new(ks: &'a Keyspace, db: usize) -> Option<Warmer<'a>> {
        let db = ks
            .dbs()
            .get(db)
            .filter(|d| d.is_allocated() && !d.is_empty_for_reads())?;
        Some(Warmer {
            db,
            wanted: [(0, 0); MAX_KEYS],
            n: 0,
        })
    }

    /// True when no more keys fit.
    pub fn is_full(&self) -> bool {
        self.n == MAX_KEYS
    }

    /// How many distinct keys were added.
    pub fn distinct_keys(&self) -> usize {
        self.n
    }

    /// Adds a key and asks at once for its shard. Ignored when full, and when the key is the
    /// one added last (by its hash; a collision only skips a hint): a batch on one key, such
    /// as pushes to one list, is already in cache after its first command.
    pub fn add(&mut self, key: &[u8]) {
        if self.is_full() {
            return;
        }
        let hash = hash_key(key);
        if self.n > 0 && self.wanted[self.n - 1].1 == hash {
            return;
        }
        let slot = key_slot(key);
        self.wanted[self.n] = (slot, hash);
        self.n += 1;
        if let Some(shard) = self.db.shard_if_allocated(slot) {
            prefetch((shard as *const Mutex<Shard>).cast());
        }
    }

    /// Asks for the buckets, then the nodes, of the keys added. A single key is left alone:
    /// it has no other miss to overlap with.
    pub fn finish(self) {
        let wanted = &self.wanted[..self.n];
        if wanted.len() < 2 {
            return;
        }
        for &(slot, hash) in wanted {
            if let Some(shard) = self.db.shard_if_allocated(slot).and_then(|s| s.try_lock()) {
                shard.keys.prefetch_bucket(hash);
            }
        }
        for &(slot, hash) in wanted {
            if let Some(shard) = self.db.shard_if_allocated(slot).and_then(|s| s.try_lock()) {
                shard.keys.prefetch_node(hash);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::txn::Txn;
    use crate::keyspace::value::Value;

    #[test]
    fn an_empty_database_is_not_warmed_nor_allocated() {
        let ks = Keyspace::new(2);
        assert!(Warmer::new(&ks, 0).is_none(), "empty");
        assert!(Warmer::new(&ks, 1).is_none(), "never written");
        assert!(Warmer::new(&ks, 5).is_none(), "no such database");
        assert!(!ks.db(1).is_allocated());
    }

    #[test]
    fn warming_leaves_the_keys_and_a_held_shard_alone() {
        let ks = Keyspace::new(1);
        let keys: Vec<Vec<u8>> = (0..40).map(|i| format!("k{i}").into_bytes()).collect();
        {
            let mut t = Txn::shared(&ks, 0, 0);
            for k in &keys {
                t.set(k, Value::str(b"v"), false);
            }
        }
        let held = ks.db(0).shard(key_slot(&keys[0])).lock();
        let mut warmer = Warmer::new(&ks, 0).expect("written to");
        for k in keys.iter().chain(std::iter::once(&b"absent".to_vec())) {
            warmer.add(k);
        }
        assert!(warmer.is_full());
        warmer.finish();
        drop(held);
        let mut t = Txn::shared(&ks, 0, 0);
        for k in &keys {
            t.lock_keys([(0, &k[..])]);
            assert!(t.get(k).is_some());
        }
        assert_eq!(ks.db(0).key_count(), 40);
    }
}
