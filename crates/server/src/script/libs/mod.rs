//! The Lua libraries Redis bundles with its scripting engine, written against mlua:
//! `bit` (LuaBitOp), `cjson`, `cmsgpack` and `struct`. Each module registers one global
//! table; the prelude then makes it read-only.

pub mod bit;
pub mod cjson;
pub mod cmsgpack;
pub mod structlib;

use mlua::{FromLuaMulti, Function, IntoLuaMulti, Lua, Table};

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

/// A library function: its errors carry the position of the Lua code that called it, as
/// `luaL_error` gives them (`user_script:1: ...`).
pub fn function<A, R, F>(lua: &Lua, f: F) -> mlua::Result<Function>
where
    A: FromLuaMulti,
    R: IntoLuaMulti,
    F: Fn(&Lua, A) -> mlua::Result<R> + Send + 'static,
{
    lua.create_function(move |lua, a: A| f(lua, a).map_err(|e| located(lua, e)))
}

/// Prefixes a runtime error with the caller's `source:line: `.
pub fn located(lua: &Lua, e: mlua::Error) -> mlua::Error {
    match e {
        mlua::Error::RuntimeError(m) => {
            mlua::Error::RuntimeError(format!("{}{m}", caller_position(lua)))
        }
        other => other,
    }
}

fn caller_position(lua: &Lua) -> String {
    lua.inspect_stack(1, |d| {
        let line = d.current_line()?;
        let src = d.source().short_src?.into_owned();
        Some(format!("{src}:{line}: "))
    })
    .flatten()
    .unwrap_or_default()
}
