//! The command layer: Redis's data commands over the store.
//!
//! Every command is a [`CommandSpec`] in its family's table, with Redis's
//! name, arity, flags and key positions, and a handler that does the same
//! three steps: parse the arguments, apply, build the reply. The
//! [dispatcher](dispatch) runs one command for one client: checks, MULTI
//! queueing, eviction, locking, the handler, and — with a journal — the
//! [`Change`]s the write left, read under the command's locks so that each
//! is the state the command produced.
//!
//! This crate knows nothing of clusters or sockets: the node that runs it
//! is an [`Env`] (a keyspace, a command table, a few limits) and each
//! connection's part is a [`ClientState`]. Node-level commands (CONFIG,
//! INFO, CLIENT, CLUSTER, AUTH...) live in the server, which builds one
//! [`Table`] of these families and its own.
//!
//! Invariants: handlers lock nothing themselves (the dispatcher holds the
//! shards of every declared key for the whole call); a command touches
//! only the keys its [`Keys`] declares, or the whole keyspace for
//! [`Keys::All`]; every reply and error text is Redis 7.2's.

pub mod args;
mod bitmaps;
pub mod blocking;
mod databases;
mod dispatch;
mod dump;
mod env;
mod geo;
mod hashes;
mod hyperloglog;
mod keys;
mod lists;
mod object;
mod rdb;
mod sets;
mod sort;
mod spec;
mod state;
mod streams;
mod strings;
mod table;
mod transactions;
mod zsets;

#[cfg(test)]
mod testing;

pub use blocking::{Block, BlockKind};
pub use dispatch::{call, dispatch, dispatch_prepared, lookup_for, prepare, warm, Caller, Prepared, Ran};
pub use env::Env;
pub use object::{encoding_name, EncodingLimits};
pub use spec::{flag, may_replicate, CmdError, CmdResult, CommandSpec, Ctx, Handler, Keys, SubSpec};
pub use state::{Change, ClientState, Multi, DELTA_ELEMENTS_MIN};
pub use table::{printable, unknown_command, LookupCache, Table};
pub use transactions::{end_multi, release_watches};

/// The subcommands of the data containers of this crate (OBJECT, MEMORY,
/// XGROUP, XINFO) named `name`; empty for any other command.
pub fn subcommands_of(name: &str) -> &'static [SubSpec] {
    match name {
        "object" => object::OBJECT_SUBCOMMANDS,
        "memory" => object::MEMORY_SUBCOMMANDS,
        "xgroup" => streams::XGROUP_SUBCOMMANDS,
        "xinfo" => streams::XINFO_SUBCOMMANDS,
        _ => &[],
    }
}

/// Every data command family's table, in the order COMMAND lists them:
/// strings, bitmaps, keys, databases, hashes, lists, sets, sorted sets,
/// HyperLogLog, geo, streams, sorting, DUMP/RESTORE, OBJECT/MEMORY, transactions.
pub fn data_commands<E: Env>() -> Vec<CommandSpec<E>> {
    let mut all = strings::commands();
    for family in [
        bitmaps::commands,
        keys::commands,
        databases::commands,
        hashes::commands,
        lists::commands,
        sets::commands,
        zsets::commands,
        hyperloglog::commands,
        geo::commands,
        streams::commands,
        sort::commands,
        dump::commands,
        object::commands,
        transactions::commands,
    ] {
        all.extend(family());
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestEnv;

    fn args<'a>(v: &[&'a str]) -> Vec<&'a [u8]> {
        v.iter().map(|s| s.as_bytes()).collect()
    }

    #[test]
    fn key_positions() {
        let a = args(&["mset", "a", "1", "b", "2"]);
        let keys: Vec<_> = Keys::Range { first: 1, last: -1, step: 2 }.of(&a).collect();
        assert_eq!(keys, vec![&b"a"[..], b"b"]);
        let a = args(&["get", "k"]);
        assert_eq!(Keys::ONE.of(&a).collect::<Vec<_>>(), vec![&b"k"[..]]);
        assert_eq!(Keys::None.of(&a).count(), 0);
        let a = args(&["lmove", "s", "d", "LEFT", "RIGHT"]);
        assert_eq!(Keys::Range { first: 1, last: 2, step: 1 }.of(&a).count(), 2);
        let a = args(&["del"]);
        assert_eq!(Keys::Range { first: 1, last: -1, step: 1 }.of(&a).count(), 0);

        // numkeys commands: the fixed keys, then the counted ones.
        let a = args(&["zunionstore", "d", "2", "a", "b", "WEIGHTS", "1", "2"]);
        assert_eq!(Keys::Numkeys { at: 2 }.of(&a).collect::<Vec<_>>(), vec![&b"d"[..], b"a", b"b"]);
        let a = args(&["lmpop", "2", "a", "b", "LEFT"]);
        assert_eq!(Keys::Numkeys { at: 1 }.of(&a).collect::<Vec<_>>(), vec![&b"a"[..], b"b"]);
        for bad in ["0", "-1", "x", "4"] {
            let a = args(&["zunionstore", "d", bad, "a", "b"]);
            assert_eq!(Keys::Numkeys { at: 2 }.of(&a).collect::<Vec<_>>(), vec![&b"d"[..]], "{bad}");
        }
        assert_eq!(Keys::Numkeys { at: 2 }.legacy_range(), (1, 1, 1));
        assert_eq!(Keys::Numkeys { at: 1 }.legacy_range(), (0, 0, 0));
    }

    #[test]
    fn table_is_consistent() {
        let node = testing::Node::new();
        let table = node.env.table();
        assert!(!table.is_empty());
        for spec in table.all() {
            assert!(spec.arity != 0, "{}", spec.name);
            assert!(!(spec.has(flag::WRITE) && spec.has(flag::READONLY)), "{}", spec.name);
            assert_eq!(table.lookup(spec.name.to_ascii_uppercase().as_bytes()).map(|s| s.name), Some(spec.name));
        }
        let _: &TestEnv = &node.env;
    }

    #[test]
    fn lookup_cache_follows_the_name() {
        let node = testing::Node::new();
        let table = node.env.table();
        let mut cache = LookupCache::default();
        assert_eq!(table.lookup_cached(&mut cache, b"GET").map(|s| s.name), Some("get"));
        assert_eq!(table.lookup_cached(&mut cache, b"GET").map(|s| s.name), Some("get"));
        assert_eq!(table.lookup_cached(&mut cache, b"set").map(|s| s.name), Some("set"));
        assert!(table.lookup_cached(&mut cache, b"nosuch").is_none());
        assert_eq!(table.lookup_cached(&mut cache, b"set").map(|s| s.name), Some("set"));
    }

    #[test]
    fn a_journal_reports_each_changed_key_once_per_command() {
        let mut node = testing::Node::with_journal(true);
        node.run(&["set", "k", "v"]);
        let set = std::mem::take(&mut node.client.changes);
        assert_eq!(set.len(), 1);
        assert_eq!((&set[0].key[..], set[0].slot), (&b"k"[..], ringcache_ring::slot(b"k")));
        assert!(set[0].state.is_some(), "a SET leaves a value");

        // A read changes nothing; a failed write neither.
        node.run(&["get", "k"]);
        node.run(&["lpush", "k", "x"]);
        assert!(node.client.changes.is_empty());

        node.run(&["del", "k"]);
        let del = std::mem::take(&mut node.client.changes);
        assert_eq!(del.len(), 1);
        assert_eq!(del[0].state, None, "a DEL leaves a tombstone");
        assert_eq!(
            del[0].version.compare(&set[0].version),
            ringcache_version::Order::After,
            "the tombstone follows the value"
        );

        // A transaction reports when it runs, every key once.
        for cmd in [&["multi"][..], &["set", "a", "1"], &["incr", "a"], &["set", "b", "2"]] {
            node.run(cmd);
        }
        assert!(node.client.changes.is_empty(), "nothing changed while queueing");
        node.run(&["exec"]);
        let mut keys: Vec<_> = node.client.changes.iter().map(|c| c.key.clone()).collect();
        keys.sort();
        assert_eq!(keys, vec![&b"a"[..], b"b"]);
    }

    #[test]
    fn without_a_journal_writes_report_nothing() {
        let mut node = testing::Node::new();
        node.run(&["set", "k", "v"]);
        assert!(node.client.changes.is_empty());
    }
}
