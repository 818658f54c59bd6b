//! The Rust half of the `redis` table scripts see: `redis.sha1hex`, `redis.log`, the version
//! fields, and the bridge primitives the Lua half (`prelude.lua`) builds on. The per-run
//! primitives (`call`, `setresp`, `set_repl`) are installed by `script::run` for the length
//! of one script; outside a run they answer as Redis does outside a script invocation.

use std::os::raw::c_int;
use std::sync::atomic::{AtomicU64, Ordering};

use mlua::{ffi, Function, Lua, Table, Value, Variadic};

use super::convert::{error_text, field_table};
use crate::server::log::{write_line, Verbosity};

pub fn register(lua: &Lua, _globals: &Table, bridge: &Table, redis: &Table) -> mlua::Result<()> {
    redis.raw_set("REDIS_VERSION", crate::REDIS_VERSION)?;
    redis.raw_set("REDIS_VERSION_NUM", version_num(crate::REDIS_VERSION))?;
    redis.raw_set("sha1hex", lua.create_function(sha1hex)?)?;
    redis.raw_set("log", lua.create_function(log)?)?;
    // SAFETY: both functions only move values on the Lua stack and raise Lua errors, with
    // nothing to drop on their own frames.
    unsafe {
        redis.raw_set("call", lua.create_c_function(call_raising)?)?;
        redis.raw_set("pcall", lua.create_c_function(call_returning)?)?;
    }
    redis.raw_set("setresp", lua.create_function(setresp)?)?;
    redis.raw_set("set_repl", lua.create_function(set_repl)?)?;
    let math: Table = _globals.raw_get("math")?;
    math.raw_set("random", super::libs::function(lua, math_random)?)?;
    math.raw_set("randomseed", lua.create_function(math_randomseed)?)?;
    bridge.raw_set(
        "error_table",
        lua.create_function(|lua, msg: mlua::LuaString| {
            let text = error_text(&msg.to_string_lossy());
            field_table(lua, "err", Value::String(lua.create_string(text)?))
        })?,
    )?;
    bridge.raw_set("error_text", lua.create_function(error_value_text)?)?;
    bridge.raw_set(
        "register_function",
        lua.create_function(super::functions::register_entry)?,
    )?;
    install_idle(lua, bridge)?;
    Ok(())
}

/// Registry names of the per-run primitives.
pub const CALL: &str = "rudis.call";
pub const SETRESP: &str = "rudis.setresp";
pub const SET_REPL: &str = "rudis.set_repl";

/// The per-run primitives outside a run.
pub fn install_idle(lua: &Lua, _bridge: &Table) -> mlua::Result<()> {
    lua.set_named_registry_value(
        CALL,
        lua.create_function(|lua, _: (Table, i64)| {
            let e = raise(
                lua,
                "redis.call/pcall can only be called inside a script invocation",
            )?;
            Ok((e, true))
        })?,
    )?;
    lua.set_named_registry_value(SETRESP, Value::Nil)?;
    lua.set_named_registry_value(SET_REPL, Value::Nil)?;
    Ok(())
}

/// `redis.call`: runs the per-run primitive and raises the error table it may return. A C
/// function, so that `return redis.call(...)` keeps the script's frame (and line) for the
/// error handler, as Redis's C function does.
unsafe extern "C-unwind" fn call_raising(state: *mut ffi::lua_State) -> c_int {
    push_primitive_call(state);
    ffi::lua_call(state, 2, 2);
    if ffi::lua_toboolean(state, -1) != 0 {
        ffi::lua_settop(state, -2);
        ffi::lua_error(state);
    }
    ffi::lua_settop(state, -2);
    1
}

/// `redis.pcall`: the same, returning the error table instead of raising it.
unsafe extern "C-unwind" fn call_returning(state: *mut ffi::lua_State) -> c_int {
    push_primitive_call(state);
    ffi::lua_call(state, 2, 1);
    1
}

/// Replaces the arguments with the per-run `call` primitive, a table of the arguments and
/// their count. The arguments move into the table one by one from the top, so a call
/// with as many arguments as the stack holds needs few extra slots.
unsafe fn push_primitive_call(state: *mut ffi::lua_State) {
    // A C function gets LUA_MINSTACK (20) free slots above its arguments; this uses three.
    let nargs = ffi::lua_gettop(state);
    ffi::lua_createtable(state, nargs, 0);
    ffi::lua_insert(state, 1);
    for i in (1..=nargs).rev() {
        ffi::lua_rawseti(state, 1, i64::from(i));
    }
    ffi::lua_getfield(state, ffi::LUA_REGISTRYINDEX, c"rudis.call".as_ptr());
    ffi::lua_insert(state, 1);
    ffi::lua_pushinteger(state, nargs as ffi::lua_Integer);
}

/// The per-run primitive `name`, or Redis's error outside a script invocation.
fn primitive(lua: &Lua, name: &str, api: &str) -> mlua::Result<Function> {
    match lua.named_registry_value::<Value>(name)? {
        Value::Function(f) => Ok(f),
        _ => Err(raise_err(
            lua,
            &format!("{api} can only be called inside a script invocation"),
        )),
    }
}

/// redis.setresp(2 | 3)
fn setresp(lua: &Lua, args: Variadic<Value>) -> mlua::Result<()> {
    let f = primitive(lua, SETRESP, "redis.setresp")?;
    if args.len() != 1 {
        return Err(raise_err(lua, "redis.setresp() requires one argument."));
    }
    match number_of(&args[0]) {
        Some(v) if v as i64 == 2 || v as i64 == 3 => f.call(v as i64),
        _ => Err(raise_err(lua, "RESP version must be 2 or 3.")),
    }
}

/// redis.set_repl(flags)
fn set_repl(lua: &Lua, args: Variadic<Value>) -> mlua::Result<()> {
    let f = primitive(lua, SET_REPL, "redis.set_repl")?;
    if args.len() != 1 {
        return Err(raise_err(lua, "redis.set_repl() requires two arguments."));
    }
    match number_of(&args[0]) {
        Some(v) if (0.0..=3.0).contains(&v) && v.fract() == 0.0 => f.call(v as i64),
        _ => Err(raise_err(
            lua,
            "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
        )),
    }
}

fn number_of(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(n) => Some(*n as f64),
        Value::Number(n) => Some(*n),
        Value::String(s) => s.to_string_lossy().trim().parse().ok(),
        _ => None,
    }
}

/// The state of Redis's `lrand48`-style generator behind `math.random`: 48 bits, never
/// reseeded between scripts, so a script's random numbers replay identically on replicas.
static RAND48: AtomicU64 = AtomicU64::new(0x1234_ABCD_330E);
const RAND48_MAX: f64 = i32::MAX as f64;

fn lrand48() -> i32 {
    let next = |x: u64| x.wrapping_mul(0x5_DEEC_E66D).wrapping_add(0xB) & ((1 << 48) - 1);
    let mut x = RAND48.load(Ordering::Relaxed);
    x = next(x);
    RAND48.store(x, Ordering::Relaxed);
    (x >> 17) as i32
}

/// math.random([m [, n]])
fn math_random(lua: &Lua, args: Variadic<Value>) -> mlua::Result<f64> {
    let r = f64::from(lrand48() % i32::MAX) / RAND48_MAX;
    let int_arg = |i: usize| -> mlua::Result<f64> {
        number_of(&args[i])
            .map(|v| (v as i64 as i32) as f64)
            .ok_or_else(|| super::libs::arg_error(i + 1, "random", "number expected"))
    };
    match args.len() {
        0 => Ok(r),
        1 => {
            let u = int_arg(0)?;
            if u < 1.0 {
                return Err(super::libs::arg_error(1, "random", "interval is empty"));
            }
            Ok((r * u).floor() + 1.0)
        }
        2 => {
            let (l, u) = (int_arg(0)?, int_arg(1)?);
            if l > u {
                return Err(super::libs::arg_error(2, "random", "interval is empty"));
            }
            Ok((r * (u - l + 1.0)).floor() + l)
        }
        _ => Err(raise_err(lua, "wrong number of arguments")),
    }
}

/// math.randomseed(seed)
fn math_randomseed(_: &Lua, seed: f64) -> mlua::Result<()> {
    let seed = seed as i64 as i32 as u32 as u64;
    RAND48.store(((seed & 0xFFFF_FFFF) << 16) | 0x330E, Ordering::Relaxed);
    Ok(())
}

/// An `{err=...}` table for `msg` (Redis's error table format).
pub fn raise(lua: &Lua, msg: &str) -> mlua::Result<Value> {
    field_table(
        lua,
        "err",
        Value::String(lua.create_string(error_text(msg))?),
    )
}

fn raise_err(_lua: &Lua, msg: &str) -> mlua::Error {
    mlua::Error::RuntimeError(msg.to_string())
}

/// `7.0.15` -> `0x07000f`.
fn version_num(v: &str) -> i64 {
    v.split('.')
        .take(3)
        .fold(0, |acc, p| (acc << 8) | p.parse::<i64>().unwrap_or(0))
}

/// redis.sha1hex(string)
fn sha1hex(lua: &Lua, args: Variadic<Value>) -> mlua::Result<mlua::LuaString> {
    if args.len() != 1 {
        return Err(mlua::Error::RuntimeError(
            "wrong number of arguments".into(),
        ));
    }
    let bytes = match &args[0] {
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Integer(n) => n.to_string().into_bytes(),
        Value::Number(n) => lua_number_text(*n).into_bytes(),
        _ => Vec::new(),
    };
    lua.create_string(super::vm::sha1_hex(&bytes))
}

/// Lua's own `%.14g` text of a number.
pub fn lua_number_text(n: f64) -> String {
    let mut out = Vec::new();
    rudis_resp::number::format_g(n, 14, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// redis.log(level, message, ...)
fn log(_lua: &Lua, args: Variadic<Value>) -> mlua::Result<()> {
    if args.len() < 2 {
        return Err(mlua::Error::RuntimeError(
            "redis.log() requires two arguments or more.".into(),
        ));
    }
    let level = match &args[0] {
        Value::Integer(n) => *n as f64,
        Value::Number(n) => *n,
        Value::String(s) => match s.to_string_lossy().trim().parse::<f64>() {
            Ok(n) => n,
            Err(_) => return Err(first_arg_not_number()),
        },
        _ => return Err(first_arg_not_number()),
    };
    let verbosity = match level as i64 {
        0 => Verbosity::Debug,
        1 => Verbosity::Verbose,
        2 => Verbosity::Notice,
        3 => Verbosity::Warning,
        _ => return Err(mlua::Error::RuntimeError("Invalid debug level.".into())),
    };
    let parts: Vec<String> = args[1..]
        .iter()
        .filter_map(|v| match v {
            Value::String(s) => Some(s.to_string_lossy()),
            Value::Integer(n) => Some(n.to_string()),
            Value::Number(n) => Some(lua_number_text(*n)),
            _ => None,
        })
        .collect();
    write_line(verbosity, &parts.join(" "));
    Ok(())
}

fn first_arg_not_number() -> mlua::Error {
    mlua::Error::RuntimeError("First argument must be a number (log level).".into())
}

/// The text of a non-table error value for the error handler.
fn error_value_text(lua: &Lua, v: Value) -> mlua::Result<mlua::LuaString> {
    let text = match &v {
        Value::Error(e) => super::vm::lua_error_text(e),
        Value::String(s) => s.to_string_lossy(),
        Value::Nil => "nil".into(),
        Value::Boolean(b) => b.to_string(),
        Value::Integer(n) => n.to_string(),
        Value::Number(n) => lua_number_text(*n),
        other => other.type_name().to_string(),
    };
    lua.create_string(text)
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_number() {
        assert_eq!(super::version_num("7.0.15"), 0x07000f);
    }
}
