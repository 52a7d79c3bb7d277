//! Fault injection for cluster tests, and a checker for what clients were
//! told.
//!
//! - [`FaultCluster`]: `n` node processes whose node-to-node links each pass
//!   through a proxy in the test process, one per direction, so a test can
//!   cut any set of links (a real network partition as the nodes see it:
//!   connections reset, new ones refused) and heal them; plus the process
//!   faults: `kill -9`, SIGSTOP/SIGCONT, and a restart with an empty memory.
//! - [`Workload`]: writer threads that keep writing increasing numbers to
//!   their own keys through every node, recording each write the cluster
//!   acknowledged; [`History::check`] then reads every key back and counts
//!   the acknowledged writes that were lost.
//!
//! Everything is bounded: proxies poll their stop flags, every client
//! operation has a timeout, and dropping a `FaultCluster` stops its nodes
//! (by pid, through [`Server`]'s drop) and its proxies.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::Server;

/// How often proxy threads look at their flags.
const POLL: Duration = Duration::from_millis(20);
/// How long a proxy waits to connect to the node behind it.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// A client operation's bound in the workload: longer than any
/// `cluster-timeout` the tests use, so a slow answer is still seen.
const OP_TIMEOUT: Duration = Duration::from_secs(5);
const ATTEMPTS_MAX: usize = 3;

/// One direction of one node-to-node link: a listener that relays every
/// connection to `target`, unless cut.
#[derive(Debug)]
struct Link {
    port: u16,
    cut: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    /// Both ends of every relayed connection, to reset them on a cut.
    open: Arc<Mutex<Vec<TcpStream>>>,
    accept: Option<JoinHandle<()>>,
}

impl Link {
    fn start(target: u16) -> Link {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a proxy port");
        listener.set_nonblocking(true).expect("nonblocking proxy listener");
        let port = listener.local_addr().expect("proxy address").port();
        let cut = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let open = Arc::new(Mutex::new(Vec::new()));
        let accept = {
            let (cut, stop, open) = (cut.clone(), stop.clone(), open.clone());
            thread::spawn(move || accept_loop(listener, target, cut, stop, open))
        };
        Link { port, cut, stop, open, accept: Some(accept) }
    }

    /// Resets every relayed connection and refuses new ones.
    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for s in self.open.lock().expect("proxy lock").drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    fn heal(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.cut();
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop(
    listener: TcpListener,
    target: u16,
    cut: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
) {
    while !stop.load(Ordering::SeqCst) {
        let client = match listener.accept() {
            Ok((s, _)) => s,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                thread::sleep(POLL);
                continue;
            }
            Err(_) => continue,
        };
        if cut.load(Ordering::SeqCst) {
            // Refused: the node sees the connection reset at once.
            let _ = client.shutdown(Shutdown::Both);
            continue;
        }
        let _ = client.set_nonblocking(false);
        let addr = ([127, 0, 0, 1], target).into();
        let Ok(server) = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) else {
            let _ = client.shutdown(Shutdown::Both);
            continue;
        };
        let ends = (client.try_clone(), server.try_clone(), client.try_clone(), server.try_clone());
        let (Ok(c1), Ok(s1), Ok(c2), Ok(s2)) = ends else { continue };
        {
            let mut open = open.lock().expect("proxy lock");
            open.push(c2);
            open.push(s2);
        }
        for (from, to) in [(client, s1), (server, c1)] {
            let (cut, stop) = (cut.clone(), stop.clone());
            thread::spawn(move || pump(from, to, &cut, &stop));
        }
    }
}

/// Copies `from` to `to` until either end closes or the link is cut.
fn pump(mut from: TcpStream, mut to: TcpStream, cut: &AtomicBool, stop: &AtomicBool) {
    let _ = from.set_read_timeout(Some(POLL));
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if cut.load(Ordering::SeqCst) || stop.load(Ordering::SeqCst) {
            break;
        }
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

/// Nodes whose links to each other can be cut. See the module docs.
#[derive(Debug)]
pub struct FaultCluster {
    /// The nodes, in the order of `ids`.
    pub nodes: Vec<Server>,
    pub ids: Vec<String>,
    /// `links[i][j]`: the proxy node `i` reaches node `j` through (`None`
    /// for `i == j`).
    links: Vec<Vec<Option<Link>>>,
}

impl FaultCluster {
    /// Starts `n` nodes `node-1`..`node-n`, each given `extra` arguments,
    /// and waits until every node reaches every other.
    pub fn start(n: usize, extra: &[&str]) -> FaultCluster {
        for attempt in 1..=ATTEMPTS_MAX {
            let ports = super::cluster::free_ports(2 * n);
            let (client, cport) = ports.split_at(n);
            let ids: Vec<String> = (1..=n).map(|i| format!("node-{i}")).collect();
            let links: Vec<Vec<Option<Link>>> =
                (0..n).map(|i| (0..n).map(|j| (i != j).then(|| Link::start(cport[j]))).collect()).collect();
            let mut nodes = Vec::with_capacity(n);
            let mut failed = None;
            let secret = super::cluster::secret();
            for i in 0..n {
                // Node i's own entry names where it listens; every other
                // entry names the proxy it reaches that node through.
                let peers = (0..n)
                    .map(|j| {
                        let port = links[i][j].as_ref().map_or(cport[j], |l| l.port);
                        format!("{}@127.0.0.1:{}@{port}", ids[j], client[j])
                    })
                    .collect::<Vec<_>>()
                    .join(",");
                let mut args = vec!["--node-id", &ids[i], "--peers", &peers, "--cluster-secret", &secret];
                args.extend(super::cluster::with_test_gossip(extra));
                match Server::start_on(client[i], &args) {
                    Ok(s) => nodes.push(s),
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            match failed {
                None => {
                    let cluster = FaultCluster { nodes, ids, links };
                    // Start-up gossip converges in a second or two; a
                    // machine running builds beside the tests can take
                    // many times that.
                    cluster.wait_whole(Duration::from_secs(45));
                    return cluster;
                }
                Some(e) => eprintln!("fault cluster: {e} (attempt {attempt} of {ATTEMPTS_MAX}); trying other ports"),
            }
        }
        panic!("fault cluster: no free ports after {ATTEMPTS_MAX} attempts");
    }

    pub fn node(&self, i: usize) -> &Server {
        &self.nodes[i]
    }

    /// Every node's client port.
    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(|n| n.port).collect()
    }

    /// Cuts every link between nodes of different `groups` (both
    /// directions). Nodes in no group are cut off from everyone.
    pub fn partition(&self, groups: &[&[usize]]) {
        let group_of = |i: usize| groups.iter().position(|g| g.contains(&i));
        for (i, row) in self.links.iter().enumerate() {
            for (j, link) in row.iter().enumerate() {
                let Some(link) = link else { continue };
                let apart = match (group_of(i), group_of(j)) {
                    (Some(a), Some(b)) => a != b,
                    _ => true,
                };
                if apart {
                    link.cut();
                }
            }
        }
    }

    /// Cuts node `i` off from every other node.
    pub fn isolate(&self, i: usize) {
        let rest: Vec<usize> = (0..self.nodes.len()).filter(|&j| j != i).collect();
        self.partition(&[&[i], &rest]);
    }

    /// Restores every link.
    pub fn heal(&self) {
        self.links.iter().flatten().flatten().for_each(Link::heal);
    }

    /// `kill -9` of node `i`.
    pub fn kill(&mut self, i: usize) {
        self.nodes[i].kill();
    }

    /// Starts node `i` again, with an empty memory.
    pub fn restart(&mut self, i: usize) {
        self.nodes[i].restart();
    }

    /// SIGSTOP: the node holds its connections but answers nothing.
    pub fn pause(&self, i: usize) {
        assert!(self.nodes[i].signal("STOP"), "SIGSTOP node {i}");
    }

    /// SIGCONT after [`FaultCluster::pause`].
    pub fn resume(&self, i: usize) {
        assert!(self.nodes[i].signal("CONT"), "SIGCONT node {i}");
    }

    /// Waits until a key of every slot's node can be read through every
    /// node, at most `timeout`.
    pub fn wait_whole(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let whole = self.nodes.iter().all(|n| {
                let Some(mut c) = try_conn(n.port) else { return false };
                (0..32).all(|k| redis::cmd("EXISTS").arg(format!("probe-{k}")).query::<i64>(&mut c).is_ok())
                    && redis::cmd("CLUSTER")
                        .arg("INFO")
                        .query::<String>(&mut c)
                        .is_ok_and(|info| info.contains("cluster_state:ok"))
            });
            if whole && super::cluster::one_view(&self.ports()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "fault cluster not whole after {timeout:?}: {}",
                super::cluster::describe(&self.ports())
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until every node has caught up and holds the same versions of
    /// every key (INFO replication's `owned_slots_digest`, equal on all
    /// nodes when each owns every slot: N = members), at most `timeout`.
    /// Returns how long it took.
    pub fn wait_converged(&self, timeout: Duration) -> Duration {
        let began = Instant::now();
        loop {
            let digests: Vec<Option<String>> = self
                .nodes
                .iter()
                .map(|n| {
                    let mut c = try_conn(n.port)?;
                    if info_field(&mut c, "replication", "catching_up")? != "0" {
                        return None;
                    }
                    info_field(&mut c, "replication", "owned_slots_digest")
                })
                .collect();
            if digests.iter().all(|d| d.is_some() && *d == digests[0]) {
                return began.elapsed();
            }
            assert!(began.elapsed() < timeout, "owners did not converge in {timeout:?}: digests {digests:?}");
            thread::sleep(Duration::from_millis(100));
        }
    }
}

/// One field of `INFO section`.
pub fn info_field(conn: &mut redis::Connection, section: &str, name: &str) -> Option<String> {
    let info: String = redis::cmd("INFO").arg(section).query(conn).ok()?;
    info.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(':').map(str::to_owned))
}

/// A connection with [`OP_TIMEOUT`] on every operation, or `None` if the
/// node does not accept one now.
pub fn try_conn(port: u16) -> Option<redis::Connection> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).ok()?;
    let conn = client.get_connection_with_timeout(Duration::from_millis(500)).ok()?;
    conn.set_read_timeout(Some(OP_TIMEOUT)).ok()?;
    conn.set_write_timeout(Some(OP_TIMEOUT)).ok()?;
    Some(conn)
}

/// A small seeded generator (splitmix64): the workload's choices replay
/// from the seed the test prints.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// The seed of a fault test: `RINGCACHE_FAULT_SEED` to replay one, else
/// from the clock. Printed either way.
pub fn seed(test: &str) -> u64 {
    let seed = std::env::var("RINGCACHE_FAULT_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1)
    });
    eprintln!("{test}: seed {seed} (replay with RINGCACHE_FAULT_SEED={seed})");
    seed
}

/// What one writer saw.
#[derive(Debug, Default)]
struct WriterLog {
    /// Per key, the highest number a write of which was acknowledged.
    acked: HashMap<String, u64>,
    ok: u64,
    /// Writes answered with an error reply (refused, not acknowledged).
    errors: u64,
    /// Writes with no answer (timeout, reset, node down).
    unanswered: u64,
    /// Time spent in writes that did not succeed.
    failing: Duration,
    /// The first few error texts, for the report.
    samples: Vec<String>,
}

/// Writer threads running against a cluster. See the module docs.
#[derive(Debug)]
pub struct Workload {
    stop: Arc<AtomicBool>,
    writers: Vec<JoinHandle<WriterLog>>,
    started: Instant,
}

impl Workload {
    /// Starts `writers` threads, each writing `keys` keys of its own
    /// (`w{writer}:{k}`, at random, through a node picked at random among
    /// `ports` for each write) with values 1, 2, 3... per key.
    pub fn start(ports: &[u16], writers: usize, keys: usize, seed: u64) -> Workload {
        let stop = Arc::new(AtomicBool::new(false));
        let writers = (0..writers)
            .map(|w| {
                let (ports, stop) = (ports.to_vec(), stop.clone());
                let mut rng = Rng::new(seed ^ (w as u64 + 1).wrapping_mul(0x2545_f491_4f6c_dd1d));
                thread::spawn(move || write_loop(w, &ports, keys, &mut rng, &stop))
            })
            .collect();
        Workload { stop, writers, started: Instant::now() }
    }

    /// Stops the writers and returns what they were told.
    pub fn stop(self) -> History {
        self.stop.store(true, Ordering::SeqCst);
        let logs: Vec<WriterLog> = self.writers.into_iter().map(|t| t.join().expect("writer thread")).collect();
        let mut h = History { elapsed: self.started.elapsed(), writers: logs.len(), ..History::default() };
        for log in logs {
            h.acked.extend(log.acked);
            h.ok += log.ok;
            h.errors += log.errors;
            h.unanswered += log.unanswered;
            h.failing += log.failing;
            for s in log.samples {
                if h.samples.len() < 5 && !h.samples.contains(&s) {
                    h.samples.push(s);
                }
            }
        }
        h
    }
}

fn write_loop(w: usize, ports: &[u16], keys: usize, rng: &mut Rng, stop: &AtomicBool) -> WriterLog {
    let mut log = WriterLog::default();
    let mut next: Vec<u64> = vec![0; keys];
    let mut conns: Vec<Option<redis::Connection>> = ports.iter().map(|_| None).collect();
    while !stop.load(Ordering::SeqCst) {
        let k = rng.below(keys);
        let node = rng.below(ports.len());
        next[k] += 1;
        let (key, value) = (format!("w{w}:{k}"), next[k]);
        let began = Instant::now();
        if conns[node].is_none() {
            conns[node] = try_conn(ports[node]);
        }
        let Some(conn) = conns[node].as_mut() else {
            log.unanswered += 1;
            log.failing += began.elapsed();
            thread::sleep(Duration::from_millis(10));
            continue;
        };
        match redis::cmd("SET").arg(&key).arg(value).query::<String>(conn) {
            Ok(_) => {
                log.ok += 1;
                log.acked.insert(key, value);
            }
            Err(e) => {
                if e.is_io_error() || e.is_timeout() || e.is_connection_dropped() {
                    log.unanswered += 1;
                    conns[node] = None;
                } else {
                    log.errors += 1;
                }
                if log.samples.len() < 5 {
                    log.samples.push(e.to_string());
                }
                log.failing += began.elapsed();
            }
        }
    }
    log
}

/// What a [`Workload`] was told, ready to be checked.
#[derive(Debug, Default)]
pub struct History {
    pub acked: HashMap<String, u64>,
    pub ok: u64,
    pub errors: u64,
    pub unanswered: u64,
    /// Time the writers spent in writes that did not succeed, summed.
    pub failing: Duration,
    pub writers: usize,
    pub elapsed: Duration,
    pub samples: Vec<String>,
}

/// The checker's verdict on a [`History`].
#[derive(Debug)]
pub struct Report {
    /// Keys whose value read back is below their last acknowledged write
    /// (or missing), with what was read.
    pub lost: Vec<(String, u64, Option<u64>)>,
    pub keys: usize,
}

impl History {
    /// Reads every acknowledged key back through the node on `port` and
    /// lists those whose value is below the last acknowledged write. Prints
    /// the figures.
    pub fn check(&self, test: &str, port: u16) -> Report {
        let mut conn = try_conn(port).unwrap_or_else(|| panic!("{test}: cannot connect to 127.0.0.1:{port} to check"));
        let mut keys: Vec<(&String, &u64)> = self.acked.iter().collect();
        keys.sort();
        let mut lost = Vec::new();
        for chunk in keys.chunks(500) {
            let names: Vec<&str> = chunk.iter().map(|(k, _)| k.as_str()).collect();
            // A read refused for a moment (a node slow to answer, a view
            // settling) is asked again, for at most 10 s; a wrong value
            // never is.
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            let values: Vec<Option<String>> = loop {
                match redis::cmd("MGET").arg(&names).query(&mut conn) {
                    Ok(values) => break values,
                    Err(e) if matches!(e.code(), Some("TRYAGAIN" | "CLUSTERDOWN")) && Instant::now() < deadline => {
                        thread::sleep(Duration::from_millis(100));
                    }
                    Err(e) => panic!("{test}: MGET: {e}"),
                }
            };
            for ((key, &acked), value) in chunk.iter().zip(values) {
                let read = value.and_then(|v| v.parse::<u64>().ok());
                if read.is_none_or(|r| r < acked) {
                    lost.push(((*key).clone(), acked, read));
                }
            }
        }
        let writes = self.ok + self.errors + self.unanswered;
        eprintln!(
            "{test}: {writes} writes in {:.1} s by {} writers: {} acknowledged, {} lost (of {} keys), {} failed \
             with an error, {} unanswered; {:.2} s unavailable per writer",
            self.elapsed.as_secs_f64(),
            self.writers,
            self.ok,
            lost.len(),
            keys.len(),
            self.errors,
            self.unanswered,
            self.failing.as_secs_f64() / self.writers.max(1) as f64,
        );
        if !self.samples.is_empty() {
            eprintln!("{test}: errors seen: {:?}", self.samples);
        }
        Report { lost, keys: keys.len() }
    }
}
