//! The clients in MONITOR mode, and the feed that shows them every command the server runs.
//!
//! Feeding is on the path of every command, so when nobody monitors it costs one atomic load
//! ([`Monitors::is_active`]). A monitor leaves the list when its connection is gone or it
//! left MONITOR mode (RESET); the list is pruned while feeding, so disconnecting needs no
//! bookkeeping elsewhere.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use super::client::{cflag, ClientInfo};
use super::unix_us;

#[derive(Default)]
pub struct Monitors {
    /// Length of `list`, readable without the lock.
    count: AtomicUsize,
    list: Mutex<Vec<Arc<ClientInfo>>>,
}

impl Monitors {
    /// True if some client may be monitoring.
    #[inline]
    pub fn is_active(&self) -> bool {
        self.count.load(Ordering::Relaxed) != 0
    }

    /// Adds a client that entered MONITOR mode (again, possibly, after a RESET).
    pub fn add(&self, client: Arc<ClientInfo>) {
        let mut list = self.list.lock();
        if !list.iter().any(|m| Arc::ptr_eq(m, &client)) {
            list.push(client);
        }
        self.count.store(list.len(), Ordering::Relaxed);
    }

    /// Sends one command, as a status line, to every monitor:
    /// `+<unix seconds>.<micros> [<db> <client address>] "arg" "arg" ...`.
    pub fn feed<'a>(&self, db: usize, peer: &str, args: impl Iterator<Item = &'a [u8]>) {
        let line = format_line(unix_us(), db, peer, args);
        let mut list = self.list.lock();
        list.retain(|m| {
            // The registry of clients and the connection each hold a reference: alone, we
            // hold a closed connection's.
            let live = Arc::strong_count(m) > 1 && !m.is_killed();
            live && m.has_flag(cflag::MONITOR)
        });
        for m in list.iter() {
            m.push_out(&line);
        }
        self.count.store(list.len(), Ordering::Relaxed);
    }
}

fn format_line<'a>(
    now_us: i64,
    db: usize,
    peer: &str,
    args: impl Iterator<Item = &'a [u8]>,
) -> Vec<u8> {
    let mut line = format!(
        "+{}.{:06} [{} {}]",
        now_us / 1_000_000,
        now_us % 1_000_000,
        db,
        peer
    )
    .into_bytes();
    for arg in args {
        line.push(b' ');
        rudis_resp::inline::repr(arg, &mut line);
    }
    line.extend_from_slice(b"\r\n");
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_format_quotes_like_redis() {
        let args: [&[u8]; 3] = [b"set", b"k", b"a \"b\"\r\n\x00\xff"];
        let line = format_line(1_700_000_000_000_042, 3, "127.0.0.1:5000", args.into_iter());
        assert_eq!(
            line,
            b"+1700000000.000042 [3 127.0.0.1:5000] \"set\" \"k\" \"a \\\"b\\\"\\r\\n\\x00\\xff\"\r\n"
        );
    }

    #[test]
    fn feed_reaches_live_monitors_only() {
        let monitors = Monitors::default();
        assert!(!monitors.is_active());
        let watching = Arc::new(ClientInfo::new(1, "a".into(), "l".into(), -1, 0));
        watching.set_flag(cflag::MONITOR, true);
        let _held_by_connection = watching.clone();
        let reset = Arc::new(ClientInfo::new(2, "b".into(), "l".into(), -1, 0));
        let _also_held = reset.clone();
        let gone = Arc::new(ClientInfo::new(3, "c".into(), "l".into(), -1, 0));
        gone.set_flag(cflag::MONITOR, true);
        monitors.add(watching.clone());
        monitors.add(reset.clone());
        monitors.add(gone);
        assert!(monitors.is_active());
        monitors.feed(0, "x:1", [&b"ping"[..]].into_iter());
        assert!(watching.take_out().ends_with(b"[0 x:1] \"ping\"\r\n"));
        assert!(reset.take_out().is_empty(), "left MONITOR mode");
        assert_eq!(monitors.count.load(Ordering::Relaxed), 1);
    }
}
