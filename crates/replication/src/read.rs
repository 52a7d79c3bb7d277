//! Quorum reads (R > 1) with read repair.
//!
//! The coordinator reads its own replica, asks every other live owner for
//! its (version, state) of the key, and answers once `quorum` owners (this
//! one included) have: the winner is the merge of the versions seen (the
//! state of the largest stamp). Owners that answered with an older stamp,
//! or nothing, are sent the winner (`Repair`), and so is this node's own
//! replica.
//!
//! Invariants: at most `reads_inflight_max` reads wait; each ends with
//! exactly one of `ReadDone` / `ReadFailed`, by `cluster_timeout_ms`;
//! answers after that are counted as late and dropped.

use std::collections::BTreeMap;

use ringcache_ring::{slot as slot_of, NodeId, SLOTS};
use ringcache_version::Version;

use crate::error::{Error, Result};
use crate::message::{DbKey, Entry, Message, ReadId, State};
use crate::replica::Replica;
use crate::replicator::{Event, Output, Replicator};
use crate::view::View;

#[derive(Debug, Default)]
pub(crate) struct Reads {
    next_id: u64,
    pending: BTreeMap<ReadId, PendingRead>,
}

type Found = Option<(Version, State)>;

#[derive(Debug)]
struct PendingRead {
    slot: u16,
    key: DbKey,
    quorum: usize,
    deadline_ms: u64,
    asked: Vec<NodeId>,
    answers: Vec<(NodeId, Found)>,
    local: Found,
}

/// The merge of every version found, with the state of the largest stamp.
fn winner<'a>(found: impl Iterator<Item = &'a Found>) -> Found {
    let mut best: Found = None;
    for (version, state) in found.flatten() {
        best = Some(match best {
            None => (version.clone(), state.clone()),
            Some((v, s)) => {
                let merged = v.merge(version);
                let state = if version.stamp() > v.stamp() { state.clone() } else { s };
                (merged, state)
            }
        });
    }
    best
}

fn stamp_of(found: &Found) -> Option<ringcache_version::Stamp> {
    found.as_ref().map(|(v, _)| v.stamp())
}

impl Replicator {
    /// A read of `key` that needs `quorum` owners' answers. With a quorum
    /// of 1 the answer is this replica's, at once. The answer comes as
    /// [`Event::ReadDone`] or [`Event::ReadFailed`].
    #[allow(clippy::too_many_arguments)]
    pub fn read<R: Replica, V: View>(
        &mut self,
        view: &V,
        replica: &R,
        slot: u16,
        key: DbKey,
        quorum: usize,
        now_ms: u64,
        out: &mut Output,
    ) -> Result<ReadId> {
        if usize::from(slot) >= SLOTS {
            return Err(Error::BadSlot(slot));
        }
        if slot_of(&key.name) != slot {
            return Err(Error::KeyNotInSlot { slot, key_slot: slot_of(&key.name) });
        }
        let owners = view.owners(slot);
        if !owners.contains(&self.me) {
            return Err(Error::NotOwner { slot });
        }
        let quorum = quorum.max(1);
        if quorum > owners.len() {
            return Err(Error::QuorumTooLarge { quorum, owners: owners.len() });
        }
        if self.reads.pending.len() >= self.config.reads_inflight_max {
            return Err(Error::Busy { max: self.config.reads_inflight_max });
        }
        let id = ReadId(self.reads.next_id);
        self.reads.next_id += 1;
        self.stats.reads += 1;
        let local = replica.read(slot, &key);
        if quorum == 1 {
            self.stats.reads_done += 1;
            out.events.push(Event::ReadDone { read: id, found: local });
            return Ok(id);
        }
        let asked: Vec<NodeId> = owners.iter().filter(|o| **o != self.me && view.is_live(o)).cloned().collect();
        if asked.len() + 1 < quorum {
            self.stats.reads_failed += 1;
            out.events.push(Event::ReadFailed { read: id, answers: 1 });
            return Ok(id);
        }
        // Every live owner is asked, not just quorum - 1 of them: one lost
        // message then does not fail the read, and more stale owners get
        // repaired.
        for owner in &asked {
            self.send(out, owner, Message::Read { id, slot, key: key.clone() });
        }
        let deadline_ms = now_ms.saturating_add(self.config.cluster_timeout_ms);
        self.reads
            .pending
            .insert(id, PendingRead { slot, key, quorum, deadline_ms, asked, answers: Vec::new(), local });
        Ok(id)
    }

    /// Owner side: answer with this replica's version and state.
    pub(crate) fn on_read<R: Replica>(
        &mut self,
        from: &NodeId,
        id: ReadId,
        slot: u16,
        key: &DbKey,
        replica: &R,
        out: &mut Output,
    ) {
        let reply = Message::ReadReply { id, found: replica.read(slot, key) };
        // A value too large for one message is not answered: the reader
        // times out rather than take "missing" for an answer.
        if reply.check(&self.limits).is_ok() {
            self.send(out, from, reply);
        } else {
            self.stats.entries_too_large += 1;
        }
    }

    pub(crate) fn on_read_reply<R: Replica>(
        &mut self,
        from: &NodeId,
        id: ReadId,
        found: Found,
        replica: &mut R,
        out: &mut Output,
    ) {
        let Some(read) = self.reads.pending.get_mut(&id) else {
            self.stats.replies_late += 1;
            return;
        };
        if !read.asked.contains(from) || read.answers.iter().any(|(n, _)| n == from) {
            return;
        }
        read.answers.push((from.clone(), found));
        if read.answers.len() + 1 < read.quorum {
            return;
        }
        let Some(read) = self.reads.pending.remove(&id) else { return };
        let best = winner(std::iter::once(&read.local).chain(read.answers.iter().map(|(_, f)| f)));
        if let Some((version, state)) = &best {
            let entry = Entry { key: read.key.clone(), version: version.clone(), state: state.clone() };
            for (node, found) in &read.answers {
                if stamp_of(found) < Some(version.stamp()) {
                    self.stats.read_repairs += 1;
                    self.send_entries(node, read.slot, std::iter::once(entry.clone()), usize::MAX, out);
                }
            }
            if stamp_of(&read.local) < Some(version.stamp()) {
                self.stats.read_repairs += 1;
                self.apply_all(read.slot, &[entry.into_effect()], replica);
            }
        }
        self.stats.reads_done += 1;
        out.events.push(Event::ReadDone { read: id, found: best });
    }

    pub(crate) fn tick_reads(&mut self, now_ms: u64, out: &mut Output) {
        let expired: Vec<ReadId> =
            self.reads.pending.iter().filter(|(_, r)| now_ms >= r.deadline_ms).map(|(&id, _)| id).collect();
        for id in expired {
            if let Some(read) = self.reads.pending.remove(&id) {
                self.stats.reads_failed += 1;
                out.events.push(Event::ReadFailed { read: id, answers: read.answers.len() + 1 });
            }
        }
    }
}
