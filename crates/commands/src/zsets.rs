//! Sorted-set commands: ZADD ZINCRBY ZREM ZSCORE ZMSCORE ZCARD ZCOUNT
//! ZRANGE ZRANGEBYSCORE ZREVRANGE ZREVRANGEBYSCORE ZRANK ZREVRANK ZPOPMIN
//! ZPOPMAX ZREMRANGEBYRANK ZREMRANGEBYSCORE ZSCAN ZRANGEBYLEX
//! ZREVRANGEBYLEX ZLEXCOUNT ZREMRANGEBYLEX ZRANGESTORE ZRANDMEMBER ZMPOP,
//! and the set operations ZUNION ZINTER ZDIFF, their *STORE forms and
//! ZINTERCARD (which also take plain sets, each member scored 1), and the
//! blocking pops BZPOPMIN BZPOPMAX BZMPOP (see `crate::blocking`).
//!
//! Replies follow Redis 7.2. Scores are doubles (`Reply::Double`: a bulk
//! string in RESP2, a double in RESP3), except in ZSCAN, whose items are
//! all bulk strings. With scores, a RESP3 client gets `[member, score]`
//! pairs (ZRANGE ... WITHSCORES, ZPOPMIN/ZPOPMAX with a count), a RESP2
//! client one flat array. Arguments are checked in Redis's order, so that
//! the same bad command gets the same error.

use std::ops::Bound;

use bytes::Bytes;
use rand::Rng;
use ringcache_resp::{format_double, Proto, Reply};
use ringcache_store::delta::DeltaOp;
use ringcache_store::value::{ScoreBound, ZAddFlags};
use ringcache_store::{glob_match, Value, ZSetValue};

use crate::args::{self, float_strict, int, is, scan_cursor, scan_options};
use crate::blocking::{self, BlockKind};
use crate::sets::scan_reply;
use crate::{flag, CmdError, CmdResult, CommandSpec, Ctx, Env, Keys};

pub fn commands<E: Env>() -> Vec<CommandSpec<E>> {
    vec![
    CommandSpec {
        name: "zadd",
        arity: -4,
        flags: flag::WRITE | flag::DENYOOM | flag::FAST,
        keys: Keys::ONE,
        group: "sorted-set",
        summary: "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.",
        handler: zadd,
    },
    CommandSpec {
        name: "zincrby",
        arity: 4,
        flags: flag::WRITE | flag::DENYOOM | flag::FAST,
        keys: Keys::ONE,
        group: "sorted-set",
        summary: "Increments the score of a member in a sorted set.",
        handler: zincrby,
    },
    CommandSpec {
        name: "zrem",
        arity: -3,
        flags: flag::WRITE | flag::FAST,
        keys: Keys::ONE,
        group: "sorted-set",
        summary: "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.",
        handler: zrem,
    },
    CommandSpec {
        name: "zscore",
        arity: 3,
        flags: flag::READONLY | flag::FAST,
        keys: Keys::ONE,
        group: "sorted-set",
        summary: "Returns the score of a member in a sorted set.",
        handler: zscore,
    },
    CommandSpec {
        name: "zmscore",
        arity: -3,
        flags: flag::READONLY | flag::FAST,
        keys: Keys::ONE,
        group: "sorted-set",
        summary: "Returns the score of one or more members in a sorted set.",
        handler: zmscore,
    },
    CommandSpec {
        name: "zcard",
        arity: 2,
        flags: flag::READONLY | flag::FAST,
        keys: Keys::ONE,
        group: "sorted-set",
        summary: "Returns the number of members in a sorted set.",
        handler: zcard,
    },
    CommandSpec {
        name: "zcount",
        arity: 4,
        flags: flag::READONLY | flag::FAST,
        keys: Keys::ONE,
        group: "sorted-set",
        summary: "Returns the count of members in a sorted set that have scores within a range.",
        handler: zcount,
    },
    CommandSpec {
        name: "zrange",
        arity: -4,
        flags: flag::READONLY,
        keys: Keys::ONE,
        group: "sorted-set",
        summary: "Returns members in a sorted set within a range of indexes.",
        handler: zrange,
    },
    CommandSpec {
        name: "zrangebyscore",
        arity: -4,
        flags: flag::READONLY,
        keys: Keys::ONE,
        group: "sorted-set",
        summary: "Returns members in a sorted set within a range of scores.",
        handler: zrangebyscore,
    },
    CommandSpec {
        name: "zrevrange",
        arity: -4,
        flags: flag::READONLY,
        keys: Keys::ONE,
        group: "sorted-set",
        summary: "Returns members in a sorted set within a range of indexes in reverse order.",
        handler: zrevrange,
    },
    CommandSpec {
        name: "zrevrangebyscore",
        arity: -4,
        flags: flag::READONLY,
        keys: Keys::ONE,
        group: "sorted-set",
        summary: "Returns members in a sorted set within a range of scores in reverse order.",
        handler: zrevrangebyscore,
    },
    CommandSpec {
        name: "zrank",
        arity: -3,
        flags: flag::READONLY | flag::FAST,
        keys: Keys::ONE,
        group: "sorted-set",
        summary: "Returns the index of a member in a sorted set ordered by ascending scores.",
        handler: zrank,
    },
    CommandSpec {
        name: "zrevrank",
        arity: -3,
        flags: flag::READONLY | flag::FAST,
        keys: Keys::ONE,
        group: "sorted-set",
        summary: "Returns the index of a member in a sorted set ordered by descending scores.",
        handler: zrevrank,
    },
    CommandSpec {
        name: "zpopmin",
        arity: -2,
        flags: flag::WRITE | flag::FAST,
        keys: Keys::ONE,
        group: "sorted-set",
        summary: "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.",
        handler: zpopmin,
    },
    CommandSpec {
        name: "zpopmax",
        arity: -2,
        flags: flag::WRITE | flag::FAST,
        keys: Keys::ONE,
        group: "sorted-set",
        summary: "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.",
        handler: zpopmax,
    },
    CommandSpec {
        name: "zremrangebyrank",
        arity: 4,
        flags: flag::WRITE,
        keys: Keys::ONE,
        group: "sorted-set",
        summary: "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.",
        handler: zremrangebyrank,
    },
    CommandSpec {
        name: "zremrangebyscore",
        arity: 4,
        flags: flag::WRITE,
        keys: Keys::ONE,
        group: "sorted-set",
        summary: "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.",
        handler: zremrangebyscore,
    },
    CommandSpec {
        name: "zscan",
        arity: -3,
        flags: flag::READONLY,
        keys: Keys::ONE,
        group: "sorted-set",
        summary: "Iterates over members and scores of a sorted set.",
        handler: zscan,
    },
    CommandSpec {
        name: "zrangebylex",
        arity: -4,
        flags: flag::READONLY,
        keys: Keys::ONE,
        group: "sorted-set",
        summary: "Returns members in a sorted set within a lexicographical range.",
        handler: zrangebylex,
    },
    CommandSpec {
        name: "zrevrangebylex",
        arity: -4,
        flags: flag::READONLY,
        keys: Keys::ONE,
        group: "sorted-set",
        summary: "Returns members in a sorted set within a lexicographical range in reverse order.",
        handler: zrevrangebylex,
    },
    CommandSpec {
        name: "zlexcount",
        arity: 4,
        flags: flag::READONLY | flag::FAST,
        keys: Keys::ONE,
        group: "sorted-set",
        summary: "Returns the number of members in a sorted set within a lexicographical range.",
        handler: zlexcount,
    },
    CommandSpec {
        name: "zremrangebylex",
        arity: 4,
        flags: flag::WRITE,
        keys: Keys::ONE,
        group: "sorted-set",
        summary: "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.",
        handler: zremrangebylex,
    },
    CommandSpec {
        name: "zrangestore",
        arity: -5,
        flags: flag::WRITE | flag::DENYOOM,
        keys: Keys::Range { first: 1, last: 2, step: 1 },
        group: "sorted-set",
        summary: "Stores a range of members from sorted set in a key.",
        handler: zrangestore,
    },
    CommandSpec {
        name: "zrandmember",
        arity: -2,
        flags: flag::READONLY,
        keys: Keys::ONE,
        group: "sorted-set",
        summary: "Returns one or more random members from a sorted set.",
        handler: zrandmember,
    },
    CommandSpec {
        name: "zmpop",
        arity: -4,
        flags: flag::WRITE,
        keys: Keys::Numkeys { at: 1 },
        group: "sorted-set",
        summary: "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped.",
        handler: zmpop,
    },
    CommandSpec {
        name: "bzpopmin",
        arity: -3,
        flags: flag::WRITE | flag::FAST | flag::BLOCKING,
        keys: Keys::Range { first: 1, last: -2, step: 1 },
        group: "sorted-set",
        summary: "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.",
        handler: bzpopmin,
    },
    CommandSpec {
        name: "bzpopmax",
        arity: -3,
        flags: flag::WRITE | flag::FAST | flag::BLOCKING,
        keys: Keys::Range { first: 1, last: -2, step: 1 },
        group: "sorted-set",
        summary: "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise.  Deletes the sorted set if the last element was popped.",
        handler: bzpopmax,
    },
    CommandSpec {
        name: "bzmpop",
        arity: -5,
        flags: flag::WRITE | flag::BLOCKING,
        keys: Keys::Counted { at: 2 },
        group: "sorted-set",
        summary: "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.",
        handler: bzmpop,
    },
    CommandSpec {
        name: "zunion",
        arity: -3,
        flags: flag::READONLY,
        keys: Keys::Numkeys { at: 1 },
        group: "sorted-set",
        summary: "Returns the union of multiple sorted sets.",
        handler: zunion,
    },
    CommandSpec {
        name: "zinter",
        arity: -3,
        flags: flag::READONLY,
        keys: Keys::Numkeys { at: 1 },
        group: "sorted-set",
        summary: "Returns the intersect of multiple sorted sets.",
        handler: zinter,
    },
    CommandSpec {
        name: "zdiff",
        arity: -3,
        flags: flag::READONLY,
        keys: Keys::Numkeys { at: 1 },
        group: "sorted-set",
        summary: "Returns the difference between multiple sorted sets.",
        handler: zdiff,
    },
    CommandSpec {
        name: "zunionstore",
        arity: -4,
        flags: flag::WRITE | flag::DENYOOM,
        keys: Keys::Numkeys { at: 2 },
        group: "sorted-set",
        summary: "Stores the union of multiple sorted sets in a key.",
        handler: zunionstore,
    },
    CommandSpec {
        name: "zinterstore",
        arity: -4,
        flags: flag::WRITE | flag::DENYOOM,
        keys: Keys::Numkeys { at: 2 },
        group: "sorted-set",
        summary: "Stores the intersect of multiple sorted sets in a key.",
        handler: zinterstore,
    },
    CommandSpec {
        name: "zdiffstore",
        arity: -4,
        flags: flag::WRITE | flag::DENYOOM,
        keys: Keys::Numkeys { at: 2 },
        group: "sorted-set",
        summary: "Stores the difference of multiple sorted sets in a key.",
        handler: zdiffstore,
    },
    CommandSpec {
        name: "zintercard",
        arity: -3,
        flags: flag::READONLY,
        keys: Keys::Numkeys { at: 1 },
        group: "sorted-set",
        summary: "Returns the number of members of the intersect of multiple sorted sets.",
        handler: zintercard,
    },
    ]
}

const NAN_ERR: &str = "ERR resulting score is not a number (NaN)";
const SCORE_RANGE_ERR: &str = "ERR min or max is not a float";
const LEX_RANGE_ERR: &str = "ERR min or max not valid string range item";
const POSITIVE_ERR: &str = "ERR value is out of range, must be positive";

/// The sorted set at `key` for a read command: `None` if absent, WRONGTYPE
/// if the key holds something else.
fn read_zset<'c, E: Env>(ctx: &'c mut Ctx<'_, E>, key: &[u8]) -> Result<Option<&'c ZSetValue>, CmdError> {
    let now = ctx.now_ms;
    match ctx.shard(key).get_read(key, now) {
        Some(e) => Ok(Some(e.value().as_zset()?)),
        None => Ok(None),
    }
}

/// Members (and scores, if `withscores`) as Redis replies them: `nested`
/// gives one `[member, score]` array per member (RESP3), otherwise one flat
/// array.
fn scored<'a>(items: impl Iterator<Item = (&'a Bytes, f64)>, withscores: bool, nested: bool) -> Reply {
    let mut out = Vec::with_capacity(items.size_hint().0 * if withscores && !nested { 2 } else { 1 });
    for (m, s) in items {
        let m = Reply::Bulk(m.clone());
        match (withscores, nested) {
            (false, _) => out.push(m),
            (true, true) => out.push(Reply::Array(vec![m, Reply::Double(s)])),
            (true, false) => out.extend([m, Reply::Double(s)]),
        }
    }
    Reply::Array(out)
}

/// A count that must be ≥ 0, with Redis's error for both a non-integer and
/// a negative value.
fn positive_count(arg: &[u8]) -> Result<usize, CmdError> {
    let n = int(arg).map_err(|_| CmdError::other(POSITIVE_ERR))?;
    usize::try_from(n).map_err(|_| CmdError::other(POSITIVE_ERR))
}

/// One end of a score range, as Redis's `zslParseRange` reads it (with
/// `strtod`): `(` makes it exclusive; leading spaces are skipped; an empty
/// number is 0; out-of-range values saturate to ±inf; NaN is refused.
fn score_bound(arg: &[u8]) -> Option<ScoreBound> {
    let (exclusive, num) = match arg.strip_prefix(b"(") {
        Some(rest) => (true, rest),
        None => (false, arg),
    };
    let value = if num.is_empty() {
        0.0
    } else {
        let text = std::str::from_utf8(num).ok()?;
        // C's isspace: space, \t, \n, \v, \f, \r.
        let text = text.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
        text.parse::<f64>().ok().filter(|v| !v.is_nan())?
    };
    Some(ScoreBound { value, exclusive })
}

fn score_range(min: &[u8], max: &[u8]) -> Result<(ScoreBound, ScoreBound), CmdError> {
    match (score_bound(min), score_bound(max)) {
        (Some(min), Some(max)) => Ok((min, max)),
        _ => Err(CmdError::other(SCORE_RANGE_ERR)),
    }
}

/// One end of a lex range: `-`, `+`, `[member`, `(member`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LexItem<'a> {
    Min,
    Max,
    Incl(&'a [u8]),
    Excl(&'a [u8]),
}

fn lex_item(arg: &[u8]) -> Option<LexItem<'_>> {
    match arg.first()? {
        b'-' if arg.len() == 1 => Some(LexItem::Min),
        b'+' if arg.len() == 1 => Some(LexItem::Max),
        b'[' => Some(LexItem::Incl(&arg[1..])),
        b'(' => Some(LexItem::Excl(&arg[1..])),
        _ => None,
    }
}

/// A lex range as bounds on members; `None` when it can hold nothing
/// (`+` as the minimum or `-` as the maximum).
type LexRange<'a> = Option<(Bound<&'a [u8]>, Bound<&'a [u8]>)>;

fn lex_range<'a>(min: &'a [u8], max: &'a [u8]) -> Result<LexRange<'a>, CmdError> {
    let (Some(min), Some(max)) = (lex_item(min), lex_item(max)) else {
        return Err(CmdError::other(LEX_RANGE_ERR));
    };
    let lo = match min {
        LexItem::Min => Bound::Unbounded,
        LexItem::Max => return Ok(None),
        LexItem::Incl(b) => Bound::Included(b),
        LexItem::Excl(b) => Bound::Excluded(b),
    };
    let hi = match max {
        LexItem::Max => Bound::Unbounded,
        LexItem::Min => return Ok(None),
        LexItem::Incl(b) => Bound::Included(b),
        LexItem::Excl(b) => Bound::Excluded(b),
    };
    Ok(Some((lo, hi)))
}

// ---------------------------------------------------------------- ZADD

pub(crate) fn zadd<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    zadd_generic(ctx, args, false)
}

fn zincrby<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    // ZINCRBY is ZADD INCR underneath, options parsing included (so
    // `ZINCRBY key NX member` is a syntax error, as in Redis).
    zadd_generic(ctx, args, true)
}

/// ZADD's (and ZINCRBY's) arguments, parsed as [`zadd_generic`] and a
/// delta of it both need them.
struct ZAddArgs<'a> {
    flags: ZAddFlags,
    /// CH: the reply counts changed members too.
    ch: bool,
    /// Each (score, member), scores parsed.
    pairs: Vec<(f64, &'a [u8])>,
}

fn zadd_args<'a>(args: &[&'a [u8]], incr: bool) -> Result<ZAddArgs<'a>, CmdError> {
    let mut flags = ZAddFlags { incr, ..ZAddFlags::default() };
    let mut ch = false;
    let mut i = 2;
    while i < args.len() {
        let opt = &args[i];
        match () {
            _ if is(opt, "NX") => flags.nx = true,
            _ if is(opt, "XX") => flags.xx = true,
            _ if is(opt, "CH") => ch = true,
            _ if is(opt, "INCR") => flags.incr = true,
            _ if is(opt, "GT") => flags.gt = true,
            _ if is(opt, "LT") => flags.lt = true,
            _ => break,
        }
        i += 1;
    }
    let pairs = &args[i..];
    if pairs.is_empty() || pairs.len() % 2 == 1 {
        return Err(CmdError::Syntax);
    }
    if flags.nx && flags.xx {
        return Err(CmdError::other("ERR XX and NX options at the same time are not compatible"));
    }
    if (flags.nx && (flags.gt || flags.lt)) || (flags.gt && flags.lt) {
        return Err(CmdError::other("ERR GT, LT, and/or NX options at the same time are not compatible"));
    }
    if flags.incr && pairs.len() > 2 {
        return Err(CmdError::other("ERR INCR option supports a single increment-element pair"));
    }
    let pairs = pairs.chunks(2).map(|p| Ok((float_strict(p[0])?, p[1]))).collect::<Result<Vec<_>, CmdError>>()?;
    Ok(ZAddArgs { flags, ch, pairs })
}

fn zadd_generic<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]], incr: bool) -> CmdResult {
    let key = &args[1];
    let ZAddArgs { flags, ch, pairs } = zadd_args(args, incr)?;
    let now = ctx.now_ms;
    let shard = ctx.shard(key);
    let entry = if flags.xx {
        match shard.get(key, now) {
            Some(e) => e,
            None => return Ok(if flags.incr { Reply::Null } else { Reply::Integer(0) }),
        }
    } else {
        shard.get_or_insert_with(key, now, || Value::ZSet(Box::default()))
    };
    let z = entry.value_mut().as_zset_mut()?;
    let done = z.add(flags, pairs);
    if done.added + done.updated > 0 || z.is_empty() {
        shard.written(key);
    }
    if done.nan {
        return Err(CmdError::other(NAN_ERR));
    }
    Ok(match (flags.incr, done.processed) {
        (true, 0) => Reply::Null,
        (true, _) => Reply::Double(done.last),
        (false, _) => Reply::Integer((if ch { done.added + done.updated } else { done.added }) as i64),
    })
}

/// The delta of a ZADD or ZINCRBY that changed its sorted set in place
/// (see `ringcache_store::delta`): its flags and parsed scores, which an
/// owner runs through the same [`ZSetValue::add`]. ZREM's is the store's
/// own (its arguments are its effect).
pub(crate) fn delta_of(args: &[&[u8]]) -> Option<DeltaOp> {
    let incr = match args.first()? {
        name if is(name, "ZADD") => false,
        name if is(name, "ZINCRBY") => true,
        _ => return None,
    };
    let ZAddArgs { flags, pairs, .. } = zadd_args(args, incr).ok()?;
    Some(DeltaOp::ZAdd(flags, pairs.into_iter().map(|(s, m)| (s, Bytes::copy_from_slice(m))).collect()))
}

// ---------------------------------------------------------------- reads

fn zrem<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let key = &args[1];
    let now = ctx.now_ms;
    let shard = ctx.shard(key);
    let Some(e) = shard.get(key, now) else {
        return Ok(Reply::Integer(0));
    };
    let z = e.value_mut().as_zset_mut()?;
    let removed = args[2..].iter().filter(|m| z.remove(m).is_some()).count();
    if removed > 0 {
        shard.written(key);
    }
    Ok(Reply::Integer(removed as i64))
}

fn zscore<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let score = read_zset(ctx, args[1])?.and_then(|z| z.score(args[2]));
    Ok(score.map_or(Reply::Null, Reply::Double))
}

fn zmscore<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let z = read_zset(ctx, args[1])?;
    let scores = args[2..].iter().map(|m| z.and_then(|z| z.score(m)).map_or(Reply::Null, Reply::Double));
    Ok(Reply::Array(scores.collect()))
}

fn zcard<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    Ok(Reply::Integer(read_zset(ctx, args[1])?.map_or(0, ZSetValue::len) as i64))
}

fn zcount<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let (min, max) = score_range(args[2], args[3])?;
    let n = read_zset(ctx, args[1])?.map_or(0, |z| z.count_by_score(min, max));
    Ok(Reply::Integer(n as i64))
}

fn zrank<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    rank_generic(ctx, args, false)
}

fn zrevrank<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    rank_generic(ctx, args, true)
}

fn rank_generic<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]], rev: bool) -> CmdResult {
    if args.len() > 4 {
        return Err(CmdError::WrongArity(if rev { "zrevrank" } else { "zrank" }.to_owned()));
    }
    let withscore = match args.get(3) {
        None => false,
        Some(opt) if is(opt, "WITHSCORE") => true,
        Some(_) => return Err(CmdError::Syntax),
    };
    let absent = if withscore { Reply::NullArray } else { Reply::Null };
    let Some(z) = read_zset(ctx, args[1])? else {
        return Ok(absent);
    };
    let (Some(rank), Some(score)) = (z.rank(args[2]), z.score(args[2])) else {
        return Ok(absent);
    };
    let rank = if rev { z.len() - 1 - rank } else { rank } as i64;
    Ok(if withscore { Reply::Array(vec![Reply::Integer(rank), Reply::Double(score)]) } else { Reply::Integer(rank) })
}

// ---------------------------------------------------------------- ZRANGE

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RangeBy {
    Rank,
    Score,
    Lex,
}

fn zrange<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, args, None, None, None)
}

fn zrangebyscore<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, args, None, Some(RangeBy::Score), Some(false))
}

fn zrevrange<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, args, None, Some(RangeBy::Rank), Some(true))
}

fn zrevrangebyscore<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, args, None, Some(RangeBy::Score), Some(true))
}

fn zrangebylex<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, args, None, Some(RangeBy::Lex), Some(false))
}

fn zrevrangebylex<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, args, None, Some(RangeBy::Lex), Some(true))
}

/// ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count].
fn zrangestore<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, &args[1..], Some(args[1]), None, None)
}

/// ZRANGE and its older forms, which preset the range kind and direction
/// (and then refuse the option that would set them again), following
/// Redis's `zrangeGenericCommand` step by step. `args[1]` is the source
/// key; with `store` (ZRANGESTORE, whose arguments are passed from the
/// destination on) the range replaces that key instead of being replied.
fn zrange_generic<E: Env>(
    ctx: &mut Ctx<'_, E>,
    args: &[&[u8]],
    store: Option<&[u8]>,
    preset_by: Option<RangeBy>,
    preset_rev: Option<bool>,
) -> CmdResult {
    let nested = ctx.state().proto == Proto::Resp3;
    let (mut by, mut rev) = (preset_by, preset_rev);
    let mut withscores = false;
    let (mut offset, mut limit) = (0i64, -1i64);
    let mut i = 4;
    while i < args.len() {
        let opt = &args[i];
        let left = args.len() - i - 1;
        if store.is_none() && is(opt, "WITHSCORES") {
            withscores = true;
        } else if is(opt, "LIMIT") && left >= 2 {
            offset = int(args[i + 1])?;
            limit = int(args[i + 2])?;
            i += 2;
        } else if rev.is_none() && is(opt, "REV") {
            rev = Some(true);
        } else if by.is_none() && is(opt, "BYLEX") {
            by = Some(RangeBy::Lex);
        } else if by.is_none() && is(opt, "BYSCORE") {
            by = Some(RangeBy::Score);
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    let by = by.unwrap_or(RangeBy::Rank);
    let rev = rev.unwrap_or(false);
    // Redis's own test: an explicit `LIMIT x -1` passes with a rank range.
    if limit != -1 && by == RangeBy::Rank {
        return Err(CmdError::other(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && by == RangeBy::Lex {
        return Err(CmdError::other("ERR syntax error, WITHSCORES not supported in combination with BYLEX"));
    }
    // Reversed score and lex ranges are written max first.
    let (min_arg, max_arg) = if rev && by != RangeBy::Rank { (&args[3], &args[2]) } else { (&args[2], &args[3]) };

    enum Parsed<'a> {
        Rank(i64, i64),
        Score(ScoreBound, ScoreBound),
        Lex(LexRange<'a>),
    }
    let parsed = match by {
        RangeBy::Rank => Parsed::Rank(int(min_arg)?, int(max_arg)?),
        RangeBy::Score => {
            let (min, max) = score_range(min_arg, max_arg)?;
            Parsed::Score(min, max)
        }
        RangeBy::Lex => Parsed::Lex(lex_range(min_arg, max_arg)?),
    };

    let z = read_zset(ctx, args[1])?;
    let items: Items<'_> = match (z, parsed) {
        (None, _) => Box::new(std::iter::empty()),
        (Some(z), Parsed::Rank(start, stop)) => match args::range(start, stop, z.len()) {
            Some((start, stop)) => z.range_by_rank(start, stop, rev),
            None => Box::new(std::iter::empty()),
        },
        (Some(z), Parsed::Score(min, max)) => {
            let it = z.range_by_score(min, max);
            with_limit(if rev { Box::new(it.rev()) } else { Box::new(it) }, offset, limit)
        }
        (Some(_), Parsed::Lex(None)) => Box::new(std::iter::empty()),
        (Some(z), Parsed::Lex(Some((min, max)))) => with_limit(z.range_by_lex(min, max, rev), offset, limit),
    };
    let Some(dst) = store else {
        return Ok(scored(items, withscores, nested));
    };
    let mut out = ZSetValue::new();
    for (m, s) in items {
        out.insert_owned(m.clone(), s);
    }
    Ok(Reply::Integer(store_zset(ctx, dst, out) as i64))
}

/// Stores `z` at `dst` as a new value (no TTL), or deletes `dst` when `z`
/// is empty, as Redis's *STORE commands do. Returns `z`'s size.
fn store_zset<E: Env>(ctx: &mut Ctx<'_, E>, dst: &[u8], z: ZSetValue) -> usize {
    let now = ctx.now_ms;
    let shard = ctx.shard(dst);
    let len = z.len();
    if len == 0 {
        shard.remove(dst, now);
    } else {
        shard.set(dst, Value::ZSet(Box::new(z)), 0, now);
    }
    len
}

type Items<'a> = Box<dyn Iterator<Item = (&'a Bytes, f64)> + 'a>;

/// Applies `LIMIT offset count`: a negative offset selects nothing, a
/// negative count everything from the offset on.
fn with_limit(items: Items<'_>, offset: i64, limit: i64) -> Items<'_> {
    let Ok(offset) = usize::try_from(offset) else {
        return Box::new(std::iter::empty());
    };
    Box::new(items.skip(offset).take(usize::try_from(limit).unwrap_or(usize::MAX)))
}

// ---------------------------------------------------------------- writes

fn zpopmin<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    pop_generic(ctx, args, false)
}

fn zpopmax<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    pop_generic(ctx, args, true)
}

fn pop_generic<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]], max: bool) -> CmdResult {
    let count = match args.len() {
        2 => None,
        3 => Some(positive_count(args[2])?),
        _ => return Err(CmdError::Syntax),
    };
    // RESP3 nests [member, score] pairs only when a count was given.
    let nested = ctx.state().proto == Proto::Resp3 && count.is_some();
    let key = &args[1];
    let now = ctx.now_ms;
    let shard = ctx.shard(key);
    let Some(e) = shard.get(key, now) else {
        return Ok(Reply::Array(Vec::new()));
    };
    let z = e.value_mut().as_zset_mut()?;
    let n = count.unwrap_or(1).min(z.len());
    if n == 0 {
        return Ok(Reply::Array(Vec::new()));
    }
    let popped: Vec<(Bytes, f64)> = (0..n).map_while(|_| z.pop(max)).collect();
    shard.written(key);
    Ok(scored(popped.iter().map(|(m, s)| (m, *s)), true, nested))
}

fn zremrangebyrank<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let (start, stop) = (int(args[2])?, int(args[3])?);
    remrange_generic(ctx, args[1], |z| match args::range(start, stop, z.len()) {
        Some((start, stop)) => z.remove_range_by_rank(start, stop),
        None => 0,
    })
}

fn zremrangebyscore<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let (min, max) = score_range(args[2], args[3])?;
    remrange_generic(ctx, args[1], |z| z.remove_range_by_score(min, max))
}

/// Applies `remove` to the sorted set at `key` (0 if absent), replying
/// with the number of members removed.
fn remrange_generic<E: Env>(
    ctx: &mut Ctx<'_, E>,
    key: &[u8],
    remove: impl FnOnce(&mut ZSetValue) -> usize,
) -> CmdResult {
    let now = ctx.now_ms;
    let shard = ctx.shard(key);
    let Some(e) = shard.get(key, now) else {
        return Ok(Reply::Integer(0));
    };
    let removed = remove(e.value_mut().as_zset_mut()?);
    if removed > 0 {
        shard.written(key);
    }
    Ok(Reply::Integer(removed as i64))
}

fn zscan<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let cursor = scan_cursor(args[2])?;
    // As in Redis, an absent key answers before the options are looked at.
    let Some(z) = read_zset(ctx, args[1])? else {
        return Ok(scan_reply(0, Vec::new()));
    };
    let opts = scan_options(&args[3..], false)?;
    let mut out = Vec::new();
    let cursor = usize::try_from(cursor).unwrap_or(usize::MAX);
    let next = z.scan(cursor, opts.count, |m| opts.pattern.is_none_or(|p| glob_match(p, m)), &mut out);
    // Scores as bulk strings in both protocols, like every SCAN reply.
    let items =
        out.into_iter().flat_map(|(m, s)| [Reply::Bulk(m), Reply::Bulk(Bytes::from(format_double(s)))]).collect();
    Ok(scan_reply(next, items))
}

// ---------------------------------------------------------------- lex

fn zlexcount<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let range = lex_range(args[2], args[3])?;
    let n = match (read_zset(ctx, args[1])?, range) {
        (Some(z), Some((min, max))) => z.range_by_lex(min, max, false).count(),
        _ => 0,
    };
    Ok(Reply::Integer(n as i64))
}

fn zremrangebylex<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let range = lex_range(args[2], args[3])?;
    remrange_generic(ctx, args[1], |z| {
        let Some((min, max)) = range else {
            return 0;
        };
        let doomed: Vec<Bytes> = z.range_by_lex(min, max, false).map(|(m, _)| m.clone()).collect();
        doomed.iter().filter(|m| z.remove(m).is_some()).count()
    })
}

// ---------------------------------------------------------------- random

fn zrandmember<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    if args.len() < 3 {
        let Some(z) = read_zset(ctx, args[1])?.filter(|z| !z.is_empty()) else {
            return Ok(Reply::Null);
        };
        let i = rand::thread_rng().gen_range(0..z.len());
        return Ok(z.get_index(i).map(|(m, _)| m.clone()).into());
    }
    let count = args::int_in(args[2], -i64::MAX, i64::MAX)?;
    let withscores = match args.len() {
        3 => false,
        4 if is(args[3], "WITHSCORES") => true,
        _ => return Err(CmdError::Syntax),
    };
    // Redis doubles the count for the RESP2 reply length.
    if withscores && !(-i64::MAX / 2..=i64::MAX / 2).contains(&count) {
        return Err(CmdError::other("ERR value is out of range"));
    }
    let nested = ctx.state().proto == Proto::Resp3;
    let Some(z) = read_zset(ctx, args[1])?.filter(|z| !z.is_empty()) else {
        return Ok(Reply::Array(Vec::new()));
    };
    let size = z.len();
    let mut rng = rand::thread_rng();
    let picked: Vec<(&Bytes, f64)> = if count < 0 {
        let n = count.unsigned_abs();
        if n > args::RANDOM_COUNT_MAX {
            return Err(CmdError::other("ERR value is out of range"));
        }
        (0..n).filter_map(|_| z.get_index(rng.gen_range(0..size))).collect()
    } else if count as u64 >= size as u64 {
        // The whole set, highest first: Redis walks a sorted set from its
        // tail.
        z.iter().rev().collect()
    } else {
        rand::seq::index::sample(&mut rng, size, count as usize).into_iter().filter_map(|i| z.get_index(i)).collect()
    };
    Ok(scored(picked.into_iter(), withscores, nested))
}

// ---------------------------------------------------------------- ZMPOP

/// ZMPOP numkeys key... MIN|MAX [COUNT n]: pops from the first non-empty
/// sorted set, replying `[key, [[member, score]...]]` (nested in both
/// protocols, as in Redis), or a null array.
fn zmpop<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let (keys, where_at) = crate::lists::mpop_args(args)?;
    let max = if is(args[where_at], "MAX") {
        true
    } else if is(args[where_at], "MIN") {
        false
    } else {
        return Err(CmdError::Syntax);
    };
    let count = crate::lists::mpop_count(args, where_at)?;
    let now = ctx.now_ms;
    for key in &args[keys] {
        let shard = ctx.shard(key);
        let Some(e) = shard.get(key, now) else {
            continue;
        };
        let z = e.value_mut().as_zset_mut()?;
        let n = count.min(z.len());
        let popped: Vec<(Bytes, f64)> = (0..n).map_while(|_| z.pop(max)).collect();
        shard.written(key);
        let items = scored(popped.iter().map(|(m, s)| (m, *s)), true, true);
        return Ok(Reply::Array(vec![Reply::Bulk(Bytes::copy_from_slice(key)), items]));
    }
    Ok(Reply::NullArray)
}

/// BZPOPMIN/BZPOPMAX key... timeout: `[key, member, score]` from the first
/// non-empty sorted set.
fn bzpop<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]], max: bool) -> CmdResult {
    let timeout = blocking::timeout_ms(args[args.len() - 1], ctx.now_ms)?;
    let keys = &args[1..args.len() - 1];
    let now = ctx.now_ms;
    for key in keys {
        let shard = ctx.shard(key);
        let Some(e) = shard.get(key, now) else {
            continue;
        };
        let Some((member, score)) = e.value_mut().as_zset_mut()?.pop(max) else {
            continue;
        };
        shard.written(key);
        return Ok(Reply::Array(vec![
            Reply::Bulk(Bytes::copy_from_slice(key)),
            Reply::Bulk(member),
            Reply::Double(score),
        ]));
    }
    blocking::wait(ctx, keys, BlockKind::Zset, timeout, Reply::NullArray)
}

fn bzpopmin<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    bzpop(ctx, args, false)
}

fn bzpopmax<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    bzpop(ctx, args, true)
}

/// BZMPOP timeout numkeys key... MIN|MAX [COUNT n]: ZMPOP once a sorted
/// set has members; the timeout is checked after the other arguments.
fn bzmpop<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let rest = &args[1..];
    let (keys, where_at) = crate::lists::mpop_args(rest)?;
    if !is(rest[where_at], "MIN") && !is(rest[where_at], "MAX") {
        return Err(CmdError::Syntax);
    }
    crate::lists::mpop_count(rest, where_at)?;
    let timeout = blocking::timeout_ms(args[1], ctx.now_ms)?;
    match zmpop(ctx, rest)? {
        Reply::NullArray => blocking::wait(ctx, &rest[keys], BlockKind::Zset, timeout, Reply::NullArray),
        popped => Ok(popped),
    }
}

// ---------------------------------------------------------------- set operations

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ZSetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

impl Aggregate {
    /// Redis's `zunionInterAggregate`: a NaN sum (`inf + -inf`) is 0.
    fn apply(self, acc: f64, v: f64) -> f64 {
        match self {
            Aggregate::Sum => {
                let s = acc + v;
                if s.is_nan() {
                    0.0
                } else {
                    s
                }
            }
            Aggregate::Min => acc.min(v),
            Aggregate::Max => acc.max(v),
        }
    }
}

/// A source of a set operation: a sorted set, or a plain set whose
/// members all score 1.
enum Source<'a> {
    Z(&'a ZSetValue),
    S(&'a ringcache_store::SetValue),
}

impl Source<'_> {
    fn score(&self, m: &[u8]) -> Option<f64> {
        match self {
            Source::Z(z) => z.score(m),
            Source::S(s) => s.contains(m).then_some(1.0),
        }
    }

    fn for_each(&self, f: &mut dyn FnMut(&Bytes, f64)) {
        match self {
            Source::Z(z) => z.iter().for_each(|(m, s)| f(m, s)),
            Source::S(s) => s.iter().for_each(|m| f(m, 1.0)),
        }
    }
}

/// `weight · score`, where `0 · ±inf` (NaN) is 0, as in Redis.
fn weighted(weight: f64, score: f64) -> f64 {
    let v = weight * score;
    if v.is_nan() {
        0.0
    } else {
        v
    }
}

/// What a set operation's arguments asked for.
struct SetOpArgs<'a> {
    keys: &'a [&'a [u8]],
    weights: Vec<f64>,
    aggregate: Aggregate,
    withscores: bool,
    limit: usize,
}

/// Redis's `zunionInterDiffGenericCommand` up to the computation: the key
/// count, every key's type (before any option is read), then WEIGHTS,
/// AGGREGATE, WITHSCORES (not for *STORE) or LIMIT (ZINTERCARD only).
fn setop_args<'a, E: Env>(
    ctx: &mut Ctx<'_, E>,
    args: &'a [&'a [u8]],
    numkeys_at: usize,
    op: ZSetOp,
    store: bool,
    card: bool,
) -> Result<SetOpArgs<'a>, CmdError> {
    let n = int(args[numkeys_at])?;
    if n < 1 {
        let name = String::from_utf8_lossy(args[0]).to_ascii_lowercase();
        return Err(CmdError::other(format!("ERR at least 1 input key is needed for '{name}' command")));
    }
    let first = numkeys_at + 1;
    let n = match usize::try_from(n) {
        Ok(n) if n <= args.len() - first => n,
        _ => return Err(CmdError::Syntax),
    };
    let keys = &args[first..first + n];
    let now = ctx.now_ms;
    for key in keys {
        if let Some(e) = ctx.shard(key).get_read(key, now) {
            if !matches!(e.value(), Value::ZSet(_) | Value::Set(_)) {
                return Err(CmdError::WrongType);
            }
        }
    }
    let mut out = SetOpArgs { keys, weights: vec![1.0; n], aggregate: Aggregate::Sum, withscores: false, limit: 0 };
    let mut j = first + n;
    while j < args.len() {
        let remaining = args.len() - j;
        let opt = args[j];
        if op != ZSetOp::Diff && !card && remaining > n && is(opt, "WEIGHTS") {
            for (w, arg) in out.weights.iter_mut().zip(&args[j + 1..j + 1 + n]) {
                *w = float_strict(arg).map_err(|_| CmdError::other("ERR weight value is not a float"))?;
            }
            j += 1 + n;
        } else if op != ZSetOp::Diff && !card && remaining >= 2 && is(opt, "AGGREGATE") {
            let a = args[j + 1];
            out.aggregate = if is(a, "SUM") {
                Aggregate::Sum
            } else if is(a, "MIN") {
                Aggregate::Min
            } else if is(a, "MAX") {
                Aggregate::Max
            } else {
                return Err(CmdError::Syntax);
            };
            j += 2;
        } else if !store && !card && is(opt, "WITHSCORES") {
            out.withscores = true;
            j += 1;
        } else if card && remaining >= 2 && is(opt, "LIMIT") {
            let limit = args::positive(args[j + 1], "LIMIT can't be negative")?;
            out.limit = usize::try_from(limit).unwrap_or(usize::MAX);
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok(out)
}

/// Computes the operation over the sources (absent keys are empty).
fn setop_compute<E: Env>(ctx: &mut Ctx<'_, E>, a: &SetOpArgs<'_>, op: ZSetOp) -> ZSetValue {
    let now = ctx.now_ms;
    let peek = |ctx: &mut Ctx<'_, E>, key: &[u8], f: &mut dyn FnMut(Source<'_>)| {
        if let Some(e) = ctx.shard(key).peek(key, now) {
            match e.value() {
                Value::ZSet(z) => f(Source::Z(z)),
                Value::Set(s) => f(Source::S(s)),
                _ => unreachable!("types checked before"),
            }
        }
    };
    let len_of = |ctx: &mut Ctx<'_, E>, key: &[u8]| {
        let mut len = 0;
        peek(ctx, key, &mut |s| {
            len = match s {
                Source::Z(z) => z.len(),
                Source::S(s) => s.len(),
            }
        });
        len
    };
    let mut result = ZSetValue::new();
    match op {
        ZSetOp::Diff => {
            let mut acc: Vec<(Bytes, f64)> = Vec::new();
            peek(ctx, a.keys[0], &mut |s| s.for_each(&mut |m, v| acc.push((m.clone(), v))));
            for key in &a.keys[1..] {
                if acc.is_empty() {
                    break;
                }
                peek(ctx, key, &mut |s| acc.retain(|(m, _)| s.score(m).is_none()));
            }
            acc.into_iter().for_each(|(m, v)| {
                result.insert_owned(m, v);
            });
        }
        ZSetOp::Inter | ZSetOp::Union => {
            // Smallest first, as Redis orders them (it changes only the
            // order in which a sum is added up).
            let mut order: Vec<(usize, usize)> = (0..a.keys.len()).map(|i| (len_of(ctx, a.keys[i]), i)).collect();
            order.sort_by_key(|&(len, _)| len);
            if op == ZSetOp::Inter {
                if order[0].0 == 0 {
                    return result;
                }
                let (_, first) = order[0];
                let mut acc: Vec<(Bytes, f64)> = Vec::new();
                let w = a.weights[first];
                peek(ctx, a.keys[first], &mut |s| s.for_each(&mut |m, v| acc.push((m.clone(), weighted(w, v)))));
                for &(_, i) in &order[1..] {
                    let w = a.weights[i];
                    peek(ctx, a.keys[i], &mut |s| {
                        acc.retain_mut(|(m, acc_v)| match s.score(m) {
                            Some(v) => {
                                *acc_v = a.aggregate.apply(*acc_v, weighted(w, v));
                                true
                            }
                            None => false,
                        })
                    });
                }
                acc.into_iter().for_each(|(m, v)| {
                    result.insert_owned(m, v);
                });
            } else {
                let mut acc: std::collections::HashMap<Bytes, f64> = std::collections::HashMap::new();
                for &(_, i) in &order {
                    let w = a.weights[i];
                    peek(ctx, a.keys[i], &mut |s| {
                        s.for_each(&mut |m, v| {
                            let v = weighted(w, v);
                            match acc.get_mut(&m[..]) {
                                Some(acc_v) => *acc_v = a.aggregate.apply(*acc_v, v),
                                None => {
                                    acc.insert(m.clone(), v);
                                }
                            }
                        })
                    });
                }
                acc.into_iter().for_each(|(m, v)| {
                    result.insert_owned(m, v);
                });
            }
        }
    }
    result
}

fn setop_reply<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]], op: ZSetOp) -> CmdResult {
    let a = setop_args(ctx, args, 1, op, false, false)?;
    let nested = ctx.state().proto == Proto::Resp3;
    let z = setop_compute(ctx, &a, op);
    Ok(scored(z.iter(), a.withscores, nested))
}

fn setop_store<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]], op: ZSetOp) -> CmdResult {
    let a = setop_args(ctx, args, 2, op, true, false)?;
    let z = setop_compute(ctx, &a, op);
    Ok(Reply::Integer(store_zset(ctx, args[1], z) as i64))
}

fn zunion<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    setop_reply(ctx, args, ZSetOp::Union)
}

fn zinter<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    setop_reply(ctx, args, ZSetOp::Inter)
}

fn zdiff<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    setop_reply(ctx, args, ZSetOp::Diff)
}

fn zunionstore<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    setop_store(ctx, args, ZSetOp::Union)
}

fn zinterstore<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    setop_store(ctx, args, ZSetOp::Inter)
}

fn zdiffstore<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    setop_store(ctx, args, ZSetOp::Diff)
}

fn zintercard<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let a = setop_args(ctx, args, 1, ZSetOp::Inter, false, true)?;
    let n = setop_compute(ctx, &a, ZSetOp::Inter).len();
    Ok(Reply::Integer(if a.limit > 0 { n.min(a.limit) } else { n } as i64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{bulk, err, wrongtype, Node};

    fn abc(n: &mut Node) {
        n.run(&["zadd", "z1", "1", "a", "2", "b", "3", "c"]);
        n.run(&["zadd", "z2", "10", "b", "20", "c", "30", "d"]);
    }

    fn flat(items: &[&str]) -> Reply {
        Reply::Array(items.iter().map(|s| bulk(s)).collect())
    }

    #[test]
    fn set_operations_weigh_and_aggregate() {
        let mut n = Node::new();
        abc(&mut n);
        n.run(&["sadd", "s", "a", "d"]);
        assert_eq!(n.run(&["zunionstore", "u", "3", "z1", "z2", "s", "WEIGHTS", "2", "1", "0.5"]), Reply::Integer(4));
        let got = n.run(&["zrange", "u", "0", "-1", "WITHSCORES"]);
        assert_eq!(
            got,
            Reply::Array(vec![
                bulk("a"),
                Reply::Double(2.5),
                bulk("b"),
                Reply::Double(14.0),
                bulk("c"),
                Reply::Double(26.0),
                bulk("d"),
                Reply::Double(30.5),
            ])
        );
        assert_eq!(n.run(&["zinter", "2", "z1", "z2", "AGGREGATE", "MAX"]), flat(&["b", "c"]));
        assert_eq!(n.run(&["zdiff", "2", "z1", "z2"]), flat(&["a"]));
        assert_eq!(n.run(&["zintercard", "2", "z1", "z2", "LIMIT", "1"]), Reply::Integer(1));
        // An empty result deletes the destination.
        assert_eq!(n.run(&["zdiffstore", "u", "2", "z1", "z1"]), Reply::Integer(0));
        assert_eq!(n.run(&["exists", "u"]), Reply::Integer(0));
        // 0 · inf is 0, inf + -inf is 0.
        n.run(&["zadd", "inf", "inf", "x"]);
        n.run(&["zadd", "ninf", "-inf", "x"]);
        n.run(&["zunionstore", "u", "2", "inf", "ninf"]);
        assert_eq!(n.run(&["zscore", "u", "x"]), Reply::Double(0.0));
        n.run(&["zunionstore", "u", "1", "inf", "WEIGHTS", "0"]);
        assert_eq!(n.run(&["zscore", "u", "x"]), Reply::Double(0.0));
        n.run(&["set", "str", "v"]);
        assert_eq!(n.run(&["zunion", "2", "z1", "str"]), wrongtype());
        assert_eq!(n.run(&["zunion", "0", "z1"]), err("ERR at least 1 input key is needed for 'zunion' command"));
        assert_eq!(n.run(&["zunion", "2", "z1"]), err("ERR syntax error"));
        assert_eq!(n.run(&["zdiff", "1", "z1", "WEIGHTS", "1"]), err("ERR syntax error"));
        assert_eq!(n.run(&["zunionstore", "u", "1", "z1", "WITHSCORES"]), err("ERR syntax error"));
    }

    #[test]
    fn lex_ranges_store_and_pop() {
        let mut n = Node::with_journal(true);
        n.run(&["zadd", "l", "0", "a", "0", "b", "0", "c", "0", "d"]);
        assert_eq!(n.run(&["zrangebylex", "l", "(a", "[c"]), flat(&["b", "c"]));
        assert_eq!(n.run(&["zrevrangebylex", "l", "+", "-", "LIMIT", "0", "2"]), flat(&["d", "c"]));
        assert_eq!(n.run(&["zlexcount", "l", "-", "(c"]), Reply::Integer(2));
        assert_eq!(n.run(&["zrangestore", "d", "l", "[b", "+", "BYLEX"]), Reply::Integer(3));
        n.client.changes.clear();
        assert_eq!(n.run(&["zremrangebylex", "l", "[b", "[c"]), Reply::Integer(2));
        assert_eq!(n.client.changes.len(), 1);
        assert_eq!(n.run(&["zrange", "l", "0", "-1"]), flat(&["a", "d"]));
        let popped = n.run(&["zmpop", "2", "none", "l", "MAX"]);
        let pair = Reply::Array(vec![bulk("d"), Reply::Double(0.0)]);
        assert_eq!(popped, Reply::Array(vec![bulk("l"), Reply::Array(vec![pair])]));
        assert_eq!(n.run(&["zlexcount", "l", "a", "b"]), err(LEX_RANGE_ERR));
        assert_eq!(n.run(&["zrandmember", "l", "-3"]), flat(&["a", "a", "a"]));
    }

    #[test]
    fn score_bounds_like_zsl_parse_range() {
        let sb = |v: f64, exclusive| Some(ScoreBound { value: v, exclusive });
        assert_eq!(score_bound(b"1.5"), sb(1.5, false));
        assert_eq!(score_bound(b"(1.5"), sb(1.5, true));
        assert_eq!(score_bound(b"-inf"), sb(f64::NEG_INFINITY, false));
        assert_eq!(score_bound(b"(+inf"), sb(f64::INFINITY, true));
        assert_eq!(score_bound(b""), sb(0.0, false));
        assert_eq!(score_bound(b"("), sb(0.0, true));
        assert_eq!(score_bound(b" 1"), sb(1.0, false));
        assert_eq!(score_bound(b"1e400"), sb(f64::INFINITY, false));
        assert_eq!(score_bound(b"1 "), None);
        assert_eq!(score_bound(b" "), None);
        assert_eq!(score_bound(b"nan"), None);
        assert_eq!(score_bound(b"[1"), None);
        assert_eq!(score_bound(b"abc"), None);
    }

    #[test]
    fn lex_items() {
        assert_eq!(lex_item(b"-"), Some(LexItem::Min));
        assert_eq!(lex_item(b"+"), Some(LexItem::Max));
        assert_eq!(lex_item(b"[a"), Some(LexItem::Incl(b"a")));
        assert_eq!(lex_item(b"("), Some(LexItem::Excl(b"")));
        assert_eq!(lex_item(b"-a"), None);
        assert_eq!(lex_item(b"a"), None);
        assert_eq!(lex_item(b""), None);
        assert_eq!(lex_range(b"+", b"+"), Ok(None));
        assert_eq!(lex_range(b"-", b"-"), Ok(None));
        assert_eq!(lex_range(b"x", b"+"), Err(CmdError::other(LEX_RANGE_ERR)));
    }
}
