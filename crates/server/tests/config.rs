//! CONFIG against a running server: every directive survives GET then SET, settings that
//! need an action take effect (and are undone when a CONFIG SET fails), and CONFIG REWRITE
//! produces a file the server starts from.

mod common;

use std::path::Path;

use common::{scratch_dir, RawConn, ServerProcess};
use rudis_resp::Value;

fn text(v: &Value) -> String {
    String::from_utf8_lossy(v.as_bytes().unwrap_or_default()).into_owned()
}

fn ok(c: &mut RawConn, args: &[&str]) -> Value {
    let v = c.command(args).expect("reply");
    assert!(!v.is_error(), "{args:?}: {v:?}");
    v
}

fn error(c: &mut RawConn, args: &[&str]) -> String {
    let v = c.command(args).expect("reply");
    assert!(v.is_error(), "{args:?} should fail, got {v:?}");
    text(&v)
}

/// CONFIG GET's (name, value) pairs.
fn config_get(c: &mut RawConn, pattern: &str) -> Vec<(String, String)> {
    let Value::Array(items) = ok(c, &["CONFIG", "GET", pattern]) else {
        panic!("CONFIG GET replies with an array");
    };
    items
        .chunks(2)
        .map(|kv| (text(&kv[0]), text(&kv[1])))
        .collect()
}

fn config_value(c: &mut RawConn, name: &str) -> String {
    let pairs = config_get(c, name);
    assert_eq!(pairs.len(), 1, "{name}: {pairs:?}");
    pairs[0].1.clone()
}

/// Immutable and protected directives, and those whose value depends on the process.
const NOT_SETTABLE: &[&str] = &[
    "rdbchecksum",
    "daemonize",
    "io-threads-do-reads",
    "tcp-backlog",
    "always-show-logo",
    "syslog-enabled",
    "cluster-enabled",
    "disable-thp",
    "aclfile",
    "unixsocket",
    "pidfile",
    "syslog-ident",
    "appendfilename",
    "appenddirname",
    "supervised",
    "syslog-facility",
    "databases",
    "io-threads",
    "logfile",
    "unixsocketperm",
    "replicaof",
    "slaveof",
    "requirepass",
    "server_cpulist",
    "bio_cpulist",
    "aof_rewrite_cpulist",
    "bgsave_cpulist",
    "set-proc-title",
    "cluster-config-file",
    "cluster-port",
    "oom-score-adj",
    "oom-score-adj-values",
    "enable-protected-configs",
    "enable-debug-command",
    "enable-module-command",
    "dbfilename",
    "dir",
    "socket-mark-id",
];

#[test]
fn every_directive_survives_get_then_set() {
    let srv = ServerProcess::start(&[]);
    let mut c = srv.conn();
    let before = config_get(&mut c, "*");
    assert!(before.len() > 150, "{} directives", before.len());
    for (name, value) in &before {
        if !NOT_SETTABLE.contains(&name.as_str()) {
            ok(&mut c, &["CONFIG", "SET", name, value]);
        }
    }
    assert_eq!(config_get(&mut c, "*"), before);
}

#[test]
fn settings_take_effect() {
    let srv = ServerProcess::start(&[]);
    let mut c = srv.conn();
    ok(&mut c, &["CONFIG", "SET", "requirepass", "s3cret"]);
    ok(&mut c, &["PING"]);
    let mut fresh = srv.conn();
    assert!(error(&mut fresh, &["PING"]).starts_with("NOAUTH"));
    ok(&mut fresh, &["AUTH", "s3cret"]);
    ok(&mut fresh, &["CONFIG", "SET", "requirepass", ""]);
    ok(&mut srv.conn(), &["PING"]);

    ok(&mut c, &["CONFIG", "SET", "maxclients", "2"]);
    let mut third = srv.conn();
    assert_eq!(
        error(&mut third, &["PING"]),
        "ERR max number of clients reached"
    );
    ok(&mut c, &["CONFIG", "SET", "maxclients", "10000"]);
}

/// The server's working directory, from /proc.
fn cwd_of(srv: &ServerProcess) -> std::path::PathBuf {
    std::fs::read_link(format!("/proc/{}/cwd", srv.pid())).expect("read the server's cwd")
}

#[test]
fn dir_changes_directory_and_a_failed_set_undoes_it() {
    let srv = ServerProcess::start(&["--enable-protected-configs", "yes"]);
    let mut c = srv.conn();
    let start = cwd_of(&srv);
    let sub = srv.dir.join("sub");
    std::fs::create_dir(&sub).unwrap();
    let sub = sub.canonicalize().unwrap();
    ok(&mut c, &["CONFIG", "SET", "dir", sub.to_str().unwrap()]);
    assert_eq!(cwd_of(&srv), sub);
    assert_eq!(config_value(&mut c, "dir"), sub.to_str().unwrap());
    ok(&mut c, &["CONFIG", "SET", "dir", start.to_str().unwrap()]);
    assert_eq!(cwd_of(&srv), start);

    // maxclients cannot be applied: dir, applied before it, is restored.
    let e = error(
        &mut c,
        &[
            "CONFIG",
            "SET",
            "dir",
            sub.to_str().unwrap(),
            "maxclients",
            "4294967295",
        ],
    );
    assert!(
        e.starts_with("ERR CONFIG SET failed (possibly related to argument 'maxclients') - The operating system is not able to handle the specified number of clients, try with "),
        "{e}"
    );
    assert_eq!(cwd_of(&srv), start);
    assert_eq!(config_value(&mut c, "dir"), start.to_str().unwrap());
    assert_eq!(config_value(&mut c, "maxclients"), "10000");
    let e = error(&mut c, &["CONFIG", "SET", "dir", "/nonexistent/dir"]);
    assert!(e.ends_with("No such file or directory"), "{e}");
}

const CONFIG_FILE: &str = "# Rudis test configuration\n\
    maxmemory 10mb\n\
    slave-read-only yes\n\
    save 900 1\n\
    save 300 10\n\
    \n\
    # the end\n";

fn start_from(file: &Path) -> ServerProcess {
    ServerProcess::start_with_config(file, &[])
}

#[test]
fn rewrite_updates_the_file_and_the_server_restarts_from_it() {
    let dir = scratch_dir("rewrite");
    let file = dir.join("rudis.conf");
    std::fs::write(&file, CONFIG_FILE).unwrap();
    let srv = start_from(&file);
    let mut c = srv.conn();
    assert_eq!(config_value(&mut c, "maxmemory"), "10485760");
    ok(&mut c, &["CONFIG", "SET", "maxmemory", "20mb", "hz", "15"]);
    ok(&mut c, &["CONFIG", "SET", "save", "60 5"]);
    ok(&mut c, &["CONFIG", "REWRITE"]);
    let new = std::fs::read_to_string(&file).unwrap();
    let port_line = format!("port {}", srv.port);
    let lines: Vec<&str> = new.lines().collect();
    assert_eq!(lines[0], "# Rudis test configuration");
    assert_eq!(lines[1], "maxmemory 20mb");
    assert_eq!(lines[2], "replica-read-only yes");
    assert_eq!(lines[3], "save 60 5");
    assert_eq!(lines[4], "", "the second save line is blanked");
    assert_eq!(lines[5], "# the end");
    let generated = &lines[lines
        .iter()
        .position(|l| *l == "# Generated by CONFIG REWRITE")
        .unwrap()..];
    assert!(generated.contains(&"hz 15"), "{new}");
    assert!(generated.contains(&port_line.as_str()), "{new}");

    // The file names the first server's directory: it must outlive the second start.
    let again = start_from(&file);
    let mut c = again.conn();
    assert_eq!(config_value(&mut c, "maxmemory"), "20971520");
    assert_eq!(config_value(&mut c, "hz"), "15");
    drop(c);
    drop(again);
    drop(srv);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn loglevel_takes_effect() {
    let dir = scratch_dir("loglevel");
    let file = dir.join("rudis.conf");
    std::fs::write(&file, "# empty\n").unwrap();
    let srv = start_from(&file);
    let mut c = srv.conn();
    const DONE: &str = "CONFIG REWRITE executed with success.";
    ok(&mut c, &["CONFIG", "SET", "loglevel", "warning"]);
    ok(&mut c, &["CONFIG", "REWRITE"]);
    assert!(
        !srv.log().contains(DONE),
        "a notice is not logged at warning level"
    );
    ok(&mut c, &["CONFIG", "SET", "loglevel", "notice"]);
    ok(&mut c, &["CONFIG", "REWRITE"]);
    assert!(srv.log().contains(DONE));
    drop(c);
    drop(srv);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn rewrite_without_a_file_or_a_writable_file_fails() {
    let srv = ServerProcess::start(&[]);
    let mut c = srv.conn();
    assert_eq!(
        error(&mut c, &["CONFIG", "REWRITE"]),
        "ERR The server is running without a config file"
    );
    let dir = scratch_dir("rewrite-fail");
    let file = dir.join("rudis.conf");
    std::fs::write(&file, "# x\n").unwrap();
    let srv = start_from(&file);
    let mut c = srv.conn();
    // A directory where the file was: it can be neither read as text nor replaced.
    std::fs::remove_file(&file).unwrap();
    std::fs::create_dir(&file).unwrap();
    let e = error(&mut c, &["CONFIG", "REWRITE"]);
    assert!(e.starts_with("ERR Rewriting config file: "), "{e}");
    assert!(srv.log().contains("CONFIG REWRITE failed: "));
    drop(c);
    drop(srv);
    std::fs::remove_dir_all(&dir).unwrap();
}
