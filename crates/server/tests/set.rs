//! Integration tests of the set commands against the real binary: a seeded random command
//! stream compared with Redis 7.0 (replies, and the encoding each set ends up in), WATCH seeing
//! the same modifications, claimed counts that must not be allocated, and large sets through
//! a real client.
//!
//! The encoding is observed from outside, without OBJECT ENCODING: an intset lists its members
//! in ascending order, a hash table of ten or more integers almost never does.

mod common;

use common::{RawConn, ServerProcess};
use redis::Commands;
use rudis_resp::Value;

/// A command as its arguments.
type Args<'a> = &'a [&'a [u8]];

fn send(conn: &mut RawConn, args: &[&[u8]]) -> (Value, Vec<u8>) {
    conn.send_bytes(args);
    conn.read_reply().expect("reply")
}

fn shown(args: &[&[u8]]) -> Vec<String> {
    args.iter()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

/// The elements of an array or set reply, each as its RESP bytes, sorted.
fn sorted_elements(v: &Value) -> Option<Vec<Vec<u8>>> {
    let (Value::Array(items) | Value::Set(items)) = v else {
        return None;
    };
    let mut out: Vec<Vec<u8>> = items
        .iter()
        .map(|i| {
            let mut b = Vec::new();
            i.encode(&mut b);
            b
        })
        .collect();
    out.sort();
    Some(out)
}

/// The members of a SMEMBERS reply as integers, if they all are.
fn integers(v: &Value) -> Option<Vec<i64>> {
    let (Value::Array(items) | Value::Set(items)) = v else {
        return None;
    };
    items
        .iter()
        .map(|i| match i {
            Value::Bulk(b) => std::str::from_utf8(b).ok()?.parse().ok(),
            _ => None,
        })
        .collect()
}

/// True if the set under `key` looks like an intset: ten or more integers listed in
/// ascending order. `None` when the set is too small or not all integers to tell.
fn looks_like_intset(conn: &mut RawConn, key: &[u8]) -> Option<bool> {
    let ints = integers(&send(conn, &[b"SMEMBERS", key]).0)?;
    (ints.len() >= 10).then(|| ints.windows(2).all(|w| w[0] < w[1]))
}

const KEYS: usize = 5;

/// A random set command over a few keys; members are mostly small integers so that intsets
/// form, grow past the limit and meet hash tables.
fn random_command(rng: &mut fastrand::Rng) -> Vec<Vec<u8>> {
    // Now and then the string key, for WRONGTYPE paths.
    let key = |rng: &mut fastrand::Rng| match rng.u8(0..40) {
        0 => b"str".to_vec(),
        _ => format!("s{}", rng.usize(0..KEYS)).into_bytes(),
    };
    let member = |rng: &mut fastrand::Rng| -> Vec<u8> {
        match rng.u8(0..40) {
            0 => b"word".to_vec(),
            1 => b"007".to_vec(),
            2 => b"9223372036854775807".to_vec(),
            3 => b"-9223372036854775808".to_vec(),
            4 => b"70000".to_vec(),
            _ => rng.i32(-40..40).to_string().into_bytes(),
        }
    };
    let v = |s: &str| s.as_bytes().to_vec();
    let with_keys = |name: &str, n: usize, rng: &mut fastrand::Rng| {
        let mut cmd = vec![v(name)];
        cmd.extend((0..n).map(|_| key(rng)));
        cmd
    };
    match rng.u8(0..24) {
        0..=7 => {
            let mut cmd = vec![v("SADD"), key(rng)];
            cmd.extend((0..rng.usize(1..12)).map(|_| member(rng)));
            cmd
        }
        8 | 9 => {
            let mut cmd = vec![v("SREM"), key(rng)];
            cmd.extend((0..rng.usize(1..10)).map(|_| member(rng)));
            cmd
        }
        10 => vec![v("SISMEMBER"), key(rng), member(rng)],
        11 => vec![v("SMISMEMBER"), key(rng), member(rng), member(rng)],
        12 => vec![v("SCARD"), key(rng)],
        13 => vec![v("SMOVE"), key(rng), key(rng), member(rng)],
        14 => with_keys("SINTER", rng.usize(1..4), rng),
        15 => with_keys("SUNION", rng.usize(1..4), rng),
        16 => with_keys("SDIFF", rng.usize(1..4), rng),
        17 => with_keys("SINTERSTORE", rng.usize(2..5), rng),
        18 => with_keys("SUNIONSTORE", rng.usize(2..5), rng),
        19 => with_keys("SDIFFSTORE", rng.usize(2..5), rng),
        20 => {
            let mut cmd = vec![v("SINTERCARD"), v("2")];
            cmd.extend([
                key(rng),
                key(rng),
                v("LIMIT"),
                rng.u8(0..5).to_string().into_bytes(),
            ]);
            cmd
        }
        // Random commands whose reply is deterministic: the whole set.
        21 if rng.u8(0..6) == 0 => vec![v("SPOP"), key(rng), v("1000")],
        21 => vec![v("SRANDMEMBER"), key(rng), v("1000")],
        22 => vec![v("SMEMBERS"), key(rng)],
        _ => vec![v("SSCAN"), key(rng), v("0"), v("COUNT"), v("1000")],
    }
}

/// Compares one reply: exactly, or as a multiset for commands whose order depends on hash
/// tables (SSCAN's element list included).
fn same_reply(cmd: &[u8], ours: &(Value, Vec<u8>), theirs: &(Value, Vec<u8>)) -> bool {
    if cmd.eq_ignore_ascii_case(b"SSCAN") {
        return match (&ours.0, &theirs.0) {
            (Value::Array(a), Value::Array(b)) if a.len() == 2 && b.len() == 2 => {
                a[0] == b[0] && sorted_elements(&a[1]) == sorted_elements(&b[1])
            }
            _ => ours.1 == theirs.1,
        };
    }
    match (sorted_elements(&ours.0), sorted_elements(&theirs.0)) {
        (Some(a), Some(b)) => a == b,
        _ => ours.1 == theirs.1,
    }
}

#[test]
fn random_commands_match_redis_including_encodings() {
    let args = ["--set-max-intset-entries", "16"];
    let ours = ServerProcess::start(&args);
    let theirs = ServerProcess::start_redis(&args);
    let (mut a, mut b) = (ours.conn(), theirs.conn());
    let mut rng = fastrand::Rng::with_seed(0x5E75_0001);
    let (mut errors, mut intsets_seen, mut tables_seen) = (0, 0, 0);
    for n in 0..4000 {
        let cmd = random_command(&mut rng);
        let args: Vec<&[u8]> = cmd.iter().map(Vec::as_slice).collect();
        let (ra, rb) = (send(&mut a, &args), send(&mut b, &args));
        errors += usize::from(ra.1.first() == Some(&b'-'));
        assert!(
            same_reply(args[0], &ra, &rb),
            "command {n}: {:?}\n rudis: {}\n redis: {}",
            shown(&args),
            String::from_utf8_lossy(&ra.1),
            String::from_utf8_lossy(&rb.1)
        );
        if n % 10 != 9 {
            continue;
        }
        // The *STORE commands may have replaced the string key.
        send(&mut a, &[b"SET", b"str", b"x"]);
        send(&mut b, &[b"SET", b"str", b"x"]);
        for k in 0..KEYS {
            let key = format!("s{k}");
            let (ea, eb) = (
                looks_like_intset(&mut a, key.as_bytes()),
                looks_like_intset(&mut b, key.as_bytes()),
            );
            assert_eq!(ea, eb, "encoding of {key} after command {n}");
            intsets_seen += usize::from(eb == Some(true));
            tables_seen += usize::from(eb == Some(false));
        }
    }
    // The stream must reach both encodings, some errors, and mostly succeed.
    assert!(
        intsets_seen > 50 && tables_seen > 50,
        "{intsets_seen} intsets, {tables_seen} tables"
    );
    assert!(
        (20..400).contains(&errors),
        "{errors} of 4000 commands failed"
    );
}

/// Connection A watches `key` (after `setup`), connection B runs `write`, then A runs a
/// transaction. Returns A's EXEC reply.
fn watched_exec(server: &ServerProcess, key: &[u8], setup: &[Args], write: Args) -> Vec<u8> {
    let (mut a, mut b) = (server.conn(), server.conn());
    for cmd in setup {
        send(&mut a, cmd);
    }
    send(&mut a, &[b"WATCH", key]);
    send(&mut b, write);
    send(&mut a, &[b"MULTI"]);
    send(&mut a, &[b"SCARD", b"other"]);
    send(&mut a, &[b"EXEC"]).1
}

#[test]
fn watch_sees_the_same_modifications_as_redis() {
    let ours = ServerProcess::start(&[]);
    let theirs = ServerProcess::start_redis(&[]);
    let cases: &[(Args, Args)] = &[
        (&[b"SADD", b"k", b"1"], &[b"SADD", b"k", b"1"]),
        (&[b"SADD", b"k", b"1"], &[b"SADD", b"k", b"2"]),
        (&[b"SADD", b"k", b"1"], &[b"SREM", b"k", b"2"]),
        (&[b"SADD", b"k", b"1", b"2"], &[b"SREM", b"k", b"2"]),
        (&[b"SADD", b"k", b"1"], &[b"SPOP", b"k"]),
        (&[b"SADD", b"k", b"1"], &[b"SPOP", b"k", b"0"]),
        (&[b"SADD", b"k", b"1", b"2", b"3"], &[b"SPOP", b"k", b"2"]),
        (&[b"SADD", b"k", b"1"], &[b"SRANDMEMBER", b"k", b"-3"]),
        (&[b"SADD", b"k", b"1"], &[b"SMOVE", b"k", b"x", b"1"]),
        (&[b"SADD", b"k", b"1"], &[b"SMOVE", b"k", b"k", b"1"]),
        (&[b"SADD", b"x", b"1"], &[b"SMOVE", b"x", b"k", b"1"]),
        (&[b"SADD", b"k", b"1"], &[b"SINTERSTORE", b"k", b"nokey"]),
        (&[], &[b"SINTERSTORE", b"k", b"nokey"]),
        (&[b"SADD", b"k", b"1"], &[b"SUNIONSTORE", b"k", b"k"]),
        (&[b"SADD", b"k", b"1"], &[b"SDIFFSTORE", b"k", b"k"]),
        (&[b"SADD", b"k", b"1"], &[b"SINTER", b"k", b"k"]),
    ];
    for (n, (setup, write)) in cases.iter().enumerate() {
        // A fresh key name per case, in both servers.
        let key = format!("k{n}");
        let rename = |args: Args| -> Vec<Vec<u8>> {
            args.iter()
                .map(|a| {
                    if *a == b"k" {
                        key.as_bytes().to_vec()
                    } else {
                        a.to_vec()
                    }
                })
                .collect()
        };
        let (setup, write) = (rename(setup), rename(write));
        let setup: Vec<&[u8]> = setup.iter().map(Vec::as_slice).collect();
        let write: Vec<&[u8]> = write.iter().map(Vec::as_slice).collect();
        let setups: Vec<Args> = if setup.is_empty() {
            vec![]
        } else {
            vec![&setup]
        };
        let a = watched_exec(&ours, key.as_bytes(), &setups, &write);
        let b = watched_exec(&theirs, key.as_bytes(), &setups, &write);
        assert_eq!(
            String::from_utf8_lossy(&a),
            String::from_utf8_lossy(&b),
            "after {:?}",
            shown(&write)
        );
    }
}

#[test]
fn claimed_counts_are_not_allocated() {
    let server = ServerProcess::start(&[]);
    let mut c = server.conn();
    let members: Vec<Vec<u8>> = (0..1000).map(|i| format!("m{i}").into_bytes()).collect();
    let mut sadd: Vec<&[u8]> = vec![b"SADD", b"s"];
    sadd.extend(members.iter().map(Vec::as_slice));
    assert_eq!(send(&mut c, &sadd).0, Value::Int(1000));
    let rss_before = server.rss_bytes();
    let huge = b"-9223372036854775807";
    assert!(matches!(
        send(&mut c, &[b"SRANDMEMBER", b"s", huge]).0,
        Value::Error(_)
    ));
    assert!(matches!(
        send(&mut c, &[b"SINTERCARD", b"9223372036854775807", b"s"]).0,
        Value::Error(_)
    ));
    let Value::Array(all) = send(&mut c, &[b"SRANDMEMBER", b"s", b"9223372036854775807"]).0 else {
        panic!("an array")
    };
    assert_eq!(all.len(), 1000);
    let reply = send(
        &mut c,
        &[b"SSCAN", b"s", b"0", b"COUNT", b"9223372036854775807"],
    )
    .0;
    let Value::Array(parts) = reply else {
        panic!("SSCAN replies an array")
    };
    assert_eq!(
        parts[0],
        Value::Bulk(b"0".to_vec()),
        "one call walks everything"
    );
    let Value::Array(popped) = send(&mut c, &[b"SPOP", b"s", b"9223372036854775807"]).0 else {
        panic!("an array")
    };
    assert_eq!(popped.len(), 1000);
    assert_eq!(send(&mut c, &[b"SCARD", b"s"]).0, Value::Int(0));
    let rss_after = server.rss_bytes();
    assert!(
        rss_after < rss_before + 64 * 1024 * 1024,
        "RSS grew from {rss_before} to {rss_after}"
    );
    assert_eq!(send(&mut c, &[b"PING"]).0, Value::Simple(b"PONG".to_vec()));
}

#[test]
fn large_sets_through_a_client_match_redis() {
    let ours = ServerProcess::start(&[]);
    let theirs = ServerProcess::start_redis(&[]);
    let mut results = Vec::new();
    for server in [&ours, &theirs] {
        let mut c = server.client();
        let a: Vec<i64> = (0..20_000).collect();
        let b: Vec<String> = (10_000..30_000).map(|i| format!("{i}")).collect();
        let small: Vec<i64> = (0..500).map(|i| i * 7).collect();
        let _: usize = c.sadd("a", &a).expect("SADD a");
        let _: usize = c.sadd("b", &b).expect("SADD b");
        let _: usize = c.sadd("small", &small).expect("SADD small");
        let scanned: std::collections::HashSet<i64> =
            c.sscan::<_, i64>("a").expect("SSCAN").collect();
        assert_eq!(scanned.len(), 20_000, "SSCAN walks the whole table");
        let mut inter: Vec<i64> = c.sinter(&["a", "b"]).expect("SINTER");
        inter.sort_unstable();
        let card: usize = redis::cmd("SINTERCARD")
            .arg(3)
            .arg(&["a", "b", "small"])
            .query(&mut c)
            .expect("SINTERCARD");
        let union_len: usize = c
            .sunionstore("u", &["a", "b", "small"])
            .expect("SUNIONSTORE");
        let diff_len: usize = c.sdiffstore("d", &["small", "b"]).expect("SDIFFSTORE");
        // The small difference is an intset: its members come back in ascending order.
        let diff: Vec<i64> = c.smembers("d").expect("SMEMBERS");
        results.push((inter, card, union_len, diff_len, diff));
    }
    assert_eq!(results[0], results[1]);
    assert_eq!(results[0].0.len(), 10_000);
    assert!(results[0].4.windows(2).all(|w| w[0] < w[1]));
}
