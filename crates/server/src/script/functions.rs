//! Redis Functions: libraries loaded with FUNCTION LOAD, the functions they register, and
//! the DUMP/RESTORE payload format.

/// The loaded libraries.
#[derive(Default)]
pub struct Registry {}
