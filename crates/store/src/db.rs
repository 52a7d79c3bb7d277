//! The sharded keyspace and the locking discipline around it.
//!
//! A key's shard is its hash slot (Redis Cluster's, hash tags included)
//! modulo the shard count, a power of two of at most 16384: all keys of a
//! slot live in one shard, so listing or digesting a slot locks one shard.
//! A command still hashes its key once for the table ([`KeyHash`] carries
//! that hash and the slot).

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use crossbeam_utils::CachePadded;
use parking_lot::{Mutex, MutexGuard};
use smallvec::SmallVec;

use crate::eviction::{Candidate, EvictionPool, Oom, Policy, POOL_SIZE};
use ringcache_version::{NodeTag, Stamp, PRUNE_MS_DEFAULT};

use crate::hasher::XxhBuild;
use crate::key::Key;
use crate::lazyfree::LazyFree;
use crate::shard::{Evicted, ScanFilter, Shard, ShardConfig, ShardStats};

/// Keyspace settings; the memory ones can change at run time (CONFIG SET).
#[derive(Debug, Clone)]
pub struct DbConfig {
    /// Number of shards; rounded up to a power of two.
    pub shards: usize,
    /// `maxmemory` in bytes; 0 = no limit.
    pub maxmemory: u64,
    pub policy: Policy,
    /// `maxmemory-samples`.
    pub samples: u32,
    /// The writer tag of this node's local writes (`NodeTag::of(node id)`).
    pub node_tag: NodeTag,
    /// How long a delete's tombstone is kept; 0 (a standalone node's
    /// setting) keeps none.
    pub tombstone_grace_ms: u64,
    /// `version-prune-ms`: see `Version::next`.
    pub version_prune_ms: u64,
    /// Whether local writes record their keys for `take_changed`; whoever
    /// turns it on must drain after every command.
    pub journal: bool,
}

impl Default for DbConfig {
    fn default() -> Self {
        DbConfig {
            shards: 1024,
            maxmemory: 0,
            policy: Policy::NoEviction,
            samples: 5,
            node_tag: NodeTag::of("ringcache"),
            tombstone_grace_ms: 0,
            version_prune_ms: PRUNE_MS_DEFAULT,
            journal: false,
        }
    }
}

/// Totals for INFO.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub keys: usize,
    pub expires: usize,
    pub used_memory: usize,
    pub hits: u64,
    pub misses: u64,
    pub expired: u64,
    pub evicted: u64,
}

#[derive(Debug)]
struct Cell {
    shard: Mutex<Shard>,
    /// The shard's used memory as of its last unlock, readable without the
    /// lock so the maxmemory check never takes every shard's lock.
    used: AtomicUsize,
    /// Its number of keys and of keys with a TTL in database 0 as of its
    /// last unlock, so that DBSIZE there costs 1,024 loads, not 1,024 locks.
    keys: AtomicUsize,
    volatile: AtomicUsize,
}

/// The keyspace.
#[derive(Debug)]
pub struct Db {
    cells: Box<[CachePadded<Cell>]>,
    mask: usize,
    maxmemory: AtomicU64,
    policy: AtomicU8,
    /// Whether the policy reads LFU counters, so accesses must update them.
    track_lfu: AtomicBool,
    /// Expiry and eviction are paused (see [`Db::set_frozen`]).
    frozen: AtomicBool,
    samples: AtomicU32,
    /// Where the next eviction or active-expiry pass starts, so work spreads
    /// over all shards.
    evict_next: AtomicUsize,
    expire_next: AtomicUsize,
    /// The best eviction candidates sampled so far (see `eviction`).
    pool: Mutex<EvictionPool>,
    /// The shards' tables' hasher (one seed per process), so that one hash
    /// of a key picks its shard and finds it in the shard's table.
    build: XxhBuild,
    /// Shared with every shard: see [`Db::set_invalidation`].
    invalidation: Arc<AtomicU8>,
    /// Drops what UNLINK and FLUSHDB ASYNC remove, off the command path.
    lazyfree: LazyFree,
}

/// A key's hash and slot, from [`Db::hash_key`]: the slot picks the key's
/// shard and the hash finds it in the shard's table, so a command needs to
/// hash its key only once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyHash {
    hash: u64,
    slot: u16,
}

impl KeyHash {
    /// The key's hash slot.
    pub fn slot(&self) -> u16 {
        self.slot
    }
}

/// The outcome of one eviction step.
enum Step {
    /// A key was evicted.
    Freed,
    /// Nothing was evicted this time (candidates went away meanwhile, or
    /// this shard had none).
    Missed,
    /// No key anywhere qualifies under the policy.
    Nothing,
}

/// The SCAN cursor packs the shard index above this many bits and the
/// position within the shard below them.
const CURSOR_SHIFT: u32 = 40;

impl Db {
    pub fn new(config: DbConfig) -> Db {
        let n = config.shards.max(1).next_power_of_two();
        assert!(n <= ringcache_ring::SLOTS, "at most one shard per slot");
        let shard = |i: usize| ShardConfig {
            node_tag: config.node_tag,
            tombstone_grace_ms: config.tombstone_grace_ms,
            version_prune_ms: config.version_prune_ms,
            journal: config.journal,
            shard_bits: n.trailing_zeros(),
            shard_index: i as u32,
        };
        let invalidation = Arc::new(AtomicU8::new(0));
        let cell = |i| {
            let mut s = Shard::with_config(shard(i));
            s.set_invalidation_switch(invalidation.clone());
            CachePadded::new(Cell {
                shard: Mutex::new(s),
                used: AtomicUsize::new(0),
                keys: AtomicUsize::new(0),
                volatile: AtomicUsize::new(0),
            })
        };
        Db {
            cells: (0..n).map(cell).collect(),
            track_lfu: AtomicBool::new(config.policy.is_lfu()),
            frozen: AtomicBool::new(false),
            mask: n - 1,
            maxmemory: AtomicU64::new(config.maxmemory),
            policy: AtomicU8::new(config.policy.to_u8()),
            samples: AtomicU32::new(config.samples),
            evict_next: AtomicUsize::new(0),
            expire_next: AtomicUsize::new(0),
            pool: Mutex::new(EvictionPool::default()),
            build: XxhBuild::default(),
            invalidation,
            lazyfree: LazyFree::default(),
        }
    }

    /// The background freer of removed values (UNLINK, FLUSHDB ASYNC) and
    /// its counters.
    pub fn lazyfree(&self) -> &LazyFree {
        &self.lazyfree
    }

    /// Turns the recording of every change for CLIENT TRACKING on or off
    /// (see `crate::invalidate`): whoever turns it on drains each thread's
    /// changes after the work it ran.
    pub fn set_invalidation(&self, on: bool) {
        self.switch_bit(crate::invalidate::TRACK, on);
    }

    /// Turns the recording of expired and evicted keys (for keyspace
    /// notifications) on or off; drained like [`set_invalidation`](Self::set_invalidation)'s.
    pub fn set_gone_events(&self, on: bool) {
        self.switch_bit(crate::invalidate::GONE, on);
    }

    fn switch_bit(&self, bit: u8, on: bool) {
        if on {
            self.invalidation.fetch_or(bit, Relaxed);
        } else {
            self.invalidation.fetch_and(!bit, Relaxed);
        }
    }

    /// Whether changes are being recorded (for either), so that whoever
    /// ran work must drain them.
    #[inline]
    pub fn invalidation(&self) -> bool {
        self.invalidation.load(Relaxed) != 0
    }

    pub fn shard_count(&self) -> usize {
        self.cells.len()
    }

    /// The shard holding `key`: its slot's.
    pub fn shard_index(&self, key: &[u8]) -> usize {
        self.shard_of_slot(ringcache_ring::slot(key))
    }

    /// The shard holding the keys of `slot`.
    #[inline]
    pub fn shard_of_slot(&self, slot: u16) -> usize {
        usize::from(slot) & self.mask
    }

    /// `key`'s hash and slot, for [`lock_key_hashed`](Self::lock_key_hashed).
    #[inline]
    pub fn hash_key(&self, key: &[u8]) -> KeyHash {
        KeyHash { hash: self.build.hash_bytes(key), slot: ringcache_ring::slot(key) }
    }

    #[inline]
    fn shard_of(&self, hash: KeyHash) -> usize {
        self.shard_of_slot(hash.slot)
    }

    fn guard(&self, i: usize) -> MutexGuard<'_, Shard> {
        let mut shard = self.cells[i].shard.lock();
        shard.set_track_lfu(self.track_lfu.load(Relaxed));
        shard.set_frozen(self.frozen.load(Relaxed));
        shard
    }

    /// Pauses expiry and eviction (CLIENT PAUSE), or ends that: while
    /// frozen, an expired key reads as missing but is not removed (nor
    /// counted as expired) until thawed, the active expiry cycle expires
    /// nothing, and nothing is evicted, so the data set stands still.
    pub fn set_frozen(&self, on: bool) {
        self.frozen.store(on, Relaxed);
    }

    /// Locks the shards holding `keys`, in ascending shard order (which is
    /// what makes concurrent multi-shard commands deadlock-free).
    pub fn lock_keys<'k>(&self, keys: impl IntoIterator<Item = &'k [u8]>) -> Locked<'_> {
        let mut idx: SmallVec<[usize; INLINE_GUARDS]> = keys.into_iter().map(|k| self.shard_index(k)).collect();
        idx.sort_unstable();
        idx.dedup();
        self.lock_indices(idx)
    }

    /// Locks the shard of one key: the common case, with nothing to sort.
    pub fn lock_key<'a>(&'a self, key: &'a [u8]) -> Locked<'a> {
        self.lock_key_hashed(key, self.hash_key(key))
    }

    /// [`lock_key`](Self::lock_key) with the key's hash at hand. The
    /// shard's lookups of this very `key` (the same slice) reuse the hash
    /// while it is locked; `key` stays borrowed until then, so its bytes
    /// cannot change.
    pub fn lock_key_hashed<'a>(&'a self, key: &'a [u8], hash: KeyHash) -> Locked<'a> {
        debug_assert_eq!(hash, self.hash_key(key), "wrong hash for the key");
        let i = self.shard_of(hash);
        let mut guard = self.guard(i);
        guard.hint(key, hash.hash, hash.slot);
        let mut guards = SmallVec::new();
        guards.push((i, guard));
        Locked { db: self, dbid: 0, guards, no_touch: false }
    }

    /// Whether `key`'s shard could be locked within `timeout` (tests of who
    /// holds what).
    #[cfg(test)]
    fn try_lock_key_for(&self, key: &[u8], timeout: std::time::Duration) -> bool {
        let i = self.shard_index(key);
        self.cells[i].shard.try_lock_for(timeout).is_some()
    }

    /// Locks every shard: for keyspace-wide commands and transactions that
    /// contain one.
    pub fn lock_all(&self) -> Locked<'_> {
        self.lock_indices((0..self.cells.len()).collect())
    }

    fn lock_indices(&self, idx: SmallVec<[usize; INLINE_GUARDS]>) -> Locked<'_> {
        debug_assert!(idx.windows(2).all(|w| w[0] < w[1]), "shards locked out of order");
        let guards = idx.into_iter().map(|i| (i, self.guard(i))).collect();
        Locked { db: self, dbid: 0, guards, no_touch: false }
    }

    /// Looks `keys` of database `dbid` up ahead of the commands that will
    /// (see `Shard::warm`).
    /// Locks each of their shards once, in ascending order like any
    /// multi-shard lock, then probes every key, then unlocks: with no lock
    /// operation (a full barrier on x86) between the probes, their cache
    /// misses overlap. Must be called holding no shard lock.
    pub fn warm(&self, dbid: u16, keys: &[(&[u8], KeyHash)]) {
        // Each key's shard above its place in `keys`: sorted, the keys in
        // shard order.
        let mut order: SmallVec<[u64; WARM_INLINE]> =
            keys.iter().enumerate().map(|(n, &(_, h))| (self.shard_of(h) as u64) << 32 | n as u64).collect();
        order.sort_unstable();
        let shard = |o: u64| (o >> 32) as usize;
        let mut guards: SmallVec<[MutexGuard<'_, Shard>; WARM_INLINE]> = SmallVec::new();
        let mut last = usize::MAX;
        for &o in &order {
            if shard(o) != last {
                last = shard(o);
                let mut guard = self.cells[last].shard.lock();
                guard.select(dbid);
                guards.push(guard);
            }
        }
        let (mut g, mut last) = (usize::MAX, usize::MAX);
        for &o in &order {
            if shard(o) != last {
                last = shard(o);
                g = g.wrapping_add(1);
            }
            let (key, hash) = keys[o as u32 as usize];
            guards[g].warm(key, hash.hash);
        }
    }

    pub fn maxmemory(&self) -> u64 {
        self.maxmemory.load(Relaxed)
    }

    pub fn set_maxmemory(&self, bytes: u64) {
        self.maxmemory.store(bytes, Relaxed);
    }

    pub fn policy(&self) -> Policy {
        Policy::from_u8(self.policy.load(Relaxed))
    }

    pub fn set_policy(&self, policy: Policy) {
        // Shards pick up the LFU flag the next time they are locked (see
        // `guard`): taking their locks here could deadlock with a CONFIG SET
        // running inside EXEC.
        self.track_lfu.store(policy.is_lfu(), Relaxed);
        self.policy.store(policy.to_u8(), Relaxed);
    }

    pub fn samples(&self) -> u32 {
        self.samples.load(Relaxed)
    }

    pub fn set_samples(&self, samples: u32) {
        self.samples.store(samples.max(1), Relaxed);
    }

    /// Accounted bytes of all keys and values, as of the shards' last unlock.
    pub fn used_memory(&self) -> usize {
        self.cells.iter().map(|s| s.used.load(Relaxed)).sum()
    }

    fn over_limit(&self) -> bool {
        let max = self.maxmemory();
        max != 0 && self.used_memory() as u64 > max
    }

    /// Whether used memory is over `maxmemory` (never without one): then
    /// [`ensure_memory`](Self::ensure_memory) has something to do.
    #[inline]
    pub fn over_memory_limit(&self) -> bool {
        self.maxmemory() != 0 && self.over_limit()
    }

    /// Evicts keys until used memory is under `maxmemory`. Must be called
    /// holding no shard lock. `Err(Oom)` when over the limit and nothing
    /// more can be evicted under the policy.
    pub fn ensure_memory(&self, now_ms: u64) -> Result<(), Oom> {
        if !self.over_limit() || self.frozen.load(Relaxed) {
            return Ok(());
        }
        let policy = self.policy();
        if policy == Policy::NoEviction {
            return Err(Oom);
        }
        let samples = self.samples() as usize;
        let n = self.cells.len();
        // A full sweep of shards that finds nothing to evict means nothing
        // can be evicted.
        let mut barren = 0;
        let mut sampled = Vec::with_capacity(samples);
        while self.over_limit() {
            if barren >= n {
                return Err(Oom);
            }
            let step = if policy.is_random() {
                let i = self.evict_next.fetch_add(1, Relaxed) & self.mask;
                let mut shard = self.guard(i);
                let freed = shard.evict_one(policy, samples, now_ms);
                self.cells[i].used.store(shard.used_memory(), Relaxed);
                if freed.is_some() {
                    Step::Freed
                } else {
                    Step::Missed
                }
            } else {
                self.evict_from_pool(policy, samples, now_ms, &mut sampled)
            };
            match step {
                Step::Freed => barren = 0,
                Step::Missed => barren += 1,
                Step::Nothing => return Err(Oom),
            }
        }
        Ok(())
    }

    /// One eviction step with Redis's pool: sample `samples` keys into the
    /// pool (from the next shard, and the ones after it while shards hold
    /// fewer keys than that, so that each step sees as many keys as Redis's
    /// does), then evict the pool's best candidate that still qualifies,
    /// from whichever shard holds it.
    ///
    /// Locks one shard at a time, and never a shard while holding the pool.
    fn evict_from_pool(
        &self,
        policy: Policy,
        samples: usize,
        now_ms: u64,
        sampled: &mut Vec<(u64, u16, Bytes)>,
    ) -> Step {
        let mut gathered = 0;
        for _ in 0..self.cells.len() {
            let i = self.evict_next.fetch_add(1, Relaxed) & self.mask;
            sampled.clear();
            self.guard(i).sample_for_eviction(policy, samples - gathered, now_ms, sampled);
            gathered += sampled.len();
            let mut pool = self.pool.lock();
            for (score, db, key) in sampled.drain(..) {
                pool.insert(policy, Candidate { score, shard: i, db, key });
            }
            if gathered >= samples {
                break;
            }
        }
        if gathered == 0 {
            // Every shard was visited: no key qualifies under the policy.
            return Step::Nothing;
        }
        // Each try takes a candidate out; one used since it was sampled goes
        // back with its new score, so this ends.
        for _ in 0..2 * POOL_SIZE {
            let Some(c) = self.pool.lock().pop_best(policy) else {
                return Step::Missed;
            };
            let mut shard = self.guard(c.shard);
            let outcome = shard.evict_candidate(c.db, &c.key, policy, c.score, now_ms);
            self.cells[c.shard].used.store(shard.used_memory(), Relaxed);
            drop(shard);
            match outcome {
                Evicted::Freed(_) => return Step::Freed,
                Evicted::Gone => {}
                Evicted::Rescored(score) => self.pool.lock().insert(policy, Candidate { score, ..c }),
            }
        }
        Step::Missed
    }

    /// Active expiry: visits shards round-robin, sampling keys with a TTL
    /// and removing expired ones, until `deadline`. A shard is revisited
    /// at once while more than a quarter of its sample had expired (as
    /// Redis's cycle does). Tombstones past their time are collected the
    /// same way, in the same bounded passes. Returns the number of keys
    /// expired.
    pub fn active_expire_cycle(&self, now_ms: u64, deadline: Instant) -> usize {
        const SAMPLE: usize = 20;
        if self.frozen.load(Relaxed) {
            return 0;
        }
        let mut total = 0;
        for _ in 0..self.cells.len() {
            let i = self.expire_next.fetch_add(1, Relaxed) & self.mask;
            let mut shard = self.guard(i);
            loop {
                let (sampled, expired) = shard.active_expire(now_ms, SAMPLE);
                total += expired;
                if sampled == 0 || expired * 4 <= sampled || Instant::now() >= deadline {
                    break;
                }
            }
            loop {
                let (sampled, collected) = shard.collect_tombstones(now_ms, SAMPLE);
                if sampled == 0 || collected * 4 <= sampled || Instant::now() >= deadline {
                    break;
                }
            }
            // What an unlock publishes (see `Locked`'s drop): DBSIZE and
            // INFO read the counts without the lock.
            self.cells[i].used.store(shard.used_memory(), Relaxed);
            self.cells[i].keys.store(shard.len(), Relaxed);
            self.cells[i].volatile.store(shard.volatile_len(), Relaxed);
            drop(shard);
            if Instant::now() >= deadline {
                break;
            }
        }
        total
    }

    /// Locks the shard holding `slot`'s keys (see [`Locked::slot_shard`]).
    pub fn lock_slot(&self, slot: u16) -> Locked<'_> {
        assert!(usize::from(slot) < ringcache_ring::SLOTS, "slot out of range");
        self.lock_indices(smallvec::smallvec![self.shard_of_slot(slot)])
    }

    /// The guard of `slot`'s shard alone, for one call.
    fn slot_guard(&self, slot: u16) -> MutexGuard<'_, Shard> {
        assert!(usize::from(slot) < ringcache_ring::SLOTS, "slot out of range");
        self.guard(self.shard_of_slot(slot))
    }

    /// The digest of `slot` (see `digest`). Locks only that slot's shard.
    pub fn slot_digest(&self, slot: u16) -> u64 {
        self.slot_guard(slot).slot_digest(slot)
    }

    /// The flush floor of `slot` in database `db`, if it was ever flushed
    /// with tombstones on.
    pub fn slot_floor(&self, db: u16, slot: u16) -> Option<Stamp> {
        let mut shard = self.slot_guard(slot);
        shard.select(db);
        shard.slot_floor(slot)
    }

    /// Pushes the (key hash, stamp) of every live entry and tombstone of
    /// `slot`, in every database, into `out` (see `Shard::slot_hashes`).
    /// Locks only that slot's shard.
    pub fn slot_hashes(&self, slot: u16, now_ms: u64, out: &mut Vec<(u64, Stamp)>) {
        self.slot_guard(slot).slot_hashes(slot, now_ms, out);
    }

    /// One step of streaming `slot` (see `Shard::slot_entries`): the next
    /// cursor (0 when done) and encoded records of about `max_bytes`.
    /// Locks only that slot's shard.
    pub fn slot_entries(&self, slot: u16, cursor: u64, max_bytes: usize, now_ms: u64) -> (u64, Vec<(u16, Bytes)>) {
        let mut out = Vec::new();
        let next = self.slot_guard(slot).slot_entries(slot, cursor, max_bytes, now_ms, &mut out);
        (next, out)
    }

    /// Drops this node's copies of `slots`, each given with the digest it
    /// had when its copy was handed to its owners (see `Shard::purge_slots`),
    /// one shard locked at a time: a slot whose digest has changed since (a
    /// write reached it meanwhile) is kept. Returns the slots dropped and
    /// how many entries and tombstones went.
    pub fn purge_slots(&self, slots: &[(u16, u64)]) -> (Vec<u16>, usize) {
        let mut by_shard: Vec<(usize, u16, u64)> = slots.iter().map(|&(s, d)| (self.shard_of_slot(s), s, d)).collect();
        by_shard.sort_unstable();
        let (mut dropped_slots, mut dropped) = (Vec::new(), 0);
        for group in by_shard.chunk_by(|a, b| a.0 == b.0) {
            let mut one = self.lock_indices(smallvec::smallvec![group[0].0]);
            let shard = &mut *one.guards[0].1;
            let unchanged: Vec<u16> =
                group.iter().filter(|(_, s, d)| shard.slot_digest(*s) == *d).map(|g| g.1).collect();
            dropped += shard.purge_slots(|slot| unchanged.contains(&slot));
            dropped_slots.extend(unchanged);
        }
        (dropped_slots, dropped)
    }

    /// Totals over all shards, each read under its own lock.
    pub fn stats(&self) -> Stats {
        self.lock_keys(std::iter::empty()).stats()
    }

    /// Number of keys (DBSIZE), shard by shard.
    /// Number of keys in database 0.
    pub fn len(&self) -> usize {
        self.lock_keys(std::iter::empty()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The shards a command holds locked. Unlocks (and publishes each shard's
/// used memory) on drop.
#[derive(Debug)]
pub struct Locked<'a> {
    db: &'a Db,
    /// The database the command works in: every shard handed out is
    /// selected to it first (see `Shard::select`).
    dbid: u16,
    /// Sorted by shard index. Inline for the few-key commands that make up
    /// the hot path, so locking allocates nothing.
    guards: SmallVec<[(usize, MutexGuard<'a, Shard>); INLINE_GUARDS]>,
    /// Accesses leave keys' LRU/LFU words alone (see
    /// [`Locked::set_no_touch`]).
    no_touch: bool,
}

/// Shards a command can lock without allocating.
const INLINE_GUARDS: usize = 4;
/// Keys [`Db::warm`] takes without allocating: a connection's look-ahead.
const WARM_INLINE: usize = 16;

impl<'a> Locked<'a> {
    /// The shard holding `key`.
    ///
    /// # Panics
    /// If that shard is not locked: the command did not declare the key.
    pub fn shard(&mut self, key: &[u8]) -> &mut Shard {
        // One shard locked (the common single-key command): it must be the
        // key's, so skip hashing the key a second time.
        let dbid = self.dbid;
        if self.guards.len() == 1 {
            debug_assert_eq!(self.guards[0].0, self.db.shard_index(key), "key's shard is not locked");
            let shard = &mut *self.guards[0].1;
            shard.select(dbid);
            return shard;
        }
        let i = self.db.shard_index(key);
        match self.guards.iter_mut().find(|(j, _)| *j == i) {
            Some((_, g)) => {
                g.select(dbid);
                g
            }
            None => panic!("shard of key {:?} is not locked", String::from_utf8_lossy(key)),
        }
    }

    /// The shard holding `key`, with database `dbid` selected (MOVE and
    /// COPY reach into a second database; replication names each key's).
    ///
    /// # Panics
    /// If that shard is not locked.
    pub fn shard_in(&mut self, dbid: u16, key: &[u8]) -> &mut Shard {
        let shard = self.shard(key);
        shard.select(dbid);
        shard
    }

    /// The database the command works in.
    pub fn dbid(&self) -> u16 {
        self.dbid
    }

    /// Whether the commands run under this lock leave the LRU/LFU words
    /// of the keys they access alone (CLIENT NO-TOUCH; the caller sets it
    /// per command, TOUCH touching anyway). The shards forget it when the
    /// lock is dropped.
    pub fn set_no_touch(&mut self, on: bool) {
        if on || self.no_touch {
            self.no_touch = on;
            for (_, g) in &mut self.guards {
                g.set_no_touch(on);
            }
        }
    }

    /// Makes `dbid` the database the shards handed out from now on work
    /// in (the client's SELECTed database; EXEC moves it along as a
    /// queued SELECT would).
    pub fn select(&mut self, dbid: u16) {
        self.dbid = dbid;
    }

    /// The shard holding `slot`'s keys.
    ///
    /// # Panics
    /// If that shard is not locked.
    pub fn slot_shard(&mut self, slot: u16) -> &mut Shard {
        let (i, dbid) = (self.db.shard_of_slot(slot), self.dbid);
        match self.guards.iter_mut().find(|(j, _)| *j == i) {
            Some((_, g)) => {
                g.select(dbid);
                g
            }
            None => panic!("shard of slot {slot} is not locked"),
        }
    }

    /// Every locked shard.
    pub fn shards_mut(&mut self) -> impl Iterator<Item = &mut Shard> + use<'_, 'a> {
        let dbid = self.dbid;
        self.guards.iter_mut().map(move |(_, g)| {
            g.select(dbid);
            &mut **g
        })
    }

    /// Whether no shard is held.
    pub fn holds_none(&self) -> bool {
        self.guards.is_empty()
    }

    /// Whether `key`'s shard is held.
    pub fn holds_key(&self, key: &[u8]) -> bool {
        let i = self.db.shard_index(key);
        self.guards.iter().any(|(j, _)| *j == i)
    }

    /// Adds `key`'s shard to this lock if it is free now, without
    /// waiting: a script that reaches a key it did not declare (see the
    /// scripting crate) may not wait for a shard while holding others, as
    /// that could deadlock against a command locking in ascending order.
    /// True if the shard is held afterwards.
    pub fn try_lock_key(&mut self, key: &[u8]) -> bool {
        let i = self.db.shard_index(key);
        if self.guards.iter().any(|(j, _)| *j == i) {
            return true;
        }
        let Some(mut guard) = self.db.cells[i].shard.try_lock() else {
            return false;
        };
        guard.set_track_lfu(self.db.track_lfu.load(Relaxed));
        guard.set_frozen(self.db.frozen.load(Relaxed));
        guard.set_no_touch(self.no_touch);
        let at = self.guards.partition_point(|(j, _)| *j < i);
        self.guards.insert(at, (i, guard));
        true
    }

    /// Whether all shards are held (keyspace-wide commands need it).
    pub fn holds_all(&self) -> bool {
        self.guards.len() == self.db.cells.len()
    }

    pub fn db(&self) -> &'a Db {
        self.db
    }

    fn assert_all(&self) {
        assert!(self.holds_all(), "keyspace-wide operation without every shard locked");
    }

    /// Runs `f` on shard `i`: the guard this lock holds when it holds every
    /// shard (a keyspace-wide command inside EXEC), else that shard locked
    /// for the call only. Keyspace-wide reads walk the keyspace this way,
    /// so that they hold one shard at a time and never stop the node.
    ///
    /// # Panics
    /// If this lock holds some shards but not all: locking another one
    /// could then break the lock order.
    pub fn with_shard<T>(&mut self, i: usize, f: impl FnOnce(&mut Shard) -> T) -> T {
        let dbid = self.dbid;
        if self.holds_all() {
            let shard = &mut *self.guards[i].1;
            shard.select(dbid);
            return f(shard);
        }
        assert!(self.guards.is_empty(), "a walk over the keyspace while holding some shards");
        let mut one = self.db.lock_indices(smallvec::smallvec![i]);
        let shard = &mut *one.guards[0].1;
        shard.select(dbid);
        f(shard)
    }

    /// [`with_shard`](Self::with_shard) on the shard of `slot`'s keys.
    pub fn with_slot_shard<T>(&mut self, slot: u16, f: impl FnOnce(&mut Shard) -> T) -> T {
        let dbid = self.dbid;
        if let Some((_, g)) = self.guards.iter_mut().find(|(j, _)| *j == self.db.shard_of_slot(slot)) {
            g.select(dbid);
            return f(g);
        }
        self.with_shard(self.db.shard_of_slot(slot), f)
    }

    /// The number of shards of the keyspace (locked or not).
    pub fn shard_count(&self) -> usize {
        self.db.cells.len()
    }

    /// Totals over all shards and every database, each shard read under
    /// its own lock (see [`with_shard`](Self::with_shard)).
    pub fn stats(&mut self) -> Stats {
        let mut t = Stats::default();
        for i in 0..self.shard_count() {
            self.with_shard(i, |shard| {
                let ShardStats { hits, misses, expired, evicted } = shard.stats();
                t.keys += shard.len_all();
                t.expires += shard.volatile_len_all();
                t.used_memory += shard.used_memory();
                t.hits += hits;
                t.misses += misses;
                t.expired += expired;
                t.evicted += evicted;
            });
        }
        t
    }

    /// Resets hit/miss/expired/evicted counters, shard by shard.
    pub fn reset_stats(&mut self) {
        for i in 0..self.shard_count() {
            self.with_shard(i, Shard::reset_stats);
        }
    }

    /// Number of keys of the command's database (DBSIZE), counting expired
    /// keys not yet removed, as Redis does, and of those with a TTL. For
    /// database 0: exact for the shards this lock holds, each other
    /// shard's as of its last unlock (no lock taken). For another database
    /// the shards are walked (see [`with_shard`](Self::with_shard)).
    pub fn counts(&mut self) -> (usize, usize) {
        if self.dbid != 0 {
            let dbid = self.dbid;
            let (mut keys, mut volatile) = (0, 0);
            for i in 0..self.shard_count() {
                self.with_shard(i, |s| {
                    keys += s.len_in(dbid);
                    volatile += s.volatile_len_in(dbid);
                });
            }
            return (keys, volatile);
        }
        let mut held = self.guards.iter().peekable();
        let (mut keys, mut volatile) = (0, 0);
        for (i, cell) in self.db.cells.iter().enumerate() {
            match held.next_if(|(j, _)| *j == i) {
                Some((_, g)) => {
                    keys += g.len_in(0);
                    volatile += g.volatile_len_in(0);
                }
                None => {
                    keys += cell.keys.load(Relaxed);
                    volatile += cell.volatile.load(Relaxed);
                }
            }
        }
        (keys, volatile)
    }

    /// Per database holding keys, ascending: (database, keys, keys with a
    /// TTL, average TTL left in ms over a sample of them), for INFO
    /// keyspace. Shard by shard.
    pub fn database_counts(&mut self, now_ms: u64) -> Vec<(u16, usize, usize, u64)> {
        // TTLs sampled per shard and database: enough for an estimate, as
        // Redis's avg_ttl is one, at a bounded cost.
        const TTL_SAMPLE: usize = 16;
        let mut per: Vec<(u16, usize, usize, u64, usize)> = Vec::new();
        for i in 0..self.shard_count() {
            self.with_shard(i, |s| s.database_counts(now_ms, TTL_SAMPLE, &mut per));
        }
        let mut totals: std::collections::BTreeMap<u16, (usize, usize, u64, usize)> = Default::default();
        for (db, keys, volatile, sum, n) in per {
            let t = totals.entry(db).or_default();
            t.0 += keys;
            t.1 += volatile;
            t.2 = t.2.saturating_add(sum);
            t.3 += n;
        }
        totals.into_iter().map(|(db, (k, v, sum, n))| (db, k, v, if n == 0 { 0 } else { sum / n as u64 })).collect()
    }

    /// Number of keys (DBSIZE); see [`counts`](Self::counts).
    pub fn len(&mut self) -> usize {
        self.counts().0
    }

    pub fn is_empty(&mut self) -> bool {
        self.len() == 0
    }

    /// Removes every key of the command's database, now (FLUSHDB). Needs
    /// every shard locked.
    pub fn flush(&mut self) {
        self.flush_at(crate::now_ms());
    }

    /// Removes every key of the command's database at `now_ms` (see
    /// `Shard::clear`: with tombstones on, every slot gets a flush floor).
    /// Needs every shard locked.
    pub fn flush_at(&mut self, now_ms: u64) {
        self.assert_all();
        self.shards_mut().for_each(|s| s.clear(now_ms));
    }

    /// Removes every key of every database at `now_ms` (FLUSHALL). Needs
    /// every shard locked.
    pub fn flush_all_at(&mut self, now_ms: u64) {
        self.assert_all();
        self.shards_mut().for_each(|s| s.clear_all(now_ms));
    }

    /// [`flush_at`](Self::flush_at), or with `all` [`flush_all_at`](Self::flush_all_at),
    /// leaving the removed keys and values to the background freer
    /// (FLUSHDB / FLUSHALL ASYNC), which counts them as pending objects
    /// until they are dropped. Needs every shard locked.
    pub fn flush_async_at(&mut self, all: bool, now_ms: u64) {
        self.assert_all();
        let mut garbage = Vec::new();
        let mut keys = 0;
        for s in self.shards_mut() {
            keys += if all { s.clear_all_into(now_ms, &mut garbage) } else { s.clear_into(now_ms, &mut garbage) };
        }
        if !garbage.is_empty() {
            self.db.lazyfree.free(Box::new(garbage), keys);
        }
    }

    /// Exchanges databases `a` and `b` (SWAPDB) in every shard. Needs
    /// every shard locked, so that no command sees one swapped and
    /// another not.
    pub fn swap_databases(&mut self, a: u16, b: u16) {
        self.assert_all();
        self.shards_mut().for_each(|s| s.swap_databases(a, b));
    }

    /// Drains the keys the command wrote, with their databases, into `out` (see
    /// `Shard::take_changed`), shard by shard in ascending order.
    pub fn take_changed(&mut self, out: &mut Vec<(u16, Key, Option<Stamp>)>) {
        for s in self.shards_mut() {
            out.extend(s.take_changed());
        }
    }

    /// One SCAN step: visits about `count` keys from `cursor` and returns
    /// the next cursor (0 when done) with the keys that pass `filter`.
    /// Shard by shard (see [`with_shard`](Self::with_shard)).
    pub fn scan(&mut self, cursor: u64, count: usize, now_ms: u64, filter: ScanFilter<'_>) -> (u64, Vec<Bytes>) {
        let shards = self.shard_count();
        let mut shard_i = (cursor >> CURSOR_SHIFT) as usize;
        let mut pos = (cursor & ((1 << CURSOR_SHIFT) - 1)) as usize;
        let mut out = Vec::new();
        let mut budget = count.max(1);
        while shard_i < shards {
            let (before, next) = self.with_shard(shard_i, |shard| {
                let before = if pos == 0 { shard.len() } else { pos.min(shard.len()) };
                (before, shard.scan(pos, budget, now_ms, filter, &mut out))
            });
            budget = budget.saturating_sub(before - next);
            if next != 0 {
                return (((shard_i as u64) << CURSOR_SHIFT) | next as u64, out);
            }
            shard_i += 1;
            pos = 0;
            if budget == 0 {
                break;
            }
        }
        if shard_i >= shards {
            return (0, out);
        }
        ((shard_i as u64) << CURSOR_SHIFT, out)
    }

    /// Every live key matching `pattern` (KEYS), shard by shard.
    pub fn keys(&mut self, pattern: &[u8], now_ms: u64) -> Vec<Bytes> {
        let mut out = Vec::new();
        for i in 0..self.shard_count() {
            self.with_shard(i, |shard| shard.keys_matching(pattern, now_ms, &mut out));
        }
        out
    }

    /// Up to `max` live keys that `keep` accepts, in no particular order,
    /// shard by shard. O(keys): it visits every entry until it has `max`.
    pub fn keys_where(&mut self, now_ms: u64, max: usize, mut keep: impl FnMut(&[u8]) -> bool) -> Vec<Bytes> {
        let mut out = Vec::new();
        for i in 0..self.shard_count() {
            if out.len() >= max {
                break;
            }
            self.with_shard(i, |shard| shard.keys_where(now_ms, max, &mut keep, &mut out));
        }
        out
    }

    /// The number of live keys that `keep` accepts, shard by shard.
    /// O(keys).
    pub fn count_where(&mut self, now_ms: u64, mut keep: impl FnMut(&[u8]) -> bool) -> usize {
        (0..self.shard_count()).map(|i| self.with_shard(i, |shard| shard.count_where(now_ms, &mut keep))).sum()
    }

    /// A random live key (RANDOMKEY), each key about equally likely: a
    /// shard picked with odds by its key count, then a key in it. Database
    /// 0 reads the counts each shard publishes when it is unlocked (no lock
    /// taken); another database counts its keys shard by shard, one lock at
    /// a time. A count gone stale since (the picked shard emptied) falls
    /// back to the next shard that has a key.
    pub fn random_key(&mut self, now_ms: u64) -> Option<Bytes> {
        let n = self.shard_count();
        let counts: Vec<usize> = if self.dbid == 0 && !self.holds_all() {
            self.db.cells.iter().map(|c| c.keys.load(Relaxed)).collect()
        } else {
            (0..n).map(|i| self.with_shard(i, |shard| shard.len())).collect()
        };
        let total: usize = counts.iter().sum();
        let start = if total == 0 {
            rand::random::<usize>() % n
        } else {
            weighted_pick(&counts, rand::random::<usize>() % total)
        };
        (0..n).find_map(|j| self.with_shard((start + j) % n, |shard| shard.random_key(now_ms)))
    }
}

/// The index whose share of `weights` holds `r` (`r` below their sum).
fn weighted_pick(weights: &[usize], mut r: usize) -> usize {
    for (i, &w) in weights.iter().enumerate() {
        if r < w {
            return i;
        }
        r -= w;
    }
    weights.len().saturating_sub(1)
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        self.set_no_touch(false);
        for (i, g) in &mut self.guards {
            // The hinted key is borrowed only as long as this lock.
            g.forget_hint();
            let cell = &self.db.cells[*i];
            cell.used.store(g.used_memory(), Relaxed);
            cell.keys.store(g.len_in(0), Relaxed);
            cell.volatile.store(g.volatile_len_in(0), Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;
    use std::collections::{HashMap, HashSet};

    #[test]
    fn active_expiry_shows_in_dbsize_at_once() {
        let db = Db::new(DbConfig { shards: 8, ..DbConfig::default() });
        db.lock_key(b"k").shard(b"k").set(b"k", Value::string(b"v"), 1_000, 1);
        assert_eq!(db.lock_keys(std::iter::empty()).counts(), (1, 1));
        let deadline = Instant::now() + std::time::Duration::from_secs(1);
        assert_eq!(db.active_expire_cycle(2_000, deadline), 1);
        assert_eq!(db.lock_keys(std::iter::empty()).counts(), (0, 0), "no lock held: the published counts");
    }

    #[test]
    fn scan_visits_every_key_once_across_shards() {
        let db = Db::new(DbConfig { shards: 8, ..DbConfig::default() });
        {
            let mut all = db.lock_all();
            for i in 0..1000 {
                let k = format!("key:{i}");
                all.shard(k.as_bytes()).set(k.as_bytes(), Value::string(b"v"), 0, 1);
            }
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut rounds = 0;
        loop {
            let (next, keys) = db.lock_all().scan(cursor, 10, 1, ScanFilter::default());
            for k in keys {
                assert!(seen.insert(k), "duplicate without concurrent changes");
            }
            rounds += 1;
            if next == 0 {
                break;
            }
            cursor = next;
        }
        assert_eq!(seen.len(), 1000);
        assert!(rounds >= 100, "COUNT is respected: {rounds} rounds");
    }

    #[test]
    fn keys_where_filters_skips_expired_and_stops_at_max() {
        let db = Db::new(DbConfig { shards: 8, ..DbConfig::default() });
        {
            let mut all = db.lock_all();
            for i in 0..300 {
                let k = format!("key:{i}");
                // Every third key expired at 5.
                let expire_at = if i % 3 == 0 { 5 } else { 0 };
                all.shard(k.as_bytes()).set(k.as_bytes(), Value::string(b"v"), expire_at, 1);
            }
        }
        let mut all = db.lock_all();
        let even = |k: &[u8]| k.last().is_some_and(|c| c % 2 == 0);
        // Live at 10: i % 3 != 0; kept: i even. 150 even, 50 of them i % 6 == 0.
        assert_eq!(all.count_where(10, even), 100);
        assert_eq!(all.count_where(1, even), 150, "not yet expired at 1");
        let keys = all.keys_where(10, usize::MAX, even);
        assert_eq!(keys.len(), 100);
        assert_eq!(keys.iter().collect::<HashSet<_>>().len(), 100);
        assert!(keys.iter().all(|k| even(k)));
        assert_eq!(all.keys_where(10, 7, even).len(), 7);
        assert!(all.keys_where(10, 0, even).is_empty());
    }

    /// Sets `key` as accessed at `at_ms`.
    fn put(db: &Db, key: &str, at_ms: u64) {
        db.lock_key(key.as_bytes()).shard(key.as_bytes()).set(key.as_bytes(), Value::string(&[b'x'; 100]), 0, at_ms);
    }

    fn alive(db: &Db, keys: &[String]) -> usize {
        keys.iter().filter(|k| db.lock_key(k.as_bytes()).shard(k.as_bytes()).peek(k.as_bytes(), 1).is_some()).count()
    }

    #[test]
    fn lru_eviction_finds_the_idle_keys_in_any_shard() {
        // 64 shards and about two keys each: the idlest key of whichever
        // shard comes next is often a recently used one. Evicting it while
        // other shards hold idle keys is not LRU.
        let db = Db::new(DbConfig {
            shards: 64,
            maxmemory: 0,
            policy: Policy::AllKeysLru,
            samples: 5,
            ..DbConfig::default()
        });
        let old: Vec<String> = (0..80).map(|i| format!("old:{i}")).collect();
        let hot: Vec<String> = (0..40).map(|i| format!("hot:{i}")).collect();
        old.iter().for_each(|k| put(&db, k, 1_000));
        hot.iter().for_each(|k| put(&db, k, 50_000));
        let per_key = db.used_memory() / 120;
        // Room for the hot keys and ten old ones: 70 old keys must go.
        db.set_maxmemory((per_key * 50) as u64);
        db.ensure_memory(60_000).unwrap();
        assert!(db.used_memory() <= per_key * 50);
        let (old_alive, hot_alive) = (alive(&db, &old), alive(&db, &hot));
        eprintln!("{hot_alive} of 40 recent keys and {old_alive} of 80 idle keys survived");
        assert!(hot_alive >= 36, "{hot_alive} of 40 recent keys and {old_alive} of 80 idle keys survived");
    }

    #[test]
    fn one_hash_spreads_keys_over_shards_and_finds_them() {
        let db = Db::new(DbConfig { shards: 64, ..DbConfig::default() });
        let keys: Vec<String> = (0..6400).map(|i| format!("key:{i:012}")).collect();
        for k in &keys {
            db.lock_key(k.as_bytes()).shard(k.as_bytes()).set(k.as_bytes(), Value::string(b"v"), 0, 1);
        }
        let mut per_shard = vec![0; db.shard_count()];
        for k in &keys {
            per_shard[db.shard_index(k.as_bytes())] += 1;
        }
        // 100 keys per shard on average; a skewed spread would mean the
        // shard bits overlap the table's.
        assert!(per_shard.iter().all(|&n| (50..150).contains(&n)), "{per_shard:?}");
        assert_eq!(alive(&db, &keys), keys.len());
    }

    #[test]
    fn a_hinted_key_and_other_keys_of_its_shard_are_found() {
        let db = Db::new(DbConfig { shards: 1, ..DbConfig::default() });
        for k in ["a1", "b2", "c3"] {
            put(&db, k, 1);
        }
        let key = b"a1".to_vec();
        let mut locked = db.lock_key_hashed(&key, db.hash_key(&key));
        let shard = locked.shard(&key);
        assert!(shard.peek(&key, 1).is_some());
        // The same bytes elsewhere, and other keys of the same length, are
        // not mistaken for the hinted slice.
        assert!(shard.peek(b"a1", 1).is_some());
        assert!(shard.peek(&key[..1], 1).is_none());
        assert!(shard.peek(b"b2", 1).is_some());
        assert!(shard.peek(b"zz", 1).is_none());
        shard.set(b"d4", Value::string(b"v"), 0, 1);
        assert!(shard.remove(&key, 1).is_some());
        assert!(shard.peek(&key, 1).is_none());
        shard.set(&key, Value::string(b"w"), 0, 1);
        drop(locked);
        assert_eq!(alive(&db, &["a1", "b2", "c3", "d4"].map(String::from)), 4);
    }

    #[test]
    fn warming_many_keys_locks_each_shard_once_and_releases_all() {
        let db = Db::new(DbConfig { shards: 8, ..DbConfig::default() });
        let keys: Vec<String> = (0..40).map(|i| format!("k{}", i % 20)).collect();
        (0..10).for_each(|i| put(&db, &format!("k{i}"), 1));
        // Duplicates, keys sharing shards, present and absent keys: would
        // deadlock if a shard were locked twice.
        let probes: Vec<(&[u8], KeyHash)> = keys.iter().map(|k| (k.as_bytes(), db.hash_key(k.as_bytes()))).collect();
        db.warm(0, &probes);
        db.warm(0, &[]);
        // Every shard is free again.
        assert_eq!(db.len(), 10);
    }

    #[test]
    fn eviction_brings_memory_under_the_limit() {
        let db = Db::new(DbConfig {
            shards: 4,
            maxmemory: 20_000,
            policy: Policy::AllKeysLru,
            samples: 5,
            ..DbConfig::default()
        });
        for i in 0..1000 {
            db.ensure_memory(1).unwrap();
            let k = format!("key:{i}");
            db.lock_key(k.as_bytes()).shard(k.as_bytes()).set(k.as_bytes(), Value::string(&[b'x'; 64]), 0, 1);
        }
        db.ensure_memory(1).unwrap();
        assert!(db.used_memory() <= 20_000);
        assert!(db.stats().evicted > 0);

        db.set_policy(Policy::VolatileTtl);
        db.set_maxmemory(1);
        assert_eq!(db.ensure_memory(1), Err(Oom), "no key has a TTL");
        db.set_policy(Policy::NoEviction);
        assert_eq!(db.ensure_memory(1), Err(Oom));
    }

    #[test]
    fn keys_are_sharded_by_slot() {
        let db = Db::new(DbConfig { shards: 64, ..DbConfig::default() });
        for i in 0..1000 {
            let k = format!("{{user{}}}:{i}", i % 7);
            let slot = ringcache_ring::slot(k.as_bytes());
            assert_eq!(db.shard_index(k.as_bytes()), usize::from(slot) % 64);
            assert_eq!(db.hash_key(k.as_bytes()).slot(), slot);
        }
        // A tag's keys share a shard.
        let shards: HashSet<usize> = (0..100).map(|i| db.shard_index(format!("{{t}}:{i}").as_bytes())).collect();
        assert_eq!(shards.len(), 1);
        // Up to one shard per slot.
        let db = Db::new(DbConfig { shards: 16384, ..DbConfig::default() });
        assert_eq!(db.shard_index(b"foo"), usize::from(ringcache_ring::slot(b"foo")));
    }

    fn replicated() -> DbConfig {
        DbConfig { shards: 8, tombstone_grace_ms: 1000, journal: true, ..DbConfig::default() }
    }

    #[test]
    fn slot_queries_lock_only_the_slots_shard() {
        let db = Db::new(replicated());
        let slot = ringcache_ring::slot(b"{t}");
        for i in 0..20 {
            let k = format!("{{t}}:{i}");
            db.lock_key(k.as_bytes()).shard(k.as_bytes()).set(k.as_bytes(), Value::string(b"v"), 0, 1000);
        }
        // Another shard held locked does not stand in the way.
        let other = (0..100).map(|i| format!("o{i}")).find(|k| db.shard_index(k.as_bytes()) != db.shard_of_slot(slot));
        let other = other.unwrap();
        let _held = db.lock_key(other.as_bytes());
        assert_ne!(db.slot_digest(slot), 0);
        let mut versions = Vec::new();
        db.slot_hashes(slot, 1000, &mut versions);
        assert_eq!(versions.len(), 20);
        let (next, records) = db.slot_entries(slot, 0, usize::MAX, 1000);
        assert_eq!((next, records.len()), (0, 20));
        assert_eq!(db.slot_digest(slot ^ 1), 0);
    }

    #[test]
    fn a_command_drains_what_it_changed_and_a_flush_leaves_floors() {
        let db = Db::new(replicated());
        let mut all = db.lock_all();
        for k in ["a", "b", "c"] {
            all.shard(k.as_bytes()).set(k.as_bytes(), Value::string(b"v"), 0, 1000);
        }
        all.shard(b"b").remove(b"b", 1001);
        let mut changed = Vec::new();
        all.take_changed(&mut changed);
        let mut keys: Vec<&[u8]> = changed.iter().map(|(_, k, _)| k.as_bytes()).collect();
        keys.sort();
        assert_eq!(keys, [&b"a"[..], b"b", b"c"], "b twice in a row is one change");
        all.take_changed(&mut changed);
        assert_eq!(changed.len(), 3, "drained");
        all.flush_at(2000);
        assert!(all.is_empty());
        drop(all);
        assert_eq!(db.used_memory(), 0);
        for slot in [0, 1, 16383, ringcache_ring::slot(b"a")] {
            let floor = db.slot_floor(0, slot).unwrap();
            assert!(floor.hlc >= ringcache_version::Hlc::new(2000, 0));
            assert_eq!(db.slot_digest(slot), crate::digest::floor_digest(0, floor));
        }
    }

    #[test]
    fn with_invalidation_on_every_change_is_recorded_on_its_thread() {
        use crate::invalidate::{take, Cause, Change};
        let db = Db::new(DbConfig { shards: 8, ..DbConfig::default() });
        let key = |k: &'static [u8], cause| Change::Key { db: 0, key: Bytes::from_static(k), cause };
        let mut out = Vec::new();
        db.lock_key(b"off").shard(b"off").set(b"off", Value::string(b"v"), 0, 1000);
        take(&mut out);
        assert!(out.is_empty(), "nothing is recorded while the switch is off");
        db.set_invalidation(true);
        db.lock_key(b"a").shard(b"a").set(b"a", Value::string(b"v"), 1500, 1000);
        db.lock_key(b"b").shard(b"b").set(b"b", Value::string(b"v"), 0, 1000);
        db.lock_key(b"b").shard(b"b").remove(b"b", 1000);
        assert!(db.lock_key(b"a").shard(b"a").get(b"a", 2000).is_none(), "expired on access");
        db.lock_all().flush_at(3000);
        take(&mut out);
        assert_eq!(
            out,
            [
                key(b"a", Cause::Own),
                key(b"b", Cause::Own),
                key(b"b", Cause::Own),
                key(b"a", Cause::Expired),
                Change::Flush
            ]
        );
        db.set_invalidation(false);
    }

    #[test]
    fn a_write_over_an_expired_key_records_its_expiry_first() {
        use crate::invalidate::{take, Cause, Change};
        let db = Db::new(DbConfig { shards: 8, ..DbConfig::default() });
        let key = |k: &'static [u8], cause| Change::Key { db: 0, key: Bytes::from_static(k), cause };
        let mut out = Vec::new();
        db.lock_key(b"a").shard(b"a").set(b"a", Value::string(b"v"), 1500, 1000);
        db.set_gone_events(true);
        // Expired but not reclaimed: SET replaces it without a lookup.
        db.lock_key(b"a").shard(b"a").set(b"a", Value::string(b"w"), 0, 2000);
        take(&mut out);
        assert_eq!(out, [key(b"a", Cause::Expired)], "only gone keys are recorded with GONE alone");
        assert_eq!(db.stats().expired, 1);
        out.clear();
        db.lock_key(b"a").shard(b"a").set(b"a", Value::string(b"x"), 0, 2000);
        db.set_invalidation(true);
        db.lock_key(b"a").shard(b"a").set(b"a", Value::string(b"y"), 2500, 2000);
        db.lock_key(b"a").shard(b"a").set(b"a", Value::string(b"z"), 0, 3000);
        take(&mut out);
        assert_eq!(out, [key(b"a", Cause::Own), key(b"a", Cause::Expired), key(b"a", Cause::Own)]);
        assert_eq!(db.stats().expired, 2);
        db.set_invalidation(false);
        db.set_gone_events(false);
    }

    #[test]
    fn the_expiry_cycle_collects_tombstones() {
        let db = Db::new(replicated());
        for i in 0..200 {
            let k = format!("k{i}");
            let mut l = db.lock_key(k.as_bytes());
            l.shard(k.as_bytes()).set(k.as_bytes(), Value::string(b"v"), 0, 1000);
            l.shard(k.as_bytes()).remove(k.as_bytes(), 1000);
        }
        let tombs = |db: &Db| db.lock_all().shards_mut().map(|s| s.tombstones_len()).sum::<usize>();
        assert_eq!(tombs(&db), 200);
        assert_eq!(db.used_memory(), 200 * crate::TOMBSTONE_OVERHEAD);
        let deadline = Instant::now() + std::time::Duration::from_secs(10);
        db.active_expire_cycle(1500, deadline);
        assert_eq!(tombs(&db), 200, "not yet");
        for _ in 0..100 {
            db.active_expire_cycle(2000, deadline);
        }
        assert_eq!(tombs(&db), 0);
        assert_eq!(db.used_memory(), 0);
    }

    #[test]
    fn a_keyspace_walk_holds_one_shard_at_a_time() {
        let db = Db::new(DbConfig { shards: 4, ..DbConfig::default() });
        let keys: Vec<String> = (0..400).map(|i| format!("k{i}")).collect();
        for k in &keys {
            db.lock_key(k.as_bytes()).shard(k.as_bytes()).set(k.as_bytes(), Value::string(b"v"), 0, 1);
        }
        // While a walk holds shard 0, a key of another shard can be written
        // from another thread; a key of shard 0 cannot.
        let other = keys.iter().find(|k| db.shard_index(k.as_bytes()) != 0).unwrap();
        let mine = keys.iter().find(|k| db.shard_index(k.as_bytes()) == 0).unwrap();
        let mut walk = db.lock_keys(std::iter::empty());
        walk.with_shard(0, |_| {
            std::thread::scope(|t| {
                let free = t.spawn(|| db.try_lock_key_for(other.as_bytes(), std::time::Duration::from_secs(5)));
                let held = t.spawn(|| db.try_lock_key_for(mine.as_bytes(), std::time::Duration::from_millis(50)));
                assert!(free.join().unwrap(), "another shard stays free during a walk");
                assert!(!held.join().unwrap(), "the walked shard is held");
            });
        });
        // And the walks see everything.
        assert_eq!(walk.len(), 400);
        assert_eq!(walk.keys(b"*", 1).len(), 400);
        assert_eq!(walk.stats().keys, 400);
        let (mut cursor, mut seen) = (0, HashSet::new());
        loop {
            let (next, found) = walk.scan(cursor, 10, 1, ScanFilter::default());
            seen.extend(found);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        assert_eq!(seen.len(), 400);
        assert!(walk.random_key(1).is_some());
    }

    #[test]
    fn random_key_gives_each_of_few_keys_its_share() {
        // Redis's own test: two keys, a hundred RANDOMKEYs, both seen. A
        // walk from a random shard to the first non-empty one fails it
        // whenever the two keys' shards are close on the shard circle.
        let db = Db::new(DbConfig::default());
        for dbid in [0, 3] {
            for k in ["foo", "bar"] {
                let mut l = db.lock_key(k.as_bytes());
                l.select(dbid);
                l.shard(k.as_bytes()).set(k.as_bytes(), Value::string(b"v"), 0, 1);
            }
            let mut walk = db.lock_keys(std::iter::empty());
            walk.select(dbid);
            let mut seen = HashMap::new();
            for _ in 0..1000 {
                *seen.entry(walk.random_key(1).expect("a key")).or_insert(0) += 1;
            }
            assert_eq!(seen.len(), 2, "db {dbid}: {seen:?}");
            assert!(seen.values().all(|&n| n > 350), "db {dbid}: about half each: {seen:?}");
        }
    }

    #[test]
    fn databases_are_separate_keyspaces_of_the_same_shards() {
        let db = Db::new(DbConfig { shards: 8, ..DbConfig::default() });
        let set = |dbid: u16, k: &str, v: &[u8], ttl: u64| {
            let mut l = db.lock_key(k.as_bytes());
            l.select(dbid);
            l.shard(k.as_bytes()).set(k.as_bytes(), Value::string(v), ttl, 1);
        };
        let get = |dbid: u16, k: &str| {
            let mut l = db.lock_key(k.as_bytes());
            l.select(dbid);
            l.shard(k.as_bytes()).peek(k.as_bytes(), 1).map(|e| e.value().clone())
        };
        for i in 0..100 {
            set(0, &format!("k{i}"), b"zero", 0);
        }
        for i in 0..30 {
            set(3, &format!("k{i}"), b"three", if i < 10 { 1_000_000 } else { 0 });
        }
        assert_eq!(get(0, "k1"), Some(Value::string(b"zero")));
        assert_eq!(get(3, "k1"), Some(Value::string(b"three")));
        assert_eq!(get(3, "k50"), None);
        let mut walk = db.lock_keys(std::iter::empty());
        assert_eq!(walk.counts(), (100, 0));
        walk.select(3);
        assert_eq!(walk.counts(), (30, 10));
        assert_eq!(walk.keys(b"*", 1).len(), 30);
        let counts = walk.database_counts(1);
        assert_eq!(counts.len(), 2);
        assert_eq!(counts[0], (0, 100, 0, 0));
        assert_eq!((counts[1].0, counts[1].1, counts[1].2), (3, 30, 10));
        assert!(counts[1].3 > 0 && counts[1].3 < 1_000_000, "avg ttl {}", counts[1].3);
        assert_eq!(walk.stats().keys, 130, "INFO totals cover every database");
        drop(walk);

        // SWAPDB, then FLUSHDB of one, then FLUSHALL.
        let mut all = db.lock_all();
        all.swap_databases(0, 3);
        assert_eq!(all.counts(), (30, 10), "db 3 now holds what db 0 did... seen from 3");
        all.select(0);
        assert_eq!(all.counts(), (30, 10));
        all.select(3);
        assert_eq!(all.counts(), (100, 0));
        all.flush_at(2);
        assert_eq!(all.counts(), (0, 0));
        all.select(0);
        assert_eq!(all.counts(), (30, 10), "FLUSHDB leaves the other databases");
        all.flush_all_at(3);
        assert_eq!(all.stats().keys, 0);
        drop(all);
        assert_eq!(db.used_memory(), 0);
    }

    #[test]
    fn expiry_and_eviction_cover_every_database() {
        let db = Db::new(DbConfig { shards: 4, policy: Policy::AllKeysRandom, ..DbConfig::default() });
        for i in 0..200u16 {
            let k = format!("k{i}");
            let mut l = db.lock_key(k.as_bytes());
            l.select(i % 5);
            l.shard(k.as_bytes()).set(k.as_bytes(), Value::string(&[b'x'; 64]), if i % 2 == 0 { 10 } else { 0 }, 1);
        }
        let deadline = Instant::now() + std::time::Duration::from_secs(10);
        for _ in 0..50 {
            db.active_expire_cycle(20, deadline);
        }
        assert_eq!(db.lock_keys(std::iter::empty()).stats().keys, 100, "the expired keys of every database");
        db.set_maxmemory((db.used_memory() / 2) as u64);
        db.ensure_memory(20).unwrap();
        let mut walk = db.lock_keys(std::iter::empty());
        let left = walk.database_counts(20);
        assert!(left.iter().map(|c| c.1).sum::<usize>() <= 50);
        assert!(left.len() >= 4, "evicted from every database alike: {left:?}");
    }
}
