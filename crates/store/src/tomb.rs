//! Tombstones: what a delete leaves behind, so that an owner that missed
//! the delete cannot bring the key back.
//!
//! A tombstone is the version of the delete and the time it may be
//! collected (`tombstone-grace-ms` after it was made or received). It
//! lives in the shard's side map, never in the table: lookups cannot see
//! it. Invariant: a key has an entry or a tombstone, never both.

use ringcache_version::Version;

use crate::key::Key;

/// Fixed cost charged per tombstone: an `IndexMap` slot (hash 8, key 24,
/// tombstone 24) and its index bucket (8 + control byte) with the map's
/// growth slack, rounded up. The key's heap bytes and the past's dots are
/// charged on top. Chosen, not measured: tombstones are short-lived.
pub const TOMBSTONE_OVERHEAD: usize = 96;

/// Bytes per dot of a version's past, stored out of line.
pub(crate) const DOT_MEM: usize = 12;

/// Fixed cost of a past kept in the side map: a `HashMap` slot (key 24,
/// box 16) and the box's allocation header.
pub(crate) const PAST_OVERHEAD: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tomb {
    pub version: Version,
    /// When the expiry cycle may drop it (Unix ms).
    pub collect_at_ms: u64,
}

/// What a tombstone for `key` with `version` is accounted for.
pub(crate) fn tomb_mem(key: &[u8], version: &Version) -> usize {
    TOMBSTONE_OVERHEAD + Key::mem_of(key) + DOT_MEM * version.past().len()
}

/// What a side-map past of `dots` dots for `key` is accounted for.
pub(crate) fn past_mem(key: &[u8], dots: usize) -> usize {
    PAST_OVERHEAD + Key::mem_of(key) + DOT_MEM * dots
}
