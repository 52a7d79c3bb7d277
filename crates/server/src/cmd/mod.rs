//! The node's command table: the data commands of `ringcache-commands`
//! and the node-level families that live here because they are about the
//! node itself (connections, configuration, INFO, CLUSTER).
//!
//! The server is the command layer's [`Env`]: one concrete type, so every
//! handler is monomorphised for it. What a write changed comes back in
//! `ClientState::changes`, which the connection hands to replication.

mod cluster;
mod connection;
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
    let node = [connection::COMMANDS, server::COMMANDS, cluster::COMMANDS];
    Table::new(ringcache_commands::data_commands().into_iter().chain(node.into_iter().flatten().copied()))
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

    fn databases(&self) -> u32 {
        self.databases
    }

    fn db0_only(&self) -> bool {
        self.db0_only
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
