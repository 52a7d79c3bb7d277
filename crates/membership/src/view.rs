//! [`View`]: the numbered, immutable snapshot of the membership that the
//! rest of the node reads, and the [`Event`]s that tell what changed from
//! one view to the next.
//!
//! Invariants:
//! - A view never changes once published. The state machine publishes a new
//!   one, with `epoch` one larger, whenever anything in it changed, and only
//!   then; `epoch` is local to the node (it counts this node's views).
//! - Members are sorted by node id and appear once each; this node is
//!   always among them.
//! - [`View::digest`] is a pure function of what every node can agree on
//!   (ids, generations, revisions, states, addresses, metadata; not SWIM's
//!   incarnations, not the epoch), so two nodes hold the same membership
//!   exactly when their digests match.

use std::net::SocketAddr;
use std::sync::Arc;

use ringcache_ring::NodeId;

/// Where a node is in its life as an owner of data (docs/membership.md,
/// "Join, leave, handoff").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// A member that is still being given its slots' data: not an owner yet.
    Joining,
    /// An owner of its slots.
    Serving,
    /// Handing its data to the next owners; still an owner until it leaves.
    Leaving,
    /// Gone on purpose. Terminal.
    Left,
}

impl Phase {
    pub(crate) fn to_wire(self) -> u8 {
        match self {
            Phase::Joining => 0,
            Phase::Serving => 1,
            Phase::Leaving => 2,
            Phase::Left => 3,
        }
    }

    pub(crate) fn from_wire(b: u8) -> Option<Phase> {
        Some(match b {
            0 => Phase::Joining,
            1 => Phase::Serving,
            2 => Phase::Leaving,
            3 => Phase::Left,
            _ => return None,
        })
    }

    /// The phases a node may move to by itself: forward only.
    pub fn may_become(self, next: Phase) -> bool {
        matches!(
            (self, next),
            (Phase::Joining, Phase::Serving | Phase::Leaving | Phase::Left)
                | (Phase::Serving, Phase::Leaving | Phase::Left)
                | (Phase::Leaving, Phase::Left)
        )
    }
}

/// What a node publishes about itself besides its cluster address. Small on
/// purpose: it travels in every gossip message that names the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodeMeta {
    /// The port that speaks RESP to clients, on the cluster address's host.
    pub client_port: u16,
    pub phase: Phase,
}

impl Default for NodeMeta {
    fn default() -> NodeMeta {
        NodeMeta { client_port: 6379, phase: Phase::Joining }
    }
}

/// A member's liveness as this node sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MemberState {
    Alive,
    /// Failed a probe; treated as alive until it refutes or is declared dead.
    Suspect,
    /// Declared dead by the failure detector.
    Dead,
    /// Left on purpose.
    Left,
}

impl MemberState {
    /// Alive or suspect: may still answer.
    pub fn is_live(self) -> bool {
        matches!(self, MemberState::Alive | MemberState::Suspect)
    }
}

/// One member in a [`View`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberInfo {
    pub node_id: NodeId,
    pub state: MemberState,
    /// Grows on every restart: a larger one means the node started empty.
    pub generation: u64,
    /// Grows on every change the node made to itself within a generation.
    pub revision: u32,
    /// SWIM's incarnation: grows when the node refutes a suspicion.
    pub incarnation: u16,
    pub addr: SocketAddr,
    pub meta: NodeMeta,
}

/// A numbered, immutable membership snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    epoch: u64,
    local: NodeId,
    members: Arc<[MemberInfo]>,
}

impl View {
    pub(crate) fn new(epoch: u64, local: NodeId, mut members: Vec<MemberInfo>) -> View {
        members.sort_by(|a, b| a.node_id.cmp(&b.node_id));
        debug_assert!(members.windows(2).all(|w| w[0].node_id != w[1].node_id), "a node appears twice");
        debug_assert!(members.iter().any(|m| m.node_id == local), "the local node is missing");
        View { epoch, local, members: members.into() }
    }

    /// This node's count of views so far; grows by one per change.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    pub fn local(&self) -> &NodeId {
        &self.local
    }

    /// Every member known, dead and left ones included, sorted by node id.
    pub fn members(&self) -> &[MemberInfo] {
        &self.members
    }

    pub fn get(&self, id: &NodeId) -> Option<&MemberInfo> {
        self.members.binary_search_by(|m| m.node_id.cmp(id)).ok().map(|i| &self.members[i])
    }

    /// Alive and suspect members.
    pub fn live(&self) -> impl Iterator<Item = &MemberInfo> {
        self.members.iter().filter(|m| m.state.is_live())
    }

    /// The members that own data: live, and serving or leaving (a joining
    /// node is not an owner until its data has arrived; a leaving one stays
    /// one until it has handed its data off).
    pub fn owners(&self) -> impl Iterator<Item = &MemberInfo> {
        self.live().filter(|m| matches!(m.meta.phase, Phase::Serving | Phase::Leaving))
    }

    /// A 64-bit summary of what nodes can agree on (see the module header).
    /// FNV-1a over the fields, then a SplitMix64 finaliser: the same on every
    /// platform and run.
    pub fn digest(&self) -> u64 {
        let mut h = Fnv::new();
        for m in self.members.iter() {
            h.bytes(m.node_id.as_str().as_bytes());
            h.bytes(&[0xff, state_byte(m.state), m.meta.phase.to_wire()]);
            h.bytes(&m.generation.to_be_bytes());
            h.bytes(&m.revision.to_be_bytes());
            h.bytes(&m.meta.client_port.to_be_bytes());
            h.bytes(m.addr.to_string().as_bytes());
        }
        h.finish()
    }
}

fn state_byte(s: MemberState) -> u8 {
    match s {
        MemberState::Alive => 0,
        MemberState::Suspect => 1,
        MemberState::Dead => 2,
        MemberState::Left => 3,
    }
}

struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        let mut h = self.0;
        h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        h ^ (h >> 31)
    }
}

/// What changed between two views, per member, in node id order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A member became alive: newly known, back from suspect, or back from
    /// dead with a new identity.
    Up(NodeId),
    Suspect(NodeId),
    Dead(NodeId),
    Left(NodeId),
    /// Its generation grew: it restarted and lost its data.
    Restarted {
        node: NodeId,
        generation: u64,
    },
    /// Same node id, new cluster address.
    AddressChanged {
        node: NodeId,
        addr: SocketAddr,
    },
    MetaChanged {
        node: NodeId,
        meta: NodeMeta,
    },
}

/// The events that lead from `old` to `new`.
pub(crate) fn diff(old: &View, new: &View, events: &mut Vec<Event>) {
    for m in new.members() {
        let before = old.get(&m.node_id);
        let id = || m.node_id.clone();
        if let Some(b) = before {
            if m.generation > b.generation {
                events.push(Event::Restarted { node: id(), generation: m.generation });
            }
            if m.addr != b.addr {
                events.push(Event::AddressChanged { node: id(), addr: m.addr });
            }
            if m.meta != b.meta {
                events.push(Event::MetaChanged { node: id(), meta: m.meta });
            }
        }
        let was = before.map(|b| b.state);
        if was != Some(m.state) {
            events.push(match m.state {
                MemberState::Alive => Event::Up(id()),
                MemberState::Suspect => Event::Suspect(id()),
                MemberState::Dead => Event::Dead(id()),
                MemberState::Left => Event::Left(id()),
            });
        }
    }
}
