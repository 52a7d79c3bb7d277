//! HyperLogLog commands through a real node with the `redis` crate: the
//! replies and error texts of Redis 7.2, the value as a plain string in
//! Redis's own representation (checked byte for byte against a
//! `redis-server` run beside it when one is installed), the
//! `hll-sparse-max-bytes` option, and a three-node replicated cluster:
//! CROSSSLOT for keys in different slots, and an HLL that outlives a
//! `kill -9` of its coordinator.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::cluster::TestCluster;
use common::reference::Reference;
use common::{arity, err, int, run, Server, WRONGTYPE};
use redis::Connection;

const NOT_HLL: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";
const CORRUPT: &str = "INVALIDOBJ Corrupted HLL object detected";
const CROSSSLOT: &str = "CROSSSLOT Keys in request don't hash to the same slot";

fn bytes(c: &mut Connection, key: &str) -> Vec<u8> {
    run(c, &["GET", key])
}

fn pfadd(c: &mut Connection, key: &str, elements: impl Iterator<Item = String>) -> i64 {
    let mut cmd = redis::cmd("PFADD");
    cmd.arg(key);
    for e in elements {
        cmd.arg(e);
    }
    cmd.query(c).expect("PFADD")
}

#[test]
fn pfadd_pfcount_pfmerge_like_redis() {
    let server = Server::start();
    let mut c = server.conn();
    assert_eq!(int(&mut c, &["PFADD", "hll"]), 1, "a new key is an update");
    assert_eq!(int(&mut c, &["EXISTS", "hll"]), 1);
    assert_eq!(int(&mut c, &["PFCOUNT", "hll"]), 0);
    assert_eq!(int(&mut c, &["PFADD", "hll", "a", "b", "c"]), 1);
    assert_eq!(int(&mut c, &["PFADD", "hll", "a", "b", "c"]), 0);
    assert_eq!(int(&mut c, &["PFCOUNT", "hll"]), 3);
    assert_eq!(int(&mut c, &["PFADD", "h2", "c", "d", "e"]), 1);
    assert_eq!(int(&mut c, &["PFCOUNT", "hll", "h2", "missing"]), 5);
    let ok: String = run(&mut c, &["PFMERGE", "u", "hll", "h2"]);
    assert_eq!(ok, "OK");
    assert_eq!(int(&mut c, &["PFCOUNT", "u"]), 5);
    assert_eq!(run::<String>(&mut c, &["TYPE", "u"]), "string");

    assert_eq!(err(&mut c, &["PFADD"]), arity("pfadd"));
    assert_eq!(err(&mut c, &["PFCOUNT"]), arity("pfcount"));
    let _: () = run(&mut c, &["SET", "s", "just a string"]);
    assert_eq!(err(&mut c, &["PFADD", "s", "x"]), NOT_HLL);
    assert_eq!(err(&mut c, &["PFMERGE", "u", "s"]), NOT_HLL);
    assert_eq!(int(&mut c, &["RPUSH", "l", "x"]), 1);
    assert_eq!(err(&mut c, &["PFCOUNT", "l"]), WRONGTYPE);

    // Redis's corruption tests: a tail after the registers, a broken
    // magic, an unknown encoding, a "dense" HLL of the sparse length.
    // (Each after a PFADD, whose stale cache makes PFCOUNT read the
    // registers: a valid cache would be answered as it is, as in Redis.)
    let _: i64 = run(&mut c, &["DEL", "hll"]);
    let _: i64 = run(&mut c, &["PFADD", "hll", "a", "b", "c"]);
    let _: i64 = run(&mut c, &["APPEND", "hll", "hello"]);
    assert_eq!(err(&mut c, &["PFCOUNT", "hll"]), CORRUPT);
    for (offset, bytes) in [("0", "0123"), ("4", "x"), ("4", "\x00")] {
        let _: i64 = run(&mut c, &["DEL", "hll"]);
        let _: i64 = run(&mut c, &["PFADD", "hll", "a", "b", "c"]);
        let _: i64 = run(&mut c, &["SETRANGE", "hll", offset, bytes]);
        assert_eq!(err(&mut c, &["PFCOUNT", "hll"]), NOT_HLL, "SETRANGE {offset} {bytes:?}");
    }
}

#[test]
fn the_cached_cardinality_lives_in_the_header() {
    let server = Server::start();
    let mut c = server.conn();
    let _: i64 = run(&mut c, &["PFADD", "hll", "a", "b", "c"]);
    let _: i64 = run(&mut c, &["PFCOUNT", "hll"]);
    assert_eq!(run::<Vec<u8>>(&mut c, &["GETRANGE", "hll", "15", "15"]), b"\x00");
    let _: i64 = run(&mut c, &["PFADD", "hll", "a", "b", "c"]);
    assert_eq!(run::<Vec<u8>>(&mut c, &["GETRANGE", "hll", "15", "15"]), b"\x00");
    let _: i64 = run(&mut c, &["PFADD", "hll", "1", "2", "3"]);
    assert_eq!(run::<Vec<u8>>(&mut c, &["GETRANGE", "hll", "15", "15"]), b"\x80");
}

#[test]
fn hll_sparse_max_bytes_is_a_config_option() {
    let server = Server::start();
    let mut c = server.conn();
    let got: Vec<String> = run(&mut c, &["CONFIG", "GET", "hll-sparse-max-bytes"]);
    assert_eq!(got, ["hll-sparse-max-bytes", "3000"]);
    let _: i64 = run(&mut c, &["PFADD", "hll", "a", "b", "c", "d", "e", "d", "g", "h", "i", "j", "k"]);
    assert_eq!(run::<Vec<u8>>(&mut c, &["GETRANGE", "hll", "4", "4"]), b"\x01", "sparse");
    let _: String = run(&mut c, &["CONFIG", "SET", "hll-sparse-max-bytes", "30"]);
    let _: i64 = run(&mut c, &["PFADD", "hll", "new_element"]);
    assert_eq!(run::<Vec<u8>>(&mut c, &["GETRANGE", "hll", "4", "4"]), b"\x00", "dense");
    assert_eq!(run::<i64>(&mut c, &["STRLEN", "hll"]), 12304);
    // Redis's own loop: for each limit, sparse while it is within it.
    for max in [100, 500, 3000] {
        let _: String = run(&mut c, &["CONFIG", "SET", "hll-sparse-max-bytes", &max.to_string()]);
        let _: i64 = run(&mut c, &["DEL", "h"]);
        let _: i64 = run(&mut c, &["PFADD", "h"]);
        let mut n = 0;
        while run::<i64>(&mut c, &["STRLEN", "h"]) <= max {
            assert_eq!(run::<Vec<u8>>(&mut c, &["GETRANGE", "h", "4", "4"]), b"\x01", "sparse at limit {max}");
            pfadd(&mut c, "h", (n..n + 10).map(|i| format!("e{i}")));
            n += 10;
        }
        assert_eq!(run::<Vec<u8>>(&mut c, &["GETRANGE", "h", "4", "4"]), b"\x00", "dense past limit {max}");
    }
}

/// Redis's error bound: the standard error is 1.04/sqrt(16384) = 0.81 %;
/// every checkpoint stays within three of them.
#[test]
fn counts_of_up_to_a_million_stay_within_redis_error_bound() {
    let server = Server::start();
    let mut c = server.conn();
    let sigma = 1.04 / 128.0;
    let mut n = 0u64;
    for checkpoint in [1_000u64, 10_000, 100_000, 1_000_000] {
        while n < checkpoint {
            let batch = (checkpoint - n).min(10_000);
            pfadd(&mut c, "big", (n..n + batch).map(|i| format!("user:{i}")));
            n += batch;
        }
        let est = int(&mut c, &["PFCOUNT", "big"]) as f64;
        let err = (est - n as f64).abs() / n as f64;
        eprintln!("{n} distinct elements: PFCOUNT {est}, error {:.3} %", err * 100.0);
        assert!(err < 3.0 * sigma, "{n}: {est}");
    }
}

/// The same PFADDs make the same bytes as in redis-server; bytes made by
/// either count the same in the other after a SET.
#[test]
fn values_match_redis_server_byte_for_byte() {
    let Some(reference) = Reference::start() else { return };
    eprintln!("comparing with redis-server {}", reference.version());
    let server = Server::start();
    let (mut ours, mut theirs) = (server.conn(), reference.conn());
    for (key, n) in [("tiny", 3), ("sparse", 300), ("dense", 50_000)] {
        for c in [&mut ours, &mut theirs] {
            pfadd(c, key, (0..n).map(|i| format!("{key}:{i}")));
        }
        assert_eq!(bytes(&mut ours, key), bytes(&mut theirs, key), "{key} after PFADD");
        let count = int(&mut theirs, &["PFCOUNT", key]);
        assert_eq!(int(&mut ours, &["PFCOUNT", key]), count, "{key}");
        assert_eq!(bytes(&mut ours, key), bytes(&mut theirs, key), "{key} with its cache");

        // Theirs into ours, ours into theirs.
        let (b_theirs, b_ours) = (bytes(&mut theirs, key), bytes(&mut ours, key));
        let _: () = redis::cmd("SET").arg("copy").arg(&b_theirs).query(&mut ours).unwrap();
        let _: () = redis::cmd("SET").arg("copy").arg(&b_ours).query(&mut theirs).unwrap();
        for c in [&mut ours, &mut theirs] {
            let _: () =
                redis::cmd("SETRANGE").arg("copy").arg(15).arg(&[0x80u8][..]).query(c).map(|_: i64| ()).unwrap();
            assert_eq!(int(c, &["PFCOUNT", "copy"]), count, "{key} recounted");
        }
    }
    // Merges too: a sparse and a dense source into a new key.
    for c in [&mut ours, &mut theirs] {
        let _: String = run(c, &["PFMERGE", "merged", "tiny", "sparse", "dense"]);
    }
    assert_eq!(bytes(&mut ours, "merged"), bytes(&mut theirs, "merged"));
    assert_eq!(
        int(&mut ours, &["PFCOUNT", "tiny", "sparse", "dense"]),
        int(&mut theirs, &["PFCOUNT", "tiny", "sparse", "dense"])
    );
}

/// Polls `f` until it gives `Some`, at most `timeout`.
fn eventually<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: not within {timeout:?}");
        thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn through_a_replicated_cluster_and_a_kill_9_of_the_coordinator() {
    let mut cluster = TestCluster::start(3, &["--cluster-mode", "redis-cluster"]);
    let mut c = cluster.node(0).conn();
    pfadd(&mut c, "visitors", (0..5000).map(|i| format!("v{i}")));
    let count = int(&mut c, &["PFCOUNT", "visitors"]);
    assert!((4900..5100).contains(&count), "{count}");
    let value = bytes(&mut c, "visitors");
    for i in 0..3 {
        let mut ci = cluster.node(i).conn();
        assert_eq!(int(&mut ci, &["PFCOUNT", "visitors"]), count, "through node {i}");
        assert_eq!(bytes(&mut ci, "visitors")[16..], value[16..], "the registers through node {i}");
    }

    // Several keys must share a slot, as for any multi-key command.
    pfadd(&mut c, "other", ["x".to_owned()].into_iter());
    assert_eq!(err(&mut c, &["PFCOUNT", "visitors", "other"]), CROSSSLOT);
    assert_eq!(err(&mut c, &["PFMERGE", "visitors", "other"]), CROSSSLOT);
    pfadd(&mut c, "{day}:1", (0..100).map(|i| format!("a{i}")));
    pfadd(&mut c, "{day}:2", (50..150).map(|i| format!("a{i}")));
    let _: String = run(&mut c, &["PFMERGE", "{day}:all", "{day}:1", "{day}:2"]);
    let merged = int(&mut c, &["PFCOUNT", "{day}:all"]);
    assert_eq!(int(&mut c, &["PFCOUNT", "{day}:1", "{day}:2"]), merged);

    // The coordinator of the key dies with what it held; a survivor has it.
    let victim = cluster.coordinator_of("visitors");
    cluster.nodes[victim].kill();
    let survivor = (victim + 1) % 3;
    let mut cs = cluster.node(survivor).conn();
    let got = eventually("PFCOUNT after the kill", Duration::from_secs(20), || {
        redis::cmd("PFCOUNT").arg("visitors").query::<i64>(&mut cs).ok()
    });
    assert_eq!(got, count, "the HLL survived the coordinator's kill -9");
    assert_eq!(bytes(&mut cs, "visitors")[16..], value[16..]);
    // And takes writes again.
    let grown = eventually("PFADD after the kill", Duration::from_secs(20), || {
        redis::cmd("PFADD").arg("visitors").arg("newcomer-1").arg("newcomer-2").query::<i64>(&mut cs).ok()
    });
    assert!(grown <= 1);
}
