//! `cmsgpack`: MessagePack with lua-cmsgpack's behaviour as Redis bundles it.
//!
//! `pack(...)` concatenates one encoding per argument. Integral numbers become the smallest
//! integer form, other numbers a float32 when that is exact, else a float64; a table whose
//! keys are 1..n is an array, any other table a map; tables nested deeper than 16 levels,
//! functions and other values become nil. `unpack(s)` returns every value,
//! `unpack_one(s [, offset])` and `unpack_limit(s, limit [, offset])` return the offset to
//! continue from (-1 at the end) before the values. Decoding never trusts a length the
//! input claims beyond the bytes present.

use mlua::{Lua, MultiValue, Table, Value, Variadic};

/// Tables deeper than this pack as nil (lua-cmsgpack's LUACMSGPACK_MAX_NESTING).
const PACK_NESTING_MAX: usize = 16;
/// Deepest nesting decoded (recursion stays bounded).
const UNPACK_NESTING_MAX: usize = 1000;

pub fn open(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("pack", super::function(lua, pack)?)?;
    t.raw_set("unpack", super::function(lua, unpack)?)?;
    t.raw_set("unpack_one", super::function(lua, unpack_one)?)?;
    t.raw_set("unpack_limit", super::function(lua, unpack_limit)?)?;
    t.raw_set("_NAME", "cmsgpack")?;
    t.raw_set("_VERSION", "lua-cmsgpack 0.4.0")?;
    Ok(t)
}

fn pack(lua: &Lua, args: Variadic<Value>) -> mlua::Result<mlua::LuaString> {
    if args.is_empty() {
        return Err(mlua::Error::RuntimeError(
            "MessagePack pack needs input.".into(),
        ));
    }
    let mut out = Vec::new();
    for v in args.iter() {
        encode(v, 0, &mut out)?;
    }
    lua.create_string(&out)
}

/// Encodes one value.
pub fn encode(v: &Value, depth: usize, out: &mut Vec<u8>) -> mlua::Result<()> {
    match v {
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(n) => encode_int(*n, out),
        Value::Number(n) => encode_number(*n, out),
        Value::String(s) => encode_bytes(&s.as_bytes(), out),
        Value::Table(t) if depth < PACK_NESTING_MAX => encode_table(t, depth + 1, out)?,
        _ => out.push(0xc0),
    }
    Ok(())
}

fn encode_number(n: f64, out: &mut Vec<u8>) {
    if n.fract() == 0.0 && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&n) {
        encode_int(n as i64, out);
    } else if (n as f32) as f64 == n || n.is_nan() {
        out.push(0xca);
        out.extend_from_slice(&(n as f32).to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_int(n: i64, out: &mut Vec<u8>) {
    if n >= 0 {
        match n {
            0..=127 => out.push(n as u8),
            128..=0xff => out.extend_from_slice(&[0xcc, n as u8]),
            0x100..=0xffff => {
                out.push(0xcd);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            0x1_0000..=0xffff_ffff => {
                out.push(0xce);
                out.extend_from_slice(&(n as u32).to_be_bytes());
            }
            _ => {
                out.push(0xcf);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_bytes(s: &[u8], out: &mut Vec<u8>) {
    let len = s.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(s);
}

fn header(len: usize, fix: u8, b16: u8, b32: u8, out: &mut Vec<u8>) {
    if len <= 15 {
        out.push(fix | len as u8);
    } else if len <= 0xffff {
        out.push(b16);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(b32);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

/// The length of `t` as an array (keys exactly 1..n), or `None`.
fn array_len(t: &Table) -> mlua::Result<Option<usize>> {
    let (mut count, mut max) = (0usize, 0f64);
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair?;
        let n = match k {
            Value::Integer(n) => n as f64,
            Value::Number(n) => n,
            _ => return Ok(None),
        };
        if n <= 0.0 || n.fract() != 0.0 {
            return Ok(None);
        }
        count += 1;
        max = max.max(n);
    }
    Ok((max as usize == count).then_some(count))
}

fn encode_table(t: &Table, depth: usize, out: &mut Vec<u8>) -> mlua::Result<()> {
    if let Some(len) = array_len(t)? {
        header(len, 0x90, 0xdc, 0xdd, out);
        for i in 1..=len {
            encode(&t.raw_get::<Value>(i)?, depth, out)?;
        }
        return Ok(());
    }
    // Two passes, so no more than one pair is held at a time (each is a VM reference).
    let mut count = 0;
    for pair in t.pairs::<Value, Value>() {
        pair?;
        count += 1;
    }
    header(count, 0x80, 0xde, 0xdf, out);
    for pair in t.pairs::<Value, Value>() {
        let (k, v) = pair?;
        encode(&k, depth, out)?;
        encode(&v, depth, out)?;
    }
    Ok(())
}

// ---- Decoding --------------------------------------------------------------------------

fn missing() -> mlua::Error {
    mlua::Error::RuntimeError("Missing bytes in input.".into())
}

fn bad() -> mlua::Error {
    mlua::Error::RuntimeError("Bad data format in input.".into())
}

pub struct Cursor<'a> {
    lua: &'a Lua,
    s: &'a [u8],
    pub pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(lua: &'a Lua, s: &'a [u8], pos: usize) -> Self {
        Cursor { lua, s, pos }
    }

    fn take(&mut self, n: usize) -> mlua::Result<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or_else(missing)?;
        let bytes = self.s.get(self.pos..end).ok_or_else(missing)?;
        self.pos = end;
        Ok(bytes)
    }

    fn be(&mut self, n: usize) -> mlua::Result<u64> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    /// Decodes one value.
    pub fn value(&mut self, depth: usize) -> mlua::Result<Value> {
        if depth > UNPACK_NESTING_MAX {
            return Err(bad());
        }
        let c = self.take(1)?[0];
        Ok(match c {
            0x00..=0x7f => Value::Number(f64::from(c)),
            0x80..=0x8f => self.map(usize::from(c & 0x0f), depth)?,
            0x90..=0x9f => self.array(usize::from(c & 0x0f), depth)?,
            0xa0..=0xbf => self.string(usize::from(c & 0x1f))?,
            0xc0 => Value::Nil,
            0xc2 => Value::Boolean(false),
            0xc3 => Value::Boolean(true),
            0xc4 | 0xd9 => {
                let n = self.be(1)? as usize;
                self.string(n)?
            }
            0xc5 | 0xda => {
                let n = self.be(2)? as usize;
                self.string(n)?
            }
            0xc6 | 0xdb => {
                let n = self.be(4)? as usize;
                self.string(n)?
            }
            0xca => Value::Number(f64::from(f32::from_bits(self.be(4)? as u32))),
            0xcb => Value::Number(f64::from_bits(self.be(8)?)),
            0xcc => Value::Number(self.be(1)? as f64),
            0xcd => Value::Number(self.be(2)? as f64),
            0xce => Value::Number(self.be(4)? as f64),
            0xcf => Value::Number(self.be(8)? as f64),
            0xd0 => Value::Number(f64::from(self.be(1)? as u8 as i8)),
            0xd1 => Value::Number(f64::from(self.be(2)? as u16 as i16)),
            0xd2 => Value::Number(f64::from(self.be(4)? as u32 as i32)),
            0xd3 => Value::Number(self.be(8)? as i64 as f64),
            0xdc => {
                let n = self.be(2)? as usize;
                self.array(n, depth)?
            }
            0xdd => {
                let n = self.be(4)? as usize;
                self.array(n, depth)?
            }
            0xde => {
                let n = self.be(2)? as usize;
                self.map(n, depth)?
            }
            0xdf => {
                let n = self.be(4)? as usize;
                self.map(n, depth)?
            }
            0xe0..=0xff => Value::Number(f64::from(c as i8)),
            _ => return Err(bad()),
        })
    }

    fn string(&mut self, n: usize) -> mlua::Result<Value> {
        let bytes = self.take(n)?;
        Ok(Value::String(self.lua.create_string(bytes)?))
    }

    /// Every element needs at least a byte: a claimed count beyond the input fails first.
    fn check_count(&self, n: usize, per_item: usize) -> mlua::Result<()> {
        let left = self.s.len() - self.pos;
        if n.saturating_mul(per_item) > left {
            return Err(missing());
        }
        Ok(())
    }

    fn array(&mut self, n: usize, depth: usize) -> mlua::Result<Value> {
        self.check_count(n, 1)?;
        let t = self.lua.create_table_with_capacity(n, 0)?;
        for i in 1..=n {
            t.raw_set(i, self.value(depth + 1)?)?;
        }
        Ok(Value::Table(t))
    }

    fn map(&mut self, n: usize, depth: usize) -> mlua::Result<Value> {
        self.check_count(n, 2)?;
        let t = self.lua.create_table_with_capacity(0, n)?;
        for _ in 0..n {
            let k = self.value(depth + 1)?;
            let v = self.value(depth + 1)?;
            if !matches!(k, Value::Nil) {
                t.raw_set(k, v)?;
            }
        }
        Ok(Value::Table(t))
    }
}

/// Decodes up to `limit` values (0: all) from `offset`; returns the offset to continue
/// from (-1 at the end) and the values.
fn unpack_from(lua: &Lua, s: &[u8], limit: usize, offset: usize) -> mlua::Result<MultiValue> {
    if offset > s.len() {
        return Err(mlua::Error::RuntimeError(
            "Start offset greater than input length.".into(),
        ));
    }
    let mut cur = Cursor::new(lua, s, offset);
    let mut values = Vec::new();
    while cur.pos < s.len() && (limit == 0 || values.len() < limit) {
        values.push(cur.value(0)?);
    }
    let next = if cur.pos >= s.len() {
        -1
    } else {
        cur.pos as i64
    };
    let mut out = vec![Value::Integer(next)];
    out.extend(values);
    Ok(MultiValue::from_vec(out))
}

fn unpack(lua: &Lua, s: mlua::LuaString) -> mlua::Result<MultiValue> {
    let bytes = s.as_bytes();
    let mut all = unpack_from(lua, &bytes, 0, 0)?.into_vec();
    all.remove(0);
    Ok(MultiValue::from_vec(all))
}

fn unpack_one(lua: &Lua, (s, offset): (mlua::LuaString, Option<i64>)) -> mlua::Result<MultiValue> {
    let offset = usize::try_from(offset.unwrap_or(0).max(0)).unwrap_or(0);
    unpack_from(lua, &s.as_bytes(), 1, offset)
}

fn unpack_limit(
    lua: &Lua,
    (s, limit, offset): (mlua::LuaString, i64, Option<i64>),
) -> mlua::Result<MultiValue> {
    let offset = usize::try_from(offset.unwrap_or(0).max(0)).unwrap_or(0);
    unpack_from(lua, &s.as_bytes(), limit.max(0) as usize, offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(v: Value) -> String {
        let mut out = Vec::new();
        encode(&v, 0, &mut out).unwrap();
        out.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn packs_like_lua_cmsgpack() {
        assert_eq!(hex(Value::Number(0.1)), "cb3fb999999999999a");
        assert_eq!(hex(Value::Number(-1099511627776.0)), "d3ffffff0000000000");
        assert_eq!(hex(Value::Number(5.0)), "05");
        assert_eq!(hex(Value::Number(-1.0)), "ff");
        assert_eq!(hex(Value::Number(1.5)), "ca3fc00000");
    }

    proptest::proptest! {
        #[test]
        fn unpacking_never_panics(input in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let lua = Lua::new();
            let _ = unpack_from(&lua, &input, 0, 0);
        }
    }
}
