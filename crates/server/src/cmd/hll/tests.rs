//! Unit tests of the HyperLogLog handlers: replies, and the effects a client cannot see
//! directly (propagated form, keyspace events, dirty counts, encodings). The `reference`
//! module compares the handlers with a real Redis 7.0 byte for byte.

mod reference;

use super::format::{self, DENSE_BYTES, HEADER_BYTES};
use crate::cmd::string::testkit::{list_value, resp, Kit};
use crate::config::Config;
use crate::keyspace::Value;

const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
const NOT_HLL: &str = "-WRONGTYPE Key is not a valid HyperLogLog string value.\r\n";
const CORRUPT: &str = "-INVALIDOBJ Corrupted HLL object detected\r\n";

/// The bytes stored under `key`.
fn raw(k: &mut Kit, key: &str) -> Vec<u8> {
    let entry = k.entry(key).expect("key exists");
    entry.value.as_str().expect("a string").to_vec()
}

fn put_raw(k: &mut Kit, key: &str, bytes: &[u8]) {
    k.put(key, Value::str(bytes));
}

#[test]
fn pfadd_creates_then_reports_register_growth() {
    let mut k = Kit::new();
    let out = k.run(&["PFADD", "h"]);
    assert_eq!(out.reply_str(), ":1\r\n", "creating counts as an update");
    assert_eq!(out.effects.dirty, 1);
    assert_eq!(out.events(), vec![("pfadd", b"h".to_vec())]);
    let mut empty = format::new_empty();
    format::invalidate_cache(&mut empty);
    assert_eq!(raw(&mut k, "h"), empty, "empty, with a stale cache");
    assert_eq!(k.encoding("h"), Some("raw"), "Redis makes a raw string");

    let out = k.run(&["PFADD", "h", "a", "b", "c"]);
    assert_eq!(out.reply_str(), ":1\r\n");
    assert_eq!(out.effects.dirty, 3, "one per register raised");
    assert_eq!(out.propagated(), vec![resp(&["PFADD", "h", "a", "b", "c"])]);
    assert_eq!(raw(&mut k, "h")[15], 0x80, "the cache is stale");

    let out = k.run(&["PFADD", "h", "a", "b", "c"]);
    assert_eq!(out.reply_str(), ":0\r\n");
    assert_eq!(out.effects.dirty, 0);
    assert!(out.propagated().is_empty());
    assert!(out.events().is_empty());
    assert_eq!(k.reply(&["PFADD", "h"]), ":0\r\n");
}

#[test]
fn pfcount_caches_and_propagates_only_when_it_computes() {
    let mut k = Kit::new();
    assert_eq!(k.reply(&["PFCOUNT", "missing"]), ":0\r\n");
    k.run(&["PFADD", "h", "1", "2", "3", "4", "5"]);
    let out = k.run(&["PFCOUNT", "h"]);
    assert_eq!(out.reply_str(), ":5\r\n");
    assert_eq!(out.effects.dirty, 1, "storing the cache is a change");
    assert_eq!(out.propagated(), vec![resp(&["PFCOUNT", "h"])]);
    assert!(out.events().is_empty(), "but not an event");
    let bytes = raw(&mut k, "h");
    assert_eq!(&bytes[8..16], &[5, 0, 0, 0, 0, 0, 0, 0]);

    let out = k.run(&["PFCOUNT", "h"]);
    assert_eq!(out.reply_str(), ":5\r\n");
    assert_eq!(out.effects.dirty, 0);
    assert!(out.propagated().is_empty());
    assert_eq!(out.effects.hits, 1);

    // A cache that says something else is believed, as in Redis.
    let mut forged = bytes.clone();
    forged[8] = 42;
    put_raw(&mut k, "h", &forged);
    assert_eq!(k.reply(&["PFCOUNT", "h"]), ":42\r\n");
    assert_eq!(k.encoding("h"), Some("raw"), "checked values become raw");
}

#[test]
fn pfcount_of_several_keys_counts_the_union_without_caching() {
    let mut k = Kit::new();
    k.run(&["PFADD", "a", "x", "y"]);
    k.run(&["PFADD", "b", "y", "z"]);
    let out = k.run(&["PFCOUNT", "a", "b", "missing"]);
    assert_eq!(out.reply_str(), ":3\r\n");
    assert_eq!(out.effects.dirty, 0);
    assert_eq!(out.effects.hits, 2);
    assert_eq!(out.effects.misses, 1);
    assert_eq!(raw(&mut k, "a")[15], 0x80, "no cache is stored");
}

#[test]
fn type_errors() {
    let mut k = Kit::new();
    k.put("l", list_value());
    k.run(&["SET", "s", "not a hyperloglog"]);
    k.run(&["PFADD", "h", "a"]);
    for cmd in [
        &["PFADD", "l", "x"][..],
        &["PFCOUNT", "l"],
        &["PFCOUNT", "h", "l"],
        &["PFMERGE", "l", "h"],
        &["PFMERGE", "h", "l"],
        &["PFDEBUG", "ENCODING", "l"],
    ] {
        assert_eq!(k.reply(cmd), WRONGTYPE, "{cmd:?}");
    }
    for cmd in [
        &["PFADD", "s", "x"][..],
        &["PFCOUNT", "s"],
        &["PFCOUNT", "h", "s"],
        &["PFMERGE", "s", "h"],
        &["PFMERGE", "h", "s"],
        &["PFDEBUG", "GETREG", "s"],
    ] {
        assert_eq!(k.reply(cmd), NOT_HLL, "{cmd:?}");
    }
    assert_eq!(
        k.encoding("s"),
        Some("embstr"),
        "a refused value is left alone"
    );
    assert_eq!(k.reply(&["GET", "s"]), "$17\r\nnot a hyperloglog\r\n");
}

#[test]
fn format_checks_reject_near_misses() {
    let mut k = Kit::new();
    let empty = format::new_empty();
    let mut bad_magic = empty.clone();
    bad_magic[0] = b'h';
    let mut bad_encoding = empty.clone();
    bad_encoding[4] = 2;
    let mut short_dense = empty.clone();
    short_dense[4] = 0;
    for (i, bad) in [&empty[..15], &bad_magic, &bad_encoding, &short_dense]
        .into_iter()
        .enumerate()
    {
        put_raw(&mut k, "v", bad);
        assert_eq!(k.reply(&["PFCOUNT", "v"]), NOT_HLL, "case {i}");
    }
}

#[test]
fn corrupt_sparse_values_are_detected() {
    let mut k = Kit::new();
    k.run(&["PFADD", "h", "a", "b", "c"]);
    let out = k.run(&["APPEND", "h", "hello"]);
    assert_eq!(out.effects.dirty, 1);
    assert_eq!(k.reply(&["PFCOUNT", "h"]), CORRUPT);
    assert_eq!(k.reply(&["PFCOUNT", "h", "h"]), CORRUPT);
    assert_eq!(k.reply(&["PFMERGE", "d", "h"]), CORRUPT);
    assert!(k.entry("d").is_none(), "nothing created");
    assert_eq!(k.reply(&["PFDEBUG", "TODENSE", "h"]), CORRUPT);
    // Only the header: no register can be found.
    put_raw(&mut k, "e", &format::new_empty()[..HEADER_BYTES]);
    let out = k.run(&["PFADD", "e", "x"]);
    assert_eq!(out.reply_str(), CORRUPT);
    assert_eq!(out.effects.dirty, 0);
    assert_eq!(
        k.reply(&["PFADD", "e"]),
        ":0\r\n",
        "no element, nothing decoded"
    );
}

#[test]
fn pfmerge_includes_the_destination_and_goes_dense_with_a_dense_source() {
    let mut k = Kit::new();
    k.run(&["PFADD", "a", "1", "2", "3"]);
    k.run(&["PFADD", "b", "3", "4"]);
    k.run(&["PFADD", "d", "5"]);
    let out = k.run(&["PFMERGE", "d", "a", "b", "missing"]);
    assert_eq!(out.reply_str(), "+OK\r\n");
    assert_eq!(out.effects.dirty, 1);
    // Sources are read lookups: the missing one fires keymiss, as in Redis.
    assert_eq!(
        out.events(),
        vec![("keymiss", b"missing".to_vec()), ("pfadd", b"d".to_vec())]
    );
    assert_eq!(
        out.propagated(),
        vec![resp(&["PFMERGE", "d", "a", "b", "missing"])]
    );
    assert_eq!(k.reply(&["PFCOUNT", "d"]), ":5\r\n");
    assert_eq!(k.reply(&["PFDEBUG", "ENCODING", "d"]), "+sparse\r\n");

    assert_eq!(k.reply(&["PFDEBUG", "TODENSE", "b"]), ":1\r\n");
    k.run(&["PFMERGE", "e", "a", "b"]);
    assert_eq!(k.reply(&["PFDEBUG", "ENCODING", "e"]), "+dense\r\n");
    assert_eq!(raw(&mut k, "e").len(), DENSE_BYTES);
    assert_eq!(k.reply(&["PFCOUNT", "e"]), ":4\r\n");

    let out = k.run(&["PFMERGE", "alone"]);
    assert_eq!(out.reply_str(), "+OK\r\n");
    assert_eq!(raw(&mut k, "alone")[..15], format::new_empty()[..15]);
    assert_eq!(
        raw(&mut k, "alone")[15],
        0x80,
        "the cache is marked stale anyway"
    );
}

#[test]
fn pfdebug_subcommands() {
    let mut k = Kit::new();
    assert_eq!(
        k.reply(&["PFDEBUG", "ENCODING", "h"]),
        "-ERR The specified key does not exist\r\n"
    );
    assert_eq!(
        k.reply(&["PFDEBUG", "NOPE", "h"]),
        "-ERR The specified key does not exist\r\n",
        "the key is looked up first"
    );
    k.run(&["PFADD", "h", "a"]);
    assert_eq!(
        k.reply(&["PFDEBUG", "DECODE", "h"]),
        "$20\r\nZ:12711 v:2,1 Z:3672\r\n"
    );
    assert_eq!(
        k.reply(&["PFDEBUG", "nope\0hidden", "h"]),
        "-ERR Unknown PFDEBUG subcommand 'nope'\r\n"
    );
    let out = k.run(&["PFDEBUG", "getreg", "h"]);
    let reply = out.reply_str();
    assert!(reply.starts_with("*16384\r\n:0\r\n"));
    assert_eq!(reply.matches(":2\r\n").count(), 1);
    assert_eq!(out.effects.dirty, 1, "converted to dense");
    assert_eq!(out.propagated(), vec![resp(&["PFDEBUG", "getreg", "h"])]);
    assert_eq!(k.reply(&["PFDEBUG", "encoding", "h"]), "+dense\r\n");
    assert_eq!(
        k.reply(&["PFDEBUG", "DECODE", "h"]),
        "-ERR HLL encoding is not sparse\r\n"
    );
    let out = k.run(&["PFDEBUG", "GETREG", "h"]);
    assert_eq!(out.effects.dirty, 0);
    assert_eq!(k.reply(&["PFDEBUG", "TODENSE", "h"]), ":0\r\n");
    assert_eq!(k.reply(&["PFCOUNT", "h"]), ":1\r\n");
}

#[test]
fn sparse_limit_comes_from_the_configuration() {
    let elements: Vec<String> = (0..200).map(|i| format!("e{i}")).collect();
    let mut args = vec!["PFADD", "h"];
    args.extend(elements.iter().map(String::as_str));
    let mut k = Kit::new();
    k.run(&args);
    assert_eq!(k.reply(&["PFDEBUG", "ENCODING", "h"]), "+sparse\r\n");
    let mut k = Kit::with_config(Config {
        hll_sparse_max_bytes: 100,
        ..Config::default()
    });
    k.run(&args);
    assert_eq!(k.reply(&["PFDEBUG", "ENCODING", "h"]), "+dense\r\n");
    assert_eq!(k.reply(&["PFCOUNT", "h"]), ":200\r\n");
}

#[test]
fn an_absurd_estimate_shows_as_redis_shows_it() {
    let mut k = Kit::new();
    let mut saturated = format::new_empty();
    format::to_dense(&mut saturated).expect("empty converts");
    for b in &mut saturated[HEADER_BYTES..] {
        *b = 0xff;
    }
    format::invalidate_cache(&mut saturated);
    put_raw(&mut k, "h", &saturated);
    for _ in 0..2 {
        let out = k.run(&["PFCOUNT", "h"]);
        assert_eq!(out.reply_str(), ":-9223372036854775808\r\n");
        // The stored estimate has the stale bit set, so it is computed every time.
        assert_eq!(out.effects.dirty, 1);
    }
}

#[test]
fn pfselftest_is_declared_without_keys() {
    let spec = super::COMMANDS
        .iter()
        .find(|c| c.name == "pfselftest")
        .expect("declared");
    assert!(spec.keys.is_empty());
    assert_eq!(spec.arity, 1);
}
