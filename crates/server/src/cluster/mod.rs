//! The cluster: which node coordinates each key, and how a command reaches
//! it. A node with `peers` configured is a cluster member; without, it is
//! standalone and none of this runs.
//!
//! - [`route`]: the decision for one command, made before it runs: here,
//!   on one other node, split over several (multi-key commands), over
//!   every node (keyspace-wide commands in `proxy` mode), or an error
//!   (`-CROSSSLOT`, `-MOVED`).
//! - [`forward`]: runs what must run elsewhere, over the transport, and
//!   merges the answers into the client's replies, in order.
//! - [`remote`]: the other side: runs what other nodes forward here.
//! - [`blocking`]: blocking commands that wait on another node.
//!
//! Invariants:
//! - Membership is static for now (the configured `peers`), so every node
//!   computes the same ring and the same coordinator for each slot; a
//!   forwarded command is always run where it lands, never forwarded again.
//! - With `replicas` > 1 each slot lives on its N owners ([`replicate`]):
//!   a command for a slot goes to its first owner that is reachable and
//!   serving, and a write is answered once W owners hold it. With one
//!   owner per slot, a command for a slot whose owner is unreachable fails
//!   (`-CLUSTERDOWN`/`-TRYAGAIN`).
//!
//! The protocol between nodes and the failure behaviour: docs/cluster.md.

pub mod blocking;
pub mod forward;
pub mod remote;
pub mod replicate;
pub mod route;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use ringcache_ring::{Member, NodeIdx, Ring, RingConfig, RingHandle, SLOTS};
use ringcache_transport::{NodeId, Transport};

use ringcache_resp::Reply;

use crate::config::{ClusterMode, Config};
use crate::shared::Shared;

pub use route::Route;

/// One member of the cluster, as this node knows it.
#[derive(Debug)]
pub struct Node {
    pub id: NodeId,
    /// Where clients reach it (for `-MOVED` and CLUSTER SLOTS).
    pub host: String,
    pub port: u16,
    pub cluster_port: u16,
    /// Whether its last request (or probe) got an answer.
    pub reachable: AtomicBool,
    /// When it last answered anything (Unix ms; 0 = never): CLUSTER
    /// NODES's `pong-recv`.
    pub pong_at_ms: AtomicU64,
    /// Whether its last pong said it is catching up after an empty
    /// restart (it then serves none of its slots).
    pub catching_up: AtomicBool,
}

/// Probes between nodes, counted for CLUSTER INFO's
/// `cluster_stats_messages_*` fields (Redis's `ping` and `pong`).
/// Forwarded commands are not among Redis's message types and are not
/// counted there.
#[derive(Debug, Default)]
pub struct BusStats {
    pub ping_sent: AtomicU64,
    pub ping_received: AtomicU64,
    pub pong_sent: AtomicU64,
    pub pong_received: AtomicU64,
}

/// What a cluster member knows of the cluster.
pub struct Cluster {
    /// This node.
    pub me: NodeIdx,
    pub ring: RingHandle,
    /// Every member, indexed by `NodeIdx` (ring order: by id).
    pub nodes: Box<[Node]>,
    pub transport: Arc<dyn Transport>,
    pub mode: ClusterMode,
    /// `cluster-strict` (changes with CONFIG SET).
    pub strict: AtomicBool,
    /// Sessions that other nodes' clients hold here (WATCH, MULTI).
    pub(crate) sessions: remote::Sessions,
    pub stats: BusStats,
    /// Replication of each slot to its owners; `None` with one owner per
    /// slot (`replicas 1`, or a cluster of one).
    pub replication: Option<replicate::Replication>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").field("me", &self.me).field("nodes", &self.nodes).field("mode", &self.mode).finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("invalid cluster membership: {0}")]
    Ring(#[from] ringcache_ring::RingError),
    #[error("node-id '{0}' is not one of the peers and the node's own address is unknown")]
    UnknownSelf(String),
}

impl Cluster {
    /// The cluster of `config.peers` plus this node, talking through
    /// `transport`. This node is added to the members if the list does not
    /// name it.
    pub fn new(config: &Config, transport: Arc<dyn Transport>, client_port: u16) -> Result<Cluster, ClusterError> {
        let mut members: Vec<(String, String, u16, u16)> =
            config.peers.iter().map(|p| (p.id.clone(), p.host.clone(), p.port, p.cluster_port())).collect();
        if !members.iter().any(|m| m.0 == config.node_id) {
            members.push((
                config.node_id.clone(),
                config.bind.clone(),
                client_port,
                config.own_cluster_port(client_port),
            ));
        }
        // Preference lists hold the owners, then the fallbacks that keep
        // hints for a down owner.
        let ring_config = RingConfig { vnodes_per_node: config.vnodes, replicas: replicate::ring_replicas(config) };
        let ring = Ring::new(members.iter().map(|m| Member::new(m.0.as_str())), ring_config)?;
        let nodes: Box<[Node]> = ring
            .nodes()
            .map(|(_, id)| {
                let m = members.iter().find(|m| m.0 == id.as_str()).expect("every ring member was configured");
                Node {
                    id: id.clone(),
                    host: m.1.clone(),
                    port: m.2,
                    cluster_port: m.3,
                    reachable: AtomicBool::new(true),
                    pong_at_ms: AtomicU64::new(0),
                    catching_up: AtomicBool::new(false),
                }
            })
            .collect();
        let me = ring.node_idx(&config.node_id).ok_or_else(|| ClusterError::UnknownSelf(config.node_id.clone()))?;
        let replication = replicate::Replication::new(ring.node_id(me).clone(), &ring, config);
        Ok(Cluster {
            me,
            ring: RingHandle::new(ring),
            nodes,
            transport,
            mode: config.cluster_mode,
            strict: AtomicBool::new(config.cluster_strict),
            sessions: remote::Sessions::default(),
            stats: BusStats::default(),
            replication,
        })
    }

    pub fn node(&self, idx: NodeIdx) -> &Node {
        &self.nodes[idx.index()]
    }

    /// The node that coordinates `slot`: its first owner that is reachable
    /// and serving (not catching up after an empty restart), or its first
    /// owner if none is (whose failure the client then sees).
    pub fn coordinator(&self, slot: u16) -> NodeIdx {
        let ring = self.ring.load();
        let owners = ring.owners(slot);
        let first = *owners.first().expect("a cluster has at least this node");
        let Some(replication) = &self.replication else { return first };
        owners[..replication.owners()]
            .iter()
            .copied()
            .find(|&n| if n == self.me { replication.serves(slot) } else { self.serving(n) })
            .unwrap_or(first)
    }

    /// For a keyspace-wide read (DBSIZE, KEYS, SCAN, RANDOMKEY) over
    /// replicated data: the slots this node coordinates, which is what it
    /// answers for (in `proxy` mode each node's part of the fan-out; in
    /// `redis-cluster` mode the slots it is the primary of), so every key
    /// is counted once over the nodes. `None` otherwise.
    pub fn scope_for(&self, spec: Option<&crate::cmd::CommandSpec>) -> Option<Arc<[bool]>> {
        let spec = spec?;
        if spec.keys != crate::cmd::Keys::All || spec.has(crate::cmd::flag::WRITE) {
            return None;
        }
        self.replication.as_ref()?;
        Some((0..SLOTS as u16).map(|s| self.coordinator(s) == self.me).collect())
    }

    /// The slot's owners (N of them), in preference order.
    pub fn owners(&self, slot: u16) -> Vec<NodeIdx> {
        let ring = self.ring.load();
        let n = self.replication.as_ref().map_or(1, |r| r.owners());
        ring.owners(slot)[..n].to_vec()
    }

    /// Whether `node` is one of `slot`'s owners; [`owners`](Self::owners)
    /// without building the list (INFO asks it of every slot).
    pub fn owns(&self, slot: u16, node: NodeIdx) -> bool {
        let ring = self.ring.load();
        let n = self.replication.as_ref().map_or(1, |r| r.owners());
        ring.owners(slot)[..n].contains(&node)
    }

    /// Whether another node answers and serves its slots (it said it is
    /// not catching up).
    fn serving(&self, idx: NodeIdx) -> bool {
        let node = self.node(idx);
        node.reachable.load(Relaxed) && !node.catching_up.load(Relaxed)
    }

    /// Whether every slot's coordinator is reachable (CLUSTER INFO's
    /// `cluster_state:ok`).
    pub fn state_ok(&self) -> bool {
        (0..SLOTS as u16).all(|s| self.slot_ok(s))
    }

    /// Whether `slot` is served: its coordinator is reachable and, with
    /// replication, at least W of its owners are (so writes can succeed).
    pub fn slot_ok(&self, slot: u16) -> bool {
        let Some(replication) = &self.replication else { return self.reachable(self.coordinator(slot)) };
        let ring = self.ring.load();
        let owners = &ring.owners(slot)[..replication.owners()];
        // Settled: the first reachable owner serves (none is still
        // catching up), and W owners are reachable.
        let first = owners.iter().copied().find(|&n| self.reachable(n));
        let serving = first.is_some_and(|n| if n == self.me { replication.serves(slot) } else { self.serving(n) });
        serving && owners.iter().filter(|&&n| self.reachable(n)).count() >= replication.write_quorum()
    }

    pub fn reachable(&self, idx: NodeIdx) -> bool {
        idx == self.me || self.node(idx).reachable.load(Relaxed)
    }

    /// Records whether `idx` just answered (a probe or forwarded
    /// commands).
    pub(crate) fn set_reachable(&self, idx: NodeIdx, up: bool) {
        if up {
            self.node(idx).pong_at_ms.store(ringcache_store::now_ms(), Relaxed);
        }
        let was = self.node(idx).reachable.swap(up, Relaxed);
        if was != up {
            let id = &self.node(idx).id;
            if up {
                tracing::info!(node = %id, "node is reachable again");
            } else {
                tracing::warn!(node = %id, "node is unreachable");
            }
        }
    }

    /// The `NodeIdx` of the `i`-th member (ring order).
    pub fn idx(&self, i: usize) -> NodeIdx {
        self.ring.load().nodes().nth(i).expect("a member").0
    }

    /// Whether keys this node does not coordinate get `-MOVED`.
    pub fn strict(&self) -> bool {
        self.mode == ClusterMode::RedisCluster && self.strict.load(Relaxed)
    }

    /// Redis Cluster's redirect to `node`, the coordinator of `slot`.
    pub fn moved(&self, slot: u16, node: NodeIdx) -> Reply {
        let n = self.node(node);
        Reply::error(format!("MOVED {slot} {}:{}", n.host, n.port))
    }

    /// Tells `node` to forget the session it holds for client `id` (its
    /// WATCHes). Best effort: a lost message is repaired by the session's
    /// idle expiry.
    pub fn release_session(&self, node: NodeIdx, id: u64) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let transport = self.transport.clone();
        let to = self.node(node).id.clone();
        runtime.spawn(async move {
            let _ = transport.send(&to, forward::release(id)).await;
        });
    }
}

/// Probes every other node once per `period` until shutdown, so CLUSTER
/// INFO tells whether the cluster is whole even when no command goes to a
/// node; also expires abandoned sessions.
pub async fn monitor(shared: Arc<Shared>, period: Duration) {
    let Some(cluster) = shared.cluster.clone() else { return };
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shared.shutdown.cancelled() => return,
        }
        let probes = (0..cluster.nodes.len()).filter(|&i| i != cluster.me.index()).map(|i| {
            let cluster = &cluster;
            async move {
                cluster.stats.ping_sent.fetch_add(1, Relaxed);
                let pong = cluster.transport.request(&cluster.nodes[i].id, forward::ping()).await;
                if let Ok(pong) = &pong {
                    cluster.stats.pong_received.fetch_add(1, Relaxed);
                    cluster.nodes[i].catching_up.store(forward::pong_catching_up(pong), Relaxed);
                }
                cluster.set_reachable(cluster.idx(i), pong.is_ok());
            }
        });
        futures_util::future::join_all(probes).await;
        remote::expire_sessions(&shared, remote::SESSION_IDLE_MAX);
    }
}
