//! List commands: pushes and pops at both ends, indexed access, LREM,
//! LTRIM, LINSERT, LPOS, LMOVE, RPOPLPUSH and LMPOP, and their blocking
//! forms BLPOP, BRPOP, BLMOVE, BRPOPLPUSH and BLMPOP (see
//! `crate::blocking` for how they wait).
//!
//! A list that loses its last element is deleted (`Shard::written` does
//! it). Indexes follow Redis: negative ones count from the tail.

use bytes::Bytes;
use ringcache_resp::Reply;
use ringcache_store::{ListValue, Shard, Value};

use crate::args::{index, int, int_in, int_in_msg, is, positive, range, MUST_BE_POSITIVE};
use crate::blocking::{self, timeout_ms, BlockKind};
use crate::{flag, CmdError, CmdResult, CommandSpec, Ctx, Env, Keys};

pub fn commands<E: Env>() -> Vec<CommandSpec<E>> {
    vec![
    CommandSpec {
        name: "lpush",
        arity: -3,
        flags: flag::WRITE | flag::DENYOOM | flag::FAST,
        keys: Keys::ONE,
        group: "list",
        summary: "Prepends one or more elements to a list. Creates the key if it doesn't exist.",
        handler: lpush,
    },
    CommandSpec {
        name: "rpush",
        arity: -3,
        flags: flag::WRITE | flag::DENYOOM | flag::FAST,
        keys: Keys::ONE,
        group: "list",
        summary: "Appends one or more elements to a list. Creates the key if it doesn't exist.",
        handler: rpush,
    },
    CommandSpec {
        name: "lpushx",
        arity: -3,
        flags: flag::WRITE | flag::DENYOOM | flag::FAST,
        keys: Keys::ONE,
        group: "list",
        summary: "Prepends one or more elements to a list only when the list exists.",
        handler: lpushx,
    },
    CommandSpec {
        name: "rpushx",
        arity: -3,
        flags: flag::WRITE | flag::DENYOOM | flag::FAST,
        keys: Keys::ONE,
        group: "list",
        summary: "Appends an element to a list only when the list exists.",
        handler: rpushx,
    },
    CommandSpec {
        name: "lpop",
        arity: -2,
        flags: flag::WRITE | flag::FAST,
        keys: Keys::ONE,
        group: "list",
        summary: "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.",
        handler: lpop,
    },
    CommandSpec {
        name: "rpop",
        arity: -2,
        flags: flag::WRITE | flag::FAST,
        keys: Keys::ONE,
        group: "list",
        summary: "Returns and removes the last elements of a list. Deletes the list if the last element was popped.",
        handler: rpop,
    },
    CommandSpec {
        name: "llen",
        arity: 2,
        flags: flag::READONLY | flag::FAST,
        keys: Keys::ONE,
        group: "list",
        summary: "Returns the length of a list.",
        handler: llen,
    },
    CommandSpec {
        name: "lrange",
        arity: 4,
        flags: flag::READONLY,
        keys: Keys::ONE,
        group: "list",
        summary: "Returns a range of elements from a list.",
        handler: lrange,
    },
    CommandSpec {
        name: "lindex",
        arity: 3,
        flags: flag::READONLY,
        keys: Keys::ONE,
        group: "list",
        summary: "Returns an element from a list by its index.",
        handler: lindex,
    },
    CommandSpec {
        name: "lset",
        arity: 4,
        flags: flag::WRITE | flag::DENYOOM,
        keys: Keys::ONE,
        group: "list",
        summary: "Sets the value of an element in a list by its index.",
        handler: lset,
    },
    CommandSpec {
        name: "lrem",
        arity: 4,
        flags: flag::WRITE,
        keys: Keys::ONE,
        group: "list",
        summary: "Removes elements from a list. Deletes the list if the last element was removed.",
        handler: lrem,
    },
    CommandSpec {
        name: "ltrim",
        arity: 4,
        flags: flag::WRITE,
        keys: Keys::ONE,
        group: "list",
        summary: "Removes elements from both ends a list. Deletes the list if all elements were trimmed.",
        handler: ltrim,
    },
    CommandSpec {
        name: "linsert",
        arity: 5,
        flags: flag::WRITE | flag::DENYOOM,
        keys: Keys::ONE,
        group: "list",
        summary: "Inserts an element before or after another element in a list.",
        handler: linsert,
    },
    CommandSpec {
        name: "lpos",
        arity: -3,
        flags: flag::READONLY,
        keys: Keys::ONE,
        group: "list",
        summary: "Returns the index of matching elements in a list.",
        handler: lpos,
    },
    CommandSpec {
        name: "lmove",
        arity: 5,
        flags: flag::WRITE | flag::DENYOOM,
        keys: Keys::Range { first: 1, last: 2, step: 1 },
        group: "list",
        summary: "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.",
        handler: lmove,
    },
    CommandSpec {
        name: "rpoplpush",
        arity: 3,
        flags: flag::WRITE | flag::DENYOOM,
        keys: Keys::Range { first: 1, last: 2, step: 1 },
        group: "list",
        summary: "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.",
        handler: rpoplpush,
    },
    CommandSpec {
        name: "lmpop",
        arity: -4,
        flags: flag::WRITE,
        keys: Keys::Numkeys { at: 1 },
        group: "list",
        summary: "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.",
        handler: lmpop,
    },
    CommandSpec {
        name: "blpop",
        arity: -3,
        flags: flag::WRITE | flag::BLOCKING,
        keys: Keys::Range { first: 1, last: -2, step: 1 },
        group: "list",
        summary: "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.",
        handler: blpop,
    },
    CommandSpec {
        name: "brpop",
        arity: -3,
        flags: flag::WRITE | flag::BLOCKING,
        keys: Keys::Range { first: 1, last: -2, step: 1 },
        group: "list",
        summary: "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.",
        handler: brpop,
    },
    CommandSpec {
        name: "blmove",
        arity: 6,
        flags: flag::WRITE | flag::DENYOOM | flag::BLOCKING,
        keys: Keys::Range { first: 1, last: 2, step: 1 },
        group: "list",
        summary: "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.",
        handler: blmove,
    },
    CommandSpec {
        name: "brpoplpush",
        arity: 4,
        flags: flag::WRITE | flag::DENYOOM | flag::BLOCKING,
        keys: Keys::Range { first: 1, last: 2, step: 1 },
        group: "list",
        summary: "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.",
        handler: brpoplpush,
    },
    CommandSpec {
        name: "blmpop",
        arity: -5,
        flags: flag::WRITE | flag::BLOCKING,
        keys: Keys::Counted { at: 2 },
        group: "list",
        summary: "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.",
        handler: blmpop,
    },
    ]
}

/// Which end of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Left,
    Right,
}

impl End {
    /// `LEFT` or `RIGHT`, case-insensitive; anything else is a syntax error.
    fn parse(arg: &[u8]) -> Result<End, CmdError> {
        if is(arg, "LEFT") {
            Ok(End::Left)
        } else if is(arg, "RIGHT") {
            Ok(End::Right)
        } else {
            Err(CmdError::Syntax)
        }
    }
}

fn pop_at(list: &mut ListValue, end: End) -> Option<Bytes> {
    match end {
        End::Left => list.pop_front(),
        End::Right => list.pop_back(),
    }
}

/// Pushes an element that is already stored (moved from a list).
fn push_owned_at(list: &mut ListValue, end: End, v: Bytes) {
    match end {
        End::Left => list.push_front_owned(v),
        End::Right => list.push_back_owned(v),
    }
}

/// The list at `key` for a read command: `Ok(None)` if absent, WRONGTYPE if
/// not a list. Counts a keyspace hit or miss.
fn read_list<'c, E: Env>(ctx: &'c mut Ctx<'_, E>, key: &[u8]) -> Result<Option<&'c ListValue>, CmdError> {
    let now = ctx.now_ms;
    match ctx.shard(key).get_read(key, now) {
        Some(e) => Ok(Some(e.value().as_list()?)),
        None => Ok(None),
    }
}

/// The existing list at `key` for writing: `Ok(None)` if absent, WRONGTYPE
/// if not a list. Call `shard.written(key)` after changing it.
fn list_mut<'s>(shard: &'s mut Shard, key: &[u8], now_ms: u64) -> Result<Option<&'s mut ListValue>, CmdError> {
    match shard.get(key, now_ms) {
        Some(e) => Ok(Some(e.value_mut().as_list_mut()?)),
        None => Ok(None),
    }
}

/// LPUSH/RPUSH (`create`) and LPUSHX/RPUSHX: push every element of
/// `args[2..]` in order, reply with the new length.
fn push<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]], end: End, create: bool) -> CmdResult {
    let key = &args[1];
    let now = ctx.now_ms;
    let shard = ctx.shard(key);
    let list = if create {
        shard.get_or_insert_with(key, now, || Value::List(Box::default())).value_mut().as_list_mut()?
    } else {
        match list_mut(shard, key, now)? {
            Some(list) => list,
            None => return Ok(Reply::Integer(0)),
        }
    };
    for v in &args[2..] {
        match end {
            End::Left => list.push_front(v),
            End::Right => list.push_back(v),
        }
    }
    let len = list.len();
    shard.written(key);
    Ok(Reply::Integer(len as i64))
}

fn lpush<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    push(ctx, args, End::Left, true)
}

fn rpush<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    push(ctx, args, End::Right, true)
}

fn lpushx<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    push(ctx, args, End::Left, false)
}

fn rpushx<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    push(ctx, args, End::Right, false)
}

/// LPOP/RPOP: without a count, one element or Null; with a count, an array
/// (empty for 0), or a null array when the key is missing.
fn pop<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]], end: End, name: &str) -> CmdResult {
    let count = match args.len() {
        2 => None,
        3 => Some(positive(args[2], MUST_BE_POSITIVE)?),
        _ => return Err(CmdError::WrongArity(name.to_owned())),
    };
    let key = &args[1];
    let now = ctx.now_ms;
    let shard = ctx.shard(key);
    let Some(list) = list_mut(shard, key, now)? else {
        return Ok(if count.is_some() { Reply::NullArray } else { Reply::Null });
    };
    let reply = match count {
        None => pop_at(list, end).into(),
        Some(0) => return Ok(Reply::Array(Vec::new())),
        Some(n) => {
            let n = usize::try_from(n).unwrap_or(usize::MAX).min(list.len());
            Reply::Array((0..n).filter_map(|_| pop_at(list, end)).map(Reply::Bulk).collect())
        }
    };
    shard.written(key);
    Ok(reply)
}

fn lpop<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    pop(ctx, args, End::Left, "lpop")
}

fn rpop<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    pop(ctx, args, End::Right, "rpop")
}

fn llen<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    Ok(Reply::Integer(read_list(ctx, args[1])?.map_or(0, |l| l.len() as i64)))
}

fn lrange<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let (start, stop) = (int(args[2])?, int(args[3])?);
    let Some(list) = read_list(ctx, args[1])? else {
        return Ok(Reply::Array(Vec::new()));
    };
    let items = match range(start, stop, list.len()) {
        Some((from, to)) => list.range(from, to).map(|v| Reply::Bulk(v.clone())).collect(),
        None => Vec::new(),
    };
    Ok(Reply::Array(items))
}

fn lindex<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    // Redis looks the key up before it parses the index.
    let Some(list) = read_list(ctx, args[1])? else {
        return Ok(Reply::Null);
    };
    let i = int(args[2])?;
    Ok(index(i, list.len()).and_then(|i| list.get(i)).cloned().into())
}

fn lset<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let key = &args[1];
    let now = ctx.now_ms;
    let shard = ctx.shard(key);
    let list = list_mut(shard, key, now)?.ok_or(CmdError::NoSuchKey)?;
    let i = index(int(args[2])?, list.len()).ok_or(CmdError::OutOfRange)?;
    list.set(i, args[3]);
    shard.written(key);
    Ok(Reply::ok())
}

fn lrem<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let count = int(args[2])?;
    let key = &args[1];
    let now = ctx.now_ms;
    let shard = ctx.shard(key);
    let Some(list) = list_mut(shard, key, now)? else {
        return Ok(Reply::Integer(0));
    };
    let limit = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
    let removed = list.remove_matching(args[3], limit, count < 0);
    if removed > 0 {
        shard.written(key);
    }
    Ok(Reply::Integer(removed as i64))
}

fn ltrim<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let (start, stop) = (int(args[2])?, int(args[3])?);
    let key = &args[1];
    let now = ctx.now_ms;
    let shard = ctx.shard(key);
    let Some(list) = list_mut(shard, key, now)? else {
        return Ok(Reply::ok());
    };
    match range(start, stop, list.len()) {
        Some((from, to)) => list.keep_range(from, to),
        // An empty range empties the list (and so deletes the key).
        None => list.keep_range(1, 0),
    }
    shard.written(key);
    Ok(Reply::ok())
}

fn linsert<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let after = if is(args[2], "AFTER") {
        true
    } else if is(args[2], "BEFORE") {
        false
    } else {
        return Err(CmdError::Syntax);
    };
    let (key, pivot, value) = (&args[1], &args[3], &args[4]);
    let now = ctx.now_ms;
    let shard = ctx.shard(key);
    let Some(list) = list_mut(shard, key, now)? else {
        return Ok(Reply::Integer(0));
    };
    let Some(at) = list.iter().position(|v| v == pivot) else {
        return Ok(Reply::Integer(-1));
    };
    list.insert(if after { at + 1 } else { at }, value);
    let len = list.len();
    shard.written(key);
    Ok(Reply::Integer(len as i64))
}

fn lpos<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let element = &args[2];
    let mut rank: i64 = 1;
    let mut count: Option<u64> = None;
    let mut maxlen: u64 = 0;
    let mut i = 3;
    while i < args.len() {
        let (opt, value) = (&args[i], args.get(i + 1));
        match value {
            Some(v) if is(opt, "RANK") => {
                rank = int_in(v, -i64::MAX, i64::MAX)?;
                if rank == 0 {
                    return Err(CmdError::other(
                        "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... \
                         or use negative to start from the end of the list",
                    ));
                }
            }
            Some(v) if is(opt, "COUNT") => count = Some(positive(v, "COUNT can't be negative")?),
            Some(v) if is(opt, "MAXLEN") => maxlen = positive(v, "MAXLEN can't be negative")?,
            _ => return Err(CmdError::Syntax),
        }
        i += 2;
    }

    let Some(list) = read_list(ctx, args[1])? else {
        return Ok(if count.is_some() { Reply::Array(Vec::new()) } else { Reply::Null });
    };
    let len = list.len();
    let scan = if maxlen == 0 { len } else { len.min(usize::try_from(maxlen).unwrap_or(usize::MAX)) };
    let skip = rank.unsigned_abs() - 1; // matches to pass over before the first one reported
    let want = match count {
        None => 1,
        Some(0) => u64::MAX,
        Some(n) => n,
    };
    let mut seen = 0u64;
    let mut found = Vec::new();
    for step in 0..scan {
        let at = if rank < 0 { len - 1 - step } else { step };
        if list.get(at).is_some_and(|v| v == element) {
            seen += 1;
            if seen > skip {
                found.push(Reply::Integer(at as i64));
                if found.len() as u64 >= want {
                    break;
                }
            }
        }
    }
    Ok(match count {
        Some(_) => Reply::Array(found),
        None => found.pop().unwrap_or(Reply::Null),
    })
}

fn lmove<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let (from, to) = (End::parse(args[3])?, End::parse(args[4])?);
    move_generic(ctx, args[1], args[2], from, to)
}

/// RPOPLPUSH is LMOVE source destination RIGHT LEFT.
fn rpoplpush<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    move_generic(ctx, args[1], args[2], End::Right, End::Left)
}

fn move_generic<E: Env>(ctx: &mut Ctx<'_, E>, src: &[u8], dst: &[u8], from: End, to: End) -> CmdResult {
    let (src, dst) = (&src, &dst);
    let now = ctx.now_ms;

    // Check both types before changing anything, source first as Redis does.
    if list_mut(ctx.shard(src), src, now)?.is_none() {
        return Ok(Reply::Null);
    }
    if src == dst {
        // A rotation: pop and push on the same list, which is never empty
        // in between, so the key (and its TTL) stays.
        let shard = ctx.shard(src);
        let Some(list) = list_mut(shard, src, now)? else {
            return Ok(Reply::Null);
        };
        let Some(v) = pop_at(list, from) else {
            return Ok(Reply::Null);
        };
        push_owned_at(list, to, v.clone());
        shard.written(src);
        return Ok(Reply::Bulk(v));
    }
    list_mut(ctx.shard(dst), dst, now)?;

    let shard = ctx.shard(src);
    let Some(v) = list_mut(shard, src, now)?.and_then(|list| pop_at(list, from)) else {
        return Ok(Reply::Null);
    };
    shard.written(src);
    let shard = ctx.shard(dst);
    let list = shard.get_or_insert_with(dst, now, || Value::List(Box::default())).value_mut().as_list_mut()?;
    push_owned_at(list, to, v.clone());
    shard.written(dst);
    Ok(Reply::Bulk(v))
}

/// The `numkeys key... <where> [COUNT n]` arguments of LMPOP and ZMPOP
/// (Redis's `mpopGenericCommand`): where the keys are in `args` and where
/// the word after them is. Errors in Redis's order and words.
pub(crate) fn mpop_args(args: &[&[u8]]) -> Result<(std::ops::Range<usize>, usize), CmdError> {
    let numkeys = int_in_msg(args[1], 1, i64::MAX, "ERR numkeys should be greater than 0")?;
    let where_at = usize::try_from(numkeys).ok().and_then(|n| n.checked_add(2)).filter(|&w| w < args.len());
    let Some(where_at) = where_at else {
        return Err(CmdError::Syntax);
    };
    Ok((2..where_at, where_at))
}

/// The `[COUNT n]` after an MPOP's `<where>` word at `where_at`.
pub(crate) fn mpop_count(args: &[&[u8]], where_at: usize) -> Result<usize, CmdError> {
    let mut count = None;
    let mut i = where_at + 1;
    while i < args.len() {
        if count.is_none() && is(args[i], "COUNT") && i + 1 < args.len() {
            let n = int_in_msg(args[i + 1], 1, i64::MAX, "ERR count should be greater than 0")?;
            count = Some(usize::try_from(n).unwrap_or(usize::MAX));
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok(count.unwrap_or(1))
}

/// LMPOP numkeys key... LEFT|RIGHT [COUNT n]: pops from the first
/// non-empty list, replying `[key, [elements]]`, or a null array if every
/// list is empty.
fn lmpop<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let (keys, where_at) = mpop_args(args)?;
    let end = End::parse(args[where_at])?;
    let count = mpop_count(args, where_at)?;
    let now = ctx.now_ms;
    for key in &args[keys] {
        let shard = ctx.shard(key);
        let Some(list) = list_mut(shard, key, now)? else {
            continue;
        };
        let n = count.min(list.len());
        let popped: Vec<Reply> = (0..n).filter_map(|_| pop_at(list, end)).map(Reply::Bulk).collect();
        shard.written(key);
        return Ok(Reply::Array(vec![Reply::Bulk(Bytes::copy_from_slice(key)), Reply::Array(popped)]));
    }
    Ok(Reply::NullArray)
}

/// BLPOP/BRPOP key... timeout: `[key, element]` from the first non-empty
/// list; a key holding another type fails the command (if met before a
/// non-empty list), as in Redis.
fn bpop<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]], end: End) -> CmdResult {
    let timeout = timeout_ms(args[args.len() - 1], ctx.now_ms)?;
    let keys = &args[1..args.len() - 1];
    let now = ctx.now_ms;
    for key in keys {
        let shard = ctx.shard(key);
        let Some(list) = list_mut(shard, key, now)? else {
            continue;
        };
        let Some(v) = pop_at(list, end) else {
            continue;
        };
        shard.written(key);
        return Ok(Reply::Array(vec![Reply::Bulk(Bytes::copy_from_slice(key)), Reply::Bulk(v)]));
    }
    blocking::wait(ctx, keys, BlockKind::List, timeout, Reply::NullArray)
}

fn blpop<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    bpop(ctx, args, End::Left)
}

fn brpop<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    bpop(ctx, args, End::Right)
}

/// BLMOVE and BRPOPLPUSH: LMOVE once the source has an element.
fn bmove<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]], from: End, to: End, timeout: u64) -> CmdResult {
    let now = ctx.now_ms;
    if list_mut(ctx.shard(args[1]), args[1], now)?.is_none() {
        return blocking::wait(ctx, &args[1..2], BlockKind::List, timeout, Reply::Null);
    }
    move_generic(ctx, args[1], args[2], from, to)
}

fn blmove<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let (from, to) = (End::parse(args[3])?, End::parse(args[4])?);
    let timeout = timeout_ms(args[5], ctx.now_ms)?;
    bmove(ctx, args, from, to, timeout)
}

fn brpoplpush<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let timeout = timeout_ms(args[3], ctx.now_ms)?;
    bmove(ctx, args, End::Right, End::Left, timeout)
}

/// BLMPOP timeout numkeys key... LEFT|RIGHT [COUNT n]: LMPOP once a list
/// has elements. The timeout is checked after the other arguments, as
/// Redis does.
fn blmpop<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let rest = &args[1..];
    let (keys, where_at) = mpop_args(rest)?;
    End::parse(rest[where_at])?;
    mpop_count(rest, where_at)?;
    let timeout = timeout_ms(args[1], ctx.now_ms)?;
    match lmpop(ctx, rest)? {
        Reply::NullArray => blocking::wait(ctx, &rest[keys], BlockKind::List, timeout, Reply::NullArray),
        popped => Ok(popped),
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{bulk, err, wrongtype, Node};
    use ringcache_resp::Reply;

    #[test]
    fn lmpop_pops_from_the_first_non_empty_list_and_reports_it() {
        let mut n = Node::with_journal(true);
        n.run(&["rpush", "b", "1", "2", "3"]);
        n.client.changes.clear();
        let got = n.run(&["lmpop", "2", "a", "b", "RIGHT", "COUNT", "2"]);
        assert_eq!(got, Reply::Array(vec![bulk("b"), Reply::Array(vec![bulk("3"), bulk("2")])]));
        assert_eq!(n.client.changes.len(), 1, "the popped list is replicated");
        assert_eq!(
            n.run(&["lmpop", "1", "b", "LEFT", "COUNT", "5"]),
            Reply::Array(vec![bulk("b"), Reply::Array(vec![bulk("1")])])
        );
        assert_eq!(n.run(&["exists", "b"]), Reply::Integer(0));
        assert_eq!(n.run(&["lmpop", "2", "a", "b", "LEFT"]), Reply::NullArray);
        assert_eq!(n.run(&["lmpop", "0", "a", "LEFT"]), err("ERR numkeys should be greater than 0"));
        assert_eq!(n.run(&["lmpop", "3", "a", "LEFT"]), err("ERR syntax error"));
        assert_eq!(n.run(&["lmpop", "1", "a", "LEFT", "COUNT", "0"]), err("ERR count should be greater than 0"));
        n.put_hash("h");
        assert_eq!(n.run(&["lmpop", "2", "a", "h", "LEFT"]), wrongtype());
    }

    #[test]
    fn rpoplpush_is_lmove_right_left() {
        let mut n = Node::new();
        n.run(&["rpush", "s", "a", "b"]);
        assert_eq!(n.run(&["rpoplpush", "s", "d"]), bulk("b"));
        assert_eq!(n.run(&["rpoplpush", "s", "s"]), bulk("a"));
        assert_eq!(n.run(&["lrange", "d", "0", "-1"]), Reply::Array(vec![bulk("b")]));
        assert_eq!(n.run(&["rpoplpush", "none", "d"]), Reply::Null);
    }
}
