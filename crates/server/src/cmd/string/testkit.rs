//! A harness for handler unit tests: runs one command against an in-process server through its
//! declared keys and handler, at a chosen time, and returns the reply bytes together with the
//! effects the handler recorded (propagation, keyspace events, dirty count), which a network
//! test cannot observe.

use std::sync::Arc;

use rudis_resp::{Argv, ReplyBuf};

use crate::command::spec::key_positions;
use crate::command::table::CommandTable;
use crate::command::Ctx;
use crate::config::Config;
use crate::keyspace::txn::{encode_command, Effects, Lookup, Txn};
use crate::keyspace::value::KeyEntry;
use crate::keyspace::Value;
use crate::server::client::{Client, ClientInfo};
use crate::server::Server;

pub struct Kit {
    pub srv: Arc<Server>,
    pub client: Client,
    /// The time commands run at, in Unix ms.
    pub now_ms: i64,
}

/// What one command did.
pub struct Outcome {
    pub reply: Vec<u8>,
    pub effects: Effects,
}

impl Outcome {
    pub fn reply_str(&self) -> String {
        String::from_utf8_lossy(&self.reply).into_owned()
    }

    /// The propagated commands, each as its arguments.
    pub fn propagated(&self) -> Vec<Vec<u8>> {
        self.effects
            .propagate
            .iter()
            .map(|p| p.cmd.clone())
            .collect()
    }

    /// The keyspace events, as (event, key), but for `new`, which every key creation fires
    /// (see [`Outcome::all_events`]).
    pub fn events(&self) -> Vec<(&'static str, Vec<u8>)> {
        let mut all = self.all_events();
        all.retain(|(e, _)| *e != "new");
        all
    }

    /// Every keyspace event, as (event, key).
    pub fn all_events(&self) -> Vec<(&'static str, Vec<u8>)> {
        self.effects
            .events
            .iter()
            .map(|e| (e.event, e.key.clone()))
            .collect()
    }
}

/// RESP encoding of a command, to compare with [`Outcome::propagated`].
pub fn resp(args: &[&str]) -> Vec<u8> {
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    let mut out = Vec::new();
    encode_command(&args, &mut out);
    out
}

impl Kit {
    pub fn new() -> Kit {
        Self::with_config(Config::default())
    }

    /// A kit never writes files: save points are cleared (FLUSHALL would save).
    pub fn with_config(mut config: Config) -> Kit {
        config.save = crate::config::special::SavePoints(Vec::new());
        let commands = CommandTable::new(crate::cmd::all());
        let srv = Server::new(config, None, commands);
        // Handler tests look at every keyspace event a command records.
        srv.keyspace.set_notify_classes(u32::MAX);
        let info = Arc::new(ClientInfo::new(
            1,
            "127.0.0.1:1".into(),
            String::new(),
            0,
            0,
        ));
        let mut client = Client::new(info, None);
        client.authenticated = true;
        Kit {
            srv,
            client,
            now_ms: 1_700_000_000_000,
        }
    }

    /// Runs one command (arguments as text) and returns what it did.
    pub fn run(&mut self, args: &[&str]) -> Outcome {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.run_bytes(&args)
    }

    /// Runs one command and returns just its reply, as text.
    pub fn reply(&mut self, args: &[&str]) -> String {
        self.run(args).reply_str()
    }

    pub fn run_bytes(&mut self, args: &[&[u8]]) -> Outcome {
        let mut base = Vec::new();
        let mut ranges = Vec::new();
        for a in args {
            let start = base.len();
            base.extend_from_slice(a);
            ranges.push(start..base.len());
        }
        let argv = Argv::new(&base, &ranges);
        let srv = Arc::clone(&self.srv);
        let entry = srv.commands.lookup(argv.get(0)).expect("known command");
        assert!(entry.spec.arity_ok(argv.len()), "arity");
        let mut txn = Txn::shared(&srv.keyspace, self.client.db, self.now_ms);
        let db = self.client.db;
        txn.lock_keys(
            key_positions(entry.spec, argv)
                .iter()
                .map(|&i| (db, argv.get(i))),
        );
        let mut reply = ReplyBuf::new();
        let mut ctx = Ctx {
            srv: &srv,
            client: &mut self.client,
            reply: &mut reply,
            txn: &mut txn,
            cmd: entry,
        };
        if let Err(e) = (entry.spec.handler)(&mut ctx, argv) {
            reply.error(e.text());
        }
        let mut effects = std::mem::take(&mut txn.effects);
        if effects.dirty > 0 && !effects.rewritten {
            let mut cmd = Vec::new();
            encode_command(args, &mut cmd);
            effects
                .propagate
                .push(crate::keyspace::txn::Propagated::everywhere(db, cmd));
        }
        Outcome {
            reply: reply.as_bytes().to_vec(),
            effects,
        }
    }

    /// Stores `value` under `key` directly (for types no command here can create).
    pub fn put(&mut self, key: &str, value: Value) {
        let mut txn = Txn::shared(&self.srv.keyspace, self.client.db, self.now_ms);
        txn.set(key.as_bytes(), value, false);
    }

    /// A copy of the entry under `key`, without touching it.
    pub fn entry(&mut self, key: &str) -> Option<KeyEntry> {
        let mut txn = Txn::shared(&self.srv.keyspace, self.client.db, self.now_ms);
        let db = txn.db;
        txn.lookup(db, key.as_bytes(), Lookup::Peek)
            .map(|e| e.clone())
    }

    /// OBJECT ENCODING of `key`.
    pub fn encoding(&mut self, key: &str) -> Option<&'static str> {
        self.entry(key).map(|e| e.encoding())
    }

    /// The expiry time of `key`, in Unix ms.
    pub fn expire_at_ms(&mut self, key: &str) -> Option<i64> {
        let mut txn = Txn::shared(&self.srv.keyspace, self.client.db, self.now_ms);
        txn.expire_at(key.as_bytes())
    }
}

/// A list value, to provoke WRONGTYPE.
pub fn list_value() -> Value {
    let mut list = crate::types::list::QuickList::default();
    list.push_back(b"x");
    Value::List(Box::new(list))
}
