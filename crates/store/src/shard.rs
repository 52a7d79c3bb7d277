//! One shard of the keyspace: a map of entries plus the bookkeeping that
//! expiry, eviction and WATCH need. A shard is only ever touched under its
//! lock (see [`crate::Db`]).

use bytes::Bytes;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::entry::{Entry, ENTRY_OVERHEAD};
use crate::eviction::{self, lfu_new, lfu_touch, Policy};
use crate::glob::glob_match;
use crate::hasher::{HashMap, IndexSet};
use crate::key::Key;
use crate::table::Table;
use crate::value::Value;

/// Counters for INFO, summed over shards when asked for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShardStats {
    pub hits: u64,
    pub misses: u64,
    pub expired: u64,
    pub evicted: u64,
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
}

impl ScanFilter<'_> {
    fn keeps(&self, key: &[u8], value: &Value) -> bool {
        self.pattern.is_none_or(|p| glob_match(p, key))
            && self.type_name.is_none_or(|t| value.type_name().eq_ignore_ascii_case(t))
    }
}

#[derive(Debug)]
pub struct Shard {
    map: Table<Entry>,
    /// Keys that carry a TTL: what active expiry and volatile-* policies
    /// sample from.
    volatile: IndexSet<Key>,
    used: usize,
    /// Watched keys → (modification count, number of watchers).
    watched: HashMap<Bytes, (u64, u32)>,
    stats: ShardStats,
    rng: SmallRng,
    track_lfu: bool,
    /// The hash of the key whose command holds this shard locked, as the
    /// key's address and length (see [`Shard::hash`]): set and cleared by
    /// `Locked`, which borrows that key for as long as it holds the lock,
    /// so no other bytes can be at that address meanwhile.
    hint: Option<(usize, usize, u64)>,
}

impl Default for Shard {
    fn default() -> Self {
        Shard {
            map: Table::default(),
            volatile: IndexSet::default(),
            used: 0,
            watched: HashMap::default(),
            stats: ShardStats::default(),
            rng: SmallRng::from_entropy(),
            track_lfu: false,
            hint: None,
        }
    }
}

fn entry_mem(key: &[u8], value: &Value) -> usize {
    ENTRY_OVERHEAD + Key::mem_of(key) + value.mem()
}

impl Shard {
    pub fn new() -> Self {
        Self::default()
    }

    /// Keys held, including expired ones not yet removed.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Keys with a TTL.
    pub fn volatile_len(&self) -> usize {
        self.volatile.len()
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

    /// Remembers `key`'s hash (as computed by the table) for the lookups of
    /// the command now holding the lock, so that it hashes its key once.
    /// `key` must stay borrowed, unchanged, until [`forget_hint`] is called.
    ///
    /// [`forget_hint`]: Self::forget_hint
    pub(crate) fn hint(&mut self, key: &[u8], hash: u64) {
        debug_assert_eq!(hash, self.map.hash(key), "wrong hash for the key");
        self.hint = Some((key.as_ptr() as usize, key.len(), hash));
    }

    pub(crate) fn forget_hint(&mut self) {
        self.hint = None;
    }

    /// `key`'s hash: the hinted one when `key` is the very slice hinted.
    #[inline]
    fn hash(&self, key: &[u8]) -> u64 {
        match self.hint {
            Some((ptr, len, hash)) if ptr == key.as_ptr() as usize && len == key.len() => hash,
            _ => self.map.hash(key),
        }
    }

    #[inline]
    fn index_of(&self, key: &[u8]) -> Option<usize> {
        self.map.get_index_of_hashed(key, self.hash(key))
    }

    /// Removes the entry at index `i`, keeping every index consistent.
    fn remove_at(&mut self, i: usize) -> (Key, Entry) {
        let (k, e) = self.map.swap_remove_index(i).expect("index in range");
        if e.expire_at_ms != 0 {
            self.volatile.swap_remove(k.as_bytes());
        }
        self.used -= e.mem as usize;
        self.signal(&k);
        (k, e)
    }

    /// Index of a live `key`, removing it first if it has expired.
    fn live_index(&mut self, key: &[u8], now_ms: u64) -> Option<usize> {
        let i = self.index_of(key)?;
        if self.map[i].is_expired(now_ms) {
            self.remove_at(i);
            self.stats.expired += 1;
            return None;
        }
        Some(i)
    }

    fn touch(&mut self, i: usize, now_ms: u64) -> &mut Entry {
        if self.track_lfu {
            let r: f64 = self.rng.gen();
            let e = &mut self.map[i];
            e.access = lfu_touch(e.access, now_ms, r);
            e
        } else {
            let e = &mut self.map[i];
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

    /// Whether accesses update the LFU word rather than the last access
    /// time (see [`Entry::access`]): only LFU policies read it.
    pub fn set_track_lfu(&mut self, on: bool) {
        self.track_lfu = on;
    }

    /// Looks `key` up without using the result, so that the memory a real
    /// lookup will touch is in the cache by then.
    /// `hash` is the key's, as [`Db::hash_key`](crate::Db::hash_key) gives it.
    pub(crate) fn warm(&self, key: &[u8], hash: u64) {
        std::hint::black_box(self.map.get_index_of_hashed(key, hash));
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
        self.index_of(key).map(|i| &self.map[i]).filter(|e| !e.is_expired(now_ms))
    }

    pub fn contains(&mut self, key: &[u8], now_ms: u64) -> bool {
        self.live_index(key, now_ms).is_some()
    }

    /// Stores `value` under `key`, replacing whatever was there, with expiry
    /// `expire_at_ms` (0 = none). Replacing a key that had expired counts
    /// it as expired, as Redis's lookup before a write does, so a caller
    /// need not look the key up first.
    pub fn set(&mut self, key: &[u8], value: Value, expire_at_ms: u64, now_ms: u64) {
        let mem = entry_mem(key, &value);
        let fresh = Entry { value, expire_at_ms, access: self.fresh_access(now_ms), mem: mem as u32 };
        let hash = self.hash(key);
        match self.map.get_index_of_hashed(key, hash) {
            Some(i) => {
                let (k, old) = self.map.get_index_mut(i).expect("index in range");
                let old = std::mem::replace(old, fresh);
                if old.is_expired(now_ms) {
                    self.stats.expired += 1;
                }
                self.used = self.used - old.mem as usize + mem;
                match (old.expire_at_ms != 0, expire_at_ms != 0) {
                    (false, true) => {
                        self.volatile.insert(k.clone());
                    }
                    (true, false) => {
                        self.volatile.swap_remove(key);
                    }
                    _ => {}
                }
            }
            None => {
                if expire_at_ms != 0 {
                    self.volatile.insert(Key::new(key));
                }
                self.map.insert_unique_hashed(key, hash, fresh);
                self.used += mem;
            }
        }
        self.signal(key);
    }

    /// Stores `value` under `key`, keeping the existing key's TTL (KEEPTTL).
    pub fn set_keep_ttl(&mut self, key: &[u8], value: Value, now_ms: u64) {
        let ttl = self.live_index(key, now_ms).map_or(0, |i| self.map[i].expire_at_ms);
        self.set(key, value, ttl, now_ms);
    }

    /// The live entry for `key`, created with `make()` (and no TTL) if absent.
    /// Call [`written`](Self::written) after changing it.
    pub fn get_or_insert_with(&mut self, key: &[u8], now_ms: u64, make: impl FnOnce() -> Value) -> &mut Entry {
        let i = match self.live_index(key, now_ms) {
            Some(i) => i,
            None => {
                let value = make();
                let mem = entry_mem(key, &value);
                let entry = Entry { value, expire_at_ms: 0, access: self.fresh_access(now_ms), mem: mem as u32 };
                self.used += mem;
                self.map.insert_unique_hashed(key, self.hash(key), entry)
            }
        };
        self.touch(i, now_ms)
    }

    /// Must follow every change made through [`Entry::value_mut`]: updates
    /// the accounted size, removes the key if its collection is now empty,
    /// and invalidates WATCHes on it.
    pub fn written(&mut self, key: &[u8]) {
        if let Some(i) = self.index_of(key) {
            let (k, e) = self.map.get_index_mut(i).expect("index in range");
            if e.value.is_empty_collection() {
                self.remove_at(i);
                return;
            }
            let mem = entry_mem(k, &e.value);
            self.used = self.used - e.mem as usize + mem;
            e.mem = mem as u32;
        }
        self.signal(key);
    }

    /// Removes `key`, returning its entry if it was live.
    pub fn remove(&mut self, key: &[u8], now_ms: u64) -> Option<Entry> {
        let i = self.live_index(key, now_ms)?;
        Some(self.remove_at(i).1)
    }

    /// Inserts a whole entry (value and TTL) taken from elsewhere, e.g. by
    /// RENAME, replacing any existing key.
    pub fn insert_entry(&mut self, key: &[u8], entry: Entry, now_ms: u64) {
        let (expire, access) = (entry.expire_at_ms, entry.access);
        self.set(key, entry.value, expire, now_ms);
        if let Some(i) = self.index_of(key) {
            let e = &mut self.map[i];
            e.access = access;
        }
    }

    /// Sets the absolute expiry of a live `key`; false if there is no such key.
    /// A time not after `now_ms` deletes the key, as Redis does.
    pub fn set_expire(&mut self, key: &[u8], expire_at_ms: u64, now_ms: u64) -> bool {
        let Some(i) = self.live_index(key, now_ms) else {
            return false;
        };
        if expire_at_ms <= now_ms {
            self.remove_at(i);
            return true;
        }
        let (k, e) = self.map.get_index_mut(i).expect("index in range");
        if e.expire_at_ms == 0 {
            self.volatile.insert(k.clone());
        }
        e.expire_at_ms = expire_at_ms;
        self.signal(key);
        true
    }

    /// Removes the TTL of a live `key`; true if it had one.
    pub fn persist(&mut self, key: &[u8], now_ms: u64) -> bool {
        let Some(i) = self.live_index(key, now_ms) else {
            return false;
        };
        let e = &mut self.map[i];
        if e.expire_at_ms == 0 {
            return false;
        }
        e.expire_at_ms = 0;
        self.volatile.swap_remove(key);
        self.signal(key);
        true
    }

    /// Drops every key (FLUSHALL), invalidating every WATCH.
    pub fn clear(&mut self) {
        self.map = Table::default();
        self.volatile = IndexSet::default();
        self.used = 0;
        for w in self.watched.values_mut() {
            w.0 += 1;
        }
    }

    /// A random live key.
    pub fn random_key(&mut self, now_ms: u64) -> Option<Bytes> {
        // Retry a bounded number of times past expired keys, removing them.
        for _ in 0..100 {
            if self.map.is_empty() {
                return None;
            }
            let i = self.rng.gen_range(0..self.map.len());
            if self.map[i].is_expired(now_ms) {
                self.remove_at(i);
                self.stats.expired += 1;
                continue;
            }
            return Some(self.map.get_index(i).expect("index in range").0.to_bytes());
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
        let mut next = if cursor == 0 { self.map.len() } else { cursor.min(self.map.len()) };
        let mut visited = 0;
        while next > 0 && visited < count {
            next -= 1;
            visited += 1;
            let (k, e) = self.map.get_index(next).expect("index in range");
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
            self.map
                .iter()
                .filter(|(k, e)| !e.is_expired(now_ms) && (all || glob_match(pattern, k)))
                .map(|(k, _)| k.to_bytes()),
        );
    }

    /// Pushes into `out` the live keys that `keep` accepts, until `out`
    /// holds `max` keys. Visits every entry: there is no index by anything
    /// but the key (CLUSTER GETKEYSINSLOT filters by slot this way).
    pub fn keys_where(&self, now_ms: u64, max: usize, keep: &mut dyn FnMut(&[u8]) -> bool, out: &mut Vec<Bytes>) {
        for (k, e) in self.map.iter() {
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
        self.map.iter().filter(|(k, e)| !e.is_expired(now_ms) && keep(k)).count()
    }

    /// Starts watching `key`, returning its modification count now.
    pub fn watch(&mut self, key: &[u8], now_ms: u64) -> u64 {
        // An already-expired key counts as modified by its expiry.
        self.live_index(key, now_ms);
        let w = self.watched.entry(Bytes::copy_from_slice(key)).or_insert((0, 0));
        w.1 += 1;
        w.0
    }

    /// Stops one watcher of `key`.
    pub fn unwatch(&mut self, key: &[u8]) {
        if let Some(w) = self.watched.get_mut(key) {
            w.1 -= 1;
            if w.1 == 0 {
                self.watched.remove(key);
            }
        }
    }

    /// The modification count of a watched `key`, after applying any expiry
    /// that is due.
    pub fn watch_version(&mut self, key: &[u8], now_ms: u64) -> u64 {
        self.live_index(key, now_ms);
        self.watched.get(key).map_or(u64::MAX, |w| w.0)
    }

    fn signal(&mut self, key: &[u8]) {
        if !self.watched.is_empty() {
            if let Some(w) = self.watched.get_mut(key) {
                w.0 += 1;
            }
        }
    }

    /// One pass of active expiry: samples up to `sample` keys with a TTL and
    /// removes the expired ones. Returns (sampled, expired) so the caller can
    /// decide whether another pass is worth it.
    pub fn active_expire(&mut self, now_ms: u64, sample: usize) -> (usize, usize) {
        let mut expired = 0;
        let n = sample.min(self.volatile.len());
        for _ in 0..n {
            if self.volatile.is_empty() {
                break;
            }
            let j = self.rng.gen_range(0..self.volatile.len());
            let key = self.volatile.get_index(j).expect("index in range");
            if let Some(i) = self.index_of(key) {
                if self.map[i].is_expired(now_ms) {
                    self.remove_at(i);
                    self.stats.expired += 1;
                    expired += 1;
                }
            }
        }
        // Give memory back once most of a once-large table is gone.
        if self.map.capacity() > 1024 && self.map.len() < self.map.capacity() / 8 {
            self.map.shrink_to(self.map.len() * 2);
        }
        (n, expired)
    }

    /// Index of the `j`-th candidate under `policy`: keys with a TTL only
    /// for the volatile policies.
    fn candidate_index(&self, policy: Policy, j: usize) -> usize {
        if policy.volatile_only() {
            let key = self.volatile.get_index(j).expect("index in range");
            self.index_of(key).expect("volatile keys are in the map")
        } else {
            j
        }
    }

    fn candidate_count(&self, policy: Policy) -> usize {
        if policy == Policy::NoEviction {
            0
        } else if policy.volatile_only() {
            self.volatile.len()
        } else {
            self.map.len()
        }
    }

    /// Evicts the best of `samples` candidates of this shard under `policy`
    /// (one random key for the random policies), returning the bytes freed,
    /// or `None` if this shard has no candidate.
    pub fn evict_one(&mut self, policy: Policy, samples: usize, now_ms: u64) -> Option<usize> {
        let pool = self.candidate_count(policy);
        if pool == 0 {
            return None;
        }
        let mut best: Option<(usize, u64)> = None;
        let rounds = if policy.is_random() { 1 } else { samples.max(1) };
        for _ in 0..rounds {
            let j = self.rng.gen_range(0..pool);
            let i = self.candidate_index(policy, j);
            let score = eviction::score(policy, &self.map[i], now_ms);
            if best.is_none_or(|(_, s)| score > s) {
                best = Some((i, score));
            }
        }
        let (i, _) = best?;
        Some(self.evict_at(i))
    }

    fn evict_at(&mut self, i: usize) -> usize {
        let (_, e) = self.remove_at(i);
        self.stats.evicted += 1;
        e.mem as usize
    }

    /// Adds up to `samples` candidates under `policy` to `out`, as (score,
    /// key), for the eviction pool: every candidate when the shard has no
    /// more than that, else a random sample.
    pub(crate) fn sample_for_eviction(
        &mut self,
        policy: Policy,
        samples: usize,
        now_ms: u64,
        out: &mut Vec<(u64, Bytes)>,
    ) {
        let pool = self.candidate_count(policy);
        let all = pool <= samples;
        for n in 0..samples.min(pool) {
            let j = if all { n } else { self.rng.gen_range(0..pool) };
            let i = self.candidate_index(policy, j);
            let (k, e) = self.map.get_index(i).expect("index in range");
            out.push((eviction::score(policy, e, now_ms), k.to_bytes()));
        }
    }

    /// Evicts `key`, a pool candidate sampled with `score`, if it still is
    /// one at least that good.
    pub(crate) fn evict_candidate(&mut self, key: &[u8], policy: Policy, score: u64, now_ms: u64) -> Evicted {
        let Some(i) = self.index_of(key) else {
            return Evicted::Gone;
        };
        let e = &self.map[i];
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
        self.map.iter().filter(move |(_, e)| !e.is_expired(now_ms)).map(|(k, e)| (k.as_bytes(), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_slot_is_80_bytes() {
        // Key (24) + Entry (Value 40, expiry 8, access word 4, mem 4): the
        // figure docs/store.md and ENTRY_OVERHEAD build on.
        assert_eq!(std::mem::size_of::<Entry>(), 56);
        assert_eq!(std::mem::size_of::<(Key, Entry)>(), 80);
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
        assert!(s.watched.is_empty());
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
}
