//! The connection task: one per client. It reads whatever has arrived, parses every complete
//! request, runs them in order and writes all their replies back in one write, so pipelined
//! requests cost one read and one write per batch. Buffers are reused across batches.
//!
//! During a CLIENT PAUSE, a request the pause holds stays unparsed in the buffer while the
//! task waits (asynchronously, holding no worker thread) for the pause to end or change.
//!
//! A protocol error gets Redis's `-ERR Protocol error: ...` reply and closes this connection
//! only. The unparsed input is bounded by `client-query-buffer-limit`; nothing is allocated
//! for lengths a client merely announces.

use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::socket::{ClientSocket, Stream};
use rudis_resp::{Limits, Parsed, ReplyBuf, RequestParser};

use super::client::{cflag, BatchClock, Client, ClientInfo};
use super::{unix_ms, Server};
use crate::command::dispatch;
use crate::keyspace::blocking::{WaitState, Waiter};
use crate::keyspace::prefetch;

/// Bytes read at a time.
const READ_CHUNK_BYTES: usize = 16 * 1024;

/// Redis's reply to a client refused in protected mode.
const DENIED: &str = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// Accepts one TCP client.
pub async fn serve_tcp(srv: Arc<Server>, stream: std::net::TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let local = stream
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let endpoint = Endpoint {
        peer: Some(peer),
        addr: peer.to_string(),
        laddr: local,
        unix: false,
    };
    serve(srv, Stream::Tcp(stream), endpoint).await
}

/// Accepts one client of the Unix socket at `path`. Redis shows such a client's address, and
/// its local address, as `<path>:0`.
pub async fn serve_unix(srv: Arc<Server>, stream: std::os::unix::net::UnixStream, path: String) {
    let addr = format!("{path}:0");
    let endpoint = Endpoint {
        peer: None,
        addr: addr.clone(),
        laddr: addr,
        unix: true,
    };
    serve(srv, Stream::Unix(stream), endpoint).await
}

/// Where a client is connected from and to.
struct Endpoint {
    /// The TCP peer; `None` for a Unix socket client.
    peer: Option<SocketAddr>,
    addr: String,
    laddr: String,
    unix: bool,
}

/// Serves one client: admission checks, then the request loop, then cleanup.
async fn serve(srv: Arc<Server>, stream: Stream, endpoint: Endpoint) {
    let now = unix_ms();
    let id = srv.clients.next_id();
    let fd = i64::from(stream.as_raw_fd());
    let mut socket = match ClientSocket::new(stream) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("Registering client connection: {e}");
            return;
        }
    };
    let info = Arc::new(ClientInfo::new(id, endpoint.addr, endpoint.laddr, fd, now));
    if endpoint.unix {
        info.set_flag(cflag::UNIX_SOCKET, true);
    }
    let mut client = Client::new(info.clone(), endpoint.peer);
    if let Err(refusal) = admit(&srv, &client) {
        let _ = socket.write_all(refusal.as_bytes()).await;
        srv.stats.add(|c| &c.rejected_connections, 1);
        return;
    }
    srv.stats.add(|c| &c.connections, 1);
    client.authenticated = !srv.auth_required();
    client.user = Some(srv.acl.default_user());
    client.acl_epoch = srv.acl.epoch();
    let mut conn = Connection {
        socket,
        input: Vec::with_capacity(READ_CHUNK_BYTES),
        start: 0,
        input_peak_bytes: 0,
        parser: RequestParser::new(),
        batch_requests: 0,
        lookahead: RequestParser::new(),
        reply: ReplyBuf::new(),
    };
    info.reply_buf_bytes
        .store(conn.reply.capacity(), Ordering::Relaxed);
    if let Err(e) = conn.run(&srv, &mut client).await {
        tracing::debug!("client {id} closed: {e}");
    }
    disconnect(&srv, &mut client);
}

/// Protected mode and maxclients. A client that passes is registered: checking the count
/// and registering happen under one lock, so concurrent accepts cannot overshoot maxclients.
fn admit(srv: &Server, client: &Client) -> Result<(), String> {
    let cfg = srv.cfg();
    if cfg.protected_mode && cfg.requirepass.is_empty() && !client.is_local {
        return Err(DENIED.to_string());
    }
    if !srv
        .clients
        .register_within(client.info.clone(), cfg.maxclients as usize)
    {
        return Err("-ERR max number of clients reached\r\n".to_string());
    }
    Ok(())
}

/// Releases what a client holds in shared structures.
fn disconnect(srv: &Server, client: &mut Client) {
    crate::command::blocked::unregister(srv, client);
    crate::cmd::transaction::unwatch_all(srv, client);
    crate::cmd::pubsub::unsubscribe_all(srv, client);
    srv.clients.unregister(client.id());
}

struct Connection {
    socket: ClientSocket,
    input: Vec<u8>,
    /// Start of the unparsed part of `input`.
    start: usize,
    /// Most unparsed input held since the buffer was last resized.
    input_peak_bytes: usize,
    parser: RequestParser,
    /// Requests the last batch ran.
    batch_requests: usize,
    /// Parses ahead of `parser` to find the keys of the next requests (see `warm_ahead`).
    lookahead: RequestParser,
    reply: ReplyBuf,
}

/// A query buffer above this size is shrunk once recent requests need less than half of it
/// (Redis's PROTO_RESIZE_THRESHOLD).
const QUERY_BUF_RESIZE_THRESHOLD_BYTES: usize = 32 * 1024;

/// Why the loop ended.
#[derive(Debug)]
enum Closed {
    Io(std::io::Error),
    Eof,
    Killed,
    Quit,
    Protocol,
    QueryBufferLimit,
}

/// How far [`Connection::process`] got through the buffered requests.
enum Progress {
    /// Every complete request ran.
    Drained,
    /// A request is held by CLIENT PAUSE; it and what follows stay buffered.
    Paused,
    /// A request blocked (BLPOP...); what follows waits until it is served or times out.
    Blocked,
    /// A script must run (EVAL, FCALL...): it runs on the script thread, and what follows
    /// waits for it, while this worker keeps serving its other connections.
    Script(OwnedRequest),
}

/// A request copied out of the input buffer.
pub struct OwnedRequest {
    base: Vec<u8>,
    ranges: Vec<std::ops::Range<usize>>,
}

impl OwnedRequest {
    fn new(argv: rudis_resp::Argv<'_>) -> Self {
        let mut base = Vec::with_capacity(argv.total_bytes());
        let ranges = argv
            .iter()
            .map(|a| {
                let start = base.len();
                base.extend_from_slice(a);
                start..base.len()
            })
            .collect();
        OwnedRequest { base, ranges }
    }

    fn argv(&self) -> rudis_resp::Argv<'_> {
        rudis_resp::Argv::new(&self.base, &self.ranges)
    }
}

impl std::fmt::Display for Closed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Closed::Io(e) => write!(f, "I/O error: {e}"),
            Closed::Eof => write!(f, "client closed connection"),
            Closed::Killed => write!(f, "killed"),
            Closed::Quit => write!(f, "QUIT"),
            Closed::Protocol => write!(f, "protocol error"),
            Closed::QueryBufferLimit => write!(f, "query buffer limit"),
        }
    }
}

impl Connection {
    async fn run(&mut self, srv: &Server, client: &mut Client) -> Result<(), Closed> {
        let mut limits = limits_for(srv, client);
        let mut config_version = srv.config_version.load(Ordering::Acquire);
        loop {
            let version = srv.config_version.load(Ordering::Acquire);
            if version != config_version {
                config_version = version;
                limits = limits_for(srv, client);
            }
            limits.auth_required = !client.authenticated;
            let feeds_before = srv.replication.stream.feeds();
            let outcome = self.process(srv, client, &limits);
            let fed_replicas = srv.replication.stream.feeds() != feeds_before;
            if !self.reply.is_empty() && (fed_replicas || self.batch_requests > 1) {
                // Written at the end of the turn, as Redis writes replies in beforeSleep: a
                // yielded task runs again only after every ready task has run and the worker
                // has looked at its events. The replies of the turn's pipelined batches then
                // land back to back, and a client still busy with the first takes the rest
                // without another wake-up (most of the server's system time at pipeline 16).
                // By then the replica streams this worker woke have sent what these commands
                // produced: a client that reads a replica right after its write finds it
                // there, as with Redis. A lone request's reply goes out at once: the extra
                // look at the events costs more than it saves at one request per turn.
                tokio::task::yield_now().await;
            }
            self.flush(srv, client).await?;
            if let Some(handoff) = client.repl_handoff.take() {
                // SYNC/PSYNC: from now on this connection carries a replica's stream.
                let rest = self.input.split_off(self.start);
                return crate::replication::primary::serve(
                    srv,
                    &mut self.socket,
                    rest,
                    client,
                    handoff,
                )
                .await
                .map_err(|e| Closed::Io(std::io::Error::other(e)));
            }
            match outcome? {
                Progress::Paused => {
                    self.wait_pause_change(srv, client).await?;
                    continue;
                }
                Progress::Blocked => {
                    self.wait_blocked(srv, client).await?;
                    continue;
                }
                Progress::Script(request) => {
                    self.run_script(srv, client, request).await?;
                    continue;
                }
                Progress::Drained => {}
            }
            if client.close_after_reply {
                return Err(Closed::Quit);
            }
            self.read_more(srv, client).await?;
        }
    }

    /// Parses and runs every complete request in the buffer.
    fn process(
        &mut self,
        srv: &Server,
        client: &mut Client,
        limits: &rudis_resp::Limits,
    ) -> Result<Progress, Closed> {
        let mut limits = *limits;
        if self.start < self.input.len() {
            let clock = BatchClock::start();
            client.batch_clock = Some(clock);
            client
                .info
                .last_interaction_ms
                .store(clock.wall_start_us() / 1000, Ordering::Relaxed);
        }
        let progress = self.run_batch(srv, client, &mut limits);
        client.batch_clock = None;
        progress
    }

    /// Runs the complete requests of the buffer, in order.
    fn run_batch(
        &mut self,
        srv: &Server,
        client: &mut Client,
        limits: &mut rudis_resp::Limits,
    ) -> Result<Progress, Closed> {
        let mut progress = Progress::Drained;
        let mut warmed_to = self.start;
        self.batch_requests = 0;
        while self.start < self.input.len() && !client.close_after_reply {
            let buf = &self.input[self.start..];
            match self.parser.parse(buf, limits) {
                Ok(Parsed::Command(n)) => {
                    let argv = self.parser.argv(buf);
                    if self.start + n >= warmed_to {
                        warmed_to = warm_ahead(
                            &mut self.lookahead,
                            srv,
                            client.db,
                            argv.try_get(1),
                            (&self.input, self.start + n),
                            limits,
                        );
                    }
                    if dispatch::held_by_pause(srv, client, argv) {
                        // The parser is idle again: the request is parsed afresh later.
                        progress = Progress::Paused;
                        break;
                    }
                    if crate::script::runs_on_script_thread(client, argv) {
                        progress = Progress::Script(OwnedRequest::new(argv));
                        self.start += n;
                        break;
                    }
                    dispatch::call(srv, client, &mut self.reply, argv);
                    self.batch_requests += 1;
                    limits.auth_required = !client.authenticated;
                    self.start += n;
                    if client.blocked.is_some() {
                        progress = Progress::Blocked;
                        break;
                    }
                    if client.repl_handoff.is_some() {
                        break;
                    }
                }
                Ok(Parsed::Empty(n)) | Ok(Parsed::Newline(n)) => self.start += n,
                Ok(Parsed::Incomplete) => break,
                Err(e) => {
                    tracing::debug!(
                        "Protocol error ({}) from client: id={} addr={}",
                        e.log_reason(),
                        client.id(),
                        client.info.addr
                    );
                    srv.stats.count_error("ERR");
                    self.reply.error(&e.message());
                    return Err(Closed::Protocol);
                }
            }
        }
        self.compact();
        self.note_query_buffer(client);
        Ok(progress)
    }

    /// Runs a script request on the script thread, lending it this connection's client and
    /// reply buffer until it is done.
    async fn run_script(
        &mut self,
        srv: &Server,
        client: &mut Client,
        request: OwnedRequest,
    ) -> Result<(), Closed> {
        let placeholder = Client::new(client.info.clone(), client.peer);
        let lent_client = std::mem::replace(client, placeholder);
        let lent_reply = std::mem::take(&mut self.reply);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let server = srv.arc();
        srv.scripting.submit(Box::new(move || {
            let (mut c, mut r) = (lent_client, lent_reply);
            dispatch::call(&server, &mut c, &mut r, request.argv());
            let _ = tx.send((c, r));
        }));
        match rx.await {
            Ok((c, r)) => {
                *client = c;
                self.reply = r;
                Ok(())
            }
            Err(_) => Err(Closed::Killed),
        }
    }

    /// Publishes the query buffer's size for CLIENT LIST (`qbuf`, `qbuf-free`).
    fn note_query_buffer(&mut self, client: &Client) {
        let info = &client.info;
        let unparsed = self.input.len() - self.start;
        self.input_peak_bytes = self.input_peak_bytes.max(unparsed);
        info.query_buf_bytes.store(unparsed, Ordering::Relaxed);
        let free = self.input.capacity() - self.input.len();
        info.query_buf_free_bytes.store(free, Ordering::Relaxed);
    }

    /// Waits, marked as blocked, until the pause ends or changes, or another task wakes this
    /// client (delivering what it queued meanwhile).
    async fn wait_pause_change(&mut self, srv: &Server, client: &Client) -> Result<(), Closed> {
        client.info.set_flag(cflag::BLOCKED, true);
        let changed = srv.state.pause_changed.notified();
        tokio::pin!(changed);
        // Registered before reading the pause state, so a change in between is not missed.
        changed.as_mut().enable();
        let until_ms = srv.state.paused_until_ms.load(Ordering::Acquire);
        let left_ms = u64::try_from(until_ms - unix_ms()).unwrap_or(0);
        tokio::select! {
            _ = changed => {}
            _ = tokio::time::sleep(std::time::Duration::from_millis(left_ms)) => {}
            _ = client.info.wake.wait() => {}
        }
        client.info.set_flag(cflag::BLOCKED, false);
        if client.info.is_killed() {
            return Err(Closed::Killed);
        }
        let pending = client.info.take_out();
        if !pending.is_empty() {
            srv.stats.add(|c| &c.net_output_bytes, pending.len() as u64);
            self.write_interruptible(&pending, client).await?;
        }
        Ok(())
    }

    /// Waits until the blocked command is served, times out, is unblocked by CLIENT UNBLOCK,
    /// or the client goes away. Input that arrives meanwhile is buffered, not run.
    async fn wait_blocked(&mut self, srv: &Server, client: &mut Client) -> Result<(), Closed> {
        let w = client
            .blocked
            .clone()
            .expect("a blocked client has a waiter");
        let outcome = self.await_waiter(client, &w).await;
        crate::command::blocked::unregister(srv, client);
        outcome
    }

    async fn await_waiter(&mut self, client: &Client, w: &Waiter) -> Result<(), Closed> {
        loop {
            let state = w.state.lock().clone();
            match state {
                WaitState::Waiting => {}
                WaitState::Served(reply) => {
                    self.reply.raw(&reply);
                    return Ok(());
                }
                WaitState::TimedOut => {
                    (w.timeout_reply)(&mut self.reply);
                    return Ok(());
                }
                WaitState::Unblocked => {
                    // Counted by CLIENT UNBLOCK, as Redis counts it.
                    self.reply
                        .error("UNBLOCKED client unblocked via CLIENT UNBLOCK");
                    return Ok(());
                }
            }
            if client.info.is_killed() {
                return Err(Closed::Killed);
            }
            let pending = client.info.take_out();
            if !pending.is_empty() {
                self.write_interruptible(&pending, client).await?;
            }
            let left_ms = w
                .deadline_ms
                .map(|d| u64::try_from(d - unix_ms()).unwrap_or(0));
            let timeout = async {
                match left_ms {
                    Some(ms) => tokio::time::sleep(std::time::Duration::from_millis(ms)).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                _ = client.info.wake.wait() => {}
                _ = timeout => {
                    let _ = w.finish(WaitState::TimedOut);
                }
                r = self.socket.read_into(&mut self.input, READ_CHUNK_BYTES) => match r {
                    Ok(0) => return Err(Closed::Eof),
                    Ok(_) => self.note_query_buffer(client),
                    Err(e) => return Err(Closed::Io(e)),
                },
            }
        }
    }

    /// Drops consumed input so the buffer does not grow without bound. Once everything is
    /// consumed, a buffer that grew large for an earlier request shrinks to what recent
    /// requests needed, as Redis resizes query buffers by their recent peak.
    fn compact(&mut self) {
        if self.start == self.input.len() {
            self.input.clear();
            self.start = 0;
            let cap = self.input.capacity();
            if cap > QUERY_BUF_RESIZE_THRESHOLD_BYTES && self.input_peak_bytes < cap / 2 {
                self.input = Vec::with_capacity(self.input_peak_bytes.max(READ_CHUNK_BYTES));
            }
            self.input_peak_bytes = 0;
        } else if self.start > 0
            && (!self.parser.in_progress() || self.input.len() - self.start <= self.start)
        {
            // A partial request is moved to the front too when it is no longer than what was
            // consumed: the copy stays amortized O(1) per byte, and a pipelined stream, which
            // almost always ends in a partial request, no longer grows the buffer.
            self.input.drain(..self.start);
            self.start = 0;
        }
    }

    async fn flush(&mut self, srv: &Server, client: &Client) -> Result<(), Closed> {
        if self.reply.is_empty() {
            return Ok(());
        }
        // What the replies acknowledge reaches the AOF first.
        srv.aof.before_reply(srv);
        srv.stats
            .add(|c| &c.net_output_bytes, self.reply.len() as u64);
        srv.stats.add(|c| &c.io_writes, 1);
        client
            .info
            .reply_buf_peak_bytes
            .fetch_max(self.reply.len(), Ordering::Relaxed);
        let reply = self.reply.take();
        let result = self.write_interruptible(&reply, client).await;
        self.reply.restore(reply);
        self.reply.shrink();
        let info = &client.info;
        info.reply_buf_bytes
            .store(self.reply.capacity(), Ordering::Relaxed);
        info.output_buf_bytes.store(0, Ordering::Relaxed);
        result
    }

    /// Writes everything, but gives up as soon as the client is killed: a client that does
    /// not read must not keep its connection (and its subscriptions) alive.
    async fn write_interruptible(&mut self, data: &[u8], client: &Client) -> Result<(), Closed> {
        let mut done = 0;
        while done < data.len() {
            match self.socket.try_write(&data[done..]).map_err(Closed::Io)? {
                0 => {
                    tokio::select! {
                        biased;
                        _ = client.info.wake.wait() => {}
                        r = self.socket.wait_writable() => r.map_err(Closed::Io)?,
                    }
                    if client.info.is_killed() {
                        return Err(Closed::Killed);
                    }
                }
                n => done += n,
            }
        }
        Ok(())
    }

    /// Waits for more input, or for another task to wake us (messages to deliver, a kill).
    async fn read_more(&mut self, srv: &Server, client: &Client) -> Result<(), Closed> {
        loop {
            if client.info.is_killed() {
                return Err(Closed::Killed);
            }
            let pending = client.info.take_out();
            if !pending.is_empty() {
                srv.stats.add(|c| &c.net_output_bytes, pending.len() as u64);
                self.write_interruptible(&pending, client).await?;
            }
            if client
                .info
                .release_query_buffer
                .swap(false, Ordering::AcqRel)
                && self.start == self.input.len()
            {
                // Idle: give the buffer back; the next read allocates a fresh one.
                self.input = Vec::new();
                self.start = 0;
                self.note_query_buffer(client);
            }
            let want = READ_CHUNK_BYTES.max(
                self.parser
                    .pending_bulk_bytes(self.input.len() - self.start)
                    .min(1 << 20),
            );
            let read = tokio::select! {
                biased;
                _ = client.info.wake.wait() => continue,
                r = self.socket.read_into(&mut self.input, want) => r,
            };
            let n = read.map_err(Closed::Io)?;
            if n == 0 {
                return Err(Closed::Eof);
            }
            srv.stats.add(|c| &c.net_input_bytes, n as u64);
            srv.stats.add(|c| &c.io_reads, 1);
            self.note_query_buffer(client);
            let unparsed = self.input.len() - self.start;
            if unparsed as i64 > srv.cfg().client_query_buffer_limit {
                tracing::warn!(
                    "Closing client that reached max query buffer length: id={} addr={}",
                    client.id(),
                    client.info.addr
                );
                srv.stats.add(|c| &c.client_qbuf_limit_disconnections, 1);
                return Err(Closed::QueryBufferLimit);
            }
            return Ok(());
        }
    }
}

fn limits_for(srv: &Server, client: &Client) -> Limits {
    let cfg = srv.cfg();
    Limits {
        max_bulk_len: cfg.proto_max_bulk_len as u64,
        auth_required: !client.authenticated,
        from_master: client.is_master,
    }
}

/// When more complete requests follow the one about to run, parses ahead over them and has
/// the keyspace warm the cache for their first keys and the current one's
/// (`keyspace::prefetch`), so the misses of a pipelined batch overlap. A lone request (no
/// pipelining) costs nothing. `input` is the buffer and where the next request starts.
/// Returns the offset the look-ahead reached: requests before it were warmed. A batch whose
/// first three requests name one key (pushes to one list) is not warmed: its key is in cache
/// after the first command, and parsing ahead would only cost.
fn warm_ahead(
    lookahead: &mut RequestParser,
    srv: &Server,
    db: usize,
    current_key: Option<&[u8]>,
    (input, from): (&[u8], usize),
    limits: &Limits,
) -> usize {
    if from >= input.len() {
        return from;
    }
    let Some(mut warmer) = prefetch::Warmer::new(&srv.keyspace, db) else {
        return input.len();
    };
    if let Some(key) = current_key {
        warmer.add(key);
    }
    let mut at = from;
    let mut requests = 0;
    lookahead.reset();
    while requests < prefetch::MAX_KEYS && at < input.len() {
        let buf = &input[at..];
        match lookahead.parse(buf, limits) {
            Ok(Parsed::Command(n)) => {
                if let Some(key) = lookahead.argv(buf).try_get(1) {
                    warmer.add(key);
                }
                at += n;
                requests += 1;
                if requests == 2 && warmer.distinct_keys() <= 1 {
                    // Three requests on one key: a batch on one key, not worth parsing twice.
                    return input.len();
                }
            }
            Ok(Parsed::Empty(n)) | Ok(Parsed::Newline(n)) => at += n,
            // The parser proper reports errors; a partial request is warmed next time.
            Ok(Parsed::Incomplete) | Err(_) => break,
        }
    }
    warmer.finish();
    at
}
