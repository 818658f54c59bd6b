//! DEBUG against the real binaries: protection, the dataset digest (equal to Redis's),
//! DEBUG SLEEP holding the keyspace, OBJECT, POPULATE, and the switches tests rely on.

mod common;

use std::time::{Duration, Instant};

use common::{RawConn, ServerProcess};
use rudis_resp::Value;

const DEBUG_ON: &[&str] = &["--enable-debug-command", "yes"];

fn cmd(conn: &mut RawConn, args: &[&str]) -> Value {
    conn.command(args).expect("reply")
}

fn text(v: &Value) -> String {
    String::from_utf8_lossy(
        v.as_bytes()
            .unwrap_or_else(|| panic!("not a string: {v:?}")),
    )
    .into_owned()
}

fn ok() -> Value {
    Value::Simple(b"OK".to_vec())
}

#[test]
fn debug_is_protected_like_redis() {
    let ours = ServerProcess::start(&[]);
    let theirs = ServerProcess::start_redis(&[]);
    let refused = cmd(&mut ours.conn(), &["DEBUG", "SLEEP", "0"]);
    assert!(refused.is_error());
    assert_eq!(refused, cmd(&mut theirs.conn(), &["DEBUG", "SLEEP", "0"]));
    let local = ServerProcess::start(&["--enable-debug-command", "local"]);
    assert_eq!(cmd(&mut local.conn(), &["DEBUG", "SLEEP", "0"]), ok());
}

/// Writes the same data into a server in the given key order.
fn fill(conn: &mut RawConn, order: &[usize]) {
    for &i in order {
        let (k, v) = (format!("k{i}"), format!("v{i}"));
        if i % 3 == 0 {
            cmd(conn, &["SET", &k, &v, "EX", "1000"]);
        } else {
            cmd(conn, &["SET", &k, &v]);
        }
    }
    cmd(conn, &["SELECT", "5"]);
    cmd(conn, &["DEBUG", "POPULATE", "50", "p", "30"]);
    cmd(conn, &["SELECT", "0"]);
}

#[test]
fn dataset_digest_equals_redis_and_ignores_order() {
    let forward: Vec<usize> = (0..40).collect();
    let backward: Vec<usize> = (0..40).rev().collect();
    let ours = ServerProcess::start(DEBUG_ON);
    let ours_reversed = ServerProcess::start(DEBUG_ON);
    let theirs = ServerProcess::start_redis(DEBUG_ON);
    let zeros = Value::Simple(vec![b'0'; 40]);
    let mut digests = Vec::new();
    for (srv, order) in [
        (&ours, &forward),
        (&ours_reversed, &backward),
        (&theirs, &forward),
    ] {
        let mut c = srv.conn();
        assert_eq!(cmd(&mut c, &["DEBUG", "DIGEST"]), zeros, "empty dataset");
        fill(&mut c, order);
        digests.push(cmd(&mut c, &["DEBUG", "DIGEST"]));
        digests.push(cmd(&mut c, &["DEBUG", "DIGEST-VALUE", "k1", "k3", "nokey"]));
    }
    assert_ne!(digests[0], zeros);
    assert_eq!(digests[0], digests[2], "key order does not matter");
    assert_eq!(digests[0], digests[4], "same digest as Redis");
    assert_eq!(digests[1], digests[5]);
    let mut c = ours.conn();
    cmd(&mut c, &["SET", "k1", "changed"]);
    assert_ne!(cmd(&mut c, &["DEBUG", "DIGEST"]), digests[0]);
}

#[test]
fn debug_sleep_holds_the_keyspace() {
    let srv = ServerProcess::start(DEBUG_ON);
    let mut sleeper = srv.conn();
    let mut other = srv.conn();
    cmd(&mut other, &["SET", "k", "v"]);
    let start = Instant::now();
    sleeper.send(&["DEBUG", "SLEEP", "0.5"]);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(cmd(&mut other, &["GET", "k"]), Value::Bulk(b"v".to_vec()));
    assert!(
        start.elapsed() >= Duration::from_millis(450),
        "GET ran during the sleep: {:?}",
        start.elapsed()
    );
    assert_eq!(sleeper.read_reply().unwrap().0, ok());
}

#[test]
fn debug_object_reports_encoding_and_a_stable_address() {
    let srv = ServerProcess::start(DEBUG_ON);
    let mut c = srv.conn();
    cmd(&mut c, &["SET", "foo", "20000"]);
    let before = text(&cmd(&mut c, &["DEBUG", "OBJECT", "foo"]));
    let fields: Vec<&str> = before.split(' ').collect();
    assert_eq!(fields[0], "Value");
    assert!(fields[1].starts_with("at:0x"), "{before}");
    assert_eq!(
        &fields[2..5],
        ["refcount:1", "encoding:int", "serializedlength:3"]
    );
    assert!(fields[5].starts_with("lru:") && fields[6].starts_with("lru_seconds_idle:"));
    cmd(&mut c, &["INCR", "foo"]);
    let after = text(&cmd(&mut c, &["DEBUG", "OBJECT", "foo"]));
    assert_eq!(
        after.split(' ').nth(1),
        Some(fields[1]),
        "modified in place"
    );
    cmd(&mut c, &["SET", "small", "42"]);
    let shared = text(&cmd(&mut c, &["DEBUG", "OBJECT", "small"]));
    assert!(shared.contains("refcount:2147483647"), "{shared}");
    assert_eq!(
        cmd(&mut c, &["DEBUG", "OBJECT", "nokey"]),
        Value::Error(b"ERR no such key".to_vec())
    );
}

#[test]
fn populate_creates_missing_keys_only() {
    let srv = ServerProcess::start(DEBUG_ON);
    let mut c = srv.conn();
    cmd(&mut c, &["SET", "key:1", "mine"]);
    assert_eq!(cmd(&mut c, &["DEBUG", "POPULATE", "3"]), ok());
    assert_eq!(
        cmd(&mut c, &["GET", "key:0"]),
        Value::Bulk(b"value:0".to_vec())
    );
    assert_eq!(
        cmd(&mut c, &["GET", "key:1"]),
        Value::Bulk(b"mine".to_vec())
    );
    assert_eq!(cmd(&mut c, &["GET", "key:3"]), Value::Nil);
    cmd(&mut c, &["DEBUG", "POPULATE", "2", "sized", "10"]);
    assert_eq!(
        cmd(&mut c, &["GET", "sized:1"]),
        Value::Bulk(b"value:1\0\0\0".to_vec())
    );
    let stats = text(&cmd(&mut c, &["DEBUG", "HTSTATS", "0"]));
    assert!(stats.contains("number of elements: 5\n"), "{stats}");
}

/// True if the key is still stored (expired or not: DEBUG OBJECT does not expire keys).
fn stored(c: &mut RawConn, key: &str) -> bool {
    !cmd(c, &["DEBUG", "OBJECT", key]).is_error()
}

fn wait_until(mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn active_expiry_and_cron_switches() {
    let srv = ServerProcess::start(DEBUG_ON);
    let mut c = srv.conn();
    assert_eq!(cmd(&mut c, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]), ok());
    cmd(&mut c, &["SET", "a", "v", "PX", "50"]);
    std::thread::sleep(Duration::from_millis(400));
    assert!(stored(&mut c, "a"), "not expired actively while disabled");
    cmd(&mut c, &["DEBUG", "SET-ACTIVE-EXPIRE", "1"]);
    assert!(wait_until(|| !stored(&mut c, "a")), "expired once enabled");

    assert_eq!(cmd(&mut c, &["DEBUG", "PAUSE-CRON", "1"]), ok());
    cmd(&mut c, &["SET", "b", "v", "PX", "50"]);
    std::thread::sleep(Duration::from_millis(400));
    assert!(stored(&mut c, "b"), "the paused cron does not expire keys");
    cmd(&mut c, &["DEBUG", "PAUSE-CRON", "0"]);
    assert!(
        wait_until(|| !stored(&mut c, "b")),
        "expired once the cron resumed"
    );
}

#[test]
fn reload_and_the_no_op_subcommands() {
    let srv = ServerProcess::start(DEBUG_ON);
    let mut c = srv.conn();
    cmd(&mut c, &["SET", "k", "v"]);
    assert_eq!(cmd(&mut c, &["DEBUG", "RELOAD"]), ok());
    assert_eq!(cmd(&mut c, &["GET", "k"]), Value::Bulk(b"v".to_vec()));
    assert_eq!(
        cmd(&mut c, &["DEBUG", "RELOAD", "BOGUS"]),
        Value::Error(
            b"ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.".to_vec()
        )
    );
    assert_eq!(cmd(&mut c, &["DEBUG", "JMAP"]), ok());
    assert_eq!(cmd(&mut c, &["DEBUG", "DICT-RESIZING", "1"]), ok());
    assert_eq!(
        cmd(&mut c, &["DEBUG", "STRINGMATCH-LEN"]),
        Value::Simple(b"Apparently Redis did not crash: test passed".to_vec())
    );
}

#[test]
fn debug_segfault_crashes_the_server() {
    let mut srv = ServerProcess::start(DEBUG_ON);
    let mut c = srv.conn();
    c.send(&["DEBUG", "SEGFAULT"]);
    assert!(c.is_closed_by_peer());
    assert!(wait_until(|| !srv.is_alive()));
}
