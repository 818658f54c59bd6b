//! Unit tests of the set handlers: the effects a client cannot see directly (propagated form,
//! keyspace events, dirty counts, encodings), and the limits on claimed counts.

use crate::cmd::string::testkit::{list_value, resp, Kit};
use crate::config::Config;

const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";

fn ev(list: &[(&'static str, &str)]) -> Vec<(&'static str, Vec<u8>)> {
    list.iter()
        .map(|(e, k)| (*e, k.as_bytes().to_vec()))
        .collect()
}

fn kit_with_intset_max(n: i64) -> Kit {
    Kit::with_config(Config {
        set_max_intset_entries: n,
        ..Config::default()
    })
}

/// Adds `members` to `key` with one SADD.
fn sadd(k: &mut Kit, key: &str, members: &[String]) {
    let mut args = vec!["SADD", key];
    args.extend(members.iter().map(String::as_str));
    k.run(&args);
}

fn numbers(range: std::ops::Range<i64>) -> Vec<String> {
    range.map(|i| i.to_string()).collect()
}

/// The members of a SREM command in RESP form, after the key.
fn srem_members(cmd: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(cmd);
    let parts: Vec<&str> = text.split("\r\n").collect();
    // *N, $4, SREM, $len, key, then ($len, member) pairs.
    parts[5..]
        .chunks(2)
        .filter(|c| c.len() == 2)
        .map(|c| c[1].to_string())
        .collect()
}

#[test]
fn sadd_counts_new_members_and_switches_encoding() {
    let mut k = kit_with_intset_max(3);
    let out = k.run(&["SADD", "s", "1", "2", "2"]);
    assert_eq!(out.reply_str(), ":2\r\n");
    assert_eq!(out.effects.dirty, 2);
    assert_eq!(out.events(), ev(&[("sadd", "s")]));
    assert_eq!(out.propagated(), vec![resp(&["SADD", "s", "1", "2", "2"])]);
    assert_eq!(k.encoding("s"), Some("intset"));
    let out = k.run(&["SADD", "s", "1"]);
    assert_eq!((out.reply_str().as_str(), out.effects.dirty), (":0\r\n", 0));
    assert!(out.events().is_empty() && out.propagated().is_empty());
    k.run(&["SADD", "s", "3"]);
    assert_eq!(k.encoding("s"), Some("intset"), "at the limit");
    k.run(&["SADD", "s", "4"]);
    assert_eq!(k.encoding("s"), Some("hashtable"), "past the limit");
    k.run(&["SADD", "w", "word"]);
    assert_eq!(k.encoding("w"), Some("hashtable"));
    k.put("l", list_value());
    assert_eq!(k.reply(&["SADD", "l", "x"]), WRONGTYPE);
}

#[test]
fn srem_deletes_the_emptied_key() {
    let mut k = Kit::new();
    k.run(&["SADD", "s", "a", "b"]);
    let out = k.run(&["SREM", "s", "a", "x"]);
    assert_eq!((out.reply_str().as_str(), out.effects.dirty), (":1\r\n", 1));
    assert_eq!(out.events(), ev(&[("srem", "s")]));
    let out = k.run(&["SREM", "s", "b", "b"]);
    assert_eq!(out.reply_str(), ":1\r\n");
    assert_eq!(out.events(), ev(&[("srem", "s"), ("del", "s")]));
    assert!(k.entry("s").is_none());
    let out = k.run(&["SREM", "s", "b"]);
    assert_eq!((out.reply_str().as_str(), out.effects.dirty), (":0\r\n", 0));
}

#[test]
fn spop_propagates_srem_and_deletes_when_empty() {
    let mut k = Kit::new();
    k.run(&["SADD", "s", "only"]);
    let out = k.run(&["SPOP", "s"]);
    assert_eq!(out.reply_str(), "$4\r\nonly\r\n");
    assert_eq!(out.propagated(), vec![resp(&["SREM", "s", "only"])]);
    assert_eq!(out.events(), ev(&[("spop", "s"), ("del", "s")]));
    assert_eq!(out.effects.dirty, 1);
    assert!(k.entry("s").is_none());
    let out = k.run(&["SPOP", "s"]);
    assert_eq!(out.reply_str(), "$-1\r\n");
    assert!(out.propagated().is_empty());
}

#[test]
fn spop_taking_everything_is_a_del() {
    let mut k = Kit::new();
    k.run(&["SADD", "s", "3", "1", "2"]);
    let out = k.run(&["SPOP", "s", "9223372036854775807"]);
    assert_eq!(out.reply_str(), "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n");
    assert_eq!(out.propagated(), vec![resp(&["DEL", "s"])]);
    assert_eq!(out.events(), ev(&[("spop", "s"), ("del", "s")]));
    assert_eq!(out.effects.dirty, 3);
    assert!(k.entry("s").is_none());

    let mut lazy = Kit::with_config(Config {
        lazyfree_lazy_server_del: true,
        ..Config::default()
    });
    lazy.run(&["SADD", "s", "a"]);
    assert_eq!(
        lazy.run(&["SPOP", "s", "1"]).propagated(),
        vec![resp(&["UNLINK", "s"])]
    );
}

#[test]
fn spop_with_count_propagates_the_popped_members_in_batches() {
    let mut k = Kit::new();
    let all = numbers(0..3000);
    sadd(&mut k, "s", &all);
    assert_eq!(k.encoding("s"), Some("hashtable"));
    // 2000 of 3000: the members to keep are picked, the rest popped.
    let out = k.run(&["SPOP", "s", "2000"]);
    assert_eq!(out.effects.dirty, 2000);
    assert_eq!(out.events(), ev(&[("spop", "s")]));
    let props = out.propagated();
    assert_eq!(props.len(), 2, "1024 + 976 members");
    let popped: Vec<String> = props.iter().flat_map(|c| srem_members(c)).collect();
    assert_eq!(popped.len(), 2000);
    let unique: std::collections::HashSet<&String> = popped.iter().collect();
    assert_eq!(unique.len(), 2000);
    for m in popped.iter().take(50) {
        assert_eq!(k.reply(&["SISMEMBER", "s", m]), ":0\r\n");
    }
    assert_eq!(k.reply(&["SCARD", "s"]), ":1000\r\n");
    // The reply lists exactly the propagated members.
    let reply = out.reply_str();
    assert!(reply.starts_with("*2000\r\n"));
    assert!(popped
        .iter()
        .all(|m| reply.contains(&format!("\r\n{m}\r\n"))));
    // Few of many: popped one by one.
    let out = k.run(&["SPOP", "s", "10"]);
    assert_eq!(srem_members(&out.propagated()[0]).len(), 10);
    assert_eq!(k.reply(&["SCARD", "s"]), ":990\r\n");
}

#[test]
fn spop_rebuild_can_return_to_an_intset() {
    let mut k = Kit::new();
    let mut members = numbers(0..100);
    members.push("word".into());
    sadd(&mut k, "s", &members);
    k.run(&["SREM", "s", "word"]);
    assert_eq!(k.encoding("s"), Some("hashtable"));
    k.run(&["SPOP", "s", "95"]);
    assert_eq!(k.encoding("s"), Some("intset"));
    assert_eq!(k.reply(&["SCARD", "s"]), ":5\r\n");
}

#[test]
fn count_arguments_are_checked_before_the_key() {
    let mut k = Kit::new();
    k.put("l", list_value());
    let positive = "-ERR value is out of range, must be positive\r\n";
    assert_eq!(k.reply(&["SPOP", "l", "-1"]), positive);
    assert_eq!(k.reply(&["SPOP", "l", "x"]), positive);
    assert_eq!(k.reply(&["SPOP", "l", "1"]), WRONGTYPE);
    assert_eq!(
        k.reply(&["SRANDMEMBER", "l", "x"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(k.reply(&["SRANDMEMBER", "l", "1"]), WRONGTYPE);
}

#[test]
fn srandmember_never_builds_a_reply_only_claimed() {
    let mut k = Kit::with_config(Config {
        proto_max_bulk_len: 1024 * 1024,
        ..Config::default()
    });
    let too_large = "-ERR SRANDMEMBER reply would exceed proto-max-bulk-len\r\n";
    k.run(&["SADD", "s", "1", "2"]);
    // Refused before anything is written: even the shortest members would not fit.
    assert_eq!(
        k.reply(&["SRANDMEMBER", "s", "-9223372036854775807"]),
        too_large
    );
    assert_eq!(k.reply(&["SRANDMEMBER", "s", "-200000"]), too_large);
    // Refused while writing: long members outgrow the limit, and the partial reply goes.
    let long = "m".repeat(100);
    k.run(&["SADD", "long", &long]);
    assert_eq!(k.reply(&["SRANDMEMBER", "long", "-20000"]), too_large);
    // Within the limit, repeats as asked.
    let reply = k.reply(&["SRANDMEMBER", "s", "-1000"]);
    assert!(reply.starts_with("*1000\r\n"));
    assert_eq!(
        reply.matches("\r\n1\r\n").count() + reply.matches("\r\n2\r\n").count(),
        1000
    );
    // A missing key answers as Redis does, whatever the count.
    assert_eq!(
        k.reply(&["SRANDMEMBER", "nokey", "-9223372036854775807"]),
        "*0\r\n"
    );
    // Large positive counts are bounded by the set.
    assert_eq!(
        k.reply(&["SRANDMEMBER", "s", "9223372036854775807"]),
        "*2\r\n$1\r\n1\r\n$1\r\n2\r\n"
    );
}

#[test]
fn smove_effects() {
    let mut k = Kit::new();
    k.run(&["SADD", "a", "1", "2"]);
    k.run(&["SADD", "b", "2"]);
    let out = k.run(&["SMOVE", "a", "b", "2"]);
    assert_eq!(out.reply_str(), ":1\r\n");
    assert_eq!(out.effects.dirty, 1, "already in the destination");
    assert_eq!(out.events(), ev(&[("srem", "a")]));
    assert_eq!(out.propagated(), vec![resp(&["SMOVE", "a", "b", "2"])]);
    let out = k.run(&["SMOVE", "a", "c", "1"]);
    assert_eq!(out.effects.dirty, 2);
    assert_eq!(
        out.events(),
        ev(&[("srem", "a"), ("del", "a"), ("sadd", "c")])
    );
    assert!(k.entry("a").is_none());
    assert_eq!(k.encoding("c"), Some("intset"));
    k.run(&["SADD", "w", "word"]);
    k.run(&["SMOVE", "w", "c", "word"]);
    assert_eq!(k.encoding("c"), Some("hashtable"));
    let out = k.run(&["SMOVE", "c", "c", "word"]);
    assert_eq!((out.reply_str().as_str(), out.effects.dirty), (":1\r\n", 0));
    k.put("l", list_value());
    assert_eq!(k.reply(&["SMOVE", "c", "l", "word"]), WRONGTYPE);
    assert_eq!(k.reply(&["SMOVE", "l", "c", "word"]), WRONGTYPE);
    assert_eq!(k.reply(&["SMOVE", "nokey", "l", "word"]), ":0\r\n");
    assert_eq!(k.reply(&["SISMEMBER", "c", "word"]), ":1\r\n");
}

#[test]
fn store_commands_replace_or_delete_the_destination() {
    let mut k = Kit::new();
    k.run(&["SADD", "a", "1", "2", "3"]);
    k.run(&["SADD", "b", "2", "3", "4"]);
    k.run(&["SET", "d", "string", "EX", "100"]);
    let out = k.run(&["SINTERSTORE", "d", "a", "b"]);
    assert_eq!(out.reply_str(), ":2\r\n");
    assert_eq!(out.events(), ev(&[("sinterstore", "d")]));
    assert_eq!(out.effects.dirty, 1);
    assert_eq!(
        out.propagated(),
        vec![resp(&["SINTERSTORE", "d", "a", "b"])]
    );
    assert_eq!(
        k.expire_at_ms("d"),
        None,
        "the old TTL goes with the old value"
    );
    assert_eq!(k.encoding("d"), Some("intset"));

    let out = k.run(&["SUNIONSTORE", "d", "a", "b"]);
    assert_eq!(
        (out.reply_str().as_str(), out.events()),
        (":4\r\n", ev(&[("sunionstore", "d")]))
    );
    let out = k.run(&["SDIFFSTORE", "d", "a", "b"]);
    assert_eq!(
        (out.reply_str().as_str(), out.events()),
        (":1\r\n", ev(&[("sdiffstore", "d")]))
    );

    // An empty result deletes the destination, propagated as DEL.
    let out = k.run(&["SINTERSTORE", "d", "a", "nokey"]);
    assert_eq!(out.reply_str(), ":0\r\n");
    // Sources are read as Redis's lookupKeyRead reads them: a missing one fires keymiss.
    assert_eq!(out.events(), ev(&[("keymiss", "nokey"), ("del", "d")]));
    assert_eq!(out.propagated(), vec![resp(&["DEL", "d"])]);
    assert!(k.entry("d").is_none());
    let out = k.run(&["SDIFFSTORE", "d", "a", "a"]);
    assert_eq!(out.reply_str(), ":0\r\n");
    assert!(out.propagated().is_empty() && out.events().is_empty());
    assert_eq!(out.effects.dirty, 0);
    k.put("l", list_value());
    let out = k.run(&["SUNIONSTORE", "d", "a", "l"]);
    assert_eq!(out.reply_str(), WRONGTYPE);
    assert!(k.entry("d").is_none());
}

#[test]
fn sdiff_result_encoding_follows_the_algorithm_redis_picks() {
    let mut k = Kit::new();
    sadd(&mut k, "big", &numbers(0..600));
    sadd(&mut k, "half", &numbers(0..300));
    sadd(&mut k, "tiny1", &numbers(0..3));
    sadd(&mut k, "tiny2", &numbers(3..5));
    // Checking each member of the first set: only the 300 results are added: an intset.
    assert_eq!(k.reply(&["SDIFFSTORE", "d1", "big", "half"]), ":300\r\n");
    assert_eq!(k.encoding("d1"), Some("intset"));
    // Copying the first set then removing: the copy passed 512 members: a hash table.
    assert_eq!(
        k.reply(&["SDIFFSTORE", "d2", "big", "tiny1", "tiny2"]),
        ":595\r\n"
    );
    assert_eq!(k.encoding("d2"), Some("hashtable"));
    sadd(&mut k, "small", &numbers(0..100));
    assert_eq!(
        k.reply(&["SDIFFSTORE", "d3", "big", "tiny1", "small"]),
        ":500\r\n"
    );
    assert_eq!(
        k.encoding("d3"),
        Some("hashtable"),
        "built through 600 members"
    );
}

#[test]
fn sscan_walks_a_table_with_the_cursor() {
    let mut k = Kit::new();
    let members: Vec<String> = (0..200).map(|i| format!("m{i}")).collect();
    sadd(&mut k, "s", &members);
    let mut cursor = "0".to_string();
    let mut seen = std::collections::HashSet::new();
    let mut calls = 0;
    loop {
        let reply = k.reply(&["SSCAN", "s", &cursor, "COUNT", "5"]);
        calls += 1;
        let parts: Vec<&str> = reply.split("\r\n").collect();
        cursor = parts[2].to_string();
        seen.extend(
            parts
                .iter()
                .filter(|p| p.starts_with('m'))
                .map(|p| p.to_string()),
        );
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 200);
    assert!(calls > 10, "several calls: {calls}");
    let reply = k.reply(&["SSCAN", "s", "0", "MATCH", "m1?", "COUNT", "1000"]);
    assert!(reply.starts_with("*2\r\n$1\r\n0\r\n*10\r\n"), "{reply}");
}
