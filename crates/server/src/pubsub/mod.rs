//! Pub/Sub: who listens to what, and the delivery of messages to them.
//!
//! - [`Registry`] (one per node, in [`Shared`](crate::Shared)): channel →
//!   subscribers and shard channel → subscribers in `DashMap`s, patterns
//!   in one read-mostly list. A PUBLISH touches only its channel's map
//!   shard and, when any pattern exists, the pattern list; it never takes
//!   a lock that the data path takes.
//! - [`Mailbox`] (one per connection that subscribed, ran MONITOR, speaks
//!   RESP3 or tracks keys): the messages published to it (and MONITOR
//!   lines, and CLIENT TRACKING invalidations), already encoded for its
//!   protocol, waiting for its connection task to write them. A publisher only appends to it and wakes the
//!   task; it never waits for a subscriber. The bytes waiting there are
//!   the subscriber's output buffer for `client-output-buffer-limit
//!   pubsub`: past the hard limit, or past the soft limit for longer than
//!   its seconds, the subscriber is disconnected and its queue freed
//!   (Redis's `closeClientOnOutputBufferLimitReached`). A subscriber with
//!   nothing to read costs no CPU: its task sleeps on the mailbox and the
//!   socket.
//! - [`Subscriptions`] (one per connection, in [`Client`]): what this
//!   connection is subscribed to, so UNSUBSCRIBE without arguments, RESET
//!   and a closing connection can take it out of the registry.
//! - [`bus`]: in a cluster, every PUBLISH (and, in `proxy` mode, SPUBLISH
//!   and keyspace notifications) is also sent to every other node, which
//!   delivers it to its own subscribers and never sends it on.
//! - [`notify`]: keyspace notifications (`notify-keyspace-events`).
//!
//! Invariants:
//! - A connection is in the registry under a channel iff that channel is
//!   in its [`Subscriptions`]: both change together, on the connection's
//!   own task.
//! - Messages to one subscriber arrive in the order they were published
//!   on this node (one queue per subscriber, appended under its lock).

pub mod bus;
pub mod notify;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;

use bytes::{BufMut, Bytes, BytesMut};
use dashmap::DashMap;
use indexmap::IndexSet;
use parking_lot::{Mutex, RwLock};
use ringcache_resp::Proto;
use ringcache_store::glob_match;

use crate::client::{Client, ClientInfo};
pub use crate::config::BufferLimit;

/// The three kinds of subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// SUBSCRIBE / PUBLISH.
    Channel,
    /// PSUBSCRIBE.
    Pattern,
    /// SSUBSCRIBE / SPUBLISH.
    Shard,
}

impl Kind {
    fn subscribe_word(self) -> &'static str {
        match self {
            Kind::Channel => "subscribe",
            Kind::Pattern => "psubscribe",
            Kind::Shard => "ssubscribe",
        }
    }

    fn unsubscribe_word(self) -> &'static str {
        match self {
            Kind::Channel => "unsubscribe",
            Kind::Pattern => "punsubscribe",
            Kind::Shard => "sunsubscribe",
        }
    }
}

/// What waits to be written to one subscriber.
#[derive(Debug, Default)]
struct Queue {
    items: VecDeque<Bytes>,
    bytes: usize,
    /// Since when `bytes` has been at or over the soft limit.
    soft_since: Option<Instant>,
}

/// One subscribed connection's incoming messages. See the module docs.
#[derive(Debug)]
pub struct Mailbox {
    info: Arc<ClientInfo>,
    queue: Mutex<Queue>,
    wake: tokio::sync::Notify,
    /// Set once the subscriber went over its limit: nothing more is queued.
    overflowed: AtomicBool,
    /// Whether `queue` may hold messages: lets the connection skip the
    /// lock after each command when none came (a message pushed while it
    /// looks is still delivered: the push wakes the connection).
    waiting: AtomicBool,
}

impl Mailbox {
    pub(crate) fn new(info: Arc<ClientInfo>) -> Mailbox {
        Mailbox {
            info,
            queue: Mutex::default(),
            wake: tokio::sync::Notify::new(),
            overflowed: AtomicBool::new(false),
            waiting: AtomicBool::new(false),
        }
    }

    fn proto(&self) -> Proto {
        if self.info.resp.load(Relaxed) == 3 {
            Proto::Resp3
        } else {
            Proto::Resp2
        }
    }

    /// Queues one encoded message and wakes the connection; disconnects the
    /// subscriber instead if that takes it over `limit`.
    pub(crate) fn push(&self, msg: Bytes, limit: BufferLimit) {
        if self.overflowed.load(Relaxed) {
            return;
        }
        let mut q = self.queue.lock();
        q.bytes += msg.len();
        q.items.push_back(msg);
        self.waiting.store(true, Relaxed);
        let used = q.bytes as u64;
        let hard = limit.hard_bytes != 0 && used >= limit.hard_bytes;
        let mut soft = false;
        if limit.soft_bytes != 0 && used >= limit.soft_bytes {
            let since = *q.soft_since.get_or_insert_with(Instant::now);
            soft = since.elapsed().as_secs() > limit.soft_secs;
        } else {
            q.soft_since = None;
        }
        if hard || soft {
            self.overflowed.store(true, Relaxed);
            // Free the backlog now: the subscriber is going away.
            q.items = VecDeque::new();
            q.bytes = 0;
            drop(q);
            tracing::warn!(
                client = self.info.id,
                addr = %self.info.addr,
                used,
                "closing client for overcoming of output buffer limits"
            );
            self.info.kill.cancel();
            return;
        }
        drop(q);
        self.wake.notify_one();
    }

    /// Moves queued messages into `out` until it holds `max` bytes;
    /// returns whether messages are left.
    pub fn drain(&self, out: &mut BytesMut, max: usize) -> bool {
        if !self.waiting.load(Relaxed) {
            return false;
        }
        let mut q = self.queue.lock();
        while out.len() < max {
            let Some(m) = q.items.pop_front() else { break };
            q.bytes -= m.len();
            out.extend_from_slice(&m);
        }
        let more = !q.items.is_empty();
        self.waiting.store(more, Relaxed);
        more
    }

    /// Bytes waiting (CLIENT LIST `omem`).
    pub fn pending_bytes(&self) -> usize {
        self.queue.lock().bytes
    }

    /// Resolves once a message may be waiting (spurious wake-ups are
    /// possible; a message queued before the call is never missed).
    pub async fn ready(&self) {
        self.wake.notified().await;
    }
}

/// Waits on `mailbox`, or forever without one.
pub async fn ready(mailbox: Option<&Mailbox>) {
    match mailbox {
        Some(m) => m.ready().await,
        None => std::future::pending().await,
    }
}

/// What one connection is subscribed to.
#[derive(Debug, Default)]
pub struct Subscriptions {
    pub channels: IndexSet<Bytes>,
    pub patterns: IndexSet<Bytes>,
    pub shard: IndexSet<Bytes>,
    /// Created on first use (a subscription, MONITOR, RESP3, tracking;
    /// see `Client::mailbox`), kept for the connection's life.
    pub mailbox: Option<Arc<Mailbox>>,
}

impl Subscriptions {
    /// Redis's `CLIENT_PUBSUB`: subscribed to anything at all.
    #[inline]
    pub fn active(&self) -> bool {
        !(self.channels.is_empty() && self.patterns.is_empty() && self.shard.is_empty())
    }

    /// The count a (P)SUBSCRIBE reply reports: channels plus patterns
    /// (shard channels are counted apart, as in Redis).
    fn count(&self, kind: Kind) -> usize {
        match kind {
            Kind::Channel | Kind::Pattern => self.channels.len() + self.patterns.len(),
            Kind::Shard => self.shard.len(),
        }
    }

    fn set(&mut self, kind: Kind) -> &mut IndexSet<Bytes> {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard,
        }
    }
}

type Subscribers = Vec<Arc<Mailbox>>;

/// Every subscription on this node. See the module docs.
#[derive(Debug)]
pub struct Registry {
    channels: DashMap<Bytes, Subscribers>,
    shard: DashMap<Bytes, Subscribers>,
    /// Few and matched against every published channel: one list, read
    /// under a shared lock.
    patterns: RwLock<Vec<(Bytes, Subscribers)>>,
    /// `patterns.len()`, so a PUBLISH with no pattern anywhere skips the
    /// lock.
    pattern_count: AtomicUsize,
    hard_bytes: AtomicU64,
    soft_bytes: AtomicU64,
    soft_secs: AtomicU64,
    /// Messages to send to the other nodes of a cluster.
    pub bus: bus::Outboxes,
    /// `notify-keyspace-events`, as [`notify`] flags.
    notify_flags: AtomicU32,
}

impl Default for Registry {
    fn default() -> Registry {
        Registry::new(BufferLimit::PUBSUB_DEFAULT)
    }
}

/// A message encoded once per protocol, on first use.
#[derive(Default)]
struct Encoded {
    resp2: Option<Bytes>,
    resp3: Option<Bytes>,
}

impl Encoded {
    fn get(&mut self, proto: Proto, parts: &[&[u8]]) -> Bytes {
        let slot = match proto {
            Proto::Resp2 => &mut self.resp2,
            Proto::Resp3 => &mut self.resp3,
        };
        slot.get_or_insert_with(|| encode_push(proto, parts)).clone()
    }
}

/// `*n` (RESP2) or `>n` (RESP3) of bulk strings.
fn encode_push(proto: Proto, parts: &[&[u8]]) -> Bytes {
    let mut out = BytesMut::with_capacity(16 + parts.iter().map(|p| p.len() + 16).sum::<usize>());
    out.put_u8(if proto == Proto::Resp3 { b'>' } else { b'*' });
    out.extend_from_slice(itoa::Buffer::new().format(parts.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    for p in parts {
        out.put_u8(b'$');
        out.extend_from_slice(itoa::Buffer::new().format(p.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(p);
        out.extend_from_slice(b"\r\n");
    }
    out.freeze()
}

fn remove_subscriber(subs: &mut Subscribers, id: u64) {
    if let Some(at) = subs.iter().position(|m| m.info.id == id) {
        // Keeps the others in subscription order, as Redis's list does.
        subs.remove(at);
    }
}

impl Registry {
    pub fn new(limit: BufferLimit) -> Registry {
        Registry {
            channels: DashMap::new(),
            shard: DashMap::new(),
            patterns: RwLock::new(Vec::new()),
            pattern_count: AtomicUsize::new(0),
            hard_bytes: AtomicU64::new(limit.hard_bytes),
            soft_bytes: AtomicU64::new(limit.soft_bytes),
            soft_secs: AtomicU64::new(limit.soft_secs),
            bus: bus::Outboxes::default(),
            notify_flags: AtomicU32::new(0),
        }
    }

    /// Applies a new `client-output-buffer-limit pubsub` (CONFIG SET).
    pub fn set_limit(&self, limit: BufferLimit) {
        self.hard_bytes.store(limit.hard_bytes, Relaxed);
        self.soft_bytes.store(limit.soft_bytes, Relaxed);
        self.soft_secs.store(limit.soft_secs, Relaxed);
    }

    /// Applies a new `notify-keyspace-events` (start-up and CONFIG SET).
    pub fn set_notify_flags(&self, flags: u32) {
        self.notify_flags.store(flags, Relaxed);
    }

    #[inline]
    pub fn notify_flags(&self) -> u32 {
        self.notify_flags.load(Relaxed)
    }

    /// `client-output-buffer-limit pubsub`, which every mailbox is held to.
    pub(crate) fn buffer_limit(&self) -> BufferLimit {
        BufferLimit {
            hard_bytes: self.hard_bytes.load(Relaxed),
            soft_bytes: self.soft_bytes.load(Relaxed),
            soft_secs: self.soft_secs.load(Relaxed),
        }
    }

    /// Delivers `message` to this node's subscribers of `channel` (and of
    /// matching patterns, for [`Kind::Channel`]); returns how many got it.
    pub fn publish(&self, kind: Kind, channel: &[u8], message: &[u8]) -> usize {
        let limit = self.buffer_limit();
        let mut receivers = 0;
        let (map, word): (&DashMap<Bytes, Subscribers>, &[u8]) = match kind {
            Kind::Shard => (&self.shard, b"smessage"),
            _ => (&self.channels, b"message"),
        };
        if let Some(subs) = map.get(channel) {
            let mut enc = Encoded::default();
            for m in subs.iter() {
                m.push(enc.get(m.proto(), &[word, channel, message]), limit);
            }
            receivers += subs.len();
        }
        if kind == Kind::Shard || self.pattern_count.load(Relaxed) == 0 {
            return receivers;
        }
        for (pattern, subs) in self.patterns.read().iter() {
            if !glob_match(pattern, channel) {
                continue;
            }
            let mut enc = Encoded::default();
            for m in subs {
                m.push(enc.get(m.proto(), &[b"pmessage", pattern, channel, message]), limit);
            }
            receivers += subs.len();
        }
        receivers
    }

    fn add(&self, kind: Kind, name: &Bytes, mailbox: &Arc<Mailbox>) {
        match kind {
            Kind::Channel => self.channels.entry(name.clone()).or_default().push(mailbox.clone()),
            Kind::Shard => self.shard.entry(name.clone()).or_default().push(mailbox.clone()),
            Kind::Pattern => {
                let mut patterns = self.patterns.write();
                match patterns.iter_mut().find(|(p, _)| p == name) {
                    Some((_, subs)) => subs.push(mailbox.clone()),
                    None => patterns.push((name.clone(), vec![mailbox.clone()])),
                }
                self.pattern_count.store(patterns.len(), Relaxed);
            }
        }
    }

    fn remove(&self, kind: Kind, name: &[u8], id: u64) {
        let map = match kind {
            Kind::Channel => &self.channels,
            Kind::Shard => &self.shard,
            Kind::Pattern => {
                let mut patterns = self.patterns.write();
                if let Some(at) = patterns.iter().position(|(p, _)| p == name) {
                    remove_subscriber(&mut patterns[at].1, id);
                    if patterns[at].1.is_empty() {
                        patterns.remove(at);
                    }
                }
                self.pattern_count.store(patterns.len(), Relaxed);
                return;
            }
        };
        // Drop the entry with its last subscriber, so that channels nobody
        // listens to cost nothing.
        map.remove_if_mut(name, |_, subs| {
            remove_subscriber(subs, id);
            subs.is_empty()
        });
    }

    /// PUBSUB CHANNELS / SHARDCHANNELS: active channels matching `pattern`.
    pub fn channels(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<Bytes> {
        let map = if kind == Kind::Shard { &self.shard } else { &self.channels };
        map.iter().filter(|e| pattern.is_none_or(|p| glob_match(p, e.key()))).map(|e| e.key().clone()).collect()
    }

    /// PUBSUB NUMSUB / SHARDNUMSUB of one channel.
    pub fn numsub(&self, kind: Kind, channel: &[u8]) -> usize {
        let map = if kind == Kind::Shard { &self.shard } else { &self.channels };
        map.get(channel).map_or(0, |s| s.len())
    }

    /// PUBSUB NUMPAT: distinct patterns subscribed to.
    pub fn numpat(&self) -> usize {
        self.pattern_count.load(Relaxed)
    }
}

/// The subscribe/unsubscribe confirmation: `[word, name or nil, count]`.
fn confirmation(proto: Proto, word: &str, name: Option<&[u8]>, count: usize, out: &mut BytesMut) {
    out.put_u8(if proto == Proto::Resp3 { b'>' } else { b'*' });
    out.extend_from_slice(b"3\r\n");
    out.put_u8(b'$');
    out.extend_from_slice(itoa::Buffer::new().format(word.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(word.as_bytes());
    out.extend_from_slice(b"\r\n");
    match name {
        Some(n) => {
            out.put_u8(b'$');
            out.extend_from_slice(itoa::Buffer::new().format(n.len()).as_bytes());
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(n);
            out.extend_from_slice(b"\r\n");
        }
        None if proto == Proto::Resp3 => out.extend_from_slice(b"_\r\n"),
        None => out.extend_from_slice(b"$-1\r\n"),
    }
    out.put_u8(b':');
    out.extend_from_slice(itoa::Buffer::new().format(count).as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn publish_counts(client: &Client) {
    let s = &client.pubsub;
    client.info.sub.store(s.channels.len(), Relaxed);
    client.info.psub.store(s.patterns.len(), Relaxed);
    client.info.ssub.store(s.shard.len(), Relaxed);
}

/// SUBSCRIBE / PSUBSCRIBE / SSUBSCRIBE of `names`: one confirmation each,
/// appended to `out`.
pub fn subscribe(registry: &Registry, client: &mut Client, kind: Kind, names: &[&[u8]], out: &mut BytesMut) {
    let proto = client.state.proto;
    let mailbox = client.mailbox();
    for &name in names {
        let name = Bytes::copy_from_slice(name);
        if client.pubsub.set(kind).insert(name.clone()) {
            registry.add(kind, &name, &mailbox);
        }
        confirmation(proto, kind.subscribe_word(), Some(&name), client.pubsub.count(kind), out);
    }
    publish_counts(client);
}

/// UNSUBSCRIBE / PUNSUBSCRIBE / SUNSUBSCRIBE of `names`, or of all with
/// none; with `confirm`, one confirmation each (one with a nil name if
/// there was nothing to leave), appended to `out`.
pub fn unsubscribe(
    registry: &Registry,
    client: &mut Client,
    kind: Kind,
    names: &[&[u8]],
    confirm: Option<&mut BytesMut>,
) {
    let proto = client.state.proto;
    let id = client.id;
    let all: Vec<Bytes>;
    let names: Vec<&[u8]> = if names.is_empty() {
        all = client.pubsub.set(kind).iter().cloned().collect();
        all.iter().map(|b| &b[..]).collect()
    } else {
        names.to_vec()
    };
    let mut out = confirm;
    for &name in &names {
        if client.pubsub.set(kind).shift_remove(name) {
            registry.remove(kind, name, id);
        }
        if let Some(out) = out.as_deref_mut() {
            confirmation(proto, kind.unsubscribe_word(), Some(name), client.pubsub.count(kind), out);
        }
    }
    if names.is_empty() {
        if let Some(out) = out {
            confirmation(proto, kind.unsubscribe_word(), None, client.pubsub.count(kind), out);
        }
    }
    publish_counts(client);
}

/// Leaves every subscription without confirmations (RESET, and a
/// connection that closes).
pub fn unsubscribe_all(registry: &Registry, client: &mut Client) {
    if !client.pubsub.active() {
        return;
    }
    for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
        unsubscribe(registry, client, kind, &[], None);
    }
}

/// The commands a RESP2 connection may run while subscribed.
const ALLOWED_IN_CONTEXT: &[&str] =
    &["ping", "subscribe", "ssubscribe", "unsubscribe", "sunsubscribe", "psubscribe", "punsubscribe", "quit", "reset"];

/// Commands whose name in errors includes the subcommand (`client|list`).
const CONTAINERS: &[&str] = &[
    "acl", "client", "cluster", "command", "config", "function", "latency", "memory", "module", "object", "pubsub",
    "script", "slowlog", "xgroup", "xinfo",
];

/// Whether the client is in Redis's RESP2 Pub/Sub context (PING answers
/// `["pong", arg]` there).
#[inline]
pub fn in_context(client: &Client) -> bool {
    client.state.proto == Proto::Resp2 && client.pubsub.active()
}

/// In the RESP2 Pub/Sub context, the refusal of a command not allowed
/// there (checked, as Redis does, after the command's existence, arity
/// and authentication, and before MULTI queues it).
#[inline]
pub fn context_refusal(client: &mut Client, spec: Option<&crate::cmd::CommandSpec>, args: &[&[u8]]) -> Option<Bytes> {
    if !in_context(client) {
        return None;
    }
    let spec = spec?;
    if !spec.arity_ok(args.len()) || (!client.state.authenticated && !spec.has(crate::cmd::flag::NO_AUTH)) {
        return None;
    }
    if ALLOWED_IN_CONTEXT.contains(&spec.name) {
        return None;
    }
    let mut name = spec.name.to_owned();
    if let (true, Some(sub)) = (CONTAINERS.contains(&spec.name), args.get(1)) {
        name.push('|');
        name.push_str(&String::from_utf8_lossy(sub).to_ascii_lowercase());
    }
    if let Some(m) = client.state.multi.as_mut() {
        m.dirty = true;
    }
    let text = format!(
        "-ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n",
        crate::cmd::printable(name.as_bytes(), 128)
    );
    Some(Bytes::from(text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    fn client(id: u64) -> Client {
        let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
        Client::new(Arc::new(ClientInfo::new(id, addr, addr)), true)
    }

    fn drained(c: &Client) -> Vec<u8> {
        let mut out = BytesMut::new();
        c.pubsub.mailbox.as_ref().unwrap().drain(&mut out, usize::MAX);
        out.to_vec()
    }

    #[test]
    fn subscribe_publish_unsubscribe() {
        let r = Registry::default();
        let mut a = client(1);
        let mut out = BytesMut::new();
        subscribe(&r, &mut a, Kind::Channel, &[b"ch", b"ch", b"other"], &mut out);
        assert_eq!(
            &out[..],
            b"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$5\r\nother\r\n:2\r\n"
        );
        assert_eq!(r.publish(Kind::Channel, b"ch", b"hi"), 1);
        assert_eq!(r.publish(Kind::Shard, b"ch", b"hi"), 0);
        assert_eq!(drained(&a), b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n");
        let mut out = BytesMut::new();
        unsubscribe(&r, &mut a, Kind::Channel, &[], Some(&mut out));
        assert_eq!(
            &out[..],
            b"*3\r\n$11\r\nunsubscribe\r\n$2\r\nch\r\n:1\r\n*3\r\n$11\r\nunsubscribe\r\n$5\r\nother\r\n:0\r\n"
        );
        assert!(r.channels(Kind::Channel, None).is_empty(), "empty channels are dropped");
        let mut out = BytesMut::new();
        unsubscribe(&r, &mut a, Kind::Channel, &[], Some(&mut out));
        assert_eq!(&out[..], b"*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n");
    }

    #[test]
    fn patterns_match_as_redis_globs_and_count_unique() {
        let r = Registry::default();
        let (mut a, mut b) = (client(1), client(2));
        let mut out = BytesMut::new();
        subscribe(&r, &mut a, Kind::Pattern, &[b"foo.*", b"bar.[ab]"], &mut out);
        subscribe(&r, &mut b, Kind::Pattern, &[b"foo.*"], &mut out);
        assert_eq!(r.numpat(), 2);
        assert_eq!(r.publish(Kind::Channel, b"foo.1", b"x"), 2);
        assert_eq!(r.publish(Kind::Channel, b"bar.c", b"x"), 0);
        assert_eq!(r.publish(Kind::Channel, b"bar.b", b"x"), 1);
        assert_eq!(drained(&b), b"*4\r\n$8\r\npmessage\r\n$5\r\nfoo.*\r\n$5\r\nfoo.1\r\n$1\r\nx\r\n");
        unsubscribe_all(&r, &mut a);
        assert_eq!(r.numpat(), 1);
        unsubscribe_all(&r, &mut b);
        assert_eq!(r.numpat(), 0);
    }

    #[test]
    fn resp3_subscribers_get_push_messages() {
        let r = Registry::default();
        let mut a = client(1);
        a.set_proto(Proto::Resp3);
        let mut out = BytesMut::new();
        subscribe(&r, &mut a, Kind::Shard, &[b"s"], &mut out);
        assert_eq!(&out[..], b">3\r\n$10\r\nssubscribe\r\n$1\r\ns\r\n:1\r\n");
        assert_eq!(r.publish(Kind::Shard, b"s", b"m"), 1);
        assert_eq!(drained(&a), b">3\r\n$8\r\nsmessage\r\n$1\r\ns\r\n$1\r\nm\r\n");
    }

    #[test]
    fn a_subscriber_over_the_hard_limit_is_disconnected_and_freed() {
        let r = Registry::new(BufferLimit { hard_bytes: 1000, soft_bytes: 0, soft_secs: 0 });
        let (mut slow, mut fast) = (client(1), client(2));
        let mut out = BytesMut::new();
        subscribe(&r, &mut slow, Kind::Channel, &[b"c"], &mut out);
        subscribe(&r, &mut fast, Kind::Channel, &[b"c"], &mut out);
        for _ in 0..50 {
            r.publish(Kind::Channel, b"c", &[b'x'; 40]);
            drained(&fast);
        }
        assert!(slow.info.kill.is_cancelled());
        assert_eq!(slow.pubsub.mailbox.as_ref().unwrap().pending_bytes(), 0);
        assert!(!fast.info.kill.is_cancelled());
    }

    #[test]
    fn the_soft_limit_needs_its_seconds() {
        let r = Registry::new(BufferLimit { hard_bytes: 0, soft_bytes: 10, soft_secs: 3600 });
        let mut a = client(1);
        subscribe(&r, &mut a, Kind::Channel, &[b"c"], &mut BytesMut::new());
        for _ in 0..100 {
            r.publish(Kind::Channel, b"c", b"0123456789");
        }
        assert!(!a.info.kill.is_cancelled(), "over the soft limit for less than its seconds");
        r.set_limit(BufferLimit { hard_bytes: 0, soft_bytes: 10, soft_secs: 0 });
        std::thread::sleep(std::time::Duration::from_millis(1100));
        r.publish(Kind::Channel, b"c", b"0123456789");
        assert!(a.info.kill.is_cancelled());
    }

    #[test]
    fn only_pubsub_commands_run_in_the_resp2_context() {
        let r = Registry::default();
        let mut a = client(1);
        let get = crate::cmd::lookup(b"get");
        assert!(context_refusal(&mut a, get, &[b"get", b"k"]).is_none(), "not subscribed");
        subscribe(&r, &mut a, Kind::Channel, &[b"c"], &mut BytesMut::new());
        let refused = context_refusal(&mut a, get, &[b"get", b"k"]).unwrap();
        assert_eq!(
            &refused[..],
            &b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n"[..]
        );
        let client_list = context_refusal(&mut a, crate::cmd::lookup(b"client"), &[b"client", b"LIST"]).unwrap();
        assert!(client_list.starts_with(b"-ERR Can't execute 'client|list'"));
        assert!(context_refusal(&mut a, crate::cmd::lookup(b"ping"), &[b"ping"]).is_none());
        assert!(context_refusal(&mut a, get, &[b"get"]).is_none(), "arity errors come first");
        a.set_proto(Proto::Resp3);
        assert!(context_refusal(&mut a, get, &[b"get", b"k"]).is_none(), "RESP3 has no such context");
    }
}
