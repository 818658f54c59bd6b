//! Unit tests of the list handlers: the effects a client cannot see directly (propagated form,
//! keyspace events, dirty counts, ready keys) and the configuration new lists take.

use crate::cmd::string::testkit::{resp, Kit};
use crate::config::Config;
use crate::keyspace::Value;

const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";

fn events(k: &mut Kit, args: &[&str]) -> Vec<(&'static str, String)> {
    k.run(args)
        .events()
        .into_iter()
        .map(|(e, key)| (e, String::from_utf8(key).expect("ascii")))
        .collect()
}

fn ev(list: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    list.iter().map(|(e, k)| (*e, k.to_string())).collect()
}

#[test]
fn pushes_create_signal_and_count() {
    let mut k = Kit::new();
    let out = k.run(&["RPUSH", "l", "a", "b", "c"]);
    assert_eq!(out.reply_str(), ":3\r\n");
    assert_eq!(out.effects.dirty, 3);
    assert_eq!(out.events(), vec![("rpush", b"l".to_vec())]);
    assert_eq!(out.propagated(), vec![resp(&["RPUSH", "l", "a", "b", "c"])]);
    // Pushing to an existing list: nobody can be blocked on it.
    let out = k.run(&["LPUSH", "l", "z"]);
    assert_eq!(out.reply_str(), ":4\r\n");
    assert!(out.effects.ready_keys.is_empty());
    assert_eq!(
        k.reply(&["LRANGE", "l", "0", "-1"]),
        "*4\r\n$1\r\nz\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"
    );
    assert_eq!(k.encoding("l"), Some("quicklist"));
    // The X variants do nothing to a missing key.
    let out = k.run(&["LPUSHX", "none", "a"]);
    assert_eq!(out.reply_str(), ":0\r\n");
    assert_eq!(out.effects.dirty, 0);
    assert!(out.propagated().is_empty() && out.events().is_empty());
    assert_eq!(k.reply(&["RPUSHX", "l", "d", "e"]), ":6\r\n");
    k.put("s", Value::str(b"x"));
    for cmd in ["LPUSH", "RPUSH", "LPUSHX", "RPUSHX"] {
        assert_eq!(k.reply(&[cmd, "s", "a"]), WRONGTYPE);
    }
}

#[test]
fn new_lists_take_the_configured_node_size() {
    let mut k = Kit::with_config(Config {
        list_max_listpack_size: 3,
        list_compress_depth: 1,
        ..Config::default()
    });
    let ten: Vec<String> = (0..10).map(|i| format!("v{i}")).collect();
    let mut args = vec!["RPUSH", "l"];
    args.extend(ten.iter().map(String::as_str));
    k.run(&args);
    let entry = k.entry("l").expect("exists");
    let Value::List(l) = &entry.value else {
        panic!("a list")
    };
    assert_eq!((l.fill(), l.compress_depth(), l.node_count()), (3, 1, 4));
}

#[test]
fn pops_record_redis_effects() {
    let mut k = Kit::new();
    k.run(&["RPUSH", "l", "a", "b", "c"]);
    let out = k.run(&["LPOP", "l"]);
    assert_eq!(out.reply_str(), "$1\r\na\r\n");
    assert_eq!(out.effects.dirty, 1);
    assert_eq!(out.propagated(), vec![resp(&["LPOP", "l"])]);
    // A count beyond the length pops what there is; the command propagates as it came.
    let out = k.run(&["RPOP", "l", "10"]);
    assert_eq!(out.reply_str(), "*2\r\n$1\r\nc\r\n$1\r\nb\r\n");
    assert_eq!(out.effects.dirty, 2);
    assert_eq!(
        out.events(),
        vec![("rpop", b"l".to_vec()), ("del", b"l".to_vec())]
    );
    assert_eq!(out.propagated(), vec![resp(&["RPOP", "l", "10"])]);
    assert!(k.entry("l").is_none());
    assert_eq!(k.reply(&["LPOP", "l"]), "$-1\r\n");
    assert_eq!(k.reply(&["LPOP", "l", "0"]), "*-1\r\n");
    k.run(&["RPUSH", "l", "a"]);
    let out = k.run(&["LPOP", "l", "0"]);
    assert_eq!(out.reply_str(), "*0\r\n");
    assert_eq!(out.effects.dirty, 0);
    assert!(out.events().is_empty());
    assert_eq!(
        k.reply(&["LPOP", "l", "-1"]),
        "-ERR value is out of range, must be positive\r\n"
    );
    assert_eq!(
        k.reply(&["LPOP", "l", "1", "2"]),
        "-ERR wrong number of arguments for 'lpop' command\r\n"
    );
    k.put("s", Value::str(b"x"));
    assert_eq!(k.reply(&["RPOP", "s"]), WRONGTYPE);
    assert_eq!(k.reply(&["RPOP", "s", "0"]), WRONGTYPE);
}

#[test]
fn lmpop_propagates_the_pop_it_did() {
    let mut k = Kit::new();
    k.run(&["RPUSH", "b", "1", "2", "3"]);
    let out = k.run(&["LMPOP", "3", "a", "b", "c", "RIGHT", "COUNT", "5"]);
    assert_eq!(
        out.reply_str(),
        "*2\r\n$1\r\nb\r\n*3\r\n$1\r\n3\r\n$1\r\n2\r\n$1\r\n1\r\n"
    );
    assert_eq!(out.propagated(), vec![resp(&["RPOP", "b", "3"])]);
    assert_eq!(
        out.events(),
        vec![("rpop", b"b".to_vec()), ("del", b"b".to_vec())]
    );
    let out = k.run(&["LMPOP", "1", "b", "LEFT"]);
    assert_eq!(out.reply_str(), "*-1\r\n");
    assert!(out.propagated().is_empty());
    k.run(&["RPUSH", "c", "x", "y"]);
    let out = k.run(&["LMPOP", "2", "a", "c", "LEFT"]);
    assert_eq!(out.propagated(), vec![resp(&["LPOP", "c", "1"])]);
    k.put("s", Value::str(b"x"));
    // A wrong type is an error only when reached.
    assert_eq!(
        k.reply(&["LMPOP", "2", "c", "s", "LEFT"]),
        "*2\r\n$1\r\nc\r\n*1\r\n$1\r\ny\r\n"
    );
    assert_eq!(k.reply(&["LMPOP", "2", "c", "s", "LEFT"]), WRONGTYPE);
}

#[test]
fn moves_record_both_keys() {
    let mut k = Kit::new();
    k.run(&["RPUSH", "src", "a", "b"]);
    let out = k.run(&["LMOVE", "src", "dst", "LEFT", "RIGHT"]);
    assert_eq!(out.reply_str(), "$1\r\na\r\n");
    assert_eq!(out.effects.dirty, 1);
    assert_eq!(
        out.events(),
        vec![("rpush", b"dst".to_vec()), ("lpop", b"src".to_vec())]
    );
    assert_eq!(
        out.propagated(),
        vec![resp(&["LMOVE", "src", "dst", "LEFT", "RIGHT"])]
    );
    assert_eq!(
        events(&mut k, &["RPOPLPUSH", "src", "dst"]),
        ev(&[("lpush", "dst"), ("rpop", "src"), ("del", "src")])
    );
    assert_eq!(
        k.reply(&["LRANGE", "dst", "0", "-1"]),
        "*2\r\n$1\r\nb\r\n$1\r\na\r\n"
    );
    // Rotating one list never deletes it, even with a single element.
    k.run(&["RPUSH", "one", "x"]);
    assert_eq!(
        events(&mut k, &["RPOPLPUSH", "one", "one"]),
        ev(&[("lpush", "one"), ("rpop", "one")])
    );
    assert_eq!(k.reply(&["LRANGE", "one", "0", "-1"]), "*1\r\n$1\r\nx\r\n");
    // Missing source: nothing, whatever the destination holds.
    k.put("s", Value::str(b"x"));
    let out = k.run(&["LMOVE", "none", "s", "LEFT", "LEFT"]);
    assert_eq!(out.reply_str(), "$-1\r\n");
    assert_eq!(out.effects.dirty, 0);
    // A wrong destination type is found before anything moves.
    assert_eq!(k.reply(&["RPOPLPUSH", "dst", "s"]), WRONGTYPE);
    assert_eq!(k.reply(&["LLEN", "dst"]), ":2\r\n");
    assert_eq!(
        k.reply(&["LMOVE", "dst", "x", "UP", "LEFT"]),
        "-ERR syntax error\r\n"
    );
}

#[test]
fn edits_record_effects() {
    let mut k = Kit::new();
    k.run(&["RPUSH", "l", "a", "b", "a", "c", "a"]);
    let out = k.run(&["LREM", "l", "-2", "a"]);
    assert_eq!(out.reply_str(), ":2\r\n");
    assert_eq!(out.effects.dirty, 2);
    assert_eq!(out.events(), vec![("lrem", b"l".to_vec())]);
    let out = k.run(&["LREM", "l", "0", "zz"]);
    assert_eq!((out.reply_str().as_str(), out.effects.dirty), (":0\r\n", 0));
    assert!(out.events().is_empty());
    let out = k.run(&["LSET", "l", "-1", "C"]);
    assert_eq!(
        (out.reply_str().as_str(), out.effects.dirty),
        ("+OK\r\n", 1)
    );
    assert_eq!(out.events(), vec![("lset", b"l".to_vec())]);
    let out = k.run(&["LINSERT", "l", "BEFORE", "C", "x"]);
    assert_eq!(out.reply_str(), ":4\r\n");
    assert_eq!(out.events(), vec![("linsert", b"l".to_vec())]);
    let out = k.run(&["LINSERT", "l", "AFTER", "nope", "x"]);
    assert_eq!(
        (out.reply_str().as_str(), out.effects.dirty),
        (":-1\r\n", 0)
    );
    assert_eq!(
        k.reply(&["LRANGE", "l", "0", "-1"]),
        "*4\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nx\r\n$1\r\nC\r\n"
    );
    // LTRIM always notifies; emptying deletes.
    let out = k.run(&["LTRIM", "l", "0", "-1"]);
    assert_eq!(out.effects.dirty, 0);
    assert_eq!(out.events(), vec![("ltrim", b"l".to_vec())]);
    let out = k.run(&["LTRIM", "l", "1", "2"]);
    assert_eq!(out.effects.dirty, 2);
    assert_eq!(
        k.reply(&["LRANGE", "l", "0", "-1"]),
        "*2\r\n$1\r\nb\r\n$1\r\nx\r\n"
    );
    let out = k.run(&["LTRIM", "l", "5", "1"]);
    assert_eq!(out.effects.dirty, 2);
    assert_eq!(
        out.events(),
        vec![("ltrim", b"l".to_vec()), ("del", b"l".to_vec())]
    );
    assert!(k.entry("l").is_none());
    k.run(&["RPUSH", "m", "a", "a"]);
    assert_eq!(
        events(&mut k, &["LREM", "m", "0", "a"]),
        ev(&[("lrem", "m"), ("del", "m")])
    );
}

#[test]
fn claimed_sizes_allocate_nothing() {
    let mut k = Kit::new();
    k.run(&["RPUSH", "l", "a", "b"]);
    let max = i64::MAX.to_string();
    let min = i64::MIN.to_string();
    assert_eq!(
        k.reply(&["LRANGE", "l", &min, &max]),
        "*2\r\n$1\r\na\r\n$1\r\nb\r\n"
    );
    assert_eq!(k.reply(&["LRANGE", "l", &max, &min]), "*0\r\n");
    assert_eq!(
        k.reply(&["LPOS", "l", "b", "COUNT", &max, "MAXLEN", &max, "RANK", &min]),
        "*1\r\n:1\r\n"
    );
    assert_eq!(k.reply(&["LINDEX", "l", &min]), "$-1\r\n");
    assert_eq!(k.reply(&["LREM", "l", &min, "x"]), ":0\r\n");
    assert_eq!(
        k.reply(&["LMPOP", &max, "l", "LEFT"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        k.reply(&["LMPOP", "1", "l", "LEFT", "COUNT", &max]),
        "*2\r\n$1\r\nl\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n"
    );
}
