//! The cluster: who the members are, which node coordinates each key, and
//! how a command reaches it. A node with `peers`, `seeds` or
//! `cluster-enabled` is a cluster member; without, it is standalone and
//! none of this runs.
//!
//! - [`gossip`]: the membership state machine (`ringcache-membership`,
//!   SWIM over foca) driven with the real clock, its messages on the
//!   authenticated transport; every change of its view becomes a new
//!   [`ClusterView`].
//! - [`route`]: the decision for one command, made before it runs: here,
//!   on one other node, split over several (multi-key commands), over
//!   every node (keyspace-wide commands in `proxy` mode), or an error
//!   (`-CROSSSLOT`, `-MOVED`, `-CLUSTERDOWN`).
//! - [`forward`]: runs what must run elsewhere, over the transport, and
//!   merges the answers into the client's replies, in order.
//! - [`remote`]: the other side: runs what other nodes forward here.
//! - [`replicate`]: each slot's writes to its owners.
//! - [`blocking`]: blocking commands that wait on another node.
//!
//! Invariants:
//! - The members, the ring and the replication placement are one
//!   [`ClusterView`]: numbered (the membership view's epoch), immutable,
//!   published by one atomic swap on every membership change. A command is
//!   routed against one view loaded once; what routing hands on names
//!   nodes by [`NodeId`], never by [`NodeIdx`]: an index is only used with
//!   the view that made it.
//! - The ring holds the members that are alive or suspect (joining,
//!   serving); a dead or left member leaves it at once, so its slots go to
//!   the next owners (docs/membership.md says why at once).
//! - A slot's coordinator is its first owner that is reachable and
//!   serving; a joining member (it started empty and is catching up) or a
//!   node that has not yet joined any member coordinates nothing.
//! - A forwarded command is run where it lands, never forwarded again; if
//!   that node no longer owns its slot it answers `-TRYAGAIN`.
//!
//! The protocol between nodes and the failure behaviour: docs/cluster.md,
//! docs/membership.md.

pub mod blocking;
pub mod forward;
pub mod gossip;
pub mod leave;
pub mod remote;
pub mod replicate;
pub mod route;
pub mod unowned;

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::{ArcSwap, Guard};
use dashmap::DashMap;
use ringcache_membership::{MemberState, Phase};
use ringcache_replication::Placement;
use ringcache_ring::{Member, NodeIdx, Ring, RingConfig, SLOTS};
use ringcache_transport::{NodeId, TcpTransport, Transport};

use ringcache_resp::Reply;

use crate::config::{ClusterMode, Config};
use crate::shared::Shared;

pub use route::Route;

/// What traffic tells about one member, kept across views (a new view
/// must not forget that a node stopped answering).
#[derive(Debug)]
pub struct Health {
    /// Whether its last request or message got through.
    pub reachable: AtomicBool,
    /// When it last answered or sent anything (Unix ms; 0 = never):
    /// CLUSTER NODES's `pong-recv`.
    pub pong_at_ms: AtomicU64,
}

impl Default for Health {
    fn default() -> Health {
        Health { reachable: AtomicBool::new(true), pong_at_ms: AtomicU64::new(0) }
    }
}

/// One member of a view.
#[derive(Debug, Clone)]
pub struct Node {
    pub id: NodeId,
    /// Where clients reach it (for `-MOVED` and CLUSTER SLOTS): the IP it
    /// advertises, and its client port.
    pub host: String,
    pub port: u16,
    pub cluster_port: u16,
    pub state: MemberState,
    pub phase: Phase,
    /// Grows on every restart.
    pub generation: u64,
    pub health: Arc<Health>,
}

impl Node {
    /// Alive or suspect, and its last request got through.
    pub fn is_up(&self) -> bool {
        self.state.is_live() && self.health.reachable.load(Relaxed)
    }
}

/// A numbered, immutable snapshot of the cluster: the members, the ring of
/// the live ones, and the replication placement derived from it.
#[derive(Debug)]
pub struct ClusterView {
    /// The membership view's epoch: one more per change seen here.
    pub epoch: u64,
    /// The membership view's digest: equal on nodes that agree.
    pub digest: u64,
    /// The epoch of the view whose members built `ring`: views that only
    /// changed a member's liveness or phase keep the ring, the placement
    /// and this epoch (replication's per-view caches key on it).
    pub ring_epoch: u64,
    /// This node, on `ring`.
    pub me: NodeIdx,
    pub ring: Arc<Ring>,
    /// The ring's members, indexed by `NodeIdx` (ring order: by id).
    pub nodes: Box<[Node]>,
    /// Known members that are not on the ring (dead, left), by id.
    pub gone: Box<[Node]>,
    /// Owners of each slot in this view (N, clamped to the members that
    /// may own slots: not those still joining).
    pub owners: usize,
    /// While members are joining (with replication): each slot's owners,
    /// `owners` per slot, skipping the joining members, who are incoming
    /// for the slots they will own (see [`Placement::with_changes`]).
    /// `None`: the first `owners` of each ring preference list.
    owner_table: Option<Arc<[NodeIdx]>>,
    /// The joining and leaving members the ring and placement were built
    /// for.
    ring_joining: Box<[NodeId]>,
    ring_leaving: Box<[NodeId]>,
    /// Each slot's owners and fallbacks, as replication sees them; `None`
    /// without replication.
    pub placement: Option<Arc<Placement>>,
}

impl ClusterView {
    pub fn node(&self, idx: NodeIdx) -> &Node {
        &self.nodes[idx.index()]
    }

    pub fn me(&self) -> &Node {
        self.node(self.me)
    }

    pub fn idx_of(&self, id: &NodeId) -> Option<NodeIdx> {
        self.ring.node_idx(id.as_str())
    }

    /// A member on the ring or not, by id.
    pub fn find(&self, id: &str) -> Option<&Node> {
        match self.ring.node_idx(id) {
            Some(idx) => Some(self.node(idx)),
            None => self.gone.iter().find(|n| n.id.as_str() == id),
        }
    }

    /// The slot's owners (N of them), in preference order.
    pub fn owners_of(&self, slot: u16) -> &[NodeIdx] {
        match &self.owner_table {
            Some(table) => &table[usize::from(slot) * self.owners..][..self.owners],
            None => &self.ring.owners(slot)[..self.owners],
        }
    }
}

/// Probes between nodes, counted for CLUSTER INFO's
/// `cluster_stats_messages_*` fields: gossip messages are Redis's `ping`.
/// Forwarded commands are not among Redis's message types and are not
/// counted there.
#[derive(Debug, Default)]
pub struct BusStats {
    pub ping_sent: AtomicU64,
    pub ping_received: AtomicU64,
    /// Forwarded commands run by another owner because the node they were
    /// sent to failed (INFO cluster's `cluster_forwards_rerouted`).
    pub rerouted: AtomicU64,
}

/// What a cluster member knows of the cluster.
pub struct Cluster {
    /// This node's id.
    pub me: NodeId,
    view: ArcSwap<ClusterView>,
    ring_config: RingConfig,
    /// `replicas` as configured (each view clamps it to its members).
    replicas: usize,
    health: DashMap<NodeId, Arc<Health>>,
    pub transport: Arc<dyn Transport>,
    /// The same transport when it is TCP: its address book, and
    /// `identify` for seeds given by address.
    pub(crate) tcp: Option<Arc<TcpTransport>>,
    /// Members named in `peers`: always reached at the configured address.
    pub(crate) pinned: HashSet<NodeId>,
    pub mode: ClusterMode,
    /// `cluster-strict` (changes with CONFIG SET).
    pub strict: AtomicBool,
    /// Sessions that other nodes' clients hold here (WATCH, MULTI).
    pub(crate) sessions: remote::Sessions,
    pub stats: BusStats,
    /// Replication of each slot to its owners; `None` with `replicas 1`.
    pub replication: Option<replicate::Replication>,
    pub gossip: gossip::Gossip,
    /// Whether this node has been in touch with a member since it started
    /// (always, with no seeds): until then it routes no keyed command.
    joined: AtomicBool,
    /// Held while a view is built and stored, so views are stored in
    /// epoch order.
    publishing: parking_lot::Mutex<()>,
    /// Woken (all waiters) whenever a new view is published.
    pub view_changed: tokio::sync::Notify,
    /// Leaving on purpose (CLUSTER LEAVE, `leave-on-shutdown`).
    pub leave: leave::Leave,
    /// Copies of slots this node no longer owns, dropped.
    pub unowned: unowned::UnownedStats,
    /// Where the tasks that talk to peers run (replication's and the
    /// pub/sub bus's senders, like the transport's own): the first
    /// worker's runtime, set by the server; else the caller's.
    pub(crate) peers_runtime: std::sync::OnceLock<tokio::runtime::Handle>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").field("me", &self.me).field("epoch", &self.view().epoch).finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("invalid cluster membership: {0}")]
    Ring(#[from] ringcache_ring::RingError),
    #[error("membership: {0}")]
    Membership(#[from] ringcache_membership::Error),
    #[error("can't advertise '{0}' to other nodes: set bind or cluster-announce-ip to an IP address")]
    Announce(String),
}

/// The reply to a keyed command while no member has been reached.
pub const CLUSTERDOWN: &str = "CLUSTERDOWN The cluster is down";

impl Cluster {
    /// This node as a cluster of one, joining (its seeds are announced to
    /// when [`gossip::run`] starts), talking through `transport` (`tcp`:
    /// the same one, when it is TCP).
    pub fn new(
        config: &Config,
        transport: Arc<dyn Transport>,
        tcp: Option<Arc<TcpTransport>>,
        client_port: u16,
    ) -> Result<Cluster, ClusterError> {
        let me = NodeId::from(config.node_id.as_str());
        let announce = if config.cluster_announce_ip.is_empty() { &config.bind } else { &config.cluster_announce_ip };
        let ip: IpAddr = announce.parse().map_err(|_| ClusterError::Announce(announce.clone()))?;
        let addr = SocketAddr::new(ip, config.own_cluster_port(client_port));
        let gossip = gossip::Gossip::new(config, me.clone(), addr, client_port)?;
        // Preference lists hold the owners, then the fallbacks that keep
        // hints for a down owner.
        let ring_config = RingConfig { vnodes_per_node: config.vnodes, replicas: replicate::ring_replicas(config) };
        ring_config.validate()?;
        let pinned = config.peers.iter().map(|p| NodeId::from(p.id.as_str())).filter(|id| *id != me).collect();
        let no_seeds = config.seeds.is_empty() && config.peers.iter().all(|p| p.id == config.node_id);
        let cluster = Cluster {
            me: me.clone(),
            view: ArcSwap::from_pointee(placeholder_view(&me, &ring_config)?),
            ring_config,
            replicas: config.replicas.max(1),
            health: DashMap::new(),
            transport,
            tcp,
            pinned,
            mode: config.cluster_mode,
            strict: AtomicBool::new(config.cluster_strict),
            sessions: remote::Sessions::default(),
            stats: BusStats::default(),
            replication: replicate::Replication::new(me, config),
            gossip,
            joined: AtomicBool::new(no_seeds),
            publishing: parking_lot::Mutex::new(()),
            view_changed: tokio::sync::Notify::new(),
            leave: leave::Leave::default(),
            unowned: unowned::UnownedStats::default(),
            peers_runtime: std::sync::OnceLock::new(),
        };
        let first = cluster.gossip.view();
        cluster.publish(&first);
        Ok(cluster)
    }

    /// Starts a task that talks to peers, on [`Cluster::peers_runtime`].
    pub(crate) fn spawn_peer_task<F>(&self, task: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match self.peers_runtime.get() {
            Some(runtime) => runtime.spawn(task),
            None => tokio::spawn(task),
        }
    }

    /// The current view. Load it once per command and keep using that one.
    pub fn view(&self) -> Guard<Arc<ClusterView>> {
        self.view.load()
    }

    /// The current view, to keep beyond one command.
    pub fn view_full(&self) -> Arc<ClusterView> {
        self.view.load_full()
    }

    /// Whether this node has reached a member since it started.
    pub fn joined(&self) -> bool {
        self.joined.load(Relaxed)
    }

    pub(crate) fn set_joined(&self) {
        if !self.joined.swap(true, Relaxed) {
            tracing::info!("joined the cluster");
        }
    }

    fn health(&self, id: &NodeId) -> Arc<Health> {
        self.health.entry(id.clone()).or_default().clone()
    }

    /// Builds and publishes the view of membership view `mv`. Returns the
    /// new view, or `None` if the ring could not be built (the old view
    /// stays).
    pub(crate) fn publish(&self, mv: &ringcache_membership::View) -> Option<Arc<ClusterView>> {
        let _publishing = self.publishing.lock();
        if self.view.load().epoch > mv.epoch() {
            // A newer one is out already.
            return None;
        }
        let mut on_ring = Vec::new();
        let mut gone = Vec::new();
        for m in mv.members() {
            let node = Node {
                id: m.node_id.clone(),
                host: m.addr.ip().to_string(),
                port: m.meta.client_port,
                cluster_port: m.addr.port(),
                state: m.state,
                phase: m.meta.phase,
                generation: m.generation,
                health: self.health(&m.node_id),
            };
            if m.state.is_live() && m.meta.phase != Phase::Left {
                on_ring.push(node);
            } else {
                gone.push(node);
            }
        }
        // Members sort by id, as the ring numbers its nodes.
        on_ring.sort_by(|a, b| a.id.cmp(&b.id));
        // With replication, a joining member owns nothing until the data of
        // the slots it will own has been streamed to it: the owners are
        // those of the ring without it (docs/membership.md, "Join"). When
        // every member is joining (a cluster's first start) nobody has data
        // to hand over and they all own at once.
        let mut joining: Vec<NodeId> =
            on_ring.iter().filter(|n| n.phase == Phase::Joining).map(|n| n.id.clone()).collect();
        let mut leaving: Vec<NodeId> =
            on_ring.iter().filter(|n| n.phase == Phase::Leaving).map(|n| n.id.clone()).collect();
        let eligible = on_ring.len() - joining.len();
        let base = self.ring_config.replicas;
        if self.replication.is_none()
            || eligible == 0
            || eligible == leaving.len()
            || base + joining.len() + leaving.len() > ringcache_ring::REPLICAS_MAX
        {
            joining.clear();
            leaving.clear();
        }
        let old = self.view.load_full();
        let same_members = old.ring.len() == on_ring.len()
            && old.ring.nodes().zip(&on_ring).all(|((_, id), n)| *id == n.id)
            && *old.ring_joining == joining[..]
            && *old.ring_leaving == leaving[..];
        // The ring, its placement and their epoch are kept while the
        // members on the ring (and which of them are joining or leaving)
        // stay the same: a suspicion that is refuted costs no rebuild and
        // no replication cache reset.
        let (ring, placement, ring_epoch, owner_table, owners) = if same_members
            && old.placement.is_some() == self.replication.is_some()
        {
            (old.ring.clone(), old.placement.clone(), old.ring_epoch, old.owner_table.clone(), old.owners)
        } else {
            let config = RingConfig { replicas: base + joining.len() + leaving.len(), ..self.ring_config };
            let ring = match Ring::new(on_ring.iter().map(|n| Member::new(n.id.clone())), config) {
                Ok(ring) => Arc::new(ring),
                Err(e) => {
                    tracing::error!("membership view {} not published: {e}", mv.epoch());
                    return None;
                }
            };
            // Owners now: not the joining members (leavers still own);
            // owners later: not the leaving ones.
            let owners = self.replicas.min(eligible);
            let future_owners = self.replicas.min(on_ring.len() - leaving.len());
            let fallbacks = base - self.replicas.min(base);
            let handoff = self.replication.as_ref().and_then(|_| {
                let (is_joining, is_leaving) = (|id: &NodeId| joining.contains(id), |id: &NodeId| leaving.contains(id));
                Placement::with_changes(&ring, owners, fallbacks, future_owners, is_joining, is_leaving)
            });
            if handoff.is_none() {
                joining.clear();
                leaving.clear();
            }
            let owners = if joining.is_empty() { self.replicas.min(on_ring.len()) } else { owners };
            let placement = self
                .replication
                .as_ref()
                .map(|_| Arc::new(handoff.unwrap_or_else(|| Placement::from_ring(&ring, owners))));
            let owner_table = (!joining.is_empty()).then(|| {
                let mut table = Vec::with_capacity(ringcache_ring::SLOTS * owners);
                for slot in 0..ringcache_ring::SLOTS as u16 {
                    let list = ring.owners(slot).iter().copied();
                    table.extend(list.filter(|&i| !joining.contains(ring.node_id(i))).take(owners));
                }
                Arc::<[NodeIdx]>::from(table)
            });
            (ring, placement, mv.epoch(), owner_table, owners)
        };
        debug_assert!(ring.nodes().zip(&on_ring).all(|((_, id), n)| *id == n.id));
        let me = ring.node_idx(self.me.as_str())?;
        let view = Arc::new(ClusterView {
            epoch: mv.epoch(),
            digest: mv.digest(),
            ring_epoch,
            me,
            ring,
            nodes: on_ring.into(),
            gone: gone.into(),
            owners,
            owner_table,
            ring_joining: joining.into(),
            ring_leaving: leaving.into(),
            placement,
        });
        self.view.store(view.clone());
        if let Some(r) = &self.replication {
            r.ensure_outboxes(self, &view);
        }
        self.view_changed.notify_waiters();
        Some(view)
    }

    /// The node that coordinates `slot` in `view`: its first owner that is
    /// reachable and serving (not catching up), or its first owner if none
    /// is (whose failure the client then sees).
    pub fn coordinator(&self, view: &ClusterView, slot: u16) -> NodeIdx {
        let owners = view.owners_of(slot);
        let first = owners[0];
        let Some(replication) = &self.replication else { return first };
        owners
            .iter()
            .copied()
            .find(|&n| {
                if n == view.me {
                    !self.leave.is_leaving() && replication.serves(slot)
                } else {
                    serving(view.node(n))
                }
            })
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
        let view = self.view();
        Some((0..SLOTS as u16).map(|s| self.coordinator(&view, s) == view.me).collect())
    }

    /// Whether this node is an owner of `slot` that serves it (caught up,
    /// not leaving): it may answer a read of the slot's keys.
    pub fn serves_here(&self, view: &ClusterView, slot: u16) -> bool {
        let Some(replication) = &self.replication else { return false };
        view.owners_of(slot).contains(&view.me) && !self.leave.is_leaving() && replication.serves(slot)
    }

    /// Whether `idx` answers: this node, or a live member whose last
    /// request got through.
    pub fn reachable(&self, view: &ClusterView, idx: NodeIdx) -> bool {
        idx == view.me || view.node(idx).is_up()
    }

    /// Whether every slot is served (CLUSTER INFO's `cluster_state:ok`).
    pub fn state_ok(&self, view: &ClusterView) -> bool {
        self.joined() && (0..SLOTS as u16).all(|s| self.slot_ok(view, s))
    }

    /// Whether `slot` is served: its coordinator is reachable and, with
    /// replication, at least W of its owners are (so writes can succeed).
    pub fn slot_ok(&self, view: &ClusterView, slot: u16) -> bool {
        let Some(replication) = &self.replication else { return self.reachable(view, self.coordinator(view, slot)) };
        let owners = view.owners_of(slot);
        // Settled: the first reachable owner serves (none is still
        // catching up), and W owners are reachable.
        let first = owners.iter().copied().find(|&n| self.reachable(view, n));
        let serves = first.is_some_and(|n| if n == view.me { replication.serves(slot) } else { serving(view.node(n)) });
        serves && owners.iter().filter(|&&n| self.reachable(view, n)).count() >= replication.write_quorum(view)
    }

    /// Records whether `id` just answered (or sent us anything).
    pub(crate) fn set_reachable(&self, id: &NodeId, up: bool) {
        let health = self.health(id);
        if up {
            health.pong_at_ms.store(ringcache_store::now_ms(), Relaxed);
        }
        let was = health.reachable.swap(up, Relaxed);
        if was != up {
            if up {
                tracing::info!(node = %id, "node is reachable again");
            } else {
                tracing::warn!(node = %id, "node is unreachable");
            }
        }
    }

    /// Whether keys this node does not coordinate get `-MOVED`.
    pub fn strict(&self) -> bool {
        self.mode == ClusterMode::RedisCluster && self.strict.load(Relaxed)
    }

    /// Redis Cluster's redirect to `node`, the coordinator of `slot`.
    pub fn moved(&self, view: &ClusterView, slot: u16, node: NodeIdx) -> Reply {
        let n = view.node(node);
        Reply::error(format!("MOVED {slot} {}:{}", n.host, n.port))
    }

    /// Tells `node` to forget the session it holds for client `id` (its
    /// WATCHes). Best effort: a lost message is repaired by the session's
    /// idle expiry.
    pub fn release_session(&self, node: NodeId, id: u64) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let transport = self.transport.clone();
        runtime.spawn(async move {
            let _ = transport.send(&node, forward::release(id)).await;
        });
    }
}

/// Whether another member serves its slots: reachable, and caught up.
fn serving(node: &Node) -> bool {
    node.is_up() && node.phase == Phase::Serving
}

/// The view before the first membership view is published: this node
/// alone.
fn placeholder_view(me: &NodeId, ring_config: &RingConfig) -> Result<ClusterView, ClusterError> {
    let ring = Ring::new([Member::new(me.clone())], *ring_config)?;
    let node = Node {
        id: me.clone(),
        host: String::new(),
        port: 0,
        cluster_port: 0,
        state: MemberState::Alive,
        phase: Phase::Joining,
        generation: 0,
        health: Arc::default(),
    };
    let me_idx = ring.node_idx(me.as_str()).expect("the only member");
    Ok(ClusterView {
        epoch: 0,
        digest: 0,
        ring_epoch: 0,
        me: me_idx,
        ring: Arc::new(ring),
        nodes: vec![node].into(),
        gone: Box::new([]),
        owners: 1,
        owner_table: None,
        ring_joining: Box::new([]),
        ring_leaving: Box::new([]),
        placement: None,
    })
}

/// Expires abandoned sessions once per `period` until shutdown.
pub async fn monitor(shared: Arc<Shared>, period: Duration) {
    if shared.cluster.is_none() {
        return;
    }
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shared.shutdown.cancelled() => return,
        }
        remote::expire_sessions(&shared, remote::SESSION_IDLE_MAX);
    }
}
