//! Server administration: SHUTDOWN, TIME, LASTSAVE, MONITOR, SLOWLOG, LATENCY, MEMORY.

use crate::command::CommandSpec;

pub static COMMANDS: &[CommandSpec] = &[];
