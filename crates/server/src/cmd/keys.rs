//! Keyspace commands: DEL, UNLINK, EXISTS, TYPE, RENAME, RENAMENX, KEYS, SCAN, RANDOMKEY, DBSIZE, FLUSHDB, FLUSHALL, TOUCH, COPY, MOVE, SWAPDB, OBJECT.

use crate::command::CommandSpec;

pub static COMMANDS: &[CommandSpec] = &[];
