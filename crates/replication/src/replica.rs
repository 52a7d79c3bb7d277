//! The keyspace, as replication needs it: the [`Replica`] trait.
//!
//! The server implements it over `ringcache-store`; [`MemReplica`](crate::MemReplica)
//! implements it in memory for the tests. Contract of an implementation:
//! - `apply` follows the version rule (`docs/replication.md`, "Versions"):
//!   the stored version becomes `merge(stored, incoming)` and the state the
//!   one of the larger stamp. So applying is idempotent, commutative and
//!   associative, and every owner converges whatever the delivery order.
//! - `slot_digest` is the XOR over the slot's entries (tombstones included)
//!   of a hash of `(key, stamp)`: equal digests mean equal stamps, and it
//!   changes with every applied write.
//! - `slot_chunk` pages through a slot with an opaque cursor: a stream from
//!   the empty cursor to the end returns every key that was in the slot for
//!   the stream's whole duration at least once (as Redis's SCAN promises).

use bytes::Bytes;
use ringcache_version::{Stamp, Version};

use crate::message::{DbKey, Effect, Entry, Outcome, State};

/// A page of a slot's entries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Chunk {
    pub entries: Vec<Entry>,
    /// Where the next page starts; `None`: the slot is done.
    pub next: Option<Bytes>,
}

/// One node's keyspace.
pub trait Replica {
    /// Applies one effect to a key of `slot` under the version rule:
    /// [`Outcome::Applied`] if it changed the stored version,
    /// [`Outcome::Had`] if the stored version already covers it, and
    /// [`Outcome::NeedFull`] for a delta whose `base` is not the stored
    /// stamp (nothing is changed then).
    fn apply(&mut self, slot: u16, effect: &Effect) -> Outcome;

    /// The key's version and state (tombstones included), if any.
    fn read(&self, slot: u16, key: &DbKey) -> Option<(Version, State)>;

    /// The slot's digest (see the module docs); 0 for an empty slot.
    fn slot_digest(&self, slot: u16) -> u64;

    /// Every (key hash, stamp) of the slot in every database, tombstones
    /// included, in any order. The key hash is a 64-bit hash of the key
    /// and its database alone, the same on every node (never a process's
    /// seeded hash): anti-entropy compares these lists, 24 bytes a key
    /// whatever the key's length, with no allocation per key.
    fn slot_hashes(&self, slot: u16) -> Vec<(u64, Stamp)>;

    /// The entries (tombstones included) of the slot's keys whose hash (as
    /// in [`Replica::slot_hashes`]) is in `hashes`, which is sorted.
    fn read_hashed(&self, slot: u16, hashes: &[u64]) -> Vec<Entry>;

    /// The slot's entries after `cursor` (empty: from the start): at most
    /// `entries_max` of them, whose [`Entry::encoded_len`]s add up to at most
    /// `bytes_max`, except that the first one is returned even if larger
    /// (so a stream always moves on).
    fn slot_chunk(&self, slot: u16, cursor: &[u8], entries_max: usize, bytes_max: usize) -> Chunk;
}
