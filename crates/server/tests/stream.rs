//! Streams against the real binaries: blocking XREAD served by XADD, and DUMP payloads of
//! streams moving between Redis and Rudis both ways.

mod common;

use std::time::Duration;

use common::ServerProcess;

fn xrange(con: &mut redis::Connection, key: &str) -> redis::Value {
    redis::cmd("XRANGE")
        .arg(key)
        .arg("-")
        .arg("+")
        .query(con)
        .expect("xrange")
}

#[test]
fn blocked_xread_with_dollar_gets_the_next_entry() {
    let srv = ServerProcess::start(&[]);
    let mut writer = srv.client();
    let _: String = redis::cmd("XADD")
        .arg("s")
        .arg("1-0")
        .arg("a")
        .arg("1")
        .query(&mut writer)
        .unwrap();
    let port = srv.port;
    let reader = std::thread::spawn(move || {
        let mut c = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
            .unwrap()
            .get_connection()
            .unwrap();
        let v: redis::Value = redis::cmd("XREAD")
            .arg("BLOCK")
            .arg(5000)
            .arg("STREAMS")
            .arg("s")
            .arg("$")
            .query(&mut c)
            .unwrap();
        v
    });
    std::thread::sleep(Duration::from_millis(300));
    let _: String = redis::cmd("XADD")
        .arg("s")
        .arg("2-0")
        .arg("b")
        .arg("2")
        .query(&mut writer)
        .unwrap();
    let got = format!("{:?}", reader.join().unwrap());
    assert!(got.contains("2-0") && !got.contains("1-0"), "{got}");
}

#[test]
fn dump_payloads_cross_both_ways() {
    let rudis = ServerProcess::start(&[]);
    let redis_srv = ServerProcess::start_redis(&[]);
    let (mut a, mut b) = (rudis.client(), redis_srv.client());
    for (con, key) in [(&mut a, "from-rudis"), (&mut b, "from-redis")] {
        for (id, f) in [("1-1", "x"), ("2-1", "y"), ("3-1", "x")] {
            let _: String = redis::cmd("XADD")
                .arg(key)
                .arg(id)
                .arg(f)
                .arg("12")
                .arg("g")
                .arg("v")
                .query(con)
                .unwrap();
        }
        let _: i64 = redis::cmd("XDEL").arg(key).arg("2-1").query(con).unwrap();
    }
    copy_stream(&mut a, &mut b, "from-rudis");
    copy_stream(&mut b, &mut a, "from-redis");
}

fn copy_stream(src: &mut redis::Connection, dst: &mut redis::Connection, key: &str) {
    let payload: Vec<u8> = redis::cmd("DUMP").arg(key).query(src).unwrap();
    let _: String = redis::cmd("RESTORE")
        .arg(key)
        .arg(0)
        .arg(payload)
        .query(dst)
        .unwrap();
    assert_eq!(xrange(src, key), xrange(dst, key));
    let len: i64 = redis::cmd("XLEN").arg(key).query(dst).unwrap();
    assert_eq!(len, 2);
}

// ---- Consumer groups -----------------------------------------------------------------------

use common::{cmd, wait_until, RawConn};

fn ok(c: &mut RawConn, args: &[&str]) -> String {
    let r = cmd(c, args);
    assert!(!r.starts_with('-'), "{args:?}: {r}");
    r
}

/// The strings of a reply, depth first.
fn flat(v: &rudis_resp::Value) -> Vec<String> {
    match v {
        rudis_resp::Value::Array(items) => items.iter().flat_map(flat).collect(),
        other => vec![common::text(other)],
    }
}

/// Blocked clients as INFO counts them.
fn blocked_clients(c: &mut RawConn) -> String {
    let info = cmd(c, &["INFO", "clients"]);
    info.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .unwrap_or("?")
        .to_string()
}

/// Sends a blocking XREADGROUP on `reader` and waits until the server has it blocked.
fn block_reader(reader: &mut RawConn, other: &mut RawConn, group: &str) {
    reader.send(&[
        "XREADGROUP",
        "GROUP",
        group,
        "alice",
        "BLOCK",
        "0",
        "STREAMS",
        "s",
        ">",
    ]);
    wait_until("the reader to block", || blocked_clients(other) == "1");
}

#[test]
fn blocked_xreadgroup_is_served_by_xadd_and_answered_when_its_stream_or_group_goes() {
    let srv = ServerProcess::start(&[]);
    let (mut reader, mut w) = (srv.conn(), srv.conn());
    ok(&mut w, &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);

    block_reader(&mut reader, &mut w, "g");
    ok(&mut w, &["XADD", "s", "5-0", "f", "v"]);
    let got = flat(&reader.read_reply().unwrap().0);
    assert_eq!(got, ["s", "5-0", "f", "v"]);
    let pending = w.command(&["XPENDING", "s", "g", "-", "+", "10", "alice"]);
    assert_eq!(flat(&pending.unwrap())[..2], ["5-0", "alice"]);

    block_reader(&mut reader, &mut w, "g");
    ok(&mut w, &["XGROUP", "DESTROY", "s", "g"]);
    let got = common::text(&reader.read_reply().unwrap().0);
    assert!(got.starts_with("-NOGROUP"), "{got}");

    ok(&mut w, &["XGROUP", "CREATE", "s", "g", "$"]);
    block_reader(&mut reader, &mut w, "g");
    ok(&mut w, &["DEL", "s"]);
    let got = common::text(&reader.read_reply().unwrap().0);
    assert_eq!(got, "-UNBLOCKED the stream key no longer exists");

    ok(&mut w, &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
    block_reader(&mut reader, &mut w, "g");
    ok(&mut w, &["FLUSHALL"]);
    let got = common::text(&reader.read_reply().unwrap().0);
    assert_eq!(got, "-UNBLOCKED the stream key no longer exists");
}

/// A stream with two groups, pending entries owned by several consumers (one deleted from
/// the stream), a consumer with nothing pending, and a group whose read counter is unknown.
fn build_groups(c: &mut RawConn) {
    for i in 1..=6 {
        ok(c, &["XADD", "s", &format!("{i}-1"), "f", &i.to_string()]);
    }
    ok(c, &["XGROUP", "CREATE", "s", "g1", "0"]);
    ok(
        c,
        &["XGROUP", "CREATE", "s", "g2", "3-1", "ENTRIESREAD", "-1"],
    );
    ok(
        c,
        &[
            "XREADGROUP",
            "GROUP",
            "g1",
            "alice",
            "COUNT",
            "3",
            "STREAMS",
            "s",
            ">",
        ],
    );
    ok(
        c,
        &[
            "XREADGROUP",
            "GROUP",
            "g1",
            "bob",
            "COUNT",
            "1",
            "STREAMS",
            "s",
            ">",
        ],
    );
    ok(
        c,
        &[
            "XREADGROUP",
            "GROUP",
            "g2",
            "carol",
            "NOACK",
            "STREAMS",
            "s",
            ">",
        ],
    );
    ok(c, &["XGROUP", "CREATECONSUMER", "s", "g1", "dave"]);
    ok(
        c,
        &[
            "XCLAIM",
            "s",
            "g1",
            "bob",
            "0",
            "2-1",
            "TIME",
            "12345",
            "RETRYCOUNT",
            "7",
        ],
    );
    ok(c, &["XDEL", "s", "3-1"]);
}

fn full(c: &mut RawConn) -> String {
    flat(&c.command(&["XINFO", "STREAM", "s", "FULL"]).unwrap()).join(" ")
}

#[test]
fn consumer_groups_cross_rdb_files_both_ways() {
    // Redis writes, Rudis loads.
    let redis_srv = ServerProcess::start_redis(&[]);
    let mut r = redis_srv.conn();
    build_groups(&mut r);
    ok(&mut r, &["SAVE"]);
    let dir = common::scratch_dir("groups-rdb");
    std::fs::copy(redis_srv.dir.join("dump.rdb"), dir.join("from-redis.rdb")).unwrap();
    let dir_arg = dir.to_str().unwrap();
    let rudis = ServerProcess::start(&["--dir", dir_arg, "--dbfilename", "from-redis.rdb"]);
    let mut a = rudis.conn();
    assert_eq!(full(&mut a), full(&mut r));
    assert_eq!(
        cmd(&mut a, &["XINFO", "GROUPS", "s"]),
        cmd(&mut r, &["XINFO", "GROUPS", "s"])
    );

    // Rudis writes, redis-check-rdb accepts it and Redis loads it.
    ok(&mut a, &["XGROUP", "CREATE", "s", "g3", "$"]);
    ok(&mut a, &["SAVE"]);
    let file = dir.join("from-redis.rdb");
    let check = std::process::Command::new("redis-check-rdb")
        .arg(&file)
        .output()
        .expect("redis-check-rdb");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    let back = ServerProcess::start_redis(&["--dir", dir_arg, "--dbfilename", "from-redis.rdb"]);
    let mut b = back.conn();
    assert_eq!(full(&mut b), full(&mut a));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn consumer_group_payloads_cross_both_ways() {
    let (rudis, redis_srv) = (ServerProcess::start(&[]), ServerProcess::start_redis(&[]));
    let (mut a, mut r) = (rudis.conn(), redis_srv.conn());
    build_groups(&mut r);
    let mut redis_c = redis_srv.client();
    let mut rudis_c = rudis.client();
    let payload: Vec<u8> = redis::cmd("DUMP").arg("s").query(&mut redis_c).unwrap();
    let _: String = redis::cmd("RESTORE")
        .arg("s")
        .arg(0)
        .arg(&payload)
        .query(&mut rudis_c)
        .unwrap();
    assert_eq!(full(&mut a), full(&mut r));
    let payload: Vec<u8> = redis::cmd("DUMP").arg("s").query(&mut rudis_c).unwrap();
    let _: String = redis::cmd("RESTORE")
        .arg("s")
        .arg(0)
        .arg(&payload)
        .arg("REPLACE")
        .query(&mut redis_c)
        .unwrap();
    assert_eq!(full(&mut a), full(&mut r));
}

#[test]
fn a_redis_replica_rebuilds_the_groups_from_what_rudis_propagates() {
    let master = ServerProcess::start(&["--repl-diskless-sync-delay", "0"]);
    let replica = ServerProcess::start_redis(&[]);
    let (mut m, mut r) = (master.conn(), replica.conn());
    ok(
        &mut r,
        &["REPLICAOF", "127.0.0.1", &master.port.to_string()],
    );
    wait_until("the link to come up", || {
        cmd(&mut r, &["INFO", "replication"]).contains("master_link_status:up")
    });
    build_groups(&mut m);
    ok(
        &mut m,
        &["XAUTOCLAIM", "s", "g1", "erin", "0", "0", "COUNT", "2"],
    );
    ok(&mut m, &["XACK", "s", "g1", "4-1"]);
    ok(
        &mut m,
        &["XCLAIM", "s", "g1", "frank", "0", "9-9", "LASTID", "5-1"],
    );
    ok(&mut m, &["XGROUP", "DELCONSUMER", "s", "g1", "dave"]);
    // A consumer's seen time is the clock of the server that ran the command.
    let groups = |c: &mut RawConn| {
        let mut words = flat(&c.command(&["XINFO", "STREAM", "s", "FULL"]).unwrap());
        for i in 1..words.len() {
            if words[i - 1] == "seen-time" {
                words[i] = "*".into();
            }
        }
        words.join(" ")
    };
    let want = groups(&mut m);
    let mut last = String::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        last = groups(&mut r);
        if last == want {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("the replica differs:\n{last}\nthe master:\n{want}");
}
