//! Hashes: field → value, in insertion order with O(1) random access, which
//! HSCAN cursors and HRANDFIELD rely on.

use bytes::Bytes;

use super::ELEMENT_OVERHEAD;
use crate::hasher::IndexMap;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct HashValue {
    map: IndexMap<Bytes, Bytes>,
    bytes: usize,
}

impl HashValue {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub(crate) fn mem(&self) -> usize {
        self.bytes
    }

    pub fn get(&self, field: &[u8]) -> Option<&Bytes> {
        self.map.get(field)
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.map.contains_key(field)
    }

    /// Sets `field` (copying both), returning whether it is new.
    pub fn insert(&mut self, field: &[u8], value: &[u8]) -> bool {
        match self.map.get_mut(field) {
            Some(old) => {
                self.bytes = self.bytes - old.len() + value.len();
                *old = Bytes::copy_from_slice(value);
                false
            }
            None => {
                self.bytes += field.len() + value.len() + ELEMENT_OVERHEAD;
                self.map.insert(Bytes::copy_from_slice(field), Bytes::copy_from_slice(value));
                true
            }
        }
    }

    /// Removes `field`, returning whether it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self.map.swap_remove_full(field) {
            Some((_, k, v)) => {
                self.bytes -= k.len() + v.len() + ELEMENT_OVERHEAD;
                true
            }
            None => false,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Bytes, &Bytes)> {
        self.map.iter()
    }

    /// The pair at position `i` (0 ≤ i < len), for sampling and cursors.
    pub fn get_index(&self, i: usize) -> Option<(&Bytes, &Bytes)> {
        self.map.get_index(i)
    }
}
