//! `Txn`: a command's (or a MULTI/EXEC block's) locked view of the keyspace.
//!
//! The dispatch gate opens a `Txn`, locks the shards of the command's declared keys in
//! ascending (database, slot) order, runs the handler against it, then commits: the effects
//! the handler recorded (commands to propagate, keyspace events, the dirty count) leave while
//! the locks are still held, so the replication stream orders writes exactly as the locks
//! serialized them.
//!
//! Every key lookup goes through here, which is where lazy expiry happens: a key found past its
//! expiry time is deleted (a DEL is propagated and an `expired` event recorded) and reported
//! missing. On a replica keys are never deleted by time; they only read as missing.

use std::sync::atomic::Ordering;

use parking_lot::{MutexGuard, RwLockReadGuard, RwLockWriteGuard};
use smallvec::SmallVec;

use super::access;
pub use super::access::lru_clock_at;
use super::bytes::CompactBytes;
use super::db::{Keyspace, Shard};
use super::slot::key_slot;
use super::value::{ExpireEntry, KeyEntry, Value, FLAG_EXPIRES, FLAG_NOT_INT, FLAG_RAW};
use crate::keyspace::dict::hash_key;

/// How the gate is held.
enum Gate<'a> {
    /// Not yet: taken shared on first shard access (commands that rarely touch keys).
    Lazy,
    Shared(#[allow(dead_code)] RwLockReadGuard<'a, ()>),
    Exclusive(#[allow(dead_code)] RwLockWriteGuard<'a, ()>),
}

struct Held<'a> {
    db: u32,
    slot: u16,
    guard: MutexGuard<'a, Shard>,
}

/// Longest key whose slot [`SlotMemo`] remembers.
const MEMO_KEY_MAX: usize = 40;

/// The slots of the keys locked up front, so handler lookups of the same keys skip CRC16.
#[derive(Default)]
struct SlotMemo {
    entries: SmallVec<[(u8, [u8; MEMO_KEY_MAX], u16); 2]>,
}

impl SlotMemo {
    fn remember(&mut self, key: &[u8], slot: u16) {
        if key.len() <= MEMO_KEY_MAX && self.entries.len() < 2 {
            let mut bytes = [0; MEMO_KEY_MAX];
            bytes[..key.len()].copy_from_slice(key);
            self.entries.push((key.len() as u8, bytes, slot));
        }
    }

    fn slot_of(&self, key: &[u8]) -> u16 {
        for (len, bytes, slot) in &self.entries {
            if *len as usize == key.len() && &bytes[..key.len()] == key {
                return *slot;
            }
        }
        key_slot(key)
    }
}

/// Keyspace event classes (the flags of `notify-keyspace-events`).
pub mod event {
    pub const GENERIC: u32 = 1 << 2;
    pub const STRING: u32 = 1 << 3;
    pub const LIST: u32 = 1 << 4;
    pub const SET: u32 = 1 << 5;
    pub const HASH: u32 = 1 << 6;
    pub const ZSET: u32 = 1 << 7;
    pub const EXPIRED: u32 = 1 << 8;
    pub const EVICTED: u32 = 1 << 9;
    pub const STREAM: u32 = 1 << 10;
    pub const KEY_MISS: u32 = 1 << 11;
    pub const LOADED: u32 = 1 << 12;
    pub const MODULE: u32 = 1 << 13;
    pub const NEW: u32 = 1 << 14;
}

/// What a lookup is for: reads count hits and misses, reads and writes refresh the access
/// time, peeks do neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    Read,
    Write,
    Peek,
}

enum Found {
    Missing,
    Expired,
    Live,
}

/// A keyspace event recorded by a command, published at commit.
#[derive(Debug, Clone)]
pub struct KeyEvent {
    pub class: u32,
    pub event: &'static str,
    pub db: usize,
    pub key: Vec<u8>,
}

/// What a command did besides its reply.
#[derive(Default)]
pub struct Effects {
    /// Changes made, for `rdb_changes_since_last_save` and the decision to propagate.
    pub dirty: u64,
    /// Commands to propagate, in order, each with the database it applies to, RESP-encoded.
    pub propagate: Vec<Propagated>,
    /// The handler chose its own propagation (rewritten form); don't propagate argv.
    pub rewritten: bool,
    /// Wrap the propagated commands in MULTI/EXEC when there are several (a script's).
    pub wrap_multi: bool,
    /// Keyspace events to publish.
    pub events: Vec<KeyEvent>,
    /// Keys whose expiry was processed lazily (for INFO `expired_keys`).
    pub expired: u64,
    /// Keys modified that blocked clients may wait on: (db, key).
    pub ready_keys: Vec<(usize, Vec<u8>)>,
    /// Read lookups that found / did not find their key (INFO `keyspace_hits/misses`).
    pub hits: u64,
    pub misses: u64,
}

/// One command for the propagation point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Propagated {
    pub db: usize,
    /// The command, RESP-encoded.
    pub cmd: Vec<u8>,
    /// Where it goes (`crate::propagate::target`).
    pub targets: u8,
}

impl Propagated {
    /// A command for the AOF and the replicas.
    pub fn everywhere(db: usize, cmd: Vec<u8>) -> Self {
        Propagated {
            db,
            cmd,
            targets: crate::propagate::target::ALL,
        }
    }
}

/// Encodes a command as a RESP multibulk.
pub fn encode_command(args: &[&[u8]], out: &mut Vec<u8>) {
    out.push(b'*');
    rudis_resp::number::push_i64(out, args.len() as i64);
    out.extend_from_slice(b"\r\n");
    for a in args {
        out.push(b'$');
        rudis_resp::number::push_i64(out, a.len() as i64);
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// A locked view of the keyspace for one command or one EXEC.
pub struct Txn<'a> {
    ks: &'a Keyspace,
    _gate: Gate<'a>,
    held: SmallVec<[Held<'a>; 4]>,
    memo: SlotMemo,
    exclusive: bool,
    /// The selected database.
    pub db: usize,
    /// The command's notion of now, in Unix milliseconds.
    pub now_ms: i64,
    /// The access stamp of a key created now: the LRU clock, or under LFU the fresh counter
    /// stamped with the minute clock (see `keyspace::access`).
    pub lru_clock: u32,
    /// LFU tracking parameters, when an LFU policy is in force.
    lfu: Option<access::Lfu>,
    /// True on a replica: keys are never deleted because of time, only hidden.
    pub replica: bool,
    /// Loading the AOF: time stands still, as in Redis's loader. Expired keys stay visible
    /// and are not deleted (the file's own commands decide what happens to them).
    pub loading: bool,
    /// True for the master's stream on a replica: expired keys are still there, as the
    /// master sees them (its DEL is what removes them).
    pub from_master: bool,
    /// The command may write: every shard it locks is offered to an active snapshot first.
    /// Mutating methods offer their shard even when this is false (lazy expiry in a read).
    pub writes: bool,
    /// Propagation targets this command's effects must not reach (a replica applying its
    /// master's stream excludes the replicas: they get the master's own bytes).
    pub exclude_targets: u8,
    pub effects: Effects,
    /// Keys removed per database, taken off `Db::keys_upper_bound` when the transaction ends.
    removed: SmallVec<[(usize, i64); 1]>,
    /// A database this read-only transaction found empty instead of locking its keys' shards:
    /// its lookups in shards it does not hold miss at once.
    empty_db: Option<usize>,
}

impl Drop for Txn<'_> {
    /// Runs before the shard guards are released, so the bound never dips below what others
    /// can see.
    fn drop(&mut self) {
        for &(db, n) in &self.removed {
            self.ks
                .db(db)
                .keys_upper_bound
                .fetch_sub(n, Ordering::Release);
        }
    }
}

impl<'a> Txn<'a> {
    /// A transaction holding the gate shared. Lock keys with [`Txn::lock_keys`].
    pub fn shared(ks: &'a Keyspace, db: usize, now_ms: i64) -> Self {
        Self::open(ks, Gate::Shared(ks.gate.read()), false, db, now_ms)
    }

    /// A transaction holding the gate exclusively: any shard may be used, in any order.
    pub fn exclusive(ks: &'a Keyspace, db: usize, now_ms: i64) -> Self {
        Self::open(ks, Gate::Exclusive(ks.gate.write()), true, db, now_ms)
    }

    /// A transaction that takes the gate only if a shard is actually used.
    pub fn detached(ks: &'a Keyspace, db: usize, now_ms: i64) -> Self {
        Self::open(ks, Gate::Lazy, false, db, now_ms)
    }

    fn open(ks: &'a Keyspace, gate: Gate<'a>, exclusive: bool, db: usize, now_ms: i64) -> Self {
        Txn {
            ks,
            _gate: gate,
            held: SmallVec::new(),
            memo: SlotMemo::default(),
            exclusive,
            db,
            now_ms,
            lru_clock: match ks.access.lfu() {
                Some(_) => access::lfu_fresh(access::lfu_minutes(now_ms)),
                None => lru_clock_at(now_ms),
            },
            lfu: ks.access.lfu(),
            replica: false,
            loading: false,
            from_master: false,
            writes: false,
            exclude_targets: 0,
            effects: Effects::default(),
            removed: SmallVec::new(),
            empty_db: None,
        }
    }

    pub fn keyspace(&self) -> &'a Keyspace {
        self.ks
    }

    pub fn is_exclusive(&self) -> bool {
        self.exclusive
    }

    /// Locks the shards of `(db, key)` pairs in ascending (db, slot) order. Call before any
    /// access; locks already held are kept.
    pub fn lock_keys<'k>(&mut self, keys: impl IntoIterator<Item = (usize, &'k [u8])>) {
        let mut wanted: SmallVec<[(u32, u16); 8]> = SmallVec::new();
        for (db, key) in keys {
            let slot = key_slot(key);
            self.memo.remember(key, slot);
            wanted.push((db as u32, slot));
        }
        wanted.sort_unstable();
        wanted.dedup();
        for (db, slot) in wanted {
            self.lock_slot(db as usize, slot);
        }
    }

    /// For a command that only reads keys of database `db`: if that database is empty right
    /// now, locks nothing and lets every lookup there miss (returns true); otherwise the caller
    /// locks the keys as usual. One read of the database's key bound is the instant the
    /// command observes, so even a multi-key read sees one consistent (empty) state.
    pub fn assume_empty_if_so(&mut self, db: usize) -> bool {
        if !self.writes && !self.exclusive && self.ks.db(db).is_empty_for_reads() {
            self.empty_db = Some(db);
            return true;
        }
        false
    }

    fn note_removal(&mut self, db: usize) {
        match self.removed.iter_mut().find(|(d, _)| *d == db) {
            Some((_, n)) => *n += 1,
            None => self.removed.push((db, 1)),
        }
    }

    /// Releases every shard lock (the gate stays held). For commands that walk slots one at a
    /// time, like SCAN.
    pub fn release_shards(&mut self) {
        self.held.clear();
    }

    fn position(&self, db: u32, slot: u16) -> Result<usize, usize> {
        self.held
            .binary_search_by(|h| (h.db, h.slot).cmp(&(db, slot)))
    }

    /// Locks one shard, keeping the held set sorted.
    pub fn lock_slot(&mut self, db: usize, slot: u16) -> usize {
        let (db32, ks) = (db as u32, self.ks);
        if matches!(self._gate, Gate::Lazy) {
            self._gate = Gate::Shared(ks.gate.read());
        }
        match self.position(db32, slot) {
            Ok(i) => i,
            Err(i) => {
                let mutex = ks.db(db).shard(slot);
                let mut guard = if self.exclusive || i == self.held.len() {
                    mutex.lock()
                } else {
                    // Out of order: only safe if uncontended. Declared keys are always locked
                    // up front, so reaching here is a handler touching an undeclared key.
                    match mutex.try_lock() {
                        Some(g) => g,
                        None => {
                            tracing::warn!("shard locked out of order (db {db}, slot {slot})");
                            mutex.lock()
                        }
                    }
                };
                if self.writes {
                    ks.snapshots.before_write(db, slot, &mut guard);
                }
                self.held.insert(
                    i,
                    Held {
                        db: db32,
                        slot,
                        guard,
                    },
                );
                i
            }
        }
    }

    /// The shard holding `key`, locked and given to an active snapshot before it changes.
    fn shard_for_write(&mut self, db: usize, key: &[u8]) -> &mut Shard {
        let i = self.lock_slot(db, self.memo.slot_of(key));
        let held = &mut self.held[i];
        self.ks
            .snapshots
            .before_write(db, held.slot, &mut held.guard);
        &mut held.guard
    }

    /// The shard holding `key` in database `db`, locking it if needed.
    pub fn shard(&mut self, db: usize, key: &[u8]) -> &mut Shard {
        let i = self.lock_slot(db, self.memo.slot_of(key));
        &mut self.held[i].guard
    }

    /// The shard of `slot` in `db`, locking it if needed.
    pub fn shard_at(&mut self, db: usize, slot: u16) -> &mut Shard {
        let i = self.lock_slot(db, slot);
        &mut self.held[i].guard
    }

    // ---- Lookups -------------------------------------------------------------------------

    /// Looks up a key in the selected database for reading, expiring it lazily, and counts
    /// a keyspace hit or miss.
    pub fn get(&mut self, key: &[u8]) -> Option<&KeyEntry> {
        self.lookup(self.db, key, Lookup::Read).map(|e| &*e)
    }

    /// Looks up a key for writing, expiring it lazily.
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut KeyEntry> {
        self.lookup(self.db, key, Lookup::Write)
    }

    /// Looks up a key without updating its access time or the hit counters (TYPE, OBJECT).
    pub fn peek(&mut self, key: &[u8]) -> Option<&KeyEntry> {
        self.lookup(self.db, key, Lookup::Peek).map(|e| &*e)
    }

    pub fn exists(&mut self, key: &[u8]) -> bool {
        self.lookup(self.db, key, Lookup::Peek).is_some()
    }

    /// A key of the selected database read again without side effects (no expiry, access
    /// time or hit counting) from a shard this transaction already holds; `None` if the shard
    /// is not held. Lets a command hold several keys' values at once (SINTER, SUNION) after
    /// looking each up once with [`Txn::get`]; only call it for keys that lookup found.
    pub fn held_entry(&self, key: &[u8]) -> Option<&KeyEntry> {
        let i = self.position(self.db as u32, self.memo.slot_of(key)).ok()?;
        self.held[i].guard.keys.get(key)
    }

    /// Looks up `key` in database `db`, expiring it lazily.
    pub fn lookup(&mut self, db: usize, key: &[u8], mode: Lookup) -> Option<&mut KeyEntry> {
        if self.empty_db == Some(db)
            && (self.held.is_empty() || self.position(db as u32, self.memo.slot_of(key)).is_err())
        {
            return self.missed(mode, db, key);
        }
        let hash = hash_key(key);
        let i = self.lock_slot(db, self.memo.slot_of(key));
        let now_ms = self.now_ms;
        let state = {
            let shard = &*self.held[i].guard;
            match shard.keys.get_hashed(key, hash) {
                None => Found::Missing,
                Some(e)
                    if e.has_expire()
                        && shard
                            .expires()
                            .get_hashed(key, hash)
                            .is_some_and(|x| x.at_ms <= now_ms) =>
                {
                    Found::Expired
                }
                Some(_) => Found::Live,
            }
        };
        match state {
            Found::Live => {}
            Found::Expired if self.loading || self.from_master => {}
            Found::Expired if !self.replica => {
                self.expire_now(db, key);
                return self.missed(mode, db, key);
            }
            _ => return self.missed(mode, db, key),
        }
        if mode == Lookup::Read {
            self.effects.hits += 1;
        }
        let lru = self.lru_clock;
        if mode == Lookup::Write && !self.writes {
            let held = &mut self.held[i];
            self.ks
                .snapshots
                .before_write(db, held.slot, &mut held.guard);
        }
        let lfu = self.lfu;
        let entry = self.held[i].guard.keys.get_mut_hashed(key, hash)?;
        if mode != Lookup::Peek {
            entry.access = touched(entry.access, lru, lfu);
        }
        Some(entry)
    }

    /// A read lookup that finds nothing counts a miss and fires `keymiss`, as in Redis.
    fn missed<T>(&mut self, mode: Lookup, db: usize, key: &[u8]) -> Option<T> {
        if mode == Lookup::Read {
            self.effects.misses += 1;
            self.notify_in(db, event::KEY_MISS, "keymiss", key);
        }
        None
    }

    /// Deletes a key whose time has come, with the effects Redis gives an expiry.
    pub fn expire_now(&mut self, db: usize, key: &[u8]) {
        if self.remove_in(db, key).is_some() {
            self.signal_modified_in(db, key);
            self.effects.expired += 1;
            let mut cmd = Vec::new();
            encode_command(&[b"DEL", key], &mut cmd);
            self.effects.propagate.push(Propagated::everywhere(db, cmd));
            self.notify_in(db, event::EXPIRED, "expired", key);
        }
    }

    /// The expiry time of a key (Unix ms), if it has one. Does not expire it.
    pub fn expire_at(&mut self, key: &[u8]) -> Option<i64> {
        let db = self.db;
        let shard = self.shard(db, key);
        if !shard.keys.get(key)?.has_expire() {
            return None;
        }
        shard.expires().get(key).map(|e| e.at_ms)
    }

    // ---- Changes ------------------------------------------------------------------------

    /// Stores `value` under `key` in the selected database, replacing any old value. The
    /// expiry time is cleared unless `keep_ttl`. Returns true if the key was new.
    pub fn set(&mut self, key: &[u8], value: Value, keep_ttl: bool) -> bool {
        self.set_in(self.db, key, value, keep_ttl)
    }

    pub fn set_in(&mut self, db: usize, key: &[u8], value: Value, keep_ttl: bool) -> bool {
        // A client blocked on this key may be able to run now (RENAME, SORT ... STORE...).
        self.signal_ready_in(db, key);
        let (lru, lfu) = (self.lru_clock, self.lfu);
        let ks = self.ks;
        let shard = self.shard_for_write(db, key);
        let hash = hash_key(key);
        match shard.keys.get_mut_hashed(key, hash) {
            Some(entry) => {
                entry.value = value;
                entry.access = touched(entry.access, lru, lfu);
                entry.flags &= !(FLAG_RAW | FLAG_NOT_INT);
                if !keep_ttl && entry.has_expire() {
                    entry.flags &= !FLAG_EXPIRES;
                    shard.expires_mut().remove_hashed(key, hash);
                    ks.db(db).volatile.fetch_sub(1, Ordering::Relaxed);
                }
                false
            }
            None => {
                shard
                    .keys
                    .insert_new_hashed(KeyEntry::new(key, value, lru), hash);
                ks.db(db).count_inserted();
                self.notify_in(db, event::NEW, "new", key);
                true
            }
        }
    }

    /// Adds a key known not to exist (after a lookup returned `None`).
    pub fn add(&mut self, key: &[u8], value: Value) -> &mut KeyEntry {
        let (db, lru, ks) = (self.db, self.lru_clock, self.ks);
        if self.replica {
            // Where expired keys are kept (a writable replica, a pause), the lookup read one
            // as missing; it is replaced, as Redis deletes it on a write lookup.
            let _ = self.remove_in(db, key);
        }
        self.signal_ready_in(db, key);
        // Every key created fires `new`, before the command's own event, as in Redis.
        self.notify_in(db, event::NEW, "new", key);
        let shard = self.shard_for_write(db, key);
        ks.db(db).count_inserted();
        shard.keys.insert_new(KeyEntry::new(key, value, lru))
    }

    /// Removes a key from the selected database (no expiry check: a logically expired key is
    /// still removed and reported).
    pub fn remove(&mut self, key: &[u8]) -> Option<KeyEntry> {
        self.remove_in(self.db, key)
    }

    pub fn remove_in(&mut self, db: usize, key: &[u8]) -> Option<KeyEntry> {
        let ks = self.ks;
        let shard = self.shard_for_write(db, key);
        let hash = hash_key(key);
        let entry = shard.keys.remove_hashed(key, hash)?;
        if entry.has_expire() {
            shard.expires_mut().remove_hashed(key, hash);
            ks.db(db).volatile.fetch_sub(1, Ordering::Relaxed);
        }
        ks.db(db).keys.fetch_sub(1, Ordering::Relaxed);
        self.note_removal(db);
        // A client blocked in XREADGROUP on a stream that goes away is answered at once.
        if matches!(entry.value, Value::Stream(_)) {
            self.signal_ready_in(db, key);
        }
        Some(entry)
    }

    /// Sets the expiry time of an existing key. Returns false if the key does not exist.
    pub fn set_expire(&mut self, key: &[u8], at_ms: i64) -> bool {
        self.set_expire_in(self.db, key, at_ms)
    }

    pub fn set_expire_in(&mut self, db: usize, key: &[u8], at_ms: i64) -> bool {
        let ks = self.ks;
        let shard = self.shard_for_write(db, key);
        let hash = hash_key(key);
        let Some(entry) = shard.keys.get_mut_hashed(key, hash) else {
            return false;
        };
        let had_expire = entry.has_expire();
        entry.flags |= FLAG_EXPIRES;
        if had_expire {
            if let Some(e) = shard.expires_mut().get_mut_hashed(key, hash) {
                e.at_ms = at_ms;
                return true;
            }
        }
        shard.expires_mut().insert_new_hashed(
            ExpireEntry {
                key: CompactBytes::new(key),
                at_ms,
            },
            hash,
        );
        ks.db(db).volatile.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Removes the expiry time of a key. Returns true if it had one.
    pub fn persist(&mut self, key: &[u8]) -> bool {
        let (db, ks) = (self.db, self.ks);
        let shard = self.shard_for_write(db, key);
        let hash = hash_key(key);
        let Some(entry) = shard.keys.get_mut_hashed(key, hash) else {
            return false;
        };
        if !entry.has_expire() {
            return false;
        }
        entry.flags &= !FLAG_EXPIRES;
        shard.expires_mut().remove_hashed(key, hash);
        ks.db(db).volatile.fetch_sub(1, Ordering::Relaxed);
        true
    }

    // ---- Effects ------------------------------------------------------------------------

    /// A write changed `key`: WATCHers of it see it as modified, and clients blocked on it
    /// get a chance to run.
    pub fn signal_modified(&mut self, key: &[u8]) {
        self.signal_modified_in(self.db, key)
    }

    pub fn signal_modified_in(&mut self, db: usize, key: &[u8]) {
        self.shard(db, key).touch_watchers(key);
    }

    /// Marks a key as ready for clients blocked on it (a push to a list, an add to a zset).
    pub fn signal_ready(&mut self, key: &[u8]) {
        self.signal_ready_in(self.db, key);
    }

    /// Marks `key` in `db` as ready if a client is blocked on it.
    pub fn signal_ready_in(&mut self, db: usize, key: &[u8]) {
        if self.shard(db, key).has_waiters(key)
            && !self
                .effects
                .ready_keys
                .iter()
                .any(|(d, k)| *d == db && k == key)
        {
            self.effects.ready_keys.push((db, key.to_vec()));
        }
    }

    /// Records a keyspace event in the selected database.
    pub fn notify(&mut self, class: u32, event: &'static str, key: &[u8]) {
        self.notify_in(self.db, class, event, key)
    }

    pub fn notify_in(&mut self, db: usize, class: u32, event: &'static str, key: &[u8]) {
        if !self.ks.notifies(class) {
            return;
        }
        self.effects.events.push(KeyEvent {
            class,
            event,
            db,
            key: key.to_vec(),
        });
    }

    /// Counts `n` changes.
    pub fn dirty(&mut self, n: u64) {
        self.effects.dirty += n;
    }

    /// Propagates `args` (in the selected database) instead of the command as received. Call
    /// once per command to emit; calling it at all replaces the default propagation.
    pub fn propagate(&mut self, args: &[&[u8]]) {
        self.propagate_to(args, crate::propagate::target::ALL);
    }

    /// Like [`Txn::propagate`], to some targets only (PUBLISH goes to replicas, not the AOF).
    pub fn propagate_to(&mut self, args: &[&[u8]], targets: u8) {
        let mut cmd = Vec::new();
        encode_command(args, &mut cmd);
        self.effects.propagate.push(Propagated {
            db: self.db,
            cmd,
            targets,
        });
        self.effects.rewritten = true;
    }

    /// Prevents the default propagation of the command as received.
    pub fn prevent_propagation(&mut self) {
        self.effects.rewritten = true;
    }
}

/// A key's access stamp after a use: the current LRU clock, or under LFU its counter
/// advanced (`fresh` is the fresh LFU stamp, carrying the minute clock).
fn touched(access: u32, fresh: u32, lfu: Option<access::Lfu>) -> u32 {
    match lfu {
        None => fresh,
        Some(l) => access::lfu_touched(access, fresh >> 8, l),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_expire_remove() {
        let ks = Keyspace::new(2);
        let mut t = Txn::shared(&ks, 0, 1_000);
        t.lock_keys([(0, &b"a"[..]), (0, &b"b"[..])]);
        assert!(t.set(b"a", Value::str(b"1"), false));
        assert!(!t.set(b"a", Value::str(b"2"), false));
        assert_eq!(t.get(b"a").unwrap().value.as_str(), Some(&b"2"[..]));
        assert!(t.set_expire(b"a", 2_000));
        assert_eq!(t.expire_at(b"a"), Some(2_000));
        assert_eq!(ks.db(0).volatile_count(), 1);
        t.now_ms = 2_000;
        assert!(t.get(b"a").is_none(), "expired lazily");
        assert_eq!(t.effects.expired, 1);
        assert_eq!(t.effects.propagate.len(), 1);
        assert_eq!(ks.db(0).key_count(), 0);
        assert_eq!(ks.db(0).volatile_count(), 0);
        assert!(!ks.db(1).is_allocated());
    }

    #[test]
    fn replica_hides_but_keeps_expired_keys() {
        let ks = Keyspace::new(1);
        let mut t = Txn::shared(&ks, 0, 1_000);
        t.set(b"k", Value::str(b"v"), false);
        t.set_expire(b"k", 1_500);
        t.replica = true;
        t.now_ms = 2_000;
        assert!(t.get(b"k").is_none());
        assert_eq!(ks.db(0).key_count(), 1);
    }

    #[test]
    fn set_clears_ttl_unless_kept() {
        let ks = Keyspace::new(1);
        let mut t = Txn::shared(&ks, 0, 0);
        t.set(b"k", Value::str(b"v"), false);
        t.set_expire(b"k", 10_000);
        t.set(b"k", Value::str(b"w"), true);
        assert_eq!(t.expire_at(b"k"), Some(10_000));
        t.set(b"k", Value::str(b"x"), false);
        assert_eq!(t.expire_at(b"k"), None);
    }

    #[test]
    fn a_database_looks_empty_only_when_no_write_can_have_shown_a_key() {
        let ks = Keyspace::new(1);
        assert!(ks.db(0).is_empty_for_reads());
        let mut t = Txn::shared(&ks, 0, 0);
        t.writes = true;
        t.lock_keys([(0, &b"a"[..]), (0, &b"b"[..])]);
        t.set(b"a", Value::str(b"1"), false);
        drop(t);
        assert!(!ks.db(0).is_empty_for_reads());
        // A RENAME-like write: between its delete and its insert the key count is zero, the
        // bound is not.
        let mut t = Txn::shared(&ks, 0, 0);
        t.writes = true;
        t.lock_keys([(0, &b"a"[..]), (0, &b"b"[..])]);
        let entry = t.remove(b"a").unwrap();
        assert_eq!(ks.db(0).key_count(), 0);
        assert!(!ks.db(0).is_empty_for_reads(), "mid-write");
        t.add(b"b", entry.value);
        drop(t);
        assert!(!ks.db(0).is_empty_for_reads());
        let mut t = Txn::shared(&ks, 0, 0);
        t.writes = true;
        t.lock_keys([(0, &b"b"[..])]);
        t.remove(b"b");
        assert!(!ks.db(0).is_empty_for_reads(), "until the removal is over");
        drop(t);
        assert!(ks.db(0).is_empty_for_reads());
    }

    #[test]
    fn a_read_of_an_empty_database_misses_without_locking() {
        let ks = Keyspace::new(1);
        let mut t = Txn::shared(&ks, 0, 0);
        assert!(t.assume_empty_if_so(0));
        assert!(t.get(b"k").is_none());
        assert_eq!(t.effects.misses, 1);
        assert!(t.held.is_empty(), "no shard was locked");
        drop(t);
        let mut w = Txn::shared(&ks, 0, 0);
        w.writes = true;
        assert!(!w.assume_empty_if_so(0), "a write locks as usual");
        w.lock_keys([(0, &b"k"[..])]);
        w.set(b"k", Value::str(b"v"), false);
        drop(w);
        let mut t = Txn::shared(&ks, 0, 0);
        assert!(!t.assume_empty_if_so(0));
    }
}
