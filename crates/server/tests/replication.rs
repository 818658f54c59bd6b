//! Replication with real processes: a replica rejects writes and loses its own data when
//! it attaches; a restarted replica and the replicas of a promoted one resync partially;
//! Redis 7.0 replicas follow a Rudis master and a Rudis replica follows a Redis master,
//! full then partial resync; faults (the link cut while streaming, a backlog overflow, a
//! replica too slow for its output buffer limit, the master killed in the middle of a full
//! sync, 100 MB values) leave the replica equal to its master (DEBUG DIGEST).

mod common;

use common::{cmd, ok, text, wait_until, RawConn, ServerProcess};
use rudis_resp::Value;

fn info_field(c: &mut RawConn, section: &str, name: &str) -> String {
    let info = cmd(c, &["INFO", section]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in INFO {section}"))
        .to_string()
}

const FAST_SYNC: &[&str] = &[
    "--repl-diskless-sync-delay",
    "0",
    "--enable-debug-command",
    "yes",
];

fn rudis() -> ServerProcess {
    ServerProcess::start(FAST_SYNC)
}

fn redis() -> ServerProcess {
    ServerProcess::start_redis(FAST_SYNC)
}

fn attach(replica: &ServerProcess, master: &ServerProcess) {
    let mut c = replica.conn();
    ok(
        &mut c,
        &["REPLICAOF", "127.0.0.1", &master.port.to_string()],
    );
    wait_link_up(replica);
}

fn wait_link_up(replica: &ServerProcess) {
    let mut c = replica.conn();
    wait_until("the link to come up", || {
        info_field(&mut c, "replication", "master_link_status") == "up"
    });
}

/// Waits until the replica has applied everything the master produced, then compares
/// their datasets.
fn assert_in_sync(master: &ServerProcess, replica: &ServerProcess) {
    let (mut m, mut r) = (master.conn(), replica.conn());
    wait_until("the replica to catch up", || {
        let want = info_field(&mut m, "replication", "master_repl_offset");
        info_field(&mut r, "replication", "master_repl_offset") == want
            && cmd(&mut m, &["DEBUG", "DIGEST"]) == cmd(&mut r, &["DEBUG", "DIGEST"])
    });
    assert_ne!(cmd(&mut m, &["DBSIZE"]), "0", "the test wrote something");
}

fn stat(s: &ServerProcess, name: &str) -> i64 {
    info_field(&mut s.conn(), "stats", name).parse().unwrap()
}

/// A few keys of every type, in two databases.
fn write_some(c: &mut RawConn, tag: &str) {
    for i in 0..50 {
        ok(c, &["SET", &format!("{tag}:s{i}"), &format!("v{i}")]);
    }
    ok(c, &["RPUSH", &format!("{tag}:l"), "a", "b", "c"]);
    ok(c, &["HSET", &format!("{tag}:h"), "f", "1", "g", "2"]);
    ok(c, &["SADD", &format!("{tag}:set"), "x", "y"]);
    ok(c, &["ZADD", &format!("{tag}:z"), "1", "a", "2.5", "b"]);
    ok(c, &["SET", &format!("{tag}:ttl"), "v", "EX", "1000"]);
    ok(c, &["INCRBYFLOAT", &format!("{tag}:f"), "1.5"]);
    ok(c, &["SELECT", "3"]);
    ok(c, &["SET", &format!("{tag}:db3"), "x"]);
    ok(c, &["SELECT", "0"]);
}

fn signal(pid: u32, sig: i32) {
    extern "C" {
        fn kill(pid: i32, sig: i32) -> i32;
    }
    // SAFETY: signalling a child process this test started.
    unsafe {
        kill(pid as i32, sig);
    }
}
const SIGSTOP: i32 = 19;
const SIGCONT: i32 = 18;

#[test]
fn replica_rejects_writes_and_drops_its_own_data() {
    let master = rudis();
    let replica = rudis();
    let (mut m, mut r) = (master.conn(), replica.conn());
    write_some(&mut m, "m");
    ok(&mut r, &["SET", "replica-only", "1"]);
    attach(&replica, &master);
    assert_eq!(cmd(&mut r, &["EXISTS", "replica-only"]), "0");
    assert_eq!(
        cmd(&mut r, &["SET", "x", "1"]),
        "-READONLY You can't write against a read only replica."
    );
    write_some(&mut m, "after");
    assert_in_sync(&master, &replica);
    let role = r.command(&["ROLE"]).unwrap();
    let Value::Array(items) = role else {
        panic!("ROLE: {role:?}")
    };
    assert_eq!(text(&items[0]), "slave");
    assert_eq!(text(&items[3]), "connected");
    assert_eq!(info_field(&mut m, "replication", "connected_slaves"), "1");
    assert_eq!(stat(&master, "sync_full"), 1);
}

#[test]
fn restarted_replica_resyncs_partially() {
    let master = rudis();
    let dir = common::scratch_dir("replica-restart");
    let dir_arg = dir.to_string_lossy().into_owned();
    let master_port = master.port.to_string();
    let replica_args = |port: &str| -> Vec<String> {
        let mut a: Vec<String> = FAST_SYNC.iter().map(|s| s.to_string()).collect();
        a.extend(["--dir", &dir_arg, "--replicaof", "127.0.0.1", &master_port].map(String::from));
        if !port.is_empty() {
            a.extend(["--port".to_string(), port.to_string()]);
        }
        a
    };
    let args = replica_args("");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut replica = ServerProcess::start(&args);
    wait_link_up(&replica);
    let mut m = master.conn();
    write_some(&mut m, "before");
    assert_in_sync(&master, &replica);
    // SHUTDOWN saves the dataset with the replication id and offset.
    let _ = replica.conn().command(&["SHUTDOWN", "SAVE"]);
    replica.terminate();
    write_some(&mut m, "while-down");
    let args = replica_args("");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let replica = ServerProcess::start(&args);
    wait_link_up(&replica);
    assert_in_sync(&master, &replica);
    assert_eq!(stat(&master, "sync_partial_ok"), 1);
    assert_eq!(stat(&master, "sync_full"), 1);
    drop(replica);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn promoted_replica_serves_the_other_partially() {
    let master = rudis();
    let a = rudis();
    let b = rudis();
    attach(&a, &master);
    attach(&b, &master);
    write_some(&mut master.conn(), "m");
    assert_in_sync(&master, &a);
    assert_in_sync(&master, &b);
    let mut ca = a.conn();
    ok(&mut ca, &["REPLICAOF", "NO", "ONE"]);
    assert_eq!(info_field(&mut ca, "replication", "role"), "master");
    attach(&b, &a);
    write_some(&mut ca, "promoted");
    assert_in_sync(&a, &b);
    assert_eq!(stat(&a, "sync_partial_ok"), 1);
    assert_eq!(stat(&a, "sync_full"), 0);
    // PSYNC2: the promoted replica's previous id is the old master's.
    let old_id = info_field(&mut master.conn(), "replication", "master_replid");
    assert_eq!(info_field(&mut ca, "replication", "master_replid2"), old_id);
}

#[test]
fn redis_replica_of_rudis_master_full_then_partial() {
    let master = rudis();
    let replica = redis();
    let mut m = master.conn();
    write_some(&mut m, "before");
    attach(&replica, &master);
    assert_in_sync(&master, &replica);
    ok(&mut replica.conn(), &["CLIENT", "KILL", "TYPE", "master"]);
    write_some(&mut m, "after");
    wait_link_up(&replica);
    assert_in_sync(&master, &replica);
    assert_eq!(stat(&master, "sync_full"), 1);
    assert_eq!(stat(&master, "sync_partial_ok"), 1);
}

#[test]
fn rudis_replica_of_redis_master_full_then_partial() {
    let master = redis();
    let replica = rudis();
    let mut m = master.conn();
    write_some(&mut m, "before");
    attach(&replica, &master);
    assert_in_sync(&master, &replica);
    ok(&mut replica.conn(), &["CLIENT", "KILL", "TYPE", "master"]);
    write_some(&mut m, "after");
    wait_link_up(&replica);
    assert_in_sync(&master, &replica);
    assert_eq!(stat(&master, "sync_full"), 1);
    assert_eq!(stat(&master, "sync_partial_ok"), 1);
}

#[test]
fn chain_replicates_the_same_stream() {
    let master = rudis();
    let middle = rudis();
    let leaf = rudis();
    attach(&middle, &master);
    attach(&leaf, &middle);
    write_some(&mut master.conn(), "chain");
    assert_in_sync(&master, &leaf);
    let id = info_field(&mut master.conn(), "replication", "master_replid");
    assert_eq!(
        info_field(&mut leaf.conn(), "replication", "master_replid"),
        id
    );
}

#[test]
fn link_cut_while_streaming_keeps_consistency() {
    let master = rudis();
    let replica = rudis();
    attach(&replica, &master);
    let mut m = master.conn();
    for round in 0..5 {
        write_some(&mut m, &format!("r{round}"));
        ok(&mut replica.conn(), &["CLIENT", "KILL", "TYPE", "master"]);
        ok(&mut m, &["CLIENT", "KILL", "TYPE", "replica"]);
    }
    wait_link_up(&replica);
    assert_in_sync(&master, &replica);
}

#[test]
fn backlog_overflow_forces_a_full_resync() {
    let master = ServerProcess::start(&[
        "--repl-diskless-sync-delay",
        "0",
        "--enable-debug-command",
        "yes",
        "--repl-backlog-size",
        "16384",
    ]);
    let replica = rudis();
    attach(&replica, &master);
    let mut m = master.conn();
    write_some(&mut m, "a");
    assert_in_sync(&master, &replica);
    signal(replica.pid(), SIGSTOP);
    ok(&mut m, &["CLIENT", "KILL", "TYPE", "replica"]);
    let big = "x".repeat(1000);
    for i in 0..200 {
        ok(&mut m, &["SET", &format!("big{i}"), &big]);
    }
    signal(replica.pid(), SIGCONT);
    wait_until("a second full sync", || stat(&master, "sync_full") == 2);
    wait_link_up(&replica);
    assert_in_sync(&master, &replica);
    assert!(stat(&master, "sync_partial_err") >= 1);
}

#[test]
fn slow_replica_over_its_output_limit_is_cut_then_resyncs() {
    let master = ServerProcess::start(&[
        "--repl-diskless-sync-delay",
        "0",
        "--enable-debug-command",
        "yes",
        "--client-output-buffer-limit",
        "replica 1mb 0 0",
    ]);
    let replica = rudis();
    attach(&replica, &master);
    let mut m = master.conn();
    signal(replica.pid(), SIGSTOP);
    let big = "y".repeat(100_000);
    for i in 0..100 {
        ok(&mut m, &["SET", &format!("k{i}"), &big]);
    }
    wait_until("the replica to be cut off", || {
        master.log().contains("overcoming of output buffer limits")
    });
    signal(replica.pid(), SIGCONT);
    wait_link_up(&replica);
    assert_in_sync(&master, &replica);
}

#[test]
fn master_killed_mid_full_sync_then_replica_syncs_with_another() {
    // A master slow to serialize (a delay per key) dies during the transfer; the replica
    // keeps its old data, then syncs fully with a new master.
    let slow = ServerProcess::start(&[
        "--repl-diskless-sync-delay",
        "0",
        "--enable-debug-command",
        "yes",
        "--rdb-key-save-delay",
        "2000",
    ]);
    let mut s = slow.conn();
    for i in 0..2000 {
        ok(&mut s, &["SET", &format!("k{i}"), "v"]);
    }
    let replica = rudis();
    ok(&mut replica.conn(), &["SET", "old", "1"]);
    ok(
        &mut replica.conn(),
        &["REPLICAOF", "127.0.0.1", &slow.port.to_string()],
    );
    let mut r = replica.conn();
    wait_until("the transfer to start", || {
        info_field(&mut r, "replication", "master_sync_in_progress") == "1"
    });
    drop(slow);
    let master = rudis();
    write_some(&mut master.conn(), "new");
    attach(&replica, &master);
    assert_in_sync(&master, &replica);
}

#[test]
fn values_of_100_mb_replicate() {
    let master = rudis();
    let replica = rudis();
    let mut m = master.conn();
    let big = vec![b'z'; 100 << 20];
    m.send_bytes(&[b"SET", b"big-before", &big]);
    assert_eq!(text(&m.read_reply().unwrap().0), "OK");
    attach(&replica, &master);
    m.send_bytes(&[b"SET", b"big-after", &big]);
    assert_eq!(text(&m.read_reply().unwrap().0), "OK");
    assert_in_sync(&master, &replica);
    assert_eq!(
        cmd(&mut replica.conn(), &["STRLEN", "big-after"]),
        (100 << 20).to_string()
    );
}

#[test]
fn wait_counts_acknowledged_replicas_and_min_replicas_refuses_writes() {
    let master = rudis();
    let replica = rudis();
    attach(&replica, &master);
    let mut m = master.conn();
    ok(&mut m, &["SET", "k", "v"]);
    assert_eq!(cmd(&mut m, &["WAIT", "1", "5000"]), "1");
    assert_eq!(cmd(&mut m, &["WAIT", "2", "200"]), "1");
    ok(&mut m, &["CONFIG", "SET", "min-replicas-to-write", "2"]);
    assert_eq!(
        cmd(&mut m, &["SET", "k", "v"]),
        "-NOREPLICAS Not enough good replicas to write."
    );
    ok(&mut m, &["CONFIG", "SET", "min-replicas-to-write", "1"]);
    ok(&mut m, &["SET", "k", "v2"]);
}
