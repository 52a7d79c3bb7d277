//! Sets, in insertion order with O(1) random access (SSCAN, SPOP, SRANDMEMBER).

use bytes::Bytes;

use super::ELEMENT_OVERHEAD;
use crate::hasher::IndexSet;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SetValue {
    set: IndexSet<Bytes>,
    bytes: usize,
}

impl SetValue {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.set.len()
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    pub(crate) fn mem(&self) -> usize {
        self.bytes
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        self.set.contains(member)
    }

    /// Adds a copy of `member`, returning whether it is new.
    pub fn insert(&mut self, member: &[u8]) -> bool {
        if self.set.contains(member) {
            return false;
        }
        self.bytes += member.len() + ELEMENT_OVERHEAD;
        self.set.insert(Bytes::copy_from_slice(member))
    }

    /// Adds an already-owned member (e.g. one taken from another stored set).
    pub fn insert_owned(&mut self, member: Bytes) -> bool {
        let len = member.len();
        let added = self.set.insert(member);
        if added {
            self.bytes += len + ELEMENT_OVERHEAD;
        }
        added
    }

    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self.set.swap_remove_full(member) {
            Some((_, m)) => {
                self.bytes -= m.len() + ELEMENT_OVERHEAD;
                true
            }
            None => false,
        }
    }

    /// Removes and returns the member at position `i`.
    pub fn remove_index(&mut self, i: usize) -> Option<Bytes> {
        let m = self.set.swap_remove_index(i)?;
        self.bytes -= m.len() + ELEMENT_OVERHEAD;
        Some(m)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Bytes> {
        self.set.iter()
    }

    pub fn get_index(&self, i: usize) -> Option<&Bytes> {
        self.set.get_index(i)
    }
}
