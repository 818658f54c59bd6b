//! Unit tests of the sorted set handlers: what a client cannot see over the wire (propagated
//! form, keyspace events, dirty counts, blocked-client signals, encodings), plain sets as
//! inputs of the set operations, and WRONGTYPE for every command.

use crate::cmd::string::testkit::{list_value, resp, Kit};
use crate::config::Config;
use crate::keyspace::bytes::CompactBytes;
use crate::keyspace::dict::Dict;
use crate::keyspace::Value;
use crate::types::intset::{self, IntSet, IsHeader};
use crate::types::set::{Member, Set};
use crate::types::thin::SizeHeader;

const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";

fn small_kit() -> Kit {
    Kit::with_config(Config {
        zset_max_listpack_entries: 3,
        zset_max_listpack_value: 5,
        ..Config::default()
    })
}

fn intset_value(members: &[i64]) -> Value {
    let mut v = IsHeader::empty();
    for &m in members {
        intset::insert(&mut v, m);
    }
    Value::Set(Set::Intset(IntSet::from_vec(v)))
}

fn table_set_value(members: &[&str]) -> Value {
    let mut d = Dict::new();
    for m in members {
        d.insert(Member(CompactBytes::new(m.as_bytes())));
    }
    Value::Set(Set::Table(Box::new(d)))
}

/// The reply to ZRANGE key 0 -1 WITHSCORES.
fn contents(k: &mut Kit, key: &str) -> String {
    k.reply(&["ZRANGE", key, "0", "-1", "WITHSCORES"])
}

#[test]
fn zadd_effects_follow_what_changed() {
    let mut k = Kit::new();
    let out = k.run(&["ZADD", "z", "1", "a", "2", "b"]);
    assert_eq!(out.reply_str(), ":2\r\n");
    assert_eq!(out.effects.dirty, 2);
    assert_eq!(out.events(), vec![("zadd", b"z".to_vec())]);
    assert_eq!(
        out.propagated(),
        vec![resp(&["ZADD", "z", "1", "a", "2", "b"])]
    );
    let same = k.run(&["ZADD", "z", "1", "a"]);
    assert_eq!(same.effects.dirty, 0);
    assert!(same.events().is_empty() && same.propagated().is_empty());
    let update = k.run(&["ZADD", "z", "CH", "5", "a"]);
    assert_eq!(update.reply_str(), ":1\r\n");
    assert_eq!(update.effects.dirty, 1);
    let incr = k.run(&["ZINCRBY", "z", "1", "a"]);
    assert_eq!(incr.reply_str(), "$1\r\n6\r\n");
    assert_eq!(incr.events(), vec![("zincr", b"z".to_vec())]);
    assert_eq!(incr.propagated(), vec![resp(&["ZINCRBY", "z", "1", "a"])]);
    k.run(&["ZADD", "z", "inf", "i"]);
    let nan = k.run(&["ZINCRBY", "z", "-inf", "i"]);
    assert_eq!(
        nan.reply_str(),
        "-ERR resulting score is not a number (NaN)\r\n"
    );
    assert_eq!(nan.effects.dirty, 0);
    assert!(nan.propagated().is_empty());
    let skipped = k.run(&["ZADD", "nokey", "XX", "1", "a"]);
    assert_eq!(skipped.reply_str(), ":0\r\n");
    assert!(k.entry("nokey").is_none(), "XX creates nothing");
}

#[test]
fn encodings_switch_where_redis_switches() {
    let mut k = Kit::new();
    let args: Vec<String> = (0..128)
        .flat_map(|i| [i.to_string(), format!("m{i}")])
        .collect();
    let mut cmd = vec!["ZADD", "z"];
    cmd.extend(args.iter().map(String::as_str));
    k.run(&cmd);
    assert_eq!(k.encoding("z"), Some("listpack"));
    k.run(&["ZADD", "z", "1000", "one-more"]);
    assert_eq!(k.encoding("z"), Some("skiplist"));
    k.run(&["ZREMRANGEBYRANK", "z", "0", "100"]);
    assert_eq!(
        k.encoding("z"),
        Some("skiplist"),
        "no conversion back on removal"
    );
    k.run(&["ZRANGESTORE", "small", "z", "0", "9"]);
    assert_eq!(
        k.encoding("small"),
        Some("listpack"),
        "results are sized for a listpack"
    );
    k.run(&["ZUNIONSTORE", "u", "1", "z"]);
    assert_eq!(k.encoding("u"), Some("listpack"));
    let long = "x".repeat(65);
    k.run(&["ZADD", "long", "1", &long]);
    assert_eq!(
        k.encoding("long"),
        Some("skiplist"),
        "a long first member starts a skiplist"
    );
    k.run(&["ZADD", "l2", "1", "a"]);
    k.run(&["ZADD", "l2", "2", &long]);
    assert_eq!(k.encoding("l2"), Some("skiplist"));
    k.run(&["ZRANGESTORE", "l3", "l2", "0", "0"]);
    assert_eq!(k.encoding("l3"), Some("listpack"));
    k.run(&["ZUNIONSTORE", "l4", "1", "l2"]);
    assert_eq!(k.encoding("l4"), Some("skiplist"));
}

#[test]
fn configured_thresholds_apply() {
    let mut k = small_kit();
    k.run(&["ZADD", "z", "1", "a", "2", "b", "3", "c"]);
    assert_eq!(k.encoding("z"), Some("listpack"));
    k.run(&["ZADD", "z", "4", "d"]);
    assert_eq!(k.encoding("z"), Some("skiplist"));
    k.run(&["ZADD", "w", "1", "sixsix"]);
    assert_eq!(k.encoding("w"), Some("skiplist"));
    k.run(&["ZRANGESTORE", "r", "z", "0", "2"]);
    assert_eq!(k.encoding("r"), Some("listpack"));
    k.run(&["ZRANGESTORE", "r", "z", "-inf", "+inf", "BYSCORE"]);
    assert_eq!(k.encoding("r"), Some("skiplist"));
    assert_eq!(contents(&mut k, "r"), contents(&mut k, "z"));
    let zero = Config {
        zset_max_listpack_entries: 0,
        ..Config::default()
    };
    let mut k = Kit::with_config(zero);
    k.run(&["ZADD", "z", "1", "a"]);
    assert_eq!(k.encoding("z"), Some("skiplist"));
}

#[test]
fn removals_delete_emptied_keys() {
    let mut k = Kit::new();
    k.run(&["ZADD", "z", "1", "a", "2", "b"]);
    let out = k.run(&["ZREM", "z", "a", "b", "c"]);
    assert_eq!(out.reply_str(), ":2\r\n");
    assert_eq!(out.effects.dirty, 2);
    assert_eq!(
        out.events(),
        vec![("zrem", b"z".to_vec()), ("del", b"z".to_vec())]
    );
    assert!(k.entry("z").is_none());
    let none = k.run(&["ZREM", "z", "a"]);
    assert!(none.events().is_empty() && none.effects.dirty == 0);
    for (cmd, event, min, max) in [
        ("ZREMRANGEBYRANK", "zremrangebyrank", "0", "-1"),
        ("ZREMRANGEBYSCORE", "zremrangebyscore", "-inf", "+inf"),
        ("ZREMRANGEBYLEX", "zremrangebylex", "-", "+"),
    ] {
        k.run(&["ZADD", "r", "0", "a", "0", "b", "0", "c"]);
        let out = k.run(&[cmd, "r", min, max]);
        assert_eq!(out.reply_str(), ":3\r\n", "{cmd}");
        assert_eq!(out.effects.dirty, 3);
        assert_eq!(
            out.events(),
            vec![(event, b"r".to_vec()), ("del", b"r".to_vec())]
        );
        assert!(k.entry("r").is_none());
    }
}

#[test]
fn pops_propagate_deterministically() {
    let mut k = Kit::new();
    k.run(&["ZADD", "z", "1", "a", "2", "b", "3", "c"]);
    let out = k.run(&["ZPOPMIN", "z", "2"]);
    assert_eq!(
        out.reply_str(),
        "*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n"
    );
    assert_eq!(out.effects.dirty, 2);
    assert_eq!(out.events(), vec![("zpopmin", b"z".to_vec())]);
    assert_eq!(out.propagated(), vec![resp(&["ZPOPMIN", "z", "2"])]);
    k.run(&["ZADD", "y", "5", "x"]);
    let out = k.run(&["ZMPOP", "2", "nokey", "z", "MAX", "COUNT", "10"]);
    assert_eq!(
        out.reply_str(),
        "*2\r\n$1\r\nz\r\n*1\r\n*2\r\n$1\r\nc\r\n$1\r\n3\r\n"
    );
    assert_eq!(out.propagated(), vec![resp(&["ZPOPMAX", "z", "1"])]);
    assert_eq!(
        out.events(),
        vec![("zpopmax", b"z".to_vec()), ("del", b"z".to_vec())]
    );
    let empty = k.run(&["ZPOPMIN", "y", "0"]);
    assert_eq!(empty.reply_str(), "*0\r\n");
    assert!(empty.propagated().is_empty());
    let none = k.run(&["ZMPOP", "1", "nokey", "MIN"]);
    assert_eq!(none.reply_str(), "*-1\r\n");
    assert!(none.propagated().is_empty());
}

#[test]
fn stores_replace_or_delete_the_destination() {
    let mut k = Kit::new();
    k.run(&["ZADD", "a", "1", "x", "2", "y"]);
    k.run(&["ZADD", "b", "10", "y"]);
    k.run(&["SET", "dst", "string", "EX", "100"]);
    for (cmd, event) in [
        (vec!["ZUNIONSTORE", "dst", "2", "a", "b"], "zunionstore"),
        (vec!["ZINTERSTORE", "dst", "2", "a", "b"], "zinterstore"),
        (vec!["ZDIFFSTORE", "dst", "2", "a", "b"], "zdiffstore"),
        (vec!["ZRANGESTORE", "dst", "a", "0", "0"], "zrangestore"),
    ] {
        let out = k.run(&cmd);
        assert_eq!(out.events(), vec![(event, b"dst".to_vec())], "{cmd:?}");
        assert_eq!(out.effects.dirty, 1);
        assert_eq!(out.propagated(), vec![resp(&cmd)]);
        assert_eq!(k.expire_at_ms("dst"), None, "the old TTL goes");
    }
    assert_eq!(contents(&mut k, "dst"), "*2\r\n$1\r\nx\r\n$1\r\n1\r\n");
    let out = k.run(&["ZINTERSTORE", "dst", "2", "a", "nokey"]);
    assert_eq!(out.reply_str(), ":0\r\n");
    // Sources are read lookups: a missing one fires keymiss, as in Redis.
    assert_eq!(
        out.events(),
        vec![("keymiss", b"nokey".to_vec()), ("del", b"dst".to_vec())]
    );
    assert_eq!(out.effects.dirty, 1);
    assert!(k.entry("dst").is_none());
    let again = k.run(&["ZINTERSTORE", "dst", "2", "a", "nokey"]);
    assert_eq!(again.events(), vec![("keymiss", b"nokey".to_vec())]);
    assert_eq!(again.effects.dirty, 0);
    let out = k.run(&["ZRANGESTORE", "dst", "nokey", "0", "-1"]);
    assert_eq!(out.reply_str(), ":0\r\n");
    // The destination may be an input.
    k.run(&["ZUNIONSTORE", "a", "2", "a", "b"]);
    assert_eq!(
        contents(&mut k, "a"),
        "*4\r\n$1\r\nx\r\n$1\r\n1\r\n$1\r\ny\r\n$2\r\n12\r\n"
    );
}

#[test]
fn plain_sets_are_inputs_with_score_one() {
    let mut k = Kit::new();
    k.put("ints", intset_value(&[1, 2, 3]));
    k.put("strs", table_set_value(&["2", "b", "c"]));
    k.run(&["ZADD", "z", "5", "2", "7", "b", "9", "c", "4", "3"]);
    assert_eq!(
        k.reply(&["ZUNION", "2", "ints", "strs", "WITHSCORES"]),
        "*10\r\n$1\r\n1\r\n$1\r\n1\r\n$1\r\n3\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n1\r\n$1\r\nc\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n2\r\n"
    );
    assert_eq!(
        k.reply(&["ZINTER", "3", "ints", "strs", "z", "WITHSCORES"]),
        "*2\r\n$1\r\n2\r\n$1\r\n7\r\n"
    );
    assert_eq!(
        k.reply(&[
            "ZINTER",
            "2",
            "z",
            "ints",
            "WEIGHTS",
            "1",
            "10",
            "AGGREGATE",
            "MAX"
        ]),
        "*2\r\n$1\r\n2\r\n$1\r\n3\r\n"
    );
    assert_eq!(k.reply(&["ZDIFF", "2", "ints", "z"]), "*1\r\n$1\r\n1\r\n");
    assert_eq!(
        k.reply(&["ZDIFF", "2", "z", "strs", "WITHSCORES"]),
        "*2\r\n$1\r\n3\r\n$1\r\n4\r\n"
    );
    assert_eq!(k.reply(&["ZINTERCARD", "2", "strs", "z"]), ":3\r\n");
    assert_eq!(
        k.reply(&["ZINTERCARD", "2", "strs", "ints", "LIMIT", "1"]),
        ":1\r\n"
    );
    k.run(&["ZUNIONSTORE", "d", "1", "ints"]);
    assert_eq!(k.encoding("d"), Some("listpack"));
    assert_eq!(k.reply(&["ZCARD", "d"]), ":3\r\n");
    assert_eq!(
        k.reply(&["ZCARD", "ints"]),
        WRONGTYPE,
        "a set is not a sorted set elsewhere"
    );
}

#[test]
fn every_command_refuses_other_types() {
    let mut k = Kit::new();
    k.put("l", list_value());
    let commands: &[&[&str]] = &[
        &["ZADD", "l", "1", "a"],
        &["ZINCRBY", "l", "1", "a"],
        &["ZREM", "l", "a"],
        &["ZCARD", "l"],
        &["ZCOUNT", "l", "0", "1"],
        &["ZLEXCOUNT", "l", "-", "+"],
        &["ZSCORE", "l", "a"],
        &["ZMSCORE", "l", "a"],
        &["ZRANK", "l", "a"],
        &["ZREVRANK", "l", "a"],
        &["ZRANGE", "l", "0", "1"],
        &["ZRANGESTORE", "d", "l", "0", "1"],
        &["ZRANGEBYSCORE", "l", "0", "1"],
        &["ZREVRANGEBYSCORE", "l", "1", "0"],
        &["ZRANGEBYLEX", "l", "-", "+"],
        &["ZREVRANGEBYLEX", "l", "+", "-"],
        &["ZREVRANGE", "l", "0", "1"],
        &["ZREMRANGEBYRANK", "l", "0", "1"],
        &["ZREMRANGEBYSCORE", "l", "0", "1"],
        &["ZREMRANGEBYLEX", "l", "-", "+"],
        &["ZPOPMIN", "l"],
        &["ZPOPMAX", "l", "2"],
        &["ZMPOP", "1", "l", "MIN"],
        &["ZRANDMEMBER", "l"],
        &["ZRANDMEMBER", "l", "2"],
        &["ZUNION", "1", "l"],
        &["ZINTER", "1", "l"],
        &["ZDIFF", "1", "l"],
        &["ZUNIONSTORE", "d", "1", "l"],
        &["ZINTERSTORE", "d", "1", "l"],
        &["ZDIFFSTORE", "d", "1", "l"],
        &["ZINTERCARD", "1", "l"],
        &["ZSCAN", "l", "0"],
    ];
    for cmd in commands {
        let out = k.run(cmd);
        assert_eq!(out.reply_str(), WRONGTYPE, "{cmd:?}");
        assert_eq!(out.effects.dirty, 0);
    }
    assert!(k.entry("d").is_none());
}

#[test]
fn scan_cursors_and_large_sets() {
    let mut k = Kit::new();
    let args: Vec<String> = (0..500)
        .flat_map(|i| [i.to_string(), format!("m{i}")])
        .collect();
    let mut cmd = vec!["ZADD", "z"];
    cmd.extend(args.iter().map(String::as_str));
    k.run(&cmd);
    let mut seen = std::collections::BTreeSet::new();
    let mut cursor = "0".to_string();
    loop {
        let out = k.run(&["ZSCAN", "z", &cursor, "COUNT", "20"]);
        let text = out.reply_str();
        let lines: Vec<&str> = text.split("\r\n").collect();
        cursor = lines[2].to_string();
        // Pairs of member and score follow the inner array header.
        for pair in lines[4..].chunks(4) {
            if pair.len() == 4 {
                let (member, score) = (pair[1], pair[3]);
                assert_eq!(format!("m{score}"), member);
                seen.insert(member.to_string());
            }
        }
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 500);
    assert_eq!(
        k.reply(&["ZSCAN", "z", "0", "MATCH", "m42", "COUNT", "1000"])
            .matches("m42")
            .count(),
        1
    );
    assert_eq!(k.reply(&["ZRANK", "z", "m250"]), ":250\r\n");
    assert_eq!(k.reply(&["ZCOUNT", "z", "(100", "200"]), ":100\r\n");
}

#[test]
fn claimed_counts_allocate_nothing() {
    let mut k = Kit::new();
    k.run(&["ZADD", "z", "1", "a", "2", "b"]);
    let max = i64::MAX.to_string();
    assert_eq!(k.run(&["ZPOPMIN", "z", &max]).effects.dirty, 2);
    k.run(&["ZADD", "z", "1", "a", "2", "b"]);
    let half = (i64::MAX / 2).to_string();
    assert_eq!(
        k.reply(&["ZRANDMEMBER", "z", &half, "WITHSCORES"]),
        "*4\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\na\r\n$1\r\n1\r\n"
    );
    assert_eq!(
        k.reply(&["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "0", &max]),
        "*2\r\n$1\r\na\r\n$1\r\nb\r\n"
    );
    assert_eq!(
        k.reply(&["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", &max, "1"]),
        "*0\r\n"
    );
    assert_eq!(
        k.reply(&["ZMPOP", "1", "z", "MIN", "COUNT", &max])
            .matches('*')
            .count(),
        4
    );
}
