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
//!                 (key hash, stamp) list (a window of it, for a big slot)
//! P → A  Repair   the entries P holds newer, or A lacks
//! P → A  Fetch    the key hashes A holds newer, or P lacks
//! A → P  Repair   those entries
//! ```
//!
//! Keys travel as 64-bit hashes of (database, key) until an entry itself
//! is needed: listing a slot then allocates nothing per key and a list
//! costs 24 bytes a key, so a slot of 100,000 keys fits one message. Two
//! keys of one slot with the same hash would hide a difference between
//! them from anti-entropy (about n²/2⁶⁵ for a slot of n keys: 3·10⁻¹⁰ for
//! 100,000); their writes still replicate.
//!
//! Invariants:
//! - Nothing differs: one message of 1 KiB per round, and no answer.
//! - Every step is bounded (ranges, slots, keys per message, entry bytes
//!   per step); what a round leaves, the next round finds again, since a
//!   digest differs until the entries are equal.
//! - Every step is stateless on the receiving side and idempotent: a lost
//!   or duplicated message costs at most a round.
//! - A big slot's key list goes in windows `lo..hi` of hashes, the window
//!   moving on each round (a cursor per slot), so every key of the slot is
//!   compared within a bounded number of rounds.
//! - A big slot (over [`BIG_SLOT`] entries) that is being written differs
//!   between owners all the time, by the writes in flight, which
//!   replication itself delivers: comparing it every round would list it
//!   every round for nothing. So a big slot whose digest here changed since
//!   it was last compared is put off, at most [`PUT_OFF_MAX`] rounds in a
//!   row; one that stays the same (a real difference, say after a
//!   partition) is compared every round.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use ringcache_ring::NodeId;
use ringcache_version::Stamp;

use crate::config::{RANGES, SLOTS_PER_RANGE};
use crate::message::{Entry, Message};
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
    key_cursors: HashMap<u16, u64>,
    /// The big slots compared lately: the digest here when last compared
    /// (or put off) and the rounds put off since.
    big: HashMap<u16, (u64, u32)>,
}

/// A slot with more entries than this is big (see the module docs).
pub(crate) const BIG_SLOT: usize = 1_024;
/// Most rounds in a row a big slot being written is put off.
pub(crate) const PUT_OFF_MAX: u32 = 4;

/// The XOR of slot digests per range, over `slots`.
fn range_digests<R: Replica>(replica: &R, slots: &[u16]) -> Vec<u64> {
    let mut digests = vec![0; RANGES];
    for &slot in slots {
        digests[usize::from(slot) / SLOTS_PER_RANGE] ^= replica.slot_digest(slot);
    }
    digests
}

/// Hash maps keyed by key hashes, which are already well mixed: a
/// multiply spreads them over the table's buckets, far cheaper than
/// SipHash on lists of 100,000 keys.
#[derive(Default)]
struct KeyHashHasher(u64);

impl Hasher for KeyHashHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

type ByHash = HashMap<u64, Stamp, BuildHasherDefault<KeyHashHasher>>;

/// Whether `hash` is in the window `lo..hi`.
fn in_window(hash: u64, lo: u64, hi: Option<u64>) -> bool {
    hash >= lo && hi.is_none_or(|hi| hash < hi)
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
            if self.put_off(slot, replica.slot_digest(slot)) {
                self.stats.ae_slots_put_off += 1;
                continue;
            }
            self.send_keys(from, slot, replica, out);
        }
    }

    /// Whether to put off comparing `slot`, whose digest here is `digest`:
    /// a big slot that changed since it was last looked at (module docs).
    fn put_off(&mut self, slot: u16, digest: u64) -> bool {
        let Some((seen, rounds)) = self.ae.big.get_mut(&slot) else { return false };
        if *seen != digest && *rounds < PUT_OFF_MAX {
            *seen = digest;
            *rounds += 1;
            return true;
        }
        false
    }

    /// A's key list of one slot: the window from the slot's cursor, as
    /// many key hashes as one message takes.
    fn send_keys<R: Replica>(&mut self, to: &NodeId, slot: u16, replica: &R, out: &mut Output) {
        let mut list = replica.slot_hashes(slot);
        if list.len() > BIG_SLOT {
            self.ae.big.insert(slot, (replica.slot_digest(slot), 0));
        } else {
            self.ae.big.remove(&slot);
        }
        let lo = self.ae.key_cursors.remove(&slot).unwrap_or(0);
        list.retain(|&(h, _)| h >= lo);
        let max = self.limits.hashes_per_message_max;
        // The window: the `max` smallest hashes from the cursor on, and
        // the next one (where the next window starts), without sorting the
        // rest.
        let hi = if list.len() > max {
            list.select_nth_unstable(max);
            list.truncate(max + 1);
            let next = list.pop().map(|(h, _)| h);
            // Equal hashes (a collision) stay in one window.
            list.retain(|&(h, _)| Some(h) != next);
            next
        } else {
            None
        };
        if let Some(hi) = hi {
            self.ae.key_cursors.insert(slot, hi);
        }
        list.sort_unstable();
        self.send(out, to, Message::Keys { slot, lo, hi, keys: list });
    }

    /// Step 4, on P: push what P holds newer, fetch what A holds newer.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn on_keys<R: Replica>(
        &mut self,
        from: &NodeId,
        slot: u16,
        lo: u64,
        hi: Option<u64>,
        theirs: &[(u64, Stamp)],
        replica: &R,
        out: &mut Output,
    ) {
        let theirs: ByHash = theirs.iter().filter(|&&(h, _)| in_window(h, lo, hi)).copied().collect();
        let mine: ByHash = replica.slot_hashes(slot).into_iter().filter(|&(h, _)| in_window(h, lo, hi)).collect();
        let mut push: Vec<u64> =
            mine.iter().filter(|(h, s)| theirs.get(h).is_none_or(|t| t < s)).map(|(&h, _)| h).collect();
        let mut fetch: Vec<u64> =
            theirs.iter().filter(|(h, t)| mine.get(h).is_none_or(|s| s < t)).map(|(&h, _)| h).collect();
        // Sorted so that a round's byte budget always covers the same keys
        // first: two rounds then never chase each other's leftovers.
        push.sort_unstable();
        fetch.sort_unstable();
        self.stats.ae_entries_pushed += push.len() as u64;
        if !push.is_empty() {
            let entries = replica.read_hashed(slot, &push);
            self.send_entries(from, slot, entries.into_iter(), self.config.anti_entropy_bytes_max, out);
        }
        self.stats.ae_keys_fetched += fetch.len() as u64;
        for hashes in fetch.chunks(self.limits.hashes_per_message_max) {
            self.send(out, from, Message::Fetch { slot, hashes: hashes.to_vec() });
        }
    }

    /// Answer a fetch with the entries asked for.
    pub(crate) fn on_fetch<R: Replica>(
        &mut self,
        from: &NodeId,
        slot: u16,
        hashes: &[u64],
        replica: &R,
        out: &mut Output,
    ) {
        let mut hashes = hashes.to_vec();
        hashes.sort_unstable();
        let entries = replica.read_hashed(slot, &hashes);
        self.send_entries(from, slot, entries.into_iter(), self.config.anti_entropy_bytes_max, out);
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
