//! Lua scripting against the real binary with the `redis` crate: EVAL and
//! its conversions and errors, read-only scripts, `redis::Script` (EVALSHA
//! with its EVAL fallback), the busy threshold and SCRIPT KILL seen from
//! other connections, FUNCTION LOAD / FCALL, and a replicated three-node
//! cluster where a script's writes outlive `kill -9` of its coordinator.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::cluster::TestCluster;
use common::Server;
use redis::{Connection, RedisResult, Value};

fn eval<T: redis::FromRedisValue>(con: &mut Connection, script: &str, keys: &[&str], args: &[&str]) -> RedisResult<T> {
    let mut cmd = redis::cmd("EVAL");
    cmd.arg(script).arg(keys.len()).arg(keys).arg(args);
    cmd.query(con)
}

fn error_text(r: RedisResult<Value>) -> String {
    match r {
        // The crate names the codes it knows ("NoScriptError: ..."):
        // put Redis's own code in front.
        Err(e) => format!("{} {e}", e.code().unwrap_or_default()),
        Ok(v) => panic!("expected an error, got {v:?}"),
    }
}

#[test]
fn values_convert_both_ways() {
    let server = Server::start();
    let mut con = server.conn();
    let v: Value = eval(&mut con, "return {1, 'two', {3}, true, false, 3.7, {ok='fine'}}", &[], &[]).unwrap();
    assert_eq!(
        v,
        Value::Array(vec![
            Value::Int(1),
            Value::BulkString(b"two".to_vec()),
            Value::Array(vec![Value::Int(3)]),
            Value::Int(1),
            Value::Nil,
            Value::Int(3),
            Value::SimpleString("fine".to_owned()),
        ])
    );
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut con).unwrap();
    let got: String = eval(&mut con, "return redis.call('GET', KEYS[1])", &["k"], &[]).unwrap();
    assert_eq!(got, "v");
    let missing: bool = eval(&mut con, "return redis.call('GET', 'nokey') == false", &[], &[]).unwrap();
    assert!(missing);
    let n: i64 = eval(&mut con, "return redis.call('INCRBY', KEYS[1], ARGV[1])", &["n"], &["5"]).unwrap();
    assert_eq!(n, 5);
    let t: String = eval(&mut con, "return redis.call('SET', 'x', 1).ok", &[], &[]).unwrap();
    assert_eq!(t, "OK");
    // RESP3 inside the script: a map comes back as {map=...}.
    let _: () = redis::cmd("HSET").arg("h").arg("f").arg("v").query(&mut con).unwrap();
    let f: String = eval(&mut con, "redis.setresp(3); return redis.call('HGETALL', 'h').map.f", &[], &[]).unwrap();
    assert_eq!(f, "v");
    let j: String = eval(&mut con, "return cjson.encode(cjson.decode(ARGV[1]))", &[], &["[1,\"a\"]"]).unwrap();
    assert_eq!(j, "[1,\"a\"]");
}

#[test]
fn errors_pcall_and_read_only() {
    let server = Server::start();
    let mut con = server.conn();
    let _: () = redis::cmd("LPUSH").arg("l").arg("a").query(&mut con).unwrap();
    let e = error_text(eval(&mut con, "return redis.call('INCR', KEYS[1])", &["l"], &[]));
    assert!(e.contains("WRONGTYPE") && e.contains("script: ") && e.contains("@user_script:1"), "{e}");
    let e = error_text(eval(&mut con, "return redis.pcall('INCR', KEYS[1])", &["l"], &[]));
    assert!(e.contains("WRONGTYPE") && !e.contains("script: "), "{e}");
    let caught: String =
        eval(&mut con, "local ok, e = pcall(redis.call, 'INCR', KEYS[1]); return e", &["l"], &[]).unwrap();
    assert_eq!(caught, "WRONGTYPE Operation against a key holding the wrong kind of value");
    let e = error_text(eval(&mut con, "return nosuch", &[], &[]));
    assert!(e.contains("Script attempted to access nonexistent global variable 'nosuch'"), "{e}");
    let e = error_text(eval(&mut con, "x = 1", &[], &[]));
    assert!(e.contains("Attempt to modify a readonly table"), "{e}");
    let e = error_text(eval(&mut con, "return redis.call('EVAL', 'return 1', 0)", &[], &[]));
    assert!(e.contains("This Redis command is not allowed from script"), "{e}");
    let e = error_text(redis::cmd("EVALSHA").arg("0000000000000000000000000000000000000000").arg(0).query(&mut con));
    assert!(e.contains("NOSCRIPT"), "{e}");
    let e =
        error_text(redis::cmd("EVAL_RO").arg("return redis.call('SET', KEYS[1], 1)").arg(1).arg("k").query(&mut con));
    assert!(e.contains("Write commands are not allowed from read-only scripts."), "{e}");
    let e = error_text(eval(&mut con, "#!lua flags=no-writes\nreturn redis.call('DEL', KEYS[1])", &["k"], &[]));
    assert!(e.contains("Write commands are not allowed from read-only scripts."), "{e}");
    let ok: Value =
        redis::cmd("EVAL_RO").arg("return redis.call('GET', KEYS[1])").arg(1).arg("k").query(&mut con).unwrap();
    assert_eq!(ok, Value::Nil);
}

#[test]
fn script_objects_load_on_noscript() {
    let server = Server::start();
    let mut con = server.conn();
    let script = redis::Script::new("return redis.call('INCR', KEYS[1])");
    // Not loaded yet: EVALSHA gets NOSCRIPT, the crate falls back to EVAL.
    let a: i64 = script.key("counter").invoke(&mut con).unwrap();
    let b: i64 = script.key("counter").invoke(&mut con).unwrap();
    assert_eq!((a, b), (1, 2));
    let exists: Vec<i64> = redis::cmd("SCRIPT").arg("EXISTS").arg(script.get_hash()).query(&mut con).unwrap();
    assert_eq!(exists, vec![1]);
    let _: () = redis::cmd("SCRIPT").arg("FLUSH").query(&mut con).unwrap();
    let c: i64 = script.key("counter").invoke(&mut con).unwrap();
    assert_eq!(c, 3);
}

#[test]
fn a_slow_script_is_busy_for_others_and_killed() {
    let server = Server::start_with(&["--busy-reply-threshold", "200"]);
    let mut runner = server.conn();
    let handle = thread::spawn(move || eval::<Value>(&mut runner, "while true do end", &[], &[]));
    let mut other = server.conn();
    // Past the threshold every command but SCRIPT KILL is answered BUSY,
    // at once: the connection is served, not held.
    let deadline = Instant::now() + Duration::from_secs(10);
    let busy = loop {
        let started = Instant::now();
        match redis::cmd("PING").query::<String>(&mut other) {
            Err(e) if e.code() == Some("BUSY") => break (e.to_string(), started.elapsed()),
            _ if Instant::now() > deadline => panic!("never BUSY"),
            _ => thread::sleep(Duration::from_millis(50)),
        }
    };
    assert!(busy.0.contains("Redis is busy running a script. You can only call SCRIPT KILL"), "{}", busy.0);
    assert!(busy.1 < Duration::from_secs(1), "BUSY took {:?}", busy.1);
    let e = error_text(redis::cmd("GET").arg("any").query(&mut other));
    assert!(e.contains("BUSY"), "{e}");
    let e = error_text(redis::cmd("FUNCTION").arg("KILL").query(&mut other));
    assert!(e.contains("BUSY") && e.contains("SCRIPT KILL"), "{e}");
    let _: () = redis::cmd("SCRIPT").arg("KILL").query(&mut other).unwrap();
    let killed = handle.join().unwrap();
    let e = error_text(killed);
    assert!(e.contains("Script killed by user with SCRIPT KILL"), "{e}");
    let pong: String = redis::cmd("PING").query(&mut other).unwrap();
    assert_eq!(pong, "PONG");
    let e = error_text(redis::cmd("SCRIPT").arg("KILL").query(&mut other));
    assert!(e.contains("NOTBUSY"), "{e}");
}

#[test]
fn a_script_that_wrote_is_unkillable_and_others_wait_for_its_keys() {
    let server = Server::start_with(&["--busy-reply-threshold", "300"]);
    let mut runner = server.conn();
    // Writes, then runs for about 1.5 s of wall time.
    let script = "redis.call('SET', KEYS[1], 'done'); local t = redis.call('TIME'); \
                  local t0 = t[1] * 1000000 + t[2]; \
                  while true do local n = redis.call('TIME'); \
                  if n[1] * 1000000 + n[2] - t0 > 1500000 then break end end; return 1";
    let handle = thread::spawn(move || eval::<i64>(&mut runner, script, &["held"], &[]));
    thread::sleep(Duration::from_millis(100));
    let mut other = server.conn();
    // Before the threshold: a command on another key runs at once...
    let started = Instant::now();
    let _: () = redis::cmd("SET").arg("free").arg("1").query(&mut other).unwrap();
    assert!(started.elapsed() < Duration::from_millis(150), "took {:?}", started.elapsed());
    thread::sleep(Duration::from_millis(400));
    let e = error_text(redis::cmd("SCRIPT").arg("KILL").query(&mut other));
    assert!(e.contains("UNKILLABLE"), "{e}");
    assert_eq!(handle.join().unwrap().unwrap(), 1);
    let got: String = redis::cmd("GET").arg("held").query(&mut other).unwrap();
    assert_eq!(got, "done");

    // Under the threshold, a command on the script's key waits for it and
    // sees what it wrote.
    let _: () = redis::cmd("CONFIG").arg("SET").arg("busy-reply-threshold").arg("5000").query(&mut other).unwrap();
    let mut runner = server.conn();
    let script = "local t = redis.call('TIME'); local t0 = t[1] * 1000000 + t[2]; \
                  while true do local n = redis.call('TIME'); \
                  if n[1] * 1000000 + n[2] - t0 > 400000 then break end end; \
                  return redis.call('SET', KEYS[1], 'after')";
    let handle = thread::spawn(move || eval::<Value>(&mut runner, script, &["held"], &[]));
    thread::sleep(Duration::from_millis(100));
    let got: String = redis::cmd("GET").arg("held").query(&mut other).unwrap();
    assert_eq!(got, "after");
    assert_eq!(handle.join().unwrap().unwrap(), Value::Okay);
}

#[test]
fn functions_load_list_and_call() {
    let server = Server::start();
    let mut con = server.conn();
    let lib = "#!lua name=counters\n\
               redis.register_function('bump', function(keys, args) return redis.call('INCRBY', keys[1], args[1]) end)\n\
               redis.register_function{function_name='peek', callback=function(keys) return redis.call('GET', keys[1]) end, flags={'no-writes'}}";
    let name: String = redis::cmd("FUNCTION").arg("LOAD").arg(lib).query(&mut con).unwrap();
    assert_eq!(name, "counters");
    let e = error_text(redis::cmd("FUNCTION").arg("LOAD").arg(lib).query(&mut con));
    assert!(e.contains("Library 'counters' already exists"), "{e}");
    let n: i64 = redis::cmd("FCALL").arg("bump").arg(1).arg("c").arg(7).query(&mut con).unwrap();
    assert_eq!(n, 7);
    let v: String = redis::cmd("FCALL_RO").arg("peek").arg(1).arg("c").query(&mut con).unwrap();
    assert_eq!(v, "7");
    let e = error_text(redis::cmd("FCALL_RO").arg("bump").arg(1).arg("c").arg(1).query(&mut con));
    assert!(e.contains("Can not execute a script with write flag using *_ro command."), "{e}");
    let list: Value = redis::cmd("FUNCTION").arg("LIST").arg("WITHCODE").query(&mut con).unwrap();
    let text = format!("{list:?}");
    assert!(text.contains("counters") && text.contains("bump") && text.contains("no-writes"), "{text}");
    let dump: Vec<u8> = redis::cmd("FUNCTION").arg("DUMP").query(&mut con).unwrap();
    let _: () = redis::cmd("FUNCTION").arg("FLUSH").query(&mut con).unwrap();
    let e = error_text(redis::cmd("FCALL").arg("bump").arg(1).arg("c").arg(1).query(&mut con));
    assert!(e.contains("Function not found"), "{e}");
    let _: () = redis::cmd("FUNCTION").arg("RESTORE").arg(dump).query(&mut con).unwrap();
    let n: i64 = redis::cmd("FCALL").arg("bump").arg(1).arg("c").arg(1).query(&mut con).unwrap();
    assert_eq!(n, 8);

    // Over maxmemory, loading and restoring code is refused, as Redis's
    // denyoom FUNCTION LOAD and RESTORE are; the rest still answers.
    let dump: Vec<u8> = redis::cmd("FUNCTION").arg("DUMP").query(&mut con).unwrap();
    let _: () = redis::cmd("CONFIG").arg("SET").arg("maxmemory").arg(1).query(&mut con).unwrap();
    let e = error_text(redis::cmd("FUNCTION").arg("LOAD").arg("REPLACE").arg(lib).query(&mut con));
    assert!(e.contains("command not allowed when used memory > 'maxmemory'"), "{e}");
    let e = error_text(redis::cmd("FUNCTION").arg("RESTORE").arg(&dump).arg("REPLACE").query(&mut con));
    assert!(e.contains("command not allowed when used memory > 'maxmemory'"), "{e}");
    let v: String = redis::cmd("FCALL_RO").arg("peek").arg(1).arg("c").query(&mut con).unwrap();
    assert_eq!(v, "8");
    let _: () = redis::cmd("CONFIG").arg("SET").arg("maxmemory").arg(0).query(&mut con).unwrap();
    let name: String = redis::cmd("FUNCTION").arg("LOAD").arg("REPLACE").arg(lib).query(&mut con).unwrap();
    assert_eq!(name, "counters");
}

#[test]
fn through_a_replicated_cluster() {
    let cluster = TestCluster::start(3, &["--cluster-timeout", "1000"]);
    let mut first = cluster.node(0).conn();
    // SCRIPT LOAD on one node loads it on every node: EVALSHA works
    // wherever the keys take it.
    let body = "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('INCR', KEYS[2])";
    let sha: String = redis::cmd("SCRIPT").arg("LOAD").arg(body).query(&mut first).unwrap();
    for i in 0..3 {
        let mut con = cluster.node(i).conn();
        let exists: Vec<i64> = redis::cmd("SCRIPT").arg("EXISTS").arg(&sha).query(&mut con).unwrap();
        assert_eq!(exists, vec![1], "node {i}");
    }
    let e = error_text(redis::cmd("EVALSHA").arg(&sha).arg(2).arg("a").arg("b").arg("v").query(&mut first));
    assert!(e.contains("CROSSSLOT"), "{e}");
    // Keys that share a slot, each written through a different node.
    for k in 0..30 {
        let mut con = cluster.node(k % 3).conn();
        let (a, b) = (format!("{{s{k}}}:value"), format!("{{s{k}}}:count"));
        let n: i64 = redis::cmd("EVALSHA").arg(&sha).arg(2).arg(&a).arg(&b).arg(k).query(&mut con).unwrap();
        assert_eq!(n, 1);
    }
    // A script without keys runs where it lands; a key it reaches must
    // live there.
    let n: i64 = eval(&mut first, "return 42", &[], &[]).unwrap();
    assert_eq!(n, 42);
    let lib = "#!lua name=clib\nredis.register_function('get2', function(keys) return redis.call('GET', keys[1]) end)";
    let _: String = redis::cmd("FUNCTION").arg("LOAD").arg(lib).query(&mut first).unwrap();
    let mut third = cluster.node(2).conn();
    let v: String = redis::cmd("FCALL").arg("get2").arg(1).arg("{s4}:value").query(&mut third).unwrap();
    assert_eq!(v, "4");

    // Every acknowledged script write outlives kill -9 of node 1, which
    // coordinated some of them.
    let mut cluster = cluster;
    cluster.nodes[0].kill();
    let mut survivor = cluster.node(1).conn();
    let deadline = Instant::now() + Duration::from_secs(20);
    for k in 0..30 {
        let (a, b) = (format!("{{s{k}}}:value"), format!("{{s{k}}}:count"));
        loop {
            let got: RedisResult<(Option<String>, Option<i64>)> =
                redis::cmd("MGET").arg(&a).arg(&b).query(&mut survivor);
            match got {
                Ok((Some(v), Some(1))) => {
                    assert_eq!(v, k.to_string());
                    break;
                }
                other if Instant::now() > deadline => panic!("key {k} lost after kill -9: {other:?}"),
                _ => thread::sleep(Duration::from_millis(100)),
            }
        }
    }
}
