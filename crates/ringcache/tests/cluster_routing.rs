//! A three-node cluster in `proxy` mode, each node a real process on its
//! own ports: every node answers every key, pipelines keep their order
//! across nodes, multi-key commands are split and gathered, keyspace
//! commands cover the cluster, atomic commands need one slot, and a
//! stopped node fails only its own slots, fast.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::cluster::TestCluster;
use common::{array, err, int, run, strings};
use redis::{FromRedisValue, Value};

const CROSSSLOT: &str = "CROSSSLOT Keys in request don't hash to the same slot";

#[test]
fn a_key_written_through_one_node_is_read_through_every_node() {
    let cluster = TestCluster::start(3, &[]);
    let mut conns: Vec<_> = cluster.nodes.iter().map(|n| n.conn()).collect();
    for i in 0..60 {
        let key = format!("user:{i}");
        let writer = i % 3;
        let _: () = run(&mut conns[writer], &["SET", &key, &format!("v{i}")]);
        for (r, conn) in conns.iter_mut().enumerate() {
            let got: Option<String> = run(conn, &["GET", &key]);
            assert_eq!(got.as_deref(), Some(format!("v{i}").as_str()), "{key} written via {writer}, read via {r}");
        }
    }
    // Every family, through a node that owns none of the keys' data alone.
    let c = &mut conns[1];
    assert_eq!(int(c, &["HSET", "h", "f", "1", "g", "2"]), 2);
    assert_eq!(array(c, &["HMGET", "h", "f", "g"]), strings(&["1", "2"]));
    assert_eq!(int(c, &["RPUSH", "l", "a", "b", "c"]), 3);
    assert_eq!(array(c, &["LRANGE", "l", "0", "-1"]), strings(&["a", "b", "c"]));
    assert_eq!(int(c, &["SADD", "s", "x", "y"]), 2);
    assert_eq!(int(c, &["SCARD", "s"]), 2);
    assert_eq!(int(c, &["ZADD", "z", "1", "one", "2", "two"]), 2);
    assert_eq!(array(c, &["ZRANGE", "z", "0", "-1"]), strings(&["one", "two"]));
    assert_eq!(int(c, &["EXPIRE", "user:1", "100"]), 1);
    assert!((1..=100).contains(&int(&mut conns[2], &["TTL", "user:1"])));
    // Errors come back as they would from one node.
    assert_eq!(err(&mut conns[0], &["INCR", "h"]), "WRONGTYPE Operation against a key holding the wrong kind of value");
    assert_eq!(err(&mut conns[0], &["GET"]), "ERR wrong number of arguments for 'get' command");
}

#[test]
fn a_pipeline_of_thousands_over_mixed_slots_keeps_its_order() {
    let cluster = TestCluster::start(3, &[]);
    let mut conn = cluster.node(0).conn();
    const N: usize = 3000;
    let mut pipe = redis::pipe();
    for i in 0..N {
        let key = format!("p:{}", (i / 4) % 500);
        match i % 4 {
            0 => pipe.cmd("SET").arg(&key).arg(i),
            1 => pipe.cmd("GET").arg(&key),
            2 => pipe.cmd("INCR").arg(format!("counter:{}", i % 7)),
            _ => pipe.cmd("PING"),
        };
    }
    let replies: Vec<Value> = pipe.query(&mut conn).unwrap();
    assert_eq!(replies.len(), N);
    let mut counters = [0i64; 7];
    for (i, reply) in replies.iter().enumerate() {
        match i % 4 {
            0 => assert_eq!(*reply, Value::Okay, "SET #{i}"),
            // The SET just before it, on the same key.
            1 => assert_eq!(String::from_redis_value(reply).unwrap(), (i - 1).to_string(), "GET #{i}"),
            2 => {
                counters[i % 7] += 1;
                assert_eq!(*reply, Value::Int(counters[i % 7]), "INCR #{i}");
            }
            _ => assert_eq!(*reply, Value::SimpleString("PONG".into()), "PING #{i}"),
        }
    }
    // The same through redis-cli, which pipes raw commands.
    let input: String = (0..200).map(|i| format!("SET cli:{i} {i}\nGET cli:{i}\n")).collect();
    let out = cluster.node(2).cli_stdin(&[], input.as_bytes());
    let expected: String = (0..200).map(|i| format!("OK\n{i}\n")).collect();
    assert_eq!(out.trim_end(), expected.trim_end());
}

/// The same pipeline cut into random pieces, some mid-command, sent with
/// pauses: runs of forwarded commands end and resume at every cut, and a
/// protocol error after forwarded commands still comes after their replies.
#[test]
fn a_fragmented_pipeline_keeps_its_order_and_its_errors() {
    use rand::{Rng, SeedableRng};
    let seed = rand::random::<u64>();
    eprintln!("seed {seed}");
    let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
    let cluster = TestCluster::start(3, &[]);
    let mut wire = Vec::new();
    let mut expected = Vec::new();
    for i in 0..1500 {
        let key = format!("f:{}", (i / 3) % 97);
        if i % 3 == 0 {
            wire.extend(common::encode_cmd(&["SET", &key, &i.to_string()]));
            expected.push("+OK\r\n".to_owned());
        } else if i % 3 == 1 {
            wire.extend(common::encode_cmd(&["GET", &key]));
            let v = (i - 1).to_string();
            expected.push(format!("${}\r\n{v}\r\n", v.len()));
        } else {
            wire.extend(format!("ECHO e{i}\r\n").into_bytes());
            expected.push(format!("${}\r\ne{i}\r\n", format!("e{i}").len()));
        }
    }
    wire.extend(common::encode_cmd(&["SET", "f:last", "x"]));
    expected.push("+OK\r\n".to_owned());
    wire.extend(b"*1\r\n+bad\r\n");
    expected.push("-ERR Protocol error: expected '$', got '+'\r\n".to_owned());
    let mut raw = cluster.node(0).raw();
    let mut at = 0;
    while at < wire.len() {
        let n = rng.gen_range(1..2000).min(wire.len() - at);
        raw.send(&wire[at..at + n]);
        at += n;
        if rng.gen_bool(0.2) {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    for (i, want) in expected.iter().enumerate() {
        assert_eq!(raw.read_reply_string(), *want, "reply #{i} (seed {seed})");
    }
    assert!(raw.wait_closed(Duration::from_secs(5)));
}

/// A command for this node's keys may run ahead of forwarded ones, but
/// never ahead of the part of an earlier command that runs here too.
#[test]
fn a_later_write_is_not_undone_by_an_earlier_cluster_wide_command() {
    let cluster = TestCluster::start(3, &[]);
    let mut c = cluster.node(0).conn();
    let keys: Vec<String> = (0..60).map(|i| format!("o:{i}")).collect();
    for k in &keys {
        let _: () = run(&mut c, &["SET", k, "old"]);
    }
    let mut pipe = redis::pipe();
    pipe.cmd("FLUSHALL").ignore();
    for k in &keys {
        pipe.cmd("SET").arg(k).arg("new").ignore();
    }
    pipe.cmd("DEL").arg(&keys[..30]).ignore();
    for k in &keys[..30] {
        pipe.cmd("SET").arg(k).arg("newer").ignore();
    }
    pipe.cmd("MGET").arg(&keys);
    let (got,): (Vec<String>,) = pipe.query(&mut c).unwrap();
    let want: Vec<String> = (0..60).map(|i| if i < 30 { "newer" } else { "new" }.to_owned()).collect();
    assert_eq!(got, want);
}

#[test]
fn multi_key_commands_are_split_and_gathered() {
    let cluster = TestCluster::start(3, &[]);
    let mut c = cluster.node(1).conn();
    let keys: Vec<String> = (0..40).map(|i| format!("mk:{i}")).collect();
    let mut mset = vec!["MSET".to_owned()];
    for k in &keys {
        mset.push(k.clone());
        mset.push(format!("val-{k}"));
    }
    let mset: Vec<&str> = mset.iter().map(String::as_str).collect();
    let _: () = run(&mut c, &mset);
    let mut mget = vec!["MGET", "missing-1"];
    mget.extend(keys.iter().map(String::as_str));
    mget.push("missing-2");
    let got: Vec<Option<String>> = run(&mut cluster.node(2).conn(), &mget);
    let mut expected = vec![None];
    expected.extend(keys.iter().map(|k| Some(format!("val-{k}"))));
    expected.push(None);
    assert_eq!(got, expected);
    let mut exists = vec!["EXISTS", "nope"];
    exists.extend(keys.iter().map(String::as_str));
    exists.push(&keys[0]); // counted twice, as Redis does
    assert_eq!(int(&mut c, &exists), 41);
    let mut touch = vec!["TOUCH"];
    touch.extend(keys[..10].iter().map(String::as_str));
    assert_eq!(int(&mut c, &touch), 10);
    let mut del = vec!["DEL", "nope"];
    del.extend(keys[..20].iter().map(String::as_str));
    assert_eq!(int(&mut c, &del), 20);
    let mut unlink = vec!["UNLINK"];
    unlink.extend(keys.iter().map(String::as_str));
    assert_eq!(int(&mut c, &unlink), 20);
    assert_eq!(int(&mut c, &["DBSIZE"]), 0);
    // An MSET with a key short of its value is refused as a whole: no
    // node applies its part.
    assert_eq!(
        err(&mut c, &["MSET", "odd:1", "v", "odd:2", "v", "odd:3"]),
        "ERR wrong number of arguments for 'mset' command"
    );
    assert_eq!(int(&mut c, &["EXISTS", "odd:1", "odd:2", "odd:3"]), 0);
    // RESP3 replies are gathered too.
    let mut c3 = cluster.node(0).conn_resp3();
    let _: () = run(&mut c3, &["MSET", "a", "1", "b", "2", "c", "3"]);
    let got: Vec<Option<String>> = run(&mut c3, &["MGET", "a", "b", "nope", "c"]);
    assert_eq!(got, vec![Some("1".into()), Some("2".into()), None, Some("3".into())]);
}

#[test]
fn atomic_commands_need_one_slot() {
    let cluster = TestCluster::start(3, &[]);
    let mut c = cluster.node(0).conn();
    let _: () = run(&mut c, &["MSET", "a", "1", "b", "2"]);
    for args in [
        &["RENAME", "a", "b"][..],
        &["SINTER", "a", "b"],
        &["MSETNX", "x", "1", "y", "2"],
        &["SMOVE", "a", "b", "m"],
        &["LMOVE", "a", "b", "LEFT", "LEFT"],
    ] {
        assert_eq!(err(&mut c, args), CROSSSLOT, "{args:?}");
    }
    // Keys sharing a hash tag share a slot, wherever it lives.
    for tag in ["{t1}", "{t2}", "{t3}", "{t4}", "{t5}", "{t6}"] {
        let (a, b) = (format!("{tag}a"), format!("{tag}b"));
        let _: () = run(&mut c, &["SET", &a, "1"]);
        let _: () = run(&mut c, &["RENAME", &a, &b]);
        let got: Option<String> = run(&mut c, &["GET", &b]);
        assert_eq!(got.as_deref(), Some("1"));
        assert_eq!(int(&mut c, &["MSETNX", &a, "x", &format!("{tag}c"), "y"]), 1);
        assert_eq!(int(&mut c, &["SADD", &format!("{tag}s1"), "m", "n"]), 2);
        assert_eq!(int(&mut c, &["SADD", &format!("{tag}s2"), "n"]), 1);
        assert_eq!(array(&mut c, &["SINTER", &format!("{tag}s1"), &format!("{tag}s2")]), strings(&["n"]));
    }
}

#[test]
fn transactions_run_on_the_slot_s_node() {
    let cluster = TestCluster::start(3, &[]);
    for via in 0..3 {
        let mut c = cluster.node(via).conn();
        for tag in ["{a}", "{b}", "{c}", "{d}"] {
            let k = format!("{tag}n");
            let replies: Vec<Value> = redis::pipe()
                .atomic()
                .cmd("INCR")
                .arg(&k)
                .cmd("INCR")
                .arg(&k)
                .cmd("GET")
                .arg(&k)
                .query(&mut c)
                .unwrap();
            let n = 2 * (via as i64 + 1);
            assert_eq!(replies[1], Value::Int(n), "{k} via node {via}");
        }
        // A transaction over two slots fails as a whole.
        let _: () = run(&mut c, &["MULTI"]);
        let _: String = run(&mut c, &["SET", "x", "1"]);
        assert_eq!(err(&mut c, &["SET", "y", "1"]), CROSSSLOT);
        assert_eq!(err(&mut c, &["EXEC"]), "EXECABORT Transaction discarded because of previous errors.");
    }
}

#[test]
fn watch_holds_across_nodes() {
    let cluster = TestCluster::start(3, &[]);
    // For each tag, watch through every node; another client changes the
    // key through yet another node: EXEC must fail.
    for tag in ["{w1}", "{w2}", "{w3}", "{w4}"] {
        let key = format!("{tag}k");
        for via in 0..3 {
            let mut c = cluster.node(via).conn();
            let mut other = cluster.node((via + 1) % 3).conn();
            let _: () = run(&mut c, &["WATCH", &key]);
            let _: () = run(&mut other, &["SET", &key, "changed"]);
            let _: () = run(&mut c, &["MULTI"]);
            let _: String = run(&mut c, &["SET", &key, "mine"]);
            assert_eq!(run::<Value>(&mut c, &["EXEC"]), Value::Nil, "{key} via node {via}");
            // Untouched, the same transaction runs.
            let _: () = run(&mut c, &["WATCH", &key]);
            let _: () = run(&mut c, &["MULTI"]);
            let _: String = run(&mut c, &["SET", &key, "mine"]);
            let done: Vec<String> = run(&mut c, &["EXEC"]);
            assert_eq!(done, strings(&["OK"]));
            let got: String = run(&mut other, &["GET", &key]);
            assert_eq!(got, "mine");
            // UNWATCH and RESET forget the WATCH wherever it is held.
            for forget in ["UNWATCH", "RESET"] {
                let _: () = run(&mut c, &["WATCH", &key]);
                let _: Value = run(&mut c, &[forget]);
                let _: () = run(&mut other, &["SET", &key, "changed"]);
                let _: () = run(&mut c, &["MULTI"]);
                let _: String = run(&mut c, &["SET", &key, forget]);
                let done: Vec<String> = run(&mut c, &["EXEC"]);
                assert_eq!(done, strings(&["OK"]), "after {forget}");
            }
            // WATCH over two slots is refused.
            assert_eq!(err(&mut c, &["WATCH", "x", "y"]), CROSSSLOT);
        }
    }
}

#[test]
fn keyspace_commands_cover_the_cluster() {
    let cluster = TestCluster::start(3, &[]);
    let mut c = cluster.node(0).conn();
    const N: usize = 1000;
    let mut pipe = redis::pipe();
    for i in 0..N {
        pipe.cmd("SET").arg(format!("key:{i}")).arg(i).ignore();
    }
    let _: () = pipe.query(&mut c).unwrap();
    for node in &cluster.nodes {
        let mut c = node.conn();
        assert_eq!(int(&mut c, &["DBSIZE"]), N as i64);
        // SCAN: every key exactly once, whatever COUNT.
        for count in ["7", "100", "5000"] {
            let mut seen = HashSet::new();
            let mut cursor = "0".to_owned();
            let mut calls = 0;
            loop {
                let (next, keys): (String, Vec<String>) =
                    run(&mut c, &["SCAN", &cursor, "MATCH", "key:*", "COUNT", count]);
                for k in keys {
                    assert!(seen.insert(k.clone()), "{k} returned twice");
                }
                calls += 1;
                assert!(calls < 10_000, "SCAN does not end");
                if next == "0" {
                    break;
                }
                cursor = next;
            }
            assert_eq!(seen.len(), N, "COUNT {count}");
        }
        assert_eq!(array(&mut c, &["KEYS", "key:1??"]).len(), 100);
        let random: String = run(&mut c, &["RANDOMKEY"]);
        assert!(random.starts_with("key:"));
    }
    // redis-cli --scan walks the same cursors.
    let out = cluster.node(1).cli(&["--scan", "--pattern", "key:*"]);
    assert_eq!(out.lines().collect::<HashSet<_>>().len(), N);
    let _: () = run(&mut c, &["FLUSHALL"]);
    for node in &cluster.nodes {
        assert_eq!(int(&mut node.conn(), &["DBSIZE"]), 0);
    }
    assert_eq!(run::<Value>(&mut c, &["RANDOMKEY"]), Value::Nil);
    assert_eq!(err(&mut c, &["SCAN", "abc"]), "ERR invalid cursor");
}

/// Without replication (`replicas 1`) a slot lives on one node only; with
/// it, `cluster_replication.rs` shows the others taking over.
#[test]
fn a_stopped_node_fails_its_slots_fast_and_the_rest_keep_working() {
    let mut cluster = TestCluster::start(3, &["--cluster-timeout", "1000", "--replicas", "1"]);
    let mut c = cluster.node(0).conn();
    let keys: Vec<String> = (0..300).map(|i| format!("k{i}")).collect();
    for k in &keys {
        let _: () = run(&mut c, &["SET", k, k]);
    }
    cluster.nodes[2].stop();
    let mut failed = 0;
    for k in &keys {
        let started = Instant::now();
        match redis::cmd("GET").arg(k).query::<Option<String>>(&mut c) {
            Ok(v) => assert_eq!(v.as_deref(), Some(k.as_str())),
            Err(e) => {
                failed += 1;
                let code = e.code().unwrap_or("?");
                assert!(matches!(code, "CLUSTERDOWN" | "TRYAGAIN"), "{k}: {e}");
            }
        }
        assert!(started.elapsed() < Duration::from_millis(1500), "{k} took {:?}", started.elapsed());
    }
    // About a third of the keys lived on the stopped node.
    assert!((30..200).contains(&failed), "{failed} of {} failed", keys.len());
    // Writes to the live nodes' slots still work; a split command that
    // needs the stopped node fails as a whole, with an error.
    let mut mget = vec!["MGET"];
    mget.extend(keys.iter().map(String::as_str));
    let e = err(&mut c, &mget);
    assert!(e.starts_with("CLUSTERDOWN") || e.starts_with("TRYAGAIN"), "{e}");
    assert!(err(&mut c, &["DBSIZE"]).starts_with("CLUSTERDOWN"));
}

/// Waits (at most 5 s) until every thread of process `pid` is stopped
/// (state `T` in /proc).
fn wait_stopped(pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(5);
    let stopped = || {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return false };
        tasks.flatten().all(|t| {
            let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
            // The state follows the command name's closing parenthesis.
            stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('T'))
        })
    };
    while !stopped() {
        assert!(Instant::now() < deadline, "process {pid} did not stop within 5 s of SIGSTOP");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A node that hangs (SIGSTOP) costs a forwarded command at most
/// `cluster-timeout`, then `-TRYAGAIN`; clients of other slots on the same
/// node are not held up meanwhile; when it resumes, it serves again.
/// Without replication (`replicas 1`), so its slots have nowhere else to go.
#[test]
fn a_hung_node_times_out_its_slots_without_holding_up_others() {
    let cluster = TestCluster::start(3, &["--cluster-timeout", "500", "--replicas", "1"]);
    let mut c = cluster.node(0).conn();
    let keys: Vec<String> = (0..60).map(|i| format!("h{i}")).collect();
    for k in &keys {
        let _: () = run(&mut c, &["SET", k, k]);
    }
    let pid = cluster.node(2).pid().to_string();
    let signal = |sig: &str| {
        let ok = std::process::Command::new("kill").args([sig, &pid]).status().map(|s| s.success());
        assert!(matches!(ok, Ok(true)), "kill {sig} {pid}");
    };
    signal("-STOP");
    // `kill` returns once the signal is sent; on a loaded machine a thread
    // may still answer a request before it stops. Every thread stopped
    // first, so that the keys are told apart by where they live.
    wait_stopped(cluster.node(2).pid());
    // Keys of the hung node time out; the others answer.
    let (mut hung_key, mut live_keys) = (None, Vec::new());
    for k in &keys {
        let started = Instant::now();
        match redis::cmd("GET").arg(k).query::<String>(&mut c) {
            Ok(v) => {
                assert_eq!(&v, k);
                live_keys.push(k.clone());
            }
            Err(e) => {
                assert_eq!(e.code(), Some("TRYAGAIN"), "{k}: {e}");
                assert!(started.elapsed() < Duration::from_millis(1500), "{k} took {:?}", started.elapsed());
                hung_key.get_or_insert_with(|| k.clone());
            }
        }
        if hung_key.is_some() && live_keys.len() >= 5 {
            break;
        }
    }
    let hung_key = hung_key.expect("some key lives on the hung node");
    // While one client waits on the hung node, another is served at once.
    let port = cluster.node(0).port;
    let waiting = std::thread::spawn(move || {
        let mut w = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap().get_connection().unwrap();
        redis::cmd("GET").arg(&hung_key).query::<String>(&mut w).is_err()
    });
    std::thread::sleep(Duration::from_millis(50));
    let mut other = cluster.node(0).conn();
    let started = Instant::now();
    for k in &live_keys {
        let v: String = run(&mut other, &["GET", k]);
        assert_eq!(&v, k);
    }
    assert!(started.elapsed() < Duration::from_millis(300), "other clients waited {:?}", started.elapsed());
    assert!(waiting.join().unwrap(), "the hung node's key should fail");
    signal("-CONT");
    let deadline = Instant::now() + Duration::from_secs(10);
    for k in &keys {
        loop {
            match redis::cmd("GET").arg(k).query::<String>(&mut c) {
                Ok(v) => {
                    assert_eq!(&v, k);
                    break;
                }
                Err(e) => assert!(Instant::now() < deadline, "{k} still failing after SIGCONT: {e}"),
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
