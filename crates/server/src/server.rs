//! The listener and the node's lifecycle.
//!
//! Shutdown is explicit: stop accepting, tell every connection and the
//! background task, wait for all of them (bounded), then return.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::connection;
use crate::shared::Shared;

/// How long shutdown waits for connections to finish their current batch.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("invalid configuration: {0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("can't listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
}

/// A bound, not yet running, node.
#[derive(Debug)]
pub struct Server {
    shared: Arc<Shared>,
    listener: TcpListener,
}

impl Server {
    /// Validates `config` and binds the client port.
    pub async fn bind(config: Config) -> Result<Server, ServerError> {
        config.validate()?;
        let addr = format!("{}:{}", config.bind, config.port);
        let listener =
            TcpListener::bind(&addr).await.map_err(|source| ServerError::Bind { addr: addr.clone(), source })?;
        let shared = Arc::new(Shared::new(config));
        let local = listener.local_addr().map_err(|source| ServerError::Bind { addr, source })?;
        let _ = shared.local_addr.set(local);
        Ok(Server { shared, listener })
    }

    pub fn local_addr(&self) -> SocketAddr {
        *self.shared.local_addr.get().expect("set in bind")
    }

    pub fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    /// Serves clients until `shared.shutdown` is cancelled (by a signal
    /// handler of the caller, or SHUTDOWN).
    pub async fn run(self) {
        let Server { shared, listener } = self;
        let tracker = TaskTracker::new();
        let expiry = spawn_background(shared.clone());
        tracing::info!(addr = %shared.local_addr.get().expect("set in bind"), "ready to accept connections");
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => accept(&shared, &tracker, stream, peer),
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
        tracing::info!("shutting down: waiting for {} connection(s)", shared.clients.len());
        tracker.close();
        if tokio::time::timeout(SHUTDOWN_GRACE, tracker.wait()).await.is_err() {
            tracing::warn!("connections still open after {SHUTDOWN_GRACE:?}; stopping anyway");
        }
        let _ = tokio::task::spawn_blocking(move || expiry.join()).await;
        tracing::info!("ringcache is now ready to exit, bye bye...");
    }
}

fn accept(shared: &Arc<Shared>, tracker: &TaskTracker, mut stream: TcpStream, peer: SocketAddr) {
    shared.stats.connections_received.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let laddr = stream.local_addr().unwrap_or(peer);
    let max = shared.with_config(|c| c.maxclients);
    let Some(info) = shared.clients.register(peer, laddr, max) else {
        shared.stats.connections_rejected.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracker.spawn(async move {
            let _ = stream.write_all(b"-ERR max number of clients reached\r\n").await;
        });
        return;
    };
    tracker.spawn(connection::serve(shared.clone(), info, stream));
}

/// The background cycle (active expiry) on its own thread, so its bounded
/// bursts of work never delay a connection's task.
fn spawn_background(shared: Arc<Shared>) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name("ringcache-cron".to_owned())
        .spawn(move || {
            while !shared.shutdown.is_cancelled() {
                let hz = shared.with_config(|c| c.hz).max(1);
                let period = Duration::from_millis(1000 / u64::from(hz));
                // Like Redis's slow cycle: at most a quarter of each period.
                let deadline = Instant::now() + period / 4;
                shared.db.active_expire_cycle(ringcache_store::now_ms(), deadline);
                std::thread::sleep(
                    period.saturating_sub(Instant::now().saturating_duration_since(deadline - period / 4)),
                );
            }
        })
        .expect("spawn background thread")
}
