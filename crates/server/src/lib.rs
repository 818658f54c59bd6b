//! Rudis: a Redis-compatible data store.
//!
//! # Layout
//!
//! Read top-down:
//!
//! - [`main`](crate::run): start-up: configuration, logging, listeners, background tasks,
//!   shutdown.
//! - [`config`]: the redis.conf directive table, config files and `--options`.
//! - [`server`]: shared server state, connections, the accept loop, the cron, stats, logs.
//! - [`command`]: command declarations, the command table and the dispatch gate every
//!   request passes through.
//! - [`cmd`]: the command handlers, one module per command family.
//! - [`keyspace`]: databases of 16384 slot shards, lazy and active expiry, and [`keyspace::Txn`],
//!   a command's locked view of the keyspace.
//! - [`types`]: value types other than strings, with their compact encodings.
//! - [`propagate`]: the single point through which every write reaches the AOF and replicas.
//! - [`pubsub`]: channels and subscribers.
//!
//! The RESP codec lives in its own crate, `rudis-resp`.

pub mod acl;
pub mod cmd;
pub mod command;
pub mod config;
pub mod evict;
pub mod keyspace;
pub mod persist;
pub mod propagate;
pub mod pubsub;
pub mod replication;
pub mod script;
pub mod server;
pub mod start;
pub mod types;
pub mod util;

/// The Redis version Rudis is compatible with, reported where clients look for Redis's.
pub const REDIS_VERSION: &str = "7.0.15";

/// Rudis's own version.
pub const RUDIS_VERSION: &str = env!("CARGO_PKG_VERSION");

pub use start::run;
