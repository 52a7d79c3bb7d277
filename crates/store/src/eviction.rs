//! Eviction policies (`maxmemory-policy`), the eviction pool, and Redis's
//! LFU counter.
//!
//! Eviction is approximated as in Redis (`evict.c`): each step samples
//! `maxmemory-samples` keys from one shard (round-robin over shards) into
//! a pool of the best [`POOL_SIZE`] candidates seen so far, then evicts the
//! pool's best candidate, wherever it lives. The pool is what makes the
//! choice global: sampling one shard and evicting from it alone would take
//! a shard's idlest key even when every other shard holds idler ones,
//! which with few keys per shard evicts hot keys. The random policies need
//! no pool.
//!
//! Scores do not change with time unless the key is touched (LRU scores
//! the last access time, not the idle time), so a candidate whose score
//! dropped since it was sampled has been used since, and is re-ranked
//! instead of evicted.

use std::fmt;
use std::str::FromStr;

use bytes::Bytes;

use crate::entry::Entry;

/// `maxmemory-policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Policy {
    #[default]
    NoEviction,
    AllKeysLru,
    AllKeysLfu,
    AllKeysRandom,
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
}

impl Policy {
    pub const ALL: [Policy; 8] = [
        Policy::NoEviction,
        Policy::AllKeysLru,
        Policy::AllKeysLfu,
        Policy::AllKeysRandom,
        Policy::VolatileLru,
        Policy::VolatileLfu,
        Policy::VolatileRandom,
        Policy::VolatileTtl,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Policy::NoEviction => "noeviction",
            Policy::AllKeysLru => "allkeys-lru",
            Policy::AllKeysLfu => "allkeys-lfu",
            Policy::AllKeysRandom => "allkeys-random",
            Policy::VolatileLru => "volatile-lru",
            Policy::VolatileLfu => "volatile-lfu",
            Policy::VolatileRandom => "volatile-random",
            Policy::VolatileTtl => "volatile-ttl",
        }
    }

    /// Only keys with a TTL are candidates.
    pub fn volatile_only(self) -> bool {
        matches!(self, Policy::VolatileLru | Policy::VolatileLfu | Policy::VolatileRandom | Policy::VolatileTtl)
    }

    pub fn is_lfu(self) -> bool {
        matches!(self, Policy::AllKeysLfu | Policy::VolatileLfu)
    }

    /// Evicts a random key: no sampling, no pool.
    pub fn is_random(self) -> bool {
        matches!(self, Policy::AllKeysRandom | Policy::VolatileRandom)
    }

    pub(crate) fn from_u8(v: u8) -> Policy {
        Policy::ALL[usize::from(v) % Policy::ALL.len()]
    }

    pub(crate) fn to_u8(self) -> u8 {
        Policy::ALL.iter().position(|p| *p == self).expect("every policy is in ALL") as u8
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Policy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Policy::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("invalid maxmemory-policy '{s}'"))
    }
}

/// The write was refused: used memory is over `maxmemory` and nothing can be
/// evicted under the current policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("OOM command not allowed when used memory > 'maxmemory'.")]
pub struct Oom;

/// How good a candidate `e` is under `policy`: higher is better to evict.
/// Stable over time for a key nobody touches (LFU's decay aside, which
/// Redis applies the same way).
pub(crate) fn score(policy: Policy, e: &Entry, now_ms: u64) -> u64 {
    match policy {
        // The older the last access, the higher the score.
        Policy::AllKeysLru | Policy::VolatileLru => u64::MAX - now_ms.saturating_sub(u64::from(e.idle_ms(now_ms))),
        Policy::AllKeysLfu | Policy::VolatileLfu => 255 - u64::from(lfu_decayed(e.access, now_ms)),
        Policy::VolatileTtl => u64::MAX - e.expire_at_ms,
        Policy::NoEviction | Policy::AllKeysRandom | Policy::VolatileRandom => 0,
    }
}

/// Candidates kept between eviction steps, as in Redis (`EVPOOL_SIZE`).
pub(crate) const POOL_SIZE: usize = 16;

/// A key sampled for eviction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Candidate {
    pub score: u64,
    pub shard: usize,
    /// The key's database.
    pub db: u16,
    pub key: Bytes,
}

/// The best candidates sampled so far, across shards, for one policy.
#[derive(Debug, Default)]
pub(crate) struct EvictionPool {
    policy: Option<Policy>,
    /// Ascending by score: the best candidate is last.
    candidates: Vec<Candidate>,
}

impl EvictionPool {
    /// Forgets candidates scored under another policy.
    fn use_policy(&mut self, policy: Policy) {
        if self.policy != Some(policy) {
            self.candidates.clear();
            self.policy = Some(policy);
        }
    }

    /// Adds `c` (replacing an older entry for the same key) if the pool has
    /// room or `c` beats its worst candidate.
    pub fn insert(&mut self, policy: Policy, c: Candidate) {
        self.use_policy(policy);
        if let Some(i) = self.candidates.iter().position(|x| x.shard == c.shard && x.db == c.db && x.key == c.key) {
            self.candidates.remove(i);
        }
        if self.candidates.len() >= POOL_SIZE && c.score <= self.candidates[0].score {
            return;
        }
        let at = self.candidates.partition_point(|x| x.score <= c.score);
        self.candidates.insert(at, c);
        if self.candidates.len() > POOL_SIZE {
            self.candidates.remove(0);
        }
        debug_assert!(self.candidates.windows(2).all(|w| w[0].score <= w[1].score));
    }

    /// Takes the best candidate out of the pool.
    pub fn pop_best(&mut self, policy: Policy) -> Option<Candidate> {
        self.use_policy(policy);
        self.candidates.pop()
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.candidates.len()
    }
}

// Redis's LFU: an 8-bit logarithmic counter that starts at 5, grows with
// probability 1/((counter-5)*log_factor+1) and decays by one per
// `decay_minutes` without access.
pub(crate) const LFU_INIT: u32 = 5;
const LFU_LOG_FACTOR: f64 = 10.0;
const LFU_DECAY_MINUTES: u32 = 1;

fn minutes(now_ms: u64) -> u32 {
    ((now_ms / 60_000) & 0xff_ffff) as u32
}

pub(crate) fn lfu_new(now_ms: u64) -> u32 {
    (minutes(now_ms) << 8) | LFU_INIT
}

/// The counter after decay for the time since the last decrement.
pub(crate) fn lfu_decayed(lfu: u32, now_ms: u64) -> u32 {
    let last = lfu >> 8;
    let now = minutes(now_ms);
    let elapsed = if now >= last { now - last } else { 0xff_ffff - last + now };
    let periods = elapsed / LFU_DECAY_MINUTES;
    (lfu & 0xff).saturating_sub(periods)
}

/// Records one access: decay, then a probabilistic increment.
pub(crate) fn lfu_touch(lfu: u32, now_ms: u64, rand01: f64) -> u32 {
    let mut counter = lfu_decayed(lfu, now_ms);
    if counter < 255 {
        let base = counter.saturating_sub(LFU_INIT) as f64;
        if rand01 < 1.0 / (base * LFU_LOG_FACTOR + 1.0) {
            counter += 1;
        }
    }
    (minutes(now_ms) << 8) | counter
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_names_round_trip() {
        for p in Policy::ALL {
            assert_eq!(p.name().parse::<Policy>().unwrap(), p);
            assert_eq!(Policy::from_u8(p.to_u8()), p);
        }
        assert!("lru".parse::<Policy>().is_err());
    }

    fn cand(score: u64, shard: usize, key: &str) -> Candidate {
        Candidate { score, shard, db: 0, key: Bytes::copy_from_slice(key.as_bytes()) }
    }

    #[test]
    fn the_pool_keeps_the_best_candidates_across_shards() {
        let p = Policy::AllKeysLru;
        let mut pool = EvictionPool::default();
        for i in 0..40u64 {
            pool.insert(p, cand(i * 7 % 40, (i % 4) as usize, &format!("k{i}")));
        }
        assert_eq!(pool.len(), POOL_SIZE);
        // The same key sampled again is re-ranked, not duplicated.
        pool.insert(p, cand(100, 1, "k1"));
        assert_eq!(pool.len(), POOL_SIZE);
        let best: Vec<u64> = std::iter::from_fn(|| pool.pop_best(p)).map(|c| c.score).collect();
        assert_eq!(best.len(), POOL_SIZE);
        assert_eq!(best[0], 100);
        assert!(best.windows(2).all(|w| w[0] >= w[1]), "{best:?}");
        assert_eq!(best[1..], (40 - POOL_SIZE as u64 + 1..40).rev().collect::<Vec<_>>()[..]);
        // Candidates scored under another policy are forgotten.
        pool.insert(p, cand(1, 0, "a"));
        assert_eq!(pool.pop_best(Policy::VolatileTtl), None);
    }

    #[test]
    fn lfu_grows_slowly_and_decays() {
        let now = 10 * 60_000;
        let mut lfu = lfu_new(now);
        for _ in 0..100 {
            lfu = lfu_touch(lfu, now, 0.0);
        }
        assert_eq!(lfu & 0xff, 105);
        assert_eq!(lfu_decayed(lfu, now + 3 * 60_000), 102);
        // Past the initial value, increments get rare.
        assert_eq!(lfu_touch(lfu, now, 0.99) & 0xff, 105);
    }
}
