//! Replication on a cluster node: the server's side of
//! `ringcache-replication`, whose [`Replicator`] decides everything; this
//! module only feeds it and carries out what it says.
//!
//! - [`Replication::write`]: a command here changed keys; fan the effects
//!   out and get a [`Done`] once W owners hold them (or the deadline
//!   passed).
//! - [`Replication::receive`]: a batch of replication messages from a
//!   peer (transport kind [`KIND_REPLICATION`]).
//! - [`tick`]: the task that drives deadlines, retries, hints,
//!   anti-entropy and catch-up.
//! - [`StoreReplica`]: the keyspace as the state machine sees it (the
//!   node's `Db`); [`LiveView`]: the cluster as one [`ClusterView`]
//!   (placement, liveness) shows it, loaded once per call.
//!
//! Invariants:
//! - Lock order: the replicator's mutex, then at most one shard lock (the
//!   replica's). Commands never take the mutex while they hold a shard
//!   lock: they collect their changes under their locks (the command
//!   layer's `take_changes`) and hand them over after.
//! - A client's write is answered only once its [`Done`] arrives: `Acked`
//!   (W owners hold it) or `Failed` (`-NOREPLICAS`). A write that failed
//!   stays where it was applied; repair may still spread it.
//! - Every queue is bounded: writes in flight by `replication-writes-max`,
//!   messages to each peer by [`SEND_QUEUE`] and [`SEND_QUEUE_BYTES`] (past
//!   them a message is dropped and counted; the state machine retries, and
//!   applying is idempotent). Messages are encoded straight into the
//!   peer's [`Outbox`], in transport messages of at most `BATCH_MAX`
//!   messages and about `BATCH_BYTES`, which its sender task takes whole.
//! - A batch from a peer is handled `BATCH_MAX` messages per lock of the
//!   replicator, and the writes of each such run it applied are acked in
//!   one message (`Replicator::handle_batch`).
//! - Until a slot is caught up after this node started empty, it serves no
//!   read or write of it: [`Replication::serves`] is false and routing
//!   picks the next owner.
//! - Owners and W follow the view: N is clamped to the view's ring, W to
//!   N; a peer gets a send queue and its sender task the first time a
//!   view names it ([`Replication::ensure_outboxes`]).

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};

use arc_swap::ArcSwap;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

use bytes::Bytes;
use parking_lot::Mutex;
use ringcache_replication::{
    self as rep, Change, Chunk, Effect, Entry, Event, Outcome, Output, Placement, Replica, Replicator, State, View,
};
pub use ringcache_replication::{DbKey, WriteId};
use ringcache_ring::{NodeId, SLOTS};
use ringcache_store::{Applied, Db, DecodeLimits, DeltaApplied, Incoming, Locked, StateRef};
use ringcache_version::{Stamp, Version};
use tokio::sync::{oneshot, Notify};

use super::{Cluster, ClusterView, Health};
use crate::config::Config;
use crate::shared::Shared;

/// Transport message kind of replication messages (one-way).
pub const KIND_REPLICATION: u8 = b'V';
/// Messages waiting to go to one peer ...
pub const SEND_QUEUE: usize = 16_384;
/// ... and their bytes (at least one message is always taken).
pub const SEND_QUEUE_BYTES: usize = 64 << 20;
/// A transport message to a peer carries at most this many replication
/// messages ...
const BATCH_MAX: usize = 512;
/// ... and about this many bytes (a single larger message goes alone).
const BATCH_BYTES: usize = 1 << 20;
/// How often the state machine is ticked.
pub const TICK: Duration = Duration::from_millis(10);
/// Members after a slot's owners on its preference list: where hints go.
const FALLBACKS: usize = 2;

/// How a replicated write ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    /// `acks` owners (this one included) hold it.
    Acked(usize),
    /// Only `acks` owners answered by the deadline.
    Failed(usize),
}

/// Redis's reply when a write cannot reach its replicas.
pub const NOREPLICAS: &str = "NOREPLICAS Not enough good replicas to write.";

/// Server-side counters, beside the state machine's own [`rep::Stats`].
#[derive(Debug, Default)]
pub struct Counters {
    /// Messages dropped because a peer's send queue was full.
    pub sends_dropped: AtomicU64,
    /// Replicated values that failed to decode (refused, never applied).
    pub states_refused: AtomicU64,
    /// Writes refused before they started (too many in flight, too large).
    pub writes_refused: AtomicU64,
    /// Batches from peers that did not frame (the rest of each is refused).
    pub batches_refused: AtomicU64,
    /// Deltas this node sent as a coordinator (each instead of a whole
    /// value, to every other owner).
    pub deltas_sent: AtomicU64,
    /// Deltas applied here on their base.
    pub deltas_applied: AtomicU64,
    /// Deltas that found another value here, answered `NeedFull` (the
    /// coordinator then sent the whole value).
    pub deltas_need_full: AtomicU64,
}

pub struct Replication {
    me: NodeId,
    /// W and R as configured (each view clamps them to its N).
    write_quorum: AtomicUsize,
    read_quorum: AtomicUsize,
    inner: Mutex<Inner>,
    /// One bit per slot: caught up (always set unless catching up).
    ready: Box<[AtomicU64]>,
    catching_up: AtomicBool,
    /// Per peer (sorted by id), what its sender task sends; grows as views
    /// name new members ([`Replication::ensure_outboxes`]).
    outboxes: ArcSwap<Vec<(NodeId, Arc<Outbox>)>>,
    /// Held while outboxes are added.
    adding: Mutex<()>,
    /// Set by [`start`]: sender tasks end when it is cancelled.
    senders: OnceLock<CancellationToken>,
    limits: DecodeLimits,
    pub counters: Arc<Counters>,
    /// What INFO reports, copied from the state machine on every tick:
    /// INFO runs holding every shard lock, so it must never wait for
    /// `inner` (which is taken before a shard lock). A leaf lock.
    report: Mutex<Report>,
}

/// The clients waiting for writes to be acknowledged and for quorum reads.
#[derive(Default)]
struct Waiters {
    writes: HashMap<WriteId, oneshot::Sender<Done>, BuildHasherDefault<IdHasher>>,
    /// `true`: the read reached its quorum (and the newest version found
    /// is applied here); `false`: it failed.
    reads: HashMap<rep::ReadId, oneshot::Sender<bool>>,
}

struct Inner {
    rep: Replicator,
    out: Output,
    /// The clients waiting for each write in flight. Under the mutex that
    /// `write` and the events already hold: no map of its own to lock.
    waiters: Waiters,
    /// Decoded messages of the batch being handled (kept for the
    /// allocation).
    decoded: Vec<rep::Message>,
}

/// Hashes a write id (a counter of this node's state machine, never a
/// peer's choice) with one multiplication instead of SipHash.
#[derive(Debug, Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// What is waiting to go to one peer: transport messages being filled
/// (each `KIND_REPLICATION`, then per replication message a u32
/// big-endian length and the message), oldest first. The sender task
/// takes them all at once; `notify` wakes it when the first arrives.
#[derive(Debug, Default)]
pub struct Outbox {
    queue: Mutex<Queued>,
    notify: Notify,
}

#[derive(Debug, Default)]
struct Queued {
    batches: VecDeque<Batch>,
    messages: usize,
    bytes: usize,
}

#[derive(Debug)]
struct Batch {
    buf: Vec<u8>,
    messages: usize,
}

impl Outbox {
    /// Encodes `msg` into the last batch (or a new one); false if the
    /// queue is full (the message is dropped).
    fn push(&self, msg: &rep::Message) -> bool {
        let len = msg.encoded_len();
        let mut q = self.queue.lock();
        if q.messages > 0 && (q.messages >= SEND_QUEUE || q.bytes + len > SEND_QUEUE_BYTES) {
            return false;
        }
        let first = q.messages == 0;
        let fits = q.batches.back().is_some_and(|b| b.messages < BATCH_MAX && b.buf.len() + 4 + len <= BATCH_BYTES);
        if !fits {
            let mut buf = Vec::with_capacity((1 + 4 + len).clamp(4096, BATCH_BYTES));
            buf.push(KIND_REPLICATION);
            q.batches.push_back(Batch { buf, messages: 0 });
        }
        let batch = q.batches.back_mut().expect("just made sure there is one");
        batch.buf.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
        let at = batch.buf.len();
        msg.encode(&mut batch.buf);
        debug_assert_eq!(batch.buf.len() - at, len, "encoded_len disagrees with encode");
        batch.messages += 1;
        q.messages += 1;
        q.bytes += len;
        drop(q);
        if first {
            self.notify.notify_one();
        }
        true
    }

    /// Everything queued, emptying the queue.
    fn take(&self) -> VecDeque<Batch> {
        let mut q = self.queue.lock();
        q.messages = 0;
        q.bytes = 0;
        std::mem::take(&mut q.batches)
    }
}

impl std::fmt::Debug for Replication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replication").field("me", &self.me).finish_non_exhaustive()
    }
}

/// What INFO replication reports.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub stats: rep::Stats,
    pub writes_in_flight: usize,
    pub hints: usize,
    pub hint_bytes: usize,
    pub catching_up: bool,
    pub slots_ready: usize,
}

impl Replication {
    /// Replication for this node, or `None` when each slot has one owner
    /// (`replicas 1`). A cluster of one replicates to nobody until others
    /// join.
    pub fn new(me: NodeId, config: &Config) -> Option<Replication> {
        if config.replicas <= 1 {
            return None;
        }
        let rep_config = rep::Config {
            cluster_timeout_ms: config.cluster_timeout_ms.max(20),
            write_retry_ms: (config.cluster_timeout_ms / 4).max(5),
            writes_inflight_max: config.replication_writes_max,
            hints_count_toward_quorum: config.sloppy_quorum,
            hints_max_per_node: config.hints_max_per_node,
            anti_entropy_interval_ms: config.anti_entropy_interval_ms,
            // A peer that was not up yet when catch-up began is asked
            // again soon after it is.
            sync_retry_ms: 500,
            databases: config.databases,
            ..rep::Config::default()
        };
        let rep = Replicator::new(me.clone(), rep_config).expect("replication settings are validated with the config");
        let mut rep_inner = Inner { rep, out: Output::new(), waiters: Waiters::default(), decoded: Vec::new() };
        // A cache keeps nothing on disk: every start is an empty restart.
        // At a cluster's first start the others are empty too and answer
        // at once.
        rep_inner.rep.restarted_empty();
        Some(Replication {
            me,
            write_quorum: AtomicUsize::new(config.write_quorum.max(1)),
            read_quorum: AtomicUsize::new(config.read_quorum.max(1)),
            inner: Mutex::new(rep_inner),
            ready: (0..SLOTS / 64).map(|_| AtomicU64::new(0)).collect(),
            catching_up: AtomicBool::new(true),
            outboxes: ArcSwap::from_pointee(Vec::new()),
            adding: Mutex::new(()),
            senders: OnceLock::new(),
            limits: DecodeLimits { bulk_len_max: config.proto_max_bulk_len as usize, ..DecodeLimits::default() },
            counters: Arc::default(),
            report: Mutex::new(Report::default()),
        })
    }

    /// W in `view`: the configured W, at most the view's N.
    pub fn write_quorum(&self, view: &ClusterView) -> usize {
        self.write_quorum.load(Relaxed).clamp(1, view.owners.max(1))
    }

    /// CONFIG SET write-quorum.
    pub fn set_write_quorum(&self, w: usize) {
        self.write_quorum.store(w.max(1), Relaxed);
    }

    /// R as configured (each view clamps it to its N).
    pub fn read_quorum(&self) -> usize {
        self.read_quorum.load(Relaxed)
    }

    /// CONFIG SET read-quorum.
    pub fn set_read_quorum(&self, r: usize) {
        self.read_quorum.store(r.max(1), Relaxed);
    }

    /// Makes a send queue and its sender task for every member of `view`
    /// that has none yet (once [`start`] ran; it calls this itself).
    pub(crate) fn ensure_outboxes(&self, cluster: &Cluster, view: &ClusterView) {
        let Some(token) = self.senders.get() else { return };
        let _adding = self.adding.lock();
        let current = self.outboxes.load_full();
        let new: Vec<&super::Node> = view
            .nodes
            .iter()
            .filter(|n| n.id != self.me && current.binary_search_by(|(id, _)| id.cmp(&n.id)).is_err())
            .collect();
        if new.is_empty() {
            return;
        }
        let mut next = (*current).clone();
        for node in new {
            let outbox = Arc::new(Outbox::default());
            next.push((node.id.clone(), outbox.clone()));
            cluster.spawn_peer_task(send_loop(
                cluster.transport.clone(),
                node.id.clone(),
                node.health.clone(),
                outbox,
                self.counters.clone(),
                token.clone(),
            ));
        }
        next.sort_by(|a, b| a.0.cmp(&b.0));
        self.outboxes.store(Arc::new(next));
    }

    /// Whether this node may serve `slot` (it is not still catching it up).
    pub fn serves(&self, slot: u16) -> bool {
        !self.catching_up.load(Relaxed) || self.ready[usize::from(slot) / 64].load(Relaxed) & (1 << (slot % 64)) != 0
    }

    pub fn is_catching_up(&self) -> bool {
        self.catching_up.load(Relaxed)
    }

    /// Catches up again from the start: a node that was alone (and so
    /// caught up at once, from nobody) has just reached the cluster.
    pub fn restart_catch_up(&self) {
        let mut inner = self.inner.lock();
        inner.rep.restarted_empty();
        for word in self.ready.iter() {
            word.store(0, Relaxed);
        }
        self.catching_up.store(true, Relaxed);
    }

    /// Starts replicating the effects of one command on `slot`; the
    /// receiver gets how it ended, the id names it for [`Self::acks`].
    /// `Err` is the client's reply when it could not start.
    pub fn write(
        &self,
        shared: &Shared,
        cluster: &Cluster,
        slot: u16,
        effects: Vec<Effect>,
    ) -> Result<(WriteId, oneshot::Receiver<Done>), &'static str> {
        let now_ms = ringcache_store::now_ms();
        let replica = StoreReplica::new(&shared.db, now_ms, self.limits, &self.counters);
        let current = cluster.view();
        let Some(view) = LiveView::of(&current) else { return Err("TRYAGAIN the cluster view is not ready") };
        let w = self.write_quorum(&current);
        let (tx, rx) = oneshot::channel();
        let mut inner = self.inner.lock();
        let Inner { rep, out, waiters, .. } = &mut *inner;
        let id = match rep.write(&view, &replica, slot, effects, w, now_ms, out) {
            Ok(id) => {
                // Before the events: a quorum already met is in `out`.
                waiters.writes.insert(id, tx);
                id
            }
            Err(e) => {
                self.counters.writes_refused.fetch_add(1, Relaxed);
                tracing::debug!("replicated write refused: {e}");
                return Err(match e {
                    rep::Error::Busy { .. } => "TRYAGAIN too many writes waiting for replicas",
                    rep::Error::TooLarge { .. } => "ERR write too large to replicate",
                    _ => "TRYAGAIN the slot's owners changed; try again",
                });
            }
        };
        drop(replica);
        self.carry_out(out, waiters);
        Ok((id, rx))
    }

    /// Starts a quorum read of `key` (R owners, this one included): the
    /// receiver gets `true` once R owners answered and the newest version
    /// among them is applied here (read repair), `false` if the read
    /// failed. `Err` is the client's reply when it could not start.
    pub fn read(
        &self,
        shared: &Shared,
        cluster: &Cluster,
        key: DbKey,
        quorum: usize,
    ) -> Result<oneshot::Receiver<bool>, &'static str> {
        let now_ms = ringcache_store::now_ms();
        let replica = StoreReplica::new(&shared.db, now_ms, self.limits, &self.counters);
        let current = cluster.view();
        let Some(view) = LiveView::of(&current) else { return Err("TRYAGAIN the cluster view is not ready") };
        let quorum = quorum.clamp(1, current.owners.max(1));
        let (tx, rx) = oneshot::channel();
        let slot = ringcache_ring::slot(&key.name);
        let mut inner = self.inner.lock();
        let Inner { rep, out, waiters, .. } = &mut *inner;
        match rep.read(&view, &replica, slot, key, quorum, now_ms, out) {
            Ok(id) => {
                waiters.reads.insert(id, tx);
            }
            Err(e) => {
                tracing::debug!("quorum read refused: {e}");
                return Err(match e {
                    rep::Error::Busy { .. } => "TRYAGAIN too many reads waiting for replicas",
                    _ => "TRYAGAIN the slot's owners changed; try again",
                });
            }
        }
        drop(replica);
        self.carry_out(out, waiters);
        Ok(rx)
    }

    /// One chunk of `slot` for a graceful leave's handoff, from `cursor`:
    /// an encoded `Repair` message (`None` if the chunk is empty), its
    /// number of entries, and where the next chunk starts (`None`: the
    /// slot is done).
    pub fn handoff_chunk(&self, shared: &Shared, slot: u16, cursor: &[u8]) -> (Option<Bytes>, usize, Option<Bytes>) {
        let (entries_max, bytes_max) = {
            let inner = self.inner.lock();
            let config = inner.rep.config();
            (config.limits().effects_per_message_max, config.sync_bytes_max)
        };
        let now_ms = ringcache_store::now_ms();
        let replica = StoreReplica::new(&shared.db, now_ms, self.limits, &self.counters);
        let chunk = replica.slot_chunk(slot, cursor, entries_max, bytes_max);
        drop(replica);
        let n = chunk.entries.len();
        let msg = (n > 0).then(|| rep::Message::Repair { slot, entries: chunk.entries }.to_bytes());
        (msg, n, chunk.next)
    }

    /// A handoff chunk from `from` (the kind byte stripped): applied here
    /// like a repair. `Err` is why it was refused.
    pub fn accept_handoff(
        &self,
        shared: &Shared,
        cluster: &Cluster,
        from: &NodeId,
        body: &Bytes,
    ) -> Result<(), &'static str> {
        let current = cluster.view();
        let Some(view) = LiveView::of(&current) else { return Err("ERR the cluster view is not ready") };
        if !View::is_member(&view, from) {
            return Err("ERR not a member");
        }
        let now_ms = ringcache_store::now_ms();
        let mut replica = StoreReplica::new(&shared.db, now_ms, self.limits, &self.counters);
        let mut inner = self.inner.lock();
        let Inner { rep, out, waiters, .. } = &mut *inner;
        let msg = match rep.decode(body) {
            Some(msg @ rep::Message::Repair { .. }) => msg,
            _ => return Err("ERR malformed handoff"),
        };
        rep.handle(from, msg, &mut replica, &view, now_ms, out);
        drop(replica);
        self.carry_out(out, waiters);
        drop(inner);
        shared.tracking.deliver(shared, None);
        Ok(())
    }

    /// How many owners (this one included) are known to hold the write
    /// `id` this node coordinated; `None` once it is too old to remember.
    pub fn acks(&self, id: WriteId) -> Option<usize> {
        self.inner.lock().rep.acks(id)
    }

    /// A batch of replication messages from `from` (the kind byte
    /// stripped): each a u32 big-endian length and the message. Handled
    /// `BATCH_MAX` at a time under one lock, the writes of each run acked
    /// in one message; a batch that does not frame is refused from where
    /// it stops (counted).
    pub fn receive(&self, shared: &Shared, cluster: &Cluster, from: &NodeId, batch: &Bytes) {
        let current = cluster.view();
        let Some(view) = LiveView::of(&current) else { return };
        let mut at = 0;
        let mut framed = true;
        while framed && at < batch.len() {
            let now_ms = ringcache_store::now_ms();
            let mut replica = StoreReplica::new(&shared.db, now_ms, self.limits, &self.counters);
            let mut inner = self.inner.lock();
            let Inner { rep, out, waiters, decoded } = &mut *inner;
            decoded.clear();
            while decoded.len() < BATCH_MAX && at < batch.len() {
                let len = batch.get(at..at + 4).map(|b| u32::from_be_bytes(b.try_into().expect("4 bytes")) as usize);
                let Some(end) = len.map(|l| at + 4 + l).filter(|&end| end <= batch.len()) else {
                    self.counters.batches_refused.fetch_add(1, Relaxed);
                    framed = false;
                    break;
                };
                decoded.extend(rep.decode(&batch.slice(at + 4..end)));
                at = end;
            }
            warm_applies(&shared.db, decoded);
            rep.handle_batch(from, decoded.drain(..), &mut replica, &view, now_ms, out);
            drop(replica);
            self.carry_out(out, waiters);
            drop(inner);
            // What the batch applied, for CLIENT TRACKING here.
            shared.tracking.deliver(shared, None);
        }
        // Replicated writes count against maxmemory here as this node's
        // clients' do: evict what the policy picks, as a command does before
        // it runs (an eviction is local: docs/replication.md). Without
        // that, a node whose clients write nothing grew past maxmemory with
        // the other owners' writes. Under noeviction they are kept over
        // the limit: refusing them would drop writes the cluster has
        // acknowledged.
        if shared.db.over_memory_limit() {
            let _ = shared.db.ensure_memory(ringcache_store::now_ms());
            shared.tracking.deliver(shared, None);
        }
    }

    fn tick(&self, shared: &Shared, cluster: &Cluster) {
        let now_ms = ringcache_store::now_ms();
        let mut replica = StoreReplica::new(&shared.db, now_ms, self.limits, &self.counters);
        let current = cluster.view();
        let Some(view) = LiveView::of(&current) else { return };
        let mut inner = self.inner.lock();
        let Inner { rep, out, waiters, .. } = &mut *inner;
        rep.tick(&mut replica, &view, now_ms, out);
        drop(replica);
        self.carry_out(out, waiters);
        shared.tracking.deliver(shared, None);
        let (hints, hint_bytes) = rep.hints_held();
        *self.report.lock() = Report {
            stats: rep.stats().clone(),
            writes_in_flight: rep.writes_in_flight(),
            hints,
            hint_bytes,
            catching_up: self.is_catching_up(),
            slots_ready: self.ready.iter().map(|w| w.load(Relaxed).count_ones() as usize).sum(),
        };
    }

    /// Sends what the state machine queued and acts on its events. Called
    /// with the replicator's mutex held, so events are handled in order.
    fn carry_out(&self, out: &mut Output, waiters: &mut Waiters) {
        let outboxes = self.outboxes.load();
        for (to, msg) in out.sends.drain(..) {
            let outbox = outboxes.binary_search_by(|(id, _)| id.cmp(&to)).ok().map(|i| &outboxes[i].1);
            if !outbox.is_some_and(|o| o.push(&msg)) {
                self.counters.sends_dropped.fetch_add(1, Relaxed);
            }
        }
        let mut finish = |write, done| {
            if let Some(tx) = waiters.writes.remove(&write) {
                let _ = tx.send(done);
            }
        };
        let mut read_done = |read, ok| {
            if let Some(tx) = waiters.reads.remove(&read) {
                let _ = tx.send(ok);
            }
        };
        for event in out.events.drain(..) {
            match event {
                Event::Acked { write, acks } => finish(write, Done::Acked(acks)),
                Event::Failed { write, acks } => finish(write, Done::Failed(acks)),
                Event::Ready { slots } => {
                    for s in slots {
                        self.ready[usize::from(s) / 64].fetch_or(1 << (s % 64), Relaxed);
                    }
                }
                Event::CaughtUp => {
                    self.catching_up.store(false, Relaxed);
                    tracing::info!("caught up: serving every slot");
                }
                Event::ReadDone { read, .. } => read_done(read, true),
                Event::ReadFailed { read, .. } => read_done(read, false),
            }
        }
    }

    /// The figures of the last tick (at most [`TICK`] old). Takes no lock
    /// but its own, so it may be called holding shard locks.
    pub fn report(&self) -> Report {
        self.report.lock().clone()
    }
}

/// Looks up the keys a batch's `Apply`s write, a few at a time, before
/// any is applied: the lookups' cache misses overlap, and applying then
/// finds the entries in cache (on a replica, the lookup was most of an
/// apply: a coordinator's commands get the same from `cmd::warm`).
/// Takes the shard locks of each group of keys, for the probes only; the
/// caller holds none.
fn warm_applies(db: &Db, batch: &[rep::Message]) {
    const GROUP: usize = 16;
    let mut keys: smallvec::SmallVec<[(&[u8], ringcache_store::KeyHash); GROUP]> = smallvec::SmallVec::new();
    let effects = batch.iter().flat_map(|m| match m {
        rep::Message::Apply { effects, .. } => &effects[..],
        _ => &[],
    });
    // A group's keys are probed in one database: nearly every batch has
    // one, and a group ends where the database changes.
    let mut dbid = 0;
    for e in effects {
        if keys.len() == GROUP || (e.key.db != dbid && !keys.is_empty()) {
            db.warm(dbid, &keys);
            keys.clear();
        }
        dbid = e.key.db;
        keys.push((&e.key.name[..], db.hash_key(&e.key.name)));
    }
    if keys.len() > 1 {
        db.warm(dbid, &keys);
    }
}

/// Owners plus fallbacks: how long each slot's preference list on the
/// cluster's ring is.
pub fn ring_replicas(config: &Config) -> usize {
    config.replicas.max(1) + FALLBACKS
}

/// Starts the tick task and the per-peer sender tasks (more are started
/// as views name new members) on the current runtime; they end at
/// shutdown. The state machine is not ticked until this node has joined
/// (before, it would catch up from nobody and serve an empty memory).
pub fn start(shared: &Arc<Shared>) -> Vec<tokio::task::JoinHandle<()>> {
    let Some(cluster) = shared.cluster.clone() else { return Vec::new() };
    let Some(replication) = cluster.replication.as_ref() else { return Vec::new() };
    let _ = replication.senders.set(shared.shutdown.clone());
    replication.ensure_outboxes(&cluster, &cluster.view());
    let shared = shared.clone();
    vec![tokio::spawn(async move {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shared.shutdown.cancelled() => return,
            }
            if let Some(r) = cluster.replication.as_ref().filter(|_| cluster.joined()) {
                r.tick(&shared, &cluster);
            }
        }
    })]
}

/// One peer's sender: takes whatever its outbox holds, whole, and sends it.
async fn send_loop(
    transport: Arc<dyn ringcache_transport::Transport>,
    peer: NodeId,
    health: Arc<Health>,
    outbox: Arc<Outbox>,
    counters: Arc<Counters>,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = outbox.notify.notified() => {}
            _ = shutdown.cancelled() => return,
        }
        // Whatever was queued meanwhile goes too: one frame and one lock on
        // the other side for many writes.
        for batch in outbox.take() {
            match transport.send(&peer, Bytes::from(batch.buf)).await {
                Ok(()) => {}
                // A full queue to it is not a sign it is down.
                Err(ringcache_transport::TransportError::Backpressure { .. }) => {
                    counters.sends_dropped.fetch_add(batch.messages as u64, Relaxed);
                }
                Err(e) => {
                    tracing::debug!(node = %peer, "replication send failed: {e}");
                    health.reachable.store(false, Relaxed);
                }
            }
        }
    }
}

/// The cluster as the state machine sees it: one view's placement, and
/// liveness as membership and traffic last saw it.
#[derive(Debug)]
pub struct LiveView<'a> {
    placement: &'a Placement,
    view: &'a ClusterView,
}

impl<'a> LiveView<'a> {
    /// `None` for a view without placement (no replication).
    pub fn of(view: &'a ClusterView) -> Option<LiveView<'a>> {
        Some(LiveView { placement: view.placement.as_deref()?, view })
    }
}

impl View for LiveView<'_> {
    // The trait's epoch is the placement's: it changes whenever a
    // preference list does, and not on liveness alone.
    #[allow(clippy::misnamed_getters)]
    fn epoch(&self) -> u64 {
        self.view.ring_epoch
    }

    fn members(&self) -> &[NodeId] {
        self.placement.members()
    }

    fn owners(&self, slot: u16) -> &[NodeId] {
        self.placement.owners(slot)
    }

    fn fallbacks(&self, slot: u16) -> &[NodeId] {
        self.placement.fallbacks(slot)
    }

    fn incoming(&self, slot: u16) -> &[NodeId] {
        self.placement.incoming(slot)
    }

    fn is_live(&self, node: &NodeId) -> bool {
        self.view.idx_of(node).is_some_and(|i| i == self.view.me || self.view.node(i).is_up())
    }
}

/// The node's keyspace as a [`Replica`]. Holds at most one shard lock at a
/// time, kept between calls on the same shard, so the effects of one
/// message (one slot) are applied under one lock: a transaction lands
/// whole or not at all.
#[derive(Debug)]
pub struct StoreReplica<'a> {
    db: &'a Db,
    now_ms: u64,
    limits: DecodeLimits,
    counters: &'a Counters,
    held: RefCell<Option<(usize, Locked<'a>)>>,
}

impl<'a> StoreReplica<'a> {
    pub fn new(db: &'a Db, now_ms: u64, limits: DecodeLimits, counters: &'a Counters) -> StoreReplica<'a> {
        StoreReplica { db, now_ms, limits, counters, held: RefCell::new(None) }
    }

    fn with_slot<T>(&self, slot: u16, f: impl FnOnce(&mut ringcache_store::Shard) -> T) -> T {
        let shard = self.db.shard_of_slot(slot);
        let mut held = self.held.borrow_mut();
        if held.as_ref().is_none_or(|(i, _)| *i != shard) {
            // Unlock the one held before locking the next.
            *held = None;
            *held = Some((shard, self.db.lock_slot(slot)));
        }
        f(held.as_mut().expect("just locked").1.slot_shard(slot))
    }

    fn state_of(&self, value: bool, buf: Vec<u8>) -> State {
        if value {
            State::Value(Bytes::from(buf))
        } else {
            State::Tombstone
        }
    }
}

impl StoreReplica<'_> {
    /// A delta (`ringcache_store::delta`): applied on its base only;
    /// anything else asks for the whole value.
    fn apply_delta(&mut self, slot: u16, effect: &Effect, base: Stamp, op: &Bytes) -> Outcome {
        let op = match ringcache_store::delta::DeltaOp::decode(op, &self.limits) {
            Ok(op) => op,
            Err(e) => {
                self.counters.states_refused.fetch_add(1, Relaxed);
                tracing::debug!("refused a replicated delta: {e}");
                return Outcome::NeedFull;
            }
        };
        let (now_ms, key) = (self.now_ms, &effect.key);
        let applied = self.with_slot(slot, |s| {
            s.select(key.db);
            s.apply_delta(&key.name, &effect.version, base, &op, now_ms)
        });
        match applied {
            DeltaApplied::Taken => {
                self.counters.deltas_applied.fetch_add(1, Relaxed);
                Outcome::Applied
            }
            DeltaApplied::Kept => Outcome::Had,
            DeltaApplied::NeedFull => {
                self.counters.deltas_need_full.fetch_add(1, Relaxed);
                Outcome::NeedFull
            }
        }
    }
}

impl Replica for StoreReplica<'_> {
    fn apply(&mut self, slot: u16, effect: &Effect) -> Outcome {
        let state = match &effect.change {
            Change::Full(State::Tombstone) => Incoming::Tombstone,
            Change::Full(State::Value(b)) => match ringcache_store::codec::decode_state(b, &self.limits) {
                Ok(state) => state,
                Err(e) => {
                    // Never applied, never acknowledged as held.
                    self.counters.states_refused.fetch_add(1, Relaxed);
                    tracing::debug!("refused a replicated value: {e}");
                    return Outcome::NeedFull;
                }
            },
            Change::Delta { base, op } => return self.apply_delta(slot, effect, *base, op),
        };
        let now_ms = self.now_ms;
        let key = &effect.key;
        let applied = self.with_slot(slot, |s| {
            s.select(key.db);
            s.apply(&key.name, effect.version.clone(), state, now_ms)
        });
        match applied {
            Applied::Taken | Applied::Merged => Outcome::Applied,
            Applied::Kept => Outcome::Had,
        }
    }

    fn read(&self, slot: u16, key: &DbKey) -> Option<(Version, State)> {
        let mut buf = Vec::new();
        let (version, value) = self.with_slot(slot, |s| {
            s.select(key.db);
            s.key_state(&key.name, self.now_ms, &mut buf)
        })?;
        Some((version, self.state_of(value, buf)))
    }

    fn slot_digest(&self, slot: u16) -> u64 {
        self.with_slot(slot, |s| s.slot_digest(slot))
    }

    fn slot_hashes(&self, slot: u16) -> Vec<(u64, Stamp)> {
        let mut out = Vec::new();
        self.with_slot(slot, |s| s.slot_hashes(slot, self.now_ms, &mut out));
        out
    }

    fn read_hashed(&self, slot: u16, hashes: &[u64]) -> Vec<Entry> {
        let mut entries = Vec::new();
        self.with_slot(slot, |s| {
            s.slot_walk(slot, 0, self.now_ms, |db, key, version, state| {
                if hashes.binary_search(&ringcache_store::key_hash(db, key)).is_ok() {
                    entries.push(entry_of(db, key, version, state));
                }
                true
            })
        });
        entries
    }

    fn slot_chunk(&self, slot: u16, cursor: &[u8], entries_max: usize, bytes_max: usize) -> Chunk {
        let start = <[u8; 8]>::try_from(cursor).map_or(0, u64::from_be_bytes);
        let mut entries = Vec::new();
        let mut bytes = 0;
        let next = self.with_slot(slot, |s| {
            s.slot_walk(slot, start, self.now_ms, |db, key, version, state| {
                if !entries.is_empty() && (entries.len() >= entries_max || bytes >= bytes_max) {
                    return false;
                }
                let entry = entry_of(db, key, version, state);
                bytes += entry.encoded_len();
                entries.push(entry);
                true
            })
        });
        Chunk { entries, next: (next != 0).then(|| Bytes::copy_from_slice(&next.to_be_bytes())) }
    }
}

/// A stored entry as replication carries it (the value encoded for the
/// wire).
fn entry_of(db: u16, key: &[u8], version: &Version, state: StateRef<'_>) -> Entry {
    let state = match state {
        StateRef::Tombstone => State::Tombstone,
        value => {
            let mut buf = Vec::new();
            ringcache_store::codec::encode_state(value, &mut buf);
            State::Value(Bytes::from(buf))
        }
    };
    Entry { key: DbKey::new(db, Bytes::copy_from_slice(key)), version: version.clone(), state }
}

/// What became of the effects of the command a client just ran.
#[derive(Debug)]
pub enum Submitted {
    /// It changed nothing (or nothing is replicated here).
    Nothing,
    /// Its writes, one per slot it changed, are on their way; with their
    /// ids (for WAIT).
    Waiting(Vec<oneshot::Receiver<Done>>, Vec<WriteId>),
    /// They could not start: the client's reply instead of the command's.
    Refused(&'static str),
}

/// Hands what the client's last command changed (`state.changes`) to
/// replication: one write per slot, in the order the slots were first
/// changed.
pub fn submit(shared: &Shared, client: &mut crate::client::Client) -> Submitted {
    let changes = &mut client.state.changes;
    if changes.is_empty() {
        return Submitted::Nothing;
    }
    let Some((cluster, replication)) = shared.cluster.as_ref().and_then(|c| Some((c, c.replication.as_ref()?))) else {
        changes.clear();
        return Submitted::Nothing;
    };
    let mut waits = Vec::with_capacity(1);
    let mut ids = Vec::with_capacity(1);
    while let Some(first) = changes.first() {
        // The common case, one slot, takes everything in one go.
        let slot = first.slot;
        let effects: Vec<Effect> = if changes.iter().all(|c| c.slot == slot) {
            changes.drain(..).map(effect).collect()
        } else {
            let (this, rest): (Vec<_>, Vec<_>) = changes.drain(..).partition(|c| c.slot == slot);
            *changes = rest;
            this.into_iter().map(effect).collect()
        };
        let deltas = effects.iter().filter(|e| matches!(e.change, Change::Delta { .. })).count();
        match replication.write(shared, cluster, slot, effects) {
            Ok((id, rx)) => {
                replication.counters.deltas_sent.fetch_add(deltas as u64, Relaxed);
                waits.push(rx);
                ids.push(id);
            }
            Err(reply) => {
                changes.clear();
                return Submitted::Refused(reply);
            }
        }
    }
    Submitted::Waiting(waits, ids)
}

/// A change of the command layer as replication ships it: its delta if it
/// has one, else the whole new state of the key.
fn effect(c: ringcache_commands::Change) -> Effect {
    let change = match c.delta {
        Some((base, op)) => Change::Delta { base, op },
        None => Change::Full(c.state.map_or(State::Tombstone, State::Value)),
    };
    Effect { key: DbKey::new(c.dbid, c.key), version: c.version, change }
}

/// The reply of a read that fewer than R owners answered in time.
pub const NOREPLICAS_READ: &str = "NOREPLICAS Not enough good replicas to read.";

/// Before a command reads `keys` here with a read quorum R > 1: reads each
/// at R owners, so that the newest version among them is applied here
/// first (read repair) and the command answers from it. `Err`: the
/// command's reply instead.
pub async fn quorum_read(shared: &Shared, keys: Vec<DbKey>) -> Result<(), &'static str> {
    let Some((cluster, replication)) = shared.cluster.as_ref().and_then(|c| Some((c, c.replication.as_ref()?))) else {
        return Ok(());
    };
    let quorum = replication.read_quorum();
    let timeout = Duration::from_millis(shared.with_config(|c| c.cluster_timeout_ms));
    let mut reads = Vec::with_capacity(keys.len());
    for key in keys {
        reads.push(replication.read(shared, cluster, key, quorum)?);
    }
    let all = futures_util::future::join_all(reads);
    match tokio::time::timeout(timeout * 2 + Duration::from_secs(1), all).await {
        Ok(done) if done.iter().all(|d| matches!(d, Ok(true))) => Ok(()),
        _ => Err(NOREPLICAS_READ),
    }
}

/// The keys a command run in database `db` reads that need a quorum read
/// first: those of a read-only command with keys, on a node with R > 1.
/// Empty otherwise.
pub fn quorum_keys(shared: &Shared, db: u16, args: &[&[u8]]) -> Vec<DbKey> {
    let Some(replication) = shared.cluster.as_ref().and_then(|c| c.replication.as_ref()) else {
        return Vec::new();
    };
    if replication.read_quorum() <= 1 {
        return Vec::new();
    }
    let Some(spec) = args.first().and_then(|n| crate::cmd::lookup(n)) else { return Vec::new() };
    if !needs_quorum_read(spec) || !spec.arity_ok(args.len()) {
        return Vec::new();
    }
    spec.keys.of(args).map(|k| DbKey::new(db, Bytes::copy_from_slice(k))).collect()
}

/// Whether `spec` reads keys it declares without writing: what R > 1
/// covers (keyspace-wide reads and transactions are not).
pub fn needs_quorum_read(spec: &crate::cmd::CommandSpec) -> bool {
    spec.has(crate::cmd::flag::READONLY)
        && !spec.has(crate::cmd::flag::WRITE)
        && !matches!(spec.keys, crate::cmd::Keys::None | crate::cmd::Keys::All)
}

/// Waits for `waits`: the fewest owners (this one included) that
/// acknowledged any of them, or `-NOREPLICAS` if one failed. Bounded even
/// if the state machine never answered (it always does, by its deadline).
///
/// A pipeline's writes mostly end together (one `Acked` answers a batch),
/// so by the time a reply's turn comes its writes are usually done: those
/// are taken as they are, and a timer is set only for what is still out.
pub async fn wait(waits: Vec<oneshot::Receiver<Done>>, timeout: Duration) -> Result<usize, &'static str> {
    let mut acks = usize::MAX;
    let mut fold = |done: Result<Done, oneshot::error::RecvError>| match done {
        Ok(Done::Acked(n)) => {
            acks = acks.min(n);
            Ok(())
        }
        Ok(Done::Failed(_)) | Err(_) => Err(NOREPLICAS),
    };
    let mut out = Vec::new();
    for mut rx in waits {
        match rx.try_recv() {
            Ok(done) => fold(Ok(done))?,
            Err(oneshot::error::TryRecvError::Empty) => out.push(rx),
            Err(oneshot::error::TryRecvError::Closed) => return Err(NOREPLICAS),
        }
    }
    let limit = timeout * 2 + Duration::from_secs(1);
    match out.len() {
        0 => {}
        1 => {
            let rx = out.pop().expect("one");
            fold(tokio::time::timeout(limit, rx).await.map_err(|_| NOREPLICAS)?)?;
        }
        _ => {
            let all = futures_util::future::join_all(out);
            for done in tokio::time::timeout(limit, all).await.map_err(|_| NOREPLICAS)? {
                fold(done)?;
            }
        }
    }
    Ok(acks)
}
