//! Bit arithmetic on byte strings seen as bitmaps: bit 0 is the most significant bit of the
//! first byte. Readers treat bits past the end as 0; writers require the bytes to cover the
//! bits they write (the caller grows the string first).

/// Number of 1 bits in `bytes`.
pub fn count_ones(bytes: &[u8]) -> u64 {
    let mut chunks = bytes.chunks_exact(8);
    let mut n: u64 = chunks
        .by_ref()
        .map(|c| u64::from(u64::from_ne_bytes(c.try_into().expect("8 bytes")).count_ones()))
        .sum();
    n += chunks
        .remainder()
        .iter()
        .map(|b| u64::from(b.count_ones()))
        .sum::<u64>();
    n
}

/// Number of 1 bits among bits `first..=last`, which must lie within `bytes`.
pub fn count_ones_between(bytes: &[u8], first: u64, last: u64) -> u64 {
    let (first_byte, last_byte) = ((first / 8) as usize, (last / 8) as usize);
    let whole = count_ones(&bytes[first_byte..=last_byte]);
    // Take back the bits of the edge bytes that lie outside the range.
    let before = bytes[first_byte] & !(0xFFu8 >> (first % 8));
    let after_mask = 0xFFu8.checked_shr((last % 8 + 1) as u32).unwrap_or(0);
    let after = bytes[last_byte] & after_mask;
    whole - u64::from(before.count_ones()) - u64::from(after.count_ones())
}

/// The bits of byte `index` that lie within `first..=last`.
fn range_mask(index: u64, first: u64, last: u64) -> u8 {
    let lo = if index == first / 8 { first % 8 } else { 0 };
    let hi = if index == last / 8 { last % 8 } else { 7 };
    (0xFFu8 >> lo) & (0xFFu8 << (7 - hi))
}

/// Position of the first bit equal to `bit` among bits `first..=last`, which must lie within
/// `bytes`.
pub fn find_bit(bytes: &[u8], first: u64, last: u64, bit: bool) -> Option<u64> {
    // Searching for 0 is searching for 1 in the complement.
    let flip = if bit { 0 } else { 0xFF };
    let probe = |index: u64| {
        let found = (bytes[index as usize] ^ flip) & range_mask(index, first, last);
        (found != 0).then(|| index * 8 + u64::from(found.leading_zeros()))
    };
    let (first_byte, last_byte) = (first / 8, last / 8);
    if let Some(p) = probe(first_byte) {
        return Some(p);
    }
    if first_byte == last_byte {
        return None;
    }
    // Whole bytes in between, skipped a word at a time.
    let middle = &bytes[(first_byte + 1) as usize..last_byte as usize];
    let skip_word = u64::from_ne_bytes([flip; 8]);
    let mut chunks = middle.chunks_exact(8);
    let mut index = first_byte + 1;
    for chunk in chunks.by_ref() {
        if u64::from_ne_bytes(chunk.try_into().expect("8 bytes")) != skip_word {
            break;
        }
        index += 8;
    }
    while index < last_byte {
        if let Some(p) = probe(index) {
            return Some(p);
        }
        index += 1;
    }
    probe(last_byte)
}

/// The bit at `offset` (false past the end).
pub fn get_bit(bytes: &[u8], offset: u64) -> bool {
    let Some(&byte) = usize::try_from(offset / 8).ok().and_then(|i| bytes.get(i)) else {
        return false;
    };
    byte & (0x80 >> (offset % 8)) != 0
}

/// Sets or clears the bit at `offset`, which must lie within `bytes`.
pub fn set_bit(bytes: &mut [u8], offset: u64, on: bool) {
    let byte = &mut bytes[(offset / 8) as usize];
    let mask = 0x80u8 >> (offset % 8);
    if on {
        *byte |= mask;
    } else {
        *byte &= !mask;
    }
}

/// The `bits`-bit (1 to 64) unsigned integer at bit `offset`, most significant bit first.
pub fn get_unsigned(bytes: &[u8], offset: u64, bits: u32) -> u64 {
    (0..u64::from(bits)).fold(0, |v, i| (v << 1) | u64::from(get_bit(bytes, offset + i)))
}

/// The `bits`-bit (1 to 64) two's complement integer at bit `offset`.
pub fn get_signed(bytes: &[u8], offset: u64, bits: u32) -> i64 {
    let raw = get_unsigned(bytes, offset, bits);
    if bits < 64 && raw & (1 << (bits - 1)) != 0 {
        // Negative: extend the sign bit through the high bits.
        (raw | (u64::MAX << bits)) as i64
    } else {
        raw as i64
    }
}

/// Stores the low `bits` bits of `value` at bit `offset`; the bits must lie within `bytes`.
pub fn set_unsigned(bytes: &mut [u8], offset: u64, bits: u32, value: u64) {
    for i in 0..u64::from(bits) {
        let on = value & (1 << (u64::from(bits) - 1 - i)) != 0;
        set_bit(bytes, offset + i, on);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_count(bytes: &[u8], first: u64, last: u64) -> u64 {
        (first..=last).filter(|&b| get_bit(bytes, b)).count() as u64
    }

    fn naive_find(bytes: &[u8], first: u64, last: u64, bit: bool) -> Option<u64> {
        (first..=last).find(|&b| get_bit(bytes, b) == bit)
    }

    #[test]
    fn counting_and_finding_match_a_bit_by_bit_scan() {
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..2000 {
            let len = rng.usize(1..40);
            let bytes: Vec<u8> = (0..len)
                .map(|_| match rng.u8(0..4) {
                    0 => 0,
                    1 => 0xFF,
                    _ => rng.u8(..),
                })
                .collect();
            let total = len as u64 * 8;
            let first = rng.u64(0..total);
            let last = rng.u64(first..total);
            assert_eq!(
                count_ones_between(&bytes, first, last),
                naive_count(&bytes, first, last)
            );
            for bit in [false, true] {
                assert_eq!(
                    find_bit(&bytes, first, last, bit),
                    naive_find(&bytes, first, last, bit),
                    "{bytes:?} {first}..={last} {bit}"
                );
            }
        }
        assert_eq!(count_ones(&[0xFF; 19]), 152);
    }

    #[test]
    fn fields_round_trip() {
        let mut bytes = vec![0u8; 3];
        set_unsigned(&mut bytes, 7, 5, 23);
        assert_eq!(bytes, [0b0000_0001, 0b0111_0000, 0]);
        assert_eq!(get_unsigned(&bytes, 7, 5), 23);
        set_unsigned(&mut bytes, 8, 8, (-3i64) as u64);
        assert_eq!(get_signed(&bytes, 8, 8), -3);
        assert_eq!(
            get_signed(&bytes, 8, 64),
            i64::from_be_bytes([0xFD, 0, 0, 0, 0, 0, 0, 0])
        );
        assert_eq!(get_unsigned(&[0xFF], 4, 8), 0xF0, "zero past the end");
        assert!(!get_bit(&[0xFF], u64::MAX));
    }
}
