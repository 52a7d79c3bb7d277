//! The scripting commands over a bare keyspace, through the real
//! dispatcher.

use std::sync::LazyLock;

use bytes::Bytes;
use ringcache_commands::{dispatch, ClientState, Env, Table};
use ringcache_resp::Reply;
use ringcache_store::{Db, DbConfig};

use crate::{ScriptHost, Scripting};

#[derive(Debug)]
struct Node {
    db: Db,
    scripting: Scripting,
}

static TABLE: LazyLock<Table<Node>> =
    LazyLock::new(|| Table::new(ringcache_commands::data_commands().into_iter().chain(crate::commands())));

impl Env for Node {
    type Client = ClientState<Node>;
    fn db(&self) -> &Db {
        &self.db
    }
    fn table(&self) -> &'static Table<Self> {
        &TABLE
    }
    fn proto_max_bulk_len(&self) -> u64 {
        512 << 20
    }
    fn query_buffer_limit(&self) -> usize {
        1 << 30
    }
    fn journal(&self) -> bool {
        false
    }
    fn databases(&self) -> u32 {
        16
    }
    fn db0_only(&self) -> bool {
        false
    }
}

impl ScriptHost for Node {
    fn scripting(&self) -> &Scripting {
        &self.scripting
    }
    fn slot_is_local(&self, _slot: u16) -> bool {
        true
    }
    fn in_cluster(&self) -> bool {
        false
    }
}

fn node() -> (Node, ClientState<Node>) {
    (Node { db: Db::new(DbConfig::default()), scripting: Scripting::new() }, ClientState::new(true))
}

fn run(n: &Node, c: &mut ClientState<Node>, args: &[&str]) -> Reply {
    let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
    dispatch(n, c, &a, ringcache_store::now_ms())
}

fn bulk(s: &str) -> Reply {
    Reply::Bulk(Bytes::copy_from_slice(s.as_bytes()))
}

fn error(r: &Reply) -> String {
    match r {
        Reply::Error(e) => String::from_utf8_lossy(e).into_owned(),
        other => panic!("not an error: {other:?}"),
    }
}

#[test]
fn eval_returns_converted_values() {
    let (n, mut c) = node();
    assert_eq!(run(&n, &mut c, &["eval", "return 1", "0"]), Reply::Integer(1));
    assert_eq!(run(&n, &mut c, &["eval", "return 3.99", "0"]), Reply::Integer(3));
    assert_eq!(run(&n, &mut c, &["eval", "return 'x'", "0"]), bulk("x"));
    assert_eq!(run(&n, &mut c, &["eval", "return true", "0"]), Reply::Integer(1));
    assert_eq!(run(&n, &mut c, &["eval", "return false", "0"]), Reply::Null);
    assert_eq!(run(&n, &mut c, &["eval", "return nil", "0"]), Reply::Null);
    assert_eq!(
        run(&n, &mut c, &["eval", "return {1,2,3,'ciao',{1,2}}", "0"]),
        Reply::Array(vec![
            Reply::Integer(1),
            Reply::Integer(2),
            Reply::Integer(3),
            bulk("ciao"),
            Reply::Array(vec![Reply::Integer(1), Reply::Integer(2)])
        ])
    );
    assert_eq!(run(&n, &mut c, &["eval", "return {1,nil,3}", "0"]), Reply::Array(vec![Reply::Integer(1)]));
    assert_eq!(run(&n, &mut c, &["eval", "return {ok='fine'}", "0"]), Reply::Simple(Bytes::from_static(b"fine")));
    assert_eq!(error(&run(&n, &mut c, &["eval", "return {err='My Error'}", "0"])), "My Error");
    assert_eq!(error(&run(&n, &mut c, &["eval", "return redis.error_reply('My Error')", "0"])), "My Error");
    assert_eq!(error(&run(&n, &mut c, &["eval", "return redis.error_reply('-X oops')", "0"])), "X oops");
    assert_eq!(
        run(&n, &mut c, &["eval", "return redis.status_reply('hi')", "0"]),
        Reply::Simple(Bytes::from_static(b"hi"))
    );
    assert_eq!(
        run(&n, &mut c, &["eval", "return {KEYS[1],KEYS[2],ARGV[1],ARGV[2]}", "2", "a", "b", "c", "d"]),
        Reply::Array(vec![bulk("a"), bulk("b"), bulk("c"), bulk("d")])
    );
    assert_eq!(
        run(&n, &mut c, &["eval", "return redis.sha1hex('')", "0"]),
        bulk("da39a3ee5e6b4b0d3255bfef95601890afd80709")
    );
}

#[test]
fn redis_call_converts_replies() {
    let (n, mut c) = node();
    assert_eq!(run(&n, &mut c, &["eval", "return redis.call('set', KEYS[1], 'v')", "1", "k"]), Reply::ok());
    assert_eq!(run(&n, &mut c, &["eval", "return redis.call('get', KEYS[1])", "1", "k"]), bulk("v"));
    assert_eq!(run(&n, &mut c, &["eval", "return redis.call('get', 'nokey') == false", "0"]), Reply::Integer(1));
    assert_eq!(run(&n, &mut c, &["eval", "return type(redis.call('set', 'x', 1).ok)", "0"]), bulk("string"));
    assert_eq!(run(&n, &mut c, &["eval", "return redis.call('incr', 'x')", "0"]), Reply::Integer(2));
    // RESP3: nulls are nil, maps and doubles are tables.
    let script = "redis.setresp(3); return redis.call('get', 'nokey') == nil";
    assert_eq!(run(&n, &mut c, &["eval", script, "0"]), Reply::Boolean(true));
    run(&n, &mut c, &["hset", "h", "f", "v"]);
    let script = "redis.setresp(3); return redis.call('hgetall', 'h').map.f";
    assert_eq!(run(&n, &mut c, &["eval", script, "0"]), bulk("v"));
    let script = "redis.setresp(3); return redis.call('hgetall', 'h')";
    assert_eq!(run(&n, &mut c, &["eval", script, "0"]), Reply::Map(vec![(bulk("f"), bulk("v"))]));
    assert_eq!(run(&n, &mut c, &["eval", "redis.setresp(3); return true", "0"]), Reply::Boolean(true));
    assert_eq!(run(&n, &mut c, &["eval", "return {double=3.5}", "0"]), Reply::Double(3.5));
}

#[test]
fn errors_have_redis_texts() {
    let (n, mut c) = node();
    run(&n, &mut c, &["lpush", "l", "a"]);
    let e = error(&run(&n, &mut c, &["eval", "return redis.call('incr', 'l')", "0"]));
    assert!(e.starts_with("WRONGTYPE Operation against a key holding the wrong kind of value script: "), "{e}");
    assert!(e.ends_with(", on @user_script:1."), "{e}");
    let e = error(&run(&n, &mut c, &["eval", "return redis.pcall('incr', 'l')", "0"]));
    assert_eq!(e, "WRONGTYPE Operation against a key holding the wrong kind of value");
    let e = error(&run(&n, &mut c, &["eval", "return redis.call('nosuch')", "0"]));
    assert!(e.starts_with("ERR Unknown Redis command called from script script: "), "{e}");
    let e = error(&run(&n, &mut c, &["eval", "\n\nerror('boom')", "0"]));
    assert!(e.starts_with("ERR user_script:3: boom script: "), "{e}");
    let e = error(&run(&n, &mut c, &["eval", "return a", "0"]));
    assert!(e.starts_with("ERR Script attempted to access nonexistent global variable 'a' script:"), "{e}");
    let e = error(&run(&n, &mut c, &["eval", "a = 1", "0"]));
    assert!(e.contains("Attempt to modify a readonly table"), "{e}");
    let e = error(&run(&n, &mut c, &["eval", "redis.call = nil", "0"]));
    assert!(e.contains("Attempt to modify a readonly table"), "{e}");
    let e = error(&run(&n, &mut c, &["eval", "return redis.call('eval', 'return 1', '0')", "0"]));
    assert!(e.starts_with("ERR This Redis command is not allowed from script"), "{e}");
    let e = error(&run(&n, &mut c, &["eval", "return 'x", "0"]));
    assert!(e.starts_with("ERR Error compiling script (new function): user_script:1: unfinished string"), "{e}");
    assert_eq!(
        error(&run(&n, &mut c, &["evalsha", "ffffffffffffffffffffffffffffffffffffffff", "0"])),
        crate::commands::NOSCRIPT_TEXT
    );
    assert_eq!(
        error(&run(&n, &mut c, &["eval", "return 1", "2", "a"])),
        "ERR Number of keys can't be greater than number of args"
    );
    assert_eq!(error(&run(&n, &mut c, &["eval", "return 1", "-1"])), "ERR Number of keys can't be negative");
    // pcall gets the error text back, and the script goes on.
    let script = "local ok, e = pcall(redis.call, 'incr', 'l'); return e";
    assert_eq!(
        run(&n, &mut c, &["eval", script, "0"]),
        bulk("WRONGTYPE Operation against a key holding the wrong kind of value")
    );
}

#[test]
fn read_only_scripts_refuse_writes() {
    let (n, mut c) = node();
    let e = error(&run(&n, &mut c, &["eval_ro", "return redis.call('set', 'k', 'v')", "1", "k"]));
    assert!(e.starts_with("ERR Write commands are not allowed from read-only scripts."), "{e}");
    let e = error(&run(&n, &mut c, &["eval", "#!lua flags=no-writes\nreturn redis.call('set', 'k', 'v')", "0"]));
    assert!(e.starts_with("ERR Write commands are not allowed from read-only scripts."), "{e}");
    let e = error(&run(&n, &mut c, &["eval_ro", "#!lua\nreturn 1", "0"]));
    assert_eq!(e, "ERR Can not execute a script with write flag using *_ro command.");
    assert_eq!(run(&n, &mut c, &["eval_ro", "#!lua flags=no-writes\nreturn redis.call('get', 'k')", "0"]), Reply::Null);
    let e = error(&run(&n, &mut c, &["eval", "#!lua flags=bogus\nreturn 1", "0"]));
    assert_eq!(e, "ERR Unexpected flag in script shebang: bogus");
    let e = error(&run(&n, &mut c, &["eval", "#!python\nreturn 1", "0"]));
    assert_eq!(e, "ERR Unexpected engine in script shebang: #!python");
}

#[test]
fn script_load_exists_flush() {
    let (n, mut c) = node();
    let sha = run(&n, &mut c, &["script", "load", "return 42"]);
    let Reply::Bulk(sha) = sha else { panic!("{sha:?}") };
    let sha = String::from_utf8_lossy(&sha).into_owned();
    assert_eq!(sha, crate::engine::sha1_hex(b"return 42"));
    assert_eq!(run(&n, &mut c, &["evalsha", &sha, "0"]), Reply::Integer(42));
    assert_eq!(run(&n, &mut c, &["evalsha", &sha.to_uppercase(), "0"]), Reply::Integer(42));
    assert_eq!(
        run(&n, &mut c, &["script", "exists", &sha, "nope"]),
        Reply::Array(vec![Reply::Integer(1), Reply::Integer(0)])
    );
    assert_eq!(run(&n, &mut c, &["script", "flush"]), Reply::ok());
    assert_eq!(run(&n, &mut c, &["script", "exists", &sha]), Reply::Array(vec![Reply::Integer(0)]));
    assert_eq!(error(&run(&n, &mut c, &["script", "kill"])), "NOTBUSY No scripts in execution right now.");
    assert_eq!(error(&run(&n, &mut c, &["script", "flush", "x"])), "ERR SCRIPT FLUSH only support SYNC|ASYNC option");
    assert_eq!(error(&run(&n, &mut c, &["script", "foo"])), "ERR unknown subcommand 'foo'. Try SCRIPT HELP.");
}

#[test]
fn libraries_cjson_bit_msgpack_random() {
    let (n, mut c) = node();
    assert_eq!(run(&n, &mut c, &["eval", "return cjson.encode({1,2,'a'})", "0"]), bulk("[1,2,\"a\"]"));
    assert_eq!(run(&n, &mut c, &["eval", "return cjson.encode({a=1.5})", "0"]), bulk("{\"a\":1.5}"));
    assert_eq!(run(&n, &mut c, &["eval", "return cjson.decode('[1,{\"x\":\"y\"}]')[2].x", "0"]), bulk("y"));
    assert_eq!(run(&n, &mut c, &["eval", "return cjson.decode('null') == cjson.null", "0"]), Reply::Integer(1));
    assert_eq!(run(&n, &mut c, &["eval", "return bit.band(0xff, 0x0f)", "0"]), Reply::Integer(15));
    assert_eq!(run(&n, &mut c, &["eval", "return bit.tohex(65535, 4)", "0"]), bulk("ffff"));
    assert_eq!(run(&n, &mut c, &["eval", "return bit.tobit(0xffffffff)", "0"]), Reply::Integer(-1));
    let script = "local t = cmsgpack.unpack(cmsgpack.pack({1,'two',{x=3}})); return {t[1], t[2], t[3].x}";
    assert_eq!(
        run(&n, &mut c, &["eval", script, "0"]),
        Reply::Array(vec![Reply::Integer(1), bulk("two"), Reply::Integer(3)])
    );
    // Redis's lrand48 from its fixed seed: the same draws on every node.
    let script = "math.randomseed(0); return {math.random(100), math.random(100)}";
    let a = run(&n, &mut c, &["eval", script, "0"]);
    assert_eq!(a, run(&n, &mut c, &["eval", script, "0"]));
}

#[test]
fn functions_load_call_list_delete() {
    let (n, mut c) = node();
    let lib = "#!lua name=mylib\nredis.register_function('myset', function(keys, args) return redis.call('set', keys[1], args[1]) end)\nredis.register_function{function_name='myget', callback=function(keys) return redis.call('get', keys[1]) end, flags={'no-writes'}}";
    assert_eq!(run(&n, &mut c, &["function", "load", lib]), bulk("mylib"));
    assert_eq!(error(&run(&n, &mut c, &["function", "load", lib])), "ERR Library 'mylib' already exists");
    assert_eq!(run(&n, &mut c, &["function", "load", "replace", lib]), bulk("mylib"));
    assert_eq!(run(&n, &mut c, &["fcall", "myset", "1", "k", "v"]), Reply::ok());
    assert_eq!(run(&n, &mut c, &["fcall_ro", "myget", "1", "k"]), bulk("v"));
    let e = error(&run(&n, &mut c, &["fcall_ro", "myset", "1", "k", "v"]));
    assert_eq!(e, "ERR Can not execute a script with write flag using *_ro command.");
    assert_eq!(error(&run(&n, &mut c, &["fcall", "nosuch", "0"])), "ERR Function not found");
    let Reply::Array(libs) = run(&n, &mut c, &["function", "list"]) else { panic!() };
    assert_eq!(libs.len(), 1);
    let dump = run(&n, &mut c, &["function", "dump"]);
    let Reply::Bulk(payload) = dump else { panic!() };
    assert_eq!(run(&n, &mut c, &["function", "delete", "mylib"]), Reply::ok());
    assert_eq!(error(&run(&n, &mut c, &["function", "delete", "mylib"])), "ERR Library not found");
    let restore: Vec<&[u8]> = vec![b"function", b"restore", &payload];
    assert_eq!(dispatch(&n, &mut c, &restore, 0), Reply::ok());
    let mut bad = payload.to_vec();
    bad[6] ^= 1;
    let restore: Vec<&[u8]> = vec![b"function", b"restore", &bad];
    assert_eq!(error(&dispatch(&n, &mut c, &restore, 0)), "ERR DUMP payload version or checksum are wrong");
    assert_eq!(run(&n, &mut c, &["fcall", "myget", "1", "k"]), bulk("v"));
    let e = error(&run(&n, &mut c, &["function", "load", "#!lua name=bad\nredis.call('ping')"]));
    assert!(e.starts_with("ERR Error registering functions: "), "{e}");
    let e = error(&run(&n, &mut c, &["function", "load", "#!lua name=empty\nlocal a = 1"]));
    assert_eq!(e, "ERR No functions registered");
    let e = error(&run(&n, &mut c, &["function", "load", "#!lua name=loop\nwhile true do end"]));
    assert!(e.contains("FUNCTION LOAD timeout"), "{e}");
    assert_eq!(run(&n, &mut c, &["fcall", "myget", "1", "nokey", "x"]), Reply::Null);
}
