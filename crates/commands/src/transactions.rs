//! MULTI / EXEC / DISCARD / WATCH / UNWATCH.
//!
//! EXEC locks the union of the shards of every queued command's keys and of
//! the watched keys, checks the watches, and runs the queue under those
//! locks: no other command can see or change those keys half-way, which is
//! Redis's atomicity. A queued keyspace-wide command makes EXEC lock all.
//! Each queued command runs in the client's database as it is when that
//! command's turn comes (a queued SELECT moves the ones after it), and a
//! WATCH is on a key of the database it was given in: shards are chosen
//! by slot, so the locks are the same whatever the databases.

use bytes::Bytes;
use ringcache_resp::Reply;

use ringcache_store::Db;

use crate::dispatch::take_changes;
use crate::state::{ClientState, Multi};
use crate::{flag, CmdError, CmdResult, CommandSpec, Ctx, Env, Keys};

pub fn commands<E: Env>() -> Vec<CommandSpec<E>> {
    vec![
        CommandSpec {
            name: "multi",
            arity: 1,
            flags: flag::NO_MULTI | flag::FAST | flag::LOADING | flag::STALE | flag::ALLOW_BUSY | flag::NOSCRIPT,
            keys: Keys::None,
            group: "transactions",
            summary: "Starts a transaction.",
            handler: multi,
        },
        CommandSpec {
            name: "exec",
            arity: 1,
            flags: flag::NO_MULTI | flag::LOADING | flag::STALE | flag::NOSCRIPT,
            keys: Keys::None,
            group: "transactions",
            summary: "Executes all commands in a transaction.",
            handler: exec,
        },
        CommandSpec {
            name: "discard",
            arity: 1,
            flags: flag::NO_MULTI | flag::FAST | flag::LOADING | flag::STALE | flag::ALLOW_BUSY | flag::NOSCRIPT,
            keys: Keys::None,
            group: "transactions",
            summary: "Discards a transaction.",
            handler: discard,
        },
        CommandSpec {
            name: "watch",
            arity: -2,
            flags: flag::NO_MULTI | flag::FAST | flag::LOADING | flag::STALE | flag::ALLOW_BUSY | flag::NOSCRIPT,
            keys: Keys::Range { first: 1, last: -1, step: 1 },
            group: "transactions",
            summary: "Monitors changes to keys to determine the execution of a transaction.",
            handler: watch,
        },
        CommandSpec {
            name: "unwatch",
            arity: 1,
            flags: flag::FAST | flag::LOADING | flag::STALE | flag::ALLOW_BUSY | flag::NOSCRIPT,
            keys: Keys::None,
            group: "transactions",
            summary: "Forgets about watched keys of a transaction.",
            handler: unwatch,
        },
    ]
}

/// Queues a command inside MULTI (the dispatcher has already refused it if
/// memory is short), or flags the transaction as failed.
pub(crate) fn queue<E: Env>(limit: usize, state: &mut ClientState<E>, args: &[&[u8]]) -> Reply {
    let m = state.multi.as_mut().expect("queue is only called inside MULTI");
    let size: usize = args.iter().map(|a| a.len() + 16).sum();
    if m.queued_bytes + size > limit {
        m.dirty = true;
        return Reply::error_static("ERR transaction too large: queued commands exceed client-query-buffer-limit");
    }
    m.queued_bytes += size;
    m.queued.push(args.iter().map(|a| Bytes::copy_from_slice(a)).collect());
    Reply::simple("QUEUED")
}

fn multi<E: Env>(ctx: &mut Ctx<'_, E>, _args: &[&[u8]]) -> CmdResult {
    let state = ctx.state();
    if state.multi.is_some() {
        return Err(CmdError::other("ERR MULTI calls can not be nested"));
    }
    state.multi = Some(Multi::default());
    Ok(Reply::ok())
}

/// Ends the client's MULTI, if one is in progress, and returns it.
pub fn end_multi<E: Env>(state: &mut ClientState<E>) -> Option<Multi> {
    state.multi.take()
}

/// Forgets every WATCH of a client (each shard's count of watchers drops).
pub fn release_watches<E: Env>(db: &Db, state: &mut ClientState<E>) {
    for (dbid, key, _) in state.watched.drain(..) {
        db.lock_key(&key).shard_in(dbid, &key).unwatch(&key);
    }
}

fn discard<E: Env>(ctx: &mut Ctx<'_, E>, _args: &[&[u8]]) -> CmdResult {
    if end_multi(ctx.client.as_mut()).is_none() {
        return Err(CmdError::other("ERR DISCARD without MULTI"));
    }
    release_watches(ctx.shared.db(), ctx.client.as_mut());
    Ok(Reply::ok())
}

fn watch<E: Env>(ctx: &mut Ctx<'_, E>, args: &[&[u8]]) -> CmdResult {
    if ctx.state().multi.is_some() {
        return Err(CmdError::other("ERR WATCH inside MULTI is not allowed"));
    }
    let dbid = ctx.state().dbid;
    for key in &args[1..] {
        if ctx.state().watched.iter().any(|(d, k, _)| *d == dbid && k == key) {
            continue;
        }
        let version = ctx.db.shard(key).watch(key, ctx.now_ms);
        ctx.state().watched.push((dbid, Bytes::copy_from_slice(key), version));
    }
    Ok(Reply::ok())
}

fn unwatch<E: Env>(ctx: &mut Ctx<'_, E>, _args: &[&[u8]]) -> CmdResult {
    // WATCH's keys are not locked by this command; release them one by one.
    release_watches(ctx.shared.db(), ctx.client.as_mut());
    Ok(Reply::ok())
}

fn exec<E: Env>(ctx: &mut Ctx<'_, E>, _args: &[&[u8]]) -> CmdResult {
    let Some(multi) = end_multi(ctx.client.as_mut()) else {
        return Err(CmdError::other("ERR EXEC without MULTI"));
    };
    // EXEC was dispatched with no shards locked: take exactly the ones needed.
    let shared = ctx.shared;
    let db = shared.db();
    let client = &mut *ctx.client;
    if multi.dirty {
        release_watches(db, client.as_mut());
        return Err(CmdError::other("EXECABORT Transaction discarded because of previous errors."));
    }
    let table = shared.table();
    let specs: Vec<&'static CommandSpec<E>> =
        multi.queued.iter().map(|args| table.lookup(&args[0]).expect("queued commands were looked up")).collect();
    let now_ms = ringcache_store::now_ms();
    if specs.iter().any(|s| s.has(flag::WRITE))
        && db.ensure_memory(now_ms).is_err()
        && specs.iter().any(|s| s.has(flag::DENYOOM))
    {
        release_watches(db, client.as_mut());
        // Redis's execCommandAbort: "because of: " and the refusal's text.
        return Err(CmdError::other(format!("EXECABORT Transaction discarded because of: {}", CmdError::Oom)));
    }
    let watched: Vec<(u16, Bytes, u64)> = std::mem::take(&mut client.as_mut().watched);
    let reads_other_keys = |(args, spec): (&Vec<Bytes>, &&CommandSpec<E>)| {
        matches!(spec.keys, Keys::Sort { .. }) && !shared.cluster_enabled() && crate::sort::reads_other_keys(args)
    };
    let db = if specs.iter().any(|s| s.keys == Keys::All) || multi.queued.iter().zip(&specs).any(reads_other_keys) {
        db.lock_all()
    } else {
        let keys = multi.queued.iter().zip(&specs).flat_map(|(args, spec)| spec.keys.of(args));
        db.lock_keys(keys.chain(watched.iter().map(|(_, k, _)| k.as_ref())))
    };
    let mut inner = Ctx { db, shared, client, now_ms };
    let mut aborted = false;
    for (dbid, key, version) in &watched {
        let shard = inner.db.shard_in(*dbid, key);
        if shard.watch_version(key, now_ms) != *version {
            aborted = true;
        }
        shard.unwatch(key);
    }
    if aborted {
        return Ok(Reply::NullArray);
    }
    let mut replies = Vec::with_capacity(specs.len());
    let mut views: Vec<&[u8]> = Vec::new();
    // Inside EXEC a blocking command answers at once, as on a timeout.
    let may_block = std::mem::replace(&mut inner.state().may_block, false);
    for (args, spec) in multi.queued.iter().zip(specs) {
        inner.state().last_cmd = spec.name;
        // A queued SELECT moves the commands after it to its database.
        let dbid = inner.state().dbid;
        inner.db.select(dbid);
        views.clear();
        views.extend(args.iter().map(|a| &a[..]));
        replies.push(crate::blocking::call(&mut inner, spec, &views, crate::Caller::Transaction));
    }
    inner.state().may_block = may_block;
    if shared.journal() {
        // All of the transaction's changes at once: a replicated cluster
        // sends them as one write per slot (one slot in a cluster), which an
        // owner applies all or none.
        take_changes(&mut inner.db, inner.client.as_mut(), now_ms, None);
    }
    Ok(Reply::Array(replies))
}
