//! Hash commands through a real node: the `redis` crate for values, a raw
//! connection for exact reply bytes and error texts, and redis-cli. The
//! expected replies are Redis 7.2's.

mod common;

use std::collections::{HashMap, HashSet};

use common::{arity, call, resp_err, RawConn, Server, NOT_FLOAT, NOT_INTEGER, SYNTAX, WRONGTYPE};
use redis::{Connection, Value};

fn hgetall(conn: &mut Connection, key: &str) -> HashMap<String, String> {
    redis::cmd("HGETALL").arg(key).query(conn).unwrap()
}

/// Whether `key` is gone: a push onto it works only if no (empty) hash
/// was left behind.
fn assert_deleted(raw: &mut RawConn, key: &str) {
    assert_eq!(call(raw, &["RPUSH", key, "probe"]), ":1\r\n", "{key} still holds a value");
    assert_eq!(call(raw, &["RPOP", key]), "$5\r\nprobe\r\n");
}

#[test]
fn hset_hget_hmset_hmget() {
    let server = Server::start();
    let mut conn = server.conn();
    let added: i64 = redis::cmd("HSET").arg("h").arg("a").arg("1").arg("b").arg("2").query(&mut conn).unwrap();
    assert_eq!(added, 2);
    // Overwriting one field and adding one counts only the new one.
    let added: i64 = redis::cmd("HSET").arg("h").arg("a").arg("10").arg("c").arg("3").query(&mut conn).unwrap();
    assert_eq!(added, 1);
    let v: Option<String> = redis::cmd("HGET").arg("h").arg("a").query(&mut conn).unwrap();
    assert_eq!(v.as_deref(), Some("10"));
    let v: Option<String> = redis::cmd("HGET").arg("h").arg("nope").query(&mut conn).unwrap();
    assert_eq!(v, None);
    let v: Option<String> = redis::cmd("HGET").arg("missing").arg("a").query(&mut conn).unwrap();
    assert_eq!(v, None);

    let ok: String = redis::cmd("HMSET").arg("h").arg("d").arg("4").arg("e").arg("5").query(&mut conn).unwrap();
    assert_eq!(ok, "OK");
    let vs: Vec<Option<String>> = redis::cmd("HMGET").arg("h").arg("a").arg("nope").arg("e").query(&mut conn).unwrap();
    assert_eq!(vs, vec![Some("10".to_owned()), None, Some("5".to_owned())]);
    let vs: Vec<Option<String>> = redis::cmd("HMGET").arg("missing").arg("a").arg("b").query(&mut conn).unwrap();
    assert_eq!(vs, vec![None, None]);

    let mut raw = server.raw();
    assert_eq!(call(&mut raw, &["HSET", "h", "a", "1", "b"]), resp_err(&arity("hset")));
    assert_eq!(call(&mut raw, &["HMSET", "h", "a", "1", "b"]), resp_err(&arity("hmset")));
    assert_eq!(call(&mut raw, &["HSET", "h", "a"]), resp_err(&arity("hset")));
    assert_eq!(call(&mut raw, &["HGET", "h"]), resp_err(&arity("hget")));
    assert_eq!(call(&mut raw, &["HMGET", "h"]), resp_err(&arity("hmget")));
    assert_eq!(call(&mut raw, &["HMSET", "odd", "a", "1", "b"]), resp_err(&arity("hmset")));
    // A failed HMSET created nothing.
    assert_eq!(call(&mut raw, &["HLEN", "odd"]), ":0\r\n");
    assert_eq!(call(&mut raw, &["HMGET", "h", "a", "zz"]), "*2\r\n$2\r\n10\r\n$-1\r\n");
    assert_eq!(call(&mut raw, &["HGET", "h", "zz"]), "$-1\r\n");
    // Binary-safe fields and values.
    assert_eq!(call(&mut raw, &["HSET", "bin", "f\r\n", ""]), ":1\r\n");
    assert_eq!(call(&mut raw, &["HGET", "bin", "f\r\n"]), "$0\r\n\r\n");
}

#[test]
fn hsetnx_sets_only_new_fields() {
    let server = Server::start();
    let mut raw = server.raw();
    assert_eq!(call(&mut raw, &["HSETNX", "h", "f", "first"]), ":1\r\n");
    assert_eq!(call(&mut raw, &["HSETNX", "h", "f", "second"]), ":0\r\n");
    assert_eq!(call(&mut raw, &["HGET", "h", "f"]), "$5\r\nfirst\r\n");
    assert_eq!(call(&mut raw, &["HSETNX", "h", "f"]), resp_err(&arity("hsetnx")));
    assert_eq!(call(&mut raw, &["HSETNX", "h", "f", "v", "x"]), resp_err(&arity("hsetnx")));
}

#[test]
fn hgetall_hkeys_hvals_in_resp2() {
    let server = Server::start();
    let mut conn = server.conn();
    let _: i64 = redis::cmd("HSET").arg("h").arg("f1").arg("v1").arg("f2").arg("v2").query(&mut conn).unwrap();
    let all = hgetall(&mut conn, "h");
    assert_eq!(all, HashMap::from([("f1".into(), "v1".into()), ("f2".into(), "v2".into())]));
    let mut keys: Vec<String> = redis::cmd("HKEYS").arg("h").query(&mut conn).unwrap();
    keys.sort();
    assert_eq!(keys, vec!["f1", "f2"]);
    let mut vals: Vec<String> = redis::cmd("HVALS").arg("h").query(&mut conn).unwrap();
    vals.sort();
    assert_eq!(vals, vec!["v1", "v2"]);

    // RESP2: HGETALL is a flat array of field, value, field, value.
    let mut raw = server.raw();
    assert_eq!(call(&mut raw, &["HSET", "one", "f", "v"]), ":1\r\n");
    assert_eq!(call(&mut raw, &["HGETALL", "one"]), "*2\r\n$1\r\nf\r\n$1\r\nv\r\n");
    assert_eq!(call(&mut raw, &["HKEYS", "one"]), "*1\r\n$1\r\nf\r\n");
    assert_eq!(call(&mut raw, &["HVALS", "one"]), "*1\r\n$1\r\nv\r\n");
    assert_eq!(call(&mut raw, &["HGETALL", "missing"]), "*0\r\n");
    assert_eq!(call(&mut raw, &["HKEYS", "missing"]), "*0\r\n");
    assert_eq!(call(&mut raw, &["HVALS", "missing"]), "*0\r\n");
    assert_eq!(call(&mut raw, &["HGETALL"]), resp_err(&arity("hgetall")));
    assert_eq!(call(&mut raw, &["HKEYS", "a", "b"]), resp_err(&arity("hkeys")));
    assert_eq!(call(&mut raw, &["HVALS"]), resp_err(&arity("hvals")));
}

/// Needs HELLO (the connection family, built in another branch): the
/// client sends `HELLO 3` when it connects.
#[test]
fn hgetall_is_a_map_in_resp3() {
    let server = Server::start();
    let mut conn = server.conn_resp3();
    let _: i64 = redis::cmd("HSET").arg("h").arg("f1").arg("v1").arg("f2").arg("v2").query(&mut conn).unwrap();
    let v: Value = redis::cmd("HGETALL").arg("h").query(&mut conn).unwrap();
    let Value::Map(pairs) = v else { panic!("HGETALL should be a RESP3 map, got {v:?}") };
    let mut pairs: Vec<(Value, Value)> = pairs;
    pairs.sort_by_key(|(k, _)| format!("{k:?}"));
    assert_eq!(
        pairs,
        vec![
            (Value::BulkString(b"f1".to_vec()), Value::BulkString(b"v1".to_vec())),
            (Value::BulkString(b"f2".to_vec()), Value::BulkString(b"v2".to_vec())),
        ]
    );
    // A missing key is an empty map; HKEYS/HVALS stay arrays.
    let v: Value = redis::cmd("HGETALL").arg("missing").query(&mut conn).unwrap();
    assert_eq!(v, Value::Map(vec![]));
    let v: Value = redis::cmd("HKEYS").arg("h").query(&mut conn).unwrap();
    assert!(matches!(v, Value::Array(ref a) if a.len() == 2), "{v:?}");

    // The exact bytes, on a raw connection switched to RESP3.
    let mut raw = server.raw();
    assert!(call(&mut raw, &["HELLO", "3"]).starts_with('%'));
    assert_eq!(call(&mut raw, &["HSET", "one", "f", "v"]), ":1\r\n");
    assert_eq!(call(&mut raw, &["HGETALL", "one"]), "%1\r\n$1\r\nf\r\n$1\r\nv\r\n");
    assert_eq!(call(&mut raw, &["HGETALL", "missing"]), "%0\r\n");
    assert_eq!(call(&mut raw, &["HGET", "one", "nope"]), "_\r\n");
    assert_eq!(call(&mut raw, &["HINCRBYFLOAT", "one", "n", "1.5"]), "$3\r\n1.5\r\n");
}

#[test]
fn hdel_hexists_hlen_hstrlen() {
    let server = Server::start();
    let mut raw = server.raw();
    assert_eq!(call(&mut raw, &["HSET", "h", "a", "1", "b", "hello", "c", "3"]), ":3\r\n");
    assert_eq!(call(&mut raw, &["HLEN", "h"]), ":3\r\n");
    assert_eq!(call(&mut raw, &["HEXISTS", "h", "b"]), ":1\r\n");
    assert_eq!(call(&mut raw, &["HEXISTS", "h", "zz"]), ":0\r\n");
    assert_eq!(call(&mut raw, &["HEXISTS", "missing", "b"]), ":0\r\n");
    assert_eq!(call(&mut raw, &["HSTRLEN", "h", "b"]), ":5\r\n");
    assert_eq!(call(&mut raw, &["HSTRLEN", "h", "zz"]), ":0\r\n");
    assert_eq!(call(&mut raw, &["HSTRLEN", "missing", "zz"]), ":0\r\n");
    assert_eq!(call(&mut raw, &["HDEL", "h", "a", "zz", "b"]), ":2\r\n");
    assert_eq!(call(&mut raw, &["HDEL", "h", "a"]), ":0\r\n");
    assert_eq!(call(&mut raw, &["HDEL", "missing", "a"]), ":0\r\n");
    assert_eq!(call(&mut raw, &["HLEN", "h"]), ":1\r\n");
    assert_eq!(call(&mut raw, &["HLEN", "missing"]), ":0\r\n");
    // Deleting the last field deletes the key.
    assert_eq!(call(&mut raw, &["HDEL", "h", "c"]), ":1\r\n");
    assert_eq!(call(&mut raw, &["HLEN", "h"]), ":0\r\n");
    assert_eq!(call(&mut raw, &["HGETALL", "h"]), "*0\r\n");
    assert_deleted(&mut raw, "h");

    assert_eq!(call(&mut raw, &["HDEL", "h"]), resp_err(&arity("hdel")));
    assert_eq!(call(&mut raw, &["HEXISTS", "h"]), resp_err(&arity("hexists")));
    assert_eq!(call(&mut raw, &["HLEN", "h", "x"]), resp_err(&arity("hlen")));
    assert_eq!(call(&mut raw, &["HSTRLEN", "h"]), resp_err(&arity("hstrlen")));
}

#[test]
fn every_hash_command_refuses_a_string_key() {
    let server = Server::start();
    let mut raw = server.raw();
    assert_eq!(call(&mut raw, &["SET", "s", "x"]), "+OK\r\n");
    let cases: &[&[&str]] = &[
        &["HSET", "s", "f", "v"],
        &["HMSET", "s", "f", "v"],
        &["HSETNX", "s", "f", "v"],
        &["HGET", "s", "f"],
        &["HMGET", "s", "f"],
        &["HGETALL", "s"],
        &["HKEYS", "s"],
        &["HVALS", "s"],
        &["HDEL", "s", "f"],
        &["HEXISTS", "s", "f"],
        &["HLEN", "s"],
        &["HSTRLEN", "s", "f"],
        &["HINCRBY", "s", "f", "1"],
        &["HINCRBYFLOAT", "s", "f", "1"],
        &["HSCAN", "s", "0"],
        &["HRANDFIELD", "s"],
        &["HRANDFIELD", "s", "2"],
        &["HRANDFIELD", "s", "-2", "WITHVALUES"],
    ];
    for args in cases {
        assert_eq!(call(&mut raw, args), resp_err(WRONGTYPE), "{args:?}");
    }
    // Still the string it was.
    assert_eq!(call(&mut raw, &["GET", "s"]), "$1\r\nx\r\n");
    // And a list is no hash either.
    assert_eq!(call(&mut raw, &["RPUSH", "l", "x"]), ":1\r\n");
    assert_eq!(call(&mut raw, &["HGET", "l", "f"]), resp_err(WRONGTYPE));
    assert_eq!(call(&mut raw, &["HSET", "l", "f", "v"]), resp_err(WRONGTYPE));
}

#[test]
fn hincrby_counts_and_refuses_bad_numbers() {
    let server = Server::start();
    let mut conn = server.conn();
    let v: i64 = redis::cmd("HINCRBY").arg("h").arg("n").arg(5).query(&mut conn).unwrap();
    assert_eq!(v, 5);
    let v: i64 = redis::cmd("HINCRBY").arg("h").arg("n").arg(-15).query(&mut conn).unwrap();
    assert_eq!(v, -10);
    let v: String = redis::cmd("HGET").arg("h").arg("n").query(&mut conn).unwrap();
    assert_eq!(v, "-10");

    let mut raw = server.raw();
    assert_eq!(call(&mut raw, &["HINCRBY", "h", "n", "x"]), resp_err(NOT_INTEGER));
    assert_eq!(call(&mut raw, &["HINCRBY", "h", "n", "1.5"]), resp_err(NOT_INTEGER));
    assert_eq!(call(&mut raw, &["HINCRBY", "h", "n", "99999999999999999999"]), resp_err(NOT_INTEGER));
    assert_eq!(call(&mut raw, &["HSET", "h", "s", "hello", "f", "1.5", "sp", " 1"]), ":3\r\n");
    for field in ["s", "f", "sp"] {
        assert_eq!(call(&mut raw, &["HINCRBY", "h", field, "1"]), "-ERR hash value is not an integer\r\n");
    }
    assert_eq!(call(&mut raw, &["HSET", "h", "big", "9223372036854775807"]), ":1\r\n");
    assert_eq!(call(&mut raw, &["HINCRBY", "h", "big", "1"]), "-ERR increment or decrement would overflow\r\n");
    assert_eq!(call(&mut raw, &["HSET", "h", "small", "-9223372036854775808"]), ":1\r\n");
    assert_eq!(call(&mut raw, &["HINCRBY", "h", "small", "-1"]), "-ERR increment or decrement would overflow\r\n");
    assert_eq!(call(&mut raw, &["HGET", "h", "big"]), "$19\r\n9223372036854775807\r\n");
    assert_eq!(call(&mut raw, &["HINCRBY", "h", "big", "-9223372036854775807"]), ":0\r\n");
    assert_eq!(call(&mut raw, &["HINCRBY", "h", "n"]), resp_err(&arity("hincrby")));
    // An increment on a new key creates it.
    assert_eq!(call(&mut raw, &["HINCRBY", "fresh", "f", "7"]), ":7\r\n");
    assert_eq!(call(&mut raw, &["HGETALL", "fresh"]), "*2\r\n$1\r\nf\r\n$1\r\n7\r\n");
}

#[test]
fn hincrbyfloat_adds_and_refuses_bad_numbers() {
    let server = Server::start();
    let mut raw = server.raw();
    // The examples of Redis's documentation.
    assert_eq!(call(&mut raw, &["HSET", "h", "field", "10.50"]), ":1\r\n");
    assert_eq!(call(&mut raw, &["HINCRBYFLOAT", "h", "field", "0.1"]), "$4\r\n10.6\r\n");
    assert_eq!(call(&mut raw, &["HINCRBYFLOAT", "h", "field", "-5"]), "$3\r\n5.6\r\n");
    assert_eq!(call(&mut raw, &["HSET", "h", "field", "5.0e3"]), ":0\r\n");
    assert_eq!(call(&mut raw, &["HINCRBYFLOAT", "h", "field", "2.0e2"]), "$4\r\n5200\r\n");
    assert_eq!(call(&mut raw, &["HGET", "h", "field"]), "$4\r\n5200\r\n");
    assert_eq!(call(&mut raw, &["HINCRBYFLOAT", "h", "new", "1.5"]), "$3\r\n1.5\r\n");
    assert_eq!(call(&mut raw, &["HINCRBYFLOAT", "h", "new", "-1.5"]), "$1\r\n0\r\n");

    assert_eq!(call(&mut raw, &["HINCRBYFLOAT", "h", "field", "abc"]), resp_err(NOT_FLOAT));
    assert_eq!(call(&mut raw, &["HINCRBYFLOAT", "h", "field", "nan"]), resp_err(NOT_FLOAT));
    assert_eq!(call(&mut raw, &["HINCRBYFLOAT", "h", "field", "inf"]), "-ERR value is NaN or Infinity\r\n");
    assert_eq!(call(&mut raw, &["HSET", "h", "word", "hello"]), ":1\r\n");
    assert_eq!(call(&mut raw, &["HINCRBYFLOAT", "h", "word", "1"]), "-ERR hash value is not a float\r\n");
    assert_eq!(call(&mut raw, &["HSET", "h", "huge", "1.7e308"]), ":1\r\n");
    assert_eq!(
        call(&mut raw, &["HINCRBYFLOAT", "h", "huge", "1.7e308"]),
        "-ERR increment would produce NaN or Infinity\r\n"
    );
    assert_eq!(call(&mut raw, &["HGET", "h", "huge"]), "$7\r\n1.7e308\r\n");
    assert_eq!(call(&mut raw, &["HINCRBYFLOAT", "h", "f"]), resp_err(&arity("hincrbyfloat")));
}

/// HSCAN until the cursor comes back to 0, returning (field, value) pairs.
fn hscan_all(conn: &mut Connection, key: &str, extra: &[&str]) -> Vec<(String, String)> {
    let mut cursor = "0".to_owned();
    let mut out = Vec::new();
    for _ in 0..1000 {
        let (next, items): (String, Vec<String>) =
            redis::cmd("HSCAN").arg(key).arg(&cursor).arg(extra).query(conn).unwrap();
        assert_eq!(items.len() % 2, 0);
        out.extend(items.chunks(2).map(|p| (p[0].clone(), p[1].clone())));
        if next == "0" {
            return out;
        }
        cursor = next;
    }
    panic!("HSCAN did not finish");
}

#[test]
fn hscan_walks_every_field() {
    let server = Server::start();
    let mut conn = server.conn();
    let mut cmd = redis::cmd("HSET");
    cmd.arg("h");
    for i in 0..50 {
        cmd.arg(format!("f{i}")).arg(format!("v{i}"));
    }
    let _: i64 = cmd.query(&mut conn).unwrap();

    let all = hscan_all(&mut conn, "h", &[]);
    let fields: HashSet<_> = all.iter().map(|(f, _)| f.clone()).collect();
    assert_eq!(fields.len(), 50);
    assert!(all.iter().all(|(f, v)| f[1..] == v[1..]), "values go with their fields");
    let small = hscan_all(&mut conn, "h", &["COUNT", "3"]);
    assert_eq!(small.len(), 50);
    let matched = hscan_all(&mut conn, "h", &["MATCH", "f1*"]);
    let mut names: Vec<_> = matched.into_iter().map(|(f, _)| f).collect();
    names.sort();
    assert_eq!(names, vec!["f1", "f10", "f11", "f12", "f13", "f14", "f15", "f16", "f17", "f18", "f19"]);

    // NOVALUES: fields only.
    let mut cursor = "0".to_owned();
    let mut only_fields = Vec::new();
    loop {
        let (next, items): (String, Vec<String>) =
            redis::cmd("HSCAN").arg("h").arg(&cursor).arg("NOVALUES").arg("COUNT").arg(20).query(&mut conn).unwrap();
        only_fields.extend(items);
        if next == "0" {
            break;
        }
        cursor = next;
    }
    only_fields.sort();
    let mut expected: Vec<_> = fields.into_iter().collect();
    expected.sort();
    assert_eq!(only_fields, expected);
}

#[test]
fn hscan_returns_fields_present_for_the_whole_scan() {
    let server = Server::start();
    let mut conn = server.conn();
    let mut cmd = redis::cmd("HSET");
    cmd.arg("h");
    for i in 0..60 {
        cmd.arg(format!("f{i}")).arg("v");
    }
    let _: i64 = cmd.query(&mut conn).unwrap();
    let mut seen = HashSet::new();
    let mut cursor = "0".to_owned();
    let mut round = 0;
    loop {
        let (next, items): (String, Vec<String>) =
            redis::cmd("HSCAN").arg("h").arg(&cursor).arg("COUNT").arg(5).query(&mut conn).unwrap();
        seen.extend(items.chunks(2).map(|p| p[0].clone()));
        // Between calls, delete some fields (seen or not) and add new ones.
        let _: i64 = redis::cmd("HDEL").arg("h").arg(format!("f{}", round * 4)).query(&mut conn).unwrap();
        let _: i64 = redis::cmd("HSET").arg("h").arg(format!("new{round}")).arg("v").query(&mut conn).unwrap();
        round += 1;
        if next == "0" {
            break;
        }
        cursor = next;
        assert!(round < 100, "HSCAN did not finish");
    }
    for i in 0..60 {
        let deleted = i % 4 == 0 && i / 4 < round;
        if !deleted {
            assert!(seen.contains(&format!("f{i}")), "f{i} was present throughout but not returned");
        }
    }
}

#[test]
fn hscan_reply_shape_and_errors() {
    let server = Server::start();
    let mut raw = server.raw();
    assert_eq!(call(&mut raw, &["HSET", "h", "f", "v"]), ":1\r\n");
    assert_eq!(call(&mut raw, &["HSCAN", "h", "0"]), "*2\r\n$1\r\n0\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n");
    assert_eq!(call(&mut raw, &["HSCAN", "h", "0", "NOVALUES"]), "*2\r\n$1\r\n0\r\n*1\r\n$1\r\nf\r\n");
    assert_eq!(call(&mut raw, &["HSCAN", "h", "0", "MATCH", "x*"]), "*2\r\n$1\r\n0\r\n*0\r\n");
    assert_eq!(call(&mut raw, &["HSCAN", "missing", "0"]), "*2\r\n$1\r\n0\r\n*0\r\n");
    assert_eq!(call(&mut raw, &["HSCAN", "h", "abc"]), "-ERR invalid cursor\r\n");
    assert_eq!(call(&mut raw, &["HSCAN", "missing", "abc"]), "-ERR invalid cursor\r\n");
    assert_eq!(call(&mut raw, &["HSCAN", "h", "0", "COUNT", "0"]), resp_err(SYNTAX));
    assert_eq!(call(&mut raw, &["HSCAN", "h", "0", "COUNT", "x"]), resp_err(NOT_INTEGER));
    assert_eq!(call(&mut raw, &["HSCAN", "h", "0", "COUNT"]), resp_err(SYNTAX));
    assert_eq!(call(&mut raw, &["HSCAN", "h", "0", "TYPE", "string"]), resp_err(SYNTAX));
    assert_eq!(call(&mut raw, &["HSCAN", "h", "0", "BOGUS"]), resp_err(SYNTAX));
    assert_eq!(call(&mut raw, &["HSCAN", "h"]), resp_err(&arity("hscan")));
}

#[test]
fn hrandfield_without_count() {
    let server = Server::start();
    let mut conn = server.conn();
    let _: i64 =
        redis::cmd("HSET").arg("h").arg("a").arg("1").arg("b").arg("2").arg("c").arg("3").query(&mut conn).unwrap();
    let mut got = HashSet::new();
    for _ in 0..100 {
        let f: String = redis::cmd("HRANDFIELD").arg("h").query(&mut conn).unwrap();
        got.insert(f);
    }
    // 100 draws from 3 fields miss one with probability ~3·(2/3)^100.
    assert_eq!(got, HashSet::from(["a".into(), "b".into(), "c".into()]));
    let mut raw = server.raw();
    assert_eq!(call(&mut raw, &["HRANDFIELD", "missing"]), "$-1\r\n");
    assert_eq!(call(&mut raw, &["HRANDFIELD"]), resp_err(&arity("hrandfield")));
}

#[test]
fn hrandfield_with_count() {
    let server = Server::start();
    let mut conn = server.conn();
    let mut cmd = redis::cmd("HSET");
    cmd.arg("h");
    for i in 0..10 {
        cmd.arg(format!("f{i}")).arg(format!("v{i}"));
    }
    let _: i64 = cmd.query(&mut conn).unwrap();

    // Positive: distinct fields, at most the hash's size.
    for n in [1usize, 3, 9, 10, 25] {
        let fields: Vec<String> = redis::cmd("HRANDFIELD").arg("h").arg(n).query(&mut conn).unwrap();
        assert_eq!(fields.len(), n.min(10), "count {n}");
        assert_eq!(fields.iter().collect::<HashSet<_>>().len(), fields.len(), "distinct for count {n}");
        assert!(fields.iter().all(|f| f.starts_with('f')));
    }
    // Negative: exactly that many, repeats allowed.
    let fields: Vec<String> = redis::cmd("HRANDFIELD").arg("h").arg(-30).query(&mut conn).unwrap();
    assert_eq!(fields.len(), 30);
    assert!(fields.iter().collect::<HashSet<_>>().len() <= 10);
    // WITHVALUES in RESP2: field, value, field, value; values match fields.
    for n in [4i64, -12] {
        let flat: Vec<String> = redis::cmd("HRANDFIELD").arg("h").arg(n).arg("WITHVALUES").query(&mut conn).unwrap();
        assert_eq!(flat.len(), 2 * n.unsigned_abs() as usize);
        assert!(flat.chunks(2).all(|p| p[0][1..] == p[1][1..]), "{flat:?}");
    }

    let mut raw = server.raw();
    assert_eq!(call(&mut raw, &["HSET", "one", "f", "v"]), ":1\r\n");
    assert_eq!(call(&mut raw, &["HRANDFIELD", "one", "-3"]), "*3\r\n$1\r\nf\r\n$1\r\nf\r\n$1\r\nf\r\n");
    assert_eq!(call(&mut raw, &["HRANDFIELD", "one", "5", "WITHVALUES"]), "*2\r\n$1\r\nf\r\n$1\r\nv\r\n");
    assert_eq!(call(&mut raw, &["HRANDFIELD", "one", "0"]), "*0\r\n");
    assert_eq!(call(&mut raw, &["HRANDFIELD", "missing", "5"]), "*0\r\n");
    assert_eq!(call(&mut raw, &["HRANDFIELD", "missing", "-5", "WITHVALUES"]), "*0\r\n");
    assert_eq!(call(&mut raw, &["HRANDFIELD", "one", "x"]), resp_err(NOT_INTEGER));
    assert_eq!(call(&mut raw, &["HRANDFIELD", "missing", "x"]), resp_err(NOT_INTEGER));
    assert_eq!(call(&mut raw, &["HRANDFIELD", "one", "1", "WITHVALUE"]), resp_err(SYNTAX));
    assert_eq!(call(&mut raw, &["HRANDFIELD", "one", "1", "WITHVALUES", "x"]), resp_err(SYNTAX));
    assert_eq!(
        call(&mut raw, &["HRANDFIELD", "one", "-9223372036854775808"]),
        "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n"
    );
    assert_eq!(
        call(&mut raw, &["HRANDFIELD", "one", "-9223372036854775807", "WITHVALUES"]),
        "-ERR value is out of range\r\n"
    );
    // Our own limit on "may repeat" samples (Redis has none).
    assert_eq!(call(&mut raw, &["HRANDFIELD", "one", "-100000000"]), "-ERR value is out of range\r\n");
}

#[test]
fn hrandfield_withvalues_pairs_in_resp3() {
    let server = Server::start();
    let mut raw = server.raw();
    assert!(call(&mut raw, &["HELLO", "3"]).starts_with('%'));
    assert_eq!(call(&mut raw, &["HSET", "one", "f", "v"]), ":1\r\n");
    // RESP3: an array of [field, value] arrays, for either sign of count.
    assert_eq!(call(&mut raw, &["HRANDFIELD", "one", "1", "WITHVALUES"]), "*1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n");
    assert_eq!(
        call(&mut raw, &["HRANDFIELD", "one", "-2", "WITHVALUES"]),
        "*2\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n"
    );
    // Without WITHVALUES it stays a flat array of fields.
    assert_eq!(call(&mut raw, &["HRANDFIELD", "one", "1"]), "*1\r\n$1\r\nf\r\n");
    assert_eq!(call(&mut raw, &["HRANDFIELD", "missing"]), "_\r\n");

    let mut conn = server.conn_resp3();
    let v: Value = redis::cmd("HRANDFIELD").arg("one").arg(-2).arg("WITHVALUES").query(&mut conn).unwrap();
    let pair = Value::Array(vec![Value::BulkString(b"f".to_vec()), Value::BulkString(b"v".to_vec())]);
    assert_eq!(v, Value::Array(vec![pair.clone(), pair]));
}

#[test]
fn redis_cli_sees_hashes() {
    let server = Server::start();
    assert_eq!(server.cli(&["HSET", "user:1", "name", "ada", "lang", "en"]), "2");
    assert_eq!(server.cli(&["HGET", "user:1", "name"]), "ada");
    assert_eq!(server.cli(&["HGETALL", "user:1"]), "name\nada\nlang\nen");
    assert_eq!(server.cli(&["HINCRBY", "user:1", "visits", "3"]), "3");
    assert_eq!(server.cli(&["HLEN", "user:1"]), "3");
    assert_eq!(server.cli(&["--no-raw", "HGET", "user:1", "nope"]), "(nil)");
    assert_eq!(server.cli(&["HDEL", "user:1", "name", "lang", "visits"]), "3");
    assert_eq!(server.cli(&["--no-raw", "HGETALL", "user:1"]), "(empty array)");
}
