//! SLOWLOG and the latency monitor (LATENCY LATEST/HISTORY/RESET).

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

/// Arguments kept per slow log entry, and bytes kept per argument.
const SLOWLOG_ARGS_MAX: usize = 32;
const SLOWLOG_ARG_BYTES_MAX: usize = 128;

pub struct SlowLogEntry {
    pub id: u64,
    pub unix_s: i64,
    pub duration_us: u64,
    pub args: Vec<Vec<u8>>,
    pub peer: String,
    pub client_name: Vec<u8>,
}

#[derive(Default)]
pub struct SlowLog {
    entries: Mutex<VecDeque<SlowLogEntry>>,
    next_id: AtomicU64,
}

impl SlowLog {
    /// Records a command, trimming its arguments as Redis does.
    pub fn push(
        &self,
        args: impl ExactSizeIterator<Item = Vec<u8>>,
        duration_us: u64,
        peer: String,
        client_name: Vec<u8>,
        max_len: usize,
    ) {
        let argc = args.len();
        let mut kept = Vec::with_capacity(argc.min(SLOWLOG_ARGS_MAX));
        for (i, a) in args.enumerate() {
            if i == SLOWLOG_ARGS_MAX - 1 && argc > SLOWLOG_ARGS_MAX {
                kept.push(
                    format!("... ({} more arguments)", argc - SLOWLOG_ARGS_MAX + 1).into_bytes(),
                );
                break;
            }
            if a.len() > SLOWLOG_ARG_BYTES_MAX {
                let mut t = a[..SLOWLOG_ARG_BYTES_MAX].to_vec();
                t.extend_from_slice(
                    format!("... ({} more bytes)", a.len() - SLOWLOG_ARG_BYTES_MAX).as_bytes(),
                );
                kept.push(t);
            } else {
                kept.push(a);
            }
        }
        let entry = SlowLogEntry {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            unix_s: super::unix_ms() / 1000,
            duration_us,
            args: kept,
            peer,
            client_name,
        };
        let mut e = self.entries.lock();
        e.push_front(entry);
        e.truncate(max_len);
    }

    pub fn len(&self) -> usize {
        self.entries.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn reset(&self) {
        self.entries.lock().clear();
    }

    pub fn trim(&self, max_len: usize) {
        self.entries.lock().truncate(max_len);
    }

    /// Visits the newest `count` entries.
    pub fn with_entries<R>(&self, f: impl FnOnce(&VecDeque<SlowLogEntry>) -> R) -> R {
        f(&self.entries.lock())
    }
}

/// Samples kept per latency event.
const LATENCY_HISTORY: usize = 160;

#[derive(Default)]
pub struct LatencyEvent {
    /// (unix seconds, latency ms)
    pub samples: VecDeque<(i64, u64)>,
    pub max_ms: u64,
}

#[derive(Default)]
pub struct LatencyMonitor {
    events: Mutex<BTreeMap<String, LatencyEvent>>,
}

impl LatencyMonitor {
    /// Records a latency sample for `event` (merging samples within the same second).
    pub fn add(&self, event: &str, latency_ms: u64) {
        let now = super::unix_ms() / 1000;
        let mut events = self.events.lock();
        let ev = events.entry(event.to_string()).or_default();
        ev.max_ms = ev.max_ms.max(latency_ms);
        match ev.samples.back_mut() {
            Some((t, l)) if *t == now => *l = (*l).max(latency_ms),
            _ => {
                ev.samples.push_back((now, latency_ms));
                if ev.samples.len() > LATENCY_HISTORY {
                    ev.samples.pop_front();
                }
            }
        }
    }

    /// Records `elapsed` for `event` if the latency monitor is on (`threshold_ms` > 0) and
    /// it took at least that long.
    pub fn add_if_over(&self, event: &str, elapsed: std::time::Duration, threshold_ms: i64) {
        let ms = elapsed.as_millis() as u64;
        if threshold_ms > 0 && ms >= threshold_ms as u64 {
            self.add(event, ms);
        }
    }

    /// Resets the named events (all if empty; names match case-insensitively); returns how
    /// many were reset.
    pub fn reset(&self, names: &[&[u8]]) -> usize {
        let mut events = self.events.lock();
        if names.is_empty() {
            let n = events.len();
            events.clear();
            return n;
        }
        let before = events.len();
        events.retain(|event, _| {
            !names
                .iter()
                .any(|n| n.eq_ignore_ascii_case(event.as_bytes()))
        });
        before - events.len()
    }

    pub fn with_events<R>(&self, f: impl FnOnce(&BTreeMap<String, LatencyEvent>) -> R) -> R {
        f(&self.events.lock())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn latency_samples_need_the_monitor_on_and_the_threshold_reached() {
        let m = LatencyMonitor::default();
        m.add_if_over("expire-cycle", Duration::from_millis(500), 0);
        m.add_if_over("expire-cycle", Duration::from_millis(5), 10);
        assert_eq!(m.with_events(|e| e.len()), 0);
        m.add_if_over("expire-cycle", Duration::from_millis(10), 10);
        m.add_if_over("expire-cycle", Duration::from_millis(30), 10);
        m.with_events(|e| {
            let ev = &e["expire-cycle"];
            assert_eq!(ev.max_ms, 30);
            // Samples within one second merge (two if a second boundary fell in between).
            assert!((1..=2).contains(&ev.samples.len()));
            assert_eq!(ev.samples.back().map(|s| s.1), Some(30));
        });
    }

    #[test]
    fn reset_matches_event_names_case_insensitively() {
        let m = LatencyMonitor::default();
        m.add("command", 100);
        m.add("fast-command", 100);
        assert_eq!(m.reset(&[b"COMMAND", b"nosuch"]), 1);
        assert_eq!(m.reset(&[]), 1);
        assert_eq!(m.with_events(|e| e.len()), 0);
    }
}
