//! Hash commands: HSET and friends, HINCRBY/HINCRBYFLOAT, HSCAN, HRANDFIELD.
//!
//! A hash that loses its last field is deleted (`Shard::written` does it).
//! HSCAN's cursor is a position in the hash's insertion-ordered table,
//! walked from the highest position down: a removal moves the last pair into
//! the hole, so a pair can only move from an already-visited position to a
//! lower one, and a field present for the whole scan is always returned.

use bytes::Bytes;
use rand::Rng;
use ringcache_resp::{Proto, Reply};
use ringcache_store::{glob_match, HashValue, Shard, Value};

use crate::args::{
    float, float_human, int, int_bytes, int_in, is, parse_i64, scan_cursor, scan_options, RANDOM_COUNT_MAX,
};
use crate::{flag, CmdError, CmdResult, CommandSpec, Ctx, Env, Keys};

pub fn commands<E: Env>() -> Vec<CommandSpec<E>> {
    vec![
    CommandSpec {
        name: "hset",
        arity: -4,
        flags: flag::WRITE | flag::DENYOOM | flag::FAST,
        keys: Keys::ONE,
        group: "hash",
        summary: "Creates or modifies the value of a field in a hash.",
        handler: hset,
    },
    CommandSpec {
        name: "hmset",
        arity: -4,
        flags: flag::WRITE | flag::DENYOOM | flag::FAST,
        keys: Keys::ONE,
        group: "hash",
        summary: "Sets the values of multiple fields.",
        handler: hmset,
    },
    CommandSpec {
        name: "hsetnx",
        arity: 4,
        flags: flag::WRITE | flag::DENYOOM | flag::FAST,
        keys: Keys::ONE,
        group: "hash",
        summary: "Sets the value of a field in a hash only when the field doesn't exist.",
        handler: hsetnx,
    },
    CommandSpec {
        name: "hget",
        arity: 3,
        flags: flag::READONLY | flag::FAST,
        keys: Keys::ONE,
        group: "hash",
        summary: "Returns the value of a field in a hash.",
        handler: hget,
    },
    CommandSpec {
        name: "hmget",
        arity: -3,
        flags: flag::READONLY | flag::FAST,
        keys: Keys::ONE,
        group: "hash",
        summary: "Returns the values of all fields in a hash.",
        handler: hmget,
    },
    CommandSpec {
        name: "hgetall",
        arity: 2,
        flags: flag::READONLY,
        keys: Keys::ONE,
        group: "hash",
        summary: "Returns all fields and values in a hash.",
        handler: hgetall,
    },
    CommandSpec {
        name: "hkeys",
        arity: 2,
        flags: flag::READONLY,
        keys: Keys::ONE,
        group: "hash",
        summary: "Returns all fields in a hash.",
        handler: hkeys,
    },
    CommandSpec {
        name: "hvals",
        arity: 2,
        flags: flag::READONLY,
        keys: Keys::ONE,
        group: "hash",
        summary: "Returns all values in a hash.",
        handler: hvals,
    },
    CommandSpec {
        name: "hdel",
        arity: -3,
        flags: flag::WRITE | flag::FAST,
        keys: Keys::ONE,
        group: "hash",
        summary: "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.",
        handler: hdel,
    },
    CommandSpec {
        name: "hexists",
        arity: 3,
        flags: flag::READONLY | flag::FAST,
        keys: Keys::ONE,
        group: "hash",
        summary: "Determines whether a field exists in a hash.",
        handler: hexists,
    },
    CommandSpec {
        name: "hlen",
        arity: 2,
        flags: flag::READONLY | flag::FAST,
        keys: Keys::ONE,
        group: "hash",
        summary: "Returns the number of fields in a hash.",
        handler: hlen,
    },
    CommandSpec {
        name: "hstrlen",
        arity: 3,
        flags: flag::READONLY | flag::FAST,
        keys: Keys::ONE,
        group: "hash",
        summary: "Returns the length of the value of a field.",
        handler: hstrlen,
    },
    CommandSpec {
        name: "hincrby",
        arity: 4,
        flags: flag::WRITE | flag::DENYOOM | flag::FAST,
        keys: Keys::ONE,
        group: "hash",
        summary: "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.",
        handler: hincrby,
    },
    CommandSpec {
        name: "hincrbyfloat",
        arity: 4,
        flags: flag::WRITE | flag::DENYOOM | flag::FAST,
        keys: Keys::ONE,
        group: "hash",
        summary: "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.",
        handler: hincrbyfloat,
    },
    CommandSpec {
        name: "hscan",
        arity: -3,
        flags: flag::READONLY,
        keys: Keys::ONE,
        group: "hash",
        summary: "Iterates over fields and values of a hash.",
        handler: hscan,
    },
    CommandSpec {
        name: "hrandfield",
        arity: -2,
        flags: flag::READONLY,
        keys: Keys::ONE,
        group: "hash",
        summary: "Returns one or more random fields from a hash.",
        handler: hrandfield,
    },
    ]
}

/// The hash at `key` for a read command: `Ok(None)` if absent, WRONGTYPE if
/// not a hash. Counts a keyspace hit or miss.
fn read_hash<'c, E: Env>(ctx: &'c mut Ctx<'_, E>, key: &[u8]) -> Result<Option<&'c HashValue>, CmdError> {
    let now = ctx.now_ms;
    match ctx.shard(key).get_read(key, now) {
        Some(e) => Ok(Some(e.value().as_hash()?)),
        None => Ok(None),
    }
}

/// The hash at `key` for writing, created empty if absent; WRONGTYPE (and
/// nothing created) if the key holds something else. The caller must call
/// `shard.written(key)` after changing it, which also deletes it if empty.
fn hash_or_create<'s>(shard: &'s mut Shard, key: &[u8], now_ms: u64) -> Result<&'s mut HashValue, CmdError> {
    let entry = shard.get_or_insert_with(key, now_ms, || Value::Hash(Box::default()));
    Ok(entry.value_mut().as_hash_mut()?)
}

/// Sets every field/value pair of `args[2..]`, returning how many fields
/// are new.
fn set_pairs<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]], name: &str) -> Result<i64, CmdError> {
    if args.len() % 2 == 1 {
        return Err(CmdError::WrongArity(name.to_owned()));
    }
    let key = &args[1];
    let now = ctx.now_ms;
    let shard = ctx.shard(key);
    let hash = hash_or_create(shard, key, now)?;
    let added = args[2..].chunks_exact(2).filter(|pair| hash.insert(pair[0], pair[1])).count();
    shard.written(key);
    Ok(added as i64)
}

fn hset<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    Ok(Reply::Integer(set_pairs(ctx, args, "hset")?))
}

fn hmset<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    set_pairs(ctx, args, "hmset")?;
    Ok(Reply::ok())
}

fn hsetnx<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let (key, field, value) = (&args[1], &args[2], &args[3]);
    let now = ctx.now_ms;
    let shard = ctx.shard(key);
    let hash = hash_or_create(shard, key, now)?;
    if hash.contains(field) {
        return Ok(Reply::Integer(0));
    }
    hash.insert(field, value);
    shard.written(key);
    Ok(Reply::Integer(1))
}

fn hget<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let hash = read_hash(ctx, args[1])?;
    Ok(hash.and_then(|h| h.get(args[2])).cloned().into())
}

fn hmget<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let hash = read_hash(ctx, args[1])?;
    let values = args[2..].iter().map(|f| hash.and_then(|h| h.get(f)).cloned().into()).collect();
    Ok(Reply::Array(values))
}

fn hgetall<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let pairs = read_hash(ctx, args[1])?
        .map(|h| h.iter().map(|(f, v)| (Reply::Bulk(f.clone()), Reply::Bulk(v.clone()))).collect())
        .unwrap_or_default();
    Ok(Reply::Map(pairs))
}

fn hkeys<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let fields =
        read_hash(ctx, args[1])?.map(|h| h.iter().map(|(f, _)| Reply::Bulk(f.clone())).collect()).unwrap_or_default();
    Ok(Reply::Array(fields))
}

fn hvals<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let values =
        read_hash(ctx, args[1])?.map(|h| h.iter().map(|(_, v)| Reply::Bulk(v.clone())).collect()).unwrap_or_default();
    Ok(Reply::Array(values))
}

fn hdel<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let key = &args[1];
    let now = ctx.now_ms;
    let shard = ctx.shard(key);
    let Some(entry) = shard.get(key, now) else {
        return Ok(Reply::Integer(0));
    };
    let hash = entry.value_mut().as_hash_mut()?;
    let removed = args[2..].iter().filter(|f| hash.remove(f)).count();
    if removed > 0 {
        shard.written(key);
    }
    Ok(Reply::Integer(removed as i64))
}

fn hexists<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let hash = read_hash(ctx, args[1])?;
    Ok(Reply::Integer(hash.is_some_and(|h| h.contains(args[2])).into()))
}

fn hlen<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let hash = read_hash(ctx, args[1])?;
    Ok(Reply::Integer(hash.map_or(0, |h| h.len() as i64)))
}

fn hstrlen<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let hash = read_hash(ctx, args[1])?;
    Ok(Reply::Integer(hash.and_then(|h| h.get(args[2])).map_or(0, |v| v.len() as i64)))
}

fn hincrby<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let (key, field) = (&args[1], &args[2]);
    let incr = int(args[3])?;
    let now = ctx.now_ms;
    let shard = ctx.shard(key);
    let hash = hash_or_create(shard, key, now)?;
    // A field that exists means the hash existed: the error paths below
    // never leave a freshly created empty hash behind.
    let old = match hash.get(field) {
        Some(v) => parse_i64(v).ok_or_else(|| CmdError::other("ERR hash value is not an integer"))?,
        None => 0,
    };
    let new = old.checked_add(incr).ok_or(CmdError::Overflow)?;
    hash.insert(field, &int_bytes(new));
    shard.written(key);
    Ok(Reply::Integer(new))
}

fn hincrbyfloat<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let (key, field) = (&args[1], &args[2]);
    let incr = float(args[3])?;
    if !incr.is_finite() {
        return Err(CmdError::other("ERR value is NaN or Infinity"));
    }
    let now = ctx.now_ms;
    let shard = ctx.shard(key);
    let hash = hash_or_create(shard, key, now)?;
    let old = match hash.get(field) {
        Some(v) => float(v).map_err(|_| CmdError::other("ERR hash value is not a float"))?,
        None => 0.0,
    };
    let new = old + incr;
    if !new.is_finite() {
        return Err(CmdError::other("ERR increment would produce NaN or Infinity"));
    }
    let text = float_human(new);
    hash.insert(field, &text);
    shard.written(key);
    Ok(Reply::Bulk(text))
}

fn hscan<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let cursor = scan_cursor(args[2])?;
    // As in Redis, a missing key answers before the options are looked at.
    let Some(hash) = read_hash(ctx, args[1])? else {
        return Ok(scan_reply(0, Vec::new()));
    };
    let opts = scan_options(&args[3..], true)?;
    let len = hash.len();
    let mut next = match usize::try_from(cursor) {
        Ok(0) => len,
        Ok(c) => c.min(len),
        Err(_) => len,
    };
    let mut items = Vec::new();
    let mut visited = 0;
    while next > 0 && visited < opts.count {
        next -= 1;
        visited += 1;
        let Some((field, value)) = hash.get_index(next) else {
            break;
        };
        if opts.pattern.is_none_or(|p| glob_match(p, field)) {
            items.push(Reply::Bulk(field.clone()));
            if !opts.novalues {
                items.push(Reply::Bulk(value.clone()));
            }
        }
    }
    Ok(scan_reply(next, items))
}

/// `[cursor, [items...]]`, the cursor as a bulk string.
fn scan_reply(cursor: usize, items: Vec<Reply>) -> Reply {
    Reply::Array(vec![
        Reply::Bulk(Bytes::copy_from_slice(itoa::Buffer::new().format(cursor).as_bytes())),
        Reply::Array(items),
    ])
}

fn hrandfield<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    if args.len() >= 3 {
        let count = int_in(args[2], -i64::MAX, i64::MAX)?;
        let with_values = match args.len() {
            3 => false,
            4 if is(args[3], "WITHVALUES") => true,
            _ => return Err(CmdError::Syntax),
        };
        // Redis doubles the count for the RESP2 reply length.
        if with_values && !(-i64::MAX / 2..=i64::MAX / 2).contains(&count) {
            return Err(CmdError::other("ERR value is out of range"));
        }
        return hrandfield_count(ctx, args[1], count, with_values);
    }
    let Some(hash) = read_hash(ctx, args[1])?.filter(|h| !h.is_empty()) else {
        return Ok(Reply::Null);
    };
    let i = rand::thread_rng().gen_range(0..hash.len());
    Ok(hash.get_index(i).map(|(f, _)| f.clone()).into())
}

/// HRANDFIELD with a count: distinct fields for a positive count, fields
/// that may repeat for a negative one.
fn hrandfield_count<E: Env>(ctx: &mut Ctx<'_, E>, key: &[u8], count: i64, with_values: bool) -> CmdResult {
    let resp3 = ctx.state().proto == Proto::Resp3;
    let Some(hash) = read_hash(ctx, key)?.filter(|h| !h.is_empty()) else {
        return Ok(Reply::Array(Vec::new()));
    };
    let size = hash.len();
    let mut rng = rand::thread_rng();
    let indices: Vec<usize> = if count < 0 {
        let n = count.unsigned_abs();
        if n > RANDOM_COUNT_MAX {
            return Err(CmdError::other("ERR value is out of range"));
        }
        (0..n).map(|_| rng.gen_range(0..size)).collect()
    } else if count as u64 >= size as u64 {
        (0..size).collect()
    } else {
        rand::seq::index::sample(&mut rng, size, count as usize).into_vec()
    };
    let mut items = Vec::with_capacity(if with_values && !resp3 { indices.len() * 2 } else { indices.len() });
    for (field, value) in indices.into_iter().filter_map(|i| hash.get_index(i)) {
        let field = Reply::Bulk(field.clone());
        match (with_values, resp3) {
            (false, _) => items.push(field),
            // RESP3 pairs each field with its value in a two-element array.
            (true, true) => items.push(Reply::Array(vec![field, Reply::Bulk(value.clone())])),
            (true, false) => items.extend([field, Reply::Bulk(value.clone())]),
        }
    }
    Ok(Reply::Array(items))
}
