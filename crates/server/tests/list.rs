//! Integration tests of the list commands against the real binary: seeded random command
//! streams whose replies must match Redis 7.0 byte for byte under several node sizes and
//! compress depths, WATCH seeing exactly Redis's modifications, claimed sizes that must not
//! allocate, a real client, and LZF output Redis can read.

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

/// A random element: mostly short strings and integers (so searches find matches), some
/// long enough to fill nodes quickly, a few too big for any 8 KiB node.
fn element(rng: &mut fastrand::Rng) -> Vec<u8> {
    match rng.u8(0..10) {
        0..=3 => format!("e{}", rng.u8(0..6)).into_bytes(),
        4 => rng.i64(-3..3).to_string().into_bytes(),
        5 => [i64::MIN, i64::MAX, 4095, -4096, 32768][rng.usize(0..5)]
            .to_string()
            .into_bytes(),
        6 => vec![b'a' + rng.u8(0..3); rng.usize(50..700)],
        7 => vec![b'z'; rng.usize(8000..9000)],
        _ => (0..rng.usize(0..12)).map(|_| rng.u8(..)).collect(),
    }
}

fn index(rng: &mut fastrand::Rng) -> Vec<u8> {
    let v: i64 = match rng.u8(0..5) {
        0 => rng.i64(-3..3),
        1 => rng.i64(-60..60),
        2 => [i64::MIN, i64::MAX, -1, 0][rng.usize(0..4)],
        _ => rng.i64(-20..20),
    };
    v.to_string().into_bytes()
}

/// A random list command over a few keys (and one string, for WRONGTYPE).
fn random_command(rng: &mut fastrand::Rng) -> Vec<Vec<u8>> {
    let key = |rng: &mut fastrand::Rng| {
        if rng.u8(0..30) == 0 {
            b"str".to_vec()
        } else {
            format!("k{}", rng.u8(0..3)).into_bytes()
        }
    };
    let end = |rng: &mut fastrand::Rng| [&b"LEFT"[..], b"RIGHT"][rng.usize(0..2)].to_vec();
    let v = |s: &str| s.as_bytes().to_vec();
    let k = key(rng);
    match rng.u8(0..20) {
        0..=4 => {
            let cmd = ["LPUSH", "RPUSH", "LPUSHX", "RPUSHX"][rng.usize(0..4)];
            let mut c = vec![v(cmd), k];
            c.extend((0..rng.usize(1..12)).map(|_| element(rng)));
            c
        }
        5 | 6 => {
            let mut c = vec![v(["LPOP", "RPOP"][rng.usize(0..2)]), k];
            if rng.bool() {
                c.push(rng.u8(0..8).to_string().into_bytes());
            }
            c
        }
        7 => vec![v("LRANGE"), k, index(rng), index(rng)],
        8 => vec![v("LINDEX"), k, index(rng)],
        9 => vec![v("LSET"), k, index(rng), element(rng)],
        10 | 11 => {
            let place = v(["BEFORE", "AFTER"][rng.usize(0..2)]);
            vec![v("LINSERT"), k, place, element(rng), element(rng)]
        }
        12 => vec![
            v("LREM"),
            k,
            rng.i64(-3..4).to_string().into_bytes(),
            element(rng),
        ],
        13 => vec![v("LTRIM"), k, index(rng), index(rng)],
        14 => {
            let mut c = vec![v("LPOS"), k, element(rng)];
            if rng.bool() {
                c.extend([
                    v("RANK"),
                    [&b"1"[..], b"2", b"-1", b"-2"][rng.usize(0..4)].to_vec(),
                ]);
            }
            if rng.bool() {
                c.extend([v("COUNT"), rng.u8(0..3).to_string().into_bytes()]);
            }
            if rng.bool() {
                c.extend([v("MAXLEN"), rng.u8(0..20).to_string().into_bytes()]);
            }
            c
        }
        15 => vec![v("LMOVE"), k, key(rng), end(rng), end(rng)],
        16 => vec![v("RPOPLPUSH"), k, key(rng)],
        17 => {
            let mut c = vec![v("LMPOP"), v("2"), k, key(rng), end(rng)];
            if rng.bool() {
                c.extend([v("COUNT"), rng.u8(1..6).to_string().into_bytes()]);
            }
            c
        }
        18 => vec![v("LLEN"), k],
        _ => vec![v("LRANGE"), k, v("0"), v("-1")],
    }
}

/// Runs a seeded stream of random list commands against both servers, started with `args`,
/// comparing every reply; the lists are read back whole every so often.
fn compare_random_stream(args: &[&str], seed: u64, commands: usize) {
    let ours = ServerProcess::start(args);
    let theirs = ServerProcess::start_redis(args);
    let (mut a, mut b) = (ours.conn(), theirs.conn());
    send(&mut a, &[b"SET", b"str", b"x"]);
    send(&mut b, &[b"SET", b"str", b"x"]);
    let mut rng = fastrand::Rng::with_seed(seed);
    let (mut errors, mut longest) = (0, 0);
    for n in 0..commands {
        let cmd = random_command(&mut rng);
        let args: Vec<&[u8]> = cmd.iter().map(Vec::as_slice).collect();
        let ((va, ra), rb) = (send(&mut a, &args), send(&mut b, &args).1);
        errors += usize::from(ra.first() == Some(&b'-'));
        if let (Value::Int(len), true) = (va, cmd[0].ends_with(b"PUSH")) {
            longest = longest.max(len);
        }
        assert!(
            ra == rb,
            "command {n} of seed {seed:#x}: {:?}\n  rudis: {}\n  redis: {}",
            args.iter()
                .map(|a| String::from_utf8_lossy(&a[..a.len().min(40)]).into_owned())
                .collect::<Vec<_>>(),
            String::from_utf8_lossy(&ra[..ra.len().min(300)]),
            String::from_utf8_lossy(&rb[..rb.len().min(300)]),
        );
    }
    // The stream must mostly exercise successful paths, not only errors, on lists long
    // enough to span many nodes.
    assert!(
        errors < commands / 4,
        "{errors} of {commands} commands failed"
    );
    assert!(longest >= 80, "the longest list had {longest} elements");
}

#[test]
fn random_commands_match_redis_with_default_nodes() {
    compare_random_stream(&[], 0x1157_0001, 3000);
}

#[test]
fn random_commands_match_redis_with_small_compressed_nodes() {
    let args = [
        "--list-max-listpack-size",
        "3",
        "--list-compress-depth",
        "1",
    ];
    compare_random_stream(&args, 0x1157_0002, 3000);
}

#[test]
fn random_commands_match_redis_with_4k_nodes_deeply_compressed() {
    let args = [
        "--list-max-listpack-size",
        "-1",
        "--list-compress-depth",
        "2",
    ];
    compare_random_stream(&args, 0x1157_0003, 3000);
}

/// Connection A watches `k` (after `setup`), connection B runs `write`, then A runs
/// MULTI/PING/EXEC. Returns A's EXEC reply: null if the write counted as a modification.
fn watched_exec(server: &ServerProcess, setup: &[Args], write: Args) -> Vec<u8> {
    let (mut a, mut b) = (server.conn(), server.conn());
    send(&mut a, &[b"LTRIM", b"k", b"1", b"0"]);
    send(&mut a, &[b"LTRIM", b"d", b"1", b"0"]);
    for cmd in setup {
        send(&mut a, cmd);
    }
    send(&mut a, &[b"WATCH", b"k"]);
    send(&mut b, write);
    send(&mut a, &[b"MULTI"]);
    send(&mut a, &[b"PING"]);
    send(&mut a, &[b"EXEC"]).1
}

#[test]
fn watch_sees_the_same_modifications_as_redis() {
    let ours = ServerProcess::start(&[]);
    let theirs = ServerProcess::start_redis(&[]);
    let abc: Args = &[b"RPUSH", b"k", b"a", b"b", b"c"];
    let cases: &[(&[Args], Args)] = &[
        (&[], &[b"LPUSH", b"k", b"x"]),
        (&[], &[b"LPUSHX", b"k", b"x"]),
        (&[abc], &[b"RPUSHX", b"k", b"x"]),
        (&[abc], &[b"LPOP", b"k", b"0"]),
        (&[abc], &[b"RPOP", b"k"]),
        (&[], &[b"RPOP", b"k"]),
        (&[abc], &[b"LSET", b"k", b"0", b"a"]),
        (&[abc], &[b"LINSERT", b"k", b"BEFORE", b"z", b"x"]),
        (&[abc], &[b"LINSERT", b"k", b"AFTER", b"c", b"x"]),
        (&[abc], &[b"LREM", b"k", b"0", b"z"]),
        (&[abc], &[b"LREM", b"k", b"1", b"b"]),
        (&[abc], &[b"LTRIM", b"k", b"0", b"-1"]),
        (&[abc], &[b"LTRIM", b"k", b"5", b"1"]),
        (&[abc], &[b"LMOVE", b"k", b"d", b"LEFT", b"LEFT"]),
        (&[abc], &[b"LMOVE", b"d", b"k", b"LEFT", b"LEFT"]),
        (
            &[abc, &[b"RPUSH", b"d", b"1"]],
            &[b"LMOVE", b"d", b"k", b"LEFT", b"LEFT"],
        ),
        (&[abc], &[b"RPOPLPUSH", b"k", b"k"]),
        (&[abc], &[b"LMPOP", b"2", b"d", b"k", b"LEFT"]),
        (&[abc], &[b"LMPOP", b"1", b"d", b"LEFT"]),
        (&[abc], &[b"LRANGE", b"k", b"0", b"-1"]),
        (&[abc], &[b"LPOS", b"k", b"a"]),
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

#[test]
fn claimed_sizes_are_not_allocated() {
    let server = ServerProcess::start(&[]);
    let mut c = server.conn();
    send(&mut c, &[b"RPUSH", b"l", b"a", b"b", b"a"]);
    let rss_before = server.rss_bytes();
    let max = i64::MAX.to_string();
    let max = max.as_bytes();
    for _ in 0..100 {
        send(&mut c, &[b"LRANGE", b"l", b"0", max]);
        send(
            &mut c,
            &[b"LPOS", b"l", b"a", b"COUNT", max, b"MAXLEN", max],
        );
        send(&mut c, &[b"LPOP", b"nokey", max]);
        send(&mut c, &[b"LMPOP", b"1", b"nokey", b"LEFT", b"COUNT", max]);
    }
    let reply = send(&mut c, &[b"LPOS", b"l", b"a", b"COUNT", max]).1;
    assert_eq!(reply, b"*2\r\n:0\r\n:2\r\n");
    let reply = send(&mut c, &[b"RPOP", b"l", max]).1;
    assert_eq!(reply, b"*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\na\r\n");
    let rss_after = server.rss_bytes();
    assert!(
        rss_after < rss_before + 16 * 1024 * 1024,
        "RSS grew from {rss_before} to {rss_after}"
    );
}

#[test]
fn a_real_client_queues_through_lists() {
    let server = ServerProcess::start(&[
        "--list-max-listpack-size",
        "16",
        "--list-compress-depth",
        "1",
    ]);
    let mut c = server.client();
    let mut pipe = redis::pipe();
    for i in 0..1000 {
        pipe.rpush("queue", format!("job:{i}")).ignore();
    }
    pipe.query::<()>(&mut c).expect("pipeline");
    assert_eq!(c.llen::<_, usize>("queue").expect("LLEN"), 1000);
    let middle: Vec<String> = c.lrange("queue", 499, 501).expect("LRANGE");
    assert_eq!(middle, ["job:499", "job:500", "job:501"]);
    for i in 0..400 {
        let job: String = redis::cmd("LMOVE")
            .arg("queue")
            .arg("done")
            .arg("LEFT")
            .arg("RIGHT")
            .query(&mut c)
            .expect("LMOVE");
        assert_eq!(job, format!("job:{i}"));
    }
    let removed: usize = c.lrem("done", 0, "job:7").expect("LREM");
    assert_eq!(removed, 1);
    let pos: Option<usize> = redis::cmd("LPOS")
        .arg("queue")
        .arg("job:900")
        .query(&mut c)
        .expect("LPOS");
    assert_eq!(pos, Some(500));
    let () = c.ltrim("queue", 0, 9).expect("LTRIM");
    let rest: Vec<String> = c
        .lpop("queue", std::num::NonZeroUsize::new(20))
        .expect("LPOP");
    assert_eq!(rest.len(), 10);
    assert_eq!(rest[0], "job:400");
    assert_eq!(c.llen::<_, usize>("done").expect("LLEN"), 399);
}

/// Pushes `items` elements "item<n>" onto `key` in RPUSH batches of 100, pipelined.
fn load_items(conn: &mut RawConn, key: &[u8], items: usize) {
    let batches: Vec<Vec<Vec<u8>>> = (0..items)
        .step_by(100)
        .map(|start| {
            (start..(start + 100).min(items))
                .map(|i| format!("item{i}").into_bytes())
                .collect()
        })
        .collect();
    for chunk in batches.chunks(50) {
        for batch in chunk {
            let mut args: Vec<&[u8]> = vec![b"RPUSH", key];
            args.extend(batch.iter().map(Vec::as_slice));
            conn.send_bytes(&args);
        }
        for _ in chunk {
            conn.read_reply().expect("RPUSH reply");
        }
    }
}

/// RSS per element of one list of `items` short elements, after a warm-up that stores
/// nothing (so a worker thread's first allocations are not counted per element).
fn rss_per_item(server: &ServerProcess, items: usize) -> f64 {
    let mut c = server.conn();
    for _ in 0..2 {
        let mut warm = server.conn();
        load_items(&mut warm, b"none", 0);
        for _ in 0..200 {
            send(&mut warm, &[b"RPUSHX", b"none", b"x"]);
        }
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let before = server.rss_bytes();
    load_items(&mut c, b"list", items);
    assert_eq!(
        send(&mut c, &[b"LLEN", b"list"]).0,
        Value::Int(items as i64)
    );
    std::thread::sleep(std::time::Duration::from_millis(500));
    (server.rss_bytes() - before) as f64 / items as f64
}

/// A regression guard, not the comparison with Redis: that is measured (release build, a
/// million elements) by scripts/memory-compare.py, where both hold about 12.5 bytes per
/// element. Here a debug build and a fixed per-connection cost make the figure noisier.
#[test]
fn a_list_element_costs_listpack_bytes_not_more() {
    let ours = rss_per_item(&ServerProcess::start(&[]), 300_000);
    assert!(ours <= 14.0, "{ours:.2} bytes per element");
}

/// CRC-64 as Redis computes it for DUMP payloads.
fn crc64_redis(data: &[u8]) -> u64 {
    crc::Crc::<u64>::new(&crc::CRC_64_REDIS).checksum(data)
}

/// Appends an RDB length (6-, 14- or 32-bit form).
fn rdb_len(n: usize, out: &mut Vec<u8>) {
    if n < 64 {
        out.push(n as u8);
    } else if n < 16384 {
        out.extend_from_slice(&[0x40 | (n >> 8) as u8, n as u8]);
    } else {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

#[test]
fn redis_reads_our_lzf() {
    // Compressed list nodes travel in RDB files as they are, so Redis must read our LZF.
    // A DUMP payload of an LZF-compressed string is the smallest way to hand it some.
    let theirs = ServerProcess::start_redis(&[]);
    let mut c = theirs.conn();
    let mut rng = fastrand::Rng::with_seed(11);
    let texts: Vec<Vec<u8>> = vec![
        b"item:1 item:2 item:3 item:4 ".repeat(40),
        vec![b'q'; 20_000],
        (0..5000).map(|_| b"abcd"[rng.usize(0..4)]).collect(),
    ];
    for (n, text) in texts.iter().enumerate() {
        let lzf = rudis_server::util::lzf::compress(text, text.len()).expect("compressible");
        let mut payload = vec![0u8, 0xC3];
        rdb_len(lzf.len(), &mut payload);
        rdb_len(text.len(), &mut payload);
        payload.extend_from_slice(&lzf);
        payload.extend_from_slice(&[10, 0]);
        let crc = crc64_redis(&payload);
        payload.extend_from_slice(&crc.to_le_bytes());
        let key = format!("k{n}");
        let reply = send(&mut c, &[b"RESTORE", key.as_bytes(), b"0", &payload]).1;
        assert_eq!(reply, b"+OK\r\n", "text {n}");
        let (got, _) = send(&mut c, &[b"GET", key.as_bytes()]);
        assert_eq!(got, Value::Bulk(text.clone()), "text {n}");
    }
}
