//! The crate's one error type: why a membership view or a configuration
//! cannot be turned into a ring. Building is the only fallible operation;
//! every lookup on a built ring is infallible.

use thiserror::Error;

use crate::member::NodeId;

/// Why [`Ring::new`](crate::Ring::new) refused a membership view or config.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum RingError {
    #[error("node id {0} appears more than once in the membership")]
    DuplicateNode(NodeId),
    #[error("a node id is empty")]
    EmptyNodeId,
    #[error("node id is {len} bytes, over the limit of {max}")]
    NodeIdTooLong { len: usize, max: usize },
    #[error("weight {weight} of node {id} is not a finite number > 0")]
    InvalidWeight { id: NodeId, weight: f64 },
    #[error("{count} members, over the limit of {max}")]
    TooManyMembers { count: usize, max: usize },
    #[error("{count} vnode points on the ring, over the limit of {max}")]
    TooManyPoints { count: u64, max: u64 },
    #[error("invalid ring config: {0}")]
    InvalidConfig(&'static str),
}

pub type Result<T, E = RingError> = std::result::Result<T, E>;
