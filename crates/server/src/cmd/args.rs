//! Argument parsing shared by the command families, with Redis's error
//! texts. Numbers are parsed as strictly as Redis parses them.

use bytes::Bytes;

use super::CmdError;

/// An integer argument (`string2ll` rules: no spaces, no `+`, no leading zeros).
pub fn int(arg: &[u8]) -> Result<i64, CmdError> {
    parse_i64(arg).ok_or(CmdError::NotInteger)
}

/// A non-negative integer argument, with a custom error text when negative.
pub fn uint(arg: &[u8], negative_err: &str) -> Result<u64, CmdError> {
    let v = int(arg)?;
    u64::try_from(v).map_err(|_| CmdError::other(negative_err))
}

/// An integer argument, or `None` if it is not one.
pub fn parse_i64(arg: &[u8]) -> Option<i64> {
    // Redis accepts what `strtoll` round-trips exactly, which is this.
    if arg.is_empty() || arg.len() > 20 {
        return None;
    }
    let s = std::str::from_utf8(arg).ok()?;
    if s.starts_with('+') || (s.len() > 1 && s.starts_with('0')) || s.starts_with("-0") {
        return None;
    }
    s.parse().ok()
}

/// A float argument (`inf`, `-inf` allowed; NaN refused).
pub fn float(arg: &[u8]) -> Result<f64, CmdError> {
    ringcache_resp::parse_double(arg).ok_or(CmdError::NotFloat)
}

/// Whether `arg` is the option `name` (case-insensitive).
pub fn is(arg: &[u8], name: &str) -> bool {
    arg.eq_ignore_ascii_case(name.as_bytes())
}

/// The ASCII-uppercase form of an option, for matching.
pub fn upper(arg: &[u8]) -> String {
    String::from_utf8_lossy(arg).to_ascii_uppercase()
}

/// Resolves a Redis index (negative counts from the end) against `len`:
/// `None` if out of range.
pub fn index(i: i64, len: usize) -> Option<usize> {
    let len = len as i64;
    let i = if i < 0 { len + i } else { i };
    (0..len).contains(&i).then_some(i as usize)
}

/// Resolves a Redis `start stop` range (inclusive, negatives from the end)
/// against `len`, clamped; `None` if empty.
pub fn range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut start = if start < 0 { len + start } else { start };
    let mut stop = if stop < 0 { len + stop } else { stop };
    if start < 0 {
        start = 0;
    }
    if start > stop || start >= len {
        return None;
    }
    if stop >= len {
        stop = len - 1;
    }
    Some((start as usize, stop as usize))
}

/// An integer formatted as Redis stores it in a string value.
pub fn int_bytes(v: i64) -> Bytes {
    Bytes::copy_from_slice(itoa::Buffer::new().format(v).as_bytes())
}

/// Parses `COUNT n`-style positive counts used by SCAN and friends.
pub fn scan_cursor(arg: &[u8]) -> Result<u64, CmdError> {
    std::str::from_utf8(arg)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| CmdError::other("ERR invalid cursor"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints_like_redis() {
        assert_eq!(parse_i64(b"42"), Some(42));
        assert_eq!(parse_i64(b"-42"), Some(-42));
        assert_eq!(parse_i64(b"0"), Some(0));
        for bad in [&b""[..], b"+1", b"01", b" 1", b"1.0", b"abc", b"99999999999999999999", b"-0"] {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn ranges_like_redis() {
        assert_eq!(range(0, -1, 5), Some((0, 4)));
        assert_eq!(range(-100, 100, 5), Some((0, 4)));
        assert_eq!(range(3, 1, 5), None);
        assert_eq!(range(5, 10, 5), None);
        assert_eq!(range(0, -1, 0), None);
        assert_eq!(index(-1, 3), Some(2));
        assert_eq!(index(3, 3), None);
    }
}
