//! Handler-level tests of the keyspace and expiry commands: they run a command against an
//! in-process server at a chosen time and look at what it recorded (events, propagation,
//! dirty count, WATCH flags), which a client cannot observe directly.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use rudis_resp::{Argv, ReplyBuf};

use crate::command::dispatch::resolve;
use crate::command::table::CommandTable;
use crate::command::Ctx;
use crate::config::Config;
use crate::keyspace::txn::{Effects, Txn};
use crate::server::client::{Client, ClientInfo};
use crate::server::Server;

/// An in-process server and one client.
pub(crate) struct Harness {
    pub srv: Arc<Server>,
    pub client: Client,
    /// The time commands run at (Unix ms).
    pub now_ms: i64,
    /// Commands run as on a replica.
    pub replica: bool,
}

/// What one command did.
pub(crate) struct Outcome {
    pub reply: String,
    /// The reply's bytes, for replies that are not text.
    pub raw: Vec<u8>,
    pub effects: Effects,
}

impl Outcome {
    /// The keyspace events, as `db:event:key`, but for `new`, which every key creation fires.
    pub fn events(&self) -> Vec<String> {
        self.effects
            .events
            .iter()
            .filter(|e| e.event != "new")
            .map(|e| format!("{}:{}:{}", e.db, e.event, String::from_utf8_lossy(&e.key)))
            .collect()
    }

    /// The commands the handler chose to propagate, as `db:ARG ARG...`.
    pub fn propagated(&self) -> Vec<String> {
        self.effects
            .propagate
            .iter()
            .map(|p| {
                let (db, cmd) = (p.db, &p.cmd);
                let (v, _) = rudis_resp::Value::parse(cmd).unwrap().unwrap();
                let rudis_resp::Value::Array(items) = v else {
                    panic!("not an array")
                };
                let args: Vec<String> = items
                    .iter()
                    .map(|i| match i {
                        rudis_resp::Value::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
                        other => format!("{other:?}"),
                    })
                    .collect();
                format!("{db}:{}", args.join(" "))
            })
            .collect()
    }
}

impl Harness {
    pub fn new() -> Self {
        Self::with_config(Config::default())
    }

    /// A harness never writes files: save points are cleared (FLUSHALL would save).
    pub fn with_config(mut config: Config) -> Self {
        config.save = crate::config::special::SavePoints(Vec::new());
        let srv = Server::new(config, None, CommandTable::new(crate::cmd::all()));
        // Handler tests look at every keyspace event a command records.
        srv.keyspace.set_notify_classes(u32::MAX);
        let info = Arc::new(ClientInfo::new(1, "test".into(), "test".into(), -1, 0));
        let mut client = Client::new(info, None);
        client.authenticated = true;
        Harness {
            srv,
            client,
            now_ms: 1_000_000,
            replica: false,
        }
    }

    /// Runs one command (already past the gate's checks) in its own exclusive transaction.
    pub fn run(&mut self, args: &[&str]) -> Outcome {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.run_bytes(&args)
    }

    /// Runs one command whose arguments need not be text.
    pub fn run_bytes(&mut self, args: &[&[u8]]) -> Outcome {
        let mut base = Vec::new();
        let mut ranges = Vec::new();
        for a in args {
            let start = base.len();
            base.extend_from_slice(a);
            ranges.push(start..base.len());
        }
        let argv = Argv::new(&base, &ranges);
        let mut reply = ReplyBuf::new();
        let srv = &*self.srv;
        let entry = match resolve(srv, argv) {
            Ok(e) => e,
            Err(e) => {
                reply.error(e.text());
                return self.outcome(reply, Effects::default());
            }
        };
        let mut txn = Txn::exclusive(&srv.keyspace, self.client.db, self.now_ms);
        txn.replica = self.replica;
        let mut ctx = Ctx {
            srv,
            client: &mut self.client,
            reply: &mut reply,
            txn: &mut txn,
            cmd: entry,
        };
        if let Err(e) = (entry.spec.handler)(&mut ctx, argv) {
            reply.error(e.text());
        }
        let effects = std::mem::take(&mut txn.effects);
        drop(txn);
        self.outcome(reply, effects)
    }

    fn outcome(&self, mut reply: ReplyBuf, effects: Effects) -> Outcome {
        let raw = reply.take();
        let reply = String::from_utf8_lossy(&raw).into_owned();
        Outcome {
            reply,
            raw,
            effects,
        }
    }

    /// The reply of a command.
    pub fn reply(&mut self, args: &[&str]) -> String {
        self.run(args).reply
    }

    /// Whether the client's WATCH was broken (its dirty flag, or a watched key expired since).
    pub fn watch_broken(&mut self) -> bool {
        let mut txn = Txn::exclusive(&self.srv.keyspace, self.client.db, self.now_ms);
        crate::cmd::transaction::watch_broken(&self.srv, &self.client, &mut txn)
    }

    pub fn watch_dirty(&self) -> bool {
        self.client.watch_dirty.load(Ordering::Acquire)
    }

    pub fn unwatch(&mut self) {
        crate::cmd::transaction::unwatch_all(&self.srv, &mut self.client);
    }
}

const OK: &str = "+OK\r\n";
const ONE: &str = ":1\r\n";
const ZERO: &str = ":0\r\n";

#[test]
fn del_and_unlink_record_del_events_and_count_changes() {
    let mut h = Harness::new();
    h.run(&["MSET", "a", "1", "b", "2"]);
    let out = h.run(&["DEL", "a", "nokey", "b"]);
    assert_eq!(out.reply, ":2\r\n");
    assert_eq!(out.events(), ["0:del:a", "0:del:b"]);
    assert_eq!(out.effects.dirty, 2);
    assert!(!out.effects.rewritten, "DEL is propagated as received");
    h.run(&["SET", "c", "3"]);
    let out = h.run(&["UNLINK", "c"]);
    assert_eq!((out.reply.as_str(), out.effects.dirty), (ONE, 1));
}

#[test]
fn del_of_an_expired_key_expires_it_instead() {
    let mut h = Harness::new();
    h.run(&["SET", "k", "v", "PX", "100"]);
    h.now_ms += 200;
    let out = h.run(&["DEL", "k"]);
    assert_eq!(out.reply, ZERO);
    assert_eq!(out.events(), ["0:expired:k"]);
    assert_eq!(out.propagated(), ["0:DEL k"]);
    assert_eq!((out.effects.dirty, out.effects.expired), (0, 1));
}

#[test]
fn read_lookups_count_hits_misses_and_keymiss() {
    let mut h = Harness::new();
    h.run(&["SET", "k", "v"]);
    let out = h.run(&["EXISTS", "k", "nokey", "k"]);
    assert_eq!(out.reply, ":2\r\n");
    assert_eq!((out.effects.hits, out.effects.misses), (2, 1));
    assert_eq!(out.events(), ["0:keymiss:nokey"]);
    let out = h.run(&["TYPE", "nokey"]);
    assert_eq!((out.reply.as_str(), out.events().len()), ("+none\r\n", 1));
    let out = h.run(&["OBJECT", "ENCODING", "nokey"]);
    assert_eq!(out.reply, "$-1\r\n");
    assert!(out.events().is_empty(), "OBJECT does not fire keymiss");
    assert_eq!(out.effects.misses, 1);
}

#[test]
fn rename_moves_value_and_ttl_with_events() {
    let mut h = Harness::new();
    h.run(&["SET", "a", "v", "PX", "5000"]);
    h.run(&["SET", "b", "old", "EX", "100"]);
    let out = h.run(&["RENAME", "a", "b"]);
    assert_eq!(out.reply, OK);
    assert_eq!(out.events(), ["0:rename_from:a", "0:rename_to:b"]);
    assert_eq!(out.effects.dirty, 1);
    assert_eq!(h.reply(&["PTTL", "b"]), ":5000\r\n");
    assert_eq!(h.reply(&["GET", "b"]), "$1\r\nv\r\n");
    h.run(&["SET", "c", "v"]);
    h.run(&["RENAME", "c", "b"]);
    assert_eq!(
        h.reply(&["TTL", "b"]),
        ":-1\r\n",
        "the target's TTL is not inherited"
    );
    assert_eq!(h.srv.keyspace.db(0).volatile_count(), 0);
    assert_eq!(h.srv.keyspace.db(0).key_count(), 1);
}

#[test]
fn rename_and_copy_count_as_access() {
    // As in Redis: both look their source up for writing or reading, which touches it.
    let mut h = Harness::new();
    h.run(&["SET", "a", "x"]);
    h.run(&["SET", "c", "x"]);
    h.now_ms += 10_000;
    h.run(&["RENAME", "a", "b"]);
    assert_eq!(h.reply(&["OBJECT", "IDLETIME", "b"]), ":0\r\n");
    assert_eq!(h.reply(&["OBJECT", "IDLETIME", "c"]), ":10\r\n");
    h.run(&["COPY", "c", "d"]);
    assert_eq!(h.reply(&["OBJECT", "IDLETIME", "c"]), ":0\r\n");
}

#[test]
fn move_carries_ttl_and_records_events_in_both_databases() {
    let mut h = Harness::new();
    h.run(&["SET", "k", "v", "PX", "7000"]);
    let out = h.run(&["MOVE", "k", "3"]);
    assert_eq!(out.reply, ONE);
    assert_eq!(out.events(), ["0:move_from:k", "3:move_to:k"]);
    assert_eq!(h.reply(&["EXISTS", "k"]), ZERO);
    h.run(&["SELECT", "3"]);
    assert_eq!(h.reply(&["PTTL", "k"]), ":7000\r\n");
    assert_eq!(h.srv.keyspace.db(0).key_count(), 0);
    assert_eq!(h.srv.keyspace.db(3).volatile_count(), 1);
    h.run(&["SET", "other", "v"]);
    h.run(&["SELECT", "0"]);
    h.run(&["SET", "other", "mine"]);
    assert_eq!(h.reply(&["MOVE", "other", "3"]), ZERO, "target exists");
    assert_eq!(h.reply(&["GET", "other"]), "$4\r\nmine\r\n");
}

#[test]
fn copy_duplicates_value_and_ttl_into_another_database() {
    let mut h = Harness::new();
    h.run(&["SET", "s", "v", "PX", "9000"]);
    let out = h.run(&["COPY", "s", "d", "DB", "2"]);
    assert_eq!(out.reply, ONE);
    assert_eq!(out.events(), ["2:copy_to:d"]);
    h.run(&["SET", "s", "changed"]);
    h.run(&["SELECT", "2"]);
    assert_eq!(h.reply(&["GET", "d"]), "$1\r\nv\r\n");
    assert_eq!(h.reply(&["PTTL", "d"]), ":9000\r\n");
    h.run(&["SET", "d2", "x", "EX", "10"]);
    h.run(&["SELECT", "0"]);
    assert_eq!(h.reply(&["COPY", "s", "d2", "DB", "2"]), ZERO);
    assert_eq!(h.reply(&["COPY", "s", "d2", "DB", "2", "REPLACE"]), ONE);
    h.run(&["SELECT", "2"]);
    assert_eq!(h.reply(&["TTL", "d2"]), ":-1\r\n");
    assert_eq!(h.srv.keyspace.db(2).volatile_count(), 1);
}

#[test]
fn expire_propagates_absolute_pexpireat_with_options() {
    let mut h = Harness::new();
    h.run(&["SET", "k", "v"]);
    let out = h.run(&["EXPIRE", "k", "100", "NX"]);
    assert_eq!(out.reply, ONE);
    assert_eq!(out.propagated(), ["0:PEXPIREAT k 1100000 NX"]);
    assert_eq!(out.events(), ["0:expire:k"]);
    assert_eq!(out.effects.dirty, 1);
    let out = h.run(&["PEXPIRE", "k", "5000"]);
    assert_eq!(out.propagated(), ["0:PEXPIREAT k 1005000"]);
    let out = h.run(&["EXPIREAT", "k", "2000"]);
    assert_eq!(out.propagated(), ["0:PEXPIREAT k 2000000"]);
    let out = h.run(&["PEXPIREAT", "k", "3000000"]);
    assert!(
        out.propagated().is_empty() && !out.effects.rewritten,
        "as received"
    );
    assert_eq!(h.reply(&["EXPIRETIME", "k"]), ":3000\r\n");
    assert_eq!(h.reply(&["PTTL", "k"]), ":2000000\r\n");
    assert_eq!(h.reply(&["TTL", "k"]), ":2000\r\n");
    let out = h.run(&["EXPIRE", "k", "100", "GT"]);
    assert_eq!((out.reply.as_str(), out.effects.dirty), (ZERO, 0));
}

#[test]
fn ttl_rounds_to_the_nearest_second() {
    let mut h = Harness::new();
    h.run(&["SET", "k", "v", "PX", "1499"]);
    assert_eq!(h.reply(&["TTL", "k"]), ONE);
    h.run(&["SET", "k", "v", "PX", "1500"]);
    assert_eq!(h.reply(&["TTL", "k"]), ":2\r\n");
    h.run(&["SET", "k", "v", "PX", "400"]);
    assert_eq!(h.reply(&["TTL", "k"]), ZERO);
}

#[test]
fn expire_in_the_past_deletes_as_del_or_unlink() {
    let mut h = Harness::new();
    h.run(&["SET", "k", "v"]);
    let out = h.run(&["EXPIRE", "k", "-1"]);
    assert_eq!(out.reply, ONE);
    assert_eq!(out.propagated(), ["0:DEL k"]);
    assert_eq!(out.events(), ["0:del:k"]);
    assert_eq!(h.srv.keyspace.db(0).key_count(), 0);

    let mut h = Harness::with_config(Config {
        lazyfree_lazy_expire: true,
        ..Config::default()
    });
    h.run(&["SET", "k", "v"]);
    let out = h.run(&["PEXPIREAT", "k", "0"]);
    assert_eq!(out.propagated(), ["0:UNLINK k"]);
}

#[test]
fn a_replica_keeps_keys_given_a_past_expiry_time() {
    let mut h = Harness::new();
    h.run(&["SET", "k", "v"]);
    h.replica = true;
    let out = h.run(&["EXPIRE", "k", "-10"]);
    assert_eq!(out.reply, ONE);
    assert_eq!(out.events(), ["0:expire:k"]);
    assert_eq!(
        h.srv.keyspace.db(0).key_count(),
        1,
        "waits for the primary's DEL"
    );
    assert_eq!(h.reply(&["TTL", "k"]), ":-2\r\n", "but reads as missing");
}

#[test]
fn persist_records_its_event() {
    let mut h = Harness::new();
    h.run(&["SET", "k", "v", "EX", "10"]);
    let out = h.run(&["PERSIST", "k"]);
    assert_eq!((out.reply.as_str(), out.effects.dirty), (ONE, 1));
    assert_eq!(out.events(), ["0:persist:k"]);
    assert_eq!(h.srv.keyspace.db(0).volatile_count(), 0);
    assert_eq!(h.reply(&["PERSIST", "k"]), ZERO);
}

#[test]
fn flushes_count_removed_keys_and_always_propagate() {
    let mut h = Harness::new();
    let out = h.run(&["FLUSHDB"]);
    assert_eq!(out.reply, OK);
    assert_eq!(out.propagated(), ["0:FLUSHDB"]);
    assert_eq!(out.effects.dirty, 0);
    h.run(&["MSET", "a", "1", "b", "2"]);
    h.run(&["SET", "c", "3", "EX", "100"]);
    h.run(&["SELECT", "4"]);
    h.run(&["SET", "d", "4"]);
    let out = h.run(&["FLUSHALL", "ASYNC"]);
    assert_eq!(out.propagated(), ["4:FLUSHALL ASYNC"]);
    assert_eq!(
        out.effects.dirty, 5,
        "the keys removed, plus one, as Redis counts"
    );
    for db in [0, 4] {
        assert_eq!(h.srv.keyspace.db(db).key_count(), 0);
        assert_eq!(h.srv.keyspace.db(db).volatile_count(), 0);
    }
    assert_eq!(h.reply(&["KEYS", "*"]), "*0\r\n");
}

#[test]
fn swapdb_swaps_contents_and_counters() {
    let mut h = Harness::new();
    h.run(&["SET", "where", "zero", "EX", "100"]);
    h.run(&["SET", "only0", "x"]);
    h.run(&["SELECT", "1"]);
    h.run(&["SET", "where", "one"]);
    let out = h.run(&["SWAPDB", "0", "1"]);
    assert_eq!((out.reply.as_str(), out.effects.dirty), (OK, 1));
    assert_eq!(h.reply(&["GET", "where"]), "$4\r\nzero\r\n");
    assert_eq!(h.reply(&["TTL", "where"]), ":100\r\n");
    assert_eq!(h.reply(&["DBSIZE"]), ":2\r\n");
    assert_eq!(h.srv.keyspace.db(1).volatile_count(), 1);
    assert_eq!(h.srv.keyspace.db(0).volatile_count(), 0);
    h.run(&["SELECT", "0"]);
    assert_eq!(h.reply(&["GET", "where"]), "$3\r\none\r\n");
    assert_eq!(h.reply(&["DBSIZE"]), ONE);
}

// ---- WATCH against flushes and swaps (Redis's multi.tcl cases) ---------------------------

#[test]
fn flush_touches_only_watched_keys_that_exist() {
    for cmd in ["FLUSHDB", "FLUSHALL"] {
        let mut h = Harness::new();
        h.run(&["SET", "x", "30"]);
        h.run(&["WATCH", "x"]);
        h.run(&[cmd]);
        assert!(h.watch_broken(), "{cmd} touches an existing watched key");
        h.unwatch();
        h.run(&["WATCH", "x"]);
        h.run(&[cmd]);
        assert!(
            !h.watch_broken(),
            "{cmd} does not touch a missing watched key"
        );
    }
}

#[test]
fn flush_while_watching_a_stale_key_does_not_fail_exec() {
    let mut h = Harness::new();
    h.run(&["SET", "x", "foo", "PX", "1"]);
    h.now_ms += 2;
    h.run(&["WATCH", "x"]);
    h.run(&["FLUSHDB"]);
    assert!(!h.watch_broken());
}

#[test]
fn swapdb_touches_watched_keys_that_exist_on_either_side() {
    let mut h = Harness::new();
    h.run(&["SET", "x", "30"]);
    h.run(&["WATCH", "x"]);
    h.run(&["SWAPDB", "0", "1"]);
    assert!(h.watch_broken(), "the watched key disappears");

    let mut h = Harness::new();
    h.run(&["SELECT", "1"]);
    h.run(&["SET", "x", "30"]);
    h.run(&["SELECT", "0"]);
    h.run(&["WATCH", "x"]);
    h.run(&["SWAPDB", "0", "1"]);
    assert!(h.watch_broken(), "the watched key appears");

    let mut h = Harness::new();
    h.run(&["SELECT", "1"]);
    h.run(&["SET", "y", "30"]);
    h.run(&["SELECT", "0"]);
    h.run(&["WATCH", "x"]);
    h.run(&["SWAPDB", "0", "1"]);
    assert!(!h.watch_broken(), "an unrelated key");
}

#[test]
fn swapdb_does_not_touch_stale_watched_keys() {
    // Expired key replaced with no key.
    let mut h = Harness::new();
    h.run(&["SELECT", "1"]);
    h.run(&["SET", "x", "foo", "PX", "1"]);
    h.now_ms += 2;
    h.run(&["WATCH", "x"]);
    h.run(&["SWAPDB", "0", "1"]);
    assert!(!h.watch_broken());

    // No key replaced with an expired key: deleted before the swap, as a lazy expiry.
    let mut h = Harness::new();
    h.run(&["SET", "x", "foo", "PX", "1"]);
    h.now_ms += 2;
    h.run(&["SELECT", "1"]);
    h.run(&["WATCH", "x"]);
    let out = h.run(&["SWAPDB", "0", "1"]);
    assert!(!h.watch_broken());
    assert_eq!(out.propagated(), ["0:DEL x"]);
    assert_eq!(out.events(), ["0:expired:x"]);
    assert_eq!(
        h.srv.keyspace.db(0).key_count() + h.srv.keyspace.db(1).key_count(),
        0
    );

    // Expired key replaced with another expired key.
    let mut h = Harness::new();
    h.run(&["SELECT", "1"]);
    h.run(&["SET", "x", "foo", "PX", "1"]);
    h.run(&["SELECT", "0"]);
    h.run(&["SET", "x", "bar", "PX", "1"]);
    h.now_ms += 2;
    h.run(&["SELECT", "1"]);
    h.run(&["WATCH", "x"]);
    h.run(&["SWAPDB", "0", "1"]);
    assert!(!h.watch_broken());
}

#[test]
fn swapdb_touches_a_stale_key_replaced_by_a_live_one() {
    let mut h = Harness::new();
    h.run(&["SET", "x", "live"]);
    h.run(&["SELECT", "1"]);
    h.run(&["SET", "x", "foo", "PX", "1"]);
    h.now_ms += 2;
    h.run(&["WATCH", "x"]);
    h.run(&["SWAPDB", "0", "1"]);
    assert!(h.watch_dirty());
}

// ---- SCAN, KEYS, RANDOMKEY --------------------------------------------------------------

/// Runs a SCAN iteration to the end; returns every key returned and the number of calls.
fn scan_all(h: &mut Harness, extra: &[&str]) -> (Vec<String>, usize) {
    let mut keys = Vec::new();
    let mut cursor = "0".to_string();
    let mut calls = 0;
    loop {
        let mut args = vec!["SCAN", cursor.as_str()];
        args.extend_from_slice(extra);
        let reply = h.reply(&args);
        calls += 1;
        let (v, _) = rudis_resp::Value::parse(reply.as_bytes()).unwrap().unwrap();
        let rudis_resp::Value::Array(parts) = v else {
            panic!("{reply}")
        };
        let [rudis_resp::Value::Bulk(c), rudis_resp::Value::Array(found)] = &parts[..] else {
            panic!("{reply}")
        };
        for k in found {
            let rudis_resp::Value::Bulk(k) = k else {
                panic!()
            };
            keys.push(String::from_utf8(k.clone()).unwrap());
        }
        cursor = String::from_utf8(c.clone()).unwrap();
        if cursor == "0" {
            return (keys, calls);
        }
    }
}

#[test]
fn scan_hides_and_deletes_expired_keys() {
    let mut h = Harness::new();
    h.run(&["SET", "live", "v"]);
    h.run(&["SET", "dead1", "v", "PX", "10"]);
    h.run(&["SET", "dead2", "v", "PX", "10"]);
    h.now_ms += 20;
    let (keys, _) = scan_all(&mut h, &[]);
    assert_eq!(keys, ["live"]);
    assert_eq!(h.srv.keyspace.db(0).key_count(), 1);
    let mut h2 = Harness::new();
    h2.run(&["SET", "dead", "v", "PX", "10"]);
    h2.now_ms += 20;
    let out = h2.run(&["SCAN", "0"]);
    assert_eq!(out.propagated(), ["0:DEL dead"]);
    assert_eq!(out.events(), ["0:expired:dead"]);
}

#[test]
fn scan_filters_by_type_and_pattern() {
    let mut h = Harness::new();
    for i in 0..300 {
        h.run(&["SET", &format!("key:{i}"), "v"]);
    }
    h.run(&["SET", "other", "v"]);
    let (mut keys, calls) = scan_all(&mut h, &["MATCH", "key:1*", "COUNT", "20"]);
    keys.sort();
    keys.dedup();
    let mut expected: Vec<String> = (0..300)
        .map(|i| format!("key:{i}"))
        .filter(|k| k.starts_with("key:1"))
        .collect();
    expected.sort();
    assert_eq!(keys, expected);
    assert!(calls > 5, "COUNT bounds each call: {calls} calls");
    assert!(scan_all(&mut h, &["TYPE", "list"]).0.is_empty());
    assert_eq!(scan_all(&mut h, &["TYPE", "string"]).0.len(), 301);
}

#[test]
fn small_databases_scan_in_one_call() {
    let mut h = Harness::new();
    for k in ["a", "b", "c", "d", "e"] {
        h.run(&["SET", k, "v"]);
    }
    let (keys, calls) = scan_all(&mut h, &[]);
    assert_eq!((keys.len(), calls), (5, 1));
}

#[test]
fn keys_hides_expired_keys_without_deleting_them() {
    let mut h = Harness::new();
    h.run(&["SET", "live", "v"]);
    h.run(&["SET", "dead", "v", "PX", "10"]);
    h.now_ms += 20;
    let out = h.run(&["KEYS", "*"]);
    assert_eq!(out.reply, "*1\r\n$4\r\nlive\r\n");
    assert!(out.propagated().is_empty());
    assert_eq!(h.srv.keyspace.db(0).key_count(), 2);
}

#[test]
fn randomkey_skips_and_deletes_expired_keys() {
    let mut h = Harness::new();
    for i in 0..50 {
        h.run(&["SET", &format!("dead{i}"), "v", "PX", "10"]);
    }
    h.run(&["SET", "live", "v"]);
    h.now_ms += 20;
    assert_eq!(h.reply(&["RANDOMKEY"]), "$4\r\nlive\r\n");
    h.run(&["DEL", "live"]);
    assert_eq!(h.reply(&["RANDOMKEY"]), "$-1\r\n");
    assert_eq!(h.srv.keyspace.db(0).key_count(), 0);
}

#[test]
fn randomkey_on_a_replica_gives_up_on_expired_keys() {
    let mut h = Harness::new();
    h.run(&["SET", "dead", "v", "PX", "10"]);
    h.now_ms += 20;
    h.replica = true;
    assert_eq!(h.reply(&["RANDOMKEY"]), "$4\r\ndead\r\n");
    assert_eq!(h.srv.keyspace.db(0).key_count(), 1);
}

#[test]
fn randomkey_reaches_keys_in_neighbouring_slots() {
    // Keys in adjacent slots: a walk from a random slot would almost never pick the first.
    let mut h = Harness::new();
    let (a, b) = adjacent_slot_keys();
    h.run(&["SET", &a, "v"]);
    h.run(&["SET", &b, "v"]);
    let mut seen = std::collections::HashSet::new();
    for _ in 0..200 {
        seen.insert(h.reply(&["RANDOMKEY"]));
    }
    assert_eq!(seen.len(), 2, "{seen:?}");
}

/// Two keys whose slots are neighbours.
fn adjacent_slot_keys() -> (String, String) {
    use crate::keyspace::slot::key_slot;
    let first = "k0".to_string();
    let target = key_slot(first.as_bytes()) + 1;
    let second = (1..)
        .map(|i| format!("k{i}"))
        .find(|k| key_slot(k.as_bytes()) == target)
        .unwrap();
    (first, second)
}

#[test]
fn randomkey_is_roughly_uniform_in_a_dense_database() {
    let mut h = Harness::new();
    // Dense enough to take the probing path; a few keys share a slot through a hash tag.
    for i in 0..20_000 {
        h.run(&["SET", &format!("k{i}"), "v"]);
    }
    for i in 0..8 {
        h.run(&["SET", &format!("{{crowd}}{i}"), "v"]);
    }
    let mut crowd = 0;
    let draws = 50_000;
    for _ in 0..draws {
        if h.reply(&["RANDOMKEY"]).contains("{crowd}") {
            crowd += 1;
        }
    }
    // Expected 8 / 20008 of the draws (about 20); a slot-uniform pick would give about 4.
    assert!(
        (9..=40).contains(&crowd),
        "crowded slot drawn {crowd} times"
    );
}

#[test]
fn object_reports_idle_time_refcount_and_lfu_errors() {
    let mut h = Harness::new();
    h.run(&["SET", "k", "v"]);
    h.run(&["SET", "n", "42"]);
    h.now_ms += 5_000;
    assert_eq!(h.reply(&["OBJECT", "IDLETIME", "k"]), ":5\r\n");
    assert_eq!(h.reply(&["TYPE", "k"]), "+string\r\n");
    assert_eq!(
        h.reply(&["OBJECT", "IDLETIME", "k"]),
        ":5\r\n",
        "TYPE does not touch"
    );
    h.run(&["TOUCH", "k"]);
    assert_eq!(
        h.reply(&["OBJECT", "IDLETIME", "k"]),
        ":0\r\n",
        "TOUCH does"
    );
    assert_eq!(h.reply(&["OBJECT", "REFCOUNT", "n"]), ":2147483647\r\n");
    assert_eq!(h.reply(&["OBJECT", "REFCOUNT", "k"]), ONE);
    assert!(h
        .reply(&["OBJECT", "FREQ", "k"])
        .starts_with("-ERR An LFU maxmemory policy is not selected"));

    let mut h = Harness::with_config(Config {
        maxmemory_policy: "allkeys-lfu".into(),
        maxmemory: 1 << 30,
        ..Config::default()
    });
    h.run(&["SET", "n", "42"]);
    assert!(h
        .reply(&["OBJECT", "IDLETIME", "n"])
        .starts_with("-ERR An LFU maxmemory policy is selected"));
    assert!(h.reply(&["OBJECT", "FREQ", "n"]).starts_with(':'));
    assert_eq!(
        h.reply(&["OBJECT", "REFCOUNT", "n"]),
        ONE,
        "no sharing under LFU"
    );
}

#[test]
fn scan_with_a_hash_tag_pattern_visits_only_that_slot() {
    let mut h = Harness::new();
    for i in 0..400 {
        h.run(&["SET", &format!("user:{{42}}:{i}"), "v"]);
        h.run(&["SET", &format!("user:{{43}}:{i}"), "v"]);
        h.run(&["SET", &format!("other:{i}"), "v"]);
    }
    let (mut keys, calls) = scan_all(&mut h, &["MATCH", "user:{42}:*", "COUNT", "50"]);
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 400);
    assert!(keys.iter().all(|k| k.starts_with("user:{42}:")));
    assert!(calls >= 8, "COUNT still bounds each call: {calls}");
    // A cursor past the tag's slot has nothing left to visit.
    let slot = crate::keyspace::slot::key_slot(b"42") as u64;
    let past = (slot + 1).to_string();
    let reply = h.reply(&["SCAN", &past, "MATCH", "user:{42}:*"]);
    assert_eq!(reply, "*2\r\n$1\r\n0\r\n*0\r\n");
}
