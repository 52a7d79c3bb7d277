//! The replication state machine of ringcache: write fan-out and quorum
//! counting, hinted handoff, anti-entropy, catch-up after an empty restart,
//! and quorum reads with read repair.
//!
//! Sans-IO, like every crate below `server`: no sockets, no tasks, no
//! threads, no clock. The caller drives one [`Replicator`] per node through
//! four doors and acts on what they return in an [`Output`] (messages to
//! send, [`Event`]s such as "this write reached its quorum"):
//!
//! - [`Replicator::write`]: this node coordinated a write; fan it out.
//! - [`Replicator::receive`] / [`Replicator::handle`]: a message from a peer.
//! - [`Replicator::tick`]: time passed (deadlines, retries, hint delivery,
//!   anti-entropy rounds, catch-up streams).
//! - [`Replicator::read`]: a read that needs more than one owner.
//!
//! The keyspace is reached through the [`Replica`] trait (the server
//! implements it over `ringcache-store`; [`MemReplica`] is the in-memory one
//! the tests and simulations use), and the cluster through the [`View`]
//! trait (owners and fallbacks of a slot, liveness, an epoch), passed on
//! every call so that one call never mixes two views.
//!
//! Invariants (each one is a test, most of them in the seeded simulation in
//! `tests/sim.rs`):
//! - Every message is idempotent: applying an effect goes through the
//!   version rule, so a duplicate, a retry or a reordering changes nothing
//!   the first delivery did not. That is what makes blind retries safe.
//! - A write is reported [`Event::Acked`] only once W owners (this one
//!   included) have answered that they hold a version at least as new as
//!   the write's; otherwise it is reported [`Event::Failed`] by its deadline.
//!   Exactly one of the two, once.
//! - Every queue and every message is bounded by a named limit in
//!   [`Config`]; anything that passes a limit or fails to decode is refused
//!   and counted in [`Stats`], never a panic.
//! - After the network heals, owners converge: hints, anti-entropy and
//!   catch-up each move the newer version to the owner that lacks it.
//!
//! The protocol is described in `docs/replication.md`, "The state machine".

mod anti_entropy;
mod catch_up;
mod config;
mod error;
mod hints;
pub mod mem;
mod message;
mod read;
mod replica;
mod replicator;
mod stats;
mod view;
mod write;

pub use config::{Config, Limits, CODEC_VERSION, RANGES, SLOTS_PER_RANGE};
pub use error::{DecodeError, Error, Result};
pub use mem::{MemOp, MemReplica};
pub use message::{Change, DbKey, Effect, Entry, Message, Outcome, ReadId, State, SyncPos, WriteId};
pub use replica::{Chunk, Replica};
pub use replicator::{Event, Output, Replicator};
pub use stats::Stats;
pub use view::{Placement, StaticView, View};

/// Hash slots, as in Redis Cluster (re-exported from the ring crate).
pub use ringcache_ring::{NodeId, SLOTS};
