//! The replication buffer: one copy of the stream that the backlog and every replica
//! share, as Redis 7 keeps it (its `repl_buffer_blocks`).
//!
//! The stream's bytes go once into a queue of fixed-size blocks. The backlog is the
//! whole queue: it starts at the first block. A replica is a position in it (the offset
//! it has been given up to) and is written from the blocks directly, so two replicas
//! don't double the memory and a replica's output holds no copy of its own.
//!
//! The front blocks are freed once no replica still needs them and the backlog keeps at
//! least `repl-backlog-size` bytes without them. So a slow replica (or one waiting for its
//! snapshot) keeps the blocks from its position on, and the backlog grows past its size
//! meanwhile: a replica that loses its link in that time continues partially from there.
//! When that replica goes, the backlog shrinks back a few blocks at a time.
//!
//! Offsets are stream positions: the bytes the stream had when a given byte was
//! appended. The buffer holds the bytes after `start` up to `end` (the master offset).
use std::collections::VecDeque;

/// Bytes per block (Redis's PROTO_REPLY_CHUNK_BYTES): the granularity of freeing.
pub const BLOCK: usize = 16 * 1024;

/// Blocks a trim frees at most, as a rule: trimming a large backlog is spread over the
/// loop's iterations (Redis frees its blocks incrementally too).
pub const TRIM_PER_CALL: usize = 64;

pub struct Backlog {
    /// Every block but the last is full (`BLOCK` bytes), so an offset's block is found by
    /// division.
    blocks: VecDeque<Vec<u8>>,
    /// A freed block kept for the next append (no allocation per block at a steady rate).
    spare: Option<Vec<u8>>,
    /// The offset before the first byte held.
    start: i64,
    /// The offset after the last byte held (the master replication offset).
    end: i64,
    /// repl-backlog-size: what the backlog keeps when no replica holds more.
    size: usize,
}

impl Backlog {
    /// An empty buffer of backlog size `size` whose stream is at offset `at`.
    pub fn new(size: usize, at: i64) -> Self {
        Backlog {
            blocks: VecDeque::new(),
            spare: None,
            start: at,
            end: at,
            size: size.max(1),
        }
    }

    /// Add the stream's newest bytes (the offset moves on by their length).
    pub fn append(&mut self, mut bytes: &[u8]) {
        self.end += bytes.len() as i64;
        while !bytes.is_empty() {
            let room = self.blocks.back().map_or(0, |b| BLOCK - b.len());
            if room == 0 {
                let mut b = self.spare.take().unwrap_or_default();
                b.clear();
                b.reserve_exact(BLOCK);
                self.blocks.push_back(b);
                continue;
            }
            let n = room.min(bytes.len());
            let last = self.blocks.back_mut().expect("a block with room");
            last.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
        }
    }

    /// The offset after the last byte held.
    pub fn end(&self) -> i64 {
        self.end
    }

    /// How many bytes it holds (INFO repl_backlog_histlen).
    pub fn histlen(&self) -> i64 {
        self.end - self.start
    }

    /// The offset of the first byte held (INFO repl_backlog_first_byte_offset).
    pub fn first_offset(&self) -> i64 {
        self.start + 1
    }

    /// Whether a replica that has everything before `from` (PSYNC's offset: its last
    /// byte's plus one) can be given the rest from here.
    pub fn covers(&self, from: i64) -> bool {
        from > self.start && from <= self.end + 1
    }

    /// Whether a replica given the stream up to `pos` can be served the rest.
    pub fn holds(&self, pos: i64) -> bool {
        pos >= self.start && pos <= self.end
    }

    /// The bytes after `pos` that lie in one block (empty at the end); `holds(pos)` must
    /// be true.
    pub fn chunk(&self, pos: i64) -> &[u8] {
        let rel = (pos - self.start) as usize;
        match self.blocks.get(rel / BLOCK) {
            Some(b) => &b[rel % BLOCK..],
            None => &[],
        }
    }

    /// Free the front blocks that no replica needs (`keep`: the lowest position of a
    /// replica that is served from here, `end` when none is) while the backlog still has
    /// `repl-backlog-size` bytes without them, `max` blocks at most. True when there is
    /// more to free.
    pub fn trim(&mut self, keep: i64, max: usize) -> bool {
        for _ in 0..max {
            if self.blocks.len() <= 1 {
                return false;
            }
            let next = self.start + BLOCK as i64;
            if keep < next || self.end - next < self.size as i64 {
                return false;
            }
            let b = self.blocks.pop_front().expect("more than one block");
            self.start = next;
            if self.spare.is_none() {
                self.spare = Some(b);
            }
        }
        true
    }

    /// repl-backlog-size changed: the next trims keep this much.
    pub fn resize(&mut self, size: usize) {
        self.size = size.max(1);
    }

    /// The backlog's configured size.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The memory the buffer takes (INFO mem_total_replication_buffers).
    pub fn mem(&self) -> usize {
        let blocks = self.blocks.len() + usize::from(self.spare.is_some());
        blocks * (BLOCK + std::mem::size_of::<Vec<u8>>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes_from(b: &Backlog, mut pos: i64) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let c = b.chunk(pos);
            if c.is_empty() {
                return out;
            }
            out.extend_from_slice(c);
            pos += c.len() as i64;
        }
    }

    #[test]
    fn holds_the_stream_by_offset_across_blocks() {
        let mut b = Backlog::new(8, 100);
        assert_eq!((b.histlen(), b.first_offset()), (0, 101));
        assert!(b.covers(101) && !b.covers(102) && !b.covers(100));
        b.append(b"abcde");
        assert_eq!((b.histlen(), b.first_offset(), b.end()), (5, 101, 105));
        assert_eq!(bytes_from(&b, 102), b"cde");
        assert!(b.chunk(105).is_empty());
        // Past a block boundary: the bytes come back whole, in order.
        let big: Vec<u8> = (0..3 * BLOCK + 7).map(|i| (i % 251) as u8).collect();
        b.append(&big);
        let mut want = b"abcde".to_vec();
        want.extend_from_slice(&big);
        assert_eq!(bytes_from(&b, 100), want);
        assert_eq!(bytes_from(&b, 100 + BLOCK as i64 + 3), &want[BLOCK + 3..]);
        assert_eq!(b.chunk(100).len(), BLOCK);
    }

    #[test]
    fn trims_to_the_backlog_size_unless_a_replica_holds_blocks() {
        let mut b = Backlog::new(BLOCK, 0);
        let data = vec![7u8; 10 * BLOCK];
        b.append(&data);
        // A replica at offset 0 keeps every block.
        assert!(!b.trim(0, TRIM_PER_CALL));
        assert_eq!(b.histlen(), 10 * BLOCK as i64);
        // It moved on: the backlog keeps its size (at least), whole blocks.
        b.trim(5 * BLOCK as i64, TRIM_PER_CALL);
        assert_eq!(b.first_offset(), 5 * BLOCK as i64 + 1);
        b.trim(b.end(), TRIM_PER_CALL);
        assert_eq!(b.histlen(), BLOCK as i64);
        assert!(b.covers(b.end() - BLOCK as i64 + 1));
        assert!(!b.covers(b.end() - BLOCK as i64));
        // A smaller size trims on the next call; never below one block.
        b.resize(1);
        b.trim(b.end(), TRIM_PER_CALL);
        assert_eq!(b.histlen(), BLOCK as i64);
        assert!(b.mem() >= BLOCK);
    }

    #[test]
    fn trims_a_bounded_number_of_blocks_per_call() {
        let mut b = Backlog::new(1, 0);
        b.append(&vec![1u8; (TRIM_PER_CALL + 10) * BLOCK]);
        assert!(b.trim(b.end(), TRIM_PER_CALL));
        assert!(!b.trim(b.end(), TRIM_PER_CALL));
        assert_eq!(b.histlen(), BLOCK as i64);
    }
}
