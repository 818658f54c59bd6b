//! Replication (PSYNC2), master and replica sides.
//!
//! - [`stream`]: the shared replication buffer: backlog and per-replica streaming.
//! - [`wire`]: parsers of the handshake replies and the RDB transfer header (outside input).
//! - [`primary`]: the master side: SYNC/PSYNC, full resync from a fork-free snapshot (disk or
//!   diskless), streaming to a replica, its ACKs and output buffer limit.
//! - [`replica`]: the replica side: the link to a master as a state machine on its own thread
//!   (connect, handshake, PSYNC, transfer, load, apply the stream, ACK, reconnect).
//! - [`diskless_load`]: loading a transfer straight from the socket (`repl-diskless-load`),
//!   into the keyspace or into a temporary one swapped in at the end.
//! - [`sync_job`]: full-sync transfers (snapshot to disk or to sockets) shared by the
//!   replicas waiting for one.
//! - [`wait`]: WAIT, counting acknowledged offsets.
//! - [`error_reply`]: a replica answering its master's stream with an error.
//! - [`local_keys`]: keys a writable replica's own clients gave an expiry, which it expires.
//!
//! [`Replication`] holds what both sides share: the stream (whose end is
//! `master_repl_offset`, on a master and a replica alike), the registry of attached replicas,
//! the state of the link to our master, and the counters INFO reports. The replication ids
//! live in `server::replid`.

pub mod diskless_load;
pub mod error_reply;
pub mod info;
pub mod local_keys;
pub mod primary;
pub mod replica;
pub mod stream;
pub mod sync_job;
pub mod wait;
pub mod wire;

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::propagate::{target, Sink};
use crate::server::client::ClientInfo;
use crate::server::{unix_ms, Server};
use stream::ReplStream;

/// A replica's state as the master sees it (INFO's `state=`).
pub mod replica_state {
    pub const WAIT_BGSAVE: u8 = 0;
    pub const SEND_BULK: u8 = 1;
    pub const ONLINE: u8 = 2;

    pub fn name(s: u8) -> &'static str {
        match s {
            WAIT_BGSAVE => "wait_bgsave",
            SEND_BULK => "send_bulk",
            _ => "online",
        }
    }
}

/// An attached replica, as INFO, ROLE and WAIT see it.
pub struct ReplicaEntry {
    pub client: Arc<ClientInfo>,
    pub ip: String,
    /// The port it listens on (REPLCONF listening-port).
    pub port: i64,
    pub state: AtomicU8,
    /// Offset it acknowledged (REPLCONF ACK).
    pub ack_offset: AtomicI64,
    /// Unix ms of its last ACK (lag).
    pub ack_ms: AtomicI64,
    /// The full-sync transfer it waits for, if any.
    pub want: Mutex<Option<sync_job::Want>>,
    /// Its place in a transfer, once one includes it.
    pub assignment: Mutex<Option<sync_job::Assignment>>,
    /// A second handle on its socket, to close the link at once when it is killed (as
    /// Redis frees the client in the command), not when its task next looks.
    pub socket: Option<crate::server::socket::Stream>,
}

/// The replica side's view of its link, for INFO and ROLE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Must connect (or reconnect).
    Connect,
    /// Connecting.
    Connecting,
    /// Connected, in the handshake (up to the reply to PSYNC).
    Handshake,
    /// Receiving the RDB.
    Transfer,
    /// Applying the stream.
    Connected,
}

impl LinkState {
    /// ROLE's word for it.
    pub fn role_name(self) -> &'static str {
        match self {
            LinkState::Connect => "connect",
            LinkState::Connecting => "connecting",
            LinkState::Handshake => "handshake",
            LinkState::Transfer => "sync",
            LinkState::Connected => "connected",
        }
    }
}

/// The link to our master (replica side).
pub struct Link {
    pub host: String,
    pub port: u16,
    pub state: LinkState,
    /// Unix ms we last heard from the master.
    pub last_io_ms: i64,
    /// Unix ms the link went down (0 while up, or never up).
    pub down_since_ms: i64,
    /// Size of the RDB being received (-1 unknown, diskless), bytes read so far.
    pub transfer_size: i64,
    pub transfer_read: i64,
    pub transfer_start_ms: i64,
    /// A handle on the socket, to cut the link from another thread.
    pub socket: Option<std::net::TcpStream>,
}

pub struct Replication {
    pub stream: Arc<ReplStream>,
    pub replicas: Mutex<Vec<Arc<ReplicaEntry>>>,
    /// The link to our master, `None` on a master.
    pub link: Mutex<Option<Link>>,
    /// Bumped whenever the master changes: a link thread of an older generation exits.
    pub link_generation: AtomicU64,
    /// The database the master's stream has selected (written as `repl-stream-db`).
    pub master_db: AtomicI64,
    /// The replica has a history to offer in PSYNC (else it asks `PSYNC ? -1`).
    pub has_history: AtomicBool,
    pub sync_full: AtomicU64,
    pub sync_partial_ok: AtomicU64,
    pub sync_partial_err: AtomicU64,
    /// Unix ms since which no replica is attached (for `repl-backlog-ttl`).
    pub no_replicas_since_ms: AtomicI64,
    sink_registered: AtomicBool,
    pub waits: wait::Waits,
    pub local_keys: local_keys::LocalKeys,
    /// The full-sync transfer running, if any.
    pub jobs: sync_job::Jobs,
}

impl Replication {
    pub fn new(backlog_bytes: usize) -> Self {
        Replication {
            stream: Arc::new(ReplStream::new(backlog_bytes, 0)),
            replicas: Mutex::new(Vec::new()),
            link: Mutex::new(None),
            link_generation: AtomicU64::new(0),
            master_db: AtomicI64::new(0),
            has_history: AtomicBool::new(false),
            sync_full: AtomicU64::new(0),
            sync_partial_ok: AtomicU64::new(0),
            sync_partial_err: AtomicU64::new(0),
            no_replicas_since_ms: AtomicI64::new(unix_ms()),
            sink_registered: AtomicBool::new(false),
            waits: wait::Waits::default(),
            local_keys: Default::default(),
            jobs: Default::default(),
        }
    }

    /// `master_repl_offset`.
    pub fn offset(&self) -> i64 {
        self.stream.offset()
    }

    /// CONFIG RESETSTAT: the sync counters start again from zero.
    pub fn reset_stats(&self) {
        self.sync_full.store(0, Ordering::Relaxed);
        self.sync_partial_ok.store(0, Ordering::Relaxed);
        self.sync_partial_err.store(0, Ordering::Relaxed);
    }

    /// Kills the replica whose client is `client_id` and closes its link now.
    pub fn cut_replica(&self, client_id: u64) {
        for r in self.replicas.lock().iter() {
            if r.client.id == client_id {
                r.client.request_kill();
                if let Some(s) = &r.socket {
                    let _ = s.shutdown(std::net::Shutdown::Both);
                }
            }
        }
    }

    pub fn replica_count(&self) -> usize {
        self.replicas.lock().len()
    }

    /// Replicas online whose last ACK is at most `max_lag_s` old (`min-replicas-max-lag`).
    pub fn good_replicas(&self, max_lag_s: i64) -> usize {
        let now = unix_ms();
        self.replicas
            .lock()
            .iter()
            .filter(|r| {
                r.state.load(Ordering::Relaxed) == replica_state::ONLINE
                    && (now - r.ack_ms.load(Ordering::Relaxed)) / 1000 <= max_lag_s
            })
            .count()
    }
}

/// `min-replicas-to-write`: a master refuses writes while fewer replicas are good.
pub fn check_write_allowed(srv: &Server) -> Result<(), crate::command::error::CmdError> {
    if !srv.state.write_quorum_set.load(Ordering::Relaxed) {
        return Ok(());
    }
    let cfg = srv.cfg();
    if cfg.min_replicas_to_write == 0 || cfg.min_replicas_max_lag == 0 {
        return Ok(());
    }
    if srv.state.replica.load(Ordering::Relaxed) {
        return Ok(());
    }
    let good = srv.replication.good_replicas(cfg.min_replicas_max_lag);
    if (good as i64) < cfg.min_replicas_to_write {
        return Err("NOREPLICAS Not enough good replicas to write.".into());
    }
    Ok(())
}

/// `replica-serve-stale-data no`: while the link is down, only commands flagged `stale`.
pub fn check_stale_allowed(srv: &Server) -> Result<(), crate::command::error::CmdError> {
    if !srv.state.replica.load(Ordering::Relaxed) || srv.cfg().replica_serve_stale_data {
        return Ok(());
    }
    let up = srv
        .replication
        .link
        .lock()
        .as_ref()
        .is_some_and(|l| l.state == LinkState::Connected);
    if up {
        return Ok(());
    }
    Err("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.".into())
}

/// Feeds the propagated stream into the replication stream, while this server is a master
/// (a replica's sub-replicas get its master's bytes instead).
struct StreamSink {
    stream: Arc<ReplStream>,
    srv: std::sync::Weak<Server>,
}

impl Sink for StreamSink {
    fn feed(&mut self, bytes: &[u8]) {
        let Some(srv) = self.srv.upgrade() else {
            return;
        };
        if !srv.state.replica.load(Ordering::Relaxed) {
            self.stream.feed(bytes);
        }
    }
}

/// Makes sure the stream keeps a backlog and receives propagated commands.
pub fn ensure_backlog(srv: &Server) {
    let r = &srv.replication;
    if !r.sink_registered.swap(true, Ordering::AcqRel) {
        srv.propagator.add_sink(
            target::REPLICAS,
            Box::new(StreamSink {
                stream: r.stream.clone(),
                srv: Arc::downgrade(&srv.arc()),
            }),
        );
    }
    r.stream
        .set_backlog_size(srv.cfg().repl_backlog_size.max(1) as usize);
    r.stream.activate();
}

/// Applies the replication aux fields of the RDB file loaded at start-up: a replica keeps
/// them as the history it offers in PSYNC; a master keeps them as its second id, so its
/// former replicas can continue partially.
pub fn restore_from_rdb(srv: &Server, loaded: Option<&crate::persist::load::Loaded>) {
    let Some(loaded) = loaded else {
        return;
    };
    let Some((id, offset, db)) = &loaded.repl else {
        return;
    };
    if !wire::is_replid(id) {
        return;
    }
    let r = &srv.replication;
    ensure_backlog(srv);
    r.stream.reset_to(*offset);
    if srv.state.replica.load(Ordering::Relaxed) {
        srv.repl
            .set_ids(id.clone(), crate::server::replid::NO_REPLID.to_string(), -1);
        r.master_db.store(*db, Ordering::Relaxed);
        r.has_history.store(true, Ordering::Relaxed);
    } else {
        let (mine, _) = srv.repl.ids();
        srv.repl.set_ids(mine, id.clone(), offset + 1);
        feed_expired_dels(srv, &loaded.expired);
    }
}

/// The DELs of the keys that expired while the master was down, fed after the restored
/// offset, so its replicas (continuing partially) drop them too.
fn feed_expired_dels(srv: &Server, expired: &[(usize, Vec<u8>)]) {
    if expired.is_empty() {
        return;
    }
    let mut out = Vec::new();
    let mut selected = None;
    for (db, key) in expired {
        if selected != Some(*db) {
            let n = db.to_string();
            crate::keyspace::txn::encode_command(&[b"SELECT", n.as_bytes()], &mut out);
            selected = Some(*db);
        }
        crate::keyspace::txn::encode_command(&[b"DEL", key], &mut out);
    }
    srv.replication.stream.feed(&out);
    srv.propagator.reset_selected_db_of(target::REPLICAS);
}

/// Marks the server a replica before its data loads when `replicaof` is configured, so
/// loading keeps keys that already expired (the master's DELs will come).
pub fn before_load(srv: &Server) {
    if srv.cfg().replicaof.0.is_some() {
        srv.state.replica.store(true, Ordering::Release);
        crate::server::log::set_role(b'S');
    }
}

/// Starts replication as the configuration says (`replicaof`), after loading.
pub fn start(srv: &Server) {
    if let Some((host, port)) = srv.cfg().replicaof.0.clone() {
        replica::start_link(srv, host, port);
    }
}

/// The replication cron, once a second: pings replicas, drops the backlog after
/// `repl-backlog-ttl` without replicas, times out WAITs.
pub async fn cron(srv: Arc<Server>) {
    let mut tick: u64 = 0;
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        tick += 1;
        primary::cron(&srv, tick);
        srv.replication.local_keys.expire_due(&srv);
    }
}

/// Shifts the replication history when this replica becomes a master (REPLICAOF NO ONE):
/// a new id, the old one kept as the second id up to the current offset, so replicas of the
/// old master can continue from us partially.
pub fn promote(srv: &Server) {
    srv.replication.local_keys.clear();
    let offset = srv.replication.offset();
    srv.repl.shift(crate::server::random_hex(40), offset + 1);
    srv.propagator.reset_selected_db_of(target::REPLICAS);
    ensure_backlog(srv);
}

/// Disconnects every attached replica (they must resync, e.g. after we became a replica of
/// another history).
pub fn disconnect_replicas(srv: &Server) {
    let ids: Vec<u64> = srv
        .replication
        .replicas
        .lock()
        .iter()
        .map(|r| r.client.id)
        .collect();
    for id in ids {
        srv.replication.cut_replica(id);
    }
}
