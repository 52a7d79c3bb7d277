//! One shard of the keyspace: a map of entries plus the bookkeeping that
//! expiry, eviction, WATCH and replication need. A shard is only ever
//! touched under its lock (see [`crate::Db`]).
//!
//! A shard holds the hash slots `s` with `s % shards == index` (see
//! [`crate::Db`]), so everything per slot (digests, flush floors, listings)
//! is found in one shard.
//!
//! Databases (SELECT): a key is a database index and bytes. Each database
//! has its own keyspace in the shard (table, TTL set, watches, pasts,
//! tombstones, flush floors); the selected one is kept inline and the
//! others parked in a map, so the hot path (database 0, or whichever the
//! shard was last used for) reaches its table exactly as before, and
//! selecting another database is a swap of two small structs. Everything
//! that is about memory, not keys, is the shard's across databases: used
//! memory, eviction, expiry and the per-slot digests.
//!
//! Invariants:
//! - Every method works on the selected database ([`Shard::select`]),
//!   except those that name a database or say "every database".
//! - A parked keyspace is never blank: an empty database costs nothing.
//! - Every entry has a version: its stamp inline, its past (if any) in
//!   `pasts` under the same key, flagged in the entry. Every local write
//!   makes a new version on top of the key's last one (entry, tombstone or
//!   flush floor); expiry and eviction make none.
//! - A key has an entry or a tombstone, never both; tombstones exist only
//!   when `tombstone_grace_ms > 0`.
//! - `digests[slot / shards]` is the XOR of `digest::mix` over the slot's
//!   entries and tombstones and its floor, whatever the order of changes.
//! - `used` is the sum of the entries' accounted sizes, their pasts' and
//!   the tombstones'.

mod replica;

use std::sync::atomic::{AtomicU8, Ordering::Relaxed};
use std::sync::Arc;

use bytes::Bytes;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use ringcache_version::{Dot, Hlc, NodeTag, Stamp, Version, PRUNE_MS_DEFAULT};

use crate::digest;
use crate::entry::{Entry, ENTRY_OVERHEAD};
use crate::eviction::{self, lfu_new, lfu_touch, Policy};
use crate::glob::glob_match;
use crate::hasher::{HashMap, IndexMap, IndexSet};
use crate::key::Key;
use crate::table::Table;
use crate::tomb::{past_mem, tomb_mem, Tomb};
use crate::value::Value;

pub use replica::{Applied, DeltaApplied};

/// Counters for INFO, summed over shards when asked for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShardStats {
    pub hits: u64,
    pub misses: u64,
    pub expired: u64,
    pub evicted: u64,
}

thread_local! {
    /// Local writes made on this thread (see [`local_writes`]).
    static LOCAL_WRITES: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// How many local writes (a key given a new version, or a database
/// flushed) this thread has made: a command that leaves it unchanged
/// changed nothing. Redis's `dirty` counter is made of such commands.
#[inline]
pub fn local_writes() -> u64 {
    LOCAL_WRITES.with(|w| w.get())
}

#[inline]
fn count_local_write() {
    LOCAL_WRITES.with(|w| w.set(w.get() + 1));
}

/// How a shard versions and deletes: the node's settings (from
/// [`DbConfig`](crate::DbConfig)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardConfig {
    /// The writer tag of this node's local writes.
    pub node_tag: NodeTag,
    /// How long a delete's tombstone is kept; 0 = no tombstones.
    pub tombstone_grace_ms: u64,
    /// Dots older than this (relative to a new stamp) are dropped from a
    /// version's past when a write is made.
    pub version_prune_ms: u64,
    /// Whether local writes record their keys for [`Shard::take_changed`].
    pub journal: bool,
    /// log2 of the keyspace's shard count: this shard holds the slots whose
    /// low `shard_bits` bits are `shard_index`.
    pub shard_bits: u32,
    pub shard_index: u32,
}

impl Default for ShardConfig {
    fn default() -> Self {
        ShardConfig {
            node_tag: NodeTag::of("ringcache"),
            tombstone_grace_ms: 0,
            version_prune_ms: PRUNE_MS_DEFAULT,
            journal: false,
            shard_bits: 0,
            shard_index: 0,
        }
    }
}

/// What became of a pool candidate that was to be evicted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Evicted {
    /// It was removed, freeing this many bytes.
    Freed(usize),
    /// It no longer exists, or no longer qualifies (lost its TTL).
    Gone,
    /// It was used since it was sampled: this is its score now.
    Rescored(u64),
}

/// What SCAN-like iteration keeps: keys matching `pattern` and of `type_name`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScanFilter<'a> {
    pub pattern: Option<&'a [u8]>,
    pub type_name: Option<&'a str>,
    /// Only keys of the slots marked true (indexed by slot).
    pub slots: Option<&'a [bool]>,
}

impl ScanFilter<'_> {
    fn keeps(&self, key: &[u8], value: &Value) -> bool {
        self.slots.is_none_or(|s| s[usize::from(ringcache_ring::slot(key))])
            && self.pattern.is_none_or(|p| glob_match(p, key))
            && self.type_name.is_none_or(|t| value.type_name().eq_ignore_ascii_case(t))
    }
}

/// The most databases a node can have: they are numbered by a `u16`.
pub const DATABASES_MAX: u32 = 1 << 16;

/// One database's part of a shard: its keys and everything kept per key.
/// A shard keeps the selected database's inline and the others parked
/// (see [`Shard::select`]).
#[derive(Debug, Default)]
struct Keyspace {
    map: Table<Entry>,
    /// Keys that carry a TTL: what active expiry and volatile-* policies
    /// sample from.
    volatile: IndexSet<Key>,
    /// Watched keys → (modification count, number of watchers).
    watched: HashMap<Bytes, (u64, u32)>,
    /// The pasts of entries' versions that have one (flagged in the entry).
    pasts: HashMap<Key, Box<[Dot]>>,
    /// Deleted keys' versions, until collected (see `tomb`).
    tombs: IndexMap<Key, Tomb>,
    /// Per slot held, the stamp of this database's last flush, once there
    /// has been one: every version with a stamp not above it is deleted.
    floors: Option<Box<[Option<Stamp>]>>,
}

impl Keyspace {
    /// The version of the entry at `i`, reassembled.
    fn version_at(&self, i: usize) -> Version {
        let (k, e) = self.map.get_index(i).expect("index in range");
        let past =
            if e.has_past() { self.pasts.get(k.as_bytes()).map_or_else(Vec::new, |p| p.to_vec()) } else { Vec::new() };
        Version::from_parts(e.stamp(), past).expect("stored versions are valid")
    }

    /// Whether it holds nothing at all, so that parking it would keep
    /// nothing worth keeping (an empty `Keyspace` allocates nothing).
    fn is_blank(&self) -> bool {
        self.map.is_empty()
            && self.tombs.is_empty()
            && self.watched.is_empty()
            && self.floors.is_none()
            && self.volatile.is_empty()
            && self.pasts.is_empty()
    }
}

#[derive(Debug)]
pub struct Shard {
    /// The selected database's keyspace (`db`): what every method but the
    /// ones naming a database works on.
    ks: Keyspace,
    /// The database `ks` belongs to.
    db: u16,
    /// The other databases' keyspaces in this shard, those holding anything.
    parked: HashMap<u16, Keyspace>,
    used: usize,
    stats: ShardStats,
    rng: SmallRng,
    track_lfu: bool,
    /// Expiry is paused (CLIENT PAUSE): an expired key reads as missing
    /// but stays. Set from the database's flag whenever the shard is
    /// locked.
    frozen: bool,
    /// Accesses leave keys' LRU/LFU words alone (CLIENT NO-TOUCH): set by
    /// the lock for one command at a time.
    no_touch: bool,
    /// The hash and slot of the key whose command holds this shard locked,
    /// as the key's address and length (see [`Shard::hash`]): set and
    /// cleared by `Locked`, which borrows that key for as long as it holds
    /// the lock, so no other bytes can be at that address meanwhile.
    hint: Option<(usize, usize, u64, u16)>,
    cfg: ShardConfig,
    /// Per slot held (`slot >> shard_bits`), the XOR digest (see `digest`)
    /// over every database.
    digests: Box<[u64]>,
    /// Keys given a new local version since the last `take_changed`, with
    /// their database and, for a change made in place on a live entry
    /// ([`Shard::written`]) and nothing else, the stamp the entry had
    /// before (a delta's base, see `delta`).
    journal: Vec<(u16, Key, Option<Stamp>)>,
    /// The time of the latest lookup, for `written` (which is not given
    /// one: it always follows a lookup of the key it folds in).
    clock_ms: u64,
    /// The keyspace's invalidation switch (see `crate::invalidate`): while
    /// on, every change of a key's state and every flush is recorded.
    invalidation: Arc<AtomicU8>,
}

/// The version a write stores. For a local write to a key whose only
/// writer is this node (nearly every key), just its stamp: no `Version` is
/// assembled from the entry, checked, advanced and taken apart again.
enum WriteVersion {
    Solo(Stamp),
    Full(Version),
}

impl WriteVersion {
    fn stamp(&self) -> Stamp {
        match self {
            WriteVersion::Solo(s) => *s,
            WriteVersion::Full(v) => v.stamp(),
        }
    }

    fn past(&self) -> &[Dot] {
        match self {
            WriteVersion::Solo(_) => &[],
            WriteVersion::Full(v) => v.past(),
        }
    }
}

impl Default for Shard {
    fn default() -> Self {
        Shard::with_config(ShardConfig::default())
    }
}

fn entry_mem(key: &[u8], value: &Value) -> usize {
    ENTRY_OVERHEAD + Key::mem_of(key) + value.mem()
}

impl Shard {
    /// A shard holding every slot, with the default settings.
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_config(cfg: ShardConfig) -> Self {
        assert!(cfg.shard_bits <= 14, "at most 16384 shards, one per slot");
        assert!(cfg.shard_index < 1 << cfg.shard_bits, "shard index in range");
        Shard {
            ks: Keyspace::default(),
            db: 0,
            parked: HashMap::default(),
            used: 0,
            stats: ShardStats::default(),
            rng: SmallRng::from_entropy(),
            track_lfu: false,
            frozen: false,
            no_touch: false,
            hint: None,
            cfg,
            digests: vec![0; ringcache_ring::SLOTS >> cfg.shard_bits].into_boxed_slice(),
            journal: Vec::new(),
            clock_ms: 0,
            invalidation: Arc::default(),
        }
    }

    /// Shares the keyspace's invalidation switch (see `crate::invalidate`).
    pub(crate) fn set_invalidation_switch(&mut self, switch: Arc<AtomicU8>) {
        self.invalidation = switch;
    }

    pub fn config(&self) -> &ShardConfig {
        &self.cfg
    }

    /// The selected database.
    #[inline]
    pub fn db(&self) -> u16 {
        self.db
    }

    /// Makes `db` the database that the key methods work on. A no-op (one
    /// compare) when it already is.
    #[inline]
    pub fn select(&mut self, db: u16) {
        if self.db != db {
            self.switch(db);
        }
    }

    #[cold]
    #[inline(never)]
    fn switch(&mut self, db: u16) {
        let next = self.parked.remove(&db).unwrap_or_default();
        let prev = std::mem::replace(&mut self.ks, next);
        if !prev.is_blank() {
            self.parked.insert(self.db, prev);
        }
        self.db = db;
    }

    /// The databases holding anything in this shard (keys, tombstones,
    /// watches or floors), in no particular order.
    pub fn databases(&self) -> Vec<u16> {
        let mut out: Vec<u16> = self.parked.keys().copied().collect();
        if !self.ks.is_blank() {
            out.push(self.db);
        }
        out
    }

    /// Runs `f` with each database holding anything selected in turn,
    /// then selects the one selected before.
    fn each_database(&mut self, mut f: impl FnMut(&mut Shard)) {
        let back = self.db;
        for db in self.databases() {
            self.select(db);
            f(self);
        }
        self.select(back);
    }

    /// Keys held in database `db`, including expired ones not yet removed.
    pub fn len_in(&self, db: u16) -> usize {
        self.keyspace(db).map_or(0, |ks| ks.map.len())
    }

    /// Keys with a TTL in database `db`.
    pub fn volatile_len_in(&self, db: u16) -> usize {
        self.keyspace(db).map_or(0, |ks| ks.volatile.len())
    }

    /// Keys held in every database.
    pub fn len_all(&self) -> usize {
        self.ks.map.len() + self.parked.values().map(|ks| ks.map.len()).sum::<usize>()
    }

    /// Keys with a TTL in every database.
    pub fn volatile_len_all(&self) -> usize {
        self.ks.volatile.len() + self.parked.values().map(|ks| ks.volatile.len()).sum::<usize>()
    }

    fn keyspace(&self, db: u16) -> Option<&Keyspace> {
        if db == self.db {
            Some(&self.ks)
        } else {
            self.parked.get(&db)
        }
    }

    /// Per database holding keys: (database, keys, keys with a TTL, sum of
    /// the TTLs left, in ms, of up to `ttl_sample` of them, and how many
    /// that sum covers), for INFO keyspace.
    pub fn database_counts(&self, now_ms: u64, ttl_sample: usize, out: &mut Vec<(u16, usize, usize, u64, usize)>) {
        let one = |db: u16, ks: &Keyspace, out: &mut Vec<_>| {
            if ks.map.is_empty() {
                return;
            }
            let (mut sum, mut n) = (0u64, 0usize);
            for k in ks.volatile.iter().take(ttl_sample) {
                if let Some(e) = ks.map.get_index_of(k).map(|i| &ks.map[i]) {
                    sum = sum.saturating_add(e.expire_at_ms.saturating_sub(now_ms));
                    n += 1;
                }
            }
            out.push((db, ks.map.len(), ks.volatile.len(), sum, n));
        };
        one(self.db, &self.ks, out);
        for (&db, ks) in &self.parked {
            one(db, ks, out);
        }
    }

    /// Keys held, including expired ones not yet removed.
    pub fn len(&self) -> usize {
        self.ks.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ks.map.is_empty()
    }

    /// Keys with a TTL.
    pub fn volatile_len(&self) -> usize {
        self.ks.volatile.len()
    }

    /// Tombstones held.
    pub fn tombstones_len(&self) -> usize {
        self.ks.tombs.len()
    }

    pub fn used_memory(&self) -> usize {
        self.used
    }

    pub fn stats(&self) -> ShardStats {
        self.stats
    }

    pub fn reset_stats(&mut self) {
        self.stats = ShardStats::default();
    }

    /// Remembers `key`'s hash (as computed by the table) and slot for the
    /// lookups of the command now holding the lock, so that it hashes its
    /// key once. `key` must stay borrowed, unchanged, until
    /// [`forget_hint`] is called.
    ///
    /// [`forget_hint`]: Self::forget_hint
    pub(crate) fn hint(&mut self, key: &[u8], hash: u64, slot: u16) {
        debug_assert_eq!(hash, self.ks.map.hash(key), "wrong hash for the key");
        debug_assert_eq!(slot, ringcache_ring::slot(key), "wrong slot for the key");
        self.hint = Some((key.as_ptr() as usize, key.len(), hash, slot));
    }

    pub(crate) fn forget_hint(&mut self) {
        self.hint = None;
    }

    /// `key`'s hash: the hinted one when `key` is the very slice hinted.
    #[inline]
    fn hash(&self, key: &[u8]) -> u64 {
        match self.hint {
            Some((ptr, len, hash, _)) if ptr == key.as_ptr() as usize && len == key.len() => hash,
            _ => self.ks.map.hash(key),
        }
    }

    /// `key`'s hash and slot: the hinted ones when `key` is the very slice
    /// hinted.
    #[inline]
    fn hash_and_slot(&self, key: &[u8]) -> (u64, u16) {
        match self.hint {
            Some((ptr, len, hash, slot)) if ptr == key.as_ptr() as usize && len == key.len() => (hash, slot),
            _ => (self.ks.map.hash(key), ringcache_ring::slot(key)),
        }
    }

    /// `key`'s slot: the hinted one when `key` is the very slice hinted.
    #[inline]
    fn slot_of(&self, key: &[u8]) -> u16 {
        match self.hint {
            Some((ptr, len, _, slot)) if ptr == key.as_ptr() as usize && len == key.len() => slot,
            _ => ringcache_ring::slot(key),
        }
    }

    /// The index of `slot` in this shard's per-slot arrays.
    #[inline]
    fn local(&self, slot: u16) -> usize {
        debug_assert_eq!(
            usize::from(slot) & ((1 << self.cfg.shard_bits) - 1),
            self.cfg.shard_index as usize,
            "slot of another shard"
        );
        usize::from(slot) >> self.cfg.shard_bits
    }

    /// Flips `key`'s contribution for `old` out of its slot's digest and
    /// the one for `new` in.
    #[inline(always)]
    fn digest_swap(&mut self, key: &[u8], slot: u16, old: Option<Stamp>, new: Option<Stamp>) {
        if old == new {
            return;
        }
        let kh = digest::key_hash(self.db, key);
        let mut d = 0;
        if let Some(s) = old {
            d ^= digest::mix(kh, s);
        }
        if let Some(s) = new {
            d ^= digest::mix(kh, s);
        }
        let l = self.local(slot);
        self.digests[l] ^= d;
    }

    /// The digest of `slot`, which this shard holds (see `digest`).
    pub fn slot_digest(&self, slot: u16) -> u64 {
        self.digests[self.local(slot)]
    }

    /// The flush floor of `slot`: versions stamped at or below it are
    /// deleted. `None` before the slot's first flush.
    pub fn slot_floor(&self, slot: u16) -> Option<Stamp> {
        self.ks.floors.as_ref().and_then(|f| f[self.local(slot)])
    }

    #[inline]
    fn index_of(&self, key: &[u8]) -> Option<usize> {
        self.ks.map.get_index_of_hashed(key, self.hash(key))
    }

    /// The version of the entry at `i`, reassembled.
    fn version_at(&self, i: usize) -> Version {
        self.ks.version_at(i)
    }

    /// The version of `key`'s entry (live or not yet collected after its
    /// expiry) or tombstone.
    pub fn version(&self, key: &[u8]) -> Option<Version> {
        match self.index_of(key) {
            Some(i) => Some(self.version_at(i)),
            None => self.ks.tombs.get(key).map(|t| t.version.clone()),
        }
    }

    /// A new local version on top of `base`.
    fn next_of(&self, base: &Version, now_ms: u64) -> Version {
        base.next(self.cfg.node_tag, now_ms, self.cfg.version_prune_ms)
    }

    /// A new local version on top of the entry at `i`'s. For an entry whose
    /// only writer is this node (nearly every key) that is just a later
    /// stamp, as `Version::next` makes it, with no `Version` assembled.
    #[inline(always)]
    fn next_at(&self, i: usize, now_ms: u64) -> WriteVersion {
        let e = &self.ks.map[i];
        // The stored word equals the tag only with the past flag clear.
        if e.writer == self.cfg.node_tag.get() {
            let stamp = Stamp { hlc: Hlc::from_u64(e.hlc).after(now_ms), writer: self.cfg.node_tag };
            debug_assert_eq!(
                Version::from_parts(stamp, Vec::new()).ok(),
                Some(self.next_of(&self.version_at(i), now_ms))
            );
            return WriteVersion::Solo(stamp);
        }
        WriteVersion::Full(self.next_of(&self.version_at(i), now_ms))
    }

    /// The version of a local write to `key`, which has no entry: on top of
    /// its tombstone (taken out) or, failing that, above its slot's floor.
    fn version_for_new(&mut self, key: &[u8], slot: u16, now_ms: u64) -> WriteVersion {
        if !self.ks.tombs.is_empty() {
            if let Some(t) = self.take_tomb(key, slot) {
                return WriteVersion::Full(self.next_of(&t.version, now_ms));
            }
        }
        let v = Version::first(self.cfg.node_tag, now_ms);
        match self.slot_floor(slot) {
            Some(floor) if v.stamp() <= floor => {
                // Later than the flush, so it is not taken for flushed. The
                // floor's writer is not a dot: the floor is no write of a key.
                let base = Version::from_parts(Stamp { hlc: floor.hlc, writer: self.cfg.node_tag }, Vec::new())
                    .expect("a version with no past is valid");
                WriteVersion::Full(self.next_of(&base, now_ms))
            }
            _ => WriteVersion::Solo(v.stamp()),
        }
    }

    /// Sets the past of `key`'s side-map entry to `past`, given whether it
    /// had one; returns whether it has one now.
    fn replace_past(&mut self, key: &[u8], had: bool, past: &[Dot]) -> bool {
        if had {
            if let Some(p) = self.ks.pasts.remove(key) {
                self.used -= past_mem(key, p.len());
            }
        }
        if past.is_empty() {
            return false;
        }
        self.ks.pasts.insert(Key::new(key), past.into());
        self.used += past_mem(key, past.len());
        true
    }

    /// Gives the entry at `i` (of `key`, in `slot`) the version `v`.
    fn put_version_at(&mut self, i: usize, key: &[u8], slot: u16, v: &WriteVersion) {
        let (stamp, past) = (v.stamp(), v.past());
        let e = &self.ks.map[i];
        let (old, had) = (e.stamp(), e.has_past());
        let has = if had || !past.is_empty() { self.replace_past(key, had, past) } else { false };
        self.ks.map[i].set_stamp(stamp, has);
        self.digest_swap(key, slot, Some(old), Some(stamp));
    }

    /// Stores `value` with `expire_at_ms` and `version` under `key` (at
    /// `found`, or appended): the step every write, local or replicated,
    /// ends with. Keeps the volatile set, used memory, pasts and digest
    /// right, and invalidates WATCHes.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn store(
        &mut self,
        key: &[u8],
        hash: u64,
        slot: u16,
        found: Option<usize>,
        value: Value,
        expire_at_ms: u64,
        version: &WriteVersion,
        access: u32,
        now_ms: u64,
        cause: crate::invalidate::Cause,
    ) -> usize {
        let (stamp, past) = (version.stamp(), version.past());
        let mem = entry_mem(key, &value);
        let mut fresh = Entry { value, expire_at_ms, hlc: 0, access, mem: mem as u32, writer: 0 };
        let new_past = !past.is_empty();
        fresh.set_stamp(stamp, false);
        let (i, old_stamp, had_past) = match found {
            Some(i) => {
                let (k, old) = self.ks.map.get_index_mut(i).expect("index in range");
                let old = std::mem::replace(old, fresh);
                let expired = old.is_expired(now_ms);
                if expired {
                    self.stats.expired += 1;
                }
                self.used = self.used - old.mem as usize + mem;
                match (old.expire_at_ms != 0, expire_at_ms != 0) {
                    (false, true) => {
                        self.ks.volatile.insert(k.clone());
                    }
                    (true, false) => {
                        self.ks.volatile.swap_remove(key);
                    }
                    _ => {}
                }
                if expired && cause == crate::invalidate::Cause::Own {
                    // Redis's lookup before a write deletes the expired key
                    // first (`expired`, then the write's own event). A
                    // replica's apply stays quiet: the coordinator's write
                    // notified it, as a Redis replica leaves expiry to its
                    // master.
                    self.signal(key, crate::invalidate::Cause::Expired);
                }
                (i, Some(old.stamp()), old.has_past())
            }
            None => {
                if expire_at_ms != 0 {
                    self.ks.volatile.insert(Key::new(key));
                }
                self.used += mem;
                (self.ks.map.insert_unique_hashed(key, hash, fresh), None, false)
            }
        };
        if had_past || new_past {
            let has = self.replace_past(key, had_past, past);
            self.ks.map[i].set_stamp(stamp, has);
        }
        self.digest_swap(key, slot, old_stamp, Some(stamp));
        self.signal(key, cause);
        i
    }

    /// Records a local write of `key` for [`take_changed`](Self::take_changed)
    /// and [`local_writes`].
    #[inline]
    fn record(&mut self, key: &[u8]) {
        self.record_from(key, None);
    }

    /// [`record`](Self::record), for a change made in place on an entry
    /// that had the stamp `base` (`None`: any other change).
    #[inline]
    fn record_from(&mut self, key: &[u8], base: Option<Stamp>) {
        count_local_write();
        if self.cfg.journal {
            self.journal_push(key, base);
        }
    }

    #[cold]
    #[inline(never)]
    fn journal_push(&mut self, key: &[u8], base: Option<Stamp>) {
        match self.journal.last_mut() {
            // A second change of the key in a row: what it did is more
            // than one change of the value it found.
            Some((db, k, last)) if *db == self.db && k.as_bytes() == key => *last = None,
            _ => self.journal.push((self.db, Key::new(key), base)),
        }
    }

    /// The keys given a new local version (written or deleted) since the
    /// last call, each with its database, in the order first written, a key repeated only when
    /// other keys were written in between. Empty unless the journal is on
    /// (`DbConfig::journal`). The caller must drain it after every
    /// command (it is the only bound on its size), while it still holds
    /// the lock, and read each key's state ([`version`](Self::version),
    /// [`encode_key`](Self::encode_key)) before unlocking.
    pub fn take_changed(&mut self) -> std::vec::Drain<'_, (u16, Key, Option<Stamp>)> {
        self.journal.drain(..)
    }

    /// Removes the entry at index `i` with no new version and no tombstone
    /// (expiry, eviction, or a replicated write replacing it), keeping
    /// every index consistent.
    fn remove_at(&mut self, i: usize, cause: crate::invalidate::Cause) -> (Key, Entry) {
        let (k, mut e) = self.ks.map.swap_remove_index(i).expect("index in range");
        if e.expire_at_ms != 0 {
            self.ks.volatile.swap_remove(k.as_bytes());
        }
        self.used -= e.mem as usize;
        if e.has_past() {
            self.replace_past(&k, true, &[]);
            let stamp = e.stamp();
            e.set_stamp(stamp, false);
        }
        let slot = ringcache_ring::slot(&k);
        self.digest_swap(&k, slot, Some(e.stamp()), None);
        self.signal(&k, cause);
        (k, e)
    }

    /// A local delete of the entry at `i`: removes it and leaves a
    /// tombstone with a new version (when tombstones are on).
    fn delete_at(&mut self, i: usize, now_ms: u64) -> (Key, Entry) {
        let version = (self.cfg.tombstone_grace_ms > 0).then(|| self.next_of(&self.version_at(i), now_ms));
        let (k, e) = self.remove_at(i, crate::invalidate::Cause::Own);
        if let Some(v) = version {
            let slot = ringcache_ring::slot(&k);
            self.put_tomb(&k, slot, v, now_ms);
        }
        self.record(&k);
        (k, e)
    }

    /// Leaves (or replaces) `key`'s tombstone with `version`, collectable
    /// `tombstone_grace_ms` from now. `key` must have no entry.
    fn put_tomb(&mut self, key: &[u8], slot: u16, version: Version, now_ms: u64) {
        debug_assert!(self.cfg.tombstone_grace_ms > 0);
        let (mem, stamp) = (tomb_mem(key, &version), version.stamp());
        let tomb = Tomb { version, collect_at_ms: now_ms.saturating_add(self.cfg.tombstone_grace_ms) };
        let old = match self.ks.tombs.get_mut(key) {
            Some(t) => Some(std::mem::replace(t, tomb)),
            None => {
                self.ks.tombs.insert(Key::new(key), tomb);
                None
            }
        };
        if let Some(old) = &old {
            self.used -= tomb_mem(key, &old.version);
        }
        self.used += mem;
        self.digest_swap(key, slot, old.map(|t| t.version.stamp()), Some(stamp));
    }

    /// Takes `key`'s tombstone out, if it has one.
    fn take_tomb(&mut self, key: &[u8], slot: u16) -> Option<Tomb> {
        let t = self.ks.tombs.swap_remove(key)?;
        self.used -= tomb_mem(key, &t.version);
        self.digest_swap(key, slot, Some(t.version.stamp()), None);
        Some(t)
    }

    /// One pass of tombstone collection: samples up to `sample` tombstones
    /// and drops those past their time. Returns (sampled, collected).
    pub fn collect_tombstones(&mut self, now_ms: u64, sample: usize) -> (usize, usize) {
        if self.parked.is_empty() {
            return self.collect_tombstones_selected(now_ms, sample);
        }
        let (mut sampled, mut collected) = (0, 0);
        self.each_database(|s| {
            let (n, c) = s.collect_tombstones_selected(now_ms, sample);
            sampled += n;
            collected += c;
        });
        (sampled, collected)
    }

    fn collect_tombstones_selected(&mut self, now_ms: u64, sample: usize) -> (usize, usize) {
        let n = sample.min(self.ks.tombs.len());
        let mut collected = 0;
        for _ in 0..n {
            if self.ks.tombs.is_empty() {
                break;
            }
            let j = self.rng.gen_range(0..self.ks.tombs.len());
            let (_, t) = self.ks.tombs.get_index(j).expect("index in range");
            if t.collect_at_ms <= now_ms {
                let (k, t) = self.ks.tombs.swap_remove_index(j).expect("index in range");
                self.used -= tomb_mem(&k, &t.version);
                self.digest_swap(&k, ringcache_ring::slot(&k), Some(t.version.stamp()), None);
                collected += 1;
            }
        }
        if self.ks.tombs.capacity() > 1024 && self.ks.tombs.len() < self.ks.tombs.capacity() / 8 {
            self.ks.tombs.shrink_to(self.ks.tombs.len() * 2);
        }
        (n, collected)
    }

    /// Index of a live `key`, removing it first if it has expired.
    fn live_index(&mut self, key: &[u8], now_ms: u64) -> Option<usize> {
        self.clock_ms = now_ms;
        let i = self.index_of(key)?;
        if self.ks.map[i].is_expired(now_ms) {
            if self.frozen {
                return None;
            }
            self.remove_at(i, crate::invalidate::Cause::Expired);
            self.stats.expired += 1;
            return None;
        }
        Some(i)
    }

    fn touch(&mut self, i: usize, now_ms: u64) -> &mut Entry {
        if self.no_touch {
            &mut self.ks.map[i]
        } else if self.track_lfu {
            let r: f64 = self.rng.gen();
            let e = &mut self.ks.map[i];
            e.access = lfu_touch(e.access, now_ms, r);
            e
        } else {
            let e = &mut self.ks.map[i];
            e.access = now_ms as u32;
            e
        }
    }

    /// A new entry's access word (see [`Entry::access`]).
    fn fresh_access(&self, now_ms: u64) -> u32 {
        if self.track_lfu {
            lfu_new(now_ms)
        } else {
            now_ms as u32
        }
    }

    /// Sets a live `key`'s access word as RESTORE's IDLETIME and FREQ do
    /// (Redis's `objectSetLRUOrLFU`): the LFU counter under an LFU policy,
    /// else the last access `idle_ms` ago. Not a write: access words are
    /// local to each node and never replicated.
    pub fn set_access(&mut self, key: &[u8], idle_ms: Option<u64>, freq: Option<u8>, now_ms: u64) {
        let Some(i) = self.live_index(key, now_ms) else {
            return;
        };
        let access = match (self.track_lfu, idle_ms, freq) {
            (true, _, Some(f)) => (lfu_new(now_ms) & !0xff) | u32::from(f),
            (false, Some(idle), _) => now_ms.wrapping_sub(idle) as u32,
            _ => return,
        };
        self.ks.map[i].access = access;
    }

    /// Whether accesses update the LFU word rather than the last access
    /// time (see [`Entry::access`]): only LFU policies read it.
    pub fn set_track_lfu(&mut self, on: bool) {
        self.track_lfu = on;
    }

    /// See [`Db::set_frozen`](crate::Db::set_frozen).
    pub(crate) fn set_frozen(&mut self, on: bool) {
        self.frozen = on;
    }

    /// See [`Locked::set_no_touch`](crate::Locked::set_no_touch).
    pub(crate) fn set_no_touch(&mut self, on: bool) {
        self.no_touch = on;
    }

    /// Looks `key` up without using the result, so that the memory a real
    /// lookup will touch is in the cache by then.
    /// `hash` is the key's, as [`Db::hash_key`](crate::Db::hash_key) gives it.
    pub(crate) fn warm(&self, key: &[u8], hash: u64) {
        std::hint::black_box(self.ks.map.get_index_of_hashed(key, hash));
    }

    /// The live entry for `key`, recording an access.
    pub fn get(&mut self, key: &[u8], now_ms: u64) -> Option<&mut Entry> {
        let i = self.live_index(key, now_ms)?;
        Some(self.touch(i, now_ms))
    }

    /// Like [`get`](Self::get), and counts a keyspace hit or miss: for read
    /// commands, as Redis counts them.
    pub fn get_read(&mut self, key: &[u8], now_ms: u64) -> Option<&mut Entry> {
        match self.live_index(key, now_ms) {
            Some(i) => {
                self.stats.hits += 1;
                Some(self.touch(i, now_ms))
            }
            None => {
                self.stats.misses += 1;
                None
            }
        }
    }

    /// The live entry for `key` without recording an access or removing
    /// anything (for TYPE-like introspection and SCAN).
    pub fn peek(&self, key: &[u8], now_ms: u64) -> Option<&Entry> {
        self.index_of(key).map(|i| &self.ks.map[i]).filter(|e| !e.is_expired(now_ms))
    }

    pub fn contains(&mut self, key: &[u8], now_ms: u64) -> bool {
        self.live_index(key, now_ms).is_some()
    }

    /// Stores `value` under `key`, replacing whatever was there, with expiry
    /// `expire_at_ms` (0 = none), as a new local version. Replacing a key
    /// that had expired counts and records it as expired (before the
    /// write), as Redis's lookup before a write does, so a caller need not
    /// look the key up first.
    pub fn set(&mut self, key: &[u8], value: Value, expire_at_ms: u64, now_ms: u64) {
        self.clock_ms = now_ms;
        let (hash, slot) = self.hash_and_slot(key);
        let found = self.ks.map.get_index_of_hashed(key, hash);
        let version = match found {
            Some(i) => self.next_at(i, now_ms),
            None => self.version_for_new(key, slot, now_ms),
        };
        let access = self.fresh_access(now_ms);
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
            crate::invalidate::Cause::Own,
        );
        self.record(key);
    }

    /// Stores `value` under `key`, keeping the existing key's TTL (KEEPTTL).
    pub fn set_keep_ttl(&mut self, key: &[u8], value: Value, now_ms: u64) {
        let ttl = self.live_index(key, now_ms).map_or(0, |i| self.ks.map[i].expire_at_ms);
        self.set(key, value, ttl, now_ms);
    }

    /// The live entry for `key`, created with `make()` (and no TTL, as a
    /// new local version) if absent. Call [`written`](Self::written) after
    /// changing it.
    pub fn get_or_insert_with(&mut self, key: &[u8], now_ms: u64, make: impl FnOnce() -> Value) -> &mut Entry {
        let i = match self.live_index(key, now_ms) {
            Some(i) => i,
            None => {
                let (hash, slot) = self.hash_and_slot(key);
                let version = self.version_for_new(key, slot, now_ms);
                let access = self.fresh_access(now_ms);
                let i = self.store(
                    key,
                    hash,
                    slot,
                    None,
                    make(),
                    0,
                    &version,
                    access,
                    now_ms,
                    crate::invalidate::Cause::Own,
                );
                self.record(key);
                i
            }
        };
        self.touch(i, now_ms)
    }

    /// Must follow every change made through [`Entry::value_mut`]: makes a
    /// new local version (at the time of the shard's latest lookup, which
    /// found the entry), updates the accounted size, deletes the key if its
    /// collection is now empty (leaving a tombstone), and invalidates
    /// WATCHes on it.
    pub fn written(&mut self, key: &[u8]) {
        if let Some(i) = self.index_of(key) {
            let now_ms = self.clock_ms;
            if self.ks.map[i].value.is_empty_collection() {
                self.delete_at(i, now_ms);
                return;
            }
            let (k, e) = self.ks.map.get_index_mut(i).expect("index in range");
            let mem = entry_mem(k, &e.value);
            self.used = self.used - e.mem as usize + mem;
            e.mem = mem as u32;
            let base = e.stamp();
            let version = self.next_at(i, now_ms);
            let slot = self.slot_of(key);
            self.put_version_at(i, key, slot, &version);
            self.record_from(key, Some(base));
        }
        self.signal(key, crate::invalidate::Cause::Own);
    }

    /// Deletes `key` as a new local version (leaving a tombstone when they
    /// are on), returning its entry if it was live.
    pub fn remove(&mut self, key: &[u8], now_ms: u64) -> Option<Entry> {
        let i = self.live_index(key, now_ms)?;
        Some(self.delete_at(i, now_ms).1)
    }

    /// Inserts a whole entry (value, TTL and access word) taken from
    /// elsewhere, e.g. by RENAME, replacing any existing key: a new local
    /// version of `key` (the entry's own version is its old key's).
    pub fn insert_entry(&mut self, key: &[u8], entry: Entry, now_ms: u64) {
        let (expire, access) = (entry.expire_at_ms, entry.access);
        self.set(key, entry.value, expire, now_ms);
        if let Some(i) = self.index_of(key) {
            let e = &mut self.ks.map[i];
            e.access = access;
        }
    }

    /// Sets the absolute expiry of a live `key` (a new local version);
    /// false if there is no such key. A time not after `now_ms` deletes the
    /// key, as Redis does.
    pub fn set_expire(&mut self, key: &[u8], expire_at_ms: u64, now_ms: u64) -> bool {
        let Some(i) = self.live_index(key, now_ms) else {
            return false;
        };
        if expire_at_ms <= now_ms {
            self.delete_at(i, now_ms);
            return true;
        }
        let (k, e) = self.ks.map.get_index_mut(i).expect("index in range");
        if e.expire_at_ms == 0 {
            self.ks.volatile.insert(k.clone());
        }
        e.expire_at_ms = expire_at_ms;
        self.new_version_at(i, key, now_ms);
        self.signal(key, crate::invalidate::Cause::Own);
        true
    }

    /// Removes the TTL of a live `key` (a new local version); true if it
    /// had one.
    pub fn persist(&mut self, key: &[u8], now_ms: u64) -> bool {
        let Some(i) = self.live_index(key, now_ms) else {
            return false;
        };
        let e = &mut self.ks.map[i];
        if e.expire_at_ms == 0 {
            return false;
        }
        e.expire_at_ms = 0;
        self.ks.volatile.swap_remove(key);
        self.new_version_at(i, key, now_ms);
        self.signal(key, crate::invalidate::Cause::Own);
        true
    }

    /// Gives the entry at `i` a new local version, journaled.
    fn new_version_at(&mut self, i: usize, key: &[u8], now_ms: u64) {
        let version = self.next_at(i, now_ms);
        let slot = self.slot_of(key);
        self.put_version_at(i, key, slot, &version);
        self.record(key);
    }

    /// Drops every key of the selected database (FLUSHDB), invalidating
    /// its WATCHes. With tombstones on, every slot of the shard gets a
    /// flush floor in this database above every version it held (and
    /// `now_ms`): an owner that missed the flush cannot bring a flushed
    /// write back, whatever the number of keys. Not journaled: the caller
    /// replicates a flush per slot, with [`slot_floor`](Self::slot_floor).
    pub fn clear(&mut self, now_ms: u64) {
        drop(self.take_cleared(now_ms));
    }

    /// [`clear`](Self::clear), handing back what it removed (its keys and
    /// their values, nothing the shard still needs), so that the caller
    /// can drop it elsewhere (FLUSHDB ASYNC), with its number of keys.
    fn take_cleared(&mut self, now_ms: u64) -> (Keyspace, usize) {
        if self.invalidation.load(Relaxed) & crate::invalidate::TRACK != 0 {
            crate::invalidate::push(crate::invalidate::Change::Flush);
        }
        let floors = (self.cfg.tombstone_grace_ms > 0).then(|| {
            let mut top: Vec<Hlc> = match &self.ks.floors {
                Some(f) => f.iter().map(|s| s.map_or(Hlc::ZERO, |s| s.hlc)).collect(),
                None => vec![Hlc::ZERO; self.digests.len()],
            };
            for (k, e) in self.ks.map.iter() {
                let l = self.local(ringcache_ring::slot(k));
                top[l] = top[l].max(e.stamp().hlc);
            }
            for (k, t) in &self.ks.tombs {
                let l = self.local(ringcache_ring::slot(k));
                top[l] = top[l].max(t.version.stamp().hlc);
            }
            let writer = self.cfg.node_tag;
            top.into_iter().map(|h| Some(Stamp { hlc: h.after(now_ms), writer })).collect::<Box<[_]>>()
        });
        let old = std::mem::take(&mut self.ks);
        if !old.map.is_empty() {
            count_local_write();
        }
        // Flip this database's contributions out of the digests (the other
        // databases' stay), and its old floors' too.
        let db = self.db;
        for (k, e) in old.map.iter() {
            let l = self.local(ringcache_ring::slot(k));
            self.digests[l] ^= digest::entry_digest(db, k, e.stamp());
            self.used -= e.mem as usize;
        }
        for (k, t) in &old.tombs {
            let l = self.local(ringcache_ring::slot(k));
            self.digests[l] ^= digest::entry_digest(db, k, t.version.stamp());
            self.used -= tomb_mem(k, &t.version);
        }
        for (k, p) in &old.pasts {
            self.used -= past_mem(k, p.len());
        }
        if let Some(f) = &old.floors {
            for (d, s) in self.digests.iter_mut().zip(f.iter()) {
                *d ^= s.map_or(0, |s| digest::floor_digest(db, s));
            }
        }
        if let Some(f) = floors {
            for (d, s) in self.digests.iter_mut().zip(f.iter()) {
                *d ^= s.map_or(0, |s| digest::floor_digest(db, s));
            }
            self.ks.floors = Some(f);
        }
        let mut old = old;
        self.ks.watched = std::mem::take(&mut old.watched);
        for w in self.ks.watched.values_mut() {
            w.0 += 1;
        }
        let keys = old.map.len();
        (old, keys)
    }

    /// [`clear`](Self::clear) for FLUSHDB ASYNC: what it removed, if any,
    /// goes into `out` (to be dropped elsewhere); returns its number of keys.
    pub fn clear_into(&mut self, now_ms: u64, out: &mut Vec<Box<dyn Send>>) -> usize {
        let (old, keys) = self.take_cleared(now_ms);
        if !old.is_blank() {
            out.push(Box::new(old));
        }
        keys
    }

    /// Drops every key of every database (FLUSHALL); see [`clear`](Self::clear).
    pub fn clear_all(&mut self, now_ms: u64) {
        self.clear_all_into(now_ms, &mut Vec::new());
    }

    /// [`clear_all`](Self::clear_all) for FLUSHALL ASYNC, as
    /// [`clear_into`](Self::clear_into) is for FLUSHDB.
    pub fn clear_all_into(&mut self, now_ms: u64, out: &mut Vec<Box<dyn Send>>) -> usize {
        // Even with nothing to clear: a flush is heard of all the same.
        if self.invalidation.load(Relaxed) & crate::invalidate::TRACK != 0 {
            crate::invalidate::push(crate::invalidate::Change::Flush);
        }
        let mut keys = 0;
        self.each_database(|s| keys += s.clear_into(now_ms, out));
        keys
    }

    /// Exchanges databases `a` and `b` (SWAPDB): O(databases of the
    /// shard), whatever the number of keys, except for the digests, which
    /// are recomputed from the two databases' keys (a key's contribution
    /// depends on its database). WATCHes stay with their database and are
    /// invalidated on both sides, as in Redis. Not journaled.
    pub fn swap_databases(&mut self, a: u16, b: u16) {
        if a == b {
            return;
        }
        let back = self.db;
        let take = |s: &mut Shard, db: u16| {
            s.select(db);
            s.digest_flip_all();
            let ks = std::mem::take(&mut s.ks);
            (ks.watched.clone(), ks)
        };
        let (watched_a, ks_a) = take(self, a);
        let (watched_b, ks_b) = take(self, b);
        for (db, mut ks, watched) in [(a, ks_b, watched_a), (b, ks_a, watched_b)] {
            self.select(db);
            ks.watched = watched;
            for w in ks.watched.values_mut() {
                w.0 += 1;
            }
            self.ks = ks;
            self.digest_flip_all();
        }
        self.select(back);
    }

    /// Flips every contribution of the selected database (entries,
    /// tombstones, floors) into or out of the digests.
    fn digest_flip_all(&mut self) {
        let db = self.db;
        let mut flips: Vec<(usize, u64)> = Vec::new();
        for (k, e) in self.ks.map.iter() {
            flips.push((self.local(ringcache_ring::slot(k)), digest::entry_digest(db, k, e.stamp())));
        }
        for (k, t) in &self.ks.tombs {
            flips.push((self.local(ringcache_ring::slot(k)), digest::entry_digest(db, k, t.version.stamp())));
        }
        for (l, d) in flips {
            self.digests[l] ^= d;
        }
        if let Some(f) = &self.ks.floors {
            for (d, s) in self.digests.iter_mut().zip(f.iter()) {
                *d ^= s.map_or(0, |s| digest::floor_digest(db, s));
            }
        }
    }

    /// A random live key.
    pub fn random_key(&mut self, now_ms: u64) -> Option<Bytes> {
        // Retry a bounded number of times past expired keys, removing them.
        for _ in 0..100 {
            if self.ks.map.is_empty() {
                return None;
            }
            let i = self.rng.gen_range(0..self.ks.map.len());
            if self.ks.map[i].is_expired(now_ms) {
                self.remove_at(i, crate::invalidate::Cause::Expired);
                self.stats.expired += 1;
                continue;
            }
            return Some(self.ks.map.get_index(i).expect("index in range").0.to_bytes());
        }
        None
    }

    /// Visits up to `count` positions of this shard, starting at `cursor`
    /// (0 = a fresh start), pushing the live keys that pass `filter` into
    /// `out`. Returns the cursor to continue from, 0 when the shard is done.
    ///
    /// Positions are visited from the highest down: removal swaps the last
    /// entry into the hole, so an entry that moves has always been visited
    /// already (a duplicate at worst) and a key present for the whole scan
    /// is never missed.
    pub fn scan(
        &self,
        cursor: usize,
        count: usize,
        now_ms: u64,
        filter: ScanFilter<'_>,
        out: &mut Vec<Bytes>,
    ) -> usize {
        let mut next = if cursor == 0 { self.ks.map.len() } else { cursor.min(self.ks.map.len()) };
        let mut visited = 0;
        while next > 0 && visited < count {
            next -= 1;
            visited += 1;
            let (k, e) = self.ks.map.get_index(next).expect("index in range");
            if !e.is_expired(now_ms) && filter.keeps(k, &e.value) {
                out.push(k.to_bytes());
            }
        }
        next
    }

    /// Every live key matching `pattern` (KEYS).
    pub fn keys_matching(&self, pattern: &[u8], now_ms: u64, out: &mut Vec<Bytes>) {
        let all = pattern == b"*";
        out.extend(
            self.ks
                .map
                .iter()
                .filter(|(k, e)| !e.is_expired(now_ms) && (all || glob_match(pattern, k)))
                .map(|(k, _)| k.to_bytes()),
        );
    }

    /// Pushes into `out` the live keys that `keep` accepts, until `out`
    /// holds `max` keys. Visits every entry: there is no index by anything
    /// but the key (CLUSTER GETKEYSINSLOT filters by slot this way).
    pub fn keys_where(&self, now_ms: u64, max: usize, keep: &mut dyn FnMut(&[u8]) -> bool, out: &mut Vec<Bytes>) {
        for (k, e) in self.ks.map.iter() {
            if out.len() >= max {
                return;
            }
            if !e.is_expired(now_ms) && keep(k) {
                out.push(k.to_bytes());
            }
        }
    }

    /// The number of live keys that `keep` accepts; visits every entry.
    pub fn count_where(&self, now_ms: u64, keep: &mut dyn FnMut(&[u8]) -> bool) -> usize {
        self.ks.map.iter().filter(|(k, e)| !e.is_expired(now_ms) && keep(k)).count()
    }

    /// Starts watching `key`, returning its modification count now.
    pub fn watch(&mut self, key: &[u8], now_ms: u64) -> u64 {
        // An already-expired key counts as modified by its expiry.
        self.live_index(key, now_ms);
        let w = self.ks.watched.entry(Bytes::copy_from_slice(key)).or_insert((0, 0));
        w.1 += 1;
        w.0
    }

    /// Stops one watcher of `key`.
    pub fn unwatch(&mut self, key: &[u8]) {
        if let Some(w) = self.ks.watched.get_mut(key) {
            w.1 -= 1;
            if w.1 == 0 {
                self.ks.watched.remove(key);
            }
        }
    }

    /// The modification count of a watched `key`, after applying any expiry
    /// that is due.
    pub fn watch_version(&mut self, key: &[u8], now_ms: u64) -> u64 {
        self.live_index(key, now_ms);
        self.ks.watched.get(key).map_or(u64::MAX, |w| w.0)
    }

    /// A key's state changed (see `crate::invalidate` for `cause`): WATCHes on it are invalidated, and tracking
    /// hears of it.
    fn signal(&mut self, key: &[u8], cause: crate::invalidate::Cause) {
        if !self.ks.watched.is_empty() {
            if let Some(w) = self.ks.watched.get_mut(key) {
                w.0 += 1;
            }
        }
        let switch = self.invalidation.load(Relaxed);
        if switch != 0 && (switch & crate::invalidate::TRACK != 0 || cause.is_gone()) {
            let change = crate::invalidate::Change::Key { db: self.db, key: Bytes::copy_from_slice(key), cause };
            crate::invalidate::push(change);
        }
    }

    /// One pass of active expiry: samples up to `sample` keys with a TTL and
    /// removes the expired ones. Returns (sampled, expired) so the caller can
    /// decide whether another pass is worth it.
    pub fn active_expire(&mut self, now_ms: u64, sample: usize) -> (usize, usize) {
        if self.parked.is_empty() {
            return self.active_expire_selected(now_ms, sample);
        }
        let (mut sampled, mut expired) = (0, 0);
        self.each_database(|s| {
            let (n, e) = s.active_expire_selected(now_ms, sample);
            sampled += n;
            expired += e;
        });
        (sampled, expired)
    }

    /// [`active_expire`](Self::active_expire) in the selected database.
    fn active_expire_selected(&mut self, now_ms: u64, sample: usize) -> (usize, usize) {
        let mut expired = 0;
        let n = sample.min(self.ks.volatile.len());
        for _ in 0..n {
            if self.ks.volatile.is_empty() {
                break;
            }
            let j = self.rng.gen_range(0..self.ks.volatile.len());
            let key = self.ks.volatile.get_index(j).expect("index in range");
            if let Some(i) = self.index_of(key) {
                if self.ks.map[i].is_expired(now_ms) {
                    self.remove_at(i, crate::invalidate::Cause::Expired);
                    self.stats.expired += 1;
                    expired += 1;
                }
            }
        }
        // Give memory back once most of a once-large table is gone.
        if self.ks.map.capacity() > 1024 && self.ks.map.len() < self.ks.map.capacity() / 8 {
            self.ks.map.shrink_to(self.ks.map.len() * 2);
        }
        (n, expired)
    }

    /// Index of the `j`-th candidate under `policy`: keys with a TTL only
    /// for the volatile policies.
    fn candidate_index(&self, policy: Policy, j: usize) -> usize {
        if policy.volatile_only() {
            let key = self.ks.volatile.get_index(j).expect("index in range");
            self.index_of(key).expect("volatile keys are in the map")
        } else {
            j
        }
    }

    fn candidate_count(&self, policy: Policy) -> usize {
        if policy == Policy::NoEviction {
            0
        } else if policy.volatile_only() {
            self.ks.volatile.len()
        } else {
            self.ks.map.len()
        }
    }

    /// Selects a database holding eviction candidates under `policy`,
    /// each with a chance in proportion to its number of candidates, so
    /// that eviction treats all keys of the shard alike whatever their
    /// database. Keeps the selection when only it has keys.
    fn select_for_eviction(&mut self, policy: Policy) {
        if self.parked.is_empty() {
            return;
        }
        let count = |ks: &Keyspace| match policy {
            Policy::NoEviction => 0,
            p if p.volatile_only() => ks.volatile.len(),
            _ => ks.map.len(),
        };
        let total = count(&self.ks) + self.parked.values().map(count).sum::<usize>();
        if total == 0 {
            return;
        }
        let mut r = self.rng.gen_range(0..total);
        if r < count(&self.ks) {
            return;
        }
        r -= count(&self.ks);
        let pick = self.parked.iter().find_map(|(&db, ks)| {
            let n = count(ks);
            if r < n {
                Some(db)
            } else {
                r -= n;
                None
            }
        });
        if let Some(db) = pick {
            self.select(db);
        }
    }

    /// Evicts the best of `samples` candidates of this shard under `policy`
    /// (one random key for the random policies), returning the bytes freed,
    /// or `None` if this shard has no candidate.
    pub fn evict_one(&mut self, policy: Policy, samples: usize, now_ms: u64) -> Option<usize> {
        self.select_for_eviction(policy);
        let pool = self.candidate_count(policy);
        if pool == 0 {
            return None;
        }
        let mut best: Option<(usize, u64)> = None;
        let rounds = if policy.is_random() { 1 } else { samples.max(1) };
        for _ in 0..rounds {
            let j = self.rng.gen_range(0..pool);
            let i = self.candidate_index(policy, j);
            let score = eviction::score(policy, &self.ks.map[i], now_ms);
            if best.is_none_or(|(_, s)| score > s) {
                best = Some((i, score));
            }
        }
        let (i, _) = best?;
        Some(self.evict_at(i))
    }

    /// Eviction is local: no new version, no tombstone (see
    /// docs/replication.md).
    fn evict_at(&mut self, i: usize) -> usize {
        let before = self.used;
        self.remove_at(i, crate::invalidate::Cause::Evicted);
        self.stats.evicted += 1;
        before - self.used
    }

    /// Adds up to `samples` candidates under `policy` of one database to
    /// `out`, as (score, database, key), for the eviction pool: every candidate when the shard has no
    /// more than that, else a random sample.
    pub(crate) fn sample_for_eviction(
        &mut self,
        policy: Policy,
        samples: usize,
        now_ms: u64,
        out: &mut Vec<(u64, u16, Bytes)>,
    ) {
        self.select_for_eviction(policy);
        let pool = self.candidate_count(policy);
        let all = pool <= samples;
        for n in 0..samples.min(pool) {
            let j = if all { n } else { self.rng.gen_range(0..pool) };
            let i = self.candidate_index(policy, j);
            let (k, e) = self.ks.map.get_index(i).expect("index in range");
            out.push((eviction::score(policy, e, now_ms), self.db, k.to_bytes()));
        }
    }

    /// Evicts `key`, a pool candidate sampled with `score`, if it still is
    /// one at least that good.
    pub(crate) fn evict_candidate(&mut self, db: u16, key: &[u8], policy: Policy, score: u64, now_ms: u64) -> Evicted {
        self.select(db);
        let Some(i) = self.index_of(key) else {
            return Evicted::Gone;
        };
        let e = &self.ks.map[i];
        if policy.volatile_only() && e.expire_at_ms == 0 {
            return Evicted::Gone;
        }
        let now = eviction::score(policy, e, now_ms);
        if now < score {
            // Used (or given a later expiry) since it was sampled.
            return Evicted::Rescored(now);
        }
        Evicted::Freed(self.evict_at(i))
    }

    /// Iterates over live entries (for introspection such as DEBUG-like
    /// commands and tests).
    pub fn iter(&self, now_ms: u64) -> impl Iterator<Item = (&[u8], &Entry)> {
        self.ks.map.iter().filter(move |(_, e)| !e.is_expired(now_ms)).map(|(k, e)| (k.as_bytes(), e))
    }
}

#[cfg(test)]
mod tests {
    use ringcache_version::Order;

    use super::*;
    use crate::codec::{self, Incoming};
    use crate::tomb::TOMBSTONE_OVERHEAD;

    #[test]
    fn a_table_slot_is_96_bytes() {
        // Key (24) + Entry (Value 40, expiry 8, stamp's HLC 8, access word
        // 4, mem 4, writer tag 4, padding 4): the figure docs/store.md and
        // ENTRY_OVERHEAD build on. 96 is the budget.
        assert_eq!(std::mem::size_of::<Entry>(), 72);
        assert_eq!(std::mem::size_of::<(Key, Entry)>(), 96);
    }

    #[test]
    fn memory_accounting_follows_changes() {
        let mut s = Shard::new();
        // Short keys and strings live in the slot: only the overhead.
        s.set(b"k", Value::string(b"abc"), 0, 1);
        assert_eq!(s.used_memory(), ENTRY_OVERHEAD);
        // Bytes outside the slot are charged on top.
        let long = [b'v'; 100];
        s.set(b"k", Value::string(&long), 0, 1);
        assert_eq!(s.used_memory(), ENTRY_OVERHEAD + 100);
        // A change in place is folded in by `written`.
        s.get(b"k", 1).unwrap().value_mut().as_str_mut().unwrap().edit(|b| b.truncate(50));
        s.written(b"k");
        assert_eq!(s.used_memory(), ENTRY_OVERHEAD + 50);
        let long_key = [b'k'; 30];
        s.set(&long_key, Value::string(b"x"), 0, 1);
        assert_eq!(s.used_memory(), 2 * ENTRY_OVERHEAD + 50 + 30);
        s.remove(&long_key, 1);
        let e = s.get_or_insert_with(b"h", 1, || Value::Hash(Box::default()));
        e.value_mut().as_hash_mut().unwrap().insert(b"f", b"v");
        s.written(b"h");
        let h_mem = ENTRY_OVERHEAD + 2 + crate::value::ELEMENT_OVERHEAD;
        assert_eq!(s.used_memory(), ENTRY_OVERHEAD + 50 + h_mem);
        // Emptying a collection removes the key.
        s.get(b"h", 1).unwrap().value_mut().as_hash_mut().unwrap().remove(b"f");
        s.written(b"h");
        assert!(!s.contains(b"h", 1));
        s.remove(b"k", 1);
        assert_eq!(s.used_memory(), 0);
    }

    #[test]
    fn lazy_and_active_expiry() {
        let mut s = Shard::new();
        s.set(b"a", Value::string(b"1"), 100, 1);
        s.set(b"b", Value::string(b"1"), 0, 1);
        assert!(s.get(b"a", 99).is_some());
        assert!(s.get(b"a", 100).is_none());
        assert_eq!(s.stats().expired, 1);
        for i in 0..50u32 {
            s.set(&i.to_be_bytes(), Value::string(b"x"), 200, 1);
        }
        let mut expired = 0;
        while s.volatile_len() > 0 {
            expired += s.active_expire(300, 20).1;
        }
        assert_eq!(expired, 50);
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn overwriting_an_expired_key_counts_it_expired() {
        let mut s = Shard::new();
        s.set(b"a", Value::string(b"1"), 100, 1);
        s.set(b"a", Value::string(b"2"), 0, 50);
        assert_eq!(s.stats().expired, 0, "it was live");
        s.set(b"b", Value::string(b"1"), 100, 1);
        s.set(b"b", Value::string(b"2"), 0, 100);
        assert_eq!(s.stats().expired, 1);
        assert_eq!((s.len(), s.volatile_len()), (2, 0));
        assert!(s.get(b"b", 1000).is_some(), "the new value has no TTL");
    }

    #[test]
    fn scan_sees_stable_keys_despite_removals() {
        let mut s = Shard::new();
        for i in 0..100u32 {
            s.set(format!("k{i}").as_bytes(), Value::string(b"v"), 0, 1);
        }
        let mut seen = Vec::new();
        let mut cursor = 0;
        let mut removed = 0;
        loop {
            cursor = s.scan(cursor, 7, 1, ScanFilter::default(), &mut seen);
            // Remove an unvisited-or-visited key each round.
            if removed < 10 {
                s.remove(format!("k{}", removed * 3).as_bytes(), 1);
                removed += 1;
            }
            if cursor == 0 {
                break;
            }
        }
        for i in 0..100u32 {
            if i % 3 == 0 && i / 3 < 10 {
                continue;
            }
            assert!(seen.iter().any(|k| k == format!("k{i}").as_bytes()), "k{i} missed");
        }
    }

    #[test]
    fn watch_versions_change_on_write_and_expiry() {
        let mut s = Shard::new();
        let v0 = s.watch(b"k", 1);
        assert_eq!(s.watch_version(b"k", 1), v0);
        s.set(b"k", Value::string(b"x"), 10, 1);
        let v1 = s.watch_version(b"k", 1);
        assert_ne!(v1, v0);
        assert_ne!(s.watch_version(b"k", 20), v1, "expiry counts as a modification");
        s.unwatch(b"k");
        assert!(s.ks.watched.is_empty());
    }

    #[test]
    fn eviction_prefers_idle_keys_under_lru() {
        let mut s = Shard::new();
        s.set(b"old", Value::string(b"v"), 0, 1_000);
        s.set(b"new", Value::string(b"v"), 0, 100_000);
        s.evict_one(Policy::AllKeysLru, 50, 100_001).unwrap();
        assert!(s.contains(b"new", 100_001));
        assert!(!s.contains(b"old", 100_001));
        assert_eq!(s.evict_one(Policy::VolatileLru, 5, 1), None);
    }

    const A: u32 = 1;
    const B: u32 = 2;

    fn tag(n: u32) -> NodeTag {
        NodeTag::new(n).unwrap()
    }

    /// A shard holding every slot, for node `me`, with tombstones kept
    /// for 1000 ms and the journal on.
    fn shard_of(me: u32) -> Shard {
        Shard::with_config(ShardConfig {
            node_tag: tag(me),
            tombstone_grace_ms: 1000,
            journal: true,
            ..ShardConfig::default()
        })
    }

    fn changed(s: &mut Shard) -> Vec<Vec<u8>> {
        s.take_changed().map(|(_, k, _)| k.to_vec()).collect()
    }

    /// The digest of `slot` recomputed from scratch, over every database.
    fn digest_from_scratch(s: &Shard, slot: u16) -> u64 {
        let mut d = 0;
        for db in s.databases() {
            let ks = s.keyspace(db).unwrap();
            d ^= ks.floors.as_ref().and_then(|f| f[s.local(slot)]).map_or(0, |f| digest::floor_digest(db, f));
            for (k, e) in ks.map.iter() {
                if ringcache_ring::slot(k) == slot {
                    d ^= digest::entry_digest(db, k, e.stamp());
                }
            }
            for (k, t) in &ks.tombs {
                if ringcache_ring::slot(k) == slot {
                    d ^= digest::entry_digest(db, k, t.version.stamp());
                }
            }
        }
        d
    }

    #[test]
    fn purging_slots_drops_their_entries_and_tombstones_in_every_database() {
        let mut s = shard_of(A);
        // Keys of two slots ({a} and {b} tags), live and deleted, in two
        // databases.
        let (a, b) = (ringcache_ring::slot(b"{a}"), ringcache_ring::slot(b"{b}"));
        for db in [0, 5] {
            s.select(db);
            for k in [&b"{a}1"[..], b"{a}2", b"{a}3", b"{b}1", b"{b}2"] {
                s.set(k, Value::string(b"v"), 0, 1000);
            }
            s.remove(b"{a}3", 1001);
            s.remove(b"{b}2", 1001);
        }
        s.select(0);
        changed(&mut s);
        let before = s.used_memory();
        assert_eq!(s.purge_slots(|slot| slot == a), 2 * 3, "two entries and a tombstone per database");
        for db in [0, 5] {
            s.select(db);
            assert!(!s.contains(b"{a}1", 1002) && !s.contains(b"{a}2", 1002));
            assert!(s.contains(b"{b}1", 1002), "another slot is kept");
        }
        s.select(0);
        assert_eq!(s.slot_digest(a), 0);
        assert_eq!(s.slot_digest(a), digest_from_scratch(&s, a));
        assert_eq!(s.slot_digest(b), digest_from_scratch(&s, b));
        assert!(s.slot_digest(b) != 0);
        assert!(s.used_memory() < before);
        assert!(changed(&mut s).is_empty(), "purging journals nothing");
    }

    #[test]
    fn every_local_write_makes_a_later_version_by_this_node() {
        let mut s = shard_of(A);
        s.set(b"k", Value::string(b"1"), 0, 1000);
        let v1 = s.version(b"k").unwrap();
        assert_eq!(v1.stamp().writer, tag(A));
        assert_eq!(v1.stamp().hlc, Hlc::new(1000, 0));
        assert_eq!(s.peek(b"k", 1000).unwrap().stamp(), v1.stamp());
        // Same millisecond: the logical counter moves on.
        s.set(b"k", Value::string(b"2"), 0, 1000);
        let v2 = s.version(b"k").unwrap();
        assert_eq!(v2.compare(&v1), Order::After);
        s.set_keep_ttl(b"k", Value::string(b"3"), 1001);
        let v3 = s.version(b"k").unwrap();
        assert_eq!(v3.compare(&v2), Order::After);
        assert!(s.set_expire(b"k", 5000, 1002));
        let v4 = s.version(b"k").unwrap();
        assert_eq!(v4.compare(&v3), Order::After);
        assert!(s.persist(b"k", 1003));
        let v5 = s.version(b"k").unwrap();
        assert_eq!(v5.compare(&v4), Order::After);
        assert!(!s.persist(b"k", 1003), "no change, no version");
        assert_eq!(s.version(b"k").unwrap(), v5);
        s.get_or_insert_with(b"h", 1004, || Value::Hash(Box::default()))
            .value_mut()
            .as_hash_mut()
            .unwrap()
            .insert(b"f", b"v");
        let h1 = s.version(b"h").unwrap();
        s.written(b"h");
        let h2 = s.version(b"h").unwrap();
        assert_eq!(h2.compare(&h1), Order::After);
        // RENAME: the destination gets a new version on top of its own.
        let e = s.remove(b"k", 1005).unwrap();
        s.insert_entry(b"h", e, 1006);
        assert_eq!(s.version(b"h").unwrap().compare(&h2), Order::After);
        assert_eq!(changed(&mut s), [&b"k"[..], b"h", b"k", b"h"].map(|k| k.to_vec()));
        assert!(changed(&mut s).is_empty());
    }

    #[test]
    fn expiry_and_eviction_make_no_versions_nor_tombstones() {
        let mut s = shard_of(A);
        s.set(b"a", Value::string(b"1"), 100, 1);
        s.set(b"b", Value::string(b"1"), 0, 1);
        changed(&mut s);
        assert!(s.get(b"a", 100).is_none());
        s.evict_one(Policy::AllKeysRandom, 1, 200).unwrap();
        assert_eq!((s.len(), s.tombstones_len()), (0, 0));
        assert!(changed(&mut s).is_empty());
        assert_eq!(s.used_memory(), 0);
        assert_eq!(s.slot_digest(ringcache_ring::slot(b"a")), 0);
    }

    #[test]
    fn a_delete_leaves_a_tombstone_that_a_new_write_builds_on() {
        let mut s = shard_of(A);
        s.set(b"k", Value::string(b"1"), 0, 1000);
        let v1 = s.version(b"k").unwrap();
        let before = s.used_memory();
        assert!(s.remove(b"k", 1001).is_some());
        assert!(s.peek(b"k", 1001).is_none(), "lookups never see tombstones");
        assert!(!s.contains(b"k", 1001));
        let dead = s.version(b"k").unwrap();
        assert_eq!(dead.compare(&v1), Order::After);
        assert_eq!(s.used_memory(), before - ENTRY_OVERHEAD + TOMBSTONE_OVERHEAD);
        // A write at an earlier wall time still dominates the delete.
        s.set(b"k", Value::string(b"2"), 0, 10);
        assert_eq!(s.version(b"k").unwrap().compare(&dead), Order::After);
        assert_eq!(s.tombstones_len(), 0);
        assert_eq!(s.used_memory(), before);
        // Emptying a collection deletes it, with a tombstone.
        let e = s.get_or_insert_with(b"l", 1002, || Value::List(Box::default()));
        e.value_mut().as_list_mut().unwrap().push_back(b"x");
        s.written(b"l");
        s.get(b"l", 1003).unwrap().value_mut().as_list_mut().unwrap().pop_back();
        s.written(b"l");
        assert!(s.peek(b"l", 1003).is_none());
        assert_eq!(s.tombstones_len(), 1);
        // A past expiry deletes too.
        assert!(s.set_expire(b"k", 5, 1004));
        assert_eq!(s.tombstones_len(), 2);
        // Collected once past their time, by bounded passes.
        assert_eq!(s.collect_tombstones(1500, 20), (2, 0));
        while s.tombstones_len() > 0 {
            s.collect_tombstones(3000, 20);
        }
        assert_eq!(s.used_memory(), 0);
        assert_eq!(digest_from_scratch(&s, ringcache_ring::slot(b"k")), 0);
        assert_eq!(s.slot_digest(ringcache_ring::slot(b"k")), 0);
    }

    #[test]
    fn without_grace_there_are_no_tombstones() {
        let mut s = Shard::new();
        s.set(b"k", Value::string(b"1"), 0, 1000);
        s.remove(b"k", 1001);
        assert_eq!((s.tombstones_len(), s.used_memory()), (0, 0));
        assert!(s.version(b"k").is_none());
        s.clear(2000);
        assert!(s.slot_floor(0).is_none(), "a standalone flush keeps no floor");
    }

    #[test]
    fn a_flush_floor_covers_every_flushed_write_and_later_writes_pass_it() {
        let mut s = shard_of(A);
        // A write stamped in the future (another writer's clock skew).
        let future = Version::first(tag(B), 9_000);
        s.apply(b"x", future.clone(), Incoming::Value { value: Value::string(b"f"), expire_at_ms: 0 }, 1000);
        s.set(b"y", Value::string(b"y"), 0, 1000);
        s.remove(b"y", 1001);
        s.clear(2000);
        assert_eq!((s.len(), s.tombstones_len(), s.used_memory()), (0, 0, 0));
        let floor = s.slot_floor(ringcache_ring::slot(b"x")).unwrap();
        assert!(floor > future.stamp());
        assert_eq!(s.slot_floor(0).unwrap().hlc, Hlc::new(2000, 0), "an empty slot's floor is the flush time");
        // A stale owner cannot bring back a flushed write.
        let applied = s.apply(b"x", future, Incoming::Value { value: Value::string(b"f"), expire_at_ms: 0 }, 2001);
        assert_eq!(applied, Applied::Kept);
        assert!(s.peek(b"x", 2001).is_none());
        // A new local write passes the floor even with a slower clock.
        s.set(b"x", Value::string(b"n"), 0, 2001);
        let v = s.version(b"x").unwrap();
        assert!(v.stamp() > floor);
        assert!(v.past().is_empty());
        for slot in [ringcache_ring::slot(b"x"), 0] {
            assert_eq!(s.slot_digest(slot), digest_from_scratch(&s, slot));
        }
    }

    #[test]
    fn a_version_with_a_past_keeps_it_out_of_line_and_accounted() {
        let mut s = shard_of(A);
        let theirs = Version::first(tag(B), 1000);
        s.apply(b"k", theirs.clone(), Incoming::Value { value: Value::string(b"b"), expire_at_ms: 0 }, 1000);
        assert_eq!(s.used_memory(), ENTRY_OVERHEAD);
        s.set(b"k", Value::string(b"a"), 0, 1001);
        let v = s.version(b"k").unwrap();
        assert_eq!(v.past(), &[Dot { node: tag(B), hlc: theirs.stamp().hlc }]);
        assert!(s.peek(b"k", 1001).unwrap().has_past());
        assert_eq!(s.used_memory(), ENTRY_OVERHEAD + past_mem(b"k", 1));
        // Pruned once old enough: the side map entry goes.
        let later = 1001 + PRUNE_MS_DEFAULT + 1;
        s.set(b"k", Value::string(b"a"), 0, later);
        assert!(s.version(b"k").unwrap().past().is_empty());
        assert!(!s.peek(b"k", later).unwrap().has_past());
        assert!(s.ks.pasts.is_empty());
        assert_eq!(s.used_memory(), ENTRY_OVERHEAD);
    }

    /// Pushes `elems` at the tail of the list `k` on `s` as RPUSH does,
    /// returning the journal's (base) of that change.
    fn rpush(s: &mut Shard, k: &[u8], elems: &[&[u8]], now: u64) -> Option<Stamp> {
        let list = s.get_or_insert_with(k, now, || Value::List(Box::default())).value_mut().as_list_mut().unwrap();
        for e in elems {
            list.push_back(e);
        }
        s.written(k);
        let journal: Vec<_> = s.take_changed().collect();
        assert_eq!(journal.len(), 1);
        journal[0].2
    }

    fn list_of(s: &Shard, k: &[u8], now: u64) -> Vec<Vec<u8>> {
        s.peek(k, now).unwrap().value().as_list().unwrap().iter().map(|b| b.to_vec()).collect()
    }

    #[test]
    fn a_delta_applies_on_its_base_only_and_converges() {
        use crate::delta::DeltaOp;
        let (mut a, mut b) = (shard_of(A), shard_of(B));
        // A list created on a (no base: it is new), copied whole to b.
        assert_eq!(rpush(&mut a, b"l", &[b"1", b"2"], 1000), None, "created: no delta");
        let mut encoded = Vec::new();
        let (v1, _) = a.key_state(b"l", 1000, &mut encoded).unwrap();
        let state = crate::codec::decode_state(&encoded, &Default::default()).unwrap();
        assert_eq!(b.apply(b"l", v1.clone(), state, 1000), Applied::Taken);
        // Pushed in place on a: the journal names the stamp it was made on.
        let base = rpush(&mut a, b"l", &[b"3"], 1001).expect("in place: a base");
        assert_eq!(base, v1.stamp());
        let v2 = a.version(b"l").unwrap();
        let op = DeltaOp::of_command(&[b"RPUSH", b"l", b"3"]).unwrap();
        let digest = b.slot_digest(ringcache_ring::slot(b"l"));
        assert_eq!(b.apply_delta(b"l", &v2, base, &op, 1001), DeltaApplied::Taken);
        assert_eq!(list_of(&b, b"l", 1001), list_of(&a, b"l", 1001));
        assert_eq!(b.version(b"l").unwrap(), v2);
        assert_ne!(b.slot_digest(ringcache_ring::slot(b"l")), digest);
        assert_eq!(b.slot_digest(ringcache_ring::slot(b"l")), a.slot_digest(ringcache_ring::slot(b"l")));
        assert_eq!(b.slot_digest(ringcache_ring::slot(b"l")), digest_from_scratch(&b, ringcache_ring::slot(b"l")));
        assert!(changed(&mut b).is_empty(), "a replicated delta makes no local version");
        // Again: idempotent.
        assert_eq!(b.apply_delta(b"l", &v2, base, &op, 1001), DeltaApplied::Kept);
        assert_eq!(list_of(&b, b"l", 1001).len(), 3);
        // A delta made on a value b does not hold (it missed one) changes
        // nothing and asks for the whole value.
        let base3 = rpush(&mut a, b"l", &[b"4"], 1002).unwrap();
        let base4 = rpush(&mut a, b"l", &[b"5"], 1003).unwrap();
        let v4 = a.version(b"l").unwrap();
        let op5 = DeltaOp::of_command(&[b"RPUSH", b"l", b"5"]).unwrap();
        assert_ne!(base3, base4);
        assert_eq!(b.apply_delta(b"l", &v4, base4, &op5, 1003), DeltaApplied::NeedFull);
        assert_eq!(list_of(&b, b"l", 1003).len(), 3);
        assert_eq!(b.apply_delta(b"missing", &v4, base4, &op5, 1003), DeltaApplied::NeedFull);
        // On the wrong type: nothing changes either.
        b.set(b"s", Value::string(b"x"), 0, 1003);
        let sv = b.version(b"s").unwrap();
        let on_string = sv.next(tag(A), 1004, PRUNE_MS_DEFAULT);
        assert_eq!(b.apply_delta(b"s", &on_string, sv.stamp(), &op5, 1004), DeltaApplied::NeedFull);
        // A second change of the key in one command is no delta.
        let list = a.get(b"l", 1004).unwrap().value_mut().as_list_mut().unwrap();
        list.push_back(b"6");
        a.written(b"l");
        a.set(b"l", Value::string(b"replaced"), 0, 1004);
        let journal: Vec<_> = a.take_changed().collect();
        assert_eq!(journal.len(), 1);
        assert_eq!(journal[0].2, None);
    }

    #[test]
    fn apply_follows_the_version_rule_and_is_idempotent() {
        let mut a = shard_of(A);
        let val = |b: &[u8]| Incoming::Value { value: Value::string(b), expire_at_ms: 0 };
        a.set(b"k", Value::string(b"a"), 0, 1000);
        let ours = a.version(b"k").unwrap();
        changed(&mut a);
        let w = a.watch(b"k", 1000);
        // An older concurrent write loses, but its clock is taken in.
        let old = Version::first(tag(B), 900);
        assert_eq!(a.apply(b"k", old.clone(), val(b"old"), 1000), Applied::Merged);
        assert_eq!(a.get(b"k", 1000).unwrap().value().as_str().unwrap().as_bytes(), b"a");
        assert_eq!(a.watch_version(b"k", 1000), w, "the value did not change");
        assert_eq!(a.version(b"k").unwrap(), ours.merge(&old));
        assert_eq!(a.apply(b"k", old, val(b"old"), 1000), Applied::Kept);
        // A write on top of ours wins.
        let next = ours.next(tag(B), 1100, PRUNE_MS_DEFAULT);
        assert_eq!(a.apply(b"k", next.clone(), val(b"b"), 1100), Applied::Taken);
        assert_eq!(a.get(b"k", 1100).unwrap().value().as_str().unwrap().as_bytes(), b"b");
        assert_ne!(a.watch_version(b"k", 1100), w, "WATCH sees a replicated write");
        assert_eq!(a.apply(b"k", next.clone(), val(b"b"), 1100), Applied::Kept, "idempotent");
        assert_eq!(a.version(b"k").unwrap().stamp(), next.stamp());
        assert!(changed(&mut a).is_empty(), "applying makes no local version");
        // A replicated delete leaves a tombstone; an older value cannot
        // come back over it.
        let del = next.next(tag(B), 1200, PRUNE_MS_DEFAULT);
        assert_eq!(a.apply(b"k", del.clone(), Incoming::Tombstone, 1200), Applied::Taken);
        assert!(a.peek(b"k", 1200).is_none());
        assert_eq!(a.apply(b"k", next, val(b"b"), 1200), Applied::Kept, "the delete dominates it");
        assert!(a.peek(b"k", 1200).is_none());
        // An expired value is stored as nothing, its version kept.
        let expired = Version::first(tag(B), 1300);
        let state = Incoming::Value { value: Value::string(b"e"), expire_at_ms: 1250 };
        assert_eq!(a.apply(b"e", expired.clone(), state, 1300), Applied::Taken);
        assert!(a.peek(b"e", 1300).is_none());
        assert_eq!(a.version(b"e").unwrap(), expired);
        assert_eq!(a.used_memory(), tomb_mem(b"k", &a.version(b"k").unwrap()) + tomb_mem(b"e", &expired));
        assert_eq!(a.version(b"k").unwrap().past().len(), 1, "A's dot, merged in");
        for k in [&b"k"[..], b"e"] {
            let slot = ringcache_ring::slot(k);
            assert_eq!(a.slot_digest(slot), digest_from_scratch(&a, slot));
        }
    }

    #[test]
    fn two_owners_converge_whatever_the_order_of_delivery() {
        // A's and B's writes to the same keys, delivered in opposite orders.
        let mut a = shard_of(A);
        let mut b = shard_of(B);
        a.set(b"k", Value::string(b"from a"), 0, 1000);
        b.set(b"k", Value::string(b"from b"), 0, 1000);
        b.set(b"j", Value::string(b"j"), 0, 1000);
        b.remove(b"j", 1001);
        let records = |s: &mut Shard| {
            let mut out = Vec::new();
            for (_, k, _) in s.take_changed().collect::<Vec<_>>() {
                let mut buf = Vec::new();
                assert!(s.encode_key(&k, 1001, &mut buf));
                out.push(codec::decode(&buf, &Default::default()).unwrap().0);
            }
            out
        };
        let (from_a, from_b) = (records(&mut a), records(&mut b));
        for r in from_b.iter().rev() {
            a.apply(&r.key, r.version.clone(), r.state.clone(), 1002);
        }
        for r in from_a {
            b.apply(&r.key, r.version, r.state, 1002);
        }
        for k in [&b"k"[..], b"j"] {
            assert_eq!(a.version(k), b.version(k));
            assert_eq!(a.peek(k, 1002).map(|e| e.value().clone()), b.peek(k, 1002).map(|e| e.value().clone()));
            let slot = ringcache_ring::slot(k);
            assert_eq!(a.slot_digest(slot), b.slot_digest(slot));
        }
    }

    #[test]
    fn a_slot_streams_whole_in_bounded_steps_and_lists_its_versions() {
        let mut s = shard_of(A);
        let tagged: Vec<String> = (0..50).map(|i| format!("{{t}}:{i}")).collect();
        for k in &tagged {
            s.set(k.as_bytes(), Value::string(&[b'v'; 100]), 0, 1000);
        }
        for i in 0..50 {
            s.set(format!("other:{i}").as_bytes(), Value::string(b"v"), 0, 1000);
        }
        s.remove(tagged[0].as_bytes(), 1001);
        let slot = ringcache_ring::slot(b"{t}");
        let mut versions = Vec::new();
        s.slot_hashes(slot, 1001, &mut versions);
        assert_eq!(versions.len(), 50, "49 entries and one tombstone");
        let (mut cursor, mut steps, mut got) = (0, 0, Vec::new());
        loop {
            let mut out = Vec::new();
            cursor = s.slot_entries(slot, cursor, 1000, 1001, &mut out);
            assert!(!out.is_empty() || cursor == 0);
            got.extend(out);
            steps += 1;
            if cursor == 0 {
                break;
            }
        }
        assert!(steps > 3, "bounded steps: {steps}");
        let mut keys: Vec<(u64, Stamp)> = got
            .iter()
            .map(|(db, b)| {
                let (r, used) = codec::decode(b, &Default::default()).unwrap();
                assert_eq!(used, b.len());
                (crate::key_hash(*db, &r.key), r.version.stamp())
            })
            .collect();
        keys.sort();
        versions.sort();
        assert_eq!(keys, versions);
    }

    mod model {
        use proptest::prelude::*;

        use super::*;

        #[derive(Debug, Clone)]
        enum Op {
            Set(u8, u8),
            Remove(u8),
            Expire(u8, u64),
            Push(u8),
            Pop(u8),
            Apply(u8, u32, u64, bool),
            Evict,
            ExpireCycle,
            Collect,
            Flush,
            Select(u16),
            FlushAll,
            Swap(u16, u16),
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                4 => (any::<u8>(), any::<u8>()).prop_map(|(k, v)| Op::Set(k, v)),
                2 => any::<u8>().prop_map(Op::Remove),
                1 => (any::<u8>(), 0..50u64).prop_map(|(k, t)| Op::Expire(k, t)),
                2 => any::<u8>().prop_map(Op::Push),
                2 => any::<u8>().prop_map(Op::Pop),
                3 => (any::<u8>(), 1..4u32, 0..3000u64, any::<bool>()).prop_map(|(k, w, t, d)| Op::Apply(k, w, t, d)),
                1 => Just(Op::Evict),
                1 => Just(Op::ExpireCycle),
                1 => Just(Op::Collect),
                1 => Just(Op::Flush).prop_filter("rare", |_| rand::random::<u8>() < 64),
                2 => (0..4u16).prop_map(Op::Select),
                1 => Just(Op::FlushAll).prop_filter("rare", |_| rand::random::<u8>() < 32),
                1 => (0..4u16, 0..4u16).prop_map(|(a, b)| Op::Swap(a, b)),
            ]
        }

        fn key(k: u8) -> Vec<u8> {
            // Few keys, some sharing a slot through a tag.
            if k & 1 == 0 {
                format!("{{tag}}{}", k % 16).into_bytes()
            } else {
                format!("k{}", k % 16).into_bytes()
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(128))]
            #[test]
            fn digests_memory_and_tombstones_stay_right(ops in proptest::collection::vec(op(), 1..80)) {
                let mut s = shard_of(A);
                let mut now = 1000;
                for op in ops {
                    now += 7;
                    match op {
                        Op::Set(k, v) => s.set(&key(k), Value::string(&vec![v; usize::from(v % 64)]), 0, now),
                        Op::Remove(k) => { s.remove(&key(k), now); }
                        Op::Expire(k, t) => { s.set_expire(&key(k), now + t, now); }
                        Op::Push(k) => {
                            let k = key(k);
                            if let Ok(l) = s.get_or_insert_with(&k, now, || Value::List(Box::default())).value_mut().as_list_mut() {
                                l.push_back(b"x");
                            }
                            s.written(&k);
                        }
                        Op::Pop(k) => {
                            let k = key(k);
                            if let Some(e) = s.get(&k, now) {
                                if let Ok(l) = e.value_mut().as_list_mut() {
                                    l.pop_back();
                                }
                                s.written(&k);
                            }
                        }
                        Op::Apply(k, w, t, del) => {
                            let v = Version::first(tag(w), now - 1000 + t);
                            let state = if del { Incoming::Tombstone } else { Incoming::Value { value: Value::string(b"r"), expire_at_ms: 0 } };
                            s.apply(&key(k), v, state, now);
                        }
                        Op::Evict => { s.evict_one(Policy::AllKeysRandom, 1, now); }
                        Op::ExpireCycle => { s.active_expire(now, 20); }
                        Op::Collect => { s.collect_tombstones(now, 20); }
                        Op::Flush => s.clear(now),
                        Op::Select(db) => s.select(db),
                        Op::FlushAll => s.clear_all(now),
                        Op::Swap(a, b) => s.swap_databases(a, b),
                    }
                    // Used memory, recomputed over every database.
                    let mut used = 0;
                    for db in s.databases() {
                        let ks = s.keyspace(db).unwrap();
                        prop_assert!(db == s.db() || !ks.is_blank(), "a blank keyspace is parked");
                        used += ks.map.iter().map(|(k, e)| entry_mem(k, &e.value)).sum::<usize>();
                        used += ks.tombs.iter().map(|(k, t)| tomb_mem(k, &t.version)).sum::<usize>();
                        used += ks.pasts.iter().map(|(k, p)| past_mem(k, p.len())).sum::<usize>();
                        for (k, e) in ks.map.iter() {
                            prop_assert!(!ks.tombs.contains_key(k.as_bytes()), "entry and tombstone");
                            prop_assert_eq!(e.has_past(), ks.pasts.contains_key(k.as_bytes()));
                        }
                    }
                    prop_assert_eq!(s.used_memory(), used);
                    for k in 0..16u8 {
                        for k in [key(k), key(k + 1)] {
                            let slot = ringcache_ring::slot(&k);
                            prop_assert_eq!(s.slot_digest(slot), digest_from_scratch(&s, slot));
                        }
                    }
                }
            }
        }
    }
}
