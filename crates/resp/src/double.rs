//! Doubles as Redis writes and reads them.

/// Formats a double the way Redis 7 replies with one: `inf`, `-inf`, `nan`,
/// integral values without a fraction, otherwise the shortest text that reads
/// back to the same value (exponent form for very large or small values).
pub fn format_double(d: f64) -> String {
    if d.is_nan() {
        return "nan".to_owned();
    }
    if d.is_infinite() {
        return if d > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    if d == d.trunc() && d.abs() < 1e17 {
        // `-0.0` prints as `-0` in Redis too.
        return format!("{d:.0}");
    }
    let abs = d.abs();
    if (1e-4..1e17).contains(&abs) {
        format!("{d}")
    } else {
        let mut buf = ryu::Buffer::new();
        buf.format_finite(d).to_owned()
    }
}

/// Parses a double the way Redis's `strtold`-based parsers accept it: no
/// surrounding spaces, `inf`/`-inf`/`+inf` allowed, `nan` refused.
pub fn parse_double(s: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(s).ok()?;
    if text.is_empty() || text.starts_with(|c: char| c.is_whitespace()) || text.ends_with(|c: char| c.is_whitespace()) {
        return None;
    }
    let v: f64 = match text.to_ascii_lowercase().as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        _ => text.parse().ok()?,
    };
    if v.is_nan() {
        return None;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_redis() {
        assert_eq!(format_double(3.0), "3");
        assert_eq!(format_double(-2.0), "-2");
        assert_eq!(format_double(1.5), "1.5");
        assert_eq!(format_double(0.1), "0.1");
        assert_eq!(format_double(f64::INFINITY), "inf");
        assert_eq!(format_double(f64::NEG_INFINITY), "-inf");
        assert_eq!(format_double(1e300), "1e300");
    }

    #[test]
    fn parses_like_redis() {
        assert_eq!(parse_double(b"1.5"), Some(1.5));
        assert_eq!(parse_double(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_double(b"+inf"), Some(f64::INFINITY));
        assert_eq!(parse_double(b"1e3"), Some(1000.0));
        assert_eq!(parse_double(b"nan"), None);
        assert_eq!(parse_double(b" 1"), None);
        assert_eq!(parse_double(b"abc"), None);
        assert_eq!(parse_double(b""), None);
    }
}
