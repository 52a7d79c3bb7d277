//! A shard's table: keys to values with O(1) lookup *and* O(1) access by
//! position, like `IndexMap`, without its memory overhead.
//!
//! Layout: the entries `(Key, V)` live in fixed-size chunks of [`CHUNK`]
//! entries (position `i` is entry `i % CHUNK` of chunk `i / CHUNK`), and a
//! `hashbrown::HashTable<u32>` maps a key's hash to its position: 4 bytes
//! and one control byte per bucket. Compared with `IndexMap<Bytes, V>`:
//! no stored hash (the index is rebuilt from the keys when it grows), keys
//! inline in the entry, and no entries vector that doubles: a new chunk is
//! allocated when the last one is full, so the slack is at most one chunk
//! (where `IndexMap` grows its vector to the index's capacity, up to twice
//! the entries right after a doubling).
//!
//! Invariants (the contract SCAN cursors and random sampling rely on, the
//! same as `IndexMap`'s):
//! - Positions are exactly `0..len`; every position holds one entry, and
//!   the index holds exactly one bucket per entry, with its position.
//! - Inserting appends at position `len`.
//! - Removing the entry at `i` moves the *last* entry into `i`
//!   (`swap_remove`); no other entry moves.
//! - Every chunk but the last is full; the last is never empty.

use hashbrown::HashTable;

use crate::hasher::XxhBuild;
use crate::key::Key;

/// log2 of the entries per chunk. Small under test, so that the tests
/// cross chunk boundaries.
const CHUNK_SHIFT: u32 = if cfg!(test) { 2 } else { 9 };
/// Entries per chunk.
pub(crate) const CHUNK: usize = 1 << CHUNK_SHIFT;
const CHUNK_MASK: usize = CHUNK - 1;

#[derive(Debug, Clone)]
pub(crate) struct Table<V> {
    index: HashTable<u32>,
    chunks: Vec<Vec<(Key, V)>>,
    len: usize,
    build: XxhBuild,
}

impl<V> Default for Table<V> {
    fn default() -> Self {
        Table { index: HashTable::new(), chunks: Vec::new(), len: 0, build: XxhBuild::default() }
    }
}

impl<V> Table<V> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Buckets in the index (entries it can hold before growing).
    pub fn capacity(&self) -> usize {
        self.index.capacity()
    }

    #[inline]
    fn slot(&self, i: usize) -> &(Key, V) {
        &self.chunks[i >> CHUNK_SHIFT][i & CHUNK_MASK]
    }

    #[inline]
    fn slot_mut(&mut self, i: usize) -> &mut (Key, V) {
        &mut self.chunks[i >> CHUNK_SHIFT][i & CHUNK_MASK]
    }

    /// The hash the index files `key` under.
    #[inline]
    pub fn hash(&self, key: &[u8]) -> u64 {
        self.build.hash_bytes(key)
    }

    /// The position of `key`.
    #[inline]
    pub fn get_index_of(&self, key: &[u8]) -> Option<usize> {
        self.get_index_of_hashed(key, self.hash(key))
    }

    /// The position of `key`, whose [`hash`](Self::hash) the caller has.
    #[inline]
    pub fn get_index_of_hashed(&self, key: &[u8], hash: u64) -> Option<usize> {
        debug_assert_eq!(hash, self.hash(key), "wrong hash for the key");
        let chunks = &self.chunks;
        self.index
            .find(hash, |&i| chunks[i as usize >> CHUNK_SHIFT][i as usize & CHUNK_MASK].0.as_bytes() == key)
            .map(|&i| i as usize)
    }

    #[cfg(test)]
    pub fn get(&self, key: &[u8]) -> Option<&V> {
        self.get_index_of(key).map(|i| &self.slot(i).1)
    }

    pub fn get_index(&self, i: usize) -> Option<(&Key, &V)> {
        (i < self.len).then(|| {
            let (k, v) = self.slot(i);
            (k, v)
        })
    }

    pub fn get_index_mut(&mut self, i: usize) -> Option<(&Key, &mut V)> {
        (i < self.len).then(|| {
            let (k, v) = self.slot_mut(i);
            (&*k, v)
        })
    }

    #[cfg(test)]
    /// Appends `key`, which must not be present, returning its position.
    pub fn insert_unique(&mut self, key: &[u8], value: V) -> usize {
        self.insert_unique_hashed(key, self.hash(key), value)
    }

    /// Appends `key`, which must not be present and whose
    /// [`hash`](Self::hash) the caller has, returning its position.
    pub fn insert_unique_hashed(&mut self, key: &[u8], hash: u64, value: V) -> usize {
        debug_assert_eq!(hash, self.hash(key), "wrong hash for the key");
        debug_assert!(self.get_index_of(key).is_none(), "key already present");
        let i = self.len;
        let pos = u32::try_from(i).expect("a shard holds fewer than 2^32 keys");
        let (chunks, build) = (&self.chunks, &self.build);
        self.index.insert_unique(hash, pos, |&j| {
            build.hash_bytes(chunks[j as usize >> CHUNK_SHIFT][j as usize & CHUNK_MASK].0.as_bytes())
        });
        self.push_slot((Key::new(key), value));
        i
    }

    // The shard finds a position first and works by position; these
    // complete the `IndexMap`-like contract the model test checks.
    #[cfg(test)]
    /// Inserts or replaces: the position and the value replaced, if any.
    pub fn insert_full(&mut self, key: &[u8], value: V) -> (usize, Option<V>) {
        match self.get_index_of(key) {
            Some(i) => (i, Some(std::mem::replace(&mut self.slot_mut(i).1, value))),
            None => (self.insert_unique(key, value), None),
        }
    }

    fn push_slot(&mut self, slot: (Key, V)) {
        if self.chunks.last().is_none_or(|c| c.len() == CHUNK) {
            self.chunks.push(Vec::new());
        }
        let last = self.chunks.last_mut().expect("a chunk was just ensured");
        if last.len() == last.capacity() {
            // Grow by doubling up to one chunk, never past it.
            let want = (last.capacity() * 2).clamp(4, CHUNK);
            last.reserve_exact(want - last.len());
        }
        last.push(slot);
        self.len += 1;
    }

    fn pop_slot(&mut self) -> (Key, V) {
        let last = self.chunks.last_mut().expect("the table is not empty");
        let slot = last.pop().expect("the last chunk is never empty");
        if last.is_empty() {
            self.chunks.pop();
        }
        self.len -= 1;
        slot
    }

    /// Points the index bucket of the entry at `from` to `to`.
    fn repoint(&mut self, from: usize, to: usize) {
        let hash = self.build.hash_bytes(self.slot(from).0.as_bytes());
        let bucket = self.index.find_mut(hash, |&j| j as usize == from).expect("every entry is indexed");
        *bucket = to as u32;
    }

    /// Removes the entry at `i`, moving the last entry into its place.
    pub fn swap_remove_index(&mut self, i: usize) -> Option<(Key, V)> {
        if i >= self.len {
            return None;
        }
        let hash = self.build.hash_bytes(self.slot(i).0.as_bytes());
        let Ok(bucket) = self.index.find_entry(hash, |&j| j as usize == i) else {
            unreachable!("every entry is indexed");
        };
        bucket.remove();
        Some(self.fill_hole(i))
    }

    #[cfg(test)]
    /// Removes `key`, moving the last entry into its place: its former
    /// position and entry.
    pub fn swap_remove_full(&mut self, key: &[u8]) -> Option<(usize, Key, V)> {
        let hash = self.build.hash_bytes(key);
        let chunks = &self.chunks;
        let bucket = self
            .index
            .find_entry(hash, |&i| chunks[i as usize >> CHUNK_SHIFT][i as usize & CHUNK_MASK].0.as_bytes() == key)
            .ok()?;
        let (i, _) = bucket.remove();
        let i = i as usize;
        let (k, v) = self.fill_hole(i);
        Some((i, k, v))
    }

    #[cfg(test)]
    pub fn swap_remove(&mut self, key: &[u8]) -> Option<V> {
        self.swap_remove_full(key).map(|(_, _, v)| v)
    }

    /// Takes the entry at `i`, whose bucket is already gone, out of the
    /// entries, moving the last entry (and its bucket) into the hole.
    fn fill_hole(&mut self, i: usize) -> (Key, V) {
        let last = self.len - 1;
        if i != last {
            self.repoint(last, i);
        }
        let tail = self.pop_slot();
        if i == last {
            tail
        } else {
            std::mem::replace(self.slot_mut(i), tail)
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Key, &V)> {
        self.chunks.iter().flatten().map(|(k, v)| (k, v))
    }

    /// Gives back index memory beyond what `min` entries (at least `len`)
    /// need, and the last chunk's slack.
    pub fn shrink_to(&mut self, min: usize) {
        let (chunks, build) = (&self.chunks, &self.build);
        self.index.shrink_to(min.max(self.len), |&j| {
            build.hash_bytes(chunks[j as usize >> CHUNK_SHIFT][j as usize & CHUNK_MASK].0.as_bytes())
        });
        if let Some(last) = self.chunks.last_mut() {
            last.shrink_to_fit();
        }
        self.chunks.shrink_to_fit();
    }

    #[cfg(test)]
    fn check_invariants(&self) {
        assert_eq!(self.index.len(), self.len);
        assert_eq!(self.chunks.iter().map(Vec::len).sum::<usize>(), self.len);
        for (n, c) in self.chunks.iter().enumerate() {
            assert!(c.capacity() <= CHUNK);
            if n + 1 < self.chunks.len() {
                assert_eq!(c.len(), CHUNK);
            } else {
                assert!(!c.is_empty());
            }
        }
        for i in 0..self.len {
            assert_eq!(self.get_index_of(self.slot(i).0.as_bytes()), Some(i));
        }
    }
}

impl<V> std::ops::Index<usize> for Table<V> {
    type Output = V;
    fn index(&self, i: usize) -> &V {
        assert!(i < self.len, "position {i} out of range");
        &self.slot(i).1
    }
}

impl<V> std::ops::IndexMut<usize> for Table<V> {
    fn index_mut(&mut self, i: usize) -> &mut V {
        assert!(i < self.len, "position {i} out of range");
        &mut self.slot_mut(i).1
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::hasher::IndexMap;

    #[test]
    fn insert_get_and_swap_remove() {
        let mut t = Table::default();
        for i in 0..20u32 {
            assert_eq!(t.insert_unique(format!("k{i}").as_bytes(), i), i as usize);
        }
        t.check_invariants();
        assert_eq!(t.get(b"k7"), Some(&7));
        assert_eq!(t.get(b"nope"), None);
        // The last entry moves into the hole.
        assert_eq!(t.swap_remove(b"k3"), Some(3));
        assert_eq!(t.get_index(3).map(|(k, v)| (k.as_bytes(), *v)), Some((&b"k19"[..], 19)));
        assert_eq!(t.get_index_of(b"k19"), Some(3));
        t.check_invariants();
        // Removing the last entry moves nothing.
        let (k, v) = t.swap_remove_index(18).unwrap();
        assert_eq!((k.as_bytes(), v), (&b"k18"[..], 18));
        t.check_invariants();
        assert_eq!(t.insert_full(b"k7", 70), (7, Some(7)));
        assert_eq!(t.len(), 18);
        while !t.is_empty() {
            t.swap_remove_index(0);
            t.check_invariants();
        }
        assert!(t.chunks.is_empty());
    }

    #[test]
    fn long_keys_live_on_the_heap_and_still_match() {
        let mut t = Table::default();
        let long = vec![b'x'; 100];
        t.insert_unique(&long, 1);
        t.insert_unique(&long[..99], 2);
        assert_eq!(t.get(&long), Some(&1));
        assert_eq!(t.get(&long[..99]), Some(&2));
        assert!(t.get_index(0).unwrap().0.is_heap());
    }

    #[test]
    fn slack_is_at_most_one_chunk() {
        let mut t = Table::default();
        for i in 0..1000u32 {
            t.insert_unique(&i.to_be_bytes(), ());
            let cap: usize = t.chunks.iter().map(Vec::capacity).sum();
            assert!(cap - t.len() < CHUNK, "{cap} slots for {} entries", t.len());
        }
        t.shrink_to(0);
        t.check_invariants();
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u8, u32),
        Remove(u8),
        RemoveAt(usize),
        Get(u8),
        Shrink,
    }

    /// Keys from a small universe (so that operations collide), some
    /// longer than the inline size.
    fn key(k: u8) -> Vec<u8> {
        if k >= 32 {
            format!("a-long-key-that-is-stored-on-the-heap-{k}").into_bytes()
        } else {
            vec![k]
        }
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u8..40, any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
            2 => (0u8..40).prop_map(Op::Remove),
            2 => (0usize..48).prop_map(Op::RemoveAt),
            2 => (0u8..40).prop_map(Op::Get),
            1 => Just(Op::Shrink),
        ]
    }

    proptest! {
        /// The table behaves exactly as `IndexMap` (the model): same
        /// results, same positions after every operation.
        #[test]
        fn matches_indexmap(ops in prop::collection::vec(op(), 1..300)) {
            let mut t: Table<u32> = Table::default();
            let mut model: IndexMap<Vec<u8>, u32> = IndexMap::default();
            for op in ops {
                match op {
                    Op::Insert(k, v) => {
                        let k = key(k);
                        let (mi, mold) = model.insert_full(k.clone(), v);
                        prop_assert_eq!(t.insert_full(&k, v), (mi, mold));
                    }
                    Op::Remove(k) => {
                        let k = key(k);
                        let m = model.swap_remove_full(&k[..]).map(|(i, _, v)| (i, v));
                        prop_assert_eq!(t.swap_remove_full(&k).map(|(i, _, v)| (i, v)), m);
                    }
                    Op::RemoveAt(i) => {
                        let m = model.swap_remove_index(i);
                        let got = t.swap_remove_index(i).map(|(k, v)| (k.as_bytes().to_vec(), v));
                        prop_assert_eq!(got, m);
                    }
                    Op::Get(k) => {
                        let k = key(k);
                        prop_assert_eq!(t.get_index_of(&k), model.get_index_of(&k[..]));
                        prop_assert_eq!(t.get(&k), model.get(&k[..]));
                    }
                    Op::Shrink => t.shrink_to(0),
                }
                t.check_invariants();
                prop_assert_eq!(t.len(), model.len());
                for (i, (k, v)) in model.iter().enumerate() {
                    let (tk, tv) = t.get_index(i).expect("same length");
                    prop_assert_eq!((tk.as_bytes(), tv), (&k[..], v));
                    prop_assert_eq!(t[i], *v);
                }
                prop_assert!(t.get_index(model.len()).is_none());
                prop_assert_eq!(t.iter().count(), model.len());
            }
        }
    }
}
