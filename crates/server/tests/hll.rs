//! Integration tests of the HyperLogLog commands against the real binary and a real Redis 7.0:
//! thousands of random elements with replies and raw values compared byte for byte, values
//! made by Redis counted and extended by Rudis (and the reverse), WATCH seeing the cache
//! update PFCOUNT makes, and a real client.

mod common;

use common::{RawConn, ServerProcess};
use redis::Commands;
use rudis_resp::Value;

/// Rudis and Redis side by side, each with one raw connection.
struct Pair {
    _ours: ServerProcess,
    _theirs: ServerProcess,
    a: RawConn,
    b: RawConn,
}

impl Pair {
    fn start(args: &[&str]) -> Pair {
        let ours = ServerProcess::start(args);
        let theirs = ServerProcess::start_redis(args);
        let (a, b) = (ours.conn(), theirs.conn());
        Pair {
            _ours: ours,
            _theirs: theirs,
            a,
            b,
        }
    }

    /// Sends `args` to both; the raw replies must be identical. Returns the reply.
    fn same(&mut self, args: &[&[u8]]) -> Value {
        self.a.send_bytes(args);
        self.b.send_bytes(args);
        let (value, ours) = self.a.read_reply().expect("rudis replies");
        let (_, theirs) = self.b.read_reply().expect("redis replies");
        assert!(
            ours == theirs,
            "{:?}\n rudis: {}\n redis: {}",
            args.iter()
                .map(|a| String::from_utf8_lossy(a))
                .collect::<Vec<_>>(),
            shorten(&ours),
            shorten(&theirs)
        );
        value
    }

    fn same_str(&mut self, args: &[&str]) -> Value {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.same(&args)
    }
}

fn shorten(reply: &[u8]) -> String {
    let text = String::from_utf8_lossy(reply);
    match text.char_indices().nth(200) {
        Some((end, _)) => format!("{}... ({} bytes)", &text[..end], reply.len()),
        None => text.into_owned(),
    }
}

fn random_element(rng: &mut fastrand::Rng) -> Vec<u8> {
    match rng.u8(..3) {
        0 => format!("user:{}", rng.u32(..100_000)).into_bytes(),
        1 => rng.u64(..).to_le_bytes().to_vec(),
        _ => (0..rng.usize(..64)).map(|_| rng.u8(..)).collect(),
    }
}

fn pfadd(pair: &mut Pair, key: &str, elements: &[Vec<u8>]) -> Value {
    let mut args: Vec<&[u8]> = vec![b"PFADD", key.as_bytes()];
    args.extend(elements.iter().map(Vec::as_slice));
    pair.same(&args)
}

fn int(v: &Value) -> i64 {
    match v {
        Value::Int(n) => *n,
        other => panic!("expected an integer, got {other:?}"),
    }
}

#[test]
fn counts_and_raw_values_match_redis_over_random_elements() {
    let mut pair = Pair::start(&[]);
    let mut rng = fastrand::Rng::with_seed(2024);
    let keys = ["a", "b", "c"];
    let mut added = 0usize;
    while added < 30_000 {
        let key = keys[rng.usize(..keys.len())];
        let batch: Vec<Vec<u8>> = (0..rng.usize(1..200))
            .map(|_| random_element(&mut rng))
            .collect();
        added += batch.len();
        pfadd(&mut pair, key, &batch);
        pair.same_str(&["PFCOUNT", key]);
        pair.same_str(&["GET", key]);
        if rng.u8(..8) == 0 {
            pair.same_str(&["PFCOUNT", "a", "b", "c", "missing"]);
            pair.same_str(&["PFMERGE", "m", "a", "b"]);
            pair.same_str(&["GET", "m"]);
        }
    }
    for key in keys {
        assert_eq!(
            pair.same_str(&["PFDEBUG", "ENCODING", key]),
            Value::Simple(b"dense".to_vec()),
            "{key} went dense"
        );
    }
    let union = int(&pair.same_str(&["PFCOUNT", "a", "b", "c"]));
    // About two thirds of the random elements are distinct.
    assert!((15_000..32_000).contains(&union), "{union}");
}

#[test]
fn a_small_sparse_limit_matches_redis() {
    let mut pair = Pair::start(&["--hll-sparse-max-bytes", "300"]);
    let mut rng = fastrand::Rng::with_seed(7);
    for round in 0..200 {
        let key = format!("k{}", round % 10);
        let batch: Vec<Vec<u8>> = (0..rng.usize(1..20))
            .map(|_| random_element(&mut rng))
            .collect();
        pfadd(&mut pair, &key, &batch);
        pair.same_str(&["GET", &key]);
        pair.same_str(&["PFDEBUG", "ENCODING", &key]);
    }
    pair.same_str(&["CONFIG", "SET", "hll-sparse-max-bytes", "5000"]);
    pair.same_str(&["PFMERGE", "k0", "k1", "k2", "k3"]);
    pair.same_str(&["GET", "k0"]);
}

/// The values a Redis server makes, stored as-is in Rudis (as RDB, DUMP or replication would
/// carry them), count the same and keep changing the same way; and the reverse.
#[test]
fn values_cross_between_servers_unchanged() {
    let ours = ServerProcess::start(&[]);
    let theirs = ServerProcess::start_redis(&[]);
    let (mut a, mut b) = (ours.conn(), theirs.conn());
    let mut rng = fastrand::Rng::with_seed(99);
    for size in [0, 1, 10, 300, 1500, 5000, 40_000] {
        let elements: Vec<Vec<u8>> = (0..size).map(|_| random_element(&mut rng)).collect();
        carry_over(&mut b, &mut a, &elements);
        carry_over(&mut a, &mut b, &elements);
    }
}

fn command(conn: &mut RawConn, args: &[&[u8]]) -> (Value, Vec<u8>) {
    conn.send_bytes(args);
    conn.read_reply().expect("reply")
}

/// `maker` builds a value from `elements`; `user` stores its bytes, then both count it and
/// add to it, with identical replies and bytes. Done with the cache stale, then valid.
fn carry_over(maker: &mut RawConn, user: &mut RawConn, elements: &[Vec<u8>]) {
    let mut args: Vec<&[u8]> = vec![b"PFADD", b"h"];
    args.extend(elements.iter().map(Vec::as_slice));
    command(maker, &[b"DEL", b"h"]);
    command(maker, &args);
    for step in ["stale cache", "cached"] {
        let raw = command(maker, &[b"GET", b"h"]).0;
        let raw = raw.as_bytes().expect("a HyperLogLog").to_vec();
        command(user, &[b"SET", b"h", &raw]);
        let cmds: [&[&[u8]]; 3] = [
            &[b"PFCOUNT", b"h"],
            &[b"PFADD", b"h", b"extra", b"more"],
            &[b"GET", b"h"],
        ];
        for cmd in cmds {
            let expected = command(maker, cmd).1;
            let got = command(user, cmd).1;
            assert!(
                got == expected,
                "{} elements, {step}: {:?}\n got {}\n expected {}",
                elements.len(),
                String::from_utf8_lossy(cmd[0]),
                shorten(&got),
                shorten(&expected)
            );
        }
        // Cache the count on the maker, and carry the value over again.
        command(maker, &[b"PFCOUNT", b"h"]);
    }
}

/// Runs WATCH k / (another client runs `cmds`) / MULTI / EXEC; returns EXEC's raw reply.
fn watched_exec(server: &ServerProcess, cmds: &[&[&str]]) -> Vec<u8> {
    let (mut watcher, mut other) = (server.conn(), server.conn());
    watcher.command(&["WATCH", "k"]).expect("WATCH");
    for cmd in cmds {
        other.command(cmd).expect("reply");
    }
    watcher.command(&["MULTI"]).expect("MULTI");
    watcher.command(&["PING"]).expect("QUEUED");
    watcher.send(&["EXEC"]);
    watcher.read_reply().expect("EXEC").1
}

#[test]
fn watch_sees_pfcount_storing_its_cache_as_redis_does() {
    let ours = ServerProcess::start(&[]);
    let theirs = ServerProcess::start_redis(&[]);
    let cases: &[&[&[&str]]] = &[
        // The cache was stale: PFCOUNT stores it, a change.
        &[&["PFCOUNT", "k"]],
        // Already cached: nothing changes.
        &[&["PFCOUNT", "k"], &["PFCOUNT", "k"]],
        // Several keys never store a cache.
        &[&["PFCOUNT", "k", "other"]],
        &[&["PFADD", "k", "x"]],
        &[&["PFADD", "k", "a"]],
        &[&["PFMERGE", "k"]],
        &[&["PFMERGE", "other", "k"]],
        // A conversion changes the bytes without signalling the key, in Redis too.
        &[&["PFDEBUG", "TODENSE", "k"]],
    ];
    let mut aborted = 0;
    for (i, case) in cases.iter().enumerate() {
        let mut results = Vec::new();
        for server in [&ours, &theirs] {
            let mut c = server.conn();
            c.command(&["DEL", "k"]).expect("DEL");
            c.command(&["PFADD", "k", "a", "b"]).expect("PFADD");
            // The first case needs a stale cache; the others start from a cached one.
            if i > 0 {
                c.command(&["PFCOUNT", "k"]).expect("PFCOUNT");
            }
            results.push(watched_exec(server, case));
        }
        assert_eq!(results[0], results[1], "case {i}");
        aborted += usize::from(results[0] == b"*-1\r\n");
    }
    assert_eq!(aborted, 3, "the cases that change k abort the transaction");
}

#[test]
fn a_real_client_counts_and_merges() {
    let server = ServerProcess::start(&[]);
    let mut c = server.client();
    for i in 0..10_000 {
        let added: bool = c.pfadd("visitors", format!("v{i}")).expect("PFADD");
        assert!(added || i > 0);
    }
    let count: u64 = c.pfcount("visitors").expect("PFCOUNT");
    assert!((9_800..10_200).contains(&count), "{count}");
    for i in 5_000..15_000 {
        let _: bool = c.pfadd("more", format!("v{i}")).expect("PFADD");
    }
    let () = c.pfmerge("all", &["visitors", "more"]).expect("PFMERGE");
    let union: u64 = c.pfcount("all").expect("PFCOUNT");
    assert!((14_700..15_300).contains(&union), "{union}");
    let both: u64 = c.pfcount(&["visitors", "more"]).expect("PFCOUNT");
    assert_eq!(both, union);
    let err = c
        .pfadd::<_, _, bool>("visitors-string", "x")
        .and_then(|_| c.set::<_, _, ()>("s", "plain"))
        .and_then(|_| c.pfcount::<_, u64>("s"))
        .expect_err("not a HyperLogLog");
    assert!(err.to_string().contains("not a valid HyperLogLog"), "{err}");
}
