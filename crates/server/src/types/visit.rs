//! Encoding-independent visits of a collection's elements, for code that reads every element
//! and does not care how it is stored (DEBUG DIGEST, DEBUG OBJECT, MEMORY USAGE, snapshots).

use super::hash::Hash;
use super::intset::Is;
use super::list::QuickList;
use super::listpack::{Entry, Lp};
use super::set::Set;
use super::zset::ZSet;

/// Calls `f` with each list element, head to tail.
pub fn list_items(l: &QuickList, f: impl FnMut(&[u8])) {
    l.for_each(f);
}

/// Calls `f` with each set member.
pub fn set_members(s: &Set, mut f: impl FnMut(&[u8])) {
    match s {
        Set::Intset(is) => {
            let mut buf = itoa::Buffer::new();
            for v in Is(is.as_slice()).iter() {
                f(buf.format(v).as_bytes());
            }
        }
        Set::Table(t) => t.iter().for_each(|m| f(m.0.as_slice())),
    }
}

/// Calls `f` with each (field, value) of a hash.
pub fn hash_pairs(h: &Hash, mut f: impl FnMut(&[u8], &[u8])) {
    match h {
        Hash::Listpack(lp) => {
            let (mut a, mut b) = (itoa::Buffer::new(), itoa::Buffer::new());
            let mut it = Lp(lp.as_slice()).iter();
            while let (Some(field), Some(value)) = (it.next(), it.next()) {
                f(field.as_bytes(&mut a), value.as_bytes(&mut b));
            }
        }
        Hash::Table(t) => t
            .iter()
            .for_each(|fv| f(fv.field.as_slice(), fv.value.as_slice())),
    }
}

/// Calls `f` with each (member, score) of a sorted set, in score order.
pub fn zset_pairs(z: &ZSet, mut f: impl FnMut(&[u8], f64)) {
    let mut buf = itoa::Buffer::new();
    for (member, score) in z.iter() {
        f(member.as_bytes(&mut buf), score);
    }
}

/// A score as a sorted-set listpack stores it (an integer, or the text of a double).
pub fn entry_score(e: Entry<'_>) -> f64 {
    match e {
        Entry::Int(i) => i as f64,
        Entry::Str(s) => rudis_resp::number::parse_f64(s).unwrap_or(0.0),
    }
}
