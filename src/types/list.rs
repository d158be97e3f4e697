//! List: a quicklist, as Redis 7.0's. A deque of nodes, each a packed run of elements
//! (`varint(length) bytes backlen`, the backlen letting a node be walked backwards), cut
//! by `list-max-listpack-size` with Redis's own insert rule: a negative fill caps a node's
//! bytes (-1..-5: 4..64 KB), a positive one its element count (within 8 KB).
//!
//! Pushing and popping at either end touch one node: O(1) apart from moving the node's
//! bytes (at most the fill's size), with no allocation per element. Indexing walks node
//! counts from the nearer end, then the node: O(n / node size + node size), as in Redis.
//! Ten 8-byte elements take one 100-byte node where a deque of inline cells took 24
//! bytes an element plus its growth slack.
use crate::keyspace::Key;
use std::collections::VecDeque;

/// Node byte caps for fill -1..-5.
const LEVELS: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
/// A positive fill still caps a node at this many bytes.
const SIZE_SAFETY: usize = 8192;
/// Bytes Redis's listpack header and end add to a node (its insert rule counts them).
const LP_OVERHEAD: usize = 7;

#[derive(Clone, Default)]
struct Node {
    buf: Vec<u8>,
    n: u32,
}

#[inline]
fn varint_len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

/// Encoded size of an element of `len` bytes.
#[inline]
fn entry_len(len: usize) -> usize {
    let body = varint_len(len) + len;
    body + varint_len(body)
}

fn write_entry(out: &mut [u8], v: &[u8]) {
    let mut p = 0;
    let mut n = v.len();
    while n >= 0x80 {
        out[p] = n as u8 | 0x80;
        n >>= 7;
        p += 1;
    }
    out[p] = n as u8;
    p += 1;
    out[p..p + v.len()].copy_from_slice(v);
    p += v.len();
    let body = p;
    let k = varint_len(body);
    for i in 0..k {
        let group = ((body >> (7 * (k - 1 - i))) & 127) as u8;
        out[p + i] = if i == 0 { group } else { group | 128 };
    }
}

impl Node {
    /// The element at byte offset `at`, and the offset after it.
    #[inline]
    fn entry(&self, at: usize) -> (&[u8], usize) {
        let b = &self.buf;
        let (mut len, mut shift, mut p) = (0usize, 0, at);
        loop {
            let c = b[p];
            p += 1;
            len |= ((c & 0x7f) as usize) << shift;
            if c < 0x80 {
                break;
            }
            shift += 7;
        }
        let v = &b[p..p + len];
        let body = p + len - at;
        (v, p + len + varint_len(body))
    }
    /// The start of the element that ends at `end`.
    #[inline]
    fn start_before(&self, end: usize) -> usize {
        let (mut body, mut shift, mut p) = (0usize, 0, end - 1);
        loop {
            let c = self.buf[p];
            body |= ((c & 127) as usize) << shift;
            if c & 128 == 0 {
                break;
            }
            shift += 7;
            p -= 1;
        }
        p - body
    }
    /// Byte offset of element `i` (`i <= n`; `n` gives the end), from the nearer end.
    fn offset_of(&self, i: usize) -> usize {
        let n = self.n as usize;
        if i <= n / 2 {
            let mut at = 0;
            for _ in 0..i {
                at = self.entry(at).1;
            }
            at
        } else {
            let mut at = self.buf.len();
            for _ in i..n {
                at = self.start_before(at);
            }
            at
        }
    }
    fn insert_at(&mut self, at: usize, v: &[u8]) {
        let len = entry_len(v.len());
        let old = self.buf.len();
        self.buf.reserve_exact(len);
        self.buf.resize(old + len, 0);
        self.buf.copy_within(at..old, at + len);
        write_entry(&mut self.buf[at..at + len], v);
        self.n += 1;
    }
    fn cut(&mut self, start: usize, end: usize, count: usize) {
        if end == self.buf.len() {
            self.buf.truncate(start);
        } else {
            self.buf.drain(start..end);
        }
        self.n -= count as u32;
        if self.buf.capacity() > self.buf.len() * 2 + 64 {
            self.buf.shrink_to_fit();
        }
    }
    /// Whether Redis's quicklist would add an element of `len` bytes to this node.
    fn allows(&self, len: usize, fill: i32) -> bool {
        let new_sz = self.buf.len() + LP_OVERHEAD + 1 + len + 8;
        if fill < 0 {
            let class = (-(fill + 1)) as usize;
            new_sz <= LEVELS[class.min(LEVELS.len() - 1)]
        } else {
            new_sz <= SIZE_SAFETY && (self.n as i64) < fill as i64
        }
    }
    /// Whether this node is over its limits (after an edit in the middle).
    fn over(&self, fill: i32) -> bool {
        if self.n <= 1 {
            return false;
        }
        let sz = self.buf.len() + LP_OVERHEAD;
        if fill < 0 {
            let class = (-(fill + 1)) as usize;
            sz > LEVELS[class.min(LEVELS.len() - 1)]
        } else {
            sz > SIZE_SAFETY || self.n as i64 > fill as i64
        }
    }
}

#[derive(Clone)]
pub struct List {
    nodes: VecDeque<Node>,
    len: usize,
    /// `list-max-listpack-size` when the list was created (Redis keeps it per list too).
    fill: i32,
}

impl Default for List {
    fn default() -> Self {
        List::new(-2)
    }
}

impl List {
    pub fn new(fill: i64) -> Self {
        List {
            nodes: VecDeque::new(),
            len: 0,
            fill: fill.clamp(-5, 1 << 20) as i32,
        }
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    fn fill_check(&self) -> i32 {
        if self.fill == 0 {
            // Redis treats 0 as 1 entry per node.
            1
        } else {
            self.fill
        }
    }
    fn new_node(&mut self, front: bool) {
        if self.nodes.len() == self.nodes.capacity() {
            // Exact growth while small: a one-node list holds one 32-byte slot.
            let extra = self.nodes.len().max(1);
            self.nodes.reserve_exact(extra);
        }
        if front {
            self.nodes.push_front(Node::default());
        } else {
            self.nodes.push_back(Node::default());
        }
    }
    pub fn push_back(&mut self, v: &[u8]) {
        let fill = self.fill_check();
        if !self.nodes.back().is_some_and(|n| n.allows(v.len(), fill)) {
            self.new_node(false);
        }
        if let Some(node) = self.nodes.back_mut() {
            let at = node.buf.len();
            node.insert_at(at, v);
            self.len += 1;
        }
    }
    pub fn push_front(&mut self, v: &[u8]) {
        let fill = self.fill_check();
        if !self.nodes.front().is_some_and(|n| n.allows(v.len(), fill)) {
            self.new_node(true);
        }
        if let Some(node) = self.nodes.front_mut() {
            node.insert_at(0, v);
            self.len += 1;
        }
    }
    pub fn pop_front(&mut self) -> Option<Key> {
        let node = self.nodes.front_mut()?;
        let (v, end) = node.entry(0);
        let out = Key::from(v);
        node.cut(0, end, 1);
        if node.n == 0 {
            self.nodes.pop_front();
        }
        self.len -= 1;
        Some(out)
    }
    pub fn pop_back(&mut self) -> Option<Key> {
        let node = self.nodes.back_mut()?;
        let end = node.buf.len();
        let start = node.start_before(end);
        let out = Key::from(node.entry(start).0);
        node.cut(start, end, 1);
        if node.n == 0 {
            self.nodes.pop_back();
        }
        self.len -= 1;
        Some(out)
    }
    /// (node, position in it) of element `i < len`, walking node counts from the nearer end.
    fn locate(&self, i: usize) -> (usize, usize) {
        if i < self.len / 2 {
            let mut i = i;
            for (k, n) in self.nodes.iter().enumerate() {
                if i < n.n as usize {
                    return (k, i);
                }
                i -= n.n as usize;
            }
        } else {
            let mut from_end = self.len - i;
            for (k, n) in self.nodes.iter().enumerate().rev() {
                if from_end <= n.n as usize {
                    return (k, n.n as usize - from_end);
                }
                from_end -= n.n as usize;
            }
        }
        (0, 0)
    }
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        if i >= self.len {
            return None;
        }
        let (k, j) = self.locate(i);
        let node = &self.nodes[k];
        Some(node.entry(node.offset_of(j)).0)
    }
    /// Replaces element `i < len`.
    pub fn set(&mut self, i: usize, v: &[u8]) {
        if i >= self.len {
            return;
        }
        let (k, j) = self.locate(i);
        let node = &mut self.nodes[k];
        let at = node.offset_of(j);
        let end = node.entry(at).1;
        node.cut(at, end, 1);
        node.insert_at(at, v);
        self.split_if_over(k);
    }
    /// Inserts before element `i` (`i == len` appends).
    pub fn insert(&mut self, i: usize, v: &[u8]) {
        if i >= self.len {
            return self.push_back(v);
        }
        if i == 0 {
            return self.push_front(v);
        }
        let (k, j) = self.locate(i);
        let node = &mut self.nodes[k];
        let at = node.offset_of(j);
        node.insert_at(at, v);
        self.len += 1;
        self.split_if_over(k);
    }
    /// Halves node `k` while it is over the fill's limits.
    fn split_if_over(&mut self, k: usize) {
        let fill = self.fill_check();
        if !self.nodes[k].over(fill) {
            return;
        }
        let node = &mut self.nodes[k];
        let half = node.n as usize / 2;
        let at = node.offset_of(half);
        let tail = Node {
            buf: node.buf[at..].to_vec(),
            n: node.n - half as u32,
        };
        node.cut(at, node.buf.len(), tail.n as usize);
        node.buf.shrink_to_fit();
        self.nodes.insert(k + 1, tail);
        self.split_if_over(k + 1);
        self.split_if_over(k);
    }
    /// Keeps elements [start, start+count) only: LTRIM.
    pub fn keep_range(&mut self, start: usize, count: usize) {
        let end = (start + count).min(self.len);
        if start >= end {
            return self.clear();
        }
        // Drop the tail beyond `end`, then the head before `start`.
        self.remove_range(end, self.len - end);
        self.remove_range(0, start);
    }
    /// Removes `count` elements from `start`.
    pub fn remove_range(&mut self, start: usize, count: usize) {
        let count = count.min(self.len.saturating_sub(start));
        if count == 0 {
            return;
        }
        let mut left = count;
        let (mut k, mut j) = self.locate(start);
        while left > 0 {
            let node = &mut self.nodes[k];
            let n = node.n as usize;
            let take = left.min(n - j);
            if take == n {
                self.nodes.remove(k);
            } else {
                let a = node.offset_of(j);
                let b = if j + take == n {
                    node.buf.len()
                } else {
                    node.offset_of(j + take)
                };
                node.cut(a, b, take);
                k += 1;
            }
            left -= take;
            j = 0;
        }
        self.len -= count;
    }
    pub fn clear(&mut self) {
        self.nodes = VecDeque::new();
        self.len = 0;
    }
    /// Keeps the elements for which `keep` holds (in order); returns how many went.
    pub fn retain(&mut self, mut keep: impl FnMut(&[u8]) -> bool) -> usize {
        let mut removed = 0;
        for node in self.nodes.iter_mut() {
            let mut at = 0;
            while at < node.buf.len() {
                let (v, end) = node.entry(at);
                if keep(v) {
                    at = end;
                } else {
                    node.cut(at, end, 1);
                    removed += 1;
                }
            }
        }
        self.nodes.retain(|n| n.n > 0);
        self.len -= removed;
        removed
    }
    /// Every element, front to back (and back to front with `.rev()`).
    pub fn iter(&self) -> Iter<'_> {
        self.range_from(0, self.len)
    }
    /// `count` elements from `start`.
    pub fn range_from(&self, start: usize, count: usize) -> Iter<'_> {
        let count = count.min(self.len.saturating_sub(start));
        if count == 0 {
            return Iter {
                l: self,
                front: (0, 0),
                back: (0, 0),
                left: 0,
            };
        }
        let (fk, fj) = self.locate(start);
        let (bk, bj) = self.locate(start + count - 1);
        let fnode = &self.nodes[fk];
        let bnode = &self.nodes[bk];
        let b_at = bnode.offset_of(bj);
        Iter {
            l: self,
            front: (fk, fnode.offset_of(fj)),
            back: (bk, bnode.entry(b_at).1),
            left: count,
        }
    }
    pub fn heap_size(&self) -> usize {
        self.nodes.iter().map(|n| n.buf.capacity()).sum::<usize>()
            + self.nodes.capacity() * std::mem::size_of::<Node>()
    }
    /// Nodes, for tests and DEBUG: (elements, bytes) of each.
    pub fn node_shape(&self) -> Vec<(usize, usize)> {
        self.nodes
            .iter()
            .map(|n| (n.n as usize, n.buf.len()))
            .collect()
    }
}

impl<'a> FromIterator<&'a [u8]> for List {
    fn from_iter<I: IntoIterator<Item = &'a [u8]>>(it: I) -> Self {
        let mut l = List::default();
        for v in it {
            l.push_back(v);
        }
        l
    }
}

/// Elements in order; double-ended. `front` is (node, offset of the next element),
/// `back` (node, offset just past the next element from the back).
pub struct Iter<'a> {
    l: &'a List,
    front: (usize, usize),
    back: (usize, usize),
    left: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];
    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let (mut k, mut at) = self.front;
        if at >= self.l.nodes[k].buf.len() {
            k += 1;
            at = 0;
        }
        let (v, end) = self.l.nodes[k].entry(at);
        self.front = (k, end);
        Some(v)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl DoubleEndedIterator for Iter<'_> {
    #[inline]
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let (mut k, mut end) = self.back;
        if end == 0 {
            k -= 1;
            end = self.l.nodes[k].buf.len();
        }
        let node = &self.l.nodes[k];
        let start = node.start_before(end);
        self.back = (k, start);
        Some(node.entry(start).0)
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    fn check(l: &List, model: &VecDeque<Vec<u8>>) {
        assert_eq!(l.len(), model.len());
        assert!(l.iter().eq(model.iter().map(|v| &v[..])));
        assert!(l.iter().rev().eq(model.iter().rev().map(|v| &v[..])));
        assert_eq!(
            l.node_shape().iter().map(|s| s.0).sum::<usize>(),
            model.len()
        );
        assert!(l.node_shape().iter().all(|s| s.0 > 0));
    }

    #[test]
    fn matches_a_deque_model() {
        let mut rng = rand::thread_rng();
        for fill in [-2i64, -1, 1, 3, 128] {
            let mut l = List::new(fill);
            let mut m: VecDeque<Vec<u8>> = VecDeque::new();
            for step in 0..6000 {
                let len = match rng.gen_range(0..10) {
                    0 => rng.gen_range(100..400),
                    1 => 0,
                    _ => rng.gen_range(1..20),
                };
                let v: Vec<u8> = (0..len).map(|_| rng.gen_range(b'a'..b'e')).collect();
                match rng.gen_range(0..12) {
                    0..=2 => {
                        l.push_back(&v);
                        m.push_back(v);
                    }
                    3..=4 => {
                        l.push_front(&v);
                        m.push_front(v);
                    }
                    5 => assert_eq!(l.pop_front().map(|k| k.to_vec()), m.pop_front()),
                    6 => assert_eq!(l.pop_back().map(|k| k.to_vec()), m.pop_back()),
                    7 if !m.is_empty() => {
                        let i = rng.gen_range(0..m.len());
                        assert_eq!(l.get(i), Some(&m[i][..]));
                        l.set(i, &v);
                        m[i] = v;
                    }
                    8 => {
                        let i = rng.gen_range(0..=m.len());
                        l.insert(i, &v);
                        m.insert(i, v);
                    }
                    9 if step % 50 == 0 => {
                        let s = rng.gen_range(0..=m.len());
                        let c = rng.gen_range(0..=m.len() - s);
                        l.keep_range(s, c);
                        m = m.iter().skip(s).take(c).cloned().collect();
                    }
                    10 if step % 20 == 0 => {
                        let x = v.first().copied().unwrap_or(b'a');
                        let before = m.len();
                        m.retain(|e| e.first() != Some(&x));
                        assert_eq!(l.retain(|e| e.first() != Some(&x)), before - m.len());
                    }
                    11 if !m.is_empty() => {
                        let s = rng.gen_range(0..m.len());
                        let c = rng.gen_range(0..=(m.len() - s).min(30));
                        let got: Vec<&[u8]> = l.range_from(s, c).collect();
                        let want: Vec<&[u8]> = m.iter().skip(s).take(c).map(|v| &v[..]).collect();
                        assert_eq!(got, want);
                        let back: Vec<&[u8]> = l.range_from(s, c).rev().collect();
                        assert_eq!(back, want.into_iter().rev().collect::<Vec<_>>());
                    }
                    _ => {}
                }
                if step % 500 == 0 {
                    check(&l, &m);
                }
            }
            check(&l, &m);
        }
    }

    #[test]
    fn nodes_follow_redis_insert_rule() {
        // fill -2: 8 KB nodes. 10-byte elements (12 encoded).
        let mut l = List::new(-2);
        for i in 0..2000 {
            l.push_back(format!("e{i:09}").as_bytes());
        }
        let shape = l.node_shape();
        assert!(shape.len() > 1 && shape.iter().all(|s| s.1 + LP_OVERHEAD <= 8192));
        let mut p = List::new(5);
        for i in 0..12 {
            p.push_back(format!("{i}").as_bytes());
        }
        assert_eq!(
            p.node_shape().iter().map(|s| s.0).collect::<Vec<_>>(),
            vec![5, 5, 2]
        );
    }
}
