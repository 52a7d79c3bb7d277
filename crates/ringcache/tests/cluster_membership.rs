//! Membership by gossip, with node processes: nodes found through seeds
//! and CLUSTER MEET converge to one view; a node killed with `kill -9` is
//! detected (CLUSTER NODES flags it `fail`) and its slots are served by
//! the others; a writer running throughout loses no acknowledged write;
//! the `redis` crate's cluster client works after each change.
//! docs/membership.md describes what is tested here.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::cluster::{cluster_field, describe, free_ports, secret, with_test_gossip};
use common::fault::{seed, try_conn, History, Workload};
use common::Server;

/// Writes are acknowledged at W = 2 of N = 3, within 3 s; repairs run
/// often, so that moved slots get their copies soon. The failure detector is slower than
/// the defaults (a dead node is found in about 8 s instead of 3): these
/// tests run node processes of a debug build beside others on a small,
/// shared machine, where a probe's answer can take seconds.
const ARGS: &[&str] = &[
    "--cluster-mode",
    "redis-cluster",
    "--cluster-timeout",
    "3000",
    "--anti-entropy-interval-ms",
    "100",
    "--gossip-probe-interval-ms",
    "2000",
    "--gossip-probe-rtt-ms",
    "1500",
    "--gossip-suspect-timeout-ms",
    "5000",
];

/// Nodes `node-1`..: node 1 a cluster of one, each other one given node 1
/// as its seed (by address only).
struct Seeded {
    nodes: Vec<Server>,
    cports: Vec<u16>,
    secret: String,
}

impl Seeded {
    fn start(n: usize, extra: &[&str]) -> Seeded {
        for _attempt in 0..3 {
            let ports = free_ports(2 * n);
            let (client, cports) = ports.split_at(n);
            let secret = secret();
            let seed = format!("127.0.0.1:{}", cports[0]);
            let mut nodes = Vec::new();
            for i in 0..n {
                let (id, cport) = (format!("node-{}", i + 1), cports[i].to_string());
                let mut args = vec!["--node-id", &id, "--cluster-port", &cport, "--cluster-secret", &secret];
                if i == 0 {
                    args.extend(["--cluster-enabled", "yes"]);
                } else {
                    args.extend(["--seeds", &seed]);
                }
                args.extend(with_test_gossip(extra));
                match Server::start_on(client[i], &args) {
                    Ok(s) => nodes.push(s),
                    Err(e) => {
                        eprintln!("seeded cluster: {e}; trying other ports");
                        break;
                    }
                }
            }
            if nodes.len() == n {
                return Seeded { nodes, cports: cports.to_vec(), secret };
            }
        }
        panic!("seeded cluster: no free ports");
    }

    fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(|n| n.port).collect()
    }

    /// Starts one more node, a cluster of one (others must MEET it).
    fn add_alone(&mut self, extra: &[&str]) -> usize {
        let i = self.nodes.len();
        for _attempt in 0..3 {
            let ports = free_ports(2);
            let (id, cport) = (format!("node-{}", i + 1), ports[1].to_string());
            let mut args = vec!["--node-id", &id, "--cluster-port", &cport, "--cluster-secret", &self.secret];
            args.extend(["--cluster-enabled", "yes"]);
            args.extend(with_test_gossip(extra));
            if let Ok(s) = Server::start_on(ports[0], &args) {
                self.nodes.push(s);
                self.cports.push(ports[1]);
                return i;
            }
        }
        panic!("no free ports for another node");
    }
}

/// Waits until the nodes at `ports` hold one view: the same members with
/// the same generations and phases, all of them alive (or suspect for a
/// moment: on a loaded test machine a probe can miss its deadline, and a
/// suspicion that is refuted is not a membership change) and serving, and
/// every slot served; returns how long it took.
fn wait_one_view(ports: &[u16], timeout: Duration) -> Duration {
    let began = Instant::now();
    let n = ports.len().to_string();
    loop {
        let views: Vec<Option<String>> = ports
            .iter()
            .map(|&p| {
                let alive = cluster_field(p, "cluster_members_alive")? == n;
                let serving = cluster_field(p, "cluster_phase")? == "serving";
                let ok = cluster_field(p, "cluster_state")? == "ok";
                let members = cluster_field(p, "cluster_members")?.replace("suspect/", "alive/");
                (alive && serving && ok).then_some(members)
            })
            .collect();
        if views.iter().all(|v| v.is_some() && *v == views[0]) {
            return began.elapsed();
        }
        assert!(began.elapsed() < timeout, "no single view after {timeout:?}: {}", describe(ports));
        thread::sleep(Duration::from_millis(50));
    }
}

/// CLUSTER NODES of the node at `port`, one line per node.
fn cluster_nodes(port: u16) -> Vec<String> {
    let Some(mut c) = try_conn(port) else { return Vec::new() };
    let text: String = redis::cmd("CLUSTER").arg("NODES").query(&mut c).unwrap_or_default();
    text.lines().map(str::to_owned).collect()
}

/// The `redis` crate's cluster client through the node at `port`.
fn cluster_connection(port: u16) -> redis::cluster::ClusterConnection {
    let client = redis::cluster::ClusterClientBuilder::new(vec![format!("redis://127.0.0.1:{port}/")])
        .connection_timeout(Duration::from_secs(5))
        .response_timeout(Duration::from_secs(5))
        .build()
        .expect("cluster client");
    client.get_connection().expect("cluster connection")
}

/// SET `key` to `v-<key>` through `cc`, retried until it is acknowledged
/// (a view settling refuses it for a moment) or `deadline` passes.
fn set_acknowledged(cc: &mut redis::cluster::ClusterConnection, key: &str, deadline: Instant) {
    loop {
        match redis::cmd("SET").arg(key).arg(format!("v-{key}")).query::<String>(cc) {
            Ok(_) => return,
            Err(e) => {
                assert!(Instant::now() < deadline, "SET {key}: {e}");
                thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// [`ARGS`] with anti-entropy off (an hour): only the join's stream, the
/// leave's handoff and the writes themselves can move data.
fn args_without_anti_entropy() -> Vec<&'static str> {
    let mut args: Vec<&str> = ARGS.to_vec();
    let at = args.iter().position(|a| *a == "--anti-entropy-interval-ms").expect("ARGS sets it");
    args[at + 1] = "3600000";
    args
}

/// The `redis` crate's cluster client, through the node at `port`: writes
/// and reads keys all over the slots. A command may be refused for a
/// moment with one of the retryable errors (`TRYAGAIN`, `NOREPLICAS`,
/// `CLUSTERDOWN`: a loaded machine, a view settling); it is retried, for
/// at most 30 s in all; any other error fails the test.
fn cluster_client_works(port: u16, tag: &str) {
    let mut cc = cluster_connection(port);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut retried = 0;
    let mut query = |cmd: &redis::Cmd| -> redis::Value {
        loop {
            match cmd.query::<redis::Value>(&mut cc) {
                Ok(v) => return v,
                Err(e) => {
                    let text = e.to_string();
                    let retryable = ["TRYAGAIN", "NOREPLICAS", "CLUSTERDOWN", "ClusterDown", "TryAgain"]
                        .iter()
                        .any(|code| text.contains(code));
                    assert!(retryable && Instant::now() < deadline, "{tag}: {text}");
                    retried += 1;
                    thread::sleep(Duration::from_millis(50));
                }
            }
        }
    };
    for i in 0..50 {
        let v = query(redis::cmd("SET").arg(format!("{tag}:{i}")).arg(i));
        assert_eq!(v, redis::Value::Okay);
    }
    for i in 0..50 {
        let v = query(redis::cmd("GET").arg(format!("{tag}:{i}")));
        assert_eq!(v, redis::Value::BulkString(i.to_string().into_bytes()));
    }
    if retried > 0 {
        eprintln!("{tag}: the cluster client retried {retried} refused commands");
    }
}

fn assert_nothing_lost(test: &str, history: &History, ports: &[u16]) {
    eprintln!(
        "{test}: {} writes acknowledged, {} refused, {} unanswered",
        history.ok, history.errors, history.unanswered
    );
    // A loaded machine (debug builds, other builds beside them) may
    // acknowledge only a few; every one of them must be there.
    assert!(history.ok > 0, "{test}: no write acknowledged");
    for &port in ports {
        let report = history.check(test, port);
        assert!(report.lost.is_empty(), "{test}: lost through {port}: {:?}", &report.lost[..report.lost.len().min(10)]);
    }
}

#[test]
fn three_nodes_from_seeds_converge_to_one_view() {
    let c = Seeded::start(3, ARGS);
    let took = wait_one_view(&c.ports(), Duration::from_secs(60));
    eprintln!("seeds: three nodes converged to one view in {:.2} s", took.as_secs_f64());
    // Every node lists the three, with its own addresses.
    for (i, &port) in c.ports().iter().enumerate() {
        let lines = cluster_nodes(port);
        assert_eq!(lines.len(), 3, "{lines:?}");
        for (j, &p) in c.ports().iter().enumerate() {
            let want = format!("node-{} 127.0.0.1:{p}@{}", j + 1, c.cports[j]);
            let line = lines.iter().find(|l| l.starts_with(&want)).unwrap_or_else(|| panic!("{want} in {lines:?}"));
            assert_eq!(line.contains("myself"), i == j, "{line}");
            assert!(!line.contains("fail"), "{line}");
        }
    }
    cluster_client_works(c.ports()[2], "seeds");
}

#[test]
fn a_fourth_node_joins_by_meet_while_a_client_writes() {
    let seed = seed("meet");
    let mut c = Seeded::start(3, ARGS);
    wait_one_view(&c.ports(), Duration::from_secs(60));
    let workload = Workload::start(&c.ports(), 2, 200, seed);
    thread::sleep(Duration::from_millis(500));

    let four = c.add_alone(ARGS);
    let mut conn = try_conn(c.nodes[0].port).expect("connect");
    let meet: String = redis::cmd("CLUSTER")
        .arg("MEET")
        .arg("127.0.0.1")
        .arg(c.nodes[four].port)
        .arg(c.cports[four])
        .query(&mut conn)
        .expect("CLUSTER MEET");
    assert_eq!(meet, "OK");
    // Redis's errors for a bad address.
    let mut bad = |args: &[&str]| redis::cmd("CLUSTER").arg("MEET").arg(args).query::<String>(&mut conn).unwrap_err();
    assert!(bad(&["not-an-ip", "7000"]).to_string().contains("Invalid node address specified: not-an-ip:7000"));
    assert!(bad(&["127.0.0.1", "x"]).to_string().contains("Invalid base port specified: x"));
    assert!(bad(&["127.0.0.1", "7000", "y"]).to_string().contains("Invalid bus port specified: y"));

    let took = wait_one_view(&c.ports(), Duration::from_secs(60));
    eprintln!("meet: four nodes in one view, the new one serving, {:.2} s after MEET", took.as_secs_f64());
    thread::sleep(Duration::from_millis(1000));
    let history = workload.stop();
    assert_nothing_lost("meet", &history, &c.ports());
    cluster_client_works(c.nodes[four].port, "meet");
}

/// Each slot range's owners (client ports, coordinator first), as CLUSTER
/// SLOTS of the node at `port` says.
fn slot_ranges(port: u16) -> Vec<(u16, u16, Vec<u16>)> {
    let Some(mut c) = try_conn(port) else { return Vec::new() };
    let ranges: Vec<redis::Value> = redis::cmd("CLUSTER").arg("SLOTS").query(&mut c).unwrap_or_default();
    let int = |v: &redis::Value| if let redis::Value::Int(i) = v { *i } else { -1 };
    ranges
        .into_iter()
        .filter_map(|range| {
            let redis::Value::Array(r) = range else { return None };
            let owners = r[2..]
                .iter()
                .filter_map(|n| if let redis::Value::Array(n) = n { Some(int(&n[1]) as u16) } else { None })
                .collect();
            Some((int(&r[0]) as u16, int(&r[1]) as u16, owners))
        })
        .collect()
}

#[test]
fn a_joining_node_owns_nothing_until_its_slots_data_has_arrived() {
    // Anti-entropy off: only the join's stream and the writes sent to the
    // joining node can bring it its slots' data. The owners
    // that node 4 pushes out drop their copies two seconds after.
    let mut args = args_without_anti_entropy();
    args.extend(["--unowned-grace-ms", "2000"]);
    let mut c = Seeded::start(3, &args);
    wait_one_view(&c.ports(), Duration::from_secs(60));
    let mut cc = cluster_connection(c.nodes[0].port);
    let deadline = Instant::now() + Duration::from_secs(60);
    let set = |cc: &mut redis::cluster::ClusterConnection, key: &str| set_acknowledged(cc, key, deadline);
    let mut keys: Vec<String> = (0..1500).map(|i| format!("before-{i}")).collect();
    for k in &keys {
        set(&mut cc, k);
    }

    let four = c.add_alone(&args);
    let port4 = c.nodes[four].port;
    let mut conn = try_conn(c.nodes[0].port).expect("connect");
    let meet: String =
        redis::cmd("CLUSTER").arg("MEET").arg("127.0.0.1").arg(port4).arg(c.cports[four]).query(&mut conn).unwrap();
    assert_eq!(meet, "OK");
    // While node 1 holds node 4 joining, node 4 owns no slot in its view
    // (not even as a replica); writes go on meanwhile.
    let (mut seen_joining, mut i) = (0, 0);
    let join_deadline = Instant::now() + Duration::from_secs(60);
    // One connection for the polls: the join can take less than a few
    // fresh connections do on a loaded machine.
    let mut poll = try_conn(c.nodes[0].port).expect("connect");
    let mut members_now = move || -> String {
        let info: String = redis::cmd("INFO").arg("cluster").query(&mut poll).unwrap_or_default();
        info.lines().find_map(|l| l.strip_prefix("cluster_members:")).unwrap_or_default().to_owned()
    };
    loop {
        let members = members_now();
        if members.contains("node-4=alive/serving") {
            break;
        }
        if members.contains("node-4=alive/joining") || members.contains("node-4=suspect/joining") {
            let named = slot_ranges(c.nodes[0].port).iter().any(|(_, _, owners)| owners.contains(&port4));
            // Read again: the view may have moved on during CLUSTER SLOTS.
            let still = members_now();
            if still.contains("node-4=alive/joining") {
                assert!(!named, "node 4 is named an owner while joining: {still}");
                seen_joining += 1;
            }
        }
        let k = format!("during-{i}");
        set(&mut cc, &k);
        keys.push(k);
        i += 1;
        assert!(Instant::now() < join_deadline, "node 4 not serving: {}", describe(&c.ports()));
    }
    assert!(seen_joining > 0, "node 4 was never seen joining");
    wait_one_view(&c.ports(), Duration::from_secs(60));
    // Serving: it owns about a quarter of every owner's share, and holds
    // every key of its slots that was written before or during its join.
    let mut on_four = 0;
    let mut r4 = try_conn(port4).expect("connect node 4");
    let _: () = redis::cmd("READONLY").query(&mut r4).unwrap();
    let ranges = slot_ranges(port4);
    for k in &keys {
        let slot = redis::cmd("CLUSTER").arg("KEYSLOT").arg(k).query::<u16>(&mut r4).unwrap();
        let owned = ranges.iter().any(|(from, to, owners)| (*from..=*to).contains(&slot) && owners.contains(&port4));
        if owned {
            let got: Option<String> = redis::cmd("GET").arg(k).query(&mut r4).unwrap();
            assert_eq!(got.as_deref(), Some(format!("v-{k}").as_str()), "{k} on node 4");
            on_four += 1;
        }
    }
    eprintln!(
        "join handoff: node 4 seen joining (owning nothing) {seen_joining} times; {on_four} of {} keys ({i} written during the join) live on it, all there at once",
        keys.len()
    );
    assert!(on_four > keys.len() / 2, "node 4 owns {on_four} of {} keys", keys.len());

    // The owners node 4 pushed out hand their copies over and drop them:
    // every key ends up on exactly its three owners, each of which has it.
    let ports = c.ports();
    let held = |port: u16| -> usize {
        let Some(mut conn) = try_conn(port) else { return 0 };
        let info: String = redis::cmd("INFO").arg("keyspace").query(&mut conn).unwrap_or_default();
        info.lines().find_map(|l| l.strip_prefix("db0:keys=")?.split(',').next()?.parse().ok()).unwrap_or(0)
    };
    let gc_deadline = Instant::now() + Duration::from_secs(60);
    let total = loop {
        let total: usize = ports.iter().map(|&p| held(p)).sum();
        if total == 3 * keys.len() {
            break total;
        }
        assert!(Instant::now() < gc_deadline, "{total} copies held, not 3 x {}: {}", keys.len(), describe(&ports));
        thread::sleep(Duration::from_millis(200));
    };
    let dropped: u64 =
        ports.iter().filter_map(|&p| cluster_field(p, "cluster_unowned_keys_dropped")?.parse::<u64>().ok()).sum();
    let reads = on_every_owner(c.nodes[0].port, &keys, "after the unowned copies went");
    eprintln!("unowned copies: {dropped} dropped by the owners node 4 pushed out; {total} copies left, {reads} owner reads all found");
    assert!(dropped > 0, "no unowned copy was dropped");
}

/// Every key of `keys` is on every owner of its slot (READONLY GET on
/// each), as CLUSTER SLOTS of the node at `port` says; how many reads.
fn on_every_owner(port: u16, keys: &[String], tag: &str) -> usize {
    let ranges = slot_ranges(port);
    let mut conns: std::collections::HashMap<u16, redis::Connection> = std::collections::HashMap::new();
    let mut reads = 0;
    let mut any = try_conn(port).expect("connect");
    for k in keys {
        let slot = redis::cmd("CLUSTER").arg("KEYSLOT").arg(k).query::<u16>(&mut any).unwrap();
        let (_, _, owners) = ranges.iter().find(|(a, b, _)| (*a..=*b).contains(&slot)).expect("slot covered");
        for &owner in owners {
            let c = conns.entry(owner).or_insert_with(|| {
                let mut c = try_conn(owner).expect("connect owner");
                let _: () = redis::cmd("READONLY").query(&mut c).unwrap();
                c
            });
            let got: Option<String> = redis::cmd("GET").arg(k).query(c).unwrap();
            assert_eq!(got.as_deref(), Some(format!("v-{k}").as_str()), "{tag}: {k} on the owner at {owner}");
            reads += 1;
        }
    }
    reads
}

#[test]
fn a_leaving_node_hands_its_data_over_before_it_leaves() {
    // Anti-entropy off: only the handoff can give the members that take a
    // leaver's slots over their copies.
    let args = args_without_anti_entropy();
    let mut c = Seeded::start(4, &args);
    wait_one_view(&c.ports(), Duration::from_secs(60));
    let mut cc = cluster_connection(c.nodes[0].port);
    let deadline = Instant::now() + Duration::from_secs(90);
    let set = |cc: &mut redis::cluster::ClusterConnection, key: &str| set_acknowledged(cc, key, deadline);
    let mut keys: Vec<String> = (0..1500).map(|i| format!("k-{i}")).collect();
    for k in &keys {
        set(&mut cc, k);
    }

    // CLUSTER LEAVE on node 4: answered at once; writes go on meanwhile.
    let mut c4 = try_conn(c.nodes[3].port).expect("connect node 4");
    let ok: String = redis::cmd("CLUSTER").arg("LEAVE").query(&mut c4).unwrap();
    assert_eq!(ok, "OK");
    let again = redis::cmd("CLUSTER").arg("LEAVE").query::<String>(&mut c4).unwrap_err();
    assert!(again.to_string().contains("already leaving"), "{again}");
    let began = Instant::now();
    let mut i = 0;
    while !cluster_field(c.nodes[0].port, "cluster_members").unwrap_or_default().contains("node-4=left/") {
        let k = format!("during-leave-{i}");
        set(&mut cc, &k);
        keys.push(k);
        i += 1;
        assert!(Instant::now() < deadline, "node 4 never left: {}", describe(&c.ports()));
    }
    let left_after = began.elapsed();
    let handed = cluster_field(c.nodes[3].port, "cluster_handoff_keys").unwrap_or_default();
    let three: Vec<u16> = c.ports()[..3].to_vec();
    wait_one_view(&three, Duration::from_secs(60));
    assert_eq!(cluster_field(c.nodes[3].port, "cluster_phase").as_deref(), Some("left"));
    let reads = on_every_owner(three[0], &keys, "leave");
    eprintln!(
        "leave: node 4 left {:.2} s after CLUSTER LEAVE, {handed} keys handed over, {i} written meanwhile; {} keys on all {reads} owner copies",
        left_after.as_secs_f64(),
        keys.len()
    );

    // SHUTDOWN with leave-on-shutdown: node 3 hands over, leaves, exits.
    let mut c3 = try_conn(c.nodes[2].port).expect("connect node 3");
    let _: () = redis::cmd("CONFIG").arg("SET").arg("leave-on-shutdown").arg("yes").query(&mut c3).unwrap();
    let _ = redis::cmd("SHUTDOWN").query::<()>(&mut c3);
    let began = Instant::now();
    while c.nodes[2].is_running() {
        assert!(began.elapsed() < Duration::from_secs(60), "node 3 did not exit after SHUTDOWN");
        thread::sleep(Duration::from_millis(50));
    }
    let two: Vec<u16> = c.ports()[..2].to_vec();
    let members = cluster_field(two[0], "cluster_members").unwrap_or_default();
    assert!(members.contains("node-3=left/"), "{members}");
    wait_one_view(&two, Duration::from_secs(60));
    let reads = on_every_owner(two[0], &keys, "shutdown");
    eprintln!(
        "leave-on-shutdown: node 3 exited {:.2} s after SHUTDOWN; {reads} owner copies",
        began.elapsed().as_secs_f64()
    );
}

#[test]
fn a_killed_node_is_detected_its_slots_served_and_nothing_acknowledged_lost() {
    let seed = seed("kill9");
    let mut c = Seeded::start(4, ARGS);
    wait_one_view(&c.ports(), Duration::from_secs(60));
    let live: Vec<u16> = c.ports()[..3].to_vec();
    let workload = Workload::start(&live, 2, 200, seed);
    thread::sleep(Duration::from_millis(800));

    c.nodes[3].kill();
    let killed = Instant::now();
    // Detected: every other node flags it fail (dead, off the ring).
    let deadline = killed + Duration::from_secs(30);
    loop {
        let flagged = live.iter().all(|&p| {
            cluster_nodes(p)
                .iter()
                .any(|l| l.starts_with("node-4 ") && l.contains("master,fail ") && !l.contains("fail?"))
        });
        if flagged {
            break;
        }
        assert!(Instant::now() < deadline, "node-4 not flagged fail in 30 s: {:?}", cluster_nodes(live[0]));
        thread::sleep(Duration::from_millis(50));
    }
    let detected = killed.elapsed();
    // Its slots are served: every slot has a serving coordinator again.
    loop {
        if live.iter().all(|&p| cluster_field(p, "cluster_state").is_some_and(|s| s == "ok")) {
            break;
        }
        assert!(Instant::now() < deadline, "slots not served again: {}", describe(&live));
        thread::sleep(Duration::from_millis(50));
    }
    let served = killed.elapsed();
    eprintln!(
        "kill -9: node-4 flagged fail everywhere after {:.2} s, every slot served after {:.2} s",
        detected.as_secs_f64(),
        served.as_secs_f64()
    );
    thread::sleep(Duration::from_millis(1000));
    let history = workload.stop();
    assert_nothing_lost("kill9", &history, &live);
    // The three left agree (node-4 dead in every view), then a cluster
    // client works through them.
    wait_one_view(&live, Duration::from_secs(60));
    cluster_client_works(live[1], "kill9");

    // FORGET: Redis's errors, then the dead node is gone everywhere.
    let mut conn = try_conn(live[0]).expect("connect");
    let forget = |conn: &mut redis::Connection, id: &str| {
        redis::cmd("CLUSTER").arg("FORGET").arg(id).query::<String>(conn).map_err(|e| e.to_string())
    };
    assert!(forget(&mut conn, "nobody").unwrap_err().contains("Unknown node nobody"));
    assert!(forget(&mut conn, "node-1").unwrap_err().contains("I tried hard but I can't forget myself..."));
    assert!(forget(&mut conn, "node-2").unwrap_err().contains("Can't forget a node that is alive"));
    assert_eq!(forget(&mut conn, "node-4").unwrap(), "OK");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !live.iter().all(|&p| cluster_nodes(p).len() == 3) {
        assert!(Instant::now() < deadline, "node-4 not forgotten everywhere: {:?}", cluster_nodes(live[2]));
        thread::sleep(Duration::from_millis(50));
    }
}
