//! Sorted sets: a listpack of member, score pairs in (score, member) order while small
//! ([`packed`]), a skip list with a member index once `zset-max-listpack-entries` or
//! `zset-max-listpack-value` is exceeded ([`skiplist`]), switched exactly where Redis
//! switches:
//!
//! - a new set starts as a listpack unless `zset-max-listpack-entries` is 0 or its first
//!   member is longer than `zset-max-listpack-value` ([`ZSet::new_for`]);
//! - adding to a listpack converts it when it would exceed either limit (or Redis's 1 GiB
//!   listpack safety limit); a skip list never converts back on its own;
//! - results built whole (the *STORE commands) are listpacks when they fit ([`ZSet::from_sorted`]).
//!
//! [`ZSet`] is the one API commands use; it hides the encoding. Members come out as listpack
//! [`Entry`]s (small integers stay integers until formatted into a reply).

pub mod packed;
pub mod range;
pub mod score;
pub mod skiplist;

#[cfg(test)]
mod tests;

use super::listpack::{self, Entry, Listpack, Lp};
use range::RangeSpec;
use skiplist::{NodeRef, SkipList};

/// The encoding thresholds (from the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `zset-max-listpack-entries`
    pub max_entries: usize,
    /// `zset-max-listpack-value`, in bytes.
    pub max_value_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: 128,
            max_value_bytes: 64,
        }
    }
}

impl Limits {
    /// True if a set of `len` members, the longest `max_member_bytes` long and
    /// `total_member_bytes` in all, belongs in a listpack.
    pub fn fit_listpack(
        &self,
        len: usize,
        max_member_bytes: usize,
        total_member_bytes: usize,
    ) -> bool {
        len <= self.max_entries
            && max_member_bytes <= self.max_value_bytes
            && listpack::safe_to_add(0, total_member_bytes)
    }
}

/// ZADD's options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AddFlags {
    /// Only add new members.
    pub nx: bool,
    /// Only update existing members.
    pub xx: bool,
    /// Only update when the new score is greater.
    pub gt: bool,
    /// Only update when the new score is less.
    pub lt: bool,
    /// Add the score to the current one (0 if absent).
    pub incr: bool,
}

/// What [`ZSet::add`] did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Added {
    /// A new member, with this score.
    New(f64),
    /// An existing member whose score changed to this.
    Updated(f64),
    /// An existing member whose score was already this.
    Same(f64),
    /// Nothing, because of NX, XX, GT or LT.
    Skipped,
    /// Nothing: the score would be NaN (an increment of inf by -inf).
    NotANumber,
}

#[derive(Debug, Clone)]
pub enum ZSet {
    Listpack(Listpack),
    SkipList(Box<SkipList>),
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet::Listpack(Listpack::empty())
    }
}

impl ZSet {
    /// An empty set about to receive a first member of `member_len` bytes (ZADD's rule).
    pub fn new_for(member_len: usize, limits: Limits) -> ZSet {
        if limits.max_entries == 0 || member_len > limits.max_value_bytes {
            ZSet::SkipList(Box::default())
        } else {
            ZSet::default()
        }
    }

    /// A set of distinct members given in ascending (score, member) order, in the encoding
    /// a result of that size gets.
    pub fn from_sorted<M: AsRef<[u8]>>(pairs: &[(M, f64)], limits: Limits) -> ZSet {
        let longest = pairs
            .iter()
            .map(|(m, _)| m.as_ref().len())
            .max()
            .unwrap_or(0);
        let total = pairs.iter().map(|(m, _)| m.as_ref().len()).sum();
        if limits.fit_listpack(pairs.len(), longest, total) {
            let mut v = listpack::new_vec();
            for (m, s) in pairs {
                packed::push(&mut v, m.as_ref(), *s);
            }
            ZSet::Listpack(Listpack::from_vec(v))
        } else {
            let mut list = skiplist::Builder::new();
            for (m, s) in pairs {
                list.push(*s, m.as_ref());
            }
            ZSet::SkipList(Box::new(list.finish()))
        }
    }

    pub fn len(&self) -> usize {
        match self {
            ZSet::Listpack(lp) => packed::len(Lp(lp.as_slice())),
            ZSet::SkipList(s) => s.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            ZSet::Listpack(_) => "listpack",
            ZSet::SkipList(_) => "skiplist",
        }
    }

    pub fn heap_bytes(&self) -> usize {
        match self {
            ZSet::Listpack(lp) => lp.heap_bytes(),
            ZSet::SkipList(s) => s.heap_bytes(),
        }
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            ZSet::Listpack(lp) => packed::find(Lp(lp.as_slice()), member).map(|(_, s)| s),
            ZSet::SkipList(s) => s.score(member),
        }
    }

    /// Adds or updates a member under ZADD's rules, converting to a skip list first if the
    /// listpack would outgrow `limits`.
    pub fn add(&mut self, score: f64, member: &[u8], flags: AddFlags, limits: Limits) -> Added {
        let mut outcome = Added::Skipped;
        self.add_all([(score, member)], flags, limits, |a| {
            outcome = a;
            true
        });
        outcome
    }

    /// [`ZSet::add`] for several (score, member) pairs in order, reporting each outcome to
    /// `each` until it returns false. A listpack stays one growable vector for the whole
    /// batch, so it is reallocated once rather than once per pair.
    pub fn add_all<'m>(
        &mut self,
        pairs: impl IntoIterator<Item = (f64, &'m [u8])>,
        flags: AddFlags,
        limits: Limits,
        mut each: impl FnMut(Added) -> bool,
    ) {
        let mut pairs = pairs.into_iter().peekable();
        if let ZSet::Listpack(lp) = self {
            let outgrown = lp.edit(|v| {
                while let Some(&(score, member)) = pairs.peek() {
                    let current = packed::find(Lp(v), member);
                    if current.is_none()
                        && !flags.xx
                        && !score.is_nan()
                        && outgrows(v, member, limits)
                    {
                        return true;
                    }
                    pairs.next();
                    if !each(add_packed(v, current, score, member, flags)) {
                        return false;
                    }
                }
                false
            });
            if !outgrown {
                return;
            }
            self.convert_to_skiplist();
        }
        let ZSet::SkipList(sl) = self else {
            unreachable!("converted above")
        };
        for (score, member) in pairs {
            let outcome = decide(sl.score(member), score, flags);
            match outcome {
                Added::New(s) => sl.insert(s, member),
                Added::Updated(s) => {
                    sl.update_score(member, s);
                }
                _ => {}
            }
            if !each(outcome) {
                return;
            }
        }
    }

    /// Removes a member; returns whether it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            ZSet::Listpack(lp) => match packed::find(Lp(lp.as_slice()), member) {
                Some((p, _)) => {
                    lp.edit(|v| packed::delete(v, p));
                    true
                }
                None => false,
            },
            ZSet::SkipList(s) => s.remove(member).is_some(),
        }
    }

    /// The 0-based rank of `member` in ascending order.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        match self {
            ZSet::Listpack(lp) => packed::rank(Lp(lp.as_slice()), member),
            ZSet::SkipList(s) => s.rank(member).map(|r| r - 1),
        }
    }

    /// The elements in ascending order.
    pub fn iter(&self) -> Iter<'_> {
        self.iter_from_rank(0, false)
    }

    /// The elements from 0-based `rank`, ascending, or descending if `reverse` (the rank then
    /// counts from the highest element).
    pub fn iter_from_rank(&self, rank: usize, reverse: bool) -> Iter<'_> {
        let at = match self {
            ZSet::Listpack(lp) => {
                let lp = Lp(lp.as_slice());
                let rank = i64::try_from(rank).unwrap_or(i64::MAX);
                let index = if reverse { -1 - rank } else { rank };
                At::Packed(lp, packed::at_rank(lp, index))
            }
            ZSet::SkipList(s) => {
                let node = if rank >= s.len() {
                    None
                } else if reverse {
                    s.by_rank(s.len() - rank)
                } else {
                    s.by_rank(rank + 1)
                };
                At::Node(node)
            }
        };
        Iter { at, reverse }
    }

    /// The elements from the first in `range` onwards (or from the last one in range
    /// backwards, if `reverse`); empty if no element is in range. The caller stops where the
    /// range ends.
    pub fn iter_range(&self, range: &impl RangeSpec, reverse: bool) -> Iter<'_> {
        let at = match self {
            ZSet::Listpack(lp) => {
                let lp = Lp(lp.as_slice());
                let p = if reverse {
                    packed::last_in_range(lp, range)
                } else {
                    packed::first_in_range(lp, range)
                };
                At::Packed(lp, p)
            }
            ZSet::SkipList(s) => At::Node(if reverse {
                s.last_in_range(range)
            } else {
                s.first_in_range(range)
            }),
        };
        Iter { at, reverse }
    }

    /// How many elements are in `range`.
    pub fn count_range(&self, range: &impl RangeSpec) -> usize {
        match self {
            ZSet::Listpack(lp) => packed::count_in_range(Lp(lp.as_slice()), range),
            ZSet::SkipList(s) => s.count_in_range(range),
        }
    }

    /// Removes the elements in `range`; returns how many.
    pub fn remove_range(&mut self, range: &impl RangeSpec) -> usize {
        match self {
            ZSet::Listpack(lp) => lp.edit(|v| packed::delete_range(v, range)),
            ZSet::SkipList(s) => s.remove_range(range),
        }
    }

    /// Removes the elements of 0-based ranks `start..=end` (clamped to the set).
    pub fn remove_rank_range(&mut self, start: usize, end: usize) -> usize {
        let len = self.len();
        if start > end || start >= len {
            return 0;
        }
        let end = end.min(len - 1);
        match self {
            ZSet::Listpack(lp) => {
                lp.edit(|v| packed::delete_ranks(v, start, end - start + 1));
                end - start + 1
            }
            ZSet::SkipList(s) => s.remove_rank_range(start + 1, end + 1),
        }
    }

    /// Removes and returns the lowest element (or the highest if `max`).
    pub fn pop(&mut self, max: bool) -> Option<(Vec<u8>, f64)> {
        match self {
            ZSet::Listpack(lp) => {
                let bytes = Lp(lp.as_slice());
                let p = if max {
                    packed::last(bytes)
                } else {
                    packed::first(bytes)
                }?;
                let popped = (bytes.get(p).to_vec(), packed::score_at(bytes, p));
                lp.edit(|v| packed::delete(v, p));
                Some(popped)
            }
            ZSet::SkipList(s) => {
                let node = if max { s.last() } else { s.first() }?;
                let member = node.member().to_vec();
                let score = s.remove(&member)?;
                Some((member, score))
            }
        }
    }

    /// A random element.
    pub fn random(&self, rng: &mut fastrand::Rng) -> Option<(Entry<'_>, f64)> {
        match self {
            ZSet::Listpack(_) => {
                let len = self.len();
                if len == 0 {
                    return None;
                }
                self.iter_from_rank(rng.usize(..len), false).next()
            }
            ZSet::SkipList(s) => s.random(rng).map(|(m, score)| (Entry::Str(m), score)),
        }
    }

    /// One step of ZSCAN: visits elements as (member, score text) and returns the next
    /// cursor. A listpack is visited whole in one call, its scores as stored (Redis replies
    /// with the stored text); a skip list's index bucket by bucket until about `count`
    /// members are seen, scores formatted like `%.17g`.
    pub fn scan(
        &self,
        mut cursor: u64,
        count: usize,
        mut visit: impl FnMut(Entry<'_>, Entry<'_>),
    ) -> u64 {
        match self {
            ZSet::Listpack(lp) => {
                let lp = Lp(lp.as_slice());
                let mut p = lp.first();
                while let Some(m) = p {
                    let s = lp.next(m).expect("every member has a score");
                    visit(lp.get(m), lp.get(s));
                    p = lp.next(s);
                }
                0
            }
            ZSet::SkipList(s) => {
                // Redis counts replies (member and score) against twice COUNT, and gives up
                // after ten empty-ish buckets per reply slot.
                let wanted = count.saturating_mul(2);
                let mut budget = wanted.saturating_mul(10);
                let mut seen = 0;
                let mut text = Vec::with_capacity(24);
                loop {
                    cursor = s.scan(cursor, |member, score| {
                        text.clear();
                        rudis_resp::number::format_g17(score, &mut text);
                        visit(Entry::Str(member), Entry::Str(&text));
                        seen += 2;
                    });
                    if cursor == 0 || budget == 0 || seen >= wanted {
                        return cursor;
                    }
                    budget -= 1;
                }
            }
        }
    }

    /// Converts a listpack to a skip list (no-op for a skip list).
    pub fn convert_to_skiplist(&mut self) {
        if let ZSet::Listpack(lp) = self {
            // A listpack is in order already and only needs appending. One loaded from
            // outside might not be: its stragglers are inserted (duplicates dropped).
            let mut list = skiplist::Builder::new();
            let mut stragglers = Vec::new();
            let mut buf = itoa::Buffer::new();
            for (member, score) in Iter::packed(Lp(lp.as_slice())) {
                let member = member.as_bytes(&mut buf);
                if stragglers.is_empty() && list.can_push(score, member) {
                    list.push(score, member);
                } else {
                    stragglers.push((member.to_vec(), score));
                }
            }
            let mut list = list.finish();
            for (member, score) in stragglers {
                if !list.contains(&member) {
                    list.insert(score, &member);
                }
            }
            *self = ZSet::SkipList(Box::new(list));
        }
    }
}

/// True if adding `member` as a new member would take the listpack `v` past `limits`.
fn outgrows(v: &[u8], member: &[u8], limits: Limits) -> bool {
    packed::len(Lp(v)) + 1 > limits.max_entries
        || member.len() > limits.max_value_bytes
        || !listpack::safe_to_add(v.len(), member.len())
}

/// ZADD's decision for a member whose current score is `current`.
fn decide(current: Option<f64>, score: f64, flags: AddFlags) -> Added {
    if score.is_nan() {
        return Added::NotANumber;
    }
    let Some(current) = current else {
        return if flags.xx {
            Added::Skipped
        } else {
            Added::New(score)
        };
    };
    if flags.nx {
        return Added::Skipped;
    }
    let score = if flags.incr { current + score } else { score };
    if score.is_nan() {
        return Added::NotANumber;
    }
    if (flags.lt && score >= current) || (flags.gt && score <= current) {
        return Added::Skipped;
    }
    if score == current {
        Added::Same(score)
    } else {
        Added::Updated(score)
    }
}

/// [`ZSet::add`] on a listpack (being edited) that does not need converting.
fn add_packed(
    v: &mut Vec<u8>,
    current: Option<(usize, f64)>,
    score: f64,
    member: &[u8],
    flags: AddFlags,
) -> Added {
    let outcome = decide(current.map(|(_, s)| s), score, flags);
    match outcome {
        Added::New(s) => packed::insert(v, member, s),
        Added::Updated(s) => {
            let (p, _) = current.expect("updated members exist");
            packed::delete(v, p);
            packed::insert(v, member, s);
        }
        _ => {}
    }
    outcome
}

/// Where an [`Iter`] is.
#[derive(Clone, Copy)]
enum At<'a> {
    Packed(Lp<'a>, Option<usize>),
    Node(Option<NodeRef<'a>>),
}

/// Elements as (member, score), in one direction.
#[derive(Clone, Copy)]
pub struct Iter<'a> {
    at: At<'a>,
    reverse: bool,
}

impl<'a> Iter<'a> {
    fn packed(lp: Lp<'a>) -> Iter<'a> {
        Iter {
            at: At::Packed(lp, packed::first(lp)),
            reverse: false,
        }
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = (Entry<'a>, f64);

    fn next(&mut self) -> Option<(Entry<'a>, f64)> {
        match &mut self.at {
            At::Packed(lp, pos) => {
                let p = (*pos)?;
                let item = (lp.get(p), packed::score_at(*lp, p));
                *pos = if self.reverse {
                    packed::prev(*lp, p)
                } else {
                    packed::next(*lp, p)
                };
                Some(item)
            }
            At::Node(node) => {
                let n = (*node)?;
                *node = if self.reverse { n.prev() } else { n.next() };
                Some((Entry::Str(n.member()), n.score()))
            }
        }
    }
}
