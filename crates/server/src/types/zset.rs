//! Sorted sets. (Compact listpack encoding and the skiplist arrive with the data-types work.)

use crate::keyspace::bytes::CompactBytes;

#[derive(Debug, Default, Clone)]
pub struct ZSet {
    pub members: Vec<(CompactBytes, f64)>,
}

impl ZSet {
    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn encoding(&self) -> &'static str {
        "skiplist"
    }
}
