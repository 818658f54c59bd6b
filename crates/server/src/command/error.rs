//! Errors a command replies with. The text starts with Redis's error code (`ERR`,
//! `WRONGTYPE`, ...) and is sent as is, so it must match Redis's wording.

use std::borrow::Cow;

/// An error reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmdError(pub Cow<'static, str>);

pub type CmdResult = Result<(), CmdError>;

impl CmdError {
    pub fn text(&self) -> &str {
        &self.0
    }

    /// The error code: the first word (`ERR`, `WRONGTYPE`...).
    pub fn code(&self) -> &str {
        self.0.split(' ').next().unwrap_or("ERR")
    }
}

impl From<String> for CmdError {
    fn from(s: String) -> Self {
        CmdError(Cow::Owned(s))
    }
}

impl From<&'static str> for CmdError {
    fn from(s: &'static str) -> Self {
        CmdError(Cow::Borrowed(s))
    }
}

/// Builds an error from a format string: `err!("ERR bad {}", x)`.
#[macro_export]
macro_rules! err {
    ($($arg:tt)*) => { $crate::command::error::CmdError::from(format!($($arg)*)) };
}

pub const WRONGTYPE: CmdError = CmdError(Cow::Borrowed(
    "WRONGTYPE Operation against a key holding the wrong kind of value",
));
pub const SYNTAX: CmdError = CmdError(Cow::Borrowed("ERR syntax error"));
pub const NOT_INTEGER: CmdError =
    CmdError(Cow::Borrowed("ERR value is not an integer or out of range"));
pub const NOT_FLOAT: CmdError = CmdError(Cow::Borrowed("ERR value is not a valid float"));
pub const NO_SUCH_KEY: CmdError = CmdError(Cow::Borrowed("ERR no such key"));
pub const OVERFLOW: CmdError = CmdError(Cow::Borrowed("ERR increment or decrement would overflow"));
pub const OUT_OF_RANGE: CmdError = CmdError(Cow::Borrowed("ERR index out of range"));
pub const INVALID_EXPIRE: CmdError =
    CmdError(Cow::Borrowed("ERR invalid expire time in 'set' command"));
pub const DB_INDEX: CmdError = CmdError(Cow::Borrowed("ERR DB index is out of range"));
pub const NOT_POSITIVE: CmdError =
    CmdError(Cow::Borrowed("ERR value is out of range, must be positive"));
pub const STRING_TOO_LONG: CmdError = CmdError(Cow::Borrowed(
    "ERR string exceeds maximum allowed size (proto-max-bulk-len)",
));

/// `ERR wrong number of arguments for '<name>' command`.
pub fn wrong_arity(name: &str) -> CmdError {
    err!("ERR wrong number of arguments for '{}' command", name)
}
