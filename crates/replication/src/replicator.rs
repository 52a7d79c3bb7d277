//! [`Replicator`]: one node's replication state machine, and what its calls
//! return ([`Output`], [`Event`]).
//!
//! This module holds the struct, the message dispatch and the tick; each
//! protocol lives in its own module as an `impl Replicator` block (`write`,
//! `hints`, `anti_entropy`, `catch_up`, `read`).
//!
//! Invariants:
//! - Nothing here blocks, sleeps, reads a clock or does I/O: time is the
//!   `now_ms` argument, the network is [`Output::sends`].
//! - A message is handled only if its sender is a member of the view and
//!   every key it names belongs to the slot it names; anything else is
//!   refused and counted.
//! - Every message put in an [`Output`] is within this node's [`Limits`]
//!   (checked in debug builds; the simulations decode every one).

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use ringcache_ring::{slot as slot_of, NodeId, SLOTS};
use ringcache_version::Version;

use crate::anti_entropy::AntiEntropy;
use crate::catch_up::CatchUp;
use crate::config::{Config, Limits};
use crate::error::Result;
use crate::hints::Hints;
use crate::message::{Message, ReadId, State, WriteId};
use crate::read::Reads;
use crate::replica::Replica;
use crate::stats::Stats;
use crate::view::View;
use crate::write::Writes;

/// Something the caller must act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The write reached its quorum: `acks` owners (this one included)
    /// hold it. Reply to the client.
    Acked { write: WriteId, acks: usize },
    /// The write did not reach its quorum by its deadline (or could not: too
    /// few live owners). Reply `-NOREPLICAS`; the write stays where it was
    /// applied.
    Failed { write: WriteId, acks: usize },
    /// A quorum read's answer: the winning version and state (`None`: no
    /// owner asked has the key; a tombstone means deleted).
    ReadDone { read: ReadId, found: Option<(Version, State)> },
    /// A quorum read that did not get `quorum` answers in time.
    ReadFailed { read: ReadId, answers: usize },
    /// After an empty restart: these slots are streamed and may be served.
    Ready { slots: Vec<u16> },
    /// After an empty restart: every slot this node owns is ready.
    CaughtUp,
}

/// What one call produced: messages to send, events to act on. Reuse one
/// (the caller drains it after each call).
#[derive(Debug, Default)]
pub struct Output {
    pub sends: Vec<(NodeId, Message)>,
    pub events: Vec<Event>,
}

impl Output {
    pub fn new() -> Output {
        Output::default()
    }

    pub fn clear(&mut self) {
        self.sends.clear();
        self.events.clear();
    }

    pub fn is_empty(&self) -> bool {
        self.sends.is_empty() && self.events.is_empty()
    }
}

/// Slot lists computed from a view, kept until its epoch changes: walking
/// 16384 preference lists on every anti-entropy round would cost more than
/// the round.
#[derive(Debug, Default)]
pub(crate) struct SlotCache {
    epoch: Option<u64>,
    /// Slots this node owns, ascending.
    mine: Arc<[u16]>,
    /// Per peer, ascending: slots both own.
    shared: HashMap<NodeId, Arc<[u16]>>,
    /// Slots this node owns or is incoming for, ascending.
    streamed: Arc<[u16]>,
    /// Per peer, ascending: slots of `streamed` that the peer owns or is
    /// incoming for (what a catch-up stream between the two covers).
    streams: HashMap<NodeId, Arc<[u16]>>,
}

/// One node's replication state machine. See the crate docs.
#[derive(Debug)]
pub struct Replicator {
    pub(crate) me: NodeId,
    pub(crate) config: Config,
    pub(crate) limits: Limits,
    pub(crate) stats: Stats,
    pub(crate) writes: Writes,
    pub(crate) reads: Reads,
    pub(crate) hints: Hints,
    pub(crate) ae: AntiEntropy,
    pub(crate) catch_up: Option<CatchUp>,
    pub(crate) slots: SlotCache,
}

impl Replicator {
    pub fn new(me: NodeId, config: Config) -> Result<Replicator> {
        config.validate()?;
        Ok(Replicator {
            me,
            limits: config.limits(),
            config,
            stats: Stats::default(),
            writes: Writes::default(),
            reads: Reads::default(),
            hints: Hints::default(),
            ae: AntiEntropy::default(),
            catch_up: None,
            slots: SlotCache::default(),
        })
    }

    pub fn id(&self) -> &NodeId {
        &self.me
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// A message as it came from the transport: decoded within the limits
    /// (refused and counted otherwise), then [`handle`](Self::handle)d.
    pub fn receive<R: Replica, V: View>(
        &mut self,
        from: &NodeId,
        bytes: &Bytes,
        replica: &mut R,
        view: &V,
        now_ms: u64,
        out: &mut Output,
    ) {
        if let Some(msg) = self.decode(bytes) {
            self.handle(from, msg, replica, view, now_ms, out);
        }
    }

    /// A message as it came from the transport, decoded within the limits;
    /// `None` (refused and counted) if it is not one.
    pub fn decode(&mut self, bytes: &Bytes) -> Option<Message> {
        match Message::decode(bytes, &self.limits) {
            Ok(msg) => Some(msg),
            Err(e) => {
                if e.is_over_limit() {
                    self.stats.refused_over_limit += 1;
                } else {
                    self.stats.refused_malformed += 1;
                }
                None
            }
        }
    }

    /// Several messages from `from`, handled in order as by
    /// [`handle`](Self::handle), except that the acks of the `Apply`s
    /// among them whose effects this node now holds go back as one
    /// `Acked` message at the end, instead of one `Ack` each: one message
    /// to send and to handle for a whole batch of writes.
    pub fn handle_batch<R: Replica, V: View>(
        &mut self,
        from: &NodeId,
        msgs: impl IntoIterator<Item = Message>,
        replica: &mut R,
        view: &V,
        now_ms: u64,
        out: &mut Output,
    ) {
        self.writes.batch_from = Some(from.clone());
        for msg in msgs {
            self.handle(from, msg, replica, view, now_ms, out);
        }
        self.writes.batch_from = None;
        let mut writes = std::mem::take(&mut self.writes.batch_acks);
        for chunk in writes.chunks(self.limits.keys_per_message_max) {
            self.send(out, from, Message::Acked { writes: chunk.to_vec() });
        }
        // Keep the allocation for the next batch.
        writes.clear();
        self.writes.batch_acks = writes;
    }

    /// A decoded message from `from`. Trusts it to be within the limits
    /// (as [`receive`](Self::receive) guarantees); checks who sent it and
    /// that its keys belong to its slot.
    pub fn handle<R: Replica, V: View>(
        &mut self,
        from: &NodeId,
        msg: Message,
        replica: &mut R,
        view: &V,
        now_ms: u64,
        out: &mut Output,
    ) {
        if *from == self.me || !view.is_member(from) {
            self.stats.refused_unknown_node += 1;
            return;
        }
        if !keys_in_slot(&msg) {
            self.stats.refused_malformed += 1;
            return;
        }
        self.stats.messages_in += 1;
        match msg {
            Message::Apply { write, slot, effects } => self.on_apply(from, write, slot, &effects, replica, out),
            Message::Ack { write, outcomes } => self.on_ack(from, write, Some(&outcomes), replica, now_ms, out),
            Message::Acked { writes } => {
                for write in writes {
                    self.on_ack(from, write, None, replica, now_ms, out);
                }
            }
            Message::Hint { owner, write, slot, effects } => {
                self.on_hint(from, owner, write, slot, effects, replica, view, out)
            }
            Message::HintAck { write, owner } => self.on_hint_ack(from, write, &owner, out),
            Message::HintDeliver { id, slot, effects } => self.on_hint_deliver(from, id, slot, &effects, replica, out),
            Message::HintDelivered { id } => self.on_hint_delivered(from, id),
            Message::Ranges { digests } => self.on_ranges(from, &digests, replica, view, out),
            Message::Slots { digests } => self.on_slots(from, &digests, replica, view, out),
            Message::Keys { slot, lo, hi, keys } => self.on_keys(from, slot, lo, hi, &keys, replica, out),
            Message::Fetch { slot, hashes } => self.on_fetch(from, slot, &hashes, replica, out),
            Message::Repair { slot, entries } => self.on_repair(slot, entries, replica),
            Message::Sync { at } => self.on_sync(from, at, replica, view, out),
            Message::SyncChunk { at, entries, next } => {
                self.on_sync_chunk(from, at, entries, next, replica, view, now_ms, out)
            }
            Message::Read { id, slot, key } => self.on_read(from, id, slot, &key, replica, out),
            Message::ReadReply { id, found } => self.on_read_reply(from, id, found, replica, out),
        }
    }

    /// Time passed: write and read deadlines and retries, hint delivery,
    /// catch-up streams, and an anti-entropy round when one is due. Call it
    /// every few milliseconds (a tenth of `write_retry_ms` is plenty).
    pub fn tick<R: Replica, V: View>(&mut self, replica: &mut R, view: &V, now_ms: u64, out: &mut Output) {
        self.tick_writes(view, now_ms, out);
        self.tick_reads(now_ms, out);
        self.tick_hints(view, now_ms, out);
        self.tick_catch_up(view, now_ms, out);
        self.tick_anti_entropy(replica, view, now_ms, out);
    }

    /// Queues a message, asserting the sending half of the limits contract.
    pub(crate) fn send(&self, out: &mut Output, to: &NodeId, msg: Message) {
        debug_assert!(
            msg.check(&self.limits).is_ok(),
            "built a message over the limits: {:?}",
            msg.check(&self.limits)
        );
        out.sends.push((to.clone(), msg));
    }

    fn refresh_slots<V: View>(&mut self, view: &V) {
        if self.slots.epoch == Some(view.epoch()) {
            return;
        }
        let me = &self.me;
        let mine: Vec<u16> = (0..SLOTS as u16).filter(|&s| view.is_owner(s, me)).collect();
        let streamed: Vec<u16> =
            (0..SLOTS as u16).filter(|&s| view.is_owner(s, me) || view.incoming(s).contains(me)).collect();
        self.slots = SlotCache {
            epoch: Some(view.epoch()),
            mine: mine.into(),
            shared: HashMap::new(),
            streamed: streamed.into(),
            streams: HashMap::new(),
        };
    }

    /// Slots this node and `peer` both own in `view`, ascending.
    pub(crate) fn shared_slots<V: View>(&mut self, view: &V, peer: &NodeId) -> Arc<[u16]> {
        self.refresh_slots(view);
        if let Some(list) = self.slots.shared.get(peer) {
            return list.clone();
        }
        let list: Arc<[u16]> = self.slots.mine.iter().copied().filter(|&s| view.is_owner(s, peer)).collect();
        // Bounded by the members of one view: the cache is rebuilt per epoch.
        if view.is_member(peer) {
            self.slots.shared.insert(peer.clone(), list.clone());
        }
        list
    }

    /// Slots this node owns or is incoming for, ascending: what it
    /// catches up.
    pub(crate) fn streamed_slots<V: View>(&mut self, view: &V) -> Arc<[u16]> {
        self.refresh_slots(view);
        self.slots.streamed.clone()
    }

    /// Slots that this node and `peer` each own or are incoming for,
    /// ascending: what a catch-up stream between them covers.
    pub(crate) fn stream_slots<V: View>(&mut self, view: &V, peer: &NodeId) -> Arc<[u16]> {
        self.refresh_slots(view);
        if let Some(list) = self.slots.streams.get(peer) {
            return list.clone();
        }
        let list: Arc<[u16]> = self
            .slots
            .streamed
            .iter()
            .copied()
            .filter(|&s| view.is_owner(s, peer) || view.incoming(s).contains(peer))
            .collect();
        if view.is_member(peer) {
            self.slots.streams.insert(peer.clone(), list.clone());
        }
        list
    }
}

/// Whether every key a message names hashes to the slot it names: an
/// effect filed under the wrong slot would corrupt that slot's digest and
/// never be repaired.
fn keys_in_slot(msg: &Message) -> bool {
    let ok = |slot: u16, key: &[u8]| slot_of(key) == slot;
    match msg {
        Message::Apply { slot, effects, .. }
        | Message::Hint { slot, effects, .. }
        | Message::HintDeliver { slot, effects, .. } => effects.iter().all(|e| ok(*slot, &e.key.name)),
        Message::Repair { slot, entries } => entries.iter().all(|e| ok(*slot, &e.key.name)),
        Message::SyncChunk { entries, .. } => entries.iter().all(|(slot, e)| ok(*slot, &e.key.name)),
        Message::Read { slot, key, .. } => ok(*slot, &key.name),
        // Key hashes name keys only among the slot's own.
        Message::Keys { .. }
        | Message::Fetch { .. }
        | Message::Ack { .. }
        | Message::Acked { .. }
        | Message::HintAck { .. }
        | Message::HintDelivered { .. }
        | Message::Ranges { .. }
        | Message::Slots { .. }
        | Message::Sync { .. }
        | Message::ReadReply { .. } => true,
    }
}
