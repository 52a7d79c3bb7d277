//! COMMAND DOCS against a real node, compared with Redis 7.2.6's own
//! replies (written out below from its `src/commands/*.json` by Redis's
//! rules: `addReplyCommandDocs`, `addReplyCommandArgList`), redis-cli's
//! help and hints, which it builds from COMMAND DOCS, and the parts of
//! COMMAND INFO taken from the same data (tips, key specs and their notes,
//! the legacy key range).

mod common;

use common::Server;
use redis::Value;

fn b(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

fn map(fields: Vec<(&str, Value)>) -> Value {
    Value::Map(fields.into_iter().map(|(k, v)| (b(k), v)).collect())
}

fn flags(names: &[&str]) -> Value {
    Value::Set(names.iter().map(|n| Value::SimpleString((*n).to_owned())).collect())
}

fn text(v: &Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        other => panic!("not a string: {other:?}"),
    }
}

/// `name`'s entry of COMMAND DOCS `name`, over RESP3.
fn docs_of(conn: &mut redis::Connection, name: &str) -> Value {
    let docs: Value = redis::cmd("COMMAND").arg("DOCS").arg(name).query(conn).unwrap();
    let Value::Map(mut entries) = docs else { panic!("{docs:?}") };
    assert_eq!(entries.len(), 1, "{entries:?}");
    let (got, doc) = entries.remove(0);
    assert_eq!(text(&got), name);
    doc
}

fn field<'a>(doc: &'a Value, key: &str) -> Option<&'a Value> {
    let Value::Map(fields) = doc else { panic!("{doc:?}") };
    fields.iter().find(|(k, _)| text(k) == key).map(|(_, v)| v)
}

#[test]
fn docs_are_redis_7_2s() {
    let server = Server::start();
    let mut conn = server.conn_resp3();
    assert_eq!(docs_of(&mut conn, "set"), redis_docs_set());
    assert_eq!(docs_of(&mut conn, "xadd"), redis_docs_xadd());
    assert_eq!(docs_of(&mut conn, "zadd"), redis_docs_zadd());
    assert_eq!(docs_of(&mut conn, "client|kill"), redis_docs_client_kill());

    // A deprecated command: doc_flags, deprecated_since and replaced_by.
    let getset = docs_of(&mut conn, "getset");
    assert_eq!(field(&getset, "doc_flags"), Some(&flags(&["deprecated"])));
    assert_eq!(field(&getset, "deprecated_since"), Some(&b("6.2.0")));
    assert_eq!(field(&getset, "replaced_by"), Some(&b("`SET` with the `!GET` argument")));

    // A container's subcommands are in it, as they are on their own.
    let client = docs_of(&mut conn, "client");
    let Some(Value::Map(subs)) = field(&client, "subcommands") else { panic!("{client:?}") };
    let (_, kill) = subs.iter().find(|(k, _)| text(k) == "client|kill").expect("client|kill");
    assert_eq!(kill, &redis_docs_client_kill());

    // Unknown names are left out; no name at all is every command.
    let docs: Value = redis::cmd("COMMAND").arg("DOCS").arg("nosuch").arg("get").query(&mut conn).unwrap();
    let Value::Map(entries) = docs else { panic!("{docs:?}") };
    assert_eq!(entries.iter().map(|(k, _)| text(k)).collect::<Vec<_>>(), ["get"]);
}

#[test]
fn every_listed_command_has_docs() {
    let server = Server::start();
    let mut conn = server.conn_resp3();
    let names: Vec<String> = redis::cmd("COMMAND").arg("LIST").query(&mut conn).unwrap();
    assert!(names.iter().any(|n| n == "xgroup|createconsumer"), "{names:?}");
    let mut cmd = redis::cmd("COMMAND");
    cmd.arg("DOCS");
    for n in &names {
        cmd.arg(n);
    }
    let docs: Value = cmd.query(&mut conn).unwrap();
    let Value::Map(entries) = docs else { panic!("{docs:?}") };
    assert_eq!(entries.iter().map(|(k, _)| text(k)).collect::<Vec<_>>(), names);
    for (name, doc) in &entries {
        let name = text(name);
        for key in ["summary", "since", "group"] {
            assert!(field(doc, key).is_some(), "{name} has no {key}: {doc:?}");
        }
    }
}

#[test]
fn command_info_has_redis_tips_and_key_specs() {
    let server = Server::start();
    let mut conn = server.conn_resp3();
    let info: Value =
        redis::cmd("COMMAND").arg("INFO").arg("xadd").arg("spublish").arg("xgroup").query(&mut conn).unwrap();
    let Value::Array(entries) = info else { panic!("{info:?}") };
    let part = |e: &Value, i: usize| -> Value {
        let Value::Array(fields) = e else { panic!("{e:?}") };
        fields[i].clone()
    };
    // A key spec's begin_search at `index` and find_keys range to `lastkey`.
    let range = |index: i64, lastkey: i64| {
        let begin = map(vec![("type", b("index")), ("spec", map(vec![("index", Value::Int(index))]))]);
        let spec = map(vec![("lastkey", Value::Int(lastkey)), ("keystep", Value::Int(1)), ("limit", Value::Int(0))]);
        (begin, map(vec![("type", b("range")), ("spec", spec)]))
    };
    // Redis 7.2's flags and categories (SPUBLISH is `pubsub`, which no
    // behaviour flag of ringcache stands for).
    assert_eq!(part(&entries[1], 2), flags(&["pubsub", "loading", "stale", "fast"]));
    assert_eq!(part(&entries[1], 6), flags(&["@pubsub", "@fast"]));
    // XADD: its tip, and its key spec's notes.
    assert_eq!(part(&entries[0], 7), Value::Set(vec![b("nondeterministic_output")]));
    let (begin, find) = range(1, 0);
    let spec = map(vec![
        ("notes", b("UPDATE instead of INSERT because of the optional trimming feature")),
        ("flags", flags(&["RW", "update"])),
        ("begin_search", begin),
        ("find_keys", find),
    ]);
    assert_eq!(part(&entries[0], 8), Value::Set(vec![spec]));
    // SPUBLISH's channel is a `not_key` spec, and the legacy range.
    assert_eq!(
        (part(&entries[1], 3), part(&entries[1], 4), part(&entries[1], 5)),
        (Value::Int(1), Value::Int(1), Value::Int(1))
    );
    // A container has no flags, categories but @slow or keys of its own;
    // its subcommands have theirs.
    assert_eq!((part(&entries[2], 3), part(&entries[2], 8)), (Value::Int(0), Value::Set(Vec::new())));
    assert_eq!((part(&entries[2], 2), part(&entries[2], 6)), (flags(&[]), flags(&["@slow"])));
    let Value::Array(subs) = part(&entries[2], 9) else { panic!("subcommands") };
    let create = subs.iter().find(|s| text(&part(s, 0)) == "xgroup|create").expect("xgroup|create");
    let (begin, find) = range(2, 0);
    let spec = map(vec![("flags", flags(&["RW", "insert"])), ("begin_search", begin), ("find_keys", find)]);
    assert_eq!(part(create, 8), Value::Set(vec![spec]));
    assert_eq!(part(create, 3), Value::Int(2));
}

#[test]
fn redis_cli_help_shows_arguments() {
    // redis-cli prints help from COMMAND DOCS, which it loads first.
    let server = Server::start();
    let help = server.cli(&["help", "set"]);
    assert!(
        help.contains("key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]"),
        "{help}"
    );
    let help = server.cli(&["help", "client", "kill"]);
    assert!(help.contains("CLIENT KILL") && help.contains("ID client-id"), "{help}");
    let help = server.cli(&["help", "xgroup"]);
    assert!(help.contains("XGROUP CREATECONSUMER") && help.contains("key group consumer"), "{help}");
}

/// Redis 7.2.6's COMMAND DOCS set (src/commands/set.json).
fn redis_docs_set() -> Value {
    map(vec![
        ("summary", b("Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.")),
        ("since", b("1.0.0")),
        ("group", b("string")),
        ("complexity", b("O(1)")),
        (
            "history",
            Value::Set(vec![
                Value::Array(vec![b("2.6.12"), b("Added the `EX`, `PX`, `NX` and `XX` options.")]),
                Value::Array(vec![b("6.0.0"), b("Added the `KEEPTTL` option.")]),
                Value::Array(vec![b("6.2.0"), b("Added the `GET`, `EXAT` and `PXAT` option.")]),
                Value::Array(vec![b("7.0.0"), b("Allowed the `NX` and `GET` options to be used together.")]),
            ]),
        ),
        (
            "arguments",
            Value::Array(vec![
                map(vec![
                    ("name", b("key")),
                    ("type", b("key")),
                    ("display_text", b("key")),
                    ("key_spec_index", Value::Int(0)),
                ]),
                map(vec![("name", b("value")), ("type", b("string")), ("display_text", b("value"))]),
                map(vec![
                    ("name", b("condition")),
                    ("type", b("oneof")),
                    ("since", b("2.6.12")),
                    ("flags", flags(&["optional"])),
                    (
                        "arguments",
                        Value::Array(vec![
                            map(vec![
                                ("name", b("nx")),
                                ("type", b("pure-token")),
                                ("display_text", b("nx")),
                                ("token", b("NX")),
                            ]),
                            map(vec![
                                ("name", b("xx")),
                                ("type", b("pure-token")),
                                ("display_text", b("xx")),
                                ("token", b("XX")),
                            ]),
                        ]),
                    ),
                ]),
                map(vec![
                    ("name", b("get")),
                    ("type", b("pure-token")),
                    ("display_text", b("get")),
                    ("token", b("GET")),
                    ("since", b("6.2.0")),
                    ("flags", flags(&["optional"])),
                ]),
                map(vec![
                    ("name", b("expiration")),
                    ("type", b("oneof")),
                    ("flags", flags(&["optional"])),
                    (
                        "arguments",
                        Value::Array(vec![
                            map(vec![
                                ("name", b("seconds")),
                                ("type", b("integer")),
                                ("display_text", b("seconds")),
                                ("token", b("EX")),
                                ("since", b("2.6.12")),
                            ]),
                            map(vec![
                                ("name", b("milliseconds")),
                                ("type", b("integer")),
                                ("display_text", b("milliseconds")),
                                ("token", b("PX")),
                                ("since", b("2.6.12")),
                            ]),
                            map(vec![
                                ("name", b("unix-time-seconds")),
                                ("type", b("unix-time")),
                                ("display_text", b("unix-time-seconds")),
                                ("token", b("EXAT")),
                                ("since", b("6.2.0")),
                            ]),
                            map(vec![
                                ("name", b("unix-time-milliseconds")),
                                ("type", b("unix-time")),
                                ("display_text", b("unix-time-milliseconds")),
                                ("token", b("PXAT")),
                                ("since", b("6.2.0")),
                            ]),
                            map(vec![
                                ("name", b("keepttl")),
                                ("type", b("pure-token")),
                                ("display_text", b("keepttl")),
                                ("token", b("KEEPTTL")),
                                ("since", b("6.0.0")),
                            ]),
                        ]),
                    ),
                ]),
            ]),
        ),
    ])
}

/// Redis 7.2.6's COMMAND DOCS xadd (src/commands/xadd.json).
fn redis_docs_xadd() -> Value {
    map(vec![
        ("summary", b("Appends a new message to a stream. Creates the key if it doesn't exist.")),
        ("since", b("5.0.0")),
        ("group", b("stream")),
        (
            "complexity",
            b("O(1) when adding a new entry, O(N) when trimming where N being the number of entries evicted."),
        ),
        (
            "history",
            Value::Set(vec![
                Value::Array(vec![
                    b("6.2.0"),
                    b("Added the `NOMKSTREAM` option, `MINID` trimming strategy and the `LIMIT` option."),
                ]),
                Value::Array(vec![b("7.0.0"), b("Added support for the `<ms>-*` explicit ID form.")]),
            ]),
        ),
        (
            "arguments",
            Value::Array(vec![
                map(vec![
                    ("name", b("key")),
                    ("type", b("key")),
                    ("display_text", b("key")),
                    ("key_spec_index", Value::Int(0)),
                ]),
                map(vec![
                    ("name", b("nomkstream")),
                    ("type", b("pure-token")),
                    ("display_text", b("nomkstream")),
                    ("token", b("NOMKSTREAM")),
                    ("since", b("6.2.0")),
                    ("flags", flags(&["optional"])),
                ]),
                map(vec![
                    ("name", b("trim")),
                    ("type", b("block")),
                    ("flags", flags(&["optional"])),
                    (
                        "arguments",
                        Value::Array(vec![
                            map(vec![
                                ("name", b("strategy")),
                                ("type", b("oneof")),
                                (
                                    "arguments",
                                    Value::Array(vec![
                                        map(vec![
                                            ("name", b("maxlen")),
                                            ("type", b("pure-token")),
                                            ("display_text", b("maxlen")),
                                            ("token", b("MAXLEN")),
                                        ]),
                                        map(vec![
                                            ("name", b("minid")),
                                            ("type", b("pure-token")),
                                            ("display_text", b("minid")),
                                            ("token", b("MINID")),
                                            ("since", b("6.2.0")),
                                        ]),
                                    ]),
                                ),
                            ]),
                            map(vec![
                                ("name", b("operator")),
                                ("type", b("oneof")),
                                ("flags", flags(&["optional"])),
                                (
                                    "arguments",
                                    Value::Array(vec![
                                        map(vec![
                                            ("name", b("equal")),
                                            ("type", b("pure-token")),
                                            ("display_text", b("equal")),
                                            ("token", b("=")),
                                        ]),
                                        map(vec![
                                            ("name", b("approximately")),
                                            ("type", b("pure-token")),
                                            ("display_text", b("approximately")),
                                            ("token", b("~")),
                                        ]),
                                    ]),
                                ),
                            ]),
                            map(vec![
                                ("name", b("threshold")),
                                ("type", b("string")),
                                ("display_text", b("threshold")),
                            ]),
                            map(vec![
                                ("name", b("count")),
                                ("type", b("integer")),
                                ("display_text", b("count")),
                                ("token", b("LIMIT")),
                                ("since", b("6.2.0")),
                                ("flags", flags(&["optional"])),
                            ]),
                        ]),
                    ),
                ]),
                map(vec![
                    ("name", b("id-selector")),
                    ("type", b("oneof")),
                    (
                        "arguments",
                        Value::Array(vec![
                            map(vec![
                                ("name", b("auto-id")),
                                ("type", b("pure-token")),
                                ("display_text", b("auto-id")),
                                ("token", b("*")),
                            ]),
                            map(vec![("name", b("id")), ("type", b("string")), ("display_text", b("id"))]),
                        ]),
                    ),
                ]),
                map(vec![
                    ("name", b("data")),
                    ("type", b("block")),
                    ("flags", flags(&["multiple"])),
                    (
                        "arguments",
                        Value::Array(vec![
                            map(vec![("name", b("field")), ("type", b("string")), ("display_text", b("field"))]),
                            map(vec![("name", b("value")), ("type", b("string")), ("display_text", b("value"))]),
                        ]),
                    ),
                ]),
            ]),
        ),
    ])
}

/// Redis 7.2.6's COMMAND DOCS client|kill (src/commands/client-kill.json).
fn redis_docs_client_kill() -> Value {
    map(vec![
        ("summary", b("Terminates open connections.")),
        ("since", b("2.4.0")),
        ("group", b("connection")),
        ("complexity", b("O(N) where N is the number of client connections")),
        (
            "history",
            Value::Set(vec![
                Value::Array(vec![b("2.8.12"), b("Added new filter format.")]),
                Value::Array(vec![b("2.8.12"), b("`ID` option.")]),
                Value::Array(vec![b("3.2.0"), b("Added `master` type in for `TYPE` option.")]),
                Value::Array(vec![
                    b("5.0.0"),
                    b("Replaced `slave` `TYPE` with `replica`. `slave` still supported for backward compatibility."),
                ]),
                Value::Array(vec![b("6.2.0"), b("`LADDR` option.")]),
            ]),
        ),
        (
            "arguments",
            Value::Array(vec![map(vec![
                ("name", b("filter")),
                ("type", b("oneof")),
                (
                    "arguments",
                    Value::Array(vec![
                        map(vec![
                            ("name", b("old-format")),
                            ("type", b("string")),
                            ("display_text", b("ip:port")),
                            ("deprecated_since", b("2.8.12")),
                        ]),
                        map(vec![
                            ("name", b("new-format")),
                            ("type", b("oneof")),
                            ("flags", flags(&["multiple"])),
                            (
                                "arguments",
                                Value::Array(vec![
                                    map(vec![
                                        ("name", b("client-id")),
                                        ("type", b("integer")),
                                        ("display_text", b("client-id")),
                                        ("token", b("ID")),
                                        ("since", b("2.8.12")),
                                        ("flags", flags(&["optional"])),
                                    ]),
                                    map(vec![
                                        ("name", b("client-type")),
                                        ("type", b("oneof")),
                                        ("token", b("TYPE")),
                                        ("since", b("2.8.12")),
                                        ("flags", flags(&["optional"])),
                                        (
                                            "arguments",
                                            Value::Array(vec![
                                                map(vec![
                                                    ("name", b("normal")),
                                                    ("type", b("pure-token")),
                                                    ("display_text", b("normal")),
                                                    ("token", b("NORMAL")),
                                                ]),
                                                map(vec![
                                                    ("name", b("master")),
                                                    ("type", b("pure-token")),
                                                    ("display_text", b("master")),
                                                    ("token", b("MASTER")),
                                                    ("since", b("3.2.0")),
                                                ]),
                                                map(vec![
                                                    ("name", b("slave")),
                                                    ("type", b("pure-token")),
                                                    ("display_text", b("slave")),
                                                    ("token", b("SLAVE")),
                                                ]),
                                                map(vec![
                                                    ("name", b("replica")),
                                                    ("type", b("pure-token")),
                                                    ("display_text", b("replica")),
                                                    ("token", b("REPLICA")),
                                                    ("since", b("5.0.0")),
                                                ]),
                                                map(vec![
                                                    ("name", b("pubsub")),
                                                    ("type", b("pure-token")),
                                                    ("display_text", b("pubsub")),
                                                    ("token", b("PUBSUB")),
                                                ]),
                                            ]),
                                        ),
                                    ]),
                                    map(vec![
                                        ("name", b("username")),
                                        ("type", b("string")),
                                        ("display_text", b("username")),
                                        ("token", b("USER")),
                                        ("flags", flags(&["optional"])),
                                    ]),
                                    map(vec![
                                        ("name", b("addr")),
                                        ("type", b("string")),
                                        ("display_text", b("ip:port")),
                                        ("token", b("ADDR")),
                                        ("flags", flags(&["optional"])),
                                    ]),
                                    map(vec![
                                        ("name", b("laddr")),
                                        ("type", b("string")),
                                        ("display_text", b("ip:port")),
                                        ("token", b("LADDR")),
                                        ("since", b("6.2.0")),
                                        ("flags", flags(&["optional"])),
                                    ]),
                                    map(vec![
                                        ("name", b("skipme")),
                                        ("type", b("oneof")),
                                        ("token", b("SKIPME")),
                                        ("flags", flags(&["optional"])),
                                        (
                                            "arguments",
                                            Value::Array(vec![
                                                map(vec![
                                                    ("name", b("yes")),
                                                    ("type", b("pure-token")),
                                                    ("display_text", b("yes")),
                                                    ("token", b("YES")),
                                                ]),
                                                map(vec![
                                                    ("name", b("no")),
                                                    ("type", b("pure-token")),
                                                    ("display_text", b("no")),
                                                    ("token", b("NO")),
                                                ]),
                                            ]),
                                        ),
                                    ]),
                                ]),
                            ),
                        ]),
                    ]),
                ),
            ])]),
        ),
    ])
}

/// Redis 7.2.6's COMMAND DOCS zadd (src/commands/zadd.json).
fn redis_docs_zadd() -> Value {
    map(vec![
        ("summary", b("Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.")),
        ("since", b("1.2.0")),
        ("group", b("sorted-set")),
        ("complexity", b("O(log(N)) for each item added, where N is the number of elements in the sorted set.")),
        ("history", Value::Set(vec![
            Value::Array(vec![b("2.4.0"), b("Accepts multiple elements.")]),
            Value::Array(vec![b("3.0.2"), b("Added the `XX`, `NX`, `CH` and `INCR` options.")]),
            Value::Array(vec![b("6.2.0"), b("Added the `GT` and `LT` options.")]),
        ])),
        ("arguments", Value::Array(vec![
            map(vec![
                ("name", b("key")),
                ("type", b("key")),
                ("display_text", b("key")),
                ("key_spec_index", Value::Int(0)),
            ]),
            map(vec![
                ("name", b("condition")),
                ("type", b("oneof")),
                ("since", b("3.0.2")),
                ("flags", flags(&["optional"])),
                ("arguments", Value::Array(vec![
                    map(vec![
                        ("name", b("nx")),
                        ("type", b("pure-token")),
                        ("display_text", b("nx")),
                        ("token", b("NX")),
                    ]),
                    map(vec![
                        ("name", b("xx")),
                        ("type", b("pure-token")),
                        ("display_text", b("xx")),
                        ("token", b("XX")),
                    ]),
                ])),
            ]),
            map(vec![
                ("name", b("comparison")),
                ("type", b("oneof")),
                ("since", b("6.2.0")),
                ("flags", flags(&["optional"])),
                ("arguments", Value::Array(vec![
                    map(vec![
                        ("name", b("gt")),
                        ("type", b("pure-token")),
                        ("display_text", b("gt")),
                        ("token", b("GT")),
                    ]),
                    map(vec![
                        ("name", b("lt")),
                        ("type", b("pure-token")),
                        ("display_text", b("lt")),
                        ("token", b("LT")),
                    ]),
                ])),
            ]),
            map(vec![
                ("name", b("change")),
                ("type", b("pure-token")),
                ("display_text", b("change")),
                ("token", b("CH")),
                ("since", b("3.0.2")),
                ("flags", flags(&["optional"])),
            ]),
            map(vec![
                ("name", b("increment")),
                ("type", b("pure-token")),
                ("display_text", b("increment")),
                ("token", b("INCR")),
                ("since", b("3.0.2")),
                ("flags", flags(&["optional"])),
            ]),
            map(vec![
                ("name", b("data")),
                ("type", b("block")),
                ("flags", flags(&["multiple"])),
                ("arguments", Value::Array(vec![
                    map(vec![
                        ("name", b("score")),
                        ("type", b("double")),
                        ("display_text", b("score")),
                    ]),
                    map(vec![
                        ("name", b("member")),
                        ("type", b("string")),
                        ("display_text", b("member")),
                    ]),
                ])),
            ]),
        ])),
    ])
}
