//! Routing over the in-memory transport: three nodes in this process,
//! each with real client sockets, talking to each other through a
//! `SimNetwork` that delays, drops and partitions their messages.
//!
//! With delays only, routing must be exact. With drops, a forwarded
//! command may fail, but only with `-TRYAGAIN`/`-CLUSTERDOWN`, every reply
//! still arrives in its place, and nothing hangs. A partition fails the
//! cut-off slots fast and heals.

use std::collections::HashSet;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::Value;
use ringcache_server::{Config, Server, Shared};
use ringcache_transport::{Delay, NodeId, SimNetwork, TransportConfig};

struct SimCluster {
    net: SimNetwork,
    ids: Vec<NodeId>,
    ports: Vec<u16>,
    nodes: Vec<Arc<Shared>>,
    _runtime: tokio::runtime::Runtime,
}

impl Drop for SimCluster {
    fn drop(&mut self) {
        for n in &self.nodes {
            n.shutdown.cancel();
        }
    }
}

impl SimCluster {
    fn start() -> SimCluster {
        let net = SimNetwork::new(rand::random(), TransportConfig::for_test()).unwrap();
        let listeners: Vec<TcpListener> = (0..3).map(|_| TcpListener::bind("127.0.0.1:0").unwrap()).collect();
        let ports: Vec<u16> = listeners.iter().map(|l| l.local_addr().unwrap().port()).collect();
        drop(listeners);
        let ids: Vec<NodeId> = (1..=3).map(|i| NodeId::from(format!("sim-{i}"))).collect();
        let peers = (0..3).map(|i| format!("{}@127.0.0.1:{}", ids[i], ports[i])).collect::<Vec<_>>().join(",");
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let mut nodes = Vec::new();
        for i in 0..3 {
            let mut config = Config::for_test();
            for (k, v) in [
                ("port", ports[i].to_string()),
                ("threads", "1".to_owned()),
                ("node-id", ids[i].to_string()),
                ("peers", peers.clone()),
                ("cluster-secret", "sim-secret-0123456789".to_owned()),
                ("cluster-timeout", "150".to_owned()),
                // Routing alone: one owner per slot.
                ("replicas", "1".to_owned()),
            ] {
                config.set(k, &v).unwrap();
            }
            let transport = Arc::new(net.add_node(ids[i].clone()));
            let server = runtime.block_on(Server::bind_with_transport(config, transport)).unwrap();
            nodes.push(server.shared());
            runtime.spawn(server.run());
        }
        // Membership is gossiped: wait until every node holds all three,
        // serving.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !nodes.iter().all(|n| {
            let cluster = n.cluster.as_ref().unwrap();
            let view = cluster.view();
            cluster.joined()
                && view.nodes.len() == 3
                && view.nodes.iter().all(|m| m.phase == ringcache_membership::Phase::Serving)
        }) {
            assert!(Instant::now() < deadline, "the nodes did not find each other in 10 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        SimCluster { net, ids, ports, nodes, _runtime: runtime }
    }

    fn conn(&self, i: usize) -> redis::Connection {
        let client = redis::Client::open(format!("redis://127.0.0.1:{}/", self.ports[i])).unwrap();
        let conn = client.get_connection_with_timeout(Duration::from_secs(5)).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        conn
    }
}

fn is_routing_error(e: &redis::RedisError) -> bool {
    matches!(e.code(), Some("TRYAGAIN" | "CLUSTERDOWN"))
}

#[test]
fn with_delays_routing_is_exact() {
    let cluster = SimCluster::start();
    cluster.net.set_delay(Delay::Uniform { min: Duration::ZERO, max: Duration::from_millis(5) });
    let mut conns: Vec<_> = (0..3).map(|i| cluster.conn(i)).collect();
    let keys: Vec<String> = (0..600).map(|i| format!("k{i}")).collect();
    let mut pipe = redis::pipe();
    for (i, k) in keys.iter().enumerate() {
        pipe.cmd("SET").arg(k).arg(i).ignore();
    }
    let _: () = pipe.query(&mut conns[0]).unwrap();
    for conn in conns.iter_mut() {
        let mut pipe = redis::pipe();
        for k in &keys {
            pipe.cmd("GET").arg(k);
        }
        let got: Vec<i64> = pipe.query(conn).unwrap();
        assert_eq!(got, (0..600).collect::<Vec<_>>());
        let mget: Vec<i64> = redis::cmd("MGET").arg(&keys).query(conn).unwrap();
        assert_eq!(mget, (0..600).collect::<Vec<_>>());
        let n: i64 = redis::cmd("DBSIZE").query(conn).unwrap();
        assert_eq!(n, 600);
    }
    // SCAN covers the cluster once.
    let mut seen = HashSet::new();
    let mut cursor = 0u64;
    loop {
        let (next, found): (u64, Vec<String>) =
            redis::cmd("SCAN").arg(cursor).arg("COUNT").arg(50).query(&mut conns[1]).unwrap();
        for k in found {
            assert!(seen.insert(k));
        }
        if next == 0 {
            break;
        }
        cursor = next;
    }
    assert_eq!(seen.len(), 600);
    let deleted: i64 = redis::cmd("DEL").arg(&keys).query(&mut conns[2]).unwrap();
    assert_eq!(deleted, 600);
}

#[test]
fn with_drops_every_reply_is_right_or_a_routing_error_in_its_place() {
    let cluster = SimCluster::start();
    cluster.net.set_delay(Delay::Uniform { min: Duration::ZERO, max: Duration::from_millis(3) });
    cluster.net.set_drop_probability(0.05);
    let started = Instant::now();
    let mut pipe = redis::pipe();
    for i in 0..300 {
        pipe.cmd("SET").arg(format!("d{i}")).arg(i);
        pipe.cmd("GET").arg(format!("d{i}"));
        pipe.cmd("ECHO").arg(i);
    }
    // Read reply by reply, so that one error does not hide the rest.
    let replies: Vec<redis::RedisResult<Value>> = {
        let mut raw = std::net::TcpStream::connect(("127.0.0.1", cluster.ports[0])).unwrap();
        raw.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        std::io::Write::write_all(&mut raw, &pipe.get_packed_pipeline()).unwrap();
        let mut parser = redis::Parser::new();
        (0..900).map(|_| parser.parse_value(&mut raw).and_then(|v| v.extract_error())).collect()
    };
    let mut errors = 0;
    for i in 0..300 {
        let (set, get, echo) = (&replies[3 * i], &replies[3 * i + 1], &replies[3 * i + 2]);
        match set {
            Ok(v) => assert_eq!(*v, Value::Okay, "SET d{i}"),
            Err(e) => {
                assert!(is_routing_error(e), "SET d{i}: {e}");
                errors += 1;
            }
        }
        match get {
            // A SET that timed out may still have been applied.
            Ok(Value::BulkString(b)) => assert_eq!(b, i.to_string().as_bytes(), "GET d{i}"),
            Ok(Value::Nil) => assert!(set.is_err(), "GET d{i} is nil after its SET succeeded"),
            Ok(v) => panic!("GET d{i}: {v:?}"),
            Err(e) => {
                assert!(is_routing_error(e), "GET d{i}: {e}");
                errors += 1;
            }
        }
        assert_eq!(*echo.as_ref().unwrap(), Value::BulkString(i.to_string().into_bytes()), "ECHO {i}");
    }
    eprintln!("{errors} routing errors in 600 keyed commands, {:?}", started.elapsed());
    assert!(errors > 0, "5 % drops should fail some forwarded commands");
    // Without drops, everything works again.
    cluster.net.set_drop_probability(0.0);
    let _: () = redis::cmd("SET").arg("after").arg("1").query(&mut cluster.conn(0)).unwrap();
    for i in 0..3 {
        let v: String = redis::cmd("GET").arg("after").query(&mut cluster.conn(i)).unwrap();
        assert_eq!(v, "1");
    }
}

#[test]
fn a_partition_fails_the_cut_off_slots_fast_and_heals() {
    let cluster = SimCluster::start();
    let mut conn = cluster.conn(0);
    let keys: Vec<String> = (0..200).map(|i| format!("p{i}")).collect();
    for k in &keys {
        let _: () = redis::cmd("SET").arg(k).arg(k).query(&mut conn).unwrap();
    }
    cluster.net.partition(&cluster.ids[..1], &cluster.ids[1..]);
    let mut failed = 0;
    for k in &keys {
        let started = Instant::now();
        match redis::cmd("GET").arg(k).query::<String>(&mut conn) {
            Ok(v) => assert_eq!(&v, k),
            Err(e) => {
                assert_eq!(e.code(), Some("CLUSTERDOWN"), "{k}: {e}");
                failed += 1;
            }
        }
        // A cut link is known at once: no waiting for a timeout.
        assert!(started.elapsed() < Duration::from_millis(250), "{k}: {:?}", started.elapsed());
    }
    // Node 0 alone answers only its own slots (about a third).
    assert!((60..190).contains(&failed), "{failed} of 200 failed");
    cluster.net.heal_all();
    for k in &keys {
        let v: String = redis::cmd("GET").arg(k).query(&mut conn).unwrap();
        assert_eq!(&v, k);
    }
}
