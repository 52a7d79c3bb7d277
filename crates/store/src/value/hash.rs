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

#[cfg(test)]
mod tests {
    use super::*;

    /// The running count must always equal a recount from scratch.
    fn check(h: &HashValue) {
        let recount: usize = h.iter().map(|(k, v)| k.len() + v.len() + ELEMENT_OVERHEAD).sum();
        assert_eq!(h.mem(), recount);
    }

    #[test]
    fn insert_replace_remove_keep_the_count() {
        let mut h = HashValue::new();
        assert!(h.insert(b"f1", b"v"));
        assert!(h.insert(b"field2", b"value2"));
        check(&h);
        assert!(!h.insert(b"f1", b"a much longer value"));
        assert_eq!(h.get(b"f1").map(|v| v.as_ref()), Some(&b"a much longer value"[..]));
        check(&h);
        assert!(!h.insert(b"f1", b""));
        check(&h);
        assert!(h.remove(b"f1"));
        assert!(!h.remove(b"f1"));
        check(&h);
        assert!(h.remove(b"field2"));
        assert!(h.is_empty());
        assert_eq!(h.mem(), 0);
    }

    #[test]
    fn removal_moves_the_last_pair_into_the_hole() {
        // HSCAN's descending cursor relies on this: a pair only ever moves
        // from the last position to a lower one.
        let mut h = HashValue::new();
        for f in ["a", "b", "c", "d"] {
            h.insert(f.as_bytes(), b"1");
        }
        h.remove(b"b");
        let order: Vec<_> = (0..h.len()).map(|i| h.get_index(i).unwrap().0.as_ref()).collect();
        assert_eq!(order, vec![&b"a"[..], b"d", b"c"]);
        assert!(h.get_index(3).is_none());
    }
}
