//! Set commands through a real node: the `redis` crate over RESP2 and RESP3,
//! and `redis-cli`. Replies and error texts are Redis 7.2's.
//!
//! The RESP3 tests connect with `HELLO 3`, so they need HELLO on the node.

mod common;

use std::collections::BTreeSet;
use std::thread;
use std::time::Duration;

use common::{arity, array, bulk, err, exists, int, run, strings, text, Server, WRONGTYPE};
use redis::{Connection, Value};

/// The members of an array or set reply, sorted (sets have no order).
fn members(conn: &mut Connection, args: &[&str]) -> Vec<String> {
    let items = match run::<Value>(conn, args) {
        Value::Array(items) | Value::Set(items) => items,
        v => panic!("{args:?}: expected an array or set, got {v:?}"),
    };
    let mut out: Vec<String> = items.iter().map(text).collect();
    out.sort();
    out
}

#[test]
fn sadd_srem_scard_sismember() {
    let server = Server::start();
    let mut c = server.conn();
    assert_eq!(int(&mut c, &["SADD", "s", "a", "b", "c"]), 3);
    assert_eq!(int(&mut c, &["SADD", "s", "a", "d", "d"]), 1, "only d is new, counted once");
    assert_eq!(int(&mut c, &["SCARD", "s"]), 4);
    assert_eq!(int(&mut c, &["SCARD", "missing"]), 0);
    assert_eq!(int(&mut c, &["SISMEMBER", "s", "b"]), 1);
    assert_eq!(int(&mut c, &["SISMEMBER", "s", "zz"]), 0);
    assert_eq!(int(&mut c, &["SISMEMBER", "missing", "a"]), 0);
    assert_eq!(members(&mut c, &["SMEMBERS", "s"]), strings(&["a", "b", "c", "d"]));
    assert_eq!(int(&mut c, &["SREM", "s", "a", "zz", "a"]), 1);
    assert_eq!(int(&mut c, &["SREM", "missing", "a"]), 0);
    assert_eq!(int(&mut c, &["SCARD", "s"]), 3);
    // Removing the last members deletes the key.
    assert_eq!(int(&mut c, &["SREM", "s", "b", "c", "d"]), 3);
    assert!(!exists(&mut c, "s"));
    assert_eq!(run::<Value>(&mut c, &["SMEMBERS", "s"]), Value::Array(vec![]));
    // Members are binary-safe.
    assert_eq!(int(&mut c, &["SADD", "bin", "", "a b", "\r\n"]), 3);
    assert_eq!(members(&mut c, &["SMEMBERS", "bin"]), strings(&["", "\r\n", "a b"]));
    assert_eq!(int(&mut c, &["SISMEMBER", "bin", ""]), 1);
}

#[test]
fn smismember_answers_per_member() {
    let server = Server::start();
    let mut c = server.conn();
    run::<Value>(&mut c, &["SADD", "s", "a", "b"]);
    assert_eq!(
        run::<Value>(&mut c, &["SMISMEMBER", "s", "b", "zz", "a"]),
        Value::Array(vec![Value::Int(1), Value::Int(0), Value::Int(1)])
    );
    assert_eq!(
        run::<Value>(&mut c, &["SMISMEMBER", "missing", "a", "b"]),
        Value::Array(vec![Value::Int(0), Value::Int(0)])
    );
}

#[test]
fn every_set_command_refuses_other_types() {
    let server = Server::start();
    let mut c = server.conn();
    run::<Value>(&mut c, &["SET", "str", "x"]);
    run::<Value>(&mut c, &["SADD", "s", "a"]);
    let cases: &[&[&str]] = &[
        &["SADD", "str", "a"],
        &["SREM", "str", "a"],
        &["SMEMBERS", "str"],
        &["SISMEMBER", "str", "a"],
        &["SMISMEMBER", "str", "a"],
        &["SCARD", "str"],
        &["SPOP", "str"],
        &["SPOP", "str", "1"],
        &["SPOP", "str", "0"],
        &["SRANDMEMBER", "str"],
        &["SRANDMEMBER", "str", "2"],
        &["SINTER", "s", "missing", "str"],
        &["SUNION", "str", "s"],
        &["SDIFF", "missing", "str"],
        &["SINTERSTORE", "d", "s", "str"],
        &["SUNIONSTORE", "d", "str"],
        &["SDIFFSTORE", "d", "s", "str"],
        &["SMOVE", "str", "s", "a"],
        &["SMOVE", "s", "str", "a"],
        &["SSCAN", "str", "0"],
    ];
    for args in cases {
        assert_eq!(err(&mut c, args), WRONGTYPE, "{args:?}");
    }
    // Nothing was changed by the refused commands.
    assert_eq!(run::<Value>(&mut c, &["GET", "str"]), bulk("x"));
    assert_eq!(members(&mut c, &["SMEMBERS", "s"]), strings(&["a"]));
    assert!(!exists(&mut c, "d"));
}

#[test]
fn wrong_arity_is_refused_with_the_command_name() {
    let server = Server::start();
    let mut c = server.conn();
    let cases: &[&[&str]] = &[
        &["SADD", "s"],
        &["SREM", "s"],
        &["SMEMBERS"],
        &["SMEMBERS", "a", "b"],
        &["SISMEMBER", "s"],
        &["SISMEMBER", "s", "a", "b"],
        &["SMISMEMBER", "s"],
        &["SCARD"],
        &["SPOP"],
        &["SRANDMEMBER"],
        &["SINTER"],
        &["SUNION"],
        &["SDIFF"],
        &["SINTERSTORE", "d"],
        &["SUNIONSTORE", "d"],
        &["SDIFFSTORE", "d"],
        &["SMOVE", "a", "b"],
        &["SMOVE", "a", "b", "c", "d"],
        &["SSCAN", "s"],
    ];
    for args in cases {
        let name = args[0].to_ascii_lowercase();
        assert_eq!(err(&mut c, args), arity(&name), "{args:?}");
    }
}

#[test]
fn spop_removes_what_it_returns() {
    let server = Server::start();
    let mut c = server.conn();
    run::<Value>(&mut c, &["SADD", "s", "a", "b", "c", "d", "e"]);
    let one = text(&run::<Value>(&mut c, &["SPOP", "s"]));
    assert!(["a", "b", "c", "d", "e"].contains(&one.as_str()));
    assert_eq!(int(&mut c, &["SISMEMBER", "s", &one]), 0);
    let two = members(&mut c, &["SPOP", "s", "2"]);
    assert_eq!(two.len(), 2);
    assert!(!two.contains(&one));
    assert_eq!(int(&mut c, &["SCARD", "s"]), 2);
    for m in &two {
        assert_eq!(int(&mut c, &["SISMEMBER", "s", m]), 0);
    }
    assert_eq!(run::<Value>(&mut c, &["SPOP", "s", "0"]), Value::Array(vec![]));
    assert_eq!(int(&mut c, &["SCARD", "s"]), 2);
    // A count at or above the size takes everything and deletes the key.
    let rest = members(&mut c, &["SPOP", "s", "10"]);
    let mut all: BTreeSet<String> = rest.into_iter().collect();
    all.extend(two);
    all.insert(one);
    assert_eq!(all.len(), 5);
    assert!(!exists(&mut c, "s"));
    assert_eq!(run::<Value>(&mut c, &["SPOP", "s"]), Value::Nil);
    assert_eq!(run::<Value>(&mut c, &["SPOP", "s", "3"]), Value::Array(vec![]));
    // The last member popped alone deletes the key too.
    run::<Value>(&mut c, &["SADD", "t", "x"]);
    assert_eq!(run::<Value>(&mut c, &["SPOP", "t"]), bulk("x"));
    assert!(!exists(&mut c, "t"));
}

#[test]
fn spop_argument_errors() {
    let server = Server::start();
    let mut c = server.conn();
    run::<Value>(&mut c, &["SADD", "s", "a"]);
    for bad in ["-1", "x", "1.5"] {
        assert_eq!(err(&mut c, &["SPOP", "s", bad]), "ERR value is out of range, must be positive", "{bad}");
    }
    assert_eq!(err(&mut c, &["SPOP", "s", "1", "2"]), "ERR syntax error");
    assert_eq!(members(&mut c, &["SMEMBERS", "s"]), strings(&["a"]));
}

#[test]
fn srandmember_distinct_and_repeating() {
    let server = Server::start();
    let mut c = server.conn();
    run::<Value>(&mut c, &["SADD", "s", "a", "b", "c", "d", "e"]);
    let all = strings(&["a", "b", "c", "d", "e"]);
    let one = text(&run::<Value>(&mut c, &["SRANDMEMBER", "s"]));
    assert!(all.contains(&one));
    // A positive count: distinct members, at most the whole set.
    for _ in 0..20 {
        let three = array(&mut c, &["SRANDMEMBER", "s", "3"]);
        assert_eq!(three.len(), 3);
        assert_eq!(three.iter().collect::<BTreeSet<_>>().len(), 3, "distinct: {three:?}");
        assert!(three.iter().all(|m| all.contains(m)));
    }
    assert_eq!(members(&mut c, &["SRANDMEMBER", "s", "5"]), all);
    assert_eq!(members(&mut c, &["SRANDMEMBER", "s", "100"]), all);
    // A negative count: exactly that many, repeats allowed.
    let many = array(&mut c, &["SRANDMEMBER", "s", "-50"]);
    assert_eq!(many.len(), 50);
    assert!(many.iter().all(|m| all.contains(m)));
    assert!(many.iter().collect::<BTreeSet<_>>().len() < 50, "50 picks of 5 members repeat");
    run::<Value>(&mut c, &["SADD", "one", "x"]);
    assert_eq!(array(&mut c, &["SRANDMEMBER", "one", "-3"]), strings(&["x", "x", "x"]));
    assert_eq!(run::<Value>(&mut c, &["SRANDMEMBER", "s", "0"]), Value::Array(vec![]));
    // Nothing is removed.
    assert_eq!(int(&mut c, &["SCARD", "s"]), 5);
    assert_eq!(run::<Value>(&mut c, &["SRANDMEMBER", "missing"]), Value::Nil);
    assert_eq!(run::<Value>(&mut c, &["SRANDMEMBER", "missing", "3"]), Value::Array(vec![]));
    assert_eq!(run::<Value>(&mut c, &["SRANDMEMBER", "missing", "-3"]), Value::Array(vec![]));
}

#[test]
fn srandmember_argument_errors() {
    let server = Server::start();
    let mut c = server.conn();
    run::<Value>(&mut c, &["SADD", "s", "a"]);
    assert_eq!(err(&mut c, &["SRANDMEMBER", "s", "x"]), "ERR value is not an integer or out of range");
    assert_eq!(err(&mut c, &["SRANDMEMBER", "s", "1", "2"]), "ERR syntax error");
    assert_eq!(
        err(&mut c, &["SRANDMEMBER", "s", "-9223372036854775808"]),
        "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
    );
    // ringcache bounds the repeats, so one command cannot exhaust memory.
    assert_eq!(
        err(&mut c, &["SRANDMEMBER", "s", "-9223372036854775807"]),
        "ERR value is out of range, value must between -1048576 and 9223372036854775807"
    );
}

#[test]
fn sinter_sunion_sdiff() {
    let server = Server::start();
    let mut c = server.conn();
    run::<Value>(&mut c, &["SADD", "s1", "a", "b", "c", "d"]);
    run::<Value>(&mut c, &["SADD", "s2", "c", "d", "e"]);
    run::<Value>(&mut c, &["SADD", "s3", "d", "e", "f"]);
    assert_eq!(members(&mut c, &["SINTER", "s1", "s2"]), strings(&["c", "d"]));
    assert_eq!(members(&mut c, &["SINTER", "s1", "s2", "s3"]), strings(&["d"]));
    assert_eq!(members(&mut c, &["SINTER", "s1"]), strings(&["a", "b", "c", "d"]));
    assert_eq!(members(&mut c, &["SINTER", "s1", "missing"]), Vec::<String>::new());
    assert_eq!(members(&mut c, &["SUNION", "s1", "s2", "s3"]), strings(&["a", "b", "c", "d", "e", "f"]));
    assert_eq!(members(&mut c, &["SUNION", "missing", "s3", "s3"]), strings(&["d", "e", "f"]));
    assert_eq!(members(&mut c, &["SUNION", "missing"]), Vec::<String>::new());
    assert_eq!(members(&mut c, &["SDIFF", "s1", "s2"]), strings(&["a", "b"]));
    assert_eq!(members(&mut c, &["SDIFF", "s1", "s2", "s3", "missing"]), strings(&["a", "b"]));
    assert_eq!(members(&mut c, &["SDIFF", "s1", "s1"]), Vec::<String>::new());
    assert_eq!(members(&mut c, &["SDIFF", "missing", "s1"]), Vec::<String>::new());
    assert_eq!(members(&mut c, &["SDIFF", "s1"]), strings(&["a", "b", "c", "d"]));
    // RESP2: a plain array.
    assert!(matches!(run::<Value>(&mut c, &["SINTER", "s1", "s2"]), Value::Array(_)));
}

#[test]
fn set_operations_over_many_shards() {
    // Enough keys that they land on different shards: each must be locked.
    let server = Server::start();
    let mut c = server.conn();
    let keys: Vec<String> = (0..12).map(|i| format!("k{i}")).collect();
    for k in &keys {
        run::<Value>(&mut c, &["SADD", k, "common", k]);
    }
    let mut args = vec!["SINTER"];
    args.extend(keys.iter().map(String::as_str));
    assert_eq!(members(&mut c, &args), strings(&["common"]));
    args[0] = "SUNION";
    assert_eq!(members(&mut c, &args).len(), 13);
    let mut store = vec!["SUNIONSTORE", "dest"];
    store.extend(keys.iter().map(String::as_str));
    assert_eq!(int(&mut c, &store), 13);
    assert_eq!(int(&mut c, &["SCARD", "dest"]), 13);
}

#[test]
fn store_variants_overwrite_or_delete_the_destination() {
    let server = Server::start();
    let mut c = server.conn();
    run::<Value>(&mut c, &["SADD", "s1", "a", "b", "c"]);
    run::<Value>(&mut c, &["SADD", "s2", "b", "c", "d"]);
    assert_eq!(int(&mut c, &["SINTERSTORE", "d", "s1", "s2"]), 2);
    assert_eq!(members(&mut c, &["SMEMBERS", "d"]), strings(&["b", "c"]));
    assert_eq!(int(&mut c, &["SUNIONSTORE", "d", "s1", "s2"]), 4);
    assert_eq!(members(&mut c, &["SMEMBERS", "d"]), strings(&["a", "b", "c", "d"]));
    assert_eq!(int(&mut c, &["SDIFFSTORE", "d", "s1", "s2"]), 1);
    assert_eq!(members(&mut c, &["SMEMBERS", "d"]), strings(&["a"]));
    // The destination may be one of the sources.
    assert_eq!(int(&mut c, &["SUNIONSTORE", "s1", "s1", "s2"]), 4);
    assert_eq!(members(&mut c, &["SMEMBERS", "s1"]), strings(&["a", "b", "c", "d"]));
    // Any type is overwritten.
    run::<Value>(&mut c, &["SET", "str", "x"]);
    assert_eq!(int(&mut c, &["SINTERSTORE", "str", "s2"]), 3);
    assert_eq!(members(&mut c, &["SMEMBERS", "str"]), strings(&["b", "c", "d"]));
    // An empty result deletes the destination and answers 0.
    for args in [
        &["SINTERSTORE", "d", "s1", "missing"][..],
        &["SDIFFSTORE", "str", "s2", "s1"],
        &["SUNIONSTORE", "d", "missing"],
    ] {
        run::<Value>(&mut c, &["SET", args[1], "x"]);
        assert_eq!(int(&mut c, args), 0, "{args:?}");
        assert!(!exists(&mut c, args[1]), "{args:?}");
    }
    // A refused source leaves the destination alone.
    run::<Value>(&mut c, &["SET", "str", "x"]);
    run::<Value>(&mut c, &["SADD", "d", "keep"]);
    assert_eq!(err(&mut c, &["SUNIONSTORE", "d", "s1", "str"]), WRONGTYPE);
    assert_eq!(members(&mut c, &["SMEMBERS", "d"]), strings(&["keep"]));
}

#[test]
fn store_variants_drop_the_destination_ttl() {
    let server = Server::start();
    let mut c = server.conn();
    run::<Value>(&mut c, &["SADD", "s1", "a", "b"]);
    run::<Value>(&mut c, &["SET", "d", "x", "PX", "150"]);
    assert_eq!(int(&mut c, &["SUNIONSTORE", "d", "s1"]), 2);
    thread::sleep(Duration::from_millis(300));
    assert_eq!(int(&mut c, &["SCARD", "d"]), 2, "the new set has no TTL");
}

#[test]
fn smove_moves_one_member() {
    let server = Server::start();
    let mut c = server.conn();
    run::<Value>(&mut c, &["SADD", "src", "a", "b"]);
    run::<Value>(&mut c, &["SADD", "dst", "x"]);
    assert_eq!(int(&mut c, &["SMOVE", "src", "dst", "a"]), 1);
    assert_eq!(members(&mut c, &["SMEMBERS", "src"]), strings(&["b"]));
    assert_eq!(members(&mut c, &["SMEMBERS", "dst"]), strings(&["a", "x"]));
    assert_eq!(int(&mut c, &["SMOVE", "src", "dst", "zz"]), 0);
    // Already in the destination: still moved out of the source.
    run::<Value>(&mut c, &["SADD", "dst", "b"]);
    assert_eq!(int(&mut c, &["SMOVE", "src", "dst", "b"]), 1);
    assert!(!exists(&mut c, "src"), "the source went with its last member");
    assert_eq!(members(&mut c, &["SMEMBERS", "dst"]), strings(&["a", "b", "x"]));
    // A new destination is created.
    assert_eq!(int(&mut c, &["SMOVE", "dst", "fresh", "x"]), 1);
    assert_eq!(members(&mut c, &["SMEMBERS", "fresh"]), strings(&["x"]));
    // Same key: 1 if the member is there, and nothing changes.
    assert_eq!(int(&mut c, &["SMOVE", "dst", "dst", "a"]), 1);
    assert_eq!(int(&mut c, &["SMOVE", "dst", "dst", "zz"]), 0);
    assert_eq!(members(&mut c, &["SMEMBERS", "dst"]), strings(&["a", "b"]));
    // An absent source is 0 even when the destination has the wrong type.
    run::<Value>(&mut c, &["SET", "str", "x"]);
    assert_eq!(int(&mut c, &["SMOVE", "missing", "str", "a"]), 0);
    assert_eq!(err(&mut c, &["SMOVE", "dst", "str", "zz"]), WRONGTYPE, "type checked before membership");
    assert_eq!(members(&mut c, &["SMEMBERS", "dst"]), strings(&["a", "b"]));
}

#[test]
fn sscan_walks_the_whole_set() {
    let server = Server::start();
    let mut c = server.conn();
    let mut args = vec!["SADD".to_string(), "s".to_string()];
    args.extend((0..40).map(|i| format!("m{i}")));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(int(&mut c, &args), 40);

    let scan_all = |c: &mut Connection, opts: &[&str]| -> (Vec<String>, usize) {
        let mut cursor = "0".to_string();
        let mut seen = Vec::new();
        let mut rounds = 0;
        loop {
            let mut a = vec!["SSCAN", "s", cursor.as_str()];
            a.extend_from_slice(opts);
            let Value::Array(reply) = run::<Value>(c, &a) else { panic!("SSCAN reply is an array") };
            assert_eq!(reply.len(), 2);
            cursor = text(&reply[0]);
            let Value::Array(items) = &reply[1] else { panic!("items are an array") };
            seen.extend(items.iter().map(text));
            rounds += 1;
            assert!(rounds < 100, "SSCAN does not finish");
            if cursor == "0" {
                return (seen, rounds);
            }
        }
    };
    let (mut seen, rounds) = scan_all(&mut c, &["COUNT", "7"]);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 40);
    assert!(rounds >= 6, "COUNT 7 over 40 members takes several calls, took {rounds}");
    let (mut matched, _) = scan_all(&mut c, &["MATCH", "m1*", "COUNT", "5"]);
    matched.sort();
    assert_eq!(matched, strings(&["m1", "m10", "m11", "m12", "m13", "m14", "m15", "m16", "m17", "m18", "m19"]));
    let (all, _) = scan_all(&mut c, &["match", "*"]);
    assert_eq!(all.len(), 40);
    assert_eq!(run::<Value>(&mut c, &["SSCAN", "missing", "0"]), Value::Array(vec![bulk("0"), Value::Array(vec![])]));
}

#[test]
fn sscan_argument_errors() {
    let server = Server::start();
    let mut c = server.conn();
    run::<Value>(&mut c, &["SADD", "s", "a"]);
    assert_eq!(err(&mut c, &["SSCAN", "s", "x"]), "ERR invalid cursor");
    assert_eq!(err(&mut c, &["SSCAN", "s", "-1"]), "ERR invalid cursor");
    assert_eq!(err(&mut c, &["SSCAN", "s", "0", "COUNT", "0"]), "ERR syntax error");
    assert_eq!(err(&mut c, &["SSCAN", "s", "0", "COUNT", "x"]), "ERR value is not an integer or out of range");
    assert_eq!(err(&mut c, &["SSCAN", "s", "0", "MATCH"]), "ERR syntax error");
    assert_eq!(err(&mut c, &["SSCAN", "s", "0", "TYPE", "set"]), "ERR syntax error");
    assert_eq!(err(&mut c, &["SSCAN", "s", "0", "foo", "bar"]), "ERR syntax error");
    // As in Redis, an absent key answers before the options are checked.
    assert_eq!(
        run::<Value>(&mut c, &["SSCAN", "missing", "0", "COUNT", "0"]),
        Value::Array(vec![bulk("0"), Value::Array(vec![])])
    );
}

#[test]
fn set_commands_inside_multi() {
    let server = Server::start();
    let mut c = server.conn();
    run::<Value>(&mut c, &["SADD", "a", "1", "2"]);
    let reply: Vec<Value> = redis::pipe()
        .atomic()
        .cmd("SMOVE")
        .arg("a")
        .arg("b")
        .arg("1")
        .cmd("SUNIONSTORE")
        .arg("u")
        .arg("a")
        .arg("b")
        .cmd("SCARD")
        .arg("u")
        .query(&mut c)
        .unwrap();
    assert_eq!(reply, vec![Value::Int(1), Value::Int(2), Value::Int(2)]);
}

#[test]
fn redis_cli_sees_sets() {
    let server = Server::start();
    assert_eq!(server.cli(&["SADD", "s", "a", "b"]), "2");
    let mut out: Vec<String> = server.cli(&["SMEMBERS", "s"]).lines().map(str::to_owned).collect();
    out.sort();
    assert_eq!(out, strings(&["a", "b"]));
    assert_eq!(server.cli(&["SISMEMBER", "s", "b"]), "1");
    assert_eq!(server.cli(&["SPOP", "missing"]), "");
    let out = server.cli(&["SPOP", "s", "x"]);
    assert!(out.contains("ERR value is out of range, must be positive"), "{out}");
}

// ------------------------------------------------------------- RESP3

#[test]
fn resp3_whole_sets_are_sets() {
    let server = Server::start();
    let mut c = server.conn_resp3();
    run::<Value>(&mut c, &["SADD", "s1", "a", "b"]);
    run::<Value>(&mut c, &["SADD", "s2", "b", "c"]);
    let set = |v: &[&str]| v.iter().map(|s| bulk(s)).collect::<Vec<_>>();
    let sorted = |v: Value| match v {
        Value::Set(mut items) => {
            items.sort_by_key(text);
            Value::Set(items)
        }
        v => panic!("expected a RESP3 set, got {v:?}"),
    };
    assert_eq!(sorted(run::<Value>(&mut c, &["SMEMBERS", "s1"])), Value::Set(set(&["a", "b"])));
    assert_eq!(sorted(run::<Value>(&mut c, &["SINTER", "s1", "s2"])), Value::Set(set(&["b"])));
    assert_eq!(sorted(run::<Value>(&mut c, &["SUNION", "s1", "s2"])), Value::Set(set(&["a", "b", "c"])));
    assert_eq!(sorted(run::<Value>(&mut c, &["SDIFF", "s1", "s2"])), Value::Set(set(&["a"])));
    assert_eq!(run::<Value>(&mut c, &["SMEMBERS", "missing"]), Value::Set(vec![]));
    assert_eq!(run::<Value>(&mut c, &["SINTER", "s1", "missing"]), Value::Set(vec![]));
    // SPOP with a count: a set, also when empty.
    assert_eq!(run::<Value>(&mut c, &["SPOP", "missing", "2"]), Value::Set(vec![]));
    assert_eq!(run::<Value>(&mut c, &["SPOP", "s1", "0"]), Value::Set(vec![]));
    assert!(matches!(run::<Value>(&mut c, &["SPOP", "s2", "1"]), Value::Set(ref v) if v.len() == 1));
    assert!(matches!(run::<Value>(&mut c, &["SPOP", "s1", "5"]), Value::Set(ref v) if v.len() == 2));
    // SPOP without a count and SRANDMEMBER's nulls are RESP3 nulls.
    assert_eq!(run::<Value>(&mut c, &["SPOP", "missing"]), Value::Nil);
    assert_eq!(run::<Value>(&mut c, &["SRANDMEMBER", "missing"]), Value::Nil);
}

#[test]
fn resp3_srandmember_with_count_is_an_array() {
    let server = Server::start();
    let mut c = server.conn_resp3();
    run::<Value>(&mut c, &["SADD", "s", "a", "b", "c"]);
    assert!(matches!(run::<Value>(&mut c, &["SRANDMEMBER", "s", "2"]), Value::Array(ref v) if v.len() == 2));
    assert!(matches!(run::<Value>(&mut c, &["SRANDMEMBER", "s", "-5"]), Value::Array(ref v) if v.len() == 5));
    assert_eq!(run::<Value>(&mut c, &["SRANDMEMBER", "missing", "2"]), Value::Array(vec![]));
    assert_eq!(run::<Value>(&mut c, &["SMISMEMBER", "s", "a", "z"]), Value::Array(vec![Value::Int(1), Value::Int(0)]));
    assert_eq!(run::<Value>(&mut c, &["SSCAN", "missing", "0"]), Value::Array(vec![bulk("0"), Value::Array(vec![])]));
}
