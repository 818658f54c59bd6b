//! Lists: a quicklist, i.e. a doubly linked sequence of listpack nodes, each holding up to
//! `list-max-listpack-size` entries (positive) or bytes (negative: -1 = 4 KiB ... -5 = 64 KiB).

use std::collections::VecDeque;

use super::listpack::{self, Listpack, Lp};

/// A list. Nodes are listpacks; the deque gives O(1) access to both ends.
#[derive(Debug, Default, Clone)]
pub struct QuickList {
    pub nodes: VecDeque<Listpack>,
    /// Total entries over all nodes.
    pub len: usize,
}

impl QuickList {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    pub fn heap_bytes(&self) -> usize {
        self.nodes.iter().map(|n| n.heap_bytes() + 8).sum::<usize>() + 48
    }

    /// Appends at the tail (minimal version; node sizing arrives with the list work).
    pub fn push_back(&mut self, value: &[u8]) {
        if self.nodes.is_empty() {
            self.nodes.push_back(Listpack::empty());
        }
        let node = self.nodes.back_mut().expect("a node exists");
        node.edit(|v| listpack::push_back(v, value));
        self.len += 1;
    }

    pub fn iter(&self) -> impl Iterator<Item = listpack::Entry<'_>> {
        self.nodes.iter().flat_map(|n| Lp(n.as_slice()).iter())
    }
}
