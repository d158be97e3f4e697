//! Request parser. Arguments are spans into the connection's read buffer, so parsing a
//! command allocates nothing; inline commands (which need unquoting) go through a scratch
//! buffer owned by the connection.
use memchr::memchr;

/// Longest inline request or bulk/multibulk header line accepted without a newline (as Redis).
pub const PROTO_INLINE_MAX_SIZE: usize = 64 * 1024;
/// Largest multibulk count accepted (Redis: INT_MAX; 1024*1024 elements before auth is not enforced here).
const MAX_MULTIBULK: i64 = i32::MAX as i64;

/// The arguments of one command: spans into a byte buffer.
#[derive(Clone, Copy)]
pub struct Args<'a> {
    buf: &'a [u8],
    spans: &'a [(u32, u32)],
}

/// [`Args`] without their lifetime (see [`Args::into_raw`]).
#[derive(Clone, Copy)]
pub struct RawArgs {
    buf: *const [u8],
    spans: *const [(u32, u32)],
}

impl RawArgs {
    /// # Safety
    /// The buffers the arguments were made from must still be alive and unchanged.
    pub unsafe fn get<'a>(self) -> Args<'a> {
        Args {
            buf: &*self.buf,
            spans: &*self.spans,
        }
    }
}

impl<'a> Args<'a> {
    pub fn new(buf: &'a [u8], spans: &'a [(u32, u32)]) -> Self {
        Args { buf, spans }
    }
    #[inline]
    pub fn len(&self) -> usize {
        self.spans.len()
    }
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }
    #[inline]
    pub fn get(&self, i: usize) -> &'a [u8] {
        let (s, e) = self.spans[i];
        &self.buf[s as usize..e as usize]
    }
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &'a [u8]> + 'a {
        let buf = self.buf;
        self.spans
            .iter()
            .map(move |&(s, e)| &buf[s as usize..e as usize])
    }
    /// The arguments as owned byte strings.
    pub fn to_vecs(&self) -> Vec<Vec<u8>> {
        self.iter().map(<[u8]>::to_vec).collect()
    }
    /// The buffer and spans as raw pointers, for a callback that must be `'static` but
    /// runs only while these arguments are alive (a script's hook): see [`Args::from_raw`].
    pub fn into_raw(self) -> RawArgs {
        RawArgs {
            buf: self.buf,
            spans: self.spans,
        }
    }
    /// Arguments from `i` on.
    pub fn tail(&self, i: usize) -> Args<'a> {
        Args {
            buf: self.buf,
            spans: &self.spans[i.min(self.spans.len())..],
        }
    }
}

/// Outcome of looking at the start of a buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Request {
    /// A whole command: `consumed` bytes; its spans were pushed; `inline` says they point
    /// into the scratch buffer rather than the input.
    Command { consumed: usize, inline: bool },
    /// Bytes to skip with no command (empty inline line, `*0`, `*-1`).
    Skip { consumed: usize },
    /// More bytes are needed; `want` is a hint of the total length needed, if known.
    Incomplete { want: usize },
}

/// A protocol error: the text after `-ERR ` and the connection is closed after replying.
#[derive(Debug, PartialEq, Eq)]
pub struct ParseError(pub String);

fn perr(msg: &str) -> ParseError {
    ParseError(msg.to_string())
}

/// Where an incomplete multibulk request stopped, so that the next read resumes there
/// instead of parsing the request again from its first byte (Redis keeps the same state
/// in `multibulklen`/`bulklen`): a request trickled in N pieces costs O(its length), not
/// O(N x its length). The spans of the elements already parsed stay in the caller's
/// `spans`, relative to the request's first byte, which must stay at the buffer's start.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct Partial {
    /// Elements still to parse; 0 when no request is in progress.
    left: i64,
    /// Offset from the request's start of the next element's `$` line.
    next: usize,
    /// Bytes the request needs before its next element is complete (0: not known yet).
    want: usize,
}

impl Partial {
    pub fn in_progress(&self) -> bool {
        self.left > 0
    }
}

/// Parse one request at the start of `buf`, pushing argument spans into `spans` (cleared
/// first). `max_bulk` is `proto-max-bulk-len`.
pub fn parse_request(
    buf: &[u8],
    spans: &mut Vec<(u32, u32)>,
    scratch: &mut Vec<u8>,
    max_bulk: i64,
) -> Result<Request, ParseError> {
    parse_request_resume(buf, spans, scratch, max_bulk, &mut Partial::default())
}

/// `parse_request` that resumes an incomplete multibulk where `partial` says it stopped,
/// and records where it stops when the request is still incomplete.
pub fn parse_request_resume(
    buf: &[u8],
    spans: &mut Vec<(u32, u32)>,
    scratch: &mut Vec<u8>,
    max_bulk: i64,
    partial: &mut Partial,
) -> Result<Request, ParseError> {
    if partial.in_progress() {
        return resume(buf, spans, max_bulk, partial);
    }
    spans.clear();
    if buf.is_empty() {
        return Ok(Request::Incomplete { want: 0 });
    }
    if buf[0] == b'*' {
        parse_multibulk(buf, spans, max_bulk, partial)
    } else {
        parse_inline(buf, spans, scratch)
    }
}

/// Go on with an incomplete multibulk (the uncommon case: kept out of the hot path).
#[cold]
#[inline(never)]
fn resume(
    buf: &[u8],
    spans: &mut Vec<(u32, u32)>,
    max_bulk: i64,
    partial: &mut Partial,
) -> Result<Request, ParseError> {
    if partial.want > buf.len() {
        return Ok(Request::Incomplete { want: partial.want });
    }
    let (left, next) = (partial.left, partial.next);
    *partial = Partial::default();
    parse_elements(buf, spans, max_bulk, left, next, partial)
}

/// Parse a decimal integer line as Redis's string2ll does (no '+', no leading zeros except "0").
fn parse_int(s: &[u8]) -> Option<i64> {
    crate::util::parse_i64(s)
}

fn parse_multibulk(
    buf: &[u8],
    spans: &mut Vec<(u32, u32)>,
    max_bulk: i64,
    partial: &mut Partial,
) -> Result<Request, ParseError> {
    let Some(nl) = memchr(b'\r', buf) else {
        if buf.len() > PROTO_INLINE_MAX_SIZE {
            return Err(perr("Protocol error: too big mbulk count string"));
        }
        return Ok(Request::Incomplete { want: 0 });
    };
    if nl > PROTO_INLINE_MAX_SIZE {
        return Err(perr("Protocol error: too big mbulk count string"));
    }
    if nl + 1 >= buf.len() {
        return Ok(Request::Incomplete { want: 0 });
    }
    let count = match parse_int(&buf[1..nl]) {
        Some(n) if n <= MAX_MULTIBULK => n,
        _ => return Err(perr("Protocol error: invalid multibulk length")),
    };
    let pos = nl + 2;
    if count <= 0 {
        return Ok(Request::Skip { consumed: pos });
    }
    parse_elements(buf, spans, max_bulk, count, pos, partial)
}

/// Parse `count` bulk elements starting at `pos`; on running out of input, record in
/// `partial` how far it got.
#[inline(always)]
fn parse_elements(
    buf: &[u8],
    spans: &mut Vec<(u32, u32)>,
    max_bulk: i64,
    count: i64,
    mut pos: usize,
    partial: &mut Partial,
) -> Result<Request, ParseError> {
    let mut left = count;
    #[cold]
    fn stop(
        partial: &mut Partial,
        pos: usize,
        left: i64,
        want: usize,
    ) -> Result<Request, ParseError> {
        *partial = Partial {
            left,
            next: pos,
            want,
        };
        Ok(Request::Incomplete { want })
    }
    while left > 0 {
        if pos >= buf.len() {
            return stop(partial, pos, left, 0);
        }
        if buf[pos] != b'$' {
            return Err(ParseError(format!(
                "Protocol error: expected '$', got '{}'",
                buf[pos] as char
            )));
        }
        let Some(rel) = memchr(b'\r', &buf[pos..]) else {
            if buf.len() - pos > PROTO_INLINE_MAX_SIZE {
                return Err(perr("Protocol error: too big bulk count string"));
            }
            return stop(partial, pos, left, 0);
        };
        if rel > PROTO_INLINE_MAX_SIZE {
            return Err(perr("Protocol error: too big bulk count string"));
        }
        let line_end = pos + rel;
        let len = match parse_int(&buf[pos + 1..line_end]) {
            Some(n) if n >= 0 && n <= max_bulk => n as usize,
            _ => return Err(perr("Protocol error: invalid bulk length")),
        };
        let start = line_end + 2;
        let end = start + len;
        if end + 2 > buf.len() {
            return stop(partial, pos, left, end + 2);
        }
        spans.push((start as u32, end as u32));
        pos = end + 2;
        left -= 1;
    }
    Ok(Request::Command {
        consumed: pos,
        inline: false,
    })
}

fn parse_inline(
    buf: &[u8],
    spans: &mut Vec<(u32, u32)>,
    scratch: &mut Vec<u8>,
) -> Result<Request, ParseError> {
    let Some(nl) = memchr(b'\n', buf) else {
        if buf.len() > PROTO_INLINE_MAX_SIZE {
            return Err(perr("Protocol error: too big inline request"));
        }
        return Ok(Request::Incomplete { want: 0 });
    };
    let consumed = nl + 1;
    let mut line = &buf[..nl];
    if line.last() == Some(&b'\r') {
        line = &line[..line.len() - 1];
    }
    scratch.clear();
    if !split_args(line, scratch, spans) {
        return Err(perr("Protocol error: unbalanced quotes in request"));
    }
    if spans.is_empty() {
        return Ok(Request::Skip { consumed });
    }
    Ok(Request::Command {
        consumed,
        inline: true,
    })
}

/// Split a line into arguments the way Redis's sdssplitargs does: whitespace separated,
/// "double quoted" with \n \r \t \b \a \\ \" \xHH escapes, 'single quoted' with \' only.
/// A closing quote must be followed by whitespace or the end. Returns false on bad quoting.
/// Also used by the config file parser.
pub fn split_args(line: &[u8], out: &mut Vec<u8>, spans: &mut Vec<(u32, u32)>) -> bool {
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && is_sep(line[i]) {
            i += 1;
        }
        if i >= n {
            return true;
        }
        let start = out.len();
        let (mut inq, mut insq) = (false, false);
        loop {
            if inq {
                if i >= n {
                    return false;
                }
                if line[i] == b'\\'
                    && i + 3 < n
                    && line[i + 1] == b'x'
                    && is_hex(line[i + 2])
                    && is_hex(line[i + 3])
                {
                    out.push(hex_val(line[i + 2]) * 16 + hex_val(line[i + 3]));
                    i += 3;
                } else if line[i] == b'\\' && i + 1 < n {
                    i += 1;
                    out.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        c => c,
                    });
                } else if line[i] == b'"' {
                    if i + 1 < n && !is_sep(line[i + 1]) {
                        return false;
                    }
                    i += 1;
                    break;
                } else {
                    out.push(line[i]);
                }
            } else if insq {
                if i >= n {
                    return false;
                }
                if line[i] == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    i += 1;
                    out.push(b'\'');
                } else if line[i] == b'\'' {
                    if i + 1 < n && !is_sep(line[i + 1]) {
                        return false;
                    }
                    i += 1;
                    break;
                } else {
                    out.push(line[i]);
                }
            } else {
                if i >= n {
                    break;
                }
                match line[i] {
                    c if is_sep(c) => break,
                    b'"' => inq = true,
                    b'\'' => insq = true,
                    c => out.push(c),
                }
            }
            i += 1;
        }
        spans.push((start as u32, out.len() as u32));
    }
}

/// Argument separators: C's isspace() plus NUL (which ends a C string in Redis).
fn is_sep(c: u8) -> bool {
    matches!(c, b' ' | b'\n' | b'\r' | b'\t' | 0x0b | 0x0c | 0)
}

fn is_hex(c: u8) -> bool {
    c.is_ascii_hexdigit()
}
fn hex_val(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every command of `buf` parsed from one buffer, and parsed as the bytes arrive in
    /// pieces cut at `cuts` (as process_input does, resuming): (spans, consumed) of each
    /// command, or the protocol error that ended the stream.
    /// A parsed command's arguments and length, or the error that ended the stream.
    type Parsed = Result<(Vec<Vec<u8>>, usize), ParseError>;

    fn stream(buf: &[u8], cuts: &[usize]) -> Vec<Parsed> {
        let (mut spans, mut scratch, mut partial) = (Vec::new(), Vec::new(), Partial::default());
        let mut out = Vec::new();
        let mut start = 0;
        let mut ends: Vec<usize> = cuts.iter().copied().filter(|&c| c < buf.len()).collect();
        ends.sort_unstable();
        ends.push(buf.len());
        for end in ends {
            while start < end {
                match parse_request_resume(
                    &buf[start..end],
                    &mut spans,
                    &mut scratch,
                    1 << 20,
                    &mut partial,
                ) {
                    Ok(Request::Command { consumed, inline }) => {
                        let args = if inline {
                            Args::new(&scratch, &spans)
                        } else {
                            Args::new(&buf[start..end], &spans)
                        };
                        out.push(Ok((args.iter().map(|a| a.to_vec()).collect(), consumed)));
                        start += consumed;
                    }
                    Ok(Request::Skip { consumed }) => start += consumed,
                    Ok(Request::Incomplete { .. }) => break,
                    Err(e) => {
                        out.push(Err(e));
                        return out;
                    }
                }
            }
        }
        out
    }

    /// Randomized: valid pipelines, mutated ones and random bytes, each parsed whole and
    /// in random pieces with resumption. No panic, and the pieces give exactly what the
    /// whole buffer gives. FUZZ_INPUTS sets the count (default 10^6), FUZZ_SEED the seed.
    #[test]
    fn fuzz_pieces_parse_like_the_whole() {
        use rand::{Rng, SeedableRng};
        let n: usize = std::env::var("FUZZ_INPUTS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1_000_000);
        let seed: u64 = std::env::var("FUZZ_SEED")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| rand::thread_rng().gen());
        eprintln!("parser fuzz: {n} inputs, FUZZ_SEED={seed}");
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let words: [&[u8]; 12] = [
            b"*",
            b"$",
            b"\r\n",
            b"\r",
            b"\n",
            b"-1",
            b"0",
            b"3",
            b"99999999999",
            b" ",
            b"\"",
            b"'",
        ];
        for i in 0..n {
            let mut buf = Vec::new();
            match rng.gen_range(0..4) {
                0 => buf.extend((0..rng.gen_range(0..64)).map(|_| rng.gen::<u8>())),
                1 => {
                    for _ in 0..rng.gen_range(1..12) {
                        buf.extend_from_slice(words[rng.gen_range(0..words.len())]);
                    }
                }
                _ => {
                    for _ in 0..rng.gen_range(1..4) {
                        if rng.gen_bool(0.2) {
                            buf.extend_from_slice(b"SET k \"a b\" 'c'\r\n");
                            continue;
                        }
                        let argc = rng.gen_range(0..5);
                        buf.extend_from_slice(format!("*{argc}\r\n").as_bytes());
                        for _ in 0..argc {
                            let len = rng.gen_range(0..20);
                            buf.extend_from_slice(format!("${len}\r\n").as_bytes());
                            buf.extend((0..len).map(|_| rng.gen_range(b'a'..=b'z')));
                            buf.extend_from_slice(b"\r\n");
                        }
                    }
                    // Mutate some bytes of the valid pipeline.
                    for _ in 0..rng.gen_range(0..3) {
                        if !buf.is_empty() {
                            let at = rng.gen_range(0..buf.len());
                            buf[at] = words[rng.gen_range(0..words.len())][0];
                        }
                    }
                }
            }
            let cuts: Vec<usize> = (0..rng.gen_range(0..6))
                .map(|_| rng.gen_range(0..=buf.len()))
                .collect();
            let whole = stream(&buf, &[]);
            let pieces = stream(&buf, &cuts);
            assert_eq!(
                whole,
                pieces,
                "input {i} (seed {seed}): {:?} cut at {cuts:?}",
                String::from_utf8_lossy(&buf)
            );
        }
    }

    /// A request fed a few bytes at a time resumes where it stopped: the resume point only
    /// moves forward, spans already found are kept, and a big bulk waiting for its bytes is
    /// answered without looking at the buffer again.
    #[test]
    fn incomplete_multibulk_resumes_where_it_stopped() {
        let mut req = b"*1001\r\n$5\r\nRPUSH\r\n".to_vec();
        for i in 0..999 {
            let e = format!("el{i}");
            req.extend_from_slice(format!("${}\r\n{}\r\n", e.len(), e).as_bytes());
        }
        let big = vec![b'x'; 100_000];
        req.extend_from_slice(format!("${}\r\n", big.len()).as_bytes());
        req.extend_from_slice(&big);
        req.extend_from_slice(b"\r\n");
        let (mut spans, mut scratch, mut partial) = (Vec::new(), Vec::new(), Partial::default());
        let mut last_next = 0;
        let mut calls = 0;
        let mut k = 0;
        loop {
            k = (k + 13).min(req.len());
            calls += 1;
            let r =
                parse_request_resume(&req[..k], &mut spans, &mut scratch, 1 << 30, &mut partial)
                    .unwrap();
            match r {
                Request::Incomplete { want } => {
                    assert!(partial.in_progress());
                    assert!(
                        partial.next >= last_next,
                        "went back: {} < {last_next}",
                        partial.next
                    );
                    last_next = partial.next;
                    if want > 0 {
                        assert!(want > k);
                    }
                }
                Request::Command { consumed, inline } => {
                    assert!(!inline);
                    assert_eq!(consumed, req.len());
                    break;
                }
                other => panic!("{other:?}"),
            }
        }
        assert!(calls > 1000);
        assert_eq!(spans.len(), 1001);
        let args = Args::new(&req, &spans);
        assert_eq!(args.get(0), b"RPUSH");
        assert_eq!(args.get(999), b"el998");
        assert_eq!(args.get(1000), &big[..]);
        assert!(!partial.in_progress());
        // Waiting for the big bulk: the known length answers at once, spans untouched.
        let cut = req.len() - 50_000;
        let (mut spans, mut partial) = (Vec::new(), Partial::default());
        let r = parse_request_resume(&req[..cut], &mut spans, &mut scratch, 1 << 30, &mut partial);
        assert_eq!(r, Ok(Request::Incomplete { want: req.len() }));
        spans.push((7, 7)); // a marker: a resume that re-parsed would clear or extend it
        let before = spans.clone();
        let r = parse_request_resume(
            &req[..cut + 10],
            &mut spans,
            &mut scratch,
            1 << 30,
            &mut partial,
        );
        assert_eq!(r, Ok(Request::Incomplete { want: req.len() }));
        assert_eq!(spans, before);
    }

    fn parse(buf: &[u8]) -> (Result<Request, ParseError>, Vec<Vec<u8>>) {
        let (mut spans, mut scratch) = (Vec::new(), Vec::new());
        let r = parse_request(buf, &mut spans, &mut scratch, 512 * 1024 * 1024);
        let src: &[u8] = match r {
            Ok(Request::Command { inline: true, .. }) => &scratch,
            _ => buf,
        };
        let args = spans
            .iter()
            .map(|&(s, e)| src[s as usize..e as usize].to_vec())
            .collect();
        (r, args)
    }

    #[test]
    fn multibulk_whole_and_split() {
        let full = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
        let (r, a) = parse(full);
        assert_eq!(
            r,
            Ok(Request::Command {
                consumed: full.len(),
                inline: false
            })
        );
        assert_eq!(a, vec![b"GET".to_vec(), b"k".to_vec()]);
        for cut in 0..full.len() {
            let (r, _) = parse(&full[..cut]);
            assert!(
                matches!(r, Ok(Request::Incomplete { .. })),
                "cut at {cut}: {r:?}"
            );
        }
    }

    #[test]
    fn multibulk_errors() {
        assert_eq!(
            parse(b"*x\r\n").0,
            Err(perr("Protocol error: invalid multibulk length"))
        );
        assert_eq!(
            parse(b"*1\r\n$-1\r\n").0,
            Err(perr("Protocol error: invalid bulk length"))
        );
        assert_eq!(
            parse(b"*1\r\n+OK\r\n").0,
            Err(perr("Protocol error: expected '$', got '+'"))
        );
        assert_eq!(parse(b"*0\r\n").0, Ok(Request::Skip { consumed: 4 }));
        let long = vec![b'1'; PROTO_INLINE_MAX_SIZE + 10];
        let mut b = b"*".to_vec();
        b.extend_from_slice(&long);
        assert_eq!(
            parse(&b).0,
            Err(perr("Protocol error: too big mbulk count string"))
        );
    }

    #[test]
    fn inline_quoting() {
        let (r, a) = parse(b"set \"a b\" 'c\\'d' \"\\x41\\n\"\r\n");
        assert!(matches!(r, Ok(Request::Command { inline: true, .. })));
        assert_eq!(
            a,
            vec![
                b"set".to_vec(),
                b"a b".to_vec(),
                b"c'd".to_vec(),
                b"A\n".to_vec()
            ]
        );
        assert_eq!(
            parse(b"set \"a\n").0,
            Err(perr("Protocol error: unbalanced quotes in request"))
        );
        assert_eq!(parse(b"\r\n").0, Ok(Request::Skip { consumed: 2 }));
        assert_eq!(parse(b"PING\n").1, vec![b"PING".to_vec()]);
    }

    #[test]
    fn random_input_never_panics() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let alphabet = b"*$\r\n0123456789-+abc \"'\\x\0\t\x0b";
        for _ in 0..200_000 {
            let len = rng.gen_range(0..40);
            let buf: Vec<u8> = (0..len)
                .map(|_| alphabet[rng.gen_range(0..alphabet.len())])
                .collect();
            let (r, _) = parse(&buf);
            if let Ok(Request::Command { consumed, .. } | Request::Skip { consumed }) = r {
                assert!(consumed <= buf.len());
            }
        }
    }
}
