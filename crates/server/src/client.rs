//! Per-connection state, and the registry of connections that CLIENT LIST
//! and CLIENT KILL read.
//!
//! A connection owns its [`Client`] outright; the part other connections may
//! look at ([`ClientInfo`]) is behind an `Arc` with interior mutability, and
//! is only written by its own connection (so its locks are uncontended).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU16, AtomicU64, AtomicU8, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Weak};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;
use ringcache_commands::ClientState;
use ringcache_resp::Proto;
use tokio_util::sync::CancellationToken;

use crate::pubsub::Mailbox;
use crate::shared::Shared;

/// What other connections can see of a client (CLIENT LIST / INFO / KILL).
#[derive(Debug)]
pub struct ClientInfo {
    pub id: u64,
    pub addr: SocketAddr,
    pub laddr: SocketAddr,
    pub created: Instant,
    pub name: Mutex<Bytes>,
    pub lib_name: Mutex<Bytes>,
    pub lib_ver: Mutex<Bytes>,
    /// The last command run, lowercase (CLIENT LIST `cmd=`).
    pub last_cmd: Mutex<&'static str>,
    /// Milliseconds since `created` at the last command (for `idle=`).
    pub last_active_ms: AtomicU64,
    /// 2 or 3.
    pub resp: AtomicU8,
    /// Commands queued in MULTI, or -1 outside MULTI.
    pub multi: AtomicI64,
    /// The selected database, as of the last command.
    pub db: AtomicU16,
    /// Bytes in the query buffer after the last read.
    pub qbuf: AtomicUsize,
    /// Room left in the query buffer's allocation past `qbuf`
    /// (`qbuf-free=`): what the next reads can fill without growing it.
    pub qbuf_free: AtomicUsize,
    /// Channels, patterns and shard channels subscribed to (`sub=`,
    /// `psub=`, `ssub=`).
    pub sub: AtomicUsize,
    pub psub: AtomicUsize,
    pub ssub: AtomicUsize,
    /// Cancelled by CLIENT KILL.
    pub kill: CancellationToken,
    /// Blocked on keys (BLPOP ...): CLIENT LIST `flags=b`.
    pub blocked: AtomicBool,
    /// CLIENT NO-EVICT and NO-TOUCH, as CLIENT LIST shows them (`e`, `T`).
    pub no_evict: AtomicBool,
    pub no_touch: AtomicBool,
    /// CLIENT TRACKING, as delivery and CLIENT LIST see it.
    pub tracking: crate::tracking::Shown,
    /// The connection's mailbox once it has one (see [`Client::mailbox`]),
    /// so that other connections can send it invalidations. Weak: the
    /// mailbox holds this info.
    mailbox: Mutex<Weak<Mailbox>>,
}

impl ClientInfo {
    /// A client's public state, not yet in any registry.
    pub fn new(id: u64, addr: SocketAddr, laddr: SocketAddr) -> ClientInfo {
        ClientInfo {
            id,
            addr,
            laddr,
            created: Instant::now(),
            name: Mutex::new(Bytes::new()),
            lib_name: Mutex::new(Bytes::new()),
            lib_ver: Mutex::new(Bytes::new()),
            last_cmd: Mutex::new("NULL"),
            last_active_ms: AtomicU64::new(0),
            resp: AtomicU8::new(2),
            multi: AtomicI64::new(-1),
            db: AtomicU16::new(0),
            qbuf: AtomicUsize::new(0),
            qbuf_free: AtomicUsize::new(0),
            sub: AtomicUsize::new(0),
            psub: AtomicUsize::new(0),
            ssub: AtomicUsize::new(0),
            kill: CancellationToken::new(),
            blocked: AtomicBool::new(false),
            no_evict: AtomicBool::new(false),
            no_touch: AtomicBool::new(false),
            tracking: crate::tracking::Shown::default(),
            mailbox: Mutex::new(Weak::new()),
        }
    }

    /// The connection's mailbox, if it has made one.
    pub fn mailbox(&self) -> Option<Arc<Mailbox>> {
        self.mailbox.lock().upgrade()
    }

    /// Redis's `pubsub` client type: subscribed to anything.
    pub fn is_pubsub(&self) -> bool {
        self.sub.load(Relaxed) + self.psub.load(Relaxed) + self.ssub.load(Relaxed) > 0
    }

    pub fn idle_secs(&self) -> u64 {
        (self.created.elapsed().as_millis() as u64).saturating_sub(self.last_active_ms.load(Relaxed)) / 1000
    }

    /// Shows `buf` as this client's query buffer (CLIENT LIST `qbuf=`,
    /// `qbuf-free=`).
    pub fn show_query_buffer(&self, buf: &BytesMut) {
        self.qbuf.store(buf.len(), Relaxed);
        self.qbuf_free.store(buf.capacity() - buf.len(), Relaxed);
    }

    pub fn touch(&self, cmd: &'static str) {
        *self.last_cmd.lock() = cmd;
        self.last_active_ms.store(self.created.elapsed().as_millis() as u64, Relaxed);
    }

    /// One CLIENT LIST line, in Redis's field order.
    pub fn list_line(&self) -> String {
        let name = String::from_utf8_lossy(&self.name.lock()).into_owned();
        let lib_name = String::from_utf8_lossy(&self.lib_name.lock()).into_owned();
        let lib_ver = String::from_utf8_lossy(&self.lib_ver.lock()).into_owned();
        let multi = self.multi.load(Relaxed);
        let (sub, psub, ssub) = (self.sub.load(Relaxed), self.psub.load(Relaxed), self.ssub.load(Relaxed));
        // Redis's letters, in Redis's order.
        let mut flags = String::new();
        let tracking = self.tracking.mode.lock().clone();
        for (on, letter) in [
            (self.is_pubsub(), 'P'),
            (multi >= 0, 'x'),
            (self.blocked.load(Relaxed), 'b'),
            (tracking.on, 't'),
            (self.tracking.broken.load(Relaxed), 'R'),
            (tracking.bcast, 'B'),
            (self.no_evict.load(Relaxed), 'e'),
            (self.no_touch.load(Relaxed), 'T'),
        ] {
            if on {
                flags.push(letter);
            }
        }
        if flags.is_empty() {
            flags.push('N');
        }
        let (qbuf, qbuf_free) = (self.qbuf.load(Relaxed), self.qbuf_free.load(Relaxed));
        format!(
            "id={} addr={} laddr={} fd=0 name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} qbuf={} qbuf-free={} argv-mem=0 multi-mem=0 rbs=16384 rbp=0 obl=0 oll=0 omem=0 tot-mem={} events=r cmd={} user=default redir={} resp={} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.laddr,
            name,
            self.created.elapsed().as_secs(),
            self.idle_secs(),
            flags,
            self.db.load(Relaxed),
            sub,
            psub,
            ssub,
            multi,
            qbuf,
            qbuf_free,
            // The query buffer's allocation and the 16 KiB reply buffer
            // (`rbs=`).
            qbuf + qbuf_free + 16384,
            *self.last_cmd.lock(),
            if tracking.on { tracking.redirect as i64 } else { -1 },
            self.resp.load(Relaxed),
            lib_name,
            lib_ver,
        )
    }
}

/// A connection's own state.
#[derive(Debug)]
pub struct Client {
    pub id: u64,
    /// The command layer's part: protocol, transaction, watches, what the
    /// last command changed.
    pub state: ClientState<Shared>,
    pub info: Arc<ClientInfo>,
    /// Close the connection once this reply is written (QUIT).
    pub close_after_reply: bool,
    /// In a cluster: the slot this client's transaction (WATCH, MULTI) is
    /// pinned to.
    pub tx_slot: Option<u16>,
    /// In a cluster: the node holding this client's WATCHes for it.
    pub tx_session: Option<ringcache_ring::NodeId>,
    /// The client's last replicated write (WAIT).
    pub last_write: LastWrite,
    /// What this connection is subscribed to, and its incoming messages.
    pub pubsub: crate::pubsub::Subscriptions,
    /// CLIENT REPLY OFF: replies are not sent (Pub/Sub pushes still are).
    pub reply_off: bool,
    /// CLIENT REPLY SKIP: how many more replies to drop (the SKIP itself
    /// and the command after it).
    pub reply_skip: u8,
    /// Runs a blocked command again for its client (`blocking::serve`):
    /// MONITOR showed it when it first ran, and does not again.
    pub rerun: bool,
    /// CLIENT TRACKING's mode (the copy in `info` is what others read).
    pub tracking: crate::tracking::Mode,
    /// CLIENT CACHING was given for the next command.
    pub caching: bool,
}

/// A client's last replicated write, for WAIT: each of its parts (one per
/// slot it changed) as its coordinator and its write id there, and how
/// many owners other than the coordinator held it when it was answered
/// (what WAIT reports once the coordinator no longer remembers it).
#[derive(Debug, Default)]
pub struct LastWrite {
    /// (coordinator, id); `None`: this node.
    pub writes: Vec<(Option<ringcache_ring::NodeId>, crate::cluster::replicate::WriteId)>,
    pub replicas: usize,
}

impl Client {
    pub fn new(info: Arc<ClientInfo>, authenticated: bool) -> Client {
        Client {
            id: info.id,
            state: ClientState::new(authenticated),
            info,
            close_after_reply: false,
            tx_slot: None,
            tx_session: None,
            last_write: LastWrite::default(),
            pubsub: crate::pubsub::Subscriptions::default(),
            reply_off: false,
            reply_skip: 0,
            rerun: false,
            tracking: crate::tracking::Mode::default(),
            caching: false,
        }
    }

    /// This connection's mailbox (Pub/Sub messages, MONITOR lines,
    /// invalidations), made on first use and findable from `info`.
    pub fn mailbox(&mut self) -> Arc<Mailbox> {
        if let Some(m) = &self.pubsub.mailbox {
            return m.clone();
        }
        let m = Arc::new(Mailbox::new(self.info.clone()));
        *self.info.mailbox.lock() = Arc::downgrade(&m);
        self.pubsub.mailbox = Some(m.clone());
        m
    }

    /// Whether the reply of the command just run (`name`) is dropped, by
    /// CLIENT REPLY OFF or SKIP. (Un)subscribe confirmations are pushes,
    /// which Redis sends whatever CLIENT REPLY says.
    #[inline]
    pub fn mute_reply(&mut self, name: Option<&str>) -> bool {
        if !self.reply_off && self.reply_skip == 0 {
            return false;
        }
        let skipped = self.reply_skip > 0;
        self.reply_skip = self.reply_skip.saturating_sub(1);
        let push = name.is_some_and(|n| {
            matches!(n, "subscribe" | "unsubscribe" | "psubscribe" | "punsubscribe" | "ssubscribe" | "sunsubscribe")
        });
        (skipped || self.reply_off) && !push
    }

    pub fn set_proto(&mut self, proto: Proto) {
        self.state.proto = proto;
        self.info.resp.store(if proto == Proto::Resp3 { 3 } else { 2 }, Relaxed);
        if proto == Proto::Resp3 {
            // A RESP3 connection can be sent pushes (a tracking REDIRECT
            // to it) whether it subscribed or not.
            self.mailbox();
        }
    }

    /// Copies what other connections may read (CLIENT LIST) from the
    /// command layer's state: once per batch, and before a client lists
    /// itself.
    pub fn publish(&self) {
        self.info.touch(self.state.last_cmd);
        self.info.multi.store(self.state.multi_len(), Relaxed);
        self.info.db.store(self.state.dbid, Relaxed);
    }
}

impl AsMut<ClientState<Shared>> for Client {
    fn as_mut(&mut self) -> &mut ClientState<Shared> {
        &mut self.state
    }
}

impl AsRef<ClientState<Shared>> for Client {
    fn as_ref(&self) -> &ClientState<Shared> {
        &self.state
    }
}

/// Every connected client, by id.
#[derive(Debug, Default)]
pub struct ClientRegistry {
    clients: Mutex<BTreeMap<u64, Arc<ClientInfo>>>,
    next_id: AtomicU64,
}

impl ClientRegistry {
    /// Registers a new connection, or returns `None` if `max` are connected.
    pub fn register(&self, addr: SocketAddr, laddr: SocketAddr, max: usize) -> Option<Arc<ClientInfo>> {
        let mut clients = self.clients.lock();
        if clients.len() >= max {
            return None;
        }
        let id = self.next_id.fetch_add(1, Relaxed) + 1;
        let info = Arc::new(ClientInfo::new(id, addr, laddr));
        clients.insert(id, info.clone());
        Some(info)
    }

    pub fn unregister(&self, id: u64) {
        self.clients.lock().remove(&id);
    }

    pub fn len(&self) -> usize {
        self.clients.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A snapshot of every client, by ascending id.
    pub fn all(&self) -> Vec<Arc<ClientInfo>> {
        self.clients.lock().values().cloned().collect()
    }

    pub fn get(&self, id: u64) -> Option<Arc<ClientInfo>> {
        self.clients.lock().get(&id).cloned()
    }
}
