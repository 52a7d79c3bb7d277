//! String commands: GET/SET and their variants, the counters (INCR
//! family, INCRBYFLOAT) and the byte-range commands (APPEND, GETRANGE,
//! SETRANGE, STRLEN, SUBSTR) and LCS.
//!
//! Invariants: a command that rewrites a string in place (INCR, APPEND,
//! SETRANGE) keeps the key's TTL, as Redis does, and reports the change with
//! `Shard::written`; commands that store a new value (SET, MSET, GETSET,
//! SETNX) clear it. No string grows past `proto-max-bulk-len`.

use bytes::Bytes;
use ringcache_resp::Reply;
use ringcache_store::{StrValue, Value};

use crate::args::{float, int, int_bytes, is, parse_i64};
use crate::{flag, CmdError, CmdResult, CommandSpec, Ctx, Env, Keys};

/// MSET and MSETNX: every other argument from the first is a key.
const PAIRS: Keys = Keys::Range { first: 1, last: -1, step: 2 };
/// MGET: every argument is a key.
const ALL_ARGS: Keys = Keys::Range { first: 1, last: -1, step: 1 };

pub fn commands<E: Env>() -> Vec<CommandSpec<E>> {
    vec![
    CommandSpec {
        name: "get",
        arity: 2,
        flags: flag::READONLY | flag::FAST,
        keys: Keys::ONE,
        group: "string",
        summary: "Returns the string value of a key.",
        handler: get,
    },
    CommandSpec {
        name: "set",
        arity: -3,
        flags: flag::WRITE | flag::DENYOOM,
        keys: Keys::ONE,
        group: "string",
        summary: "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.",
        handler: set,
    },
    CommandSpec {
        name: "setnx",
        arity: 3,
        flags: flag::WRITE | flag::DENYOOM | flag::FAST,
        keys: Keys::ONE,
        group: "string",
        summary: "Set the string value of a key only when the key doesn't exist.",
        handler: setnx,
    },
    CommandSpec {
        name: "setex",
        arity: 4,
        flags: flag::WRITE | flag::DENYOOM,
        keys: Keys::ONE,
        group: "string",
        summary: "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.",
        handler: setex,
    },
    CommandSpec {
        name: "psetex",
        arity: 4,
        flags: flag::WRITE | flag::DENYOOM,
        keys: Keys::ONE,
        group: "string",
        summary: "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.",
        handler: psetex,
    },
    CommandSpec {
        name: "getex",
        arity: -2,
        flags: flag::WRITE | flag::FAST,
        keys: Keys::ONE,
        group: "string",
        summary: "Returns the string value of a key after setting its expiration time.",
        handler: getex,
    },
    CommandSpec {
        name: "getdel",
        arity: 2,
        flags: flag::WRITE | flag::FAST,
        keys: Keys::ONE,
        group: "string",
        summary: "Returns the string value of a key after deleting the key.",
        handler: getdel,
    },
    CommandSpec {
        name: "getset",
        arity: 3,
        flags: flag::WRITE | flag::DENYOOM | flag::FAST,
        keys: Keys::ONE,
        group: "string",
        summary: "Returns the previous string value of a key after setting it to a new value.",
        handler: getset,
    },
    CommandSpec {
        name: "mget",
        arity: -2,
        flags: flag::READONLY | flag::FAST,
        keys: ALL_ARGS,
        group: "string",
        summary: "Atomically returns the string values of one or more keys.",
        handler: mget,
    },
    CommandSpec {
        name: "mset",
        arity: -3,
        flags: flag::WRITE | flag::DENYOOM,
        keys: PAIRS,
        group: "string",
        summary: "Atomically creates or modifies the string values of one or more keys.",
        handler: mset,
    },
    CommandSpec {
        name: "msetnx",
        arity: -3,
        flags: flag::WRITE | flag::DENYOOM,
        keys: PAIRS,
        group: "string",
        summary: "Atomically modifies the string values of one or more keys only when all keys don't exist.",
        handler: msetnx,
    },
    CommandSpec {
        name: "incr",
        arity: 2,
        flags: flag::WRITE | flag::DENYOOM | flag::FAST,
        keys: Keys::ONE,
        group: "string",
        summary: "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.",
        handler: incr,
    },
    CommandSpec {
        name: "decr",
        arity: 2,
        flags: flag::WRITE | flag::DENYOOM | flag::FAST,
        keys: Keys::ONE,
        group: "string",
        summary: "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.",
        handler: decr,
    },
    CommandSpec {
        name: "incrby",
        arity: 3,
        flags: flag::WRITE | flag::DENYOOM | flag::FAST,
        keys: Keys::ONE,
        group: "string",
        summary: "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.",
        handler: incrby,
    },
    CommandSpec {
        name: "decrby",
        arity: 3,
        flags: flag::WRITE | flag::DENYOOM | flag::FAST,
        keys: Keys::ONE,
        group: "string",
        summary: "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.",
        handler: decrby,
    },
    CommandSpec {
        name: "incrbyfloat",
        arity: 3,
        flags: flag::WRITE | flag::DENYOOM | flag::FAST,
        keys: Keys::ONE,
        group: "string",
        summary: "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.",
        handler: incrbyfloat,
    },
    CommandSpec {
        name: "append",
        arity: 3,
        flags: flag::WRITE | flag::DENYOOM,
        keys: Keys::ONE,
        group: "string",
        summary: "Appends a string to the value of a key. Creates the key if it doesn't exist.",
        handler: append,
    },
    CommandSpec {
        name: "strlen",
        arity: 2,
        flags: flag::READONLY | flag::FAST,
        keys: Keys::ONE,
        group: "string",
        summary: "Returns the length of a string value.",
        handler: strlen,
    },
    CommandSpec {
        name: "getrange",
        arity: 4,
        flags: flag::READONLY,
        keys: Keys::ONE,
        group: "string",
        summary: "Returns a substring of the string stored at a key.",
        handler: getrange,
    },
    CommandSpec {
        name: "setrange",
        arity: 4,
        flags: flag::WRITE | flag::DENYOOM,
        keys: Keys::ONE,
        group: "string",
        summary: "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.",
        handler: setrange,
    },
    CommandSpec {
        name: "substr",
        arity: 4,
        flags: flag::READONLY,
        keys: Keys::ONE,
        group: "string",
        summary: "Returns a substring from a string value.",
        handler: getrange,
    },
    CommandSpec {
        name: "lcs",
        arity: -3,
        flags: flag::READONLY,
        keys: Keys::Range { first: 1, last: 2, step: 1 },
        group: "string",
        summary: "Finds the longest common substring.",
        handler: lcs,
    },
    ]
}

/// The string stored at `key`: `Ok(None)` if absent, WRONGTYPE if not a string.
pub(crate) fn read_string<E: Env>(ctx: &mut Ctx<'_, E>, key: &[u8]) -> Result<Option<Bytes>, CmdError> {
    let now = ctx.now_ms;
    match ctx.shard(key).get_read(key, now) {
        Some(e) => Ok(Some(e.value().as_str()?.to_bytes())),
        None => Ok(None),
    }
}

/// A stored string as a bulk reply: a heap buffer shared, a short (inline)
/// string copied into the reply, so neither allocates.
pub(crate) fn str_reply(s: &StrValue) -> Reply {
    if s.is_heap() {
        Reply::Bulk(s.to_bytes())
    } else {
        Reply::bulk_copy(s.as_bytes())
    }
}

fn get<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let (key, now) = (&args[1], ctx.now_ms);
    match ctx.shard(key).get_read(key, now) {
        Some(e) => Ok(str_reply(e.value().as_str()?)),
        None => Ok(Reply::Null),
    }
}

/// When a written key should expire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expiry {
    /// No TTL (a plain SET clears any TTL).
    None,
    /// Keep the key's TTL (KEEPTTL).
    Keep,
    /// At this Unix time in milliseconds.
    At(u64),
}

/// Turns an `EX`/`PX`/`EXAT`/`PXAT` argument into an absolute time, with
/// Redis's "invalid expire time in '<cmd>' command" for values ≤ 0 or that
/// overflow.
pub(crate) fn expire_at(arg: &[u8], unit_ms: i64, absolute: bool, now_ms: u64, cmd: &str) -> Result<u64, CmdError> {
    let v = int(arg)?;
    let invalid = || CmdError::other(format!("ERR invalid expire time in '{cmd}' command"));
    if v <= 0 {
        return Err(invalid());
    }
    let ms = v.checked_mul(unit_ms).ok_or_else(invalid)?;
    let at = if absolute { ms } else { ms.checked_add(now_ms as i64).ok_or_else(invalid)? };
    Ok(at as u64)
}

fn set<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let (key, value) = (&args[1], &args[2]);
    // As Redis's `parseExtendedStringArgumentsOrReply`: every option's
    // syntax is checked first and the expire value only after, so a
    // malformed command gets the same error as from Redis. An expire
    // option may repeat (the last wins) but not mix with another kind.
    let mut ttl: Option<(&'static str, &[u8])> = None;
    let (mut keepttl, mut nx, mut xx, mut get) = (false, false, false, false);
    let mut i = 3;
    while i < args.len() {
        let opt = &args[i];
        let next = args.get(i + 1);
        let kind = ["EX", "PX", "EXAT", "PXAT"].into_iter().find(|k| is(opt, k));
        if let (Some(kind), Some(arg)) = (kind, next) {
            if keepttl || ttl.is_some_and(|(k, _)| k != kind) {
                return Err(CmdError::Syntax);
            }
            ttl = Some((kind, arg));
            i += 2;
            continue;
        }
        if is(opt, "NX") && !xx {
            nx = true;
        } else if is(opt, "XX") && !nx {
            xx = true;
        } else if is(opt, "GET") {
            get = true;
        } else if is(opt, "KEEPTTL") && ttl.is_none() {
            keepttl = true;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    let expiry = match ttl {
        Some((kind, arg)) => {
            let (unit_ms, absolute) = match kind {
                "EX" => (1000, false),
                "PX" => (1, false),
                "EXAT" => (1000, true),
                _ => (1, true),
            };
            Expiry::At(expire_at(arg, unit_ms, absolute, ctx.now_ms, "set")?)
        }
        None if keepttl => Expiry::Keep,
        None => Expiry::None,
    };

    let now = ctx.now_ms;
    let shard = ctx.shard(key);
    if !(nx || xx || get) && expiry == Expiry::None {
        // The common SET: nothing depends on the old value (`set` counts
        // an expired one), so the key is looked up once.
        shard.set(key, Value::string(value), 0, now);
        return Ok(Reply::ok());
    }
    let old = match shard.get(key, now) {
        Some(e) if get => Some(Some(e.value().as_str()?.to_bytes())),
        Some(_) => Some(None),
        None => None,
    };
    let exists = old.is_some();
    let reply_old = || if get { Reply::from(old.clone().flatten()) } else { Reply::Null };
    if (nx && exists) || (xx && !exists) {
        return Ok(reply_old());
    }
    let value = Value::string(value);
    match expiry {
        Expiry::None => shard.set(key, value, 0, now),
        Expiry::Keep => shard.set_keep_ttl(key, value, now),
        Expiry::At(at) if at <= now => {
            // An expiry already in the past: Redis deletes instead of storing.
            shard.remove(key, now);
        }
        Expiry::At(at) => shard.set(key, value, at, now),
    }
    Ok(if get { reply_old() } else { Reply::ok() })
}

fn setnx<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let (key, now) = (&args[1], ctx.now_ms);
    let shard = ctx.shard(key);
    if shard.contains(key, now) {
        return Ok(Reply::Integer(0));
    }
    shard.set(key, Value::string(args[2]), 0, now);
    Ok(Reply::Integer(1))
}

/// SETEX / PSETEX: `key time value`, with the time in `unit_ms`.
fn set_with_ttl<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]], unit_ms: i64, cmd: &str) -> CmdResult {
    let (key, now) = (&args[1], ctx.now_ms);
    let at = expire_at(args[2], unit_ms, false, now, cmd)?;
    ctx.shard(key).set(key, Value::string(args[3]), at, now);
    Ok(Reply::ok())
}

fn setex<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    set_with_ttl(ctx, args, 1000, "setex")
}

fn psetex<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    set_with_ttl(ctx, args, 1, "psetex")
}

/// What GETEX does to the key's TTL.
#[derive(Debug, Clone, Copy)]
enum GetexOp<'a> {
    Keep,
    Persist,
    /// The raw time argument, its unit, and whether it is absolute.
    Expire(&'a [u8], i64, bool),
}

fn getex<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let key = &args[1];
    let mut op = GetexOp::Keep;
    let mut i = 2;
    while i < args.len() {
        let opt = &args[i];
        let unit = match () {
            _ if is(opt, "EX") => Some((1000, false)),
            _ if is(opt, "PX") => Some((1, false)),
            _ if is(opt, "EXAT") => Some((1000, true)),
            _ if is(opt, "PXAT") => Some((1, true)),
            _ => None,
        };
        match (unit, op, args.get(i + 1)) {
            (Some((unit_ms, absolute)), GetexOp::Keep, Some(arg)) => {
                op = GetexOp::Expire(arg, unit_ms, absolute);
                i += 2;
            }
            (None, GetexOp::Keep, _) if is(opt, "PERSIST") => {
                op = GetexOp::Persist;
                i += 1;
            }
            _ => return Err(CmdError::Syntax),
        }
    }

    // Redis checks the key and its type before the time argument.
    let now = ctx.now_ms;
    let Some(value) = read_string(ctx, key)? else {
        return Ok(Reply::Null);
    };
    let shard = ctx.shard(key);
    match op {
        GetexOp::Keep => {}
        GetexOp::Persist => {
            shard.persist(key, now);
        }
        GetexOp::Expire(arg, unit_ms, absolute) => {
            // set_expire deletes the key when the time is already past.
            let at = expire_at(arg, unit_ms, absolute, now, "getex")?;
            shard.set_expire(key, at, now);
        }
    }
    Ok(Reply::Bulk(value))
}

fn getdel<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let key = &args[1];
    let Some(value) = read_string(ctx, key)? else {
        return Ok(Reply::Null);
    };
    let now = ctx.now_ms;
    ctx.shard(key).remove(key, now);
    Ok(Reply::Bulk(value))
}

fn getset<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let (key, now) = (&args[1], ctx.now_ms);
    let shard = ctx.shard(key);
    let old = match shard.get(key, now) {
        Some(e) => Some(e.value().as_str()?.to_bytes()),
        None => None,
    };
    shard.set(key, Value::string(args[2]), 0, now);
    Ok(old.into())
}

fn mget<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let now = ctx.now_ms;
    let values = args[1..]
        .iter()
        .map(|key| match ctx.shard(key).get_read(key, now).map(|e| e.value()) {
            // MGET answers nil for a key of another type, never WRONGTYPE.
            Some(Value::Str(s)) => str_reply(s),
            _ => Reply::Null,
        })
        .collect();
    Ok(Reply::Array(values))
}

/// The `key value` pairs of MSET/MSETNX, or the arity error for an odd count.
fn pairs<'a, 'b>(args: &'a [&'b [u8]], cmd: &str) -> Result<std::slice::ChunksExact<'a, &'b [u8]>, CmdError> {
    let kvs = args[1..].chunks_exact(2);
    if !kvs.remainder().is_empty() {
        return Err(CmdError::WrongArity(cmd.to_owned()));
    }
    Ok(kvs)
}

fn mset<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let now = ctx.now_ms;
    for kv in pairs(args, "mset")? {
        ctx.shard(kv[0]).set(kv[0], Value::string(kv[1]), 0, now);
    }
    Ok(Reply::ok())
}

fn msetnx<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let now = ctx.now_ms;
    let kvs = pairs(args, "msetnx")?;
    if kvs.clone().any(|kv| ctx.shard(kv[0]).contains(kv[0], now)) {
        return Ok(Reply::Integer(0));
    }
    for kv in kvs {
        ctx.shard(kv[0]).set(kv[0], Value::string(kv[1]), 0, now);
    }
    Ok(Reply::Integer(1))
}

/// Adds `by` to the integer at `key` (0 if absent), keeping its TTL.
fn incr_by<E: Env>(ctx: &mut Ctx<'_, E>, key: &[u8], by: i64) -> CmdResult {
    let now = ctx.now_ms;
    let shard = ctx.shard(key);
    let Some(entry) = shard.get(key, now) else {
        shard.set(key, Value::string_owned(int_bytes(by)), 0, now);
        return Ok(Reply::Integer(by));
    };
    let current = parse_i64(entry.value().as_str()?).ok_or(CmdError::NotInteger)?;
    let next = current.checked_add(by).ok_or(CmdError::Overflow)?;
    *entry.value_mut() = Value::string_owned(int_bytes(next));
    shard.written(key);
    Ok(Reply::Integer(next))
}

fn incr<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    incr_by(ctx, args[1], 1)
}

fn decr<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    incr_by(ctx, args[1], -1)
}

fn incrby<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let by = int(args[2])?;
    incr_by(ctx, args[1], by)
}

fn decrby<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let by = int(args[2])?;
    // -i64::MIN does not exist.
    let by = by.checked_neg().ok_or_else(|| CmdError::other("ERR decrement would overflow"))?;
    incr_by(ctx, args[1], by)
}

fn incrbyfloat<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let (key, now) = (&args[1], ctx.now_ms);
    let shard = ctx.shard(key);
    let sum = match shard.get(key, now) {
        Some(entry) => {
            let sum = float_sum(entry.value().as_str()?, args[2])?;
            *entry.value_mut() = Value::string_owned(sum.clone());
            shard.written(key);
            sum
        }
        None => {
            let sum = float_sum(b"0", args[2])?;
            shard.set(key, Value::string_owned(sum.clone()), 0, now);
            sum
        }
    };
    // A bulk string even in RESP3, as Redis replies.
    Ok(Reply::Bulk(sum))
}

/// `a + b` for INCRBYFLOAT, as the text Redis would store.
///
/// Redis adds `long double`s and prints the sum with `%.17Lf`, trailing
/// zeros removed. Where both operands are plain decimals this adds them
/// exactly and rounds to 17 places, which is what Redis prints wherever its
/// `long double` is precise enough (0.1 + 0.2 = "0.3", not the f64
/// "0.30000000000000004"). Otherwise (huge exponents, very long inputs) it
/// adds f64s and prints them the same way.
fn float_sum(a: &[u8], b: &[u8]) -> Result<Bytes, CmdError> {
    let sum = float(a)? + float(b)?;
    if !sum.is_finite() {
        return Err(CmdError::other("ERR increment would produce NaN or Infinity"));
    }
    let text = match (Decimal::parse(a), Decimal::parse(b)) {
        (Some(x), Some(y)) => x.add(y).map(Decimal::to_text),
        _ => None,
    };
    let text = text.unwrap_or_else(|| trim_fraction(format!("{sum:.17}")));
    Ok(Bytes::from(text))
}

/// Removes trailing zeros after the decimal point (and the point), and turns
/// "-0" into "0", as Redis's human-friendly double formatting does.
fn trim_fraction(mut s: String) -> String {
    if s.contains('.') {
        let kept = s.trim_end_matches('0').trim_end_matches('.').len();
        s.truncate(kept);
    }
    if s == "-0" {
        s = "0".to_owned();
    }
    s
}

/// An exact decimal `mantissa / 10^scale`, for INCRBYFLOAT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Decimal {
    mantissa: i128,
    scale: u32,
}

impl Decimal {
    /// Fraction digits Redis prints (`%.17Lf`).
    const PRINTED_SCALE: u32 = 17;
    /// Beyond this many fraction digits, or 10^38, give up on exactness.
    const SCALE_MAX: u32 = 36;

    /// `[+-]digits[.digits][e[+-]digits]`; `None` for anything else
    /// (inf, hex) or anything that does not fit.
    fn parse(s: &[u8]) -> Option<Decimal> {
        let (negative, s) = match s.first()? {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        let (digits, exponent) = match s.iter().position(|&c| c == b'e' || c == b'E') {
            Some(i) => (&s[..i], Some(&s[i + 1..])),
            None => (s, None),
        };
        let exponent: i64 = match exponent {
            Some(e) if e.len() <= 5 => std::str::from_utf8(e).ok()?.parse().ok()?,
            Some(_) => return None,
            None => 0,
        };
        let (mut mantissa, mut fraction_digits, mut seen_digit, mut seen_point) = (0i128, 0i64, false, false);
        for &c in digits {
            match c {
                b'0'..=b'9' => {
                    mantissa = mantissa.checked_mul(10)?.checked_add(i128::from(c - b'0'))?;
                    fraction_digits += i64::from(seen_point);
                    seen_digit = true;
                }
                b'.' if !seen_point => seen_point = true,
                _ => return None,
            }
        }
        if !seen_digit {
            return None;
        }
        let mut scale = fraction_digits - exponent;
        if scale < 0 {
            mantissa = mantissa.checked_mul(10i128.checked_pow(u32::try_from(-scale).ok()?)?)?;
            scale = 0;
        }
        let scale = u32::try_from(scale).ok().filter(|s| *s <= Self::SCALE_MAX)?;
        Some(Decimal { mantissa: if negative { -mantissa } else { mantissa }, scale })
    }

    fn add(self, other: Decimal) -> Option<Decimal> {
        let scale = self.scale.max(other.scale);
        let widen = |d: Decimal| d.mantissa.checked_mul(10i128.checked_pow(scale - d.scale)?);
        let mantissa = widen(self)?.checked_add(widen(other)?)?;
        Some(Decimal { mantissa, scale }.rounded())
    }

    /// Rounded half away from zero to [`Self::PRINTED_SCALE`] places.
    fn rounded(self) -> Decimal {
        if self.scale <= Self::PRINTED_SCALE {
            return self;
        }
        let div = 10i128.pow(self.scale - Self::PRINTED_SCALE);
        let (q, r) = (self.mantissa / div, self.mantissa % div);
        let q = if r.abs() * 2 >= div { q + self.mantissa.signum() } else { q };
        Decimal { mantissa: q, scale: Self::PRINTED_SCALE }
    }

    fn to_text(self) -> String {
        let abs = self.mantissa.unsigned_abs();
        let unit = 10u128.pow(self.scale);
        let mut s = String::new();
        if self.mantissa < 0 {
            s.push('-');
        }
        s.push_str(&(abs / unit).to_string());
        if self.scale > 0 {
            s.push_str(&format!(".{:0width$}", abs % unit, width = self.scale as usize));
        }
        trim_fraction(s)
    }
}

/// Checks that a string of `len + extra` bytes is within `max`
/// (`proto-max-bulk-len`), with Redis's error otherwise.
fn check_len(len: usize, extra: usize, max: u64) -> Result<(), CmdError> {
    match len.checked_add(extra) {
        Some(total) if total as u64 <= max => Ok(()),
        _ => Err(CmdError::other("ERR string exceeds maximum allowed size (proto-max-bulk-len)")),
    }
}

/// The largest string a command may build.
fn max_len<E: Env>(ctx: &Ctx<'_, E>) -> u64 {
    ctx.shared.proto_max_bulk_len()
}

fn append<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let (key, tail, now) = (&args[1], &args[2], ctx.now_ms);
    let max = max_len(ctx);
    let shard = ctx.shard(key);
    let Some(entry) = shard.get(key, now) else {
        shard.set(key, Value::string(tail), 0, now);
        return Ok(Reply::Integer(tail.len() as i64));
    };
    // `edit` reuses the buffer, so repeated APPENDs grow it amortised.
    let s = entry.value_mut().as_str_mut()?;
    check_len(s.len(), tail.len(), max)?;
    let len = s.edit(|buf| {
        buf.extend_from_slice(tail);
        buf.len()
    });
    shard.written(key);
    Ok(Reply::Integer(len as i64))
}

fn strlen<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let (key, now) = (&args[1], ctx.now_ms);
    match ctx.shard(key).get_read(key, now) {
        Some(e) => Ok(Reply::Integer(e.value().as_str()?.len() as i64)),
        None => Ok(Reply::Integer(0)),
    }
}

fn getrange<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let (start, end) = (int(args[2])?, int(args[3])?);
    let Some(s) = read_string(ctx, args[1])? else {
        return Ok(Reply::Bulk(Bytes::new()));
    };
    // Redis 7.2's arithmetic, quirks included: both ends negative and
    // reversed is empty, otherwise each end is clamped to the string.
    let len = s.len() as i64;
    if start < 0 && end < 0 && start > end {
        return Ok(Reply::Bulk(Bytes::new()));
    }
    let start = if start < 0 { (len + start).max(0) } else { start };
    let end = if end < 0 { (len + end).max(0) } else { end }.min(len - 1);
    if start > end || len == 0 {
        return Ok(Reply::Bulk(Bytes::new()));
    }
    Ok(Reply::Bulk(s.slice(start as usize..=end as usize)))
}

fn setrange<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let (key, patch, now) = (&args[1], &args[3], ctx.now_ms);
    let offset = int(args[2])?;
    let offset = usize::try_from(offset).map_err(|_| CmdError::other("ERR offset is out of range"))?;
    let max = max_len(ctx);
    let shard = ctx.shard(key);
    let Some(entry) = shard.get(key, now) else {
        // Writing nothing creates nothing.
        if patch.is_empty() {
            return Ok(Reply::Integer(0));
        }
        check_len(offset, patch.len(), max)?;
        let mut buf = vec![0u8; offset + patch.len()];
        buf[offset..].copy_from_slice(patch);
        let len = buf.len();
        shard.set(key, Value::string_owned(Bytes::from(buf)), 0, now);
        return Ok(Reply::Integer(len as i64));
    };
    let s = entry.value_mut().as_str_mut()?;
    if patch.is_empty() {
        return Ok(Reply::Integer(s.len() as i64));
    }
    check_len(offset, patch.len(), max)?;
    let end = offset + patch.len();
    let len = s.edit(|buf| {
        if end > buf.len() {
            buf.resize(end, 0);
        }
        buf[offset..end].copy_from_slice(patch);
        buf.len()
    });
    shard.written(key);
    Ok(Reply::Integer(len as i64))
}

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN n] [WITHMATCHLEN], as Redis's
/// `lcsCommand`: a dynamic-programming table of (len1+1)·(len2+1) lengths,
/// then a walk back from the end that collects the common subsequence and
/// its contiguous runs (so IDX lists matches from the end of the strings,
/// and ties go the same way as in Redis).
fn lcs<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let now = ctx.now_ms;
    let mut values = [Bytes::new(), Bytes::new()];
    let mut wrong = false;
    for (v, key) in values.iter_mut().zip(&args[1..3]) {
        if let Some(e) = ctx.shard(key).get_read(key, now) {
            match e.value().as_str() {
                Ok(s) => *v = s.to_bytes(),
                Err(_) => wrong = true,
            }
        }
    }
    if wrong {
        return Err(CmdError::other("ERR The specified keys must contain string values"));
    }
    let (mut idx, mut len, mut withmatchlen, mut minmatchlen) = (false, false, false, 0usize);
    let mut i = 3;
    while i < args.len() {
        let opt = args[i];
        if is(opt, "IDX") {
            idx = true;
        } else if is(opt, "LEN") {
            len = true;
        } else if is(opt, "WITHMATCHLEN") {
            withmatchlen = true;
        } else if is(opt, "MINMATCHLEN") && i + 1 < args.len() {
            minmatchlen = usize::try_from(int(args[i + 1])?).unwrap_or(0);
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if idx && len {
        return Err(CmdError::other("ERR If you want both the length and indexes, please just use IDX."));
    }
    let [a, b] = values;
    let cells = (a.len() as u64 + 1).saturating_mul(b.len() as u64 + 1).saturating_mul(4);
    if cells > ctx.shared.proto_max_bulk_len() {
        return Err(CmdError::other("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"));
    }
    let (common, matches) = lcs_walk(&a, &b);
    if len {
        return Ok(Reply::Integer(common.len() as i64));
    }
    if !idx {
        return Ok(Reply::Bulk(Bytes::from(common)));
    }
    let pos = |x: usize, y: usize| Reply::Array(vec![Reply::Integer(x as i64), Reply::Integer(y as i64)]);
    let listed = matches
        .iter()
        .filter(|m| minmatchlen == 0 || m.len >= minmatchlen)
        .map(|m| {
            let mut item = vec![pos(m.a, m.a + m.len - 1), pos(m.b, m.b + m.len - 1)];
            if withmatchlen {
                item.push(Reply::Integer(m.len as i64));
            }
            Reply::Array(item)
        })
        .collect();
    Ok(Reply::Map(vec![
        (Reply::bulk("matches"), Reply::Array(listed)),
        (Reply::bulk("len"), Reply::Integer(common.len() as i64)),
    ]))
}

/// One contiguous run of a longest common subsequence: `len` bytes at
/// `a` in the first string and at `b` in the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LcsMatch {
    a: usize,
    b: usize,
    len: usize,
}

/// The longest common subsequence of `a` and `b` and its runs, last run
/// first.
fn lcs_walk(a: &[u8], b: &[u8]) -> (Vec<u8>, Vec<LcsMatch>) {
    let w = b.len() + 1;
    let mut table = vec![0u32; (a.len() + 1) * w];
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            table[i * w + j] = if a[i - 1] == b[j - 1] {
                table[(i - 1) * w + j - 1] + 1
            } else {
                table[(i - 1) * w + j].max(table[i * w + j - 1])
            };
        }
    }
    let mut common = vec![0u8; table[a.len() * w + b.len()] as usize];
    let mut k = common.len();
    let mut matches = Vec::new();
    let mut run: Option<LcsMatch> = None;
    let (mut i, mut j) = (a.len(), b.len());
    while i > 0 && j > 0 {
        if a[i - 1] == b[j - 1] {
            k -= 1;
            common[k] = a[i - 1];
            // Walking back, a run grows at its start.
            let r = run.get_or_insert(LcsMatch { a: i, b: j, len: 0 });
            r.a -= 1;
            r.b -= 1;
            r.len += 1;
            i -= 1;
            j -= 1;
            if i == 0 || j == 0 {
                matches.extend(run.take());
            }
        } else {
            if table[(i - 1) * w + j] > table[i * w + j - 1] {
                i -= 1;
            } else {
                j -= 1;
            }
            matches.extend(run.take());
        }
    }
    (common, matches)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{bulk, err, wrongtype, Node};

    #[test]
    fn lcs_walks_back_like_redis() {
        let (common, runs) = lcs_walk(b"ohmytext", b"mynewtext");
        assert_eq!(common, b"mytext");
        // Last run first: "text" at 4..=7 / 5..=8, then "my" at 2..=3 / 0..=1.
        assert_eq!(runs, [LcsMatch { a: 4, b: 5, len: 4 }, LcsMatch { a: 2, b: 0, len: 2 }]);
        assert_eq!(lcs_walk(b"", b"abc"), (Vec::new(), Vec::new()));
        let mut n = Node::new();
        n.run(&["set", "a", "ohmytext"]);
        assert_eq!(n.run(&["lcs", "a", "nosuch"]), bulk(""));
        assert_eq!(n.run(&["lcs", "a", "a", "LEN"]), Reply::Integer(8));
        n.put_hash("h");
        assert_eq!(n.run(&["lcs", "a", "h"]), err("ERR The specified keys must contain string values"));
        assert_eq!(n.run(&["substr", "a", "2", "3"]), bulk("my"));
    }

    #[test]
    fn string_commands_refuse_other_types() {
        let mut n = Node::new();
        n.put_hash("h");
        for cmd in [
            &["get", "h"][..],
            &["getex", "h", "PERSIST"],
            &["getdel", "h"],
            &["getset", "h", "v"],
            &["incr", "h"],
            &["decr", "h"],
            &["incrby", "h", "2"],
            &["decrby", "h", "2"],
            &["incrbyfloat", "h", "1.5"],
            &["append", "h", "x"],
            &["strlen", "h"],
            &["getrange", "h", "0", "-1"],
            &["setrange", "h", "0", "x"],
            &["set", "h", "v", "GET"],
        ] {
            assert_eq!(n.run(cmd), wrongtype(), "{cmd:?}");
        }
        // The hash is untouched by all of the above.
        assert_eq!(n.run(&["type", "h"]), Reply::simple("hash"));
        // SETRANGE with nothing to write still checks the type.
        assert_eq!(n.run(&["setrange", "h", "0", ""]), wrongtype());
    }

    #[test]
    fn overwriting_commands_replace_other_types() {
        let mut n = Node::new();
        n.put_hash("h");
        n.put_list("l");
        assert_eq!(n.run(&["mget", "h", "l", "nokey"]), Reply::Array(vec![Reply::Null, Reply::Null, Reply::Null]));
        assert_eq!(n.run(&["set", "h", "v"]), Reply::ok());
        assert_eq!(n.run(&["get", "h"]), bulk("v"));
        assert_eq!(n.run(&["mset", "l", "w"]), Reply::ok());
        assert_eq!(n.run(&["get", "l"]), bulk("w"));
        n.put_list("l");
        assert_eq!(n.run(&["setnx", "l", "x"]), Reply::Integer(0));
        assert_eq!(n.run(&["msetnx", "l", "x", "new", "y"]), Reply::Integer(0));
        assert_eq!(n.run(&["exists", "new"]), Reply::Integer(0));
        assert_eq!(n.run(&["setex", "l", "100", "x"]), Reply::ok());
        assert_eq!(n.run(&["get", "l"]), bulk("x"));
    }

    #[test]
    fn incrbyfloat_errors() {
        let mut n = Node::new();
        n.run(&["set", "s", "abc"]);
        assert_eq!(n.run(&["incrbyfloat", "s", "1"]), err("ERR value is not a valid float"));
        assert_eq!(n.run(&["incrbyfloat", "n", "x"]), err("ERR value is not a valid float"));
        n.run(&["set", "inf", "inf"]);
        assert_eq!(n.run(&["incrbyfloat", "inf", "1"]), err("ERR increment would produce NaN or Infinity"));
        assert_eq!(n.run(&["get", "inf"]), bulk("inf"));
        assert_eq!(n.run(&["incrbyfloat", "big", "1.7e308"]), bulk(&trim_fraction(format!("{:.17}", 1.7e308))));
        assert_eq!(n.run(&["incrbyfloat", "big", "1.7e308"]), err("ERR increment would produce NaN or Infinity"));
    }

    #[test]
    fn float_sums_print_like_redis() {
        let sum =
            |a: &str, b: &str| String::from_utf8(float_sum(a.as_bytes(), b.as_bytes()).unwrap().to_vec()).unwrap();
        assert_eq!(sum("0", "1"), "1");
        assert_eq!(sum("1", "0.25"), "1.25");
        assert_eq!(sum("1.5", "1.5"), "3");
        assert_eq!(sum("0.1", "0.2"), "0.3");
        assert_eq!(sum("17179869184", "1.5"), "17179869185.5");
        assert_eq!(sum("5.0e3", "2.0e2"), "5200");
        assert_eq!(sum("10.5", "-10.5"), "0");
        assert_eq!(sum("-0.1", "0.05"), "-0.05");
        assert_eq!(sum("1", "1e-20"), "1");
        assert_eq!(sum("0", "0.123456789012345678"), "0.12345678901234568");
        assert_eq!(sum(".5", "1."), "1.5");
        assert_eq!(sum("+3", "-4"), "-1");
        // Exponents beyond what fits exactly fall back to f64 arithmetic.
        assert_eq!(sum("1e40", "0"), trim_fraction(format!("{:.17}", 1e40)));
        assert_eq!(sum("1e-40", "0"), "0");
    }

    #[test]
    fn decimals_parse_strictly() {
        assert_eq!(Decimal::parse(b"1.50"), Some(Decimal { mantissa: 150, scale: 2 }));
        assert_eq!(Decimal::parse(b"-2e3"), Some(Decimal { mantissa: -2000, scale: 0 }));
        assert_eq!(Decimal::parse(b"25E-1"), Some(Decimal { mantissa: 25, scale: 1 }));
        for bad in [&b""[..], b"-", b".", b"1.2.3", b"1e", b"inf", b"0x10", b"1 ", b"1e999999"] {
            assert_eq!(Decimal::parse(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn append_reuses_an_unshared_buffer_and_copies_a_shared_one() {
        let mut n = Node::new();
        n.run(&["set", "k", "abc"]);
        let held = n.run(&["get", "k"]);
        assert_eq!(n.run(&["append", "k", "def"]), Reply::Integer(6));
        // The earlier reply still shows the value it was given.
        assert_eq!(held, bulk("abc"));
        drop(held);
        for _ in 0..100 {
            n.run(&["append", "k", "x"]);
        }
        assert_eq!(n.run(&["strlen", "k"]), Reply::Integer(106));
        assert_eq!(n.run(&["getrange", "k", "0", "6"]), bulk("abcdefx"));
    }
}
