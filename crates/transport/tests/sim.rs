//! What only the in-memory network does: partitions, lost and delayed
//! messages, and determinism for a given seed. All under paused tokio time:
//! the delays below cost no wall time, and elapsed times are exact.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{id, Cluster, SimCluster, TestHandler};
use ringcache_transport::{Delay, Transport, TransportConfig, TransportError};
use tokio::time::Instant;

fn cluster(n: usize, seed: u64) -> SimCluster {
    let mut c = SimCluster::new(n, TransportConfig::for_test(), seed);
    for i in 0..n {
        let (h, rx) = TestHandler::new(id(i));
        std::mem::forget(rx);
        c.set_handler(i, h);
    }
    c
}

#[tokio::test(start_paused = true)]
async fn partition_cuts_both_ways_and_heals() {
    let c = cluster(3, 1);
    c.net.partition(&[id(0)], &[id(1)]);
    for (a, b) in [(0, 1), (1, 0)] {
        let r = c.node(a).request(&id(b), Bytes::from_static(b"x")).await;
        assert!(matches!(r, Err(TransportError::Unreachable { .. })), "{r:?}");
        let r = c.node(a).send(&id(b), Bytes::from_static(b"x")).await;
        assert!(matches!(r, Err(TransportError::Unreachable { .. })), "{r:?}");
    }
    assert_eq!(c.node(0).request(&id(2), Bytes::from_static(b"x")).await.unwrap(), "n2 got x from n0");
    c.net.heal(&[id(0)], &[id(1)]);
    assert_eq!(c.node(0).request(&id(1), Bytes::from_static(b"x")).await.unwrap(), "n1 got x from n0");

    // One direction only: the request gets there, its answer cannot come
    // back.
    c.net.cut_link(&id(0), &id(1));
    let r = c.node(1).request(&id(0), Bytes::from_static(b"x")).await;
    assert!(matches!(r, Err(TransportError::ConnectionLost { .. })), "{r:?}");
    c.net.heal_all();
    assert!(c.node(1).request(&id(0), Bytes::from_static(b"x")).await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn lost_messages_time_out_exactly() {
    let c = cluster(2, 2);
    c.net.set_drop_probability(1.0);
    let start = Instant::now();
    let r = c.node(0).request(&id(1), Bytes::from_static(b"x")).await;
    assert!(matches!(r, Err(TransportError::Timeout { .. })), "{r:?}");
    assert_eq!(start.elapsed(), Duration::from_millis(c.config().request_timeout_ms));
    // A lost one-way message is not an error for the sender.
    assert!(c.node(0).send(&id(1), Bytes::from_static(b"x")).await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn delays_apply_to_each_leg() {
    let c = cluster(2, 3);
    c.net.set_delay(Delay::Fixed(Duration::from_millis(100)));
    let start = Instant::now();
    c.node(0).request(&id(1), Bytes::from_static(b"x")).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_millis(200));

    let (min, max) = (Duration::from_millis(10), Duration::from_millis(50));
    c.net.set_delay(Delay::Uniform { min, max });
    for _ in 0..20 {
        let start = Instant::now();
        c.node(0).request(&id(1), Bytes::from_static(b"x")).await.unwrap();
        let took = start.elapsed();
        assert!(took >= 2 * min && took <= 2 * max, "{took:?}");
    }

    // A delay longer than the timeout is a timeout.
    c.net.set_delay(Delay::Fixed(Duration::from_millis(c.config().request_timeout_ms)));
    let r = c.node(0).request(&id(1), Bytes::from_static(b"x")).await;
    assert!(matches!(r, Err(TransportError::Timeout { .. })), "{r:?}");
}

#[tokio::test(start_paused = true)]
async fn node_stopping_mid_request_loses_the_answer() {
    let c = cluster(2, 4);
    let t = c.node(0);
    let pending = tokio::spawn(async move { t.request(&id(1), Bytes::from_static(b"sleep:50:x")).await });
    tokio::time::sleep(Duration::from_millis(10)).await;
    c.net.stop(&id(1));
    let r = pending.await.unwrap();
    assert!(matches!(r, Err(TransportError::ConnectionLost { .. })), "{r:?}");
    // A stopped node cannot send either.
    let r = c.node(1).request(&id(0), Bytes::from_static(b"x")).await;
    assert!(matches!(r, Err(TransportError::Shutdown)), "{r:?}");
}

/// The outcome of a fixed script of requests on a lossy, jittery network.
async fn script(seed: u64) -> Vec<(bool, u128)> {
    let c = cluster(3, seed);
    c.net.set_drop_probability(0.3);
    c.net.set_delay(Delay::Uniform { min: Duration::from_millis(1), max: Duration::from_millis(40) });
    let mut out = Vec::new();
    for i in 0..40 {
        let start = Instant::now();
        let r = c.node(i % 3).request(&id((i + 1) % 3), Bytes::from(format!("m{i}"))).await;
        out.push((r.is_ok(), start.elapsed().as_millis()));
    }
    out
}

#[tokio::test(start_paused = true)]
async fn same_seed_same_run() {
    let a = script(42).await;
    assert_eq!(a, script(42).await);
    assert!(a.iter().any(|(ok, _)| *ok) && a.iter().any(|(ok, _)| !*ok), "{a:?}");
    assert_ne!(a, script(43).await, "the seed matters");
}
