//! Errors: what a caller did wrong ([`Error`]) and why a peer's message was
//! refused ([`DecodeError`]).
//!
//! Invariant: a [`DecodeError`] never escapes the state machine as a
//! failure of the node; it is counted in [`Stats`](crate::Stats) and the
//! message is dropped.

use thiserror::Error;

/// A call the state machine refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Error {
    #[error("invalid replication config: {0}")]
    InvalidConfig(&'static str),
    #[error("slot {0} out of range")]
    BadSlot(u16),
    #[error("this node is not an owner of slot {slot}")]
    NotOwner { slot: u16 },
    #[error("a quorum of {quorum} is more than the slot's {owners} owners")]
    QuorumTooLarge { quorum: usize, owners: usize },
    #[error("key of slot {key_slot} filed under slot {slot}")]
    KeyNotInSlot { slot: u16, key_slot: u16 },
    #[error("a write needs at least one effect")]
    Empty,
    #[error("{effects} effects in {bytes} bytes do not fit in one message")]
    TooLarge { effects: usize, bytes: usize },
    #[error("too many operations in flight (at most {max})")]
    Busy { max: usize },
}

pub type Result<T> = std::result::Result<T, Error>;

/// Why a message from a peer was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    #[error("message truncated")]
    Truncated,
    #[error("message of {len} bytes is over the limit of {max}")]
    TooLong { len: usize, max: usize },
    #[error("{what}: {count} is over the limit of {max}")]
    TooMany { what: &'static str, count: usize, max: usize },
    #[error("unknown codec version {0}")]
    CodecVersion(u8),
    #[error("unknown message kind {0}")]
    UnknownKind(u8),
    #[error("slot {0} out of range")]
    BadSlot(u16),
    #[error("invalid version")]
    BadVersion,
    #[error("database {db} out of range (databases {databases})")]
    BadDatabase { db: u16, databases: u32 },
    #[error("invalid node id")]
    BadNodeId,
    #[error("invalid {0}")]
    Invalid(&'static str),
    #[error("{0} bytes after the end of the message")]
    Trailing(usize),
}

impl DecodeError {
    /// Whether the message was refused for passing a limit (as opposed to
    /// being malformed): the two are counted apart, since the first one
    /// usually means two nodes run with different limits (a database out
    /// of range: different `databases`).
    pub fn is_over_limit(&self) -> bool {
        matches!(self, DecodeError::TooLong { .. } | DecodeError::TooMany { .. } | DecodeError::BadDatabase { .. })
    }
}
