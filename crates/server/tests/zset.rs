//! Integration tests of the sorted set commands against the real binary: a seeded random
//! command stream whose replies must match Redis 7.0 byte for byte while tiny listpack
//! thresholds make sets switch encodings constantly, sets of a million members (ranks,
//! ranges, and freeing them), claimed sizes that must not allocate, WATCH, and a real client.

mod common;

use common::{RawConn, ServerProcess};
use redis::Commands;
use rudis_resp::Value;

fn send(conn: &mut RawConn, args: &[&[u8]]) -> (Value, Vec<u8>) {
    conn.send_bytes(args);
    conn.read_reply().expect("reply")
}

fn text(conn: &mut RawConn, args: &[&str]) -> String {
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    String::from_utf8_lossy(&send(conn, &args).1).into_owned()
}

/// Thresholds small enough that most sets cross between listpack and skiplist.
const SMALL_SETS: &[&str] = &[
    "--zset-max-listpack-entries",
    "6",
    "--zset-max-listpack-value",
    "8",
];

fn pick<'a>(rng: &mut fastrand::Rng, items: &[&'a str]) -> &'a str {
    items[rng.usize(..items.len())]
}

const MEMBERS: &[&str] = &[
    "a",
    "b",
    "c",
    "d",
    "e",
    "f",
    "g",
    "1",
    "2",
    "10",
    "-3",
    "007",
    "longmember1",
    "longmember2",
    "",
];
const SCORES: &[&str] = &[
    "0", "1", "2", "-1", "1.5", "-2.25", "3", "10", "inf", "-inf", "0.1", "1e20", "-0", "7",
];
const BOUNDS: &[&str] = &[
    "-inf", "+inf", "0", "(0", "1", "(1.5", "3", "(10", "-1", "x",
];
const LEX_BOUNDS: &[&str] = &["-", "+", "[a", "(b", "[d", "(longmember1", "[", "x"];
const RANKS: &[&str] = &["0", "1", "-1", "-2", "3", "10", "-100"];
const KEYS: &[&str] = &["z0", "z1", "z2", "z3"];

/// One random command over four general keys, plus lex commands on a key whose scores are all
/// 0 (lex ranges over mixed scores depend on skip list levels, which Redis leaves unspecified).
fn random_command(rng: &mut fastrand::Rng) -> Vec<String> {
    let key = pick(rng, KEYS);
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let mut cmd = match rng.u8(0..22) {
        0..=4 => {
            let mut c = s(&["ZADD", key]);
            for opt in ["NX", "XX", "GT", "LT", "CH", "INCR"] {
                if rng.u8(0..6) == 0 {
                    c.push(opt.into());
                }
            }
            for _ in 0..rng.usize(1..4) {
                c.push(pick(rng, SCORES).into());
                c.push(pick(rng, MEMBERS).into());
            }
            c
        }
        5 => s(&["ZINCRBY", key, pick(rng, SCORES), pick(rng, MEMBERS)]),
        6 => s(&["ZREM", key, pick(rng, MEMBERS), pick(rng, MEMBERS)]),
        7 => {
            let mut c = s(&["ZRANGE", key]);
            match rng.u8(0..3) {
                0 => c.extend(s(&[pick(rng, RANKS), pick(rng, RANKS)])),
                _ => c.extend(s(&[pick(rng, BOUNDS), pick(rng, BOUNDS), "BYSCORE"])),
            }
            if rng.bool() {
                c.push("REV".into());
            }
            if rng.bool() {
                c.push("WITHSCORES".into());
            }
            if rng.u8(0..3) == 0 {
                c.extend(s(&["LIMIT", pick(rng, RANKS), pick(rng, RANKS)]));
            }
            c
        }
        8 => s(&[
            pick(rng, &["ZRANGEBYSCORE", "ZREVRANGEBYSCORE"]),
            key,
            pick(rng, BOUNDS),
            pick(rng, BOUNDS),
            "WITHSCORES",
        ]),
        9 => s(&["ZCOUNT", key, pick(rng, BOUNDS), pick(rng, BOUNDS)]),
        10 => s(&[
            pick(rng, &["ZRANK", "ZREVRANK", "ZSCORE"]),
            key,
            pick(rng, MEMBERS),
        ]),
        11 => s(&["ZMSCORE", key, pick(rng, MEMBERS), pick(rng, MEMBERS)]),
        12 => s(&["ZREMRANGEBYRANK", key, pick(rng, RANKS), pick(rng, RANKS)]),
        13 => s(&[
            "ZREMRANGEBYSCORE",
            key,
            pick(rng, BOUNDS),
            pick(rng, BOUNDS),
        ]),
        14 => {
            let count = pick(rng, &["1", "2", "0", "10"]);
            s(&[pick(rng, &["ZPOPMIN", "ZPOPMAX"]), key, count])
        }
        15 => s(&[
            "ZMPOP",
            "2",
            key,
            pick(rng, KEYS),
            pick(rng, &["MIN", "MAX"]),
            "COUNT",
            "2",
        ]),
        16 => {
            let op = pick(rng, &["ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"]);
            let mut c = s(&[op, key, "2", pick(rng, KEYS), pick(rng, KEYS)]);
            if op != "ZDIFFSTORE" && rng.bool() {
                c.extend(s(&["WEIGHTS", pick(rng, SCORES), pick(rng, SCORES)]));
            }
            if op != "ZDIFFSTORE" && rng.bool() {
                c.extend(s(&["AGGREGATE", pick(rng, &["SUM", "MIN", "MAX"])]));
            }
            c
        }
        17 => {
            let op = pick(rng, &["ZUNION", "ZINTER", "ZDIFF"]);
            s(&[
                op,
                "3",
                pick(rng, KEYS),
                pick(rng, KEYS),
                pick(rng, KEYS),
                "WITHSCORES",
            ])
        }
        18 => {
            let mut c = s(&[
                "ZRANGESTORE",
                key,
                pick(rng, KEYS),
                pick(rng, BOUNDS),
                pick(rng, BOUNDS),
                "BYSCORE",
            ]);
            if rng.bool() {
                c.extend(s(&["LIMIT", "1", pick(rng, RANKS)]));
            }
            c
        }
        19 => s(&["ZRANDMEMBER", key, "1000", "WITHSCORES"]),
        20 => s(&[
            "ZSCAN",
            key,
            "0",
            "MATCH",
            pick(rng, MEMBERS),
            "COUNT",
            "1000",
        ]),
        _ => lex_command(rng),
    };
    if rng.u8(0..50) == 0 {
        cmd.push("BOGUS".into());
    }
    cmd
}

fn lex_command(rng: &mut fastrand::Rng) -> Vec<String> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let (min, max) = (pick(rng, LEX_BOUNDS), pick(rng, LEX_BOUNDS));
    match rng.u8(0..6) {
        0 | 1 => s(&[
            "ZADD",
            "lex",
            "0",
            pick(rng, MEMBERS),
            "0",
            pick(rng, MEMBERS),
        ]),
        2 => s(&["ZLEXCOUNT", "lex", min, max]),
        3 => s(&[
            pick(rng, &["ZRANGEBYLEX", "ZREVRANGEBYLEX"]),
            "lex",
            min,
            max,
            "LIMIT",
            "0",
            pick(rng, RANKS),
        ]),
        4 => s(&[
            "ZRANGE",
            "lex",
            min,
            max,
            "BYLEX",
            pick(rng, &["REV", "LIMIT"]),
            "1",
            "2",
        ]),
        _ => s(&["ZREMRANGEBYLEX", "lex", min, max]),
    }
}

#[test]
fn random_commands_match_redis_across_encodings() {
    let ours = ServerProcess::start(SMALL_SETS);
    let theirs = ServerProcess::start_redis(SMALL_SETS);
    let (mut a, mut b) = (ours.conn(), theirs.conn());
    for (seed, resp3) in [(0x2E75_0001u64, false), (0x2E75_0002, true)] {
        if resp3 {
            send(&mut a, &[b"HELLO", b"3"]);
            send(&mut b, &[b"HELLO", b"3"]);
        }
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut errors = 0;
        for n in 0..4000 {
            let cmd = random_command(&mut rng);
            let args: Vec<&[u8]> = cmd.iter().map(|a| a.as_bytes()).collect();
            let (ra, rb) = (send(&mut a, &args).1, send(&mut b, &args).1);
            errors += usize::from(ra.first() == Some(&b'-'));
            assert_eq!(
                String::from_utf8_lossy(&ra),
                String::from_utf8_lossy(&rb),
                "seed {seed:#x}, command {n}: {cmd:?}"
            );
        }
        assert!(errors < 1200, "{errors} of 4000 commands failed");
    }
}

#[test]
fn million_member_sets_rank_range_and_free() {
    let server = ServerProcess::start(&[]);
    let mut c = server.conn();
    const N: usize = 1_000_000;
    const BATCH: usize = 1000;
    // Member m<i> has score i/2: rank, score and member order agree.
    for start in (0..N).step_by(BATCH) {
        let mut args: Vec<Vec<u8>> = vec![b"ZADD".to_vec(), b"big".to_vec()];
        for i in start..start + BATCH {
            args.push((i / 2).to_string().into_bytes());
            args.push(format!("m{i:07}").into_bytes());
        }
        let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        assert_eq!(send(&mut c, &refs).0, Value::Int(BATCH as i64));
    }
    assert_eq!(text(&mut c, &["ZCARD", "big"]), format!(":{N}\r\n"));
    assert_eq!(text(&mut c, &["ZRANK", "big", "m0999999"]), ":999999\r\n");
    assert_eq!(
        text(&mut c, &["ZREVRANK", "big", "m0000000"]),
        ":999999\r\n"
    );
    assert_eq!(text(&mut c, &["ZRANK", "big", "m0500000"]), ":500000\r\n");
    assert_eq!(
        text(&mut c, &["ZRANGE", "big", "500000", "500001", "WITHSCORES"]),
        "*4\r\n$8\r\nm0500000\r\n$6\r\n250000\r\n$8\r\nm0500001\r\n$6\r\n250000\r\n"
    );
    assert_eq!(
        text(&mut c, &["ZCOUNT", "big", "1000", "(2000"]),
        ":2000\r\n"
    );
    assert_eq!(
        text(&mut c, &["ZLEXCOUNT", "big", "-", "+"]),
        format!(":{N}\r\n")
    );
    assert_eq!(
        text(
            &mut c,
            &["ZRANGEBYSCORE", "big", "(250000", "+inf", "LIMIT", "3", "1"]
        ),
        "*1\r\n$8\r\nm0500005\r\n"
    );
    assert_eq!(
        text(&mut c, &["ZREMRANGEBYRANK", "big", "0", "99999"]),
        ":100000\r\n"
    );
    assert_eq!(text(&mut c, &["ZRANK", "big", "m0500000"]), ":400000\r\n");
    assert_eq!(
        text(&mut c, &["ZPOPMAX", "big"]),
        "*2\r\n$8\r\nm0999999\r\n$6\r\n499999\r\n"
    );
    // Copies and overwrites free a large list node by node, with no deep recursion.
    assert_eq!(
        text(&mut c, &["ZUNIONSTORE", "copy", "1", "big"]),
        format!(":{}\r\n", N - 100_001)
    );
    assert_eq!(text(&mut c, &["SET", "big", "x"]), "+OK\r\n");
    assert_eq!(text(&mut c, &["SET", "copy", "x"]), "+OK\r\n");
    assert_eq!(text(&mut c, &["PING"]), "+PONG\r\n");
}

#[test]
fn claimed_sizes_allocate_nothing() {
    let server = ServerProcess::start(&[]);
    let mut c = server.conn();
    text(&mut c, &["ZADD", "z", "1", "a", "2", "b", "3", "c"]);
    let rss_before = server.rss_bytes();
    let max = i64::MAX.to_string();
    let half = (i64::MAX / 2).to_string();
    for _ in 0..100 {
        assert_eq!(
            text(
                &mut c,
                &["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "0", &max]
            )
            .len(),
            "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n".len()
        );
        assert!(text(&mut c, &["ZRANDMEMBER", "z", &half, "WITHSCORES"]).starts_with("*6\r\n"));
        assert!(text(&mut c, &["ZPOPMIN", "nokey", &max]).starts_with("*0"));
        assert!(text(&mut c, &["ZMPOP", &max, "z", "MIN"]).starts_with("-ERR syntax error"));
        assert!(text(&mut c, &["ZUNION", &max, "z"]).starts_with("-ERR syntax error"));
    }
    let rss_after = server.rss_bytes();
    assert!(
        rss_after < rss_before + 32 * 1024 * 1024,
        "RSS grew from {rss_before} to {rss_after}"
    );
}

#[test]
fn watch_sees_every_change_and_clients_agree() {
    let server = ServerProcess::start(&[]);
    let mut c = server.client();
    let added: usize = c
        .zadd_multiple("z", &[(1, "a"), (2, "b"), (3, "c")])
        .expect("ZADD");
    assert_eq!(added, 3);
    let range: Vec<(String, f64)> = c.zrange_withscores("z", 0, -1).expect("ZRANGE");
    assert_eq!(
        range,
        vec![("a".into(), 1.0), ("b".into(), 2.0), ("c".into(), 3.0)]
    );
    let score: Option<f64> = c.zscore("z", "b").expect("ZSCORE");
    assert_eq!(score, Some(2.0));
    let incr: f64 = c.zincr("z", "a", 0.5).expect("ZINCRBY");
    assert_eq!(incr, 1.5);
    // A modification by another client between WATCH and EXEC aborts the transaction, for
    // every kind of change.
    let mut w = server.conn();
    let mut other = server.conn();
    for change in [
        &["ZADD", "z", "9", "n"][..],
        &["ZREM", "z", "n"],
        &["ZINCRBY", "z", "1", "a"],
        &["ZPOPMIN", "z"],
        &["ZREMRANGEBYSCORE", "z", "-inf", "3"],
        &["ZUNIONSTORE", "z", "1", "nokey"],
    ] {
        text(&mut other, &["ZADD", "z", "5", "x", "6", "y"]);
        assert_eq!(text(&mut w, &["WATCH", "z"]), "+OK\r\n");
        text(&mut other, change);
        assert_eq!(text(&mut w, &["MULTI"]), "+OK\r\n");
        assert_eq!(text(&mut w, &["ZCARD", "z"]), "+QUEUED\r\n");
        assert_eq!(text(&mut w, &["EXEC"]), "*-1\r\n", "{change:?}");
    }
}

#[test]
fn small_sets_cost_about_what_redis_pays() {
    // 100,000 sorted sets of 10 members, pipelined as fast as the socket takes them (what
    // redis-cli --pipe does). Redis 7.0 uses about 216 bytes of RSS per key for this.
    let server = ServerProcess::start(&[]);
    let mut c = server.conn();
    text(&mut c, &["PING"]);
    const KEYS: usize = 100_000;
    let mut input = Vec::new();
    for n in 0..KEYS {
        let mut args = vec![b"ZADD".to_vec(), format!("k:{n}").into_bytes()];
        for i in 0..10 {
            args.push(i.to_string().into_bytes());
            args.push(format!("member{i}").into_bytes());
        }
        input.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for a in &args {
            input.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            input.extend_from_slice(a);
            input.extend_from_slice(b"\r\n");
        }
    }
    let rss_before = server.rss_bytes();
    let mut writer = c.stream.try_clone().expect("clone socket");
    let sender = std::thread::spawn(move || {
        use std::io::Write;
        writer.write_all(&input).expect("write pipeline");
    });
    for _ in 0..KEYS {
        assert_eq!(c.read_reply().expect("reply").0, Value::Int(10));
    }
    sender.join().expect("sender");
    let per_key = (server.rss_bytes() - rss_before) / KEYS as u64;
    assert!(per_key < 240, "{per_key} bytes of RSS per key");
    assert_eq!(text(&mut c, &["ZCARD", "k:99999"]), ":10\r\n");
}
