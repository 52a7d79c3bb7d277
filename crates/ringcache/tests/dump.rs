//! DUMP/RESTORE, OBJECT and MEMORY USAGE against a real node with the
//! `redis` crate: payloads round-trip through ringcache, move to and from a
//! side-by-side redis-server (when one is installed), carry Redis's
//! errors; RESTORE replicates through a three-node cluster.

mod common;

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::cluster::TestCluster;
use common::{array, err, free_port, int, run, strings, Server};
use redis::Value;

fn dump(c: &mut redis::Connection, key: &str) -> Vec<u8> {
    match run(c, &["DUMP", key]) {
        Value::BulkString(b) => b,
        v => panic!("DUMP {key}: {v:?}"),
    }
}

fn restore(c: &mut redis::Connection, key: &str, ttl: u64, payload: &[u8], extra: &[&str]) -> redis::RedisResult<()> {
    redis::cmd("RESTORE").arg(key).arg(ttl).arg(payload).arg(extra).query(c)
}

/// One value of every type, as commands that build it.
fn fill(c: &mut redis::Connection) {
    let _: () = run(c, &["SET", "s", "hello"]);
    let _: () = run(c, &["SET", "n", "-12345"]);
    let _: () = run(c, &["SET", "big", &"abc".repeat(1000)]);
    let _: () = run(c, &["RPUSH", "l", "a", "12", "-70000", "x"]);
    let _: () = run(c, &["SADD", "si", "1", "2", "3"]);
    let _: () = run(c, &["SADD", "ss", "a", "b"]);
    let _: () = run(c, &["HSET", "h", "f", "v", "n", "100"]);
    let _: () = run(c, &["ZADD", "z", "1.5", "m", "2", "n", "-inf", "low"]);
}

/// What each value of [`fill`] reads as.
fn read_all(c: &mut redis::Connection, suffix: &str) -> Vec<Vec<String>> {
    let k = |k: &str| format!("{k}{suffix}");
    fn sorted(c: &mut redis::Connection, args: &[&str]) -> Vec<String> {
        let mut v = array(c, args);
        v.sort();
        v
    }
    vec![
        vec![run(c, &["GET", &k("s")])],
        vec![run(c, &["GET", &k("n")])],
        vec![run(c, &["GET", &k("big")])],
        array(c, &["LRANGE", &k("l"), "0", "-1"]),
        sorted(c, &["SMEMBERS", &k("si")]),
        sorted(c, &["SMEMBERS", &k("ss")]),
        sorted(c, &["HGETALL", &k("h")]),
        array(c, &["ZRANGE", &k("z"), "0", "-1", "WITHSCORES"]),
    ]
}

const KEYS: [&str; 8] = ["s", "n", "big", "l", "si", "ss", "h", "z"];

#[test]
fn dump_and_restore_round_trip_with_redis_s_options_and_errors() {
    let server = Server::start();
    let mut c = server.conn();
    fill(&mut c);
    for k in KEYS {
        let p = dump(&mut c, k);
        restore(&mut c, &format!("{k}2"), 0, &p, &[]).unwrap();
    }
    assert_eq!(read_all(&mut c, "2"), read_all(&mut c, ""));

    let p = dump(&mut c, "s");
    assert_eq!(run::<Value>(&mut c, &["DUMP", "nosuch"]), Value::Nil);
    let e = restore(&mut c, "s", 0, &p, &[]).unwrap_err();
    assert_eq!((e.code(), e.detail()), (Some("BUSYKEY"), Some("Target key name already exists.")));
    let n = dump(&mut c, "n");
    restore(&mut c, "s", 0, &n, &["REPLACE"]).unwrap();
    assert_eq!(run::<String>(&mut c, &["GET", "s"]), "-12345");

    // TTLs: relative, absolute, and already past (nothing is created).
    restore(&mut c, "t", 5000, &p, &[]).unwrap();
    let pttl = int(&mut c, &["PTTL", "t"]);
    assert!((4000..=5000).contains(&pttl), "{pttl}");
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    restore(&mut c, "abs", now_ms + 60_000, &p, &["ABSTTL"]).unwrap();
    assert!(int(&mut c, &["PTTL", "abs"]) > 50_000);
    restore(&mut c, "abs", now_ms - 1000, &p, &["ABSTTL", "REPLACE"]).unwrap();
    assert_eq!(int(&mut c, &["EXISTS", "abs"]), 0, "a past ABSTTL with REPLACE deletes");

    // IDLETIME, then FREQ under an LFU policy.
    restore(&mut c, "idle", 0, &p, &["IDLETIME", "1000"]).unwrap();
    assert!(int(&mut c, &["OBJECT", "IDLETIME", "idle"]) >= 1000);
    let _: () = run(&mut c, &["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"]);
    restore(&mut c, "freq", 0, &p, &["FREQ", "100"]).unwrap();
    assert_eq!(int(&mut c, &["OBJECT", "FREQ", "freq"]), 100);
    assert!(err(&mut c, &["OBJECT", "IDLETIME", "freq"]).starts_with("ERR An LFU maxmemory policy is selected"));
    let _: () = run(&mut c, &["CONFIG", "SET", "maxmemory-policy", "noeviction"]);
    assert!(err(&mut c, &["OBJECT", "FREQ", "freq"]).starts_with("ERR An LFU maxmemory policy is not selected"));

    // Redis's errors.
    let mut bad = p.clone();
    bad[1] ^= 0x55;
    let e = restore(&mut c, "x", 0, &bad, &[]).unwrap_err();
    assert_eq!(e.detail(), Some("DUMP payload version or checksum are wrong"));
    assert_eq!(err(&mut c, &["RESTORE", "x", "-1", "p"]), "ERR Invalid TTL value, must be >= 0");
    assert_eq!(err(&mut c, &["RESTORE", "x", "0", "p", "IDLETIME", "-1"]), "ERR Invalid IDLETIME value, must be >= 0");
    assert_eq!(err(&mut c, &["RESTORE", "x", "0", "p", "BOGUS"]), "ERR syntax error");
    // A well-framed payload of an unknown type.
    let mut unknown = vec![200u8, 0];
    unknown.extend_from_slice(&10u16.to_le_bytes());
    let crc = crc64(&unknown);
    unknown.extend_from_slice(&crc.to_le_bytes());
    let e = restore(&mut c, "x", 0, &unknown, &[]).unwrap_err();
    assert_eq!(e.detail(), Some("Bad data format"));
}

/// Redis's CRC64 (Jones, reflected), to frame test payloads.
fn crc64(data: &[u8]) -> u64 {
    let mut crc = 0u64;
    for &b in data {
        crc ^= u64::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0x95ac_9329_ac4b_c9b5 } else { crc >> 1 };
        }
    }
    crc
}

#[test]
fn object_and_memory_usage() {
    let server = Server::start();
    let mut c = server.conn();
    fill(&mut c);
    let enc = |c: &mut redis::Connection, k: &str| run::<String>(c, &["OBJECT", "ENCODING", k]);
    for (k, want) in [
        ("s", "embstr"),
        ("n", "int"),
        ("big", "raw"),
        ("l", "listpack"),
        ("si", "intset"),
        ("ss", "listpack"),
        ("h", "listpack"),
        ("z", "listpack"),
    ] {
        assert_eq!(enc(&mut c, k), want, "{k}");
    }
    // The limits follow Redis's parameters.
    let _: () = run(&mut c, &["CONFIG", "SET", "hash-max-listpack-entries", "1"]);
    assert_eq!(enc(&mut c, "h"), "hashtable");
    assert_eq!(run::<Value>(&mut c, &["OBJECT", "ENCODING", "nosuch"]), Value::Nil);
    assert_eq!(int(&mut c, &["OBJECT", "REFCOUNT", "s"]), 1);
    assert_eq!(err(&mut c, &["OBJECT", "NOPE", "s"]), "ERR unknown subcommand 'NOPE'. Try OBJECT HELP.");
    assert!(run::<Vec<String>>(&mut c, &["OBJECT", "HELP"])[0].starts_with("OBJECT <subcommand>"));

    let small = int(&mut c, &["MEMORY", "USAGE", "s"]);
    let big = int(&mut c, &["MEMORY", "USAGE", "big", "SAMPLES", "0"]);
    assert!(small > 5 && big > 3000 && big > small, "{small} {big}");
    assert_eq!(run::<Value>(&mut c, &["MEMORY", "USAGE", "nosuch"]), Value::Nil);
    assert_eq!(err(&mut c, &["MEMORY", "USAGE", "s", "SAMPLES", "-1"]), "ERR syntax error");
}

/// A redis-server on a free port, killed by pid on drop; `None` when none
/// is installed (CI installs only redis-tools).
struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    fn start() -> Option<RedisServer> {
        let port = free_port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--save", "", "--appendonly", "no", "--bind", "127.0.0.1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let server = RedisServer { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start on {port}");
            thread::sleep(Duration::from_millis(20));
        }
        Some(server)
    }

    fn conn(&self) -> redis::Connection {
        redis::Client::open(format!("redis://127.0.0.1:{}", self.port)).unwrap().get_connection().unwrap()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn payloads_move_between_redis_server_and_ringcache() {
    let Some(redis) = RedisServer::start() else {
        eprintln!("redis-server is not installed: skipping the side-by-side check");
        return;
    };
    let server = Server::start();
    let (mut r, mut c) = (redis.conn(), server.conn());
    fill(&mut r);
    fill(&mut c);
    // redis-server's compact encodings (listpacks, intsets, quicklists,
    // LZF) into ringcache, and ringcache's payloads into redis-server.
    for k in KEYS {
        let from_redis = dump(&mut r, k);
        restore(&mut c, &format!("{k}:r"), 0, &from_redis, &[]).unwrap_or_else(|e| panic!("{k}: {e}"));
        let from_ringcache = dump(&mut c, k);
        restore(&mut r, &format!("{k}:c"), 0, &from_ringcache, &[]).unwrap_or_else(|e| panic!("{k}: {e}"));
    }
    let want = read_all(&mut c, "");
    assert_eq!(read_all(&mut c, ":r"), want);
    assert_eq!(read_all(&mut r, ":c"), want);
    // A payload ringcache writes is byte for byte redis-server's for a
    // plain string.
    assert_eq!(dump(&mut c, "s"), dump(&mut r, "s"));
    // A bigger list and hash: quicklists and hashtables.
    let items: Vec<String> = (0..2000).map(|i| format!("item-{i}")).collect();
    let mut push = vec!["RPUSH", "biglist"];
    push.extend(items.iter().map(String::as_str));
    let _: () = run(&mut r, &push);
    let p = dump(&mut r, "biglist");
    restore(&mut c, "biglist", 0, &p, &[]).unwrap();
    assert_eq!(array(&mut c, &["LRANGE", "biglist", "0", "-1"]), items);
}

#[test]
fn restore_through_a_replicated_cluster() {
    let mut cluster = TestCluster::start(3, &["--cluster-mode", "redis-cluster", "--cluster-timeout", "1000"]);
    let mut c = cluster.node(0).conn();
    let _: () = run(&mut c, &["RPUSH", "src", "a", "b", "c"]);
    let p = dump(&mut c, "src");
    restore(&mut c, "copy", 0, &p, &[]).unwrap();
    assert_eq!(array(&mut c, &["LRANGE", "copy", "0", "-1"]), strings(&["a", "b", "c"]));

    // The coordinator of `copy` dies: another owner has the restored value.
    let slot = int(&mut c, &["CLUSTER", "KEYSLOT", "copy"]);
    let Value::Array(ranges) = run(&mut c, &["CLUSTER", "SLOTS"]) else { panic!("CLUSTER SLOTS") };
    let victim = ranges
        .iter()
        .find_map(|r| {
            let Value::Array(r) = r else { return None };
            let (Value::Int(a), Value::Int(b)) = (&r[0], &r[1]) else { return None };
            let Value::Array(node) = &r[2] else { return None };
            (*a..=*b).contains(&slot).then(|| common::text(&node[2]))
        })
        .and_then(|id| cluster.ids.iter().position(|i| *i == id))
        .expect("the slot's coordinator");
    drop(c);
    cluster.nodes[victim].kill();
    let via = (victim + 1) % 3;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got: Option<Vec<String>> = cluster
            .node(via)
            .client()
            .get_connection()
            .ok()
            .and_then(|mut c| redis::cmd("LRANGE").arg("copy").arg(0).arg(-1).query(&mut c).ok());
        if got.as_deref() == Some(&strings(&["a", "b", "c"])[..]) {
            break;
        }
        assert!(Instant::now() < deadline, "restored value not found through node {via}: {got:?}");
        thread::sleep(Duration::from_millis(100));
    }
}
