//! Introspection commands: SLOWLOG, LATENCY and MONITOR, over what
//! `crate::observe` records.

use bytes::Bytes;
use ringcache_resp::Reply;

use super::args::parse_i64;
use super::server::{help_reply, run_subcommand, SubCommand};
use super::{flag, stat_names, CmdError, CmdResult, CommandSpec, Ctx, Keys};
use crate::observe::stats::Counters;

pub(super) const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "slowlog",
        arity: -2,
        flags: 0,
        keys: Keys::None,
        group: "server",
        summary: "A container for slow log commands.",
        handler: slowlog,
    },
    CommandSpec {
        name: "latency",
        arity: -2,
        flags: 0,
        keys: Keys::None,
        group: "server",
        summary: "A container for latency diagnostics commands.",
        handler: latency,
    },
    CommandSpec {
        name: "monitor",
        arity: 1,
        flags: flag::ADMIN | flag::NOSCRIPT | flag::LOADING | flag::STALE,
        keys: Keys::None,
        group: "server",
        summary: "Listens for all requests received by the server in real-time.",
        handler: monitor,
    },
];

const ADMIN: u32 = flag::ADMIN | flag::LOADING | flag::STALE;

pub(super) const SLOWLOG_SUBCOMMANDS: &[SubCommand] = &[
    SubCommand {
        name: "slowlog|get",
        arity: -2,
        flags: ADMIN,
        summary: "Returns the slow log's entries.",
        handler: slowlog_get,
    },
    SubCommand {
        name: "slowlog|len",
        arity: 2,
        flags: ADMIN,
        summary: "Returns the number of entries in the slow log.",
        handler: slowlog_len,
    },
    SubCommand {
        name: "slowlog|reset",
        arity: 2,
        flags: ADMIN,
        summary: "Clears all entries from the slow log.",
        handler: slowlog_reset,
    },
    SubCommand {
        name: "slowlog|help",
        arity: 2,
        flags: flag::LOADING | flag::STALE,
        summary: "Show helpful text about the different subcommands",
        handler: slowlog_help,
    },
];

pub(super) const LATENCY_SUBCOMMANDS: &[SubCommand] = &[
    SubCommand {
        name: "latency|latest",
        arity: 2,
        flags: ADMIN | flag::NOSCRIPT,
        summary: "Returns the latest latency samples for all events.",
        handler: latency_latest,
    },
    SubCommand {
        name: "latency|history",
        arity: 3,
        flags: ADMIN | flag::NOSCRIPT,
        summary: "Returns timestamp-latency samples for an event.",
        handler: latency_history,
    },
    SubCommand {
        name: "latency|reset",
        arity: -2,
        flags: ADMIN | flag::NOSCRIPT,
        summary: "Resets the latency data for one or more events.",
        handler: latency_reset,
    },
    SubCommand {
        name: "latency|doctor",
        arity: 2,
        flags: ADMIN | flag::NOSCRIPT,
        summary: "Returns a human-readable latency analysis report.",
        handler: latency_doctor,
    },
    SubCommand {
        name: "latency|histogram",
        arity: -2,
        flags: ADMIN | flag::NOSCRIPT,
        summary: "Returns the cumulative distribution of latencies of a subset or all commands.",
        handler: latency_histogram,
    },
    SubCommand {
        name: "latency|help",
        arity: 2,
        flags: flag::LOADING | flag::STALE,
        summary: "Returns helpful text about the different subcommands.",
        handler: latency_help,
    },
];

// ----------------------------------------------------------------- SLOWLOG

fn slowlog(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    run_subcommand(ctx, args, SLOWLOG_SUBCOMMANDS)
}

/// `SLOWLOG GET [count]`: the newest `count` entries (10 by default, all
/// with -1), each `[id, time, microseconds, args, addr, name]`.
fn slowlog_get(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    let log = &ctx.shared.observe.slowlog;
    let count = match args {
        [_, _] => 10,
        [_, _, count] => match parse_i64(count) {
            Some(-1) => usize::MAX,
            Some(n) if n >= 0 => usize::try_from(n).unwrap_or(usize::MAX),
            _ => return Err(CmdError::other("ERR count should be greater than or equal to -1")),
        },
        _ => return Err(CmdError::WrongArity("slowlog|get".to_owned())),
    };
    let entries = log.latest(count);
    Ok(Reply::Array(
        entries
            .into_iter()
            .map(|e| {
                Reply::Array(vec![
                    Reply::Integer(e.id as i64),
                    Reply::Integer(e.time as i64),
                    Reply::Integer(e.duration_us as i64),
                    Reply::Array(e.args.into_iter().map(Reply::Bulk).collect()),
                    Reply::bulk(e.peer),
                    Reply::Bulk(e.name),
                ])
            })
            .collect(),
    ))
}

fn slowlog_len(ctx: &mut Ctx<'_>, _args: &[&[u8]]) -> CmdResult {
    Ok(Reply::Integer(ctx.shared.observe.slowlog.len() as i64))
}

fn slowlog_reset(ctx: &mut Ctx<'_>, _args: &[&[u8]]) -> CmdResult {
    ctx.shared.observe.slowlog.reset();
    Ok(Reply::ok())
}

fn slowlog_help(_ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    Ok(help_reply(
        args,
        &[
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
        ],
    ))
}

// ----------------------------------------------------------------- LATENCY

fn latency(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    run_subcommand(ctx, args, LATENCY_SUBCOMMANDS)
}

/// `LATENCY LATEST`: per event, `[name, time of the latest sample, its
/// latency, the worst ever]`.
fn latency_latest(ctx: &mut Ctx<'_>, _args: &[&[u8]]) -> CmdResult {
    let events = ctx.shared.observe.latency.events();
    Ok(Reply::Array(
        events
            .into_iter()
            .map(|(name, s)| {
                let last =
                    s.samples.back().copied().unwrap_or(crate::observe::latency::Sample { time: 0, latency_ms: 0 });
                Reply::Array(vec![
                    Reply::bulk(name),
                    Reply::Integer(last.time as i64),
                    Reply::Integer(last.latency_ms as i64),
                    Reply::Integer(s.max_ms as i64),
                ])
            })
            .collect(),
    ))
}

/// `LATENCY HISTORY event`: `[time, latency]` pairs, oldest first; none
/// for an event that never happened.
fn latency_history(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    let samples = ctx.shared.observe.latency.series(args[2]).map(|s| s.samples).unwrap_or_default();
    Ok(Reply::Array(
        samples
            .into_iter()
            .map(|s| Reply::Array(vec![Reply::Integer(s.time as i64), Reply::Integer(s.latency_ms as i64)]))
            .collect(),
    ))
}

/// `LATENCY RESET [event ...]`: how many events were forgotten.
fn latency_reset(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    let names = (args.len() > 2).then(|| &args[2..]);
    Ok(Reply::Integer(ctx.shared.observe.latency.reset(names) as i64))
}

fn latency_doctor(ctx: &mut Ctx<'_>, _args: &[&[u8]]) -> CmdResult {
    Ok(Reply::Verbatim(Bytes::from(ctx.shared.observe.latency.doctor())))
}

/// `LATENCY HISTOGRAM [command ...]`: per command (all that have one, or
/// those named; a container names its subcommands), its calls and the
/// cumulative distribution of its latencies, as Redis reports it: buckets
/// of powers of two microseconds, each with the calls at or under it.
fn latency_histogram(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    let snapshot = ctx.shared.observe.stats.snapshot();
    let names = stat_names();
    let with_histogram = |slot: usize| snapshot.commands.get(slot).filter(|c| c.histogram.is_some());
    let mut out = Vec::new();
    let mut push = |slot: usize, c: &Counters| {
        if out.iter().any(|(s, _)| *s == slot) {
            return;
        }
        out.push((slot, cdf(c)));
    };
    if args.len() == 2 {
        for slot in 0..names.len() {
            if let Some(c) = with_histogram(slot) {
                push(slot, c);
            }
        }
    } else {
        for arg in &args[2..] {
            for slot in names.matching(arg) {
                if let Some(c) = with_histogram(slot) {
                    push(slot, c);
                }
            }
        }
    }
    Ok(Reply::Map(out.into_iter().map(|(slot, cdf)| (Reply::bulk(names.name(slot)), cdf)).collect()))
}

/// Redis's `fillCommandCDF`.
fn cdf(c: &Counters) -> Reply {
    let Some(h) = &c.histogram else { return Reply::Map(Vec::new()) };
    let mut buckets = Vec::new();
    let mut previous = 0u64;
    let mut cumulative = 0u64;
    for step in h.iter_log(1024, 2.0) {
        cumulative += step.count_since_last_iteration();
        if cumulative > previous {
            let micros = h.highest_equivalent(step.value_iterated_to()) / 1000;
            buckets.push((Reply::Integer(micros as i64), Reply::Integer(cumulative as i64)));
        }
        previous = cumulative;
    }
    Reply::Map(vec![
        (Reply::bulk("calls"), Reply::Integer(h.len() as i64)),
        (Reply::bulk("histogram_usec"), Reply::Map(buckets)),
    ])
}

fn latency_help(_ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    Ok(help_reply(
        args,
        &[
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
            "    If no commands are specified then all histograms are replied.",
        ],
    ))
}

// ----------------------------------------------------------------- MONITOR

/// MONITOR: from now on this connection also receives a line for every
/// command the node runs (see `crate::observe::monitor`).
fn monitor(ctx: &mut Ctx<'_>, _args: &[&[u8]]) -> CmdResult {
    let mailbox = ctx.client.mailbox();
    ctx.shared.observe.monitors.add(ctx.client.id, &mailbox);
    Ok(Reply::ok())
}
