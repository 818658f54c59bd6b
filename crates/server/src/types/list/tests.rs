//! QuickList tests: node layouts Redis 7.0 produces (taken from DEBUG OBJECT on Redis), and
//! property tests of every operation against a `VecDeque` model, with the structural
//! invariants checked after each step.

use std::collections::VecDeque;

use proptest::prelude::*;

use super::*;
use crate::types::listpack;

/// Runs `f` with plain nodes for elements of at least `bytes` bytes, on this thread only.
fn with_packed_threshold<R>(bytes: usize, f: impl FnOnce() -> R) -> R {
    TEST_PACKED_THRESHOLD.with(|c| c.set(Some(bytes)));
    let r = f();
    TEST_PACKED_THRESHOLD.with(|c| c.set(None));
    r
}

/// The structural invariants of a quicklist.
fn check(l: &QuickList) {
    let mut total = 0;
    for (pos, node) in l.nodes.iter().enumerate() {
        assert!(node.count() > 0, "node {pos} is empty");
        total += node.count();
        let view = node.view();
        if node.is_plain() {
            assert_eq!(node.count(), 1);
        } else {
            assert_eq!(
                listpack::validate(&view.bytes),
                Some(node.count()),
                "node {pos}"
            );
        }
        assert_eq!(view.bytes.len(), node.raw_len());
        if !node.is_plain() && !node.is_compressed() {
            assert_eq!(
                node.heap_bytes(),
                node::size_class(node.raw_len()),
                "node {pos}"
            );
        }
        if !l.is_inner(pos) {
            assert!(!node.is_compressed(), "end node {pos} is compressed");
        } else if !node.is_compressed() {
            // An inner node stays raw only if compression would not pay.
            let mut probe = node.clone();
            probe.incompressible_reset();
            probe.compress();
            assert!(
                !probe.is_compressed(),
                "inner node {pos} of {} left raw",
                l.nodes.len()
            );
        }
    }
    assert_eq!(total, l.len());
}

fn items(n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| format!("item{i}").into_bytes()).collect()
}

#[test]
fn pushes_lay_out_nodes_like_redis() {
    // Node counts and total listpack bytes DEBUG OBJECT reports on Redis 7.0.15.
    let mut tail = QuickList::new(-2, 0);
    let mut head = QuickList::new(-2, 0);
    for v in items(10_000) {
        tail.push(End::Tail, &v);
        head.push(End::Head, &v);
    }
    for l in [&tail, &head] {
        check(l);
        assert_eq!(l.node_count(), 13);
        assert_eq!(l.raw_bytes(), 98_981);
    }
    let mut seen = Vec::new();
    tail.for_each(|e| seen.push(e.to_vec()));
    assert_eq!(seen, items(10_000));
    let mut ints = QuickList::new(-2, 0);
    for i in 0..10_000 {
        ints.push(End::Tail, i.to_string().as_bytes());
    }
    assert_eq!(
        (
            ints.node_count(),
            ints.nodes().map(Node::raw_len).sum::<usize>()
        ),
        (5, 35_811)
    );
    let mut five = QuickList::new(5, 0);
    for v in items(1000) {
        five.push(End::Tail, &v);
    }
    assert_eq!(
        (
            five.node_count(),
            five.nodes().map(Node::raw_len).sum::<usize>()
        ),
        (200, 10_290)
    );
}

#[test]
fn large_elements_get_their_own_node() {
    let mut l = QuickList::new(-2, 0);
    l.push(End::Tail, b"a");
    l.push(End::Tail, &[b'x'; 9000]);
    l.push(End::Tail, b"b");
    check(&l);
    // Too big for an 8 KiB node: a listpack node of its own.
    assert_eq!(l.node_count(), 3);
    assert!(l.nodes().all(|n| !n.is_plain()));
    with_packed_threshold(100, || {
        let mut l = QuickList::new(-2, 0);
        l.push(End::Tail, b"a");
        l.push(End::Tail, &[b'y'; 100]);
        l.push(End::Head, &[b'z'; 200]);
        l.insert(1, false, &[b'w'; 300]);
        check(&l);
        let plain: Vec<bool> = l.nodes().map(Node::is_plain).collect();
        assert_eq!(plain, [true, true, false, true]);
        assert_eq!(l.pop(End::Head), Some(vec![b'z'; 200]));
        l.replace(1, b"small");
        check(&l);
        assert_eq!(
            l.to_vec(),
            [vec![b'w'; 300], b"small".to_vec(), vec![b'y'; 100]]
        );
    });
}

#[test]
fn index_access_from_either_end() {
    let mut l = QuickList::new(4, 0);
    for v in items(103) {
        l.push(End::Tail, &v);
    }
    assert_eq!(l.resolve(-1), Some(102));
    assert_eq!(l.resolve(-103), Some(0));
    assert_eq!(l.resolve(-104), None);
    assert_eq!(l.resolve(103), None);
    assert_eq!(l.resolve(i64::MIN), None);
    for i in [0, 1, 3, 4, 50, 51, 52, 99, 100, 102] {
        assert_eq!(l.get(i), Some(format!("item{i}").into_bytes()));
        assert_eq!(l.locate(i), (i / 4, i % 4));
    }
    let mut back = Vec::new();
    l.visit(5, true, |e| {
        back.push(e.to_vec());
        false
    });
    assert_eq!(back, items(6).into_iter().rev().collect::<Vec<_>>());
}

#[test]
fn inner_nodes_are_compressed() {
    let mut l = QuickList::new(16, 1);
    for v in items(160) {
        l.push(End::Tail, &v);
    }
    check(&l);
    let compressed: Vec<bool> = l.nodes().map(Node::is_compressed).collect();
    assert_eq!(compressed.len(), 10);
    assert!(!compressed[0] && !compressed[9]);
    assert!(compressed[1..9].iter().all(|c| *c), "{compressed:?}");
    let raw: usize = l.nodes().map(Node::raw_len).sum();
    let held: usize = l.nodes().map(Node::heap_bytes).sum();
    assert!(held < raw * 3 / 4, "{held} of {raw}");
    // Reads see through compression; edits in the middle keep it.
    assert_eq!(l.get(80), Some(b"item80".to_vec()));
    l.replace(80, b"changed");
    l.insert(40, true, b"inserted");
    assert_eq!(l.remove_matching(b"item100", 0, false), 1);
    check(&l);
    assert_eq!(l.get(41), Some(b"inserted".to_vec()));
    // Popping down to the ends decompresses what becomes an end node.
    while l.len() > 20 {
        l.pop(End::Head);
        check(&l);
    }
}

#[test]
fn deletions_merge_small_neighbours() {
    let mut l = QuickList::new(10, 0);
    for v in items(100) {
        l.push(End::Tail, &v);
    }
    assert_eq!(l.node_count(), 10);
    // Thin every node out to two elements: the nodes merge back to five.
    for i in 0..100 {
        if i % 10 >= 2 {
            l.remove_matching(format!("item{i}").as_bytes(), 1, false);
        }
    }
    check(&l);
    assert_eq!(l.len(), 20);
    assert_eq!(l.node_count(), 2);
    // A range deletion across nodes merges the pieces left on either side.
    let mut l = QuickList::new(10, 0);
    for v in items(100) {
        l.push(End::Tail, &v);
    }
    l.delete_range(3, 94);
    check(&l);
    assert_eq!(
        l.to_vec(),
        [
            &b"item0"[..],
            b"item1",
            b"item2",
            b"item97",
            b"item98",
            b"item99"
        ]
    );
    assert_eq!(l.node_count(), 1);
}

#[test]
fn full_nodes_split_on_insert() {
    let mut l = QuickList::new(4, 0);
    for v in items(8) {
        l.push(End::Tail, &v);
    }
    // Inside a full node: split, then merge what fits.
    l.insert(1, true, b"x");
    check(&l);
    assert_eq!(l.get(2), Some(b"x".to_vec()));
    // At the edge of a full node with a full neighbour: a new node between them.
    let mut l = QuickList::new(2, 0);
    for v in items(4) {
        l.push(End::Tail, &v);
    }
    l.insert(1, true, b"y");
    check(&l);
    assert_eq!(l.node_count(), 3);
    assert_eq!(
        l.to_vec(),
        [&b"item0"[..], b"item1", b"y", b"item2", b"item3"]
    );
}

#[test]
fn finds_matches_in_order() {
    let mut l = QuickList::new(3, 0);
    for v in ["a", "1", "b", "1", "a", "01", "1"] {
        l.push(End::Tail, v.as_bytes());
    }
    let collect = |from_tail, max| {
        let mut out = Vec::new();
        l.find_each(b"1", from_tail, max, |i| {
            out.push(i);
            false
        });
        out
    };
    assert_eq!(collect(false, usize::MAX), [1, 3, 6]);
    assert_eq!(collect(true, usize::MAX), [6, 3, 1]);
    assert_eq!(collect(false, 4), [1, 3]);
    assert_eq!(l.position(b"01"), Some(5));
    assert_eq!(l.position(b"c"), None);
}

#[test]
fn packed_threshold_limits() {
    assert!(!set_packed_threshold(1 << 40));
    assert!(set_packed_threshold(0));
    assert_eq!(PACKED_THRESHOLD_BYTES.load(Ordering::Relaxed), 1 << 30);
}

#[test]
fn loads_nodes() {
    let mut l = QuickList::new(-2, 1);
    for i in 0..5 {
        let lp = listpack::from_values([format!("n{i}a").as_bytes(), b"x".repeat(60).as_slice()]);
        l.append_listpack(lp);
    }
    l.append_listpack(listpack::new_vec());
    l.append_plain(b"plain".to_vec());
    check(&l);
    assert_eq!(l.len(), 11);
    assert_eq!(l.node_count(), 6);
    assert_eq!(l.get(10), Some(b"plain".to_vec()));
}

#[derive(Debug, Clone)]
enum Op {
    Push(bool, Vec<u8>),
    Pop(bool),
    Insert(usize, bool, Vec<u8>),
    Replace(usize, Vec<u8>),
    DeleteRange(usize, usize),
    Remove(Vec<u8>, usize, bool),
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // Few distinct small values, so removals find matches; integers among them.
        4 => (0u8..6).prop_map(|i| match i {
            0 => b"1".to_vec(),
            1 => b"-20".to_vec(),
            2 => b"01".to_vec(),
            _ => vec![b'a' + i; 1 + i as usize * 7],
        }),
        1 => (40usize..700, any::<u8>()).prop_map(|(n, b)| vec![b'k' ^ (b & 3); n]),
        1 => proptest::collection::vec(any::<u8>(), 0..30),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (any::<bool>(), value()).prop_map(|(h, v)| Op::Push(h, v)),
        2 => any::<bool>().prop_map(Op::Pop),
        3 => (any::<usize>(), any::<bool>(), value()).prop_map(|(i, a, v)| Op::Insert(i, a, v)),
        2 => (any::<usize>(), value()).prop_map(|(i, v)| Op::Replace(i, v)),
        1 => (any::<usize>(), 0usize..40).prop_map(|(i, n)| Op::DeleteRange(i, n)),
        1 => (value(), 0usize..4, any::<bool>()).prop_map(|(v, n, t)| Op::Remove(v, n, t)),
    ]
}

fn apply(l: &mut QuickList, model: &mut VecDeque<Vec<u8>>, op: Op) {
    match op {
        Op::Push(head, v) => {
            l.push(if head { End::Head } else { End::Tail }, &v);
            if head {
                model.push_front(v);
            } else {
                model.push_back(v);
            }
        }
        Op::Pop(head) => {
            let (got, want) = if head {
                (l.pop(End::Head), model.pop_front())
            } else {
                (l.pop(End::Tail), model.pop_back())
            };
            assert_eq!(got, want);
        }
        Op::Insert(i, after, v) if !model.is_empty() => {
            let i = i % model.len();
            l.insert(i, after, &v);
            model.insert(i + usize::from(after), v);
        }
        Op::Replace(i, v) if !model.is_empty() => {
            let i = i % model.len();
            l.replace(i, &v);
            model[i] = v;
        }
        Op::DeleteRange(i, n) => {
            let i = i % (model.len() + 1);
            l.delete_range(i, n);
            let end = (i + n).min(model.len());
            model.drain(i..end);
        }
        Op::Remove(v, limit, from_tail) => {
            let removed = l.remove_matching(&v, limit, from_tail);
            let mut want = 0;
            let limit = if limit == 0 { usize::MAX } else { limit };
            let positions: Vec<usize> = if from_tail {
                (0..model.len()).rev().collect()
            } else {
                (0..model.len()).collect()
            };
            let mut doomed = Vec::new();
            for p in positions {
                if want < limit && model[p] == v {
                    doomed.push(p);
                    want += 1;
                }
            }
            doomed.sort_unstable();
            for p in doomed.into_iter().rev() {
                model.remove(p);
            }
            assert_eq!(removed, want);
        }
        _ => {}
    }
}

/// Values come back byte for byte (integers are only stored as such when their decimal form
/// is canonical), so the model compares directly.
fn agree(l: &QuickList, model: &VecDeque<Vec<u8>>) {
    check(l);
    let want: Vec<Vec<u8>> = model.iter().cloned().collect();
    assert_eq!(l.to_vec(), want);
    if !model.is_empty() {
        let mut back = Vec::new();
        l.visit(model.len() - 1, true, |e| {
            back.push(e.to_vec());
            false
        });
        back.reverse();
        assert_eq!(back, want);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn behaves_like_a_deque(
        fill in prop_oneof![-5i64..=-1, 1i64..6],
        depth in 0i64..3,
        plain_at in prop_oneof![Just(usize::MAX), 300usize..600],
        ops in proptest::collection::vec(op(), 1..120),
    ) {
        with_packed_threshold(plain_at, || {
            let mut l = QuickList::new(fill, depth);
            let mut model = VecDeque::new();
            for op in ops {
                apply(&mut l, &mut model, op);
                agree(&l, &model);
            }
        });
    }
}
