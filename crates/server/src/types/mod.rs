//! The value types stored under keys, other than strings (which are plain
//! [`crate::keyspace::bytes::CompactBytes`]): lists, hashes, sets and sorted sets, each with the
//! compact encoding Redis uses for small values and the general one for large values.

pub mod hash;
pub mod list;
pub mod set;
pub mod zset;
