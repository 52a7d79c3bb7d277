//! The log side of streams: XADD XTRIM XDEL XLEN XRANGE XREVRANGE XSETID
//! and XREAD.

use bytes::Bytes;
use ringcache_resp::{Proto, Reply};
use ringcache_store::delta::DeltaOp;
use ringcache_store::value::{Trim, TrimBy, NODE_MAX_SIZE};
use ringcache_store::{StreamId, StreamValue, Value};

use super::{entry_reply, id_reply, parse_id, parse_id_any, parse_range, read_stream, stream_mut, would_block, IdForm};
use crate::args::{int, is};
use crate::blocking::{self, BlockKind};
use crate::{Caller, CmdError, CmdResult, Ctx, Env};

/// What XADD and XTRIM were asked (`streamAddTrimArgs`).
#[derive(Debug, Default)]
struct AddTrimArgs {
    trim: Option<Trim>,
    nomkstream: bool,
    /// XADD's id, and whether its sequence was given (`ms-*` is not).
    id: Option<(StreamId, bool)>,
    /// Where the id (XADD) is.
    id_at: usize,
}

/// Redis's `streamParseAddOrTrimArgsOrReply`, in its order and with its
/// errors.
fn parse_add_trim(args: &[&[u8]], xadd: bool, node_max_entries: u64) -> Result<AddTrimArgs, CmdError> {
    let mut out = AddTrimArgs::default();
    let (mut by, mut approx, mut limit, mut limit_given) = (None, false, 0i64, false);
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let opt = args[i];
        if xadd && opt == b"*" {
            break;
        } else if (is(opt, "maxlen") || is(opt, "minid")) && more > 0 {
            if by.is_some() {
                return Err(CmdError::other(
                    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible",
                ));
            }
            approx = false;
            let next = args[i + 1];
            if more >= 2 && next == b"~" {
                approx = true;
                i += 1;
            } else if more >= 2 && next == b"=" {
                i += 1;
            }
            let value = args[i + 1];
            by = Some(if is(opt, "maxlen") {
                let n = int(value)?;
                TrimBy::MaxLen(u64::try_from(n).map_err(|_| CmdError::other("ERR The MAXLEN argument must be >= 0."))?)
            } else {
                TrimBy::MinId(parse_id(value, 0, IdForm::Strict)?)
            });
            i += 1;
        } else if is(opt, "limit") && more > 0 {
            limit = int(args[i + 1])?;
            if limit < 0 {
                return Err(CmdError::other("ERR The LIMIT argument must be >= 0."));
            }
            limit_given = true;
            i += 1;
        } else if xadd && is(opt, "nomkstream") {
            out.nomkstream = true;
        } else if xadd {
            out.id = Some(parse_id_any(opt, 0, IdForm::Strict, true)?);
            break;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    out.id_at = i;
    if limit != 0 && by.is_none() {
        return Err(CmdError::other("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy"));
    }
    if !xadd && by.is_none() {
        return Err(CmdError::other("ERR syntax error, XTRIM must be called with a trimming strategy"));
    }
    if limit_given && !approx {
        return Err(CmdError::other("ERR syntax error, LIMIT cannot be used without the special ~ option"));
    }
    let limit = match (limit_given, approx) {
        (true, _) => limit as u64,
        // Redis caps approximate trimming at 100 nodes' worth of entries.
        (false, true) => match node_max_entries.saturating_mul(100) {
            0 => 10_000,
            l => l.min(1_000_000),
        },
        (false, false) => 0,
    };
    out.trim = by.map(|by| Trim { by, approx, limit });
    Ok(out)
}

/// XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] *|id field value [field value ...]
pub(super) fn xadd<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let limits = ctx.shared.stream_node_limits();
    let parsed = parse_add_trim(args, true, limits.max_entries)?;
    let fields_at = parsed.id_at + 1;
    let nfields = args.len().saturating_sub(fields_at);
    if nfields < 2 || nfields % 2 == 1 {
        return Err(CmdError::WrongArity("xadd".to_owned()));
    }
    if let Some((id, true)) = parsed.id {
        if id.is_zero() {
            return Err(CmdError::other("ERR The ID specified in XADD must be greater than 0-0"));
        }
    }
    let pairs = &args[fields_at..];
    let total: u64 = pairs.iter().map(|p| p.len() as u64).sum();
    let (key, now) = (args[1], ctx.now_ms);
    let shard = ctx.shard(key);
    let exists = match shard.peek(key, now) {
        Some(e) => {
            e.value().as_stream()?;
            true
        }
        None => false,
    };
    if !exists && parsed.nomkstream {
        return Ok(Reply::Null);
    }
    if total > NODE_MAX_SIZE {
        return Err(CmdError::other("ERR Elements are too large to be stored"));
    }
    let s = shard.get_or_insert_with(key, now, || Value::Stream(Box::default())).value_mut().as_stream_mut()?;
    if s.last_id == StreamId::MAX {
        return Err(CmdError::other("ERR The stream has exhausted the last possible ID, unable to add more items"));
    }
    let id = match next_id(s, parsed.id, now) {
        Some(id) => id,
        None => {
            // Redis has already created the key by now, and keeps it.
            if !exists {
                shard.written(key);
            }
            return Err(CmdError::other(
                "ERR The ID specified in XADD is equal or smaller than the target stream top item",
            ));
        }
    };
    s.append(id, pairs, limits);
    if let Some(trim) = parsed.trim {
        s.trim(trim);
    }
    shard.written(key);
    Ok(id_reply(id))
}

/// The delta of an XADD that appended to its stream in place (see
/// `ringcache_store::delta`), from the stream it left (`value`): the entry
/// it added, under the id it got, and, if it trimmed, the first entry it
/// kept (none: everything before the one after the new entry), so that an
/// owner cuts exactly where the coordinator's approximate or exact trim
/// stopped.
pub(crate) fn delta_of(args: &[&[u8]], value: &Value) -> Option<DeltaOp> {
    if !is(args.first()?, "XADD") {
        return None;
    }
    let parsed = parse_add_trim(args, true, 0).ok()?;
    let s = value.as_stream().ok()?;
    let id = s.last_id;
    let fields = args.get(parsed.id_at + 1..)?.iter().map(|f| Bytes::copy_from_slice(f)).collect();
    let trim_before = match parsed.trim {
        None => None,
        Some(_) if !s.is_empty() => Some(s.first_id()),
        Some(_) => Some(id.next()?),
    };
    Some(DeltaOp::XAdd { id, fields, trim_before })
}

/// The id XADD gives the new entry (`streamAppendItem`), `None` if it
/// would not be above the stream's top.
fn next_id(s: &StreamValue, given: Option<(StreamId, bool)>, now_ms: u64) -> Option<StreamId> {
    let last = s.last_id;
    let id = match given {
        Some((id, true)) => id,
        Some((id, false)) if id.ms == last.ms => {
            if last.seq == u64::MAX {
                return None;
            }
            StreamId::new(last.ms, last.seq + 1)
        }
        Some((id, false)) => id,
        None if now_ms > last.ms => StreamId::new(now_ms, 0),
        None => last.next()?,
    };
    (id > last).then_some(id)
}

/// XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT count]
pub(super) fn xtrim<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let limits = ctx.shared.stream_node_limits();
    let parsed = parse_add_trim(args, false, limits.max_entries)?;
    let trim = parsed.trim.expect("XTRIM has a strategy");
    let (key, now) = (args[1], ctx.now_ms);
    let shard = ctx.shard(key);
    let Some(s) = stream_mut(shard, key, now)? else { return Ok(Reply::Integer(0)) };
    let deleted = s.trim(trim);
    if deleted > 0 {
        shard.written(key);
    }
    Ok(Reply::Integer(deleted as i64))
}

/// XDEL key id [id ...]
pub(super) fn xdel<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let (key, now) = (args[1], ctx.now_ms);
    let shard = ctx.shard(key);
    let Some(s) = stream_mut(shard, key, now)? else { return Ok(Reply::Integer(0)) };
    // All or nothing: every id is checked before any is deleted.
    let ids = args[2..].iter().map(|a| parse_id(a, 0, IdForm::Strict)).collect::<Result<Vec<_>, _>>()?;
    let deleted = ids.into_iter().filter(|id| s.delete(*id)).count();
    if deleted > 0 {
        shard.written(key);
    }
    Ok(Reply::Integer(deleted as i64))
}

/// XLEN key
pub(super) fn xlen<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    Ok(Reply::Integer(read_stream(ctx, args[1])?.map_or(0, |s| s.len() as i64)))
}

/// XRANGE key start end [COUNT count], XREVRANGE key end start [COUNT count]
fn range<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]], rev: bool) -> CmdResult {
    let (start, end) = if rev { (args[3], args[2]) } else { (args[2], args[3]) };
    let (start, end) = parse_range(start, end)?;
    let mut count: Option<i64> = None;
    let mut j = 4;
    while j < args.len() {
        if is(args[j], "COUNT") && j + 1 < args.len() {
            count = Some(int(args[j + 1])?.max(0));
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let Some(s) = read_stream(ctx, args[1])? else { return Ok(Reply::Array(Vec::new())) };
    if count == Some(0) {
        return Ok(Reply::NullArray);
    }
    let n = count.map_or(usize::MAX, |c| usize::try_from(c).unwrap_or(usize::MAX));
    Ok(Reply::Array(s.range(start, end, rev).take(n).map(entry_reply).collect()))
}

pub(super) fn xrange<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    range(ctx, args, false)
}

pub(super) fn xrevrange<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    range(ctx, args, true)
}

/// XSETID key last-id [ENTRIESADDED entries-added] [MAXDELETEDID max-deleted-id]
pub(super) fn xsetid<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let id = parse_id(args[2], 0, IdForm::Strict)?;
    let (mut entries_added, mut max_deleted) = (None, StreamId::MIN);
    let mut i = 3;
    while i < args.len() {
        let more = args.len() - 1 - i;
        if is(args[i], "ENTRIESADDED") && more > 0 {
            let n = int(args[i + 1])?;
            entries_added = Some(u64::try_from(n).map_err(|_| CmdError::other("ERR entries_added must be positive"))?);
        } else if is(args[i], "MAXDELETEDID") && more > 0 {
            max_deleted = parse_id(args[i + 1], 0, IdForm::Strict)?;
            if id < max_deleted {
                return Err(CmdError::other(
                    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                ));
            }
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    let (key, now) = (args[1], ctx.now_ms);
    let shard = ctx.shard(key);
    let s = stream_mut(shard, key, now)?.ok_or(CmdError::NoSuchKey)?;
    if id < s.max_deleted_id {
        return Err(CmdError::other("ERR The ID specified in XSETID is smaller than current max_deleted_entry_id"));
    }
    if !s.is_empty() {
        if id < s.last_valid_id() {
            return Err(CmdError::other("ERR The ID specified in XSETID is smaller than the target stream top item"));
        }
        if entries_added.is_some_and(|n| s.len() > n) {
            return Err(CmdError::other(
                "ERR The entries_added specified in XSETID is smaller than the target stream length",
            ));
        }
    }
    s.last_id = id;
    if let Some(n) = entries_added {
        s.entries_added = n;
    }
    if !max_deleted.is_zero() {
        s.max_deleted_id = max_deleted;
    }
    shard.written(key);
    Ok(Reply::ok())
}

/// What XREAD and XREADGROUP were asked.
#[derive(Debug)]
pub(super) struct ReadArgs<'a> {
    /// `BLOCK`'s timeout in milliseconds (0: forever); `None`: no `BLOCK`.
    pub block: Option<u64>,
    /// 0: no limit.
    pub count: u64,
    pub group: Option<(&'a [u8], &'a [u8])>,
    pub noack: bool,
    pub keys: &'a [&'a [u8]],
    pub ids: &'a [&'a [u8]],
}

/// The options of XREAD and XREADGROUP (`xreadCommand`'s loop). `BLOCK`
/// from a script is refused as it is met, data or not, as in Redis.
pub(super) fn parse_read<'a>(
    args: &'a [&'a [u8]],
    group_cmd: bool,
    now_ms: u64,
    from_script: bool,
) -> Result<ReadArgs<'a>, CmdError> {
    let mut out = ReadArgs { block: None, count: 0, group: None, noack: false, keys: &[], ids: &[] };
    let mut streams_at = None;
    let mut i = 1;
    while i < args.len() {
        let more = args.len() - i - 1;
        let o = args[i];
        if is(o, "BLOCK") && more > 0 {
            if from_script {
                return Err(CmdError::other(format!(
                    "ERR {} command is not allowed with BLOCK option from scripts",
                    String::from_utf8_lossy(args[0])
                )));
            }
            i += 1;
            out.block = Some(blocking::timeout_ms_integer(args[i], now_ms)?);
        } else if is(o, "COUNT") && more > 0 {
            i += 1;
            out.count = u64::try_from(int(args[i])?).unwrap_or(0);
        } else if is(o, "STREAMS") && more > 0 {
            let n = args.len() - (i + 1);
            if !n.is_multiple_of(2) {
                let (name, symbol) = if group_cmd { ("xreadgroup", '>') } else { ("xread", '$') };
                return Err(CmdError::other(format!(
                    "ERR Unbalanced '{name}' list of streams: for each stream key an ID or '{symbol}' must be specified."
                )));
            }
            streams_at = Some(i + 1);
            break;
        } else if is(o, "GROUP") && more >= 2 {
            if !group_cmd {
                return Err(CmdError::other(
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            out.group = Some((args[i + 1], args[i + 2]));
            i += 2;
        } else if is(o, "NOACK") {
            if !group_cmd {
                return Err(CmdError::other(
                    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            out.noack = true;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    let at = streams_at.ok_or(CmdError::Syntax)?;
    if group_cmd && out.group.is_none() {
        return Err(CmdError::other("ERR Missing GROUP option for XREADGROUP"));
    }
    let n = (args.len() - at) / 2;
    out.keys = &args[at..at + n];
    out.ids = &args[at + n..];
    Ok(out)
}

/// The reply of a read that served `served` (key, entries) pairs: an
/// array of pairs in RESP2, a map in RESP3; a null array when nothing.
pub(super) fn read_reply(proto: Proto, served: Vec<(Reply, Reply)>) -> Reply {
    if served.is_empty() {
        Reply::NullArray
    } else if proto == Proto::Resp2 {
        Reply::Array(served.into_iter().map(|(k, v)| Reply::Array(vec![k, v])).collect())
    } else {
        Reply::Map(served)
    }
}

/// XREAD [COUNT count] [BLOCK milliseconds] STREAMS key [key ...] id [id ...]
pub(super) fn xread<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let from_script = ctx.state().caller == Caller::Script;
    let read = parse_read(args, false, ctx.now_ms, from_script)?;
    // Every id is resolved (and every key type-checked) before anything
    // is served, as Redis does.
    let mut after = Vec::with_capacity(read.keys.len());
    for (key, id) in read.keys.iter().zip(read.ids) {
        let s = read_stream(ctx, key)?;
        after.push(match *id {
            b"$" => s.map_or(StreamId::MIN, |s| s.last_id),
            b">" => return Err(CmdError::other(
                "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
            )),
            _ => parse_id(id, 0, IdForm::Strict)?,
        });
    }
    let n = if read.count == 0 { usize::MAX } else { usize::try_from(read.count).unwrap_or(usize::MAX) };
    let mut served = Vec::new();
    for (key, &gt) in read.keys.iter().zip(&after) {
        let Some(s) = read_stream(ctx, key)? else { continue };
        if s.is_empty() || s.last_valid_id() <= gt {
            continue;
        }
        let Some(start) = gt.next() else { continue };
        let entries: Vec<Reply> = s.range(start, StreamId::MAX, false).take(n).map(entry_reply).collect();
        served.push((Reply::bulk_copy(key), Reply::Array(entries)));
    }
    if let (true, Some(timeout_ms)) = (served.is_empty(), read.block) {
        // Woken, it runs again with each `$` as the id it stood for now,
        // as Redis rewrites its argv: entries added meanwhile are new.
        let ids_at = args.len() - read.ids.len();
        let rerun = read.ids.contains(&&b"$"[..]).then(|| {
            let mut rerun: Vec<Bytes> = args.iter().map(|a| Bytes::copy_from_slice(a)).collect();
            for (i, id) in read.ids.iter().enumerate() {
                if *id == b"$" {
                    rerun[ids_at + i] = after[i].to_bytes();
                }
            }
            rerun
        });
        return Ok(would_block(ctx, read.keys, BlockKind::Stream, timeout_ms, rerun));
    }
    Ok(read_reply(ctx.client.as_ref().proto, served))
}
