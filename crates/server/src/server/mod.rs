//! The running server: the shared state every connection and background task reaches
//! through an `Arc<Server>`, and the tasks that make it run.
//!
//! - [`client`]: per-connection state and the registry of clients.
//! - [`conn`]: the connection task: read, parse, dispatch, write.
//! - [`listen`]: listening sockets and the accept loop.
//! - [`unix_listen`]: the Unix domain socket listener.
//! - [`cron`]: the periodic task (active expiry, idle timeouts, stats sampling).
//! - [`stats`]: sharded counters for INFO, with [`histogram`] for per-command latencies.
//! - [`memory`]: allocator and process memory figures for INFO memory.
//! - [`replid`]: the replication ids and offsets INFO replication reports.
//! - [`log`]: Redis-format logging through `tracing`.
//! - [`memory`]: allocator and process memory statistics.
//! - [`monitor`]: clients in MONITOR mode and the command feed they receive.
//! - [`slowlog`]: the slow log and the latency monitor.

pub mod client;
pub mod conn;
pub mod cron;
pub mod histogram;
pub mod listen;
pub mod log;
pub mod memory;
pub mod monitor;
pub mod replid;
pub mod slowlog;
pub mod socket;
pub mod stats;
pub mod unix_listen;
pub mod watchdog;
pub mod workers;

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use parking_lot::Mutex;

use crate::command::table::CommandTable;
use crate::config::Config;
use crate::keyspace::db::Keyspace;
use crate::keyspace::txn::KeyEvent;
use crate::propagate::Propagator;
use crate::pubsub::PubSub;
use client::Clients;
use monitor::Monitors;
use slowlog::{LatencyMonitor, SlowLog};
use stats::Stats;

/// Unix time in milliseconds.
pub fn unix_ms() -> i64 {
    unix_us() / 1000
}

/// Unix time in microseconds: one read of the wall clock (`CLOCK_REALTIME`, through the vDSO),
/// as Redis's `ustime`. Read once or twice per command, so it skips `SystemTime`'s checked
/// subtraction.
pub fn unix_us() -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_REALTIME always exists.
    if unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) } != 0 {
        return SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros() as i64)
            .unwrap_or(0);
    }
    ts.tv_sec * 1_000_000 + ts.tv_nsec / 1000
}

/// How SHUTDOWN (or a signal) asked the server to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ShutdownRequest {
    pub save: Option<bool>,
    pub now: bool,
    pub force: bool,
}

/// Runtime state flags read by the dispatch gate.
#[derive(Default)]
pub struct RuntimeState {
    /// A dataset is being loaded: commands without the `loading` flag get `-LOADING`.
    pub loading: AtomicBool,
    /// A replica loads its master's dataset beside the old one, which stays served
    /// (`repl-diskless-load swapdb` with the same history): commands flagged
    /// `no_async_loading` get `-LOADING`.
    pub async_loading: AtomicBool,
    /// Active expiry enabled (DEBUG SET-ACTIVE-EXPIRE).
    pub active_expire: AtomicBool,
    /// This server is a replica (set by replication).
    pub replica: AtomicBool,
    /// `maxmemory` is set: the gate checks memory before commands (see `evict`).
    pub maxmemory_set: AtomicBool,
    /// `min-replicas-to-write` and `min-replicas-max-lag` are both set: the gate counts good
    /// replicas before writes (see `replication::check_write_allowed`).
    pub write_quorum_set: AtomicBool,
    /// Clients are paused until this Unix ms (CLIENT PAUSE); 0 when not paused.
    pub paused_until_ms: AtomicI64,
    /// CLIENT PAUSE WRITE (only writes pause) rather than ALL.
    pub pause_writes_only: AtomicBool,
    /// Signalled when a pause starts, changes or ends, to wake held clients.
    pub pause_changed: tokio::sync::Notify,
    /// The last background save failed (for `stop-writes-on-bgsave-error`).
    pub bgsave_failed: AtomicBool,
    /// Unix seconds of the last successful save.
    pub lastsave_s: AtomicI64,
    /// The cron does nothing while set (DEBUG PAUSE-CRON).
    pub pause_cron: AtomicBool,
    /// Load RDB files and RESTORE payloads without checking their checksums
    /// (DEBUG SET-SKIP-CHECKSUM-VALIDATION).
    pub skip_checksum_validation: AtomicBool,
    /// Scripts may run commands they are normally denied (DEBUG SET-DISABLE-DENY-SCRIPTS).
    pub disable_deny_scripts: AtomicBool,
    /// List elements at least this long get a node of their own
    /// (DEBUG QUICKLIST-PACKED-THRESHOLD).
    pub quicklist_packed_threshold_bytes: AtomicU64,
    /// Hash tables may resize (DEBUG DICT-RESIZING).
    pub dict_resizing: AtomicBool,
    /// How often a client's reply buffer peak is reset, in ms; -1 never
    /// (DEBUG REPLYBUFFER PEAK-RESET-TIME).
    pub reply_buffer_peak_reset_ms: AtomicI64,
    /// Reply buffers are resized by the cron (DEBUG REPLYBUFFER RESIZING).
    pub reply_buffer_resizing: AtomicBool,
    /// Microseconds to sleep before each AOF flush (DEBUG AOF-FLUSH-SLEEP).
    pub aof_flush_sleep_us: AtomicU64,
}

impl RuntimeState {
    /// Redis's default list element size above which a quicklist node holds one element.
    pub const QUICKLIST_PACKED_THRESHOLD_DEFAULT: u64 = 1 << 30;
    /// Redis's default interval between reply buffer peak resets.
    pub const REPLY_BUFFER_PEAK_RESET_MS_DEFAULT: i64 = 5000;
}

pub struct Server {
    pub config: ArcSwap<Config>,
    /// Bumped on every CONFIG SET, so connections can refresh cached settings cheaply.
    pub config_version: AtomicU64,
    /// Serializes CONFIG SET / REWRITE.
    pub config_lock: Mutex<()>,
    pub config_file: Option<String>,
    pub keyspace: Keyspace,
    pub commands: CommandTable,
    pub clients: Clients,
    pub stats: Stats,
    pub propagator: Propagator,
    pub pubsub: PubSub,
    /// Clients blocked on keys, by client id.
    pub blocked: crate::keyspace::blocking::BlockedClients,
    pub slowlog: SlowLog,
    pub latency: LatencyMonitor,
    pub monitors: Monitors,
    pub state: RuntimeState,
    pub run_id: String,
    /// Replication ids and offsets.
    pub repl: replid::ReplIds,
    /// Replication: the stream and backlog, attached replicas, the link to our master.
    pub replication: crate::replication::Replication,
    pub started: Instant,
    pub started_unix_ms: i64,
    pub tcp_port: AtomicU64,
    /// RDB saving and loading state (INFO persistence, LASTSAVE, save points).
    pub rdb: crate::persist::RdbState,
    /// `watchdog-period`: long operations that keep the dataset from being served.
    pub watchdog: watchdog::Watchdog,
    /// Connections MIGRATE keeps open to its targets.
    pub migrate_sockets: crate::cmd::keys::migrate::SocketCache,
    /// The append only file.
    pub aof: crate::persist::aof::Aof,
    /// The Lua VM, the script cache and the function libraries.
    pub scripting: crate::script::Scripting,
    /// ACL users and the ACL LOG.
    pub acl: crate::acl::Acl,
    /// This server's own `Arc`, for work handed to other threads (BGSAVE).
    me: std::sync::OnceLock<std::sync::Weak<Server>>,
    shutdown_tx: tokio::sync::watch::Sender<Option<ShutdownRequest>>,
}

impl Server {
    pub fn new(config: Config, config_file: Option<String>, commands: CommandTable) -> Arc<Self> {
        let databases = config.databases as usize;
        let command_count = commands.len();
        let acl = crate::acl::Acl::new(command_count);
        if !config.requirepass.is_empty() {
            acl.set_requirepass(&commands, &config.requirepass);
        }
        let (shutdown_tx, _) = tokio::sync::watch::channel(None);
        let now = unix_ms();
        let port = config.port as u64;
        let config_backlog_bytes = config.repl_backlog_size.max(1) as usize;
        let srv = Server {
            config: ArcSwap::from_pointee(config),
            config_version: AtomicU64::new(0),
            config_lock: Mutex::new(()),
            config_file,
            keyspace: Keyspace::new(databases),
            commands,
            clients: Clients::new(),
            stats: Stats::new(command_count),
            propagator: Propagator::new(),
            pubsub: PubSub::new(),
            blocked: Default::default(),
            slowlog: SlowLog::default(),
            latency: LatencyMonitor::default(),
            monitors: Monitors::default(),
            state: RuntimeState::default(),
            run_id: random_hex(40),
            repl: replid::ReplIds::default(),
            replication: crate::replication::Replication::new(config_backlog_bytes),
            started: Instant::now(),
            started_unix_ms: now,
            tcp_port: AtomicU64::new(port),
            rdb: Default::default(),
            watchdog: Default::default(),
            migrate_sockets: Default::default(),
            aof: Default::default(),
            scripting: crate::script::Scripting::new(),
            acl,
            me: std::sync::OnceLock::new(),
            shutdown_tx,
        };
        srv.state.active_expire.store(true, Ordering::Relaxed);
        srv.state.dict_resizing.store(true, Ordering::Relaxed);
        srv.state
            .reply_buffer_resizing
            .store(true, Ordering::Relaxed);
        srv.state.quicklist_packed_threshold_bytes.store(
            RuntimeState::QUICKLIST_PACKED_THRESHOLD_DEFAULT,
            Ordering::Relaxed,
        );
        srv.state.reply_buffer_peak_reset_ms.store(
            RuntimeState::REPLY_BUFFER_PEAK_RESET_MS_DEFAULT,
            Ordering::Relaxed,
        );
        srv.state.lastsave_s.store(now / 1000, Ordering::Relaxed);
        // Redis gives its two script clients (EVAL's and the function engine's) the first
        // client ids; connections start at 3 there, and so here.
        srv.clients.next_id();
        srv.clients.next_id();
        srv.sync_hot_settings();
        let srv = Arc::new(srv);
        let _ = srv.me.set(Arc::downgrade(&srv));
        srv
    }

    /// This server as an `Arc`, for a thread that must outlive the caller's borrow.
    pub fn arc(&self) -> Arc<Server> {
        self.me
            .get()
            .and_then(std::sync::Weak::upgrade)
            .expect("a server is always created in an Arc")
    }

    /// Publishes, as plain flags, the settings every command would otherwise load the whole
    /// configuration to read. Tells the keyspace which event classes `notify-keyspace-events`
    /// publishes, so commands record only events that will be published (none, by default).
    fn sync_hot_settings(&self) {
        use crate::config::special::NotifyEvents;
        let cfg = self.cfg();
        self.state.write_quorum_set.store(
            cfg.min_replicas_to_write != 0 && cfg.min_replicas_max_lag != 0,
            Ordering::Relaxed,
        );
        let flags = cfg.notify_keyspace_events.0;
        let published = if flags & (NotifyEvents::KEYSPACE | NotifyEvents::KEYEVENT) == 0 {
            0
        } else {
            flags
        };
        self.keyspace.set_notify_classes(published);
    }

    /// The current configuration.
    pub fn cfg(&self) -> arc_swap::Guard<Arc<Config>> {
        self.config.load()
    }

    /// Replaces the configuration (after CONFIG SET validated it).
    pub fn set_config(&self, config: Config) {
        self.config.store(Arc::new(config));
        self.sync_hot_settings();
        self.config_version.fetch_add(1, Ordering::Release);
    }

    /// True while keys must not be deleted because they expired, only read as missing: on a
    /// replica (its master's DELs do it), and during a CLIENT PAUSE (the dataset must not
    /// change while writes are held).
    pub fn keeps_expired_keys(&self) -> bool {
        if self.state.replica.load(Ordering::Relaxed) {
            return true;
        }
        // Read the clock only during a pause: this is asked for every command.
        let paused_until_ms = self.state.paused_until_ms.load(Ordering::Relaxed);
        paused_until_ms != 0 && paused_until_ms > unix_ms()
    }

    /// True when clients must AUTH before running commands.
    pub fn auth_required(&self) -> bool {
        self.acl.auth_required()
    }

    /// Asks the server to shut down.
    pub fn request_shutdown(&self, req: ShutdownRequest) {
        self.shutdown_tx.send_replace(Some(req));
    }

    pub fn shutdown_requested(&self) -> tokio::sync::watch::Receiver<Option<ShutdownRequest>> {
        self.shutdown_tx.subscribe()
    }

    /// Publishes keyspace events as `notify-keyspace-events` asks.
    pub fn publish_events(&self, events: &[KeyEvent]) {
        if events.is_empty() {
            return;
        }
        let cfg = self.cfg();
        let flags = cfg.notify_keyspace_events.0;
        let limit = cfg.client_output_buffer_limit.pubsub;
        const KEYSPACE: u32 = crate::config::special::NotifyEvents::KEYSPACE;
        const KEYEVENT: u32 = crate::config::special::NotifyEvents::KEYEVENT;
        if flags & (KEYSPACE | KEYEVENT) == 0 {
            return;
        }
        for ev in events {
            if flags & ev.class == 0 {
                continue;
            }
            if flags & KEYSPACE != 0 {
                let mut channel = format!("__keyspace@{}__:", ev.db).into_bytes();
                channel.extend_from_slice(&ev.key);
                self.pubsub.publish(
                    crate::pubsub::Kind::Channel,
                    &channel,
                    ev.event.as_bytes(),
                    None,
                    limit,
                );
            }
            if flags & KEYEVENT != 0 {
                let channel = format!("__keyevent@{}__:{}", ev.db, ev.event).into_bytes();
                self.pubsub
                    .publish(crate::pubsub::Kind::Channel, &channel, &ev.key, None, limit);
            }
        }
    }
}

/// `n` random lowercase hex characters (run ids, replication ids).
pub fn random_hex(n: usize) -> String {
    let mut rng = fastrand::Rng::new();
    (0..n)
        .map(|_| char::from_digit(rng.u32(..16), 16).unwrap_or('0'))
        .collect()
}
