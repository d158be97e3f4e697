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
use super::thin::{size_class, Form, Packed, ThinBytes, ThinRepr};
use crate::keyspace::Key;
use std::borrow::Cow;
use std::collections::VecDeque;

/// Node byte caps for fill -1..-5.
const LEVELS: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
/// A positive fill still caps a node at this many bytes.
const SIZE_SAFETY: usize = 8192;
/// Bytes Redis's listpack header (6) and end (1) add to a node's entries.
const LP_OVERHEAD: usize = 7;

/// Whether a quicklist node of `bytes` (its whole listpack) holding `count` elements is
/// within `list-max-listpack-size`: a negative fill's size class (-1..-5: 4..64 KB; below
/// -5 counts as -5, as Redis clamps it), or a positive fill's count within 8 KB.
pub fn node_fits(bytes: usize, count: usize, fill: i64) -> bool {
    let fill = fill.max(-5);
    (fill < 0 && bytes <= LEVELS[(-(fill + 1)) as usize])
        || (bytes <= SIZE_SAFETY && count as i64 <= fill)
}

/// Redis's quicklist insert rule (_quicklistNodeAllowInsert): whether an element of `len`
/// bytes joins a node whose listpack is `lp_bytes` long without its end byte and holds
/// `count` elements (the estimate adds the end byte, the element and 8). The in-memory
/// lists and the RDB writer both cut nodes with it.
pub fn node_allows(lp_bytes: usize, count: usize, len: usize, fill: i64) -> bool {
    node_fits(lp_bytes + 1 + len + 8, count + 1, fill)
}

/// `Node::lzf` of a raw inner node that LZF could not shrink enough: not tried again
/// until the node changes.
const INCOMPRESSIBLE: u32 = u32::MAX;

#[derive(Clone, Default)]
struct Node {
    buf: Vec<u8>,
    n: u32,
    /// 0: elements are `varint(length) bytes backlen`; w > 0: every element is exactly w
    /// bytes, stored bare (a node of ids, hashes, timestamps: 8 bytes an element where
    /// the general form takes 10). A node takes the width of its first element and drops
    /// to the general form, for good, when an element of another length joins it.
    w: u16,
    /// The raw length when `buf` is LZF-compressed (an inner node under
    /// list-compress-depth); 0 when `buf` is the raw entries (INCOMPRESSIBLE: raw, and
    /// compressing it was tried).
    lzf: u32,
}

use super::varint::{len as varint_len, start_before};

/// Encoded size of an element of `len` bytes.
#[inline]
fn entry_len(len: usize) -> usize {
    let body = varint_len(len) + len;
    body + varint_len(body)
}

fn write_entry(out: &mut [u8], v: &[u8]) {
    let mut p = super::varint::write(out, v.len());
    out[p..p + v.len()].copy_from_slice(v);
    p += v.len();
    super::varint::write_back(&mut out[p..], p);
}

/// The element at byte offset `at` of a node's raw bytes, and the offset after it.
#[inline(always)]
fn entry(b: &[u8], at: usize) -> (&[u8], usize) {
    let c = b[at];
    if c < 0x80 {
        // Under 128 bytes (nearly always): one length byte, one backlen byte below 127.
        let len = c as usize;
        let v = &b[at + 1..at + 1 + len];
        return (v, at + 1 + len + if len < 127 { 1 } else { 2 });
    }
    let mut p = at;
    let len = super::varint::read(b, &mut p);
    let v = &b[p..p + len];
    let body = p + len - at;
    (v, p + len + varint_len(body))
}

/// The element at byte offset `at` of a node of width `w` (see `Node::w`), and the
/// offset after it.
#[inline(always)]
fn elem(w: u16, b: &[u8], at: usize) -> (&[u8], usize) {
    if w != 0 {
        let end = at + w as usize;
        (&b[at..end], end)
    } else {
        entry(b, at)
    }
}

/// The offset of the element that ends at `at`, in a node of width `w`.
#[inline(always)]
fn elem_before(w: u16, b: &[u8], at: usize) -> usize {
    if w != 0 {
        at - w as usize
    } else {
        start_before(b, at)
    }
}

/// The width a node starting with an element of `len` bytes takes (0: the general form).
fn width_for(len: usize) -> u16 {
    if (1..=u16::MAX as usize).contains(&len) {
        len as u16
    } else {
        0
    }
}

/// Byte offset of element `i` of `n` (`i == n` gives the end) in a node of width `w`,
/// from the nearer end.
fn offset_of(w: u16, b: &[u8], n: usize, i: usize) -> usize {
    if w != 0 {
        return i * w as usize;
    }
    if i <= n / 2 {
        let mut at = 0;
        for _ in 0..i {
            at = entry(b, at).1;
        }
        at
    } else {
        let mut at = b.len();
        for _ in i..n {
            at = start_before(b, at);
        }
        at
    }
}

/// `w`-wide bare elements (a fixed-width node's bytes) in the general form, appended
/// to `out`.
fn unfixed_into(out: &mut Vec<u8>, w: usize, bare: &[u8]) {
    let len = entry_len(w);
    let mut at = out.len();
    out.resize(at + bare.len() / w * len, 0);
    for v in bare.chunks_exact(w) {
        write_entry(&mut out[at..at + len], v);
        at += len;
    }
}

/// Whether an element of `len` bytes may join a node of `n` elements, width `w` and
/// `raw` bytes (Redis's quicklist rule on the node's own bytes: a fixed-width node holds
/// as many elements as fit in its size, 1021 8-byte elements where Redis's 8 KB listpack
/// holds 817, so it fills its allocation as Redis's node fills its own; an element of
/// another width counts the node in the general form it would take).
fn rule_allows(n: usize, w: u16, raw: usize, len: usize, fill: i64) -> bool {
    let bytes = if w != 0 && len != w as usize {
        n * entry_len(w as usize)
    } else {
        raw
    };
    node_allows(bytes + LP_OVERHEAD - 1, n, len, fill)
}

/// The byte ranges of a node's elements (width `w`) that `keep` rejects, into `gone`.
fn rejected(
    w: u16,
    b: &[u8],
    keep: &mut impl FnMut(&[u8]) -> bool,
    gone: &mut Vec<(usize, usize)>,
) {
    let mut at = 0;
    while at < b.len() {
        let (v, end) = elem(w, b, at);
        if !keep(v) {
            gone.push((at, end));
        }
        at = end;
    }
}

/// Slides each run of kept bytes down over the `gone` ranges (ascending, non-empty) in
/// one pass; returns the new length.
fn slide_out(b: &mut [u8], gone: &[(usize, usize)]) -> usize {
    let mut to = gone[0].0;
    for (i, &(_, e)) in gone.iter().enumerate() {
        let next = gone.get(i + 1).map_or(b.len(), |g| g.0);
        b.copy_within(e..next, to);
        to += next - e;
    }
    to
}

/// Whether a node of `n` elements and `raw` bytes is over its limits.
fn rule_over(n: usize, raw: usize, fill: i64) -> bool {
    n > 1 && !node_fits(raw + LP_OVERHEAD, n, fill)
}

/// Redis compresses a node only from this size, and only when LZF saves this much.
const MIN_COMPRESS_BYTES: usize = 48;
const MIN_COMPRESS_IMPROVE: usize = 8;

impl Node {
    fn is_compressed(&self) -> bool {
        self.lzf != 0 && self.lzf != INCOMPRESSIBLE
    }
    /// The node's size uncompressed.
    fn raw_len(&self) -> usize {
        if self.is_compressed() {
            self.lzf as usize
        } else {
            self.buf.len()
        }
    }
    /// The raw bytes: borrowed, or decompressed into a copy.
    fn bytes(&self) -> Cow<'_, [u8]> {
        if self.is_compressed() {
            Cow::Owned(
                crate::persist::lzf::decompress(&self.buf, self.lzf as usize)
                    .expect("a node this process compressed decompresses"),
            )
        } else {
            Cow::Borrowed(&self.buf)
        }
    }
    /// Makes the node raw (and editable: any edit forgets a failed compression).
    fn decompress(&mut self) {
        if self.is_compressed() {
            self.buf = self.bytes().into_owned();
        }
        self.lzf = 0;
    }
    /// LZF-compresses an inner node (list-compress-depth), when that pays as in Redis.
    fn compress(&mut self) {
        if self.lzf != 0 {
            return;
        }
        let packed = if self.buf.len() >= MIN_COMPRESS_BYTES {
            crate::persist::lzf::compress(&self.buf)
        } else {
            None
        };
        match packed {
            Some(mut c) if c.len() + MIN_COMPRESS_IMPROVE < self.buf.len() => {
                c.shrink_to_fit();
                self.lzf = self.buf.len() as u32;
                self.buf = c;
            }
            _ => self.lzf = INCOMPRESSIBLE,
        }
    }
    /// A fixed-width raw node in the general form (an element of another width is coming).
    fn unfix(&mut self) {
        debug_assert!(self.lzf == 0);
        let w = std::mem::take(&mut self.w) as usize;
        if w == 0 {
            return;
        }
        let mut out = Vec::with_capacity(self.n as usize * entry_len(w));
        unfixed_into(&mut out, w, &self.buf);
        self.buf = out;
    }
    /// Inserts before element `j` (`j == n`: appends) of a raw node.
    fn insert_at(&mut self, j: usize, v: &[u8]) {
        debug_assert!(self.lzf == 0);
        if self.n == 0 {
            self.buf.clear();
            self.w = width_for(v.len());
        } else if self.w != 0 && v.len() != self.w as usize {
            self.unfix();
        }
        let at = offset_of(self.w, &self.buf, self.n as usize, j);
        let len = if self.w != 0 {
            v.len()
        } else {
            entry_len(v.len())
        };
        let old = self.buf.len();
        if self.buf.capacity() - old < len {
            // Room up to the allocator's size class: jemalloc hands out that much anyway,
            // so the slack costs nothing, and the next class is 12-25% larger (amortized
            // growth). Trimmed when the node is done.
            self.buf.reserve_exact(size_class(old + len) - old);
        }
        self.buf.resize(old + len, 0);
        self.buf.copy_within(at..old, at + len);
        if self.w != 0 {
            self.buf[at..at + len].copy_from_slice(v);
        } else {
            write_entry(&mut self.buf[at..at + len], v);
        }
        self.n += 1;
    }
    fn cut(&mut self, start: usize, end: usize, count: usize) {
        debug_assert!(self.lzf == 0);
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
    fn allows(&self, len: usize, fill: i64) -> bool {
        rule_allows(self.n as usize, self.w, self.raw_len(), len, fill)
    }
    /// Whether this node is over its limits (after an edit in the middle).
    fn over(&self, fill: i64) -> bool {
        rule_over(self.n as usize, self.raw_len(), fill)
    }
}

/// The nodes of a list: none, one (inline: a short list is its node's bytes and nothing
/// else), or a deque (boxed, so `Nodes` stays the 40 bytes of one node).
#[derive(Clone, Default)]
enum Nodes {
    #[default]
    None,
    One(Node),
    // Boxed on purpose: the enum stays one node's size (40 bytes), not 48.
    #[allow(clippy::box_collection)]
    Many(Box<VecDeque<Node>>),
}

impl Nodes {
    #[inline]
    fn len(&self) -> usize {
        match self {
            Nodes::None => 0,
            Nodes::One(_) => 1,
            Nodes::Many(d) => d.len(),
        }
    }
    #[inline]
    fn slices(&self) -> (&[Node], &[Node]) {
        match self {
            Nodes::None => (&[], &[]),
            Nodes::One(n) => (std::slice::from_ref(n), &[]),
            Nodes::Many(d) => d.as_slices(),
        }
    }
    fn iter(&self) -> impl Iterator<Item = &Node> {
        let (a, b) = self.slices();
        a.iter().chain(b)
    }
    #[inline]
    fn slices_mut(&mut self) -> (&mut [Node], &mut [Node]) {
        match self {
            Nodes::None => (&mut [], &mut []),
            Nodes::One(n) => (std::slice::from_mut(n), &mut []),
            Nodes::Many(d) => d.as_mut_slices(),
        }
    }
    fn iter_mut(&mut self) -> impl Iterator<Item = &mut Node> {
        let (a, b) = self.slices_mut();
        a.iter_mut().chain(b)
    }
    #[inline]
    fn front(&self) -> Option<&Node> {
        let (a, b) = self.slices();
        a.first().or(b.first())
    }
    #[inline]
    fn back(&self) -> Option<&Node> {
        let (a, b) = self.slices();
        b.last().or(a.last())
    }
    #[inline]
    fn front_mut(&mut self) -> Option<&mut Node> {
        let (a, b) = self.slices_mut();
        a.first_mut().or(b.first_mut())
    }
    #[inline]
    fn back_mut(&mut self) -> Option<&mut Node> {
        let (a, b) = self.slices_mut();
        b.last_mut().or(a.last_mut())
    }
    /// The deque, made from what there is (a second node is coming).
    fn many(&mut self) -> &mut VecDeque<Node> {
        if !matches!(self, Nodes::Many(_)) {
            let mut d = VecDeque::new();
            match std::mem::take(self) {
                Nodes::One(n) => {
                    d.reserve_exact(2);
                    d.push_back(n);
                }
                _ => d.reserve_exact(1),
            }
            *self = Nodes::Many(Box::new(d));
        }
        match self {
            Nodes::Many(d) => d,
            _ => unreachable!("made a deque above"),
        }
    }
    /// Back to one node inline (or none) once a deque has that few.
    fn settle(&mut self) {
        if let Nodes::Many(d) = self {
            if d.len() <= 1 {
                *self = d.pop_front().map_or(Nodes::None, Nodes::One);
            }
        }
    }
    fn push(&mut self, n: Node, front: bool) {
        if let Nodes::None = self {
            *self = Nodes::One(n);
            return;
        }
        let d = self.many();
        if d.len() == d.capacity() {
            // Exact growth while small.
            let extra = d.len().max(1);
            d.reserve_exact(extra);
        }
        if front {
            d.push_front(n)
        } else {
            d.push_back(n)
        }
    }
    fn pop(&mut self, front: bool) -> Option<Node> {
        let n = match self {
            Nodes::None => None,
            Nodes::One(_) => match std::mem::take(self) {
                Nodes::One(n) => Some(n),
                _ => None,
            },
            Nodes::Many(d) if front => d.pop_front(),
            Nodes::Many(d) => d.pop_back(),
        };
        self.settle();
        n
    }
    fn insert(&mut self, k: usize, n: Node) {
        self.many().insert(k, n);
    }
    fn remove(&mut self, k: usize) {
        match self {
            Nodes::One(_) if k == 0 => *self = Nodes::None,
            Nodes::Many(d) => {
                d.remove(k);
                self.settle();
            }
            _ => {}
        }
    }
    fn retain(&mut self, mut keep: impl FnMut(&Node) -> bool) {
        match self {
            Nodes::None => {}
            Nodes::One(n) => {
                if !keep(n) {
                    *self = Nodes::None;
                }
            }
            Nodes::Many(d) => {
                d.retain(keep);
                self.settle();
            }
        }
    }
    /// Heap bytes of the deque itself (not the nodes' bytes).
    fn heap_size(&self) -> usize {
        match self {
            Nodes::Many(d) => {
                std::mem::size_of::<VecDeque<Node>>() + d.capacity() * std::mem::size_of::<Node>()
            }
            _ => 0,
        }
    }
}

impl std::ops::Index<usize> for Nodes {
    type Output = Node;
    #[inline]
    fn index(&self, k: usize) -> &Node {
        match self {
            Nodes::One(n) if k == 0 => n,
            Nodes::Many(d) => &d[k],
            _ => panic!("node {k} of {}", self.len()),
        }
    }
}

impl std::ops::IndexMut<usize> for Nodes {
    #[inline]
    fn index_mut(&mut self, k: usize) -> &mut Node {
        let len = self.len();
        match self {
            Nodes::One(n) if k == 0 => n,
            Nodes::Many(d) => &mut d[k],
            _ => panic!("node {k} of {len}"),
        }
    }
}

/// A list: flat while it is one node (the node's header and bytes in one block, and the
/// key's entry holds one word), a quicklist once a second node is needed, for good.
///
/// A 100-element list of 8-byte elements is then a 32-byte key block and an 820-byte
/// block (in jemalloc's 896 class), where the quicklist form takes an 80-byte key block
/// (its 56-byte struct inline) and the node's 896.
#[derive(Clone)]
pub struct List(Packed<Flat, Quick>);

impl Default for List {
    fn default() -> Self {
        List::new(-2, 0)
    }
}

/// The flat form (see `thin`): `n: u32  fill: i32  depth: u16  w: u16` (as in `Quick` and
/// `Node`), then the node's bytes.
#[derive(Clone)]
#[repr(transparent)]
struct Flat {
    b: ThinBytes,
}

// SAFETY: Flat is #[repr(transparent)] over ThinBytes.
unsafe impl ThinRepr for Flat {}

/// Header bytes of the flat form.
const FH: usize = 12;

impl Flat {
    fn new(fill: i32, depth: u16) -> Self {
        let mut b = ThinBytes::new();
        b.resize(FH);
        b[4..8].copy_from_slice(&fill.to_le_bytes());
        b[8..10].copy_from_slice(&depth.to_le_bytes());
        Flat { b }
    }
    #[inline]
    fn n(&self) -> usize {
        u32::from_le_bytes([self.b[0], self.b[1], self.b[2], self.b[3]]) as usize
    }
    #[inline]
    fn set_n(&mut self, n: usize) {
        self.b[0..4].copy_from_slice(&(n as u32).to_le_bytes());
    }
    fn fill(&self) -> i32 {
        i32::from_le_bytes([self.b[4], self.b[5], self.b[6], self.b[7]])
    }
    fn depth(&self) -> u16 {
        u16::from_le_bytes([self.b[8], self.b[9]])
    }
    #[inline]
    fn w(&self) -> u16 {
        u16::from_le_bytes([self.b[10], self.b[11]])
    }
    fn set_w(&mut self, w: u16) {
        self.b[10..12].copy_from_slice(&w.to_le_bytes());
    }
    #[inline]
    fn bytes(&self) -> &[u8] {
        &self.b[FH..]
    }
    /// Whether an element of `len` bytes may join (as `Node::allows`; an empty node takes
    /// any element).
    /// An element that would take it past `SAFE_BYTES` makes the list a quicklist.
    fn allows(&self, len: usize) -> bool {
        let (n, raw) = (self.n(), self.bytes().len());
        self.b.fits(len + 16) && (n == 0 || rule_allows(n, self.w(), raw, len, self.fill() as i64))
    }
    /// Whether the node is over its limits (as `Node::over`).
    fn over(&self) -> bool {
        rule_over(self.n(), self.bytes().len(), self.fill() as i64)
    }
    /// The general form for a fixed-width node (as `Node::unfix`).
    fn unfix(&mut self) {
        let w = self.w() as usize;
        if w == 0 {
            return;
        }
        let mut out = Vec::with_capacity(FH + self.n() * entry_len(w));
        out.extend_from_slice(&self.b[..FH]);
        unfixed_into(&mut out, w, self.bytes());
        self.b = ThinBytes::from_slice(&out);
        self.set_w(0);
    }
    /// Inserts before element `j` (as `Node::insert_at`).
    fn insert_at(&mut self, j: usize, v: &[u8]) {
        let n = self.n();
        if n == 0 {
            self.b.resize(FH);
            self.set_w(width_for(v.len()));
        } else if self.w() != 0 && v.len() != self.w() as usize {
            self.unfix();
        }
        let w = self.w();
        let at = FH + offset_of(w, self.bytes(), n, j);
        if w != 0 {
            self.b.insert(at, v);
        } else {
            write_entry(self.b.splice(at, at, entry_len(v.len())), v);
        }
        self.set_n(n + 1);
    }
    /// Removes elements `j..j + count`.
    fn remove_at(&mut self, j: usize, count: usize) {
        let (n, w) = (self.n(), self.w());
        let a = offset_of(w, self.bytes(), n, j);
        let b = offset_of(w, self.bytes(), n, j + count);
        self.b.remove(FH + a, FH + b);
        self.set_n(n - count);
    }
    fn pop(&mut self, front: bool) -> Option<Key> {
        let n = self.n();
        if n == 0 {
            return None;
        }
        // The end element's span, found once (no walk from the nearer end).
        let (w, b) = (self.w(), self.bytes());
        let (start, end) = if front {
            (0, elem(w, b, 0).1)
        } else {
            (elem_before(w, b, b.len()), b.len())
        };
        let out = Key::from(elem(w, b, start).0);
        self.b.remove(FH + start, FH + end);
        self.set_n(n - 1);
        Some(out)
    }
    fn get(&self, i: usize) -> Option<&[u8]> {
        let (n, w, b) = (self.n(), self.w(), self.bytes());
        (i < n).then(|| elem(w, b, offset_of(w, b, n, i)).0)
    }
    /// As `Quick::retain`: in place, allocating only when something goes.
    fn retain(&mut self, mut keep: impl FnMut(&[u8]) -> bool) -> usize {
        let mut gone = Vec::new();
        rejected(self.w(), self.bytes(), &mut keep, &mut gone);
        if gone.is_empty() {
            return 0;
        }
        let to = slide_out(&mut self.b[FH..], &gone);
        self.b.resize(FH + to);
        self.set_n(self.n() - gone.len());
        gone.len()
    }
    fn range_from(&self, start: usize, count: usize) -> Iter<'_> {
        let (n, w, b) = (self.n(), self.w(), self.bytes());
        let count = count.min(n.saturating_sub(start));
        let side = |pos| Side {
            k: 0,
            w,
            raw: b,
            own: None,
            pos,
        };
        Iter {
            l: None,
            left: count,
            f: side(offset_of(w, b, n, start.min(n))),
            b: side(offset_of(w, b, n, (start + count).min(n))),
        }
    }
    fn to_quick(&self) -> Quick {
        let mut q = Quick::new(self.fill(), self.depth());
        let n = self.n();
        if n > 0 {
            q.nodes = Nodes::One(Node {
                buf: self.bytes().to_vec(),
                n: n as u32,
                lzf: 0,
                w: self.w(),
            });
            q.len = n;
        }
        q
    }
}

impl List {
    pub fn new(fill: i64, depth: i64) -> Self {
        let fill = fill.clamp(-5, 1 << 20) as i32;
        let depth = depth.clamp(0, u16::MAX as i64) as u16;
        List(Packed::compact(Flat::new(fill, depth)))
    }
    /// The quicklist form, made from the flat one (for good) when needed.
    fn quick(&mut self) -> &mut Quick {
        if let Form::Packed(f) = self.0.get() {
            let q = f.to_quick();
            self.0 = Packed::big(Box::new(q));
        }
        match self.0.get_mut() {
            Form::Big(q) => q,
            Form::Packed(_) => unreachable!("made a quicklist above"),
        }
    }
    /// After an edit in the middle of a flat list: a quicklist when the node is over.
    fn settle_flat(&mut self) {
        if let Form::Packed(f) = self.0.get() {
            if f.over() {
                let q = self.quick();
                q.split_if_over(0);
                q.settle_all();
            }
        }
    }
    pub fn len(&self) -> usize {
        match self.0.get() {
            Form::Packed(f) => f.n(),
            Form::Big(q) => q.len(),
        }
    }
    /// The list-max-listpack-size it was created with (clamped as Redis clamps it).
    pub fn fill(&self) -> i64 {
        match self.0.get() {
            Form::Packed(f) => f.fill() as i64,
            Form::Big(q) => q.fill(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// LPUSH (`front`) or RPUSH one element.
    pub fn push(&mut self, v: &[u8], front: bool) {
        if let Form::Packed(f) = self.0.get_mut() {
            if f.allows(v.len()) {
                let j = if front { 0 } else { f.n() };
                return f.insert_at(j, v);
            }
        }
        self.quick().push(v, front)
    }
    pub fn push_back(&mut self, v: &[u8]) {
        self.push(v, false)
    }
    pub fn push_front(&mut self, v: &[u8]) {
        self.push(v, true)
    }
    pub fn pop_front(&mut self) -> Option<Key> {
        match self.0.get_mut() {
            Form::Packed(f) => f.pop(true),
            Form::Big(q) => q.pop_front(),
        }
    }
    pub fn pop_back(&mut self) -> Option<Key> {
        match self.0.get_mut() {
            Form::Packed(f) => f.pop(false),
            Form::Big(q) => q.pop_back(),
        }
    }
    pub fn get(&self, i: usize) -> Option<Cow<'_, [u8]>> {
        match self.0.get() {
            Form::Packed(f) => f.get(i).map(Cow::Borrowed),
            Form::Big(q) => q.get(i),
        }
    }
    /// Replaces element `i < len`.
    pub fn set(&mut self, i: usize, v: &[u8]) {
        match self.0.get_mut() {
            Form::Packed(f) if i < f.n() && f.b.fits(v.len() + 16) => {
                f.remove_at(i, 1);
                f.insert_at(i, v);
                self.settle_flat();
            }
            Form::Packed(f) if i < f.n() => self.quick().set(i, v),
            Form::Packed(_) => {}
            Form::Big(q) => q.set(i, v),
        }
    }
    /// Inserts before element `i` (`i == len` appends).
    pub fn insert(&mut self, i: usize, v: &[u8]) {
        match self.0.get_mut() {
            Form::Packed(f) if i > 0 && i < f.n() && f.b.fits(v.len() + 16) => {
                f.insert_at(i, v);
                self.settle_flat();
            }
            Form::Packed(f) if i > 0 && i < f.n() => self.quick().insert(i, v),
            Form::Packed(f) => {
                let front = i == 0 && f.n() > 0;
                self.push(v, front)
            }
            Form::Big(q) => q.insert(i, v),
        }
    }
    /// Keeps elements [start, start+count) only: LTRIM.
    pub fn keep_range(&mut self, start: usize, count: usize) {
        let end = (start + count).min(self.len());
        if start >= end {
            return self.clear();
        }
        self.remove_range(end, self.len() - end);
        self.remove_range(0, start);
    }
    /// Removes `count` elements from `start`.
    pub fn remove_range(&mut self, start: usize, count: usize) {
        match self.0.get_mut() {
            Form::Packed(f) => {
                let count = count.min(f.n().saturating_sub(start));
                if count > 0 {
                    f.remove_at(start, count);
                }
            }
            Form::Big(q) => q.remove_range(start, count),
        }
    }
    pub fn clear(&mut self) {
        let (fill, depth) = match self.0.get() {
            Form::Packed(f) => (f.fill(), f.depth()),
            Form::Big(q) => (q.fill, q.depth),
        };
        *self = List::new(fill as i64, depth as i64);
    }
    /// Keeps the elements for which `keep` holds (in order); returns how many went.
    pub fn retain(&mut self, keep: impl FnMut(&[u8]) -> bool) -> usize {
        match self.0.get_mut() {
            Form::Packed(f) => f.retain(keep),
            Form::Big(q) => q.retain(keep),
        }
    }
    /// Calls `f` with `count` elements from `start`, in order (LRANGE).
    pub fn for_range(&self, start: usize, count: usize, mut f: impl FnMut(&[u8])) {
        match self.0.get() {
            Form::Packed(l) => {
                let (n, w, b) = (l.n(), l.w(), l.bytes());
                let count = count.min(n.saturating_sub(start));
                if count == 0 {
                    return;
                }
                let at = offset_of(w, b, n, start);
                if w != 0 {
                    b[at..at + count * w as usize]
                        .chunks_exact(w as usize)
                        .for_each(f);
                } else {
                    let mut at = at;
                    for _ in 0..count {
                        let (v, end) = entry(b, at);
                        f(v);
                        at = end;
                    }
                }
            }
            Form::Big(q) => q.for_range(start, count, f),
        }
    }
    /// Every element, front to back (and back to front with `.rev()`).
    pub fn iter(&self) -> Iter<'_> {
        self.range_from(0, self.len())
    }
    /// `count` elements from `start`.
    pub fn range_from(&self, start: usize, count: usize) -> Iter<'_> {
        match self.0.get() {
            Form::Packed(f) => f.range_from(start, count),
            Form::Big(q) => q.range_from(start, count),
        }
    }
    pub fn heap_size(&self) -> usize {
        match self.0.get() {
            Form::Packed(f) => f.b.heap_size(),
            Form::Big(q) => std::mem::size_of::<Quick>() + q.heap_size(),
        }
    }
    /// Nodes, for tests and DEBUG: (elements, raw bytes, compressed) of each.
    pub fn node_shape(&self) -> Vec<(usize, usize, bool)> {
        match self.0.get() {
            Form::Packed(f) if f.n() == 0 => vec![],
            Form::Packed(f) => vec![(f.n(), f.bytes().len(), false)],
            Form::Big(q) => q.node_shape(),
        }
    }
    /// Each node's width (`Node::w`), for tests.
    #[cfg(test)]
    fn widths(&self) -> Vec<u16> {
        match self.0.get() {
            Form::Packed(f) if f.n() == 0 => vec![],
            Form::Packed(f) => vec![f.w()],
            Form::Big(q) => q.nodes.iter().map(|n| n.w).collect(),
        }
    }
    #[cfg(test)]
    fn is_flat(&self) -> bool {
        self.0.is_packed()
    }
    #[cfg(test)]
    fn depth(&self) -> u16 {
        match self.0.get() {
            Form::Packed(f) => f.depth(),
            Form::Big(q) => q.depth,
        }
    }
    /// The quicklist form, for tests of its nodes.
    #[cfg(test)]
    fn nodes(&self) -> &Nodes {
        match self.0.get() {
            Form::Big(q) => &q.nodes,
            Form::Packed(_) => panic!("a flat list"),
        }
    }
}

/// The quicklist form: any number of nodes.
#[derive(Clone)]
struct Quick {
    nodes: Nodes,
    len: usize,
    /// `list-max-listpack-size` when the list was created (Redis keeps it per list too).
    fill: i32,
    /// `list-compress-depth` when the list was created: this many nodes at each end stay
    /// raw, the inner ones are LZF-compressed.
    depth: u16,
}

impl Quick {
    fn new(fill: i32, depth: u16) -> Self {
        Quick {
            nodes: Nodes::None,
            len: 0,
            fill,
            depth,
        }
    }
    pub fn len(&self) -> usize {
        self.len
    }
    /// The list-max-listpack-size it was created with (clamped as Redis clamps it).
    pub fn fill(&self) -> i64 {
        self.fill as i64
    }
    fn new_node(&mut self, front: bool) {
        // The node pushes went to is done: drop its slack.
        let done = if front {
            self.nodes.front_mut()
        } else {
            self.nodes.back_mut()
        };
        if let Some(n) = done {
            if !n.is_compressed() {
                n.buf.shrink_to_fit();
            }
        }
        self.nodes.push(Node::default(), front);
        self.settle_ends();
    }
    /// After a node came or went at an end: the `depth` nodes at each end raw, the next
    /// one in compressed (the rest already are).
    fn settle_ends(&mut self) {
        let d = self.depth as usize;
        if d == 0 {
            return;
        }
        let n = self.nodes.len();
        for k in (0..d.min(n)).chain(n.saturating_sub(d)..n) {
            self.nodes[k].decompress();
        }
        if n > 2 * d {
            self.nodes[d].compress();
            self.nodes[n - 1 - d].compress();
        }
    }
    /// After an edit anywhere: every node raw or compressed as its place says. Only the
    /// nodes an edit opened are raw inner ones, so this compresses just those (a node
    /// LZF cannot shrink is marked and left alone until it changes again).
    fn settle_all(&mut self) {
        let d = self.depth as usize;
        if d == 0 {
            return;
        }
        let n = self.nodes.len();
        for k in 0..n {
            if k < d || k + d >= n {
                self.nodes[k].decompress();
            } else {
                self.nodes[k].compress();
            }
        }
    }
    /// LPUSH (`front`) or RPUSH one element.
    pub fn push(&mut self, v: &[u8], front: bool) {
        let end = if front {
            self.nodes.front()
        } else {
            self.nodes.back()
        };
        if !end.is_some_and(|n| n.allows(v.len(), self.fill())) {
            self.new_node(front);
        }
        let end = if front {
            self.nodes.front_mut()
        } else {
            self.nodes.back_mut()
        };
        if let Some(node) = end {
            node.decompress();
            let j = if front { 0 } else { node.n as usize };
            node.insert_at(j, v);
            self.len += 1;
        }
    }
    pub fn push_back(&mut self, v: &[u8]) {
        self.push(v, false)
    }
    pub fn push_front(&mut self, v: &[u8]) {
        self.push(v, true)
    }
    pub fn pop_front(&mut self) -> Option<Key> {
        let node = self.nodes.front_mut()?;
        node.decompress();
        let (v, end) = elem(node.w, &node.buf, 0);
        let out = Key::from(v);
        node.cut(0, end, 1);
        if node.n == 0 {
            self.nodes.pop(true);
            self.settle_ends();
        }
        self.len -= 1;
        Some(out)
    }
    pub fn pop_back(&mut self) -> Option<Key> {
        let node = self.nodes.back_mut()?;
        node.decompress();
        let end = node.buf.len();
        let start = elem_before(node.w, &node.buf, end);
        let out = Key::from(elem(node.w, &node.buf, start).0);
        node.cut(start, end, 1);
        if node.n == 0 {
            self.nodes.pop(false);
            self.settle_ends();
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
            for k in (0..self.nodes.len()).rev() {
                let n = &self.nodes[k];
                if from_end <= n.n as usize {
                    return (k, n.n as usize - from_end);
                }
                from_end -= n.n as usize;
            }
        }
        (0, 0)
    }
    pub fn get(&self, i: usize) -> Option<Cow<'_, [u8]>> {
        if i >= self.len {
            return None;
        }
        let (k, j) = self.locate(i);
        let node = &self.nodes[k];
        let (w, n) = (node.w, node.n as usize);
        Some(match node.bytes() {
            Cow::Borrowed(b) => Cow::Borrowed(elem(w, b, offset_of(w, b, n, j)).0),
            Cow::Owned(b) => Cow::Owned(elem(w, &b, offset_of(w, &b, n, j)).0.to_vec()),
        })
    }
    /// The node holding element `i < len`, raw, and the element's place in it.
    fn open(&mut self, i: usize) -> (usize, usize) {
        let (k, j) = self.locate(i);
        self.nodes[k].decompress();
        (k, j)
    }
    /// Replaces element `i < len`.
    pub fn set(&mut self, i: usize, v: &[u8]) {
        if i >= self.len {
            return;
        }
        let (k, j) = self.open(i);
        let node = &mut self.nodes[k];
        let at = offset_of(node.w, &node.buf, node.n as usize, j);
        let end = elem(node.w, &node.buf, at).1;
        node.cut(at, end, 1);
        node.insert_at(j, v);
        self.split_if_over(k);
        self.settle_all();
    }
    /// Inserts before element `i` (`i == len` appends).
    pub fn insert(&mut self, i: usize, v: &[u8]) {
        if i >= self.len {
            return self.push_back(v);
        }
        if i == 0 {
            return self.push_front(v);
        }
        let (k, j) = self.open(i);
        self.nodes[k].insert_at(j, v);
        self.len += 1;
        self.split_if_over(k);
        self.settle_all();
    }
    /// Halves node `k` (raw) while it is over the fill's limits.
    fn split_if_over(&mut self, k: usize) {
        if !self.nodes[k].over(self.fill()) {
            return;
        }
        let node = &mut self.nodes[k];
        node.decompress();
        let half = node.n as usize / 2;
        let at = offset_of(node.w, &node.buf, node.n as usize, half);
        let tail = Node {
            buf: node.buf[at..].to_vec(),
            n: node.n - half as u32,
            lzf: 0,
            w: node.w,
        };
        node.cut(at, node.buf.len(), tail.n as usize);
        node.buf.shrink_to_fit();
        self.nodes.insert(k + 1, tail);
        self.split_if_over(k + 1);
        self.split_if_over(k);
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
                node.decompress();
                let a = offset_of(node.w, &node.buf, n, j);
                let b = offset_of(node.w, &node.buf, n, j + take);
                node.cut(a, b, take);
                k += 1;
            }
            left -= take;
            j = 0;
        }
        self.len -= count;
        self.settle_all();
    }
    /// Keeps the elements for which `keep` holds (in order); returns how many went.
    /// `keep` sees each element once, in order. A compressed node nobody leaves stays
    /// as it is.
    pub fn retain(&mut self, mut keep: impl FnMut(&[u8]) -> bool) -> usize {
        let mut removed = 0;
        let mut gone: Vec<(usize, usize)> = Vec::new();
        for node in self.nodes.iter_mut() {
            gone.clear();
            rejected(node.w, &node.bytes(), &mut keep, &mut gone);
            if gone.is_empty() {
                continue;
            }
            node.decompress();
            let to = slide_out(&mut node.buf, &gone);
            node.buf.truncate(to);
            node.n -= gone.len() as u32;
            if node.buf.capacity() > node.buf.len() * 2 + 64 {
                node.buf.shrink_to_fit();
            }
            removed += gone.len();
        }
        self.nodes.retain(|n| n.n > 0);
        self.len -= removed;
        if removed > 0 {
            self.settle_all();
        }
        removed
    }
    /// Calls `f` with `count` elements from `start`, in order: LRANGE's walk, one tight
    /// loop per node with no per-element state beyond the offset.
    pub fn for_range(&self, start: usize, count: usize, mut f: impl FnMut(&[u8])) {
        let mut left = count.min(self.len.saturating_sub(start));
        if left == 0 {
            return;
        }
        let (k, mut j) = self.locate(start);
        for node in self.nodes.iter().skip(k) {
            let b = node.bytes();
            let w = node.w;
            let at = offset_of(w, &b, node.n as usize, j);
            j = 0;
            if w != 0 {
                // Fixed width: the elements are the chunks.
                let take = left.min((b.len() - at) / w as usize);
                b[at..at + take * w as usize]
                    .chunks_exact(w as usize)
                    .for_each(&mut f);
                left -= take;
            } else {
                let mut at = at;
                while left > 0 && at < b.len() {
                    let (v, end) = entry(&b, at);
                    f(v);
                    at = end;
                    left -= 1;
                }
            }
            if left == 0 {
                return;
            }
        }
    }
    /// `count` elements from `start`.
    pub fn range_from(&self, start: usize, count: usize) -> Iter<'_> {
        let count = count.min(self.len.saturating_sub(start));
        if count == 0 {
            return Iter {
                l: Some(self),
                left: 0,
                f: Side::empty(),
                b: Side::empty(),
            };
        }
        let (fk, fj) = self.locate(start);
        let (bk, bj) = self.locate(start + count - 1);
        let mut f = Side::load(self, fk);
        f.pos = offset_of(f.w, f.bytes(), self.nodes[fk].n as usize, fj);
        let mut b = Side::load(self, bk);
        let bb = b.bytes();
        b.pos = elem(b.w, bb, offset_of(b.w, bb, self.nodes[bk].n as usize, bj)).1;
        Iter {
            l: Some(self),
            left: count,
            f,
            b,
        }
    }
    pub fn heap_size(&self) -> usize {
        self.nodes.iter().map(|n| n.buf.capacity()).sum::<usize>() + self.nodes.heap_size()
    }
    /// Nodes, for tests and DEBUG: (elements, raw bytes, compressed) of each.
    pub fn node_shape(&self) -> Vec<(usize, usize, bool)> {
        self.nodes
            .iter()
            .map(|n| (n.n as usize, n.raw_len(), n.is_compressed()))
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

/// One end of an iteration: a node's raw bytes (borrowed, or decompressed into `own`)
/// and a byte offset (the next element from the front; just past the next from the back).
struct Side<'a> {
    k: usize,
    /// The node's width (`Node::w`).
    w: u16,
    raw: &'a [u8],
    own: Option<Vec<u8>>,
    pos: usize,
}

impl<'a> Side<'a> {
    fn empty() -> Self {
        Side {
            k: 0,
            w: 0,
            raw: &[],
            own: None,
            pos: 0,
        }
    }
    fn load(l: &'a Quick, k: usize) -> Self {
        let w = l.nodes[k].w;
        match l.nodes[k].bytes() {
            Cow::Borrowed(raw) => Side {
                k,
                w,
                raw,
                own: None,
                pos: 0,
            },
            Cow::Owned(v) => Side {
                k,
                w,
                raw: &[],
                own: Some(v),
                pos: 0,
            },
        }
    }
    fn bytes(&self) -> &[u8] {
        self.own.as_deref().unwrap_or(self.raw)
    }
}

/// Elements in order; double-ended. Borrowed from raw nodes, copied out of compressed
/// ones.
pub struct Iter<'a> {
    /// The quicklist, for the nodes after the first side's; None for a flat list (one
    /// node: both sides start in it and never leave it).
    l: Option<&'a Quick>,
    left: usize,
    f: Side<'a>,
    b: Side<'a>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = Cow<'a, [u8]>;
    #[inline]
    fn next(&mut self) -> Option<Cow<'a, [u8]>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        if self.f.pos >= self.f.bytes().len() {
            self.f = Side::load(self.l.expect("a next node"), self.f.k + 1);
        }
        let pos = self.f.pos;
        Some(match &self.f.own {
            None => {
                let raw: &'a [u8] = self.f.raw;
                let (v, end) = elem(self.f.w, raw, pos);
                self.f.pos = end;
                Cow::Borrowed(v)
            }
            Some(o) => {
                let (v, end) = elem(self.f.w, o, pos);
                let v = Cow::Owned(v.to_vec());
                self.f.pos = end;
                v
            }
        })
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
        if self.b.pos == 0 {
            self.b = Side::load(self.l.expect("a previous node"), self.b.k - 1);
            self.b.pos = self.b.bytes().len();
        }
        let w = self.b.w;
        let start = elem_before(w, self.b.bytes(), self.b.pos);
        self.b.pos = start;
        Some(match &self.b.own {
            None => {
                let raw = self.b.raw;
                Cow::Borrowed(elem(w, raw, start).0)
            }
            Some(o) => Cow::Owned(elem(w, o, start).0.to_vec()),
        })
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    fn check(l: &List, model: &VecDeque<Vec<u8>>) {
        assert_eq!(l.len(), model.len());
        assert!(l.iter().eq(model.iter().map(|v| Cow::Borrowed(&v[..]))));
        assert!(l
            .iter()
            .rev()
            .eq(model.iter().rev().map(|v| Cow::Borrowed(&v[..]))));
        let shape = l.node_shape();
        assert_eq!(shape.iter().map(|s| s.0).sum::<usize>(), model.len());
        assert!(shape.iter().all(|s| s.0 > 0));
        // list-compress-depth: the end nodes raw; inner ones compressed when that pays.
        let d = l.depth() as usize;
        for (k, s) in shape.iter().enumerate() {
            if k < d || k + d >= shape.len() || d == 0 {
                assert!(!s.2, "node {k} of {} compressed at depth {d}", shape.len());
            }
        }
    }

    #[test]
    fn matches_a_deque_model() {
        let mut rng = rand::thread_rng();
        let configs = [(-2i64, 0i64), (-1, 1), (1, 2), (3, 1), (128, 0), (4, 3)];
        // Mixed lengths (general-form nodes), and nearly all 8 bytes (fixed-width nodes,
        // some dropping to the general form when another length joins).
        // And kept under 40 elements: a flat list (one node) through every operation.
        for (fill, depth, uniform, cap) in configs.iter().flat_map(|&(f, d)| {
            [
                (f, d, false, usize::MAX),
                (f, d, true, usize::MAX),
                (f, d, false, 40),
            ]
        }) {
            let mut l = List::new(fill, depth);
            let mut m: VecDeque<Vec<u8>> = VecDeque::new();
            for step in 0..6000 {
                while m.len() > cap {
                    assert_eq!(l.pop_front().map(|k| k.to_vec()), m.pop_front());
                }
                let len = match rng.gen_range(0..if uniform { 200 } else { 10 }) {
                    0 => rng.gen_range(100..400),
                    1 => 0,
                    2..=9 => rng.gen_range(1..20),
                    _ => 8,
                };
                // Compressible (repetitive) elements, so inner nodes do get compressed.
                let c = rng.gen_range(b'a'..b'e');
                let v: Vec<u8> = (0..len)
                    .map(|i| {
                        if i % 7 == 0 {
                            rng.gen_range(b'a'..b'e')
                        } else {
                            c
                        }
                    })
                    .collect();
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
                        assert_eq!(l.get(i).as_deref(), Some(&m[i][..]));
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
                        let mut seen = 0;
                        let removed = l.retain(|e| {
                            seen += 1;
                            e.first() != Some(&x)
                        });
                        assert_eq!(removed, before - m.len());
                        assert_eq!(seen, before, "retain sees each element once");
                    }
                    11 if !m.is_empty() => {
                        let s = rng.gen_range(0..m.len());
                        let c = rng.gen_range(0..=(m.len() - s).min(30));
                        let got: Vec<Vec<u8>> =
                            l.range_from(s, c).map(|v| v.into_owned()).collect();
                        let want: Vec<Vec<u8>> = m.iter().skip(s).take(c).cloned().collect();
                        assert_eq!(got, want);
                        let back: Vec<Vec<u8>> =
                            l.range_from(s, c).rev().map(|v| v.into_owned()).collect();
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
    fn same_length_elements_are_stored_bare_until_another_length_joins() {
        let mut l = List::new(-2, 0);
        for i in 0..3000 {
            l.push_back(format!("e{i:07}").as_bytes());
        }
        let shape = l.node_shape();
        let bytes: usize = shape.iter().map(|s| s.1).sum();
        assert_eq!(bytes, 3000 * 8, "8 bytes an element, no length or backlen");
        assert_eq!(l.widths(), vec![8; shape.len()]);
        // Nodes are cut by Redis's rule on their own bytes: 8 KB of elements each.
        let (mut want, mut count) = (vec![], 0);
        for _ in 0..3000 {
            // The rule on the node's bytes: 8 an element (a listpack's header counted).
            if count > 0 && !node_allows(6 + 8 * count, count, 8, -2) {
                want.push(count);
                count = 0;
            }
            count += 1;
        }
        want.push(count);
        assert_eq!(shape.iter().map(|s| s.0).collect::<Vec<_>>(), want);
        // Another length in a node: that node drops to the general form (10 KB now: it
        // splits in two); the others stay bare.
        l.insert(1500, b"longer element");
        assert_eq!(l.widths(), vec![8, 0, 0, 8]);
        assert_eq!(l.get(1500).as_deref(), Some(&b"longer element"[..]));
        assert_eq!(l.get(2999).as_deref(), Some(&b"e0002998"[..]));
        assert_eq!(l.pop_back().as_deref(), Some(&b"e0002999"[..]));
        assert_eq!(l.iter().rev().nth(1).as_deref(), Some(&b"e0002997"[..]));
    }

    #[test]
    fn an_element_past_the_safety_size_makes_a_quicklist() {
        // (SAFE_BYTES is 16 KB in unit tests, 1 GB in the server.)
        let huge = vec![b'h'; crate::types::thin::SAFE_BYTES + 1];
        let mut pushed = List::new(-2, 0);
        pushed.push_back(&huge);
        let mut set = List::new(-2, 0);
        set.push_back(b"a");
        set.set(0, &huge);
        let mut inserted = List::new(-2, 0);
        inserted.push_back(b"a");
        inserted.push_back(b"b");
        inserted.insert(1, &huge);
        for l in [&pushed, &set, &inserted] {
            assert!(!l.is_flat());
            assert!(l.iter().any(|v| v.len() == huge.len()));
        }
        assert_eq!(inserted.get(2).as_deref(), Some(&b"b"[..]));
    }

    #[test]
    fn a_one_node_list_is_flat_until_a_second_node_is_needed() {
        let mut l = List::new(-2, 0);
        for i in 0..100 {
            l.push_back(format!("e{i:07}").as_bytes());
        }
        assert!(l.is_flat());
        // Header (length and capacity words, 12 bytes) and 800 bytes: one 896-byte block.
        assert_eq!(l.heap_size(), size_class(8 + FH + 800));
        l.set(3, b"x");
        l.insert(5, b"yy");
        l.push_front(b"front");
        assert_eq!(l.pop_back().as_deref(), Some(&b"e0000099"[..]));
        assert_eq!(l.retain(|v| v != b"e0000050"), 1);
        l.keep_range(1, 50);
        assert!(l.is_flat());
        let got: Vec<Vec<u8>> = l.iter().map(|v| v.into_owned()).collect();
        assert_eq!(got.len(), 50);
        assert_eq!(
            (&got[0][..], &got[3][..], &got[5][..]),
            (&b"e0000000"[..], &b"x"[..], &b"yy"[..])
        );
        // Past one node: a quicklist with the same elements, for good.
        for i in 0..2000 {
            l.push_back(format!("f{i:07}").as_bytes());
        }
        assert!(!l.is_flat());
        assert_eq!(l.get(3).as_deref(), Some(&b"x"[..]));
        assert_eq!(l.len(), 2050);
        while l.len() > 1 {
            l.pop_back();
        }
        assert!(!l.is_flat());
        // An edit that puts a flat node over its limit splits it into a quicklist.
        let mut p = List::new(4, 0);
        for v in [&b"a"[..], b"b", b"c", b"d"] {
            p.push_back(v);
        }
        assert!(p.is_flat());
        p.insert(2, b"x");
        assert!(!p.is_flat());
        assert_eq!(
            p.node_shape().iter().map(|s| s.0).collect::<Vec<_>>(),
            vec![2, 3]
        );
        assert!(p
            .iter()
            .eq([&b"a"[..], b"b", b"x", b"c", b"d"].map(Cow::Borrowed)));
    }

    #[test]
    fn inner_nodes_are_compressed_at_depth() {
        let mut l = List::new(16, 1);
        for i in 0..200 {
            l.push_back(format!("element-{:04}", i % 10).as_bytes());
        }
        let shape = l.node_shape();
        assert!(shape.len() > 3);
        assert!(!shape[0].2 && !shape[shape.len() - 1].2);
        assert!(shape[1..shape.len() - 1].iter().all(|s| s.2));
        let raw: usize = shape.iter().map(|s| s.1).sum();
        assert!(l.heap_size() < raw, "{} vs {raw}", l.heap_size());
        assert_eq!(l.get(100).as_deref(), Some(&b"element-0000"[..]));
        while l.pop_front().is_some() {
            check(&l, &l.iter().map(|v| v.into_owned()).collect());
        }
    }

    #[test]
    fn the_insert_rule_clamps_fill_and_one_entry_nodes_for_zero() {
        // Below -5 is -5 (64 KB), as Redis clamps it; 0 is one element a node.
        assert!(node_allows(60_000, 10, 100, -7));
        assert!(!node_allows(70_000, 10, 100, -7));
        assert!(!node_allows(10, 1, 1, 0));
        assert!(node_allows(10, 4, 1, 5) && !node_allows(10, 5, 1, 5));
    }

    #[test]
    fn an_incompressible_inner_node_is_not_tried_again_until_it_changes() {
        let mut l = List::new(8, 1);
        let mut x = 0x9e3779b97f4a7c15u64;
        for _ in 0..64 {
            // Random bytes: LZF cannot shrink them.
            let v: Vec<u8> = (0..40)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            l.push_back(&v);
        }
        let n = l.nodes().len();
        assert!(n > 3);
        assert!(l
            .nodes()
            .iter()
            .skip(1)
            .take(n - 2)
            .all(|n| n.lzf == INCOMPRESSIBLE));
        l.set(20, b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
        // The edited node was tried again (the run of a's compresses); the others stay
        // marked, untouched.
        assert!(l.nodes()[2].is_compressed());
        assert!(l
            .nodes()
            .iter()
            .skip(3)
            .take(n - 4)
            .all(|n| n.lzf == INCOMPRESSIBLE));
        assert_eq!(
            l.get(20).as_deref(),
            Some(&b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"[..])
        );
    }

    #[test]
    fn nodes_follow_redis_insert_rule() {
        // fill -2: 8 KB nodes. 10-byte elements (12 encoded).
        let mut l = List::new(-2, 0);
        for i in 0..2000 {
            l.push_back(format!("e{i:09}").as_bytes());
        }
        let shape = l.node_shape();
        assert!(shape.len() > 1 && shape.iter().all(|s| s.1 + LP_OVERHEAD <= 8192));
        let mut p = List::new(5, 0);
        for i in 0..12 {
            p.push_back(format!("{i}").as_bytes());
        }
        assert_eq!(
            p.node_shape().iter().map(|s| s.0).collect::<Vec<_>>(),
            vec![5, 5, 2]
        );
    }
}
