//! Rewriting the AOF without forking (BGREWRITEAOF, automatic rewrites, and turning the AOF
//! on at run time).
//!
//! At a barrier (the keyspace held exclusively for an instant) a snapshot begins and a new
//! incremental file is opened: every command after the barrier goes to the new file, every
//! change before it is in the snapshot, so nothing is lost or written twice. A thread then
//! writes the snapshot as the new base file (an RDB image with `aof-base` set) to a temporary
//! file, fsyncs it and renames it into the directory. Finally the manifest is rewritten
//! atomically (the new base, the new incremental file; the old files as history) and the
//! history files are deleted. Until then the old manifest, which names the old files and
//! (when the AOF was on) the new incremental file, describes the data completely.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{delete_history, dir_of, open_append, persist_manifest};
use crate::keyspace::snapshot::ActiveSnapshot;
use crate::keyspace::txn::Txn;
use crate::persist::child::{Job, Outcome, PID_MARK};
use std::fs::File;
use std::io::BufWriter;

use super::resp_base::{self, CommandBase};
use crate::persist::save::{shard_encoder, write_held, write_snapshot, SaveHeader};
use crate::server::log::{self, Verbosity};
use crate::server::{unix_ms, Server};

/// Why a rewrite did not start.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// A rewrite is already running.
    InProgress,
    /// Another snapshot (BGSAVE) is running: the rewrite is scheduled.
    Busy,
    /// Files could not be created.
    Failed,
}

/// What a base is written as, fixed at the barrier.
enum BaseFormat {
    /// An RDB image (`aof-use-rdb-preamble yes`).
    Rdb(SaveHeader),
    /// Commands.
    Commands(CommandBase),
}

impl BaseFormat {
    /// Captures the format at the barrier.
    fn capture(srv: &Server) -> BaseFormat {
        let cfg = srv.cfg();
        if cfg.aof_use_rdb_preamble {
            return BaseFormat::Rdb(SaveHeader::capture(srv).for_aof_base());
        }
        let dbs = srv
            .keyspace
            .dbs()
            .iter()
            .enumerate()
            .filter(|(_, d)| d.key_count() > 0)
            .map(|(i, _)| i)
            .collect();
        BaseFormat::Commands(CommandBase {
            dbs,
            timestamp_s: cfg.aof_timestamp_enabled.then(|| unix_ms() / 1000),
            functions: srv.scripting.library_codes(),
            key_delay_us: cfg.rdb_key_save_delay,
        })
    }

    fn encoder(&self) -> crate::keyspace::snapshot::ShardEncoder {
        match self {
            BaseFormat::Rdb(header) => shard_encoder(header),
            BaseFormat::Commands(_) => resp_base::shard_encoder(),
        }
    }
}

/// Writes to `tmp`, fsyncs, renames to `path`, fsyncs the directory.
fn write_then_rename(
    path: &Path,
    tmp: &Path,
    write: impl FnOnce(BufWriter<File>) -> Result<BufWriter<File>, String>,
) -> Result<(), String> {
    let result = (|| {
        let file = File::create(tmp)
            .map_err(|e| format!("Opening the temp file for AOF rewrite failed: {e}"))?;
        let out = write(BufWriter::with_capacity(1 << 16, file))?;
        let file = out.into_inner().map_err(|e| e.error().to_string())?;
        file.sync_all().map_err(|e| e.to_string())?;
        std::fs::rename(tmp, path)
            .map_err(|e| format!("Error trying to rename the temporary AOF base file: {e}"))?;
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
        File::open(dir.unwrap_or(Path::new(".")))
            .and_then(|d| d.sync_all())
            .map_err(|e| e.to_string())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(tmp);
    }
    result
}

/// Writes a base file of the keyspace as it is now (start-up with no AOF yet).
pub fn write_base_held(srv: &Server, path: &Path) -> Result<(), String> {
    let mut txn = Txn::exclusive(&srv.keyspace, 0, unix_ms());
    let format = BaseFormat::capture(srv);
    write_then_rename(path, &temp_name(srv), |sink| match &format {
        BaseFormat::Rdb(header) => write_held(&mut txn, header, sink).map_err(|e| e.to_string()),
        BaseFormat::Commands(base) => {
            resp_base::write_held(&srv.keyspace, base, sink).map_err(|e| e.to_string())
        }
    })
}

fn temp_name(srv: &Server) -> std::path::PathBuf {
    dir_of(srv).join(format!("temp-rewriteaof-bg-{}.aof", std::process::id()))
}

/// Starts a rewrite (or, with the AOF off and `appendonly yes`, turns it on). Call with the
/// keyspace held exclusively: the barrier.
pub fn start(srv: &Server, _barrier: &Txn<'_>) -> Result<(), Refused> {
    let aof = &srv.aof;
    if aof.rewrite_in_progress.load(Ordering::Acquire) {
        return Err(Refused::InProgress);
    }
    if srv.keyspace.snapshots.is_active() {
        aof.rewrite_scheduled.store(true, Ordering::Release);
        return Err(Refused::Busy);
    }
    // Running from before the snapshot counts in `total_forks`: a client that sees the
    // count grow sees the rewrite in progress.
    aof.rewrite_in_progress.store(true, Ordering::Release);
    let begun = begin(srv);
    if begun.is_err() {
        aof.rewrite_in_progress.store(false, Ordering::Release);
    }
    begun
}

/// Starts the writer, the snapshot, the new incremental file and the thread.
fn begin(srv: &Server) -> Result<(), Refused> {
    let aof = &srv.aof;
    let dir = dir_of(srv);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        log::write_line(
            Verbosity::Warning,
            &format!(
                "Can't open or create append-only dir {}: {e}",
                dir.display()
            ),
        );
        rewrite_failed(srv);
        return Err(Refused::Failed);
    }
    let format = BaseFormat::capture(srv);
    // The writer process exists before the client hears the rewrite started. Its file is
    // in the working directory, as Redis's, until it becomes the base.
    let job = match Job::start(&format!("temp-rewriteaof-bg-{PID_MARK}.aof")) {
        Ok(job) => job,
        Err(e) => {
            log::write_line(
                Verbosity::Warning,
                &format!("Opening the temp file for AOF rewrite failed: {e}"),
            );
            rewrite_failed(srv);
            return Err(Refused::Failed);
        }
    };
    let tmp = job.path().to_path_buf();
    let Some(snap) = srv.keyspace.snapshots.begin(format.encoder()) else {
        drop(job);
        let _ = std::fs::remove_file(&tmp);
        aof.rewrite_scheduled.store(true, Ordering::Release);
        return Err(Refused::Busy);
    };
    let enabling = !aof.is_on() && srv.cfg().appendonly;
    if let Err(e) = open_new_incr(srv, enabling) {
        log::write_line(Verbosity::Warning, &e);
        srv.keyspace.snapshots.end();
        drop(job);
        let _ = std::fs::remove_file(&tmp);
        rewrite_failed(srv);
        return Err(Refused::Failed);
    }
    aof.rewrite_scheduled.store(false, Ordering::Release);
    // Counted when it starts, as Redis counts its rewrite children.
    aof.rewrites.fetch_add(1, Ordering::Relaxed);
    aof.rewrite_started_ms.store(unix_ms(), Ordering::Relaxed);
    aof.writer_pid.store(job.pid(), Ordering::Relaxed);
    let owned = srv.arc();
    let spawned = std::thread::Builder::new()
        .name("aof-rewrite".into())
        .spawn(move || run(owned, snap, format, job, tmp));
    if let Err(e) = spawned {
        log::write_line(
            Verbosity::Warning,
            &format!("Can't rewrite append only file in background: {e}"),
        );
        srv.keyspace.snapshots.end();
        rewrite_failed(srv);
        return Err(Refused::Failed);
    }
    log::write_line(
        Verbosity::Notice,
        "Background append only file rewriting started",
    );
    Ok(())
}

/// At the barrier: commands from now on go to a new incremental file. When the AOF is on,
/// the manifest names it at once, so a crash during the rewrite loses nothing. When the
/// rewrite turns the AOF on, they go to a temporary incremental file that the manifest
/// names only once the base is written (Redis's `temp-<appendfilename>.incr`).
fn open_new_incr(srv: &Server, enabling: bool) -> Result<(), String> {
    let aof = &srv.aof;
    if !aof.is_on() && !enabling {
        return Ok(());
    }
    let dir = dir_of(srv);
    std::fs::create_dir_all(&dir).map_err(|e| {
        format!(
            "Can't open or create append-only dir {}: {e}",
            dir.display()
        )
    })?;
    let mut m = aof.manifest.lock().clone();
    let name = if aof.is_on() {
        m.new_incr(&srv.cfg().appendfilename)
    } else {
        temp_incr_name(srv)
    };
    let (file, _) = open_append(&dir.join(&name), true)
        .map_err(|e| format!("Can't open the append-only file {name}: {e}"))?;
    if aof.is_on() {
        persist_manifest(srv, &m)?;
    }
    *aof.manifest.lock() = m;
    aof.switch_to(srv, file, 0);
    log::write_line(
        Verbosity::Notice,
        &format!("Creating AOF incr file {name} on background rewrite"),
    );
    Ok(())
}

/// The incremental file written while a rewrite turns the AOF on.
fn temp_incr_name(srv: &Server) -> String {
    format!("temp-{}.incr", srv.cfg().appendfilename)
}

/// The cron's part: starts a scheduled or automatic rewrite.
pub fn start_from_cron(srv: &Server) {
    let barrier = Txn::exclusive(&srv.keyspace, 0, unix_ms());
    let _ = start(srv, &barrier);
}

fn run(srv: Arc<Server>, snap: Arc<ActiveSnapshot>, format: BaseFormat, job: Job, tmp: PathBuf) {
    let ks = &srv.keyspace;
    let outcome = job.run(&srv.aof.cancel_rewrite, |sink, stop| match &format {
        BaseFormat::Rdb(header) => {
            write_snapshot(ks, &snap, header, stop, sink).map_err(|e| e.to_string())
        }
        BaseFormat::Commands(base) => {
            resp_base::write_snapshot(ks, &snap, base, stop, sink).map_err(|e| e.to_string())
        }
    });
    srv.keyspace.snapshots.end();
    let outcome = match outcome {
        Outcome::Written => match install_base(&srv, &tmp) {
            Ok(()) => Outcome::Written,
            Err(e) => Outcome::Failed(e),
        },
        other => other,
    };
    let aof = &srv.aof;
    let started = aof.rewrite_started_ms.load(Ordering::Relaxed);
    aof.last_rewrite_secs
        .store((unix_ms() - started) / 1000, Ordering::Relaxed);
    match outcome {
        Outcome::Written => {
            aof.rewrite_failures.store(0, Ordering::Relaxed);
            aof.last_rewrite_ok.store(true, Ordering::Relaxed);
            log::write_line(
                Verbosity::Notice,
                "Background AOF rewrite terminated with success",
            );
            log::write_line(
                Verbosity::Notice,
                "Background AOF rewrite finished successfully",
            );
        }
        Outcome::Failed(e) => {
            log::write_line(Verbosity::Warning, &e);
            log::write_line(
                Verbosity::Warning,
                "Background AOF rewrite terminated with error",
            );
            rewrite_failed(&srv);
        }
        Outcome::Signalled(sig) => {
            log::write_line(
                Verbosity::Warning,
                &format!("Background AOF rewrite terminated by signal {sig}"),
            );
            // As in Redis, a rewrite the server itself stopped (SIGUSR1) is not a failure.
            if sig != libc::SIGUSR1 {
                rewrite_failed(&srv);
            }
        }
    }
    let _ = std::fs::remove_file(&tmp);
    if !aof.is_on() && aof.accepting.load(Ordering::Acquire) {
        // The rewrite was to turn the AOF on: drop what the temporary incremental file
        // gathered, and try again.
        drop_temp_incr(&srv);
        aof.rewrite_scheduled.store(true, Ordering::Release);
    }
    aof.rewrite_in_progress.store(false, Ordering::Release);
}

/// Removes the temporary incremental file of a failed rewrite that was turning the AOF on.
fn drop_temp_incr(srv: &Server) {
    let name = temp_incr_name(srv);
    log::write_line(
        Verbosity::Notice,
        &format!("Removing the temp incr aof file {name} in the background"),
    );
    let _ = std::fs::remove_file(dir_of(srv).join(name));
}

fn rewrite_failed(srv: &Server) {
    let aof = &srv.aof;
    aof.rewrite_failures.fetch_add(1, Ordering::Relaxed);
    aof.last_rewrite_ok.store(false, Ordering::Relaxed);
}

/// The new base is on disk: it becomes the base in the manifest, the files it replaces
/// become history and are deleted.
fn install_base(srv: &Server, tmp: &Path) -> Result<(), String> {
    let aof = &srv.aof;
    let cfg = srv.cfg();
    let dir = dir_of(srv);
    let mut m = aof.manifest.lock();
    let turning_on = !aof.is_on() && cfg.appendonly && aof.accepting.load(Ordering::Acquire);
    let mut next = m.clone();
    let name = next.new_base(&cfg.appendfilename, cfg.aof_use_rdb_preamble);
    std::fs::rename(tmp, dir.join(&name))
        .map_err(|e| format!("Error trying to rename the temporary AOF base file {name}: {e}"))?;
    log::write_line(
        Verbosity::Notice,
        &format!(
            "Successfully renamed the temporary AOF base file {} into {name}",
            tmp.display()
        ),
    );
    if turning_on {
        // The temporary incremental file becomes the first one the manifest names; the
        // open file follows the rename.
        let temp_incr = temp_incr_name(srv);
        let incr = next.new_incr(&cfg.appendfilename);
        if let Err(e) = std::fs::rename(dir.join(&temp_incr), dir.join(&incr)) {
            let _ = std::fs::remove_file(dir.join(&name));
            return Err(format!(
                "Error trying to rename the temporary AOF incr file {temp_incr} into {incr}: {e}"
            ));
        }
        log::write_line(
            Verbosity::Notice,
            &format!("Successfully renamed the temporary AOF incr file {temp_incr} into {incr}"),
        );
    }
    next.retire_incrs_but_last();
    if !aof.is_on() && !turning_on {
        // No file is being appended to: the last incremental file is history too.
        if let Some(mut last) = next.incrs.pop() {
            last.kind = super::manifest::FileKind::History;
            next.history.insert(0, last);
        }
    }
    if let Err(e) = persist_manifest(srv, &next) {
        let _ = std::fs::remove_file(dir.join(&name));
        return Err(e);
    }
    let base_bytes = std::fs::metadata(dir.join(&name)).map_or(0, |md| md.len());
    aof.older_bytes.store(base_bytes, Ordering::Relaxed);
    if turning_on {
        aof.on.store(true, Ordering::Release);
    }
    aof.base_size.store(aof.current_size(), Ordering::Relaxed);
    let _ = delete_history(srv, &mut next);
    *m = next;
    Ok(())
}

/// CONFIG SET appendonly: `yes` starts the rewrite that writes the first base and turns
/// the AOF on (scheduled if a snapshot is running, or if no barrier may be taken here);
/// `no` stops appending.
pub fn config_changed(srv: &Server, may_take_barrier: bool) {
    let aof = &srv.aof;
    if srv.cfg().appendonly {
        if aof.is_on() {
            return;
        }
        if aof.rewrite_in_progress.load(Ordering::Acquire) {
            // The running rewrite was started with the AOF off: run another after it.
            aof.rewrite_scheduled.store(true, Ordering::Release);
        } else if may_take_barrier {
            let barrier = Txn::exclusive(&srv.keyspace, 0, unix_ms());
            let _ = start(srv, &barrier);
        } else {
            aof.rewrite_scheduled.store(true, Ordering::Release);
            log::write_line(
                Verbosity::Warning,
                "AOF was enabled during a transaction. An AOF background was scheduled to start when possible.",
            );
        }
    } else {
        cancel_running(srv);
        if aof.is_on() || aof.accepting.load(Ordering::Acquire) {
            aof.stop(srv);
        }
    }
}

/// Stops a running rewrite and waits (a little) for its thread to end, as Redis kills its
/// rewrite child when the AOF is turned off.
pub fn cancel_running(srv: &Server) {
    let aof = &srv.aof;
    if !aof.rewrite_in_progress.load(Ordering::Acquire) {
        return;
    }
    log::write_line(
        Verbosity::Notice,
        &format!(
            "Killing running AOF rewrite child: {}",
            aof.writer_pid.load(Ordering::Relaxed)
        ),
    );
    aof.cancel_rewrite.store(true, Ordering::Relaxed);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while aof.rewrite_in_progress.load(Ordering::Acquire) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    aof.cancel_rewrite.store(false, Ordering::Relaxed);
    aof.rewrite_scheduled.store(false, Ordering::Release);
}
