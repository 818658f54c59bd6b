//! Unit tests of the hash handlers: what a client cannot see directly (encodings, propagated
//! form, keyspace events, dirty counts) and the limits on client-claimed sizes.

use std::collections::HashSet;

use crate::cmd::string::testkit::{list_value, resp, Kit};
use crate::config::Config;

const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";

fn kit_with(entries: i64, value_bytes: i64) -> Kit {
    Kit::with_config(Config {
        hash_max_listpack_entries: entries,
        hash_max_listpack_value: value_bytes,
        ..Config::default()
    })
}

/// The bulk strings of a flat reply, in order (the cursor of an HSCAN reply included).
fn bulks(reply: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut lines = reply.split("\r\n");
    while let Some(line) = lines.next() {
        if line.starts_with('$') && line != "$-1" {
            out.push(lines.next().unwrap_or_default().to_string());
        }
    }
    out
}

#[test]
fn hset_reports_new_fields_and_records_its_effects() {
    let mut k = Kit::new();
    let out = k.run(&["HSET", "h", "a", "1", "b", "2", "a", "3"]);
    assert_eq!(out.reply_str(), ":2\r\n");
    assert_eq!(out.events(), vec![("hset", b"h".to_vec())]);
    assert_eq!(out.effects.dirty, 3, "every pair counts, as in Redis");
    assert_eq!(
        out.propagated(),
        vec![resp(&["HSET", "h", "a", "1", "b", "2", "a", "3"])]
    );
    assert_eq!(k.encoding("h"), Some("listpack"));
    assert_eq!(k.reply(&["HMSET", "h", "c", "4"]), "+OK\r\n");
    assert_eq!(
        k.reply(&["HGETALL", "h"]),
        "*6\r\n$1\r\na\r\n$1\r\n3\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n4\r\n"
    );
    let odd = k.run(&["HMSET", "h", "a", "1", "b"]);
    assert_eq!(
        odd.reply_str(),
        "-ERR wrong number of arguments for 'hmset' command\r\n"
    );
    assert_eq!(odd.effects.dirty, 0);
}

#[test]
fn encodings_follow_the_configured_limits() {
    let mut k = kit_with(3, 5);
    k.run(&["HSET", "h", "a", "1", "b", "2", "c", "12345"]);
    assert_eq!(k.encoding("h"), Some("listpack"));
    k.run(&["HSET", "h", "d", "4"]);
    assert_eq!(k.encoding("h"), Some("hashtable"));
    k.run(&["HDEL", "h", "a", "b", "c"]);
    assert_eq!(k.encoding("h"), Some("hashtable"), "never back");

    k.run(&["HSET", "v", "a", "123456"]);
    assert_eq!(k.encoding("v"), Some("hashtable"));
    k.run(&["HSETNX", "f", "abcdef", "1"]);
    assert_eq!(k.encoding("f"), Some("hashtable"));
    // HINCRBY's result is checked too: 6 digits exceed 5 bytes.
    k.run(&["HINCRBY", "i", "n", "99999"]);
    assert_eq!(k.encoding("i"), Some("listpack"));
    k.run(&["HINCRBY", "i", "n", "1"]);
    assert_eq!(k.encoding("i"), Some("hashtable"));
    k.run(&["HINCRBYFLOAT", "x", "n", "1.5"]);
    assert_eq!(k.encoding("x"), Some("listpack"));
    k.run(&["HINCRBYFLOAT", "x", "n", "0.001"]);
    assert_eq!(k.encoding("x"), Some("listpack"), "1.501 is 5 bytes");
    k.run(&["HINCRBYFLOAT", "x", "n", "0.0001"]);
    assert_eq!(k.encoding("x"), Some("hashtable"));
    assert_eq!(k.reply(&["HGET", "x", "n"]), "$6\r\n1.5011\r\n");
    // An existing field does not convert HSETNX, whatever the value's length.
    k.run(&["HSET", "nx", "a", "1"]);
    assert_eq!(k.reply(&["HSETNX", "nx", "a", "123456"]), ":0\r\n");
    assert_eq!(k.encoding("nx"), Some("listpack"));
}

#[test]
fn default_limits_are_redis_compiled_in_ones() {
    let mut k = Kit::new();
    let mut args = vec!["HSET".to_string(), "h".to_string()];
    for i in 0..512 {
        args.push(format!("f{i}"));
        args.push("v".repeat(64));
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(k.reply(&refs), ":512\r\n");
    assert_eq!(k.encoding("h"), Some("listpack"));
    k.run(&["HSET", "h", "f512", "v"]);
    assert_eq!(k.encoding("h"), Some("hashtable"));
    k.run(&["HSET", "v", "f", &"v".repeat(65)]);
    assert_eq!(k.encoding("v"), Some("hashtable"));
}

#[test]
fn hsetnx_changes_nothing_when_the_field_exists() {
    let mut k = Kit::new();
    let out = k.run(&["HSETNX", "h", "a", "1"]);
    assert_eq!(out.reply_str(), ":1\r\n");
    assert_eq!(out.events(), vec![("hset", b"h".to_vec())]);
    let out = k.run(&["HSETNX", "h", "a", "2"]);
    assert_eq!(out.reply_str(), ":0\r\n");
    assert!(out.events().is_empty());
    assert_eq!(out.effects.dirty, 0);
    assert!(out.propagated().is_empty());
    assert_eq!(k.reply(&["HGET", "h", "a"]), "$1\r\n1\r\n");
}

#[test]
fn hdel_removes_the_emptied_key_with_a_del_event() {
    let mut k = Kit::new();
    k.run(&["HSET", "h", "a", "1", "b", "2"]);
    let out = k.run(&["HDEL", "h", "x"]);
    assert_eq!(out.reply_str(), ":0\r\n");
    assert!(out.events().is_empty());
    assert_eq!(out.effects.dirty, 0);
    let out = k.run(&["HDEL", "h", "a", "x", "b", "a"]);
    assert_eq!(out.reply_str(), ":2\r\n");
    assert_eq!(
        out.events(),
        vec![("hdel", b"h".to_vec()), ("del", b"h".to_vec())]
    );
    assert_eq!(out.effects.dirty, 2);
    assert_eq!(
        out.propagated(),
        vec![resp(&["HDEL", "h", "a", "x", "b", "a"])]
    );
    assert!(k.entry("h").is_none());
    k.put("l", list_value());
    assert_eq!(k.reply(&["HDEL", "l", "a"]), WRONGTYPE);
}

#[test]
fn increments_record_their_effects_and_fail_without_leaving_keys() {
    let mut k = Kit::new();
    let out = k.run(&["HINCRBY", "h", "n", "5"]);
    assert_eq!(out.reply_str(), ":5\r\n");
    assert_eq!(out.events(), vec![("hincrby", b"h".to_vec())]);
    assert_eq!(out.propagated(), vec![resp(&["HINCRBY", "h", "n", "5"])]);
    let out = k.run(&["HINCRBYFLOAT", "h", "n", "0.1"]);
    assert_eq!(out.reply_str(), "$3\r\n5.1\r\n");
    assert_eq!(out.events(), vec![("hincrbyfloat", b"h".to_vec())]);
    assert_eq!(out.effects.dirty, 1);
    assert_eq!(
        out.propagated(),
        vec![resp(&["HSET", "h", "n", "5.1"])],
        "propagated with the exact result"
    );
    let out = k.run(&["HINCRBY", "h", "n", "1"]);
    assert_eq!(out.reply_str(), "-ERR hash value is not an integer\r\n");
    assert_eq!(out.effects.dirty, 0);
    k.run(&["HSET", "h", "s", "abc"]);
    let out = k.run(&["HINCRBYFLOAT", "h", "s", "1"]);
    assert_eq!(out.reply_str(), "-ERR hash value is not a float\r\n");
    assert!(out.propagated().is_empty());
    for args in [
        &["HINCRBYFLOAT", "new", "f", "inf"][..],
        &["HINCRBYFLOAT", "new", "f", "x"],
        &["HINCRBY", "new", "f", "x"],
    ] {
        let out = k.run(args);
        assert!(out.reply_str().starts_with("-ERR"), "{args:?}");
        assert!(k.entry("new").is_none(), "{args:?} left a key");
    }
    k.put("l", list_value());
    assert_eq!(k.reply(&["HINCRBY", "l", "a", "1"]), WRONGTYPE);
    assert_eq!(k.reply(&["HINCRBYFLOAT", "l", "a", "1"]), WRONGTYPE);
}

#[test]
fn hincrbyfloat_errors_in_redis_order() {
    let mut k = Kit::new();
    k.put("l", list_value());
    // The increment is checked before the key's type.
    assert_eq!(
        k.reply(&["HINCRBYFLOAT", "l", "a", "x"]),
        "-ERR value is not a valid float\r\n"
    );
    assert_eq!(
        k.reply(&["HINCRBYFLOAT", "l", "a", "-inf"]),
        "-ERR value is NaN or Infinity\r\n"
    );
    k.run(&["HSET", "h", "big", "1e4932"]);
    assert_eq!(
        k.reply(&["HINCRBYFLOAT", "h", "big", "1e4932"]),
        "-ERR increment would produce NaN or Infinity\r\n"
    );
}

#[test]
fn hrandfield_negative_counts_are_bounded_by_the_reply_limit() {
    let mut k = Kit::with_config(Config {
        proto_max_bulk_len: 1024 * 1024,
        ..Config::default()
    });
    k.run(&["HSET", "h", "field", "value"]);
    let too_large = "-ERR HRANDFIELD reply would exceed proto-max-bulk-len\r\n";
    // Refused up front: no count this large can fit.
    assert_eq!(
        k.reply(&["HRANDFIELD", "h", "-9223372036854775807"]),
        too_large
    );
    // Refused part way: the fields are longer than the smallest possible pick.
    let out = k.run(&["HRANDFIELD", "h", "-150000", "WITHVALUES"]);
    assert_eq!(out.reply_str(), too_large, "nothing but the error is left");
    let out = k.run(&["HRANDFIELD", "h", "-1000", "WITHVALUES"]);
    assert_eq!(bulks(&out.reply_str()).len(), 2000);
}

#[test]
fn hrandfield_with_values_flattens_pairs_in_resp2() {
    // (RESP3's nested pairs are compared with Redis by the differential script.)
    let mut k = Kit::new();
    k.run(&["HSET", "h", "a", "1"]);
    assert_eq!(
        k.reply(&["HRANDFIELD", "h", "-2", "WITHVALUES"]),
        "*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\na\r\n$1\r\n1\r\n"
    );
    assert_eq!(
        k.reply(&["HRANDFIELD", "h", "-2"]),
        "*2\r\n$1\r\na\r\n$1\r\na\r\n"
    );
    assert_eq!(
        k.reply(&["HRANDFIELD", "h", "5", "WITHVALUES"]),
        "*2\r\n$1\r\na\r\n$1\r\n1\r\n"
    );
    assert_eq!(k.reply(&["HRANDFIELD", "none"]), "$-1\r\n");
    assert_eq!(k.reply(&["HRANDFIELD", "none", "-3"]), "*0\r\n");
}

#[test]
fn hrandfield_distinct_counts_on_both_encodings() {
    for mut k in [Kit::new(), kit_with(4, 64)] {
        let mut args = vec!["HSET".to_string(), "h".to_string()];
        for i in 0..10 {
            args.push(format!("f{i}"));
            args.push(format!("v{i}"));
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        k.run(&refs);
        for count in [2usize, 8, 10, 20] {
            let reply = k.reply(&["HRANDFIELD", "h", &count.to_string(), "WITHVALUES"]);
            let items = bulks(&reply);
            assert_eq!(items.len(), 2 * count.min(10));
            let fields: HashSet<_> = items.chunks(2).map(|p| p[0].clone()).collect();
            assert_eq!(fields.len(), count.min(10), "distinct");
            for pair in items.chunks(2) {
                assert_eq!(pair[1], pair[0].replace('f', "v"), "values match fields");
            }
        }
    }
}

#[test]
fn hscan_walks_a_table_with_the_cursor() {
    let mut k = kit_with(4, 64);
    let mut args = vec!["HSET".to_string(), "h".to_string()];
    for i in 0..300 {
        args.push(format!("f{i}"));
        args.push(i.to_string());
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    k.run(&refs);
    assert_eq!(k.encoding("h"), Some("hashtable"));
    let mut cursor = "0".to_string();
    let mut seen = HashSet::new();
    let mut calls = 0;
    loop {
        let items = bulks(&k.reply(&["HSCAN", "h", &cursor, "MATCH", "f1*"]));
        calls += 1;
        cursor = items[0].clone();
        for pair in items[1..].chunks(2) {
            assert!(pair[0].starts_with("f1"));
            assert_eq!(pair[0][1..], pair[1]);
            seen.insert(pair[0].clone());
        }
        if cursor == "0" {
            break;
        }
    }
    assert!(calls > 1, "a table is scanned in steps");
    assert_eq!(seen.len(), 111, "f1, f10-f19, f100-f199");
}

#[test]
fn hscan_matches_integer_fields_of_a_listpack() {
    let mut k = Kit::new();
    k.run(&["HSET", "h", "10", "a", "x1", "b", "11", "c", "2", "d"]);
    assert_eq!(
        k.reply(&["HSCAN", "h", "7", "MATCH", "1*"]),
        "*2\r\n$1\r\n0\r\n*4\r\n$2\r\n10\r\n$1\r\na\r\n$2\r\n11\r\n$1\r\nc\r\n"
    );
}

#[test]
fn reads_of_other_types_are_wrongtype() {
    let mut k = Kit::new();
    k.put("l", list_value());
    for args in [
        &["HGET", "l", "a"][..],
        &["HMGET", "l", "a"],
        &["HLEN", "l"],
        &["HSTRLEN", "l", "a"],
        &["HEXISTS", "l", "a"],
        &["HKEYS", "l"],
        &["HVALS", "l"],
        &["HGETALL", "l"],
        &["HRANDFIELD", "l"],
        &["HRANDFIELD", "l", "-5"],
        &["HSCAN", "l", "0"],
        &["HSET", "l", "a", "1"],
        &["HSETNX", "l", "a", "1"],
    ] {
        assert_eq!(k.reply(args), WRONGTYPE, "{args:?}");
    }
}
