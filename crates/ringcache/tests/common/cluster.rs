//! Several `ringcache` processes forming one cluster on 127.0.0.1.
//!
//! Ports (client and cluster, for every node) are picked free together
//! before any node starts, because each node's `--peers` names all of
//! them. If one turns out to be taken, the whole cluster is started again
//! on fresh ports. Dropping a [`TestCluster`] stops every node.

use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant};

use super::Server;

/// A secret of its own for each test cluster: clusters of tests running at
/// once (same node ids, ports reused between them) must never meet, and a
/// node that cannot prove a cluster's secret is ignored by it.
pub fn secret() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("test-cluster-secret-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}
const ATTEMPTS_MAX: usize = 3;

#[derive(Debug)]
pub struct TestCluster {
    /// The nodes, in the order of `ids`.
    pub nodes: Vec<Server>,
    pub ids: Vec<String>,
    /// The `--peers` value every node got.
    pub peers: String,
    /// The `--cluster-secret` every node got.
    pub secret: String,
}

/// One `INFO cluster` field of the node at `port`.
pub fn cluster_field(port: u16, name: &str) -> Option<String> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).ok()?;
    let mut c = client.get_connection_with_timeout(Duration::from_millis(500)).ok()?;
    c.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let info: String = redis::cmd("INFO").arg("cluster").query(&mut c).ok()?;
    info.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(':').map(str::to_owned))
}

/// Whether every node at `ports` holds all of them alive, no other member
/// alive or dead, and sees every one of them serving. (Not the view's digest: under a loaded
/// machine a probe may miss its deadline and make a member suspect for a
/// moment; that is not a membership change.)
pub fn one_view(ports: &[u16]) -> bool {
    let n = ports.len().to_string();
    ports.iter().all(|&p| {
        cluster_field(p, "cluster_members_alive").is_some_and(|a| a == n)
            && cluster_field(p, "cluster_members_dead").is_some_and(|d| d == "0")
            && cluster_field(p, "cluster_phase").is_some_and(|ph| ph == "serving")
            && cluster_field(p, "cluster_members").is_some_and(|m| all_serving(&m, ports.len()))
    })
}

/// Whether INFO's `cluster_members` (`id=state/phase/gGEN,...`) lists `n`
/// members, each serving: a member this node still sees joining owns no
/// slot here yet, though it may be serving in its own eyes.
fn all_serving(members: &str, n: usize) -> bool {
    let members: Vec<&str> = members.split(',').collect();
    members.len() == n && members.iter().all(|m| m.split('/').nth(1) == Some("serving"))
}

/// The failure detector's settings for test clusters, unless a test sets
/// its own: tests run many node processes at once on a small machine, so
/// a probe's answer can take far longer than on a real LAN; these keep a
/// slow node from being declared dead, while a dead one is still found
/// within about 5 s.
pub const GOSSIP_FOR_TESTS: &[(&str, &str)] = &[
    ("--gossip-probe-interval-ms", "1000"),
    ("--gossip-probe-rtt-ms", "600"),
    ("--gossip-suspect-timeout-ms", "3000"),
];

/// `extra`, plus [`GOSSIP_FOR_TESTS`] for each setting it does not give.
pub fn with_test_gossip<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = extra.to_vec();
    for (flag, value) in GOSSIP_FOR_TESTS {
        if !extra.contains(flag) {
            args.extend([*flag, *value]);
        }
    }
    args
}

/// Each node's membership as INFO cluster says, for a failing test.
pub fn describe(ports: &[u16]) -> String {
    let fields = ["cluster_state", "cluster_members_alive", "cluster_members_dead", "cluster_phase", "cluster_joined"];
    ports
        .iter()
        .map(|&p| {
            let f: Vec<String> =
                fields.iter().map(|name| format!("{name}={}", cluster_field(p, name).unwrap_or_default())).collect();
            format!("\n  port {p}: {} members={}", f.join(" "), cluster_field(p, "cluster_members").unwrap_or_default())
        })
        .collect()
}

/// `n` distinct free ports (all bound at once, so none repeats).
pub fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> =
        (0..n).map(|_| TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0")).collect();
    listeners.iter().map(|l| l.local_addr().expect("local_addr").port()).collect()
}

impl TestCluster {
    /// Starts `n` nodes with ids `node-1`..`node-n`, each also given
    /// `extra` arguments, and waits until every node reaches every other.
    pub fn start(n: usize, extra: &[&str]) -> TestCluster {
        for attempt in 1..=ATTEMPTS_MAX {
            let ports = free_ports(2 * n);
            let ids: Vec<String> = (1..=n).map(|i| format!("node-{i}")).collect();
            let peers = (0..n)
                .map(|i| format!("{}@127.0.0.1:{}@{}", ids[i], ports[i], ports[n + i]))
                .collect::<Vec<_>>()
                .join(",");
            let mut nodes = Vec::with_capacity(n);
            let mut failed = None;
            let secret = secret();
            for i in 0..n {
                let mut args = vec!["--node-id", &ids[i], "--peers", &peers, "--cluster-secret", &secret];
                args.extend(with_test_gossip(extra));
                match Server::start_on(ports[i], &args) {
                    Ok(s) => nodes.push(s),
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            match failed {
                None => {
                    let cluster = TestCluster { nodes, ids, peers, secret };
                    cluster.wait_whole(Duration::from_secs(15));
                    return cluster;
                }
                Some(e) => eprintln!("test cluster: {e} (attempt {attempt} of {ATTEMPTS_MAX}); trying other ports"),
            }
        }
        panic!("test cluster: no free ports after {ATTEMPTS_MAX} attempts");
    }

    pub fn node(&self, i: usize) -> &Server {
        &self.nodes[i]
    }

    /// Waits until a key on every node can be read through every node
    /// (each node has connected to each other), at most `timeout`.
    pub fn wait_whole(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let whole = self.nodes.iter().all(|n| {
                let mut c = n.conn();
                // Keys spread over the slots: each is answered by its node
                // (or redirected to it, with cluster-strict).
                (0..32).all(|k| match redis::cmd("EXISTS").arg(format!("probe-{k}")).query::<i64>(&mut c) {
                    Ok(_) => true,
                    Err(e) => e.kind() == redis::ErrorKind::Moved,
                })
                // Every node reachable, caught up and agreeing on who
                // coordinates each slot.
                && redis::cmd("CLUSTER")
                    .arg("INFO")
                    .query::<String>(&mut c)
                    .is_ok_and(|info| info.contains("cluster_state:ok"))
            });
            if whole && one_view(&self.nodes.iter().map(|n| n.port).collect::<Vec<_>>()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "test cluster not whole after {timeout:?}: {}",
                describe(&self.nodes.iter().map(|n| n.port).collect::<Vec<_>>())
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// The index of the node that coordinates `key`'s slot, from CLUSTER
    /// KEYSLOT and CLUSTER SLOTS (each range's first node) through node 0.
    /// Only in `redis-cluster` mode: in `proxy` mode every node reports
    /// itself for every slot.
    pub fn coordinator_of(&self, key: &str) -> usize {
        let port = coordinator_port(&mut self.nodes[0].conn(), key);
        self.nodes.iter().position(|n| n.port == port).expect("a node of this cluster")
    }
}

/// The client port of the node CLUSTER SLOTS (asked on `conn`) names as
/// the master of `key`'s slot: its coordinator in `redis-cluster` mode.
pub fn coordinator_port(conn: &mut redis::Connection, key: &str) -> u16 {
    let slot: i64 = redis::cmd("CLUSTER").arg("KEYSLOT").arg(key).query(conn).expect("CLUSTER KEYSLOT");
    let slots: Vec<redis::Value> = redis::cmd("CLUSTER").arg("SLOTS").query(conn).expect("CLUSTER SLOTS");
    let int = |v: &redis::Value| match v {
        redis::Value::Int(i) => *i,
        v => panic!("expected an integer in CLUSTER SLOTS, got {v:?}"),
    };
    for range in &slots {
        let redis::Value::Array(range) = range else { panic!("CLUSTER SLOTS entry {range:?}") };
        if (int(&range[0])..=int(&range[1])).contains(&slot) {
            let redis::Value::Array(master) = &range[2] else { panic!("CLUSTER SLOTS node {:?}", range[2]) };
            return int(&master[1]) as u16;
        }
    }
    panic!("slot {slot} of {key} is in no CLUSTER SLOTS range");
}
