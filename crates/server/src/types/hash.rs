//! Hashes: a listpack of alternating fields and values while small, a hash table of
//! field/value pairs once `hash-max-listpack-entries` or `hash-max-listpack-value` is exceeded.

use super::listpack::{Listpack, Lp};
use crate::keyspace::bytes::CompactBytes;
use crate::keyspace::dict::{Dict, Keyed};

/// One field of a hash-table-encoded hash.
#[derive(Debug, Clone)]
pub struct FieldValue {
    pub field: CompactBytes,
    pub value: CompactBytes,
}

impl Keyed for FieldValue {
    fn key(&self) -> &[u8] {
        self.field.as_slice()
    }
}

#[derive(Debug, Clone)]
pub enum Hash {
    Listpack(Listpack),
    Table(Box<Dict<FieldValue>>),
}

impl Default for Hash {
    fn default() -> Self {
        Hash::Listpack(Listpack::empty())
    }
}

impl Hash {
    pub fn len(&self) -> usize {
        match self {
            Hash::Listpack(lp) => Lp(lp.as_slice()).len() / 2,
            Hash::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Hash::Listpack(_) => "listpack",
            Hash::Table(_) => "hashtable",
        }
    }

    pub fn heap_bytes(&self) -> usize {
        match self {
            Hash::Listpack(lp) => lp.heap_bytes(),
            Hash::Table(t) => {
                t.overhead_bytes()
                    + t.iter()
                        .map(|f| f.field.heap_bytes() + f.value.heap_bytes())
                        .sum::<usize>()
            }
        }
    }
}
