//! Properties of placement over random memberships, through the public API
//! only: owners per slot, independence from member order, minimal movement
//! on add/remove, and balance.
//!
//! Case counts are small so the file runs in a few seconds in a debug build;
//! proptest prints the minimal failing membership, and
//! `PROPTEST_RNG_SEED=<n>` replays a run. The balance test uses a fixed,
//! seeded sample instead of proptest, because balance is a statistical
//! property: its bounds come from the measurements in `docs/ring.md`, and a
//! fixed sample keeps it from flaking on a one-in-a-thousand membership.

use std::collections::BTreeSet;

use proptest::prelude::*;
use ringcache_ring::{Member, NodeId, Ring, RingConfig, SLOTS};

/// A set of 1..=max distinct random node ids, in random order.
fn member_ids(max: usize) -> impl Strategy<Value = Vec<String>> {
    prop::collection::btree_set("[a-z0-9.:-]{1,20}", 1..=max)
        .prop_map(|ids| ids.into_iter().collect::<Vec<_>>())
        .prop_shuffle()
}

/// Random members, a quarter of them with a weight other than 1.
fn weighted_members(max: usize) -> impl Strategy<Value = Vec<Member>> {
    member_ids(max).prop_flat_map(|ids| {
        let weights = prop::collection::vec(prop_oneof![3 => Just(1.0), 1 => 0.05f64..4.0], ids.len());
        (Just(ids), weights).prop_map(|(ids, weights)| {
            ids.into_iter().zip(weights).map(|(id, w)| Member::new(id).with_weight(w)).collect()
        })
    })
}

/// Small vnode counts: the invariants hold for any count, build fast in
/// debug, and few points per node make walks that skip repeated nodes
/// common, which is what the distinct-owner logic has to get right.
fn small_config() -> impl Strategy<Value = RingConfig> {
    (1u32..=48, 1usize..=5).prop_map(|(vnodes_per_node, replicas)| RingConfig { vnodes_per_node, replicas })
}

fn owner_ids(ring: &Ring, slot: u16) -> Vec<NodeId> {
    ring.owners(slot).iter().map(|&i| ring.node_id(i).clone()).collect()
}

/// The movement margin: a slot may move only to a joining (from a leaving)
/// node, so the moved fraction is that node's share, and the margin is how
/// far one node's share may exceed its fair `optimum`: 30 % of it, but never
/// more than 5 percentage points. Measured worst over 3200 add/remove pairs
/// (docs/ring.md): 17 % over the optimum, +3.1 points.
fn movement_bound(optimum: f64) -> f64 {
    optimum + (0.3 * optimum).min(0.05)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn every_slot_has_min_replicas_distinct_owners(
        members in weighted_members(64),
        config in small_config(),
    ) {
        let n = members.len();
        let ring = Ring::new(members, config).unwrap();
        let want = config.replicas.min(n);
        prop_assert_eq!(ring.replicas(), want);
        let mut owned_total = 0;
        for slot in 0..SLOTS as u16 {
            let owners = ring.owners(slot);
            prop_assert_eq!(owners.len(), want);
            let distinct: BTreeSet<_> = owners.iter().collect();
            prop_assert_eq!(distinct.len(), want, "slot {} owners {:?}", slot, owners);
            prop_assert_eq!(ring.coordinator(slot), Some(owners[0]));
            owned_total += owners.len();
        }
        let mut coordinated = vec![false; SLOTS];
        for (idx, _) in ring.nodes() {
            prop_assert!(ring.slots_of(idx).windows(2).all(|w| w[0] < w[1]));
            for &slot in ring.slots_of(idx) {
                prop_assert!(!coordinated[usize::from(slot)]);
                coordinated[usize::from(slot)] = true;
                prop_assert_eq!(ring.coordinator(slot), Some(idx));
            }
            for &slot in ring.owned_slots_of(idx) {
                prop_assert!(ring.is_owner(slot, idx));
            }
        }
        prop_assert!(coordinated.iter().all(|&c| c));
        let listed: usize = ring.nodes().map(|(i, _)| ring.owned_slots_of(i).len()).sum();
        prop_assert_eq!(listed, owned_total);
    }

    #[test]
    fn placement_ignores_member_order(
        (members, shuffled) in weighted_members(64)
            .prop_flat_map(|m| (Just(m.clone()), Just(m).prop_shuffle())),
        config in small_config(),
    ) {
        let a = Ring::new(members, config).unwrap();
        let b = Ring::new(shuffled, config).unwrap();
        prop_assert!(a == b);
        // The NodeIdx numbering is canonical too (id order), so indices can
        // be compared across nodes that built the same view.
        for (idx, id) in a.nodes() {
            prop_assert_eq!(b.node_idx(id.as_str()), Some(idx));
        }
    }

    #[test]
    fn one_node_changes_lists_only_by_itself(
        (members, leaving) in weighted_members(64)
            .prop_flat_map(|m| { let n = m.len(); (Just(m), 0..n) }),
        config in small_config(),
    ) {
        // `with` has the node, `without` lacks it: going one way is an add,
        // the other a remove, so one pair checks both.
        let x = members[leaving].id.clone();
        let mut rest = members.clone();
        rest.remove(leaving);
        let with = Ring::new(members, config).unwrap();
        let without = Ring::new(rest, config).unwrap();
        for slot in 0..SLOTS as u16 {
            let big = owner_ids(&with, slot);
            let small = owner_ids(&without, slot);
            // Take x out of the list that has it: what remains must be the
            // other list, or the other list minus its last owner (the one x
            // pushed out), in the same order.
            let others: Vec<NodeId> = big.iter().filter(|&id| *id != x).cloned().collect();
            prop_assert!(!small.contains(&x));
            prop_assert!(
                small.starts_with(&others) && small.len() - others.len() <= 1,
                "slot {}: with {:?} without {:?}", slot, big, small
            );
            if !big.contains(&x) {
                prop_assert_eq!(&big, &small);
            }
        }
    }
}

proptest! {
    // The default config (1024 vnodes) builds in ~30 ms in debug at 64
    // nodes, so fewer cases.
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn one_node_moves_about_one_nth_of_the_slots(
        (ids, leaving) in member_ids(64)
            .prop_filter("two or more nodes", |ids| ids.len() >= 2)
            .prop_flat_map(|ids| { let n = ids.len(); (Just(ids), 0..n) }),
    ) {
        let config = RingConfig::default();
        let n = ids.len();
        let x = NodeId::from(ids[leaving].as_str());
        let rest: Vec<&str> = ids.iter().map(String::as_str).filter(|&id| id != x.as_str()).collect();
        let with = Ring::new(ids.iter().map(|id| Member::new(id.as_str())), config).unwrap();
        let without = Ring::new(rest.into_iter().map(Member::from), config).unwrap();

        let mut coordinators_moved = 0;
        let mut lists_changed = 0;
        for slot in 0..SLOTS as u16 {
            let (big, small) = (owner_ids(&with, slot), owner_ids(&without, slot));
            if big[0] != small[0] {
                prop_assert_eq!(&big[0], &x, "slot {} moved between two other nodes", slot);
                coordinators_moved += 1;
            }
            if big != small {
                prop_assert!(big.contains(&x));
                lists_changed += 1;
            }
        }
        let frac = |count: usize| count as f64 / SLOTS as f64;
        let coordinator_optimum = 1.0 / n as f64;
        prop_assert!(
            frac(coordinators_moved) <= movement_bound(coordinator_optimum),
            "{} of {} coordinators moved with {} nodes", coordinators_moved, SLOTS, n
        );
        let list_optimum = config.replicas.min(n) as f64 / n as f64;
        prop_assert!(
            frac(lists_changed) <= movement_bound(list_optimum),
            "{} of {} preference lists changed with {} nodes", lists_changed, SLOTS, n
        );
    }
}

/// splitmix64, for a fixed, replayable sample of random node ids.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Largest |coordinated / mean - 1| over the ring's nodes, weights ignored.
fn max_deviation(ring: &Ring) -> f64 {
    let mean = SLOTS as f64 / ring.len() as f64;
    ring.nodes().map(|(i, _)| (ring.slots_of(i).len() as f64 / mean - 1.0).abs()).fold(0.0, f64::max)
}

#[test]
fn coordinated_slots_stay_near_the_mean() {
    // Bounds from docs/ring.md (400 memberships per row): with 1024 vnodes
    // no ring of 3..=24 nodes had a node more than 15 % off the mean (worst
    // 14.7 %). From 32 nodes up, 16384 slots leave so few per node (512 at
    // 32, 256 at 64) that their sampling noise alone, about sqrt(mean)
    // slots per node, puts the typical worst node near 15 % at 64 nodes
    // whatever the vnode count. There the bound is that floor instead: no
    // node further off than 4.5 standard deviations of ideal independent
    // placement, sqrt((1 - 1/n) / mean) (19.6 % at 32 nodes, 27.9 % at 64;
    // measured worst 19.7 % and 24.2 %).
    const SAMPLES: usize = 8;
    let seed = 0x0b41_a4ce;
    let mut rng = SplitMix(seed);
    let config = RingConfig::default();
    for n in [3, 4, 5, 8, 10, 16, 24, 32, 48, 64] {
        let mean = SLOTS as f64 / n as f64;
        let floor_sd = ((1.0 - 1.0 / n as f64) / mean).sqrt();
        let bound = if n <= 24 { 0.15 } else { 4.5 * floor_sd };
        for _ in 0..SAMPLES {
            let ids = (0..n).map(|_| Member::new(format!("node-{:016x}", rng.next())));
            let dev = max_deviation(&Ring::new(ids, config).unwrap());
            assert!(
                dev <= bound,
                "{n} nodes: a node is {:.1} % off the mean, bound {:.1} % (seed {seed:#x})",
                100.0 * dev,
                100.0 * bound
            );
        }
    }
}

#[test]
fn weights_scale_a_nodes_share() {
    let members = (0..8).map(|i| {
        let weight = match i {
            0 => 2.0,
            1 => 0.5,
            _ => 1.0,
        };
        Member::new(format!("node-{i}")).with_weight(weight)
    });
    let ring = Ring::new(members, RingConfig::default()).unwrap();
    let total_weight = 2.0 + 0.5 + 6.0;
    for (idx, id) in ring.nodes() {
        let weight = match id.as_str() {
            "node-0" => 2.0,
            "node-1" => 0.5,
            _ => 1.0,
        };
        assert_eq!(f64::from(ring.vnodes_of(idx)), 1024.0 * weight);
        let want = SLOTS as f64 * weight / total_weight;
        let got = ring.slots_of(idx).len() as f64;
        assert!((got / want - 1.0).abs() <= 0.15, "{id}: {got} slots, want about {want:.0}");
    }
}
