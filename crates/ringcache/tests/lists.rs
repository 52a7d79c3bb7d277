//! List commands through a real node: the `redis` crate for values, a raw
//! connection for exact reply bytes and error texts, and redis-cli. The
//! expected replies are Redis 7.2's.

mod common;

use common::{arity, call, resp_err, RawConn, Server, NOT_INTEGER, SYNTAX, WRONGTYPE};
use redis::{Connection, Value};

const MUST_BE_POSITIVE: &str = "-ERR value is out of range, must be positive\r\n";

fn lrange(conn: &mut Connection, key: &str) -> Vec<String> {
    redis::cmd("LRANGE").arg(key).arg(0).arg(-1).query(conn).unwrap()
}

fn rpush(conn: &mut Connection, key: &str, items: &[&str]) -> i64 {
    redis::cmd("RPUSH").arg(key).arg(items).query(conn).unwrap()
}

/// Whether `key` is gone: a hash write onto it works only if no (empty)
/// list was left behind.
fn assert_deleted(raw: &mut RawConn, key: &str) {
    assert_eq!(call(raw, &["HSET", key, "probe", "1"]), ":1\r\n", "{key} still holds a value");
    assert_eq!(call(raw, &["HDEL", key, "probe"]), ":1\r\n");
}

#[test]
fn pushes_at_both_ends() {
    let server = Server::start();
    let mut conn = server.conn();
    let n: i64 = redis::cmd("LPUSH").arg("l").arg("a").arg("b").arg("c").query(&mut conn).unwrap();
    assert_eq!(n, 3);
    assert_eq!(rpush(&mut conn, "l", &["d", "e"]), 5);
    // LPUSH a b c pushes one at a time: c ends up first.
    assert_eq!(lrange(&mut conn, "l"), vec!["c", "b", "a", "d", "e"]);

    let n: i64 = redis::cmd("LPUSHX").arg("l").arg("x").query(&mut conn).unwrap();
    assert_eq!(n, 6);
    let n: i64 = redis::cmd("RPUSHX").arg("l").arg("y").arg("z").query(&mut conn).unwrap();
    assert_eq!(n, 8);
    assert_eq!(lrange(&mut conn, "l"), vec!["x", "c", "b", "a", "d", "e", "y", "z"]);

    let mut raw = server.raw();
    assert_eq!(call(&mut raw, &["LPUSHX", "missing", "a"]), ":0\r\n");
    assert_eq!(call(&mut raw, &["RPUSHX", "missing", "a", "b"]), ":0\r\n");
    assert_eq!(call(&mut raw, &["LLEN", "missing"]), ":0\r\n");
    assert_eq!(call(&mut raw, &["LPUSH", "l"]), resp_err(&arity("lpush")));
    assert_eq!(call(&mut raw, &["RPUSH", "l"]), resp_err(&arity("rpush")));
    assert_eq!(call(&mut raw, &["LPUSHX", "l"]), resp_err(&arity("lpushx")));
    assert_eq!(call(&mut raw, &["RPUSHX", "l"]), resp_err(&arity("rpushx")));
    // Binary-safe elements.
    assert_eq!(call(&mut raw, &["RPUSH", "bin", "a\r\nb", ""]), ":2\r\n");
    assert_eq!(call(&mut raw, &["LRANGE", "bin", "0", "-1"]), "*2\r\n$4\r\na\r\nb\r\n$0\r\n\r\n");
}

#[test]
fn every_list_command_refuses_a_string_key() {
    let server = Server::start();
    let mut raw = server.raw();
    assert_eq!(call(&mut raw, &["SET", "s", "x"]), "+OK\r\n");
    assert_eq!(call(&mut raw, &["RPUSH", "l", "a"]), ":1\r\n");
    let cases: &[&[&str]] = &[
        &["LPUSH", "s", "a"],
        &["RPUSH", "s", "a"],
        &["LPUSHX", "s", "a"],
        &["RPUSHX", "s", "a"],
        &["LPOP", "s"],
        &["RPOP", "s"],
        &["LPOP", "s", "0"],
        &["RPOP", "s", "2"],
        &["LLEN", "s"],
        &["LRANGE", "s", "0", "-1"],
        &["LINDEX", "s", "0"],
        &["LSET", "s", "0", "a"],
        &["LREM", "s", "0", "a"],
        &["LTRIM", "s", "0", "1"],
        &["LINSERT", "s", "BEFORE", "a", "b"],
        &["LPOS", "s", "a"],
        &["LPOS", "s", "a", "COUNT", "0"],
        &["LMOVE", "s", "l", "LEFT", "LEFT"],
        &["LMOVE", "l", "s", "LEFT", "LEFT"],
    ];
    for args in cases {
        assert_eq!(call(&mut raw, args), resp_err(WRONGTYPE), "{args:?}");
    }
    assert_eq!(call(&mut raw, &["GET", "s"]), "$1\r\nx\r\n");
    // The failed LMOVE to a string moved nothing.
    assert_eq!(call(&mut raw, &["LRANGE", "l", "0", "-1"]), "*1\r\n$1\r\na\r\n");
    // A hash is no list either.
    assert_eq!(call(&mut raw, &["HSET", "h", "f", "v"]), ":1\r\n");
    assert_eq!(call(&mut raw, &["LLEN", "h"]), resp_err(WRONGTYPE));
    assert_eq!(call(&mut raw, &["RPUSH", "h", "x"]), resp_err(WRONGTYPE));
}

#[test]
fn pop_without_and_with_count() {
    let server = Server::start();
    let mut conn = server.conn();
    assert_eq!(rpush(&mut conn, "l", &["a", "b", "c", "d", "e", "f", "g"]), 7);
    let v: Option<String> = redis::cmd("LPOP").arg("l").query(&mut conn).unwrap();
    assert_eq!(v.as_deref(), Some("a"));
    let v: Option<String> = redis::cmd("RPOP").arg("l").query(&mut conn).unwrap();
    assert_eq!(v.as_deref(), Some("g"));
    let v: Vec<String> = redis::cmd("LPOP").arg("l").arg(2).query(&mut conn).unwrap();
    assert_eq!(v, vec!["b", "c"]);
    let v: Vec<String> = redis::cmd("RPOP").arg("l").arg(2).query(&mut conn).unwrap();
    assert_eq!(v, vec!["f", "e"]);

    let mut raw = server.raw();
    // Count 0 on an existing list: an empty array, nothing popped.
    assert_eq!(call(&mut raw, &["LPOP", "l", "0"]), "*0\r\n");
    assert_eq!(call(&mut raw, &["RPOP", "l", "0"]), "*0\r\n");
    assert_eq!(call(&mut raw, &["LLEN", "l"]), ":1\r\n");
    // More than there is: what there is, and the key goes.
    assert_eq!(call(&mut raw, &["RPOP", "l", "100"]), "*1\r\n$1\r\nd\r\n");
    assert_eq!(call(&mut raw, &["LLEN", "l"]), ":0\r\n");
    assert_deleted(&mut raw, "l");

    // A missing key: Null without a count, a null array with one (even 0).
    assert_eq!(call(&mut raw, &["LPOP", "missing"]), "$-1\r\n");
    assert_eq!(call(&mut raw, &["RPOP", "missing"]), "$-1\r\n");
    assert_eq!(call(&mut raw, &["LPOP", "missing", "0"]), "*-1\r\n");
    assert_eq!(call(&mut raw, &["RPOP", "missing", "1"]), "*-1\r\n");

    assert_eq!(call(&mut raw, &["RPUSH", "l2", "a"]), ":1\r\n");
    assert_eq!(call(&mut raw, &["LPOP", "l2", "-1"]), MUST_BE_POSITIVE);
    assert_eq!(call(&mut raw, &["RPOP", "missing", "-1"]), MUST_BE_POSITIVE);
    assert_eq!(call(&mut raw, &["LPOP", "l2", "abc"]), MUST_BE_POSITIVE);
    assert_eq!(call(&mut raw, &["LPOP", "l2", "1", "2"]), resp_err(&arity("lpop")));
    assert_eq!(call(&mut raw, &["RPOP", "l2", "1", "2"]), resp_err(&arity("rpop")));
    assert_eq!(call(&mut raw, &["LPOP"]), resp_err(&arity("lpop")));
    // The count is checked before the type.
    assert_eq!(call(&mut raw, &["SET", "s", "x"]), "+OK\r\n");
    assert_eq!(call(&mut raw, &["LPOP", "s", "-1"]), MUST_BE_POSITIVE);
    assert_eq!(call(&mut raw, &["LLEN", "l2"]), ":1\r\n");
}

#[test]
fn pop_nulls_in_resp3() {
    let server = Server::start();
    let mut raw = server.raw();
    assert!(call(&mut raw, &["HELLO", "3"]).starts_with('%'));
    assert_eq!(call(&mut raw, &["LPOP", "missing"]), "_\r\n");
    assert_eq!(call(&mut raw, &["LPOP", "missing", "2"]), "_\r\n");
    assert_eq!(call(&mut raw, &["LINDEX", "missing", "0"]), "_\r\n");
    assert_eq!(call(&mut raw, &["LPOS", "missing", "a"]), "_\r\n");
    assert_eq!(call(&mut raw, &["LMOVE", "missing", "x", "LEFT", "LEFT"]), "_\r\n");
    assert_eq!(call(&mut raw, &["RPUSH", "l", "a"]), ":1\r\n");
    assert_eq!(call(&mut raw, &["RPOP", "l", "0"]), "*0\r\n");

    let mut conn = server.conn_resp3();
    let v: Value = redis::cmd("LPOP").arg("missing").arg(3).query(&mut conn).unwrap();
    assert_eq!(v, Value::Nil);
    let v: Value = redis::cmd("LRANGE").arg("l").arg(0).arg(-1).query(&mut conn).unwrap();
    assert_eq!(v, Value::Array(vec![Value::BulkString(b"a".to_vec())]));
}

#[test]
fn llen_lrange_lindex() {
    let server = Server::start();
    let mut conn = server.conn();
    assert_eq!(rpush(&mut conn, "l", &["a", "b", "c", "d", "e"]), 5);
    let n: i64 = redis::cmd("LLEN").arg("l").query(&mut conn).unwrap();
    assert_eq!(n, 5);
    let r = |conn: &mut Connection, start: i64, stop: i64| -> Vec<String> {
        redis::cmd("LRANGE").arg("l").arg(start).arg(stop).query(conn).unwrap()
    };
    assert_eq!(r(&mut conn, 0, -1), vec!["a", "b", "c", "d", "e"]);
    assert_eq!(r(&mut conn, 1, 2), vec!["b", "c"]);
    assert_eq!(r(&mut conn, -3, -2), vec!["c", "d"]);
    assert_eq!(r(&mut conn, -100, 100), vec!["a", "b", "c", "d", "e"]);
    assert!(r(&mut conn, 3, 1).is_empty());
    assert!(r(&mut conn, 5, 10).is_empty());
    assert!(r(&mut conn, 0, -6).is_empty());

    let mut raw = server.raw();
    assert_eq!(call(&mut raw, &["LINDEX", "l", "0"]), "$1\r\na\r\n");
    assert_eq!(call(&mut raw, &["LINDEX", "l", "-1"]), "$1\r\ne\r\n");
    assert_eq!(call(&mut raw, &["LINDEX", "l", "5"]), "$-1\r\n");
    assert_eq!(call(&mut raw, &["LINDEX", "l", "-6"]), "$-1\r\n");
    assert_eq!(call(&mut raw, &["LINDEX", "l", "x"]), resp_err(NOT_INTEGER));
    // Redis looks the key up first: a missing key answers Null whatever the index.
    assert_eq!(call(&mut raw, &["LINDEX", "missing", "x"]), "$-1\r\n");
    assert_eq!(call(&mut raw, &["LRANGE", "missing", "0", "-1"]), "*0\r\n");
    assert_eq!(call(&mut raw, &["LRANGE", "l", "a", "1"]), resp_err(NOT_INTEGER));
    assert_eq!(call(&mut raw, &["LRANGE", "l", "0", "1.5"]), resp_err(NOT_INTEGER));
    assert_eq!(call(&mut raw, &["LRANGE", "missing", "a", "1"]), resp_err(NOT_INTEGER));
    assert_eq!(call(&mut raw, &["LRANGE", "l", "0"]), resp_err(&arity("lrange")));
    assert_eq!(call(&mut raw, &["LINDEX", "l"]), resp_err(&arity("lindex")));
    assert_eq!(call(&mut raw, &["LLEN"]), resp_err(&arity("llen")));
}

#[test]
fn lset_replaces_by_index() {
    let server = Server::start();
    let mut conn = server.conn();
    assert_eq!(rpush(&mut conn, "l", &["a", "b", "c"]), 3);
    let ok: String = redis::cmd("LSET").arg("l").arg(0).arg("A").query(&mut conn).unwrap();
    assert_eq!(ok, "OK");
    let ok: String = redis::cmd("LSET").arg("l").arg(-1).arg("C").query(&mut conn).unwrap();
    assert_eq!(ok, "OK");
    assert_eq!(lrange(&mut conn, "l"), vec!["A", "b", "C"]);

    let mut raw = server.raw();
    assert_eq!(call(&mut raw, &["LSET", "l", "3", "x"]), "-ERR index out of range\r\n");
    assert_eq!(call(&mut raw, &["LSET", "l", "-4", "x"]), "-ERR index out of range\r\n");
    assert_eq!(call(&mut raw, &["LSET", "l", "x", "x"]), resp_err(NOT_INTEGER));
    assert_eq!(call(&mut raw, &["LSET", "missing", "0", "x"]), "-ERR no such key\r\n");
    assert_eq!(call(&mut raw, &["LSET", "missing", "x", "x"]), "-ERR no such key\r\n");
    assert_eq!(call(&mut raw, &["LSET", "l", "0"]), resp_err(&arity("lset")));
    assert_eq!(call(&mut raw, &["LRANGE", "l", "0", "-1"]), "*3\r\n$1\r\nA\r\n$1\r\nb\r\n$1\r\nC\r\n");
}

#[test]
fn lrem_by_count_and_direction() {
    let server = Server::start();
    let mut conn = server.conn();
    let lrem = |conn: &mut Connection, count: i64, v: &str| -> i64 {
        redis::cmd("LREM").arg("l").arg(count).arg(v).query(conn).unwrap()
    };
    assert_eq!(rpush(&mut conn, "l", &["a", "b", "a", "c", "a", "d", "a"]), 7);
    assert_eq!(lrem(&mut conn, 2, "a"), 2);
    assert_eq!(lrange(&mut conn, "l"), vec!["b", "c", "a", "d", "a"]);
    assert_eq!(lrem(&mut conn, -1, "a"), 1);
    assert_eq!(lrange(&mut conn, "l"), vec!["b", "c", "a", "d"]);
    assert_eq!(lrem(&mut conn, 0, "zz"), 0);
    assert_eq!(lrem(&mut conn, 0, "a"), 1);
    assert_eq!(lrange(&mut conn, "l"), vec!["b", "c", "d"]);
    assert_eq!(lrem(&mut conn, -100, "c"), 1);

    let mut raw = server.raw();
    assert_eq!(call(&mut raw, &["LREM", "missing", "1", "a"]), ":0\r\n");
    assert_eq!(call(&mut raw, &["LREM", "l", "x", "a"]), resp_err(NOT_INTEGER));
    assert_eq!(call(&mut raw, &["LREM", "missing", "x", "a"]), resp_err(NOT_INTEGER));
    assert_eq!(call(&mut raw, &["LREM", "l", "1"]), resp_err(&arity("lrem")));
    // Removing the last elements deletes the key.
    assert_eq!(call(&mut raw, &["LREM", "l", "0", "b"]), ":1\r\n");
    assert_eq!(call(&mut raw, &["LREM", "l", "0", "d"]), ":1\r\n");
    assert_eq!(call(&mut raw, &["LLEN", "l"]), ":0\r\n");
    assert_deleted(&mut raw, "l");
}

#[test]
fn ltrim_keeps_a_range() {
    let server = Server::start();
    let mut conn = server.conn();
    assert_eq!(rpush(&mut conn, "l", &["a", "b", "c", "d", "e", "f"]), 6);
    let ok: String = redis::cmd("LTRIM").arg("l").arg(1).arg(-2).query(&mut conn).unwrap();
    assert_eq!(ok, "OK");
    assert_eq!(lrange(&mut conn, "l"), vec!["b", "c", "d", "e"]);
    let _: String = redis::cmd("LTRIM").arg("l").arg(-100).arg(100).query(&mut conn).unwrap();
    assert_eq!(lrange(&mut conn, "l"), vec!["b", "c", "d", "e"]);
    let _: String = redis::cmd("LTRIM").arg("l").arg(0).arg(0).query(&mut conn).unwrap();
    assert_eq!(lrange(&mut conn, "l"), vec!["b"]);

    let mut raw = server.raw();
    assert_eq!(call(&mut raw, &["LTRIM", "missing", "0", "1"]), "+OK\r\n");
    assert_eq!(call(&mut raw, &["LTRIM", "l", "x", "1"]), resp_err(NOT_INTEGER));
    assert_eq!(call(&mut raw, &["LTRIM", "l", "0"]), resp_err(&arity("ltrim")));
    // An empty range empties the list, and the key goes.
    assert_eq!(call(&mut raw, &["LTRIM", "l", "5", "1"]), "+OK\r\n");
    assert_eq!(call(&mut raw, &["LLEN", "l"]), ":0\r\n");
    assert_deleted(&mut raw, "l");
}

#[test]
fn linsert_before_and_after() {
    let server = Server::start();
    let mut conn = server.conn();
    assert_eq!(rpush(&mut conn, "l", &["a", "b", "c", "b"]), 4);
    let n: i64 = redis::cmd("LINSERT").arg("l").arg("BEFORE").arg("b").arg("X").query(&mut conn).unwrap();
    assert_eq!(n, 5);
    let n: i64 = redis::cmd("LINSERT").arg("l").arg("after").arg("c").arg("Y").query(&mut conn).unwrap();
    assert_eq!(n, 6);
    // The first occurrence of the pivot is the one used.
    assert_eq!(lrange(&mut conn, "l"), vec!["a", "X", "b", "c", "Y", "b"]);

    let mut raw = server.raw();
    assert_eq!(call(&mut raw, &["LINSERT", "l", "AFTER", "nope", "Z"]), ":-1\r\n");
    assert_eq!(call(&mut raw, &["LINSERT", "missing", "AFTER", "a", "Z"]), ":0\r\n");
    assert_eq!(call(&mut raw, &["LINSERT", "l", "MIDDLE", "a", "Z"]), resp_err(SYNTAX));
    assert_eq!(call(&mut raw, &["LINSERT", "missing", "MIDDLE", "a", "Z"]), resp_err(SYNTAX));
    assert_eq!(call(&mut raw, &["LINSERT", "l", "AFTER", "a"]), resp_err(&arity("linsert")));
    assert_eq!(call(&mut raw, &["LLEN", "l"]), ":6\r\n");
    assert_eq!(call(&mut raw, &["LLEN", "missing"]), ":0\r\n");
}

#[test]
fn lpos_rank_count_maxlen() {
    let server = Server::start();
    let mut conn = server.conn();
    // The list of Redis's own LPOS tests.
    assert_eq!(rpush(&mut conn, "l", &["a", "b", "c", "1", "2", "3", "c", "c"]), 8);
    let pos = |conn: &mut Connection, args: &[&str]| -> Option<i64> {
        redis::cmd("LPOS").arg("l").arg(args).query(conn).unwrap()
    };
    let all = |conn: &mut Connection, args: &[&str]| -> Vec<i64> {
        redis::cmd("LPOS").arg("l").arg(args).query(conn).unwrap()
    };
    assert_eq!(pos(&mut conn, &["a"]), Some(0));
    assert_eq!(pos(&mut conn, &["c"]), Some(2));
    assert_eq!(pos(&mut conn, &["c", "RANK", "1"]), Some(2));
    assert_eq!(pos(&mut conn, &["c", "RANK", "2"]), Some(6));
    assert_eq!(pos(&mut conn, &["c", "RANK", "4"]), None);
    assert_eq!(pos(&mut conn, &["c", "RANK", "-1"]), Some(7));
    assert_eq!(pos(&mut conn, &["c", "RANK", "-2"]), Some(6));
    assert_eq!(all(&mut conn, &["c", "COUNT", "0"]), vec![2, 6, 7]);
    assert_eq!(all(&mut conn, &["c", "COUNT", "1"]), vec![2]);
    assert_eq!(all(&mut conn, &["c", "COUNT", "2"]), vec![2, 6]);
    assert_eq!(all(&mut conn, &["c", "COUNT", "100"]), vec![2, 6, 7]);
    assert_eq!(all(&mut conn, &["c", "COUNT", "0", "RANK", "2"]), vec![6, 7]);
    assert_eq!(all(&mut conn, &["c", "COUNT", "2", "RANK", "-1"]), vec![7, 6]);
    assert_eq!(all(&mut conn, &["x", "COUNT", "2", "RANK", "-1"]), Vec::<i64>::new());
    assert_eq!(pos(&mut conn, &["x", "RANK", "-1"]), None);
    assert_eq!(all(&mut conn, &["a", "COUNT", "0", "MAXLEN", "1"]), vec![0]);
    assert_eq!(all(&mut conn, &["c", "COUNT", "0", "MAXLEN", "1"]), Vec::<i64>::new());
    assert_eq!(all(&mut conn, &["c", "COUNT", "0", "MAXLEN", "3"]), vec![2]);
    assert_eq!(all(&mut conn, &["c", "COUNT", "0", "MAXLEN", "3", "RANK", "-1"]), vec![7, 6]);
    assert_eq!(all(&mut conn, &["c", "COUNT", "0", "MAXLEN", "7", "RANK", "2"]), vec![6]);
    assert_eq!(all(&mut conn, &["c", "COUNT", "10", "RANK", "5"]), Vec::<i64>::new());

    let mut raw = server.raw();
    assert_eq!(call(&mut raw, &["LPOS", "l", "c"]), ":2\r\n");
    assert_eq!(call(&mut raw, &["LPOS", "l", "zz"]), "$-1\r\n");
    assert_eq!(call(&mut raw, &["LPOS", "missing", "c"]), "$-1\r\n");
    assert_eq!(call(&mut raw, &["LPOS", "missing", "c", "COUNT", "0", "RANK", "2"]), "*0\r\n");
    assert_eq!(call(&mut raw, &["LPOS", "l", "c", "COUNT", "0"]), "*3\r\n:2\r\n:6\r\n:7\r\n");
    assert_eq!(
        call(&mut raw, &["LPOS", "l", "c", "RANK", "0"]),
        "-ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... \
         or use negative to start from the end of the list\r\n"
    );
    assert_eq!(
        call(&mut raw, &["LPOS", "l", "c", "RANK", "-9223372036854775808"]),
        "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n"
    );
    assert_eq!(call(&mut raw, &["LPOS", "l", "c", "RANK", "x"]), resp_err(NOT_INTEGER));
    assert_eq!(call(&mut raw, &["LPOS", "l", "c", "COUNT", "-1"]), "-ERR COUNT can't be negative\r\n");
    assert_eq!(call(&mut raw, &["LPOS", "l", "c", "COUNT", "x"]), "-ERR COUNT can't be negative\r\n");
    assert_eq!(call(&mut raw, &["LPOS", "l", "c", "MAXLEN", "-1"]), "-ERR MAXLEN can't be negative\r\n");
    assert_eq!(call(&mut raw, &["LPOS", "l", "c", "RANK"]), resp_err(SYNTAX));
    assert_eq!(call(&mut raw, &["LPOS", "l", "c", "FOO", "1"]), resp_err(SYNTAX));
    // Options are checked before the key.
    assert_eq!(call(&mut raw, &["LPOS", "missing", "c", "FOO", "1"]), resp_err(SYNTAX));
    assert_eq!(call(&mut raw, &["LPOS", "l"]), resp_err(&arity("lpos")));
}

#[test]
fn lmove_between_lists() {
    let server = Server::start();
    let mut conn = server.conn();
    assert_eq!(rpush(&mut conn, "src", &["a", "b", "c"]), 3);
    assert_eq!(rpush(&mut conn, "dst", &["x"]), 1);
    let lmove = |conn: &mut Connection, src: &str, dst: &str, from: &str, to: &str| -> Option<String> {
        redis::cmd("LMOVE").arg(src).arg(dst).arg(from).arg(to).query(conn).unwrap()
    };
    assert_eq!(lmove(&mut conn, "src", "dst", "LEFT", "RIGHT").as_deref(), Some("a"));
    assert_eq!(lmove(&mut conn, "src", "dst", "right", "left").as_deref(), Some("c"));
    assert_eq!(lrange(&mut conn, "src"), vec!["b"]);
    assert_eq!(lrange(&mut conn, "dst"), vec!["c", "x", "a"]);
    assert_eq!(lmove(&mut conn, "dst", "src", "LEFT", "LEFT").as_deref(), Some("c"));
    assert_eq!(lmove(&mut conn, "dst", "src", "RIGHT", "RIGHT").as_deref(), Some("a"));
    assert_eq!(lrange(&mut conn, "src"), vec!["c", "b", "a"]);
    assert_eq!(lrange(&mut conn, "dst"), vec!["x"]);
    // To a missing key: created. From a missing key: Null, nothing created.
    assert_eq!(lmove(&mut conn, "dst", "fresh", "LEFT", "LEFT").as_deref(), Some("x"));
    assert_eq!(lrange(&mut conn, "fresh"), vec!["x"]);
    assert_eq!(lmove(&mut conn, "missing", "fresh", "LEFT", "LEFT"), None);
    assert_eq!(lmove(&mut conn, "missing", "other", "LEFT", "LEFT"), None);

    let mut raw = server.raw();
    // Moving the last element deleted the source.
    assert_eq!(call(&mut raw, &["LLEN", "dst"]), ":0\r\n");
    assert_deleted(&mut raw, "dst");
    assert_eq!(call(&mut raw, &["LLEN", "other"]), ":0\r\n");
    assert_eq!(call(&mut raw, &["LMOVE", "src", "dst", "UP", "LEFT"]), resp_err(SYNTAX));
    assert_eq!(call(&mut raw, &["LMOVE", "src", "dst", "LEFT", "DOWN"]), resp_err(SYNTAX));
    assert_eq!(call(&mut raw, &["LMOVE", "missing", "dst", "UP", "LEFT"]), resp_err(SYNTAX));
    assert_eq!(call(&mut raw, &["LMOVE", "src", "dst", "LEFT"]), resp_err(&arity("lmove")));
    // A string destination: WRONGTYPE, and the source keeps its element.
    assert_eq!(call(&mut raw, &["SET", "s", "x"]), "+OK\r\n");
    assert_eq!(call(&mut raw, &["LMOVE", "src", "s", "LEFT", "LEFT"]), resp_err(WRONGTYPE));
    assert_eq!(call(&mut raw, &["LLEN", "src"]), ":3\r\n");
    // A missing source answers Null before the destination's type is looked at.
    assert_eq!(call(&mut raw, &["LMOVE", "missing", "s", "LEFT", "LEFT"]), "$-1\r\n");
}

#[test]
fn lmove_on_one_key_rotates() {
    let server = Server::start();
    let mut conn = server.conn();
    assert_eq!(rpush(&mut conn, "l", &["1", "2", "3"]), 3);
    let rot = |conn: &mut Connection, from: &str, to: &str| -> String {
        redis::cmd("LMOVE").arg("l").arg("l").arg(from).arg(to).query(conn).unwrap()
    };
    assert_eq!(rot(&mut conn, "LEFT", "RIGHT"), "1");
    assert_eq!(lrange(&mut conn, "l"), vec!["2", "3", "1"]);
    assert_eq!(rot(&mut conn, "RIGHT", "LEFT"), "1");
    assert_eq!(lrange(&mut conn, "l"), vec!["1", "2", "3"]);
    assert_eq!(rot(&mut conn, "RIGHT", "RIGHT"), "3");
    assert_eq!(rot(&mut conn, "LEFT", "LEFT"), "1");
    assert_eq!(lrange(&mut conn, "l"), vec!["1", "2", "3"]);
    // A one-element list rotates onto itself and stays.
    assert_eq!(rpush(&mut conn, "one", &["x"]), 1);
    let v: String = redis::cmd("LMOVE").arg("one").arg("one").arg("LEFT").arg("RIGHT").query(&mut conn).unwrap();
    assert_eq!(v, "x");
    assert_eq!(lrange(&mut conn, "one"), vec!["x"]);
}

#[test]
fn lists_inside_a_transaction() {
    let server = Server::start();
    let mut conn = server.conn();
    let (n, moved, items): (i64, String, Vec<String>) = redis::pipe()
        .atomic()
        .cmd("RPUSH")
        .arg("{t}a")
        .arg("x")
        .arg("y")
        .cmd("LMOVE")
        .arg("{t}a")
        .arg("{t}b")
        .arg("LEFT")
        .arg("LEFT")
        .cmd("LRANGE")
        .arg("{t}b")
        .arg(0)
        .arg(-1)
        .query(&mut conn)
        .unwrap();
    assert_eq!((n, moved.as_str(), items), (2, "x", vec!["x".to_owned()]));
}

#[test]
fn redis_cli_sees_lists() {
    let server = Server::start();
    assert_eq!(server.cli(&["RPUSH", "q", "job1", "job2", "job3"]), "3");
    assert_eq!(server.cli(&["LRANGE", "q", "0", "-1"]), "job1\njob2\njob3");
    assert_eq!(server.cli(&["LPOP", "q"]), "job1");
    assert_eq!(server.cli(&["RPOP", "q", "2"]), "job3\njob2");
    assert_eq!(server.cli(&["--no-raw", "LPOP", "q"]), "(nil)");
    assert_eq!(server.cli(&["--no-raw", "LPOP", "q", "0"]), "(nil)");
    assert_eq!(server.cli(&["--no-raw", "LRANGE", "q", "0", "-1"]), "(empty array)");
    assert_eq!(server.cli(&["--no-raw", "LINDEX", "q", "0"]), "(nil)");
}
