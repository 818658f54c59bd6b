//! Replication (PSYNC2), master and replica sides.
//!
//! - [`stream`]: the shared replication buffer: backlog and per-replica streaming.

pub mod stream;
