//! CONFIG GET, SET, RESETSTAT, REWRITE, HELP.

use crate::command::CommandSpec;

pub static COMMANDS: &[CommandSpec] = &[];
