//! Ziplists, the compact encoding of Redis before 7.0, read only: RDB files written by older
//! versions hold small lists, hashes and sorted sets this way, and quicklist nodes before
//! RDB version 10. They are converted on load (see `read_value`).
//!
//! Layout: a 10-byte header (total bytes, u32 LE; offset of the last entry, u32 LE; entry
//! count, u16 LE, 65535 meaning "count them"), the entries, and a 0xFF terminator. An entry is
//! the previous entry's size (1 byte, or 0xFE and a u32 LE), an encoding (strings: 6-bit
//! length, 14-bit big-endian length, or 0x80 and a 32-bit big-endian length; integers: one
//! byte naming the width, or 0xF1..0xFD holding 0..12 itself), and the payload.
//!
//! Invariant: nothing here reads outside the slice it is given, whatever the bytes.

use crate::listpack::LpEntry;

const HEADER_LEN: usize = 10;
const END: u8 = 0xFF;
const COUNT_UNKNOWN: u16 = u16::MAX;

/// One entry's header, decoded.
struct EntryHeader {
    /// Size of the entry before this one, as recorded.
    prev_size: usize,
    /// Size of the prevlen and encoding fields.
    header_size: usize,
    payload: Payload,
}

enum Payload {
    Str(usize),
    Int(usize),
    Immediate(i64),
}

impl Payload {
    fn size(&self) -> usize {
        match *self {
            Payload::Str(n) | Payload::Int(n) => n,
            Payload::Immediate(_) => 0,
        }
    }
}

/// Decodes the header of the entry at `p`; `None` if invalid or out of `b`.
fn entry_header(b: &[u8], p: usize) -> Option<EntryHeader> {
    let (prev_size, prevlen_size) = if *b.get(p)? < 0xFE {
        (usize::from(b[p]), 1)
    } else {
        let raw = b.get(p + 1..p + 5)?;
        (u32::from_le_bytes(raw.try_into().ok()?) as usize, 5)
    };
    let e = p + prevlen_size;
    let c = *b.get(e)?;
    let (len_size, payload) = match c {
        0x00..=0x3F => (1, Payload::Str(usize::from(c & 0x3F))),
        0x40..=0x7F => (
            2,
            Payload::Str(usize::from(c & 0x3F) << 8 | usize::from(*b.get(e + 1)?)),
        ),
        0x80..=0xBF => {
            let raw = b.get(e + 1..e + 5)?;
            (
                5,
                Payload::Str(u32::from_be_bytes(raw.try_into().ok()?) as usize),
            )
        }
        0xC0 => (1, Payload::Int(2)),
        0xD0 => (1, Payload::Int(4)),
        0xE0 => (1, Payload::Int(8)),
        0xF0 => (1, Payload::Int(3)),
        0xFE => (1, Payload::Int(1)),
        0xF1..=0xFD => (1, Payload::Immediate(i64::from(c & 0x0F) - 1)),
        _ => return None,
    };
    Some(EntryHeader {
        prev_size,
        header_size: prevlen_size + len_size,
        payload,
    })
}

fn decode_int(raw: &[u8]) -> i64 {
    let bits = 8 * raw.len() as u32;
    let v = raw
        .iter()
        .rev()
        .fold(0u64, |acc, &x| acc << 8 | u64::from(x));
    ((v << (64 - bits)) as i64) >> (64 - bits)
}

/// Checks an untrusted ziplist completely, as Redis's deep check does, calling `f` on each
/// entry in order; stops at the first invalid entry or the first error `f` returns. Returns
/// the entry count.
pub fn for_each<'a>(
    b: &'a [u8],
    mut f: impl FnMut(LpEntry<'a>) -> Result<(), &'static str>,
) -> Result<usize, &'static str> {
    if b.len() < HEADER_LEN + 1 {
        return Err("ziplist shorter than its header");
    }
    let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]) as usize;
    if u32_at(0) != b.len() {
        return Err("ziplist header size differs from its length");
    }
    let end = b.len() - 1;
    if b[end] != END {
        return Err("ziplist does not end with its terminator");
    }
    let tail = u32_at(4);
    if tail > end {
        return Err("ziplist tail offset is past its end");
    }
    let (mut p, mut prev_size, mut last, mut count) = (HEADER_LEN, 0usize, None, 0usize);
    while b[p] != END {
        let h = entry_header(&b[..end], p).ok_or("invalid ziplist entry header")?;
        let size = h.header_size + h.payload.size();
        if p + size > end {
            return Err("ziplist entry runs past the end");
        }
        if h.prev_size != prev_size {
            return Err("ziplist entry records a wrong previous size");
        }
        let data = &b[p + h.header_size..p + size];
        f(match h.payload {
            Payload::Str(_) => LpEntry::Str(data),
            Payload::Int(_) => LpEntry::Int(decode_int(data)),
            Payload::Immediate(v) => LpEntry::Int(v),
        })?;
        last = Some(p);
        prev_size = size;
        p += size;
        count += 1;
    }
    if p != end {
        return Err("ziplist terminator before its end");
    }
    if last.is_some_and(|l| l != tail) {
        return Err("ziplist tail offset does not point at the last entry");
    }
    let header_count = u16::from_le_bytes([b[8], b[9]]);
    if header_count != COUNT_UNKNOWN && usize::from(header_count) != count {
        return Err("ziplist header count differs from its entries");
    }
    Ok(count)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Builds a ziplist the way Redis would (for tests of the converters).
    pub fn build(values: &[&[u8]]) -> Vec<u8> {
        let mut b = vec![0u8; HEADER_LEN];
        let (mut prev, mut tail) = (0usize, HEADER_LEN);
        for v in values {
            tail = b.len();
            let start = b.len();
            if prev < 254 {
                b.push(prev as u8);
            } else {
                b.push(0xFE);
                b.extend_from_slice(&(prev as u32).to_le_bytes());
            }
            encode(v, &mut b);
            prev = b.len() - start;
        }
        b.push(END);
        let total = b.len() as u32;
        b[0..4].copy_from_slice(&total.to_le_bytes());
        b[4..8].copy_from_slice(&(tail as u32).to_le_bytes());
        let count = u16::try_from(values.len()).unwrap_or(COUNT_UNKNOWN);
        b[8..10].copy_from_slice(&count.to_le_bytes());
        b
    }

    fn encode(v: &[u8], b: &mut Vec<u8>) {
        match crate::number::parse_i64(v) {
            Some(i @ 0..=12) => b.push(0xF1 + i as u8),
            Some(i) if i8::try_from(i).is_ok() => b.extend_from_slice(&[0xFE, i as u8]),
            Some(i) if i16::try_from(i).is_ok() => {
                b.push(0xC0);
                b.extend_from_slice(&(i as i16).to_le_bytes());
            }
            Some(i) if (-(1 << 23)..(1 << 23)).contains(&i) => {
                b.push(0xF0);
                b.extend_from_slice(&(i as i32).to_le_bytes()[..3]);
            }
            Some(i) if i32::try_from(i).is_ok() => {
                b.push(0xD0);
                b.extend_from_slice(&(i as i32).to_le_bytes());
            }
            Some(i) => {
                b.push(0xE0);
                b.extend_from_slice(&i.to_le_bytes());
            }
            None if v.len() < 64 => b.push(v.len() as u8),
            None if v.len() < 16384 => {
                b.extend_from_slice(&[0x40 | (v.len() >> 8) as u8, v.len() as u8])
            }
            None => {
                b.push(0x80);
                b.extend_from_slice(&(v.len() as u32).to_be_bytes());
            }
        }
        if crate::number::parse_i64(v).is_none() {
            b.extend_from_slice(v);
        }
    }

    pub fn values(zl: &[u8]) -> Result<Vec<Vec<u8>>, &'static str> {
        let mut out = Vec::new();
        for_each(zl, |e| {
            out.push(e.to_vec());
            Ok(())
        })?;
        Ok(out)
    }

    #[test]
    fn a_known_redis_ziplist() {
        // The ziplist holding "2" and "5", from Redis's own documentation.
        let zl = [
            0x0f, 0, 0, 0, 0x0c, 0, 0, 0, 0x02, 0, 0x00, 0xf3, 0x02, 0xf6, 0xff,
        ];
        assert_eq!(values(&zl).unwrap(), vec![b"2".to_vec(), b"5".to_vec()]);
        assert_eq!(build(&[b"2", b"5"]), zl);
    }

    #[test]
    fn every_encoding() {
        let long = vec![b'l'; 300];
        let huge = vec![b'h'; 20_000];
        let items: Vec<&[u8]> = vec![
            b"0",
            b"12",
            b"13",
            b"-128",
            b"127",
            b"-32768",
            b"32767",
            b"8388607",
            b"-8388608",
            b"2147483647",
            b"-2147483648",
            b"9223372036854775807",
            b"",
            b"hello",
            &long,
            &huge,
            b"after",
        ];
        let zl = build(&items);
        let got = values(&zl).unwrap();
        assert_eq!(got, items.iter().map(|v| v.to_vec()).collect::<Vec<_>>());
    }

    #[test]
    fn rejects_corruption() {
        let zl = build(&[b"hello", b"world", b"7"]);
        let mut bad_tail = zl.clone();
        bad_tail[4] = 10;
        assert!(values(&bad_tail).is_err());
        let mut bad_count = zl.clone();
        bad_count[8] = 9;
        assert!(values(&bad_count).is_err());
        let mut bad_prev = zl.clone();
        bad_prev[HEADER_LEN + 7] = 3;
        assert!(values(&bad_prev).is_err());
        assert!(values(&zl[..zl.len() - 1]).is_err());
        for i in 0..zl.len() {
            for bit in 0..8 {
                let mut flipped = zl.clone();
                flipped[i] ^= 1 << bit;
                let _ = values(&flipped);
            }
        }
    }

    proptest! {
        #[test]
        fn build_then_read(items in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..40)) {
            let refs: Vec<&[u8]> = items.iter().map(|v| &v[..]).collect();
            let zl = build(&refs);
            let canonical: Vec<Vec<u8>> = items.clone();
            prop_assert_eq!(values(&zl).unwrap(), canonical);
        }

        #[test]
        fn never_panics(bytes: Vec<u8>) {
            let _ = values(&bytes);
        }
    }
}
