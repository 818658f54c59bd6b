//! Writes a master must refuse and errors a replica must report, against Rudis and Redis
//! 7.0 side by side: FCALL of a function that may write needs `min-replicas-to-write` good
//! replicas (a `no-writes` function does not); DEBUG REPLICATE sends a command to the
//! replicas only, and a replica answering its master's stream with an error logs it as
//! critical, counts it, and under `propagation-error-behavior panic` stops.

mod common;

use std::time::Duration;

use common::{cmd, ok, wait_until, RawConn, ServerProcess};

const ARGS: &[&str] = &[
    "--repl-diskless-sync-delay",
    "0",
    "--enable-debug-command",
    "yes",
];

const LIBRARY: &str = "#!lua name=test
redis.register_function{function_name='f_default_flags', callback=function(keys, args) return redis.call('get',keys[1]) end, flags={}}
redis.register_function{function_name='f_no_writes', callback=function(keys, args) return redis.call('get',keys[1]) end, flags={'no-writes'}}";

fn info_field(c: &mut RawConn, section: &str, name: &str) -> String {
    let info = cmd(c, &["INFO", section]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in INFO {section}"))
        .to_string()
}

/// A master and its replica, both started with `start`, the link up.
fn pair(start: fn(&[&str]) -> ServerProcess) -> (ServerProcess, ServerProcess) {
    let master = start(ARGS);
    let replica = start(ARGS);
    let mut r = replica.conn();
    ok(
        &mut r,
        &["REPLICAOF", "127.0.0.1", &master.port.to_string()],
    );
    wait_until("the link to come up", || {
        info_field(&mut r, "replication", "master_link_status") == "up"
    });
    (master, replica)
}

/// Both implementations, each as a master with one replica.
fn pairs() -> [(ServerProcess, ServerProcess); 2] {
    [pair(ServerProcess::start), pair(ServerProcess::start_redis)]
}

/// The replica's critical log lines, without the timestamp prefix.
fn critical_lines(replica: &ServerProcess) -> Vec<String> {
    replica
        .log()
        .lines()
        .filter_map(|l| l.find("== CRITICAL ==").map(|i| l[i..].to_string()))
        .collect()
}

#[test]
fn fcall_of_a_function_that_may_write_needs_enough_good_replicas() {
    let mut answers = Vec::new();
    for (master, _replica) in pairs() {
        let mut m = master.conn();
        ok(&mut m, &["FUNCTION", "LOAD", "REPLACE", LIBRARY]);
        ok(&mut m, &["SET", "foo", "12345"]);
        ok(&mut m, &["CONFIG", "SET", "min-replicas-max-lag", "3"]);
        ok(&mut m, &["CONFIG", "SET", "min-replicas-to-write", "2"]);
        let writing = cmd(&mut m, &["FCALL", "f_default_flags", "1", "foo"]);
        let reading = cmd(&mut m, &["FCALL", "f_no_writes", "1", "foo"]);
        answers.push((writing, reading));
    }
    assert_eq!(
        answers[0],
        (
            "-NOREPLICAS Not enough good replicas to write.".to_string(),
            "12345".to_string()
        )
    );
    assert_eq!(answers[0], answers[1], "Rudis, then Redis");
}

#[test]
fn a_replica_logs_and_counts_errors_in_its_masters_stream() {
    let mut logged = Vec::new();
    for (master, replica) in pairs() {
        let (mut m, mut r) = (master.conn(), replica.conn());
        ok(
            &mut r,
            &["CONFIG", "SET", "propagation-error-behavior", "ignore"],
        );
        ok(&mut m, &["DEBUG", "REPLICATE", "fake-command-1"]);
        ok(&mut m, &["SET", "foo", "bar2"]);
        assert_eq!(cmd(&mut m, &["WAIT", "1", "2000"]), "1");
        assert_eq!(cmd(&mut r, &["GET", "foo"]), "bar2");
        assert_eq!(cmd(&mut m, &["EXISTS", "fake-command-1"]), "0");

        // A writable replica's own data may diverge; the failed INCRBY is reported too.
        ok(&mut r, &["CONFIG", "SET", "replica-read-only", "no"]);
        ok(&mut r, &["SET", "number2", "foo"]);
        ok(&mut m, &["INCRBY", "number2", "1"]);
        assert_eq!(cmd(&mut m, &["WAIT", "1", "2000"]), "1");
        assert_eq!(cmd(&mut m, &["GET", "number2"]), "1");
        assert_eq!(cmd(&mut r, &["GET", "number2"]), "foo");
        assert_eq!(info_field(&mut r, "stats", "unexpected_error_replies"), "2");
        logged.push(critical_lines(&replica));
    }
    assert_eq!(logged[0].len(), 2, "{:?}", logged[0]);
    assert!(logged[0][0].contains("'fake-command-1'"), "{:?}", logged[0]);
    assert!(logged[0][1].ends_with("after processing the command 'incrby'"));
    assert_eq!(logged[0], logged[1], "Rudis, then Redis");
}

#[test]
fn a_read_only_replica_stops_on_an_error_under_panic() {
    for (master, mut replica) in pairs() {
        let (mut m, mut r) = (master.conn(), replica.conn());
        ok(
            &mut r,
            &["CONFIG", "SET", "propagation-error-behavior", "panic"],
        );
        ok(&mut m, &["DEBUG", "REPLICATE", "fake-command-1"]);
        wait_until("the replica to stop", || !replica.is_alive());
        let expected = "Guru Meditation: This replica panicked sending an error to its master after processing the command '<unknown>'";
        assert!(replica.log().contains(expected), "{}", replica.log());
    }
}

#[test]
fn the_masters_stream_waits_for_a_script_running_on_the_replica() {
    let (master, replica) = pair(ServerProcess::start);
    let (mut m, mut r) = (master.conn(), replica.conn());
    ok(&mut r, &["CONFIG", "SET", "busy-reply-threshold", "100"]);
    let port = replica.port;
    let script = std::thread::spawn(move || {
        let mut c = RawConn::connect(port);
        // A script that keeps the replica busy for about a second.
        let busy = "local t = redis.call('time') local e = t[1] + 1 \
                    while tonumber(redis.call('time')[1]) <= e do end return 1";
        cmd(&mut c, &["EVAL", busy, "0"])
    });
    std::thread::sleep(Duration::from_millis(300));
    for i in 0..20 {
        ok(&mut m, &["SET", &format!("k{i}"), "v"]);
    }
    assert_eq!(script.join().unwrap(), "1");
    wait_until("the replica to apply the writes", || {
        cmd(&mut r, &["DBSIZE"]) == "20"
    });
    assert_eq!(info_field(&mut r, "stats", "unexpected_error_replies"), "0");
    assert!(critical_lines(&replica).is_empty());
}
