//! Sorted sets: a listpack of alternating members and scores (in score order) while small,
//! a skip list ordered by (score, member) plus a member-to-score table once
//! `zset-max-listpack-entries` or `zset-max-listpack-value` is exceeded.

use super::listpack::{Listpack, Lp};

/// The large encoding. (The skip list arrives with the sorted-set work; until then the
/// members are kept sorted in a vector.)
#[derive(Debug, Default, Clone)]
pub struct SkipList {
    pub sorted: Vec<(f64, Vec<u8>)>,
}

#[derive(Debug, Clone)]
pub enum ZSet {
    Listpack(Listpack),
    SkipList(Box<SkipList>),
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet::Listpack(Listpack::empty())
    }
}

impl ZSet {
    pub fn len(&self) -> usize {
        match self {
            ZSet::Listpack(lp) => Lp(lp.as_slice()).len() / 2,
            ZSet::SkipList(s) => s.sorted.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            ZSet::Listpack(_) => "listpack",
            ZSet::SkipList(_) => "skiplist",
        }
    }

    pub fn heap_bytes(&self) -> usize {
        match self {
            ZSet::Listpack(lp) => lp.heap_bytes(),
            ZSet::SkipList(s) => s.sorted.iter().map(|(_, m)| 48 + m.len()).sum(),
        }
    }
}
