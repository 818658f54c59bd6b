//! The dense encoding: 16384 registers of 6 bits packed from the least significant bit of
//! each byte upwards, a register spilling into the next byte where it must. Register `i`
//! starts at bit `6 * i`; every 3 bytes hold exactly 4 registers.
//!
//! Functions take the register bytes only (the string after its header). The last register
//! ends exactly at the last byte, so no access goes past the slice.

use super::format::{Histogram, REGISTER_BITS, REGISTER_MAX};

/// The value of register `index`.
pub fn get(registers: &[u8], index: usize) -> u8 {
    let bit = index * REGISTER_BITS;
    let (byte, shift) = (bit / 8, bit % 8);
    let low = u16::from(registers[byte]);
    // A register that fits in its first byte needs no second one (the last register does).
    let high = registers.get(byte + 1).map_or(0, |&b| u16::from(b));
    (((high << 8 | low) >> shift) as u8) & REGISTER_MAX
}

/// Sets register `index` to `value` (at most 63), leaving its neighbours alone.
pub fn set(registers: &mut [u8], index: usize, value: u8) {
    let bit = index * REGISTER_BITS;
    let (byte, shift) = (bit / 8, bit % 8);
    let mask = u16::from(REGISTER_MAX) << shift;
    let bits = u16::from(value & REGISTER_MAX) << shift;
    registers[byte] = (registers[byte] & !(mask as u8)) | bits as u8;
    if mask >> 8 != 0 {
        let next = &mut registers[byte + 1];
        *next = (*next & !((mask >> 8) as u8)) | (bits >> 8) as u8;
    }
}

/// Raises register `index` to `value` if it is lower; true if it changed.
pub fn raise(registers: &mut [u8], index: usize, value: u8) -> bool {
    if value > get(registers, index) {
        set(registers, index, value);
        true
    } else {
        false
    }
}

/// Counts the registers holding each value.
pub fn histogram(registers: &[u8], histogram: &mut Histogram) {
    for group in registers.chunks_exact(3) {
        let word = u32::from(group[0]) | u32::from(group[1]) << 8 | u32::from(group[2]) << 16;
        for register in 0..4 {
            histogram[((word >> (register * REGISTER_BITS)) & 63) as usize] += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::hll::format::{DENSE_REGISTER_BYTES, REGISTERS};

    #[test]
    fn registers_are_independent() {
        let mut registers = vec![0u8; DENSE_REGISTER_BYTES];
        let mut expected = vec![0u8; REGISTERS];
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..3 {
            for (i, e) in expected.iter_mut().enumerate() {
                *e = rng.u8(0..=63);
                set(&mut registers, i, *e);
            }
            for (i, e) in expected.iter().enumerate() {
                assert_eq!(get(&registers, i), *e, "register {i}");
            }
        }
        let mut counted = [0u32; 64];
        histogram(&registers, &mut counted);
        let mut direct = [0u32; 64];
        for e in &expected {
            direct[*e as usize] += 1;
        }
        assert_eq!(counted, direct);
    }

    #[test]
    fn layout_is_lsb_first() {
        let mut registers = vec![0u8; DENSE_REGISTER_BYTES];
        set(&mut registers, 0, 0b11_1111);
        assert_eq!(&registers[..3], &[0b0011_1111, 0, 0]);
        set(&mut registers, 1, 0b10_0001);
        assert_eq!(&registers[..3], &[0b0111_1111, 0b0000_1000, 0]);
        set(&mut registers, REGISTERS - 1, 63);
        assert_eq!(registers[DENSE_REGISTER_BYTES - 1], 0b1111_1100);
        assert!(!raise(&mut registers, 1, 0b10_0001));
        assert!(raise(&mut registers, 1, 0b10_0010));
        assert_eq!(get(&registers, 1), 0b10_0010);
        assert_eq!(get(&registers, 0), 63);
    }
}
