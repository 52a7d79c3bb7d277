//! Harness for the integration tests in `crates/ringcache/tests/*.rs`.
//!
//! Each test file does `mod common;` and starts its own node with
//! [`Server::start`]. A node listens on 127.0.0.1 only, on a port picked
//! free for it, and logs to a file in its own temporary directory. Every wait
//! in here is bounded, and dropping a [`Server`] stops its process, also when
//! the test panics (the log is then printed to stderr).
//!
//! Only std and the sync API of the `redis` crate are used, so that
//! the harness keeps working whatever the node's own crates look like.

#![allow(dead_code)]

pub mod cluster;
pub mod fault;
pub mod reference;

use std::fs;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long a node may take to answer its first `PING`.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(15);
/// How often the start-up wait polls.
pub const STARTUP_POLL: Duration = Duration::from_millis(20);
/// How long a node gets to exit after SIGTERM before it is killed.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
/// Read/write timeout of every client connection, and the bound on `redis-cli`.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// How many fresh ports `start_with` tries when the port turns out to be taken.
pub const PORT_ATTEMPTS_MAX: usize = 5;

static NEXT_DIR_ID: AtomicU64 = AtomicU64::new(0);

/// One `ringcache` process, listening on `127.0.0.1:port`.
#[derive(Debug)]
pub struct Server {
    pub port: u16,
    child: Child,
    dir: PathBuf,
    log_path: PathBuf,
    args: Vec<String>,
}

/// Why one start attempt failed.
enum StartError {
    /// The process exited because its port was taken: try another port.
    AddrInUse,
    /// Anything else: give up, with this message.
    Fatal(String),
}

impl Server {
    /// Starts a node with no arguments beyond `--bind` and `--port`.
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// Starts a node with `--bind 127.0.0.1 --port <free port>` followed by
    /// `args`, and returns once it answers `PING` (with `+PONG`, or `-NOAUTH`
    /// when started with `--requirepass`).
    ///
    /// Panics with the node's log if it exits or is not ready within
    /// [`STARTUP_TIMEOUT`].
    pub fn start_with(args: &[&str]) -> Server {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let dir = make_temp_dir();
        let mut last_log = String::new();
        for attempt in 1..=PORT_ATTEMPTS_MAX {
            let port = free_port();
            let log_path = dir.join(format!("ringcache-{port}.log"));
            let child = spawn_node(port, &args, &log_path);
            let mut server = Server { port, child, dir: dir.clone(), log_path, args: args.clone() };
            match server.wait_ready() {
                Ok(()) => return server,
                Err(StartError::AddrInUse) => {
                    last_log = server.log();
                    eprintln!(
                        "ringcache: port {port} was taken (attempt {attempt} of \
                         {PORT_ATTEMPTS_MAX}), trying another one"
                    );
                    // Stop the process if it still runs; keep the directory,
                    // the next attempt logs into it too.
                    server.dir = PathBuf::new();
                    drop(server);
                }
                Err(StartError::Fatal(message)) => {
                    let log = server.log();
                    // Stops the process and removes its directory; the log
                    // goes into the panic message instead.
                    drop(server);
                    panic!("{message}\n--- ringcache log ---\n{log}--- end of log ---");
                }
            }
        }
        let _ = fs::remove_dir_all(&dir);
        panic!(
            "ringcache: no free port after {PORT_ATTEMPTS_MAX} attempts\n\
             --- last ringcache log ---\n{last_log}--- end of log ---"
        );
    }

    /// Starts a node on `port` exactly (one attempt): `Err` if the port
    /// turned out to be taken, so the caller can pick other ports. Panics
    /// with the log on any other failure.
    pub fn start_on(port: u16, args: &[&str]) -> Result<Server, String> {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let dir = make_temp_dir();
        let log_path = dir.join(format!("ringcache-{port}.log"));
        let child = spawn_node(port, &args, &log_path);
        let mut server = Server { port, child, dir, log_path, args };
        match server.wait_ready() {
            Ok(()) => Ok(server),
            Err(StartError::AddrInUse) => Err(format!("port {port} was taken")),
            Err(StartError::Fatal(message)) => {
                let log = server.log();
                drop(server);
                panic!("{message}\n--- ringcache log ---\n{log}--- end of log ---");
            }
        }
    }

    /// Polls until the node answers `PING` on its port, it exits, or the
    /// start-up timeout passes.
    fn wait_ready(&mut self) -> Result<(), StartError> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    let log = self.log();
                    if looks_like_addr_in_use(&log) {
                        return Err(StartError::AddrInUse);
                    }
                    return Err(StartError::Fatal(format!(
                        "ringcache exited during start-up with {status} (port {}, args {:?})",
                        self.port, self.args
                    )));
                }
                Ok(None) => {}
                Err(e) => return Err(StartError::Fatal(format!("ringcache: try_wait failed: {e}"))),
            }
            // Answering PING is not enough: another test's node could hold
            // this port if ours failed to bind it. Where /proc tells who
            // listens, the listener must be ours.
            if ping(self.port) && port_owned_by(self.port, self.child.id()) != Some(false) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(StartError::Fatal(format!(
                    "ringcache did not answer PING on 127.0.0.1:{} within {:?} (args {:?})",
                    self.port, STARTUP_TIMEOUT, self.args
                )));
            }
            thread::sleep(STARTUP_POLL);
        }
    }

    /// `redis://127.0.0.1:PORT/`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// `redis://127.0.0.1:PORT/?protocol=resp3`: the client sends `HELLO 3`.
    pub fn url_resp3(&self) -> String {
        format!("{}?protocol=resp3", self.url())
    }

    /// A `redis::Client` for this node (RESP2).
    pub fn client(&self) -> redis::Client {
        redis::Client::open(self.url()).expect("valid redis url")
    }

    /// A RESP2 connection with [`IO_TIMEOUT`] on connect, reads and writes,
    /// so that a hung node fails the test instead of hanging it.
    pub fn conn(&self) -> redis::Connection {
        connect(&self.url())
    }

    /// Like [`Server::conn`], in database `db`: the URL
    /// `redis://127.0.0.1:PORT/DB`, so the client SELECTs it on connect.
    pub fn conn_db(&self, db: u16) -> redis::Connection {
        connect(&format!("redis://127.0.0.1:{}/{db}", self.port))
    }

    /// Like [`Server::conn`], but the connection speaks RESP3 (`HELLO 3`).
    pub fn conn_resp3(&self) -> redis::Connection {
        connect(&self.url_resp3())
    }

    /// Runs `redis-cli -h 127.0.0.1 -p PORT <args>` and returns its stdout
    /// with trailing whitespace removed. The arguments pass through as they
    /// are, so the test chooses flags such as `--raw` or `--no-raw` (with
    /// stdout not a terminal, redis-cli prints raw replies by default).
    ///
    /// Panics if redis-cli is missing, runs longer than [`IO_TIMEOUT`], or
    /// exits with an error status.
    pub fn cli(&self, args: &[&str]) -> String {
        self.cli_output(args, None).expect_success()
    }

    /// Like [`Server::cli`], with `input` fed on stdin (for example to
    /// `redis-cli --pipe`, or several commands one per line).
    pub fn cli_stdin(&self, args: &[&str], input: &[u8]) -> String {
        self.cli_output(args, Some(input)).expect_success()
    }

    /// Runs redis-cli like [`Server::cli`] but returns the exit status,
    /// stdout and stderr, whatever the status is.
    pub fn cli_output(&self, args: &[&str], input: Option<&[u8]>) -> CliOutput {
        let port = self.port.to_string();
        let mut full: Vec<&str> = vec!["-h", "127.0.0.1", "-p", &port];
        full.extend_from_slice(args);
        run_bounded("redis-cli", &full, input, IO_TIMEOUT)
    }

    /// A plain TCP connection for sending bytes as they are.
    pub fn raw(&self) -> RawConn {
        RawConn::connect(self.port)
    }

    /// The node's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process has not exited yet.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Everything the node has written to stdout and stderr so far.
    pub fn log(&self) -> String {
        match fs::read(&self.log_path) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) => format!("(cannot read {}: {e})\n", self.log_path.display()),
        }
    }

    /// Where the node's log is.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Sends `signal` (a name `kill` knows: `STOP`, `CONT`, `KILL`...) to
    /// the process; false if it could not be sent.
    pub fn signal(&self, signal: &str) -> bool {
        Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// `kill -9`: the process dies at once, with whatever it held in memory.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the node again on the same port with the same arguments (with
    /// an empty memory, as after a crash), after killing it if it still
    /// runs. Panics with the log if it does not come up.
    pub fn restart(&mut self) {
        self.kill();
        let restarts = NEXT_DIR_ID.fetch_add(1, Ordering::Relaxed);
        self.log_path = self.dir.join(format!("ringcache-{}-restart-{restarts}.log", self.port));
        self.child = spawn_node(self.port, &self.args, &self.log_path);
        if let Err(e) = self.wait_ready() {
            let why = match e {
                StartError::AddrInUse => format!("port {} was taken while the node was down", self.port),
                StartError::Fatal(m) => m,
            };
            panic!("restart failed: {why}\n--- ringcache log ---\n{}--- end of log ---", self.log());
        }
    }

    /// Sends SIGTERM, waits up to [`SHUTDOWN_TIMEOUT`] for the process to
    /// exit, and kills it if it has not. Returns the exit status when known.
    /// Safe to call more than once.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Some(status);
        }
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + SHUTDOWN_TIMEOUT;
        while Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) => thread::sleep(STARTUP_POLL),
                Err(_) => break,
            }
        }
        eprintln!(
            "ringcache (pid {}) did not exit within {:?} of SIGTERM; killing it",
            self.child.id(),
            SHUTDOWN_TIMEOUT
        );
        let _ = self.child.kill();
        self.child.wait().ok()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
        if thread::panicking() {
            // The test failed: show what the node said, and keep the file.
            eprintln!("--- ringcache log ({}) ---\n{}--- end of log ---", self.log_path.display(), self.log());
        } else if !self.dir.as_os_str().is_empty() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// A port that was free a moment ago: bind port 0, read the port, let go.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local_addr").port()
}

fn make_temp_dir() -> PathBuf {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let id = NEXT_DIR_ID.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("ringcache-test-{}-{id}-{nanos}", std::process::id()));
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

fn spawn_node(port: u16, args: &[String], log_path: &Path) -> Child {
    let log = fs::File::create(log_path).unwrap_or_else(|e| panic!("create {}: {e}", log_path.display()));
    let log_err = log.try_clone().expect("clone log file handle");
    Command::new(env!("CARGO_BIN_EXE_ringcache"))
        .arg("--bind")
        .arg("127.0.0.1")
        .arg("--port")
        .arg(port.to_string())
        .args(args)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", env!("CARGO_BIN_EXE_ringcache")))
}

fn looks_like_addr_in_use(log: &str) -> bool {
    let log = log.to_ascii_lowercase();
    log.contains("address already in use")
        || log.contains("address in use")
        || log.contains("addrinuse")
        || log.contains("eaddrinuse")
}

/// One `PING` on a fresh connection; true on `+PONG`, or on `-NOAUTH` from
/// a node started with `--requirepass` (it is up; it wants AUTH first).
fn ping(port: u16) -> bool {
    let probe_timeout = Duration::from_millis(500);
    let addr = ([127, 0, 0, 1], port).into();
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, probe_timeout) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(probe_timeout));
    let _ = stream.set_write_timeout(Some(probe_timeout));
    if stream.write_all(b"*1\r\n$4\r\nPING\r\n").is_err() {
        return false;
    }
    let mut reply = Vec::new();
    let mut buf = [0u8; 64];
    while reply.len() < 7 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return false,
            Ok(n) => reply.extend_from_slice(&buf[..n]),
        }
    }
    reply.starts_with(b"+PONG\r\n") || reply.starts_with(b"-NOAUTH")
}

/// Whether the IPv4 TCP listener on `port` belongs to process `pid`, read
/// from /proc. `None` when /proc cannot tell (not Linux, or no listener seen).
fn port_owned_by(port: u16, pid: u32) -> Option<bool> {
    let table = fs::read_to_string("/proc/net/tcp").ok()?;
    let wanted_port = format!("{port:04X}");
    let mut inodes = Vec::new();
    for line in table.lines().skip(1) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
        if fields.len() < 10 || fields[3] != "0A" {
            continue;
        }
        let local_port = fields[1].rsplit(':').next().unwrap_or("");
        if local_port.eq_ignore_ascii_case(&wanted_port) {
            inodes.push(format!("socket:[{}]", fields[9]));
        }
    }
    if inodes.is_empty() {
        return None;
    }
    let fds = fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    for fd in fds.flatten() {
        if let Ok(target) = fs::read_link(fd.path()) {
            let target = target.to_string_lossy();
            if inodes.iter().any(|inode| *inode == target) {
                return Some(true);
            }
        }
    }
    Some(false)
}

fn connect(url: &str) -> redis::Connection {
    let client = redis::Client::open(url).unwrap_or_else(|e| panic!("open {url}: {e}"));
    let conn = client.get_connection_with_timeout(IO_TIMEOUT).unwrap_or_else(|e| panic!("connect to {url}: {e}"));
    conn.set_read_timeout(Some(IO_TIMEOUT)).expect("set read timeout");
    conn.set_write_timeout(Some(IO_TIMEOUT)).expect("set write timeout");
    conn
}

/// What a bounded child process left behind.
#[derive(Debug)]
pub struct CliOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl CliOutput {
    /// Stdout with trailing whitespace removed; panics unless the status is 0.
    pub fn expect_success(self) -> String {
        assert!(
            self.status.success(),
            "redis-cli exited with {}\nstdout:\n{}\nstderr:\n{}",
            self.status,
            self.stdout,
            self.stderr
        );
        self.stdout.trim_end().to_string()
    }
}

/// Runs `program args`, feeding `input` on stdin, and kills it if it runs
/// longer than `timeout`.
fn run_bounded(program: &str, args: &[&str], input: Option<&[u8]>, timeout: Duration) -> CliOutput {
    let mut child = Command::new(program)
        .args(args)
        .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {program} (run `make deps` to install it): {e}"));
    // Feed stdin and drain stdout/stderr on their own threads so that a full
    // pipe can never block the child or us.
    let stdin_thread = input.map(|input| {
        let mut stdin = child.stdin.take().expect("piped stdin");
        let input = input.to_vec();
        thread::spawn(move || {
            let _ = stdin.write_all(&input);
        })
    });
    let stdout_thread = drain(child.stdout.take().expect("piped stdout"));
    let stderr_thread = drain(child.stderr.take().expect("piped stderr"));
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{program} {args:?} did not finish within {timeout:?}; killed it");
            }
            Err(e) => panic!("{program}: try_wait failed: {e}"),
        }
    };
    if let Some(t) = stdin_thread {
        let _ = t.join();
    }
    let stdout = stdout_thread.join().unwrap_or_default();
    let stderr = stderr_thread.join().unwrap_or_default();
    CliOutput {
        status,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

fn drain<R: Read + Send + 'static>(mut reader: R) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut out = Vec::new();
        let _ = reader.read_to_end(&mut out);
        out
    })
}

/// A plain TCP connection to a node, for sending bytes as they are
/// (malformed protocol included) and checking the exact bytes that come back.
#[derive(Debug)]
pub struct RawConn {
    stream: TcpStream,
    /// Bytes received but not yet returned.
    buf: Vec<u8>,
    /// The peer closed its side (EOF or reset was seen).
    eof: bool,
}

impl RawConn {
    /// Connects to `127.0.0.1:port` with [`IO_TIMEOUT`] on connect, reads
    /// and writes.
    pub fn connect(port: u16) -> RawConn {
        let addr = ([127, 0, 0, 1], port).into();
        let stream =
            TcpStream::connect_timeout(&addr, IO_TIMEOUT).unwrap_or_else(|e| panic!("connect 127.0.0.1:{port}: {e}"));
        stream.set_read_timeout(Some(IO_TIMEOUT)).expect("set read timeout");
        stream.set_write_timeout(Some(IO_TIMEOUT)).expect("set write timeout");
        let _ = stream.set_nodelay(true);
        RawConn { stream, buf: Vec::new(), eof: false }
    }

    /// Writes `bytes` exactly as given.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap_or_else(|e| panic!("send {:?}: {e}", String::from_utf8_lossy(bytes)));
    }

    /// Writes one command, encoded as a RESP array of bulk strings.
    pub fn send_cmd(&mut self, args: &[&str]) {
        self.send(&encode_cmd(args));
    }

    /// Closes our writing side; the node sees EOF on its read side.
    pub fn shutdown_write(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }

    /// Reads one complete RESP2/RESP3 reply (nested aggregates, attributes
    /// and streamed types included) and returns its bytes exactly. Bytes
    /// after it stay buffered for the next call.
    ///
    /// Panics if the reply is malformed, the connection closes first, or no
    /// complete reply arrives within [`IO_TIMEOUT`].
    pub fn read_reply(&mut self) -> Vec<u8> {
        let deadline = Instant::now() + IO_TIMEOUT;
        loop {
            match reply_len(&self.buf) {
                Ok(Some(len)) => return self.buf.drain(..len).collect(),
                Ok(None) => {}
                Err(e) => panic!("malformed reply ({e}): {:?}", String::from_utf8_lossy(&self.buf)),
            }
            if self.eof {
                panic!("connection closed before a complete reply; got {:?}", String::from_utf8_lossy(&self.buf));
            }
            if !self.fill(deadline) {
                panic!("no complete reply within {IO_TIMEOUT:?}; got {:?}", String::from_utf8_lossy(&self.buf));
            }
        }
    }

    /// Reads one reply and returns it as (lossy) UTF-8 text.
    pub fn read_reply_string(&mut self) -> String {
        String::from_utf8_lossy(&self.read_reply()).into_owned()
    }

    /// Reads until the node closes the connection and returns every byte
    /// not yet returned. Panics if it is still open after [`IO_TIMEOUT`].
    pub fn read_until_closed(&mut self) -> Vec<u8> {
        let deadline = Instant::now() + IO_TIMEOUT;
        while !self.eof {
            if !self.fill(deadline) {
                panic!("connection still open after {IO_TIMEOUT:?}; got {:?}", String::from_utf8_lossy(&self.buf));
            }
        }
        std::mem::take(&mut self.buf)
    }

    /// Whether the node has closed the connection, waiting up to 500 ms for
    /// it to do so. Bytes that arrive meanwhile stay buffered.
    pub fn is_closed(&mut self) -> bool {
        self.wait_closed(Duration::from_millis(500))
    }

    /// Whether the node closes the connection within `timeout`.
    pub fn wait_closed(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while !self.eof {
            if !self.fill(deadline) {
                return false;
            }
        }
        true
    }

    /// Reads once into the buffer. False when the deadline passed first.
    fn fill(&mut self, deadline: Instant) -> bool {
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        // A zero timeout means "block forever" to std, so never pass one.
        let left = (deadline - now).max(Duration::from_millis(1));
        self.stream.set_read_timeout(Some(left)).expect("set read timeout");
        let mut chunk = [0u8; 16 * 1024];
        let result = self.stream.read(&mut chunk);
        let _ = self.stream.set_read_timeout(Some(IO_TIMEOUT));
        match result {
            Ok(0) => {
                self.eof = true;
                true
            }
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => false,
            Err(e) if matches!(e.kind(), io::ErrorKind::Interrupted) => true,
            Err(_) => {
                // Reset, aborted, broken pipe: the node is gone from this socket.
                self.eof = true;
                true
            }
        }
    }
}

/// Encodes `args` as a RESP array of bulk strings.
pub fn encode_cmd(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Nesting deeper than this is treated as malformed, so that a bad reply
/// cannot overflow the test's stack.
const REPLY_DEPTH_MAX: usize = 128;

/// Length of the first complete RESP2/RESP3 reply in `buf`: `Ok(None)` when
/// more bytes are needed, `Err` when the bytes are not RESP.
pub fn reply_len(buf: &[u8]) -> Result<Option<usize>, String> {
    parse_value(buf, 0, 0)
}

/// Parses one value starting at `pos`; returns the position just past it.
fn parse_value(buf: &[u8], pos: usize, depth: usize) -> Result<Option<usize>, String> {
    if depth > REPLY_DEPTH_MAX {
        return Err(format!("nesting deeper than {REPLY_DEPTH_MAX}"));
    }
    let Some(&kind) = buf.get(pos) else {
        return Ok(None);
    };
    let Some((line, next)) = read_line(buf, pos + 1) else {
        return Ok(None);
    };
    match kind {
        // Simple string, error, integer, null, double, boolean, big number.
        b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => Ok(Some(next)),
        // Bulk string, bulk error, verbatim string.
        b'$' | b'!' | b'=' => {
            if line == b"?" && kind == b'$' {
                return parse_streamed_string(buf, next);
            }
            let len = parse_len(line)?;
            if len < 0 {
                return Ok(Some(next)); // RESP2 null bulk: $-1
            }
            let end = next + len as usize;
            if buf.len() < end + 2 {
                return Ok(None);
            }
            if &buf[end..end + 2] != b"\r\n" {
                return Err(format!("bulk of length {len} not followed by CRLF"));
            }
            Ok(Some(end + 2))
        }
        // Array, set, push; map and attribute hold two values per entry.
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let per_entry = if matches!(kind, b'%' | b'|') { 2 } else { 1 };
            let mut at = next;
            if line == b"?" {
                // Streamed aggregate: values until the `.\r\n` terminator.
                loop {
                    if buf.len() < at + 3 {
                        return Ok(None);
                    }
                    if &buf[at..at + 3] == b".\r\n" {
                        at += 3;
                        break;
                    }
                    match parse_value(buf, at, depth + 1)? {
                        Some(end) => at = end,
                        None => return Ok(None),
                    }
                }
            } else {
                let count = parse_len(line)?;
                if count < 0 {
                    return Ok(Some(next)); // RESP2 null array: *-1
                }
                for _ in 0..count * per_entry {
                    match parse_value(buf, at, depth + 1)? {
                        Some(end) => at = end,
                        None => return Ok(None),
                    }
                }
            }
            if kind == b'|' {
                // An attribute annotates the reply that follows it.
                return parse_value(buf, at, depth + 1);
            }
            Ok(Some(at))
        }
        other => Err(format!("unknown reply type byte {:?}", other as char)),
    }
}

/// `$?\r\n` then `;<len>\r\n<bytes>\r\n` chunks until `;0\r\n`.
fn parse_streamed_string(buf: &[u8], mut at: usize) -> Result<Option<usize>, String> {
    loop {
        let Some(&marker) = buf.get(at) else {
            return Ok(None);
        };
        if marker != b';' {
            return Err(format!("streamed string chunk starts with {:?}", marker as char));
        }
        let Some((line, next)) = read_line(buf, at + 1) else {
            return Ok(None);
        };
        let len = parse_len(line)?;
        if len < 0 {
            return Err("negative streamed chunk length".to_string());
        }
        if len == 0 {
            return Ok(Some(next));
        }
        let end = next + len as usize;
        if buf.len() < end + 2 {
            return Ok(None);
        }
        if &buf[end..end + 2] != b"\r\n" {
            return Err("streamed chunk not followed by CRLF".to_string());
        }
        at = end + 2;
    }
}

/// The line starting at `pos` without its CRLF, and the position after it.
fn read_line(buf: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    let rest = buf.get(pos..)?;
    let cr = rest.windows(2).position(|w| w == b"\r\n")?;
    Some((&rest[..cr], pos + cr + 2))
}

fn parse_len(line: &[u8]) -> Result<i64, String> {
    std::str::from_utf8(line)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .filter(|n| *n >= -1)
        .ok_or_else(|| format!("bad length {:?}", String::from_utf8_lossy(line)))
}

// ---------------------------------------------------------------------------
// Client helpers shared by the test files: commands given as `&[&str]`, run
// through the `redis` crate or a [`RawConn`], and Redis 7.2's error texts.
// ---------------------------------------------------------------------------

/// `WRONGTYPE` error text, as [`err`] returns it.
pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
/// Redis's error text for an argument that is not a 64-bit integer.
pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
/// Redis's error text for an argument that is not a float.
pub const NOT_FLOAT: &str = "ERR value is not a valid float";
/// Redis's error text for unknown or misplaced options.
pub const SYNTAX: &str = "ERR syntax error";

/// The wrong-arity error text for `cmd` (lowercase, as Redis quotes it).
pub fn arity(cmd: &str) -> String {
    format!("ERR wrong number of arguments for '{cmd}' command")
}

/// An error text as the node writes it on the wire: `-TEXT\r\n`.
pub fn resp_err(text: &str) -> String {
    format!("-{text}\r\n")
}

/// The command `args[0]` with the arguments `args[1..]`.
pub fn cmd(args: &[&str]) -> redis::Cmd {
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    c
}

/// Runs a command that must succeed; panics with the command otherwise.
pub fn run<T: redis::FromRedisValue>(conn: &mut redis::Connection, args: &[&str]) -> T {
    cmd(args).query(conn).unwrap_or_else(|e| panic!("{args:?} failed: {e}"))
}

/// Runs a command that must fail, returning the error's full text
/// (`CODE detail`, e.g. "ERR syntax error").
pub fn err(conn: &mut redis::Connection, args: &[&str]) -> String {
    match cmd(args).query::<redis::Value>(conn) {
        Ok(v) => panic!("{args:?} should fail, got {v:?}"),
        Err(e) => format!("{} {}", e.code().unwrap_or("?"), e.detail().unwrap_or("")),
    }
}

/// Runs a command whose reply must be an integer reply (not a string that
/// parses as one).
pub fn int(conn: &mut redis::Connection, args: &[&str]) -> i64 {
    match run(conn, args) {
        redis::Value::Int(i) => i,
        v => panic!("{args:?}: expected an integer, got {v:?}"),
    }
}

/// Runs a command whose reply must be an array of bulk strings; returns them
/// in reply order (RESP2 sends scores as bulk strings too).
pub fn array(conn: &mut redis::Connection, args: &[&str]) -> Vec<String> {
    match run(conn, args) {
        redis::Value::Array(items) => items.iter().map(text).collect(),
        v => panic!("{args:?}: expected an array, got {v:?}"),
    }
}

/// A bulk-string reply value holding `s`, to compare replies with.
pub fn bulk(s: &str) -> redis::Value {
    redis::Value::BulkString(s.as_bytes().to_vec())
}

/// The text of a reply that must be a bulk string.
pub fn text(v: &redis::Value) -> String {
    match v {
        redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        v => panic!("expected a bulk string, got {v:?}"),
    }
}

/// `["a", "b"]` as owned strings, to compare with [`array`] and the like.
pub fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Whether `key` exists, told by GET alone: nil if absent, WRONGTYPE if it
/// holds a collection.
pub fn exists(conn: &mut redis::Connection, key: &str) -> bool {
    match cmd(&["GET", key]).query::<redis::Value>(conn) {
        Ok(redis::Value::Nil) => false,
        Ok(_) => true,
        Err(e) if e.code() == Some("WRONGTYPE") => true,
        Err(e) => panic!("GET {key}: {e}"),
    }
}

/// Sends one command on a raw connection and returns its reply exactly as
/// the node wrote it.
pub fn call(raw: &mut RawConn, args: &[&str]) -> String {
    raw.send_cmd(args);
    raw.read_reply_string()
}

/// Runs `args` on `conn` in a thread, reading for at most 10 s (a blocking
/// command the test means to wake); the handle gives the reply, or the
/// error's text (`CODE detail`).
pub fn spawn_on(mut conn: redis::Connection, args: &[&str]) -> std::thread::JoinHandle<Result<redis::Value, String>> {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    conn.set_read_timeout(Some(std::time::Duration::from_secs(10))).expect("read timeout");
    std::thread::spawn(move || {
        let mut c = redis::cmd(&args[0]);
        for a in &args[1..] {
            c.arg(a);
        }
        c.query::<redis::Value>(&mut conn)
            .map_err(|e| format!("{} {}", e.code().unwrap_or("?"), e.detail().unwrap_or("")))
    })
}
