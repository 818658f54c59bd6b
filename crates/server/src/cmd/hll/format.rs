//! The HyperLogLog string format, exactly Redis's, so values move between Redis and Rudis in
//! RDB files, DUMP payloads and replication unchanged.
//!
//! A HyperLogLog is a string: a 16-byte header, then the registers.
//!
//! | bytes | content |
//! |---|---|
//! | 0..4 | the magic `HYLL` |
//! | 4 | the encoding: 0 dense, 1 sparse |
//! | 5..8 | unused, kept as found |
//! | 8..16 | the cached cardinality, little endian; its top bit set means "stale" |
//!
//! There are 16384 registers of 6 bits. The dense encoding packs them one after the other from
//! the least significant bit of each byte (12288 bytes, see `dense`); the sparse encoding
//! run-length codes them (see `sparse`). Values start sparse and turn dense when a register
//! exceeds 32 or the sparse form would outgrow `hll-sparse-max-bytes`.
//!
//! Every function here takes the whole string (header included), checked first with
//! [`check`]. Malformed sparse data is reported as [`Corrupt`], never read out of bounds.

use super::{dense, hash, sparse};

pub const MAGIC: &[u8; 4] = b"HYLL";
pub const HEADER_BYTES: usize = 16;
/// Offset of the encoding byte in the header.
pub const ENCODING_AT: usize = 4;
/// Offset of the cached cardinality in the header.
const CARD_AT: usize = 8;
pub const DENSE: u8 = 0;
pub const SPARSE: u8 = 1;

pub const REGISTER_INDEX_BITS: u32 = 14;
pub const REGISTERS: usize = 1 << REGISTER_INDEX_BITS;
pub const REGISTER_BITS: usize = 6;
pub const REGISTER_MAX: u8 = (1 << REGISTER_BITS) - 1;
pub const DENSE_REGISTER_BYTES: usize = (REGISTERS * REGISTER_BITS).div_ceil(8);
pub const DENSE_BYTES: usize = HEADER_BYTES + DENSE_REGISTER_BYTES;

/// The value is not a HyperLogLog at all (WRONGTYPE for the client).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotHll;

/// The value claims to be a HyperLogLog but its sparse registers do not decode (INVALIDOBJ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Corrupt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Dense,
    Sparse,
}

/// Redis's admission test: the magic, a known encoding, and for dense exactly the dense size.
/// The sparse registers are only checked when they are decoded.
pub fn check(bytes: &[u8]) -> Result<Encoding, NotHll> {
    if bytes.len() < HEADER_BYTES || &bytes[..4] != MAGIC {
        return Err(NotHll);
    }
    match bytes[ENCODING_AT] {
        DENSE if bytes.len() == DENSE_BYTES => Ok(Encoding::Dense),
        SPARSE => Ok(Encoding::Sparse),
        _ => Err(NotHll),
    }
}

/// An empty HyperLogLog: sparse, every register zero, cached cardinality 0.
pub fn new_empty() -> Vec<u8> {
    let mut bytes = vec![0; HEADER_BYTES];
    bytes[..4].copy_from_slice(MAGIC);
    bytes[ENCODING_AT] = SPARSE;
    sparse::push_zeros(&mut bytes, REGISTERS);
    bytes
}

/// The cached cardinality, if it is still valid.
pub fn cached_card(bytes: &[u8]) -> Option<u64> {
    let card = u64::from_le_bytes(bytes[CARD_AT..HEADER_BYTES].try_into().expect("8 bytes"));
    (card >> 63 == 0).then_some(card)
}

pub fn set_cached_card(bytes: &mut [u8], card: u64) {
    bytes[CARD_AT..HEADER_BYTES].copy_from_slice(&card.to_le_bytes());
}

/// Marks the cached cardinality stale, keeping its other bits as Redis does.
pub fn invalidate_cache(bytes: &mut [u8]) {
    bytes[HEADER_BYTES - 1] |= 0x80;
}

/// Adds `element`; true if a register grew. The cache is left for the caller to invalidate.
pub fn add(bytes: &mut Vec<u8>, element: &[u8], sparse_max_bytes: usize) -> Result<bool, Corrupt> {
    let (index, value) = hash::register_of(element);
    set_register(bytes, index, value, sparse_max_bytes)
}

/// Raises register `index` to `value` if it is lower; true if it grew. A sparse value turns
/// dense when `value` does not fit the sparse encoding or the edit would make it longer than
/// `sparse_max_bytes`.
pub fn set_register(
    bytes: &mut Vec<u8>,
    index: usize,
    value: u8,
    sparse_max_bytes: usize,
) -> Result<bool, Corrupt> {
    match bytes[ENCODING_AT] {
        DENSE => Ok(dense::raise(&mut bytes[HEADER_BYTES..], index, value)),
        SPARSE => match sparse::raise(bytes, index, value, sparse_max_bytes)? {
            sparse::Raised::No => Ok(false),
            sparse::Raised::Yes => Ok(true),
            sparse::Raised::NeedsDense => {
                to_dense(bytes)?;
                // The sparse decoder reached this register and found it lower, and the dense
                // form holds the same registers.
                let grew = dense::raise(&mut bytes[HEADER_BYTES..], index, value);
                assert!(grew, "a register promoted to dense must grow");
                Ok(true)
            }
        },
        _ => Err(Corrupt),
    }
}

/// Converts a sparse value to dense in place, keeping the rest of the header. Returns false if
/// it was dense already.
pub fn to_dense(bytes: &mut Vec<u8>) -> Result<bool, Corrupt> {
    if bytes[ENCODING_AT] == DENSE {
        return Ok(false);
    }
    let mut dense = vec![0; DENSE_BYTES];
    dense[..HEADER_BYTES].copy_from_slice(&bytes[..HEADER_BYTES]);
    dense[ENCODING_AT] = DENSE;
    sparse::fill_dense(bytes, &mut dense[HEADER_BYTES..])?;
    *bytes = dense;
    Ok(true)
}

/// How many registers hold each value, indexed by value. Registers are 6 bits, so 64 slots
/// cover any input.
pub type Histogram = [u32; 64];

/// The estimated cardinality, computed from the registers (the cache is not consulted).
pub fn count(bytes: &[u8]) -> Result<u64, Corrupt> {
    let mut histogram: Histogram = [0; 64];
    match bytes[ENCODING_AT] {
        DENSE => dense::histogram(&bytes[HEADER_BYTES..], &mut histogram),
        SPARSE => sparse::histogram(bytes, &mut histogram)?,
        _ => return Err(Corrupt),
    }
    Ok(super::estimate::cardinality(&histogram))
}

/// Raises each of `max` (one byte per register) to the value's register.
pub fn merge_into(max: &mut [u8; REGISTERS], bytes: &[u8]) -> Result<(), Corrupt> {
    match bytes[ENCODING_AT] {
        DENSE => {
            let registers = &bytes[HEADER_BYTES..];
            for (index, m) in max.iter_mut().enumerate() {
                *m = (*m).max(dense::get(registers, index));
            }
            Ok(())
        }
        _ => sparse::merge_into(max, bytes),
    }
}

/// The estimated cardinality of registers held one per byte (a merge of several values).
pub fn count_unpacked(max: &[u8; REGISTERS]) -> u64 {
    let mut histogram: Histogram = [0; 64];
    for &value in max {
        histogram[usize::from(value & REGISTER_MAX)] += 1;
    }
    super::estimate::cardinality(&histogram)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admission_follows_redis() {
        let empty = new_empty();
        assert_eq!(
            empty.len(),
            HEADER_BYTES + 2,
            "one XZERO run covers every register"
        );
        assert_eq!(check(&empty), Ok(Encoding::Sparse));
        assert_eq!(check(&empty[..15]), Err(NotHll));
        let mut bad_magic = empty.clone();
        bad_magic[1] = b'x';
        assert_eq!(check(&bad_magic), Err(NotHll));
        let mut bad_encoding = empty.clone();
        bad_encoding[ENCODING_AT] = 2;
        assert_eq!(check(&bad_encoding), Err(NotHll));
        let mut dense_header_only = empty.clone();
        dense_header_only[ENCODING_AT] = DENSE;
        assert_eq!(
            check(&dense_header_only),
            Err(NotHll),
            "dense needs its exact size"
        );
        let mut dense = empty.clone();
        assert_eq!(to_dense(&mut dense), Ok(true));
        assert_eq!(dense.len(), DENSE_BYTES);
        assert_eq!(check(&dense), Ok(Encoding::Dense));
        assert_eq!(to_dense(&mut dense), Ok(false));
        // A sparse header with no registers at all is admitted: only decoding finds it bad.
        assert_eq!(check(&empty[..HEADER_BYTES]), Ok(Encoding::Sparse));
        assert_eq!(count(&empty[..HEADER_BYTES]), Err(Corrupt));
    }

    #[test]
    fn cache_validity_is_the_top_bit() {
        let mut bytes = new_empty();
        assert_eq!(cached_card(&bytes), Some(0));
        set_cached_card(&mut bytes, 12345);
        assert_eq!(cached_card(&bytes), Some(12345));
        invalidate_cache(&mut bytes);
        assert_eq!(cached_card(&bytes), None);
        assert_eq!(bytes[8], 0x39, "the other bits are kept");
        assert_eq!(bytes[15], 0x80);
    }

    #[test]
    fn sparse_and_dense_count_alike() {
        let mut sparse = new_empty();
        let mut dense = new_empty();
        to_dense(&mut dense).expect("valid");
        for i in 0..2000u32 {
            let element = i.to_string();
            let a = add(&mut sparse, element.as_bytes(), 100_000).expect("valid");
            let b = add(&mut dense, element.as_bytes(), 100_000).expect("valid");
            assert_eq!(a, b, "both grow the same register");
        }
        assert_eq!(sparse[ENCODING_AT], SPARSE);
        assert_eq!(count(&sparse), count(&dense));
        let mut max = [0; REGISTERS];
        merge_into(&mut max, &sparse).expect("valid");
        let mut from_dense = [0; REGISTERS];
        merge_into(&mut from_dense, &dense).expect("valid");
        assert!(max == from_dense);
        assert_eq!(Ok(count_unpacked(&max)), count(&dense));
        let estimate = count(&dense).expect("valid");
        assert!((1900..2100).contains(&estimate), "{estimate}");
    }

    #[test]
    fn sparse_turns_dense_past_its_size_limit() {
        let mut bytes = new_empty();
        let mut i = 0u32;
        while bytes[ENCODING_AT] == SPARSE {
            assert!(bytes.len() <= 300, "stays within the limit while sparse");
            add(&mut bytes, &i.to_le_bytes(), 300).expect("valid");
            i += 1;
        }
        assert_eq!(bytes.len(), DENSE_BYTES);
        assert!(i > 50, "{i} elements");
    }
}
