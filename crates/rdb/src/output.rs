//! The writer's byte sink: RDB's primitive encodings over any `std::io::Write`, with the byte
//! count and the running CRC64 kept up to date.
//!
//! Strings are encoded exactly as Redis's `rdbSaveRawString` decides: a canonical integer of
//! at most 11 characters that fits 32 bits as an integer; otherwise, with compression on and
//! more than 20 bytes, LZF if that saves at least 4 bytes; otherwise raw.

use std::io::Write;

use crate::crc64::{Digest, CRC64};
use crate::error::{Error, Result};
use crate::format::*;
use crate::lzf::Compressor;

pub(crate) struct Output<W> {
    inner: W,
    offset: u64,
    digest: Option<Digest>,
    /// LZF state and scratch space, present when compression is on.
    lzf: Option<(Compressor, Vec<u8>)>,
}

impl<W: Write> Output<W> {
    pub fn new(inner: W, checksum: bool, compression: bool) -> Output<W> {
        Output {
            inner,
            offset: 0,
            digest: checksum.then(|| CRC64.digest()),
            lzf: compression.then(|| (Compressor::new(), Vec::new())),
        }
    }

    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The CRC64 of everything written so far (0 when checksums are off, as Redis writes).
    pub fn checksum(&self) -> u64 {
        self.digest.clone().map_or(0, Digest::finalize)
    }

    pub fn inner_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    pub fn into_inner(self) -> W {
        self.inner
    }

    pub fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.inner.write_all(bytes).map_err(|source| Error::Io {
            offset: self.offset,
            source,
        })?;
        self.offset += bytes.len() as u64;
        if let Some(d) = &mut self.digest {
            d.update(bytes);
        }
        Ok(())
    }

    pub fn u8(&mut self, b: u8) -> Result<()> {
        self.write(&[b])
    }

    /// An RDB length field (`rdbSaveLen`), in the shortest form.
    pub fn len(&mut self, len: u64) -> Result<()> {
        if len < 1 << 6 {
            self.u8(len as u8)
        } else if len < 1 << 14 {
            self.write(&[(LEN_14BIT << 6) | (len >> 8) as u8, len as u8])
        } else if let Ok(len32) = u32::try_from(len) {
            self.u8(LEN_32BIT)?;
            self.write(&len32.to_be_bytes())
        } else {
            self.u8(LEN_64BIT)?;
            self.write(&len.to_be_bytes())
        }
    }

    pub fn i64_le(&mut self, v: i64) -> Result<()> {
        self.write(&v.to_le_bytes())
    }

    pub fn binary_double(&mut self, v: f64) -> Result<()> {
        self.write(&v.to_le_bytes())
    }

    /// An RDB string, in the encoding Redis would choose for it.
    pub fn string(&mut self, s: &[u8]) -> Result<()> {
        if s.len() <= 11 {
            if let Some(v) = crate::number::parse_i64(s) {
                if let Some(encoded) = encode_int(v) {
                    return self.write(&encoded.0[..encoded.1]);
                }
            }
        }
        if s.len() > 20 && self.try_lzf(s)? {
            return Ok(());
        }
        self.len(s.len() as u64)?;
        self.write(s)
    }

    /// Writes `s` LZF-compressed if compression is on and it saves at least 4 bytes.
    fn try_lzf(&mut self, s: &[u8]) -> Result<bool> {
        let Some((mut compressor, mut packed)) = self.lzf.take() else {
            return Ok(false);
        };
        let saved = compressor.compress(s, s.len() - 4, &mut packed);
        let mut result = Ok(saved);
        if saved {
            result = self.lzf_blob(&packed, s.len()).map(|()| true);
        }
        self.lzf = Some((compressor, packed));
        result
    }

    /// An already LZF-compressed string (a compressed quicklist node kept as it is).
    pub fn lzf_blob(&mut self, packed: &[u8], original_len: usize) -> Result<()> {
        self.u8(LEN_ENCODED << 6 | ENC_LZF)?;
        self.len(packed.len() as u64)?;
        self.len(original_len as u64)?;
        self.write(packed)
    }
}

/// The integer string encoding of `v` (`rdbEncodeInteger`), if it fits 32 bits.
fn encode_int(v: i64) -> Option<([u8; 5], usize)> {
    let mut b = [0u8; 5];
    let le = v.to_le_bytes();
    let width = if i8::try_from(v).is_ok() {
        b[0] = LEN_ENCODED << 6 | ENC_INT8;
        1
    } else if i16::try_from(v).is_ok() {
        b[0] = LEN_ENCODED << 6 | ENC_INT16;
        2
    } else if i32::try_from(v).is_ok() {
        b[0] = LEN_ENCODED << 6 | ENC_INT32;
        4
    } else {
        return None;
    };
    b[1..=width].copy_from_slice(&le[..width]);
    Some((b, width + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(compression: bool, s: &[u8]) -> Vec<u8> {
        let mut o = Output::new(Vec::new(), false, compression);
        o.string(s).unwrap();
        o.into_inner()
    }

    #[test]
    fn lengths_in_every_width() {
        let mut o = Output::new(Vec::new(), false, false);
        for n in [63, 64, 16383, 16384, u64::from(u32::MAX), 1 << 32] {
            o.len(n).unwrap();
        }
        assert_eq!(
            o.into_inner(),
            [
                &[0x3F][..],
                &[0x40, 0x40],
                &[0x7F, 0xFF],
                &[0x80, 0, 0, 0x40, 0],
                &[0x80, 0xFF, 0xFF, 0xFF, 0xFF],
                &[0x81, 0, 0, 0, 1, 0, 0, 0, 0],
            ]
            .concat()
        );
    }

    #[test]
    fn strings_as_redis_encodes_them() {
        assert_eq!(encoded(true, b"0"), [0xC0, 0]);
        assert_eq!(encoded(true, b"-128"), [0xC0, 0x80]);
        assert_eq!(encoded(true, b"128"), [0xC1, 0x80, 0]);
        assert_eq!(encoded(true, b"-2147483648"), [0xC2, 0, 0, 0, 0x80]);
        // Too wide for the integer encodings, or not canonical: plain strings.
        assert_eq!(encoded(true, b"2147483648"), b"\x0a2147483648");
        assert_eq!(encoded(true, b"007"), b"\x03007");
        // Compressible, but 20 bytes or fewer: raw.
        assert_eq!(
            encoded(true, &[b'a'; 20]),
            [&[20u8][..], &[b'a'; 20]].concat()
        );
        let long = [b'a'; 100];
        assert_eq!(encoded(true, &long)[0], 0xC3);
        assert_eq!(encoded(false, &long), [&[0x40u8, 100][..], &long].concat());
    }

    #[test]
    fn checksum_covers_what_was_written() {
        let mut o = Output::new(Vec::new(), true, false);
        o.write(b"123456789").unwrap();
        assert_eq!(o.checksum(), 0xe9c6d914c4b8d9ca);
        assert_eq!(Output::new(Vec::new(), false, false).checksum(), 0);
    }
}
