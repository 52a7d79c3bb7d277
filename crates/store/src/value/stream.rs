//! Streams: an append-only log of entries with 128-bit ids, and consumer
//! groups with their pending entries lists (PEL), as Redis 7.2 keeps them.
//!
//! Representation. Entries live in *nodes*, kept in a `BTreeMap` keyed by
//! the id of the first entry ever appended to the node (Redis's rax of
//! listpacks, keyed by the master id). A node takes new entries until it
//! holds `stream-node-max-entries` (live and deleted) or its estimated
//! listpack size reaches `stream-node-max-bytes`, exactly where Redis would
//! start a new listpack, so that approximate trimming (`MAXLEN ~`), which
//! only ever drops whole nodes, removes what Redis removes. An entry keeps
//! its fields and values packed in one boxed buffer (a varint count, then
//! a varint length before each element): per entry the id (16 bytes), the
//! box (16), a byte or two per element and the bytes themselves, in one
//! allocation. Replies copy the elements out (they are small, and a copy
//! is cheaper than a reference count per element kept forever). Redis's
//! listpacks, which delta-encode ids and share field names within a node,
//! are smaller still: about 33 bytes against 87 here for an entry of
//! three short pairs (README).
//!
//! Consumer groups are in name order (as Redis's rax iterates them); each
//! keeps its PEL (id → delivery time, count and owner) and its consumers,
//! each consumer the set of ids it owns. The two views of a pending entry
//! (the group's and its owner's) only change together, through
//! [`ConsumerGroup`]'s methods.
//!
//! Invariants: node keys and entry ids increase; an entry's id is at least
//! its node's key; no node is empty; `length` is the number of live
//! entries; `last_id` is at least every id ever added; every PEL entry's
//! owner is a consumer of the group whose own set holds the id, and every
//! id of a consumer's set is in the group's PEL with it as owner. The
//! accounted size follows every change.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use bytes::Bytes;

/// A stream entry id: milliseconds and a sequence number, ordered as a
/// 128-bit number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId { ms: u64::MAX, seq: u64::MAX };

    pub const fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    /// The next id, `None` past the largest.
    pub fn next(self) -> Option<StreamId> {
        match (self.ms, self.seq) {
            (u64::MAX, u64::MAX) => None,
            (ms, u64::MAX) => Some(StreamId::new(ms + 1, 0)),
            (ms, seq) => Some(StreamId::new(ms, seq + 1)),
        }
    }

    /// The previous id, `None` before the smallest.
    pub fn prev(self) -> Option<StreamId> {
        match (self.ms, self.seq) {
            (0, 0) => None,
            (ms, 0) => Some(StreamId::new(ms - 1, u64::MAX)),
            (ms, seq) => Some(StreamId::new(ms, seq - 1)),
        }
    }

    pub fn is_zero(self) -> bool {
        self == StreamId::MIN
    }

    /// `ms-seq`, as replies carry it.
    pub fn to_bytes(self) -> Bytes {
        Bytes::from(self.to_string())
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// One entry: its id and its field-value pairs, packed in one buffer
/// (the element count, then each element's length and bytes, lengths as
/// LEB128 varints): one allocation per entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEntry {
    pub id: StreamId,
    body: Box<[u8]>,
}

/// Bookkeeping charged per entry beside its packed body: the id, the
/// box, and the allocator's rounding of the body.
const ENTRY_OVERHEAD: usize = 16 + 16 + 16;
/// Per node: the tree slot, the key and the vector.
const NODE_OVERHEAD: usize = 96;
/// Per group, per consumer and per pending entry (the group's PEL slot and
/// the owner's set slot).
const GROUP_OVERHEAD: usize = 160;
const CONSUMER_OVERHEAD: usize = 96;
const PENDING_OVERHEAD: usize = 96;

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A varint of a body this module wrote: never truncated.
fn get_varint(b: &[u8], pos: &mut usize) -> usize {
    let (mut v, mut shift) = (0u64, 0);
    loop {
        let byte = b[*pos];
        *pos += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return v as usize;
        }
        shift += 7;
    }
}

impl StreamEntry {
    /// An entry of the alternating fields and values `pairs` (an even,
    /// non-zero count, checked by the caller).
    pub fn new<B: AsRef<[u8]>>(id: StreamId, pairs: &[B]) -> StreamEntry {
        let total: usize = pairs.iter().map(|p| p.as_ref().len() + 2).sum();
        let mut body = Vec::with_capacity(total + 2);
        put_varint(&mut body, pairs.len() as u64);
        for p in pairs {
            put_varint(&mut body, p.as_ref().len() as u64);
            body.extend_from_slice(p.as_ref());
        }
        StreamEntry { id, body: body.into_boxed_slice() }
    }

    /// The fields and values, alternating.
    pub fn pairs(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        let mut pos = 0;
        let n = get_varint(&self.body, &mut pos);
        (0..n).map(move |_| {
            let len = get_varint(&self.body, &mut pos);
            let b = &self.body[pos..pos + len];
            pos += len;
            b
        })
    }

    /// How many fields and values (twice the pairs).
    pub fn elements(&self) -> usize {
        get_varint(&self.body, &mut 0)
    }

    fn mem(&self) -> usize {
        ENTRY_OVERHEAD + self.body.len()
    }

    /// An estimate of the entry's size in a Redis listpack, which decides
    /// where Redis would start a new node: per element its bytes with a
    /// header and a back-length, plus the flags, the id deltas and the
    /// count; fields are left out when they repeat the node's first ones.
    fn listpack_bytes(&self, master: Option<&StreamEntry>) -> usize {
        let same_fields = master.is_some_and(|m| {
            m.elements() == self.elements() && m.pairs().step_by(2).zip(self.pairs().step_by(2)).all(|(a, b)| a == b)
        });
        let mut n = 4 * 2 + 9; // flags, seq delta, lp-count, ms delta
        for (i, e) in self.pairs().enumerate() {
            if same_fields && i % 2 == 0 {
                continue;
            }
            n += lp_element_bytes(e.len());
        }
        if !same_fields {
            n += 2;
        }
        n
    }
}

fn lp_element_bytes(len: usize) -> usize {
    let header = if len < 64 {
        1
    } else if len < 4096 {
        2
    } else {
        5
    };
    let total = header + len;
    let back = if total < 128 {
        1
    } else if total < 16384 {
        2
    } else {
        3
    };
    total + back
}

/// Where Redis starts a new node (`stream-node-max-bytes`,
/// `stream-node-max-entries`; 0 = no limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeLimits {
    pub max_bytes: u64,
    pub max_entries: u64,
}

impl Default for NodeLimits {
    fn default() -> Self {
        NodeLimits { max_bytes: 4096, max_entries: 100 }
    }
}

/// The largest node Redis builds (`STREAM_LISTPACK_MAX_SIZE`, 1 GiB): also
/// the most bytes one entry may hold.
pub const NODE_MAX_SIZE: u64 = 1 << 30;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Node {
    /// Live entries, in id order.
    entries: Vec<StreamEntry>,
    /// Entries deleted from the node (they still count toward its size
    /// limit, as Redis keeps them flagged in the listpack).
    deleted: u64,
    /// The estimated listpack size.
    lp_bytes: u64,
}

/// How a trim decides what goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrimBy {
    MaxLen(u64),
    MinId(StreamId),
}

/// Trimming as XADD and XTRIM ask for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trim {
    pub by: TrimBy,
    /// `~`: only whole nodes are removed.
    pub approx: bool,
    /// Most entries removed (0 = no limit).
    pub limit: u64,
}

/// A pending entry: delivered to `consumer`, not yet acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub delivery_time_ms: i64,
    pub delivery_count: u64,
    pub consumer: Bytes,
}

/// A consumer of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumer {
    /// Last time it tried to read or claim.
    pub seen_time_ms: i64,
    /// Last time it read or claimed something (-1: never).
    pub active_time_ms: i64,
    pel: BTreeSet<StreamId>,
}

impl Consumer {
    pub fn pending(&self) -> &BTreeSet<StreamId> {
        &self.pel
    }
}

/// What happened to an entry being delivered to a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivered {
    New,
    /// It was pending for another (or the same) consumer and now belongs
    /// to this one, its count reset.
    Reassigned,
}

/// A consumer group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerGroup {
    /// The last id delivered to the group.
    pub last_id: StreamId,
    /// Entries read by the group, -1 when unknown.
    pub entries_read: i64,
    pel: BTreeMap<StreamId, Pending>,
    consumers: BTreeMap<Bytes, Consumer>,
    /// Bytes of the consumers' names, for the accounted size.
    names_bytes: usize,
}

/// Redis's `SCG_INVALID_ENTRIES_READ`.
pub const ENTRIES_READ_UNKNOWN: i64 = -1;

impl ConsumerGroup {
    pub fn new(last_id: StreamId, entries_read: i64) -> ConsumerGroup {
        ConsumerGroup { last_id, entries_read, pel: BTreeMap::new(), consumers: BTreeMap::new(), names_bytes: 0 }
    }

    fn mem(&self, name: &[u8]) -> usize {
        GROUP_OVERHEAD
            + name.len()
            + self.consumers.len() * CONSUMER_OVERHEAD
            + self.names_bytes
            + self.pel.len() * PENDING_OVERHEAD
    }

    pub fn pel(&self) -> &BTreeMap<StreamId, Pending> {
        &self.pel
    }

    pub fn consumers(&self) -> &BTreeMap<Bytes, Consumer> {
        &self.consumers
    }

    pub fn consumer(&self, name: &[u8]) -> Option<&Consumer> {
        self.consumers.get(name)
    }

    /// Creates consumer `name` (seen now, never active); false if it exists.
    pub fn create_consumer(&mut self, name: &[u8], now_ms: i64) -> bool {
        if self.consumers.contains_key(name) {
            return false;
        }
        self.names_bytes += name.len();
        self.consumers.insert(
            Bytes::copy_from_slice(name),
            Consumer { seen_time_ms: now_ms, active_time_ms: -1, pel: BTreeSet::new() },
        );
        true
    }

    /// The consumer `name`, created if absent, marked seen now; and
    /// whether it was created.
    pub fn touch_consumer(&mut self, name: &[u8], now_ms: i64) -> bool {
        let created = self.create_consumer(name, now_ms);
        if let Some(c) = self.consumers.get_mut(name) {
            c.seen_time_ms = now_ms;
        }
        created
    }

    /// Deletes consumer `name` and its pending entries: how many it had,
    /// `None` if there is no such consumer.
    pub fn delete_consumer(&mut self, name: &[u8]) -> Option<usize> {
        let c = self.consumers.remove(name)?;
        self.names_bytes -= name.len();
        for id in &c.pel {
            self.pel.remove(id);
        }
        Some(c.pel.len())
    }

    /// Records delivery of `id` to consumer `name` (which must exist) at
    /// `now_ms`: a new pending entry, or one taken over with its count
    /// reset to 1, as Redis's XREADGROUP does.
    pub fn deliver(&mut self, id: StreamId, name: &[u8], now_ms: i64) -> Delivered {
        let owner = self.consumers.get_key_value(name).map(|(k, _)| k.clone()).expect("the consumer exists");
        let how = match self.pel.insert(id, Pending { delivery_time_ms: now_ms, delivery_count: 1, consumer: owner }) {
            None => Delivered::New,
            Some(old) => {
                if let Some(c) = self.consumers.get_mut(&old.consumer) {
                    c.pel.remove(&id);
                }
                Delivered::Reassigned
            }
        };
        let c = self.consumers.get_mut(name).expect("the consumer exists");
        c.pel.insert(id);
        c.active_time_ms = now_ms;
        how
    }

    /// A history read served `id` again: one more delivery, now.
    pub fn redeliver(&mut self, id: StreamId, now_ms: i64) {
        if let Some(p) = self.pel.get_mut(&id) {
            p.delivery_time_ms = now_ms;
            p.delivery_count += 1;
        }
    }

    /// Acknowledges `id`: false if it was not pending.
    pub fn ack(&mut self, id: StreamId) -> bool {
        match self.pel.remove(&id) {
            Some(p) => {
                if let Some(c) = self.consumers.get_mut(&p.consumer) {
                    c.pel.remove(&id);
                }
                true
            }
            None => false,
        }
    }

    /// Gives pending entry `id` (created if absent and `create`) to
    /// consumer `name` (which must exist) with the delivery time and count
    /// given; `None` if it is not pending and not created.
    pub fn claim(
        &mut self,
        id: StreamId,
        name: &[u8],
        delivery_time_ms: i64,
        count: ClaimCount,
        create: bool,
    ) -> Option<()> {
        let owner = self.consumers.get_key_value(name).map(|(k, _)| k.clone()).expect("the consumer exists");
        let p = match self.pel.get_mut(&id) {
            Some(p) => p,
            None if create => {
                self.pel.entry(id).or_insert(Pending { delivery_time_ms, delivery_count: 0, consumer: owner.clone() })
            }
            None => return None,
        };
        let old = std::mem::replace(&mut p.consumer, owner);
        p.delivery_time_ms = delivery_time_ms;
        match count {
            ClaimCount::Set(n) => p.delivery_count = n,
            ClaimCount::Increment => p.delivery_count += 1,
            ClaimCount::Keep => {}
        }
        if old != name {
            if let Some(c) = self.consumers.get_mut(&old) {
                c.pel.remove(&id);
            }
        }
        let c = self.consumers.get_mut(name).expect("the consumer exists");
        c.pel.insert(id);
        c.active_time_ms = delivery_time_ms.max(c.active_time_ms);
        Some(())
    }

    /// Sets consumer `name`'s active time (a claim succeeded).
    pub fn set_active(&mut self, name: &[u8], now_ms: i64) {
        if let Some(c) = self.consumers.get_mut(name) {
            c.active_time_ms = now_ms;
        }
    }

    /// Restores a pending entry as decoded (the consumer must exist);
    /// false if the id is already pending.
    fn restore_pending(&mut self, id: StreamId, p: Pending) -> bool {
        let Some(c) = self.consumers.get_mut(&p.consumer) else { return false };
        if !c.pel.insert(id) {
            return false;
        }
        self.pel.insert(id, p).is_none()
    }
}

/// A group as the codec reads it: name, last id, entries read, consumers
/// (name, seen time, active time) and pending entries.
pub type DecodedGroup = (Bytes, StreamId, i64, Vec<(Bytes, i64, i64)>, Vec<(StreamId, Pending)>);

/// How a claim changes a pending entry's delivery count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimCount {
    Set(u64),
    Increment,
    Keep,
}

/// A stream value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamValue {
    nodes: BTreeMap<StreamId, Node>,
    length: u64,
    /// The largest id ever added (or set by XSETID).
    pub last_id: StreamId,
    /// The first live entry's id, zero when empty.
    first_id: StreamId,
    /// The largest id deleted by XDEL (or set by XSETID).
    pub max_deleted_id: StreamId,
    /// All-time count of entries added (or set by XSETID).
    pub entries_added: u64,
    groups: BTreeMap<Bytes, ConsumerGroup>,
    /// Accounted bytes of the nodes and entries.
    entries_mem: usize,
}

impl StreamValue {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> u64 {
        self.length
    }

    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// The number of nodes (XINFO's `radix-tree-keys`).
    pub fn nodes_len(&self) -> usize {
        self.nodes.len()
    }

    pub fn first_id(&self) -> StreamId {
        self.first_id
    }

    pub(crate) fn mem(&self) -> usize {
        self.entries_mem + self.groups.iter().map(|(n, g)| g.mem(n)).sum::<usize>()
    }

    /// Appends an entry at `id`, which must be above `last_id` (checked by
    /// the caller), starting a new node where Redis would.
    pub fn append<B: AsRef<[u8]>>(&mut self, id: StreamId, pairs: &[B], limits: NodeLimits) {
        debug_assert!(id > self.last_id, "ids only grow");
        let entry = StreamEntry::new(id, pairs);
        let total: u64 = pairs.iter().map(|p| p.as_ref().len() as u64).sum();
        let max_bytes = match limits.max_bytes {
            0 => NODE_MAX_SIZE,
            n => n.min(NODE_MAX_SIZE),
        };
        let fits = self.nodes.last_key_value().is_some_and(|(_, n)| {
            n.lp_bytes + total < max_bytes
                && (limits.max_entries == 0 || (n.entries.len() as u64 + n.deleted) < limits.max_entries)
        });
        self.entries_mem += entry.mem();
        if fits {
            let mut last = self.nodes.last_entry().expect("a last node");
            let node = last.get_mut();
            node.lp_bytes += entry.listpack_bytes(node.entries.first()) as u64;
            node.entries.push(entry);
        } else {
            // A listpack header, the master entry and its terminator.
            let lp_bytes = 6
                + 8
                + entry.pairs().step_by(2).map(|f| lp_element_bytes(f.len())).sum::<usize>()
                + entry.listpack_bytes(None);
            self.entries_mem += NODE_OVERHEAD;
            self.nodes.insert(id, Node { entries: vec![entry], deleted: 0, lp_bytes: lp_bytes as u64 });
        }
        if self.length == 0 {
            self.first_id = id;
        }
        self.length += 1;
        self.entries_added += 1;
        self.last_id = id;
    }

    /// The entry side of the stream, read-only.
    pub fn view(&self) -> StreamView<'_> {
        StreamView { nodes: &self.nodes, meta: self.meta() }
    }

    /// The stream's counters.
    pub fn meta(&self) -> StreamMeta {
        StreamMeta {
            length: self.length,
            last_id: self.last_id,
            first_id: self.first_id,
            max_deleted_id: self.max_deleted_id,
            entries_added: self.entries_added,
        }
    }

    /// The live entry `id`.
    pub fn get(&self, id: StreamId) -> Option<&StreamEntry> {
        self.view().get(id)
    }

    pub fn contains(&self, id: StreamId) -> bool {
        self.get(id).is_some()
    }

    /// Live entries with ids in `start..=end`, in order (or reversed).
    pub fn range(&self, start: StreamId, end: StreamId, rev: bool) -> Box<dyn Iterator<Item = &StreamEntry> + '_> {
        self.view().range_dir(start, end, rev)
    }

    /// The last live entry's id (Redis's `streamLastValidID`), zero when
    /// empty.
    pub fn last_valid_id(&self) -> StreamId {
        self.view().last_valid_id()
    }

    fn refresh_first_id(&mut self) {
        self.first_id =
            self.nodes.first_key_value().and_then(|(_, n)| n.entries.first()).map_or(StreamId::MIN, |e| e.id);
    }

    /// Deletes entry `id` (XDEL): false if it is not there.
    pub fn delete(&mut self, id: StreamId) -> bool {
        let Some((&key, node)) = self.nodes.range_mut(..=id).next_back() else { return false };
        let Ok(i) = node.entries.binary_search_by(|e| e.id.cmp(&id)) else { return false };
        let e = node.entries.remove(i);
        self.entries_mem -= e.mem();
        if node.entries.is_empty() {
            self.nodes.remove(&key);
            self.entries_mem -= NODE_OVERHEAD;
        } else {
            node.deleted += 1;
        }
        self.length -= 1;
        if id > self.max_deleted_id {
            self.max_deleted_id = id;
        }
        if self.length == 0 {
            self.first_id = StreamId::MIN;
        } else if id == self.first_id {
            self.refresh_first_id();
        }
        true
    }

    /// Trims as Redis's `streamTrim`: whole nodes from the head while that
    /// keeps within the bound, then (unless approximate) entries of the
    /// next node. The number of entries removed.
    pub fn trim(&mut self, t: Trim) -> u64 {
        let mut deleted = 0u64;
        while let Some(mut first) = self.nodes.first_entry() {
            if let TrimBy::MaxLen(max) = t.by {
                if self.length <= max {
                    break;
                }
            }
            let entries = first.get().entries.len() as u64;
            if t.limit != 0 && deleted + entries > t.limit {
                break;
            }
            let remove_node = match t.by {
                TrimBy::MaxLen(max) => self.length - entries >= max,
                TrimBy::MinId(min) => first.get().entries.last().is_some_and(|e| e.id < min),
            };
            if remove_node {
                let node = first.remove();
                self.entries_mem -= NODE_OVERHEAD + node.entries.iter().map(StreamEntry::mem).sum::<usize>();
                self.length -= entries;
                deleted += entries;
                continue;
            }
            if t.approx {
                break;
            }
            let node = first.get_mut();
            let cut = match t.by {
                TrimBy::MaxLen(max) => (self.length - max) as usize,
                TrimBy::MinId(min) => node.entries.partition_point(|e| e.id < min),
            };
            let cut = cut.min(node.entries.len());
            let gone: usize = node.entries.drain(..cut).map(|e| e.mem()).sum();
            node.deleted += cut as u64;
            self.entries_mem -= gone;
            self.length -= cut as u64;
            deleted += cut as u64;
            break;
        }
        if self.length == 0 {
            self.first_id = StreamId::MIN;
        } else if deleted > 0 {
            self.refresh_first_id();
        }
        deleted
    }

    pub fn groups(&self) -> &BTreeMap<Bytes, ConsumerGroup> {
        &self.groups
    }

    pub fn group(&self, name: &[u8]) -> Option<&ConsumerGroup> {
        self.groups.get(name)
    }

    /// The group `name` with the stream's entries beside it, for reads
    /// that advance the group.
    pub fn group_mut(&mut self, name: &[u8]) -> Option<(&mut ConsumerGroup, StreamView<'_>)> {
        let meta = self.meta();
        let g = self.groups.get_mut(name)?;
        Some((g, StreamView { nodes: &self.nodes, meta }))
    }

    /// Creates group `name`; false if it exists.
    pub fn create_group(&mut self, name: &[u8], last_id: StreamId, entries_read: i64) -> bool {
        if self.groups.contains_key(name) {
            return false;
        }
        self.groups.insert(Bytes::copy_from_slice(name), ConsumerGroup::new(last_id, entries_read));
        true
    }

    pub fn destroy_group(&mut self, name: &[u8]) -> bool {
        self.groups.remove(name).is_some()
    }

    /// Every node as (key, live entries), for DUMP.
    pub fn node_entries(&self) -> impl Iterator<Item = (StreamId, &[StreamEntry])> {
        self.nodes.iter().map(|(k, n)| (*k, &n.entries[..]))
    }

    /// Every node as (key, deleted count, estimated size, live entries),
    /// for the codec.
    pub(crate) fn nodes(&self) -> impl Iterator<Item = (StreamId, u64, u64, &[StreamEntry])> {
        self.nodes.iter().map(|(k, n)| (*k, n.deleted, n.lp_bytes, &n.entries[..]))
    }

    /// Rebuilds a stream from decoded parts; `None` if they break an
    /// invariant.
    pub fn from_parts(
        nodes: Vec<(StreamId, u64, u64, Vec<StreamEntry>)>,
        last_id: StreamId,
        max_deleted_id: StreamId,
        entries_added: u64,
        groups: Vec<DecodedGroup>,
    ) -> Option<StreamValue> {
        let mut s = StreamValue { last_id, max_deleted_id, entries_added, ..StreamValue::default() };
        let mut prev: Option<StreamId> = None;
        for (key, deleted, lp_bytes, entries) in nodes {
            let first = entries.first()?;
            if first.id < key || prev.is_some_and(|p| key <= p) {
                return None;
            }
            for e in &entries {
                if prev.is_some_and(|p| e.id <= p) || e.id > last_id {
                    return None;
                }
                prev = Some(e.id);
                s.entries_mem += e.mem();
            }
            s.entries_mem += NODE_OVERHEAD;
            s.length += entries.len() as u64;
            s.nodes.insert(key, Node { entries, deleted, lp_bytes });
        }
        if s.length > entries_added {
            return None;
        }
        s.refresh_first_id();
        for (name, last, read, consumers, pel) in groups {
            let mut g = ConsumerGroup::new(last, read);
            for (cname, seen, active) in consumers {
                if !g.create_consumer(&cname, seen) {
                    return None;
                }
                g.consumers.get_mut(&cname[..]).expect("just created").active_time_ms = active;
            }
            for (id, p) in pel {
                if !g.restore_pending(id, p) {
                    return None;
                }
            }
            if s.groups.insert(name, g).is_some() {
                return None;
            }
        }
        Some(s)
    }
}

/// A stream's counters: what the group read counter estimates need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StreamMeta {
    pub length: u64,
    pub last_id: StreamId,
    pub first_id: StreamId,
    pub max_deleted_id: StreamId,
    pub entries_added: u64,
}

impl StreamMeta {
    /// Whether `start..=end` (`None`: open) may hold a deleted entry, as
    /// Redis's `streamRangeHasTombstones`.
    pub fn range_has_tombstones(&self, start: Option<StreamId>, end: Option<StreamId>) -> bool {
        if self.length == 0 || self.max_deleted_id.is_zero() {
            return false;
        }
        if self.first_id > self.max_deleted_id {
            return false;
        }
        let start = start.unwrap_or(StreamId::MIN);
        let end = end.unwrap_or(StreamId::MAX);
        start <= self.max_deleted_id && self.max_deleted_id <= end
    }

    /// How many entries were added before and up to `id`, if that can be
    /// known (Redis's `streamEstimateDistanceFromFirstEverEntry`).
    pub fn estimate_distance(&self, id: StreamId) -> i64 {
        if self.entries_added == 0 {
            return 0;
        }
        let added = self.entries_added as i64;
        if self.length == 0 && id <= self.last_id {
            return added;
        }
        match id.cmp(&self.last_id) {
            std::cmp::Ordering::Equal => return added,
            std::cmp::Ordering::Greater => return ENTRIES_READ_UNKNOWN,
            std::cmp::Ordering::Less => {}
        }
        if self.max_deleted_id.is_zero() || self.max_deleted_id < self.first_id {
            if id < self.first_id {
                return added - self.length as i64;
            } else if id == self.first_id {
                return added - self.length as i64 + 1;
            }
        }
        ENTRIES_READ_UNKNOWN
    }

    /// A group's lag (XINFO), `None` when it cannot be known.
    pub fn lag(&self, g: &ConsumerGroup) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if g.entries_read != ENTRIES_READ_UNKNOWN && !self.range_has_tombstones(Some(g.last_id), None) {
            return Some(self.entries_added as i64 - g.entries_read);
        }
        match self.estimate_distance(g.last_id) {
            ENTRIES_READ_UNKNOWN => None,
            read => Some(self.entries_added as i64 - read),
        }
    }

    /// The group's read counter after it was served `id` (above its last
    /// id), as Redis's `streamReplyWithRange` keeps it.
    pub fn advance_group(&self, g: &mut ConsumerGroup, id: StreamId) {
        if id <= g.last_id {
            return;
        }
        if g.entries_read != ENTRIES_READ_UNKNOWN && !self.range_has_tombstones(Some(id), None) {
            g.entries_read += 1;
        } else if self.entries_added != 0 {
            g.entries_read = self.estimate_distance(id);
        }
        g.last_id = id;
    }
}

/// The entry side of a stream, read while one of its groups is changed.
#[derive(Debug, Clone, Copy)]
pub struct StreamView<'a> {
    nodes: &'a BTreeMap<StreamId, Node>,
    pub meta: StreamMeta,
}

impl<'a> StreamView<'a> {
    pub fn get(&self, id: StreamId) -> Option<&'a StreamEntry> {
        let (_, node) = self.nodes.range(..=id).next_back()?;
        let i = node.entries.binary_search_by(|e| e.id.cmp(&id)).ok()?;
        Some(&node.entries[i])
    }

    pub fn last_valid_id(&self) -> StreamId {
        self.nodes.last_key_value().and_then(|(_, n)| n.entries.last()).map_or(StreamId::MIN, |e| e.id)
    }

    /// Live entries with ids in `start..=end`, in order.
    pub fn range(&self, start: StreamId, end: StreamId) -> Box<dyn Iterator<Item = &'a StreamEntry> + 'a> {
        self.range_dir(start, end, false)
    }

    /// Live entries with ids in `start..=end`, in order or reversed.
    pub fn range_dir(
        &self,
        start: StreamId,
        end: StreamId,
        rev: bool,
    ) -> Box<dyn Iterator<Item = &'a StreamEntry> + 'a> {
        if start > end {
            return Box::new(std::iter::empty());
        }
        let from = self.nodes.range(..=start).next_back().map_or(start, |(k, _)| *k);
        let nodes = self.nodes.range(from..=end).map(|(_, n)| n);
        if rev {
            Box::new(
                nodes
                    .rev()
                    .flat_map(|n| n.entries.iter().rev())
                    .skip_while(move |e| e.id > end)
                    .take_while(move |e| e.id >= start),
            )
        } else {
            Box::new(
                nodes.flat_map(|n| n.entries.iter()).skip_while(move |e| e.id < start).take_while(move |e| e.id <= end),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(s: &mut StreamValue, ms: u64, limits: NodeLimits) {
        s.append(StreamId::new(ms, 0), &[b"f".as_slice(), b"v".as_slice()], limits);
    }

    #[test]
    fn ids_order_and_step() {
        assert!(StreamId::new(1, 5) < StreamId::new(2, 0));
        assert_eq!(StreamId::new(1, u64::MAX).next(), Some(StreamId::new(2, 0)));
        assert_eq!(StreamId::MAX.next(), None);
        assert_eq!(StreamId::new(2, 0).prev(), Some(StreamId::new(1, u64::MAX)));
        assert_eq!(StreamId::MIN.prev(), None);
        assert_eq!(StreamId::new(7, 3).to_string(), "7-3");
    }

    #[test]
    fn nodes_split_where_redis_would_and_approx_trim_drops_whole_nodes() {
        let limits = NodeLimits { max_bytes: 0, max_entries: 100 };
        let mut s = StreamValue::new();
        for ms in 1..=1000 {
            add(&mut s, ms, limits);
        }
        assert_eq!(s.nodes_len(), 10);
        let approx = Trim { by: TrimBy::MaxLen(555), approx: true, limit: 0 };
        assert_eq!(s.trim(approx), 400);
        assert_eq!(s.len(), 600);
        let exact = Trim { by: TrimBy::MaxLen(555), approx: false, limit: 0 };
        assert_eq!(s.trim(exact), 45);
        assert_eq!(s.len(), 555);
        assert_eq!(s.first_id(), StreamId::new(446, 0));
        let ids: Vec<_> = s.range(StreamId::MIN, StreamId::MAX, false).map(|e| e.id.ms).take(2).collect();
        assert_eq!(ids, [446, 447]);
        let ids: Vec<_> = s.range(StreamId::MIN, StreamId::new(500, 0), true).map(|e| e.id.ms).take(2).collect();
        assert_eq!(ids, [500, 499]);
    }

    #[test]
    fn delete_keeps_first_id_and_tombstones() {
        let mut s = StreamValue::new();
        for ms in 1..=3 {
            add(&mut s, ms, NodeLimits::default());
        }
        assert!(s.delete(StreamId::new(1, 0)));
        assert!(!s.delete(StreamId::new(1, 0)));
        assert_eq!(s.first_id(), StreamId::new(2, 0));
        assert_eq!(s.max_deleted_id, StreamId::new(1, 0));
        assert!(!s.meta().range_has_tombstones(None, None), "the tombstone is before the first entry");
        assert!(s.delete(StreamId::new(3, 0)));
        assert!(s.meta().range_has_tombstones(None, None));
        assert_eq!(s.last_valid_id(), StreamId::new(2, 0));
        assert_eq!(s.last_id, StreamId::new(3, 0));
    }

    #[test]
    fn pending_entries_move_between_consumers_together() {
        let mut g = ConsumerGroup::new(StreamId::MIN, 0);
        assert!(g.create_consumer(b"a", 1));
        assert!(!g.create_consumer(b"a", 1));
        g.create_consumer(b"b", 1);
        let id = StreamId::new(5, 0);
        assert_eq!(g.deliver(id, b"a", 10), Delivered::New);
        assert_eq!(g.deliver(id, b"b", 11), Delivered::Reassigned);
        assert!(g.consumer(b"a").unwrap().pending().is_empty());
        assert!(g.consumer(b"b").unwrap().pending().contains(&id));
        g.claim(id, b"a", 20, ClaimCount::Increment, false).unwrap();
        assert_eq!(g.pel()[&id].delivery_count, 2);
        assert_eq!(&g.pel()[&id].consumer[..], b"a");
        assert!(g.consumer(b"b").unwrap().pending().is_empty());
        assert_eq!(g.delete_consumer(b"a"), Some(1));
        assert!(g.pel().is_empty());
        assert!(!g.ack(id));
    }
}
