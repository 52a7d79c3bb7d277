//! The node's command table: the data commands of `ringcache-commands`
//! and the node-level families that live here because they are about the
//! node itself (connections, configuration, INFO, CLUSTER, Pub/Sub).
//!
//! The server is the command layer's [`Env`]: one concrete type, so every
//! handler is monomorphised for it. What a write changed comes back in
//! `ClientState::changes`, which the connection hands to replication.

mod cluster;
pub(crate) use cluster::wait_args;
mod connection;
mod pubsub;
mod server;

use std::sync::LazyLock;

use ringcache_commands::{Env, Table};
use ringcache_resp::Reply;
use ringcache_store::Db;

use crate::shared::Shared;

pub use ringcache_commands::{
    args, end_multi, flag, printable, release_watches, ClientState, CmdError, CmdResult, Keys,
};

/// A command of this node.
pub type CommandSpec = ringcache_commands::CommandSpec<Shared>;
/// What a handler of this node gets.
pub type Ctx<'a> = ringcache_commands::Ctx<'a, Shared>;
pub type Handler = ringcache_commands::Handler<Shared>;
pub type Prepared = ringcache_commands::Prepared<Shared>;

static TABLE: LazyLock<Table<Shared>> = LazyLock::new(|| {
    let node = [connection::COMMANDS, server::COMMANDS, cluster::COMMANDS, pubsub::COMMANDS];
    Table::new(
        ringcache_commands::data_commands()
            .into_iter()
            .chain(node.into_iter().flatten().copied())
            .chain(ringcache_scripting::commands()),
    )
});

impl Env for Shared {
    type Client = crate::client::Client;

    fn db(&self) -> &Db {
        &self.db
    }

    fn table(&self) -> &'static Table<Self> {
        &TABLE
    }

    fn proto_max_bulk_len(&self) -> u64 {
        self.with_config(|c| c.proto_max_bulk_len)
    }

    fn query_buffer_limit(&self) -> usize {
        self.with_config(|c| c.client_query_buffer_limit) as usize
    }

    fn journal(&self) -> bool {
        self.journal
    }

    fn hll_sparse_max_bytes(&self) -> usize {
        self.with_config(|c| c.hll_sparse_max_bytes).try_into().unwrap_or(usize::MAX)
    }

    fn cluster_enabled(&self) -> bool {
        self.cluster.is_some()
    }

    fn encoding_limits(&self) -> ringcache_commands::EncodingLimits {
        let d = ringcache_commands::EncodingLimits::default();
        self.with_config(|c| {
            let n = |name: &str, default: i64| c.get(name).and_then(|v| v.parse::<i64>().ok()).unwrap_or(default);
            let u = |name: &str, default: u64| u64::try_from(n(name, default as i64)).unwrap_or(default);
            ringcache_commands::EncodingLimits {
                hash_max_listpack_entries: u("hash-max-listpack-entries", d.hash_max_listpack_entries),
                hash_max_listpack_value: u("hash-max-listpack-value", d.hash_max_listpack_value),
                set_max_intset_entries: u("set-max-intset-entries", d.set_max_intset_entries),
                set_max_listpack_entries: u("set-max-listpack-entries", d.set_max_listpack_entries),
                set_max_listpack_value: u("set-max-listpack-value", d.set_max_listpack_value),
                zset_max_listpack_entries: u("zset-max-listpack-entries", d.zset_max_listpack_entries),
                zset_max_listpack_value: u("zset-max-listpack-value", d.zset_max_listpack_value),
                list_max_listpack_size: n("list-max-listpack-size", d.list_max_listpack_size),
            }
        })
    }

    fn stream_node_limits(&self) -> ringcache_store::value::NodeLimits {
        let d = ringcache_store::value::NodeLimits::default();
        self.with_config(|c| {
            let n = |name: &str, default: u64| c.get(name).and_then(|v| v.parse::<u64>().ok()).unwrap_or(default);
            ringcache_store::value::NodeLimits {
                max_bytes: n("stream-node-max-bytes", d.max_bytes),
                max_entries: n("stream-node-max-entries", d.max_entries),
            }
        })
    }

    fn databases(&self) -> u32 {
        self.databases
    }

    #[inline]
    fn any_blocked(&self) -> bool {
        !self.blocked.is_empty()
    }

    fn awaited(&self, dbid: u16, key: &[u8]) -> bool {
        self.blocked.awaited(dbid, key)
    }

    fn awaited_keys(&self, dbid: u16) -> Vec<bytes::Bytes> {
        self.blocked.awaited_keys(dbid)
    }

    fn db0_only(&self) -> bool {
        self.db0_only
    }
}

impl ringcache_scripting::ScriptHost for Shared {
    fn scripting(&self) -> &ringcache_scripting::Scripting {
        &self.scripting
    }

    fn slot_is_local(&self, slot: u16) -> bool {
        self.cluster.as_ref().is_none_or(|c| {
            let view = c.view();
            c.coordinator(&view, slot) == view.me
        })
    }

    fn in_cluster(&self) -> bool {
        self.cluster.is_some()
    }

    /// A script may run for long: on the multi-threaded runtime, hand this
    /// worker's other tasks to another thread meanwhile, so that no
    /// connection waits behind it (and the BUSY replies go out).
    fn run_blocking<R>(&self, f: impl FnOnce() -> R) -> R {
        match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
            _ => f(),
        }
    }
}

/// Looks up a command by name, case-insensitively.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    TABLE.lookup(name)
}

/// Every command, for COMMAND.
pub fn all_commands() -> impl Iterator<Item = &'static CommandSpec> {
    TABLE.all()
}

/// Resolves one command of a client's batch (see
/// [`ringcache_commands::prepare`]).
#[inline]
pub fn prepare(shared: &Shared, client: &mut crate::client::Client, args: &[&[u8]]) -> Prepared {
    ringcache_commands::prepare(shared, &mut client.state, args)
}

pub use ringcache_commands::{dispatch_prepared, warm};

/// Runs one command from a client at time `now_ms`. The reply is ready to
/// encode.
pub fn dispatch(shared: &Shared, client: &mut crate::client::Client, args: &[&[u8]], now_ms: u64) -> Reply {
    ringcache_commands::dispatch(shared, client, args, now_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        for spec in all_commands() {
            assert!(spec.arity != 0, "{}", spec.name);
            assert!(!(spec.has(flag::WRITE) && spec.has(flag::READONLY)), "{}", spec.name);
            assert_eq!(lookup(spec.name.to_ascii_uppercase().as_bytes()).map(|s| s.name), Some(spec.name));
        }
        for name in ["get", "exec", "config", "cluster", "hello"] {
            assert!(lookup(name.as_bytes()).is_some(), "{name} is in the table");
        }
    }
}
