//! Sets: an intset while every member is an integer and there are at most
//! `set-max-intset-entries` of them, a hash table of members otherwise.

use super::intset::{IntSet, Is};
use crate::keyspace::bytes::CompactBytes;
use crate::keyspace::dict::{Dict, Keyed};

/// One member of a hash-table-encoded set.
#[derive(Debug, Clone)]
pub struct Member(pub CompactBytes);

impl Keyed for Member {
    fn key(&self) -> &[u8] {
        self.0.as_slice()
    }
}

#[derive(Debug, Clone)]
pub enum Set {
    Intset(IntSet),
    Table(Box<Dict<Member>>),
}

impl Default for Set {
    fn default() -> Self {
        Set::Intset(IntSet::empty())
    }
}

impl Set {
    pub fn len(&self) -> usize {
        match self {
            Set::Intset(is) => Is(is.as_slice()).len(),
            Set::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Set::Intset(_) => "intset",
            Set::Table(_) => "hashtable",
        }
    }

    pub fn heap_bytes(&self) -> usize {
        match self {
            Set::Intset(is) => is.heap_bytes(),
            Set::Table(t) => t.overhead_bytes() + t.iter().map(|m| m.0.heap_bytes()).sum::<usize>(),
        }
    }
}
