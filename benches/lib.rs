//! Shared inputs for the micro-benchmarks: the same keys and values the
//! side-by-side benchmark (`benches/run.sh`) uses.

/// A 16-byte key like redis-benchmark's `key:__rand_int__`.
pub fn key(i: u64) -> Vec<u8> {
    format!("key:{i:012}").into_bytes()
}

/// A RESP-encoded command.
pub fn encode_command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = bytes::BytesMut::new();
    ringcache_resp::encode_request(args, &mut out);
    out.to_vec()
}

/// A pipeline of `depth` SETs (32-byte values) or GETs, as one buffer.
pub fn pipeline(depth: usize, set: bool) -> Vec<u8> {
    let value = [b'x'; 32];
    let mut out = Vec::new();
    for i in 0..depth as u64 {
        let k = key(i * 7919 % 1_000_000);
        if set {
            out.extend(encode_command(&[b"SET", &k, &value]));
        } else {
            out.extend(encode_command(&[b"GET", &k]));
        }
    }
    out
}
