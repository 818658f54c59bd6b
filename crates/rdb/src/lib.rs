//! The RDB format of Redis 7.0 (RDB version 10): a streaming reader that also loads every
//! older version Redis 7.0 loads, a streaming writer that emits what Redis 7.0 emits, and DUMP
//! payloads. Knows nothing of the server, so it builds fast and fuzzes alone.
//!
//! Loading a file: [`Reader::open`] (or [`Reader::new`] over any buffered `Read`), then
//! [`Reader::next_item`] until `None`: each [`Item`] is an aux field, a database selection or
//! size hint, a function library, or an [`Entry`] (key, [`Value`], [`EntryMeta`]). Saving:
//! [`Writer::new`], [`Writer::aux_fields`], then per database [`Writer::select_db`],
//! [`Writer::resize_db`] and [`Writer::entry`] per key, and [`Writer::finish`]. DUMP and
//! RESTORE: [`dump::encode`] (or [`dump::encode_with`]) and [`dump::decode`].
//!
//! Layout:
//! - [`reader`] and `read_value`: the file loop, and reading each value type.
//! - [`writer`]: the file writer and [`ValueWriter`], which serializes one value.
//! - [`dump`]: DUMP payloads.
//! - [`value`]: the server-neutral [`Value`]; [`stream`]: streams, kept opaque.
//! - [`listpack`], [`intset`]: the compact encodings values carry, checked on load;
//!   `ziplist` and `zipmap`: old encodings, converted on load.
//! - [`lzf`], [`crc64`]: compression and checksums; `input` and `output`: RDB's primitive
//!   encodings (lengths, strings, doubles) over `Read` and `Write`.
//! - [`Error`]: every failure, with the byte offset it concerns.
//!
//! Choices:
//! - Listpacks, intsets, ziplists and zipmaps are checked here, not through a callback the
//!   server supplies: the reader's promise that every blob it returns is valid then holds by
//!   itself, the crate fuzzes alone, and converting ziplists and zipmaps needs a listpack
//!   encoder here anyway. The checks are Redis's deep sanitization (`sanitize-dump-payload
//!   yes`) plus what a server adopting the bytes relies on: pairs without duplicates, zset
//!   listpacks sorted with numeric scores.
//! - LZF is implemented here ([`lzf`]): the `lzf` crate is deprecated, and the format is small.
//!   Compressed strings decode everywhere, but are not byte-identical to Redis's (this encoder
//!   finds a few more matches), so a file is byte-identical to Redis's only without compression.
//! - Streams are parsed and checked completely but kept opaque ([`Stream`]), for the writer to
//!   re-emit, until the server has a stream type.

pub mod crc64;
pub mod dump;
mod error;
mod format;
mod input;
pub mod intset;
pub mod listpack;
pub mod lzf;
mod number;
mod output;
mod read_value;
pub mod reader;
pub mod stream;
pub mod value;
pub mod writer;
mod ziplist;
mod zipmap;

pub use error::{Error, Result};
pub use format::RDB_VERSION;
pub use reader::{Checksum, Item, ReadOptions, Reader};
pub use stream::Stream;
pub use value::{Entry, EntryMeta, QuicklistNode, Value};
pub use writer::{AuxFields, NodeRef, ReplicationAux, ValueWriter, WriteOptions, Writer};
