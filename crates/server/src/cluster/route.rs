//! Where a command runs, decided from its keys' slots before it runs.
//!
//! Rules (DESIGN.md, "Routing"):
//! - One slot: on the slot's coordinator: here, or forwarded there (or, in
//!   `redis-cluster` mode with `cluster-strict`, a `-MOVED` redirect).
//! - Several slots: MGET, MSET, DEL, EXISTS, UNLINK and TOUCH are split
//!   per coordinator and their answers merged; every other command needs
//!   atomicity across its keys and gets `-CROSSSLOT`.
//! - Keyspace-wide commands (SCAN, KEYS, DBSIZE, RANDOMKEY, FLUSHDB,
//!   FLUSHALL) cover every node in `proxy` mode and this node's slots in
//!   `redis-cluster` mode. In `proxy` mode CLUSTER COUNTKEYSINSLOT and
//!   GETKEYSINSLOT run on the slot's coordinator.
//! - A transaction is pinned to one slot: its WATCHed keys and queued
//!   commands must share it (`-CROSSSLOT` otherwise, which also fails the
//!   transaction), and if that slot lives elsewhere, WATCH goes to a
//!   session held for this client on that node and EXEC sends the queue
//!   there to run atomically.
//!
//! Commands without keys (PING, CLIENT, CONFIG, HELLO, AUTH ...) always run
//! here: they concern this connection or this node.
//! - Databases: a forwarded command runs in the client's database (the
//!   message carries it, see `forward`). SWAPDB is refused, queued or
//!   not: no node can swap two databases of the whole cluster at once. A
//!   transaction that runs on another node may not contain SELECT (EXEC
//!   answers EXECABORT): the client here would not follow it.
//!
//! Invariant: one command, one view. [`route`] loads the cluster view once
//! and decides everything against it; what it returns names nodes by id,
//! so nothing of that view's numbering outlives the decision. Until this
//! node has reached a member, keyed commands get `-CLUSTERDOWN`.

use bytes::Bytes;
use ringcache_resp::Reply;
use ringcache_ring::{slot, NodeIdx, SLOTS};
use ringcache_transport::NodeId;

use super::forward::{Entry, Merge, Part};
use super::{Cluster, ClusterView, CLUSTERDOWN};
use crate::client::Client;
use crate::cmd::{self, flag, CommandSpec, Keys};
use crate::config::ClusterMode;

/// What to do with one command.
#[derive(Debug)]
pub enum Route {
    /// Run it here, as a standalone node would, after any forwarded
    /// commands before it.
    Local,
    /// Run it here: its keys all live here. Unlike [`Route::Local`] it
    /// does not wait for forwarded commands before it: their keys live
    /// elsewhere, so running it first changes nothing any command of the
    /// run can see, and the pipeline keeps going in one run.
    Here,
    /// Answer this without running it.
    Reply(Reply),
    /// Run it elsewhere (or on several nodes, this one included).
    Remote(Entry),
}

pub const CROSSSLOT: &str = "CROSSSLOT Keys in request don't hash to the same slot";
/// Redis Cluster's answer, and ours in both modes.
pub const SWAPDB_REFUSED: &str = "ERR SWAPDB is not allowed in cluster mode";

/// SCAN cursors in `proxy` mode: the low bits pick the node, the rest is
/// that node's own cursor.
const SCAN_NODE_BITS: u32 = 12;

/// Decides where `args` (the command `spec`, `None` if unknown) runs for
/// `client`. Errors of the command itself
/// (unknown, arity, authentication) are left to the dispatcher: they run
/// "here" and fail the same way they would on a standalone node.
pub fn route(cluster: &Cluster, client: &mut Client, spec: Option<&'static CommandSpec>, args: &[&[u8]]) -> Route {
    let Some(spec) = spec else {
        return Route::Local;
    };
    if !spec.arity_ok(args.len()) || (!client.state.authenticated && !spec.has(flag::NO_AUTH)) {
        return Route::Local;
    }
    if spec.keys != Keys::None && !cluster.joined() {
        return Route::Reply(Reply::error_static(CLUSTERDOWN));
    }
    let view = cluster.view();
    let v = &**view;
    if spec.name == "reset" || (spec.name == "unwatch" && client.state.multi.is_none()) {
        // Both forget every WATCH (RESET also a MULTI): the remote
        // session's too.
        return end_transaction(cluster, client, args);
    }
    if spec.name == "swapdb" {
        if let Some(m) = client.state.multi.as_mut() {
            m.dirty = true;
        }
        return Route::Reply(Reply::error_static(SWAPDB_REFUSED));
    }
    if client.state.multi.is_some() {
        return route_in_multi(cluster, v, client, spec, args);
    }
    if spec.name == "watch" {
        return route_watch(cluster, v, client, args);
    }
    if spec.name == "wait" {
        // Answered in its turn in the run, once every command before it
        // is answered (and so its writes known); bad arguments fail here.
        return match crate::cmd::wait_args(args) {
            Ok((replicas, timeout)) => {
                Route::Remote(Entry { parts: Vec::new(), merge: Merge::Wait { replicas, timeout } })
            }
            Err(_) => Route::Local,
        };
    }
    if cluster.mode == ClusterMode::Proxy && args.len() >= 2 {
        if let Some(merge) = script_fan_out(spec.name, args[1]) {
            return every_node_me_last(v, args, merge);
        }
    }
    match spec.keys {
        Keys::None => Route::Local,
        Keys::All => match cluster.mode {
            ClusterMode::Proxy => route_keyspace(cluster, v, spec, args),
            ClusterMode::RedisCluster => Route::Local,
        },
        keys => route_keys(cluster, v, spec, keys, args),
    }
}

/// `proxy` mode: the commands that change a node's scripts or function
/// libraries run on every node, so that EVALSHA and FCALL work wherever
/// the script's keys send them; the answer is this node's own.
fn script_fan_out(name: &str, sub: &[u8]) -> Option<Merge> {
    let is = |s: &str| sub.eq_ignore_ascii_case(s.as_bytes());
    match name {
        "script" if is("load") => Some(Merge::LastPart),
        "script" if is("flush") => Some(Merge::AllOk),
        "function" if is("load") || is("delete") || is("restore") => Some(Merge::LastPart),
        "function" if is("flush") => Some(Merge::AllOk),
        _ => None,
    }
}

fn every_node_me_last(view: &ClusterView, args: &[&[u8]], merge: Merge) -> Route {
    let me = view.me().id.clone();
    let mut parts: Vec<Part> = view
        .nodes
        .iter()
        .filter(|n| n.id != me)
        .map(|n| Part { node: n.id.clone(), cmds: vec![owned(args)] })
        .collect();
    parts.push(Part { node: me, cmds: vec![owned(args)] });
    Route::Remote(Entry { parts, merge })
}

/// The one slot of `keys`, `Ok(None)` if there are none, `Err` if they
/// span several.
fn one_slot<'a>(keys: impl Iterator<Item = &'a [u8]>) -> Result<Option<u16>, ()> {
    let mut found = None;
    for k in keys {
        let s = slot(k);
        match found {
            None => found = Some(s),
            Some(f) if f != s => return Err(()),
            Some(_) => {}
        }
    }
    Ok(found)
}

fn owned(args: &[&[u8]]) -> Vec<Bytes> {
    args.iter().map(|a| Bytes::copy_from_slice(a)).collect()
}

/// The id of `idx` in `view`: what outlives the routing decision.
fn id(view: &ClusterView, idx: NodeIdx) -> NodeId {
    view.node(idx).id.clone()
}

fn route_keys(cluster: &Cluster, view: &ClusterView, spec: &CommandSpec, keys: Keys, args: &[&[u8]]) -> Route {
    match one_slot(keys.of(args)) {
        Ok(None) => Route::Local,
        Ok(Some(s)) => {
            let node = cluster.coordinator(view, s);
            let quorum_read = cluster.replication.as_ref().is_some_and(|r| r.read_quorum() > 1)
                && super::replicate::needs_quorum_read(spec);
            if node == view.me && quorum_read {
                // Runs here, in the run, after reading its keys at R owners.
                Route::Remote(Entry::relay(id(view, node), owned(args)))
            } else if node == view.me {
                Route::Here
            } else if cluster.strict() {
                Route::Reply(cluster.moved(view, s, node))
            } else {
                Route::Remote(Entry::relay(id(view, node), owned(args)))
            }
        }
        Err(()) if cluster.strict() => Route::Reply(Reply::error_static(CROSSSLOT)),
        Err(()) => split(cluster, view, spec, args),
    }
}

/// MGET, MSET, DEL, EXISTS, UNLINK and TOUCH over several slots: one
/// sub-command per coordinator, merged back in the keys' order.
fn split(cluster: &Cluster, view: &ClusterView, spec: &CommandSpec, args: &[&[u8]]) -> Route {
    let pairs = match spec.name {
        "mset" => true,
        "mget" | "del" | "exists" | "unlink" | "touch" => false,
        _ => return Route::Reply(Reply::error_static(CROSSSLOT)),
    };
    if pairs && args.len() & 1 == 0 {
        // A key without a value: refused here as a whole (Redis's arity
        // error), before any part could be applied elsewhere.
        return Route::Local;
    }
    let step = if pairs { 2 } else { 1 };
    // Per node: its sub-command and the positions of its keys.
    let mut groups: Vec<(NodeIdx, Vec<Bytes>, Vec<usize>)> = Vec::new();
    for (i, chunk) in args[1..].chunks(step).enumerate() {
        let node = cluster.coordinator(view, slot(chunk[0]));
        let at = match groups.iter().position(|g| g.0 == node) {
            Some(at) => at,
            None => {
                groups.push((node, vec![Bytes::copy_from_slice(args[0])], Vec::new()));
                groups.len() - 1
            }
        };
        groups[at].1.extend(chunk.iter().map(|a| Bytes::copy_from_slice(a)));
        groups[at].2.push(i);
    }
    if groups.iter().all(|g| g.0 == view.me) {
        return Route::Here;
    }
    let merge = match spec.name {
        "mget" => Merge::Mget { positions: groups.iter().map(|g| g.2.clone()).collect(), len: args.len() - 1 },
        "mset" => Merge::AllOk,
        _ => Merge::Sum,
    };
    let parts = groups.into_iter().map(|(node, cmd, _)| Part { node: id(view, node), cmds: vec![cmd] }).collect();
    Route::Remote(Entry { parts, merge })
}

/// `proxy` mode: the keyspace commands cover every node.
fn route_keyspace(cluster: &Cluster, view: &ClusterView, spec: &CommandSpec, args: &[&[u8]]) -> Route {
    // Every member on the ring: a dead one holds nothing it is asked for.
    let every = |cmds: Vec<Vec<Bytes>>, merge: Merge| {
        let parts = view.nodes.iter().map(|n| Part { node: n.id.clone(), cmds: cmds.clone() }).collect();
        Route::Remote(Entry { parts, merge })
    };
    match spec.name {
        "dbsize" => every(vec![owned(args)], Merge::Sum),
        "keys" => every(vec![owned(args)], Merge::Concat),
        "flushdb" | "flushall" => every(vec![owned(args)], Merge::AllOk),
        "randomkey" => every(vec![vec![Bytes::from_static(b"DBSIZE")], owned(args)], Merge::RandomKey),
        "scan" => route_scan(view, args),
        "cluster" => route_slot_query(cluster, view, args),
        _ => Route::Local,
    }
}

/// `proxy` mode: CLUSTER COUNTKEYSINSLOT and GETKEYSINSLOT name a slot,
/// not a key; they run on the slot's coordinator, so that they answer for
/// the cluster. Anything malformed runs here and fails as it would there.
fn route_slot_query(cluster: &Cluster, view: &ClusterView, args: &[&[u8]]) -> Route {
    let argc = match args.get(1) {
        Some(sub) if sub.eq_ignore_ascii_case(b"countkeysinslot") => 3,
        Some(sub) if sub.eq_ignore_ascii_case(b"getkeysinslot") => 4,
        _ => return Route::Local,
    };
    if args.len() != argc {
        return Route::Local;
    }
    let slot = cmd::args::parse_i64(args[2]).and_then(|s| u16::try_from(s).ok());
    match slot.filter(|&s| usize::from(s) < SLOTS).map(|s| cluster.coordinator(view, s)) {
        Some(node) if node != view.me => Route::Remote(Entry::relay(id(view, node), owned(args))),
        _ => Route::Local,
    }
}

/// A cluster SCAN: the cursor names a node (its position on the view's
/// ring) and that node's cursor; each call scans one node, moving to the
/// next when that node is done. A scan across a membership change may
/// miss or repeat the keys that moved (as Redis Cluster's per-node scans
/// do across a resharding).
fn route_scan(view: &ClusterView, args: &[&[u8]]) -> Route {
    let Some(cursor) = std::str::from_utf8(args[1]).ok().and_then(|s| s.parse::<u64>().ok()) else {
        return Route::Reply(Reply::error_static("ERR invalid cursor"));
    };
    let pos = (cursor & ((1 << SCAN_NODE_BITS) - 1)) as usize;
    if pos >= view.nodes.len() {
        // Not a cursor this cluster handed out: nothing left to scan, as
        // Redis answers for a cursor past its table.
        return Route::Reply(Reply::Array(vec![Reply::bulk(Bytes::from_static(b"0")), Reply::Array(Vec::new())]));
    }
    let mut cmd = owned(args);
    cmd[1] = Bytes::from((cursor >> SCAN_NODE_BITS).to_string());
    Route::Remote(Entry {
        parts: vec![Part { node: view.nodes[pos].id.clone(), cmds: vec![cmd] }],
        merge: Merge::Scan { pos, nodes: view.nodes.len(), node_bits: SCAN_NODE_BITS },
    })
}

fn route_watch(cluster: &Cluster, view: &ClusterView, client: &mut Client, args: &[&[u8]]) -> Route {
    let slot = match one_slot(args[1..].iter().copied()) {
        Ok(Some(s)) if client.tx_slot.is_none_or(|t| t == s) => s,
        _ => return Route::Reply(Reply::error_static(CROSSSLOT)),
    };
    client.tx_slot = Some(slot);
    let node = cluster.coordinator(view, slot);
    if node == view.me {
        return Route::Local;
    }
    if cluster.strict() {
        return Route::Reply(cluster.moved(view, slot, node));
    }
    client.tx_session = Some(id(view, node));
    Route::Remote(Entry::relay(id(view, node), owned(args)))
}

/// Runs `args` (which ends the transaction) here, after the node holding
/// this client's WATCHes, if any, has forgotten them. In the same run, so
/// that no later command of the client can overtake the release.
fn end_transaction(cluster: &Cluster, client: &mut Client, args: &[&[u8]]) -> Route {
    client.tx_slot = None;
    match client.tx_session.take() {
        None => Route::Local,
        Some(node) => Route::Remote(Entry {
            parts: vec![
                Part { node, cmds: vec![vec![Bytes::from_static(b"UNWATCH")]] },
                Part { node: cluster.me.clone(), cmds: vec![owned(args)] },
            ],
            merge: Merge::LastPart,
        }),
    }
}

fn route_in_multi(
    cluster: &Cluster,
    view: &ClusterView,
    client: &mut Client,
    spec: &CommandSpec,
    args: &[&[u8]],
) -> Route {
    match spec.name {
        "exec" => {
            let multi = client.state.multi.as_ref().expect("in MULTI");
            let target = client.tx_slot.map(|s| cluster.coordinator(view, s)).filter(|&n| n != view.me);
            if target.is_some() && multi.queued.iter().any(|c| c[0].eq_ignore_ascii_case(b"select")) {
                // It would change the database of the session there, not
                // of this client: refused as a whole (EXECABORT).
                client.state.multi.as_mut().expect("in MULTI").dirty = true;
                return end_transaction(cluster, client, args);
            }
            let multi = client.state.multi.as_ref().expect("in MULTI");
            match target {
                // EXEC there ends the session there.
                Some(node) if !multi.dirty => {
                    client.tx_slot = None;
                    client.tx_session = None;
                    let multi = crate::cmd::end_multi(&mut client.state).expect("in MULTI");
                    let mut cmds = Vec::with_capacity(multi.queued.len() + 2);
                    cmds.push(vec![Bytes::from_static(b"MULTI")]);
                    cmds.extend(multi.queued);
                    cmds.push(vec![Bytes::from_static(b"EXEC")]);
                    Route::Remote(Entry { parts: vec![Part { node: id(view, node), cmds }], merge: Merge::Last })
                }
                // Here, or refused here (EXECABORT): the remote session,
                // if any, only has WATCHes to forget.
                _ => end_transaction(cluster, client, args),
            }
        }
        "discard" => end_transaction(cluster, client, args),
        _ if spec.has(flag::NO_MULTI) => Route::Local,
        _ => {
            // Queued: its keys must share the transaction's slot.
            let fits = match one_slot(spec.keys.of(args)) {
                Ok(None) => true,
                Ok(Some(s)) => match client.tx_slot {
                    None => {
                        client.tx_slot = Some(s);
                        true
                    }
                    Some(t) => t == s,
                },
                Err(()) => false,
            };
            if fits {
                return Route::Local;
            }
            if let Some(m) = client.state.multi.as_mut() {
                m.dirty = true;
            }
            Route::Reply(Reply::error_static(CROSSSLOT))
        }
    }
}
