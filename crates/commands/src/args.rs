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

/// Redis's text when a count that must not be negative is not
/// (`getPositiveLongFromObjectOrReply` without a custom message).
pub const MUST_BE_POSITIVE: &str = "value is out of range, must be positive";

/// A non-negative integer (`getPositiveLongFromObjectOrReply`): anything
/// else, a non-integer included, gets `ERR <msg>`.
pub fn positive(arg: &[u8], msg: &str) -> Result<u64, CmdError> {
    parse_i64(arg).and_then(|v| u64::try_from(v).ok()).ok_or_else(|| CmdError::other(format!("ERR {msg}")))
}

/// An integer in `min..=max` (`getRangeLongFromObjectOrReply`): a
/// non-integer is `NotInteger`, one out of range gets Redis's range text.
pub fn int_in(arg: &[u8], min: i64, max: i64) -> Result<i64, CmdError> {
    let v = int(arg)?;
    if v < min || v > max {
        return Err(CmdError::other(format!("ERR value is out of range, value must between {min} and {max}")));
    }
    Ok(v)
}

/// An integer in `min..=max` with one error text for everything else
/// (`getRangeLongFromObjectOrReply` with a message): `msg` starts with
/// its code.
pub fn int_in_msg(arg: &[u8], min: i64, max: i64, msg: &str) -> Result<i64, CmdError> {
    parse_i64(arg).filter(|v| (min..=max).contains(v)).ok_or_else(|| CmdError::other(msg))
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

/// A float as INCRBYFLOAT and HINCRBYFLOAT store and return it (Redis's
/// `ld2string(.., LD_STR_HUMAN)`): plain decimal, never an exponent, at most
/// 17 fractional digits, no trailing zeros, `-0` written as `0`.
///
/// Redis computes in `long double`; we compute in `f64` and print the
/// shortest text that reads back to the same `f64`, which gives the same
/// text for the everyday cases (`10.5 + 0.1` → `10.6`).
pub fn float_human(v: f64) -> Bytes {
    debug_assert!(v.is_finite());
    let mut s = format!("{v}");
    if s.find('.').is_some_and(|dot| s.len() - dot - 1 > 17) {
        s = format!("{v:.17}");
        s.truncate(s.trim_end_matches('0').trim_end_matches('.').len());
    }
    if s == "-0" {
        s = "0".to_owned();
    }
    Bytes::from(s)
}

/// The most elements a "may repeat" random sample (HRANDFIELD, SRANDMEMBER,
/// ZRANDMEMBER with a negative count) may reply with. Redis has no limit and
/// would build a reply as large as the client asks; we refuse larger counts
/// with `ERR value is out of range` so that one request cannot exhaust the
/// node's memory.
pub const RANDOM_COUNT_MAX: u64 = 1 << 20;

/// HSCAN/SSCAN/ZSCAN options after the cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanOptions<'a> {
    /// `MATCH pattern`, `None` for no pattern (or `*`).
    pub pattern: Option<&'a [u8]>,
    /// `COUNT n`: positions to visit per call (default 10).
    pub count: usize,
    /// `NOVALUES` (HSCAN only): reply with fields only.
    pub novalues: bool,
}

/// Parses `[MATCH pattern] [COUNT count] [NOVALUES]` as Redis's
/// `scanGenericCommand` does: COUNT below 1 and unknown words are syntax
/// errors; NOVALUES is refused unless `novalues_allowed` (HSCAN).
pub fn scan_options<'a>(opts: &[&'a [u8]], novalues_allowed: bool) -> Result<ScanOptions<'a>, CmdError> {
    let mut out = ScanOptions { pattern: None, count: 10, novalues: false };
    let mut i = 0;
    while i < opts.len() {
        let has_value = i + 1 < opts.len();
        if is(opts[i], "COUNT") && has_value {
            let count = int(opts[i + 1])?;
            if count < 1 {
                return Err(CmdError::Syntax);
            }
            out.count = usize::try_from(count).unwrap_or(usize::MAX);
            i += 2;
        } else if is(opts[i], "MATCH") && has_value {
            let pattern = opts[i + 1];
            out.pattern = (pattern != b"*").then_some(pattern);
            i += 2;
        } else if is(opts[i], "NOVALUES") {
            if !novalues_allowed {
                return Err(CmdError::other("ERR NOVALUES option can only be used in HSCAN"));
            }
            out.novalues = true;
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok(out)
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
    fn positive_and_ranged_ints() {
        assert_eq!(positive(b"0", "x"), Ok(0));
        assert_eq!(positive(b"-1", "COUNT can't be negative"), Err(CmdError::other("ERR COUNT can't be negative")));
        assert_eq!(positive(b"abc", MUST_BE_POSITIVE), Err(CmdError::other(format!("ERR {MUST_BE_POSITIVE}"))));
        assert_eq!(int_in(b"-5", -i64::MAX, i64::MAX), Ok(-5));
        assert_eq!(int_in(b"x", 0, 1), Err(CmdError::NotInteger));
        assert_eq!(
            int_in(b"-9223372036854775808", -i64::MAX, i64::MAX),
            Err(CmdError::other(
                "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
            ))
        );
    }

    #[test]
    fn floats_print_like_ld2string_human() {
        assert_eq!(float_human(10.5 + 0.1), "10.6");
        assert_eq!(float_human(3.0), "3");
        assert_eq!(float_human(-0.0), "0");
        assert_eq!(float_human(1e20), "100000000000000000000");
        assert_eq!(float_human(5.0e-3), "0.005");
        assert_eq!(float_human(1e-20), "0");
        assert_eq!(float_human(-1.5), "-1.5");
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
        let a = |v: &[&'static str]| v.iter().map(|s| s.as_bytes()).collect::<Vec<_>>();
        let o = a(&["match", "f*", "COUNT", "3", "novalues"]);
        let got = scan_options(&o, true).unwrap();
        assert_eq!(got, ScanOptions { pattern: Some(&b"f*"[..]), count: 3, novalues: true });
        assert_eq!(scan_options(&a(&["MATCH", "*"]), false).unwrap().pattern, None);
        assert_eq!(scan_options(&a(&["COUNT", "0"]), false), Err(CmdError::Syntax));
        assert_eq!(scan_options(&a(&["COUNT", "x"]), false), Err(CmdError::NotInteger));
        assert_eq!(scan_options(&a(&["COUNT"]), false), Err(CmdError::Syntax));
        assert_eq!(scan_options(&a(&["TYPE", "string"]), false), Err(CmdError::Syntax));
        assert!(scan_options(&a(&["NOVALUES"]), false).is_err());
    }
}
