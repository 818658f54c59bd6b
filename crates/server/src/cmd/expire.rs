//! Expiry commands: EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT, TTL, PTTL, EXPIRETIME, PEXPIRETIME, PERSIST.

use crate::command::CommandSpec;

pub static COMMANDS: &[CommandSpec] = &[];
