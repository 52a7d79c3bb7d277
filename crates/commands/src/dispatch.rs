//! The dispatcher: from a command's arguments to its reply.
//!
//! It checks existence, arity and auth (in Redis's order), queues inside
//! MULTI, evicts before writes when over `maxmemory`, locks the shards of
//! the command's keys and calls the handler. Handlers never lock anything
//! themselves. With a journal it then reads what the write changed while
//! the locks are still held, so each state it reports is the one the
//! command left.

use std::sync::LazyLock;

use bytes::Bytes;
use ringcache_resp::Reply;
use ringcache_ring::slot;
use ringcache_store::delta::DeltaOp;
use ringcache_store::{KeyHash, Locked};
use ringcache_version::Stamp;
use smallvec::SmallVec;

use crate::spec::{flag, CmdError, CommandSpec, Ctx, Keys, SubSpec};
use crate::state::{Change, ClientState, DELTA_ELEMENTS_MIN};
use crate::table::unknown_command;
use crate::{transactions, Env};

/// A command resolved before it runs: its spec (`None` for an unknown
/// name) and, for a command with one key, that key's hash. Resolving a
/// batch's commands ahead of running them looks each name up once, and
/// hashes each key once for both its look-ahead probe and its command.
pub struct Prepared<E: Env> {
    spec: Option<&'static CommandSpec<E>>,
    key: Option<KeyHash>,
}

// By hand: derives would ask `E: Clone` / `E: Debug`.
impl<E: Env> Clone for Prepared<E> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<E: Env> Copy for Prepared<E> {}

impl<E: Env> std::fmt::Debug for Prepared<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared").field("spec", &self.spec.map(|s| s.name)).finish()
    }
}

impl<E: Env> Prepared<E> {
    /// The command, `None` if there is no such command.
    pub fn spec(&self) -> Option<&'static CommandSpec<E>> {
        self.spec
    }
}

/// Looks a command up through the client's one-entry cache.
pub fn lookup_for<E: Env>(shared: &E, state: &mut ClientState<E>, name: &[u8]) -> Option<&'static CommandSpec<E>> {
    shared.table().lookup_cached(&mut state.lookup_cache, name)
}

/// Resolves one command of a client's batch. Nothing here depends on what
/// the commands before it do.
#[inline]
pub fn prepare<E: Env>(shared: &E, state: &mut ClientState<E>, args: &[&[u8]]) -> Prepared<E> {
    debug_assert!(!args.is_empty());
    let spec = lookup_for(shared, state, args[0]);
    let key = match (spec, args.get(1)) {
        (Some(spec), Some(key)) if spec.keys == Keys::ONE => Some(shared.db().hash_key(key)),
        _ => None,
    };
    Prepared { spec, key }
}

/// Looks the keys of a batch's one-key commands up before running any of
/// them (see `Db::warm`), so that their cache misses overlap instead of
/// stalling each command in turn.
/// `dbid` is the client's database.
pub fn warm<'a, E: Env>(shared: &E, dbid: u16, commands: impl Iterator<Item = (&'a [&'a [u8]], Prepared<E>)>) {
    let keys: SmallVec<[(&[u8], KeyHash); 16]> =
        commands.filter_map(|(args, p)| Some((*args.get(1)?, p.key?))).collect();
    shared.db().warm(dbid, &keys);
}

/// Runs one command from a client at time `now_ms`. The reply is ready to
/// encode.
pub fn dispatch<E: Env>(shared: &E, client: &mut E::Client, args: &[&[u8]], now_ms: u64) -> Reply {
    let prepared = prepare(shared, client.as_mut(), args);
    dispatch_prepared(shared, client, args, prepared, now_ms)
}

/// [`dispatch`] of a command that [`prepare`] has resolved.
pub fn dispatch_prepared<E: Env>(
    shared: &E,
    client: &mut E::Client,
    args: &[&[u8]],
    prepared: Prepared<E>,
    now_ms: u64,
) -> Reply {
    debug_assert!(!args.is_empty());
    let state = client.as_mut();
    let Some(spec) = prepared.spec else {
        if let Some(m) = state.multi.as_mut() {
            m.dirty = true;
        }
        return refused(shared, client, None, unknown_command(args));
    };
    state.last_cmd = spec.name;
    // Redis's order: existence, arity, then authentication.
    if !spec.arity_ok(args.len()) {
        if let Some(m) = state.multi.as_mut() {
            m.dirty = true;
        }
        return refused(shared, client, Some(spec), CmdError::WrongArity(spec.name.to_owned()).into());
    }
    // Whether an out-of-memory node refuses it: a subcommand's own flag
    // (XGROUP CREATE is denyoom, XGROUP DESTROY is not).
    let mut denyoom = spec.has(flag::DENYOOM);
    match subcommand(shared, spec, args) {
        Ok(None) => {}
        Ok(Some(sub)) => {
            // Named before its arity is checked: a refusal is its own.
            state.last_cmd = sub.name;
            denyoom = sub.flags & flag::DENYOOM != 0;
            if !sub.arity_ok(args.len()) {
                if let Some(m) = state.multi.as_mut() {
                    m.dirty = true;
                }
                return refused(shared, client, Some(spec), CmdError::WrongArity(sub.name.to_owned()).into());
            }
        }
        Err(unknown) => {
            if let Some(m) = state.multi.as_mut() {
                m.dirty = true;
            }
            return refused(shared, client, None, unknown);
        }
    }
    if !state.authenticated && !spec.has(flag::NO_AUTH) {
        return refused(shared, client, Some(spec), Reply::error_static("NOAUTH Authentication required."));
    }
    if let Some(m) = state.multi.as_mut() {
        // Inside MULTI Redis refuses every command but these while memory
        // is over maxmemory, reads included: the queue itself grows. The
        // refusal fails the transaction like any other.
        if !matches!(spec.name, "exec" | "discard" | "quit" | "reset") && shared.db().ensure_memory(now_ms).is_err() {
            m.dirty = true;
            return refused(shared, client, Some(spec), CmdError::Oom.into());
        }
        if !spec.has(flag::NO_MULTI) {
            let reply = transactions::queue(shared.query_buffer_limit(), state, args);
            if matches!(reply, Reply::Error(_)) {
                return refused(shared, client, Some(spec), reply);
            }
            return reply;
        }
    }
    run(shared, client, spec, args, prepared.key, denyoom, now_ms)
}

/// The subcommand `args` names of container `spec` (`None` for a command
/// that is no container, or a container called alone, whose own arity
/// answers), looked up with the command as Redis's `lookupCommand` does:
/// an unknown one is refused as an unknown command is, counted by no
/// command's statistics.
fn subcommand<E: Env>(
    shared: &E,
    spec: &'static CommandSpec<E>,
    args: &[&[u8]],
) -> Result<Option<&'static SubSpec>, Reply> {
    let subs = shared.subcommands(spec);
    let Some(name) = args.get(1).filter(|_| !subs.is_empty()) else {
        return Ok(None);
    };
    match subs.iter().find(|s| crate::args::is(name, s.short())) {
        Some(sub) => Ok(Some(sub)),
        None => Err(crate::object::unknown_subcommand(args, &spec.name.to_ascii_uppercase()).into()),
    }
}

/// A refusal, reported to the node ([`Env::command_refused`]).
#[cold]
fn refused<E: Env>(shared: &E, client: &mut E::Client, spec: Option<&'static CommandSpec<E>>, reply: Reply) -> Reply {
    shared.command_refused(client, spec, &reply);
    reply
}

/// Who ran a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// The client, directly.
    Client,
    /// EXEC, from the client's MULTI queue.
    Transaction,
    /// A script (`redis.call` / `redis.pcall`).
    Script,
}

/// A command that ran, for [`Env::command_ran`].
pub struct Ran<'a, E: Env> {
    pub spec: &'static CommandSpec<E>,
    pub args: &'a [&'a [u8]],
    /// How long the handler ran, in nanoseconds.
    pub elapsed_ns: u64,
    pub reply: &'a Reply,
    pub caller: Caller,
    /// Whether it counts as one change of the keyspace (Redis's `dirty`):
    /// it wrote or deleted a key or flushed a database, itself rather than
    /// through commands it ran (EXEC's and scripts' commands count one by
    /// one, the EXEC or the script not again).
    pub wrote: bool,
    /// Whether its error reply was counted already (INFO errorstats,
    /// `total_error_replies`) where it arose: a script failing with the
    /// error of a command it ran. The call still counts as failed.
    pub error_counted: bool,
}

thread_local! {
    /// Commands this thread has counted as changes ([`Ran::wrote`]).
    static CHANGES: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

// By hand: a derive would ask `E: Debug`.
impl<E: Env> std::fmt::Debug for Ran<'_, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ran").field("spec", &self.spec.name).field("elapsed_ns", &self.elapsed_ns).finish()
    }
}

/// Runs a command's handler, timed, and tells the node what it did
/// ([`Env::command_ran`]). Every handler call goes through here: the
/// client's commands, EXEC's and scripts'.
#[inline]
pub fn call<E: Env>(ctx: &mut Ctx<'_, E>, spec: &'static CommandSpec<E>, args: &[&[u8]], caller: Caller) -> Reply {
    // The CPU's counter, calibrated once: a fraction of what
    // `clock_gettime` costs, on a path that reads the clock twice per
    // command.
    static CLOCK: LazyLock<quanta::Clock> = LazyLock::new(quanta::Clock::new);
    ctx.shared.command_starting(ctx.client, spec, args);
    ctx.state().caller = caller;
    // Per command: a lock EXEC or a script holds serves several.
    let no_touch = ctx.state().no_touch && spec.name != "touch";
    ctx.db.set_no_touch(no_touch);
    let clock = &*CLOCK;
    let (writes, changes) = (ringcache_store::local_writes(), CHANGES.get());
    let started = clock.raw();
    let reply = (spec.handler)(ctx, args).unwrap_or_else(Reply::from);
    let elapsed_ns = clock.delta_as_nanos(started, clock.raw());
    let wrote = ringcache_store::local_writes() != writes && CHANGES.get() == changes;
    if wrote {
        CHANGES.set(changes + 1);
    }
    // Only an error reply can have been counted (and only a script's
    // handler sets it): nothing to take on the way of a success.
    let error_counted = matches!(reply, Reply::Error(_)) && std::mem::take(&mut ctx.state().error_counted);
    let ran = Ran { spec, args, elapsed_ns, reply: &reply, caller, wrote, error_counted };
    ctx.shared.command_ran(ctx.client, &ran);
    reply
}

/// Runs a command outside a transaction: evict if needed, lock, handle.
fn run<E: Env>(
    shared: &E,
    client: &mut E::Client,
    spec: &'static CommandSpec<E>,
    args: &[&[u8]],
    key: Option<KeyHash>,
    denyoom: bool,
    now_ms: u64,
) -> Reply {
    let db = shared.db();
    if spec.has(flag::WRITE) || denyoom {
        if let Err(oom) = db.ensure_memory(now_ms) {
            if denyoom {
                return refused(shared, client, Some(spec), CmdError::from(oom).into());
            }
        }
    }
    let mut locked = match spec.keys {
        Keys::None => db.lock_keys(std::iter::empty()),
        // A keyspace-wide write (FLUSHALL) holds everything at once; a read
        // (SCAN, KEYS, DBSIZE, INFO) walks the shards one at a time
        // (`Locked::with_shard`) and never stops the other clients.
        Keys::All if spec.has(flag::WRITE) => db.lock_all(),
        Keys::All => db.lock_keys(std::iter::empty()),
        // SORT's patterns read keys named by values: on one node they may
        // be anywhere (in a cluster they must share the sorted key's slot).
        Keys::Sort { .. } if !shared.cluster_enabled() && crate::sort::reads_other_keys(args) => db.lock_all(),
        Keys::ONE => match key {
            Some(hash) => db.lock_key_hashed(args[1], hash),
            None => db.lock_key(args[1]),
        },
        keys => db.lock_keys(keys.of(args)),
    };
    locked.select(client.as_ref().dbid);
    let mut ctx = Ctx { db: locked, shared, client, now_ms };
    let reply = crate::blocking::call(&mut ctx, spec, args, Caller::Client);
    if shared.journal() {
        take_changes(&mut ctx.db, ctx.client.as_mut(), now_ms, Some(args));
    }
    reply
}

/// Appends to `state.changes` the keys the command gave a new version,
/// each with the state it left, or with its delta when `cmd` (the
/// arguments of a command run alone) changed one big collection in place.
/// Runs while `db` still holds the command's locks.
pub(crate) fn take_changes<E: Env>(
    db: &mut Locked<'_>,
    state: &mut ClientState<E>,
    now_ms: u64,
    cmd: Option<&[&[u8]]>,
) {
    let mut keys = std::mem::take(&mut state.changed);
    db.take_changed(&mut keys);
    let alone = keys.len() == 1;
    for (dbid, key, base) in keys.drain(..) {
        let k = key.as_bytes();
        if let (true, Some(base), Some(args)) = (alone, base, cmd) {
            if let Some(change) = delta_change(db, dbid, k, base, args, now_ms) {
                state.changes.push(change);
                continue;
            }
        }
        let mut encoded = Vec::new();
        let Some((version, value)) = db.shard_in(dbid, k).key_state(k, now_ms, &mut encoded) else {
            continue;
        };
        state.changes.push(Change {
            dbid,
            slot: slot(k),
            key: key.to_bytes(),
            version,
            state: value.then(|| Bytes::from(encoded)),
            delta: None,
        });
    }
    state.changed = keys;
}

/// The change of `key` as a delta, if the command `args` made one (see
/// `ringcache_store::delta`): it named that key, changed it in place from
/// `base`, and left a collection of at least [`DELTA_ELEMENTS_MIN`].
fn delta_change(
    db: &mut Locked<'_>,
    dbid: u16,
    key: &[u8],
    base: Stamp,
    args: &[&[u8]],
    now_ms: u64,
) -> Option<Change> {
    if args.get(1) != Some(&key) {
        return None;
    }
    let shard = db.shard_in(dbid, key);
    let value = shard.peek(key, now_ms)?.value();
    if value.collection_len() < DELTA_ELEMENTS_MIN {
        return None;
    }
    let op = crate::zsets::delta_of(args)
        .or_else(|| crate::streams::delta_of(args, value))
        .or_else(|| DeltaOp::of_command(args))?;
    let version = shard.version(key)?;
    Some(Change {
        dbid,
        slot: slot(key),
        key: Bytes::copy_from_slice(key),
        version,
        state: None,
        delta: Some((base, op.to_bytes())),
    })
}
