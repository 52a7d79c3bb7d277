//! In-memory network for tests: [`SimNetwork`] is the controller (nodes up
//! or down, links cut or healed, messages dropped or delayed), and each
//! node gets a [`SimTransport`] that implements the same [`Transport`]
//! trait as TCP.
//!
//! Model: a request is two legs, there and back. Each leg is decided when
//! it starts, under one lock, in this order: the link must be up (else
//! `Unreachable` for the request leg and `ConnectionLost` for the answer
//! leg, as a reset TCP connection would say), the message may be dropped
//! (then the caller sees `Timeout`), then it waits its delay. The target
//! must still be up when the message lands.
//!
//! Invariants:
//! - Deterministic for a given seed: every random draw comes from one
//!   seeded RNG (the seed is printed so a failure can be replayed), and all
//!   waiting is tokio time, so under a current-thread runtime with paused
//!   time the same operations give the same outcomes, and delays cost no
//!   wall time.
//! - The same limits as TCP: `frame_len_max` both ways,
//!   `inflight_per_peer_max` per (caller, peer), and every request ends
//!   within `request_timeout_ms`.
//! - Delivery runs in its own task, so a caller that gives up does not
//!   cancel the handler half way (a timed-out request may still have been
//!   handled, as over TCP).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::{oneshot, Semaphore};
use tokio::time::{sleep, timeout_at, Instant};

use crate::error::{Refusal, Result, TransportError};
use crate::{BoxFuture, Handler, HandlerSlot, Message, NodeId, Transport, TransportConfig};

/// How long a message spends on a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delay {
    None,
    Fixed(Duration),
    /// Uniform in `[min, max]`, drawn per message from the seeded RNG.
    Uniform {
        min: Duration,
        max: Duration,
    },
}

/// The controller of an in-memory network. Cheap to clone; all clones
/// control the same network.
#[derive(Debug, Clone)]
pub struct SimNetwork {
    inner: Arc<Net>,
}

#[derive(Debug)]
struct Net {
    config: TransportConfig,
    seed: u64,
    state: Mutex<NetState>,
}

#[derive(Debug)]
struct NetState {
    rng: StdRng,
    nodes: HashMap<NodeId, SimNode>,
    /// Directed links that are cut: (from, to).
    cut: HashSet<(NodeId, NodeId)>,
    drop_probability: f64,
    delay: Delay,
}

#[derive(Debug)]
struct SimNode {
    up: bool,
    handler: Arc<HandlerSlot>,
}

/// What happens to one message on one leg.
enum Leg {
    Deliver(Duration),
    Dropped,
}

impl SimNetwork {
    /// A network whose random choices all come from `seed`. The seed is
    /// printed to stderr so a failing test can be replayed.
    pub fn new(seed: u64, config: TransportConfig) -> Result<SimNetwork> {
        config.validate()?;
        eprintln!("SimNetwork seed = {seed}");
        Ok(SimNetwork {
            inner: Arc::new(Net {
                config,
                seed,
                state: Mutex::new(NetState {
                    rng: StdRng::seed_from_u64(seed),
                    nodes: HashMap::new(),
                    cut: HashSet::new(),
                    drop_probability: 0.0,
                    delay: Delay::None,
                }),
            }),
        })
    }

    pub fn seed(&self) -> u64 {
        self.inner.seed
    }

    /// Add a node (up, without a handler) and return its transport. Adding
    /// an id twice returns a second transport for the same node.
    pub fn add_node(&self, id: impl Into<NodeId>) -> SimTransport {
        let id = id.into();
        let mut st = self.inner.lock();
        let node = st.nodes.entry(id.clone()).or_insert_with(|| SimNode { up: true, handler: Arc::default() });
        SimTransport {
            id,
            net: self.inner.clone(),
            handler: node.handler.clone(),
            in_flight: Mutex::new(HashMap::new()),
        }
    }

    /// Take a node down: messages to it fail, and it cannot send. Its
    /// handler stays installed for [`SimNetwork::start`].
    pub fn stop(&self, id: &NodeId) {
        if let Some(n) = self.inner.lock().nodes.get_mut(id) {
            n.up = false;
        }
    }

    /// Bring a stopped node back.
    pub fn start(&self, id: &NodeId) {
        if let Some(n) = self.inner.lock().nodes.get_mut(id) {
            n.up = true;
        }
    }

    /// Cut every link between the two sides, both ways.
    pub fn partition(&self, a: &[NodeId], b: &[NodeId]) {
        let mut st = self.inner.lock();
        for x in a {
            for y in b {
                st.cut.insert((x.clone(), y.clone()));
                st.cut.insert((y.clone(), x.clone()));
            }
        }
    }

    /// Cut one direction only: `from` can no longer reach `to`.
    pub fn cut_link(&self, from: &NodeId, to: &NodeId) {
        self.inner.lock().cut.insert((from.clone(), to.clone()));
    }

    /// Restore every link between the two sides, both ways.
    pub fn heal(&self, a: &[NodeId], b: &[NodeId]) {
        let mut st = self.inner.lock();
        for x in a {
            for y in b {
                st.cut.remove(&(x.clone(), y.clone()));
                st.cut.remove(&(y.clone(), x.clone()));
            }
        }
    }

    pub fn heal_all(&self) {
        self.inner.lock().cut.clear();
    }

    /// Drop each message (each leg) with probability `p` in `[0, 1]`.
    pub fn set_drop_probability(&self, p: f64) {
        assert!((0.0..=1.0).contains(&p), "drop probability {p} not in [0, 1]");
        self.inner.lock().drop_probability = p;
    }

    pub fn set_delay(&self, delay: Delay) {
        if let Delay::Uniform { min, max } = delay {
            assert!(min <= max, "delay range {min:?}..{max:?} is empty");
        }
        self.inner.lock().delay = delay;
    }
}

impl Net {
    fn lock(&self) -> MutexGuard<'_, NetState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Decide the fate of a message from `from` to `to`: `Err` if it cannot
    /// be sent at all.
    fn leg(&self, from: &NodeId, to: &NodeId) -> std::result::Result<Leg, &'static str> {
        let mut st = self.lock();
        match st.nodes.get(to) {
            Some(n) if n.up => {}
            _ => return Err("node is down"),
        }
        if st.cut.contains(&(from.clone(), to.clone())) {
            return Err("link is cut");
        }
        let p = st.drop_probability;
        if p > 0.0 && st.rng.gen_bool(p) {
            return Ok(Leg::Dropped);
        }
        let d = match st.delay {
            Delay::None => Duration::ZERO,
            Delay::Fixed(d) => d,
            Delay::Uniform { min, max } => st.rng.gen_range(min..=max),
        };
        Ok(Leg::Deliver(d))
    }

    /// The handler of `to` if it is up when a message lands.
    fn arrive(&self, to: &NodeId) -> Option<Option<Arc<dyn Handler>>> {
        let st = self.lock();
        st.nodes.get(to).filter(|n| n.up).map(|n| n.handler.get())
    }

    fn is_up(&self, id: &NodeId) -> bool {
        self.lock().nodes.get(id).is_some_and(|n| n.up)
    }

    fn exists(&self, id: &NodeId) -> bool {
        self.lock().nodes.contains_key(id)
    }
}

/// One node's end of a [`SimNetwork`].
#[derive(Debug)]
pub struct SimTransport {
    id: NodeId,
    net: Arc<Net>,
    handler: Arc<HandlerSlot>,
    in_flight: Mutex<HashMap<NodeId, Arc<Semaphore>>>,
}

impl SimTransport {
    fn check_send(&self, to: &NodeId, msg: &Message) -> Result<()> {
        if !self.net.is_up(&self.id) {
            return Err(TransportError::Shutdown);
        }
        let max = self.net.config.frame_len_max;
        if msg.len() as u64 > u64::from(max) {
            return Err(TransportError::MessageTooLarge { len: msg.len(), max });
        }
        if !self.net.exists(to) {
            return Err(TransportError::UnknownPeer(to.clone()));
        }
        Ok(())
    }

    fn semaphore(&self, to: &NodeId) -> Arc<Semaphore> {
        let mut m = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        m.entry(to.clone()).or_insert_with(|| Arc::new(Semaphore::new(self.net.config.inflight_per_peer_max))).clone()
    }

    async fn do_request(&self, to: &NodeId, msg: Message) -> Result<Message> {
        self.check_send(to, &msg)?;
        let config = &self.net.config;
        let Ok(_permit) = self.semaphore(to).try_acquire_owned() else {
            return Err(TransportError::Backpressure { peer: to.clone(), in_flight_max: config.inflight_per_peer_max });
        };
        let deadline = Instant::now() + Duration::from_millis(config.request_timeout_ms);
        let leg = self
            .net
            .leg(&self.id, to)
            .map_err(|reason| TransportError::Unreachable { peer: to.clone(), reason: reason.to_string() })?;
        let (tx, rx) = oneshot::channel();
        tokio::spawn(deliver_request(self.net.clone(), self.id.clone(), to.clone(), msg, leg, tx));
        match timeout_at(deadline, rx).await {
            Ok(Ok(answer)) => answer,
            // Lost on the way: the caller learns nothing until its timeout,
            // as over a real network.
            Ok(Err(_lost)) => {
                tokio::time::sleep_until(deadline).await;
                Err(TransportError::Timeout { peer: to.clone(), timeout_ms: config.request_timeout_ms })
            }
            Err(_) => Err(TransportError::Timeout { peer: to.clone(), timeout_ms: config.request_timeout_ms }),
        }
    }

    async fn do_send(&self, to: &NodeId, msg: Message) -> Result<()> {
        self.check_send(to, &msg)?;
        let leg = self
            .net
            .leg(&self.id, to)
            .map_err(|reason| TransportError::Unreachable { peer: to.clone(), reason: reason.to_string() })?;
        let (net, from, to) = (self.net.clone(), self.id.clone(), to.clone());
        tokio::spawn(async move {
            let Leg::Deliver(d) = leg else { return };
            sleep(d).await;
            if let Some(Some(h)) = net.arrive(&to) {
                h.message(from, msg);
            }
        });
        Ok(())
    }
}

/// Carry a request there, run the handler, carry the answer back. Dropping
/// `tx` without sending means the message or its answer was lost.
async fn deliver_request(
    net: Arc<Net>,
    from: NodeId,
    to: NodeId,
    msg: Message,
    leg: Leg,
    tx: oneshot::Sender<Result<Message>>,
) {
    let Leg::Deliver(d) = leg else { return };
    sleep(d).await;
    let answer = match net.arrive(&to) {
        None => Err(TransportError::ConnectionLost { peer: to.clone() }),
        Some(None) => Err(TransportError::Refused { peer: to.clone(), refusal: Refusal::NoHandler }),
        Some(Some(h)) => {
            let answer = h.request(from.clone(), msg).await;
            if answer.len() as u64 > u64::from(net.config.frame_len_max) {
                Err(TransportError::Refused { peer: to.clone(), refusal: Refusal::ResponseTooLarge })
            } else {
                Ok(answer)
            }
        }
    };
    // The way back is a leg of its own: it can be cut or lose the answer,
    // and a node that went down while handling sends nothing.
    let back = if net.is_up(&to) { net.leg(&to, &from) } else { Err("node went down") };
    match back {
        Err(_) => {
            let _ = tx.send(Err(TransportError::ConnectionLost { peer: to }));
        }
        Ok(Leg::Dropped) => {}
        Ok(Leg::Deliver(d)) => {
            sleep(d).await;
            let _ = tx.send(answer);
        }
    }
}

impl Transport for SimTransport {
    fn local_id(&self) -> &NodeId {
        &self.id
    }

    fn set_handler(&self, handler: Arc<dyn Handler>) {
        self.handler.set(handler);
    }

    fn request<'a>(&'a self, to: &'a NodeId, msg: Message) -> BoxFuture<'a, Result<Message>> {
        Box::pin(self.do_request(to, msg))
    }

    fn send<'a>(&'a self, to: &'a NodeId, msg: Message) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.do_send(to, msg))
    }
}
