//! The reader against files the real Redis 7.0 writes: every type in every encoding, under
//! every setting that changes the file, read back exactly as Redis's own commands show them;
//! and files in the encodings of older versions, loaded the way Redis 7.0 loads them.

mod common;

use std::collections::BTreeSet;

use common::*;
use rudis_rdb::stream::{StreamId, StreamNode};
use rudis_rdb::{Checksum, Item, QuicklistNode, Reader, Value};

/// The encodings a value arrived in, by name.
fn encodings(items: &[Item]) -> BTreeSet<&'static str> {
    let mut seen = BTreeSet::new();
    for item in items {
        let Item::Entry(e) = item else { continue };
        let name = match &e.value {
            Value::String(_) => "string",
            Value::List(_) => "list",
            Value::ListQuicklist(nodes) => {
                if nodes.iter().any(|n| matches!(n, QuicklistNode::Plain(_))) {
                    seen.insert("quicklist-plain-node");
                }
                "quicklist"
            }
            Value::Set(_) => "set",
            Value::SetIntset(_) => "intset",
            Value::ZSet(_) => "zset",
            Value::ZSetListpack(_) => "zset-listpack",
            Value::Hash(_) => "hash",
            Value::HashListpack(_) => "hash-listpack",
            Value::Stream(_) => "stream",
        };
        seen.insert(name);
    }
    seen
}

/// Populates a fresh Redis started with `args`, saves, and checks the reader sees exactly what
/// Redis's commands show. Returns the items and how the checksum turned out.
fn read_back(tag: &str, args: &[&str]) -> (Vec<Item>, Checksum) {
    let mut all_args = vec!["--enable-debug-command", "yes"];
    all_args.extend_from_slice(args);
    let redis = Redis::start(tag, &all_args);
    populate(&mut redis.conn());
    let file = redis.save("dump.rdb");
    let mut reader = Reader::new(&file[..]).unwrap();
    let mut items = Vec::new();
    while let Some(item) = reader.next_item().unwrap_or_else(|e| panic!("{tag}: {e}")) {
        items.push(item);
    }
    assert_eq!(
        reader.offset(),
        file.len() as u64,
        "{tag}: the whole file was read"
    );
    let want = dataset_of(&redis);
    let got = dataset_of_items(&items);
    assert_eq!(got.len(), want.len(), "{tag}: key count");
    for (key, value) in &want {
        assert_eq!(
            got.get(key),
            Some(value),
            "{tag}: key {:?}",
            String::from_utf8_lossy(&key.1)
        );
    }
    assert!(items.contains(&Item::Function {
        code: LIBRARY.as_bytes().to_vec()
    }));
    (items, reader.checksum().expect("reached the end"))
}

#[test]
fn every_type_and_encoding_with_default_settings() {
    let (items, checksum) = read_back("default", &[]);
    assert!(matches!(checksum, Checksum::Verified(_)));
    let want: BTreeSet<&str> = [
        "string",
        "quicklist",
        "quicklist-plain-node",
        "set",
        "intset",
        "zset",
        "zset-listpack",
        "hash",
        "hash-listpack",
        "stream",
    ]
    .into();
    assert_eq!(encodings(&items), want);
    let aux: Vec<&[u8]> = items
        .iter()
        .filter_map(|i| match i {
            Item::Aux { key, .. } => Some(&key[..]),
            _ => None,
        })
        .collect();
    assert_eq!(
        &aux[..4],
        [&b"redis-ver"[..], b"redis-bits", b"ctime", b"used-mem"]
    );
    assert!(items.contains(&Item::SelectDb { db: 15 }));
}

#[test]
fn without_compression() {
    read_back("nocompress", &["--rdbcompression", "no"]);
}

#[test]
fn without_checksum() {
    let (_, checksum) = read_back("nochecksum", &["--rdbchecksum", "no"]);
    assert_eq!(checksum, Checksum::Disabled);
}

#[test]
fn compressed_quicklist_nodes_and_lfu_counters() {
    let (items, _) = read_back(
        "lfu",
        &[
            "--list-compress-depth",
            "1",
            "--maxmemory-policy",
            "allkeys-lfu",
        ],
    );
    for item in &items {
        if let Item::Entry(e) = item {
            assert!(e.meta.lfu_freq.is_some() && e.meta.lru_idle_secs.is_none());
        }
    }
}

#[test]
fn lru_idle_times() {
    let (items, _) = read_back("lru", &["--maxmemory-policy", "allkeys-lru"]);
    for item in &items {
        if let Item::Entry(e) = item {
            assert!(e.meta.lru_idle_secs.is_some() && e.meta.lfu_freq.is_none());
        }
    }
}

// ---- Older encodings ----------------------------------------------------------------------------

/// Writes RDB bytes by hand, for encodings the writer no longer produces.
struct Raw(Vec<u8>);

impl Raw {
    fn new(version: u32) -> Raw {
        Raw(format!("REDIS{version:04}").into_bytes())
    }

    fn byte(&mut self, b: u8) -> &mut Raw {
        self.0.push(b);
        self
    }

    fn len(&mut self, n: usize) -> &mut Raw {
        if n < 64 {
            self.0.push(n as u8);
        } else if n < 16384 {
            self.0.extend_from_slice(&[0x40 | (n >> 8) as u8, n as u8]);
        } else {
            self.0.push(0x80);
            self.0.extend_from_slice(&(n as u32).to_be_bytes());
        }
        self
    }

    fn string(&mut self, s: &[u8]) -> &mut Raw {
        self.len(s.len());
        self.0.extend_from_slice(s);
        self
    }

    fn key(&mut self, rdb_type: u8, key: &str) -> &mut Raw {
        self.byte(rdb_type).string(key.as_bytes())
    }

    fn finish(mut self) -> Vec<u8> {
        self.0.push(0xFF);
        let crc = rudis_rdb::crc64::checksum(&self.0);
        self.0.extend_from_slice(&crc.to_le_bytes());
        self.0
    }
}

/// A ziplist, built as Redis 6 built them (all entries as strings or small integers).
fn ziplist(values: &[&[u8]]) -> Vec<u8> {
    let mut b = vec![0u8; 10];
    let (mut prev, mut tail) = (0usize, 10usize);
    for v in values {
        tail = b.len();
        let start = b.len();
        if prev < 254 {
            b.push(prev as u8);
        } else {
            b.push(0xFE);
            b.extend_from_slice(&(prev as u32).to_le_bytes());
        }
        match std::str::from_utf8(v)
            .ok()
            .and_then(|s| s.parse::<i16>().ok())
            .filter(|i| i.to_string().as_bytes() == *v)
        {
            Some(i @ 0..=12) => b.push(0xF1 + i as u8),
            Some(i) => {
                b.push(0xC0);
                b.extend_from_slice(&i.to_le_bytes());
            }
            None if v.len() < 64 => {
                b.push(v.len() as u8);
                b.extend_from_slice(v);
            }
            None => {
                b.extend_from_slice(&[0x40 | (v.len() >> 8) as u8, v.len() as u8]);
                b.extend_from_slice(v);
            }
        }
        prev = b.len() - start;
    }
    b.push(0xFF);
    let total = b.len() as u32;
    b[0..4].copy_from_slice(&total.to_le_bytes());
    b[4..8].copy_from_slice(&(tail as u32).to_le_bytes());
    b[8..10].copy_from_slice(&(values.len() as u16).to_le_bytes());
    b
}

/// A zipmap (Redis 2.x small hashes), with a spare byte after each value.
fn zipmap(pairs: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut b = vec![pairs.len() as u8];
    for (f, v) in pairs {
        b.push(f.len() as u8);
        b.extend_from_slice(f);
        b.push(v.len() as u8);
        b.push(1);
        b.extend_from_slice(v);
        b.push(0);
    }
    b.push(0xFF);
    b
}

/// A one-node stream listpack whose entries each hold field `f` (Redis 5/6 layout).
fn stream_node(values: &[&[u8]]) -> Vec<u8> {
    let mut b = rudis_rdb::listpack::Builder::new();
    for v in [values.len() as i64, 0, 1] {
        b.push_int(v);
    }
    b.push(b"f");
    b.push_int(0);
    for (i, v) in values.iter().enumerate() {
        for x in [2, i as i64, 0] {
            b.push_int(x);
        }
        b.push(v);
        b.push_int(4);
    }
    b.finish()
}

fn old_encodings_file() -> Vec<u8> {
    let mut f = Raw::new(9);
    f.byte(0xFA).string(b"redis-ver").string(b"6.2.0");
    f.byte(0xFE).len(0).byte(0xFB).len(10).len(1);
    f.key(1, "linked-list")
        .len(3)
        .string(b"a")
        .string(b"b")
        .string(b"c");
    f.key(10, "ziplist-list")
        .string(&ziplist(&[b"x", b"7", b"-300", &[b'y'; 100]]));
    f.key(14, "quicklist-v1")
        .len(2)
        .string(&ziplist(&[b"n1", b"1"]))
        .string(&ziplist(&[b"n2"]));
    f.key(2, "plain-set").len(2).string(b"m1").string(b"m2");
    f.key(3, "text-zset")
        .len(3)
        .string(b"a")
        .byte(3)
        .0
        .extend_from_slice(b"1.5");
    f.string(b"b").byte(254).string(b"c").byte(255);
    f.key(9, "zipmap-hash")
        .string(&zipmap(&[(b"f1", b"v1"), (b"f2", b"22")]));
    f.key(12, "ziplist-zset")
        .string(&ziplist(&[b"m", b"1", b"n", b"2"]));
    f.key(13, "ziplist-hash")
        .string(&ziplist(&[b"f", b"v", b"g", b"12"]));
    let lp = stream_node(&[b"v0", b"v1", b"v2"]);
    let master = StreamId { ms: 1000, seq: 0 };
    f.key(15, "v1-stream")
        .len(1)
        .string(&master.to_be_bytes())
        .string(&lp);
    f.len(3).len(1002).len(0);
    f.len(1).string(b"grp").len(1001).len(0).len(0).len(0);
    // An expiry in seconds (before RDB 3), far in the future.
    f.byte(0xFD)
        .0
        .extend_from_slice(&2_000_000_000i32.to_le_bytes());
    f.key(0, "seconds-expiry").string(b"v");
    f.finish()
}

#[test]
fn older_encodings_load_as_redis_loads_them() {
    let file = old_encodings_file();
    let items = read_file(&file);
    let dir = scratch_dir("old");
    std::fs::write(dir.join("dump.rdb"), &file).unwrap();
    check_rdb(&dir.join("dump.rdb"));
    let redis = Redis::start_in(&dir, &[]);
    let want = dataset_of(&redis);
    assert_eq!(want.len(), 10, "Redis loaded every key: {}", redis.log());
    assert_eq!(dataset_of_items(&items), want);
    let stream = items.iter().find_map(|i| match i {
        Item::Entry(e) if e.key == b"v1-stream" => Some(e.value.clone()),
        _ => None,
    });
    let Some(Value::Stream(s)) = stream else {
        panic!()
    };
    assert_eq!(s.first_id, StreamId { ms: 1000, seq: 0 });
    assert_eq!(
        s.groups[0].entries_read,
        u64::MAX,
        "a read counter Redis cannot estimate"
    );
    assert_eq!(
        s.nodes,
        vec![StreamNode {
            master_id: StreamId { ms: 1000, seq: 0 },
            listpack: lp_of_v1()
        }]
    );
    // Written again (as version 10), the file loads into the same dataset.
    let again = write_items(&items, rudis_rdb::WriteOptions::default(), false);
    let dir = scratch_dir("old-again");
    std::fs::write(dir.join("dump.rdb"), &again).unwrap();
    check_rdb(&dir.join("dump.rdb"));
    assert_eq!(dataset_of(&Redis::start_in(&dir, &[])), want);
    let mut c = redis.conn();
    let info = array(c.ok_str(&["XINFO", "GROUPS", "v1-stream"]));
    let group = array(info[0].clone());
    let entries_read = group
        .iter()
        .position(|r| r.as_bytes() == Some(b"entries-read"))
        .unwrap();
    assert_eq!(group[entries_read + 1], rudis_resp::Value::Nil);
}

fn lp_of_v1() -> Vec<u8> {
    stream_node(&[b"v0", b"v1", b"v2"])
}
