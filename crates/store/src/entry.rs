//! A stored key's value with its metadata: expiry, the eviction word, the
//! accounted size and the stamp of the write that made it.
//!
//! Invariant: every entry has a version. Its stamp (HLC and writer tag)
//! lives inline; its past (the other writers' dots, rare) lives in the
//! shard's side map, and [`PAST_FLAG`] in the stored writer word says
//! whether there is one.

use ringcache_version::{Hlc, NodeTag, Stamp};

use crate::value::Value;

/// Fixed cost charged per key: its table slot (96 bytes: the key, up to 22
/// bytes inline, and the entry, with a string of up to 38 bytes inline and
/// the version's stamp), its share of the index and of the chunks' and the
/// allocator's slack, as measured: 126 B of RSS per key with 1M 16-byte
/// keys and 32-byte values on 1024 shards (redis-server: ~149; see
/// docs/store.md). Key and value bytes stored outside the slot are
/// charged on top.
pub const ENTRY_OVERHEAD: usize = 126;

/// The top bit of [`Entry::writer`]: the entry's version has a past, kept
/// in the shard's side map. Free because node tags are 31 bits.
pub(crate) const PAST_FLAG: u32 = 1 << NodeTag::BITS;

/// A value plus what expiry, eviction and replication need to know about
/// it: 72 bytes (a `Value` is 40).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub(crate) value: Value,
    /// Absolute expiry in Unix milliseconds; 0 means none.
    pub(crate) expire_at_ms: u64,
    /// The version's stamp: the HLC of the write that made this value.
    pub(crate) hlc: u64,
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
    /// The writer's node tag, with [`PAST_FLAG`] set when the version has
    /// a past in the shard's side map.
    pub(crate) writer: u32,
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

    /// Takes the value out (RENAME moves it to another key).
    pub fn into_value(self) -> Value {
        self.value
    }

    /// The absolute expiry time in Unix milliseconds, if any.
    pub fn expire_at(&self) -> Option<u64> {
        (self.expire_at_ms != 0).then_some(self.expire_at_ms)
    }

    pub(crate) fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at_ms != 0 && self.expire_at_ms <= now_ms
    }

    /// The stamp of the write that made this value: its identity for
    /// last-writer-wins and digests.
    pub fn stamp(&self) -> Stamp {
        Stamp { hlc: Hlc::from_u64(self.hlc), writer: NodeTag::new(self.writer & !PAST_FLAG).expect("a stored tag") }
    }

    /// Whether the version has a past in the shard's side map.
    pub(crate) fn has_past(&self) -> bool {
        self.writer & PAST_FLAG != 0
    }

    /// Stores `stamp` inline, flagging whether the version has a past.
    pub(crate) fn set_stamp(&mut self, stamp: Stamp, has_past: bool) {
        self.hlc = stamp.hlc.as_u64();
        self.writer = stamp.writer.get() | if has_past { PAST_FLAG } else { 0 };
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

    /// The LFU counter after the decay for the time since its last
    /// decrement, as Redis's `LFUDecrAndReturn` reports it (`OBJECT
    /// FREQ`). Meaningful only under an LFU policy.
    pub fn lfu_freq(&self, now_ms: u64) -> u8 {
        crate::eviction::lfu_decayed(self.access, now_ms) as u8
    }

    /// The bytes this entry is accounted for in the shard's used memory:
    /// its fixed overhead, its key and its value (`MEMORY USAGE`).
    pub fn accounted_bytes(&self) -> usize {
        self.mem as usize
    }
}
