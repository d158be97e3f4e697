//! The client side of RESP, for the connections ferrokv opens itself (MIGRATE now; the
//! replica link and the cluster bus to come): commands encoded, replies parsed.
//!
//! [`ReplyParser`] reads RESP2 and RESP3 replies from bytes as they arrive. It keeps the
//! containers it is inside on an explicit stack, so a reply that arrives in many reads is
//! parsed once (no re-scan from its start: no quadratic cost), a deep nesting cannot
//! overflow the thread's stack, and a count or length a peer announces is never trusted
//! for an allocation: memory grows only with the bytes that actually arrived.

/// One reply.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `+OK`
    Simple(Vec<u8>),
    /// `-ERR ...` (without the dash).
    Error(Vec<u8>),
    Int(i64),
    Bulk(Vec<u8>),
    /// RESP2 null bulk or array, RESP3 `_`.
    Null,
    Array(Vec<Value>),
    Map(Vec<(Value, Value)>),
    Set(Vec<Value>),
    Push(Vec<Value>),
    Double(f64),
    Bool(bool),
    BigNumber(Vec<u8>),
    /// `=` with its three-letter format and the text.
    Verbatim(Vec<u8>, Vec<u8>),
    /// `!` blob error (without its code split off).
    BlobError(Vec<u8>),
}

impl Value {
    /// Whether this is an error reply (simple or blob).
    pub fn is_error(&self) -> bool {
        matches!(self, Value::Error(_) | Value::BlobError(_))
    }
    /// The error text, if an error.
    pub fn error_text(&self) -> Option<&[u8]> {
        match self {
            Value::Error(e) | Value::BlobError(e) => Some(e),
            _ => None,
        }
    }
}

/// Append one command (an array of bulk strings) to `out`: the one encoder of
/// commands ferrokv sends (MIGRATE) or propagates (AOF, replicas).
pub fn encode_command<'a>(out: &mut Vec<u8>, words: impl ExactSizeIterator<Item = &'a [u8]>) {
    let mut num = itoa::Buffer::new();
    out.push(b'*');
    out.extend_from_slice(num.format(words.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    for w in words {
        out.push(b'$');
        out.extend_from_slice(num.format(w.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(w);
        out.extend_from_slice(b"\r\n");
    }
}

/// A reply the peer sent that is not RESP (the connection should be dropped).
#[derive(Debug, PartialEq, Eq)]
pub struct ProtocolError(pub String);

/// Limits on what a peer may announce.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Longest bulk string.
    pub max_bulk: usize,
    /// Deepest nesting of containers.
    pub max_depth: usize,
    /// Longest header line (`+...`, `-...`, `:...`).
    pub max_line: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk: 512 * 1024 * 1024,
            max_depth: 128,
            max_line: 64 * 1024,
        }
    }
}

/// Containers the parser is inside, innermost last.
enum Open {
    /// An array, set or push (by `kind` byte) with `left` elements to come.
    List {
        kind: u8,
        left: u64,
        items: Vec<Value>,
    },
    /// A map (or attribute, `keep` false) with `left` values to come (keys and values).
    Map {
        left: u64,
        items: Vec<(Value, Value)>,
        key: Option<Value>,
        keep: bool,
    },
}

/// Parses replies from a byte stream, one at a time (see the module doc).
#[derive(Default)]
pub struct ReplyParser {
    stack: Vec<Open>,
    limits: Option<Limits>,
}

/// Outcome of one [`ReplyParser::feed`].
#[derive(Debug, PartialEq)]
pub struct Fed {
    /// Bytes of the input that were used (drop them before feeding again).
    pub consumed: usize,
    /// A whole reply, when one was completed.
    pub reply: Option<Value>,
}

impl ReplyParser {
    pub fn new(limits: Limits) -> Self {
        ReplyParser {
            stack: Vec::new(),
            limits: Some(limits),
        }
    }

    /// Parse from `buf` until one reply is complete or the bytes run out. Bytes of an
    /// element that is not complete yet are not consumed: feed them again with more.
    pub fn feed(&mut self, buf: &[u8]) -> Result<Fed, ProtocolError> {
        let limits = self.limits.unwrap_or_default();
        let mut pos = 0;
        loop {
            let Some((value, used)) = self.element(&buf[pos..], &limits)? else {
                return Ok(Fed {
                    consumed: pos,
                    reply: None,
                });
            };
            pos += used;
            // A value that opened a container continues with its elements.
            let Some(mut v) = value else {
                continue;
            };
            // Close every container this value completes.
            loop {
                match self.stack.last_mut() {
                    None => {
                        return Ok(Fed {
                            consumed: pos,
                            reply: Some(v),
                        })
                    }
                    Some(Open::List { left, items, .. }) => {
                        items.push(v);
                        *left -= 1;
                        if *left > 0 {
                            break;
                        }
                    }
                    Some(Open::Map {
                        left,
                        items,
                        key,
                        keep,
                    }) => {
                        *left -= 1;
                        match key.take() {
                            None => key.replace(v),
                            Some(k) => {
                                if *keep {
                                    items.push((k, v));
                                }
                                None
                            }
                        };
                        if *left > 0 {
                            break;
                        }
                    }
                }
                v = match self.stack.pop() {
                    Some(Open::List { kind, items, .. }) => list(kind, items),
                    Some(Open::Map { items, keep, .. }) => {
                        if !keep {
                            // An attribute annotates the reply that follows it.
                            break;
                        }
                        Value::Map(items)
                    }
                    None => unreachable!("a container was just looked at"),
                };
            }
        }
    }

    /// One element at the start of `buf`: Some((Some(value), used)) for a scalar or an
    /// empty container, Some((None, used)) when a container was opened, None when more
    /// bytes are needed.
    fn element(
        &mut self,
        buf: &[u8],
        limits: &Limits,
    ) -> Result<Option<(Option<Value>, usize)>, ProtocolError> {
        let Some(&tag) = buf.first() else {
            return Ok(None);
        };
        // The line ends after the tag byte (a reply of just "\r\n" is not a line).
        let Some(end) = find_crlf(&buf[1..], limits.max_line)?.map(|i| i + 1) else {
            return Ok(None);
        };
        let line = &buf[1..end];
        let after = end + 2;
        let scalar = |v: Value| Ok(Some((Some(v), after)));
        match tag {
            b'+' => scalar(Value::Simple(line.to_vec())),
            b'-' => scalar(Value::Error(line.to_vec())),
            b':' => scalar(Value::Int(int(line)?)),
            b'_' => scalar(Value::Null),
            b'#' => match line {
                b"t" => scalar(Value::Bool(true)),
                b"f" => scalar(Value::Bool(false)),
                _ => Err(bad("boolean")),
            },
            b',' => {
                let d = std::str::from_utf8(line)
                    .ok()
                    .and_then(|s| crate::util::parse_f64(s.as_bytes()))
                    .ok_or_else(|| bad("double"))?;
                scalar(Value::Double(d))
            }
            b'(' => scalar(Value::BigNumber(line.to_vec())),
            b'$' | b'=' | b'!' => {
                let n = int(line)?;
                if n < 0 {
                    return if tag == b'$' && n == -1 {
                        scalar(Value::Null)
                    } else {
                        Err(bad("length"))
                    };
                }
                let n = n as usize;
                if n > limits.max_bulk {
                    return Err(ProtocolError(format!(
                        "bulk of {n} bytes is longer than the limit ({})",
                        limits.max_bulk
                    )));
                }
                if buf.len() < after + n + 2 {
                    return Ok(None);
                }
                if &buf[after + n..after + n + 2] != b"\r\n" {
                    return Err(bad("bulk terminator"));
                }
                let body = buf[after..after + n].to_vec();
                let v = match tag {
                    b'$' => Value::Bulk(body),
                    b'!' => Value::BlobError(body),
                    _ => {
                        if body.len() < 4 || body[3] != b':' {
                            return Err(bad("verbatim string"));
                        }
                        Value::Verbatim(body[..3].to_vec(), body[4..].to_vec())
                    }
                };
                Ok(Some((Some(v), after + n + 2)))
            }
            b'*' | b'~' | b'>' | b'%' | b'|' => {
                let n = int(line)?;
                if n < 0 {
                    return if (tag == b'*' || tag == b'>') && n == -1 {
                        scalar(Value::Null)
                    } else {
                        Err(bad("count"))
                    };
                }
                if n == 0 {
                    return match tag {
                        b'%' => scalar(Value::Map(Vec::new())),
                        // An empty attribute annotates nothing: go on with the reply.
                        b'|' => Ok(Some((None, after))),
                        _ => scalar(list(tag, Vec::new())),
                    };
                }
                if self.stack.len() >= limits.max_depth {
                    return Err(ProtocolError(format!(
                        "reply nested deeper than {} levels",
                        limits.max_depth
                    )));
                }
                let n = n as u64;
                // Room for what may plausibly have arrived, not for what was announced.
                let room = (n as usize).min(buf.len() / 4 + 1).min(1024);
                self.stack.push(if tag == b'%' || tag == b'|' {
                    Open::Map {
                        left: n.saturating_mul(2),
                        items: Vec::with_capacity(room),
                        key: None,
                        keep: tag == b'%',
                    }
                } else {
                    Open::List {
                        kind: tag,
                        left: n,
                        items: Vec::with_capacity(room),
                    }
                });
                Ok(Some((None, after)))
            }
            other => Err(ProtocolError(format!(
                "unexpected byte '{}' at the start of a reply",
                (other as char).escape_default()
            ))),
        }
    }
}

fn list(kind: u8, items: Vec<Value>) -> Value {
    match kind {
        b'~' => Value::Set(items),
        b'>' => Value::Push(items),
        _ => Value::Array(items),
    }
}

fn bad(what: &str) -> ProtocolError {
    ProtocolError(format!("invalid {what} in reply"))
}

fn int(line: &[u8]) -> Result<i64, ProtocolError> {
    crate::util::parse_i64(line).ok_or_else(|| bad("integer"))
}

/// Position of the first CRLF, if within `max_line` bytes.
fn find_crlf(buf: &[u8], max_line: usize) -> Result<Option<usize>, ProtocolError> {
    let window = &buf[..buf.len().min(max_line + 2)];
    match memchr::memmem::find(window, b"\r\n") {
        Some(i) => Ok(Some(i)),
        None if buf.len() > max_line + 1 => Err(ProtocolError(format!(
            "reply line longer than {max_line} bytes"
        ))),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// The RESP3 bytes of a value (the test's own encoder, independent of the parser).
    fn encode(v: &Value, out: &mut Vec<u8>) {
        let bulk = |tag: char, b: &[u8], out: &mut Vec<u8>| {
            out.extend_from_slice(format!("{tag}{}\r\n", b.len()).as_bytes());
            out.extend_from_slice(b);
            out.extend_from_slice(b"\r\n");
        };
        match v {
            Value::Simple(s) => out.extend([b"+", &s[..], b"\r\n"].concat()),
            Value::Error(s) => out.extend([b"-", &s[..], b"\r\n"].concat()),
            Value::Int(n) => out.extend(format!(":{n}\r\n").bytes()),
            Value::Bulk(b) => bulk('$', b, out),
            Value::BlobError(b) => bulk('!', b, out),
            Value::Verbatim(f, t) => bulk('=', &[&f[..], b":", &t[..]].concat(), out),
            Value::Null => out.extend(b"_\r\n"),
            Value::Bool(b) => out.extend(if *b { b"#t\r\n" } else { b"#f\r\n" }),
            Value::Double(d) => out.extend(format!(",{d}\r\n").bytes()),
            Value::BigNumber(b) => out.extend([b"(", &b[..], b"\r\n"].concat()),
            Value::Array(items) | Value::Set(items) | Value::Push(items) => {
                let tag = match v {
                    Value::Set(_) => '~',
                    Value::Push(_) => '>',
                    _ => '*',
                };
                out.extend(format!("{tag}{}\r\n", items.len()).bytes());
                for i in items {
                    encode(i, out);
                }
            }
            Value::Map(pairs) => {
                out.extend(format!("%{}\r\n", pairs.len()).bytes());
                for (k, v) in pairs {
                    encode(k, out);
                    encode(v, out);
                }
            }
        }
    }

    fn random_value(rng: &mut impl Rng, depth: usize) -> Value {
        fn bytes(rng: &mut impl Rng, max: usize) -> Vec<u8> {
            let n = rng.gen_range(0..max);
            (0..n).map(|_| rng.gen_range(b'a'..=b'z')).collect()
        }
        let kind = if depth >= 4 {
            rng.gen_range(0..9)
        } else {
            rng.gen_range(0..13)
        };
        match kind {
            0 => Value::Simple(bytes(rng, 8)),
            1 => Value::Error([b"E".to_vec(), bytes(rng, 8)].concat()),
            2 => Value::Int(rng.gen()),
            3 => Value::Bulk((0..rng.gen_range(0..40)).map(|_| rng.gen()).collect()),
            4 => Value::Null,
            5 => Value::Bool(rng.gen()),
            6 => Value::Double(rng.gen_range(-1e6..1e6f64).round()),
            7 => Value::BigNumber(b"123456789012345678901234567890".to_vec()),
            8 => Value::Verbatim(b"txt".to_vec(), bytes(rng, 10)),
            9 => Value::Set(
                (0..rng.gen_range(0..4))
                    .map(|_| random_value(rng, depth + 1))
                    .collect(),
            ),
            10 => Value::Push(
                (1..rng.gen_range(2..5))
                    .map(|_| random_value(rng, depth + 1))
                    .collect(),
            ),
            11 => Value::Map(
                (0..rng.gen_range(0..3))
                    .map(|_| (random_value(rng, depth + 1), random_value(rng, depth + 1)))
                    .collect(),
            ),
            _ => Value::Array(
                (0..rng.gen_range(0..5))
                    .map(|_| random_value(rng, depth + 1))
                    .collect(),
            ),
        }
    }

    /// Feed `bytes` in pieces of random sizes, as reads would deliver them.
    fn parse_in_pieces(bytes: &[u8], rng: &mut impl Rng) -> Result<Vec<Value>, ProtocolError> {
        let mut p = ReplyParser::new(Limits::default());
        let mut pending = Vec::new();
        let mut out = Vec::new();
        let mut at = 0;
        while at < bytes.len() || !pending.is_empty() {
            let step = rng.gen_range(1..=8).min(bytes.len() - at);
            pending.extend_from_slice(&bytes[at..at + step]);
            at += step;
            loop {
                let fed = p.feed(&pending)?;
                pending.drain(..fed.consumed);
                match fed.reply {
                    Some(v) => out.push(v),
                    None => break,
                }
            }
            if at == bytes.len() && !pending.is_empty() {
                break;
            }
        }
        Ok(out)
    }

    #[test]
    fn random_replies_parse_the_same_whole_and_in_pieces() {
        let seed: u64 = rand::thread_rng().gen();
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        for _ in 0..3000 {
            let values: Vec<Value> = (0..rng.gen_range(1..4))
                .map(|_| random_value(&mut rng, 0))
                .collect();
            let mut bytes = Vec::new();
            for v in &values {
                encode(v, &mut bytes);
            }
            assert_eq!(
                parse_in_pieces(&bytes, &mut rng).unwrap(),
                values,
                "seed {seed}"
            );
        }
    }

    #[test]
    fn resp2_forms_commands_and_attributes() {
        let mut p = ReplyParser::default();
        let fed = p.feed(b"$-1\r\n*-1\r\n").unwrap();
        assert_eq!((fed.consumed, fed.reply), (5, Some(Value::Null)));
        let mut cmd = Vec::new();
        encode_command(&mut cmd, [&b"SET"[..], b"k", b"v\r\n"].into_iter());
        assert_eq!(cmd, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nv\r\n\r\n");
        // An attribute is skipped: the reply is what follows it.
        let fed = p.feed(b"|1\r\n+key\r\n:9\r\n+OK\r\n").unwrap();
        assert_eq!(fed.reply, Some(Value::Simple(b"OK".to_vec())));
        let fed = p.feed(b"*2\r\n|1\r\n+a\r\n:1\r\n:5\r\n:6\r\n").unwrap();
        assert_eq!(
            fed.reply,
            Some(Value::Array(vec![Value::Int(5), Value::Int(6)]))
        );
    }

    #[test]
    fn hostile_replies_are_errors_not_panics_or_allocations() {
        let limits = Limits {
            max_bulk: 1024,
            max_depth: 8,
            max_line: 64,
        };
        for bad in [
            &b"$2048\r\n"[..],
            b"*-5\r\n",
            b"$x\r\n",
            b"?\r\n",
            b"#x\r\n",
            b",nan-ish\r\n",
            b"$3\r\nabcXY",
            b"=2\r\nab\r\n",
        ] {
            assert!(ReplyParser::new(limits).feed(bad).is_err(), "{bad:?}");
        }
        assert!(
            ReplyParser::new(limits).feed(&[b'+'; 100]).is_err(),
            "a line with no end"
        );
        let deep = b"*1\r\n".repeat(9);
        assert!(ReplyParser::new(limits).feed(&deep).is_err(), "nesting");
        // A huge announced count takes no memory until elements arrive.
        let mut p = ReplyParser::new(limits);
        let fed = p.feed(b"*4000000000\r\n:1\r\n").unwrap();
        assert_eq!((fed.consumed, fed.reply), (17, None));
        // Random bytes: never a panic.
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..20000 {
            let junk: Vec<u8> = (0..rng.gen_range(0..40))
                .map(|_| {
                    *b"*$:+-%~>|_#,(=!\r\n0123456789ab"
                        .get(rng.gen_range(0..29))
                        .unwrap()
                })
                .collect();
            let _ = ReplyParser::new(limits).feed(&junk);
        }
    }
}
