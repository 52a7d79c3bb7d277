//! A connection's state as far as commands are concerned.

use std::sync::Arc;

use bytes::Bytes;
use ringcache_resp::Proto;
use ringcache_store::Key;
use ringcache_version::{Stamp, Version};

use crate::blocking::Block;
use crate::table::LookupCache;
use crate::{Caller, Env};

/// A MULTI in progress.
#[derive(Debug, Default)]
pub struct Multi {
    pub queued: Vec<Vec<Bytes>>,
    /// Bytes held by `queued`, bounded by the query buffer limit.
    pub queued_bytes: usize,
    /// A command failed to queue: EXEC will answer EXECABORT.
    pub dirty: bool,
}

/// One key a write left in a new state, with its new version, for
/// whoever keeps copies elsewhere (replication).
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The key's database.
    pub dbid: u16,
    /// The key's hash slot.
    pub slot: u16,
    pub key: Bytes,
    pub version: Version,
    /// The encoded value (see the store's codec), or `None` for a
    /// tombstone: the key is gone (deleted, expired or moved away).
    /// Unused (`None`) when `delta` is set.
    pub state: Option<Bytes>,
    /// For a command that changed a big collection in place: the stamp of
    /// the value it found and what it did (an encoded
    /// `ringcache_store::delta::DeltaOp`), which replication ships instead
    /// of the whole value (docs/replication.md, "Deltas").
    pub delta: Option<(Stamp, Bytes)>,
}

/// A collection changed in place ships as a delta from this many elements
/// on: a smaller one goes whole, which also brings any owner that was
/// behind up to date at no cost worth saving.
pub const DELTA_ELEMENTS_MIN: usize = 128;

/// The command layer's per-connection state: the protocol spoken, the
/// selected database, the transaction and watches in progress, and what the last command changed.
///
/// Generic over the node only for its lookup cache, which keeps a
/// reference to the command it found: a cache hit is then a compare of a
/// few bytes, with no table access at all.
#[derive(Debug)]
pub struct ClientState<E: Env> {
    pub proto: Proto,
    pub authenticated: bool,
    /// The SELECTed database: every key a command names is in it.
    pub dbid: u16,
    pub multi: Option<Multi>,
    /// WATCHed keys with their databases and their modification counts at
    /// WATCH time.
    pub watched: Vec<(u16, Bytes, u64)>,
    /// The last command run (lowercase).
    pub last_cmd: &'static str,
    pub(crate) lookup_cache: LookupCache<E>,
    /// The slots keyspace-wide reads (DBSIZE, KEYS, SCAN, RANDOMKEY) see;
    /// `None`: all. Set by a caller that splits such a read over several
    /// nodes, so that each key is counted by one node only.
    pub scope: Option<Arc<[bool]>>,
    /// With [`crate::Env::journal`]: every key the commands run so far
    /// changed, in the order they changed, each once per command. The
    /// caller takes them (and must, or they pile up).
    pub changes: Vec<Change>,
    /// Scratch for the keys a command changed, kept for its allocation.
    pub(crate) changed: Vec<(u16, Key, Option<Stamp>)>,
    /// Set by the caller for a command it can park (a client's own
    /// command, outside MULTI and scripts): a blocking command that finds
    /// nothing then leaves [`ClientState::block`] instead of answering.
    pub may_block: bool,
    /// What the command just run waits for (see `crate::blocking`); the
    /// caller takes it.
    pub block: Option<Block>,
    /// Keys, with their databases, that the commands run so far wrote
    /// while clients wait on them; the caller takes them and serves those
    /// clients once the write's locks are released.
    pub ready: Vec<(u16, Bytes)>,
    /// Who runs the command running now (set by [`crate::call`]): XREAD
    /// refuses `BLOCK` from a script, as Redis does.
    pub caller: Caller,
    /// Set by a handler whose error reply was counted already where it
    /// arose (a script failing with its command's error, Redis's
    /// `ERR_REPLY_FLAG_NO_STATS_UPDATE`); [`crate::call`] takes it into
    /// [`Ran::error_counted`](crate::Ran::error_counted).
    pub error_counted: bool,
    /// CLIENT NO-TOUCH: the commands it runs (a script's too) leave the
    /// LRU/LFU words of the keys they access alone; TOUCH still touches.
    pub no_touch: bool,
}

impl<E: Env> ClientState<E> {
    pub fn new(authenticated: bool) -> ClientState<E> {
        ClientState {
            proto: Proto::Resp2,
            authenticated,
            dbid: 0,
            multi: None,
            watched: Vec::new(),
            last_cmd: "NULL",
            lookup_cache: LookupCache::default(),
            scope: None,
            changes: Vec::new(),
            changed: Vec::new(),
            may_block: false,
            block: None,
            ready: Vec::new(),
            caller: Caller::Client,
            error_counted: false,
            no_touch: false,
        }
    }

    /// Commands queued in MULTI, or -1 outside MULTI (CLIENT LIST).
    pub fn multi_len(&self) -> i64 {
        self.multi.as_ref().map_or(-1, |m| m.queued.len() as i64)
    }
}

impl<E: Env> AsMut<ClientState<E>> for ClientState<E> {
    fn as_mut(&mut self) -> &mut ClientState<E> {
        self
    }
}

impl<E: Env> AsRef<ClientState<E>> for ClientState<E> {
    fn as_ref(&self) -> &ClientState<E> {
        self
    }
}
