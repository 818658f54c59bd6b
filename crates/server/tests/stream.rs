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
