//! DUMP, RESTORE and MIGRATE between real processes: payloads cross between Redis 7.0 and
//! Rudis in both directions for every type and encoding (values compared with DEBUG
//! DIGEST-VALUE), and MIGRATE moves keys from Rudis to Redis, Rudis to Rudis and Redis to
//! Rudis, with Redis's replies for refused keys, missing keys, unreachable and stalled targets
//! and authentication.

mod common;

use std::time::{Duration, Instant};

use common::{cmd, info_field, text, wait_until, RawConn, ServerProcess};
use rudis_resp::Value;

fn must(c: &mut RawConn, args: &[&str]) {
    let r = cmd(c, args);
    assert!(!r.starts_with('-'), "{args:?}: {r}");
}

const DEBUG: [&str; 2] = ["--enable-debug-command", "yes"];
/// Inner list nodes LZF-compressed, small listpacks so big collections change encoding.
const SETTINGS: [&str; 4] = [
    "--list-compress-depth",
    "1",
    "--list-max-listpack-size",
    "16",
];

fn start_rudis() -> ServerProcess {
    ServerProcess::start(&[
        DEBUG[0],
        DEBUG[1],
        SETTINGS[0],
        SETTINGS[1],
        SETTINGS[2],
        SETTINGS[3],
    ])
}

fn start_redis() -> ServerProcess {
    ServerProcess::start_redis(&[
        DEBUG[0],
        DEBUG[1],
        SETTINGS[0],
        SETTINGS[1],
        SETTINGS[2],
        SETTINGS[3],
    ])
}

/// Keys of every type in every encoding Redis 7.0 dumps, with the encoding each must have.
fn fill(c: &mut RawConn) -> Vec<(&'static str, &'static str)> {
    must(c, &["SET", "str:int", "-9223372036854775808"]);
    must(c, &["SET", "str:short", "hello"]);
    must(c, &["SET", "str:lzf", &"abcdefghij".repeat(50)]);
    must(c, &["SET", "str:binary", "\u{0}\u{1}\r\n\u{7f}"]);
    must(
        c,
        &["RPUSH", "list:small", "a", "b", "1", "-2", "4294967296"],
    );
    for i in 0..300 {
        must(c, &["RPUSH", "list:lzf", &format!("{i:0>60}")]);
    }
    must(c, &["RPUSH", "list:plain", &"x".repeat(10_000), "y"]);
    must(c, &["HSET", "hash:small", "f", "v", "n", "1"]);
    for i in 0..600 {
        must(c, &["HSET", "hash:big", &format!("f{i}"), &format!("v{i}")]);
    }
    must(
        c,
        &["SADD", "set:int", "1", "2", "3", "-100000", "5000000000"],
    );
    must(c, &["SADD", "set:str", "a", "b", "c"]);
    for i in 0..600 {
        must(c, &["SADD", "set:bigint", &i.to_string()]);
    }
    must(
        c,
        &["ZADD", "zset:small", "1", "a", "2.5", "b", "-inf", "c"],
    );
    for i in 0..200 {
        must(
            c,
            &["ZADD", "zset:big", &format!("{i}.25"), &format!("m{i}")],
        );
    }
    vec![
        ("str:int", "int"),
        ("str:short", "embstr"),
        ("str:lzf", "raw"),
        ("str:binary", "embstr"),
        ("list:small", "quicklist"),
        ("list:lzf", "quicklist"),
        ("list:plain", "quicklist"),
        ("hash:small", "listpack"),
        ("hash:big", "hashtable"),
        ("set:int", "intset"),
        ("set:str", "hashtable"),
        ("set:bigint", "hashtable"),
        ("zset:small", "listpack"),
        ("zset:big", "skiplist"),
    ]
}

/// DUMP of `key`, as bytes.
fn dump(c: &mut RawConn, key: &str) -> Vec<u8> {
    match c.command(&["DUMP", key]).expect("reply") {
        Value::Bulk(b) => b,
        other => panic!("DUMP {key}: {other:?}"),
    }
}

fn restore(c: &mut RawConn, key: &str, ttl: &str, payload: &[u8], opts: &[&str]) -> String {
    let mut args: Vec<&[u8]> = vec![b"RESTORE", key.as_bytes(), ttl.as_bytes(), payload];
    args.extend(opts.iter().map(|o| o.as_bytes()));
    c.send_bytes(&args);
    text(&c.read_reply().expect("reply").0)
}

/// Every key dumped by `from` restores into `to` with the same value and encoding.
fn cross(from: &mut RawConn, to: &mut RawConn, keys: &[(&str, &str)], direction: &str) {
    for (key, encoding) in keys {
        let payload = dump(from, key);
        assert_eq!(
            restore(to, key, "0", &payload, &[]),
            "OK",
            "{direction} {key}"
        );
        assert_eq!(
            cmd(to, &["DEBUG", "DIGEST-VALUE", key]),
            cmd(from, &["DEBUG", "DIGEST-VALUE", key]),
            "{direction} {key}"
        );
        assert_eq!(
            cmd(to, &["OBJECT", "ENCODING", key]),
            *encoding,
            "{direction} {key}"
        );
    }
    assert_eq!(
        cmd(to, &["DEBUG", "DIGEST"]),
        cmd(from, &["DEBUG", "DIGEST"]),
        "{direction}"
    );
}

#[test]
fn payloads_cross_between_redis_and_rudis_both_ways() {
    let (redis, rudis) = (start_redis(), start_rudis());
    let (mut r, mut o) = (redis.conn(), rudis.conn());
    let keys = fill(&mut r);
    cross(&mut r, &mut o, &keys, "Redis to Rudis");
    let redis2 = start_redis();
    cross(&mut o, &mut redis2.conn(), &keys, "Rudis to Redis");
    // Same data, same encoding: the same bytes (those whose layout is fixed by the data;
    // LZF output may differ between compressors, so without compression).
    must(&mut o, &["CONFIG", "SET", "rdbcompression", "no"]);
    must(&mut r, &["CONFIG", "SET", "rdbcompression", "no"]);
    for key in [
        "str:int",
        "str:short",
        "str:binary",
        "list:small",
        "hash:small",
        "set:int",
        "zset:small",
    ] {
        assert_eq!(dump(&mut o, key), dump(&mut r, key), "DUMP {key}");
    }
}

#[test]
fn restore_options_and_errors_match_redis() {
    let (redis, rudis) = (start_redis(), start_rudis());
    for c in [&mut redis.conn(), &mut rudis.conn()] {
        must(c, &["SET", "k", "v"]);
        let payload = dump(c, "k");
        assert_eq!(
            restore(c, "k", "0", &payload, &[]),
            "-BUSYKEY Target key name already exists."
        );
        assert_eq!(restore(c, "t", "5000", &payload, &[]), "OK");
        let pttl: i64 = cmd(c, &["PTTL", "t"]).parse().unwrap();
        assert!((4000..=5000).contains(&pttl), "{pttl}");
        assert_eq!(restore(c, "big", "2569591501", &payload, &[]), "OK");
        let pttl: i64 = cmd(c, &["PTTL", "big"]).parse().unwrap();
        assert!(pttl > 2_569_591_501 - 3000, "{pttl}");
        assert_eq!(restore(c, "t", "1", &payload, &["REPLACE", "ABSTTL"]), "OK");
        assert_eq!(
            cmd(c, &["EXISTS", "t"]),
            "0",
            "an absolute TTL in the past deletes"
        );
        must(c, &["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"]);
        restore(c, "idle", "0", &payload, &["IDLETIME", "1000"]);
        let idle: i64 = cmd(c, &["OBJECT", "IDLETIME", "idle"]).parse().unwrap();
        assert!((1000..=1010).contains(&idle), "{idle}");
        must(c, &["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"]);
        restore(c, "freq", "0", &payload, &["FREQ", "100"]);
        assert_eq!(cmd(c, &["OBJECT", "FREQ", "freq"]), "100");
        must(c, &["CONFIG", "SET", "maxmemory-policy", "noeviction"]);
        let mut bad = payload.clone();
        bad[1] ^= 0x20;
        assert_eq!(
            restore(c, "x", "0", &bad, &[]),
            "-ERR DUMP payload version or checksum are wrong"
        );
        assert_eq!(
            restore(c, "x", "0", &payload, &["FREQ", "1", "IDLETIME", "1"]),
            "-ERR syntax error"
        );
        must(c, &["DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", "1"]);
        assert_eq!(
            restore(
                c,
                "x",
                "0",
                &[0, 0xc3, 1, 2, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                &[]
            ),
            "-ERR Bad data format"
        );
    }
}

/// Moves every key of `fill` from `source` to `target` with MIGRATE, checks the values arrived
/// with their TTLs, and checks the cached connection.
fn migrate_everything(source: &ServerProcess, target: &ServerProcess) {
    let (mut s, mut t) = (source.conn(), target.conn());
    let keys = fill(&mut s);
    must(&mut s, &["EXPIRE", "str:short", "100"]);
    let digests: Vec<String> = keys
        .iter()
        .map(|(k, _)| cmd(&mut s, &["DEBUG", "DIGEST-VALUE", k]))
        .collect();
    let port = target.port.to_string();
    assert_eq!(
        cmd(
            &mut s,
            &["MIGRATE", "127.0.0.1", &port, "str:int", "3", "5000"]
        ),
        "OK"
    );
    let mut args = vec!["MIGRATE", "127.0.0.1", &port, "", "3", "5000", "KEYS"];
    args.extend(keys.iter().skip(1).map(|(k, _)| *k));
    args.push("nokey");
    assert_eq!(cmd(&mut s, &args), "OK");
    assert_eq!(cmd(&mut s, &["DBSIZE"]), "0");
    assert_ne!(info_field(&mut s, "migrate_cached_sockets"), "0");
    must(&mut t, &["SELECT", "3"]);
    for ((key, encoding), digest) in keys.iter().zip(&digests) {
        assert_eq!(
            &cmd(&mut t, &["DEBUG", "DIGEST-VALUE", key]),
            digest,
            "{key}"
        );
        assert_eq!(
            cmd(&mut t, &["OBJECT", "ENCODING", key]),
            *encoding,
            "{key}"
        );
    }
    let ttl: i64 = cmd(&mut t, &["TTL", "str:short"]).parse().unwrap();
    assert!((95..=100).contains(&ttl), "{ttl}");
    assert_eq!(cmd(&mut t, &["TTL", "str:lzf"]), "-1");
}

#[test]
fn migrate_moves_keys_to_redis_and_to_rudis_and_from_redis() {
    let rudis = start_rudis();
    migrate_everything(&rudis, &start_redis());
    migrate_everything(&rudis, &start_rudis());
    migrate_everything(&start_redis(), &start_rudis());
}

#[test]
fn migrate_reports_refusals_missing_keys_and_io_errors_as_redis() {
    let (source, target) = (start_rudis(), start_rudis());
    let (mut s, mut t) = (source.conn(), target.conn());
    let port = target.port.to_string();
    let m = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = ["MIGRATE", "127.0.0.1", &port]
            .iter()
            .map(|a| a.to_string())
            .collect();
        v.extend(extra.iter().map(|a| a.to_string()));
        v
    };
    let run = |c: &mut RawConn, args: Vec<String>| {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        cmd(c, &refs)
    };
    assert_eq!(run(&mut s, m(&["nokey", "0", "1000"])), "NOKEY");
    assert_eq!(
        run(&mut s, m(&["notempty", "0", "1000", "KEYS", "a"])),
        "-ERR When using MIGRATE KEYS option, the key argument must be set to the empty string"
    );
    // Refused by the target: the refused keys stay, the accepted ones move.
    must(&mut s, &["MSET", "a", "1", "b", "2", "c", "3"]);
    must(&mut t, &["SET", "b", "taken"]);
    assert_eq!(
        run(&mut s, m(&["", "0", "1000", "KEYS", "a", "b", "c"])),
        "-ERR Target instance replied with error: BUSYKEY Target key name already exists."
    );
    assert_eq!(cmd(&mut s, &["EXISTS", "a", "b", "c"]), "1");
    let on_target: Vec<String> = ["a", "b", "c"]
        .iter()
        .map(|k| cmd(&mut t, &["GET", k]))
        .collect();
    assert_eq!(on_target, ["1", "taken", "3"]);
    assert_eq!(run(&mut s, m(&["b", "0", "1000", "COPY", "REPLACE"])), "OK");
    assert_eq!(cmd(&mut t, &["GET", "b"]), "2");
    assert_eq!(cmd(&mut s, &["GET", "b"]), "2", "COPY keeps the key");
    // Authentication.
    must(&mut t, &["CONFIG", "SET", "requirepass", "secret"]);
    must(&mut t, &["AUTH", "secret"]);
    must(&mut s, &["SET", "d", "4"]);
    let wrong = run(&mut s, m(&["d", "0", "1000", "AUTH", "nope"]));
    assert!(
        wrong.starts_with("-ERR Target instance replied with error: WRONGPASS"),
        "{wrong}"
    );
    // (The cached connection was authenticated before the password was set: the target
    // took the key even though AUTH failed, as Redis would.)
    must(&mut s, &["SET", "d2", "4"]);
    assert_eq!(
        run(
            &mut s,
            m(&["d2", "0", "1000", "AUTH2", "default", "secret"])
        ),
        "OK"
    );
    assert_eq!(cmd(&mut t, &["GET", "d2"]), "4");
    // The password stays out of the slow log.
    must(&mut s, &["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
    must(&mut s, &["SET", "d3", "4"]);
    assert_eq!(run(&mut s, m(&["d3", "0", "1000", "AUTH", "secret"])), "OK");
    let logged = source.cli(&["SLOWLOG", "GET", "2"]);
    assert!(
        logged.contains("(redacted)") && !logged.contains("secret"),
        "{logged}"
    );
    // A stalled target times out; a closed port cannot be reached.
    must(&mut s, &["SET", "e", "5"]);
    let mut sleeper = target.conn();
    must(&mut sleeper, &["AUTH", "secret"]);
    sleeper.send(&["DEBUG", "SLEEP", "1.5"]);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        run(&mut s, m(&["e", "0", "300", "AUTH", "secret"])),
        "-IOERR error or timeout reading to target instance"
    );
    assert_eq!(cmd(&mut s, &["EXISTS", "e"]), "1");
    sleeper.read_reply().expect("DEBUG SLEEP reply");
    // A refused connection shows up as a failed write, in Redis as here; a name that does
    // not resolve is a failed connection.
    let closed = common::free_port().to_string();
    assert_eq!(
        cmd(&mut s, &["MIGRATE", "127.0.0.1", &closed, "e", "0", "300"]),
        "-IOERR error or timeout writing to target instance"
    );
    assert_eq!(
        cmd(
            &mut s,
            &["MIGRATE", "no-such-host.invalid", "1", "e", "0", "300"]
        ),
        "-IOERR error or timeout connecting to the client"
    );
    // Cached connections are closed after 10 idle seconds.
    assert_eq!(
        run(&mut s, m(&["e", "0", "1000", "AUTH", "secret", "REPLACE"])),
        "OK"
    );
    assert_eq!(info_field(&mut s, "migrate_cached_sockets"), "1");
    let idle_since = Instant::now();
    wait_until("the cached connection to close", || {
        info_field(&mut s, "migrate_cached_sockets") == "0"
    });
    assert!(idle_since.elapsed() >= Duration::from_secs(10));
}
