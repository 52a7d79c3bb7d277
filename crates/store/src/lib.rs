//! The keyspace of one node: typed values in shards, expiry, memory
//! accounting and eviction. No sockets, no async.
//!
//! Concurrency: the keyspace is split into a power-of-two number of shards,
//! each behind its own lock, chosen by the key's hash slot (so a slot's
//! keys are in one shard). A command locks only
//! the shards of its keys (in ascending index order, so two commands never
//! deadlock); a transaction locks the union of its commands' shards, which
//! makes it atomic. There is no global lock on the data path.
//!
//! Invariants:
//! - Keys and values stored here are owned copies, never slices of a client's
//!   read buffer (which they would pin).
//! - `Shard::used_memory` is the sum of the entries' accounted sizes; every
//!   change to a stored value goes through `Shard::written` or a method that
//!   calls it, so the sum, watched-key versions and empty-collection removal
//!   stay right.
//! - A key past its expiry time is never returned: it is removed when it is
//!   touched (lazy expiry) or found by the background cycle (active expiry).
//! - Every entry carries a version; every local write makes a new one,
//!   expiry and eviction make none; deletes leave tombstones when
//!   `tombstone_grace_ms > 0`; per-slot digests follow every change
//!   (docs/store.md, docs/replication.md).

mod clock;
pub mod codec;
mod db;
pub mod delta;
mod digest;
mod entry;
mod eviction;
mod glob;
mod hasher;
pub mod invalidate;
mod key;
pub mod lazyfree;
mod shard;
mod table;
mod tomb;
pub mod value;

pub use clock::now_ms;
pub use codec::{CodecError, DecodeLimits, Incoming, StateRef};
pub use db::{Db, DbConfig, KeyHash, Locked, Stats};
pub use digest::{entry_digest, floor_digest, key_hash};
pub use entry::{Entry, ENTRY_OVERHEAD};
pub use eviction::{Oom, Policy};
pub use glob::glob_match;
pub use key::Key;
pub use lazyfree::LazyFree;
pub use shard::{local_writes, Applied, DeltaApplied, ScanFilter, Shard, ShardConfig, DATABASES_MAX};
pub use tomb::TOMBSTONE_OVERHEAD;
pub use value::{
    HashValue, ListValue, SetValue, StrValue, StreamEntry, StreamId, StreamValue, Value, WrongType, ZSetValue,
};
