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

/// A float argument read as Redis's `getDoubleFromObject` reads it: like
/// [`float`], and also refusing values out of a double's range (`1e400`
/// overflows, `1e-400` underflows to zero), which `strtod` flags with ERANGE.
pub fn float_strict(arg: &[u8]) -> Result<f64, CmdError> {
    let v = float(arg)?;
    let mantissa = arg.split(|&c| c == b'e' || c == b'E').next().unwrap_or_default();
    let has_digit = |lo: u8| mantissa.iter().any(|&c| (lo..=b'9').contains(&c));
    let overflow = v.is_infinite() && has_digit(b'0');
    let underflow = v == 0.0 && has_digit(b'1');
    if overflow || underflow {
        return Err(CmdError::NotFloat);
    }
    Ok(v)
}

/// The options of SSCAN, HSCAN and ZSCAN: `COUNT n` (at least 1, default 10)
/// and `MATCH pattern`, in any order, the last one winning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanOptions<'a> {
    pub count: usize,
    /// `None` when absent or `*` (everything matches).
    pub pattern: Option<&'a [u8]>,
}

/// Parses the options after a collection SCAN's cursor, with Redis's errors:
/// a COUNT that is not an integer is NotInteger, one below 1 and any other
/// word a syntax error.
pub fn scan_options(opts: &[Bytes]) -> Result<ScanOptions<'_>, CmdError> {
    let mut o = ScanOptions { count: 10, pattern: None };
    let mut i = 0;
    while i < opts.len() {
        let has_value = opts.len() - i >= 2;
        if is(&opts[i], "COUNT") && has_value {
            let n = int(&opts[i + 1])?;
            if n < 1 {
                return Err(CmdError::Syntax);
            }
            o.count = usize::try_from(n).unwrap_or(usize::MAX);
        } else if is(&opts[i], "MATCH") && has_value {
            let p: &[u8] = &opts[i + 1];
            o.pattern = (p != b"*").then_some(p);
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    Ok(o)
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

    #[test]
    fn strict_floats_refuse_what_strtod_flags() {
        assert_eq!(float_strict(b"1.5"), Ok(1.5));
        assert_eq!(float_strict(b"-inf"), Ok(f64::NEG_INFINITY));
        assert_eq!(float_strict(b"+inf"), Ok(f64::INFINITY));
        assert_eq!(float_strict(b"0"), Ok(0.0));
        assert_eq!(float_strict(b"0e500"), Ok(0.0));
        assert_eq!(float_strict(b"1e308"), Ok(1e308));
        assert_eq!(float_strict(b"1e400"), Err(CmdError::NotFloat));
        assert_eq!(float_strict(b"-1e400"), Err(CmdError::NotFloat));
        assert_eq!(float_strict(b"1e-400"), Err(CmdError::NotFloat));
        assert_eq!(float_strict(b"nan"), Err(CmdError::NotFloat));
        assert_eq!(float_strict(b" 1"), Err(CmdError::NotFloat));
    }

    #[test]
    fn scan_options_like_redis() {
        let a = |v: &[&str]| v.iter().map(|s| Bytes::copy_from_slice(s.as_bytes())).collect::<Vec<_>>();
        assert_eq!(scan_options(&a(&[])), Ok(ScanOptions { count: 10, pattern: None }));
        let opts = a(&["match", "a*", "COUNT", "3"]);
        assert_eq!(scan_options(&opts), Ok(ScanOptions { count: 3, pattern: Some(&b"a*"[..]) }));
        assert_eq!(scan_options(&a(&["MATCH", "*"])).map(|o| o.pattern), Ok(None));
        assert_eq!(scan_options(&a(&["COUNT", "0"])), Err(CmdError::Syntax));
        assert_eq!(scan_options(&a(&["COUNT", "x"])), Err(CmdError::NotInteger));
        assert_eq!(scan_options(&a(&["COUNT"])), Err(CmdError::Syntax));
        assert_eq!(scan_options(&a(&["TYPE", "set"])), Err(CmdError::Syntax));
    }
}
