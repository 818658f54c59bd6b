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

/// Parses a cursor as Redis does, with C's `strtoul`: digits with an optional `+` or `-` sign
/// (`-n` wraps around to 2^64 - n), the empty string as 0; nothing else, and no overflow.
pub fn parse_cursor(arg: &[u8]) -> Result<u64, CmdError> {
    let invalid = || CmdError::from("ERR invalid cursor");
    if arg.is_empty() {
        return Ok(0);
    }
    let (negative, digits) = match arg {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, arg),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    let value = std::str::from_utf8(digits)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(invalid)?;
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
