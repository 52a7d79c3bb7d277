//! A stored key's value with its metadata.

use crate::value::Value;

/// Fixed cost charged per key: its table slot (80 bytes: the key, up to 22
/// bytes inline, and the entry, with a string of up to 38 bytes inline) and
/// its share of the index, as measured (102 B per key with 1M 16-byte keys
/// and 32-byte values, redis-server: 148; see docs/store.md). Key and value
/// bytes stored outside the slot are charged on top.
pub const ENTRY_OVERHEAD: usize = 100;

/// A value plus what expiry and eviction need to know about it: 56 bytes
/// (a `Value` is 40).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub(crate) value: Value,
    /// Absolute expiry in Unix milliseconds; 0 means none.
    pub(crate) expire_at_ms: u64,
    /// What eviction ranks by, one word as in Redis (`robj.lru`): under an
    /// LFU policy, Redis's LFU word (last decrement time in minutes, high
    /// 24 bits, and a logarithmic access counter, low 8 bits); under any
    /// other, the last access in wrapping milliseconds. After a switch
    /// between LFU and another policy at run time, a key's word is read
    /// the new way until its next access, as in Redis.
    pub(crate) access: u32,
    /// What this entry is accounted for in the shard's used memory (what
    /// `Shard::written` subtracts when the value has changed in place).
    pub(crate) mem: u32,
}

impl Entry {
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// Mutable access to the value. After changing it, call
    /// [`Shard::written`](crate::Shard::written) with the key.
    pub fn value_mut(&mut self) -> &mut Value {
        &mut self.value
    }

    /// The absolute expiry time in Unix milliseconds, if any.
    pub fn expire_at(&self) -> Option<u64> {
        (self.expire_at_ms != 0).then_some(self.expire_at_ms)
    }

    pub(crate) fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at_ms != 0 && self.expire_at_ms <= now_ms
    }

    /// Milliseconds since last access, for `OBJECT IDLETIME`-style
    /// reporting. Meaningful only under a non-LFU policy.
    pub fn idle_ms(&self, now_ms: u64) -> u32 {
        (now_ms as u32).wrapping_sub(self.access)
    }

    /// The LFU counter, for `OBJECT FREQ`. Meaningful only under an LFU
    /// policy.
    pub fn lfu_count(&self) -> u8 {
        (self.access & 0xff) as u8
    }
}
