//! The replication stream: one shared buffer that is both the backlog (for partial resyncs)
//! and what every connected replica is streamed from, as Redis 7's shared replication buffer.
//!
//! Offsets are Redis's: `master_repl_offset` counts every byte ever fed; the first byte has
//! offset 1. A replica reading from offset `o` next receives the byte numbered `o + 1`.
//! Bytes are kept in chunks and dropped once they are older than both the backlog window
//! (`repl-backlog-size`) and every registered reader, so a replica that falls behind holds
//! memory only up to its output buffer limit, after which it is cut off.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::Mutex;
use tokio::sync::Notify;

/// Bytes per chunk before a new one is started.
const CHUNK_BYTES: usize = 16 * 1024;

struct Chunk {
    /// Offset of the byte before this chunk's first byte.
    start: i64,
    data: Vec<u8>,
}

impl Chunk {
    fn end(&self) -> i64 {
        self.start + self.data.len() as i64
    }
}

struct Inner {
    /// A backlog exists (created when the first replica attaches, as in Redis).
    active: bool,
    chunks: VecDeque<Chunk>,
    /// `master_repl_offset`: bytes fed so far.
    end: i64,
    backlog_bytes: usize,
    /// Replica id -> offset it has read up to.
    readers: HashMap<u64, i64>,
}

pub struct ReplStream {
    inner: Mutex<Inner>,
    /// Wakes the replica writer tasks waiting for the stream to grow (see [`ReplStream::watch`]).
    grown: Notify,
    /// A writer looked at the stream and may be about to wait: only then does a feed wake
    /// them. A master under load thus pays for one wake-up per batch of commands the writers
    /// had not yet seen, not one per command.
    writers_waiting: AtomicBool,
    /// Counts the feeds that reached the stream, read without the lock (see
    /// [`ReplStream::feeds`]).
    feeds: AtomicU64,
}

/// The backlog's extent, for PSYNC and INFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BacklogInfo {
    pub active: bool,
    pub size_bytes: usize,
    /// Offset of the first byte held (Redis's `repl_backlog_first_byte_offset`).
    pub first_byte_offset: i64,
    /// Bytes held within the backlog window (`repl_backlog_histlen`).
    pub histlen: i64,
    pub master_repl_offset: i64,
}

impl ReplStream {
    pub fn new(backlog_bytes: usize, start_offset: i64) -> Self {
        ReplStream {
            inner: Mutex::new(Inner {
                active: false,
                chunks: VecDeque::new(),
                end: start_offset,
                backlog_bytes: backlog_bytes.max(1),
                readers: HashMap::new(),
            }),
            grown: Notify::new(),
            writers_waiting: AtomicBool::new(false),
            feeds: AtomicU64::new(0),
        }
    }

    /// How many feeds reached the stream so far: a cheap way for a connection to tell that
    /// its commands produced something for the replicas.
    pub fn feeds(&self) -> u64 {
        self.feeds.load(Ordering::Relaxed)
    }

    /// Starts keeping a backlog (first replica attaching). Bytes fed before were not kept.
    pub fn activate(&self) {
        self.inner.lock().active = true;
    }

    /// Frees the backlog (no replica for `repl-backlog-ttl`). The offset is kept.
    pub fn deactivate(&self) {
        let mut i = self.inner.lock();
        i.active = false;
        i.chunks.clear();
    }

    pub fn is_active(&self) -> bool {
        self.inner.lock().active
    }

    /// Appends bytes to the stream (no-op without a backlog: offsets do not move either).
    pub fn feed(&self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        {
            let mut i = self.inner.lock();
            if !i.active {
                return;
            }
            append(&mut i, bytes);
            trim(&mut i);
        }
        self.feeds.fetch_add(1, Ordering::Relaxed);
        self.wake_writers();
    }

    /// `master_repl_offset`.
    pub fn offset(&self) -> i64 {
        self.inner.lock().end
    }

    /// Restarts the stream at `offset` with an empty backlog (after loading a snapshot from a
    /// master, or promotion with a new history).
    pub fn reset_to(&self, offset: i64) {
        let mut i = self.inner.lock();
        i.chunks.clear();
        i.end = offset;
        drop(i);
        self.writers_waiting.store(false, Ordering::SeqCst);
        self.grown.notify_waiters();
    }

    pub fn set_backlog_size(&self, bytes: usize) {
        let mut i = self.inner.lock();
        i.backlog_bytes = bytes.max(1);
        trim(&mut i);
    }

    pub fn info(&self) -> BacklogInfo {
        let i = self.inner.lock();
        let held_from = i
            .chunks
            .front()
            .map_or(i.end, |c| c.start)
            .max(i.end - i.backlog_bytes as i64);
        BacklogInfo {
            active: i.active,
            size_bytes: i.backlog_bytes,
            first_byte_offset: if i.active { held_from + 1 } else { 0 },
            histlen: if i.active { i.end - held_from } else { 0 },
            master_repl_offset: i.end,
        }
    }

    /// True if a replica that has everything up to `offset` can continue from the backlog.
    pub fn can_continue_from(&self, offset: i64) -> bool {
        let info = self.info();
        info.active && offset >= info.first_byte_offset - 1 && offset <= info.master_repl_offset
    }

    /// Registers a reader (a replica) positioned at `offset`, so bytes it has not read are
    /// kept. Returns false if those bytes are already gone.
    pub fn add_reader(&self, id: u64, offset: i64) -> bool {
        let mut i = self.inner.lock();
        let oldest = i.chunks.front().map_or(i.end, |c| c.start);
        if offset < oldest || offset > i.end {
            return false;
        }
        i.readers.insert(id, offset);
        true
    }

    pub fn remove_reader(&self, id: u64) {
        let mut i = self.inner.lock();
        i.readers.remove(&id);
        trim(&mut i);
    }

    /// Copies up to `max` bytes after `from` for reader `id` and records its progress.
    /// Returns the bytes and the new offset.
    pub fn read(&self, id: u64, from: i64, max: usize) -> (Vec<u8>, i64) {
        let mut i = self.inner.lock();
        let mut out = Vec::new();
        let mut pos = from;
        for c in &i.chunks {
            if c.end() <= pos {
                continue;
            }
            let skip = (pos.max(c.start) - c.start) as usize;
            let take = (c.data.len() - skip).min(max - out.len());
            out.extend_from_slice(&c.data[skip..skip + take]);
            pos += take as i64;
            if out.len() == max {
                break;
            }
        }
        i.readers.insert(id, pos);
        trim(&mut i);
        (out, pos)
    }

    /// Bytes reader `id` has not read yet (its output buffer, for the limits).
    pub fn lag_bytes(&self, id: u64) -> i64 {
        let i = self.inner.lock();
        i.readers.get(&id).map_or(0, |o| i.end - o)
    }

    /// For a writer about to look for new bytes: the wake-up it may then wait for. Its
    /// interest is registered before it looks, so a feed after the look wakes it (the feed's
    /// swap of `writers_waiting` follows the look through the stream's mutex).
    pub fn watch(&self) -> Notified<'_> {
        let mut notified = Box::pin(self.grown.notified());
        notified.as_mut().enable();
        self.writers_waiting.store(true, Ordering::SeqCst);
        Notified(notified)
    }

    fn wake_writers(&self) {
        if self.writers_waiting.load(Ordering::Relaxed)
            && self.writers_waiting.swap(false, Ordering::SeqCst)
        {
            self.grown.notify_waiters();
        }
    }
}

/// A wake-up for when the stream has grown (see [`ReplStream::watch`]).
pub struct Notified<'a>(std::pin::Pin<Box<tokio::sync::futures::Notified<'a>>>);

impl std::future::Future for Notified<'_> {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        self.0.as_mut().poll(cx)
    }
}

fn append(i: &mut Inner, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        let end = i.end;
        let need_new = i.chunks.back().is_none_or(|c| c.data.len() >= CHUNK_BYTES);
        if need_new {
            i.chunks.push_back(Chunk {
                start: end,
                data: Vec::with_capacity(CHUNK_BYTES),
            });
        }
        let chunk = i.chunks.back_mut().expect("a chunk exists");
        let room = CHUNK_BYTES.saturating_sub(chunk.data.len()).max(1);
        let n = room.min(bytes.len());
        chunk.data.extend_from_slice(&bytes[..n]);
        i.end += n as i64;
        bytes = &bytes[n..];
    }
}

/// Drops whole chunks no longer needed by the backlog window or by any reader.
fn trim(i: &mut Inner) {
    let backlog_from = i.end - i.backlog_bytes as i64;
    let keep_from = i.readers.values().copied().fold(backlog_from, i64::min);
    while i.chunks.len() > 1 && i.chunks.front().is_some_and(|c| c.end() <= keep_from) {
        i.chunks.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_and_backlog_window() {
        let s = ReplStream::new(40_000, 0);
        s.feed(b"ignored");
        assert_eq!(s.offset(), 0, "no backlog, no offset");
        s.activate();
        for _ in 0..10 {
            s.feed(&[b'x'; 10_000]);
        }
        let info = s.info();
        assert_eq!(info.master_repl_offset, 100_000);
        assert_eq!(info.histlen, 40_000);
        assert_eq!(info.first_byte_offset, 60_001);
        assert!(s.can_continue_from(60_000));
        assert!(s.can_continue_from(100_000));
        assert!(!s.can_continue_from(59_999 - CHUNK_BYTES as i64));
    }

    #[test]
    fn readers_keep_their_bytes_and_read_in_order() {
        let s = ReplStream::new(10, 0);
        s.activate();
        s.feed(b"hello ");
        assert!(s.add_reader(7, 0));
        let mut fed = b"hello ".to_vec();
        for i in 0..5000u32 {
            let line = format!("line {i}\n");
            s.feed(line.as_bytes());
            fed.extend_from_slice(line.as_bytes());
        }
        assert_eq!(s.lag_bytes(7), fed.len() as i64);
        let mut got = Vec::new();
        let mut at = 0;
        loop {
            let (bytes, next) = s.read(7, at, 1000);
            if bytes.is_empty() {
                break;
            }
            got.extend(bytes);
            at = next;
        }
        assert_eq!(got, fed);
        s.remove_reader(7);
        assert!(s.info().histlen <= CHUNK_BYTES as i64 + 10);
    }
}
