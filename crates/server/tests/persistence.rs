//! RDB persistence with real processes: files move between Redis 7.0 and Rudis in both
//! directions with identical contents (DEBUG DIGEST, TTLs, encodings); BGSAVE writes the
//! image of its barrier while clients overwrite keys; save points, SHUTDOWN and DEBUG
//! RELOAD; `-LOADING` while a file loads; damaged files refuse to load; a failing BGSAVE
//! stops writes with MISCONF; a BGSAVE's writer process can be killed (a failed save),
//! while FLUSHALL and SHUTDOWN stop it without an error.

mod common;

use std::path::{Path, PathBuf};

use common::{cmd, info_field, wait_until, RawConn, ServerProcess};
use rudis_resp::Value;

/// Fills a server with every type in every encoding Redis 7.0 writes.
fn fill_every_encoding(c: &mut RawConn) {
    let mut run = |args: &[&str]| {
        let r = c.command(args).expect("reply");
        assert!(!matches!(r, Value::Error(_)), "{args:?}: {r:?}");
    };
    run(&["SET", "str:int", "12345"]);
    run(&["SET", "str:neg", "-9223372036854775808"]);
    run(&["SET", "str:short", "hello"]);
    let long = "abcdefghij".repeat(50);
    run(&["SET", "str:long", &long]);
    run(&["SET", "str:ttl", "v", "PX", "100000000"]);
    run(&["RPUSH", "list:small", "a", "b", "1", "-2"]);
    for i in 0..2000 {
        run(&["RPUSH", "list:big", &format!("element-{i}")]);
    }
    // Inner nodes LZF-compressed (the servers run with list-compress-depth 1).
    for i in 0..300 {
        run(&["RPUSH", "list:lzf", &format!("{i:0>60}")]);
    }
    run(&["HSET", "hash:small", "f", "v", "n", "1"]);
    for i in 0..600 {
        run(&["HSET", "hash:big", &format!("f{i}"), &format!("v{i}")]);
    }
    run(&["SADD", "set:int", "1", "2", "3", "-100000", "5000000000"]);
    run(&["SADD", "set:str", "a", "b", "c"]);
    for i in 0..600 {
        run(&["SADD", "set:bigint", &i.to_string()]);
    }
    run(&["ZADD", "zset:small", "1", "a", "2.5", "b", "-inf", "c"]);
    for i in 0..200 {
        run(&["ZADD", "zset:big", &format!("{}.25", i), &format!("m{i}")]);
    }
    run(&["SELECT", "7"]);
    run(&["SET", "other:db", "seven"]);
    run(&["EXPIRE", "other:db", "100000"]);
    run(&["SELECT", "0"]);
}

const KEYS: &[&str] = &[
    "str:int",
    "str:neg",
    "str:short",
    "str:long",
    "str:ttl",
    "list:small",
    "list:big",
    "list:lzf",
    "hash:small",
    "hash:big",
    "set:int",
    "set:str",
    "set:bigint",
    "zset:small",
    "zset:big",
];

/// What must survive a move between servers: the dataset digest and, per key, its value
/// digest, encoding and (rounded) TTL.
fn contents(c: &mut RawConn) -> Vec<String> {
    let mut out = vec![cmd(c, &["DEBUG", "DIGEST"]), cmd(c, &["DBSIZE"])];
    for key in KEYS {
        // TTLs are long (100000 s) or none; a second may pass between the two servers.
        let ttl = match cmd(c, &["TTL", key]).parse::<i64>().unwrap() {
            -1 => "no ttl".to_string(),
            t if t > 99_000 => "ttl".to_string(),
            t => t.to_string(),
        };
        out.push(format!(
            "{key} {} {} {ttl}",
            cmd(c, &["DEBUG", "DIGEST-VALUE", key]),
            cmd(c, &["OBJECT", "ENCODING", key]),
        ));
    }
    cmd(c, &["SELECT", "7"]);
    out.push(cmd(c, &["GET", "other:db"]));
    cmd(c, &["SELECT", "0"]);
    out
}

fn copy_dump(from: &ServerProcess) -> PathBuf {
    let dir = common::scratch_dir("rdb-copy");
    std::fs::copy(from.dir.join("dump.rdb"), dir.join("dump.rdb")).expect("copy dump.rdb");
    dir
}

fn dir_arg(dir: &Path) -> String {
    dir.to_string_lossy().into_owned()
}

#[test]
fn redis_files_load_into_rudis_and_rudis_files_into_redis() {
    // Redis writes; Rudis loads.
    const LZF: [&str; 2] = ["--list-compress-depth", "1"];
    let redis = ServerProcess::start_redis(&["--enable-debug-command", "yes", LZF[0], LZF[1]]);
    let mut r = redis.conn();
    fill_every_encoding(&mut r);
    let expected = contents(&mut r);
    assert_eq!(cmd(&mut r, &["SAVE"]), "OK");
    let dir = copy_dump(&redis);
    let d = dir_arg(&dir);
    let ours =
        ServerProcess::start(&["--dir", &d, "--enable-debug-command", "yes", LZF[0], LZF[1]]);
    let mut o = ours.conn();
    assert_eq!(contents(&mut o), expected);
    // Rudis writes; redis-check-rdb accepts it; Redis loads it.
    assert_eq!(cmd(&mut o, &["SAVE"]), "OK");
    let check = std::process::Command::new("redis-check-rdb")
        .arg(dir.join("dump.rdb"))
        .output()
        .expect("run redis-check-rdb");
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{report}");
    assert!(report.contains("RDB looks OK!"), "{report}");
    let redis2 = ServerProcess::start_redis(&["--dir", &d, "--enable-debug-command", "yes"]);
    let mut r2 = redis2.conn();
    assert_eq!(contents(&mut r2), expected);
    // And Rudis reads its own file back after DEBUG RELOAD.
    assert_eq!(cmd(&mut o, &["DEBUG", "RELOAD"]), "OK");
    assert_eq!(contents(&mut o), expected);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn bgsave_writes_the_image_of_its_barrier_while_clients_write() {
    let ours = ServerProcess::start(&["--enable-debug-command", "yes"]);
    let mut c = ours.conn();
    assert_eq!(cmd(&mut c, &["DEBUG", "POPULATE", "2000"]), "OK");
    // 2000 keys at 1 ms each: the save lasts about two seconds.
    cmd(&mut c, &["CONFIG", "SET", "rdb-key-save-delay", "1000"]);
    assert_eq!(cmd(&mut c, &["BGSAVE"]), "Background saving started");
    assert_eq!(info_field(&mut c, "rdb_bgsave_in_progress"), "1");
    assert_eq!(
        cmd(&mut c, &["BGSAVE"]),
        "-ERR Background save already in progress"
    );
    assert_eq!(info_field(&mut c, "current_save_keys_total"), "2000");
    // Overwrite everything (half in place: APPEND changes the value where it lies) and add
    // keys while the thread walks the keyspace.
    let mut w = ours.conn();
    for i in 0..2000 {
        let key = format!("key:{i}");
        if i % 2 == 0 {
            cmd(&mut w, &["SET", &key, "changed"]);
        } else {
            cmd(&mut w, &["APPEND", &key, "-changed"]);
        }
    }
    cmd(&mut w, &["SET", "added-after", "x"]);
    cmd(&mut w, &["DEL", "key:0"]);
    wait_until("the BGSAVE to finish", || {
        info_field(&mut c, "rdb_bgsave_in_progress") == "0"
    });
    assert_eq!(info_field(&mut c, "rdb_last_bgsave_status"), "ok");
    // Writers encoded the shards the save had not reached (its "copy-on-write").
    assert_ne!(info_field(&mut c, "rdb_last_cow_size"), "0");
    assert_eq!(info_field(&mut c, "current_save_keys_total"), "0");
    // The file holds the keyspace as it was at BGSAVE.
    let dir = copy_dump(&ours);
    let redis = ServerProcess::start_redis(&["--dir", &dir_arg(&dir)]);
    let mut r = redis.conn();
    assert_eq!(cmd(&mut r, &["DBSIZE"]), "2000");
    assert_eq!(cmd(&mut r, &["EXISTS", "added-after"]), "0");
    for i in 0..2000 {
        assert_eq!(
            cmd(&mut r, &["GET", &format!("key:{i}")]),
            format!("value:{i}")
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn save_points_shutdown_and_restart_keep_the_data() {
    let ours = ServerProcess::start(&["--save", "1 1"]);
    let mut c = ours.conn();
    let before = cmd(&mut c, &["LASTSAVE"]);
    cmd(&mut c, &["SET", "k", "v"]);
    assert_eq!(info_field(&mut c, "rdb_changes_since_last_save"), "1");
    wait_until("a save point to fire", || {
        cmd(&mut c, &["LASTSAVE"]) != before
    });
    wait_until("the save to finish", || {
        info_field(&mut c, "rdb_changes_since_last_save") == "0"
    });
    assert!(ours.dir.join("dump.rdb").exists());
    // SHUTDOWN saves when save points are set; a restart loads it.
    cmd(&mut c, &["SET", "late", "write"]);
    let dir = ours.dir.clone();
    c.send(&["SHUTDOWN"]);
    assert!(c.is_closed_by_peer());
    let again = ServerProcess::start(&["--dir", &dir_arg(&dir)]);
    let mut c = again.conn();
    assert_eq!(cmd(&mut c, &["GET", "late"]), "write");
    assert_eq!(info_field(&mut c, "rdb_last_load_keys_loaded"), "2");
    // SHUTDOWN NOSAVE writes nothing.
    cmd(&mut c, &["SET", "lost", "1"]);
    c.send(&["SHUTDOWN", "NOSAVE"]);
    assert!(c.is_closed_by_peer());
    let third = ServerProcess::start(&["--dir", &dir_arg(&dir)]);
    let mut c = third.conn();
    assert_eq!(cmd(&mut c, &["EXISTS", "lost", "late"]), "1");
}

#[test]
fn clients_get_loading_while_a_file_loads() {
    let first = ServerProcess::start(&["--enable-debug-command", "yes"]);
    let mut c = first.conn();
    cmd(&mut c, &["DEBUG", "POPULATE", "3000"]);
    cmd(&mut c, &["SAVE"]);
    let dir = copy_dump(&first);
    // 3000 keys at 1 ms each.
    let slow = ServerProcess::start_loading(&["--dir", &dir_arg(&dir), "--key-load-delay", "1000"]);
    let mut c = slow.conn();
    assert_eq!(
        cmd(&mut c, &["GET", "key:1"]),
        "-LOADING Redis is loading the dataset in memory"
    );
    assert_eq!(info_field(&mut c, "loading"), "1");
    wait_until("loading to end", || {
        cmd(&mut c, &["GET", "key:1"]) == "value:1"
    });
    assert_eq!(cmd(&mut c, &["DBSIZE"]), "3000");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn damaged_files_refuse_to_load_with_a_message() {
    let first = ServerProcess::start(&["--enable-debug-command", "yes"]);
    let mut c = first.conn();
    cmd(&mut c, &["DEBUG", "POPULATE", "100"]);
    cmd(&mut c, &["SAVE"]);
    let good = std::fs::read(first.dir.join("dump.rdb")).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", good[..good.len() / 2].to_vec()),
        ("bad checksum", {
            let mut b = good.clone();
            let n = b.len();
            b[n - 1] ^= 0xff;
            b
        }),
        ("not an rdb file", b"hello world, not a dump".to_vec()),
    ];
    for (what, bytes) in cases {
        let dir = common::scratch_dir("rdb-bad");
        std::fs::write(dir.join("dump.rdb"), &bytes).unwrap();
        let log = dir.join("server.log");
        let status = std::process::Command::new(common::rudis_binary())
            .args(["--port", &common::free_port().to_string(), "--save", ""])
            .arg("--dir")
            .arg(&dir)
            .args(["--logfile", "server.log"])
            .status()
            .expect("run the server");
        assert!(!status.success(), "{what}: the server must not start");
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(
            text.contains("Fatal error loading the DB"),
            "{what}: {text}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn a_failed_bgsave_stops_writes_with_misconf() {
    let ours = ServerProcess::start(&["--save", "3600 1"]);
    let mut c = ours.conn();
    // A directory where the file should go makes the final rename fail.
    std::fs::create_dir(ours.dir.join("dump.rdb")).unwrap();
    cmd(&mut c, &["SET", "k", "v"]);
    assert_eq!(cmd(&mut c, &["BGSAVE"]), "Background saving started");
    wait_until("the BGSAVE to fail", || {
        info_field(&mut c, "rdb_last_bgsave_status") == "err"
    });
    let refused = cmd(&mut c, &["SET", "k", "w"]);
    assert!(refused.starts_with("-MISCONF "), "{refused}");
    assert!(cmd(&mut c, &["PING"]).starts_with("-MISCONF "));
    assert_eq!(cmd(&mut c, &["GET", "k"]), "v", "reads still work");
    cmd(
        &mut c,
        &["CONFIG", "SET", "stop-writes-on-bgsave-error", "no"],
    );
    assert_eq!(cmd(&mut c, &["SET", "k", "w"]), "OK");
    // Once a save succeeds, writes are accepted again whatever the setting.
    cmd(
        &mut c,
        &["CONFIG", "SET", "stop-writes-on-bgsave-error", "yes"],
    );
    std::fs::remove_dir(ours.dir.join("dump.rdb")).unwrap();
    assert_eq!(cmd(&mut c, &["BGSAVE"]), "Background saving started");
    wait_until("the BGSAVE to succeed", || {
        info_field(&mut c, "rdb_last_bgsave_status") == "ok"
    });
    assert_eq!(cmd(&mut c, &["SET", "k", "x"]), "OK");
}

#[test]
fn lfu_counters_and_idle_times_survive_a_move_from_redis() {
    let lfu = ["--maxmemory-policy", "allkeys-lfu"];
    let redis = ServerProcess::start_redis(&lfu);
    let mut r = redis.conn();
    cmd(&mut r, &["SET", "k", "v"]);
    let payload = match r.command(&["DUMP", "k"]).unwrap() {
        Value::Bulk(b) => b,
        other => panic!("{other:?}"),
    };
    r.send_bytes(&[b"RESTORE", b"hot", b"0", &payload, b"FREQ", b"50"]);
    r.read_reply().unwrap();
    assert_eq!(cmd(&mut r, &["SAVE"]), "OK");
    let dir = copy_dump(&redis);
    let ours = ServerProcess::start(&["--dir", &dir_arg(&dir), lfu[0], lfu[1]]);
    assert_eq!(cmd(&mut ours.conn(), &["OBJECT", "FREQ", "hot"]), "50");
    let _ = std::fs::remove_dir_all(dir);

    let lru = ["--maxmemory-policy", "allkeys-lru"];
    let redis = ServerProcess::start_redis(&lru);
    let mut r = redis.conn();
    cmd(&mut r, &["SET", "k", "v"]);
    r.send_bytes(&[b"RESTORE", b"idle", b"0", &payload, b"IDLETIME", b"5000"]);
    r.read_reply().unwrap();
    assert_eq!(cmd(&mut r, &["SAVE"]), "OK");
    let dir = copy_dump(&redis);
    let ours = ServerProcess::start(&["--dir", &dir_arg(&dir), lru[0], lru[1]]);
    let idle: i64 = cmd(&mut ours.conn(), &["OBJECT", "IDLETIME", "idle"])
        .parse()
        .unwrap();
    assert!((5000..5010).contains(&idle), "{idle}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn empty_keys_in_a_file_are_skipped_and_logged() {
    use rudis_rdb::{Entry, EntryMeta, Value as R, WriteOptions, Writer};
    let dir = common::scratch_dir("rdb-empty-keys");
    let mut w = Writer::new(Vec::new(), WriteOptions::default()).unwrap();
    w.select_db(0).unwrap();
    for (key, value) in [
        ("empty-set", R::Set(Vec::new())),
        ("kept", R::String(b"v".to_vec())),
        ("empty-list", R::List(Vec::new())),
    ] {
        let entry = Entry {
            key: key.as_bytes().to_vec(),
            value,
            meta: EntryMeta::default(),
        };
        w.write_entry(&entry).unwrap();
    }
    std::fs::write(dir.join("dump.rdb"), w.finish().unwrap()).unwrap();
    let ours = ServerProcess::start(&["--dir", &dir_arg(&dir)]);
    assert_eq!(cmd(&mut ours.conn(), &["DBSIZE"]), "1");
    let log = std::fs::read_to_string(dir.join("server.log")).unwrap();
    assert!(log.contains("skipping empty key: empty-set"), "{log}");
    assert!(log.contains("skipping empty key: empty-list"), "{log}");
    assert!(log.contains("empty keys skipped: 2."), "{log}");
    drop(ours);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn flushall_with_save_points_leaves_no_change_unsaved_as_redis() {
    let ours = ServerProcess::start(&["--save", "3600 1"]);
    let redis = ServerProcess::start_redis(&["--save", "3600 1"]);
    for c in [&mut ours.conn(), &mut redis.conn()] {
        cmd(c, &["SET", "k", "v"]);
        assert_eq!(info_field(c, "rdb_changes_since_last_save"), "1");
        assert_eq!(cmd(c, &["FLUSHALL"]), "OK");
        assert_eq!(info_field(c, "rdb_changes_since_last_save"), "0");
    }
}

#[test]
fn a_bgsave_runs_in_a_writer_process_that_can_be_killed() {
    let ours = ServerProcess::start(&["--save", "3600 1", "--rdb-key-save-delay", "10000000"]);
    let mut c = ours.conn();
    for i in 0..10 {
        cmd(&mut c, &["SET", &format!("k{i}"), "v"]);
    }
    assert!(ours.children().is_empty(), "no child before a save");
    assert_eq!(cmd(&mut c, &["BGSAVE"]), "Background saving started");
    // The writer exists as soon as the client hears the save started, and writes a
    // temporary file named after itself.
    let children = ours.children();
    assert_eq!(children.len(), 1);
    let temp = ours.dir.join(format!("temp-{}.rdb", children[0]));
    wait_until("the temporary file", || temp.exists());
    let pid = ours.kill_child(9);
    wait_until("the BGSAVE to end", || {
        info_field(&mut c, "rdb_bgsave_in_progress") == "0"
    });
    assert_eq!(info_field(&mut c, "rdb_last_bgsave_status"), "err");
    assert!(
        ours.log()
            .contains("Background saving terminated by signal 9"),
        "{}",
        ours.log()
    );
    assert!(!ours.dir.join("dump.rdb").exists());
    let leftovers: Vec<_> = std::fs::read_dir(&ours.dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("temp-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    assert!(!ours.children().contains(&pid), "the writer was reaped");
    // A killed save is a failed save: writes stop until one succeeds.
    assert!(cmd(&mut c, &["SET", "k0", "w"]).starts_with("-MISCONF "));
    cmd(&mut c, &["CONFIG", "SET", "rdb-key-save-delay", "0"]);
    assert_eq!(cmd(&mut c, &["BGSAVE"]), "Background saving started");
    wait_until("the BGSAVE to succeed", || {
        info_field(&mut c, "rdb_last_bgsave_status") == "ok"
            && info_field(&mut c, "rdb_bgsave_in_progress") == "0"
    });
    assert!(ours.dir.join("dump.rdb").exists());
    assert_eq!(cmd(&mut c, &["SET", "k0", "w"]), "OK");
    assert!(ours.children().is_empty(), "no child after the save");
}

#[test]
fn flushall_stops_a_bgsave_without_making_it_an_error() {
    let ours = ServerProcess::start(&["--save", "3600 1", "--rdb-key-save-delay", "10000000"]);
    let mut c = ours.conn();
    cmd(&mut c, &["SET", "k", "v"]);
    assert_eq!(cmd(&mut c, &["BGSAVE"]), "Background saving started");
    assert_eq!(ours.children().len(), 1);
    assert_eq!(cmd(&mut c, &["FLUSHALL"]), "OK");
    wait_until("the BGSAVE to stop", || {
        info_field(&mut c, "rdb_bgsave_in_progress") == "0"
    });
    // Stopped by the server (SIGUSR1), as Redis stops its child: not an error.
    assert!(
        ours.log()
            .contains("Background saving terminated by signal 10"),
        "{}",
        ours.log()
    );
    assert_eq!(info_field(&mut c, "rdb_last_bgsave_status"), "ok");
    assert_eq!(cmd(&mut c, &["SET", "k", "w"]), "OK");
    assert!(ours.children().is_empty());
}

#[test]
fn shutdown_stops_a_bgsave_and_removes_its_temporary_file() {
    let mut ours = ServerProcess::start(&["--rdb-key-save-delay", "10000000"]);
    let mut c = ours.conn();
    cmd(&mut c, &["SET", "k", "v"]);
    assert_eq!(cmd(&mut c, &["BGSAVE"]), "Background saving started");
    let children = ours.children();
    assert_eq!(children.len(), 1);
    let temp = ours.dir.join(format!("temp-{}.rdb", children[0]));
    wait_until("the temporary file", || temp.exists());
    c.send(&["SHUTDOWN", "NOSAVE"]);
    assert_eq!(ours.terminate_wait(), Some(0));
    assert!(!temp.exists(), "the temporary file is removed");
    assert!(
        ours.log()
            .contains("There is a child saving an .rdb file. Removing the child..."),
        "{}",
        ours.log()
    );
}
