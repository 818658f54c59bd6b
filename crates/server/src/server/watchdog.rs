//! The software watchdog (`watchdog-period`, milliseconds; 0 disables it).
//!
//! Redis's watchdog reports its event loop staying blocked longer than the period. Rudis
//! has no single event loop; what keeps it from serving its dataset is a load (clients
//! get `-LOADING`) or a command holding the whole keyspace. Those mark themselves busy
//! here ([`Watchdog::busy`]); while a period is set, a thread looks every few milliseconds
//! and logs `--- WATCHDOG TIMER EXPIRED ---`, naming the operation, once for each one that
//! outlasts the period.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;

use super::log::{self, Verbosity};
use super::{unix_ms, Server};

/// How often the watchdog thread looks.
const TICK: Duration = Duration::from_millis(10);

struct Busy {
    id: u64,
    started_ms: i64,
    what: String,
    reported: bool,
}

#[derive(Default)]
pub struct Watchdog {
    busy: Mutex<Vec<Busy>>,
    next_id: AtomicU64,
    thread_started: AtomicBool,
}

/// Marks an operation busy until dropped.
pub struct BusyGuard<'a> {
    dog: &'a Watchdog,
    id: u64,
}

impl Drop for BusyGuard<'_> {
    fn drop(&mut self) {
        self.dog.busy.lock().retain(|b| b.id != self.id);
    }
}

impl Watchdog {
    /// Marks `what` as running from now on, if the watchdog is enabled.
    pub fn busy(&self, srv: &Server, what: impl FnOnce() -> String) -> Option<BusyGuard<'_>> {
        if srv.cfg().watchdog_period <= 0 {
            return None;
        }
        if !self.thread_started.swap(true, Ordering::AcqRel) {
            start_thread(Arc::downgrade(&srv.arc()));
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.busy.lock().push(Busy {
            id,
            started_ms: unix_ms(),
            what: what(),
            reported: false,
        });
        Some(BusyGuard { dog: self, id })
    }

    /// Logs the operations that outlasted `period_ms`, once each.
    fn check(&self, period_ms: i64) {
        let now = unix_ms();
        let mut expired = Vec::new();
        for b in self.busy.lock().iter_mut() {
            if !b.reported && now - b.started_ms > period_ms {
                b.reported = true;
                expired.push(format!("{} running for {} ms", b.what, now - b.started_ms));
            }
        }
        for what in expired {
            log::write_line(Verbosity::Warning, "--- WATCHDOG TIMER EXPIRED ---");
            log::write_line(Verbosity::Warning, &what);
            log::write_line(Verbosity::Warning, "--------");
        }
    }
}

fn start_thread(srv: Weak<Server>) {
    let spawned = std::thread::Builder::new()
        .name("watchdog".into())
        .spawn(move || loop {
            std::thread::sleep(TICK);
            let Some(srv) = srv.upgrade() else {
                return;
            };
            let period = srv.cfg().watchdog_period;
            if period > 0 {
                srv.watchdog.check(period);
            }
        });
    if let Err(e) = spawned {
        log::write_line(
            Verbosity::Warning,
            &format!("Can't start the watchdog: {e}"),
        );
    }
}
