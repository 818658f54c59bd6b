//! Eviction under maxmemory with the real binary: an LRU policy evicts the least recently
//! used keys first and announces each with an `evicted` keyspace event; under LFU, OBJECT
//! FREQ grows with use and the rarely used keys go first; a limit nothing can meet gives -OOM.

mod common;

use common::ServerProcess;
use redis::Commands;

fn used_memory(con: &mut redis::Connection) -> u64 {
    let info: String = redis::cmd("INFO").arg("memory").query(con).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("used_memory in INFO")
}

/// How many of the keys `prefix:i`, for `i` in `range`, still exist.
fn existing(con: &mut redis::Connection, prefix: &str, range: std::ops::Range<usize>) -> usize {
    range
        .filter(|i| con.exists::<_, bool>(format!("{prefix}:{i}")).unwrap())
        .count()
}

/// Fills `count` keys of ~1 KB named `prefix:i`.
fn fill(con: &mut redis::Connection, prefix: &str, count: usize) {
    let value = "x".repeat(1000);
    let mut pipe = redis::pipe();
    for i in 0..count {
        pipe.set(format!("{prefix}:{i}"), &value).ignore();
    }
    let () = pipe.query(con).unwrap();
}

#[test]
fn lru_evicts_the_idle_keys_and_announces_them() {
    let server = ServerProcess::start(&["--maxmemory-policy", "allkeys-lru"]);
    let mut con = server.client();
    let mut events = server.client();
    let () = redis::cmd("CONFIG")
        .arg(&["SET", "notify-keyspace-events", "Ee"])
        .query(&mut con)
        .unwrap();
    let mut pubsub = events.as_pubsub();
    pubsub.psubscribe("__keyevent@0__:evicted").unwrap();

    fill(&mut con, "old", 2000);
    // Let the LRU clock (seconds) move on, then use a second batch.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    fill(&mut con, "new", 2000);
    let used = used_memory(&mut con);
    // Room for roughly three quarters of what is there now.
    let limit = used - 1000 * 1024;
    let () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg(limit)
        .query(&mut con)
        .unwrap();
    let dbsize: u64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert!(dbsize < 4000, "keys were evicted ({dbsize} left)");
    let new_left = existing(&mut con, "new", 0..2000);
    let old_left = existing(&mut con, "old", 0..2000);
    assert!(
        new_left > old_left,
        "recently used keys survive more ({new_left} new vs {old_left} old left)"
    );
    // Every command may evict more while memory is over the limit: read both at one instant.
    let (info, dbsize_now): (String, u64) = redis::pipe()
        .atomic()
        .cmd("INFO")
        .arg("stats")
        .cmd("DBSIZE")
        .query(&mut con)
        .unwrap();
    let evicted: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("evicted_keys:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap();
    assert_eq!(evicted, 4000 - dbsize_now);
    pubsub
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let msg = pubsub.get_message().expect("an evicted event");
    let key: String = msg.get_payload().unwrap();
    assert!(key.starts_with("old:") || key.starts_with("new:"), "{key}");
}

#[test]
fn lfu_counts_use_and_keeps_the_busy_keys() {
    let server = ServerProcess::start(&["--maxmemory-policy", "allkeys-lfu"]);
    let mut con = server.client();
    fill(&mut con, "k", 3000);
    let fresh: i64 = redis::cmd("OBJECT")
        .arg(&["FREQ", "k:0"])
        .query(&mut con)
        .unwrap();
    assert_eq!(fresh, 5, "new keys start at the LFU initial counter");
    let mut pipe = redis::pipe();
    for _ in 0..200 {
        for i in 0..100 {
            pipe.get(format!("k:{i}")).ignore();
        }
    }
    let () = pipe.query(&mut con).unwrap();
    let busy: i64 = redis::cmd("OBJECT")
        .arg(&["FREQ", "k:0"])
        .query(&mut con)
        .unwrap();
    assert!(busy > fresh, "the counter grew with use ({busy})");
    let limit = used_memory(&mut con) - 1500 * 1024;
    let () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg(limit)
        .query(&mut con)
        .unwrap();
    let busy_left = existing(&mut con, "k", 0..100);
    let idle_left = existing(&mut con, "k", 1000..1100);
    assert!(
        busy_left > idle_left,
        "busy keys survive more ({busy_left} vs {idle_left} of 100)"
    );
}

#[test]
fn a_limit_nothing_can_meet_refuses_writes_but_not_reads() {
    let server = ServerProcess::start(&["--maxmemory-policy", "volatile-lru"]);
    let mut con = server.client();
    let () = con.set("persistent", "v").unwrap();
    let () = con.set_ex("volatile", "v", 100).unwrap();
    let () = redis::cmd("CONFIG")
        .arg(&["SET", "maxmemory", "1"])
        .query(&mut con)
        .unwrap();
    let err = con.set::<_, _, ()>("x", "y").unwrap_err();
    assert!(err.to_string().contains("OOM"), "{err}");
    assert!(
        !con.exists::<_, bool>("volatile").unwrap(),
        "the volatile key went first"
    );
    let v: String = con.get("persistent").unwrap();
    assert_eq!(v, "v", "keys without a TTL stay under volatile-lru");
}

/// A refused EXEC ends the transaction and says why, byte for byte as Redis does.
#[test]
fn exec_refused_for_memory_aborts_the_transaction_like_redis() {
    let replies = |server: &ServerProcess| {
        let (mut a, mut b) = (server.conn(), server.conn());
        let mut out = Vec::new();
        for args in [&["MULTI"][..], &["SET", "k", "v"]] {
            a.send(args);
            out.push(a.read_reply().unwrap().1);
        }
        b.command(&["CONFIG", "SET", "maxmemory", "1"]).unwrap();
        for args in [&["EXEC"][..], &["PING"], &["GET", "k"]] {
            a.send(args);
            out.push(a.read_reply().unwrap().1);
        }
        b.command(&["CONFIG", "SET", "maxmemory", "0"]).unwrap();
        out
    };
    let ours = replies(&ServerProcess::start(&[]));
    let theirs = replies(&ServerProcess::start_redis(&[]));
    assert_eq!(
        String::from_utf8_lossy(&ours.concat()),
        String::from_utf8_lossy(&theirs.concat())
    );
    assert!(String::from_utf8_lossy(&ours[2])
        .starts_with("-EXECABORT Transaction discarded because of: OOM"));
}
