//! Bit commands: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD, BITFIELD_RO.

use crate::command::CommandSpec;

pub static COMMANDS: &[CommandSpec] = &[];
