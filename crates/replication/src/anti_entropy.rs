//! Anti-entropy: owners compare digests and exchange what differs, so that
//! they converge after any loss (dropped messages, expired hints, a
//! partition, an eviction).
//!
//! One round, started by A with one peer P every
//! `anti_entropy_interval_ms` (peers taken in turn):
//!
//! ```text
//! A → P  Ranges   the XOR of the slot digests of each of the 128 ranges,
//!                 over the slots A and P share
//! P → A  Slots    (only if some range differs) P's slot digests of the
//!                 shared slots of up to `anti_entropy_ranges_max` of them
//! A → P  Keys     for up to `anti_entropy_slots_max` differing slots, A's
//!                 (key, stamp) list (a window of it, for a big slot)
//! P → A  Repair   the entries P holds newer, or A lacks
//! P → A  Fetch    the keys A holds newer, or P lacks
//! A → P  Repair   those entries
//! ```
//!
//! Invariants:
//! - Nothing differs: one message of 1 KiB per round, and no answer.
//! - Every step is bounded (ranges, slots, keys per message, entry bytes
//!   per step); what a round leaves, the next round finds again, since a
//!   digest differs until the entries are equal.
//! - Every step is stateless on the receiving side and idempotent: a lost
//!   or duplicated message costs at most a round.
//! - A big slot's key list goes in windows `lo..hi`, the window moving on
//!   each round (a cursor per slot), so every key of the slot is compared
//!   within a bounded number of rounds.

use std::collections::HashMap;

use ringcache_ring::NodeId;
use ringcache_version::Stamp;

use crate::config::{RANGES, SLOTS_PER_RANGE};
use crate::message::{DbKey, Entry, Message};
use crate::replica::Replica;
use crate::replicator::{Output, Replicator};
use crate::view::View;

#[derive(Debug, Default)]
pub(crate) struct AntiEntropy {
    /// When the next round starts; set on the first tick.
    next_round_ms: Option<u64>,
    /// Which peer is next, round-robin over the view's members.
    peer_turn: usize,
    /// Per slot, where the next key-list window starts (slots whose lists
    /// were too long for one message).
    key_cursors: HashMap<u16, DbKey>,
}

/// The XOR of slot digests per range, over `slots`.
fn range_digests<R: Replica>(replica: &R, slots: &[u16]) -> Vec<u64> {
    let mut digests = vec![0; RANGES];
    for &slot in slots {
        digests[usize::from(slot) / SLOTS_PER_RANGE] ^= replica.slot_digest(slot);
    }
    digests
}

/// Whether `key` is in the window `lo..hi`.
fn in_window(key: &DbKey, lo: &DbKey, hi: Option<&DbKey>) -> bool {
    key >= lo && hi.is_none_or(|hi| key < hi)
}

impl Replicator {
    pub(crate) fn tick_anti_entropy<R: Replica, V: View>(
        &mut self,
        replica: &R,
        view: &V,
        now_ms: u64,
        out: &mut Output,
    ) {
        let interval = self.config.anti_entropy_interval_ms;
        let next = *self.ae.next_round_ms.get_or_insert(now_ms.saturating_add(interval));
        if now_ms < next {
            return;
        }
        self.ae.next_round_ms = Some(now_ms.saturating_add(interval));
        let members = view.members();
        for step in 0..members.len() {
            let peer = &members[(self.ae.peer_turn + step) % members.len()];
            if *peer == self.me || !view.is_live(peer) {
                continue;
            }
            let shared = self.shared_slots(view, peer);
            if shared.is_empty() {
                continue;
            }
            self.ae.peer_turn = (self.ae.peer_turn + step + 1) % members.len();
            self.stats.ae_rounds += 1;
            let digests = range_digests(replica, &shared);
            self.send(out, peer, Message::Ranges { digests });
            return;
        }
    }

    /// Step 2, on P: answer with the slot digests of differing ranges.
    pub(crate) fn on_ranges<R: Replica, V: View>(
        &mut self,
        from: &NodeId,
        theirs: &[u64],
        replica: &R,
        view: &V,
        out: &mut Output,
    ) {
        let shared = self.shared_slots(view, from);
        let mine = range_digests(replica, &shared);
        let differing: Vec<usize> = (0..RANGES).filter(|&r| mine[r] != theirs[r]).collect();
        if differing.is_empty() {
            self.stats.ae_in_sync += 1;
            return;
        }
        let differing = &differing[..differing.len().min(self.config.anti_entropy_ranges_max)];
        let digests: Vec<(u16, u64)> = shared
            .iter()
            .filter(|&&s| differing.contains(&(usize::from(s) / SLOTS_PER_RANGE)))
            .map(|&s| (s, replica.slot_digest(s)))
            .collect();
        self.send(out, from, Message::Slots { digests });
    }

    /// Step 3, on A: send key lists of the slots whose digests differ.
    pub(crate) fn on_slots<R: Replica, V: View>(
        &mut self,
        from: &NodeId,
        theirs: &[(u16, u64)],
        replica: &R,
        view: &V,
        out: &mut Output,
    ) {
        let differing: Vec<u16> = theirs
            .iter()
            .filter(|&&(s, d)| view.is_owner(s, &self.me) && view.is_owner(s, from) && replica.slot_digest(s) != d)
            .map(|&(s, _)| s)
            .take(self.config.anti_entropy_slots_max)
            .collect();
        for slot in differing {
            self.stats.ae_slots_differing += 1;
            self.send_keys(from, slot, replica, out);
        }
    }

    /// A's key list of one slot: the window from the slot's cursor, as
    /// many keys as one message takes.
    fn send_keys<R: Replica>(&mut self, to: &NodeId, slot: u16, replica: &R, out: &mut Output) {
        let mut list = replica.slot_stamps(slot);
        list.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let lo = self.ae.key_cursors.remove(&slot).unwrap_or_default();
        let start = list.partition_point(|(k, _)| k < &lo);
        // Key bytes per message: half the limit leaves room for the header
        // and the two window bounds (keys themselves).
        let bytes_max = self.limits.message_len_max / 2;
        let mut bytes = 0;
        let mut end = start;
        while end < list.len() && end - start < self.limits.keys_per_message_max {
            let len = 16 + list[end].0.encoded_len();
            if end > start && bytes + len > bytes_max {
                break;
            }
            bytes += len;
            end += 1;
        }
        let hi = list.get(end).map(|(k, _)| k.clone());
        if let Some(hi) = &hi {
            self.ae.key_cursors.insert(slot, hi.clone());
        }
        let keys = list.drain(start..end).collect();
        self.send(out, to, Message::Keys { slot, lo, hi, keys });
    }

    /// Step 4, on P: push what P holds newer, fetch what A holds newer.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn on_keys<R: Replica>(
        &mut self,
        from: &NodeId,
        slot: u16,
        lo: &DbKey,
        hi: Option<&DbKey>,
        theirs: &[(DbKey, Stamp)],
        replica: &R,
        out: &mut Output,
    ) {
        let theirs: HashMap<&DbKey, Stamp> = theirs.iter().map(|(k, s)| (k, *s)).collect();
        let mine: HashMap<DbKey, Stamp> =
            replica.slot_stamps(slot).into_iter().filter(|(k, _)| in_window(k, lo, hi)).collect();
        let mut push: Vec<&DbKey> =
            mine.iter().filter(|(k, s)| theirs.get(k).is_none_or(|t| t < s)).map(|(k, _)| k).collect();
        let mut fetch: Vec<DbKey> = theirs
            .iter()
            .filter(|(k, t)| in_window(k, lo, hi) && mine.get(**k).is_none_or(|s| s < t))
            .map(|(k, _)| (*k).clone())
            .collect();
        // Sorted so that a round's byte budget always covers the same keys
        // first: two rounds then never chase each other's leftovers.
        push.sort_unstable();
        fetch.sort_unstable();
        self.stats.ae_entries_pushed += push.len() as u64;
        let entries = push
            .into_iter()
            .filter_map(|k| replica.read(slot, k).map(|(version, state)| Entry { key: k.clone(), version, state }));
        self.send_entries(from, slot, entries, self.config.anti_entropy_bytes_max, out);
        self.stats.ae_keys_fetched += fetch.len() as u64;
        for keys in fetch.chunks(self.limits.keys_per_message_max) {
            self.send(out, from, Message::Fetch { slot, keys: keys.to_vec() });
        }
    }

    /// Answer a fetch with the entries asked for.
    pub(crate) fn on_fetch<R: Replica>(
        &mut self,
        from: &NodeId,
        slot: u16,
        keys: &[DbKey],
        replica: &R,
        out: &mut Output,
    ) {
        let entries = keys
            .iter()
            .filter_map(|k| replica.read(slot, k).map(|(version, state)| Entry { key: k.clone(), version, state }));
        self.send_entries(from, slot, entries, self.config.anti_entropy_bytes_max, out);
    }

    /// Apply repaired entries (anti-entropy, read repair): each through the
    /// version rule, so an old repair changes nothing.
    pub(crate) fn on_repair<R: Replica>(&mut self, slot: u16, entries: Vec<Entry>, replica: &mut R) {
        let effects: Vec<_> = entries.into_iter().map(Entry::into_effect).collect();
        let applied = self.apply_all(slot, &effects, replica).iter().filter(|o| o.holds()).count();
        self.stats.entries_repaired += applied as u64;
    }

    /// Sends `entries` of one slot as `Repair` messages within the message
    /// limits, up to `budget` entry bytes in all (at least one entry).
    /// Entries too large for a message are skipped and counted.
    pub(crate) fn send_entries(
        &mut self,
        to: &NodeId,
        slot: u16,
        entries: impl Iterator<Item = Entry>,
        budget: usize,
        out: &mut Output,
    ) {
        let message_bytes_max = self.limits.message_len_max / 2;
        let mut batch = Vec::new();
        let mut batch_bytes = 0;
        let mut sent = 0;
        for entry in entries {
            let len = entry.encoded_len();
            if len > self.entry_len_max() {
                self.stats.entries_too_large += 1;
                continue;
            }
            if sent > 0 && sent + len > budget {
                break;
            }
            if !batch.is_empty()
                && (batch_bytes + len > message_bytes_max || batch.len() >= self.limits.effects_per_message_max)
            {
                self.send(out, to, Message::Repair { slot, entries: std::mem::take(&mut batch) });
                batch_bytes = 0;
            }
            batch_bytes += len;
            sent += len;
            batch.push(entry);
        }
        if !batch.is_empty() {
            self.send(out, to, Message::Repair { slot, entries: batch });
        }
    }

    /// Largest entry repair and catch-up carry: a quarter of a message, so
    /// that one always fits beside the bounded rest of the message. Larger
    /// values are replicated only by their writes.
    pub(crate) fn entry_len_max(&self) -> usize {
        self.limits.message_len_max / 4
    }
}
