//! Parsing one complete reply (RESP2 or RESP3), for the client side of a connection: a
//! replica reading its master's answers, tests, and tools. Aggregates are bounded by the bytes
//! actually present, never by the length a peer claims, and nesting is limited.

use crate::number::parse_i64;

/// The deepest nesting accepted.
pub const MAX_DEPTH: usize = 64;

/// One reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Simple(Vec<u8>),
    Error(Vec<u8>),
    Int(i64),
    Bulk(Vec<u8>),
    /// RESP2 `$-1` / `*-1`, RESP3 `_`.
    Nil,
    Array(Vec<Value>),
    Map(Vec<(Value, Value)>),
    Set(Vec<Value>),
    Push(Vec<Value>),
    /// RESP3 double, kept as its text.
    Double(Vec<u8>),
    Bool(bool),
    Verbatim(Vec<u8>),
    BigNumber(Vec<u8>),
}

/// The reply is not valid RESP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed(pub String);

impl Value {
    /// Parses one reply from the start of `buf`: `Ok(None)` when more bytes are needed,
    /// otherwise the value and the bytes it used.
    pub fn parse(buf: &[u8]) -> Result<Option<(Value, usize)>, Malformed> {
        let mut pos = 0;
        match parse_at(buf, &mut pos, 0)? {
            Some(v) => Ok(Some((v, pos))),
            None => Ok(None),
        }
    }

    /// The bytes of a simple, bulk or verbatim string.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Simple(b) | Value::Bulk(b) | Value::Verbatim(b) | Value::Error(b) => Some(b),
            _ => None,
        }
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Value::Error(_))
    }

    /// Encodes the value back to RESP (RESP3 forms for RESP3 types).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let line = |out: &mut Vec<u8>, kind: u8, body: &[u8]| {
            out.push(kind);
            out.extend_from_slice(body);
            out.extend_from_slice(b"\r\n");
        };
        match self {
            Value::Simple(s) => line(out, b'+', s),
            // A blob error may hold CR/LF; only the blob form carries that back.
            Value::Error(s) if s.iter().any(|&c| c == b'\r' || c == b'\n') => {
                line(out, b'!', s.len().to_string().as_bytes());
                out.extend_from_slice(s);
                out.extend_from_slice(b"\r\n");
            }
            Value::Error(s) => line(out, b'-', s),
            Value::Int(i) => line(out, b':', i.to_string().as_bytes()),
            Value::Bulk(b) => {
                line(out, b'$', b.len().to_string().as_bytes());
                out.extend_from_slice(b);
                out.extend_from_slice(b"\r\n");
            }
            Value::Nil => out.extend_from_slice(b"_\r\n"),
            Value::Array(items) | Value::Set(items) | Value::Push(items) => {
                let kind = match self {
                    Value::Array(_) => b'*',
                    Value::Set(_) => b'~',
                    _ => b'>',
                };
                line(out, kind, items.len().to_string().as_bytes());
                items.iter().for_each(|v| v.encode(out));
            }
            Value::Map(pairs) => {
                line(out, b'%', pairs.len().to_string().as_bytes());
                for (k, v) in pairs {
                    k.encode(out);
                    v.encode(out);
                }
            }
            Value::Double(d) => line(out, b',', d),
            Value::Bool(b) => line(out, b'#', if *b { b"t" } else { b"f" }),
            Value::Verbatim(b) => {
                line(out, b'=', (b.len() + 4).to_string().as_bytes());
                out.extend_from_slice(b"txt:");
                out.extend_from_slice(b);
                out.extend_from_slice(b"\r\n");
            }
            Value::BigNumber(b) => line(out, b'(', b),
        }
    }
}

fn read_line<'a>(buf: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let rest = &buf[*pos..];
    let cr = rest.windows(2).position(|w| w == b"\r\n")?;
    *pos += cr + 2;
    Some(&rest[..cr])
}

fn parse_len(line: &[u8]) -> Result<i64, Malformed> {
    parse_i64(line)
        .ok_or_else(|| Malformed(format!("bad length {:?}", String::from_utf8_lossy(line))))
}

fn parse_at(buf: &[u8], pos: &mut usize, depth: usize) -> Result<Option<Value>, Malformed> {
    if depth > MAX_DEPTH {
        return Err(Malformed("nesting too deep".into()));
    }
    let Some(&kind) = buf.get(*pos) else {
        return Ok(None);
    };
    let start = *pos;
    *pos += 1;
    let Some(line) = read_line(buf, pos) else {
        *pos = start;
        return Ok(None);
    };
    let value = match kind {
        b'+' => Value::Simple(line.to_vec()),
        b'-' => Value::Error(line.to_vec()),
        b':' => Value::Int(parse_len(line)?),
        b',' => Value::Double(line.to_vec()),
        b'(' => Value::BigNumber(line.to_vec()),
        b'_' => Value::Nil,
        b'#' => match line {
            b"t" => Value::Bool(true),
            b"f" => Value::Bool(false),
            _ => return Err(Malformed("bad boolean".into())),
        },
        b'$' | b'=' | b'!' => {
            let len = parse_len(line)?;
            if len < 0 {
                Value::Nil
            } else {
                let len = len as usize;
                let Some(end) = pos.checked_add(len).filter(|&e| e + 2 <= buf.len()) else {
                    *pos = start;
                    return Ok(None);
                };
                let data = buf[*pos..end].to_vec();
                *pos = end + 2;
                match kind {
                    b'$' => Value::Bulk(data),
                    b'!' => Value::Error(data),
                    _ => Value::Verbatim(data.get(4..).unwrap_or_default().to_vec()),
                }
            }
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let len = parse_len(line)?;
            if len < 0 {
                Value::Nil
            } else {
                let per_item = if matches!(kind, b'%' | b'|') { 2 } else { 1 };
                let count = (len as u64).saturating_mul(per_item);
                // Every element takes at least 3 bytes, so the bytes present bound the claim.
                let mut items =
                    Vec::with_capacity(count.min((buf.len() - *pos) as u64 / 3) as usize);
                for _ in 0..count {
                    match parse_at(buf, pos, depth + 1)? {
                        Some(v) => items.push(v),
                        None => {
                            *pos = start;
                            return Ok(None);
                        }
                    }
                }
                match kind {
                    b'*' => Value::Array(items),
                    b'~' => Value::Set(items),
                    b'>' => Value::Push(items),
                    b'|' => return parse_at(buf, pos, depth), // attributes precede the reply
                    _ => {
                        let mut pairs = Vec::with_capacity(items.len() / 2);
                        let mut it = items.into_iter();
                        while let (Some(k), Some(v)) = (it.next(), it.next()) {
                            pairs.push((k, v));
                        }
                        Value::Map(pairs)
                    }
                }
            }
        }
        other => return Err(Malformed(format!("unknown reply type byte {other:#x}"))),
    };
    Ok(Some(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nested() {
        let (v, n) = Value::parse(b"*2\r\n$3\r\nfoo\r\n%1\r\n+a\r\n:1\r\nrest")
            .unwrap()
            .unwrap();
        assert_eq!(n, 25);
        assert_eq!(
            v,
            Value::Array(vec![
                Value::Bulk(b"foo".to_vec()),
                Value::Map(vec![(Value::Simple(b"a".to_vec()), Value::Int(1))])
            ])
        );
    }

    #[test]
    fn incomplete_is_none() {
        assert_eq!(Value::parse(b"*2\r\n$3\r\nfoo\r\n").unwrap(), None);
        assert_eq!(Value::parse(b"$10\r\nabc").unwrap(), None);
        assert_eq!(Value::parse(b"*1000000000\r\n").unwrap(), None);
    }

    #[test]
    fn blob_errors_with_newlines_roundtrip() {
        let (v, _) = Value::parse(b"!2\r\n\r\n\r\n").unwrap().unwrap();
        let mut out = Vec::new();
        v.encode(&mut out);
        assert_eq!(Value::parse(&out).unwrap().unwrap(), (v, out.len()));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(input: Vec<u8>) {
            let _ = Value::parse(&input);
        }
    }
}
