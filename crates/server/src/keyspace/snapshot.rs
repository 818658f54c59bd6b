//! Fork-free, point-in-time snapshots of the keyspace (BGSAVE, full resync, AOF rewrite).
//!
//! A snapshot starts at a barrier: with the keyspace held exclusively, [`Snapshots::begin`]
//! records the epoch and whatever the caller wants frozen with it (the replication offset).
//! A serializer then walks every slot shard in order and encodes it. A write that is about to
//! change a shard the serializer has not reached yet first encodes that shard itself, under
//! the lock it already holds, and hands the bytes to the snapshot ([`Snapshots::before_write`]).
//! Either way every shard is encoded exactly once, as it was at the barrier:
//!
//! - nothing waits for the disk or the network: the write pays one in-memory encoding of the
//!   shard it touches, once per snapshot;
//! - the extra memory is only the bytes encoded early, held until the serializer, once in
//!   their database, next takes them ([`ActiveSnapshot::take_early`]); no fork, no doubled
//!   RSS.
//!
//! Which shards are done is one bit per (database, slot) in the snapshot's own bitmap, tested
//! and set under the shard lock, so the shards themselves carry nothing for it. The encoding itself (RDB) is supplied by the
//! caller, so the keyspace does not know the file format.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwapOption;
use parking_lot::Mutex;

use super::db::Shard;
use super::slot::SLOTS;

const WORDS_PER_DB: usize = SLOTS / 64;

/// Encodes one shard's keys (database, slot, shard) into the snapshot's format.
pub type ShardEncoder = Box<dyn Fn(usize, u16, &Shard) -> Vec<u8> + Send + Sync>;

/// An active snapshot, as writers see it.
pub struct ActiveSnapshot {
    pub epoch: u64,
    encode: ShardEncoder,
    /// One bit per (database, slot): set once the shard is encoded.
    done: Box<[AtomicU64]>,
    /// Shards encoded by writers ahead of the serializer: (database, slot, bytes).
    early: Mutex<Vec<(usize, u16, Vec<u8>)>>,
    /// Bytes held in `early`, for INFO and tests.
    pub early_bytes: AtomicU64,
    /// Every byte writers encoded early, taken or not: the memory this snapshot cost beyond
    /// the dataset, what a fork's copy-on-write costs in Redis (INFO `current_cow_size`).
    pub early_total_bytes: AtomicU64,
    /// Keys encoded so far, by the serializer or by writers (INFO
    /// `current_save_keys_processed`).
    pub keys_done: AtomicU64,
}

impl ActiveSnapshot {
    /// Encodes `shard` if this snapshot has not got it yet; marks it done. Call with the
    /// shard locked. Returns the encoding if this call produced it.
    fn take_shard(&self, db: usize, slot: u16, shard: &mut Shard) -> Option<Vec<u8>> {
        let i = usize::from(slot);
        let word = self.done.get(db * WORDS_PER_DB + i / 64)?;
        let bit = 1u64 << (i % 64);
        // The shard lock orders this against every other taker of the same shard.
        if word.fetch_or(bit, Ordering::Relaxed) & bit != 0 {
            return None;
        }
        self.keys_done
            .fetch_add(shard.keys.len() as u64, Ordering::Relaxed);
        Some((self.encode)(db, slot, shard))
    }

    /// The serializer's step: the encoding of a shard not yet taken by a writer.
    pub fn serialize(&self, db: usize, slot: u16, shard: &mut Shard) -> Option<Vec<u8>> {
        self.take_shard(db, slot, shard)
    }

    /// Removes and returns the chunks writers encoded early for database `db`.
    pub fn take_early(&self, db: usize) -> Vec<Vec<u8>> {
        let mut early = self.early.lock();
        let (mine, rest): (Vec<_>, Vec<_>) = early.drain(..).partition(|(d, _, _)| *d == db);
        *early = rest;
        let taken: Vec<Vec<u8>> = mine.into_iter().map(|(_, _, bytes)| bytes).collect();
        let n: u64 = taken.iter().map(|b| b.len() as u64).sum();
        self.early_bytes.fetch_sub(n, Ordering::Relaxed);
        taken
    }
}

/// The keyspace's snapshot registry: at most one snapshot is active at a time.
pub struct Snapshots {
    databases: usize,
    active: ArcSwapOption<ActiveSnapshot>,
    /// `active` is set: one plain load for every write to check, where loading `active`
    /// costs several atomic operations.
    running: std::sync::atomic::AtomicBool,
    last_epoch: AtomicU64,
    /// `last_epoch` at the last CONFIG RESETSTAT.
    counted_from: AtomicU64,
}

impl Snapshots {
    pub fn new(databases: usize) -> Self {
        Snapshots {
            databases,
            active: ArcSwapOption::empty(),
            running: Default::default(),
            last_epoch: AtomicU64::new(0),
            counted_from: AtomicU64::new(0),
        }
    }

    /// Starts a snapshot. Call at the barrier, holding the keyspace exclusively. Returns
    /// `None` if one is already running.
    pub fn begin(&self, encode: ShardEncoder) -> Option<Arc<ActiveSnapshot>> {
        if self.active.load().is_some() {
            return None;
        }
        let epoch = self.last_epoch.fetch_add(1, Ordering::AcqRel) + 1;
        let snap = Arc::new(ActiveSnapshot {
            epoch,
            encode,
            done: (0..self.databases * WORDS_PER_DB)
                .map(|_| AtomicU64::new(0))
                .collect(),
            early: Mutex::new(Vec::new()),
            early_bytes: AtomicU64::new(0),
            early_total_bytes: AtomicU64::new(0),
            keys_done: AtomicU64::new(0),
        });
        self.active.store(Some(snap.clone()));
        self.running.store(true, Ordering::Release);
        Some(snap)
    }

    /// Snapshots begun since start-up: the background jobs Redis forks for (INFO
    /// `total_forks` counts these, so tools waiting for a background save see it start).
    pub fn started(&self) -> u64 {
        (self.last_epoch.load(Ordering::Acquire))
            .saturating_sub(self.counted_from.load(Ordering::Acquire))
    }

    /// Counts [`Snapshots::started`] from zero again (CONFIG RESETSTAT).
    pub fn reset_started(&self) {
        self.counted_from
            .store(self.last_epoch.load(Ordering::Acquire), Ordering::Release);
    }

    /// Ends the active snapshot (done or abandoned).
    pub fn end(&self) {
        self.running.store(false, Ordering::Release);
        self.active.store(None);
    }

    pub fn is_active(&self) -> bool {
        self.running.load(Ordering::Acquire)
    }

    /// The running snapshot, if any.
    pub fn active(&self) -> Option<Arc<ActiveSnapshot>> {
        self.active.load_full()
    }

    /// Called before a shard is modified, with its lock held: a snapshot that has not
    /// reached the shard gets its pre-write contents now.
    #[inline]
    pub fn before_write(&self, db: usize, slot: u16, shard: &mut Shard) {
        if !self.running.load(Ordering::Acquire) {
            return;
        }
        let guard = self.active.load();
        let Some(snap) = guard.as_ref() else { return };
        if let Some(bytes) = snap.take_shard(db, slot, shard) {
            snap.early_bytes
                .fetch_add(bytes.len() as u64, Ordering::Relaxed);
            snap.early_total_bytes
                .fetch_add(bytes.len() as u64, Ordering::Relaxed);
            snap.early.lock().push((db, slot, bytes));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::db::Keyspace;
    use crate::keyspace::slot::{key_slot, SLOTS};
    use crate::keyspace::txn::Txn;
    use crate::keyspace::Value;

    fn encoder() -> ShardEncoder {
        Box::new(|_db, _slot, shard: &Shard| {
            let mut out = Vec::new();
            let mut keys: Vec<_> = shard
                .keys
                .iter()
                .map(|e| {
                    (
                        e.key.as_slice().to_vec(),
                        e.value.as_str().unwrap_or_default().to_vec(),
                    )
                })
                .collect();
            keys.sort();
            for (k, v) in keys {
                out.extend_from_slice(&k);
                out.push(b'=');
                out.extend_from_slice(&v);
                out.push(b';');
            }
            out
        })
    }

    /// Serializes db 0 like the real serializer would, writes interleaved by `between`.
    fn run(ks: &Keyspace, snap: &ActiveSnapshot, mut between: impl FnMut(u16)) -> Vec<u8> {
        let mut out = Vec::new();
        for slot in 0..SLOTS as u16 {
            between(slot);
            let mut shard = ks.db(0).shard(slot).lock();
            if let Some(bytes) = snap.serialize(0, slot, &mut shard) {
                out.extend(bytes);
            }
        }
        for chunk in snap.take_early(0) {
            out.extend(chunk);
        }
        out
    }

    fn set(ks: &Keyspace, key: &str, value: &str) {
        let mut t = Txn::shared(ks, 0, 0);
        t.writes = true;
        t.lock_keys([(0, key.as_bytes())]);
        t.set(key.as_bytes(), Value::str(value.as_bytes()), false);
    }

    #[test]
    fn the_image_is_the_state_at_the_barrier() {
        let ks = Keyspace::new(1);
        for i in 0..200 {
            set(&ks, &format!("k{i}"), "old");
        }
        let snap = {
            let _barrier = Txn::exclusive(&ks, 0, 0);
            ks.snapshots.begin(encoder()).unwrap()
        };
        assert!(ks.snapshots.begin(encoder()).is_none(), "one at a time");
        // Overwrite every key while the serializer walks; half of them before it gets there.
        let image = run(&ks, &snap, |slot| {
            for i in 0..200 {
                let key = format!("k{i}");
                if key_slot(key.as_bytes()) == slot.wrapping_add(7) % SLOTS as u16 {
                    set(&ks, &key, "new");
                }
            }
        });
        ks.snapshots.end();
        let text = String::from_utf8(image).unwrap();
        assert_eq!(
            text.matches("=old;").count(),
            200,
            "every key as it was at the barrier"
        );
        assert!(!text.contains("=new;"));
        assert!(
            snap.early_bytes.load(Ordering::Relaxed) == 0,
            "early chunks were handed over"
        );
        // After the snapshot, writes pay nothing.
        set(&ks, "k1", "later");
    }
}
