//! Listpacks, in Redis's byte format: checking untrusted ones, reading them, and building new
//! ones (when old ziplists and zipmaps are converted, and when the writer packs a list).
//!
//! Layout: a 6-byte header (total bytes, u32 LE; element count, u16 LE, 65535 meaning "count
//! them"), the entries, and a 0xFF terminator. An entry is an encoding byte (with inline
//! length or value bits), the payload, and a "backlen": the size of encoding plus payload as a
//! varint written so it reads backwards from its last byte. A string that is a canonical
//! 64-bit integer is stored as an integer, in the smallest of seven integer forms.
//!
//! Invariant: [`Cursor`] never reads outside the slice it is given, whatever the bytes; every
//! other reader here runs only on bytes [`validate`] accepted.

pub const HEADER_LEN: usize = 6;
pub const EOF: u8 = 0xFF;
/// Element count written when the real count does not fit in 16 bits.
const COUNT_UNKNOWN: u16 = u16::MAX;

/// Largest listpack this crate builds (Redis's `LISTPACK_MAX_SAFETY_SIZE`).
pub const MAX_SAFE_BYTES: usize = 1 << 30;

/// One entry's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LpEntry<'a> {
    Int(i64),
    Str(&'a [u8]),
}

impl LpEntry<'_> {
    /// The value as bytes (integers in decimal).
    pub fn to_vec(self) -> Vec<u8> {
        match self {
            LpEntry::Int(i) => i.to_string().into_bytes(),
            LpEntry::Str(s) => s.to_vec(),
        }
    }

    /// The same value in one canonical form: a string holding a canonical integer becomes
    /// that integer, so equal strings compare equal whichever way they were stored.
    pub fn normalized(self) -> Self {
        match self {
            LpEntry::Str(s) => crate::number::parse_i64(s).map_or(self, LpEntry::Int),
            int => int,
        }
    }

    /// The value as an integer, as Redis's `lpGetIntegerIfValid` sees it: integer entries, and
    /// strings holding a canonical integer.
    pub fn as_i64(self) -> Option<i64> {
        match self {
            LpEntry::Int(i) => Some(i),
            LpEntry::Str(s) => crate::number::parse_i64(s),
        }
    }
}

/// Walks the entries of possibly hostile listpack bytes, checking each one.
pub struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// Checks the header and the terminator; entries are checked as they are read.
    pub fn new(bytes: &'a [u8]) -> Result<Cursor<'a>, &'static str> {
        if bytes.len() < HEADER_LEN + 1 {
            return Err("listpack shorter than its header");
        }
        if total_bytes(bytes) != bytes.len() {
            return Err("listpack header size differs from its length");
        }
        if bytes[bytes.len() - 1] != EOF {
            return Err("listpack does not end with its terminator");
        }
        Ok(Cursor {
            bytes,
            pos: HEADER_LEN,
        })
    }

    /// The next entry, `None` at the terminator, or why the entry is invalid.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<LpEntry<'a>>, &'static str> {
        let b = self.bytes;
        if b[self.pos] == EOF {
            if self.pos != b.len() - 1 {
                return Err("listpack terminator before its end");
            }
            return Ok(None);
        }
        let size = encoded_size(b, self.pos).ok_or("invalid listpack entry encoding")?;
        let backlen = backlen_size(size);
        let end = self.pos + size + backlen;
        // The entry and its backlen must end before the terminator.
        if end > b.len() - 1 {
            return Err("listpack entry runs past the end");
        }
        if decode_backlen(&b[self.pos + size..end]) != Some(size) {
            return Err("listpack entry backlen does not match its size");
        }
        let entry = decode(&b[self.pos..self.pos + size]);
        self.pos = end;
        Ok(Some(entry))
    }

    /// Entries read so far reached the terminator.
    pub fn at_end(&self) -> bool {
        self.bytes[self.pos] == EOF
    }
}

fn total_bytes(b: &[u8]) -> usize {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize
}

fn header_count(b: &[u8]) -> Option<usize> {
    let n = u16::from_le_bytes([b[4], b[5]]);
    (n != COUNT_UNKNOWN).then_some(usize::from(n))
}

/// Checks untrusted bytes completely: header, every entry, terminator, and the element count.
/// Returns the number of entries.
pub fn validate(bytes: &[u8]) -> Result<usize, &'static str> {
    let mut cursor = Cursor::new(bytes)?;
    let mut n = 0usize;
    while cursor.next()?.is_some() {
        n += 1;
    }
    match header_count(bytes) {
        Some(c) if c != n => Err("listpack header count differs from its entries"),
        _ => Ok(n),
    }
}

/// The entries of a listpack [`validate`] accepted.
pub fn entries(bytes: &[u8]) -> impl Iterator<Item = LpEntry<'_>> {
    let mut cursor = Cursor::new(bytes).expect("a validated listpack");
    std::iter::from_fn(move || cursor.next().expect("a validated listpack"))
}

/// Size of the encoding byte(s) plus payload of the entry at `p`, or None if the encoding is
/// invalid or it lies past the end of `b`.
#[inline]
pub fn encoded_size(b: &[u8], p: usize) -> Option<usize> {
    let c = *b.get(p)?;
    let size = match c {
        0x00..=0x7F => 1,
        0x80..=0xBF => 1 + usize::from(c & 0x3F),
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 2 + (usize::from(c & 0x0F) << 8 | usize::from(*b.get(p + 1)?)),
        0xF0 => {
            let len = b.get(p + 1..p + 5)?;
            5 + u32::from_le_bytes(len.try_into().ok()?) as usize
        }
        0xF1 => 3,
        0xF2 => 4,
        0xF3 => 5,
        0xF4 => 9,
        _ => return None,
    };
    Some(size)
}

/// Bytes of the back-length that follows an entry of `size` bytes.
#[inline]
pub fn backlen_size(size: usize) -> usize {
    match size {
        // Redis's boundaries (`lpEncodeBacklen`), one below each power of 128.
        0..=127 => 1,
        128..=16_382 => 2,
        16_383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    }
}

/// Reads a backlen stored in `b` (its last byte is the least significant 7 bits).
fn decode_backlen(b: &[u8]) -> Option<usize> {
    let mut value = 0usize;
    for (i, &byte) in b.iter().rev().enumerate() {
        value |= usize::from(byte & 127) << (7 * i);
        let last = i == b.len() - 1;
        // Only the most significant (first) byte lacks the continuation bit.
        if (byte & 128 == 0) != last {
            return None;
        }
    }
    Some(value)
}

/// Decodes one entry's encoding and payload (`b` holds exactly those bytes).
fn decode(b: &[u8]) -> LpEntry<'_> {
    let c = b[0];
    let le = |n: usize| -> u64 {
        b[1..=n]
            .iter()
            .rev()
            .fold(0u64, |acc, &x| acc << 8 | u64::from(x))
    };
    let sign = |v: u64, bits: u32| -> i64 { ((v << (64 - bits)) as i64) >> (64 - bits) };
    match c {
        0x00..=0x7F => LpEntry::Int(i64::from(c)),
        0x80..=0xBF => LpEntry::Str(&b[1..]),
        0xC0..=0xDF => LpEntry::Int(sign(u64::from(c & 0x1F) << 8 | u64::from(b[1]), 13)),
        0xE0..=0xEF => LpEntry::Str(&b[2..]),
        0xF0 => LpEntry::Str(&b[5..]),
        0xF1 => LpEntry::Int(sign(le(2), 16)),
        0xF2 => LpEntry::Int(sign(le(3), 24)),
        0xF3 => LpEntry::Int(sign(le(4), 32)),
        _ => LpEntry::Int(le(8) as i64),
    }
}

/// Builds a listpack entry by entry.
pub struct Builder {
    bytes: Vec<u8>,
    count: usize,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    pub fn new() -> Builder {
        let mut bytes = Vec::with_capacity(64);
        bytes.extend_from_slice(&[0; HEADER_LEN]);
        Builder { bytes, count: 0 }
    }

    /// Bytes the listpack would have if finished now.
    pub fn len_bytes(&self) -> usize {
        self.bytes.len() + 1
    }

    pub fn count(&self) -> usize {
        self.count
    }

    /// Appends a string, stored as an integer when it is a canonical one (as Redis does).
    pub fn push(&mut self, value: &[u8]) {
        let start = self.bytes.len();
        match crate::number::parse_i64(value) {
            Some(v) => encode_int(v, &mut self.bytes),
            None => encode_str(value, &mut self.bytes),
        }
        self.finish_entry(start);
    }

    /// Appends a string as a string even if it looks like an integer (as a hostile file
    /// might hold it).
    #[cfg(test)]
    pub fn push_str_raw(&mut self, value: &[u8]) {
        let start = self.bytes.len();
        encode_str(value, &mut self.bytes);
        self.finish_entry(start);
    }

    pub fn push_int(&mut self, v: i64) {
        let start = self.bytes.len();
        encode_int(v, &mut self.bytes);
        self.finish_entry(start);
    }

    pub fn push_entry(&mut self, e: LpEntry<'_>) {
        match e {
            LpEntry::Int(v) => self.push_int(v),
            LpEntry::Str(s) => self.push(s),
        }
    }

    fn finish_entry(&mut self, start: usize) {
        let size = self.bytes.len() - start;
        let n = backlen_size(size);
        for i in (0..n).rev() {
            let bits = ((size >> (7 * i)) & 127) as u8;
            self.bytes.push(if i == n - 1 { bits } else { bits | 128 });
        }
        self.count += 1;
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.bytes.push(EOF);
        let total = u32::try_from(self.bytes.len()).expect("listpack under 4 GiB");
        self.bytes[..4].copy_from_slice(&total.to_le_bytes());
        let count = u16::try_from(self.count)
            .ok()
            .filter(|&c| c != COUNT_UNKNOWN)
            .unwrap_or(COUNT_UNKNOWN);
        self.bytes[4..6].copy_from_slice(&count.to_le_bytes());
        self.bytes
    }
}

/// Appends the encoding of an integer element (without its back-length), in the smallest
/// form that holds it.
#[inline]
pub fn encode_int(v: i64, out: &mut Vec<u8>) {
    if (0..=127).contains(&v) {
        out.push(v as u8);
    } else if (-4096..=4095).contains(&v) {
        let u = (v as u64) & 0x1FFF;
        out.extend_from_slice(&[0xC0 | (u >> 8) as u8, u as u8]);
    } else if (-32_768..=32_767).contains(&v) {
        out.push(0xF1);
        out.extend_from_slice(&(v as i16).to_le_bytes());
    } else if (-8_388_608..=8_388_607).contains(&v) {
        out.push(0xF2);
        out.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
    } else if (i64::from(i32::MIN)..=i64::from(i32::MAX)).contains(&v) {
        out.push(0xF3);
        out.extend_from_slice(&(v as i32).to_le_bytes());
    } else {
        out.push(0xF4);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// Appends the encoding of a string element (without its back-length).
#[inline]
pub fn encode_str(s: &[u8], out: &mut Vec<u8>) {
    let len = s.len();
    if len < 64 {
        out.push(0x80 | len as u8);
    } else if len < 4096 {
        out.extend_from_slice(&[0xE0 | (len >> 8) as u8, len as u8]);
    } else {
        out.push(0xF0);
        out.extend_from_slice(&(len as u32).to_le_bytes());
    }
    out.extend_from_slice(s);
}

/// Builds a listpack from values.
pub fn from_values<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut b = Builder::new();
    for v in values {
        b.push(v);
    }
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn values(lp: &[u8]) -> Vec<Vec<u8>> {
        entries(lp).map(LpEntry::to_vec).collect()
    }

    #[test]
    fn integers_use_the_smallest_form() {
        for (val, size) in [
            (0i64, 2),
            (127, 2),
            (128, 3),
            (-1, 3),
            (-4096, 3),
            (4096, 4),
            (-32768, 4),
            (32768, 5),
            (8_388_608, 6),
            (i64::MAX, 10),
            (i64::MIN, 10),
        ] {
            let lp = from_values([val.to_string().as_bytes()]);
            assert_eq!(lp.len(), HEADER_LEN + size + 1, "{val}");
            assert_eq!(entries(&lp).next(), Some(LpEntry::Int(val)));
        }
        let lp = from_values([&b"01"[..], b"+1", b" 1", b"1.0", b"-0"]);
        assert!(entries(&lp).all(|e| matches!(e, LpEntry::Str(_))));
    }

    #[test]
    fn strings_of_every_length_class() {
        let long = vec![b'x'; 5000];
        let mid = vec![b'y'; 300];
        let huge = vec![b'z'; 20_000];
        let lp = from_values([&b"a"[..], &mid, &long, &huge, b""]);
        assert_eq!(validate(&lp), Ok(5));
        assert_eq!(values(&lp), vec![b"a".to_vec(), mid, long, huge, vec![]]);
    }

    #[test]
    fn backlen_sizes_follow_redis_boundaries() {
        // Encoded sizes 127/128, 16382/16383: the backlen grows one step below 2^7 and 2^14.
        for (len, backlen) in [(125, 1), (126, 2), (16_377, 2), (16_378, 3)] {
            let s = vec![b's'; len];
            let lp = from_values([&s[..]]);
            let encoded = if len < 64 {
                1
            } else if len < 4096 {
                2
            } else {
                5
            } + len;
            assert_eq!(lp.len(), HEADER_LEN + encoded + backlen + 1, "{len}");
            assert_eq!(validate(&lp), Ok(1));
        }
    }

    #[test]
    fn a_known_redis_listpack() {
        // RPUSH l a 1 (as Redis 7.0 stores it).
        let lp = [
            0x0E, 0, 0, 0, 0x02, 0x00, 0x81, b'a', 0x02, 0x01, 0x01, 0xFF,
        ];
        let mut fixed = lp.to_vec();
        fixed[0] = fixed.len() as u8;
        assert_eq!(validate(&fixed), Ok(2));
        assert_eq!(values(&fixed), vec![b"a".to_vec(), b"1".to_vec()]);
    }

    #[test]
    fn rejects_corruption() {
        let lp = from_values([&b"hello"[..], b"world", b"12345"]);
        assert_eq!(validate(&lp), Ok(3));
        let mut bad_count = lp.clone();
        bad_count[4] = 2;
        assert!(validate(&bad_count).is_err());
        let mut unknown_count = lp.clone();
        unknown_count[4..6].copy_from_slice(&[0xFF, 0xFF]);
        assert_eq!(validate(&unknown_count), Ok(3));
        assert!(validate(&lp[..lp.len() - 1]).is_err());
        assert!(validate(&[]).is_err());
        let mut bad_backlen = lp.clone();
        bad_backlen[HEADER_LEN + 6] = 9;
        assert!(validate(&bad_backlen).is_err());
        for i in 0..lp.len() {
            for bit in 0..8 {
                let mut flipped = lp.clone();
                flipped[i] ^= 1 << bit;
                let _ = validate(&flipped);
            }
        }
    }

    #[test]
    fn many_entries_use_the_unknown_count() {
        let items: Vec<Vec<u8>> = (0..70_000).map(|i| format!("v{i}").into_bytes()).collect();
        let lp = from_values(items.iter().map(|v| &v[..]));
        assert_eq!(&lp[4..6], &[0xFF, 0xFF]);
        assert_eq!(validate(&lp), Ok(70_000));
    }

    proptest! {
        #[test]
        fn build_then_read(items in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 0..50)) {
            let lp = from_values(items.iter().map(|v| &v[..]));
            prop_assert_eq!(validate(&lp), Ok(items.len()));
            prop_assert_eq!(values(&lp), items);
        }

        #[test]
        fn validate_never_panics(bytes: Vec<u8>) {
            let _ = validate(&bytes);
        }

        #[test]
        fn validate_never_panics_on_near_listpacks(mut bytes: Vec<u8>, tail in 0u8..3) {
            // Give random bytes a plausible header so validation gets past it.
            bytes.splice(0..0, [0u8; HEADER_LEN]);
            bytes.push(EOF);
            let n = bytes.len() as u32;
            bytes[..4].copy_from_slice(&n.to_le_bytes());
            bytes[4] = tail;
            let _ = validate(&bytes);
        }
    }
}
