//! Conversions between Redis replies and Lua values, with Redis's rules.
//!
//! RESP to Lua (a command's reply seen by `redis.call`): integers become numbers, bulk
//! strings strings, a RESP2 null `false`, a RESP3 null `nil`, a status `{ok=...}`, an error
//! `{err=...}`, arrays tables; RESP3 adds `{map={...}}`, `{set={member=true}}`,
//! `{double=n}`, booleans, `{big_number="..."}` and
//! `{verbatim_string={format=..., string=...}}`.
//!
//! Lua to RESP (a script's result): strings become bulk strings, numbers integers (the
//! fraction dropped), `true` 1 and `false` a null (or RESP3 booleans after
//! `redis.setresp(3)`), tables with an `err`, `ok`, `double`, `big_number`,
//! `verbatim_string`, `map` or `set` field the matching reply, any other table an array up
//! to its first nil. Nesting is bounded: a deeper value is cut with an error.

use mlua::{Lua, Table, Value};
use rudis_resp::{ReplyBuf, Value as Resp};

/// Deepest nesting converted, in either direction.
const MAX_DEPTH: usize = 1000;

/// Converts a parsed reply to a Lua value. Errors become `{err=...}` tables. A null is
/// `false` in RESP2 and `nil` in RESP3 (`resp3`: the reply was written in RESP3).
pub fn resp_to_lua(lua: &Lua, v: &Resp, resp3: bool, depth: usize) -> mlua::Result<Value> {
    Ok(match v {
        Resp::Int(n) => Value::Number(*n as f64),
        Resp::Bulk(b) => Value::String(lua.create_string(b)?),
        Resp::Nil if resp3 => Value::Nil,
        Resp::Nil => Value::Boolean(false),
        Resp::Simple(s) => field_table(lua, "ok", Value::String(lua.create_string(s)?))?,
        Resp::Error(e) => field_table(lua, "err", Value::String(lua.create_string(e)?))?,
        Resp::Array(items) | Resp::Push(items) => {
            let t = lua.create_table_with_capacity(items.len().min(1024), 0)?;
            for (i, item) in items.iter().enumerate() {
                t.raw_set(i + 1, nested(lua, item, resp3, depth)?)?;
            }
            Value::Table(t)
        }
        Resp::Map(pairs) => {
            let m = lua.create_table()?;
            for (k, v) in pairs {
                let k = nested(lua, k, resp3, depth)?;
                if !k.is_nil() {
                    m.raw_set(k, nested(lua, v, resp3, depth)?)?;
                }
            }
            field_table(lua, "map", Value::Table(m))?
        }
        Resp::Set(items) => {
            let s = lua.create_table()?;
            for item in items {
                let item = nested(lua, item, resp3, depth)?;
                if !item.is_nil() {
                    s.raw_set(item, true)?;
                }
            }
            field_table(lua, "set", Value::Table(s))?
        }
        Resp::Double(text) => {
            let n = rudis_resp::number::parse_f64(text).unwrap_or(f64::NAN);
            field_table(lua, "double", Value::Number(n))?
        }
        Resp::Bool(b) => Value::Boolean(*b),
        Resp::BigNumber(d) => field_table(lua, "big_number", Value::String(lua.create_string(d)?))?,
        Resp::Verbatim(text) => {
            let (format, body) = if text.len() >= 4 && text[3] == b':' {
                (&text[..3], &text[4..])
            } else {
                (&b"txt"[..], &text[..])
            };
            let inner = lua.create_table()?;
            inner.raw_set("format", lua.create_string(format)?)?;
            inner.raw_set("string", lua.create_string(body)?)?;
            field_table(lua, "verbatim_string", Value::Table(inner))?
        }
    })
}

fn nested(lua: &Lua, v: &Resp, resp3: bool, depth: usize) -> mlua::Result<Value> {
    if depth >= MAX_DEPTH {
        return Err(mlua::Error::RuntimeError("reached lua stack limit".into()));
    }
    resp_to_lua(lua, v, resp3, depth + 1)
}

/// `{name = value}`.
pub fn field_table(lua: &Lua, name: &str, value: Value) -> mlua::Result<Value> {
    let t = lua.create_table_with_capacity(0, 1)?;
    t.raw_set(name, value)?;
    Ok(Value::Table(t))
}

/// What a script's result looks like in a reply.
pub struct LuaToResp {
    /// The script chose RESP3 (`redis.setresp(3)`): booleans stay booleans.
    pub script_resp3: bool,
}

impl LuaToResp {
    /// Writes `v` into `out`. Returns the error text when `v` is an error table (the
    /// caller formats the final error), written nothing then.
    pub fn write(&self, out: &mut ReplyBuf, v: &Value, depth: usize) {
        match v {
            Value::String(s) => out.bulk(&s.as_bytes()),
            Value::Boolean(b) => self.boolean(out, *b),
            Value::Integer(n) => out.int(*n),
            Value::Number(n) => out.int(lua_number_to_i64(*n)),
            Value::Table(t) => {
                if depth >= MAX_DEPTH {
                    out.error("ERR reached lua stack limit");
                    return;
                }
                self.table(out, t, depth)
            }
            _ => out.null(),
        }
    }

    fn boolean(&self, out: &mut ReplyBuf, b: bool) {
        if self.script_resp3 {
            out.bool(b);
        } else if b {
            out.int(1);
        } else {
            out.null();
        }
    }

    fn table(&self, out: &mut ReplyBuf, t: &Table, depth: usize) {
        if let Ok(Value::String(e)) = t.raw_get::<Value>("err") {
            out.error(&error_line(&e.as_bytes()));
            return;
        }
        if let Ok(Value::String(s)) = t.raw_get::<Value>("ok") {
            out.simple_bytes(&one_line(&s.as_bytes()));
            return;
        }
        match t.raw_get::<Value>("double") {
            Ok(Value::Number(n)) => return out.double(n),
            Ok(Value::Integer(n)) => return out.double(n as f64),
            _ => {}
        }
        if let Ok(Value::String(s)) = t.raw_get::<Value>("big_number") {
            out.big_number(&one_line(&s.as_bytes()));
            return;
        }
        if let Ok(Value::Table(v)) = t.raw_get::<Value>("verbatim_string") {
            let format = v.raw_get::<Value>("format");
            let string = v.raw_get::<Value>("string");
            if let (Ok(Value::String(f)), Ok(Value::String(s))) = (format, string) {
                let f = String::from_utf8_lossy(&f.as_bytes()).into_owned();
                out.verbatim(&f, &s.as_bytes());
                return;
            }
        }
        if let Ok(Value::Table(m)) = t.raw_get::<Value>("map") {
            let d = out.begin_deferred();
            let mut n = 0;
            for (k, v) in m.pairs::<Value, Value>().flatten() {
                self.write(out, &k, depth + 1);
                self.write(out, &v, depth + 1);
                n += 1;
            }
            out.finish_map(d, n);
            return;
        }
        if let Ok(Value::Table(s)) = t.raw_get::<Value>("set") {
            let d = out.begin_deferred();
            let mut n = 0;
            for (k, _) in s.pairs::<Value, Value>().flatten() {
                self.write(out, &k, depth + 1);
                n += 1;
            }
            out.finish_set(d, n);
            return;
        }
        let d = out.begin_deferred();
        let mut n = 0;
        loop {
            match t.raw_get::<Value>(n + 1) {
                Ok(Value::Nil) | Err(_) => break,
                Ok(v) => self.write(out, &v, depth + 1),
            }
            n += 1;
        }
        out.finish_array(d, n);
    }
}

/// Lua's number to integer conversion for replies: C's cast (truncation, saturating here).
pub fn lua_number_to_i64(n: f64) -> i64 {
    if n.is_nan() {
        i64::MIN
    } else {
        n as i64
    }
}

/// Newlines would break the protocol: Redis turns them into spaces.
fn one_line(b: &[u8]) -> Vec<u8> {
    b.iter()
        .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c })
        .collect()
}

/// An error table's text as an error reply line (the reply adds one `-` before it, as
/// Redis does, even when the text starts with one).
pub fn error_line(b: &[u8]) -> String {
    String::from_utf8_lossy(&one_line(b)).into_owned()
}

/// Builds the `{err=...}` text Redis builds from an error message: `-CODE msg` keeps its
/// code, anything else gets `ERR`; trailing newlines are trimmed.
pub fn error_text(msg: &str) -> String {
    let (code, body) = match msg.strip_prefix('-') {
        Some(rest) => match rest.split_once(' ') {
            Some((code, body)) => (code.to_string(), body.to_string()),
            None => ("ERR".to_string(), rest.to_string()),
        },
        None => ("ERR".to_string(), msg.to_string()),
    };
    let body = body.trim_matches(|c| c == '\r' || c == '\n');
    format!("{code} {body}")
}

/// Formats a Lua number as Redis passes it to a command: `%.17g`.
pub fn number_arg(n: f64, out: &mut Vec<u8>) {
    rudis_resp::number::format_g17(n, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_text_keeps_or_adds_code() {
        assert_eq!(error_text("-WRONGTYPE bad"), "WRONGTYPE bad");
        assert_eq!(error_text("plain message"), "ERR plain message");
        assert_eq!(error_text("-OOPS"), "ERR OOPS");
        assert_eq!(error_text("-ERR x\r\n"), "ERR x");
    }

    #[test]
    fn replies_round_trip_through_lua() {
        let lua = Lua::new();
        let conv = LuaToResp {
            script_resp3: false,
        };
        let reply = Resp::Array(vec![
            Resp::Int(7),
            Resp::Bulk(b"x".to_vec()),
            Resp::Nil,
            Resp::Simple(b"OK".to_vec()),
        ]);
        let v = resp_to_lua(&lua, &reply, false, 0).unwrap();
        let mut out = ReplyBuf::new();
        conv.write(&mut out, &v, 0);
        // The array stops at the first nil: `false` is not nil, so all four come back.
        assert_eq!(out.as_bytes(), b"*4\r\n:7\r\n$1\r\nx\r\n$-1\r\n+OK\r\n");
    }
}
