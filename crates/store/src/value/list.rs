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
    /// `start > end` or `start` is past the end. Costs O(removed).
    pub fn keep_range(&mut self, start: usize, end: usize) {
        if start > end || start >= self.items.len() {
            self.items.clear();
            self.bytes = 0;
            return;
        }
        let end = end.min(self.items.len() - 1);
        let removed: usize = self.items.drain(end + 1..).map(|v| cost(&v)).sum::<usize>()
            + self.items.drain(..start).map(|v| cost(&v)).sum::<usize>();
        self.bytes -= removed;
    }

    /// The elements at positions `start..=end` (both in range, `start <=
    /// end`), reached in O(1) from either end.
    pub fn range(&self, start: usize, end: usize) -> impl DoubleEndedIterator<Item = &Bytes> + ExactSizeIterator {
        self.items.range(start..=end)
    }

    /// Removes up to `limit` elements equal to `v` (0 = every one), the
    /// ones nearest the tail when `from_tail` (LREM with a negative count).
    /// Returns how many were removed. One pass, O(len).
    pub fn remove_matching(&mut self, v: &[u8], limit: usize, from_tail: bool) -> usize {
        let matches = self.items.iter().filter(|x| x.as_ref() == v).count();
        let remove = if limit == 0 { matches } else { matches.min(limit) };
        if remove == 0 {
            return 0;
        }
        // Matches are numbered front to back; remove numbers `first..first+remove`.
        let first = if from_tail { matches - remove } else { 0 };
        let mut n = 0;
        self.items.retain(|x| {
            if x.as_ref() != v {
                return true;
            }
            n += 1;
            !(first < n && n <= first + remove)
        });
        self.bytes -= remove * cost(v);
        remove
    }

    /// Keeps the elements for which `keep` returns true (O(n), for LREM).
    pub fn retain(&mut self, mut keep: impl FnMut(&Bytes) -> bool) {
        self.items.retain(|v| keep(v));
        self.bytes = self.items.iter().map(|v| cost(v)).sum();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The running count must always equal a recount from scratch.
    fn check(l: &ListValue) {
        assert_eq!(l.mem(), l.iter().map(|v| cost(v)).sum::<usize>());
    }

    fn list(items: &[&str]) -> ListValue {
        let mut l = ListValue::new();
        for i in items {
            l.push_back(i.as_bytes());
        }
        check(&l);
        l
    }

    fn items(l: &ListValue) -> Vec<&[u8]> {
        l.iter().map(|v| v.as_ref()).collect()
    }

    #[test]
    fn pushes_pops_and_sets_keep_the_count() {
        let mut l = list(&["b", "cc"]);
        l.push_front(b"a");
        l.push_back_owned(Bytes::from_static(b"dddd"));
        check(&l);
        assert!(l.set(1, b"bbbbbbb"));
        assert!(!l.set(9, b"x"));
        check(&l);
        assert_eq!(l.pop_front().as_deref(), Some(&b"a"[..]));
        assert_eq!(l.pop_back().as_deref(), Some(&b"dddd"[..]));
        check(&l);
        l.insert(1, b"mid");
        assert_eq!(items(&l), vec![&b"bbbbbbb"[..], b"mid", b"cc"]);
        assert_eq!(l.remove(0).as_deref(), Some(&b"bbbbbbb"[..]));
        check(&l);
        while l.pop_front().is_some() {}
        assert_eq!(l.mem(), 0);
    }

    #[test]
    fn keep_range_trims_both_ends() {
        let mut l = list(&["a", "bb", "ccc", "dddd", "e"]);
        l.keep_range(1, 3);
        assert_eq!(items(&l), vec![&b"bb"[..], b"ccc", b"dddd"]);
        check(&l);
        l.keep_range(0, 100);
        assert_eq!(l.len(), 3);
        check(&l);
        l.keep_range(2, 1);
        assert!(l.is_empty());
        assert_eq!(l.mem(), 0);
        let mut l = list(&["a", "b"]);
        l.keep_range(5, 9);
        assert!(l.is_empty());
        assert_eq!(l.mem(), 0);
    }

    #[test]
    fn range_reads_a_window() {
        let l = list(&["a", "b", "c", "d"]);
        let got: Vec<_> = l.range(1, 2).map(|v| v.as_ref()).collect();
        assert_eq!(got, vec![&b"b"[..], b"c"]);
        assert_eq!(l.range(3, 3).len(), 1);
    }

    #[test]
    fn remove_matching_from_either_end() {
        let mut l = list(&["x", "a", "x", "b", "x", "x"]);
        assert_eq!(l.remove_matching(b"x", 2, false), 2);
        assert_eq!(items(&l), vec![&b"a"[..], b"b", b"x", b"x"]);
        check(&l);
        let mut l = list(&["x", "a", "x", "b", "x"]);
        assert_eq!(l.remove_matching(b"x", 2, true), 2);
        assert_eq!(items(&l), vec![&b"x"[..], b"a", b"b"]);
        check(&l);
        assert_eq!(l.remove_matching(b"nope", 0, false), 0);
        assert_eq!(l.remove_matching(b"x", 0, true), 1);
        assert_eq!(items(&l), vec![&b"a"[..], b"b"]);
        check(&l);
        l.retain(|v| v.as_ref() != b"a");
        check(&l);
    }
}
