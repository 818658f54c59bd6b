//! Databases and their slot shards.
//!
//! Every database is 16384 shards, one per cluster hash slot, each a [`Shard`] behind its own
//! mutex. A command locks the shards of its keys in ascending (database, slot) order, so
//! commands on different slots run in parallel and multi-key commands are atomic without a
//! global lock. A database allocates its shard array on first write, so the 15 databases most
//! deployments never use cost nothing.
//!
//! Above the shard locks sits one reader-writer gate: ordinary commands hold it shared, and
//! the few operations that need the whole keyspace still (FLUSHALL, SWAPDB, a snapshot's
//! barrier, KEYS) hold it exclusively. While it is held exclusively no shard lock is held by
//! anyone else, so the holder may lock shards in any order.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::{Mutex, RwLock};

use super::dict::Dict;
use super::slot::SLOTS;
use super::value::{ExpireEntry, KeyEntry};

/// One hash slot of one database. Every command locks the shard of each of its keys, so the
/// shard array is the keyspace's hottest memory: a shard is kept to three words (32 bytes with
/// its lock, two per cache line, 512 KB per database) and what many shards never need, expiry
/// times and watch/block registrations, lives behind one pointer.
#[derive(Default)]
pub struct Shard {
    pub keys: Dict<KeyEntry>,
    cold: Option<Box<ShardCold>>,
}

/// The parts of a shard allocated on first use.
#[derive(Default)]
struct ShardCold {
    expires: Dict<ExpireEntry>,
    /// Clients watching or blocked on keys of this shard; `None` in the common case.
    extras: Option<Box<ShardExtras>>,
}

/// A shard with its lock, aligned so that it never straddles two cache lines.
#[repr(align(32))]
pub struct ShardCell(Mutex<Shard>);

impl std::ops::Deref for ShardCell {
    type Target = Mutex<Shard>;

    fn deref(&self) -> &Mutex<Shard> {
        &self.0
    }
}

/// What `Shard::expires` returns for a shard without expiry times.
static NO_EXPIRES: std::sync::LazyLock<Dict<ExpireEntry>> = std::sync::LazyLock::new(Dict::new);

/// Per-key registrations that writes to the key must honour.
#[derive(Default)]
pub struct ShardExtras {
    /// WATCHed keys: each watching client's "dirty" flag, set when the key is modified.
    pub watchers: HashMap<Vec<u8>, Vec<WatchRef>>,
    /// Clients blocked on keys of this shard (BLPOP and friends), oldest first.
    pub waiters: super::blocking::KeyWaiters,
}

/// A client's interest in a watched key.
#[derive(Clone)]
pub struct WatchRef {
    pub client_id: u64,
    pub dirty: Arc<AtomicBool>,
    /// The key had already expired when it was WATCHed. Deleting it then changes nothing
    /// logically, so such a deletion clears this flag instead of dirtying the client.
    pub expired_at_watch: Arc<AtomicBool>,
}

impl WatchRef {
    /// The watched key was modified; `exists_now` says whether it still exists.
    pub fn touch(&self, exists_now: bool) {
        if self.expired_at_watch.load(Ordering::Acquire) && !exists_now {
            self.expired_at_watch.store(false, Ordering::Release);
            return;
        }
        self.dirty.store(true, Ordering::Release);
    }
}

impl Shard {
    /// Expiry times of this shard's volatile keys.
    pub fn expires(&self) -> &Dict<ExpireEntry> {
        match &self.cold {
            Some(cold) => &cold.expires,
            None => &NO_EXPIRES,
        }
    }

    pub fn expires_mut(&mut self) -> &mut Dict<ExpireEntry> {
        &mut self.cold.get_or_insert_with(Default::default).expires
    }

    /// Removes and returns the expiry table (FLUSHDB, SWAPDB).
    pub fn take_expires(&mut self) -> Dict<ExpireEntry> {
        match &mut self.cold {
            Some(cold) => std::mem::take(&mut cold.expires),
            None => Dict::new(),
        }
    }

    pub fn set_expires(&mut self, expires: Dict<ExpireEntry>) {
        if !expires.is_empty() || self.cold.is_some() {
            *self.expires_mut() = expires;
        }
    }

    /// Watch and block registrations, if any.
    pub fn extras(&self) -> Option<&ShardExtras> {
        self.cold.as_ref()?.extras.as_deref()
    }

    /// Watch and block registrations, if any, to change.
    pub fn extras_if_any(&mut self) -> Option<&mut ShardExtras> {
        self.cold.as_mut()?.extras.as_deref_mut()
    }

    /// Marks every client watching `key` as dirty (see [`WatchRef::touch`]).
    pub fn touch_watchers(&mut self, key: &[u8]) {
        if let Some(extras) = self.extras() {
            if let Some(list) = extras.watchers.get(key) {
                let exists_now = self.keys.contains(key);
                for w in list {
                    w.touch(exists_now);
                }
            }
        }
    }

    /// Marks every client watching any key of this shard as dirty (FLUSHDB, SWAPDB).
    pub fn touch_all_watchers(&mut self) {
        if let Some(extras) = self.extras() {
            for list in extras.watchers.values() {
                for w in list {
                    w.dirty.store(true, Ordering::Release);
                }
            }
        }
    }

    /// True if a client is blocked waiting for `key`.
    pub fn has_waiters(&self, key: &[u8]) -> bool {
        self.extras().is_some_and(|e| e.waiters.has(key))
    }

    pub fn extras_mut(&mut self) -> &mut ShardExtras {
        self.cold
            .get_or_insert_with(Default::default)
            .extras
            .get_or_insert_with(Default::default)
    }

    /// Drops the extras once nothing is registered, and the cold part once it is empty.
    pub fn prune_extras(&mut self) {
        let Some(cold) = &mut self.cold else { return };
        if cold
            .extras
            .as_ref()
            .is_some_and(|e| e.watchers.is_empty() && e.waiters.is_empty())
        {
            cold.extras = None;
        }
        if cold.extras.is_none() && cold.expires.is_empty() {
            self.cold = None;
        }
    }
}

/// One logical database (`SELECT n`).
pub struct Db {
    shards: OnceLock<Box<[ShardCell]>>,
    /// Number of keys, maintained by [`super::txn::Txn`].
    pub keys: AtomicI64,
    /// Never below the number of keys any client can see: a transaction adds to it when it
    /// inserts a key and subtracts its removals only when it ends, so while a write is half
    /// done (a RENAME between its delete and its insert) it cannot dip to zero. Zero means the
    /// database is empty, and a read-only command can answer without locking anything
    /// (see [`Db::is_empty_for_reads`]).
    pub keys_upper_bound: AtomicI64,
    /// Number of keys with an expiry time.
    pub volatile: AtomicI64,
    /// Running estimate of the average TTL of volatile keys (INFO keyspace `avg_ttl`).
    pub avg_ttl_ms: AtomicI64,
}

impl Db {
    fn new() -> Self {
        Db {
            shards: OnceLock::new(),
            keys: AtomicI64::new(0),
            keys_upper_bound: AtomicI64::new(0),
            volatile: AtomicI64::new(0),
            avg_ttl_ms: AtomicI64::new(0),
        }
    }

    /// The shard of `slot`, allocating the database's shard array on first use.
    pub fn shard(&self, slot: u16) -> &Mutex<Shard> {
        &self.shards.get_or_init(|| {
            (0..SLOTS)
                .map(|_| ShardCell(Mutex::new(Shard::default())))
                .collect()
        })[slot as usize]
    }

    /// The shard of `slot` if the database has ever been written to.
    pub fn shard_if_allocated(&self, slot: u16) -> Option<&Mutex<Shard>> {
        self.shards.get().map(|s| &*s[slot as usize])
    }

    pub fn is_allocated(&self) -> bool {
        self.shards.get().is_some()
    }

    pub fn key_count(&self) -> u64 {
        self.keys.load(Ordering::Relaxed).max(0) as u64
    }

    /// Counts a key a transaction inserted (under its shard's lock).
    pub fn count_inserted(&self) {
        self.keys.fetch_add(1, Ordering::Relaxed);
        self.keys_upper_bound.fetch_add(1, Ordering::Release);
    }

    /// True if the database holds no key at this instant: what Redis's lookup in an empty
    /// dict answers without touching memory, here without touching a shard.
    pub fn is_empty_for_reads(&self) -> bool {
        self.keys_upper_bound.load(Ordering::Acquire) <= 0
    }

    pub fn volatile_count(&self) -> u64 {
        self.volatile.load(Ordering::Relaxed).max(0) as u64
    }
}

/// All databases, plus the gate that orders whole-keyspace operations against the rest.
pub struct Keyspace {
    dbs: Box<[Db]>,
    pub(super) gate: RwLock<()>,
    /// The point-in-time snapshot in progress, if any.
    pub snapshots: super::snapshot::Snapshots,
    /// LRU or LFU access tracking, per `maxmemory-policy`.
    pub access: super::access::AccessMode,
    /// Keyspace event classes that are published (`notify-keyspace-events`); a command
    /// records only these (see `Txn::notify_in`).
    notify_classes: std::sync::atomic::AtomicU32,
}

impl Keyspace {
    pub fn new(databases: usize) -> Self {
        assert!(databases >= 1);
        let ks = Keyspace {
            dbs: (0..databases).map(|_| Db::new()).collect(),
            gate: RwLock::new(()),
            snapshots: super::snapshot::Snapshots::new(databases),
            access: Default::default(),
            notify_classes: Default::default(),
        };
        // Database 0 is the one nearly every deployment uses: its shard array (a fixed 512 KB,
        // the price of per-slot locking) is part of the server's start-up footprint rather
        // than a surprise on the first write.
        ks.db(0).shard(0);
        ks
    }

    pub fn set_notify_classes(&self, classes: u32) {
        self.notify_classes.store(classes, Ordering::Relaxed);
    }

    /// True if events of `class` are published.
    #[inline]
    pub fn notifies(&self, class: u32) -> bool {
        self.notify_classes.load(Ordering::Relaxed) & class != 0
    }

    /// True unless a command holds the whole keyspace right now (DEBUG SLEEP, FLUSHALL...).
    pub fn is_idle_enough(&self) -> bool {
        self.gate.try_read().is_some()
    }

    pub fn db_count(&self) -> usize {
        self.dbs.len()
    }

    pub fn db(&self, index: usize) -> &Db {
        &self.dbs[index]
    }

    pub fn dbs(&self) -> &[Db] {
        &self.dbs
    }

    /// Total keys across all databases.
    pub fn total_keys(&self) -> u64 {
        self.dbs.iter().map(Db::key_count).sum()
    }

    /// Adds a key read from a file (RDB loading), locking only its shard: loading runs with
    /// no command touching the keyspace and no snapshot active, so nothing else is due.
    /// A key that already exists is replaced if `replace`; otherwise nothing changes and
    /// the result is false.
    pub fn insert_loaded(
        &self,
        db: usize,
        key: &[u8],
        value: super::Value,
        expire_at_ms: Option<i64>,
        access: u32,
        replace: bool,
    ) -> bool {
        let d = self.db(db);
        let mut shard = d.shard(super::slot::key_slot(key)).lock();
        if let Some(old) = shard.keys.remove(key) {
            if !replace {
                shard.keys.insert_new(old);
                return false;
            }
            if old.has_expire() {
                shard.expires_mut().remove(key);
                d.volatile.fetch_sub(1, Ordering::Relaxed);
            }
            d.keys.fetch_sub(1, Ordering::Relaxed);
            d.keys_upper_bound.fetch_sub(1, Ordering::Release);
        }
        let entry = shard.keys.insert_new(KeyEntry::new(key, value, access));
        if let Some(at_ms) = expire_at_ms {
            entry.flags |= super::value::FLAG_EXPIRES;
            shard.expires_mut().insert_new(ExpireEntry {
                key: super::bytes::CompactBytes::new(key),
                at_ms,
            });
            d.volatile.fetch_add(1, Ordering::Relaxed);
        }
        d.keys.fetch_add(1, Ordering::Relaxed);
        d.keys_upper_bound.fetch_add(1, Ordering::Release);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shard_with_its_lock_fills_half_a_cache_line() {
        assert_eq!(std::mem::size_of::<ShardCell>(), 32);
        assert_eq!(std::mem::align_of::<ShardCell>(), 32);
    }

    #[test]
    fn expiry_table_and_extras_come_and_go_with_use() {
        let mut shard = Shard::default();
        assert!(shard.expires().is_empty() && shard.extras().is_none());
        shard.extras_mut();
        assert!(shard.extras().is_some());
        shard.prune_extras();
        assert!(shard.extras().is_none() && shard.cold.is_none());
        shard.set_expires(Dict::new());
        assert!(shard.cold.is_none(), "an empty table allocates nothing");
    }
}
