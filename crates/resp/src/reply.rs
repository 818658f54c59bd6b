//! Reply encoding into a reusable buffer, in RESP2 or RESP3.
//!
//! Handlers write replies in RESP3 terms (maps, sets, doubles, nulls, pushes); the buffer
//! lowers them to RESP2 when the connection has not sent `HELLO 3`, exactly as Redis does:
//! a map becomes a flat array, a double a bulk string, a null `$-1` (or `*-1` for a null
//! array), a boolean an integer.

use crate::number::{format_g17, push_i64};

/// An output buffer plus the protocol version of its connection.
#[derive(Debug, Default)]
pub struct ReplyBuf {
    buf: Vec<u8>,
    resp3: bool,
}

/// A placeholder for an aggregate length not known in advance; see [`ReplyBuf::begin_deferred`].
#[derive(Debug)]
#[must_use]
pub struct Deferred {
    pos: usize,
}

impl ReplyBuf {
    pub fn new() -> Self {
        ReplyBuf {
            buf: Vec::with_capacity(16 * 1024),
            resp3: false,
        }
    }

    pub fn set_resp3(&mut self, on: bool) {
        self.resp3 = on;
    }

    pub fn is_resp3(&self) -> bool {
        self.resp3
    }

    pub fn protocol(&self) -> i64 {
        if self.resp3 {
            3
        } else {
            2
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Bytes allocated for the buffer (CLIENT LIST `rbs`).
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    pub fn clear(&mut self) {
        self.buf.clear();
    }

    /// Drops everything written after `len` (used to undo a partial reply).
    pub fn truncate(&mut self, len: usize) {
        self.buf.truncate(len);
    }

    /// Takes the bytes out, leaving an empty buffer with the same protocol.
    pub fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }

    /// Gives back a buffer taken with [`ReplyBuf::take`], emptied, to reuse its allocation.
    pub fn restore(&mut self, mut buf: Vec<u8>) {
        buf.clear();
        if self.buf.capacity() < buf.capacity() {
            self.buf = buf;
        }
    }

    /// Shrinks a buffer that grew very large back to its usual size.
    pub fn shrink(&mut self) {
        if self.buf.is_empty() && self.buf.capacity() > 1024 * 1024 {
            self.buf = Vec::with_capacity(16 * 1024);
        }
    }

    /// Appends bytes that are already RESP.
    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }

    /// `+text`. The text must not contain CR or LF.
    pub fn simple(&mut self, text: &str) {
        self.simple_bytes(text.as_bytes());
    }

    pub fn simple_bytes(&mut self, text: &[u8]) {
        self.buf.push(b'+');
        self.buf.extend_from_slice(text);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// `-text`: `text` starts with the error code (`ERR ...`, `WRONGTYPE ...`). Newlines in
    /// the text are replaced by spaces so the reply stays one line, as Redis does.
    pub fn error(&mut self, text: &str) {
        self.buf.push(b'-');
        let start = self.buf.len();
        self.buf.extend_from_slice(text.as_bytes());
        for c in &mut self.buf[start..] {
            if *c == b'\r' || *c == b'\n' {
                *c = b' ';
            }
        }
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn int(&mut self, v: i64) {
        self.buf.push(b':');
        push_i64(&mut self.buf, v);
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn bulk(&mut self, data: &[u8]) {
        self.header(b'$', data.len());
        self.buf.extend_from_slice(data);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// A bulk string holding the decimal form of `v`.
    pub fn bulk_i64(&mut self, v: i64) {
        let mut b = itoa::Buffer::new();
        self.bulk(b.format(v).as_bytes());
    }

    /// A bulk string holding the decimal form of an unsigned `v`.
    pub fn bulk_i64_u(&mut self, v: u64) {
        let mut b = itoa::Buffer::new();
        self.bulk(b.format(v).as_bytes());
    }

    /// A null bulk string (RESP2 `$-1`, RESP3 `_`).
    pub fn null(&mut self) {
        self.buf
            .extend_from_slice(if self.resp3 { b"_\r\n" } else { b"$-1\r\n" });
    }

    /// A null array (RESP2 `*-1`, RESP3 `_`).
    pub fn null_array(&mut self) {
        self.buf
            .extend_from_slice(if self.resp3 { b"_\r\n" } else { b"*-1\r\n" });
    }

    pub fn array(&mut self, len: usize) {
        self.header(b'*', len);
    }

    /// A map of `len` pairs (RESP2: an array of `2 * len` elements).
    pub fn map(&mut self, len: usize) {
        if self.resp3 {
            self.header(b'%', len);
        } else {
            self.header(b'*', len * 2);
        }
    }

    /// A set (RESP2: an array).
    pub fn set(&mut self, len: usize) {
        self.header(if self.resp3 { b'~' } else { b'*' }, len);
    }

    /// An out-of-band push (RESP2: an array).
    pub fn push(&mut self, len: usize) {
        self.header(if self.resp3 { b'>' } else { b'*' }, len);
    }

    /// An attribute map (RESP3 only; nothing in RESP2).
    pub fn attribute(&mut self, len: usize) {
        self.header(b'|', len);
    }

    /// A double: RESP3 `,`, RESP2 a bulk string, both formatted like `%.17g`.
    pub fn double(&mut self, v: f64) {
        let mut text = Vec::with_capacity(24);
        format_g17(v, &mut text);
        if self.resp3 {
            self.buf.push(b',');
            self.buf.extend_from_slice(&text);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(&text);
        }
    }

    /// A double whose text is already formatted (RESP3 `,`, RESP2 bulk).
    pub fn double_text(&mut self, text: &[u8]) {
        if self.resp3 {
            self.buf.push(b',');
            self.buf.extend_from_slice(text);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(text);
        }
    }

    /// A boolean: RESP3 `#t`/`#f`, RESP2 `:1`/`:0`.
    pub fn bool(&mut self, v: bool) {
        if self.resp3 {
            self.buf
                .extend_from_slice(if v { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(i64::from(v));
        }
    }

    /// A verbatim string: RESP3 `=len\r\nfmt:text`, RESP2 a bulk string.
    pub fn verbatim(&mut self, format: &str, text: &[u8]) {
        if self.resp3 {
            self.header(b'=', text.len() + 4);
            self.buf.extend_from_slice(format.as_bytes());
            self.buf.push(b':');
            self.buf.extend_from_slice(text);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(text);
        }
    }

    /// A big number: RESP3 `(`, RESP2 a bulk string.
    pub fn big_number(&mut self, digits: &[u8]) {
        if self.resp3 {
            self.buf.push(b'(');
            self.buf.extend_from_slice(digits);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(digits);
        }
    }

    /// An array of bulk strings.
    pub fn bulks<'a>(&mut self, items: impl ExactSizeIterator<Item = &'a [u8]>) {
        self.array(items.len());
        for item in items {
            self.bulk(item);
        }
    }

    /// Starts an aggregate whose length is not known yet. Write the elements, then call
    /// [`ReplyBuf::finish_array`] (or `finish_map`, `finish_set`) with the count.
    pub fn begin_deferred(&mut self) -> Deferred {
        Deferred {
            pos: self.buf.len(),
        }
    }

    pub fn finish_array(&mut self, d: Deferred, len: usize) {
        self.insert_header(d, b'*', len);
    }

    pub fn finish_map(&mut self, d: Deferred, pairs: usize) {
        if self.resp3 {
            self.insert_header(d, b'%', pairs);
        } else {
            self.insert_header(d, b'*', pairs * 2);
        }
    }

    pub fn finish_set(&mut self, d: Deferred, len: usize) {
        let kind = if self.resp3 { b'~' } else { b'*' };
        self.insert_header(d, kind, len);
    }

    fn insert_header(&mut self, d: Deferred, kind: u8, len: usize) {
        let mut header = Vec::with_capacity(24);
        header.push(kind);
        push_i64(&mut header, len as i64);
        header.extend_from_slice(b"\r\n");
        self.buf.splice(d.pos..d.pos, header);
    }

    fn header(&mut self, kind: u8, len: usize) {
        self.buf.push(kind);
        push_i64(&mut self.buf, len as i64);
        self.buf.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resp2_lowering() {
        let mut r = ReplyBuf::new();
        r.map(1);
        r.bulk(b"k");
        r.double(1.5);
        r.null();
        r.null_array();
        r.bool(true);
        assert_eq!(
            r.as_bytes(),
            b"*2\r\n$1\r\nk\r\n$3\r\n1.5\r\n$-1\r\n*-1\r\n:1\r\n"
        );
    }

    #[test]
    fn resp3_types() {
        let mut r = ReplyBuf::new();
        r.set_resp3(true);
        r.map(1);
        r.bulk(b"k");
        r.double(1.5);
        r.null();
        r.bool(false);
        r.verbatim("txt", b"hi");
        assert_eq!(
            r.as_bytes(),
            b"%1\r\n$1\r\nk\r\n,1.5\r\n_\r\n#f\r\n=6\r\ntxt:hi\r\n"
        );
    }

    #[test]
    fn deferred_lengths() {
        let mut r = ReplyBuf::new();
        r.int(1);
        let d = r.begin_deferred();
        r.bulk(b"a");
        r.bulk(b"b");
        r.finish_array(d, 2);
        assert_eq!(r.as_bytes(), b":1\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n");
    }

    #[test]
    fn errors_stay_on_one_line() {
        let mut r = ReplyBuf::new();
        r.error("ERR bad\r\nthing");
        assert_eq!(r.as_bytes(), b"-ERR bad  thing\r\n");
    }
}
