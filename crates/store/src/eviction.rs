//! Eviction policies (`maxmemory-policy`) and Redis's LFU counter.
//!
//! Eviction is approximated as in Redis: sample `maxmemory-samples` keys
//! from one shard and evict the best candidate of the sample, round-robin
//! over shards, until used memory is back under `maxmemory`.

use std::fmt;
use std::str::FromStr;

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
