//! Ranges of a sorted set: by score (`ZRANGEBYSCORE 1 (5`) and by member (`ZRANGEBYLEX [a (c`).
//!
//! Both encodings search, count and delete ranges through the one [`RangeSpec`] interface, so
//! each algorithm is written once per encoding rather than once per range kind.

use std::cmp::Ordering;

use super::score::parse_score_bound;

/// A range of elements, given by predicates that are monotonic along the sorted order
/// (for lex ranges, only when all scores are equal, as Redis documents).
pub trait RangeSpec {
    /// True if no element can be in the range (min above max, or equal and exclusive).
    fn is_empty(&self) -> bool;
    /// The element is at or above the lower end.
    fn gte_min(&self, score: f64, member: &[u8]) -> bool;
    /// The element is at or below the upper end.
    fn lte_max(&self, score: f64, member: &[u8]) -> bool;
}

/// A score interval, each end inclusive or exclusive.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreRange {
    pub min: f64,
    pub max: f64,
    pub min_exclusive: bool,
    pub max_exclusive: bool,
}

impl ScoreRange {
    /// Parses `min` and `max` as Redis does; None is "min or max is not a float".
    pub fn parse(min: &[u8], max: &[u8]) -> Option<ScoreRange> {
        let (min, min_exclusive) = parse_score_bound(min)?;
        let (max, max_exclusive) = parse_score_bound(max)?;
        Some(ScoreRange {
            min,
            max,
            min_exclusive,
            max_exclusive,
        })
    }

    pub fn inclusive(min: f64, max: f64) -> ScoreRange {
        ScoreRange {
            min,
            max,
            min_exclusive: false,
            max_exclusive: false,
        }
    }
}

impl RangeSpec for ScoreRange {
    fn is_empty(&self) -> bool {
        self.min > self.max || (self.min == self.max && (self.min_exclusive || self.max_exclusive))
    }

    fn gte_min(&self, score: f64, _member: &[u8]) -> bool {
        if self.min_exclusive {
            score > self.min
        } else {
            score >= self.min
        }
    }

    fn lte_max(&self, score: f64, _member: &[u8]) -> bool {
        if self.max_exclusive {
            score < self.max
        } else {
            score <= self.max
        }
    }
}

/// One end of a lex range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LexBound<'a> {
    /// `-`: below every string.
    Min,
    /// `+`: above every string.
    Max,
    /// `[member`
    Inclusive(&'a [u8]),
    /// `(member`
    Exclusive(&'a [u8]),
}

impl<'a> LexBound<'a> {
    /// Parses `-`, `+`, `[member` or `(member` as Redis does: `-` and `+` are read as C
    /// strings (anything after a NUL byte is ignored), members are binary.
    pub fn parse(arg: &'a [u8]) -> Option<LexBound<'a>> {
        let alone = |rest: &[u8]| rest.first().is_none_or(|&c| c == 0);
        match arg.split_first() {
            Some((b'+', rest)) if alone(rest) => Some(LexBound::Max),
            Some((b'-', rest)) if alone(rest) => Some(LexBound::Min),
            Some((b'[', rest)) => Some(LexBound::Inclusive(rest)),
            Some((b'(', rest)) => Some(LexBound::Exclusive(rest)),
            _ => None,
        }
    }

    fn is_exclusive(&self) -> bool {
        !matches!(self, LexBound::Inclusive(_))
    }

    /// Where a member lies relative to this bound.
    fn compare(&self, member: &[u8]) -> Ordering {
        match self {
            LexBound::Min => Ordering::Greater,
            LexBound::Max => Ordering::Less,
            LexBound::Inclusive(s) | LexBound::Exclusive(s) => member.cmp(s),
        }
    }

    /// Orders two bounds, `-` and `+` being the ends of the line.
    fn compare_bound(&self, other: &LexBound) -> Ordering {
        match (self, other) {
            (LexBound::Min, LexBound::Min) | (LexBound::Max, LexBound::Max) => Ordering::Equal,
            (LexBound::Min, _) | (_, LexBound::Max) => Ordering::Less,
            (LexBound::Max, _) | (_, LexBound::Min) => Ordering::Greater,
            (
                LexBound::Inclusive(a) | LexBound::Exclusive(a),
                LexBound::Inclusive(b) | LexBound::Exclusive(b),
            ) => a.cmp(b),
        }
    }
}

/// A range of members in byte order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LexRange<'a> {
    pub min: LexBound<'a>,
    pub max: LexBound<'a>,
}

impl<'a> LexRange<'a> {
    /// Parses both ends; None is "min or max not valid string range item".
    pub fn parse(min: &'a [u8], max: &'a [u8]) -> Option<LexRange<'a>> {
        Some(LexRange {
            min: LexBound::parse(min)?,
            max: LexBound::parse(max)?,
        })
    }
}

impl RangeSpec for LexRange<'_> {
    fn is_empty(&self) -> bool {
        match self.min.compare_bound(&self.max) {
            Ordering::Greater => true,
            Ordering::Equal => self.min.is_exclusive() || self.max.is_exclusive(),
            Ordering::Less => false,
        }
    }

    fn gte_min(&self, _score: f64, member: &[u8]) -> bool {
        match self.min.compare(member) {
            Ordering::Greater => true,
            Ordering::Equal => !self.min.is_exclusive(),
            Ordering::Less => false,
        }
    }

    fn lte_max(&self, _score: f64, member: &[u8]) -> bool {
        match self.max.compare(member) {
            Ordering::Less => true,
            Ordering::Equal => !self.max.is_exclusive(),
            Ordering::Greater => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_ranges() {
        let r = ScoreRange::parse(b"(1", b"3").unwrap();
        assert!(!r.gte_min(1.0, b""));
        assert!(r.gte_min(1.5, b""));
        assert!(r.lte_max(3.0, b""));
        assert!(!r.is_empty());
        assert!(ScoreRange::parse(b"(1", b"1").unwrap().is_empty());
        assert!(ScoreRange::parse(b"2", b"1").unwrap().is_empty());
        assert!(!ScoreRange::parse(b"1", b"1").unwrap().is_empty());
        assert!(ScoreRange::parse(b"x", b"1").is_none());
    }

    #[test]
    fn lex_ranges() {
        let r = LexRange::parse(b"[b", b"(d").unwrap();
        assert!(!r.gte_min(0.0, b"a"));
        assert!(r.gte_min(0.0, b"b"));
        assert!(r.lte_max(0.0, b"c"));
        assert!(!r.lte_max(0.0, b"d"));
        let all = LexRange::parse(b"-", b"+").unwrap();
        assert!(all.gte_min(0.0, b"") && all.lte_max(0.0, b"\xff"));
        for (min, max) in [
            ("-", "-"),
            ("+", "+"),
            ("+", "-"),
            ("[b", "[a"),
            ("(a", "[a"),
            ("[a", "-"),
        ] {
            let r = LexRange::parse(min.as_bytes(), max.as_bytes()).unwrap();
            assert!(r.is_empty(), "{min} {max}");
        }
        assert!(!LexRange::parse(b"[a", b"[a").unwrap().is_empty());
        assert_eq!(LexBound::parse(b"+\0x"), Some(LexBound::Max));
        for bad in [&b""[..], b"a", b"+x", b"-1"] {
            assert_eq!(LexBound::parse(bad), None);
        }
    }
}
