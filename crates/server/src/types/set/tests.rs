//! Unit and property tests of sets against a `HashSet` model, across the intset / hash table
//! switch.

use std::collections::HashSet;

use proptest::prelude::*;

use super::ops::{difference, intersect, intersection, union};
use super::random::{distinct, pop_many, pop_one};
use super::{intset_limit, Elem, Set};

type Model = HashSet<Vec<u8>>;

fn bytes_of(e: Elem<'_>) -> Vec<u8> {
    e.bytes(&mut itoa::Buffer::new()).to_vec()
}

fn members(set: &Set) -> Vec<Vec<u8>> {
    set.iter().map(bytes_of).collect()
}

fn set_of(items: &[&str], intset_max: usize) -> Set {
    let mut s = Set::for_member(items[0].as_bytes());
    for i in items {
        s.add(i.as_bytes(), intset_max);
    }
    s
}

/// Members drawn from a small pool so that adds and removes collide: canonical integers of
/// every intset width, strings that look like integers but are not canonical, and words.
fn member() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (-20i64..20).prop_map(|v| v.to_string().into_bytes()),
        prop::sample::select(vec![
            i64::MIN,
            i64::MAX,
            70_000,
            -70_000,
            5_000_000_000,
            i64::from(i32::MIN),
        ])
        .prop_map(|v| v.to_string().into_bytes()),
        prop::sample::select(vec![
            "007",
            "-0",
            "+1",
            " 1",
            "1 ",
            "",
            "1.0",
            "9223372036854775808"
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        prop::sample::select(vec!["a", "bb", "a-much-longer-member-than-fits-inline"])
            .prop_map(|s| s.as_bytes().to_vec()),
    ]
}

/// Checks everything a set promises against the model.
fn check(
    set: &Set,
    model: &Model,
    intset_max: usize,
    was_table: bool,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(set.len(), model.len());
    let listed = members(set);
    prop_assert_eq!(listed.len(), model.len(), "each member listed once");
    prop_assert_eq!(listed.iter().cloned().collect::<Model>(), model.clone());
    for m in model {
        prop_assert!(set.contains(m));
    }
    match set {
        Set::Intset(_) => {
            prop_assert!(!was_table, "a hash table never turns back into an intset");
            prop_assert!(set.len() <= intset_max);
            let ints: Vec<i64> = set
                .iter()
                .map(|e| match e {
                    Elem::Int(v) => v,
                    Elem::Bytes(_) => panic!("intsets hold integers"),
                })
                .collect();
            prop_assert!(ints.windows(2).all(|w| w[0] < w[1]), "ascending");
        }
        Set::Table(_) => {}
    }
    Ok(())
}

proptest! {
    #[test]
    fn behaves_like_a_hash_set(
        intset_max in 0usize..8,
        ops in prop::collection::vec((0u8..3, member()), 1..120),
    ) {
        let mut set = Set::for_member(&ops[0].1);
        let mut model = Model::new();
        let mut was_table = matches!(set, Set::Table(_));
        for (op, m) in ops {
            match op {
                0 => prop_assert_eq!(set.add(&m, intset_max), model.insert(m.clone())),
                1 => prop_assert_eq!(set.remove(&m), model.remove(&m)),
                _ => prop_assert_eq!(set.contains(&m), model.contains(&m)),
            }
            check(&set, &model, intset_max, was_table)?;
            was_table |= matches!(set, Set::Table(_));
        }
    }

    #[test]
    fn algebra_matches_the_model(
        a in prop::collection::hash_set(member(), 0..30),
        b in prop::collection::hash_set(member(), 0..30),
        c in prop::collection::hash_set(member(), 0..5),
        intset_max in prop::sample::select(vec![0usize, 4, 512]),
    ) {
        let build = |m: &Model| {
            let mut s = Set::default();
            for x in m {
                s.add(x, intset_max);
            }
            s
        };
        let (sa, sb, sc) = (build(&a), build(&b), build(&c));
        let inter: Model = a.intersection(&b).filter(|x| c.contains(*x)).cloned().collect();
        let got = intersection(&[&sa, &sb, &sc], intset_max);
        prop_assert_eq!(members(&got).into_iter().collect::<Model>(), inter);
        let uni: Model = a.union(&b).chain(c.iter()).cloned().collect();
        let got = union(&[Some(&sa), None, Some(&sb), Some(&sc)], intset_max);
        prop_assert_eq!(got.len(), uni.len());
        prop_assert_eq!(members(&got).into_iter().collect::<Model>(), uni);
        // Both difference algorithms: the big third set tips the choice one way, its absence
        // the other.
        let diff: Model = a.difference(&b).cloned().collect();
        let got = difference(&[Some(&sa), Some(&sb)], intset_max);
        prop_assert_eq!(members(&got).into_iter().collect::<Model>(), diff.clone());
        let diff3: Model = diff.difference(&c).cloned().collect();
        let got = difference(&[Some(&sa), None, Some(&sc), Some(&sb)], intset_max);
        prop_assert_eq!(members(&got).into_iter().collect::<Model>(), diff3);
        prop_assert!(difference(&[Some(&sa), Some(&sb), Some(&sa)], intset_max).is_empty());
        prop_assert!(difference(&[None, Some(&sa)], intset_max).is_empty());
    }

    #[test]
    fn random_selections_are_distinct_members(
        m in prop::collection::hash_set(member(), 2..60),
        seed: u64,
        pick in 0.0f64..1.0,
    ) {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut set = Set::default();
        for x in &m {
            set.add(x, 16);
        }
        let count = 1 + ((set.len() - 2) as f64 * pick) as usize;
        let picked: Vec<Vec<u8>> = distinct(&set, count, &mut rng).into_iter().map(bytes_of).collect();
        prop_assert_eq!(picked.len(), count);
        let picked_set: Model = picked.into_iter().collect();
        prop_assert_eq!(picked_set.len(), count, "no repeats");
        prop_assert!(picked_set.is_subset(&m));

        let popped: Model = pop_many(&mut set, count, 16, &mut rng)
            .into_iter()
            .map(|c| c.as_slice().to_vec())
            .collect();
        prop_assert_eq!(popped.len(), count);
        let left: Model = members(&set).into_iter().collect();
        prop_assert_eq!(set.len(), m.len() - count);
        prop_assert!(popped.is_disjoint(&left));
        prop_assert_eq!(popped.union(&left).cloned().collect::<Model>(), m);
    }
}

#[test]
fn encoding_follows_redis_rules() {
    assert_eq!(Set::for_member(b"12").encoding(), "intset");
    assert_eq!(Set::for_member(b"012").encoding(), "hashtable");
    assert_eq!(Set::for_member(b"-0").encoding(), "hashtable");
    assert_eq!(
        Set::for_member(b"9223372036854775808").encoding(),
        "hashtable"
    );

    let mut s = set_of(&["1", "2", "3"], 3);
    assert_eq!(s.encoding(), "intset");
    assert!(!s.add(b"3", 3), "a repeat changes nothing");
    assert_eq!(s.encoding(), "intset");
    assert!(s.add(b"4", 3));
    assert_eq!(s.encoding(), "hashtable", "past the limit");
    assert!(s.remove(b"4") && s.remove(b"3"));
    assert_eq!(s.encoding(), "hashtable", "never converted back");

    let mut s = set_of(&["1"], 512);
    assert!(s.add(b"a", 512));
    assert_eq!(s.encoding(), "hashtable");
    assert!(s.contains(b"1") && s.contains(b"a"));

    // A limit of 0 converts on the first member, as in Redis.
    assert_eq!(set_of(&["1"], 0).encoding(), "hashtable");
    assert_eq!(intset_limit(-5), 0);
    assert_eq!(intset_limit(i64::MAX), 1 << 30);
}

#[test]
fn intset_members_iterate_in_ascending_order_across_widths() {
    let s = set_of(&["5", "-70000", "5000000000", "0", "-1"], 512);
    let got: Vec<Vec<u8>> = members(&s);
    let want: Vec<Vec<u8>> = ["-70000", "-1", "0", "5", "5000000000"]
        .iter()
        .map(|x| x.as_bytes().to_vec())
        .collect();
    assert_eq!(got, want);
    assert!(s.contains_elem(Elem::Int(5_000_000_000)));
    assert!(s.contains_elem(Elem::Bytes(b"-1")));
    assert!(!s.contains_elem(Elem::Bytes(b"-01")));
}

#[test]
fn intersection_iterates_the_smallest_set() {
    let small = set_of(&["3", "1", "2"], 512);
    let mut big = set_of(&["x"], 512);
    for v in 0..100 {
        big.add(v.to_string().as_bytes(), 512);
    }
    let mut seen = Vec::new();
    intersect(&[&big, &small], |e| {
        seen.push(bytes_of(e));
        true
    });
    // The intset is iterated, so the order is ascending.
    assert_eq!(seen, vec![b"1".to_vec(), b"2".to_vec(), b"3".to_vec()]);
    let mut n = 0;
    intersect(&[&big, &small, &big], |_| {
        n += 1;
        n < 2
    });
    assert_eq!(n, 2, "visit can stop the walk");
    assert_eq!(intersection(&[&small, &small], 512).len(), 3);
}

#[test]
fn results_are_intsets_only_while_small_and_integral() {
    let a = set_of(&["1", "2", "3", "4"], 512);
    let b = set_of(&["3", "4", "5"], 512);
    assert_eq!(union(&[Some(&a), Some(&b)], 512).encoding(), "intset");
    assert_eq!(union(&[Some(&a), Some(&b)], 4).encoding(), "hashtable");
    assert_eq!(intersection(&[&a, &b], 2).encoding(), "intset");
    assert_eq!(difference(&[Some(&a), Some(&b)], 512).encoding(), "intset");
    assert_eq!(union(&[None, None], 512).encoding(), "intset");
}

#[test]
fn pop_many_can_rebuild_a_table_as_an_intset() {
    // A table of integers (it held a word once); popping almost everything keeps the few
    // members left in a new set, which is an intset again.
    let mut s = set_of(&["w"], 512);
    for v in 0..100 {
        s.add(v.to_string().as_bytes(), 512);
    }
    s.remove(b"w");
    assert_eq!(s.encoding(), "hashtable");
    let mut rng = fastrand::Rng::with_seed(1);
    let popped = pop_many(&mut s, 95, 512, &mut rng);
    assert_eq!(popped.len(), 95);
    assert_eq!(s.len(), 5);
    assert_eq!(s.encoding(), "intset");
    // Few popped from many: the set is kept and stays a table.
    let mut t = set_of(&["w"], 512);
    for v in 0..100 {
        t.add(v.to_string().as_bytes(), 512);
    }
    pop_many(&mut t, 3, 512, &mut rng);
    assert_eq!((t.len(), t.encoding()), (98, "hashtable"));
}

#[test]
fn random_members_cover_the_set() {
    let mut rng = fastrand::Rng::with_seed(3);
    for s in [
        set_of(&["1", "2", "3", "4", "5"], 512),
        set_of(&["a", "b", "c", "d", "e"], 512),
    ] {
        let mut seen = HashSet::new();
        for _ in 0..500 {
            seen.insert(bytes_of(s.random(&mut rng).expect("not empty")));
        }
        assert_eq!(seen.len(), 5);
    }
    assert!(Set::default().random(&mut rng).is_none());
    let mut one = set_of(&["only"], 512);
    assert_eq!(
        pop_one(&mut one, &mut rng).map(|c| c.as_slice().to_vec()),
        Some(b"only".to_vec())
    );
    assert!(one.is_empty() && pop_one(&mut one, &mut rng).is_none());
}

#[test]
fn scan_returns_an_intset_whole_and_walks_a_table() {
    let ints = set_of(&["3", "1", "2"], 512);
    let mut got = Vec::new();
    assert_eq!(ints.scan(12345, 1, |e| got.push(bytes_of(e))), 0);
    assert_eq!(got.len(), 3);

    let mut table = set_of(&["x"], 512);
    for v in 0..1000 {
        table.add(format!("m{v}").as_bytes(), 512);
    }
    let mut seen = Model::new();
    let (mut cursor, mut calls) = (0, 0);
    loop {
        let mut batch = 0;
        cursor = table.scan(cursor, 10, |e| {
            batch += 1;
            seen.insert(bytes_of(e));
        });
        calls += 1;
        assert!(
            batch < 40,
            "a call returns about COUNT members, got {batch}"
        );
        if cursor == 0 {
            break;
        }
    }
    assert_eq!(seen.len(), 1001);
    assert!(calls > 20, "the walk took several calls: {calls}");
}

/// Pearson's chi-square statistic of `draws` against a uniform distribution over `n` values.
fn chi_square(counts: &std::collections::HashMap<Vec<u8>, usize>, n: usize, draws: usize) -> f64 {
    let expected = draws as f64 / n as f64;
    counts
        .values()
        .map(|&c| (c as f64 - expected).powi(2) / expected)
        .sum()
}

#[test]
fn random_members_of_a_small_table_are_fair() {
    // Small tables have chains, which a random bucket alone would make visible (Redis's test
    // of SRANDMEMBER's histogram fails that way). Large tables are sampled in windows of
    // buckets, as Redis does, which is only roughly uniform (in Redis too); there, every
    // member must at least come up.
    for (n, seed) in [(10usize, 11u64), (10, 12), (12, 13), (300, 14)] {
        let mut s = set_of(&["x"], 512);
        s.remove(b"x");
        for i in 0..n {
            s.add(format!("member:{i}").as_bytes(), 512);
        }
        let mut rng = fastrand::Rng::with_seed(seed);
        let draws = n * 200;
        let mut counts = std::collections::HashMap::new();
        for _ in 0..draws {
            *counts
                .entry(bytes_of(s.random(&mut rng).expect("not empty")))
                .or_insert(0) += 1;
        }
        assert_eq!(counts.len(), n, "every member drawn");
        if n > 15 {
            continue;
        }
        // Degrees of freedom n - 1; the bound is about a 1e-5 tail for a uniform source.
        let df = (n - 1) as f64;
        let bound = df + 10.0 * (2.0 * df).sqrt();
        let x2 = chi_square(&counts, n, draws);
        assert!(x2 < bound, "{n} members: chi-square {x2} >= {bound}");
    }
}
