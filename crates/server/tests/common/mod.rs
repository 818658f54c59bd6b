//! Test harness: starts real server processes on free loopback ports, talks to them, and stops
//! every process it started, by PID, when dropped.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rudis_resp::Value;

/// Path of the rudis-server binary built for these tests.
pub fn rudis_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rudis-server"))
}

/// Path of Redis's redis-server, for differential and interop tests.
pub fn redis_binary() -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("redis-server"))
            .find(|p| p.is_file())
    });
    found.expect(
        "redis-server (Redis 7.0) is needed for this test: run ./.ci/run, which installs it",
    )
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local addr").port()
}

static NEXT_DIR: AtomicUsize = AtomicUsize::new(0);

/// A fresh scratch directory under the system temp dir, removed by [`ServerProcess`] on drop.
pub fn scratch_dir(tag: &str) -> PathBuf {
    let n = NEXT_DIR.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("rudis-test-{}-{}-{}", tag, std::process::id(), n));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// A server process started for a test.
pub struct ServerProcess {
    child: Child,
    pub port: u16,
    pub dir: PathBuf,
    keep_dir: bool,
    ready_when_loading: bool,
}

impl ServerProcess {
    /// Starts rudis-server on a free port with `args` (redis-server style) and waits for PONG.
    pub fn start(args: &[&str]) -> ServerProcess {
        Self::start_binary(&rudis_binary(), args)
    }

    /// Starts Redis's redis-server the same way.
    pub fn start_redis(args: &[&str]) -> ServerProcess {
        Self::start_binary(&redis_binary(), args)
    }

    pub fn start_binary(binary: &Path, args: &[&str]) -> ServerProcess {
        Self::start_binary_with_config(binary, None, args)
    }

    /// Starts rudis-server and returns as soon as it answers, even if only with `-LOADING`.
    pub fn start_loading(args: &[&str]) -> ServerProcess {
        Self::start_inner(&rudis_binary(), None, args, true)
    }

    /// Starts rudis-server reading the config file `config` (which must outlive the server),
    /// then the usual options and `args`, which override the file.
    pub fn start_with_config(config: &Path, args: &[&str]) -> ServerProcess {
        Self::start_binary_with_config(&rudis_binary(), Some(config), args)
    }

    fn start_binary_with_config(
        binary: &Path,
        config: Option<&Path>,
        args: &[&str],
    ) -> ServerProcess {
        Self::start_inner(binary, config, args, false)
    }

    fn start_inner(
        binary: &Path,
        config: Option<&Path>,
        args: &[&str],
        ready_when_loading: bool,
    ) -> ServerProcess {
        let dir = scratch_dir("srv");
        for _attempt in 0..5 {
            let port = free_port();
            let mut cmd = Command::new(binary);
            cmd.args(config);
            cmd.args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(&dir)
            .args(["--logfile", "server.log"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
            let child = cmd.spawn().expect("spawn server");
            let mut server = ServerProcess {
                child,
                port,
                dir: dir.clone(),
                keep_dir: false,
                ready_when_loading,
            };
            if server.wait_ready(Duration::from_secs(10)) {
                return server;
            }
            server.keep_dir = true;
            drop(server);
        }
        panic!(
            "server {} did not start; see logs in {}",
            binary.display(),
            dir.display()
        );
    }

    fn wait_ready(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if let Ok(mut c) = RawConn::try_connect(self.port) {
                match c.command(&["PING"]) {
                    Ok(Value::Simple(pong)) if pong == b"PONG" => return true,
                    // Up, but wants a password first.
                    Ok(Value::Error(e)) if e.starts_with(b"NOAUTH") => return true,
                    // Up, still loading its dataset.
                    Ok(Value::Error(e)) if self.ready_when_loading && e.starts_with(b"LOADING") => {
                        return true
                    }
                    _ => {}
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A raw RESP connection.
    pub fn conn(&self) -> RawConn {
        RawConn::connect(self.port)
    }

    /// A `redis` crate connection.
    pub fn client(&self) -> redis::Connection {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))
            .and_then(|c| c.get_connection())
            .expect("redis client connects")
    }

    /// Runs redis-cli against this server and returns its stdout.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli runs (Debian package redis-tools)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// True while the process is running.
    pub fn is_alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Resident set size in bytes.
    pub fn rss_bytes(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    }

    /// Sends SIGTERM and waits for the process to exit; returns its exit status code.
    pub fn terminate(&mut self) -> Option<i32> {
        // SAFETY: signalling the child we spawned, by its PID.
        unsafe {
            libc_kill(self.child.id() as i32, 15);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Waits (up to 10 s) for the process to exit by itself; returns its exit status code.
    pub fn terminate_wait(&mut self) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// The pids of the server's child processes (its background writers).
    pub fn children(&self) -> Vec<u32> {
        let mut pids = Vec::new();
        let tasks = std::fs::read_dir(format!("/proc/{}/task", self.pid()));
        for task in tasks.into_iter().flatten().flatten() {
            let list = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            pids.extend(
                list.split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
        pids
    }

    /// Kills the server's only child process with `signal`; returns its pid.
    pub fn kill_child(&self, signal: i32) -> u32 {
        let children = self.children();
        assert_eq!(children.len(), 1, "one child process: {children:?}");
        // SAFETY: signalling a child of the server we spawned, by its PID.
        unsafe {
            libc_kill(children[0] as i32, signal);
        }
        children[0]
    }

    /// The server's log file contents.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !self.keep_dir && !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A plain TCP connection speaking RESP, for byte-exact checks.
pub struct RawConn {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl RawConn {
    pub fn connect(port: u16) -> RawConn {
        Self::try_connect(port).expect("connect to server")
    }

    pub fn try_connect(port: u16) -> std::io::Result<RawConn> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        stream.set_nodelay(true)?;
        Ok(RawConn {
            stream,
            buf: Vec::new(),
        })
    }

    /// Sends a command as a RESP multibulk.
    pub fn send(&mut self, args: &[&str]) {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.send_bytes(&args);
    }

    pub fn send_bytes(&mut self, args: &[&[u8]]) {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        self.stream.write_all(&out).expect("write command");
    }

    pub fn send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Reads one complete reply; returns the value and its exact bytes.
    pub fn read_reply(&mut self) -> std::io::Result<(Value, Vec<u8>)> {
        loop {
            if let Some((v, n)) = Value::parse(&self.buf).map_err(|e| std::io::Error::other(e.0))? {
                let raw: Vec<u8> = self.buf.drain(..n).collect();
                return Ok((v, raw));
            }
            let mut chunk = [0u8; 65536];
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    pub fn command(&mut self, args: &[&str]) -> std::io::Result<Value> {
        self.send(args);
        self.read_reply().map(|(v, _)| v)
    }

    /// True if the server closed the connection (reads EOF) within the timeout.
    pub fn is_closed_by_peer(&mut self) -> bool {
        let mut chunk = [0u8; 4096];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
                Err(_) => return false,
            }
        }
    }
}

/// A reply as text, for comparisons and failure messages: strings as they are, integers in
/// decimal, errors with their `-`, nil as `(nil)`, anything else in its debug form.
pub fn text(v: &Value) -> String {
    match v {
        Value::Bulk(b) | Value::Simple(b) => String::from_utf8_lossy(b).into_owned(),
        Value::Int(i) => i.to_string(),
        Value::Error(e) => format!("-{}", String::from_utf8_lossy(e)),
        Value::Nil => "(nil)".into(),
        other => format!("{other:?}"),
    }
}

/// Sends a command and returns its reply as [`text`].
pub fn cmd(c: &mut RawConn, args: &[&str]) -> String {
    text(&c.command(args).expect("reply"))
}

/// Sends a command that must not fail.
pub fn ok(c: &mut RawConn, args: &[&str]) {
    let r = cmd(c, args);
    assert!(!r.starts_with('-'), "{args:?}: {r}");
}

/// A field of INFO (all sections).
pub fn info_field(c: &mut RawConn, name: &str) -> String {
    let info = cmd(c, &["INFO"]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in INFO"))
        .to_string()
}

/// Polls `f` every 10 ms until it holds; fails after 30 s naming `what`.
pub fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}
