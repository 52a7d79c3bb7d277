//! The TCP transport: a listener for peers' connections, and a pool of
//! persistent, pipelined, authenticated connections to each peer.
//!
//! Per peer: up to `connections_per_peer` connections, used round-robin
//! by requests; one-way messages all take the first one, so they arrive
//! in the order they were sent for as long as that connection lasts (a
//! lost connection may lose some). A dead one is replaced on the next
//! request that picks its slot (lazy reconnection), at most one attempt at a time per slot, and after a
//! failed attempt no new attempt is made until an exponential backoff
//! (`backoff_initial_ms` doubling up to `backoff_max_ms`) has passed:
//! requests in between fail fast with `Backoff`.
//!
//! Invariants:
//! - Every request is bounded by `request_timeout_ms`, from the moment it
//!   is called (connecting and the handshake included).
//! - At most `inflight_per_peer_max` requests per peer wait at once; one
//!   more fails with `Backpressure` at once (no hidden queue).
//! - Every task runs on the transport's runtime (the one given to
//!   [`TcpTransport::bind_on`], else the one that bound it), whichever
//!   runtime calls it: a server puts its peers' connections on the thread
//!   that serves its clients, so a replicated write and its acks never
//!   cross threads. Connections dialed from another runtime move to it.
//! - Every task runs on the transport's `TaskTracker` and ends when its
//!   `CancellationToken` (a child of the transport's) is cancelled:
//!   [`TcpTransport::shutdown`] stops accepting, closes every connection,
//!   fails every waiting request with `Shutdown`, and returns once every
//!   task has ended. Dropping the transport cancels without waiting.

mod conn;
mod handshake;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};
use tokio::runtime::Handle;
use tokio::sync::Semaphore;
use tokio::time::{timeout, Instant};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::{ClusterSecret, NODE_ID_LEN_MAX};
use crate::error::{Result, TransportError};
use crate::frame::FrameCodec;
use crate::{BoxFuture, Handler, HandlerSlot, Message, NodeId, Transport, TransportConfig};

use self::conn::Conn;
use self::handshake::HandshakeError;

/// Node-to-node transport over TCP. See the module docs.
#[derive(Debug)]
pub struct TcpTransport {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    id: NodeId,
    config: TransportConfig,
    codec: FrameCodec,
    secret: ClusterSecret,
    handler: Arc<HandlerSlot>,
    peers: Mutex<HashMap<NodeId, Arc<Peer>>>,
    local_addr: SocketAddr,
    cancel: CancellationToken,
    tracker: TaskTracker,
    runtime: Handle,
}

/// The slot whose connection carries every one-way message to a peer.
const ONE_WAY_SLOT: usize = 0;

#[derive(Debug)]
struct Peer {
    id: NodeId,
    addr: SocketAddr,
    in_flight: Arc<Semaphore>,
    slots: Box<[Slot]>,
    next: AtomicUsize,
    backoff: Mutex<Backoff>,
    /// Cancelled when the peer is removed or replaced: closes its
    /// connections.
    cancel: CancellationToken,
}

#[derive(Debug, Default)]
struct Slot {
    conn: Mutex<Option<Arc<Conn>>>,
    /// Held while connecting, so one slot makes one attempt at a time.
    connecting: tokio::sync::Mutex<()>,
}

#[derive(Debug, Default)]
struct Backoff {
    failures: u32,
    retry_at: Option<Instant>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Slot {
    fn live(&self) -> Option<Arc<Conn>> {
        lock(&self.conn).as_ref().filter(|c| c.is_open()).cloned()
    }
}

impl TcpTransport {
    /// Listen on `addr` as node `id` and start accepting authenticated
    /// peers, with every task on the current runtime. Use port 0 to let the
    /// system pick (see [`TcpTransport::local_addr`]).
    pub async fn bind(
        id: impl Into<NodeId>,
        addr: impl ToSocketAddrs,
        secret: ClusterSecret,
        config: TransportConfig,
    ) -> Result<TcpTransport> {
        TcpTransport::bind_on(id, addr, secret, config, Handle::current()).await
    }

    /// Like [`TcpTransport::bind`], with every task of the transport (the
    /// listener's, each connection's) on `runtime`, which need not be
    /// running yet: they start when it does.
    pub async fn bind_on(
        id: impl Into<NodeId>,
        addr: impl ToSocketAddrs,
        secret: ClusterSecret,
        config: TransportConfig,
        runtime: Handle,
    ) -> Result<TcpTransport> {
        config.validate()?;
        let id = id.into();
        if id.as_str().is_empty() || id.as_str().len() > NODE_ID_LEN_MAX {
            return Err(TransportError::InvalidConfig("node id must be 1..=256 bytes"));
        }
        let listener = TcpListener::bind(addr).await?;
        let inner = Arc::new(Inner {
            id,
            codec: FrameCodec::new(config.frame_len_max),
            config,
            secret,
            handler: Arc::default(),
            peers: Mutex::new(HashMap::new()),
            local_addr: listener.local_addr()?,
            cancel: CancellationToken::new(),
            tracker: TaskTracker::new(),
            runtime,
        });
        // Registered again with the transport's runtime, where it is
        // accepted from.
        let listener = listener.into_std()?;
        let accepting = inner.clone();
        inner.spawn(async move {
            match TcpListener::from_std(listener) {
                Ok(listener) => accept_loop(accepting, listener).await,
                Err(e) => tracing::error!(error = %e, "cluster listener unusable; accepting no peers"),
            }
        });
        Ok(TcpTransport { inner })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// Tell the transport where `id` listens. A new address for a known
    /// peer replaces it and closes its old connections.
    pub fn add_peer(&self, id: impl Into<NodeId>, addr: SocketAddr) {
        let id = id.into();
        let mut peers = lock(&self.inner.peers);
        if peers.get(&id).is_some_and(|p| p.addr == addr) {
            return;
        }
        let c = &self.inner.config;
        let peer = Arc::new(Peer {
            id: id.clone(),
            addr,
            in_flight: Arc::new(Semaphore::new(c.inflight_per_peer_max)),
            slots: (0..c.connections_per_peer).map(|_| Slot::default()).collect(),
            next: AtomicUsize::new(0),
            backoff: Mutex::new(Backoff::default()),
            cancel: self.inner.cancel.child_token(),
        });
        if let Some(old) = peers.insert(id, peer) {
            old.cancel.cancel();
        }
    }

    /// Which node listens at `addr`: dials it, runs the handshake (both
    /// sides prove the cluster secret) and returns the id the node proved,
    /// then closes the connection. For seeds given by address only.
    /// Bounded by `connect_timeout_ms`.
    pub async fn identify(&self, addr: SocketAddr) -> Result<NodeId> {
        let inner = &self.inner;
        let unknown = NodeId::from(addr.to_string());
        let unreachable = |reason: String| TransportError::Unreachable { peer: unknown.clone(), reason };
        let attempt = async {
            let mut stream = TcpStream::connect(addr).await.map_err(|e| unreachable(e.to_string()))?;
            let (id, _) = handshake::dial(&mut stream, &inner.secret, &inner.id, None).await.map_err(|e| match e {
                HandshakeError::Auth(error) => TransportError::Auth { peer: unknown.clone(), error },
                HandshakeError::Frame(error) => TransportError::Protocol { peer: unknown.clone(), error },
                HandshakeError::Io(e) => unreachable(e.to_string()),
                HandshakeError::Closed => unreachable("closed during the handshake".into()),
            })?;
            Ok(id)
        };
        match timeout(Duration::from_millis(inner.config.connect_timeout_ms), attempt).await {
            Ok(r) => r,
            Err(_) => Err(unreachable("connect and handshake timed out".into())),
        }
    }

    /// The address `id` is dialled at, if known.
    pub fn peer_addr(&self, id: &NodeId) -> Option<SocketAddr> {
        lock(&self.inner.peers).get(id).map(|p| p.addr)
    }

    /// Forget a peer and close its connections.
    pub fn remove_peer(&self, id: &NodeId) {
        if let Some(old) = lock(&self.inner.peers).remove(id) {
            old.cancel.cancel();
        }
    }

    /// Stop accepting, close every connection, fail waiting requests with
    /// `Shutdown`, and wait for every task to end.
    pub async fn shutdown(&self) {
        self.inner.cancel.cancel();
        self.inner.tracker.close();
        self.inner.tracker.wait().await;
    }
}

impl Drop for TcpTransport {
    fn drop(&mut self) {
        self.inner.cancel.cancel();
    }
}

async fn accept_loop(inner: Arc<Inner>, listener: TcpListener) {
    let incoming = Arc::new(Semaphore::new(inner.config.incoming_connections_max));
    loop {
        let accepted = tokio::select! {
            _ = inner.cancel.cancelled() => break,
            a = listener.accept() => a,
        };
        let (stream, from) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors and the like: wait a little
                // rather than spin.
                tracing::warn!(error = %e, "accept failed");
                tokio::select! {
                    _ = inner.cancel.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_millis(50)) => continue,
                }
            }
        };
        let Ok(permit) = incoming.clone().try_acquire_owned() else {
            tracing::warn!(%from, "too many incoming connections; closing the new one");
            continue;
        };
        inner.spawn(accept_one(inner.clone(), stream, from, permit));
    }
    // The listener is dropped here: new connections are refused.
}

async fn accept_one(
    inner: Arc<Inner>,
    mut stream: TcpStream,
    from: SocketAddr,
    _permit: tokio::sync::OwnedSemaphorePermit,
) {
    let _ = stream.set_nodelay(true);
    let hs = tokio::select! {
        _ = inner.cancel.cancelled() => return,
        r = timeout(Duration::from_millis(inner.config.connect_timeout_ms), handshake::accept(&mut stream, &inner.secret, &inner.id)) => r,
    };
    let (peer, leftover) = match hs {
        Ok(Ok(ok)) => ok,
        Ok(Err(e)) => {
            tracing::warn!(%from, error = ?e, "handshake failed; closing the connection");
            return;
        }
        Err(_) => {
            tracing::warn!(%from, "handshake timed out; closing the connection");
            return;
        }
    };
    let ctx = conn::ServeCtx {
        peer,
        codec: inner.codec,
        handler: inner.handler.clone(),
        handlers_max: inner.config.handler_inflight_per_conn_max,
        closed: inner.cancel.child_token(),
        tracker: inner.tracker.clone(),
    };
    conn::serve(stream, leftover, ctx).await;
}

impl Inner {
    /// Runs `task` on the transport's runtime, tracked.
    fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        self.tracker.spawn_on(task, &self.runtime);
    }

    fn peer(&self, id: &NodeId) -> Result<Arc<Peer>> {
        lock(&self.peers).get(id).cloned().ok_or_else(|| TransportError::UnknownPeer(id.clone()))
    }

    fn check_send(&self, msg: &Message) -> Result<()> {
        if self.cancel.is_cancelled() {
            return Err(TransportError::Shutdown);
        }
        let max = self.config.frame_len_max;
        if msg.len() as u64 > u64::from(max) {
            return Err(TransportError::MessageTooLarge { len: msg.len(), max });
        }
        Ok(())
    }

    /// A live connection to `peer` for a request: the next slot's, or a
    /// new one there (requests carry their own ids, so they may spread).
    async fn connection(&self, peer: &Peer) -> Result<Arc<Conn>> {
        self.connection_at(peer, peer.next.fetch_add(1, Ordering::Relaxed) % peer.slots.len()).await
    }

    /// A live connection in `peer`'s slot `at`, or a new one there.
    async fn connection_at(&self, peer: &Peer, at: usize) -> Result<Arc<Conn>> {
        let slot = &peer.slots[at];
        if let Some(c) = slot.live() {
            return Ok(c);
        }
        let _connecting = slot.connecting.lock().await;
        if let Some(c) = slot.live() {
            return Ok(c);
        }
        {
            let b = lock(&peer.backoff);
            if let Some(at) = b.retry_at {
                let now = Instant::now();
                if now < at {
                    let retry_in_ms = (at - now).as_millis() as u64;
                    return Err(TransportError::Backoff { peer: peer.id.clone(), retry_in_ms });
                }
            }
        }
        match self.dial(peer).await {
            Ok(c) => {
                *lock(&peer.backoff) = Backoff::default();
                *lock(&slot.conn) = Some(c.clone());
                Ok(c)
            }
            Err(e) => {
                let mut b = lock(&peer.backoff);
                b.failures = b.failures.saturating_add(1);
                b.retry_at = Some(Instant::now() + Duration::from_millis(self.config.backoff_ms(b.failures)));
                Err(e)
            }
        }
    }

    async fn dial(&self, peer: &Peer) -> Result<Arc<Conn>> {
        let unreachable = |reason: String| TransportError::Unreachable { peer: peer.id.clone(), reason };
        let attempt = async {
            let mut stream = TcpStream::connect(peer.addr).await.map_err(|e| unreachable(e.to_string()))?;
            let _ = stream.set_nodelay(true);
            let (_, leftover) =
                handshake::dial(&mut stream, &self.secret, &self.id, Some(&peer.id)).await.map_err(|e| match e {
                    HandshakeError::Auth(error) => TransportError::Auth { peer: peer.id.clone(), error },
                    HandshakeError::Frame(error) => TransportError::Protocol { peer: peer.id.clone(), error },
                    HandshakeError::Io(e) => unreachable(e.to_string()),
                    HandshakeError::Closed => unreachable("closed during the handshake".into()),
                })?;
            conn::spawn_dialed(
                stream,
                leftover,
                peer.id.clone(),
                self.codec,
                self.config.inflight_per_peer_max,
                peer.cancel.child_token(),
                (&self.tracker, &self.runtime),
            )
            .map_err(|e| unreachable(e.to_string()))
        };
        match timeout(Duration::from_millis(self.config.connect_timeout_ms), attempt).await {
            Ok(r) => r,
            Err(_) => Err(unreachable("connect and handshake timed out".into())),
        }
    }

    async fn request(&self, to: &NodeId, msg: Message) -> Result<Message> {
        self.check_send(&msg)?;
        let peer = self.peer(to)?;
        let Ok(_permit) = peer.in_flight.try_acquire() else {
            return Err(TransportError::Backpressure {
                peer: to.clone(),
                in_flight_max: self.config.inflight_per_peer_max,
            });
        };
        let timeout_ms = self.config.request_timeout_ms;
        let call = async {
            let c = self.connection(&peer).await?;
            c.call(msg).await
        };
        let r = tokio::select! {
            _ = self.cancel.cancelled() => return Err(TransportError::Shutdown),
            r = timeout(Duration::from_millis(timeout_ms), call) => r,
        };
        match r {
            Ok(Err(_)) if self.cancel.is_cancelled() => Err(TransportError::Shutdown),
            Ok(r) => r,
            Err(_) => Err(TransportError::Timeout { peer: to.clone(), timeout_ms }),
        }
    }

    async fn send(&self, to: &NodeId, msg: Message) -> Result<()> {
        self.check_send(&msg)?;
        let peer = self.peer(to)?;
        let timeout_ms = self.config.request_timeout_ms;
        // Always the first slot's connection: one connection, one reader
        // on the other side, so one-way messages to a peer arrive in the
        // order they were sent (replication's deltas count on it; spread
        // over the pool, a later batch could overtake an earlier one).
        let c = tokio::select! {
            _ = self.cancel.cancelled() => return Err(TransportError::Shutdown),
            r = timeout(Duration::from_millis(timeout_ms), self.connection_at(&peer, ONE_WAY_SLOT)) => match r {
                Ok(c) => c?,
                Err(_) => return Err(TransportError::Timeout { peer: to.clone(), timeout_ms }),
            },
        };
        c.send(msg).map_err(|e| {
            e.unwrap_or(TransportError::Backpressure {
                peer: to.clone(),
                in_flight_max: self.config.inflight_per_peer_max,
            })
        })
    }
}

impl Transport for TcpTransport {
    fn local_id(&self) -> &NodeId {
        &self.inner.id
    }

    fn set_handler(&self, handler: Arc<dyn Handler>) {
        self.inner.handler.set(handler);
    }

    fn request<'a>(&'a self, to: &'a NodeId, msg: Message) -> BoxFuture<'a, Result<Message>> {
        Box::pin(self.inner.request(to, msg))
    }

    fn send<'a>(&'a self, to: &'a NodeId, msg: Message) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.inner.send(to, msg))
    }
}
