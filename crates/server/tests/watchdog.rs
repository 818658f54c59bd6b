//! The software watchdog (`watchdog-period`) with real processes: a command holding the
//! whole keyspace, or a replica's load of its master's data, that outlasts the period is
//! logged once; nothing is logged with the watchdog off.

mod common;

use std::time::Duration;

use common::{cmd, ok, wait_until, ServerProcess};

const EXPIRED: &str = "--- WATCHDOG TIMER EXPIRED ---";

#[test]
fn a_long_exclusive_command_is_reported_once_and_only_when_enabled() {
    let s = ServerProcess::start(&["--enable-debug-command", "yes"]);
    let mut c = s.conn();
    ok(&mut c, &["DEBUG", "SLEEP", "0.3"]);
    assert!(!s.log().contains(EXPIRED));
    ok(&mut c, &["CONFIG", "SET", "watchdog-period", "100"]);
    ok(&mut c, &["DEBUG", "SLEEP", "0.3"]);
    wait_until("the report", || s.log().contains(EXPIRED));
    let log = s.log();
    assert_eq!(log.matches(EXPIRED).count(), 1);
    assert!(log.contains("the command 'debug' running for"));
    ok(&mut c, &["PING"]);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(s.log().matches(EXPIRED).count(), 1);
}

#[test]
fn a_replica_load_outlasting_the_period_is_reported_while_loading() {
    let master = ServerProcess::start(&[
        "--enable-debug-command",
        "yes",
        "--repl-diskless-sync",
        "yes",
        "--repl-diskless-sync-delay",
        "0",
    ]);
    let mut m = master.conn();
    ok(&mut m, &["DEBUG", "POPULATE", "100", "k", "1000"]);
    ok(&mut m, &["CONFIG", "SET", "rdb-key-save-delay", "10000"]);
    let replica = ServerProcess::start(&[]);
    let mut r = replica.conn();
    ok(
        &mut r,
        &["CONFIG", "SET", "repl-diskless-load", "on-empty-db"],
    );
    ok(&mut r, &["CONFIG", "SET", "watchdog-period", "200"]);
    ok(
        &mut r,
        &["REPLICAOF", "127.0.0.1", &master.port.to_string()],
    );
    wait_until("the report", || replica.log().contains(EXPIRED));
    assert!(cmd(&mut r, &["INFO", "persistence"]).contains("loading:1"));
    assert!(replica
        .log()
        .contains("the load of the master's data running for"));
}
