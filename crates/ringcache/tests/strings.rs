//! String commands through a real node: the `redis` crate, `redis-cli` and
//! raw RESP bytes. Expected replies and error texts are Redis 7.2's.
//!
//! WRONGTYPE paths need keys of other types, which no command of this
//! family creates; they are covered by the handler tests in
//! `crates/server/src/cmd/strings.rs`.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::{call, err, run, Server, NOT_FLOAT, NOT_INTEGER, SYNTAX};
use redis::{Connection, Value};

fn get(conn: &mut Connection, key: &str) -> Option<String> {
    run(conn, &["GET", key])
}

#[test]
fn setnx_sets_only_a_missing_key() {
    let server = Server::start();
    let mut c = server.conn();
    assert_eq!(run::<i64>(&mut c, &["SETNX", "k", "first"]), 1);
    assert_eq!(run::<i64>(&mut c, &["SETNX", "k", "second"]), 0);
    assert_eq!(get(&mut c, "k").as_deref(), Some("first"));
    assert_eq!(err(&mut c, &["SETNX", "k"]), "ERR wrong number of arguments for 'setnx' command");
}

#[test]
fn setex_and_psetex_set_a_value_with_a_ttl() {
    let server = Server::start();
    let mut c = server.conn();
    run::<()>(&mut c, &["SET", "k", "old"]);
    assert_eq!(run::<String>(&mut c, &["SETEX", "k", "100", "v"]), "OK");
    assert_eq!(get(&mut c, "k").as_deref(), Some("v"));
    let ttl: i64 = run(&mut c, &["TTL", "k"]);
    assert!((99..=100).contains(&ttl), "ttl {ttl}");
    assert_eq!(run::<String>(&mut c, &["PSETEX", "p", "100000", "v"]), "OK");
    let pttl: i64 = run(&mut c, &["PTTL", "p"]);
    assert!((99_000..=100_000).contains(&pttl), "pttl {pttl}");

    for bad in ["0", "-1", "9223372036854775807"] {
        assert_eq!(err(&mut c, &["SETEX", "k", bad, "v"]), "ERR invalid expire time in 'setex' command");
    }
    assert_eq!(err(&mut c, &["PSETEX", "k", "0", "v"]), "ERR invalid expire time in 'psetex' command");
    assert_eq!(err(&mut c, &["SETEX", "k", "ten", "v"]), NOT_INTEGER);
    assert_eq!(err(&mut c, &["SETEX", "k", "10"]), "ERR wrong number of arguments for 'setex' command");
    // A failed SETEX leaves the key as it was.
    assert_eq!(get(&mut c, "k").as_deref(), Some("v"));
}

#[test]
fn getex_reads_and_changes_the_ttl() {
    let server = Server::start();
    let mut c = server.conn();
    run::<()>(&mut c, &["SET", "k", "v"]);
    // No option: the TTL stays as it is.
    assert_eq!(run::<Option<String>>(&mut c, &["GETEX", "k"]).as_deref(), Some("v"));
    assert_eq!(run::<i64>(&mut c, &["TTL", "k"]), -1);

    assert_eq!(run::<String>(&mut c, &["GETEX", "k", "EX", "100"]), "v");
    assert!((99..=100).contains(&run::<i64>(&mut c, &["TTL", "k"])));
    assert_eq!(run::<String>(&mut c, &["GETEX", "k", "px", "50000"]), "v");
    assert!((49_000..=50_000).contains(&run::<i64>(&mut c, &["PTTL", "k"])));
    let now_s = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let at = (now_s + 1000).to_string();
    assert_eq!(run::<String>(&mut c, &["GETEX", "k", "EXAT", &at]), "v");
    assert_eq!(run::<String>(&mut c, &["EXPIRETIME", "k"]), at);
    let pat = ((now_s + 2000) * 1000 + 123).to_string();
    assert_eq!(run::<String>(&mut c, &["GETEX", "k", "PXAT", &pat]), "v");
    assert_eq!(run::<String>(&mut c, &["PEXPIRETIME", "k"]), pat);
    assert_eq!(run::<String>(&mut c, &["GETEX", "k", "PERSIST"]), "v");
    assert_eq!(run::<i64>(&mut c, &["TTL", "k"]), -1);

    // An absolute time in the past: the value comes back, the key goes.
    assert_eq!(run::<String>(&mut c, &["GETEX", "k", "EXAT", "1"]), "v");
    assert_eq!(run::<i64>(&mut c, &["EXISTS", "k"]), 0);

    run::<()>(&mut c, &["SET", "k", "v"]);
    for bad in
        [&["EX"][..], &["EX", "10", "PX", "10"], &["PERSIST", "EX", "10"], &["EX", "10", "PERSIST"], &["KEEPTTL"]]
    {
        let mut args = vec!["GETEX", "k"];
        args.extend_from_slice(bad);
        assert_eq!(err(&mut c, &args), SYNTAX, "{args:?}");
    }
    assert_eq!(err(&mut c, &["GETEX", "k", "EX", "0"]), "ERR invalid expire time in 'getex' command");
    assert_eq!(err(&mut c, &["GETEX", "k", "PXAT", "-5"]), "ERR invalid expire time in 'getex' command");
    assert_eq!(err(&mut c, &["GETEX", "k", "EX", "soon"]), NOT_INTEGER);
    // The key is looked up before the time is checked, as in Redis.
    assert_eq!(run::<Option<String>>(&mut c, &["GETEX", "missing", "EX", "-5"]), None);
    assert_eq!(run::<i64>(&mut c, &["TTL", "k"]), -1);
}

#[test]
fn getdel_and_getset() {
    let server = Server::start();
    let mut c = server.conn();
    run::<()>(&mut c, &["SET", "k", "v"]);
    assert_eq!(run::<Option<String>>(&mut c, &["GETDEL", "k"]).as_deref(), Some("v"));
    assert_eq!(run::<Option<String>>(&mut c, &["GETDEL", "k"]), None);
    assert_eq!(run::<i64>(&mut c, &["EXISTS", "k"]), 0);

    assert_eq!(run::<Option<String>>(&mut c, &["GETSET", "k", "one"]), None);
    run::<()>(&mut c, &["EXPIRE", "k", "100"]);
    assert_eq!(run::<Option<String>>(&mut c, &["GETSET", "k", "two"]).as_deref(), Some("one"));
    assert_eq!(get(&mut c, "k").as_deref(), Some("two"));
    // GETSET stores a new value: the TTL goes, as with SET.
    assert_eq!(run::<i64>(&mut c, &["TTL", "k"]), -1);
    assert_eq!(err(&mut c, &["GETSET", "k"]), "ERR wrong number of arguments for 'getset' command");
}

#[test]
fn mset_mget_msetnx_across_shards() {
    let server = Server::start();
    let mut c = server.conn();
    let keys: Vec<String> = (0..50).map(|i| format!("key:{i}")).collect();
    let mut args = vec!["MSET"];
    let values: Vec<String> = (0..50).map(|i| format!("value {i}")).collect();
    for (k, v) in keys.iter().zip(&values) {
        args.push(k);
        args.push(v);
    }
    assert_eq!(run::<String>(&mut c, &args), "OK");
    let mut mget = vec!["MGET", "missing"];
    mget.extend(keys.iter().map(String::as_str));
    let got: Vec<Option<String>> = run(&mut c, &mget);
    assert_eq!(got[0], None);
    assert_eq!(got[1..].iter().map(|v| v.clone().unwrap()).collect::<Vec<_>>(), values);

    // The last of duplicate keys wins; MSET clears TTLs.
    run::<()>(&mut c, &["EXPIRE", "key:0", "100"]);
    run::<()>(&mut c, &["MSET", "key:0", "a", "key:0", "b"]);
    assert_eq!(get(&mut c, "key:0").as_deref(), Some("b"));
    assert_eq!(run::<i64>(&mut c, &["TTL", "key:0"]), -1);

    assert_eq!(run::<i64>(&mut c, &["MSETNX", "new:1", "x", "key:1", "y"]), 0);
    assert_eq!(run::<i64>(&mut c, &["EXISTS", "new:1"]), 0, "MSETNX sets all or nothing");
    assert_eq!(get(&mut c, "key:1").as_deref(), Some("value 1"));
    assert_eq!(run::<i64>(&mut c, &["MSETNX", "new:1", "x", "new:2", "y"]), 1);
    assert_eq!(run::<Vec<String>>(&mut c, &["MGET", "new:1", "new:2"]), vec!["x", "y"]);

    assert_eq!(err(&mut c, &["MSET", "a", "1", "b"]), "ERR wrong number of arguments for 'mset' command");
    assert_eq!(err(&mut c, &["MSET", "a"]), "ERR wrong number of arguments for 'mset' command");
    assert_eq!(err(&mut c, &["MSETNX", "a", "1", "b"]), "ERR wrong number of arguments for 'msetnx' command");
    assert_eq!(err(&mut c, &["MGET"]), "ERR wrong number of arguments for 'mget' command");
    assert_eq!(run::<i64>(&mut c, &["EXISTS", "a", "b"]), 0);
}

#[test]
fn incr_family_counts_and_checks() {
    let server = Server::start();
    let mut c = server.conn();
    assert_eq!(run::<i64>(&mut c, &["INCR", "n"]), 1);
    assert_eq!(run::<i64>(&mut c, &["INCRBY", "n", "10"]), 11);
    assert_eq!(run::<i64>(&mut c, &["DECR", "n"]), 10);
    assert_eq!(run::<i64>(&mut c, &["DECRBY", "n", "25"]), -15);
    assert_eq!(run::<i64>(&mut c, &["INCRBY", "n", "-5"]), -20);
    assert_eq!(run::<i64>(&mut c, &["DECRBY", "m", "3"]), -3);
    assert_eq!(get(&mut c, "n").as_deref(), Some("-20"));

    // INCR rewrites the value in place: the TTL stays.
    run::<()>(&mut c, &["EXPIRE", "n", "100"]);
    run::<i64>(&mut c, &["INCR", "n"]);
    assert!((99..=100).contains(&run::<i64>(&mut c, &["TTL", "n"])));

    for bad in ["abc", " 1", "1 ", "1.5", "+1", "01", "", "99999999999999999999"] {
        run::<()>(&mut c, &["SET", "s", bad]);
        assert_eq!(err(&mut c, &["INCR", "s"]), NOT_INTEGER, "{bad:?}");
        assert_eq!(get(&mut c, "s").as_deref(), Some(bad), "a failed INCR changes nothing");
    }
    assert_eq!(err(&mut c, &["INCRBY", "n", "x"]), NOT_INTEGER);
    assert_eq!(err(&mut c, &["DECRBY", "n", "1.0"]), NOT_INTEGER);

    run::<()>(&mut c, &["SET", "max", "9223372036854775807"]);
    assert_eq!(err(&mut c, &["INCR", "max"]), "ERR increment or decrement would overflow");
    assert_eq!(err(&mut c, &["DECRBY", "max", "-1"]), "ERR increment or decrement would overflow");
    assert_eq!(err(&mut c, &["DECRBY", "max", "-9223372036854775808"]), "ERR decrement would overflow");
    run::<()>(&mut c, &["SET", "min", "-9223372036854775808"]);
    assert_eq!(err(&mut c, &["DECR", "min"]), "ERR increment or decrement would overflow");
    assert_eq!(run::<i64>(&mut c, &["INCRBY", "min", "9223372036854775807"]), -1);
    assert_eq!(err(&mut c, &["INCR"]), "ERR wrong number of arguments for 'incr' command");
    assert_eq!(err(&mut c, &["INCRBY", "n"]), "ERR wrong number of arguments for 'incrby' command");
}

#[test]
fn incr_is_atomic_under_concurrent_clients() {
    let server = Server::start();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let mut c = server.conn();
            thread::spawn(move || {
                for _ in 0..250 {
                    run::<i64>(&mut c, &["INCR", "counter"]);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(get(&mut server.conn(), "counter").as_deref(), Some("1000"));
}

#[test]
fn incrbyfloat_adds_and_formats_like_redis() {
    let server = Server::start();
    let mut c = server.conn();
    let mut f = |key: &str, by: &str| run::<String>(&mut c, &["INCRBYFLOAT", key, by]);
    assert_eq!(f("a", "1"), "1");
    assert_eq!(f("a", "0.25"), "1.25");
    assert_eq!(f("b", "0.1"), "0.1");
    assert_eq!(f("b", "0.2"), "0.3");
    assert_eq!(f("c", "10.5"), "10.5");
    assert_eq!(f("c", "0.1"), "10.6");
    assert_eq!(f("c", "-10.6"), "0");
    assert_eq!(f("d", "5.0e3"), "5000");
    assert_eq!(f("d", "2.0e2"), "5200");
    assert_eq!(f("e", "17179869184"), "17179869184");
    assert_eq!(f("e", "1.5"), "17179869185.5");
    assert_eq!(f("g", "-3"), "-3");

    let mut c = server.conn();
    run::<()>(&mut c, &["SET", "h", "1.5"]);
    run::<()>(&mut c, &["EXPIRE", "h", "100"]);
    assert_eq!(run::<String>(&mut c, &["INCRBYFLOAT", "h", "1.5"]), "3");
    assert_eq!(get(&mut c, "h").as_deref(), Some("3"));
    assert!((99..=100).contains(&run::<i64>(&mut c, &["TTL", "h"])), "INCRBYFLOAT keeps the TTL");

    run::<()>(&mut c, &["SET", "s", "abc"]);
    assert_eq!(err(&mut c, &["INCRBYFLOAT", "s", "1"]), NOT_FLOAT);
    assert_eq!(err(&mut c, &["INCRBYFLOAT", "h", "x"]), NOT_FLOAT);
    assert_eq!(err(&mut c, &["INCRBYFLOAT", "h", "nan"]), NOT_FLOAT);
    assert_eq!(err(&mut c, &["INCRBYFLOAT", "h", "inf"]), "ERR increment would produce NaN or Infinity");
    assert_eq!(get(&mut c, "h").as_deref(), Some("3"));
}

#[test]
fn append_and_strlen() {
    let server = Server::start();
    let mut c = server.conn();
    assert_eq!(run::<i64>(&mut c, &["STRLEN", "k"]), 0);
    assert_eq!(run::<i64>(&mut c, &["APPEND", "k", "Hello"]), 5);
    assert_eq!(run::<i64>(&mut c, &["APPEND", "k", " World"]), 11);
    assert_eq!(run::<i64>(&mut c, &["APPEND", "k", ""]), 11);
    assert_eq!(get(&mut c, "k").as_deref(), Some("Hello World"));
    assert_eq!(run::<i64>(&mut c, &["STRLEN", "k"]), 11);
    run::<()>(&mut c, &["EXPIRE", "k", "100"]);
    run::<i64>(&mut c, &["APPEND", "k", "!"]);
    assert!((99..=100).contains(&run::<i64>(&mut c, &["TTL", "k"])), "APPEND keeps the TTL");
    // Many small appends (the buffer grows amortised; the content is exact).
    for i in 0..200 {
        run::<i64>(&mut c, &["APPEND", "log", &format!("{},", i % 10)]);
    }
    let log = get(&mut c, "log").unwrap();
    assert_eq!(log.len(), 400);
    assert!(log.starts_with("0,1,2,") && log.ends_with("8,9,"));
    assert_eq!(err(&mut c, &["STRLEN"]), "ERR wrong number of arguments for 'strlen' command");
    assert_eq!(err(&mut c, &["APPEND", "k"]), "ERR wrong number of arguments for 'append' command");
}

#[test]
fn getrange_clamps_like_redis_7_2() {
    let server = Server::start();
    let mut c = server.conn();
    run::<()>(&mut c, &["SET", "s", "Hello World"]);
    for (start, end, want) in [
        ("0", "-1", "Hello World"),
        ("0", "4", "Hello"),
        ("-3", "-1", "rld"),
        ("5", "3", ""),
        ("-1", "-5", ""),
        ("-100", "-50", "H"),
        ("0", "-100", "H"),
        ("-100", "100", "Hello World"),
        ("20", "30", ""),
        ("3", "-20", ""),
        ("6", "6", "W"),
    ] {
        assert_eq!(run::<String>(&mut c, &["GETRANGE", "s", start, end]), want, "GETRANGE s {start} {end}");
    }
    assert_eq!(run::<String>(&mut c, &["GETRANGE", "missing", "0", "-1"]), "");
    run::<()>(&mut c, &["SET", "e", ""]);
    assert_eq!(run::<String>(&mut c, &["GETRANGE", "e", "0", "-1"]), "");
    assert_eq!(err(&mut c, &["GETRANGE", "s", "a", "1"]), NOT_INTEGER);
    assert_eq!(err(&mut c, &["GETRANGE", "missing", "0", "x"]), NOT_INTEGER);
    assert_eq!(err(&mut c, &["GETRANGE", "s", "0"]), "ERR wrong number of arguments for 'getrange' command");
}

#[test]
fn setrange_pads_overwrites_and_extends() {
    let server = Server::start();
    let mut c = server.conn();
    assert_eq!(run::<i64>(&mut c, &["SETRANGE", "k", "3", "ab"]), 5);
    assert_eq!(run::<Vec<u8>>(&mut c, &["GET", "k"]), b"\0\0\0ab");
    assert_eq!(run::<i64>(&mut c, &["SETRANGE", "k", "0", "xy"]), 5);
    assert_eq!(run::<Vec<u8>>(&mut c, &["GET", "k"]), b"xy\0ab");
    assert_eq!(run::<i64>(&mut c, &["SETRANGE", "k", "4", "CDE"]), 7);
    assert_eq!(run::<Vec<u8>>(&mut c, &["GET", "k"]), b"xy\0aCDE");
    // Writing nothing: the length, and no key is created.
    assert_eq!(run::<i64>(&mut c, &["SETRANGE", "k", "100", ""]), 7);
    assert_eq!(run::<i64>(&mut c, &["SETRANGE", "none", "100", ""]), 0);
    assert_eq!(run::<i64>(&mut c, &["EXISTS", "none"]), 0);
    run::<()>(&mut c, &["EXPIRE", "k", "100"]);
    run::<i64>(&mut c, &["SETRANGE", "k", "0", "z"]);
    assert!((99..=100).contains(&run::<i64>(&mut c, &["TTL", "k"])), "SETRANGE keeps the TTL");

    assert_eq!(err(&mut c, &["SETRANGE", "k", "-1", "x"]), "ERR offset is out of range");
    assert_eq!(err(&mut c, &["SETRANGE", "k", "x", "x"]), NOT_INTEGER);
    assert_eq!(
        err(&mut c, &["SETRANGE", "k", "9999999999", "x"]),
        "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
    );
    assert_eq!(err(&mut c, &["SETRANGE", "k", "0"]), "ERR wrong number of arguments for 'setrange' command");
}

#[test]
fn strings_stay_within_proto_max_bulk_len() {
    const MAX: usize = 1024 * 1024;
    let server = Server::start_with(&["--proto-max-bulk-len", &MAX.to_string()]);
    let mut c = server.conn();
    let too_big = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
    assert_eq!(err(&mut c, &["SETRANGE", "k", &MAX.to_string(), "x"]), too_big);
    assert_eq!(run::<i64>(&mut c, &["EXISTS", "k"]), 0);
    // Exactly the limit is allowed.
    assert_eq!(run::<i64>(&mut c, &["SETRANGE", "k", &(MAX - 2).to_string(), "x"]), (MAX - 1) as i64);
    assert_eq!(err(&mut c, &["APPEND", "k", "ab"]), too_big);
    assert_eq!(err(&mut c, &["SETRANGE", "k", &(MAX - 1).to_string(), "ab"]), too_big);
    assert_eq!(run::<i64>(&mut c, &["STRLEN", "k"]), (MAX - 1) as i64);
    assert_eq!(run::<i64>(&mut c, &["APPEND", "k", "a"]), MAX as i64);
    assert_eq!(run::<String>(&mut c, &["GETRANGE", "k", "-2", "-1"]), "xa");
}

#[test]
fn expired_strings_are_never_read() {
    let server = Server::start();
    let mut c = server.conn();
    let sent = Instant::now();
    run::<()>(&mut c, &["SET", "k", "10", "PX", "100"]);
    // The key's deadline is at most 100 ms after our SET was answered, and
    // at least 100 ms after it was sent.
    let answered = Instant::now();
    let v = get(&mut c, "k");
    if sent.elapsed() < Duration::from_millis(90) {
        assert_eq!(v.as_deref(), Some("10"));
    }
    thread::sleep(Duration::from_millis(110).saturating_sub(answered.elapsed()));
    assert_eq!(get(&mut c, "k"), None);
    assert_eq!(run::<i64>(&mut c, &["STRLEN", "k"]), 0);
    assert_eq!(run::<Vec<Option<String>>>(&mut c, &["MGET", "k"]), vec![None]);
    // INCR on an expired key starts from 0, with no TTL.
    assert_eq!(run::<i64>(&mut c, &["INCR", "k"]), 1);
    assert_eq!(run::<i64>(&mut c, &["TTL", "k"]), -1);
}

#[test]
fn set_over_an_expired_key_counts_it_expired() {
    // hz 1: active expiry rarely gets to the key first (and counts it the
    // same way if it does).
    let server = Server::start_with(&["--hz", "1"]);
    let mut c = server.conn();
    run::<()>(&mut c, &["SET", "k", "old", "PX", "50"]);
    thread::sleep(Duration::from_millis(80));
    run::<()>(&mut c, &["SET", "k", "new"]);
    assert_eq!(get(&mut c, "k").as_deref(), Some("new"));
    assert_eq!(run::<i64>(&mut c, &["TTL", "k"]), -1);
    let info = run::<String>(&mut c, &["INFO", "stats"]);
    assert!(info.lines().any(|l| l.trim_end() == "expired_keys:1"), "{info}");
}

#[test]
fn redis_cli_sees_string_replies() {
    let server = Server::start();
    assert_eq!(server.cli(&["SET", "k", "41"]), "OK");
    assert_eq!(server.cli(&["--no-raw", "INCR", "k"]), "(integer) 42");
    assert_eq!(server.cli(&["INCRBYFLOAT", "k", "0.5"]), "42.5");
    assert_eq!(server.cli(&["--no-raw", "MGET", "k", "nokey"]), "1) \"42.5\"\n2) (nil)");
    assert_eq!(server.cli(&["--no-raw", "INCR", "k"]), "(error) ERR value is not an integer or out of range");
    assert_eq!(server.cli(&["--no-raw", "GETDEL", "nokey"]), "(nil)");
}

#[test]
fn resp2_reply_bytes() {
    let server = Server::start();
    let mut raw = server.raw();
    assert_eq!(call(&mut raw, &["SETNX", "k", "a"]), ":1\r\n");
    assert_eq!(call(&mut raw, &["MGET", "k", "nokey"]), "*2\r\n$1\r\na\r\n$-1\r\n");
    assert_eq!(call(&mut raw, &["GETEX", "nokey"]), "$-1\r\n");
    assert_eq!(call(&mut raw, &["INCRBYFLOAT", "f", "1.5"]), "$3\r\n1.5\r\n");
    assert_eq!(call(&mut raw, &["GETRANGE", "nokey", "0", "-1"]), "$0\r\n\r\n");
    assert_eq!(call(&mut raw, &["MSET", "a", "1"]), "+OK\r\n");
    assert_eq!(call(&mut raw, &["INCR", "k"]), "-ERR value is not an integer or out of range\r\n");
}

#[test]
fn resp3_clients_get_redis_reply_types() {
    let server = Server::start();
    let mut c = server.conn_resp3();
    assert_eq!(run::<Value>(&mut c, &["GET", "nokey"]), Value::Nil);
    assert_eq!(run::<Value>(&mut c, &["SETNX", "k", "1"]), Value::Int(1));
    assert_eq!(
        run::<Value>(&mut c, &["MGET", "k", "nokey"]),
        Value::Array(vec![Value::BulkString(b"1".to_vec()), Value::Nil])
    );
    // INCRBYFLOAT answers a bulk string, not a RESP3 double, as Redis does.
    assert_eq!(run::<Value>(&mut c, &["INCRBYFLOAT", "k", "0.5"]), Value::BulkString(b"1.5".to_vec()));
    assert_eq!(run::<Value>(&mut c, &["GETDEL", "k"]), Value::BulkString(b"1.5".to_vec()));
    let mut raw = server.raw();
    raw.send_cmd(&["HELLO", "3"]);
    raw.read_reply();
    assert_eq!(call(&mut raw, &["GETEX", "nokey"]), "_\r\n");
}

/// SET checks every option's syntax before the expire value, as Redis's
/// `parseExtendedStringArgumentsOrReply` does, so a malformed SET gets the
/// same error from both; an expire option may repeat (the last one wins).
#[test]
fn set_checks_option_syntax_before_the_expire_value() {
    let server = Server::start();
    let mut c = server.conn();
    assert_eq!(err(&mut c, &["SET", "k", "v", "PX", "KEEPTTL", "10"]), SYNTAX);
    assert_eq!(err(&mut c, &["SET", "k", "v", "EX", "abc", "NX", "XX"]), SYNTAX);
    assert_eq!(err(&mut c, &["SET", "k", "v", "EX", "abc", "FOO"]), SYNTAX);
    assert_eq!(err(&mut c, &["SET", "k", "v", "EX", "10", "PX", "20"]), SYNTAX);
    assert_eq!(err(&mut c, &["SET", "k", "v", "EX", "abc"]), NOT_INTEGER);
    assert_eq!(err(&mut c, &["SET", "k", "v", "PX", "5", "PX", "abc"]), NOT_INTEGER);
    assert_eq!(run::<String>(&mut c, &["SET", "k", "v", "EX", "10", "EX", "20"]), "OK");
    assert_eq!(run::<i64>(&mut c, &["TTL", "k"]), 20);
    assert_eq!(run::<String>(&mut c, &["SET", "k", "w", "KEEPTTL", "KEEPTTL"]), "OK");
    assert_eq!(run::<i64>(&mut c, &["TTL", "k"]), 20);
}
