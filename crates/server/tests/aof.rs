//! The append only file with real processes: acknowledged writes survive SIGKILL under
//! `appendfsync always` (many kills at random moments) and at most about two seconds are
//! lost under `everysec`; a torn tail is truncated with a warning or refused; garbage is
//! refused; appendonlydirs move between Redis 7.0 and Rudis both ways (and pass
//! redis-check-aof); BGREWRITEAOF and CONFIG SET appendonly yes keep the data; killed
//! rewrites leave their incremental files and then limit automatic rewrites; turning the
//! AOF on gathers commands in a temporary incremental file until a rewrite succeeds.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{cmd, info_field, text, wait_until, RawConn, ServerProcess};
use rudis_resp::Value;

fn start_aof(dir: &Path, extra: &[&str]) -> ServerProcess {
    let d = dir.to_string_lossy().into_owned();
    let mut args = vec![
        "--dir",
        &d,
        "--appendonly",
        "yes",
        "--enable-debug-command",
        "yes",
    ];
    args.extend_from_slice(extra);
    ServerProcess::start(&args)
}

fn counter(c: &mut RawConn) -> u64 {
    match c.command(&["GET", "counter"]).expect("reply") {
        Value::Nil => 0,
        v => text(&v).parse().expect("a number"),
    }
}

/// Sends pipelines of INCR until the connection breaks; counts acknowledged increments
/// and the ones sent but not acknowledged when it broke.
fn incr_until_killed(mut c: RawConn, acked: Arc<AtomicU64>, in_flight: Arc<AtomicU64>) {
    const BATCH: u64 = 8;
    let batch = b"*2\r\n$4\r\nINCR\r\n$7\r\ncounter\r\n".repeat(BATCH as usize);
    loop {
        if c.send_raw(&batch).is_err() {
            in_flight.store(BATCH, Ordering::SeqCst);
            return;
        }
        for i in 0..BATCH {
            match c.read_reply() {
                Ok((Value::Int(_), _)) => {
                    acked.fetch_add(1, Ordering::SeqCst);
                }
                _ => {
                    in_flight.store(BATCH - i, Ordering::SeqCst);
                    return;
                }
            }
        }
    }
}

#[test]
fn appendfsync_always_keeps_every_acknowledged_write_across_sigkill() {
    let dir = common::scratch_dir("aof-kill");
    let mut rng = fastrand::Rng::new();
    let mut acked_total = 0u64;
    let started = Instant::now();
    for round in 0..20 {
        let server = start_aof(&dir, &["--appendfsync", "always"]);
        let mut c = server.conn();
        let before = counter(&mut c);
        assert!(
            before >= acked_total,
            "round {round}: {before} after restart, {acked_total} acknowledged"
        );
        let acked = Arc::new(AtomicU64::new(0));
        let in_flight = Arc::new(AtomicU64::new(0));
        let port = server.port;
        let (a, f) = (acked.clone(), in_flight.clone());
        // Connected before the kill can come, however late the thread starts.
        let conn = RawConn::connect(port);
        let writer = std::thread::spawn(move || incr_until_killed(conn, a, f));
        std::thread::sleep(Duration::from_millis(rng.u64(30..250)));
        drop(server); // SIGKILL
        writer.join().unwrap();
        let server = start_aof(&dir, &["--appendfsync", "always"]);
        let after = counter(&mut server.conn());
        let (acked, in_flight) = (
            acked.load(Ordering::SeqCst),
            in_flight.load(Ordering::SeqCst),
        );
        assert!(
            after >= before + acked && after <= before + acked + in_flight,
            "round {round}: before {before}, acked {acked}, in flight {in_flight}, after {after}"
        );
        acked_total = after;
        drop(server);
    }
    assert!(acked_total > 0);
    assert!(started.elapsed() < Duration::from_secs(60));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn appendfsync_everysec_loses_at_most_about_two_seconds() {
    let dir = common::scratch_dir("aof-everysec");
    let server = start_aof(&dir, &["--appendfsync", "everysec"]);
    let acked = Arc::new(AtomicU64::new(0));
    let in_flight = Arc::new(AtomicU64::new(0));
    let port = server.port;
    let (a, f) = (acked.clone(), in_flight.clone());
    let started = Instant::now();
    let conn = RawConn::connect(port);
    let writer = std::thread::spawn(move || incr_until_killed(conn, a, f));
    std::thread::sleep(Duration::from_millis(1500));
    drop(server);
    writer.join().unwrap();
    let elapsed_s = started.elapsed().as_secs_f64();
    let acked = acked.load(Ordering::SeqCst);
    let per_s = acked as f64 / elapsed_s;
    let server = start_aof(&dir, &["--appendfsync", "everysec"]);
    let after = counter(&mut server.conn());
    let lost = acked.saturating_sub(after);
    assert!(
        (lost as f64) <= per_s * 2.0 + 8.0,
        "lost {lost} of {acked} acknowledged ({per_s:.0}/s)"
    );
    assert!(after <= acked + in_flight.load(Ordering::SeqCst));
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The incremental file the manifest lists last.
fn last_incr(dir: &Path) -> PathBuf {
    let manifest =
        std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.manifest")).unwrap();
    let name = manifest
        .lines()
        .rfind(|l| l.ends_with("type i"))
        .and_then(|l| l.split(' ').nth(1))
        .expect("an incr file")
        .to_string();
    dir.join("appendonlydir").join(name)
}

fn append(path: &Path, bytes: &[u8]) {
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(bytes).unwrap();
}

/// Runs the server expecting it to refuse to start; returns its log.
fn refused_start(dir: &Path, extra: &[&str]) -> String {
    let port = common::free_port().to_string();
    let mut child = Command::new(common::rudis_binary())
        .args([
            "--port",
            &port,
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "yes",
        ])
        .arg("--dir")
        .arg(dir)
        .args(["--logfile", "refused.log"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server started on a bad AOF");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(!status.success());
    std::fs::read_to_string(dir.join("refused.log")).unwrap_or_default()
}

#[test]
fn torn_tail_is_truncated_or_refused_and_garbage_refused() {
    let dir = common::scratch_dir("aof-torn");
    let mut server = start_aof(&dir, &[]);
    let mut c = server.conn();
    cmd(&mut c, &["SET", "a", "1"]);
    cmd(&mut c, &["RPUSH", "l", "x", "y"]);
    assert_eq!(server.terminate(), Some(0));
    let incr = last_incr(&dir);
    let good_len = std::fs::metadata(&incr).unwrap().len();
    append(&incr, b"*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$5\r\nhel");

    let log = refused_start(&dir, &["--aof-load-truncated", "no"]);
    assert!(
        log.contains("Unexpected end of file reading the append only file"),
        "{log}"
    );

    let server = start_aof(&dir, &["--aof-load-truncated", "yes"]);
    let mut c = server.conn();
    assert_eq!(cmd(&mut c, &["GET", "a"]), "1");
    assert_eq!(cmd(&mut c, &["LLEN", "l"]), "2");
    assert_eq!(cmd(&mut c, &["EXISTS", "b"]), "0");
    let log = std::fs::read_to_string(dir.join("server.log")).unwrap();
    assert!(
        log.contains("!!! Warning: short read while loading the AOF file"),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "!!! Truncating the AOF appendonly.aof.1.incr.aof at offset {good_len} !!!"
        )),
        "{log}"
    );
    cmd(&mut c, &["SET", "after", "ok"]);
    drop(server);
    let server = start_aof(&dir, &["--aof-load-truncated", "no"]);
    assert_eq!(cmd(&mut server.conn(), &["GET", "after"]), "ok");
    drop(server);

    append(&last_incr(&dir), b"this is not RESP\r\n");
    let log = refused_start(&dir, &[]);
    assert!(
        log.contains("Bad file format reading the append only file"),
        "{log}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A dataset of every type, with commands that Redis writes in rewritten form.
fn fill(c: &mut RawConn) {
    let mut run = |args: &[&str]| {
        let r = c.command(args).expect("reply");
        assert!(!matches!(r, Value::Error(_)), "{args:?}: {r:?}");
    };
    run(&["SET", "s", "hello"]);
    run(&["INCRBYFLOAT", "f", "1.5"]);
    run(&["SET", "ttl", "v", "EX", "100000"]);
    run(&["EXPIRE", "s", "200000"]);
    for i in 0..300 {
        run(&["RPUSH", "list", &format!("element-{i}")]);
        run(&["HSET", "hash", &format!("f{i}"), &format!("v{i}")]);
        run(&["SADD", "set", &i.to_string()]);
        run(&["ZADD", "zset", &format!("{i}.5"), &format!("m{i}")]);
    }
    run(&["SADD", "small", "a", "b", "c", "d"]);
    run(&["SPOP", "small"]);
    run(&["LPUSH", "short", "1", "2"]);
    run(&["SELECT", "3"]);
    run(&["SET", "db3", "three"]);
    run(&["MULTI"]);
    run(&["INCR", "n"]);
    run(&["INCR", "n"]);
    run(&["EXEC"]);
    run(&["SELECT", "0"]);
}

const KEYS: &[&str] = &[
    "s", "f", "ttl", "list", "hash", "set", "zset", "small", "short",
];

fn contents(c: &mut RawConn) -> Vec<String> {
    let mut out = vec![cmd(c, &["DEBUG", "DIGEST"]), cmd(c, &["DBSIZE"])];
    for key in KEYS {
        let ttl = match cmd(c, &["TTL", key]).parse::<i64>().unwrap() {
            -1 => "none".to_string(),
            t if t > 90_000 => "long".to_string(),
            t => t.to_string(),
        };
        out.push(format!(
            "{key} {} {ttl}",
            cmd(c, &["DEBUG", "DIGEST-VALUE", key])
        ));
    }
    cmd(c, &["SELECT", "3"]);
    out.push(cmd(c, &["GET", "db3"]));
    out.push(cmd(c, &["GET", "n"]));
    cmd(c, &["SELECT", "0"]);
    out
}

fn copy_aof_dir(from: &Path) -> PathBuf {
    let dir = common::scratch_dir("aof-copy");
    let to = dir.join("appendonlydir");
    std::fs::create_dir_all(&to).unwrap();
    for entry in std::fs::read_dir(from.join("appendonlydir")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
    dir
}

fn check_aof(dir: &Path) {
    let out = Command::new("redis-check-aof")
        .arg(dir.join("appendonlydir/appendonly.aof.manifest"))
        .output()
        .expect("redis-check-aof runs (Debian package redis-tools)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("is valid"),
        "{stdout}"
    );
}

fn interop(preamble: &str) {
    // Redis writes: a base (from a rewrite) and commands after it.
    let redis_dir = common::scratch_dir("aof-redis");
    let r = redis_dir.to_string_lossy().into_owned();
    let mut redis = ServerProcess::start_redis(&[
        "--dir",
        &r,
        "--appendonly",
        "yes",
        "--aof-use-rdb-preamble",
        preamble,
        "--enable-debug-command",
        "yes",
    ]);
    let mut c = redis.conn();
    fill(&mut c);
    cmd(&mut c, &["BGREWRITEAOF"]);
    wait_until("Redis's rewrite", || {
        info_field(&mut c, "aof_rewrite_in_progress") == "0"
    });
    cmd(&mut c, &["RPUSH", "list", "after-rewrite"]);
    cmd(&mut c, &["HDEL", "hash", "f3"]);
    let expected = contents(&mut c);
    redis.terminate();
    let dir = copy_aof_dir(&redis_dir);
    let ours = start_aof(&dir, &["--aof-use-rdb-preamble", preamble]);
    let mut c = ours.conn();
    assert_eq!(contents(&mut c), expected, "Redis's AOF loaded into Rudis");

    // Rudis writes on, rewrites, writes more; Redis loads it and redis-check-aof accepts it.
    cmd(&mut c, &["SADD", "set", "rudis"]);
    cmd(&mut c, &["BGREWRITEAOF"]);
    wait_until("our rewrite", || {
        info_field(&mut c, "aof_rewrite_in_progress") == "0"
    });
    cmd(&mut c, &["ZINCRBY", "zset", "2", "m1"]);
    cmd(&mut c, &["EXPIRE", "list", "300000"]);
    let expected = contents(&mut c);
    drop(c);
    let mut ours = ours;
    ours.terminate();
    let back = copy_aof_dir(&dir);
    check_aof(&back);
    let b = back.to_string_lossy().into_owned();
    let redis2 = ServerProcess::start_redis(&[
        "--dir",
        &b,
        "--appendonly",
        "yes",
        "--enable-debug-command",
        "yes",
    ]);
    assert_eq!(
        contents(&mut redis2.conn()),
        expected,
        "Rudis's AOF loaded into Redis"
    );
    for d in [redis_dir, dir, back] {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn appendonlydirs_move_between_redis_and_rudis() {
    interop("yes");
}

#[test]
fn appendonlydirs_without_rdb_preamble_move_between_redis_and_rudis() {
    interop("no");
}

#[test]
fn config_set_appendonly_writes_a_base_then_appends() {
    let dir = common::scratch_dir("aof-config");
    let d = dir.to_string_lossy().into_owned();
    let server = ServerProcess::start(&["--dir", &d, "--enable-debug-command", "yes"]);
    let mut c = server.conn();
    cmd(&mut c, &["SET", "before", "1"]);
    assert_eq!(cmd(&mut c, &["CONFIG", "SET", "appendonly", "yes"]), "OK");
    wait_until("the first rewrite", || {
        info_field(&mut c, "aof_rewrite_in_progress") == "0"
            && info_field(&mut c, "aof_rewrite_scheduled") == "0"
            && info_field(&mut c, "aof_rewrites") == "1"
    });
    cmd(&mut c, &["SET", "after", "2"]);
    assert_eq!(cmd(&mut c, &["DEBUG", "LOADAOF"]), "OK");
    assert_eq!(cmd(&mut c, &["GET", "before"]), "1");
    assert_eq!(cmd(&mut c, &["GET", "after"]), "2");
    let manifest =
        std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.manifest")).unwrap();
    assert_eq!(
        manifest,
        "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
    );
    assert_eq!(cmd(&mut c, &["CONFIG", "SET", "appendonly", "no"]), "OK");
    cmd(&mut c, &["SET", "unlogged", "3"]);
    drop(c);
    drop(server);
    let server = start_aof(&dir, &[]);
    let mut c = server.conn();
    assert_eq!(cmd(&mut c, &["EXISTS", "before", "after", "unlogged"]), "2");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn rewrites_under_concurrent_writes_lose_and_repeat_nothing() {
    let dir = common::scratch_dir("aof-rewrite-load");
    let server = start_aof(&dir, &["--rdb-key-save-delay", "100"]);
    let mut c = server.conn();
    for i in 0..2000 {
        cmd(&mut c, &["SET", &format!("filler:{i}"), "x"]);
    }
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let port = server.port;
    let stop2 = stop.clone();
    let writer = std::thread::spawn(move || {
        let mut w = RawConn::connect(port);
        let mut n = 0u64;
        while !stop2.load(Ordering::Relaxed) {
            cmd(&mut w, &["RPUSH", "log", &n.to_string()]);
            cmd(&mut w, &["SET", &format!("k{}", n % 500), &n.to_string()]);
            n += 1;
        }
        n
    });
    for _ in 0..3 {
        assert_eq!(
            cmd(&mut c, &["BGREWRITEAOF"]),
            "Background append only file rewriting started"
        );
        wait_until("the rewrite", || {
            info_field(&mut c, "aof_rewrite_in_progress") == "0"
        });
        assert_eq!(info_field(&mut c, "aof_last_bgrewrite_status"), "ok");
    }
    stop.store(true, Ordering::Relaxed);
    let pushed = writer.join().unwrap();
    let before = contents_all(&mut c);
    assert_eq!(cmd(&mut c, &["LLEN", "log"]), pushed.to_string());
    assert_eq!(cmd(&mut c, &["DEBUG", "LOADAOF"]), "OK");
    assert_eq!(
        contents_all(&mut c),
        before,
        "DEBUG LOADAOF gives the same data"
    );
    let files: Vec<String> = std::fs::read_dir(dir.join("appendonlydir"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files.len(), 3, "history files are deleted: {files:?}");
    drop(c);
    drop(server);
    let server = start_aof(&dir, &[]);
    assert_eq!(
        contents_all(&mut server.conn()),
        before,
        "and after a restart"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn contents_all(c: &mut RawConn) -> (String, String, String) {
    (
        cmd(c, &["DEBUG", "DIGEST"]),
        cmd(c, &["DBSIZE"]),
        cmd(c, &["LLEN", "log"]),
    )
}

#[test]
fn an_old_single_file_aof_is_moved_into_the_directory() {
    let dir = common::scratch_dir("aof-upgrade");
    let mut old = Vec::new();
    for (k, v) in [("a", "1"), ("b", "2")] {
        old.extend_from_slice(
            format!(
                "*3\r\n$3\r\nSET\r\n${}\r\n{k}\r\n${}\r\n{v}\r\n",
                k.len(),
                v.len()
            )
            .as_bytes(),
        );
    }
    std::fs::write(dir.join("appendonly.aof"), &old).unwrap();
    let server = start_aof(&dir, &[]);
    let mut c = server.conn();
    assert_eq!(cmd(&mut c, &["GET", "b"]), "2");
    assert!(!dir.join("appendonly.aof").exists());
    let manifest =
        std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.manifest")).unwrap();
    assert_eq!(
        manifest,
        "file appendonly.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
    );
    cmd(&mut c, &["SET", "c", "3"]);
    drop(c);
    drop(server);
    check_aof(&dir);
    let server = start_aof(&dir, &[]);
    assert_eq!(cmd(&mut server.conn(), &["MGET", "a", "c"]).len(), 31);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn automatic_rewrite_follows_growth() {
    let dir = common::scratch_dir("aof-auto");
    let server = start_aof(
        &dir,
        &[
            "--auto-aof-rewrite-percentage",
            "100",
            "--auto-aof-rewrite-min-size",
            "4kb",
        ],
    );
    let mut c = server.conn();
    let value = "v".repeat(100);
    for i in 0..20 {
        cmd(&mut c, &["SET", &format!("k{i}"), &value]);
    }
    // About 2.5 kB written: below the minimum size.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(info_field(&mut c, "aof_rewrites"), "0");
    for i in 0..40 {
        cmd(&mut c, &["SET", &format!("k{i}"), &value]);
    }
    wait_until("an automatic rewrite", || {
        info_field(&mut c, "aof_rewrites") == "1"
            && info_field(&mut c, "aof_rewrite_in_progress") == "0"
    });
    let size: u64 = info_field(&mut c, "aof_current_size").parse().unwrap();
    let base: u64 = info_field(&mut c, "aof_base_size").parse().unwrap();
    assert!(size < 4096 && base == size, "size {size}, base {base}");
    let log = std::fs::read_to_string(dir.join("server.log")).unwrap();
    assert!(
        log.contains("Starting automatic rewriting of AOF on"),
        "{log}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The log of a server started with `--dir dir`.
fn log_of(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
}

fn manifest_of(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.manifest")).unwrap_or_default()
}

/// Starts a rewrite and kills its writer process with SIGKILL; waits for the rewrite to end.
fn kill_rewrite(server: &ServerProcess, c: &mut RawConn) {
    assert_eq!(
        cmd(c, &["BGREWRITEAOF"]),
        "Background append only file rewriting started"
    );
    server.kill_child(9);
    wait_until("the rewrite to end", || {
        info_field(c, "aof_rewrite_in_progress") == "0"
    });
}

#[test]
fn killed_rewrites_keep_their_incr_files_and_then_limit_automatic_rewrites() {
    let dir = common::scratch_dir("aof-killed-rewrite");
    let server = start_aof(&dir, &["--rdb-key-save-delay", "10000000"]);
    let mut c = server.conn();
    cmd(&mut c, &["SET", "k", "v"]);
    for _ in 0..3 {
        kill_rewrite(&server, &mut c);
    }
    assert!(
        log_of(&dir)
            .matches("Background AOF rewrite terminated by signal 9")
            .count()
            == 3,
        "{}",
        log_of(&dir)
    );
    assert_eq!(info_field(&mut c, "aof_last_bgrewrite_status"), "err");
    assert_eq!(info_field(&mut c, "aof_rewrites_consecutive_failures"), "3");
    // Each rewrite opened an incremental file, and the manifest keeps them all.
    assert_eq!(
        manifest_of(&dir),
        "file appendonly.aof.1.base.rdb seq 1 type b\n\
         file appendonly.aof.1.incr.aof seq 1 type i\n\
         file appendonly.aof.2.incr.aof seq 2 type i\n\
         file appendonly.aof.3.incr.aof seq 3 type i\n\
         file appendonly.aof.4.incr.aof seq 4 type i\n"
    );
    let temps: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("temp-rewriteaof")
        })
        .collect();
    assert!(temps.is_empty(), "temporary files left: {temps:?}");
    // A fourth automatic rewrite is held back after three failures, and says so once.
    cmd(
        &mut c,
        &["CONFIG", "SET", "auto-aof-rewrite-percentage", "1"],
    );
    cmd(
        &mut c,
        &["CONFIG", "SET", "auto-aof-rewrite-min-size", "1kb"],
    );
    cmd(&mut c, &["SET", "x", &"x".repeat(2048)]);
    wait_until("the limit", || {
        log_of(&dir).contains("triggered the limit, will retry in 1 minutes")
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(info_field(&mut c, "aof_rewrite_in_progress"), "0");
    assert_eq!(log_of(&dir).matches("triggered the limit").count(), 1);
    // BGREWRITEAOF is never held back.
    cmd(
        &mut c,
        &["CONFIG", "SET", "auto-aof-rewrite-percentage", "0"],
    );
    cmd(&mut c, &["CONFIG", "SET", "rdb-key-save-delay", "0"]);
    assert_eq!(
        cmd(&mut c, &["BGREWRITEAOF"]),
        "Background append only file rewriting started"
    );
    wait_until("the rewrite", || {
        info_field(&mut c, "aof_rewrite_in_progress") == "0"
    });
    assert_eq!(
        manifest_of(&dir),
        "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.5.incr.aof seq 5 type i\n"
    );
    assert_eq!(cmd(&mut c, &["DEBUG", "LOADAOF"]), "OK");
    assert_eq!(cmd(&mut c, &["GET", "k"]), "v");
    assert_eq!(info_field(&mut c, "rdb_changes_since_last_save"), "0");
    drop(c);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn enabling_the_aof_gathers_commands_in_a_temp_incr_until_a_rewrite_succeeds() {
    let dir = common::scratch_dir("aof-enable-killed");
    let d = dir.to_string_lossy().into_owned();
    let server = ServerProcess::start(&[
        "--dir",
        &d,
        "--enable-debug-command",
        "yes",
        "--rdb-key-save-delay",
        "10000000",
    ]);
    let mut c = server.conn();
    cmd(&mut c, &["SET", "before", "1"]);
    assert_eq!(cmd(&mut c, &["CONFIG", "SET", "appendonly", "yes"]), "OK");
    assert_eq!(info_field(&mut c, "aof_rewrite_in_progress"), "1");
    assert!(dir.join("appendonlydir/temp-appendonly.aof.incr").exists());
    cmd(&mut c, &["SET", "during", "2"]);
    server.kill_child(9);
    wait_until("the temporary incr file to go", || {
        log_of(&dir).contains("Removing the temp incr aof file temp-appendonly.aof.incr")
    });
    // Nothing is named by a manifest until a base exists; the rewrite is tried again.
    assert!(!dir.join("appendonlydir/appendonly.aof.manifest").exists());
    assert!(!dir.join("appendonlydir/appendonly.aof.1.base.rdb").exists());
    wait_until("the next rewrite", || {
        info_field(&mut c, "aof_rewrite_in_progress") == "1"
    });
    cmd(&mut c, &["CONFIG", "SET", "rdb-key-save-delay", "0"]);
    server.kill_child(9);
    wait_until("a rewrite to succeed", || {
        manifest_of(&dir)
            == "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
    });
    assert!(!dir.join("appendonlydir/temp-appendonly.aof.incr").exists());
    cmd(&mut c, &["SET", "after", "3"]);
    assert_eq!(cmd(&mut c, &["DEBUG", "LOADAOF"]), "OK");
    for (key, value) in [("before", "1"), ("during", "2"), ("after", "3")] {
        assert_eq!(cmd(&mut c, &["GET", key]), value, "{key}");
    }
    drop(c);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn turning_auto_gc_back_on_deletes_the_history_it_kept() {
    let dir = common::scratch_dir("aof-gc");
    let server = start_aof(&dir, &["--aof-disable-auto-gc", "yes"]);
    let mut c = server.conn();
    for _ in 0..2 {
        cmd(&mut c, &["BGREWRITEAOF"]);
        wait_until("the rewrite", || {
            info_field(&mut c, "aof_rewrite_in_progress") == "0"
        });
    }
    assert!(
        manifest_of(&dir).contains(" type h\n"),
        "{}",
        manifest_of(&dir)
    );
    assert!(dir.join("appendonlydir/appendonly.aof.1.base.rdb").exists());
    cmd(&mut c, &["CONFIG", "SET", "aof-disable-auto-gc", "no"]);
    assert_eq!(
        manifest_of(&dir),
        "file appendonly.aof.3.base.rdb seq 3 type b\nfile appendonly.aof.3.incr.aof seq 3 type i\n"
    );
    assert!(!dir.join("appendonlydir/appendonly.aof.1.base.rdb").exists());
    drop(c);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bgrewriteaof_with_the_aof_off_creates_the_directory_and_a_base() {
    let dir = common::scratch_dir("aof-off-rewrite");
    let d = dir.to_string_lossy().into_owned();
    let server = ServerProcess::start(&[
        "--dir",
        &d,
        "--enable-debug-command",
        "yes",
        "--aof-use-rdb-preamble",
        "no",
    ]);
    let mut c = server.conn();
    cmd(&mut c, &["SET", "k", "v"]);
    cmd(&mut c, &["EXPIRE", "k", "1000"]);
    assert!(!dir.join("appendonlydir").exists());
    cmd(&mut c, &["BGREWRITEAOF"]);
    wait_until("the rewrite", || {
        info_field(&mut c, "aof_rewrite_in_progress") == "0"
    });
    assert_eq!(info_field(&mut c, "aof_last_bgrewrite_status"), "ok");
    assert_eq!(
        manifest_of(&dir),
        "file appendonly.aof.1.base.aof seq 1 type b\n"
    );
    assert_eq!(cmd(&mut c, &["DEBUG", "LOADAOF"]), "OK");
    assert_eq!(cmd(&mut c, &["GET", "k"]), "v");
    let ttl: i64 = cmd(&mut c, &["TTL", "k"]).parse().unwrap();
    assert!(ttl > 900, "{ttl}");
    drop(c);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn turning_the_aof_off_kills_the_rewrite_writer() {
    let dir = common::scratch_dir("aof-off-kills");
    let server = start_aof(&dir, &[]);
    let mut c = server.conn();
    cmd(&mut c, &["SET", "k", "v"]);
    cmd(&mut c, &["CONFIG", "SET", "rdb-key-save-delay", "10000000"]);
    cmd(&mut c, &["BGREWRITEAOF"]);
    let children = server.children();
    assert_eq!(children.len(), 1);
    assert_eq!(cmd(&mut c, &["CONFIG", "SET", "appendonly", "no"]), "OK");
    assert_eq!(info_field(&mut c, "aof_rewrite_in_progress"), "0");
    let log = log_of(&dir);
    assert!(
        log.contains(&format!(
            "Killing running AOF rewrite child: {}",
            children[0]
        )),
        "{log}"
    );
    // Stopped by the server: not a failed rewrite.
    assert_eq!(info_field(&mut c, "aof_last_bgrewrite_status"), "ok");
    assert!(server.children().is_empty());
    drop(c);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_base_in_command_form_loads_the_function_libraries_first() {
    let dir = common::scratch_dir("aof-functions");
    let d = dir.to_string_lossy().into_owned();
    // With the AOF off, so that FUNCTION FLUSH below is not logged after the base.
    let server = ServerProcess::start(&[
        "--dir",
        &d,
        "--enable-debug-command",
        "yes",
        "--aof-use-rdb-preamble",
        "no",
    ]);
    let mut c = server.conn();
    let code = "#!lua name=lib\nredis.register_function('one', function() return 1 end)";
    assert_eq!(cmd(&mut c, &["FUNCTION", "LOAD", code]), "lib");
    cmd(&mut c, &["SET", "k", "v"]);
    cmd(&mut c, &["BGREWRITEAOF"]);
    wait_until("the rewrite", || {
        info_field(&mut c, "aof_rewrite_in_progress") == "0"
    });
    let base = std::fs::read(dir.join("appendonlydir/appendonly.aof.1.base.aof")).unwrap();
    let load = format!(
        "*3\r\n$8\r\nFUNCTION\r\n$4\r\nLOAD\r\n${}\r\n{code}\r\n",
        code.len()
    );
    assert!(
        base.starts_with(load.as_bytes()),
        "{}",
        String::from_utf8_lossy(&base)
    );
    check_aof(&dir);
    assert_eq!(cmd(&mut c, &["FUNCTION", "FLUSH"]), "OK");
    assert_eq!(cmd(&mut c, &["DEBUG", "LOADAOF"]), "OK");
    assert_eq!(cmd(&mut c, &["FCALL", "one", "0"]), "1");
    drop(c);
    drop(server);
    // Redis loads the same directory.
    let d = dir.to_string_lossy().into_owned();
    let redis = ServerProcess::start_redis(&["--dir", &d, "--appendonly", "yes"]);
    let mut r = redis.conn();
    wait_until("Redis to load", || cmd(&mut r, &["PING"]) == "PONG");
    assert_eq!(cmd(&mut r, &["FCALL", "one", "0"]), "1");
    assert_eq!(cmd(&mut r, &["GET", "k"]), "v");
    drop(r);
    drop(redis);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn scripts_in_the_aof_write_on_a_read_only_replica() {
    let dir = common::scratch_dir("aof-replica-eval");
    let aof_dir = dir.join("appendonlydir");
    std::fs::create_dir_all(&aof_dir).unwrap();
    std::fs::write(
        aof_dir.join("appendonly.aof.manifest"),
        "file appendonly.aof.1.incr.aof seq 1 type i\n",
    )
    .unwrap();
    let resp = |args: &[&str]| {
        let mut out = format!("*{}\r\n", args.len());
        for a in args {
            out.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        out
    };
    let body = [
        resp(&["SELECT", "9"]),
        resp(&["EVAL", "redis.call('set',KEYS[1],'100')", "1", "foo"]),
        resp(&["EVAL", "redis.call('incr',KEYS[1])", "1", "foo"]),
        resp(&["EVAL", "redis.call('incr',KEYS[1])", "1", "foo"]),
    ]
    .concat();
    std::fs::write(aof_dir.join("appendonly.aof.1.incr.aof"), body).unwrap();
    // A master that is not there: the replica keeps what it loaded.
    let master = common::free_port().to_string();
    let server = start_aof(
        &dir,
        &[
            "--replicaof",
            "127.0.0.1",
            &master,
            "--replica-read-only",
            "yes",
        ],
    );
    let mut c = server.conn();
    cmd(&mut c, &["SELECT", "9"]);
    assert_eq!(cmd(&mut c, &["GET", "foo"]), "102");
    // Its own clients still may not write.
    assert!(
        cmd(&mut c, &["EVAL", "redis.call('incr',KEYS[1])", "1", "foo"]).starts_with("-READONLY")
    );
    drop(c);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
