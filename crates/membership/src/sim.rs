//! [`SimCluster`]: many [`Membership`]s over an in-memory network with a
//! simulated clock, for the seeded simulation tests and the figures.
//!
//! Everything random (message loss, latency, each node's own choices)
//! comes from one seed, and every collection is ordered, so a seed replays
//! the same run exactly. The network delivers each message after a latency
//! drawn from `[latency_min_ms, latency_max_ms]`, drops it with
//! probability `drop_rate`, and drops everything between nodes that a
//! partition puts on different sides. A crashed node neither sends nor
//! receives; messages in flight to it are lost.
//!
//! Invariants: time only moves forward, to the next delivery or the next
//! node deadline; every message goes through the real codec and the real
//! `handle`, exactly as in production.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use bytes::Bytes;
use rand_foca::rngs::SmallRng;
use rand_foca::{RngExt, SeedableRng};
use ringcache_ring::NodeId;

use crate::config::Config;
use crate::identity::Identity;
use crate::membership::{Membership, Output};
use crate::view::{Event, MemberState, NodeMeta, Phase, View};

/// One node of the simulation.
#[derive(Debug)]
pub struct SimNode {
    pub membership: Membership,
    pub up: bool,
    index: u32,
}

/// An event one node saw, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub at_ms: u64,
    pub observer: NodeId,
    pub event: Event,
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct InFlight {
    at_ms: u64,
    seq: u64,
    from: NodeId,
    to: NodeId,
    bytes: Bytes,
}

/// Totals over the whole run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetStats {
    pub sent: u64,
    pub delivered: u64,
    pub dropped: u64,
    pub bytes_sent: u64,
    /// Messages a node refused. Every sender here is honest, so a test
    /// expects none of the decode or sender kind.
    pub refused: u64,
}

/// A simulated cluster.
#[derive(Debug)]
pub struct SimCluster {
    seed: u64,
    config: Config,
    rng: SmallRng,
    now_ms: u64,
    nodes: BTreeMap<NodeId, SimNode>,
    queue: BinaryHeap<Reverse<InFlight>>,
    seq: u64,
    pub drop_rate: f64,
    pub latency_min_ms: u64,
    pub latency_max_ms: u64,
    /// Node → side; messages between different sides are dropped.
    sides: Option<BTreeMap<NodeId, u32>>,
    seen: Vec<Seen>,
    stats: NetStats,
    refusals: Vec<String>,
    out: Output,
}

impl SimCluster {
    pub fn new(seed: u64, config: Config) -> SimCluster {
        SimCluster {
            seed,
            config,
            rng: SmallRng::seed_from_u64(seed),
            now_ms: 0,
            nodes: BTreeMap::new(),
            queue: BinaryHeap::new(),
            seq: 0,
            drop_rate: 0.0,
            latency_min_ms: 1,
            latency_max_ms: 5,
            sides: None,
            seen: Vec::new(),
            stats: NetStats::default(),
            refusals: Vec::new(),
            out: Output::new(),
        }
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    pub fn stats(&self) -> NetStats {
        self.stats
    }

    /// The first few refusals, for a failing test's message.
    pub fn refusals(&self) -> &[String] {
        &self.refusals
    }

    /// Every event every node saw so far.
    pub fn seen(&self) -> &[Seen] {
        &self.seen
    }

    pub fn node(&self, id: &NodeId) -> &SimNode {
        &self.nodes[id]
    }

    pub fn ids(&self) -> Vec<NodeId> {
        self.nodes.keys().cloned().collect()
    }

    /// Nodes that run and have not left.
    pub fn running(&self) -> Vec<NodeId> {
        self.nodes.iter().filter(|(_, n)| n.up && !n.membership.has_left()).map(|(id, _)| id.clone()).collect()
    }

    /// The address node `index` listens on.
    pub fn addr_of(index: u32) -> SocketAddr {
        let [_, b, c, d] = index.to_be_bytes();
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, b, c, d)), 7000)
    }

    /// Adds and starts a node named `name` that joins through `seeds`
    /// (empty: a cluster of one).
    pub fn add(&mut self, name: &str, seeds: &[NodeId]) -> NodeId {
        let id = NodeId::new(name);
        let index = self.nodes.len() as u32 + 1;
        let identity = Identity {
            node_id: id.clone(),
            generation: 1,
            revision: 0,
            addr: SimCluster::addr_of(index),
            meta: NodeMeta { client_port: 6379, phase: Phase::Serving },
        };
        let m = self.new_membership(identity, index);
        self.nodes.insert(id.clone(), SimNode { membership: m, up: true, index });
        self.join(&id, seeds);
        id
    }

    fn new_membership(&self, identity: Identity, index: u32) -> Membership {
        let node_seed = self.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15)
            ^ u64::from(index).wrapping_mul(0xbf58_476d_1ce4_e5b9)
            ^ identity.generation.wrapping_mul(0x94d0_49bb_1331_11eb);
        Membership::new(identity, self.config.clone(), node_seed).expect("valid identity and config")
    }

    fn join(&mut self, id: &NodeId, seeds: &[NodeId]) {
        let seeds: Vec<(NodeId, SocketAddr)> =
            seeds.iter().filter(|s| *s != id).map(|s| (s.clone(), self.nodes[s].membership.identity().addr)).collect();
        let mut out = std::mem::take(&mut self.out);
        self.nodes.get_mut(id).expect("known node").membership.join(&seeds, self.now_ms, &mut out);
        self.absorb(id, &mut out);
        self.out = out;
    }

    /// Stops a node at once (`kill -9`): no goodbye.
    pub fn crash(&mut self, id: &NodeId) {
        self.nodes.get_mut(id).expect("known node").up = false;
    }

    /// Starts a crashed node again, empty: the next generation, joining
    /// through `seeds`.
    pub fn restart(&mut self, id: &NodeId, seeds: &[NodeId]) {
        let node = &self.nodes[id];
        let old = node.membership.identity().clone();
        // It starts serving at once: the simulation has no data to stream.
        let meta = NodeMeta { phase: Phase::Serving, ..old.meta };
        let identity = Identity { generation: old.generation + 1, revision: 0, meta, ..old };
        let m = self.new_membership(identity, node.index);
        let node = self.nodes.get_mut(id).expect("known node");
        node.membership = m;
        node.up = true;
        self.join(id, seeds);
    }

    /// Runs `f` on a node's state machine now, and sends what it produced.
    pub fn act<T>(&mut self, id: &NodeId, f: impl FnOnce(&mut Membership, u64, &mut Output) -> T) -> T {
        let mut out = std::mem::take(&mut self.out);
        let now = self.now_ms;
        let result = f(&mut self.nodes.get_mut(id).expect("known node").membership, now, &mut out);
        self.absorb(id, &mut out);
        self.out = out;
        result
    }

    /// Leaves gracefully.
    pub fn leave(&mut self, id: &NodeId) {
        self.act(id, |m, now, out| m.leave(now, out)).expect("not left yet");
    }

    /// Moves a running node to a new cluster address.
    pub fn move_to(&mut self, id: &NodeId, addr: SocketAddr) {
        self.act(id, |m, now, out| m.set_addr(addr, now, out)).expect("running");
    }

    /// Cuts the network into `sides`; nodes not named are on side 0.
    pub fn partition(&mut self, sides: &[&[NodeId]]) {
        let mut map = BTreeMap::new();
        for (i, side) in sides.iter().enumerate() {
            for id in side.iter() {
                map.insert(id.clone(), i as u32 + 1);
            }
        }
        self.sides = Some(map);
    }

    pub fn heal(&mut self) {
        self.sides = None;
    }

    fn side(&self, id: &NodeId) -> u32 {
        self.sides.as_ref().and_then(|s| s.get(id).copied()).unwrap_or(0)
    }

    /// Runs the cluster for `ms` of simulated time.
    pub fn run_for(&mut self, ms: u64) {
        let end = self.now_ms + ms;
        loop {
            let next_msg = self.queue.peek().map(|Reverse(m)| m.at_ms);
            let next_tick = self.nodes.values().filter(|n| n.up).filter_map(|n| n.membership.next_deadline_ms()).min();
            let Some(next) = [next_msg, next_tick].into_iter().flatten().min() else { break };
            if next > end {
                break;
            }
            self.now_ms = self.now_ms.max(next);
            if next_msg == Some(next) {
                let Some(Reverse(m)) = self.queue.pop() else { break };
                self.deliver(m);
            } else {
                self.tick_due();
            }
        }
        self.now_ms = end;
    }

    /// Runs until `done` holds (checked every `step_ms`) or `limit_ms`
    /// passed; returns the time it took, or `None`.
    pub fn run_until(&mut self, limit_ms: u64, step_ms: u64, mut done: impl FnMut(&SimCluster) -> bool) -> Option<u64> {
        let start = self.now_ms;
        while self.now_ms - start < limit_ms {
            if done(self) {
                return Some(self.now_ms - start);
            }
            self.run_for(step_ms);
        }
        done(self).then(|| self.now_ms - start)
    }

    fn tick_due(&mut self) {
        let due: Vec<NodeId> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.up && n.membership.next_deadline_ms().is_some_and(|d| d <= self.now_ms))
            .map(|(id, _)| id.clone())
            .collect();
        let mut out = std::mem::take(&mut self.out);
        for id in due {
            self.nodes.get_mut(&id).expect("known node").membership.tick(self.now_ms, &mut out);
            self.absorb(&id, &mut out);
        }
        self.out = out;
    }

    fn deliver(&mut self, m: InFlight) {
        let Some(node) = self.nodes.get_mut(&m.to) else { return };
        if !node.up {
            self.stats.dropped += 1;
            return;
        }
        self.stats.delivered += 1;
        let mut out = std::mem::take(&mut self.out);
        if let Err(why) = node.membership.handle(&m.from, &m.bytes, self.now_ms, &mut out) {
            self.stats.refused += 1;
            if self.refusals.len() < 16 {
                self.refusals.push(format!("{} from {}: {why}", m.to, m.from));
            }
        }
        self.absorb(&m.to.clone(), &mut out);
        self.out = out;
    }

    /// Records a node's events and puts its messages on the network.
    fn absorb(&mut self, from: &NodeId, out: &mut Output) {
        for event in out.events.drain(..) {
            self.seen.push(Seen { at_ms: self.now_ms, observer: from.clone(), event });
        }
        for send in out.sends.drain(..) {
            self.stats.sent += 1;
            self.stats.bytes_sent += send.bytes.len() as u64;
            let lost = self.rng.random_bool(self.drop_rate.clamp(0.0, 1.0)) || self.side(from) != self.side(&send.to);
            if lost {
                self.stats.dropped += 1;
                continue;
            }
            let latency = self.rng.random_range(self.latency_min_ms..=self.latency_max_ms.max(self.latency_min_ms));
            self.seq += 1;
            self.queue.push(Reverse(InFlight {
                at_ms: self.now_ms + latency,
                seq: self.seq,
                from: from.clone(),
                to: send.to,
                bytes: send.bytes,
            }));
        }
    }

    pub fn view(&self, id: &NodeId) -> &Arc<View> {
        self.nodes[id].membership.view()
    }

    /// Whether every running node holds the same view (same digest) in
    /// which every running node is alive and every other node is dead or
    /// left.
    pub fn converged(&self) -> bool {
        let running = self.running();
        let Some(first) = running.first() else { return true };
        let digest = self.view(first).digest();
        running.iter().all(|id| {
            let v = self.view(id);
            v.digest() == digest
                && self.nodes.keys().all(|other| {
                    let state = v.get(other).map(|m| m.state);
                    if running.contains(other) {
                        state == Some(MemberState::Alive)
                    } else {
                        // A crashed node nobody heard of is fine to miss.
                        matches!(state, None | Some(MemberState::Dead | MemberState::Left))
                    }
                })
        })
    }

    /// Every sign that a running node was declared dead: `Dead` events
    /// about it anywhere, and its own rejoins (a false death that was undone
    /// before some views noticed).
    pub fn false_deaths(&self) -> Vec<String> {
        let running = self.running();
        let mut out: Vec<String> = self
            .seen
            .iter()
            .filter_map(|s| match &s.event {
                Event::Dead(id) if running.contains(id) => {
                    Some(format!("{} saw {id} dead at {} ms", s.observer, s.at_ms))
                }
                _ => None,
            })
            .collect();
        for id in &running {
            let rejoins = self.nodes[id].membership.stats().rejoins;
            if rejoins > 0 {
                out.push(format!("{id} was declared dead and rejoined {rejoins} times"));
            }
        }
        out
    }

    /// Each running node's view, one line each, for a failing test.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        for id in self.running() {
            let v = self.view(&id);
            let members: Vec<String> = v
                .members()
                .iter()
                .map(|m| format!("{}:{:?}:g{}r{}:{:?}", m.node_id, m.state, m.generation, m.revision, m.meta.phase))
                .collect();
            s.push_str(&format!(
                "{id} (connected {}): {}\n",
                self.nodes[&id].membership.is_connected(),
                members.join(" ")
            ));
        }
        s
    }

    /// Whether every running node other than `dead` holds `dead` as dead.
    pub fn all_see(&self, node: &NodeId, state: MemberState) -> bool {
        self.running()
            .iter()
            .filter(|id| *id != node)
            .all(|id| self.view(id).get(node).is_some_and(|m| m.state == state))
    }
}
