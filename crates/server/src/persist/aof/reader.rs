//! Reading commands from an AOF file in RESP form, as Redis's loader reads them: `*<argc>`
//! then `$<len>` and the bytes of each argument; lines starting with `#` are annotations
//! (`#TS:<unix seconds>` timestamps) and are skipped.
//!
//! The file is outside input: a file cut short gives [`ReadError::Truncated`] (the loader may
//! then truncate it, `aof-load-truncated`), anything else malformed [`ReadError::Format`].
//! Nothing is allocated for what the file merely claims: arguments grow as their bytes
//! actually arrive.

use std::io::{BufRead, Read};

/// Longest header or annotation line read at once (Redis reads them with a 1024-byte buffer).
const LINE_MAX_BYTES: usize = 1023;

#[derive(Debug)]
pub enum ReadError {
    /// The file ends in the middle of a command.
    Truncated,
    /// Not the RESP a Redis AOF holds.
    Format,
    Io(std::io::Error),
}

/// Commands of an AOF, one at a time.
pub struct CommandReader<R> {
    inner: R,
    /// Bytes consumed so far, from where the reader started.
    offset: u64,
    line: Vec<u8>,
}

/// One item of the file.
#[derive(Debug, PartialEq, Eq)]
pub enum Entry {
    Command(Vec<Vec<u8>>),
    /// A `#TS:<seconds>` annotation (other annotations are skipped).
    Timestamp(i64),
}

impl<R: BufRead> CommandReader<R> {
    pub fn new(inner: R) -> Self {
        CommandReader {
            inner,
            offset: 0,
            line: Vec::new(),
        }
    }

    /// Bytes consumed so far: after a complete command, where the next one starts.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The next command or annotation; `Ok(None)` at a clean end of file.
    pub fn next_entry(&mut self) -> Result<Option<Entry>, ReadError> {
        loop {
            if !self.read_line()? {
                return Ok(None);
            }
            match self.line.first() {
                Some(b'#') => {
                    if let Some(ts) = self.line.strip_prefix(b"#TS:") {
                        return Ok(Some(Entry::Timestamp(leading_number(ts))));
                    }
                }
                Some(b'*') => return self.command().map(|c| Some(Entry::Command(c))),
                _ => return Err(ReadError::Format),
            }
        }
    }

    fn command(&mut self) -> Result<Vec<Vec<u8>>, ReadError> {
        if self.line.len() == 1 {
            return Err(ReadError::Truncated);
        }
        let argc = leading_number(&self.line[1..]);
        if argc < 1 {
            return Err(ReadError::Format);
        }
        let mut argv = Vec::with_capacity((argc as usize).min(16));
        for _ in 0..argc {
            if !self.read_line()? {
                return Err(ReadError::Truncated);
            }
            if self.line.first() != Some(&b'$') {
                return Err(ReadError::Format);
            }
            let len = leading_number(&self.line[1..]).max(0) as u64;
            let mut arg = Vec::new();
            let got = (&mut self.inner)
                .take(len)
                .read_to_end(&mut arg)
                .map_err(ReadError::Io)?;
            self.offset += got as u64;
            if (got as u64) < len {
                return Err(ReadError::Truncated);
            }
            let mut crlf = [0u8; 2];
            self.read_exact_counted(&mut crlf)?;
            argv.push(arg);
        }
        Ok(argv)
    }

    fn read_exact_counted(&mut self, buf: &mut [u8]) -> Result<(), ReadError> {
        match self.inner.read_exact(buf) {
            Ok(()) => {
                self.offset += buf.len() as u64;
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(ReadError::Truncated),
            Err(e) => Err(ReadError::Io(e)),
        }
    }

    /// Reads one line (up to and including `\n`, at most [`LINE_MAX_BYTES`]). False at end
    /// of file.
    fn read_line(&mut self) -> Result<bool, ReadError> {
        self.line.clear();
        let n = (&mut self.inner)
            .take(LINE_MAX_BYTES as u64)
            .read_until(b'\n', &mut self.line)
            .map_err(ReadError::Io)?;
        self.offset += n as u64;
        Ok(n > 0)
    }
}

/// The integer at the start of `s`, as C's `atoi`/`strtol` read it after their whitespace
/// (0 when none; saturating). Shared with the manifest's `seq` field.
pub(super) fn leading_number(s: &[u8]) -> i64 {
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut n: i64 = 0;
    for &c in digits.iter().take_while(|c| c.is_ascii_digit()) {
        n = n.saturating_mul(10).saturating_add(i64::from(c - b'0'));
    }
    if neg {
        -n
    } else {
        n
    }
}

/// Reads every entry of `bytes` until the end or an error (fuzzing and tests).
pub fn read_all(bytes: &[u8]) -> (Vec<Entry>, Option<ReadError>) {
    let mut r = CommandReader::new(bytes);
    let mut out = Vec::new();
    loop {
        match r.next_entry() {
            Ok(Some(e)) => out.push(e),
            Ok(None) => return (out, None),
            Err(e) => return (out, Some(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::txn::encode_command;
    use proptest::prelude::*;

    fn encode(cmds: &[Vec<Vec<u8>>]) -> Vec<u8> {
        let mut out = Vec::new();
        for c in cmds {
            let args: Vec<&[u8]> = c.iter().map(Vec::as_slice).collect();
            encode_command(&args, &mut out);
        }
        out
    }

    #[test]
    fn reads_commands_and_annotations() {
        let text =
            b"#TS:1628217470\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n#other\r\n*1\r\n$4\r\nPING\r\n";
        let (entries, err) = read_all(text);
        assert!(err.is_none());
        assert_eq!(entries[0], Entry::Timestamp(1628217470));
        assert_eq!(entries[2], Entry::Command(vec![b"PING".to_vec()]));
    }

    #[test]
    fn tells_truncation_from_garbage() {
        assert!(matches!(
            read_all(b"*2\r\n$3\r\nSET\r\n$1").1,
            Some(ReadError::Truncated)
        ));
        assert!(matches!(
            read_all(b"*1\r\n$3\r\nSE").1,
            Some(ReadError::Truncated)
        ));
        assert!(matches!(read_all(b"*").1, Some(ReadError::Truncated)));
        assert!(matches!(
            read_all(b"garbage\r\n").1,
            Some(ReadError::Format)
        ));
        assert!(matches!(read_all(b"*0\r\n").1, Some(ReadError::Format)));
        assert!(matches!(
            read_all(b"*1\r\nfoo\r\n").1,
            Some(ReadError::Format)
        ));
        // A huge claimed length allocates nothing up front.
        assert!(matches!(
            read_all(b"*1\r\n$999999999999\r\nab").1,
            Some(ReadError::Truncated)
        ));
        assert!(matches!(
            read_all(b"*999999999999\r\n").1,
            Some(ReadError::Truncated)
        ));
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = read_all(&bytes);
        }

        #[test]
        fn round_trips_and_every_cut_is_truncation(
            cmds in proptest::collection::vec(
                proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..20), 1..4), 1..5),
            cut in any::<prop::sample::Index>(),
        ) {
            let bytes = encode(&cmds);
            let (entries, err) = read_all(&bytes);
            prop_assert!(err.is_none());
            let expected: Vec<Entry> = cmds.iter().cloned().map(Entry::Command).collect();
            prop_assert_eq!(entries, expected);
            let at = cut.index(bytes.len());
            let (_, err) = read_all(&bytes[..at]);
            prop_assert!(at == 0 || matches!(err, Some(ReadError::Truncated)) || err.is_none());
        }
    }
}
