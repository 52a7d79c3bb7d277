//! The messages nodes exchange, and their binary codec.
//!
//! Format: byte 0 is [`CODEC_VERSION`], byte 1 the kind, then the fields in
//! order. Integers are big-endian; byte strings are a `u32` length and the
//! bytes; an optional field is a `0`/`1` byte and then the field; a list is
//! a `u32` count and the items; a node id is a `u16` length and UTF-8; a
//! version is `ringcache_version::Version::encode`'s format; a key is its
//! database (`u16`) and its name (a byte string).
//!
//! Invariants (property-tested):
//! - `decode(encode(m)) == m` for every message within the limits.
//! - Decoding any bytes returns a message or a [`DecodeError`]; it never
//!   panics and never allocates more than the input can justify (a count is
//!   checked against the bytes left before anything is reserved).
//! - A decoded message is within [`Limits`]: its length, its list lengths,
//!   its slots (`< SLOTS`), its node ids (`1..=NODE_ID_LEN_MAX` bytes),
//!   its keys' databases (`< databases`).
//!   Byte strings are slices of the input buffer, never copies.

use bytes::Bytes;
use ringcache_ring::{NodeId, NODE_ID_LEN_MAX, SLOTS};
use ringcache_version::{Hlc, NodeTag, Stamp, Version};

use crate::config::{Limits, CODEC_VERSION, RANGES};
use crate::error::DecodeError;

/// A key of one database: what every message names. Ordered by database,
/// then name (the order of anti-entropy's key lists and windows).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DbKey {
    pub db: u16,
    pub name: Bytes,
}

impl DbKey {
    pub fn new(db: u16, name: impl Into<Bytes>) -> DbKey {
        DbKey { db, name: name.into() }
    }

    /// Bytes it takes in a message.
    pub fn encoded_len(&self) -> usize {
        2 + bytes_len(&self.name)
    }
}

/// A write, numbered by its coordinator; unique per coordinator while it
/// runs (a counter), so acks are matched by `(from, write)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WriteId(pub u64);

/// A quorum read, numbered by the node that runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReadId(pub u64);

/// What a key holds: an encoded value (opaque here; the store's codec) or
/// the tombstone of a delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Value(Bytes),
    Tombstone,
}

/// How an effect gets an owner to the new state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The whole new state.
    Full(State),
    /// The command that made the change (opaque here; applied by the
    /// [`Replica`](crate::Replica)), valid only on top of the version whose
    /// stamp is `base`. Cheaper than the whole value for a small change to a
    /// large collection.
    Delta { base: Stamp, op: Bytes },
}

/// One key's change, as a write replicates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effect {
    pub key: DbKey,
    pub version: Version,
    pub change: Change,
}

/// One key's whole stored state, as repair and catch-up send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: DbKey,
    pub version: Version,
    pub state: State,
}

impl Entry {
    /// The entry as an effect that sets it whole.
    pub fn into_effect(self) -> Effect {
        Effect { key: self.key, version: self.version, change: Change::Full(self.state) }
    }

    /// Bytes this entry takes in a message: the unit of every byte budget,
    /// so a [`Replica`](crate::Replica) can fill a chunk to a budget.
    pub fn encoded_len(&self) -> usize {
        self.key.encoded_len() + self.version.encoded_len() + state_len(&self.state)
    }
}

impl Effect {
    /// Bytes this effect takes in a message.
    pub fn encoded_len(&self) -> usize {
        let change = match &self.change {
            Change::Full(state) => state_len(state),
            Change::Delta { op, .. } => STAMP_LEN + bytes_len(op),
        };
        self.key.encoded_len() + self.version.encoded_len() + 1 + change
    }
}

/// What an owner did with one effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The effect was new and is now applied.
    Applied,
    /// The owner already held this version or a newer one.
    Had,
    /// A delta whose base the owner does not hold: send the whole value.
    NeedFull,
}

impl Outcome {
    /// Whether the owner now holds the effect's version or a newer one.
    pub fn holds(self) -> bool {
        matches!(self, Outcome::Applied | Outcome::Had)
    }
}

/// Where a catch-up stream is: at `slot`, after the entry whose cursor is
/// `after` (opaque, from [`Replica::slot_chunk`](crate::Replica::slot_chunk);
/// `None`: from the slot's start). Every slot below `slot` is complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncPos {
    pub slot: u16,
    pub after: Option<Bytes>,
}

impl SyncPos {
    pub const START: SyncPos = SyncPos { slot: 0, after: None };
}

/// Everything one node sends another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Coordinator → owner: apply these effects of one write; answer `Ack`.
    Apply { write: WriteId, slot: u16, effects: Vec<Effect> },
    /// Owner → coordinator: one outcome per effect of the `Apply`, in order.
    Ack { write: WriteId, outcomes: Vec<Outcome> },
    /// Owner → coordinator: it holds every effect of each of these writes
    /// (every outcome `Applied` or `Had`). The acks of one batch of
    /// `Apply`s, in one message ([`Replicator::handle_batch`](crate::Replicator::handle_batch)).
    Acked { writes: Vec<WriteId> },
    /// Coordinator → fallback: keep these (whole) effects for `owner`, who
    /// is down; answer `HintAck`.
    Hint { owner: NodeId, write: WriteId, slot: u16, effects: Vec<Effect> },
    /// Fallback → coordinator: the hint for `owner` is kept.
    HintAck { write: WriteId, owner: NodeId },
    /// Fallback → owner, back up: a kept hint; answer `HintDelivered`.
    HintDeliver { id: u64, slot: u16, effects: Vec<Effect> },
    /// Owner → fallback: the hint is applied; drop it.
    HintDelivered { id: u64 },
    /// Anti-entropy, step 1: the XOR digests of the [`RANGES`] slot ranges,
    /// over the slots sender and receiver share.
    Ranges { digests: Vec<u64> },
    /// Step 2: the slot digests of shared slots in ranges that differed.
    Slots { digests: Vec<(u16, u64)> },
    /// Step 3: the sender's (key hash, stamp) list of a differing slot,
    /// for key hashes in `lo..hi` (`hi: None`: to the end), sorted by hash
    /// (see [`Replica::slot_hashes`](crate::Replica::slot_hashes)).
    Keys { slot: u16, lo: u64, hi: Option<u64>, keys: Vec<(u64, Stamp)> },
    /// Send me the entries of the slot's keys with these hashes (answer:
    /// `Repair`).
    Fetch { slot: u16, hashes: Vec<u64> },
    /// Entries the receiver lacks or holds older; apply them.
    Repair { slot: u16, entries: Vec<Entry> },
    /// Catch-up: stream the slots we share, from `at`.
    Sync { at: SyncPos },
    /// Catch-up answer to `Sync { at }`: entries, and where to go on from
    /// (`None`: done).
    SyncChunk { at: SyncPos, entries: Vec<(u16, Entry)>, next: Option<SyncPos> },
    /// Quorum read: send me your version and state of `key`.
    Read { id: ReadId, slot: u16, key: DbKey },
    /// The answer; `None`: no entry.
    ReadReply { id: ReadId, found: Option<(Version, State)> },
}

const APPLY: u8 = 1;
const ACK: u8 = 2;
const HINT: u8 = 3;
const HINT_ACK: u8 = 4;
const HINT_DELIVER: u8 = 5;
const HINT_DELIVERED: u8 = 6;
const RANGES_KIND: u8 = 7;
const SLOTS_KIND: u8 = 8;
const KEYS: u8 = 9;
const FETCH: u8 = 10;
const REPAIR: u8 = 11;
const SYNC: u8 = 12;
const SYNC_CHUNK: u8 = 13;
const READ: u8 = 14;
const READ_REPLY: u8 = 15;
const ACKED: u8 = 16;

impl Message {
    /// Appends the encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(CODEC_VERSION);
        match self {
            Message::Apply { write, slot, effects } => {
                out.push(APPLY);
                put_u64(out, write.0);
                put_u16(out, *slot);
                put_list(out, effects, put_effect);
            }
            Message::Ack { write, outcomes } => {
                out.push(ACK);
                put_u64(out, write.0);
                put_list(out, outcomes, |out, o| {
                    out.push(match o {
                        Outcome::Applied => 0,
                        Outcome::Had => 1,
                        Outcome::NeedFull => 2,
                    })
                });
            }
            Message::Acked { writes } => {
                out.push(ACKED);
                put_list(out, writes, |out, w| put_u64(out, w.0));
            }
            Message::Hint { owner, write, slot, effects } => {
                out.push(HINT);
                put_node(out, owner);
                put_u64(out, write.0);
                put_u16(out, *slot);
                put_list(out, effects, put_effect);
            }
            Message::HintAck { write, owner } => {
                out.push(HINT_ACK);
                put_u64(out, write.0);
                put_node(out, owner);
            }
            Message::HintDeliver { id, slot, effects } => {
                out.push(HINT_DELIVER);
                put_u64(out, *id);
                put_u16(out, *slot);
                put_list(out, effects, put_effect);
            }
            Message::HintDelivered { id } => {
                out.push(HINT_DELIVERED);
                put_u64(out, *id);
            }
            Message::Ranges { digests } => {
                out.push(RANGES_KIND);
                put_list(out, digests, |out, d| put_u64(out, *d));
            }
            Message::Slots { digests } => {
                out.push(SLOTS_KIND);
                put_list(out, digests, |out, (slot, d)| {
                    put_u16(out, *slot);
                    put_u64(out, *d);
                });
            }
            Message::Keys { slot, lo, hi, keys } => {
                out.push(KEYS);
                put_u16(out, *slot);
                put_u64(out, *lo);
                put_opt(out, hi.as_ref(), |out, hi| put_u64(out, *hi));
                put_list(out, keys, |out, (hash, stamp)| {
                    put_u64(out, *hash);
                    put_stamp(out, *stamp);
                });
            }
            Message::Fetch { slot, hashes } => {
                out.push(FETCH);
                put_u16(out, *slot);
                put_list(out, hashes, |out, h| put_u64(out, *h));
            }
            Message::Repair { slot, entries } => {
                out.push(REPAIR);
                put_u16(out, *slot);
                put_list(out, entries, put_entry);
            }
            Message::Sync { at } => {
                out.push(SYNC);
                put_pos(out, at);
            }
            Message::SyncChunk { at, entries, next } => {
                out.push(SYNC_CHUNK);
                put_pos(out, at);
                put_list(out, entries, |out, (slot, e)| {
                    put_u16(out, *slot);
                    put_entry(out, e);
                });
                put_opt(out, next.as_ref(), put_pos);
            }
            Message::Read { id, slot, key } => {
                out.push(READ);
                put_u64(out, id.0);
                put_u16(out, *slot);
                put_key(out, key);
            }
            Message::ReadReply { id, found } => {
                out.push(READ_REPLY);
                put_u64(out, id.0);
                put_opt(out, found.as_ref(), |out, (v, s)| {
                    v.encode(out);
                    put_state(out, s);
                });
            }
        }
    }

    /// The encoding as one buffer.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = Vec::new();
        self.encode(&mut out);
        Bytes::from(out)
    }

    /// Encoded length in bytes, without encoding (the limits check runs
    /// on every write).
    pub fn encoded_len(&self) -> usize {
        let list = |n: usize| 4 + n;
        let pos = |p: &SyncPos| 2 + 1 + p.after.as_ref().map_or(0, |a| bytes_len(a));
        let body = match self {
            Message::Apply { effects, .. } | Message::HintDeliver { effects, .. } => {
                8 + 2 + list(effects.iter().map(Effect::encoded_len).sum())
            }
            Message::Ack { outcomes, .. } => 8 + list(outcomes.len()),
            Message::Acked { writes } => list(8 * writes.len()),
            Message::Hint { owner, effects, .. } => {
                node_len(owner) + 8 + 2 + list(effects.iter().map(Effect::encoded_len).sum())
            }
            Message::HintAck { owner, .. } => 8 + node_len(owner),
            Message::HintDelivered { .. } => 8,
            Message::Ranges { digests } => list(8 * digests.len()),
            Message::Slots { digests } => list(10 * digests.len()),
            Message::Keys { hi, keys, .. } => {
                2 + 8 + 1 + if hi.is_some() { 8 } else { 0 } + list(keys.len() * (8 + STAMP_LEN))
            }
            Message::Fetch { hashes, .. } => 2 + list(8 * hashes.len()),
            Message::Repair { entries, .. } => 2 + list(entries.iter().map(Entry::encoded_len).sum()),
            Message::Sync { at } => pos(at),
            Message::SyncChunk { at, entries, next } => {
                pos(at)
                    + list(entries.iter().map(|(_, e)| 2 + e.encoded_len()).sum())
                    + 1
                    + next.as_ref().map_or(0, pos)
            }
            Message::Read { key, .. } => 8 + 2 + key.encoded_len(),
            Message::ReadReply { found, .. } => {
                8 + 1 + found.as_ref().map_or(0, |(v, s)| v.encoded_len() + state_len(s))
            }
        };
        2 + body
    }

    /// Whether a peer with these limits accepts this message: the sending
    /// side's half of the limits' contract (the decoder checks the other).
    pub fn check(&self, limits: &Limits) -> Result<(), DecodeError> {
        let len = self.encoded_len();
        if len > limits.message_len_max {
            return Err(DecodeError::TooLong { len, max: limits.message_len_max });
        }
        let (what, count, max) = match self {
            Message::Apply { effects, .. } | Message::Hint { effects, .. } | Message::HintDeliver { effects, .. } => {
                ("effects", effects.len(), limits.effects_per_message_max)
            }
            Message::Ack { outcomes, .. } => ("outcomes", outcomes.len(), limits.effects_per_message_max),
            Message::Acked { writes } => ("writes", writes.len(), limits.keys_per_message_max),
            Message::Repair { entries, .. } => ("entries", entries.len(), limits.effects_per_message_max),
            Message::SyncChunk { entries, .. } => ("entries", entries.len(), limits.effects_per_message_max),
            Message::Keys { keys, .. } => ("key hashes", keys.len(), limits.hashes_per_message_max),
            Message::Fetch { hashes, .. } => ("key hashes", hashes.len(), limits.hashes_per_message_max),
            Message::Slots { digests } => ("slots", digests.len(), SLOTS),
            _ => return Ok(()),
        };
        if count > max {
            return Err(DecodeError::TooMany { what, count, max });
        }
        Ok(())
    }

    /// Decodes one whole message (`buf` is exactly one message), within
    /// `limits`. Byte strings in the result are slices of `buf`.
    pub fn decode(buf: &Bytes, limits: &Limits) -> Result<Message, DecodeError> {
        if buf.len() > limits.message_len_max {
            return Err(DecodeError::TooLong { len: buf.len(), max: limits.message_len_max });
        }
        let mut r = Reader { buf, at: 0, databases: limits.databases };
        let version = r.u8()?;
        if version != CODEC_VERSION {
            return Err(DecodeError::CodecVersion(version));
        }
        let effects_max = limits.effects_per_message_max;
        let keys_max = limits.keys_per_message_max;
        let hashes_max = limits.hashes_per_message_max;
        let msg = match r.u8()? {
            APPLY => Message::Apply {
                write: WriteId(r.u64()?),
                slot: r.slot()?,
                effects: r.list("effects", effects_max, EFFECT_LEN_MIN, Reader::effect)?,
            },
            ACK => Message::Ack {
                write: WriteId(r.u64()?),
                outcomes: r.list("outcomes", effects_max, 1, |r| match r.u8()? {
                    0 => Ok(Outcome::Applied),
                    1 => Ok(Outcome::Had),
                    2 => Ok(Outcome::NeedFull),
                    _ => Err(DecodeError::Invalid("outcome")),
                })?,
            },
            ACKED => Message::Acked { writes: r.list("writes", keys_max, 8, |r| Ok(WriteId(r.u64()?)))? },
            HINT => Message::Hint {
                owner: r.node()?,
                write: WriteId(r.u64()?),
                slot: r.slot()?,
                effects: r.list("effects", effects_max, EFFECT_LEN_MIN, Reader::effect)?,
            },
            HINT_ACK => Message::HintAck { write: WriteId(r.u64()?), owner: r.node()? },
            HINT_DELIVER => Message::HintDeliver {
                id: r.u64()?,
                slot: r.slot()?,
                effects: r.list("effects", effects_max, EFFECT_LEN_MIN, Reader::effect)?,
            },
            HINT_DELIVERED => Message::HintDelivered { id: r.u64()? },
            RANGES_KIND => {
                let digests = r.list("ranges", RANGES, 8, Reader::u64)?;
                if digests.len() != RANGES {
                    return Err(DecodeError::Invalid("range count"));
                }
                Message::Ranges { digests }
            }
            SLOTS_KIND => Message::Slots { digests: r.list("slots", SLOTS, 10, |r| Ok((r.slot()?, r.u64()?)))? },
            KEYS => Message::Keys {
                slot: r.slot()?,
                lo: r.u64()?,
                hi: r.opt(Reader::u64)?,
                keys: r.list("key hashes", hashes_max, 8 + STAMP_LEN, |r| Ok((r.u64()?, r.stamp()?)))?,
            },
            FETCH => Message::Fetch { slot: r.slot()?, hashes: r.list("key hashes", hashes_max, 8, Reader::u64)? },
            REPAIR => Message::Repair {
                slot: r.slot()?,
                entries: r.list("entries", effects_max, EFFECT_LEN_MIN, Reader::entry)?,
            },
            SYNC => Message::Sync { at: r.pos()? },
            SYNC_CHUNK => Message::SyncChunk {
                at: r.pos()?,
                entries: r.list("entries", effects_max, EFFECT_LEN_MIN + 2, |r| Ok((r.slot()?, r.entry()?)))?,
                next: r.opt(Reader::pos)?,
            },
            READ => Message::Read { id: ReadId(r.u64()?), slot: r.slot()?, key: r.key()? },
            READ_REPLY => {
                Message::ReadReply { id: ReadId(r.u64()?), found: r.opt(|r| Ok((r.version()?, r.state()?)))? }
            }
            kind => return Err(DecodeError::UnknownKind(kind)),
        };
        if r.at != buf.len() {
            return Err(DecodeError::Trailing(buf.len() - r.at));
        }
        Ok(msg)
    }
}

/// Fewest bytes an encoded effect or entry can take (key length, a version,
/// a state tag): what a list's count is checked against before anything is
/// reserved. Any version takes at least one byte.
const EFFECT_LEN_MIN: usize = 2 + 4 + 1 + 1;

/// Bytes of an encoded stamp.
const STAMP_LEN: usize = 8 + 4;

fn bytes_len(b: &[u8]) -> usize {
    4 + b.len()
}

fn node_len(id: &NodeId) -> usize {
    2 + id.as_str().len()
}

fn state_len(state: &State) -> usize {
    match state {
        State::Tombstone => 1,
        State::Value(v) => 1 + bytes_len(v),
    }
}

fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    // Lengths over 4 GiB cannot be in a message within any valid limit
    // (message_len_max fits in 32 bits), and `check` refuses them first.
    put_u32(out, u32::try_from(b.len()).unwrap_or(u32::MAX));
    out.extend_from_slice(b);
}

fn put_list<T>(out: &mut Vec<u8>, items: &[T], mut put: impl FnMut(&mut Vec<u8>, &T)) {
    put_u32(out, u32::try_from(items.len()).unwrap_or(u32::MAX));
    for item in items {
        put(out, item);
    }
}

fn put_opt<T>(out: &mut Vec<u8>, item: Option<&T>, put: impl FnOnce(&mut Vec<u8>, &T)) {
    match item {
        None => out.push(0),
        Some(item) => {
            out.push(1);
            put(out, item);
        }
    }
}

fn put_node(out: &mut Vec<u8>, id: &NodeId) {
    let bytes = id.as_str().as_bytes();
    put_u16(out, u16::try_from(bytes.len()).unwrap_or(u16::MAX));
    out.extend_from_slice(bytes);
}

fn put_stamp(out: &mut Vec<u8>, stamp: Stamp) {
    put_u64(out, stamp.hlc.as_u64());
    put_u32(out, stamp.writer.get());
}

fn put_state(out: &mut Vec<u8>, state: &State) {
    match state {
        State::Tombstone => out.push(0),
        State::Value(v) => {
            out.push(1);
            put_bytes(out, v);
        }
    }
}

fn put_key(out: &mut Vec<u8>, key: &DbKey) {
    put_u16(out, key.db);
    put_bytes(out, &key.name);
}

fn put_effect(out: &mut Vec<u8>, e: &Effect) {
    put_key(out, &e.key);
    e.version.encode(out);
    match &e.change {
        Change::Full(state) => {
            out.push(0);
            put_state(out, state);
        }
        Change::Delta { base, op } => {
            out.push(1);
            put_stamp(out, *base);
            put_bytes(out, op);
        }
    }
}

fn put_entry(out: &mut Vec<u8>, e: &Entry) {
    put_key(out, &e.key);
    e.version.encode(out);
    put_state(out, &e.state);
}

fn put_pos(out: &mut Vec<u8>, pos: &SyncPos) {
    put_u16(out, pos.slot);
    put_opt(out, pos.after.as_ref(), |out, b| put_bytes(out, b));
}

/// A cursor over one message's bytes; every read is length-checked.
struct Reader<'a> {
    buf: &'a Bytes,
    at: usize,
    /// Keys' databases must be below this.
    databases: u32,
}

impl Reader<'_> {
    fn remaining(&self) -> usize {
        self.buf.len() - self.at
    }

    fn take(&mut self, n: usize) -> Result<&[u8], DecodeError> {
        if self.remaining() < n {
            return Err(DecodeError::Truncated);
        }
        let s = &self.buf[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, DecodeError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        let b = self.take(8)?;
        let mut a = [0; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    fn slot(&mut self) -> Result<u16, DecodeError> {
        let slot = self.u16()?;
        if usize::from(slot) >= SLOTS {
            return Err(DecodeError::BadSlot(slot));
        }
        Ok(slot)
    }

    /// A byte string, as a slice of the message buffer (no copy).
    fn bytes(&mut self) -> Result<Bytes, DecodeError> {
        let len = self.u32()? as usize;
        if len > self.remaining() {
            return Err(DecodeError::Truncated);
        }
        let b = self.buf.slice(self.at..self.at + len);
        self.at += len;
        Ok(b)
    }

    /// A key, its database checked against the limit.
    fn key(&mut self) -> Result<DbKey, DecodeError> {
        let db = self.u16()?;
        if u32::from(db) >= self.databases {
            return Err(DecodeError::BadDatabase { db, databases: self.databases });
        }
        Ok(DbKey { db, name: self.bytes()? })
    }

    fn opt<T>(&mut self, read: impl FnOnce(&mut Self) -> Result<T, DecodeError>) -> Result<Option<T>, DecodeError> {
        match self.u8()? {
            0 => Ok(None),
            1 => read(self).map(Some),
            _ => Err(DecodeError::Invalid("option tag")),
        }
    }

    /// A list of at most `max` items, each at least `item_len_min` bytes:
    /// the count is checked against both before any memory is reserved.
    fn list<T>(
        &mut self,
        what: &'static str,
        max: usize,
        item_len_min: usize,
        mut read: impl FnMut(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<Vec<T>, DecodeError> {
        let count = self.u32()? as usize;
        if count > max {
            return Err(DecodeError::TooMany { what, count, max });
        }
        if count.saturating_mul(item_len_min) > self.remaining() {
            return Err(DecodeError::Truncated);
        }
        let mut items = Vec::with_capacity(count);
        for _ in 0..count {
            items.push(read(self)?);
        }
        Ok(items)
    }

    fn node(&mut self) -> Result<NodeId, DecodeError> {
        let len = usize::from(self.u16()?);
        if len == 0 || len > NODE_ID_LEN_MAX {
            return Err(DecodeError::BadNodeId);
        }
        let b = self.take(len)?;
        let s = std::str::from_utf8(b).map_err(|_| DecodeError::BadNodeId)?;
        Ok(NodeId::from(s))
    }

    fn stamp(&mut self) -> Result<Stamp, DecodeError> {
        let hlc = Hlc::from_u64(self.u64()?);
        let writer = NodeTag::new(self.u32()?).ok_or(DecodeError::Invalid("node tag"))?;
        Ok(Stamp { hlc, writer })
    }

    fn version(&mut self) -> Result<Version, DecodeError> {
        let (version, used) = Version::decode(&self.buf[self.at..]).map_err(|_| DecodeError::BadVersion)?;
        // A decoder that claims more than it was given is a bug there; refuse
        // rather than slice out of bounds.
        if used > self.remaining() {
            return Err(DecodeError::BadVersion);
        }
        self.at += used;
        Ok(version)
    }

    fn state(&mut self) -> Result<State, DecodeError> {
        match self.u8()? {
            0 => Ok(State::Tombstone),
            1 => Ok(State::Value(self.bytes()?)),
            _ => Err(DecodeError::Invalid("state tag")),
        }
    }

    fn effect(&mut self) -> Result<Effect, DecodeError> {
        let key = self.key()?;
        let version = self.version()?;
        let change = match self.u8()? {
            0 => Change::Full(self.state()?),
            1 => Change::Delta { base: self.stamp()?, op: self.bytes()? },
            _ => return Err(DecodeError::Invalid("change tag")),
        };
        Ok(Effect { key, version, change })
    }

    fn entry(&mut self) -> Result<Entry, DecodeError> {
        Ok(Entry { key: self.key()?, version: self.version()?, state: self.state()? })
    }

    fn pos(&mut self) -> Result<SyncPos, DecodeError> {
        Ok(SyncPos { slot: self.slot()?, after: self.opt(Reader::bytes)? })
    }
}
