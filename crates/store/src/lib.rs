//! The keyspace of one node: typed values in shards, expiry, memory
//! accounting and eviction. No sockets, no async.
//!
//! Concurrency: the keyspace is split into a power-of-two number of shards,
//! each behind its own lock, chosen by the key's hash. A command locks only
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

mod clock;
mod db;
mod entry;
mod eviction;
mod glob;
mod hasher;
mod key;
mod shard;
mod table;
pub mod value;

pub use clock::now_ms;
pub use db::{Db, DbConfig, KeyHash, Locked, Stats};
pub use entry::{Entry, ENTRY_OVERHEAD};
pub use eviction::{Oom, Policy};
pub use glob::glob_match;
pub use shard::{ScanFilter, Shard};
pub use value::{HashValue, ListValue, SetValue, StrValue, Value, WrongType, ZSetValue};
