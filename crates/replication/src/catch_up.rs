//! Catch-up after an empty restart or a join: stream every owned slot, and
//! every slot this node is incoming for, from the other owners before
//! serving it.
//!
//! A node that restarted without its data (a cache keeps nothing on disk)
//! is an owner that holds nothing: if it served reads, it would answer
//! "no such key" for keys that exist. [`Replicator::restarted_empty`] puts
//! it in catch-up: it asks each peer it shares slots with for a `Sync`
//! stream of those slots (in bounded `SyncChunk`s with a cursor, retried on
//! loss) and reports slots as they become ready.
//!
//! Invariants:
//! - A slot becomes ready once every other owner of it that is live has
//!   streamed it (at least one must have), or, after
//!   `catch_up_timeout_ms`, if none is live; once ready it stays ready.
//!   Writes arriving meanwhile are applied as usual (this node acks them).
//! - A chunk is taken only if it answers the stream's current position:
//!   duplicates and answers to retries are counted and ignored for
//!   progress (their entries are still applied; applying is idempotent).
//! - Until a slot is ready, [`Replicator::is_ready`] is false for it and
//!   the caller must not serve reads of it from this node.

use std::collections::BTreeMap;

use ringcache_ring::{NodeId, SLOTS};

use crate::message::{Entry, Message, SyncPos};
use crate::replica::Replica;
use crate::replicator::{Event, Output, Replicator};
use crate::view::View;

#[derive(Debug)]
pub(crate) struct CatchUp {
    started_ms: Option<u64>,
    peers: BTreeMap<NodeId, PeerStream>,
    ready: Vec<bool>,
}

#[derive(Debug)]
struct PeerStream {
    /// Where the stream from this peer goes on; `None`: done.
    next: Option<SyncPos>,
    sent_ms: Option<u64>,
}

impl PeerStream {
    fn done_through(&self, slot: u16) -> bool {
        self.next.as_ref().is_none_or(|pos| pos.slot > slot)
    }
}

impl Replicator {
    /// This node restarted without its data: serve no slot until it is
    /// streamed from the other owners (see [`is_ready`](Self::is_ready)).
    pub fn restarted_empty(&mut self) {
        self.catch_up = Some(CatchUp { started_ms: None, peers: BTreeMap::new(), ready: vec![false; SLOTS] });
    }

    /// Whether this node may serve reads of `slot`: always, except during
    /// catch-up, for slots not yet streamed.
    pub fn is_ready(&self, slot: u16) -> bool {
        self.catch_up.as_ref().is_none_or(|c| c.ready.get(usize::from(slot)).copied().unwrap_or(false))
    }

    pub fn is_catching_up(&self) -> bool {
        self.catch_up.is_some()
    }

    pub(crate) fn tick_catch_up<V: View>(&mut self, view: &V, now_ms: u64, out: &mut Output) {
        if self.catch_up.is_none() {
            return;
        }
        let mine = self.streamed_slots(view);
        let mut peers = Vec::new();
        let me = self.me.clone();
        for peer in view.members().iter().filter(|p| **p != me) {
            if !self.stream_slots(view, peer).is_empty() {
                peers.push(peer.clone());
            }
        }
        let retry_ms = self.config.sync_retry_ms;
        let timeout_ms = self.config.catch_up_timeout_ms;
        let Some(catch_up) = self.catch_up.as_mut() else { return };
        let started = *catch_up.started_ms.get_or_insert(now_ms);
        let mut sends = Vec::new();
        for peer in peers {
            let stream =
                catch_up.peers.entry(peer.clone()).or_insert(PeerStream { next: Some(SyncPos::START), sent_ms: None });
            let Some(at) = &stream.next else { continue };
            if view.is_live(&peer) && stream.sent_ms.is_none_or(|t| now_ms >= t.saturating_add(retry_ms)) {
                stream.sent_ms = Some(now_ms);
                sends.push((peer, Message::Sync { at: at.clone() }));
            }
        }
        let timed_out = now_ms >= started.saturating_add(timeout_ms);
        let mut ready = Vec::new();
        let mut gave_up = 0;
        let mut all_ready = true;
        for &slot in mine.iter() {
            if catch_up.ready[usize::from(slot)] {
                continue;
            }
            let (mut any_live, mut any_done, mut live_done) = (false, false, true);
            for owner in view.owners(slot).iter().filter(|o| **o != self.me) {
                let done = catch_up.peers.get(owner).is_some_and(|p| p.done_through(slot));
                any_done |= done;
                if view.is_live(owner) {
                    any_live = true;
                    live_done &= done;
                }
            }
            // No other owner: nothing to stream (a cluster of one, or
            // every member starting at once).
            let alone = view.owners(slot).iter().all(|o| *o == self.me);
            let is_ready = alone || (any_live && live_done) || (!any_live && (any_done || timed_out));
            if is_ready {
                gave_up += u64::from(!any_live && !any_done && !alone);
                catch_up.ready[usize::from(slot)] = true;
                ready.push(slot);
            } else {
                all_ready = false;
            }
        }
        self.stats.catch_up_gave_up += gave_up;
        for (to, msg) in sends {
            self.send(out, &to, msg);
        }
        if !ready.is_empty() {
            out.events.push(Event::Ready { slots: ready });
        }
        if all_ready {
            self.catch_up = None;
            out.events.push(Event::CaughtUp);
        }
    }

    /// A catching-up peer asks for the slots we share (owned or incoming on
    /// either side), from `at`.
    pub(crate) fn on_sync<R: Replica, V: View>(
        &mut self,
        from: &NodeId,
        at: SyncPos,
        replica: &R,
        view: &V,
        out: &mut Output,
    ) {
        let shared = self.stream_slots(view, from);
        let start = shared.partition_point(|&s| s < at.slot);
        let entries_max = self.limits.effects_per_message_max;
        let bytes_max = self.config.sync_bytes_max;
        let mut entries: Vec<(u16, Entry)> = Vec::new();
        let mut bytes = 0;
        let mut next = None;
        for (i, &slot) in shared[start..].iter().enumerate() {
            if i >= self.config.sync_slots_per_chunk_max || entries.len() >= entries_max {
                next = Some(SyncPos { slot, after: None });
                break;
            }
            let cursor = if slot == at.slot { at.after.clone().unwrap_or_default() } else { Default::default() };
            let chunk = replica.slot_chunk(slot, &cursor, entries_max - entries.len(), bytes_max.saturating_sub(bytes));
            let chunk_bytes: usize = chunk.entries.iter().map(Entry::encoded_len).sum();
            if !entries.is_empty() && bytes + chunk_bytes > bytes_max {
                // The chunk's first entry alone is over what is left: it
                // starts the next message.
                next = Some(SyncPos { slot, after: (!cursor.is_empty()).then_some(cursor) });
                break;
            }
            for entry in chunk.entries {
                let len = entry.encoded_len();
                if len > self.entry_len_max() {
                    self.stats.entries_too_large += 1;
                    continue;
                }
                bytes += len;
                entries.push((slot, entry));
            }
            if let Some(after) = chunk.next {
                next = Some(SyncPos { slot, after: Some(after) });
                break;
            }
        }
        self.stats.sync_chunks_sent += 1;
        self.send(out, from, Message::SyncChunk { at, entries, next });
    }

    /// A chunk of our catch-up stream from `from`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn on_sync_chunk<R: Replica, V: View>(
        &mut self,
        from: &NodeId,
        at: SyncPos,
        entries: Vec<(u16, Entry)>,
        next: Option<SyncPos>,
        replica: &mut R,
        view: &V,
        now_ms: u64,
        out: &mut Output,
    ) {
        self.stats.sync_chunks_received += 1;
        for (slot, entry) in entries {
            self.apply_all(slot, &[entry.into_effect()], replica);
        }
        let stream = self.catch_up.as_mut().and_then(|c| c.peers.get_mut(from));
        let Some(stream) = stream.filter(|s| s.next.as_ref() == Some(&at)) else {
            self.stats.sync_stale += 1;
            return;
        };
        stream.next = next.clone();
        stream.sent_ms = None;
        if let Some(at) = next {
            if view.is_live(from) {
                stream.sent_ms = Some(now_ms);
                self.send(out, from, Message::Sync { at });
            }
        }
    }
}
