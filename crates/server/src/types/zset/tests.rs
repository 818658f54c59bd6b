//! Property tests of [`ZSet`] against a plain model (a sorted vector), with thresholds small
//! enough that every run crosses the listpack to skip list switch.

use proptest::prelude::*;

use super::range::{LexRange, RangeSpec, ScoreRange};
use super::*;

const LIMITS: Limits = Limits {
    max_entries: 6,
    max_value_bytes: 4,
};

/// The model: (member, score) pairs in (score, member) order, and the encoding Redis would
/// have chosen.
#[derive(Default)]
struct Model {
    pairs: Vec<(Vec<u8>, f64)>,
    skiplist: bool,
}

impl Model {
    fn sort(&mut self) {
        self.pairs.sort_by(|a, b| {
            a.1.partial_cmp(&b.1)
                .expect("no NaN")
                .then_with(|| a.0.cmp(&b.0))
        });
    }

    fn score(&self, m: &[u8]) -> Option<f64> {
        self.pairs.iter().find(|p| p.0 == m).map(|p| p.1)
    }

    fn add(&mut self, score: f64, m: &[u8], flags: AddFlags) -> Added {
        let outcome = decide(self.score(m), score, flags);
        match outcome {
            Added::New(s) => {
                if self.pairs.len() + 1 > LIMITS.max_entries || m.len() > LIMITS.max_value_bytes {
                    self.skiplist = true;
                }
                self.pairs.push((m.to_vec(), s));
            }
            Added::Updated(s) => {
                self.pairs.iter_mut().find(|p| p.0 == m).expect("present").1 = s;
            }
            _ => {}
        }
        self.sort();
        outcome
    }
}

fn as_pairs(iter: Iter<'_>) -> Vec<(Vec<u8>, f64)> {
    iter.map(|(m, s)| (m.to_vec(), s)).collect()
}

fn check(z: &ZSet, model: &Model) -> Result<(), TestCaseError> {
    prop_assert_eq!(z.len(), model.pairs.len());
    prop_assert_eq!(
        z.encoding(),
        if model.skiplist {
            "skiplist"
        } else {
            "listpack"
        }
    );
    prop_assert_eq!(as_pairs(z.iter()), model.pairs.clone());
    if let ZSet::SkipList(s) = z {
        s.check();
    }
    if let ZSet::Listpack(lp) = z {
        prop_assert_eq!(
            listpack::validate(lp.as_slice()),
            Some(model.pairs.len() * 2)
        );
    }
    for (i, (m, s)) in model.pairs.iter().enumerate() {
        prop_assert_eq!(z.rank(m), Some(i));
        prop_assert_eq!(z.score(m), Some(*s));
    }
    let n = model.pairs.len();
    for start in 0..=n {
        let forward: Vec<_> = model.pairs[start.min(n)..].to_vec();
        prop_assert_eq!(as_pairs(z.iter_from_rank(start, false)), forward);
        let mut backward: Vec<_> = model.pairs[..n - start.min(n)].to_vec();
        backward.reverse();
        prop_assert_eq!(as_pairs(z.iter_from_rank(start, true)), backward);
    }
    Ok(())
}

fn in_range(range: &impl RangeSpec, p: &(Vec<u8>, f64)) -> bool {
    range.gte_min(p.1, &p.0) && range.lte_max(p.1, &p.0)
}

fn check_score_range(z: &ZSet, model: &Model, range: &ScoreRange) -> Result<(), TestCaseError> {
    let want: Vec<_> = model
        .pairs
        .iter()
        .filter(|p| in_range(range, p))
        .cloned()
        .collect();
    prop_assert_eq!(z.count_range(range), want.len());
    let got: Vec<_> = z
        .iter_range(range, false)
        .take_while(|(_, s)| range.lte_max(*s, b""))
        .map(|(m, s)| (m.to_vec(), s))
        .collect();
    prop_assert_eq!(&got, &want);
    let mut got_rev: Vec<_> = z
        .iter_range(range, true)
        .take_while(|(_, s)| range.gte_min(*s, b""))
        .map(|(m, s)| (m.to_vec(), s))
        .collect();
    got_rev.reverse();
    prop_assert_eq!(got_rev, want);
    Ok(())
}

fn member() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (0u8..12).prop_map(|i| vec![b'a' + i]),
        (0i64..20).prop_map(|i| i.to_string().into_bytes()),
        (0u8..3).prop_map(|i| vec![b'L' + i; 6]),
    ]
}

fn flags() -> impl Strategy<Value = AddFlags> {
    (0u8..8, any::<bool>()).prop_map(|(f, incr)| AddFlags {
        nx: f == 1,
        xx: f == 2 || f == 5,
        gt: f == 3 || f == 5,
        lt: f == 4,
        incr,
    })
}

#[derive(Debug, Clone)]
enum Op {
    Add(i8, Vec<u8>, AddFlags),
    AddAll(Vec<(i8, Vec<u8>)>, AddFlags),
    Remove(Vec<u8>),
    Pop(bool),
    RemoveScores(i8, i8, bool),
    RemoveRanks(usize, usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (-6i8..6, member(), flags()).prop_map(|(s, m, f)| Op::Add(s, m, f)),
        2 => (proptest::collection::vec((-6i8..6, member()), 1..6), flags())
            .prop_map(|(pairs, f)| Op::AddAll(pairs, f)),
        1 => member().prop_map(Op::Remove),
        1 => any::<bool>().prop_map(Op::Pop),
        1 => (-6i8..6, -6i8..6, any::<bool>()).prop_map(|(a, b, ex)| Op::RemoveScores(a, b, ex)),
        1 => (0usize..8, 0usize..8).prop_map(|(a, b)| Op::RemoveRanks(a, b)),
    ]
}

fn apply(z: &mut ZSet, model: &mut Model, op: Op) -> Result<(), TestCaseError> {
    match op {
        Op::Add(s, m, f) => {
            let score = f64::from(s) / 2.0;
            prop_assert_eq!(z.add(score, &m, f, LIMITS), model.add(score, &m, f));
        }
        Op::AddAll(pairs, f) => {
            let mut got = Vec::new();
            let scored = pairs
                .iter()
                .map(|(s, m)| (f64::from(*s) / 2.0, m.as_slice()));
            z.add_all(scored, f, LIMITS, |a| {
                got.push(a);
                true
            });
            let want: Vec<Added> = pairs
                .iter()
                .map(|(s, m)| model.add(f64::from(*s) / 2.0, m, f))
                .collect();
            prop_assert_eq!(got, want);
        }
        Op::Remove(m) => {
            let had = model.score(&m).is_some();
            model.pairs.retain(|p| p.0 != m);
            prop_assert_eq!(z.remove(&m), had);
        }
        Op::Pop(max) => {
            let want = if max {
                model.pairs.pop()
            } else if model.pairs.is_empty() {
                None
            } else {
                Some(model.pairs.remove(0))
            };
            prop_assert_eq!(z.pop(max), want);
        }
        Op::RemoveScores(a, b, exclusive) => {
            let range = ScoreRange {
                min: f64::from(a) / 2.0,
                max: f64::from(b) / 2.0,
                min_exclusive: exclusive,
                max_exclusive: false,
            };
            check_score_range(z, model, &range)?;
            let before = model.pairs.len();
            model.pairs.retain(|p| !in_range(&range, p));
            prop_assert_eq!(z.remove_range(&range), before - model.pairs.len());
        }
        Op::RemoveRanks(start, end) => {
            let before = model.pairs.len();
            let kept: Vec<_> = model
                .pairs
                .iter()
                .enumerate()
                .filter(|(i, _)| *i < start || *i > end)
                .map(|(_, p)| p.clone())
                .collect();
            model.pairs = kept;
            prop_assert_eq!(z.remove_rank_range(start, end), before - model.pairs.len());
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn behaves_like_a_sorted_vector(ops in proptest::collection::vec(op(), 1..120)) {
        let mut z = ZSet::new_for(0, LIMITS);
        let mut model = Model::default();
        for op in ops {
            apply(&mut z, &mut model, op)?;
            check(&z, &model)?;
        }
        let copy = z.clone();
        check(&copy, &model)?;
    }

    #[test]
    fn lex_ranges_match_when_scores_are_equal(
        members in proptest::collection::btree_set(member(), 0..12),
        min in 0u8..6, max in 0u8..6, kinds in 0u8..16,
    ) {
        let bound = |kind: u8, i: u8| -> Vec<u8> {
            match kind % 4 {
                0 => b"-".to_vec(),
                1 => b"+".to_vec(),
                2 => vec![b'[', b'a' + i * 2],
                _ => vec![b'(', b'a' + i * 2],
            }
        };
        let (lo, hi) = (bound(kinds, min), bound(kinds / 4, max));
        let range = LexRange::parse(&lo, &hi).expect("valid bounds");
        let mut z = ZSet::new_for(0, LIMITS);
        let mut model = Model::default();
        for m in &members {
            z.add(0.0, m, AddFlags::default(), LIMITS);
            model.add(0.0, m, AddFlags::default());
        }
        let want: Vec<_> = model.pairs.iter().filter(|p| in_range(&range, p)).cloned().collect();
        prop_assert_eq!(z.count_range(&range), want.len());
        let got: Vec<_> = z.iter_range(&range, false)
            .take_while(|(m, _)| range.lte_max(0.0, &m.to_vec()))
            .map(|(m, s)| (m.to_vec(), s)).collect();
        prop_assert_eq!(&got, &want);
        prop_assert_eq!(z.remove_range(&range), want.len());
        prop_assert_eq!(z.len(), members.len() - want.len());
    }
}

#[test]
fn new_sets_and_results_pick_redis_encodings() {
    let limits = Limits::default();
    assert_eq!(ZSet::new_for(64, limits).encoding(), "listpack");
    assert_eq!(ZSet::new_for(65, limits).encoding(), "skiplist");
    let none = Limits {
        max_entries: 0,
        ..limits
    };
    assert_eq!(ZSet::new_for(1, none).encoding(), "skiplist");
    let pairs: Vec<(Vec<u8>, f64)> = (0..128)
        .map(|i| (format!("m{i:03}").into_bytes(), f64::from(i)))
        .collect();
    let z = ZSet::from_sorted(&pairs, limits);
    assert_eq!(z.encoding(), "listpack");
    assert_eq!(as_pairs(z.iter()), pairs);
    let mut more = pairs.clone();
    more.push((b"m128".to_vec(), 128.0));
    let z = ZSet::from_sorted(&more, limits);
    assert_eq!(z.encoding(), "skiplist");
    assert_eq!(as_pairs(z.iter()), more);
    // A member longer than the value limit converts on insertion.
    let mut z = ZSet::new_for(1, limits);
    z.add(1.0, b"short", AddFlags::default(), limits);
    assert_eq!(z.encoding(), "listpack");
    z.add(2.0, &[b'x'; 65], AddFlags::default(), limits);
    assert_eq!(z.encoding(), "skiplist");
    assert_eq!(z.len(), 2);
}

#[test]
fn increments_and_nan() {
    let limits = Limits::default();
    let incr = AddFlags {
        incr: true,
        ..AddFlags::default()
    };
    for mut z in [ZSet::new_for(1, limits), ZSet::SkipList(Box::default())] {
        assert_eq!(
            z.add(f64::INFINITY, b"a", incr, limits),
            Added::New(f64::INFINITY)
        );
        assert_eq!(
            z.add(f64::NEG_INFINITY, b"a", incr, limits),
            Added::NotANumber
        );
        assert_eq!(z.score(b"a"), Some(f64::INFINITY));
        assert_eq!(
            z.add(f64::NAN, b"b", AddFlags::default(), limits),
            Added::NotANumber
        );
        assert_eq!(z.add(0.0, b"a", incr, limits), Added::Same(f64::INFINITY));
    }
}

#[test]
fn minus_zero_is_stored_as_zero_only_in_a_listpack() {
    let limits = Limits::default();
    let mut small = ZSet::new_for(1, limits);
    small.add(-0.0, b"a", AddFlags::default(), limits);
    assert!(small.score(b"a").unwrap().is_sign_positive());
    let mut big = ZSet::SkipList(Box::default());
    big.add(-0.0, b"a", AddFlags::default(), limits);
    assert!(big.score(b"a").unwrap().is_sign_negative());
}

#[test]
fn scan_visits_every_member_of_a_large_set() {
    let mut z = ZSet::SkipList(Box::default());
    for i in 0..1000 {
        z.add(
            f64::from(i),
            format!("m{i}").as_bytes(),
            AddFlags::default(),
            Limits::default(),
        );
    }
    let mut seen = std::collections::HashSet::new();
    let mut cursor = 0;
    loop {
        cursor = z.scan(cursor, 10, |m, s| {
            let m = m.to_vec();
            let want = format!("{}", z.score(&m).unwrap());
            assert_eq!(s.to_vec(), want.into_bytes());
            seen.insert(m);
        });
        if cursor == 0 {
            break;
        }
    }
    assert_eq!(seen.len(), 1000);
}

#[test]
fn converting_a_disordered_listpack_sorts_it() {
    // Not something Rudis writes, but a listpack loaded from outside could be.
    let v = listpack::from_values([&b"b"[..], b"1", b"a", b"2", b"c", b"0", b"a", b"5"]);
    let mut z = ZSet::Listpack(Listpack::from_vec(v));
    z.convert_to_skiplist();
    let ZSet::SkipList(s) = &z else {
        panic!("converted")
    };
    s.check();
    assert_eq!(
        as_pairs(z.iter()),
        vec![
            (b"c".to_vec(), 0.0),
            (b"b".to_vec(), 1.0),
            (b"a".to_vec(), 2.0)
        ]
    );
}

proptest! {
    /// Lex ranges over unequal scores have no specified answer, but must stay safe and keep
    /// the structure sound in both encodings.
    #[test]
    fn lex_ranges_over_mixed_scores_are_safe(
        members in proptest::collection::vec((member(), -3i8..3), 0..40),
        min in 0u8..8, max in 0u8..8, kinds in 0u8..16,
    ) {
        let bound = |kind: u8, i: u8| -> Vec<u8> {
            match kind % 4 {
                0 => b"-".to_vec(),
                1 => b"+".to_vec(),
                2 => vec![b'[', b'a' + i],
                _ => vec![b'(', b'a' + i],
            }
        };
        let (lo, hi) = (bound(kinds, min), bound(kinds / 4, max));
        let range = LexRange::parse(&lo, &hi).expect("valid bounds");
        for mut z in [ZSet::new_for(0, LIMITS), ZSet::SkipList(Box::default())] {
            for (m, s) in &members {
                z.add(f64::from(*s), m, AddFlags::default(), LIMITS);
            }
            let before = z.len();
            let counted = z.count_range(&range);
            prop_assert!(counted <= before);
            prop_assert!(z.iter_range(&range, false).count() <= before);
            prop_assert!(z.iter_range(&range, true).count() <= before);
            let removed = z.remove_range(&range);
            prop_assert_eq!(z.len(), before - removed);
            if let ZSet::SkipList(s) = &z {
                s.check();
            }
        }
    }
}
