//! The node starts, answers through the `redis` crate and through
//! `redis-cli`, stores a value, and leaves no process behind.

mod common;

use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use common::Server;

#[test]
fn ping_answers_pong() {
    let server = Server::start();
    let mut conn = server.conn();
    let pong: String = redis::cmd("PING").query(&mut conn).unwrap();
    assert_eq!(pong, "PONG");
}

#[test]
fn redis_cli_ping_prints_pong() {
    let server = Server::start();
    assert_eq!(server.cli(&["ping"]), "PONG");
}

#[test]
fn set_then_get_returns_the_value() {
    let server = Server::start();
    let mut conn = server.conn();
    let ok: String = redis::cmd("SET").arg("smoke:key").arg("value 1").query(&mut conn).unwrap();
    assert_eq!(ok, "OK");
    let value: Option<String> = redis::cmd("GET").arg("smoke:key").query(&mut conn).unwrap();
    assert_eq!(value.as_deref(), Some("value 1"));
    let missing: Option<String> = redis::cmd("GET").arg("smoke:missing").query(&mut conn).unwrap();
    assert_eq!(missing, None);
}

#[test]
fn ping_over_a_raw_connection_gets_exact_bytes() {
    let server = Server::start();
    let mut raw = server.raw();
    raw.send(b"*1\r\n$4\r\nPING\r\n");
    assert_eq!(raw.read_reply(), b"+PONG\r\n");
    assert!(!raw.is_closed());
}

#[test]
fn dropping_the_server_leaves_no_process() {
    let mut server = Server::start();
    let pid = server.pid();
    assert!(server.is_running());
    let proc_dir = format!("/proc/{pid}");
    if !Path::new("/proc/self").exists() {
        eprintln!("no /proc on this system; only checking that drop returns");
        drop(server);
        return;
    }
    assert!(Path::new(&proc_dir).exists());
    drop(server);
    // The child has been reaped by the time drop returns, so its /proc entry
    // is gone; allow a moment for the kernel all the same.
    let deadline = Instant::now() + Duration::from_secs(2);
    while Path::new(&proc_dir).exists() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
    }
    assert!(!Path::new(&proc_dir).exists(), "process {pid} is still there after the Server was dropped");
}
