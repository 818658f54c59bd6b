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

/// Parses a cursor as Redis does, with C's `strtoul`: an optional sign then decimal digits
/// (nothing at all reads as 0, and a minus sign negates modulo 2^64, so `-1` is the largest
/// cursor), no leading space, no overflow.
pub fn parse_cursor(arg: &[u8]) -> Result<u64, CmdError> {
    let invalid = || CmdError::from("ERR invalid cursor");
    if arg.is_empty() {
        return Ok(0);
    }
    let (negative, digits) = match arg[0] {
        b'-' => (true, &arg[1..]),
        b'+' => (false, &arg[1..]),
        _ => (false, arg),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    let value = digits.iter().try_fold(0u64, |v, &c| {
        v.checked_mul(10)?.checked_add(u64::from(c - b'0'))
    });
    let value = value.ok_or_else(invalid)?;
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
