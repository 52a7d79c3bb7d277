//! A real `redis-server` beside a node, to compare replies and values
//! with, when one is installed: [`Reference::start`] gives `None` (and
//! says so) when it is not, so the comparisons skip rather than fail on a
//! machine without Redis. The process is killed by its pid on drop.

use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::{free_port, STARTUP_POLL, STARTUP_TIMEOUT};

#[derive(Debug)]
pub struct Reference {
    pub port: u16,
    child: Child,
}

impl Reference {
    /// Starts `redis-server` on a free port with persistence off, or
    /// `None` if there is no `redis-server` to run.
    pub fn start() -> Option<Reference> {
        let port = free_port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let Ok(child) = child else {
            eprintln!("redis-server is not installed: the side-by-side comparison is skipped");
            return None;
        };
        let reference = Reference { port, child };
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            let ready = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
                .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(1)))
                .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c));
            if ready.is_ok() {
                return Some(reference);
            }
            assert!(Instant::now() < deadline, "redis-server did not answer on port {port}");
            thread::sleep(STARTUP_POLL);
        }
    }

    pub fn conn(&self) -> redis::Connection {
        let client = redis::Client::open(format!("redis://127.0.0.1:{}/", self.port)).expect("client");
        let conn = client.get_connection_with_timeout(super::IO_TIMEOUT).expect("connect to redis-server");
        conn.set_read_timeout(Some(super::IO_TIMEOUT)).expect("read timeout");
        conn
    }

    /// `INFO server`'s `redis_version`.
    pub fn version(&self) -> String {
        let info: String = redis::cmd("INFO").arg("server").query(&mut self.conn()).expect("INFO");
        info.lines().find_map(|l| l.strip_prefix("redis_version:")).unwrap_or("?").trim().to_owned()
    }
}

impl Drop for Reference {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
