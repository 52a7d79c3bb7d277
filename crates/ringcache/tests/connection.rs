//! Connection commands against a real node: PING, ECHO, HELLO, AUTH,
//! SELECT, RESET, QUIT, CLIENT ..., and the connection limits
//! (`maxclients`, `timeout`).
//!
//! Exact reply bytes (errors, RESP3 types) are checked on raw connections;
//! the `redis` crate checks that a real client gets on with the node.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::{call, Server};
use redis::Value;

/// Polls `cond` every 20 ms for up to 5 s.
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        thread::sleep(Duration::from_millis(20));
    }
}

/// The `key=value` field of one CLIENT LIST / CLIENT INFO line.
fn client_field<'a>(line: &'a str, key: &str) -> &'a str {
    line.split_whitespace()
        .find_map(|f| f.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
        .unwrap_or_else(|| panic!("no {key}= in {line:?}"))
}

/// CLIENT LIST through the redis crate, one line per client.
fn client_list(conn: &mut redis::Connection) -> Vec<String> {
    let list: String = redis::cmd("CLIENT").arg("LIST").query(conn).unwrap();
    list.lines().map(str::to_owned).collect()
}

#[test]
fn ping_and_echo() {
    let server = Server::start();
    let mut raw = server.raw();
    assert_eq!(call(&mut raw, &["PING"]), "+PONG\r\n");
    assert_eq!(call(&mut raw, &["PING", "hi there"]), "$8\r\nhi there\r\n");
    assert_eq!(call(&mut raw, &["PING", "a", "b"]), "-ERR wrong number of arguments for 'ping' command\r\n");
    assert_eq!(call(&mut raw, &["ECHO", "hello\r\nworld"]), "$12\r\nhello\r\nworld\r\n");
    assert_eq!(call(&mut raw, &["ECHO", ""]), "$0\r\n\r\n");
    assert_eq!(call(&mut raw, &["echo"]), "-ERR wrong number of arguments for 'echo' command\r\n");
    assert_eq!(call(&mut raw, &["ECHO", "a", "b"]), "-ERR wrong number of arguments for 'echo' command\r\n");

    let mut conn = server.conn();
    let echoed: Vec<u8> = redis::cmd("ECHO").arg(&b"\x00\xffbin"[..]).query(&mut conn).unwrap();
    assert_eq!(echoed, b"\x00\xffbin");
}

#[test]
fn hello_3_switches_to_resp3_and_hello_2_back() {
    let server = Server::start();
    let mut raw = server.raw();
    let id: i64 = call(&mut raw, &["CLIENT", "ID"]).trim_start_matches(':').trim_end().parse().unwrap();

    let hello = call(&mut raw, &["HELLO", "3"]);
    let expected = format!(
        "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n7.2.4\r\n$5\r\nproto\r\n:3\r\n\
         $2\r\nid\r\n:{id}\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n\
         $7\r\nmodules\r\n*0\r\n"
    );
    assert_eq!(hello, expected);
    // RESP3 types from now on: a null, a map.
    assert_eq!(call(&mut raw, &["GET", "missing"]), "_\r\n");
    assert_eq!(call(&mut raw, &["CONFIG", "GET", "maxmemory"]), "%1\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n");
    // HELLO with no version reports the current protocol.
    assert!(call(&mut raw, &["HELLO"]).contains("$5\r\nproto\r\n:3\r\n"));

    let hello2 = call(&mut raw, &["HELLO", "2"]);
    assert!(hello2.starts_with("*14\r\n$6\r\nserver\r\n"), "{hello2:?}");
    assert!(hello2.contains("$5\r\nproto\r\n:2\r\n"), "{hello2:?}");
    assert_eq!(call(&mut raw, &["GET", "missing"]), "$-1\r\n");
    assert_eq!(call(&mut raw, &["CONFIG", "GET", "maxmemory"]), "*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n");

    let list = call(&mut raw, &["CLIENT", "INFO"]);
    assert!(list.contains(" resp=2 "), "{list:?}");
}

#[test]
fn hello_errors_leave_the_protocol_alone() {
    let server = Server::start();
    let mut raw = server.raw();
    assert_eq!(call(&mut raw, &["HELLO", "4"]), "-NOPROTO unsupported protocol version\r\n");
    assert_eq!(call(&mut raw, &["HELLO", "1"]), "-NOPROTO unsupported protocol version\r\n");
    assert_eq!(call(&mut raw, &["HELLO", "x"]), "-ERR Protocol version is not an integer or out of range\r\n");
    assert_eq!(call(&mut raw, &["HELLO", "3", "FOO"]), "-ERR Syntax error in HELLO option 'FOO'\r\n");
    // AUTH needs two values, SETNAME one.
    assert_eq!(call(&mut raw, &["HELLO", "3", "AUTH", "default"]), "-ERR Syntax error in HELLO option 'AUTH'\r\n");
    assert_eq!(call(&mut raw, &["HELLO", "3", "SETNAME"]), "-ERR Syntax error in HELLO option 'SETNAME'\r\n");
    assert_eq!(
        call(&mut raw, &["HELLO", "3", "SETNAME", "two words"]),
        "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
    );
    assert_eq!(call(&mut raw, &["GET", "missing"]), "$-1\r\n", "still RESP2");
    assert_eq!(call(&mut raw, &["CLIENT", "GETNAME"]), "$-1\r\n");

    // Without requirepass, `default` takes any password.
    let hello = call(&mut raw, &["HELLO", "3", "AUTH", "default", "whatever", "SETNAME", "worker-1"]);
    assert!(hello.starts_with("%7\r\n"), "{hello:?}");
    assert_eq!(call(&mut raw, &["CLIENT", "GETNAME"]), "$8\r\nworker-1\r\n");
    assert_eq!(
        call(&mut raw, &["HELLO", "3", "AUTH", "bob", "x"]),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
}

#[test]
fn redis_crate_speaks_resp3() {
    let server = Server::start();
    let mut conn = server.conn_resp3();
    let map: Value = redis::cmd("CONFIG").arg("GET").arg("maxmemory").query(&mut conn).unwrap();
    assert!(matches!(map, Value::Map(ref pairs) if pairs.len() == 1), "{map:?}");
    let info: Value = redis::cmd("CLIENT").arg("INFO").query(&mut conn).unwrap();
    match info {
        Value::VerbatimString { text, .. } => assert!(text.contains(" resp=3 "), "{text}"),
        other => panic!("CLIENT INFO in RESP3 is not verbatim: {other:?}"),
    }
}

#[test]
fn auth_without_requirepass() {
    let server = Server::start();
    let mut raw = server.raw();
    assert_eq!(
        call(&mut raw, &["AUTH", "x"]),
        "-ERR AUTH <password> called without any password configured for the default user. \
         Are you sure your configuration is correct?\r\n"
    );
    assert_eq!(call(&mut raw, &["AUTH", "default", "anything"]), "+OK\r\n");
    assert_eq!(
        call(&mut raw, &["AUTH", "bob", "x"]),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(call(&mut raw, &["AUTH", "a", "b", "c"]), "-ERR syntax error\r\n");
    assert_eq!(call(&mut raw, &["AUTH"]), "-ERR wrong number of arguments for 'auth' command\r\n");
}

#[test]
fn requirepass_gates_commands_until_auth() {
    let server = Server::start_with(&["--requirepass", "secret"]);
    let mut raw = server.raw();
    assert_eq!(call(&mut raw, &["GET", "k"]), "-NOAUTH Authentication required.\r\n");
    assert_eq!(call(&mut raw, &["CLIENT", "ID"]), "-NOAUTH Authentication required.\r\n");
    assert_eq!(
        call(&mut raw, &["AUTH", "wrong"]),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(
        call(&mut raw, &["AUTH", "default", "wrong"]),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(call(&mut raw, &["GET", "k"]), "-NOAUTH Authentication required.\r\n");
    assert_eq!(call(&mut raw, &["AUTH", "secret"]), "+OK\r\n");
    assert_eq!(call(&mut raw, &["SET", "k", "v"]), "+OK\r\n");
    // A failed AUTH does not log an authenticated client out.
    assert_eq!(call(&mut raw, &["AUTH", "nope"]), "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
    assert_eq!(call(&mut raw, &["GET", "k"]), "$1\r\nv\r\n");
    // RESET logs out.
    assert_eq!(call(&mut raw, &["RESET"]), "+RESET\r\n");
    assert_eq!(call(&mut raw, &["GET", "k"]), "-NOAUTH Authentication required.\r\n");
    assert_eq!(call(&mut raw, &["AUTH", "default", "secret"]), "+OK\r\n");
    assert_eq!(call(&mut raw, &["GET", "k"]), "$1\r\nv\r\n");

    // The redis crate authenticates from the URL.
    let url = format!("redis://:secret@127.0.0.1:{}/", server.port);
    let mut conn = redis::Client::open(url).unwrap().get_connection().unwrap();
    let v: String = redis::cmd("GET").arg("k").query(&mut conn).unwrap();
    assert_eq!(v, "v");
}

#[test]
fn config_set_requirepass_applies_to_new_connections() {
    let server = Server::start();
    let mut admin = server.raw();
    assert_eq!(call(&mut admin, &["SET", "k", "v"]), "+OK\r\n");
    assert_eq!(call(&mut admin, &["CONFIG", "SET", "requirepass", "s3cret"]), "+OK\r\n");
    // Connected clients stay logged in, as in Redis.
    assert_eq!(call(&mut admin, &["GET", "k"]), "$1\r\nv\r\n");
    let mut fresh = server.raw();
    assert_eq!(call(&mut fresh, &["GET", "k"]), "-NOAUTH Authentication required.\r\n");
    assert_eq!(call(&mut fresh, &["AUTH", "s3cret"]), "+OK\r\n");
    assert_eq!(call(&mut fresh, &["GET", "k"]), "$1\r\nv\r\n");
    assert_eq!(server.cli(&["-a", "s3cret", "--no-auth-warning", "get", "k"]), "v");
    let denied = server.cli_output(&["get", "k"], None);
    assert!(denied.stdout.contains("NOAUTH"), "{denied:?}");

    assert_eq!(call(&mut admin, &["CONFIG", "SET", "requirepass", ""]), "+OK\r\n");
    let mut free = server.raw();
    assert_eq!(call(&mut free, &["GET", "k"]), "$1\r\nv\r\n");
}

#[test]
fn hello_auth_with_requirepass() {
    let server = Server::start_with(&["--requirepass", "secret"]);
    let mut raw = server.raw();
    assert_eq!(
        call(&mut raw, &["HELLO", "3"]),
        "-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> \
         AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol \
         version at the same time\r\n"
    );
    assert_eq!(
        call(&mut raw, &["HELLO", "3", "AUTH", "default", "wrong"]),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(call(&mut raw, &["GET", "k"]), "-NOAUTH Authentication required.\r\n");
    let hello = call(&mut raw, &["HELLO", "3", "AUTH", "default", "secret"]);
    assert!(hello.starts_with("%7\r\n$6\r\nserver\r\n"), "{hello:?}");
    assert_eq!(call(&mut raw, &["GET", "k"]), "_\r\n");

    // The redis crate's RESP3 handshake carries the password in HELLO.
    let url = format!("redis://:secret@127.0.0.1:{}/?protocol=resp3", server.port);
    let mut conn = redis::Client::open(url).unwrap().get_connection().unwrap();
    let map: Value = redis::cmd("CONFIG").arg("GET").arg("timeout").query(&mut conn).unwrap();
    assert!(matches!(map, Value::Map(_)), "{map:?}");
}

#[test]
fn select_checks_the_index() {
    let server = Server::start();
    let mut raw = server.raw();
    assert_eq!(call(&mut raw, &["SELECT", "0"]), "+OK\r\n");
    assert_eq!(call(&mut raw, &["SELECT", "15"]), "+OK\r\n");
    assert_eq!(call(&mut raw, &["SELECT", "16"]), "-ERR DB index is out of range\r\n");
    assert_eq!(call(&mut raw, &["SELECT", "-1"]), "-ERR DB index is out of range\r\n");
    assert_eq!(call(&mut raw, &["SELECT", "x"]), "-ERR value is not an integer or out of range\r\n");
    assert_eq!(call(&mut raw, &["SELECT", "4294967296"]), "-ERR value is not an integer or out of range\r\n");
    assert_eq!(call(&mut raw, &["SELECT"]), "-ERR wrong number of arguments for 'select' command\r\n");
}

#[test]
fn reset_restores_a_fresh_connection() {
    let server = Server::start();
    let mut raw = server.raw();
    let mut other = server.conn();
    assert_eq!(call(&mut raw, &["CLIENT", "SETNAME", "before"]), "+OK\r\n");
    assert_eq!(call(&mut raw, &["WATCH", "w"]), "+OK\r\n");
    assert!(call(&mut raw, &["HELLO", "3"]).starts_with("%7"));
    assert_eq!(call(&mut raw, &["MULTI"]), "+OK\r\n");
    assert_eq!(call(&mut raw, &["SET", "k", "v"]), "+QUEUED\r\n");
    // RESET is not queued: it ends the transaction at once.
    assert_eq!(call(&mut raw, &["RESET"]), "+RESET\r\n");
    assert_eq!(call(&mut raw, &["EXEC"]), "-ERR EXEC without MULTI\r\n");
    assert_eq!(call(&mut raw, &["GET", "k"]), "$-1\r\n", "back to RESP2, and SET was never run");
    assert_eq!(call(&mut raw, &["CLIENT", "GETNAME"]), "$-1\r\n");
    // The WATCH is gone: a change to w does not abort the next transaction.
    let _: () = redis::cmd("SET").arg("w").arg("changed").query(&mut other).unwrap();
    assert_eq!(call(&mut raw, &["MULTI"]), "+OK\r\n");
    assert_eq!(call(&mut raw, &["SET", "k", "v"]), "+QUEUED\r\n");
    assert_eq!(call(&mut raw, &["EXEC"]), "*1\r\n+OK\r\n");
    assert_eq!(call(&mut raw, &["RESET", "x"]), "-ERR wrong number of arguments for 'reset' command\r\n");
}

#[test]
fn quit_replies_then_closes() {
    let server = Server::start();
    let mut raw = server.raw();
    raw.send(&[common::encode_cmd(&["QUIT"]), common::encode_cmd(&["PING"])].concat());
    assert_eq!(raw.read_until_closed(), b"+OK\r\n");
}

#[test]
fn client_id_name_info_and_list() {
    let server = Server::start();
    let mut conn = server.conn();
    let id: i64 = redis::cmd("CLIENT").arg("ID").query(&mut conn).unwrap();
    let name: Option<String> = redis::cmd("CLIENT").arg("GETNAME").query(&mut conn).unwrap();
    assert_eq!(name, None);
    let _: () = redis::cmd("CLIENT").arg("SETNAME").arg("app-1").query(&mut conn).unwrap();
    let name: Option<String> = redis::cmd("CLIENT").arg("GETNAME").query(&mut conn).unwrap();
    assert_eq!(name.as_deref(), Some("app-1"));

    let info: String = redis::cmd("CLIENT").arg("INFO").query(&mut conn).unwrap();
    assert!(info.ends_with('\n') && info.lines().count() == 1, "{info:?}");
    assert_eq!(client_field(&info, "id"), id.to_string());
    assert_eq!(client_field(&info, "name"), "app-1");
    assert_eq!(client_field(&info, "cmd"), "client|info");
    assert_eq!(client_field(&info, "laddr"), format!("127.0.0.1:{}", server.port));
    assert_eq!(client_field(&info, "resp"), "2");

    let mut other = server.raw();
    assert_eq!(call(&mut other, &["CLIENT", "SETNAME", "other"]), "+OK\r\n");
    let lines = client_list(&mut conn);
    assert_eq!(lines.len(), 2, "{lines:?}");
    let mine = lines.iter().find(|l| client_field(l, "id") == id.to_string()).expect("own line");
    assert_eq!(client_field(mine, "name"), "app-1");
    assert_eq!(client_field(mine, "cmd"), "client|list");
    assert!(lines.iter().any(|l| client_field(l, "name") == "other"));

    // Filters.
    let only_me: String = redis::cmd("CLIENT").arg("LIST").arg("ID").arg(id).arg(999_999).query(&mut conn).unwrap();
    assert_eq!(only_me.lines().count(), 1);
    assert_eq!(client_field(&only_me, "id"), id.to_string());
    let normal: String = redis::cmd("CLIENT").arg("LIST").arg("TYPE").arg("normal").query(&mut conn).unwrap();
    assert_eq!(normal.lines().count(), 2);
    let pubsub: String = redis::cmd("CLIENT").arg("LIST").arg("TYPE").arg("pubsub").query(&mut conn).unwrap();
    assert_eq!(pubsub, "");

    // Clearing the name with an empty one.
    assert_eq!(call(&mut other, &["CLIENT", "SETNAME", ""]), "+OK\r\n");
    assert_eq!(call(&mut other, &["CLIENT", "GETNAME"]), "$-1\r\n");

    // In RESP3, LIST and INFO are verbatim strings.
    assert!(call(&mut other, &["HELLO", "3"]).starts_with("%7"));
    let verbatim = call(&mut other, &["CLIENT", "LIST", "ID", &id.to_string()]);
    assert!(verbatim.starts_with('=') && verbatim.contains("\r\ntxt:id="), "{verbatim:?}");
    let verbatim = call(&mut other, &["CLIENT", "INFO"]);
    assert!(verbatim.starts_with('=') && verbatim.contains(" resp=3 "), "{verbatim:?}");
}

/// A named client's query buffer as CLIENT LIST shows it: `qbuf` and
/// `qbuf-free`.
fn query_buffer(conn: &mut redis::Connection, name: &str) -> (usize, usize) {
    let lines = client_list(conn);
    let line = lines.iter().find(|l| client_field(l, "name") == name).unwrap_or_else(|| panic!("no {name}"));
    (client_field(line, "qbuf").parse().unwrap(), client_field(line, "qbuf-free").parse().unwrap())
}

#[test]
fn query_buffer_shows_its_room_and_an_idle_client_gives_it_back() {
    let server = Server::start();
    let mut conn = server.conn();
    // After a command, a 16 KiB read's room, as Redis keeps.
    let mut idle = server.raw();
    assert_eq!(call(&mut idle, &["CLIENT", "SETNAME", "idle"]), "+OK\r\n");
    let (qbuf, free) = query_buffer(&mut conn, "idle");
    assert_eq!(qbuf, 0);
    assert!((16384..32768).contains(&free), "qbuf-free={free}");

    // The start of a large argument makes room for all of it at once.
    let mut fat = server.raw();
    assert_eq!(call(&mut fat, &["CLIENT", "SETNAME", "fat"]), "+OK\r\n");
    fat.send(b"*3\r\n$3\r\nset\r\n$1\r\na\r\n$1000000\r\n");
    eventually("room for the whole argument", || {
        let (qbuf, free) = query_buffer(&mut conn, "fat");
        qbuf > 0 && qbuf + free >= 1_000_000
    });

    // Idle for 2 s, both give the room back: nothing is left of an empty
    // buffer, and a partial command keeps only its own bytes.
    eventually("idle buffers shrink", || query_buffer(&mut conn, "idle") == (0, 0));
    eventually("the partial command keeps its bytes", || {
        let (qbuf, free) = query_buffer(&mut conn, "fat");
        qbuf > 0 && free == 0
    });

    // Both still work: the argument completes, and the idle client runs
    // commands again.
    fat.send(&vec![b'x'; 1_000_000]);
    fat.send(b"\r\n");
    assert_eq!(fat.read_reply_string(), "+OK\r\n");
    let got: String = redis::cmd("GET").arg("a").query(&mut conn).unwrap();
    assert_eq!(got.len(), 1_000_000);
    assert_eq!(call(&mut idle, &["PING"]), "+PONG\r\n");
    let (qbuf, free) = query_buffer(&mut conn, "idle");
    assert!(qbuf == 0 && free >= 16384, "qbuf={qbuf} qbuf-free={free}");
}

#[test]
fn client_errors() {
    let server = Server::start();
    let mut raw = server.raw();
    assert_eq!(
        call(&mut raw, &["CLIENT", "SETNAME", "two words"]),
        "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
    );
    assert_eq!(
        call(&mut raw, &["CLIENT", "SETNAME", "new\nline"]),
        "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
    );
    assert_eq!(call(&mut raw, &["CLIENT", "FOO"]), "-ERR unknown subcommand 'FOO'. Try CLIENT HELP.\r\n");
    assert_eq!(call(&mut raw, &["client", "foo"]), "-ERR unknown subcommand 'foo'. Try CLIENT HELP.\r\n");
    assert_eq!(call(&mut raw, &["CLIENT"]), "-ERR wrong number of arguments for 'client' command\r\n");
    assert_eq!(
        call(&mut raw, &["CLIENT", "GETNAME", "x"]),
        "-ERR wrong number of arguments for 'client|getname' command\r\n"
    );
    assert_eq!(
        call(&mut raw, &["CLIENT", "SETNAME"]),
        "-ERR wrong number of arguments for 'client|setname' command\r\n"
    );
    assert_eq!(call(&mut raw, &["CLIENT", "KILL"]), "-ERR wrong number of arguments for 'client|kill' command\r\n");
    assert_eq!(call(&mut raw, &["CLIENT", "LIST", "FOO"]), "-ERR syntax error\r\n");
    assert_eq!(call(&mut raw, &["CLIENT", "LIST", "TYPE", "foo"]), "-ERR Unknown client type 'foo'\r\n");
    assert_eq!(call(&mut raw, &["CLIENT", "LIST", "ID", "x"]), "-ERR Invalid client ID\r\n");
    assert_eq!(call(&mut raw, &["CLIENT", "KILL", "ID", "0"]), "-ERR client-id should be greater than 0\r\n");
    assert_eq!(call(&mut raw, &["CLIENT", "KILL", "ID", "x"]), "-ERR client-id should be greater than 0\r\n");
    assert_eq!(call(&mut raw, &["CLIENT", "KILL", "USER", "bob"]), "-ERR No such user 'bob'\r\n");
    assert_eq!(call(&mut raw, &["CLIENT", "KILL", "TYPE", "foo"]), "-ERR Unknown client type 'foo'\r\n");
    assert_eq!(call(&mut raw, &["CLIENT", "KILL", "SKIPME", "maybe"]), "-ERR syntax error\r\n");
    assert_eq!(call(&mut raw, &["CLIENT", "KILL", "FOO", "bar"]), "-ERR syntax error\r\n");
    assert_eq!(call(&mut raw, &["CLIENT", "KILL", "ID", "1", "ADDR"]), "-ERR syntax error\r\n");
    assert_eq!(call(&mut raw, &["CLIENT", "KILL", "1.2.3.4:5"]), "-ERR No such client\r\n");
    // Nothing above closed the connection.
    assert_eq!(call(&mut raw, &["PING"]), "+PONG\r\n");

    let help = call(&mut raw, &["CLIENT", "HELP"]);
    assert!(help.starts_with("*"), "{help:?}");
    assert!(help.contains("+CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n"), "{help:?}");
    assert!(help.contains("+SETNAME <name>\r\n") && help.ends_with("+HELP\r\n+    Prints this help.\r\n"));
}

#[test]
fn client_setinfo() {
    let server = Server::start();
    let mut raw = server.raw();
    assert_eq!(call(&mut raw, &["CLIENT", "SETINFO", "LIB-NAME", "redis-rs"]), "+OK\r\n");
    assert_eq!(call(&mut raw, &["CLIENT", "SETINFO", "lib-ver", "0.27.6"]), "+OK\r\n");
    let info = call(&mut raw, &["CLIENT", "INFO"]);
    assert!(info.contains(" lib-name=redis-rs lib-ver=0.27.6\n"), "{info:?}");
    assert_eq!(call(&mut raw, &["CLIENT", "SETINFO", "lib-foo", "x"]), "-ERR Unrecognized option 'lib-foo'\r\n");
    assert_eq!(
        call(&mut raw, &["CLIENT", "SETINFO", "lib-name", "a b"]),
        "-ERR lib-name cannot contain spaces, newlines or special characters.\r\n"
    );
    assert_eq!(
        call(&mut raw, &["CLIENT", "SETINFO", "lib-name"]),
        "-ERR wrong number of arguments for 'client|setinfo' command\r\n"
    );
}

#[test]
fn client_kill_closes_the_other_connection() {
    let server = Server::start();
    let mut killer = server.raw();
    let mut victim = server.raw();
    let victim_id = call(&mut victim, &["CLIENT", "ID"]).trim_start_matches(':').trim_end().to_owned();
    assert_eq!(call(&mut killer, &["CLIENT", "KILL", "ID", &victim_id]), ":1\r\n");
    assert!(victim.wait_closed(Duration::from_secs(5)), "killed connection still open");
    assert_eq!(call(&mut killer, &["CLIENT", "KILL", "ID", &victim_id]), ":0\r\n");

    // The old form takes the peer address and answers OK.
    let mut victim = server.raw();
    let info = call(&mut victim, &["CLIENT", "INFO"]);
    let addr = client_field(&info, "addr").to_owned();
    assert_eq!(call(&mut killer, &["CLIENT", "KILL", &addr]), "+OK\r\n");
    assert!(victim.wait_closed(Duration::from_secs(5)));
    eventually("the killed client leaves CLIENT LIST", || {
        !call(&mut killer, &["CLIENT", "LIST"]).contains(&format!("addr={addr} "))
    });
    assert_eq!(call(&mut killer, &["CLIENT", "KILL", &addr]), "-ERR No such client\r\n");

    // ADDR and LADDR filters; SKIPME defaults to yes.
    let mut victim = server.raw();
    let addr = client_field(&call(&mut victim, &["CLIENT", "INFO"]), "addr").to_owned();
    let laddr = format!("127.0.0.1:{}", server.port);
    assert_eq!(call(&mut killer, &["CLIENT", "KILL", "ADDR", &addr, "LADDR", "10.0.0.1:1"]), ":0\r\n");
    assert_eq!(call(&mut killer, &["CLIENT", "KILL", "LADDR", &laddr, "USER", "default"]), ":1\r\n");
    assert!(victim.wait_closed(Duration::from_secs(5)));
    assert_eq!(call(&mut killer, &["PING"]), "+PONG\r\n", "SKIPME yes spared the caller");
}

#[test]
fn client_kill_of_oneself_replies_then_closes() {
    let server = Server::start();
    let mut raw = server.raw();
    let id = call(&mut raw, &["CLIENT", "ID"]).trim_start_matches(':').trim_end().to_owned();
    assert_eq!(call(&mut raw, &["CLIENT", "KILL", "ID", &id, "SKIPME", "yes"]), ":0\r\n");
    assert_eq!(call(&mut raw, &["CLIENT", "KILL", "ID", &id, "SKIPME", "no"]), ":1\r\n");
    assert!(raw.wait_closed(Duration::from_secs(5)), "connection open after killing itself");

    // Through the redis crate, a killed connection errors on its next use.
    let mut conn = server.conn();
    let mut killer = server.conn();
    let id: i64 = redis::cmd("CLIENT").arg("ID").query(&mut conn).unwrap();
    let n: i64 = redis::cmd("CLIENT").arg("KILL").arg("ID").arg(id).query(&mut killer).unwrap();
    assert_eq!(n, 1);
    eventually("the killed connection errors", || redis::cmd("PING").query::<String>(&mut conn).is_err());
}

#[test]
fn maxclients_refuses_extra_connections() {
    let server = Server::start_with(&["--maxclients", "2"]);
    let mut first = server.raw();
    // The harness's readiness probe may not have been unregistered yet.
    eventually("only this client is connected", || call(&mut first, &["CLIENT", "LIST"]).matches("id=").count() == 1);
    let mut second = server.raw();
    assert_eq!(call(&mut second, &["PING"]), "+PONG\r\n");
    let mut third = server.raw();
    assert_eq!(third.read_until_closed(), b"-ERR max number of clients reached\r\n");
    let info = call(&mut first, &["INFO", "stats"]);
    assert!(info.contains("\r\nrejected_connections:1\r\n"), "{info:?}");

    // A freed slot can be used again.
    drop(second);
    eventually("the closed client is unregistered", || {
        call(&mut first, &["CLIENT", "LIST"]).matches("id=").count() == 1
    });
    let mut fourth = server.raw();
    assert_eq!(call(&mut fourth, &["PING"]), "+PONG\r\n");
}

#[test]
fn timeout_closes_idle_clients() {
    let server = Server::start_with(&["--timeout", "1"]);
    let mut idle = server.raw();
    assert_eq!(call(&mut idle, &["PING"]), "+PONG\r\n");
    let since = Instant::now();
    let mut busy = server.raw();
    // The busy client sends a command every 300 ms and stays connected.
    while since.elapsed() < Duration::from_millis(1800) {
        assert_eq!(call(&mut busy, &["PING"]), "+PONG\r\n");
        thread::sleep(Duration::from_millis(300));
    }
    assert!(idle.wait_closed(Duration::from_secs(2)), "idle client still open after {:?}", since.elapsed());
    assert!(since.elapsed() <= Duration::from_secs(4));
    assert_eq!(call(&mut busy, &["PING"]), "+PONG\r\n");

    // CONFIG SET timeout 0 turns it off for new connections.
    assert_eq!(call(&mut busy, &["CONFIG", "SET", "timeout", "0"]), "+OK\r\n");
    let mut quiet = server.raw();
    assert_eq!(call(&mut quiet, &["PING"]), "+PONG\r\n");
    assert!(!quiet.wait_closed(Duration::from_millis(1500)));
}
