//! Set algebra for SINTER, SINTERCARD, SUNION and SDIFF (and their STORE forms), following
//! Redis's algorithms, because their choices show in replies: which set is iterated decides
//! the order of an intersection, and the order in which a result is built decides whether it
//! ends up an intset (iterated in ascending order) or a hash table.
//!
//! Inputs are references to the sets under the command's keys; the same key given twice is the
//! same reference, which is how "a set against itself" is recognised, as Redis compares
//! object pointers.

use smallvec::SmallVec;

use super::{Elem, Set};

/// Visits the members common to every set in `sets` (not empty), iterating the smallest set
/// (the first of the smallest, as the sort is stable), until `visit` returns false.
pub fn intersect<'a>(sets: &[&'a Set], mut visit: impl FnMut(Elem<'a>) -> bool) {
    let mut order: SmallVec<[&'a Set; 8]> = sets.iter().copied().collect();
    order.sort_by_key(|s| s.len());
    let Some((&first, rest)) = order.split_first() else {
        return;
    };
    for elem in first.iter() {
        let everywhere = rest
            .iter()
            .all(|&s| std::ptr::eq(s, first) || s.contains_elem(elem));
        if everywhere && !visit(elem) {
            return;
        }
    }
}

/// The intersection as a new set, built member by member from an empty intset.
pub fn intersection(sets: &[&Set], intset_max: usize) -> Set {
    let mut out = Set::default();
    intersect(sets, |e| {
        out.add_elem(e, intset_max);
        true
    });
    out
}

/// The union of the sets present (`None` stands for a missing key, an empty set), built
/// member by member from an empty intset.
pub fn union(sets: &[Option<&Set>], intset_max: usize) -> Set {
    let mut out = Set::default();
    for set in sets.iter().flatten() {
        for elem in set.iter() {
            out.add_elem(elem, intset_max);
        }
    }
    out
}

/// The members of the first set in none of the others (`None` stands for a missing key).
///
/// Like Redis, picks between checking each member of the first set against the others
/// (cheap when the first set is small) and copying the first set then removing the others'
/// members (cheap when the others are small), by estimating the work of each.
pub fn difference(sets: &[Option<&Set>], intset_max: usize) -> Set {
    let Some((&Some(first), rest)) = sets.split_first() else {
        return Set::default();
    };
    let others: SmallVec<[&Set; 8]> = rest.iter().flatten().copied().collect();
    if others.iter().any(|&s| std::ptr::eq(s, first)) {
        return Set::default();
    }
    let present = 1 + others.len() as u64;
    let check_each_work = first.len() as u64 * present / 2;
    let copy_then_remove_work =
        first.len() as u64 + others.iter().map(|s| s.len() as u64).sum::<u64>();
    if check_each_work <= copy_then_remove_work {
        difference_by_checking(first, others, intset_max)
    } else {
        difference_by_removing(first, &others, intset_max)
    }
}

fn difference_by_checking(first: &Set, mut others: SmallVec<[&Set; 8]>, intset_max: usize) -> Set {
    // Largest first: a member found early in a big set costs fewer lookups.
    others.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut out = Set::default();
    for elem in first.iter() {
        if !others.iter().any(|s| s.contains_elem(elem)) {
            out.add_elem(elem, intset_max);
        }
    }
    out
}

fn difference_by_removing(first: &Set, others: &[&Set], intset_max: usize) -> Set {
    let mut out = Set::default();
    for elem in first.iter() {
        out.add_elem(elem, intset_max);
    }
    for set in others {
        if out.is_empty() {
            break;
        }
        for elem in set.iter() {
            out.remove_elem(elem);
        }
    }
    out
}
