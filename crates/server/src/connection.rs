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
//! - After a batch the query buffer has room for a whole 16 KiB read (or
//!   for the rest of the large argument being received); a client that
//!   sends nothing for 2 s gives that room back, as Redis's cron does, and
//!   CLIENT LIST's `qbuf`/`qbuf-free` show the buffer as it is.
//! - Malformed input gets one `-ERR Protocol error: ...` and the connection
//!   closes; nothing else on the node is affected.
//! - Pending replies are flushed before they grow large, so a pipeline of
//!   big replies is bounded in memory and a slow reader only slows itself;
//!   a write blocked on a client that does not read still ends on CLIENT
//!   KILL and on shutdown.
//! - A subscriber's messages (see `crate::pubsub`; CLIENT TRACKING's
//!   invalidations use the same mailbox) are written after the reply of
//!   the command that was running when they came, between reads when it
//!   is idle, and before the replies of a batch read after they came; a
//!   publisher never waits for the subscriber.
//! - A blocking command that finds nothing (see `crate::blocking`) parks
//!   the connection after the replies before it are written; what the
//!   client sends meanwhile is read (up to the query buffer limit) and
//!   runs after the blocked command answers, and a client that closes
//!   leaves the wait at once. A write serves the clients blocked on its
//!   keys before its own reply goes out.
//! - A command CLIENT PAUSE holds back (see `crate::pause`) waits, with
//!   everything after it, after the replies before it are written.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, BytesMut};
use ringcache_resp::{Frame, Limits, ProtocolError, Reply, RequestParser};
use ringcache_scripting::Admit;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use crate::blocking;
use crate::client::{Client, ClientInfo};
use crate::cluster::blocking::RemoteBlock;
use crate::cluster::forward::{self, Entry};
use crate::cluster::replicate::{self, Submitted};
use crate::cluster::route::{route, Route};
use crate::cmd;
use crate::pubsub;
use crate::shared::Shared;

/// Replies are written out once this many bytes are pending, even in the
/// middle of a pipeline.
pub const FLUSH_AT_BYTES: usize = 64 * 1024;
/// Initial read buffer; grows as large arguments need it.
const READ_BUF_BYTES: usize = 16 * 1024;
/// A client that has sent nothing for this long gives back its query
/// buffer's spare room, as Redis's `clientsCronResizeQueryBuffer` does to
/// a client idle for more than 2 s.
const QUERY_BUFFER_IDLE: Duration = Duration::from_secs(2);
/// Spare room an idle client's query buffer may keep (Redis: 4 KiB).
const QUERY_BUFFER_SPARE_MAX: usize = 4 * 1024;

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
    /// The next commands run on other nodes: call [`Session::forward`],
    /// then `process` again.
    Forward,
    /// The next command needs what a running script holds: write the
    /// replies, wait for [`script_turn`], then `process` again.
    WaitScript,
    /// The next command runs a script: call [`Session::run_script`], then
    /// `process` again.
    RunScript,
    /// A blocking command found nothing and waits: write the replies,
    /// call [`Session::wait_blocked`], then `process` again.
    Block,
    /// CLIENT PAUSE holds the next command back: write the replies, wait
    /// for the pause to end (`Pause::wait`), then `process` again.
    Paused,
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
    /// The argument spans of the current batch's commands: ranges of the
    /// read buffer, or of the parser's inline scratch for inline commands.
    /// Framing leaves the buffer as it is; it is advanced once per batch.
    spans: Vec<(usize, usize)>,
    /// Each framed command of the batch: where its spans end in `spans`,
    /// whether they are inline arguments, and where it starts in the input.
    batch: Vec<(usize, bool, usize)>,
    /// In a cluster: commands routed elsewhere, waiting for
    /// [`Session::forward`] (see `cluster::forward`).
    run: Vec<Entry>,
    /// Bytes of arguments in `run`.
    run_bytes: usize,
    /// Whether part of `run` runs on this node.
    run_here: bool,
    /// Room for the batch's argument slices, kept between batches (empty
    /// between them; see [`recycle`]).
    views: Vec<&'static [u8]>,
    /// Each command of the batch, resolved before any of them runs.
    prepared: Vec<cmd::Prepared>,
    /// A script command waiting for [`Session::run_script`].
    script: Option<Vec<bytes::Bytes>>,
    /// The blocked command waiting for [`Session::wait_blocked`].
    blocked: Option<Arc<blocking::Waiter>>,
    /// ... or the one that waits on another node.
    remote_blocked: Option<RemoteBlock>,
}

/// An empty vector with `v`'s allocation, for slices of another lifetime:
/// lets the batch's argument slices, which borrow the read buffer, reuse
/// one allocation across batches.
fn recycle<'b>(mut v: Vec<&[u8]>) -> Vec<&'b [u8]> {
    v.clear();
    // Same layout and nothing to map: collected in place, no allocation.
    v.into_iter().map(|_| -> &'b [u8] { unreachable!("the vector is empty") }).collect()
}

/// Commands framed (and their keys looked up) ahead of running them.
const LOOKAHEAD: usize = 16;
/// A run of forwarded commands ends at this many bytes of arguments (and
/// replies held for their turn), so the messages to other nodes stay well
/// under the frame size limit and memory stays bounded.
const RUN_BYTES_MAX: usize = 1 << 20;
/// ... or at this many commands.
const RUN_LEN_MAX: usize = 1024;

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings").field("epoch", &self.epoch).finish()
    }
}

impl Session {
    pub fn new(shared: &Shared, info: Arc<ClientInfo>) -> Session {
        let authenticated = shared.with_config(|c| c.requirepass.is_none());
        let client = Client::new(info, authenticated);
        let settings = Settings::load(shared, client.state.authenticated);
        Session {
            client,
            settings,
            parser: RequestParser::default(),
            spans: Vec::new(),
            batch: Vec::new(),
            run: Vec::new(),
            run_bytes: 0,
            run_here: false,
            views: Vec::new(),
            prepared: Vec::new(),
            script: None,
            blocked: None,
            remote_blocked: None,
        }
    }

    /// Runs every complete command in `input` (consuming it), appending the
    /// replies to `output` in order.
    pub fn process(&mut self, shared: &Shared, input: &mut BytesMut, output: &mut BytesMut) -> Step {
        if shared.config_epoch() != self.settings.epoch {
            self.settings = Settings::load(shared, self.client.state.authenticated);
        }
        if let (Some(mailbox), true) = (&self.client.pubsub.mailbox, self.run.is_empty()) {
            // Messages that came before these commands were read go out
            // before their replies, as Redis writes them when they come
            // (for one that waits, one relaxed load).
            mailbox.drain(output, FLUSH_AT_BYTES);
        }
        let mut commands = 0u64;
        // While the batch runs, CLIENT LIST / INFO show the query buffer
        // with the commands not yet done in it, the running one included,
        // as Redis does (its buffer is trimmed after each command).
        self.client.info.show_query_buffer(input);
        // One clock read per batch: the commands of one read run within
        // microseconds of each other.
        let now_ms = ringcache_store::now_ms();
        // Bytes of `input` used by the commands run so far (and what was
        // skipped before them); dropped at once at the end.
        let mut consumed = 0;
        // Room worth reserving for an argument being received.
        let mut reserve = 0;
        let step = 'batch: loop {
            // Frame up to LOOKAHEAD commands, as spans of `input`, then look
            // their keys up before running any of them: the lookups' cache
            // misses overlap instead of stalling each command in turn.
            self.spans.clear();
            self.batch.clear();
            self.parser.clear_inline();
            let mut at = consumed;
            let mut exhausted = false;
            let mut error = None;
            while self.batch.len() < LOOKAHEAD {
                self.settings.limits.authenticated = self.client.state.authenticated;
                match self.parser.frame(input, at, &self.settings.limits, &mut self.spans) {
                    Ok(Frame::Command { end, inline }) => {
                        self.batch.push((self.spans.len(), inline, at));
                        at = end;
                    }
                    Ok(Frame::Incomplete { resume, reserve: wanted }) => {
                        at = resume;
                        reserve = wanted;
                        exhausted = true;
                        break;
                    }
                    Err(e) => {
                        error = Some(e);
                        break;
                    }
                }
                // Before AUTH, frame one command at a time: AUTH changes
                // the limits the next command is framed under.
                if !self.client.state.authenticated {
                    break;
                }
            }
            consumed = at;
            let mut views = recycle(std::mem::take(&mut self.views));
            let inline_args = self.parser.inline_args();
            let mut from = 0;
            for &(to, inline, _) in &self.batch {
                let src: &[u8] = if inline { inline_args } else { input };
                views.extend(self.spans[from..to].iter().map(|&(s, e)| &src[s..e]));
                from = to;
            }
            // Resolve every command first; with more than one, look their
            // keys up too (see `cmd::warm`).
            self.prepared.clear();
            from = 0;
            for &(to, _, _) in &self.batch {
                self.prepared.push(cmd::prepare(shared, &mut self.client, &views[from..to]));
                from = to;
            }
            if self.batch.len() > 1 {
                from = 0;
                let probes = self.batch.iter().zip(&self.prepared).map(|(&(to, _, _), &p)| {
                    let args = &views[from..to];
                    from = to;
                    (args, p)
                });
                cmd::warm(shared, self.client.state.dbid, probes);
            }
            let mut quit = false;
            // Where a run of forwarded commands stopped the batch: the
            // input offset of the first command not yet taken.
            let mut stop_at = None;
            let mut wait_script = false;
            let mut run_script = false;
            let mut blocked = false;
            let mut paused = false;
            from = 0;
            for (&(to, _, start), &prepared) in self.batch.iter().zip(&self.prepared) {
                let args = &views[from..to];
                from = to;
                // While a script runs, what it holds waits for it, and once
                // it is past busy-reply-threshold everything is BUSY.
                match shared.scripting.admit(&shared.db, prepared.spec(), args) {
                    Admit::Run => {}
                    Admit::Busy(text) => {
                        commands += 1;
                        let reply = busy_reply(shared, &mut self.client, prepared.spec(), text);
                        if self.run.is_empty() {
                            reply.encode(self.client.state.proto, output);
                        } else {
                            self.run.push(Entry::ready(reply));
                        }
                        continue;
                    }
                    Admit::Wait => {
                        stop_at = Some(start);
                        wait_script = true;
                        break;
                    }
                }
                if let Some(refused) = pubsub::context_refusal(&mut self.client, prepared.spec(), args) {
                    // A RESP2 subscriber may run only the Pub/Sub commands.
                    commands += 1;
                    if self.client.mute_reply(None) {
                        continue;
                    }
                    if self.run.is_empty() {
                        output.extend_from_slice(&refused);
                    } else {
                        let entry = Entry::ready(Reply::Raw(refused));
                        self.run_bytes += entry.size();
                        self.run.push(entry);
                    }
                    continue;
                }
                // CLIENT PAUSE holds it back (before it runs, or is
                // queued in MULTI), and what follows it; a command that
                // fails its arity or NOAUTH answers at once, as in Redis.
                if let Some(spec) = prepared.spec().filter(|s| {
                    shared.pause.may_hold()
                        && s.arity_ok(args.len())
                        && (self.client.state.authenticated || s.has(cmd::flag::NO_AUTH))
                }) {
                    if shared.pause.holds(shared, &self.client, spec, args) {
                        stop_at = Some(start);
                        paused = self.run.is_empty();
                        break;
                    }
                }
                // A script runs on a blocking thread, never on this
                // connection's runtime thread (which serves other
                // connections too); outside MULTI, where it is queued.
                let is_script = self.client.state.multi.is_none()
                    && prepared.spec().is_some_and(|s| ringcache_scripting::runs_script(s.name));
                // A blocking command may park this connection: it runs
                // after the forwarded commands before it, never beside them.
                // (XREAD without BLOCK never waits: a read like any other.)
                let may_block = self.client.state.multi.is_none()
                    && prepared.spec().is_some_and(|s| {
                        s.has(cmd::flag::BLOCKING) && ringcache_commands::blocking::timeout_arg(s.keys, args).is_some()
                    });
                if let Some(cluster) = &shared.cluster {
                    let route = route(cluster, &mut self.client, prepared.spec(), args);
                    let local = match route {
                        Route::Local => true,
                        Route::Here if is_script || may_block => true,
                        // Parts of the run that run here (a split or
                        // keyspace-wide command's) run when the run does:
                        // a later command here must not overtake them.
                        Route::Here => self.run.is_empty() || self.run_here,
                        _ => false,
                    };
                    if may_block {
                        // One that waits on another node: after the run
                        // before it, on its own.
                        if let Some(remote) = match &route {
                            Route::Remote(entry) => RemoteBlock::of_entry(cluster, prepared.spec(), entry),
                            _ => None,
                        } {
                            if !self.run.is_empty() {
                                stop_at = Some(start);
                                break;
                            }
                            commands += 1;
                            self.client.mute_reply(None);
                            self.remote_blocked = Some(remote);
                            stop_at = Some(self.batch.iter().find(|b| b.2 > start).map_or(at, |b| b.2));
                            blocked = true;
                            break;
                        }
                    }
                    if local && !self.run.is_empty() {
                        // Runs after the forwarded commands before it.
                        stop_at = Some(start);
                        break;
                    }
                    if !local {
                        commands += 1;
                        let entry = match route {
                            Route::Remote(entry) => {
                                if self.client.tracking.on {
                                    // Remembered here, where the client is.
                                    shared.tracking.remember_forwarded(&mut self.client, prepared.spec(), args);
                                }
                                // Counted against CLIENT REPLY SKIP; a
                                // forwarded command's reply is relayed
                                // whatever CLIENT REPLY says (README).
                                self.client.mute_reply(None);
                                entry
                            }
                            Route::Reply(_) if self.client.mute_reply(None) => {
                                Entry::ready(Reply::Raw(bytes::Bytes::new()))
                            }
                            Route::Reply(reply) => Entry::ready(reply),
                            Route::Here => {
                                // Runs now; its reply waits for its turn.
                                let reply = run_here(shared, &mut self.client, args, prepared, now_ms);
                                held(shared, &mut self.client, reply)
                            }
                            Route::Local => unreachable!("handled above"),
                        };
                        self.run_bytes += entry.size();
                        self.run_here |= entry.parts.iter().any(|p| p.node == cluster.me);
                        self.run.push(entry);
                        if self.run.len() >= RUN_LEN_MAX || self.run_bytes >= RUN_BYTES_MAX {
                            stop_at = Some(self.batch.iter().find(|b| b.2 > start).map_or(at, |b| b.2));
                            break;
                        }
                        continue;
                    }
                }
                commands += 1;
                if is_script {
                    self.script = Some(args.iter().map(|a| bytes::Bytes::copy_from_slice(a)).collect());
                    stop_at = Some(self.batch.iter().find(|b| b.2 > start).map_or(at, |b| b.2));
                    run_script = true;
                    break;
                }
                if let Some(spec) = prepared.spec().filter(|s| s.keys == cmd::Keys::All) {
                    self.client.state.scope = shared.cluster.as_ref().and_then(|c| c.scope_for(Some(spec)));
                }
                self.client.state.may_block = may_block;
                if shared.db.over_memory_limit() {
                    evict_first(shared, &self.client, output, now_ms);
                }
                let reply = run_here(shared, &mut self.client, args, prepared, now_ms);
                self.client.state.may_block = false;
                self.client.state.scope = None;
                if let Some(block) = self.client.state.block.take() {
                    // What it wrote while finding nothing (XREADGROUP's
                    // new consumer) replicates now, not with the client's
                    // next command; nobody waits for it.
                    let _ = replicate::submit(shared, &mut self.client);
                    // Nothing to pop: park until a write serves it (the
                    // replies before it go out first).
                    self.blocked = Some(blocking::block(shared, &self.client, block, args));
                    stop_at = Some(self.batch.iter().find(|b| b.2 > start).map_or(at, |b| b.2));
                    blocked = true;
                    break;
                }
                if !self.client.state.changes.is_empty() {
                    // It wrote, in a replicated cluster: its reply waits
                    // for the quorum, and what follows waits behind it.
                    let entry = held(shared, &mut self.client, reply);
                    self.run_bytes += entry.size();
                    self.run.push(entry);
                    continue;
                }
                if !self.client.mute_reply(prepared.spec().map(|s| s.name)) {
                    reply.encode(self.client.state.proto, output);
                }
                if let Some(mailbox) = &self.client.pubsub.mailbox {
                    // Messages published while the command ran (to itself
                    // too) follow its reply, as in Redis 7.2.
                    mailbox.drain(output, FLUSH_AT_BYTES);
                }
                if self.client.close_after_reply {
                    quit = true;
                    break;
                }
            }
            self.views = recycle(views);
            if quit {
                self.leave(shared);
                break 'batch Step::Close(End::Quit);
            }
            if let Some(start) = stop_at {
                // The rest of the batch is framed again after the run (or
                // the script).
                consumed = start;
                self.parser.rewind();
                if wait_script && self.run.is_empty() {
                    break 'batch Step::WaitScript;
                }
                if run_script {
                    break 'batch Step::RunScript;
                }
                if blocked {
                    break 'batch Step::Block;
                }
                if paused {
                    break 'batch Step::Paused;
                }
                break 'batch Step::Forward;
            }
            if !self.run.is_empty() && (exhausted || error.is_some()) {
                // Answer the run first; the unfinished command (or the
                // protocol error) is framed again after it.
                break 'batch Step::Forward;
            }
            if let Some(e) = error {
                e.reply().encode(self.client.state.proto, output);
                break Step::Close(End::Protocol(e));
            }
            if exhausted {
                break Step::NeedInput;
            }
            if output.len() >= FLUSH_AT_BYTES {
                break Step::OutputFull;
            }
        };
        input.advance(consumed);
        // What is left unparsed is part of one command; if it fills the
        // whole limit, that command cannot fit.
        let step = match step {
            Step::NeedInput if input.len() >= self.settings.query_buffer_limit => Step::Close(End::QueryBufferLimit),
            Step::NeedInput => {
                // Room for a whole read (Redis reads 16 KiB at a time into
                // its query buffer), or for more of a large argument at
                // once. Space the commands run have freed is reused first.
                input.reserve(reserve.max(READ_BUF_BYTES));
                Step::NeedInput
            }
            step => step,
        };
        if commands > 0 {
            self.client.publish();
        }
        self.client.info.show_query_buffer(input);
        shared.stats.commands_processed.fetch_add(commands, Relaxed);
        step
    }

    /// Runs the commands [`Session::process`] routed to other nodes
    /// (after [`Step::Forward`]) and appends their replies to `output`.
    pub async fn forward(&mut self, shared: &Shared, output: &mut BytesMut) {
        let mut run = std::mem::take(&mut self.run);
        self.run_bytes = 0;
        self.run_here = false;
        if let Some(cluster) = &shared.cluster {
            forward::execute(shared, cluster, &mut self.client, &mut run, output).await;
        }
        // Keep the allocation for the next run.
        self.run = run;
        self.run.clear();
    }

    /// Runs the script command [`Session::process`] stopped at (after
    /// [`Step::RunScript`]) on a blocking thread, the client moved there
    /// and back, and appends its reply to `output` (once its writes reach
    /// their quorum, in a replicated cluster).
    pub async fn run_script(&mut self, shared: &Arc<Shared>, output: &mut BytesMut) {
        let Some(args) = self.script.take() else { return };
        let placeholder = Client::new(self.client.info.clone(), self.client.state.authenticated);
        let client = std::mem::replace(&mut self.client, placeholder);
        let node = shared.clone();
        let job = tokio::task::spawn_blocking(move || {
            let mut client = client;
            let views: Vec<&[u8]> = args.iter().map(|a| &a[..]).collect();
            let now_ms = ringcache_store::now_ms();
            let reply = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                cmd::dispatch(&node, &mut client, &views, now_ms)
            }))
            .unwrap_or_else(|_| Reply::error_static("ERR internal error running the script"));
            (client, reply)
        });
        let reply = match job.await {
            Ok((client, reply)) => {
                self.client = client;
                reply
            }
            Err(_) => Reply::error_static("ERR internal error running the script"),
        };
        if !self.client.state.ready.is_empty() {
            blocking::serve(shared, &mut self.client.state.ready);
        }
        if self.client.state.changes.is_empty() {
            reply.encode(self.client.state.proto, output);
            return;
        }
        let entry = held(shared, &mut self.client, reply);
        self.run.push(entry);
        self.forward(shared, output).await;
    }

    /// Waits for the blocked command [`Session::process`] stopped at
    /// (after [`Step::Block`]) to be served, time out or be unblocked, and
    /// appends its reply to `output`. Meanwhile it reads what the client
    /// sends (up to the query buffer limit, to run afterwards), so that a
    /// client that goes away leaves the wait at once.
    pub async fn wait_blocked(
        &mut self,
        shared: &Arc<Shared>,
        stream: &mut TcpStream,
        input: &mut BytesMut,
        output: &mut BytesMut,
    ) -> Result<(), End> {
        if let Some(remote) = self.remote_blocked.take() {
            return self.wait_remote(shared, stream, input, output, remote).await;
        }
        let Some(w) = self.blocked.take() else { return Ok(()) };
        let deadline = (w.timeout_ms > 0).then(|| tokio::time::Instant::now() + Duration::from_millis(w.timeout_ms));
        let kill = self.client.info.kill.clone();
        let outcome = loop {
            let room = self.settings.query_buffer_limit.saturating_sub(input.len());
            let read = async {
                if room == 0 {
                    std::future::pending::<()>().await;
                }
                stream.read_buf(&mut (&mut *input).limit(room)).await
            };
            let end = tokio::select! {
                outcome = blocking::wait(shared, &w, deadline) => break outcome,
                r = read => match r {
                    Ok(0) => End::ClientClosed,
                    Ok(n) => {
                        shared.stats.net_input_bytes.fetch_add(n as u64, Relaxed);
                        continue;
                    }
                    Err(e) => End::Io(e),
                },
                _ = kill.cancelled() => End::Killed,
                _ = shared.shutdown.cancelled() => End::Shutdown,
            };
            blocking::leave(shared, &w);
            return Err(end);
        };
        let spec = cmd::lookup(w.command());
        let muted = self.client.mute_reply(spec.map(|s| s.name));
        if let (Some(spec), blocking::Outcome::TimedOut | blocking::Outcome::Unblocked) = (spec, &outcome) {
            // Not run again: its call is counted now (a re-run counts as
            // it runs).
            let error = matches!(outcome, blocking::Outcome::Unblocked).then_some(blocking::UNBLOCKED_ERROR.as_bytes());
            shared.observe.ended_blocked(cmd::stat_names().slot(spec, spec.name), error);
        }
        let reply = match outcome {
            blocking::Outcome::Served(reply, Submitted::Waiting(waits, ids)) => {
                let mut encoded = BytesMut::new();
                if !muted {
                    reply.encode(self.client.state.proto, &mut encoded);
                }
                self.run.push(Entry::replicated(encoded.freeze(), waits, ids));
                self.forward(shared, output).await;
                return Ok(());
            }
            blocking::Outcome::Served(_, Submitted::Refused(text)) => Reply::error_static(text),
            blocking::Outcome::Served(reply, Submitted::Nothing) => reply,
            blocking::Outcome::TimedOut => w.timeout_reply.clone(),
            blocking::Outcome::Unblocked => Reply::error_static(blocking::UNBLOCKED_ERROR),
            blocking::Outcome::Gone => return Err(End::Killed),
        };
        if !muted {
            reply.encode(self.client.state.proto, output);
        }
        Ok(())
    }

    /// [`Session::wait_blocked`] for a command that waits on another node
    /// (`cluster::blocking`).
    async fn wait_remote(
        &mut self,
        shared: &Arc<Shared>,
        stream: &mut TcpStream,
        input: &mut BytesMut,
        output: &mut BytesMut,
        mut remote: RemoteBlock,
    ) -> Result<(), End> {
        let Some(cluster) = shared.cluster.clone() else { return Ok(()) };
        // Counted as blocked here, and open to CLIENT UNBLOCK.
        let here = blocking::proxy(shared, &self.client, remote.args());
        let (proto, id, dbid) = (self.client.state.proto, self.client.id, self.client.state.dbid);
        let timeout_reply = remote.timeout_reply().clone();
        let kill = self.client.info.kill.clone();
        let mut answer = Box::pin(remote.wait(shared, &cluster, proto, id, dbid));
        // The answer, if it came for a client that had left.
        let mut served = None;
        let ended = loop {
            let room = self.settings.query_buffer_limit.saturating_sub(input.len());
            let read = async {
                if room == 0 {
                    std::future::pending::<()>().await;
                }
                stream.read_buf(&mut (&mut *input).limit(room)).await
            };
            // Biased: a client seen leaving (or unblocked) before the
            // answer is read is abandoned, and what the answer popped for
            // it goes back, rather than being written to a closed socket.
            let end = tokio::select! {
                biased;
                _ = kill.cancelled() => End::Killed,
                _ = shared.shutdown.cancelled() => End::Shutdown,
                r = read => match r {
                    Ok(0) => End::ClientClosed,
                    Ok(n) => {
                        shared.stats.net_input_bytes.fetch_add(n as u64, Relaxed);
                        continue;
                    }
                    Err(e) => End::Io(e),
                },
                outcome = blocking::wait(shared, &here, None) => match outcome {
                    blocking::Outcome::Unblocked => break Ok(Reply::error_static(blocking::UNBLOCKED_ERROR)),
                    blocking::Outcome::Gone => End::Killed,
                    _ => break Ok(timeout_reply),
                },
                encoded = &mut answer => {
                    // The runtime may hand the answer over before it has
                    // seen the client's close: the socket itself tells.
                    if peer_closed(stream) {
                        served = Some(encoded);
                        End::ClientClosed
                    } else {
                        blocking::leave(shared, &here);
                        output.extend_from_slice(&encoded);
                        return Ok(());
                    }
                }
            };
            break Err(end);
        };
        drop(answer);
        blocking::leave(shared, &here);
        remote.abandon(shared, &cluster, proto, id, dbid, served);
        let reply = ended?;
        reply.encode(proto, output);
        Ok(())
    }

    /// A client that asked to be closed (QUIT, CLIENT KILL of itself,
    /// SHUTDOWN) is gone for every other client as of now, before its
    /// reply goes out: one that has read QUIT's `+OK` is no longer a
    /// tracking redirect's target (the next invalidation reports
    /// `tracking-redir-broken`), a subscriber, or in CLIENT LIST, as in
    /// Redis, which frees it right after writing that reply. [`close`]
    /// does the same again, and the rest.
    ///
    /// [`close`]: Session::close
    fn leave(&mut self, shared: &Shared) {
        pubsub::unsubscribe_all(&shared.pubsub, &mut self.client);
        shared.tracking.disable(shared, &mut self.client);
        shared.clients.unregister(self.client.id);
    }

    /// Ends the session: forgets its WATCHes and unregisters the client.
    pub fn close(mut self, shared: &Shared) {
        if let Some(w) = self.blocked.take() {
            blocking::leave(shared, &w);
        }
        if let (Some(cluster), Some(node)) = (&shared.cluster, self.client.tx_session.take()) {
            cluster.release_session(node, self.client.id);
        }
        cmd::release_watches(&shared.db, &mut self.client.state);
        pubsub::unsubscribe_all(&shared.pubsub, &mut self.client);
        shared.tracking.disable(shared, &mut self.client);
        shared.clients.unregister(self.client.id);
    }
}

/// Over `maxmemory`, every command evicts first, reads too, and what it
/// evicted is told to the clients tracking it before this command's reply,
/// as Redis's `processCommand` runs `performEvictions` before any command.
/// (Whether the command may then run is its own: only a `denyoom` one is
/// refused.)
#[cold]
fn evict_first(shared: &Shared, client: &Client, output: &mut BytesMut, now_ms: u64) {
    let _ = shared.db.ensure_memory(now_ms);
    shared.tracking.deliver(shared, None);
    if let Some(mailbox) = &client.pubsub.mailbox {
        mailbox.drain(output, FLUSH_AT_BYTES);
    }
}

/// Whether the client closed (or reset) its side of `stream`, from the
/// socket itself rather than from the readiness the runtime has seen so
/// far; a client that sent more first is still there for this.
fn peer_closed(stream: &TcpStream) -> bool {
    let mut probe = [std::mem::MaybeUninit::<u8>::uninit(); 1];
    match socket2::SockRef::from(stream).peek(&mut probe) {
        Ok(n) => n == 0,
        Err(e) => !matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted),
    }
}

/// Runs one command here ([`run_notified`]), then serves the clients
/// blocked on what it wrote, before its own reply goes out.
#[inline]
fn run_here(shared: &Shared, client: &mut Client, args: &[&[u8]], prepared: cmd::Prepared, now_ms: u64) -> Reply {
    let reply = run_notified(shared, client, args, prepared, now_ms);
    if !client.state.ready.is_empty() {
        blocking::serve(shared, &mut client.state.ready);
    }
    reply
}

/// Runs one command here, with its keyspace notifications (none, and no
/// cost beyond one load, while `notify-keyspace-events` is off).
#[inline]
pub(crate) fn run_notified(
    shared: &Shared,
    client: &mut Client,
    args: &[&[u8]],
    prepared: cmd::Prepared,
    now_ms: u64,
) -> Reply {
    let before = pubsub::notify::before(shared, client.state.dbid, prepared.spec(), args, now_ms);
    let reply = cmd::dispatch_prepared(shared, client, args, prepared, now_ms);
    if let Some(before) = before {
        pubsub::notify::after(shared, prepared.spec(), args, before, now_ms);
    }
    reply
}

/// The reply to a command refused while a script is busy, as Redis's
/// `rejectCommand`: inside MULTI the refusal fails the transaction, and an
/// EXEC refused so discards it (`-EXECABORT Transaction discarded because
/// of: BUSY ...`), so that nothing queued runs half.
fn busy_reply(shared: &Shared, client: &mut Client, spec: Option<&cmd::CommandSpec>, text: &'static str) -> Reply {
    let Some(multi) = client.state.multi.as_mut() else {
        return Reply::error_static(text);
    };
    if spec.is_none_or(|s| s.name != "exec") {
        multi.dirty = true;
        return Reply::error_static(text);
    }
    cmd::end_multi(&mut client.state);
    cmd::release_watches(&shared.db, &mut client.state);
    if let (Some(cluster), Some(node)) = (&shared.cluster, client.tx_session.take()) {
        cluster.release_session(node, client.id);
    }
    client.tx_slot = None;
    Reply::error(format!("EXECABORT Transaction discarded because of: {text}"))
}

/// The entry of a command that ran here: its reply, held for its turn
/// in the run and, if it wrote, until its writes reach their quorum.
fn held(shared: &Shared, client: &mut Client, reply: Reply) -> Entry {
    let mut encoded = BytesMut::new();
    let reply = if client.mute_reply(Some(client.state.last_cmd)) { Reply::Raw(bytes::Bytes::new()) } else { reply };
    match replicate::submit(shared, client) {
        Submitted::Nothing => {
            reply.encode(client.state.proto, &mut encoded);
            Entry::ready(Reply::Raw(encoded.freeze()))
        }
        Submitted::Waiting(waits, ids) => {
            reply.encode(client.state.proto, &mut encoded);
            Entry::replicated(encoded.freeze(), waits, ids)
        }
        Submitted::Refused(text) => Entry::ready(Reply::error_static(text)),
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

async fn run(shared: &Arc<Shared>, session: &mut Session, stream: &mut TcpStream) -> End {
    let mut rbuf = BytesMut::with_capacity(READ_BUF_BYTES);
    let mut wbuf = BytesMut::with_capacity(READ_BUF_BYTES);
    let kill = session.client.info.kill.clone();
    // When the client last sent something, and a timer that gives the
    // query buffer back once it has been idle for QUERY_BUFFER_IDLE. The
    // timer is set once per quiet spell, not on every read: when it goes
    // off early it is set again from `last_read`.
    let mut last_read = Instant::now();
    let idle_timer = tokio::time::sleep(QUERY_BUFFER_IDLE);
    tokio::pin!(idle_timer);
    let mut idle_timer_set = true;
    loop {
        // Never read past the limit. Complete commands are run as soon as
        // they are parsed, so what stays in `rbuf` is one unfinished
        // command; bounding the read makes a command larger than the limit
        // fail the same way however its bytes arrive.
        let room = session.settings.query_buffer_limit.saturating_sub(rbuf.len());
        if room == 0 {
            return End::QueryBufferLimit;
        }
        // As in Redis, `timeout` does not close a Pub/Sub subscriber.
        let idle_timeout = if session.client.pubsub.active() { None } else { session.settings.idle_timeout };
        // A subscriber also wakes for messages published to it.
        let mailbox = session.client.pubsub.mailbox.clone();
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
            _ = pubsub::ready(mailbox.as_deref()) => {
                if let Err(end) = deliver(shared, stream, &mut wbuf, mailbox.as_deref(), &kill).await {
                    return end;
                }
                continue;
            }
            () = &mut idle_timer, if idle_timer_set => {
                let quiet_until = last_read + QUERY_BUFFER_IDLE;
                if Instant::now() >= quiet_until {
                    shrink_idle(&mut rbuf);
                    session.client.info.show_query_buffer(&rbuf);
                    // Nothing more to give back before the client sends.
                    idle_timer_set = false;
                } else {
                    idle_timer.as_mut().reset(quiet_until.into());
                }
                continue;
            }
            _ = kill.cancelled() => return End::Killed,
            _ = shared.shutdown.cancelled() => return End::Shutdown,
        };
        shared.stats.net_input_bytes.fetch_add(n as u64, Relaxed);
        loop {
            let step = session.process(shared, &mut rbuf, &mut wbuf);
            if let Step::Forward = step {
                // Bounded by cluster-timeout; kill and shutdown still end
                // the connection at once.
                tokio::select! {
                    _ = session.forward(shared, &mut wbuf) => {}
                    _ = kill.cancelled() => return End::Killed,
                    _ = shared.shutdown.cancelled() => return End::Shutdown,
                }
                if wbuf.len() < FLUSH_AT_BYTES {
                    continue;
                }
            }
            if let Err(end) = flush(shared, stream, &mut wbuf, &kill).await {
                return end;
            }
            match step {
                Step::NeedInput => break,
                Step::OutputFull | Step::Forward => continue,
                Step::Paused => {
                    tokio::select! {
                        _ = shared.pause.wait(&shared.db) => continue,
                        _ = kill.cancelled() => return End::Killed,
                        _ = shared.shutdown.cancelled() => return End::Shutdown,
                    }
                }
                Step::WaitScript => {
                    tokio::select! {
                        _ = script_turn(shared) => continue,
                        _ = kill.cancelled() => return End::Killed,
                        _ = shared.shutdown.cancelled() => return End::Shutdown,
                    }
                }
                Step::RunScript => {
                    tokio::select! {
                        _ = session.run_script(shared, &mut wbuf) => continue,
                        _ = kill.cancelled() => return End::Killed,
                        _ = shared.shutdown.cancelled() => return End::Shutdown,
                    }
                }
                Step::Block => match session.wait_blocked(shared, stream, &mut rbuf, &mut wbuf).await {
                    Ok(()) => continue,
                    Err(end) => return end,
                },
                Step::Close(end) => return end,
            }
        }
        // Give memory back after a large argument has been consumed.
        if rbuf.is_empty() && rbuf.capacity() > 4 * READ_BUF_BYTES {
            rbuf = BytesMut::with_capacity(READ_BUF_BYTES);
            session.client.info.show_query_buffer(&rbuf);
        }
        last_read = Instant::now();
        if !idle_timer_set {
            idle_timer.as_mut().reset((last_read + QUERY_BUFFER_IDLE).into());
            idle_timer_set = true;
        }
    }
}

/// An idle client's query buffer, as Redis's `clientsCronResizeQueryBuffer`
/// leaves it: cut to what it holds (nothing at all when it is empty) once it
/// wastes more than QUERY_BUFFER_SPARE_MAX. The next read makes room again.
fn shrink_idle(buf: &mut BytesMut) {
    if buf.capacity() - buf.len() > QUERY_BUFFER_SPARE_MAX {
        *buf = if buf.is_empty() { BytesMut::new() } else { BytesMut::from(&buf[..]) };
    }
}

/// Waits until the running script ends or turns busy (when the command
/// that waited gets its `-BUSY`), holding no lock meanwhile.
pub(crate) async fn script_turn(shared: &Shared) {
    while shared.scripting.is_running() && !shared.scripting.is_busy() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Writes out the messages waiting in a subscriber's mailbox, a bounded
/// chunk at a time, so that what waits is counted against the subscriber's
/// output buffer limit while its socket is full.
async fn deliver(
    shared: &Shared,
    stream: &mut TcpStream,
    wbuf: &mut BytesMut,
    mailbox: Option<&pubsub::Mailbox>,
    kill: &CancellationToken,
) -> Result<(), End> {
    let Some(mailbox) = mailbox else { return Ok(()) };
    loop {
        let more = mailbox.drain(wbuf, FLUSH_AT_BYTES);
        flush(shared, stream, wbuf, kill).await?;
        if !more {
            return Ok(());
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use bytes::Bytes;
    use ringcache_resp::{decode_reply, Reply};

    fn session(config: Config) -> (Shared, Session) {
        let shared = Shared::new(config);
        let addr = "127.0.0.1:1".parse().expect("valid address");
        let info = shared.clients.register(addr, addr, 10).expect("room for a client");
        let session = Session::new(&shared, info);
        (shared, session)
    }

    fn command(args: &[&str]) -> Vec<u8> {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
        }
        out
    }

    /// Every reply in `out`, decoded.
    fn replies(out: &[u8]) -> Vec<Reply> {
        let mut at = 0;
        let mut all = Vec::new();
        while at < out.len() {
            let (reply, used) = decode_reply(&out[at..]).expect("well-formed").expect("complete");
            all.push(reply);
            at += used;
        }
        all
    }

    fn run(shared: &Shared, session: &mut Session, wire: &[u8]) -> (Step, Vec<Reply>) {
        let mut input = BytesMut::from(wire);
        let mut output = BytesMut::new();
        let step = session.process(shared, &mut input, &mut output);
        (step, replies(&output))
    }

    #[test]
    fn recycling_keeps_the_allocation() {
        let data = [1u8, 2, 3];
        let mut v: Vec<&[u8]> = Vec::with_capacity(32);
        v.push(&data[..]);
        let ptr = v.as_ptr() as usize;
        let w: Vec<&'static [u8]> = recycle(v);
        assert!(w.is_empty());
        assert_eq!((w.as_ptr() as usize, w.capacity()), (ptr, 32));
    }

    #[test]
    fn a_command_split_across_reads_and_inline_commands_run() {
        let (shared, mut s) = session(Config::for_test());
        let wire =
            [command(&["SET", "k", "hello"]), b"GET k\r\n\r\nECHO \"a b\"\n".to_vec(), command(&["GET", "k"])].concat();
        let mut input = BytesMut::new();
        let mut output = BytesMut::new();
        for piece in wire.chunks(5) {
            input.extend_from_slice(piece);
            assert!(matches!(s.process(&shared, &mut input, &mut output), Step::NeedInput));
        }
        assert!(input.is_empty());
        let hello = Reply::Bulk(Bytes::from_static(b"hello"));
        assert_eq!(replies(&output), vec![Reply::ok(), hello.clone(), Reply::Bulk(Bytes::from_static(b"a b")), hello]);
    }

    #[test]
    fn a_long_pipeline_runs_in_order() {
        let (shared, mut s) = session(Config::for_test());
        let wire: Vec<u8> = (0..100).flat_map(|_| command(&["INCR", "n"])).collect();
        let (step, out) = run(&shared, &mut s, &wire);
        assert!(matches!(step, Step::NeedInput));
        assert_eq!(out, (1..=100).map(Reply::Integer).collect::<Vec<_>>());
    }

    #[test]
    fn nothing_after_quit_runs() {
        let (shared, mut s) = session(Config::for_test());
        let wire = [command(&["SET", "a", "1"]), command(&["QUIT"]), command(&["SET", "b", "2"])].concat();
        let (step, out) = run(&shared, &mut s, &wire);
        assert!(matches!(step, Step::Close(End::Quit)));
        assert_eq!(out, vec![Reply::ok(), Reply::ok()]);
        assert!(shared.db.lock_key(b"b").shard(b"b").peek(b"b", 0).is_none());
    }

    #[test]
    fn commands_before_a_protocol_error_still_run() {
        let (shared, mut s) = session(Config::for_test());
        let wire = [command(&["SET", "a", "1"]), command(&["GET", "a"]), b"*1\r\n+x\r\n".to_vec()].concat();
        let (step, out) = run(&shared, &mut s, &wire);
        assert!(matches!(step, Step::Close(End::Protocol(_))));
        assert_eq!(out.len(), 3);
        assert_eq!(out[0], Reply::ok());
        assert_eq!(out[1], Reply::Bulk(Bytes::from_static(b"1")));
        assert_eq!(out[2], Reply::Error(Bytes::from_static(b"ERR Protocol error: expected '$', got '+'")));
    }

    #[test]
    fn commands_after_auth_in_one_pipeline_get_authenticated_limits() {
        let mut config = Config::for_test();
        config.requirepass = Some("secret".to_owned());
        let (shared, mut s) = session(config);
        // Eleven arguments: more than an unauthenticated client may send.
        let mset: Vec<String> = ["MSET"]
            .into_iter()
            .map(str::to_owned)
            .chain((0..5).flat_map(|i| [format!("k{i}"), "v".to_owned()]))
            .collect();
        let mset: Vec<&str> = mset.iter().map(String::as_str).collect();
        let wire = [command(&["AUTH", "secret"]), command(&mset), command(&["GET", "k4"])].concat();
        let (step, out) = run(&shared, &mut s, &wire);
        assert!(matches!(step, Step::NeedInput), "{step:?}");
        assert_eq!(out, vec![Reply::ok(), Reply::ok(), Reply::Bulk(Bytes::from_static(b"v"))]);
    }
}
