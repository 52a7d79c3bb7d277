//! Test harness shared by the transport's integration tests: a small
//! cluster of nodes over either implementation behind one trait
//! ([`Cluster`]), and a scriptable [`TestHandler`].
//!
//! Every wait in here is bounded; a cluster is closed explicitly
//! ([`Cluster::close`]) so that TCP tests leave no task or socket behind.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use ringcache_transport::{
    BoxFuture, ClusterSecret, Handler, Message, NodeId, SimNetwork, SimTransport, TcpTransport, Transport,
    TransportConfig,
};
use tokio::sync::{mpsc, Semaphore};

pub const SECRET: &str = "test-cluster-secret-0123456789";

pub fn id(i: usize) -> NodeId {
    NodeId::from(format!("n{i}"))
}

/// A few nodes over one implementation. Node `i` has id `n{i}`.
pub trait Cluster {
    type T: Transport;
    fn node(&self, i: usize) -> Arc<Self::T>;
    fn config(&self) -> &TransportConfig;
    /// Install a handler on node `i`, kept across stop/start.
    fn set_handler(&mut self, i: usize, h: Arc<dyn Handler>);
    /// Take node `i` down (its process is gone).
    async fn stop(&mut self, i: usize);
    /// Bring node `i` back, same id, same address, same handler.
    async fn start(&mut self, i: usize);
    /// Shut every node down and wait for their tasks.
    async fn close(self);
}

pub struct SimCluster {
    pub net: SimNetwork,
    nodes: Vec<Arc<SimTransport>>,
    config: TransportConfig,
}

impl SimCluster {
    pub fn new(n: usize, config: TransportConfig, seed: u64) -> SimCluster {
        let net = SimNetwork::new(seed, config.clone()).unwrap();
        let nodes = (0..n).map(|i| Arc::new(net.add_node(id(i)))).collect();
        SimCluster { net, nodes, config }
    }
}

impl Cluster for SimCluster {
    type T = SimTransport;

    fn node(&self, i: usize) -> Arc<SimTransport> {
        self.nodes[i].clone()
    }

    fn config(&self) -> &TransportConfig {
        &self.config
    }

    fn set_handler(&mut self, i: usize, h: Arc<dyn Handler>) {
        self.nodes[i].set_handler(h);
    }

    async fn stop(&mut self, i: usize) {
        self.net.stop(&id(i));
    }

    async fn start(&mut self, i: usize) {
        self.net.start(&id(i));
    }

    async fn close(self) {}
}

pub struct TcpCluster {
    nodes: Vec<Option<Arc<TcpTransport>>>,
    addrs: Vec<SocketAddr>,
    handlers: Vec<Option<Arc<dyn Handler>>>,
    config: TransportConfig,
}

impl TcpCluster {
    pub async fn new(n: usize, config: TransportConfig) -> TcpCluster {
        let secret = ClusterSecret::new(SECRET).unwrap();
        let mut nodes = Vec::new();
        for i in 0..n {
            let t = TcpTransport::bind(id(i), "127.0.0.1:0", secret.clone(), config.clone()).await.unwrap();
            nodes.push(Some(Arc::new(t)));
        }
        let addrs: Vec<SocketAddr> = nodes.iter().map(|t| t.as_ref().unwrap().local_addr()).collect();
        for t in nodes.iter().flatten() {
            for (j, a) in addrs.iter().enumerate() {
                t.add_peer(id(j), *a);
            }
        }
        TcpCluster { nodes, addrs, handlers: vec![None; n], config }
    }
}

impl Cluster for TcpCluster {
    type T = TcpTransport;

    fn node(&self, i: usize) -> Arc<TcpTransport> {
        self.nodes[i].clone().expect("node is stopped")
    }

    fn config(&self) -> &TransportConfig {
        &self.config
    }

    fn set_handler(&mut self, i: usize, h: Arc<dyn Handler>) {
        self.node(i).set_handler(h.clone());
        self.handlers[i] = Some(h);
    }

    async fn stop(&mut self, i: usize) {
        if let Some(t) = self.nodes[i].take() {
            bounded(t.shutdown()).await;
        }
    }

    async fn start(&mut self, i: usize) {
        assert!(self.nodes[i].is_none());
        let secret = ClusterSecret::new(SECRET).unwrap();
        let t = TcpTransport::bind(id(i), self.addrs[i], secret, self.config.clone()).await.unwrap();
        for (j, a) in self.addrs.iter().enumerate() {
            t.add_peer(id(j), *a);
        }
        if let Some(h) = &self.handlers[i] {
            t.set_handler(h.clone());
        }
        self.nodes[i] = Some(Arc::new(t));
    }

    async fn close(self) {
        for t in self.nodes.into_iter().flatten() {
            bounded(t.shutdown()).await;
        }
    }
}

/// Await `f`, failing the test if it takes more than 10 s.
pub async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(10), f).await.expect("bounded wait exceeded 10 s")
}

/// A handler driven by the request text:
/// - `sleep:<ms>:<x>` answers `<x>` after `<ms>` ms;
/// - `hang` never answers;
/// - `block:<x>` answers `<x>` once the gate lets it through;
/// - `len:...` answers the request's length;
/// - `big:<n>` answers `n` bytes;
/// - anything else: `<node> got <msg> from <from>`.
///
/// One-way messages go to `messages`.
pub struct TestHandler {
    pub name: NodeId,
    pub gate: Arc<Semaphore>,
    pub entered: Arc<AtomicUsize>,
    pub messages: mpsc::UnboundedSender<(NodeId, Message)>,
    pub order: Arc<Mutex<Vec<String>>>,
}

impl TestHandler {
    pub fn new(name: NodeId) -> (Arc<TestHandler>, mpsc::UnboundedReceiver<(NodeId, Message)>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let h = TestHandler {
            name,
            gate: Arc::new(Semaphore::new(0)),
            entered: Arc::new(AtomicUsize::new(0)),
            messages: tx,
            order: Arc::default(),
        };
        (Arc::new(h), rx)
    }
}

impl Handler for TestHandler {
    fn request(&self, from: NodeId, msg: Message) -> BoxFuture<'static, Message> {
        let text = String::from_utf8_lossy(&msg).into_owned();
        let name = self.name.clone();
        let gate = self.gate.clone();
        let entered = self.entered.clone();
        let order = self.order.clone();
        Box::pin(async move {
            if let Some(rest) = text.strip_prefix("sleep:") {
                let (ms, x) = rest.split_once(':').unwrap();
                tokio::time::sleep(Duration::from_millis(ms.parse().unwrap())).await;
                order.lock().unwrap().push(x.to_string());
                Bytes::from(x.to_string())
            } else if text == "hang" {
                std::future::pending().await
            } else if let Some(x) = text.strip_prefix("block:") {
                entered.fetch_add(1, Ordering::SeqCst);
                gate.acquire().await.unwrap().forget();
                Bytes::from(x.to_string())
            } else if text.starts_with("len:") {
                Bytes::from(msg.len().to_string())
            } else if let Some(n) = text.strip_prefix("big:") {
                Bytes::from(vec![b'x'; n.parse().unwrap()])
            } else {
                Bytes::from(format!("{name} got {text} from {from}"))
            }
        })
    }

    fn message(&self, from: NodeId, msg: Message) {
        let _ = self.messages.send((from, msg));
    }
}
