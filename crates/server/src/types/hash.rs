//! Hashes. (Compact listpack encoding arrives with the data-types work.)

use crate::keyspace::bytes::CompactBytes;

#[derive(Debug, Default, Clone)]
pub struct Hash {
    pub fields: Vec<(CompactBytes, CompactBytes)>,
}

impl Hash {
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    pub fn encoding(&self) -> &'static str {
        "hashtable"
    }
}
