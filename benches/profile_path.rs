//! Drives the command path for a fixed amount of work, for instruction
//! counting under `valgrind --tool=callgrind` (repeatable where wall-clock
//! timings on shared machines are not):
//!
//! ```sh
//! cargo build --release -p ringcache-benches --bin profile_path
//! valgrind --tool=callgrind --toggle-collect='*measured*' target/release/profile_path get 16 20000
//! ```
//!
//! Instructions per request = what callgrind counted inside `measured` /
//! (iterations × depth); `benches/cachegrind.sh` does the arithmetic.

use bytes::BytesMut;
use ringcache_benches::{encode_command, key, pipeline};
use ringcache_server::{Config, Session, Shared, Step};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const KEYS: u64 = 100_000;

fn run_until_done(session: &mut Session, shared: &Shared, input: &mut BytesMut, out: &mut BytesMut) {
    loop {
        let step = session.process(shared, input, out);
        out.clear();
        match step {
            Step::NeedInput => return,
            Step::OutputFull => continue,
            Step::Close(end) => panic!("session closed: {end:?}"),
            Step::Forward => unreachable!("a standalone node forwards nothing"),
            Step::WaitScript | Step::RunScript => unreachable!("no script runs here"),
            Step::Block => unreachable!("no command blocks here"),
            Step::Paused => unreachable!("nothing pauses the clients here"),
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let op = args.next().unwrap_or_else(|| "get".to_owned());
    let depth: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(16);
    let iterations: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);

    let shared = Shared::new(Config::default());
    let addr = "127.0.0.1:1".parse().expect("valid address");
    let mut session = Session::new(&shared, shared.clients.register(addr, addr, usize::MAX).expect("room"));
    let mut out = BytesMut::with_capacity(128 * 1024);
    let mut wire = Vec::new();
    for i in 0..KEYS {
        wire.extend(encode_command(&[b"SET", &key(i), &[b'x'; 32]]));
    }
    run_until_done(&mut session, &shared, &mut BytesMut::from(&wire[..]), &mut out);

    let wire = pipeline(depth, op == "set");
    measured(&mut session, &shared, &wire, iterations, &mut out);
}

/// The measured part, kept out of line so that callgrind can count it
/// alone: `valgrind --tool=callgrind --toggle-collect=*measured* ...`.
#[inline(never)]
fn measured(session: &mut Session, shared: &Shared, wire: &[u8], iterations: usize, out: &mut BytesMut) {
    let mut input = BytesMut::with_capacity(wire.len());
    for _ in 0..iterations {
        input.extend_from_slice(wire);
        run_until_done(session, shared, &mut input, out);
    }
}
