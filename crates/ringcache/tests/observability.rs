//! Observability against the real binary: SLOWLOG, INFO commandstats /
//! errorstats / latencystats with CONFIG RESETSTAT, LATENCY, and MONITOR
//! (another connection's commands in Redis's line format, scripts, secrets
//! redacted, and a monitor that does not read cut off by its limit).

mod common;

use std::collections::HashMap;
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{call, err, int, run, RawConn, Server};
use redis::Value;

/// INFO `section` as `name -> value`.
fn info(conn: &mut redis::Connection, section: &str) -> HashMap<String, String> {
    let text: String = run(conn, &["INFO", section]);
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// A `cmdstat_<name>` line's fields.
fn cmdstat(conn: &mut redis::Connection, name: &str) -> Option<HashMap<String, f64>> {
    let line = info(conn, "commandstats").remove(&format!("cmdstat_{name}"))?;
    Some(
        line.split(',')
            .map(|kv| {
                let (k, v) = kv.split_once('=').expect("k=v");
                (k.to_owned(), v.parse().expect("a number"))
            })
            .collect(),
    )
}

fn calls(conn: &mut redis::Connection, name: &str) -> (u64, u64, u64) {
    let s = cmdstat(conn, name).unwrap_or_default();
    let get = |k: &str| s.get(k).copied().unwrap_or(0.0) as u64;
    (get("calls"), get("rejected_calls"), get("failed_calls"))
}

/// SLOWLOG GET's entries: (id, time, micros, args, addr, name).
fn slowlog(conn: &mut redis::Connection, count: &str) -> Vec<(i64, i64, i64, Vec<String>, String, String)> {
    let Value::Array(entries) = run(conn, &["SLOWLOG", "GET", count]) else { panic!("an array") };
    entries
        .into_iter()
        .map(|e| {
            let Value::Array(f) = e else { panic!("an entry") };
            let int = |v: &Value| match v {
                Value::Int(i) => *i,
                v => panic!("an integer, got {v:?}"),
            };
            let Value::Array(args) = &f[3] else { panic!("arguments") };
            (
                int(&f[0]),
                int(&f[1]),
                int(&f[2]),
                args.iter().map(common::text).collect(),
                common::text(&f[4]),
                common::text(&f[5]),
            )
        })
        .collect()
}

/// This connection's `addr=` as CLIENT INFO reports it.
fn addr_of(conn: &mut redis::Connection) -> String {
    let line: String = run(conn, &["CLIENT", "INFO"]);
    line.split(' ').find_map(|f| f.strip_prefix("addr=")).expect("addr=").to_owned()
}

fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_secs() as i64
}

#[test]
fn slowlog_records_trims_redacts_and_resets() {
    let server = Server::start();
    let mut c = server.conn();
    assert_eq!(int(&mut c, &["SLOWLOG", "LEN"]), 0);
    run::<()>(&mut c, &["CLIENT", "SETNAME", "observer"]);
    run::<()>(&mut c, &["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
    run::<()>(&mut c, &["CONFIG", "SET", "slowlog-max-len", "5"]);
    for i in 0..10 {
        run::<()>(&mut c, &["SET", &format!("k{i}"), "v"]);
    }
    assert_eq!(int(&mut c, &["SLOWLOG", "LEN"]), 5, "trimmed to slowlog-max-len");
    let entries = slowlog(&mut c, "2");
    assert_eq!(entries.len(), 2);
    let addr = addr_of(&mut c);
    // Newest first: the SLOWLOG LEN before this GET, then the last SET.
    assert_eq!(entries[0].3, ["SLOWLOG", "LEN"]);
    assert_eq!(entries[1].3, ["SET", "k9", "v"]);
    assert_eq!(entries[0].0, entries[1].0 + 1, "ids grow by one");
    assert!((entries[1].1 - now_secs()).abs() <= 5, "unix time");
    assert!(entries[1].2 >= 0);
    assert_eq!((entries[1].4.as_str(), entries[1].5.as_str()), (addr.as_str(), "observer"));
    assert_eq!(slowlog(&mut c, "-1").len(), 5);
    assert_eq!(slowlog(&mut c, "0").len(), 0);
    assert_eq!(err(&mut c, &["SLOWLOG", "GET", "-2"]), "ERR count should be greater than or equal to -1");
    assert_eq!(err(&mut c, &["SLOWLOG", "GET", "x"]), "ERR count should be greater than or equal to -1");

    // Redis's trimming: 32 arguments at most, 128 bytes per argument.
    let many: Vec<String> = (0..40).map(|i| i.to_string()).collect();
    let mut sadd = vec!["SADD", "set"];
    sadd.extend(many.iter().map(String::as_str));
    int(&mut c, &sadd);
    let long = "A".repeat(200);
    int(&mut c, &["SADD", "set", &long]);
    let entries = slowlog(&mut c, "2");
    let (long_entry, many_entry) = (&entries[0].3, &entries[1].3);
    assert_eq!(many_entry.len(), 32);
    assert_eq!(many_entry[30], "28");
    assert_eq!(many_entry[31], "... (11 more arguments)");
    assert_eq!(long_entry[2], format!("{}... (72 more bytes)", "A".repeat(128)));

    // Secrets are not kept.
    let _ = err(&mut c, &["AUTH", "not-the-password"]);
    run::<()>(&mut c, &["CONFIG", "SET", "requirepass", ""]);
    let entries = slowlog(&mut c, "2");
    assert_eq!(entries[0].3, ["CONFIG", "SET", "requirepass", "(redacted)"]);
    assert_eq!(entries[1].3, ["AUTH", "(redacted)"]);

    run::<()>(&mut c, &["SLOWLOG", "RESET"]);
    // The RESET itself ran after the log was emptied, and is logged.
    assert_eq!(slowlog(&mut c, "-1").into_iter().map(|e| e.3).collect::<Vec<_>>(), [["SLOWLOG", "RESET"]]);
    run::<()>(&mut c, &["CONFIG", "SET", "slowlog-log-slower-than", "-1"]);
    run::<()>(&mut c, &["SLOWLOG", "RESET"]);
    run::<()>(&mut c, &["SET", "a", "b"]);
    assert_eq!(int(&mut c, &["SLOWLOG", "LEN"]), 0, "-1 disables the log");
    run::<()>(&mut c, &["CONFIG", "SET", "slowlog-log-slower-than", "10000000"]);
    run::<()>(&mut c, &["SET", "a", "b"]);
    assert_eq!(int(&mut c, &["SLOWLOG", "LEN"]), 0, "under the threshold");
    assert_eq!(err(&mut c, &["SLOWLOG", "LEN", "x"]), "ERR wrong number of arguments for 'slowlog|len' command");
    let help: Vec<String> = run(&mut c, &["SLOWLOG", "HELP"]);
    assert!(help[0].starts_with("SLOWLOG <subcommand>"), "{help:?}");
}

#[test]
fn commandstats_and_errorstats_count_and_reset() {
    let server = Server::start();
    let mut c = server.conn();
    run::<()>(&mut c, &["CONFIG", "RESETSTAT"]);
    run::<()>(&mut c, &["SET", "a", "b"]);
    run::<()>(&mut c, &["SET", "a", "b"]);
    assert!(err(&mut c, &["SET", "a"]).starts_with("ERR wrong number"));
    assert!(err(&mut c, &["LPUSH", "a", "x"]).starts_with("WRONGTYPE"));
    assert!(err(&mut c, &["NOSUCHCOMMAND"]).starts_with("ERR unknown command"));
    let _: Value = run(&mut c, &["CONFIG", "GET", "maxmemory"]);
    assert_eq!(calls(&mut c, "set"), (2, 1, 0));
    assert_eq!(calls(&mut c, "lpush"), (1, 0, 1));
    assert_eq!(calls(&mut c, "config|get"), (1, 0, 0), "subcommands by their Redis 7 names");
    let set = cmdstat(&mut c, "set").expect("set was counted");
    assert!(set["usec"] >= 0.0 && set.contains_key("usec_per_call"), "{set:?}");
    let errors = info(&mut c, "errorstats");
    assert_eq!(errors.get("errorstat_ERR").map(String::as_str), Some("count=2"));
    assert_eq!(errors.get("errorstat_WRONGTYPE").map(String::as_str), Some("count=1"));
    assert_eq!(info(&mut c, "stats")["total_error_replies"], "3");
    // INFO's default sections include errorstats but not commandstats.
    let default: String = run(&mut c, &["INFO"]);
    assert!(default.contains("# Errorstats") && !default.contains("# Commandstats"), "{default}");
    let all: String = run(&mut c, &["INFO", "all"]);
    assert!(all.contains("# Commandstats") && all.contains("# Latencystats"));

    // EXEC's commands count as themselves, an error among them as theirs.
    run::<()>(&mut c, &["CONFIG", "RESETSTAT"]);
    let mut raw = server.raw();
    assert_eq!(call(&mut raw, &["MULTI"]), "+OK\r\n");
    assert_eq!(call(&mut raw, &["SET", "x", "1"]), "+QUEUED\r\n");
    assert_eq!(call(&mut raw, &["LPUSH", "x", "y"]), "+QUEUED\r\n");
    assert!(call(&mut raw, &["EXEC"]).starts_with("*2\r\n+OK\r\n-WRONGTYPE"));
    assert_eq!(calls(&mut c, "exec"), (1, 0, 0));
    assert_eq!(calls(&mut c, "set"), (1, 0, 0));
    assert_eq!(calls(&mut c, "lpush"), (1, 0, 1));
    assert_eq!(calls(&mut c, "multi"), (1, 0, 0));
    // A script's commands too, and an error it handles is counted once.
    let _: Value = run(&mut c, &["EVAL", "redis.pcall('lpush', KEYS[1], 'v') return 1", "1", "x"]);
    assert_eq!(calls(&mut c, "lpush"), (2, 0, 2));
    assert_eq!(calls(&mut c, "eval"), (1, 0, 0));
    assert_eq!(info(&mut c, "errorstats").get("errorstat_WRONGTYPE").map(String::as_str), Some("count=2"));

    // Connections on every worker thread are merged.
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let mut conn = server.conn();
            thread::spawn(move || {
                for _ in 0..100 {
                    int(&mut conn, &["INCR", "n"]);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker ran");
    }
    assert_eq!(calls(&mut c, "incr"), (400, 0, 0));

    run::<()>(&mut c, &["CONFIG", "RESETSTAT"]);
    let stats = info(&mut c, "commandstats");
    assert_eq!(stats.keys().collect::<Vec<_>>(), ["cmdstat_config|resetstat"], "only the reset itself is left");
    assert!(info(&mut c, "errorstats").is_empty());
    assert_eq!(info(&mut c, "stats")["total_error_replies"], "0");
}

/// Every container counts per subcommand, as Redis 7.2 does, whatever
/// crate it lives in (the command layer's OBJECT and XGROUP, scripting's
/// SCRIPT and FUNCTION, the node's CONFIG and CLIENT), and whoever runs it
/// (a client, EXEC, a script): an unknown subcommand is refused like an
/// unknown command (no command counts it), a subcommand's wrong arity is
/// its own rejected call.
#[test]
fn commandstats_count_every_container_per_subcommand() {
    let server = Server::start();
    let mut c = server.conn();
    run::<()>(&mut c, &["CONFIG", "RESETSTAT"]);
    let _: String = run(&mut c, &["XADD", "s", "*", "f", "v"]);
    run::<()>(&mut c, &["XGROUP", "CREATE", "s", "g", "$"]);
    int(&mut c, &["XGROUP", "CREATECONSUMER", "s", "g", "c"]);
    let _: Value = run(&mut c, &["XINFO", "STREAM", "s"]);
    let _: Value = run(&mut c, &["OBJECT", "ENCODING", "s"]);
    let _: Value = run(&mut c, &["OBJECT", "encoding", "nokey"]);
    let _: Value = run(&mut c, &["MEMORY", "USAGE", "s"]);
    let _: Value = run(&mut c, &["SCRIPT", "EXISTS", "abc"]);
    let _: Value = run(&mut c, &["FUNCTION", "LIST"]);
    let _: Value = run(&mut c, &["CLIENT", "ID"]);
    let _: Value = run(&mut c, &["EVAL", "return redis.call('object', 'encoding', KEYS[1])", "1", "s"]);
    assert_eq!(calls(&mut c, "xgroup|create"), (1, 0, 0));
    assert_eq!(calls(&mut c, "xgroup|createconsumer"), (1, 0, 0));
    assert_eq!(calls(&mut c, "xinfo|stream"), (1, 0, 0));
    assert_eq!(calls(&mut c, "object|encoding"), (3, 0, 0), "a script's call counts as the subcommand too");
    assert_eq!(calls(&mut c, "memory|usage"), (1, 0, 0));
    assert_eq!(calls(&mut c, "script|exists"), (1, 0, 0));
    assert_eq!(calls(&mut c, "function|list"), (1, 0, 0));
    assert_eq!(calls(&mut c, "client|id"), (1, 0, 0));

    // Refusals and failures, as Redis 7.2 counts them.
    assert_eq!(err(&mut c, &["OBJECT", "nosuch", "s"]), "ERR unknown subcommand 'nosuch'. Try OBJECT HELP.");
    assert_eq!(err(&mut c, &["CONFIG", "nosuch"]), "ERR unknown subcommand 'nosuch'. Try CONFIG HELP.");
    assert_eq!(
        err(&mut c, &["XGROUP", "CREATECONSUMER", "s"]),
        "ERR wrong number of arguments for 'xgroup|createconsumer' command"
    );
    assert_eq!(err(&mut c, &["CONFIG", "GET"]), "ERR wrong number of arguments for 'config|get' command");
    assert_eq!(err(&mut c, &["OBJECT"]), "ERR wrong number of arguments for 'object' command");
    assert!(err(&mut c, &["XGROUP", "CREATE", "s", "g", "$"]).starts_with("BUSYGROUP"));
    let stats = info(&mut c, "commandstats");
    for container in ["cmdstat_xgroup", "cmdstat_xinfo", "cmdstat_memory", "cmdstat_script", "cmdstat_config"] {
        assert!(!stats.contains_key(container), "{container} is counted per subcommand: {stats:?}");
    }
    assert_eq!(calls(&mut c, "object"), (0, 1, 0), "only the container's own arity error");
    assert_eq!(calls(&mut c, "xgroup|createconsumer"), (1, 1, 0));
    assert_eq!(calls(&mut c, "config|get"), (0, 1, 0));
    assert_eq!(calls(&mut c, "xgroup|create"), (2, 0, 1));
    assert_eq!(errorstat(&mut c, "ERR").as_deref(), Some("count=5"));

    // Inside MULTI an unknown subcommand fails the transaction at once.
    let mut raw = server.raw();
    assert_eq!(call(&mut raw, &["MULTI"]), "+OK\r\n");
    assert!(call(&mut raw, &["OBJECT", "nosuch", "s"]).starts_with("-ERR unknown subcommand"));
    assert!(call(&mut raw, &["EXEC"]).starts_with("-EXECABORT"));
    assert_eq!(call(&mut raw, &["MULTI"]), "+OK\r\n");
    assert_eq!(call(&mut raw, &["XINFO", "GROUPS", "s"]), "+QUEUED\r\n");
    assert!(call(&mut raw, &["EXEC"]).starts_with("*1\r\n"));
    assert_eq!(calls(&mut c, "xinfo|groups"), (1, 0, 0), "EXEC's subcommands count as theirs");

    // Latency histograms and CLIENT LIST's `cmd=` use the same names.
    let latency = info(&mut c, "latencystats");
    assert!(latency.contains_key("latency_percentiles_usec_xgroup|createconsumer"), "{latency:?}");
    assert!(!latency.contains_key("latency_percentiles_usec_xgroup"), "{latency:?}");
    let Value::Array(hist) = run(&mut c, &["LATENCY", "HISTOGRAM", "object|encoding"]) else { panic!("an array") };
    assert_eq!(common::text(&hist[0]), "object|encoding");
    let mut other = server.conn();
    let _: Value = run(&mut other, &["XINFO", "GROUPS", "s"]);
    let list: String = run(&mut c, &["CLIENT", "LIST"]);
    assert!(list.contains("cmd=xinfo|groups"), "{list}");

    // Over maxmemory a denyoom subcommand is refused, by its own flag.
    run::<()>(&mut c, &["CONFIG", "SET", "maxmemory", "1"]);
    assert!(err(&mut c, &["XGROUP", "CREATE", "s", "g2", "$"]).starts_with("OOM "));
    assert_eq!(int(&mut c, &["XGROUP", "DESTROY", "s", "g"]), 1, "not denyoom");
    run::<()>(&mut c, &["CONFIG", "SET", "maxmemory", "0"]);
    assert_eq!(calls(&mut c, "xgroup|create"), (2, 1, 1));
    assert_eq!(calls(&mut c, "xgroup|destroy"), (1, 0, 0));
}

/// ERR / OOM / ... counts of INFO errorstats, and `total_error_replies`.
fn errorstat(conn: &mut redis::Connection, prefix: &str) -> Option<String> {
    info(conn, "errorstats").remove(&format!("errorstat_{prefix}"))
}

fn total_errors(conn: &mut redis::Connection) -> String {
    info(conn, "stats").remove("total_error_replies").expect("total_error_replies")
}

/// The figures of Redis 7.2's info.tcl "errorstats: failed call within
/// LUA" and scripting.tcl "Consistent eval error reporting": an error a
/// script's command answered (or a refusal of that command) is counted
/// once, where it arose, whether the script handles it, fails with it or
/// answers with it; the script's call fails only when its reply is an
/// error.
#[test]
fn a_scripts_command_error_is_counted_once() {
    let server = Server::start();
    let mut c = server.conn();
    let reset = |c: &mut redis::Connection| run::<()>(c, &["CONFIG", "RESETSTAT"]);

    reset(&mut c);
    let script = "redis.pcall('XGROUP', 'CREATECONSUMER', 's1', 'mygroup', 'consumer') return";
    let _: Value = run(&mut c, &["EVAL", script, "0"]);
    assert_eq!(errorstat(&mut c, "ERR").as_deref(), Some("count=1"));
    assert_eq!(calls(&mut c, "xgroup|createconsumer"), (1, 0, 1));
    assert_eq!(calls(&mut c, "eval"), (1, 0, 0));
    // EVAL's own errors are still its own.
    assert!(err(&mut c, &["EVAL", "a"]).starts_with("ERR wrong number"));
    assert_eq!(calls(&mut c, "eval"), (1, 1, 0));
    assert_eq!(errorstat(&mut c, "ERR").as_deref(), Some("count=2"));
    assert_eq!(total_errors(&mut c), "2");

    // The script fails with its command's error.
    reset(&mut c);
    assert!(err(&mut c, &["EVAL", "return redis.call('select', 99)", "0"]).starts_with("ERR DB index is out of range"));
    assert_eq!(errorstat(&mut c, "ERR").as_deref(), Some("count=1"));
    assert_eq!(total_errors(&mut c), "1");
    assert_eq!(calls(&mut c, "select"), (1, 0, 1));
    assert_eq!(calls(&mut c, "eval"), (1, 0, 1));
    reset(&mut c);
    run::<()>(&mut c, &["SET", "Sicily", "1"]);
    let geoadd = "return redis.call('GEOADD', 'Sicily', '13.361389', '38.115556', 'Palermo')";
    assert!(err(&mut c, &["EVAL", geoadd, "1", "Sicily"]).starts_with("WRONGTYPE"));
    assert_eq!(errorstat(&mut c, "WRONGTYPE").as_deref(), Some("count=1"));
    assert_eq!(total_errors(&mut c), "1");
    assert_eq!(calls(&mut c, "geoadd"), (1, 0, 1));
    assert_eq!(calls(&mut c, "eval"), (1, 0, 1));
    // It answers with the error redis.pcall handed it.
    reset(&mut c);
    assert!(err(&mut c, &["EVAL", "return redis.pcall('select', 99)", "0"]).starts_with("ERR DB index"));
    assert_eq!(errorstat(&mut c, "ERR").as_deref(), Some("count=1"));
    assert_eq!(total_errors(&mut c), "1");
    assert_eq!(calls(&mut c, "eval"), (1, 0, 1));

    // A command the script's checks refuse counts as its rejected call.
    reset(&mut c);
    let e = err(&mut c, &["EVAL_RO", "return redis.call('set', 'x', 'y')", "1", "x"]);
    assert!(e.starts_with("ERR Write commands are not allowed from read-only scripts"), "{e}");
    assert_eq!(errorstat(&mut c, "ERR").as_deref(), Some("count=1"));
    assert_eq!(total_errors(&mut c), "1");
    assert_eq!(calls(&mut c, "set"), (0, 1, 0));
    assert_eq!(calls(&mut c, "eval_ro"), (1, 0, 1));
    reset(&mut c);
    let handled = "local t = redis.pcall('set', 'x', 'y') if t['err'] then return 1 end return 0";
    assert_eq!(int(&mut c, &["EVAL_RO", handled, "1", "x"]), 1);
    assert_eq!(errorstat(&mut c, "ERR").as_deref(), Some("count=1"));
    assert_eq!(total_errors(&mut c), "1");
    assert_eq!(calls(&mut c, "set"), (0, 1, 0));
    assert_eq!(calls(&mut c, "eval_ro"), (1, 0, 0));
    run::<()>(&mut c, &["SET", "big", &"x".repeat(10_000)]);
    run::<()>(&mut c, &["CONFIG", "SET", "maxmemory", "1"]);
    reset(&mut c);
    let e = err(&mut c, &["EVAL", "return redis.call('set', 'x', 'y')", "1", "x"]);
    assert!(e.starts_with("OOM command not allowed when used memory > 'maxmemory'"), "{e}");
    assert_eq!(errorstat(&mut c, "OOM").as_deref(), Some("count=1"));
    assert_eq!(total_errors(&mut c), "1");
    assert_eq!(calls(&mut c, "set"), (0, 1, 0));
    assert_eq!(calls(&mut c, "eval"), (1, 0, 1));
    reset(&mut c);
    assert!(err(&mut c, &["EVAL", "return redis.pcall('set', 'x', 'y')", "1", "x"]).starts_with("OOM "));
    assert_eq!(errorstat(&mut c, "OOM").as_deref(), Some("count=1"));
    assert_eq!(errorstat(&mut c, "ERR"), None);
    assert_eq!(total_errors(&mut c), "1");
    assert_eq!(calls(&mut c, "eval"), (1, 0, 1));
    run::<()>(&mut c, &["CONFIG", "SET", "maxmemory", "0"]);

    // An error the script makes itself is counted with its reply.
    reset(&mut c);
    let e = err(&mut c, &["EVAL", "return redis.error_reply('MY_ERR_CODE custom msg')", "0"]);
    assert_eq!(e, "MY_ERR_CODE custom msg");
    assert_eq!(errorstat(&mut c, "MY_ERR_CODE").as_deref(), Some("count=1"));
    assert_eq!(calls(&mut c, "eval"), (1, 0, 1));
    reset(&mut c);
    assert!(err(&mut c, &["EVAL", "return redis.call()", "0"]).starts_with("ERR Please specify at least one argument"));
    assert_eq!(errorstat(&mut c, "ERR").as_deref(), Some("count=1"));
    assert_eq!(total_errors(&mut c), "1");
}

#[test]
fn rdb_changes_since_last_save_counts_commands_that_changed_a_key() {
    let server = Server::start();
    let mut c = server.conn();
    let changes =
        |c: &mut redis::Connection| -> u64 { info(c, "persistence")["rdb_changes_since_last_save"].parse().unwrap() };
    let start = changes(&mut c);
    run::<()>(&mut c, &["SET", "a", "1"]);
    let _: i64 = run(&mut c, &["SETBIT", "bits", "0", "0"]);
    assert_eq!(changes(&mut c), start + 2, "a new key always counts");
    // Commands that change nothing do not count (Redis's SETBIT test).
    let _: i64 = run(&mut c, &["SETBIT", "bits", "0", "0"]);
    let _: i64 = run(&mut c, &["SREM", "nosuch", "x"]);
    let _: Option<String> = run(&mut c, &["GET", "a"]);
    assert_eq!(changes(&mut c), start + 2);
    // EXEC's and scripts' commands count one by one, the EXEC or the
    // script not again; CONFIG RESETSTAT does not reset the count.
    let _: Value = run(&mut c, &["MULTI"]);
    let _: Value = run(&mut c, &["SET", "b", "1"]);
    let _: Value = run(&mut c, &["INCR", "b"]);
    let _: Value = run(&mut c, &["EXEC"]);
    let _: Value = run(&mut c, &["EVAL", "redis.call('SET', KEYS[1], 'x') return 1", "1", "c"]);
    run::<()>(&mut c, &["CONFIG", "RESETSTAT"]);
    assert_eq!(changes(&mut c), start + 5);
    // A served blocking pop is a change of its own (Redis's list test).
    let mut blocked = server.conn();
    let waiter = thread::spawn(move || run::<Vec<String>>(&mut blocked, &["BLPOP", "lst", "5"]));
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while info(&mut c, "clients")["blocked_clients"] != "1" {
        assert!(std::time::Instant::now() < deadline, "BLPOP did not block");
        thread::sleep(Duration::from_millis(5));
    }
    let _: i64 = run(&mut c, &["LPUSH", "lst", "v"]);
    assert_eq!(waiter.join().expect("BLPOP returned"), ["lst", "v"]);
    assert_eq!(changes(&mut c), start + 7);
}

#[test]
fn latencystats_follow_latency_tracking() {
    let server = Server::start();
    let mut c = server.conn();
    run::<()>(&mut c, &["SET", "a", "b"]);
    let line = info(&mut c, "latencystats").remove("latency_percentiles_usec_set").expect("set has percentiles");
    let fields: Vec<(&str, f64)> = line
        .split(',')
        .map(|kv| {
            let (k, v) = kv.split_once('=').expect("k=v");
            (k, v.parse().expect("a number"))
        })
        .collect();
    assert_eq!(fields.iter().map(|f| f.0).collect::<Vec<_>>(), ["p50", "p99", "p99.9"]);
    assert!(fields.iter().all(|f| f.1 > 0.0), "{line}");
    run::<()>(&mut c, &["CONFIG", "SET", "latency-tracking-info-percentiles", "0.0 50.0 100.0"]);
    // Read back as Redis prints them: `%f`, trailing zeros trimmed.
    let got: Vec<String> =
        redis::cmd("CONFIG").arg("GET").arg("latency-tracking-info-percentiles").query(&mut c).unwrap();
    assert_eq!(got, ["latency-tracking-info-percentiles", "0 50 100"]);
    for (value, why) in [
        ("10.0 50.0 a", "Invalid latency-tracking-info-percentiles parameters"),
        ("10.0 50.0 101.0", "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"),
    ] {
        let e = err(&mut c, &["CONFIG", "SET", "latency-tracking-info-percentiles", value]);
        let want =
            format!("ERR CONFIG SET failed (possibly related to argument 'latency-tracking-info-percentiles') - {why}");
        assert_eq!(e, want);
    }
    let line = info(&mut c, "latencystats").remove("latency_percentiles_usec_set").expect("set has percentiles");
    assert!(line.starts_with("p0=") && line.contains(",p50=") && line.contains(",p100="), "{line}");

    run::<()>(&mut c, &["CONFIG", "SET", "latency-tracking", "no"]);
    run::<()>(&mut c, &["CONFIG", "RESETSTAT"]);
    run::<()>(&mut c, &["SET", "a", "b"]);
    assert!(!info(&mut c, "latencystats").contains_key("latency_percentiles_usec_set"));
    assert_eq!(calls(&mut c, "set"), (1, 0, 0), "calls are still counted");

    // LATENCY HISTOGRAM: calls and a cumulative distribution per command.
    run::<()>(&mut c, &["CONFIG", "SET", "latency-tracking", "yes"]);
    run::<()>(&mut c, &["SET", "a", "b"]);
    run::<()>(&mut c, &["GET", "a"]);
    let Value::Array(h) = run(&mut c, &["LATENCY", "HISTOGRAM", "set", "nosuch"]) else { panic!("a map") };
    assert_eq!(h.len(), 2, "{h:?}");
    assert_eq!(common::text(&h[0]), "set");
    let Value::Array(detail) = &h[1] else { panic!("a map") };
    assert_eq!((common::text(&detail[0]), &detail[1]), ("calls".to_owned(), &Value::Int(1)));
    assert_eq!(common::text(&detail[2]), "histogram_usec");
}

#[test]
fn latency_monitor_records_slow_commands() {
    let server = Server::start();
    let mut c = server.conn();
    let doctor: String = run(&mut c, &["LATENCY", "DOCTOR"]);
    assert!(doctor.contains("disabled"), "{doctor}");
    let slow_script = "local i = 0 while i < tonumber(ARGV[1]) do i = i + 1 end return i";
    // Off by default: nothing is recorded.
    let _: i64 = run(&mut c, &["EVAL", slow_script, "0", "3000000"]);
    assert_eq!(run::<Value>(&mut c, &["LATENCY", "LATEST"]), Value::Array(vec![]));
    run::<()>(&mut c, &["CONFIG", "SET", "latency-monitor-threshold", "1"]);
    let started = std::time::Instant::now();
    let _: i64 = run(&mut c, &["EVAL", slow_script, "0", "3000000"]);
    let took_ms = started.elapsed().as_millis() as i64;
    let Value::Array(latest) = run(&mut c, &["LATENCY", "LATEST"]) else { panic!("an array") };
    // (On a loaded machine a fast command may take a millisecond too.)
    let event = latest
        .iter()
        .find_map(|e| match e {
            Value::Array(f) if common::text(&f[0]) == "command" => Some(f.clone()),
            _ => None,
        })
        .expect("a command event");
    let (Value::Int(time), Value::Int(latency), Value::Int(max)) = (&event[1], &event[2], &event[3]) else {
        panic!("integers: {event:?}")
    };
    assert!((time - now_secs()).abs() <= 5);
    assert!(*latency >= 1 && *latency <= took_ms && max >= latency, "{latency} ms of {took_ms} ms");
    let Value::Array(history) = run(&mut c, &["LATENCY", "HISTORY", "command"]) else { panic!("an array") };
    assert!(!history.is_empty() && history.len() <= 2, "one sample per second: {history:?}");
    assert_eq!(run::<Value>(&mut c, &["LATENCY", "HISTORY", "nosuch"]), Value::Array(vec![]));
    let doctor: String = run(&mut c, &["LATENCY", "DOCTOR"]);
    assert!(doctor.contains("command"), "{doctor}");
    assert_eq!(int(&mut c, &["LATENCY", "RESET", "nosuch"]), 0);
    assert_eq!(int(&mut c, &["LATENCY", "RESET", "command"]), 1);
    run::<()>(&mut c, &["CONFIG", "SET", "latency-monitor-threshold", "0"]);
    assert!(int(&mut c, &["LATENCY", "RESET"]) <= 1, "fast-command, at most");
    assert_eq!(run::<Value>(&mut c, &["LATENCY", "LATEST"]), Value::Array(vec![]));
    assert_eq!(err(&mut c, &["LATENCY", "HELP", "x"]), "ERR wrong number of arguments for 'latency|help' command");
}

/// Reads monitor lines until one contains `needle`; returns it.
fn monitor_line(mon: &mut RawConn, needle: &str) -> String {
    for _ in 0..50 {
        let line = mon.read_reply_string();
        if line.contains(needle) {
            return line;
        }
    }
    panic!("no monitor line with {needle}");
}

#[test]
fn monitor_sees_other_connections_commands() {
    let server = Server::start();
    let mut mon = server.raw();
    assert_eq!(call(&mut mon, &["MONITOR"]), "+OK\r\n");
    let mut c = server.conn();
    let addr = addr_of(&mut c);
    run::<()>(&mut c, &["SET", "k", "v w\"x"]);
    let _: Option<String> = run(&mut c, &["GET", "k"]);
    let _: Value = run(&mut c, &["CONFIG", "GET", "maxmemory"]);
    let mut c2 = server.conn_db(2);
    run::<()>(&mut c2, &["SET", "in2", "x"]);

    let line = monitor_line(&mut mon, "\"SET\" \"k\"");
    let (stamp, rest) = line.split_once(' ').expect("a space");
    let (secs, micros) = stamp.strip_prefix('+').expect("a status line").split_once('.').expect("secs.micros");
    assert!((secs.parse::<i64>().expect("seconds") - now_secs()).abs() <= 5);
    assert_eq!(micros.len(), 6);
    assert_eq!(rest, format!("[0 {addr}] \"SET\" \"k\" \"v w\\\"x\"\r\n"));
    let line = mon.read_reply_string();
    assert!(line.ends_with(&format!("[0 {addr}] \"GET\" \"k\"\r\n")), "{line}");
    // CONFIG GET is an admin command: not shown; the next line is db 2's SET.
    let line = monitor_line(&mut mon, "\"in2\"");
    assert!(line.contains("[2 127.0.0.1:"), "{line}");
    assert!(!line.contains("CONFIG"));

    // A script is shown before the commands it runs, which come from "lua".
    let _: Value = run(&mut c, &["EVAL", "return redis.call('set', KEYS[1], 'v')", "1", "sk"]);
    let line = monitor_line(&mut mon, "\"EVAL\"");
    assert!(line.contains(&format!("[0 {addr}] \"EVAL\"")), "{line}");
    let line = mon.read_reply_string();
    assert!(line.ends_with("[0 lua] \"set\" \"sk\" \"v\"\r\n"), "{line}");

    // MULTI, the queued commands when EXEC runs them, then EXEC.
    let mut pipe = redis::pipe();
    pipe.cmd("MULTI").cmd("INCR").arg("n").cmd("EXEC");
    let _: Value = pipe.query(&mut c).expect("the transaction ran");
    assert!(monitor_line(&mut mon, "\"MULTI\"").contains("MULTI"));
    assert!(mon.read_reply_string().contains("\"INCR\" \"n\""));
    assert!(mon.read_reply_string().contains("\"EXEC\""));

    // A blocked command shows once, when it blocks, not again when a
    // push serves it (Redis's "MONITOR log blocked command only once").
    let mut blocked = server.conn();
    let waiter = thread::spawn(move || run::<Vec<String>>(&mut blocked, &["BLPOP", "mlist", "5"]));
    assert!(monitor_line(&mut mon, "\"BLPOP\"").contains("\"BLPOP\" \"mlist\" \"5\""));
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while run::<String>(&mut c, &["INFO", "clients"]).contains("blocked_clients:0") {
        assert!(std::time::Instant::now() < deadline, "BLPOP did not block");
        thread::sleep(Duration::from_millis(5));
    }
    let _: i64 = run(&mut c, &["LPUSH", "mlist", "1"]);
    assert_eq!(waiter.join().expect("BLPOP returned"), ["mlist", "1"]);
    let _: i64 = run(&mut c, &["LPUSH", "mlist", "2"]);
    let after = monitor_line(&mut mon, "\"LPUSH\" \"mlist\" \"1\"");
    assert!(after.contains("\"1\""), "{after}");
    let next = monitor_line(&mut mon, "\"mlist\"");
    assert!(next.contains("\"LPUSH\" \"mlist\" \"2\""), "the BLPOP was not shown again: {next}");

    // Secrets are redacted.
    let _ = err(&mut c, &["AUTH", "user", "secret"]);
    let line = monitor_line(&mut mon, "\"AUTH\"");
    assert!(line.ends_with("\"AUTH\" \"(redacted)\" \"(redacted)\"\r\n"), "{line}");

    // RESET leaves MONITOR mode: nothing more arrives.
    assert_eq!(call(&mut mon, &["RESET"]), "+RESET\r\n");
    run::<()>(&mut c, &["SET", "after", "reset"]);
    assert_eq!(call(&mut mon, &["PING"]), "+PONG\r\n", "no monitor line before the PONG");
}

#[test]
fn a_monitor_that_does_not_read_is_disconnected() {
    let server = Server::start();
    let mut c = server.conn();
    // Monitors are held to the normal class's limit when it has one.
    run::<()>(&mut c, &["CONFIG", "SET", "client-output-buffer-limit", "normal 1mb 0 0"]);
    let mut slow = server.raw();
    assert_eq!(call(&mut slow, &["MONITOR"]), "+OK\r\n");
    let value = "x".repeat(64 * 1024);
    // 400 x 64 KiB: far past the socket buffers and the 1 MiB limit.
    for i in 0..400 {
        run::<()>(&mut c, &["SET", &format!("k{i}"), &value]);
    }
    slow.read_until_closed();
    assert!(server.log().contains("output buffer limits"), "the disconnection is logged");
    assert_eq!(run::<String>(&mut c, &["PING"]), "PONG");
    // A monitor that reads keeps up.
    let mut mon = server.raw();
    assert_eq!(call(&mut mon, &["MONITOR"]), "+OK\r\n");
    thread::sleep(Duration::from_millis(50));
    run::<()>(&mut c, &["SET", "k", "v"]);
    assert!(monitor_line(&mut mon, "\"SET\" \"k\" \"v\"").starts_with('+'));
}
