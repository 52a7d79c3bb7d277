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
mod docs;
mod key_specs;
mod module;
mod observe;
mod pubsub;
mod server;

use std::collections::HashMap;
use std::sync::LazyLock;

use ringcache_commands::{Env, Ran, SubSpec, Table};
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
    let node = [
        connection::COMMANDS,
        server::COMMANDS,
        cluster::COMMANDS,
        pubsub::COMMANDS,
        observe::COMMANDS,
        module::COMMANDS,
    ];
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

    fn lazyfree_lazy_user_del(&self) -> bool {
        self.with_config(|c| c.get("lazyfree-lazy-user-del").is_some_and(|v| v == "yes"))
    }

    fn lazyfree_lazy_user_flush(&self) -> bool {
        self.with_config(|c| c.get("lazyfree-lazy-user-flush").is_some_and(|v| v == "yes"))
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

    #[inline]
    fn subcommands(&self, spec: &'static CommandSpec) -> &'static [SubSpec] {
        stat_names().subcommands_at(TABLE.position(spec))
    }

    #[inline]
    fn command_starting(&self, client: &mut Self::Client, spec: &'static CommandSpec, args: &[&[u8]]) {
        // A container's call is named by its subcommand whoever runs it (a
        // client, EXEC, a script): in CLIENT LIST's `cmd=` and in the
        // statistics (`cmdstat_object|encoding`), as in Redis 7.
        let subs = stat_names().subcommands_at(TABLE.position(spec));
        if let (false, Some(arg)) = (subs.is_empty(), args.get(1)) {
            if let Some(sub) = subs.iter().find(|s| args::is(arg, s.short())) {
                client.state.last_cmd = sub.name;
                *client.info.last_cmd.lock() = sub.name;
            }
        }
        self.observe.starting(client, spec.name, args);
    }

    #[inline]
    fn command_ran(&self, client: &mut Self::Client, ran: &Ran<'_, Self>) {
        let names = stat_names();
        let slot = names.slot(ran.spec, client.state.last_cmd);
        self.observe.ran(client, slot, names.flags[slot], ran);
        self.tracking.command_ran(self, client, ran);
    }

    fn command_refused(&self, client: &mut Self::Client, spec: Option<&'static CommandSpec>, reply: &Reply) {
        // The dispatcher names a subcommand before checking its arity.
        let names = stat_names();
        self.observe.refused(spec.map(|s| names.slot(s, client.state.last_cmd)), reply);
    }
}

/// The names per-command statistics are kept under: every command of the
/// table (at its [`Table::position`]), then every subcommand of the
/// containers (`config|get`, `object|encoding`), as Redis 7 names them in
/// INFO commandstats. It also holds each container's subcommands, the
/// node's one list of them: its own (CONFIG, CLIENT...), the scripting
/// crate's (SCRIPT, FUNCTION) and the command layer's (OBJECT, XGROUP...).
#[derive(Debug)]
pub struct StatNames {
    names: Vec<&'static str>,
    /// The flags of each (a subcommand's own: CONFIG GET is admin, CLIENT
    /// ID is not).
    flags: Vec<u32>,
    subcommands: HashMap<&'static str, usize>,
    /// The subcommands of the command at each table position.
    subs_at: Vec<&'static [SubSpec]>,
}

impl StatNames {
    fn new() -> StatNames {
        let mut names: Vec<&'static str> = TABLE.all().map(|s| s.name).collect();
        let mut flags: Vec<u32> = TABLE.all().map(|s| s.flags).collect();
        let mut subcommands = HashMap::new();
        let mut subs_at = Vec::with_capacity(names.len());
        for spec in TABLE.all() {
            let subs = container_subcommands(spec.name);
            for sub in subs {
                subcommands.insert(sub.name, names.len());
                names.push(sub.name);
                flags.push(sub.flags);
            }
            subs_at.push(subs);
        }
        StatNames { names, flags, subcommands, subs_at }
    }

    /// The subcommands of the command at table position `at` (empty for
    /// one that is no container).
    #[inline]
    pub fn subcommands_at(&self, at: usize) -> &'static [SubSpec] {
        self.subs_at[at]
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    pub fn name(&self, slot: usize) -> &'static str {
        self.names[slot]
    }

    /// The slot of a command that ran as `spec` and named itself
    /// `last_cmd` (a container's handler names the subcommand it ran).
    #[inline]
    pub fn slot(&self, spec: &'static CommandSpec, last_cmd: &'static str) -> usize {
        let at = TABLE.position(spec);
        let n = spec.name.len();
        if last_cmd.len() > n && last_cmd.as_bytes()[n] == b'|' && last_cmd.starts_with(spec.name) {
            return self.subcommands.get(last_cmd).copied().unwrap_or(at);
        }
        at
    }

    /// The slots `name` names, case-insensitively: a command (with its
    /// subcommands, for a container) or a `container|sub`.
    pub fn matching(&self, name: &[u8]) -> Vec<usize> {
        let name = String::from_utf8_lossy(name).to_ascii_lowercase();
        let prefix = format!("{name}|");
        (0..self.names.len()).filter(|&i| self.names[i] == name || self.names[i].starts_with(&prefix)).collect()
    }
}

/// The subcommands of container `name`, wherever it is defined; built
/// once (by [`StatNames`]), so the server's own tables are copied out of
/// their handlers' entries and kept for the node's life.
fn container_subcommands(name: &str) -> &'static [SubSpec] {
    let node = server::subcommands_of(name);
    if !node.is_empty() {
        let specs: Vec<SubSpec> =
            node.iter().map(|s| SubSpec { name: s.name, arity: s.arity, flags: s.flags, summary: s.summary }).collect();
        return Vec::leak(specs);
    }
    let scripting = ringcache_scripting::subcommands_of(name);
    if !scripting.is_empty() {
        return scripting;
    }
    ringcache_commands::subcommands_of(name)
}

/// The node's [`StatNames`].
pub fn stat_names() -> &'static StatNames {
    static NAMES: LazyLock<StatNames> = LazyLock::new(StatNames::new);
    &NAMES
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
