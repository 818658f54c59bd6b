//! Key to cluster hash slot: CRC16 (XMODEM) of the key, or of its `{hash tag}` when the key
//! has a non-empty one, modulo 16384. Used in standalone mode too, because the keyspace is
//! sharded by slot.

/// Number of hash slots.
pub const SLOTS: usize = 16384;

/// Sliced by 16: a key's 16-byte blocks are folded in one step each, where the byte-wise table
/// walks a chain of 16 dependent lookups. Every command hashes its keys, so this shows.
const CRC16: crc::Crc<u16, crc::Table<16>> =
    crc::Crc::<u16, crc::Table<16>>::new(&crc::CRC_16_XMODEM);

/// The hash slot of `key`.
#[inline]
pub fn key_slot(key: &[u8]) -> u16 {
    CRC16.checksum(hash_tag(key)) & (SLOTS as u16 - 1)
}

/// The part of the key that is hashed: the bytes between the first `{` and the next `}`,
/// if that is non-empty; otherwise the whole key.
pub fn hash_tag(key: &[u8]) -> &[u8] {
    if let Some(open) = key.iter().position(|&c| c == b'{') {
        if let Some(len) = key[open + 1..].iter().position(|&c| c == b'}') {
            if len > 0 {
                return &key[open + 1..open + 1 + len];
            }
        }
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_slots() {
        // Values from the Redis cluster specification's examples and CLUSTER KEYSLOT.
        assert_eq!(key_slot(b"123456789"), 0x31C3 & 16383);
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(key_slot(b"foo{}{bar}"), key_slot(b"foo{}{bar}"));
        assert_eq!(hash_tag(b"foo{}{bar}"), b"foo{}{bar}");
        assert_eq!(hash_tag(b"foo{{bar}}zap"), b"{bar");
        assert_eq!(hash_tag(b"foo{bar}{zap}"), b"bar");
    }
}
