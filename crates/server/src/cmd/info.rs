//! INFO and its sections.

use crate::command::CommandSpec;

pub static COMMANDS: &[CommandSpec] = &[];
