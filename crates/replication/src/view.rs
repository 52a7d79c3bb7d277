//! The cluster as the state machine sees it on one call: who owns a slot,
//! who stands in for a down owner, who is live.
//!
//! Invariants a [`View`] must keep (the state machine relies on them):
//! - `members()` is sorted by id, without duplicates.
//! - `owners(slot)` are distinct members, in preference order (the
//!   coordinator first); `fallbacks(slot)` are the members after them on
//!   the preference list, none of them an owner.
//! - `incoming(slot)` are members that are not owners of the slot yet but
//!   will be once they finish joining (the slot's data is streamed to them
//!   first, see docs/membership.md, "Join"); none of them an owner or a
//!   fallback.
//! - `epoch()` changes whenever any preference list or incoming list
//!   changes (liveness may change without it): the state machine caches
//!   per-peer slot lists by epoch.
//!
//! [`Placement`] + [`StaticView`] are a ready implementation over a built
//! [`Ring`]: the server can use them, the tests do.

use std::collections::HashSet;
use std::sync::Arc;

use ringcache_ring::{NodeId, Ring, SLOTS};

/// One numbered cluster view. Passed to every call and never kept.
pub trait View {
    /// Changes whenever a preference list changes.
    fn epoch(&self) -> u64;
    /// Every member, sorted by id.
    fn members(&self) -> &[NodeId];
    /// The slot's owners (N of them, or fewer in a smaller cluster), in
    /// preference order.
    fn owners(&self, slot: u16) -> &[NodeId];
    /// The members after the owners on the slot's preference list, in
    /// order: where hints go while an owner is down.
    fn fallbacks(&self, slot: u16) -> &[NodeId];
    /// Members that will own the slot once they have finished joining:
    /// they are sent its writes (not counted toward W) and stream its
    /// data from the owners, but do not own it yet.
    fn incoming(&self, _slot: u16) -> &[NodeId] {
        &[]
    }
    /// Whether the node is believed up (the failure detector's verdict).
    fn is_live(&self, node: &NodeId) -> bool;

    fn is_member(&self, node: &NodeId) -> bool {
        self.members().binary_search(node).is_ok()
    }

    fn is_owner(&self, slot: u16, node: &NodeId) -> bool {
        self.owners(slot).contains(node)
    }
}

/// Preference lists of every slot, as node ids: owners first, then
/// fallbacks. Immutable; share it between views with an `Arc`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    members: Vec<NodeId>,
    owners_len: usize,
    list_len: usize,
    /// `list_len` ids per slot, slot-major.
    lists: Vec<NodeId>,
    /// Per slot, its incoming members; empty when no member is joining.
    incoming: Vec<Box<[NodeId]>>,
}

impl Placement {
    /// From a ring whose preference lists are `owners` owners followed by
    /// fallbacks: build the ring with `replicas = owners + fallbacks` (a
    /// preference list's first N entries are the same whatever its length,
    /// so the owners are those of a ring with `replicas = owners`).
    pub fn from_ring(ring: &Ring, owners: usize) -> Placement {
        let members: Vec<NodeId> = ring.nodes().map(|(_, id)| id.clone()).collect();
        let list_len = ring.replicas();
        let mut lists = Vec::with_capacity(SLOTS * list_len);
        for slot in 0..SLOTS as u16 {
            lists.extend(ring.owners(slot).iter().map(|&idx| ring.node_id(idx).clone()));
        }
        Placement { members, owners_len: owners.min(list_len), list_len, lists, incoming: Vec::new() }
    }

    /// From a ring whose members include nodes that are still joining
    /// (`joining`) or leaving (`leaving`): each slot's owners are the first
    /// `owners` members of its preference list that are not joining — the
    /// placement of the ring without them, leavers still owning — and its
    /// fallbacks the next `fallbacks` that are neither. Its incoming
    /// members are those that will own it once the joining ones serve and
    /// the leaving ones are gone (the first `future_owners` of the list
    /// without the leavers) but do not own it now. The ring's lists must
    /// be long enough to skip every joining and leaving member (build it
    /// with `replicas` increased by their count); `None` if they are not,
    /// if no member may own slots, or if nobody is joining or leaving.
    pub fn with_changes(
        ring: &Ring,
        owners: usize,
        fallbacks: usize,
        future_owners: usize,
        joining: impl Fn(&NodeId) -> bool,
        leaving: impl Fn(&NodeId) -> bool,
    ) -> Option<Placement> {
        let members: Vec<NodeId> = ring.nodes().map(|(_, id)| id.clone()).collect();
        let eligible = members.iter().filter(|id| !joining(id)).count();
        let changing = members.iter().filter(|id| joining(id) || leaving(id)).count();
        if eligible == 0 || changing == 0 {
            return None;
        }
        let owners_len = owners.min(eligible);
        // Members that stay: at least this many of them are not owners of
        // any one slot.
        let stable = members.iter().filter(|id| !joining(id) && !leaving(id)).count();
        let fallbacks_len = fallbacks.min(stable.saturating_sub(owners_len));
        let list_len = owners_len + fallbacks_len;
        let mut lists = Vec::with_capacity(SLOTS * list_len);
        let mut incoming = Vec::with_capacity(SLOTS);
        for slot in 0..SLOTS as u16 {
            let list: Vec<&NodeId> = ring.owners(slot).iter().map(|&i| ring.node_id(i)).collect();
            let now: Vec<&NodeId> = list.iter().copied().filter(|id| !joining(id)).take(owners_len).collect();
            if now.len() < owners_len {
                return None;
            }
            let later: Vec<&NodeId> =
                list.iter().copied().filter(|id| !now.contains(id) && !joining(id) && !leaving(id)).collect();
            if later.len() < fallbacks_len {
                return None;
            }
            lists.extend(now.iter().copied().cloned());
            lists.extend(later.into_iter().take(fallbacks_len).cloned());
            let future: Vec<&NodeId> = list.iter().copied().filter(|id| !leaving(id)).take(future_owners).collect();
            let coming: Vec<NodeId> = future.into_iter().filter(|id| !now.contains(id)).cloned().collect();
            incoming.push(coming.into_boxed_slice());
        }
        Some(Placement { members, owners_len, list_len, lists, incoming })
    }

    /// Every slot with the same preference list (tests: a tiny cluster where
    /// one node is the fallback of every slot).
    pub fn uniform(list: &[NodeId], owners: usize) -> Placement {
        let mut members = list.to_vec();
        members.sort();
        members.dedup();
        assert_eq!(members.len(), list.len(), "a preference list names each node once");
        let lists = (0..SLOTS).flat_map(|_| list.iter().cloned()).collect();
        Placement { members, owners_len: owners.min(list.len()), list_len: list.len(), lists, incoming: Vec::new() }
    }

    fn list(&self, slot: u16) -> &[NodeId] {
        let at = usize::from(slot) * self.list_len;
        &self.lists[at..at + self.list_len]
    }

    /// Every member, sorted by id.
    pub fn members(&self) -> &[NodeId] {
        &self.members
    }

    /// The slot's owners, in preference order.
    pub fn owners(&self, slot: u16) -> &[NodeId] {
        &self.list(slot)[..self.owners_len]
    }

    /// The members after the owners on the slot's preference list.
    pub fn fallbacks(&self, slot: u16) -> &[NodeId] {
        &self.list(slot)[self.owners_len..]
    }

    /// The joining members that will own the slot.
    pub fn incoming(&self, slot: u16) -> &[NodeId] {
        self.incoming.get(usize::from(slot)).map_or(&[], |l| &l[..])
    }

    /// Owners per slot.
    pub fn owners_len(&self) -> usize {
        self.owners_len
    }
}

/// A [`View`]: a shared [`Placement`], the set of live nodes, an epoch.
#[derive(Debug, Clone)]
pub struct StaticView {
    placement: Arc<Placement>,
    down: HashSet<NodeId>,
    epoch: u64,
}

impl StaticView {
    /// Every member live.
    pub fn new(placement: Arc<Placement>, epoch: u64) -> StaticView {
        StaticView { placement, down: HashSet::new(), epoch }
    }

    pub fn set_live(&mut self, node: &NodeId, live: bool) {
        if live {
            self.down.remove(node);
        } else {
            self.down.insert(node.clone());
        }
    }

    pub fn placement(&self) -> &Arc<Placement> {
        &self.placement
    }
}

impl View for StaticView {
    fn epoch(&self) -> u64 {
        self.epoch
    }

    fn members(&self) -> &[NodeId] {
        self.placement.members()
    }

    fn owners(&self, slot: u16) -> &[NodeId] {
        self.placement.owners(slot)
    }

    fn fallbacks(&self, slot: u16) -> &[NodeId] {
        self.placement.fallbacks(slot)
    }

    fn incoming(&self, slot: u16) -> &[NodeId] {
        self.placement.incoming(slot)
    }

    fn is_live(&self, node: &NodeId) -> bool {
        self.is_member(node) && !self.down.contains(node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringcache_ring::{Member, RingConfig};

    #[test]
    fn owners_of_a_longer_list_are_the_ring_owners() {
        let members = ["a", "b", "c", "d", "e"].map(Member::from);
        let long = Ring::new(members.clone(), RingConfig { vnodes_per_node: 16, replicas: 5 }).unwrap();
        let short = Ring::new(members, RingConfig { vnodes_per_node: 16, replicas: 3 }).unwrap();
        let view = StaticView::new(Arc::new(Placement::from_ring(&long, 3)), 1);
        for slot in (0..SLOTS as u16).step_by(97) {
            let want: Vec<NodeId> = short.owners(slot).iter().map(|&i| short.node_id(i).clone()).collect();
            assert_eq!(view.owners(slot), &want[..]);
            assert_eq!(view.fallbacks(slot).len(), 2);
            assert!(view.fallbacks(slot).iter().all(|f| !view.is_owner(slot, f)));
        }
    }

    #[test]
    fn liveness_is_per_member() {
        let ids: Vec<NodeId> = ["x", "y"].into_iter().map(NodeId::from).collect();
        let mut view = StaticView::new(Arc::new(Placement::uniform(&ids, 2)), 1);
        assert!(view.is_live(&ids[0]));
        view.set_live(&ids[0], false);
        assert!(!view.is_live(&ids[0]));
        assert!(!view.is_live(&NodeId::from("stranger")));
        view.set_live(&ids[0], true);
        assert!(view.is_live(&ids[0]));
    }
}
