//! What the node records about the commands it runs: INFO commandstats,
//! errorstats and latencystats ([`stats`]), SLOWLOG ([`slowlog`]), the
//! latency monitor ([`latency`]) and MONITOR ([`monitor`]).
//!
//! Every command that runs reaches [`Observer::ran`] (through the command
//! layer's `Env::command_ran`, for the client's commands, EXEC's and
//! scripts' alike), and every refusal [`Observer::refused`].
//!
//! Invariants:
//! - The hot path takes no lock that other threads' commands take: the
//!   counters are per thread (see [`stats`]); the slow log, the latency
//!   events and the monitors cost one atomic load each until a command
//!   qualifies for them (a threshold reached, a monitor connected).
//! - Everything kept is bounded (see each module).

pub mod latency;
pub mod monitor;
pub mod slowlog;
pub mod stats;

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::RwLock;
use ringcache_commands::{flag, Caller, Ran};
use ringcache_resp::Reply;

use crate::client::Client;
use crate::config::Config;
use crate::shared::Shared;

/// The node's observer. See the module docs.
#[derive(Debug)]
pub struct Observer {
    pub stats: stats::CommandStats,
    pub slowlog: slowlog::SlowLog,
    pub latency: latency::LatencyMonitor,
    pub monitors: monitor::Monitors,
    /// `latency-tracking`: whether calls are added to the histograms.
    tracking: AtomicBool,
    /// `latency-tracking-info-percentiles`.
    percentiles: RwLock<Vec<f64>>,
}

impl Observer {
    pub fn new(config: &Config) -> Observer {
        let o = Observer {
            stats: stats::CommandStats::default(),
            slowlog: slowlog::SlowLog::default(),
            latency: latency::LatencyMonitor::default(),
            monitors: monitor::Monitors::default(),
            tracking: AtomicBool::new(true),
            percentiles: RwLock::new(vec![50.0, 99.0, 99.9]),
        };
        o.configure(config);
        o
    }

    /// Takes the parameters it follows from `config` (at start and on
    /// every CONFIG SET; CONFIG SET has checked them).
    pub fn configure(&self, config: &Config) {
        let int = |name: &str, default: i64| config.get(name).and_then(|v| v.parse::<i64>().ok()).unwrap_or(default);
        self.slowlog
            .configure(int("slowlog-log-slower-than", 10_000), u64::try_from(int("slowlog-max-len", 128)).unwrap_or(0));
        self.latency.set_threshold_ms(u64::try_from(int("latency-monitor-threshold", 0)).unwrap_or(0));
        self.tracking.store(config.get("latency-tracking").is_none_or(|v| v == "yes"), Relaxed);
        if let Some(v) = config.get("latency-tracking-info-percentiles") {
            *self.percentiles.write() = v.split_whitespace().filter_map(|w| w.parse().ok()).collect();
        }
        self.monitors.set_limit(&config.client_output_buffer_limit);
    }

    pub fn percentiles(&self) -> Vec<f64> {
        self.percentiles.read().clone()
    }

    /// CONFIG RESETSTAT: the counters, errors and histograms (not the slow
    /// log nor the latency events, as in Redis).
    pub fn reset_stats(&self) {
        self.stats.reset();
    }

    /// A command ran: count it, and log it where it qualifies. `slot` is
    /// its stat slot (see `cmd::stat_slot`), whose flags are `slot_flags`.
    #[inline]
    pub fn ran(&self, client: &Client, slot: usize, slot_flags: u32, ran: &Ran<'_, Shared>) {
        if client.state.block.is_some() {
            // It waits: counted once, when it ends (served, timed out or
            // unblocked), as Redis counts a blocked command; shown to
            // monitors once, now.
            if self.monitors.active() && slot_flags & flag::ADMIN == 0 && !client.rerun {
                self.feed_monitors(client, ran.caller, ran.args);
            }
            return;
        }
        let ns = ran.elapsed_ns;
        let error = match ran.reply {
            Reply::Error(e) => Some(&e[..]),
            _ => None,
        };
        self.stats.record_call(slot, ns, error, ran.error_counted, self.tracking.load(Relaxed), ran.wrote);
        let us = ns / 1000;
        let event = if ran.spec.has(flag::FAST) { "fast-command" } else { "command" };
        self.latency.add_if_needed(event, us / 1000, unix_secs);
        // EXEC is not logged, the commands it ran are (Redis's
        // CMD_SKIP_SLOWLOG).
        if self.slowlog.wants(us) && ran.spec.name != "exec" {
            self.log_slow(client, ran, us);
        }
        // Administrative commands are not shown (Redis's CMD_ADMIN);
        // scripts are shown before they run (see `starting`).
        if self.monitors.active()
            && slot_flags & flag::ADMIN == 0
            && !client.rerun
            && !ringcache_scripting::runs_script(ran.spec.name)
        {
            self.feed_monitors(client, ran.caller, ran.args);
        }
    }

    /// A blocked command ended without running again (its timeout, or
    /// CLIENT UNBLOCK): its one call, failed with `error` if given.
    pub fn ended_blocked(&self, slot: usize, error: Option<&[u8]>) {
        self.stats.record_call(slot, 0, error, false, self.tracking.load(Relaxed), false);
    }

    /// A command is about to run: a script is shown to monitors now, so
    /// that the commands it runs follow it, as in Redis.
    #[inline]
    pub fn starting(&self, client: &Client, name: &'static str, args: &[&[u8]]) {
        if self.monitors.active() && ringcache_scripting::runs_script(name) {
            self.feed_monitors(client, Caller::Client, args);
        }
    }

    /// A command was refused before it ran (`slot`: `None` for an unknown
    /// command).
    pub fn refused(&self, slot: Option<usize>, reply: &Reply) {
        if let Reply::Error(e) = reply {
            self.stats.record_rejected(slot, e);
        }
    }

    #[cold]
    fn log_slow(&self, client: &Client, ran: &Ran<'_, Shared>, us: u64) {
        let name = client.state.last_cmd;
        self.slowlog.push(|id| slowlog::Entry {
            id,
            time: unix_secs(),
            duration_us: us,
            args: slowlog::trimmed_args(ran.args, |i| redacted(name, ran.args, i)),
            peer: client.info.addr.to_string(),
            name: client.info.name.lock().clone(),
        });
    }

    #[cold]
    fn feed_monitors(&self, client: &Client, caller: Caller, args: &[&[u8]]) {
        let name = client.state.last_cmd;
        let db = client.state.dbid;
        self.monitors.feed(|| {
            let redact = |i| redacted(name, args, i);
            match caller {
                Caller::Script => monitor::line(db, &"lua", args, redact),
                _ => monitor::line(db, &client.info.addr, args, redact),
            }
        });
    }
}

fn unix_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Whether argument `i` of command `name` (its full name, `config|set`)
/// is a secret that SLOWLOG and MONITOR show as `(redacted)`, as Redis's
/// `redactClientCommandArgument` does: AUTH's arguments, HELLO's AUTH
/// pair, and CONFIG SET's values of sensitive parameters.
pub fn redacted(name: &str, args: &[&[u8]], i: usize) -> bool {
    match name {
        "auth" => i >= 1,
        "hello" => args
            .iter()
            .enumerate()
            .skip(2)
            .find(|(_, a)| a.eq_ignore_ascii_case(b"AUTH"))
            .is_some_and(|(at, _)| i == at + 1 || i == at + 2),
        "config|set" => {
            const SENSITIVE: [&[u8]; 4] =
                [b"requirepass", b"masterauth", b"tls-key-file-pass", b"tls-client-key-file-pass"];
            i >= 3 && (i - 3).is_multiple_of(2) && SENSITIVE.iter().any(|s| args[i - 1].eq_ignore_ascii_case(s))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted() {
        let auth: &[&[u8]] = &[b"AUTH", b"user", b"pass"];
        assert_eq!((0..3).map(|i| redacted("auth", auth, i)).collect::<Vec<_>>(), [false, true, true]);
        let hello: &[&[u8]] = &[b"HELLO", b"3", b"auth", b"u", b"p", b"SETNAME", b"n"];
        let r: Vec<bool> = (0..7).map(|i| redacted("hello", hello, i)).collect();
        assert_eq!(r, [false, false, false, true, true, false, false]);
        let set: &[&[u8]] = &[b"CONFIG", b"SET", b"maxmemory", b"1", b"requirepass", b"x"];
        let r: Vec<bool> = (0..6).map(|i| redacted("config|set", set, i)).collect();
        assert_eq!(r, [false, false, false, false, false, true]);
        assert!(!redacted("get", &[b"GET", b"k"], 1));
    }
}
