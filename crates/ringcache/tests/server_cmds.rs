//! Server commands against a real node: COMMAND, INFO, DBSIZE, FLUSHDB,
//! FLUSHALL, CONFIG, TIME, SHUTDOWN, and stopping on SIGTERM; through the
//! `redis` crate, `redis-cli` and raw connections.

mod common;

use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{call, RawConn, Server};
use redis::Value;

/// One `name:value` field of an INFO text.
fn info_field(info: &str, name: &str) -> Option<String> {
    info.lines().find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':'))).map(str::to_owned)
}

fn info_num(conn: &mut redis::Connection, section: &str, name: &str) -> u64 {
    let info: String = redis::cmd("INFO").arg(section).query(conn).unwrap();
    info_field(&info, name).unwrap_or_else(|| panic!("no {name} in {info}")).parse().unwrap()
}

/// Waits up to 10 s for the node's process to exit.
fn wait_for_exit(server: &mut Server) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.is_running() {
        assert!(Instant::now() < deadline, "node still running 10 s after SHUTDOWN");
        thread::sleep(Duration::from_millis(20));
    }
}

fn reply_text(v: &Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        other => panic!("not a string: {other:?}"),
    }
}

fn reply_texts(v: &Value) -> Vec<String> {
    match v {
        Value::Array(items) | Value::Set(items) => items.iter().map(reply_text).collect(),
        other => panic!("not an array: {other:?}"),
    }
}

#[test]
fn command_count_info_list_and_getkeys() {
    let server = Server::start();
    let mut conn = server.conn();
    let count: i64 = redis::cmd("COMMAND").arg("COUNT").query(&mut conn).unwrap();
    let all: Vec<Value> = redis::cmd("COMMAND").query(&mut conn).unwrap();
    assert_eq!(all.len() as i64, count);
    assert!(count >= 20, "{count}");

    let info: Vec<Value> = redis::cmd("COMMAND").arg("INFO").arg("get").arg("nosuch").query(&mut conn).unwrap();
    assert_eq!(info.len(), 2);
    assert_eq!(info[1], Value::Nil);
    let Value::Array(get) = &info[0] else { panic!("{:?}", info[0]) };
    assert_eq!(get.len(), 10);
    assert_eq!(reply_text(&get[0]), "get");
    assert_eq!(get[1], Value::Int(2));
    assert_eq!(reply_texts(&get[2]), ["readonly", "fast"]);
    assert_eq!(get[3..6], [Value::Int(1), Value::Int(1), Value::Int(1)]);
    assert_eq!(reply_texts(&get[6]), ["@read", "@string", "@fast"]);
    // Blocking commands are @blocking, as Redis's flag implies.
    for (name, flags, categories) in [
        ("blpop", &["write", "blocking"][..], &["@write", "@list", "@slow", "@blocking"][..]),
        ("xread", &["readonly", "blocking", "movablekeys"], &["@read", "@stream", "@slow", "@blocking"]),
        ("xreadgroup", &["write", "blocking", "movablekeys"], &["@write", "@stream", "@slow", "@blocking"]),
    ] {
        let info: Vec<Value> = redis::cmd("COMMAND").arg("INFO").arg(name).query(&mut conn).unwrap();
        let Value::Array(c) = &info[0] else { panic!("{:?}", info[0]) };
        assert_eq!(reply_texts(&c[2]), flags, "{name}");
        assert_eq!(reply_texts(&c[6]), categories, "{name}");
    }

    // Keyspace-wide and keyless commands have no key positions.
    let flushall: Vec<Value> = redis::cmd("COMMAND").arg("INFO").arg("FLUSHALL").query(&mut conn).unwrap();
    let Value::Array(f) = &flushall[0] else { panic!() };
    assert_eq!(f[3..6], [Value::Int(0), Value::Int(0), Value::Int(0)]);
    assert_eq!(reply_texts(&f[2]), ["write"]);

    // Containers list their subcommands, which can be asked for by name.
    let client: Vec<Value> = redis::cmd("COMMAND").arg("INFO").arg("client").query(&mut conn).unwrap();
    let Value::Array(c) = &client[0] else { panic!() };
    let Value::Array(subs) = &c[9] else { panic!("{:?}", c[9]) };
    let names: Vec<String> =
        subs.iter().map(|s| if let Value::Array(e) = s { reply_text(&e[0]) } else { panic!() }).collect();
    assert!(names.contains(&"client|list".to_owned()), "{names:?}");
    let sub: Vec<Value> = redis::cmd("COMMAND").arg("INFO").arg("config|set").query(&mut conn).unwrap();
    let Value::Array(s) = &sub[0] else { panic!("{:?}", sub[0]) };
    assert_eq!((reply_text(&s[0]), &s[1]), ("config|set".to_owned(), &Value::Int(-4)));

    let list: Vec<String> = redis::cmd("COMMAND").arg("LIST").query(&mut conn).unwrap();
    for name in ["get", "set", "ping", "config", "config|get", "client|kill", "command|docs"] {
        assert!(list.contains(&name.to_owned()), "{name} not in {list:?}");
    }
    let filtered: Vec<String> =
        redis::cmd("COMMAND").arg("LIST").arg("FILTERBY").arg("PATTERN").arg("CONFIG*").query(&mut conn).unwrap();
    assert!(filtered.contains(&"config|resetstat".to_owned()));
    assert!(filtered.iter().all(|n| n.starts_with("config")), "{filtered:?}");
    let strings_cat: Vec<String> =
        redis::cmd("COMMAND").arg("LIST").arg("FILTERBY").arg("ACLCAT").arg("string").query(&mut conn).unwrap();
    assert!(strings_cat.contains(&"get".to_owned()) && !strings_cat.contains(&"ping".to_owned()));
    let modules: Vec<String> =
        redis::cmd("COMMAND").arg("LIST").arg("FILTERBY").arg("MODULE").arg("x").query(&mut conn).unwrap();
    assert!(modules.is_empty());

    let keys: Vec<String> =
        redis::cmd("COMMAND").arg("GETKEYS").arg("SET").arg("k1").arg("v").query(&mut conn).unwrap();
    assert_eq!(keys, ["k1"]);
    // Each key with the flags of Redis's key spec that found it.
    let flagged: Vec<(String, Vec<String>)> =
        common::cmd(&["COMMAND", "GETKEYSANDFLAGS", "LMOVE", "k1", "k2", "left", "right"]).query(&mut conn).unwrap();
    assert_eq!(
        flagged,
        [
            ("k1".to_owned(), common::strings(&["RW", "access", "delete"])),
            ("k2".to_owned(), common::strings(&["RW", "insert"]))
        ]
    );
    let keys: Vec<String> = common::cmd(&["COMMAND", "GETKEYS", "EVAL", "return 1", "0"]).query(&mut conn).unwrap();
    assert!(keys.is_empty(), "EVAL needs no keys: {keys:?}");
    let Value::Array(sort) = common::run(&mut conn, &["COMMAND", "INFO", "sort"]) else { panic!("an array") };
    assert!(format!("{sort:?}").contains("movablekeys"), "{sort:?}");

    let mut raw = server.raw();
    assert_eq!(call(&mut raw, &["COMMAND", "LIST", "FILTERBY", "NOPE", "x"]), "-ERR syntax error\r\n");
    assert_eq!(call(&mut raw, &["COMMAND", "GETKEYS", "nosuch", "x"]), "-ERR Invalid command specified\r\n");
    assert_eq!(
        call(&mut raw, &["COMMAND", "GETKEYS", "get", "a", "b"]),
        "-ERR Invalid number of arguments specified for command\r\n"
    );
    assert_eq!(call(&mut raw, &["COMMAND", "GETKEYS", "ping", "x"]), "-ERR The command has no key arguments\r\n");
    // A container's subcommand is looked up with it, with its own arity.
    assert_eq!(call(&mut raw, &["COMMAND", "GETKEYS", "object", "encoding", "k"]), "*1\r\n$1\r\nk\r\n");
    assert_eq!(call(&mut raw, &["COMMAND", "GETKEYS", "object", "nosuch", "k"]), "-ERR Invalid command specified\r\n");
    assert_eq!(
        call(&mut raw, &["COMMAND", "GETKEYS", "xgroup", "destroy", "s"]),
        "-ERR Invalid number of arguments specified for command\r\n"
    );
    assert_eq!(call(&mut raw, &["COMMAND", "FOO"]), "-ERR unknown subcommand 'FOO'. Try COMMAND HELP.\r\n");
    assert_eq!(
        call(&mut raw, &["COMMAND", "COUNT", "x"]),
        "-ERR wrong number of arguments for 'command|count' command\r\n"
    );
    assert!(call(&mut raw, &["COMMAND", "HELP"]).contains("+COMMAND <subcommand> [<arg> [value] [opt] ...]."));
}

#[test]
fn command_info_and_docs_in_resp3() {
    let server = Server::start();
    let mut raw = server.raw();
    assert!(call(&mut raw, &["HELLO", "3"]).starts_with("%7"));
    let info = call(&mut raw, &["COMMAND", "INFO", "get"]);
    assert_eq!(
        info,
        "*1\r\n*10\r\n$3\r\nget\r\n:2\r\n~2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n\
         ~3\r\n+@read\r\n+@string\r\n+@fast\r\n~0\r\n\
         ~1\r\n%3\r\n$5\r\nflags\r\n~2\r\n+RO\r\n+access\r\n\
         $12\r\nbegin_search\r\n%2\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n%1\r\n$5\r\nindex\r\n:1\r\n\
         $9\r\nfind_keys\r\n%2\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n\
         %3\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n~0\r\n"
    );
    assert_eq!(call(&mut raw, &["COMMAND", "INFO", "nosuch"]), "*1\r\n_\r\n");

    let docs = call(&mut raw, &["COMMAND", "DOCS", "get", "nosuch"]);
    assert_eq!(
        docs,
        "%1\r\n$3\r\nget\r\n%5\r\n$7\r\nsummary\r\n$34\r\nReturns the string value of a key.\r\n\
         $5\r\nsince\r\n$5\r\n1.0.0\r\n$5\r\ngroup\r\n$6\r\nstring\r\n$10\r\ncomplexity\r\n$4\r\nO(1)\r\n\
         $9\r\narguments\r\n*1\r\n%4\r\n$4\r\nname\r\n$3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n\
         $12\r\ndisplay_text\r\n$3\r\nkey\r\n$14\r\nkey_spec_index\r\n:0\r\n"
    );
    let docs = call(&mut raw, &["COMMAND", "DOCS", "config"]);
    assert!(docs.contains("$11\r\nsubcommands\r\n%4\r\n"), "{docs:?}");
    assert!(docs.contains("$10\r\nconfig|get\r\n%6\r\n$7\r\nsummary\r\n"), "{docs:?}");
}

#[test]
fn command_docs_cover_every_command() {
    let server = Server::start();
    let mut conn = server.conn_resp3();
    let count: i64 = redis::cmd("COMMAND").arg("COUNT").query(&mut conn).unwrap();
    let docs: Value = redis::cmd("COMMAND").arg("DOCS").query(&mut conn).unwrap();
    let Value::Map(entries) = docs else { panic!("{docs:?}") };
    assert_eq!(entries.len() as i64, count);
    for (name, doc) in &entries {
        let Value::Map(fields) = doc else { panic!("{doc:?}") };
        let keys: Vec<String> = fields.iter().map(|(k, _)| reply_text(k)).collect();
        assert!(keys.contains(&"summary".to_owned()) && keys.contains(&"group".to_owned()), "{}", reply_text(name));
    }
}

#[test]
fn redis_cli_formats_and_uses_command_docs() {
    let server = Server::start();
    let info = server.cli(&["info", "server"]);
    assert!(info.contains("redis_version:7.2.4"), "{info}");
    assert!(info.contains(&format!("tcp_port:{}", server.port)), "{info}");

    let docs = server.cli(&["--no-raw", "command", "docs", "get"]);
    assert!(docs.starts_with("1) \"get\"\n2)  1) \"summary\""), "{docs}");
    assert!(docs.contains("\"since\"") && docs.contains("\"1.0.0\"") && docs.contains("\"string\""), "{docs}");

    // With commands on stdin redis-cli first loads its help table from
    // COMMAND DOCS (and asserts on its shape), then runs them one by one.
    let out = server.cli_stdin(&[], b"client setname cli-user\nclient getname\nconfig get maxmemory-policy\n");
    assert_eq!(out, "OK\ncli-user\nmaxmemory-policy\nnoeviction");

    let out = server.cli(&["-3", "--no-raw", "config", "get", "maxmemory"]);
    assert_eq!(out, "1# \"maxmemory\" => \"0\"");
}

#[test]
fn info_has_every_section() {
    let server = Server::start();
    let mut conn = server.conn();
    let info: String = redis::cmd("INFO").query(&mut conn).unwrap();
    for section in ["Server", "Clients", "Memory", "Persistence", "Stats", "Replication", "Cluster", "Keyspace"] {
        assert!(info.contains(&format!("# {section}\r\n")), "no {section} in {info}");
    }
    let all: String = redis::cmd("INFO").arg("all").query(&mut conn).unwrap();
    assert!(all.starts_with("# Server\r\nredis_version:7.2.4\r\n"), "{all}");
    assert!(all.contains("\r\n\r\n# Clients\r\n"), "sections are separated by a blank line: {all}");

    for (field, want) in [
        ("redis_mode", "standalone".to_owned()),
        ("tcp_port", server.port.to_string()),
        ("process_id", server.pid().to_string()),
        ("arch_bits", "64".to_owned()),
        ("maxclients", "10000".to_owned()),
        ("maxmemory_policy", "noeviction".to_owned()),
        ("mem_allocator", "mimalloc".to_owned()),
        ("role", "master".to_owned()),
        ("blocked_clients", "0".to_owned()),
    ] {
        assert_eq!(info_field(&info, field).as_deref(), Some(want.as_str()), "{field}");
    }
    assert_eq!(info_field(&info, "run_id").map(|r| r.len()), Some(40));
    assert!(info_field(&info, "connected_clients").unwrap().parse::<u64>().unwrap() >= 1);
    assert!(info_field(&info, "uptime_in_seconds").is_some() && info_field(&info, "used_memory_human").is_some());

    // One section, several sections, unknown ones, case.
    let server_only: String = redis::cmd("INFO").arg("server").query(&mut conn).unwrap();
    assert!(server_only.starts_with("# Server\r\n") && !server_only.contains("# Clients"));
    let two: String = redis::cmd("INFO").arg("KEYSPACE").arg("clients").arg("nosuch").query(&mut conn).unwrap();
    assert!(two.starts_with("# Clients\r\n") && two.ends_with("\r\n\r\n# Keyspace\r\n"), "{two:?}");
    let none: String = redis::cmd("INFO").arg("nosuch").query(&mut conn).unwrap();
    assert_eq!(none, "");

    // RESP3: a verbatim string; RESP2: a bulk string.
    let mut raw = server.raw();
    assert!(call(&mut raw, &["INFO", "cluster"]).starts_with("$30\r\n# Cluster\r\ncluster_enabled:0\r\n"));
    assert!(call(&mut raw, &["HELLO", "3"]).starts_with("%7"));
    assert_eq!(call(&mut raw, &["INFO", "cluster"]), "=34\r\ntxt:# Cluster\r\ncluster_enabled:0\r\n\r\n");
}

#[test]
fn info_cpu_modules_and_replication_as_redis_prints_them() {
    let server = Server::start();
    let mut conn = server.conn();
    // CPU and the (empty) modules list are default sections, between
    // replication and errorstats, as in Redis 7.2.
    let info: String = redis::cmd("INFO").query(&mut conn).unwrap();
    let order: Vec<&str> = info.lines().filter_map(|l| l.strip_prefix("# ")).collect();
    assert_eq!(
        order,
        [
            "Server",
            "Clients",
            "Memory",
            "Persistence",
            "Stats",
            "Replication",
            "CPU",
            "Modules",
            "Errorstats",
            "Cluster",
            "Keyspace"
        ]
    );
    assert!(info.contains("\r\n# Modules\r\n\r\n# Errorstats\r\n"), "{info}");
    for field in ["used_cpu_sys", "used_cpu_user", "used_cpu_sys_children", "used_cpu_user_children"] {
        let v = info_field(&info, field).unwrap_or_else(|| panic!("no {field} in {info}"));
        let (secs, micros) = v.split_once('.').unwrap_or_else(|| panic!("{field}:{v}"));
        assert!(secs.parse::<u64>().is_ok() && micros.len() == 6 && micros.parse::<u32>().is_ok(), "{field}:{v}");
    }
    // A node that has run something has used some CPU. The kernel may
    // count CPU time by the tick (a few ms), which a node that has only
    // started need not have reached yet: keep it busy until it shows.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let cpu: String = redis::cmd("INFO").arg("cpu").query(&mut conn).unwrap();
        let used = |f: &str| info_field(&cpu, f).unwrap().parse::<f64>().unwrap();
        if used("used_cpu_user") + used("used_cpu_sys") > 0.0 {
            break;
        }
        assert!(Instant::now() < deadline, "no CPU time counted after 10 s of work: {cpu}");
        let mut pipe = redis::pipe();
        for _ in 0..10_000 {
            pipe.cmd("PING").ignore();
        }
        let _: () = pipe.query(&mut conn).unwrap();
    }

    // Replication: what a Redis master no replica ever attached to reports.
    for (field, want) in [
        ("connected_slaves", "0"),
        ("master_failover_state", "no-failover"),
        ("master_replid2", "0000000000000000000000000000000000000000"),
        ("master_repl_offset", "0"),
        ("second_repl_offset", "-1"),
        ("repl_backlog_active", "0"),
        ("repl_backlog_size", "1048576"),
        ("repl_backlog_first_byte_offset", "0"),
        ("repl_backlog_histlen", "0"),
    ] {
        assert_eq!(info_field(&info, field).as_deref(), Some(want), "{field}");
    }
    let replid = info_field(&info, "master_replid").unwrap();
    assert!(replid.len() == 40 && replid.bytes().all(|b| b.is_ascii_hexdigit()), "{replid}");
    assert_ne!(Some(replid), info_field(&info, "run_id"));

    // One section by name (either of the modules list's names), and
    // sections asked for twice printed once.
    let cpu: String = redis::cmd("INFO").arg("CPU").query(&mut conn).unwrap();
    assert!(cpu.starts_with("# CPU\r\nused_cpu_sys:") && !cpu.contains("used_memory"), "{cpu}");
    let modules: String = redis::cmd("INFO").arg("module_list").query(&mut conn).unwrap();
    assert_eq!(modules, "# Modules\r\n");
    let twice: String = redis::cmd("INFO").arg("cpu").arg("all").query(&mut conn).unwrap();
    assert_eq!(twice.matches("used_cpu_user_children").count(), 1, "{twice}");
    assert!(twice.contains("# Commandstats\r\n") && twice.contains("master_repl_offset"), "{twice}");
    let default: String = redis::cmd("INFO").arg("cpu").arg("default").query(&mut conn).unwrap();
    assert_eq!(default.matches("# CPU").count(), 1, "{default}");
    assert!(!default.contains("# Commandstats"), "{default}");
}

#[test]
fn info_counters_move() {
    let server = Server::start();
    let mut conn = server.conn();
    assert_eq!(info_num(&mut conn, "stats", "keyspace_hits"), 0);
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut conn).unwrap();
    let _: () = redis::cmd("SET").arg("t").arg("v").arg("EX").arg(100).query(&mut conn).unwrap();
    let _: Option<String> = redis::cmd("GET").arg("k").query(&mut conn).unwrap();
    let _: Option<String> = redis::cmd("GET").arg("k").query(&mut conn).unwrap();
    let _: Option<String> = redis::cmd("GET").arg("missing").query(&mut conn).unwrap();
    assert_eq!(info_num(&mut conn, "stats", "keyspace_hits"), 2);
    assert_eq!(info_num(&mut conn, "stats", "keyspace_misses"), 1);

    let keyspace: String = redis::cmd("INFO").arg("keyspace").query(&mut conn).unwrap();
    let avg_ttl: u64 = keyspace
        .strip_prefix("# Keyspace\r\ndb0:keys=2,expires=1,avg_ttl=")
        .and_then(|rest| rest.strip_suffix("\r\n"))
        .and_then(|ms| ms.parse().ok())
        .unwrap_or_else(|| panic!("{keyspace:?}"));
    assert!((90_000..=100_000).contains(&avg_ttl), "{avg_ttl}");
    assert!(info_num(&mut conn, "memory", "used_memory") > 0);

    let commands = info_num(&mut conn, "stats", "total_commands_processed");
    let input = info_num(&mut conn, "stats", "total_net_input_bytes");
    let _: String = redis::cmd("PING").query(&mut conn).unwrap();
    assert!(info_num(&mut conn, "stats", "total_commands_processed") >= commands + 2);
    assert!(info_num(&mut conn, "stats", "total_net_input_bytes") > input);
    assert!(info_num(&mut conn, "stats", "total_net_output_bytes") > 0);
    let connections = info_num(&mut conn, "stats", "total_connections_received");
    drop(server.conn());
    assert_eq!(info_num(&mut conn, "stats", "total_connections_received"), connections + 1);

    // CONFIG RESETSTAT zeroes them.
    let _: () = redis::cmd("CONFIG").arg("RESETSTAT").query(&mut conn).unwrap();
    assert_eq!(info_num(&mut conn, "stats", "keyspace_hits"), 0);
    assert_eq!(info_num(&mut conn, "stats", "keyspace_misses"), 0);
    assert!(info_num(&mut conn, "stats", "total_commands_processed") < commands);
}

#[test]
fn dbsize_flushdb_flushall() {
    let server = Server::start();
    let mut conn = server.conn();
    let size: i64 = redis::cmd("DBSIZE").query(&mut conn).unwrap();
    assert_eq!(size, 0);
    for i in 0..50 {
        let _: () = redis::cmd("SET").arg(format!("key:{i}")).arg(i).query(&mut conn).unwrap();
    }
    let size: i64 = redis::cmd("DBSIZE").query(&mut conn).unwrap();
    assert_eq!(size, 50);
    let _: () = redis::cmd("FLUSHALL").query(&mut conn).unwrap();
    let size: i64 = redis::cmd("DBSIZE").query(&mut conn).unwrap();
    assert_eq!(size, 0);
    let v: Option<String> = redis::cmd("GET").arg("key:1").query(&mut conn).unwrap();
    assert_eq!(v, None);

    let mut raw = server.raw();
    for (cmd, mode) in [("FLUSHDB", "ASYNC"), ("FLUSHALL", "sync"), ("flushdb", "SYNC"), ("FLUSHALL", "async")] {
        assert_eq!(call(&mut raw, &["SET", "k", "v"]), "+OK\r\n");
        assert_eq!(call(&mut raw, &[cmd, mode]), "+OK\r\n");
        assert_eq!(call(&mut raw, &["DBSIZE"]), ":0\r\n");
    }
    assert_eq!(call(&mut raw, &["SET", "k", "v"]), "+OK\r\n");
    assert_eq!(call(&mut raw, &["FLUSHDB"]), "+OK\r\n");
    assert_eq!(call(&mut raw, &["DBSIZE"]), ":0\r\n");
    assert_eq!(call(&mut raw, &["FLUSHALL", "foo"]), "-ERR syntax error\r\n");
    assert_eq!(call(&mut raw, &["FLUSHALL", "ASYNC", "SYNC"]), "-ERR syntax error\r\n");
    assert_eq!(call(&mut raw, &["DBSIZE", "x"]), "-ERR wrong number of arguments for 'dbsize' command\r\n");

    // FLUSHALL inside a transaction, and its effect on WATCH.
    assert_eq!(call(&mut raw, &["SET", "w", "1"]), "+OK\r\n");
    assert_eq!(call(&mut raw, &["WATCH", "w"]), "+OK\r\n");
    let _: () = redis::cmd("FLUSHALL").query(&mut conn).unwrap();
    assert_eq!(call(&mut raw, &["MULTI"]), "+OK\r\n");
    assert_eq!(call(&mut raw, &["DBSIZE"]), "+QUEUED\r\n");
    assert_eq!(call(&mut raw, &["EXEC"]), "*-1\r\n");
    assert_eq!(call(&mut raw, &["MULTI"]), "+OK\r\n");
    assert_eq!(call(&mut raw, &["SET", "a", "1"]), "+QUEUED\r\n");
    assert_eq!(call(&mut raw, &["FLUSHDB"]), "+QUEUED\r\n");
    assert_eq!(call(&mut raw, &["DBSIZE"]), "+QUEUED\r\n");
    assert_eq!(call(&mut raw, &["EXEC"]), "*3\r\n+OK\r\n+OK\r\n:0\r\n");
}

#[test]
fn time_is_now() {
    let server = Server::start();
    let mut conn = server.conn();
    let before = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let (secs, micros): (String, String) = redis::cmd("TIME").query(&mut conn).unwrap();
    let after = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let secs: u64 = secs.parse().unwrap();
    let micros: u64 = micros.parse().unwrap();
    assert!((before..=after).contains(&secs), "{before} <= {secs} <= {after}");
    assert!(micros < 1_000_000);
    let mut raw = server.raw();
    assert_eq!(call(&mut raw, &["TIME", "x"]), "-ERR wrong number of arguments for 'time' command\r\n");
}

#[test]
fn config_get_and_set_round_trip() {
    let server = Server::start();
    let mut conn = server.conn();
    let got: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("maxmemory").query(&mut conn).unwrap();
    assert_eq!(got, ["maxmemory", "0"]);

    let _: () = redis::cmd("CONFIG").arg("SET").arg("maxmemory").arg("10mb").query(&mut conn).unwrap();
    let got: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("maxmemory").query(&mut conn).unwrap();
    assert_eq!(got, ["maxmemory", "10485760"]);
    assert_eq!(info_num(&mut conn, "memory", "maxmemory"), 10 << 20);
    let memory: String = redis::cmd("INFO").arg("memory").query(&mut conn).unwrap();
    assert_eq!(info_field(&memory, "maxmemory_human").as_deref(), Some("10.00M"));

    // Several pairs at once, any case for names.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("MAXMEMORY-POLICY")
        .arg("allkeys-lru")
        .arg("maxmemory")
        .arg("1gb")
        .arg("hz")
        .arg("20")
        .query(&mut conn)
        .unwrap();
    let got: Vec<String> =
        redis::cmd("CONFIG").arg("GET").arg("maxmemory-policy").arg("maxmemory").arg("hz").query(&mut conn).unwrap();
    assert_eq!(got, ["maxmemory-policy", "allkeys-lru", "maxmemory", "1073741824", "hz", "20"]);
    let info: String = redis::cmd("INFO").arg("memory").arg("server").query(&mut conn).unwrap();
    assert_eq!(info_field(&info, "maxmemory_policy").as_deref(), Some("allkeys-lru"));
    assert_eq!(info_field(&info, "hz").as_deref(), Some("20"));

    // Patterns: glob, case-insensitive, no duplicates across patterns; an
    // exact name is echoed as given.
    let got: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("MAXMEMORY*").arg("maxmemory").query(&mut conn).unwrap();
    let names: Vec<&String> = got.iter().step_by(2).collect();
    // Redis 7.2's five, the two ringcache only stores included.
    assert_eq!(names.len(), 5, "{got:?}");
    for name in
        ["maxmemory", "maxmemory-policy", "maxmemory-samples", "maxmemory-eviction-tenacity", "maxmemory-clients"]
    {
        assert!(names.iter().any(|n| *n == name), "{name} missing from {got:?}");
    }
    let got: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("TIMEOUT").query(&mut conn).unwrap();
    assert_eq!(got, ["TIMEOUT", "0"]);
    let got: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("nosuch").arg("no*such").query(&mut conn).unwrap();
    assert!(got.is_empty());
    let every: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("*").query(&mut conn).unwrap();
    for name in ["port", "bind", "maxclients", "requirepass", "proto-max-bulk-len"] {
        assert!(every.contains(&name.to_owned()), "{name} missing from CONFIG GET *");
    }
    let port_pos = every.iter().position(|n| n == "port").unwrap();
    assert_eq!(every[port_pos + 1], server.port.to_string());
}

#[test]
fn config_set_errors_change_nothing() {
    let server = Server::start();
    let mut raw = server.raw();
    let get = |raw: &mut RawConn, name: &str| call(raw, &["CONFIG", "GET", name]);
    let before = get(&mut raw, "maxmemory");

    let bad = call(&mut raw, &["CONFIG", "SET", "maxmemory", "lots"]);
    assert!(
        bad.starts_with(
            "-ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value"
        ),
        "{bad:?}"
    );
    // Atomic: a bad second pair leaves the first unapplied.
    let bad = call(&mut raw, &["CONFIG", "SET", "maxmemory", "5mb", "maxmemory-policy", "bogus"]);
    assert!(bad.starts_with("-ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - "), "{bad:?}");
    assert_eq!(get(&mut raw, "maxmemory"), before);
    assert_eq!(get(&mut raw, "maxmemory-policy"), "*2\r\n$16\r\nmaxmemory-policy\r\n$10\r\nnoeviction\r\n");
    let bad = call(&mut raw, &["CONFIG", "SET", "maxclients", "x"]);
    assert!(bad.starts_with("-ERR CONFIG SET failed (possibly related to argument 'maxclients') - "), "{bad:?}");

    assert_eq!(
        call(&mut raw, &["CONFIG", "SET", "nosuch", "1"]),
        "-ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'\r\n"
    );
    assert_eq!(
        call(&mut raw, &["CONFIG", "SET", "hz", "5", "nosuch", "1"]),
        "-ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'\r\n"
    );
    assert_eq!(
        call(&mut raw, &["CONFIG", "SET", "PORT", "1"]),
        "-ERR CONFIG SET failed (possibly related to argument 'PORT') - can't set immutable config\r\n"
    );
    assert_eq!(
        call(&mut raw, &["CONFIG", "SET", "maxmemory", "1mb", "MAXMEMORY", "2mb"]),
        "-ERR CONFIG SET failed (possibly related to argument 'MAXMEMORY') - duplicate parameter\r\n"
    );
    assert_eq!(get(&mut raw, "maxmemory"), before);
    assert_eq!(get(&mut raw, "hz"), "*2\r\n$2\r\nhz\r\n$2\r\n10\r\n");

    assert_eq!(
        call(&mut raw, &["CONFIG", "SET", "maxmemory"]),
        "-ERR wrong number of arguments for 'config|set' command\r\n"
    );
    assert_eq!(
        call(&mut raw, &["CONFIG", "SET", "maxmemory", "1", "hz"]),
        "-ERR wrong number of arguments for 'config|set' command\r\n"
    );
    assert_eq!(call(&mut raw, &["CONFIG", "GET"]), "-ERR wrong number of arguments for 'config|get' command\r\n");
    assert_eq!(call(&mut raw, &["CONFIG"]), "-ERR wrong number of arguments for 'config' command\r\n");
    assert_eq!(call(&mut raw, &["CONFIG", "REWRITE"]), "-ERR unknown subcommand 'REWRITE'. Try CONFIG HELP.\r\n");
    let help = call(&mut raw, &["CONFIG", "HELP"]);
    assert!(help.contains("+CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n+GET <pattern>\r\n"));
}

#[test]
fn config_set_of_a_fixed_option_to_its_value_changes_nothing() {
    let server = Server::start();
    let mut raw = server.raw();
    // A fixed option "set" to the value it has changes nothing, as tools
    // that write back what CONFIG GET read expect; a Redis parameter that
    // is immutable there too is refused whatever the value.
    let port = server.port.to_string();
    assert_eq!(call(&mut raw, &["CONFIG", "SET", "port", &port, "hz", "7"]), "+OK\r\n");
    assert_eq!(call(&mut raw, &["CONFIG", "GET", "hz"]), "*2\r\n$2\r\nhz\r\n$1\r\n7\r\n");
    assert_eq!(
        call(&mut raw, &["CONFIG", "SET", "port", &port, "PORT", &port]),
        "-ERR CONFIG SET failed (possibly related to argument 'PORT') - duplicate parameter\r\n"
    );
    assert_eq!(
        call(&mut raw, &["CONFIG", "SET", "daemonize", "no"]),
        "-ERR CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config\r\n"
    );
}

#[test]
fn config_set_maxmemory_takes_effect() {
    let server = Server::start();
    let mut raw = server.raw();
    assert_eq!(call(&mut raw, &["CONFIG", "SET", "maxmemory", "1"]), "+OK\r\n");
    assert_eq!(call(&mut raw, &["SET", "a", "1"]), "+OK\r\n", "the first write gets under way");
    assert_eq!(
        call(&mut raw, &["SET", "b", "1"]),
        "-OOM command not allowed when used memory > 'maxmemory'.\r\n",
        "noeviction refuses once over the limit"
    );
    assert_eq!(call(&mut raw, &["CONFIG", "SET", "maxmemory", "0"]), "+OK\r\n");
    assert_eq!(call(&mut raw, &["SET", "b", "1"]), "+OK\r\n");
}

#[test]
fn shutdown_closes_the_client_and_exits_zero() {
    let mut server = Server::start();
    let mut raw = server.raw();
    let mut other = server.raw();
    // Refusals first: the node keeps running.
    assert_eq!(call(&mut raw, &["SHUTDOWN", "FOO"]), "-ERR syntax error\r\n");
    assert_eq!(call(&mut raw, &["SHUTDOWN", "SAVE", "NOSAVE"]), "-ERR syntax error\r\n");
    assert_eq!(call(&mut raw, &["SHUTDOWN", "ABORT", "NOW"]), "-ERR syntax error\r\n");
    assert_eq!(call(&mut raw, &["SHUTDOWN", "ABORT"]), "-ERR No shutdown in progress.\r\n");
    assert_eq!(call(&mut raw, &["SHUTDOWN", "SAVE"]), "-ERR Errors trying to SHUTDOWN. Check logs.\r\n");
    assert_eq!(call(&mut raw, &["MULTI"]), "+OK\r\n");
    assert_eq!(call(&mut raw, &["SHUTDOWN"]), "-ERR Command not allowed inside a transaction\r\n");
    assert_eq!(call(&mut raw, &["EXEC"]), "-EXECABORT Transaction discarded because of previous errors.\r\n");
    assert!(server.is_running());

    raw.send_cmd(&["SHUTDOWN", "NOSAVE", "NOW"]);
    assert_eq!(raw.read_until_closed(), b"", "SHUTDOWN gets no reply");
    assert!(other.wait_closed(Duration::from_secs(10)), "other clients are disconnected");
    wait_for_exit(&mut server);
    let status = server.stop().expect("exit status");
    assert!(status.success(), "{status}");
}

#[test]
fn redis_cli_shutdown() {
    let mut server = Server::start();
    let out = server.cli_output(&["shutdown"], None);
    assert!(out.status.success(), "{out:?}");
    wait_for_exit(&mut server);
    assert!(server.stop().expect("exit status").success());
}

#[test]
fn sigterm_stops_gracefully() {
    let mut server = Server::start();
    let mut conn = server.conn();
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut conn).unwrap();
    let mut idle = server.raw();
    let status = server.stop().expect("exit status");
    assert!(status.success(), "{status}");
    assert!(idle.wait_closed(Duration::from_secs(1)));
    assert!(server.log().contains("SIGTERM"), "{}", server.log());
}

#[test]
fn wait_on_a_standalone_node_answers_that_no_replica_holds_anything() {
    let server = Server::start();
    let mut conn = server.conn();
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut conn).unwrap();
    let n: i64 = redis::cmd("WAIT").arg(1).arg(100).query(&mut conn).unwrap();
    assert_eq!(n, 0);
    let n: i64 = redis::cmd("WAIT").arg(0).arg(0).query(&mut conn).unwrap();
    assert_eq!(n, 0);
    let e = redis::cmd("WAIT").arg(1).arg(-5).query::<i64>(&mut conn).unwrap_err();
    assert!(e.to_string().contains("timeout is negative"), "{e}");
}

#[test]
fn module_lists_none_and_loads_none() {
    let server = Server::start();
    let mut c = server.conn();
    let help = reply_texts(&common::run(&mut c, &["MODULE", "HELP"]));
    assert!(help[0].starts_with("MODULE <subcommand> "), "{help:?}");
    assert!(help.iter().any(|l| l == "UNLOAD <name>"), "{help:?}");
    assert_eq!(common::array(&mut c, &["MODULE", "LIST"]), Vec::<String>::new());
    assert_eq!(
        common::err(&mut c, &["MODULE", "LOAD", "/tmp/nosuch.so"]),
        "ERR Error loading the extension. Please check the server logs."
    );
    assert_eq!(
        common::err(&mut c, &["MODULE", "UNLOAD", "nosuch"]),
        "ERR Error unloading module: no such module with that name"
    );
    assert_eq!(common::err(&mut c, &["MODULE", "NOSUCH"]), "ERR unknown subcommand 'NOSUCH'. Try MODULE HELP.");
    assert!(common::err(&mut c, &["MODULE"]).starts_with("ERR wrong number of arguments for 'module'"));
    // The node goes on answering.
    assert_eq!(common::run::<String>(&mut c, &["PING"]), "PONG");
}

/// Waits up to 10 s for the background freer to have nothing pending, and
/// returns `lazyfreed_objects` then.
fn lazyfree_settled(conn: &mut redis::Connection) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    while info_num(conn, "memory", "lazyfree_pending_objects") != 0 {
        assert!(Instant::now() < deadline, "lazyfree_pending_objects is still not 0 after 10 s");
        thread::sleep(Duration::from_millis(10));
    }
    info_num(conn, "memory", "lazyfreed_objects")
}

fn sadd_many(conn: &mut redis::Connection, key: &str, n: usize) {
    let members: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    let added: usize = redis::cmd("SADD").arg(key).arg(&members).query(conn).unwrap();
    assert_eq!(added, n);
}

#[test]
fn unlink_and_flush_async_free_large_values_in_the_background() {
    let server = Server::start();
    let mut conn = server.conn();
    let mut raw = server.raw();
    assert_eq!(lazyfree_settled(&mut conn), 0);

    // Above Redis's threshold of 64 elements UNLINK frees in the background;
    // at or under it, and for DEL by default, the value is freed at once.
    sadd_many(&mut conn, "big", 65);
    sadd_many(&mut conn, "small", 64);
    assert_eq!(call(&mut raw, &["UNLINK", "big", "small"]), ":2\r\n");
    assert_eq!(lazyfree_settled(&mut conn), 1);
    sadd_many(&mut conn, "big", 1000);
    assert_eq!(call(&mut raw, &["DEL", "big"]), ":1\r\n");
    assert_eq!(lazyfree_settled(&mut conn), 1);
    // lazyfree-lazy-user-del makes DEL do as UNLINK does.
    assert_eq!(call(&mut raw, &["CONFIG", "SET", "lazyfree-lazy-user-del", "yes"]), "+OK\r\n");
    sadd_many(&mut conn, "big", 1000);
    assert_eq!(call(&mut raw, &["DEL", "big"]), ":1\r\n");
    assert_eq!(lazyfree_settled(&mut conn), 2);
    assert_eq!(call(&mut raw, &["EXISTS", "big"]), ":0\r\n");

    // A stream: one object per node and per consumer group (Redis's effort).
    assert_eq!(call(&mut raw, &["CONFIG", "SET", "stream-node-max-entries", "5"]), "+OK\r\n");
    for i in 0..500 {
        let _: String = redis::cmd("XADD").arg("s").arg("*").arg("f").arg(i).query(&mut conn).unwrap();
    }
    assert_eq!(call(&mut raw, &["UNLINK", "s"]), ":1\r\n");
    assert_eq!(lazyfree_settled(&mut conn), 3);
    let _: String = redis::cmd("XADD").arg("s").arg("*").arg("f").arg(1).query(&mut conn).unwrap();
    assert_eq!(call(&mut raw, &["UNLINK", "s"]), ":1\r\n");
    assert_eq!(lazyfree_settled(&mut conn), 3);

    // CONFIG RESETSTAT starts lazyfreed_objects again from 0.
    assert_eq!(call(&mut raw, &["CONFIG", "RESETSTAT"]), "+OK\r\n");
    assert_eq!(lazyfree_settled(&mut conn), 0);

    // FLUSHDB / FLUSHALL ASYNC hand every key over, whatever its size;
    // SYNC, and no option by default, free here.
    for i in 0..10 {
        let _: () = redis::cmd("SET").arg(format!("k{i}")).arg(i).query(&mut conn).unwrap();
    }
    assert_eq!(call(&mut raw, &["FLUSHDB", "ASYNC"]), "+OK\r\n");
    assert_eq!(call(&mut raw, &["DBSIZE"]), ":0\r\n");
    assert_eq!(lazyfree_settled(&mut conn), 10);
    let _: () = redis::cmd("SET").arg("k").arg(1).query(&mut conn).unwrap();
    let mut db1 = server.conn_db(1);
    let _: () = redis::cmd("SET").arg("k").arg(1).query(&mut db1).unwrap();
    assert_eq!(call(&mut raw, &["FLUSHALL", "ASYNC"]), "+OK\r\n");
    assert_eq!(lazyfree_settled(&mut conn), 12);
    let _: () = redis::cmd("SET").arg("k").arg(1).query(&mut conn).unwrap();
    assert_eq!(call(&mut raw, &["FLUSHALL"]), "+OK\r\n");
    assert_eq!(call(&mut raw, &["FLUSHALL", "SYNC"]), "+OK\r\n");
    assert_eq!(lazyfree_settled(&mut conn), 12);
    // lazyfree-lazy-user-flush makes a flush without an option ASYNC.
    assert_eq!(call(&mut raw, &["CONFIG", "SET", "lazyfree-lazy-user-flush", "yes"]), "+OK\r\n");
    let _: () = redis::cmd("SET").arg("k").arg(1).query(&mut conn).unwrap();
    assert_eq!(call(&mut raw, &["FLUSHDB"]), "+OK\r\n");
    assert_eq!(lazyfree_settled(&mut conn), 13);
    let _: () = redis::cmd("SET").arg("k").arg(1).query(&mut conn).unwrap();
    assert_eq!(call(&mut raw, &["FLUSHDB", "SYNC"]), "+OK\r\n");
    assert_eq!(lazyfree_settled(&mut conn), 13);
}
