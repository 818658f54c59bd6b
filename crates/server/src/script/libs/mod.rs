//! The Lua libraries Redis bundles with its scripting engine, written against mlua:
//! `bit` (LuaBitOp), `cjson`, `cmsgpack` and `struct`. Each module registers one global
//! table; the prelude then makes it read-only.

pub mod bit;
pub mod cjson;
pub mod cmsgpack;
pub mod structlib;

use mlua::{Lua, Table};

pub fn register(lua: &Lua, globals: &Table) -> mlua::Result<()> {
    globals.raw_set("bit", bit::open(lua)?)?;
    globals.raw_set("cjson", cjson::open(lua)?)?;
    globals.raw_set("cmsgpack", cmsgpack::open(lua)?)?;
    globals.raw_set("struct", structlib::open(lua)?)?;
    Ok(())
}

/// A Lua argument error in the form `luaL_argerror` gives.
pub fn arg_error(n: usize, func: &str, msg: &str) -> mlua::Error {
    mlua::Error::RuntimeError(format!("bad argument #{n} to '{func}' ({msg})"))
}
