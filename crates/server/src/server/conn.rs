//! The connection task: one per client. It reads whatever has arrived, parses every complete
//! request, runs them in order and writes all their replies back in one write, so pipelined
//! requests cost one read and one write per batch. Buffers are reused across batches.
//!
//! A protocol error gets Redis's `-ERR Protocol error: ...` reply and closes this connection
//! only. The unparsed input is bounded by `client-query-buffer-limit`; nothing is allocated
//! for lengths a client merely announces.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::socket::ClientSocket;
use rudis_resp::{Limits, Parsed, ReplyBuf, RequestParser};

use super::client::{Client, ClientInfo};
use super::{unix_ms, Server};
use crate::command::dispatch;

/// Bytes read at a time.
const READ_CHUNK_BYTES: usize = 16 * 1024;

/// Redis's reply to a client refused in protected mode.
const DENIED: &str = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// Accepts one TCP client: admission checks, then the request loop, then cleanup.
pub async fn serve_tcp(srv: Arc<Server>, stream: std::net::TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let local = stream
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let now = unix_ms();
    let id = srv.clients.next_id();
    let fd = raw_fd(&stream);
    let mut socket = match ClientSocket::new(stream) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("Registering client connection: {e}");
            return;
        }
    };
    let info = Arc::new(ClientInfo::new(id, peer.to_string(), local, fd, now));
    let mut client = Client::new(info.clone(), Some(peer));
    if let Err(refusal) = admit(&srv, &client) {
        let _ = socket.write_all(refusal.as_bytes()).await;
        srv.stats.add(|c| &c.rejected_connections, 1);
        return;
    }
    srv.stats.add(|c| &c.connections, 1);
    client.authenticated = !srv.auth_required();
    srv.clients.register(info.clone());
    let mut conn = Connection {
        socket,
        input: Vec::with_capacity(READ_CHUNK_BYTES),
        start: 0,
        parser: RequestParser::new(),
        reply: ReplyBuf::new(),
    };
    if let Err(e) = conn.run(&srv, &mut client).await {
        tracing::debug!("client {id} closed: {e}");
    }
    disconnect(&srv, &mut client);
}

#[cfg(unix)]
fn raw_fd(stream: &std::net::TcpStream) -> i64 {
    use std::os::fd::AsRawFd;
    i64::from(stream.as_raw_fd())
}

#[cfg(not(unix))]
fn raw_fd(_: &std::net::TcpStream) -> i64 {
    -1
}

/// Protected mode and maxclients.
fn admit(srv: &Server, client: &Client) -> Result<(), String> {
    let cfg = srv.cfg();
    if cfg.protected_mode && cfg.requirepass.is_empty() && !client.is_local {
        return Err(DENIED.to_string());
    }
    if srv.clients.count() >= cfg.maxclients as usize {
        return Err("-ERR max number of clients reached\r\n".to_string());
    }
    Ok(())
}

/// Releases what a client holds in shared structures.
fn disconnect(srv: &Server, client: &mut Client) {
    crate::cmd::transaction::unwatch_all(srv, client);
    srv.clients.unregister(client.id());
}

struct Connection {
    socket: ClientSocket,
    input: Vec<u8>,
    /// Start of the unparsed part of `input`.
    start: usize,
    parser: RequestParser,
    reply: ReplyBuf,
}

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
            let outcome = self.process(srv, client, &limits);
            self.flush(srv, client).await?;
            outcome?;
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
    ) -> Result<(), Closed> {
        let mut limits = *limits;
        if self.start < self.input.len() {
            client
                .info
                .last_interaction_ms
                .store(unix_ms(), Ordering::Relaxed);
        }
        while self.start < self.input.len() && !client.close_after_reply {
            let buf = &self.input[self.start..];
            match self.parser.parse(buf, &limits) {
                Ok(Parsed::Command(n)) => {
                    let argv = self.parser.argv(buf);
                    client
                        .info
                        .last_interaction_ms
                        .store(unix_ms(), Ordering::Relaxed);
                    dispatch::call(srv, client, &mut self.reply, argv);
                    limits.auth_required = !client.authenticated;
                    self.start += n;
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
        Ok(())
    }

    /// Drops consumed input so the buffer does not grow without bound. A request the parser
    /// is in the middle of may move too: the parser's positions are relative to `start`.
    fn compact(&mut self) {
        if self.start == self.input.len() {
            self.input.clear();
            self.start = 0;
            if self.input.capacity() > 4 * 1024 * 1024 {
                self.input = Vec::with_capacity(READ_CHUNK_BYTES);
            }
        } else if self.start > 0 {
            self.input.drain(..self.start);
            self.start = 0;
        }
    }

    async fn flush(&mut self, srv: &Server, client: &Client) -> Result<(), Closed> {
        if self.reply.is_empty() {
            return Ok(());
        }
        srv.stats
            .add(|c| &c.net_output_bytes, self.reply.len() as u64);
        let result = self.socket.write_all(self.reply.as_bytes()).await;
        self.reply.clear();
        self.reply.shrink();
        client.info.output_buf_bytes.store(0, Ordering::Relaxed);
        result.map_err(Closed::Io)
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
                self.socket.write_all(&pending).await.map_err(Closed::Io)?;
            }
            if self.input.capacity() - self.input.len() < READ_CHUNK_BYTES {
                self.input.reserve(
                    READ_CHUNK_BYTES.max(
                        self.parser
                            .pending_bulk_bytes(self.input.len() - self.start)
                            .min(1 << 20),
                    ),
                );
            }
            let read = tokio::select! {
                biased;
                _ = client.info.wake.wait() => continue,
                r = self.socket.read_into(&mut self.input) => r,
            };
            let n = read.map_err(Closed::Io)?;
            if n == 0 {
                return Err(Closed::Eof);
            }
            srv.stats.add(|c| &c.net_input_bytes, n as u64);
            let unparsed = self.input.len() - self.start;
            client
                .info
                .query_buf_bytes
                .store(unparsed, Ordering::Relaxed);
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
