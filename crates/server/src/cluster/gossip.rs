//! Membership on a node: the server's side of `ringcache-membership`, whose
//! [`Membership`] decides everything (who is alive, suspect, dead; when to
//! probe and gossip); this module only feeds it and carries out what it
//! says.
//!
//! - One task ([`run`]) owns the clock: it hands the state machine every
//!   message that arrived, ticks it when its next timer is due, moves this
//!   node from joining to serving once replication caught up, and after
//!   every step sends what it produced and publishes a new
//!   [`ClusterView`](super::ClusterView) if the membership view changed.
//! - Messages travel as one-way transport frames of kind [`KIND_GOSSIP`]
//!   on the authenticated cluster transport: only a node that proved the
//!   cluster secret ever reaches the state machine, and the state machine
//!   checks that a message names the node the transport authenticated.
//! - Seeds given by address (`seeds`, CLUSTER MEET) are identified first
//!   (the transport's handshake proves who is there), then announced to.
//!
//! Invariants:
//! - Nothing here blocks the transport's reader: an arriving message is
//!   put in a bounded inbox ([`INBOX`]); past it, it is dropped (gossip
//!   repairs a lost message on the next round).
//! - The state machine's mutex is held only for one call and never across
//!   an `.await`; a send is its own task, so a slow or dead peer delays no
//!   other.
//! - Members named in `peers` are always dialled at their configured
//!   address; every other member at the address its newest identity
//!   advertises.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use parking_lot::Mutex;
use ringcache_membership::{Event, Identity, Membership, NodeMeta, Output, Phase, Stats, View};
use ringcache_transport::NodeId;
use tokio::sync::mpsc;

use super::{Cluster, ClusterError};
use crate::config::Config;
use crate::shared::Shared;

/// Transport message kind of gossip (one-way): the state machine's bytes.
pub const KIND_GOSSIP: u8 = b'G';
/// Transport message kind of CLUSTER FORGET's spread (one-way): a node id.
pub const KIND_FORGET: u8 = b'F';
/// Messages waiting for the gossip task at most.
pub const INBOX: usize = 4096;
/// The task looks at the node's phase at least this often.
const POLL: Duration = Duration::from_millis(50);
/// Wait between two attempts to identify a seed.
const SEED_RETRY: Duration = Duration::from_millis(500);

enum Inbound {
    Message(NodeId, Bytes),
    /// A seed, identified: announce to it.
    Seed(NodeId, SocketAddr),
    Forget(NodeId),
}

/// The node's membership state machine and its inbox.
pub struct Gossip {
    membership: Mutex<Membership>,
    inbox: mpsc::Sender<Inbound>,
    inbox_rx: Mutex<Option<mpsc::Receiver<Inbound>>>,
    started: Instant,
    /// Seeds by id (`peers`, resolved when the task starts) and by address.
    peers: Vec<(NodeId, String, u16)>,
    seeds: Vec<(String, u16)>,
}

impl std::fmt::Debug for Gossip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gossip").field("membership", &*self.membership.lock()).finish_non_exhaustive()
    }
}

impl Gossip {
    /// This node, joining, with cluster address `addr`.
    pub(crate) fn new(config: &Config, me: NodeId, addr: SocketAddr, client_port: u16) -> Result<Gossip, ClusterError> {
        let identity = Identity {
            node_id: me.clone(),
            // Grows on every restart: a cache starts empty every time.
            generation: ringcache_store::now_ms(),
            revision: 0,
            addr,
            meta: NodeMeta { client_port, phase: Phase::Joining },
        };
        let membership = Membership::new(identity, config.membership_config(), rand::random())?;
        let (tx, rx) = mpsc::channel(INBOX);
        Ok(Gossip {
            membership: Mutex::new(membership),
            inbox: tx,
            inbox_rx: Mutex::new(Some(rx)),
            started: Instant::now(),
            peers: config
                .peers
                .iter()
                .filter(|p| p.id != config.node_id)
                .map(|p| (NodeId::from(p.id.as_str()), p.host.clone(), p.cluster_port()))
                .collect(),
            seeds: config.seeds.iter().map(|s| (s.host.clone(), s.port)).collect(),
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The current membership view.
    pub fn view(&self) -> Arc<View> {
        self.membership.lock().view().clone()
    }

    pub fn stats(&self) -> Stats {
        self.membership.lock().stats()
    }

    pub fn phase(&self) -> Phase {
        self.membership.lock().identity().meta.phase
    }

    /// Whether this node has left and finished telling the others.
    pub fn has_left(&self) -> bool {
        self.membership.lock().has_left()
    }

    /// A gossip message from `from` (the kind byte stripped), from the
    /// transport's reader: queued for the task, or dropped if it is full.
    pub(crate) fn receive(&self, from: NodeId, msg: Bytes) {
        let _ = self.inbox.try_send(Inbound::Message(from, msg));
    }

    /// Another node spread a CLUSTER FORGET.
    pub(crate) fn receive_forget(&self, from: &NodeId, msg: &[u8]) {
        let Ok(id) = std::str::from_utf8(msg) else { return };
        if id.is_empty() || id.len() > ringcache_membership::NODE_ID_WIRE_MAX {
            return;
        }
        tracing::info!(node = id, by = %from, "forgetting a member, as another node asked");
        let _ = self.inbox.try_send(Inbound::Forget(NodeId::from(id)));
    }
}

/// The message that carries gossip `bytes`.
fn frame(kind: u8, bytes: &[u8]) -> Bytes {
    let mut m = BytesMut::with_capacity(bytes.len() + 1);
    m.put_u8(kind);
    m.extend_from_slice(bytes);
    m.freeze()
}

/// CLUSTER MEET: identifies the node at `addr` and announces to it, in
/// the background (as Redis, the command answers before the handshake).
/// `Err` if this node cannot dial by address (no TCP transport).
pub fn meet(cluster: &Arc<Cluster>, addr: SocketAddr) -> Result<(), &'static str> {
    let Some(tcp) = cluster.tcp.clone() else {
        return Err("ERR CLUSTER MEET needs the TCP cluster transport");
    };
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return Err("ERR CLUSTER MEET can't run here");
    };
    let inbox = cluster.gossip.inbox.clone();
    runtime.spawn(async move {
        match tcp.identify(addr).await {
            Ok(id) => {
                tracing::info!(node = %id, %addr, "CLUSTER MEET: node identified");
                let _ = inbox.send(Inbound::Seed(id, addr)).await;
            }
            Err(e) => tracing::warn!(%addr, "CLUSTER MEET: can't reach the node: {e}"),
        }
    });
    Ok(())
}

/// Moves this node to `phase` (forward only) and tells the cluster.
pub(crate) fn set_phase(cluster: &Arc<Cluster>, phase: Phase) -> Result<(), ringcache_membership::Error> {
    let mut out = Output::new();
    {
        let mut m = cluster.gossip.membership.lock();
        let now = cluster.gossip.now_ms();
        m.set_phase(phase, now, &mut out)?;
    }
    carry_out(cluster, &mut out);
    Ok(())
}

/// CLUSTER FORGET: forgets dead or left member `id` here and tells every
/// live member to do the same.
pub fn forget(cluster: &Arc<Cluster>, id: &NodeId) -> Result<(), ringcache_membership::Error> {
    let mut out = Output::new();
    {
        let mut m = cluster.gossip.membership.lock();
        let now = cluster.gossip.now_ms();
        m.forget(id, now, &mut out)?;
    }
    carry_out(cluster, &mut out);
    let view = cluster.view();
    for node in view.nodes.iter().filter(|n| n.id != cluster.me && n.state.is_live()) {
        let (transport, to, msg) =
            (cluster.transport.clone(), node.id.clone(), frame(KIND_FORGET, id.as_str().as_bytes()));
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = transport.send(&to, msg).await;
            });
        }
    }
    Ok(())
}

/// Sends what the state machine produced, and publishes a new cluster
/// view if the membership view changed.
fn carry_out(cluster: &Arc<Cluster>, out: &mut Output) {
    for send in out.sends.drain(..) {
        cluster.stats.ping_sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Some(tcp) = &cluster.tcp {
            // A member's newest identity says where it listens now.
            if !cluster.pinned.contains(&send.to) && tcp.peer_addr(&send.to) != Some(send.addr) {
                tcp.add_peer(send.to.clone(), send.addr);
            }
        }
        let cluster = cluster.clone();
        let msg = frame(KIND_GOSSIP, &send.bytes);
        tokio::spawn(async move {
            if let Err(e) = cluster.transport.send(&send.to, msg).await {
                tracing::debug!(node = %send.to, "gossip send failed: {e}");
                if !matches!(e, ringcache_transport::TransportError::Backpressure { .. }) {
                    cluster.set_reachable(&send.to, false);
                }
            }
        });
    }
    let changed = !out.events.is_empty();
    for event in out.events.drain(..) {
        match &event {
            Event::Dead(id) => tracing::warn!(node = %id, "member is dead: off the ring"),
            Event::Suspect(id) => tracing::info!(node = %id, "member is suspect"),
            Event::Up(id) => tracing::info!(node = %id, "member is alive"),
            Event::Left(id) => tracing::info!(node = %id, "member left"),
            Event::Restarted { node, generation } => {
                tracing::info!(%node, generation, "member restarted (it starts empty)")
            }
            Event::AddressChanged { node, addr } => tracing::info!(%node, %addr, "member moved"),
            Event::MetaChanged { node, meta } => tracing::info!(%node, phase = ?meta.phase, "member changed"),
        }
    }
    let view = cluster.gossip.view();
    if changed || view.epoch() != cluster.view().epoch {
        if let Some(v) = cluster.publish(&view) {
            tracing::debug!(epoch = v.epoch, members = v.nodes.len(), "cluster view published");
        }
    }
}

/// Drives the membership until shutdown. See the module docs.
pub async fn run(shared: Arc<Shared>) {
    let Some(cluster) = shared.cluster.clone() else { return };
    let Some(mut inbox) = cluster.gossip.inbox_rx.lock().take() else { return };
    let gossip = &cluster.gossip;
    let mut seeds: Vec<(NodeId, SocketAddr)> = Vec::new();
    for (id, host, port) in &gossip.peers {
        match tokio::net::lookup_host((host.as_str(), *port)).await.map(|mut a| a.next()) {
            Ok(Some(addr)) => seeds.push((id.clone(), addr)),
            _ => tracing::warn!(node = %id, host, "can't resolve a peer"),
        }
    }
    for (host, port) in gossip.seeds.clone() {
        tokio::spawn(identify_seed(cluster.clone(), host, port));
    }
    let mut out = Output::new();
    {
        let mut m = gossip.membership.lock();
        let now = gossip.now_ms();
        m.join(&seeds, now, &mut out);
    }
    carry_out(&cluster, &mut out);
    let mut was_connected = false;
    loop {
        let now = gossip.now_ms();
        let due = gossip.membership.lock().next_deadline_ms().unwrap_or(u64::MAX);
        let wait = Duration::from_millis(due.saturating_sub(now)).min(POLL);
        let first = tokio::select! {
            m = inbox.recv() => match m {
                Some(m) => Some(m),
                None => return,
            },
            _ = tokio::time::sleep(wait) => None,
            _ = shared.shutdown.cancelled() => return,
        };
        let (connected, joining);
        {
            let mut m = gossip.membership.lock();
            let mut next = first;
            // Whatever else arrived meanwhile, in one go.
            let mut taken = 0;
            while let Some(msg) = next.take() {
                let now = gossip.now_ms();
                match msg {
                    Inbound::Message(from, bytes) => {
                        cluster.stats.ping_received.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if let Err(why) = m.handle(&from, &bytes, now, &mut out) {
                            tracing::debug!(node = %from, "gossip message refused: {why}");
                        }
                    }
                    Inbound::Seed(id, addr) => {
                        if !seeds.iter().any(|s| s.0 == id) {
                            seeds.push((id, addr));
                        }
                        m.join(&seeds, now, &mut out);
                    }
                    Inbound::Forget(id) => {
                        let _ = m.forget(&id, now, &mut out);
                    }
                }
                taken += 1;
                if taken < 256 {
                    next = inbox.try_recv().ok();
                }
            }
            let now = gossip.now_ms();
            m.tick(now, &mut out);
            connected = m.is_connected();
            let caught_up = cluster.replication.as_ref().is_none_or(|r| !r.is_catching_up());
            // Serving needs a member to have heard from us: a node alone
            // (no seeds, or not reached yet) serves its own slots but stays
            // joining, so that when it meets a cluster it streams its slots
            // before owning them instead of owning them empty.
            joining = m.identity().meta.phase == Phase::Joining;
            if joining && connected && was_connected && cluster.joined() && caught_up {
                tracing::info!("caught up: serving");
                let _ = m.set_phase(Phase::Serving, now, &mut out);
            }
        }
        carry_out(&cluster, &mut out);
        // Only once the view naming the members it reached is published:
        // replication starts ticking on `joined`, and catching up against
        // the view of this node alone would find nothing to stream and
        // serve an empty memory.
        if connected {
            cluster.set_joined();
            if !was_connected && joining {
                // Whatever it caught up alone was against a view of itself:
                // stream again, against the view with the members.
                if let Some(r) = &cluster.replication {
                    r.restart_catch_up();
                }
            }
        }
        was_connected = connected;
    }
}

/// Resolves and identifies a seed given by address until it answers (or
/// this node has joined through another), then hands it to the task.
async fn identify_seed(cluster: Arc<Cluster>, host: String, port: u16) {
    let Some(tcp) = cluster.tcp.clone() else {
        tracing::warn!(host, port, "seeds by address need the TCP cluster transport");
        return;
    };
    let mut warned = false;
    loop {
        let addr = tokio::net::lookup_host((host.as_str(), port)).await.ok().and_then(|mut a| a.next());
        let result = match addr {
            Some(addr) => tcp.identify(addr).await.map(|id| (id, addr)).map_err(|e| e.to_string()),
            None => Err("can't resolve it".to_owned()),
        };
        match result {
            Ok((id, addr)) => {
                if id != cluster.me {
                    if !cluster.pinned.contains(&id) {
                        tcp.add_peer(id.clone(), addr);
                    }
                    let _ = cluster.gossip.inbox.send(Inbound::Seed(id, addr)).await;
                }
                return;
            }
            Err(e) if !warned => {
                tracing::warn!(host, port, "seed not reachable yet: {e}");
                warned = true;
            }
            Err(_) => {}
        }
        if cluster.joined() {
            return;
        }
        tokio::time::sleep(SEED_RETRY).await;
    }
}
