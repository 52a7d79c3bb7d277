//! Cluster membership for ringcache: who the members are, whether they are
//! alive, where they listen and what they publish, as a numbered immutable
//! [`View`].
//!
//! Sans-IO, like every crate below `server`: no sockets, no tasks, no
//! clock. Gossip and failure detection are foca's SWIM with suspicion
//! (docs/membership.md says why foca and not chitchat or memberlist); this
//! crate wraps it in a [`Membership`] state machine driven through a few
//! doors, each taking the caller's `now_ms` and filling an [`Output`]
//! (messages to send, [`Event`]s of what changed):
//!
//! - [`Membership::join`]: announce to seeds.
//! - [`Membership::handle`]: a gossip message from a peer.
//! - [`Membership::tick`]: time passed (probes, suspicion timeouts, gossip
//!   rounds, join retries).
//! - [`Membership::set_phase`], [`Membership::set_meta`],
//!   [`Membership::set_addr`], [`Membership::leave`]: this node changed.
//! - [`Membership::forget`]: drop a dead or left member from the view
//!   (CLUSTER FORGET) until a newer identity of it shows up.
//!
//! Invariants (each one is a test; the cluster-wide ones run in the seeded
//! simulation of `tests/sim.rs` over [`sim::SimCluster`]):
//! - A member is known by its node id alone; its identity carries a
//!   generation (grows on every restart) and a revision (grows on every
//!   change it makes to itself), and the newest identity wins every
//!   conflict, so a stale rumour never brings back an old address or state.
//! - A view is published, with the next epoch, exactly when something in it
//!   changed; events describe exactly the difference between two views.
//! - Nothing a peer sends panics the node: a message is bounded by
//!   `message_len_max`, fully checked as it is decoded, and must name the
//!   sender the transport authenticated.

mod codec;
mod config;
mod error;
mod identity;
mod membership;
pub mod sim;
mod view;

pub use codec::{decode_header, decode_sync, encode_sync, identity_len, WireCodec, SYNC_KIND, WIRE_VERSION};
pub use config::Config;
pub use error::{Error, Refusal, Result};
pub use identity::{Identity, NODE_ID_WIRE_MAX};
pub use membership::{check_identity, Membership, Outgoing, Output, Stats};
pub use view::{Event, MemberInfo, MemberState, NodeMeta, Phase, View};

/// The ring's node id, which names members here too.
pub use ringcache_ring::NodeId;

/// The gossip engine, for callers that need its types.
pub use foca;
