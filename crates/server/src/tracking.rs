//! Server-assisted client-side caching (CLIENT TRACKING), with Redis
//! 7.2's semantics (its `tracking.c`).
//!
//! - Default mode: after a client with tracking on runs a read-only
//!   command, the command's keys go into the tracking table (key → ids of
//!   the clients that may cache it). When such a key changes, its entry
//!   is taken out of the table and each of those clients gets one
//!   invalidation message naming it. OPTIN / OPTOUT and CLIENT CACHING
//!   choose which reads are remembered.
//! - BCAST mode: nothing is remembered; every changed key that starts with
//!   one of the client's prefixes is sent to it, one message per prefix
//!   per command with all of that command's keys.
//! - A flush (FLUSHDB, FLUSHALL) sends every tracking client a null
//!   invalidation and empties the table.
//! - Messages go to the client itself as RESP3 pushes (`>2 invalidate
//!   [keys]`), or to the REDIRECT client: as a push if it speaks RESP3, as
//!   a Pub/Sub message on `__redis__:invalidate` if it is a RESP2
//!   subscriber, and not at all otherwise. A redirect to a client that has
//!   gone marks the tracking client broken (`tracking-redir-broken`).
//!
//! Which keys changed comes from the keyspace itself
//! (`ringcache_store::invalidate`): while any client tracks, every change
//! (writes, deletes, lazy and active expiry, eviction, replicated writes)
//! and every flush is recorded on the thread that made it, and drained
//! here after the command, expiry cycle or replication batch that ran on
//! that thread ([`Tracking::deliver`]). With no client tracking, a command
//! pays one relaxed load to learn so.
//!
//! Invariants:
//! - The table holds at most `tracking-table-max-keys` keys (0: no limit)
//!   once a command has finished: past it, keys are taken out and
//!   invalidated, as if they had changed.
//! - A client's messages go through its connection's mailbox (the one
//!   Pub/Sub uses), so they follow the reply of the command that caused
//!   them and never wait for the writer.
//! - Ids in the table may name clients that have since turned tracking
//!   off or gone (as in Redis, nothing is cleaned up per client): a
//!   message is only sent to a client whose mode still asks for it.
//!
//! In a cluster the state is per node. In `proxy` mode a tracking client's
//! forwarded reads are remembered on its own node, and the other nodes
//! send the keys that change there over the Pub/Sub bus while a node with
//! tracking clients keeps announcing itself (docs/tracking.md).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use dashmap::DashMap;
use indexmap::IndexMap;
use parking_lot::{Mutex, RwLock};
use ringcache_commands::{Caller, Ran};
use ringcache_resp::Proto;
use ringcache_store::invalidate::{self, Cause, Change};

use crate::client::{Client, ClientInfo};
use crate::cmd::{flag, CommandSpec};
use crate::config::ClusterMode;
use crate::pubsub::Kind;
use crate::shared::Shared;

/// Cluster bus channels (see [`Tracking::receive`]): never delivered to
/// subscribers. A node with tracking clients announces itself on the
/// first; nodes that heard it send the keys that change there on the
/// other. (Flushes are not sent: in `proxy` mode every node runs them.)
pub const CHANNEL_TRACKING: &[u8] = b"__ringcache__:tracking";
pub const CHANNEL_INVALIDATE: &[u8] = b"__ringcache__:invalidate";
/// How often a node with tracking clients announces itself.
const ANNOUNCE_MS: u64 = 1000;
/// How long an announcement holds: a few announcements may be lost.
const LEASE_MS: u64 = 5000;

/// A client's tracking mode: what CLIENT TRACKING set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mode {
    pub on: bool,
    pub bcast: bool,
    pub optin: bool,
    pub optout: bool,
    pub noloop: bool,
    /// REDIRECT's client id; 0 for none.
    pub redirect: u64,
    /// BCAST's prefixes (the empty prefix when none was given), in the
    /// order they were added.
    pub prefixes: Vec<Bytes>,
}

/// What a client's tracking looks like to other connections (delivery,
/// CLIENT LIST): kept in its [`ClientInfo`].
#[derive(Debug, Default)]
pub struct Shown {
    pub mode: Mutex<Mode>,
    /// The REDIRECT client was gone when a message was due (`R`).
    pub broken: AtomicBool,
}

/// The node's tracking state. See the module docs.
#[derive(Debug, Default)]
pub struct Tracking {
    /// Clients with tracking on; guards the keyspace's invalidation switch,
    /// which is on while any client tracks. When the last one stops, the
    /// table is emptied: nobody could be told of its keys any more.
    clients: Mutex<usize>,
    /// `clients`, readable without the lock (INFO).
    clients_shown: AtomicUsize,
    /// Key → the clients (ids) that may hold it, in default mode.
    table: DashMap<Bytes, Vec<u64>>,
    /// The table's ids, counted (INFO `tracking_total_items`).
    items: AtomicUsize,
    /// BCAST: prefix → the clients (ids) listening to it.
    prefixes: RwLock<Vec<(Bytes, Vec<u64>)>>,
    /// `tracking-table-max-keys` (0: no limit).
    max_keys: AtomicUsize,
    /// `proxy` mode: until when (ms) another node has tracking clients, so
    /// this one sends it what changes here.
    peers_until_ms: AtomicU64,
    /// When this node last announced its tracking clients.
    announced_ms: AtomicU64,
}

/// An invalidation's payload: keys, or everything.
enum Payload<'a> {
    Keys(&'a [&'a [u8]]),
    /// A flush: the null of the tracking client's protocol.
    All(Proto),
}

/// Redis's checks, in its order, for `CLIENT TRACKING ON` with `new`
/// options given to a client now in `old`.
pub fn check(old: &Mode, new: &Mode) -> Result<(), String> {
    if !new.bcast && !new.prefixes.is_empty() {
        return Err("ERR PREFIX option requires BCAST mode to be enabled".to_owned());
    }
    if old.on && old.bcast != new.bcast {
        return Err("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.".to_owned());
    }
    if new.bcast && (new.optin || new.optout) {
        return Err("ERR OPTIN and OPTOUT are not compatible with BCAST".to_owned());
    }
    if new.optin && new.optout {
        return Err("ERR You can't specify both OPTIN mode and OPTOUT mode".to_owned());
    }
    if old.on && ((new.optin && old.optout) || (new.optout && old.optin)) {
        return Err("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.".to_owned());
    }
    if new.bcast {
        check_prefixes(if old.on { &old.prefixes } else { &[] }, &new.prefixes)?;
    }
    Ok(())
}

/// Whether one of `a` and `b` starts with the other.
fn overlap(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().min(b.len());
    a[..n] == b[..n]
}

/// Redis's `checkPrefixCollisionsOrReply`.
fn check_prefixes(existing: &[Bytes], given: &[Bytes]) -> Result<(), String> {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    for (i, p) in given.iter().enumerate() {
        if let Some(e) = existing.iter().find(|e| overlap(e, p)) {
            return Err(format!(
                "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                text(p),
                text(e)
            ));
        }
        if let Some(q) = given[i + 1..].iter().find(|q| overlap(p, q)) {
            return Err(format!(
                "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                text(p),
                text(q)
            ));
        }
    }
    Ok(())
}

fn bulk(out: &mut BytesMut, b: &[u8]) {
    out.put_u8(b'$');
    out.extend_from_slice(itoa::Buffer::new().format(b.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(b);
    out.extend_from_slice(b"\r\n");
}

/// One invalidation message, as a RESP3 push or as a RESP2 Pub/Sub
/// message on `__redis__:invalidate`.
fn message(push: bool, payload: &Payload<'_>) -> Bytes {
    let mut out = BytesMut::with_capacity(64);
    if push {
        out.extend_from_slice(b">2\r\n");
        bulk(&mut out, b"invalidate");
    } else {
        out.extend_from_slice(b"*3\r\n");
        bulk(&mut out, b"message");
        bulk(&mut out, b"__redis__:invalidate");
    }
    match payload {
        Payload::Keys(keys) => {
            out.put_u8(b'*');
            out.extend_from_slice(itoa::Buffer::new().format(keys.len()).as_bytes());
            out.extend_from_slice(b"\r\n");
            for k in keys.iter() {
                bulk(&mut out, k);
            }
        }
        Payload::All(Proto::Resp3) => out.extend_from_slice(b"_\r\n"),
        Payload::All(Proto::Resp2) => out.extend_from_slice(b"$-1\r\n"),
    }
    out.freeze()
}

impl Tracking {
    /// Applies `tracking-table-max-keys` (start-up and CONFIG SET).
    pub fn set_max_keys(&self, max: u64) {
        self.max_keys.store(usize::try_from(max).unwrap_or(usize::MAX), Relaxed);
    }

    /// INFO `tracking_clients`.
    pub fn clients(&self) -> usize {
        self.clients_shown.load(Relaxed)
    }

    /// INFO `tracking_total_keys`.
    pub fn keys(&self) -> usize {
        self.table.len()
    }

    /// INFO `tracking_total_items`.
    pub fn items(&self) -> usize {
        self.items.load(Relaxed)
    }

    /// INFO `tracking_total_prefixes`.
    pub fn prefixes(&self) -> usize {
        self.prefixes.read().len()
    }

    /// CLIENT TRACKING ON for `client`, whose options passed [`check`]:
    /// flags are replaced, BCAST prefixes added to those it has.
    pub fn enable(&self, shared: &Shared, client: &mut Client, new: Mode) {
        let mut mode = client.info.tracking.mode.lock();
        if !mode.on {
            let mut n = self.clients.lock();
            *n += 1;
            self.clients_shown.store(*n, Relaxed);
            shared.db.set_invalidation(true);
            if *n == 1 {
                // At once, so that the other nodes start sending changes.
                self.announce(shared, ringcache_store::now_ms());
            }
        }
        let mut prefixes = if mode.on { std::mem::take(&mut mode.prefixes) } else { Vec::new() };
        if new.bcast {
            let added: Vec<Bytes> = if new.prefixes.is_empty() { vec![Bytes::new()] } else { new.prefixes };
            let mut table = self.prefixes.write();
            for p in added {
                if prefixes.contains(&p) {
                    continue;
                }
                match table.iter_mut().find(|(q, _)| *q == p) {
                    Some((_, ids)) => ids.push(client.id),
                    None => table.push((p.clone(), vec![client.id])),
                }
                prefixes.push(p);
            }
        }
        *mode = Mode { on: true, prefixes, ..new };
        client.info.tracking.broken.store(false, Relaxed);
        client.tracking = mode.clone();
        drop(mode);
        // Its messages go through its mailbox, created now.
        client.mailbox();
    }

    /// CLIENT TRACKING OFF (and RESET, and a closing connection).
    pub fn disable(&self, shared: &Shared, client: &mut Client) {
        let mut mode = client.info.tracking.mode.lock();
        if !mode.on {
            return;
        }
        if !mode.prefixes.is_empty() {
            let mut table = self.prefixes.write();
            for p in &mode.prefixes {
                if let Some(at) = table.iter().position(|(q, _)| q == p) {
                    table[at].1.retain(|&id| id != client.id);
                    if table[at].1.is_empty() {
                        table.remove(at);
                    }
                }
            }
        }
        *mode = Mode::default();
        client.info.tracking.broken.store(false, Relaxed);
        client.tracking = Mode::default();
        client.caching = false;
        let mut n = self.clients.lock();
        *n -= 1;
        self.clients_shown.store(*n, Relaxed);
        if *n == 0 {
            // Keys are only added while a client tracks (under the
            // switch), so the table stays empty until one does again.
            shared.db.set_invalidation(self.peers_track(ringcache_store::now_ms()));
            self.table.clear();
            self.items.store(0, Relaxed);
        }
    }

    fn cluster_wide(shared: &Shared) -> bool {
        shared.cluster.as_ref().is_some_and(|c| c.mode == ClusterMode::Proxy)
    }

    fn peers_track(&self, now_ms: u64) -> bool {
        self.peers_until_ms.load(Relaxed) > now_ms
    }

    /// `proxy` mode: tells the other nodes that this one has tracking
    /// clients.
    fn announce(&self, shared: &Shared, now_ms: u64) {
        if Self::cluster_wide(shared) {
            self.announced_ms.store(now_ms, Relaxed);
            shared.pubsub.bus.send(Kind::Channel, CHANNEL_TRACKING, b"");
        }
    }

    /// Every background cycle: in `proxy` mode, announces this node's
    /// tracking clients again, and turns the switch off once no client
    /// here tracks and no other node's announcement holds.
    pub fn tick(&self, shared: &Shared) {
        if !Self::cluster_wide(shared) {
            return;
        }
        let now_ms = ringcache_store::now_ms();
        let n = self.clients.lock();
        if *n > 0 && now_ms.saturating_sub(self.announced_ms.load(Relaxed)) >= ANNOUNCE_MS {
            self.announce(shared, now_ms);
        }
        shared.db.set_invalidation(*n > 0 || self.peers_track(now_ms));
    }

    /// A cluster bus message on one of the tracking channels (which
    /// subscribers never see); false for any other channel.
    pub fn receive(&self, shared: &Shared, channel: &[u8], message: &[u8]) -> bool {
        if channel == CHANNEL_TRACKING {
            let until = ringcache_store::now_ms() + LEASE_MS;
            self.peers_until_ms.fetch_max(until, Relaxed);
            shared.db.set_invalidation(true);
        } else if channel == CHANNEL_INVALIDATE {
            if self.clients() > 0 {
                self.invalidate_key(shared, message, None);
                if !self.prefixes.read().is_empty() {
                    self.broadcast(shared, &IndexMap::from([(Bytes::copy_from_slice(message), None)]));
                }
            }
        } else {
            return false;
        }
        true
    }

    /// A tracking client's read that runs on another node (`proxy` mode):
    /// its keys are remembered here, where the client is.
    pub fn remember_forwarded(&self, client: &mut Client, spec: Option<&'static CommandSpec>, args: &[&[u8]]) {
        if let Some(spec) = spec {
            self.remember_keys(client, spec, args, Caller::Client);
        }
    }

    /// After a command's handler ran for `client` (from `Env::command_ran`,
    /// whoever called it): remembers the keys of a read in default mode,
    /// and, after a client's own command, delivers the invalidations of
    /// what it changed.
    #[inline]
    pub fn command_ran(&self, shared: &Shared, client: &mut Client, ran: &Ran<'_, Shared>) {
        if client.tracking.on {
            self.remember(client, ran);
        }
        if ran.caller == Caller::Client && shared.db.invalidation() {
            // Only a tracking client's own changes can be skipped for it
            // (NOLOOP); other callers (another node's forwarded commands,
            // whose ids are not this node's) are nobody here.
            self.deliver(shared, client.tracking.on.then_some(client.id));
            if self.over_limit() {
                self.enforce_limit(shared);
            }
        }
    }

    #[cold]
    fn remember(&self, client: &mut Client, ran: &Ran<'_, Shared>) {
        self.remember_keys(client, ran.spec, ran.args, ran.caller);
    }

    fn remember_keys(&self, client: &mut Client, spec: &'static CommandSpec, args: &[&[u8]], caller: Caller) {
        let caching = client.caching;
        if caller == Caller::Client
            && client.state.multi.is_none()
            && !(spec.name == "client" && args.get(1).is_some_and(|a| a.eq_ignore_ascii_case(b"caching")))
        {
            // CLIENT CACHING counts for the next command only (in MULTI,
            // for the transaction).
            client.caching = false;
        }
        let mode = &client.tracking;
        if mode.bcast || !spec.has(flag::READONLY) || (mode.optin && !caching) || (mode.optout && caching) {
            return;
        }
        // A read-only script's keys are those of the commands it runs.
        if matches!(spec.name, "eval_ro" | "evalsha_ro" | "fcall_ro") {
            return;
        }
        for key in spec.keys.of(args) {
            let mut ids = self.table.entry(Bytes::copy_from_slice(key)).or_default();
            if !ids.contains(&client.id) {
                ids.push(client.id);
                self.items.fetch_add(1, Relaxed);
            }
        }
    }

    fn over_limit(&self) -> bool {
        let max = self.max_keys.load(Relaxed);
        max != 0 && self.table.len() > max
    }

    /// Takes keys out of the table (invalidating them, as changes by
    /// nobody) until it is within `tracking-table-max-keys`.
    pub fn enforce_limit(&self, shared: &Shared) {
        let max = self.max_keys.load(Relaxed);
        if max == 0 {
            return;
        }
        let excess = self.table.len().saturating_sub(max);
        if excess == 0 {
            return;
        }
        // The map's own order, which its hashing makes arbitrary: Redis
        // takes random keys.
        let victims: Vec<Bytes> = self.table.iter().take(excess).map(|e| e.key().clone()).collect();
        for key in victims {
            self.invalidate_key(shared, &key, None);
        }
    }

    /// Delivers the invalidations of the changes recorded on this thread
    /// (see `ringcache_store::invalidate`); `writer` made the ones marked
    /// as its own (NOLOOP skips them for it).
    pub fn deliver(&self, shared: &Shared, writer: Option<u64>) {
        if !invalidate::pending() {
            return;
        }
        let mut changes = Vec::new();
        invalidate::take(&mut changes);
        let bcast = !self.prefixes.read().is_empty();
        // `proxy` mode: nodes with tracking clients hear of what changed
        // here (but what other owners apply: its coordinator sends it).
        let peers = Self::cluster_wide(shared) && self.peers_track(ringcache_store::now_ms());
        // BCAST: per command, each changed key once, with its last writer.
        let mut changed: IndexMap<Bytes, Option<u64>> = IndexMap::new();
        for change in changes {
            match change {
                Change::Flush => self.flush(shared),
                Change::Key { db, key, cause } => {
                    if cause.is_gone() {
                        crate::pubsub::notify::gone(shared, db, &key, cause);
                    }
                    if peers && cause != Cause::Replica {
                        shared.pubsub.bus.send(Kind::Channel, CHANNEL_INVALIDATE, &key);
                    }
                    let by = if cause == Cause::Own { writer } else { None };
                    self.invalidate_key(shared, &key, by);
                    if bcast {
                        changed.insert(key, by);
                    }
                }
            }
        }
        if !changed.is_empty() {
            self.broadcast(shared, &changed);
        }
    }

    /// Invalidates `key` for the clients that read it in default mode.
    fn invalidate_key(&self, shared: &Shared, key: &[u8], by: Option<u64>) {
        let Some((_, ids)) = self.table.remove(key) else { return };
        self.items.fetch_sub(ids.len(), Relaxed);
        for id in ids {
            let Some(info) = shared.clients.get(id) else { continue };
            let mode = info.tracking.mode.lock().clone();
            if !mode.on || mode.bcast || (mode.noloop && by == Some(id)) {
                continue;
            }
            send(shared, &info, &mode, &Payload::Keys(&[key]));
        }
    }

    /// BCAST: one message per prefix and client, with the keys changed
    /// under that prefix (but the client's own, with NOLOOP).
    fn broadcast(&self, shared: &Shared, changed: &IndexMap<Bytes, Option<u64>>) {
        let prefixes: Vec<(Bytes, Vec<u64>)> = self.prefixes.read().clone();
        for (prefix, ids) in prefixes {
            let under: Vec<(&[u8], Option<u64>)> =
                changed.iter().filter(|(k, _)| k.starts_with(&prefix)).map(|(k, by)| (&k[..], *by)).collect();
            if under.is_empty() {
                continue;
            }
            for id in ids {
                let Some(info) = shared.clients.get(id) else { continue };
                let mode = info.tracking.mode.lock().clone();
                if !mode.on || !mode.bcast {
                    continue;
                }
                let keys: Vec<&[u8]> =
                    under.iter().filter(|(_, by)| !(mode.noloop && *by == Some(id))).map(|(k, _)| *k).collect();
                if !keys.is_empty() {
                    send(shared, &info, &mode, &Payload::Keys(&keys));
                }
            }
        }
    }

    /// A flush: every tracking client hears that everything changed, and
    /// the table is emptied.
    fn flush(&self, shared: &Shared) {
        for info in shared.clients.all() {
            let mode = info.tracking.mode.lock().clone();
            if mode.on {
                let proto = if info.resp.load(Relaxed) == 3 { Proto::Resp3 } else { Proto::Resp2 };
                send(shared, &info, &mode, &Payload::All(proto));
            }
        }
        self.table.clear();
        self.items.store(0, Relaxed);
    }
}

/// Sends one invalidation meant for tracking client `info` (in `mode`)
/// where Redis's `sendTrackingMessage` does.
fn send(shared: &Shared, info: &Arc<ClientInfo>, mode: &Mode, payload: &Payload<'_>) {
    let limit = shared.pubsub.buffer_limit();
    let target = if mode.redirect == 0 {
        info.clone()
    } else {
        match shared.clients.get(mode.redirect) {
            Some(target) => target,
            None => {
                info.tracking.broken.store(true, Relaxed);
                if info.resp.load(Relaxed) == 3 {
                    if let Some(mailbox) = info.mailbox() {
                        let mut out = BytesMut::new();
                        out.extend_from_slice(b">2\r\n");
                        bulk(&mut out, b"tracking-redir-broken");
                        out.put_u8(b':');
                        out.extend_from_slice(itoa::Buffer::new().format(mode.redirect).as_bytes());
                        out.extend_from_slice(b"\r\n");
                        mailbox.push(out.freeze(), limit);
                    }
                }
                return;
            }
        }
    };
    let push = target.resp.load(Relaxed) == 3;
    // RESP2 has no pushes: only a redirect to a subscriber can carry them.
    let pubsub = mode.redirect != 0 && target.is_pubsub();
    if !(push || pubsub) {
        return;
    }
    if let Some(mailbox) = target.mailbox() {
        mailbox.push(message(push, payload), limit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::connection::Session;

    /// A node and `n` sessions on it, as a connection drives them.
    fn node(n: usize) -> (Shared, Vec<Session>) {
        let shared = Shared::new(Config::for_test());
        let addr = "127.0.0.1:1".parse().expect("an address");
        let sessions =
            (0..n).map(|_| Session::new(&shared, shared.clients.register(addr, addr, 10).expect("room"))).collect();
        (shared, sessions)
    }

    /// Runs one command on `s`; what it wrote, replies and pushes.
    fn run(shared: &Shared, s: &mut Session, args: &[&str]) -> String {
        let mut input = BytesMut::new();
        input.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for a in args {
            input.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
        }
        let mut output = BytesMut::new();
        s.process(shared, &mut input, &mut output);
        String::from_utf8_lossy(&output).into_owned()
    }

    const PUSH_A: &str = ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\na\r\n";

    #[test]
    fn a_node_where_nobody_tracks_records_nothing() {
        let (shared, mut s) = node(1);
        assert!(!shared.db.invalidation());
        run(&shared, &mut s[0], &["SET", "a", "1"]);
        assert!(!invalidate::pending(), "the write recorded nothing");
        run(&shared, &mut s[0], &["HELLO", "3"]);
        run(&shared, &mut s[0], &["CLIENT", "TRACKING", "on"]);
        assert!(shared.db.invalidation());
        run(&shared, &mut s[0], &["CLIENT", "TRACKING", "off"]);
        assert!(!shared.db.invalidation(), "the last tracking client turned it off");
    }

    #[test]
    fn own_writes_come_after_the_reply_and_noloop_skips_them() {
        let (shared, mut s) = node(2);
        run(&shared, &mut s[0], &["HELLO", "3"]);
        run(&shared, &mut s[0], &["CLIENT", "TRACKING", "on"]);
        assert_eq!(run(&shared, &mut s[0], &["GET", "a"]), "_\r\n");
        assert_eq!(shared.tracking.keys(), 1);
        assert_eq!(run(&shared, &mut s[0], &["SET", "a", "1"]), format!("+OK\r\n{PUSH_A}"));
        assert_eq!(shared.tracking.keys(), 0, "an invalidated key leaves the table");
        run(&shared, &mut s[0], &["CLIENT", "TRACKING", "on", "NOLOOP"]);
        run(&shared, &mut s[0], &["GET", "a"]);
        assert_eq!(run(&shared, &mut s[0], &["SET", "a", "2"]), "+OK\r\n");
        assert_eq!(shared.tracking.keys(), 0, "taken out all the same");
        run(&shared, &mut s[0], &["GET", "a"]);
        run(&shared, &mut s[1], &["SET", "a", "3"]);
        assert_eq!(run(&shared, &mut s[0], &["PING"]), format!("{PUSH_A}+PONG\r\n"), "another's write is sent");
    }

    #[test]
    fn the_table_is_kept_within_its_limit() {
        let (shared, mut s) = node(1);
        run(&shared, &mut s[0], &["HELLO", "3"]);
        run(&shared, &mut s[0], &["CLIENT", "TRACKING", "on"]);
        shared.set_config(&[("tracking-table-max-keys".to_owned(), "2".to_owned())]).expect("a valid value");
        let out = run(&shared, &mut s[0], &["MGET", "a", "b", "c", "d"]);
        assert_eq!(out.matches(">2\r\n$10\r\ninvalidate").count(), 2, "{out}");
        assert_eq!((shared.tracking.keys(), shared.tracking.items()), (2, 2));
        shared.set_config(&[("tracking-table-max-keys".to_owned(), "0".to_owned())]).expect("a valid value");
        run(&shared, &mut s[0], &["MGET", "e", "f", "g"]);
        assert_eq!(shared.tracking.keys(), 5, "0: no limit");
    }

    fn mode(bcast: bool, prefixes: &[&str]) -> Mode {
        Mode {
            on: true,
            bcast,
            prefixes: prefixes.iter().map(|p| Bytes::copy_from_slice(p.as_bytes())).collect(),
            ..Mode::default()
        }
    }

    #[test]
    fn options_are_checked_in_redis_order_with_its_texts() {
        let off = Mode::default();
        let e = |old: &Mode, new: &Mode| check(old, new).unwrap_err();
        assert_eq!(e(&off, &mode(false, &["a"])), "ERR PREFIX option requires BCAST mode to be enabled");
        assert!(e(&mode(false, &[]), &mode(true, &[])).starts_with("ERR You can't switch BCAST mode on/off"));
        let both = Mode { optin: true, optout: true, ..Mode::default() };
        assert_eq!(e(&off, &both), "ERR You can't specify both OPTIN mode and OPTOUT mode");
        let bcast_optin = Mode { optin: true, ..mode(true, &[]) };
        assert_eq!(e(&off, &bcast_optin), "ERR OPTIN and OPTOUT are not compatible with BCAST");
        let optin = Mode { on: true, optin: true, ..Mode::default() };
        let optout = Mode { optout: true, ..Mode::default() };
        assert!(e(&optin, &optout).starts_with("ERR You can't switch OPTIN/OPTOUT mode"));
        assert!(check(&off, &optout).is_ok());
    }

    #[test]
    fn prefixes_must_not_overlap() {
        let off = Mode::default();
        assert_eq!(
            check(&off, &mode(true, &["FOOBAR", "FOO"])).unwrap_err(),
            "ERR Prefix 'FOOBAR' overlaps with another provided prefix 'FOO'. Prefixes for a single client must not overlap."
        );
        let has = mode(true, &["FOO", "BAR"]);
        assert_eq!(
            check(&has, &mode(true, &["FO"])).unwrap_err(),
            "ERR Prefix 'FO' overlaps with an existing prefix 'FOO'. Prefixes for a single client must not overlap."
        );
        assert!(check(&has, &mode(true, &["BAZ"])).is_ok());
        assert!(check(&off, &mode(true, &["a:", "b:"])).is_ok());
    }

    #[test]
    fn messages_are_pushes_or_pubsub_messages() {
        let keys: [&[u8]; 2] = [b"a", b"bc"];
        assert_eq!(
            &message(true, &Payload::Keys(&keys))[..],
            b">2\r\n$10\r\ninvalidate\r\n*2\r\n$1\r\na\r\n$2\r\nbc\r\n"
        );
        assert_eq!(
            &message(false, &Payload::Keys(&keys[..1]))[..],
            b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$1\r\na\r\n"
        );
        assert_eq!(&message(true, &Payload::All(Proto::Resp3))[..], b">2\r\n$10\r\ninvalidate\r\n_\r\n");
        assert_eq!(
            &message(false, &Payload::All(Proto::Resp2))[..],
            b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n$-1\r\n"
        );
    }
}
