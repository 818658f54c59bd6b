//! Persistence: RDB snapshots (SAVE, BGSAVE, save points, loading at start-up, DEBUG RELOAD)
//! on top of the RDB codec crate (`rudis_rdb`) and the keyspace's fork-free snapshots.
//!
//! - [`codec`]: keyspace values to and from the codec's values;
//! - [`save`]: writing files, synchronously or from a snapshot;
//! - [`load`]: reading a file into the keyspace;
//! - [`aof`]: the append only file;
//! - [`child`]: the writer process of background saves and rewrites;
//! - [`RdbState`]: what INFO persistence, LASTSAVE and the save points need to know.

pub mod aof;
pub mod child;
pub mod codec;
pub mod load;
pub mod save;
pub mod stream_codec;

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use crate::server::{unix_ms, Server};

/// How a BGSAVE ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BgsaveEnd {
    Saved,
    /// Failed: writes are refused (MISCONF) until a save succeeds.
    Failed,
    /// Stopped by the server (FLUSHALL, shutdown): neither a save nor an error.
    Stopped,
}

/// Saving and loading state.
pub struct RdbState {
    pub bgsave_running: AtomicBool,
    /// A full-sync snapshot for replicas runs (INFO counts it as a BGSAVE, as Redis's
    /// replication child is one).
    pub repl_snapshot_running: AtomicBool,
    /// Unix ms the running (or last) BGSAVE started.
    pub bgsave_started_ms: AtomicI64,
    /// Duration of the last BGSAVE, seconds; -1 before the first.
    pub last_bgsave_secs: AtomicI64,
    /// Saves attempted (INFO `rdb_saves`).
    pub saves: AtomicU64,
    /// The change counter when the last successful save began.
    pub dirty_at_save: AtomicU64,
    /// The change counter when the running BGSAVE began.
    pub dirty_at_bgsave: AtomicU64,
    /// Unix seconds of the last BGSAVE attempt (a failed one is retried after a delay).
    pub last_try_s: AtomicI64,
    /// BGSAVE SCHEDULE asked for a save once the running snapshot is done.
    pub scheduled: AtomicBool,
    pub last_load_keys_loaded: AtomicU64,
    pub last_load_keys_expired: AtomicU64,
    /// Asks the running BGSAVE to stop.
    pub cancel: AtomicBool,
    /// Keys in the image of the running BGSAVE (INFO `current_save_keys_total`).
    pub keys_total: AtomicU64,
    /// Bytes writers encoded early during the last BGSAVE (INFO `rdb_last_cow_size`).
    pub last_cow_bytes: AtomicU64,
}

impl Default for RdbState {
    fn default() -> Self {
        RdbState {
            bgsave_running: AtomicBool::new(false),
            repl_snapshot_running: AtomicBool::new(false),
            bgsave_started_ms: AtomicI64::new(0),
            last_bgsave_secs: AtomicI64::new(-1),
            saves: AtomicU64::new(0),
            dirty_at_save: AtomicU64::new(0),
            dirty_at_bgsave: AtomicU64::new(0),
            last_try_s: AtomicI64::new(0),
            scheduled: AtomicBool::new(false),
            last_load_keys_loaded: AtomicU64::new(0),
            last_load_keys_expired: AtomicU64::new(0),
            cancel: AtomicBool::new(false),
            keys_total: AtomicU64::new(0),
            last_cow_bytes: AtomicU64::new(0),
        }
    }
}

impl RdbState {
    /// The server's change counter.
    pub fn dirty_now(&self, srv: &Server) -> u64 {
        srv.stats.sum(|c| &c.dirty)
    }

    /// Changes since the last successful save (INFO `rdb_changes_since_last_save`).
    pub fn changes_since_save(&self, srv: &Server) -> u64 {
        self.dirty_now(srv)
            .saturating_sub(self.dirty_at_save.load(Ordering::Relaxed))
    }

    /// Records a successful save of the data as it was when the counter read `dirty`.
    pub fn saved(&self, srv: &Server, dirty: u64) {
        self.dirty_at_save.store(dirty, Ordering::Relaxed);
        srv.state
            .lastsave_s
            .store(unix_ms() / 1000, Ordering::Relaxed);
        srv.state.bgsave_failed.store(false, Ordering::Relaxed);
    }

    fn bgsave_started(&self, srv: &Server) {
        let now = unix_ms();
        self.saves.fetch_add(1, Ordering::Relaxed);
        self.dirty_at_bgsave
            .store(self.dirty_now(srv), Ordering::Relaxed);
        self.bgsave_started_ms.store(now, Ordering::Relaxed);
        self.last_try_s.store(now / 1000, Ordering::Relaxed);
        self.bgsave_running.store(true, Ordering::Release);
    }

    fn bgsave_finished(&self, srv: &Server, end: BgsaveEnd) {
        let started = self.bgsave_started_ms.load(Ordering::Relaxed);
        self.last_bgsave_secs
            .store((unix_ms() - started) / 1000, Ordering::Relaxed);
        match end {
            BgsaveEnd::Saved => self.saved(srv, self.dirty_at_bgsave.load(Ordering::Relaxed)),
            BgsaveEnd::Failed => srv.state.bgsave_failed.store(true, Ordering::Relaxed),
            BgsaveEnd::Stopped => {}
        }
        self.bgsave_running.store(false, Ordering::Release);
    }

    /// Records what a load found (INFO `rdb_last_load_keys_*`).
    pub fn loaded(&self, l: &load::Loaded) {
        self.last_load_keys_loaded
            .store(l.keys_loaded, Ordering::Relaxed);
        self.last_load_keys_expired
            .store(l.keys_expired, Ordering::Relaxed);
    }

    /// Seconds the running BGSAVE has taken, -1 if none runs.
    pub fn current_bgsave_secs(&self) -> i64 {
        if self.bgsave_running.load(Ordering::Acquire) {
            (unix_ms() - self.bgsave_started_ms.load(Ordering::Relaxed)) / 1000
        } else {
            -1
        }
    }
}
