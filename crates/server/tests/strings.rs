//! Integration tests of the string and bit commands against the real binary: real clients,
//! size limits that must hold before anything is allocated, WATCH seeing every modification,
//! and a seeded random command stream whose replies must match Redis 7.0 byte for byte.

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

fn is_error(conn: &mut RawConn, args: &[&[u8]], text: &str) -> bool {
    match send(conn, args).0 {
        Value::Error(e) => e == text.as_bytes(),
        _ => false,
    }
}

#[test]
fn appends_build_large_values_in_place() {
    let server = ServerProcess::start(&[]);
    let mut c = server.client();
    let chunk = vec![b'x'; 1024];
    let mut len = 0;
    for i in 0..4096 {
        let mut piece = chunk.clone();
        piece[0] = (i % 251) as u8;
        len = c.append::<_, _, usize>("big", piece).expect("APPEND");
    }
    assert_eq!(len, 4096 * 1024);
    let strlen: usize = c.strlen("big").expect("STRLEN");
    assert_eq!(strlen, len);
    for i in [0usize, 1, 2000, 4095] {
        let start = (i * 1024) as isize;
        let got: Vec<u8> = c.getrange("big", start, start + 1).expect("GETRANGE");
        assert_eq!(got, vec![(i % 251) as u8, b'x']);
    }
}

#[test]
fn claimed_sizes_are_refused_before_allocating() {
    let server = ServerProcess::start(&["--proto-max-bulk-len", "1mb"]);
    let mut c = server.conn();
    let too_big = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
    let bad_offset = "ERR bit offset is not an integer or out of range";
    let rss_before = server.rss_bytes();
    for offset in ["1048576", "9223372036854775807", "2147483647"] {
        assert!(is_error(
            &mut c,
            &[b"SETRANGE", b"k", offset.as_bytes(), b"x"],
            too_big
        ));
    }
    assert!(is_error(
        &mut c,
        &[b"SETBIT", b"k", b"8388608", b"1"],
        bad_offset
    ));
    assert!(is_error(
        &mut c,
        &[b"BITFIELD", b"k", b"SET", b"i64", b"#131072", b"1"],
        bad_offset
    ));
    assert!(is_error(&mut c, &[b"GETBIT", b"k", b"8388608"], bad_offset));
    assert_eq!(send(&mut c, &[b"GET", b"k"]).0, Value::Nil);
    // Right at the limit is allowed, and one byte more is not.
    let patch = vec![b'y'; 1024];
    let reply = send(&mut c, &[b"SETRANGE", b"k", b"1047552", &patch]).0;
    assert_eq!(reply, Value::Int(1024 * 1024));
    assert!(is_error(&mut c, &[b"APPEND", b"k", b"z"], too_big));
    let rss_after = server.rss_bytes();
    assert!(
        rss_after < rss_before + 64 * 1024 * 1024,
        "RSS grew from {rss_before} to {rss_after}"
    );
}

#[test]
fn incrbyfloat_through_a_client() {
    let server = ServerProcess::start(&[]);
    let mut c = server.client();
    let v: String = redis::cmd("INCRBYFLOAT")
        .arg("f")
        .arg("10.5")
        .query(&mut c)
        .expect("INCRBYFLOAT");
    assert_eq!(v, "10.5");
    let v: String = redis::cmd("INCRBYFLOAT")
        .arg("f")
        .arg("0.1")
        .query(&mut c)
        .expect("INCRBYFLOAT");
    assert_eq!(v, "10.6");
    let v: String = redis::cmd("INCRBYFLOAT")
        .arg("f")
        .arg("-5.0e3")
        .query(&mut c)
        .expect("INCRBYFLOAT");
    // Long double arithmetic, printed with 17 decimals: exactly Redis's answer.
    assert_eq!(v, "-4989.39999999999999991");
    let err = redis::cmd("INCRBYFLOAT")
        .arg("f")
        .arg("+inf")
        .query::<String>(&mut c)
        .expect_err("infinite");
    assert!(err
        .to_string()
        .contains("increment would produce NaN or Infinity"));
}

/// Runs `scenario` on a fresh server: connection A watches `k` (holding `setup`), connection B
/// runs `write`, then A runs MULTI/GET/EXEC. Returns A's EXEC reply.
fn watched_exec(server: &ServerProcess, setup: &[&[u8]], write: &[&[u8]]) -> Vec<u8> {
    let (mut a, mut b) = (server.conn(), server.conn());
    send(&mut a, &[b"GETDEL", b"k"]);
    if !setup.is_empty() {
        send(&mut a, setup);
    }
    send(&mut a, &[b"WATCH", b"k"]);
    send(&mut b, write);
    send(&mut a, &[b"MULTI"]);
    send(&mut a, &[b"GET", b"other"]);
    send(&mut a, &[b"EXEC"]).1
}

#[test]
fn watch_sees_the_same_modifications_as_redis() {
    let ours = ServerProcess::start(&[]);
    let theirs = ServerProcess::start_redis(&[]);
    let set_k: Args = &[b"SET", b"k", b"abc"];
    let cases: &[(Args, Args)] = &[
        (set_k, &[b"APPEND", b"k", b"d"]),
        (set_k, &[b"SETRANGE", b"k", b"1", b"z"]),
        (set_k, &[b"SETRANGE", b"k", b"1", b""]),
        (set_k, &[b"GETDEL", b"k"]),
        (set_k, &[b"GETEX", b"k", b"EX", b"100"]),
        (set_k, &[b"GETEX", b"k"]),
        (set_k, &[b"GETEX", b"k", b"PERSIST"]),
        (set_k, &[b"INCRBYFLOAT", b"k", b"1"]),
        (&[b"SET", b"k", b"1"], &[b"INCRBYFLOAT", b"k", b"1"]),
        (set_k, &[b"SETBIT", b"k", b"0", b"1"]),
        (set_k, &[b"SETBIT", b"k", b"0", b"0"]),
        (set_k, &[b"BITOP", b"NOT", b"k", b"k"]),
        (set_k, &[b"BITOP", b"AND", b"k", b"nokey"]),
        (set_k, &[b"BITFIELD", b"k", b"SET", b"u8", b"0", b"97"]),
        (set_k, &[b"BITFIELD", b"k", b"SET", b"u8", b"0", b"1"]),
        (set_k, &[b"BITFIELD", b"k", b"GET", b"u8", b"0"]),
        (
            &[],
            &[
                b"BITFIELD",
                b"k",
                b"OVERFLOW",
                b"FAIL",
                b"SET",
                b"u8",
                b"0",
                b"300",
            ],
        ),
        (set_k, &[b"GETRANGE", b"k", b"0", b"-1"]),
    ];
    for (setup, write) in cases {
        let a = watched_exec(&ours, setup, write);
        let b = watched_exec(&theirs, setup, write);
        let shown: Vec<String> = write
            .iter()
            .map(|w| String::from_utf8_lossy(w).into())
            .collect();
        assert_eq!(
            String::from_utf8_lossy(&a),
            String::from_utf8_lossy(&b),
            "after {shown:?}"
        );
    }
}

/// A random command over a few keys, biased towards edge cases of the string and bit families.
fn random_command(rng: &mut fastrand::Rng) -> Vec<Vec<u8>> {
    let key = |rng: &mut fastrand::Rng| format!("k{}", rng.u8(0..4)).into_bytes();
    let index = |rng: &mut fastrand::Rng| -> Vec<u8> {
        let v: i64 = match rng.u8(0..6) {
            0 => rng.i64(-3..3),
            1 => rng.i64(-300..300),
            2 => rng.i64(-40..40),
            3 => rng.i64(0..80),
            4 => [i64::MIN, i64::MAX, -1, 0][rng.usize(0..4)],
            _ => rng.i64(-20..20),
        };
        v.to_string().into_bytes()
    };
    let bytes = |rng: &mut fastrand::Rng| -> Vec<u8> {
        let len = rng.usize(0..40);
        let pool = [0u8, 0xFF, 0x0F, b'a', b'1', 0x80, 0x01];
        (0..len)
            .map(|_| {
                if rng.bool() {
                    pool[rng.usize(0..pool.len())]
                } else {
                    rng.u8(..)
                }
            })
            .collect()
    };
    let unit = |rng: &mut fastrand::Rng| -> Vec<u8> {
        [&b"BIT"[..], b"BYTE", b"bit", b"byte"][rng.usize(0..4)].to_vec()
    };
    let field = |rng: &mut fastrand::Rng| -> Vec<u8> {
        let signed = rng.bool();
        let bits = if signed {
            rng.u32(1..=64)
        } else {
            rng.u32(1..=63)
        };
        format!("{}{}", if signed { 'i' } else { 'u' }, bits).into_bytes()
    };
    let v = |s: &str| s.as_bytes().to_vec();
    match rng.u8(0..16) {
        0 => vec![v("SET"), key(rng), bytes(rng)],
        1 => vec![v("APPEND"), key(rng), bytes(rng)],
        2 => vec![
            v("SETRANGE"),
            key(rng),
            rng.u64(0..60).to_string().into_bytes(),
            bytes(rng),
        ],
        3 => vec![v("GETRANGE"), key(rng), index(rng), index(rng)],
        4 => vec![
            v("SETBIT"),
            key(rng),
            rng.u64(0..400).to_string().into_bytes(),
            v(["0", "1"][rng.usize(0..2)]),
        ],
        5 => vec![
            v("GETBIT"),
            key(rng),
            rng.u64(0..400).to_string().into_bytes(),
        ],
        6 => {
            let mut c = vec![v("BITCOUNT"), key(rng)];
            if rng.bool() {
                c.extend([index(rng), index(rng)]);
                if rng.bool() {
                    c.push(unit(rng));
                }
            }
            c
        }
        7 | 8 => {
            let mut c = vec![v("BITPOS"), key(rng), v(["0", "1"][rng.usize(0..2)])];
            let extra = rng.usize(0..4);
            if extra >= 1 {
                c.push(index(rng));
            }
            if extra >= 2 {
                c.push(index(rng));
            }
            if extra >= 3 {
                c.push(unit(rng));
            }
            c
        }
        9 => {
            let op = ["AND", "OR", "XOR", "NOT"][rng.usize(0..4)];
            let sources = if op == "NOT" { 1 } else { rng.usize(1..4) };
            let mut c = vec![v("BITOP"), v(op), key(rng)];
            c.extend((0..sources).map(|_| key(rng)));
            c
        }
        10 | 11 => {
            let mut c = vec![v("BITFIELD"), key(rng)];
            for _ in 0..rng.usize(1..4) {
                match rng.u8(0..4) {
                    0 => c.extend([
                        v("GET"),
                        field(rng),
                        rng.u64(0..200).to_string().into_bytes(),
                    ]),
                    1 => c.extend([
                        v("SET"),
                        field(rng),
                        rng.u64(0..200).to_string().into_bytes(),
                        index(rng),
                    ]),
                    2 => c.extend([
                        v("INCRBY"),
                        field(rng),
                        rng.u64(0..200).to_string().into_bytes(),
                        index(rng),
                    ]),
                    _ => c.extend([v("OVERFLOW"), v(["WRAP", "SAT", "FAIL"][rng.usize(0..3)])]),
                }
            }
            c
        }
        12 => {
            let by = format!(
                "{}.{}e{}",
                rng.i32(-999..999),
                rng.u32(0..99999),
                rng.i32(-5..5)
            );
            vec![v("INCRBYFLOAT"), key(rng), by.into_bytes()]
        }
        13 => {
            let mut c = vec![v("LCS"), key(rng), key(rng)];
            match rng.u8(0..3) {
                0 => c.push(v("LEN")),
                1 => c.extend([
                    v("IDX"),
                    v("WITHMATCHLEN"),
                    v("MINMATCHLEN"),
                    rng.u8(0..3).to_string().into_bytes(),
                ]),
                _ => {}
            }
            c
        }
        14 => vec![v("STRLEN"), key(rng)],
        _ => vec![v(["GETDEL", "GET"][rng.usize(0..2)]), key(rng)],
    }
}

#[test]
fn random_commands_match_redis() {
    let ours = ServerProcess::start(&[]);
    let theirs = ServerProcess::start_redis(&[]);
    let (mut a, mut b) = (ours.conn(), theirs.conn());
    let mut rng = fastrand::Rng::with_seed(0x5EED_0001);
    let mut errors = 0;
    for n in 0..3000 {
        let cmd = random_command(&mut rng);
        let args: Vec<&[u8]> = cmd.iter().map(Vec::as_slice).collect();
        let (ra, rb) = (send(&mut a, &args).1, send(&mut b, &args).1);
        errors += usize::from(ra.first() == Some(&b'-'));
        assert_eq!(
            String::from_utf8_lossy(&ra),
            String::from_utf8_lossy(&rb),
            "command {n}: {:?}",
            args.iter()
                .map(|a| String::from_utf8_lossy(a))
                .collect::<Vec<_>>()
        );
    }
    // The stream must mostly exercise successful paths, not only argument errors.
    assert!(errors < 1000, "{errors} of 3000 commands failed");
}
