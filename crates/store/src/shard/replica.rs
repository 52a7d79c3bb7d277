//! The replica side of a shard: applying another owner's version of a key,
//! and listing or streaming a slot's versions and states.
//!
//! Applying follows the version rule of docs/replication.md in one
//! operation: the stored state becomes the one with the larger stamp, and
//! the stored version becomes the merge (pointwise maximum) of both. It
//! never makes a local version and never journals: the state came from
//! elsewhere. Applying the same version twice changes nothing.

use bytes::Bytes;
use ringcache_version::{Order, Stamp, Version};

use super::{Shard, WriteVersion};
use crate::codec::Incoming;
use crate::codec::{self, StateRef};
use crate::digest;

/// What [`Shard::apply`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The incoming state won (larger stamp) and is stored now.
    Taken,
    /// The stored state won, and its version took in the incoming clock
    /// (a concurrent write: what LWW drops).
    Merged,
    /// Nothing changed: the stored version already covers the incoming
    /// one (or a flush of the slot does).
    Kept,
}

/// What [`Shard::apply_delta`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeltaApplied {
    /// Applied on its base: the entry holds the incoming version now.
    Taken,
    /// The stored version already covers the incoming one.
    Kept,
    /// The entry is not the delta's base (missing, another version, or
    /// another type): nothing changed, the whole value is needed.
    NeedFull,
}

/// What a slot's key holds now, for applying.
enum Current {
    Entry(usize),
    Tomb,
    Nothing,
}

impl Shard {
    /// Applies `incoming`, another owner's version of `key` with its
    /// `state`, at `now_ms`. A value that has already expired is taken as
    /// a tombstone: nothing is stored, but its version still counts.
    pub fn apply(&mut self, key: &[u8], incoming: Version, state: Incoming, now_ms: u64) -> Applied {
        self.clock_ms = now_ms;
        let slot = self.slot_of(key);
        if self.slot_floor(slot).is_some_and(|floor| incoming.stamp() <= floor) {
            return Applied::Kept;
        }
        let state = match state {
            Incoming::Value { expire_at_ms, .. } if expire_at_ms != 0 && expire_at_ms <= now_ms => Incoming::Tombstone,
            s => s,
        };
        let hash = self.hash(key);
        let current = match self.ks.map.get_index_of_hashed(key, hash) {
            Some(i) => Current::Entry(i),
            None if self.ks.tombs.contains_key(key) => Current::Tomb,
            None => Current::Nothing,
        };
        let stored = match current {
            Current::Entry(i) => Some(self.version_at(i)),
            Current::Tomb => self.ks.tombs.get(key).map(|t| t.version.clone()),
            Current::Nothing => None,
        };
        let (version, wins) = match &stored {
            Some(s) => {
                let merged = s.merge(&incoming);
                let wins = incoming.stamp() > s.stamp();
                if !wins && merged.compare(s) == Order::Equal {
                    return Applied::Kept;
                }
                (merged, wins)
            }
            None => (incoming, true),
        };
        if !wins {
            // Ours stays; only the clock grows (the stamp, so the digest,
            // does not change).
            match current {
                Current::Entry(i) => self.put_version_at(i, key, slot, &WriteVersion::Full(version)),
                Current::Tomb => self.put_tomb(key, slot, version, now_ms),
                Current::Nothing => unreachable!("nothing stored always loses"),
            }
            return Applied::Merged;
        }
        match state {
            Incoming::Value { value, expire_at_ms } => {
                let found = match current {
                    Current::Entry(i) => Some(i),
                    Current::Tomb => {
                        self.take_tomb(key, slot);
                        None
                    }
                    Current::Nothing => None,
                };
                let access = self.fresh_access(now_ms);
                let version = WriteVersion::Full(version);
                self.store(
                    key,
                    hash,
                    slot,
                    found,
                    value,
                    expire_at_ms,
                    &version,
                    access,
                    now_ms,
                    crate::invalidate::Cause::Replica,
                );
            }
            Incoming::Tombstone => {
                if let Current::Entry(i) = current {
                    self.remove_at(i, crate::invalidate::Cause::Replica);
                }
                if self.cfg.tombstone_grace_ms > 0 {
                    self.put_tomb(key, slot, version, now_ms);
                } else if matches!(current, Current::Tomb) {
                    self.take_tomb(key, slot);
                }
            }
        }
        Applied::Taken
    }

    /// Applies a delta (see `delta`): `op`, made by the command that wrote
    /// `incoming` on the value stamped `base`, is applied only if the live
    /// entry of `key` is exactly that value. Then the entry takes the merge
    /// of both versions (the incoming one, which dominates its base), as a
    /// replicated write: never journaled, notified as `Cause::Replica`.
    pub fn apply_delta(
        &mut self,
        key: &[u8],
        incoming: &Version,
        base: Stamp,
        op: &crate::delta::DeltaOp,
        now_ms: u64,
    ) -> DeltaApplied {
        self.clock_ms = now_ms;
        let slot = self.slot_of(key);
        if self.slot_floor(slot).is_some_and(|floor| incoming.stamp() <= floor) {
            return DeltaApplied::Kept;
        }
        let Some(i) = self.index_of(key).filter(|&i| !self.ks.map[i].is_expired(now_ms)) else {
            let covered = self
                .ks
                .tombs
                .get(key)
                .is_some_and(|t| matches!(t.version.compare(incoming), Order::Equal | Order::After));
            return if covered { DeltaApplied::Kept } else { DeltaApplied::NeedFull };
        };
        let stored = self.version_at(i);
        if matches!(stored.compare(incoming), Order::Equal | Order::After) {
            return DeltaApplied::Kept;
        }
        if stored.stamp() != base || !op.apply(self.ks.map[i].value_mut()) {
            return DeltaApplied::NeedFull;
        }
        let merged = stored.merge(incoming);
        if self.ks.map[i].value.is_empty_collection() {
            // The command emptied it, so it deleted the key there: the
            // same here, with its version on the tombstone.
            self.remove_at(i, crate::invalidate::Cause::Replica);
            if self.cfg.tombstone_grace_ms > 0 {
                self.put_tomb(key, slot, merged, now_ms);
            }
            return DeltaApplied::Taken;
        }
        let (k, e) = self.ks.map.get_index_mut(i).expect("index in range");
        let mem = super::entry_mem(k, &e.value);
        self.used = self.used - e.mem as usize + mem;
        e.mem = mem as u32;
        self.put_version_at(i, key, slot, &WriteVersion::Full(merged));
        self.signal(key, crate::invalidate::Cause::Replica);
        DeltaApplied::Taken
    }

    /// Appends the record of `key`'s state (entry or tombstone, with its
    /// version; see `codec`) to `out`; false (nothing appended) if it has
    /// neither or its entry has expired.
    pub fn encode_key(&self, key: &[u8], now_ms: u64, out: &mut Vec<u8>) -> bool {
        match self.index_of(key) {
            Some(i) => {
                let e = &self.ks.map[i];
                if e.is_expired(now_ms) {
                    return false;
                }
                let state = StateRef::Value { value: &e.value, expire_at_ms: e.expire_at_ms };
                codec::encode(key, &self.version_at(i), state, out);
                true
            }
            None => match self.ks.tombs.get(key) {
                Some(t) => {
                    codec::encode(key, &t.version, StateRef::Tombstone, out);
                    true
                }
                None => false,
            },
        }
    }

    /// `key`'s version and whether it holds a value, whose state
    /// [`codec::encode_state`] then appends to `out`: what a write
    /// replicates. A deleted (tombstone) or expired key answers `false`
    /// and appends nothing; `None` if the key has no version at all.
    pub fn key_state(&self, key: &[u8], now_ms: u64, out: &mut Vec<u8>) -> Option<(Version, bool)> {
        match self.index_of(key) {
            Some(i) => {
                let e = &self.ks.map[i];
                if e.is_expired(now_ms) {
                    return Some((self.version_at(i), false));
                }
                codec::encode_state(StateRef::Value { value: &e.value, expire_at_ms: e.expire_at_ms }, out);
                Some((self.version_at(i), true))
            }
            None => self.ks.tombs.get(key).map(|t| (t.version.clone(), false)),
        }
    }

    /// Drops every entry and tombstone, in every database, of the slots
    /// `unowned` names: with no new version and no tombstone, as a copy
    /// that was never here. For a node that no longer owns those slots and
    /// has handed its copies to their owners: a copy kept would come back
    /// when the node owns the slot again, deleted keys included, once the
    /// owners have collected their tombstones. Returns how many entries
    /// and tombstones went. O(keys of the shard).
    pub fn purge_slots(&mut self, unowned: impl Fn(u16) -> bool) -> usize {
        let mut dropped = 0;
        self.each_database(|s| {
            // From the highest position down: a removal swaps the last
            // entry, already visited, into the hole.
            let mut i = s.ks.map.len();
            while i > 0 {
                i -= 1;
                let (k, _) = s.ks.map.get_index(i).expect("index in range");
                if unowned(ringcache_ring::slot(k)) {
                    s.remove_at(i, crate::invalidate::Cause::Local);
                    dropped += 1;
                }
            }
            let mut j = s.ks.tombs.len();
            while j > 0 {
                j -= 1;
                let (k, _) = s.ks.tombs.get_index(j).expect("index in range");
                if unowned(ringcache_ring::slot(k)) {
                    let (k, t) = s.ks.tombs.swap_remove_index(j).expect("index in range");
                    s.used -= crate::tomb::tomb_mem(&k, &t.version);
                    s.digest_swap(&k, ringcache_ring::slot(&k), Some(t.version.stamp()), None);
                    dropped += 1;
                }
            }
        });
        dropped
    }

    /// Pushes the (key hash, stamp) of every live entry and tombstone of
    /// `slot`, in every database, into `out`; the key hash is the digest's
    /// ([`crate::key_hash`]), the same on every node. Allocates nothing per
    /// key. O(keys of the shard): there is no index by slot.
    pub fn slot_hashes(&self, slot: u16, now_ms: u64, out: &mut Vec<(u64, Stamp)>) {
        let _ = self.local(slot);
        for db in self.databases() {
            let ks = self.keyspace(db).expect("a listed database");
            for (k, e) in ks.map.iter() {
                if !e.is_expired(now_ms) && ringcache_ring::slot(k) == slot {
                    out.push((digest::key_hash(db, k), e.stamp()));
                }
            }
            for (k, t) in &ks.tombs {
                if ringcache_ring::slot(k) == slot {
                    out.push((digest::key_hash(db, k), t.version.stamp()));
                }
            }
        }
    }

    /// One step of streaming `slot`: from `cursor` (0 = start), encodes
    /// records (see `codec`) of the slot's live entries, then its
    /// tombstones, database by database, into `out` with their database
    /// until they pass `max_bytes` (at least one record if any is left).
    /// Returns the cursor to continue from, 0 when the slot is done.
    pub fn slot_entries(
        &self,
        slot: u16,
        cursor: u64,
        max_bytes: usize,
        now_ms: u64,
        out: &mut Vec<(u16, Bytes)>,
    ) -> u64 {
        let mut bytes = 0;
        let mut buf = Vec::new();
        self.slot_walk(slot, cursor, now_ms, |db, key, version, state| {
            if bytes >= max_bytes {
                return false;
            }
            buf.clear();
            codec::encode(key, version, state, &mut buf);
            bytes += buf.len();
            out.push((db, Bytes::copy_from_slice(&buf)));
            true
        })
    }

    /// Walks `slot`'s live entries, then its tombstones, of each database
    /// in ascending order, from `cursor` (0 = start), handing each with
    /// its database to `visit` until it answers false (that entry is not
    /// taken: the walk resumes at it). Returns the cursor to continue
    /// from, 0 when the slot is done (a continuation is never 0).
    ///
    /// Like SCAN, positions are walked from the highest down, so a key
    /// present for the whole stream is visited at least once; a key written
    /// meanwhile may or may not be (replication sends it anyway).
    pub fn slot_walk(
        &self,
        slot: u16,
        cursor: u64,
        now_ms: u64,
        mut visit: impl FnMut(u16, &[u8], &Version, StateRef<'_>) -> bool,
    ) -> u64 {
        let _ = self.local(slot);
        let mut dbs = self.databases();
        dbs.sort_unstable();
        let at_db = (cursor >> STREAM_DB_SHIFT) as u16;
        let resume = cursor != 0;
        for db in dbs.into_iter().filter(|&d| d >= at_db) {
            let ks = self.keyspace(db).expect("a listed database");
            let (mut in_tombs, mut pos) = (false, ks.map.len());
            if resume && db == at_db {
                in_tombs = cursor & STREAM_TOMBS != 0;
                pos = (cursor & STREAM_POS) as usize;
            }
            let at = |tombs: bool, pos: usize| {
                u64::from(db) << STREAM_DB_SHIFT | if tombs { STREAM_TOMBS } else { 0 } | pos as u64
            };
            if !in_tombs {
                pos = pos.min(ks.map.len());
                while pos > 0 {
                    let (k, e) = ks.map.get_index(pos - 1).expect("index in range");
                    if !e.is_expired(now_ms) && ringcache_ring::slot(k) == slot {
                        let state = StateRef::Value { value: &e.value, expire_at_ms: e.expire_at_ms };
                        if !visit(db, k, &ks.version_at(pos - 1), state) {
                            return at(false, pos);
                        }
                    }
                    pos -= 1;
                }
                in_tombs = true;
                pos = ks.tombs.len();
            }
            debug_assert!(in_tombs);
            pos = pos.min(ks.tombs.len());
            while pos > 0 {
                let (k, t) = ks.tombs.get_index(pos - 1).expect("index in range");
                if ringcache_ring::slot(k) == slot && !visit(db, k, &t.version, StateRef::Tombstone) {
                    return at(true, pos);
                }
                pos -= 1;
            }
        }
        0
    }
}

/// In a `slot_walk` cursor: the walk has reached the tombstones.
const STREAM_TOMBS: u64 = 1 << 40;
/// In a `slot_walk` cursor: positions left to visit.
const STREAM_POS: u64 = STREAM_TOMBS - 1;
/// In a `slot_walk` cursor: the database, above this bit.
const STREAM_DB_SHIFT: u32 = 41;
