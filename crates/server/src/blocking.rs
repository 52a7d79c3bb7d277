//! Clients blocked on keys (BLPOP, BZPOPMIN, XREAD BLOCK, ...), and
//! serving them when a write gives those keys values.
//!
//! A blocking command that finds its keys empty leaves a `Block` (see
//! `ringcache_commands::blocking`); its connection registers a [`Waiter`]
//! on each key and parks on the waiter's `Notify`: no lock, no task, no
//! CPU while it waits. A write to a key that someone waits on is recorded
//! in the writer's `ClientState::ready` (under the write's locks); once
//! those locks are released the writer's connection calls [`serve`], which
//! runs each waiting command again, for its client, in the order the
//! clients blocked (FIFO per key, as Redis), on the writer's thread and
//! before the writer's own reply is sent, so that whoever sees the write
//! also sees the blocked clients served, as with Redis. A served command
//! may write keys others wait on (BLMOVE); those are served in the same
//! call.
//!
//! Invariants:
//! - A waiter is served at most once: [`Waiter::claim`] moves it from
//!   `Blocked` to `Serving`, and only the one that claimed it may finish
//!   it. A timeout, CLIENT UNBLOCK or a disconnect that finds it being
//!   served waits for that to end (it takes microseconds).
//! - No write is missed: a waiter is registered before its keys are
//!   checked again ([`block`] serves them once right away), and a writer
//!   looks for waiters while it still holds its keys' locks.
//! - What a served command wrote goes through the journal like any
//!   command's: its changes are submitted to replication by [`serve`], and
//!   its client's reply waits for them as usual.
//! - A waiter leaves every key's queue when it is served, times out, is
//!   unblocked, or its client goes away.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use bytes::Bytes;
use dashmap::DashMap;
use parking_lot::Mutex;
use ringcache_commands::{Block, BlockKind};
use ringcache_resp::{Proto, Reply};
use ringcache_transport::NodeId;
use tokio::sync::Notify;

use crate::client::{Client, ClientInfo};
use crate::cluster::replicate::{self, Submitted};
use crate::cmd;
use crate::shared::Shared;

/// What `CLIENT UNBLOCK ... ERROR` answers the blocked client.
pub const UNBLOCKED_ERROR: &str = "UNBLOCKED client unblocked via CLIENT UNBLOCK";

/// How a wait ended.
#[derive(Debug)]
pub enum Outcome {
    /// The command ran: its reply, and its writes on their way to the
    /// other owners.
    Served(Reply, Submitted),
    /// Its timeout passed, or CLIENT UNBLOCK ... TIMEOUT.
    TimedOut,
    /// CLIENT UNBLOCK ... ERROR.
    Unblocked,
    /// Its client left (disconnect, kill, shutdown).
    Gone,
}

#[derive(Debug)]
enum Phase {
    Blocked,
    Serving,
    Done(Outcome),
    Taken,
}

/// One blocked client: its command, to run again, and how its wait ends.
#[derive(Debug)]
pub struct Waiter {
    pub client_id: u64,
    /// For a command another node forwarded (`cluster::blocking`): that
    /// node; its client ids are its own, so they are kept apart.
    origin: Option<NodeId>,
    info: Arc<ClientInfo>,
    dbid: u16,
    proto: Proto,
    args: Vec<Bytes>,
    keys: Vec<Bytes>,
    kind: BlockKind,
    pub timeout_ms: u64,
    pub timeout_reply: Reply,
    phase: Mutex<Phase>,
    notify: Notify,
    /// In the queues and maps of [`Blocked`] (and counted there).
    registered: std::sync::atomic::AtomicBool,
}

impl Waiter {
    /// Takes the right to run the command: only a waiter still blocked.
    fn claim(&self) -> bool {
        let mut phase = self.phase.lock();
        if matches!(*phase, Phase::Blocked) {
            *phase = Phase::Serving;
            true
        } else {
            false
        }
    }

    /// After a claim: the command ran (`Some`) or waits again (`None`).
    /// Wakes the client either way: a timeout that came meanwhile applies
    /// now.
    fn finish(&self, outcome: Option<Outcome>) {
        let mut phase = self.phase.lock();
        debug_assert!(matches!(*phase, Phase::Serving));
        *phase = match outcome {
            Some(o) => Phase::Done(o),
            None => Phase::Blocked,
        };
        drop(phase);
        self.notify.notify_one();
    }

    /// Ends a wait that is still blocked with `outcome` (timeout, unblock,
    /// gone); `false` if it was being served or already done.
    fn end(&self, outcome: Outcome) -> bool {
        let mut phase = self.phase.lock();
        if !matches!(*phase, Phase::Blocked) {
            return false;
        }
        *phase = Phase::Done(outcome);
        drop(phase);
        self.notify.notify_one();
        true
    }

    /// The outcome, once there is one (taken once).
    fn take(&self) -> Option<Outcome> {
        let mut phase = self.phase.lock();
        match std::mem::replace(&mut *phase, Phase::Taken) {
            Phase::Done(o) => Some(o),
            other => {
                *phase = other;
                None
            }
        }
    }

    /// The command waiting (lowercase name), for CLIENT LIST.
    pub fn command(&self) -> &[u8] {
        &self.args[0]
    }

    /// The command it runs again when woken.
    pub fn args(&self) -> &[Bytes] {
        &self.args
    }
}

/// One key's waiters in one database, oldest first.
type Queue = (u16, VecDeque<Arc<Waiter>>);

/// Every blocked client, by key and by client id.
#[derive(Debug, Default)]
pub struct Blocked {
    /// Waiters, for the write path's one-load check.
    count: AtomicUsize,
    /// Per key: per database, its waiters in the order they blocked.
    queues: DashMap<Bytes, Vec<Queue>>,
    by_client: DashMap<u64, Arc<Waiter>>,
    /// Commands forwarded by other nodes, by (node, its client id).
    remote: DashMap<(NodeId, u64), Arc<Waiter>>,
}

impl Blocked {
    /// How many clients are blocked (INFO `blocked_clients`).
    pub fn len(&self) -> usize {
        self.count.load(SeqCst)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many keys (per database) clients wait on, and how many of
    /// those a waiter there wants to hear of even if deleted (XREADGROUP):
    /// INFO's `total_blocking_keys` and `total_blocking_keys_on_nokey`.
    pub fn blocking_keys(&self) -> (usize, usize) {
        if self.is_empty() {
            return (0, 0);
        }
        let (mut keys, mut on_nokey) = (0, 0);
        for e in self.queues.iter() {
            for (_, q) in e.value().iter().filter(|(_, q)| !q.is_empty()) {
                keys += 1;
                on_nokey += usize::from(q.iter().any(|w| w.kind.wakes_on_any_type()));
            }
        }
        (keys, on_nokey)
    }

    /// Whether a client waits on `key` of `dbid`.
    pub fn awaited(&self, dbid: u16, key: &[u8]) -> bool {
        !self.is_empty() && self.queues.get(key).is_some_and(|q| q.iter().any(|(d, w)| *d == dbid && !w.is_empty()))
    }

    /// Every key of `dbid` that a client waits on.
    pub fn awaited_keys(&self, dbid: u16) -> Vec<Bytes> {
        if self.is_empty() {
            return Vec::new();
        }
        self.queues.iter().filter(|e| e.value().iter().any(|(d, _)| *d == dbid)).map(|e| e.key().clone()).collect()
    }

    fn register(&self, w: &Arc<Waiter>) {
        w.registered.store(true, SeqCst);
        // Counted first: a writer that finds the count at zero has
        // finished with its keys before this waiter looks at them again.
        self.count.fetch_add(1, SeqCst);
        for key in &w.keys {
            let mut queues = self.queues.entry(key.clone()).or_default();
            match queues.iter_mut().find(|(d, _)| *d == w.dbid) {
                Some((_, q)) => q.push_back(w.clone()),
                None => queues.push((w.dbid, VecDeque::from([w.clone()]))),
            }
        }
        match &w.origin {
            None => {
                self.by_client.insert(w.client_id, w.clone());
                w.info.blocked.store(true, SeqCst);
            }
            Some(node) => {
                // A round that replaced one its node gave up on: the old
                // one leaves.
                if let Some(old) = self.remote.insert((node.clone(), w.client_id), w.clone()) {
                    old.end(Outcome::Gone);
                    self.unregister(&old);
                }
            }
        }
    }

    fn unregister(&self, w: &Arc<Waiter>) {
        if !w.registered.swap(false, SeqCst) {
            return;
        }
        match &w.origin {
            None => {
                self.by_client.remove_if(&w.client_id, |_, v| Arc::ptr_eq(v, w));
                w.info.blocked.store(false, SeqCst);
            }
            Some(node) => {
                self.remote.remove_if(&(node.clone(), w.client_id), |_, v| Arc::ptr_eq(v, w));
            }
        }
        for key in &w.keys {
            if let dashmap::Entry::Occupied(mut e) = self.queues.entry(key.clone()) {
                for (_, q) in e.get_mut().iter_mut() {
                    q.retain(|x| !Arc::ptr_eq(x, w));
                }
                e.get_mut().retain(|(_, q)| !q.is_empty());
                if e.get().is_empty() {
                    e.remove();
                }
            }
        }
        self.count.fetch_sub(1, SeqCst);
    }

    /// The waiters on `key` of `dbid`, oldest first.
    fn waiters(&self, dbid: u16, key: &[u8]) -> Vec<Arc<Waiter>> {
        self.queues
            .get(key)
            .and_then(|q| q.iter().find(|(d, _)| *d == dbid).map(|(_, q)| q.iter().cloned().collect()))
            .unwrap_or_default()
    }

    /// The waiter of client `id`, if it is blocked.
    pub fn of_client(&self, id: u64) -> Option<Arc<Waiter>> {
        self.by_client.get(&id).map(|w| w.clone())
    }
}

/// Parks `client` on `block`, for its command `args`: registers it, then
/// serves its keys once, in case a write came between its attempt and the
/// registration. The connection then awaits [`wait`].
pub fn block(shared: &Shared, client: &Client, block: Block, args: &[&[u8]]) -> Arc<Waiter> {
    park(shared, client, block, args, None)
}

/// [`block`] for a command that node `origin` forwarded for its client
/// (`client.id` is that node's id for it).
pub fn block_remote(shared: &Shared, client: &Client, block: Block, args: &[&[u8]], origin: NodeId) -> Arc<Waiter> {
    park(shared, client, block, args, Some(origin))
}

/// Node `origin`'s client `id` no longer waits here.
pub fn cancel_remote(shared: &Shared, origin: &NodeId, id: u64) {
    let w = shared.blocked.remote.get(&(origin.clone(), id)).map(|w| w.clone());
    if let Some(w) = w {
        leave(shared, &w);
    }
}

/// A waiter for a client that is parked elsewhere in this node: a
/// blocking command forwarded to another node, waiting there
/// (`cluster::blocking`). It is on no key's queue: it only counts as
/// blocked here (INFO, CLIENT LIST) and takes CLIENT UNBLOCK.
pub fn proxy(shared: &Shared, client: &Client, args: &[Bytes]) -> Arc<Waiter> {
    let w = Arc::new(Waiter {
        client_id: client.id,
        origin: None,
        info: client.info.clone(),
        dbid: client.state.dbid,
        proto: client.state.proto,
        args: args.to_vec(),
        keys: Vec::new(),
        kind: BlockKind::List,
        timeout_ms: 0,
        timeout_reply: Reply::Null,
        phase: Mutex::new(Phase::Blocked),
        notify: Notify::new(),
        registered: std::sync::atomic::AtomicBool::new(false),
    });
    shared.blocked.register(&w);
    w
}

fn park(shared: &Shared, client: &Client, block: Block, args: &[&[u8]], origin: Option<NodeId>) -> Arc<Waiter> {
    let args = block.rerun.unwrap_or_else(|| args.iter().map(|a| Bytes::copy_from_slice(a)).collect());
    let w = Arc::new(Waiter {
        client_id: client.id,
        origin,
        info: client.info.clone(),
        dbid: client.state.dbid,
        proto: client.state.proto,
        args,
        keys: block.keys,
        kind: block.kind,
        timeout_ms: block.timeout_ms,
        timeout_reply: block.timeout_reply,
        phase: Mutex::new(Phase::Blocked),
        notify: Notify::new(),
        registered: std::sync::atomic::AtomicBool::new(false),
    });
    shared.blocked.register(&w);
    let mut ready: Vec<(u16, Bytes)> = w.keys.iter().map(|k| (w.dbid, k.clone())).collect();
    serve(shared, &mut ready);
    w
}

/// Waits for `w`'s outcome, up to its timeout. Cancel-safe: a wait
/// dropped before its outcome must be followed by [`leave`].
pub async fn wait(shared: &Shared, w: &Arc<Waiter>, deadline: Option<tokio::time::Instant>) -> Outcome {
    loop {
        if let Some(outcome) = w.take() {
            shared.blocked.unregister(w);
            return outcome;
        }
        match deadline {
            Some(d) => {
                if tokio::time::timeout_at(d, w.notify.notified()).await.is_err() && !w.end(Outcome::TimedOut) {
                    // Being served: wait for that to end (it notifies).
                    w.notify.notified().await;
                }
            }
            None => w.notify.notified().await,
        }
    }
}

/// Its client left while `w` waited: out of every queue (after a serve in
/// progress, whose pop then is not answered to anyone, as in Redis when
/// the reply cannot be written).
pub fn leave(shared: &Shared, w: &Arc<Waiter>) {
    w.end(Outcome::Gone);
    shared.blocked.unregister(w);
}

/// CLIENT UNBLOCK: ends client `id`'s wait as a timeout or with an
/// error; whether it was blocked.
pub fn unblock(shared: &Shared, id: u64, error: bool) -> bool {
    let Some(w) = shared.blocked.of_client(id) else { return false };
    w.end(if error { Outcome::Unblocked } else { Outcome::TimedOut })
}

/// Serves the clients waiting on the `ready` keys (drained), and on what
/// serving them wrote.
pub fn serve(shared: &Shared, ready: &mut Vec<(u16, Bytes)>) {
    if ready.is_empty() {
        return;
    }
    let mut work: VecDeque<(u16, Bytes)> = ready.drain(..).collect();
    while let Some((dbid, key)) = work.pop_front() {
        for w in shared.blocked.waiters(dbid, &key) {
            // As Redis: a waiter wakes only for a key of its type; a key
            // that is gone (or emptied by the waiters before) serves none,
            // but XREADGROUP, which then fails (its group is gone).
            if !w.kind.wakes_on_any_type() && type_of(shared, dbid, &key) != Some(w.kind.type_name()) {
                continue;
            }
            if !w.claim() {
                continue;
            }
            let outcome = run_for(shared, &w, &mut work);
            if outcome.is_some() {
                // Before its client can see the outcome (and block anew).
                shared.blocked.unregister(&w);
            }
            w.finish(outcome);
        }
    }
}

/// Serves the XREADGROUPs whose stream is gone without a write that
/// reported it (it expired): they fail with `-NOGROUP`, as Redis fails
/// them when it deletes an expired key. Called by the background cycle;
/// costs nothing while no XREADGROUP waits.
pub fn serve_vanished(shared: &Shared) {
    let blocked = &shared.blocked;
    if blocked.is_empty() {
        return;
    }
    // Collected first: the key locks are not taken under the map's.
    let candidates: Vec<(u16, Bytes)> = blocked
        .queues
        .iter()
        .flat_map(|e| {
            let key = e.key().clone();
            e.value()
                .iter()
                .filter(|(_, q)| q.iter().any(|w| w.kind.wakes_on_any_type()))
                .map(|(d, _)| (*d, key.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    let mut ready: Vec<(u16, Bytes)> = candidates
        .into_iter()
        .filter(|(d, k)| type_of(shared, *d, k) != Some(BlockKind::StreamGroup.type_name()))
        .collect();
    serve(shared, &mut ready);
}

/// The type of the value at `key` of `dbid` (`Value::type_name`), if any.
fn type_of(shared: &Shared, dbid: u16, key: &[u8]) -> Option<&'static str> {
    let now = ringcache_store::now_ms();
    let mut locked = shared.db.lock_key(key);
    let found = locked.shard_in(dbid, key).peek(key, now).map(|e| e.value().type_name());
    found
}

/// Runs `w`'s command again, as its client; `None` if it found nothing
/// and waits on. Keys it wrote that others wait on join `work`.
fn run_for(shared: &Shared, w: &Waiter, work: &mut VecDeque<(u16, Bytes)>) -> Option<Outcome> {
    let mut client = Client::new(w.info.clone(), true);
    client.rerun = true;
    client.state.proto = w.proto;
    client.state.dbid = w.dbid;
    client.state.may_block = true;
    let views: Vec<&[u8]> = w.args.iter().map(|a| &a[..]).collect();
    let now_ms = ringcache_store::now_ms();
    let prepared = cmd::prepare(shared, &mut client, &views);
    let reply = crate::connection::run_notified(shared, &mut client, &views, prepared, now_ms);
    if client.state.block.take().is_some() {
        // It waits on; what it wrote (a consumer it created again)
        // replicates unanswered.
        let _ = replicate::submit(shared, &mut client);
        return None;
    }
    work.extend(client.state.ready.drain(..));
    let submitted = replicate::submit(shared, &mut client);
    Some(Outcome::Served(reply, submitted))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn client(shared: &Shared, db: u16) -> Client {
        let addr = "127.0.0.1:1".parse().expect("valid address");
        let info = shared.clients.register(addr, addr, 100).expect("room");
        let mut c = Client::new(info, true);
        c.state.dbid = db;
        c
    }

    fn run(shared: &Shared, c: &mut Client, args: &[&str]) -> Reply {
        let views: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        c.state.may_block = true;
        let reply = cmd::dispatch(shared, c, &views, ringcache_store::now_ms());
        c.state.may_block = false;
        reply
    }

    /// Blocks `c` on `args` (which must find nothing).
    fn park(shared: &Shared, c: &mut Client, args: &[&str]) -> Arc<Waiter> {
        run(shared, c, args);
        let b = c.state.block.take().expect("it blocks");
        let views: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        block(shared, c, b, &views)
    }

    fn served(w: &Waiter) -> Option<Reply> {
        match w.take() {
            Some(Outcome::Served(reply, _)) => Some(reply),
            None => None,
            Some(other) => panic!("{other:?}"),
        }
    }

    fn bulk(s: &str) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn waiters_are_served_in_the_order_they_blocked() {
        let shared = Shared::new(Config::for_test());
        let (mut a, mut b, mut w) = (client(&shared, 0), client(&shared, 0), client(&shared, 0));
        let wa = park(&shared, &mut a, &["blpop", "k", "0"]);
        let wb = park(&shared, &mut b, &["brpop", "other", "k", "0"]);
        assert_eq!(shared.blocked.len(), 2);
        assert!(shared.blocked.awaited(0, b"k") && !shared.blocked.awaited(1, b"k"));

        run(&shared, &mut w, &["rpush", "k", "1"]);
        assert_eq!(w.state.ready, vec![(0, Bytes::from_static(b"k"))]);
        serve(&shared, &mut w.state.ready);
        assert_eq!(served(&wa), Some(Reply::Array(vec![bulk("k"), bulk("1")])), "the first to block");
        assert_eq!(served(&wb), None, "nothing left for the second");
        assert_eq!(shared.blocked.len(), 1);

        // A write of another type wakes nobody.
        run(&shared, &mut w, &["set", "other", "x"]);
        serve(&shared, &mut w.state.ready);
        assert_eq!(served(&wb), None);
        // Once k has an element the command runs again, and meets the
        // string first, as in Redis.
        run(&shared, &mut w, &["rpush", "k", "2", "3"]);
        serve(&shared, &mut w.state.ready);
        let wrongtype = Reply::error_static("WRONGTYPE Operation against a key holding the wrong kind of value");
        assert_eq!(served(&wb), Some(wrongtype));
        assert_eq!(run(&shared, &mut w, &["llen", "k"]), Reply::Integer(2), "nothing popped");
        assert!(shared.blocked.is_empty());
        assert!(!shared.blocked.awaited(0, b"k"));
    }

    #[test]
    fn waiters_of_another_type_are_passed_over_not_stopped_at() {
        let shared = Shared::new(Config::for_test());
        let (mut a, mut b, mut w) = (client(&shared, 0), client(&shared, 0), client(&shared, 0));
        let wa = park(&shared, &mut a, &["blpop", "k", "0"]);
        let wb = park(&shared, &mut b, &["bzpopmin", "k", "0"]);
        run(&shared, &mut w, &["zadd", "k", "1", "m"]);
        serve(&shared, &mut w.state.ready);
        assert_eq!(served(&wa), None);
        assert_eq!(served(&wb), Some(Reply::Array(vec![bulk("k"), bulk("m"), Reply::Double(1.0)])));
        assert_eq!(shared.blocked.len(), 1);
    }

    #[test]
    fn a_served_move_serves_those_waiting_on_its_destination() {
        let shared = Shared::new(Config::for_test());
        let (mut a, mut b, mut w) = (client(&shared, 0), client(&shared, 0), client(&shared, 0));
        let wa = park(&shared, &mut a, &["blmove", "l1", "l2", "RIGHT", "LEFT", "0"]);
        let wb = park(&shared, &mut b, &["blmove", "l2", "l3", "LEFT", "RIGHT", "0"]);
        run(&shared, &mut w, &["rpush", "l1", "foo"]);
        serve(&shared, &mut w.state.ready);
        assert_eq!(served(&wa), Some(bulk("foo")));
        assert_eq!(served(&wb), Some(bulk("foo")));
        assert_eq!(run(&shared, &mut w, &["lrange", "l3", "0", "-1"]), Reply::Array(vec![bulk("foo")]));
    }

    #[test]
    fn a_write_before_the_registration_is_not_missed_and_unblock_ends_a_wait() {
        let shared = Shared::new(Config::for_test());
        let (mut a, mut w) = (client(&shared, 0), client(&shared, 0));
        run(&shared, &mut a, &["bzpopmin", "z", "0"]);
        let b = a.state.block.take().expect("blocks");
        run(&shared, &mut w, &["zadd", "z", "1", "m"]);
        assert!(w.state.ready.is_empty(), "nobody registered yet");
        let wa = block(&shared, &a, b, &[b"bzpopmin", b"z", b"0"]);
        assert_eq!(served(&wa), Some(Reply::Array(vec![bulk("z"), bulk("m"), Reply::Double(1.0)])));
        assert!(shared.blocked.is_empty());

        let wa = park(&shared, &mut a, &["blpop", "k", "0"]);
        assert!(!unblock(&shared, a.id + 100, false), "no such client");
        assert!(unblock(&shared, a.id, true));
        assert!(!unblock(&shared, a.id, true), "only once");
        assert!(matches!(wa.take(), Some(Outcome::Unblocked)));
        leave(&shared, &wa);
        assert!(shared.blocked.is_empty());
    }

    fn entries(key: &str, items: &[(&str, &str, &str)]) -> Reply {
        let items =
            items.iter().map(|(id, f, v)| Reply::Array(vec![bulk(id), Reply::Array(vec![bulk(f), bulk(v)])])).collect();
        Reply::Array(vec![Reply::Array(vec![bulk(key), Reply::Array(items)])])
    }

    #[test]
    fn stream_readers_are_all_served_by_one_xadd_and_a_group_delivers_once() {
        let shared = Shared::new(Config::for_test());
        let (mut a, mut b, mut c, mut d, mut w) =
            (client(&shared, 0), client(&shared, 0), client(&shared, 0), client(&shared, 0), client(&shared, 0));
        run(&shared, &mut w, &["xadd", "s", "1-0", "old", "x"]);
        run(&shared, &mut w, &["xgroup", "create", "s", "g", "$"]);
        let wa = park(&shared, &mut a, &["xread", "BLOCK", "0", "STREAMS", "s", "$"]);
        let wb = park(&shared, &mut b, &["xread", "BLOCK", "0", "STREAMS", "other", "s", "0", "1-0"]);
        let wc = park(&shared, &mut c, &["xreadgroup", "GROUP", "g", "alice", "BLOCK", "0", "STREAMS", "s", ">"]);
        let wd = park(&shared, &mut d, &["xreadgroup", "GROUP", "g", "bob", "BLOCK", "0", "STREAMS", "s", ">"]);
        assert_eq!(wa.args()[5], Bytes::from_static(b"1-0"), "$ resolved when it blocked");
        assert_eq!(shared.blocked.len(), 4);

        run(&shared, &mut w, &["xadd", "s", "2-0", "new", "y"]);
        serve(&shared, &mut w.state.ready);
        let new = entries("s", &[("2-0", "new", "y")]);
        assert_eq!(served(&wa), Some(new.clone()), "XREAD reads without consuming: both served");
        assert_eq!(served(&wb), Some(new.clone()));
        assert_eq!(served(&wc), Some(new), "the group's first waiter gets the entry");
        assert_eq!(served(&wd), None, "and the second waits on");
        assert_eq!(shared.blocked.len(), 1);
        let pending = run(&shared, &mut w, &["xpending", "s", "g"]);
        assert!(matches!(&pending, Reply::Array(p) if p[0] == Reply::Integer(1)), "{pending:?}");

        // A write of another type to a key XREAD waits on does not wake
        // it; XREADGROUP fails once its key is gone.
        let we = park(&shared, &mut a, &["xread", "BLOCK", "0", "STREAMS", "s", "$"]);
        run(&shared, &mut w, &["del", "s"]);
        serve(&shared, &mut w.state.ready);
        assert_eq!(served(&we), None);
        let nogroup =
            Reply::error_static("NOGROUP No such key 's' or consumer group 'g' in XREADGROUP with GROUP option");
        assert_eq!(served(&wd), Some(nogroup));
        run(&shared, &mut w, &["set", "s", "v"]);
        serve(&shared, &mut w.state.ready);
        assert_eq!(served(&we), None);
        run(&shared, &mut w, &["del", "s"]);
        run(&shared, &mut w, &["xadd", "s", "2-0", "f", "v"]);
        serve(&shared, &mut w.state.ready);
        assert_eq!(served(&we), None, "not after the id $ stood for");
        run(&shared, &mut w, &["xadd", "s", "3-0", "f", "v"]);
        serve(&shared, &mut w.state.ready);
        assert_eq!(served(&we), Some(entries("s", &[("3-0", "f", "v")])));
        assert!(shared.blocked.is_empty());
    }

    #[test]
    fn a_flush_or_group_destroy_fails_a_waiting_xreadgroup() {
        let shared = Shared::new(Config::for_test());
        let (mut a, mut b, mut w) = (client(&shared, 0), client(&shared, 0), client(&shared, 0));
        let wb = park(&shared, &mut b, &["blpop", "s", "0"]);
        run(&shared, &mut w, &["xgroup", "create", "s", "g", "$", "MKSTREAM"]);
        let wa = park(&shared, &mut a, &["xreadgroup", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"]);
        assert_eq!(shared.blocked.blocking_keys(), (1, 1), "one key, which XREADGROUP hears of deleted");
        run(&shared, &mut w, &["flushall"]);
        serve(&shared, &mut w.state.ready);
        assert!(matches!(served(&wa), Some(Reply::Error(e)) if e.starts_with(b"NOGROUP")));
        assert_eq!(served(&wb), None, "the list waiter waits on");
        assert_eq!(shared.blocked.blocking_keys(), (1, 0));
        run(&shared, &mut w, &["xgroup", "create", "s", "g", "$", "MKSTREAM"]);
        let wa = park(&shared, &mut a, &["xreadgroup", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"]);
        run(&shared, &mut w, &["xgroup", "destroy", "s", "g"]);
        serve(&shared, &mut w.state.ready);
        assert!(matches!(served(&wa), Some(Reply::Error(e)) if e.starts_with(b"NOGROUP")));
        leave(&shared, &wb);
        assert!(shared.blocked.is_empty());
    }

    #[test]
    fn an_expired_stream_fails_its_xreadgroups_in_the_background_cycle() {
        let shared = Shared::new(Config::for_test());
        let (mut a, mut b, mut w) = (client(&shared, 0), client(&shared, 0), client(&shared, 0));
        run(&shared, &mut w, &["xgroup", "create", "s", "g", "$", "MKSTREAM"]);
        run(&shared, &mut w, &["xgroup", "create", "t", "g", "$", "MKSTREAM"]);
        let wa = park(&shared, &mut a, &["xreadgroup", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"]);
        let wb = park(&shared, &mut b, &["xreadgroup", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "t", ">"]);
        serve_vanished(&shared);
        assert_eq!((served(&wa), served(&wb)), (None, None), "both streams are there");
        // Long enough that a loaded machine does not let it expire before
        // the first check (a 1 ms TTL made this fail now and then).
        run(&shared, &mut w, &["pexpire", "s", "300"]);
        serve(&shared, &mut w.state.ready);
        assert_eq!(served(&wa), None, "PEXPIRE itself changes nothing it waits for");
        std::thread::sleep(std::time::Duration::from_millis(350));
        serve_vanished(&shared);
        assert!(matches!(served(&wa), Some(Reply::Error(e)) if e.starts_with(b"NOGROUP")));
        assert_eq!(served(&wb), None);
        assert_eq!(shared.blocked.len(), 1);
        leave(&shared, &wb);
    }
}
