//! COMMAND and its subcommands (COUNT, INFO, DOCS, GETKEYS, GETKEYSANDFLAGS, LIST).

use crate::command::CommandSpec;

pub static COMMANDS: &[CommandSpec] = &[];
