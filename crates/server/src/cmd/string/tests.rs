//! Unit tests of the string handlers: replies, and the effects a client cannot see directly
//! (propagated form, keyspace events, dirty counts, encodings).

use super::testkit::{list_value, resp, Kit};
use crate::config::Config;

const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
const TOO_BIG: &str = "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n";

fn small_limit_kit() -> Kit {
    Kit::with_config(Config {
        proto_max_bulk_len: 1024 * 1024,
        ..Config::default()
    })
}

#[test]
fn append_creates_then_edits_in_place() {
    let mut k = Kit::new();
    let out = k.run(&["APPEND", "k", "12"]);
    assert_eq!(out.reply_str(), ":2\r\n");
    assert_eq!(out.events(), vec![("append", b"k".to_vec())]);
    assert_eq!(out.effects.dirty, 1);
    assert_eq!(out.propagated(), vec![resp(&["APPEND", "k", "12"])]);
    // A new key is stored as SET would store it.
    assert_eq!(k.encoding("k"), Some("int"));
    assert_eq!(k.reply(&["APPEND", "k", ""]), ":2\r\n");
    assert_eq!(k.encoding("k"), Some("raw"));
    assert_eq!(k.reply(&["APPEND", "k", "34"]), ":4\r\n");
    assert_eq!(k.reply(&["GET", "k"]), "$4\r\n1234\r\n");
    k.put("l", list_value());
    assert_eq!(k.reply(&["APPEND", "l", "x"]), WRONGTYPE);
}

#[test]
fn append_grows_amortized_and_respects_the_limit() {
    let mut k = small_limit_kit();
    let chunk = "x".repeat(1000);
    for _ in 0..1000 {
        k.run(&["APPEND", "k", &chunk]);
    }
    let entry = k.entry("k").expect("exists");
    let crate::keyspace::Value::Str(s) = &entry.value else {
        panic!("a string")
    };
    assert!(s.is_growable(), "appends edit a growable buffer");
    assert_eq!(s.len(), 1_000_000);
    let rest = "y".repeat(1024 * 1024 - 1_000_000);
    assert_eq!(k.reply(&["APPEND", "k", &rest]), ":1048576\r\n");
    let out = k.run(&["APPEND", "k", "z"]);
    assert_eq!(out.reply_str(), TOO_BIG);
    assert_eq!(out.effects.dirty, 0);
    assert_eq!(k.reply(&["STRLEN", "k"]), ":1048576\r\n");
}

#[test]
fn setrange_pads_edits_and_checks_before_growing() {
    let mut k = small_limit_kit();
    assert_eq!(k.reply(&["SETRANGE", "k", "1", "foo"]), ":4\r\n");
    assert_eq!(k.reply(&["GET", "k"]), "$4\r\n\0foo\r\n");
    assert_eq!(k.encoding("k"), Some("raw"));
    let out = k.run(&["SETRANGE", "n", "0", ""]);
    assert_eq!(out.reply_str(), ":0\r\n");
    assert!(k.entry("n").is_none(), "nothing set on a missing key");
    assert!(out.events().is_empty());
    k.run(&["SET", "i", "1234"]);
    let out = k.run(&["SETRANGE", "i", "0", ""]);
    assert_eq!(out.reply_str(), ":4\r\n");
    assert_eq!(out.effects.dirty, 0);
    assert_eq!(
        k.encoding("i"),
        Some("int"),
        "unchanged when nothing is set"
    );
    let out = k.run(&["SETRANGE", "i", "5", "2"]);
    assert_eq!(out.reply_str(), ":6\r\n");
    assert_eq!(out.events(), vec![("setrange", b"i".to_vec())]);
    assert_eq!(k.reply(&["GET", "i"]), "$6\r\n1234\x002\r\n");
    assert_eq!(k.encoding("i"), Some("raw"));
    assert_eq!(
        k.reply(&["SETRANGE", "i", "-1", "x"]),
        "-ERR offset is out of range\r\n"
    );
    assert_eq!(k.reply(&["SETRANGE", "big", "1048576", "x"]), TOO_BIG);
    assert_eq!(k.reply(&["SETRANGE", "i", "1048575", "xy"]), TOO_BIG);
    assert_eq!(
        k.reply(&["SETRANGE", "i", "9223372036854775807", "x"]),
        TOO_BIG
    );
    assert!(k.entry("big").is_none());
    assert_eq!(
        k.reply(&["SETRANGE", "edge", "1048575", "x"]),
        ":1048576\r\n"
    );
    k.put("l", list_value());
    assert_eq!(k.reply(&["SETRANGE", "l", "0", "x"]), WRONGTYPE);
}

#[test]
fn getrange_and_substr() {
    let mut k = Kit::new();
    k.run(&["SET", "k", "Hello World"]);
    for (start, end, want) in [
        ("0", "3", "Hell"),
        ("0", "-1", "Hello World"),
        ("-4", "-1", "orld"),
        ("5", "3", ""),
        ("5", "5000", " World"),
        ("-5000", "10000", "Hello World"),
        ("-1", "-5", ""),
        ("0", "4294967297", "Hello World"),
        ("-9223372036854775808", "0", "H"),
    ] {
        let expected = format!("${}\r\n{}\r\n", want.len(), want);
        assert_eq!(k.reply(&["GETRANGE", "k", start, end]), expected);
        assert_eq!(k.reply(&["SUBSTR", "k", start, end]), expected);
    }
    assert_eq!(k.reply(&["GETRANGE", "missing", "0", "-1"]), "$0\r\n\r\n");
    assert_eq!(
        k.reply(&["GETRANGE", "k", "x", "1"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    k.put("l", list_value());
    assert_eq!(k.reply(&["GETRANGE", "l", "0", "1"]), WRONGTYPE);
    assert_eq!(k.reply(&["STRLEN", "l"]), WRONGTYPE);
    assert_eq!(k.reply(&["STRLEN", "k"]), ":11\r\n");
    assert_eq!(k.reply(&["STRLEN", "missing"]), ":0\r\n");
}

#[test]
fn getdel_propagates_del() {
    let mut k = Kit::new();
    k.run(&["SET", "k", "v"]);
    let out = k.run(&["GETDEL", "k"]);
    assert_eq!(out.reply_str(), "$1\r\nv\r\n");
    assert_eq!(out.propagated(), vec![resp(&["DEL", "k"])]);
    assert_eq!(out.events(), vec![("del", b"k".to_vec())]);
    assert!(k.entry("k").is_none());
    let out = k.run(&["GETDEL", "k"]);
    assert_eq!(out.reply_str(), "$-1\r\n");
    assert!(out.propagated().is_empty());
    k.put("l", list_value());
    assert_eq!(k.reply(&["GETDEL", "l"]), WRONGTYPE);
    assert!(k.entry("l").is_some());
}

#[test]
fn getdel_propagates_unlink_under_lazyfree() {
    let mut k = Kit::with_config(Config {
        lazyfree_lazy_user_del: true,
        ..Config::default()
    });
    k.run(&["SET", "k", "v"]);
    assert_eq!(
        k.run(&["GETDEL", "k"]).propagated(),
        vec![resp(&["UNLINK", "k"])]
    );
}

#[test]
fn getex_sets_expiry_as_pexpireat() {
    let mut k = Kit::new();
    let now = k.now_ms;
    k.run(&["SET", "k", "v"]);
    let out = k.run(&["GETEX", "k", "EX", "10"]);
    assert_eq!(out.reply_str(), "$1\r\nv\r\n");
    let at = (now + 10_000).to_string();
    assert_eq!(out.propagated(), vec![resp(&["PEXPIREAT", "k", &at])]);
    assert_eq!(out.events(), vec![("expire", b"k".to_vec())]);
    assert_eq!(k.expire_at_ms("k"), Some(now + 10_000));
    k.run(&["GETEX", "k", "px", "5", "PX", "20"]);
    assert_eq!(k.expire_at_ms("k"), Some(now + 20));
    k.run(&["GETEX", "k", "EXAT", &(now / 1000 + 100).to_string()]);
    assert_eq!(k.expire_at_ms("k"), Some((now / 1000 + 100) * 1000));
    let out = k.run(&["GETEX", "k", "PERSIST"]);
    assert_eq!(out.propagated(), vec![resp(&["PERSIST", "k"])]);
    assert_eq!(out.events(), vec![("persist", b"k".to_vec())]);
    assert_eq!(k.expire_at_ms("k"), None);
    // Nothing to persist, no option: nothing changes and nothing is propagated.
    for args in [&["GETEX", "k", "PERSIST"][..], &["GETEX", "k"][..]] {
        let out = k.run(args);
        assert_eq!(out.reply_str(), "$1\r\nv\r\n");
        assert!(out.propagated().is_empty() && out.events().is_empty());
    }
}

#[test]
fn getex_past_absolute_time_deletes() {
    let mut k = Kit::new();
    k.run(&["SET", "k", "v"]);
    let past = (k.now_ms - 1).to_string();
    let out = k.run(&["GETEX", "k", "PXAT", &past]);
    assert_eq!(out.reply_str(), "$1\r\nv\r\n");
    assert_eq!(out.propagated(), vec![resp(&["DEL", "k"])]);
    assert_eq!(out.events(), vec![("del", b"k".to_vec())]);
    assert!(k.entry("k").is_none());
}

#[test]
fn getex_errors() {
    let mut k = Kit::new();
    k.run(&["SET", "k", "v"]);
    let syntax = "-ERR syntax error\r\n";
    for args in [
        &["GETEX", "k", "EX"][..],
        &["GETEX", "k", "EX", "1", "PX", "1"],
        &["GETEX", "k", "PERSIST", "EX", "1"],
        &["GETEX", "k", "EX", "1", "PERSIST"],
        &["GETEX", "k", "KEEPTTL"],
        &["GETEX", "missing", "bogus"],
    ] {
        assert_eq!(k.reply(args), syntax, "{args:?}");
    }
    let invalid = "-ERR invalid expire time in 'getex' command\r\n";
    assert_eq!(k.reply(&["GETEX", "k", "EX", "0"]), invalid);
    assert_eq!(k.reply(&["GETEX", "k", "PX", "-1"]), invalid);
    assert_eq!(k.reply(&["GETEX", "k", "EX", "9223372036854775"]), invalid);
    assert_eq!(
        k.reply(&["GETEX", "k", "EX", "x"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    // The key is looked at before the expire time.
    assert_eq!(k.reply(&["GETEX", "missing", "EX", "0"]), "$-1\r\n");
    k.put("l", list_value());
    assert_eq!(k.reply(&["GETEX", "l", "EX", "0"]), WRONGTYPE);
}

#[test]
fn incrbyfloat_propagates_set_keepttl() {
    let mut k = Kit::new();
    let out = k.run(&["INCRBYFLOAT", "f", "10.5"]);
    assert_eq!(out.reply_str(), "$4\r\n10.5\r\n");
    assert_eq!(
        out.propagated(),
        vec![resp(&["SET", "f", "10.5", "KEEPTTL"])]
    );
    assert_eq!(out.events(), vec![("incrbyfloat", b"f".to_vec())]);
    k.run(&["GETEX", "f", "EX", "100"]);
    let out = k.run(&["INCRBYFLOAT", "f", "0.1"]);
    assert_eq!(out.reply_str(), "$4\r\n10.6\r\n");
    assert_eq!(
        out.propagated(),
        vec![resp(&["SET", "f", "10.6", "KEEPTTL"])]
    );
    assert_eq!(k.expire_at_ms("f"), Some(k.now_ms + 100_000), "TTL kept");
    assert_eq!(k.reply(&["INCRBYFLOAT", "f", "-0.6"]), "$2\r\n10\r\n");
    // A float result is stored as text, never as an integer.
    assert_eq!(k.encoding("f"), Some("embstr"));
    k.run(&["INCR", "f"]);
    assert_eq!(k.encoding("f"), Some("int"));
    k.run(&["INCRBYFLOAT", "f", "1"]);
    k.run(&["SET", "f", "12"]);
    assert_eq!(k.encoding("f"), Some("int"));
}

#[test]
fn incrbyfloat_errors() {
    let mut k = Kit::new();
    let not_float = "-ERR value is not a valid float\r\n";
    for bad in [" 11", "11 ", "abc", "nan", ""] {
        k.run_bytes(&[b"SET", b"b", bad.as_bytes()]);
        assert_eq!(k.reply(&["INCRBYFLOAT", "b", "1"]), not_float, "{bad:?}");
        assert_eq!(k.reply(&["INCRBYFLOAT", "new", bad]), not_float, "{bad:?}");
    }
    assert!(k.entry("new").is_none());
    k.run(&["SET", "z", "0"]);
    let out = k.run(&["INCRBYFLOAT", "z", "+inf"]);
    assert_eq!(
        out.reply_str(),
        "-ERR increment would produce NaN or Infinity\r\n"
    );
    assert_eq!(out.effects.dirty, 0);
    k.put("l", list_value());
    assert_eq!(k.reply(&["INCRBYFLOAT", "l", "x"]), WRONGTYPE);
}

#[test]
fn lcs_replies() {
    let mut k = Kit::new();
    k.run(&["MSET", "a", "ohmytext", "b", "mynewtext"]);
    assert_eq!(k.reply(&["LCS", "a", "b"]), "$6\r\nmytext\r\n");
    assert_eq!(k.reply(&["LCS", "a", "b", "LEN"]), ":6\r\n");
    assert_eq!(
        k.reply(&["LCS", "a", "b", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"]),
        "*4\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n$3\r\nlen\r\n:6\r\n"
    );
    assert_eq!(
        k.reply(&["LCS", "a", "b", "IDX"]),
        "*4\r\n$7\r\nmatches\r\n*2\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n*2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n$3\r\nlen\r\n:6\r\n"
    );
    assert_eq!(k.reply(&["LCS", "a", "missing"]), "$0\r\n\r\n");
    assert_eq!(
        k.reply(&["LCS", "a", "b", "LEN", "IDX"]),
        "-ERR If you want both the length and indexes, please just use IDX.\r\n"
    );
    assert_eq!(
        k.reply(&["LCS", "a", "b", "MINMATCHLEN"]),
        "-ERR syntax error\r\n"
    );
    k.put("l", list_value());
    assert_eq!(
        k.reply(&["LCS", "a", "l"]),
        "-ERR The specified keys must contain string values\r\n"
    );
}

#[test]
fn lcs_table_is_bounded_by_the_limit() {
    let mut k = small_limit_kit();
    let long = "a".repeat(600);
    k.run(&["MSET", "a", &long, "b", &long]);
    assert_eq!(
        k.reply(&["LCS", "a", "b", "LEN"]),
        "-ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len\r\n"
    );
}

#[test]
fn creating_a_key_fires_new_before_the_commands_event() {
    let mut k = Kit::new();
    let out = k.run(&["SET", "k", "v"]);
    assert_eq!(
        out.all_events(),
        vec![("new", b"k".to_vec()), ("set", b"k".to_vec())]
    );
    let again = k.run(&["SET", "k", "w"]);
    assert_eq!(again.all_events(), vec![("set", b"k".to_vec())]);
    let pushed = k.run(&["RPUSH", "l", "a"]);
    assert_eq!(
        pushed.all_events(),
        vec![("new", b"l".to_vec()), ("rpush", b"l".to_vec())]
    );
}
