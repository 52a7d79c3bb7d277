//! Pub/Sub commands: SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE
//! PUBLISH, SSUBSCRIBE SUNSUBSCRIBE SPUBLISH, and PUBSUB introspection.
//! The registry and delivery are in `crate::pubsub`; these parse, apply
//! and encode.
//!
//! In a cluster: PUBLISH reaches every node's subscribers (the message is
//! also sent to every other node); the count it replies is this node's, as
//! in Redis Cluster. Shard channels live with their slot: in
//! `redis-cluster` mode SSUBSCRIBE and SPUBLISH answer `-MOVED` for a slot
//! another node coordinates and `-CROSSSLOT` for channels of several
//! slots; in `proxy` mode they work on any node and an SPUBLISH reaches
//! the shard channel's subscribers on every node. PUBSUB answers for this
//! node.

use bytes::{Bytes, BytesMut};
use ringcache_resp::Reply;
use ringcache_ring::slot;

use super::server::{help_reply, run_subcommand, SubCommand};
use super::{flag, CmdError, CmdResult, CommandSpec, Ctx, Keys};
use crate::cluster::route::CROSSSLOT;
use crate::config::ClusterMode;
use crate::pubsub::{self, Kind};

const SUBSCRIBE_FLAGS: u32 = flag::NOSCRIPT | flag::LOADING | flag::STALE;

pub(super) const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "subscribe",
        arity: -2,
        flags: SUBSCRIBE_FLAGS,
        keys: Keys::None,
        group: "pubsub",
        summary: "Listens for messages published to channels.",
        handler: subscribe,
    },
    CommandSpec {
        name: "unsubscribe",
        arity: -1,
        flags: SUBSCRIBE_FLAGS,
        keys: Keys::None,
        group: "pubsub",
        summary: "Stops listening to messages posted to channels.",
        handler: unsubscribe,
    },
    CommandSpec {
        name: "psubscribe",
        arity: -2,
        flags: SUBSCRIBE_FLAGS,
        keys: Keys::None,
        group: "pubsub",
        summary: "Listens for messages published to channels that match one or more patterns.",
        handler: psubscribe,
    },
    CommandSpec {
        name: "punsubscribe",
        arity: -1,
        flags: SUBSCRIBE_FLAGS,
        keys: Keys::None,
        group: "pubsub",
        summary: "Stops listening to messages published to channels that match one or more patterns.",
        handler: punsubscribe,
    },
    CommandSpec {
        name: "publish",
        arity: 3,
        flags: flag::LOADING | flag::STALE | flag::FAST,
        keys: Keys::None,
        group: "pubsub",
        summary: "Posts a message to a channel.",
        handler: publish,
    },
    // The shard channels are keys for placement only: routing leaves these
    // here (the subscription belongs to this connection) and the handlers
    // check the slot themselves.
    CommandSpec {
        name: "ssubscribe",
        arity: -2,
        flags: SUBSCRIBE_FLAGS,
        keys: Keys::None,
        group: "pubsub",
        summary: "Listens for messages published to shard channels.",
        handler: ssubscribe,
    },
    CommandSpec {
        name: "sunsubscribe",
        arity: -1,
        flags: SUBSCRIBE_FLAGS,
        keys: Keys::None,
        group: "pubsub",
        summary: "Stops listening to messages posted to shard channels.",
        handler: sunsubscribe,
    },
    CommandSpec {
        name: "spublish",
        arity: 3,
        flags: flag::LOADING | flag::STALE | flag::FAST,
        keys: Keys::None,
        group: "pubsub",
        summary: "Post a message to a shard channel",
        handler: spublish,
    },
    CommandSpec {
        name: "pubsub",
        arity: -2,
        flags: 0,
        keys: Keys::None,
        group: "pubsub",
        summary: "A container for Pub/Sub commands.",
        handler: pubsub_container,
    },
];

const INTROSPECTION_FLAGS: u32 = flag::LOADING | flag::STALE;

pub(super) const PUBSUB_SUBCOMMANDS: &[SubCommand] = &[
    SubCommand {
        name: "pubsub|channels",
        arity: -2,
        flags: INTROSPECTION_FLAGS,
        summary: "Returns the active channels.",
        handler: pubsub_channels,
    },
    SubCommand {
        name: "pubsub|numpat",
        arity: 2,
        flags: INTROSPECTION_FLAGS,
        summary: "Returns a count of unique pattern subscriptions.",
        handler: pubsub_numpat,
    },
    SubCommand {
        name: "pubsub|numsub",
        arity: -2,
        flags: INTROSPECTION_FLAGS,
        summary: "Returns a count of subscribers to channels.",
        handler: pubsub_numsub,
    },
    SubCommand {
        name: "pubsub|shardchannels",
        arity: -2,
        flags: INTROSPECTION_FLAGS,
        summary: "Returns the active shard channels.",
        handler: pubsub_shardchannels,
    },
    SubCommand {
        name: "pubsub|shardnumsub",
        arity: -2,
        flags: INTROSPECTION_FLAGS,
        summary: "Returns the count of subscribers of shard channels.",
        handler: pubsub_shardnumsub,
    },
    SubCommand {
        name: "pubsub|help",
        arity: 2,
        flags: INTROSPECTION_FLAGS,
        summary: "Returns helpful text about the different subcommands.",
        handler: pubsub_help,
    },
];

fn subscribe_kind(ctx: &mut Ctx<'_>, kind: Kind, names: &[&[u8]]) -> CmdResult {
    let mut out = BytesMut::new();
    pubsub::subscribe(&ctx.shared.pubsub, ctx.client, kind, names, &mut out);
    Ok(Reply::Raw(out.freeze()))
}

fn unsubscribe_kind(ctx: &mut Ctx<'_>, kind: Kind, names: &[&[u8]]) -> CmdResult {
    let mut out = BytesMut::new();
    pubsub::unsubscribe(&ctx.shared.pubsub, ctx.client, kind, names, Some(&mut out));
    Ok(Reply::Raw(out.freeze()))
}

fn subscribe(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    subscribe_kind(ctx, Kind::Channel, &args[1..])
}

fn unsubscribe(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    unsubscribe_kind(ctx, Kind::Channel, &args[1..])
}

fn psubscribe(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    subscribe_kind(ctx, Kind::Pattern, &args[1..])
}

fn punsubscribe(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    unsubscribe_kind(ctx, Kind::Pattern, &args[1..])
}

fn publish(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    let receivers = ctx.shared.pubsub.publish(Kind::Channel, args[1], args[2]);
    ctx.shared.pubsub.bus.send(Kind::Channel, args[1], args[2]);
    Ok(Reply::Integer(receivers as i64))
}

/// In `redis-cluster` mode, shard channels must share a slot that this
/// node coordinates, as in Redis Cluster.
fn check_shard_slot(ctx: &Ctx<'_>, channels: &[&[u8]]) -> Result<(), CmdError> {
    let Some(cluster) = ctx.shared.cluster.as_ref().filter(|c| c.mode == ClusterMode::RedisCluster) else {
        return Ok(());
    };
    let s = slot(channels[0]);
    if channels.iter().any(|c| slot(c) != s) {
        return Err(CmdError::other(CROSSSLOT));
    }
    let view = cluster.view();
    let node = cluster.coordinator(&view, s);
    if node != view.me {
        let Reply::Error(text) = cluster.moved(&view, s, node) else { unreachable!("moved is an error") };
        return Err(CmdError::other(String::from_utf8_lossy(&text).into_owned()));
    }
    Ok(())
}

fn ssubscribe(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    check_shard_slot(ctx, &args[1..])?;
    subscribe_kind(ctx, Kind::Shard, &args[1..])
}

fn sunsubscribe(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    unsubscribe_kind(ctx, Kind::Shard, &args[1..])
}

fn spublish(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    check_shard_slot(ctx, &args[1..2])?;
    let receivers = ctx.shared.pubsub.publish(Kind::Shard, args[1], args[2]);
    // In `proxy` mode a shard channel's subscribers may be on any node;
    // in `redis-cluster` mode they are on its slot's coordinator: here.
    if ctx.shared.cluster.as_ref().is_some_and(|c| c.mode == ClusterMode::Proxy) {
        ctx.shared.pubsub.bus.send(Kind::Shard, args[1], args[2]);
    }
    Ok(Reply::Integer(receivers as i64))
}

fn pubsub_container(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    run_subcommand(ctx, args, PUBSUB_SUBCOMMANDS)
}

/// Redis's reply for a PUBSUB subcommand with the wrong arguments.
fn syntax(args: &[&[u8]]) -> CmdError {
    CmdError::other(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
        super::printable(args[1], 128)
    ))
}

fn channel_list(ctx: &mut Ctx<'_>, args: &[&[u8]], kind: Kind) -> CmdResult {
    if args.len() > 3 {
        return Err(syntax(args));
    }
    let channels = ctx.shared.pubsub.channels(kind, args.get(2).copied());
    Ok(Reply::Array(channels.into_iter().map(Reply::Bulk).collect()))
}

fn numsub(ctx: &mut Ctx<'_>, args: &[&[u8]], kind: Kind) -> CmdResult {
    let mut out = Vec::with_capacity((args.len() - 2) * 2);
    for &ch in &args[2..] {
        out.push(Reply::Bulk(Bytes::copy_from_slice(ch)));
        out.push(Reply::Integer(ctx.shared.pubsub.numsub(kind, ch) as i64));
    }
    Ok(Reply::Array(out))
}

fn pubsub_channels(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    channel_list(ctx, args, Kind::Channel)
}

fn pubsub_shardchannels(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    channel_list(ctx, args, Kind::Shard)
}

fn pubsub_numsub(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    numsub(ctx, args, Kind::Channel)
}

fn pubsub_shardnumsub(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    numsub(ctx, args, Kind::Shard)
}

fn pubsub_numpat(ctx: &mut Ctx<'_>, _args: &[&[u8]]) -> CmdResult {
    Ok(Reply::Integer(ctx.shared.pubsub.numpat() as i64))
}

fn pubsub_help(_ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    Ok(help_reply(
        args,
        &[
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
        ],
    ))
}
