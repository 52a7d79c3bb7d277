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

use bytes::{BufMut, BytesMut};
use ringcache_resp::{parse_request, Limits, ProtocolError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use crate::client::{Client, ClientInfo};
use crate::cmd;
use crate::shared::Shared;

/// Replies are written out once this many bytes are pending, even in the
/// middle of a pipeline.
const FLUSH_AT_BYTES: usize = 64 * 1024;
/// Initial read buffer; grows as large arguments need it.
const READ_BUF_BYTES: usize = 16 * 1024;

/// Why a connection ended, for the log.
#[derive(Debug)]
enum End {
    ClientClosed,
    Quit,
    Killed,
    Shutdown,
    IdleTimeout,
    Protocol(ProtocolError),
    QueryBufferLimit,
    Io(std::io::Error),
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

pub(crate) async fn serve(shared: Arc<Shared>, info: Arc<ClientInfo>, mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let authenticated = shared.with_config(|c| c.requirepass.is_none());
    let mut client = Client::new(info.clone(), authenticated);
    let end = run(&shared, &mut client, &mut stream).await;
    match &end {
        End::Protocol(e) => tracing::debug!(client = client.id, "closing client after protocol error: {e}"),
        End::QueryBufferLimit => {
            tracing::warn!(client = client.id, "closing client that reached max query buffer length")
        }
        End::Io(e) => tracing::debug!(client = client.id, "connection error: {e}"),
        other => tracing::trace!(client = client.id, "connection closed: {other:?}"),
    }
    cmd::release_watches(&shared, &mut client);
    shared.clients.unregister(client.id);
}

async fn run(shared: &Shared, client: &mut Client, stream: &mut TcpStream) -> End {
    let mut settings = Settings::load(shared, client.authenticated);
    let mut rbuf = BytesMut::with_capacity(READ_BUF_BYTES);
    let mut wbuf = BytesMut::with_capacity(READ_BUF_BYTES);
    let kill = client.info.kill.clone();
    loop {
        // Never read past the limit. Complete commands are run as soon as
        // they are parsed, so what stays in `rbuf` is one unfinished
        // command; bounding the read makes a command larger than the limit
        // fail the same way however its bytes arrive.
        let room = settings.query_buffer_limit.saturating_sub(rbuf.len());
        if room == 0 {
            return End::QueryBufferLimit;
        }
        let read = async {
            let mut buf = (&mut rbuf).limit(room);
            match settings.idle_timeout {
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
        if shared.config_epoch() != settings.epoch {
            settings = Settings::load(shared, client.authenticated);
        }

        let mut commands = 0u64;
        let mut end = None;
        loop {
            settings.limits.authenticated = client.authenticated;
            let args = match parse_request(&mut rbuf, &settings.limits) {
                Ok(Some(args)) => args,
                Ok(None) => break,
                Err(e) => {
                    e.reply().encode(client.proto, &mut wbuf);
                    end = Some(End::Protocol(e));
                    break;
                }
            };
            commands += 1;
            let reply = cmd::dispatch(shared, client, &args);
            reply.encode(client.proto, &mut wbuf);
            if client.close_after_reply {
                end = Some(End::Quit);
                break;
            }
            if wbuf.len() >= FLUSH_AT_BYTES {
                if let Err(end) = flush(shared, stream, &mut wbuf, &kill).await {
                    return end;
                }
            }
        }
        // What is left unparsed is part of one command; if it fills the
        // whole limit, that command cannot fit.
        if end.is_none() && rbuf.len() >= settings.query_buffer_limit {
            end = Some(End::QueryBufferLimit);
        }
        client.info.qbuf.store(rbuf.len(), Relaxed);
        shared.stats.commands_processed.fetch_add(commands, Relaxed);
        if let Err(end) = flush(shared, stream, &mut wbuf, &kill).await {
            return end;
        }
        if let Some(end) = end {
            return end;
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
    tokio::select! {
        r = stream.write_all(wbuf) => r.map_err(End::Io)?,
        _ = kill.cancelled() => return Err(End::Killed),
        _ = shared.shutdown.cancelled() => return Err(End::Shutdown),
    }
    shared.stats.net_output_bytes.fetch_add(wbuf.len() as u64, Relaxed);
    wbuf.clear();
    Ok(())
}
