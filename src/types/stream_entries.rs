//! A stream's entries, packed: runs of up to `CHUNK_ENTRIES` entries (or `CHUNK_BYTES`
//! bytes) in one buffer each, as Redis packs them into listpacks under a radix tree.
//!
//! A chunk keeps its first ID (`base`) and the field names of its first entry
//! (`master`). An entry is
//!
//! ```text
//! flags  varint(ms - base.ms)  varint(seq, or seq - base.seq when ms == base.ms)
//!        [same fields: value...] | [varint(pairs) (field value)...]   backlen
//! ```
//!
//! with every string as `varint(length) bytes` and `backlen` the entry's size read right
//! to left (reverse ranges). An entry whose field names are the master's stores only its
//! values (flag `SAME`): an XADD of one 6-digit field costs about 11 bytes, where a
//! `BTreeMap` of boxed fields cost over 100. XDEL removes the bytes at once; a chunk goes
//! when its last entry does. Lookups binary-search the chunks, then walk one.
use super::stream::StreamId;
use std::collections::VecDeque;

const CHUNK_ENTRIES: u32 = 128;
const CHUNK_BYTES: usize = 4096;
const SAME: u8 = 1;

#[derive(Clone, Debug)]
struct Chunk {
    base: StreamId,
    /// varint(count) then each field name as varint(len) bytes.
    master: Box<[u8]>,
    buf: Vec<u8>,
    live: u32,
}

#[derive(Clone, Debug, Default)]
pub struct Entries {
    chunks: VecDeque<Chunk>,
    len: usize,
}

use super::varint::{get as get_varint, len as varint_len, put as put_varint};

#[inline]
fn get_str<'a>(b: &'a [u8], p: &mut usize) -> &'a [u8] {
    let n = get_varint(b, p) as usize;
    let s = &b[*p..*p + n];
    *p += n;
    s
}

/// An entry's fields and values, in order: field, value, field, value...
#[derive(Clone, Copy, Debug)]
pub struct EntryRef<'a> {
    /// The chunk's master field names (used when `same`).
    master: &'a [u8],
    /// The bytes after the ID: values (same) or the pair count and the pairs.
    body: &'a [u8],
    same: bool,
    pairs: usize,
}

impl<'a> EntryRef<'a> {
    /// Number of strings (twice the number of pairs).
    pub fn len(&self) -> usize {
        self.pairs * 2
    }
    pub fn is_empty(&self) -> bool {
        self.pairs == 0
    }
    pub fn iter(&self) -> FieldIter<'a> {
        let mut mp = 0;
        if self.same {
            get_varint(self.master, &mut mp);
        }
        let mut bp = 0;
        if !self.same {
            get_varint(self.body, &mut bp);
        }
        FieldIter {
            e: *self,
            mp,
            bp,
            left: self.pairs * 2,
        }
    }
}

pub struct FieldIter<'a> {
    e: EntryRef<'a>,
    mp: usize,
    bp: usize,
    left: usize,
}

impl<'a> Iterator for FieldIter<'a> {
    type Item = &'a [u8];
    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        let field_turn = self.left.is_multiple_of(2);
        self.left -= 1;
        Some(if self.e.same && field_turn {
            get_str(self.e.master, &mut self.mp)
        } else {
            get_str(self.e.body, &mut self.bp)
        })
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for FieldIter<'_> {}

impl Chunk {
    /// The entry at `at`: its ID, fields and end offset.
    #[inline]
    fn entry(&self, at: usize) -> (StreamId, EntryRef<'_>, usize) {
        let b = &self.buf;
        let mut p = at;
        let flags = b[p];
        p += 1;
        let msd = get_varint(b, &mut p);
        let s = get_varint(b, &mut p);
        let id = if msd == 0 {
            StreamId::new(self.base.ms, self.base.seq + s)
        } else {
            StreamId::new(self.base.ms + msd, s)
        };
        let same = flags & SAME != 0;
        let body_start = p;
        let pairs;
        if same {
            let mut mp = 0;
            pairs = get_varint(&self.master, &mut mp) as usize;
            for _ in 0..pairs {
                let n = get_varint(b, &mut p) as usize;
                p += n;
            }
        } else {
            pairs = get_varint(b, &mut p) as usize;
            for _ in 0..pairs * 2 {
                let n = get_varint(b, &mut p) as usize;
                p += n;
            }
        }
        let body = &b[body_start..p];
        let size = p - at;
        let end = p + varint_len(size);
        (
            id,
            EntryRef {
                master: &self.master,
                body,
                same,
                pairs,
            },
            end,
        )
    }
    /// The start of the entry ending at `end`.
    #[inline]
    fn start_before(&self, end: usize) -> usize {
        super::varint::start_before(&self.buf, end)
    }
    fn id_at(&self, at: usize) -> StreamId {
        let mut p = at + 1;
        let msd = get_varint(&self.buf, &mut p);
        let s = get_varint(&self.buf, &mut p);
        if msd == 0 {
            StreamId::new(self.base.ms, self.base.seq + s)
        } else {
            StreamId::new(self.base.ms + msd, s)
        }
    }
    /// Offset of the first entry with ID >= `id` (or > `id` when `after`), or the end.
    fn seek(&self, id: StreamId, after: bool) -> usize {
        let mut at = 0;
        while at < self.buf.len() {
            let e = self.id_at(at);
            if e > id || (!after && e == id) {
                return at;
            }
            at = self.entry(at).2;
        }
        at
    }
    fn same_as_master(&self, fields: &[&[u8]]) -> bool {
        let mut p = 0;
        let n = get_varint(&self.master, &mut p) as usize;
        n * 2 == fields.len()
            && fields
                .iter()
                .step_by(2)
                .all(|f| get_str(&self.master, &mut p) == *f)
    }
}

/// A position: (chunk, byte offset).
type Pos = (usize, usize);

impl Entries {
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends an entry (`id` above every ID present); `fields` is field, value, ...
    pub fn push(&mut self, id: StreamId, fields: &[&[u8]]) {
        let full = self.chunks.back().is_none_or(|c| {
            c.live >= CHUNK_ENTRIES || c.buf.len() >= CHUNK_BYTES || id.ms < c.base.ms
        });
        if full {
            let mut master = Vec::new();
            put_varint(&mut master, (fields.len() / 2) as u64);
            for f in fields.iter().step_by(2) {
                put_varint(&mut master, f.len() as u64);
                master.extend_from_slice(f);
            }
            if self.chunks.len() == self.chunks.capacity() {
                self.chunks.reserve_exact(self.chunks.len().max(1));
            }
            self.chunks.push_back(Chunk {
                base: id,
                master: master.into(),
                buf: Vec::new(),
                live: 0,
            });
        }
        let Some(c) = self.chunks.back_mut() else {
            return;
        };
        let (same, base) = (c.same_as_master(fields), c.base);
        let e = &mut c.buf;
        let start = e.len();
        let msd = id.ms - base.ms;
        // What is written: flags, two IDs (at most 10 bytes each), the strings, a backlen.
        let written = fields
            .iter()
            .skip(usize::from(same))
            .step_by(1 + usize::from(same));
        e.reserve_exact(
            26 + written
                .map(|f| f.len() + varint_len(f.len()))
                .sum::<usize>(),
        );
        e.push(if same { SAME } else { 0 });
        put_varint(e, msd);
        put_varint(e, if msd == 0 { id.seq - base.seq } else { id.seq });
        if same {
            for v in fields.iter().skip(1).step_by(2) {
                put_varint(e, v.len() as u64);
                e.extend_from_slice(v);
            }
        } else {
            put_varint(e, (fields.len() / 2) as u64);
            for f in fields {
                put_varint(e, f.len() as u64);
                e.extend_from_slice(f);
            }
        }
        let size = e.len() - start;
        let at = e.len();
        e.resize(at + varint_len(size), 0);
        super::varint::write_back(&mut e[at..], size);
        if e.capacity() > e.len() + 64 {
            e.shrink_to_fit();
        }
        c.live += 1;
        self.len += 1;
    }

    /// The chunk that would hold `id`.
    fn chunk_of(&self, id: StreamId) -> Option<usize> {
        self.chunks.partition_point(|c| c.base <= id).checked_sub(1)
    }

    /// Position of the first entry with ID >= `id` (> `id` when `after`).
    fn lower(&self, id: StreamId, after: bool) -> Pos {
        let k = self.chunk_of(id).unwrap_or(0);
        let Some(c) = self.chunks.get(k) else {
            return (self.chunks.len(), 0);
        };
        let at = c.seek(id, after);
        if at >= c.buf.len() {
            (k + 1, 0)
        } else {
            (k, at)
        }
    }

    /// Position just past the entry before `p` (the exclusive end form of `p`).
    fn as_end(&self, p: Pos) -> Pos {
        match p {
            (0, 0) => (0, 0),
            (k, 0) => (k - 1, self.chunks[k - 1].buf.len()),
            p => p,
        }
    }

    pub fn get(&self, id: StreamId) -> Option<EntryRef<'_>> {
        let c = &self.chunks[self.chunk_of(id)?];
        let at = c.seek(id, false);
        if at < c.buf.len() && c.id_at(at) == id {
            Some(c.entry(at).1)
        } else {
            None
        }
    }

    pub fn contains(&self, id: StreamId) -> bool {
        self.get(id).is_some()
    }

    /// Removes the entry `id`; true if it was there.
    pub fn remove(&mut self, id: StreamId) -> bool {
        let Some(k) = self.chunk_of(id) else {
            return false;
        };
        let c = &mut self.chunks[k];
        let at = c.seek(id, false);
        if at >= c.buf.len() || c.id_at(at) != id {
            return false;
        }
        let end = c.entry(at).2;
        c.buf.drain(at..end);
        c.live -= 1;
        if c.live == 0 {
            self.chunks.remove(k);
        } else if c.buf.capacity() > c.buf.len() * 2 + 64 {
            c.buf.shrink_to_fit();
        }
        self.len -= 1;
        true
    }

    /// Removes every entry below `id`; returns how many went.
    pub fn remove_before(&mut self, id: StreamId) -> usize {
        let mut gone = 0;
        while let Some(c) = self.chunks.front_mut() {
            let at = c.seek(id, false);
            if at >= c.buf.len() {
                gone += c.live as usize;
                self.chunks.pop_front();
                continue;
            }
            let mut n = 0;
            let mut p = 0;
            while p < at {
                p = c.entry(p).2;
                n += 1;
            }
            c.buf.drain(..at);
            c.live -= n;
            gone += n as usize;
            break;
        }
        self.len -= gone;
        gone
    }

    /// Removes the first entry.
    pub fn pop_first(&mut self) -> Option<StreamId> {
        let id = self.first()?.0;
        self.remove(id);
        Some(id)
    }

    pub fn first(&self) -> Option<(StreamId, EntryRef<'_>)> {
        let c = self.chunks.front()?;
        let (id, e, _) = c.entry(0);
        Some((id, e))
    }

    pub fn last(&self) -> Option<(StreamId, EntryRef<'_>)> {
        let c = self.chunks.back()?;
        let (id, e, _) = c.entry(c.start_before(c.buf.len()));
        Some((id, e))
    }

    /// Entries with IDs in [start, end], walkable from both ends.
    pub fn range(&self, start: StreamId, end: StreamId) -> Range<'_> {
        if start > end {
            return Range {
                e: self,
                front: (0, 0),
                back: (0, 0),
            };
        }
        let front = self.lower(start, false);
        let back = self.as_end(self.lower(end, true));
        Range {
            e: self,
            front,
            back,
        }
    }

    /// Entries from `start` on.
    pub fn range_from(&self, start: StreamId) -> Range<'_> {
        self.range(start, StreamId::MAX)
    }

    pub fn iter(&self) -> Range<'_> {
        self.range(StreamId::MIN, StreamId::MAX)
    }

    pub fn heap_size(&self) -> usize {
        self.chunks
            .iter()
            .map(|c| c.buf.capacity() + c.master.len())
            .sum::<usize>()
            + self.chunks.capacity() * std::mem::size_of::<Chunk>()
    }
}

/// Entries between two positions, front to back or back to front.
#[derive(Clone)]
pub struct Range<'a> {
    e: &'a Entries,
    /// The next entry from the front (normalized: never at a chunk's end).
    front: Pos,
    /// Just past the next entry from the back (never at a chunk's start unless empty).
    back: Pos,
}

impl<'a> Iterator for Range<'a> {
    type Item = (StreamId, EntryRef<'a>);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.front >= self.back {
            return None;
        }
        let (k, at) = self.front;
        let c = &self.e.chunks[k];
        let (id, e, end) = c.entry(at);
        self.front = if end >= c.buf.len() {
            (k + 1, 0)
        } else {
            (k, end)
        };
        Some((id, e))
    }
}

impl DoubleEndedIterator for Range<'_> {
    #[inline]
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.front >= self.back {
            return None;
        }
        let (k, end) = self.back;
        let c = &self.e.chunks[k];
        let at = c.start_before(end);
        let (id, e, _) = c.entry(at);
        self.back = if at == 0 {
            if k == 0 {
                (0, 0)
            } else {
                (k - 1, self.e.chunks[k - 1].buf.len())
            }
        } else {
            (k, at)
        };
        Some((id, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;
    use std::collections::BTreeMap;

    fn owned(e: EntryRef) -> Vec<Vec<u8>> {
        e.iter().map(|x| x.to_vec()).collect()
    }

    #[test]
    fn matches_a_btree_model() {
        let mut rng = rand::thread_rng();
        let mut e = Entries::default();
        let mut m: BTreeMap<StreamId, Vec<Vec<u8>>> = BTreeMap::new();
        let mut id = StreamId::new(1000, 0);
        for step in 0..20000 {
            match rng.gen_range(0..10) {
                0..=5 => {
                    id = if rng.gen_ratio(1, 3) {
                        StreamId::new(id.ms + rng.gen_range(1..100000), rng.gen_range(0..3))
                    } else {
                        StreamId::new(id.ms, id.seq + rng.gen_range(1..1000))
                    };
                    let nf = rng.gen_range(0..4);
                    let mut f: Vec<Vec<u8>> = Vec::new();
                    for i in 0..nf {
                        let name = if rng.gen_ratio(4, 5) {
                            format!("f{i}").into_bytes()
                        } else {
                            vec![b'x'; rng.gen_range(0..200)]
                        };
                        f.push(name);
                        f.push(format!("{}", rng.gen::<u32>()).into_bytes());
                    }
                    let refs: Vec<&[u8]> = f.iter().map(|x| &x[..]).collect();
                    e.push(id, &refs);
                    m.insert(id, f);
                }
                6..=7 if !m.is_empty() => {
                    let keys: Vec<StreamId> = m.keys().copied().collect();
                    let victim = if rng.gen() {
                        keys[rng.gen_range(0..keys.len())]
                    } else {
                        StreamId::new(rng.gen_range(900..id.ms + 2), 0)
                    };
                    assert_eq!(e.remove(victim), m.remove(&victim).is_some());
                }
                8 if step % 100 == 0 && !m.is_empty() => {
                    let keys: Vec<StreamId> = m.keys().copied().collect();
                    let cut = keys[rng.gen_range(0..keys.len())];
                    let before = m.len();
                    m = m.split_off(&cut);
                    assert_eq!(e.remove_before(cut), before - m.len());
                }
                _ => {
                    let keys: Vec<StreamId> = m.keys().copied().collect();
                    if keys.is_empty() {
                        continue;
                    }
                    let a = keys[rng.gen_range(0..keys.len())];
                    let b = StreamId::new(a.ms + rng.gen_range(0..3000), rng.gen_range(0..3));
                    if b < a {
                        assert_eq!(e.range(a, b).count(), 0);
                        continue;
                    }
                    let got: Vec<_> = e.range(a, b).map(|(i, f)| (i, owned(f))).collect();
                    let want: Vec<_> = m.range(a..=b).map(|(i, f)| (*i, f.clone())).collect();
                    assert_eq!(got, want);
                    let back: Vec<_> = e.range(a, b).rev().map(|(i, _)| i).collect();
                    let wback: Vec<_> = m.range(a..=b).rev().map(|(i, _)| *i).collect();
                    assert_eq!(back, wback);
                    assert_eq!(e.get(a).map(owned), m.get(&a).cloned());
                }
            }
            assert_eq!(e.len(), m.len());
        }
        let all: Vec<_> = e.iter().map(|(i, f)| (i, owned(f))).collect();
        let want: Vec<_> = m.iter().map(|(i, f)| (*i, f.clone())).collect();
        assert_eq!(all, want);
        assert_eq!(e.first().map(|x| x.0), m.keys().next().copied());
        assert_eq!(e.last().map(|x| x.0), m.keys().next_back().copied());
        // Mixed ends meet without overlap.
        let mut r = e.iter();
        let mut n = 0;
        while r.next().is_some() {
            n += 1;
            if r.next_back().is_some() {
                n += 1;
            }
        }
        assert_eq!(n, m.len());
    }
}
