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
    cluster.wait_whole(Duration::from_secs(15));
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
