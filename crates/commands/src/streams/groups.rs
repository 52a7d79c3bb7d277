//! Consumer groups: XGROUP XREADGROUP XACK XPENDING XCLAIM XAUTOCLAIM.

use ringcache_resp::Reply;
use ringcache_store::value::{ClaimCount, ENTRIES_READ_UNKNOWN};
use ringcache_store::{StreamId, Value};

use super::log::{parse_read, read_reply};
use super::{
    bulk, entry_reply, id_reply, no_such_key_or_group, now_i64, parse_bound, parse_id, parse_range, read_stream,
    stream_mut, text, would_block, IdForm,
};
use crate::args::{int, is};
use crate::blocking::BlockKind;
use crate::object::{help, unknown_subcommand};
use crate::{Caller, CmdError, CmdResult, Ctx, Env};

fn subcommand_syntax(args: &[&[u8]]) -> CmdError {
    CmdError::other(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try XGROUP HELP.",
        crate::printable(args[1], 128)
    ))
}

/// XGROUP CREATE|SETID|DESTROY|CREATECONSUMER|DELCONSUMER|HELP, checked
/// in `xgroupCommand`'s order.
pub(super) fn xgroup<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    const SUBS: [(&str, i32); 6] =
        [("create", -5), ("setid", -5), ("destroy", 4), ("createconsumer", 5), ("delconsumer", 5), ("help", 2)];
    let Some(&(sub, arity)) = SUBS.iter().find(|(n, _)| is(args[1], n)) else {
        return Err(unknown_subcommand(args, "XGROUP"));
    };
    let argc = args.len() as i32;
    if (arity >= 0 && argc != arity) || (arity < 0 && argc < -arity) {
        return Err(CmdError::WrongArity(format!("xgroup|{sub}")));
    }
    if sub == "help" {
        return Ok(help(
            "XGROUP",
            &[
                "CREATE <key> <groupname> <id|$> [option]",
                "    Create a new consumer group. Options are:",
                "    * MKSTREAM",
                "      Create the empty stream if it does not exist.",
                "    * ENTRIESREAD entries_read",
                "      Set the group's entries_read counter (internal use).",
                "CREATECONSUMER <key> <groupname> <consumer>",
                "    Create a new consumer in the specified group.",
                "DELCONSUMER <key> <groupname> <consumer>",
                "    Remove the specified consumer.",
                "DESTROY <key> <groupname>",
                "    Remove the specified group.",
                "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
                "    Set the current group ID and entries_read counter.",
            ],
        ));
    }
    let (mut mkstream, mut entries_read) = (false, ENTRIES_READ_UNKNOWN);
    let mut i = 5;
    while i < args.len() {
        if sub == "create" && is(args[i], "MKSTREAM") {
            mkstream = true;
            i += 1;
        } else if (sub == "create" || sub == "setid") && is(args[i], "ENTRIESREAD") && i + 1 < args.len() {
            entries_read = int(args[i + 1])?;
            if entries_read < 0 && entries_read != ENTRIES_READ_UNKNOWN {
                return Err(CmdError::other("ERR value for ENTRIESREAD must be positive or -1"));
            }
            i += 2;
        } else {
            return Err(subcommand_syntax(args));
        }
    }
    let (key, group, now) = (args[2], args[3], ctx.now_ms);
    let shard = ctx.shard(key);
    let exists = match shard.peek(key, now) {
        Some(e) => Some(e.value().as_stream()?.group(group).is_some()),
        None => None,
    };
    match exists {
        None if !mkstream => {
            return Err(CmdError::other(
                "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
            ))
        }
        Some(false) if matches!(sub, "setid" | "createconsumer" | "delconsumer") => {
            return Err(CmdError::other(format!(
                "NOGROUP No such consumer group '{}' for key name '{}'",
                text(group),
                text(key)
            )))
        }
        _ => {}
    }
    let bad_arity = match sub {
        "create" => args.len() > 8,
        "setid" => args.len() != 5 && args.len() != 7,
        _ => false,
    };
    if bad_arity {
        return Err(subcommand_syntax(args));
    }
    let now_ms = now_i64(now);
    match sub {
        "create" => {
            let id = match args[4] {
                b"$" => None,
                id => Some(parse_id(id, 0, IdForm::Strict)?),
            };
            let s = shard.get_or_insert_with(key, now, || Value::Stream(Box::default())).value_mut().as_stream_mut()?;
            let id = id.unwrap_or(s.last_id);
            let created = s.create_group(group, id, entries_read);
            if exists.is_none() || created {
                shard.written(key);
            }
            if created {
                Ok(Reply::ok())
            } else {
                Err(CmdError::other("BUSYGROUP Consumer Group name already exists"))
            }
        }
        "setid" => {
            let s = stream_mut(shard, key, now)?.expect("checked above");
            let id = match args[4] {
                b"$" => s.last_id,
                id => parse_id(id, 0, IdForm::Loose)?,
            };
            let (g, _) = s.group_mut(group).expect("checked above");
            g.last_id = id;
            g.entries_read = entries_read;
            shard.written(key);
            Ok(Reply::ok())
        }
        "destroy" => {
            let s = stream_mut(shard, key, now)?.expect("checked above");
            if s.destroy_group(group) {
                // A write: it wakes the XREADGROUPs waiting on the key,
                // which fail with -NOGROUP now.
                shard.written(key);
                Ok(Reply::Integer(1))
            } else {
                Ok(Reply::Integer(0))
            }
        }
        "createconsumer" => {
            let s = stream_mut(shard, key, now)?.expect("checked above");
            let (g, _) = s.group_mut(group).expect("checked above");
            let created = g.create_consumer(args[4], now_ms);
            if created {
                shard.written(key);
            }
            Ok(Reply::Integer(i64::from(created)))
        }
        _ => {
            let s = stream_mut(shard, key, now)?.expect("checked above");
            let (g, _) = s.group_mut(group).expect("checked above");
            match g.delete_consumer(args[4]) {
                Some(pending) => {
                    shard.written(key);
                    Ok(Reply::Integer(pending as i64))
                }
                None => Ok(Reply::Integer(0)),
            }
        }
    }
}

/// XREADGROUP GROUP group consumer [COUNT count] [BLOCK milliseconds] [NOACK] STREAMS key [key ...] id [id ...]
pub(super) fn xreadgroup<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let from_script = ctx.state().caller == Caller::Script;
    let read = parse_read(args, true, ctx.now_ms, from_script)?;
    let (group, consumer) = read.group.expect("XREADGROUP has a group");
    // Resolve every key, group and id first, as Redis does: `None` is `>`.
    let mut from = Vec::with_capacity(read.keys.len());
    for (key, id) in read.keys.iter().zip(read.ids) {
        let has_group = read_stream(ctx, key)?.is_some_and(|s| s.group(group).is_some());
        if !has_group {
            return Err(CmdError::other(format!(
                "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
                text(key),
                text(group)
            )));
        }
        from.push(match *id {
            b"$" => {
                return Err(CmdError::other(
                    "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.",
                ))
            }
            b">" => None,
            _ => Some(parse_id(id, 0, IdForm::Strict)?),
        });
    }
    let (now, now_ms) = (ctx.now_ms, now_i64(ctx.now_ms));
    let n = if read.count == 0 { usize::MAX } else { usize::try_from(read.count).unwrap_or(usize::MAX) };
    let mut served = Vec::new();
    for (key, from) in read.keys.iter().zip(from) {
        let shard = ctx.shard(key);
        let s = stream_mut(shard, key, now)?.expect("checked above");
        let (g, view) = s.group_mut(group).expect("checked above");
        let created = g.touch_consumer(consumer, now_ms);
        let mut changed = created;
        let entries = match from {
            // History: this consumer's own pending entries after the id,
            // with a null body for an entry deleted since.
            Some(after) => {
                let ids: Vec<StreamId> = match after.next() {
                    Some(start) => g
                        .consumer(consumer)
                        .map_or(Vec::new(), |c| c.pending().range(start..).take(n).copied().collect()),
                    None => Vec::new(),
                };
                let mut out = Vec::with_capacity(ids.len());
                for id in ids {
                    match view.get(id) {
                        Some(e) => {
                            g.redeliver(id, now_ms);
                            changed = true;
                            out.push(entry_reply(e));
                        }
                        None => out.push(Reply::Array(vec![id_reply(id), Reply::NullArray])),
                    }
                }
                Some(out)
            }
            None if view.meta.length > 0 && view.last_valid_id() > g.last_id => {
                let start = g.last_id.next().unwrap_or(StreamId::MAX);
                let mut out = Vec::new();
                for e in view.range(start, StreamId::MAX).take(n) {
                    view.meta.advance_group(g, e.id);
                    if !read.noack {
                        g.deliver(e.id, consumer, now_ms);
                    }
                    out.push(entry_reply(e));
                }
                changed = true;
                Some(out)
            }
            None => None,
        };
        if changed {
            shard.written(key);
        }
        if let Some(entries) = entries {
            served.push((Reply::bulk_copy(key), Reply::Array(entries)));
        }
    }
    // Only `>` on every key can leave nothing served: it waits for new
    // entries (or for its group to go).
    if let (true, Some(timeout_ms)) = (served.is_empty(), read.block) {
        return Ok(would_block(ctx, read.keys, BlockKind::StreamGroup, timeout_ms, None));
    }
    Ok(read_reply(ctx.client.as_ref().proto, served))
}

/// XACK key group id [id ...]
pub(super) fn xack<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let (key, group, now) = (args[1], args[2], ctx.now_ms);
    let shard = ctx.shard(key);
    let Some(s) = stream_mut(shard, key, now)? else { return Ok(Reply::Integer(0)) };
    let Some((g, _)) = s.group_mut(group) else { return Ok(Reply::Integer(0)) };
    // All or nothing: every id is checked before any is acknowledged.
    let ids = args[3..].iter().map(|a| parse_id(a, 0, IdForm::Strict)).collect::<Result<Vec<_>, _>>()?;
    let acked = ids.into_iter().filter(|id| g.ack(*id)).count();
    if acked > 0 {
        shard.written(key);
    }
    Ok(Reply::Integer(acked as i64))
}

/// XPENDING key group [[IDLE min-idle-time] start end count [consumer]]
pub(super) fn xpending<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let argc = args.len();
    if argc != 3 && !(6..=9).contains(&argc) {
        return Err(CmdError::Syntax);
    }
    let (mut min_idle, mut range, mut consumer) = (0i64, None, None);
    if argc >= 6 {
        let mut at = 3;
        if is(args[3], "IDLE") {
            min_idle = int(args[4])?;
            if argc < 8 {
                return Err(CmdError::Syntax);
            }
            at += 2;
        }
        let count = int(args[at + 2])?.max(0);
        let (start, end) = parse_range(args[at], args[at + 1])?;
        range = Some((start, end, count));
        consumer = args.get(at + 3).copied();
    }
    let (key, group) = (args[1], args[2]);
    let now = now_i64(ctx.now_ms);
    let Some(s) = read_stream(ctx, key)? else { return Err(no_such_key_or_group(key, group)) };
    let Some(g) = s.group(group) else { return Err(no_such_key_or_group(key, group)) };
    let Some((start, end, count)) = range else {
        // The summary form.
        let pel = g.pel();
        let (Some((first, _)), Some((last, _))) = (pel.first_key_value(), pel.last_key_value()) else {
            return Ok(Reply::Array(vec![Reply::Integer(0), Reply::Null, Reply::Null, Reply::NullArray]));
        };
        let owners = g
            .consumers()
            .iter()
            .filter(|(_, c)| !c.pending().is_empty())
            .map(|(name, c)| Reply::Array(vec![bulk(name), Reply::Bulk(c.pending().len().to_string().into())]))
            .collect();
        return Ok(Reply::Array(vec![
            Reply::Integer(pel.len() as i64),
            id_reply(*first),
            id_reply(*last),
            Reply::Array(owners),
        ]));
    };
    let ids: Box<dyn Iterator<Item = StreamId>> = match consumer {
        Some(name) => match g.consumer(name) {
            Some(c) => Box::new(c.pending().range(start..).copied()),
            None => return Ok(Reply::Array(Vec::new())),
        },
        None => Box::new(g.pel().range(start..).map(|(id, _)| *id)),
    };
    let mut out = Vec::new();
    let mut left = count;
    for id in ids {
        if left == 0 || id > end {
            break;
        }
        let p = &g.pel()[&id];
        if min_idle != 0 && now - p.delivery_time_ms < min_idle {
            continue;
        }
        left -= 1;
        out.push(Reply::Array(vec![
            id_reply(id),
            bulk(&p.consumer),
            Reply::Integer((now - p.delivery_time_ms).max(0)),
            Reply::Integer(p.delivery_count as i64),
        ]));
    }
    Ok(Reply::Array(out))
}

/// XCLAIM key group consumer min-idle-time id [id ...] [IDLE ms] [TIME unix-time-milliseconds] [RETRYCOUNT count] [FORCE] [JUSTID] [LASTID lastid]
pub(super) fn xclaim<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let (key, group, consumer, now) = (args[1], args[2], args[3], ctx.now_ms);
    let now_ms = now_i64(now);
    let shard = ctx.shard(key);
    let has_group = match shard.get(key, now) {
        Some(e) => e.value().as_stream()?.group(group).is_some(),
        None => false,
    };
    if !has_group {
        return Err(no_such_key_or_group(key, group));
    }
    let min_idle = int(args[4]).map_err(|_| CmdError::other("ERR Invalid min-idle-time argument for XCLAIM"))?.max(0);
    let mut ids = Vec::new();
    let mut j = 5;
    while j < args.len() {
        match parse_id(args[j], 0, IdForm::Strict) {
            Ok(id) => ids.push(id),
            Err(_) => break,
        }
        j += 1;
    }
    let (mut force, mut justid, mut retry, mut delivery, mut last_id) = (false, false, None, None, StreamId::MIN);
    while j < args.len() {
        let more = args.len() - 1 - j;
        let opt = args[j];
        let num = |a: &[u8], what: &str| {
            int(a).map_err(|_| CmdError::other(format!("ERR Invalid {what} option argument for XCLAIM")))
        };
        if is(opt, "FORCE") {
            force = true;
        } else if is(opt, "JUSTID") {
            justid = true;
        } else if is(opt, "IDLE") && more > 0 {
            j += 1;
            delivery = Some(now_ms - num(args[j], "IDLE")?);
        } else if is(opt, "TIME") && more > 0 {
            j += 1;
            delivery = Some(num(args[j], "TIME")?);
        } else if is(opt, "RETRYCOUNT") && more > 0 {
            j += 1;
            retry = Some(num(args[j], "RETRYCOUNT")?);
        } else if is(opt, "LASTID") && more > 0 {
            j += 1;
            last_id = parse_id(args[j], 0, IdForm::Strict)?;
        } else {
            return Err(CmdError::other(format!("ERR Unrecognized XCLAIM option '{}'", text(opt))));
        }
        j += 1;
    }
    let delivery = match delivery {
        Some(t) if (0..=now_ms).contains(&t) => t,
        _ => now_ms,
    };
    let count = match retry {
        Some(n) if n >= 0 => ClaimCount::Set(n as u64),
        _ if justid => ClaimCount::Keep,
        _ => ClaimCount::Increment,
    };
    let s = stream_mut(shard, key, now)?.expect("checked above");
    let (g, view) = s.group_mut(group).expect("checked above");
    let mut changed = false;
    if last_id > g.last_id {
        g.last_id = last_id;
        changed = true;
    }
    changed |= g.touch_consumer(consumer, now_ms);
    let mut out = Vec::new();
    for id in ids {
        let Some(entry) = view.get(id) else {
            // Gone from the stream: gone from the PEL too.
            changed |= g.ack(id);
            continue;
        };
        match g.pel().get(&id) {
            Some(p) if min_idle != 0 && now_ms - p.delivery_time_ms < min_idle => continue,
            None if !force => continue,
            _ => {}
        }
        g.claim(id, consumer, delivery, count, force);
        g.set_active(consumer, now_ms);
        changed = true;
        out.push(if justid { id_reply(id) } else { entry_reply(entry) });
    }
    if changed {
        shard.written(key);
    }
    Ok(Reply::Array(out))
}

/// XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID]
pub(super) fn xautoclaim<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    let (key, group, consumer, now) = (args[1], args[2], args[3], ctx.now_ms);
    let now_ms = now_i64(now);
    let min_idle =
        int(args[4]).map_err(|_| CmdError::other("ERR Invalid min-idle-time argument for XAUTOCLAIM"))?.max(0);
    let (mut start, ex) = parse_bound(args[5], 0)?;
    if ex {
        start = start.next().ok_or_else(|| CmdError::other("ERR invalid start ID for the interval"))?;
    }
    // Redis's bound, LONG_MAX / 16: any COUNT a reply could ever hold.
    const COUNT_MAX: i64 = i64::MAX / 16;
    let (mut count, mut justid) = (100i64, false);
    let mut j = 6;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if is(args[j], "COUNT") && more > 0 {
            count = int(args[j + 1])
                .ok()
                .filter(|c| (1..=COUNT_MAX).contains(c))
                .ok_or_else(|| CmdError::other("ERR COUNT must be > 0"))?;
            j += 1;
        } else if is(args[j], "JUSTID") {
            justid = true;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let shard = ctx.shard(key);
    let has_group = match shard.get(key, now) {
        Some(e) => e.value().as_stream()?.group(group).is_some(),
        None => false,
    };
    if !has_group {
        return Err(no_such_key_or_group(key, group));
    }
    let s = stream_mut(shard, key, now)?.expect("checked above");
    let (g, view) = s.group_mut(group).expect("checked above");
    let mut changed = g.touch_consumer(consumer, now_ms);
    let mut attempts = count.saturating_mul(10);
    let (mut claimed, mut deleted) = (Vec::new(), Vec::new());
    let mut cursor = Some(start);
    while attempts > 0 && count > 0 {
        attempts -= 1;
        let Some(at) = cursor else { break };
        let Some((&id, p)) = g.pel().range(at..).next() else {
            cursor = None;
            break;
        };
        cursor = id.next();
        let Some(entry) = view.get(id) else {
            g.ack(id);
            deleted.push(id_reply(id));
            changed = true;
            count -= 1;
            continue;
        };
        if min_idle != 0 && now_ms - p.delivery_time_ms < min_idle {
            continue;
        }
        let how = if justid { ClaimCount::Keep } else { ClaimCount::Increment };
        g.claim(id, consumer, now_ms, how, false);
        g.set_active(consumer, now_ms);
        changed = true;
        claimed.push(if justid { id_reply(id) } else { entry_reply(entry) });
        count -= 1;
    }
    let next = cursor.and_then(|at| g.pel().range(at..).next().map(|(id, _)| *id)).unwrap_or(StreamId::MIN);
    if changed {
        shard.written(key);
    }
    Ok(Reply::Array(vec![id_reply(next), Reply::Array(claimed), Reply::Array(deleted)]))
}
