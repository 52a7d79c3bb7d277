//! Seeded, replayable simulation of a 3–5 node cluster: the real state
//! machines and the in-memory replica over a simulated network that drops,
//! delays, duplicates and reorders messages, with partitions that heal,
//! nodes that stop and start, and a restart that loses a node's memory.
//!
//! Every schedule runs a chaos phase of random writes and faults, then heals
//! everything and ticks until the owners converge, and asserts:
//! - convergence: every owner of every written key holds the same stamp and
//!   state, and equal slot digests;
//! - no acknowledged write lost: each key's final stamp is at least the
//!   stamp of the last write acknowledged to a client;
//! - an acknowledged write was on W owners when its ack was reported;
//! - no message any node built was refused by another (limits and codec
//!   agree on both sides), and every message goes through the codec.
//!
//! Replay: a failing schedule prints `SIM_SEED=<n>`; run
//! `SIM_SEED=<n> cargo test -p ringcache-replication --test sim` to run it
//! alone. `SIM_SCHEDULES=<n>` sets how many schedules each test runs.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use ringcache_replication::{
    Config, DbKey, Error, Event, MemOp, MemReplica, NodeId, Output, Placement, Replica, Replicator, StaticView, View,
    WriteId,
};
use ringcache_ring::{slot as slot_of, Member, Ring, RingConfig};
use ringcache_version::{NodeTag, Stamp};

const OWNERS: usize = 3;
const TICK_MS: u64 = 5;

/// The placement of `n` nodes (built once per size: the ring is a pure
/// function of the membership).
fn placement(n: usize) -> Arc<Placement> {
    static CACHE: OnceLock<Vec<Arc<Placement>>> = OnceLock::new();
    let all = CACHE.get_or_init(|| {
        (0..=5)
            .map(|n| {
                let n = n.max(1);
                let members = (0..n).map(|i| Member::new(format!("node-{i}")));
                let ring = Ring::new(members, RingConfig { vnodes_per_node: 16, replicas: n }).unwrap();
                Arc::new(Placement::from_ring(&ring, OWNERS))
            })
            .collect()
    });
    all[n].clone()
}

struct Node {
    id: NodeId,
    tag: NodeTag,
    rep: Replicator,
    store: MemReplica,
    up: bool,
    skew_ms: u64,
    /// When it last restarted empty (acks it sent before may be lost).
    restarted_at: Option<u64>,
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct InFlight {
    at: u64,
    seq: u64,
    from: usize,
    to: usize,
    bytes: Bytes,
}

struct Sim {
    rng: StdRng,
    config: Config,
    nodes: Vec<Node>,
    view: StaticView,
    now: u64,
    net: BinaryHeap<Reverse<InFlight>>,
    seq: u64,
    cut: HashSet<(usize, usize)>,
    drop_p: f64,
    dup_p: f64,
    delay_max_ms: u64,
    quorum: usize,
    /// Keys of a few databases: the same names in several of them are
    /// different keys of the same slot.
    keys: Vec<DbKey>,
    /// Writes waiting for their event: (coordinator, id) → (key, stamp, start).
    writes: HashMap<(usize, WriteId), (DbKey, Stamp, u64)>,
    /// Per key, the largest stamp acknowledged to a client.
    acked: BTreeMap<DbKey, Stamp>,
    restarts_left: usize,
    acks: u64,
    fails: u64,
}

impl Sim {
    fn new(seed: u64) -> Sim {
        let mut rng = StdRng::seed_from_u64(seed);
        let n = rng.gen_range(3..=5);
        let placement = placement(n);
        let mut config = Config::for_test();
        config.anti_entropy_interval_ms = rng.gen_range(60..=150);
        config.anti_entropy_slots_max = rng.gen_range(1..=4);
        config.keys_per_message_max = rng.gen_range(2..=32);
        config.effects_per_message_max = rng.gen_range(4..=16);
        config.sync_slots_per_chunk_max = rng.gen_range(512..=16384);
        config.hints_max_per_node = rng.gen_range(2..=8);
        config.validate().unwrap();
        let nodes = (0..n)
            .map(|i| {
                let id = NodeId::from(format!("node-{i}"));
                Node {
                    tag: NodeTag::of(id.as_str()),
                    rep: Replicator::new(id.clone(), config.clone()).unwrap(),
                    id,
                    store: MemReplica::new(),
                    up: true,
                    skew_ms: rng.gen_range(0..40),
                    restarted_at: None,
                }
            })
            .collect();
        let keys =
            (0..rng.gen_range(3..=16)).map(|i| DbKey::new(rng.gen_range(0..3), format!("key:{}", i / 2))).collect();
        Sim {
            config,
            nodes,
            view: StaticView::new(placement, 1),
            now: 1_000_000,
            net: BinaryHeap::new(),
            seq: 0,
            cut: HashSet::new(),
            drop_p: rng.gen_range(0.0..0.25),
            dup_p: rng.gen_range(0.0..0.1),
            delay_max_ms: rng.gen_range(1..=40),
            quorum: rng.gen_range(2..=OWNERS),
            keys,
            writes: HashMap::new(),
            acked: BTreeMap::new(),
            restarts_left: usize::from(rng.gen_bool(0.3)),
            acks: 0,
            fails: 0,
            rng,
        }
    }

    fn clock(&self, i: usize) -> u64 {
        self.now + self.nodes[i].skew_ms
    }

    /// Sends what a call produced and checks the events it reported.
    fn route(&mut self, from: usize, out: &mut Output) {
        for (to, msg) in out.sends.drain(..) {
            let to = self.nodes.iter().position(|n| n.id == to).expect("messages go to members");
            let bytes = msg.to_bytes();
            let copies = if self.rng.gen_bool(self.dup_p) { 2 } else { 1 };
            for _ in 0..copies {
                if self.rng.gen_bool(self.drop_p) {
                    continue;
                }
                let at = self.now + self.rng.gen_range(0..=self.delay_max_ms);
                self.seq += 1;
                self.net.push(Reverse(InFlight { at, seq: self.seq, from, to, bytes: bytes.clone() }));
            }
        }
        for event in out.events.drain(..).collect::<Vec<_>>() {
            self.on_event(from, event);
        }
    }

    fn on_event(&mut self, node: usize, event: Event) {
        match event {
            Event::Acked { write, acks } => {
                let (key, stamp, started) = self.writes.remove(&(node, write)).expect("one event per write");
                assert!(acks >= self.quorum, "acked with {acks} < {}", self.quorum);
                self.check_on_owners(&key, stamp, started);
                let best = self.acked.entry(key).or_insert(stamp);
                *best = (*best).max(stamp);
                self.acks += 1;
            }
            Event::Failed { write, .. } => {
                self.writes.remove(&(node, write)).expect("one event per write");
                self.fails += 1;
            }
            Event::Ready { .. } | Event::CaughtUp => {}
            other => panic!("unexpected event {other:?}"),
        }
    }

    /// An acknowledged write is on W owners now (an owner that restarted
    /// empty since the write started may have acked and then lost it).
    fn check_on_owners(&self, key: &DbKey, stamp: Stamp, started: u64) {
        let slot = slot_of(&key.name);
        let holders = self
            .view
            .owners(slot)
            .iter()
            .filter(|o| {
                let node = &self.nodes[self.index(o)];
                let holds = node.store.read(slot, key).is_some_and(|(v, _)| v.stamp() >= stamp);
                holds || node.restarted_at.is_some_and(|t| t >= started)
            })
            .count();
        assert!(holders >= self.quorum, "acked write of {key:?} on {holders} owners, quorum {}", self.quorum);
    }

    fn index(&self, id: &NodeId) -> usize {
        self.nodes.iter().position(|n| n.id == *id).unwrap()
    }

    /// Delivers what is due. Messages due together from one node to
    /// another are handled as one batch half the time (as a server does
    /// with what one transport message carried), else one by one.
    fn deliver(&mut self) {
        while self.net.peek().is_some_and(|m| m.0.at <= self.now) {
            let Reverse(m) = self.net.pop().unwrap();
            let mut batch = vec![m.bytes];
            if self.rng.gen_bool(0.5) {
                while let Some(Reverse(n)) = self.net.peek() {
                    if n.at > self.now || (n.from, n.to) != (m.from, m.to) {
                        break;
                    }
                    let Reverse(n) = self.net.pop().unwrap();
                    batch.push(n.bytes);
                }
            }
            if !self.nodes[m.to].up || !self.nodes[m.from].up || self.cut.contains(&(m.from, m.to)) {
                continue;
            }
            let mut out = Output::new();
            let now = self.clock(m.to);
            let from = self.nodes[m.from].id.clone();
            let node = &mut self.nodes[m.to];
            if batch.len() == 1 {
                node.rep.receive(&from, &batch[0], &mut node.store, &self.view, now, &mut out);
            } else {
                let msgs: Vec<_> = batch.iter().filter_map(|b| node.rep.decode(b)).collect();
                node.rep.handle_batch(&from, msgs, &mut node.store, &self.view, now, &mut out);
            }
            self.route(m.to, &mut out);
        }
    }

    fn tick_all(&mut self) {
        for i in 0..self.nodes.len() {
            if !self.nodes[i].up {
                continue;
            }
            let mut out = Output::new();
            let now = self.clock(i);
            let node = &mut self.nodes[i];
            node.rep.tick(&mut node.store, &self.view, now, &mut out);
            self.route(i, &mut out);
        }
    }

    fn client_write(&mut self) {
        let key = self.keys[self.rng.gen_range(0..self.keys.len())].clone();
        let slot = slot_of(&key.name);
        // The coordinator: the first live owner that may serve the slot.
        let Some(c) = self
            .view
            .owners(slot)
            .iter()
            .map(|o| self.index(o))
            .find(|&i| self.nodes[i].up && self.nodes[i].rep.is_ready(slot))
        else {
            return;
        };
        let op = match self.rng.gen_range(0..10) {
            0..=5 => MemOp::Set(Bytes::from(format!("v{}", self.rng.gen::<u32>()))),
            6..=8 => MemOp::Append(Bytes::from(format!("+{}", self.rng.gen::<u8>()))),
            _ => MemOp::Delete,
        };
        let now = self.clock(c);
        let mut out = Output::new();
        let node = &mut self.nodes[c];
        let effect = node.store.write_in(key.db, slot, &key.name, op, node.tag, now);
        let stamp = effect.version.stamp();
        match node.rep.write(&self.view, &node.store, slot, vec![effect], self.quorum, now, &mut out) {
            Ok(id) => {
                self.writes.insert((c, id), (key, stamp, self.now));
            }
            Err(Error::Busy { .. }) => {}
            Err(e) => panic!("write refused: {e}"),
        }
        self.route(c, &mut out);
    }

    fn set_up(&mut self, i: usize, up: bool) {
        self.nodes[i].up = up;
        let id = self.nodes[i].id.clone();
        self.view.set_live(&id, up);
    }

    fn chaos_step(&mut self) {
        let n = self.nodes.len();
        let r: f64 = self.rng.gen();
        if r < 0.25 {
            self.client_write();
        } else if r < 0.26 {
            let (a, b) = (self.rng.gen_range(0..n), self.rng.gen_range(0..n));
            if a != b {
                self.cut.insert((a, b));
                self.cut.insert((b, a));
            }
        } else if r < 0.28 {
            self.cut.clear();
        } else if r < 0.285 {
            let down = self.nodes.iter().filter(|n| !n.up).count();
            let i = self.rng.gen_range(0..n);
            if down == 0 {
                self.set_up(i, false);
            }
        } else if r < 0.30 {
            let i = self.rng.gen_range(0..n);
            self.set_up(i, true);
        } else if r < 0.303 && self.restarts_left > 0 {
            self.restarts_left -= 1;
            let i = self.rng.gen_range(0..n);
            self.restart_empty(i);
        }
    }

    /// The node loses everything: a fresh state machine and an empty replica.
    fn restart_empty(&mut self, i: usize) {
        self.writes.retain(|(c, _), _| *c != i);
        let node = &mut self.nodes[i];
        node.store = MemReplica::new();
        node.rep = Replicator::new(node.id.clone(), self.config.clone()).unwrap();
        node.rep.restarted_empty();
        node.restarted_at = Some(self.now);
        self.set_up(i, true);
    }

    fn converged(&self) -> bool {
        if self.nodes.iter().any(|n| n.rep.is_catching_up()) {
            return false;
        }
        self.keys.iter().all(|key| {
            let slot = slot_of(&key.name);
            let owners: Vec<&Node> = self.view.owners(slot).iter().map(|o| &self.nodes[self.index(o)]).collect();
            let first = owners[0].store.read(slot, key).map(|(v, s)| (v.stamp(), s));
            let digest = owners[0].store.slot_digest(slot);
            owners.iter().all(|o| {
                o.store.read(slot, key).map(|(v, s)| (v.stamp(), s)) == first && o.store.slot_digest(slot) == digest
            })
        })
    }

    fn run(&mut self) -> u64 {
        let chaos_ms = self.rng.gen_range(200..=1_000);
        let end = self.now + chaos_ms;
        while self.now < end {
            for _ in 0..self.rng.gen_range(0..3) {
                self.chaos_step();
            }
            self.deliver();
            self.tick_all();
            self.now += TICK_MS;
        }
        // Heal: every node up, every link whole, no more loss.
        self.cut.clear();
        for i in 0..self.nodes.len() {
            self.set_up(i, true);
        }
        self.drop_p = 0.0;
        self.dup_p = 0.0;
        let heal_start = self.now;
        let deadline = self.now + 60_000;
        let mut next_check = self.now;
        loop {
            self.deliver();
            self.tick_all();
            self.now += TICK_MS;
            if self.now >= next_check {
                next_check = self.now + 50;
                if self.converged() {
                    break;
                }
            }
            assert!(self.now < deadline, "owners did not converge within 60 s after healing");
        }
        let heal_ms = self.now - heal_start;
        // Let in-flight writes finish, then check nothing acknowledged was lost.
        for _ in 0..(self.config.cluster_timeout_ms / TICK_MS + 2) {
            self.deliver();
            self.tick_all();
            self.now += TICK_MS;
        }
        assert!(self.writes.is_empty(), "every write got its event: {} left", self.writes.len());
        assert!(self.converged(), "still converged after the last writes settled");
        for (key, &stamp) in &self.acked {
            let slot = slot_of(&key.name);
            for owner in self.view.owners(slot) {
                let held = self.nodes[self.index(owner)].store.read(slot, key).map(|(v, _)| v.stamp());
                assert!(held >= Some(stamp), "acked write of {key:?} lost on {owner}: {held:?} < {stamp:?}");
            }
        }
        for node in &self.nodes {
            let s = node.rep.stats();
            assert_eq!(
                (s.refused_malformed, s.refused_over_limit, s.refused_unknown_node),
                (0, 0, 0),
                "{} refused a message another node built",
                node.id
            );
        }
        heal_ms
    }
}

#[derive(Default)]
struct Totals {
    schedules: u64,
    acks: u64,
    fails: u64,
    heal_ms_max: u64,
    ae_rounds: u64,
    hints_delivered: u64,
    need_full: u64,
    sync_chunks: u64,
}

fn run_schedule(seed: u64, totals: &mut Totals) {
    let result = catch_unwind(AssertUnwindSafe(|| {
        let mut sim = Sim::new(seed);
        let heal_ms = sim.run();
        (sim, heal_ms)
    }));
    match result {
        Ok((sim, heal_ms)) => {
            totals.schedules += 1;
            totals.acks += sim.acks;
            totals.fails += sim.fails;
            totals.heal_ms_max = totals.heal_ms_max.max(heal_ms);
            for n in &sim.nodes {
                let s = n.rep.stats();
                totals.ae_rounds += s.ae_rounds;
                totals.hints_delivered += s.hints_delivered;
                totals.need_full += s.need_full;
                totals.sync_chunks += s.sync_chunks_received;
            }
        }
        Err(panic) => {
            let why = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!(
                "schedule failed: {why}\nreplay with SIM_SEED={seed} cargo test -p ringcache-replication --test sim"
            );
        }
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| v.parse().unwrap_or_else(|_| panic!("{name} must be a number")))
}

/// Runs `SIM_SCHEDULES` (default `count`) schedules with seeds from `base`,
/// or only `SIM_SEED` if set.
fn run_many(base: u64, count: u64) {
    let started = Instant::now();
    let mut totals = Totals::default();
    if let Some(seed) = env_u64("SIM_SEED") {
        run_schedule(seed, &mut totals);
    } else {
        let count = env_u64("SIM_SCHEDULES").unwrap_or(count);
        for seed in base..base + count {
            run_schedule(seed, &mut totals);
        }
    }
    println!(
        "{} schedules in {:.1?}: {} writes acked, {} failed, {} anti-entropy rounds, {} hints delivered, \
         {} refills, {} catch-up chunks; longest convergence after healing {} ms",
        totals.schedules,
        started.elapsed(),
        totals.acks,
        totals.fails,
        totals.ae_rounds,
        totals.hints_delivered,
        totals.need_full,
        totals.sync_chunks,
        totals.heal_ms_max
    );
}

// Two tests so that the two cores each run half of the schedules.
#[test]
fn random_schedules_converge_and_lose_no_acked_write_a() {
    run_many(0, 1_000);
}

#[test]
fn random_schedules_converge_and_lose_no_acked_write_b() {
    run_many(1_000_000, 1_000);
}

#[test]
fn the_same_seed_replays_the_same_run() {
    let run = |seed| {
        let mut sim = Sim::new(seed);
        sim.run();
        let stores: Vec<MemReplica> = sim.nodes.iter().map(|n| n.store.clone()).collect();
        let msgs: Vec<u64> = sim.nodes.iter().map(|n| n.rep.stats().messages_in).collect();
        (stores, msgs, sim.acks, sim.fails)
    };
    assert_eq!(run(42), run(42));
}
