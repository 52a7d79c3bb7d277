//! Cluster placement for ringcache: which nodes own a key. Pure and
//! synchronous: no sockets, no async, no clocks, no randomness.
//!
//! A key maps to one of 16384 slots exactly as in Redis Cluster
//! ([`slot`]), so cluster-aware clients agree with us. Slots are placed on a
//! consistent-hash ring of weighted virtual nodes ([`Ring`]); each slot's
//! preference list is the first `replicas` distinct nodes clockwise from the
//! slot's point, its first entry being the coordinator. The whole
//! slot → owners table is computed once per membership view and published
//! as an immutable snapshot ([`RingHandle`]) that readers load without
//! locking.
//!
//! Invariants (each one is a test):
//! - Placement is a pure function of the member set (ids, weights) and
//!   [`RingConfig`]: every node with the same view computes the same table.
//! - Every slot has exactly `min(replicas, members)` distinct owners.
//! - Adding or removing one node changes preference lists only by
//!   including or excluding that node; about 1/n of the slots move.
//!
//! The algorithm, the exact hash inputs and the measured balance are in
//! `docs/ring.md`.

mod error;
mod handle;
mod member;
mod ring;
mod slot;

#[cfg(test)]
mod measure;

pub use error::{Result, RingError};
pub use handle::{RingGuard, RingHandle};
pub use member::{Member, NodeId, NodeIdx};
pub use ring::{slot_point, vnode_point, Ring, RingConfig, MEMBERS_MAX, NODE_ID_LEN_MAX, POINTS_MAX, REPLICAS_MAX};
pub use slot::{crc16, hash_tag, slot, SLOTS};
