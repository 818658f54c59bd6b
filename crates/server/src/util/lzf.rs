//! LZF, the small LZ77 compressor Redis uses for quicklist nodes (`list-compress-depth`) and
//! for strings in RDB files, in liblzf's exact stream format, so either side can read what the
//! other wrote.
//!
//! A stream is a sequence of items, each starting with a control byte:
//!
//! - `000LLLLL`: a literal run of `L + 1` bytes (1..=32) follows;
//! - `LLLOOOOO oooooooo`: a back reference of `L + 2` bytes (3..=8) at distance
//!   `O·256 + o + 1` (1..=8192) before the current end of the output;
//! - `111OOOOO LLLLLLLL oooooooo`: the same with length `L + 9` (9..=264).
//!
//! Streams carry no length: the reader is told the decompressed size and checks every item
//! against it. The compressor here is a greedy single-probe hash matcher, like liblzf's
//! default; its output differs from liblzf's byte for byte but decodes the same everywhere.

/// Longest literal run one control byte can announce.
const LITERAL_MAX: usize = 32;
/// Longest back reference.
const MATCH_MAX: usize = 264;
/// Farthest back a reference can reach.
const DISTANCE_MAX: usize = 1 << 13;
/// Bits of the hash table of 3-byte prefixes (a small table keeps compress calls cheap: it is
/// cleared on every call).
const HASH_BITS: u32 = 13;
/// The most output one input byte can produce (a 3-byte reference expanding to 264 bytes),
/// used to refuse impossible decompressed sizes before allocating them.
const EXPANSION_MAX: usize = MATCH_MAX / 3;

fn hash3(b: &[u8]) -> usize {
    let v = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
    (v.wrapping_mul(0x9E37_79B1) >> (32 - HASH_BITS)) as usize
}

/// Compresses `input`, or returns `None` if the result would not be shorter than
/// `out_limit` bytes (callers pass the size they need to beat; too small to be worth it is
/// their decision).
pub fn compress(input: &[u8], out_limit: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(out_limit.min(input.len() + input.len() / LITERAL_MAX + 1));
    // Positions + 1 of the last place each 3-byte prefix hash was seen (0: never).
    let mut table = vec![0u32; 1 << HASH_BITS];
    let mut literal_start = 0;
    let mut i = 0;
    while i + 2 < input.len() {
        let h = hash3(&input[i..]);
        let candidate = table[h] as usize;
        table[h] = (i + 1) as u32;
        if candidate != 0 {
            let r = candidate - 1;
            let distance = i - r;
            if distance <= DISTANCE_MAX && input[r..r + 3] == input[i..i + 3] {
                let limit = MATCH_MAX.min(input.len() - i);
                let mut len = 3;
                while len < limit && input[r + len] == input[i + len] {
                    len += 1;
                }
                push_literals(&input[literal_start..i], &mut out);
                push_reference(distance, len, &mut out);
                // Remember the prefixes inside the match too, for later matches.
                for p in i + 1..(i + len).min(input.len().saturating_sub(2)) {
                    table[hash3(&input[p..])] = (p + 1) as u32;
                }
                i += len;
                literal_start = i;
                if out.len() >= out_limit {
                    return None;
                }
                continue;
            }
        }
        i += 1;
    }
    push_literals(&input[literal_start..], &mut out);
    (out.len() < out_limit).then_some(out)
}

fn push_literals(mut run: &[u8], out: &mut Vec<u8>) {
    while !run.is_empty() {
        let n = run.len().min(LITERAL_MAX);
        out.push((n - 1) as u8);
        out.extend_from_slice(&run[..n]);
        run = &run[n..];
    }
}

fn push_reference(distance: usize, len: usize, out: &mut Vec<u8>) {
    let offset = distance - 1;
    let high = (offset >> 8) as u8;
    let short_len = len - 2;
    if short_len < 7 {
        out.push((short_len as u8) << 5 | high);
    } else {
        out.push(7 << 5 | high);
        out.push((short_len - 7) as u8);
    }
    out.push(offset as u8);
}

/// Decompresses a stream that must expand to exactly `out_len` bytes. Returns `None` for
/// anything malformed: a truncated item, a reference before the start, output past
/// `out_len`, or a stream that ends short. Never allocates more than the input could
/// possibly expand to.
pub fn decompress(input: &[u8], out_len: usize) -> Option<Vec<u8>> {
    if out_len > input.len().saturating_mul(EXPANSION_MAX) {
        return None;
    }
    let mut out = Vec::with_capacity(out_len);
    let mut i = 0;
    while i < input.len() {
        let ctrl = input[i] as usize;
        i += 1;
        if ctrl < 32 {
            let run = input.get(i..i + ctrl + 1)?;
            if out.len() + run.len() > out_len {
                return None;
            }
            out.extend_from_slice(run);
            i += run.len();
            continue;
        }
        let mut len = ctrl >> 5;
        if len == 7 {
            len += *input.get(i)? as usize;
            i += 1;
        }
        len += 2;
        let distance = ((ctrl & 0x1F) << 8 | *input.get(i)? as usize) + 1;
        i += 1;
        if distance > out.len() || out.len() + len > out_len {
            return None;
        }
        let start = out.len() - distance;
        if distance >= len {
            out.extend_from_within(start..start + len);
        } else {
            // The reference overlaps what it writes: a repeating pattern, byte by byte.
            for k in 0..len {
                out.push(out[start + k]);
            }
        }
    }
    (out.len() == out_len).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(data: &[u8]) -> Option<usize> {
        let c = compress(data, data.len())?;
        assert_eq!(decompress(&c, data.len()).as_deref(), Some(data));
        Some(c.len())
    }

    #[test]
    fn compresses_repetitive_data() {
        let text = b"item:1 item:2 item:3 item:4 item:5 item:6 item:7 item:8 item:9".repeat(50);
        let n = roundtrip(&text).expect("compressible");
        assert!(n < text.len() / 4, "{n}");
        // Long runs use overlapping references.
        let zeros = vec![0u8; 10_000];
        assert!(roundtrip(&zeros).expect("compressible") < 200);
        // Incompressible data is refused rather than grown.
        let mut rng = fastrand::Rng::with_seed(7);
        let noise: Vec<u8> = (0..4096).map(|_| rng.u8(..)).collect();
        assert_eq!(compress(&noise, noise.len()), None);
        assert_eq!(compress(b"", 0), None);
    }

    #[test]
    fn reads_liblzf_output() {
        // What Redis 7.0 (liblzf) stores for 100 times "a" then 10 times "bc", taken from
        // a DUMP payload of that string.
        let stream = [
            0x01, b'a', b'a', 0xE0, 0x59, 0x00, 0x01, b'b', b'c', 0xE0, 0x07, 0x01, 0x01, b'b',
            b'c',
        ];
        let mut want = vec![b'a'; 100];
        want.extend_from_slice(&b"bc".repeat(10));
        assert_eq!(decompress(&stream, want.len()), Some(want.clone()));
        assert_eq!(decompress(&stream, want.len() + 1), None);
        assert_eq!(decompress(&stream, want.len() - 1), None);
    }

    #[test]
    fn rejects_malformed_streams() {
        assert_eq!(decompress(&[0x05, b'a'], 6), None, "truncated literal");
        assert_eq!(
            decompress(&[0x00, b'a', 0x20], 4),
            None,
            "truncated reference"
        );
        assert_eq!(
            decompress(&[0x00, b'a', 0x20, 0x01], 4),
            None,
            "reference before start"
        );
        assert_eq!(decompress(&[0x00, b'a'], 1 << 40), None, "impossible size");
        assert_eq!(decompress(&[], 0), Some(Vec::new()));
    }

    proptest::proptest! {
        #[test]
        fn roundtrips(words in proptest::collection::vec(0u8..8, 0..3000)) {
            // A small alphabet gives plenty of matches of every length and distance.
            let data: Vec<u8> = words.iter().map(|w| b"abcdefgh"[*w as usize]).collect();
            if let Some(c) = compress(&data, data.len()) {
                proptest::prop_assert_eq!(decompress(&c, data.len()), Some(data));
            }
        }

        #[test]
        fn decompress_never_panics(bytes: Vec<u8>, len in 0usize..5000) {
            let _ = decompress(&bytes, len);
        }
    }
}
