//! WAIT numreplicas timeout: blocks the client until enough replicas acknowledged the
//! replication offset its writes reached, or the timeout passes; replies with the number of
//! replicas that acknowledged it.
//!
//! A waiting client is an ordinary blocked client (a `Waiter` on no keys): its connection
//! waits for the waiter's state as for BLPOP. Each REPLCONF ACK re-checks the waits; a timer
//! task answers at the timeout with the count at that moment.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use parking_lot::Mutex;

use super::replica_state;
use crate::keyspace::blocking::{WaitState, Waiter};
use crate::server::Server;

struct Pending {
    waiter: Arc<Waiter>,
    offset: i64,
    wanted: usize,
}

/// The WAITs in progress.
#[derive(Default)]
pub struct Waits {
    pending: Mutex<Vec<Pending>>,
}

/// The encoded GETACK a master sends replicas so WAIT learns their offsets quickly.
pub const GETACK: &[u8] = b"*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n";

/// Replicas that acknowledged `offset`.
pub fn acked(srv: &Server, offset: i64) -> usize {
    srv.replication
        .replicas
        .lock()
        .iter()
        .filter(|r| {
            r.state.load(Ordering::Relaxed) == replica_state::ONLINE
                && r.ack_offset.load(Ordering::Relaxed) >= offset
        })
        .count()
}

fn int_reply(n: usize) -> Vec<u8> {
    format!(":{n}\r\n").into_bytes()
}

impl Waits {
    /// Registers a WAIT and asks replicas for their offsets. With `timeout_ms` > 0, a timer
    /// answers it at the deadline.
    pub fn add(
        &self,
        srv: &Server,
        waiter: Arc<Waiter>,
        offset: i64,
        wanted: usize,
        timeout_ms: u64,
    ) {
        self.pending.lock().push(Pending {
            waiter: waiter.clone(),
            offset,
            wanted,
        });
        srv.replication.stream.feed(GETACK);
        if timeout_ms == 0 {
            return;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let srv = srv.arc();
        rt.spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(timeout_ms)).await;
            let n = acked(&srv, offset);
            waiter.finish(WaitState::Served(int_reply(n)));
            srv.replication.waits.prune();
        });
    }

    /// Answers every WAIT whose count is now reached (after an ACK).
    pub fn on_ack(&self, srv: &Server) {
        let mut pending = self.pending.lock();
        if pending.is_empty() {
            return;
        }
        pending.retain(|p| {
            if !p.waiter.is_waiting() {
                return false;
            }
            let n = acked(srv, p.offset);
            if n >= p.wanted {
                p.waiter.finish(WaitState::Served(int_reply(n)));
                return false;
            }
            true
        });
    }

    /// Drops WAITs that are over (answered, or their client left).
    pub fn prune(&self) {
        self.pending.lock().retain(|p| p.waiter.is_waiting());
    }
}
