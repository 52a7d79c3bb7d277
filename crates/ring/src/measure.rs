//! The measurements behind `docs/ring.md`: balance and movement over many
//! random memberships. Ignored by default (it takes a while in debug
//! builds); run it with
//!
//! ```text
//! cargo test --release -p ringcache-ring measure -- --ignored --nocapture
//! ```
//!
//! `RING_MEASURE_TRIALS` (default 200) sets the memberships per row and
//! `RING_MEASURE_SEED` the seed; the seed is printed so a table can be
//! reproduced exactly.

use xxhash_rust::xxh3::xxh3_64;

use crate::ring::{slot_point, Ring, RingConfig};
use crate::slot::SLOTS;
use crate::Member;

const NODE_COUNTS: [usize; 10] = [3, 4, 5, 8, 10, 16, 24, 32, 48, 64];

/// splitmix64: a seeded, dependency-free generator for the random ids.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn id(&mut self) -> Member {
        Member::new(format!("node-{:016x}", self.next()))
    }
}

fn hashed_slot_point(slot: u16) -> u64 {
    xxh3_64(&slot.to_le_bytes())
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Largest relative deviation of a node's coordinator count from the mean.
fn max_deviation(ring: &Ring) -> f64 {
    let mean = SLOTS as f64 / ring.len() as f64;
    ring.nodes().map(|(idx, _)| (ring.slots_of(idx).len() as f64 / mean - 1.0).abs()).fold(0.0, f64::max)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[test]
#[ignore = "prints the balance and movement tables of docs/ring.md; slow in debug"]
fn measure_balance_and_movement() {
    let trials = env_u64("RING_MEASURE_TRIALS", 200) as usize;
    let seed = env_u64("RING_MEASURE_SEED", 0x005e_ed0f_41c6);
    println!("seed {seed}, {trials} random memberships per row");

    type SlotPoint = (&'static str, fn(u16) -> u64);
    let slot_points: [SlotPoint; 2] = [("even", slot_point), ("hashed", hashed_slot_point)];

    println!("\n## Balance: max |coordinated slots / mean - 1| over the nodes of a ring\n");
    println!("| slot points | vnodes | nodes | mean | p50 | p99 | worst | rings over 15 % |");
    println!("|---|---|---|---|---|---|---|---|");
    let vnode_counts: Vec<u32> = std::env::var("RING_MEASURE_VNODES")
        .unwrap_or_else(|_| "256,512,1024,2048".into())
        .split(',')
        .map(|v| v.trim().parse().expect("RING_MEASURE_VNODES: comma-separated counts"))
        .collect();
    let modes: Vec<&str> = std::env::var("RING_MEASURE_SLOT_POINTS")
        .map(|v| v.split(',').map(|m| if m == "even" { "even" } else { "hashed" }).collect())
        .unwrap_or_else(|_| vec!["even", "hashed"]);
    for (name, point) in slot_points.into_iter().filter(|(name, _)| modes.contains(name)) {
        for &vnodes in &vnode_counts {
            let mut rng = Rng(seed);
            let config = RingConfig { vnodes_per_node: vnodes, replicas: 3 };
            for n in NODE_COUNTS {
                let mut devs: Vec<f64> = (0..trials)
                    .map(|_| {
                        let ring = Ring::build((0..n).map(|_| rng.id()), config, point).unwrap();
                        max_deviation(&ring)
                    })
                    .collect();
                devs.sort_by(f64::total_cmp);
                let over = devs.iter().filter(|&&d| d > 0.15).count();
                println!(
                    "| {name} | {vnodes} | {n} | {:.1} % | {:.1} % | {:.1} % | {:.1} % | {:.1} % |",
                    100.0 * devs.iter().sum::<f64>() / trials as f64,
                    100.0 * percentile(&devs, 0.5),
                    100.0 * percentile(&devs, 0.99),
                    100.0 * devs[trials - 1],
                    100.0 * over as f64 / trials as f64,
                );
            }
        }
    }

    let config = RingConfig::default();
    println!(
        "\n## Movement with the shipped placement ({} vnodes, {} replicas, even slot points)\n",
        config.vnodes_per_node, config.replicas
    );
    println!("ratio = moved fraction / optimum. Coordinators: optimum 1/N; owner sets (slots whose");
    println!("preference list changed): optimum min(replicas, N)/N; N = node count after an add,");
    println!("before a remove. excess = worst (moved - optimum) in percentage points.\n");
    println!("| nodes before add | add coord.: mean / worst ratio | add: worst excess | remove coord.: mean / worst ratio | remove: worst excess | add owner sets: worst ratio | remove owner sets: worst ratio |");
    println!("|---|---|---|---|---|---|---|");
    let mut rng = Rng(seed ^ 0xadd);
    for n in [1, 2, 3, 4, 8, 16, 32, 63] {
        let (mut add, mut remove) = (Moves::default(), Moves::default());
        for _ in 0..trials {
            let members: Vec<Member> = (0..n).map(|_| rng.id()).collect();
            let before = Ring::new(members.clone(), config).unwrap();
            let added = Ring::new(members.iter().cloned().chain([rng.id()]), config).unwrap();
            add.record(&before, &added, n + 1);
            if n > 1 {
                let removed = Ring::new(members[1..].to_vec(), config).unwrap();
                remove.record(&before, &removed, n);
            }
        }
        println!(
            "| {n} | {} | {} | {} | {} | {} | {} |",
            add.coordinator_ratios(),
            add.excess(),
            remove.coordinator_ratios(),
            remove.excess(),
            add.owner_set_ratio(),
            remove.owner_set_ratio(),
        );
    }
}

/// Moved fractions, each with its optimum: (moved, optimum).
#[derive(Default)]
struct Moves {
    coordinators: Vec<(f64, f64)>,
    owner_sets: Vec<(f64, f64)>,
}

impl Moves {
    fn record(&mut self, a: &Ring, b: &Ring, n: usize) {
        let coord = |r: &Ring, s| r.node_id(r.coordinator(s).unwrap()).clone();
        let set = |r: &Ring, s| {
            let mut ids: Vec<_> = r.owners(s).iter().map(|&i| r.node_id(i).clone()).collect();
            ids.sort();
            ids
        };
        let frac = |count: usize| count as f64 / SLOTS as f64;
        let slots = 0..SLOTS as u16;
        let moved = slots.clone().filter(|&s| coord(a, s) != coord(b, s)).count();
        self.coordinators.push((frac(moved), 1.0 / n as f64));
        let changed = slots.filter(|&s| set(a, s) != set(b, s)).count();
        let replicas = a.config().replicas.min(n) as f64;
        self.owner_sets.push((frac(changed), replicas / n as f64));
    }

    fn coordinator_ratios(&self) -> String {
        if self.coordinators.is_empty() {
            return "-".into();
        }
        let ratios = self.coordinators.iter().map(|(m, o)| m / o);
        let mean = ratios.clone().sum::<f64>() / self.coordinators.len() as f64;
        format!("{mean:.3} / {:.3}", ratios.fold(0.0, f64::max))
    }

    fn excess(&self) -> String {
        match self.coordinators.iter().map(|(m, o)| m - o).reduce(f64::max) {
            Some(excess) => format!("{:+.2} pp", 100.0 * excess),
            None => "-".into(),
        }
    }

    fn owner_set_ratio(&self) -> String {
        match self.owner_sets.iter().map(|(m, o)| m / o).reduce(f64::max) {
            Some(worst) => format!("{worst:.3}"),
            None => "-".into(),
        }
    }
}
