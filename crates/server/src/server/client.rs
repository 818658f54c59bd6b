//! Clients: the state a connection keeps for itself ([`Client`]) and the part other
//! connections may read or act on ([`ClientInfo`], in the [`Clients`] registry): CLIENT LIST
//! and INFO read it, CLIENT KILL and the idle-timeout cron ask it to close.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use atomic_waker::AtomicWaker;
use parking_lot::Mutex;

use crate::keyspace::db::WatchRef;

/// Client flags shown by CLIENT LIST (`flags=`).
pub mod cflag {
    pub const REPLICA: u64 = 1 << 0;
    pub const MASTER: u64 = 1 << 1;
    pub const MONITOR: u64 = 1 << 2;
    pub const MULTI: u64 = 1 << 3;
    pub const BLOCKED: u64 = 1 << 4;
    pub const DIRTY_CAS: u64 = 1 << 5;
    pub const CLOSE_AFTER_REPLY: u64 = 1 << 6;
    pub const UNBLOCKED: u64 = 1 << 7;
    pub const PUBSUB: u64 = 1 << 8;
    pub const READONLY: u64 = 1 << 9;
    pub const NO_EVICT: u64 = 1 << 10;
    pub const TRACKING: u64 = 1 << 11;
    pub const NO_TOUCH: u64 = 1 << 12;
    /// Connected through the Unix socket.
    pub const UNIX_SOCKET: u64 = 1 << 13;
}

/// Memory a connection costs besides its buffers: its state on both sides.
const CLIENT_STATE_BYTES: usize = std::mem::size_of::<ClientInfo>() + std::mem::size_of::<Client>();

/// `last_cmd_id` of a client that has not run a command yet.
pub const NO_COMMAND: usize = usize::MAX;

/// The shared, observable side of a client.
pub struct ClientInfo {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    pub fd: i64,
    pub created_ms: i64,
    pub name: Mutex<Option<Vec<u8>>>,
    pub lib_name: Mutex<Option<Vec<u8>>>,
    pub db: AtomicUsize,
    /// The command table id of the command running or last run ([`NO_COMMAND`] before the
    /// first). An id, not a name, so recording it costs no allocation per command.
    pub last_cmd_id: AtomicUsize,
    pub last_interaction_ms: AtomicI64,
    pub flags: AtomicU64,
    pub subscriptions: AtomicUsize,
    pub pattern_subscriptions: AtomicUsize,
    pub shard_subscriptions: AtomicUsize,
    /// Commands queued in MULTI, or -1 outside MULTI.
    pub multi_len: AtomicI64,
    pub watched: AtomicUsize,
    pub query_buf_bytes: AtomicUsize,
    pub query_buf_free_bytes: AtomicUsize,
    pub output_buf_bytes: AtomicUsize,
    /// Bytes of argument data (plus a pointer per argument) queued in MULTI, as Redis counts
    /// `multi-mem`. Meaningful only while `multi_len >= 0`.
    pub multi_mem_bytes: AtomicUsize,
    /// Capacity of the connection's reply buffer, and the largest batch of replies it held.
    pub reply_buf_bytes: AtomicUsize,
    pub reply_buf_peak_bytes: AtomicUsize,
    pub resp: AtomicUsize,
    pub user: Mutex<String>,
    /// Bytes other tasks queued for this client (messages, MONITOR output).
    pub outbox: Mutex<Vec<u8>>,
    /// When the outbox first went over its soft limit (Unix ms), or 0.
    pub soft_limit_since_ms: AtomicI64,
    /// Set by the cron for a client idle long enough to give its query buffer back.
    pub release_query_buffer: AtomicBool,
    /// Set to ask the connection to close; `wake` makes it notice.
    pub kill: AtomicBool,
    pub wake: Signal,
}

/// A lock-free wake-up for a connection task: other tasks set it, the connection waits on it
/// alongside its socket. Waiting costs two atomic operations, cheaper than a `Notify`.
#[derive(Default)]
pub struct Signal {
    pending: AtomicBool,
    waker: AtomicWaker,
}

impl Signal {
    /// Wakes the waiter, or makes its next wait return at once.
    pub fn notify(&self) {
        self.pending.store(true, Ordering::Release);
        self.waker.wake();
    }

    /// Completes once `notify` has been called since the last completed wait.
    pub fn wait(&self) -> impl std::future::Future<Output = ()> + '_ {
        std::future::poll_fn(move |cx| {
            if self.pending.swap(false, Ordering::AcqRel) {
                return std::task::Poll::Ready(());
            }
            self.waker.register(cx.waker());
            if self.pending.swap(false, Ordering::AcqRel) {
                std::task::Poll::Ready(())
            } else {
                std::task::Poll::Pending
            }
        })
    }
}

impl ClientInfo {
    pub fn new(id: u64, addr: String, laddr: String, fd: i64, now_ms: i64) -> Self {
        ClientInfo {
            id,
            addr,
            laddr,
            fd,
            created_ms: now_ms,
            name: Mutex::new(None),
            lib_name: Mutex::new(None),
            db: AtomicUsize::new(0),
            last_cmd_id: AtomicUsize::new(NO_COMMAND),
            last_interaction_ms: AtomicI64::new(now_ms),
            flags: AtomicU64::new(0),
            subscriptions: AtomicUsize::new(0),
            pattern_subscriptions: AtomicUsize::new(0),
            shard_subscriptions: AtomicUsize::new(0),
            multi_len: AtomicI64::new(-1),
            watched: AtomicUsize::new(0),
            query_buf_bytes: AtomicUsize::new(0),
            query_buf_free_bytes: AtomicUsize::new(0),
            output_buf_bytes: AtomicUsize::new(0),
            multi_mem_bytes: AtomicUsize::new(0),
            reply_buf_bytes: AtomicUsize::new(0),
            reply_buf_peak_bytes: AtomicUsize::new(0),
            resp: AtomicUsize::new(2),
            user: Mutex::new("default".to_string()),
            outbox: Mutex::new(Vec::new()),
            soft_limit_since_ms: AtomicI64::new(0),
            release_query_buffer: AtomicBool::new(false),
            kill: AtomicBool::new(false),
            wake: Signal::default(),
        }
    }

    /// How MONITOR names this client: its address, or `unix:<path>` for a Unix socket client.
    pub fn monitor_source(&self) -> std::borrow::Cow<'_, str> {
        if !self.has_flag(cflag::UNIX_SOCKET) {
            return std::borrow::Cow::Borrowed(&self.addr);
        }
        let path = self.addr.strip_suffix(":0").unwrap_or(&self.addr);
        std::borrow::Cow::Owned(format!("unix:{path}"))
    }

    pub fn has_flag(&self, f: u64) -> bool {
        self.flags.load(Ordering::Relaxed) & f != 0
    }

    pub fn set_flag(&self, f: u64, on: bool) {
        if on {
            self.flags.fetch_or(f, Ordering::Relaxed);
        } else {
            self.flags.fetch_and(!f, Ordering::Relaxed);
        }
    }

    /// Asks the connection to close.
    pub fn request_kill(&self) {
        self.kill.store(true, Ordering::Release);
        self.wake.notify();
    }

    /// The client switched to RESP3 with HELLO 3.
    pub fn resp_is_3(&self) -> bool {
        self.resp.load(Ordering::Relaxed) == 3
    }

    /// Queues bytes for the connection to write (pub/sub messages, MONITOR lines) and wakes it.
    pub fn push_out(&self, bytes: &[u8]) {
        self.outbox.lock().extend_from_slice(bytes);
        self.wake.notify();
    }

    /// Queues bytes like [`ClientInfo::push_out`], disconnecting the client if its outbox
    /// exceeds `limit` (the hard limit at once, the soft limit for longer than its seconds).
    pub fn push_out_limited(&self, bytes: &[u8], limit: crate::config::special::BufferLimit) {
        let queued = {
            let mut out = self.outbox.lock();
            out.extend_from_slice(bytes);
            out.len() as i64
        };
        let now_ms = super::unix_ms();
        let over_hard = limit.hard_bytes > 0 && queued > limit.hard_bytes;
        let over_soft = limit.soft_bytes > 0 && queued > limit.soft_bytes;
        let since = self.soft_limit_since_ms.load(Ordering::Relaxed);
        let soft_expired = over_soft && since != 0 && now_ms - since > limit.soft_seconds * 1000;
        if over_soft && since == 0 {
            self.soft_limit_since_ms.store(now_ms, Ordering::Relaxed);
        } else if !over_soft && since != 0 {
            self.soft_limit_since_ms.store(0, Ordering::Relaxed);
        }
        if over_hard || soft_expired {
            tracing::warn!("Client id={} addr={} scheduled to be closed ASAP for overcoming of output buffer limits.", self.id, self.addr);
            self.request_kill();
        } else {
            self.wake.notify();
        }
    }

    /// Takes the queued outbound bytes.
    pub fn take_out(&self) -> Vec<u8> {
        std::mem::take(&mut *self.outbox.lock())
    }

    pub fn is_killed(&self) -> bool {
        self.kill.load(Ordering::Acquire)
    }

    /// Bytes queued for this client by other tasks and not written yet.
    pub fn pending_output_bytes(&self) -> usize {
        self.outbox.lock().len()
    }

    /// Memory this client costs: its state, query and reply buffers, queued MULTI commands
    /// and pending output (CLIENT LIST `tot-mem` without the running command's arguments,
    /// INFO `mem_clients_normal`).
    pub fn memory_bytes(&self) -> usize {
        let load = |a: &AtomicUsize| a.load(Ordering::Relaxed);
        let multi = if self.multi_len.load(Ordering::Relaxed) >= 0 {
            load(&self.multi_mem_bytes)
        } else {
            0
        };
        CLIENT_STATE_BYTES
            + load(&self.query_buf_bytes)
            + load(&self.query_buf_free_bytes)
            + load(&self.reply_buf_bytes)
            + multi
            + self.pending_output_bytes()
    }

    /// The client's class, as CLIENT LIST TYPE and CLIENT KILL TYPE see it. A MONITOR client
    /// counts as normal.
    pub fn client_type(&self) -> ClientType {
        let flags = self.flags.load(Ordering::Relaxed);
        if flags & cflag::MASTER != 0 {
            ClientType::Master
        } else if flags & cflag::REPLICA != 0 && flags & cflag::MONITOR == 0 {
            ClientType::Replica
        } else if flags & cflag::PUBSUB != 0 {
            ClientType::PubSub
        } else {
            ClientType::Normal
        }
    }
}

/// The class of a client (CLIENT LIST/KILL TYPE, output buffer limits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientType {
    Normal,
    Replica,
    PubSub,
    Master,
}

impl ClientType {
    /// Parses a class name as Redis does: `normal`, `slave` or `replica`, `pubsub`, `master`,
    /// case-insensitively.
    pub fn from_name(name: &[u8]) -> Option<ClientType> {
        let is = |word: &str| name.eq_ignore_ascii_case(word.as_bytes());
        if is("normal") {
            Some(ClientType::Normal)
        } else if is("slave") || is("replica") {
            Some(ClientType::Replica)
        } else if is("pubsub") {
            Some(ClientType::PubSub)
        } else if is("master") {
            Some(ClientType::Master)
        } else {
            None
        }
    }
}

/// What CLIENT REPLY set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyMode {
    On,
    Off,
    /// Skip the reply of the next command only.
    SkipNext,
    /// Skipping the current command's reply.
    Skip,
}

/// A queued MULTI command.
pub struct Queued {
    pub argv: Vec<Vec<u8>>,
    pub cmd_id: usize,
}

/// A WATCHed key.
#[derive(Debug, Clone)]
pub struct WatchedKey {
    pub db: usize,
    pub key: Vec<u8>,
    /// The key existed but had already expired when WATCHed; shared with the shard's
    /// [`WatchRef`], which clears it when the stale key is deleted.
    pub expired_at_watch: Arc<AtomicBool>,
}

/// The private state of one connection.
pub struct Client {
    pub info: Arc<ClientInfo>,
    pub peer: Option<SocketAddr>,
    pub db: usize,
    pub authenticated: bool,
    /// Queued commands while in MULTI.
    pub multi: Option<Vec<Queued>>,
    /// A queuing error happened inside MULTI: EXEC must abort.
    pub multi_error: bool,
    /// Keys this client WATCHes, and the shared dirty flag writes to them set.
    pub watched: Vec<WatchedKey>,
    pub watch_dirty: Arc<AtomicBool>,
    pub close_after_reply: bool,
    pub reply_mode: ReplyMode,
    /// Loopback or unix socket (protected mode, `enable-*-command local`).
    pub is_local: bool,
    /// This connection is our master's replication link.
    pub is_master: bool,
    /// The fake client loading the AOF.
    pub is_aof_loader: bool,
    /// Pub/Sub subscriptions of this connection.
    pub subscriptions: crate::pubsub::Subscriptions,
    /// The client may not block (scripts, MULTI replay); SUBSCRIBE is refused.
    pub deny_blocking: bool,
    /// The command just run blocked: the connection waits for this waiter's outcome.
    pub blocked: Option<Arc<crate::keyspace::blocking::Waiter>>,
    /// This client stands in for a blocked client whose command is being run again because
    /// this key became ready: the command serves from it alone.
    pub serving: Option<Vec<u8>>,
    /// Byte ranges of the reply buffer holding Pub/Sub notifications written by the running
    /// command: they reach the client even under CLIENT REPLY OFF or SKIP, as in Redis.
    pub pushed: Vec<std::ops::Range<usize>>,
    /// Set when a command run for a waiter found nothing again.
    pub still_blocked: bool,
    /// Indexes of the running command's arguments that must never be logged (passwords):
    /// SLOWLOG shows `(redacted)` instead. Handlers add to it; the gate clears it.
    pub redacted_args: Vec<usize>,
    /// While a pipelined batch runs: when it began and when its previous command ended. The
    /// next command starts at that instant, which saves one clock read per command; `None`
    /// outside a batch, where commands read the clock themselves.
    pub batch_clock: Option<BatchClock>,
    /// What this connection told us in REPLCONF, if it is a replica-to-be.
    pub replica_hello: crate::replication::primary::Hello,
    /// Set by SYNC/PSYNC: the connection becomes a replica's stream.
    pub repl_handoff: Option<crate::replication::primary::Handoff>,
    /// The client a script's commands run as (`redis.call`).
    pub is_script: bool,
    /// The ACL user this connection runs as; `None` for internal clients (the master link,
    /// AOF loading), which may run anything.
    pub user: Option<Arc<crate::acl::User>>,
    /// The ACL epoch `user` was taken at; a newer epoch means the user may have changed.
    pub acl_epoch: u64,
    /// The settings the gate reads after every command, copied from the configuration.
    pub accounting: AccountingCfg,
}

/// The time of a batch of requests: the wall clock read once when it begins, and the command
/// clock (`util::clock`) since, so each command knows when it started, in both, without
/// reading the wall clock again.
#[derive(Clone, Copy, Debug)]
pub struct BatchClock {
    wall_us: i64,
    ticks: u64,
    /// When the previous command of the batch ended (the batch's start before the first).
    pub last_ticks: u64,
}

impl BatchClock {
    /// Past this, the wall time of a batch is read again rather than extrapolated.
    const REANCHOR_AFTER_US: u64 = 1_000_000;

    pub fn start() -> BatchClock {
        let ticks = crate::util::clock::now_ticks();
        BatchClock {
            wall_us: super::unix_us(),
            ticks,
            last_ticks: ticks,
        }
    }

    /// The batch's start on the wall clock, in Unix microseconds.
    pub fn wall_start_us(&self) -> i64 {
        self.wall_us
    }

    /// Unix microseconds at command-clock reading `ticks`, taken during the batch.
    pub fn wall_us_at(&self, ticks: u64) -> i64 {
        self.wall_us + crate::util::clock::ticks_to_us(ticks.saturating_sub(self.ticks)) as i64
    }

    /// Records that a command ended at `ticks`. A long batch (a DEBUG SLEEP, a slow script)
    /// reads the wall clock again, so its commands' notion of now does not drift.
    pub fn command_ended(&mut self, ticks: u64) {
        self.last_ticks = ticks;
        if crate::util::clock::ticks_to_us(ticks.saturating_sub(self.ticks))
            > Self::REANCHOR_AFTER_US
        {
            *self = BatchClock::start();
        }
    }
}

/// What the gate's accounting reads of the configuration after every command (slowlog,
/// latency tracking and monitor), kept per client with the configuration version it was
/// copied at: checking the version is one plain load, where loading the shared configuration
/// costs several atomic operations per command.
#[derive(Clone, Copy)]
pub struct AccountingCfg {
    pub version: u64,
    pub latency_tracking: bool,
    pub slowlog_log_slower_than_us: i64,
    pub slowlog_max_len: i64,
    pub latency_monitor_threshold_ms: i64,
}

impl AccountingCfg {
    /// Not yet copied: the first command copies the settings.
    const STALE: AccountingCfg = AccountingCfg {
        version: u64::MAX,
        latency_tracking: false,
        slowlog_log_slower_than_us: -1,
        slowlog_max_len: 0,
        latency_monitor_threshold_ms: 0,
    };

    /// The current settings, copied again only when the configuration changed.
    pub fn current(&mut self, srv: &super::Server) -> &AccountingCfg {
        let version = srv.config_version.load(Ordering::Acquire);
        if version != self.version {
            let cfg = srv.cfg();
            *self = AccountingCfg {
                version,
                latency_tracking: cfg.latency_tracking,
                slowlog_log_slower_than_us: cfg.slowlog_log_slower_than,
                slowlog_max_len: cfg.slowlog_max_len,
                latency_monitor_threshold_ms: cfg.latency_monitor_threshold,
            };
        }
        self
    }
}

impl Client {
    /// Commands of this client are facts to apply, not requests to judge (Redis's
    /// `mustObeyClient`): our master's, and the AOF's. Read-only replica, MISCONF and OOM
    /// refusals do not apply to them.
    pub fn must_obey(&self) -> bool {
        self.is_master || self.is_aof_loader
    }

    pub fn new(info: Arc<ClientInfo>, peer: Option<SocketAddr>) -> Self {
        let is_local = match peer {
            Some(SocketAddr::V4(a)) => a.ip().octets() == [127, 0, 0, 1],
            Some(SocketAddr::V6(a)) => a.ip().is_loopback(),
            None => true,
        };
        Client {
            info,
            peer,
            db: 0,
            authenticated: false,
            user: None,
            acl_epoch: 0,
            multi: None,
            multi_error: false,
            watched: Vec::new(),
            watch_dirty: Arc::new(AtomicBool::new(false)),
            close_after_reply: false,
            reply_mode: ReplyMode::On,
            is_local,
            is_master: false,
            is_aof_loader: false,
            subscriptions: Default::default(),
            deny_blocking: false,
            blocked: None,
            serving: None,
            pushed: Vec::new(),
            still_blocked: false,
            redacted_args: Vec::new(),
            batch_clock: None,
            replica_hello: Default::default(),
            repl_handoff: None,
            is_script: false,
            accounting: AccountingCfg::STALE,
        }
    }

    pub fn id(&self) -> u64 {
        self.info.id
    }

    pub fn in_multi(&self) -> bool {
        self.multi.is_some()
    }

    /// A reference the keyspace keeps for one of this client's WATCHes.
    pub fn watch_ref(&self, expired_at_watch: Arc<AtomicBool>) -> WatchRef {
        WatchRef {
            client_id: self.info.id,
            dirty: self.watch_dirty.clone(),
            expired_at_watch,
        }
    }

    pub fn select(&mut self, db: usize) {
        self.db = db;
        self.info.db.store(db, Ordering::Relaxed);
    }
}

/// All connected clients, by id (CLIENT LIST lists them in id order).
#[derive(Default)]
pub struct Clients {
    by_id: Mutex<BTreeMap<u64, Arc<ClientInfo>>>,
    next_id: AtomicU64,
    pub connected: AtomicUsize,
}

impl Clients {
    pub fn new() -> Self {
        Clients {
            by_id: Mutex::new(BTreeMap::new()),
            next_id: AtomicU64::new(1),
            connected: AtomicUsize::new(0),
        }
    }

    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub fn register(&self, info: Arc<ClientInfo>) {
        self.by_id.lock().insert(info.id, info);
        self.connected.fetch_add(1, Ordering::Relaxed);
    }

    /// Registers the client unless `max` clients are already connected.
    pub fn register_within(&self, info: Arc<ClientInfo>, max: usize) -> bool {
        let mut by_id = self.by_id.lock();
        if by_id.len() >= max {
            return false;
        }
        by_id.insert(info.id, info);
        self.connected.fetch_add(1, Ordering::Relaxed);
        true
    }

    pub fn unregister(&self, id: u64) {
        if self.by_id.lock().remove(&id).is_some() {
            self.connected.fetch_sub(1, Ordering::Relaxed);
        }
    }

    pub fn get(&self, id: u64) -> Option<Arc<ClientInfo>> {
        self.by_id.lock().get(&id).cloned()
    }

    pub fn snapshot(&self) -> Vec<Arc<ClientInfo>> {
        self.by_id.lock().values().cloned().collect()
    }

    pub fn count(&self) -> usize {
        self.connected.load(Ordering::Relaxed)
    }
}
