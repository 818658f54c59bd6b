//! Reading an RDB file into the keyspace: at start-up, for DEBUG RELOAD, and (later) for a
//! replica's full resync.
//!
//! The file is streamed (the codec never allocates what the file merely claims), each value
//! converted to the encoding our thresholds choose, and inserted shard by shard. As in
//! Redis, a primary drops keys that are already expired, a replica keeps them (its master's
//! DELs will come), and a duplicate key, a database beyond `databases`, or a type Rudis does
//! not hold ends loading with an error naming the problem.

use std::io::Read;
use std::sync::atomic::Ordering;

use rudis_rdb::{Item, ReadOptions, Reader};

use super::codec;
use crate::keyspace::txn::lru_clock_at;
use crate::keyspace::Keyspace;
use crate::server::{unix_ms, Server};

/// What a load found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Loaded {
    pub keys_loaded: u64,
    pub keys_expired: u64,
    /// Keys whose value was an empty collection (only a damaged file has them).
    pub empty_keys_skipped: u64,
    /// The replication aux fields, if the file has them: (repl-id, repl-offset, repl-stream-db).
    pub repl: Option<(String, i64, i64)>,
    /// The keys dropped because they had expired, (database, key): a master restarted
    /// from the file sends its replicas their DELs, as Redis does.
    pub expired: Vec<(usize, Vec<u8>)>,
    /// Bytes of the stream the image took (an AOF may go on after it).
    pub bytes_read: u64,
}

/// Where a load puts what it reads.
pub struct Target<'a> {
    pub keyspace: &'a Keyspace,
    /// `None`: function libraries load into the server at once. `Some`: their code is
    /// collected here (a replica loading into a temporary keyspace installs them only if
    /// the whole load succeeds).
    pub libraries: Option<&'a mut Vec<Vec<u8>>>,
}

/// Loads an RDB stream into the keyspace (which the caller has emptied, or merges into).
/// With `merge`, a key already present is replaced (DEBUG RELOAD MERGE); otherwise it is an
/// error.
pub fn load(srv: &Server, source: impl Read, merge: bool) -> Result<Loaded, String> {
    let target = Target {
        keyspace: &srv.keyspace,
        libraries: None,
    };
    load_into(srv, source, merge, target)
}

/// Loads an RDB stream into `target` (see [`load`]).
pub fn load_into(
    srv: &Server,
    source: impl Read,
    merge: bool,
    mut target: Target<'_>,
) -> Result<Loaded, String> {
    let cfg = srv.cfg();
    let verify = cfg.rdbchecksum && !srv.state.skip_checksum_validation.load(Ordering::Relaxed);
    let mut reader = Reader::with_options(
        std::io::BufReader::with_capacity(1 << 16, source),
        ReadOptions {
            verify_checksum: verify,
        },
    )
    .map_err(|e| e.to_string())?;
    let keep_expired = srv.state.replica.load(Ordering::Relaxed);
    let (now_ms, databases) = (unix_ms(), srv.keyspace.db_count());
    let clock = lru_clock_at(now_ms);
    let lfu = cfg.maxmemory_policy.ends_with("-lfu");
    // `key-load-delay`: microseconds to wait per key (tests use it to make loading last).
    let delay = std::time::Duration::from_micros(cfg.key_load_delay.max(0) as u64);
    let mut db = 0usize;
    let mut out = Loaded::default();
    let mut aux = AuxRepl::default();
    while let Some(item) = next_item(&mut reader)? {
        match item {
            Item::SelectDb { db: n } => {
                db = usize::try_from(n).ok().filter(|&n| n < databases).ok_or_else(|| {
                    format!("FATAL: Data file was created with a Redis server configured to handle more than {databases} databases. Exiting")
                })?;
            }
            Item::ResizeDb { .. } => {}
            Item::Aux { key, value } => aux.note(&key, &value),
            Item::Function { code } => match target.libraries.as_mut() {
                Some(collected) => collected.push(code),
                None => srv
                    .scripting
                    .load_library(&code, merge)
                    .map_err(|e| format!("Failed loading library: {e}"))?,
            },
            Item::Entry(e) => {
                if !keep_expired && e.meta.expire_at_ms.is_some_and(|t| t < now_ms) {
                    out.keys_expired += 1;
                    out.expired.push((db, e.key.clone()));
                    continue;
                }
                let idle_secs = e.meta.lru_idle_secs.map(|s| s.min(i64::MAX as u64) as i64);
                let access =
                    codec::access_for(lfu, idle_secs, e.meta.lfu_freq, now_ms).unwrap_or(clock);
                let value = codec::load_value(e.value, &cfg).map_err(
                    |codec::LoadError::Corrupt(why)| {
                        format!(
                            "key '{}' holds a corrupt stream: {why}",
                            String::from_utf8_lossy(&e.key)
                        )
                    },
                )?;
                let (expire, key) = (e.meta.expire_at_ms, &e.key);
                if !target
                    .keyspace
                    .insert_loaded(db, key, value, expire, access, merge)
                {
                    return Err(format!(
                        "RDB has duplicated key '{}' in DB {db}",
                        String::from_utf8_lossy(&e.key)
                    ));
                }
                out.keys_loaded += 1;
                if !delay.is_zero() {
                    std::thread::sleep(delay);
                }
            }
        }
    }
    out.repl = aux.complete();
    out.empty_keys_skipped = reader.empty_keys_skipped();
    out.bytes_read = reader.offset();
    Ok(out)
}

/// The next item, logging the keys skipped on the way as Redis does.
fn next_item<R: Read>(reader: &mut Reader<R>) -> Result<Option<Item>, String> {
    let item = reader.next_item().map_err(describe);
    for key in reader.take_skipped_keys() {
        crate::server::log::write_line(
            crate::server::log::Verbosity::Warning,
            &format!(
                "rdbLoadObject skipping empty key: {}",
                String::from_utf8_lossy(&key)
            ),
        );
    }
    item
}

/// A reading error as the log tells it; a bad checksum in Redis's words ("RDB CRC error").
pub fn describe(e: rudis_rdb::Error) -> String {
    match e {
        rudis_rdb::Error::ChecksumMismatch {
            stored, computed, ..
        } => format!(
            "Wrong RDB checksum expected: ({computed:x}) but got ({stored:x}): RDB CRC error"
        ),
        other => other.to_string(),
    }
}

#[derive(Default)]
struct AuxRepl {
    id: Option<String>,
    offset: Option<i64>,
    stream_db: Option<i64>,
}

impl AuxRepl {
    fn note(&mut self, key: &[u8], value: &[u8]) {
        let text = String::from_utf8_lossy(value);
        match key {
            b"repl-id" if value.len() == 40 => self.id = Some(text.into_owned()),
            b"repl-offset" => self.offset = text.parse().ok(),
            b"repl-stream-db" => self.stream_db = text.parse().ok(),
            _ => {}
        }
    }

    fn complete(self) -> Option<(String, i64, i64)> {
        Some((self.id?, self.offset?, self.stream_db.unwrap_or(0)))
    }
}

/// Loads `dbfilename` at start-up, if it exists, logging as Redis does. `Ok(None)` if there
/// is no file.
pub fn load_at_startup(srv: &Server) -> Result<Option<Loaded>, String> {
    if srv.cfg().appendonly {
        // The AOF wins over the RDB file, as in Redis.
        return super::aof::load::at_startup(srv).map(|_| None);
    }
    let path = srv.cfg().dbfilename.clone();
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("Fatal error loading the DB: {e}. Exiting.")),
    };
    let started = std::time::Instant::now();
    let loaded =
        load(srv, file, false).map_err(|e| format!("Fatal error loading the DB: {e}. Exiting."))?;
    srv.rdb.loaded(&loaded);
    let done = format!(
        "Done loading RDB, keys loaded: {}, keys expired: {}",
        loaded.keys_loaded, loaded.keys_expired
    );
    if loaded.empty_keys_skipped > 0 {
        crate::server::log::write_line(
            crate::server::log::Verbosity::Warning,
            &format!("{done}, empty keys skipped: {}.", loaded.empty_keys_skipped),
        );
    } else {
        crate::server::log::write_line(crate::server::log::Verbosity::Notice, &format!("{done}."));
    }
    crate::server::log::write_line(
        crate::server::log::Verbosity::Notice,
        &format!(
            "DB loaded from disk: {:.3} seconds",
            started.elapsed().as_secs_f64()
        ),
    );
    Ok(Some(loaded))
}
