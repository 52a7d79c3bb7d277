//! The figures `docs/membership.md` quotes, from the seeded simulation at
//! the default config: time for every node to hold a crashed node dead,
//! and gossip bytes per second per node in a steady cluster. Ignored by
//! default (a few seconds of CPU); run with
//! `cargo test --release -p ringcache-membership --test figures -- --ignored --nocapture`.

use ringcache_membership::sim::SimCluster;
use ringcache_membership::{Config, MemberState, NodeId};

fn cluster(seed: u64, n: usize) -> (SimCluster, Vec<NodeId>) {
    let mut sim = SimCluster::new(seed, Config::default());
    let mut ids: Vec<NodeId> = Vec::new();
    for i in 0..n {
        let seeds: Vec<NodeId> = ids.first().cloned().into_iter().collect();
        ids.push(sim.add(&format!("node-{i:02}"), &seeds));
        sim.run_for(10);
    }
    assert!(sim.run_until(60_000, 50, SimCluster::converged).is_some(), "{n} nodes did not converge");
    (sim, ids)
}

#[test]
#[ignore]
fn detection_time_and_gossip_bytes() {
    // Machine-readable for benches/membership_figures.sh: one line a size.
    println!("nodes | detect min / median / max ms (10 seeds) | join converged min / median / max ms | gossip bytes/s per node | messages/s per node");
    for n in [3usize, 5, 10, 16, 32, 64] {
        let mut detect = Vec::new();
        let mut join = Vec::new();
        let mut rates = Vec::new();
        let mut msgs = Vec::new();
        for seed in 0..10u64 {
            let (mut sim, ids) = cluster(seed, n);
            sim.run_for(5_000);
            let before = sim.stats();
            let window_ms = 20_000;
            sim.run_for(window_ms);
            let after = sim.stats();
            let secs = window_ms as f64 / 1000.0;
            rates.push((after.bytes_sent - before.bytes_sent) as f64 / secs / n as f64);
            msgs.push((after.sent - before.sent) as f64 / secs / n as f64);
            // A new member, met through one seed: until every node holds
            // the same view with it.
            sim.add(&format!("node-new-{seed}"), &ids[..1]);
            join.push(sim.run_until(30_000, 10, SimCluster::converged).expect("the join converged"));
            let victim = ids[seed as usize % n].clone();
            sim.crash(&victim);
            let took = sim.run_until(30_000, 10, |s| s.all_see(&victim, MemberState::Dead)).expect("detected");
            detect.push(took);
        }
        detect.sort_unstable();
        join.sort_unstable();
        let avg = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let spread = |v: &[u64]| format!("{} / {} / {}", v[0], v[v.len() / 2], v[v.len() - 1]);
        println!("{n} | {} | {} | {:.0} | {:.1}", spread(&detect), spread(&join), avg(&rates), avg(&msgs));
    }
}
