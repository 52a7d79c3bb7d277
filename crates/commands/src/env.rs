//! What the command layer needs from the node that runs it.

use ringcache_resp::Reply;
use ringcache_store::Db;

use crate::{ClientState, CommandSpec, Ran, Table};

/// The node a command runs on, as the command layer sees it: a keyspace,
/// its command table and a few limits. The server implements it for its
/// shared state; tests implement it for a bare keyspace.
///
/// Handlers are generic over it and the server names one type, so every
/// call is monomorphised: no dynamic dispatch on the hot path.
pub trait Env: Sized + Sync + 'static {
    /// The server's per-connection state, which holds the command layer's
    /// part ([`ClientState`]) beside what only the server knows of.
    type Client: AsMut<ClientState<Self>> + AsRef<ClientState<Self>>;

    fn db(&self) -> &Db;

    /// Every command this node has, for lookups (EXEC runs what MULTI
    /// queued by name).
    fn table(&self) -> &'static Table<Self>;

    /// The largest string a command may build (`proto-max-bulk-len`).
    fn proto_max_bulk_len(&self) -> u64;

    /// The most bytes of commands a MULTI may queue
    /// (`client-query-buffer-limit`).
    fn query_buffer_limit(&self) -> usize;

    /// The number of databases (`databases`): SELECT, MOVE, COPY and
    /// SWAPDB take indexes `0..databases`.
    fn databases(&self) -> u32;

    /// Whether only database 0 may be used, as in Redis Cluster
    /// (`redis-cluster` mode): MOVE, SWAPDB and COPY to another database
    /// are refused with Redis Cluster's errors.
    fn db0_only(&self) -> bool;

    /// Whether writes report what they changed (see
    /// [`ClientState::changes`]): on in a replicated cluster.
    fn journal(&self) -> bool;

    /// The longest a sparse HyperLogLog may grow before it is made dense
    /// (`hll-sparse-max-bytes`, header included).
    fn hll_sparse_max_bytes(&self) -> usize {
        3000
    }

    /// Whether DEL frees large values in the background as UNLINK does
    /// (`lazyfree-lazy-user-del`).
    fn lazyfree_lazy_user_del(&self) -> bool {
        false
    }

    /// Whether FLUSHDB and FLUSHALL without SYNC or ASYNC flush
    /// asynchronously (`lazyfree-lazy-user-flush`).
    fn lazyfree_lazy_user_flush(&self) -> bool {
        false
    }

    /// Whether this node is one of a cluster: commands that would read
    /// keys they do not declare (SORT's `BY`/`GET` patterns) must then keep
    /// to their declared key's slot, as in Redis Cluster.
    fn cluster_enabled(&self) -> bool {
        false
    }

    /// Whether any client waits on a key (a blocking command): one atomic
    /// load, so that writes pay nothing more while nobody waits.
    fn any_blocked(&self) -> bool {
        false
    }

    /// Whether a client waits on `key` of database `dbid`.
    fn awaited(&self, dbid: u16, key: &[u8]) -> bool {
        let _ = (dbid, key);
        false
    }

    /// Every key of database `dbid` that a client waits on (SWAPDB wakes
    /// them).
    fn awaited_keys(&self, dbid: u16) -> Vec<bytes::Bytes> {
        let _ = dbid;
        Vec::new()
    }

    /// The compact-encoding limits OBJECT ENCODING reports by (Redis's
    /// `*-max-listpack-*` parameters).
    fn encoding_limits(&self) -> crate::EncodingLimits {
        crate::EncodingLimits::default()
    }

    /// Where a stream starts a new node (`stream-node-max-bytes`,
    /// `stream-node-max-entries`), which decides what approximate
    /// trimming removes.
    fn stream_node_limits(&self) -> ringcache_store::value::NodeLimits {
        ringcache_store::value::NodeLimits::default()
    }

    /// The subcommands of container `spec` (empty for any other command),
    /// which the dispatcher checks before the container's handler runs, as
    /// Redis's `lookupCommand` does. A node with containers of its own
    /// (CONFIG, CLIENT, SCRIPT...) answers for those too; this crate's are
    /// [`crate::subcommands_of`].
    #[inline]
    fn subcommands(&self, spec: &'static CommandSpec<Self>) -> &'static [crate::SubSpec] {
        crate::subcommands_of(spec.name)
    }

    /// Called before every command's handler runs (see [`crate::call`]).
    #[inline]
    fn command_starting(&self, _client: &mut Self::Client, _spec: &'static CommandSpec<Self>, _args: &[&[u8]]) {}

    /// Called after every command's handler ran, whoever ran it (a client,
    /// EXEC, a script), with how long it took and what it answered: the
    /// node's statistics, slow log, latency monitor and MONITOR feed.
    #[inline]
    fn command_ran(&self, _client: &mut Self::Client, _ran: &Ran<'_, Self>) {}

    /// Called when a command is refused before its handler runs (unknown,
    /// wrong arity, NOAUTH, OOM, a MULTI queue too large): `spec` is
    /// `None` for an unknown command.
    #[inline]
    fn command_refused(&self, _client: &mut Self::Client, _spec: Option<&'static CommandSpec<Self>>, _reply: &Reply) {}
}
