//! Generic key commands through a real node: deletion and existence, TTLs
//! (lazy and active expiry included), TYPE, RENAME, KEYS, SCAN and
//! RANDOMKEY. Expected replies and error texts are Redis 7.2's.

mod common;

use std::collections::HashSet;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{arity, call, err, run, Server, NOT_INTEGER, SYNTAX};
use redis::{Connection, Value};

fn set(conn: &mut Connection, key: &str, value: &str) {
    let _: () = run(conn, &["SET", key, value]);
}

fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

/// One full SCAN iteration with `opts`: every key returned, and how many
/// calls it took.
fn scan_all(conn: &mut Connection, opts: &[&str]) -> (Vec<String>, usize) {
    let mut cursor = "0".to_owned();
    let (mut keys, mut calls) = (Vec::new(), 0);
    loop {
        let mut args = vec!["SCAN", cursor.as_str()];
        args.extend_from_slice(opts);
        let (next, batch): (String, Vec<String>) = run(conn, &args);
        calls += 1;
        keys.extend(batch);
        assert!(calls < 100_000, "SCAN does not terminate");
        if next == "0" {
            return (keys, calls);
        }
        cursor = next;
    }
}

#[test]
fn del_unlink_exists_touch_count_keys() {
    let server = Server::start();
    let mut c = server.conn();
    for k in ["a", "b", "c", "d"] {
        set(&mut c, k, "v");
    }
    // EXISTS counts a key as often as it is named.
    assert_eq!(run::<i64>(&mut c, &["EXISTS", "a", "a", "b", "nokey"]), 3);
    assert_eq!(run::<i64>(&mut c, &["TOUCH", "a", "b", "nokey"]), 2);
    // DEL counts each key once: the second "a" is already gone.
    assert_eq!(run::<i64>(&mut c, &["DEL", "a", "a", "nokey", "b"]), 2);
    assert_eq!(run::<i64>(&mut c, &["UNLINK", "c", "d", "c"]), 2);
    assert_eq!(run::<i64>(&mut c, &["EXISTS", "a", "b", "c", "d"]), 0);
    assert_eq!(run::<i64>(&mut c, &["DEL", "nokey"]), 0);

    // Many keys over many shards in one command.
    let keys: Vec<String> = (0..100).map(|i| format!("many:{i}")).collect();
    for k in &keys {
        set(&mut c, k, "v");
    }
    let mut args = vec!["EXISTS"];
    args.extend(keys.iter().map(String::as_str));
    assert_eq!(run::<i64>(&mut c, &args), 100);
    args[0] = "DEL";
    assert_eq!(run::<i64>(&mut c, &args), 100);
    args[0] = "EXISTS";
    assert_eq!(run::<i64>(&mut c, &args), 0);

    for name in ["del", "unlink", "exists", "touch"] {
        assert_eq!(err(&mut c, &[name]), arity(name));
    }
}

#[test]
fn expire_family_sets_ttls() {
    let server = Server::start();
    let mut c = server.conn();
    set(&mut c, "k", "v");
    assert_eq!(run::<i64>(&mut c, &["EXPIRE", "k", "100"]), 1);
    assert!((99..=100).contains(&run::<i64>(&mut c, &["TTL", "k"])));
    assert_eq!(run::<i64>(&mut c, &["PEXPIRE", "k", "50500"]), 1);
    let pttl: i64 = run(&mut c, &["PTTL", "k"]);
    assert!((49_500..=50_500).contains(&pttl), "pttl {pttl}");
    // TTL rounds to the nearest second.
    assert!((50..=51).contains(&run::<i64>(&mut c, &["TTL", "k"])));

    let at_s = unix_ms() / 1000 + 1000;
    assert_eq!(run::<i64>(&mut c, &["EXPIREAT", "k", &at_s.to_string()]), 1);
    assert_eq!(run::<u64>(&mut c, &["EXPIRETIME", "k"]), at_s);
    assert_eq!(run::<u64>(&mut c, &["PEXPIRETIME", "k"]), at_s * 1000);
    let at_ms = unix_ms() + 2_000_123;
    assert_eq!(run::<i64>(&mut c, &["PEXPIREAT", "k", &at_ms.to_string()]), 1);
    assert_eq!(run::<u64>(&mut c, &["PEXPIRETIME", "k"]), at_ms);
    assert_eq!(run::<u64>(&mut c, &["EXPIRETIME", "k"]), at_ms / 1000);

    // A key that does not exist gets nothing.
    for name in ["EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"] {
        assert_eq!(run::<i64>(&mut c, &[name, "nokey", "100"]), 0);
    }
    assert_eq!(run::<i64>(&mut c, &["EXISTS", "nokey"]), 0);

    // A time in the past deletes the key (and counts as set).
    for (name, time) in [("EXPIRE", "-1"), ("PEXPIRE", "0"), ("EXPIREAT", "1"), ("PEXPIREAT", "1000")] {
        set(&mut c, "gone", "v");
        assert_eq!(run::<i64>(&mut c, &[name, "gone", time]), 1, "{name} {time}");
        assert_eq!(run::<i64>(&mut c, &["EXISTS", "gone"]), 0, "{name} {time}");
    }
}

#[test]
fn expire_conditions_nx_xx_gt_lt() {
    let server = Server::start();
    let mut c = server.conn();
    let mut ex = |args: &[&str]| {
        let mut full = vec!["EXPIRE", "k"];
        full.extend_from_slice(args);
        run::<i64>(&mut c, &full)
    };
    // The key does not exist yet: every form answers 0.
    for opt in ["NX", "XX", "GT", "LT"] {
        assert_eq!(ex(&["100", opt]), 0, "{opt}");
    }
    let mut c = server.conn();
    set(&mut c, "k", "v");
    let mut ex = |args: &[&str]| {
        let mut full = vec!["EXPIRE", "k"];
        full.extend_from_slice(args);
        run::<i64>(&mut c, &full)
    };
    assert_eq!(ex(&["100", "XX"]), 0, "XX needs a TTL");
    assert_eq!(ex(&["100", "GT"]), 0, "no TTL counts as infinite: nothing is greater");
    assert_eq!(ex(&["100", "LT"]), 1, "any TTL is less than infinite");
    assert_eq!(ex(&["200", "NX"]), 0);
    assert_eq!(ex(&["200", "GT"]), 1);
    assert_eq!(ex(&["150", "GT"]), 0);
    assert_eq!(ex(&["150", "LT"]), 1);
    assert_eq!(ex(&["300", "LT"]), 0);
    assert_eq!(ex(&["300", "xx", "gt"]), 1);
    let mut c = server.conn();
    assert!((299..=300).contains(&run::<i64>(&mut c, &["TTL", "k"])));
    run::<i64>(&mut c, &["PERSIST", "k"]);
    assert_eq!(run::<i64>(&mut c, &["EXPIRE", "k", "100", "NX"]), 1);

    let nx_err = "ERR NX and XX, GT or LT options at the same time are not compatible";
    for opts in [&["NX", "XX"][..], &["nx", "gt"], &["LT", "NX"]] {
        let mut args = vec!["EXPIRE", "k", "10"];
        args.extend_from_slice(opts);
        assert_eq!(err(&mut c, &args), nx_err, "{opts:?}");
    }
    assert_eq!(
        err(&mut c, &["PEXPIRE", "k", "10", "GT", "LT"]),
        "ERR GT and LT options at the same time are not compatible"
    );
    assert_eq!(err(&mut c, &["EXPIRE", "k", "10", "XX", "sometimes"]), "ERR Unsupported option sometimes");
    assert_eq!(err(&mut c, &["EXPIRE", "k", "ten"]), NOT_INTEGER);
    assert_eq!(err(&mut c, &["EXPIRE", "k", "9223372036854775807"]), "ERR invalid expire time in 'expire' command");
    assert_eq!(err(&mut c, &["PEXPIRE", "k", "9223372036854775807"]), "ERR invalid expire time in 'pexpire' command");
    assert_eq!(err(&mut c, &["EXPIREAT", "k", "9223372036854775807"]), "ERR invalid expire time in 'expireat' command");
    assert_eq!(err(&mut c, &["EXPIRE", "k"]), "ERR wrong number of arguments for 'expire' command");
    // None of the failures changed the TTL.
    assert!((99..=100).contains(&run::<i64>(&mut c, &["TTL", "k"])));
}

#[test]
fn ttl_family_and_persist() {
    let server = Server::start();
    let mut c = server.conn();
    for name in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
        assert_eq!(run::<i64>(&mut c, &[name, "nokey"]), -2, "{name}");
    }
    set(&mut c, "k", "v");
    for name in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
        assert_eq!(run::<i64>(&mut c, &[name, "k"]), -1, "{name}");
    }
    assert_eq!(run::<i64>(&mut c, &["PERSIST", "k"]), 0);
    assert_eq!(run::<i64>(&mut c, &["PERSIST", "nokey"]), 0);
    run::<i64>(&mut c, &["EXPIRE", "k", "100"]);
    assert_eq!(run::<i64>(&mut c, &["PERSIST", "k"]), 1);
    assert_eq!(run::<i64>(&mut c, &["TTL", "k"]), -1);
    assert_eq!(run::<String>(&mut c, &["GET", "k"]), "v");
    assert_eq!(err(&mut c, &["TTL"]), "ERR wrong number of arguments for 'ttl' command");
    assert_eq!(err(&mut c, &["PERSIST", "k", "k"]), "ERR wrong number of arguments for 'persist' command");
}

#[test]
fn type_names_the_value_type() {
    let server = Server::start();
    let mut c = server.conn();
    assert_eq!(run::<String>(&mut c, &["TYPE", "nokey"]), "none");
    set(&mut c, "k", "v");
    assert_eq!(run::<String>(&mut c, &["TYPE", "k"]), "string");
    // TYPE is a status reply, not a bulk string.
    let mut raw = server.raw();
    assert_eq!(call(&mut raw, &["TYPE", "k"]), "+string\r\n");
    assert_eq!(call(&mut raw, &["TYPE", "nokey"]), "+none\r\n");
}

#[test]
fn rename_and_renamenx() {
    let server = Server::start();
    let mut c = server.conn();
    assert_eq!(err(&mut c, &["RENAME", "nokey", "x"]), "ERR no such key");
    assert_eq!(err(&mut c, &["RENAMENX", "nokey", "x"]), "ERR no such key");
    assert_eq!(err(&mut c, &["RENAME", "nokey", "nokey"]), "ERR no such key");

    set(&mut c, "a", "1");
    run::<i64>(&mut c, &["EXPIRE", "a", "100"]);
    assert_eq!(run::<String>(&mut c, &["RENAME", "a", "b"]), "OK");
    assert_eq!(run::<i64>(&mut c, &["EXISTS", "a"]), 0);
    assert_eq!(run::<String>(&mut c, &["GET", "b"]), "1");
    assert!((99..=100).contains(&run::<i64>(&mut c, &["TTL", "b"])), "RENAME keeps the TTL");

    // Renaming over a key replaces it, TTL included.
    set(&mut c, "c", "3");
    run::<i64>(&mut c, &["EXPIRE", "c", "500"]);
    set(&mut c, "d", "4");
    assert_eq!(run::<String>(&mut c, &["RENAME", "d", "c"]), "OK");
    assert_eq!(run::<String>(&mut c, &["GET", "c"]), "4");
    assert_eq!(run::<i64>(&mut c, &["TTL", "c"]), -1);

    assert_eq!(run::<String>(&mut c, &["RENAME", "b", "b"]), "OK");
    assert_eq!(run::<String>(&mut c, &["GET", "b"]), "1");
    assert_eq!(run::<i64>(&mut c, &["RENAMENX", "b", "b"]), 0);
    assert_eq!(run::<i64>(&mut c, &["RENAMENX", "b", "c"]), 0);
    assert_eq!(run::<String>(&mut c, &["GET", "c"]), "4");
    assert_eq!(run::<i64>(&mut c, &["RENAMENX", "b", "e"]), 1);
    assert_eq!(run::<Vec<Option<String>>>(&mut c, &["MGET", "b", "e"]), vec![None, Some("1".to_owned())]);
    assert_eq!(err(&mut c, &["RENAME", "e"]), "ERR wrong number of arguments for 'rename' command");
}

#[test]
fn keys_matches_glob_patterns() {
    let server = Server::start();
    let mut c = server.conn();
    for k in ["hello", "hallo", "hxllo", "hllo", "heeeello", "h*llo", "other"] {
        set(&mut c, k, "v");
    }
    let mut keys = |pattern: &str| {
        let mut found: Vec<String> = run(&mut c, &["KEYS", pattern]);
        found.sort();
        found
    };
    assert_eq!(keys("*").len(), 7);
    assert_eq!(keys("h?llo"), ["h*llo", "hallo", "hello", "hxllo"]);
    assert_eq!(keys("h*llo"), ["h*llo", "hallo", "heeeello", "hello", "hllo", "hxllo"]);
    assert_eq!(keys("h[ae]llo"), ["hallo", "hello"]);
    assert_eq!(keys("h[^e]llo"), ["h*llo", "hallo", "hxllo"]);
    assert_eq!(keys("h[a-b]llo"), ["hallo"]);
    assert_eq!(keys("h\\*llo"), ["h*llo"]);
    assert_eq!(keys("nothing*"), Vec::<String>::new());
    assert_eq!(err(&mut c, &["KEYS"]), "ERR wrong number of arguments for 'keys' command");
}

#[test]
fn scan_returns_every_key_of_a_thousand() {
    let server = Server::start();
    let mut c = server.conn();
    let mut pipe = redis::pipe();
    for i in 0..1000 {
        pipe.cmd("SET").arg(format!("user:{i}")).arg("v").ignore();
    }
    for i in 0..50 {
        pipe.cmd("SET").arg(format!("other:{i}")).arg("v").ignore();
    }
    let _: () = pipe.query(&mut c).unwrap();

    let (keys, calls) = scan_all(&mut c, &["COUNT", "10"]);
    let unique: HashSet<&String> = keys.iter().collect();
    assert_eq!(unique.len(), 1050);
    assert!((50..=300).contains(&calls), "COUNT 10 over 1050 keys took {calls} calls");

    let (matched, _) = scan_all(&mut c, &["MATCH", "user:1??", "COUNT", "10"]);
    let matched: HashSet<String> = matched.into_iter().collect();
    assert_eq!(matched, (100..200).map(|i| format!("user:{i}")).collect());
    assert_eq!(scan_all(&mut c, &["MATCH", "other:*", "COUNT", "1000"]).0.len(), 50);
    assert_eq!(scan_all(&mut c, &["TYPE", "string"]).0.len(), 1050);
    assert_eq!(scan_all(&mut c, &["TYPE", "hash", "COUNT", "100"]).0.len(), 0);
    assert_eq!(scan_all(&mut c, &["MATCH", "user:99?", "TYPE", "STRING"]).0.len(), 10);
    // The default COUNT is 10, too.
    let (_, calls) = scan_all(&mut c, &[]);
    assert!((50..=300).contains(&calls), "default COUNT took {calls} calls");
}

#[test]
fn scan_sees_keys_that_live_through_it_despite_churn() {
    let server = Server::start();
    let mut c = server.conn();
    let mut other = server.conn();
    for i in 0..300 {
        set(&mut c, &format!("stable:{i}"), "v");
        set(&mut c, &format!("churn:{i}"), "v");
    }
    let mut seen = HashSet::new();
    let mut cursor = "0".to_owned();
    let mut step = 0;
    loop {
        let (next, batch): (String, Vec<String>) = run(&mut c, &["SCAN", &cursor, "COUNT", "7"]);
        seen.extend(batch);
        // Between calls, another client deletes some keys and adds others.
        let _: i64 = run(&mut other, &["DEL", &format!("churn:{step}"), &format!("churn:{}", 299 - step)]);
        set(&mut other, &format!("new:{step}"), "v");
        step += 1;
        assert!(step < 10_000);
        if next == "0" {
            break;
        }
        cursor = next;
    }
    let missing: Vec<String> = (0..300).map(|i| format!("stable:{i}")).filter(|k| !seen.contains(k)).collect();
    assert!(missing.is_empty(), "SCAN missed keys that existed throughout: {missing:?}");
}

#[test]
fn scan_errors() {
    let server = Server::start();
    let mut c = server.conn();
    set(&mut c, "k", "v");
    for bad in ["abc", "-1", "1.5", "18446744073709551616", ""] {
        assert_eq!(err(&mut c, &["SCAN", bad]), "ERR invalid cursor", "{bad:?}");
    }
    assert_eq!(err(&mut c, &["SCAN", "0", "COUNT", "0"]), SYNTAX);
    assert_eq!(err(&mut c, &["SCAN", "0", "COUNT", "-3"]), SYNTAX);
    assert_eq!(err(&mut c, &["SCAN", "0", "COUNT", "many"]), NOT_INTEGER);
    assert_eq!(err(&mut c, &["SCAN", "0", "COUNT"]), SYNTAX);
    assert_eq!(err(&mut c, &["SCAN", "0", "MATCH"]), SYNTAX);
    assert_eq!(err(&mut c, &["SCAN", "0", "SORTED", "yes"]), SYNTAX);
    assert_eq!(err(&mut c, &["SCAN"]), "ERR wrong number of arguments for 'scan' command");
    // A cursor that was never handed out ends the iteration, harmlessly.
    let (next, _): (String, Vec<String>) = run(&mut c, &["SCAN", "18446744073709551615"]);
    assert_eq!(next, "0");
    // Redis 7.2 accepts an unknown TYPE and matches nothing.
    assert_eq!(run::<(String, Vec<String>)>(&mut c, &["SCAN", "0", "TYPE", "nosuchtype"]).1, Vec::<String>::new());
}

#[test]
fn randomkey_picks_an_existing_key() {
    let server = Server::start();
    let mut c = server.conn();
    assert_eq!(run::<Option<String>>(&mut c, &["RANDOMKEY"]), None);
    let keys: HashSet<String> = (0..20).map(|i| format!("k{i}")).collect();
    for k in &keys {
        set(&mut c, k, "v");
    }
    let mut picked = HashSet::new();
    for _ in 0..200 {
        let k: String = run(&mut c, &["RANDOMKEY"]);
        assert!(keys.contains(&k), "{k}");
        picked.insert(k);
    }
    assert!(picked.len() > 5, "RANDOMKEY is not random: {picked:?}");
    assert_eq!(err(&mut c, &["RANDOMKEY", "x"]), "ERR wrong number of arguments for 'randomkey' command");
}

#[test]
fn a_key_set_with_px_100_is_gone_soon_after() {
    let server = Server::start();
    let mut c = server.conn();
    let start = Instant::now();
    let _: () = run(&mut c, &["SET", "k", "v", "PX", "100"]);
    let answered = Instant::now();
    let pttl: i64 = run(&mut c, &["PTTL", "k"]);
    if start.elapsed() < Duration::from_millis(90) {
        assert!((1..=100).contains(&pttl), "pttl {pttl}");
    }
    let deadline = answered + Duration::from_millis(300);
    loop {
        // Judged by when the question was sent, not when it was answered.
        let asked = Instant::now();
        if run::<i64>(&mut c, &["EXISTS", "k"]) == 0 {
            break;
        }
        assert!(asked < deadline, "key with PX 100 still there after 300 ms");
        thread::sleep(Duration::from_millis(10));
    }
    assert!(start.elapsed() >= Duration::from_millis(100), "expired early: {:?}", start.elapsed());
}

#[test]
fn expired_keys_are_invisible_to_every_command() {
    // One background cycle a second: most checks below run before it does,
    // so they see the key through lazy expiry on access.
    let server = Server::start_with(&["--hz", "1"]);
    let mut c = server.conn();
    let names: Vec<String> = (0..12).map(|i| format!("k{i}")).collect();
    for k in &names {
        let _: () = run(&mut c, &["SET", k, "1", "PX", "100"]);
    }
    // Every key's deadline is at most 100 ms after its SET was answered.
    let all_set = Instant::now();
    set(&mut c, "keep", "v");
    thread::sleep(Duration::from_millis(110).saturating_sub(all_set.elapsed()));
    let k = |i: usize| names[i].as_str();
    assert_eq!(run::<Vec<String>>(&mut c, &["KEYS", "*"]), ["keep"]);
    assert_eq!(run::<(String, Vec<String>)>(&mut c, &["SCAN", "0", "COUNT", "1000"]).1, ["keep"]);
    assert_eq!(run::<i64>(&mut c, &["EXISTS", k(0), k(0), "keep"]), 1);
    assert_eq!(run::<i64>(&mut c, &["TTL", k(1)]), -2);
    assert_eq!(run::<i64>(&mut c, &["PTTL", k(1)]), -2);
    assert_eq!(run::<String>(&mut c, &["TYPE", k(2)]), "none");
    assert_eq!(run::<i64>(&mut c, &["EXPIRE", k(3), "100"]), 0);
    assert_eq!(run::<i64>(&mut c, &["PERSIST", k(4)]), 0);
    assert_eq!(err(&mut c, &["RENAME", k(5), "x"]), "ERR no such key");
    assert_eq!(run::<i64>(&mut c, &["DEL", k(6)]), 0);
    assert_eq!(run::<i64>(&mut c, &["TOUCH", k(7)]), 0);
    assert_eq!(run::<i64>(&mut c, &["RENAMENX", "keep", k(8)]), 1, "an expired key is no obstacle");
    assert_eq!(run::<i64>(&mut c, &["TTL", k(8)]), -1);
    assert_eq!(run::<i64>(&mut c, &["EXPIRETIME", k(9)]), -2);
    assert_eq!(run::<Option<String>>(&mut c, &["RANDOMKEY"]).as_deref(), Some(k(8)));
    assert_eq!(run::<i64>(&mut c, &["SETNX", k(10), "new"]), 1);
    assert_eq!(run::<i64>(&mut c, &["TTL", k(10)]), -1);
}

/// Positions the keyspace holds, expired-but-unreclaimed keys included,
/// measured from outside: SCAN visits `COUNT` stored positions per call
/// (skipping expired keys without removing them), so a full iteration with
/// COUNT 1 takes one call per stored key.
fn stored_positions(c: &mut Connection) -> usize {
    scan_all(c, &["COUNT", "1"]).1
}

#[test]
fn active_expiry_reclaims_keys_nobody_reads() {
    let server = Server::start();
    let mut c = server.conn();
    let mut pipe = redis::pipe();
    for i in 0..200 {
        pipe.cmd("SET").arg(format!("temp:{i}")).arg("v").arg("PX").arg(50).ignore();
    }
    for i in 0..5 {
        pipe.cmd("SET").arg(format!("keep:{i}")).arg("v").ignore();
    }
    let sent = Instant::now();
    let _: () = pipe.query(&mut c).unwrap();
    let start = Instant::now();
    // The measure sees every stored key. No key expires before `sent` +
    // 50 ms, so if the measure was done by then, all of them were there.
    let before = stored_positions(&mut c);
    if sent.elapsed() < Duration::from_millis(45) {
        assert!(before >= 205, "SCAN COUNT 1 took {before} calls over 205 keys");
    }
    // Nothing below reads a temp key, and neither KEYS nor SCAN removes an
    // expired key: only the background cycle can bring the count down.
    thread::sleep(Duration::from_millis(60).saturating_sub(start.elapsed()));
    assert_eq!(run::<Vec<String>>(&mut c, &["KEYS", "temp:*"]), Vec::<String>::new());
    let deadline = start + Duration::from_secs(3);
    loop {
        let stored = stored_positions(&mut c);
        if stored <= 6 {
            break;
        }
        assert!(Instant::now() < deadline, "{stored} keys still stored 3 s after they expired");
        thread::sleep(Duration::from_millis(20));
    }
    let mut keep: Vec<String> = run(&mut c, &["KEYS", "*"]);
    keep.sort();
    assert_eq!(keep, ["keep:0", "keep:1", "keep:2", "keep:3", "keep:4"]);
}

#[test]
fn redis_cli_scan_and_keys() {
    let server = Server::start();
    for i in 0..30 {
        server.cli(&["SET", &format!("cli:{i}"), "v"]);
    }
    server.cli(&["SET", "unrelated", "v"]);
    // redis-cli --scan drives SCAN with MATCH itself.
    let out = server.cli(&["--scan", "--pattern", "cli:1*"]);
    let mut got: Vec<&str> = out.lines().collect();
    got.sort();
    let mut want: Vec<String> = std::iter::once(1).chain(10..20).map(|i| format!("cli:{i}")).collect();
    want.sort();
    assert_eq!(got, want);
    assert_eq!(server.cli(&["--no-raw", "TTL", "nokey"]), "(integer) -2");
    assert_eq!(server.cli(&["--no-raw", "RENAME", "nokey", "x"]), "(error) ERR no such key");
    assert_eq!(server.cli(&["--no-raw", "EXISTS", "cli:1", "cli:1"]), "(integer) 2");
}

#[test]
fn resp2_reply_bytes() {
    let server = Server::start();
    let mut raw = server.raw();
    assert_eq!(call(&mut raw, &["RANDOMKEY"]), "$-1\r\n");
    assert_eq!(call(&mut raw, &["SET", "k", "v"]), "+OK\r\n");
    assert_eq!(call(&mut raw, &["SCAN", "0", "COUNT", "100"]), "*2\r\n$1\r\n0\r\n*1\r\n$1\r\nk\r\n");
    assert_eq!(call(&mut raw, &["KEYS", "nomatch*"]), "*0\r\n");
    assert_eq!(call(&mut raw, &["TTL", "k"]), ":-1\r\n");
    assert_eq!(call(&mut raw, &["RENAME", "k", "j"]), "+OK\r\n");
    assert_eq!(call(&mut raw, &["RENAME", "k", "j"]), "-ERR no such key\r\n");
}

#[test]
fn resp3_clients_get_redis_reply_types() {
    let server = Server::start();
    let mut c = server.conn_resp3();
    assert_eq!(run::<Value>(&mut c, &["RANDOMKEY"]), Value::Nil);
    set(&mut c, "k", "v");
    assert_eq!(run::<Value>(&mut c, &["TYPE", "k"]), Value::SimpleString("string".to_owned()));
    assert_eq!(run::<Value>(&mut c, &["EXISTS", "k", "k"]), Value::Int(2));
    assert_eq!(run::<Value>(&mut c, &["TTL", "k"]), Value::Int(-1));
    assert_eq!(
        run::<Value>(&mut c, &["SCAN", "0", "COUNT", "100"]),
        Value::Array(vec![Value::BulkString(b"0".to_vec()), Value::Array(vec![Value::BulkString(b"k".to_vec())])])
    );
    assert_eq!(run::<Value>(&mut c, &["KEYS", "*"]), Value::Array(vec![Value::BulkString(b"k".to_vec())]));
    let mut raw = server.raw();
    raw.send_cmd(&["HELLO", "3"]);
    raw.read_reply();
    assert_eq!(call(&mut raw, &["DEL", "k"]), ":1\r\n");
    assert_eq!(call(&mut raw, &["RANDOMKEY"]), "_\r\n");
}
