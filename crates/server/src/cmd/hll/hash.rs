//! Which register an element touches and what it offers that register.
//!
//! The hash is MurmurHash64A (Austin Appleby's 64-bit MurmurHash2) with Redis's seed, reading
//! 8-byte blocks as little-endian words on every platform, so an element lands in the same
//! register with the same value as in Redis, and HyperLogLogs built by either agree.

use super::format::{REGISTERS, REGISTER_INDEX_BITS};

/// The seed Redis hashes HyperLogLog elements with.
const SEED: u64 = 0xadc8_3b19;

/// MurmurHash64A of `data` with `seed`.
pub fn murmur64a(data: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (data.len() as u64).wrapping_mul(M);
    let mut blocks = data.chunks_exact(8);
    for block in &mut blocks {
        let mut k = u64::from_le_bytes(block.try_into().expect("8-byte block"));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= u64::from(b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register `element` belongs to, and the value it offers: one more than the number of
/// zero bits above the index bits, counted from the least significant end (at most 51).
pub fn register_of(element: &[u8]) -> (usize, u8) {
    let hash = murmur64a(element, SEED);
    let index = (hash & (REGISTERS as u64 - 1)) as usize;
    // A stop bit just past the 50 counted bits bounds the run.
    let rest = (hash >> REGISTER_INDEX_BITS) | (1u64 << (64 - REGISTER_INDEX_BITS));
    (index, rest.trailing_zeros() as u8 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Registers and values Redis 7.0 gives these elements (read back with PFDEBUG DECODE),
    /// covering every tail length of the hash from 0 to 7 bytes.
    #[test]
    fn elements_land_where_redis_puts_them() {
        let cases: &[(&[u8], usize, u8)] = &[
            (b"", 5938, 2),
            (b"a", 12711, 2),
            (b"b", 15780, 1),
            (b"hello", 9216, 1),
            (b"x1234567", 12219, 1),
            (b"redis-rudis", 11163, 1),
            (b"element:12345", 7446, 1),
            (b"abcdefghijklmno", 12377, 4),
            (b"0123456789abcdef", 5949, 1),
        ];
        for &(element, index, value) in cases {
            assert_eq!(
                register_of(element),
                (index, value),
                "{}",
                String::from_utf8_lossy(element)
            );
        }
    }

    #[test]
    fn runs_are_bounded_by_the_stop_bit() {
        // Whatever the hash, the value fits the 6-bit registers and is at least 1.
        for i in 0..10_000u32 {
            let (index, value) = register_of(&i.to_le_bytes());
            assert!(index < REGISTERS);
            assert!((1..=51).contains(&value));
        }
    }
}
