//! Every command family through a replicated cluster (three nodes, N = 3,
//! W = 2), in both client modes: a plain client on one node (`proxy`) and
//! the `redis` crate's cluster client (`redis-cluster`).
//!
//! Each family runs its writes through the cluster and reads its keys back;
//! then each node in turn is killed (`kill -9`) and every read must give the
//! same answer through the nodes left, so every owner held every write of
//! every family, applied the same way. The killed node is restarted with an
//! empty memory before the next one goes, and must catch up (the owners'
//! digests agree) before the next kill, so the last rotations read data that
//! was streamed to a restarted node. Transactions, expiry (an absolute time
//! every owner applies) and eviction (local to one owner) have their own
//! checks.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::cluster::coordinator_port;
use common::fault::{info_field, try_conn, FaultCluster};
use redis::{ConnectionLike, Value};

/// Short failure detection and frequent anti-entropy, so that each
/// rotation takes a few seconds.
const ARGS: &[&str] = &["--cluster-timeout", "1000", "--anti-entropy-interval-ms", "100"];
/// Commands the `redis` crate's cluster client will not route.
const UNROUTED: &[&str] = &["BITOP"];
/// How long reads may fail while a killed node is being detected.
const FAILOVER_MAX: Duration = Duration::from_secs(15);

/// How a read's answer is compared: some types have no order that every
/// owner must agree on.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Cmp {
    Exact,
    /// An array compared as a set (SMEMBERS).
    Unordered,
    /// An array of field/value pairs compared as a map (HGETALL).
    Pairs,
    /// A TTL in seconds: positive and at most this.
    TtlAtMost(i64),
}

#[derive(Clone)]
struct Read {
    cmd: Vec<&'static str>,
    cmp: Cmp,
}

fn read(cmd: &[&'static str]) -> Read {
    Read { cmd: cmd.to_vec(), cmp: Cmp::Exact }
}

fn read_as(cmd: &[&'static str], cmp: Cmp) -> Read {
    Read { cmd: cmd.to_vec(), cmp }
}

/// One family: the writes to run, then the reads that see their result.
struct Family {
    name: &'static str,
    writes: Vec<Vec<&'static str>>,
    reads: Vec<Read>,
}

fn families() -> Vec<Family> {
    vec![
        Family {
            name: "strings",
            writes: vec![
                vec!["SET", "s:a", "hello"],
                vec!["APPEND", "s:a", " world"],
                vec!["SETRANGE", "s:a", "0", "J"],
                vec!["INCRBY", "s:n", "41"],
                vec!["INCR", "s:n"],
                vec!["INCRBYFLOAT", "s:f", "1.5"],
                vec!["MSET", "{s}x", "1", "{s}y", "2"],
                vec!["MSETNX", "{s}z", "3", "{s}w", "4"],
                vec!["GETSET", "s:g", "new"],
                vec!["SETNX", "s:g", "ignored"],
                vec!["SET", "s:gone", "x"],
                vec!["GETDEL", "s:gone"],
                vec!["SETBIT", "s:bits", "7", "1"],
                vec!["SETBIT", "s:bits", "100", "1"],
                vec!["SET", "{b}a", "foobar"],
                vec!["SET", "{b}b", "abcdef"],
                vec!["BITOP", "XOR", "{b}dst", "{b}a", "{b}b"],
                vec!["BITFIELD", "s:bf", "SET", "u8", "0", "200", "INCRBY", "i5", "100", "3"],
            ],
            reads: vec![
                read(&["GET", "s:a"]),
                read(&["GET", "s:n"]),
                read(&["GET", "s:f"]),
                read(&["MGET", "{s}x", "{s}y", "{s}z", "{s}w"]),
                read(&["GET", "s:g"]),
                read(&["EXISTS", "s:gone"]),
                read(&["GET", "s:bits"]),
                read(&["BITCOUNT", "s:bits"]),
                read(&["GET", "{b}dst"]),
                read(&["GET", "s:bf"]),
            ],
        },
        Family {
            name: "keys",
            writes: vec![
                vec!["SET", "{k}a", "1"],
                vec!["RENAME", "{k}a", "{k}b"],
                vec!["SET", "{k}c", "3"],
                vec!["RENAMENX", "{k}c", "{k}b"],
                vec!["SET", "k:del", "x"],
                vec!["DEL", "k:del"],
                vec!["SET", "k:unlink", "x"],
                vec!["UNLINK", "k:unlink"],
                vec!["SET", "k:ttl", "x"],
                vec!["EXPIRE", "k:ttl", "1000"],
                vec!["SET", "k:persist", "x", "EX", "1000"],
                vec!["PERSIST", "k:persist"],
            ],
            reads: vec![
                read(&["EXISTS", "{k}a", "{k}b", "{k}c"]),
                read(&["GET", "{k}b"]),
                read(&["EXISTS", "k:del", "k:unlink"]),
                read_as(&["TTL", "k:ttl"], Cmp::TtlAtMost(1000)),
                read(&["TTL", "k:persist"]),
                read(&["TYPE", "{k}b"]),
            ],
        },
        Family {
            name: "hashes",
            writes: vec![
                vec!["HSET", "h", "f1", "v1", "f2", "v2", "f3", "v3"],
                vec!["HINCRBY", "h", "n", "7"],
                vec!["HINCRBYFLOAT", "h", "x", "0.25"],
                vec!["HDEL", "h", "f2"],
                vec!["HSETNX", "h", "f1", "ignored"],
                vec!["HSETNX", "h", "f4", "v4"],
            ],
            reads: vec![read_as(&["HGETALL", "h"], Cmp::Pairs), read(&["HLEN", "h"]), read(&["HGET", "h", "n"])],
        },
        Family {
            name: "lists",
            writes: vec![
                vec!["RPUSH", "{l}a", "a", "b", "c", "d"],
                vec!["LPUSH", "{l}a", "z"],
                vec!["LSET", "{l}a", "1", "A"],
                vec!["LREM", "{l}a", "1", "c"],
                vec!["LINSERT", "{l}a", "BEFORE", "d", "ins"],
                vec!["LTRIM", "{l}a", "0", "3"],
                vec!["LMOVE", "{l}a", "{l}b", "LEFT", "RIGHT"],
                vec!["RPOPLPUSH", "{l}a", "{l}b"],
                vec!["RPUSH", "{l}c", "1", "2", "3"],
                vec!["LMPOP", "1", "{l}c", "LEFT", "COUNT", "2"],
            ],
            reads: vec![
                read(&["LRANGE", "{l}a", "0", "-1"]),
                read(&["LRANGE", "{l}b", "0", "-1"]),
                read(&["LRANGE", "{l}c", "0", "-1"]),
            ],
        },
        Family {
            name: "sets",
            writes: vec![
                vec!["SADD", "{t}a", "1", "2", "3", "4"],
                vec!["SADD", "{t}b", "3", "4", "5"],
                vec!["SREM", "{t}a", "1"],
                vec!["SMOVE", "{t}a", "{t}b", "2"],
                vec!["SINTERSTORE", "{t}i", "{t}a", "{t}b"],
                vec!["SUNIONSTORE", "{t}u", "{t}a", "{t}b"],
                vec!["SDIFFSTORE", "{t}d", "{t}b", "{t}a"],
            ],
            reads: vec![
                read_as(&["SMEMBERS", "{t}a"], Cmp::Unordered),
                read_as(&["SMEMBERS", "{t}b"], Cmp::Unordered),
                read_as(&["SMEMBERS", "{t}i"], Cmp::Unordered),
                read_as(&["SMEMBERS", "{t}u"], Cmp::Unordered),
                read_as(&["SMEMBERS", "{t}d"], Cmp::Unordered),
            ],
        },
        Family {
            name: "zsets",
            writes: vec![
                vec!["ZADD", "{z}a", "1", "one", "2", "two", "3", "three"],
                vec!["ZINCRBY", "{z}a", "10", "one"],
                vec!["ZREM", "{z}a", "two"],
                vec!["ZADD", "{z}b", "5", "five", "3", "three"],
                vec!["ZUNIONSTORE", "{z}u", "2", "{z}a", "{z}b", "WEIGHTS", "1", "2"],
                vec!["ZINTERSTORE", "{z}i", "2", "{z}a", "{z}b"],
                vec!["ZPOPMIN", "{z}b"],
                vec!["ZREMRANGEBYSCORE", "{z}u", "0", "5"],
            ],
            reads: vec![
                read(&["ZRANGE", "{z}a", "0", "-1", "WITHSCORES"]),
                read(&["ZRANGE", "{z}b", "0", "-1", "WITHSCORES"]),
                read(&["ZRANGE", "{z}u", "0", "-1", "WITHSCORES"]),
                read(&["ZRANGE", "{z}i", "0", "-1", "WITHSCORES"]),
            ],
        },
        Family {
            name: "streams",
            writes: vec![
                vec!["XADD", "x:s", "1-1", "f", "a"],
                vec!["XADD", "x:s", "2-*", "f", "b", "g", "c"],
                vec!["XADD", "x:s", "3-0", "f", "c"],
                vec!["XADD", "x:s", "MAXLEN", "=", "3", "4-0", "f", "d"],
                vec!["XGROUP", "CREATE", "x:s", "grp", "0"],
                vec!["XREADGROUP", "GROUP", "grp", "alice", "COUNT", "2", "STREAMS", "x:s", ">"],
                vec!["XREADGROUP", "GROUP", "grp", "bob", "STREAMS", "x:s", ">"],
                vec!["XACK", "x:s", "grp", "2-0"],
                vec!["XCLAIM", "x:s", "grp", "carol", "0", "4-0", "JUSTID"],
                vec!["XDEL", "x:s", "3-0"],
                vec!["XGROUP", "CREATE", "x:t", "other", "$", "MKSTREAM"],
            ],
            reads: vec![
                read(&["XRANGE", "x:s", "-", "+"]),
                read(&["XPENDING", "x:s", "grp"]),
                read(&["XINFO", "GROUPS", "x:s"]),
                read(&["XLEN", "x:t"]),
                read(&["XINFO", "GROUPS", "x:t"]),
            ],
        },
    ]
}

/// Runs `cmd` on `conn`, retrying while the cluster fails over (errors that
/// say so, or a lost connection), for at most [`FAILOVER_MAX`].
fn query(conn: &mut dyn ConnectionLike, cmd: &[&str]) -> Value {
    let deadline = Instant::now() + FAILOVER_MAX;
    loop {
        match try_query(conn, cmd) {
            Ok(v) => return v,
            Err(e) => assert!(Instant::now() < deadline, "{cmd:?} still failing after {FAILOVER_MAX:?}: {e}"),
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// One try of `cmd`: its answer, or an error that says the cluster is
/// failing over (any other error fails the test).
fn try_query(conn: &mut dyn ConnectionLike, cmd: &[&str]) -> Result<Value, redis::RedisError> {
    let mut c = redis::cmd(cmd[0]);
    for a in &cmd[1..] {
        c.arg(*a);
    }
    c.query::<Value>(conn).inspect_err(|e| {
        let transient = e.is_io_error()
            || e.is_timeout()
            || e.is_connection_dropped()
            || e.code().is_some_and(|c| ["TRYAGAIN", "CLUSTERDOWN", "MOVED", "NOREPLICAS"].contains(&c));
        assert!(transient, "{cmd:?}: {e}");
    })
}

/// A client of the cluster in one mode, through the nodes in `ports`; it
/// connects again after an I/O error, since the cluster client keeps the
/// slot map it started with while the node it names refuses connections.
struct Client {
    mode: Mode,
    ports: Vec<u16>,
    conn: Box<dyn ConnectionLike>,
}

impl Client {
    fn new(mode: Mode, ports: &[u16]) -> Client {
        Client { mode, ports: ports.to_vec(), conn: mode.connect(ports) }
    }

    fn query(&mut self, cmd: &[&str]) -> Value {
        let deadline = Instant::now() + FAILOVER_MAX;
        loop {
            match try_query(self.conn.as_mut(), cmd) {
                Ok(v) => return v,
                Err(e) => {
                    assert!(Instant::now() < deadline, "{cmd:?} still failing after {FAILOVER_MAX:?}: {e}");
                    thread::sleep(Duration::from_millis(50));
                    if e.is_io_error() || e.is_connection_dropped() {
                        self.conn = self.mode.connect(&self.ports);
                    }
                }
            }
        }
    }

    fn read(&mut self, reads: &[Read]) -> Vec<Value> {
        reads.iter().map(|r| normalize(self.query(&r.cmd), r.cmp)).collect()
    }
}

/// `v` in a form two owners must agree on, for `cmp`.
fn normalize(v: Value, cmp: Cmp) -> Value {
    match (cmp, v) {
        (Cmp::Unordered, Value::Array(mut items)) => {
            items.sort_by_key(|i| format!("{i:?}"));
            Value::Array(items)
        }
        (Cmp::Pairs, Value::Array(items)) => {
            let mut pairs: Vec<Vec<Value>> = items.chunks(2).map(<[Value]>::to_vec).collect();
            pairs.sort_by_key(|p| format!("{:?}", p[0]));
            Value::Array(pairs.into_iter().flatten().collect())
        }
        (Cmp::TtlAtMost(max), Value::Int(ttl)) => {
            assert!(ttl > 0 && ttl <= max, "TTL {ttl} not in 1..={max}");
            Value::Int(max)
        }
        (_, v) => v,
    }
}

/// The client modes: how to open a connection to the cluster through the
/// nodes in `ports`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Proxy,
    RedisCluster,
}

impl Mode {
    fn args(self) -> Vec<&'static str> {
        let mut args = ARGS.to_vec();
        args.extend_from_slice(match self {
            Mode::Proxy => &["--cluster-mode", "proxy"],
            Mode::RedisCluster => &["--cluster-mode", "redis-cluster"],
        });
        args
    }

    fn connect(self, ports: &[u16]) -> Box<dyn ConnectionLike> {
        let deadline = Instant::now() + FAILOVER_MAX;
        loop {
            let conn: Option<Box<dyn ConnectionLike>> = match self {
                Mode::Proxy => ports.iter().find_map(|&p| try_conn(p)).map(|c| Box::new(c) as _),
                Mode::RedisCluster => {
                    let nodes: Vec<String> = ports.iter().map(|p| format!("redis://127.0.0.1:{p}/")).collect();
                    redis::cluster::ClusterClientBuilder::new(nodes)
                        .connection_timeout(Duration::from_millis(500))
                        .response_timeout(Duration::from_secs(5))
                        .build()
                        .ok()
                        .and_then(|c| c.get_connection().ok())
                        .map(|c| Box::new(c) as _)
                }
            };
            if let Some(conn) = conn {
                return conn;
            }
            assert!(Instant::now() < deadline, "{self:?}: no connection to {ports:?}");
            thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A plain connection to the node that coordinates `key` now (as CLUSTER
/// SLOTS says), for what needs one node: MULTI/EXEC in `redis-cluster`
/// mode. In `proxy` mode any node would do.
fn coordinator_conn(cluster: &FaultCluster, key: &str) -> redis::Connection {
    let mut any = try_conn(cluster.node(0).port).expect("connect");
    try_conn(coordinator_port(&mut any, key)).expect("connect to the coordinator")
}

fn transaction(cluster: &FaultCluster) -> Value {
    let mut conn = coordinator_conn(cluster, "{tx}");
    redis::pipe()
        .atomic()
        .cmd("SET")
        .arg("{tx}a")
        .arg("1")
        .cmd("INCRBY")
        .arg("{tx}b")
        .arg("5")
        .cmd("RPUSH")
        .arg("{tx}l")
        .arg("x")
        .arg("y")
        .cmd("HSET")
        .arg("{tx}h")
        .arg("f")
        .arg("v")
        .cmd("DEL")
        .arg("{tx}a")
        .query(&mut conn)
        .expect("MULTI/EXEC")
}

/// Kills each node in turn; through the nodes left, every read must answer
/// as before. Each killed node restarts empty and catches up before the
/// next one goes.
fn rotate(test: &str, mode: Mode, cluster: &mut FaultCluster, reads: &[(&str, Read)], want: &[Value]) {
    let only: Vec<Read> = reads.iter().map(|(_, r)| Read { cmd: r.cmd.clone(), cmp: r.cmp }).collect();
    for down in 0..cluster.nodes.len() {
        let began = Instant::now();
        cluster.kill(down);
        let left: Vec<u16> = (0..cluster.nodes.len()).filter(|&i| i != down).map(|i| cluster.node(i).port).collect();
        let got = Client::new(mode, &left).read(&only);
        for ((got, want), (family, r)) in got.iter().zip(want).zip(reads) {
            assert_eq!(got, want, "{test}: node {down} down: {family}: {:?}", r.cmd);
        }
        eprintln!(
            "{test}: node {down} down: {} reads answered as before in {:.2} s",
            want.len(),
            began.elapsed().as_secs_f64()
        );
        cluster.restart(down);
        let took = cluster.wait_converged(Duration::from_secs(30));
        eprintln!("{test}: node {down} restarted empty, caught up in {:.2} s", took.as_secs_f64());
    }
}

fn every_family_survives_the_loss_of_each_node(mode: Mode) {
    let test = format!("{mode:?}");
    let mut cluster = FaultCluster::start(3, &mode.args());
    let mut client = Client::new(mode, &cluster.ports());
    let families = families();
    for family in &families {
        for w in &family.writes {
            // The cluster client refuses to route a few multi-key commands
            // (BITOP): those go to their keys' coordinator.
            if mode == Mode::RedisCluster && UNROUTED.contains(&w[0]) {
                query(&mut coordinator_conn(&cluster, w[2]), w);
            } else {
                client.query(w);
            }
        }
    }
    let tx = transaction(&cluster);
    assert_eq!(
        tx,
        Value::Array(vec![Value::Okay, Value::Int(5), Value::Int(2), Value::Int(1), Value::Int(1)]),
        "{test}: EXEC"
    );
    // Expiry is an absolute time: a key that expired on its coordinator
    // must not come back from a replica, nor one about to expire live on.
    client.query(&["SET", "e:short", "v", "PX", "300"]);
    client.query(&["SET", "e:long", "v", "EX", "1000"]);
    let mut reads: Vec<(&str, Read)> =
        families.into_iter().flat_map(|f| f.reads.into_iter().map(move |r| (f.name, r))).collect();
    reads.extend([
        ("transactions", read(&["MGET", "{tx}a", "{tx}b"])),
        ("transactions", read(&["LRANGE", "{tx}l", "0", "-1"])),
        ("transactions", read(&["HGET", "{tx}h", "f"])),
        ("expiry", read_as(&["TTL", "e:long"], Cmp::TtlAtMost(1000))),
        ("expiry", read(&["EXISTS", "e:short"])),
    ]);
    thread::sleep(Duration::from_millis(400));
    let only: Vec<Read> = reads.iter().map(|(_, r)| Read { cmd: r.cmd.clone(), cmp: r.cmp }).collect();
    let want = client.read(&only);
    assert_eq!(want.last(), Some(&Value::Int(0)), "{test}: e:short did not expire");
    drop(client);
    let took = cluster.wait_converged(Duration::from_secs(30));
    eprintln!("{test}: {} reads recorded; owners converged in {:.2} s", want.len(), took.as_secs_f64());
    rotate(&test, mode, &mut cluster, &reads, &want);
}

#[test]
fn every_family_replicates_through_a_proxy_node() {
    every_family_survives_the_loss_of_each_node(Mode::Proxy);
}

#[test]
fn every_family_replicates_through_the_cluster_client() {
    every_family_survives_the_loss_of_each_node(Mode::RedisCluster);
}

/// Eviction is one owner's own decision: keys it evicts stay on the other
/// owners (and are read from them once it is gone), and a key deleted
/// before is not brought back by anyone.
#[test]
fn eviction_on_one_owner_deletes_nothing_elsewhere_and_resurrects_nothing() {
    const KEYS: usize = 2000;
    let value = "v".repeat(1000);
    let mut cluster = FaultCluster::start(3, ARGS);
    let mut conn = try_conn(cluster.node(1).port).expect("connect");
    for chunk in (0..KEYS).collect::<Vec<_>>().chunks(100) {
        let mut pipe = redis::pipe();
        for k in chunk {
            pipe.cmd("SET").arg(format!("ev:{k}")).arg(&value).ignore();
        }
        let () = pipe.query(&mut conn).expect("SET");
    }
    let deleted: Vec<String> = (0..KEYS).step_by(10).map(|k| format!("ev:{k}")).collect();
    for key in &deleted {
        let n: i64 = redis::cmd("DEL").arg(key).query(&mut conn).expect("DEL");
        assert_eq!(n, 1);
    }
    cluster.wait_converged(Duration::from_secs(30));

    // Node 0 alone gets a memory limit well under what it holds, and
    // evicts as the writes below arrive.
    let mut small = try_conn(cluster.node(0).port).expect("connect");
    let used: u64 = info_field(&mut small, "memory", "used_memory").expect("used_memory").parse().unwrap();
    let limit = (used / 2).to_string();
    let _: () =
        redis::cmd("CONFIG").arg("SET").arg("maxmemory-policy").arg("allkeys-random").query(&mut small).unwrap();
    let _: () = redis::cmd("CONFIG").arg("SET").arg("maxmemory").arg(&limit).query(&mut small).unwrap();
    for k in 0..200 {
        let _: () = redis::cmd("SET").arg(format!("ev:new:{k}")).arg(&value).query(&mut conn).expect("SET");
    }
    let evicted: u64 = info_field(&mut small, "stats", "evicted_keys").expect("evicted_keys").parse().unwrap();
    eprintln!("eviction: node 0 used {used} bytes, limit {limit}: {evicted} keys evicted there");
    assert!(evicted > 0, "node 0 evicted nothing");
    // Give anti-entropy a few rounds to do whatever it does with the
    // difference.
    thread::sleep(Duration::from_millis(1000));

    cluster.kill(0);
    let ports = [cluster.node(1).port, cluster.node(2).port];
    let mut client = Client::new(Mode::Proxy, &ports);
    let live: Vec<String> = (0..KEYS).filter(|k| k % 10 != 0).map(|k| format!("ev:{k}")).collect();
    for chunk in live.chunks(500) {
        let mut cmd = vec!["MGET"];
        cmd.extend(chunk.iter().map(String::as_str));
        let Value::Array(values) = client.query(&cmd) else { panic!("MGET: not an array") };
        let missing = values.iter().filter(|v| **v == Value::Nil).count();
        assert_eq!(missing, 0, "keys evicted on node 0 are gone from the others too");
    }
    for chunk in deleted.chunks(100) {
        let mut cmd = vec!["EXISTS"];
        cmd.extend(chunk.iter().map(String::as_str));
        assert_eq!(client.query(&cmd), Value::Int(0), "a deleted key came back");
    }
    eprintln!(
        "eviction: {} keys read back from the other owners, {} deleted keys stayed deleted",
        live.len(),
        deleted.len()
    );
}

/// maxmemory holds on an owner whose own clients write nothing: the other
/// owners' writes, replicated to it, evict there as its clients' writes
/// would (before, it grew past the limit by everything the others wrote,
/// until one of its own clients ran a command). The others keep every key.
///
/// Any command on node 0, INFO too, evicts first (as in Redis), so what
/// replication alone does is seen from a subscriber to node 0's `evicted`
/// events, which sends no command while the writes run: before, it got
/// none.
#[test]
fn an_owner_that_only_receives_replicated_writes_stays_within_maxmemory() {
    const KEYS: usize = 15_000;
    let value = "v".repeat(1000);
    let args = [ARGS, &["--cluster-mode", "redis-cluster"]].concat();
    let cluster = FaultCluster::start(3, &args);
    let mut small = try_conn(cluster.node(0).port).expect("connect");
    for (name, v) in [("maxmemory-policy", "allkeys-lru"), ("maxmemory", "2000000"), ("notify-keyspace-events", "Ee")] {
        let _: () = redis::cmd("CONFIG").arg("SET").arg(name).arg(v).query(&mut small).unwrap();
    }
    let mut sub = try_conn(cluster.node(0).port).expect("connect");
    sub.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut events = sub.as_pubsub();
    events.subscribe("__keyevent@0__:evicted").unwrap();
    // 15 MB of keys node 1 coordinates, written there, against node 0's
    // 2 MB: node 0 runs none of them, it only holds their copies.
    let mut conn = try_conn(cluster.node(1).port).expect("connect");
    let tag = (0..)
        .map(|i| format!("{{mm{i}}}"))
        .find(|t| coordinator_port(&mut conn, t) == cluster.node(1).port)
        .expect("node 1 coordinates some slot");
    let keys: Vec<String> = (0..KEYS).map(|i| format!("{tag}:{i}")).collect();
    // A loaded machine may fail a write (-NOREPLICAS, a timeout): what
    // was acknowledged is checked below.
    let mut acked: Vec<&String> = Vec::new();
    let mut failed = 0;
    for chunk in keys.chunks(200) {
        let mut pipe = redis::pipe();
        for k in chunk {
            pipe.cmd("SET").arg(k).arg(&value).ignore();
        }
        match pipe.query::<()>(&mut conn) {
            Ok(()) => acked.extend(chunk),
            Err(e) => {
                failed += 1;
                eprintln!("replicated eviction: a pipeline of 200 SETs failed: {e}");
                conn = try_conn(cluster.node(1).port).expect("connect");
            }
        }
    }
    assert!(acked.len() >= KEYS * 3 / 4, "too few writes acknowledged: {} ({failed} pipelines failed)", acked.len());
    // 15 MB in 2 MB: most keys were evicted on node 0, by replication.
    let want = acked.len() / 2;
    let mut evicted = 0;
    while evicted < want {
        match events.get_message() {
            Ok(_) => evicted += 1,
            Err(e) => panic!("node 0 told {evicted} evictions, then nothing for 5 s ({e}); {want} expected"),
        }
    }
    eprintln!("replicated eviction: node 0 evicted at least {evicted} of {} keys written elsewhere", acked.len());
    // Their coordinator, which has no limit, holds every acknowledged one.
    for chunk in acked.chunks(500) {
        let n: usize = redis::cmd("EXISTS").arg(chunk).query(&mut conn).expect("EXISTS");
        assert_eq!(n, chunk.len(), "an acknowledged key is gone from its coordinator");
    }
}

/// INFO replication's `name` on the node at `conn`, as a number.
fn replication_count(conn: &mut redis::Connection, name: &str) -> u64 {
    info_field(conn, "replication", name).unwrap_or_else(|| panic!("INFO replication has no {name}")).parse().unwrap()
}

#[test]
fn a_small_change_to_a_big_collection_ships_as_a_delta() {
    use common::cluster::TestCluster;
    let c = TestCluster::start(3, &["--cluster-mode", "redis-cluster", "--cluster-timeout", "2000"]);
    // Over the size from which a change ships as a delta
    // (`ringcache_commands::DELTA_ELEMENTS_MIN`, 128).
    let elements = 200;
    // Each big collection made whole (a new key ships whole), then changed
    // a little, by every command that makes a delta.
    let fill = |cmd: &str, key: &str, pairs: bool| {
        let mut args = vec![cmd.to_owned(), key.to_owned()];
        for i in 0..elements {
            args.push(format!("e{i}"));
            if pairs {
                args.push(format!("v{i}"));
            }
        }
        args
    };
    let owned = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mut zadd = vec!["ZADD".to_owned(), "big:zset".to_owned()];
    for i in 0..elements {
        zadd.extend([i.to_string(), format!("e{i}")]);
    }
    let writes: Vec<Vec<String>> =
        vec![fill("RPUSH", "big:list", false), fill("HSET", "big:hash", true), fill("SADD", "big:set", false), zadd];
    let changes: Vec<Vec<String>> = vec![
        owned(&["LPUSH", "big:list", "head1", "head2"]),
        owned(&["RPUSH", "big:list", "tail"]),
        owned(&["LPUSHX", "big:list", "head3"]),
        owned(&["HSET", "big:hash", "new", "field", "e1", "changed"]),
        owned(&["HDEL", "big:hash", "e2", "e3"]),
        owned(&["SADD", "big:set", "new"]),
        owned(&["SREM", "big:set", "e4"]),
        owned(&["ZADD", "big:zset", "1.5", "new", "-3", "e1"]),
        owned(&["ZADD", "big:zset", "XX", "GT", "CH", "500", "e5", "0", "e6"]),
        owned(&["ZINCRBY", "big:zset", "2.5", "e7"]),
        owned(&["ZADD", "big:zset", "INCR", "-inf", "e8"]),
        owned(&["ZREM", "big:zset", "e9", "e10", "absent"]),
        // An id made of the coordinator's clock, an approximate trim that
        // keeps whole nodes, and an exact one.
        owned(&["XADD", "big:stream", "*", "f", "v"]),
        owned(&["XADD", "big:stream", "MAXLEN", "~", "150", "*", "f", "v"]),
        owned(&["XADD", "big:stream", "MAXLEN", "=", "190", "*", "f", "v"]),
    ];
    let run = |args: &[String]| {
        let mut conn =
            redis::Client::open(format!("redis://127.0.0.1:{}/", coordinator_port(&mut c.node(0).conn(), &args[1])))
                .unwrap()
                .get_connection()
                .unwrap();
        let mut cmd = redis::cmd(&args[0]);
        for a in &args[1..] {
            cmd.arg(a);
        }
        let _: Value = cmd.query(&mut conn).unwrap_or_else(|e| panic!("{args:?}: {e}"));
    };
    let count = |name: &str| -> u64 { (0..3).map(|i| replication_count(&mut c.node(i).conn(), name)).sum() };
    writes.iter().for_each(|w| run(w));
    // A stream grows one XADD at a time, pipelined to its coordinator
    // (those past the size ship as deltas already, before the changes
    // below are counted).
    let mut pipe = redis::pipe();
    for i in 0..elements {
        pipe.cmd("XADD").arg("big:stream").arg(format!("{}-1", i + 1)).arg("n").arg(i).ignore();
    }
    let port = coordinator_port(&mut c.node(0).conn(), "big:stream");
    let mut conn = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap().get_connection().unwrap();
    let _: () = pipe.query(&mut conn).expect("the stream's XADDs");
    let sent_before = count("deltas_sent");
    changes.iter().for_each(|w| run(w));
    assert_eq!(count("deltas_sent") - sent_before, changes.len() as u64, "each change went as a delta");
    // Both other owners of each key apply each delta on its base.
    let want = 2 * changes.len() as u64;
    let deadline = Instant::now() + Duration::from_secs(20);
    while count("deltas_applied") < want {
        assert!(Instant::now() < deadline, "deltas applied: {} of {want}", count("deltas_applied"));
        thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(count("deltas_need_full"), 0, "every owner held each delta's base");
    // And every owner holds the same collections (READONLY reads its own
    // copy).
    let reads: [(&[&str], Cmp); 6] = [
        (&["LRANGE", "big:list", "0", "-1"], Cmp::Exact),
        (&["HGETALL", "big:hash"], Cmp::Pairs),
        (&["SMEMBERS", "big:set"], Cmp::Unordered),
        (&["ZRANGE", "big:zset", "0", "-1", "WITHSCORES"], Cmp::Exact),
        (&["XRANGE", "big:stream", "-", "+"], Cmp::Exact),
        (&["XINFO", "STREAM", "big:stream"], Cmp::Exact),
    ];
    let copies: Vec<Vec<Value>> = (0..3)
        .map(|i| {
            let mut conn = c.node(i).conn();
            let _: () = redis::cmd("READONLY").query(&mut conn).unwrap();
            reads.iter().map(|(cmd, cmp)| normalize(query(&mut conn, cmd), *cmp)).collect()
        })
        .collect();
    assert_eq!(copies[0], copies[1]);
    assert_eq!(copies[0], copies[2]);
    let Value::Array(list) = &copies[0][0] else { panic!("LRANGE: {:?}", copies[0][0]) };
    assert_eq!(list.len(), elements + 4);
    assert_eq!(list[0], Value::BulkString(b"head3".to_vec()));
    // The sorted set's changes, as the coordinator made them: e8 first at
    // -inf, then e1 at -3, e5 moved to 500 (GT let it), e6 kept (0 is not
    // greater), e7 at 9.5, e9 and e10 gone, one new member.
    let Value::Array(zset) = &copies[0][3] else { panic!("ZRANGE: {:?}", copies[0][3]) };
    assert_eq!(zset.len(), 2 * (elements + 1 - 2));
    let text = |v: &Value| match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        other => panic!("ZRANGE item: {other:?}"),
    };
    let scores: std::collections::HashMap<String, String> =
        zset.chunks(2).map(|p| (text(&p[0]), text(&p[1]))).collect();
    assert_eq!(text(&zset[0]), "e8");
    let score = |m: &str| scores.get(m).map(String::as_str);
    assert_eq!((score("e8"), score("e1"), score("new")), (Some("-inf"), Some("-3"), Some("1.5")));
    assert_eq!((score("e5"), score("e6"), score("e7")), (Some("500"), Some("6"), Some("9.5")));
    assert_eq!((score("e9"), score("e10")), (None, None));
    let Value::Array(stream) = &copies[0][4] else { panic!("XRANGE: {:?}", copies[0][4]) };
    assert_eq!(stream.len(), 190, "the exact trim's length, on every owner");

    // An owner paused through a few deltas gets them when it resumes, by
    // retry: on their bases in order, or, one that finds another value
    // there, whole. Either way every copy ends the same.
    let coordinator = coordinator_port(&mut c.node(0).conn(), "big:list");
    let paused = (0..3).find(|&i| c.node(i).port != coordinator).unwrap();
    assert!(c.node(paused).signal("STOP"));
    for i in 0..5 {
        run(&owned(&["RPUSH", "big:list", &format!("while-paused-{i}")]));
    }
    assert!(c.node(paused).signal("CONT"));
    let local_list = |i: usize| {
        let mut conn = c.node(i).conn();
        let _: () = redis::cmd("READONLY").query(&mut conn).unwrap();
        query(&mut conn, &["LRANGE", "big:list", "0", "-1"])
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while (0..3).any(|i| local_list(i) != local_list((i + 1) % 3)) {
        assert!(Instant::now() < deadline, "the paused owner's list never caught up");
        thread::sleep(Duration::from_millis(100));
    }
    let Value::Array(list) = local_list(paused) else { panic!("LRANGE") };
    assert_eq!(list.len(), elements + 4 + 5);
    eprintln!(
        "deltas: {} sent, {} applied, {} answered need-full; {} elements a collection",
        count("deltas_sent"),
        count("deltas_applied"),
        count("deltas_need_full"),
        elements
    );
}
