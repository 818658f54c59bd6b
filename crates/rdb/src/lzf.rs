//! LZF, the small LZ77 compression format RDB files use for strings.
//!
//! The stream is a sequence of chunks, each starting with a control byte `c`:
//! - `c < 32`: a run of `c + 1` literal bytes follows.
//! - otherwise a back reference: length `c >> 5` (7 means "add the next byte"), plus 2; the
//!   distance back is `((c & 31) << 8 | next byte) + 1`. The copy may overlap its own output,
//!   which is how runs of one byte compress.
//!
//! [`decompress`] accepts hostile input: it never reads or writes out of bounds, and its output
//! is bounded by the length the caller expects (which the caller bounds by the input size, see
//! [`MAX_EXPANSION`]). [`Compressor`] finds matches with a hash of three bytes, greedily, as
//! every LZF encoder does; its output decodes with any LZF decoder but need not be byte for
//! byte what Redis's encoder produces.

/// Longest back reference: 7 + 255 in the length field, plus the implied 2.
const MAX_REF_LEN: usize = 264;
/// Farthest a back reference reaches (13 bits of distance, plus 1).
const MAX_DISTANCE: usize = 1 << 13;
/// Longest literal run one control byte announces.
const MAX_LITERAL_RUN: usize = 32;
const HASH_LOG: u32 = 14;

/// Most bytes one compressed byte can stand for: a 3-byte reference yields 264 bytes.
pub const MAX_EXPANSION: u64 = 88;

/// Why a compressed string could not be expanded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecompressError {
    /// A literal run or a reference runs past the end of the input.
    Truncated,
    /// The output would be longer than expected.
    TooLong,
    /// A reference points before the start of the output.
    BadReference,
    /// The input ended before the output reached the expected length.
    TooShort,
}

impl DecompressError {
    pub fn describe(self) -> &'static str {
        match self {
            DecompressError::Truncated => "LZF data ends inside a chunk",
            DecompressError::TooLong => "LZF data expands past the stated length",
            DecompressError::BadReference => "LZF back reference points before the start",
            DecompressError::TooShort => "LZF data expands to less than the stated length",
        }
    }
}

/// Expands `input` into exactly `len` bytes, appended to `out`.
pub fn decompress(input: &[u8], len: usize, out: &mut Vec<u8>) -> Result<(), DecompressError> {
    let base = out.len();
    let end = base.checked_add(len).ok_or(DecompressError::TooLong)?;
    let mut ip = 0;
    while ip < input.len() {
        let ctrl = usize::from(input[ip]);
        ip += 1;
        if ctrl < 32 {
            let run = ctrl + 1;
            let literal = input.get(ip..ip + run).ok_or(DecompressError::Truncated)?;
            if out.len() + run > end {
                return Err(DecompressError::TooLong);
            }
            out.extend_from_slice(literal);
            ip += run;
            continue;
        }
        let mut ref_len = ctrl >> 5;
        if ref_len == 7 {
            ref_len += usize::from(*input.get(ip).ok_or(DecompressError::Truncated)?);
            ip += 1;
        }
        let low = usize::from(*input.get(ip).ok_or(DecompressError::Truncated)?);
        ip += 1;
        let distance = ((ctrl & 31) << 8 | low) + 1;
        let ref_len = ref_len + 2;
        if distance > out.len() - base {
            return Err(DecompressError::BadReference);
        }
        if out.len() + ref_len > end {
            return Err(DecompressError::TooLong);
        }
        copy_back(out, distance, ref_len);
    }
    if out.len() != end {
        return Err(DecompressError::TooShort);
    }
    Ok(())
}

/// Appends `count` bytes copied from `distance` back; the source may overlap what is written.
fn copy_back(out: &mut Vec<u8>, distance: usize, count: usize) {
    let start = out.len() - distance;
    if distance >= count {
        out.extend_from_within(start..start + count);
    } else {
        for i in 0..count {
            let b = out[start + i];
            out.push(b);
        }
    }
}

/// An LZF encoder. Its hash table is kept between calls: stale entries are harmless because
/// every candidate match is checked against the input before use.
pub struct Compressor {
    table: Vec<u32>,
}

impl Default for Compressor {
    fn default() -> Self {
        Compressor::new()
    }
}

impl Compressor {
    pub fn new() -> Compressor {
        Compressor {
            table: vec![0; 1 << HASH_LOG],
        }
    }

    /// Compresses `input` into `out` (cleared first). Returns false, leaving `out`
    /// unspecified, if the result would be longer than `max_len_bytes`.
    pub fn compress(&mut self, input: &[u8], max_len_bytes: usize, out: &mut Vec<u8>) -> bool {
        out.clear();
        let n = input.len();
        let mut literal_start = 0;
        let mut ip = 0;
        while ip + 2 < n {
            let candidate = self.swap_position(input, ip);
            let Some(match_len) = match_length(input, candidate, ip) else {
                ip += 1;
                continue;
            };
            emit_literals(&input[literal_start..ip], out);
            emit_reference(ip - candidate, match_len, out);
            if out.len() > max_len_bytes {
                return false;
            }
            // Index the positions inside the match too, for later matches.
            for p in ip + 1..(ip + match_len).min(n.saturating_sub(2)) {
                self.swap_position(input, p);
            }
            ip += match_len;
            literal_start = ip;
        }
        emit_literals(&input[literal_start..], out);
        out.len() <= max_len_bytes
    }

    /// Records `ip` as the latest position of its 3-byte hash; returns the previous one.
    fn swap_position(&mut self, input: &[u8], ip: usize) -> usize {
        let v =
            u32::from(input[ip]) << 16 | u32::from(input[ip + 1]) << 8 | u32::from(input[ip + 2]);
        let h = (v.wrapping_mul(2_654_435_761) >> (32 - HASH_LOG)) as usize;
        std::mem::replace(&mut self.table[h], ip as u32) as usize
    }
}

/// Length of the match between `candidate` and `ip`, if it is a usable back reference.
fn match_length(input: &[u8], candidate: usize, ip: usize) -> Option<usize> {
    if candidate >= ip || ip - candidate > MAX_DISTANCE {
        return None;
    }
    let limit = MAX_REF_LEN.min(input.len() - ip);
    let len = input[candidate..]
        .iter()
        .zip(&input[ip..ip + limit])
        .take_while(|(a, b)| a == b)
        .count();
    (len >= 3).then_some(len)
}

fn emit_literals(literals: &[u8], out: &mut Vec<u8>) {
    for run in literals.chunks(MAX_LITERAL_RUN) {
        out.push((run.len() - 1) as u8);
        out.extend_from_slice(run);
    }
}

fn emit_reference(distance: usize, len: usize, out: &mut Vec<u8>) {
    let d = distance - 1;
    let l = len - 2;
    let high = (d >> 8) as u8;
    if l < 7 {
        out.push((l as u8) << 5 | high);
    } else {
        out.push(7 << 5 | high);
        out.push((l - 7) as u8);
    }
    out.push(d as u8);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn roundtrip(data: &[u8]) -> Option<Vec<u8>> {
        let mut c = Compressor::new();
        let mut packed = Vec::new();
        if !c.compress(data, usize::MAX, &mut packed) {
            return None;
        }
        let mut back = Vec::new();
        decompress(&packed, data.len(), &mut back).expect("own output decodes");
        assert_eq!(back, data);
        Some(packed)
    }

    #[test]
    fn known_streams_decode() {
        // "aaaaaaaaaa": one literal, then a reference of 9 bytes at distance 1.
        let packed = [0x00, b'a', 0xE0, 0x00, 0x00];
        let mut out = Vec::new();
        decompress(&packed, 10, &mut out).unwrap();
        assert_eq!(out, b"aaaaaaaaaa");
    }

    #[test]
    fn repetitive_data_shrinks() {
        let data = b"abcabcabcabcabcabcabcabcabcabcabcabcabcabc".repeat(20);
        let packed = roundtrip(&data).unwrap();
        assert!(packed.len() < data.len() / 10, "{}", packed.len());
        let long_run = vec![b'x'; 100_000];
        assert!(roundtrip(&long_run).unwrap().len() < 1200);
    }

    #[test]
    fn respects_the_size_limit() {
        let mut c = Compressor::new();
        let mut out = Vec::new();
        let noise: Vec<u8> = (0..200u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        assert!(!c.compress(&noise, noise.len() - 4, &mut out));
        assert!(c.compress(&[7u8; 200], 20, &mut out));
    }

    #[test]
    fn rejects_bad_streams() {
        let mut out = Vec::new();
        assert_eq!(
            decompress(&[0x05, 1, 2], 6, &mut out),
            Err(DecompressError::Truncated)
        );
        out.clear();
        assert_eq!(
            decompress(&[0x20, 0x00], 3, &mut out),
            Err(DecompressError::BadReference)
        );
        out.clear();
        assert_eq!(
            decompress(&[0x01, 1, 2], 1, &mut out),
            Err(DecompressError::TooLong)
        );
        out.clear();
        assert_eq!(
            decompress(&[0x01, 1, 2], 3, &mut out),
            Err(DecompressError::TooShort)
        );
        out.clear();
        assert_eq!(
            decompress(&[0xE0], 3, &mut out),
            Err(DecompressError::Truncated)
        );
    }

    #[test]
    fn stale_table_entries_are_harmless() {
        let mut c = Compressor::new();
        let mut out = Vec::new();
        let first = b"0123456789012345678901234567890123456789".repeat(30);
        assert!(c.compress(&first, usize::MAX, &mut out));
        let second = b"zyxwvzyxwvzyxwv".to_vec();
        assert!(c.compress(&second, usize::MAX, &mut out));
        let mut back = Vec::new();
        decompress(&out, second.len(), &mut back).unwrap();
        assert_eq!(back, second);
    }

    proptest! {
        #[test]
        fn compress_then_decompress(data in proptest::collection::vec(0u8..4, 0..3000)) {
            roundtrip(&data);
        }

        #[test]
        fn arbitrary_bytes_roundtrip(data: Vec<u8>) {
            roundtrip(&data);
        }

        #[test]
        fn decompress_never_panics(data: Vec<u8>, len in 0usize..5000) {
            let mut out = Vec::new();
            if decompress(&data, len, &mut out).is_ok() {
                prop_assert_eq!(out.len(), len);
            }
            prop_assert!(out.len() as u64 <= data.len() as u64 * MAX_EXPANSION);
        }
    }
}
