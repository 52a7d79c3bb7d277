//! The listener and the node's lifecycle.
//!
//! Shutdown is explicit: stop accepting, tell every connection and the
//! background task, wait for all of them (bounded), then return.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_util::task::TaskTracker;

use ringcache_transport::{ClusterSecret, TcpTransport, Transport, TransportConfig};

use crate::client::ClientInfo;
use crate::cluster::remote::NodeHandler;
use crate::cluster::Cluster;
use crate::config::Config;
use crate::connection;
use crate::shared::Shared;

/// How long shutdown waits for connections to finish their current batch.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// How often a cluster node drops the sessions other nodes abandoned.
const SESSION_SWEEP_PERIOD: Duration = Duration::from_secs(1);

/// The TCP transport of a cluster member: listens on the cluster port and
/// knows the address of every member named in `peers` (the others are
/// learned by gossip). Requests time out after `cluster-timeout`.
async fn tcp_transport(
    config: &Config,
    client_port: u16,
    runtime: tokio::runtime::Handle,
) -> Result<TcpTransport, ServerError> {
    let secret = ClusterSecret::new(config.cluster_secret.as_deref().unwrap_or_default())?;
    let timeout = config.cluster_timeout_ms;
    let tconfig = TransportConfig {
        request_timeout_ms: timeout,
        connect_timeout_ms: timeout.min(1_000),
        backoff_max_ms: 1_000,
        ..TransportConfig::default()
    };
    let cport = config.own_cluster_port(client_port);
    let transport =
        TcpTransport::bind_on(config.node_id.as_str(), (config.bind.as_str(), cport), secret, tconfig, runtime).await?;
    for peer in config.peers.iter().filter(|p| p.id != config.node_id) {
        let resolve = |reason: String| ServerError::Resolve { peer: peer.to_string(), reason };
        let addr = tokio::net::lookup_host((peer.host.as_str(), peer.cluster_port()))
            .await
            .map_err(|e| resolve(e.to_string()))?
            .next()
            .ok_or_else(|| resolve("no address".to_owned()))?;
        transport.add_peer(peer.id.as_str(), addr);
    }
    Ok(transport)
}

/// A cluster member's transport, and the same one as TCP when it is (its
/// address book and `identify` serve gossip).
type Transports = (Arc<dyn Transport>, Option<Arc<TcpTransport>>);

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("invalid configuration: {0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("can't listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error("cluster: {0}")]
    Cluster(#[from] crate::cluster::ClusterError),
    #[error("cluster transport: {0}")]
    Transport(#[from] ringcache_transport::TransportError),
    #[error("can't resolve peer {peer}: {reason}")]
    Resolve { peer: String, reason: String },
    #[error("can't start a worker's runtime: {0}")]
    Runtime(std::io::Error),
}

/// A bound, not yet running, node.
#[derive(Debug)]
pub struct Server {
    shared: Arc<Shared>,
    listener: TcpListener,
    /// One single-threaded runtime per worker, each driven by its thread
    /// once [`Server::run`] starts it. Built at bind, so that the tasks
    /// that talk to peers (the transport's, replication's senders) can be
    /// put on the first: there a client's replicated write, its messages
    /// to the owners and their acks are all handled by one thread, with no
    /// cross-thread wake-up on the way (a context switch each on a busy
    /// machine: 13 % of a node's CPU in the cluster benchmark before).
    runtimes: Vec<WorkerRuntime>,
}

/// A worker's runtime before its thread drives it. Dropped unused (a
/// server dropped before it ran, a failed bind), it is shut down without
/// waiting, as a runtime must be inside another's tasks.
#[derive(Debug)]
struct WorkerRuntime(Option<tokio::runtime::Runtime>);

impl WorkerRuntime {
    fn handle(&self) -> tokio::runtime::Handle {
        self.0.as_ref().expect("not yet taken").handle().clone()
    }

    fn take(mut self) -> tokio::runtime::Runtime {
        self.0.take().expect("taken once")
    }
}

impl Drop for WorkerRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// The worker runtimes for `config`'s `threads` (0 = one per core).
fn worker_runtimes(config: &Config) -> Result<Vec<WorkerRuntime>, ServerError> {
    let threads =
        if config.threads == 0 { std::thread::available_parallelism().map_or(1, |n| n.get()) } else { config.threads };
    (0..threads)
        .map(|_| {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
            runtime.map(|r| WorkerRuntime(Some(r))).map_err(ServerError::Runtime)
        })
        .collect()
}

impl Server {
    /// Validates `config` and binds the client port, and in a cluster
    /// (`peers`, `seeds` or `cluster-enabled`), the cluster port too (TCP
    /// transport).
    pub async fn bind(config: Config) -> Result<Server, ServerError> {
        config.validate()?;
        let listener = Server::listen(&config).await?;
        let port =
            listener.local_addr().map_err(|source| ServerError::Bind { addr: config.bind.clone(), source })?.port();
        let runtimes = worker_runtimes(&config)?;
        let transport = if config.is_cluster() {
            let tcp = Arc::new(tcp_transport(&config, port, runtimes[0].handle()).await?);
            let dyn_transport: Arc<dyn Transport> = tcp.clone();
            Some((dyn_transport, Some(tcp)))
        } else {
            None
        };
        Server::assemble(config, listener, transport, runtimes)
    }

    /// Like [`Server::bind`], with the cluster's messages going through
    /// `transport` (the in-memory network in tests) instead of TCP.
    pub async fn bind_with_transport(config: Config, transport: Arc<dyn Transport>) -> Result<Server, ServerError> {
        config.validate()?;
        let listener = Server::listen(&config).await?;
        let runtimes = worker_runtimes(&config)?;
        Server::assemble(config, listener, Some((transport, None)), runtimes)
    }

    async fn listen(config: &Config) -> Result<TcpListener, ServerError> {
        let addr = format!("{}:{}", config.bind, config.port);
        TcpListener::bind(&addr).await.map_err(|source| ServerError::Bind { addr, source })
    }

    fn assemble(
        config: Config,
        listener: TcpListener,
        transport: Option<Transports>,
        runtimes: Vec<WorkerRuntime>,
    ) -> Result<Server, ServerError> {
        let local = listener.local_addr().map_err(|source| ServerError::Bind { addr: config.bind.clone(), source })?;
        let cluster = match transport {
            Some((t, tcp)) => Some(Arc::new(Cluster::new(&config, t, tcp, local.port())?)),
            None => None,
        };
        let shared = Arc::new(Shared::with_cluster(config, cluster));
        if let Some(cluster) = &shared.cluster {
            cluster.transport.set_handler(NodeHandler::new(&shared));
            let _ = cluster.peers_runtime.set(runtimes[0].handle());
        }
        let _ = shared.local_addr.set(local);
        Ok(Server { shared, listener, runtimes })
    }

    pub fn local_addr(&self) -> SocketAddr {
        *self.shared.local_addr.get().expect("set in bind")
    }

    pub fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    /// Serves clients until `shared.shutdown` is cancelled (by a signal
    /// handler of the caller, or SHUTDOWN).
    ///
    /// This task only accepts. Each accepted connection is handed to one of
    /// `threads` workers (0 = one per core): a thread with its own
    /// single-threaded runtime. A connection stays on its worker for life,
    /// so its task is woken and scheduled without cross-thread
    /// synchronisation, and the workers share nothing but the keyspace.
    pub async fn run(self) {
        let Server { shared, listener, runtimes } = self;
        let threads = runtimes.len();
        let workers: Vec<Worker> =
            runtimes.into_iter().enumerate().map(|(i, r)| Worker::spawn(i, shared.clone(), r.take())).collect();
        let expiry = spawn_background(shared.clone());
        let monitor = tokio::spawn(crate::cluster::monitor(shared.clone(), SESSION_SWEEP_PERIOD));
        let gossip = tokio::spawn(crate::cluster::gossip::run(shared.clone()));
        let leave = tokio::spawn(crate::cluster::leave::run(shared.clone()));
        let unowned = tokio::spawn(crate::cluster::unowned::run(shared.clone()));
        let replication = crate::cluster::replicate::start(&shared);
        let pubsub_bus = crate::pubsub::bus::start(&shared);
        tracing::info!(addr = %shared.local_addr.get().expect("set in bind"), threads, "ready to accept connections");
        let mut next = 0usize;
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        accept(&shared, &workers[next % workers.len()], stream, peer);
                        next = next.wrapping_add(1);
                    }
                    Err(e) => {
                        // Usually EMFILE: back off instead of spinning.
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                _ = shared.shutdown.cancelled() => break,
            }
        }
        drop(listener);
        let _ = monitor.await;
        let _ = gossip.await;
        let _ = leave.await;
        let _ = unowned.await;
        for task in replication.into_iter().chain(pubsub_bus) {
            let _ = task.await;
        }
        tracing::info!("shutting down: waiting for {} connection(s)", shared.clients.len());
        // Closing the hand-off channels lets each worker drain its
        // connections (they see `shutdown` too) and exit.
        let threads: Vec<_> = workers.into_iter().map(|w| w.thread).collect();
        let _ = tokio::task::spawn_blocking(move || {
            for t in threads {
                let _ = t.join();
            }
            let _ = expiry.join();
        })
        .await;
        tracing::info!("ringcache is now ready to exit, bye bye...");
    }
}

type Handoff = (std::net::TcpStream, Arc<ClientInfo>);

/// A thread with a single-threaded runtime that serves the connections
/// handed to it (and, the first, the tasks that talk to peers).
struct Worker {
    tx: mpsc::UnboundedSender<Handoff>,
    thread: std::thread::JoinHandle<()>,
}

impl Worker {
    fn spawn(index: usize, shared: Arc<Shared>, runtime: tokio::runtime::Runtime) -> Worker {
        let (tx, mut rx) = mpsc::unbounded_channel::<Handoff>();
        let thread = std::thread::Builder::new()
            .name(format!("ringcache-worker-{index}"))
            .spawn(move || {
                runtime.block_on(async move {
                    let tracker = TaskTracker::new();
                    while let Some((stream, info)) = rx.recv().await {
                        match TcpStream::from_std(stream) {
                            Ok(stream) => {
                                tracker.spawn(connection::serve(shared.clone(), info, stream));
                            }
                            Err(e) => {
                                tracing::warn!("can't serve an accepted connection: {e}");
                                shared.clients.unregister(info.id);
                            }
                        }
                    }
                    tracker.close();
                    if tokio::time::timeout(SHUTDOWN_GRACE, tracker.wait()).await.is_err() {
                        tracing::warn!("connections still open after {SHUTDOWN_GRACE:?}; stopping anyway");
                    }
                });
            })
            .expect("spawn worker thread");
        Worker { tx, thread }
    }
}

fn accept(shared: &Arc<Shared>, worker: &Worker, mut stream: TcpStream, peer: SocketAddr) {
    shared.stats.connections_received.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let laddr = stream.local_addr().unwrap_or(peer);
    let max = shared.with_config(|c| c.maxclients);
    let Some(info) = shared.clients.register(peer, laddr, max) else {
        shared.stats.connections_rejected.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tokio::spawn(async move {
            let _ = stream.write_all(b"-ERR max number of clients reached\r\n").await;
        });
        return;
    };
    let id = info.id;
    let handed =
        stream.into_std().map_err(|e| e.to_string()).and_then(|s| worker.tx.send((s, info)).map_err(|e| e.to_string()));
    if let Err(e) = handed {
        tracing::warn!("can't hand a connection to a worker: {e}");
        shared.clients.unregister(id);
    }
}

/// The background cycle (active expiry, and the XREADGROUPs whose stream
/// expired) on its own thread, so its bounded
/// bursts of work never delay a connection's task.
fn spawn_background(shared: Arc<Shared>) -> std::thread::JoinHandle<()> {
    // In the runtime's context: a blocked command it serves may replicate
    // what it wrote, which may start a sender task.
    let runtime = tokio::runtime::Handle::try_current().ok();
    std::thread::Builder::new()
        .name("ringcache-cron".to_owned())
        .spawn(move || {
            let _entered = runtime.as_ref().map(|r| r.enter());
            while !shared.shutdown.is_cancelled() {
                let hz = shared.with_config(|c| c.hz).max(1);
                let period = Duration::from_millis(1000 / u64::from(hz));
                // Like Redis's slow cycle: at most a quarter of each period.
                let deadline = Instant::now() + period / 4;
                // Ends a CLIENT PAUSE whose time is up (expiry resumes).
                shared.pause.is_paused(&shared.db);
                shared.db.active_expire_cycle(ringcache_store::now_ms(), deadline);
                crate::blocking::serve_vanished(&shared);
                // Keys it expired, for CLIENT TRACKING (nobody's writes).
                shared.tracking.deliver(&shared, None);
                shared.tracking.tick(&shared);
                std::thread::sleep(
                    period.saturating_sub(Instant::now().saturating_duration_since(deadline - period / 4)),
                );
            }
        })
        .expect("spawn background thread")
}
