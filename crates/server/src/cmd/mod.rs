//! Commands: the table, the dispatcher, and one module per command family.
//!
//! Every command is a [`CommandSpec`] in its family's `COMMANDS` table, with
//! Redis's name, arity, flags and key positions, and a handler that does the
//! same three steps: parse the arguments, apply, build the reply. The
//! dispatcher checks auth and arity, queues inside MULTI, evicts before
//! writes when over `maxmemory`, locks the shards of the command's keys and
//! calls the handler. Handlers never lock anything themselves.

pub mod args;
mod cluster;
mod connection;
mod hashes;
mod keys;
mod lists;
mod server;
mod sets;
mod strings;
mod transactions;
mod zsets;

use std::collections::HashMap;
use std::fmt;
use std::sync::LazyLock;

use bytes::Bytes;
use ringcache_replication::{Change, Effect, State};
use ringcache_resp::Reply;
use ringcache_ring::slot;
use ringcache_store::{KeyHash, Locked, Oom, Shard, WrongType};
use smallvec::SmallVec;

use crate::client::Client;
use crate::shared::Shared;

/// A command's behaviour flags, as COMMAND INFO reports them.
pub mod flag {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    /// May use more memory: refused with -OOM when over maxmemory.
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const FAST: u32 = 1 << 4;
    /// Allowed before AUTH.
    pub const NO_AUTH: u32 = 1 << 5;
    /// Not queued inside MULTI: runs at once (EXEC, DISCARD, MULTI, WATCH...).
    pub const NO_MULTI: u32 = 1 << 6;
    pub const LOADING: u32 = 1 << 7;
    pub const STALE: u32 = 1 << 8;
    pub const NOSCRIPT: u32 = 1 << 9;
    pub const ALLOW_BUSY: u32 = 1 << 10;

    /// Names for COMMAND INFO, in Redis's spelling.
    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (NOSCRIPT, "noscript"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (NO_MULTI, "no_multi"),
        (ALLOW_BUSY, "allow_busy"),
    ];
}

/// Where a command's keys are in its arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keys {
    None,
    /// Arguments `first..=last` every `step`; a negative `last` counts from
    /// the end (-1 = the last argument), as in Redis's legacy key specs.
    Range {
        first: usize,
        last: isize,
        step: usize,
    },
    /// The whole keyspace (KEYS, SCAN, FLUSHALL, DBSIZE, INFO ...).
    All,
}

impl Keys {
    /// Shorthand for the common one-key-at-position-1 case.
    pub const ONE: Keys = Keys::Range { first: 1, last: 1, step: 1 };

    /// The key arguments of `args`. Arguments past the end are ignored
    /// (arity has already been checked).
    pub fn of<'a, A: AsRef<[u8]>>(&self, args: &'a [A]) -> impl Iterator<Item = &'a [u8]> + 'a {
        let (first, last, step) = match *self {
            Keys::Range { first, last, step } => {
                let last = if last < 0 { args.len() as isize + last } else { last };
                (first, last.max(-1), step.max(1))
            }
            Keys::None | Keys::All => (1, -1, 1),
        };
        let end = if last < 0 { 0 } else { (last as usize + 1).min(args.len()) };
        args.get(first.min(end)..end).unwrap_or(&[]).iter().step_by(step).map(AsRef::as_ref)
    }
}

/// What a handler gets: the locked shards of its keys, the node, its own
/// connection, and the time (read once per command).
pub struct Ctx<'a> {
    pub db: Locked<'a>,
    pub shared: &'a Shared,
    pub client: &'a mut Client,
    pub now_ms: u64,
}

impl fmt::Debug for Ctx<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ctx").field("client", &self.client.id).field("now_ms", &self.now_ms).finish()
    }
}

impl Ctx<'_> {
    /// The shard holding `key` (which the command declared).
    pub fn shard(&mut self, key: &[u8]) -> &mut Shard {
        self.db.shard(key)
    }
}

/// A command's failure, rendered as Redis's exact error reply.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CmdError {
    #[error("ERR syntax error")]
    Syntax,
    #[error("ERR value is not an integer or out of range")]
    NotInteger,
    #[error("ERR value is not a valid float")]
    NotFloat,
    #[error("WRONGTYPE Operation against a key holding the wrong kind of value")]
    WrongType,
    #[error("ERR increment or decrement would overflow")]
    Overflow,
    #[error("ERR no such key")]
    NoSuchKey,
    #[error("ERR index out of range")]
    OutOfRange,
    #[error("ERR wrong number of arguments for '{0}' command")]
    WrongArity(String),
    #[error("OOM command not allowed when used memory > 'maxmemory'.")]
    Oom,
    /// Any other error; the text starts with its code (`ERR ...`).
    #[error("{0}")]
    Other(String),
}

impl CmdError {
    pub fn other(msg: impl Into<String>) -> CmdError {
        CmdError::Other(msg.into())
    }
}

impl From<WrongType> for CmdError {
    fn from(_: WrongType) -> Self {
        CmdError::WrongType
    }
}

impl From<Oom> for CmdError {
    fn from(_: Oom) -> Self {
        CmdError::Oom
    }
}

impl From<CmdError> for Reply {
    fn from(e: CmdError) -> Self {
        match e {
            CmdError::Syntax => Reply::error_static("ERR syntax error"),
            CmdError::NotInteger => Reply::error_static("ERR value is not an integer or out of range"),
            CmdError::WrongType => {
                Reply::error_static("WRONGTYPE Operation against a key holding the wrong kind of value")
            }
            other => Reply::error(other.to_string()),
        }
    }
}

pub type CmdResult = Result<Reply, CmdError>;

/// A command handler: parse `args` (including the command name at 0),
/// apply, reply. The arguments are views of the client's read buffer, valid
/// only during the call: whatever is kept is copied.
pub type Handler = fn(&mut Ctx<'_>, &[&[u8]]) -> CmdResult;

/// A command's static description.
pub struct CommandSpec {
    /// Lowercase name.
    pub name: &'static str,
    /// Redis arity: N = exactly N arguments (with the name), -N = at least N.
    pub arity: i32,
    pub flags: u32,
    pub keys: Keys,
    /// Redis's command group (COMMAND DOCS): "string", "generic", ...
    pub group: &'static str,
    pub summary: &'static str,
    pub handler: Handler,
}

impl fmt::Debug for CommandSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommandSpec").field("name", &self.name).finish()
    }
}

impl CommandSpec {
    pub fn has(&self, f: u32) -> bool {
        self.flags & f != 0
    }

    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i32;
        if self.arity >= 0 {
            argc == self.arity
        } else {
            argc >= -self.arity
        }
    }
}

/// Every command family's table.
fn families() -> [&'static [CommandSpec]; 10] {
    [
        connection::COMMANDS,
        server::COMMANDS,
        strings::COMMANDS,
        keys::COMMANDS,
        hashes::COMMANDS,
        lists::COMMANDS,
        sets::COMMANDS,
        zsets::COMMANDS,
        transactions::COMMANDS,
        cluster::COMMANDS,
    ]
}

/// FNV-1a over a command name: names are a few ASCII bytes, where SipHash's
/// set-up cost dominates, and the table is fixed (no flooding to fear).
#[derive(Default)]
struct NameHasher(u64);

impl std::hash::Hasher for NameHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

type NameMap = HashMap<&'static [u8], &'static CommandSpec, std::hash::BuildHasherDefault<NameHasher>>;

static TABLE: LazyLock<NameMap> = LazyLock::new(|| {
    let mut table = NameMap::default();
    for spec in families().into_iter().flatten() {
        debug_assert_eq!(spec.name, spec.name.to_ascii_lowercase(), "command names are lowercase");
        let dup = table.insert(spec.name.as_bytes(), spec);
        assert!(dup.is_none(), "command {} registered twice", spec.name);
    }
    table
});

/// Looks up a command by name, case-insensitively.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    // Command names are short; lowercase on the stack, not the heap.
    let mut buf = [0u8; 32];
    let lower = buf.get_mut(..name.len())?;
    for (d, s) in lower.iter_mut().zip(name) {
        *d = s.to_ascii_lowercase();
    }
    TABLE.get(&*lower).copied()
}

/// The last command name a connection looked up, as it spelled it.
/// Pipelines mostly repeat one command, and comparing a few bytes is much
/// cheaper than lowercasing and hashing them.
#[derive(Debug, Default)]
pub struct LookupCache {
    name: [u8; 16],
    len: u8,
    spec: Option<&'static CommandSpec>,
}

impl LookupCache {
    fn get(&self, name: &[u8]) -> Option<&'static CommandSpec> {
        (name.len() == usize::from(self.len) && name == &self.name[..name.len()]).then_some(self.spec).flatten()
    }

    fn put(&mut self, name: &[u8], spec: &'static CommandSpec) {
        if name.len() <= self.name.len() {
            self.name[..name.len()].copy_from_slice(name);
            self.len = name.len() as u8;
            self.spec = Some(spec);
        }
    }
}

/// Every command, for COMMAND.
pub fn all_commands() -> impl Iterator<Item = &'static CommandSpec> {
    TABLE.values().copied()
}

/// How much of the client's input Redis quotes in an unknown-command error:
/// the name up to this many bytes, and arguments while the quoted text is
/// shorter than this.
const QUOTE_LEN_MAX: usize = 128;

/// Redis's reply to an unknown command (`commandCheckExistence`): the name,
/// then each argument in quotes while the quoted text is under
/// [`QUOTE_LEN_MAX`] bytes, the last one cut to what is left. Bytes are
/// echoed as they are (Redis formats them with `%.*s`, which also stops at
/// a NUL); CR and LF become spaces.
fn unknown_command(args: &[&[u8]]) -> Reply {
    let mut quoted = Vec::new();
    for a in &args[1..] {
        let Some(room) = QUOTE_LEN_MAX.checked_sub(quoted.len()).filter(|r| *r > 0) else {
            break;
        };
        quoted.push(b'\'');
        quoted.extend_from_slice(c_str(a, room));
        quoted.extend_from_slice(b"' ");
    }
    let mut msg = b"ERR unknown command '".to_vec();
    msg.extend_from_slice(c_str(args[0], QUOTE_LEN_MAX));
    msg.extend_from_slice(b"', with args beginning with: ");
    msg.extend_from_slice(&quoted);
    Reply::error_bytes(msg)
}

/// What C's `%.*s` prints of `b`: up to `max` bytes, stopping at a NUL.
fn c_str(b: &[u8], max: usize) -> &[u8] {
    let b = &b[..b.len().min(max)];
    &b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())]
}

/// Text safe to quote in an error line (for error texts built as strings).
pub fn printable(b: &[u8], max: usize) -> String {
    let s = String::from_utf8_lossy(&b[..b.len().min(max)]);
    s.replace(['\r', '\n'], " ")
}

pub(crate) use transactions::release_watches;

/// A command resolved before it runs: its spec (`None` for an unknown
/// name) and, for a command with one key, that key's hash. Resolving a
/// batch's commands ahead of running them looks each name up once, and
/// hashes each key once for both its look-ahead probe and its command.
#[derive(Debug, Clone, Copy)]
pub struct Prepared {
    spec: Option<&'static CommandSpec>,
    key: Option<KeyHash>,
}

/// Resolves one command of a client's batch. Nothing here depends on what
/// the commands before it do.
#[inline]
pub fn prepare(shared: &Shared, client: &mut Client, args: &[&[u8]]) -> Prepared {
    debug_assert!(!args.is_empty());
    let spec = lookup_for(client, args[0]);
    let key = match (spec, args.get(1)) {
        (Some(spec), Some(key)) if spec.keys == Keys::ONE => Some(shared.db.hash_key(key)),
        _ => None,
    };
    Prepared { spec, key }
}

impl Prepared {
    /// The command, `None` if there is no such command.
    pub fn spec(&self) -> Option<&'static CommandSpec> {
        self.spec
    }
}

/// Looks the keys of a batch's one-key commands up before running any of
/// them (see `Db::warm`), so that their cache misses overlap instead of
/// stalling each command in turn.
pub fn warm<'a>(shared: &Shared, commands: impl Iterator<Item = (&'a [&'a [u8]], Prepared)>) {
    let keys: SmallVec<[(&[u8], KeyHash); 16]> =
        commands.filter_map(|(args, p)| Some((*args.get(1)?, p.key?))).collect();
    shared.db.warm(&keys);
}

/// Looks a command up through the client's one-entry cache.
pub fn lookup_for(client: &mut Client, name: &[u8]) -> Option<&'static CommandSpec> {
    client.lookup_cache.get(name).or_else(|| lookup(name).inspect(|s| client.lookup_cache.put(name, s)))
}

pub(crate) use transactions::end_multi;

/// Runs one command from a client at time `now_ms`. The reply is ready to
/// encode.
pub fn dispatch(shared: &Shared, client: &mut Client, args: &[&[u8]], now_ms: u64) -> Reply {
    let prepared = prepare(shared, client, args);
    dispatch_prepared(shared, client, args, prepared, now_ms)
}

/// [`dispatch`] of a command that [`prepare`] has resolved.
pub fn dispatch_prepared(
    shared: &Shared,
    client: &mut Client,
    args: &[&[u8]],
    prepared: Prepared,
    now_ms: u64,
) -> Reply {
    debug_assert!(!args.is_empty());
    let Some(spec) = prepared.spec else {
        if let Some(m) = client.multi.as_mut() {
            m.dirty = true;
        }
        return unknown_command(args);
    };
    client.last_cmd = spec.name;
    // Redis's order: existence, arity, then authentication.
    if !spec.arity_ok(args.len()) {
        if let Some(m) = client.multi.as_mut() {
            m.dirty = true;
        }
        return CmdError::WrongArity(spec.name.to_owned()).into();
    }
    if !client.authenticated && !spec.has(flag::NO_AUTH) {
        return Reply::error_static("NOAUTH Authentication required.");
    }
    if let Some(m) = client.multi.as_mut() {
        // Inside MULTI Redis refuses every command but these while memory
        // is over maxmemory, reads included: the queue itself grows. The
        // refusal fails the transaction like any other.
        if !matches!(spec.name, "exec" | "discard" | "quit" | "reset") && shared.db.ensure_memory(now_ms).is_err() {
            m.dirty = true;
            return CmdError::Oom.into();
        }
        if !spec.has(flag::NO_MULTI) {
            return transactions::queue(shared, client, args);
        }
    }
    run(shared, client, spec, args, prepared.key, now_ms)
}

/// Runs a command outside a transaction: evict if needed, lock, handle.
fn run(
    shared: &Shared,
    client: &mut Client,
    spec: &'static CommandSpec,
    args: &[&[u8]],
    key: Option<KeyHash>,
    now_ms: u64,
) -> Reply {
    if spec.has(flag::WRITE) || spec.has(flag::DENYOOM) {
        if let Err(oom) = shared.db.ensure_memory(now_ms) {
            if spec.has(flag::DENYOOM) {
                return CmdError::from(oom).into();
            }
        }
    }
    let db = match spec.keys {
        Keys::None => shared.db.lock_keys(std::iter::empty()),
        Keys::All => shared.db.lock_all(),
        Keys::ONE => match key {
            Some(hash) => shared.db.lock_key_hashed(args[1], hash),
            None => shared.db.lock_key(args[1]),
        },
        keys => shared.db.lock_keys(keys.of(args)),
    };
    let mut ctx = Ctx { db, shared, client, now_ms };
    let reply = (spec.handler)(&mut ctx, args).unwrap_or_else(Reply::from);
    if shared.journal {
        take_effects(&mut ctx.db, ctx.client, now_ms);
    }
    reply
}

/// In a replicated cluster: turns the keys the command gave a new version
/// into effects for replication, appended to `client.effects`. Runs while
/// `db` still holds the command's locks, so each state read here is the
/// one the command left.
pub(crate) fn take_effects(db: &mut Locked<'_>, client: &mut Client, now_ms: u64) {
    let mut keys = std::mem::take(&mut client.changed);
    db.take_changed(&mut keys);
    for key in keys.drain(..) {
        let k = key.as_bytes();
        let mut state = Vec::new();
        let Some((version, value)) = db.shard(k).key_state(k, now_ms, &mut state) else {
            continue;
        };
        let state = if value { State::Value(Bytes::from(state)) } else { State::Tombstone };
        client.effects.push((slot(k), Effect { key: key.to_bytes(), version, change: Change::Full(state) }));
    }
    client.changed = keys;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args<'a>(v: &[&'a str]) -> Vec<&'a [u8]> {
        v.iter().map(|s| s.as_bytes()).collect()
    }

    #[test]
    fn key_positions() {
        let a = args(&["mset", "a", "1", "b", "2"]);
        let keys: Vec<_> = Keys::Range { first: 1, last: -1, step: 2 }.of(&a).collect();
        assert_eq!(keys, vec![&b"a"[..], b"b"]);
        let a = args(&["get", "k"]);
        assert_eq!(Keys::ONE.of(&a).collect::<Vec<_>>(), vec![&b"k"[..]]);
        assert_eq!(Keys::None.of(&a).count(), 0);
        let a = args(&["lmove", "s", "d", "LEFT", "RIGHT"]);
        assert_eq!(Keys::Range { first: 1, last: 2, step: 1 }.of(&a).count(), 2);
        let a = args(&["del"]);
        assert_eq!(Keys::Range { first: 1, last: -1, step: 1 }.of(&a).count(), 0);
    }

    #[test]
    fn table_is_consistent() {
        for spec in all_commands() {
            assert!(spec.arity != 0, "{}", spec.name);
            assert!(!(spec.has(flag::WRITE) && spec.has(flag::READONLY)), "{}", spec.name);
            assert_eq!(lookup(spec.name.to_ascii_uppercase().as_bytes()).map(|s| s.name), Some(spec.name));
        }
    }
}
