//! Faults injected into a running cluster of node processes: partitions of
//! the node-to-node links (through the in-test proxies of
//! `common::fault`), and the checker that later fault tests rely on, shown
//! to find no loss where there is none and every loss where there is.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::fault::{seed, try_conn, FaultCluster, Workload};

/// Writes `keys` keys through node `port`; returns how many were refused
/// with a cluster error, panicking on any other failure.
fn write_all(port: u16, keys: usize, tag: &str) -> usize {
    let mut conn = try_conn(port).expect("connect");
    let mut refused = 0;
    for k in 0..keys {
        let began = Instant::now();
        match redis::cmd("SET").arg(format!("{tag}:{k}")).arg(k).query::<String>(&mut conn) {
            Ok(ok) => assert_eq!(ok, "OK"),
            Err(e) => {
                // The redis crate spells the codes its own way ("ClusterDown:").
                let text = e.to_string().to_ascii_lowercase();
                assert!(text.contains("clusterdown") || text.contains("tryagain"), "unexpected error: {text}");
                refused += 1;
            }
        }
        assert!(began.elapsed() < Duration::from_secs(3), "a write took {:?}", began.elapsed());
    }
    refused
}

/// Without replication (`replicas 1`): the keys of the node cut off have
/// no other home. With it, see `cluster_replication.rs`.
#[test]
fn a_partition_fails_only_the_slots_beyond_it_and_heals() {
    let cluster = FaultCluster::start(3, &["--cluster-timeout", "1000", "--replicas", "1"]);
    let port = cluster.node(0).port;
    assert_eq!(write_all(port, 300, "before"), 0, "a whole cluster takes every write");

    // Node 3 cut off from both others: through node 1, the keys node 3
    // coordinates fail (about a third), the rest are served.
    cluster.isolate(2);
    let refused = write_all(port, 300, "cut");
    eprintln!("partition: {refused} of 300 writes refused through node 1 while node 3 was cut off");
    assert!((30..=170).contains(&refused), "{refused} of 300 refused");

    cluster.heal();
    cluster.wait_whole(Duration::from_secs(30));
    assert_eq!(write_all(port, 300, "after"), 0, "a healed cluster takes every write again");
}

#[test]
fn the_checker_finds_no_loss_in_a_healthy_cluster() {
    let seed = seed("healthy");
    let cluster = FaultCluster::start(3, &[]);
    let workload = Workload::start(&cluster.ports(), 2, 50, seed);
    thread::sleep(Duration::from_millis(1500));
    let history = workload.stop();
    assert!(history.ok > 100, "too few writes acknowledged: {}", history.ok);
    assert_eq!(history.errors + history.unanswered, 0, "{:?}", history.samples);
    for node in 0..3 {
        let report = history.check("healthy", cluster.node(node).port);
        assert!(report.lost.is_empty(), "lost: {:?}", &report.lost[..report.lost.len().min(10)]);
        assert_eq!(report.keys, history.acked.len());
    }
}

#[test]
fn the_checker_finds_every_lost_write() {
    let seed = seed("lossy");
    let cluster = FaultCluster::start(3, &[]);
    let workload = Workload::start(&cluster.ports(), 2, 20, seed);
    thread::sleep(Duration::from_millis(500));
    let history = workload.stop();
    // Lose everything behind the cluster's back, and a bit more: a lower
    // value for one key.
    let mut conn = try_conn(cluster.node(1).port).expect("connect");
    let _: () = redis::cmd("FLUSHALL").query(&mut conn).expect("FLUSHALL");
    let (key, value) = history.acked.iter().next().expect("a key was written");
    let _: () = redis::cmd("SET").arg(key).arg(value - 1).query(&mut conn).expect("SET");
    let report = history.check("lossy", cluster.node(0).port);
    assert_eq!(report.lost.len(), history.acked.len());
    assert!(report.lost.iter().any(|(k, acked, read)| k == key && *read == Some(acked - 1)));
}
