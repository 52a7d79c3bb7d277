//! Seeded simulation of whole clusters over [`SimCluster`]: the real state
//! machine and codec, an in-memory network that drops, delays and
//! partitions, and a simulated clock.
//!
//! What every schedule checks:
//! - 3 to 64 nodes that join through one seed converge to one view (same
//!   digest everywhere, every node alive);
//! - a crashed node is held dead by every other node within
//!   `DETECT_BOUND_MS`;
//! - with 20 % of messages dropped for a simulated minute, no live node is
//!   ever declared dead by anyone;
//! - a partition that lasted long enough for each side to declare the
//!   other dead heals into one view;
//! - joins, leaves, crashes and restarts in a random order end in one view
//!   held by every running node;
//! - no honest message was ever refused by the codec or the sender check.
//!
//! Replay: every schedule prints its seed; a failure prints
//! `SIM_SEED=<n>`; run `SIM_SEED=<n> cargo test -p ringcache-membership
//! --test sim` to run that schedule alone. `SIM_SCHEDULES=<n>` sets how
//! many schedules each test runs.

use std::panic::{catch_unwind, AssertUnwindSafe};

use ringcache_membership::sim::SimCluster;
use ringcache_membership::{Config, Event, MemberState, NodeId};

/// A dead node is held dead everywhere within this, at the default config:
/// a probe cycle to notice (≤ 2 probe intervals), the suspicion timeout,
/// and dissemination. Measured worst cases are in docs/membership.md.
const DETECT_BOUND_MS: u64 = 5_000;
/// Joining nodes converge within this.
const CONVERGE_BOUND_MS: u64 = 30_000;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| v.parse().unwrap_or_else(|_| panic!("{name} must be a number")))
}

/// Runs `SIM_SCHEDULES` (default `count`) schedules with seeds from `base`,
/// or only `SIM_SEED` if set.
fn run_many(test: &str, base: u64, count: u64, schedule: impl Fn(u64)) {
    let seeds: Vec<u64> = match env_u64("SIM_SEED") {
        Some(seed) => vec![seed],
        None => (base..base + env_u64("SIM_SCHEDULES").unwrap_or(count)).collect(),
    };
    for seed in seeds {
        println!("{test}: seed {seed}");
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| schedule(seed))) {
            let why = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("{test} failed: {why}\nreplay with SIM_SEED={seed} cargo test -p ringcache-membership --test sim {test}");
        }
    }
}

fn names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("node-{i:02}")).collect()
}

/// Starts `n` nodes, each joining through the first, and waits for one view.
fn cluster(seed: u64, n: usize) -> (SimCluster, Vec<NodeId>) {
    let mut sim = SimCluster::new(seed, Config::for_test());
    let mut ids = Vec::new();
    for name in names(n) {
        let seeds: Vec<NodeId> = ids.first().cloned().into_iter().collect();
        ids.push(sim.add(&name, &seeds));
        sim.run_for(10);
    }
    let took = sim.run_until(CONVERGE_BOUND_MS, 50, SimCluster::converged);
    assert!(took.is_some(), "{n} nodes did not converge within {CONVERGE_BOUND_MS} ms");
    (sim, ids)
}

fn assert_clean(sim: &SimCluster) {
    let stats = sim.stats();
    assert!(
        sim.refusals().iter().all(|r| !r.contains("decode") && !r.contains("claims")),
        "honest messages refused: {:?}",
        sim.refusals()
    );
    assert!(stats.delivered > 0);
}

fn deaths_of_live_nodes(sim: &SimCluster) -> Vec<String> {
    let running = sim.running();
    sim.seen()
        .iter()
        .filter_map(|s| match &s.event {
            Event::Dead(id) if running.contains(id) => Some(format!("{} saw {id} dead at {} ms", s.observer, s.at_ms)),
            _ => None,
        })
        .collect()
}

#[test]
fn nodes_converge_to_one_view() {
    run_many("nodes_converge_to_one_view", 1_000, 3, |seed| {
        for n in [3, 5, 16, 64] {
            let (sim, ids) = cluster(seed, n);
            assert_clean(&sim);
            let digest = sim.view(&ids[0]).digest();
            for id in &ids {
                let v = sim.view(id);
                assert_eq!(v.digest(), digest);
                assert_eq!(v.members().len(), n);
                assert!(v.epoch() > 0);
            }
            assert!(deaths_of_live_nodes(&sim).is_empty(), "{:?}", deaths_of_live_nodes(&sim));
        }
    });
}

#[test]
fn a_crashed_node_is_detected_by_every_other() {
    run_many("a_crashed_node_is_detected_by_every_other", 2_000, 5, |seed| {
        for n in [3, 8, 32] {
            let (mut sim, ids) = cluster(seed, n);
            sim.run_for(2_000);
            let victim = ids[(seed as usize) % n].clone();
            sim.crash(&victim);
            let took = sim.run_until(DETECT_BOUND_MS + 5_000, 20, |s| s.all_see(&victim, MemberState::Dead));
            let took = took.unwrap_or_else(|| panic!("{n} nodes: {victim} not held dead by all"));
            assert!(took <= DETECT_BOUND_MS, "{n} nodes: {victim} held dead by all after {took} ms");
            assert!(deaths_of_live_nodes(&sim).is_empty(), "{:?}", deaths_of_live_nodes(&sim));
            assert_clean(&sim);
        }
    });
}

#[test]
fn twenty_percent_loss_for_a_minute_kills_no_live_node() {
    run_many("twenty_percent_loss_for_a_minute_kills_no_live_node", 3_000, 3, |seed| {
        for n in [5, 24] {
            let (mut sim, _ids) = cluster(seed, n);
            sim.drop_rate = 0.2;
            sim.run_for(60_000);
            let deaths = deaths_of_live_nodes(&sim);
            assert!(deaths.is_empty(), "{n} nodes, 20 % loss: {deaths:?}");
            sim.drop_rate = 0.0;
            assert!(sim.run_until(CONVERGE_BOUND_MS, 50, SimCluster::converged).is_some());
        }
    });
}

#[test]
fn a_partition_heals_into_one_view() {
    run_many("a_partition_heals_into_one_view", 4_000, 5, |seed| {
        let n = 9;
        let (mut sim, ids) = cluster(seed, n);
        let cut = 1 + (seed as usize) % (n - 1);
        sim.partition(&[&ids[..cut], &ids[cut..]]);
        sim.run_for(20_000);
        // Each side holds the other dead.
        assert!(sim.view(&ids[0]).get(&ids[n - 1]).is_some_and(|m| m.state == MemberState::Dead));
        sim.heal();
        let took = sim.run_until(60_000, 100, SimCluster::converged);
        assert!(took.is_some(), "partition at {cut} of {n} did not heal into one view");
        println!("  partition {cut}/{} healed in {} ms", n - cut, took.unwrap());
        assert_clean(&sim);
    });
}

/// One random step of a churn schedule.
#[derive(Debug, Clone, Copy)]
enum Step {
    Join,
    Leave,
    Crash,
    Restart,
    Wait,
}

#[test]
fn joins_leaves_and_crashes_in_any_order_end_in_one_view() {
    use rand::{Rng, SeedableRng};
    run_many("joins_leaves_and_crashes_in_any_order_end_in_one_view", 5_000, 12, |seed| {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let (mut sim, mut ids) = cluster(seed, 4);
        let mut crashed: Vec<NodeId> = Vec::new();
        let mut next = ids.len();
        for _ in 0..24 {
            let step = [Step::Join, Step::Leave, Step::Crash, Step::Restart, Step::Wait][rng.gen_range(0..5)];
            let running = sim.running();
            match step {
                Step::Join if running.len() < 12 => {
                    let seed_node = running[rng.gen_range(0..running.len())].clone();
                    ids.push(sim.add(&format!("node-{next:02}"), &[seed_node]));
                    next += 1;
                }
                Step::Leave if running.len() > 2 => {
                    let victim = running[rng.gen_range(0..running.len())].clone();
                    sim.leave(&victim);
                }
                Step::Crash if running.len() > 2 => {
                    let victim = running[rng.gen_range(0..running.len())].clone();
                    sim.crash(&victim);
                    crashed.push(victim);
                }
                Step::Restart if !crashed.is_empty() => {
                    let back = crashed.swap_remove(rng.gen_range(0..crashed.len()));
                    let seed_node = running[rng.gen_range(0..running.len())].clone();
                    sim.restart(&back, &[seed_node]);
                }
                _ => {}
            }
            sim.run_for(rng.gen_range(0..3_000));
        }
        let took = sim.run_until(CONVERGE_BOUND_MS, 50, SimCluster::converged);
        assert!(took.is_some(), "no single view after churn:\n{}", sim.describe());
        let running = sim.running();
        let view = sim.view(&running[0]);
        assert_eq!(view.live().count(), running.len());
        assert_clean(&sim);
    });
}
