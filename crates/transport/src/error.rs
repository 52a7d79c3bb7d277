//! The crate's error types: [`FrameError`] for bytes that are not a frame
//! (always fatal to the connection they came from), [`AuthError`] for a
//! failed handshake, and [`TransportError`], what a caller of
//! [`Transport`](crate::Transport) sees.
//!
//! Invariant: every failure a caller can see is a variant here, with the
//! peer it concerns; nothing a peer sends becomes a panic.

use thiserror::Error;

use crate::NodeId;

/// Bytes that are not a valid frame. The connection they came from is
/// dropped: a byte stream cannot be resynchronised.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FrameError {
    /// The first bytes were not `b"RCTP"` (the bytes that had arrived,
    /// zero-padded).
    #[error("bad frame magic {0:02x?}")]
    BadMagic([u8; 4]),
    #[error("unsupported frame version {0}")]
    UnsupportedVersion(u8),
    #[error("unknown frame kind {0}")]
    UnknownKind(u8),
    #[error("frame payload of {len} bytes is over the limit of {max}")]
    TooLarge { len: u64, max: u32 },
}

/// Why a handshake failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AuthError {
    /// The peer's HMAC did not verify: it does not know the cluster secret
    /// (or is replaying someone else's proof).
    #[error("peer failed to prove knowledge of the cluster secret")]
    BadProof,
    /// A handshake message was not of the expected kind or shape.
    #[error("malformed handshake: {0}")]
    Malformed(&'static str),
    /// The node at the peer's address says it is someone else.
    #[error("expected node {expected}, the peer says it is {got}")]
    WrongPeer { expected: NodeId, got: NodeId },
}

/// Why the transport on the other side refused a request (the payload of a
/// `Refused` frame). The request never reached the handler, or its answer
/// could not be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum Refusal {
    #[error("no handler registered")]
    NoHandler,
    #[error("too many requests in progress")]
    Busy,
    #[error("the answer is over the frame size limit")]
    ResponseTooLarge,
    #[error("shutting down")]
    ShuttingDown,
    /// A code this version does not know (a newer peer).
    #[error("refused with unknown code {0}")]
    Other(u8),
}

impl Refusal {
    pub fn code(self) -> u8 {
        match self {
            Refusal::NoHandler => 1,
            Refusal::Busy => 2,
            Refusal::ResponseTooLarge => 3,
            Refusal::ShuttingDown => 4,
            Refusal::Other(c) => c,
        }
    }

    pub fn from_code(c: u8) -> Refusal {
        match c {
            1 => Refusal::NoHandler,
            2 => Refusal::Busy,
            3 => Refusal::ResponseTooLarge,
            4 => Refusal::ShuttingDown,
            c => Refusal::Other(c),
        }
    }
}

/// What a [`Transport`](crate::Transport) call can fail with.
#[derive(Debug, Error)]
pub enum TransportError {
    /// No address (TCP) or no such node (simulation) is known for the peer.
    #[error("unknown peer {0}")]
    UnknownPeer(NodeId),
    /// The peer could not be reached: connection refused, partitioned, or
    /// down. The request was not delivered.
    #[error("peer {peer} unreachable: {reason}")]
    Unreachable { peer: NodeId, reason: String },
    /// A recent attempt to connect failed and the backoff has not elapsed;
    /// failing fast instead of hammering a dead peer.
    #[error("peer {peer} unreachable, next connection attempt in {retry_in_ms} ms")]
    Backoff { peer: NodeId, retry_in_ms: u64 },
    /// No answer within `request_timeout_ms`. The request may or may not
    /// have been handled.
    #[error("request to {peer} timed out after {timeout_ms} ms")]
    Timeout { peer: NodeId, timeout_ms: u64 },
    /// `inflight_per_peer_max` requests to this peer are already waiting.
    #[error("{in_flight_max} requests to {peer} already in flight")]
    Backpressure { peer: NodeId, in_flight_max: usize },
    /// The message is over `frame_len_max`; it was not sent.
    #[error("message of {len} bytes is over the limit of {max}")]
    MessageTooLarge { len: usize, max: u32 },
    /// The connection broke while the request was in flight. The request
    /// may or may not have been handled.
    #[error("connection to {peer} lost")]
    ConnectionLost { peer: NodeId },
    /// The handshake with the peer failed.
    #[error("authentication with {peer} failed: {error}")]
    Auth { peer: NodeId, error: AuthError },
    /// The peer sent bytes that are not a frame; the connection was dropped.
    #[error("protocol error from {peer}: {error}")]
    Protocol { peer: NodeId, error: FrameError },
    /// The peer's transport refused the request.
    #[error("{peer} refused the request: {refusal}")]
    Refused { peer: NodeId, refusal: Refusal },
    /// This transport is shutting down or has shut down.
    #[error("transport is shut down")]
    Shutdown,
    #[error("invalid transport config: {0}")]
    InvalidConfig(&'static str),
    /// Binding the listener failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

impl TransportError {
    /// The peer this error is about, if any.
    pub fn peer(&self) -> Option<&NodeId> {
        match self {
            TransportError::UnknownPeer(peer)
            | TransportError::Unreachable { peer, .. }
            | TransportError::Backoff { peer, .. }
            | TransportError::Timeout { peer, .. }
            | TransportError::Backpressure { peer, .. }
            | TransportError::ConnectionLost { peer }
            | TransportError::Auth { peer, .. }
            | TransportError::Protocol { peer, .. }
            | TransportError::Refused { peer, .. } => Some(peer),
            TransportError::MessageTooLarge { .. }
            | TransportError::Shutdown
            | TransportError::InvalidConfig(_)
            | TransportError::Io(_) => None,
        }
    }
}

pub type Result<T, E = TransportError> = std::result::Result<T, E>;
