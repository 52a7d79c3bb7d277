//! Errors: what a caller asked that the state machine refused ([`Error`]),
//! and why a peer's message was dropped ([`Refusal`]).
//!
//! Invariant: a [`Refusal`] never escapes as a failure of the node; it is
//! counted in [`Stats`](crate::Stats) and the message is dropped. Nothing a
//! peer sends can panic the state machine.

use ringcache_ring::NodeId;
use thiserror::Error;

use crate::view::Phase;

/// A call the state machine refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Error {
    #[error("invalid membership config: {0}")]
    InvalidConfig(&'static str),
    #[error("invalid node identity: {0}")]
    InvalidIdentity(&'static str),
    #[error("a node cannot go from {from:?} to {to:?}")]
    PhaseChange { from: Phase, to: Phase },
    #[error("this node has left the cluster")]
    Left,
    #[error("nothing changed")]
    Unchanged,
    #[error("unknown node {0}")]
    UnknownNode(NodeId),
    #[error("a node cannot forget itself")]
    ForgetSelf,
    #[error("node {0} is alive: only a dead or left member can be forgotten")]
    ForgetLive(NodeId),
    #[error("gossip engine: {0}")]
    Engine(String),
}

pub type Result<T> = std::result::Result<T, Error>;

/// Why a message from a peer was dropped.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Refusal {
    #[error("message truncated")]
    Truncated,
    #[error("message of {len} bytes is over the limit of {max}")]
    TooLong { len: usize, max: usize },
    #[error("wire version {0} is not 1")]
    BadVersion(u8),
    #[error("unknown {what} tag {tag}")]
    BadTag { what: &'static str, tag: u8 },
    #[error("node id is empty or not UTF-8")]
    BadNodeId,
    #[error("not enough room to encode")]
    NoSpace,
    #[error("message claims to be from {claimed} but came from {from}")]
    WrongSender { claimed: NodeId, from: NodeId },
    #[error("gossip engine refused it: {0}")]
    Engine(String),
}
