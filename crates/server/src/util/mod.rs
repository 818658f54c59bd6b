//! Small pieces of general use with no better home.

pub mod clock;
pub mod glob;
pub mod longdouble;
pub mod lzf;
