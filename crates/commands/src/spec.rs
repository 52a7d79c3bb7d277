//! What a command is: its flags, where its keys are, its handler, and the
//! errors a handler returns.

use std::fmt;

use ringcache_resp::Reply;
use ringcache_store::{Locked, Oom, Shard, WrongType};

use crate::env::Env;

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
    /// May wait for a key to be written (BLPOP ...).
    pub const BLOCKING: u32 = 1 << 11;

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
        (BLOCKING, "blocking"),
    ];
}

/// Whether a command that is not a write is one of Redis's
/// "may-replicate" commands (PUBLISH, SPUBLISH, PFCOUNT): a read-only
/// script may not run them, and CLIENT PAUSE WRITE holds them back, as it
/// does writes (scripts that may write are decided by their flags).
pub fn may_replicate(name: &str) -> bool {
    matches!(name, "publish" | "spublish" | "pfcount")
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
    /// A key count then that many keys, as in `ZUNIONSTORE dest numkeys
    /// key...` or `LMPOP numkeys key...`: the arguments `1..at` are keys
    /// too (the destination), `args[at]` is the count and the `count`
    /// arguments after it are keys. A count that is not a positive
    /// integer, or runs past the end, gives the fixed keys only: the
    /// handler refuses such a command anyway.
    Numkeys {
        at: usize,
    },
    /// The key at 1, and the argument after the last `STORE` or
    /// `STOREDIST` (any case) at `from` or later, as Redis's
    /// `georadiusGetKeys` finds GEORADIUS's destination.
    Store {
        from: usize,
    },
    /// A key count at `args[at]` then that many keys, with no fixed keys
    /// before it: `EVAL script numkeys key... arg...`, `FCALL`. A count
    /// that is not a positive integer, or runs past the end, gives none.
    Counted {
        at: usize,
    },
    /// XREAD's and XREADGROUP's: the first half of the arguments after
    /// the `STREAMS` keyword, found as Redis's `xreadGetKeys` finds it
    /// (skipping `BLOCK`/`COUNT` values and `GROUP`'s two). None when
    /// there is no such keyword or an odd number of arguments follows it.
    Streams,
    /// The whole keyspace (KEYS, SCAN, FLUSHALL, DBSIZE, INFO ...).
    All,
    /// SORT's: the sorted key, then the `STORE` destination when `store`
    /// (SORT, not SORT_RO) and one is given. The keys its `BY`/`GET`
    /// patterns name are not declared: the dispatcher locks them apart.
    Sort {
        store: bool,
    },
}

impl Keys {
    /// Shorthand for the common one-key-at-position-1 case.
    pub const ONE: Keys = Keys::Range { first: 1, last: 1, step: 1 };

    /// The key arguments of `args`. Arguments past the end are ignored
    /// (arity has already been checked).
    pub fn of<'a, A: AsRef<[u8]>>(&self, args: &'a [A]) -> impl Iterator<Item = &'a [u8]> + 'a {
        let none: &'a [A] = &[];
        let (fixed, counted, step) = match *self {
            Keys::Range { first, last, step } => {
                let last = if last < 0 { args.len() as isize + last } else { last };
                let end = if last < 0 { 0 } else { (last as usize + 1).min(args.len()) };
                (none, args.get(first.min(end)..end).unwrap_or(none), step.max(1))
            }
            Keys::Numkeys { at } => {
                let fixed = args.get(1..at.min(args.len())).unwrap_or(none);
                let count = args
                    .get(at)
                    .and_then(|n| crate::args::parse_i64(n.as_ref()))
                    .and_then(|n| usize::try_from(n).ok())
                    .filter(|&n| n > 0 && n < args.len() - at);
                let counted = count.map_or(none, |n| &args[at + 1..at + 1 + n]);
                (fixed, counted, 1)
            }
            Keys::Store { from } => {
                let fixed = args.get(1..2).unwrap_or(none);
                let mut dst = None;
                let mut i = from;
                while i + 1 < args.len() {
                    let a = args[i].as_ref();
                    if a.eq_ignore_ascii_case(b"store") || a.eq_ignore_ascii_case(b"storedist") {
                        dst = Some(i + 1);
                        i += 1;
                    }
                    i += 1;
                }
                (fixed, dst.map_or(none, |d| &args[d..d + 1]), 1)
            }
            Keys::Sort { store } => {
                let key = args.get(1..2.min(args.len())).unwrap_or(none);
                let dest = if store { crate::sort::store_index(args) } else { None };
                let dest = dest.map_or(none, |i| &args[i..=i]);
                (key, dest, 1)
            }
            Keys::Counted { at } => {
                let count = args
                    .get(at)
                    .and_then(|n| crate::args::parse_i64(n.as_ref()))
                    .and_then(|n| usize::try_from(n).ok())
                    .filter(|&n| n > 0 && n < args.len() - at);
                (none, count.map_or(none, |n| &args[at + 1..at + 1 + n]), 1)
            }
            Keys::Streams => {
                let mut at = None;
                let mut i = 1;
                while i < args.len() {
                    let a = args[i].as_ref();
                    if a.eq_ignore_ascii_case(b"block") || a.eq_ignore_ascii_case(b"count") {
                        i += 1;
                    } else if a.eq_ignore_ascii_case(b"group") {
                        i += 2;
                    } else if a.eq_ignore_ascii_case(b"streams") {
                        at = Some(i);
                        break;
                    } else if !a.eq_ignore_ascii_case(b"noack") {
                        break;
                    }
                    i += 1;
                }
                let keys = at.and_then(|at| {
                    let n = args.len() - at - 1;
                    (n > 0 && n.is_multiple_of(2)).then(|| &args[at + 1..at + 1 + n / 2])
                });
                (none, keys.unwrap_or(none), 1)
            }
            Keys::None | Keys::All => (none, none, 1),
        };
        fixed.iter().chain(counted.iter().step_by(step)).map(AsRef::as_ref)
    }

    /// The legacy `(first, last, step)` triple COMMAND INFO reports, as
    /// Redis derives it: a `numkeys` command reports only its fixed keys
    /// (`0 0 0` without any).
    pub fn legacy_range(&self) -> (i64, i64, i64) {
        match *self {
            Keys::Range { first, last, step } => (first as i64, last as i64, step as i64),
            Keys::Numkeys { at } if at > 1 => (1, at as i64 - 1, 1),
            Keys::Store { .. } => (1, 1, 1),
            Keys::Sort { .. } => (1, 1, 1),
            Keys::Numkeys { .. } | Keys::Counted { .. } | Keys::None | Keys::All => (0, 0, 0),
            // Redis's XREAD and XREADGROUP report no fixed range.
            Keys::Streams => (0, 0, 0),
        }
    }
}

/// What a handler gets: the locked shards of its keys, the node, its own
/// connection, and the time (read once per command).
pub struct Ctx<'a, E: Env> {
    pub db: Locked<'a>,
    pub shared: &'a E,
    pub client: &'a mut E::Client,
    pub now_ms: u64,
}

impl<E: Env> fmt::Debug for Ctx<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ctx").field("now_ms", &self.now_ms).finish_non_exhaustive()
    }
}

impl<E: Env> Ctx<'_, E> {
    /// The shard holding `key` (which the command declared).
    pub fn shard(&mut self, key: &[u8]) -> &mut Shard {
        self.db.shard(key)
    }

    /// The command-layer state of the calling connection.
    pub fn state(&mut self) -> &mut crate::ClientState<E> {
        self.client.as_mut()
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
pub type Handler<E> = fn(&mut Ctx<'_, E>, &[&[u8]]) -> CmdResult;

/// A command's static description.
pub struct CommandSpec<E: Env> {
    /// Lowercase name.
    pub name: &'static str,
    /// Redis arity: N = exactly N arguments (with the name), -N = at least N.
    pub arity: i32,
    pub flags: u32,
    pub keys: Keys,
    /// Redis's command group (COMMAND DOCS): "string", "generic", ...
    pub group: &'static str,
    pub summary: &'static str,
    pub handler: Handler<E>,
}

/// A subcommand of a container command (`OBJECT ENCODING`, `XGROUP
/// CREATE`, `CONFIG GET`), as Redis 7 names and checks it: the dispatcher
/// refuses an unknown one and checks a known one's arity before the
/// container's handler runs, and the node counts its calls under its own
/// name (INFO commandstats `cmdstat_object|encoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubSpec {
    /// Full lowercase name, `container|sub`.
    pub name: &'static str,
    /// Redis arity, counting the container and the subcommand.
    pub arity: i32,
    /// Its own flags (Redis's `command_flags` of the subcommand).
    pub flags: u32,
    pub summary: &'static str,
}

/// Whether `argc` arguments (the name included) meet Redis's `arity`: at
/// least `-arity` when negative, exactly `arity` otherwise.
fn arity_ok(arity: i32, argc: usize) -> bool {
    let argc = argc as i32;
    if arity >= 0 {
        argc == arity
    } else {
        argc >= -arity
    }
}

impl SubSpec {
    /// The part after `|`.
    pub fn short(&self) -> &'static str {
        self.name.split_once('|').map_or(self.name, |(_, s)| s)
    }

    pub fn arity_ok(&self, argc: usize) -> bool {
        arity_ok(self.arity, argc)
    }
}

// By hand: a derive would ask `E: Clone`, and only the handler mentions E.
impl<E: Env> Clone for CommandSpec<E> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<E: Env> Copy for CommandSpec<E> {}

impl<E: Env> fmt::Debug for CommandSpec<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommandSpec").field("name", &self.name).finish()
    }
}

impl<E: Env> CommandSpec<E> {
    pub fn has(&self, f: u32) -> bool {
        self.flags & f != 0
    }

    pub fn arity_ok(&self, argc: usize) -> bool {
        arity_ok(self.arity, argc)
    }
}
