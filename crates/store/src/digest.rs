//! Per-slot digests: what anti-entropy compares before it compares keys.
//!
//! A slot's digest is the XOR, over the slot's entries and tombstones, of
//! [`entry_digest`]`(key, stamp)`, plus the slot's flush floor if it has
//! one ([`floor_digest`]). XOR makes every change O(1) (flip the old
//! contribution out, the new one in) and the digest independent of the
//! order keys were written in. Everything here is a pure function of key
//! bytes and stamps, never of a process's hash seed: two nodes holding the
//! same versions of a slot compute the same digest.

use ringcache_version::{Stamp, Version};

/// The digest hash of a key: xxh3-64 with seed 0 (the shards' table hash
/// has a per-process seed, so it cannot be compared across nodes).
#[inline]
pub(crate) fn key_hash(key: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(key)
}

/// One key's contribution, from its [`key_hash`].
#[inline]
pub(crate) fn mix(key_hash: u64, stamp: Stamp) -> u64 {
    splitmix(key_hash ^ Version::digest_of(stamp).rotate_left(29))
}

/// What a key holding a write stamped `stamp` (an entry or a tombstone)
/// adds to its slot's digest.
pub fn entry_digest(key: &[u8], stamp: Stamp) -> u64 {
    mix(key_hash(key), stamp)
}

/// Stands in for a key hash in a flush floor's contribution.
const FLOOR_HASH: u64 = 0x6a09_e667_f3bc_c908;

/// What a slot's flush floor at `floor` adds to its digest.
pub fn floor_digest(floor: Stamp) -> u64 {
    mix(FLOOR_HASH, floor)
}

/// splitmix64's finalizer: a bijection that spreads every input bit.
fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
