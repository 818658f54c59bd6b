//! Full-sync transfers, shared by the replicas that wait for one, as Redis shares a BGSAVE
//! child between them.
//!
//! A replica that needs a full sync says which transfer it wants ([`Want`]) and waits. A
//! job begins at a barrier (the keyspace held exclusively for an instant): every replica
//! waiting for that kind of transfer becomes a member, registered as a reader of the
//! stream at the barrier's offset, and gets an [`Assignment`]. A thread serializes the
//! fork-free snapshot:
//!
//! - disk-based: to `dbfilename`; each member then sends the file. A replica arriving
//!   while the file is being written joins the job as long as the stream still holds the
//!   job's offset.
//! - diskless: through one bounded channel per member, so the transfer goes at the pace of
//!   the slowest member. A member that leaves (or is dropped for `repl-timeout`) closes its
//!   channel and the rest go on; when none is left the job stops.
//!
//! While a job runs INFO reports `rdb_bgsave_in_progress:1`. A disk-based job nobody waits
//! for any more is abandoned unless save points are configured (the file is then still
//! worth having), as Redis kills its child; FLUSHALL abandons any job.

use std::fs::File;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::{mpsc, watch};

use super::{replica_state, ReplicaEntry};
use crate::keyspace::snapshot::ActiveSnapshot;
use crate::keyspace::txn::Txn;
use crate::persist::save::{self, SaveHeader};
use crate::propagate::target;
use crate::server::log::{self, Verbosity};
use crate::server::{unix_ms, Server};

/// Bytes per message from the snapshot thread to a diskless transfer.
const CHUNK_BYTES: usize = 64 * 1024;
/// Messages queued per member of a diskless transfer.
const QUEUE_CHUNKS: usize = 16;

/// The kind of transfer a replica waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    Disk,
    Socket,
}

/// A piece of a diskless transfer.
pub enum Piece {
    Bytes(Arc<[u8]>),
    /// The image is complete.
    End,
}

/// The outcome of a disk-based job: the file, opened before anything could replace it.
pub type FileResult = Option<Result<Arc<File>, String>>;

/// What a member of a job receives.
pub enum Feed {
    Socket(mpsc::Receiver<Piece>),
    Disk(watch::Receiver<FileResult>),
}

/// A replica's place in a job.
pub struct Assignment {
    pub replid: String,
    /// The stream offset of the image: the replica continues from there.
    pub offset: i64,
    pub feed: Feed,
}

/// The running job.
pub struct Job {
    pub want: Want,
    pub offset: i64,
    pub replid: String,
    pub cancel: Arc<AtomicBool>,
    /// Disk-based: the file, when written (for replicas joining late).
    file: Option<watch::Receiver<FileResult>>,
}

/// The job slot and each waiting replica's assignment.
#[derive(Default)]
pub struct Jobs {
    running: Mutex<Option<Arc<Job>>>,
}

impl Jobs {
    pub fn is_running(&self) -> bool {
        self.running.lock().is_some()
    }

    fn current(&self) -> Option<Arc<Job>> {
        self.running.lock().clone()
    }
}

/// Starts a job for every replica waiting for a `want` transfer. False if another snapshot
/// runs (the caller tries again later).
pub fn start(srv: &Server, want: Want) -> bool {
    let r = &srv.replication;
    if srv.rdb.bgsave_running.load(Ordering::Acquire) || srv.keyspace.snapshots.is_active() {
        return false;
    }
    let barrier = Txn::exclusive(&srv.keyspace, 0, unix_ms());
    // Commands after the barrier select their database again: replicas start from the
    // stream database the image names.
    srv.propagator.reset_selected_db_of(target::REPLICAS);
    let offset = r.stream.offset();
    let header = SaveHeader::capture(srv);
    let Some(snap) = srv.keyspace.snapshots.begin(save::shard_encoder(&header)) else {
        return false;
    };
    let members: Vec<Arc<ReplicaEntry>> = r
        .replicas
        .lock()
        .iter()
        .filter(|e| *e.want.lock() == Some(want) && e.assignment.lock().is_none())
        .filter(|e| r.stream.add_reader(e.client.id, offset))
        .cloned()
        .collect();
    if members.is_empty() {
        srv.keyspace.snapshots.end();
        return true;
    }
    let (replid, _) = srv.repl.ids();
    let cancel = Arc::new(AtomicBool::new(false));
    let (outputs, file) = match want {
        Want::Socket => {
            let mut outputs = Vec::new();
            for m in &members {
                let (tx, rx) = mpsc::channel(QUEUE_CHUNKS);
                outputs.push(tx);
                assign(m, &replid, offset, Feed::Socket(rx));
            }
            (Output::Socket(outputs), None)
        }
        Want::Disk => {
            let (tx, rx) = watch::channel(None);
            for m in &members {
                assign(m, &replid, offset, Feed::Disk(rx.clone()));
            }
            (Output::Disk(tx), Some(rx))
        }
    };
    let job = Arc::new(Job {
        want,
        offset,
        replid,
        cancel: cancel.clone(),
        file,
    });
    *r.jobs.running.lock() = Some(job);
    srv.rdb.repl_snapshot_running.store(true, Ordering::Release);
    drop(barrier);
    log::write_line(
        Verbosity::Notice,
        &format!(
            "Starting BGSAVE for SYNC with target: {}",
            if want == Want::Disk {
                "disk"
            } else {
                "replicas sockets"
            }
        ),
    );
    spawn(srv.arc(), snap, header, outputs, cancel);
    true
}

fn assign(m: &ReplicaEntry, replid: &str, offset: i64, feed: Feed) {
    *m.assignment.lock() = Some(Assignment {
        replid: replid.to_string(),
        offset,
        feed,
    });
    m.client.wake.notify();
}

/// A replica arriving during a disk-based job shares its file, if the stream still holds
/// the job's offset.
pub fn join(srv: &Server, entry: &ReplicaEntry) -> bool {
    let r = &srv.replication;
    let Some(job) = r.jobs.current() else {
        return false;
    };
    let Some(file) = &job.file else {
        return false;
    };
    if job.cancel.load(Ordering::Relaxed) || !r.stream.add_reader(entry.client.id, job.offset) {
        return false;
    }
    log::write_line(Verbosity::Notice, "Waiting for end of BGSAVE for SYNC");
    assign(entry, &job.replid, job.offset, Feed::Disk(file.clone()));
    true
}

/// A replica that waited for a disk-based job left: if no other replica waits for it and
/// no save point wants the file, the job stops.
pub fn replica_left(srv: &Server, was_waiting: bool) {
    if !was_waiting || !srv.cfg().save.0.is_empty() {
        return;
    }
    let Some(job) = srv.replication.jobs.current() else {
        return;
    };
    let others_wait = srv
        .replication
        .replicas
        .lock()
        .iter()
        .any(|e| e.state.load(Ordering::Relaxed) == replica_state::WAIT_BGSAVE);
    if job.want == Want::Disk && !others_wait {
        job.cancel.store(true, Ordering::Relaxed);
    }
}

/// Abandons the running job (FLUSHALL: its image is of data just removed).
pub fn cancel(srv: &Server) {
    if let Some(job) = srv.replication.jobs.current() {
        job.cancel.store(true, Ordering::Relaxed);
    }
}

enum Output {
    Socket(Vec<mpsc::Sender<Piece>>),
    Disk(watch::Sender<FileResult>),
}

fn spawn(
    srv: Arc<Server>,
    snap: Arc<ActiveSnapshot>,
    header: SaveHeader,
    output: Output,
    cancel: Arc<AtomicBool>,
) {
    let keeper = srv.clone();
    let spawned = std::thread::Builder::new()
        .name("repl-snapshot".into())
        .spawn(move || {
            match output {
                Output::Disk(tx) => {
                    let result = write_disk(&srv, &snap, &header, &cancel);
                    finish(&srv);
                    let _ = tx.send(Some(result.map(Arc::new)));
                }
                Output::Socket(members) => {
                    log::write_line(
                        Verbosity::Notice,
                        &format!("Background RDB transfer started by pid {}", thread_id()),
                    );
                    let mut fan = Fanout {
                        members,
                        buf: Vec::with_capacity(CHUNK_BYTES),
                        cancel: cancel.clone(),
                    };
                    let result = save::write_snapshot(&srv.keyspace, &snap, &header, &|| cancel.load(Ordering::Relaxed), &mut fan)
                        .and_then(|w| w.flush().map_err(|e| rudis_rdb::Error::Io { offset: 0, source: e }));
                    if result.is_ok() {
                        let up = fan.members.iter().filter(|m| !m.is_closed()).count();
                        log::write_line(
                            Verbosity::Warning,
                            &format!("Diskless rdb transfer, done reading from pipe, {up} replicas still up."),
                        );
                        for m in &fan.members {
                            let _ = m.blocking_send(Piece::End);
                        }
                    }
                    // Members see their channel close: without `End`, the transfer failed.
                    drop(fan);
                    finish(&srv);
                }
            }
        });
    if spawned.is_err() {
        finish(&keeper);
    }
}

/// The snapshot is over: the machinery is free for the next one.
fn finish(srv: &Server) {
    srv.keyspace.snapshots.end();
    *srv.replication.jobs.running.lock() = None;
    srv.rdb
        .repl_snapshot_running
        .store(false, Ordering::Release);
}

fn write_disk(
    srv: &Server,
    snap: &ActiveSnapshot,
    header: &SaveHeader,
    cancel: &AtomicBool,
) -> Result<File, String> {
    let path = srv.cfg().dbfilename.clone();
    let tmp = format!("temp-{}-repl.rdb", std::process::id());
    let dirty = srv.rdb.dirty_now(srv);
    save::write_file(&path, &tmp, |sink| {
        save::write_snapshot(
            &srv.keyspace,
            snap,
            header,
            &|| cancel.load(Ordering::Relaxed),
            sink,
        )
    })?;
    srv.rdb.saved(srv, dirty);
    // Opened before the snapshot ends, so a later save cannot replace the file the
    // members are sent.
    File::open(&path).map_err(|e| format!("opening {path}: {e}"))
}

/// The kernel's id of the calling thread (what a fork's pid is to Redis: the task doing the
/// transfer).
fn thread_id() -> String {
    std::fs::read_link("/proc/thread-self")
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| std::process::id().to_string())
}

/// Sends the image to every member still there, at the pace of the slowest.
struct Fanout {
    members: Vec<mpsc::Sender<Piece>>,
    buf: Vec<u8>,
    cancel: Arc<AtomicBool>,
}

impl Write for Fanout {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK_BYTES {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk: Arc<[u8]> = Arc::from(std::mem::take(&mut self.buf).into_boxed_slice());
        self.buf.reserve(CHUNK_BYTES);
        self.members
            .retain(|m| m.blocking_send(Piece::Bytes(chunk.clone())).is_ok());
        if self.members.is_empty() {
            log::write_line(
                Verbosity::Warning,
                "Diskless rdb transfer, last replica dropped, killing fork child.",
            );
            self.cancel.store(true, Ordering::Relaxed);
            return Err(std::io::Error::other("no replica is left"));
        }
        Ok(())
    }
}
