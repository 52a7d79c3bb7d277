//! A ringcache node: the listener, client connections, routing and
//! forwarding, and the wiring of the replication state machine to the
//! transport and the clock, over the command layer (`ringcache-commands`),
//! the keyspace (`ringcache-store`) and the wire protocol
//! (`ringcache-resp`). The node-level commands (CONFIG, INFO, CLIENT,
//! CLUSTER, AUTH, HELLO) live here in `cmd`; the data commands do not.
//!
//! One request, end to end: a connection reads whatever the client sent,
//! frames every complete command, dispatches each (locking only the shards
//! of its keys), and writes all the replies with one write. Nothing a client
//! sends can take down the node: malformed input closes that connection
//! with a protocol error, and every size has a configured limit.

pub mod blocking;
pub mod client;
pub mod cluster;
pub mod cmd;
pub mod config;
pub mod connection;
pub mod observe;
pub mod pause;
pub mod pubsub;
mod server;
pub mod shared;
pub mod tracking;

pub use config::{ClusterMode, Config, ConfigError, LogLevel, Peer, Seed};
pub use connection::{Session, Step};
pub use server::{Server, ServerError};
pub use shared::Shared;

/// The Redis version this node reports (INFO, HELLO), for clients that gate
/// features on it. ringcache implements that version's replies for the
/// commands it supports.
pub const REDIS_VERSION: &str = "7.2.4";

/// ringcache's own version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
