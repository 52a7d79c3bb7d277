//! Node-to-node transport for the ringcache cluster. Routing, gossip and
//! replication send every message through one trait, [`Transport`]:
//! request/response with opaque payloads, plus a one-way `send`.
//!
//! Two implementations:
//! - [`TcpTransport`]: authenticated ([`auth`]), framed ([`frame`]),
//!   persistent and pipelined connections, a bounded pool per peer,
//!   reconnection with exponential backoff, a timeout on every request and
//!   a bound on requests in flight per peer.
//! - [`SimNetwork`] / [`SimTransport`]: in memory, for tests; drops, delays
//!   and partitions, deterministic for a given seed, and made for tokio's
//!   paused time.
//!
//! Invariants (the shared suite in `tests/suite.rs` runs over both):
//! - Every `request` ends, with an answer or a [`TransportError`], within
//!   `request_timeout_ms` (plus scheduling): nothing waits unbounded.
//! - No queue grows without bound: one request over `inflight_per_peer_max`
//!   fails with `Backpressure` at once; no message over `frame_len_max` is
//!   sent or accepted.
//! - Nothing a peer sends can panic a node or harm other peers'
//!   connections: bad bytes or a failed handshake drop that one connection.
//!
//! `NodeId` is the ring crate's: the routing layer takes owners from the
//! ring and hands them to the transport, and one type means no conversion
//! on the way (it is an `Arc<str>`, so cloning it is cheap). The ring crate
//! is pure and tiny, so this costs no weight and no dependency loop.
//!
//! Formats, the handshake and the failure behaviour: `docs/transport.md`.

pub mod auth;
mod config;
mod error;
pub mod frame;
mod sim;
mod tcp;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};

pub use auth::ClusterSecret;
pub use config::{TransportConfig, FRAME_LEN_MAX_MIN};
pub use error::{AuthError, FrameError, Refusal, Result, TransportError};
pub use ringcache_ring::NodeId;
pub use sim::{Delay, SimNetwork, SimTransport};
pub use tcp::TcpTransport;

/// A message body: opaque bytes, reference-counted so forwarding never
/// copies it.
pub type Message = bytes::Bytes;

/// A boxed future, so that [`Transport`] and [`Handler`] stay
/// dyn-compatible: the server holds an `Arc<dyn Transport>` and picks TCP or
/// the simulation at run time. One allocation per request is noise next to
/// the system calls a request costs.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The local side of the transport: what a node does with what it receives.
pub trait Handler: Send + Sync + 'static {
    /// Answer a request from `from`. Application-level failures belong in
    /// the answer's bytes; the transport only carries them.
    fn request(&self, from: NodeId, msg: Message) -> BoxFuture<'static, Message>;

    /// A one-way message from `from`. Called on the connection's reader, so
    /// it must not block: hand the message to a channel or a state machine.
    /// The default drops it.
    fn message(&self, from: NodeId, msg: Message) {
        let _ = (from, msg);
    }
}

/// A [`Handler`] from a closure that answers requests (one-way messages are
/// dropped).
pub fn handler_fn<F, Fut>(f: F) -> Arc<dyn Handler>
where
    F: Fn(NodeId, Message) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Message> + Send + 'static,
{
    struct FnHandler<F>(F);
    impl<F, Fut> Handler for FnHandler<F>
    where
        F: Fn(NodeId, Message) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Message> + Send + 'static,
    {
        fn request(&self, from: NodeId, msg: Message) -> BoxFuture<'static, Message> {
            Box::pin((self.0)(from, msg))
        }
    }
    Arc::new(FnHandler(f))
}

/// How a node talks to the others. See the crate docs for the guarantees.
pub trait Transport: Send + Sync + 'static {
    /// This node's id, as peers see it.
    fn local_id(&self) -> &NodeId;

    /// Install (or replace) the handler for incoming requests and messages.
    /// Until one is installed, requests are refused with
    /// [`Refusal::NoHandler`].
    fn set_handler(&self, handler: Arc<dyn Handler>);

    /// Send `msg` to `to` and wait for its answer, at most
    /// `request_timeout_ms`.
    fn request<'a>(&'a self, to: &'a NodeId, msg: Message) -> BoxFuture<'a, Result<Message>>;

    /// Send `msg` to `to` without waiting for an answer. `Ok` means it was
    /// handed to the connection (or the simulated link), not that it
    /// arrived: use it for gossip, where a lost message is repaired by the
    /// next round. Over TCP, messages to one peer arrive in the order they
    /// were sent while their connection lasts; the simulation may reorder
    /// them, so a receiver must tolerate that (and does: replication asks
    /// for a whole value when a delta's base is missing).
    fn send<'a>(&'a self, to: &'a NodeId, msg: Message) -> BoxFuture<'a, Result<()>>;
}

/// The installed handler, shared by the tasks that deliver to it.
#[derive(Default)]
pub(crate) struct HandlerSlot(RwLock<Option<Arc<dyn Handler>>>);

impl HandlerSlot {
    pub(crate) fn set(&self, h: Arc<dyn Handler>) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Some(h);
    }

    pub(crate) fn get(&self) -> Option<Arc<dyn Handler>> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl std::fmt::Debug for HandlerSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.get().is_some() { "HandlerSlot(set)" } else { "HandlerSlot(empty)" })
    }
}
