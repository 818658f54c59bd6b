//! The RESP codec: everything Rudis needs to speak Redis's wire protocol, with no knowledge of
//! the server behind it, so it builds fast and fuzzes in isolation.
//!
//! Layout:
//! - [`request`]: the server side of a connection. Parses client requests (RESP multibulk and
//!   the inline form) incrementally, never allocating more than the bytes actually received.
//! - [`reply`]: encodes replies in RESP2 or RESP3 into a reusable buffer.
//! - [`value`]: the client side. Parses one complete reply (used by replication and tests).
//! - [`inline`]: the quoting rules of inline commands and redis.conf lines.
//! - [`number`]: Redis's strict integer and float parsing and formatting rules.

pub mod inline;
pub mod number;
pub mod reply;
pub mod request;
pub mod value;

pub use reply::ReplyBuf;
pub use request::{Argv, Limits, Parsed, ProtocolError, RequestParser};
pub use value::Value;
