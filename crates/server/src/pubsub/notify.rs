//! Keyspace notifications (`notify-keyspace-events`), as Redis's
//! `notifyKeyspaceEvent` publishes them: `__keyspace@<db>__:<key>` with the
//! event as the message (class `K`) and `__keyevent@<db>__:<event>` with the
//! key (class `E`), for the event classes the flags select.
//!
//! Which keys a write changed is read from the store (each key's version
//! before and after the command, so a command that changed nothing, such
//! as SREM of a missing member, notifies nothing); which event that was is
//! [`events`]'s table of Redis's event names per command. The command
//! layer stays free of it, and nothing is read when the flags are off.
//!
//! In `proxy` mode the notifications are published cluster-wide (through
//! `pubsub::bus`), so a subscriber on any node hears about every key; in
//! `redis-cluster` mode, as in Redis Cluster, they stay on the node where
//! the key changed.
//!
//! `expired` and `evicted` come from the store instead: with either class
//! selected it records the keys it expires or evicts (`Db::set_gone_events`)
//! on the thread that did it, and whoever drains that thread's changes
//! after its work (`Tracking::deliver`) publishes them with [`gone`].
//!
//! Not covered (README): commands run inside EXEC, the
//! commands the table does not list, and the stream events that only the
//! outcome tells: XADD's `xtrim` when its MAXLEN/MINID removed entries,
//! and the `xgroup-createconsumer` of XREADGROUP, XCLAIM and XAUTOCLAIM.

use smallvec::SmallVec;

use super::Kind;
use crate::cmd::{flag, CommandSpec};
use crate::config::ClusterMode;
use crate::shared::Shared;

pub const KEYSPACE: u32 = 1 << 0;
pub const KEYEVENT: u32 = 1 << 1;
pub const GENERIC: u32 = 1 << 2;
pub const STRING: u32 = 1 << 3;
pub const LIST: u32 = 1 << 4;
pub const SET: u32 = 1 << 5;
pub const HASH: u32 = 1 << 6;
pub const ZSET: u32 = 1 << 7;
pub const EXPIRED: u32 = 1 << 8;
pub const EVICTED: u32 = 1 << 9;
pub const STREAM: u32 = 1 << 10;
pub const KEY_MISS: u32 = 1 << 11;
pub const MODULE: u32 = 1 << 13;
pub const NEW: u32 = 1 << 14;
/// `A`: every class but `m` and `n`, as in Redis.
pub const ALL: u32 = GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

/// Redis's `keyspaceEventsStringToFlags`.
pub fn parse_flags(s: &str) -> Result<u32, String> {
    let mut flags = 0;
    for c in s.chars() {
        flags |= match c {
            'A' => ALL,
            'g' => GENERIC,
            '$' => STRING,
            'l' => LIST,
            's' => SET,
            'h' => HASH,
            'z' => ZSET,
            'x' => EXPIRED,
            'e' => EVICTED,
            'K' => KEYSPACE,
            'E' => KEYEVENT,
            't' => STREAM,
            'm' => KEY_MISS,
            'd' => MODULE,
            'n' => NEW,
            _ => return Err("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".to_owned()),
        };
    }
    Ok(flags)
}

/// Redis's `keyspaceEventsFlagsToString`.
pub fn format_flags(flags: u32) -> String {
    let mut s = String::new();
    if flags & ALL == ALL {
        s.push('A');
    } else {
        for (f, c) in [
            (GENERIC, 'g'),
            (STRING, '$'),
            (LIST, 'l'),
            (SET, 's'),
            (HASH, 'h'),
            (ZSET, 'z'),
            (EXPIRED, 'x'),
            (EVICTED, 'e'),
            (STREAM, 't'),
            (MODULE, 'd'),
            (NEW, 'n'),
        ] {
            if flags & f != 0 {
                s.push(c);
            }
        }
    }
    for (f, c) in [(KEYSPACE, 'K'), (KEYEVENT, 'E'), (KEY_MISS, 'm')] {
        if flags & f != 0 {
            s.push(c);
        }
    }
    s
}

/// An event: its class and Redis's name for it.
pub type Event = (u32, &'static str);

fn has_word(args: &[&[u8]], word: &str) -> bool {
    args.iter().skip(2).any(|a| a.eq_ignore_ascii_case(word.as_bytes()))
}

/// The events a write command made on its `i`-th key (`existed` before,
/// `exists` after), in the order Redis publishes them.
pub fn events(name: &str, args: &[&[u8]], i: usize, existed: bool, exists: bool) -> SmallVec<[Event; 3]> {
    let mut out = SmallVec::new();
    if !existed && exists {
        out.push((NEW, "new"));
    }
    let one = |ev: Event| -> Option<Event> { Some(ev) };
    let main = match name {
        "set" => {
            out.push((STRING, "set"));
            let expires = ["EX", "PX", "EXAT", "PXAT"].iter().any(|w| has_word(args, w));
            expires.then_some((GENERIC, "expire"))
        }
        "setex" | "psetex" => {
            out.push((STRING, "set"));
            one((GENERIC, "expire"))
        }
        "setnx" | "getset" | "mset" | "msetnx" => one((STRING, "set")),
        "setrange" => one((STRING, "setrange")),
        "append" => one((STRING, "append")),
        "incr" | "incrby" => one((STRING, "incrby")),
        "decr" | "decrby" => one((STRING, "decrby")),
        "incrbyfloat" => one((STRING, "incrbyfloat")),
        "setbit" | "bitfield" => one((STRING, "setbit")),
        "bitop" => one((STRING, "set")),
        "getdel" | "del" | "unlink" => one((GENERIC, "del")),
        "getex" if has_word(args, "PERSIST") => one((GENERIC, "persist")),
        "getex" => one((GENERIC, "expire")),
        "expire" | "pexpire" | "expireat" | "pexpireat" if !exists => one((GENERIC, "del")),
        "expire" | "pexpire" | "expireat" | "pexpireat" => one((GENERIC, "expire")),
        "persist" => one((GENERIC, "persist")),
        "rename" | "renamenx" => one((GENERIC, if i == 0 { "rename_from" } else { "rename_to" })),
        "lpush" | "lpushx" => one((LIST, "lpush")),
        "rpush" | "rpushx" => one((LIST, "rpush")),
        "lpop" => one((LIST, "lpop")),
        "rpop" => one((LIST, "rpop")),
        "linsert" => one((LIST, "linsert")),
        "lset" => one((LIST, "lset")),
        "lrem" => one((LIST, "lrem")),
        "ltrim" => one((LIST, "ltrim")),
        "rpoplpush" => one((LIST, if i == 0 { "rpop" } else { "lpush" })),
        "lmove" => {
            // LMOVE src dst LEFT|RIGHT LEFT|RIGHT.
            let side = args.get(3 + i).is_some_and(|w| w.eq_ignore_ascii_case(b"LEFT"));
            let ev = match (i, side) {
                (0, true) => "lpop",
                (0, false) => "rpop",
                (_, true) => "lpush",
                (_, false) => "rpush",
            };
            one((LIST, ev))
        }
        "sadd" => one((SET, "sadd")),
        "srem" => one((SET, "srem")),
        "spop" => one((SET, "spop")),
        "smove" => one((SET, if i == 0 { "srem" } else { "sadd" })),
        "sinterstore" | "sunionstore" | "sdiffstore" if i == 0 => one((SET, name_static(name))),
        "hset" | "hmset" | "hsetnx" => one((HASH, "hset")),
        "hdel" => one((HASH, "hdel")),
        "hincrby" => one((HASH, "hincrby")),
        "hincrbyfloat" => one((HASH, "hincrbyfloat")),
        "zadd" if has_word(args, "INCR") => one((ZSET, "zincr")),
        "zadd" => one((ZSET, "zadd")),
        "zincrby" => one((ZSET, "zincr")),
        "zrem" => one((ZSET, "zrem")),
        "zpopmin" => one((ZSET, "zpopmin")),
        "zpopmax" => one((ZSET, "zpopmax")),
        "zremrangebyrank" => one((ZSET, "zremrangebyrank")),
        "zremrangebyscore" => one((ZSET, "zremrangebyscore")),
        "zremrangebylex" => one((ZSET, "zremrangebylex")),
        "xadd" => one((STREAM, "xadd")),
        "xtrim" => one((STREAM, "xtrim")),
        "xdel" => one((STREAM, "xdel")),
        "xsetid" => one((STREAM, "xsetid")),
        "xgroup" => {
            let sub = args.get(1).map(|s| s.to_ascii_lowercase());
            match sub.as_deref() {
                Some(b"create") => one((STREAM, "xgroup-create")),
                Some(b"setid") => one((STREAM, "xgroup-setid")),
                Some(b"destroy") => one((STREAM, "xgroup-destroy")),
                Some(b"createconsumer") => one((STREAM, "xgroup-createconsumer")),
                Some(b"delconsumer") => one((STREAM, "xgroup-delconsumer")),
                _ => None,
            }
        }
        _ => None,
    };
    if let Some(ev) = main {
        out.push(ev);
    }
    // A collection the command emptied is deleted, and Redis says so.
    let deletes = matches!(main, Some((LIST | SET | HASH | ZSET, _)));
    if deletes && existed && !exists {
        out.push((GENERIC, "del"));
    }
    out
}

fn name_static(name: &str) -> &'static str {
    match name {
        "sinterstore" => "sinterstore",
        "sunionstore" => "sunionstore",
        _ => "sdiffstore",
    }
}

/// Most keys of one command looked at: a larger MSET/DEL notifies for its
/// first keys only, so that the check stays bounded.
const KEYS_MAX: usize = 1024;

/// What a write's keys were before it ran.
#[derive(Debug)]
pub struct Before {
    /// The database the command ran in (notifications name it).
    dbid: u16,
    /// Per key: whether it existed, and its version.
    keys: SmallVec<[(bool, Option<ringcache_version::Version>); 4]>,
}

fn key_state(shared: &Shared, dbid: u16, key: &[u8], now_ms: u64) -> (bool, Option<ringcache_version::Version>) {
    let mut locked = shared.db.lock_key(key);
    let shard = locked.shard_in(dbid, key);
    (shard.peek(key, now_ms).is_some(), shard.version(key))
}

/// Reads a write command's keys before it runs; `None` (and nothing read)
/// when notifications are off or the command does not write.
#[inline]
pub fn before(shared: &Shared, dbid: u16, spec: Option<&CommandSpec>, args: &[&[u8]], now_ms: u64) -> Option<Before> {
    if shared.pubsub.notify_flags() == 0 {
        return None;
    }
    let spec = spec.filter(|s| s.has(flag::WRITE) && s.arity_ok(args.len()))?;
    let keys = spec.keys.of(args).take(KEYS_MAX).map(|k| key_state(shared, dbid, k, now_ms)).collect();
    Some(Before { dbid, keys })
}

/// Publishes the events of a write command that ran after [`before`].
pub fn after(shared: &Shared, spec: Option<&CommandSpec>, args: &[&[u8]], before: Before, now_ms: u64) {
    let Some(spec) = spec else { return };
    let flags = shared.pubsub.notify_flags();
    for (i, (key, (existed, version))) in spec.keys.of(args).zip(before.keys).enumerate() {
        let (exists, now) = key_state(shared, before.dbid, key, now_ms);
        if now == version {
            continue;
        }
        for (class, event) in events(spec.name, args, i, existed, exists) {
            if flags & class != 0 {
                publish(shared, flags, before.dbid, event, key);
            }
        }
    }
}

/// Whether `flags` ask for `expired` or `evicted` events, which the store
/// must record for [`gone`].
pub fn wants_gone(flags: u32) -> bool {
    flags & (KEYSPACE | KEYEVENT) != 0 && flags & (EXPIRED | EVICTED) != 0
}

/// Key `key` of database `dbid` expired or was evicted (`cause`).
pub fn gone(shared: &Shared, dbid: u16, key: &[u8], cause: ringcache_store::invalidate::Cause) {
    let flags = shared.pubsub.notify_flags();
    let (class, event) = match cause {
        ringcache_store::invalidate::Cause::Expired => (EXPIRED, "expired"),
        ringcache_store::invalidate::Cause::Evicted => (EVICTED, "evicted"),
        _ => return,
    };
    if flags & class != 0 {
        publish(shared, flags, dbid, event, key);
    }
}

fn publish(shared: &Shared, flags: u32, dbid: u16, event: &str, key: &[u8]) {
    let everywhere = shared.cluster.as_ref().is_some_and(|c| c.mode == ClusterMode::Proxy);
    let send = |channel: &[u8], message: &[u8]| {
        shared.pubsub.publish(Kind::Channel, channel, message);
        if everywhere {
            shared.pubsub.bus.send(Kind::Channel, channel, message);
        }
    };
    if flags & KEYSPACE != 0 {
        let channel = [format!("__keyspace@{dbid}__:").as_bytes(), key].concat();
        send(&channel, event.as_bytes());
    }
    if flags & KEYEVENT != 0 {
        let channel = [format!("__keyevent@{dbid}__:").as_bytes(), event.as_bytes()].concat();
        send(&channel, key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_round_trip_as_redis_prints_them() {
        for (given, printed) in [("gKE", "gKE"), ("$lshzxeKE", "$lshzxeKE"), ("KA", "AK"), ("EA", "AE"), ("", "")] {
            assert_eq!(format_flags(parse_flags(given).unwrap()), printed, "{given}");
        }
        assert_eq!(parse_flags("Am").unwrap(), ALL | KEY_MISS);
        assert!(parse_flags("KEq").is_err());
    }

    #[test]
    fn event_names_follow_redis() {
        let ev = |name, args: &[&[u8]], i, existed, exists| {
            events(name, args, i, existed, exists).into_iter().map(|e| e.1).collect::<Vec<_>>()
        };
        assert_eq!(ev("set", &[b"set", b"k", b"v"], 0, true, true), ["set"]);
        assert_eq!(ev("set", &[b"set", b"k", b"v", b"ex", b"10"], 0, false, true), ["new", "set", "expire"]);
        assert_eq!(ev("decr", &[b"decr", b"k"], 0, true, true), ["decrby"]);
        assert_eq!(ev("rpop", &[b"rpop", b"l"], 0, true, false), ["rpop", "del"]);
        assert_eq!(ev("lmove", &[b"lmove", b"a", b"b", b"LEFT", b"RIGHT"], 1, true, true), ["rpush"]);
        assert_eq!(ev("rename", &[b"rename", b"a", b"b"], 1, false, true), ["new", "rename_to"]);
        assert_eq!(ev("expire", &[b"expire", b"k", b"-1"], 0, true, false), ["del"]);
        assert_eq!(ev("hmset", &[b"hmset", b"h", b"f", b"v"], 0, true, true), ["hset"]);
        assert!(ev("copy", &[b"copy", b"a", b"b"], 1, false, true) == ["new"]);
        assert_eq!(ev("xadd", &[b"xadd", b"s", b"*", b"f", b"v"], 0, false, true), ["new", "xadd"]);
        assert_eq!(ev("xgroup", &[b"xgroup", b"CREATE", b"s", b"g", b"$"], 0, true, true), ["xgroup-create"]);
        assert_eq!(ev("xgroup", &[b"xgroup", b"delconsumer", b"s", b"g", b"c"], 0, true, true), ["xgroup-delconsumer"]);
    }
}
