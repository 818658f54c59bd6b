//! Parsers for what a replica reads from its master before the command stream: the reply to
//! PSYNC (`+FULLRESYNC <replid> <offset>`, `+CONTINUE [<replid>]`, errors) and the header of
//! the RDB transfer (`$<length>` for a disk-based transfer, `$EOF:<40-byte mark>` for a
//! diskless one), plus the scanner that finds the end of a diskless transfer.
//!
//! Everything here is outside input: lines are bounded ([`MAX_LINE_BYTES`]), numbers are
//! checked, and nothing is allocated from a length the peer merely announces.

/// The longest handshake line accepted (Redis's replies are far shorter).
pub const MAX_LINE_BYTES: usize = 4096;

/// Length of a replication id and of the diskless EOF mark.
pub const ID_LEN: usize = 40;

/// The master's answer to PSYNC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PsyncReply {
    /// Full resync: the RDB that follows is the dataset at `offset` of history `replid`.
    FullResync { replid: String, offset: i64 },
    /// Partial resync; a PSYNC2 master names its (possibly new) replication id.
    Continue { replid: Option<String> },
    /// `-NOMASTERLINK`, `-LOADING`: the master cannot serve us now; try again later.
    TryLater(String),
    /// Any other error (an old master without PSYNC, a refusal).
    Error(String),
}

/// Parses the PSYNC reply line (without its CRLF).
pub fn parse_psync_reply(line: &[u8]) -> Result<PsyncReply, String> {
    let text = std::str::from_utf8(line).map_err(|_| "PSYNC reply is not text".to_string())?;
    if let Some(rest) = text.strip_prefix("+FULLRESYNC") {
        let mut parts = rest.split_ascii_whitespace();
        let (Some(id), Some(off), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!(
                "Master replied with wrong +FULLRESYNC syntax: {text}"
            ));
        };
        let offset = off
            .parse::<i64>()
            .ok()
            .filter(|o| *o >= 0)
            .ok_or_else(|| format!("Master replied with a bad offset: {text}"))?;
        if !is_replid(id) {
            return Err(format!("Master replied with a bad replication id: {text}"));
        }
        return Ok(PsyncReply::FullResync {
            replid: id.to_string(),
            offset,
        });
    }
    if let Some(rest) = text.strip_prefix("+CONTINUE") {
        let id = rest.trim();
        if id.is_empty() {
            return Ok(PsyncReply::Continue { replid: None });
        }
        if !is_replid(id) {
            return Err(format!("Master replied with a bad replication id: {text}"));
        }
        return Ok(PsyncReply::Continue {
            replid: Some(id.to_string()),
        });
    }
    if text.starts_with("-NOMASTERLINK") || text.starts_with("-LOADING") {
        return Ok(PsyncReply::TryLater(text.to_string()));
    }
    if text.starts_with('-') {
        return Ok(PsyncReply::Error(text.to_string()));
    }
    Err(format!("Unexpected reply to PSYNC from master: {text}"))
}

/// True for a 40-character hexadecimal replication id.
pub fn is_replid(id: &str) -> bool {
    id.len() == ID_LEN && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// How the RDB transfer is framed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BulkHeader {
    /// Disk-based: exactly this many bytes follow.
    Length(u64),
    /// Diskless: bytes follow until this 40-byte mark ends the transfer.
    Eof([u8; ID_LEN]),
}

/// Parses the transfer header line (without its CRLF).
pub fn parse_bulk_header(line: &[u8]) -> Result<BulkHeader, String> {
    if line.first() == Some(&b'-') {
        return Err(format!(
            "MASTER aborted replication with an error: {}",
            String::from_utf8_lossy(line)
        ));
    }
    let Some(rest) = line.strip_prefix(b"$") else {
        return Err(format!(
            "Bad protocol from MASTER, the first byte is not '$' (we received '{}'), are you sure the host and port are right?",
            String::from_utf8_lossy(line)
        ));
    };
    if let Some(mark) = rest.strip_prefix(b"EOF:") {
        let mark: [u8; ID_LEN] = mark
            .try_into()
            .map_err(|_| "Bad EOF mark in the transfer header".to_string())?;
        return Ok(BulkHeader::Eof(mark));
    }
    std::str::from_utf8(rest)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .map(BulkHeader::Length)
        .ok_or_else(|| "Bad transfer length from MASTER".to_string())
}

/// Finds the end of a diskless transfer: passes bytes through, holding back the last
/// [`ID_LEN`] seen, and reports when those are the mark.
pub struct EofScanner {
    mark: [u8; ID_LEN],
    tail: Vec<u8>,
}

impl EofScanner {
    pub fn new(mark: [u8; ID_LEN]) -> Self {
        EofScanner {
            mark,
            tail: Vec::with_capacity(2 * ID_LEN),
        }
    }

    /// Takes `input`; appends to `out` the bytes now known to be payload. Returns true when
    /// what was received so far ends with the mark (the mark itself is never output). This
    /// is exact because a master sends nothing after the mark until the replica's first
    /// REPLCONF ACK.
    pub fn push(&mut self, input: &[u8], out: &mut Vec<u8>) -> bool {
        self.tail.extend_from_slice(input);
        if self.tail.len() > ID_LEN {
            let release = self.tail.len() - ID_LEN;
            out.extend_from_slice(&self.tail[..release]);
            self.tail.drain(..release);
        }
        self.tail.len() == ID_LEN && self.tail[..] == self.mark[..]
    }
}

/// Reads one CRLF- (or LF-) terminated line from `buf`, returning it and the bytes it used,
/// or `Ok(None)` if incomplete. A line longer than [`MAX_LINE_BYTES`] is an error.
pub fn take_line(buf: &[u8]) -> Result<Option<(&[u8], usize)>, String> {
    match buf.iter().position(|&b| b == b'\n') {
        Some(i) if i <= MAX_LINE_BYTES => {
            let line = &buf[..i];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            Ok(Some((line, i + 1)))
        }
        Some(_) => Err("line from master too long".into()),
        None if buf.len() > MAX_LINE_BYTES => Err("line from master too long".into()),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn psync_replies() {
        let id = "a".repeat(40);
        assert_eq!(
            parse_psync_reply(format!("+FULLRESYNC {id} 42").as_bytes()),
            Ok(PsyncReply::FullResync {
                replid: id.clone(),
                offset: 42
            })
        );
        assert_eq!(
            parse_psync_reply(b"+CONTINUE"),
            Ok(PsyncReply::Continue { replid: None })
        );
        assert_eq!(
            parse_psync_reply(format!("+CONTINUE {id}").as_bytes()),
            Ok(PsyncReply::Continue { replid: Some(id) })
        );
        assert!(matches!(
            parse_psync_reply(b"-NOMASTERLINK Can't SYNC while not connected with my master"),
            Ok(PsyncReply::TryLater(_))
        ));
        assert!(parse_psync_reply(b"+FULLRESYNC abc 1").is_err());
        assert!(parse_psync_reply(b"+FULLRESYNC").is_err());
    }

    #[test]
    fn bulk_headers() {
        assert_eq!(parse_bulk_header(b"$123"), Ok(BulkHeader::Length(123)));
        let mark = [b'x'; 40];
        let mut line = b"$EOF:".to_vec();
        line.extend_from_slice(&mark);
        assert_eq!(parse_bulk_header(&line), Ok(BulkHeader::Eof(mark)));
        assert!(parse_bulk_header(b"$EOF:short").is_err());
        assert!(parse_bulk_header(b"$-1").is_err());
        assert!(parse_bulk_header(b"+OK").is_err());
    }

    proptest! {
        #[test]
        fn parsers_never_panic(line in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_psync_reply(&line);
            let _ = parse_bulk_header(&line);
            let _ = take_line(&line);
        }

        #[test]
        fn eof_scanner_recovers_payload(
            payload in proptest::collection::vec(any::<u8>(), 0..2000),
            cuts in proptest::collection::vec(1usize..300, 1..20),
        ) {
            let mark = [b'm'; 40];
            let mut wire = payload.clone();
            wire.extend_from_slice(&mark);
            let mut scanner = EofScanner::new(mark);
            let mut out = Vec::new();
            let mut at = 0;
            let mut done = false;
            let mut i = 0;
            while at < wire.len() && !done {
                let n = cuts[i % cuts.len()].min(wire.len() - at);
                // Feed byte by byte near the end so the scanner sees the mark exactly.
                let step = if wire.len() - at <= 40 + n { 1 } else { n };
                done = scanner.push(&wire[at..at + step], &mut out);
                at += step;
                i += 1;
            }
            // The mark may occur inside the payload; then the scanner stops there.
            prop_assert!(done);
            prop_assert!(payload.starts_with(&out) || out == payload);
        }
    }
}
