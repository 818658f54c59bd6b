//! Listpacks, in Redis's exact byte format, so an RDB file can carry them as they are.
//!
//! Layout: a 6-byte header (total bytes, u32 LE; element count, u16 LE, 65535 meaning
//! "count them"), the entries, and a 0xFF terminator. An entry is an encoding byte (with
//! inline length or value bits), the payload, and a "backlen": the size of encoding plus
//! payload as a varint read from its last byte backwards, which lets iteration run in both
//! directions. A string that is a canonical 64-bit integer is stored as an integer, in the
//! smallest of seven integer forms.
//!
//! [`Lp`] reads a listpack; the free functions edit one held as a `Vec<u8>` (inside
//! [`ThinBytes::edit`](super::thin::ThinBytes::edit)). [`validate`] checks untrusted bytes
//! (RDB, RESTORE) completely before anything else reads them.

use super::thin::{SizeHeader, ThinBytes};
use rudis_rdb::listpack::{backlen_size, encode_int, encode_str, encoded_size};

pub const HEADER_LEN: usize = 6;
pub const EOF: u8 = 0xFF;
/// Element count written when the real count does not fit in 16 bits.
const COUNT_UNKNOWN: u16 = u16::MAX;
/// Largest listpack Redis builds (a safety margin under 4 GiB, as `lpSafeToAdd`).
pub const MAX_SAFE_BYTES: usize = 1 << 30;

/// The size header of a listpack (for [`ThinBytes`]).
pub struct LpHeader;

impl SizeHeader for LpHeader {
    const HEADER_LEN: usize = HEADER_LEN;

    fn total_len(header: &[u8]) -> usize {
        u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize
    }

    fn empty() -> Vec<u8> {
        new_vec()
    }
}

/// An owned listpack behind a thin pointer.
pub type Listpack = ThinBytes<LpHeader>;

/// One entry's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry<'a> {
    Int(i64),
    Str(&'a [u8]),
}

impl Entry<'_> {
    /// The value as bytes (integers in decimal).
    pub fn to_vec(&self) -> Vec<u8> {
        match self {
            Entry::Int(i) => i.to_string().into_bytes(),
            Entry::Str(s) => s.to_vec(),
        }
    }

    /// Writes the value as bytes into `buf`, returning the slice (no allocation).
    pub fn as_bytes<'b>(&'b self, buf: &'b mut itoa::Buffer) -> &'b [u8] {
        match self {
            Entry::Int(i) => buf.format(*i).as_bytes(),
            Entry::Str(s) => s,
        }
    }

    /// True if the entry equals the string `s` (an integer entry equals its decimal form).
    pub fn eq_bytes(&self, s: &[u8]) -> bool {
        match self {
            Entry::Str(x) => *x == s,
            Entry::Int(i) => string_to_i64(s) == Some(*i),
        }
    }
}

/// Redis's listpack integer test: a canonical decimal of fewer than 21 bytes that fits i64.
pub fn string_to_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() >= 21 {
        return None;
    }
    rudis_resp::number::parse_i64(s)
}

/// A new, empty listpack.
pub fn new_vec() -> Vec<u8> {
    let mut v = Vec::with_capacity(HEADER_LEN + 1);
    v.extend_from_slice(&7u32.to_le_bytes());
    v.extend_from_slice(&0u16.to_le_bytes());
    v.push(EOF);
    v
}

// ---- Encoding -------------------------------------------------------------------------------

/// Appends the encoding and payload of `value` (without backlen) to `out`.
fn encode(value: &[u8], out: &mut Vec<u8>) {
    match string_to_i64(value) {
        Some(v) => encode_int(v, out),
        None => encode_str(value, out),
    }
}

/// Appends the backlen of an entry whose encoding+payload is `l` bytes.
fn encode_backlen(l: usize, out: &mut Vec<u8>) {
    let l = l as u64;
    let groups = match l {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    };
    for g in (0..groups).rev() {
        let bits = ((l >> (7 * g)) & 127) as u8;
        // Every byte but the most significant carries the continuation bit.
        out.push(if g == groups - 1 { bits } else { bits | 128 });
    }
}

/// The complete encoded entry (encoding, payload, backlen) for `value`.
pub fn encode_entry(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 8);
    encode(value, &mut out);
    let l = out.len();
    encode_backlen(l, &mut out);
    out
}

// ---- Decoding -------------------------------------------------------------------------------

/// Decodes the value at `p` (which must be a valid entry).
fn decode(b: &[u8], p: usize) -> Entry<'_> {
    let c = b[p];
    let le = |n: usize| -> u64 {
        b[p + 1..p + 1 + n]
            .iter()
            .rev()
            .fold(0u64, |acc, &x| acc << 8 | u64::from(x))
    };
    let sign = |v: u64, bits: u32| -> i64 { ((v << (64 - bits)) as i64) >> (64 - bits) };
    match c {
        0x00..=0x7F => Entry::Int(i64::from(c)),
        0x80..=0xBF => Entry::Str(&b[p + 1..p + 1 + (c & 0x3F) as usize]),
        0xC0..=0xDF => Entry::Int(sign(((c & 0x1F) as u64) << 8 | u64::from(b[p + 1]), 13)),
        0xE0..=0xEF => {
            let len = ((c & 0x0F) as usize) << 8 | b[p + 1] as usize;
            Entry::Str(&b[p + 2..p + 2 + len])
        }
        0xF0 => {
            let len = le(4) as usize;
            Entry::Str(&b[p + 5..p + 5 + len])
        }
        0xF1 => Entry::Int(sign(le(2), 16)),
        0xF2 => Entry::Int(sign(le(3), 24)),
        0xF3 => Entry::Int(sign(le(4), 32)),
        _ => Entry::Int(le(8) as i64),
    }
}

/// Reads the backlen ending at `end` (inclusive), going backwards.
fn decode_backlen(b: &[u8], end: usize) -> Option<(usize, usize)> {
    let mut val = 0usize;
    let mut shift = 0;
    let mut p = end;
    loop {
        let byte = *b.get(p)?;
        val |= ((byte & 127) as usize) << shift;
        if byte & 128 == 0 {
            return Some((val, end - p + 1));
        }
        if shift >= 28 || p == 0 {
            return None;
        }
        shift += 7;
        p -= 1;
    }
}

/// A listpack being read.
#[derive(Clone, Copy)]
pub struct Lp<'a>(pub &'a [u8]);

impl<'a> Lp<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Lp(bytes)
    }

    pub fn bytes(&self) -> &'a [u8] {
        self.0
    }

    pub fn total_bytes(&self) -> usize {
        self.0.len()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        let n = u16::from_le_bytes([self.0[4], self.0[5]]);
        if n != COUNT_UNKNOWN {
            n as usize
        } else {
            self.iter().count()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0[HEADER_LEN] == EOF
    }

    /// Offset of the first entry.
    pub fn first(&self) -> Option<usize> {
        (self.0[HEADER_LEN] != EOF).then_some(HEADER_LEN)
    }

    /// Offset of the last entry.
    pub fn last(&self) -> Option<usize> {
        let eof = self.0.len() - 1;
        if eof == HEADER_LEN {
            return None;
        }
        self.prev_of(eof)
    }

    /// Full size (encoding, payload, backlen) of the entry at `p`.
    pub fn entry_size(&self, p: usize) -> usize {
        let l = encoded_size(self.0, p).expect("valid listpack entry");
        l + backlen_size(l)
    }

    /// Offset of the entry after `p`.
    pub fn next(&self, p: usize) -> Option<usize> {
        let n = p + self.entry_size(p);
        (self.0[n] != EOF).then_some(n)
    }

    /// Offset of the entry before `p` (`p` may be the terminator's offset).
    pub fn prev(&self, p: usize) -> Option<usize> {
        if p == HEADER_LEN {
            return None;
        }
        self.prev_of(p)
    }

    fn prev_of(&self, p: usize) -> Option<usize> {
        let (l, bl) = decode_backlen(self.0, p - 1)?;
        Some(p - bl - l)
    }

    pub fn get(&self, p: usize) -> Entry<'a> {
        decode(self.0, p)
    }

    pub fn iter(&self) -> Iter<'a> {
        Iter {
            lp: *self,
            pos: self.first(),
        }
    }

    /// Offset of entry `index` (negative counts from the end).
    pub fn seek(&self, index: i64) -> Option<usize> {
        if index >= 0 {
            let mut p = self.first();
            for _ in 0..index {
                p = self.next(p?);
            }
            p
        } else {
            let mut p = self.last();
            for _ in 0..(-index - 1) {
                p = self.prev(p?);
            }
            p
        }
    }

    /// Offset of the first entry equal to `s`, looking at every `step`-th entry from `from`
    /// (step 2 searches the fields of a field/value listpack).
    pub fn find(&self, s: &[u8], from: Option<usize>, step: usize) -> Option<usize> {
        let mut p = from;
        while let Some(off) = p {
            if self.get(off).eq_bytes(s) {
                return Some(off);
            }
            p = Some(off);
            for _ in 0..step {
                p = self.next(p?);
            }
        }
        None
    }
}

pub struct Iter<'a> {
    lp: Lp<'a>,
    pos: Option<usize>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = Entry<'a>;

    fn next(&mut self) -> Option<Entry<'a>> {
        let p = self.pos?;
        self.pos = self.lp.next(p);
        Some(self.lp.get(p))
    }
}

// ---- Editing --------------------------------------------------------------------------------

fn set_header(v: &mut [u8], count: usize) {
    let total = v.len() as u32;
    v[..4].copy_from_slice(&total.to_le_bytes());
    let n = if count >= COUNT_UNKNOWN as usize {
        COUNT_UNKNOWN
    } else {
        count as u16
    };
    v[4..6].copy_from_slice(&n.to_le_bytes());
}

fn count_of(v: &[u8]) -> Option<usize> {
    let n = u16::from_le_bytes([v[4], v[5]]);
    (n != COUNT_UNKNOWN).then_some(n as usize)
}

fn adjust_count(v: &mut [u8], delta: isize) {
    let count = match count_of(v) {
        Some(n) => (n as isize + delta) as usize,
        None => Lp(v).iter().count(),
    };
    set_header(v, count);
}

/// Inserts `value` before the entry at offset `p` (or at the end if `p` is the terminator's
/// offset). Returns the offset of the new entry.
pub fn insert_at(v: &mut Vec<u8>, p: usize, value: &[u8]) -> usize {
    // Encoded at the end, then rotated into place: one move of the tail, no temporary.
    let old_len = v.len();
    encode(value, v);
    let l = v.len() - old_len;
    encode_backlen(l, v);
    let entry_len = v.len() - old_len;
    v[p..].rotate_right(entry_len);
    adjust_count(v, 1);
    p
}

pub fn push_back(v: &mut Vec<u8>, value: &[u8]) -> usize {
    let eof = v.len() - 1;
    insert_at(v, eof, value)
}

pub fn push_front(v: &mut Vec<u8>, value: &[u8]) -> usize {
    insert_at(v, HEADER_LEN, value)
}

/// Replaces the entry at `p` with `value`.
pub fn replace(v: &mut Vec<u8>, p: usize, value: &[u8]) {
    let old = Lp(v).entry_size(p);
    let entry = encode_entry(value);
    v.splice(p..p + old, entry);
    let count = count_of(v).unwrap_or_else(|| Lp(v).iter().count());
    set_header(v, count);
}

/// Deletes `count` entries starting at `p`. Returns the offset now at `p` (the next entry,
/// or the terminator).
pub fn delete(v: &mut Vec<u8>, p: usize, count: usize) -> usize {
    let mut end = p;
    let mut removed = 0;
    while removed < count && v[end] != EOF {
        end += Lp(v).entry_size(end);
        removed += 1;
    }
    v.drain(p..end);
    adjust_count(v, -(removed as isize));
    p
}

/// Builds a listpack from `count` complete encoded entries taken from another listpack.
pub fn from_raw_entries(entries: &[u8], count: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(HEADER_LEN + entries.len() + 1);
    v.extend_from_slice(&[0; HEADER_LEN]);
    v.extend_from_slice(entries);
    v.push(EOF);
    set_header(&mut v, count);
    v
}

/// Appends `count` complete encoded entries taken from another listpack.
pub fn append_raw_entries(v: &mut Vec<u8>, entries: &[u8], count: usize) {
    let known = count_of(v);
    v.pop();
    v.extend_from_slice(entries);
    v.push(EOF);
    let total = match known {
        Some(n) => n + count,
        None => Lp(v).iter().count(),
    };
    set_header(v, total);
}

/// True if adding `add` bytes keeps the listpack within Redis's safe size.
pub fn safe_to_add(current: usize, add: usize) -> bool {
    current + add <= MAX_SAFE_BYTES
}

/// Builds a listpack from values.
pub fn from_values<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut v = new_vec();
    v.pop();
    let mut n = 0;
    for value in values {
        v.extend_from_slice(&encode_entry(value));
        n += 1;
    }
    v.push(EOF);
    set_header(&mut v, n);
    v
}

// ---- Validation ----------------------------------------------------------------------------

/// Checks untrusted bytes completely: header size, every entry in bounds with a consistent
/// backlen, the terminator, and the element count. Returns the number of entries.
pub fn validate(b: &[u8]) -> Option<usize> {
    if b.len() < HEADER_LEN + 1 || LpHeader::total_len(b) != b.len() || b[b.len() - 1] != EOF {
        return None;
    }
    let mut p = HEADER_LEN;
    let mut n = 0usize;
    while b[p] != EOF {
        let l = encoded_size(b, p)?;
        let end = p.checked_add(l)?.checked_add(backlen_size(l))?;
        if end > b.len() - 1 {
            return None;
        }
        if decode_backlen(b, end - 1)? != (l, backlen_size(l)) {
            return None;
        }
        p = end;
        n += 1;
    }
    if p != b.len() - 1 {
        return None;
    }
    match count_of(b) {
        Some(c) if c != n => None,
        _ => Some(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(v: &[u8]) -> Vec<Vec<u8>> {
        Lp(v).iter().map(|e| e.to_vec()).collect()
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
        ] {
            let e = encode_entry(val.to_string().as_bytes());
            assert_eq!(e.len(), size, "{val}");
            let lp = from_values([val.to_string().as_bytes()]);
            assert_eq!(Lp(&lp).get(HEADER_LEN), Entry::Int(val));
        }
        // Non-canonical integers stay strings.
        let lp = from_values([&b"01"[..], b"+1", b" 1", b"1.0"]);
        assert!(Lp(&lp).iter().all(|e| matches!(e, Entry::Str(_))));
    }

    #[test]
    fn both_directions_and_edits() {
        let long = vec![b'x'; 5000];
        let mid = vec![b'y'; 300];
        let mut v = from_values([&b"a"[..], b"12", &mid, &long, b"-99999999999"]);
        assert_eq!(validate(&v), Some(5));
        let lp = Lp(&v);
        let back: Vec<_> = std::iter::successors(lp.last(), |&p| lp.prev(p))
            .map(|p| lp.get(p).to_vec())
            .collect();
        let mut fwd = values(&v);
        fwd.reverse();
        assert_eq!(back, fwd);
        let p = Lp(&v).seek(1).unwrap();
        replace(&mut v, p, b"replaced");
        push_front(&mut v, b"first");
        let p = Lp(&v).seek(-1).unwrap();
        delete(&mut v, p, 1);
        assert_eq!(validate(&v), Some(5));
        assert_eq!(
            values(&v)[..3],
            [b"first".to_vec(), b"a".to_vec(), b"replaced".to_vec()]
        );
        assert_eq!(Lp(&v).find(b"replaced", Lp(&v).first(), 1), Lp(&v).seek(2));
    }

    #[test]
    fn raw_entries_split_and_join() {
        let v = from_values([&b"a"[..], b"12", b"-70000", &[b'z'; 200]]);
        let p = Lp(&v).seek(2).unwrap();
        let tail = from_raw_entries(&v[p..v.len() - 1], 2);
        assert_eq!(validate(&tail), Some(2));
        assert_eq!(values(&tail)[0], b"-70000".to_vec());
        let mut head = from_raw_entries(&v[HEADER_LEN..p], 2);
        append_raw_entries(&mut head, &tail[HEADER_LEN..tail.len() - 1], 2);
        assert_eq!(head, v);
    }

    #[test]
    fn rejects_corruption() {
        let v = from_values([&b"hello"[..], b"world"]);
        assert!(validate(&v).is_some());
        for i in 0..v.len() {
            let mut bad = v.clone();
            bad[i] ^= 0x40;
            let _ = validate(&bad); // must not panic
        }
        assert!(validate(&v[..v.len() - 1]).is_none());
        assert!(validate(&[]).is_none());
    }

    proptest::proptest! {
        #[test]
        fn behaves_like_a_vec(ops in proptest::collection::vec((0u8..4, 0usize..20, proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80)), 0..60)) {
            let mut v = new_vec();
            let mut model: Vec<Vec<u8>> = Vec::new();
            for (op, idx, val) in ops {
                let at = |v: &Vec<u8>, i: usize| Lp(v).seek(i as i64).unwrap_or(v.len() - 1);
                match op {
                    0 => { push_back(&mut v, &val); model.push(val); }
                    1 => { let i = idx.min(model.len()); let p = at(&v, i); insert_at(&mut v, p, &val); model.insert(i, val); }
                    2 if !model.is_empty() => { let i = idx % model.len(); let p = at(&v, i); delete(&mut v, p, 1); model.remove(i); }
                    3 if !model.is_empty() => { let i = idx % model.len(); let p = at(&v, i); replace(&mut v, p, &val); model[i] = val; }
                    _ => {}
                }
                proptest::prop_assert_eq!(validate(&v), Some(model.len()));
            }
            let got: Vec<Vec<u8>> = values(&v);
            let want: Vec<Vec<u8>> = model.iter().map(|m| match string_to_i64(m) { Some(i) => i.to_string().into_bytes(), None => m.clone() }).collect();
            proptest::prop_assert_eq!(got, want);
        }

        #[test]
        fn validate_never_panics(bytes: Vec<u8>) {
            let _ = validate(&bytes);
        }
    }
}
