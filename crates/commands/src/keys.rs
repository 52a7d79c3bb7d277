//! Generic key commands: existence and deletion (DEL, UNLINK, EXISTS,
//! TOUCH), time to live (EXPIRE family, TTL family, PERSIST), TYPE, RENAME,
//! and the keyspace-wide KEYS, SCAN and RANDOMKEY.
//!
//! Invariants: introspection (EXISTS, TTL, TYPE...) never updates a key's
//! access time, as Redis's `LOOKUP_NOTOUCH` lookups do not; an expiry time
//! that is already past deletes the key instead of storing it; KEYS, SCAN
//! and RANDOMKEY run with every shard locked (`Keys::All`).

use bytes::Bytes;
use ringcache_resp::Reply;
use ringcache_store::{lazyfree, ScanFilter};

use crate::args::{int, is, scan_cursor};
use crate::{flag, CmdError, CmdResult, CommandSpec, Ctx, Env, Keys};

/// Every argument after the name is a key.
const ALL_ARGS: Keys = Keys::Range { first: 1, last: -1, step: 1 };
/// RENAME and RENAMENX: source and destination.
const TWO: Keys = Keys::Range { first: 1, last: 2, step: 1 };

/// SCAN's COUNT when none is given, as in Redis.
const SCAN_COUNT_DEFAULT: usize = 10;

pub fn commands<E: Env>() -> Vec<CommandSpec<E>> {
    vec![
    CommandSpec {
        name: "del",
        arity: -2,
        flags: flag::WRITE,
        keys: ALL_ARGS,
        group: "generic",
        summary: "Deletes one or more keys.",
        handler: del,
    },
    CommandSpec {
        name: "unlink",
        arity: -2,
        flags: flag::WRITE | flag::FAST,
        keys: ALL_ARGS,
        group: "generic",
        summary: "Asynchronously deletes one or more keys.",
        handler: del,
    },
    CommandSpec {
        name: "exists",
        arity: -2,
        flags: flag::READONLY | flag::FAST,
        keys: ALL_ARGS,
        group: "generic",
        summary: "Determines whether one or more keys exist.",
        handler: exists,
    },
    CommandSpec {
        name: "touch",
        arity: -2,
        flags: flag::READONLY | flag::FAST,
        keys: ALL_ARGS,
        group: "generic",
        summary: "Returns the number of existing keys out of those specified after updating the time they were last accessed.",
        handler: touch,
    },
    CommandSpec {
        name: "expire",
        arity: -3,
        flags: flag::WRITE | flag::FAST,
        keys: Keys::ONE,
        group: "generic",
        summary: "Sets the expiration time of a key in seconds.",
        handler: expire,
    },
    CommandSpec {
        name: "pexpire",
        arity: -3,
        flags: flag::WRITE | flag::FAST,
        keys: Keys::ONE,
        group: "generic",
        summary: "Sets the expiration time of a key in milliseconds.",
        handler: pexpire,
    },
    CommandSpec {
        name: "expireat",
        arity: -3,
        flags: flag::WRITE | flag::FAST,
        keys: Keys::ONE,
        group: "generic",
        summary: "Sets the expiration time of a key to a Unix timestamp.",
        handler: expireat,
    },
    CommandSpec {
        name: "pexpireat",
        arity: -3,
        flags: flag::WRITE | flag::FAST,
        keys: Keys::ONE,
        group: "generic",
        summary: "Sets the expiration time of a key to a Unix milliseconds timestamp.",
        handler: pexpireat,
    },
    CommandSpec {
        name: "ttl",
        arity: 2,
        flags: flag::READONLY | flag::FAST,
        keys: Keys::ONE,
        group: "generic",
        summary: "Returns the expiration time in seconds of a key.",
        handler: ttl,
    },
    CommandSpec {
        name: "pttl",
        arity: 2,
        flags: flag::READONLY | flag::FAST,
        keys: Keys::ONE,
        group: "generic",
        summary: "Returns the expiration time in milliseconds of a key.",
        handler: pttl,
    },
    CommandSpec {
        name: "expiretime",
        arity: 2,
        flags: flag::READONLY | flag::FAST,
        keys: Keys::ONE,
        group: "generic",
        summary: "Returns the expiration time of a key as a Unix timestamp.",
        handler: expiretime,
    },
    CommandSpec {
        name: "pexpiretime",
        arity: 2,
        flags: flag::READONLY | flag::FAST,
        keys: Keys::ONE,
        group: "generic",
        summary: "Returns the expiration time of a key as a Unix milliseconds timestamp.",
        handler: pexpiretime,
    },
    CommandSpec {
        name: "persist",
        arity: 2,
        flags: flag::WRITE | flag::FAST,
        keys: Keys::ONE,
        group: "generic",
        summary: "Removes the expiration time of a key.",
        handler: persist,
    },
    CommandSpec {
        name: "type",
        arity: 2,
        flags: flag::READONLY | flag::FAST,
        keys: Keys::ONE,
        group: "generic",
        summary: "Determines the type of value stored at a key.",
        handler: type_,
    },
    CommandSpec {
        name: "rename",
        arity: 3,
        flags: flag::WRITE,
        keys: TWO,
        group: "generic",
        summary: "Renames a key and overwrites the destination.",
        handler: rename,
    },
    CommandSpec {
        name: "renamenx",
        arity: 3,
        flags: flag::WRITE | flag::FAST,
        keys: TWO,
        group: "generic",
        summary: "Renames a key only when the target key name doesn't exist.",
        handler: renamenx,
    },
    CommandSpec {
        name: "keys",
        arity: 2,
        flags: flag::READONLY,
        keys: Keys::All,
        group: "generic",
        summary: "Returns all key names that match a pattern.",
        handler: keys,
    },
    CommandSpec {
        name: "scan",
        arity: -2,
        flags: flag::READONLY,
        keys: Keys::All,
        group: "generic",
        summary: "Iterates over the key names in the database.",
        handler: scan,
    },
    CommandSpec {
        name: "randomkey",
        arity: 1,
        flags: flag::READONLY,
        keys: Keys::All,
        group: "generic",
        summary: "Returns a random key name from the database.",
        handler: randomkey,
    },
    ]
}

/// DEL and UNLINK. UNLINK, and DEL under `lazyfree-lazy-user-del`, leave
/// large values to the background freer (see `ringcache_store::lazyfree`);
/// the setting is read only for those, so a DEL of small values reads no
/// configuration.
fn del<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let now = ctx.now_ms;
    let unlink = is(args[0], "unlink");
    let mut removed = 0;
    for key in &args[1..] {
        let Some(entry) = ctx.shard(key).remove(key, now) else {
            continue;
        };
        removed += 1;
        let value = entry.into_value();
        if lazyfree::worth_it(&value) && (unlink || ctx.shared.lazyfree_lazy_user_del()) {
            ctx.db.db().lazyfree().free(Box::new(value), 1);
        }
    }
    Ok(Reply::Integer(removed))
}

/// Counts every argument naming a live key, duplicates included.
fn exists<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let now = ctx.now_ms;
    let found = args[1..].iter().filter(|key| ctx.shard(key).contains(key, now)).count();
    Ok(Reply::Integer(found as i64))
}

fn touch<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let now = ctx.now_ms;
    let found = args[1..].iter().filter(|key| ctx.shard(key).get(key, now).is_some()).count();
    Ok(Reply::Integer(found as i64))
}

/// The EXPIRE family's NX / XX / GT / LT conditions.
#[derive(Debug, Clone, Copy, Default)]
struct ExpireIf {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

impl ExpireIf {
    fn parse(opts: &[&[u8]]) -> Result<ExpireIf, CmdError> {
        let mut c = ExpireIf::default();
        for opt in opts {
            match () {
                _ if is(opt, "NX") => c.nx = true,
                _ if is(opt, "XX") => c.xx = true,
                _ if is(opt, "GT") => c.gt = true,
                _ if is(opt, "LT") => c.lt = true,
                _ => return Err(CmdError::other(format!("ERR Unsupported option {}", String::from_utf8_lossy(opt)))),
            }
        }
        if c.nx && (c.xx || c.gt || c.lt) {
            return Err(CmdError::other("ERR NX and XX, GT or LT options at the same time are not compatible"));
        }
        if c.gt && c.lt {
            return Err(CmdError::other("ERR GT and LT options at the same time are not compatible"));
        }
        Ok(c)
    }

    /// Whether a key whose expiry is `current` (None = no TTL, which counts
    /// as infinite for GT and LT) may get the new expiry `when`.
    fn allows(&self, current: Option<u64>, when: i64) -> bool {
        // Redis compares the new time against -1 for "no TTL".
        let current = current.map_or(-1, |c| c as i64);
        !((self.nx && current != -1)
            || (self.xx && current == -1)
            || (self.gt && (current == -1 || when <= current))
            || (self.lt && current != -1 && when >= current))
    }
}

/// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT: `key time [NX|XX|GT|LT]...` with
/// the time in `unit_ms`, relative to now unless `absolute`.
fn expire_generic<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]], unit_ms: i64, absolute: bool, cmd: &str) -> CmdResult {
    let (key, now) = (&args[1], ctx.now_ms);
    let cond = ExpireIf::parse(&args[3..])?;
    let invalid = || CmdError::other(format!("ERR invalid expire time in '{cmd}' command"));
    // Negative times are allowed (they delete the key); only overflow is not.
    let when = int(args[2])?.checked_mul(unit_ms).ok_or_else(invalid)?;
    let base = if absolute { 0 } else { now as i64 };
    let when = when.checked_add(base).ok_or_else(invalid)?;

    let shard = ctx.shard(key);
    let Some(entry) = shard.get(key, now) else {
        return Ok(Reply::Integer(0));
    };
    if !cond.allows(entry.expire_at(), when) {
        return Ok(Reply::Integer(0));
    }
    if when <= now as i64 {
        shard.remove(key, now);
    } else {
        shard.set_expire(key, when as u64, now);
    }
    Ok(Reply::Integer(1))
}

fn expire<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    expire_generic(ctx, args, 1000, false, "expire")
}

fn pexpire<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    expire_generic(ctx, args, 1, false, "pexpire")
}

fn expireat<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    expire_generic(ctx, args, 1000, true, "expireat")
}

fn pexpireat<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    expire_generic(ctx, args, 1, true, "pexpireat")
}

/// The TTL state of `key` without touching it: `None` if there is no such
/// key, `Some(None)` if it has no TTL, else its absolute expiry.
fn expiry_of<E: Env>(ctx: &mut Ctx<'_, E>, key: &[u8]) -> Option<Option<u64>> {
    let now = ctx.now_ms;
    // `contains` removes the key if it has expired; `peek` does not touch it.
    let shard = ctx.shard(key);
    if !shard.contains(key, now) {
        return None;
    }
    shard.peek(key, now).map(|e| e.expire_at())
}

/// The reply of the TTL family: -2 (no key), -1 (no TTL) or `f(expiry)`.
fn ttl_reply<E: Env>(ctx: &mut Ctx<'_, E>, key: &[u8], f: impl FnOnce(u64, u64) -> u64) -> CmdResult {
    let now = ctx.now_ms;
    Ok(Reply::Integer(match expiry_of(ctx, key) {
        None => -2,
        Some(None) => -1,
        Some(Some(at)) => f(at, now) as i64,
    }))
}

fn ttl<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    // Rounded to the nearest second, as Redis does.
    ttl_reply(ctx, args[1], |at, now| (at.saturating_sub(now) + 500) / 1000)
}

fn pttl<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    ttl_reply(ctx, args[1], |at, now| at.saturating_sub(now))
}

fn expiretime<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    ttl_reply(ctx, args[1], |at, _| at / 1000)
}

fn pexpiretime<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    ttl_reply(ctx, args[1], |at, _| at)
}

fn persist<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let (key, now) = (&args[1], ctx.now_ms);
    Ok(Reply::Integer(i64::from(ctx.shard(key).persist(key, now))))
}

fn type_<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let (key, now) = (&args[1], ctx.now_ms);
    let shard = ctx.shard(key);
    let name =
        if shard.contains(key, now) { shard.peek(key, now).map_or("none", |e| e.value().type_name()) } else { "none" };
    Ok(Reply::simple(name))
}

/// RENAME and RENAMENX. The value moves with its TTL; renaming a key to
/// itself changes nothing but still needs the key to exist.
fn rename_generic<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]], nx: bool) -> CmdResult {
    let (src, dst, now) = (&args[1], &args[2], ctx.now_ms);
    let done = if nx { Reply::Integer(1) } else { Reply::ok() };
    if !ctx.shard(src).contains(src, now) {
        return Err(CmdError::NoSuchKey);
    }
    if src == dst {
        return Ok(if nx { Reply::Integer(0) } else { done });
    }
    if nx && ctx.shard(dst).contains(dst, now) {
        return Ok(Reply::Integer(0));
    }
    let Some(entry) = ctx.shard(src).remove(src, now) else {
        return Err(CmdError::NoSuchKey);
    };
    ctx.shard(dst).insert_entry(dst, entry, now);
    Ok(done)
}

fn rename<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    rename_generic(ctx, args, false)
}

fn renamenx<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    rename_generic(ctx, args, true)
}

fn keys<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let found = match ctx.state().scope.clone() {
        Some(slots) => ctx.db.keys_where(ctx.now_ms, usize::MAX, |k| {
            slots[usize::from(ringcache_ring::slot(k))] && ringcache_store::glob_match(args[1], k)
        }),
        None => ctx.db.keys(args[1], ctx.now_ms),
    };
    Ok(Reply::Array(found.into_iter().map(Reply::Bulk).collect()))
}

fn scan<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let cursor = scan_cursor(args[1])?;
    let mut count = SCAN_COUNT_DEFAULT;
    let mut filter = ScanFilter::default();
    let mut type_name = None;
    let mut i = 2;
    while i < args.len() {
        let (opt, Some(value)) = (&args[i], args.get(i + 1)) else {
            return Err(CmdError::Syntax);
        };
        if is(opt, "COUNT") {
            let n = int(value)?;
            if n < 1 {
                return Err(CmdError::Syntax);
            }
            count = usize::try_from(n).unwrap_or(usize::MAX);
        } else if is(opt, "MATCH") {
            // "*" matches everything: skip the matching altogether.
            filter.pattern = (value != b"*").then_some(value.as_ref());
        } else if is(opt, "TYPE") {
            // An unknown type matches nothing (Redis 7.2 does not refuse it).
            type_name = Some(String::from_utf8_lossy(value).into_owned());
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    filter.type_name = type_name.as_deref();
    let scope = ctx.state().scope.clone();
    filter.slots = scope.as_deref();
    let (next, found) = ctx.db.scan(cursor, count, ctx.now_ms, filter);
    let cursor = Reply::Bulk(Bytes::copy_from_slice(itoa::Buffer::new().format(next).as_bytes()));
    Ok(Reply::Array(vec![cursor, Reply::Array(found.into_iter().map(Reply::Bulk).collect())]))
}

fn randomkey<E: Env>(ctx: &mut Ctx<'_, E>, _args: &[&[u8]]) -> CmdResult {
    let now = ctx.now_ms;
    let Some(slots) = ctx.state().scope.clone() else {
        return Ok(ctx.db.random_key(now).into());
    };
    // A few random tries, then any key in scope.
    let in_scope = |k: &[u8]| slots[usize::from(ringcache_ring::slot(k))];
    let tried = (0..16).find_map(|_| ctx.db.random_key(now).filter(|k| in_scope(k)));
    Ok(tried.or_else(|| ctx.db.keys_where(now, 1, in_scope).pop()).into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{bulk, Node};

    fn scan_all(n: &mut Node, opts: &[&str]) -> Vec<Reply> {
        let mut cursor = "0".to_owned();
        let mut keys = Vec::new();
        loop {
            let mut cmd = vec!["scan", cursor.as_str()];
            cmd.extend_from_slice(opts);
            let Reply::Array(reply) = n.run(&cmd) else { panic!("SCAN replies with an array") };
            let [Reply::Bulk(next), Reply::Array(batch)] = &reply[..] else { panic!("[cursor, keys]: {reply:?}") };
            keys.extend(batch.iter().cloned());
            cursor = String::from_utf8(next.to_vec()).unwrap();
            if cursor == "0" {
                return keys;
            }
        }
    }

    #[test]
    fn keyspace_walks_run_alone_and_inside_exec() {
        let mut n = Node::new();
        for i in 0..50 {
            n.run(&["set", &format!("k{i}"), "v"]);
        }
        // Alone, each walks the shards one at a time; inside EXEC, which
        // holds them all, the same walk uses the held locks (no deadlock).
        assert_eq!(scan_all(&mut n, &["COUNT", "7"]).len(), 50);
        let Reply::Array(keys) = n.run(&["keys", "k1*"]) else { panic!("KEYS replies with an array") };
        assert_eq!(keys.len(), 11);
        assert!(matches!(n.run(&["randomkey"]), Reply::Bulk(_)));
        for cmd in
            [&["multi"][..], &["keys", "k1*"], &["randomkey"], &["scan", "0", "COUNT", "1000"], &["set", "x", "1"]]
        {
            n.run(cmd);
        }
        let Reply::Array(replies) = n.run(&["exec"]) else { panic!("EXEC replies with an array") };
        assert!(matches!(&replies[0], Reply::Array(k) if k.len() == 11), "{replies:?}");
        assert!(matches!(&replies[1], Reply::Bulk(_)), "{replies:?}");
        assert!(
            matches!(&replies[2], Reply::Array(r) if matches!(&r[1], Reply::Array(k) if k.len() == 50)),
            "{replies:?}"
        );
        assert_eq!(replies[3], Reply::ok());
    }

    #[test]
    fn generic_commands_work_on_every_type() {
        let mut n = Node::new();
        n.put_hash("h");
        n.put_list("l");
        n.run(&["set", "s", "v"]);
        assert_eq!(n.run(&["type", "h"]), Reply::simple("hash"));
        assert_eq!(n.run(&["type", "l"]), Reply::simple("list"));
        assert_eq!(n.run(&["type", "s"]), Reply::simple("string"));
        assert_eq!(n.run(&["exists", "h", "l", "s", "h"]), Reply::Integer(4));
        assert_eq!(n.run(&["expire", "h", "100"]), Reply::Integer(1));
        assert_eq!(n.run(&["ttl", "h"]), Reply::Integer(100));
        assert_eq!(n.run(&["rename", "h", "h2"]), Reply::ok());
        assert_eq!(n.run(&["type", "h2"]), Reply::simple("hash"));
        assert_eq!(n.run(&["ttl", "h2"]), Reply::Integer(100));
        // RENAME over a key of another type replaces it.
        assert_eq!(n.run(&["rename", "h2", "s"]), Reply::ok());
        assert_eq!(n.run(&["type", "s"]), Reply::simple("hash"));
        assert_eq!(n.run(&["del", "s", "l"]), Reply::Integer(2));
        assert_eq!(n.run(&["keys", "*"]), Reply::Array(vec![]));
    }

    #[test]
    fn scan_type_filters_by_type() {
        let mut n = Node::new();
        for i in 0..20 {
            n.put_hash(&format!("h{i}"));
            n.run(&["set", &format!("s{i}"), "v"]);
        }
        n.put_list("l");
        let mut hashes = scan_all(&mut n, &["TYPE", "hash"]);
        hashes.sort_by_key(|r| format!("{r:?}"));
        let mut want: Vec<Reply> = (0..20).map(|i| bulk(&format!("h{i}"))).collect();
        want.sort_by_key(|r| format!("{r:?}"));
        assert_eq!(hashes, want);
        assert_eq!(scan_all(&mut n, &["TYPE", "LIST"]), vec![bulk("l")]);
        assert_eq!(scan_all(&mut n, &["TYPE", "string", "COUNT", "3"]).len(), 20);
        assert_eq!(scan_all(&mut n, &["TYPE", "zset"]), Vec::<Reply>::new());
        assert_eq!(scan_all(&mut n, &["TYPE", "nosuchtype"]), Vec::<Reply>::new());
        assert_eq!(scan_all(&mut n, &["MATCH", "h1*", "TYPE", "hash"]).len(), 11);
        assert_eq!(scan_all(&mut n, &["MATCH", "h1*", "TYPE", "string"]).len(), 0);
    }

    #[test]
    fn expire_conditions() {
        let c = |opts: &[&str]| {
            let opts: Vec<&[u8]> = opts.iter().map(|o| o.as_bytes()).collect();
            ExpireIf::parse(&opts)
        };
        let none = c(&[]).unwrap();
        assert!(none.allows(None, 5) && none.allows(Some(10), 5));
        let nx = c(&["nx"]).unwrap();
        assert!(nx.allows(None, 5) && !nx.allows(Some(10), 5));
        let xx = c(&["XX"]).unwrap();
        assert!(!xx.allows(None, 5) && xx.allows(Some(10), 5));
        let gt = c(&["GT"]).unwrap();
        assert!(!gt.allows(None, 5) && !gt.allows(Some(10), 10) && gt.allows(Some(10), 11));
        let lt = c(&["lt"]).unwrap();
        assert!(lt.allows(None, 5) && !lt.allows(Some(10), 10) && lt.allows(Some(10), 9));
        let xx_gt = c(&["XX", "GT"]).unwrap();
        assert!(!xx_gt.allows(None, 5) && xx_gt.allows(Some(10), 11));
        let incompatible = CmdError::other("ERR NX and XX, GT or LT options at the same time are not compatible");
        for opts in [&["NX", "XX"][..], &["NX", "GT"], &["LT", "NX"]] {
            assert_eq!(c(opts).unwrap_err(), incompatible, "{opts:?}");
        }
        assert_eq!(
            c(&["GT", "LT"]).unwrap_err(),
            CmdError::other("ERR GT and LT options at the same time are not compatible")
        );
        assert_eq!(c(&["GT", "bogus"]).unwrap_err(), CmdError::other("ERR Unsupported option bogus"));
    }
}
