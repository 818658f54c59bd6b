//! Unit tests of the bit handlers: the effects a client cannot see directly (dirty counts,
//! keyspace events, propagation, encodings) and the size limits.

use crate::cmd::string::testkit::{list_value, resp, Kit};
use crate::config::Config;

const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
const BAD_OFFSET: &str = "-ERR bit offset is not an integer or out of range\r\n";

#[test]
fn setbit_counts_only_real_changes() {
    let mut k = Kit::new();
    let out = k.run(&["SETBIT", "k", "0", "0"]);
    assert_eq!(out.reply_str(), ":0\r\n");
    assert_eq!(out.effects.dirty, 1, "a new key always counts");
    assert_eq!(out.events(), vec![("setbit", b"k".to_vec())]);
    assert_eq!(out.propagated(), vec![resp(&["SETBIT", "k", "0", "0"])]);
    let out = k.run(&["SETBIT", "k", "0", "0"]);
    assert_eq!(out.effects.dirty, 0);
    assert!(out.events().is_empty() && out.propagated().is_empty());
    assert_eq!(k.run(&["SETBIT", "k", "0", "1"]).effects.dirty, 1);
    assert_eq!(k.reply(&["SETBIT", "k", "0", "1"]), ":1\r\n");
    // Growing the string is a change even when the bit stays 0.
    assert_eq!(k.run(&["SETBIT", "k", "90", "0"]).effects.dirty, 1);
    assert_eq!(k.reply(&["STRLEN", "k"]), ":12\r\n");
}

#[test]
fn bit_writes_leave_the_string_raw() {
    let mut k = Kit::new();
    k.run(&["SET", "i", "1"]);
    assert_eq!(k.encoding("i"), Some("int"));
    let out = k.run(&["SETBIT", "i", "7", "1"]);
    assert_eq!(out.effects.dirty, 0, "bit 7 of '1' is already set");
    assert_eq!(k.encoding("i"), Some("raw"));
    k.run(&["SET", "j", "1"]);
    k.run(&["BITFIELD", "j", "SET", "u8", "0", "49"]);
    assert_eq!(k.encoding("j"), Some("raw"));
    k.run(&["SET", "g", "1"]);
    k.run(&["BITFIELD", "g", "GET", "u8", "0"]);
    assert_eq!(k.encoding("g"), Some("int"), "reads change nothing");
}

#[test]
fn bitfield_counts_changed_fields() {
    let mut k = Kit::new();
    // Every write counts while the string is new or growing.
    let out = k.run(&[
        "BITFIELD", "k", "SET", "i5", "0", "0", "SET", "i5", "5", "0",
    ]);
    assert_eq!(out.effects.dirty, 2);
    assert_eq!(out.events(), vec![("setbit", b"k".to_vec())]);
    let out = k.run(&[
        "BITFIELD", "k", "SET", "i5", "0", "0", "SET", "i5", "5", "0",
    ]);
    assert_eq!(out.effects.dirty, 0);
    assert!(out.events().is_empty() && out.propagated().is_empty());
    let out = k.run(&[
        "BITFIELD", "k", "INCRBY", "i5", "0", "1", "INCRBY", "i5", "0", "1",
    ]);
    assert_eq!(out.reply_str(), "*2\r\n:1\r\n:2\r\n");
    assert_eq!(out.effects.dirty, 2);
    assert_eq!(out.events().len(), 1, "one event per command");
    assert_eq!(
        out.propagated(),
        vec![resp(&[
            "BITFIELD", "k", "INCRBY", "i5", "0", "1", "INCRBY", "i5", "0", "1"
        ])]
    );
    assert_eq!(
        k.run(&["BITFIELD", "k", "SET", "i5", "90", "0"])
            .effects
            .dirty,
        1
    );
}

#[test]
fn bitfield_fail_still_creates_the_string_as_redis_does() {
    let mut k = Kit::new();
    let out = k.run(&[
        "BITFIELD", "k", "OVERFLOW", "FAIL", "SET", "u8", "16", "1000",
    ]);
    assert_eq!(out.reply_str(), "*1\r\n$-1\r\n");
    assert_eq!(out.effects.dirty, 0);
    assert!(out.propagated().is_empty());
    assert_eq!(k.reply(&["GET", "k"]), "$3\r\n\0\0\0\r\n");
}

#[test]
fn bitfield_ro_refuses_writes() {
    let mut k = Kit::new();
    k.run(&["SET", "k", "\u{7f}"]);
    let out = k.run(&["BITFIELD_RO", "k", "GET", "u8", "0", "SET", "u8", "0", "1"]);
    assert_eq!(
        out.reply_str(),
        "-ERR BITFIELD_RO only supports the GET subcommand\r\n"
    );
    assert_eq!(out.effects.dirty, 0);
    assert_eq!(
        k.reply(&["BITFIELD_RO", "k", "GET", "i4", "0", "GET", "u4", "4"]),
        "*2\r\n:7\r\n:15\r\n"
    );
    assert_eq!(k.reply(&["BITFIELD_RO", "k"]), "*0\r\n");
}

#[test]
fn bitop_stores_raw_and_deletes_on_empty_result() {
    let mut k = Kit::new();
    k.run(&["SET", "a", "1"]);
    k.run(&["SET", "d", "old"]);
    k.run(&["GETEX", "d", "EX", "100"]);
    let out = k.run(&["BITOP", "OR", "d", "a", "missing"]);
    assert_eq!(out.reply_str(), ":1\r\n");
    // The missing source is read like any key: Redis fires keymiss for it.
    assert_eq!(
        out.events(),
        vec![("keymiss", b"missing".to_vec()), ("set", b"d".to_vec())]
    );
    assert_eq!(out.effects.dirty, 1);
    assert_eq!(k.encoding("d"), Some("raw"));
    assert_eq!(
        k.expire_at_ms("d"),
        None,
        "the destination is replaced, TTL and all"
    );
    let out = k.run(&["BITOP", "AND", "d", "missing"]);
    assert_eq!(out.reply_str(), ":0\r\n");
    assert_eq!(
        out.events(),
        vec![("keymiss", b"missing".to_vec()), ("del", b"d".to_vec())]
    );
    assert_eq!(
        out.propagated(),
        vec![resp(&["BITOP", "AND", "d", "missing"])]
    );
    assert!(k.entry("d").is_none());
    let out = k.run(&["BITOP", "AND", "d", "missing"]);
    assert_eq!(out.effects.dirty, 0);
    assert!(out.propagated().is_empty());
}

#[test]
fn wrong_types_are_refused() {
    let mut k = Kit::new();
    k.put("l", list_value());
    k.run(&["SET", "s", "x"]);
    for args in [
        &["SETBIT", "l", "0", "1"][..],
        &["GETBIT", "l", "0"],
        &["BITCOUNT", "l"],
        &["BITPOS", "l", "1"],
        &["BITOP", "AND", "d", "s", "l"],
        &["BITOP", "NOT", "d", "l"],
        &["BITFIELD", "l", "GET", "u8", "0"],
        &["BITFIELD", "l", "SET", "u8", "0", "1"],
        &["BITFIELD_RO", "l", "GET", "u8", "0"],
    ] {
        assert_eq!(k.reply(args), WRONGTYPE, "{args:?}");
    }
    assert!(k.entry("d").is_none());
    assert_eq!(
        k.reply(&["BITOP", "AND", "l", "s"]),
        ":1\r\n",
        "the destination may be any type"
    );
}

#[test]
fn offsets_past_the_limit_allocate_nothing() {
    let mut k = Kit::with_config(Config {
        proto_max_bulk_len: 1024 * 1024,
        ..Config::default()
    });
    let first_bad_bit = (8 * 1024 * 1024).to_string();
    assert_eq!(k.reply(&["SETBIT", "k", &first_bad_bit, "1"]), BAD_OFFSET);
    assert_eq!(k.reply(&["GETBIT", "k", &first_bad_bit]), BAD_OFFSET);
    assert_eq!(
        k.reply(&["BITFIELD", "k", "SET", "u8", "#1048576", "1"]),
        BAD_OFFSET
    );
    assert_eq!(
        k.reply(&["BITFIELD", "k", "SET", "u8", &first_bad_bit, "1"]),
        BAD_OFFSET
    );
    assert!(k.entry("k").is_none());
    let last_bit = (8 * 1024 * 1024 - 1).to_string();
    assert_eq!(k.reply(&["SETBIT", "k", &last_bit, "1"]), ":0\r\n");
    assert_eq!(k.reply(&["STRLEN", "k"]), ":1048576\r\n");
    // A field may end past the limit if it starts before it, as in Redis.
    let reply = k.reply(&["BITFIELD", "k", "SET", "u8", &last_bit, "255"]);
    assert_eq!(reply, "*1\r\n:128\r\n");
    assert_eq!(k.reply(&["STRLEN", "k"]), ":1048577\r\n");
}

#[test]
fn bitop_results_byte_by_byte() {
    let mut k = Kit::new();
    let a: Vec<u8> = (0..=255).collect();
    let b: Vec<u8> = (0..100).map(|i| (i * 7) as u8).collect();
    k.run_bytes(&[b"SET", b"a", &a]);
    k.run_bytes(&[b"SET", b"b", &b]);
    for (op, f) in [
        ("AND", (|x, y| x & y) as fn(u8, u8) -> u8),
        ("OR", |x, y| x | y),
        ("XOR", |x, y| x ^ y),
    ] {
        k.run(&["BITOP", op, "d", "a", "b"]);
        let want: Vec<u8> = (0..256)
            .map(|i| f(a[i], b.get(i).copied().unwrap_or(0)))
            .collect();
        let entry = k.entry("d").expect("stored");
        assert_eq!(entry.value.as_str(), Some(&want[..]), "{op}");
    }
    k.run(&["BITOP", "NOT", "d", "b"]);
    let want: Vec<u8> = b.iter().map(|x| !x).collect();
    assert_eq!(
        k.entry("d").expect("stored").value.as_str(),
        Some(&want[..])
    );
}
