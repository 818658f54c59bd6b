//! Tests of [`Hash`]: a model check against `HashMap` across the encoding switch, the
//! conversion rule at its boundaries, and the random-field and SCAN operations.

use std::collections::{HashMap, HashSet};

use super::*;

const SMALL: Limits = Limits {
    max_entries: 4,
    max_value_bytes: 8,
};

fn text(e: Entry<'_>) -> Vec<u8> {
    e.to_vec()
}

fn contents(h: &Hash) -> HashMap<Vec<u8>, Vec<u8>> {
    h.iter().map(|(f, v)| (text(f), text(v))).collect()
}

fn filled(n: usize, limits: Limits) -> Hash {
    let mut h = Hash::default();
    for i in 0..n {
        h.set(
            format!("f{i}").as_bytes(),
            format!("v{i}").as_bytes(),
            limits,
        );
    }
    h
}

#[test]
fn converts_above_the_entry_limit_and_never_back() {
    let mut h = filled(4, SMALL);
    assert_eq!(h.encoding(), "listpack");
    assert!(!h.set(b"f0", b"again", SMALL), "an update is not new");
    assert_eq!(h.encoding(), "listpack");
    assert!(h.set(b"f4", b"v4", SMALL));
    assert_eq!(h.encoding(), "hashtable");
    assert_eq!(h.len(), 5);
    for i in 0..5 {
        assert!(h.remove(format!("f{i}").as_bytes()));
    }
    assert!(h.is_empty());
    assert_eq!(h.encoding(), "hashtable", "deletes never convert back");
}

#[test]
fn converts_on_a_long_field_or_value_but_not_at_the_limit() {
    let at_limit = [b'x'; 8];
    let over = [b'x'; 9];
    let mut h = Hash::default();
    h.set(&at_limit, &at_limit, SMALL);
    assert_eq!(h.encoding(), "listpack");
    let mut long_value = h.clone();
    long_value.set(b"f", &over, SMALL);
    assert_eq!(long_value.encoding(), "hashtable");
    let mut long_field = h.clone();
    long_field.set(&over, b"v", SMALL);
    assert_eq!(long_field.encoding(), "hashtable");
    assert_eq!(contents(&long_field).len(), 2);
    // HSET's check before setting anything.
    let mut pre = h.clone();
    pre.convert_for([&b"a"[..], &over].into_iter(), SMALL);
    assert_eq!(pre.encoding(), "hashtable");
    let mut short = h;
    short.convert_for([&b"a"[..], &at_limit].into_iter(), SMALL);
    assert_eq!(short.encoding(), "listpack");
}

#[test]
fn zero_limits_make_every_hash_a_table() {
    let zero = Limits {
        max_entries: 0,
        max_value_bytes: 0,
    };
    let mut h = Hash::default();
    h.set(b"", b"", zero);
    assert_eq!(h.encoding(), "hashtable");
    let mut h = Hash::default();
    h.set(b"a", b"", Limits::DEFAULT);
    h.set(
        b"b",
        b"",
        Limits {
            max_entries: 1,
            ..Limits::DEFAULT
        },
    );
    assert_eq!(
        h.encoding(),
        "hashtable",
        "a lowered limit converts on the next write"
    );
}

#[test]
fn set_many_crosses_the_switch_in_one_call() {
    let pairs: Vec<(Vec<u8>, Vec<u8>)> = (0..10)
        .map(|i| {
            (
                format!("f{}", i % 7).into_bytes(),
                format!("{i}").into_bytes(),
            )
        })
        .collect();
    let mut h = Hash::default();
    let created = h.set_many(pairs.iter().map(|(f, v)| (&f[..], &v[..])), SMALL);
    assert_eq!(created, 7);
    assert_eq!(h.encoding(), "hashtable");
    let got = contents(&h);
    assert_eq!(got[&b"f0".to_vec()], b"7");
    assert_eq!(got[&b"f2".to_vec()], b"9");
    assert_eq!(got[&b"f6".to_vec()], b"6");
}

#[test]
fn integer_looking_fields_match_only_their_canonical_form() {
    let mut h = Hash::default();
    h.set(b"12", b"-5", Limits::DEFAULT);
    h.set(b"012", b"x", Limits::DEFAULT);
    assert_eq!(h.get(b"12"), Some(Entry::Int(-5)));
    assert_eq!(h.get(b"012"), Some(Entry::Str(b"x")));
    assert_eq!(h.get(b"+12"), None);
    assert!(h.remove(b"12"));
    assert!(!h.contains(b"12"));
    assert!(h.contains(b"012"));
    h.set(b"9223372036854775807", b"1", Limits::DEFAULT);
    h.convert_to_table();
    assert_eq!(h.get(b"012"), Some(Entry::Str(b"x")));
    assert_eq!(h.get(b"9223372036854775807"), Some(Entry::Str(b"1")));
}

#[test]
fn random_pair_and_picks_cover_both_encodings() {
    let mut rng = fastrand::Rng::with_seed(11);
    for limits in [Limits::DEFAULT, SMALL] {
        let h = filled(10, limits);
        let mut seen = HashSet::new();
        for _ in 0..500 {
            let (f, v) = h.random_pair(&mut rng).expect("not empty");
            assert_eq!(h.get(&text(f)), Some(v));
            seen.insert(text(f));
        }
        assert_eq!(seen.len(), 10, "{}", h.encoding());
        let picker = h.picker();
        let picked: HashSet<_> = (0..500)
            .map(|_| text(picker.pick(&mut rng).expect("not empty").0))
            .collect();
        assert_eq!(picked.len(), 10);
    }
    let empty = Hash::default();
    assert!(empty.random_pair(&mut rng).is_none());
    assert!(empty.picker().pick(&mut rng).is_none());
}

/// Pearson's chi-square statistic of `counts` against a uniform distribution.
fn chi_square(counts: &HashMap<Vec<u8>, usize>, total: usize) -> f64 {
    let expected = total as f64 / counts.len() as f64;
    counts
        .values()
        .map(|&c| (c as f64 - expected).powi(2) / expected)
        .sum()
}

#[test]
fn picks_are_uniform_even_with_shared_buckets() {
    // 10 fields in a 16-bucket table always share some buckets; HRANDFIELD's test demands a
    // chi-square below 40 (df = 9) over 1000 picks.
    let mut rng = fastrand::Rng::with_seed(3);
    for limits in [Limits::DEFAULT, SMALL] {
        let h = filled(10, limits);
        let picker = h.picker();
        let mut counts = HashMap::new();
        for _ in 0..10_000 {
            *counts
                .entry(text(picker.pick(&mut rng).unwrap().0))
                .or_insert(0) += 1;
        }
        assert_eq!(counts.len(), 10);
        assert!(chi_square(&counts, 10_000) < 40.0, "{}", h.encoding());
    }
}

#[test]
fn distinct_picks_are_distinct_and_uniform() {
    let mut rng = fastrand::Rng::with_seed(5);
    for limits in [Limits::DEFAULT, SMALL] {
        let h = filled(10, limits);
        for count in [0, 1, 2, 3, 4, 8, 9, 10, 11, usize::MAX] {
            let got = h.random_distinct(&mut rng, count);
            assert_eq!(got.len(), count.min(10));
            let fields: HashSet<_> = got.iter().map(|(f, _)| text(*f)).collect();
            assert_eq!(fields.len(), got.len(), "distinct");
            for (f, v) in got {
                assert_eq!(h.get(&text(f)), Some(v));
            }
        }
        for count in [2, 8] {
            let mut counts = HashMap::new();
            for _ in 0..2000 {
                for (f, _) in h.random_distinct(&mut rng, count) {
                    *counts.entry(text(f)).or_insert(0) += 1;
                }
            }
            assert_eq!(counts.len(), 10);
            assert!(chi_square(&counts, 2000 * count) < 40.0);
        }
    }
}

#[test]
fn scan_of_a_listpack_is_one_call() {
    let h = filled(4, SMALL);
    let mut got = Vec::new();
    let next = h.scan(12345, 1, |f, v| got.push((text(f), text(v))));
    assert_eq!(next, 0);
    assert_eq!(got.len(), 4);
    assert_eq!(got[0], (b"f0".to_vec(), b"v0".to_vec()), "listpack order");
}

#[test]
fn scan_of_a_table_sees_every_field_across_calls_and_resizes() {
    let mut h = filled(200, SMALL);
    let mut seen = HashSet::new();
    let mut cursor = 0;
    let mut calls = 0;
    loop {
        let mut step = 0;
        cursor = h.scan(cursor, 10, |f, _| {
            seen.insert(text(f));
            step += 1;
        });
        calls += 1;
        if cursor == 0 {
            break;
        }
        if calls == 5 {
            // Grow the table mid-scan: the original fields must still all be seen.
            for i in 200..2000 {
                h.set(format!("f{i}").as_bytes(), b"v", SMALL);
            }
        }
    }
    assert!(calls > 5);
    assert!((0..200).all(|i| seen.contains(format!("f{i}").as_bytes())));
}

#[derive(Debug, Clone)]
enum Op {
    Set(Vec<u8>, Vec<u8>),
    SetMany(Vec<(Vec<u8>, Vec<u8>)>),
    Remove(Vec<u8>),
}

fn bytes_strategy() -> impl proptest::strategy::Strategy<Value = Vec<u8>> + Clone {
    use proptest::prelude::*;
    prop_oneof![
        (0u8..12).prop_map(|i| vec![b'a' + i]),
        (-3i64..300).prop_map(|i| i.to_string().into_bytes()),
        proptest::collection::vec(any::<u8>(), 0..12),
    ]
}

fn op_strategy() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    let pair = (bytes_strategy(), bytes_strategy());
    prop_oneof![
        3 => pair.clone().prop_map(|(f, v)| Op::Set(f, v)),
        1 => proptest::collection::vec(pair, 0..6).prop_map(Op::SetMany),
        2 => bytes_strategy().prop_map(Op::Remove),
    ]
}

/// Applies `op` to the model, returning what the hash must return, and whether the
/// conversion rule now demands a table.
fn model_apply(model: &mut HashMap<Vec<u8>, Vec<u8>>, op: &Op, limits: Limits) -> (usize, bool) {
    let too_long = |b: &[u8]| b.len() > limits.max_value_bytes;
    match op {
        Op::Set(f, v) => {
            let new = model.insert(f.clone(), v.clone()).is_none();
            let table = too_long(f) || too_long(v) || model.len() > limits.max_entries;
            (usize::from(new), table)
        }
        Op::SetMany(pairs) => {
            let mut table = false;
            let mut created = 0;
            for (f, v) in pairs {
                created += usize::from(model.insert(f.clone(), v.clone()).is_none());
                table |= too_long(f) || too_long(v) || model.len() > limits.max_entries;
            }
            (created, table)
        }
        Op::Remove(f) => (usize::from(model.remove(f).is_some()), false),
    }
}

proptest::proptest! {
    #[test]
    fn behaves_like_a_hashmap(ops in proptest::collection::vec(op_strategy(), 0..80)) {
        let mut h = Hash::default();
        let mut model = HashMap::new();
        let mut must_be_table = false;
        for op in &ops {
            let got = match op {
                Op::Set(f, v) => usize::from(h.set(f, v, SMALL)),
                Op::SetMany(pairs) => h.set_many(pairs.iter().map(|(f, v)| (&f[..], &v[..])), SMALL),
                Op::Remove(f) => usize::from(h.remove(f)),
            };
            let (want, table) = model_apply(&mut model, op, SMALL);
            must_be_table |= table;
            proptest::prop_assert_eq!(got, want);
            proptest::prop_assert_eq!(h.len(), model.len());
            proptest::prop_assert_eq!(h.encoding(), if must_be_table { "hashtable" } else { "listpack" });
            if let Hash::Listpack(lp) = &h {
                proptest::prop_assert_eq!(listpack::validate(lp.as_slice()), Some(2 * model.len()));
            }
        }
        proptest::prop_assert_eq!(contents(&h), model.clone());
        for (f, v) in &model {
            proptest::prop_assert_eq!(h.get(f).map(text), Some(v.clone()));
            proptest::prop_assert!(h.contains(f));
        }
        let mut table = h.clone();
        table.convert_to_table();
        proptest::prop_assert_eq!(contents(&table), model);
    }
}
