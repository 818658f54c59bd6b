//! Publish/subscribe: who listens to which channel, pattern and shard channel, and delivery.
//!
//! Subscribers are connections' shared [`ClientInfo`]s; a message is encoded once per
//! protocol (RESP2 array or RESP3 push) and queued on each subscriber's outbox, which its
//! connection task writes out. A subscriber whose outbox outgrows the `pubsub` class of
//! `client-output-buffer-limit` (hard limit, or soft limit for longer than its seconds) is
//! disconnected, as Redis does. Each connection also keeps its own subscriptions (see
//! [`Subscriptions`]) so it can answer counts and unsubscribe everything when it goes away.

use std::collections::HashMap;

use indexmap::IndexSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

use crate::config::special::BufferLimit;
use crate::server::client::ClientInfo;
use crate::util::glob;

/// The three kinds of subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Channel,
    Pattern,
    Shard,
}

type Registry = RwLock<HashMap<Vec<u8>, Vec<Arc<ClientInfo>>>>;

#[derive(Default)]
pub struct PubSub {
    channels: Registry,
    patterns: Registry,
    shard_channels: Registry,
    /// Number of distinct patterns, to skip pattern matching when there are none.
    pattern_count: AtomicUsize,
}

/// A connection's own subscriptions, in the order they were made (Redis lists a client's
/// patterns in that order when it unsubscribes from all of them).
#[derive(Default, Debug)]
pub struct Subscriptions {
    pub channels: IndexSet<Vec<u8>>,
    pub patterns: IndexSet<Vec<u8>>,
    pub shard_channels: IndexSet<Vec<u8>>,
}

impl Subscriptions {
    /// Channels plus patterns (what SUBSCRIBE and PSUBSCRIBE replies count).
    pub fn count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    pub fn total(&self) -> usize {
        self.count() + self.shard_channels.len()
    }

    pub fn set_of(&mut self, kind: Kind) -> &mut IndexSet<Vec<u8>> {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard_channels,
        }
    }
}

/// Who received a message, and whether the publisher itself was among them (its copy is
/// returned so it can go out before the PUBLISH reply, as in Redis).
pub struct Delivery {
    pub receivers: usize,
    pub own_copy: Vec<u8>,
}

impl PubSub {
    pub fn new() -> Self {
        Self::default()
    }

    fn registry(&self, kind: Kind) -> &Registry {
        match kind {
            Kind::Channel => &self.channels,
            Kind::Pattern => &self.patterns,
            Kind::Shard => &self.shard_channels,
        }
    }

    /// Registers `client` under `name`. The caller checks its own set first.
    pub fn subscribe(&self, kind: Kind, name: &[u8], client: &Arc<ClientInfo>) {
        let mut reg = self.registry(kind).write();
        let list = reg.entry(name.to_vec()).or_default();
        if list.is_empty() && kind == Kind::Pattern {
            self.pattern_count.fetch_add(1, Ordering::Relaxed);
        }
        list.push(client.clone());
    }

    /// Removes `client_id` from `name`.
    pub fn unsubscribe(&self, kind: Kind, name: &[u8], client_id: u64) {
        let mut reg = self.registry(kind).write();
        if let Some(list) = reg.get_mut(name) {
            list.retain(|c| c.id != client_id);
            if list.is_empty() {
                reg.remove(name);
                if kind == Kind::Pattern {
                    self.pattern_count.fetch_sub(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// Publishes on a channel (or shard channel). `from` is the publishing client, if any.
    pub fn publish(
        &self,
        kind: Kind,
        channel: &[u8],
        message: &[u8],
        from: Option<u64>,
        limit: BufferLimit,
    ) -> Delivery {
        let mut d = Delivery {
            receivers: 0,
            own_copy: Vec::new(),
        };
        let mut frames = Frames::default();
        let word: &[u8] = if kind == Kind::Shard {
            b"smessage"
        } else {
            b"message"
        };
        if let Some(list) = self.registry(kind).read().get(channel) {
            for c in list {
                let frame = frames.get(c.resp_is_3(), |out, resp3| {
                    encode(out, resp3, word, None, channel, message)
                });
                deliver(c, frame, from, limit, &mut d);
            }
        }
        if kind == Kind::Channel && self.pattern_count.load(Ordering::Relaxed) > 0 {
            for (pattern, list) in self.patterns.read().iter() {
                if !glob::matches(pattern, channel, false) {
                    continue;
                }
                let mut pframes = Frames::default();
                for c in list {
                    let frame = pframes.get(c.resp_is_3(), |out, resp3| {
                        encode(out, resp3, b"pmessage", Some(pattern), channel, message)
                    });
                    deliver(c, frame, from, limit, &mut d);
                }
            }
        }
        d
    }

    /// Channels (or shard channels) with at least one subscriber, optionally matching.
    pub fn active(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<Vec<u8>> {
        self.registry(kind)
            .read()
            .keys()
            .filter(|c| pattern.is_none_or(|p| glob::matches(p, c, false)))
            .cloned()
            .collect()
    }

    /// Number of subscribers of a channel.
    pub fn subscribers(&self, kind: Kind, name: &[u8]) -> usize {
        self.registry(kind).read().get(name).map_or(0, Vec::len)
    }

    /// Number of distinct patterns subscribed.
    pub fn pattern_total(&self) -> usize {
        self.pattern_count.load(Ordering::Relaxed)
    }
}

/// A message encoded at most once per protocol version.
#[derive(Default)]
struct Frames {
    resp2: Option<Vec<u8>>,
    resp3: Option<Vec<u8>>,
}

impl Frames {
    fn get(&mut self, resp3: bool, build: impl FnOnce(&mut Vec<u8>, bool)) -> &[u8] {
        let slot = if resp3 {
            &mut self.resp3
        } else {
            &mut self.resp2
        };
        slot.get_or_insert_with(|| {
            let mut out = Vec::new();
            build(&mut out, resp3);
            out
        })
    }
}

fn deliver(
    c: &Arc<ClientInfo>,
    frame: &[u8],
    from: Option<u64>,
    limit: BufferLimit,
    d: &mut Delivery,
) {
    d.receivers += 1;
    if Some(c.id) == from {
        d.own_copy.extend_from_slice(frame);
    } else {
        c.push_out_limited(frame, limit);
    }
}

/// Encodes `[kind, (pattern,) channel, message]` as a RESP2 array or RESP3 push.
fn encode(
    out: &mut Vec<u8>,
    resp3: bool,
    kind: &[u8],
    pattern: Option<&[u8]>,
    channel: &[u8],
    message: &[u8],
) {
    let n = if pattern.is_some() { 4 } else { 3 };
    out.push(if resp3 { b'>' } else { b'*' });
    out.extend_from_slice(format!("{n}\r\n").as_bytes());
    for part in [Some(kind), pattern, Some(channel), Some(message)]
        .into_iter()
        .flatten()
    {
        out.extend_from_slice(format!("${}\r\n", part.len()).as_bytes());
        out.extend_from_slice(part);
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(id: u64) -> Arc<ClientInfo> {
        Arc::new(ClientInfo::new(
            id,
            "127.0.0.1:1".into(),
            "127.0.0.1:2".into(),
            -1,
            0,
        ))
    }

    #[test]
    fn channels_patterns_and_own_copy() {
        let ps = PubSub::new();
        let (a, b) = (client(1), client(2));
        ps.subscribe(Kind::Channel, b"news", &a);
        ps.subscribe(Kind::Pattern, b"n*", &b);
        ps.subscribe(Kind::Pattern, b"x*", &a);
        let d = ps.publish(
            Kind::Channel,
            b"news",
            b"hi",
            Some(1),
            BufferLimit::default(),
        );
        assert_eq!(d.receivers, 2);
        assert_eq!(
            d.own_copy,
            b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
        );
        assert_eq!(
            b.take_out(),
            b"*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
        );
        ps.unsubscribe(Kind::Pattern, b"n*", 2);
        assert_eq!(ps.pattern_total(), 1);
        assert_eq!(
            ps.active(Kind::Channel, Some(b"n*")),
            vec![b"news".to_vec()]
        );
    }
}
