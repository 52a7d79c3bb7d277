//! Sets, in insertion order with O(1) random access (SSCAN, SPOP, SRANDMEMBER).
//!
//! Removal swaps the last member into the hole (`swap_remove`), which is what
//! keeps positions dense for random picks, and what makes descending-position
//! cursors safe (see [`SetValue::scan`]).

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

    /// Removes `member`, returning the stored bytes, so that a move to another
    /// set (SMOVE) can reuse them instead of copying.
    pub fn take(&mut self, member: &[u8]) -> Option<Bytes> {
        let (_, m) = self.set.swap_remove_full(member)?;
        self.bytes -= m.len() + ELEMENT_OVERHEAD;
        Some(m)
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

    /// Visits up to `count` positions starting at `cursor` (0 = a fresh
    /// start), pushing the members that `keep` accepts into `out`. Returns the
    /// cursor to continue from, 0 when done.
    ///
    /// Positions are visited from the highest down, as `Shard::scan` does:
    /// a removal moves the last member into the hole, and that member has
    /// always been visited already, so a member present for the whole scan
    /// is never missed (it may be returned twice at worst).
    pub fn scan(
        &self,
        cursor: usize,
        count: usize,
        mut keep: impl FnMut(&[u8]) -> bool,
        out: &mut Vec<Bytes>,
    ) -> usize {
        let mut next = if cursor == 0 { self.set.len() } else { cursor.min(self.set.len()) };
        let mut visited = 0;
        while next > 0 && visited < count.max(1) {
            next -= 1;
            visited += 1;
            let m = &self.set[next];
            if keep(m) {
                out.push(m.clone());
            }
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cost(m: &[u8]) -> usize {
        m.len() + ELEMENT_OVERHEAD
    }

    #[test]
    fn byte_accounting_follows_every_change() {
        let mut s = SetValue::new();
        assert!(s.insert(b"a"));
        assert!(!s.insert(b"a"));
        assert!(s.insert_owned(Bytes::from_static(b"bcd")));
        assert!(!s.insert_owned(Bytes::from_static(b"bcd")));
        assert!(s.insert(b"ef"));
        assert_eq!(s.mem(), cost(b"a") + cost(b"bcd") + cost(b"ef"));
        assert!(s.remove(b"a"));
        assert!(!s.remove(b"a"));
        assert_eq!(s.mem(), cost(b"bcd") + cost(b"ef"));
        assert_eq!(s.take(b"bcd"), Some(Bytes::from_static(b"bcd")));
        assert_eq!(s.take(b"bcd"), None);
        assert_eq!(s.mem(), cost(b"ef"));
        assert_eq!(s.remove_index(0), Some(Bytes::from_static(b"ef")));
        assert_eq!(s.remove_index(0), None);
        assert_eq!(s.mem(), 0);
        assert!(s.is_empty());
    }

    #[test]
    fn scan_pages_through_every_member() {
        let mut s = SetValue::new();
        for i in 0..25 {
            s.insert(format!("m{i}").as_bytes());
        }
        let mut out = Vec::new();
        let mut cursor = 0;
        let mut rounds = 0;
        loop {
            cursor = s.scan(cursor, 4, |_| true, &mut out);
            rounds += 1;
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(rounds, 7, "25 members, 4 a round");
        out.sort();
        out.dedup();
        assert_eq!(out.len(), 25);

        let mut only = Vec::new();
        assert_eq!(s.scan(0, 100, |m| m.ends_with(b"1"), &mut only), 0);
        only.sort();
        assert_eq!(only, vec![Bytes::from("m1"), Bytes::from("m11"), Bytes::from("m21")]);
    }

    #[test]
    fn scan_never_misses_a_member_that_stays() {
        let mut s = SetValue::new();
        for i in 0..60 {
            s.insert(format!("m{i}").as_bytes());
        }
        let mut seen = Vec::new();
        let mut cursor = 0;
        let mut removed = 0;
        loop {
            cursor = s.scan(cursor, 5, |_| true, &mut seen);
            // Remove members here and there between calls.
            if removed < 10 {
                s.remove(format!("m{}", removed * 6).as_bytes());
                removed += 1;
            }
            if cursor == 0 {
                break;
            }
        }
        for i in (0..60).filter(|i| i % 6 != 0) {
            assert!(seen.iter().any(|m| m == format!("m{i}").as_bytes()), "m{i} missed");
        }
    }
}
