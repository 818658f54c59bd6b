//! The crate's one error type. Every error found while reading names what was wrong and the
//! byte offset (from the start of the file or payload) where the offending part begins, so a
//! log line is enough to find it with a hex dump.

use std::borrow::Cow;
use std::fmt;
use std::io;

pub type Result<T> = std::result::Result<T, Error>;

#[derive(Debug)]
pub enum Error {
    /// The source or sink failed; `offset` is how far reading or writing had got.
    Io { offset: u64, source: io::Error },
    /// The data ended in the middle of `what`.
    Truncated { offset: u64, what: &'static str },
    /// The first bytes are not `REDIS` followed by a four-digit version.
    BadSignature,
    /// An RDB version this crate (like Redis 7.0) cannot read.
    UnsupportedVersion { version: u32 },
    /// The bytes at `offset` are not valid RDB.
    Corrupt {
        offset: u64,
        what: Cow<'static, str>,
    },
    /// Valid RDB that Rudis cannot load (module data).
    Unsupported { offset: u64, what: &'static str },
    /// The CRC64 trailer at `offset` does not match the data.
    ChecksumMismatch {
        offset: u64,
        stored: u64,
        computed: u64,
    },
}

impl Error {
    pub(crate) fn corrupt(offset: u64, what: impl Into<Cow<'static, str>>) -> Error {
        Error::Corrupt {
            offset,
            what: what.into(),
        }
    }

    /// The byte offset the error refers to, when it has one.
    pub fn offset(&self) -> Option<u64> {
        match self {
            Error::Io { offset, .. }
            | Error::Truncated { offset, .. }
            | Error::Corrupt { offset, .. }
            | Error::Unsupported { offset, .. }
            | Error::ChecksumMismatch { offset, .. } => Some(*offset),
            Error::BadSignature | Error::UnsupportedVersion { .. } => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { offset, source } => write!(f, "I/O error at byte offset {offset}: {source}"),
            Error::Truncated { offset, what } => {
                write!(f, "unexpected end of RDB data at byte offset {offset}, reading {what}")
            }
            Error::BadSignature => write!(f, "not an RDB file: wrong signature"),
            Error::UnsupportedVersion { version } => {
                write!(f, "can't handle RDB format version {version}")
            }
            Error::Corrupt { offset, what } => {
                write!(f, "corrupt RDB data at byte offset {offset}: {what}")
            }
            Error::Unsupported { offset, what } => {
                write!(f, "unsupported RDB content at byte offset {offset}: {what}")
            }
            Error::ChecksumMismatch {
                offset,
                stored,
                computed,
            } => write!(
                f,
                "wrong RDB checksum at byte offset {offset}: stored {stored:016x}, computed {computed:016x}"
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_offset() {
        let e = Error::corrupt(1234, "hash listpack has a duplicate field");
        assert_eq!(
            e.to_string(),
            "corrupt RDB data at byte offset 1234: hash listpack has a duplicate field"
        );
        assert_eq!(e.offset(), Some(1234));
        let e = Error::Truncated {
            offset: 9,
            what: "a key",
        };
        assert!(e.to_string().contains("byte offset 9"));
        assert_eq!(Error::BadSignature.offset(), None);
    }
}
