//! DEBUG and its subcommands.

use crate::command::CommandSpec;

pub static COMMANDS: &[CommandSpec] = &[];
