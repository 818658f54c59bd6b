//! `struct`: binary packing with the format language of Roberto Ierusalimschy's `struct`
//! library as Redis bundles it: `<` `>` `=` endianness, `!n` alignment, `x` padding,
//! `b B h H l L T i[n] I[n]` integers, `f d` floats, `s` zero-terminated and `c[n]` fixed
//! strings. `pack(fmt, ...)`, `unpack(fmt, data [, pos])` (values, then the next position),
//! `size(fmt)`.

use mlua::{Lua, MultiValue, Table, Value, Variadic};

use super::arg_error;

/// Widest integer option (`i32`).
const INT_SIZE_MAX: usize = 32;
/// Default of `!` without a number.
const ALIGN_MAX: usize = 8;

pub fn open(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("pack", super::function(lua, pack)?)?;
    t.raw_set("unpack", super::function(lua, unpack)?)?;
    t.raw_set("size", super::function(lua, size)?)?;
    Ok(t)
}

#[derive(Clone, Copy, PartialEq)]
enum Endian {
    Little,
    Big,
}

struct Format<'a> {
    fmt: &'a [u8],
    at: usize,
    endian: Endian,
    align: usize,
    func: &'static str,
}

fn rt(msg: String) -> mlua::Error {
    mlua::Error::RuntimeError(msg)
}

impl<'a> Format<'a> {
    fn new(fmt: &'a [u8], func: &'static str) -> Self {
        Format {
            fmt,
            at: 0,
            endian: Endian::Little,
            align: 1,
            func,
        }
    }

    fn next(&mut self) -> Option<u8> {
        let c = *self.fmt.get(self.at)?;
        self.at += 1;
        Some(c)
    }

    fn number(&mut self, default: usize) -> mlua::Result<usize> {
        if !self.fmt.get(self.at).is_some_and(u8::is_ascii_digit) {
            return Ok(default);
        }
        let mut n: usize = 0;
        while let Some(d) = self.fmt.get(self.at).filter(|d| d.is_ascii_digit()) {
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(usize::from(d - b'0')))
                .filter(|&n| n <= i32::MAX as usize)
                .ok_or_else(|| rt("integral size overflow".into()))?;
            self.at += 1;
        }
        Ok(n)
    }

    /// The size of option `opt` (0 for options without data).
    fn size_of(&mut self, opt: u8) -> mlua::Result<usize> {
        Ok(match opt {
            b'b' | b'B' | b'x' => 1,
            b'h' | b'H' => 2,
            b'l' | b'L' | b'T' | b'd' => 8,
            b'f' => 4,
            b'c' => self.number(1)?,
            b'i' | b'I' => {
                let n = self.number(4)?;
                if n > INT_SIZE_MAX {
                    return Err(rt(format!(
                        "integral size {n} is larger than limit of {INT_SIZE_MAX}"
                    )));
                }
                n
            }
            _ => 0,
        })
    }

    fn padding(&self, len: usize, opt: u8, size: usize) -> usize {
        if size == 0 || opt == b'c' {
            return 0;
        }
        let size = size.min(self.align);
        (size - (len & (size - 1))) & (size - 1)
    }

    /// Endianness, alignment and spaces; anything else is an invalid option.
    fn control(&mut self, opt: u8) -> mlua::Result<()> {
        match opt {
            b' ' => {}
            b'>' => self.endian = Endian::Big,
            b'<' | b'=' => self.endian = Endian::Little,
            b'!' => {
                let a = self.number(ALIGN_MAX)?;
                if !a.is_power_of_two() {
                    return Err(rt(format!("alignment {a} is not a power of 2")));
                }
                self.align = a;
            }
            other => {
                return Err(arg_error(
                    1,
                    self.func,
                    &format!("invalid format option '{}'", other as char),
                ))
            }
        }
        Ok(())
    }
}

fn number_arg(args: &[Value], i: usize, func: &str) -> mlua::Result<f64> {
    match args.get(i) {
        Some(Value::Integer(n)) => Ok(*n as f64),
        Some(Value::Number(n)) => Ok(*n),
        Some(Value::String(s)) => s
            .to_string_lossy()
            .trim()
            .parse()
            .map_err(|_| arg_error(i + 2, func, "number expected, got string")),
        other => Err(arg_error(
            i + 2,
            func,
            &format!(
                "number expected, got {}",
                other.map_or("no value", |v| v.type_name())
            ),
        )),
    }
}

fn put_integer(out: &mut Vec<u8>, n: f64, size: usize, endian: Endian) {
    let mut value = if n < 0.0 { n as i64 as u64 } else { n as u64 };
    let mut bytes = vec![0u8; size];
    let order: Box<dyn Iterator<Item = usize>> = match endian {
        Endian::Little => Box::new(0..size),
        Endian::Big => Box::new((0..size).rev()),
    };
    for i in order {
        bytes[i] = (value & 0xff) as u8;
        value = value.checked_shr(8).unwrap_or(0);
    }
    out.extend_from_slice(&bytes);
}

fn ordered(bytes: &[u8], endian: Endian) -> Vec<u8> {
    let mut b = bytes.to_vec();
    if endian == Endian::Big {
        b.reverse();
    }
    b
}

/// struct.pack(fmt, ...)
fn pack(lua: &Lua, args: Variadic<Value>) -> mlua::Result<mlua::LuaString> {
    let fmt = match args.first() {
        Some(Value::String(s)) => s.as_bytes().to_vec(),
        _ => return Err(arg_error(1, "pack", "string expected")),
    };
    let values = &args[1..];
    let mut f = Format::new(&fmt, "pack");
    let mut out = Vec::new();
    let mut arg = 0;
    while let Some(opt) = f.next() {
        let mut size = f.size_of(opt)?;
        let pad = f.padding(out.len(), opt, size);
        out.resize(out.len() + pad, 0);
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = number_arg(values, arg, "pack")?;
                arg += 1;
                put_integer(&mut out, n, size, f.endian);
            }
            b'x' => out.push(0),
            b'f' => {
                let n = number_arg(values, arg, "pack")? as f32;
                arg += 1;
                out.extend_from_slice(&ordered(&n.to_le_bytes(), f.endian));
            }
            b'd' => {
                let n = number_arg(values, arg, "pack")?;
                arg += 1;
                out.extend_from_slice(&ordered(&n.to_le_bytes(), f.endian));
            }
            b'c' | b's' => {
                let s = match values.get(arg) {
                    Some(Value::String(s)) => s.as_bytes().to_vec(),
                    Some(Value::Integer(n)) => n.to_string().into_bytes(),
                    Some(Value::Number(n)) => super::super::api::lua_number_text(*n).into_bytes(),
                    _ => return Err(arg_error(arg + 2, "pack", "string expected")),
                };
                arg += 1;
                if size == 0 {
                    size = s.len();
                }
                if s.len() < size {
                    return Err(arg_error(arg + 2, "pack", "string too short"));
                }
                out.extend_from_slice(&s[..size]);
                if opt == b's' {
                    out.push(0);
                }
            }
            other => f.control(other)?,
        }
    }
    lua.create_string(&out)
}

fn get_integer(bytes: &[u8], endian: Endian, signed: bool) -> f64 {
    let mut l: u64 = 0;
    let iter: Box<dyn Iterator<Item = &u8>> = match endian {
        Endian::Big => Box::new(bytes.iter()),
        Endian::Little => Box::new(bytes.iter().rev()),
    };
    for &b in iter {
        l = (l << 8) | u64::from(b);
    }
    let bits = bytes.len() * 8;
    if !signed || bits == 0 || bits > 64 {
        return l as f64;
    }
    let mask = u64::MAX << (bits - 1);
    if l & mask != 0 {
        l |= mask;
    }
    l as i64 as f64
}

/// struct.unpack(fmt, data [, pos])
fn unpack(
    lua: &Lua,
    (fmt, data, pos): (mlua::LuaString, mlua::LuaString, Option<i64>),
) -> mlua::Result<MultiValue> {
    let fmt = fmt.as_bytes().to_vec();
    let data = data.as_bytes().to_vec();
    let ld = data.len();
    let mut pos = usize::try_from(pos.unwrap_or(1) - 1)
        .ok()
        .filter(|&p| p <= ld)
        .ok_or_else(|| arg_error(3, "unpack", "offset out of range"))?;
    let mut f = Format::new(&fmt, "unpack");
    let mut out: Vec<Value> = Vec::new();
    while let Some(opt) = f.next() {
        let mut size = f.size_of(opt)?;
        pos += f.padding(pos, opt, size);
        let too_short = || arg_error(2, "unpack", "data string too short");
        if size > ld || pos > ld - size {
            return Err(too_short());
        }
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = get_integer(&data[pos..pos + size], f.endian, opt.is_ascii_lowercase());
                out.push(Value::Number(n));
            }
            b'x' => {}
            b'f' => {
                let b = ordered(&data[pos..pos + 4], f.endian);
                let v = f32::from_le_bytes(b.try_into().expect("4 bytes"));
                out.push(Value::Number(f64::from(v)));
            }
            b'd' => {
                let b = ordered(&data[pos..pos + 8], f.endian);
                out.push(Value::Number(f64::from_le_bytes(
                    b.try_into().expect("8 bytes"),
                )));
            }
            b'c' => {
                if size == 0 {
                    size = match out.pop() {
                        Some(Value::Number(n)) if n >= 0.0 => n as usize,
                        Some(Value::Integer(n)) if n >= 0 => n as usize,
                        _ => return Err(rt("format `c0' needs a previous size".into())),
                    };
                    if size > ld || pos > ld - size {
                        return Err(too_short());
                    }
                }
                out.push(Value::String(lua.create_string(&data[pos..pos + size])?));
            }
            b's' => {
                let Some(len) = data[pos..].iter().position(|&c| c == 0) else {
                    return Err(rt("unfinished string in data".into()));
                };
                out.push(Value::String(lua.create_string(&data[pos..pos + len])?));
                size = len + 1;
            }
            other => f.control(other)?,
        }
        pos += size;
    }
    out.push(Value::Number((pos + 1) as f64));
    Ok(MultiValue::from_vec(out))
}

/// struct.size(fmt)
fn size(_: &Lua, fmt: mlua::LuaString) -> mlua::Result<f64> {
    let fmt = fmt.as_bytes().to_vec();
    let mut f = Format::new(&fmt, "size");
    let mut pos = 0usize;
    while let Some(opt) = f.next() {
        let size = f.size_of(opt)?;
        pos += f.padding(pos, opt, size);
        if opt == b's' {
            return Err(arg_error(1, "size", "option 's' has no fixed size"));
        }
        if opt == b'c' && size == 0 {
            return Err(arg_error(1, "size", "option 'c0' has no fixed size"));
        }
        if size == 0 && opt != b'c' {
            f.control(opt)?;
        }
        pos += size;
    }
    Ok(pos as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_round_trip() {
        let mut out = Vec::new();
        put_integer(&mut out, -2.0, 2, Endian::Big);
        assert_eq!(out, [0xff, 0xfe]);
        assert_eq!(get_integer(&out, Endian::Big, true), -2.0);
        assert_eq!(get_integer(&out, Endian::Big, false), 65534.0);
    }

    proptest::proptest! {
        #[test]
        fn unpacking_never_panics(fmt in "[<>!xbBhHlLTiIfdsc0-9 ]{0,12}", data in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let lua = Lua::new();
            let f = lua.create_string(&fmt).unwrap();
            let d = lua.create_string(&data).unwrap();
            let _ = unpack(&lua, (f.clone(), d, None));
            let _ = size(&lua, f);
        }
    }
}
