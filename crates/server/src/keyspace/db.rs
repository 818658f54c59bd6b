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

/// One hash slot of one database.
#[derive(Default)]
pub struct Shard {
    pub keys: Dict<KeyEntry>,
    pub expires: Dict<ExpireEntry>,
    /// Clients watching or blocked on keys of this shard; `None` in the common case.
    pub extras: Option<Box<ShardExtras>>,
    /// The last snapshot epoch that has this shard (see `keyspace::snapshot`).
    pub snapshot_epoch: u64,
}

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
    /// Marks every client watching `key` as dirty (see [`WatchRef::touch`]).
    pub fn touch_watchers(&mut self, key: &[u8]) {
        if let Some(extras) = &self.extras {
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
        if let Some(extras) = &self.extras {
            for list in extras.watchers.values() {
                for w in list {
                    w.dirty.store(true, Ordering::Release);
                }
            }
        }
    }

    /// True if a client is blocked waiting for `key`.
    pub fn has_waiters(&self, key: &[u8]) -> bool {
        self.extras.as_ref().is_some_and(|e| e.waiters.has(key))
    }

    pub fn extras_mut(&mut self) -> &mut ShardExtras {
        self.extras.get_or_insert_with(Default::default)
    }

    /// Drops the extras box once nothing is registered.
    pub fn prune_extras(&mut self) {
        if self
            .extras
            .as_ref()
            .is_some_and(|e| e.watchers.is_empty() && e.waiters.is_empty())
        {
            self.extras = None;
        }
    }
}

/// One logical database (`SELECT n`).
pub struct Db {
    shards: OnceLock<Box<[Mutex<Shard>]>>,
    /// Number of keys, maintained by [`super::txn::Txn`].
    pub keys: AtomicI64,
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
            volatile: AtomicI64::new(0),
            avg_ttl_ms: AtomicI64::new(0),
        }
    }

    /// The shard of `slot`, allocating the database's shard array on first use.
    pub fn shard(&self, slot: u16) -> &Mutex<Shard> {
        &self
            .shards
            .get_or_init(|| (0..SLOTS).map(|_| Mutex::new(Shard::default())).collect())
            [slot as usize]
    }

    /// The shard of `slot` if the database has ever been written to.
    pub fn shard_if_allocated(&self, slot: u16) -> Option<&Mutex<Shard>> {
        self.shards.get().map(|s| &s[slot as usize])
    }

    pub fn is_allocated(&self) -> bool {
        self.shards.get().is_some()
    }

    pub fn key_count(&self) -> u64 {
        self.keys.load(Ordering::Relaxed).max(0) as u64
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
}

impl Keyspace {
    pub fn new(databases: usize) -> Self {
        assert!(databases >= 1);
        let ks = Keyspace {
            dbs: (0..databases).map(|_| Db::new()).collect(),
            gate: RwLock::new(()),
            snapshots: Default::default(),
            access: Default::default(),
        };
        // Database 0 is the one nearly every deployment uses: its shard array (a fixed ~1 MB,
        // the price of per-slot locking) is part of the server's start-up footprint rather
        // than a surprise on the first write.
        ks.db(0).shard(0);
        ks
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
                shard.expires.remove(key);
                d.volatile.fetch_sub(1, Ordering::Relaxed);
            }
            d.keys.fetch_sub(1, Ordering::Relaxed);
        }
        let entry = shard.keys.insert_new(KeyEntry::new(key, value, access));
        if let Some(at_ms) = expire_at_ms {
            entry.flags |= super::value::FLAG_EXPIRES;
            shard.expires.insert_new(ExpireEntry {
                key: super::bytes::CompactBytes::new(key),
                at_ms,
            });
            d.volatile.fetch_add(1, Ordering::Relaxed);
        }
        d.keys.fetch_add(1, Ordering::Relaxed);
        true
    }
}
