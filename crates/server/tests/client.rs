//! CLIENT against a running server, with several connections: what LIST shows of other
//! clients, KILL closing them, PAUSE holding them, REPLY silencing them.

mod common;

use std::time::{Duration, Instant};

use common::{RawConn, ServerProcess};
use rudis_resp::Value;

fn text(v: &Value) -> String {
    String::from_utf8_lossy(v.as_bytes().unwrap_or_default()).into_owned()
}

fn ok(c: &mut RawConn, args: &[&str]) -> Value {
    let v = c.command(args).expect("reply");
    assert!(!v.is_error(), "{args:?}: {v:?}");
    v
}

fn int(c: &mut RawConn, args: &[&str]) -> i64 {
    match ok(c, args) {
        Value::Int(n) => n,
        v => panic!("{args:?}: expected an integer, got {v:?}"),
    }
}

/// `name=value` fields of one CLIENT LIST line.
fn fields(line: &str) -> Vec<(String, String)> {
    line.trim_end()
        .split(' ')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn get<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    &fields.iter().find(|(k, _)| k == name).expect(name).1
}

fn line_of(c: &mut RawConn, id: i64) -> Vec<(String, String)> {
    fields(&text(&ok(c, &["CLIENT", "LIST", "ID", &id.to_string()])))
}

fn info_field(c: &mut RawConn, name: &str) -> String {
    let info = text(&ok(c, &["INFO", "clients"]));
    info.split("\r\n")
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':').map(str::to_string))
        .expect(name)
}

/// Polls until `f` holds (or fails after a few seconds).
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn list_shows_every_field_of_every_client() {
    let srv = ServerProcess::start(&[]);
    let mut me = srv.conn();
    let mut other = srv.conn();
    let other_id = int(&mut other, &["CLIENT", "ID"]);
    ok(&mut other, &["SELECT", "5"]);
    ok(&mut other, &["CLIENT", "SETNAME", "worker"]);
    ok(&mut other, &["CLIENT", "NO-EVICT", "on"]);
    ok(&mut other, &["MULTI"]);
    ok(&mut other, &["SET", "key", "value"]);
    let f = line_of(&mut me, other_id);
    let names: Vec<&str> = f.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "id",
            "addr",
            "laddr",
            "fd",
            "name",
            "age",
            "idle",
            "flags",
            "db",
            "sub",
            "psub",
            "ssub",
            "multi",
            "qbuf",
            "qbuf-free",
            "argv-mem",
            "multi-mem",
            "rbs",
            "rbp",
            "obl",
            "oll",
            "omem",
            "tot-mem",
            "events",
            "cmd",
            "user",
            "redir",
            "resp"
        ]
    );
    assert_eq!(get(&f, "id"), other_id.to_string());
    assert_eq!(get(&f, "name"), "worker");
    assert_eq!(get(&f, "flags"), "xe");
    assert_eq!(get(&f, "db"), "5");
    assert_eq!(get(&f, "multi"), "1");
    // "set" + "key" + "value" plus a pointer per argument.
    assert_eq!(get(&f, "multi-mem"), (11 + 3 * 8).to_string());
    assert_eq!(get(&f, "cmd"), "set");
    assert_eq!(get(&f, "laddr"), format!("127.0.0.1:{}", srv.port));
    let mine = fields(&text(&ok(&mut me, &["CLIENT", "INFO"])));
    assert_eq!(get(&mine, "cmd"), "client|info");
    assert_eq!(get(&mine, "argv-mem"), "10");
    assert_eq!(get(&mine, "flags"), "N");
    assert!(get(&mine, "addr").starts_with("127.0.0.1:"));
    let all = text(&ok(&mut me, &["CLIENT", "LIST", "TYPE", "normal"]));
    assert_eq!(all.lines().count(), 2);
    assert_eq!(
        text(&ok(&mut me, &["CLIENT", "LIST", "TYPE", "pubsub"])),
        ""
    );
}

#[test]
fn kill_closes_the_chosen_connections() {
    let srv = ServerProcess::start(&[]);
    let mut me = srv.conn();
    let mut by_id = srv.conn();
    let mut by_addr = srv.conn();
    let mut by_old_form = srv.conn();
    let id = int(&mut by_id, &["CLIENT", "ID"]);
    assert_eq!(int(&mut me, &["CLIENT", "KILL", "ID", &id.to_string()]), 1);
    assert!(by_id.is_closed_by_peer());
    let addr = get(
        &fields(&text(&ok(&mut by_addr, &["CLIENT", "INFO"]))),
        "addr",
    )
    .to_string();
    assert_eq!(int(&mut me, &["CLIENT", "KILL", "ADDR", &addr]), 1);
    assert!(by_addr.is_closed_by_peer());
    let addr = get(
        &fields(&text(&ok(&mut by_old_form, &["CLIENT", "INFO"]))),
        "addr",
    )
    .to_string();
    assert_eq!(
        ok(&mut me, &["CLIENT", "KILL", &addr]),
        Value::Simple(b"OK".to_vec())
    );
    assert!(by_old_form.is_closed_by_peer());
    // Only the caller is left; SKIPME (default yes) spares it.
    eventually("1 client", || {
        info_field(&mut me, "connected_clients") == "1"
    });
    assert_eq!(int(&mut me, &["CLIENT", "KILL", "TYPE", "normal"]), 0);
    let _a = srv.conn();
    let _b = srv.conn();
    eventually("3 clients", || {
        info_field(&mut me, "connected_clients") == "3"
    });
    assert_eq!(int(&mut me, &["CLIENT", "KILL", "SKIPME", "no"]), 3);
    assert!(
        me.is_closed_by_peer(),
        "the caller is closed after its reply"
    );
}

#[test]
fn kill_maxage_spares_young_clients() {
    let srv = ServerProcess::start(&[]);
    let mut old = srv.conn();
    ok(&mut old, &["PING"]);
    std::thread::sleep(Duration::from_millis(2100));
    let mut young = srv.conn();
    assert_eq!(int(&mut young, &["CLIENT", "KILL", "MAXAGE", "1"]), 1);
    assert!(old.is_closed_by_peer());
    ok(&mut young, &["PING"]);
}

#[test]
fn pause_write_holds_writes_until_unpause() {
    let srv = ServerProcess::start(&[]);
    let mut admin = srv.conn();
    let mut writer = srv.conn();
    let mut reader = srv.conn();
    let writer_id = int(&mut writer, &["CLIENT", "ID"]);
    ok(&mut admin, &["CLIENT", "PAUSE", "60000", "WRITE"]);
    writer.send(&["SET", "k", "v"]);
    // Reads, and commands that cannot write, go through.
    assert_eq!(ok(&mut reader, &["GET", "k"]), Value::Nil);
    ok(&mut reader, &["PING"]);
    eventually("the writer held", || {
        info_field(&mut admin, "blocked_clients") == "1"
    });
    assert_eq!(get(&line_of(&mut admin, writer_id), "flags"), "b");
    ok(&mut admin, &["CLIENT", "UNPAUSE"]);
    let (reply, _) = writer.read_reply().unwrap();
    assert_eq!(reply, Value::Simple(b"OK".to_vec()));
    assert_eq!(text(&ok(&mut reader, &["GET", "k"])), "v");
    assert_eq!(info_field(&mut admin, "blocked_clients"), "0");
}

#[test]
fn pause_write_holds_exec_of_queued_writes_only() {
    let srv = ServerProcess::start(&[]);
    let mut admin = srv.conn();
    let mut reads = srv.conn();
    let mut writes = srv.conn();
    ok(&mut writes, &["MULTI"]);
    ok(&mut writes, &["SET", "k", "v"]);
    ok(&mut admin, &["CLIENT", "PAUSE", "60000", "WRITE"]);
    ok(&mut reads, &["MULTI"]);
    ok(&mut reads, &["GET", "k"]);
    assert_eq!(ok(&mut reads, &["EXEC"]), Value::Array(vec![Value::Nil]));
    writes.send(&["EXEC"]);
    eventually("EXEC held", || {
        info_field(&mut admin, "blocked_clients") == "1"
    });
    ok(&mut admin, &["CLIENT", "UNPAUSE"]);
    let (reply, _) = writes.read_reply().unwrap();
    assert_eq!(reply, Value::Array(vec![Value::Simple(b"OK".to_vec())]));
}

#[test]
fn pause_all_ends_by_itself() {
    let srv = ServerProcess::start(&[]);
    let mut admin = srv.conn();
    let mut other = srv.conn();
    let started = Instant::now();
    ok(&mut admin, &["CLIENT", "PAUSE", "400", "ALL"]);
    ok(&mut other, &["PING"]);
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(350), "{waited:?}");
    assert!(waited < Duration::from_secs(3), "{waited:?}");
}

#[test]
fn killing_a_held_client_closes_it() {
    let srv = ServerProcess::start(&[]);
    let mut admin = srv.conn();
    let mut held = srv.conn();
    let id = int(&mut held, &["CLIENT", "ID"]);
    ok(&mut admin, &["CLIENT", "PAUSE", "60000", "WRITE"]);
    held.send(&["SET", "k", "v"]);
    eventually("held", || info_field(&mut admin, "blocked_clients") == "1");
    assert_eq!(
        int(&mut admin, &["CLIENT", "KILL", "ID", &id.to_string()]),
        1
    );
    assert!(held.is_closed_by_peer());
    ok(&mut admin, &["CLIENT", "UNPAUSE"]);
    assert_eq!(ok(&mut admin, &["GET", "k"]), Value::Nil);
}

#[test]
fn reply_off_skip_and_on() {
    let srv = ServerProcess::start(&[]);
    let mut c = srv.conn();
    c.send(&["CLIENT", "REPLY", "OFF"]);
    c.send(&["PING", "silenced"]);
    c.send(&["SET", "k", "v"]);
    c.send(&["CLIENT", "REPLY", "ON"]);
    assert_eq!(c.read_reply().unwrap().0, Value::Simple(b"OK".to_vec()));
    c.send(&["CLIENT", "REPLY", "SKIP"]);
    c.send(&["PING", "skipped"]);
    c.send(&["PING", "seen"]);
    assert_eq!(text(&c.read_reply().unwrap().0), "seen");
    assert_eq!(text(&ok(&mut c, &["GET", "k"])), "v");
}

#[test]
fn pause_freezes_expiry() {
    let srv = ServerProcess::start(&[]);
    let mut c = srv.conn();
    let expired = |c: &mut RawConn| {
        let info = text(&ok(c, &["INFO", "stats"]));
        info.split("\r\n")
            .find_map(|l| l.strip_prefix("expired_keys:").map(str::to_string))
            .expect("expired_keys")
    };
    ok(&mut c, &["SET", "k", "v", "PX", "100"]);
    ok(&mut c, &["CLIENT", "PAUSE", "60000", "WRITE"]);
    std::thread::sleep(Duration::from_millis(400));
    // Logically expired, but neither lazy nor active expiry deletes it while paused.
    assert_eq!(ok(&mut c, &["GET", "k"]), Value::Nil);
    assert_eq!(expired(&mut c), "0");
    ok(&mut c, &["CLIENT", "UNPAUSE"]);
    assert_eq!(ok(&mut c, &["GET", "k"]), Value::Nil);
    assert_eq!(expired(&mut c), "1");
}
