//! Per-slot digests: what anti-entropy compares before it compares keys.
//!
//! A slot's digest is the XOR, over the slot's entries and tombstones in
//! every database, of [`entry_digest`]`(db, key, stamp)`, plus each
//! database's flush floor of the slot if it has one ([`floor_digest`]).
//! The database enters the key hash (as the seed of xxh3; database 0's is
//! seed 0, so its contributions are what they were before databases), so
//! one slot digest covers every database and a key moved between
//! databases changes it. XOR makes every change O(1) (flip the old
//! contribution out, the new one in) and the digest independent of the
//! order keys were written in. Everything here is a pure function of key
//! bytes and stamps, never of a process's hash seed: two nodes holding the
//! same versions of a slot compute the same digest.

use ringcache_version::{Stamp, Version};

/// The digest hash of a key of database `db`: xxh3-64 seeded with the
/// database index (the shards' table hash has a per-process seed, so it
/// cannot be compared across nodes). Anti-entropy names keys by it.
#[inline]
pub fn key_hash(db: u16, key: &[u8]) -> u64 {
    if db == 0 {
        xxhash_rust::xxh3::xxh3_64(key)
    } else {
        xxhash_rust::xxh3::xxh3_64_with_seed(key, u64::from(db))
    }
}

/// One key's contribution, from its [`key_hash`].
#[inline]
pub(crate) fn mix(key_hash: u64, stamp: Stamp) -> u64 {
    splitmix(key_hash ^ Version::digest_of(stamp).rotate_left(29))
}

/// What a key of database `db` holding a write stamped `stamp` (an entry
/// or a tombstone) adds to its slot's digest.
pub fn entry_digest(db: u16, key: &[u8], stamp: Stamp) -> u64 {
    mix(key_hash(db, key), stamp)
}

/// Stands in for a key hash in a flush floor's contribution.
const FLOOR_HASH: u64 = 0x6a09_e667_f3bc_c908;

/// What database `db`'s flush floor of a slot at `floor` adds to the
/// slot's digest.
pub fn floor_digest(db: u16, floor: Stamp) -> u64 {
    mix(FLOOR_HASH ^ splitmix(u64::from(db)).wrapping_sub(splitmix(0)), floor)
}

/// splitmix64's finalizer: a bijection that spreads every input bit.
fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
