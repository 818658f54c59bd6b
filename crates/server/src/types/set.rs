//! Sets. (Compact intset/listpack encodings arrive with the data-types work.)

use crate::keyspace::bytes::CompactBytes;

#[derive(Debug, Default, Clone)]
pub struct Set {
    pub members: Vec<CompactBytes>,
}

impl Set {
    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn encoding(&self) -> &'static str {
        "hashtable"
    }
}
