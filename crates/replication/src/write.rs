//! The write path: fan-out, quorum counting, deadlines and retries on the
//! coordinator; applying and acknowledging on the owner.
//!
//! Invariants:
//! - A write counts one ack for the coordinator (it applied the write
//!   before calling [`Replicator::write`]) and one per other owner whose
//!   `Ack` says it holds every effect (applied, or a newer version already);
//!   with `hints_count_toward_quorum`, one per owner whose stand-in keeps a
//!   hint. Each owner is counted once, however many acks it sends.
//! - Exactly one of [`Event::Acked`] / [`Event::Failed`] per write, once.
//!   Acks after the deadline find no write and are counted as late.
//! - Retries resend the same effects (or, after `NeedFull`, the whole
//!   value): applying is idempotent, so a duplicate is harmless.
//! - At most `writes_inflight_max` writes wait; the ack counts of the last
//!   `writes_finished_max` finished writes stay queryable for `WAIT`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use ringcache_ring::{slot as slot_of, NodeId, SLOTS};

use crate::error::{Error, Result};
use crate::message::{Change, Effect, Message, Outcome, WriteId};
use crate::replica::Replica;
use crate::replicator::{Event, Output, Replicator};
use crate::view::View;
use crate::DbKey;

#[derive(Debug, Default)]
pub(crate) struct Writes {
    next_id: u64,
    pending: BTreeMap<WriteId, PendingWrite>,
    /// Pending writes with an owner they were never sent to (it was down):
    /// the tick must look at those whatever their age.
    unsent: usize,
    finished: HashMap<WriteId, usize, BuildHasherDefault<IdHasher>>,
    finished_order: VecDeque<WriteId>,
    /// While [`Replicator::handle_batch`] runs: the peer whose batch it
    /// is ...
    pub(crate) batch_from: Option<NodeId>,
    /// ... and the writes of that batch whose effects this node now holds,
    /// acknowledged together in one `Acked` at the end.
    pub(crate) batch_acks: Vec<WriteId>,
    /// The outcomes of the `Apply` being handled (kept for its allocation).
    outcomes: Vec<Outcome>,
    /// When each key was last sent whole to each owner after a `NeedFull`:
    /// within `write_retry_ms` of that, another delta of the key that the
    /// owner cannot apply waits for its retry instead of a second whole
    /// value (see [`Replicator::on_ack`]). Entries older than that are
    /// dropped on every tick.
    full_sent: HashMap<(NodeId, DbKey), u64>,
}

/// Hashes a write id (a counter this node made, never a peer's choice) with
/// one multiplication: SipHash cost more than the rest of `finish`.
#[derive(Debug, Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u64(&mut self, n: u64) {
        // Odd multiplier: distinct ids keep distinct low bits (buckets),
        // and the high bits (hashbrown's tags) mix.
        self.0 = n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

#[derive(Debug)]
struct PendingWrite {
    slot: u16,
    effects: Vec<Effect>,
    quorum: usize,
    /// When it started: ids grow with it (up to the clock reads of
    /// concurrent callers, a millisecond apart), so the tick can stop at
    /// the first write too young to need anything.
    created_ms: u64,
    deadline_ms: u64,
    /// Some owner that has not acked was never sent the write.
    unsent: bool,
    /// The other owners, in preference order.
    owners: Vec<OwnerState>,
    /// Joining members it was also sent to: their acks are not counted.
    incoming: Vec<NodeId>,
    /// Counted acks, the coordinator's included.
    acks: usize,
    /// Acked or Failed has been reported.
    decided: bool,
}

#[derive(Debug)]
struct OwnerState {
    node: NodeId,
    /// Answered that it holds every effect.
    acked: bool,
    /// Counted toward the quorum (by its own ack or its hint's).
    counted: bool,
    /// The fallback that keeps a hint for it, if it was down at write time.
    hint: Option<NodeId>,
    /// When the write was last sent to it.
    sent_ms: Option<u64>,
    /// After `NeedFull`: what to send it instead of the write's effects.
    refill: Option<Vec<Effect>>,
}

/// Reports `Acked` once the quorum is reached; whether the write is
/// decided (acked or failed) now.
fn settle(id: WriteId, write: &mut PendingWrite, stats: &mut crate::stats::Stats, out: &mut Output) -> bool {
    if !write.decided && write.acks >= write.quorum {
        write.decided = true;
        stats.writes_acked += 1;
        out.events.push(Event::Acked { write: id, acks: write.acks });
    }
    write.decided
}

impl PendingWrite {
    fn owner_acks(&self) -> usize {
        1 + self.owners.iter().filter(|o| o.acked).count()
    }
}

impl Replicator {
    /// This node coordinated a write to `slot` and already applied
    /// `effects` to its own replica: send them to the other owners and count
    /// acks until `quorum` owners (this one included) hold them.
    ///
    /// Sends `Apply` to every live other owner and, for each owner that is
    /// not live, a `Hint` to a live fallback. The result arrives as
    /// [`Event::Acked`] or [`Event::Failed`] (possibly already in `out`:
    /// a quorum of 1, or too few live owners).
    #[allow(clippy::too_many_arguments)]
    pub fn write<R: Replica, V: View>(
        &mut self,
        view: &V,
        replica: &R,
        slot: u16,
        effects: Vec<Effect>,
        quorum: usize,
        now_ms: u64,
        out: &mut Output,
    ) -> Result<WriteId> {
        if usize::from(slot) >= SLOTS {
            return Err(Error::BadSlot(slot));
        }
        if effects.is_empty() {
            return Err(Error::Empty);
        }
        if let Some(e) = effects.iter().find(|e| slot_of(&e.key.name) != slot) {
            return Err(Error::KeyNotInSlot { slot, key_slot: slot_of(&e.key.name) });
        }
        if self.writes.pending.len() >= self.config.writes_inflight_max {
            self.stats.writes_busy += 1;
            return Err(Error::Busy { max: self.config.writes_inflight_max });
        }
        let owners = view.owners(slot);
        if !owners.contains(&self.me) {
            return Err(Error::NotOwner { slot });
        }
        let quorum = quorum.max(1);
        if quorum > owners.len() {
            return Err(Error::QuorumTooLarge { quorum, owners: owners.len() });
        }
        let id = WriteId(self.writes.next_id);
        let apply = Message::Apply { write: id, slot, effects };
        if apply.check(&self.limits).is_err() {
            let Message::Apply { effects, .. } = &apply else { unreachable!() };
            return Err(Error::TooLarge { effects: effects.len(), bytes: apply.encoded_len() });
        }
        let Message::Apply { effects, .. } = &apply else { unreachable!() };
        self.writes.next_id += 1;
        self.stats.writes += 1;

        let me = self.me.clone();
        let mut fallbacks = view.fallbacks(slot).iter().filter(|f| **f != me && view.is_live(f));
        let mut states = Vec::with_capacity(owners.len() - 1);
        let mut live = 1;
        for owner in owners.iter().filter(|o| **o != me) {
            let mut state = OwnerState {
                node: owner.clone(),
                acked: false,
                counted: false,
                hint: None,
                sent_ms: None,
                refill: None,
            };
            if view.is_live(owner) {
                live += 1;
                self.send(out, owner, apply.clone());
                state.sent_ms = Some(now_ms);
            } else if let Some(fallback) = fallbacks.next() {
                state.hint = self.send_hint(out, fallback, owner, id, slot, effects, replica);
            } else {
                self.stats.hints_skipped += 1;
            }
            states.push(state);
        }
        // Members still joining get the write too, so that it is not lost
        // between their stream and the moment they own the slot; they are
        // not owners yet and their acks do not count.
        let mut incoming = Vec::new();
        for node in view.incoming(slot).iter().filter(|n| **n != me && view.is_live(n)) {
            self.send(out, node, apply.clone());
            incoming.push(node.clone());
        }
        let hinted = states.iter().filter(|s| s.hint.is_some()).count();
        let Message::Apply { effects, .. } = apply else { unreachable!() };
        let mut write = PendingWrite {
            slot,
            effects,
            quorum,
            created_ms: now_ms,
            deadline_ms: now_ms.saturating_add(self.config.cluster_timeout_ms),
            unsent: states.iter().any(|o| o.sent_ms.is_none()),
            owners: states,
            incoming,
            acks: 1,
            decided: false,
        };
        let reachable = live + if self.config.hints_count_toward_quorum { hinted } else { 0 };
        if reachable < quorum {
            // Fail now rather than at the deadline: no ack can come from an
            // owner we did not reach. The write still goes where it could.
            write.decided = true;
            self.stats.writes_failed += 1;
            out.events.push(Event::Failed { write: id, acks: 1 });
        }
        self.settle(id, &mut write, out);
        if write.owners.iter().all(|o| o.acked) {
            self.finish(id, write.owner_acks());
        } else {
            self.writes.unsent += usize::from(write.unsent);
            self.writes.pending.insert(id, write);
        }
        Ok(id)
    }

    /// The hint for a down owner: the write's effects made whole (a
    /// stand-in cannot answer `NeedFull`), sent to `fallback`. Returns the
    /// fallback if it was sent.
    #[allow(clippy::too_many_arguments)]
    fn send_hint<R: Replica>(
        &mut self,
        out: &mut Output,
        fallback: &NodeId,
        owner: &NodeId,
        write: WriteId,
        slot: u16,
        effects: &[Effect],
        replica: &R,
    ) -> Option<NodeId> {
        let whole: Vec<Effect> = effects
            .iter()
            .filter_map(|e| match &e.change {
                Change::Full(_) => Some(e.clone()),
                Change::Delta { .. } => replica.read(slot, &e.key).map(|(version, state)| Effect {
                    key: e.key.clone(),
                    version,
                    change: Change::Full(state),
                }),
            })
            .collect();
        let hint = Message::Hint { owner: owner.clone(), write, slot, effects: whole };
        if hint.check(&self.limits).is_err() {
            self.stats.hints_skipped += 1;
            return None;
        }
        self.send(out, fallback, hint);
        Some(fallback.clone())
    }

    /// How many owners (this one included) are known to hold the write:
    /// what Redis's `WAIT` reports. `None` once it is too old to remember.
    pub fn acks(&self, write: WriteId) -> Option<usize> {
        match self.writes.pending.get(&write) {
            Some(w) => Some(w.owner_acks()),
            None => self.writes.finished.get(&write).copied(),
        }
    }

    /// Writes still waiting for acks or their deadline.
    pub fn writes_in_flight(&self) -> usize {
        self.writes.pending.len()
    }

    /// Owner side: apply a write's effects and answer with one outcome each.
    pub(crate) fn on_apply<R: Replica>(
        &mut self,
        from: &NodeId,
        write: WriteId,
        slot: u16,
        effects: &[Effect],
        replica: &mut R,
        out: &mut Output,
    ) {
        let mut outcomes = std::mem::take(&mut self.writes.outcomes);
        outcomes.clear();
        outcomes.extend(effects.iter().map(|e| self.apply_one(slot, e, replica)));
        let batched = self.writes.batch_from.as_ref() == Some(from) && outcomes.iter().all(|o| o.holds());
        if batched {
            self.writes.batch_acks.push(write);
        }
        if !batched {
            self.send(out, from, Message::Ack { write, outcomes: outcomes.clone() });
        }
        self.writes.outcomes = outcomes;
    }

    fn apply_one<R: Replica>(&mut self, slot: u16, effect: &Effect, replica: &mut R) -> Outcome {
        let outcome = replica.apply(slot, effect);
        match outcome {
            Outcome::Applied => self.stats.effects_applied += 1,
            Outcome::Had => self.stats.effects_had += 1,
            Outcome::NeedFull => {}
        }
        outcome
    }

    pub(crate) fn apply_all<R: Replica>(&mut self, slot: u16, effects: &[Effect], replica: &mut R) -> Vec<Outcome> {
        effects.iter().map(|e| self.apply_one(slot, e, replica)).collect()
    }

    /// An owner's answer to an `Apply`: `outcomes` one per effect, or
    /// `None` from an `Acked` (it holds every effect).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn on_ack<R: Replica>(
        &mut self,
        from: &NodeId,
        id: WriteId,
        outcomes: Option<&[Outcome]>,
        replica: &R,
        now_ms: u64,
        out: &mut Output,
    ) {
        let Writes { pending, full_sent, .. } = &mut self.writes;
        let Some(write) = pending.get_mut(&id) else {
            self.stats.acks_late += 1;
            return;
        };
        let Some(owner) = write.owners.iter_mut().find(|o| o.node == *from) else {
            if !write.incoming.contains(from) {
                self.stats.acks_unexpected += 1;
            }
            return;
        };
        let holds = match outcomes {
            None => true,
            Some(outcomes) if outcomes.len() != write.effects.len() => {
                if !owner.acked {
                    self.stats.acks_unexpected += 1;
                }
                return;
            }
            Some(outcomes) => outcomes.iter().all(|o| o.holds()),
        };
        if owner.acked {
            // A duplicate, or the answer to a retry: counted once already.
            return;
        }
        if holds {
            owner.acked = true;
            if !owner.counted {
                owner.counted = true;
                write.acks += 1;
            }
        } else {
            // Some delta found another base: send those keys whole, as this
            // node holds them now (possibly newer than the write: then the
            // owner holds more than it was asked to, which is still an ack).
            //
            // Once, though: an owner that fell behind a key written in a
            // pipeline answers NeedFull to every delta in flight, and a whole
            // value for each (a 100,000-member sorted set is megabytes)
            // would keep it behind. A key already sent whole to this owner
            // within `write_retry_ms` is not sent again: the write's retry
            // resends its delta, which the newer value there then holds.
            let outcomes = outcomes.unwrap_or_default();
            self.stats.need_full += 1;
            let slot = write.slot;
            let window = self.config.write_retry_ms;
            let mut whole = 0;
            let refill: Vec<Effect> = write
                .effects
                .iter()
                .zip(outcomes)
                .map(|(e, o)| {
                    if !matches!(o, Outcome::NeedFull) {
                        return e.clone();
                    }
                    let sent = (from.clone(), e.key.clone());
                    if full_sent.get(&sent).is_some_and(|&t| now_ms < t.saturating_add(window)) {
                        return e.clone();
                    }
                    match replica.read(slot, &e.key) {
                        Some((version, state)) => {
                            full_sent.insert(sent, now_ms);
                            whole += 1;
                            Effect { key: e.key.clone(), version, change: Change::Full(state) }
                        }
                        None => e.clone(),
                    }
                })
                .collect();
            if whole == 0 {
                // Every key it lacks is on its way whole: retried as it was.
                self.stats.need_full_waited += 1;
                owner.refill = None;
                owner.sent_ms = Some(now_ms);
            } else {
                let msg = Message::Apply { write: id, slot, effects: refill };
                if msg.check(&self.limits).is_ok() {
                    let Message::Apply { effects, .. } = &msg else { unreachable!() };
                    owner.refill = Some(effects.clone());
                    owner.sent_ms = Some(now_ms);
                    out.sends.push((from.clone(), msg));
                }
                // Else the whole value does not fit a message: this owner
                // cannot ack; anti-entropy skips it too (counted there).
            }
        }
        if settle(id, write, &mut self.stats, out) && write.owners.iter().all(|o| o.acked) {
            let owner_acks = write.owner_acks();
            self.remove_pending(id);
            self.finish(id, owner_acks);
        }
    }

    /// A fallback keeps the hint for `owner`.
    pub(crate) fn on_hint_ack(&mut self, from: &NodeId, id: WriteId, owner: &NodeId, out: &mut Output) {
        let Some(write) = self.writes.pending.get_mut(&id) else {
            self.stats.acks_late += 1;
            return;
        };
        let counts = self.config.hints_count_toward_quorum;
        match write.owners.iter_mut().find(|o| o.node == *owner && o.hint.as_ref() == Some(from)) {
            Some(o) if counts && !o.counted => {
                o.counted = true;
                write.acks += 1;
            }
            Some(_) => {}
            None => self.stats.acks_unexpected += 1,
        }
        settle(id, write, &mut self.stats, out);
    }

    fn remove_pending(&mut self, id: WriteId) -> Option<PendingWrite> {
        let write = self.writes.pending.remove(&id)?;
        self.writes.unsent -= usize::from(write.unsent);
        Some(write)
    }

    /// Reports `Acked` once the quorum is reached.
    fn settle(&mut self, id: WriteId, write: &mut PendingWrite, out: &mut Output) {
        settle(id, write, &mut self.stats, out);
    }

    /// Moves a write to the finished list (for `WAIT`), bounded.
    fn finish(&mut self, id: WriteId, owner_acks: usize) {
        let done = &mut self.writes;
        done.finished.insert(id, owner_acks);
        done.finished_order.push_back(id);
        while done.finished_order.len() > self.config.writes_finished_max {
            if let Some(old) = done.finished_order.pop_front() {
                done.finished.remove(&old);
            }
        }
    }

    /// Deadlines and retries. Looks at the writes old enough for a retry
    /// or their deadline, and at those with an owner not sent to yet:
    /// under load most pending writes are a few milliseconds old, and
    /// walking all of them every tick cost ~3 % of a node's CPU.
    pub(crate) fn tick_writes<V: View>(&mut self, view: &V, now_ms: u64, out: &mut Output) {
        let mut expired = Vec::new();
        let mut resend = Vec::new();
        let young_ms = self.config.write_retry_ms.min(self.config.cluster_timeout_ms);
        let Writes { pending, unsent, full_sent, .. } = &mut self.writes;
        if !full_sent.is_empty() {
            let window = self.config.write_retry_ms;
            full_sent.retain(|_, t| now_ms < t.saturating_add(window));
        }
        let mut unsent_seen = 0;
        for (&id, write) in pending.iter_mut() {
            if unsent_seen >= *unsent && now_ms < write.created_ms.saturating_add(young_ms) {
                break;
            }
            if now_ms >= write.deadline_ms {
                unsent_seen += usize::from(write.unsent);
                expired.push(id);
                continue;
            }
            for owner in write.owners.iter_mut().filter(|o| !o.acked && view.is_live(&o.node)) {
                let due = owner.sent_ms.is_none_or(|t| now_ms >= t.saturating_add(self.config.write_retry_ms));
                if due {
                    let effects = owner.refill.clone().unwrap_or_else(|| write.effects.clone());
                    let retry = owner.sent_ms.is_some();
                    owner.sent_ms = Some(now_ms);
                    resend.push((owner.node.clone(), Message::Apply { write: id, slot: write.slot, effects }, retry));
                }
            }
            if write.unsent {
                if write.owners.iter().all(|o| o.acked || o.sent_ms.is_some()) {
                    write.unsent = false;
                    *unsent -= 1;
                } else {
                    unsent_seen += 1;
                }
            }
        }
        for (to, msg, retry) in resend {
            self.stats.write_retries += u64::from(retry);
            self.send(out, &to, msg);
        }
        for id in expired {
            let Some(write) = self.remove_pending(id) else { continue };
            if !write.decided {
                self.stats.writes_failed += 1;
                out.events.push(Event::Failed { write: id, acks: write.acks });
            }
            self.finish(id, write.owner_acks());
        }
    }
}
