//! A master's full syncs with real processes: replicas that attach together share one
//! diskless transfer (`repl-diskless-sync-max-replicas`); a replica arriving during a
//! disk-based one joins it; the transfer counts as a BGSAVE in INFO and is abandoned when
//! nobody waits for it (no save points) or by FLUSHALL; a replica's command that produces a
//! reply disconnects it; PSYNC with a bad offset is refused and logged.

mod common;

use std::time::{Duration, Instant};

use common::{cmd, info_field, ok, wait_until, ServerProcess};

fn server(args: &[&str]) -> ServerProcess {
    let mut all = vec!["--enable-debug-command", "yes"];
    all.extend_from_slice(args);
    ServerProcess::start(&all)
}

fn attach(replica: &ServerProcess, master: &ServerProcess) {
    ok(
        &mut replica.conn(),
        &["REPLICAOF", "127.0.0.1", &master.port.to_string()],
    );
}

fn link_up(replica: &ServerProcess) -> bool {
    info_field(&mut replica.conn(), "master_link_status") == "up"
}

fn count(log: &str, needle: &str) -> usize {
    log.matches(needle).count()
}

#[test]
fn replicas_attaching_together_share_one_diskless_transfer() {
    let master = server(&[
        "--repl-diskless-sync",
        "yes",
        "--repl-diskless-sync-delay",
        "5",
        "--repl-diskless-sync-max-replicas",
        "2",
    ]);
    let mut m = master.conn();
    ok(&mut m, &["DEBUG", "POPULATE", "1000", "k", "100"]);
    let (a, b) = (server(&[]), server(&[]));
    let started = Instant::now();
    attach(&a, &master);
    attach(&b, &master);
    wait_until("both links", || link_up(&a) && link_up(&b));
    // Two waiting replicas end the 5 s delay at once.
    assert!(started.elapsed() < Duration::from_secs(4));
    assert_eq!(info_field(&mut m, "sync_full"), "2");
    let log = master.log();
    assert_eq!(
        count(
            &log,
            "Starting BGSAVE for SYNC with target: replicas sockets"
        ),
        1
    );
    assert!(log.contains("Background RDB transfer started by pid"));
    assert!(log.contains("Diskless rdb transfer, done reading from pipe, 2 replicas still up."));
    let digest = cmd(&mut m, &["DEBUG", "DIGEST"]);
    assert_eq!(cmd(&mut a.conn(), &["DEBUG", "DIGEST"]), digest);
    assert_eq!(cmd(&mut b.conn(), &["DEBUG", "DIGEST"]), digest);
}

#[test]
fn a_disk_transfer_nobody_waits_for_is_abandoned_and_counts_as_a_bgsave() {
    let master = server(&[
        "--repl-diskless-sync",
        "no",
        "--rdb-key-save-delay",
        "200000",
    ]);
    let mut m = master.conn();
    for i in 0..20 {
        ok(&mut m, &["SET", &format!("k{i}"), "v"]);
    }
    let (a, b) = (server(&[]), server(&[]));
    attach(&a, &master);
    attach(&b, &master);
    wait_until("the transfer and two waiting replicas", || {
        let info = cmd(&mut m, &["INFO"]);
        info.contains("rdb_bgsave_in_progress:1") && info.matches("state=wait_bgsave").count() == 2
    });
    // The second replica shares the first one's file.
    assert_eq!(
        count(&master.log(), "Starting BGSAVE for SYNC with target: disk"),
        1
    );
    ok(&mut a.conn(), &["REPLICAOF", "NO", "ONE"]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(info_field(&mut m, "rdb_bgsave_in_progress"), "1");
    ok(&mut b.conn(), &["REPLICAOF", "NO", "ONE"]);
    wait_until("the transfer to stop", || {
        info_field(&mut m, "rdb_bgsave_in_progress") == "0"
    });
}

#[test]
fn flushall_abandons_a_diskless_transfer_and_the_replica_syncs_again() {
    let master = server(&[
        "--repl-diskless-sync",
        "yes",
        "--repl-diskless-sync-delay",
        "0",
        "--rdb-key-save-delay",
        "100000",
    ]);
    let mut m = master.conn();
    ok(&mut m, &["DEBUG", "POPULATE", "100", "k", "10"]);
    let replica = server(&[]);
    attach(&replica, &master);
    wait_until("the transfer", || {
        info_field(&mut m, "rdb_bgsave_in_progress") == "1"
    });
    ok(&mut m, &["CONFIG", "SET", "rdb-key-save-delay", "0"]);
    ok(&mut m, &["FLUSHALL"]);
    ok(&mut m, &["SET", "after", "1"]);
    wait_until("a second transfer and the link", || {
        count(&master.log(), "Background RDB transfer started by pid") == 2 && link_up(&replica)
    });
    let mut r = replica.conn();
    wait_until("the replica to follow", || {
        cmd(&mut r, &["GET", "after"]) == "1"
    });
    assert_eq!(cmd(&mut r, &["DBSIZE"]), "1");
}

#[test]
fn a_replica_command_that_replies_disconnects_it() {
    let master = server(&["--repl-diskless-sync", "no"]);
    let mut rd = master.conn();
    rd.send(&["PSYNC", "replicationid", "-1"]);
    let (first, _) = rd.read_reply().unwrap();
    assert!(common::text(&first).starts_with("FULLRESYNC "));
    rd.send(&["GET", "foo"]);
    wait_until("the disconnection", || rd.is_closed_by_peer());
    let log = master.log();
    assert!(log.contains(
        "== CRITICAL == This master is sending an error to its replica: 'ERR Replica can't interact with the keyspace' after processing the command 'get'"
    ));
    assert!(log.contains("Replica generated a reply to command 'get', disconnecting it: id="));
    let mut c = master.conn();
    assert_eq!(cmd(&mut c, &["PING"]), "PONG");
}

#[test]
fn psync_with_a_bad_offset_is_refused_and_logged() {
    let master = server(&[]);
    let mut c = master.conn();
    assert_eq!(
        cmd(&mut c, &["PSYNC", "replicationid", "offset_str"]),
        "-ERR value is not an integer or out of range"
    );
    assert!(master
        .log()
        .contains("asks for synchronization but with a wrong offset"));
    assert_eq!(cmd(&mut c, &["PING"]), "PONG");
}

#[test]
fn client_kill_closes_a_replica_link_at_once() {
    let master = server(&["--repl-diskless-sync-delay", "0"]);
    let replica = server(&[]);
    attach(&replica, &master);
    wait_until("the link", || link_up(&replica));
    let mut m = master.conn();
    assert_eq!(cmd(&mut m, &["CLIENT", "KILL", "TYPE", "replica"]), "1");
    wait_until("the replica to see the link drop", || {
        replica.log().contains("Connection with master lost")
    });
    wait_until("the link again", || link_up(&replica));
}
