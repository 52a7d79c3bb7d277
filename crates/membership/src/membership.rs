//! [`Membership`]: one node's membership state machine, wrapping foca.
//!
//! foca runs SWIM: it asks for messages to be sent and timers to be set
//! through its `Runtime`. Here the runtime only collects: messages go to the
//! caller's [`Output`], timers into a heap ordered by due time that
//! [`Membership::tick`] fires. Time is only what the caller passes in
//! (`now_ms`, any monotonic millisecond clock); nothing reads a clock.
//!
//! After every call the member table is read back from foca and compared
//! with the current [`View`]; if anything differs a new view is published
//! with the next epoch, and the [`Event`]s between the two are reported.
//! Events are derived from views, never from foca's notifications, so the
//! two can never disagree.
//!
//! Invariants:
//! - `handle` drops, and counts, every message that fails to decode, that
//!   is over `message_len_max`, or whose header names a sender other than
//!   the one the (authenticated) transport delivered it from.
//! - A timer fires at the first `tick` at or after its due time, in due
//!   order; timers due at the same time fire in the order they were set.
//! - `now_ms` never goes back: an earlier value is treated as the latest.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use foca::{Foca, Member, NoCustomBroadcast, OwnedNotification, Runtime, State, Timer};
use rand_foca::rngs::SmallRng;
use rand_foca::{RngExt, SeedableRng};
use ringcache_ring::NodeId;

use crate::codec::{decode_header, decode_sync, encode_sync, WireCodec, SYNC_KIND};
use crate::config::Config;
use crate::error::{Error, Refusal, Result};
use crate::identity::{Identity, NODE_ID_WIRE_MAX};
use crate::view::{diff, Event, MemberInfo, MemberState, NodeMeta, Phase, View};

/// A gossip message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub to: NodeId,
    /// The address the sender believes `to` has (the transport may not know
    /// this node yet).
    pub addr: SocketAddr,
    pub bytes: Bytes,
}

/// What one call produced: messages to send, and what changed in the view.
#[derive(Debug, Clone, Default)]
pub struct Output {
    pub sends: Vec<Outgoing>,
    pub events: Vec<Event>,
}

impl Output {
    pub fn new() -> Output {
        Output::default()
    }

    pub fn clear(&mut self) {
        self.sends.clear();
        self.events.clear();
    }
}

/// Counters, for `INFO` and the figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub messages_sent: u64,
    pub bytes_sent: u64,
    pub messages_received: u64,
    pub bytes_received: u64,
    pub refused_decode: u64,
    pub refused_too_long: u64,
    pub refused_wrong_sender: u64,
    /// Decoded, but foca would not take it (from ourselves, malformed, ...).
    pub refused_engine: u64,
    pub views_published: u64,
    /// Times this node learned it had been declared dead while it ran, and
    /// came back under its next revision: false deaths, seen from inside.
    pub rejoins: u64,
    /// foca's mistaken "you are dead" messages dropped (see
    /// `is_mistaken_turn_undead`).
    pub turn_undead_suppressed: u64,
    /// Messages from an identity this node was told to forget.
    pub refused_forgotten: u64,
}

type Engine = Foca<Identity, WireCodec, SmallRng, NoCustomBroadcast>;

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Due {
    at_ms: u64,
    seq: u64,
}

/// A node's membership: the gossip engine, its timers and the current view.
pub struct Membership {
    config: Config,
    foca: Engine,
    timers: BinaryHeap<Reverse<(Due, TimerSlot)>>,
    timer_seq: u64,
    now_ms: u64,
    rng: SmallRng,
    view: Arc<View>,
    /// Where to announce while not connected: given seeds.
    seeds: Vec<Identity>,
    connected: bool,
    next_join_retry_ms: u64,
    /// Set by `leave`: when to go quiet.
    quiet_at_ms: Option<u64>,
    quiet: bool,
    /// Members forgotten on purpose ([`Membership::forget`]), with the
    /// newest identity age forgotten: identities up to it are kept out of
    /// the view; a newer one (the node restarted) ends the forgetting.
    forgotten: BTreeMap<NodeId, (u64, u32)>,
    stats: Stats,
}

impl std::fmt::Debug for Membership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Membership")
            .field("identity", self.foca.identity())
            .field("epoch", &self.view.epoch())
            .field("connected", &self.connected)
            .finish_non_exhaustive()
    }
}

/// foca's `Timer` is ordered only by kind; the heap needs `Ord` on the
/// payload, so it is wrapped and never compared (the `Due` key is unique).
struct TimerSlot(Timer<Identity>);

impl PartialEq for TimerSlot {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for TimerSlot {}
impl PartialOrd for TimerSlot {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for TimerSlot {
    fn cmp(&self, _: &Self) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
}

/// foca's runtime, collecting into plain vectors.
struct Collect {
    now_ms: u64,
    sends: Vec<(Identity, Bytes)>,
    timers: Vec<(u64, Timer<Identity>)>,
    notes: Vec<OwnedNotification<Identity>>,
}

impl Collect {
    fn new(now_ms: u64) -> Collect {
        Collect { now_ms, sends: Vec::new(), timers: Vec::new(), notes: Vec::new() }
    }
}

impl Runtime<Identity> for Collect {
    fn notify(&mut self, notification: foca::Notification<'_, Identity>) {
        self.notes.push(notification.to_owned());
    }

    fn send_to(&mut self, to: Identity, data: &[u8]) {
        self.sends.push((to, Bytes::copy_from_slice(data)));
    }

    fn submit_after(&mut self, event: Timer<Identity>, after: Duration) {
        let after_ms = u64::try_from(after.as_millis()).unwrap_or(u64::MAX);
        self.timers.push((self.now_ms.saturating_add(after_ms), event));
    }
}

/// Checks an identity a caller made (the wire carries ids of 1..=255 bytes).
pub fn check_identity(id: &Identity) -> Result<()> {
    let len = id.node_id.as_str().len();
    if len == 0 || len > NODE_ID_WIRE_MAX {
        return Err(Error::InvalidIdentity("node id must be 1 to 255 bytes"));
    }
    if id.meta.phase == Phase::Left {
        return Err(Error::InvalidIdentity("a node cannot start as left"));
    }
    Ok(())
}

impl Membership {
    /// A node that knows only itself. `rng_seed` drives every random choice
    /// (which member to probe or gossip to); simulations pass theirs.
    pub fn new(identity: Identity, config: Config, rng_seed: u64) -> Result<Membership> {
        config.validate()?;
        check_identity(&identity)?;
        let foca = Foca::new(identity.clone(), config.to_foca(), SmallRng::seed_from_u64(rng_seed), WireCodec);
        let view = View::new(0, identity.node_id.clone(), vec![self_info(&identity, false)]);
        Ok(Membership {
            config,
            foca,
            timers: BinaryHeap::new(),
            timer_seq: 0,
            now_ms: 0,
            rng: SmallRng::seed_from_u64(rng_seed ^ 0x6d65_6d62_6572_7321),
            view: Arc::new(view),
            seeds: Vec::new(),
            connected: false,
            next_join_retry_ms: 0,
            quiet_at_ms: None,
            quiet: false,
            forgotten: BTreeMap::new(),
            stats: Stats::default(),
        })
    }

    /// The current view (cheap to clone and keep).
    pub fn view(&self) -> &Arc<View> {
        &self.view
    }

    pub fn identity(&self) -> &Identity {
        self.foca.identity()
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Whether some live member has heard from this node's current identity.
    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// True once a `leave` has finished lingering: the node may stop.
    pub fn has_left(&self) -> bool {
        self.quiet
    }

    /// The pending engine timers, due time first (for debugging a schedule).
    pub fn pending_timers(&self) -> Vec<(u64, String)> {
        let mut v: Vec<(u64, String)> =
            self.timers.iter().map(|Reverse((due, TimerSlot(t)))| (due.at_ms, format!("{t:?}"))).collect();
        v.sort();
        v
    }

    /// When `tick` next has work to do.
    pub fn next_deadline_ms(&self) -> Option<u64> {
        let timer = self.timers.peek().map(|Reverse((due, _))| due.at_ms);
        let retry =
            (!self.connected && !self.quiet && (self.foca.iter_membership_state().len() > 0 || !self.seeds.is_empty()))
                .then_some(self.next_join_retry_ms);
        let quiet = self.quiet_at_ms.filter(|_| !self.quiet);
        [timer, retry, quiet].into_iter().flatten().min()
    }

    /// Starts joining through `seeds` (node id and cluster address each;
    /// any few members will do). Announces to all of them now, and again
    /// every `join_retry_ms` until some member answers.
    pub fn join(&mut self, seeds: &[(NodeId, SocketAddr)], now_ms: u64, out: &mut Output) {
        self.advance(now_ms);
        let own = self.foca.identity().node_id.clone();
        self.seeds = seeds.iter().filter(|(id, _)| *id != own).map(|(id, addr)| seed_identity(id, *addr)).collect();
        self.announce_seeds(out);
        self.finish(Collect::new(self.now_ms), out);
    }

    /// A message from `from`, as the authenticated transport delivered it.
    pub fn handle(
        &mut self,
        from: &NodeId,
        bytes: &[u8],
        now_ms: u64,
        out: &mut Output,
    ) -> std::result::Result<(), Refusal> {
        self.advance(now_ms);
        self.stats.messages_received += 1;
        self.stats.bytes_received += bytes.len() as u64;
        if bytes.len() > self.config.message_len_max {
            self.stats.refused_too_long += 1;
            return Err(Refusal::TooLong { len: bytes.len(), max: self.config.message_len_max });
        }
        if bytes.first() == Some(&SYNC_KIND) {
            return self.handle_sync(from, bytes, out);
        }
        let header = match decode_header(&mut &bytes[..]) {
            Ok(h) => h,
            Err(e) => {
                self.stats.refused_decode += 1;
                return Err(e);
            }
        };
        if header.src.node_id != *from {
            self.stats.refused_wrong_sender += 1;
            return Err(Refusal::WrongSender { claimed: header.src.node_id, from: from.clone() });
        }
        if self.quiet {
            return Ok(());
        }
        if self.is_forgotten(&header.src) {
            self.stats.refused_forgotten += 1;
            return Ok(());
        }
        let mut rt = Collect::new(self.now_ms);
        let result = self.foca.handle_data(bytes, &mut rt);
        if result.is_ok() && header.message == foca::Message::Announce {
            self.send_sync(&header.src, &mut rt);
        }
        self.finish(rt, out);
        result.map_err(|e| {
            match e {
                foca::Error::Decode(_) => self.stats.refused_decode += 1,
                _ => self.stats.refused_engine += 1,
            }
            Refusal::Engine(e.to_string())
        })
    }

    /// foca answers an announce with a feed of *live* members only, so a
    /// node that joins after another died or left would never hear of it,
    /// and its view (and its ring) would differ from everyone else's. The
    /// announcer also gets a sync of the members foca holds down, and of
    /// every left one.
    fn send_sync(&mut self, to: &Identity, rt: &mut Collect) {
        let gone: Vec<Member<Identity>> = self
            .foca
            .iter_membership_state()
            .filter(|m| (m.state() == State::Down || m.id().meta.phase == Phase::Left) && m.id().node_id != to.node_id)
            .filter(|m| !self.is_forgotten(m.id()))
            .cloned()
            .collect();
        if gone.is_empty() {
            return;
        }
        let (bytes, _) = encode_sync(self.foca.identity(), &gone, self.config.message_len_max);
        rt.sends.push((to.clone(), Bytes::from(bytes)));
    }

    fn handle_sync(&mut self, from: &NodeId, bytes: &[u8], out: &mut Output) -> std::result::Result<(), Refusal> {
        let (src, members) = match decode_sync(bytes) {
            Ok(s) => s,
            Err(e) => {
                self.stats.refused_decode += 1;
                return Err(e);
            }
        };
        if src.node_id != *from {
            self.stats.refused_wrong_sender += 1;
            return Err(Refusal::WrongSender { claimed: src.node_id, from: from.clone() });
        }
        if self.quiet {
            return Ok(());
        }
        // Never let a peer's list speak for this node: foca would take a
        // stale "down" about our own identity as a verdict on us.
        let own = self.foca.identity().node_id.clone();
        let members: Vec<Member<Identity>> =
            members.into_iter().filter(|m| m.id().node_id != own && !self.is_forgotten(m.id())).collect();
        let mut rt = Collect::new(self.now_ms);
        // Not rebroadcast: the sender's peers know these already.
        let result = self.foca.apply_many(members.into_iter(), false, &mut rt);
        self.finish(rt, out);
        result.map_err(|e| {
            self.stats.refused_engine += 1;
            Refusal::Engine(e.to_string())
        })
    }

    /// Time passed: fire every timer due by `now_ms`, retry a join, finish
    /// a leave.
    pub fn tick(&mut self, now_ms: u64, out: &mut Output) {
        self.advance(now_ms);
        let mut rt = Collect::new(self.now_ms);
        while let Some(Reverse((due, _))) = self.timers.peek() {
            if due.at_ms > self.now_ms || self.quiet {
                break;
            }
            let Some(Reverse((_, TimerSlot(timer)))) = self.timers.pop() else { break };
            // A timer error is foca refusing a stale event (e.g. a probe
            // cycle cut short by an identity change): nothing to undo.
            let _ = self.foca.handle_timer(timer, &mut rt);
            // Timers set while handling must be able to fire in this tick.
            self.push_timers(&mut rt);
        }
        if !self.connected && !self.quiet && self.now_ms >= self.next_join_retry_ms {
            self.retry_join(&mut rt);
        }
        if let Some(at) = self.quiet_at_ms {
            if !self.quiet && self.now_ms >= at {
                let _ = self.foca.leave_cluster(&mut rt);
                self.quiet = true;
                self.timers.clear();
            }
        }
        self.finish(rt, out);
    }

    /// Moves this node to `phase` (forward only: joining → serving →
    /// leaving → left) and tells the cluster.
    pub fn set_phase(&mut self, phase: Phase, now_ms: u64, out: &mut Output) -> Result<()> {
        let from = self.foca.identity().meta.phase;
        if !from.may_become(phase) {
            return Err(Error::PhaseChange { from, to: phase });
        }
        if phase == Phase::Left {
            return self.leave(now_ms, out);
        }
        self.change_self(now_ms, out, |id| id.meta.phase = phase)
    }

    /// Publishes new metadata (its phase must stay the same; use
    /// [`Membership::set_phase`] for that).
    pub fn set_meta(&mut self, meta: NodeMeta, now_ms: u64, out: &mut Output) -> Result<()> {
        if meta.phase != self.foca.identity().meta.phase {
            return Err(Error::PhaseChange { from: self.foca.identity().meta.phase, to: meta.phase });
        }
        self.change_self(now_ms, out, |id| id.meta = meta)
    }

    /// This node's cluster address changed (same node id, same data).
    pub fn set_addr(&mut self, addr: SocketAddr, now_ms: u64, out: &mut Output) -> Result<()> {
        self.change_self(now_ms, out, |id| id.addr = addr)
    }

    /// Leaves on purpose: publishes the `Left` identity at once, keeps
    /// gossiping it for `leave_linger_ms`, then goes quiet
    /// ([`Membership::has_left`]). Call it after the data is handed off.
    pub fn leave(&mut self, now_ms: u64, out: &mut Output) -> Result<()> {
        self.change_self(now_ms, out, |id| id.meta.phase = Phase::Left)?;
        self.quiet_at_ms = Some(self.now_ms.saturating_add(self.config.leave_linger_ms));
        Ok(())
    }

    /// Forgets a dead or left member: it leaves this node's view, and no
    /// message from or about that identity (or an older one) brings it
    /// back; a newer identity of the node (it restarted, or renewed itself
    /// after a false death) is a member again. Local: the caller tells the
    /// other nodes.
    pub fn forget(&mut self, node: &NodeId, now_ms: u64, out: &mut Output) -> Result<()> {
        self.advance(now_ms);
        if *node == self.foca.identity().node_id {
            return Err(Error::ForgetSelf);
        }
        let member = self.view.get(node).ok_or_else(|| Error::UnknownNode(node.clone()))?;
        if member.state.is_live() {
            return Err(Error::ForgetLive(node.clone()));
        }
        let age = (member.generation, member.revision);
        self.forgotten.insert(node.clone(), age);
        self.refresh_view(out);
        Ok(())
    }

    /// Whether `id` is an identity this node forgot (or an older one).
    fn is_forgotten(&self, id: &Identity) -> bool {
        self.forgotten.get(&id.node_id).is_some_and(|&age| id.age() <= age)
    }

    fn change_self(&mut self, now_ms: u64, out: &mut Output, change: impl FnOnce(&mut Identity)) -> Result<()> {
        self.advance(now_ms);
        if self.quiet || self.quiet_at_ms.is_some() {
            return Err(Error::Left);
        }
        let mut next = self.foca.identity().next_revision();
        change(&mut next);
        if (Identity { revision: self.foca.identity().revision, ..next.clone() }) == *self.foca.identity() {
            return Err(Error::Unchanged);
        }
        let mut rt = Collect::new(self.now_ms);
        self.foca.change_identity(next, &mut rt).map_err(|e| Error::Engine(e.to_string()))?;
        // foca now waits for a message addressed to the new identity; ask
        // for one rather than wait for the gossip to come round.
        self.connected = false;
        self.retry_join(&mut rt);
        self.finish(rt, out);
        Ok(())
    }

    fn advance(&mut self, now_ms: u64) {
        self.now_ms = self.now_ms.max(now_ms);
    }

    fn announce_seeds(&mut self, out: &mut Output) {
        let mut rt = Collect::new(self.now_ms);
        for seed in self.seeds.clone() {
            let _ = self.foca.announce(seed, &mut rt);
        }
        self.next_join_retry_ms = self.now_ms.saturating_add(self.config.join_retry_ms);
        self.finish(rt, out);
    }

    /// Announces to up to three known live members, or to the seeds when
    /// none is known, or, with no seeds either, to up to three members
    /// held dead: a node that was declared dead by everyone (a partition, a
    /// stall) and holds everyone dead in turn has nobody else to ask, and
    /// waiting for the others' announces to the dead would take several
    /// `announce_dead_interval_ms`.
    fn retry_join(&mut self, rt: &mut Collect) {
        self.next_join_retry_ms = self.now_ms.saturating_add(self.config.join_retry_ms);
        let mut known: Vec<Identity> = self.foca.iter_members().map(|m| m.id().clone()).collect();
        if known.is_empty() && self.seeds.is_empty() {
            known = self
                .foca
                .iter_membership_state()
                .map(|m| m.id())
                .filter(|id| id.meta.phase != Phase::Left && !self.is_forgotten(id))
                .cloned()
                .collect();
        }
        known.sort_by(|a, b| a.node_id.cmp(&b.node_id));
        let targets: Vec<Identity> = if known.is_empty() {
            self.seeds.clone()
        } else {
            (0..3.min(known.len())).map(|_| known[self.rng.random_range(0..known.len())].clone()).collect()
        };
        for t in targets {
            let _ = self.foca.announce(t, &mut *rt);
        }
    }

    fn push_timers(&mut self, rt: &mut Collect) {
        for (at_ms, timer) in rt.timers.drain(..) {
            self.timer_seq += 1;
            self.timers.push(Reverse((Due { at_ms, seq: self.timer_seq }, TimerSlot(timer))));
        }
    }

    /// Applies what foca asked for, then republishes the view if it changed.
    fn finish(&mut self, mut rt: Collect, out: &mut Output) {
        self.push_timers(&mut rt);
        for (to, bytes) in rt.sends.drain(..) {
            if self.is_mistaken_turn_undead(&to, &bytes) {
                self.stats.turn_undead_suppressed += 1;
                continue;
            }
            debug_assert!(bytes.len() <= self.config.message_len_max, "foca keeps to max_packet_size");
            self.stats.messages_sent += 1;
            self.stats.bytes_sent += bytes.len() as u64;
            out.sends.push(Outgoing { to: to.node_id, addr: to.addr, bytes });
        }
        for note in rt.notes.drain(..) {
            match note {
                OwnedNotification::Active => self.connected = true,
                OwnedNotification::Idle | OwnedNotification::Defunct => self.connected = false,
                OwnedNotification::Rejoin(_) => {
                    // Declared dead while running; foca renewed our identity
                    // and now waits, like after any identity change, for a
                    // message addressed to the new one.
                    self.stats.rejoins += 1;
                    self.connected = false;
                    self.next_join_retry_ms = self.now_ms;
                }
                _ => {}
            }
        }
        self.refresh_view(out);
    }

    /// foca 2.0.0 sends `TurnUndead` ("you are dead") when a suspicion
    /// timer fires even if the suspect refuted in time (its
    /// `ChangeSuspectToDown` handler notifies whenever the member exists,
    /// not only when the condition held), and the suspect then kills and
    /// renews itself. Found by the 20 % loss simulation; the fix here drops
    /// a `TurnUndead` to a member foca itself still holds alive or suspect.
    fn is_mistaken_turn_undead(&self, to: &Identity, bytes: &[u8]) -> bool {
        let Ok(header) = decode_header(&mut &bytes[..]) else { return false };
        header.message == foca::Message::TurnUndead
            && self.foca.iter_membership_state().any(|m| m.id() == to && m.state() != State::Down)
    }

    fn refresh_view(&mut self, out: &mut Output) {
        let me = self.foca.identity();
        let mut members: Vec<MemberInfo> = Vec::with_capacity(self.foca.iter_membership_state().len() + 1);
        members.push(self_info(me, self.quiet));
        let forgotten = &mut self.forgotten;
        members.extend(self.foca.iter_membership_state().filter_map(|m| {
            let age = m.id().age();
            match forgotten.get(&m.id().node_id) {
                Some(&gone) if age <= gone => return None,
                // A newer identity: the node came back; forgetting ends.
                Some(_) => {
                    forgotten.remove(&m.id().node_id);
                }
                None => {}
            }
            Some(member_info(m))
        }));
        members.sort_by(|a, b| a.node_id.cmp(&b.node_id));
        if members[..] == *self.view.members() {
            return;
        }
        let next = View::new(self.view.epoch() + 1, me.node_id.clone(), members);
        diff(&self.view, &next, &mut out.events);
        self.view = Arc::new(next);
        self.stats.views_published += 1;
    }
}

fn seed_identity(id: &NodeId, addr: SocketAddr) -> Identity {
    // An announce is accepted by node id alone; the rest is a placeholder
    // that the seed's own identity replaces as soon as it answers.
    Identity { node_id: id.clone(), generation: 0, revision: 0, addr, meta: NodeMeta::default() }
}

fn self_info(me: &Identity, quiet: bool) -> MemberInfo {
    let state = if me.meta.phase == Phase::Left || quiet { MemberState::Left } else { MemberState::Alive };
    MemberInfo {
        node_id: me.node_id.clone(),
        state,
        generation: me.generation,
        revision: me.revision,
        incarnation: 0,
        addr: me.addr,
        meta: me.meta,
    }
}

fn member_info(m: &Member<Identity>) -> MemberInfo {
    let id = m.id();
    let state = match (m.state(), id.meta.phase) {
        (_, Phase::Left) => MemberState::Left,
        (State::Alive, _) => MemberState::Alive,
        (State::Suspect, _) => MemberState::Suspect,
        (State::Down, _) => MemberState::Dead,
    };
    MemberInfo {
        node_id: id.node_id.clone(),
        state,
        generation: id.generation,
        revision: id.revision,
        incarnation: m.incarnation(),
        addr: id.addr,
        meta: id.meta,
    }
}
