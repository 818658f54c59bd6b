//! The Unix domain socket listener (`unixsocket`, `unixsocketperm`) against the real
//! binaries: clients connect with redis-cli -s and with the `redis` crate, CLIENT LIST and
//! MONITOR name them as Redis 7.0 does, the socket's mode follows `unixsocketperm`, a stale
//! file is replaced at start-up and the file is removed at shutdown.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{scratch_dir, ServerProcess};

/// Runs redis-cli on the socket at `path` and returns its stdout, trimmed.
fn cli(path: &Path, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .arg("-s")
        .arg(path)
        .args(args)
        .output()
        .expect("redis-cli runs (Debian package redis-tools)");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A `redis` crate connection through the socket.
fn client(path: &Path) -> redis::Connection {
    let url = format!("redis+unix://{}", path.display());
    redis::Client::open(url)
        .and_then(|c| c.get_connection())
        .expect("connect through the unix socket")
}

/// The field `name=` of a CLIENT LIST line.
fn field<'a>(line: &'a str, name: &str) -> &'a str {
    line.split(' ')
        .find_map(|kv| kv.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
        .unwrap_or_else(|| panic!("no {name} in {line}"))
}

/// Starts `binary` with the socket at `dir/name.sock` (mode `perm`) and its TCP port.
fn start(binary: &Path, dir: &Path, name: &str, perm: &str) -> (ServerProcess, PathBuf) {
    let path = dir.join(format!("{name}.sock"));
    let path_arg = path.to_str().expect("utf-8 path").to_string();
    let args = ["--unixsocket", &path_arg, "--unixsocketperm", perm];
    (ServerProcess::start_binary(binary, &args), path)
}

#[test]
fn clients_on_the_unix_socket_are_served_and_shown_as_redis_shows_them() {
    let dir = scratch_dir("unix");
    let rudis = start(&common::rudis_binary(), &dir, "rudis", "700");
    let redis = start(&common::redis_binary(), &dir, "redis", "700");
    for (server, path) in [&rudis, &redis] {
        let meta = std::fs::metadata(path).expect("socket file exists");
        assert!(
            meta.file_type().is_socket(),
            "{} is a socket",
            path.display()
        );
        assert_eq!(meta.permissions().mode() & 0o777, 0o700);

        assert_eq!(cli(path, &["ping"]), "PONG");
        assert_eq!(cli(path, &["set", "k", "v"]), "OK");
        let mut c = client(path);
        let got: String = redis::cmd("GET").arg("k").query(&mut c).unwrap();
        assert_eq!(got, "v");
        // The TCP port serves the same keyspace.
        assert_eq!(server.cli(&["get", "k"]).trim(), "v");

        let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut c).unwrap();
        let me = list.lines().next().expect("one client");
        let addr = format!("{}:0", path.display());
        assert_eq!(field(me, "addr"), addr);
        assert_eq!(field(me, "laddr"), addr);
        assert_eq!(field(me, "flags"), "U");
        let killed: i64 = redis::cmd("CLIENT")
            .arg("KILL")
            .arg("ADDR")
            .arg(&addr)
            .arg("SKIPME")
            .arg("no")
            .query(&mut c)
            .unwrap_or(1);
        assert_eq!(killed, 1, "CLIENT KILL ADDR finds the unix client");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn monitor_names_unix_clients_by_path() {
    let dir = scratch_dir("unix-monitor");
    for binary in [common::rudis_binary(), common::redis_binary()] {
        let (_server, path) = start(&binary, &dir, "s", "0");
        let mut monitor = UnixStream::connect(&path).expect("connect");
        monitor.write_all(b"MONITOR\r\n").unwrap();
        monitor
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut lines = BufReader::new(monitor);
        let mut line = String::new();
        lines.read_line(&mut line).unwrap();
        assert_eq!(line, "+OK\r\n");
        cli(&path, &["set", "a", "1"]);
        line.clear();
        lines.read_line(&mut line).unwrap();
        let expected = format!("[0 unix:{}] \"set\" \"a\" \"1\"", path.display());
        assert!(line.contains(&expected), "{binary:?}: {line}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_stale_file_is_replaced_and_the_socket_is_removed_at_shutdown() {
    let dir = scratch_dir("unix-stale");
    let path = dir.join("stale.sock");
    std::fs::write(&path, b"left over").unwrap();
    let path_arg = path.to_str().unwrap();
    let mut server = ServerProcess::start(&["--unixsocket", path_arg]);
    assert_eq!(cli(&path, &["ping"]), "PONG");
    assert_eq!(server.terminate(), Some(0));
    assert!(!path.exists(), "the socket file is removed at shutdown");
    assert!(server.log().contains("Removing the unix socket file."));
    std::fs::remove_dir_all(&dir).ok();
}

/// Kills the child on drop (the unix-only server has no port for `ServerProcess`).
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_server_may_listen_on_the_unix_socket_only() {
    let dir = scratch_dir("unix-only");
    let path = dir.join("only.sock");
    let log = dir.join("server.log");
    let child = Command::new(common::rudis_binary())
        .args(["--port", "0", "--save", "", "--unixsocket"])
        .arg(&path)
        .arg("--logfile")
        .arg(&log)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let _child = Killed(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while cli(&path, &["ping"]) != "PONG" {
        assert!(Instant::now() < deadline, "no PONG on the unix socket");
        std::thread::sleep(Duration::from_millis(50));
    }
    let text = std::fs::read_to_string(&log).unwrap();
    let ready = format!(
        "The server is now ready to accept connections at {}",
        path.display()
    );
    assert!(text.contains(&ready), "{text}");
    drop(_child);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_server_listening_nowhere_refuses_to_start() {
    let status = Command::new(common::rudis_binary())
        .args(["--port", "0", "--save", ""])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .output()
        .expect("run");
    assert_eq!(status.status.code(), Some(1));
    let out = String::from_utf8_lossy(&status.stdout);
    assert!(
        out.contains("Configured to not listen anywhere, exiting."),
        "{out}"
    );
}
