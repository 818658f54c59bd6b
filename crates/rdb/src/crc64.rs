//! CRC-64/REDIS (Jones polynomial, reflected, zero init), the checksum at the end of RDB files
//! and DUMP payloads. `crc64(0, ...)` in Redis is [`checksum`] here.

use crc::{Crc, Table, CRC_64_REDIS};

/// Sixteen tables: RDB files can be many gigabytes, and this is the fastest variant.
pub(crate) static CRC64: Crc<u64, Table<16>> = Crc::<u64, Table<16>>::new(&CRC_64_REDIS);

pub(crate) type Digest = crc::Digest<'static, u64, Table<16>>;

/// The CRC64 of `bytes`, as Redis computes it.
pub fn checksum(bytes: &[u8]) -> u64 {
    CRC64.checksum(bytes)
}

#[cfg(test)]
mod tests {
    #[test]
    fn matches_redis_test_vector() {
        // From Redis's crc64.c self-test.
        assert_eq!(super::checksum(b"123456789"), 0xe9c6d914c4b8d9ca);
    }
}
