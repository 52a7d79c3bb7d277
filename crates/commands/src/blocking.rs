//! What the blocking commands (BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP
//! BZPOPMIN BZPOPMAX BZMPOP, and XREAD and XREADGROUP with `BLOCK`) share:
//! their timeout argument, and how a command that found nothing asks its
//! caller to wait.
//!
//! The command layer never waits. A blocking command first does what its
//! non-blocking form does; if every key is empty it leaves a [`Block`] in
//! [`ClientState::block`] (only where the caller allows it, with
//! [`ClientState::may_block`]) and the caller parks the client and runs
//! the same command again once a key it waits on is written (or the form
//! of it the [`Block`] gives: XREAD's `$` resolved to the id it meant when
//! the command ran, as Redis rewrites its argv). Where the
//! caller does not allow it (inside MULTI, from a script, on a forwarded
//! command the caller cannot park), the command answers as on a timeout,
//! at once, as Redis does for a client with `CLIENT_DENY_BLOCKING`.
//!
//! Writes report the keys that clients wait on in [`ClientState::ready`]
//! (see [`note_written`]), read while the write still holds its keys'
//! locks: a client that registers its wait before re-checking its keys
//! under those locks can never miss a write.

use bytes::Bytes;
use ringcache_resp::Reply;

use crate::{flag, CmdError, CommandSpec, Ctx, Env, Keys};

/// What a blocked command waits for.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// The keys, in the client's database, in the command's order.
    pub keys: Vec<Bytes>,
    /// The type a key must hold to wake the command.
    pub kind: BlockKind,
    /// How long to wait, in milliseconds; 0 waits forever.
    pub timeout_ms: u64,
    /// The reply on timeout (a null array, or a null for BLMOVE and
    /// BRPOPLPUSH).
    pub timeout_reply: Reply,
    /// The command to run again in place of the one that blocked, if it
    /// must differ (XREAD's `$` replaced by the stream's last id then).
    pub rerun: Option<Vec<Bytes>>,
}

/// The type of value a blocked command reads from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    List,
    Zset,
    /// XREAD.
    Stream,
    /// XREADGROUP `>`: also woken when its key is deleted or changes type
    /// (Redis's `unblock_on_nokey`), since its group is gone then.
    StreamGroup,
}

impl BlockKind {
    /// The store's name for the type (`Value::type_name`).
    pub fn type_name(self) -> &'static str {
        match self {
            BlockKind::List => "list",
            BlockKind::Zset => "zset",
            BlockKind::Stream | BlockKind::StreamGroup => "stream",
        }
    }

    /// Whether a write that leaves the key absent or of another type
    /// wakes the command too (to fail it, as its group no longer exists).
    pub fn wakes_on_any_type(self) -> bool {
        self == BlockKind::StreamGroup
    }
}

/// A timeout in seconds (a float, as Redis's `getTimeoutFromObjectOrReply`
/// reads it with `UNIT_SECONDS`), as milliseconds rounded up; 0 is
/// forever. Redis's errors and their order: not a float, past the range
/// of a millisecond count, negative, past the range once added to now.
pub fn timeout_ms(arg: &[u8], now_ms: u64) -> Result<u64, CmdError> {
    let secs = crate::args::float(arg)
        .ok()
        .or_else(|| hex_float(arg))
        .ok_or_else(|| CmdError::other("ERR timeout is not a float or out of range"))?;
    let ms = secs * 1000.0;
    if ms > i64::MAX as f64 {
        return Err(CmdError::other("ERR timeout is out of range"));
    }
    let ms = ms.ceil();
    if ms < 0.0 {
        return Err(CmdError::other("ERR timeout is negative"));
    }
    let ms = ms as u64;
    if ms > 0 && ms > (i64::MAX as u64).saturating_sub(now_ms) {
        return Err(CmdError::other("ERR timeout is out of range"));
    }
    Ok(ms)
}

/// A timeout in milliseconds, an integer (`getTimeoutFromObjectOrReply`
/// with `UNIT_MILLISECONDS`, as XREAD's `BLOCK` reads it); 0 is forever.
pub fn timeout_ms_integer(arg: &[u8], now_ms: u64) -> Result<u64, CmdError> {
    let ms = crate::args::int(arg).map_err(|_| CmdError::other("ERR timeout is not an integer or out of range"))?;
    let ms = u64::try_from(ms).map_err(|_| CmdError::other("ERR timeout is negative"))?;
    if ms > 0 && ms > (i64::MAX as u64).saturating_sub(now_ms) {
        return Err(CmdError::other("ERR timeout is out of range"));
    }
    Ok(ms)
}

/// How a blocking command writes its timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutUnit {
    /// A float number of seconds (BLPOP and the other pops).
    Seconds,
    /// An integer number of milliseconds (XREAD's `BLOCK`).
    Milliseconds,
}

impl TimeoutUnit {
    /// Reads a timeout in this unit, as milliseconds (0: forever).
    pub fn parse(self, arg: &[u8], now_ms: u64) -> Result<u64, CmdError> {
        match self {
            TimeoutUnit::Seconds => timeout_ms(arg, now_ms),
            TimeoutUnit::Milliseconds => timeout_ms_integer(arg, now_ms),
        }
    }

    /// Writes `ms` (at least 1) in this unit.
    pub fn format(self, ms: u64) -> String {
        match self {
            TimeoutUnit::Seconds => format!("{:.3}", ms as f64 / 1000.0),
            TimeoutUnit::Milliseconds => ms.to_string(),
        }
    }
}

/// Where the timeout argument of a blocking command whose keys are `keys`
/// is, and its unit: first after the name for BLMPOP and BZMPOP
/// (`timeout numkeys ...`), `BLOCK`'s value for XREAD and XREADGROUP
/// (`None` without one: they do not block then), last for the others.
pub fn timeout_arg<A: AsRef<[u8]>>(keys: Keys, args: &[A]) -> Option<(usize, TimeoutUnit)> {
    match keys {
        Keys::Counted { .. } => Some((1, TimeoutUnit::Seconds)),
        Keys::Streams => {
            // The options before STREAMS, as `xreadCommand` reads them; the
            // last BLOCK counts.
            let mut found = None;
            let mut i = 1;
            while i + 1 < args.len() {
                let a = args[i].as_ref();
                if a.eq_ignore_ascii_case(b"block") {
                    found = Some(i + 1);
                    i += 2;
                } else if a.eq_ignore_ascii_case(b"count") {
                    i += 2;
                } else if a.eq_ignore_ascii_case(b"group") {
                    i += 3;
                } else if a.eq_ignore_ascii_case(b"noack") {
                    i += 1;
                } else {
                    break;
                }
            }
            found.map(|at| (at, TimeoutUnit::Milliseconds))
        }
        _ => Some((args.len().checked_sub(1)?, TimeoutUnit::Seconds)),
    }
}

/// A hexadecimal float as `strtold` reads one (`0x1A`, `-0x1.8p3`), which
/// Redis accepts wherever it reads a long double.
fn hex_float(arg: &[u8]) -> Option<f64> {
    let (negative, rest) = match arg.first()? {
        b'-' => (true, &arg[1..]),
        b'+' => (false, &arg[1..]),
        _ => (false, arg),
    };
    let rest = rest.strip_prefix(b"0x").or_else(|| rest.strip_prefix(b"0X"))?;
    let (mantissa, exponent) = match rest.iter().position(|&c| c == b'p' || c == b'P') {
        Some(p) => (&rest[..p], Some(&rest[p + 1..])),
        None => (rest, None),
    };
    let (int, frac) = match mantissa.iter().position(|&c| c == b'.') {
        Some(d) => (&mantissa[..d], &mantissa[d + 1..]),
        None => (mantissa, &[][..]),
    };
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let digit = |c: u8| char::from(c).to_digit(16).map(f64::from);
    let mut v = 0f64;
    for &c in int {
        v = v * 16.0 + digit(c)?;
    }
    let mut scale = 1.0 / 16.0;
    for &c in frac {
        v += digit(c)? * scale;
        scale /= 16.0;
    }
    if let Some(e) = exponent {
        let e: i32 = std::str::from_utf8(e).ok()?.parse().ok()?;
        v *= 2f64.powi(e);
    }
    Some(if negative { -v } else { v })
}

/// A blocking command found every key empty: asks the caller to wait (if
/// it may) and answers what a timeout answers (what the client gets at
/// once where it may not wait; ignored otherwise).
pub(crate) fn wait<E: Env>(
    ctx: &mut Ctx<'_, E>,
    keys: &[&[u8]],
    kind: BlockKind,
    timeout_ms: u64,
    timeout_reply: Reply,
) -> Result<Reply, CmdError> {
    let keys = keys.iter().map(|k| Bytes::copy_from_slice(k)).collect();
    Ok(wait_for(ctx, Block { keys, kind, timeout_ms, timeout_reply, rerun: None }))
}

/// [`wait`] for a [`Block`] made by the command: asks to wait on it if the
/// caller allows it, and answers its timeout reply.
pub(crate) fn wait_for<E: Env>(ctx: &mut Ctx<'_, E>, block: Block) -> Reply {
    let reply = block.timeout_reply.clone();
    let state = ctx.state();
    if state.may_block {
        state.block = Some(block);
    }
    reply
}

/// After a write command ran (still holding its keys' locks): records in
/// [`ClientState::ready`] each of its keys that a client waits on.
#[inline]
pub fn note_written<E: Env>(ctx: &mut Ctx<'_, E>, spec: &CommandSpec<E>, args: &[&[u8]]) {
    if !spec.has(flag::WRITE) || !ctx.shared.any_blocked() {
        return;
    }
    let dbid = ctx.state().dbid;
    for key in spec.keys.of(args) {
        note(ctx, dbid, key);
    }
}

/// Records every key of database `dbid` that a client waits on as
/// written: for the writes that change keys they do not name (SWAPDB,
/// FLUSHDB, FLUSHALL; a flush wakes XREADGROUP, whose group is gone).
pub fn note_awaited<E: Env>(ctx: &mut Ctx<'_, E>, dbid: u16) {
    if !ctx.shared.any_blocked() {
        return;
    }
    for key in ctx.shared.awaited_keys(dbid) {
        note(ctx, dbid, &key);
    }
}

/// Records `key` of database `dbid` as written, if a client waits on it:
/// for the writes [`note_written`] cannot see (MOVE and COPY into another
/// database).
pub(crate) fn note<E: Env>(ctx: &mut Ctx<'_, E>, dbid: u16, key: &[u8]) {
    if !ctx.shared.awaited(dbid, key) {
        return;
    }
    let ready = &mut ctx.state().ready;
    if !ready.iter().any(|(d, k)| *d == dbid && k == key) {
        ready.push((dbid, Bytes::copy_from_slice(key)));
    }
}

/// Runs a command's handler in `ctx` (which holds its keys), timed and
/// reported like every call ([`crate::call`]), and records what it wrote
/// that clients wait on: the client's commands, EXEC's and scripts'.
///
/// A command that asked to wait wrote nothing anyone waits for (at most
/// XREADGROUP's new consumer): it reports nothing, or two XREADGROUPs on
/// one key would wake each other forever.
pub fn call<E: Env>(
    ctx: &mut Ctx<'_, E>,
    spec: &'static CommandSpec<E>,
    args: &[&[u8]],
    caller: crate::Caller,
) -> Reply {
    let reply = crate::call(ctx, spec, args, caller);
    if ctx.state().block.is_none() {
        note_written(ctx, spec, args);
    }
    reply
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{bulk, err, wrongtype, Node};

    fn blocked_on(n: &mut Node) -> Option<(Vec<Bytes>, BlockKind, u64, Reply)> {
        n.client.block.take().map(|b| (b.keys, b.kind, b.timeout_ms, b.timeout_reply))
    }

    fn keys(k: &[&str]) -> Vec<Bytes> {
        k.iter().map(|k| Bytes::copy_from_slice(k.as_bytes())).collect()
    }

    #[test]
    fn a_blocking_pop_that_finds_something_is_its_plain_form() {
        let mut n = Node::with_journal(true);
        n.client.may_block = true;
        n.run(&["rpush", "b", "1", "2"]);
        n.client.changes.clear();
        assert_eq!(n.run(&["blpop", "a", "b", "0"]), Reply::Array(vec![bulk("b"), bulk("1")]));
        assert_eq!(n.client.changes.len(), 1, "the pop is journaled");
        assert_eq!(n.run(&["brpop", "b", "0"]), Reply::Array(vec![bulk("b"), bulk("2")]));
        assert_eq!(n.run(&["exists", "b"]), Reply::Integer(0), "the emptied list is gone");
        n.run(&["rpush", "s", "x"]);
        assert_eq!(n.run(&["blmove", "s", "d", "LEFT", "RIGHT", "1"]), bulk("x"));
        assert_eq!(n.run(&["brpoplpush", "d", "s", "1"]), bulk("x"));
        n.run(&["rpush", "m", "1", "2", "3"]);
        assert_eq!(
            n.run(&["blmpop", "1", "2", "a", "m", "RIGHT", "COUNT", "2"]),
            Reply::Array(vec![bulk("m"), Reply::Array(vec![bulk("3"), bulk("2")])])
        );
        n.run(&["zadd", "z", "1", "a", "2", "b"]);
        assert_eq!(n.run(&["bzpopmax", "y", "z", "0"]), Reply::Array(vec![bulk("z"), bulk("b"), Reply::Double(2.0)]));
        assert_eq!(n.run(&["bzpopmin", "z", "0"]), Reply::Array(vec![bulk("z"), bulk("a"), Reply::Double(1.0)]));
        n.run(&["zadd", "z", "1", "a"]);
        assert_eq!(
            n.run(&["bzmpop", "0", "1", "z", "MIN"]),
            Reply::Array(vec![bulk("z"), Reply::Array(vec![Reply::Array(vec![bulk("a"), Reply::Double(1.0)])])])
        );
        assert!(n.client.block.is_none(), "nothing waited");
    }

    #[test]
    fn empty_keys_block_where_the_caller_allows_it_else_answer_as_a_timeout() {
        let mut n = Node::new();
        assert_eq!(n.run(&["blpop", "a", "b", "0"]), Reply::NullArray);
        assert_eq!(n.run(&["blmove", "a", "b", "LEFT", "LEFT", "0"]), Reply::Null);
        assert_eq!(n.run(&["bzpopmin", "a", "0"]), Reply::NullArray);
        assert!(n.client.block.is_none(), "not allowed to block");

        n.client.may_block = true;
        n.run(&["blpop", "a", "b", "1.5"]);
        assert_eq!(blocked_on(&mut n), Some((keys(&["a", "b"]), BlockKind::List, 1500, Reply::NullArray)));
        n.run(&["brpoplpush", "a", "b", "0"]);
        assert_eq!(blocked_on(&mut n), Some((keys(&["a"]), BlockKind::List, 0, Reply::Null)));
        n.run(&["blmpop", "0.01", "2", "x", "y", "LEFT"]);
        assert_eq!(blocked_on(&mut n), Some((keys(&["x", "y"]), BlockKind::List, 10, Reply::NullArray)));
        n.run(&["bzmpop", "0", "1", "z", "MAX", "COUNT", "3"]);
        assert_eq!(blocked_on(&mut n), Some((keys(&["z"]), BlockKind::Zset, 0, Reply::NullArray)));

        // Inside MULTI they answer at once, whatever the caller allows.
        for cmd in
            [&["multi"][..], &["blpop", "a", "0"], &["bzpopmax", "z", "0"], &["blmove", "a", "b", "LEFT", "LEFT", "0"]]
        {
            n.run(cmd);
        }
        assert_eq!(n.run(&["exec"]), Reply::Array(vec![Reply::NullArray, Reply::NullArray, Reply::Null]));
        assert!(n.client.block.is_none());
        assert!(n.client.may_block, "EXEC gives the permission back");
    }

    #[test]
    fn arguments_are_checked_in_redis_order() {
        let mut n = Node::new();
        n.client.may_block = true;
        assert_eq!(n.run(&["blpop", "a", "x"]), err("ERR timeout is not a float or out of range"));
        assert_eq!(n.run(&["blpop", "a", "-1"]), err("ERR timeout is negative"));
        assert_eq!(n.run(&["blmove", "a", "b", "UP", "LEFT", "-1"]), err("ERR syntax error"));
        assert_eq!(n.run(&["blmove", "a", "b", "LEFT", "LEFT", "-1"]), err("ERR timeout is negative"));
        assert_eq!(n.run(&["blmpop", "x", "0", "a", "LEFT"]), err("ERR numkeys should be greater than 0"));
        assert_eq!(n.run(&["blmpop", "x", "1", "a", "UP"]), err("ERR syntax error"));
        assert_eq!(n.run(&["blmpop", "x", "1", "a", "LEFT"]), err("ERR timeout is not a float or out of range"));
        assert_eq!(n.run(&["bzmpop", "0", "1", "a", "LEFT"]), err("ERR syntax error"));
        assert_eq!(n.run(&["bzmpop", "0", "1", "a", "MIN", "COUNT", "0"]), err("ERR count should be greater than 0"));
        assert_eq!(n.run(&["blpop", "a"]), err("ERR wrong number of arguments for 'blpop' command"));
        assert!(n.client.block.is_none());

        // The first key holding another type fails the command; one after
        // a non-empty list does not.
        n.put_hash("h");
        assert_eq!(n.run(&["blpop", "a", "h", "0"]), wrongtype());
        assert_eq!(n.run(&["bzpopmin", "h", "0"]), wrongtype());
        n.run(&["rpush", "l", "v"]);
        assert_eq!(n.run(&["blpop", "l", "h", "0"]), Reply::Array(vec![bulk("l"), bulk("v")]));
        assert_eq!(n.run(&["brpoplpush", "h", "d", "0"]), wrongtype());
        n.run(&["rpush", "l", "v"]);
        assert_eq!(n.run(&["brpoplpush", "l", "h", "0"]), wrongtype());
        assert_eq!(n.run(&["llen", "l"]), Reply::Integer(1), "nothing moved");
        assert!(n.client.block.is_none());
    }

    #[test]
    fn writes_report_the_keys_clients_wait_on() {
        let mut n = Node::new();
        n.run(&["rpush", "a", "1"]);
        assert!(n.client.ready.is_empty(), "nobody waits");
        n.env.waiting.lock().unwrap().push((0, Bytes::from_static(b"a")));
        n.env.waiting.lock().unwrap().push((1, Bytes::from_static(b"m")));
        n.run(&["get", "a"]);
        assert!(n.client.ready.is_empty(), "a read");
        n.run(&["rpush", "a", "2"]);
        n.run(&["lpush", "a", "3"]);
        n.run(&["rpush", "other", "3"]);
        assert_eq!(n.client.ready, vec![(0, Bytes::from_static(b"a"))], "each key once");
        n.client.ready.clear();
        for cmd in [&["multi"][..], &["rpush", "x", "1"], &["rename", "x", "a"]] {
            n.run(cmd);
        }
        assert!(n.client.ready.is_empty(), "nothing ran yet");
        n.run(&["exec"]);
        assert_eq!(n.client.ready, vec![(0, Bytes::from_static(b"a"))]);
        n.client.ready.clear();
        n.run(&["set", "m", "v"]);
        n.run(&["move", "m", "1"]);
        assert_eq!(n.client.ready, vec![(1, Bytes::from_static(b"m"))], "MOVE writes into the other database");
        n.client.ready.clear();
        n.run(&["swapdb", "0", "1"]);
        assert_eq!(n.client.ready.len(), 2, "SWAPDB: every awaited key of both databases");
    }

    #[test]
    fn timeouts_are_read_as_redis_reads_them() {
        let now = 1_000;
        assert_eq!(timeout_ms(b"0", now), Ok(0));
        assert_eq!(timeout_ms(b"1", now), Ok(1000));
        assert_eq!(timeout_ms(b"0.0001", now), Ok(1), "rounded up");
        assert_eq!(timeout_ms(b"1.5", now), Ok(1500));
        assert_eq!(timeout_ms(b"-0", now), Ok(0));
        let err = |t: &str| timeout_ms(t.as_bytes(), now).unwrap_err().to_string();
        assert_eq!(err("abc"), "ERR timeout is not a float or out of range");
        assert_eq!(err(""), "ERR timeout is not a float or out of range");
        assert_eq!(err("-1"), "ERR timeout is negative");
        assert_eq!(err("-0.001"), "ERR timeout is negative");
        assert_eq!(err("inf"), "ERR timeout is out of range");
        assert_eq!(err("1e17"), "ERR timeout is out of range");
        assert_eq!(err("9223372036854775"), "ERR timeout is out of range", "overflows once added to now");
        // Hexadecimal, as strtold reads it.
        assert_eq!(timeout_ms(b"0x10", now), Ok(16_000));
        assert_eq!(timeout_ms(b"0x1.8p1", now), Ok(3_000));
        assert_eq!(err("0x7FFFFFFFFFFFFF"), "ERR timeout is out of range");
        assert_eq!(err("-0x1"), "ERR timeout is negative");
        assert_eq!(err("0x"), "ERR timeout is not a float or out of range");
        assert_eq!(err("0xg"), "ERR timeout is not a float or out of range");
    }
}
