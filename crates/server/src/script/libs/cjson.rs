//! `cjson`: JSON encoding and decoding with lua-cjson's behaviour as Redis bundles it.
//!
//! Encoding: numbers as `%.14g`, NaN and infinities refused unless
//! `encode_invalid_numbers(true)`, `/` escaped, a table whose keys are all positive integers
//! is an array (holes become `null`) unless it is excessively sparse (the largest index over
//! twice the element count and above 10: an error), an empty table is `{}`, nesting beyond
//! `encode_max_depth` (1000) is an error. Decoding: standard JSON, `null` as `cjson.null`,
//! nesting beyond `decode_max_depth` (1000) an error; error texts are lua-cjson's.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use mlua::{LightUserData, Lua, Table, Value, Variadic};

/// The deepest nesting ever followed, whatever the settings say: recursion stays bounded.
const HARD_DEPTH_MAX: usize = 1000;

struct Settings {
    encode_max_depth: AtomicUsize,
    decode_max_depth: AtomicUsize,
    encode_invalid_numbers: AtomicBool,
}

fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

pub fn open(lua: &Lua) -> mlua::Result<Table> {
    let settings = Arc::new(Settings {
        encode_max_depth: AtomicUsize::new(1000),
        decode_max_depth: AtomicUsize::new(1000),
        encode_invalid_numbers: AtomicBool::new(false),
    });
    let t = lua.create_table()?;
    let s = settings.clone();
    t.raw_set(
        "encode",
        super::function(lua, move |lua, v: Value| {
            let mut out = Vec::new();
            Encoder { s: &s }
                .value(&v, 1, &mut out)
                .map_err(mlua::Error::RuntimeError)?;
            lua.create_string(&out)
        })?,
    )?;
    let s = settings.clone();
    t.raw_set(
        "decode",
        super::function(lua, move |lua, text: mlua::LuaString| {
            let max = s.decode_max_depth.load(Ordering::Relaxed);
            let bytes = text.as_bytes();
            Decoder::new(lua, &bytes, max)
                .document()
                .map_err(mlua::Error::RuntimeError)
        })?,
    )?;
    let s = settings.clone();
    t.raw_set(
        "encode_max_depth",
        super::function(lua, move |_, n: Option<i64>| {
            set_depth(&s.encode_max_depth, n)
        })?,
    )?;
    let s = settings.clone();
    t.raw_set(
        "decode_max_depth",
        super::function(lua, move |_, n: Option<i64>| {
            set_depth(&s.decode_max_depth, n)
        })?,
    )?;
    let s = settings.clone();
    t.raw_set(
        "encode_invalid_numbers",
        super::function(lua, move |_, on: Option<Value>| {
            if let Some(v) = on {
                let on = matches!(v, Value::Boolean(true))
                    || matches!(&v, Value::String(s) if s.as_bytes().as_ref() == b"on");
                s.encode_invalid_numbers.store(on, Ordering::Relaxed);
            }
            Ok(s.encode_invalid_numbers.load(Ordering::Relaxed))
        })?,
    )?;
    for name in [
        "encode_keep_buffer",
        "encode_number_precision",
        "encode_sparse_array",
        "decode_invalid_numbers",
    ] {
        t.raw_set(name, super::function(lua, |_, v: Variadic<Value>| Ok(v))?)?;
    }
    t.raw_set("null", null())?;
    t.raw_set("_NAME", "cjson")?;
    t.raw_set("_VERSION", "2.1.0")?;
    Ok(t)
}

fn set_depth(cell: &AtomicUsize, n: Option<i64>) -> mlua::Result<i64> {
    if let Some(n) = n {
        if n < 1 {
            return Err(super::arg_error(
                1,
                "encode_max_depth",
                "expected integer between 1 and 2147483647",
            ));
        }
        cell.store(n as usize, Ordering::Relaxed);
    }
    Ok(cell.load(Ordering::Relaxed) as i64)
}

/// `%.14g`, the number format of lua-cjson.
fn format_number(n: f64, out: &mut Vec<u8>) {
    rudis_resp::number::format_g(n, 14, out);
}

struct Encoder<'s> {
    s: &'s Settings,
}

impl Encoder<'_> {
    fn value(&self, v: &Value, depth: usize, out: &mut Vec<u8>) -> Result<(), String> {
        match v {
            Value::Nil => out.extend_from_slice(b"null"),
            Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            Value::Integer(n) => format_number(*n as f64, out),
            Value::Number(n) => self.number(*n, out)?,
            Value::String(s) => escape(&s.as_bytes(), out),
            Value::Table(t) => self.table(t, depth, out)?,
            Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
            other => {
                return Err(format!(
                    "Cannot serialise {}: type not supported",
                    type_name(other)
                ))
            }
        }
        Ok(())
    }

    fn number(&self, n: f64, out: &mut Vec<u8>) -> Result<(), String> {
        if !n.is_finite() && !self.s.encode_invalid_numbers.load(Ordering::Relaxed) {
            return Err("Cannot serialise number: must not be NaN or Inf".into());
        }
        if n.is_nan() {
            out.extend_from_slice(b"nan");
        } else if n.is_infinite() {
            out.extend_from_slice(if n > 0.0 { b"inf" } else { b"-inf" });
        } else {
            format_number(n, out);
        }
        Ok(())
    }

    fn table(&self, t: &Table, depth: usize, out: &mut Vec<u8>) -> Result<(), String> {
        let max = self
            .s
            .encode_max_depth
            .load(Ordering::Relaxed)
            .min(HARD_DEPTH_MAX);
        if depth > max {
            return Err(format!("Cannot serialise, excessive nesting ({depth})"));
        }
        match array_length(t)? {
            Some(len) if len > 0 => {
                out.push(b'[');
                for i in 1..=len {
                    if i > 1 {
                        out.push(b',');
                    }
                    let v: Value = t.raw_get(i).map_err(|e| e.to_string())?;
                    self.value(&v, depth + 1, out)?;
                }
                out.push(b']');
            }
            _ => self.object(t, depth, out)?,
        }
        Ok(())
    }

    fn object(&self, t: &Table, depth: usize, out: &mut Vec<u8>) -> Result<(), String> {
        out.push(b'{');
        let mut first = true;
        for pair in t.pairs::<Value, Value>() {
            let (k, v) = pair.map_err(|e| e.to_string())?;
            if !first {
                out.push(b',');
            }
            first = false;
            match &k {
                Value::String(s) => escape(&s.as_bytes(), out),
                Value::Integer(n) => quoted_number(*n as f64, out),
                Value::Number(n) => quoted_number(*n, out),
                other => {
                    return Err(format!(
                        "Cannot serialise {}: table key must be a number or string",
                        type_name(other)
                    ))
                }
            }
            out.push(b':');
            self.value(&v, depth + 1, out)?;
        }
        out.push(b'}');
        Ok(())
    }
}

fn quoted_number(n: f64, out: &mut Vec<u8>) {
    out.push(b'"');
    format_number(n, out);
    out.push(b'"');
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::LightUserData(_) => "userdata",
        other => other.type_name(),
    }
}

/// The array length of `t` when all its keys are positive integers (`Some(0)` for an
/// empty table), `None` otherwise; an excessively sparse array is an error.
fn array_length(t: &Table) -> Result<Option<usize>, String> {
    let (mut max, mut items) = (0f64, 0usize);
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair.map_err(|e| e.to_string())?;
        let n = match k {
            Value::Integer(n) => n as f64,
            Value::Number(n) => n,
            _ => return Ok(None),
        };
        if n < 1.0 || n.fract() != 0.0 {
            return Ok(None);
        }
        max = max.max(n);
        items += 1;
    }
    if max > 10.0 && max > (items * 2) as f64 {
        return Err("Cannot serialise table: excessively sparse array".into());
    }
    Ok(Some(max as usize))
}

fn escape(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            c if c < 0x20 || c == 0x7f => {
                out.extend_from_slice(format!("\\u{:04x}", c).as_bytes());
            }
            c => out.push(c),
        }
    }
    out.push(b'"');
}

// ---- Decoding --------------------------------------------------------------------------

/// A token's name in lua-cjson's error messages.
#[derive(Clone, Copy)]
enum Tok {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str,
    Num,
    Bool,
    Null,
    Colon,
    Comma,
    End,
    Invalid,
}

impl Tok {
    fn name(self) -> &'static str {
        match self {
            Tok::ObjBegin => "T_OBJ_BEGIN",
            Tok::ObjEnd => "T_OBJ_END",
            Tok::ArrBegin => "T_ARR_BEGIN",
            Tok::ArrEnd => "T_ARR_END",
            Tok::Str => "T_STRING",
            Tok::Num => "T_NUMBER",
            Tok::Bool => "T_BOOLEAN",
            Tok::Null => "T_NULL",
            Tok::Colon => "T_COLON",
            Tok::Comma => "T_COMMA",
            Tok::End => "T_END",
            Tok::Invalid => "invalid token",
        }
    }
}

pub struct Decoder<'a> {
    lua: &'a Lua,
    s: &'a [u8],
    pos: usize,
    max_depth: usize,
}

impl<'a> Decoder<'a> {
    pub fn new(lua: &'a Lua, s: &'a [u8], max_depth: usize) -> Self {
        Decoder {
            lua,
            s,
            pos: 0,
            max_depth: max_depth.min(HARD_DEPTH_MAX),
        }
    }

    pub fn document(mut self) -> Result<Value, String> {
        let v = self.value(0)?;
        self.skip_ws();
        if self.pos < self.s.len() {
            let (tok, at) = self.peek();
            return Err(expected("the end", tok, at));
        }
        Ok(v)
    }

    fn skip_ws(&mut self) {
        while self.pos < self.s.len() && matches!(self.s[self.pos], b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
    }

    /// The next token's kind and 1-based position, without consuming it.
    fn peek(&mut self) -> (Tok, usize) {
        self.skip_ws();
        let at = self.pos + 1;
        let Some(&c) = self.s.get(self.pos) else {
            return (Tok::End, at);
        };
        let tok = match c {
            b'{' => Tok::ObjBegin,
            b'}' => Tok::ObjEnd,
            b'[' => Tok::ArrBegin,
            b']' => Tok::ArrEnd,
            b':' => Tok::Colon,
            b',' => Tok::Comma,
            b'"' => Tok::Str,
            b'-' | b'0'..=b'9' => Tok::Num,
            b't' | b'f' if self.word(b"true") || self.word(b"false") => Tok::Bool,
            b'n' if self.word(b"null") => Tok::Null,
            _ => Tok::Invalid,
        };
        (tok, at)
    }

    fn word(&self, w: &[u8]) -> bool {
        self.s[self.pos..].starts_with(w)
    }

    fn lua_err(e: mlua::Error) -> String {
        e.to_string()
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        let (tok, at) = self.peek();
        match tok {
            Tok::ObjBegin => self.object(depth + 1, at),
            Tok::ArrBegin => self.array(depth + 1, at),
            Tok::Str => {
                let s = self.string()?;
                Ok(Value::String(
                    self.lua.create_string(&s).map_err(Self::lua_err)?,
                ))
            }
            Tok::Num => self.number(at),
            Tok::Bool => {
                let t = self.word(b"true");
                self.pos += if t { 4 } else { 5 };
                Ok(Value::Boolean(t))
            }
            Tok::Null => {
                self.pos += 4;
                Ok(null())
            }
            other => Err(expected("value", other, at)),
        }
    }

    fn nest(&self, depth: usize, at: usize) -> Result<(), String> {
        if depth > self.max_depth {
            return Err(format!(
                "Found too many nested data structures ({depth}) at character {at}"
            ));
        }
        Ok(())
    }

    fn array(&mut self, depth: usize, at: usize) -> Result<Value, String> {
        self.nest(depth, at)?;
        self.pos += 1;
        let t = self.lua.create_table().map_err(Self::lua_err)?;
        if let (Tok::ArrEnd, _) = self.peek() {
            self.pos += 1;
            return Ok(Value::Table(t));
        }
        let mut i = 1;
        loop {
            let v = self.value(depth)?;
            t.raw_set(i, v).map_err(Self::lua_err)?;
            i += 1;
            match self.peek() {
                (Tok::Comma, _) => self.pos += 1,
                (Tok::ArrEnd, _) => {
                    self.pos += 1;
                    return Ok(Value::Table(t));
                }
                (tok, at) => return Err(expected("comma or array end", tok, at)),
            }
        }
    }

    fn object(&mut self, depth: usize, at: usize) -> Result<Value, String> {
        self.nest(depth, at)?;
        self.pos += 1;
        let t = self.lua.create_table().map_err(Self::lua_err)?;
        if let (Tok::ObjEnd, _) = self.peek() {
            self.pos += 1;
            return Ok(Value::Table(t));
        }
        loop {
            let (tok, at) = self.peek();
            if !matches!(tok, Tok::Str) {
                return Err(expected("object key string", tok, at));
            }
            let key = self.string()?;
            match self.peek() {
                (Tok::Colon, _) => self.pos += 1,
                (tok, at) => return Err(expected("colon", tok, at)),
            }
            let v = self.value(depth)?;
            let key = self.lua.create_string(&key).map_err(Self::lua_err)?;
            t.raw_set(key, v).map_err(Self::lua_err)?;
            match self.peek() {
                (Tok::Comma, _) => self.pos += 1,
                (Tok::ObjEnd, _) => {
                    self.pos += 1;
                    return Ok(Value::Table(t));
                }
                (tok, at) => return Err(expected("comma or object end", tok, at)),
            }
        }
    }

    fn number(&mut self, at: usize) -> Result<Value, String> {
        let start = self.pos;
        while self.pos < self.s.len()
            && matches!(
                self.s[self.pos],
                b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'
            )
        {
            self.pos += 1;
        }
        let text = std::str::from_utf8(&self.s[start..self.pos]).unwrap_or("");
        match text.parse::<f64>() {
            Ok(n) => Ok(Value::Number(n)),
            Err(_) => Err(expected("value", Tok::Invalid, at)),
        }
    }

    /// A string token (the cursor on its opening quote), escapes decoded to UTF-8.
    fn string(&mut self) -> Result<Vec<u8>, String> {
        let at = self.pos + 1;
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let Some(&c) = self.s.get(self.pos) else {
                return Err(expected("value", Tok::Invalid, at));
            };
            self.pos += 1;
            match c {
                b'"' => return Ok(out),
                b'\\' => self.escape(&mut out, at)?,
                c => out.push(c),
            }
        }
    }

    fn escape(&mut self, out: &mut Vec<u8>, at: usize) -> Result<(), String> {
        let Some(&c) = self.s.get(self.pos) else {
            return Err(expected("value", Tok::Invalid, at));
        };
        self.pos += 1;
        let simple = match c {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => return self.unicode(out, at),
            _ => return Err(expected("value", Tok::Invalid, at)),
        };
        out.push(simple);
        Ok(())
    }

    fn hex4(&mut self, at: usize) -> Result<u32, String> {
        let digits = self
            .s
            .get(self.pos..self.pos + 4)
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| u32::from_str_radix(d, 16).ok())
            .ok_or_else(|| expected("value", Tok::Invalid, at))?;
        self.pos += 4;
        Ok(digits)
    }

    fn unicode(&mut self, out: &mut Vec<u8>, at: usize) -> Result<(), String> {
        let mut cp = self.hex4(at)?;
        if (0xD800..0xDC00).contains(&cp) {
            if !self.word(b"\\u") {
                return Err(expected("value", Tok::Invalid, at));
            }
            self.pos += 2;
            let low = self.hex4(at)?;
            if !(0xDC00..0xE000).contains(&low) {
                return Err(expected("value", Tok::Invalid, at));
            }
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        }
        let ch = char::from_u32(cp).ok_or_else(|| expected("value", Tok::Invalid, at))?;
        let mut buf = [0; 4];
        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
        Ok(())
    }
}

fn expected(what: &str, found: Tok, at: usize) -> String {
    format!(
        "Expected {what} but found {} at character {at}",
        found.name()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(lua: &Lua, json: &str) -> String {
        let v = Decoder::new(lua, json.as_bytes(), 1000).document().unwrap();
        let s = Settings {
            encode_max_depth: AtomicUsize::new(1000),
            decode_max_depth: AtomicUsize::new(1000),
            encode_invalid_numbers: AtomicBool::new(false),
        };
        let mut out = Vec::new();
        Encoder { s: &s }.value(&v, 1, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn encodes_like_lua_cjson() {
        let lua = Lua::new();
        assert_eq!(
            roundtrip(&lua, "[1, 2.5, \"a/b\", null, true]"),
            "[1,2.5,\"a\\/b\",null,true]"
        );
        assert_eq!(roundtrip(&lua, "{}"), "{}");
        assert_eq!(roundtrip(&lua, "[]"), "{}");
        assert_eq!(roundtrip(&lua, "\"\\u00e9\""), "\"\u{e9}\"");
    }

    #[test]
    fn decode_errors() {
        let lua = Lua::new();
        let err = |j: &str| {
            Decoder::new(&lua, j.as_bytes(), 1000)
                .document()
                .unwrap_err()
        };
        assert_eq!(err("[1,"), "Expected value but found T_END at character 4");
        assert_eq!(
            err("{1:2}"),
            "Expected object key string but found T_NUMBER at character 2"
        );
        assert_eq!(
            err("[1 2]"),
            "Expected comma or array end but found T_NUMBER at character 4"
        );
        assert_eq!(
            err("[[1]]x"),
            "Expected the end but found invalid token at character 6"
        );
        assert_eq!(
            Decoder::new(&lua, b"[[1]]", 1).document().unwrap_err(),
            "Found too many nested data structures (2) at character 2"
        );
    }

    proptest::proptest! {
        #[test]
        fn decoding_never_panics(input in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let lua = Lua::new();
            let _ = Decoder::new(&lua, &input, 1000).document();
        }
    }
}
