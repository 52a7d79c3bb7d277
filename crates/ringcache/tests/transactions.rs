//! MULTI / EXEC / DISCARD / WATCH / UNWATCH against a real node: Redis's
//! replies and errors, optimistic locking, and atomicity as seen by another
//! client.
//!
//! Expected bytes were taken from redis-server 7 answering the same input.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use common::{encode_cmd, RawConn, Server};

fn send(raw: &mut RawConn, line: &str) -> String {
    raw.send(format!("{line}\r\n").as_bytes());
    raw.read_reply_string()
}

#[test]
fn exec_returns_the_array_of_replies() {
    let server = Server::start();
    let mut raw = server.raw();
    assert_eq!(send(&mut raw, "MULTI"), "+OK\r\n");
    assert_eq!(send(&mut raw, "SET tx:a 1"), "+QUEUED\r\n");
    assert_eq!(send(&mut raw, "GET tx:a"), "+QUEUED\r\n");
    assert_eq!(send(&mut raw, "GET tx:missing"), "+QUEUED\r\n");
    assert_eq!(send(&mut raw, "PING"), "+QUEUED\r\n");
    assert_eq!(send(&mut raw, "EXEC"), "*4\r\n+OK\r\n$1\r\n1\r\n$-1\r\n+PONG\r\n");
    // An empty transaction is an empty array.
    assert_eq!(send(&mut raw, "MULTI"), "+OK\r\n");
    assert_eq!(send(&mut raw, "EXEC"), "*0\r\n");
    // Commands are not run until EXEC: another client sees nothing.
    assert_eq!(send(&mut raw, "MULTI"), "+OK\r\n");
    assert_eq!(send(&mut raw, "SET tx:later 1"), "+QUEUED\r\n");
    let mut other = server.conn();
    let seen: Option<String> = redis::cmd("GET").arg("tx:later").query(&mut other).unwrap();
    assert_eq!(seen, None);
    assert_eq!(send(&mut raw, "EXEC"), "*1\r\n+OK\r\n");
    let seen: Option<String> = redis::cmd("GET").arg("tx:later").query(&mut other).unwrap();
    assert_eq!(seen.as_deref(), Some("1"));
}

#[test]
fn the_redis_crate_runs_atomic_pipelines() {
    let server = Server::start();
    let mut conn = server.conn();
    let (a, b): (String, Option<String>) = redis::pipe()
        .atomic()
        .cmd("SET")
        .arg("tx:x")
        .arg("42")
        .ignore()
        .cmd("GET")
        .arg("tx:x")
        .cmd("GET")
        .arg("tx:y")
        .query(&mut conn)
        .unwrap();
    assert_eq!(a, "42");
    assert_eq!(b, None);
}

#[test]
fn discard_drops_the_queue() {
    let server = Server::start();
    let mut raw = server.raw();
    assert_eq!(send(&mut raw, "MULTI"), "+OK\r\n");
    assert_eq!(send(&mut raw, "SET tx:d 1"), "+QUEUED\r\n");
    assert_eq!(send(&mut raw, "DISCARD"), "+OK\r\n");
    assert_eq!(send(&mut raw, "GET tx:d"), "$-1\r\n");
    assert_eq!(send(&mut raw, "EXEC"), "-ERR EXEC without MULTI\r\n");
    assert_eq!(send(&mut raw, "DISCARD"), "-ERR DISCARD without MULTI\r\n");
}

#[test]
fn exec_and_discard_without_multi() {
    let server = Server::start();
    let mut raw = server.raw();
    assert_eq!(send(&mut raw, "EXEC"), "-ERR EXEC without MULTI\r\n");
    assert_eq!(send(&mut raw, "DISCARD"), "-ERR DISCARD without MULTI\r\n");
    assert_eq!(send(&mut raw, "EXEC x"), "-ERR wrong number of arguments for 'exec' command\r\n");
    assert_eq!(send(&mut raw, "MULTI x"), "-ERR wrong number of arguments for 'multi' command\r\n");
    assert_eq!(send(&mut raw, "WATCH"), "-ERR wrong number of arguments for 'watch' command\r\n");
    assert_eq!(send(&mut raw, "PING"), "+PONG\r\n");
}

#[test]
fn nested_multi_and_watch_inside_multi_are_errors_that_keep_the_transaction() {
    let server = Server::start();
    let mut raw = server.raw();
    assert_eq!(send(&mut raw, "MULTI"), "+OK\r\n");
    assert_eq!(send(&mut raw, "MULTI"), "-ERR MULTI calls can not be nested\r\n");
    assert_eq!(send(&mut raw, "WATCH tx:w"), "-ERR WATCH inside MULTI is not allowed\r\n");
    assert_eq!(send(&mut raw, "SET tx:n 1"), "+QUEUED\r\n");
    // Neither error makes EXEC fail (Redis only flags rejected commands).
    assert_eq!(send(&mut raw, "EXEC"), "*1\r\n+OK\r\n");
    assert_eq!(send(&mut raw, "GET tx:n"), "$1\r\n1\r\n");
}

#[test]
fn a_command_refused_while_queueing_aborts_exec() {
    let server = Server::start();
    let mut raw = server.raw();
    for bad in ["GET", "SET tx:k", "NOSUCHCMD a"] {
        assert_eq!(send(&mut raw, "MULTI"), "+OK\r\n");
        assert_eq!(send(&mut raw, "SET tx:k before"), "+QUEUED\r\n");
        let reply = send(&mut raw, bad);
        assert!(reply.starts_with("-ERR "), "{bad}: {reply}");
        assert_eq!(send(&mut raw, "SET tx:k after"), "+QUEUED\r\n");
        assert_eq!(send(&mut raw, "EXEC"), "-EXECABORT Transaction discarded because of previous errors.\r\n", "{bad}");
        // Nothing of the transaction ran, and it is over.
        assert_eq!(send(&mut raw, "GET tx:k"), "$-1\r\n", "{bad}");
        assert_eq!(send(&mut raw, "EXEC"), "-ERR EXEC without MULTI\r\n");
    }
    // The exact texts, as Redis queues them.
    assert_eq!(send(&mut raw, "MULTI"), "+OK\r\n");
    assert_eq!(send(&mut raw, "GET"), "-ERR wrong number of arguments for 'get' command\r\n");
    assert_eq!(send(&mut raw, "FOO a"), "-ERR unknown command 'FOO', with args beginning with: 'a' \r\n");
    assert_eq!(send(&mut raw, "DISCARD"), "+OK\r\n");
}

#[test]
fn errors_at_exec_time_do_not_stop_the_other_commands() {
    // SET's options are parsed when it runs, so a bad option is a runtime
    // error inside EXEC: Redis runs every other command and reports it in
    // its slot of the reply.
    let server = Server::start();
    let mut raw = server.raw();
    assert_eq!(send(&mut raw, "MULTI"), "+OK\r\n");
    for cmd in ["SET tx:r1 1", "SET tx:r2 1 EX -5", "SET tx:r3 1 NX XX", "SET tx:r4 1 PX 0", "SET tx:r5 5", "GET tx:r1"]
    {
        assert_eq!(send(&mut raw, cmd), "+QUEUED\r\n", "{cmd}");
    }
    assert_eq!(
        send(&mut raw, "EXEC"),
        "*6\r\n+OK\r\n-ERR invalid expire time in 'set' command\r\n-ERR syntax error\r\n\
         -ERR invalid expire time in 'set' command\r\n+OK\r\n$1\r\n1\r\n"
    );
    assert_eq!(send(&mut raw, "GET tx:r5"), "$1\r\n5\r\n");
    assert_eq!(send(&mut raw, "GET tx:r2"), "$-1\r\n");
}

#[test]
fn watch_aborts_exec_when_another_client_modifies_the_key() {
    let server = Server::start();
    let mut raw = server.raw();
    let mut other = server.conn();
    let _: () = redis::cmd("SET").arg("tx:w").arg("0").query(&mut other).unwrap();
    assert_eq!(send(&mut raw, "WATCH tx:w"), "+OK\r\n");
    assert_eq!(send(&mut raw, "MULTI"), "+OK\r\n");
    assert_eq!(send(&mut raw, "SET tx:w mine"), "+QUEUED\r\n");
    assert_eq!(send(&mut raw, "SET tx:side mine"), "+QUEUED\r\n");
    let _: () = redis::cmd("SET").arg("tx:w").arg("theirs").query(&mut other).unwrap();
    // RESP2's null array.
    assert_eq!(send(&mut raw, "EXEC"), "*-1\r\n");
    assert_eq!(send(&mut raw, "GET tx:w"), "$6\r\ntheirs\r\n");
    assert_eq!(send(&mut raw, "GET tx:side"), "$-1\r\n", "no queued command ran");
    // The watch is gone after EXEC: the next transaction runs.
    let _: () = redis::cmd("SET").arg("tx:w").arg("again").query(&mut other).unwrap();
    assert_eq!(send(&mut raw, "MULTI"), "+OK\r\n");
    assert_eq!(send(&mut raw, "GET tx:w"), "+QUEUED\r\n");
    assert_eq!(send(&mut raw, "EXEC"), "*1\r\n$5\r\nagain\r\n");
}

#[test]
fn watch_aborts_on_creation_and_on_the_watchers_own_write() {
    let server = Server::start();
    let mut raw = server.raw();
    let mut other = server.conn();
    // A missing key that another client creates.
    assert_eq!(send(&mut raw, "WATCH tx:new"), "+OK\r\n");
    let _: () = redis::cmd("SET").arg("tx:new").arg("1").query(&mut other).unwrap();
    assert_eq!(send(&mut raw, "MULTI"), "+OK\r\n");
    assert_eq!(send(&mut raw, "EXEC"), "*-1\r\n");
    // The watching client's own write before MULTI counts too.
    assert_eq!(send(&mut raw, "WATCH tx:new"), "+OK\r\n");
    assert_eq!(send(&mut raw, "SET tx:new 2"), "+OK\r\n");
    assert_eq!(send(&mut raw, "MULTI"), "+OK\r\n");
    assert_eq!(send(&mut raw, "PING"), "+QUEUED\r\n");
    assert_eq!(send(&mut raw, "EXEC"), "*-1\r\n");
    // A write of the same value is still a write.
    assert_eq!(send(&mut raw, "WATCH tx:new"), "+OK\r\n");
    let _: () = redis::cmd("SET").arg("tx:new").arg("2").query(&mut other).unwrap();
    assert_eq!(send(&mut raw, "MULTI"), "+OK\r\n");
    assert_eq!(send(&mut raw, "EXEC"), "*-1\r\n");
}

#[test]
fn watch_without_modification_succeeds() {
    let server = Server::start();
    let mut raw = server.raw();
    let mut other = server.conn();
    assert_eq!(send(&mut raw, "SET tx:u 1"), "+OK\r\n");
    assert_eq!(send(&mut raw, "WATCH tx:u tx:missing tx:u"), "+OK\r\n");
    // Reading a watched key, or writing another key, is no modification.
    let _: Option<String> = redis::cmd("GET").arg("tx:u").query(&mut other).unwrap();
    let _: () = redis::cmd("SET").arg("tx:unrelated").arg("1").query(&mut other).unwrap();
    assert_eq!(send(&mut raw, "MULTI"), "+OK\r\n");
    assert_eq!(send(&mut raw, "SET tx:u 2"), "+QUEUED\r\n");
    assert_eq!(send(&mut raw, "EXEC"), "*1\r\n+OK\r\n");
    assert_eq!(send(&mut raw, "GET tx:u"), "$1\r\n2\r\n");
}

#[test]
fn two_clients_watching_the_same_key() {
    let server = Server::start();
    let mut a = server.raw();
    let mut b = server.raw();
    assert_eq!(send(&mut a, "WATCH tx:shared"), "+OK\r\n");
    assert_eq!(send(&mut b, "WATCH tx:shared"), "+OK\r\n");
    // B stops watching; A still watches.
    assert_eq!(send(&mut b, "UNWATCH"), "+OK\r\n");
    assert_eq!(send(&mut b, "SET tx:shared b"), "+OK\r\n");
    assert_eq!(send(&mut a, "MULTI"), "+OK\r\n");
    assert_eq!(send(&mut a, "SET tx:shared a"), "+QUEUED\r\n");
    assert_eq!(send(&mut a, "EXEC"), "*-1\r\n");
    // Both watch; A's successful EXEC modifies the key, so B's aborts.
    assert_eq!(send(&mut a, "WATCH tx:shared"), "+OK\r\n");
    assert_eq!(send(&mut b, "WATCH tx:shared"), "+OK\r\n");
    assert_eq!(send(&mut a, "MULTI"), "+OK\r\n");
    assert_eq!(send(&mut a, "SET tx:shared a"), "+QUEUED\r\n");
    assert_eq!(send(&mut b, "MULTI"), "+OK\r\n");
    assert_eq!(send(&mut b, "SET tx:shared b"), "+QUEUED\r\n");
    assert_eq!(send(&mut a, "EXEC"), "*1\r\n+OK\r\n");
    assert_eq!(send(&mut b, "EXEC"), "*-1\r\n");
    assert_eq!(send(&mut b, "GET tx:shared"), "$1\r\na\r\n");
}

#[test]
fn a_watched_key_that_expires_aborts_exec() {
    let server = Server::start();
    let mut raw = server.raw();
    assert_eq!(send(&mut raw, "SET tx:exp v PX 50"), "+OK\r\n");
    assert_eq!(send(&mut raw, "WATCH tx:exp"), "+OK\r\n");
    thread::sleep(Duration::from_millis(100));
    assert_eq!(send(&mut raw, "MULTI"), "+OK\r\n");
    assert_eq!(send(&mut raw, "SET tx:exp-side 1"), "+QUEUED\r\n");
    assert_eq!(send(&mut raw, "EXEC"), "*-1\r\n");
    assert_eq!(send(&mut raw, "GET tx:exp-side"), "$-1\r\n");

    // A key already expired when WATCHed is simply missing: its expiry is
    // no later modification (Redis 7).
    assert_eq!(send(&mut raw, "SET tx:gone v PX 10"), "+OK\r\n");
    thread::sleep(Duration::from_millis(50));
    assert_eq!(send(&mut raw, "WATCH tx:gone"), "+OK\r\n");
    assert_eq!(send(&mut raw, "MULTI"), "+OK\r\n");
    assert_eq!(send(&mut raw, "GET tx:gone"), "+QUEUED\r\n");
    assert_eq!(send(&mut raw, "EXEC"), "*1\r\n$-1\r\n");
}

#[test]
fn unwatch_forgets_the_watched_keys() {
    let server = Server::start();
    let mut raw = server.raw();
    let mut other = server.conn();
    assert_eq!(send(&mut raw, "WATCH tx:uw1 tx:uw2"), "+OK\r\n");
    let _: () = redis::cmd("SET").arg("tx:uw1").arg("x").query(&mut other).unwrap();
    assert_eq!(send(&mut raw, "UNWATCH"), "+OK\r\n");
    assert_eq!(send(&mut raw, "MULTI"), "+OK\r\n");
    assert_eq!(send(&mut raw, "SET tx:uw2 mine"), "+QUEUED\r\n");
    assert_eq!(send(&mut raw, "EXEC"), "*1\r\n+OK\r\n");
    // UNWATCH with nothing watched is fine too.
    assert_eq!(send(&mut raw, "UNWATCH"), "+OK\r\n");
}

#[test]
fn unwatch_inside_multi_is_queued_and_the_watch_still_applies() {
    // In Redis UNWATCH inside MULTI is queued: the watched keys are checked
    // when EXEC starts, before the queued UNWATCH runs.
    let server = Server::start();
    let mut raw = server.raw();
    let mut other = server.conn();
    assert_eq!(send(&mut raw, "WATCH tx:q"), "+OK\r\n");
    assert_eq!(send(&mut raw, "MULTI"), "+OK\r\n");
    assert_eq!(send(&mut raw, "UNWATCH"), "+QUEUED\r\n");
    let _: () = redis::cmd("SET").arg("tx:q").arg("x").query(&mut other).unwrap();
    assert_eq!(send(&mut raw, "EXEC"), "*-1\r\n");
    assert_eq!(send(&mut raw, "WATCH tx:q"), "+OK\r\n");
    assert_eq!(send(&mut raw, "MULTI"), "+OK\r\n");
    assert_eq!(send(&mut raw, "UNWATCH"), "+QUEUED\r\n");
    assert_eq!(send(&mut raw, "EXEC"), "*1\r\n+OK\r\n");
}

#[test]
fn discard_and_aborted_exec_forget_the_watched_keys() {
    let server = Server::start();
    let mut raw = server.raw();
    let mut other = server.conn();
    assert_eq!(send(&mut raw, "WATCH tx:dw"), "+OK\r\n");
    assert_eq!(send(&mut raw, "MULTI"), "+OK\r\n");
    assert_eq!(send(&mut raw, "DISCARD"), "+OK\r\n");
    let _: () = redis::cmd("SET").arg("tx:dw").arg("x").query(&mut other).unwrap();
    assert_eq!(send(&mut raw, "MULTI"), "+OK\r\n");
    assert_eq!(send(&mut raw, "EXEC"), "*0\r\n", "DISCARD unwatches");

    assert_eq!(send(&mut raw, "WATCH tx:dw"), "+OK\r\n");
    assert_eq!(send(&mut raw, "MULTI"), "+OK\r\n");
    assert_eq!(send(&mut raw, "GET"), "-ERR wrong number of arguments for 'get' command\r\n");
    assert_eq!(send(&mut raw, "EXEC"), "-EXECABORT Transaction discarded because of previous errors.\r\n");
    let _: () = redis::cmd("SET").arg("tx:dw").arg("y").query(&mut other).unwrap();
    assert_eq!(send(&mut raw, "MULTI"), "+OK\r\n");
    assert_eq!(send(&mut raw, "EXEC"), "*0\r\n", "EXECABORT unwatches");
}

#[test]
fn quit_inside_multi_discards_the_transaction() {
    let server = Server::start();
    let mut raw = server.raw();
    assert_eq!(send(&mut raw, "WATCH tx:qm"), "+OK\r\n");
    assert_eq!(send(&mut raw, "MULTI"), "+OK\r\n");
    assert_eq!(send(&mut raw, "SET tx:qm 1"), "+QUEUED\r\n");
    assert_eq!(send(&mut raw, "QUIT"), "+OK\r\n");
    assert!(raw.wait_closed(Duration::from_secs(5)));
    let mut conn = server.conn();
    let got: Option<String> = redis::cmd("GET").arg("tx:qm").query(&mut conn).unwrap();
    assert_eq!(got, None);
    // The departed client's watch is released: a new watcher of the key
    // is unaffected by it.
    let mut raw = server.raw();
    assert_eq!(send(&mut raw, "WATCH tx:qm"), "+OK\r\n");
    assert_eq!(send(&mut raw, "MULTI"), "+OK\r\n");
    assert_eq!(send(&mut raw, "SET tx:qm 2"), "+QUEUED\r\n");
    assert_eq!(send(&mut raw, "EXEC"), "*1\r\n+OK\r\n");
}

/// Keys spread over many shards, so a transaction that is not atomic
/// across shards would be caught.
const ATOMIC_KEYS: usize = 64;

fn atomic_key(i: usize) -> String {
    format!("atomic:{i}")
}

#[test]
fn another_client_never_sees_half_a_transaction() {
    let server = Server::start();
    let done = Arc::new(AtomicBool::new(false));

    // Two writers: each EXEC sets every key to the same "writer:round".
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let mut raw = server.raw();
            let done = done.clone();
            thread::spawn(move || {
                let mut round = 0;
                while !done.load(Ordering::Relaxed) && round < 100_000 {
                    round += 1;
                    let value = format!("w{w}:{round}");
                    let mut wire = encode_cmd(&["MULTI"]);
                    // Alternate the key order, so that writers lock in the
                    // node's order whatever the command order.
                    for j in 0..ATOMIC_KEYS {
                        let i = if round % 2 == 0 { j } else { ATOMIC_KEYS - 1 - j };
                        wire.extend(encode_cmd(&["SET", &atomic_key(i), &value]));
                    }
                    wire.extend(encode_cmd(&["EXEC"]));
                    raw.send(&wire);
                    assert_eq!(raw.read_reply(), b"+OK\r\n");
                    for _ in 0..ATOMIC_KEYS {
                        assert_eq!(raw.read_reply(), b"+QUEUED\r\n");
                    }
                    let exec = raw.read_reply();
                    assert!(
                        exec.starts_with(format!("*{ATOMIC_KEYS}\r\n").as_bytes()),
                        "{}",
                        String::from_utf8_lossy(&exec)
                    );
                }
                round
            })
        })
        .collect();

    // The reader reads every key in one transaction, which is a consistent
    // snapshot only if both sides are atomic.
    let mut reader = server.conn();
    let mut snapshots = 0;
    let mut distinct = std::collections::HashSet::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while std::time::Instant::now() < deadline && distinct.len() < 50 {
        let mut pipe = redis::pipe();
        pipe.atomic();
        for i in 0..ATOMIC_KEYS {
            pipe.cmd("GET").arg(atomic_key(i));
        }
        let values: Vec<Option<String>> = pipe.query(&mut reader).unwrap();
        assert_eq!(values.len(), ATOMIC_KEYS);
        assert!(values.iter().all(|v| *v == values[0]), "half a transaction was visible: {values:?}");
        distinct.insert(values[0].clone());
        snapshots += 1;
    }
    done.store(true, Ordering::Relaxed);
    let rounds: Vec<usize> = writers.into_iter().map(|w| w.join().expect("writer")).collect();
    eprintln!("{snapshots} snapshots, {} distinct states, writer rounds {rounds:?}", distinct.len());
    // The test only proves something if reads and writes interleaved.
    assert!(distinct.len() >= 3, "the reader saw only {} states: no interleaving to check", distinct.len());

    // Plain GETs after the writers stopped agree too.
    let mut conn = server.conn();
    let last: Option<String> = redis::cmd("GET").arg(atomic_key(0)).query(&mut conn).unwrap();
    for i in 1..ATOMIC_KEYS {
        let v: Option<String> = redis::cmd("GET").arg(atomic_key(i)).query(&mut conn).unwrap();
        assert_eq!(v, last, "key {i}");
    }
}

const OOM_REPLY: &str = "-OOM command not allowed when used memory > 'maxmemory'.\r\n";

/// Writes 1 KB values through `conn` until the node refuses one with OOM.
fn fill_until_oom(conn: &mut redis::Connection) {
    let value = vec![b'x'; 1000];
    for i in 0..10_000 {
        match redis::cmd("SET").arg(format!("fill:{i}")).arg(&value).query::<()>(conn) {
            Ok(()) => {}
            Err(e) if e.code() == Some("OOM") => return,
            Err(e) => panic!("SET fill:{i}: {e}"),
        }
    }
    panic!("no OOM after writing 10 MB under maxmemory 1mb");
}

#[test]
fn while_out_of_memory_every_queued_command_is_refused() {
    // Redis 7 refuses every command inside MULTI but EXEC, DISCARD, QUIT
    // and RESET while memory is over maxmemory (the queue itself grows),
    // and the refusal flags the transaction.
    let server = Server::start_with(&["--maxmemory", "1mb", "--maxmemory-policy", "noeviction"]);
    let mut conn = server.conn();
    fill_until_oom(&mut conn);
    let mut raw = server.raw();
    // MULTI itself is accepted: the client is not in MULTI yet.
    assert_eq!(send(&mut raw, "MULTI"), "+OK\r\n");
    assert_eq!(send(&mut raw, "GET fill:0"), OOM_REPLY);
    assert_eq!(send(&mut raw, "PING"), OOM_REPLY);
    assert_eq!(send(&mut raw, "EXEC"), "-EXECABORT Transaction discarded because of previous errors.\r\n");
    assert_eq!(send(&mut raw, "MULTI"), "+OK\r\n");
    assert_eq!(send(&mut raw, "GET fill:0"), OOM_REPLY);
    assert_eq!(send(&mut raw, "DISCARD"), "+OK\r\n");
    // Outside MULTI reads still work.
    assert_eq!(send(&mut raw, "GET tx:missing"), "$-1\r\n");
    assert_eq!(send(&mut raw, "MULTI"), "+OK\r\n");
    assert_eq!(send(&mut raw, "QUIT"), "+OK\r\n");
    assert!(raw.wait_closed(Duration::from_secs(5)));
}

#[test]
fn exec_is_refused_when_memory_ran_out_after_queueing() {
    let server = Server::start_with(&["--maxmemory", "1mb", "--maxmemory-policy", "noeviction"]);
    let mut raw = server.raw();
    let mut reader = server.raw();
    assert_eq!(send(&mut raw, "SET tx:before 1"), "+OK\r\n");
    assert_eq!(send(&mut raw, "MULTI"), "+OK\r\n");
    assert_eq!(send(&mut raw, "SET tx:oom 1"), "+QUEUED\r\n");
    assert_eq!(send(&mut raw, "GET tx:before"), "+QUEUED\r\n");
    assert_eq!(send(&mut reader, "MULTI"), "+OK\r\n");
    assert_eq!(send(&mut reader, "GET tx:before"), "+QUEUED\r\n");

    let mut conn = server.conn();
    fill_until_oom(&mut conn);
    // A transaction with a command that may use memory is refused as a
    // whole, with Redis's execCommandAbort text ...
    assert_eq!(
        send(&mut raw, "EXEC"),
        "-EXECABORT Transaction discarded because of: OOM command not allowed when used memory > 'maxmemory'.\r\n"
    );
    assert_eq!(send(&mut raw, "GET tx:oom"), "$-1\r\n");
    assert_eq!(send(&mut raw, "EXEC"), "-ERR EXEC without MULTI\r\n");
    // ... one with only reads runs.
    assert_eq!(send(&mut reader, "EXEC"), "*1\r\n$1\r\n1\r\n");
}
