//! Sorted-set commands through a real node: the `redis` crate over RESP2
//! and RESP3, and `redis-cli`. Replies and error texts are Redis 7.2's.
//!
//! The RESP3 tests connect with `HELLO 3`, so they need HELLO on the node.

mod common;

use common::{
    arity, array, bulk, err, exists, int, run, strings, text, Server, NOT_FLOAT, NOT_INTEGER, SYNTAX, WRONGTYPE,
};
use redis::{Connection, Value};

const RANGE_NOT_FLOAT: &str = "ERR min or max is not a float";
const LEX_INVALID: &str = "ERR min or max not valid string range item";

/// z = a:1 b:2 c:3 d:4
fn abcd(c: &mut Connection) {
    assert_eq!(int(c, &["ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"]), 4);
}

#[test]
fn zadd_adds_updates_and_orders() {
    let server = Server::start();
    let mut c = server.conn();
    assert_eq!(int(&mut c, &["ZADD", "z", "2", "b", "1", "a", "2", "c"]), 3);
    assert_eq!(int(&mut c, &["ZADD", "z", "3", "a", "5", "new"]), 1, "updates are not counted without CH");
    assert_eq!(
        array(&mut c, &["ZRANGE", "z", "0", "-1", "WITHSCORES"]),
        strings(&["b", "2", "c", "2", "a", "3", "new", "5"])
    );
    assert_eq!(int(&mut c, &["ZCARD", "z"]), 4);
    // Equal scores order by member bytes; -0 is 0.
    assert_eq!(int(&mut c, &["ZADD", "e", "0", "b", "-0", "a", "0", "B"]), 3);
    assert_eq!(array(&mut c, &["ZRANGE", "e", "0", "-1", "WITHSCORES"]), strings(&["B", "0", "a", "0", "b", "0"]));
    // Scores in every accepted spelling.
    assert_eq!(int(&mut c, &["ZADD", "f", "-inf", "lo", "+inf", "hi", "1e3", "k", "1.5", "h", "-0.25", "n"]), 5);
    assert_eq!(
        array(&mut c, &["ZRANGE", "f", "0", "-1", "WITHSCORES"]),
        strings(&["lo", "-inf", "n", "-0.25", "h", "1.5", "k", "1000", "hi", "inf"])
    );
}

#[test]
fn zadd_options() {
    let server = Server::start();
    let mut c = server.conn();
    abcd(&mut c);
    // NX: only new members.
    assert_eq!(int(&mut c, &["ZADD", "z", "NX", "10", "a", "5", "e"]), 1);
    assert_eq!(run::<Value>(&mut c, &["ZSCORE", "z", "a"]), bulk("1"));
    // XX: only existing members, never creates.
    assert_eq!(int(&mut c, &["ZADD", "z", "XX", "10", "a", "6", "f"]), 0);
    assert_eq!(run::<Value>(&mut c, &["ZSCORE", "z", "a"]), bulk("10"));
    assert_eq!(run::<Value>(&mut c, &["ZSCORE", "z", "f"]), Value::Nil);
    assert_eq!(int(&mut c, &["ZADD", "fresh", "XX", "1", "a"]), 0);
    assert!(!exists(&mut c, "fresh"));
    // CH counts updates too.
    assert_eq!(int(&mut c, &["ZADD", "z", "CH", "11", "a", "2", "b", "7", "g"]), 2);
    // GT / LT: only moves in one direction; new members are still added.
    assert_eq!(int(&mut c, &["ZADD", "z", "GT", "CH", "1", "a", "20", "b", "8", "h"]), 2);
    assert_eq!(run::<Value>(&mut c, &["ZSCORE", "z", "a"]), bulk("11"));
    assert_eq!(run::<Value>(&mut c, &["ZSCORE", "z", "b"]), bulk("20"));
    assert_eq!(int(&mut c, &["ZADD", "z", "lt", "ch", "1", "a", "30", "b"]), 1);
    assert_eq!(run::<Value>(&mut c, &["ZSCORE", "z", "a"]), bulk("1"));
    assert_eq!(run::<Value>(&mut c, &["ZSCORE", "z", "b"]), bulk("20"));
    assert_eq!(int(&mut c, &["ZADD", "z", "XX", "GT", "CH", "50", "a", "1", "zz"]), 1);
    assert_eq!(run::<Value>(&mut c, &["ZSCORE", "z", "zz"]), Value::Nil);
}

#[test]
fn zadd_incr_and_zincrby() {
    let server = Server::start();
    let mut c = server.conn();
    // RESP2: the new score as a bulk string.
    assert_eq!(run::<Value>(&mut c, &["ZADD", "z", "INCR", "1.5", "a"]), bulk("1.5"));
    assert_eq!(run::<Value>(&mut c, &["ZADD", "z", "INCR", "1", "a"]), bulk("2.5"));
    assert_eq!(run::<Value>(&mut c, &["ZINCRBY", "z", "-0.5", "a"]), bulk("2"));
    assert_eq!(run::<Value>(&mut c, &["ZINCRBY", "z", "3", "new"]), bulk("3"));
    assert_eq!(
        run::<Value>(&mut c, &["ZADD", "z", "INCR", "0", "a"]),
        bulk("2"),
        "a zero increment is still an answer"
    );
    // Blocked by NX / XX / GT / LT: nil, and nothing changes.
    assert_eq!(run::<Value>(&mut c, &["ZADD", "z", "NX", "INCR", "1", "a"]), Value::Nil);
    assert_eq!(run::<Value>(&mut c, &["ZADD", "z", "XX", "INCR", "1", "nope"]), Value::Nil);
    assert_eq!(run::<Value>(&mut c, &["ZADD", "z", "GT", "INCR", "-1", "a"]), Value::Nil);
    assert_eq!(run::<Value>(&mut c, &["ZADD", "z", "LT", "INCR", "1", "a"]), Value::Nil);
    assert_eq!(run::<Value>(&mut c, &["ZADD", "z", "LT", "INCR", "-1", "a"]), bulk("1"));
    assert_eq!(run::<Value>(&mut c, &["ZADD", "missing", "XX", "INCR", "1", "a"]), Value::Nil);
    assert!(!exists(&mut c, "missing"));
    assert_eq!(run::<Value>(&mut c, &["ZSCORE", "z", "a"]), bulk("1"));
    assert_eq!(run::<Value>(&mut c, &["ZSCORE", "z", "nope"]), Value::Nil);
    // inf + -inf is NaN: refused, the score stays.
    assert_eq!(run::<Value>(&mut c, &["ZINCRBY", "z", "+inf", "a"]), bulk("inf"));
    assert_eq!(err(&mut c, &["ZINCRBY", "z", "-inf", "a"]), "ERR resulting score is not a number (NaN)");
    assert_eq!(err(&mut c, &["ZADD", "z", "INCR", "-inf", "a"]), "ERR resulting score is not a number (NaN)");
    assert_eq!(run::<Value>(&mut c, &["ZSCORE", "z", "a"]), bulk("inf"));
    // ZINCRBY parses like ZADD INCR: an option word in its place is an option.
    assert_eq!(err(&mut c, &["ZINCRBY", "z", "NX", "a"]), SYNTAX);
    assert_eq!(err(&mut c, &["ZINCRBY", "z", "x", "a"]), NOT_FLOAT);
}

#[test]
fn zadd_errors() {
    let server = Server::start();
    let mut c = server.conn();
    abcd(&mut c);
    let cases: &[(&[&str], &str)] = &[
        (&["ZADD", "z", "1", "a", "2"], SYNTAX),
        (&["ZADD", "z", "NX", "CH"], SYNTAX),
        (&["ZADD", "z", "NX", "XX", "CH"], SYNTAX),
        (&["ZADD", "z", "NX", "XX", "1", "a"], "ERR XX and NX options at the same time are not compatible"),
        (&["ZADD", "z", "NX", "GT", "1", "a"], "ERR GT, LT, and/or NX options at the same time are not compatible"),
        (&["ZADD", "z", "LT", "NX", "1", "a"], "ERR GT, LT, and/or NX options at the same time are not compatible"),
        (&["ZADD", "z", "GT", "LT", "1", "a"], "ERR GT, LT, and/or NX options at the same time are not compatible"),
        (&["ZADD", "z", "INCR", "1", "a", "2", "b"], "ERR INCR option supports a single increment-element pair"),
        (&["ZADD", "z", "x", "a"], NOT_FLOAT),
        (&["ZADD", "z", "1", "a", "x", "b"], NOT_FLOAT),
        (&["ZADD", "z", "nan", "a"], NOT_FLOAT),
        (&["ZADD", "z", "1e400", "a"], NOT_FLOAT),
        (&["ZADD", "z", "", "a"], NOT_FLOAT),
        (&["ZADD", "z", " 1", "a"], NOT_FLOAT),
        (&["ZADD", "z", "(1", "a"], NOT_FLOAT),
        (&["ZINCRBY", "z", "1e400", "a"], NOT_FLOAT),
    ];
    for (args, want) in cases {
        assert_eq!(err(&mut c, args), *want, "{args:?}");
    }
    // A bad score anywhere means nothing is added.
    assert_eq!(run::<Value>(&mut c, &["ZSCORE", "z", "b"]), bulk("2"));
    assert_eq!(int(&mut c, &["ZCARD", "z"]), 4);
}

#[test]
fn every_zset_command_refuses_other_types() {
    let server = Server::start();
    let mut c = server.conn();
    run::<Value>(&mut c, &["SET", "str", "x"]);
    let cases: &[&[&str]] = &[
        &["ZADD", "str", "1", "a"],
        &["ZADD", "str", "XX", "1", "a"],
        &["ZINCRBY", "str", "1", "a"],
        &["ZREM", "str", "a"],
        &["ZSCORE", "str", "a"],
        &["ZMSCORE", "str", "a"],
        &["ZCARD", "str"],
        &["ZCOUNT", "str", "0", "1"],
        &["ZRANGE", "str", "0", "1"],
        &["ZRANGE", "str", "0", "1", "BYSCORE"],
        &["ZRANGE", "str", "-", "+", "BYLEX"],
        &["ZRANGEBYSCORE", "str", "0", "1"],
        &["ZREVRANGE", "str", "0", "1"],
        &["ZREVRANGEBYSCORE", "str", "1", "0"],
        &["ZRANK", "str", "a"],
        &["ZRANK", "str", "a", "WITHSCORE"],
        &["ZREVRANK", "str", "a"],
        &["ZPOPMIN", "str"],
        &["ZPOPMAX", "str", "0"],
        &["ZREMRANGEBYRANK", "str", "0", "1"],
        &["ZREMRANGEBYSCORE", "str", "0", "1"],
        &["ZSCAN", "str", "0"],
    ];
    for args in cases {
        assert_eq!(err(&mut c, args), WRONGTYPE, "{args:?}");
    }
    run::<Value>(&mut c, &["SADD", "set", "a"]);
    assert_eq!(err(&mut c, &["ZCARD", "set"]), WRONGTYPE);
    assert_eq!(run::<Value>(&mut c, &["GET", "str"]), bulk("x"));
}

#[test]
fn wrong_arity_is_refused_with_the_command_name() {
    let server = Server::start();
    let mut c = server.conn();
    let cases: &[&[&str]] = &[
        &["ZADD", "z", "1"],
        &["ZINCRBY", "z", "1"],
        &["ZINCRBY", "z", "1", "a", "b"],
        &["ZREM", "z"],
        &["ZSCORE", "z"],
        &["ZMSCORE", "z"],
        &["ZCARD"],
        &["ZCOUNT", "z", "0"],
        &["ZRANGE", "z", "0"],
        &["ZRANGEBYSCORE", "z", "0"],
        &["ZREVRANGE", "z", "0"],
        &["ZREVRANGEBYSCORE", "z", "0"],
        &["ZRANK", "z"],
        &["ZRANK", "z", "a", "WITHSCORE", "x"],
        &["ZREVRANK", "z"],
        &["ZREVRANK", "z", "a", "WITHSCORE", "x"],
        &["ZPOPMIN"],
        &["ZPOPMAX"],
        &["ZREMRANGEBYRANK", "z", "0"],
        &["ZREMRANGEBYSCORE", "z", "0", "1", "2"],
        &["ZSCAN", "z"],
    ];
    for args in cases {
        let name = args[0].to_ascii_lowercase();
        assert_eq!(err(&mut c, args), arity(&name), "{args:?}");
    }
}

#[test]
fn zrem_zscore_zmscore_zcard() {
    let server = Server::start();
    let mut c = server.conn();
    abcd(&mut c);
    assert_eq!(run::<Value>(&mut c, &["ZSCORE", "z", "c"]), bulk("3"));
    assert_eq!(run::<Value>(&mut c, &["ZSCORE", "z", "zz"]), Value::Nil);
    assert_eq!(run::<Value>(&mut c, &["ZSCORE", "missing", "a"]), Value::Nil);
    assert_eq!(
        run::<Value>(&mut c, &["ZMSCORE", "z", "a", "zz", "d"]),
        Value::Array(vec![bulk("1"), Value::Nil, bulk("4")])
    );
    assert_eq!(run::<Value>(&mut c, &["ZMSCORE", "missing", "a", "b"]), Value::Array(vec![Value::Nil, Value::Nil]));
    assert_eq!(int(&mut c, &["ZREM", "z", "a", "zz", "a"]), 1);
    assert_eq!(int(&mut c, &["ZREM", "missing", "a"]), 0);
    assert_eq!(int(&mut c, &["ZCARD", "z"]), 3);
    assert_eq!(int(&mut c, &["ZCARD", "missing"]), 0);
    assert_eq!(int(&mut c, &["ZREM", "z", "b", "c", "d"]), 3);
    assert!(!exists(&mut c, "z"), "the last member took the key with it");
}

#[test]
fn zcount_ranges() {
    let server = Server::start();
    let mut c = server.conn();
    abcd(&mut c);
    run::<Value>(&mut c, &["ZADD", "z", "-inf", "lo", "+inf", "hi"]);
    let cases: &[(&str, &str, i64)] = &[
        ("-inf", "+inf", 6),
        ("(-inf", "(+inf", 4),
        ("1", "4", 4),
        ("(1", "4", 3),
        ("(1", "(4", 2),
        ("2", "2", 1),
        ("(2", "2", 0),
        ("4", "1", 0),
        ("2.5", "3.5", 1),
        ("inf", "inf", 1),
        ("-INF", "1", 2),
        // As in Redis (strtod): an empty number is 0, leading spaces are
        // skipped, out-of-range values saturate.
        ("(", "1", 1),
        ("", "", 0),
        (" 2", "2", 1),
        ("1e400", "+inf", 1),
    ];
    for (min, max, n) in cases {
        assert_eq!(int(&mut c, &["ZCOUNT", "z", min, max]), *n, "ZCOUNT {min} {max}");
    }
    assert_eq!(int(&mut c, &["ZCOUNT", "missing", "0", "1"]), 0);
    for (min, max) in [("x", "1"), ("1", "x"), ("[1", "2"), ("1 ", "2"), ("nan", "1"), ("((1", "2")] {
        assert_eq!(err(&mut c, &["ZCOUNT", "z", min, max]), RANGE_NOT_FLOAT, "{min} {max}");
    }
    assert_eq!(err(&mut c, &["ZCOUNT", "missing", "x", "1"]), RANGE_NOT_FLOAT, "checked before the key");
}

#[test]
fn zrange_by_rank() {
    let server = Server::start();
    let mut c = server.conn();
    abcd(&mut c);
    let cases: &[(&[&str], &[&str])] = &[
        (&["0", "-1"], &["a", "b", "c", "d"]),
        (&["1", "2"], &["b", "c"]),
        (&["-2", "-1"], &["c", "d"]),
        (&["-100", "100"], &["a", "b", "c", "d"]),
        (&["2", "1"], &[]),
        (&["4", "10"], &[]),
        (&["0", "0"], &["a"]),
        (&["0", "-1", "REV"], &["d", "c", "b", "a"]),
        (&["1", "2", "rev"], &["c", "b"]),
        (&["0", "1", "WITHSCORES"], &["a", "1", "b", "2"]),
        (&["0", "0", "REV", "WITHSCORES"], &["d", "4"]),
        // Redis only refuses LIMIT with a rank range when it limits.
        (&["0", "-1", "LIMIT", "0", "-1"], &["a", "b", "c", "d"]),
    ];
    for (range, want) in cases {
        let mut args = vec!["ZRANGE", "z"];
        args.extend_from_slice(range);
        assert_eq!(array(&mut c, &args), strings(want), "{args:?}");
    }
    assert_eq!(array(&mut c, &["ZREVRANGE", "z", "0", "1", "WITHSCORES"]), strings(&["d", "4", "c", "3"]));
    assert_eq!(array(&mut c, &["ZREVRANGE", "z", "-1", "-1"]), strings(&["a"]));
    assert_eq!(run::<Value>(&mut c, &["ZRANGE", "missing", "0", "-1"]), Value::Array(vec![]));
    assert_eq!(err(&mut c, &["ZRANGE", "z", "a", "1"]), NOT_INTEGER);
    assert_eq!(err(&mut c, &["ZRANGE", "z", "0", "1.5"]), NOT_INTEGER);
    assert_eq!(err(&mut c, &["ZREVRANGE", "z", "0", "x"]), NOT_INTEGER);
}

#[test]
fn zrange_by_score() {
    let server = Server::start();
    let mut c = server.conn();
    abcd(&mut c);
    let cases: &[(&[&str], &[&str])] = &[
        (&["ZRANGE", "z", "-inf", "+inf", "BYSCORE"], &["a", "b", "c", "d"]),
        (&["ZRANGE", "z", "(1", "3", "BYSCORE", "WITHSCORES"], &["b", "2", "c", "3"]),
        (&["ZRANGE", "z", "3", "(1", "BYSCORE", "REV"], &["c", "b"]),
        (&["ZRANGE", "z", "(1", "3", "BYSCORE", "REV"], &[]),
        (&["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "1", "2"], &["b", "c"]),
        (&["ZRANGE", "z", "+inf", "-inf", "BYSCORE", "REV", "LIMIT", "1", "2", "WITHSCORES"], &["c", "3", "b", "2"]),
        (&["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "-1", "2"], &[]),
        (&["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "1", "-5"], &["b", "c", "d"]),
        (&["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "1", "0"], &[]),
        (&["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "10", "1"], &[]),
        (&["ZRANGEBYSCORE", "z", "2", "3"], &["b", "c"]),
        (&["ZRANGEBYSCORE", "z", "-inf", "+inf", "WITHSCORES", "LIMIT", "1", "1"], &["b", "2"]),
        (&["ZRANGEBYSCORE", "z", "(1", "(4"], &["b", "c"]),
        (&["ZRANGEBYSCORE", "z", "4", "1"], &[]),
        (&["ZREVRANGEBYSCORE", "z", "+inf", "-inf", "WITHSCORES"], &["d", "4", "c", "3", "b", "2", "a", "1"]),
        (&["ZREVRANGEBYSCORE", "z", "3", "(1"], &["c", "b"]),
        (&["ZREVRANGEBYSCORE", "z", "3", "(1", "LIMIT", "0", "1"], &["c"]),
        (&["ZREVRANGEBYSCORE", "z", "1", "3"], &[]),
    ];
    for (args, want) in cases {
        assert_eq!(array(&mut c, args), strings(want), "{args:?}");
    }
    assert_eq!(run::<Value>(&mut c, &["ZRANGEBYSCORE", "missing", "0", "1"]), Value::Array(vec![]));
    assert_eq!(err(&mut c, &["ZRANGEBYSCORE", "z", "x", "1"]), RANGE_NOT_FLOAT);
    assert_eq!(err(&mut c, &["ZRANGE", "z", "0", "x", "BYSCORE"]), RANGE_NOT_FLOAT);
    assert_eq!(err(&mut c, &["ZREVRANGEBYSCORE", "z", "(", "nan"]), RANGE_NOT_FLOAT);
    assert_eq!(err(&mut c, &["ZRANGEBYSCORE", "z", "0", "1", "LIMIT", "x", "1"]), NOT_INTEGER);
}

#[test]
fn zrange_by_lex() {
    let server = Server::start();
    let mut c = server.conn();
    run::<Value>(&mut c, &["ZADD", "l", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e"]);
    let cases: &[(&[&str], &[&str])] = &[
        (&["-", "+"], &["a", "b", "c", "d", "e"]),
        (&["[b", "(d"], &["b", "c"]),
        (&["(b", "[d"], &["c", "d"]),
        (&["[bb", "+"], &["c", "d", "e"]),
        (&["[c", "[c"], &["c"]),
        (&["[c", "(c"], &[]),
        (&["[d", "[b"], &[]),
        (&["+", "-"], &[]),
        (&["-", "-"], &[]),
        (&["+", "+"], &[]),
        (&["+", "-", "REV"], &["e", "d", "c", "b", "a"]),
        (&["[d", "[b", "REV"], &["d", "c", "b"]),
        (&["[d", "[b", "REV", "LIMIT", "1", "1"], &["c"]),
        (&["-", "+", "LIMIT", "2", "10"], &["c", "d", "e"]),
        (&["-", "+", "LIMIT", "-1", "10"], &[]),
    ];
    for (range, want) in cases {
        let mut args = vec!["ZRANGE", "l"];
        args.extend_from_slice(range);
        args.push("BYLEX");
        assert_eq!(array(&mut c, &args), strings(want), "{args:?}");
    }
    for (min, max) in [("a", "+"), ("-", "c"), ("-a", "+"), ("", "+"), ("[a", "++")] {
        assert_eq!(err(&mut c, &["ZRANGE", "l", min, max, "BYLEX"]), LEX_INVALID, "{min} {max}");
    }
    assert_eq!(run::<Value>(&mut c, &["ZRANGE", "missing", "-", "+", "BYLEX"]), Value::Array(vec![]));
}

#[test]
fn zrange_option_errors() {
    let server = Server::start();
    let mut c = server.conn();
    abcd(&mut c);
    let cases: &[(&[&str], &str)] = &[
        (
            &["ZRANGE", "z", "0", "-1", "LIMIT", "0", "1"],
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ),
        (
            &["ZRANGE", "z", "-", "+", "BYLEX", "WITHSCORES"],
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ),
        (&["ZRANGE", "z", "0", "-1", "REV", "REV"], SYNTAX),
        (&["ZRANGE", "z", "0", "-1", "BYSCORE", "BYSCORE"], SYNTAX),
        (&["ZRANGE", "z", "0", "-1", "BYSCORE", "BYLEX"], SYNTAX),
        (&["ZRANGE", "z", "0", "-1", "BYSCORE", "LIMIT", "0"], SYNTAX),
        (&["ZRANGE", "z", "0", "-1", "FOO"], SYNTAX),
        (&["ZRANGEBYSCORE", "z", "0", "1", "BYSCORE"], SYNTAX),
        (&["ZRANGEBYSCORE", "z", "0", "1", "REV"], SYNTAX),
        (&["ZREVRANGE", "z", "0", "1", "REV"], SYNTAX),
        (&["ZREVRANGE", "z", "0", "1", "BYSCORE"], SYNTAX),
        (
            &["ZREVRANGE", "z", "0", "1", "LIMIT", "0", "1"],
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ),
        (&["ZREVRANGEBYSCORE", "z", "1", "0", "REV"], SYNTAX),
        // Options are checked before the range and the key.
        (&["ZRANGE", "missing", "x", "y", "FOO"], SYNTAX),
    ];
    for (args, want) in cases {
        assert_eq!(err(&mut c, args), *want, "{args:?}");
    }
}

#[test]
fn zrank_and_zrevrank() {
    let server = Server::start();
    let mut c = server.conn();
    abcd(&mut c);
    assert_eq!(int(&mut c, &["ZRANK", "z", "a"]), 0);
    assert_eq!(int(&mut c, &["ZRANK", "z", "d"]), 3);
    assert_eq!(int(&mut c, &["ZREVRANK", "z", "a"]), 3);
    assert_eq!(int(&mut c, &["ZREVRANK", "z", "d"]), 0);
    assert_eq!(run::<Value>(&mut c, &["ZRANK", "z", "zz"]), Value::Nil);
    assert_eq!(run::<Value>(&mut c, &["ZRANK", "missing", "a"]), Value::Nil);
    // Redis 7.2's WITHSCORE.
    assert_eq!(run::<Value>(&mut c, &["ZRANK", "z", "c", "WITHSCORE"]), Value::Array(vec![Value::Int(2), bulk("3")]));
    assert_eq!(
        run::<Value>(&mut c, &["ZREVRANK", "z", "c", "withscore"]),
        Value::Array(vec![Value::Int(1), bulk("3")])
    );
    assert_eq!(run::<Value>(&mut c, &["ZRANK", "z", "zz", "WITHSCORE"]), Value::Nil);
    assert_eq!(run::<Value>(&mut c, &["ZREVRANK", "missing", "a", "WITHSCORE"]), Value::Nil);
    assert_eq!(err(&mut c, &["ZRANK", "z", "a", "WITHSCORES"]), SYNTAX);
    assert_eq!(err(&mut c, &["ZREVRANK", "z", "a", "foo"]), SYNTAX);
    // Ties rank by member.
    run::<Value>(&mut c, &["ZADD", "t", "1", "b", "1", "a", "1", "c"]);
    assert_eq!(int(&mut c, &["ZRANK", "t", "c"]), 2);
    assert_eq!(int(&mut c, &["ZREVRANK", "t", "c"]), 0);
}

#[test]
fn zpopmin_and_zpopmax() {
    let server = Server::start();
    let mut c = server.conn();
    abcd(&mut c);
    run::<Value>(&mut c, &["ZADD", "z", "5", "e"]);
    assert_eq!(array(&mut c, &["ZPOPMIN", "z"]), strings(&["a", "1"]));
    assert_eq!(array(&mut c, &["ZPOPMAX", "z"]), strings(&["e", "5"]));
    assert_eq!(array(&mut c, &["ZPOPMIN", "z", "2"]), strings(&["b", "2", "c", "3"]));
    assert_eq!(run::<Value>(&mut c, &["ZPOPMIN", "z", "0"]), Value::Array(vec![]));
    assert_eq!(int(&mut c, &["ZCARD", "z"]), 1);
    assert_eq!(array(&mut c, &["ZPOPMAX", "z", "10"]), strings(&["d", "4"]));
    assert!(!exists(&mut c, "z"));
    assert_eq!(run::<Value>(&mut c, &["ZPOPMIN", "z"]), Value::Array(vec![]));
    assert_eq!(run::<Value>(&mut c, &["ZPOPMAX", "z", "3"]), Value::Array(vec![]));
    abcd(&mut c);
    assert_eq!(array(&mut c, &["ZPOPMAX", "z", "2"]), strings(&["d", "4", "c", "3"]));
    for bad in ["-1", "x"] {
        assert_eq!(err(&mut c, &["ZPOPMIN", "z", bad]), "ERR value is out of range, must be positive", "{bad}");
    }
    assert_eq!(err(&mut c, &["ZPOPMAX", "z", "1", "2"]), SYNTAX);
    assert_eq!(int(&mut c, &["ZCARD", "z"]), 2);
}

#[test]
fn zremrangebyrank_and_zremrangebyscore() {
    let server = Server::start();
    let mut c = server.conn();
    run::<Value>(&mut c, &["ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e", "6", "f"]);
    assert_eq!(int(&mut c, &["ZREMRANGEBYRANK", "z", "0", "0"]), 1);
    assert_eq!(int(&mut c, &["ZREMRANGEBYRANK", "z", "-1", "-1"]), 1);
    assert_eq!(int(&mut c, &["ZREMRANGEBYRANK", "z", "10", "20"]), 0);
    assert_eq!(int(&mut c, &["ZREMRANGEBYRANK", "z", "2", "1"]), 0);
    assert_eq!(array(&mut c, &["ZRANGE", "z", "0", "-1"]), strings(&["b", "c", "d", "e"]));
    assert_eq!(int(&mut c, &["ZREMRANGEBYSCORE", "z", "(2", "3"]), 1);
    assert_eq!(int(&mut c, &["ZREMRANGEBYSCORE", "z", "10", "1"]), 0);
    assert_eq!(array(&mut c, &["ZRANGE", "z", "0", "-1"]), strings(&["b", "d", "e"]));
    assert_eq!(int(&mut c, &["ZREMRANGEBYSCORE", "z", "-inf", "(5"]), 2);
    assert_eq!(int(&mut c, &["ZREMRANGEBYRANK", "z", "0", "-1"]), 1);
    assert!(!exists(&mut c, "z"));
    assert_eq!(int(&mut c, &["ZREMRANGEBYRANK", "missing", "0", "-1"]), 0);
    assert_eq!(int(&mut c, &["ZREMRANGEBYSCORE", "missing", "-inf", "+inf"]), 0);
    assert_eq!(err(&mut c, &["ZREMRANGEBYRANK", "z", "x", "1"]), NOT_INTEGER);
    assert_eq!(err(&mut c, &["ZREMRANGEBYSCORE", "z", "x", "1"]), RANGE_NOT_FLOAT);
    assert_eq!(err(&mut c, &["ZREMRANGEBYSCORE", "z", "0", "(x"]), RANGE_NOT_FLOAT);
}

#[test]
fn zscan_walks_members_with_scores() {
    let server = Server::start();
    let mut c = server.conn();
    let mut args = vec!["ZADD".to_string(), "z".to_string()];
    for i in 0..30 {
        args.push(format!("{i}.5"));
        args.push(format!("m{i}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(int(&mut c, &args), 30);
    let mut cursor = "0".to_string();
    let mut pairs = Vec::new();
    let mut rounds = 0;
    loop {
        let Value::Array(reply) = run::<Value>(&mut c, &["ZSCAN", "z", &cursor, "COUNT", "4"]) else { panic!("array") };
        cursor = text(&reply[0]);
        let Value::Array(items) = &reply[1] else { panic!("items") };
        assert_eq!(items.len() % 2, 0);
        for p in items.chunks(2) {
            pairs.push((text(&p[0]), text(&p[1])));
        }
        rounds += 1;
        assert!(rounds < 100);
        if cursor == "0" {
            break;
        }
    }
    pairs.sort();
    pairs.dedup();
    assert_eq!(pairs.len(), 30);
    assert!(pairs.contains(&("m7".to_string(), "7.5".to_string())));
    assert!(rounds >= 8);
    let Value::Array(reply) = run::<Value>(&mut c, &["ZSCAN", "z", "0", "MATCH", "m2*", "COUNT", "100"]) else {
        panic!("array")
    };
    assert_eq!(text(&reply[0]), "0");
    let Value::Array(items) = &reply[1] else { panic!("items") };
    assert_eq!(items.len(), 2 * 11, "m2 and m20..m29");
    assert_eq!(run::<Value>(&mut c, &["ZSCAN", "missing", "0"]), Value::Array(vec![bulk("0"), Value::Array(vec![])]));
    assert_eq!(err(&mut c, &["ZSCAN", "z", "x"]), "ERR invalid cursor");
    assert_eq!(err(&mut c, &["ZSCAN", "z", "0", "COUNT", "0"]), SYNTAX);
    assert_eq!(err(&mut c, &["ZSCAN", "z", "0", "COUNT", "x"]), NOT_INTEGER);
    assert_eq!(err(&mut c, &["ZSCAN", "z", "0", "MATCH"]), SYNTAX);
    assert_eq!(err(&mut c, &["ZSCAN", "z", "0", "NOSCORES"]), SYNTAX);
}

#[test]
fn ranks_and_ranges_stay_right_across_a_thousand_members() {
    // Enough members to span many internal chunks.
    let server = Server::start();
    let mut c = server.conn();
    let n = 1000;
    let mut args = vec!["ZADD".to_string(), "z".to_string()];
    // Scores i / 2 (ties broken by member), members in a shuffled-ish order.
    for j in 0..n {
        let i = (j * 7919) % n;
        args.push((i / 2).to_string());
        args.push(format!("m{i:04}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(int(&mut c, &args), n as i64);
    for i in [0, 1, 255, 256, 257, 511, 512, 998, 999] {
        let m = format!("m{i:04}");
        assert_eq!(int(&mut c, &["ZRANK", "z", &m]), i as i64, "{m}");
        assert_eq!(int(&mut c, &["ZREVRANK", "z", &m]), (n - 1 - i) as i64, "{m}");
    }
    assert_eq!(array(&mut c, &["ZRANGE", "z", "500", "502"]), strings(&["m0500", "m0501", "m0502"]));
    assert_eq!(array(&mut c, &["ZREVRANGE", "z", "0", "1", "WITHSCORES"]), strings(&["m0999", "499", "m0998", "499"]));
    assert_eq!(int(&mut c, &["ZCOUNT", "z", "100", "(200"]), 200);
    assert_eq!(
        array(&mut c, &["ZRANGEBYSCORE", "z", "(300", "+inf", "LIMIT", "0", "3"]),
        strings(&["m0602", "m0603", "m0604"])
    );
    assert_eq!(int(&mut c, &["ZREMRANGEBYRANK", "z", "100", "899"]), 800);
    assert_eq!(int(&mut c, &["ZRANK", "z", "m0900"]), 100);
    assert_eq!(array(&mut c, &["ZRANGE", "z", "99", "100"]), strings(&["m0099", "m0900"]));
    assert_eq!(int(&mut c, &["ZREMRANGEBYSCORE", "z", "-inf", "(450"]), 100);
    assert_eq!(int(&mut c, &["ZCARD", "z"]), 100);
    assert_eq!(array(&mut c, &["ZPOPMIN", "z"]), strings(&["m0900", "450"]));
}

#[test]
fn zset_commands_inside_multi() {
    let server = Server::start();
    let mut c = server.conn();
    let reply: Vec<Value> = redis::pipe()
        .atomic()
        .cmd("ZADD")
        .arg("z")
        .arg("1")
        .arg("a")
        .arg("2")
        .arg("b")
        .cmd("ZINCRBY")
        .arg("z")
        .arg("5")
        .arg("a")
        .cmd("ZRANGE")
        .arg("z")
        .arg("0")
        .arg("-1")
        .cmd("ZPOPMIN")
        .arg("z")
        .query(&mut c)
        .unwrap();
    assert_eq!(
        reply,
        vec![
            Value::Int(2),
            bulk("6"),
            Value::Array(vec![bulk("b"), bulk("a")]),
            Value::Array(vec![bulk("b"), bulk("2")]),
        ]
    );
}

#[test]
fn redis_cli_sees_sorted_sets() {
    let server = Server::start();
    assert_eq!(server.cli(&["ZADD", "z", "1.5", "a", "2", "b"]), "2");
    assert_eq!(server.cli(&["ZRANGE", "z", "0", "-1", "WITHSCORES"]), "a\n1.5\nb\n2");
    assert_eq!(server.cli(&["ZSCORE", "z", "a"]), "1.5");
    assert_eq!(server.cli(&["ZRANK", "z", "b"]), "1");
    let out = server.cli(&["ZADD", "z", "NX", "XX", "1", "a"]);
    assert!(out.contains("ERR XX and NX options at the same time are not compatible"), "{out}");
}

// ------------------------------------------------------------- RESP3

#[test]
fn resp3_scores_are_doubles() {
    let server = Server::start();
    let mut c = server.conn_resp3();
    abcd(&mut c);
    assert_eq!(run::<Value>(&mut c, &["ZSCORE", "z", "b"]), Value::Double(2.0));
    assert_eq!(run::<Value>(&mut c, &["ZSCORE", "z", "zz"]), Value::Nil);
    assert_eq!(run::<Value>(&mut c, &["ZINCRBY", "z", "0.5", "b"]), Value::Double(2.5));
    assert_eq!(run::<Value>(&mut c, &["ZADD", "z", "INCR", "0.5", "b"]), Value::Double(3.0));
    assert_eq!(run::<Value>(&mut c, &["ZADD", "z", "NX", "INCR", "1", "b"]), Value::Nil);
    assert_eq!(run::<Value>(&mut c, &["ZMSCORE", "z", "a", "zz"]), Value::Array(vec![Value::Double(1.0), Value::Nil]));
    assert_eq!(run::<Value>(&mut c, &["ZADD", "inf", "+inf", "m"]), Value::Int(1));
    assert_eq!(run::<Value>(&mut c, &["ZSCORE", "inf", "m"]), Value::Double(f64::INFINITY));
    assert_eq!(
        run::<Value>(&mut c, &["ZRANK", "z", "a", "WITHSCORE"]),
        Value::Array(vec![Value::Int(0), Value::Double(1.0)])
    );
    assert_eq!(run::<Value>(&mut c, &["ZRANK", "z", "zz", "WITHSCORE"]), Value::Nil);
    assert_eq!(run::<Value>(&mut c, &["ZRANK", "z", "zz"]), Value::Nil);
}

#[test]
fn resp3_withscores_are_pairs() {
    let server = Server::start();
    let mut c = server.conn_resp3();
    abcd(&mut c);
    let pair = |m: &str, s: f64| Value::Array(vec![bulk(m), Value::Double(s)]);
    assert_eq!(
        run::<Value>(&mut c, &["ZRANGE", "z", "0", "1", "WITHSCORES"]),
        Value::Array(vec![pair("a", 1.0), pair("b", 2.0)])
    );
    assert_eq!(
        run::<Value>(&mut c, &["ZRANGE", "z", "+inf", "(2", "BYSCORE", "REV", "WITHSCORES"]),
        Value::Array(vec![pair("d", 4.0), pair("c", 3.0)])
    );
    assert_eq!(
        run::<Value>(&mut c, &["ZRANGEBYSCORE", "z", "-inf", "+inf", "WITHSCORES", "LIMIT", "3", "5"]),
        Value::Array(vec![pair("d", 4.0)])
    );
    assert_eq!(run::<Value>(&mut c, &["ZREVRANGE", "z", "0", "0", "WITHSCORES"]), Value::Array(vec![pair("d", 4.0)]));
    assert_eq!(
        run::<Value>(&mut c, &["ZREVRANGEBYSCORE", "z", "1", "1", "WITHSCORES"]),
        Value::Array(vec![pair("a", 1.0)])
    );
    // Without scores: members only.
    assert_eq!(run::<Value>(&mut c, &["ZRANGE", "z", "0", "1"]), Value::Array(vec![bulk("a"), bulk("b")]));
    // ZPOPMIN/ZPOPMAX: pairs with a count, one flat pair without.
    assert_eq!(run::<Value>(&mut c, &["ZPOPMIN", "z"]), Value::Array(vec![bulk("a"), Value::Double(1.0)]));
    assert_eq!(run::<Value>(&mut c, &["ZPOPMAX", "z", "1"]), Value::Array(vec![pair("d", 4.0)]));
    assert_eq!(run::<Value>(&mut c, &["ZPOPMIN", "z", "5"]), Value::Array(vec![pair("b", 2.0), pair("c", 3.0)]));
    assert_eq!(run::<Value>(&mut c, &["ZPOPMIN", "z", "5"]), Value::Array(vec![]));
}

#[test]
fn resp3_zscan_scores_stay_bulk_strings() {
    let server = Server::start();
    let mut c = server.conn_resp3();
    run::<Value>(&mut c, &["ZADD", "z", "1.5", "a"]);
    assert_eq!(
        run::<Value>(&mut c, &["ZSCAN", "z", "0"]),
        Value::Array(vec![bulk("0"), Value::Array(vec![bulk("a"), bulk("1.5")])])
    );
}
