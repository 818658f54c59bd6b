//! Loading the AOF into the keyspace, as Redis does: the manifest, then the base file (an
//! RDB image, or commands, or an old-style AOF with an RDB preamble followed by commands),
//! then each incremental file in order. Commands run through their handlers on a fake client
//! inside one exclusive transaction; nothing they do is propagated.
//!
//! A file cut short (the last command incomplete, or a MULTI without its EXEC) is truncated
//! to its last complete command when `aof-load-truncated` is on and it is the last file;
//! otherwise loading fails with Redis's messages. Garbage fails with "Bad file format".
//!
//! At start-up ([`at_startup`]) an old single-file `appendonly.aof` in `dir` is moved into the
//! directory as the base (the upgrade Redis 7 does), the files are loaded, and the
//! incremental file to append to is opened, after writing a first base if there is none.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use rudis_resp::ReplyBuf;

use super::manifest::{FileKind, Manifest};
use super::reader::{CommandReader, Entry, ReadError};
use super::{dir_of, open_append, persist_manifest};
use crate::keyspace::txn::Txn;
use crate::server::client::{Client, ClientInfo};
use crate::server::log::{self, Verbosity};
use crate::server::{unix_ms, Server};

/// How loading one file ended, when it did not fail.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum FileLoad {
    Ok,
    Empty,
    Truncated,
}

/// The id Redis gives its AOF-loading client.
pub const AOF_CLIENT_ID: u64 = u64::MAX;

fn warn(message: &str) {
    log::write_line(Verbosity::Warning, message);
}

/// Reads the manifest from the AOF directory. `Ok(None)` if there is none.
pub fn read_manifest(srv: &Server) -> Result<Option<Manifest>, String> {
    let path = dir_of(srv).join(format!("{}.manifest", srv.cfg().appendfilename));
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(format!(
                "Fatal error: can't open the AOF manifest file {} for reading: {e}",
                path.display()
            ))
        }
    };
    Manifest::parse(&text).map(Some).map_err(|e| {
        let mut message = "*** FATAL AOF MANIFEST FILE ERROR ***".to_string();
        if let Some((n, line)) = e.line {
            message.push_str(&format!(
                "\nReading the manifest file, at line {n}\n>>> '{line}'"
            ));
        }
        message.push('\n');
        message.push_str(e.message);
        message
    })
}

/// Loads every file the manifest names. Returns false when there was nothing to load
/// (no files, or all empty).
pub fn load_files(srv: &Server, txn: &mut Txn<'_>, m: &Manifest) -> Result<bool, String> {
    let dir = dir_of(srv);
    let files: Vec<_> = m.base.iter().chain(&m.incrs).collect();
    if files.is_empty() {
        return Ok(false);
    }
    let mut total = 0u64;
    for f in &files {
        match std::fs::metadata(dir.join(&f.name)) {
            Ok(md) => total += md.len(),
            Err(e) => {
                warn(&format!(
                    "The append log file {} doesn't exist: {e}",
                    f.name
                ));
                return Err(format!(
                    "Fatal error: can't open the append log file {}",
                    f.name
                ));
            }
        }
    }
    if total == 0 {
        return Ok(false);
    }
    let last = files.len() - 1;
    for (i, f) in files.iter().enumerate() {
        let started = std::time::Instant::now();
        let outcome = load_file(srv, txn, &dir.join(&f.name), &f.name)?;
        if outcome == FileLoad::Truncated && i != last {
            return Err("Fatal error: the truncated file is not the last file".into());
        }
        let what = if f.kind == FileKind::Base {
            "base"
        } else {
            "incr"
        };
        if outcome != FileLoad::Empty {
            log::write_line(
                Verbosity::Notice,
                &format!(
                    "DB loaded from {what} file {}: {:.3} seconds",
                    f.name,
                    started.elapsed().as_secs_f64()
                ),
            );
        }
    }
    Ok(true)
}

/// Loads one file. `name` is how messages name it.
pub fn load_file(
    srv: &Server,
    txn: &mut Txn<'_>,
    path: &Path,
    name: &str,
) -> Result<FileLoad, String> {
    let mut file = File::open(path).map_err(|e| {
        format!("Fatal error: can't open the append log file {name} for reading: {e}")
    })?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if len == 0 {
        return Ok(FileLoad::Empty);
    }
    let mut sig = [0u8; 5];
    let is_rdb = file.read_exact(&mut sig).is_ok() && &sig == b"REDIS";
    let mut start = 0u64;
    if is_rdb {
        start = load_rdb_part(srv, txn, path, name)?;
    }
    file.seek(SeekFrom::Start(start))
        .map_err(|e| format!("Unrecoverable error reading the append only file {name}: {e}"))?;
    load_commands(
        srv,
        txn,
        BufReader::with_capacity(1 << 16, file),
        start,
        path,
        name,
    )
}

/// Loads the RDB image at the start of a file; returns where it ends.
fn load_rdb_part(srv: &Server, txn: &mut Txn<'_>, path: &Path, name: &str) -> Result<u64, String> {
    let old_style = name == srv.cfg().appendfilename;
    log::write_line(
        Verbosity::Notice,
        if old_style {
            "Reading RDB preamble from AOF file..."
        } else {
            "Reading RDB base file on AOF loading..."
        },
    );
    txn.release_shards();
    let file = File::open(path).map_err(|e| e.to_string())?;
    match crate::persist::load::load(srv, file, false) {
        Ok(loaded) => {
            srv.rdb.loaded(&loaded);
            if old_style {
                log::write_line(Verbosity::Notice, "Reading the remaining AOF tail...");
            }
            Ok(loaded.bytes_read)
        }
        Err(e) => {
            warn(&e);
            Err(if old_style {
                format!(
                    "Error reading the RDB preamble of the AOF file {name}, AOF loading aborted"
                )
            } else {
                format!("Error reading the RDB base file {name}, AOF loading aborted")
            })
        }
    }
}

/// Runs the commands of a file (from `start`).
fn load_commands(
    srv: &Server,
    txn: &mut Txn<'_>,
    source: impl std::io::BufRead,
    start: u64,
    path: &Path,
    name: &str,
) -> Result<FileLoad, String> {
    let mut reader = CommandReader::new(source);
    let mut runner = Runner::new(srv);
    let mut valid_up_to = start;
    let mut valid_before_multi = start;
    let mut multi: Option<Vec<Vec<Vec<u8>>>> = None;
    let delay_us = srv.cfg().key_load_delay.max(0) as u64;
    loop {
        let argv = match reader.next_entry() {
            Ok(None) if multi.is_some() => {
                warn(&format!(
                    "Revert incomplete MULTI/EXEC transaction in AOF file {name}"
                ));
                return truncated(srv, path, name, valid_before_multi);
            }
            Ok(None) => return Ok(FileLoad::Ok),
            Ok(Some(Entry::Timestamp(_))) => continue,
            Ok(Some(Entry::Command(argv))) => argv,
            Err(ReadError::Truncated) => return truncated(srv, path, name, valid_up_to),
            Err(ReadError::Format) => return Err(format!("Bad file format reading the append only file {name}: make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>")),
            Err(ReadError::Io(e)) => {
                return Err(format!(
                    "Unrecoverable error reading the append only file {name}: {e}"
                ))
            }
        };
        if srv.commands.lookup(&argv[0]).is_none() {
            return Err(format!(
                "Unknown command '{}' reading the append only file {name}",
                String::from_utf8_lossy(&argv[0])
            ));
        }
        if argv[0].eq_ignore_ascii_case(b"multi") {
            valid_before_multi = valid_up_to;
            multi = Some(Vec::new());
        } else if argv[0].eq_ignore_ascii_case(b"exec") && multi.is_some() {
            for queued in multi.take().unwrap_or_default() {
                runner.run(txn, &queued);
            }
        } else if let Some(q) = multi.as_mut() {
            q.push(argv);
        } else {
            runner.run(txn, &argv);
        }
        valid_up_to = start + reader.offset();
        if delay_us > 0 {
            std::thread::sleep(std::time::Duration::from_micros(delay_us));
        }
    }
}

/// The end of a file that was cut short.
fn truncated(srv: &Server, path: &Path, name: &str, valid_up_to: u64) -> Result<FileLoad, String> {
    if srv.cfg().aof_load_truncated {
        warn(&format!(
            "!!! Warning: short read while loading the AOF file {name}!!!"
        ));
        warn(&format!(
            "!!! Truncating the AOF {name} at offset {valid_up_to} !!!"
        ));
        let cut = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .and_then(|f| f.set_len(valid_up_to));
        match cut {
            Ok(()) => {
                warn(&format!(
                    "AOF {name} loaded anyway because aof-load-truncated is enabled"
                ));
                return Ok(FileLoad::Truncated);
            }
            Err(e) => warn(&format!("Error truncating the AOF file {name}: {e}")),
        }
    }
    Err(format!("Unexpected end of file reading the append only file {name}. You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server."))
}

/// Runs loaded commands on a fake client.
struct Runner<'s> {
    srv: &'s Server,
    client: Client,
    reply: ReplyBuf,
}

impl<'s> Runner<'s> {
    fn new(srv: &'s Server) -> Self {
        let info = Arc::new(ClientInfo::new(
            AOF_CLIENT_ID,
            String::new(),
            String::new(),
            -1,
            unix_ms(),
        ));
        let mut client = Client::new(info, None);
        client.authenticated = true;
        client.deny_blocking = true;
        client.is_aof_loader = true;
        Runner {
            srv,
            client,
            reply: ReplyBuf::new(),
        }
    }

    fn run(&mut self, txn: &mut Txn<'_>, argv: &[Vec<u8>]) {
        let args: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
        crate::command::dispatch::run_loaded(
            self.srv,
            &mut self.client,
            &mut self.reply,
            txn,
            &args,
        );
        self.reply.clear();
    }
}

/// Loads the AOF at start-up (appendonly yes), then opens the incremental file to append
/// to. `Ok(false)` if there was no AOF to load.
pub fn at_startup(srv: &Server) -> Result<bool, String> {
    let mut m = read_manifest(srv)?.unwrap_or_default();
    upgrade_if_needed(srv, &mut m)?;
    let started = std::time::Instant::now();
    let loaded = {
        let mut txn = Txn::exclusive(&srv.keyspace, 0, unix_ms());
        txn.writes = true;
        load_files(srv, &mut txn, &m)?
    };
    if loaded {
        log::write_line(
            Verbosity::Notice,
            &format!(
                "DB loaded from append only file: {:.3} seconds",
                started.elapsed().as_secs_f64()
            ),
        );
    }
    open_on_startup(srv, m)?;
    Ok(loaded)
}

/// Redis before 7 kept one file, `appendfilename`, in `dir`: it becomes the base.
fn upgrade_if_needed(srv: &Server, m: &mut Manifest) -> Result<(), String> {
    let cfg = srv.cfg();
    let old = Path::new(&cfg.appendfilename);
    let dir = dir_of(srv);
    if !old.is_file() {
        return Ok(());
    }
    let base_is_old = m.incrs.is_empty()
        && m.base
            .as_ref()
            .is_some_and(|b| b.name == cfg.appendfilename && !dir.join(&b.name).exists());
    if dir.is_dir() && !m.is_empty() && !base_is_old {
        return Ok(());
    }
    std::fs::create_dir_all(&dir).map_err(|e| {
        format!(
            "Can't open or create append-only dir {}: {e}",
            dir.display()
        )
    })?;
    *m = Manifest {
        base: Some(super::manifest::AofFile {
            name: cfg.appendfilename.clone(),
            seq: 1,
            kind: FileKind::Base,
        }),
        base_seq: 1,
        ..Manifest::default()
    };
    persist_manifest(srv, m)?;
    std::fs::rename(old, dir.join(&cfg.appendfilename)).map_err(|e| {
        format!(
            "Error trying to move the old AOF file {} into dir {}: {e}",
            cfg.appendfilename,
            dir.display()
        )
    })?;
    log::write_line(
        Verbosity::Notice,
        &format!(
            "Successfully migrated an old-style AOF file ({}) into the AOF directory ({}).",
            cfg.appendfilename,
            dir.display()
        ),
    );
    Ok(())
}

/// Creates a base if the AOF is empty, opens the last incremental file (or a new one) for
/// appending, persists the manifest and removes history files.
fn open_on_startup(srv: &Server, mut m: Manifest) -> Result<(), String> {
    let dir = dir_of(srv);
    std::fs::create_dir_all(&dir).map_err(|e| {
        format!(
            "Can't open or create append-only dir {}: {e}",
            dir.display()
        )
    })?;
    let prefix = srv.cfg().appendfilename.clone();
    if m.is_empty() {
        let name = m.new_base(&prefix, srv.cfg().aof_use_rdb_preamble);
        super::rewrite::write_base_held(srv, &dir.join(&name))?;
        log::write_line(
            Verbosity::Notice,
            &format!("Creating AOF base file {name} on server start"),
        );
    }
    let reuse = !m.incrs.is_empty();
    let name = match m.incrs.last() {
        Some(f) => f.name.clone(),
        None => m.new_incr(&prefix),
    };
    let (file, bytes) = open_append(&dir.join(&name), false)
        .map_err(|e| format!("Can't open the append-only file {name}: {e}"))?;
    persist_manifest(srv, &m)?;
    let aof = &srv.aof;
    let others: u64 = m
        .base
        .iter()
        .chain(&m.incrs)
        .filter(|f| f.name != name)
        .filter_map(|f| std::fs::metadata(dir.join(&f.name)).ok())
        .map(|md| md.len())
        .sum();
    let base_bytes = m
        .base
        .as_ref()
        .and_then(|b| std::fs::metadata(dir.join(&b.name)).ok())
        .map_or(0, |md| md.len());
    aof.base_size.store(base_bytes, Ordering::Relaxed);
    aof.older_bytes.store(others, Ordering::Relaxed);
    super::delete_history(srv, &mut m)?;
    *aof.manifest.lock() = m;
    aof.switch_to(srv, file, bytes);
    aof.on.store(true, Ordering::Release);
    let verb = if reuse { "Opening" } else { "Creating" };
    log::write_line(
        Verbosity::Notice,
        &format!("{verb} AOF incr file {name} on server start"),
    );
    Ok(())
}

/// DEBUG LOADAOF: loads the AOF the manifest on disk describes into the (emptied) keyspace,
/// inside the caller's exclusive transaction. The manifest read becomes the current one
/// (its history files are deleted), as in Redis.
pub fn reload(srv: &Server, txn: &mut Txn<'_>) -> Result<(), String> {
    let mut m = read_manifest(srv)?.unwrap_or_default();
    let _ = super::delete_history(srv, &mut m);
    let loaded = load_files(srv, txn, &m);
    if !srv.aof.rewrite_in_progress.load(Ordering::Acquire) {
        *srv.aof.manifest.lock() = m;
    }
    loaded.map(|_| ())
}
