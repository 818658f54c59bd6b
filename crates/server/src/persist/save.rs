//! Writing RDB files: SAVE (with the keyspace held), BGSAVE (a fork-free snapshot that a
//! thread serializes while clients keep writing), and the final save at shutdown.
//!
//! Both paths write the same bytes: Redis 7.0's aux fields, then per non-empty database
//! SELECTDB and RESIZEDB with the counts at the barrier, then its keys shard by shard. A
//! BGSAVE's shards may be encoded by the thread or, ahead of it, by a client about to write
//! (see [`crate::keyspace::snapshot`]); early chunks of a database are appended after its
//! last shard, so every key lands under its database's SELECTDB.
//!
//! Files are written as Redis writes them: to `temp-<pid>.rdb` in the working directory
//! (which is `dir`), flushed, fsynced, renamed over `dbfilename`, and the directory fsynced.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use rudis_rdb::{AuxFields, ReplicationAux, WriteOptions, Writer};

use super::child::{Job, Outcome};
use super::codec::{self, MetaPolicy};
use super::BgsaveEnd;
use crate::keyspace::db::{Keyspace, Shard};
use crate::keyspace::slot::SLOTS;
use crate::keyspace::snapshot::ActiveSnapshot;
use crate::keyspace::txn::Txn;
use crate::server::log::{self, Verbosity};
use crate::server::{unix_ms, Server};

/// Everything about a save fixed at its barrier, besides the keys.
pub struct SaveHeader {
    options: WriteOptions,
    ctime_secs: i64,
    used_mem_bytes: u64,
    meta: MetaPolicy,
    /// Non-empty databases: (index, keys, keys with an expiry).
    dbs: Vec<(usize, u64, u64)>,
    /// `rdb-key-save-delay`: microseconds a background save waits per key (tests use it to
    /// make a save last).
    key_delay_us: i64,
    /// The image is an AOF base (the `aof-base` aux field says so).
    aof_base: bool,
    /// The replication history at the barrier (id, offset, stream database), written as
    /// aux fields when there is one to keep (a backlog, or a replica).
    replication: Option<(String, i64, i64)>,
    /// The function libraries' code, written before the databases as Redis does.
    functions: Vec<Vec<u8>>,
}

/// Sleeps `delay_us` per key, in short steps so that a stopped job ends promptly.
pub fn delay_per_key(delay_us: i64, keys: usize, stop: &dyn Fn() -> bool) {
    if delay_us <= 0 || keys == 0 {
        return;
    }
    let step = std::time::Duration::from_millis(10);
    let mut left = std::time::Duration::from_micros(delay_us as u64 * keys as u64);
    while !left.is_zero() && !stop() {
        let nap = left.min(step);
        std::thread::sleep(nap);
        left -= nap;
    }
}

impl SaveHeader {
    /// Captures the header. Call with the keyspace held (at the barrier) so the counts are
    /// those of the image.
    pub fn capture(srv: &Server) -> SaveHeader {
        let cfg = srv.cfg();
        let now_ms = unix_ms();
        let dbs = srv
            .keyspace
            .dbs()
            .iter()
            .enumerate()
            .filter(|(_, db)| db.key_count() > 0)
            .map(|(i, db)| (i, db.key_count(), db.volatile_count()))
            .collect();
        SaveHeader {
            options: WriteOptions {
                compression: cfg.rdbcompression,
                checksum: cfg.rdbchecksum,
            },
            ctime_secs: now_ms / 1000,
            used_mem_bytes: crate::server::memory::allocator_stats().allocated,
            meta: MetaPolicy::from_config(&cfg, now_ms),
            dbs,
            key_delay_us: cfg.rdb_key_save_delay,
            aof_base: false,
            replication: replication_info(srv),
            functions: srv.scripting.library_codes(),
        }
    }

    /// Marks the image as the base of an AOF.
    pub fn for_aof_base(mut self) -> SaveHeader {
        self.aof_base = true;
        self
    }

    fn start<W: Write>(&self, sink: W) -> rudis_rdb::Result<Writer<W>> {
        let mut w = Writer::new(sink, self.options)?;
        w.aux_fields(&AuxFields {
            redis_ver: crate::REDIS_VERSION,
            redis_bits: 64,
            ctime_secs: self.ctime_secs,
            used_mem_bytes: self.used_mem_bytes,
            replication: self
                .replication
                .as_ref()
                .map(|(id, offset, db)| ReplicationAux {
                    stream_db: *db,
                    id,
                    offset: *offset,
                }),
            aof_base: self.aof_base,
        })?;
        for code in &self.functions {
            w.function(code)?;
        }
        Ok(w)
    }
}

/// What Redis's `rdbPopulateSaveInfo` keeps: on a master with a backlog its id and offset
/// (stream database 0: the stream selects its database again after the barrier), on a
/// replica its master's history and the database the master's stream has selected.
fn replication_info(srv: &Server) -> Option<(String, i64, i64)> {
    let r = &srv.replication;
    let replica = srv.state.replica.load(Ordering::Relaxed);
    if !replica && !r.stream.is_active() {
        return None;
    }
    if replica && !r.has_history.load(Ordering::Relaxed) {
        return None;
    }
    let db = if replica {
        r.master_db.load(Ordering::Relaxed)
    } else {
        0
    };
    Some((srv.repl.ids().0, r.offset(), db))
}

/// Writes the keys of one shard.
pub fn write_shard<W: Write>(
    w: &mut Writer<W>,
    shard: &Shard,
    policy: MetaPolicy,
) -> rudis_rdb::Result<()> {
    for entry in shard.keys.iter() {
        let key = entry.key.as_slice();
        let expire_at_ms = if entry.has_expire() {
            shard.expires().get(key).map(|e| e.at_ms)
        } else {
            None
        };
        let meta = codec::entry_meta(entry, expire_at_ms, policy);
        codec::write_value(w.entry(key, meta), &entry.value)?;
    }
    Ok(())
}

/// Writes the whole keyspace, held exclusively by `txn`, as an RDB file to `sink`.
pub fn write_held<W: Write>(
    txn: &mut Txn<'_>,
    header: &SaveHeader,
    sink: W,
) -> rudis_rdb::Result<W> {
    let mut w = header.start(sink)?;
    for &(db, keys, expires) in &header.dbs {
        w.select_db(db as u64)?;
        w.resize_db(keys, expires)?;
        for slot in 0..SLOTS as u16 {
            let shard = txn.shard_at(db, slot);
            let written = write_shard(&mut w, shard, header.meta);
            txn.release_shards();
            written?;
        }
    }
    w.finish()
}

/// Writes a snapshot begun at the barrier `header` was captured at: each shard as the
/// snapshot encodes it (or as a writer encoded it earlier), while clients keep writing.
/// Stops early with an error once `stop` says so.
pub fn write_snapshot<W: Write>(
    ks: &Keyspace,
    snap: &ActiveSnapshot,
    header: &SaveHeader,
    stop: &dyn Fn() -> bool,
    sink: W,
) -> rudis_rdb::Result<W> {
    let mut w = header.start(sink)?;
    for &(db, keys, expires) in &header.dbs {
        w.select_db(db as u64)?;
        w.resize_db(keys, expires)?;
        for slot in 0..SLOTS as u16 {
            if stop() {
                return Err(rudis_rdb::Error::Io {
                    offset: w.bytes_written(),
                    source: std::io::Error::other("the save was cancelled"),
                });
            }
            let Some(shard) = ks.db(db).shard_if_allocated(slot) else {
                break;
            };
            let (bytes, keys) = {
                let mut guard = shard.lock();
                let keys = guard.keys.len();
                (snap.serialize(db, slot, &mut guard), keys)
            };
            if let Some(bytes) = bytes {
                w.raw(&bytes)?;
                delay_per_key(header.key_delay_us, keys, stop);
            }
            // Shards writers encoded ahead of us go out as soon as we are in their database
            // (the order of keys within a database is free), so they are not held in memory
            // until the database ends.
            if snap.early_bytes.load(std::sync::atomic::Ordering::Relaxed) > 0 {
                for chunk in snap.take_early(db) {
                    w.raw(&chunk)?;
                }
            }
        }
        for chunk in snap.take_early(db) {
            w.raw(&chunk)?;
        }
    }
    w.finish()
}

/// The encoder a snapshot uses for shards: RDB entries, as [`write_shard`] writes them.
pub fn shard_encoder(header: &SaveHeader) -> crate::keyspace::snapshot::ShardEncoder {
    let (compression, policy) = (header.options.compression, header.meta);
    Box::new(move |_db, _slot, shard: &Shard| {
        let mut w = Writer::fragment(Vec::new(), compression);
        write_shard(&mut w, shard, policy).expect("writing to memory cannot fail");
        w.into_fragment()
    })
}

/// Writes an RDB file to `path` (relative to `dir`) through the temporary file `tmp`, as
/// Redis does.
pub fn write_file(
    path: &str,
    tmp: &str,
    write: impl FnOnce(BufWriter<File>) -> rudis_rdb::Result<BufWriter<File>>,
) -> Result<(), String> {
    let result = write_tmp(tmp, write);
    if result.is_err() {
        let _ = std::fs::remove_file(tmp);
        return result;
    }
    install_file(path, tmp)
}

/// Renames the complete temporary file `tmp` over `path` and fsyncs the directory.
pub fn install_file(path: &str, tmp: &str) -> Result<(), String> {
    if let Err(e) = std::fs::rename(tmp, path) {
        let _ = std::fs::remove_file(tmp);
        return Err(format!(
            "Error moving temp DB file {tmp} on the final destination {path}: {e}"
        ));
    }
    sync_dir_of(path).map_err(|e| format!("Write error saving DB on disk(fsyncFileDir): {e}"))
}

fn write_tmp(
    tmp: &str,
    write: impl FnOnce(BufWriter<File>) -> rudis_rdb::Result<BufWriter<File>>,
) -> Result<(), String> {
    let file = File::create(tmp).map_err(|e| {
        let cwd = std::env::current_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_else(|_| "unknown".into());
        format!("Failed opening the temp RDB file {tmp} (in server root dir {cwd}) for saving: {e}")
    })?;
    let werr = |what: &str, e: &dyn std::fmt::Display| {
        format!("Write error saving DB on disk({what}): {e}")
    };
    let out = write(BufWriter::with_capacity(1 << 16, file)).map_err(|e| werr("rdbSaveRio", &e))?;
    let file = out
        .into_inner()
        .map_err(|e| werr("fflush", &e.error().to_string()))?;
    file.sync_all().map_err(|e| werr("fsync", &e))
}

fn sync_dir_of(path: &str) -> std::io::Result<()> {
    let dir = std::path::Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    File::open(dir)?.sync_all()
}

/// Saves the keyspace, held exclusively by `txn`, to `dbfilename` (SAVE, SHUTDOWN, DEBUG
/// RELOAD, FLUSHALL with save points). Updates LASTSAVE and the change count on success.
pub fn save_held(srv: &Server, txn: &mut Txn<'_>) -> Result<(), String> {
    let header = SaveHeader::capture(srv);
    let path = srv.cfg().dbfilename.clone();
    let dirty = srv.rdb.dirty_now(srv);
    srv.rdb.saves.fetch_add(1, Ordering::Relaxed);
    let tmp = format!("temp-{}.rdb", std::process::id());
    match write_file(&path, &tmp, |sink| write_held(txn, &header, sink)) {
        Ok(()) => {
            log::write_line(Verbosity::Notice, "DB saved on disk");
            srv.rdb.saved(srv, dirty);
            Ok(())
        }
        Err(e) => {
            // Unlike a failed BGSAVE, a failed SAVE does not stop writes, as in Redis.
            log::write_line(Verbosity::Warning, &e);
            Err(e)
        }
    }
}

/// Why a BGSAVE did not start.
#[derive(Debug, PartialEq, Eq)]
pub enum BgsaveRefused {
    /// A BGSAVE is already running.
    InProgress,
    /// Another snapshot (a full resync, an AOF rewrite) holds the snapshot machinery.
    Busy,
}

/// Starts a background save. Call with the keyspace held exclusively (`_barrier`): the
/// image is the keyspace as it is now.
pub fn start_bgsave(srv: &Server, _barrier: &Txn<'_>) -> Result<(), BgsaveRefused> {
    if srv.rdb.bgsave_running.load(Ordering::Acquire) {
        return Err(BgsaveRefused::InProgress);
    }
    if srv.keyspace.snapshots.is_active() {
        return Err(BgsaveRefused::Busy);
    }
    let header = SaveHeader::capture(srv);
    // The writer process exists before the client hears the save started.
    let job = match Job::start(&format!("temp-{}.rdb", super::child::PID_MARK)) {
        Ok(job) => job,
        Err(e) => {
            log::write_line(
                Verbosity::Warning,
                &format!("Failed opening the temp RDB file for saving: {e}"),
            );
            srv.rdb.bgsave_started(srv);
            srv.rdb.bgsave_finished(srv, BgsaveEnd::Failed);
            return Ok(());
        }
    };
    // Running from before the snapshot counts in `total_forks`: a client that sees the
    // count grow sees the save in progress.
    srv.rdb.bgsave_running.store(true, Ordering::Release);
    let Some(snap) = srv.keyspace.snapshots.begin(shard_encoder(&header)) else {
        srv.rdb.bgsave_running.store(false, Ordering::Release);
        let tmp = job.path().to_path_buf();
        drop(job);
        let _ = std::fs::remove_file(tmp);
        return Err(BgsaveRefused::Busy);
    };
    srv.rdb.bgsave_started(srv);
    let keys_total: u64 = header.dbs.iter().map(|&(_, keys, _)| keys).sum();
    srv.rdb.keys_total.store(keys_total, Ordering::Relaxed);
    let (owned, path) = (srv.arc(), srv.cfg().dbfilename.clone());
    let spawned = std::thread::Builder::new()
        .name("rdb-bgsave".into())
        .spawn(move || run_bgsave(owned, snap, header, job, path));
    if let Err(e) = spawned {
        // Nothing runs: it failed at once, as a failed fork does in Redis.
        log::write_line(
            Verbosity::Warning,
            &format!("Can't save in background: {e}"),
        );
        srv.keyspace.snapshots.end();
        srv.rdb.bgsave_finished(srv, BgsaveEnd::Failed);
        return Ok(());
    }
    log::write_line(Verbosity::Notice, "Background saving started");
    Ok(())
}

fn run_bgsave(
    srv: Arc<Server>,
    snap: Arc<ActiveSnapshot>,
    header: SaveHeader,
    job: Job,
    path: String,
) {
    let tmp = job.path().to_string_lossy().into_owned();
    let outcome = job.run(&srv.rdb.cancel, |sink, stop| {
        write_snapshot(&srv.keyspace, &snap, &header, stop, sink)
            .map_err(|e| format!("Write error saving DB on disk(rdbSaveRio): {e}"))
    });
    srv.keyspace.snapshots.end();
    let cow_bytes = snap.early_total_bytes.load(Ordering::Relaxed);
    srv.rdb.last_cow_bytes.store(cow_bytes, Ordering::Relaxed);
    let outcome = match outcome {
        Outcome::Written => match install_file(&path, &tmp) {
            Ok(()) => Outcome::Written,
            Err(e) => Outcome::Failed(e),
        },
        other => {
            let _ = std::fs::remove_file(&tmp);
            other
        }
    };
    match outcome {
        Outcome::Written => {
            log::write_line(Verbosity::Notice, "DB saved on disk");
            log::write_line(
                Verbosity::Notice,
                "Background saving terminated with success",
            );
            srv.rdb.bgsave_finished(&srv, BgsaveEnd::Saved);
        }
        Outcome::Failed(e) => {
            log::write_line(Verbosity::Warning, &e);
            log::write_line(Verbosity::Warning, "Background saving error");
            srv.rdb.bgsave_finished(&srv, BgsaveEnd::Failed);
        }
        Outcome::Signalled(sig) => {
            log::write_line(
                Verbosity::Warning,
                &format!("Background saving terminated by signal {sig}"),
            );
            // As in Redis, a save the server itself stopped (SIGUSR1) is not an error.
            let end = if sig == libc::SIGUSR1 {
                BgsaveEnd::Stopped
            } else {
                BgsaveEnd::Failed
            };
            srv.rdb.bgsave_finished(&srv, end);
        }
    }
}

/// Abandons a running BGSAVE and waits (a little) for its thread to stop: its temporary file
/// is removed and `dbfilename` left alone (SHUTDOWN, FLUSHALL, DEBUG RELOAD write newer data).
pub fn cancel_bgsave(srv: &Server) {
    if !srv.rdb.bgsave_running.load(Ordering::Acquire) {
        return;
    }
    srv.rdb.cancel.store(true, Ordering::Relaxed);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while srv.rdb.bgsave_running.load(Ordering::Acquire) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    srv.rdb.cancel.store(false, Ordering::Relaxed);
}

/// After a failed BGSAVE, save points wait this long before trying again (Redis's
/// `CONFIG_BGSAVE_RETRY_DELAY`).
const BGSAVE_RETRY_DELAY_S: i64 = 5;

/// The cron's part: starts a BGSAVE when a save point is reached (`save <seconds>
/// <changes>`) or one was scheduled, unless a snapshot is already running.
pub fn cron(srv: &Server) {
    let rdb = &srv.rdb;
    if rdb.bgsave_running.load(Ordering::Acquire) || srv.keyspace.snapshots.is_active() {
        return;
    }
    let now_s = unix_ms() / 1000;
    let retry_ok = now_s - rdb.last_try_s.load(Ordering::Relaxed) > BGSAVE_RETRY_DELAY_S
        || !srv.state.bgsave_failed.load(Ordering::Relaxed);
    if !retry_ok {
        return;
    }
    let changes = rdb.changes_since_save(srv);
    let since_save_s = now_s - srv.state.lastsave_s.load(Ordering::Relaxed);
    let point = srv
        .cfg()
        .save
        .0
        .iter()
        .copied()
        .find(|&(seconds, min_changes)| changes >= min_changes as u64 && since_save_s > seconds);
    let scheduled = rdb.scheduled.load(Ordering::Relaxed);
    if point.is_none() && !scheduled {
        return;
    }
    if let Some((seconds, _)) = point {
        log::write_line(
            Verbosity::Notice,
            &format!("{changes} changes in {seconds} seconds. Saving..."),
        );
    }
    let barrier = Txn::exclusive(&srv.keyspace, 0, unix_ms());
    if start_bgsave(srv, &barrier).is_ok() {
        rdb.scheduled.store(false, Ordering::Relaxed);
    }
}
