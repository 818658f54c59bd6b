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

use std::io::{Read, Write};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use rudis_resp::{Limits, Parsed, RequestParser};

use super::{ensure_backlog, replica_state, ReplicaEntry};
use crate::config::special::BufferLimit;
use crate::keyspace::txn::Txn;
use crate::persist::save::{self, SaveHeader};
use crate::propagate::target;
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
/// Bytes per message from the snapshot thread to a diskless transfer.
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
    });
    srv.replication.replicas.lock().push(entry.clone());
    let result = serve_replica(srv, socket, input, client, &entry, &handoff, &hello).await;
    let r = &srv.replication;
    r.stream.remove_reader(client.id());
    let mut replicas = r.replicas.lock();
    replicas.retain(|e| !Arc::ptr_eq(e, &entry));
    if replicas.is_empty() {
        r.no_replicas_since_ms.store(unix_ms(), Ordering::Relaxed);
    }
    drop(replicas);
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
    input: Vec<u8>,
    client: &mut Client,
    entry: &ReplicaEntry,
    handoff: &Handoff,
    hello: &Hello,
) -> Result<(), Closed> {
    let (from, wait_ack) = match try_partial(srv, client.id(), handoff) {
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
            let from = full_sync(srv, socket, client, entry, diskless, announce).await?;
            (from, diskless)
        }
    };
    entry.state.store(replica_state::ONLINE, Ordering::Relaxed);
    entry.ack_ms.store(unix_ms(), Ordering::Relaxed);
    // An old SYNC replica never sends ACKs: it is not timed out (as in Redis).
    let timeout = matches!(handoff, Handoff::Psync { .. });
    let mode = StreamMode { wait_ack, timeout };
    stream_to(srv, socket, input, client, entry, from, mode).await
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

/// A full resync: barrier, `+FULLRESYNC`, the RDB transfer. Returns the barrier's offset.
async fn full_sync(
    srv: &Server,
    socket: &mut ClientSocket,
    client: &Client,
    entry: &ReplicaEntry,
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
    if diskless {
        let delay_s = srv.cfg().repl_diskless_sync_delay.max(0) as u64;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(delay_s);
        // The delay lets more replicas arrive; `repl-diskless-sync-max-replicas` of them
        // waiting ends it early.
        while tokio::time::Instant::now() < deadline && !enough_waiting(srv) {
            wait_keeping_alive(srv, socket, client, Duration::from_millis(100)).await?;
        }
    }
    let (snap, header, offset) = loop {
        if let Some(begun) = begin_snapshot(srv, client.id()) {
            break begun;
        }
        wait_keeping_alive(srv, socket, client, Duration::from_millis(20)).await?;
    };
    let (replid, _) = srv.repl.ids();
    log::write_line(
        Verbosity::Notice,
        &format!(
            "Starting BGSAVE for SYNC with target: {}",
            if diskless { "replicas sockets" } else { "disk" }
        ),
    );
    if announce {
        let line = format!("+FULLRESYNC {replid} {offset}\r\n");
        socket.write_all(line.as_bytes()).await.map_err(io)?;
    }
    let srv_arc = srv.arc();
    if diskless {
        let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(16);
        let done = spawn_snapshot(srv_arc, snap, header, Target::Channel(tx));
        send_diskless(srv, socket, client, entry, rx, done).await?;
    } else {
        let done = spawn_snapshot(srv_arc, snap, header, Target::File);
        send_file(srv, socket, client, entry, done).await?;
    }
    log::write_line(
        Verbosity::Notice,
        &format!(
            "Synchronization with replica {}:{} succeeded",
            entry.ip, entry.port
        ),
    );
    Ok(offset)
}

/// True when `repl-diskless-sync-max-replicas` replicas wait for a full sync.
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
        .filter(|r| r.state.load(Ordering::Relaxed) == replica_state::WAIT_BGSAVE)
        .count();
    waiting as i64 >= max
}

/// Waits `d` (a diskless sync's delay, or for the snapshot machinery), sending the replica
/// a newline every second so its link does not time out, as Redis does.
async fn wait_keeping_alive(
    srv: &Server,
    socket: &mut ClientSocket,
    client: &Client,
    d: Duration,
) -> Result<(), Closed> {
    let deadline = tokio::time::Instant::now() + d;
    while tokio::time::Instant::now() < deadline {
        if client.info.is_killed() {
            return Err("killed".into());
        }
        let tick = tokio::time::Instant::now() + Duration::from_millis(100);
        tokio::select! {
            _ = tokio::time::sleep_until(deadline.min(tick)) => {}
            _ = client.info.wake.wait() => {}
        }
        let now_ms = unix_ms();
        // A server busy with a command holding everything sends no keepalive, as Redis,
        // whose event loop is then blocked, sends none.
        let second_changed =
            now_ms / 1000 != client.info.last_interaction_ms.load(Ordering::Relaxed) / 1000;
        if second_changed && srv.keyspace.is_idle_enough() {
            client
                .info
                .last_interaction_ms
                .store(now_ms, Ordering::Relaxed);
            send(srv, socket, client, b"\n", None).await?;
        }
    }
    if client.info.is_killed() {
        return Err("killed".into());
    }
    Ok(())
}

/// The barrier: with the keyspace held, registers the replica as a reader at the current
/// offset and begins a snapshot. `None` while another snapshot runs.
fn begin_snapshot(
    srv: &Server,
    id: u64,
) -> Option<(
    Arc<crate::keyspace::snapshot::ActiveSnapshot>,
    SaveHeader,
    i64,
)> {
    if srv.rdb.bgsave_running.load(Ordering::Acquire) || srv.keyspace.snapshots.is_active() {
        return None;
    }
    let barrier = Txn::exclusive(&srv.keyspace, 0, unix_ms());
    let r = &srv.replication;
    // Commands after the barrier select their database again: the replica starts from the
    // stream database the file names.
    srv.propagator.reset_selected_db_of(target::REPLICAS);
    let offset = r.stream.offset();
    let header = SaveHeader::capture(srv);
    let snap = srv.keyspace.snapshots.begin(save::shard_encoder(&header))?;
    if !r.stream.add_reader(id, offset) {
        srv.keyspace.snapshots.end();
        return None;
    }
    drop(barrier);
    Some((snap, header, offset))
}

enum Target {
    File,
    Channel(tokio::sync::mpsc::Sender<Vec<u8>>),
}

/// Serializes the snapshot on a thread; the receiver gets the outcome.
fn spawn_snapshot(
    srv: Arc<Server>,
    snap: Arc<crate::keyspace::snapshot::ActiveSnapshot>,
    header: SaveHeader,
    target: Target,
) -> tokio::sync::oneshot::Receiver<Result<Option<std::fs::File>, String>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let keeper = srv.clone();
    let spawned = std::thread::Builder::new()
        .name("repl-snapshot".into())
        .spawn(move || {
            let stop = || false;
            let result = match target {
                Target::File => {
                    let path = srv.cfg().dbfilename.clone();
                    let tmp = format!("temp-{}-repl.rdb", std::process::id());
                    let dirty = srv.rdb.dirty_now(&srv);
                    let r = save::write_file(&path, &tmp, |sink| {
                        save::write_snapshot(&srv.keyspace, &snap, &header, &stop, sink)
                    });
                    // Opened before the snapshot ends, so a later save cannot replace the
                    // file this replica is sent.
                    r.and_then(|()| {
                        srv.rdb.saved(&srv, dirty);
                        std::fs::File::open(&path)
                            .map(Some)
                            .map_err(|e| format!("opening {path}: {e}"))
                    })
                }
                Target::Channel(chan) => {
                    let sink = ChannelWriter {
                        chan,
                        buf: Vec::with_capacity(TRANSFER_CHUNK_BYTES),
                    };
                    save::write_snapshot(&srv.keyspace, &snap, &header, &stop, sink)
                        .and_then(|mut w| {
                            w.flush().map_err(|e| rudis_rdb::Error::Io {
                                offset: 0,
                                source: e,
                            })
                        })
                        .map(|_| None)
                        .map_err(|e| e.to_string())
                }
            };
            srv.keyspace.snapshots.end();
            let _ = tx.send(result);
        });
    if spawned.is_err() {
        // The closure (and its sender) is gone: the receiver sees the failure.
        keeper.keyspace.snapshots.end();
    }
    rx
}

/// Sends the snapshot's bytes, as the thread produces them, to the replica in a channel.
struct ChannelWriter {
    chan: tokio::sync::mpsc::Sender<Vec<u8>>,
    buf: Vec<u8>,
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= TRANSFER_CHUNK_BYTES {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(TRANSFER_CHUNK_BYTES));
        self.chan
            .blocking_send(chunk)
            .map_err(|_| std::io::Error::other("the replica went away"))
    }
}

/// Diskless: `$EOF:<mark>`, the snapshot as it is produced, the mark.
async fn send_diskless(
    srv: &Server,
    socket: &mut ClientSocket,
    client: &Client,
    entry: &ReplicaEntry,
    mut rx: tokio::sync::mpsc::Receiver<Vec<u8>>,
    done: tokio::sync::oneshot::Receiver<Result<Option<std::fs::File>, String>>,
) -> Result<(), Closed> {
    let mark = crate::server::random_hex(super::wire::ID_LEN);
    let head = format!("$EOF:{mark}\r\n");
    entry
        .state
        .store(replica_state::WAIT_BGSAVE, Ordering::Relaxed);
    send(srv, socket, client, head.as_bytes(), None).await?;
    while let Some(chunk) = rx.recv().await {
        send(srv, socket, client, &chunk, None).await?;
    }
    match done.await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return Err(format!("snapshot failed: {e}")),
        Err(_) => return Err("snapshot thread failed".into()),
    }
    send(srv, socket, client, mark.as_bytes(), None).await
}

/// Disk-based: waits for the file, then `$<len>` and the file.
async fn send_file(
    srv: &Server,
    socket: &mut ClientSocket,
    client: &Client,
    entry: &ReplicaEntry,
    done: tokio::sync::oneshot::Receiver<Result<Option<std::fs::File>, String>>,
) -> Result<(), Closed> {
    // Newlines keep the replica's link alive while the file is written, as Redis does.
    let mut done = done;
    let result = loop {
        tokio::select! {
            r = &mut done => break r,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {
                if client.info.is_killed() {
                    return Err("killed".into());
                }
                send(srv, socket, client, b"\n", None).await?;
            }
        }
    };
    let mut file = match result {
        Ok(Ok(Some(file))) => file,
        Ok(Ok(None)) => return Err("no file to send".into()),
        Ok(Err(e)) => return Err(format!("BGSAVE for replication failed: {e}")),
        Err(_) => return Err("snapshot thread failed".into()),
    };
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    entry
        .state
        .store(replica_state::SEND_BULK, Ordering::Relaxed);
    send(srv, socket, client, format!("${len}\r\n").as_bytes(), None).await?;
    let mut buf = vec![0u8; TRANSFER_CHUNK_BYTES];
    let mut left = len;
    while left > 0 {
        let want = buf.len().min(left as usize);
        let n = file.read(&mut buf[..want]).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("the RDB file is shorter than announced".into());
        }
        send(srv, socket, client, &buf[..n], None).await?;
        left -= n as u64;
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
    let mut done = 0;
    let mut soft_since_ms = 0;
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
                if let Some(at) = at {
                    let pending = srv.replication.offset() - at - done as i64;
                    over_limit(srv, client, pending, &mut soft_since_ms)?;
                }
            }
            n => {
                done += n;
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
    mut input: Vec<u8>,
    client: &Client,
    entry: &ReplicaEntry,
    from: i64,
    mode: StreamMode,
) -> Result<(), Closed> {
    let mut wait_ack = mode.wait_ack;
    let r = &srv.replication;
    let id = client.id();
    let mut at = from;
    let mut parser = RequestParser::new();
    let mut end_rx = r.stream.subscribe();
    loop {
        if client.info.is_killed() {
            return Err("killed".into());
        }
        if read_acks(srv, &mut input, &mut parser, entry)? {
            wait_ack = false;
        }
        if !wait_ack {
            let (bytes, next) = r.stream.read(id, at, STREAM_CHUNK_BYTES);
            if !bytes.is_empty() {
                send(srv, socket, client, &bytes, Some(at)).await?;
                at = next;
                continue;
            }
        }
        end_rx.borrow_and_update();
        if mode.timeout && check_timeout(srv, entry).is_err() {
            return Err("timeout".into());
        }
        let mut soft = 0;
        over_limit(srv, client, r.offset() - at, &mut soft)?;
        tokio::select! {
            n = socket.read_into(&mut input, 16 * 1024) => match n {
                Ok(0) => return Err("EOF".into()),
                Ok(n) => srv.stats.add(|c| &c.net_repl_input_bytes, n as u64),
                Err(e) => return Err(io(e)),
            },
            _ = end_rx.changed() => {}
            _ = client.info.wake.wait() => {}
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

/// Handles what the replica sent: REPLCONF ACK <offset> (others are ignored, as a replica
/// gets no replies). Returns true if an ACK came.
fn read_acks(
    srv: &Server,
    input: &mut Vec<u8>,
    parser: &mut RequestParser,
    entry: &ReplicaEntry,
) -> Result<bool, Closed> {
    let limits = Limits {
        max_bulk_len: 1 << 20,
        auth_required: false,
        from_master: false,
    };
    let mut acked = false;
    let mut start = 0;
    while start < input.len() {
        let buf = &input[start..];
        match parser.parse(buf, &limits) {
            Ok(Parsed::Command(n)) => {
                let argv = parser.argv(buf);
                if argv.len() >= 3
                    && argv.get(0).eq_ignore_ascii_case(b"replconf")
                    && argv.get(1).eq_ignore_ascii_case(b"ack")
                {
                    if let Some(off) = rudis_resp::number::parse_i64(argv.get(2)) {
                        entry.ack_offset.fetch_max(off, Ordering::Relaxed);
                    }
                    entry.ack_ms.store(unix_ms(), Ordering::Relaxed);
                    acked = true;
                }
                start += n;
            }
            Ok(Parsed::Empty(n)) | Ok(Parsed::Newline(n)) => start += n,
            Ok(Parsed::Incomplete) => break,
            Err(e) => return Err(e.message()),
        }
    }
    input.drain(..start);
    if acked {
        srv.replication.waits.on_ack(srv);
    }
    Ok(acked)
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
