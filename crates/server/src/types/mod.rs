//! The value types stored under keys, other than strings (which are plain
//! [`crate::keyspace::bytes::CompactBytes`]), each with the compact encoding Redis 7.0 uses
//! for small values and the general one for large values, switched by the same directives
//! and thresholds:
//!
//! | type | small | large | switch |
//! |---|---|---|---|
//! | list | (always) `quicklist`: a list of listpack nodes | | `list-max-listpack-size`, `list-compress-depth` |
//! | hash | `listpack` | `hashtable` | `hash-max-listpack-entries/value` |
//! | set | `intset` (integers only) | `hashtable` | `set-max-intset-entries` |
//! | zset | `listpack` | `skiplist` (skip list plus member table) | `zset-max-listpack-entries/value` |
//!
//! The compact encodings ([`listpack`], [`intset`]) use Redis's byte formats exactly, so RDB
//! files carry them as they are, and sit behind thin pointers ([`thin`]) so that a small
//! collection costs no allocation beyond its encoded bytes.

pub mod hash;
pub mod intset;
pub mod list;
pub mod listpack;
pub mod set;
pub mod stream;
pub mod stream_group;
pub mod thin;
pub mod visit;
pub mod zset;
