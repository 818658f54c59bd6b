//! Integration tests of the keyspace and expiry commands against the real binary: SCAN's
//! guarantee while the tables resize, cross-database commands under concurrency, active
//! expiry without any access, memory reuse after expiry, and redis-cli's SCAN-based tools.

mod common;

use std::collections::HashSet;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::ServerProcess;
use redis::Commands;

/// Sends `cmds` in one pipeline.
fn pipeline_set(con: &mut redis::Connection, keys: impl Iterator<Item = String>, ttl_ms: u64) {
    let mut pipe = redis::pipe();
    for k in keys {
        if ttl_ms > 0 {
            pipe.cmd("SET")
                .arg(&k)
                .arg("v")
                .arg("PX")
                .arg(ttl_ms)
                .ignore();
        } else {
            pipe.cmd("SET").arg(&k).arg("v").ignore();
        }
    }
    let () = pipe.query(con).expect("pipeline");
}

fn dbsize(con: &mut redis::Connection) -> u64 {
    redis::cmd("DBSIZE").query(con).expect("DBSIZE")
}

fn wait_for(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    cond()
}

/// One SCAN call: (next cursor, keys).
fn scan_once(con: &mut redis::Connection, cursor: u64, count: usize) -> (u64, Vec<String>) {
    redis::cmd("SCAN")
        .arg(cursor)
        .arg("COUNT")
        .arg(count)
        .query(con)
        .expect("SCAN")
}

#[test]
fn scan_returns_every_stable_key_while_tables_grow_and_shrink() {
    let server = ServerProcess::start(&[]);
    let mut con = server.client();
    let mut churn = server.client();
    // Keys spread over many slots, and a crowd in one slot whose table will resize.
    let stable: Vec<String> = (0..3000)
        .map(|i| format!("stable:{i}"))
        .chain((0..1500).map(|i| format!("{{hot}}:stable:{i}")))
        .collect();
    pipeline_set(&mut con, stable.iter().cloned(), 0);

    let mut seen = HashSet::new();
    let (mut cursor, mut calls) = (0u64, 0usize);
    loop {
        let (next, keys) = scan_once(&mut con, cursor, 20);
        seen.extend(keys);
        calls += 1;
        // Grow the hot slot's table to 8x, then shrink it back, then again.
        match calls % 60 {
            10 => pipeline_set(
                &mut churn,
                (0..12_000).map(|i| format!("{{hot}}:tmp:{i}")),
                0,
            ),
            40 => {
                let keys: Vec<String> = (0..12_000).map(|i| format!("{{hot}}:tmp:{i}")).collect();
                let _: u64 = churn.del(keys).expect("DEL");
            }
            _ => {}
        }
        cursor = next;
        if cursor == 0 {
            break;
        }
        assert!(calls < 100_000, "the scan never ends");
    }
    let missing: Vec<&String> = stable.iter().filter(|k| !seen.contains(*k)).collect();
    assert!(
        missing.is_empty(),
        "{} stable keys never returned: {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    assert!(
        calls > 100,
        "COUNT 20 over 4500+ keys takes many calls, took {calls}"
    );
}

#[test]
fn scan_match_and_type_agree_with_keys() {
    let server = ServerProcess::start(&[]);
    let mut con = server.client();
    pipeline_set(&mut con, (0..2000).map(|i| format!("user:{i}")), 0);
    pipeline_set(&mut con, (0..500).map(|i| format!("other:{i}")), 0);
    let mut keys: Vec<String> = con.keys("user:1*").expect("KEYS");
    keys.sort();
    let mut scanned: Vec<String> = con
        .scan_match::<_, String>("user:1*")
        .expect("SCAN")
        .collect();
    scanned.sort();
    scanned.dedup();
    assert_eq!(scanned, keys);
    assert_eq!(keys.len(), 1111);
    let typed: Vec<String> = redis::cmd("SCAN")
        .cursor_arg(0)
        .arg("TYPE")
        .arg("hash")
        .clone()
        .iter(&mut con)
        .expect("SCAN TYPE")
        .collect();
    assert!(typed.is_empty());
}

#[test]
fn redis_cli_scan_tool_lists_every_key() {
    let server = ServerProcess::start(&[]);
    let mut con = server.client();
    pipeline_set(&mut con, (0..700).map(|i| format!("k:{i}")), 0);
    let out = server.cli(&["--scan", "--pattern", "k:1*"]);
    let mut listed: Vec<&str> = out.lines().collect();
    listed.sort_unstable();
    listed.dedup();
    let mut expected: Vec<String> = (0..700)
        .map(|i| format!("k:{i}"))
        .filter(|k| k.starts_with("k:1"))
        .collect();
    expected.sort();
    assert_eq!(listed, expected);
}

#[test]
fn keys_expire_actively_without_being_touched() {
    let server = ServerProcess::start(&[]);
    let mut con = server.client();
    for k in ["key1", "key2", "key3"] {
        let _: () = redis::cmd("PSETEX")
            .arg(k)
            .arg(500)
            .arg("a")
            .query(&mut con)
            .unwrap();
    }
    assert_eq!(dbsize(&mut con), 3);
    assert!(
        wait_for(Duration::from_secs(2), || dbsize(&mut con) == 0),
        "keys did not actively expire"
    );
}

#[test]
fn active_expiry_clears_many_keys_in_several_databases() {
    let server = ServerProcess::start(&[]);
    let mut con = server.client();
    for db in [0, 3] {
        let _: () = redis::cmd("SELECT").arg(db).query(&mut con).unwrap();
        pipeline_set(&mut con, (0..20_000).map(|i| format!("vol:{i}")), 300);
        pipeline_set(&mut con, (0..100).map(|i| format!("keep:{i}")), 0);
    }
    for db in [0, 3] {
        let _: () = redis::cmd("SELECT").arg(db).query(&mut con).unwrap();
        assert!(
            wait_for(Duration::from_secs(10), || dbsize(&mut con) == 100),
            "db {db}: {} keys left",
            dbsize(&mut con)
        );
    }
}

#[test]
fn memory_of_expired_keys_is_reused() {
    let server = ServerProcess::start(&[]);
    let mut con = server.client();
    let value = "x".repeat(2000);
    let fill = |con: &mut redis::Connection, prefix: &str, ttl_ms: u64| {
        for chunk in 0..20 {
            let mut pipe = redis::pipe();
            for i in 0..1000 {
                let k = format!("{prefix}:{chunk}:{i}");
                if ttl_ms > 0 {
                    pipe.cmd("SET")
                        .arg(k)
                        .arg(&value)
                        .arg("PX")
                        .arg(ttl_ms)
                        .ignore();
                } else {
                    pipe.cmd("SET").arg(k).arg(&value).ignore();
                }
            }
            let () = pipe.query(con).expect("fill");
        }
    };
    let rss_start = server.rss_bytes();
    fill(&mut con, "first", 500);
    let rss_full = server.rss_bytes();
    assert!(
        rss_full > rss_start + 30_000_000,
        "40 MB of values: {rss_start} -> {rss_full}"
    );
    assert!(
        wait_for(Duration::from_secs(10), || dbsize(&mut con) == 0),
        "keys did not expire"
    );
    fill(&mut con, "second", 0);
    let rss_again = server.rss_bytes();
    // Had the expired values not been freed, a second 40 MB would sit on top of the first.
    assert!(
        rss_again < rss_full + (rss_full - rss_start) / 2,
        "memory not reused: start {rss_start}, full {rss_full}, refilled {rss_again}"
    );
}

#[test]
fn opposite_moves_and_copies_between_databases_do_not_deadlock() {
    // Clients moving and copying the same key names (one slot, through a hash tag) in
    // opposite directions between two databases: locking one database's shard and then the
    // other's in command order would deadlock.
    let server = ServerProcess::start(&[]);
    let (done_tx, done_rx) = mpsc::channel();
    let workers: Vec<_> = [(0, 1), (1, 0), (0, 1), (1, 0), (0, 1), (1, 0)]
        .into_iter()
        .map(|(from, to)| {
            let mut con = server.client();
            let done = done_tx.clone();
            std::thread::spawn(move || {
                let _: () = redis::cmd("SELECT").arg(from).query(&mut con).unwrap();
                for round in 0..150 {
                    let mut pipe = redis::pipe();
                    for i in 0..20 {
                        let key = format!("{{t}}k{}", (round + i) % 3);
                        pipe.cmd("SET").arg(&key).arg(i).ignore();
                        pipe.cmd("MOVE").arg(&key).arg(to).ignore();
                        pipe.cmd("COPY").arg(&key).arg("{t}c").arg("DB").arg(to);
                        pipe.arg("REPLACE").ignore();
                    }
                    let () = pipe.query(&mut con).unwrap();
                }
                done.send(()).unwrap();
            })
        })
        .collect();
    for _ in 0..workers.len() {
        done_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("cross-database commands deadlocked");
    }
    for w in workers {
        w.join().unwrap();
    }
}

#[test]
fn flushall_async_empties_at_once_and_keeps_serving() {
    let server = ServerProcess::start(&[]);
    let mut con = server.client();
    pipeline_set(&mut con, (0..50_000).map(|i| format!("big:{i}")), 0);
    let () = redis::cmd("FLUSHALL").arg("ASYNC").query(&mut con).unwrap();
    assert_eq!(dbsize(&mut con), 0);
    let _: () = con.set("after", "1").unwrap();
    assert_eq!(dbsize(&mut con), 1);
    let keys: Vec<String> = con.keys("*").unwrap();
    assert_eq!(keys, ["after"]);
}

#[test]
fn swapdb_is_seen_by_connected_clients() {
    let server = ServerProcess::start(&[]);
    let mut a = server.client();
    let mut b = server.client();
    let _: () = redis::cmd("SELECT").arg(1).query(&mut b).unwrap();
    let _: () = a.set("k", "from0").unwrap();
    pipeline_set(&mut a, (0..1000).map(|i| format!("n:{i}")), 0);
    let () = redis::cmd("SWAPDB").arg(0).arg(1).query(&mut a).unwrap();
    let v: String = b.get("k").unwrap();
    assert_eq!(v, "from0");
    assert_eq!(dbsize(&mut b), 1001);
    assert_eq!(dbsize(&mut a), 0);
}
