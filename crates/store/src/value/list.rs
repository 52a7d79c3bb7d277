//! Lists: a ring buffer of elements, O(1) at both ends.

use std::collections::VecDeque;

use bytes::Bytes;

use super::ELEMENT_OVERHEAD;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListValue {
    items: VecDeque<Bytes>,
    bytes: usize,
}

fn cost(b: &[u8]) -> usize {
    b.len() + ELEMENT_OVERHEAD
}

impl ListValue {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub(crate) fn mem(&self) -> usize {
        self.bytes
    }

    pub fn push_front(&mut self, v: &[u8]) {
        self.bytes += cost(v);
        self.items.push_front(Bytes::copy_from_slice(v));
    }

    pub fn push_back(&mut self, v: &[u8]) {
        self.bytes += cost(v);
        self.items.push_back(Bytes::copy_from_slice(v));
    }

    /// Pushes an already-owned element (moved from another stored list).
    pub fn push_front_owned(&mut self, v: Bytes) {
        self.bytes += cost(&v);
        self.items.push_front(v);
    }

    pub fn push_back_owned(&mut self, v: Bytes) {
        self.bytes += cost(&v);
        self.items.push_back(v);
    }

    pub fn pop_front(&mut self) -> Option<Bytes> {
        let v = self.items.pop_front()?;
        self.bytes -= cost(&v);
        Some(v)
    }

    pub fn pop_back(&mut self) -> Option<Bytes> {
        let v = self.items.pop_back()?;
        self.bytes -= cost(&v);
        Some(v)
    }

    pub fn get(&self, i: usize) -> Option<&Bytes> {
        self.items.get(i)
    }

    /// Replaces the element at `i`; false if out of range.
    pub fn set(&mut self, i: usize, v: &[u8]) -> bool {
        match self.items.get_mut(i) {
            Some(old) => {
                self.bytes = self.bytes - old.len() + v.len();
                *old = Bytes::copy_from_slice(v);
                true
            }
            None => false,
        }
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Bytes> + ExactSizeIterator {
        self.items.iter()
    }

    /// Inserts a copy of `v` at position `i` (0 ≤ i ≤ len).
    pub fn insert(&mut self, i: usize, v: &[u8]) {
        self.bytes += cost(v);
        self.items.insert(i, Bytes::copy_from_slice(v));
    }

    /// Removes the element at `i`.
    pub fn remove(&mut self, i: usize) -> Option<Bytes> {
        let v = self.items.remove(i)?;
        self.bytes -= cost(&v);
        Some(v)
    }

    /// Keeps only positions `start..=end` (LTRIM); empties the list if
    /// `start > end`.
    pub fn keep_range(&mut self, start: usize, end: usize) {
        if start > end || start >= self.items.len() {
            self.items.clear();
            self.bytes = 0;
            return;
        }
        self.items.truncate(end + 1);
        self.items.drain(..start);
        self.bytes = self.items.iter().map(|v| cost(v)).sum();
    }

    /// Keeps the elements for which `keep` returns true (O(n), for LREM).
    pub fn retain(&mut self, mut keep: impl FnMut(&Bytes) -> bool) {
        self.items.retain(|v| keep(v));
        self.bytes = self.items.iter().map(|v| cost(v)).sum();
    }
}
