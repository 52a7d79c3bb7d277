//! XINFO STREAM [FULL [COUNT count]], GROUPS, CONSUMERS and HELP.
//!
//! `radix-tree-keys` is the number of nodes, as in Redis; Redis's
//! `radix-tree-nodes` counts the inner nodes of its rax, which ringcache
//! does not have: it reports the nodes plus one (the root), an estimate.

use bytes::Bytes;
use ringcache_resp::Reply;
use ringcache_store::value::{ConsumerGroup, ENTRIES_READ_UNKNOWN};
use ringcache_store::{StreamId, StreamValue};

use super::{bulk, entry_reply, id_reply, now_i64, read_stream, text};
use crate::args::{int, is};
use crate::object::{help, unknown_subcommand};
use crate::{CmdError, CmdResult, Ctx, Env};

fn kv(k: &'static str, v: Reply) -> (Reply, Reply) {
    (Reply::Bulk(Bytes::from_static(k.as_bytes())), v)
}

fn syntax(args: &[&[u8]]) -> CmdError {
    CmdError::other(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try XINFO HELP.",
        crate::printable(args[1], 128)
    ))
}

pub(super) fn xinfo<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    const SUBS: [(&str, i32); 4] = [("consumers", 4), ("groups", 3), ("stream", -3), ("help", 2)];
    let Some(&(sub, arity)) = SUBS.iter().find(|(n, _)| is(args[1], n)) else {
        return Err(unknown_subcommand(args, "XINFO"));
    };
    let argc = args.len() as i32;
    if (arity >= 0 && argc != arity) || (arity < 0 && argc < -arity) {
        return Err(CmdError::WrongArity(format!("xinfo|{sub}")));
    }
    if sub == "help" {
        return Ok(help(
            "XINFO",
            &[
                "CONSUMERS <key> <groupname>",
                "    Show consumers of <groupname>.",
                "GROUPS <key>",
                "    Show the stream consumer groups.",
                "STREAM <key> [FULL [COUNT <count>]",
                "    Show information about the stream.",
            ],
        ));
    }
    let key = args[2];
    let now = now_i64(ctx.now_ms);
    let s = read_stream(ctx, key)?.ok_or(CmdError::NoSuchKey)?;
    match sub {
        "consumers" => {
            let g = s.group(args[3]).ok_or_else(|| {
                CmdError::other(format!(
                    "NOGROUP No such consumer group '{}' for key name '{}'",
                    text(args[3]),
                    text(key)
                ))
            })?;
            let out = g
                .consumers()
                .iter()
                .map(|(name, c)| {
                    let inactive = if c.active_time_ms != -1 { now - c.active_time_ms } else { -1 };
                    Reply::Map(vec![
                        kv("name", bulk(name)),
                        kv("pending", Reply::Integer(c.pending().len() as i64)),
                        kv("idle", Reply::Integer((now - c.seen_time_ms).max(0))),
                        kv("inactive", Reply::Integer(inactive)),
                    ])
                })
                .collect();
            Ok(Reply::Array(out))
        }
        "groups" => Ok(Reply::Array(
            s.groups()
                .iter()
                .map(|(name, g)| {
                    Reply::Map(vec![
                        kv("name", bulk(name)),
                        kv("consumers", Reply::Integer(g.consumers().len() as i64)),
                        kv("pending", Reply::Integer(g.pel().len() as i64)),
                        kv("last-delivered-id", id_reply(g.last_id)),
                        kv("entries-read", entries_read(g)),
                        kv("lag", lag(s, g)),
                    ])
                })
                .collect(),
        )),
        _ => stream_info(s, args),
    }
}

fn entries_read(g: &ConsumerGroup) -> Reply {
    if g.entries_read == ENTRIES_READ_UNKNOWN {
        Reply::Null
    } else {
        Reply::Integer(g.entries_read)
    }
}

fn lag(s: &StreamValue, g: &ConsumerGroup) -> Reply {
    s.meta().lag(g).map_or(Reply::Null, Reply::Integer)
}

fn stream_info(s: &StreamValue, args: &[&[u8]]) -> CmdResult {
    let opts = &args[3..];
    let (full, count) = match opts.len() {
        0 => (false, 10),
        1 | 3 if is(opts[0], "FULL") => {
            if opts.len() == 3 {
                if !is(opts[1], "COUNT") {
                    return Err(syntax(args));
                }
                let c = int(opts[2])?;
                (true, if c < 0 { 10 } else { c })
            } else {
                (true, 10)
            }
        }
        _ => return Err(syntax(args)),
    };
    let mut out = vec![
        kv("length", Reply::Integer(s.len() as i64)),
        kv("radix-tree-keys", Reply::Integer(s.nodes_len() as i64)),
        kv("radix-tree-nodes", Reply::Integer(s.nodes_len() as i64 + 1)),
        kv("last-generated-id", id_reply(s.last_id)),
        kv("max-deleted-entry-id", id_reply(s.max_deleted_id)),
        kv("entries-added", Reply::Integer(s.entries_added as i64)),
        kv("recorded-first-entry-id", id_reply(s.first_id())),
    ];
    if !full {
        let first = s.range(StreamId::MIN, StreamId::MAX, false).next().map_or(Reply::Null, entry_reply);
        let last = s.range(StreamId::MIN, StreamId::MAX, true).next().map_or(Reply::Null, entry_reply);
        out.push(kv("groups", Reply::Integer(s.groups().len() as i64)));
        out.push(kv("first-entry", first));
        out.push(kv("last-entry", last));
        return Ok(Reply::Map(out));
    }
    // COUNT 0: everything.
    let n = if count == 0 { usize::MAX } else { usize::try_from(count).unwrap_or(usize::MAX) };
    out.push(kv(
        "entries",
        Reply::Array(s.range(StreamId::MIN, StreamId::MAX, false).take(n).map(entry_reply).collect()),
    ));
    let groups = s
        .groups()
        .iter()
        .map(|(name, g)| {
            let pending = g
                .pel()
                .iter()
                .take(n)
                .map(|(id, p)| {
                    Reply::Array(vec![
                        id_reply(*id),
                        bulk(&p.consumer),
                        Reply::Integer(p.delivery_time_ms),
                        Reply::Integer(p.delivery_count as i64),
                    ])
                })
                .collect();
            let consumers = g
                .consumers()
                .iter()
                .map(|(cname, c)| {
                    let pel = c
                        .pending()
                        .iter()
                        .take(n)
                        .map(|id| {
                            let p = &g.pel()[id];
                            Reply::Array(vec![
                                id_reply(*id),
                                Reply::Integer(p.delivery_time_ms),
                                Reply::Integer(p.delivery_count as i64),
                            ])
                        })
                        .collect();
                    Reply::Map(vec![
                        kv("name", bulk(cname)),
                        kv("seen-time", Reply::Integer(c.seen_time_ms)),
                        kv("active-time", Reply::Integer(c.active_time_ms)),
                        kv("pel-count", Reply::Integer(c.pending().len() as i64)),
                        kv("pending", Reply::Array(pel)),
                    ])
                })
                .collect();
            Reply::Map(vec![
                kv("name", bulk(name)),
                kv("last-delivered-id", id_reply(g.last_id)),
                kv("entries-read", entries_read(g)),
                kv("lag", lag(s, g)),
                kv("pel-count", Reply::Integer(g.pel().len() as i64)),
                kv("pending", Reply::Array(pending)),
                kv("consumers", Reply::Array(consumers)),
            ])
        })
        .collect();
    out.push(kv("groups", Reply::Array(groups)));
    Ok(Reply::Map(out))
}
