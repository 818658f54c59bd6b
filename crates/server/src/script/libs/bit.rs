//! `bit`: LuaBitOp's operations on 32-bit integers. Numbers are normalized the way LuaBitOp
//! does it: rounded to the nearest integer and wrapped modulo 2^32, read as signed.

use mlua::{Lua, Table, Value, Variadic};

use super::arg_error;

/// LuaBitOp's normalization of a Lua number to a signed 32-bit integer.
pub fn tobit(n: f64) -> i32 {
    if !n.is_finite() {
        return 0;
    }
    let r = n.round_ties_even();
    (r.rem_euclid(4294967296.0) as u64 as u32) as i32
}

fn num(v: &Value, i: usize, func: &str) -> mlua::Result<i32> {
    match v {
        Value::Integer(n) => Ok(tobit(*n as f64)),
        Value::Number(n) => Ok(tobit(*n)),
        Value::String(s) => match s.to_string_lossy().trim().parse::<f64>() {
            Ok(n) => Ok(tobit(n)),
            Err(_) => Err(arg_error(i, func, "number expected, got string")),
        },
        other => Err(arg_error(
            i,
            func,
            &format!("number expected, got {}", type_name(other)),
        )),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Nil => "no value",
        other => other.type_name(),
    }
}

fn arg(args: &Variadic<Value>, i: usize, func: &str) -> mlua::Result<i32> {
    num(args.get(i - 1).unwrap_or(&Value::Nil), i, func)
}

fn fold(args: Variadic<Value>, func: &str, op: fn(i32, i32) -> i32) -> mlua::Result<f64> {
    let mut acc = arg(&args, 1, func)?;
    for i in 2..=args.len() {
        acc = op(acc, arg(&args, i, func)?);
    }
    Ok(f64::from(acc))
}

type Shift = fn(i32, u32) -> i32;

fn shift(args: Variadic<Value>, func: &str, op: Shift) -> mlua::Result<f64> {
    let x = arg(&args, 1, func)?;
    let n = arg(&args, 2, func)? as u32 & 31;
    Ok(f64::from(op(x, n)))
}

pub fn open(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "tobit",
        super::function(lua, |_, a: Variadic<Value>| {
            Ok(f64::from(arg(&a, 1, "tobit")?))
        })?,
    )?;
    t.raw_set(
        "bnot",
        super::function(lua, |_, a: Variadic<Value>| {
            Ok(f64::from(!arg(&a, 1, "bnot")?))
        })?,
    )?;
    t.raw_set(
        "band",
        super::function(lua, |_, a| fold(a, "band", |x, y| x & y))?,
    )?;
    t.raw_set(
        "bor",
        super::function(lua, |_, a| fold(a, "bor", |x, y| x | y))?,
    )?;
    t.raw_set(
        "bxor",
        super::function(lua, |_, a| fold(a, "bxor", |x, y| x ^ y))?,
    )?;
    t.raw_set(
        "lshift",
        super::function(lua, |_, a| {
            shift(a, "lshift", |x, n| ((x as u32) << n) as i32)
        })?,
    )?;
    t.raw_set(
        "rshift",
        super::function(lua, |_, a| {
            shift(a, "rshift", |x, n| ((x as u32) >> n) as i32)
        })?,
    )?;
    t.raw_set(
        "arshift",
        super::function(lua, |_, a| shift(a, "arshift", |x, n| x >> n))?,
    )?;
    t.raw_set(
        "rol",
        super::function(lua, |_, a| {
            shift(a, "rol", |x, n| (x as u32).rotate_left(n) as i32)
        })?,
    )?;
    t.raw_set(
        "ror",
        super::function(lua, |_, a| {
            shift(a, "ror", |x, n| (x as u32).rotate_right(n) as i32)
        })?,
    )?;
    t.raw_set(
        "bswap",
        super::function(lua, |_, a: Variadic<Value>| {
            Ok(f64::from(arg(&a, 1, "bswap")?.swap_bytes()))
        })?,
    )?;
    t.raw_set("tohex", super::function(lua, tohex)?)?;
    Ok(t)
}

/// bit.tohex(x [, n]): `n` hex digits (8 by default), uppercase when `n` is negative.
fn tohex(_: &Lua, a: Variadic<Value>) -> mlua::Result<String> {
    let x = arg(&a, 1, "tohex")? as u32;
    let n = match a.get(1) {
        None | Some(Value::Nil) => 8,
        Some(_) => arg(&a, 2, "tohex")?,
    };
    let upper = n < 0;
    let digits = n.unsigned_abs().min(8) as usize;
    let digits = if digits == 0 { 8 } else { digits };
    let masked = if digits == 8 {
        x
    } else {
        x & ((1u32 << (4 * digits)) - 1)
    };
    Ok(if upper {
        format!("{masked:0digits$X}")
    } else {
        format!("{masked:0digits$x}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_like_luabitop() {
        assert_eq!(tobit(4294967295.0), -1);
        assert_eq!(tobit(2147483648.0), i32::MIN);
        assert_eq!(tobit(-1.0), -1);
        assert_eq!(tobit(1.5), 2);
        assert_eq!(tobit(2.5), 2);
    }
}
