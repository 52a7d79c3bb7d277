//! Hinted handoff: a fallback keeps the writes of a down owner and delivers
//! them when it is live again.
//!
//! Invariants:
//! - Hints are kept per target owner, at most `hints_max_per_node` each and
//!   `hints_bytes_max` encoded bytes in all; past a bound the oldest hint
//!   is dropped and counted (anti-entropy repairs what it held).
//! - A hint is dropped only once its owner acknowledged it
//!   (`HintDelivered`), or by a bound; delivery is retried every
//!   `hint_retry_ms`, at most `hints_inflight_max` per owner at once.
//! - Hints hold whole values only, so the owner never needs to ask the
//!   stand-in for more.

use std::collections::{BTreeMap, VecDeque};

use ringcache_ring::NodeId;

use crate::message::{Effect, Message, WriteId};
use crate::replica::Replica;
use crate::replicator::{Output, Replicator};
use crate::view::View;

#[derive(Debug, Default)]
pub(crate) struct Hints {
    next_id: u64,
    targets: BTreeMap<NodeId, VecDeque<StoredHint>>,
    bytes: usize,
}

#[derive(Debug)]
struct StoredHint {
    id: u64,
    slot: u16,
    effects: Vec<Effect>,
    bytes: usize,
    sent_ms: Option<u64>,
}

impl Hints {
    /// Drops the oldest hint of `target`, or of any target if it has none.
    fn drop_oldest(&mut self, target: &NodeId) -> bool {
        let key = if self.targets.get(target).is_some_and(|q| !q.is_empty()) {
            target.clone()
        } else {
            match self.targets.iter().find(|(_, q)| !q.is_empty()) {
                Some((k, _)) => k.clone(),
                None => return false,
            }
        };
        let Some(queue) = self.targets.get_mut(&key) else { return false };
        let Some(old) = queue.pop_front() else { return false };
        self.bytes -= old.bytes;
        if queue.is_empty() {
            self.targets.remove(&key);
        }
        true
    }
}

impl Replicator {
    /// Hints kept for other owners, and their encoded bytes.
    pub fn hints_held(&self) -> (usize, usize) {
        (self.hints.targets.values().map(VecDeque::len).sum(), self.hints.bytes)
    }

    /// A coordinator asks this node to keep a write for `owner`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn on_hint<R: Replica, V: View>(
        &mut self,
        from: &NodeId,
        owner: NodeId,
        write: WriteId,
        slot: u16,
        effects: Vec<Effect>,
        replica: &mut R,
        view: &V,
        out: &mut Output,
    ) {
        if !view.is_member(&owner) {
            self.stats.refused_unknown_node += 1;
            return;
        }
        if owner == self.me {
            // The coordinator thought we were down: we are the owner, so
            // apply it as a write of our own.
            self.apply_all(slot, &effects, replica);
            self.send(out, from, Message::HintAck { write, owner });
            return;
        }
        let bytes: usize = effects.iter().map(Effect::encoded_len).sum();
        if bytes > self.config.hints_bytes_max {
            self.stats.hints_dropped += 1;
            return;
        }
        while self.hints.targets.get(&owner).is_some_and(|q| q.len() >= self.config.hints_max_per_node) {
            self.hints.drop_oldest(&owner);
            self.stats.hints_dropped += 1;
        }
        while self.hints.bytes + bytes > self.config.hints_bytes_max && self.hints.drop_oldest(&owner) {
            self.stats.hints_dropped += 1;
        }
        let id = self.hints.next_id;
        self.hints.next_id += 1;
        self.hints.bytes += bytes;
        self.hints.targets.entry(owner.clone()).or_default().push_back(StoredHint {
            id,
            slot,
            effects,
            bytes,
            sent_ms: None,
        });
        self.stats.hints_stored += 1;
        self.send(out, from, Message::HintAck { write, owner });
    }

    /// Owner side: a stand-in delivers a kept hint.
    pub(crate) fn on_hint_deliver<R: Replica>(
        &mut self,
        from: &NodeId,
        id: u64,
        slot: u16,
        effects: &[Effect],
        replica: &mut R,
        out: &mut Output,
    ) {
        // Acknowledged whatever the outcomes: hints are whole values, so an
        // outcome is Applied or Had, and a retry would change nothing.
        self.apply_all(slot, effects, replica);
        self.send(out, from, Message::HintDelivered { id });
    }

    pub(crate) fn on_hint_delivered(&mut self, from: &NodeId, id: u64) {
        let Some(queue) = self.hints.targets.get_mut(from) else { return };
        let Some(at) = queue.iter().position(|h| h.id == id) else { return };
        if let Some(hint) = queue.remove(at) {
            self.hints.bytes -= hint.bytes;
            self.stats.hints_delivered += 1;
        }
        if queue.is_empty() {
            self.hints.targets.remove(from);
        }
    }

    /// Delivers hints to owners that are live again; drops hints for nodes
    /// that left the view.
    pub(crate) fn tick_hints<V: View>(&mut self, view: &V, now_ms: u64, out: &mut Output) {
        let gone: Vec<NodeId> = self.hints.targets.keys().filter(|t| !view.is_member(t)).cloned().collect();
        for target in gone {
            if let Some(queue) = self.hints.targets.remove(&target) {
                self.stats.hints_dropped += queue.len() as u64;
                self.hints.bytes -= queue.iter().map(|h| h.bytes).sum::<usize>();
            }
        }
        let mut sends = Vec::new();
        for (target, queue) in self.hints.targets.iter_mut().filter(|(t, _)| view.is_live(t)) {
            for hint in queue.iter_mut().take(self.config.hints_inflight_max) {
                if hint.sent_ms.is_none_or(|t| now_ms >= t.saturating_add(self.config.hint_retry_ms)) {
                    hint.sent_ms = Some(now_ms);
                    let msg = Message::HintDeliver { id: hint.id, slot: hint.slot, effects: hint.effects.clone() };
                    sends.push((target.clone(), msg));
                }
            }
        }
        for (to, msg) in sends {
            self.send(out, &to, msg);
        }
    }
}
