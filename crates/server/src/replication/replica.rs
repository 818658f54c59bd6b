//! The replica side: the link to our master, run on a thread of its own as a state machine
//! (`LinkState`): connect, handshake (PING, AUTH, REPLCONF listening-port / ip-address /
//! capa eof psync2), PSYNC with our history, then either the RDB transfer (disk-based
//! `$<len>` or diskless `$EOF:<mark>`, both received into a file that replaces
//! `dbfilename`, then loaded) or `+CONTINUE`; then the command stream, applied through the
//! dispatch gate as the master client, each command's exact bytes passed on to our own
//! replicas. REPLCONF ACK every second and on GETACK. On any failure, or `repl-timeout`
//! without news, the link drops and is tried again a second later.
//!
//! REPLICAOF changes the master by bumping the link generation: a thread of an older
//! generation notices within its read timeout and exits without touching anything.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use rudis_resp::{Limits, Parsed, ReplyBuf, RequestParser};

use super::diskless_load::{self, LoadMode};
use super::wire::{self, BulkHeader, EofScanner, PsyncReply};
use super::{ensure_backlog, Link, LinkState};
use crate::keyspace::txn::{encode_command, Txn};
use crate::server::client::{cflag, Client, ClientInfo};
use crate::server::log::{self, Verbosity};
use crate::server::replid::NO_REPLID;
use crate::server::{unix_ms, Server};

/// How long one socket read waits, so the thread notices REPLICAOF and sends ACKs on time.
const READ_TICK: Duration = Duration::from_millis(100);
/// Bytes read at a time.
const READ_CHUNK_BYTES: usize = 64 * 1024;

/// Becomes a replica of `host:port` (REPLICAOF, or `replicaof` at start-up).
pub fn start_link(srv: &Server, host: String, port: u16) {
    let r = &srv.replication;
    let generation = cut_link(srv) + 1;
    r.link_generation.store(generation, Ordering::Release);
    *r.link.lock() = Some(Link {
        host,
        port,
        state: LinkState::Connect,
        last_io_ms: 0,
        down_since_ms: 0,
        transfer_size: -1,
        transfer_read: 0,
        transfer_start_ms: 0,
        socket: None,
    });
    let was_replica = srv.state.replica.swap(true, Ordering::AcqRel);
    log::set_role(b'S');
    if !was_replica {
        unblock_all(srv);
    }
    let owned = srv.arc();
    let spawned = std::thread::Builder::new()
        .name("repl-link".into())
        .spawn(move || run(owned, generation));
    if let Err(e) = spawned {
        log::write_line(
            Verbosity::Warning,
            &format!("Can't start the replication link: {e}"),
        );
    }
}

/// Clients blocked on keys are released with an error when a master becomes a replica:
/// their keys now change only by the master's will (as Redis does).
fn unblock_all(srv: &Server) {
    const REPLY: &[u8] = b"-UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)\r\n";
    for w in srv.blocked.all() {
        if !w.keys.is_empty() {
            w.finish(crate::keyspace::blocking::WaitState::Served(REPLY.to_vec()));
        }
    }
}

/// Stops being a replica (REPLICAOF NO ONE).
pub fn stop_link(srv: &Server) {
    let r = &srv.replication;
    let generation = cut_link(srv) + 1;
    r.link_generation.store(generation, Ordering::Release);
    *r.link.lock() = None;
    srv.state.replica.store(false, Ordering::Release);
    log::set_role(b'M');
}

/// Closes the current link's socket; returns the current generation.
fn cut_link(srv: &Server) -> u64 {
    let r = &srv.replication;
    if let Some(link) = r.link.lock().as_mut() {
        if let Some(s) = link.socket.take() {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }
    r.link_generation.load(Ordering::Acquire)
}

fn current(srv: &Server, generation: u64) -> bool {
    srv.replication.link_generation.load(Ordering::Acquire) == generation
}

/// Runs `f` on the link if it is still ours.
fn with_link(srv: &Server, generation: u64, f: impl FnOnce(&mut Link)) {
    let mut link = srv.replication.link.lock();
    if current(srv, generation) {
        if let Some(l) = link.as_mut() {
            f(l);
        }
    }
}

/// The link thread: sessions until REPLICAOF changes the master.
fn run(srv: Arc<Server>, generation: u64) {
    while current(&srv, generation) {
        let result = session(&srv, generation);
        if !current(&srv, generation) {
            return;
        }
        with_link(&srv, generation, |l| {
            l.state = LinkState::Connect;
            l.socket = None;
            if l.down_since_ms == 0 {
                l.down_since_ms = unix_ms();
            }
        });
        if let Err(e) = result {
            log::write_line(Verbosity::Warning, &e);
        }
        for _ in 0..10 {
            if !current(&srv, generation) {
                return;
            }
            std::thread::sleep(READ_TICK);
        }
    }
}

/// One connection to the master, from connect to loss.
fn session(srv: &Server, generation: u64) -> Result<(), String> {
    let Some((host, port)) = srv
        .replication
        .link
        .lock()
        .as_ref()
        .map(|l| (l.host.clone(), l.port))
    else {
        return Ok(());
    };
    with_link(srv, generation, |l| l.state = LinkState::Connecting);
    log::write_line(
        Verbosity::Notice,
        &format!("Connecting to MASTER {host}:{port}"),
    );
    let timeout = Duration::from_secs(srv.cfg().repl_timeout.max(1) as u64);
    let stream = connect(&host, port, timeout)?;
    let handle = stream.try_clone().map_err(|e| e.to_string())?;
    with_link(srv, generation, |l| {
        l.socket = Some(handle);
        l.state = LinkState::Handshake;
    });
    let mut io = LinkIo::new(stream, srv, generation)?;
    log::write_line(Verbosity::Notice, "MASTER <-> REPLICA sync started");
    handshake(srv, &mut io)?;
    let reply = psync(srv, &mut io)?;
    match reply {
        PsyncReply::FullResync { replid, offset } => {
            log::write_line(
                Verbosity::Notice,
                &format!("Full resync from master: {replid}:{offset}"),
            );
            receive_and_load(srv, &mut io, &replid, offset)?;
        }
        PsyncReply::Continue { replid } => continue_from(srv, replid),
        PsyncReply::TryLater(e) => {
            return Err(format!(
                "Master is currently unable to PSYNC but should be in the future: {e}"
            ))
        }
        PsyncReply::Error(e) => return Err(format!("Unexpected reply to PSYNC from master: {e}")),
    }
    apply_stream(srv, &mut io, &host, port)
}

fn connect(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, String> {
    let addrs = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("Unable to connect to MASTER: {e}"))?;
    let mut last = String::from("no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => return Ok(s),
            Err(e) => last = e.to_string(),
        }
    }
    Err(format!("Error condition on socket for SYNC: {last}"))
}

/// The socket and what was read but not consumed.
pub(super) struct LinkIo<'a> {
    stream: TcpStream,
    pub(super) buf: Vec<u8>,
    pub(super) srv: &'a Server,
    generation: u64,
}

impl<'a> LinkIo<'a> {
    fn new(stream: TcpStream, srv: &'a Server, generation: u64) -> Result<Self, String> {
        stream
            .set_read_timeout(Some(READ_TICK))
            .map_err(|e| e.to_string())?;
        let _ = stream.set_nodelay(!srv.cfg().repl_disable_tcp_nodelay);
        Ok(LinkIo {
            stream,
            buf: Vec::with_capacity(READ_CHUNK_BYTES),
            srv,
            generation,
        })
    }

    /// Runs `f` on the link if it is still this one's.
    pub(super) fn with_link(&self, f: impl FnOnce(&mut Link)) {
        with_link(self.srv, self.generation, f);
    }

    /// Reads what arrives within one tick. Ok(false) on a quiet tick; an error at EOF or
    /// when the link was replaced.
    pub(super) fn fill(&mut self) -> Result<bool, String> {
        if !current(self.srv, self.generation) {
            return Err("the master changed".into());
        }
        let old = self.buf.len();
        self.buf.resize(old + READ_CHUNK_BYTES, 0);
        let r = self.stream.read(&mut self.buf[old..]);
        let n = match r {
            Ok(0) => {
                self.buf.truncate(old);
                return Err("Connection with master lost.".into());
            }
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) =>
            {
                0
            }
            Err(e) => {
                self.buf.truncate(old);
                return Err(format!("Error reading from MASTER: {e}"));
            }
        };
        self.buf.truncate(old + n);
        if n > 0 {
            self.srv.stats.add(|c| &c.net_repl_input_bytes, n as u64);
            with_link(self.srv, self.generation, |l| l.last_io_ms = unix_ms());
        }
        Ok(n > 0)
    }

    /// Reads one line, waiting at most `repl-timeout` for news.
    fn line(&mut self) -> Result<Vec<u8>, String> {
        let timeout_ms = self.srv.cfg().repl_timeout * 1000;
        let mut last_news = unix_ms();
        loop {
            if let Some((line, used)) = wire::take_line(&self.buf)? {
                let line = line.to_vec();
                self.buf.drain(..used);
                return Ok(line);
            }
            if self.fill()? {
                last_news = unix_ms();
            } else if unix_ms() - last_news > timeout_ms {
                return Err("Timeout connecting to the MASTER...".into());
            }
        }
    }

    /// A line that is not a keepalive newline.
    fn reply_line(&mut self) -> Result<Vec<u8>, String> {
        loop {
            let line = self.line()?;
            if !line.is_empty() {
                return Ok(line);
            }
        }
    }

    fn send(&mut self, args: &[&[u8]]) -> Result<(), String> {
        let mut out = Vec::new();
        encode_command(args, &mut out);
        self.stream
            .write_all(&out)
            .map_err(|e| format!("Error writing to MASTER: {e}"))
    }

    fn command(&mut self, args: &[&[u8]]) -> Result<Vec<u8>, String> {
        self.send(args)?;
        self.reply_line()
    }
}

fn handshake(srv: &Server, io: &mut LinkIo) -> Result<(), String> {
    let pong = io.command(&[b"PING"])?;
    let tolerated = [&b"-NOAUTH"[..], b"-NOPERM", b"-ERR operation not permitted"];
    if pong.first() == Some(&b'-') && !tolerated.iter().any(|t| pong.starts_with(t)) {
        return Err(format!(
            "Error reply to PING from master: '{}'",
            String::from_utf8_lossy(&pong)
        ));
    }
    let cfg = srv.cfg();
    if !cfg.masterauth.is_empty() {
        let mut args: Vec<&[u8]> = vec![b"AUTH"];
        if !cfg.masteruser.is_empty() {
            args.push(cfg.masteruser.as_bytes());
        }
        args.push(cfg.masterauth.as_bytes());
        let reply = io.command(&args)?;
        if reply.first() == Some(&b'-') {
            return Err(format!(
                "Unable to AUTH to MASTER: {}",
                String::from_utf8_lossy(&reply)
            ));
        }
    }
    let port = if cfg.replica_announce_port != 0 {
        cfg.replica_announce_port
    } else {
        srv.tcp_port.load(Ordering::Relaxed) as i64
    };
    let port = port.to_string();
    let reply = io.command(&[b"REPLCONF", b"listening-port", port.as_bytes()])?;
    note_replconf_error(&reply, "listening-port");
    if !cfg.replica_announce_ip.is_empty() {
        let reply = io.command(&[
            b"REPLCONF",
            b"ip-address",
            cfg.replica_announce_ip.as_bytes(),
        ])?;
        note_replconf_error(&reply, "ip-address");
    }
    let reply = io.command(&[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"])?;
    note_replconf_error(&reply, "capa");
    Ok(())
}

fn note_replconf_error(reply: &[u8], what: &str) {
    if reply.first() == Some(&b'-') {
        log::write_line(
            Verbosity::Notice,
            &format!(
                "(Non critical) Master does not understand REPLCONF {what}: {}",
                String::from_utf8_lossy(reply)
            ),
        );
    }
}

fn psync(srv: &Server, io: &mut LinkIo) -> Result<PsyncReply, String> {
    let r = &srv.replication;
    let (id, offset) = if r.has_history.load(Ordering::Relaxed) {
        (srv.repl.ids().0, (r.offset() + 1).to_string())
    } else {
        ("?".to_string(), "-1".to_string())
    };
    log::write_line(
        Verbosity::Notice,
        &format!("Trying a partial resynchronization (request {id}:{offset})."),
    );
    let line = io.command(&[b"PSYNC", id.as_bytes(), offset.as_bytes()])?;
    wire::parse_psync_reply(&line)
}

/// `+CONTINUE [<id>]`: keeps our data; a new id becomes ours, the old one our second.
fn continue_from(srv: &Server, replid: Option<String>) {
    let r = &srv.replication;
    let offset = r.offset();
    if let Some(new) = replid {
        if new != srv.repl.ids().0 {
            srv.repl.shift(new, offset + 1);
            super::disconnect_replicas(srv);
        }
    }
    ensure_backlog(srv);
    log::write_line(
        Verbosity::Notice,
        "Successful partial resynchronization with master.",
    );
    log::write_line(
        Verbosity::Notice,
        "MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.",
    );
}

/// Receives the RDB and replaces our dataset with it: through a temporary file, or parsed
/// straight from the socket (`repl-diskless-load`, see `diskless_load`).
fn receive_and_load(
    srv: &Server,
    io: &mut LinkIo,
    replid: &str,
    offset: i64,
) -> Result<(), String> {
    let header = wire::parse_bulk_header(&io.reply_line()?)?;
    let size = match &header {
        BulkHeader::Length(n) => *n as i64,
        BulkHeader::Eof(_) => -1,
    };
    with_link(srv, io.generation, |l| {
        l.state = LinkState::Transfer;
        l.transfer_size = size;
        l.transfer_read = 0;
        l.transfer_start_ms = unix_ms();
    });
    let mode = diskless_load::mode(srv);
    let to = if mode == LoadMode::Disk {
        "to disk"
    } else {
        "to parser"
    };
    let what = if size < 0 {
        "streamed RDB from master with EOF".to_string()
    } else {
        format!("{size} bytes from master")
    };
    log::write_line(
        Verbosity::Notice,
        &format!("MASTER <-> REPLICA sync: receiving {what} {to}"),
    );
    if mode != LoadMode::Disk {
        let same_history = srv.repl.ids().0 == replid;
        let loaded = diskless_load::run(srv, io, &header, mode, same_history)?;
        return finish_full_sync(srv, &loaded, replid, offset);
    }
    let tmp = format!("temp-{}.{}.rdb", unix_ms() / 1000, std::process::id());
    let received = receive_to_file(srv, io, &header, &tmp);
    if let Err(e) = received {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    if !current(srv, io.generation) {
        let _ = std::fs::remove_file(&tmp);
        return Err("the master changed".into());
    }
    load_received(srv, &tmp, replid, offset)
}

fn receive_to_file(
    srv: &Server,
    io: &mut LinkIo,
    header: &BulkHeader,
    tmp: &str,
) -> Result<(), String> {
    let mut file = std::io::BufWriter::with_capacity(
        1 << 16,
        std::fs::File::create(tmp).map_err(|e| {
            format!("Opening the temp file needed for MASTER <-> REPLICA synchronization: {e}")
        })?,
    );
    let timeout_ms = srv.cfg().repl_timeout * 1000;
    let mut last_news = unix_ms();
    let mut left = match header {
        BulkHeader::Length(n) => *n,
        BulkHeader::Eof(_) => u64::MAX,
    };
    let mut scanner = match header {
        BulkHeader::Eof(mark) => Some(EofScanner::new(*mark)),
        BulkHeader::Length(_) => None,
    };
    let mut payload = Vec::with_capacity(READ_CHUNK_BYTES);
    let mut read_total: i64 = 0;
    loop {
        if !io.buf.is_empty() {
            let take = if scanner.is_some() {
                io.buf.len()
            } else {
                io.buf.len().min(left as usize)
            };
            read_total += take as i64;
            payload.clear();
            let done = match scanner.as_mut() {
                Some(s) => s.push(&io.buf[..take], &mut payload),
                None => {
                    payload.extend_from_slice(&io.buf[..take]);
                    left -= take as u64;
                    left == 0
                }
            };
            io.buf.drain(..take);
            file.write_all(&payload)
                .map_err(|e| format!("Write error writing to the DB file: {e}"))?;
            with_link(srv, io.generation, |l| l.transfer_read = read_total);
            if done {
                break;
            }
        }
        if io.fill()? {
            last_news = unix_ms();
        } else if unix_ms() - last_news > timeout_ms {
            return Err("Timeout receiving bulk data from MASTER... If the problem persists try to set the 'repl-timeout' parameter in redis.conf to a larger value.".into());
        }
    }
    let file = file.into_inner().map_err(|e| e.to_string())?;
    file.sync_all().map_err(|e| e.to_string())
}

/// Flushes our data, moves the received file over `dbfilename` and loads it.
fn load_received(srv: &Server, tmp: &str, replid: &str, offset: i64) -> Result<(), String> {
    log::write_line(
        Verbosity::Notice,
        "MASTER <-> REPLICA sync: Flushing old data",
    );
    super::disconnect_replicas(srv);
    flush_all(srv);
    let path = srv.cfg().dbfilename.clone();
    std::fs::rename(tmp, &path).map_err(|e| {
        format!("Failed trying to rename the temp DB into {path} in MASTER <-> REPLICA synchronization: {e}")
    })?;
    log::write_line(
        Verbosity::Notice,
        "MASTER <-> REPLICA sync: Loading DB in memory",
    );
    srv.state.loading.store(true, Ordering::Release);
    let busy = srv
        .watchdog
        .busy(srv, || "the load of the master's data".to_string());
    let loaded = std::fs::File::open(&path)
        .map_err(|e| e.to_string())
        .and_then(|f| crate::persist::load::load(srv, f, false));
    drop(busy);
    srv.state.loading.store(false, Ordering::Release);
    let loaded = loaded.map_err(|e| {
        format!("Failed trying to load the MASTER synchronization DB from disk: {e}")
    })?;
    finish_full_sync(srv, &loaded, replid, offset)
}

/// After a full resync's load: the master's history becomes ours, from `offset`.
fn finish_full_sync(
    srv: &Server,
    loaded: &crate::persist::load::Loaded,
    replid: &str,
    offset: i64,
) -> Result<(), String> {
    let r = &srv.replication;
    srv.repl
        .set_ids(replid.to_string(), NO_REPLID.to_string(), -1);
    ensure_backlog(srv);
    r.stream.reset_to(offset);
    let db = loaded.repl.as_ref().map_or(0, |(_, _, db)| *db);
    r.master_db.store(db, Ordering::Relaxed);
    r.has_history.store(true, Ordering::Relaxed);
    srv.propagator
        .reset_selected_db_of(crate::propagate::target::REPLICAS);
    log::write_line(
        Verbosity::Notice,
        "MASTER <-> REPLICA sync: Finished with success",
    );
    Ok(())
}

/// Empties every database and drops the function libraries (a full resync replaces the
/// dataset, functions included).
pub(super) fn flush_all(srv: &Server) {
    let lazy = srv.cfg().replica_lazy_flush;
    let mut txn = Txn::exclusive(&srv.keyspace, 0, unix_ms());
    txn.writes = true;
    for db in 0..srv.keyspace.db_count() {
        crate::cmd::keys::flush::empty_db_txn(&mut txn, db, lazy);
    }
    drop(txn);
    srv.scripting.flush_libraries();
}

/// The master client: applies the stream through the dispatch gate.
fn master_client(srv: &Server, io: &LinkIo, host: &str, port: u16) -> Client {
    let local = io
        .stream
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let info = Arc::new(ClientInfo::new(
        srv.clients.next_id(),
        format!("{host}:{port}"),
        local,
        raw_fd(&io.stream),
        unix_ms(),
    ));
    info.set_flag(cflag::MASTER, true);
    srv.clients.register(info.clone());
    let mut client = Client::new(info, None);
    client.is_master = true;
    client.authenticated = true;
    let db = srv.replication.master_db.load(Ordering::Relaxed);
    client.select(usize::try_from(db).unwrap_or(0));
    client
}

#[cfg(unix)]
fn raw_fd(stream: &TcpStream) -> i64 {
    use std::os::fd::AsRawFd;
    i64::from(stream.as_raw_fd())
}

/// Applies the master's stream until the link drops.
fn apply_stream(srv: &Server, io: &mut LinkIo, host: &str, port: u16) -> Result<(), String> {
    let mut client = master_client(srv, io, host, port);
    let result = stream_loop(srv, io, &mut client);
    srv.replication
        .master_db
        .store(client.db as i64, Ordering::Relaxed);
    crate::cmd::transaction::unwatch_all(srv, &mut client);
    srv.clients.unregister(client.id());
    result
}

fn stream_loop(srv: &Server, io: &mut LinkIo, client: &mut Client) -> Result<(), String> {
    let generation = io.generation;
    with_link(srv, generation, |l| {
        l.state = LinkState::Connected;
        l.down_since_ms = 0;
        l.last_io_ms = unix_ms();
    });
    log::write_line(
        Verbosity::Notice,
        "MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization or finished a full one; streaming.",
    );
    let mut parser = RequestParser::new();
    let mut reply = ReplyBuf::new();
    let mut last_ack_ms = 0;
    let mut last_news_ms = unix_ms();
    loop {
        if client.info.is_killed() {
            return Err("Connection with master lost (killed).".into());
        }
        let now = unix_ms();
        if now - last_ack_ms >= 1000 {
            send_ack(srv, io)?;
            last_ack_ms = now;
        }
        if now - last_news_ms > srv.cfg().repl_timeout * 1000 {
            return Err("MASTER timeout: no data nor PING received...".into());
        }
        apply_buffered(srv, io, client, &mut parser, &mut reply)?;
        srv.replication
            .master_db
            .store(client.db as i64, Ordering::Relaxed);
        if io.fill()? {
            last_news_ms = unix_ms();
            client
                .info
                .last_interaction_ms
                .store(last_news_ms, Ordering::Relaxed);
        }
    }
}

fn send_ack(srv: &Server, io: &mut LinkIo) -> Result<(), String> {
    let offset = srv.replication.offset().to_string();
    io.send(&[b"REPLCONF", b"ACK", offset.as_bytes()])
}

/// Runs every complete command buffered, passing each one's bytes on to our replicas.
fn apply_buffered(
    srv: &Server,
    io: &mut LinkIo,
    client: &mut Client,
    parser: &mut RequestParser,
    reply: &mut ReplyBuf,
) -> Result<(), String> {
    let limits = Limits {
        max_bulk_len: u64::MAX,
        auth_required: false,
        from_master: true,
    };
    let mut start = 0;
    while start < io.buf.len() {
        if !current(srv, io.generation) {
            // REPLICAOF changed the master: nothing more from this one.
            return Err("the master changed".into());
        }
        let buf = &io.buf[start..];
        match parser.parse(buf, &limits) {
            Ok(Parsed::Command(n)) => {
                let argv = parser.argv(buf);
                let getack = argv.len() >= 2
                    && argv.get(0).eq_ignore_ascii_case(b"replconf")
                    && argv.get(1).eq_ignore_ascii_case(b"getack");
                if getack {
                    // Acknowledges the offset before the GETACK itself, as Redis does.
                    let offset = srv.replication.offset().to_string();
                    let mut ack = Vec::new();
                    encode_command(&[b"REPLCONF", b"ACK", offset.as_bytes()], &mut ack);
                    io.stream
                        .write_all(&ack)
                        .map_err(|e| format!("Error writing to MASTER: {e}"))?;
                } else {
                    wait_for_script(srv);
                    crate::command::dispatch::call(srv, client, reply, argv);
                    super::error_reply::check(srv, argv, reply.as_bytes());
                    reply.clear();
                }
                srv.replication.stream.feed(&io.buf[start..start + n]);
                start += n;
            }
            Ok(Parsed::Empty(n)) | Ok(Parsed::Newline(n)) => {
                srv.replication.stream.feed(&buf[..n]);
                start += n;
            }
            Ok(Parsed::Incomplete) => break,
            Err(e) => return Err(format!("Protocol error from master: {}", e.message())),
        }
    }
    io.buf.drain(..start);
    Ok(())
}

/// While a script runs here (sent by one of our own clients), the master's stream waits for
/// it to end, as in Redis: its commands must not be refused with -BUSY, or the replica would
/// lose them.
fn wait_for_script(srv: &Server) {
    let scripting = &srv.scripting;
    while scripting.running_eval() || scripting.running_function().is_some() {
        std::thread::sleep(Duration::from_millis(1));
    }
}
