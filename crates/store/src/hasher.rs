//! The hasher for in-shard maps: one xxh3 pass over the key bytes.
//!
//! `[u8]`'s `Hash` writes a length prefix and then the bytes; hashing the
//! bytes once with xxh3 is both faster than SipHash and good enough, because
//! the seed is random per process (no precomputed collision attacks).

use std::hash::{BuildHasher, Hasher};

#[derive(Debug, Clone, Copy)]
pub struct XxhBuild {
    seed: u64,
}

impl Default for XxhBuild {
    fn default() -> Self {
        // One random seed per process is enough: maps are never shared
        // between processes.
        static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        XxhBuild { seed: *SEED.get_or_init(rand::random) }
    }
}

impl XxhBuild {
    /// What hashing `b` (a `[u8]`, or anything that hashes as one) with
    /// this builder gives, in one call.
    #[inline]
    pub fn hash_bytes(&self, b: &[u8]) -> u64 {
        xxhash_rust::xxh3::xxh3_64_with_seed(b, self.seed)
    }
}

impl BuildHasher for XxhBuild {
    type Hasher = XxhHasher;
    fn build_hasher(&self) -> XxhHasher {
        XxhHasher { state: self.seed }
    }
}

#[derive(Debug)]
pub struct XxhHasher {
    state: u64,
}

impl Hasher for XxhHasher {
    fn finish(&self) -> u64 {
        self.state
    }

    fn write(&mut self, bytes: &[u8]) {
        self.state = xxhash_rust::xxh3::xxh3_64_with_seed(bytes, self.state);
    }

    // The length prefix adds nothing that the bytes' hash does not already
    // cover for byte-string keys.
    fn write_usize(&mut self, _len: usize) {}
}

pub type IndexMap<K, V> = indexmap::IndexMap<K, V, XxhBuild>;
pub type IndexSet<K> = indexmap::IndexSet<K, XxhBuild>;
pub type HashMap<K, V> = std::collections::HashMap<K, V, XxhBuild>;
