//! The replication backlog: the last `repl-backlog-size` bytes of the stream, so a
//! replica whose link broke can be sent what it missed (PSYNC's `+CONTINUE`).
use std::collections::VecDeque;

pub struct Backlog {
    buf: VecDeque<u8>,
    size: usize,
    /// The replication offset of the last byte held (the master offset).
    end: i64,
}

impl Backlog {
    /// An empty backlog of `size` bytes whose stream is at offset `at`.
    pub fn new(size: usize, at: i64) -> Self {
        Backlog {
            buf: VecDeque::new(),
            size,
            end: at,
        }
    }

    /// Add the stream's newest bytes; `end` is the offset after them.
    pub fn append(&mut self, bytes: &[u8], end: i64) {
        self.end = end;
        if bytes.len() >= self.size {
            self.buf.clear();
            self.buf.extend(&bytes[bytes.len() - self.size..]);
            return;
        }
        let over = (self.buf.len() + bytes.len()).saturating_sub(self.size);
        if over > 0 {
            self.buf.drain(..over);
        }
        self.buf.extend(bytes);
    }

    /// How many bytes it holds (INFO repl_backlog_histlen).
    pub fn histlen(&self) -> i64 {
        self.buf.len() as i64
    }

    /// The offset of the first byte held (INFO repl_backlog_first_byte_offset).
    pub fn first_offset(&self) -> i64 {
        self.end - self.buf.len() as i64 + 1
    }

    /// Whether a replica that has everything before `from` (PSYNC's offset: its last
    /// byte's plus one) can be given the rest from here.
    pub fn covers(&self, from: i64) -> bool {
        from >= self.first_offset() && from <= self.end + 1
    }

    /// The bytes from offset `from` on (`covers(from)` must hold).
    pub fn copy_from(&self, from: i64, out: &mut Vec<u8>) {
        let skip = (from - self.first_offset()).max(0) as usize;
        let (a, b) = self.buf.as_slices();
        if skip < a.len() {
            out.extend_from_slice(&a[skip..]);
            out.extend_from_slice(b);
        } else {
            out.extend_from_slice(&b[skip - a.len()..]);
        }
    }

    /// repl-backlog-size changed: the newest bytes are kept.
    pub fn resize(&mut self, size: usize) {
        self.size = size.max(1);
        let over = self.buf.len().saturating_sub(self.size);
        if over > 0 {
            self.buf.drain(..over);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_bytes_and_answers_by_offset() {
        let mut b = Backlog::new(8, 100);
        assert_eq!((b.histlen(), b.first_offset()), (0, 101));
        assert!(b.covers(101) && !b.covers(102) && !b.covers(100));
        b.append(b"abcde", 105);
        assert_eq!((b.histlen(), b.first_offset()), (5, 101));
        b.append(b"fghij", 110);
        assert_eq!((b.histlen(), b.first_offset()), (8, 103));
        assert!(b.covers(103) && b.covers(111) && !b.covers(102) && !b.covers(112));
        let mut out = Vec::new();
        b.copy_from(106, &mut out);
        assert_eq!(out, b"fghij");
        out.clear();
        b.copy_from(111, &mut out);
        assert!(out.is_empty());
        b.append(b"0123456789", 120);
        out.clear();
        b.copy_from(b.first_offset(), &mut out);
        assert_eq!(out, b"23456789");
        b.resize(3);
        out.clear();
        b.copy_from(b.first_offset(), &mut out);
        assert_eq!((out.as_slice(), b.first_offset()), (&b"789"[..], 118));
    }
}
