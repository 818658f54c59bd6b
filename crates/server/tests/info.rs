//! INFO against a running server: section selection and order, and fields that must follow
//! the server's real state.

mod common;

use common::{RawConn, ServerProcess};
use rudis_resp::Value;

fn text(v: &Value) -> String {
    String::from_utf8_lossy(v.as_bytes().unwrap_or_default()).into_owned()
}

fn info(c: &mut RawConn, sections: &[&str]) -> String {
    let mut args = vec!["INFO"];
    args.extend_from_slice(sections);
    text(&c.command(&args).expect("INFO replies"))
}

/// The value of `name` in an INFO text.
fn field(info: &str, name: &str) -> Option<String> {
    info.split("\r\n")
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':').map(str::to_string))
}

fn num(info: &str, name: &str) -> i64 {
    field(info, name)
        .unwrap_or_else(|| panic!("no {name} in INFO"))
        .parse()
        .unwrap_or_else(|_| panic!("{name} is not a number"))
}

fn titles(info: &str) -> Vec<&str> {
    info.split("\r\n")
        .filter_map(|l| l.strip_prefix("# "))
        .collect()
}

#[test]
fn sections_selection_and_order() {
    let srv = ServerProcess::start(&[]);
    let mut c = srv.conn();
    let default = [
        "Server",
        "Clients",
        "Memory",
        "Persistence",
        "Stats",
        "Replication",
        "CPU",
        "Modules",
        "Errorstats",
        "Cluster",
        "Keyspace",
    ];
    assert_eq!(titles(&info(&mut c, &[])), default);
    assert_eq!(titles(&info(&mut c, &["default"])), default);
    let all = [
        "Server",
        "Clients",
        "Memory",
        "Persistence",
        "Stats",
        "Replication",
        "CPU",
        "Modules",
        "Commandstats",
        "Errorstats",
        "Latencystats",
        "Cluster",
        "Keyspace",
    ];
    assert_eq!(titles(&info(&mut c, &["all"])), all);
    assert_eq!(titles(&info(&mut c, &["EVERYTHING"])), all);
    let two = info(&mut c, &["cpu", "SERVER", "cpu"]);
    assert_eq!(titles(&two), ["Server", "CPU"]);
    assert!(two.contains("\r\n\r\n# CPU\r\n") && two.ends_with("\r\n"));
    assert_eq!(info(&mut c, &["nosuch"]), "");
    let server = info(&mut c, &["server"]);
    assert_eq!(field(&server, "redis_version").as_deref(), Some("7.0.15"));
    assert!(field(&server, "rudis_version").is_some());
    assert_eq!(num(&server, "tcp_port"), i64::from(srv.port));
    assert_eq!(num(&server, "process_id"), i64::from(srv.pid()));
    assert_eq!(field(&server, "run_id").map(|r| r.len()), Some(40));
}

#[test]
fn fields_follow_server_state() {
    let srv = ServerProcess::start(&[]);
    let mut c = srv.conn();
    // Each answers a PING, so the server has registered it.
    let mut others = [srv.conn(), srv.conn()];
    for o in &mut others {
        o.command(&["PING"]).unwrap();
    }
    assert_eq!(num(&info(&mut c, &["clients"]), "connected_clients"), 3);
    let before = info(&mut c, &["stats", "persistence"]);
    for cmd in [
        &["SET", "a", "1"][..],
        &["SET", "b", "2", "EX", "100"],
        &["SELECT", "5"],
        &["SET", "c", "3"],
        &["SELECT", "0"],
        &["GET", "a"],
        &["GET", "nosuch"],
    ] {
        assert!(!c.command(cmd).unwrap().is_error(), "{cmd:?}");
    }
    assert!(c.command(&["INCR", "a", "b"]).unwrap().is_error());
    let after = info(&mut c, &["stats", "persistence", "keyspace"]);
    let delta = |name| num(&after, name) - num(&before, name);
    // The first INFO and the 7 commands that ran; the rejected INCR does not count.
    assert_eq!(delta("total_commands_processed"), 8);
    assert_eq!(delta("rdb_changes_since_last_save"), 3);
    assert_eq!(delta("keyspace_hits"), 1);
    assert_eq!(delta("keyspace_misses"), 1);
    assert_eq!(delta("total_error_replies"), 1);
    let db0 = field(&after, "db0").unwrap();
    assert!(db0.starts_with("keys=2,expires=1,avg_ttl="), "{db0}");
    assert_eq!(
        field(&after, "db5").as_deref(),
        Some("keys=1,expires=0,avg_ttl=0")
    );
    let all = info(&mut c, &["commandstats", "errorstats"]);
    assert!(field(&all, "cmdstat_set")
        .unwrap()
        .starts_with("calls=3,usec="));
    assert!(field(&all, "cmdstat_incr")
        .unwrap()
        .ends_with("rejected_calls=1,failed_calls=0"));
    assert_eq!(field(&all, "errorstat_ERR").as_deref(), Some("count=1"));
    c.command(&["CONFIG", "SET", "maxclients", "100"]).unwrap();
    assert_eq!(num(&info(&mut c, &["clients"]), "maxclients"), 100);
}

#[test]
fn memory_follows_allocations() {
    let srv = ServerProcess::start(&[]);
    let mut c = srv.conn();
    let before = info(&mut c, &["memory"]);
    let big = "x".repeat(8 << 20);
    c.command(&["SET", "big", &big]).unwrap();
    let after = info(&mut c, &["memory"]);
    let used = num(&after, "used_memory");
    assert!(used - num(&before, "used_memory") >= 8 << 20);
    assert!(num(&after, "used_memory_peak") >= used);
    assert!(num(&after, "used_memory_rss") >= used);
    assert!(field(&after, "used_memory_human").unwrap().ends_with('M'));
    assert!(field(&after, "mem_allocator")
        .unwrap()
        .starts_with("jemalloc-"));
    c.command(&["DEL", "big"]).unwrap();
    let freed = info(&mut c, &["memory"]);
    assert!(num(&freed, "used_memory_peak") >= num(&after, "used_memory_peak"));
}

#[test]
fn latencystats_follow_configuration() {
    let srv = ServerProcess::start(&[]);
    let mut c = srv.conn();
    let latency = |c: &mut RawConn, cmd: &str| {
        field(
            &info(c, &["latencystats"]),
            &format!("latency_percentiles_usec_{cmd}"),
        )
    };
    c.command(&["CONFIG", "RESETSTAT"]).unwrap();
    c.command(&["CONFIG", "SET", "latency-tracking", "no"])
        .unwrap();
    c.command(&["SET", "a", "b"]).unwrap();
    assert_eq!(latency(&mut c, "set"), None);
    c.command(&["CONFIG", "SET", "latency-tracking", "yes"])
        .unwrap();
    c.command(&["SET", "a", "b"]).unwrap();
    let line = latency(&mut c, "set").unwrap();
    let parts: Vec<&str> = line.split(',').collect();
    assert_eq!(parts.len(), 3, "{line}");
    for (part, p) in parts.iter().zip(["p50=", "p99=", "p99.9="]) {
        let value = part.strip_prefix(p).unwrap_or_else(|| panic!("{line}"));
        let (_, decimals) = value.split_once('.').unwrap();
        assert_eq!(decimals.len(), 3, "{line}");
    }
    c.command(&[
        "CONFIG",
        "SET",
        "latency-tracking-info-percentiles",
        "0.0 50.0 100.0",
    ])
    .unwrap();
    let line = latency(&mut c, "set").unwrap();
    assert!(line.starts_with("p0=") && line.contains(",p50=") && line.contains(",p100="));
    assert!(latency(&mut c, "config|set").is_some());
    c.command(&["CONFIG", "RESETSTAT"]).unwrap();
    assert_eq!(latency(&mut c, "set"), None);
}

/// Calls, rejections and failures per command (times aside, in name order) and the error
/// counts, as INFO commandstats and errorstats give them.
fn call_counts(c: &mut RawConn) -> Vec<String> {
    let mut lines: Vec<String> = info(c, &["commandstats", "errorstats"])
        .split("\r\n")
        .filter(|l| l.starts_with("cmdstat_") || l.starts_with("errorstat_"))
        .filter(|l| !l.starts_with("cmdstat_info:"))
        .map(|l| {
            l.split(',')
                .filter(|f| !f.starts_with("usec"))
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    lines.sort();
    lines
}

/// MULTI with a queuing error: the rejected command, the aborted EXEC and the errors are
/// counted as Redis counts them.
#[test]
fn transaction_errors_are_counted_like_redis() {
    let run = |srv: &ServerProcess| {
        let mut c = srv.conn();
        c.command(&["CONFIG", "RESETSTAT"]).unwrap();
        c.command(&["MULTI"]).unwrap();
        c.command(&["SET"]).unwrap();
        c.command(&["EXEC"]).unwrap();
        c.command(&["EXEC"]).unwrap();
        c.command(&["MULTI"]).unwrap();
        c.command(&["SET", "a", "b"]).unwrap();
        c.command(&["AUTH", "a"]).unwrap();
        c.command(&["EXEC"]).unwrap();
        call_counts(&mut c)
    };
    let ours = ServerProcess::start(&[]);
    let redis = ServerProcess::start_redis(&[]);
    assert_eq!(run(&ours), run(&redis));
}

/// Rudis never forks, but `total_forks` counts the background snapshots Redis forks for, so
/// tools that wait for a background save to start see it; CONFIG RESETSTAT zeroes it.
#[test]
fn total_forks_counts_background_snapshots() {
    let server = ServerProcess::start(&[]);
    let mut con = server.client();
    let forks = |con: &mut redis::Connection| -> u64 {
        let info: String = redis::cmd("INFO").arg("stats").query(con).unwrap();
        info.lines()
            .find_map(|l| l.strip_prefix("total_forks:"))
            .and_then(|v| v.trim().parse().ok())
            .expect("total_forks")
    };
    assert_eq!(forks(&mut con), 0);
    let _: String = redis::cmd("BGSAVE").query(&mut con).unwrap();
    assert_eq!(forks(&mut con), 1);
    let () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query(&mut con)
        .unwrap();
    assert_eq!(forks(&mut con), 0);
}
