//! DUMP and RESTORE, in Redis's payload format (see [`crate::rdb`]), so
//! that payloads move between redis-server and ringcache both ways.
//!
//! Invariants: RESTORE is a write like any other (the shard records it, so
//! it reaches the journal and replicates); its IDLETIME/FREQ only set the
//! node-local access word, which is never replicated. A payload is checked
//! (footer, then value) before anything changes.

use bytes::Bytes;
use ringcache_resp::Reply;

use crate::args::{int, is};
use crate::rdb::{self, Refused};
use crate::{flag, CmdError, CmdResult, CommandSpec, Ctx, Env, Keys};

pub fn commands<E: Env>() -> Vec<CommandSpec<E>> {
    vec![
        CommandSpec {
            name: "dump",
            arity: 2,
            flags: flag::READONLY,
            keys: Keys::ONE,
            group: "generic",
            summary: "Returns a serialized representation of the value stored at a key.",
            handler: dump,
        },
        CommandSpec {
            name: "restore",
            arity: -4,
            flags: flag::WRITE | flag::DENYOOM,
            keys: Keys::ONE,
            group: "generic",
            summary: "Creates a key from the serialized representation of a value.",
            handler: restore,
        },
    ]
}

fn dump<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let (key, now) = (args[1], ctx.now_ms);
    Ok(match ctx.shard(key).get_read(key, now) {
        Some(e) => Reply::Bulk(Bytes::from(rdb::dump(e.value()))),
        None => Reply::Null,
    })
}

/// `RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f]`,
/// checked in Redis's order (`restoreCommand`).
fn restore<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let (key, now) = (args[1], ctx.now_ms);
    let (mut replace, mut absttl) = (false, false);
    let (mut idle_s, mut freq): (Option<i64>, Option<i64>) = (None, None);
    let mut j = 4;
    while j < args.len() {
        let more = args.len() - j - 1;
        if is(args[j], "REPLACE") {
            replace = true;
        } else if is(args[j], "ABSTTL") {
            absttl = true;
        } else if is(args[j], "IDLETIME") && more >= 1 && freq.is_none() {
            let v = int(args[j + 1])?;
            if v < 0 {
                return Err(CmdError::other("ERR Invalid IDLETIME value, must be >= 0"));
            }
            idle_s = Some(v);
            j += 1;
        } else if is(args[j], "FREQ") && more >= 1 && idle_s.is_none() {
            let v = int(args[j + 1])?;
            if !(0..=255).contains(&v) {
                return Err(CmdError::other("ERR Invalid FREQ value, must be >= 0 and <= 255"));
            }
            freq = Some(v);
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    if !replace && ctx.shard(key).contains(key, now) {
        return Err(CmdError::other("BUSYKEY Target key name already exists."));
    }
    let ttl = int(args[2])?;
    if ttl < 0 {
        return Err(CmdError::other("ERR Invalid TTL value, must be >= 0"));
    }
    let value = rdb::restore(args[3]).map_err(|e| match e {
        Refused::Footer => CmdError::other("ERR DUMP payload version or checksum are wrong"),
        Refused::Format => CmdError::other("ERR Bad data format"),
    })?;
    let expire_at = match ttl {
        0 => 0,
        t if absttl => t as u64,
        t => now.saturating_add(t as u64),
    };
    let shard = ctx.shard(key);
    if expire_at != 0 && expire_at <= now {
        // Already expired: nothing is created (a REPLACE still deletes).
        if replace {
            shard.remove(key, now);
        }
        return Ok(Reply::ok());
    }
    shard.set(key, value, expire_at, now);
    let idle_ms = idle_s.map(|s| (s as u64).saturating_mul(1000));
    shard.set_access(key, idle_ms, freq.map(|f| f as u8), now);
    Ok(Reply::ok())
}

#[cfg(test)]
mod tests {
    use crate::testing::{bulk, err, Node};
    use ringcache_resp::Reply;

    fn payload(r: Reply) -> Vec<u8> {
        match r {
            Reply::Bulk(b) => b.to_vec(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn dump_then_restore() {
        let mut n = Node::new();
        n.run(&["rpush", "l", "a", "b"]);
        let bytes = payload(n.run(&["dump", "l"]));
        let args: Vec<&[u8]> = vec![b"restore", b"l2", b"0", &bytes];
        let reply = crate::dispatch(&n.env, &mut n.client, &args, ringcache_store::now_ms());
        assert_eq!(reply, Reply::ok());
        assert_eq!(n.run(&["lrange", "l2", "0", "-1"]), Reply::Array(vec![bulk("a"), bulk("b")]));
        let reply = crate::dispatch(&n.env, &mut n.client, &args, ringcache_store::now_ms());
        assert_eq!(reply, err("BUSYKEY Target key name already exists."));
        assert_eq!(n.run(&["dump", "nosuch"]), Reply::Null);
        assert_eq!(n.run(&["restore", "k", "0", "garbage"]), err("ERR DUMP payload version or checksum are wrong"));
        assert_eq!(n.run(&["restore", "k", "-1", "x"]), err("ERR Invalid TTL value, must be >= 0"));
        assert_eq!(
            n.run(&["restore", "k", "0", "x", "FREQ", "256"]),
            err("ERR Invalid FREQ value, must be >= 0 and <= 255")
        );
        assert_eq!(n.run(&["restore", "k", "0", "x", "IDLETIME", "1", "FREQ", "1"]), err("ERR syntax error"));
    }
}
