//! The consistent-hash ring and the slot → owners table built from it.
//!
//! Placement (see `docs/ring.md` for the why and the measured figures):
//! - Node `id` with `k` vnodes puts points at
//!   `xxh3_64_with_seed(id.as_bytes(), i)` for `i in 0..k` on the 64-bit ring.
//! - Slot `s` sits at [`slot_point`]`(s)`.
//! - A slot's preference list is the first `replicas` distinct nodes met
//!   walking clockwise (towards larger points, wrapping at 2^64) from the
//!   slot's point, the point itself included. Equal points are ordered by
//!   node id.
//!
//! Invariants of a built [`Ring`]:
//! - It is a pure function of (set of members with weights, config): the
//!   order members are given in changes nothing, so every node that sees the
//!   same view computes the identical table, with no coordination.
//! - Every slot has exactly `min(replicas, members)` owners, all distinct;
//!   the first is the coordinator.
//! - Adding (removing) one member only ever inserts that member into
//!   (removes it from) preference lists: no slot moves between two other
//!   nodes. This is what keeps data movement at about 1/n.
//! - It is immutable once built; a membership change builds a new ring.

use std::fmt;

use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::error::{Result, RingError};
use crate::member::{Member, NodeId, NodeIdx};
use crate::slot::SLOTS;

/// Longest node id accepted, in bytes.
pub const NODE_ID_LEN_MAX: usize = 256;
/// Most members one ring holds (`NodeIdx` is a `u16`).
pub const MEMBERS_MAX: usize = 4096;
/// Most vnode points one ring holds, across all members: bounds build time
/// and memory (16 bytes per point while building) whatever weights say.
pub const POINTS_MAX: u64 = 1 << 21;
/// Most replicas per slot.
pub const REPLICAS_MAX: usize = 16;

/// How the ring is built. Every node of a cluster must use the same values:
/// they are part of the placement function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingConfig {
    /// Vnode points of a weight-1.0 node.
    pub vnodes_per_node: u32,
    /// Owners per slot (the coordinator plus `replicas - 1` successors).
    pub replicas: usize,
}

impl Default for RingConfig {
    /// 1024 vnodes rather than the 256 first planned: with 256, 20 % of
    /// 16-node rings have a node more than 15 % off the mean; with 1024 none
    /// did up to 24 nodes (docs/ring.md, "Balance").
    fn default() -> RingConfig {
        RingConfig { vnodes_per_node: 1024, replicas: 3 }
    }
}

impl RingConfig {
    pub fn validate(&self) -> Result<()> {
        if self.vnodes_per_node == 0 {
            return Err(RingError::InvalidConfig("vnodes_per_node must be at least 1"));
        }
        if u64::from(self.vnodes_per_node) > POINTS_MAX {
            return Err(RingError::InvalidConfig("vnodes_per_node is over POINTS_MAX"));
        }
        if self.replicas == 0 {
            return Err(RingError::InvalidConfig("replicas must be at least 1"));
        }
        if self.replicas > REPLICAS_MAX {
            return Err(RingError::InvalidConfig("replicas is over REPLICAS_MAX"));
        }
        Ok(())
    }
}

/// A vnode's position: the `i`-th point of node `id`.
///
/// The vnode number is the xxh3 seed, not extra input bytes, so no framing
/// is needed to keep `("ab", 1)` and `("a", …)` apart, and the id bytes are
/// hashed as they are. This is part of the cluster's wire contract: changing
/// it moves nearly every slot.
pub fn vnode_point(id: &NodeId, i: u32) -> u64 {
    xxh3_64_with_seed(id.as_str().as_bytes(), u64::from(i))
}

/// A slot's position: evenly spaced, `slot × 2^64 / 16384`.
///
/// Evenly spaced rather than hashed because hashed slot points add a second,
/// independent sampling error (which arc each slot happens to fall in) on top
/// of the vnodes' own; with even spacing a node's slot count tracks its
/// share of the ring to within rounding. `docs/ring.md` has the figures.
pub fn slot_point(slot: u16) -> u64 {
    u64::from(slot) << (64 - SLOTS.trailing_zeros())
}

/// Vnode count of a member: `max(1, round(vnodes_per_node × weight))`.
/// IEEE multiplication and `round` (half away from zero) give the same
/// answer on every platform.
fn vnodes_for(vnodes_per_node: u32, weight: f64) -> f64 {
    (f64::from(vnodes_per_node) * weight).round().max(1.0)
}

/// Preference lists of every slot, slot-major, `replicas` per slot, from
/// the sorted vnode points.
///
/// Instead of walking clockwise from each slot, one backward sweep over two
/// laps of the ring carries "the first `replicas` distinct nodes from here
/// clockwise": stepping back onto a point puts its node in front and drops
/// that node's later occurrence. The result is the same as the walk (the
/// unit tests check it against one), but the cost is
/// O(points × replicas) however skewed the weights, where a per-slot walk
/// through a heavy node's long runs of points could cost O(points) per slot.
/// The first lap only primes the state: from any point, one lap meets every
/// node, and `replicas <= nodes`.
fn preference_lists(points: &[(u64, NodeIdx)], replicas: usize, slot_point: fn(u16) -> u64) -> Vec<NodeIdx> {
    assert!(replicas > 0 && !points.is_empty());
    // Index of the first point at or after each slot's point; past the last
    // point wraps to the first.
    let start = |slot: u16| points.partition_point(|&(p, _)| p < slot_point(slot)) % points.len();
    let mut by_start: Vec<(usize, u16)> = (0..SLOTS as u16).map(|s| (start(s), s)).collect();
    // Popped from the back: largest start first, the order the sweep meets them.
    by_start.sort_unstable();

    let mut owners = vec![NodeIdx(0); SLOTS * replicas];
    let mut ahead: Vec<NodeIdx> = Vec::with_capacity(replicas + 1);
    for k in (0..2 * points.len()).rev() {
        let node = points[k % points.len()].1;
        if let Some(pos) = ahead.iter().position(|&n| n == node) {
            ahead.remove(pos);
        }
        ahead.insert(0, node);
        ahead.truncate(replicas);
        while let Some(&(_, slot)) = by_start.last().filter(|&&(s, _)| s == k) {
            assert_eq!(ahead.len(), replicas);
            let at = usize::from(slot) * replicas;
            owners[at..at + replicas].copy_from_slice(&ahead);
            by_start.pop();
        }
    }
    assert!(by_start.is_empty());
    owners
}

#[derive(Debug, Clone, PartialEq)]
struct Node {
    id: NodeId,
    weight: f64,
    vnodes: u32,
}

/// An immutable placement: who owns each slot, for one membership view.
///
/// Built once per membership change (a few milliseconds for tens of nodes)
/// and then only read, usually through a [`RingHandle`](crate::RingHandle).
#[derive(Clone, PartialEq)]
pub struct Ring {
    config: RingConfig,
    /// Sorted by id; a node's position is its `NodeIdx`.
    nodes: Box<[Node]>,
    /// `min(config.replicas, nodes.len())`: the length of every preference
    /// list.
    replicas: usize,
    /// Preference lists, `replicas` entries per slot, slot-major.
    owners: Box<[NodeIdx]>,
    /// Per node, ascending: slots it coordinates.
    coordinated: Box<[Box<[u16]>]>,
    /// Per node, ascending: slots whose preference list holds it.
    owned: Box<[Box<[u16]>]>,
}

impl Ring {
    /// Builds the placement for `members` (in any order).
    pub fn new(members: impl IntoIterator<Item = Member>, config: RingConfig) -> Result<Ring> {
        Ring::build(members, config, slot_point)
    }

    /// A ring with no members: every slot has no owner.
    pub fn empty(config: RingConfig) -> Result<Ring> {
        Ring::new([], config)
    }

    /// The builder, with the slot-point function as a parameter so the
    /// balance measurements can compare alternatives with the exact code
    /// that ships.
    pub(crate) fn build(
        members: impl IntoIterator<Item = Member>,
        config: RingConfig,
        slot_point: fn(u16) -> u64,
    ) -> Result<Ring> {
        config.validate()?;
        let nodes = Ring::check_members(members, &config)?;
        let replicas = config.replicas.min(nodes.len());

        let mut points: Vec<(u64, NodeIdx)> = Vec::new();
        for (idx, node) in nodes.iter().enumerate() {
            let idx = NodeIdx(idx as u16);
            points.extend((0..node.vnodes).map(|i| (vnode_point(&node.id, i), idx)));
        }
        // Ties broken by NodeIdx, i.e. by id: independent of input order and
        // stable when other members come or go.
        points.sort_unstable();

        let owners = if replicas == 0 { Vec::new() } else { preference_lists(&points, replicas, slot_point) };

        let mut coordinated = vec![Vec::new(); nodes.len()];
        let mut owned = vec![Vec::new(); nodes.len()];
        for (slot, list) in owners.chunks(replicas.max(1)).enumerate() {
            let slot = slot as u16;
            coordinated[list[0].index()].push(slot);
            for idx in list {
                owned[idx.index()].push(slot);
            }
        }

        Ok(Ring {
            config,
            nodes,
            replicas,
            owners: owners.into(),
            coordinated: coordinated.into_iter().map(Vec::into).collect(),
            owned: owned.into_iter().map(Vec::into).collect(),
        })
    }

    /// Validates members and sorts them by id, the canonical order.
    fn check_members(members: impl IntoIterator<Item = Member>, config: &RingConfig) -> Result<Box<[Node]>> {
        let mut nodes = Vec::new();
        let mut points_total = 0u64;
        for Member { id, weight } in members {
            let len = id.as_str().len();
            if len == 0 {
                return Err(RingError::EmptyNodeId);
            }
            if len > NODE_ID_LEN_MAX {
                return Err(RingError::NodeIdTooLong { len, max: NODE_ID_LEN_MAX });
            }
            if !(weight.is_finite() && weight > 0.0) {
                return Err(RingError::InvalidWeight { id, weight });
            }
            let vnodes = vnodes_for(config.vnodes_per_node, weight);
            // Checked as f64 first: a huge weight must be refused, not
            // saturated into a u32.
            if vnodes > POINTS_MAX as f64 || points_total + vnodes as u64 > POINTS_MAX {
                return Err(RingError::TooManyPoints {
                    count: points_total.saturating_add(vnodes as u64),
                    max: POINTS_MAX,
                });
            }
            points_total += vnodes as u64;
            nodes.push(Node { id, weight, vnodes: vnodes as u32 });
            if nodes.len() > MEMBERS_MAX {
                return Err(RingError::TooManyMembers { count: nodes.len(), max: MEMBERS_MAX });
            }
        }
        nodes.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        if let Some(pair) = nodes.windows(2).find(|pair| pair[0].id == pair[1].id) {
            return Err(RingError::DuplicateNode(pair[0].id.clone()));
        }
        Ok(nodes.into())
    }

    pub fn config(&self) -> &RingConfig {
        &self.config
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Length of every preference list: `min(config.replicas, len())`.
    pub fn replicas(&self) -> usize {
        self.replicas
    }

    /// The slot's preference list: coordinator first, then its successors in
    /// ring order. Empty only when the ring has no members.
    ///
    /// Panics if `slot >= SLOTS`.
    pub fn owners(&self, slot: u16) -> &[NodeIdx] {
        assert!(usize::from(slot) < SLOTS, "slot {slot} out of range");
        let start = usize::from(slot) * self.replicas;
        &self.owners[start..start + self.replicas]
    }

    /// The slot's coordinator (first owner); `None` only for an empty ring.
    pub fn coordinator(&self, slot: u16) -> Option<NodeIdx> {
        self.owners(slot).first().copied()
    }

    /// Whether `node` is in the slot's preference list.
    pub fn is_owner(&self, slot: u16, node: NodeIdx) -> bool {
        self.owners(slot).contains(&node)
    }

    /// Slots `node` coordinates, ascending.
    pub fn slots_of(&self, node: NodeIdx) -> &[u16] {
        &self.coordinated[node.index()]
    }

    /// Slots whose preference list holds `node` (as coordinator or replica),
    /// ascending.
    pub fn owned_slots_of(&self, node: NodeIdx) -> &[u16] {
        &self.owned[node.index()]
    }

    /// The index of the member with this id, if it is one.
    pub fn node_idx(&self, id: &str) -> Option<NodeIdx> {
        self.nodes.binary_search_by(|node| node.id.as_str().cmp(id)).ok().map(|i| NodeIdx(i as u16))
    }

    /// The id of a member. Panics if `node` is not from this ring.
    pub fn node_id(&self, node: NodeIdx) -> &NodeId {
        &self.nodes[node.index()].id
    }

    /// The member's vnode count (after weighting).
    pub fn vnodes_of(&self, node: NodeIdx) -> u32 {
        self.nodes[node.index()].vnodes
    }

    /// Every member with its index, in id order.
    pub fn nodes(&self) -> impl ExactSizeIterator<Item = (NodeIdx, &NodeId)> + '_ {
        self.nodes.iter().enumerate().map(|(i, node)| (NodeIdx(i as u16), &node.id))
    }

    /// The membership this ring was built from, in id order: feed it back
    /// to [`Ring::new`], changed, to build the next ring.
    pub fn members(&self) -> impl ExactSizeIterator<Item = Member> + '_ {
        self.nodes.iter().map(|node| Member { id: node.id.clone(), weight: node.weight })
    }
}

impl fmt::Debug for Ring {
    // The slot table is 16384 entries: show the membership and config only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ring")
            .field("config", &self.config)
            .field("nodes", &self.nodes)
            .field("replicas", &self.replicas)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(ids: &[&str]) -> Vec<Member> {
        ids.iter().map(|&id| Member::new(id)).collect()
    }

    #[test]
    fn slot_points_are_evenly_spaced_and_increasing() {
        assert_eq!(slot_point(0), 0);
        assert_eq!(slot_point(1), 1 << 50);
        assert_eq!(slot_point(16383), 16383 << 50);
    }

    #[test]
    fn vnode_point_is_seeded_xxh3_of_the_id() {
        let id = NodeId::from("node-a");
        assert_eq!(vnode_point(&id, 7), xxh3_64_with_seed(b"node-a", 7));
        assert_ne!(vnode_point(&id, 0), vnode_point(&id, 1));
    }

    #[test]
    fn weights_scale_vnodes_with_a_floor_of_one() {
        assert_eq!(vnodes_for(256, 1.0), 256.0);
        assert_eq!(vnodes_for(256, 0.5), 128.0);
        assert_eq!(vnodes_for(256, 2.0), 512.0);
        assert_eq!(vnodes_for(256, 0.0001), 1.0);
        assert_eq!(vnodes_for(10, 0.25), 3.0); // 2.5 rounds away from zero
    }

    #[test]
    fn empty_ring_has_no_owners() {
        let ring = Ring::empty(RingConfig::default()).unwrap();
        assert!(ring.is_empty());
        assert_eq!(ring.replicas(), 0);
        assert_eq!(ring.owners(0), &[] as &[NodeIdx]);
        assert_eq!(ring.coordinator(16383), None);
    }

    #[test]
    fn single_node_owns_everything() {
        let ring = Ring::new(members(&["a"]), RingConfig::default()).unwrap();
        let a = ring.node_idx("a").unwrap();
        assert_eq!(ring.replicas(), 1);
        assert_eq!(ring.slots_of(a).len(), SLOTS);
        assert!((0..SLOTS as u16).all(|s| ring.owners(s) == [a]));
    }

    /// The preference lists by the definition: walk clockwise from the
    /// slot's point, collecting distinct nodes.
    fn walk(ring: &Ring, slot: u16) -> Vec<NodeIdx> {
        let mut points: Vec<(u64, NodeIdx)> = ring
            .nodes()
            .flat_map(|(idx, id)| (0..ring.vnodes_of(idx)).map(move |i| (vnode_point(id, i), idx)))
            .collect();
        points.sort_unstable();
        let p = slot_point(slot);
        let mut list = Vec::new();
        for &(_, idx) in points.iter().filter(|&&(q, _)| q >= p).chain(points.iter()) {
            if !list.contains(&idx) && list.len() < ring.replicas() {
                list.push(idx);
            }
        }
        list
    }

    #[test]
    fn owners_follow_the_clockwise_walk() {
        let config = RingConfig { vnodes_per_node: 6, replicas: 3 };
        let members = ["v", "w", "x", "y", "z"].map(Member::from);
        let mut weighted = members.clone();
        weighted[1].weight = 3.0;
        weighted[3].weight = 0.2;
        for members in [&members[..2], &members[..], &weighted[..]] {
            let ring = Ring::new(members.to_vec(), config).unwrap();
            for slot in (0..SLOTS as u16).step_by(7).chain([16383]) {
                assert_eq!(ring.owners(slot), walk(&ring, slot), "slot {slot}");
            }
        }
    }

    #[test]
    fn skewed_weights_build_quickly_and_correctly() {
        // One node with 64000 points and one with a single point: a
        // per-slot walk would step through ~32000 points for every slot.
        let config = RingConfig { vnodes_per_node: 64, replicas: 2 };
        let members = [Member::new("heavy").with_weight(1000.0), Member::new("light").with_weight(0.001)];
        let ring = Ring::new(members, config).unwrap();
        let light = ring.node_idx("light").unwrap();
        assert_eq!(ring.vnodes_of(light), 1);
        assert_eq!(ring.owned_slots_of(light).len(), SLOTS);
        for slot in [0, 8191, 16383] {
            assert_eq!(ring.owners(slot), walk(&ring, slot));
        }
    }

    #[test]
    fn rejects_bad_membership_and_config() {
        let config = RingConfig::default();
        assert_eq!(
            Ring::new(members(&["a", "b", "a"]), config).unwrap_err(),
            RingError::DuplicateNode(NodeId::from("a"))
        );
        assert_eq!(Ring::new(members(&[""]), config).unwrap_err(), RingError::EmptyNodeId);
        let long = "n".repeat(NODE_ID_LEN_MAX + 1);
        assert!(matches!(Ring::new(members(&[&long]), config), Err(RingError::NodeIdTooLong { .. })));
        for weight in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                Ring::new([Member::new("a").with_weight(weight)], config),
                Err(RingError::InvalidWeight { .. })
            ));
        }
        assert!(matches!(
            Ring::new([Member::new("a").with_weight(1e12)], config),
            Err(RingError::TooManyPoints { .. })
        ));
        let many = (0..=MEMBERS_MAX).map(|i| Member::new(format!("n{i}")));
        let one_vnode = RingConfig { vnodes_per_node: 1, replicas: 1 };
        assert!(matches!(Ring::new(many, one_vnode), Err(RingError::TooManyMembers { .. })));
        for bad in [
            RingConfig { vnodes_per_node: 0, replicas: 3 },
            RingConfig { vnodes_per_node: 256, replicas: 0 },
            RingConfig { vnodes_per_node: 256, replicas: REPLICAS_MAX + 1 },
        ] {
            assert!(matches!(Ring::new(members(&["a"]), bad), Err(RingError::InvalidConfig(_))));
        }
    }

    #[test]
    fn lookups_agree_with_each_other() {
        let ring = Ring::new(members(&["c", "a", "b", "d"]), RingConfig::default()).unwrap();
        let ids: Vec<&str> = ring.nodes().map(|(_, id)| id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c", "d"]);
        assert_eq!(ring.node_idx("zzz"), None);
        for (idx, id) in ring.nodes() {
            assert_eq!(ring.node_idx(id.as_str()), Some(idx));
            assert_eq!(ring.vnodes_of(idx), ring.config().vnodes_per_node);
            for &slot in ring.slots_of(idx) {
                assert_eq!(ring.coordinator(slot), Some(idx));
            }
            for &slot in ring.owned_slots_of(idx) {
                assert!(ring.is_owner(slot, idx));
            }
        }
        let coordinated: usize = ring.nodes().map(|(i, _)| ring.slots_of(i).len()).sum();
        let owned: usize = ring.nodes().map(|(i, _)| ring.owned_slots_of(i).len()).sum();
        assert_eq!(coordinated, SLOTS);
        assert_eq!(owned, SLOTS * 3);
        let rebuilt = Ring::new(ring.members(), *ring.config()).unwrap();
        assert!(rebuilt == ring);
    }
}
