//! Reply encoding into the connection's output buffer. One `Reply` per connection; the
//! RESP version decides how maps, sets, doubles, booleans and nulls are written.
use crate::util::fmt_double;

pub struct Reply {
    pub buf: Vec<u8>,
    pub resp3: bool,
    /// Error codes replied since the dispatcher last looked (for INFO errorstats).
    pub errors: Vec<String>,
    /// The client's client-output-buffer-limit hard limit in bytes (0: none), so a
    /// command building a huge reply can stop once the client is going to be dropped.
    pub limit: usize,
}

impl Default for Reply {
    fn default() -> Self {
        Reply {
            buf: Vec::with_capacity(16 * 1024),
            resp3: false,
            errors: Vec::new(),
            limit: 0,
        }
    }
}

impl Reply {
    /// Whether the reply being built already passed the client's hard output limit (the
    /// client will be dropped with it unsent: the rest need not be made).
    #[inline]
    pub fn over_limit(&self) -> bool {
        self.limit != 0 && self.buf.len() >= self.limit
    }
    #[inline]
    fn header(&mut self, tag: u8, n: i64) {
        let mut b = itoa::Buffer::new();
        self.buf.push(tag);
        self.buf.extend_from_slice(b.format(n).as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }
    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }
    pub fn simple(&mut self, s: &str) {
        self.buf.push(b'+');
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }
    /// An error reply. `msg` either starts with an error code in capitals followed by a space
    /// ("WRONGTYPE ...", "ERR ...") or is a bare message, which gets "ERR ". Newlines are
    /// replaced by spaces so the reply stays one line.
    pub fn error(&mut self, msg: &str) {
        let msg = msg.strip_prefix('-').unwrap_or(msg);
        let code = error_code(msg);
        self.buf.push(b'-');
        if code.is_none() {
            self.buf.extend_from_slice(b"ERR ");
        }
        for &c in msg.as_bytes() {
            self.buf
                .push(if c == b'\r' || c == b'\n' { b' ' } else { c });
        }
        self.buf.extend_from_slice(b"\r\n");
        self.errors.push(code.unwrap_or("ERR").to_string());
    }
    pub fn int(&mut self, n: i64) {
        self.header(b':', n);
    }
    pub fn bulk(&mut self, s: &[u8]) {
        self.header(b'$', s.len() as i64);
        self.buf.extend_from_slice(s);
        self.buf.extend_from_slice(b"\r\n");
    }
    pub fn bulk_str(&mut self, s: &str) {
        self.bulk(s.as_bytes());
    }
    /// An integer written as a bulk string (e.g. GET of an integer-encoded value).
    pub fn bulk_int(&mut self, n: i64) {
        let mut b = itoa::Buffer::new();
        self.bulk(b.format(n).as_bytes());
    }
    /// Null bulk string (RESP3 null).
    pub fn null(&mut self) {
        self.buf
            .extend_from_slice(if self.resp3 { b"_\r\n" } else { b"$-1\r\n" });
    }
    /// Null array (RESP3 null).
    pub fn null_array(&mut self) {
        self.buf
            .extend_from_slice(if self.resp3 { b"_\r\n" } else { b"*-1\r\n" });
    }
    pub fn array(&mut self, n: usize) {
        self.header(b'*', n as i64);
    }
    /// A map of `n` pairs: RESP3 map, RESP2 flat array of 2n.
    pub fn map(&mut self, n: usize) {
        if self.resp3 {
            self.header(b'%', n as i64)
        } else {
            self.header(b'*', 2 * n as i64)
        }
    }
    /// A set of `n` elements: RESP3 set, RESP2 array.
    pub fn set(&mut self, n: usize) {
        self.header(if self.resp3 { b'~' } else { b'*' }, n as i64);
    }
    /// Out-of-band push of `n` elements: RESP3 push, RESP2 array.
    pub fn push(&mut self, n: usize) {
        self.header(if self.resp3 { b'>' } else { b'*' }, n as i64);
    }
    /// A double: RESP3 double, RESP2 bulk string in Redis's %.17g form.
    pub fn double(&mut self, d: f64) {
        self.double_text(&fmt_double(d));
    }
    /// A double already formatted (GEO coordinates use another format than %.17g).
    pub fn double_text(&mut self, s: &str) {
        if self.resp3 {
            self.buf.push(b',');
            self.buf.extend_from_slice(s.as_bytes());
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(s.as_bytes());
        }
    }
    /// A boolean: RESP3 boolean, RESP2 integer 1/0.
    pub fn boolean(&mut self, b: bool) {
        if self.resp3 {
            self.buf
                .extend_from_slice(if b { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(b as i64);
        }
    }
    /// Verbatim text (RESP3 `=` with "txt:"), RESP2 bulk string.
    pub fn verbatim(&mut self, s: &[u8]) {
        if self.resp3 {
            self.header(b'=', s.len() as i64 + 4);
            self.buf.extend_from_slice(b"txt:");
            self.buf.extend_from_slice(s);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(s);
        }
    }
    /// An array of bulk strings.
    pub fn bulks<'a, I: IntoIterator<Item = &'a [u8]>>(&mut self, items: I)
    where
        I::IntoIter: ExactSizeIterator,
    {
        let it = items.into_iter();
        self.array(it.len());
        for s in it {
            self.bulk(s);
        }
    }
    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }
}

/// The leading all-capitals word of an error message, if it is followed by a space.
fn error_code(msg: &str) -> Option<&str> {
    let end = msg.find(' ')?;
    let code = &msg[..end];
    (!code.is_empty()
        && code
            .bytes()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_'))
    .then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn encodes_resp2_and_resp3() {
        let mut r = Reply::default();
        r.map(1);
        r.bulk(b"a");
        r.double(1.5);
        r.null();
        r.boolean(true);
        assert_eq!(r.buf, b"*2\r\n$1\r\na\r\n$3\r\n1.5\r\n$-1\r\n:1\r\n");
        let mut r = Reply {
            resp3: true,
            ..Default::default()
        };
        r.map(1);
        r.bulk(b"a");
        r.double(1.5);
        r.null();
        r.boolean(true);
        assert_eq!(r.buf, b"%1\r\n$1\r\na\r\n,1.5\r\n_\r\n#t\r\n");
    }
    #[test]
    fn errors_get_a_code() {
        let mut r = Reply::default();
        r.error("wrong\nthing");
        r.error("WRONGTYPE Operation");
        assert_eq!(r.buf, b"-ERR wrong thing\r\n-WRONGTYPE Operation\r\n");
        assert_eq!(r.errors, vec!["ERR", "WRONGTYPE"]);
    }
}
