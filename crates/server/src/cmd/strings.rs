//! String commands.

use bytes::Bytes;
use ringcache_resp::Reply;
use ringcache_store::Value;

use super::args::{int, is};
use super::{flag, CmdError, CmdResult, CommandSpec, Ctx, Keys};

pub(super) const COMMANDS: &[CommandSpec] = &[
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
];

/// The string stored at `key`: `Ok(None)` if absent, WRONGTYPE if not a string.
pub(super) fn read_string(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<Bytes>, CmdError> {
    let now = ctx.now_ms;
    match ctx.shard(key).get_read(key, now) {
        Some(e) => Ok(Some(e.value().as_str()?.clone())),
        None => Ok(None),
    }
}

fn get(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(read_string(ctx, &args[1])?.into())
}

/// When a written key should expire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Expiry {
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
pub(super) fn expire_at(arg: &[u8], unit_ms: i64, absolute: bool, now_ms: u64, cmd: &str) -> Result<u64, CmdError> {
    let v = int(arg)?;
    let invalid = || CmdError::other(format!("ERR invalid expire time in '{cmd}' command"));
    if v <= 0 {
        return Err(invalid());
    }
    let ms = v.checked_mul(unit_ms).ok_or_else(invalid)?;
    let at = if absolute { ms } else { ms.checked_add(now_ms as i64).ok_or_else(invalid)? };
    Ok(at as u64)
}

fn set(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (key, value) = (&args[1], &args[2]);
    let mut expiry = Expiry::None;
    let (mut nx, mut xx, mut get) = (false, false, false);
    let mut i = 3;
    while i < args.len() {
        let opt = &args[i];
        let next = args.get(i + 1);
        let unit = match () {
            _ if is(opt, "EX") => Some((1000, false)),
            _ if is(opt, "PX") => Some((1, false)),
            _ if is(opt, "EXAT") => Some((1000, true)),
            _ if is(opt, "PXAT") => Some((1, true)),
            _ => None,
        };
        if let Some((unit_ms, absolute)) = unit {
            let (Some(arg), Expiry::None) = (next, expiry) else {
                return Err(CmdError::Syntax);
            };
            expiry = Expiry::At(expire_at(arg, unit_ms, absolute, ctx.now_ms, "set")?);
            i += 2;
            continue;
        }
        if is(opt, "NX") && !xx {
            nx = true;
        } else if is(opt, "XX") && !nx {
            xx = true;
        } else if is(opt, "GET") {
            get = true;
        } else if is(opt, "KEEPTTL") && expiry == Expiry::None {
            expiry = Expiry::Keep;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }

    let now = ctx.now_ms;
    let shard = ctx.shard(key);
    let old = match shard.get(key, now) {
        Some(e) if get => Some(Some(e.value().as_str()?.clone())),
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
