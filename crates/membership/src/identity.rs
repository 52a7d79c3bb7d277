//! [`Identity`]: who a member is, as the gossip engine sees it.
//!
//! foca keys its member table by [`foca::Identity::addr`], which here is the
//! node id: one entry per node, whatever its address, generation or
//! metadata. Everything else a node publishes travels *in* its identity, so
//! a node that learns of a member (from a join's feed, an update, or just
//! the header of a message) learns its address and metadata in the same
//! step, with no separate key-value exchange that could lag behind.
//!
//! Invariants:
//! - Two identities of one node are ordered by `(generation, revision)`;
//!   the larger one wins every conflict ([`foca::Identity::win_addr_conflict`]),
//!   so a stale rumour about an older identity never replaces a newer one.
//! - `generation` grows on every restart (the caller's job: a persisted
//!   counter or the start time in ms); a larger generation means the node
//!   started empty. `revision` grows on every change the node makes to its
//!   own identity while it runs (new address, new metadata, a rejoin after a
//!   false death) and restarts at 0 with a new generation.

use std::net::SocketAddr;

use ringcache_ring::NodeId;

use crate::view::{NodeMeta, Phase};

/// Longest node id the wire carries (its length is one byte).
pub const NODE_ID_WIRE_MAX: usize = 255;

/// A member's identity: node id, generation, revision, cluster address and
/// metadata.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identity {
    pub node_id: NodeId,
    pub generation: u64,
    pub revision: u32,
    /// Where the node's cluster port (gossip and transport) listens.
    pub addr: SocketAddr,
    pub meta: NodeMeta,
}

impl Identity {
    /// The key that decides which of two identities of one node is newer.
    pub fn age(&self) -> (u64, u32) {
        (self.generation, self.revision)
    }

    /// The same node, one revision on.
    pub(crate) fn next_revision(&self) -> Identity {
        Identity { revision: self.revision.wrapping_add(1), ..self.clone() }
    }
}

impl foca::Identity for Identity {
    type Addr = NodeId;

    /// Declared down while still running (a false death, a partition that
    /// healed): come back as the next revision at once. Not after leaving:
    /// a node that left stays gone.
    fn renew(&self) -> Option<Self> {
        (self.meta.phase != Phase::Left).then(|| self.next_revision())
    }

    fn addr(&self) -> NodeId {
        self.node_id.clone()
    }

    fn win_addr_conflict(&self, adversary: &Self) -> bool {
        // Equal ages with different contents cannot come from one correct
        // node; any total order that every node applies the same way will
        // do, so fall back to the encoded fields.
        match self.age().cmp(&adversary.age()) {
            std::cmp::Ordering::Equal => tiebreak(self) > tiebreak(adversary),
            ord => ord.is_gt(),
        }
    }
}

fn tiebreak(id: &Identity) -> (SocketAddr, u16, u8) {
    (id.addr, id.meta.client_port, id.meta.phase.to_wire())
}
