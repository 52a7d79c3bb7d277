//! Request framing: multibulk (`*N\r\n$len\r\n...`) and inline commands.
//!
//! Error texts are Redis's own (`networking.c`), so clients and tests that
//! match on them keep working.

use bytes::{Bytes, BytesMut};

use crate::Reply;

/// Longest inline command line or `*`/`$` header line Redis accepts.
pub const INLINE_LEN_MAX: usize = 64 * 1024;

/// Limits applied while framing a request. Every length read from the wire is
/// checked against one of these before anything is allocated for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `proto-max-bulk-len`: the largest single argument.
    pub bulk_len_max: usize,
    /// `proto-max-multibulk-len`: the most arguments in one command.
    pub multibulk_len_max: usize,
    /// Before `AUTH` succeeds Redis only accepts tiny commands, so an
    /// unauthenticated client cannot make the node allocate much.
    pub authenticated: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { bulk_len_max: 512 * 1024 * 1024, multibulk_len_max: 1024 * 1024, authenticated: true }
    }
}

/// Unauthenticated clients may send at most this many arguments ...
const UNAUTH_MULTIBULK_MAX: usize = 10;
/// ... each at most this long (Redis 7).
const UNAUTH_BULK_MAX: usize = 16384;

/// Malformed input: the message after `Protocol error: `, as bytes, since
/// Redis quotes an offending byte as it is (`expected '$', got '%c'`). The
/// connection answers [`ProtocolError::reply`] and closes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Protocol error: {}", String::from_utf8_lossy(.0))]
pub struct ProtocolError(pub Vec<u8>);

impl ProtocolError {
    fn new(msg: &str) -> Self {
        ProtocolError(msg.as_bytes().to_vec())
    }

    /// `-ERR Protocol error: <message>`, exactly as Redis sends it.
    pub fn reply(&self) -> Reply {
        let mut msg = b"ERR Protocol error: ".to_vec();
        msg.extend_from_slice(&self.0);
        Reply::error_bytes(msg)
    }
}

/// Frames one command from the front of `buf`.
///
/// Returns `Ok(Some(args))` and consumes the command's bytes when a whole
/// command is present, `Ok(None)` (consuming nothing, or only empty lines and
/// empty multibulks that Redis skips) when more bytes are needed, and
/// `Err` for malformed input. An empty `args` is never returned.
///
/// Allocates per call; connections use a [`RequestParser`], which doesn't.
/// Appends `args` to `out` as a request: a RESP array of bulk strings, the
/// form [`RequestParser`] frames (what clients send, and what one node
/// forwards to another).
pub fn encode_request<A: AsRef<[u8]>>(args: &[A], out: &mut BytesMut) {
    let mut len = itoa::Buffer::new();
    out.extend_from_slice(b"*");
    out.extend_from_slice(len.format(args.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    for a in args {
        let a = a.as_ref();
        out.extend_from_slice(b"$");
        out.extend_from_slice(len.format(a.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

pub fn parse_request(buf: &mut BytesMut, limits: &Limits) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    let mut args = Vec::new();
    Ok(RequestParser::default().parse(buf, limits, &mut args)?.then_some(args))
}

/// A connection's request framer. It keeps its scratch space between
/// commands, so framing a command allocates nothing once warmed up.
#[derive(Debug, Default)]
pub struct RequestParser {
    /// Argument spans of the multibulk being framed, relative to its start.
    spans: Vec<(usize, usize)>,
    /// A multibulk framed part-way: its argument count and where its next
    /// argument starts (relative to the command's start), so that the next
    /// call resumes there instead of re-reading every argument already
    /// received. A command of a million arguments arriving in many reads
    /// would otherwise cost time quadratic in its size. Valid while the
    /// caller frames the same command again, with only bytes appended,
    /// which is how a connection uses it.
    partial: Option<(usize, usize)>,
    /// Unescaped arguments of inline commands, which are not ranges of the
    /// read buffer: the spans of an inline command index into this.
    inline: Vec<u8>,
}

/// What [`RequestParser::frame`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// A whole command ending at `end` (exclusive). Its argument spans were
    /// appended to the caller's list: ranges of the buffer, or of
    /// [`RequestParser::inline_args`] when `inline`.
    Command { end: usize, inline: bool },
    /// No whole command yet. Everything before `resume` (empty multibulks
    /// and blank lines Redis skips) may be dropped; `reserve` is how much
    /// more room the buffer is worth growing by for the argument being
    /// received (0 when nothing in particular is awaited).
    Incomplete { resume: usize, reserve: usize },
}

/// Scratch space kept above this many spans is given back.
const SPANS_KEPT_MAX: usize = 1024;
/// Inline scratch kept above this many bytes is given back.
const INLINE_KEPT_MAX: usize = 64 * 1024;

impl RequestParser {
    /// Frames one command from `buf[from..]` without consuming anything,
    /// appending its argument spans (absolute positions in `buf`, or in
    /// [`RequestParser::inline_args`] for an inline command) to `spans`.
    /// Empty multibulks and blank inline lines are skipped, as Redis does.
    pub fn frame(
        &mut self,
        buf: &[u8],
        mut from: usize,
        limits: &Limits,
        spans: &mut Vec<(usize, usize)>,
    ) -> Result<Frame, ProtocolError> {
        loop {
            let Some(&first) = buf.get(from) else {
                return Ok(Frame::Incomplete { resume: from, reserve: 0 });
            };
            let rest = &buf[from..];
            let parsed = if first == b'*' { self.parse_multibulk(rest, limits)? } else { self.parse_inline(rest)? };
            match parsed {
                Parsed::Incomplete(reserve) => return Ok(Frame::Incomplete { resume: from, reserve }),
                // `*0\r\n`, `*-1\r\n` and blank inline lines are skipped, as Redis does.
                Parsed::Empty(consumed) => from += consumed,
                Parsed::Multibulk(len) => {
                    spans.extend(self.spans.iter().map(|&(s, e)| (from + s, from + e)));
                    return Ok(Frame::Command { end: from + len, inline: false });
                }
                Parsed::Inline(len) => {
                    spans.extend_from_slice(&self.spans);
                    return Ok(Frame::Command { end: from + len, inline: true });
                }
            }
        }
    }

    /// Forgets a command framed part-way: call it before framing from an
    /// earlier offset than the last call's (re-framing commands already
    /// framed once).
    pub fn rewind(&mut self) {
        self.partial = None;
    }

    /// The arguments of the inline commands framed since the last
    /// [`RequestParser::clear_inline`].
    pub fn inline_args(&self) -> &[u8] {
        &self.inline
    }

    /// Forgets the inline arguments framed so far (their spans must no
    /// longer be used).
    pub fn clear_inline(&mut self) {
        self.inline.clear();
        if self.inline.capacity() > INLINE_KEPT_MAX {
            self.inline.shrink_to(INLINE_KEPT_MAX);
        }
    }

    /// Like [`parse_request`], writing the arguments into `args` (cleared
    /// first) and returning whether a command was framed. Consumes the
    /// command's bytes (and any skipped before it).
    pub fn parse(&mut self, buf: &mut BytesMut, limits: &Limits, args: &mut Vec<Bytes>) -> Result<bool, ProtocolError> {
        args.clear();
        let mut spans = Vec::new();
        self.clear_inline();
        match self.frame(buf, 0, limits, &mut spans)? {
            Frame::Command { end, inline } => {
                let frame = buf.split_to(end).freeze();
                if inline {
                    args.extend(spans.iter().map(|&(s, e)| Bytes::copy_from_slice(&self.inline[s..e])));
                } else {
                    args.extend(spans.iter().map(|&(s, e)| frame.slice(s..e)));
                }
                Ok(true)
            }
            Frame::Incomplete { resume, reserve } => {
                let _ = buf.split_to(resume);
                buf.reserve(reserve);
                Ok(false)
            }
        }
    }

    fn parse_multibulk(&mut self, buf: &[u8], limits: &Limits) -> Result<Parsed, ProtocolError> {
        // Resume a command framed part-way, unless the buffer is not the
        // one it was framed in (a misuse, handled by starting over).
        let resumed = self.partial.take().filter(|&(_, pos)| pos <= buf.len());
        let (count, mut pos) = match resumed {
            Some(state) => state,
            None => {
                let Some((count, pos)) = read_header(buf, 0, "too big mbulk count string", "invalid multibulk length")?
                else {
                    return Ok(Parsed::Incomplete(0));
                };
                if count > i64::from(i32::MAX) {
                    return Err(ProtocolError::new("invalid multibulk length"));
                }
                if count <= 0 {
                    return Ok(Parsed::Empty(pos));
                }
                let count = count as usize;
                if !limits.authenticated && count > UNAUTH_MULTIBULK_MAX {
                    return Err(ProtocolError::new("unauthenticated multibulk length"));
                }
                if count > limits.multibulk_len_max {
                    return Err(ProtocolError::new("invalid multibulk length"));
                }
                self.spans.clear();
                if self.spans.capacity() > SPANS_KEPT_MAX {
                    self.spans.shrink_to(SPANS_KEPT_MAX);
                }
                (count, pos)
            }
        };

        // Find every argument's span without copying.
        let spans = &mut self.spans;
        while spans.len() < count {
            let Some(&marker) = buf.get(pos) else {
                self.partial = Some((count, pos));
                return Ok(Parsed::Incomplete(0));
            };
            if marker != b'$' {
                // Like Redis, judge the line only once it is complete.
                if find_line_end(buf, pos).is_none() {
                    if buf.len() - pos > INLINE_LEN_MAX {
                        return Err(ProtocolError::new("too big bulk count string"));
                    }
                    self.partial = Some((count, pos));
                    return Ok(Parsed::Incomplete(0));
                }
                let mut msg = b"expected '$', got '".to_vec();
                msg.extend_from_slice(&[marker, b'\'']);
                return Err(ProtocolError(msg));
            }
            let Some((len, start)) = read_header(buf, pos, "too big bulk count string", "invalid bulk length")? else {
                self.partial = Some((count, pos));
                return Ok(Parsed::Incomplete(0));
            };
            if len < 0 || len as u64 > limits.bulk_len_max as u64 {
                return Err(ProtocolError::new("invalid bulk length"));
            }
            let len = len as usize;
            if !limits.authenticated && len > UNAUTH_BULK_MAX {
                return Err(ProtocolError::new("unauthenticated bulk length"));
            }
            let end = start + len;
            if buf.len() < end + 2 {
                // Make room for more of a large argument at once, so it is
                // not received through many small reallocations, but never
                // much more than has arrived: a client announcing a huge
                // argument must send it before it costs memory.
                self.partial = Some((count, pos));
                return Ok(Parsed::Incomplete((end + 2 - buf.len()).min(RESERVE_AHEAD_MAX.max(buf.len()))));
            }
            spans.push((start, end));
            // Like Redis, the two bytes after the data are taken as the CRLF.
            pos = end + 2;
        }
        Ok(Parsed::Multibulk(pos))
    }

    fn parse_inline(&mut self, buf: &[u8]) -> Result<Parsed, ProtocolError> {
        let Some(nl) = memchr(b'\n', buf) else {
            if buf.len() > INLINE_LEN_MAX {
                return Err(ProtocolError::new("too big inline request"));
            }
            return Ok(Parsed::Incomplete(0));
        };
        let line_end = if nl > 0 && buf[nl - 1] == b'\r' { nl - 1 } else { nl };
        let args = split_args(&buf[..line_end]).ok_or_else(|| ProtocolError::new("unbalanced quotes in request"))?;
        if args.is_empty() {
            return Ok(Parsed::Empty(nl + 1));
        }
        self.spans.clear();
        for a in &args {
            let start = self.inline.len();
            self.inline.extend_from_slice(a);
            self.spans.push((start, self.inline.len()));
        }
        Ok(Parsed::Inline(nl + 1))
    }
}

/// The most read-buffer space reserved ahead of data that has arrived.
const RESERVE_AHEAD_MAX: usize = 1024 * 1024;

enum Parsed {
    /// More bytes are needed; worth reserving this many.
    Incomplete(usize),
    /// Skipped this many bytes.
    Empty(usize),
    /// A multibulk of this many bytes, its spans in `self.spans`.
    Multibulk(usize),
    /// An inline command of this many bytes, its spans (into
    /// `self.inline`) in `self.spans`.
    Inline(usize),
}

/// Reads the integer of the `*N` or `$N` header line whose marker is at
/// `at`, returning it and the position after the line; `Ok(None)` if the
/// line is not complete yet.
#[inline]
fn read_header(buf: &[u8], at: usize, too_big: &str, invalid: &str) -> Result<Option<(i64, usize)>, ProtocolError> {
    // Fast paths for what clients send: a short canonical decimal and CRLF,
    // read in one pass. Anything else takes the general path, which gives
    // the same answer for it.
    let from = at + 1;
    if let Some(&[d0, b1, b2, b3]) = buf.get(from..from + 4).map(|b| <&[u8; 4]>::try_from(b).expect("4 bytes")) {
        if d0.is_ascii_digit() && b1 == b'\r' && b2 == b'\n' {
            return Ok(Some((i64::from(d0 - b'0'), from + 3)));
        }
        if (b'1'..=b'9').contains(&d0) && b1.is_ascii_digit() && b2 == b'\r' && b3 == b'\n' {
            return Ok(Some((i64::from(d0 - b'0') * 10 + i64::from(b1 - b'0'), from + 4)));
        }
    }
    let mut v: i64 = 0;
    let mut i = from;
    while i < buf.len() && i - from < 10 && buf[i].is_ascii_digit() {
        v = v * 10 + i64::from(buf[i] - b'0');
        i += 1;
    }
    let digits = i - from;
    let canonical = digits > 0 && (digits == 1 || buf[from] != b'0');
    if canonical && buf.get(i) == Some(&b'\r') && buf.get(i + 1) == Some(&b'\n') {
        return Ok(Some((v, i + 2)));
    }
    let Some(eol) = find_line_end(buf, at) else {
        if buf.len() - at > INLINE_LEN_MAX {
            return Err(ProtocolError::new(too_big));
        }
        return Ok(None);
    };
    let v = parse_i64(&buf[from..eol]).ok_or_else(|| ProtocolError::new(invalid))?;
    Ok(Some((v, eol + 2)))
}

/// Where the `*` or `$` header line starting at `from` ends: the index of
/// its first CR, once the byte after that CR has arrived. As in Redis
/// (`processMultibulkBuffer`), that byte is skipped without being looked
/// at, and a header is judged only once its line is complete: `*1\r\n+foo`
/// waits for more input rather than failing on the `+` at once.
fn find_line_end(buf: &[u8], from: usize) -> Option<usize> {
    let at = from + memchr(b'\r', &buf[from..])?;
    (at + 1 < buf.len()).then_some(at)
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

/// Parses a decimal integer the way Redis's `string2ll` does: optional `-`,
/// no `+`, no leading zeros, no spaces, within `i64`.
pub(crate) fn parse_i64(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, s),
    };
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    if digits.len() > 1 && digits[0] == b'0' {
        return None;
    }
    if neg && digits == b"0" {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        let d = i64::from(d - b'0');
        v = if neg { v.checked_mul(10)?.checked_sub(d)? } else { v.checked_mul(10)?.checked_add(d)? };
    }
    Some(v)
}

fn is_hex(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

fn hex_val(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => b - b'A' + 10,
    }
}

/// C's `isspace()`, which Redis's `sdssplitargs` uses between arguments and
/// after a closing quote: Rust's `is_ascii_whitespace` leaves out the
/// vertical tab (0x0b).
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Splits an inline command line into arguments with the quoting rules of
/// Redis's `sdssplitargs`: `"..."` with C escapes and `\xHH`, `'...'` with
/// only `\'`, and a closing quote must be followed by a space or the end.
/// Returns `None` for unbalanced quotes.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    // Redis splits a C string: a NUL ends the line.
    let line = &line[..memchr(0, line).unwrap_or(line.len())];
    let mut args = Vec::new();
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && is_c_space(line[i]) {
            i += 1;
        }
        if i >= n {
            return Some(args);
        }
        let mut cur = Vec::new();
        let mut in_dq = false;
        let mut in_sq = false;
        loop {
            if in_dq {
                if i >= n {
                    return None;
                }
                if line[i] == b'\\' && i + 3 < n && line[i + 1] == b'x' && is_hex(line[i + 2]) && is_hex(line[i + 3]) {
                    cur.push(hex_val(line[i + 2]) * 16 + hex_val(line[i + 3]));
                    i += 3;
                } else if line[i] == b'\\' && i + 1 < n {
                    i += 1;
                    cur.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        c => c,
                    });
                } else if line[i] == b'"' {
                    if i + 1 < n && !is_c_space(line[i + 1]) {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(line[i]);
                }
            } else if in_sq {
                if i >= n {
                    return None;
                }
                if line[i] == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    i += 1;
                    cur.push(b'\'');
                } else if line[i] == b'\'' {
                    if i + 1 < n && !is_c_space(line[i + 1]) {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(line[i]);
                }
            } else {
                if i >= n {
                    break;
                }
                match line[i] {
                    b' ' | b'\n' | b'\r' | b'\t' => break,
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    c => cur.push(c),
                }
            }
            i += 1;
        }
        args.push(cur);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(input: &[u8]) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        let mut buf = BytesMut::from(input);
        parse_request(&mut buf, &Limits::default())
    }

    fn encode_command(args: &[Vec<u8>]) -> Vec<u8> {
        let mut out = BytesMut::new();
        encode_request(args, &mut out);
        out.to_vec()
    }

    /// Feeds `pieces` one after another, parsing after each, and returns
    /// every command framed and then either the error that stopped framing
    /// or the bytes left waiting for more.
    /// Feeds `pieces` one after the other to one parser, as a connection
    /// does (so a command framed part-way is resumed, not re-read).
    fn feed(pieces: &[&[u8]], limits: &Limits) -> (Vec<Vec<Bytes>>, Result<Vec<u8>, ProtocolError>) {
        let mut parser = RequestParser::default();
        let mut buf = BytesMut::new();
        let mut cmds = Vec::new();
        for piece in pieces {
            buf.extend_from_slice(piece);
            loop {
                let mut args = Vec::new();
                match parser.parse(&mut buf, limits, &mut args) {
                    Ok(true) => cmds.push(args),
                    Ok(false) => break,
                    Err(e) => return (cmds, Err(e)),
                }
            }
        }
        (cmds, Ok(buf.to_vec()))
    }

    /// Like [`feed`], through the non-consuming [`RequestParser::frame`]
    /// the way a connection uses it: frame a batch of up to `batch`
    /// commands as spans, then drop the bytes they used at once.
    fn feed_frames(
        pieces: &[&[u8]],
        limits: &Limits,
        batch: usize,
    ) -> (Vec<Vec<Bytes>>, Result<Vec<u8>, ProtocolError>) {
        let mut parser = RequestParser::default();
        let mut buf = BytesMut::new();
        let mut cmds = Vec::new();
        let mut spans = Vec::new();
        for piece in pieces {
            buf.extend_from_slice(piece);
            loop {
                let mut at = 0;
                let mut framed = 0;
                let mut done = false;
                parser.clear_inline();
                while framed < batch {
                    spans.clear();
                    match parser.frame(&buf, at, limits, &mut spans) {
                        Ok(Frame::Command { end, inline }) => {
                            assert!(end > at && !spans.is_empty());
                            let src: &[u8] = if inline { parser.inline_args() } else { &buf };
                            cmds.push(spans.iter().map(|&(s, e)| Bytes::copy_from_slice(&src[s..e])).collect());
                            at = end;
                            framed += 1;
                        }
                        Ok(Frame::Incomplete { resume, reserve }) => {
                            at = resume;
                            buf.reserve(reserve);
                            done = true;
                            break;
                        }
                        Err(e) => return (cmds, Err(e)),
                    }
                }
                let _ = buf.split_to(at);
                if done {
                    break;
                }
            }
        }
        (cmds, Ok(buf.to_vec()))
    }

    /// `arg` in double quotes, escaped the way redis-cli (`sdscatrepr`)
    /// writes it.
    fn quote(arg: &[u8]) -> Vec<u8> {
        let mut out = vec![b'"'];
        for &b in arg {
            match b {
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'"' => out.extend_from_slice(b"\\\""),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                7 => out.extend_from_slice(b"\\a"),
                8 => out.extend_from_slice(b"\\b"),
                0x20..=0x7e => out.push(b),
                _ => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
            }
        }
        out.push(b'"');
        out
    }

    #[test]
    fn multibulk_and_pipeline() {
        let mut buf = BytesMut::from(&b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n"[..]);
        let l = Limits::default();
        assert_eq!(parse_request(&mut buf, &l).unwrap().unwrap(), vec![Bytes::from("GET"), Bytes::from("k")]);
        assert_eq!(parse_request(&mut buf, &l).unwrap().unwrap(), vec![Bytes::from("PING")]);
        assert_eq!(parse_request(&mut buf, &l).unwrap(), None);
        assert!(buf.is_empty());
    }

    #[test]
    fn inline_commands() {
        assert_eq!(parse(b"PING\r\n").unwrap().unwrap(), vec![Bytes::from("PING")]);
        assert_eq!(
            parse(b"set k \"a b\\x41\\n\" 'it\\'s'\n").unwrap().unwrap(),
            vec![Bytes::from("set"), Bytes::from("k"), Bytes::from("a bA\n"), Bytes::from("it's")]
        );
        assert_eq!(parse(b"\r\n\r\nPING\r\n").unwrap().unwrap(), vec![Bytes::from("PING")]);
        assert_eq!(parse(b"PING").unwrap(), None);
        assert_eq!(parse(b"set k \"abc\n").unwrap_err().to_string(), "Protocol error: unbalanced quotes in request");
        assert_eq!(parse(b"set k \"abc\"x\n").unwrap_err().to_string(), "Protocol error: unbalanced quotes in request");
    }

    #[test]
    fn redis_error_texts() {
        let cases: &[(&[u8], &str)] = &[
            (b"*abc\r\n", "invalid multibulk length"),
            (b"*3000000000\r\n", "invalid multibulk length"),
            (b"*1\r\n+foo\r\n", "expected '$', got '+'"),
            (b"*1\r\n$-5\r\n", "invalid bulk length"),
            (b"*1\r\n$99999999999999\r\n", "invalid bulk length"),
            (b"*1\r\n$x\r\n", "invalid bulk length"),
        ];
        for (input, msg) in cases {
            assert_eq!(
                parse(input).unwrap_err(),
                ProtocolError(msg.as_bytes().to_vec()),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        let big = vec![b'a'; INLINE_LEN_MAX + 1];
        assert_eq!(parse(&big).unwrap_err().0, b"too big inline request");
        let mut big = b"*".to_vec();
        big.extend(vec![b'1'; INLINE_LEN_MAX + 1]);
        assert_eq!(parse(&big).unwrap_err().0, b"too big mbulk count string");
    }

    #[test]
    fn the_offending_byte_is_quoted_as_it_is() {
        let e = parse(b"*1\r\n\xff\r\n").unwrap_err();
        assert_eq!(e.0, b"expected '$', got '\xff'");
        let mut out = BytesMut::new();
        e.reply().encode(crate::Proto::Resp2, &mut out);
        assert_eq!(&out[..], b"-ERR Protocol error: expected '$', got '\xff'\r\n");
        // A CR or LF would end the error line early: Redis maps them to spaces.
        let mut out = BytesMut::new();
        parse(b"*1\r\n\n\r\n").unwrap_err().reply().encode(crate::Proto::Resp2, &mut out);
        assert_eq!(&out[..], b"-ERR Protocol error: expected '$', got ' '\r\n");
    }

    #[test]
    fn header_lines_end_at_their_first_cr_as_in_redis() {
        // Nothing is judged before the line is complete.
        assert_eq!(parse(b"*1\r\n+foo").unwrap(), None);
        assert_eq!(parse(b"*1\r\n+foo\r").unwrap(), None);
        assert_eq!(parse(b"*1\r\n$4").unwrap(), None);
        assert_eq!(parse(b"*1\r\n+foo\r\n").unwrap_err().0, b"expected '$', got '+'");
        // The byte after the CR is taken as the LF, whatever it is.
        assert_eq!(parse(b"*1\rx$4\rxPING\r\n").unwrap().unwrap(), vec![Bytes::from("PING")]);
        assert_eq!(parse(b"*12\r3\r\n").unwrap_err().0, b"expected '$', got '\r'");
        assert_eq!(parse(b"*1\r\n$\r\n").unwrap_err().0, b"invalid bulk length");
    }

    #[test]
    fn limits_are_enforced() {
        let limits = Limits { bulk_len_max: 4, multibulk_len_max: 2, authenticated: true };
        let mut buf = BytesMut::from(&b"*1\r\n$5\r\n"[..]);
        assert_eq!(parse_request(&mut buf, &limits).unwrap_err().0, b"invalid bulk length");
        let mut buf = BytesMut::from(&b"*3\r\n"[..]);
        assert_eq!(parse_request(&mut buf, &limits).unwrap_err().0, b"invalid multibulk length");
        let unauth = Limits { authenticated: false, ..Limits::default() };
        let mut buf = BytesMut::from(&b"*11\r\n"[..]);
        assert_eq!(parse_request(&mut buf, &unauth).unwrap_err().0, b"unauthenticated multibulk length");
        let mut buf = BytesMut::from(&b"*1\r\n$16385\r\n"[..]);
        assert_eq!(parse_request(&mut buf, &unauth).unwrap_err().0, b"unauthenticated bulk length");
    }

    #[test]
    fn inline_separators_are_c_isspace() {
        // Between arguments and after a closing quote any isspace() byte
        // separates; inside an unquoted argument only space, tab, CR and LF
        // end it (as in sdssplitargs).
        assert_eq!(split_args(b"\x0bPING \x0c").unwrap(), vec![b"PING".to_vec()]);
        assert_eq!(split_args(b"\"a\"\x0b'b'\x0cc").unwrap(), vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
        assert_eq!(split_args(b"a\x0bb\x0c").unwrap(), vec![b"a\x0bb\x0c".to_vec()]);
    }

    #[test]
    fn empty_multibulk_is_skipped() {
        assert_eq!(parse(b"*0\r\n*-1\r\n*1\r\n$1\r\nx\r\n").unwrap().unwrap(), vec![Bytes::from("x")]);
    }

    #[test]
    fn parse_i64_matches_string2ll() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-12"), Some(-12));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [&b""[..], b"-", b"+1", b"01", b"-0", b" 1", b"1 ", b"9223372036854775808", b"1.5"] {
            assert_eq!(parse_i64(bad), None, "{bad:?}");
        }
    }

    proptest! {
        /// Any command survives encode → parse, however the bytes are split
        /// across reads.
        #[test]
        fn multibulk_round_trip(
            cmds in prop::collection::vec(prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 1..6), 1..5),
            split in 0usize..400,
        ) {
            let mut wire = Vec::new();
            for c in &cmds {
                wire.extend(encode_command(c));
            }
            let split = split.min(wire.len());
            let mut buf = BytesMut::from(&wire[..split]);
            let limits = Limits::default();
            let mut got = Vec::new();
            while let Some(args) = parse_request(&mut buf, &limits).unwrap() {
                got.push(args);
            }
            buf.extend_from_slice(&wire[split..]);
            while let Some(args) = parse_request(&mut buf, &limits).unwrap() {
                got.push(args);
            }
            prop_assert!(buf.is_empty());
            let got: Vec<Vec<Vec<u8>>> = got.into_iter().map(|c| c.into_iter().map(|a| a.to_vec()).collect()).collect();
            prop_assert_eq!(&got, &cmds);
            let (framed, rest) = feed_frames(&[&wire[..split], &wire[split..]], &limits, 16);
            prop_assert_eq!(rest, Ok(Vec::new()));
            let framed: Vec<Vec<Vec<u8>>> = framed.into_iter().map(|c| c.into_iter().map(|a| a.to_vec()).collect()).collect();
            prop_assert_eq!(framed, cmds);
        }

        /// Any arguments survive being written as an inline command, quoted
        /// the way redis-cli quotes them (or bare when they can be) and
        /// separated by any C whitespace.
        #[test]
        fn inline_round_trip(
            args in prop::collection::vec(
                prop_oneof![
                    prop::collection::vec(any::<u8>(), 0..30),
                    "[a-zA-Z0-9:_.-]{1,12}".prop_map(String::into_bytes),
                ],
                1..8,
            ),
            seps in prop::collection::vec(prop::collection::vec(prop::sample::select(vec![b' ', b'\t', 0x0b, 0x0c, b'\r']), 1..3), 9),
            bare in prop::collection::vec(any::<bool>(), 8),
            crlf in any::<bool>(),
        ) {
            let mut line = seps[8].clone();
            for (i, a) in args.iter().enumerate() {
                let plain = !a.is_empty() && a.iter().all(|b| b.is_ascii_alphanumeric() || b":_.-".contains(b));
                if plain && bare[i] {
                    line.extend_from_slice(a);
                    // Only space, tab, CR and LF end a bare argument.
                    line.push(b' ');
                } else {
                    line.extend(quote(a));
                }
                line.extend_from_slice(&seps[i]);
            }
            line.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
            let mut buf = BytesMut::from(&line[..]);
            let got = parse_request(&mut buf, &Limits::default()).unwrap().expect("a whole line");
            prop_assert!(buf.is_empty());
            let got: Vec<Vec<u8>> = got.into_iter().map(|a| a.to_vec()).collect();
            prop_assert_eq!(got, args);
        }

        /// Framing does not depend on how the bytes arrive: feeding any
        /// input in pieces yields the same commands, and the same error at
        /// the same point, as feeding it at once. The alphabet is biased
        /// towards RESP's own bytes so that headers, lengths, quotes and
        /// line ends meet in every order.
        #[test]
        fn framing_does_not_depend_on_how_bytes_arrive(
            input in prop::collection::vec(
                prop_oneof![
                    4 => prop::sample::select(b"*$\r\n0123-+ \"'\\ax".to_vec()),
                    1 => any::<u8>(),
                ],
                0..200,
            ),
            mut cuts in prop::collection::vec(0usize..200, 0..12),
        ) {
            let limits = Limits { bulk_len_max: 64, multibulk_len_max: 8, authenticated: true };
            cuts.retain(|&c| c <= input.len());
            cuts.sort_unstable();
            cuts.dedup();
            let mut pieces = Vec::new();
            let mut from = 0;
            for c in cuts.into_iter().chain([input.len()]) {
                pieces.push(&input[from..c]);
                from = c;
            }
            let whole = feed(&[&input[..]], &limits);
            prop_assert_eq!(&feed(&pieces, &limits), &whole);
            prop_assert_eq!(&feed_frames(&pieces, &limits, 1), &whole);
            prop_assert_eq!(&feed_frames(&pieces, &limits, 16), &whole);
            prop_assert_eq!(&feed_frames(&[&input[..]], &limits, 3), &whole);
        }

        /// A big command arriving a few bytes at a time, resumed where the
        /// last read stopped, frames to the same arguments.
        #[test]
        fn a_command_resumed_across_many_reads_is_whole(
            args in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..20), 1..300),
            step in 1usize..40,
        ) {
            let wire = encode_command(&args);
            let pieces: Vec<&[u8]> = wire.chunks(step).collect();
            for (cmds, rest) in [feed(&pieces, &Limits::default()), feed_frames(&pieces, &Limits::default(), 16)] {
                prop_assert_eq!(rest, Ok(Vec::new()));
                prop_assert_eq!(cmds.len(), 1);
                let got: Vec<Vec<u8>> = cmds[0].iter().map(|a| a.to_vec()).collect();
                prop_assert_eq!(&got, &args);
            }
        }

        /// Garbage never panics: it parses, asks for more, or is an error.
        #[test]
        fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let mut buf = BytesMut::from(&bytes[..]);
            let limits = Limits { bulk_len_max: 1 << 20, multibulk_len_max: 1000, authenticated: true };
            for _ in 0..100 {
                match parse_request(&mut buf, &limits) {
                    Ok(Some(args)) => prop_assert!(!args.is_empty()),
                    Ok(None) | Err(_) => break,
                }
            }
        }
    }
}
