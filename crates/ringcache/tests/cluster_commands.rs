//! The CLUSTER commands, READONLY/READWRITE/ASKING and INFO's cluster
//! section, on three real nodes in each client mode and on a standalone
//! node; and what they are for: the `redis` crate's cluster client and
//! `redis-cli -c` finding every key's node from them.
//!
//! Replies are checked against Redis 7.2's formats, and the placement they
//! describe against where keys really live: a plain connection to the
//! wrong node gets `-MOVED` (with `cluster-strict`) naming the node CLUSTER
//! SLOTS names, and each node's keys are counted apart.

mod common;

use std::collections::{HashMap, HashSet};
use std::thread;
use std::time::{Duration, Instant};

use common::cluster::TestCluster;
use common::{arity, call, err, int, run, strings, Server, NOT_INTEGER};
use redis::{Connection, Value};

const DISABLED: &str = "ERR This instance has cluster support disabled";
const SLOTS: u32 = 16384;

/// One CLUSTER SLOTS entry: a range and its master.
#[derive(Debug, Clone, PartialEq)]
struct Range {
    start: u16,
    end: u16,
    host: String,
    port: u16,
    id: String,
}

fn text(v: &Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        Value::VerbatimString { text, .. } => text.clone(),
        v => panic!("expected a string, got {v:?}"),
    }
}

fn integer(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        v => panic!("expected an integer, got {v:?}"),
    }
}

fn items(v: &Value) -> &[Value] {
    match v {
        Value::Array(items) => items,
        v => panic!("expected an array, got {v:?}"),
    }
}

/// CLUSTER SLOTS, checked to be in Redis 7's shape: start, end, then the
/// master and its `replicas` replicas, each as endpoint, port, id and an
/// empty map. The ranges with their masters.
fn cluster_slots_with(conn: &mut Connection, replicas: usize) -> Vec<Range> {
    let reply: Value = run(conn, &["CLUSTER", "SLOTS"]);
    items(&reply)
        .iter()
        .map(|entry| {
            let entry = items(entry);
            assert_eq!(entry.len(), 3 + replicas, "one master and {replicas} replicas: {entry:?}");
            for node in &entry[2..] {
                let node = items(node);
                assert_eq!(node.len(), 4, "{node:?}");
                assert_eq!(node[3], Value::Array(Vec::new()), "no extra networking metadata");
            }
            let ids: HashSet<String> = entry[2..].iter().map(|n| text(&items(n)[2])).collect();
            assert_eq!(ids.len(), 1 + replicas, "master and replicas are distinct nodes: {entry:?}");
            let node = items(&entry[2]);
            Range {
                start: integer(&entry[0]) as u16,
                end: integer(&entry[1]) as u16,
                host: text(&node[0]),
                port: integer(&node[1]) as u16,
                id: text(&node[2]),
            }
        })
        .collect()
}

/// CLUSTER SLOTS of a three-node cluster in `redis-cluster` mode: each
/// slot on all three (N = 3), one master and two replicas.
fn cluster_slots(conn: &mut Connection) -> Vec<Range> {
    cluster_slots_with(conn, 2)
}

/// Checks that `ranges` cover every slot once, in order.
fn assert_covers_every_slot(ranges: &[Range]) {
    let mut next = 0u32;
    for r in ranges {
        assert_eq!(u32::from(r.start), next, "ranges in slot order, no gap or overlap: {r:?}");
        assert!(r.end >= r.start);
        next = u32::from(r.end) + 1;
    }
    assert_eq!(next, SLOTS);
}

/// Each node's cluster port, by id, from the `--peers` every node got.
fn cluster_ports(c: &TestCluster) -> HashMap<String, u16> {
    c.peers
        .split(',')
        .map(|p| {
            let (id, rest) = p.split_once('@').unwrap();
            (id.to_owned(), rest.rsplit('@').next().unwrap().parse().unwrap())
        })
        .collect()
}

/// CLUSTER INFO (or INFO) as `field -> value`.
fn info_fields(conn: &mut Connection, args: &[&str]) -> Vec<(String, String)> {
    let reply: Value = run(conn, args);
    text(&reply)
        .split("\r\n")
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l.split_once(':').unwrap_or_else(|| panic!("not a field: {l:?}"));
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields.iter().find(|(k, _)| k == name).map_or_else(|| panic!("no {name} in {fields:?}"), |(_, v)| v)
}

/// A flat RESP2 map (CLUSTER SHARDS) as pairs of name and value.
fn pairs(v: &Value) -> Vec<(String, Value)> {
    items(v).chunks(2).map(|kv| (text(&kv[0]), kv[1].clone())).collect()
}

fn slot_of(conn: &mut Connection, key: &str) -> u16 {
    int(conn, &["CLUSTER", "KEYSLOT", key]) as u16
}

/// The node (index into the cluster) that CLUSTER SLOTS gives for `slot`.
fn owner(ranges: &[Range], c: &TestCluster, slot: u16) -> usize {
    let r = ranges.iter().find(|r| r.start <= slot && slot <= r.end).expect("every slot has a range");
    c.ids.iter().position(|id| *id == r.id).expect("a known id")
}

/// Every key of one node, by a full SCAN of that node.
fn scan_node(conn: &mut Connection) -> Vec<String> {
    let mut cursor = "0".to_owned();
    let mut keys = Vec::new();
    for _ in 0..100_000 {
        let (next, batch): (String, Vec<String>) = run(conn, &["SCAN", &cursor, "COUNT", "50"]);
        keys.extend(batch);
        if next == "0" {
            return keys;
        }
        cursor = next;
    }
    panic!("SCAN does not terminate");
}

#[test]
fn a_standalone_node_has_cluster_support_disabled() {
    let server = Server::start();
    let mut conn = server.conn();
    for args in [
        &["CLUSTER", "INFO"][..],
        &["CLUSTER", "SLOTS"],
        &["CLUSTER", "SHARDS"],
        &["CLUSTER", "NODES"],
        &["CLUSTER", "MYID"],
        &["CLUSTER", "MYSHARDID"],
        &["CLUSTER", "KEYSLOT", "foo"],
        &["CLUSTER", "COUNTKEYSINSLOT", "1"],
        &["CLUSTER", "GETKEYSINSLOT", "1", "1"],
        &["CLUSTER", "REPLICAS", "x"],
        &["CLUSTER", "HELP"],
        &["READONLY"],
        &["READWRITE"],
        &["ASKING"],
    ] {
        assert_eq!(err(&mut conn, args), DISABLED, "{args:?}");
    }
    // Redis 7 checks the subcommand and its arity first.
    assert_eq!(err(&mut conn, &["CLUSTER", "NOPE"]), "ERR unknown subcommand 'NOPE'. Try CLUSTER HELP.");
    assert_eq!(err(&mut conn, &["CLUSTER", "KEYSLOT"]), arity("cluster|keyslot"));
    assert_eq!(err(&mut conn, &["CLUSTER"]), arity("cluster"));
    let info = info_fields(&mut conn, &["INFO", "cluster"]);
    assert_eq!(info, vec![("cluster_enabled".to_owned(), "0".to_owned())]);
    assert_eq!(field(&info_fields(&mut conn, &["INFO", "server"]), "redis_mode"), "standalone");
}

#[test]
fn redis_cluster_mode_describes_the_placement_in_redis_formats() {
    let mut c = TestCluster::start(3, &["--cluster-mode", "redis-cluster"]);
    let cports = cluster_ports(&c);
    let mut conns: Vec<Connection> = c.nodes.iter().map(Server::conn).collect();

    // MYID / MYSHARDID: the configured node ids.
    for (i, conn) in conns.iter_mut().enumerate() {
        assert_eq!(run::<String>(conn, &["CLUSTER", "MYID"]), c.ids[i]);
        assert_eq!(run::<String>(conn, &["CLUSTER", "MYSHARDID"]), c.ids[i]);
    }

    // SLOTS: the same placement from every node, every slot once, each
    // range on a real node at its real port.
    let ranges = cluster_slots(&mut conns[0]);
    assert_covers_every_slot(&ranges);
    for conn in &mut conns[1..] {
        assert_eq!(cluster_slots(conn), ranges);
    }
    for r in &ranges {
        let i = c.ids.iter().position(|id| *id == r.id).unwrap();
        assert_eq!((r.host.as_str(), r.port), ("127.0.0.1", c.node(i).port));
    }
    // Ranges are maximal: two neighbours never have the same node.
    assert!(ranges.windows(2).all(|w| w[0].id != w[1].id));
    let by_node: Vec<Vec<(u16, u16)>> =
        (0..3).map(|i| ranges.iter().filter(|r| r.id == c.ids[i]).map(|r| (r.start, r.end)).collect()).collect();
    assert!(by_node.iter().all(|r| !r.is_empty()), "every node coordinates slots");

    // KEYSLOT is Redis Cluster's function, hash tags included.
    assert_eq!(slot_of(&mut conns[1], "foo"), 12182);
    assert_eq!(slot_of(&mut conns[1], "somekey"), 11058);
    assert_eq!(slot_of(&mut conns[1], "{user1000}.following"), slot_of(&mut conns[2], "{user1000}.followers"));

    // SHARDS: one shard per master with its ranges as flat pairs, then
    // its replicas: the other two nodes, which own its slots too.
    let reply: Value = run(&mut conns[2], &["CLUSTER", "SHARDS"]);
    let shards = items(&reply);
    assert_eq!(shards.len(), 3);
    let mut seen = HashSet::new();
    for shard in shards {
        let shard = pairs(shard);
        assert_eq!(shard.iter().map(|p| p.0.as_str()).collect::<Vec<_>>(), ["slots", "nodes"]);
        let nodes = items(&shard[1].1);
        assert_eq!(nodes.len(), 3, "a master and two replicas");
        let roles: Vec<String> = nodes.iter().map(|n| text(&pairs(n)[4].1)).collect();
        assert_eq!(roles, ["master", "replica", "replica"]);
        let members: HashSet<String> = nodes.iter().map(|n| text(&pairs(n)[0].1)).collect();
        assert_eq!(members.len(), 3, "each node once");
        let node = pairs(&nodes[0]);
        let names: Vec<&str> = node.iter().map(|p| p.0.as_str()).collect();
        assert_eq!(names, ["id", "port", "ip", "endpoint", "role", "replication-offset", "health"]);
        let id = text(&node[0].1);
        let i = c.ids.iter().position(|x| *x == id).unwrap();
        assert!(seen.insert(i));
        assert_eq!(integer(&node[1].1), i64::from(c.node(i).port));
        assert_eq!((text(&node[2].1), text(&node[3].1)), ("127.0.0.1".to_owned(), "127.0.0.1".to_owned()));
        assert_eq!((text(&node[4].1), integer(&node[5].1), text(&node[6].1)), ("master".into(), 0, "online".into()));
        let flat: Vec<i64> = items(&shard[0].1).iter().map(integer).collect();
        let want: Vec<i64> = by_node[i].iter().flat_map(|&(a, b)| [i64::from(a), i64::from(b)]).collect();
        assert_eq!(flat, want);
    }

    // NODES: one line per node, `myself` on the one asked. A node has
    // heard from the others once its first probes are answered.
    for (asked, conn) in conns.iter_mut().enumerate() {
        let deadline = Instant::now() + Duration::from_secs(5);
        let nodes = loop {
            let reply: Value = run(conn, &["CLUSTER", "NODES"]);
            let nodes = text(&reply);
            if nodes.lines().filter(|l| l.split(' ').nth(5) != Some("0")).count() == 2 {
                break nodes;
            }
            assert!(Instant::now() < deadline, "no answer from the others in 5 s:\n{nodes}");
            thread::sleep(Duration::from_millis(50));
        };
        assert!(nodes.ends_with('\n'));
        let lines: Vec<&str> = nodes.lines().collect();
        assert_eq!(lines.len(), 3);
        for line in lines {
            let f: Vec<&str> = line.split(' ').collect();
            let i = c.ids.iter().position(|id| id == f[0]).unwrap();
            assert_eq!(f[1], format!("127.0.0.1:{}@{}", c.node(i).port, cports[&c.ids[i]]));
            assert_eq!(f[2], if i == asked { "myself,master" } else { "master" });
            assert_eq!(f[3], "-", "no master: every node is one");
            assert_eq!(f[4], "0");
            let pong: u64 = f[5].parse().unwrap();
            assert_eq!(pong == 0, i == asked, "pong-recv of {line}");
            assert_eq!(&f[6..8], ["0", "connected"]);
            let want: Vec<String> =
                by_node[i].iter().map(|&(a, b)| if a == b { a.to_string() } else { format!("{a}-{b}") }).collect();
            assert_eq!(f[8..], want);
        }
    }

    // INFO: whole, three one-node shards, gossip counted as Redis's ping.
    let deadline = Instant::now() + Duration::from_secs(5);
    let info = loop {
        let info = info_fields(&mut conns[0], &["CLUSTER", "INFO"]);
        if info.iter().any(|f| f.0 == "cluster_stats_messages_ping_received") {
            break info;
        }
        assert!(Instant::now() < deadline, "no probe answered in 5 s: {info:?}");
        thread::sleep(Duration::from_millis(50));
    };
    let names: Vec<&str> = info.iter().map(|f| f.0.as_str()).collect();
    assert_eq!(
        names[..9],
        [
            "cluster_state",
            "cluster_slots_assigned",
            "cluster_slots_ok",
            "cluster_slots_pfail",
            "cluster_slots_fail",
            "cluster_known_nodes",
            "cluster_size",
            "cluster_current_epoch",
            "cluster_my_epoch"
        ]
    );
    let values: Vec<&str> = info[..9].iter().map(|f| f.1.as_str()).collect();
    assert_eq!(values[..7], ["ok", "16384", "16384", "0", "0", "3", "3"]);
    assert!(values[7].parse::<u64>().unwrap() > 0, "cluster_current_epoch is the view's epoch");
    assert_eq!(values[8], "0");
    assert!(field(&info, "cluster_stats_messages_ping_sent").parse::<u64>().unwrap() > 0);
    assert!(field(&info, "cluster_stats_messages_ping_received").parse::<u64>().unwrap() > 0);
    assert!(field(&info, "cluster_stats_messages_sent").parse::<u64>().unwrap() > 0);
    assert_eq!(info.last().unwrap(), &("total_cluster_links_buffer_limit_exceeded".to_owned(), "0".to_owned()));
    let section = info_fields(&mut conns[0], &["INFO", "cluster"]);
    assert_eq!(section[0], ("cluster_enabled".to_owned(), "1".to_owned()));
    assert_eq!(field(&section, "cluster_state"), "ok");
    assert_eq!(field(&section, "cluster_known_nodes"), "3");
    let epoch = |f: &[(String, String)]| field(f, "cluster_current_epoch").parse::<u64>().unwrap();
    assert!(epoch(&section) >= epoch(&info), "one epoch, growing");
    assert_eq!(field(&info_fields(&mut conns[0], &["INFO"]), "redis_mode"), "cluster");
    // CLUSTER INFO and NODES are bulk strings in RESP2.
    let mut raw = c.node(0).raw();
    assert!(call(&mut raw, &["CLUSTER", "INFO"]).starts_with("$"));

    // COUNTKEYSINSLOT / GETKEYSINSLOT: the keys of the node asked.
    let slot = slot_of(&mut conns[0], "{tag}");
    let home = owner(&ranges, &c, slot);
    for k in 0..10 {
        let _: () = run(&mut conns[0], &["SET", &format!("{{tag}}:{k}"), "v"]);
    }
    let s = slot.to_string();
    for conn in conns.iter_mut() {
        // Every node owns every slot of a three-node cluster (N = 3): the
        // master and its two replicas hold the keys. A write is answered
        // at W = 2, so the third owner may apply it a moment later.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while int(conn, &["CLUSTER", "COUNTKEYSINSLOT", &s]) != 10 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert_eq!(int(conn, &["CLUSTER", "COUNTKEYSINSLOT", &s]), 10);
    }
    let keys: HashSet<String> = run(&mut conns[home], &["CLUSTER", "GETKEYSINSLOT", &s, "100"]);
    assert_eq!(keys, (0..10).map(|k| format!("{{tag}}:{k}")).collect());
    assert_eq!(run::<Vec<String>>(&mut conns[home], &["CLUSTER", "GETKEYSINSLOT", &s, "3"]).len(), 3);
    assert!(run::<Vec<String>>(&mut conns[home], &["CLUSTER", "GETKEYSINSLOT", &s, "0"]).is_empty());
    let other = (slot + 1).to_string();
    assert_eq!(int(&mut conns[home], &["CLUSTER", "COUNTKEYSINSLOT", &other]), 0);
    // Redis's errors.
    let conn = &mut conns[1];
    assert_eq!(err(conn, &["CLUSTER", "COUNTKEYSINSLOT", "16384"]), "ERR Invalid slot");
    assert_eq!(err(conn, &["CLUSTER", "COUNTKEYSINSLOT", "-1"]), "ERR Invalid slot");
    assert_eq!(err(conn, &["CLUSTER", "COUNTKEYSINSLOT", "x"]), NOT_INTEGER);
    assert_eq!(err(conn, &["CLUSTER", "GETKEYSINSLOT", "16384", "1"]), "ERR Invalid slot or number of keys");
    assert_eq!(err(conn, &["CLUSTER", "GETKEYSINSLOT", "1", "-1"]), "ERR Invalid slot or number of keys");
    assert_eq!(err(conn, &["CLUSTER", "GETKEYSINSLOT", "1", "x"]), NOT_INTEGER);
    assert_eq!(err(conn, &["CLUSTER", "GETKEYSINSLOT", "1"]), arity("cluster|getkeysinslot"));
    assert_eq!(err(conn, &["CLUSTER", "ADDSLOTS", "1"]), "ERR unknown subcommand 'ADDSLOTS'. Try CLUSTER HELP.");
    assert_eq!(err(conn, &["CLUSTER", "REPLICAS", "nobody"]), "ERR Unknown node nobody");
    assert!(run::<Vec<String>>(conn, &["CLUSTER", "REPLICAS", &c.ids[2]]).is_empty());
    let help: Vec<String> = run(conn, &["CLUSTER", "HELP"]);
    assert_eq!(help[0], "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
    assert!(help.contains(&"KEYSLOT <key>".to_owned()) && help.ends_with(&strings(&["HELP", "    Prints this help."])));
    for cmd in ["READONLY", "READWRITE", "ASKING"] {
        assert_eq!(run::<String>(conn, &[cmd]), "OK");
    }
    // COMMAND lists the family like every other.
    let docs: Value = run(conn, &["COMMAND", "DOCS", "cluster"]);
    let docs = pairs(&items(&docs)[1]);
    let subs = &docs.iter().find(|p| p.0 == "subcommands").expect("subcommands").1;
    assert!(pairs(subs).iter().any(|p| p.0 == "cluster|slots"));
    assert_eq!(int(conn, &["COMMAND", "COUNT"]), run::<Vec<Value>>(conn, &["COMMAND"]).len() as i64);

    // A node stops: within a few probes its slots are served by their
    // next owners, which hold their keys, and the cluster stays whole.
    c.nodes[2].stop();
    let stopped = &c.ids[2];
    let deadline = Instant::now() + Duration::from_secs(10);
    let line = loop {
        let reply: Value = run(&mut conns[0], &["CLUSTER", "NODES"]);
        let line = text(&reply).lines().find(|l| l.starts_with(stopped.as_str())).unwrap().to_owned();
        // Seen unreachable first, then its slots move on (a probe or two
        // later on a loaded machine).
        if line.contains("fail?") && line.split(' ').count() == 8 {
            break line;
        }
        assert!(Instant::now() < deadline, "node not seen down without slots 10 s after it stopped: {line}");
        thread::sleep(Duration::from_millis(100));
    };
    let f: Vec<&str> = line.split(' ').collect();
    assert_eq!((f[2], f[7], f.len()), ("master,fail?", "disconnected", 8), "no slots left: {line}");
    // One master and one live replica per range now (a failed replica is
    // not listed, as in Redis); none of them the stopped node.
    let after = cluster_slots_with(&mut conns[0], 1);
    assert_covers_every_slot(&after);
    assert!(after.iter().all(|r| r.id != *stopped), "{after:?}");
    let info = info_fields(&mut conns[0], &["CLUSTER", "INFO"]);
    assert_eq!(field(&info, "cluster_state"), "ok", "{info:?}");
    assert_eq!(field(&info, "cluster_size"), "2");
    // The keys written before are all there.
    assert_eq!(int(&mut conns[0], &["CLUSTER", "COUNTKEYSINSLOT", &s]), 10);
}

#[test]
fn the_redis_crate_cluster_client_works_and_fanned_out_commands_count_each_key_once() {
    let c = TestCluster::start(3, &["--cluster-mode", "redis-cluster", "--cluster-strict", "yes"]);
    let client = redis::cluster::ClusterClientBuilder::new(vec![c.node(1).url()])
        .connection_timeout(Duration::from_secs(5))
        .response_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut cc = client.get_connection().unwrap();
    let q = |cc: &mut redis::cluster::ClusterConnection, args: &[&str]| -> Value {
        common::cmd(args).query(cc).unwrap_or_else(|e| panic!("{args:?}: {e}"))
    };

    // Every family, keys all over the ring. With cluster-strict, a command
    // sent to the wrong node would fail with MOVED; the client follows
    // those, so correctness of placement is checked below through counts.
    for i in 0..30 {
        let k = format!("k{i}");
        assert_eq!(q(&mut cc, &["SET", &format!("s:{k}"), &i.to_string()]), Value::Okay);
        assert_eq!(q(&mut cc, &["INCRBY", &format!("s:{k}"), "10"]), Value::Int(i + 10));
        assert_eq!(q(&mut cc, &["HSET", &format!("h:{k}"), "f", "v", "g", "w"]), Value::Int(2));
        assert_eq!(q(&mut cc, &["RPUSH", &format!("l:{k}"), "a", "b", "c"]), Value::Int(3));
        assert_eq!(q(&mut cc, &["SADD", &format!("t:{k}"), "x", "y"]), Value::Int(2));
        assert_eq!(q(&mut cc, &["ZADD", &format!("z:{k}"), "1", "one", "2", "two"]), Value::Int(2));
    }
    for i in 0..30 {
        let k = format!("k{i}");
        assert_eq!(q(&mut cc, &["GET", &format!("s:{k}")]), common::bulk(&(i + 10).to_string()));
        assert_eq!(q(&mut cc, &["HGET", &format!("h:{k}"), "g"]), common::bulk("w"));
        assert_eq!(
            q(&mut cc, &["LRANGE", &format!("l:{k}"), "0", "-1"]),
            Value::Array(vec![common::bulk("a"), common::bulk("b"), common::bulk("c")])
        );
        assert_eq!(q(&mut cc, &["SISMEMBER", &format!("t:{k}"), "y"]), Value::Int(1));
        assert_eq!(q(&mut cc, &["ZSCORE", &format!("z:{k}"), "two"]), common::bulk("2"));
    }
    // TTLs.
    assert_eq!(q(&mut cc, &["SET", "ttl:a", "v", "EX", "100"]), Value::Okay);
    assert!(matches!(q(&mut cc, &["TTL", "ttl:a"]), Value::Int(t) if (99..=100).contains(&t)));
    assert_eq!(q(&mut cc, &["PEXPIRE", "s:k3", "50000"]), Value::Int(1));
    assert!(matches!(q(&mut cc, &["PTTL", "s:k3"]), Value::Int(t) if t > 49_000));
    // Multi-key commands on one hash tag.
    assert_eq!(q(&mut cc, &["MSET", "{u}:a", "1", "{u}:b", "2", "{u}:c", "3"]), Value::Okay);
    assert_eq!(
        q(&mut cc, &["MGET", "{u}:a", "{u}:c", "{u}:nope"]),
        Value::Array(vec![common::bulk("1"), common::bulk("3"), Value::Nil])
    );
    assert_eq!(q(&mut cc, &["DEL", "{u}:a", "{u}:b"]), Value::Int(2));

    // A cluster pipeline over many slots.
    let mut pipe = redis::cluster::cluster_pipe();
    for i in 0..200 {
        pipe.cmd("SET").arg(format!("p:{i}")).arg(i);
    }
    for i in 0..200 {
        pipe.cmd("GET").arg(format!("p:{i}"));
    }
    let replies: Vec<Value> = pipe.query(&mut cc).unwrap();
    assert_eq!(replies.len(), 400);
    assert!(replies[..200].iter().all(|r| *r == Value::Okay));
    for (i, r) in replies[200..].iter().enumerate() {
        assert_eq!(*r, common::bulk(&i.to_string()));
    }

    // The async cluster client, on a runtime of its own.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let mut ac = client.get_async_connection().await.unwrap();
        for i in 0..20 {
            let _: () = redis::cmd("SET").arg(format!("a:{i}")).arg(i).query_async(&mut ac).await.unwrap();
        }
        for i in 0..20 {
            let v: i64 = redis::cmd("GET").arg(format!("a:{i}")).query_async(&mut ac).await.unwrap();
            assert_eq!(v, i);
        }
    });

    // Keys written: 5 families x 30, ttl:a, {u}:c, 200 p:, 20 a:.
    let total = 5 * 30 + 1 + 1 + 200 + 20;
    // The client fans DBSIZE out to every master and sums the answers.
    assert_eq!(q(&mut cc, &["DBSIZE"]), Value::Int(total));
    // SCAN each node: their union is every key, each seen on one node, and
    // on the node CLUSTER SLOTS names for its slot.
    let mut conns: Vec<Connection> = c.nodes.iter().map(Server::conn).collect();
    let ranges = cluster_slots(&mut conns[0]);
    let mut all = HashSet::new();
    let mut sizes = Vec::new();
    for (i, conn) in conns.iter_mut().enumerate() {
        let keys = scan_node(conn);
        sizes.push(int(conn, &["DBSIZE"]));
        assert_eq!(keys.len() as i64, sizes[i]);
        for k in keys {
            let slot = slot_of(conn, &k);
            assert_eq!(owner(&ranges, &c, slot), i, "{k} (slot {slot}) lives on node {i}");
            assert!(all.insert(k.clone()), "{k} seen twice");
        }
    }
    assert_eq!(all.len() as i64, total);
    assert!(sizes.iter().all(|&n| n > 0), "keys on every node: {sizes:?}");
}

#[test]
fn strict_nodes_redirect_and_redis_cli_follows() {
    let c = TestCluster::start(3, &["--cluster-mode", "redis-cluster", "--cluster-strict", "yes"]);
    let mut conn = c.node(0).conn();
    let ranges = cluster_slots(&mut conn);
    let mut elsewhere = 0;
    for i in 0..40 {
        let key = format!("key:{i}");
        let slot = slot_of(&mut conn, &key);
        let home = owner(&ranges, &c, slot);
        if home == 0 {
            let _: () = run(&mut conn, &["SET", &key, "here"]);
            continue;
        }
        elsewhere += 1;
        // A plain connection gets the redirect to the node SLOTS names.
        let mut raw = c.node(0).raw();
        let moved = format!("-MOVED {slot} 127.0.0.1:{}\r\n", c.node(home).port);
        assert_eq!(call(&mut raw, &["GET", &key]), moved);
        // redis-cli -c follows it, for writes and reads.
        let value = format!("v{i}");
        assert_eq!(c.node(0).cli(&["-c", "SET", &key, &value]), "OK");
        assert_eq!(c.node(0).cli(&["-c", "GET", &key]), value);
        assert_eq!(c.node(home).cli(&["GET", &key]), value, "stored on its own node");
    }
    assert!(elsewhere >= 10, "only {elsewhere} of 40 keys live on other nodes");
    // Redis's own cluster checker reads CLUSTER NODES of every node.
    let check = c.node(1).cli(&["--cluster", "check", &format!("127.0.0.1:{}", c.node(1).port)]);
    for line in ["[OK] All nodes agree about slots configuration.", "[OK] All 16384 slots covered."] {
        assert!(check.contains(line), "redis-cli --cluster check:\n{check}");
    }
}

#[test]
fn proxy_mode_shows_one_shard_served_by_the_node_asked() {
    let c = TestCluster::start(3, &[]);
    let cports = cluster_ports(&c);
    for (i, node) in c.nodes.iter().enumerate() {
        let mut conn = node.conn();
        let id = &c.ids[i];
        let full = Range { start: 0, end: 16383, host: "127.0.0.1".into(), port: node.port, id: id.clone() };
        assert_eq!(cluster_slots_with(&mut conn, 0), [full]);
        let reply: Value = run(&mut conn, &["CLUSTER", "NODES"]);
        assert_eq!(
            text(&reply),
            format!("{id} 127.0.0.1:{}@{} myself,master - 0 0 0 connected 0-16383\n", node.port, cports[id])
        );
        let reply: Value = run(&mut conn, &["CLUSTER", "SHARDS"]);
        let shards = items(&reply);
        assert_eq!(shards.len(), 1);
        let shard = pairs(&shards[0]);
        assert_eq!(shard[0].1, Value::Array(vec![Value::Int(0), Value::Int(16383)]));
        let node_fields = pairs(&items(&shard[1].1)[0]);
        assert_eq!(text(&node_fields[0].1), *id);
        assert_eq!(integer(&node_fields[1].1), i64::from(node.port));
        let info = info_fields(&mut conn, &["CLUSTER", "INFO"]);
        let values: Vec<&str> = info[..9].iter().map(|f| f.1.as_str()).collect();
        // The current epoch counts this node's membership views: above 0
        // once it has seen the others join.
        assert_eq!(values[..7], ["ok", "16384", "16384", "0", "0", "1", "1"]);
        assert!(values[7].parse::<u64>().unwrap() > 0, "cluster_current_epoch {}", values[7]);
        assert_eq!(values[8], "0");
        assert_eq!(run::<String>(&mut conn, &["CLUSTER", "MYID"]), *id);
    }

    // COUNTKEYSINSLOT / GETKEYSINSLOT answer for the cluster, from any node.
    let mut conn = c.node(0).conn();
    for k in 0..7 {
        let _: () = run(&mut conn, &["SET", &format!("{{p}}:{k}"), "v"]);
    }
    let slot = slot_of(&mut conn, "{p}").to_string();
    for node in &c.nodes {
        let mut conn = node.conn();
        assert_eq!(int(&mut conn, &["CLUSTER", "COUNTKEYSINSLOT", &slot]), 7);
        assert_eq!(run::<Vec<String>>(&mut conn, &["CLUSTER", "GETKEYSINSLOT", &slot, "4"]).len(), 4);
        assert_eq!(err(&mut conn, &["CLUSTER", "GETKEYSINSLOT", &slot, "-2"]), "ERR Invalid slot or number of keys");
    }

    // A cluster client sees one node and gets every key through it.
    let client = redis::cluster::ClusterClient::new(vec![c.node(2).url()]).unwrap();
    let mut cc = client.get_connection().unwrap();
    for i in 0..50 {
        let _: () = common::cmd(&["SET", &format!("c:{i}"), &i.to_string()]).query(&mut cc).unwrap();
    }
    let got: Vec<i64> = (0..50).map(|i| common::cmd(&["GET", &format!("c:{i}")]).query(&mut cc).unwrap()).collect();
    assert_eq!(got, (0..50).collect::<Vec<i64>>());
    assert_eq!(common::cmd(&["DBSIZE"]).query::<i64>(&mut cc).unwrap(), 57, "the whole cluster, through one node");
}
