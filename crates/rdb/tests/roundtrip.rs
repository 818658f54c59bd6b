//! Property tests: whatever the writer writes, the reader gives back; and hostile bytes never
//! make the reader panic.

use proptest::collection::{btree_map, btree_set, vec};
use proptest::prelude::*;
use rudis_rdb::stream::{ConsumerGroup, StreamId, StreamNode};
use rudis_rdb::{
    dump, intset, listpack, Entry, EntryMeta, Item, QuicklistNode, Reader, Stream, Value,
    WriteOptions, Writer,
};

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // Integers of every width, which take the integer encodings.
        any::<i64>().prop_map(|i| i.to_string().into_bytes()),
        (-200i64..200).prop_map(|i| i.to_string().into_bytes()),
        vec(any::<u8>(), 0..40),
        // Long, compressible strings, which take LZF.
        (1usize..400, any::<u8>()).prop_map(|(n, b)| vec![b; n]),
        "[a-c]{20,120}".prop_map(String::into_bytes),
    ]
}

fn score() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("not NaN", |f| !f.is_nan()),
        (-1000i32..1000).prop_map(f64::from),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
    ]
}

/// A sorted-set listpack as Redis keeps it: pairs in (score, member) order.
fn zset_listpack(pairs: &[(Vec<u8>, f64)]) -> Vec<u8> {
    // Redis never stores -0 apart from 0 in a listpack; keep the order check meaningful.
    let mut sorted: Vec<(Vec<u8>, f64)> = pairs
        .iter()
        .map(|(m, s)| (m.clone(), if *s == 0.0 { 0.0 } else { *s }))
        .collect();
    sorted.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    let texts: Vec<(Vec<u8>, Vec<u8>)> = sorted
        .into_iter()
        .map(|(m, s)| (m, s.to_string().into_bytes()))
        .collect();
    listpack::from_values(texts.iter().flat_map(|(m, s)| [&m[..], &s[..]]))
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        bytes().prop_map(Value::String),
        vec(bytes(), 1..60).prop_map(Value::List),
        vec(vec(bytes(), 1..10), 1..5).prop_map(|nodes| Value::ListQuicklist(
            nodes
                .iter()
                .map(|n| QuicklistNode::Packed(listpack::from_values(n.iter().map(|e| &e[..]))))
                .collect()
        )),
        btree_set(bytes(), 1..40).prop_map(|s| Value::Set(s.into_iter().collect())),
        btree_set(any::<i64>(), 1..40).prop_map(|s| Value::SetIntset(intset::from_values(
            &s.into_iter().collect::<Vec<_>>()
        ))),
        btree_map(bytes(), score(), 1..40).prop_map(|m| Value::ZSet(m.into_iter().collect())),
        btree_map(bytes(), score(), 1..40)
            .prop_map(|m| Value::ZSetListpack(zset_listpack(&m.into_iter().collect::<Vec<_>>()))),
        btree_map(bytes(), bytes(), 1..40).prop_map(|m| Value::Hash(m.into_iter().collect())),
        btree_map(bytes(), bytes(), 1..40).prop_map(|m| Value::HashListpack(
            listpack::from_values(m.iter().flat_map(|(f, v)| [&f[..], &v[..]]))
        )),
        (1u64..1000, vec(bytes(), 1..5))
            .prop_map(|(ms, values)| Value::Stream(Box::new(stream(ms, &values)))),
    ]
}

/// A stream of one node whose entries each have one field.
fn stream(ms: u64, values: &[Vec<u8>]) -> Stream {
    let mut b = listpack::Builder::new();
    for v in [values.len() as i64, 0, 1] {
        b.push_int(v);
    }
    b.push(b"field");
    b.push_int(0);
    for (i, v) in values.iter().enumerate() {
        for x in [2, 0, i as i64] {
            b.push_int(x);
        }
        b.push(v);
        b.push_int(4);
    }
    let id = |seq| StreamId { ms, seq };
    Stream {
        nodes: vec![StreamNode {
            master_id: id(0),
            listpack: b.finish(),
        }],
        length: values.len() as u64,
        last_id: id(values.len() as u64 - 1),
        first_id: id(0),
        max_deleted_entry_id: StreamId::default(),
        entries_added: values.len() as u64,
        groups: vec![ConsumerGroup {
            name: b"group".to_vec(),
            last_id: id(0),
            entries_read: u64::MAX,
            pending: vec![],
            consumers: vec![],
        }],
    }
}

fn meta() -> impl Strategy<Value = EntryMeta> {
    (
        proptest::option::of(any::<i64>()),
        proptest::option::of(any::<u64>()),
        proptest::option::of(any::<u8>()),
    )
        .prop_map(|(expire_at_ms, lru_idle_secs, lfu_freq)| EntryMeta {
            expire_at_ms,
            lru_idle_secs,
            lfu_freq,
        })
}

/// The elements of a list, whichever form it takes.
fn list_elements(v: &Value) -> Option<Vec<Vec<u8>>> {
    match v {
        Value::List(items) => Some(items.clone()),
        Value::ListQuicklist(nodes) => Some(
            nodes
                .iter()
                .flat_map(|n| match n {
                    QuicklistNode::Packed(lp) => {
                        listpack::entries(lp).map(|e| e.to_vec()).collect()
                    }
                    QuicklistNode::Plain(e) => vec![e.clone()],
                })
                .collect(),
        ),
        _ => None,
    }
}

/// Values are equal as the server sees them: a plain list comes back as quicklist nodes.
fn same_value(a: &Value, b: &Value) -> bool {
    match (list_elements(a), list_elements(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn write_file(items: &[Item], options: WriteOptions) -> Vec<u8> {
    let mut w = Writer::new(Vec::new(), options).unwrap();
    for item in items {
        match item {
            Item::Aux { key, value } => w.aux(key, value).unwrap(),
            Item::SelectDb { db } => w.select_db(*db).unwrap(),
            Item::ResizeDb { keys, expires } => w.resize_db(*keys, *expires).unwrap(),
            Item::Function { code } => w.function(code).unwrap(),
            Item::Entry(e) => w.write_entry(e).unwrap(),
        }
    }
    w.finish().unwrap()
}

fn item() -> impl Strategy<Value = Item> {
    prop_oneof![
        (bytes(), bytes()).prop_map(|(key, value)| Item::Aux { key, value }),
        any::<u64>().prop_map(|db| Item::SelectDb { db }),
        (any::<u64>(), any::<u64>()).prop_map(|(keys, expires)| Item::ResizeDb { keys, expires }),
        bytes().prop_map(|code| Item::Function { code }),
        (bytes(), value(), meta()).prop_map(|(key, value, meta)| Item::Entry(Entry {
            key,
            value,
            meta
        })),
        (bytes(), value(), meta()).prop_map(|(key, value, meta)| Item::Entry(Entry {
            key,
            value,
            meta
        })),
    ]
}

fn same_item(a: &Item, b: &Item) -> bool {
    match (a, b) {
        (Item::Entry(x), Item::Entry(y)) => {
            x.key == y.key && x.meta == y.meta && same_value(&x.value, &y.value)
        }
        _ => a == b,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn files_roundtrip(items in vec(item(), 0..12), compression: bool, checksum: bool) {
        let file = write_file(&items, WriteOptions { compression, checksum });
        let mut reader = Reader::new(&file[..]).unwrap();
        let mut back = Vec::new();
        while let Some(item) = reader.next_item().unwrap() {
            back.push(item);
        }
        prop_assert_eq!(back.len(), items.len());
        for (a, b) in items.iter().zip(&back) {
            prop_assert!(same_item(a, b), "{:?}\n!=\n{:?}", a, b);
        }
        prop_assert_eq!(reader.offset(), file.len() as u64);
    }

    #[test]
    fn dump_payloads_roundtrip(v in value(), compression: bool) {
        let payload = dump::encode(&v, compression);
        let back = dump::decode(&payload, true).unwrap();
        prop_assert!(same_value(&v, &back));
    }

    #[test]
    fn reader_never_panics(bytes in vec(any::<u8>(), 0..400)) {
        let mut file = b"REDIS0010".to_vec();
        file.extend_from_slice(&bytes);
        if let Ok(reader) = Reader::new(&file[..]) {
            for item in reader {
                if item.is_err() {
                    break;
                }
            }
        }
        let _ = dump::decode(&bytes, false);
    }

    #[test]
    fn reader_never_panics_on_damaged_files(items in vec(item(), 1..6), flips in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)) {
        let mut file = write_file(&items, WriteOptions::default());
        for (i, x) in flips {
            let i = i.index(file.len());
            file[i] ^= x | 1;
        }
        if let Ok(reader) = Reader::new(&file[..]) {
            for item in reader {
                if item.is_err() {
                    break;
                }
            }
        }
    }
}
