//! CLIENT PAUSE: this node's clients stop running commands (all of them,
//! or those that may write) until a deadline or CLIENT UNPAUSE, as in
//! Redis 7.2.
//!
//! Invariants:
//! - A command is held back before it runs or is queued in MULTI, after
//!   the checks that answer at once (arity, NOAUTH, a RESP2 subscriber's
//!   context), as Redis's `processCommand` orders them; the commands a
//!   client sent after it wait behind it, so its replies keep their order.
//! - A paused client costs no CPU and holds no lock: it awaits the end of
//!   the pause (its deadline, or a wake-up from UNPAUSE). It counts in
//!   INFO `blocked_clients` meanwhile.
//! - Two pauses merge into the longer and the more restrictive: a later
//!   `PAUSE 10 WRITE` neither shortens nor loosens an earlier `PAUSE
//!   60000 ALL`.
//! - While a pause lasts, keys are neither expired (a read finds an
//!   expired key missing but it stays, uncounted, until the pause ends)
//!   nor evicted, so the data set stands still, as Redis keeps it.
//! - What other nodes send is never paused: forwarded commands and
//!   replication are those nodes' clients' (each node pauses its own).
//!
//! With no pause, checking costs one relaxed load per command.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::Notify;

use ringcache_store::Db;

use crate::client::Client;
use crate::cmd::{self, CommandSpec};
use crate::shared::Shared;

/// One pause in force.
#[derive(Debug, Clone, Copy)]
struct State {
    until: Instant,
    /// ALL (every command) rather than WRITE (those that may write).
    all: bool,
}

#[derive(Debug, Default)]
pub struct Pause {
    /// Whether a pause may be in force: the commands' fast path.
    on: AtomicBool,
    state: Mutex<Option<State>>,
    /// Wakes the paused clients at CLIENT UNPAUSE (each also wakes at the
    /// deadline it saw, and looks again).
    ended: Notify,
    /// Clients waiting now (INFO `blocked_clients`).
    waiting: AtomicUsize,
}

impl Pause {
    /// CLIENT PAUSE for `timeout`, every command (`all`) or only writes.
    pub fn pause(&self, db: &Db, timeout: Duration, all: bool) {
        let now = Instant::now();
        let until = now.checked_add(timeout).unwrap_or(now + Duration::from_secs(100 * 365 * 86_400));
        let mut state = self.state.lock();
        *state = match *state {
            Some(old) if old.until > now => Some(State { until: old.until.max(until), all: old.all || all }),
            // PAUSE 0 with no pause in force: over before it began.
            _ if timeout.is_zero() => return,
            _ => Some(State { until, all }),
        };
        self.on.store(true, Relaxed);
        db.set_frozen(true);
        drop(state);
        // A waiter that saw a shorter pause sleeps until its end, then
        // looks again: nothing to wake here.
    }

    /// CLIENT UNPAUSE: every paused client goes on at once.
    pub fn unpause(&self, db: &Db) {
        *self.state.lock() = None;
        self.on.store(false, Relaxed);
        db.set_frozen(false);
        self.ended.notify_waiters();
    }

    /// The pause in force now, if any (ending one whose time is up, which
    /// thaws expiry and eviction).
    fn current(&self, db: &Db) -> Option<State> {
        if !self.on.load(Relaxed) {
            return None;
        }
        let mut state = self.state.lock();
        match *state {
            Some(s) if Instant::now() < s.until => Some(s),
            _ => {
                *state = None;
                self.on.store(false, Relaxed);
                db.set_frozen(false);
                None
            }
        }
    }

    /// Whether a pause is in force; ends one whose time is up. The
    /// server's cron calls it before each expiry cycle, so expiry and
    /// eviction resume within a cycle of a pause's deadline.
    #[inline]
    pub fn is_paused(&self, db: &Db) -> bool {
        self.on.load(Relaxed) && self.current(db).is_some()
    }

    /// Whether a pause may be in force (one relaxed load): the commands'
    /// fast path, before [`holds`](Self::holds).
    #[inline]
    pub fn may_hold(&self) -> bool {
        self.on.load(Relaxed)
    }

    /// Whether `client`'s command `args` (of `spec`, known and with the
    /// right arity) must wait for the pause to end before it runs.
    #[inline]
    pub fn holds(&self, shared: &Shared, client: &Client, spec: &CommandSpec, args: &[&[u8]]) -> bool {
        if !self.on.load(Relaxed) {
            return false;
        }
        self.current(&shared.db).is_some_and(|s| s.all || may_write(shared, client, spec, args))
    }

    /// Waits for the pause in force to end: at its deadline (as extended
    /// meanwhile) or at UNPAUSE. The caller checks again: a new pause may
    /// have begun since.
    pub async fn wait(&self, db: &Db) {
        let _waiting = Waiting::new(&self.waiting);
        loop {
            let ended = self.ended.notified();
            let Some(s) = self.current(db) else { return };
            tokio::select! {
                _ = ended => return,
                _ = tokio::time::sleep_until(s.until.into()) => {}
            }
        }
    }

    /// Clients paused now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Relaxed)
    }
}

/// Counts one paused client while it lives.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn new(n: &'a AtomicUsize) -> Waiting<'a> {
        n.fetch_add(1, Relaxed);
        Waiting(n)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}

/// Whether a command may write (Redis's "may-replicate"), which CLIENT
/// PAUSE WRITE holds back: a write command; PUBLISH, SPUBLISH and PFCOUNT
/// (which may rewrite its sketch); a script or function not flagged
/// `no-writes`; and EXEC of a transaction queuing any of those.
fn may_write(shared: &Shared, client: &Client, spec: &CommandSpec, args: &[&[u8]]) -> bool {
    match spec.name {
        "exec" => client.state.multi.as_ref().is_some_and(|m| {
            m.queued.iter().any(|q| {
                let views: Vec<&[u8]> = q.iter().map(|a| &a[..]).collect();
                views.first().and_then(|n| cmd::lookup(n)).is_some_and(|s| may_write(shared, client, s, &views))
            })
        }),
        name if ringcache_scripting::runs_script(name) => shared.scripting.may_write(name, args),
        name => spec.has(cmd::flag::WRITE) || ringcache_commands::may_replicate(name),
    }
}
