//! Set commands: SADD SREM SMEMBERS SISMEMBER SMISMEMBER SCARD SPOP
//! SRANDMEMBER SINTER SUNION SDIFF SINTERSTORE SUNIONSTORE SDIFFSTORE SMOVE
//! SSCAN SINTERCARD.
//!
//! Replies follow Redis 7.2: whole sets (SMEMBERS, SINTER, SUNION, SDIFF,
//! SPOP with a count) are RESP3 sets; SRANDMEMBER with a count may repeat
//! members, so it is an array. A collection is never left empty: the key
//! goes with its last member (`Shard::written` sees to it).

use std::collections::HashSet;

use bytes::Bytes;
use rand::seq::index::sample;
use rand::Rng;
use ringcache_resp::Reply;
use ringcache_store::{glob_match, SetValue, Value};

use crate::args::{int, int_in_msg, is, positive, scan_cursor, scan_options};
use crate::{flag, CmdError, CmdResult, CommandSpec, Ctx, Env, Keys};

const ALL_KEYS: Keys = Keys::Range { first: 1, last: -1, step: 1 };

pub fn commands<E: Env>() -> Vec<CommandSpec<E>> {
    vec![
    CommandSpec {
        name: "sadd",
        arity: -3,
        flags: flag::WRITE | flag::DENYOOM | flag::FAST,
        keys: Keys::ONE,
        group: "set",
        summary: "Adds one or more members to a set. Creates the key if it doesn't exist.",
        handler: sadd,
    },
    CommandSpec {
        name: "srem",
        arity: -3,
        flags: flag::WRITE | flag::FAST,
        keys: Keys::ONE,
        group: "set",
        summary: "Removes one or more members from a set. Deletes the set if the last member was removed.",
        handler: srem,
    },
    CommandSpec {
        name: "smembers",
        arity: 2,
        flags: flag::READONLY,
        keys: Keys::ONE,
        group: "set",
        summary: "Returns all members of a set.",
        handler: smembers,
    },
    CommandSpec {
        name: "sismember",
        arity: 3,
        flags: flag::READONLY | flag::FAST,
        keys: Keys::ONE,
        group: "set",
        summary: "Determines whether a member belongs to a set.",
        handler: sismember,
    },
    CommandSpec {
        name: "smismember",
        arity: -3,
        flags: flag::READONLY | flag::FAST,
        keys: Keys::ONE,
        group: "set",
        summary: "Determines whether multiple members belong to a set.",
        handler: smismember,
    },
    CommandSpec {
        name: "scard",
        arity: 2,
        flags: flag::READONLY | flag::FAST,
        keys: Keys::ONE,
        group: "set",
        summary: "Returns the number of members in a set.",
        handler: scard,
    },
    CommandSpec {
        name: "spop",
        arity: -2,
        flags: flag::WRITE | flag::FAST,
        keys: Keys::ONE,
        group: "set",
        summary: "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.",
        handler: spop,
    },
    CommandSpec {
        name: "srandmember",
        arity: -2,
        flags: flag::READONLY,
        keys: Keys::ONE,
        group: "set",
        summary: "Get one or multiple random members from a set",
        handler: srandmember,
    },
    CommandSpec {
        name: "sinter",
        arity: -2,
        flags: flag::READONLY,
        keys: ALL_KEYS,
        group: "set",
        summary: "Returns the intersect of multiple sets.",
        handler: sinter,
    },
    CommandSpec {
        name: "sunion",
        arity: -2,
        flags: flag::READONLY,
        keys: ALL_KEYS,
        group: "set",
        summary: "Returns the union of multiple sets.",
        handler: sunion,
    },
    CommandSpec {
        name: "sdiff",
        arity: -2,
        flags: flag::READONLY,
        keys: ALL_KEYS,
        group: "set",
        summary: "Returns the difference of multiple sets.",
        handler: sdiff,
    },
    CommandSpec {
        name: "sinterstore",
        arity: -3,
        flags: flag::WRITE | flag::DENYOOM,
        keys: ALL_KEYS,
        group: "set",
        summary: "Stores the intersect of multiple sets in a key.",
        handler: sinterstore,
    },
    CommandSpec {
        name: "sunionstore",
        arity: -3,
        flags: flag::WRITE | flag::DENYOOM,
        keys: ALL_KEYS,
        group: "set",
        summary: "Stores the union of multiple sets in a key.",
        handler: sunionstore,
    },
    CommandSpec {
        name: "sdiffstore",
        arity: -3,
        flags: flag::WRITE | flag::DENYOOM,
        keys: ALL_KEYS,
        group: "set",
        summary: "Stores the difference of multiple sets in a key.",
        handler: sdiffstore,
    },
    CommandSpec {
        name: "smove",
        arity: 4,
        flags: flag::WRITE | flag::FAST,
        keys: Keys::Range { first: 1, last: 2, step: 1 },
        group: "set",
        summary: "Moves a member from one set to another.",
        handler: smove,
    },
    CommandSpec {
        name: "sscan",
        arity: -3,
        flags: flag::READONLY,
        keys: Keys::ONE,
        group: "set",
        summary: "Iterates over members of a set.",
        handler: sscan,
    },
    CommandSpec {
        name: "sintercard",
        arity: -3,
        flags: flag::READONLY,
        keys: Keys::Numkeys { at: 1 },
        group: "set",
        summary: "Returns the number of members of the intersect of multiple sets.",
        handler: sintercard,
    },
    ]
}

/// The most members SRANDMEMBER with a negative count may return. Redis has
/// no bound (only its output buffer limits), but members may repeat, so the
/// reply is not bounded by the data: without this one command could make
/// the node allocate without limit.
pub const RANDOM_REPEATS_MAX: i64 = 1 << 20;

/// The set at `key` for a read command: `None` if absent, WRONGTYPE if the
/// key holds something else.
fn read_set<'c, E: Env>(ctx: &'c mut Ctx<'_, E>, key: &[u8]) -> Result<Option<&'c SetValue>, CmdError> {
    let now = ctx.now_ms;
    match ctx.shard(key).get_read(key, now) {
        Some(e) => Ok(Some(e.value().as_set()?)),
        None => Ok(None),
    }
}

fn bulks<'a>(members: impl IntoIterator<Item = &'a Bytes>) -> Vec<Reply> {
    members.into_iter().map(|m| Reply::Bulk(m.clone())).collect()
}

fn sadd<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let (key, members) = (&args[1], &args[2..]);
    let now = ctx.now_ms;
    let shard = ctx.shard(key);
    let set = shard.get_or_insert_with(key, now, || Value::Set(Box::default())).value_mut().as_set_mut()?;
    let added = members.iter().filter(|m| set.insert(m)).count();
    if added > 0 || set.is_empty() {
        shard.written(key);
    }
    Ok(Reply::Integer(added as i64))
}

fn srem<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let (key, members) = (&args[1], &args[2..]);
    let now = ctx.now_ms;
    let shard = ctx.shard(key);
    let Some(e) = shard.get(key, now) else {
        return Ok(Reply::Integer(0));
    };
    let set = e.value_mut().as_set_mut()?;
    let removed = members.iter().filter(|m| set.remove(m)).count();
    if removed > 0 {
        shard.written(key);
    }
    Ok(Reply::Integer(removed as i64))
}

fn smembers<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    Ok(Reply::Set(read_set(ctx, args[1])?.map(|s| bulks(s.iter())).unwrap_or_default()))
}

fn sismember<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let found = read_set(ctx, args[1])?.is_some_and(|s| s.contains(args[2]));
    Ok(Reply::Integer(i64::from(found)))
}

fn smismember<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let set = read_set(ctx, args[1])?;
    let found = args[2..].iter().map(|m| Reply::Integer(i64::from(set.is_some_and(|s| s.contains(m)))));
    Ok(Reply::Array(found.collect()))
}

fn scard<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    Ok(Reply::Integer(read_set(ctx, args[1])?.map_or(0, SetValue::len) as i64))
}

fn spop<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let key = &args[1];
    let count = match args.len() {
        2 => None,
        3 => {
            let positive = || CmdError::other("ERR value is out of range, must be positive");
            let n = int(args[2]).map_err(|_| positive())?;
            Some(usize::try_from(n).map_err(|_| positive())?)
        }
        _ => return Err(CmdError::Syntax),
    };
    let now = ctx.now_ms;
    let shard = ctx.shard(key);
    let Some(e) = shard.get(key, now) else {
        return Ok(if count.is_some() { Reply::Set(Vec::new()) } else { Reply::Null });
    };
    let set = e.value_mut().as_set_mut()?;
    let mut rng = rand::thread_rng();
    let Some(count) = count else {
        let i = rng.gen_range(0..set.len());
        let m = set.remove_index(i).expect("index in range");
        shard.written(key);
        return Ok(Reply::Bulk(m));
    };
    if count == 0 {
        return Ok(Reply::Set(Vec::new()));
    }
    if count >= set.len() {
        let all = bulks(set.iter());
        shard.remove(key, now);
        return Ok(Reply::Set(all));
    }
    let popped = (0..count)
        .map(|_| {
            let i = rng.gen_range(0..set.len());
            Reply::Bulk(set.remove_index(i).expect("index in range"))
        })
        .collect();
    shard.written(key);
    Ok(Reply::Set(popped))
}

fn srandmember<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let count = match args.len() {
        2 => None,
        3 => {
            let n = int(args[2])?;
            if n == i64::MIN {
                return Err(CmdError::other(
                    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
                ));
            }
            if n < -RANDOM_REPEATS_MAX {
                return Err(CmdError::other(format!(
                    "ERR value is out of range, value must between -{RANDOM_REPEATS_MAX} and 9223372036854775807"
                )));
            }
            Some(n)
        }
        _ => return Err(CmdError::Syntax),
    };
    let Some(set) = read_set(ctx, args[1])? else {
        return Ok(if count.is_some() { Reply::Array(Vec::new()) } else { Reply::Null });
    };
    let mut rng = rand::thread_rng();
    let len = set.len();
    let member = |i: usize| Reply::Bulk(set.get_index(i).expect("index in range").clone());
    Ok(match count {
        None => member(rng.gen_range(0..len)),
        Some(0) => Reply::Array(Vec::new()),
        // Negative: that many picks, repeats allowed.
        Some(n) if n < 0 => Reply::Array((0..n.unsigned_abs()).map(|_| member(rng.gen_range(0..len))).collect()),
        Some(n) if n as u64 >= len as u64 => Reply::Array(bulks(set.iter())),
        // Distinct members, in random order.
        Some(n) => Reply::Array(sample(&mut rng, len, n as usize).into_iter().map(member).collect()),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Inter,
    Union,
    Diff,
}

/// Computes `op` over the sets at `keys` (absent keys are empty sets),
/// returning the members. WRONGTYPE if any key holds something else,
/// whatever the others hold, as in Redis 7.
fn set_op<E: Env>(ctx: &mut Ctx<'_, E>, keys: &[&[u8]], op: SetOp) -> Result<Vec<Bytes>, CmdError> {
    let now = ctx.now_ms;
    // First pass: type checks and sizes (and one keyspace hit or miss per
    // key). Later passes only peek: anything expired is gone by then.
    let mut sizes = Vec::with_capacity(keys.len());
    for key in keys {
        sizes.push(read_set(ctx, key)?.map(SetValue::len));
    }
    let peek = |ctx: &mut Ctx<'_, E>, key: &[u8], f: &mut dyn FnMut(&SetValue)| {
        if let Some(e) = ctx.shard(key).peek(key, now) {
            f(e.value().as_set().expect("type checked in the first pass"));
        }
    };
    let mut out: Vec<Bytes> = Vec::new();
    match op {
        SetOp::Inter => {
            if sizes.iter().any(Option::is_none) {
                return Ok(out);
            }
            // Walk the smallest set, probing the others smallest first.
            let mut order: Vec<usize> = (0..keys.len()).collect();
            order.sort_by_key(|&i| sizes[i]);
            peek(ctx, keys[order[0]], &mut |s| out.extend(s.iter().cloned()));
            for &i in &order[1..] {
                if out.is_empty() {
                    break;
                }
                peek(ctx, keys[i], &mut |s| out.retain(|m| s.contains(m)));
            }
        }
        SetOp::Union => {
            let mut seen: HashSet<Bytes> = HashSet::new();
            for key in keys {
                peek(ctx, key, &mut |s| {
                    for m in s.iter() {
                        if seen.insert(m.clone()) {
                            out.push(m.clone());
                        }
                    }
                });
            }
        }
        SetOp::Diff => {
            peek(ctx, keys[0], &mut |s| out.extend(s.iter().cloned()));
            for key in &keys[1..] {
                if out.is_empty() {
                    break;
                }
                peek(ctx, key, &mut |s| out.retain(|m| !s.contains(m)));
            }
        }
    }
    Ok(out)
}

fn set_op_reply<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]], op: SetOp) -> CmdResult {
    let members = set_op(ctx, &args[1..], op)?;
    Ok(Reply::Set(members.into_iter().map(Reply::Bulk).collect()))
}

/// The *STORE form: the result replaces `dest` (with no TTL), or deletes it
/// if empty; the reply is the result's size.
fn set_op_store<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]], op: SetOp) -> CmdResult {
    let dest = &args[1];
    let members = set_op(ctx, &args[2..], op)?;
    let now = ctx.now_ms;
    let shard = ctx.shard(dest);
    if members.is_empty() {
        shard.remove(dest, now);
        return Ok(Reply::Integer(0));
    }
    let mut set = SetValue::new();
    for m in members {
        // Already-stored bytes (owned, never the request buffer): share them.
        set.insert_owned(m);
    }
    let len = set.len();
    shard.set(dest, Value::Set(Box::new(set)), 0, now);
    Ok(Reply::Integer(len as i64))
}

/// The `numkeys key... [LIMIT n]` arguments of SINTERCARD and ZINTERCARD:
/// the keys and the limit (0 = none), checked in Redis's order.
pub(crate) fn intercard_args<'a>(args: &[&'a [u8]]) -> Result<(Vec<&'a [u8]>, usize), CmdError> {
    let numkeys = int_in_msg(args[1], 1, i64::MAX, "ERR numkeys should be greater than 0")?;
    let numkeys = usize::try_from(numkeys).unwrap_or(usize::MAX);
    if numkeys > args.len() - 2 {
        return Err(CmdError::other("ERR Number of keys can't be greater than number of args"));
    }
    let mut limit = 0;
    let mut i = 2 + numkeys;
    while i < args.len() {
        if is(args[i], "LIMIT") && i + 1 < args.len() {
            limit = usize::try_from(positive(args[i + 1], "LIMIT can't be negative")?).unwrap_or(usize::MAX);
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok((args[2..2 + numkeys].to_vec(), limit))
}

fn sintercard<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let (keys, limit) = intercard_args(args)?;
    let n = set_op(ctx, &keys, SetOp::Inter)?.len();
    Ok(Reply::Integer(if limit > 0 { n.min(limit) } else { n } as i64))
}

fn sinter<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    set_op_reply(ctx, args, SetOp::Inter)
}

fn sunion<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    set_op_reply(ctx, args, SetOp::Union)
}

fn sdiff<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    set_op_reply(ctx, args, SetOp::Diff)
}

fn sinterstore<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    set_op_store(ctx, args, SetOp::Inter)
}

fn sunionstore<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    set_op_store(ctx, args, SetOp::Union)
}

fn sdiffstore<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    set_op_store(ctx, args, SetOp::Diff)
}

fn smove<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let (src, dst, member) = (&args[1], &args[2], &args[3]);
    let now = ctx.now_ms;
    // As in Redis: an absent source is 0 before any type check; then both
    // keys must be sets (or the destination absent).
    let Some(e) = ctx.shard(src).get(src, now) else {
        return Ok(Reply::Integer(0));
    };
    let in_src = e.value().as_set()?.contains(member);
    if let Some(e) = ctx.shard(dst).get(dst, now) {
        e.value().as_set()?;
    }
    if src == dst || !in_src {
        return Ok(Reply::Integer(i64::from(in_src)));
    }
    let shard = ctx.shard(src);
    let moved = shard
        .get(src, now)
        .and_then(|e| e.value_mut().as_set_mut().ok())
        .and_then(|s| s.take(member))
        .expect("member checked above");
    shard.written(src);
    let shard = ctx.shard(dst);
    let set = shard.get_or_insert_with(dst, now, || Value::Set(Box::default())).value_mut().as_set_mut()?;
    set.insert_owned(moved);
    shard.written(dst);
    Ok(Reply::Integer(1))
}

fn sscan<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let cursor = scan_cursor(args[2])?;
    // As in Redis, an absent key answers before the options are looked at.
    let Some(set) = read_set(ctx, args[1])? else {
        return Ok(scan_reply(0, Vec::new()));
    };
    let opts = scan_options(&args[3..], false)?;
    let mut out = Vec::new();
    let cursor = usize::try_from(cursor).unwrap_or(usize::MAX);
    let next = set.scan(cursor, opts.count, |m| opts.pattern.is_none_or(|p| glob_match(p, m)), &mut out);
    Ok(scan_reply(next, out.into_iter().map(Reply::Bulk).collect()))
}

/// `[cursor, [items...]]`, the reply of every SCAN-like command.
pub(crate) fn scan_reply(cursor: usize, items: Vec<Reply>) -> Reply {
    Reply::Array(vec![Reply::Bulk(Bytes::copy_from_slice(cursor.to_string().as_bytes())), Reply::Array(items)])
}
