//! Blocking pops with several connections, each scenario run against Rudis and Redis 7.0 and
//! compared reply for reply: FIFO service of waiters, timeouts, CLIENT UNBLOCK, chains of
//! BLMOVE, keys that become ready through MULTI/EXEC or RENAME, keys of the wrong type, and
//! clients that leave while blocked.

mod common;

use std::time::{Duration, Instant};

use common::{RawConn, ServerProcess};

/// A scenario's transcript: one line per reply, labelled by the connection that got it.
type Transcript = Vec<String>;

struct Scene {
    port: u16,
    conns: Vec<RawConn>,
    log: Transcript,
}

impl Scene {
    fn new(server: &ServerProcess, conns: usize) -> Scene {
        Scene {
            port: server.port,
            conns: (0..conns).map(|_| server.conn()).collect(),
            log: Vec::new(),
        }
    }

    /// Sends a command on connection `c` and records its reply.
    fn run(&mut self, c: usize, args: &[&str]) {
        self.conns[c].send(args);
        self.read(c);
    }

    /// Sends a command on connection `c` without reading a reply (it blocks).
    fn send(&mut self, c: usize, args: &[&str]) {
        self.conns[c].send(args);
    }

    /// Reads and records the next reply on connection `c`.
    fn read(&mut self, c: usize) {
        let (_, raw) = self.conns[c].read_reply().expect("reply");
        self.log.push(format!(
            "{c}: {}",
            String::from_utf8_lossy(&raw).escape_debug()
        ));
    }

    /// Records the calls and failures of each command in INFO commandstats, in name order
    /// (times differ, and Redis lists commands in no particular order), INFO aside: the
    /// waits for blocked clients poll with it.
    fn stats(&mut self, c: usize) {
        self.conns[c].send(&["INFO", "commandstats"]);
        let (_, raw) = self.conns[c].read_reply().expect("info");
        let text = String::from_utf8_lossy(&raw).into_owned();
        let mut lines: Vec<String> = text
            .lines()
            .filter(|l| l.starts_with("cmdstat_") && !l.starts_with("cmdstat_info:"))
            .map(|l| {
                let (name, fields) = l.split_once(':').expect("name:fields");
                let kept: Vec<&str> = fields
                    .split(',')
                    .filter(|f| !f.starts_with("usec"))
                    .collect();
                format!("{name}:{}", kept.join(","))
            })
            .collect();
        lines.sort();
        self.log.push(format!("{c}: {}", lines.join(" ")));
    }

    /// Waits until the server counts `n` blocked clients, so what follows happens after the
    /// blocking commands registered.
    fn wait_blocked(&mut self, n: usize) {
        let mut probe = RawConn::connect(self.port);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            probe.send(&["INFO", "clients"]);
            let (_, raw) = probe.read_reply().expect("info");
            let text = String::from_utf8_lossy(&raw);
            if text.contains(&format!("blocked_clients:{n}\r\n")) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "never saw {n} blocked clients: {text}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The id of connection `c`.
    fn id(&mut self, c: usize) -> String {
        match self.conns[c].command(&["CLIENT", "ID"]).expect("id") {
            rudis_resp::Value::Int(i) => i.to_string(),
            other => panic!("CLIENT ID replied {other:?}"),
        }
    }
}

/// Runs `scenario` against a fresh Rudis and a fresh Redis and requires identical transcripts.
fn same_as_redis(conns: usize, scenario: impl Fn(&mut Scene)) {
    let ours = ServerProcess::start(&[]);
    let redis = ServerProcess::start_redis(&[]);
    let mut a = Scene::new(&ours, conns);
    scenario(&mut a);
    let mut b = Scene::new(&redis, conns);
    scenario(&mut b);
    assert_eq!(a.log, b.log, "rudis (left) and redis (right) differ");
}

#[test]
fn waiters_are_served_first_come_first_served() {
    same_as_redis(4, |s| {
        s.send(1, &["BLPOP", "k", "0"]);
        s.wait_blocked(1);
        s.send(2, &["BRPOP", "other", "k", "0"]);
        s.wait_blocked(2);
        s.send(3, &["BLMPOP", "0", "1", "k", "LEFT", "COUNT", "5"]);
        s.wait_blocked(3);
        s.run(0, &["RPUSH", "k", "a", "b", "c", "d", "e", "f"]);
        s.read(1);
        s.read(2);
        s.read(3);
        s.run(0, &["EXISTS", "k"]);
        s.stats(0);
    });
}

#[test]
fn only_as_many_waiters_as_elements_are_served() {
    same_as_redis(3, |s| {
        s.send(1, &["BLPOP", "k", "0"]);
        s.wait_blocked(1);
        s.send(2, &["BLPOP", "k", "0"]);
        s.wait_blocked(2);
        s.run(0, &["LPUSH", "k", "x"]);
        s.read(1);
        s.wait_blocked(1);
        s.run(0, &["RPUSH", "k", "y", "z"]);
        s.read(2);
        s.run(0, &["LRANGE", "k", "0", "-1"]);
    });
}

#[test]
fn timeouts_answer_null_and_unblock() {
    same_as_redis(2, |s| {
        let started = Instant::now();
        s.run(1, &["BLPOP", "k", "0.2"]);
        s.run(1, &["BLMOVE", "k", "d", "LEFT", "LEFT", "0.05"]);
        s.run(1, &["BZPOPMIN", "k", "0.05"]);
        s.run(1, &["BLMPOP", "0.05", "1", "k", "RIGHT"]);
        s.run(1, &["BZMPOP", "0.05", "1", "k", "MIN"]);
        s.run(1, &["BRPOPLPUSH", "k", "d", "0.05"]);
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(400), "waited {waited:?}");
        assert!(waited < Duration::from_secs(5), "waited {waited:?}");
        s.run(1, &["HELLO", "3"]);
        s.log.pop();
        s.run(1, &["BLPOP", "k", "0.01"]);
        s.run(1, &["BLMOVE", "k", "d", "LEFT", "LEFT", "0.01"]);
        s.run(0, &["EXISTS", "k", "d"]);
    });
}

#[test]
fn client_unblock_answers_as_timeout_or_error() {
    same_as_redis(2, |s| {
        let id = s.id(1);
        s.send(1, &["BLPOP", "k", "0"]);
        s.wait_blocked(1);
        s.run(0, &["CLIENT", "UNBLOCK", &id]);
        s.read(1);
        s.send(1, &["BZPOPMAX", "k", "0"]);
        s.wait_blocked(1);
        s.run(0, &["CLIENT", "UNBLOCK", &id, "ERROR"]);
        s.read(1);
        s.run(0, &["CLIENT", "UNBLOCK", &id]);
        s.run(1, &["PING"]);
        // The error counts as the blocked command's failure, as Redis counts it.
        s.stats(0);
        s.run(0, &["INFO", "errorstats"]);
    });
}

#[test]
fn a_blmove_chain_settles_in_one_go() {
    same_as_redis(3, |s| {
        s.send(1, &["BLMOVE", "a", "b", "LEFT", "RIGHT", "0"]);
        s.wait_blocked(1);
        s.send(2, &["BLPOP", "b", "0"]);
        s.wait_blocked(2);
        s.run(0, &["RPUSH", "a", "v"]);
        s.read(1);
        s.read(2);
        s.run(0, &["EXISTS", "a", "b"]);
        // A list moved onto itself.
        s.send(1, &["BRPOPLPUSH", "c", "c", "0"]);
        s.wait_blocked(1);
        s.run(0, &["RPUSH", "c", "1", "2"]);
        s.read(1);
        s.run(0, &["LRANGE", "c", "0", "-1"]);
    });
}

#[test]
fn keys_made_ready_by_exec_rename_and_zadd() {
    same_as_redis(3, |s| {
        s.send(1, &["BLPOP", "k", "0"]);
        s.wait_blocked(1);
        s.send(2, &["BLPOP", "k", "0"]);
        s.wait_blocked(2);
        s.run(0, &["MULTI"]);
        s.run(0, &["RPUSH", "k", "a"]);
        s.run(0, &["RPUSH", "k", "b"]);
        s.run(0, &["EXEC"]);
        s.read(1);
        s.read(2);
        s.send(1, &["BLPOP", "dst", "0"]);
        s.wait_blocked(1);
        s.run(0, &["RPUSH", "src", "x"]);
        s.run(0, &["RENAME", "src", "dst"]);
        s.read(1);
        s.send(1, &["BZPOPMIN", "z", "0"]);
        s.wait_blocked(1);
        s.send(2, &["BZMPOP", "0", "1", "z", "MAX", "COUNT", "10"]);
        s.wait_blocked(2);
        s.run(0, &["ZADD", "z", "1", "a", "2", "b", "3", "c"]);
        s.read(1);
        s.read(2);
        s.run(0, &["EXISTS", "z"]);
    });
}

#[test]
fn a_ready_key_of_another_type_keeps_waiters_blocked() {
    same_as_redis(2, |s| {
        s.send(1, &["BLPOP", "k", "0"]);
        s.wait_blocked(1);
        s.run(0, &["ZADD", "k", "1", "a"]);
        s.wait_blocked(1);
        s.run(0, &["DEL", "k"]);
        s.run(0, &["RPUSH", "k", "x"]);
        s.read(1);
        // BLMOVE's destination of the wrong type fails the served command, and the source
        // keeps its element.
        s.run(0, &["SET", "dst", "string"]);
        s.send(1, &["BLMOVE", "src", "dst", "LEFT", "LEFT", "0"]);
        s.wait_blocked(1);
        s.run(0, &["RPUSH", "src", "y"]);
        s.read(1);
        s.run(0, &["LRANGE", "src", "0", "-1"]);
    });
}

#[test]
fn a_client_gone_while_blocked_takes_nothing() {
    same_as_redis(3, |s| {
        s.send(1, &["BLPOP", "k", "0"]);
        s.wait_blocked(1);
        s.send(2, &["BLPOP", "k", "0"]);
        s.wait_blocked(2);
        let gone = std::mem::replace(&mut s.conns[1], RawConn::connect(s.port));
        drop(gone);
        s.wait_blocked(1);
        s.run(0, &["RPUSH", "k", "a", "b"]);
        s.read(2);
        s.run(0, &["LRANGE", "k", "0", "-1"]);
    });
}

#[test]
fn commands_pipelined_after_a_blocked_one_wait_for_it() {
    same_as_redis(2, |s| {
        s.conns[1]
            .send_raw(b"BLPOP k 0\r\nPING\r\nLLEN k\r\n")
            .expect("send");
        s.wait_blocked(1);
        s.run(0, &["RPUSH", "k", "a", "b"]);
        s.read(1);
        s.read(1);
        s.read(1);
    });
}

#[test]
fn swapdb_wakes_clients_whose_keys_arrive() {
    same_as_redis(2, |s| {
        s.send(1, &["BLPOP", "k", "0"]);
        s.wait_blocked(1);
        s.run(0, &["SELECT", "1"]);
        s.run(0, &["RPUSH", "k", "hello"]);
        s.run(0, &["SWAPDB", "0", "1"]);
        s.read(1);
        s.run(0, &["EXISTS", "k"]);
    });
}
