//! Blocked clients (BLPOP, BLMOVE, BZPOPMIN, ...): who waits on which key, and serving them.
//!
//! A blocking command that finds nothing registers a [`Waiter`] on each of its keys, in the
//! queue of the key's shard, under the same shard locks it used to find the keys empty, so a
//! push that follows cannot be missed. A write that may satisfy a waiter records the key as
//! ready (`Txn::signal_ready`, or creating a key someone waits on). After that write commits,
//! [`serve_ready`] takes the keyspace exclusively and re-runs each waiting command, oldest
//! first, exactly as if its client had sent it again: the pop, its reply, its propagation and
//! its events are those of the command itself. A waiter whose command still finds nothing
//! stays queued. Because the whole keyspace is held while serving, waiters are served in
//! FIFO order and atomically, and chains (a BLMOVE feeding another waiter) settle in one go.
//!
//! The waiting connection learns its fate through the waiter's state: served (with the reply
//! bytes), timed out, or unblocked by CLIENT UNBLOCK.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::server::client::ClientInfo;

/// What became of a waiter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitState {
    Waiting,
    /// Served: the command's reply.
    Served(Vec<u8>),
    /// The timeout passed (or CLIENT UNBLOCK ... TIMEOUT).
    TimedOut,
    /// CLIENT UNBLOCK ... ERROR.
    Unblocked,
}

/// A blocked command waiting for one of its keys.
pub struct Waiter {
    pub client: Arc<ClientInfo>,
    pub db: usize,
    pub keys: Vec<Vec<u8>>,
    /// The command to run again, with its arguments.
    pub cmd_id: usize,
    pub argv: Vec<Vec<u8>>,
    pub resp3: bool,
    /// Unix ms after which the waiter gives up; `None` waits forever.
    pub deadline_ms: Option<i64>,
    /// Writes the reply for a timeout (a null array for BLPOP, a null for BLMOVE...).
    pub timeout_reply: fn(&mut rudis_resp::ReplyBuf),
    pub state: Mutex<WaitState>,
}

impl Waiter {
    pub fn is_waiting(&self) -> bool {
        *self.state.lock() == WaitState::Waiting
    }

    /// Moves a waiting waiter to `to` and wakes its connection. False if it had already
    /// left the waiting state.
    pub fn finish(&self, to: WaitState) -> bool {
        let mut state = self.state.lock();
        if *state != WaitState::Waiting {
            return false;
        }
        *state = to;
        drop(state);
        self.client.wake.notify();
        true
    }
}

/// Per-shard queues of waiters, by key.
#[derive(Default)]
pub struct KeyWaiters {
    queues: HashMap<Vec<u8>, VecDeque<Arc<Waiter>>>,
}

impl KeyWaiters {
    pub fn is_empty(&self) -> bool {
        self.queues.is_empty()
    }

    pub fn has(&self, key: &[u8]) -> bool {
        self.queues.contains_key(key)
    }

    /// The keys someone waits on.
    pub fn keys(&self) -> impl Iterator<Item = &Vec<u8>> {
        self.queues.keys()
    }

    pub fn push(&mut self, key: &[u8], w: Arc<Waiter>) {
        self.queues.entry(key.to_vec()).or_default().push_back(w);
    }

    /// The oldest waiter on `key` still waiting (dropping finished ones from the front).
    pub fn front(&mut self, key: &[u8]) -> Option<Arc<Waiter>> {
        let queue = self.queues.get_mut(key)?;
        while let Some(w) = queue.front() {
            if w.is_waiting() {
                return Some(w.clone());
            }
            queue.pop_front();
        }
        self.queues.remove(key);
        None
    }

    /// The waiters on `key`, oldest first (a snapshot).
    pub fn queue(&self, key: &[u8]) -> Vec<Arc<Waiter>> {
        self.queues
            .get(key)
            .map(|q| q.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Removes one waiter from `key`'s queue.
    pub fn remove(&mut self, key: &[u8], w: &Arc<Waiter>) {
        if let Some(queue) = self.queues.get_mut(key) {
            queue.retain(|x| !Arc::ptr_eq(x, w));
            if queue.is_empty() {
                self.queues.remove(key);
            }
        }
    }
}

/// All blocked clients by client id, for CLIENT UNBLOCK and INFO.
#[derive(Default)]
pub struct BlockedClients {
    by_client: Mutex<HashMap<u64, Arc<Waiter>>>,
}

impl BlockedClients {
    pub fn insert(&self, w: Arc<Waiter>) {
        self.by_client.lock().insert(w.client.id, w);
    }

    pub fn remove(&self, client_id: u64) {
        self.by_client.lock().remove(&client_id);
    }

    /// Every blocked client's waiter.
    pub fn all(&self) -> Vec<Arc<Waiter>> {
        self.by_client.lock().values().cloned().collect()
    }

    pub fn get(&self, client_id: u64) -> Option<Arc<Waiter>> {
        self.by_client.lock().get(&client_id).cloned()
    }

    pub fn count(&self) -> usize {
        self.by_client.lock().len()
    }

    /// The waiters blocked in database `db`.
    pub fn in_db(&self, db: usize) -> Vec<Arc<Waiter>> {
        let all = self.by_client.lock();
        all.values().filter(|w| w.db == db).cloned().collect()
    }
}
