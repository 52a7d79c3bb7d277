//! HyperLogLog commands: PFADD PFCOUNT PFMERGE PFSELFTEST.
//!
//! An HLL is a plain string value in Redis's own representation (see
//! [`hll`]), so GET, SET, APPEND, DUMP and replication carry it like any
//! string, and one made by redis-server counts the same here.
//!
//! Invariants: a write that changes registers reports the key with
//! `Shard::written` (or stores a new key with `Shard::set`), so a
//! replicated cluster ships it; PFADD and PFMERGE mark the cached
//! cardinality stale when they change anything.
//!
//! One difference from Redis: a PFCOUNT of one key whose cache is stale
//! stores the count in the value's header in place, as Redis does, but
//! as no new version: the count is a function of the registers, so a
//! replica that has the stale bit computes the same number, and a read
//! never makes a write another node must replay. (Redis replicates the
//! PFCOUNT itself.)

pub mod hll;

use bytes::BytesMut;
use ringcache_resp::Reply;
use ringcache_store::{StrValue, Value};

use crate::{flag, CmdError, CmdResult, CommandSpec, Ctx, Env, Keys};

const NOT_HLL: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";
const CORRUPT: &str = "INVALIDOBJ Corrupted HLL object detected";

/// Every argument from the first is a key.
const ALL_KEYS: Keys = Keys::Range { first: 1, last: -1, step: 1 };

pub fn commands<E: Env>() -> Vec<CommandSpec<E>> {
    vec![
        CommandSpec {
            name: "pfadd",
            arity: -2,
            flags: flag::WRITE | flag::DENYOOM | flag::FAST,
            keys: Keys::ONE,
            group: "hyperloglog",
            summary: "Adds elements to a HyperLogLog key. Creates the key if it doesn't exist.",
            handler: pfadd,
        },
        CommandSpec {
            name: "pfcount",
            arity: -2,
            flags: flag::READONLY,
            keys: ALL_KEYS,
            group: "hyperloglog",
            summary: "Returns the approximated cardinality of the set(s) observed by the HyperLogLog key(s).",
            handler: pfcount,
        },
        CommandSpec {
            name: "pfmerge",
            arity: -2,
            flags: flag::WRITE | flag::DENYOOM,
            keys: ALL_KEYS,
            group: "hyperloglog",
            summary: "Merges one or more HyperLogLog values into a single key.",
            handler: pfmerge,
        },
        CommandSpec {
            name: "pfselftest",
            arity: 1,
            flags: flag::ADMIN,
            keys: Keys::None,
            group: "hyperloglog",
            summary: "An internal command for testing HyperLogLog values.",
            handler: pfselftest,
        },
    ]
}

fn corrupt(_: hll::Corrupt) -> CmdError {
    CmdError::other(CORRUPT)
}

/// The bytes of a value that must be an HLL (`isHLLObjectOrReply`): any
/// other type is the usual WRONGTYPE, a string that is not an HLL gets
/// Redis's HLL-specific one.
fn hll_bytes(v: &Value) -> Result<&StrValue, CmdError> {
    let s = v.as_str()?;
    if !hll::is_valid(s) {
        return Err(CmdError::other(NOT_HLL));
    }
    Ok(s)
}

fn pfadd<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let (key, now) = (args[1], ctx.now_ms);
    let max = ctx.shared.hll_sparse_max_bytes();
    let shard = ctx.shard(key);
    let Some(entry) = shard.get(key, now) else {
        // A new key counts as an update even with no elements.
        let mut s = hll::new_sparse();
        for ele in &args[2..] {
            hll::add(&mut s, ele, max).map_err(corrupt)?;
        }
        hll::invalidate_cache(&mut s);
        shard.set(key, Value::string_owned(s.freeze()), 0, now);
        return Ok(Reply::Integer(1));
    };
    hll_bytes(entry.value())?;
    let s = entry.value_mut().as_str_mut()?;
    let (updated, failed) = s.edit(|buf| {
        let mut updated = false;
        for ele in &args[2..] {
            match hll::add(buf, ele, max) {
                Ok(changed) => updated |= changed,
                Err(e) => return (updated, Some(e)),
            }
        }
        if updated {
            hll::invalidate_cache(buf);
        }
        (updated, None)
    });
    // Registers raised before a corrupt opcode stopped the command stay
    // raised, as in Redis; here they are also reported, so that replicas
    // hold the same bytes.
    if updated {
        shard.written(key);
    }
    match failed {
        Some(e) => Err(corrupt(e)),
        None => Ok(Reply::Integer(i64::from(updated))),
    }
}

fn pfcount<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let now = ctx.now_ms;
    if args.len() > 2 {
        // Several keys: the cardinality of their union, cached nowhere.
        let mut max = Box::new([0u8; hll::REGISTERS]);
        for key in &args[1..] {
            let Some(entry) = ctx.shard(key).get_read(key, now) else { continue };
            hll::merge_into(&mut max, hll_bytes(entry.value())?).map_err(corrupt)?;
        }
        return Ok(Reply::Integer(hll::count_raw(&max) as i64));
    }
    let key = args[1];
    let Some(entry) = ctx.shard(key).get_read(key, now) else { return Ok(Reply::Integer(0)) };
    let s = hll_bytes(entry.value())?;
    if let Some(card) = hll::cached(s) {
        return Ok(Reply::Integer(card as i64));
    }
    let card = hll::count(s).map_err(corrupt)?;
    // See the module's note: the cache is updated in place, unversioned.
    entry.value_mut().as_str_mut()?.edit(|buf| hll::set_cached(buf, card));
    Ok(Reply::Integer(card as i64))
}

fn pfmerge<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let (dst, now) = (args[1], ctx.now_ms);
    let max_bytes = ctx.shared.hll_sparse_max_bytes();
    // The destination is a source too.
    let mut max = Box::new([0u8; hll::REGISTERS]);
    let mut use_dense = false;
    for key in &args[1..] {
        let Some(entry) = ctx.shard(key).get_read(key, now) else { continue };
        let s = hll_bytes(entry.value())?;
        use_dense |= hll::encoding(s) == hll::DENSE;
        hll::merge_into(&mut max, s).map_err(corrupt)?;
    }
    let write = |buf: &mut BytesMut| -> Result<(), hll::Corrupt> {
        if use_dense {
            hll::to_dense(buf)?;
        }
        for (i, &m) in max.iter().enumerate() {
            // Redis ignores a failure here too: the destination merged
            // cleanly above, so its opcodes are sound.
            if m != 0 {
                let _ = hll::set_register(buf, i, m, max_bytes);
            }
        }
        hll::invalidate_cache(buf);
        Ok(())
    };
    let shard = ctx.shard(dst);
    match shard.get(dst, now) {
        None => {
            let mut s = hll::new_sparse();
            write(&mut s).map_err(corrupt)?;
            shard.set(dst, Value::string_owned(s.freeze()), 0, now);
        }
        Some(entry) => {
            let result = entry.value_mut().as_str_mut()?.edit(write);
            shard.written(dst);
            result.map_err(corrupt)?;
        }
    }
    Ok(Reply::ok())
}

fn pfselftest<E: Env>(ctx: &mut Ctx<'_, E>, _args: &[&[u8]]) -> CmdResult {
    let max = ctx.shared.hll_sparse_max_bytes();
    match hll::self_test(&mut rand::thread_rng(), max) {
        Ok(()) => Ok(Reply::ok()),
        Err(msg) => Err(CmdError::Other(msg)),
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{err, wrongtype, Node};
    use ringcache_resp::Reply;

    fn int(n: i64) -> Reply {
        Reply::Integer(n)
    }

    fn get(n: &mut Node, key: &str) -> Vec<u8> {
        match n.run(&["get", key]) {
            Reply::Bulk(b) => b.to_vec(),
            Reply::SmallBulk(b) => b.as_bytes().to_vec(),
            other => panic!("{other:?}"),
        }
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    fn fnv1a(b: &[u8]) -> u64 {
        b.iter().fold(0xcbf2_9ce4_8422_2325, |h, &x| (h ^ u64::from(x)).wrapping_mul(0x100_0000_01b3))
    }

    /// The bytes redis-server 7 made for the same PFADDs, byte for byte:
    /// the same hash, registers, opcodes, merges, promotion and cache.
    #[test]
    fn the_bytes_are_redis_own() {
        let mut n = Node::new();
        n.run(&["pfadd", "s1", "a", "b", "c"]);
        assert_eq!(hex(&get(&mut n, "s1")), "48594c4c01000000000000000000008060f38050b1844bfb80425a");

        let hundred: Vec<String> = (0..100).map(|i| i.to_string()).collect();
        let mut cmd = vec!["pfadd", "s2"];
        cmd.extend(hundred.iter().map(String::as_str));
        n.run(&cmd);
        assert_eq!(
            hex(&get(&mut n, "s2")),
            concat!(
                "48594c4c01000000000000000000008041768c407684409a9040c9804100801c8c40418840e688405f803f8041688040",
                "419840708408804120804059842080078040f48042108841368040e2800a8040b08c37883380407680404680408580405f",
                "803380404d8840549040da80415b80228040e2804058804094803780248041718040658442119440aa8040799040db8040",
                "ac904147881a84414280158440bf8440d28c4115844081940b8c40b380318c28802d803c80404780446e8040928041e688",
                "1588408d80410a80404884412484405a8440a580406d84413e84298040da80078c1b80405880068042f4804059801d8840",
                "aa8c40ed80404880404a942c80388c308040b28840f28c40b880158418883a8040d994408a80407b8040e8",
            )
        );
        assert_eq!(n.run(&["pfcount", "s2"]), int(100));

        let many: Vec<String> = (0..20000).map(|i| format!("element:{i}")).collect();
        let mut cmd = vec!["pfadd", "d1"];
        cmd.extend(many.iter().map(String::as_str));
        n.run(&cmd);
        let d1 = get(&mut n, "d1");
        assert_eq!((d1.len(), fnv1a(&d1)), (super::hll::DENSE_SIZE, 0x50d6_b0a9_6d37_3a57));
        assert_eq!(n.run(&["pfcount", "d1"]), int(19986));
        let d1 = get(&mut n, "d1");
        assert_eq!(hex(&d1[..16]), "48594c4c00000000124e000000000000");
        assert_eq!(fnv1a(&d1), 0x73d1_f56d_b36c_fbff);
    }

    #[test]
    fn pfadd_and_pfcount() {
        let mut n = Node::new();
        assert_eq!(n.run(&["pfadd", "hll"]), int(1));
        assert_eq!(n.run(&["exists", "hll"]), int(1));
        assert_eq!(n.run(&["pfcount", "hll"]), int(0));
        assert_eq!(n.run(&["pfadd", "hll", "a", "b", "c"]), int(1));
        assert_eq!(n.run(&["pfadd", "hll", "a", "b", "c"]), int(0));
        assert_eq!(n.run(&["pfcount", "hll"]), int(3));
        assert_eq!(n.run(&["pfadd", "hll", ""]), int(1));
        assert_eq!(n.run(&["pfcount", "nosuch"]), int(0));
        assert_eq!(n.run(&["pfadd"]), err("ERR wrong number of arguments for 'pfadd' command"));
    }

    #[test]
    fn the_cache_is_kept_in_the_header() {
        let mut n = Node::new();
        n.run(&["pfadd", "hll", "a", "b", "c"]);
        assert_eq!(get(&mut n, "hll")[15], 0x80, "stale after PFADD");
        assert_eq!(n.run(&["pfcount", "hll"]), int(3));
        assert_eq!(get(&mut n, "hll")[15], 0, "valid after PFCOUNT");
        assert_eq!(get(&mut n, "hll")[8], 3);
        n.run(&["pfadd", "hll", "a", "b", "c"]);
        assert_eq!(get(&mut n, "hll")[15], 0, "no change, still valid");
        n.run(&["pfadd", "hll", "1", "2", "3"]);
        assert_eq!(get(&mut n, "hll")[15], 0x80);
    }

    #[test]
    fn errors_like_redis() {
        let mut n = Node::new();
        n.run(&["set", "s", "not an hll"]);
        let not_hll = err("WRONGTYPE Key is not a valid HyperLogLog string value.");
        assert_eq!(n.run(&["pfadd", "s", "a"]), not_hll);
        assert_eq!(n.run(&["pfcount", "s"]), not_hll);
        assert_eq!(n.run(&["pfmerge", "d", "s"]), not_hll);
        n.put_list("l");
        assert_eq!(n.run(&["pfadd", "l", "a"]), wrongtype());
        assert_eq!(n.run(&["pfcount", "l", "s"]), wrongtype());

        n.run(&["pfadd", "hll", "a", "b", "c"]);
        n.run(&["append", "hll", "hello"]);
        assert_eq!(n.run(&["pfcount", "hll"]), err("INVALIDOBJ Corrupted HLL object detected"));
        n.run(&["del", "hll"]);
        n.run(&["pfadd", "hll", "a", "b", "c"]);
        n.run(&["setrange", "hll", "0", "0123"]);
        assert_eq!(n.run(&["pfcount", "hll"]), not_hll);
        n.run(&["del", "hll"]);
        n.run(&["pfadd", "hll", "a", "b", "c"]);
        n.run(&["setrange", "hll", "4", "\x00"]);
        assert_eq!(n.run(&["pfcount", "hll"]), not_hll, "dense of the wrong length");
    }

    #[test]
    fn pfcount_of_several_keys_is_the_union() {
        let mut n = Node::new();
        n.run(&["pfadd", "h1", "a", "b", "c"]);
        n.run(&["pfadd", "h2", "b", "c", "d"]);
        n.run(&["pfadd", "h3", "c", "d", "e"]);
        assert_eq!(n.run(&["pfcount", "h1", "h2", "h3", "nosuch"]), int(5));
        assert_eq!(n.run(&["pfmerge", "h4", "h1", "h2", "h3"]), Reply::ok());
        assert_eq!(n.run(&["pfcount", "h4"]), int(5));
        // The destination merges its own registers too.
        n.run(&["pfadd", "h5", "x"]);
        n.run(&["pfmerge", "h5", "h1"]);
        assert_eq!(n.run(&["pfcount", "h5"]), int(4));
        // An absent source is empty; PFMERGE of nothing makes an empty HLL.
        assert_eq!(n.run(&["pfmerge", "empty"]), Reply::ok());
        assert_eq!(n.run(&["pfcount", "empty"]), int(0));
    }

    #[test]
    fn a_set_of_the_bytes_round_trips() {
        let mut n = Node::new();
        let elements: Vec<String> = (0..5000).map(|i| format!("e{i}")).collect();
        let mut cmd = vec!["pfadd", "big"];
        cmd.extend(elements.iter().map(String::as_str));
        n.run(&cmd);
        let want = n.run(&["pfcount", "big"]);
        let bytes = get(&mut n, "big");
        assert_eq!(bytes.len(), super::hll::DENSE_SIZE);
        let mut m = Node::new();
        let args: Vec<&[u8]> = vec![b"set", b"copy", &bytes];
        crate::dispatch(&m.env, &mut m.client, &args, ringcache_store::now_ms());
        assert_eq!(m.run(&["pfcount", "copy"]), want);
    }

    #[test]
    fn writes_are_journaled() {
        let mut n = Node::with_journal(true);
        n.run(&["pfadd", "hll", "a"]);
        assert_eq!(std::mem::take(&mut n.client.changes).len(), 1);
        n.run(&["pfadd", "hll", "a"]);
        assert!(n.client.changes.is_empty(), "nothing changed");
        n.run(&["pfcount", "hll"]);
        assert!(n.client.changes.is_empty(), "a count is not a write");
        n.run(&["pfmerge", "dst", "hll"]);
        assert_eq!(std::mem::take(&mut n.client.changes).len(), 1);
    }
}
