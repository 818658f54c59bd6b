//! The small sorted-set encoding: a listpack of member, score pairs in (score, member) order,
//! byte-compatible with Redis. Positions are byte offsets of a pair's member entry.
//!
//! Every search here is a linear walk, as in Redis; the encoding only holds a few entries
//! (`zset-max-listpack-entries`), and walking it is cheaper than any index.

use std::cmp::Ordering;

use super::range::RangeSpec;
use super::score::{score_from_text, score_text};
use crate::types::listpack::{self, Entry, Lp};

/// Reads an entry as a score.
pub fn entry_score(e: Entry) -> f64 {
    match e {
        Entry::Int(i) => i as f64,
        Entry::Str(s) => score_from_text(s),
    }
}

/// The score of the pair whose member is at `p`.
pub fn score_at(lp: Lp, p: usize) -> f64 {
    let s = lp.next(p).expect("every member has a score");
    entry_score(lp.get(s))
}

/// Calls `f` with the member at `p` as bytes (integers formatted on the stack).
pub fn with_member<R>(lp: Lp, p: usize, f: impl FnOnce(&[u8]) -> R) -> R {
    let mut buf = itoa::Buffer::new();
    let e = lp.get(p);
    f(e.as_bytes(&mut buf))
}

/// Orders a member entry against `member` as byte strings.
pub fn compare_member(e: Entry, member: &[u8]) -> Ordering {
    let mut buf = itoa::Buffer::new();
    e.as_bytes(&mut buf).cmp(member)
}

/// Number of pairs.
pub fn len(lp: Lp) -> usize {
    lp.len() / 2
}

pub fn first(lp: Lp) -> Option<usize> {
    lp.first()
}

pub fn last(lp: Lp) -> Option<usize> {
    lp.seek(-2)
}

/// The pair after the one at `p`.
pub fn next(lp: Lp, p: usize) -> Option<usize> {
    lp.next(lp.next(p)?)
}

/// The pair before the one at `p`.
pub fn prev(lp: Lp, p: usize) -> Option<usize> {
    lp.prev(lp.prev(p)?)
}

/// The pair at 0-based `rank` (negative: from the end).
pub fn at_rank(lp: Lp, rank: i64) -> Option<usize> {
    lp.seek(rank.checked_mul(2)?)
}

/// The position and score of `member`.
pub fn find(lp: Lp, member: &[u8]) -> Option<(usize, f64)> {
    let p = lp.find(member, lp.first(), 2)?;
    Some((p, score_at(lp, p)))
}

/// The 0-based rank of `member` in ascending order.
pub fn rank(lp: Lp, member: &[u8]) -> Option<usize> {
    let mut p = first(lp);
    let mut rank = 0;
    while let Some(at) = p {
        if lp.get(at).eq_bytes(member) {
            return Some(rank);
        }
        rank += 1;
        p = next(lp, at);
    }
    None
}

/// Inserts a pair whose member is not present, keeping (score, member) order.
pub fn insert(v: &mut Vec<u8>, member: &[u8], score: f64) {
    let lp = Lp(v);
    let mut p = first(lp);
    while let Some(at) = p {
        let s = score_at(lp, at);
        if s > score || (s == score && compare_member(lp.get(at), member) == Ordering::Greater) {
            break;
        }
        p = next(lp, at);
    }
    let at = p.unwrap_or(v.len() - 1);
    append_pair_at(v, at, member, score);
}

/// Inserts a pair at offset `at` (the terminator's offset appends).
fn append_pair_at(v: &mut Vec<u8>, at: usize, member: &[u8], score: f64) {
    listpack::insert_at(v, at, member);
    let score_at = at + Lp(v).entry_size(at);
    let mut text = Vec::with_capacity(24);
    score_text(score, &mut text);
    listpack::insert_at(v, score_at, &text);
}

/// Appends a pair at the end (the caller keeps the order).
pub fn push(v: &mut Vec<u8>, member: &[u8], score: f64) {
    let end = v.len() - 1;
    append_pair_at(v, end, member, score);
}

/// Deletes the pair at `p`.
pub fn delete(v: &mut Vec<u8>, p: usize) {
    listpack::delete(v, p, 2);
}

/// Deletes `count` pairs starting at 0-based `rank`.
pub fn delete_ranks(v: &mut Vec<u8>, rank: usize, count: usize) {
    if let Some(p) = Lp(v).seek(rank as i64 * 2) {
        listpack::delete(v, p, count * 2);
    }
}

fn gte_min(lp: Lp, p: usize, range: &impl RangeSpec) -> bool {
    let score = score_at(lp, p);
    with_member(lp, p, |m| range.gte_min(score, m))
}

fn lte_max(lp: Lp, p: usize, range: &impl RangeSpec) -> bool {
    let score = score_at(lp, p);
    with_member(lp, p, |m| range.lte_max(score, m))
}

/// Redis's early exit: an empty range, or one entirely past either end.
fn may_intersect(lp: Lp, range: &impl RangeSpec) -> bool {
    if range.is_empty() {
        return false;
    }
    match (first(lp), last(lp)) {
        (Some(head), Some(tail)) => gte_min(lp, tail, range) && lte_max(lp, head, range),
        _ => false,
    }
}

/// The first pair in `range`.
pub fn first_in_range(lp: Lp, range: &impl RangeSpec) -> Option<usize> {
    if !may_intersect(lp, range) {
        return None;
    }
    let mut p = first(lp);
    while let Some(at) = p {
        if gte_min(lp, at, range) {
            return lte_max(lp, at, range).then_some(at);
        }
        p = next(lp, at);
    }
    None
}

/// The last pair in `range`.
pub fn last_in_range(lp: Lp, range: &impl RangeSpec) -> Option<usize> {
    if !may_intersect(lp, range) {
        return None;
    }
    let mut p = last(lp);
    while let Some(at) = p {
        if lte_max(lp, at, range) {
            return gte_min(lp, at, range).then_some(at);
        }
        p = prev(lp, at);
    }
    None
}

/// Counts the pairs in `range` (from the first one in range, while at or below max).
pub fn count_in_range(lp: Lp, range: &impl RangeSpec) -> usize {
    let mut count = 0;
    let mut p = first_in_range(lp, range);
    while let Some(at) = p {
        if !lte_max(lp, at, range) {
            break;
        }
        count += 1;
        p = next(lp, at);
    }
    count
}

/// Deletes the pairs in `range`; returns how many.
pub fn delete_range(v: &mut Vec<u8>, range: &impl RangeSpec) -> usize {
    let Some(start) = first_in_range(Lp(v), range) else {
        return 0;
    };
    let lp = Lp(v);
    let (mut end, mut count) = (Some(start), 0);
    while let Some(at) = end {
        if !lte_max(lp, at, range) {
            break;
        }
        count += 1;
        end = next(lp, at);
    }
    listpack::delete(v, start, count * 2);
    count
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::zset::range::ScoreRange;

    fn build(pairs: &[(&str, f64)]) -> Vec<u8> {
        let mut v = listpack::new_vec();
        for (m, s) in pairs {
            insert(&mut v, m.as_bytes(), *s);
        }
        v
    }

    fn members(v: &[u8]) -> Vec<(String, f64)> {
        let lp = Lp(v);
        std::iter::successors(first(lp), |&p| next(lp, p))
            .map(|p| {
                (
                    with_member(lp, p, |m| String::from_utf8_lossy(m).into_owned()),
                    score_at(lp, p),
                )
            })
            .collect()
    }

    #[test]
    fn keeps_score_then_member_order() {
        let v = build(&[("b", 2.0), ("a", 2.0), ("10", 1.5), ("z", -1.0), ("9", 1.5)]);
        assert_eq!(
            members(&v),
            vec![
                ("z".into(), -1.0),
                ("10".into(), 1.5),
                ("9".into(), 1.5),
                ("a".into(), 2.0),
                ("b".into(), 2.0)
            ]
        );
        assert_eq!(listpack::validate(&v), Some(10));
        assert_eq!(rank(Lp(&v), b"9"), Some(2));
        assert_eq!(find(Lp(&v), b"10"), Some((Lp(&v).seek(2).unwrap(), 1.5)));
        assert_eq!(find(Lp(&v), b"1.5"), None, "scores are not members");
    }

    #[test]
    fn scores_are_stored_as_redis_stores_them() {
        let v = build(&[("a", 3.0), ("b", 0.5), ("c", f64::INFINITY)]);
        let lp = Lp(&v);
        let entries: Vec<Entry> = lp.iter().collect();
        assert_eq!(entries[1], Entry::Str(b"0.5"));
        assert_eq!(entries[3], Entry::Int(3));
        assert_eq!(entries[5], Entry::Str(b"inf"));
    }

    #[test]
    fn ranges() {
        let mut v = build(&[("a", 1.0), ("b", 2.0), ("c", 3.0), ("d", 4.0)]);
        let r = ScoreRange::parse(b"(1", b"3").unwrap();
        let lp = Lp(&v);
        assert_eq!(first_in_range(lp, &r), lp.seek(2));
        assert_eq!(last_in_range(lp, &r), lp.seek(4));
        assert_eq!(count_in_range(lp, &r), 2);
        assert_eq!(delete_range(&mut v, &r), 2);
        assert_eq!(members(&v), vec![("a".into(), 1.0), ("d".into(), 4.0)]);
        delete_ranks(&mut v, 1, 1);
        assert_eq!(members(&v), vec![("a".into(), 1.0)]);
    }
}
