//! The append only file, in Redis 7's multi-part layout: a directory (`appenddirname`) holding
//! a base file (an RDB image, or commands), incremental files of commands, and the manifest
//! naming them (see [`manifest`]).
//!
//! - [`manifest`]: the manifest's format;
//! - [`reader`]: reading commands from a file;
//! - [`load`]: loading the files into the keyspace (start-up, DEBUG LOADAOF);
//! - [`resp_base`]: base files in command form;
//! - [`rewrite`]: BGREWRITEAOF on a fork-free snapshot, turning the AOF on at run time;
//! - this module: the writing side, [`Aof`].
//!
//! Commands reach the AOF through the propagation point, as a [`crate::propagate::Sink`]
//! that appends them to a buffer. The buffer is written to the current incremental file
//! before any client is sent a reply (`Aof::before_reply`, called by connections before they
//! write), so an acknowledged write survives the process being killed; with `appendfsync
//! always` it is also fsynced first (one fsync serves every client waiting at that moment),
//! so it survives the machine losing power. With `everysec` a thread fsyncs once a second;
//! it also writes what was fed without a client waiting (active expiry).
//!
//! Offsets count bytes fed since start-up: `fed` (in the buffer or beyond), `written`,
//! `synced`. Invariant: synced <= written <= fed.

pub mod load;
pub mod manifest;
pub mod reader;
pub mod resp_base;
pub mod rewrite;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::server::log::{self, Verbosity};
use crate::server::{unix_ms, Server};
use manifest::Manifest;

/// The file being appended to.
#[derive(Default)]
struct Current {
    file: Option<Arc<File>>,
    /// Bytes in the current incremental file.
    incr_bytes: u64,
}

/// AOF state: what INFO persistence shows and what the writer needs.
pub struct Aof {
    /// Commands are being appended (appendonly yes, and the first base exists).
    on: AtomicBool,
    /// Propagated commands are buffered (on, or a rewrite turning the AOF on is running).
    accepting: AtomicBool,
    pending: Mutex<Vec<u8>>,
    fed: AtomicU64,
    written: AtomicU64,
    synced: AtomicU64,
    current: Mutex<Current>,
    pub manifest: Mutex<Manifest>,
    sink_registered: AtomicBool,
    syncer_started: AtomicBool,
    /// `aof_base_size`: the AOF's size when the last rewrite ended.
    pub base_size: AtomicU64,
    /// Size of the base and the incremental files before the current one.
    pub older_bytes: AtomicU64,
    pub rewrite_in_progress: AtomicBool,
    pub rewrite_scheduled: AtomicBool,
    pub rewrite_started_ms: AtomicI64,
    pub last_rewrite_secs: AtomicI64,
    pub last_rewrite_ok: AtomicBool,
    pub rewrites: AtomicU64,
    pub rewrite_failures: AtomicU64,
    pub last_write_ok: AtomicBool,
    pub delayed_fsyncs: AtomicU64,
    /// Unix ms of the last fsync.
    last_fsync_ms: AtomicI64,
    /// Asks the running rewrite to stop (the AOF is being turned off).
    pub cancel_rewrite: AtomicBool,
    /// The pid of the running (or last) rewrite's writer process.
    pub writer_pid: AtomicU32,
    /// Automatic and scheduled rewrites after repeated failures: see [`Aof::rewrite_limited`].
    limit: Mutex<RewriteLimit>,
}

/// After [`LIMIT_THRESHOLD`] consecutive failed rewrites, automatic and scheduled ones wait:
/// 1 minute, then twice as long after each further failure, at most an hour (Redis's rule,
/// so a failing disk does not breed a new incremental file every second). BGREWRITEAOF is
/// never held back.
#[derive(Default)]
struct RewriteLimit {
    delay_minutes: i64,
    /// Unix seconds before which no automatic rewrite starts; 0 when not limited.
    until_s: i64,
}

const LIMIT_THRESHOLD: u64 = 3;
const LIMIT_MAX_MINUTES: i64 = 60;

impl Default for Aof {
    fn default() -> Self {
        Aof {
            on: AtomicBool::new(false),
            accepting: AtomicBool::new(false),
            pending: Mutex::new(Vec::new()),
            fed: AtomicU64::new(0),
            written: AtomicU64::new(0),
            synced: AtomicU64::new(0),
            current: Mutex::new(Current::default()),
            manifest: Mutex::new(Manifest::default()),
            sink_registered: AtomicBool::new(false),
            syncer_started: AtomicBool::new(false),
            base_size: AtomicU64::new(0),
            older_bytes: AtomicU64::new(0),
            rewrite_in_progress: AtomicBool::new(false),
            rewrite_scheduled: AtomicBool::new(false),
            rewrite_started_ms: AtomicI64::new(0),
            last_rewrite_secs: AtomicI64::new(-1),
            last_rewrite_ok: AtomicBool::new(true),
            rewrites: AtomicU64::new(0),
            rewrite_failures: AtomicU64::new(0),
            last_write_ok: AtomicBool::new(true),
            delayed_fsyncs: AtomicU64::new(0),
            last_fsync_ms: AtomicI64::new(0),
            cancel_rewrite: AtomicBool::new(false),
            writer_pid: AtomicU32::new(0),
            limit: Mutex::new(RewriteLimit::default()),
        }
    }
}

/// The sink the propagation point feeds: the server, and the second of the last `#TS:`
/// annotation (`aof-timestamp-enabled`).
struct AofSink(Arc<Server>, i64);

impl crate::propagate::Sink for AofSink {
    fn feed(&mut self, bytes: &[u8]) {
        let aof = &self.0.aof;
        if !aof.accepting.load(Ordering::Acquire) {
            return;
        }
        let mut pending = aof.pending.lock();
        let before = pending.len();
        let now_s = unix_ms() / 1000;
        if self.0.cfg().aof_timestamp_enabled && now_s > self.1 {
            pending.extend_from_slice(format!("#TS:{now_s}\r\n").as_bytes());
            self.1 = now_s;
        }
        pending.extend_from_slice(bytes);
        let added = (pending.len() - before) as u64;
        aof.fed
            .store(aof.fed.load(Ordering::Relaxed) + added, Ordering::Release);
    }
}

/// `dir/appenddirname`, relative to the working directory (which is `dir`).
pub fn dir_of(srv: &Server) -> PathBuf {
    PathBuf::from(&srv.cfg().appenddirname)
}

impl Aof {
    pub fn is_on(&self) -> bool {
        self.on.load(Ordering::Acquire)
    }

    /// Makes sure the propagation point feeds the AOF, and the fsync thread runs.
    fn ensure_running(&self, srv: &Server) {
        if !self.sink_registered.swap(true, Ordering::AcqRel) {
            srv.propagator.add_sink(
                crate::propagate::target::AOF,
                Box::new(AofSink(srv.arc(), 0)),
            );
        }
        if !self.syncer_started.swap(true, Ordering::AcqRel) {
            let owned = srv.arc();
            let _ = std::thread::Builder::new()
                .name("aof-fsync".into())
                .spawn(move || syncer(owned));
        }
    }

    /// Starts appending to `file` (already open for appending, `bytes` long). Call at a
    /// barrier: the next fed command goes there, after a SELECT.
    fn switch_to(&self, srv: &Server, file: File, bytes: u64) {
        self.ensure_running(srv);
        let mut cur = self.current.lock();
        self.write_pending(srv, &mut cur);
        if let Some(old) = cur.file.take() {
            let _ = old.sync_data();
            self.older_bytes
                .fetch_add(cur.incr_bytes, Ordering::Relaxed);
        }
        self.synced
            .store(self.written.load(Ordering::Acquire), Ordering::Release);
        cur.file = Some(Arc::new(file));
        cur.incr_bytes = bytes;
        drop(cur);
        srv.propagator
            .reset_selected_db_of(crate::propagate::target::AOF);
        self.accepting.store(true, Ordering::Release);
    }

    /// Stops appending (CONFIG SET appendonly no, shutdown): writes and fsyncs what was fed.
    pub fn stop(&self, srv: &Server) {
        self.accepting.store(false, Ordering::Release);
        self.on.store(false, Ordering::Release);
        let mut cur = self.current.lock();
        self.write_pending(srv, &mut cur);
        if let Some(f) = cur.file.take() {
            let _ = f.sync_data();
        }
        self.older_bytes.store(0, Ordering::Relaxed);
        cur.incr_bytes = 0;
    }

    /// Writes the buffer to the current file. Call with `cur` locked.
    fn write_pending(&self, srv: &Server, cur: &mut Current) {
        let bytes = std::mem::take(&mut *self.pending.lock());
        if bytes.is_empty() {
            return;
        }
        let sleep_us = srv.state.aof_flush_sleep_us.load(Ordering::Relaxed);
        if sleep_us > 0 {
            std::thread::sleep(Duration::from_micros(sleep_us));
        }
        let n = bytes.len() as u64;
        if let Some(f) = &cur.file {
            match (&**f).write_all(&bytes) {
                Ok(()) => {
                    cur.incr_bytes += n;
                    self.last_write_ok.store(true, Ordering::Relaxed);
                }
                Err(e) => {
                    log::write_line(
                        Verbosity::Warning,
                        &format!("Error writing to the AOF file: {e}"),
                    );
                    self.last_write_ok.store(false, Ordering::Relaxed);
                }
            }
        }
        self.written.fetch_add(n, Ordering::AcqRel);
    }

    /// Called by a connection before it sends replies: what its commands fed is written
    /// (and fsynced under `appendfsync always`) first.
    pub fn before_reply(&self, srv: &Server) {
        if !self.accepting.load(Ordering::Acquire) {
            return;
        }
        let target = self.fed.load(Ordering::Acquire);
        let always = srv.cfg().appendfsync == "always";
        let done = if always { &self.synced } else { &self.written };
        if done.load(Ordering::Acquire) >= target {
            return;
        }
        let mut cur = self.current.lock();
        if self.written.load(Ordering::Acquire) < target {
            self.write_pending(srv, &mut cur);
        }
        if always && self.synced.load(Ordering::Acquire) < target {
            let upto = self.written.load(Ordering::Acquire);
            if let Some(f) = &cur.file {
                let _ = f.sync_data();
            }
            self.synced.store(upto, Ordering::Release);
            self.last_fsync_ms.store(unix_ms(), Ordering::Relaxed);
        }
    }

    /// Writes what is buffered and fsyncs it (DEBUG LOADAOF, shutdown).
    pub fn flush_and_sync(&self, srv: &Server) {
        let mut cur = self.current.lock();
        self.write_pending(srv, &mut cur);
        if let Some(f) = &cur.file {
            let _ = f.sync_data();
        }
        self.synced
            .store(self.written.load(Ordering::Acquire), Ordering::Release);
    }

    /// `aof_current_size`.
    pub fn current_size(&self) -> u64 {
        self.older_bytes.load(Ordering::Relaxed) + self.current.lock().incr_bytes
    }

    /// True while automatic and scheduled rewrites are held back after repeated failures.
    /// Entering the limit logs it once.
    pub fn rewrite_limited(&self) -> bool {
        let mut limit = self.limit.lock();
        if self.rewrite_failures.load(Ordering::Relaxed) < LIMIT_THRESHOLD {
            *limit = RewriteLimit::default();
            return false;
        }
        let now_s = unix_ms() / 1000;
        if limit.until_s != 0 {
            if now_s < limit.until_s {
                return true;
            }
            limit.until_s = 0;
            return false;
        }
        limit.delay_minutes = (limit.delay_minutes * 2).clamp(1, LIMIT_MAX_MINUTES);
        limit.until_s = now_s + limit.delay_minutes * 60;
        log::write_line(
            Verbosity::Warning,
            &format!(
                "Background AOF rewrite has repeatedly failed and triggered the limit, will retry in {} minutes",
                limit.delay_minutes
            ),
        );
        true
    }

    /// Bytes fed but not written yet (`aof_buffer_length`).
    pub fn buffered_bytes(&self) -> usize {
        self.pending.lock().len()
    }
}

/// The fsync thread: once a second under `everysec` it fsyncs what was written; every
/// 100 ms it writes what was fed without a client waiting for it (active expiry, the cron).
fn syncer(srv: Arc<Server>) {
    let aof = &srv.aof;
    loop {
        std::thread::sleep(Duration::from_millis(100));
        if !aof.accepting.load(Ordering::Acquire) {
            continue;
        }
        let file = {
            let mut cur = aof.current.lock();
            aof.write_pending(&srv, &mut cur);
            cur.file.clone()
        };
        let everysec = srv.cfg().appendfsync == "everysec";
        let due = unix_ms() - aof.last_fsync_ms.load(Ordering::Relaxed) >= 1000;
        let upto = aof.written.load(Ordering::Acquire);
        if everysec && due && aof.synced.load(Ordering::Acquire) < upto {
            if let Some(f) = file {
                // Outside the lock: writers are not held up by the disk.
                let _ = f.sync_data();
            }
            aof.synced.fetch_max(upto, Ordering::AcqRel);
            aof.last_fsync_ms.store(unix_ms(), Ordering::Relaxed);
        }
    }
}

/// Opens an incremental file for appending; returns it and its size.
fn open_append(path: &Path, truncate: bool) -> std::io::Result<(File, u64)> {
    let file = if truncate {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?
    } else {
        OpenOptions::new().append(true).create(true).open(path)?
    };
    let len = file.metadata()?.len();
    Ok((file, len))
}

/// Writes the manifest atomically: a temporary file, fsynced, renamed over the manifest,
/// then the directory fsynced.
pub fn persist_manifest(srv: &Server, m: &Manifest) -> Result<(), String> {
    let dir = dir_of(srv);
    let name = format!("{}.manifest", srv.cfg().appendfilename);
    let tmp = dir.join(format!("temp-{name}"));
    let path = dir.join(&name);
    let write = || -> std::io::Result<()> {
        let mut f = File::create(&tmp)?;
        f.write_all(m.render().as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        File::open(&dir)?.sync_all()
    };
    write().map_err(|e| {
        let message = format!("Error trying to write the AOF manifest file {name}: {e}");
        log::write_line(Verbosity::Warning, &message);
        message
    })
}

/// Deletes the history files the manifest lists and drops them from it
/// (unless `aof-disable-auto-gc`).
pub fn delete_history(srv: &Server, m: &mut Manifest) -> Result<(), String> {
    if m.history.is_empty() || srv.cfg().aof_disable_auto_gc {
        return Ok(());
    }
    let dir = dir_of(srv);
    for f in m.history.drain(..) {
        log::write_line(
            Verbosity::Notice,
            &format!("Removing the history file {} in the background", f.name),
        );
        let _ = std::fs::remove_file(dir.join(&f.name));
    }
    persist_manifest(srv, m)
}

/// Deletes the history files now, unless `aof-disable-auto-gc` (turning it off collects what
/// it kept, as in Redis).
pub fn collect_history(srv: &Server) {
    let mut m = srv.aof.manifest.lock();
    let _ = delete_history(srv, &mut m);
}

/// The cron's part: an automatic rewrite when the AOF grew past `auto-aof-rewrite-percentage`
/// of its size after the last rewrite (and `auto-aof-rewrite-min-size`), or a scheduled one.
pub fn cron(srv: &Server) {
    let aof = &srv.aof;
    if aof.rewrite_in_progress.load(Ordering::Acquire) || srv.keyspace.snapshots.is_active() {
        return;
    }
    if aof.rewrite_scheduled.load(Ordering::Acquire) {
        if !aof.rewrite_limited() {
            rewrite::start_from_cron(srv);
        }
        return;
    }
    let cfg = srv.cfg();
    if !aof.is_on() || cfg.auto_aof_rewrite_percentage <= 0 {
        return;
    }
    let size = aof.current_size();
    if (size as i64) <= cfg.auto_aof_rewrite_min_size {
        return;
    }
    let base = aof.base_size.load(Ordering::Relaxed).max(1);
    let growth = (size * 100 / base) as i64 - 100;
    if growth >= cfg.auto_aof_rewrite_percentage && !aof.rewrite_limited() {
        log::write_line(
            Verbosity::Notice,
            &format!("Starting automatic rewriting of AOF on {growth}% growth"),
        );
        rewrite::start_from_cron(srv);
    }
}

/// INFO persistence's AOF fields.
pub fn info(srv: &Server, out: &mut String) {
    use crate::cmd::info::field;
    let aof = &srv.aof;
    let on = aof.is_on();
    let yes = |b: bool| u8::from(b);
    field(out, "aof_enabled", yes(srv.cfg().appendonly));
    let in_progress = aof.rewrite_in_progress.load(Ordering::Acquire);
    field(out, "aof_rewrite_in_progress", yes(in_progress));
    field(
        out,
        "aof_rewrite_scheduled",
        yes(aof.rewrite_scheduled.load(Ordering::Acquire)),
    );
    field(
        out,
        "aof_last_rewrite_time_sec",
        aof.last_rewrite_secs.load(Ordering::Relaxed),
    );
    let current = if in_progress {
        (unix_ms() - aof.rewrite_started_ms.load(Ordering::Relaxed)) / 1000
    } else {
        -1
    };
    field(out, "aof_current_rewrite_time_sec", current);
    let ok = |b: bool| if b { "ok" } else { "err" };
    field(
        out,
        "aof_last_bgrewrite_status",
        ok(aof.last_rewrite_ok.load(Ordering::Relaxed)),
    );
    field(out, "aof_rewrites", aof.rewrites.load(Ordering::Relaxed));
    field(
        out,
        "aof_rewrites_consecutive_failures",
        aof.rewrite_failures.load(Ordering::Relaxed),
    );
    field(
        out,
        "aof_last_write_status",
        ok(aof.last_write_ok.load(Ordering::Relaxed)),
    );
    field(out, "aof_last_cow_size", 0);
    field(out, "module_fork_in_progress", 0);
    field(out, "module_fork_last_cow_size", 0);
    if on {
        field(out, "aof_current_size", aof.current_size());
        field(out, "aof_base_size", aof.base_size.load(Ordering::Relaxed));
        field(
            out,
            "aof_pending_rewrite",
            yes(aof.rewrite_scheduled.load(Ordering::Acquire)),
        );
        field(out, "aof_buffer_length", aof.buffered_bytes());
        field(out, "aof_pending_bio_fsync", 0);
        field(
            out,
            "aof_delayed_fsync",
            aof.delayed_fsyncs.load(Ordering::Relaxed),
        );
    }
}
