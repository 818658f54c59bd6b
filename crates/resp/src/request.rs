//! Incremental parsing of client requests.
//!
//! A request is a RESP multibulk (`*N\r\n$len\r\narg\r\n...`) or, when the first byte is not
//! `*`, an inline line split with the quoting rules of [`crate::inline`]. The parser keeps its
//! place between reads, so a large command arriving in many pieces is scanned once, and it
//! allocates only for arguments it has actually received: a claimed count or bulk length is
//! checked against [`Limits`] but never used to reserve memory.
//!
//! Multibulk arguments are byte ranges into the caller's buffer (no copy); inline arguments,
//! which need unquoting, are copied into the parser's own scratch buffer.

use std::ops::Range;

use crate::inline::split_args;
use crate::number::parse_i64;

/// Longest line (inline request, or a `*count` / `$len` header) accepted without a newline.
pub const INLINE_MAX_BYTES: usize = 64 * 1024;

/// Limits that depend on server configuration and on the connection.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// `proto-max-bulk-len`: the largest bulk argument accepted.
    pub max_bulk_len: u64,
    /// The connection must authenticate before sending large requests.
    pub auth_required: bool,
    /// The connection is our master's replication link: no bulk limit applies.
    pub from_master: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_len: 512 * 1024 * 1024,
            auth_required: false,
            from_master: false,
        }
    }
}

/// Why a request could not be parsed. The connection replies with [`ProtocolError::message`]
/// and is then closed, as Redis does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolError {
    TooBigInline,
    UnbalancedQuotes,
    TooBigMultibulkCount,
    InvalidMultibulkLength,
    UnauthenticatedMultibulkLength,
    TooBigBulkCount,
    ExpectedDollar(u8),
    InvalidBulkLength,
    UnauthenticatedBulkLength,
}

impl ProtocolError {
    /// The error text Redis sends (without the leading `-`).
    pub fn message(&self) -> String {
        let what = match self {
            ProtocolError::TooBigInline => "too big inline request".to_string(),
            ProtocolError::UnbalancedQuotes => "unbalanced quotes in request".to_string(),
            ProtocolError::TooBigMultibulkCount => "too big mbulk count string".to_string(),
            ProtocolError::InvalidMultibulkLength => "invalid multibulk length".to_string(),
            ProtocolError::UnauthenticatedMultibulkLength => {
                "unauthenticated multibulk length".to_string()
            }
            ProtocolError::TooBigBulkCount => "too big bulk count string".to_string(),
            ProtocolError::ExpectedDollar(c) => format!("expected '$', got '{}'", *c as char),
            ProtocolError::InvalidBulkLength => "invalid bulk length".to_string(),
            ProtocolError::UnauthenticatedBulkLength => "unauthenticated bulk length".to_string(),
        };
        format!("ERR Protocol error: {what}")
    }

    /// The short reason Redis logs.
    pub fn log_reason(&self) -> &'static str {
        match self {
            ProtocolError::TooBigInline => "too big inline request",
            ProtocolError::UnbalancedQuotes => "unbalanced quotes in inline request",
            ProtocolError::TooBigMultibulkCount => "too big mbulk count string",
            ProtocolError::InvalidMultibulkLength => "invalid mbulk count",
            ProtocolError::UnauthenticatedMultibulkLength => "unauth mbulk count",
            ProtocolError::TooBigBulkCount => "too big bulk count string",
            ProtocolError::ExpectedDollar(_) => "expected $ but got something else",
            ProtocolError::InvalidBulkLength => "invalid bulk length",
            ProtocolError::UnauthenticatedBulkLength => "unauth bulk length",
        }
    }
}

/// The outcome of one [`RequestParser::parse`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed {
    /// More bytes are needed. The parser remembers how far it got.
    Incomplete,
    /// A command is ready in [`RequestParser::argv`]; it used this many bytes of the buffer.
    Command(usize),
    /// The request was empty (`*0`, `*-1`, a blank inline line): skip this many bytes.
    Empty(usize),
    /// A bare newline (inline). Replicas use it as a keep-alive.
    Newline(usize),
}

/// Where the parser stands inside a multibulk request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between requests.
    Idle,
    /// Inside a multibulk: `remaining` arguments still to read, the next at byte `pos`.
    Multibulk {
        remaining: usize,
        pos: usize,
        bulk_len: Option<usize>,
    },
}

/// A resumable request parser. One per connection.
#[derive(Debug)]
pub struct RequestParser {
    state: State,
    args: Vec<Range<usize>>,
    inline: Vec<u8>,
    is_inline: bool,
}

impl Default for RequestParser {
    fn default() -> Self {
        Self::new()
    }
}

impl RequestParser {
    pub fn new() -> Self {
        RequestParser {
            state: State::Idle,
            args: Vec::new(),
            inline: Vec::new(),
            is_inline: false,
        }
    }

    /// Forgets a request in progress: the next `parse` starts at a request boundary.
    pub fn reset(&mut self) {
        self.state = State::Idle;
    }

    /// True when the parser is in the middle of a multibulk request.
    pub fn in_progress(&self) -> bool {
        self.state != State::Idle
    }

    /// Parses the next request from `buf`, which must start where the previous complete
    /// request ended and keep any bytes given to an earlier `Incomplete` call.
    pub fn parse(&mut self, buf: &[u8], limits: &Limits) -> Result<Parsed, ProtocolError> {
        if self.state == State::Idle {
            self.args.clear();
            self.is_inline = false;
            match buf.first() {
                None => return Ok(Parsed::Incomplete),
                Some(b'*') => {}
                Some(_) => return self.parse_inline(buf),
            }
            let Some(line_end) = find_cr(buf) else {
                return if buf.len() > INLINE_MAX_BYTES {
                    Err(ProtocolError::TooBigMultibulkCount)
                } else {
                    Ok(Parsed::Incomplete)
                };
            };
            if line_end + 1 >= buf.len() {
                return Ok(Parsed::Incomplete);
            }
            let count =
                parse_i64(&buf[1..line_end]).ok_or(ProtocolError::InvalidMultibulkLength)?;
            if count > i64::from(i32::MAX) {
                return Err(ProtocolError::InvalidMultibulkLength);
            }
            if count > 10 && limits.auth_required {
                return Err(ProtocolError::UnauthenticatedMultibulkLength);
            }
            let pos = line_end + 2;
            if count <= 0 {
                return Ok(Parsed::Empty(pos));
            }
            self.state = State::Multibulk {
                remaining: count as usize,
                pos,
                bulk_len: None,
            };
        }
        self.parse_bulks(buf, limits)
    }

    fn parse_bulks(&mut self, buf: &[u8], limits: &Limits) -> Result<Parsed, ProtocolError> {
        let State::Multibulk {
            mut remaining,
            mut pos,
            mut bulk_len,
        } = self.state
        else {
            unreachable!("parse_bulks outside a multibulk")
        };
        while remaining > 0 {
            let len = match bulk_len {
                Some(len) => len,
                None => {
                    let rest = &buf[pos..];
                    let Some(line_end) = find_cr(rest) else {
                        if rest.len() > INLINE_MAX_BYTES {
                            return Err(ProtocolError::TooBigBulkCount);
                        }
                        break;
                    };
                    if line_end + 1 >= rest.len() {
                        break;
                    }
                    if rest[0] != b'$' {
                        return Err(ProtocolError::ExpectedDollar(rest[0]));
                    }
                    let len =
                        parse_i64(&rest[1..line_end]).ok_or(ProtocolError::InvalidBulkLength)?;
                    if len < 0 || (!limits.from_master && len as u64 > limits.max_bulk_len) {
                        return Err(ProtocolError::InvalidBulkLength);
                    }
                    if len > 16384 && limits.auth_required {
                        return Err(ProtocolError::UnauthenticatedBulkLength);
                    }
                    pos += line_end + 2;
                    let len = usize::try_from(len).map_err(|_| ProtocolError::InvalidBulkLength)?;
                    bulk_len = Some(len);
                    len
                }
            };
            // Redis skips the two bytes after the payload without checking them.
            match pos.checked_add(len).and_then(|end| end.checked_add(2)) {
                Some(next) if next <= buf.len() => {
                    self.args.push(pos..pos + len);
                    pos = next;
                    bulk_len = None;
                    remaining -= 1;
                }
                _ => break,
            }
        }
        if remaining == 0 {
            self.state = State::Idle;
            return Ok(Parsed::Command(pos));
        }
        self.state = State::Multibulk {
            remaining,
            pos,
            bulk_len,
        };
        Ok(Parsed::Incomplete)
    }

    fn parse_inline(&mut self, buf: &[u8]) -> Result<Parsed, ProtocolError> {
        let Some(newline) = buf.iter().position(|&c| c == b'\n') else {
            return if buf.len() > INLINE_MAX_BYTES {
                Err(ProtocolError::TooBigInline)
            } else {
                Ok(Parsed::Incomplete)
            };
        };
        let line_end = if newline > 0 && buf[newline - 1] == b'\r' {
            newline - 1
        } else {
            newline
        };
        let consumed = newline + 1;
        if line_end == 0 {
            return Ok(Parsed::Newline(consumed));
        }
        let args = split_args(&buf[..line_end]).map_err(|_| ProtocolError::UnbalancedQuotes)?;
        if args.is_empty() {
            return Ok(Parsed::Empty(consumed));
        }
        self.inline.clear();
        for arg in args {
            let start = self.inline.len();
            self.inline.extend_from_slice(&arg);
            self.args.push(start..self.inline.len());
        }
        self.is_inline = true;
        Ok(Parsed::Command(consumed))
    }

    /// The arguments of the command just returned by [`RequestParser::parse`], which must be
    /// given the same buffer.
    pub fn argv<'a>(&'a self, buf: &'a [u8]) -> Argv<'a> {
        let base = if self.is_inline {
            &self.inline[..]
        } else {
            buf
        };
        Argv {
            base,
            ranges: &self.args,
        }
    }

    /// How many bytes a partially received multibulk request has announced it still needs
    /// beyond what is buffered, when the next bulk length is known (for read sizing).
    pub fn pending_bulk_bytes(&self, buffered: usize) -> usize {
        match self.state {
            State::Multibulk {
                pos,
                bulk_len: Some(len),
                ..
            } => (pos + len + 2).saturating_sub(buffered),
            _ => 0,
        }
    }
}

fn find_cr(buf: &[u8]) -> Option<usize> {
    buf.iter().position(|&c| c == b'\r')
}

/// A command's arguments, borrowed from the connection's buffer. `argv[0]` is the name.
#[derive(Clone, Copy)]
pub struct Argv<'a> {
    base: &'a [u8],
    ranges: &'a [Range<usize>],
}

impl<'a> Argv<'a> {
    /// Builds an `Argv` over arguments stored back to back in `base`.
    pub fn new(base: &'a [u8], ranges: &'a [Range<usize>]) -> Self {
        Argv { base, ranges }
    }

    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Argument `i`. Panics when out of range: handlers index only within their arity.
    pub fn get(&self, i: usize) -> &'a [u8] {
        &self.base[self.ranges[i].clone()]
    }

    pub fn try_get(&self, i: usize) -> Option<&'a [u8]> {
        self.ranges.get(i).map(|r| &self.base[r.clone()])
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = &'a [u8]> + 'a {
        let base = self.base;
        self.ranges.iter().map(move |r| &base[r.clone()])
    }

    /// The arguments after the first `n` (ACL DRYRUN checks a command given as arguments).
    pub fn skip(&self, n: usize) -> Argv<'a> {
        Argv {
            base: self.base,
            ranges: &self.ranges[n.min(self.ranges.len())..],
        }
    }

    /// Total bytes of all arguments.
    pub fn total_bytes(&self) -> usize {
        self.ranges.iter().map(|r| r.len()).sum()
    }
}

impl std::fmt::Debug for Argv<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.iter().map(String::from_utf8_lossy))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_forgets_a_partial_request() {
        let mut p = RequestParser::new();
        let limits = Limits::default();
        assert_eq!(
            p.parse(b"*2\r\n$3\r\nGET\r\n", &limits),
            Ok(Parsed::Incomplete)
        );
        assert!(p.in_progress());
        p.reset();
        assert!(!p.in_progress());
        let buf = b"*1\r\n$4\r\nPING\r\n";
        assert_eq!(p.parse(buf, &limits), Ok(Parsed::Command(buf.len())));
        assert_eq!(p.argv(buf).get(0), b"PING");
    }

    fn parse_all(input: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, ProtocolError> {
        let mut p = RequestParser::new();
        let mut out = Vec::new();
        let mut pos = 0;
        loop {
            match p.parse(&input[pos..], &Limits::default())? {
                Parsed::Incomplete => return Ok(out),
                Parsed::Empty(n) | Parsed::Newline(n) => pos += n,
                Parsed::Command(n) => {
                    out.push(p.argv(&input[pos..]).iter().map(|a| a.to_vec()).collect());
                    pos += n;
                }
            }
        }
    }

    #[test]
    fn multibulk_and_inline() {
        let cmds = parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\nset a \"b c\"\n").unwrap();
        assert_eq!(
            cmds,
            vec![
                vec![b"GET".to_vec(), b"k".to_vec()],
                vec![b"PING".to_vec()],
                vec![b"set".to_vec(), b"a".to_vec(), b"b c".to_vec()],
            ]
        );
    }

    #[test]
    fn byte_at_a_time_matches_whole() {
        let input = b"*3\r\n$3\r\nSET\r\n$5\r\nhello\r\n$5\r\nworld\r\n*1\r\n$4\r\nPING\r\n";
        let mut p = RequestParser::new();
        let mut buf = Vec::new();
        let mut got = Vec::new();
        for &b in input.iter() {
            buf.push(b);
            loop {
                match p.parse(&buf, &Limits::default()).unwrap() {
                    Parsed::Command(n) => {
                        got.push(p.argv(&buf).iter().map(|a| a.to_vec()).collect::<Vec<_>>());
                        buf.drain(..n);
                    }
                    Parsed::Empty(n) | Parsed::Newline(n) => {
                        buf.drain(..n);
                    }
                    Parsed::Incomplete => break,
                }
            }
        }
        assert_eq!(got.len(), 2);
        assert_eq!(got[0][2], b"world");
    }

    #[test]
    fn errors_match_redis() {
        assert_eq!(
            parse_all(b"*99999999999\r\n"),
            Err(ProtocolError::InvalidMultibulkLength)
        );
        assert_eq!(
            parse_all(b"*abc\r\n"),
            Err(ProtocolError::InvalidMultibulkLength)
        );
        assert_eq!(
            parse_all(b"*1\r\n$-1\r\n"),
            Err(ProtocolError::InvalidBulkLength)
        );
        assert_eq!(
            parse_all(b"*1\r\n$4294967296\r\n"),
            Err(ProtocolError::InvalidBulkLength)
        );
        assert_eq!(
            parse_all(b"*1\r\nfoo\r\n"),
            Err(ProtocolError::ExpectedDollar(b'f'))
        );
        assert_eq!(
            parse_all(b"\"unbalanced\n"),
            Err(ProtocolError::UnbalancedQuotes)
        );
        assert_eq!(parse_all(&[b'x'; 70000]), Err(ProtocolError::TooBigInline));
        let mut big = b"*".to_vec();
        big.extend_from_slice(&[b'1'; 70000]);
        assert_eq!(parse_all(&big), Err(ProtocolError::TooBigMultibulkCount));
        assert_eq!(
            ProtocolError::ExpectedDollar(b'f').message(),
            "ERR Protocol error: expected '$', got 'f'"
        );
    }

    #[test]
    fn empty_requests_are_skipped() {
        assert_eq!(parse_all(b"*0\r\n*-1\r\n\r\n   \r\n").unwrap().len(), 0);
    }

    #[test]
    fn huge_claims_allocate_nothing_up_front() {
        let mut p = RequestParser::new();
        let input = b"*1000000\r\n$3\r\nfoo\r\n";
        assert_eq!(
            p.parse(input, &Limits::default()).unwrap(),
            Parsed::Incomplete
        );
        assert!(p.args.capacity() < 1000);
    }

    #[test]
    fn unauthenticated_limits() {
        let limits = Limits {
            auth_required: true,
            ..Limits::default()
        };
        let mut p = RequestParser::new();
        assert_eq!(
            p.parse(b"*11\r\n", &limits),
            Err(ProtocolError::UnauthenticatedMultibulkLength)
        );
        let mut p = RequestParser::new();
        assert_eq!(
            p.parse(b"*1\r\n$16385\r\n", &limits),
            Err(ProtocolError::UnauthenticatedBulkLength)
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_garbage(input: Vec<u8>) {
            let _ = parse_all(&input);
        }

        #[test]
        fn encoded_commands_roundtrip(cmds in proptest::collection::vec(
            proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40), 1..6), 1..5),
            split in 0usize..200)
        {
            let mut wire = Vec::new();
            for cmd in &cmds {
                wire.extend_from_slice(format!("*{}\r\n", cmd.len()).as_bytes());
                for arg in cmd {
                    wire.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
                    wire.extend_from_slice(arg);
                    wire.extend_from_slice(b"\r\n");
                }
            }
            // Deliver in two pieces at an arbitrary split point.
            let split = split.min(wire.len());
            let mut p = RequestParser::new();
            let mut buf = wire[..split].to_vec();
            let mut got = Vec::new();
            let mut fed_rest = false;
            loop {
                match p.parse(&buf, &Limits::default()).unwrap() {
                    Parsed::Command(n) => {
                        got.push(p.argv(&buf).iter().map(|a| a.to_vec()).collect::<Vec<_>>());
                        buf.drain(..n);
                    }
                    Parsed::Empty(n) | Parsed::Newline(n) => { buf.drain(..n); }
                    Parsed::Incomplete if !fed_rest => {
                        buf.extend_from_slice(&wire[split..]);
                        fed_rest = true;
                    }
                    Parsed::Incomplete => break,
                }
            }
            proptest::prop_assert_eq!(got, cmds);
        }
    }
}
