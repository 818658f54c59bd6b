//! Scripts through the real gate against an in-process server: what they propagate.

use std::sync::Arc;

use parking_lot::Mutex;
use rudis_resp::{Argv, ReplyBuf};

use crate::command::dispatch;
use crate::command::table::CommandTable;
use crate::config::Config;
use crate::propagate::{target, Sink};
use crate::server::client::{Client, ClientInfo};
use crate::server::Server;

struct Capture(Arc<Mutex<Vec<u8>>>);

impl Sink for Capture {
    fn feed(&mut self, bytes: &[u8]) {
        self.0.lock().extend_from_slice(bytes);
    }
}

struct Fixture {
    srv: Arc<Server>,
    client: Client,
    stream: Arc<Mutex<Vec<u8>>>,
}

impl Fixture {
    fn new() -> Fixture {
        let mut config = Config::default();
        config.save = crate::config::special::SavePoints(Vec::new());
        let srv = Server::new(config, None, CommandTable::new(crate::cmd::all()));
        let stream = Arc::new(Mutex::new(Vec::new()));
        srv.propagator
            .add_sink(target::ALL, Box::new(Capture(stream.clone())));
        let info = Arc::new(ClientInfo::new(
            9,
            "127.0.0.1:1".into(),
            String::new(),
            0,
            0,
        ));
        let mut client = Client::new(info, None);
        client.authenticated = true;
        Fixture {
            srv,
            client,
            stream,
        }
    }

    fn call(&mut self, args: &[&str]) -> Vec<u8> {
        let mut base = Vec::new();
        let mut ranges = Vec::new();
        for a in args {
            let start = base.len();
            base.extend_from_slice(a.as_bytes());
            ranges.push(start..base.len());
        }
        let mut reply = ReplyBuf::new();
        dispatch::call(
            &self.srv,
            &mut self.client,
            &mut reply,
            Argv::new(&base, &ranges),
        );
        reply.as_bytes().to_vec()
    }

    fn take_stream(&self) -> String {
        String::from_utf8_lossy(&std::mem::take(&mut *self.stream.lock())).into_owned()
    }
}

fn commands_in(stream: &str) -> Vec<String> {
    // Every command is an array of bulk strings; its name is the first bulk.
    stream
        .split('*')
        .skip(1)
        .filter_map(|c| c.split("\r\n").nth(2).map(str::to_ascii_uppercase))
        .collect()
}

#[test]
fn scripts_propagate_their_writes_in_multi_exec() {
    let mut f = Fixture::new();
    let reply = f.call(&[
        "EVAL",
        "redis.call('set', KEYS[1], 'a') redis.call('get', KEYS[1]) redis.call('incr', KEYS[2]) return 1",
        "2",
        "x",
        "n",
    ]);
    assert_eq!(reply, b":1\r\n");
    assert_eq!(
        commands_in(&f.take_stream()),
        ["SELECT", "MULTI", "SET", "INCR", "EXEC"]
    );
    // A single write goes alone; a read-only script propagates nothing.
    f.call(&["EVAL", "return redis.call('incr', 'n')", "0"]);
    assert_eq!(commands_in(&f.take_stream()), ["INCR"]);
    f.call(&["EVAL", "return redis.call('get', 'n')", "0"]);
    assert_eq!(f.take_stream(), "");
}

#[test]
fn set_repl_none_keeps_writes_local() {
    let mut f = Fixture::new();
    f.call(&[
        "EVAL",
        "redis.set_repl(redis.REPL_NONE) redis.call('set', 'a', '1') redis.set_repl(redis.REPL_ALL) redis.call('set', 'b', '2')",
        "0",
    ]);
    assert_eq!(commands_in(&f.take_stream()), ["SELECT", "SET"]);
    assert_eq!(f.call(&["GET", "a"]), b"$1\r\n1\r\n");
}
