//! Stream commands, with Redis 7.2's semantics, replies and error texts
//! (`t_stream.c`): XADD XTRIM XDEL XLEN XRANGE XREVRANGE XSETID XREAD
//! (`log.rs`), XGROUP XREADGROUP XACK XPENDING XCLAIM XAUTOCLAIM
//! (`groups.rs`) and XINFO (`info.rs`). The stream itself, its nodes and
//! its consumer groups are the store's [`StreamValue`]; here are the
//! arguments, the order Redis checks them in, and the replies.
//!
//! Every change goes through `Shard::written`, so it gets a version and,
//! in a cluster, replicates as the whole encoded stream (groups and
//! pending entries included). One exception keeps reads cheap: a
//! consumer's `seen-time`, which XREADGROUP and the claims refresh even
//! when they change nothing else, is updated in place without a new
//! version (so it may differ between owners).
//!
//! Blocking (`BLOCK`): a read that finds nothing to serve with `BLOCK`
//! given ends in [`would_block`], which asks the caller to park the client
//! (`crate::blocking`) on its keys and answers a null array where it may
//! not (MULTI). Like every write, XADD and XGROUP DESTROY report the keys
//! clients wait on, and the woken command runs again: XREAD finds the new
//! entries after its ids (`$` resolved when it blocked), XREADGROUP `>`
//! the ones after its group's last id, or `-NOGROUP` if the group went.

mod groups;
mod info;
mod log;

pub(crate) use log::delta_of;

use bytes::Bytes;
use ringcache_resp::Reply;
use ringcache_store::{Shard, StreamEntry, StreamId, StreamValue};

use crate::blocking::{self, Block, BlockKind};
use crate::{flag, CmdError, CommandSpec, Ctx, Env, Keys, SubSpec};

/// XGROUP's subcommands, Redis 7.2's (`src/commands/xgroup-*.json`).
pub(crate) const XGROUP_SUBCOMMANDS: &[SubSpec] = &[
    SubSpec {
        name: "xgroup|create",
        arity: -5,
        flags: flag::WRITE | flag::DENYOOM,
        summary: "Creates a consumer group.",
    },
    SubSpec {
        name: "xgroup|createconsumer",
        arity: 5,
        flags: flag::WRITE | flag::DENYOOM,
        summary: "Creates a consumer in a consumer group.",
    },
    SubSpec {
        name: "xgroup|delconsumer",
        arity: 5,
        flags: flag::WRITE,
        summary: "Deletes a consumer from a consumer group.",
    },
    SubSpec { name: "xgroup|destroy", arity: 4, flags: flag::WRITE, summary: "Destroys a consumer group." },
    SubSpec {
        name: "xgroup|help",
        arity: 2,
        flags: flag::LOADING | flag::STALE,
        summary: "Returns helpful text about the different subcommands.",
    },
    SubSpec {
        name: "xgroup|setid",
        arity: -5,
        flags: flag::WRITE,
        summary: "Sets the last-delivered ID of a consumer group.",
    },
];

/// XINFO's subcommands, Redis 7.2's (`src/commands/xinfo-*.json`).
pub(crate) const XINFO_SUBCOMMANDS: &[SubSpec] = &[
    SubSpec {
        name: "xinfo|consumers",
        arity: 4,
        flags: flag::READONLY,
        summary: "Returns a list of the consumers in a consumer group.",
    },
    SubSpec {
        name: "xinfo|groups",
        arity: 3,
        flags: flag::READONLY,
        summary: "Returns a list of the consumer groups of a stream.",
    },
    SubSpec {
        name: "xinfo|help",
        arity: 2,
        flags: flag::LOADING | flag::STALE,
        summary: "Returns helpful text about the different subcommands.",
    },
    SubSpec { name: "xinfo|stream", arity: -3, flags: flag::READONLY, summary: "Returns information about a stream." },
];

pub fn commands<E: Env>() -> Vec<CommandSpec<E>> {
    let spec = |name, arity, flags, keys, summary, handler| CommandSpec {
        name,
        arity,
        flags,
        keys,
        group: "stream",
        summary,
        handler,
    };
    let second = Keys::Range { first: 2, last: 2, step: 1 };
    vec![
        spec("xadd", -5, flag::WRITE | flag::DENYOOM | flag::FAST, Keys::ONE, "Appends a new message to a stream. Creates the key if it doesn't exist.", log::xadd),
        spec("xtrim", -4, flag::WRITE, Keys::ONE, "Deletes messages from the beginning of a stream.", log::xtrim),
        spec("xdel", -3, flag::WRITE | flag::FAST, Keys::ONE, "Returns the number of messages after removing them from a stream.", log::xdel),
        spec("xlen", 2, flag::READONLY | flag::FAST, Keys::ONE, "Return the number of messages in a stream.", log::xlen),
        spec("xrange", -4, flag::READONLY, Keys::ONE, "Returns the messages from a stream within a range of IDs.", log::xrange),
        spec("xrevrange", -4, flag::READONLY, Keys::ONE, "Returns the messages from a stream within a range of IDs in reverse order.", log::xrevrange),
        spec("xsetid", -3, flag::WRITE | flag::DENYOOM | flag::FAST, Keys::ONE, "An internal command for replicating stream values.", log::xsetid),
        spec("xread", -4, flag::READONLY | flag::BLOCKING, Keys::Streams, "Returns messages from multiple streams with IDs greater than the ones requested. Blocks until a message is available otherwise.", log::xread),
        spec("xgroup", -2, flag::WRITE, second, "A container for consumer groups commands.", groups::xgroup),
        spec("xreadgroup", -7, flag::WRITE | flag::BLOCKING, Keys::Streams, "Returns new or historical messages from a stream for a consumer in a group. Blocks until a message is available otherwise.", groups::xreadgroup),
        spec("xack", -4, flag::WRITE | flag::FAST, Keys::ONE, "Returns the number of messages that were successfully acknowledged by the consumer group member of a stream.", groups::xack),
        spec("xpending", -3, flag::READONLY, Keys::ONE, "Returns the information and entries from a stream consumer group's pending entries list.", groups::xpending),
        spec("xclaim", -6, flag::WRITE | flag::FAST, Keys::ONE, "Changes, or acquires, ownership of a message in a consumer group, as if the message was delivered a consumer group member.", groups::xclaim),
        spec("xautoclaim", -6, flag::WRITE | flag::FAST, Keys::ONE, "Changes, or acquires, ownership of messages in a consumer group, as if the messages were delivered to as consumer group member.", groups::xautoclaim),
        spec("xinfo", -2, flag::READONLY, second, "A container for stream introspection commands.", info::xinfo),
    ]
}

const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";

/// Redis's `string2ull`: a decimal `u64`.
fn parse_u64(b: &[u8]) -> Option<u64> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(b).ok()?.parse().ok()
}

/// How an id argument may be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IdForm {
    /// `-` and `+` allowed.
    Loose,
    /// `-` and `+` refused.
    Strict,
}

/// Redis's `streamGenericParseIDOrReply` without `ms-*`: `ms-seq`, or
/// `ms` with `missing_seq`, or `-`/`+` when loose.
fn parse_id(arg: &[u8], missing_seq: u64, form: IdForm) -> Result<StreamId, CmdError> {
    match parse_id_any(arg, missing_seq, form, false)? {
        (id, true) => Ok(id),
        (_, false) => Err(CmdError::other(INVALID_ID)),
    }
}

/// Parses an id; with `star`, `ms-*` is accepted and reported as the
/// sequence not given (false).
fn parse_id_any(arg: &[u8], missing_seq: u64, form: IdForm, star: bool) -> Result<(StreamId, bool), CmdError> {
    let invalid = || CmdError::other(INVALID_ID);
    if arg.len() > 127 {
        return Err(invalid());
    }
    match arg {
        b"-" | b"+" if form == IdForm::Strict => return Err(invalid()),
        b"-" => return Ok((StreamId::MIN, true)),
        b"+" => return Ok((StreamId::MAX, true)),
        _ => {}
    }
    match arg.iter().position(|&c| c == b'-') {
        None => Ok((StreamId::new(parse_u64(arg).ok_or_else(invalid)?, missing_seq), true)),
        Some(dash) => {
            let ms = parse_u64(&arg[..dash]).ok_or_else(invalid)?;
            let seq = &arg[dash + 1..];
            if star && seq == b"*" {
                return Ok((StreamId::new(ms, 0), false));
            }
            Ok((StreamId::new(ms, parse_u64(seq).ok_or_else(invalid)?), true))
        }
    }
}

/// A range bound (`streamParseIntervalIDOrReply`): a loose id, or `(id`
/// for an exclusive one (strict); and whether it was exclusive.
fn parse_bound(arg: &[u8], missing_seq: u64) -> Result<(StreamId, bool), CmdError> {
    if arg.len() > 1 && arg[0] == b'(' {
        Ok((parse_id(&arg[1..], missing_seq, IdForm::Strict)?, true))
    } else {
        Ok((parse_id(arg, missing_seq, IdForm::Loose)?, false))
    }
}

/// A range's start and end, exclusive bounds moved inwards, with Redis's
/// errors when they cannot be.
fn parse_range(start: &[u8], end: &[u8]) -> Result<(StreamId, StreamId), CmdError> {
    let (mut s, ex) = parse_bound(start, 0)?;
    if ex {
        s = s.next().ok_or_else(|| CmdError::other("ERR invalid start ID for the interval"))?;
    }
    let (mut e, ex) = parse_bound(end, u64::MAX)?;
    if ex {
        e = e.prev().ok_or_else(|| CmdError::other("ERR invalid end ID for the interval"))?;
    }
    Ok((s, e))
}

fn id_reply(id: StreamId) -> Reply {
    Reply::Bulk(id.to_bytes())
}

/// An entry as Redis replies it: its id, then its fields and values.
fn entry_reply(e: &StreamEntry) -> Reply {
    Reply::Array(vec![id_reply(e.id), Reply::Array(e.pairs().map(Reply::bulk_copy).collect())])
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The stream at `key` for a read: `Ok(None)` if absent, WRONGTYPE if not
/// a stream. Counts a keyspace hit or miss.
fn read_stream<'c, E: Env>(ctx: &'c mut Ctx<'_, E>, key: &[u8]) -> Result<Option<&'c StreamValue>, CmdError> {
    let now = ctx.now_ms;
    match ctx.shard(key).get_read(key, now) {
        Some(e) => Ok(Some(e.value().as_stream()?)),
        None => Ok(None),
    }
}

/// The existing stream at `key` for writing: `Ok(None)` if absent,
/// WRONGTYPE if not a stream. Call `shard.written(key)` after changing it.
fn stream_mut<'s>(shard: &'s mut Shard, key: &[u8], now_ms: u64) -> Result<Option<&'s mut StreamValue>, CmdError> {
    match shard.get(key, now_ms) {
        Some(e) => Ok(Some(e.value_mut().as_stream_mut()?)),
        None => Ok(None),
    }
}

/// XREAD/XREADGROUP with `BLOCK` found nothing to serve: waits on `keys`
/// for `timeout_ms` (0: forever), to run again as `rerun` if given, and
/// answers what a timeout answers (at once where the caller cannot wait).
fn would_block<E: Env>(
    ctx: &mut Ctx<'_, E>,
    keys: &[&[u8]],
    kind: BlockKind,
    timeout_ms: u64,
    rerun: Option<Vec<Bytes>>,
) -> Reply {
    let keys = keys.iter().map(|k| Bytes::copy_from_slice(k)).collect();
    blocking::wait_for(ctx, Block { keys, kind, timeout_ms, timeout_reply: Reply::NullArray, rerun })
}

/// `-NOGROUP` as XPENDING, XCLAIM and XAUTOCLAIM word it.
fn no_such_key_or_group(key: &[u8], group: &[u8]) -> CmdError {
    CmdError::other(format!("NOGROUP No such key '{}' or consumer group '{}'", text(key), text(group)))
}

/// A timestamp as the PEL keeps it.
fn now_i64(now_ms: u64) -> i64 {
    i64::try_from(now_ms).unwrap_or(i64::MAX)
}

fn bulk(b: &Bytes) -> Reply {
    Reply::Bulk(b.clone())
}

#[cfg(test)]
mod tests;
