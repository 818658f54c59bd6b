//! The reader's byte source: RDB's primitive encodings (lengths, strings, doubles) over any
//! `std::io::Read`, with the byte offset and the running CRC64 kept up to date.
//!
//! Invariants: every byte read passes through [`Input::read_exact`], so the offset and the
//! checksum always cover exactly the bytes consumed; nothing reads past what it needs, so a
//! caller can continue after the RDB data (the AOF tail after an RDB preamble); and no
//! allocation is sized by a length the data merely claims: strings grow in chunks as their
//! bytes actually arrive, and LZF output is bounded by the compressed bytes actually read.

use std::io::{self, Read};

use crate::crc64::{Digest, CRC64};
use crate::error::{Error, Result};
use crate::format::*;
use crate::lzf;

/// Bytes read at once for a long string.
const CHUNK_BYTES: usize = 64 * 1024;

/// An RDB length field: a count, or the marker of a specially encoded string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Length {
    Plain(u64),
    Encoded(u8),
}

pub(crate) struct Input<R> {
    inner: R,
    offset: u64,
    digest: Option<Digest>,
}

impl<R: Read> Input<R> {
    pub fn new(inner: R, checksum: bool) -> Input<R> {
        Input {
            inner,
            offset: 0,
            digest: checksum.then(|| CRC64.digest()),
        }
    }

    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The CRC64 of everything read so far (`None` when not computed).
    pub fn checksum(&self) -> Option<u64> {
        self.digest.clone().map(Digest::finalize)
    }

    pub fn into_inner(self) -> R {
        self.inner
    }

    pub fn read_exact(&mut self, buf: &mut [u8], what: &'static str) -> Result<()> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.inner.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => {
                    self.consumed(&buf[..filled]);
                    return Err(Error::Io {
                        offset: self.offset,
                        source,
                    });
                }
            }
        }
        self.consumed(&buf[..filled]);
        if filled < buf.len() {
            return Err(Error::Truncated {
                offset: self.offset,
                what,
            });
        }
        Ok(())
    }

    fn consumed(&mut self, bytes: &[u8]) {
        self.offset += bytes.len() as u64;
        if let Some(d) = &mut self.digest {
            d.update(bytes);
        }
    }

    pub fn u8(&mut self, what: &'static str) -> Result<u8> {
        let mut b = [0u8; 1];
        self.read_exact(&mut b, what)?;
        Ok(b[0])
    }

    pub fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N]> {
        let mut b = [0u8; N];
        self.read_exact(&mut b, what)?;
        Ok(b)
    }

    /// A little-endian signed 64-bit integer (millisecond times).
    pub fn i64_le(&mut self, what: &'static str) -> Result<i64> {
        Ok(i64::from_le_bytes(self.array(what)?))
    }

    /// An RDB length field (`rdbLoadLenByRef`).
    pub fn length(&mut self, what: &'static str) -> Result<Length> {
        let at = self.offset;
        let first = self.u8(what)?;
        let len = match first >> 6 {
            LEN_ENCODED => return Ok(Length::Encoded(first & 0x3F)),
            LEN_6BIT => u64::from(first & 0x3F),
            LEN_14BIT => u64::from(first & 0x3F) << 8 | u64::from(self.u8(what)?),
            _ => match first {
                LEN_32BIT => u64::from(u32::from_be_bytes(self.array(what)?)),
                LEN_64BIT => u64::from_be_bytes(self.array(what)?),
                _ => {
                    return Err(Error::corrupt(
                        at,
                        format!("unknown length encoding 0x{first:02x} in {what}"),
                    ))
                }
            },
        };
        Ok(Length::Plain(len))
    }

    /// A length that must be a plain count.
    pub fn len(&mut self, what: &'static str) -> Result<u64> {
        let at = self.offset;
        match self.length(what)? {
            Length::Plain(n) => Ok(n),
            Length::Encoded(_) => Err(Error::corrupt(
                at,
                format!("{what} is an encoded string, not a length"),
            )),
        }
    }

    /// An RDB string (`rdbGenericLoadStringObject`): raw, integer-encoded (returned in
    /// decimal), or LZF-compressed.
    pub fn string(&mut self, what: &'static str) -> Result<Vec<u8>> {
        let at = self.offset;
        match self.length(what)? {
            Length::Plain(len) => self.bytes(len, what),
            Length::Encoded(ENC_INT8) => {
                Ok(i64::from(self.u8(what)? as i8).to_string().into_bytes())
            }
            Length::Encoded(ENC_INT16) => Ok(i64::from(i16::from_le_bytes(self.array(what)?))
                .to_string()
                .into_bytes()),
            Length::Encoded(ENC_INT32) => Ok(i64::from(i32::from_le_bytes(self.array(what)?))
                .to_string()
                .into_bytes()),
            Length::Encoded(ENC_LZF) => self.lzf_string(at, what),
            Length::Encoded(other) => Err(Error::corrupt(
                at,
                format!("unknown string encoding {other} in {what}"),
            )),
        }
    }

    /// `len` raw bytes, read in chunks so a false length costs no more than the real data.
    pub fn bytes(&mut self, len: u64, what: &'static str) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(len.min(CHUNK_BYTES as u64) as usize);
        let mut remaining = len;
        while remaining > 0 {
            let n = remaining.min(CHUNK_BYTES as u64) as usize;
            let start = out.len();
            out.resize(start + n, 0);
            self.read_exact(&mut out[start..], what)?;
            remaining -= n as u64;
        }
        Ok(out)
    }

    fn lzf_string(&mut self, at: u64, what: &'static str) -> Result<Vec<u8>> {
        let compressed_len = self.len(what)?;
        let len = self.len(what)?;
        let compressed = self.bytes(compressed_len, what)?;
        if len > compressed_len.saturating_mul(lzf::MAX_EXPANSION) {
            return Err(Error::corrupt(
                at,
                format!("LZF {what} claims {len} bytes from {compressed_len} compressed bytes"),
            ));
        }
        let mut out = Vec::with_capacity(len as usize);
        lzf::decompress(&compressed, len as usize, &mut out)
            .map_err(|e| Error::corrupt(at, format!("{} in {what}", e.describe())))?;
        Ok(out)
    }

    /// A double as text with a length byte (RDB type 3 scores, `rdbLoadDoubleValue`).
    pub fn text_double(&mut self, what: &'static str) -> Result<f64> {
        let at = self.offset;
        match self.u8(what)? {
            DOUBLE_NAN => Ok(f64::NAN),
            DOUBLE_POS_INF => Ok(f64::INFINITY),
            DOUBLE_NEG_INF => Ok(f64::NEG_INFINITY),
            len => {
                let text = self.bytes(u64::from(len), what)?;
                parse_double(&text).ok_or_else(|| {
                    Error::corrupt(
                        at,
                        format!(
                            "{what} is not a number: {:?}",
                            String::from_utf8_lossy(&text)
                        ),
                    )
                })
            }
        }
    }

    /// A little-endian IEEE 754 double (RDB type 5 scores).
    pub fn binary_double(&mut self, what: &'static str) -> Result<f64> {
        Ok(f64::from_le_bytes(self.array(what)?))
    }
}

/// Parses a double written by C's `%.17g` (or `inf`, `-inf`, `nan`).
pub(crate) fn parse_double(text: &[u8]) -> Option<f64> {
    std::str::from_utf8(text).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(bytes: &[u8]) -> Input<&[u8]> {
        Input::new(bytes, true)
    }

    #[test]
    fn lengths_in_every_width() {
        let mut i = input(&[
            0x3F, 0x41, 0x02, 0x80, 0, 1, 0, 0, 0x81, 0, 0, 0, 1, 0, 0, 0, 0, 0xC3,
        ]);
        assert_eq!(i.length("t").unwrap(), Length::Plain(63));
        assert_eq!(i.length("t").unwrap(), Length::Plain(0x102));
        assert_eq!(i.length("t").unwrap(), Length::Plain(0x10000));
        assert_eq!(i.length("t").unwrap(), Length::Plain(1 << 32));
        assert_eq!(i.length("t").unwrap(), Length::Encoded(3));
        assert!(matches!(
            input(&[0x82]).length("t"),
            Err(Error::Corrupt { offset: 0, .. })
        ));
    }

    #[test]
    fn integer_strings() {
        let mut i = input(&[0xC0, 0x80, 0xC1, 0x00, 0x80, 0xC2, 0xFF, 0xFF, 0xFF, 0x7F]);
        assert_eq!(i.string("s").unwrap(), b"-128");
        assert_eq!(i.string("s").unwrap(), b"-32768");
        assert_eq!(i.string("s").unwrap(), b"2147483647");
        assert!(input(&[0xC4]).string("s").is_err());
    }

    #[test]
    fn a_false_length_costs_only_the_real_bytes() {
        // A 64-bit length of 2^62 followed by three bytes.
        let bytes = [0x81, 0x40, 0, 0, 0, 0, 0, 0, 0, b'a', b'b', b'c'];
        match input(&bytes).string("a key") {
            Err(Error::Truncated {
                offset: 12,
                what: "a key",
            }) => {}
            other => panic!("{other:?}"),
        }
        // An LZF string claiming a huge expansion of three bytes.
        let bytes = [
            0xC3, 0x03, 0x81, 0x40, 0, 0, 0, 0, 0, 0, 0, 0x00, b'a', b'b',
        ];
        assert!(matches!(
            input(&bytes).string("v"),
            Err(Error::Corrupt { offset: 0, .. })
        ));
    }

    #[test]
    fn lzf_strings() {
        let mut packed = Vec::new();
        let text = b"hello hello hello hello hello".to_vec();
        assert!(lzf::Compressor::new().compress(&text, usize::MAX, &mut packed));
        let mut bytes = vec![0xC3, packed.len() as u8, text.len() as u8];
        bytes.extend_from_slice(&packed);
        assert_eq!(input(&bytes).string("v").unwrap(), text);
    }

    #[test]
    fn doubles() {
        let mut i = input(b"\xFD\xFE\xFF\x031.5\x04-inf");
        assert!(i.text_double("d").unwrap().is_nan());
        assert_eq!(i.text_double("d").unwrap(), f64::INFINITY);
        assert_eq!(i.text_double("d").unwrap(), f64::NEG_INFINITY);
        assert_eq!(i.text_double("d").unwrap(), 1.5);
        assert_eq!(i.text_double("d").unwrap(), f64::NEG_INFINITY);
        assert!(input(b"\x03abc").text_double("d").is_err());
    }

    #[test]
    fn offset_and_checksum_cover_what_was_read() {
        let mut i = input(b"123456789tail");
        i.bytes(9, "x").unwrap();
        assert_eq!(i.offset(), 9);
        assert_eq!(i.checksum(), Some(0xe9c6d914c4b8d9ca));
        assert_eq!(i.into_inner(), b"tail");
    }
}
