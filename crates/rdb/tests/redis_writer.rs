//! The writer against the real Redis 7.0: files it writes pass redis-check-rdb and load into
//! redis-server with exactly the contents written; a file Redis wrote, read and written again,
//! comes out byte for byte the same; DUMP payloads match Redis's and RESTORE into it.

mod common;

use common::*;
use rudis_rdb::stream::{Consumer, ConsumerGroup, PendingEntry, StreamId, StreamNode};
use rudis_rdb::{
    dump, intset, listpack, Entry, EntryMeta, Item, QuicklistNode, Stream, Value, WriteOptions,
};
use rudis_resp::Value as Reply;

fn entry(key: &str, value: Value) -> Item {
    Item::Entry(Entry {
        key: key.as_bytes().to_vec(),
        value,
        meta: EntryMeta::default(),
    })
}

fn strings(items: impl IntoIterator<Item = String>) -> Vec<Vec<u8>> {
    items.into_iter().map(String::into_bytes).collect()
}

/// A stream with entries of shared and own fields, a deleted entry, and a group with a PEL.
fn sample_stream() -> Stream {
    let mut b = listpack::Builder::new();
    for v in [2, 1, 1] {
        b.push_int(v);
    }
    b.push(b"f");
    b.push_int(0);
    // 5-0 f=a (same fields), 5-1 deleted, 6-0 g=b h=c (own fields).
    for (flags, ms, seq) in [(2, 0, 0), (3, 0, 1)] {
        for x in [flags, ms, seq] {
            b.push_int(x);
        }
        b.push(b"a");
        b.push_int(4);
    }
    for x in [0, 1, 0, 2] {
        b.push_int(x);
    }
    for v in [&b"g"[..], b"b", b"h", b"c"] {
        b.push(v);
    }
    b.push_int(8);
    let id = |ms, seq| StreamId { ms, seq };
    Stream {
        nodes: vec![StreamNode {
            master_id: id(5, 0),
            listpack: b.finish(),
        }],
        length: 2,
        last_id: id(6, 0),
        first_id: id(5, 0),
        max_deleted_entry_id: id(5, 1),
        entries_added: 3,
        groups: vec![ConsumerGroup {
            name: b"grp".to_vec(),
            last_id: id(5, 0),
            entries_read: 1,
            pending: vec![PendingEntry {
                id: id(5, 0),
                delivery_time_ms: 1_700_000_000_000,
                delivery_count: 3,
            }],
            consumers: vec![Consumer {
                name: b"alice".to_vec(),
                seen_time_ms: 1_700_000_000_500,
                pending: vec![id(5, 0)],
            }],
        }],
    }
}

/// Every value form the writer takes, in two databases, with metadata.
fn synthetic_items() -> Vec<Item> {
    let at = in_an_hour_ms();
    let mut items = vec![
        Item::Function {
            code: LIBRARY.as_bytes().to_vec(),
        },
        Item::SelectDb { db: 0 },
        Item::ResizeDb {
            keys: 20,
            expires: 2,
        },
    ];
    for (i, s) in ["hello", "", "-128", "32768", "2147483648", "007", "-0"]
        .iter()
        .enumerate()
    {
        items.push(entry(
            &format!("str:{i}"),
            Value::String(s.as_bytes().to_vec()),
        ));
    }
    items.push(entry("str:lzf", Value::String(b"abcdefgh".repeat(300))));
    items.push(entry("str:noise", Value::String(noise(2000, 5))));
    items.push(entry(
        "str:big",
        Value::String([noise(100, 1), vec![b'q'; 100_000]].concat()),
    ));
    items.push(entry(
        "list:plain",
        Value::List(strings((0..3000).map(|i| format!("e{i}")))),
    ));
    items.push(entry(
        "list:nodes",
        Value::ListQuicklist(vec![
            QuicklistNode::Packed(listpack::from_values([&b"a"[..], b"1", b"-70000"])),
            QuicklistNode::Plain(vec![b'p'; 300]),
            QuicklistNode::Packed(listpack::from_values([&b"z"[..]])),
        ]),
    ));
    items.push(entry(
        "set:plain",
        Value::Set(strings((0..300).map(|i| format!("m{i}")))),
    ));
    items.push(entry(
        "set:intset",
        Value::SetIntset(intset::from_values(&[-5, 1, 70_000, i64::MAX])),
    ));
    let zset: Vec<(Vec<u8>, f64)> = (0..200)
        .rev()
        .map(|i| (format!("z{i}").into_bytes(), f64::from(i) / 7.0))
        .collect();
    items.push(entry("zset:plain", Value::ZSet(zset)));
    items.push(entry(
        "zset:listpack",
        Value::ZSetListpack(listpack::from_values([
            &b"c"[..],
            b"-inf",
            b"a",
            b"1",
            b"b",
            b"2.5",
            b"d",
            b"inf",
        ])),
    ));
    let hash: Vec<(Vec<u8>, Vec<u8>)> = (0..200)
        .map(|i| (format!("f{i}").into_bytes(), noise(i % 70, i as u64)))
        .collect();
    items.push(entry("hash:plain", Value::Hash(hash)));
    items.push(entry(
        "hash:listpack",
        Value::HashListpack(listpack::from_values([&b"f"[..], b"v", b"n", b"12"])),
    ));
    items.push(entry("stream", Value::Stream(Box::new(sample_stream()))));
    items.push(Item::Entry(Entry {
        key: b"expiring".to_vec(),
        value: Value::String(b"soon".to_vec()),
        meta: EntryMeta {
            expire_at_ms: Some(at),
            lru_idle_secs: None,
            lfu_freq: Some(42),
        },
    }));
    items.push(Item::SelectDb { db: 7 });
    items.push(Item::ResizeDb {
        keys: 1,
        expires: 1,
    });
    items.push(Item::Entry(Entry {
        key: b"in-db-7".to_vec(),
        value: Value::Set(vec![b"x".to_vec()]),
        meta: EntryMeta {
            expire_at_ms: Some(at + 1),
            ..EntryMeta::default()
        },
    }));
    items
}

#[test]
fn redis_loads_what_the_writer_writes() {
    let items = synthetic_items();
    for (compression, checksum) in [(true, true), (false, true), (true, false), (false, false)] {
        let file = write_items(
            &items,
            WriteOptions {
                compression,
                checksum,
            },
            true,
        );
        let dir = scratch_dir("written");
        std::fs::write(dir.join("dump.rdb"), &file).unwrap();
        check_rdb(&dir.join("dump.rdb"));
        let redis = Redis::start_in(&dir, &["--maxmemory-policy", "allkeys-lfu"]);
        let got = dataset_of(&redis);
        assert_eq!(
            got,
            dataset_of_items(&items),
            "compression {compression}, checksum {checksum}: {}",
            redis.log()
        );
        let mut c = redis.conn();
        assert_eq!(int(&c.ok_str(&["OBJECT", "FREQ", "expiring"])), 42);
        assert_eq!(c.ok_str(&["FCALL", "rdbtestfn", "0"]), Reply::Int(1));
        assert_eq!(
            bulk(&c.ok_str(&["OBJECT", "ENCODING", "list:nodes"])),
            b"quicklist"
        );
    }
}

/// Populates a Redis, saves, and writes the file again from what the reader returned.
fn reemit(tag: &str, args: &[&str], compression: bool) -> (Redis, Vec<u8>, Vec<u8>) {
    let mut all_args = vec!["--enable-debug-command", "yes"];
    all_args.extend_from_slice(args);
    let redis = Redis::start(tag, &all_args);
    populate(&mut redis.conn());
    let original = redis.save("dump.rdb");
    let items = read_file(&original);
    let checksum = !args.contains(&"--rdbchecksum");
    let again = write_items(
        &items,
        WriteOptions {
            compression,
            checksum,
        },
        false,
    );
    (redis, original, again)
}

#[test]
fn redis_files_come_out_byte_for_byte() {
    let (_redis, original, again) = reemit("bytes", &["--rdbcompression", "no"], false);
    assert_eq!(original.len(), again.len());
    assert!(
        original == again,
        "first difference at byte {:?}",
        original.iter().zip(&again).position(|(a, b)| a != b)
    );
    let (_redis, original, again) = reemit(
        "bytes-nocrc",
        &["--rdbcompression", "no", "--rdbchecksum", "no"],
        false,
    );
    assert!(original == again);
}

/// Every key's DEBUG DIGEST-VALUE, and for streams the full XINFO (groups, PELs, consumers).
fn fingerprint(redis: &Redis) -> Vec<(u64, Vec<u8>, Reply)> {
    let mut c = redis.conn();
    let mut out = Vec::new();
    for db in 0..16u64 {
        c.ok_str(&["SELECT", &db.to_string()]);
        let mut keys: Vec<Vec<u8>> = array(c.ok_str(&["KEYS", "*"])).iter().map(bulk).collect();
        keys.sort();
        for key in keys {
            out.push((db, key.clone(), c.ok(&[b"DEBUG", b"DIGEST-VALUE", &key])));
            if bulk(&c.ok(&[b"TYPE", &key])) == b"stream" {
                out.push((db, key.clone(), c.ok(&[b"XINFO", b"STREAM", &key, b"FULL"])));
            }
            out.push((db, key.clone(), c.ok(&[b"PEXPIRETIME", &key])));
        }
    }
    out
}

#[test]
fn reemitted_files_load_with_identical_contents() {
    let args = [
        "--list-compress-depth",
        "1",
        "--maxmemory-policy",
        "allkeys-lfu",
    ];
    let (redis, _, again) = reemit("reload", &args, true);
    let dir = scratch_dir("reloaded");
    std::fs::write(dir.join("dump.rdb"), &again).unwrap();
    check_rdb(&dir.join("dump.rdb"));
    let mut load_args = vec!["--enable-debug-command", "yes"];
    load_args.extend_from_slice(&args);
    let reloaded = Redis::start_in(&dir, &load_args);
    let mut a = redis.conn();
    let mut b = reloaded.conn();
    assert_eq!(
        a.ok_str(&["DEBUG", "DIGEST"]),
        b.ok_str(&["DEBUG", "DIGEST"])
    );
    assert_eq!(fingerprint(&redis), fingerprint(&reloaded));
    assert_eq!(
        a.ok_str(&["FUNCTION", "DUMP"]),
        b.ok_str(&["FUNCTION", "DUMP"])
    );
}

#[test]
fn dump_payloads_match_redis() {
    let redis = Redis::start(
        "dump",
        &["--enable-debug-command", "yes", "--rdbcompression", "no"],
    );
    let mut c = redis.conn();
    populate(&mut c);
    let dataset = dataset_of(&redis);
    c.ok_str(&["SELECT", "0"]);
    for ((db, key), (want, expire_at_ms)) in &dataset {
        if *db != 0 {
            continue;
        }
        let payload = bulk(&c.ok(&[b"DUMP", key]));
        let value = dump::decode(&payload, true)
            .unwrap_or_else(|e| panic!("{:?}: {e}", String::from_utf8_lossy(key)));
        assert_eq!(&logical(&value), want);
        assert!(
            dump::encode(&value, false) == payload,
            "{:?}: DUMP differs",
            String::from_utf8_lossy(key)
        );
        let copy = [&key[..], b":copy"].concat();
        // The digest counts an expiry in: restore with the same one.
        let ttl = expire_at_ms.unwrap_or(0).to_string();
        c.ok(&[
            b"RESTORE",
            &copy,
            ttl.as_bytes(),
            &dump::encode(&value, true),
            b"ABSTTL",
        ]);
        assert_eq!(
            c.ok(&[b"DEBUG", b"DIGEST-VALUE", key]),
            c.ok(&[b"DEBUG", b"DIGEST-VALUE", &copy]),
            "{:?}",
            String::from_utf8_lossy(key)
        );
    }
}
