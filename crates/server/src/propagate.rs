//! The one propagation point. Every effect that must reach the AOF and replicas passes through
//! [`Propagator::feed`], called by the dispatch gate while the command still holds its shard
//! locks, so the stream orders writes exactly as the locks serialized them. Commands arrive
//! already in deterministic form (see `keyspace::txn::Effects`); this module adds the SELECT
//! needed when the database changes and wraps a transaction's commands in MULTI/EXEC.
//!
//! Consumers (the AOF writer, the replication backlog) register as [`Sink`]s. With none
//! registered, feeding costs one atomic load.

use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

use crate::keyspace::txn::encode_command;

/// A consumer of the propagated stream.
pub trait Sink: Send {
    /// Receives a contiguous piece of the RESP stream.
    fn feed(&mut self, bytes: &[u8]);
}

struct Stream {
    /// The database the stream's consumers have selected, if any.
    selected_db: Option<usize>,
    sinks: Vec<Box<dyn Sink>>,
    scratch: Vec<u8>,
}

pub struct Propagator {
    active: AtomicBool,
    stream: Mutex<Stream>,
}

impl Default for Propagator {
    fn default() -> Self {
        Self::new()
    }
}

impl Propagator {
    pub fn new() -> Self {
        Propagator {
            active: AtomicBool::new(false),
            stream: Mutex::new(Stream {
                selected_db: None,
                sinks: Vec::new(),
                scratch: Vec::new(),
            }),
        }
    }

    /// True when some consumer wants the stream.
    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    pub fn add_sink(&self, sink: Box<dyn Sink>) {
        let mut s = self.stream.lock();
        s.sinks.push(sink);
        s.selected_db = None;
        self.active.store(true, Ordering::Release);
    }

    /// Feeds commands (database, RESP-encoded command), wrapped in MULTI/EXEC if `multi` and
    /// there is more than one.
    pub fn feed(&self, cmds: &[(usize, Vec<u8>)], multi: bool) {
        if cmds.is_empty() || !self.is_active() {
            return;
        }
        let mut guard = self.stream.lock();
        let s = &mut *guard;
        s.scratch.clear();
        let wrap = multi && cmds.len() > 1;
        if wrap {
            // MULTI goes after any SELECT for the first command.
            select_db(&mut s.selected_db, cmds[0].0, &mut s.scratch);
            encode_command(&[b"MULTI"], &mut s.scratch);
        }
        for (db, cmd) in cmds {
            select_db(&mut s.selected_db, *db, &mut s.scratch);
            s.scratch.extend_from_slice(cmd);
        }
        if wrap {
            encode_command(&[b"EXEC"], &mut s.scratch);
        }
        let Stream { sinks, scratch, .. } = s;
        for sink in sinks.iter_mut() {
            sink.feed(scratch);
        }
    }

    /// Forgets the selected database (a new consumer must see a SELECT first).
    pub fn reset_selected_db(&self) {
        self.stream.lock().selected_db = None;
    }
}

fn select_db(selected: &mut Option<usize>, db: usize, out: &mut Vec<u8>) {
    if *selected != Some(db) {
        let n = db.to_string();
        encode_command(&[b"SELECT", n.as_bytes()], out);
        *selected = Some(db);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    struct Capture(Arc<Mutex<Vec<u8>>>);
    impl Sink for Capture {
        fn feed(&mut self, bytes: &[u8]) {
            self.0.lock().extend_from_slice(bytes);
        }
    }

    #[test]
    fn selects_and_wraps() {
        let p = Propagator::new();
        let out = Arc::new(Mutex::new(Vec::new()));
        p.add_sink(Box::new(Capture(out.clone())));
        let mut set = Vec::new();
        encode_command(&[b"SET", b"k", b"v"], &mut set);
        p.feed(&[(0, set.clone())], false);
        p.feed(&[(0, set.clone()), (1, set.clone())], true);
        let text = String::from_utf8(out.lock().clone()).unwrap();
        assert_eq!(text.matches("SELECT").count(), 2);
        assert!(text.contains("MULTI") && text.ends_with("EXEC\r\n"));
    }
}
