//! Commands: how they are declared ([`spec`]), the table that holds them ([`table`]), the
//! gate every request passes ([`dispatch`]), and what handlers work with ([`ctx`],
//! [`error`]). The handlers themselves live in [`crate::cmd`], one module per family.

pub mod blocked;
pub mod ctx;
pub mod dispatch;
pub mod error;
pub mod spec;
pub mod table;

pub use ctx::Ctx;
pub use error::{CmdError, CmdResult};
pub use spec::CommandSpec;
