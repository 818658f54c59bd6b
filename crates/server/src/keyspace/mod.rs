//! The keyspace: databases of slot shards holding keys, values and expiry times.
//!
//! - [`slot`]: key to hash slot (CRC16, hash tags).
//! - [`dict`]: the chained hash table with Redis's SCAN cursor semantics.
//! - [`bytes`]: the compact byte string for keys and string values.
//! - [`value`]: values and the per-key entry.
//! - [`db`]: shards, databases, the keyspace gate.
//! - [`txn`]: a command's locked view, with lazy expiry and effect recording.
//! - [`expire`]: the active expiry cycle.
//! - [`snapshot`]: fork-free point-in-time snapshots.
//! - [`blocking`]: clients blocked on keys (BLPOP and friends) and serving them.
//! - [`lazyfree`]: freeing big values and flushed tables on a background thread.

pub mod access;
pub mod blocking;
pub mod bytes;
pub mod db;
pub mod dict;
pub mod expire;
pub mod lazyfree;
pub mod prefetch;
pub mod slot;
pub mod snapshot;
pub mod txn;
pub mod value;

pub use db::Keyspace;
pub use txn::Txn;
pub use value::{KeyEntry, Value};
