//! Sets: an intset while every member is a canonical integer and there are at most
//! `set-max-intset-entries` of them, a hash table of members otherwise.
//!
//! Redis's rule, kept exactly because OBJECT ENCODING, the reply order of SMEMBERS (an intset
//! iterates in ascending order) and RDB files all show it: a set starts as an intset when its
//! first member is an integer, and is converted to a hash table the moment a member is not
//! (parsed as Redis's `string2ll` does: no sign but `-`, no leading zeros, no spaces) or the
//! intset grows past the limit. Removing members never converts back; only building a new set
//! (the *STORE commands, SPOP's rebuild) can yield an intset again.
//!
//! Members are handed out as [`Elem`]s: an intset's integers are not strings until a reply or
//! a hash-table lookup needs them, and are then formatted on the stack.
//!
//! The set algebra (intersection, union, difference) lives in [`ops`]; the random selections
//! of SRANDMEMBER and SPOP in [`random`].

pub mod ops;
pub mod random;

use rudis_resp::number::parse_i64;

use super::intset::{self, IntSet, Is};
use crate::keyspace::bytes::CompactBytes;
use crate::keyspace::dict::{hash_key, Dict, Keyed};

/// The most intset entries Redis allows whatever `set-max-intset-entries` says (intset
/// internals limit it; the conversion rule uses the smaller of the two).
const INTSET_ENTRIES_HARD_MAX: usize = 1 << 30;

/// The intset size limit for a configured `set-max-intset-entries`.
pub fn intset_limit(max_intset_entries: i64) -> usize {
    max_intset_entries.clamp(0, INTSET_ENTRIES_HARD_MAX as i64) as usize
}

/// One member of a hash-table-encoded set.
#[derive(Debug, Clone)]
pub struct Member(pub CompactBytes);

impl Keyed for Member {
    fn key(&self) -> &[u8] {
        self.0.as_slice()
    }
}

/// A member as a set holds it: an integer of an intset, or the bytes of a table member.
///
/// Within one set every `Elem` has the same variant, so deriving equality and hashing on the
/// variant is sound for deduplicating members of one set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Elem<'a> {
    Int(i64),
    Bytes(&'a [u8]),
}

impl<'a> Elem<'a> {
    /// The member's bytes; an integer is formatted into `buf`.
    pub fn bytes<'b>(&self, buf: &'b mut itoa::Buffer) -> &'b [u8]
    where
        'a: 'b,
    {
        match *self {
            Elem::Int(v) => buf.format(v).as_bytes(),
            Elem::Bytes(b) => b,
        }
    }

    /// An owned copy of the member's bytes.
    pub fn to_compact(&self) -> CompactBytes {
        match *self {
            Elem::Int(v) => CompactBytes::from_i64(v),
            Elem::Bytes(b) => CompactBytes::new(b),
        }
    }

    /// Writes the member as a bulk string.
    pub fn reply(&self, reply: &mut rudis_resp::ReplyBuf) {
        match *self {
            Elem::Int(v) => reply.bulk_i64(v),
            Elem::Bytes(b) => reply.bulk(b),
        }
    }
}

#[derive(Debug, Clone)]
pub enum Set {
    Intset(IntSet),
    Table(Box<Dict<Member>>),
}

impl Default for Set {
    /// An empty intset, as Redis starts the result of a set operation.
    fn default() -> Self {
        Set::Intset(IntSet::empty())
    }
}

impl Set {
    /// An empty set in the encoding Redis gives a new key whose first member is `member`: an
    /// intset if it is an integer, a hash table otherwise.
    pub fn for_member(member: &[u8]) -> Set {
        match parse_i64(member) {
            Some(_) => Set::default(),
            None => Set::Table(Box::default()),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Set::Intset(is) => Is(is.as_slice()).len(),
            Set::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        match self {
            Set::Intset(_) => "intset",
            Set::Table(_) => "hashtable",
        }
    }

    /// Approximate heap bytes owned by the set (MEMORY USAGE, DEBUG OBJECT).
    pub fn heap_bytes(&self) -> usize {
        match self {
            Set::Intset(is) => is.heap_bytes(),
            Set::Table(t) => {
                std::mem::size_of::<Dict<Member>>()
                    + t.overhead_bytes()
                    + t.iter().map(|m| m.0.heap_bytes()).sum::<usize>()
            }
        }
    }

    // ---- Membership ----------------------------------------------------------------------

    pub fn contains(&self, member: &[u8]) -> bool {
        match self {
            Set::Intset(is) => parse_i64(member).is_some_and(|v| Is(is.as_slice()).contains(v)),
            Set::Table(t) => t.contains(member),
        }
    }

    /// [`Set::contains`] for a member of another set, without formatting integers when both
    /// sides are intsets.
    pub fn contains_elem(&self, elem: Elem<'_>) -> bool {
        match (self, elem) {
            (Set::Intset(is), Elem::Int(v)) => Is(is.as_slice()).contains(v),
            (Set::Table(t), Elem::Int(v)) => t.contains(itoa::Buffer::new().format(v).as_bytes()),
            (_, Elem::Bytes(b)) => self.contains(b),
        }
    }

    // ---- Changes -------------------------------------------------------------------------

    /// Adds `member`; returns false if it was already there. Converts to a hash table when
    /// `member` is not an integer or the intset would exceed `intset_max` entries (see
    /// [`intset_limit`]).
    pub fn add(&mut self, member: &[u8], intset_max: usize) -> bool {
        match self {
            Set::Intset(_) => match parse_i64(member) {
                Some(v) => self.add_int(v, intset_max),
                None => {
                    // Not an integer: it cannot be in the intset, so it is new.
                    self.convert_to_table()
                        .insert_new(Member(CompactBytes::new(member)));
                    true
                }
            },
            Set::Table(t) => table_add(t, member),
        }
    }

    /// Adds an integer member (formatted if the set is a hash table).
    pub fn add_int(&mut self, v: i64, intset_max: usize) -> bool {
        match self {
            Set::Intset(is) => {
                if !is.edit(|buf| intset::insert(buf, v)) {
                    return false;
                }
                if Is(is.as_slice()).len() > intset_max {
                    self.convert_to_table();
                }
                true
            }
            Set::Table(t) => table_add(t, itoa::Buffer::new().format(v).as_bytes()),
        }
    }

    /// Adds a member of another set.
    pub fn add_elem(&mut self, elem: Elem<'_>, intset_max: usize) -> bool {
        match elem {
            Elem::Int(v) => self.add_int(v, intset_max),
            Elem::Bytes(b) => self.add(b, intset_max),
        }
    }

    /// Removes `member`; returns false if it was not there. The encoding never changes.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            Set::Intset(is) => match parse_i64(member) {
                Some(v) => is.edit(|buf| intset::remove(buf, v)),
                None => false,
            },
            Set::Table(t) => t.remove(member).is_some(),
        }
    }

    /// Removes a member of another set.
    pub fn remove_elem(&mut self, elem: Elem<'_>) -> bool {
        match (&mut *self, elem) {
            (Set::Intset(is), Elem::Int(v)) => is.edit(|buf| intset::remove(buf, v)),
            (Set::Table(t), Elem::Int(v)) => {
                t.remove(itoa::Buffer::new().format(v).as_bytes()).is_some()
            }
            (_, Elem::Bytes(b)) => self.remove(b),
        }
    }

    /// Converts an intset to a hash table sized for its members (a no-op on a hash table) and
    /// returns the table.
    pub fn convert_to_table(&mut self) -> &mut Dict<Member> {
        if let Set::Intset(is) = self {
            let view = Is(is.as_slice());
            let mut table = Dict::with_capacity(view.len());
            for v in view.iter() {
                table.insert_new(Member(CompactBytes::from_i64(v)));
            }
            *self = Set::Table(Box::new(table));
        }
        match self {
            Set::Table(t) => t,
            Set::Intset(_) => unreachable!("just converted"),
        }
    }

    // ---- Reading -------------------------------------------------------------------------

    /// Every member: an intset in ascending order, a hash table in bucket order.
    pub fn iter(&self) -> Iter<'_> {
        match self {
            Set::Intset(is) => Iter::Ints {
                is: Is(is.as_slice()),
                next: 0,
            },
            Set::Table(t) => Iter::Table(t.iter()),
        }
    }

    /// One random member, `None` if the set is empty. Every member of an intset is equally
    /// likely. A hash table uses Redis's fair pick: a random member of a sample of members
    /// from consecutive buckets, since a random bucket alone would favour members alone in
    /// their bucket over those sharing one.
    pub fn random(&self, rng: &mut fastrand::Rng) -> Option<Elem<'_>> {
        match self {
            Set::Intset(is) => {
                let view = Is(is.as_slice());
                (!view.is_empty()).then(|| Elem::Int(view.get(rng.usize(..view.len()))))
            }
            Set::Table(t) => fair_random(t, rng).map(|m| Elem::Bytes(m.0.as_slice())),
        }
    }

    /// One step of SSCAN from `cursor`: an intset is small, so it is returned whole with the
    /// final cursor 0; a hash table walks buckets in the reverse-binary cursor order until
    /// `count` members were visited or `count * 10` further buckets were looked at (so a
    /// sparse table cannot hold the call long). Returns the next cursor.
    pub fn scan<'a>(&'a self, cursor: u64, count: usize, mut visit: impl FnMut(Elem<'a>)) -> u64 {
        let t = match self {
            Set::Intset(_) => {
                self.iter().for_each(visit);
                return 0;
            }
            Set::Table(t) => t,
        };
        let mut cursor = cursor;
        let mut visited = 0;
        let mut buckets_left = count.saturating_mul(10);
        loop {
            cursor = t.scan(cursor, |m| {
                visited += 1;
                visit(Elem::Bytes(m.0.as_slice()));
            });
            if cursor == 0 || buckets_left == 0 || visited >= count {
                return cursor;
            }
            buckets_left -= 1;
        }
    }
}

/// How many members a fair random pick looks at (Redis's `GETFAIR_NUM_ENTRIES`).
const FAIR_SAMPLE: usize = 15;

fn fair_random<'a>(t: &'a Dict<Member>, rng: &mut fastrand::Rng) -> Option<&'a Member> {
    let mut sample: smallvec::SmallVec<[&Member; FAIR_SAMPLE]> = smallvec::SmallVec::new();
    t.sample(rng, FAIR_SAMPLE, |m| sample.push(m));
    if sample.is_empty() {
        return t.random(rng);
    }
    Some(sample[rng.usize(..sample.len())])
}

fn table_add(t: &mut Dict<Member>, member: &[u8]) -> bool {
    let hash = hash_key(member);
    if t.get_hashed(member, hash).is_some() {
        return false;
    }
    t.insert_new_hashed(Member(CompactBytes::new(member)), hash);
    true
}

/// Iterator over a set's members; see [`Set::iter`].
pub enum Iter<'a> {
    Ints { is: Is<'a>, next: usize },
    Table(crate::keyspace::dict::Iter<'a, Member>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = Elem<'a>;

    fn next(&mut self) -> Option<Elem<'a>> {
        match self {
            Iter::Ints { is, next } => {
                if *next >= is.len() {
                    return None;
                }
                *next += 1;
                Some(Elem::Int(is.get(*next - 1)))
            }
            Iter::Table(it) => it.next().map(|m| Elem::Bytes(m.0.as_slice())),
        }
    }
}

#[cfg(test)]
mod tests;
