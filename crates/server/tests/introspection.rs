//! Introspection against the real binaries: every command's COMMAND INFO compared with Redis
//! 7.0's, and COMMAND's other forms checked for consistency with each other.

mod common;

use common::{RawConn, ServerProcess};
use rudis_resp::Value;

fn cmd(conn: &mut RawConn, args: &[&str]) -> Value {
    conn.command(args).expect("reply")
}

fn bulk_strings(v: &Value) -> Vec<String> {
    match v {
        Value::Array(items) | Value::Set(items) => items
            .iter()
            .map(|i| String::from_utf8_lossy(i.as_bytes().expect("string")).into_owned())
            .collect(),
        other => panic!("expected an array, got {other:?}"),
    }
}

/// A COMMAND INFO reply with every entry normalized.
fn normalize_reply(v: Value) -> Value {
    match v {
        Value::Array(entries) => Value::Array(entries.into_iter().map(normalize_info).collect()),
        other => other,
    }
}

/// Subcommands come in hash order in Redis; sort them so entries compare.
fn normalize_info(v: Value) -> Value {
    let Value::Array(mut fields) = v else {
        return v;
    };
    if fields.len() == 10 {
        if let Value::Array(subs) = std::mem::replace(&mut fields[9], Value::Nil) {
            let mut subs: Vec<Value> = subs.into_iter().map(normalize_info).collect();
            subs.sort_by_key(|s| format!("{s:?}"));
            fields[9] = Value::Array(subs);
        } else {
            fields[9] = Value::Array(Vec::new());
        }
    }
    Value::Array(fields)
}

/// A compact rendering of a reply for failure messages.
fn show(v: &Value) -> String {
    match v {
        Value::Array(items) | Value::Set(items) => {
            let inner: Vec<String> = items.iter().map(show).collect();
            format!("[{}]", inner.join(" "))
        }
        Value::Int(n) => n.to_string(),
        Value::Nil => "nil".into(),
        other => match other.as_bytes() {
            Some(b) => String::from_utf8_lossy(b).into_owned(),
            None => format!("{other:?}"),
        },
    }
}

/// For every command Rudis has, COMMAND INFO must be what Redis 7.0 says: arity, flags,
/// key range, ACL categories, tips, key specs and subcommands. Declarations made anywhere
/// in the code base are checked here.
#[test]
fn command_info_matches_redis_for_every_command() {
    let ours = ServerProcess::start(&[]);
    let theirs = ServerProcess::start_redis(&[]);
    let (mut a, mut b) = (ours.conn(), theirs.conn());
    let names: Vec<String> = bulk_strings(&cmd(&mut a, &["COMMAND", "LIST"]))
        .into_iter()
        .filter(|n| !n.contains('|'))
        .collect();
    assert!(names.len() >= 10, "only {} commands listed", names.len());
    let mut mismatches = Vec::new();
    for name in &names {
        let ra = normalize_reply(cmd(&mut a, &["COMMAND", "INFO", name]));
        let rb = normalize_reply(cmd(&mut b, &["COMMAND", "INFO", name]));
        if ra != rb {
            mismatches.push(format!(
                "{name}:\n    rudis: {}\n    redis: {}",
                show(&ra),
                show(&rb)
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "COMMAND INFO differs from Redis for {} of {} commands:\n{}",
        mismatches.len(),
        names.len(),
        mismatches.join("\n")
    );
}

#[test]
fn command_forms_agree_with_each_other() {
    let srv = ServerProcess::start(&[]);
    let mut c = srv.conn();
    let Value::Int(count) = cmd(&mut c, &["COMMAND", "COUNT"]) else {
        panic!("COMMAND COUNT is an integer");
    };
    let Value::Array(all) = cmd(&mut c, &["COMMAND"]) else {
        panic!("COMMAND is an array");
    };
    assert_eq!(all.len() as i64, count);
    let listed = bulk_strings(&cmd(&mut c, &["COMMAND", "LIST"]));
    let top: Vec<&String> = listed.iter().filter(|n| !n.contains('|')).collect();
    assert_eq!(top.len() as i64, count);
    assert!(listed.iter().any(|n| n == "command|getkeysandflags"));

    let Value::Array(docs) = cmd(&mut c, &["COMMAND", "DOCS"]) else {
        panic!("COMMAND DOCS is a map (an array in RESP2)");
    };
    assert_eq!(docs.len() as i64, 2 * count);

    let mut slow = bulk_strings(&cmd(
        &mut c,
        &["COMMAND", "LIST", "FILTERBY", "PATTERN", "SLOWLOG*"],
    ));
    slow.sort();
    assert_eq!(
        slow,
        [
            "slowlog",
            "slowlog|get",
            "slowlog|help",
            "slowlog|len",
            "slowlog|reset"
        ]
    );
    let admin = bulk_strings(&cmd(
        &mut c,
        &["COMMAND", "LIST", "FILTERBY", "ACLCAT", "admin"],
    ));
    assert!(admin.iter().any(|n| n == "shutdown"));
    assert!(!admin.iter().any(|n| n == "get"));
    let none = bulk_strings(&cmd(
        &mut c,
        &["COMMAND", "LIST", "FILTERBY", "ACLCAT", "nosuchcategory"],
    ));
    assert!(none.is_empty());
}

#[test]
fn command_info_in_resp3_uses_sets_and_maps() {
    let ours = ServerProcess::start(&[]);
    let theirs = ServerProcess::start_redis(&[]);
    for srv in [&ours, &theirs] {
        let mut c = srv.conn();
        cmd(&mut c, &["HELLO", "3"]);
        c.send(&["COMMAND", "INFO", "get", "memory|usage", "nosuch"]);
        let (_, raw) = c.read_reply().expect("reply");
        let text = String::from_utf8_lossy(&raw).into_owned();
        assert!(text.starts_with("*3\r\n*10\r\n$3\r\nget\r\n:2\r\n~2\r\n+readonly\r\n+fast\r\n"));
        assert!(text.contains("%3\r\n$5\r\nflags\r\n~1\r\n+RO\r\n$12\r\nbegin_search\r\n%2\r\n"));
        assert!(text.ends_with("_\r\n"), "unknown command is a null: {text}");
    }
}

/// The gate keeps a per-connection copy of the slowlog and latency settings; a CONFIG SET
/// must reach it at once, on the connection that made it and on others.
#[test]
fn slowlog_and_latency_settings_apply_to_the_next_command() {
    let server = ServerProcess::start(&[]);
    let mut a = server.conn();
    let mut b = server.conn();
    cmd(&mut b, &["PING"]);
    cmd(&mut a, &["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
    cmd(&mut a, &["SLOWLOG", "RESET"]);
    cmd(&mut a, &["SET", "k", "v"]);
    cmd(&mut b, &["GET", "k"]);
    assert_eq!(cmd(&mut a, &["SLOWLOG", "LEN"]), Value::Int(3));
    cmd(&mut b, &["CONFIG", "SET", "slowlog-log-slower-than", "-1"]);
    cmd(&mut a, &["SLOWLOG", "RESET"]);
    cmd(&mut a, &["GET", "k"]);
    cmd(&mut b, &["GET", "k"]);
    assert_eq!(cmd(&mut a, &["SLOWLOG", "LEN"]), Value::Int(0));
    cmd(&mut a, &["CONFIG", "SET", "latency-tracking", "no"]);
    cmd(&mut a, &["CONFIG", "RESETSTAT"]);
    cmd(&mut b, &["GET", "k"]);
    let info = cmd(&mut a, &["INFO", "latencystats"]);
    let text = String::from_utf8_lossy(info.as_bytes().expect("bulk")).into_owned();
    assert!(!text.contains("latency_percentiles_usec_get"), "{text}");
    cmd(&mut b, &["CONFIG", "SET", "latency-tracking", "yes"]);
    cmd(&mut b, &["GET", "k"]);
    let info = cmd(&mut a, &["INFO", "latencystats"]);
    let text = String::from_utf8_lossy(info.as_bytes().expect("bulk")).into_owned();
    assert!(text.contains("latency_percentiles_usec_get"), "{text}");
}
