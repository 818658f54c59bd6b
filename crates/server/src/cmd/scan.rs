//! What SCAN, HSCAN, SSCAN and ZSCAN share: the cursor and the MATCH / COUNT / TYPE options,
//! parsed with Redis's rules, and the reply shape.

use rudis_resp::{Argv, ReplyBuf};

use super::util::is;
use crate::command::error::{CmdError, NOT_INTEGER, SYNTAX};
use crate::util::glob;

/// Parsed SCAN options.
pub struct ScanOptions<'a> {
    /// Elements to look at per call (a hint), default 10.
    pub count: usize,
    /// The MATCH pattern; `None` when absent or exactly `*`.
    pub pattern: Option<&'a [u8]>,
    /// SCAN's TYPE filter.
    pub type_name: Option<&'a [u8]>,
}

impl ScanOptions<'_> {
    /// True if `element` passes the MATCH pattern.
    pub fn matches(&self, element: &[u8]) -> bool {
        self.pattern
            .is_none_or(|p| glob::matches(p, element, false))
    }
}

/// Parses a cursor as Redis does, with C's `strtoul`: decimal digits after an optional sign,
/// a negative number wrapping around (`-1` is the largest cursor), the empty string meaning
/// 0, and anything from a NUL byte on ignored; leading space and overflow are refused.
pub fn parse_cursor(arg: &[u8]) -> Result<u64, CmdError> {
    let invalid = || CmdError::from("ERR invalid cursor");
    let text = arg.split(|&c| c == 0).next().unwrap_or_default();
    let (negative, digits) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        Some(c) if c.is_ascii_whitespace() => return Err(invalid()),
        _ => (false, text),
    };
    if digits.is_empty() {
        // No digits at all is a valid 0 only when there was nothing, not even a sign.
        return if text.is_empty() {
            Ok(0)
        } else {
            Err(invalid())
        };
    }
    let mut value = 0u64;
    for &c in digits {
        if !c.is_ascii_digit() {
            return Err(invalid());
        }
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(c - b'0')))
            .ok_or_else(invalid)?;
    }
    Ok(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

/// Parses the options from argument `first` on. `allow_type` is true only for SCAN.
pub fn parse_options(
    argv: Argv<'_>,
    first: usize,
    allow_type: bool,
) -> Result<ScanOptions<'_>, CmdError> {
    let mut opts = ScanOptions {
        count: 10,
        pattern: None,
        type_name: None,
    };
    let mut i = first;
    while i < argv.len() {
        let has_value = i + 1 < argv.len();
        let opt = argv.get(i);
        if is(opt, "COUNT") && has_value {
            let n = rudis_resp::number::parse_i64(argv.get(i + 1)).ok_or(NOT_INTEGER)?;
            if n < 1 {
                return Err(SYNTAX);
            }
            opts.count = n as usize;
        } else if is(opt, "MATCH") && has_value {
            let p = argv.get(i + 1);
            opts.pattern = (p != b"*").then_some(p);
        } else if is(opt, "TYPE") && allow_type && has_value {
            opts.type_name = Some(argv.get(i + 1));
        } else {
            return Err(SYNTAX);
        }
        i += 2;
    }
    Ok(opts)
}

/// Writes the SCAN reply: the next cursor as a bulk string, then the elements.
pub fn reply<'e>(
    reply: &mut ReplyBuf,
    cursor: u64,
    elements: impl ExactSizeIterator<Item = &'e [u8]>,
) {
    reply.array(2);
    reply.bulk_i64_u(cursor);
    reply.bulks(elements);
}

#[cfg(test)]
mod tests {
    use super::parse_cursor;

    #[test]
    fn cursors_parse_like_strtoul() {
        let ok = |s: &[u8]| parse_cursor(s).ok();
        assert_eq!(ok(b"0"), Some(0));
        assert_eq!(ok(b"+5"), Some(5));
        assert_eq!(ok(b""), Some(0));
        assert_eq!(ok(b"-1"), Some(u64::MAX));
        assert_eq!(ok(b"-18446744073709551615"), Some(1));
        assert_eq!(ok(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(ok(b"1\x00z"), Some(1));
        for bad in [
            &b"-"[..],
            b"+",
            b" 1",
            b"1 ",
            b"x",
            b"0x10",
            b"18446744073709551616",
        ] {
            assert_eq!(ok(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
        assert_eq!(ok(b"-18446744073709551616"), None);
    }
}
