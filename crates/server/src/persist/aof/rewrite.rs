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

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{delete_history, dir_of, open_append, persist_manifest};
use crate::keyspace::snapshot::ActiveSnapshot;
use crate::keyspace::txn::Txn;
use std::fs::File;
use std::io::BufWriter;

use super::resp_base;
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
    /// Commands: the databases non-empty at the barrier, and the `#TS:` to open with.
    Commands {
        dbs: Vec<usize>,
        timestamp_s: Option<i64>,
    },
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
        let timestamp_s = cfg.aof_timestamp_enabled.then(|| unix_ms() / 1000);
        BaseFormat::Commands { dbs, timestamp_s }
    }

    fn encoder(&self) -> crate::keyspace::snapshot::ShardEncoder {
        match self {
            BaseFormat::Rdb(header) => shard_encoder(header),
            BaseFormat::Commands { .. } => resp_base::shard_encoder(),
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
        BaseFormat::Commands { timestamp_s, .. } => {
            resp_base::write_held(&srv.keyspace, *timestamp_s, sink).map_err(|e| e.to_string())
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
    let format = BaseFormat::capture(srv);
    let Some(snap) = srv.keyspace.snapshots.begin(format.encoder()) else {
        aof.rewrite_scheduled.store(true, Ordering::Release);
        return Err(Refused::Busy);
    };
    let enabling = !aof.is_on() && srv.cfg().appendonly;
    if let Err(e) = open_new_incr(srv, enabling) {
        log::write_line(Verbosity::Warning, &e);
        srv.keyspace.snapshots.end();
        rewrite_failed(srv);
        return Err(Refused::Failed);
    }
    aof.rewrite_scheduled.store(false, Ordering::Release);
    // Counted when it starts, as Redis counts its rewrite children.
    aof.rewrites.fetch_add(1, Ordering::Relaxed);
    aof.rewrite_in_progress.store(true, Ordering::Release);
    aof.rewrite_started_ms.store(unix_ms(), Ordering::Relaxed);
    let owned = srv.arc();
    let spawned = std::thread::Builder::new()
        .name("aof-rewrite".into())
        .spawn(move || run(owned, snap, format));
    if let Err(e) = spawned {
        log::write_line(
            Verbosity::Warning,
            &format!("Can't rewrite append only file in background: {e}"),
        );
        srv.keyspace.snapshots.end();
        aof.rewrite_in_progress.store(false, Ordering::Release);
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
/// the manifest names it at once, so a crash during the rewrite loses nothing.
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
    let name = m.new_incr(&srv.cfg().appendfilename);
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

/// The cron's part: starts a scheduled or automatic rewrite.
pub fn start_from_cron(srv: &Server) {
    let barrier = Txn::exclusive(&srv.keyspace, 0, unix_ms());
    let _ = start(srv, &barrier);
}

fn run(srv: Arc<Server>, snap: Arc<ActiveSnapshot>, format: BaseFormat) {
    let tmp = temp_name(&srv);
    let part = tmp.with_extension("part");
    let (ks, cancel) = (&srv.keyspace, &srv.aof.cancel_rewrite);
    let written = write_then_rename(&tmp, &part, |sink| match &format {
        BaseFormat::Rdb(header) => {
            write_snapshot(ks, &snap, header, cancel, sink).map_err(|e| e.to_string())
        }
        BaseFormat::Commands { dbs, timestamp_s } => {
            resp_base::write_snapshot(ks, &snap, dbs, *timestamp_s, cancel, sink)
                .map_err(|e| e.to_string())
        }
    });
    srv.keyspace.snapshots.end();
    let result = written.and_then(|()| install_base(&srv, &tmp));
    let aof = &srv.aof;
    let started = aof.rewrite_started_ms.load(Ordering::Relaxed);
    aof.last_rewrite_secs
        .store((unix_ms() - started) / 1000, Ordering::Relaxed);
    match result {
        Ok(()) => {
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
        Err(_) if aof.cancel_rewrite.load(Ordering::Relaxed) => {
            let _ = std::fs::remove_file(&tmp);
            log::write_line(
                Verbosity::Warning,
                "Background AOF rewrite terminated by the AOF being turned off",
            );
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            log::write_line(Verbosity::Warning, &e);
            log::write_line(
                Verbosity::Warning,
                "Background AOF rewrite terminated with error",
            );
            rewrite_failed(&srv);
        }
    }
    aof.rewrite_in_progress.store(false, Ordering::Release);
}

fn rewrite_failed(srv: &Server) {
    let aof = &srv.aof;
    aof.rewrite_failures.fetch_add(1, Ordering::Relaxed);
    aof.last_rewrite_ok.store(false, Ordering::Relaxed);
    aof.last_failure_ms.store(unix_ms(), Ordering::Relaxed);
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
    if aof.is_on() || turning_on {
        next.retire_incrs_but_last();
    } else {
        next.retire_incrs_but_last();
        if let Some(mut last) = next.incrs.pop() {
            last.kind = super::manifest::FileKind::History;
            next.history.insert(0, last);
        }
    }
    std::fs::rename(tmp, dir.join(&name))
        .map_err(|e| format!("Error trying to rename the temporary AOF base file {name}: {e}"))?;
    persist_manifest(srv, &next)?;
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
fn cancel_running(srv: &Server) {
    let aof = &srv.aof;
    if !aof.rewrite_in_progress.load(Ordering::Acquire) {
        return;
    }
    log::write_line(Verbosity::Notice, "Killing running AOF rewrite");
    aof.cancel_rewrite.store(true, Ordering::Relaxed);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while aof.rewrite_in_progress.load(Ordering::Acquire) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    aof.cancel_rewrite.store(false, Ordering::Relaxed);
    aof.rewrite_scheduled.store(false, Ordering::Release);
}
