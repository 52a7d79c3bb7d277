//! A session-store workload, as a web framework's Redis session backend
//! drives it: many concurrent clients create sessions with `SET ... EX`,
//! read them on every request, slide their expiry with `EXPIRE`, log out
//! with `DEL`, and an admin job lists a user's sessions with `SCAN MATCH`.

mod common;

use std::collections::HashSet;
use std::thread;
use std::time::{Duration, Instant};

use common::Server;
use redis::Commands;

const WORKERS: usize = 8;
const SESSIONS_PER_WORKER: usize = 150;

fn session_key(worker: usize, i: usize) -> String {
    format!("session:{worker}:{i:04}")
}

fn scan_all(con: &mut redis::Connection, pattern: &str) -> HashSet<String> {
    let mut seen = HashSet::new();
    let mut cursor: u64 = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (next, keys): (u64, Vec<String>) =
            redis::cmd("SCAN").arg(cursor).arg("MATCH").arg(pattern).arg("COUNT").arg(50).query(con).unwrap();
        seen.extend(keys);
        if next == 0 {
            return seen;
        }
        cursor = next;
        assert!(Instant::now() < deadline, "SCAN did not finish");
    }
}

#[test]
fn concurrent_session_store_workload() {
    let server = Server::start();
    let url = server.url();

    // Phase 1: every worker logs users in, reads each session back on
    // "requests", slides expiry, and logs out every third user.
    let handles: Vec<_> = (0..WORKERS)
        .map(|w| {
            let url = url.clone();
            thread::spawn(move || {
                let client = redis::Client::open(url).unwrap();
                let mut con = client.get_connection_with_timeout(Duration::from_secs(10)).unwrap();
                con.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                for i in 0..SESSIONS_PER_WORKER {
                    let key = session_key(w, i);
                    let data = format!("{{\"user\":{i},\"worker\":{w},\"csrf\":\"{:016x}\"}}", i * 7919 + w);
                    let _: () = redis::cmd("SET").arg(&key).arg(&data).arg("EX").arg(3600).query(&mut con).unwrap();
                    for _ in 0..3 {
                        let got: Option<String> = con.get(&key).unwrap();
                        assert_eq!(got.as_deref(), Some(data.as_str()), "{key} read back wrong");
                    }
                    let slid: bool = con.expire(&key, 7200).unwrap();
                    assert!(slid);
                    if i % 3 == 0 {
                        let removed: i64 = con.del(&key).unwrap();
                        assert_eq!(removed, 1);
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("worker panicked");
    }

    let mut con = server.conn();
    // The admin job sees exactly the live sessions of one worker, each once
    // in a stable keyspace.
    for w in [0, WORKERS - 1] {
        let found = scan_all(&mut con, &format!("session:{w}:*"));
        let expected: HashSet<String> =
            (0..SESSIONS_PER_WORKER).filter(|i| i % 3 != 0).map(|i| session_key(w, i)).collect();
        assert_eq!(found, expected, "SCAN MATCH for worker {w}");
    }
    // Sliding expiry took effect.
    let ttl: i64 = con.ttl(session_key(1, 1)).unwrap();
    assert!((7000..=7200).contains(&ttl), "ttl {ttl}");
    let ttl: i64 = con.ttl(session_key(1, 0)).unwrap();
    assert_eq!(ttl, -2, "a logged-out session is gone");

    // Phase 2: short sessions expire on their own, read or not.
    for i in 0..50 {
        let _: () =
            redis::cmd("SET").arg(format!("session:short:{i}")).arg("x").arg("PX").arg(200).query(&mut con).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while !scan_all(&mut con, "session:short:*").is_empty() {
        assert!(Instant::now() < deadline, "short sessions did not expire");
        thread::sleep(Duration::from_millis(50));
    }
    let gone: Option<String> = con.get("session:short:0").unwrap();
    assert_eq!(gone, None);
    // The long ones are untouched.
    let alive: Option<String> = con.get(session_key(2, 2)).unwrap();
    assert!(alive.is_some());
}
