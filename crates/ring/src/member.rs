//! Who is on the ring: node ids, their weights, and the dense index a built
//! ring gives each of them.
//!
//! Invariant: a [`NodeIdx`] is only meaningful for the [`Ring`](crate::Ring)
//! that produced it (it is the node's rank in id order within that ring's
//! membership); across rings, compare [`NodeId`]s.

use std::borrow::Borrow;
use std::fmt;
use std::sync::Arc;

/// A node's cluster-wide identity. Ordered and hashed by its bytes; the ring
/// hashes exactly `as_str().as_bytes()`.
///
/// `Arc<str>` because ids are copied into every ring snapshot, gossip message
/// and routing decision, and a clone should not allocate.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(Arc<str>);

impl NodeId {
    pub fn new(id: impl Into<Arc<str>>) -> NodeId {
        NodeId(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for NodeId {
    fn from(id: &str) -> NodeId {
        NodeId::new(id)
    }
}

impl From<String> for NodeId {
    fn from(id: String) -> NodeId {
        NodeId::new(id)
    }
}

impl Borrow<str> for NodeId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

/// One member of a membership view: a node and its relative capacity.
///
/// A node with weight `w` gets `max(1, round(vnodes_per_node × w))` vnode
/// points, so it coordinates about `w` times as many slots as a weight-1
/// node.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub id: NodeId,
    pub weight: f64,
}

impl Member {
    /// A member with the default weight 1.0.
    pub fn new(id: impl Into<NodeId>) -> Member {
        Member { id: id.into(), weight: 1.0 }
    }

    pub fn with_weight(self, weight: f64) -> Member {
        Member { weight, ..self }
    }
}

impl From<&str> for Member {
    fn from(id: &str) -> Member {
        Member::new(id)
    }
}

impl From<NodeId> for Member {
    fn from(id: NodeId) -> Member {
        Member::new(id)
    }
}

/// A node's index within one built ring: its rank by id. Dense (`0..len`),
/// so per-node data can live in plain vectors, and small, so the slot table
/// stays compact (16384 × replicas × 2 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeIdx(pub(crate) u16);

impl NodeIdx {
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}
