//! A replica loading its master's RDB straight from the socket (`repl-diskless-load`):
//!
//! - `on-empty-db`, when the replica holds no keys: the old (empty) dataset is flushed and
//!   the transfer parsed into the keyspace as it arrives, with `loading:1`.
//! - `swapdb`: the transfer is parsed into a temporary keyspace (and its function libraries
//!   collected) while the old dataset stays in place. If the master's history is the one we
//!   follow, the old data keeps being served meanwhile (`async_loading:1`, only commands
//!   flagged `no_async_loading` are refused); otherwise clients get `-LOADING` as in any
//!   load. Only a complete load replaces the dataset; a failed one (the link dropped, a bad
//!   file) leaves the old data as it was.
//!
//! [`SocketRdb`] turns the link into a `Read` of exactly the RDB payload: it stops at the
//! announced length, or before the 40-byte EOF mark of a diskless transfer, and remembers
//! whether the link itself failed, which tells a short read from a damaged file.

use std::io::Read;
use std::sync::atomic::Ordering;

use super::replica::LinkIo;
use super::wire::{BulkHeader, EofScanner};
use crate::keyspace::txn::Txn;
use crate::keyspace::Keyspace;
use crate::persist::load::{self, Loaded, Target};
use crate::server::log::{self, Verbosity};
use crate::server::{unix_ms, Server};

/// How the replica loads a transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadMode {
    /// Into a file first, then loaded from it (`disabled`, or `on-empty-db` with data).
    Disk,
    /// Parsed from the socket into the emptied keyspace.
    Direct,
    /// Parsed from the socket into a temporary keyspace, swapped in at the end.
    SwapDb,
}

/// The mode `repl-diskless-load` asks for now.
pub fn mode(srv: &Server) -> LoadMode {
    match srv.cfg().repl_diskless_load.as_str() {
        "swapdb" => LoadMode::SwapDb,
        "on-empty-db" if srv.keyspace.total_keys() == 0 => LoadMode::Direct,
        _ => LoadMode::Disk,
    }
}

/// The RDB payload of a transfer, read from the link.
pub(super) struct SocketRdb<'a, 'b> {
    io: &'a mut LinkIo<'b>,
    /// Bytes left for a `$<len>` transfer.
    left: u64,
    scanner: Option<EofScanner>,
    /// Payload released by the scanner, not yet returned, from `pending_at`.
    pending: Vec<u8>,
    pending_at: usize,
    /// The end of the payload was reached (the length read, or the mark seen).
    done: bool,
    /// Bytes taken from the link (INFO `master_sync_read_bytes`).
    read_total: i64,
    /// Why the link failed, if it did.
    pub(super) link_error: Option<String>,
}

impl<'a, 'b> SocketRdb<'a, 'b> {
    pub(super) fn new(io: &'a mut LinkIo<'b>, header: &BulkHeader) -> Self {
        let (left, scanner) = match header {
            BulkHeader::Length(n) => (*n, None),
            BulkHeader::Eof(mark) => (u64::MAX, Some(EofScanner::new(*mark))),
        };
        SocketRdb {
            io,
            left,
            scanner,
            pending: Vec::new(),
            pending_at: 0,
            done: left == 0,
            read_total: 0,
            link_error: None,
        }
    }

    /// Moves what the link has buffered into `pending` (payload bytes only).
    fn take_buffered(&mut self) {
        let buf = &mut self.io.buf;
        self.pending.clear();
        self.pending_at = 0;
        let take = match self.scanner {
            Some(_) => buf.len(),
            None => buf.len().min(self.left as usize),
        };
        match self.scanner.as_mut() {
            Some(s) => self.done = s.push(&buf[..take], &mut self.pending),
            None => {
                self.pending.extend_from_slice(&buf[..take]);
                self.left -= take as u64;
                self.done = self.left == 0;
            }
        }
        buf.drain(..take);
        self.read_total += take as i64;
        let read = self.read_total;
        self.io.with_link(|l| l.transfer_read = read);
    }

    /// True once the whole payload was returned and its end (length or mark) reached.
    pub(super) fn finished(&mut self) -> bool {
        let mut sink = [0u8; 256];
        // Bytes the RDB did not use mean the transfer does not end where it should.
        matches!(self.read(&mut sink), Ok(0)) && self.done
    }
}

impl Read for SocketRdb<'_, '_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let timeout_ms = self.io.srv.cfg().repl_timeout * 1000;
        let mut last_news = unix_ms();
        loop {
            if self.pending_at < self.pending.len() {
                let n = out.len().min(self.pending.len() - self.pending_at);
                out[..n].copy_from_slice(&self.pending[self.pending_at..self.pending_at + n]);
                self.pending_at += n;
                return Ok(n);
            }
            if self.done {
                return Ok(0);
            }
            if !self.io.buf.is_empty() {
                self.take_buffered();
                continue;
            }
            match self.io.fill() {
                Ok(true) => last_news = unix_ms(),
                Ok(false) if unix_ms() - last_news > timeout_ms => {
                    let e = "Timeout receiving bulk data from MASTER".to_string();
                    self.link_error = Some(e.clone());
                    return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, e));
                }
                Ok(false) => {}
                Err(e) => {
                    self.link_error = Some(e.clone());
                    return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, e));
                }
            }
        }
    }
}

/// Loads the transfer from the link. On failure the dataset is what it was before
/// (`SwapDb`) or empty (`Direct`), and the error is for the log.
pub(super) fn run(
    srv: &Server,
    io: &mut LinkIo,
    header: &BulkHeader,
    mode: LoadMode,
    same_history: bool,
) -> Result<Loaded, String> {
    if mode == LoadMode::Direct {
        super::disconnect_replicas(srv);
        log::write_line(
            Verbosity::Notice,
            "MASTER <-> REPLICA sync: Flushing old data",
        );
        super::replica::flush_all(srv);
    }
    log::write_line(
        Verbosity::Notice,
        "MASTER <-> REPLICA sync: Loading DB in memory",
    );
    let asynchronous = mode == LoadMode::SwapDb && same_history;
    let flag = if asynchronous {
        &srv.state.async_loading
    } else {
        &srv.state.loading
    };
    flag.store(true, Ordering::Release);
    let busy = srv
        .watchdog
        .busy(srv, || "the load of the master's data".to_string());
    let result = match mode {
        LoadMode::SwapDb => load_swapdb(srv, io, header),
        _ => load_direct(srv, io, header),
    };
    drop(busy);
    flag.store(false, Ordering::Release);
    let loaded = result?;
    // The dataset changed without a save, as Redis counts it.
    srv.stats.add(|c| &c.dirty, 1);
    Ok(loaded)
}

fn load_direct(srv: &Server, io: &mut LinkIo, header: &BulkHeader) -> Result<Loaded, String> {
    let mut source = SocketRdb::new(io, header);
    let target = Target {
        keyspace: &srv.keyspace,
        libraries: None,
    };
    let result = load_checked(srv, &mut source, target);
    if result.is_err() {
        // Nothing half loaded stays behind.
        super::replica::flush_all(srv);
    }
    result
}

fn load_swapdb(srv: &Server, io: &mut LinkIo, header: &BulkHeader) -> Result<Loaded, String> {
    let temp = Keyspace::new(srv.keyspace.db_count());
    let mut libraries = Vec::new();
    let mut source = SocketRdb::new(io, header);
    let target = Target {
        keyspace: &temp,
        libraries: Some(&mut libraries),
    };
    let loaded = match load_checked(srv, &mut source, target) {
        Ok(l) => l,
        Err(e) => {
            discard(temp);
            log::write_line(
                Verbosity::Notice,
                "MASTER <-> REPLICA sync: Discarding temporary DB in background",
            );
            return Err(e);
        }
    };
    // The new dataset is a different history: our replicas must sync again.
    super::disconnect_replicas(srv);
    log::write_line(
        Verbosity::Notice,
        "MASTER <-> REPLICA sync: Swapping active DB with loaded DB",
    );
    {
        let mut txn = Txn::exclusive(&srv.keyspace, 0, unix_ms());
        txn.writes = true;
        crate::cmd::keys::flush::swap_with_loaded(&mut txn, &temp);
        install_libraries(srv, &libraries);
    }
    discard(temp);
    log::write_line(
        Verbosity::Notice,
        "MASTER <-> REPLICA sync: Discarding old DB in background",
    );
    Ok(loaded)
}

/// Replaces the function libraries with those the transfer carried.
fn install_libraries(srv: &Server, libraries: &[Vec<u8>]) {
    srv.scripting.flush_libraries();
    for code in libraries {
        if let Err(e) = srv.scripting.load_library(code, true) {
            log::write_line(
                Verbosity::Warning,
                &format!("Failed loading library from the master: {e}"),
            );
        }
    }
}

/// Frees a temporary keyspace on a thread of its own.
fn discard(temp: Keyspace) {
    let spawned = std::thread::Builder::new()
        .name("repl-discard".into())
        .spawn(move || drop(temp));
    if let Err(e) = spawned {
        log::write_line(
            Verbosity::Warning,
            &format!("Can't free the temporary DB in background: {e}"),
        );
    }
}

/// Loads, then checks that the transfer ends where the RDB does. Failures are logged as
/// Redis logs them: a short read (the link failed) is survivable, anything else is a
/// damaged transfer.
fn load_checked(
    srv: &Server,
    source: &mut SocketRdb,
    target: Target<'_>,
) -> Result<Loaded, String> {
    let result = load::load_into(srv, &mut *source, false, target);
    let result = match result {
        Ok(l) if source.finished() => Ok(l),
        Ok(_) if source.link_error.is_none() => {
            log::write_line(
                Verbosity::Warning,
                "Replication stream EOF marker is broken",
            );
            Err("the transfer does not end where the RDB does".to_string())
        }
        Ok(_) => Err(source.link_error.clone().unwrap_or_default()),
        Err(e) => {
            let how = if source.link_error.is_some() {
                "Failure loading rdb format from socket, assuming connection error, resuming operation."
            } else {
                "Failure loading rdb format"
            };
            log::write_line(
                Verbosity::Warning,
                &format!(
                    "Internal error in RDB reading offset {}: {e}. {how}",
                    source.read_total
                ),
            );
            Err(e)
        }
    };
    result.map_err(|e| {
        format!("Failed trying to load the MASTER synchronization DB from socket: {e}")
    })
}
