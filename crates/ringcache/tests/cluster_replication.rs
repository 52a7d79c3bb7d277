//! Replication under faults, on real node processes driven by real
//! clients: with N = 3 and W = 2 and one fault at a time (kill -9, SIGSTOP,
//! a restart with an empty memory, a partition), no acknowledged write is
//! lost, and once the fault is over every owner holds the same versions.
//! Each test prints its seed (replay with RINGCACHE_FAULT_SEED) and its
//! figures: writes acknowledged, lost, failed, unanswered, unavailable
//! time, and how long the owners took to converge.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::cluster::coordinator_port;
use common::fault::{seed, try_conn, FaultCluster, Workload};

/// Replication settings every test runs with: the defaults (N = 3,
/// W = 2), a short cluster timeout so faults are seen quickly, and
/// frequent anti-entropy so a healed partition converges within the test.
const ARGS: &[&str] = &["--cluster-timeout", "1000", "--anti-entropy-interval-ms", "100"];

/// Asserts that reading back through each of `nodes` finds every
/// acknowledged write.
fn assert_nothing_lost(test: &str, cluster: &FaultCluster, history: &common::fault::History, nodes: &[usize]) {
    // Enough to have exercised the fault; a loaded machine (debug build,
    // other builds beside it) manages ~40 in the pause test.
    assert!(history.ok > 20, "{test}: too few writes acknowledged: {}", history.ok);
    for &i in nodes {
        let report = history.check(test, cluster.node(i).port);
        assert!(
            report.lost.is_empty(),
            "{test}: lost through node {i}: {:?}",
            &report.lost[..report.lost.len().min(10)]
        );
    }
}

#[test]
fn kill_9_of_an_owner_loses_no_acknowledged_write_and_a_restart_catches_up() {
    let seed = seed("kill");
    let mut cluster = FaultCluster::start(3, ARGS);
    let workload = Workload::start(&cluster.ports(), 3, 200, seed);
    thread::sleep(Duration::from_millis(1000));
    cluster.kill(2);
    thread::sleep(Duration::from_millis(2000));
    let history = workload.stop();
    assert_nothing_lost("kill", &cluster, &history, &[0, 1]);

    // Back with an empty memory: it serves its slots only once it has
    // streamed them from the others, so nothing reads as lost through it.
    cluster.restart(2);
    let took = cluster.wait_converged(Duration::from_secs(30));
    eprintln!("kill: the restarted node caught up and the owners converged in {:.2} s", took.as_secs_f64());
    assert_nothing_lost("kill, restarted", &cluster, &history, &[2, 0]);
}

#[test]
fn a_paused_owner_loses_no_acknowledged_write_and_converges_after() {
    let seed = seed("pause");
    let cluster = FaultCluster::start(3, ARGS);
    let workload = Workload::start(&cluster.ports(), 3, 200, seed);
    thread::sleep(Duration::from_millis(700));
    cluster.pause(1);
    thread::sleep(Duration::from_millis(2500));
    cluster.resume(1);
    thread::sleep(Duration::from_millis(700));
    let history = workload.stop();
    assert_nothing_lost("pause", &cluster, &history, &[0, 1, 2]);
    let took = cluster.wait_converged(Duration::from_secs(30));
    eprintln!("pause: owners converged {:.2} s after the writes stopped", took.as_secs_f64());
}

#[test]
fn a_partitioned_owner_loses_nothing_and_anti_entropy_repairs_it() {
    let seed = seed("partition");
    let cluster = FaultCluster::start(3, ARGS);
    let workload = Workload::start(&cluster.ports(), 3, 200, seed);
    thread::sleep(Duration::from_millis(700));
    // Node 3 alone cannot reach W = 2: its writes fail, the majority's
    // are acknowledged and node 3 misses them.
    cluster.isolate(2);
    thread::sleep(Duration::from_millis(2500));
    let history = workload.stop();
    assert_nothing_lost("partition", &cluster, &history, &[0, 1]);
    cluster.heal();
    let took = cluster.wait_converged(Duration::from_secs(30));
    eprintln!("partition: owners converged {:.2} s after the partition healed", took.as_secs_f64());
    cluster.wait_whole(Duration::from_secs(30));
    assert_nothing_lost("partition, healed", &cluster, &history, &[2]);
}

#[test]
fn without_a_write_quorum_writes_fail_with_noreplicas_in_time_and_reads_go_on() {
    let mut cluster = FaultCluster::start(3, ARGS);
    let mut conn = try_conn(cluster.node(0).port).expect("connect");
    for k in 0..100 {
        let _: () = redis::cmd("SET").arg(format!("q:{k}")).arg(k).query(&mut conn).expect("SET");
    }
    cluster.kill(1);
    cluster.kill(2);
    // Once the others are seen down (or at the latest by cluster-timeout),
    // a write gets Redis's error, never +OK.
    let mut noreplicas = 0;
    for k in 0..20 {
        let began = Instant::now();
        let r = redis::cmd("SET").arg(format!("q:{k}")).arg("new").query::<String>(&mut conn);
        let took = began.elapsed();
        assert!(took < Duration::from_millis(2500), "a write took {took:?}");
        match r {
            Ok(ok) => panic!("a write was acknowledged by one node of three: {ok}"),
            Err(e) => {
                let text = e.to_string();
                if text.contains("NOREPLICAS") {
                    assert!(text.contains("Not enough good replicas to write."), "{text}");
                    noreplicas += 1;
                } else {
                    // Before the others are seen down, keys they coordinate
                    // time out on the way there.
                    assert!(text.contains("TRYAGAIN") || text.contains("CLUSTERDOWN"), "{text}");
                }
            }
        }
    }
    eprintln!("no quorum: {noreplicas} of 20 writes answered -NOREPLICAS, the rest -TRYAGAIN/-CLUSTERDOWN");
    assert!(noreplicas > 0);
    // R = 1: every key is still readable from the node left.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let got: Result<Vec<Option<String>>, _> =
            redis::cmd("MGET").arg((0..100).map(|k| format!("q:{k}")).collect::<Vec<_>>()).query(&mut conn);
        match got {
            Ok(values) => {
                assert!(values.iter().all(Option::is_some), "a key is gone: {values:?}");
                break;
            }
            Err(e) => assert!(Instant::now() < deadline, "reads still failing: {e}"),
        }
        thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn five_nodes_lose_no_acknowledged_write_when_one_is_killed() {
    let seed = seed("five");
    let mut cluster = FaultCluster::start(5, ARGS);
    let workload = Workload::start(&cluster.ports(), 3, 200, seed);
    thread::sleep(Duration::from_millis(1000));
    cluster.kill(3);
    thread::sleep(Duration::from_millis(2000));
    let history = workload.stop();
    assert_nothing_lost("five", &cluster, &history, &[0, 4]);
}

/// WAIT reports how many owners other than the coordinator hold the
/// client's last write, for writes run on the node the client is on and
/// for writes forwarded to another coordinator, and waits no longer than
/// its timeout for owners that cannot answer.
#[test]
fn wait_counts_the_other_owners_holding_the_last_write() {
    let cluster = FaultCluster::start(3, ARGS);
    let mut conn = try_conn(cluster.node(0).port).expect("connect");
    let wait = |conn: &mut redis::Connection, n: i64, ms: i64| -> i64 {
        redis::cmd("WAIT").arg(n).arg(ms).query(conn).expect("WAIT")
    };
    // Before any write: everything the client wrote is everywhere.
    assert_eq!(wait(&mut conn, 0, 0), 2);
    // Keys coordinated here and elsewhere (the key picks its slot's node).
    for k in 0..20 {
        let _: () = redis::cmd("SET").arg(format!("wait:{k}")).arg(k).query(&mut conn).expect("SET");
        assert_eq!(wait(&mut conn, 2, 5000), 2, "after SET wait:{k}");
    }
    // A multi-slot write: every part counts.
    let _: () = redis::cmd("MSET").arg(&["wait:a", "1", "wait:b", "2", "wait:c", "3"]).query(&mut conn).unwrap();
    assert_eq!(wait(&mut conn, 2, 5000), 2, "after MSET");
    // Redis's argument errors.
    let e = redis::cmd("WAIT").arg(1).arg(-1).query::<i64>(&mut conn).unwrap_err();
    assert!(e.to_string().contains("timeout is negative"), "{e}");
    let e = redis::cmd("WAIT").arg("x").arg(0).query::<i64>(&mut conn).unwrap_err();
    assert!(e.to_string().contains("value is not an integer or out of range"), "{e}");
    let e = redis::cmd("WAIT").arg(1).arg("y").query::<i64>(&mut conn).unwrap_err();
    assert!(e.to_string().contains("timeout is not an integer or out of range"), "{e}");

    // One owner hung: a write still reaches W = 2, and WAIT for both
    // replicas gives up after its timeout with the one that answered.
    cluster.pause(2);
    let mut written = false;
    for k in 0..50 {
        if redis::cmd("SET").arg(format!("wait:p{k}")).arg(k).query::<()>(&mut conn).is_ok() {
            written = true;
            break;
        }
    }
    assert!(written, "no write acknowledged with one owner hung");
    let began = Instant::now();
    let have = wait(&mut conn, 2, 300);
    let took = began.elapsed();
    cluster.resume(2);
    assert_eq!(have, 1, "WAIT with one owner hung");
    assert!(took >= Duration::from_millis(290) && took < Duration::from_secs(3), "WAIT took {took:?}");
    eprintln!("wait: with one owner hung, WAIT 2 300 answered 1 after {took:?}");
}

/// With `read-quorum 2` a read consults two owners and answers with the
/// newest version, repairing the coordinator's own copy: an owner that
/// missed a write while it was cut off and coordinates its slot again
/// answers it stale with R = 1 (until anti-entropy, made slow here), fresh
/// with R = 2, and fresh from then on.
#[test]
fn a_read_quorum_of_two_answers_the_newest_version_and_repairs_the_coordinator() {
    let args = ["--cluster-mode", "redis-cluster", "--cluster-timeout", "1000", "--anti-entropy-interval-ms", "600000"];
    let cluster = FaultCluster::start(3, &args);
    let ports = cluster.ports();
    // A key node 0 coordinates (the node CLUSTER SLOTS names for it).
    let mut c0 = try_conn(ports[0]).expect("connect");
    let key = (0..1000)
        .map(|i| format!("rq:{i}"))
        .find(|k| coordinator_port(&mut c0, k) == ports[0])
        .expect("node 0 coordinates some key");
    let _: () = redis::cmd("SET").arg(&key).arg("old").query(&mut c0).expect("SET old");
    cluster.wait_converged(Duration::from_secs(30));

    // Node 0 cut off: the others take the key over and acknowledge a new
    // value that node 0 never gets (its retries end at cluster-timeout).
    cluster.isolate(0);
    let deadline = Instant::now() + Duration::from_secs(15);
    'write: loop {
        for &port in &ports[1..] {
            if let Some(mut c) = try_conn(port) {
                if redis::cmd("SET").arg(&key).arg("new").query::<()>(&mut c).is_ok() {
                    break 'write;
                }
            }
        }
        assert!(Instant::now() < deadline, "the others never acknowledged the new value");
        thread::sleep(Duration::from_millis(100));
    }
    thread::sleep(Duration::from_millis(2500));
    cluster.heal();
    let deadline = Instant::now() + Duration::from_secs(15);
    let get = |conn: &mut redis::Connection| -> Option<String> { redis::cmd("GET").arg(&key).query(conn).ok() };
    let mut c0 = loop {
        // Node 0 reaches the others again and serves its slot itself.
        if let Some(mut c) = try_conn(ports[0]) {
            let info: String = redis::cmd("CLUSTER").arg("INFO").query(&mut c).unwrap_or_default();
            if info.contains("cluster_state:ok") && get(&mut c).is_some() {
                break c;
            }
        }
        assert!(Instant::now() < deadline, "node 0 did not come back");
        thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(get(&mut c0).as_deref(), Some("old"), "R = 1 on the stale coordinator (the set-up failed)");
    let _: () = redis::cmd("CONFIG").arg("SET").arg("read-quorum").arg("2").query(&mut c0).expect("CONFIG SET");
    // Node 0 hears the others again before its own connections to them
    // are back (their reconnection backoff): until then an R = 2 read
    // fails with an error, never with a stale or missing value.
    let deadline = Instant::now() + Duration::from_secs(15);
    let fresh = loop {
        match redis::cmd("GET").arg(&key).query::<Option<String>>(&mut c0) {
            Ok(v) => break v,
            Err(e) => {
                eprintln!("read quorum: an R = 2 read failed while node 0 reconnects: {e}");
                assert!(Instant::now() < deadline, "R = 2 reads still failing: {e}");
            }
        }
        thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(fresh.as_deref(), Some("new"), "R = 2 reads the newest version");
    let _: () = redis::cmd("CONFIG").arg("SET").arg("read-quorum").arg("1").query(&mut c0).expect("CONFIG SET");
    assert_eq!(get(&mut c0).as_deref(), Some("new"), "the coordinator's copy was repaired");
    let r: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("read-quorum").query(&mut c0).unwrap();
    assert_eq!(r, ["read-quorum", "1"]);
}

/// R = 2 through a proxy node: reads run here or forwarded to their
/// coordinator read at two owners, one owner down changes nothing, and
/// with two down a read gets an error instead of a possibly stale answer.
#[test]
fn a_read_quorum_of_two_reads_through_any_node_and_fails_without_two_owners() {
    let mut args = ARGS.to_vec();
    args.extend_from_slice(&["--read-quorum", "2"]);
    let mut cluster = FaultCluster::start(3, &args);
    let mut conn = try_conn(cluster.node(1).port).expect("connect");
    let keys: Vec<String> = (0..30).map(|k| format!("r2:{k}")).collect();
    for (i, k) in keys.iter().enumerate() {
        let _: () = redis::cmd("SET").arg(k).arg(i).query(&mut conn).expect("SET");
    }
    let _: () = redis::cmd("HSET").arg("r2:h").arg("f").arg("v").query(&mut conn).expect("HSET");
    let check = |conn: &mut redis::Connection| {
        for (i, k) in keys.iter().enumerate() {
            let v: String = redis::cmd("GET").arg(k).query(conn).expect("GET");
            assert_eq!(v, i.to_string());
        }
        let all: Vec<String> = redis::cmd("MGET").arg(&keys).query(conn).expect("MGET");
        assert_eq!(all, (0..keys.len()).map(|i| i.to_string()).collect::<Vec<_>>());
        let h: String = redis::cmd("HGET").arg("r2:h").arg("f").query(conn).expect("HGET");
        assert_eq!(h, "v");
    };
    check(&mut conn);
    cluster.kill(2);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // Once node 3 is seen down, its slots' reads go to the next owner.
        let ok = (0..keys.len()).all(|i| redis::cmd("GET").arg(&keys[i]).query::<String>(&mut conn).is_ok());
        if ok {
            break;
        }
        assert!(Instant::now() < deadline, "reads fail with one owner of three down");
        thread::sleep(Duration::from_millis(100));
    }
    check(&mut conn);
    cluster.kill(0);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match redis::cmd("GET").arg(&keys[0]).query::<String>(&mut conn) {
            Err(e) if e.to_string().contains("Not enough good replicas to read.") => break,
            other => assert!(Instant::now() < deadline, "a read with one owner left answered {other:?}"),
        }
        thread::sleep(Duration::from_millis(100));
    }
}
