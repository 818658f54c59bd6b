//! Random members for SRANDMEMBER and SPOP, with Redis's strategies: which one runs depends on
//! how the count compares with the set's size, so that neither command degrades into a long
//! hunt for the last few unpicked members.

use std::collections::HashSet;

use super::{Elem, Set};
use crate::keyspace::bytes::CompactBytes;

/// SRANDMEMBER: a set at most this many times larger than the count is copied whole and
/// thinned out at random; a larger one is sampled until enough distinct members are found.
const COPY_STRATEGY_MUL: usize = 3;

/// SPOP: when the members left behind number at most `count / SPOP_KEEP_STRATEGY_MUL`, the
/// members to keep are picked (and moved to a new set) instead of the members to pop.
const SPOP_KEEP_STRATEGY_MUL: usize = 5;

/// `count` distinct random members of `set`, for `0 < count < set.len()`, in no particular
/// order. Memory is bounded by the set's size, never by `count` alone.
pub fn distinct<'a>(set: &'a Set, count: usize, rng: &mut fastrand::Rng) -> Vec<Elem<'a>> {
    let len = set.len();
    assert!(
        count < len,
        "distinct: count {count} must be below the size {len}"
    );
    if count.saturating_mul(COPY_STRATEGY_MUL) > len {
        // Close to the whole set: drop random members from a copy until `count` are left.
        let mut all: Vec<Elem<'a>> = set.iter().collect();
        while all.len() > count {
            let i = rng.usize(..all.len());
            all.swap_remove(i);
        }
        return all;
    }
    // Far smaller than the set: repeats are rare, so keep drawing until enough are new.
    let mut seen = HashSet::with_capacity(count);
    let mut picked = Vec::with_capacity(count);
    while picked.len() < count {
        let elem = set.random(rng).expect("the set is not empty");
        if seen.insert(elem) {
            picked.push(elem);
        }
    }
    picked
}

/// Removes one random member and returns it; `None` if the set is empty.
pub fn pop_one(set: &mut Set, rng: &mut fastrand::Rng) -> Option<CompactBytes> {
    let elem = set.random(rng)?;
    let owned = elem.to_compact();
    let int = match elem {
        Elem::Int(v) => Some(v),
        Elem::Bytes(_) => None,
    };
    let removed = match int {
        Some(v) => set.remove_elem(Elem::Int(v)),
        None => set.remove(owned.as_slice()),
    };
    debug_assert!(removed, "a random member is a member");
    Some(owned)
}

/// Removes `count` random members, for `0 < count < set.len()`, and returns them.
///
/// When few members stay behind, those are picked instead and moved into a new set built with
/// the usual encoding rules (so a hash table of integers may become an intset again, as in
/// Redis), and everything left in the old set is returned, in its iteration order.
pub fn pop_many(
    set: &mut Set,
    count: usize,
    intset_max: usize,
    rng: &mut fastrand::Rng,
) -> Vec<CompactBytes> {
    let len = set.len();
    assert!(
        count < len,
        "pop_many: count {count} must be below the size {len}"
    );
    let remaining = len - count;
    if remaining.saturating_mul(SPOP_KEEP_STRATEGY_MUL) > count {
        return (0..count)
            .map(|_| pop_one(set, rng).expect("count < len"))
            .collect();
    }
    let mut kept: Option<Set> = None;
    for _ in 0..remaining {
        let member = pop_one(set, rng).expect("remaining < len");
        kept.get_or_insert_with(|| Set::for_member(member.as_slice()))
            .add(member.as_slice(), intset_max);
    }
    let popped = set.iter().map(|e| e.to_compact()).collect();
    *set = kept.expect("at least one member stays");
    popped
}
