//! The master side. SYNC and PSYNC (in `cmd::replication`) hand the connection over to
//! [`serve`], which runs in the connection's task until the replica leaves:
//!
//! 1. PSYNC with our id (or our previous id, up to where it is valid) and an offset the
//!    backlog still holds: `+CONTINUE`, then the stream from that offset.
//! 2. Otherwise a full resync: at a barrier (the keyspace held exclusively for an instant)
//!    the replica is registered as a reader of the stream at the current offset and a
//!    fork-free snapshot begins; `+FULLRESYNC <id> <offset>`; a thread serializes the
//!    snapshot, either to the RDB file, sent as `$<len>` and the file (disk-based), or
//!    straight to the socket between `$EOF:<mark>` and the mark (diskless, when the replica
//!    has `capa eof`); then the stream from the barrier's offset.
//!
//! While streaming, the task reads the replica's REPLCONF ACKs, and cuts the replica off
//! when what it has not read passes its `client-output-buffer-limit replica`, or it has not
//! acknowledged anything for `repl-timeout`.

use std::os::unix::fs::FileExt;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use rudis_resp::{Limits, Parsed, ReplyBuf, RequestParser};

use super::sync_job::{self, Feed, Piece, Want};
use super::{ensure_backlog, replica_state, ReplicaEntry};
use crate::config::special::BufferLimit;
use crate::server::client::{cflag, Client};
use crate::server::log::{self, Verbosity};
use crate::server::socket::ClientSocket;
use crate::server::{unix_ms, Server};

/// What a replica told us in REPLCONF before PSYNC.
#[derive(Debug, Clone, Default)]
pub struct Hello {
    pub listening_port: i64,
    pub announced_ip: Option<String>,
    pub capa_eof: bool,
    pub capa_psync2: bool,
}

/// Which command turned the connection into a replica.
#[derive(Debug, Clone)]
pub enum Handoff {
    Sync,
    Psync { replid: String, offset: i64 },
}

/// Bytes sent to a replica per write while streaming.
const STREAM_CHUNK_BYTES: usize = 256 * 1024;
/// Bytes of the RDB file read and sent at a time.
const TRANSFER_CHUNK_BYTES: usize = 64 * 1024;

/// The PING a master sends its replicas every `repl-ping-replica-period`.
const PING: &[u8] = b"*1\r\n$4\r\nPING\r\n";

type Closed = String;

/// Serves a replica on this connection until it leaves. `input` is what the client sent
/// after SYNC/PSYNC (REPLCONF ACKs may already be there).
pub async fn serve(
    srv: &Server,
    socket: &mut ClientSocket,
    input: Vec<u8>,
    client: &mut Client,
    handoff: Handoff,
) -> Result<(), Closed> {
    let hello = client.replica_hello.clone();
    client.info.set_flag(cflag::REPLICA, true);
    let ip = hello.announced_ip.clone().unwrap_or_else(|| {
        client
            .peer
            .map(|p| p.ip().to_string())
            .unwrap_or_else(|| "?".into())
    });
    let entry = Arc::new(ReplicaEntry {
        client: client.info.clone(),
        ip,
        port: hello.listening_port,
        state: replica_state::WAIT_BGSAVE.into(),
        ack_offset: 0.into(),
        ack_ms: unix_ms().into(),
        want: Default::default(),
        assignment: Default::default(),
        socket: socket.stream().try_clone().ok(),
    });
    srv.replication.replicas.lock().push(entry.clone());
    let mut link = ReplicaInput {
        input,
        parser: RequestParser::new(),
        client,
        entry: &entry,
    };
    let result = serve_replica(srv, socket, &mut link, &handoff, &hello).await;
    let r = &srv.replication;
    r.stream.remove_reader(link.client.id());
    let mut replicas = r.replicas.lock();
    replicas.retain(|e| !Arc::ptr_eq(e, &entry));
    if replicas.is_empty() {
        r.no_replicas_since_ms.store(unix_ms(), Ordering::Relaxed);
    }
    drop(replicas);
    let was_waiting = entry.state.load(Ordering::Relaxed) == replica_state::WAIT_BGSAVE;
    sync_job::replica_left(srv, was_waiting);
    if let Err(e) = &result {
        log::write_line(
            Verbosity::Notice,
            &format!(
                "Connection with replica {}:{} lost ({e}).",
                entry.ip, entry.port
            ),
        );
    }
    result
}

async fn serve_replica(
    srv: &Server,
    socket: &mut ClientSocket,
    link: &mut ReplicaInput<'_>,
    handoff: &Handoff,
    hello: &Hello,
) -> Result<(), Closed> {
    let entry = link.entry;
    let (from, wait_ack) = match try_partial(srv, link.client.id(), handoff) {
        Some(from) => {
            let line = if hello.capa_psync2 {
                format!("+CONTINUE {}\r\n", srv.repl.ids().0)
            } else {
                "+CONTINUE\r\n".to_string()
            };
            socket.write_all(line.as_bytes()).await.map_err(io)?;
            log::write_line(
                Verbosity::Notice,
                &format!(
                    "Partial resynchronization request from {}:{} accepted. Sending {} bytes of backlog starting from offset {}.",
                    entry.ip,
                    entry.port,
                    srv.replication.offset() - from,
                    from + 1
                ),
            );
            (from, false)
        }
        None => {
            let diskless = srv.cfg().repl_diskless_sync && hello.capa_eof;
            // The old SYNC gets the file alone, without `+FULLRESYNC`.
            let announce = matches!(handoff, Handoff::Psync { .. });
            let from = full_sync(srv, socket, link, diskless, announce).await?;
            (from, diskless)
        }
    };
    entry.state.store(replica_state::ONLINE, Ordering::Relaxed);
    entry.ack_ms.store(unix_ms(), Ordering::Relaxed);
    // An old SYNC replica never sends ACKs: it is not timed out (as in Redis).
    let timeout = matches!(handoff, Handoff::Psync { .. });
    let mode = StreamMode { wait_ack, timeout };
    stream_to(srv, socket, link, from, mode).await
}

/// Accepts a partial resync if the replica's history is ours and the backlog holds what it
/// misses. Returns the offset it has read up to, registered as a reader.
fn try_partial(srv: &Server, id: u64, handoff: &Handoff) -> Option<i64> {
    let Handoff::Psync { replid, offset } = handoff else {
        return None;
    };
    let r = &srv.replication;
    if replid == "?" {
        return None;
    }
    let (mine, previous) = srv.repl.ids();
    let second = srv.repl.second_repl_offset.load(Ordering::Relaxed);
    let known = *replid == mine || (*replid == previous && *offset <= second);
    let have = offset - 1;
    if !known || !r.stream.can_continue_from(have) || !r.stream.add_reader(id, have) {
        r.sync_partial_err.fetch_add(1, Ordering::Relaxed);
        let why = if known {
            "not in the backlog"
        } else {
            "replication ID mismatch"
        };
        log::write_line(
            Verbosity::Notice,
            &format!("Partial resynchronization not accepted: {why} (Replica asked for '{replid}', offset {offset})"),
        );
        return None;
    }
    r.sync_partial_ok.fetch_add(1, Ordering::Relaxed);
    Some(have)
}

/// A full resync: waits to be part of a transfer (see `sync_job`), `+FULLRESYNC`, the RDB.
/// Returns the offset of the image.
async fn full_sync(
    srv: &Server,
    socket: &mut ClientSocket,
    link: &mut ReplicaInput<'_>,
    diskless: bool,
    announce: bool,
) -> Result<i64, Closed> {
    let r = &srv.replication;
    r.sync_full.fetch_add(1, Ordering::Relaxed);
    if r.replica_count() == 1 && !r.stream.is_active() && !srv.state.replica.load(Ordering::Relaxed)
    {
        // A new backlog starts a new history.
        srv.repl.set_ids(
            crate::server::random_hex(40),
            crate::server::replid::NO_REPLID.into(),
            -1,
        );
    }
    ensure_backlog(srv);
    let want = if diskless { Want::Socket } else { Want::Disk };
    *link.entry.want.lock() = Some(want);
    // A diskless transfer waits `repl-diskless-sync-delay` for more replicas to share it;
    // `repl-diskless-sync-max-replicas` of them waiting ends the wait early.
    let delay_s = if diskless {
        srv.cfg().repl_diskless_sync_delay.max(0) as u64
    } else {
        0
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(delay_s);
    let assignment = loop {
        if let Some(a) = link.entry.assignment.lock().take() {
            break a;
        }
        if diskless {
            if tokio::time::Instant::now() >= deadline || enough_waiting(srv) {
                sync_job::start(srv, want);
            }
        } else if !sync_job::join(srv, link.entry) {
            sync_job::start(srv, want);
        }
        if link.entry.assignment.lock().is_some() {
            continue;
        }
        wait_keeping_alive(srv, socket, link, Duration::from_millis(100)).await?;
    };
    *link.entry.want.lock() = None;
    if announce {
        let line = format!(
            "+FULLRESYNC {} {}\r\n",
            assignment.replid, assignment.offset
        );
        socket.write_all(line.as_bytes()).await.map_err(io)?;
    }
    match assignment.feed {
        Feed::Socket(rx) => send_diskless(srv, socket, link, rx).await?,
        Feed::Disk(rx) => send_file(srv, socket, link, rx).await?,
    }
    log::write_line(
        Verbosity::Notice,
        &format!(
            "Synchronization with replica {}:{} succeeded",
            link.entry.ip, link.entry.port
        ),
    );
    Ok(assignment.offset)
}

/// True when `repl-diskless-sync-max-replicas` replicas wait for a diskless transfer.
fn enough_waiting(srv: &Server) -> bool {
    let max = srv.cfg().repl_diskless_sync_max_replicas;
    if max <= 0 {
        return false;
    }
    let waiting = srv
        .replication
        .replicas
        .lock()
        .iter()
        .filter(|r| *r.want.lock() == Some(Want::Socket))
        .count();
    waiting as i64 >= max
}

/// Waits `d` (for a transfer to include the replica), sending it a newline every second
/// so its link does not time out, as Redis does, and running what it sends.
async fn wait_keeping_alive(
    srv: &Server,
    socket: &mut ClientSocket,
    link: &mut ReplicaInput<'_>,
    d: Duration,
) -> Result<(), Closed> {
    let deadline = tokio::time::Instant::now() + d;
    while tokio::time::Instant::now() < deadline {
        if link.client.info.is_killed() {
            return Err("killed".into());
        }
        let tick = tokio::time::Instant::now() + Duration::from_millis(100);
        tokio::select! {
            _ = tokio::time::sleep_until(deadline.min(tick)) => {}
            _ = link.client.info.wake.wait() => {}
            n = socket.read_into(&mut link.input, 16 * 1024) => match n {
                Ok(0) => return Err("EOF".into()),
                Ok(_) => {}
                Err(e) => return Err(io(e)),
            },
        }
        link.run_commands(srv)?;
        keepalive(srv, socket, link.client).await?;
    }
    if link.client.info.is_killed() {
        return Err("killed".into());
    }
    Ok(())
}

/// A newline once a second while the replica waits. A server busy with a command holding
/// everything sends none, as Redis, whose event loop is then blocked, sends none.
async fn keepalive(srv: &Server, socket: &mut ClientSocket, client: &Client) -> Result<(), Closed> {
    let now_ms = unix_ms();
    let second_changed =
        now_ms / 1000 != client.info.last_interaction_ms.load(Ordering::Relaxed) / 1000;
    if second_changed && srv.keyspace.is_idle_enough() {
        client
            .info
            .last_interaction_ms
            .store(now_ms, Ordering::Relaxed);
        send(srv, socket, client, b"\n", None).await?;
    }
    Ok(())
}

/// Diskless: `$EOF:<mark>`, the image as the job produces it, the mark.
async fn send_diskless(
    srv: &Server,
    socket: &mut ClientSocket,
    link: &mut ReplicaInput<'_>,
    mut rx: tokio::sync::mpsc::Receiver<Piece>,
) -> Result<(), Closed> {
    let client = &*link.client;
    let mark = crate::server::random_hex(super::wire::ID_LEN);
    let head = format!("$EOF:{mark}\r\n");
    send(srv, socket, client, head.as_bytes(), None).await?;
    loop {
        let piece = tokio::select! {
            piece = rx.recv() => piece,
            _ = client.info.wake.wait() => {
                if client.info.is_killed() {
                    return Err("killed".into());
                }
                continue;
            }
        };
        match piece {
            Some(Piece::Bytes(chunk)) => send(srv, socket, client, &chunk, None).await?,
            Some(Piece::End) => break,
            None => return Err("the transfer failed".into()),
        }
    }
    send(srv, socket, client, mark.as_bytes(), None).await
}

/// Disk-based: waits for the file, then `$<len>` and the file.
async fn send_file(
    srv: &Server,
    socket: &mut ClientSocket,
    link: &mut ReplicaInput<'_>,
    mut done: tokio::sync::watch::Receiver<sync_job::FileResult>,
) -> Result<(), Closed> {
    let file = loop {
        if let Some(result) = done.borrow_and_update().clone() {
            break result;
        }
        tokio::select! {
            changed = done.changed() => {
                if changed.is_err() && done.borrow().is_none() {
                    return Err("the transfer failed".into());
                }
            }
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            n = socket.read_into(&mut link.input, 16 * 1024) => match n {
                Ok(0) => return Err("EOF".into()),
                Ok(_) => {}
                Err(e) => return Err(io(e)),
            },
        }
        if link.client.info.is_killed() {
            return Err("killed".into());
        }
        link.run_commands(srv)?;
        keepalive(srv, socket, link.client).await?;
    };
    let file = file.map_err(|e| format!("BGSAVE for replication failed: {e}"))?;
    let client = &*link.client;
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    link.entry
        .state
        .store(replica_state::SEND_BULK, Ordering::Relaxed);
    send(srv, socket, client, format!("${len}\r\n").as_bytes(), None).await?;
    let mut buf = vec![0u8; TRANSFER_CHUNK_BYTES];
    let mut at = 0u64;
    while at < len {
        let want = buf.len().min((len - at) as usize);
        let n = file
            .read_at(&mut buf[..want], at)
            .map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("the RDB file is shorter than announced".into());
        }
        send(srv, socket, client, &buf[..n], None).await?;
        at += n as u64;
    }
    Ok(())
}

/// Writes all of `data`, giving up when the client is killed or (while streaming from
/// offset `at`) what the replica has not taken passes its output buffer limit.
async fn send(
    srv: &Server,
    socket: &mut ClientSocket,
    client: &Client,
    data: &[u8],
    at: Option<i64>,
) -> Result<(), Closed> {
    if client.info.is_killed() {
        return Err("killed".into());
    }
    let mut done = 0;
    let mut soft_since_ms = 0;
    let mut progress_ms = unix_ms();
    while done < data.len() {
        match socket.try_write(&data[done..]).map_err(io)? {
            0 => {
                tokio::select! {
                    r = socket.wait_writable() => r.map_err(io)?,
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                    _ = client.info.wake.wait() => {}
                }
                if client.info.is_killed() {
                    return Err("killed".into());
                }
                match at {
                    Some(at) => {
                        let pending = srv.replication.offset() - at - done as i64;
                        over_limit(srv, client, pending, &mut soft_since_ms)?;
                    }
                    // A full sync that cannot write for `repl-timeout`: the replica is gone.
                    None if unix_ms() - progress_ms > srv.cfg().repl_timeout * 1000 => {
                        log::write_line(
                            Verbosity::Warning,
                            &format!(
                                "Disconnecting timedout replica (full sync): {}",
                                crate::cmd::client::log_line(srv, &client.info)
                            ),
                        );
                        return Err("timeout".into());
                    }
                    None => {}
                }
            }
            n => {
                done += n;
                progress_ms = unix_ms();
                srv.stats.add(|c| &c.net_repl_output_bytes, n as u64);
            }
        }
    }
    Ok(())
}

/// Checks `client-output-buffer-limit replica` against the bytes a replica has not taken.
fn over_limit(
    srv: &Server,
    client: &Client,
    pending: i64,
    soft_since_ms: &mut i64,
) -> Result<(), Closed> {
    let BufferLimit {
        hard_bytes,
        soft_bytes,
        soft_seconds,
    } = srv.cfg().client_output_buffer_limit.replica;
    let now = unix_ms();
    let hard = hard_bytes > 0 && pending >= hard_bytes;
    let soft = soft_bytes > 0 && pending >= soft_bytes;
    if !soft {
        *soft_since_ms = 0;
    } else if *soft_since_ms == 0 {
        *soft_since_ms = now;
    }
    let soft_expired = soft && now - *soft_since_ms >= soft_seconds * 1000;
    if hard || soft_expired {
        log::write_line(
            Verbosity::Warning,
            &format!(
                "Client id={} addr={} scheduled to be closed ASAP for overcoming of output buffer limits.",
                client.id(),
                client.info.addr
            ),
        );
        srv.stats.add(|c| &c.client_outbuf_limit_disconnections, 1);
        return Err("output buffer limit".into());
    }
    Ok(())
}

fn io(e: std::io::Error) -> Closed {
    e.to_string()
}

/// How a replica is streamed to.
struct StreamMode {
    /// Wait for its first ACK before streaming (after a diskless transfer).
    wait_ack: bool,
    /// Drop it after `repl-timeout` without an ACK.
    timeout: bool,
}

/// Streams from offset `from` until the replica leaves. After a diskless transfer the
/// stream starts at the replica's first ACK (it loads the file first; as in Redis).
async fn stream_to(
    srv: &Server,
    socket: &mut ClientSocket,
    link: &mut ReplicaInput<'_>,
    from: i64,
    mode: StreamMode,
) -> Result<(), Closed> {
    let mut wait_ack = mode.wait_ack;
    let r = &srv.replication;
    let id = link.client.id();
    let entry = link.entry;
    let mut at = from;
    loop {
        if link.client.info.is_killed() {
            return Err("killed".into());
        }
        if link.run_commands(srv)? {
            wait_ack = false;
        }
        let client = &*link.client;
        // Before looking: a feed after the look then wakes this writer.
        let grown = r.stream.watch();
        if !wait_ack {
            let (bytes, next) = r.stream.read(id, at, STREAM_CHUNK_BYTES);
            if !bytes.is_empty() {
                send(srv, socket, client, &bytes, Some(at)).await?;
                at = next;
                continue;
            }
        }
        if mode.timeout && check_timeout(srv, entry).is_err() {
            return Err("timeout".into());
        }
        let mut soft = 0;
        over_limit(srv, client, r.offset() - at, &mut soft)?;
        tokio::select! {
            n = socket.read_into(&mut link.input, 16 * 1024) => match n {
                Ok(0) => return Err("EOF".into()),
                Ok(n) => srv.stats.add(|c| &c.net_repl_input_bytes, n as u64),
                Err(e) => return Err(io(e)),
            },
            _ = grown => {}
            _ = link.client.info.wake.wait() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// `repl-timeout`: a replica silent that long (no ACK) is dropped.
fn check_timeout(srv: &Server, entry: &ReplicaEntry) -> Result<(), ()> {
    let timeout_ms = srv.cfg().repl_timeout * 1000;
    if unix_ms() - entry.ack_ms.load(Ordering::Relaxed) > timeout_ms {
        log::write_line(
            Verbosity::Warning,
            "Disconnecting timedout replica (streaming sync)",
        );
        return Err(());
    }
    Ok(())
}

/// A replica's connection as the master reads it: what it sent, and who it is.
struct ReplicaInput<'a> {
    input: Vec<u8>,
    parser: RequestParser,
    client: &'a mut Client,
    entry: &'a ReplicaEntry,
}

impl ReplicaInput<'_> {
    /// Handles what the replica sent. REPLCONF ACK records its offset; other REPLCONFs are
    /// ignored. Any other command runs as for any client, but a replica's link carries no
    /// replies: one that produces a reply is disconnected, with Redis's log lines. Returns
    /// true if an ACK came.
    fn run_commands(&mut self, srv: &Server) -> Result<bool, Closed> {
        let limits = Limits {
            max_bulk_len: 1 << 20,
            auth_required: false,
            from_master: false,
        };
        let mut acked = false;
        let mut start = 0;
        let mut result = Ok(());
        while start < self.input.len() {
            let buf = &self.input[start..];
            match self.parser.parse(buf, &limits) {
                Ok(Parsed::Command(n)) => {
                    let argv = self.parser.argv(buf);
                    start += n;
                    if argv.get(0).eq_ignore_ascii_case(b"replconf") {
                        if argv.len() >= 3 && argv.get(1).eq_ignore_ascii_case(b"ack") {
                            if let Some(off) = rudis_resp::number::parse_i64(argv.get(2)) {
                                self.entry.ack_offset.fetch_max(off, Ordering::Relaxed);
                            }
                            self.entry.ack_ms.store(unix_ms(), Ordering::Relaxed);
                            acked = true;
                        }
                        continue;
                    }
                    let mut reply = ReplyBuf::new();
                    crate::command::dispatch::call(srv, self.client, &mut reply, argv);
                    if !reply.is_empty() {
                        result = Err(reply_generated(srv, self.client, reply.as_bytes()));
                        break;
                    }
                }
                Ok(Parsed::Empty(n)) | Ok(Parsed::Newline(n)) => start += n,
                Ok(Parsed::Incomplete) => break,
                Err(e) => {
                    result = Err(e.message());
                    break;
                }
            }
        }
        self.input.drain(..start);
        if acked {
            srv.replication.waits.on_ack(srv);
        }
        result.map(|()| acked)
    }
}

/// Logs a reply a replica's command produced, as Redis does before dropping the replica.
fn reply_generated(srv: &Server, client: &Client, reply: &[u8]) -> Closed {
    let last = client.info.last_cmd_id.load(Ordering::Relaxed);
    let name = if last == crate::server::client::NO_COMMAND {
        "<unknown>".to_string()
    } else {
        srv.commands.get(last).fullname.to_string()
    };
    if let Some(err) = reply.strip_prefix(b"-") {
        let err = err.strip_suffix(b"\r\n").unwrap_or(err);
        let err = &err[..err.len().min(4096)];
        log::write_line(
            Verbosity::Warning,
            &format!(
                "== CRITICAL == This master is sending an error to its replica: '{}' after processing the command '{name}'",
                String::from_utf8_lossy(err)
            ),
        );
    }
    log::write_line(
        Verbosity::Warning,
        &format!(
            "Replica generated a reply to command '{name}', disconnecting it: {}",
            crate::cmd::client::log_line(srv, &client.info)
        ),
    );
    "the replica generated a reply".into()
}

/// The master's part of the replication cron (once a second): PING replicas every
/// `repl-ping-replica-period`, free the backlog after `repl-backlog-ttl` without replicas.
pub fn cron(srv: &Server, tick: u64) {
    let r = &srv.replication;
    if srv.state.replica.load(Ordering::Relaxed) {
        return;
    }
    let cfg = srv.cfg();
    r.stream
        .set_backlog_size(cfg.repl_backlog_size.max(1) as usize);
    let period = cfg.repl_ping_replica_period.max(1) as u64;
    let count = r.replica_count();
    if count > 0 && tick.is_multiple_of(period) && srv.keyspace.is_idle_enough() {
        r.stream.feed(PING);
    }
    let ttl_s = cfg.repl_backlog_ttl;
    let since = r.no_replicas_since_ms.load(Ordering::Relaxed);
    if count == 0 && ttl_s > 0 && r.stream.is_active() && unix_ms() - since > ttl_s * 1000 {
        log::write_line(
            Verbosity::Notice,
            &format!("Replication backlog freed after {ttl_s} seconds without connected replicas."),
        );
        r.stream.deactivate();
        // A new history starts with the next backlog, as in Redis.
        srv.repl.set_ids(
            crate::server::random_hex(40),
            crate::server::replid::NO_REPLID.into(),
            -1,
        );
    }
}
