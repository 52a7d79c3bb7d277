//! Cluster commands: CLUSTER (SLOTS, SHARDS, NODES, INFO, MYID, MYSHARDID,
//! KEYSLOT, COUNTKEYSINSLOT, GETKEYSINSLOT, REPLICAS, SLAVES, MEET, FORGET,
//! HELP), READONLY, READWRITE and ASKING, in Redis 7.2's formats.
//!
//! What they describe depends on the node (docs/cluster-commands.md):
//! - Standalone: every one of them answers `-ERR This instance has cluster
//!   support disabled`, CLUSTER KEYSLOT and HELP included, as Redis does
//!   (after the subcommand and arity checks, which Redis 7 makes first).
//! - `redis-cluster` mode: the real placement. Every member is a master
//!   with no replicas; its slots are the ones it coordinates on the ring,
//!   coalesced into ranges (with vnodes, many short ones). Node ids are the
//!   configured `node-id`s: clients treat Redis's 40-hex ids as opaque
//!   strings (the `redis` crate does), and an id an operator chose says
//!   which node is which.
//! - `proxy` mode: one shard, holding all 16384 slots, served by the node
//!   asked at the address the client reached it on, so that a
//!   cluster-aware client keeps talking to this node, which routes
//!   everything. `cluster_known_nodes` and `cluster_size` are 1 there.
//!
//! Everything is read from one cluster view, loaded once per command.
//! `cluster_state` is `ok` only when every slot's coordinator is reachable
//! from here (and this node has joined); slots of an unreachable
//! coordinator count as `pfail`. A member that is suspect, or whose last
//! request failed, is flagged `fail?`; a dead one `fail` (it has no slots:
//! it left the ring), until CLUSTER FORGET. `cluster_current_epoch` is the
//! view's epoch; nodes have no config epochs of their own (0).
//!
//! COUNTKEYSINSLOT and GETKEYSINSLOT count this node's keys by visiting the
//! whole keyspace (O(keys); Redis keeps an index per slot, ringcache does
//! not). In `proxy` mode routing sends them to the slot's coordinator, so
//! they answer for the cluster.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;
use ringcache_membership::{Error as MembershipError, MemberState};
use ringcache_resp::Reply;
use ringcache_ring::{slot, NodeId, NodeIdx, SLOTS};

use super::args::int;
use super::server::{help_reply, run_subcommand, SubCommand};
use super::{flag, CmdError, CmdResult, CommandSpec, Ctx, Keys};
use crate::cluster::{Cluster, ClusterView, Node};
use crate::config::ClusterMode;

pub(super) const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "cluster",
        arity: -2,
        flags: 0,
        // COUNTKEYSINSLOT and GETKEYSINSLOT read the whole keyspace.
        keys: Keys::All,
        group: "cluster",
        summary: "A container for Redis Cluster commands.",
        handler: cluster,
    },
    CommandSpec {
        name: "asking",
        arity: 1,
        flags: flag::FAST,
        keys: Keys::None,
        group: "cluster",
        summary: "Signals that a cluster client is following an -ASK redirect.",
        handler: accept_in_cluster,
    },
    CommandSpec {
        name: "wait",
        arity: 3,
        // As in Redis 7.2: allowed in scripts, where it never waits (the
        // handler answers at once; a client's WAIT waits in `forward`).
        flags: 0,
        keys: Keys::None,
        group: "generic",
        summary: "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed.",
        handler: wait,
    },
    CommandSpec {
        name: "readonly",
        arity: 1,
        flags: flag::FAST | flag::LOADING | flag::STALE,
        keys: Keys::None,
        group: "cluster",
        summary: "Enables read-only queries for a connection to a Redis Cluster replica node.",
        handler: accept_in_cluster,
    },
    CommandSpec {
        name: "readwrite",
        arity: 1,
        flags: flag::FAST | flag::LOADING | flag::STALE,
        keys: Keys::None,
        group: "cluster",
        // Redis's own summary, typo included.
        summary: "Enables read-write queries for a connection to a Reids Cluster replica node.",
        handler: accept_in_cluster,
    },
];

pub(super) const CLUSTER_SUBCOMMANDS: &[SubCommand] = &[
    SubCommand {
        name: "cluster|countkeysinslot",
        arity: 3,
        flags: flag::STALE,
        summary: "Returns the number of keys in a hash slot.",
        handler: countkeysinslot,
    },
    SubCommand {
        name: "cluster|forget",
        arity: 3,
        flags: flag::ADMIN | flag::STALE,
        summary: "Removes a node from the nodes table.",
        handler: forget,
    },
    SubCommand {
        name: "cluster|getkeysinslot",
        arity: 4,
        flags: flag::STALE,
        summary: "Returns the key names in a hash slot.",
        handler: getkeysinslot,
    },
    SubCommand {
        name: "cluster|help",
        arity: 2,
        flags: flag::LOADING | flag::STALE,
        summary: "Returns helpful text about the different subcommands.",
        handler: help,
    },
    SubCommand {
        name: "cluster|info",
        arity: 2,
        flags: flag::STALE,
        summary: "Returns information about the state of a node.",
        handler: info,
    },
    SubCommand {
        name: "cluster|keyslot",
        arity: 3,
        flags: flag::STALE,
        summary: "Returns the hash slot for a key.",
        handler: keyslot,
    },
    SubCommand {
        name: "cluster|leave",
        arity: 2,
        flags: flag::ADMIN | flag::STALE,
        summary: "Leaves the cluster: hands this node's slots to the members that take them over, then leaves.",
        handler: leave,
    },
    SubCommand {
        name: "cluster|meet",
        arity: -4,
        flags: flag::ADMIN | flag::STALE,
        summary: "Forces a node to handshake with another node.",
        handler: meet,
    },
    SubCommand {
        name: "cluster|myid",
        arity: 2,
        flags: flag::STALE,
        summary: "Returns the ID of a node.",
        handler: myid,
    },
    SubCommand {
        name: "cluster|myshardid",
        arity: 2,
        flags: flag::LOADING | flag::STALE,
        summary: "Returns the shard ID of a node.",
        handler: myid,
    },
    SubCommand {
        name: "cluster|nodes",
        arity: 2,
        flags: flag::STALE,
        summary: "Returns the cluster configuration for a node.",
        handler: nodes,
    },
    SubCommand {
        name: "cluster|replicas",
        arity: 3,
        flags: flag::ADMIN | flag::STALE,
        summary: "Lists the replica nodes of a master node.",
        handler: replicas,
    },
    SubCommand {
        name: "cluster|shards",
        arity: 2,
        flags: flag::LOADING | flag::STALE,
        summary: "Returns the mapping of cluster slots to shards.",
        handler: shards,
    },
    SubCommand {
        name: "cluster|slaves",
        arity: 3,
        flags: flag::ADMIN | flag::STALE,
        summary: "Lists the replica nodes of a master node.",
        handler: replicas,
    },
    SubCommand {
        name: "cluster|slots",
        arity: 2,
        flags: flag::LOADING | flag::STALE,
        summary: "Returns the mapping of cluster slots to nodes.",
        handler: slots,
    },
];

const DISABLED: &str = "ERR This instance has cluster support disabled";

/// The cluster this node is a member of, or Redis's error for a
/// standalone node.
fn enabled<'a>(ctx: &Ctx<'a>) -> Result<&'a Cluster, CmdError> {
    ctx.shared.cluster.as_deref().ok_or_else(|| CmdError::other(DISABLED))
}

fn cluster(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    run_subcommand(ctx, args, CLUSTER_SUBCOMMANDS)
}

/// WAIT's arguments: the replicas wanted (a negative count is met at
/// once) and the timeout (`None`: 0, wait forever), with Redis's errors.
pub(crate) fn wait_args(args: &[&[u8]]) -> Result<(usize, Option<std::time::Duration>), CmdError> {
    let replicas = int(args[1])?;
    let timeout = super::args::parse_i64(args[2])
        .ok_or_else(|| CmdError::other("ERR timeout is not an integer or out of range"))?;
    if timeout < 0 {
        return Err(CmdError::other("ERR timeout is negative"));
    }
    let timeout = (timeout > 0).then(|| std::time::Duration::from_millis(timeout as u64));
    Ok((usize::try_from(replicas).unwrap_or(0), timeout))
}

/// WAIT where it cannot block: on a standalone node (no replicas: 0, at
/// once rather than after the timeout, since none can ever answer), and
/// inside MULTI, which Redis answers at once too. In a cluster, routing
/// answers it instead (see `cluster::forward`), once the client's
/// earlier commands are answered.
fn wait(_ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    wait_args(args)?;
    Ok(Reply::Integer(0))
}

/// ASKING, READONLY, READWRITE: every member is a master that answers every
/// key, so there is nothing to switch; they succeed in a cluster, as on a
/// Redis Cluster master.
fn accept_in_cluster(ctx: &mut Ctx<'_>, _args: &[&[u8]]) -> CmdResult {
    enabled(ctx)?;
    Ok(Reply::ok())
}

// ------------------------------------------------------------ the view

/// One node as the client is shown it.
struct ViewNode {
    id: String,
    host: String,
    port: u16,
    cluster_port: u16,
    myself: bool,
    /// Reachable from here (always, for this node).
    up: bool,
    /// Redis's failure flag: `fail?` (suspect, or its last request
    /// failed), `fail` (dead), or none.
    failure: Option<&'static str>,
    /// Unix ms of its last message or answer (0: never, or this node).
    pong_at_ms: u64,
    /// Inclusive slot ranges, ascending.
    ranges: Vec<(u16, u16)>,
}

/// Consecutive slots as inclusive ranges. `slots` is ascending.
fn ranges(slots: &[u16]) -> Vec<(u16, u16)> {
    let mut out: Vec<(u16, u16)> = Vec::new();
    for &s in slots {
        match out.last_mut() {
            Some((_, end)) if u32::from(*end) + 1 == u32::from(s) => *end = s,
            _ => out.push((s, s)),
        }
    }
    out
}

/// Where clients reach `node`: the IP it advertises, or, for this node
/// advertising a wildcard address, the address this client reached it on.
fn host_of(node: &Node, myself: bool, laddr: SocketAddr) -> String {
    let wildcard = node.host.parse::<IpAddr>().is_ok_and(|ip| ip.is_unspecified());
    if myself && wildcard {
        laddr.ip().to_string()
    } else {
        node.host.clone()
    }
}

/// The nodes the client sees, in node order: the members on the ring, then
/// the dead ones (flagged `fail`, no slots) until they are forgotten.
fn view(cluster: &Cluster, v: &ClusterView, laddr: SocketAddr) -> Vec<ViewNode> {
    let me = v.me();
    match cluster.mode {
        ClusterMode::Proxy => vec![ViewNode {
            id: me.id.to_string(),
            host: laddr.ip().to_string(),
            port: laddr.port(),
            cluster_port: me.cluster_port,
            myself: true,
            up: true,
            failure: None,
            pong_at_ms: 0,
            ranges: vec![(0, (SLOTS - 1) as u16)],
        }],
        ClusterMode::RedisCluster => {
            // Each node is the master of the slots it coordinates now.
            let mut coordinated: Vec<Vec<u16>> = vec![Vec::new(); v.nodes.len()];
            for s in 0..SLOTS as u16 {
                coordinated[cluster.coordinator(v, s).index()].push(s);
            }
            let mut out: Vec<ViewNode> = v
                .ring
                .nodes()
                .map(|(idx, _)| {
                    let node = v.node(idx);
                    let myself = idx == v.me;
                    let up = cluster.reachable(v, idx);
                    let suspect = node.state == MemberState::Suspect;
                    ViewNode {
                        id: node.id.to_string(),
                        host: host_of(node, myself, laddr),
                        port: node.port,
                        cluster_port: node.cluster_port,
                        myself,
                        up,
                        failure: (!myself && (suspect || !up)).then_some("fail?"),
                        pong_at_ms: if myself { 0 } else { node.health.pong_at_ms.load(Relaxed) },
                        ranges: ranges(&coordinated[idx.index()]),
                    }
                })
                .collect();
            // A member that left on purpose is not shown.
            out.extend(v.gone.iter().filter(|n| n.state == MemberState::Dead).map(|n| ViewNode {
                id: n.id.to_string(),
                host: n.host.clone(),
                port: n.port,
                cluster_port: n.cluster_port,
                myself: false,
                up: false,
                failure: Some("fail"),
                pong_at_ms: n.health.pong_at_ms.load(Relaxed),
                ranges: Vec::new(),
            }));
            out
        }
    }
}

// --------------------------------------------------- SLOTS, SHARDS, NODES

/// A node in CLUSTER SLOTS: endpoint, port, id, and the map of further
/// networking metadata (empty: the endpoint is all there is).
fn slots_node(n: &ViewNode) -> Reply {
    Reply::Array(vec![
        Reply::bulk(n.host.clone()),
        Reply::Integer(n.port.into()),
        Reply::bulk(n.id.clone()),
        Reply::Map(Vec::new()),
    ])
}

/// The other live owners of `slot` (its replicas), in node order: in
/// `redis-cluster` mode with replication; none otherwise.
fn replicas_of(cluster: &Cluster, v: &ClusterView, slot: u16) -> Vec<NodeIdx> {
    if cluster.mode != ClusterMode::RedisCluster {
        return Vec::new();
    }
    let master = cluster.coordinator(v, slot);
    // A replica that is down is not listed, as Redis leaves out failed
    // ones.
    let mut replicas: Vec<NodeIdx> =
        v.owners_of(slot).iter().copied().filter(|&n| n != master && cluster.reachable(v, n)).collect();
    // In node order: a range is split only where the set changes.
    replicas.sort_unstable();
    replicas
}

/// One entry per slot range, in slot order: its master, then its
/// replicas (the slot's other owners).
fn slots(ctx: &mut Ctx<'_>, _args: &[&[u8]]) -> CmdResult {
    let cluster = enabled(ctx)?;
    let v = cluster.view();
    let view = view(cluster, &v, ctx.client.info.laddr);
    let by_id = |idx: NodeIdx| view.iter().find(|n| n.id == v.node(idx).id.as_str());
    let mut entries: Vec<(u16, u16, &ViewNode)> =
        view.iter().flat_map(|n| n.ranges.iter().map(move |&(a, b)| (a, b, n))).collect();
    entries.sort_unstable_by_key(|e| e.0);
    let mut out = Vec::new();
    for (a, b, master) in entries {
        // A master's range splits where its replicas change.
        let mut start = a;
        let mut replicas = replicas_of(cluster, &v, a);
        for s in a..=b {
            let next = if s < b { Some(replicas_of(cluster, &v, s + 1)) } else { None };
            if next.as_ref() != Some(&replicas) {
                let mut entry = vec![Reply::Integer(start.into()), Reply::Integer(s.into()), slots_node(master)];
                entry.extend(replicas.iter().filter_map(|&r| by_id(r)).map(slots_node));
                out.push(Reply::Array(entry));
                if let Some(next) = next {
                    start = s + 1;
                    replicas = next;
                }
            }
        }
    }
    Ok(Reply::Array(out))
}

/// One shard per master: its slot ranges as flat start/end pairs, the
/// master, and as replicas the other owners of its slots.
fn shards(ctx: &mut Ctx<'_>, _args: &[&[u8]]) -> CmdResult {
    let cluster = enabled(ctx)?;
    let kv = |k: &'static str, v: Reply| (Reply::bulk(k), v);
    let v = cluster.view();
    let view = view(cluster, &v, ctx.client.info.laddr);
    let node_map = |n: &ViewNode, role: &'static str| {
        let mut node = vec![
            kv("id", Reply::bulk(n.id.clone())),
            kv("port", Reply::Integer(n.port.into())),
            kv("ip", Reply::bulk(n.host.clone())),
            kv("endpoint", Reply::bulk(n.host.clone())),
        ];
        if n.host.parse::<IpAddr>().is_err() {
            node.push(kv("hostname", Reply::bulk(n.host.clone())));
        }
        node.extend([
            kv("role", Reply::bulk(role)),
            // Writes are acknowledged by a quorum, not streamed with an
            // offset: there is no replication offset to report.
            kv("replication-offset", Reply::Integer(0)),
            kv("health", Reply::bulk(if n.up { "online" } else { "fail" })),
        ]);
        Reply::Map(node)
    };
    let shards = view
        .iter()
        .filter(|n| !n.ranges.is_empty() || cluster.mode == ClusterMode::Proxy)
        .map(|n| {
            let slots =
                n.ranges.iter().flat_map(|&(a, b)| [Reply::Integer(a.into()), Reply::Integer(b.into())]).collect();
            let mut replicas: Vec<NodeIdx> = Vec::new();
            for &(a, b) in &n.ranges {
                for s in a..=b {
                    for r in replicas_of(cluster, &v, s) {
                        if !replicas.contains(&r) {
                            replicas.push(r);
                        }
                    }
                }
            }
            let mut nodes = vec![node_map(n, "master")];
            nodes.extend(
                replicas
                    .iter()
                    .filter_map(|&r| view.iter().find(|x| x.id == v.node(r).id.as_str()))
                    .map(|r| node_map(r, "replica")),
            );
            Reply::Map(vec![kv("slots", Reply::Array(slots)), kv("nodes", Reply::Array(nodes))])
        })
        .collect();
    Ok(Reply::Array(shards))
}

/// `<id> <ip:port@cport> <flags> <master> <ping-sent> <pong-recv>
/// <config-epoch> <link-state> <slot> ...`, one line per node.
fn nodes(ctx: &mut Ctx<'_>, _args: &[&[u8]]) -> CmdResult {
    let cluster = enabled(ctx)?;
    let v = cluster.view();
    let mut out = String::new();
    for n in view(cluster, &v, ctx.client.info.laddr) {
        let mut flags = String::from(if n.myself { "myself,master" } else { "master" });
        if let Some(f) = n.failure {
            flags.push(',');
            flags.push_str(f);
        }
        let link = if n.up { "connected" } else { "disconnected" };
        // Gossip probes are not round trips the server waits on: no ping is
        // ever pending, so ping-sent is 0. No node has a config epoch of
        // its own (the view's epoch is cluster_current_epoch): 0.
        let _ = write!(out, "{} {}:{}@{} {flags} - 0 {} 0 {link}", n.id, n.host, n.port, n.cluster_port, n.pong_at_ms);
        for (a, b) in n.ranges {
            if a == b {
                let _ = write!(out, " {a}");
            } else {
                let _ = write!(out, " {a}-{b}");
            }
        }
        out.push('\n');
    }
    Ok(Reply::Verbatim(Bytes::from(out)))
}

/// A master's replicas: there are none yet. Unknown ids get Redis's error.
fn replicas(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    let cluster = enabled(ctx)?;
    let v = cluster.view();
    if view(cluster, &v, ctx.client.info.laddr).iter().any(|n| n.id.as_bytes() == args[2]) {
        Ok(Reply::Array(Vec::new()))
    } else {
        Err(CmdError::other(format!("ERR Unknown node {}", super::printable(args[2], 128))))
    }
}

// ------------------------------------------------------- MEET, FORGET

/// `CLUSTER MEET ip port [cluster-port]`: join the node there (and its
/// cluster) in the background; `+OK` once the address is valid, as Redis.
fn meet(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    let cluster = ctx.shared.cluster.clone().ok_or_else(|| CmdError::other(DISABLED))?;
    if args.len() > 5 {
        return Err(CmdError::other(
            "ERR Unknown subcommand or wrong number of arguments for 'meet'. Try CLUSTER HELP.",
        ));
    }
    let text = |a: &[u8]| super::printable(a, 128);
    let port = super::args::parse_i64(args[3])
        .ok_or_else(|| CmdError::other(format!("ERR Invalid base port specified: {}", text(args[3]))))?;
    let cport = match args.get(4) {
        Some(a) => super::args::parse_i64(a)
            .ok_or_else(|| CmdError::other(format!("ERR Invalid bus port specified: {}", text(a))))?,
        None => port + 10_000,
    };
    let ip = std::str::from_utf8(args[2]).ok().and_then(|s| s.parse::<IpAddr>().ok());
    let cport = u16::try_from(cport).ok().filter(|&p| p > 0 && (1..=65535).contains(&port));
    let (Some(ip), Some(cport)) = (ip, cport) else {
        return Err(CmdError::other(format!(
            "ERR Invalid node address specified: {}:{}",
            text(args[2]),
            text(args[3])
        )));
    };
    crate::cluster::gossip::meet(&cluster, SocketAddr::new(ip, cport)).map_err(CmdError::other)?;
    Ok(Reply::ok())
}

/// `CLUSTER LEAVE` (ringcache's own): start leaving; answers at once,
/// the handoff runs in the background (INFO cluster: `cluster_phase`,
/// `cluster_handoff_keys`).
fn leave(ctx: &mut Ctx<'_>, _args: &[&[u8]]) -> CmdResult {
    let cluster = ctx.shared.cluster.clone().ok_or_else(|| CmdError::other(DISABLED))?;
    if !cluster.leave.request(false) {
        return Err(CmdError::other("ERR this node is already leaving the cluster"));
    }
    Ok(Reply::ok())
}

/// `CLUSTER FORGET node-id`: drop a dead member from the view, here and on
/// every live member.
fn forget(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    let cluster = ctx.shared.cluster.clone().ok_or_else(|| CmdError::other(DISABLED))?;
    let unknown = || CmdError::other(format!("ERR Unknown node {}", super::printable(args[2], 128)));
    let id = std::str::from_utf8(args[2]).map_err(|_| unknown())?;
    match crate::cluster::gossip::forget(&cluster, &NodeId::from(id)) {
        Ok(()) => Ok(Reply::ok()),
        Err(MembershipError::ForgetSelf) => Err(CmdError::other("ERR I tried hard but I can't forget myself...")),
        Err(MembershipError::ForgetLive(_)) => {
            Err(CmdError::other("ERR Can't forget a node that is alive: it would come back with the next gossip"))
        }
        Err(_) => Err(unknown()),
    }
}

// ------------------------------------------------------------------ INFO

fn info(ctx: &mut Ctx<'_>, _args: &[&[u8]]) -> CmdResult {
    let cluster = enabled(ctx)?;
    let v = cluster.view();
    let view = view(cluster, &v, ctx.client.info.laddr);
    // Slots whose coordinator answers, in either mode: through this node
    // (proxy) or directly (redis-cluster), the others fail.
    let ok = (0..SLOTS as u16).filter(|&s| cluster.slot_ok(&v, s)).count();
    let assigned: usize = view.iter().flat_map(|n| &n.ranges).map(|&(a, b)| usize::from(b - a) + 1).sum();
    let size = view.iter().filter(|n| !n.ranges.is_empty()).count();
    let state = if cluster.state_ok(&v) { "ok" } else { "fail" };
    let mut out = String::new();
    let mut line = |name: &str, value: &dyn std::fmt::Display| {
        let _ = write!(out, "{name}:{value}\r\n");
    };
    line("cluster_state", &state);
    line("cluster_slots_assigned", &assigned);
    line("cluster_slots_ok", &ok);
    line("cluster_slots_pfail", &(assigned - ok));
    line("cluster_slots_fail", &0);
    line("cluster_known_nodes", &view.len());
    line("cluster_size", &size);
    line("cluster_current_epoch", &v.epoch);
    line("cluster_my_epoch", &0);
    // Redis prints the message types it has counts for, then the totals.
    // Gossip messages are counted as Redis's ping.
    let s = &cluster.stats;
    let sent = [("ping", s.ping_sent.load(Relaxed))];
    let received = [("ping", s.ping_received.load(Relaxed))];
    for (dir, counts) in [("sent", sent), ("received", received)] {
        for (kind, n) in counts.iter().filter(|c| c.1 > 0) {
            line(&format!("cluster_stats_messages_{kind}_{dir}"), n);
        }
        line(&format!("cluster_stats_messages_{dir}"), &counts.iter().map(|c| c.1).sum::<u64>());
    }
    line("total_cluster_links_buffer_limit_exceeded", &0);
    Ok(Reply::Verbatim(Bytes::from(out)))
}

// ------------------------------------------------ MYID, KEYSLOT, keys

fn myid(ctx: &mut Ctx<'_>, _args: &[&[u8]]) -> CmdResult {
    let cluster = enabled(ctx)?;
    Ok(Reply::bulk(cluster.me.to_string()))
}

fn keyslot(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    enabled(ctx)?;
    Ok(Reply::Integer(slot(args[2]).into()))
}

/// A slot argument: an integer, then in range (Redis's two errors).
fn slot_arg(arg: &[u8], range_err: &'static str) -> Result<u16, CmdError> {
    let s = int(arg)?;
    u16::try_from(s).ok().filter(|&s| usize::from(s) < SLOTS).ok_or_else(|| CmdError::other(range_err))
}

fn countkeysinslot(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    enabled(ctx)?;
    let s = slot_arg(args[2], "ERR Invalid slot")?;
    // Shards are chosen by slot: one shard holds all of the slot's keys.
    let now = ctx.now_ms;
    let n = ctx.db.with_slot_shard(s, |shard| shard.count_where(now, &mut |k| slot(k) == s));
    Ok(Reply::Integer(n as i64))
}

fn getkeysinslot(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    enabled(ctx)?;
    const INVALID: &str = "ERR Invalid slot or number of keys";
    // Both are parsed before either is checked, as Redis does.
    let s = int(args[2])?;
    let count = int(args[3])?;
    let s = u16::try_from(s).ok().filter(|&s| usize::from(s) < SLOTS).ok_or_else(|| CmdError::other(INVALID))?;
    let count = usize::try_from(count).map_err(|_| CmdError::other(INVALID))?;
    let (now, mut keys) = (ctx.now_ms, Vec::new());
    ctx.db.with_slot_shard(s, |shard| shard.keys_where(now, count, &mut |k| slot(k) == s, &mut keys));
    Ok(Reply::Array(keys.into_iter().map(Reply::Bulk).collect()))
}

fn help(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    enabled(ctx)?;
    Ok(help_reply(
        args,
        &[
            "COUNTKEYSINSLOT <slot>",
            "    Return the number of keys in <slot>.",
            "FORGET <node-id>",
            "    Remove a node from the cluster.",
            "GETKEYSINSLOT <slot> <count>",
            "    Return key names stored by current node in a slot.",
            "INFO",
            "    Return information about the cluster.",
            "KEYSLOT <key>",
            "    Return the hash slot for <key>.",
            "LEAVE",
            "    Hand this node's data to the members that take its slots over, then leave",
            "    the cluster (a ringcache command; progress in INFO cluster).",
            "MEET <ip> <port> [<bus-port>]",
            "    Connect nodes into a working cluster.",
            "MYID",
            "    Return the node id.",
            "MYSHARDID",
            "    Return the node's shard id.",
            "NODES",
            "    Return cluster configuration seen by node. Output format:",
            "    <id> <ip:port@bus-port[,hostname]> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
            "REPLICAS <node-id>",
            "    Return <node-id> replicas.",
            "SLOTS",
            "    Return information about slots range mappings. Each range is made of:",
            "    start, end, master and replicas IP addresses, ports and ids",
            "SHARDS",
            "    Return information about slot range mappings and the nodes associated with them.",
        ],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_coalesce_consecutive_slots() {
        assert_eq!(ranges(&[]), vec![]);
        assert_eq!(ranges(&[5]), vec![(5, 5)]);
        assert_eq!(ranges(&[0, 1, 2, 4, 6, 7, 16383]), vec![(0, 2), (4, 4), (6, 7), (16383, 16383)]);
        let all: Vec<u16> = (0..SLOTS as u16).collect();
        assert_eq!(ranges(&all), vec![(0, 16383)]);
    }

    #[test]
    fn slot_arguments_follow_redis() {
        assert_eq!(slot_arg(b"0", "x"), Ok(0));
        assert_eq!(slot_arg(b"16383", "x"), Ok(16383));
        assert_eq!(slot_arg(b"16384", "x"), Err(CmdError::other("x")));
        assert_eq!(slot_arg(b"-1", "x"), Err(CmdError::other("x")));
        assert_eq!(slot_arg(b"a", "x"), Err(CmdError::NotInteger));
        assert_eq!(slot_arg(b"01", "x"), Err(CmdError::NotInteger));
    }
}
