//! `maxmemory` and its policies against a real node: memory stays bounded
//! while the node keeps answering, each policy evicts what it should and
//! nothing else, and policies with nothing to evict refuse writes with
//! Redis's `-OOM` error while reads go on.
//!
//! INFO is not available to these tests, so memory is measured by what
//! matters to a client: how many keys are still readable. Every value is
//! `VALUE_LEN` bytes, so `maxmemory / VALUE_LEN` is a hard upper bound on
//! the number of keys that can be held, whatever the per-key overhead.

mod common;

use std::thread;
use std::time::Duration;

use common::Server;
use redis::Value;

const MAXMEMORY: &str = "2mb";
const MAXMEMORY_BYTES: usize = 2 * 1024 * 1024;
const VALUE_LEN: usize = 1000;
/// Keys that fit if values were all there is.
const CAPACITY: usize = MAXMEMORY_BYTES / VALUE_LEN;
const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

fn value_for(key: &str) -> Vec<u8> {
    let mut v = key.as_bytes().to_vec();
    v.resize(VALUE_LEN, b'.');
    v
}

/// SETs `keys` (with `extra` options such as `EX 100`) in pipelines of 100;
/// returns how many were refused with OOM. Any other error fails the test.
fn set_all(conn: &mut redis::Connection, keys: &[String], extra: &[&str]) -> usize {
    let mut refused = 0;
    for chunk in keys.chunks(100) {
        for key in chunk {
            // One by one, so that an OOM reply is told apart from success.
            let mut cmd = redis::cmd("SET");
            cmd.arg(key).arg(value_for(key));
            for e in extra {
                cmd.arg(*e);
            }
            match cmd.query::<()>(conn) {
                Ok(()) => {}
                Err(e) if is_oom(&e) => refused += 1,
                Err(e) => panic!("SET {key}: {e}"),
            }
        }
    }
    refused
}

/// SETs `keys` in pipelines, ignoring the replies (for policies that evict,
/// where every SET succeeds).
fn fill(conn: &mut redis::Connection, keys: &[String], extra: &[&str]) {
    for chunk in keys.chunks(200) {
        let mut pipe = redis::pipe();
        for key in chunk {
            let cmd = pipe.cmd("SET").arg(key).arg(value_for(key));
            for e in extra {
                cmd.arg(*e);
            }
        }
        let replies: Vec<Value> = pipe.query(conn).unwrap();
        assert!(replies.iter().all(|r| *r == Value::Okay), "a SET failed: {replies:?}");
    }
}

/// Which of `keys` are still readable, each checked to hold its own value.
fn readable(conn: &mut redis::Connection, keys: &[String]) -> Vec<bool> {
    let mut out = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(500) {
        let mut pipe = redis::pipe();
        for key in chunk {
            pipe.cmd("GET").arg(key);
        }
        let values: Vec<Option<Vec<u8>>> = pipe.query(conn).unwrap();
        for (key, v) in chunk.iter().zip(values) {
            if let Some(v) = &v {
                assert!(*v == value_for(key), "{key} holds another key's value");
            }
            out.push(v.is_some());
        }
    }
    out
}

/// Redis's `-OOM command not allowed when used memory > 'maxmemory'.`
/// (the redis crate splits off the code).
fn is_oom(e: &redis::RedisError) -> bool {
    e.code() == Some("OOM") && e.detail() == OOM.strip_prefix("OOM ")
}

fn count(flags: &[bool]) -> usize {
    flags.iter().filter(|b| **b).count()
}

fn keys(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}:{i}")).collect()
}

fn assert_answers(conn: &mut redis::Connection) {
    let pong: String = redis::cmd("PING").query(conn).unwrap();
    assert_eq!(pong, "PONG");
}

#[test]
fn allkeys_lru_keeps_memory_bounded_and_the_hot_set() {
    let server = Server::start_with(&["--maxmemory", MAXMEMORY, "--maxmemory-policy", "allkeys-lru"]);
    let mut conn = server.conn();
    let hot = keys("hot", 100);
    fill(&mut conn, &hot, &[]);
    // Five times maxmemory, in batches; the hot set is read between batches.
    let cold = keys("cold", 5 * CAPACITY);
    for batch in cold.chunks(100) {
        fill(&mut conn, batch, &[]);
        let mut pipe = redis::pipe();
        for key in &hot {
            pipe.cmd("GET").arg(key);
        }
        let _: Vec<Value> = pipe.query(&mut conn).unwrap();
    }
    assert_answers(&mut conn);

    let hot_alive = count(&readable(&mut conn, &hot));
    let cold_alive = readable(&mut conn, &cold);
    let total = hot_alive + count(&cold_alive);
    eprintln!("allkeys-lru: {hot_alive}/100 hot keys and {} cold keys survive", count(&cold_alive));
    assert!(total <= CAPACITY, "{total} keys of {VALUE_LEN} bytes held under maxmemory {MAXMEMORY}");
    assert!(total >= CAPACITY / 2, "only {total} keys held: eviction went far below maxmemory");
    assert!(hot_alive >= 90, "only {hot_alive} of 100 recently read keys survived LRU eviction");
    // The oldest untouched keys are the first to go.
    let oldest = count(&cold_alive[..CAPACITY]);
    assert!(oldest <= CAPACITY / 20, "{oldest} of the {CAPACITY} oldest untouched keys survived");
}

#[test]
fn noeviction_refuses_writes_and_keeps_serving_reads() {
    let server = Server::start_with(&["--maxmemory", MAXMEMORY, "--maxmemory-policy", "noeviction"]);
    let mut conn = server.conn();
    let all = keys("ne", 2 * CAPACITY);
    let mut stored = Vec::new();
    let mut first_oom = None;
    for (i, key) in all.iter().enumerate() {
        match redis::cmd("SET").arg(key).arg(value_for(key)).query::<()>(&mut conn) {
            Ok(()) => {
                assert!(first_oom.is_none(), "SET {key} succeeded after an OOM with nothing freed");
                stored.push(key.clone());
            }
            Err(e) => {
                assert!(is_oom(&e), "SET {key}: {e}");
                first_oom.get_or_insert(i);
            }
        }
    }
    let first_oom = first_oom.expect("writes past maxmemory must be refused");
    assert!(first_oom <= CAPACITY, "{first_oom} keys written before the first OOM");
    assert!(first_oom >= CAPACITY / 2, "OOM after only {first_oom} keys");

    // The exact error, and the connection stays usable.
    let mut raw = server.raw();
    raw.send(b"SET ne:more x\r\n");
    assert_eq!(raw.read_reply_string(), format!("-{OOM}\r\n"));
    // Overwriting an existing key is refused too (SET is denyoom).
    raw.send(format!("SET {} x\r\n", stored[0]).as_bytes());
    assert_eq!(raw.read_reply_string(), format!("-{OOM}\r\n"));
    raw.send(b"PING\r\n");
    assert_eq!(raw.read_reply(), b"+PONG\r\n");

    // Nothing was evicted: every stored key reads back.
    let alive = readable(&mut conn, &stored);
    assert_eq!(count(&alive), stored.len(), "noeviction lost keys");
    let missing: Option<String> = redis::cmd("GET").arg("ne:never").query(&mut conn).unwrap();
    assert_eq!(missing, None);
}

#[test]
fn volatile_policies_with_no_volatile_keys_refuse_writes() {
    for policy in ["volatile-lru", "volatile-ttl", "volatile-random", "volatile-lfu"] {
        let server = Server::start_with(&["--maxmemory", MAXMEMORY, "--maxmemory-policy", policy]);
        let mut conn = server.conn();
        let all = keys("nv", CAPACITY + 100);
        let refused = set_all(&mut conn, &all, &[]);
        assert!(refused >= 100, "{policy}: only {refused} writes refused with nothing to evict");
        let alive = count(&readable(&mut conn, &all));
        assert_eq!(alive + refused, all.len(), "{policy}: a key without TTL was evicted");
        assert_answers(&mut conn);
    }
}

#[test]
fn volatile_lru_evicts_only_keys_with_a_ttl() {
    let server = Server::start_with(&["--maxmemory", MAXMEMORY, "--maxmemory-policy", "volatile-lru"]);
    let mut conn = server.conn();
    let persistent = keys("persist", CAPACITY / 4);
    fill(&mut conn, &persistent, &[]);
    let volatile = keys("vol", 3 * CAPACITY);
    fill(&mut conn, &volatile, &["EX", "3600"]);
    assert_answers(&mut conn);

    let persistent_alive = count(&readable(&mut conn, &persistent));
    assert_eq!(persistent_alive, persistent.len(), "volatile-lru evicted keys without a TTL");
    let volatile_alive = count(&readable(&mut conn, &volatile));
    assert!(volatile_alive < volatile.len(), "nothing was evicted");
    assert!(persistent_alive + volatile_alive <= CAPACITY, "{} keys held", persistent_alive + volatile_alive);

    // Once only keys without a TTL are left to evict, writes are refused.
    let more = keys("persist-more", CAPACITY);
    let refused = set_all(&mut conn, &more, &[]);
    assert!(refused > 0, "writes never refused once the volatile keys ran out");
    assert_eq!(count(&readable(&mut conn, &persistent)), persistent.len());
}

#[test]
fn volatile_ttl_evicts_the_soonest_to_expire_first() {
    let server = Server::start_with(&["--maxmemory", MAXMEMORY, "--maxmemory-policy", "volatile-ttl"]);
    let mut conn = server.conn();
    // Interleave keys that expire in an hour with keys that expire in a
    // day, past maxmemory.
    let soon = keys("soon", CAPACITY);
    let late = keys("late", CAPACITY);
    for (s, l) in soon.chunks(50).zip(late.chunks(50)) {
        fill(&mut conn, s, &["EX", "3600"]);
        fill(&mut conn, l, &["EX", "86400"]);
    }
    let soon_alive = count(&readable(&mut conn, &soon));
    let late_alive = count(&readable(&mut conn, &late));
    eprintln!("volatile-ttl: {soon_alive} soon-expiring and {late_alive} late-expiring keys survive");
    assert!(soon_alive + late_alive <= CAPACITY);
    assert!(late_alive > 2 * soon_alive, "volatile-ttl kept {soon_alive} soon and {late_alive} late keys");
}

#[test]
fn allkeys_random_evicts_something_and_stays_bounded() {
    let server = Server::start_with(&["--maxmemory", MAXMEMORY, "--maxmemory-policy", "allkeys-random"]);
    let mut conn = server.conn();
    let all = keys("rnd", 3 * CAPACITY);
    fill(&mut conn, &all, &[]);
    assert_answers(&mut conn);
    let alive = readable(&mut conn, &all);
    let total = count(&alive);
    assert!(total <= CAPACITY, "{total} keys held");
    assert!(total >= CAPACITY / 2, "only {total} keys held");
    // Random eviction has no preference for old keys: some of the first
    // third survive (LRU would have evicted nearly all of them).
    let oldest = count(&alive[..CAPACITY]);
    assert!(oldest > 0, "allkeys-random evicted every old key");
}

#[test]
fn allkeys_lfu_keeps_memory_bounded_and_frequently_read_keys() {
    let server = Server::start_with(&["--maxmemory", MAXMEMORY, "--maxmemory-policy", "allkeys-lfu"]);
    let mut conn = server.conn();
    let hot = keys("freq", 50);
    fill(&mut conn, &hot, &[]);
    // Read the hot set many times up front, so that its logarithmic
    // counters end well above a new key's (about 11 against 5), even if a
    // minute boundary passes and decays them by one.
    for _ in 0..200 {
        let mut pipe = redis::pipe();
        for key in &hot {
            pipe.cmd("GET").arg(key);
        }
        let _: Vec<Value> = pipe.query(&mut conn).unwrap();
    }
    let cold = keys("once", 3 * CAPACITY);
    fill(&mut conn, &cold, &[]);
    let hot_alive = count(&readable(&mut conn, &hot));
    let total = hot_alive + count(&readable(&mut conn, &cold));
    assert!(total <= CAPACITY, "{total} keys held");
    assert!(hot_alive >= 45, "only {hot_alive} of 50 frequently read keys survived LFU eviction");
}

#[test]
fn eviction_under_concurrent_writers_stays_bounded() {
    let server = Server::start_with(&["--maxmemory", MAXMEMORY, "--maxmemory-policy", "allkeys-lru"]);
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let mut conn = server.conn();
            thread::spawn(move || {
                let mine = keys(&format!("cw{w}"), CAPACITY);
                fill(&mut conn, &mine, &[]);
                mine
            })
        })
        .collect();
    let mut all = Vec::new();
    for w in writers {
        all.extend(w.join().expect("writer"));
    }
    thread::sleep(Duration::from_millis(10));
    let mut conn = server.conn();
    let total = count(&readable(&mut conn, &all));
    assert!(total <= CAPACITY, "{total} keys held by 4 concurrent writers");
    assert!(total >= CAPACITY / 2, "only {total} keys held");
}

#[test]
fn allkeys_lru_keeps_the_hot_set_when_few_keys_fit() {
    // ~180 keys fit: about three per shard. LRU must still find the idle
    // keys wherever they are, not evict whatever the next shard holds.
    let server = Server::start_with(&["--maxmemory", "200kb", "--maxmemory-policy", "allkeys-lru"]);
    let mut conn = server.conn();
    let hot = keys("hot", 20);
    fill(&mut conn, &hot, &[]);
    let cold = keys("cold", 2000);
    for batch in cold.chunks(10) {
        fill(&mut conn, batch, &[]);
        let mut pipe = redis::pipe();
        for key in &hot {
            pipe.cmd("GET").arg(key);
        }
        let _: Vec<Value> = pipe.query(&mut conn).unwrap();
    }
    let hot_alive = count(&readable(&mut conn, &hot));
    let cold_alive = count(&readable(&mut conn, &cold));
    eprintln!("few keys: {hot_alive}/20 hot, {cold_alive} cold survive");
    assert!(hot_alive >= 18, "only {hot_alive} of 20 recently read keys survived");
}
