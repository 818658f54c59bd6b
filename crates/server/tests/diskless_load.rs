//! A replica loading its master's transfer straight from the socket (`repl-diskless-load`),
//! with real processes: under `swapdb` a failed load leaves the old data and functions in
//! place and a complete one replaces them; with the master's own history the old data is
//! served during the load (`async_loading`) and commands flagged `no_async_loading` get
//! `-LOADING`; under `on-empty-db` an empty replica parses the transfer as it arrives
//! (`loading:1` before the transfer ends). Each case checks the log lines Redis writes.

mod common;

use common::{cmd, info_field, ok, wait_until, RawConn, ServerProcess};

fn server() -> ServerProcess {
    ServerProcess::start(&[
        "--repl-diskless-sync",
        "yes",
        "--repl-diskless-sync-delay",
        "0",
        "--enable-debug-command",
        "yes",
    ])
}

/// A master whose transfer takes a while: `keys` keys, `delay_us` per key.
fn slow_master(keys: usize, delay_us: u32) -> ServerProcess {
    let m = server();
    let mut c = m.conn();
    ok(
        &mut c,
        &["DEBUG", "POPULATE", &keys.to_string(), "master", "100"],
    );
    ok(
        &mut c,
        &["CONFIG", "SET", "rdb-key-save-delay", &delay_us.to_string()],
    );
    m
}

const LIB: &str = "#!lua name=test\nredis.register_function{function_name='test', callback=function() return 'REPLACE' end, flags={'no-writes'}}";

fn load_lib(c: &mut RawConn, answer: &str) {
    ok(
        c,
        &[
            "FUNCTION",
            "LOAD",
            "REPLACE",
            &LIB.replace("REPLACE", answer),
        ],
    );
}

#[test]
fn swapdb_failed_load_keeps_old_data_then_complete_load_replaces_it() {
    let master = slow_master(500, 10_000);
    load_lib(&mut master.conn(), "new");
    let replica = server();
    let mut r = replica.conn();
    ok(&mut r, &["CONFIG", "SET", "repl-diskless-load", "swapdb"]);
    ok(&mut r, &["DEBUG", "POPULATE", "200", "replica", "10"]);
    ok(&mut r, &["SET", "mykey", "myvalue"]);
    load_lib(&mut r, "old");
    ok(
        &mut r,
        &["REPLICAOF", "127.0.0.1", &master.port.to_string()],
    );
    // A different history: the load is not served from the old data.
    wait_until("loading", || info_field(&mut r, "loading") == "1");
    assert_eq!(info_field(&mut r, "async_loading"), "0");
    assert!(cmd(&mut r, &["GET", "mykey"]).starts_with("-LOADING"));
    let mut m = master.conn();
    ok(&mut m, &["CONFIG", "SET", "repl-diskless-sync-delay", "5"]);
    ok(&mut m, &["CLIENT", "KILL", "TYPE", "replica"]);
    wait_until("the load to fail", || info_field(&mut r, "loading") == "0");
    assert_eq!(cmd(&mut r, &["GET", "mykey"]), "myvalue");
    assert_eq!(cmd(&mut r, &["DBSIZE"]), "201");
    assert_eq!(cmd(&mut r, &["FCALL", "test", "0"]), "old");
    let log = replica.log();
    assert!(log.contains(
        "MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to parser"
    ));
    assert!(log.contains("MASTER <-> REPLICA sync: Loading DB in memory"));
    assert!(log.contains("Failure loading rdb format from socket, assuming connection error"));
    assert!(log.contains("MASTER <-> REPLICA sync: Discarding temporary DB in background"));

    ok(&mut m, &["CONFIG", "SET", "rdb-key-save-delay", "0"]);
    ok(&mut m, &["CONFIG", "SET", "repl-diskless-sync-delay", "0"]);
    wait_until("the link", || {
        info_field(&mut r, "master_link_status") == "up"
    });
    assert_eq!(cmd(&mut r, &["GET", "mykey"]), "(nil)");
    assert_eq!(cmd(&mut r, &["DBSIZE"]), "500");
    assert_eq!(cmd(&mut r, &["FCALL", "test", "0"]), "new");
    assert_eq!(
        cmd(&mut r, &["DEBUG", "DIGEST"]),
        cmd(&mut m, &["DEBUG", "DIGEST"])
    );
    let log = replica.log();
    assert!(log.contains("MASTER <-> REPLICA sync: Swapping active DB with loaded DB"));
    assert!(log.contains("MASTER <-> REPLICA sync: Discarding old DB in background"));
}

#[test]
fn swapdb_with_the_same_history_serves_old_data_while_loading() {
    let master = server();
    let replica = server();
    let mut r = replica.conn();
    ok(&mut r, &["CONFIG", "SET", "repl-diskless-load", "swapdb"]);
    ok(&mut r, &["CONFIG", "SET", "replica-read-only", "no"]);
    ok(
        &mut r,
        &["REPLICAOF", "127.0.0.1", &master.port.to_string()],
    );
    wait_until("the first sync", || {
        info_field(&mut r, "master_link_status") == "up"
    });
    ok(&mut r, &["SET", "mykey", "myvalue"]);
    load_lib(&mut r, "old");
    let mut m = master.conn();
    ok(&mut m, &["DEBUG", "POPULATE", "300", "master", "100"]);
    ok(&mut m, &["CONFIG", "SET", "rdb-key-save-delay", "10000"]);
    // Past the backlog: the replica must sync fully again, with the same history.
    ok(&mut m, &["CONFIG", "SET", "repl-backlog-size", "16384"]);
    ok(&mut m, &["MULTI"]);
    ok(&mut m, &["CLIENT", "KILL", "TYPE", "replica"]);
    for i in 0..10 {
        ok(&mut m, &["SET", &format!("big{i}"), &"A".repeat(16384)]);
    }
    ok(&mut m, &["EXEC"]);
    wait_until("async loading", || {
        info_field(&mut r, "async_loading") == "1"
    });
    assert_eq!(info_field(&mut r, "loading"), "0");
    assert_eq!(cmd(&mut r, &["GET", "mykey"]), "myvalue");
    assert_eq!(cmd(&mut r, &["FCALL", "test", "0"]), "old");
    assert!(cmd(&mut r, &["CONFIG", "SET", "appendonly", "no"]).starts_with("-LOADING"));
    assert!(cmd(&mut r, &["REPLICAOF", "NO", "ONE"]).starts_with("-LOADING"));
    assert_eq!(info_field(&mut r, "async_loading"), "1");
    wait_until("the load to end", || {
        info_field(&mut r, "master_link_status") == "up"
    });
    assert_eq!(info_field(&mut r, "async_loading"), "0");
    assert_eq!(cmd(&mut r, &["GET", "mykey"]), "(nil)");
    assert!(cmd(&mut r, &["FCALL", "test", "0"]).starts_with("-ERR"));
    assert_eq!(
        cmd(&mut r, &["DEBUG", "DIGEST"]),
        cmd(&mut m, &["DEBUG", "DIGEST"])
    );
}

#[test]
fn on_empty_db_parses_the_transfer_as_it_arrives() {
    let master = slow_master(300, 5_000);
    let replica = server();
    let mut r = replica.conn();
    ok(
        &mut r,
        &["CONFIG", "SET", "repl-diskless-load", "on-empty-db"],
    );
    ok(
        &mut r,
        &["REPLICAOF", "127.0.0.1", &master.port.to_string()],
    );
    // Loading begins with the transfer, not after it.
    wait_until("loading", || info_field(&mut r, "loading") == "1");
    assert_eq!(info_field(&mut r, "master_sync_in_progress"), "1");
    wait_until("the link", || {
        info_field(&mut r, "master_link_status") == "up"
    });
    let mut m = master.conn();
    assert_eq!(
        cmd(&mut r, &["DEBUG", "DIGEST"]),
        cmd(&mut m, &["DEBUG", "DIGEST"])
    );
    let log = replica.log();
    assert!(log.contains("to parser"));
    assert!(log.contains("MASTER <-> REPLICA sync: Flushing old data"));
    assert!(log.contains("MASTER <-> REPLICA sync: Finished with success"));
}

#[test]
fn on_empty_db_with_data_receives_to_disk() {
    let master = server();
    ok(&mut master.conn(), &["SET", "a", "1"]);
    let replica = server();
    let mut r = replica.conn();
    ok(
        &mut r,
        &["CONFIG", "SET", "repl-diskless-load", "on-empty-db"],
    );
    ok(&mut r, &["SET", "mine", "1"]);
    ok(
        &mut r,
        &["REPLICAOF", "127.0.0.1", &master.port.to_string()],
    );
    wait_until("the link", || {
        info_field(&mut r, "master_link_status") == "up"
    });
    assert_eq!(cmd(&mut r, &["GET", "a"]), "1");
    assert_eq!(cmd(&mut r, &["GET", "mine"]), "(nil)");
    assert!(replica.log().contains("to disk"));
}
