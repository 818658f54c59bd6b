//! DEBUG DIGEST and DIGEST-VALUE: a 20-byte fingerprint of the dataset, or of single values.
//!
//! Two servers holding the same data (keys, values, which keys have an expiry, in the same
//! databases) produce the same digest, whatever order the keys were written in or sit in
//! memory, and an empty dataset digests to all zeros. The construction is Redis's, so the
//! hex strings equal Redis's for the same data:
//!
//! - `xor(d, data)`: d ^= SHA1(data). Commutative, so it combines unordered things (keys of
//!   a database, members of a set, fields of a hash, members of a sorted set); a part that
//!   is itself a digest is hashed again on the way in.
//! - `mix(d, data)`: d = SHA1(d ^ SHA1(data)). Order-sensitive, for sequences (list
//!   elements, the parts of one entry).
//!
//! A key digests as: mix(key), mix(type code as 4 big-endian bytes), the value (strings
//! mixed; list elements mixed in order; set members xored; hash fields and sorted-set
//! members each digested on their own as mix(field) mix(value) / mix(member) mix(score as
//! `%.17g`), then xored in), and xor("!!expire!!") if the key has an expiry. A database
//! with keys first mixes its index (4 big-endian bytes) into the total, then xors in each
//! key's digest.
//!
//! (The per-element digests of hashes and sorted sets, unlike those of keys, cannot be
//! checked against Redis until the data-types work adds their commands.)

use crate::keyspace::db::Keyspace;
use crate::keyspace::value::{KeyEntry, Value};
use crate::types::visit;

pub type Digest = [u8; 20];

/// The digest of every database's keys.
pub fn dataset_digest(ks: &Keyspace) -> Digest {
    let mut total = [0u8; 20];
    for (index, db) in ks.dbs().iter().enumerate() {
        if db.key_count() == 0 {
            continue;
        }
        mix(&mut total, &(index as u32).to_be_bytes());
        for slot in 0..crate::keyspace::slot::SLOTS as u16 {
            let Some(shard) = db.shard_if_allocated(slot) else {
                continue;
            };
            for entry in shard.lock().keys.iter() {
                let mut d = [0u8; 20];
                mix(&mut d, entry.key.as_slice());
                value_digest(&mut d, entry);
                xor(&mut total, &d);
            }
        }
    }
    total
}

/// Folds a key's value (and whether it expires) into `d`.
pub fn value_digest(d: &mut Digest, entry: &KeyEntry) {
    mix(d, &type_code(&entry.value).to_be_bytes());
    match &entry.value {
        Value::Str(s) => mix(d, s.as_slice()),
        Value::List(l) => visit::list_items(l, |item| mix(d, item)),
        Value::Set(s) => visit::set_members(s, |m| xor(d, m)),
        Value::Hash(h) => visit::hash_pairs(h, |field, value| xor(d, &pair_digest(field, value))),
        Value::ZSet(z) => visit::zset_pairs(z, |member, score| {
            let mut text = Vec::with_capacity(24);
            rudis_resp::number::format_g17(score, &mut text);
            xor(d, &pair_digest(member, &text));
        }),
        Value::Stream(s) => {
            use crate::types::stream::{format_id, StreamId};
            for e in s.range(StreamId::default(), StreamId::MAX, false) {
                mix(d, &format_id(e.id));
                e.strings().for_each(|x| mix(d, x));
            }
        }
    }
    if entry.has_expire() {
        xor(d, b"!!expire!!");
    }
}

/// Redis's type codes, part of the digest.
fn type_code(v: &Value) -> u32 {
    match v {
        Value::Str(_) => 0,
        Value::List(_) => 1,
        Value::Set(_) => 2,
        Value::ZSet(_) => 3,
        Value::Hash(_) => 4,
        Value::Stream(_) => 6,
    }
}

fn pair_digest(a: &[u8], b: &[u8]) -> Digest {
    let mut d = [0u8; 20];
    mix(&mut d, a);
    mix(&mut d, b);
    d
}

fn xor(d: &mut Digest, data: &[u8]) {
    xor_into(d, &sha1(data));
}

fn xor_into(d: &mut Digest, other: &Digest) {
    d.iter_mut().zip(other).for_each(|(a, b)| *a ^= b);
}

fn mix(d: &mut Digest, data: &[u8]) {
    xor(d, data);
    *d = sha1(d);
}

/// Lowercase hex, as DEBUG DIGEST prints it.
pub fn hex(d: &Digest) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-1 (FIPS 180-4). Used only for fingerprints, never for security.
pub fn sha1(data: &[u8]) -> Digest {
    let mut h: [u32; 5] = [
        0x6745_2301,
        0xEFCD_AB89,
        0x98BA_DCFE,
        0x1032_5476,
        0xC3D2_E1F0,
    ];
    let bit_len = (data.len() as u64).wrapping_mul(8);
    let mut tail = data[data.len() - data.len() % 64..].to_vec();
    tail.push(0x80);
    while tail.len() % 64 != 56 {
        tail.push(0);
    }
    tail.extend_from_slice(&bit_len.to_be_bytes());
    for block in data.chunks_exact(64).chain(tail.chunks_exact(64)) {
        sha1_block(&mut h, block);
    }
    let mut out = [0u8; 20];
    for (chunk, word) in out.chunks_exact_mut(4).zip(h) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    out
}

fn sha1_block(h: &mut [u32; 5], block: &[u8]) {
    let mut w = [0u32; 80];
    for (i, word) in block.chunks_exact(4).enumerate() {
        w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
    }
    for i in 16..80 {
        w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
    }
    let [mut a, mut b, mut c, mut d, mut e] = *h;
    for (i, &wi) in w.iter().enumerate() {
        let (f, k) = match i {
            0..=19 => ((b & c) | (!b & d), 0x5A82_7999),
            20..=39 => (b ^ c ^ d, 0x6ED9_EBA1),
            40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
            _ => (b ^ c ^ d, 0xCA62_C1D6),
        };
        let t = a
            .rotate_left(5)
            .wrapping_add(f)
            .wrapping_add(e)
            .wrapping_add(k)
            .wrapping_add(wi);
        e = d;
        d = c;
        c = b.rotate_left(30);
        b = a;
        a = t;
    }
    for (x, y) in h.iter_mut().zip([a, b, c, d, e]) {
        *x = x.wrapping_add(y);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::Txn;

    #[test]
    fn sha1_known_answers() {
        assert_eq!(hex(&sha1(b"")), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(
            hex(&sha1(b"abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        let long = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        assert_eq!(hex(&sha1(long)), "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
        assert_eq!(
            hex(&sha1(&[b'a'; 1000])),
            "291e9a6c66994949b57ba5e650361e98fc36b1ba"
        );
    }

    fn digest_of(keys: &[(&[u8], &[u8])]) -> String {
        let ks = Keyspace::new(2);
        let mut t = Txn::exclusive(&ks, 0, 0);
        for (k, v) in keys {
            t.set(k, Value::str(v), false);
        }
        drop(t);
        hex(&dataset_digest(&ks))
    }

    #[test]
    fn dataset_digest_ignores_order_but_not_content() {
        assert_eq!(digest_of(&[]), "0".repeat(40));
        let ab = digest_of(&[(b"a", b"1"), (b"b", b"2")]);
        assert_eq!(ab, digest_of(&[(b"b", b"2"), (b"a", b"1")]));
        assert_ne!(ab, digest_of(&[(b"a", b"2"), (b"b", b"1")]));
        assert_ne!(ab, "0".repeat(40));
    }

    #[test]
    fn expiry_changes_the_value_digest() {
        let mut e = KeyEntry::new(b"k", Value::str(b"v"), 0);
        let mut plain = [0u8; 20];
        value_digest(&mut plain, &e);
        e.flags |= crate::keyspace::value::FLAG_EXPIRES;
        let mut volatile = [0u8; 20];
        value_digest(&mut volatile, &e);
        assert_ne!(plain, volatile);
    }
}
