//! The ACL LOG: recent refused commands and failed authentications, newest first. Entries
//! alike (same reason, context, object and user) within 60 seconds are counted as one, as
//! Redis does; the log keeps at most `acllog-max-len` entries.

use std::collections::VecDeque;

use parking_lot::Mutex;

/// Entries alike within this time are grouped.
const GROUPING_MAX_DELTA_MS: i64 = 60_000;
/// How many recent entries are looked at for grouping.
const GROUPING_SCAN_MAX: usize = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    Command,
    Key,
    Channel,
    Auth,
}

impl Reason {
    pub fn name(self) -> &'static str {
        match self {
            Reason::Command => "command",
            Reason::Key => "key",
            Reason::Channel => "channel",
            Reason::Auth => "auth",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Context {
    Toplevel,
    Multi,
    Lua,
}

impl Context {
    pub fn name(self) -> &'static str {
        match self {
            Context::Toplevel => "toplevel",
            Context::Multi => "multi",
            Context::Lua => "lua",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Entry {
    pub count: u64,
    pub reason: Reason,
    pub context: Context,
    pub object: Vec<u8>,
    pub username: Vec<u8>,
    pub created_ms: i64,
    pub client_info: String,
}

#[derive(Default)]
pub struct AclLog {
    entries: Mutex<VecDeque<Entry>>,
}

impl AclLog {
    /// Adds an entry (or counts it with a recent one alike), keeping at most `max_len`.
    pub fn add(&self, entry: Entry, max_len: usize) {
        let mut entries = self.entries.lock();
        let alike = entries.iter().take(GROUPING_SCAN_MAX).position(|e| {
            e.reason == entry.reason
                && e.context == entry.context
                && (e.created_ms - entry.created_ms).abs() <= GROUPING_MAX_DELTA_MS
                && e.object == entry.object
                && e.username == entry.username
        });
        match alike.and_then(|i| entries.remove(i)) {
            Some(mut e) => {
                e.count += 1;
                e.created_ms = entry.created_ms;
                e.client_info = entry.client_info;
                entries.push_front(e);
            }
            None => entries.push_front(entry),
        }
        entries.truncate(max_len);
    }

    /// The newest `count` entries.
    pub fn newest(&self, count: usize) -> Vec<Entry> {
        self.entries.lock().iter().take(count).cloned().collect()
    }

    pub fn reset(&self) {
        self.entries.lock().clear();
    }
}
