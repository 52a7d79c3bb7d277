//! Numbered databases: SELECT, MOVE, COPY and SWAPDB.
//!
//! A client works in one database (`ClientState::dbid`, 0 on connect and
//! after RESET); the dispatcher selects it on every shard it locks, so
//! every other command reads and writes keys of that database only. MOVE
//! and COPY name a second database for a key of the same slot, so the
//! shard the dispatcher locked holds it too (`Locked::shard_in`); both
//! sides are local writes, journaled with their databases, so they
//! replicate like any write. SWAPDB exchanges two databases in every shard
//! at once, under every lock.
//!
//! Invariants: an index is checked against `databases` before anything is
//! touched; replies and error texts are Redis 7.2's (`db.c`), including
//! Redis Cluster's refusals when only database 0 may be used.

use ringcache_resp::Reply;

use crate::args::{int, is};
use crate::{flag, CmdError, CmdResult, CommandSpec, Ctx, Env, Keys};

/// COPY: source and destination.
const TWO: Keys = Keys::Range { first: 1, last: 2, step: 1 };

pub fn commands<E: Env>() -> Vec<CommandSpec<E>> {
    vec![
        CommandSpec {
            name: "select",
            arity: 2,
            flags: flag::LOADING | flag::STALE | flag::FAST,
            keys: Keys::None,
            group: "connection",
            summary: "Changes the selected database.",
            handler: select,
        },
        CommandSpec {
            name: "move",
            arity: 3,
            flags: flag::WRITE | flag::FAST,
            keys: Keys::ONE,
            group: "generic",
            summary: "Moves a key to another database.",
            handler: move_key,
        },
        CommandSpec {
            name: "copy",
            arity: -3,
            flags: flag::WRITE | flag::DENYOOM,
            keys: TWO,
            group: "generic",
            summary: "Copies the value of a key to a new key.",
            handler: copy,
        },
        CommandSpec {
            name: "swapdb",
            arity: 3,
            flags: flag::WRITE | flag::FAST,
            keys: Keys::All,
            group: "server",
            summary: "Swaps two Redis databases.",
            handler: swapdb,
        },
    ]
}

const OUT_OF_RANGE: &str = "ERR DB index is out of range";
const SAME_OBJECT: &str = "ERR source and destination objects are the same";

/// `index` as a database of this node, if it is one.
fn database<E: Env>(shared: &E, index: i64) -> Option<u16> {
    u16::try_from(index).ok().filter(|&d| u32::from(d) < shared.databases())
}

/// A database index as Redis's `getIntFromObjectOrReply` reads it (a C
/// `int`, else `err`), then checked against `databases`.
fn int_index<E: Env>(shared: &E, arg: &[u8], err: CmdError) -> Result<Option<u16>, CmdError> {
    let n = int(arg).ok().filter(|n| i32::try_from(*n).is_ok()).ok_or(err)?;
    Ok(database(shared, n))
}

/// `SELECT index`.
fn select<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let index = int(args[1]).ok().filter(|n| i32::try_from(*n).is_ok()).ok_or(CmdError::NotInteger)?;
    if ctx.shared.db0_only() && index != 0 {
        return Err(CmdError::other("ERR SELECT is not allowed in cluster mode"));
    }
    let dbid = database(ctx.shared, index).ok_or_else(|| CmdError::other(OUT_OF_RANGE))?;
    ctx.state().dbid = dbid;
    Ok(Reply::ok())
}

/// `MOVE key db`: the key, its value, TTL and access time, into `db`,
/// unless it is there already.
fn move_key<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    if ctx.shared.db0_only() {
        return Err(CmdError::other("ERR MOVE is not allowed in cluster mode"));
    }
    let (key, now) = (args[1], ctx.now_ms);
    let src = ctx.state().dbid;
    let dst = int_index(ctx.shared, args[2], CmdError::NotInteger)?.ok_or_else(|| CmdError::other(OUT_OF_RANGE))?;
    if src == dst {
        return Err(CmdError::other(SAME_OBJECT));
    }
    if !ctx.db.shard_in(src, key).contains(key, now) || ctx.db.shard_in(dst, key).contains(key, now) {
        return Ok(Reply::Integer(0));
    }
    let entry = ctx.db.shard_in(src, key).remove(key, now).expect("a live key");
    ctx.db.shard_in(dst, key).insert_entry(key, entry, now);
    crate::blocking::note(ctx, dst, key);
    Ok(Reply::Integer(1))
}

/// `COPY source destination [DB destination-db] [REPLACE]`.
fn copy<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let (src_key, dst_key, now) = (args[1], args[2], ctx.now_ms);
    let src = ctx.state().dbid;
    let (mut dst, mut replace) = (src, false);
    let mut i = 3;
    while i < args.len() {
        if is(args[i], "REPLACE") {
            replace = true;
        } else if is(args[i], "DB") && i + 1 < args.len() {
            dst = int_index(ctx.shared, args[i + 1], CmdError::NotInteger)?
                .ok_or_else(|| CmdError::other(OUT_OF_RANGE))?;
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if ctx.shared.db0_only() && (src != 0 || dst != 0) {
        return Err(CmdError::other("ERR Copying to another database is not allowed in cluster mode"));
    }
    if src == dst && src_key == dst_key {
        return Err(CmdError::other(SAME_OBJECT));
    }
    let Some(entry) = ctx.db.shard_in(src, src_key).get_read(src_key, now) else {
        return Ok(Reply::Integer(0));
    };
    let (value, expire_at) = (entry.value().clone(), entry.expire_at().unwrap_or(0));
    let target = ctx.db.shard_in(dst, dst_key);
    if !replace && target.contains(dst_key, now) {
        return Ok(Reply::Integer(0));
    }
    target.set(dst_key, value, expire_at, now);
    if dst != src {
        crate::blocking::note(ctx, dst, dst_key);
    }
    Ok(Reply::Integer(1))
}

/// `SWAPDB index1 index2`: every client of one sees the other's keys.
fn swapdb<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    if ctx.shared.db0_only() {
        return Err(CmdError::other("ERR SWAPDB is not allowed in cluster mode"));
    }
    let a = int_index(ctx.shared, args[1], CmdError::other("ERR invalid first DB index"))?;
    let b = int_index(ctx.shared, args[2], CmdError::other("ERR invalid second DB index"))?;
    let (Some(a), Some(b)) = (a, b) else {
        return Err(CmdError::other(OUT_OF_RANGE));
    };
    ctx.db.swap_databases(a, b);
    // Clients blocked in either database may find their keys now.
    for dbid in [a, b] {
        crate::blocking::note_awaited(ctx, dbid);
    }
    Ok(Reply::ok())
}

#[cfg(test)]
mod tests {
    use crate::testing::{bulk, err, Node};
    use ringcache_resp::Reply;

    fn int(n: i64) -> Reply {
        Reply::Integer(n)
    }

    #[test]
    fn select_changes_the_database_every_command_sees() {
        let mut n = Node::new();
        assert_eq!(n.run(&["set", "k", "zero"]), Reply::ok());
        assert_eq!(n.run(&["select", "3"]), Reply::ok());
        assert_eq!(n.run(&["get", "k"]), Reply::Null);
        assert_eq!(n.run(&["set", "k", "three"]), Reply::ok());
        assert_eq!(n.run(&["lpush", "l", "a"]), int(1));
        assert_eq!(n.run(&["exists", "k", "l"]), int(2));
        assert_eq!(n.run(&["select", "0"]), Reply::ok());
        assert_eq!(n.run(&["get", "k"]), bulk("zero"));
        assert_eq!(n.run(&["exists", "l"]), int(0));
        assert_eq!(n.run(&["select", "15"]), Reply::ok());
        for bad in ["16", "-1", "65536"] {
            assert_eq!(n.run(&["select", bad]), err("ERR DB index is out of range"), "{bad}");
        }
        for bad in ["x", "2147483648", "1.5"] {
            assert_eq!(n.run(&["select", bad]), err("ERR value is not an integer or out of range"), "{bad}");
        }
        assert_eq!(n.client.dbid, 15, "a refused SELECT changes nothing");
    }

    #[test]
    fn move_takes_value_and_ttl_unless_the_target_has_the_key() {
        let mut n = Node::new();
        n.run(&["set", "k", "v", "EX", "100"]);
        assert_eq!(n.run(&["move", "k", "0"]), err("ERR source and destination objects are the same"));
        assert_eq!(n.run(&["move", "k", "16"]), err("ERR DB index is out of range"));
        assert_eq!(n.run(&["move", "k", "x"]), err("ERR value is not an integer or out of range"));
        assert_eq!(n.run(&["move", "nosuch", "1"]), int(0));
        assert_eq!(n.run(&["move", "k", "1"]), int(1));
        assert_eq!(n.run(&["exists", "k"]), int(0));
        n.run(&["select", "1"]);
        assert_eq!(n.run(&["get", "k"]), bulk("v"));
        assert!(matches!(n.run(&["ttl", "k"]), Reply::Integer(t) if t > 90));
        // Back to 0, where the key exists again: nothing moves.
        n.run(&["select", "0"]);
        n.run(&["set", "k", "other"]);
        n.run(&["select", "1"]);
        assert_eq!(n.run(&["move", "k", "0"]), int(0));
        assert_eq!(n.run(&["get", "k"]), bulk("v"));
    }

    #[test]
    fn copy_within_and_across_databases() {
        let mut n = Node::new();
        n.run(&["rpush", "l", "a", "b"]);
        n.run(&["pexpire", "l", "100000"]);
        assert_eq!(n.run(&["copy", "l", "l"]), err("ERR source and destination objects are the same"));
        assert_eq!(n.run(&["copy", "l", "m"]), int(1));
        assert_eq!(n.run(&["copy", "l", "m"]), int(0), "the destination exists");
        n.run(&["rpush", "l", "c"]);
        assert_eq!(n.run(&["llen", "m"]), int(2), "a copy, not a shared value");
        assert_eq!(n.run(&["copy", "l", "m", "REPLACE"]), int(1));
        assert_eq!(n.run(&["llen", "m"]), int(3));
        assert_eq!(n.run(&["copy", "l", "l", "DB", "2"]), int(1));
        assert_eq!(n.run(&["copy", "nosuch", "x", "DB", "2"]), int(0));
        for bad in ["16", "-1"] {
            assert_eq!(n.run(&["copy", "l", "l", "DB", bad]), err("ERR DB index is out of range"));
        }
        assert_eq!(n.run(&["copy", "l", "l", "DB", "x"]), err("ERR value is not an integer or out of range"));
        assert_eq!(n.run(&["copy", "l", "l", "DB"]), err("ERR syntax error"));
        assert_eq!(n.run(&["copy", "l", "l", "NX"]), err("ERR syntax error"));
        n.run(&["select", "2"]);
        assert_eq!(n.run(&["lrange", "l", "0", "-1"]), Reply::Array(vec![bulk("a"), bulk("b"), bulk("c")]));
        assert!(matches!(n.run(&["pttl", "l"]), Reply::Integer(t) if t > 90_000), "the TTL goes along");
    }

    #[test]
    fn swapdb_exchanges_whole_databases_and_flushdb_empties_one() {
        let mut n = Node::new();
        n.run(&["set", "a", "in0"]);
        n.run(&["select", "1"]);
        n.run(&["set", "b", "in1"]);
        assert_eq!(n.run(&["swapdb", "0", "1"]), Reply::ok());
        assert_eq!(n.run(&["get", "a"]), bulk("in0"));
        assert_eq!(n.run(&["get", "b"]), Reply::Null);
        assert_eq!(n.run(&["swapdb", "0", "16"]), err("ERR DB index is out of range"));
        assert_eq!(n.run(&["swapdb", "x", "1"]), err("ERR invalid first DB index"));
        assert_eq!(n.run(&["swapdb", "1", "x"]), err("ERR invalid second DB index"));
        assert_eq!(n.run(&["swapdb", "3", "3"]), Reply::ok());
    }

    #[test]
    fn a_watch_is_on_the_database_it_was_given_in() {
        let mut n = Node::new();
        n.run(&["select", "3"]);
        n.run(&["watch", "k"]);
        n.run(&["select", "0"]);
        n.run(&["set", "k", "in0"]);
        n.run(&["multi"]);
        n.run(&["set", "x", "1"]);
        assert!(matches!(n.run(&["exec"]), Reply::Array(_)), "db 0's k is another key");
        n.run(&["watch", "k"]);
        n.run(&["select", "3"]);
        n.run(&["set", "k", "in3"]);
        n.run(&["multi"]);
        n.run(&["get", "k"]);
        n.run(&["select", "0"]);
        n.run(&["get", "k"]);
        assert!(matches!(n.run(&["exec"]), Reply::Array(_)), "db 3's k is another key");
        assert_eq!(n.client.dbid, 0);
        // A queued SELECT moves the commands after it.
        n.run(&["multi"]);
        n.run(&["get", "k"]);
        n.run(&["select", "3"]);
        n.run(&["get", "k"]);
        assert_eq!(n.run(&["exec"]), Reply::Array(vec![bulk("in0"), Reply::ok(), bulk("in3")]));
        assert_eq!(n.client.dbid, 3, "and stays after EXEC");
        // A write in the watched database aborts.
        n.run(&["watch", "k"]);
        n.run(&["set", "k", "again"]);
        n.run(&["multi"]);
        assert_eq!(n.run(&["exec"]), Reply::NullArray);
    }

    #[test]
    fn journaled_changes_name_their_database() {
        let mut n = Node::with_journal(true);
        n.run(&["select", "2"]);
        n.run(&["set", "k", "v"]);
        let changes = std::mem::take(&mut n.client.changes);
        assert_eq!((changes.len(), changes[0].dbid), (1, 2));
        n.run(&["move", "k", "5"]);
        let mut moved: Vec<(u16, bool)> = n.client.changes.drain(..).map(|c| (c.dbid, c.state.is_some())).collect();
        moved.sort();
        assert_eq!(moved, [(2, false), (5, true)], "a tombstone in 2, the value in 5");
        n.run(&["copy", "k", "k", "DB", "2"]);
        n.run(&["select", "5"]);
        n.run(&["copy", "k", "k", "DB", "2"]);
        assert_eq!(n.client.changes.drain(..).map(|c| c.dbid).collect::<Vec<_>>(), [2]);
    }

    #[test]
    fn only_database_0_under_redis_clusters_rule() {
        let mut n = Node::new();
        n.env.db0_only = true;
        n.run(&["set", "k", "v"]);
        assert_eq!(n.run(&["select", "0"]), Reply::ok());
        assert_eq!(n.run(&["select", "1"]), err("ERR SELECT is not allowed in cluster mode"));
        assert_eq!(n.run(&["move", "k", "1"]), err("ERR MOVE is not allowed in cluster mode"));
        assert_eq!(n.run(&["swapdb", "0", "1"]), err("ERR SWAPDB is not allowed in cluster mode"));
        assert_eq!(
            n.run(&["copy", "k", "j", "DB", "1"]),
            err("ERR Copying to another database is not allowed in cluster mode")
        );
        assert_eq!(n.run(&["copy", "k", "j"]), int(1));
    }
}
