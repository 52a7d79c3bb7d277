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

/// The secret every test cluster shares.
pub const SECRET: &str = "test-cluster-secret-0123456789";
const ATTEMPTS_MAX: usize = 3;

#[derive(Debug)]
pub struct TestCluster {
    /// The nodes, in the order of `ids`.
    pub nodes: Vec<Server>,
    pub ids: Vec<String>,
    /// The `--peers` value every node got.
    pub peers: String,
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
            for i in 0..n {
                let mut args = vec!["--node-id", &ids[i], "--peers", &peers, "--cluster-secret", SECRET];
                args.extend_from_slice(extra);
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
                    let cluster = TestCluster { nodes, ids, peers };
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
            if whole {
                return;
            }
            assert!(Instant::now() < deadline, "test cluster not whole after {timeout:?}");
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
