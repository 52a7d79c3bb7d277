//! One client connection: read what the client sent, run every complete
//! command, write all the replies at once.
//!
//! Invariants:
//! - Replies go out in the order the commands came in.
//! - The query buffer never grows past `client-query-buffer-limit`: reads
//!   stop at the limit, complete commands run as soon as they are parsed,
//!   and a command that cannot fit closes the connection (after the replies
//!   to the commands before it), whichever way its bytes arrive. A bulk or
//!   multibulk length past its limit is refused before anything is
//!   allocated for it.
//! - Malformed input gets one `-ERR Protocol error: ...` and the connection
//!   closes; nothing else on the node is affected.
//! - Pending replies are flushed before they grow large, so a pipeline of
//!   big replies is bounded in memory and a slow reader only slows itself;
//!   a write blocked on a client that does not read still ends on CLIENT
//!   KILL and on shutdown.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use ringcache_resp::{Limits, ProtocolError, RequestParser};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use crate::client::{Client, ClientInfo};
use crate::cmd;
use crate::shared::Shared;

/// Replies are written out once this many bytes are pending, even in the
/// middle of a pipeline.
pub const FLUSH_AT_BYTES: usize = 64 * 1024;
/// Initial read buffer; grows as large arguments need it.
const READ_BUF_BYTES: usize = 16 * 1024;

/// Why a connection ended, for the log.
#[derive(Debug)]
pub enum End {
    ClientClosed,
    /// QUIT, SHUTDOWN or CLIENT KILL of oneself: close after the reply.
    Quit,
    Killed,
    Shutdown,
    IdleTimeout,
    Protocol(ProtocolError),
    QueryBufferLimit,
    Io(std::io::Error),
}

/// What [`Session::process`] stopped at.
#[derive(Debug)]
pub enum Step {
    /// Every complete command has run: write the replies, then read more.
    NeedInput,
    /// Replies reached [`FLUSH_AT_BYTES`]: write them, then call again
    /// before reading more.
    OutputFull,
    /// Write the replies, then close the connection.
    Close(End),
}

struct Settings {
    epoch: u64,
    limits: Limits,
    query_buffer_limit: usize,
    idle_timeout: Option<Duration>,
}

impl Settings {
    fn load(shared: &Shared, authenticated: bool) -> Settings {
        let epoch = shared.config_epoch();
        shared.with_config(|c| Settings {
            epoch,
            limits: Limits {
                bulk_len_max: c.proto_max_bulk_len as usize,
                multibulk_len_max: c.proto_max_multibulk_len as usize,
                authenticated,
            },
            query_buffer_limit: c.client_query_buffer_limit as usize,
            idle_timeout: (c.timeout_secs > 0).then(|| Duration::from_secs(c.timeout_secs)),
        })
    }
}

/// Everything a connection is, except its socket: the client's state and
/// the limits it is held to. The command path end to end, minus I/O, so it
/// can be benchmarked and tested without a network.
#[derive(Debug)]
pub struct Session {
    client: Client,
    settings: Settings,
    parser: RequestParser,
    /// The current command's arguments; reused so framing doesn't allocate.
    args: Vec<Bytes>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings").field("epoch", &self.epoch).finish()
    }
}

impl Session {
    pub fn new(shared: &Shared, info: Arc<ClientInfo>) -> Session {
        let authenticated = shared.with_config(|c| c.requirepass.is_none());
        let client = Client::new(info, authenticated);
        let settings = Settings::load(shared, client.authenticated);
        Session { client, settings, parser: RequestParser::default(), args: Vec::new() }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Runs every complete command in `input` (consuming it), appending the
    /// replies to `output` in order.
    pub fn process(&mut self, shared: &Shared, input: &mut BytesMut, output: &mut BytesMut) -> Step {
        if shared.config_epoch() != self.settings.epoch {
            self.settings = Settings::load(shared, self.client.authenticated);
        }
        let mut commands = 0u64;
        // One clock read per batch: the commands of one read run within
        // microseconds of each other.
        let now_ms = ringcache_store::now_ms();
        let step = loop {
            self.settings.limits.authenticated = self.client.authenticated;
            match self.parser.parse(input, &self.settings.limits, &mut self.args) {
                Ok(true) => {}
                Ok(false) => break Step::NeedInput,
                Err(e) => {
                    e.reply().encode(self.client.proto, output);
                    break Step::Close(End::Protocol(e));
                }
            }
            commands += 1;
            let reply = cmd::dispatch(shared, &mut self.client, &self.args, now_ms);
            reply.encode(self.client.proto, output);
            if self.client.close_after_reply {
                break Step::Close(End::Quit);
            }
            if output.len() >= FLUSH_AT_BYTES {
                break Step::OutputFull;
            }
        };
        // What is left unparsed is part of one command; if it fills the
        // whole limit, that command cannot fit.
        let step = match step {
            Step::NeedInput if input.len() >= self.settings.query_buffer_limit => Step::Close(End::QueryBufferLimit),
            step => step,
        };
        // Drop the last command's slices of the read buffer, so the buffer
        // can reuse its space.
        self.args.clear();
        if commands > 0 {
            self.client.info.touch(self.client.last_cmd);
        }
        self.client.info.qbuf.store(input.len(), Relaxed);
        shared.stats.commands_processed.fetch_add(commands, Relaxed);
        step
    }

    /// Ends the session: forgets its WATCHes and unregisters the client.
    pub fn close(mut self, shared: &Shared) {
        cmd::release_watches(shared, &mut self.client);
        shared.clients.unregister(self.client.id);
    }
}

pub(crate) async fn serve(shared: Arc<Shared>, info: Arc<ClientInfo>, mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut session = Session::new(&shared, info);
    let end = run(&shared, &mut session, &mut stream).await;
    let id = session.client.id;
    match &end {
        End::Protocol(e) => tracing::debug!(client = id, "closing client after protocol error: {e}"),
        End::QueryBufferLimit => tracing::warn!(client = id, "closing client that reached max query buffer length"),
        End::Io(e) => tracing::debug!(client = id, "connection error: {e}"),
        other => tracing::trace!(client = id, "connection closed: {other:?}"),
    }
    session.close(&shared);
}

async fn run(shared: &Shared, session: &mut Session, stream: &mut TcpStream) -> End {
    let mut rbuf = BytesMut::with_capacity(READ_BUF_BYTES);
    let mut wbuf = BytesMut::with_capacity(READ_BUF_BYTES);
    let kill = session.client.info.kill.clone();
    loop {
        // Never read past the limit. Complete commands are run as soon as
        // they are parsed, so what stays in `rbuf` is one unfinished
        // command; bounding the read makes a command larger than the limit
        // fail the same way however its bytes arrive.
        let room = session.settings.query_buffer_limit.saturating_sub(rbuf.len());
        if room == 0 {
            return End::QueryBufferLimit;
        }
        let idle_timeout = session.settings.idle_timeout;
        let read = async {
            let mut buf = (&mut rbuf).limit(room);
            match idle_timeout {
                Some(t) => tokio::time::timeout(t, stream.read_buf(&mut buf)).await.ok(),
                None => Some(stream.read_buf(&mut buf).await),
            }
        };
        let n = tokio::select! {
            r = read => match r {
                None => return End::IdleTimeout,
                Some(Ok(0)) => return End::ClientClosed,
                Some(Ok(n)) => n,
                Some(Err(e)) => return End::Io(e),
            },
            _ = kill.cancelled() => return End::Killed,
            _ = shared.shutdown.cancelled() => return End::Shutdown,
        };
        shared.stats.net_input_bytes.fetch_add(n as u64, Relaxed);
        loop {
            let step = session.process(shared, &mut rbuf, &mut wbuf);
            if let Err(end) = flush(shared, stream, &mut wbuf, &kill).await {
                return end;
            }
            match step {
                Step::NeedInput => break,
                Step::OutputFull => continue,
                Step::Close(end) => return end,
            }
        }
        // Give memory back after a large argument has been consumed.
        if rbuf.is_empty() && rbuf.capacity() > 4 * READ_BUF_BYTES {
            rbuf = BytesMut::with_capacity(READ_BUF_BYTES);
        }
    }
}

/// Writes out the pending replies. A client that does not read blocks
/// this, so it also gives up on CLIENT KILL and on shutdown: neither may
/// wait on a client.
async fn flush(
    shared: &Shared,
    stream: &mut TcpStream,
    wbuf: &mut BytesMut,
    kill: &CancellationToken,
) -> Result<(), End> {
    if wbuf.is_empty() {
        return Ok(());
    }
    // A client that does not read must not hold its connection (or the
    // node's shutdown) hostage: the write also ends on kill and shutdown.
    tokio::select! {
        r = stream.write_all(wbuf) => r.map_err(End::Io)?,
        _ = kill.cancelled() => return Err(End::Killed),
        _ = shared.shutdown.cancelled() => return Err(End::Shutdown),
    }
    shared.stats.net_output_bytes.fetch_add(wbuf.len() as u64, Relaxed);
    wbuf.clear();
    Ok(())
}
