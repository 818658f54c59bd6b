//! Integration tests of the hash commands against the real binary: HRANDFIELD's distributions
//! as Redis's own tests measure them, HSCAN completeness on a table that grows mid-scan, a
//! client-claimed HRANDFIELD count that must not exhaust memory, and a seeded random command
//! stream across the encoding switch whose replies must match Redis 7.0.

mod common;

use std::collections::{HashMap, HashSet};

use common::{RawConn, ServerProcess};
use redis::Commands;
use rudis_resp::Value;

fn send(conn: &mut RawConn, args: &[&[u8]]) -> (Value, Vec<u8>) {
    conn.send_bytes(args);
    conn.read_reply().expect("reply")
}

/// Pearson's chi-square statistic of the picks against a uniform distribution over the
/// fields seen (the statistic Redis's `chi_square_value` computes).
fn chi_square(picks: &[String]) -> f64 {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for p in picks {
        *counts.entry(p).or_default() += 1;
    }
    let expected = picks.len() as f64 / counts.len() as f64;
    counts
        .values()
        .map(|&c| (c as f64 - expected).powi(2) / expected)
        .sum()
}

/// The ten-field hashes of Redis's HRANDFIELD test: a table (one field is too long for a
/// listpack under `hash-max-listpack-value 10`) and a listpack.
fn ten_field_hashes(c: &mut redis::Connection) -> Vec<(&'static str, Vec<String>)> {
    let long_field = "z".repeat(80);
    let mut out = Vec::new();
    for (key, last) in [("table", long_field.as_str()), ("small", "10")] {
        let mut fields: Vec<String> = ["a", "b", "c", "d", "e", "6", "7", "8", "9"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        fields.push(last.to_string());
        let pairs: Vec<(String, String)> = fields.iter().map(|f| (f.clone(), "v".into())).collect();
        let _: () = c.hset_multiple(key, &pairs).expect("HSET");
        out.push((key, fields));
    }
    out
}

#[test]
fn hrandfield_distributions_pass_redis_chi_square_tests() {
    let server = ServerProcess::start(&["--hash-max-listpack-value", "10"]);
    let mut c = server.client();
    for (key, fields) in ten_field_hashes(&mut c) {
        let all: HashSet<&String> = fields.iter().collect();
        // Negative count: independent picks.
        let picks: Vec<String> = redis::cmd("HRANDFIELD")
            .arg(key)
            .arg(-1000)
            .query(&mut c)
            .expect("HRANDFIELD");
        assert_eq!(picks.len(), 1000);
        assert!(picks.iter().all(|p| all.contains(p)));
        assert!(chi_square(&picks) < 40.0, "{key}: {}", chi_square(&picks));
        // Positive counts: distinct fields, uniform over many calls (the subtract strategy
        // for 8 of 10, the pick-until-distinct one for 2 of 10).
        for count in [8usize, 2] {
            let mut picks = Vec::new();
            for _ in 0..(1000 / count) {
                let got: Vec<String> = redis::cmd("HRANDFIELD")
                    .arg(key)
                    .arg(count)
                    .query(&mut c)
                    .expect("HRANDFIELD");
                assert_eq!(got.len(), count);
                assert_eq!(got.iter().collect::<HashSet<_>>().len(), count);
                picks.extend(got);
            }
            assert!(picks.iter().all(|p| all.contains(p)));
            let x2 = chi_square(&picks);
            assert!(x2 < 40.0, "{key} count {count}: {x2}");
        }
        // Without a count, every field turns up.
        let mut seen = HashSet::new();
        for _ in 0..200 {
            let f: String = redis::cmd("HRANDFIELD")
                .arg(key)
                .query(&mut c)
                .expect("HRANDFIELD");
            seen.insert(f);
        }
        assert_eq!(seen.len(), 10, "{key}");
    }
}

#[test]
fn hscan_returns_every_field_of_a_growing_table() {
    let server = ServerProcess::start(&[]);
    let mut c = server.client();
    let pairs: Vec<(String, usize)> = (0..5000).map(|i| (format!("field:{i}"), i)).collect();
    for chunk in pairs.chunks(500) {
        let _: () = c.hset_multiple("h", chunk).expect("HSET");
    }
    let mut cursor = 0u64;
    let mut seen = HashSet::new();
    let mut calls = 0;
    loop {
        let (next, items): (u64, Vec<String>) = redis::cmd("HSCAN")
            .arg("h")
            .arg(cursor)
            .arg("COUNT")
            .arg(100)
            .query(&mut c)
            .expect("HSCAN");
        for pair in items.chunks(2) {
            assert!(pair[0].ends_with(&format!(":{}", pair[1])), "{pair:?}");
            seen.insert(pair[0].clone());
        }
        calls += 1;
        if calls == 10 {
            // The table doubles twice while the scan is under way.
            let more: Vec<(String, usize)> =
                (5000..20000).map(|i| (format!("new:{i}"), i)).collect();
            for chunk in more.chunks(1000) {
                let _: () = c.hset_multiple("h", chunk).expect("HSET");
            }
        }
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    assert!(calls > 10);
    let missing = (0..5000)
        .filter(|i| !seen.contains(&format!("field:{i}")))
        .count();
    assert_eq!(missing, 0, "fields present for the whole scan are returned");
}

#[test]
fn a_claimed_hrandfield_count_does_not_exhaust_memory() {
    let server = ServerProcess::start(&["--proto-max-bulk-len", "1mb"]);
    let mut c = server.conn();
    send(&mut c, &[b"HSET", b"h", b"field", b"value"]);
    let rss_before = server.rss_bytes();
    let claims: [&[&[u8]]; 4] = [
        &[b"HRANDFIELD", b"h", b"-9223372036854775807"],
        &[b"HRANDFIELD", b"h", b"-9223372036854775807", b"WITHVALUES"],
        &[b"HRANDFIELD", b"h", b"-4611686018427387903", b"WITHVALUES"],
        &[b"HRANDFIELD", b"h", b"-200000", b"WITHVALUES"],
    ];
    let too_large = Value::Error(b"ERR HRANDFIELD reply would exceed proto-max-bulk-len".to_vec());
    let out_of_range = Value::Error(b"ERR value is out of range".to_vec());
    for (i, args) in claims.iter().enumerate() {
        let (reply, _) = send(&mut c, args);
        // Redis's own range check comes first for WITHVALUES.
        let want = if i == 1 { &out_of_range } else { &too_large };
        assert_eq!(&reply, want, "claim {i}");
    }
    // A positive count never returns more than the hash holds.
    let (reply, _) = send(&mut c, &[b"HRANDFIELD", b"h", b"9223372036854775807"]);
    assert_eq!(reply, Value::Array(vec![Value::Bulk(b"field".to_vec())]));
    let grown = server.rss_bytes().saturating_sub(rss_before);
    assert!(grown < 64 << 20, "RSS grew by {grown} bytes");
    let (reply, _) = send(&mut c, &[b"PING"]);
    assert_eq!(reply, Value::Simple(b"PONG".to_vec()));
}

/// A random command over a few small hashes, with fields and values around the listpack
/// thresholds the servers are started with (8 entries, 16 bytes).
fn random_command(rng: &mut fastrand::Rng) -> Vec<Vec<u8>> {
    let key = |rng: &mut fastrand::Rng| format!("h{}", rng.u8(0..4)).into_bytes();
    let field = |rng: &mut fastrand::Rng| -> Vec<u8> {
        match rng.u8(0..8) {
            0 => rng.i64(-200..200).to_string().into_bytes(),
            1 => vec![b'f'; rng.usize(14..19)],
            2 => b"".to_vec(),
            _ => format!("f{}", rng.u8(0..12)).into_bytes(),
        }
    };
    let value = |rng: &mut fastrand::Rng| -> Vec<u8> {
        match rng.u8(0..6) {
            0 => rng.i64(-99999..99999).to_string().into_bytes(),
            1 => format!("{}.{}", rng.i32(-99..99), rng.u32(0..999)).into_bytes(),
            2 => vec![b'v'; rng.usize(14..19)],
            3 => [&b"01"[..], b"-0", b"9223372036854775807", b"x y"][rng.usize(0..4)].to_vec(),
            _ => rng.u32(0..50).to_string().into_bytes(),
        }
    };
    let v = |s: &str| s.as_bytes().to_vec();
    match rng.u8(0..13) {
        0 | 1 => {
            let mut c = vec![v("HSET"), key(rng)];
            for _ in 0..rng.usize(1..5) {
                c.extend([field(rng), value(rng)]);
            }
            c
        }
        2 => vec![v("HSETNX"), key(rng), field(rng), value(rng)],
        3 => {
            let mut c = vec![v("HDEL"), key(rng)];
            c.extend((0..rng.usize(1..4)).map(|_| field(rng)));
            c
        }
        4 => vec![v("HGET"), key(rng), field(rng)],
        5 => {
            let mut c = vec![v("HMGET"), key(rng)];
            c.extend((0..rng.usize(1..4)).map(|_| field(rng)));
            c
        }
        6 => vec![
            v("HINCRBY"),
            key(rng),
            field(rng),
            rng.i64(-1000..1000).to_string().into_bytes(),
        ],
        7 => {
            let by = format!("{}.{}", rng.i32(-99..99), rng.u32(0..99));
            vec![v("HINCRBYFLOAT"), key(rng), field(rng), by.into_bytes()]
        }
        8 => vec![v("HSTRLEN"), key(rng), field(rng)],
        9 => vec![v("HEXISTS"), key(rng), field(rng)],
        10 => vec![v("HLEN"), key(rng)],
        11 => vec![v(["HKEYS", "HVALS"][rng.usize(0..2)]), key(rng)],
        _ => vec![v("HGETALL"), key(rng)],
    }
}

/// The reply with array elements sorted, so table iteration order does not matter; field and
/// value pairs of HGETALL stay together.
fn canonical(cmd: &[u8], reply: Value) -> Value {
    match reply {
        Value::Array(items) if cmd == b"HGETALL" => {
            let mut pairs: Vec<Vec<Value>> = items.chunks(2).map(<[Value]>::to_vec).collect();
            pairs.sort_by_key(|p| format!("{p:?}"));
            Value::Array(pairs.into_iter().flatten().collect())
        }
        Value::Array(mut items) if cmd != b"HMGET" => {
            items.sort_by_key(|i| format!("{i:?}"));
            Value::Array(items)
        }
        other => other,
    }
}

#[test]
fn random_commands_match_redis() {
    let limits = [
        "--hash-max-listpack-entries",
        "8",
        "--hash-max-listpack-value",
        "16",
    ];
    let ours = ServerProcess::start(&limits);
    let theirs = ServerProcess::start_redis(&limits);
    let (mut a, mut b) = (ours.conn(), theirs.conn());
    let mut rng = fastrand::Rng::with_seed(0x5EED_4A54);
    let mut errors = 0;
    for n in 0..4000 {
        let cmd = random_command(&mut rng);
        let args: Vec<&[u8]> = cmd.iter().map(Vec::as_slice).collect();
        let (ra, _) = send(&mut a, &args);
        let (rb, _) = send(&mut b, &args);
        errors += usize::from(matches!(rb, Value::Error(_)));
        let shown: Vec<String> = cmd
            .iter()
            .map(|x| String::from_utf8_lossy(x).into_owned())
            .collect();
        assert_eq!(
            canonical(&cmd[0], ra),
            canonical(&cmd[0], rb),
            "command {n}: {shown:?}"
        );
    }
    assert!(errors > 20, "the stream reaches error paths ({errors})");
    // Every key ends up with the same contents.
    for key in ["h0", "h1", "h2", "h3"] {
        let (ra, _) = send(&mut a, &[b"HGETALL", key.as_bytes()]);
        let (rb, _) = send(&mut b, &[b"HGETALL", key.as_bytes()]);
        assert_eq!(canonical(b"HGETALL", ra), canonical(b"HGETALL", rb));
    }
}

#[test]
fn clients_read_hashes_as_maps() {
    let server = ServerProcess::start(&[]);
    let mut c = server.client();
    let _: () = c
        .hset_multiple("user", &[("name", "ada"), ("born", "1815")])
        .expect("HSET");
    let all: HashMap<String, String> = c.hgetall("user").expect("HGETALL");
    assert_eq!(all.len(), 2);
    assert_eq!(all["born"], "1815");
    let n: i64 = c.hincr("user", "born", 1).expect("HINCRBY");
    assert_eq!(n, 1816);
    let f: f64 = c.hincr("user", "score", 2.5).expect("HINCRBYFLOAT");
    assert_eq!(f, 2.5);
    let removed: usize = c.hdel("user", &["name", "born", "score"]).expect("HDEL");
    assert_eq!(removed, 3);
    // The emptied hash is gone.
    assert_eq!(server.cli(&["HLEN", "user"]).trim(), "0");
    assert_eq!(server.cli(&["HSTRLEN", "user", "name"]).trim(), "0");
}

/// `HSET k:N field0 value0 ... field9 value9` for N in `0..keys`, RESP-encoded.
fn small_hashes_payload(keys: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for n in 0..keys {
        let key = format!("k:{n}");
        let mut args: Vec<String> = vec!["HSET".into(), key];
        for i in 0..10 {
            args.push(format!("field{i}"));
            args.push(format!("value{i}"));
        }
        out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for a in &args {
            out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
        }
    }
    out
}

#[test]
fn small_hashes_loaded_through_a_pipe_stay_compact() {
    // Redis 7.0 needs about 271 bytes of RSS per key here; each of ours costs a 64-byte key
    // node, the 192-byte allocation of its 167-byte listpack and a share of the bucket arrays,
    // plus, at this size, 10 bytes per key for the database's shard array. A query buffer
    // that grew with every pipelined read used to add 45 more.
    const KEYS: usize = 100_000;
    let server = ServerProcess::start(&[]);
    let payload = small_hashes_payload(KEYS);
    let rss_before = server.rss_bytes();
    let mut cli = std::process::Command::new("redis-cli")
        .args(["-p", &server.port.to_string(), "--pipe"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("redis-cli runs (Debian package redis-tools)");
    let mut stdin = cli.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || std::io::Write::write_all(&mut stdin, &payload));
    let out = cli.wait_with_output().expect("redis-cli --pipe");
    writer.join().expect("writer").expect("payload written");
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(
        summary.contains(&format!("errors: 0, replies: {KEYS}")),
        "{summary}"
    );
    let per_key = server.rss_bytes().saturating_sub(rss_before) / KEYS as u64;
    assert!(per_key <= 300, "{per_key} bytes of RSS per key");
    assert_eq!(server.cli(&["HGET", "k:99999", "field9"]).trim(), "value9");
}
