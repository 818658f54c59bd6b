//! MIGRATE: moves (or copies) keys to another server, Rudis or Redis, by sending it RESTORE
//! commands (RESTORE-ASKING in cluster mode) and deleting the keys the target acknowledged.
//!
//! As in Redis, the command blocks its caller for the exchange (each read and write waits
//! at most `timeout` ms) while holding the keys' shards, so nothing changes the keys between
//! serializing and deleting them. Connections to targets are cached per `host:port` for
//! [`CACHE_TTL_S`] seconds ([`SocketCache`], INFO `migrate_cached_sockets`), remembering
//! the database last selected. Replies are read a line at a time into a bounded buffer: a
//! target can make MIGRATE fail, never make it allocate what the target merely claims.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use parking_lot::Mutex;
use rudis_resp::Argv;

use crate::cmd::util::is;
use crate::command::error::{CmdError, NOT_INTEGER, SYNTAX};
use crate::command::{CmdResult, Ctx};
use crate::keyspace::lazyfree;
use crate::keyspace::txn::{encode_command, event};
use crate::persist::codec;

/// Most cached connections; a new one beyond this closes another.
const CACHE_MAX: usize = 64;
/// A cached connection unused for longer than this is closed by the cron.
pub const CACHE_TTL_S: i64 = 10;
/// Longest reply line kept (Redis reads replies into 1 KiB buffers).
const LINE_MAX: usize = 1024;
/// Longest reply line read at all before the target is treated as broken.
const LINE_DISCARD_MAX: usize = 64 * 1024;
/// Writes go out in pieces of this size, each within the timeout.
const WRITE_CHUNK: usize = 64 * 1024;

/// An open connection to a target.
struct Cached {
    conn: BufReader<TcpStream>,
    /// The database last selected on it, if known.
    db: Option<i64>,
    last_use_s: i64,
}

/// Connections to MIGRATE targets, by `host:port`.
#[derive(Default)]
pub struct SocketCache {
    sockets: Mutex<HashMap<Vec<u8>, Cached>>,
}

impl SocketCache {
    /// How many connections are cached.
    pub fn len(&self) -> usize {
        self.sockets.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Closes connections unused for more than [`CACHE_TTL_S`] (run by the cron).
    pub fn close_idle(&self, now_s: i64) {
        self.sockets
            .lock()
            .retain(|_, c| now_s - c.last_use_s <= CACHE_TTL_S);
    }

    /// Takes the cached connection for `name` out of the cache, or opens one.
    fn take_or_connect(
        &self,
        name: &[u8],
        host: &str,
        port: u16,
        timeout: Duration,
    ) -> Result<Cached, ConnectError> {
        if let Some(c) = self.sockets.lock().remove(name) {
            return Ok(c);
        }
        let stream = connect(host, port, timeout)?;
        let _ = stream.set_nodelay(true);
        Ok(Cached {
            conn: BufReader::new(stream),
            db: None,
            last_use_s: 0,
        })
    }

    /// Puts a connection (back) into the cache.
    fn put(&self, name: Vec<u8>, mut cached: Cached, now_s: i64) {
        cached.last_use_s = now_s;
        let mut sockets = self.sockets.lock();
        if sockets.len() >= CACHE_MAX && !sockets.contains_key(&name) {
            if let Some(victim) = sockets.keys().next().cloned() {
                sockets.remove(&victim);
            }
        }
        sockets.insert(name, cached);
    }
}

/// Why no connection was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ConnectError {
    /// The name does not resolve, or no address answered within the timeout.
    Unreachable,
    /// The target answered with a refusal (Redis only notices when its first write fails,
    /// and reports a write error; so do we).
    Refused,
}

/// Connects to `host:port`, trying each address within `timeout`.
fn connect(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, ConnectError> {
    let addrs = (host, port)
        .to_socket_addrs()
        .map_err(|_| ConnectError::Unreachable)?;
    let mut failure = ConnectError::Unreachable;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => return Ok(stream),
            Err(e) if !matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) => {
                failure = ConnectError::Refused;
            }
            Err(_) => {}
        }
    }
    Err(failure)
}

/// MIGRATE's parsed arguments.
struct Request<'a> {
    host: &'a [u8],
    port: &'a [u8],
    db: i64,
    timeout: Duration,
    copy: bool,
    replace: bool,
    /// (username, password) for AUTH.
    auth: Option<(Option<&'a [u8]>, &'a [u8])>,
    /// Argument index of the first key, and how many.
    first_key: usize,
    key_count: usize,
    /// Indexes of the AUTH/AUTH2 arguments, hidden from SLOWLOG (even when parsing fails
    /// further on, as in Redis).
    secrets: Vec<usize>,
}

/// Parses the arguments; the AUTH/AUTH2 arguments seen go to `secrets` even on error.
fn parse<'a>(argv: Argv<'a>, secrets: &mut Vec<usize>) -> Result<Request<'a>, CmdError> {
    let mut req = Request {
        host: argv.get(1),
        port: argv.get(2),
        db: 0,
        timeout: Duration::ZERO,
        copy: false,
        replace: false,
        auth: None,
        first_key: 3,
        key_count: 1,
        secrets: Vec::new(),
    };
    let parsed = parse_options(argv, &mut req);
    secrets.append(&mut req.secrets);
    parsed?;
    let timeout_ms = rudis_resp::number::parse_i64(argv.get(5)).ok_or(NOT_INTEGER)?;
    req.db = rudis_resp::number::parse_i64(argv.get(4)).ok_or(NOT_INTEGER)?;
    let timeout_ms = if timeout_ms <= 0 { 1000 } else { timeout_ms };
    req.timeout = Duration::from_millis(timeout_ms as u64);
    Ok(req)
}

/// Parses the options after the timeout into `req`.
fn parse_options<'a>(argv: Argv<'a>, req: &mut Request<'a>) -> Result<(), CmdError> {
    let mut i = 6;
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        let arg = argv.get(i);
        if is(arg, "copy") {
            req.copy = true;
        } else if is(arg, "replace") {
            req.replace = true;
        } else if is(arg, "auth") && more >= 1 {
            req.auth = Some((None, argv.get(i + 1)));
            req.secrets.push(i + 1);
            i += 1;
        } else if is(arg, "auth2") && more >= 2 {
            req.auth = Some((Some(argv.get(i + 1)), argv.get(i + 2)));
            req.secrets.extend([i + 1, i + 2]);
            i += 2;
        } else if is(arg, "keys") {
            if !argv.get(3).is_empty() {
                return Err("ERR When using MIGRATE KEYS option, the key argument must be set to the empty string".into());
            }
            req.first_key = i + 1;
            req.key_count = argv.len() - i - 1;
            break;
        } else {
            return Err(SYNTAX);
        }
        i += 1;
    }
    Ok(())
}

/// The key positions of a MIGRATE: the one key, or those after KEYS (skipping AUTH's and
/// AUTH2's arguments, which could read "keys").
pub(super) fn migrate_keys(argv: Argv) -> Vec<usize> {
    let mut i = 6;
    while i < argv.len() {
        let arg = argv.get(i);
        if is(arg, "auth") {
            i += 1;
        } else if is(arg, "auth2") {
            i += 2;
        } else if is(arg, "keys") {
            return (i + 1..argv.len()).collect();
        }
        i += 1;
    }
    vec![3]
}

/// A key to send: its name, TTL in ms (0: none) and payload.
struct Outgoing<'a> {
    key: &'a [u8],
    ttl_ms: i64,
    payload: Vec<u8>,
}

/// MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE] [AUTH password]
/// [AUTH2 username password] [KEYS key [key ...]]
pub(super) fn migrate(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let req = parse(argv, &mut ctx.client.redacted_args)?;
    let keys: Vec<&[u8]> = (req.first_key..req.first_key + req.key_count)
        .map(|i| argv.get(i))
        .filter(|k| ctx.txn.get(k).is_some())
        .collect();
    if keys.is_empty() {
        ctx.reply.simple("NOKEY");
        return Ok(());
    }
    let outgoing = serialize_keys(ctx, &keys);
    let Some(port) = std::str::from_utf8(req.port)
        .ok()
        .and_then(|p| p.parse::<u16>().ok())
    else {
        return Err(CONNECT_ERR.into());
    };
    let host = String::from_utf8_lossy(req.host).into_owned();
    let name = [req.host, b":", req.port].concat();
    let cluster = ctx.srv.cfg().cluster_enabled;
    let mut may_retry = true;
    loop {
        let cache = &ctx.srv.migrate_sockets;
        let (conn, outcome) = match cache.take_or_connect(&name, &host, port, req.timeout) {
            Ok(mut conn) => {
                let sent = send(&mut conn, &req, &outgoing, cluster);
                let outcome =
                    sent.and_then(|select| read_replies(&mut conn, &req, select, outgoing.len()));
                (Some(conn), outcome)
            }
            Err(ConnectError::Unreachable) => return Err(CONNECT_ERR.into()),
            Err(ConnectError::Refused) => (None, Err(Failure::refused())),
        };
        let acked = apply_acks(ctx, &req, &outgoing, &outcome);
        match (outcome, conn) {
            (Ok(replies), Some(conn)) => return finish(ctx, req.db, name, conn, &replies),
            (Ok(_), None) => unreachable!("replies come from a connection"),
            (Err(fail), _) => {
                // Retry once on a fresh connection (a cached one may have been closed by the
                // target), unless the target timed out or already took some keys.
                if may_retry && !fail.timed_out && acked == 0 && fail.replies_read == 0 {
                    may_retry = false;
                    continue;
                }
                if let Some(e) = fail.target_error {
                    return Err(e);
                }
                let dir = if fail.writing { "writing" } else { "reading" };
                return Err(format!("IOERR error or timeout {dir} to target instance").into());
            }
        }
    }
}

const CONNECT_ERR: &str = "IOERR error or timeout connecting to the client";

/// Serializes the keys (skipping any whose time has come since the lookup).
fn serialize_keys<'a>(ctx: &mut Ctx, keys: &[&'a [u8]]) -> Vec<Outgoing<'a>> {
    let compress = ctx.srv.cfg().rdbcompression;
    let now_ms = ctx.txn.now_ms;
    let mut out = Vec::with_capacity(keys.len());
    for &key in keys {
        let ttl_ms = match ctx.txn.expire_at(key) {
            Some(at) if at - now_ms < 0 => continue,
            Some(at) => (at - now_ms).max(1),
            None => 0,
        };
        let Some(entry) = ctx.txn.peek(key) else {
            continue;
        };
        let payload = codec::encode_payload(&entry.value, compress);
        out.push(Outgoing {
            key,
            ttl_ms,
            payload,
        });
    }
    out
}

/// Why an exchange failed.
#[derive(Debug, Default)]
struct Failure {
    writing: bool,
    timed_out: bool,
    /// RESTORE replies read before the failure.
    replies_read: usize,
    /// The error already decided (the target refused something), if any.
    target_error: Option<CmdError>,
    /// The RESTORE replies read before the failure.
    partial: Vec<Vec<u8>>,
}

impl Failure {
    /// A refused connection, reported as Redis reports it: a failed write.
    fn refused() -> Failure {
        Failure {
            writing: true,
            ..Failure::default()
        }
    }

    fn io(e: &std::io::Error, writing: bool) -> Failure {
        Failure {
            writing,
            timed_out: matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
            ..Failure::default()
        }
    }
}

/// Writes AUTH, SELECT (if the connection has another database selected) and the RESTOREs.
/// Returns whether SELECT was sent.
fn send(
    conn: &mut Cached,
    req: &Request,
    keys: &[Outgoing],
    cluster: bool,
) -> Result<bool, Failure> {
    let mut buf = Vec::new();
    if let Some((user, pass)) = req.auth {
        match user {
            Some(u) => encode_command(&[b"AUTH", u, pass], &mut buf),
            None => encode_command(&[b"AUTH", pass], &mut buf),
        }
    }
    let select = conn.db != Some(req.db);
    if select {
        encode_command(&[b"SELECT", req.db.to_string().as_bytes()], &mut buf);
    }
    let restore: &[u8] = if cluster {
        b"RESTORE-ASKING"
    } else {
        b"RESTORE"
    };
    for k in keys {
        let ttl = k.ttl_ms.to_string();
        let mut args: Vec<&[u8]> = vec![restore, k.key, ttl.as_bytes(), &k.payload];
        if req.replace {
            args.push(b"REPLACE");
        }
        encode_command(&args, &mut buf);
    }
    let stream = conn.conn.get_mut();
    let set = stream
        .set_write_timeout(Some(req.timeout))
        .and_then(|()| stream.set_read_timeout(Some(req.timeout)));
    set.map_err(|e| Failure::io(&e, true))?;
    for chunk in buf.chunks(WRITE_CHUNK) {
        stream.write_all(chunk).map_err(|e| Failure::io(&e, true))?;
    }
    Ok(select)
}

/// Reads the AUTH and SELECT replies and one RESTORE reply per key. A refusal by the target
/// is reported with the first error line, as Redis reports it; the replies read are kept.
fn read_replies(
    conn: &mut Cached,
    req: &Request,
    select: bool,
    count: usize,
) -> Result<Vec<Vec<u8>>, Failure> {
    let mut header_error = None;
    if req.auth.is_some() {
        let line = read_line(&mut conn.conn).map_err(|e| Failure::io(&e, false))?;
        if line.first() == Some(&b'-') {
            header_error = Some(line);
        }
    }
    if select {
        let line = read_line(&mut conn.conn).map_err(|e| Failure::io(&e, false))?;
        if header_error.is_none() && line.first() == Some(&b'-') {
            header_error = Some(line);
        }
    }
    let mut replies = Vec::with_capacity(count.min(1024));
    for _ in 0..count {
        match read_line(&mut conn.conn) {
            // After a failed AUTH or SELECT, every key counts as refused.
            Ok(line) => replies.push(header_error.clone().unwrap_or(line)),
            Err(e) => {
                let mut fail = Failure::io(&e, false);
                fail.replies_read = replies.len();
                fail.target_error = first_refusal(&replies);
                fail.partial = replies;
                return Err(fail);
            }
        }
    }
    Ok(replies)
}

/// Reads one reply line, without its CRLF, keeping at most [`LINE_MAX`] bytes.
fn read_line(conn: &mut BufReader<TcpStream>) -> std::io::Result<Vec<u8>> {
    let mut line = Vec::new();
    let n = conn
        .by_ref()
        .take(LINE_DISCARD_MAX as u64)
        .read_until(b'\n', &mut line)?;
    if n == 0 || line.last() != Some(&b'\n') {
        return Err(ErrorKind::UnexpectedEof.into());
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    line.truncate(LINE_MAX);
    Ok(line)
}

/// The error MIGRATE reports for the first refused key, if any.
fn first_refusal(replies: &[Vec<u8>]) -> Option<CmdError> {
    let line = replies.iter().find(|l| l.first() == Some(&b'-'))?;
    let text = String::from_utf8_lossy(&line[1..]);
    Some(format!("ERR Target instance replied with error: {text}").into())
}

/// Deletes (unless COPY) the keys the target acknowledged, propagating them as one DEL.
/// Returns how many were acknowledged.
fn apply_acks(
    ctx: &mut Ctx,
    req: &Request,
    keys: &[Outgoing],
    outcome: &Result<Vec<Vec<u8>>, Failure>,
) -> usize {
    let replies = match outcome {
        Ok(r) => r,
        Err(f) => &f.partial,
    };
    let acked: Vec<&[u8]> = keys
        .iter()
        .zip(replies)
        .filter(|(_, reply)| reply.first() != Some(&b'-'))
        .map(|(k, _)| k.key)
        .collect();
    if req.copy || acked.is_empty() {
        ctx.txn.prevent_propagation();
        return acked.len();
    }
    let lazy = ctx.srv.cfg().lazyfree_lazy_server_del;
    for key in &acked {
        if let Some(old) = ctx.txn.remove(key) {
            if lazy {
                lazyfree::free_value(old.value);
            }
        }
        ctx.txn.signal_modified(key);
        ctx.txn.notify(event::GENERIC, "del", key);
        ctx.txn.dirty(1);
    }
    let mut del: Vec<&[u8]> = vec![b"DEL"];
    del.extend_from_slice(&acked);
    ctx.txn.propagate(&del);
    acked.len()
}

/// Replies once every RESTORE reply has been read: OK, or the target's first refusal. The
/// connection goes back into the cache, remembering the database only on success.
fn finish(
    ctx: &mut Ctx,
    db: i64,
    name: Vec<u8>,
    mut conn: Cached,
    replies: &[Vec<u8>],
) -> CmdResult {
    let refusal = first_refusal(replies);
    conn.db = if refusal.is_none() { Some(db) } else { None };
    let now_s = ctx.txn.now_ms / 1000;
    ctx.srv.migrate_sockets.put(name, conn, now_s);
    match refusal {
        Some(e) => Err(e),
        None => {
            ctx.reply.ok();
            Ok(())
        }
    }
}
