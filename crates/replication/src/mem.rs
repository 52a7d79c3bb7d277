//! [`MemReplica`]: the [`Replica`] in memory, for tests and simulations.
//!
//! It keeps each slot's entries in a `BTreeMap` by key, database first
//! (so the catch-up cursor is simply the last key sent) and each slot's digest up to date
//! on every change. Deltas are appends: `op` is appended to the value, the
//! simplest operation whose result depends on its base, so that applying
//! one on the wrong base would be caught by the simulation's convergence
//! check.
//!
//! Invariants: the digest of a slot is always the XOR of
//! [`entry_digest`] over its entries; a delta is applied only on exactly its
//! base stamp.

use std::collections::BTreeMap;
use std::ops::Bound;

use bytes::Bytes;
use ringcache_ring::SLOTS;
use ringcache_version::{NodeTag, Order, Stamp, Version};

use crate::message::{Change, DbKey, Effect, Entry, Outcome, State};
use crate::replica::{Chunk, Replica};

/// Dots older than this are pruned from a new version (the store's
/// `version-prune-ms`).
const PRUNE_MS: u64 = 60_000;

/// A local write, as a test's "command".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemOp {
    Set(Bytes),
    /// Append to the value; replicated as a delta when the key existed.
    Append(Bytes),
    Delete,
}

/// An in-memory keyspace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemReplica {
    slots: BTreeMap<u16, BTreeMap<DbKey, (Version, State)>>,
    /// Per slot, flat (allocated on the first write): anti-entropy reads
    /// every shared slot's digest each round.
    digests: Vec<u64>,
}

/// The digest contribution of one entry: a 64-bit hash of its key (with
/// its database) and stamp. FNV-1a then a SplitMix64 finaliser:
/// deterministic across runs and platforms, which a replayable simulation
/// needs.
pub fn entry_digest(key: &DbKey, stamp: Stamp) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let db_bytes = key.db.to_be_bytes();
    let stamp_bytes = stamp.hlc.as_u64().to_be_bytes();
    let writer_bytes = stamp.writer.get().to_be_bytes();
    for &b in db_bytes.iter().chain(key.name.iter()).chain(&stamp_bytes).chain(&writer_bytes) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= key.name.len() as u64;
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// The key hash anti-entropy lists ([`Replica::slot_hashes`]): FNV-1a of
/// the database and name, then the SplitMix64 finaliser.
pub fn key_hash(key: &DbKey) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in key.db.to_be_bytes().iter().chain(key.name.iter()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

impl MemReplica {
    pub fn new() -> MemReplica {
        MemReplica::default()
    }

    /// Number of entries, tombstones included.
    pub fn len(&self) -> usize {
        self.slots.values().map(BTreeMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every entry as (slot, key, version, state), in slot then key order.
    pub fn entries(&self) -> impl Iterator<Item = (u16, &DbKey, &Version, &State)> + '_ {
        self.slots.iter().flat_map(|(&slot, data)| data.iter().map(move |(k, (v, s))| (slot, k, v, s)))
    }

    /// A command run on this node as the coordinator: makes the new version
    /// on top of the stored one (the HLC rule), applies it here, and returns
    /// the effect to replicate.
    pub fn write(&mut self, slot: u16, key: &[u8], op: MemOp, writer: NodeTag, now_ms: u64) -> Effect {
        self.write_in(0, slot, key, op, writer, now_ms)
    }

    /// [`write`](Self::write) to a key of database `db`.
    pub fn write_in(&mut self, db: u16, slot: u16, key: &[u8], op: MemOp, writer: NodeTag, now_ms: u64) -> Effect {
        let key = DbKey::new(db, Bytes::copy_from_slice(key));
        let old = self.read(slot, &key);
        let version = match &old {
            Some((v, _)) => v.next(writer, now_ms, PRUNE_MS),
            None => Version::first(writer, now_ms),
        };
        let change = match (op, &old) {
            (MemOp::Set(v), _) => Change::Full(State::Value(v)),
            (MemOp::Delete, _) => Change::Full(State::Tombstone),
            (MemOp::Append(op), Some((base, _))) => Change::Delta { base: base.stamp(), op },
            (MemOp::Append(op), None) => Change::Full(State::Value(op)),
        };
        let effect = Effect { key, version, change };
        let outcome = self.apply(slot, &effect);
        assert_eq!(outcome, Outcome::Applied, "a local write builds on the stored version");
        effect
    }

    fn store(&mut self, slot: u16, key: DbKey, version: Version, state: State) {
        if self.digests.is_empty() {
            self.digests = vec![0; SLOTS];
        }
        let digest = &mut self.digests[usize::from(slot)];
        let data = self.slots.entry(slot).or_default();
        if let Some((old, _)) = data.get(&key) {
            *digest ^= entry_digest(&key, old.stamp());
        }
        *digest ^= entry_digest(&key, version.stamp());
        data.insert(key, (version, state));
    }
}

fn apply_op(base: &State, op: &[u8]) -> State {
    match base {
        State::Value(v) => {
            let mut out = Vec::with_capacity(v.len() + op.len());
            out.extend_from_slice(v);
            out.extend_from_slice(op);
            State::Value(out.into())
        }
        State::Tombstone => State::Value(Bytes::copy_from_slice(op)),
    }
}

impl Replica for MemReplica {
    fn apply(&mut self, slot: u16, effect: &Effect) -> Outcome {
        let incoming = &effect.version;
        let Some((stored, state)) = self.slots.get(&slot).and_then(|d| d.get(&effect.key)) else {
            return match &effect.change {
                Change::Full(state) => {
                    self.store(slot, effect.key.clone(), incoming.clone(), state.clone());
                    Outcome::Applied
                }
                Change::Delta { .. } => Outcome::NeedFull,
            };
        };
        match stored.compare(incoming) {
            Order::Equal | Order::After => return Outcome::Had,
            Order::Before | Order::Concurrent => {}
        }
        let new_state = match &effect.change {
            Change::Full(state) => state.clone(),
            Change::Delta { base, op } if *base == stored.stamp() => apply_op(state, op),
            Change::Delta { .. } => return Outcome::NeedFull,
        };
        let merged = stored.merge(incoming);
        // The merged version carries the value of the larger stamp: ours if
        // the incoming write lost a concurrent race.
        let state = if merged.stamp() == incoming.stamp() { new_state } else { state.clone() };
        self.store(slot, effect.key.clone(), merged, state);
        Outcome::Applied
    }

    fn read(&self, slot: u16, key: &DbKey) -> Option<(Version, State)> {
        self.slots.get(&slot)?.get(key).cloned()
    }

    fn slot_digest(&self, slot: u16) -> u64 {
        self.digests.get(usize::from(slot)).copied().unwrap_or(0)
    }

    fn slot_hashes(&self, slot: u16) -> Vec<(u64, Stamp)> {
        self.slots.get(&slot).map_or_else(Vec::new, |d| d.iter().map(|(k, (v, _))| (key_hash(k), v.stamp())).collect())
    }

    fn read_hashed(&self, slot: u16, hashes: &[u64]) -> Vec<Entry> {
        let Some(data) = self.slots.get(&slot) else { return Vec::new() };
        data.iter()
            .filter(|(k, _)| hashes.binary_search(&key_hash(k)).is_ok())
            .map(|(k, (version, state))| Entry { key: k.clone(), version: version.clone(), state: state.clone() })
            .collect()
    }

    fn slot_chunk(&self, slot: u16, cursor: &[u8], entries_max: usize, bytes_max: usize) -> Chunk {
        let Some(data) = self.slots.get(&slot) else { return Chunk::default() };
        // The cursor is the last key sent: its database (2 bytes, big
        // endian) and name, which sort as the keys do.
        let start = match cursor {
            [hi, lo, name @ ..] => {
                Bound::Excluded(DbKey::new(u16::from_be_bytes([*hi, *lo]), Bytes::copy_from_slice(name)))
            }
            _ => Bound::Unbounded,
        };
        let mut chunk = Chunk::default();
        let mut bytes = 0;
        for (key, (version, state)) in data.range((start, Bound::Unbounded)) {
            let entry = Entry { key: key.clone(), version: version.clone(), state: state.clone() };
            let len = entry.encoded_len();
            if !chunk.entries.is_empty() && (chunk.entries.len() >= entries_max || bytes + len > bytes_max) {
                chunk.next = chunk.entries.last().map(|e| {
                    let mut cursor = e.key.db.to_be_bytes().to_vec();
                    cursor.extend_from_slice(&e.key.name);
                    Bytes::from(cursor)
                });
                return chunk;
            }
            bytes += len;
            chunk.entries.push(entry);
        }
        chunk
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(n: u32) -> NodeTag {
        NodeTag::new(n).unwrap()
    }

    #[test]
    fn version_rule_is_idempotent_and_order_free() {
        let mut a = MemReplica::new();
        let e1 = a.write(1, b"k", MemOp::Set(Bytes::from_static(b"one")), tag(1), 1_000);
        let e2 = a.write(1, b"k", MemOp::Set(Bytes::from_static(b"two")), tag(1), 1_001);
        let mut b = MemReplica::new();
        assert_eq!(b.apply(1, &e2), Outcome::Applied);
        assert_eq!(b.apply(1, &e1), Outcome::Had);
        assert_eq!(b.apply(1, &e2), Outcome::Had);
        assert_eq!(a, b);
        assert_eq!(a.slot_digest(1), b.slot_digest(1));
    }

    #[test]
    fn concurrent_writes_keep_the_larger_stamp_everywhere() {
        let mut a = MemReplica::new();
        let mut b = MemReplica::new();
        let ea = a.write(2, b"k", MemOp::Set(Bytes::from_static(b"a")), tag(1), 5_000);
        let eb = b.write(2, b"k", MemOp::Set(Bytes::from_static(b"b")), tag(2), 5_000);
        a.apply(2, &eb);
        b.apply(2, &ea);
        let k = DbKey::new(0, &b"k"[..]);
        assert_eq!(a.read(2, &k).unwrap().1, b.read(2, &k).unwrap().1);
        assert_eq!(a.slot_digest(2), b.slot_digest(2));
    }

    #[test]
    fn a_delta_needs_exactly_its_base() {
        let mut a = MemReplica::new();
        let set = a.write(3, b"k", MemOp::Set(Bytes::from_static(b"x")), tag(1), 1);
        let append = a.write(3, b"k", MemOp::Append(Bytes::from_static(b"y")), tag(1), 2);
        assert!(matches!(append.change, Change::Delta { .. }));
        let mut b = MemReplica::new();
        assert_eq!(b.apply(3, &append), Outcome::NeedFull);
        assert_eq!(b.apply(3, &set), Outcome::Applied);
        assert_eq!(b.apply(3, &append), Outcome::Applied);
        assert_eq!(b.read(3, &DbKey::new(0, &b"k"[..])).unwrap().1, State::Value(Bytes::from_static(b"xy")));
    }

    #[test]
    fn chunks_page_through_a_slot_in_key_order() {
        let mut a = MemReplica::new();
        for i in 0..10u8 {
            a.write(4, &[b'k', i], MemOp::Set(Bytes::from(vec![i; 10])), tag(1), 1);
        }
        let mut cursor = Bytes::new();
        let mut seen = Vec::new();
        loop {
            let chunk = a.slot_chunk(4, &cursor, 3, 1 << 20);
            assert!(chunk.entries.len() <= 3);
            seen.extend(chunk.entries.iter().map(|e| e.key.clone()));
            match chunk.next {
                Some(next) => cursor = next,
                None => break,
            }
        }
        assert_eq!(seen.len(), 10);
        assert!(seen.windows(2).all(|w| w[0] < w[1]));
        // The byte budget, with one entry always returned.
        assert_eq!(a.slot_chunk(4, b"", 100, 1).entries.len(), 1);
    }
}
