//! Lists. (Compact listpack/quicklist encodings arrive with the data-types work.)

use std::collections::VecDeque;

use crate::keyspace::bytes::CompactBytes;

#[derive(Debug, Default, Clone)]
pub struct List {
    pub items: VecDeque<CompactBytes>,
}

impl List {
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }
}
