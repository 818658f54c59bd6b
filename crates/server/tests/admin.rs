//! Administration commands against the real binaries: MONITOR, SLOWLOG, LATENCY, MEMORY,
//! SHUTDOWN, TIME. Where the reply carries times or addresses, the shape is compared with
//! Redis 7.0's and the values are checked against what the test knows.

mod common;

use std::time::{Duration, Instant};

use common::{RawConn, ServerProcess};
use rudis_resp::Value;

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

fn items(v: Value) -> Vec<Value> {
    match v {
        Value::Array(items) | Value::Set(items) => items,
        other => panic!("expected an array, got {other:?}"),
    }
}

fn int(v: &Value) -> i64 {
    match v {
        Value::Int(n) => *n,
        other => panic!("expected an integer, got {other:?}"),
    }
}

fn local_addr(conn: &RawConn) -> String {
    conn.stream.local_addr().expect("local address").to_string()
}

/// Reads what a monitor received until `last` shows up (or the read times out).
fn monitor_lines(monitor: &mut RawConn, last: &str) -> Vec<String> {
    let mut lines = Vec::new();
    while let Ok((v, _)) = monitor.read_reply() {
        let line = text(&v);
        let done = line.ends_with(last);
        lines.push(line);
        if done {
            break;
        }
    }
    lines
}

/// `1700000000.123456 [0 127.0.0.1:1234] "set" "k" "v"` split into its time and the rest.
fn split_monitor_line(line: &str) -> (&str, &str) {
    line.split_once(' ').expect("time, then the rest")
}

#[test]
fn monitor_feed_matches_redis() {
    let ours = ServerProcess::start(&[]);
    let theirs = ServerProcess::start_redis(&[]);
    let mut feeds = Vec::new();
    for srv in [&ours, &theirs] {
        let mut monitor = srv.conn();
        assert_eq!(
            cmd(&mut monitor, &["MONITOR"]),
            Value::Simple(b"OK".to_vec())
        );
        let mut c = srv.conn();
        let me = local_addr(&c);
        for args in [
            &["SET", "k", "a \"quoted\"\r\n\x01 value"][..],
            &["MULTI"],
            &["GET", "k"],
            &["EXEC"],
            &["SELECT", "3"],
            &["SLOWLOG", "LEN"],
            &["DEBUG", "SLEEP", "0"],
            &["NOSUCHCOMMAND"],
            &["GET"],
            &["ECHO", "last"],
        ] {
            cmd(&mut c, args);
        }
        let lines = monitor_lines(&mut monitor, "\"last\"");
        // Arguments appear as the client sent them.
        let rest: Vec<String> = lines
            .iter()
            .map(|l| {
                let (time, rest) = split_monitor_line(l);
                let (secs, micros) = time.split_once('.').expect("seconds.micros");
                assert!(secs.parse::<u64>().is_ok() && micros.len() == 6, "{l}");
                rest.replace(&me, "ME")
            })
            .collect();
        feeds.push(rest);
    }
    assert_eq!(feeds[0], feeds[1]);
    assert_eq!(
        feeds[0],
        [
            "[0 ME] \"SET\" \"k\" \"a \\\"quoted\\\"\\r\\n\\x01 value\"",
            "[0 ME] \"MULTI\"",
            "[0 ME] \"GET\" \"k\"",
            "[0 ME] \"EXEC\"",
            "[3 ME] \"SELECT\" \"3\"",
            "[3 ME] \"ECHO\" \"last\"",
        ]
    );
}

#[test]
fn monitor_client_state() {
    let srv = ServerProcess::start(&[]);
    let mut monitor = srv.conn();
    cmd(&mut monitor, &["MONITOR"]);
    // A monitor may not touch keys, is not told twice, and still gets its own replies.
    assert_eq!(
        cmd(&mut monitor, &["GET", "k"]),
        Value::Error(b"ERR Replica can't interact with the keyspace".to_vec())
    );
    monitor.send(&["MONITOR"]);
    monitor.send(&["PING"]);
    assert_eq!(
        monitor.read_reply().unwrap().0,
        Value::Simple(b"PONG".to_vec())
    );
    // RESET leaves MONITOR mode: nothing more arrives.
    let fed = text(&monitor.read_reply().unwrap().0);
    assert!(fed.ends_with("\"PING\""), "{fed}");
    assert_eq!(
        cmd(&mut monitor, &["RESET"]),
        Value::Simple(b"RESET".to_vec())
    );
    let mut c = srv.conn();
    cmd(&mut c, &["ECHO", "unseen"]);
    assert_eq!(
        cmd(&mut monitor, &["ECHO", "mine"]),
        Value::Bulk(b"mine".to_vec())
    );
    // A monitor that disconnects stops being fed; the server carries on.
    let mut second = srv.conn();
    cmd(&mut second, &["MONITOR"]);
    drop(second);
    for _ in 0..3 {
        assert_eq!(cmd(&mut c, &["PING"]), Value::Simple(b"PONG".to_vec()));
    }
}

#[test]
fn slowlog_entries_carry_client_address_and_name() {
    let args = ["--slowlog-log-slower-than", "0", "--slowlog-max-len", "3"];
    let ours = ServerProcess::start(&args);
    let theirs = ServerProcess::start_redis(&args);
    let mut shapes = Vec::new();
    for srv in [&ours, &theirs] {
        let mut c = srv.conn();
        cmd(&mut c, &["HELLO", "2", "SETNAME", "tester"]);
        cmd(&mut c, &["SLOWLOG", "RESET"]);
        let long_arg = "x".repeat(200);
        cmd(&mut c, &["ECHO", &long_arg]);
        let mut many = vec!["MGET"];
        many.extend(std::iter::repeat_n("k", 40));
        cmd(&mut c, &many);
        let entries = items(cmd(&mut c, &["SLOWLOG", "GET", "-1"]));
        // Newest first; at most slowlog-max-len entries; SLOWLOG GET itself not yet logged.
        assert_eq!(entries.len(), 3);
        let newest = items(entries[0].clone());
        assert_eq!(newest.len(), 6);
        let logged_args = items(newest[3].clone());
        assert_eq!(logged_args.len(), 32);
        assert_eq!(text(&logged_args[31]), "... (10 more arguments)");
        assert_eq!(text(&newest[4]), local_addr(&c));
        assert_eq!(text(&newest[5]), "tester");
        let echo = items(items(entries[1].clone())[3].clone());
        assert_eq!(
            text(&echo[1]),
            format!("{}... (72 more bytes)", "x".repeat(128))
        );
        let ids: Vec<i64> = entries.iter().map(|e| int(&items(e.clone())[0])).collect();
        assert!(ids[0] > ids[1] && ids[1] > ids[2]);
        assert_eq!(int(&cmd(&mut c, &["SLOWLOG", "LEN"])), 3);
        assert_eq!(items(cmd(&mut c, &["SLOWLOG", "GET", "1"])).len(), 1);
        assert_eq!(
            cmd(&mut c, &["SLOWLOG", "RESET"]),
            Value::Simple(b"OK".to_vec())
        );
        // The RESET itself is logged after it ran.
        assert_eq!(int(&cmd(&mut c, &["SLOWLOG", "LEN"])), 1);
        shapes.push(cmd(&mut c, &["SLOWLOG", "GET", "x"]));
    }
    assert_eq!(shapes[0], shapes[1]);
}

#[test]
fn latency_monitor_and_histograms() {
    let ours = ServerProcess::start(&[
        "--enable-debug-command",
        "yes",
        "--latency-monitor-threshold",
        "50",
    ]);
    let mut c = ours.conn();
    assert_eq!(int(&cmd(&mut c, &["LATENCY", "RESET"])), 0);
    cmd(&mut c, &["DEBUG", "SLEEP", "0.1"]);
    let latest = items(cmd(&mut c, &["LATENCY", "LATEST"]));
    assert_eq!(latest.len(), 1);
    let event = items(latest[0].clone());
    assert_eq!(text(&event[0]), "command");
    assert!(int(&event[2]) >= 100 && int(&event[3]) >= 100, "{event:?}");
    let history = items(cmd(&mut c, &["LATENCY", "HISTORY", "command"]));
    assert_eq!(history.len(), 1);
    assert!(items(cmd(&mut c, &["LATENCY", "HISTORY", "nosuch"])).is_empty());
    let graph = text(&cmd(&mut c, &["LATENCY", "GRAPH", "command"]));
    assert!(graph.starts_with("command - high "), "{graph}");
    assert_eq!(
        cmd(&mut c, &["LATENCY", "GRAPH", "nosuch"]),
        Value::Error(b"ERR No samples available for event 'nosuch'".to_vec())
    );
    assert!(text(&cmd(&mut c, &["LATENCY", "DOCTOR"])).contains("1. command: 1 latency spikes"));
    assert_eq!(int(&cmd(&mut c, &["LATENCY", "RESET", "COMMAND"])), 1);
    assert!(items(cmd(&mut c, &["LATENCY", "LATEST"])).is_empty());

    // Histograms: one entry per command that ran, with cumulative counts.
    cmd(&mut c, &["ECHO", "a"]);
    cmd(&mut c, &["ECHO", "b"]);
    let h = items(cmd(
        &mut c,
        &["LATENCY", "HISTOGRAM", "echo", "nosuch", "slowlog"],
    ));
    assert_eq!(h.len(), 2, "only echo has data: {h:?}");
    assert_eq!(text(&h[0]), "echo");
    let stats = items(h[1].clone());
    assert_eq!(text(&stats[0]), "calls");
    assert_eq!(int(&stats[1]), 2);
    let buckets = items(stats[3].clone());
    assert_eq!(int(buckets.last().expect("a bucket")), 2, "cumulative");
    cmd(&mut c, &["SLOWLOG", "LEN"]);
    let h = items(cmd(&mut c, &["LATENCY", "HISTOGRAM", "slowlog"]));
    assert_eq!(text(&h[0]), "slowlog|len");
}

#[test]
fn memory_subcommands() {
    let ours = ServerProcess::start(&[]);
    let theirs = ServerProcess::start_redis(&[]);
    let mut stat_names = Vec::new();
    for (n, srv) in [&ours, &theirs].into_iter().enumerate() {
        let mut c = srv.conn();
        cmd(&mut c, &["SET", "small", "v"]);
        cmd(&mut c, &["SET", "big", &"v".repeat(1000)]);
        let small = int(&cmd(&mut c, &["MEMORY", "USAGE", "small"]));
        let big = int(&cmd(&mut c, &["MEMORY", "USAGE", "big", "SAMPLES", "0"]));
        assert!(small > 0 && big > small + 900, "{small} {big}");
        assert_eq!(cmd(&mut c, &["MEMORY", "USAGE", "missing"]), Value::Nil);
        let stats = items(cmd(&mut c, &["MEMORY", "STATS"]));
        let names: Vec<String> = stats.iter().step_by(2).map(text).collect();
        let at = |name: &str| &stats[2 * names.iter().position(|n| n == name).unwrap() + 1];
        assert_eq!(int(at("keys.count")), 2);
        assert!(int(at("total.allocated")) > 0);
        if n == 0 {
            // Redis raises its peak from the cron, so only ours is never behind.
            assert!(int(at("peak.allocated")) >= int(at("total.allocated")));
        }
        stat_names.push(names);
        assert_eq!(
            cmd(&mut c, &["MEMORY", "PURGE"]),
            Value::Simple(b"OK".to_vec())
        );
        assert!(!text(&cmd(&mut c, &["MEMORY", "DOCTOR"])).is_empty());
        assert!(text(&cmd(&mut c, &["MEMORY", "MALLOC-STATS"])).len() > 100);
    }
    assert_eq!(stat_names[0], stat_names[1]);
}

#[test]
fn time_and_lastsave() {
    let srv = ServerProcess::start(&[]);
    let mut c = srv.conn();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let t = items(cmd(&mut c, &["TIME"]));
    let secs: i64 = text(&t[0]).parse().unwrap();
    let micros: i64 = text(&t[1]).parse().unwrap();
    assert!((secs - now).abs() <= 2 && (0..1_000_000).contains(&micros));
    let lastsave = int(&cmd(&mut c, &["LASTSAVE"]));
    assert!(
        (lastsave - now).abs() <= 60,
        "start-up time: {lastsave} vs {now}"
    );
}

#[test]
fn shutdown_checks_its_options_then_exits() {
    let mut srv = ServerProcess::start(&[]);
    let mut c = srv.conn();
    let err = |s: &str| Value::Error(s.as_bytes().to_vec());
    assert_eq!(
        cmd(&mut c, &["SHUTDOWN", "ABORT"]),
        err("ERR No shutdown in progress.")
    );
    assert_eq!(
        cmd(&mut c, &["SHUTDOWN", "SAVE", "NOSAVE"]),
        err("ERR syntax error")
    );
    assert_eq!(
        cmd(&mut c, &["SHUTDOWN", "ABORT", "NOW"]),
        err("ERR syntax error")
    );
    assert_eq!(cmd(&mut c, &["SHUTDOWN", "LATER"]), err("ERR syntax error"));
    cmd(&mut c, &["MULTI"]);
    assert_eq!(
        cmd(&mut c, &["SHUTDOWN"]),
        err("ERR Command not allowed inside a transaction")
    );
    cmd(&mut c, &["DISCARD"]);
    assert!(srv.is_alive());
    c.send(&["SHUTDOWN", "NOSAVE", "NOW"]);
    assert!(c.is_closed_by_peer(), "no reply: the connection closes");
    let deadline = Instant::now() + Duration::from_secs(10);
    while srv.is_alive() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!srv.is_alive(), "the server exited");
}
