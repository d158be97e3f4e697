//! The large sorted set: a member -> node dictionary plus a skip list ordered by (score, member).
//!
//! Why a skip list: it is what Redis uses, and with a "span" on every forward link (how many
//! bottom-level nodes the link jumps over) one descent gives the rank of a node, the node at
//! a rank, or the number of elements before any monotonic bound, all in O(log n) expected.
//! Nodes live in one arena of u32 words, each node's links right after its fields (links are
//! u32 word indices, freed nodes are reused by level), so there is no unsafe code, no
//! per-link pointer and no allocation per node; node 0 is the header.
use super::{LexRange, ScoreRange};
use crate::keyspace::Dict;
use rand::Rng;
use std::cmp::Ordering;

const MAX_LEVEL: usize = 32;
const NIL: u32 = u32::MAX;
const HEAD: u32 = 0;

#[derive(Clone, Copy)]
struct Link {
    next: u32,
    /// Bottom-level nodes skipped by following `next` (counting the target).
    span: u32,
}

/// A node's fields, as a descent's comparisons read them.
#[derive(Clone, Copy)]
struct Node {
    /// The member's position in `index` (positions never move): the member's bytes are
    /// stored once, in the dictionary.
    pos: u32,
    score: f64,
}

// A node is a run of u32 words in one arena, its links inline after its fields (as Redis's
// zskiplistNode ends with its level array): a step of a descent reads one place, where a
// node with a separately boxed link array cost a second cache miss.
/// Words: score (2, little-endian halves), member position, back link, level, then
/// (next, span) per level. A node's id is its first word's index.
const W_POS: usize = 2;
const W_BACK: usize = 3;
const W_LEVEL: usize = 4;
const W_LINKS: usize = 5;

#[derive(Clone)]
pub struct SkipList {
    index: Dict<u32>,
    arena: Vec<u32>,
    /// Freed nodes by level (a new node of that level takes one).
    free: Vec<Vec<u32>>,
    tail: u32,
    level: usize,
}

impl Default for SkipList {
    fn default() -> Self {
        let mut z = SkipList {
            index: Dict::new(),
            arena: Vec::new(),
            free: Vec::new(),
            tail: NIL,
            level: 1,
        };
        let head = z.alloc(MAX_LEVEL);
        debug_assert_eq!(head, HEAD);
        z.set_pos(HEAD, NIL);
        z
    }
}

fn random_level() -> usize {
    let mut rng = rand::thread_rng();
    let mut l = 1;
    while l < MAX_LEVEL && rng.gen_ratio(1, 4) {
        l += 1;
    }
    l
}

/// Node field access.
impl SkipList {
    #[inline]
    fn score_of(&self, id: u32) -> f64 {
        let i = id as usize;
        f64::from_bits(self.arena[i] as u64 | (self.arena[i + 1] as u64) << 32)
    }
    #[inline]
    fn set_score(&mut self, id: u32, s: f64) {
        let (i, b) = (id as usize, s.to_bits());
        self.arena[i] = b as u32;
        self.arena[i + 1] = (b >> 32) as u32;
    }
    #[inline]
    fn pos_of(&self, id: u32) -> u32 {
        self.arena[id as usize + W_POS]
    }
    #[inline]
    fn set_pos(&mut self, id: u32, pos: u32) {
        self.arena[id as usize + W_POS] = pos;
    }
    #[inline]
    fn back(&self, id: u32) -> u32 {
        self.arena[id as usize + W_BACK]
    }
    #[inline]
    fn set_back(&mut self, id: u32, b: u32) {
        self.arena[id as usize + W_BACK] = b;
    }
    #[inline]
    fn level_of(&self, id: u32) -> usize {
        self.arena[id as usize + W_LEVEL] as usize
    }
    #[inline]
    fn link(&self, id: u32, i: usize) -> Link {
        let at = id as usize + W_LINKS + 2 * i;
        Link {
            next: self.arena[at],
            span: self.arena[at + 1],
        }
    }
    #[inline]
    fn set_link(&mut self, id: u32, i: usize, l: Link) {
        let at = id as usize + W_LINKS + 2 * i;
        self.arena[at] = l.next;
        self.arena[at + 1] = l.span;
    }
    #[inline]
    fn set_span(&mut self, id: u32, i: usize, span: u32) {
        self.arena[id as usize + W_LINKS + 2 * i + 1] = span;
    }
    #[inline]
    fn node(&self, id: u32) -> Node {
        Node {
            pos: self.pos_of(id),
            score: self.score_of(id),
        }
    }
    /// A node of `level` links, all nil (a freed one of that level if any).
    fn alloc(&mut self, level: usize) -> u32 {
        let id = match self.free.get_mut(level - 1).and_then(|f| f.pop()) {
            Some(id) => id,
            None => {
                let id = self.arena.len();
                assert!(
                    id + W_LINKS + 2 * level < NIL as usize,
                    "sorted set arena full"
                );
                self.arena.resize(id + W_LINKS + 2 * level, 0);
                id as u32
            }
        };
        self.arena[id as usize + W_LEVEL] = level as u32;
        for k in 0..level {
            self.set_link(id, k, Link { next: NIL, span: 0 });
        }
        id
    }
    fn release(&mut self, id: u32) {
        let level = self.level_of(id);
        self.set_pos(id, NIL);
        if self.free.len() < level {
            self.free.resize_with(level, Vec::new);
        }
        self.free[level - 1].push(id);
    }
}

impl SkipList {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn len(&self) -> usize {
        self.index.len()
    }
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }
    pub fn score(&self, m: &[u8]) -> Option<f64> {
        self.index.get(m).map(|&n| self.score_of(n))
    }

    /// Descend keeping, per level, the last node for which `before` holds (the header if
    /// none) and its rank (1-based, header = 0). `before` must hold for a prefix of the order.
    fn seek(&self, before: impl Fn(Node) -> bool) -> ([u32; MAX_LEVEL], [u32; MAX_LEVEL]) {
        let mut update = [HEAD; MAX_LEVEL];
        let mut rank = [0u32; MAX_LEVEL];
        let mut x = HEAD;
        let mut r = 0u32;
        for i in (0..self.level).rev() {
            loop {
                let l = self.link(x, i);
                if l.next != NIL && before(self.node(l.next)) {
                    r += l.span;
                    x = l.next;
                } else {
                    break;
                }
            }
            update[i] = x;
            rank[i] = r;
        }
        (update, rank)
    }

    /// How many elements come before the first one for which `before` is false.
    fn count_before(&self, before: impl Fn(Node) -> bool) -> usize {
        let (_, rank) = self.seek(before);
        rank[0] as usize
    }

    /// Whether node `n` sorts before (score, member). The member (another cache line) is
    /// read only when the scores tie.
    #[inline]
    fn sorts_before(&self, n: Node, score: f64, member: &[u8]) -> bool {
        match n.score.partial_cmp(&score) {
            Some(Ordering::Less) => true,
            Some(Ordering::Greater) => false,
            _ => self.mem(n) < member,
        }
    }

    /// A node's member.
    #[inline]
    fn mem(&self, n: Node) -> &[u8] {
        self.index.at(n.pos as usize).map_or(&[][..], |(k, _)| k)
    }

    /// Links a new node for the member at index position `pos`; returns its id.
    fn list_insert(&mut self, pos: u32, score: f64) -> u32 {
        let (update, rank) = {
            let member = self.index.at(pos as usize).map_or(&[][..], |(k, _)| &**k);
            self.seek(|n| self.sorts_before(n, score, member))
        };
        let lvl = random_level();
        if lvl > self.level {
            for i in self.level..lvl {
                self.set_span(HEAD, i, self.len() as u32);
            }
            self.level = lvl;
        }
        let id = self.alloc(lvl);
        self.set_pos(id, pos);
        self.set_score(id, score);
        for (i, (&prev, &ri)) in update.iter().zip(&rank).enumerate().take(lvl) {
            let pl = self.link(prev, i);
            self.set_link(
                id,
                i,
                Link {
                    next: pl.next,
                    span: pl.span - (rank[0] - ri),
                },
            );
            self.set_link(
                prev,
                i,
                Link {
                    next: id,
                    span: rank[0] - ri + 1,
                },
            );
        }
        for (i, &u) in update.iter().enumerate().take(self.level).skip(lvl) {
            let l = self.link(u, i);
            self.set_span(u, i, l.span + 1);
        }
        let back = if update[0] == HEAD { NIL } else { update[0] };
        self.set_back(id, back);
        let next = self.link(id, 0).next;
        if next == NIL {
            self.tail = id;
        } else {
            self.set_back(next, id);
        }
        id
    }

    /// Unlink node `id` (found through `update`) and free its position.
    fn list_delete(&mut self, id: u32, update: &[u32; MAX_LEVEL]) {
        for (i, &u) in update.iter().enumerate().take(self.level) {
            let ul = self.link(u, i);
            if ul.next == id {
                let nl = self.link(id, i);
                self.set_link(
                    u,
                    i,
                    Link {
                        next: nl.next,
                        span: ul.span + nl.span - 1,
                    },
                );
            } else {
                self.set_span(u, i, ul.span.saturating_sub(1));
            }
        }
        let next = self.link(id, 0).next;
        let back = self.back(id);
        if next == NIL {
            self.tail = back;
        } else {
            self.set_back(next, back);
        }
        while self.level > 1 && self.link(HEAD, self.level - 1).next == NIL {
            self.level -= 1;
        }
        self.release(id);
    }

    /// Remove the node holding (score, member) from the list.
    fn unlink(&mut self, score: f64, member: &[u8]) -> Option<u32> {
        let (update, _) = self.seek(|n| self.sorts_before(n, score, member));
        let id = self.link(update[0], 0).next;
        if id == NIL || self.score_of(id) != score || self.mem(self.node(id)) != member {
            return None;
        }
        self.list_delete(id, &update);
        Some(id)
    }

    /// Insert or update; true if the member is new.
    pub fn insert(&mut self, m: &[u8], score: f64) -> bool {
        if let Some(pos) = self.index.pos_of(m) {
            let id = self.index.at(pos).map_or(NIL, |(_, &id)| id);
            let old = self.score_of(id);
            if old != score {
                // Redis moves the node in place when the order does not change; reinserting
                // gives the same result.
                self.unlink(old, m);
                let nid = self.list_insert(pos as u32, score);
                if let Some((_, v)) = self.index.at_mut(pos) {
                    *v = nid;
                }
            }
            return false;
        }
        let pos = self.index.insert_new(m.into(), NIL);
        let id = self.list_insert(pos as u32, score);
        if let Some((_, v)) = self.index.at_mut(pos) {
            *v = id;
        }
        true
    }

    pub fn remove(&mut self, m: &[u8]) -> bool {
        let Some(&id) = self.index.get(m) else {
            return false;
        };
        // Unlinked first: the walk compares members, read from the index.
        let s = self.score_of(id);
        self.unlink(s, m);
        self.index.remove(m);
        true
    }

    fn first_id(&self) -> u32 {
        self.link(HEAD, 0).next
    }

    pub fn pop_min(&mut self) -> Option<(Box<[u8]>, f64)> {
        let id = self.first_id();
        self.pop_id(id)
    }
    pub fn pop_max(&mut self) -> Option<(Box<[u8]>, f64)> {
        self.pop_id(self.tail)
    }
    fn pop_id(&mut self, id: u32) -> Option<(Box<[u8]>, f64)> {
        if id == NIL {
            return None;
        }
        let (s, m): (f64, Box<[u8]>) = (self.score_of(id), self.mem(self.node(id)).into());
        self.remove(&m);
        Some((m, s))
    }

    /// 0-based rank of a member in ascending order.
    pub fn rank(&self, m: &[u8]) -> Option<usize> {
        let s = self.score(m)?;
        Some(self.count_before(|n| self.sorts_before(n, s, m)))
    }

    /// Node at 0-based rank.
    fn id_at(&self, rank: usize) -> u32 {
        if rank >= self.len() {
            return NIL;
        }
        let target = rank as u32 + 1;
        let mut x = HEAD;
        let mut r = 0u32;
        for i in (0..self.level).rev() {
            loop {
                let l = self.link(x, i);
                if l.next != NIL && r + l.span <= target {
                    r += l.span;
                    x = l.next;
                } else {
                    break;
                }
            }
            if r == target {
                return x;
            }
        }
        NIL
    }

    /// Elements with rank in `start..=end` (ascending ranks), walked forward or backward.
    pub fn range(&self, start: usize, end: usize, rev: bool) -> Iter<'_> {
        if start > end || start >= self.len() {
            return Iter::empty(self);
        }
        let end = end.min(self.len() - 1);
        let (first, n) = if rev {
            (self.id_at(self.len() - 1 - start), end - start + 1)
        } else {
            (self.id_at(start), end - start + 1)
        };
        Iter {
            z: self,
            cur: first,
            left: n,
            rev,
        }
    }

    /// Iterate over everything in order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            z: self,
            cur: self.first_id(),
            left: self.len(),
            rev: false,
        }
    }

    /// Ascending ranks [first, last) of the elements within a score range.
    pub fn score_span(&self, r: &ScoreRange) -> (usize, usize) {
        let a = self.count_before(|n| r.below(n.score));
        let b = self.count_before(|n| !r.above(n.score));
        (a, b.max(a))
    }
    /// Ascending ranks [first, last) of the elements within a lex range.
    pub fn lex_span(&self, r: &LexRange) -> (usize, usize) {
        let a = self.count_before(|n| r.below(self.mem(n)));
        let b = self.count_before(|n| !r.above(self.mem(n)));
        (a, b.max(a))
    }

    /// Remove ranks [first, last); returns how many went.
    pub fn remove_ranks(&mut self, first: usize, last: usize) -> usize {
        let victims: Vec<Box<[u8]>> = if first < last {
            self.range(first, last - 1, false)
                .map(|(m, _)| m.into())
                .collect()
        } else {
            Vec::new()
        };
        for m in &victims {
            self.remove(m);
        }
        victims.len()
    }

    /// A random member and its score.
    pub fn random(&self) -> Option<(&[u8], f64)> {
        let pos = self.index.random_pos()?;
        let (k, &id) = self.index.at(pos)?;
        Some((k, self.score_of(id)))
    }

    /// SCAN over the member dictionary (stable positions, see `Dict::scan`).
    pub fn scan(&self, cursor: usize, budget: usize, mut f: impl FnMut(&[u8], f64)) -> usize {
        self.index
            .scan(cursor, budget, |k, &id| f(k, self.score_of(id)))
    }

    /// The member dictionary (DEBUG HTSTATS-KEY).
    pub fn dict_stats(&self) -> crate::keyspace::dict::IndexStats {
        self.index.index_stats()
    }
    pub fn max_member_len(&self) -> usize {
        self.index.keys().map(|k| k.len()).max().unwrap_or(0)
    }
    pub fn heap_size(&self) -> usize {
        self.index
            .iter()
            .map(|(k, &id)| k.len() + 48 + (W_LINKS + 2 * self.level_of(id)) * 4)
            .sum()
    }
}

pub struct Iter<'a> {
    z: &'a SkipList,
    cur: u32,
    left: usize,
    rev: bool,
}

impl<'a> Iter<'a> {
    fn empty(z: &'a SkipList) -> Self {
        Iter {
            z,
            cur: NIL,
            left: 0,
            rev: false,
        }
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], f64);
    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 || self.cur == NIL {
            return None;
        }
        let (z, id) = (self.z, self.cur);
        self.left -= 1;
        self.cur = if self.rev {
            z.back(id)
        } else {
            z.link(id, 0).next
        };
        let n = z.node(id);
        Some((z.mem(n), n.score))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(z: &SkipList, model: &std::collections::BTreeSet<(i64, Vec<u8>)>) {
        assert_eq!(z.len(), model.len());
        let got: Vec<(Vec<u8>, f64)> = z.iter().map(|(m, s)| (m.to_vec(), s)).collect();
        let want: Vec<(Vec<u8>, f64)> = model.iter().map(|(s, m)| (m.clone(), *s as f64)).collect();
        assert_eq!(got, want);
        for (i, (_, m)) in model.iter().enumerate() {
            assert_eq!(z.rank(m), Some(i));
            assert_eq!(z.id_at(i), z.index.get(m).copied().unwrap());
        }
        let back: Vec<Vec<u8>> = z
            .range(0, usize::MAX, true)
            .map(|(m, _)| m.to_vec())
            .collect();
        let mut fwd: Vec<Vec<u8>> = want.into_iter().map(|(m, _)| m).collect();
        fwd.reverse();
        assert_eq!(back, fwd);
    }

    #[test]
    fn matches_a_btree_model_under_churn() {
        let mut rng = rand::thread_rng();
        let mut z = SkipList::new();
        let mut model = std::collections::BTreeSet::new();
        let mut scores = std::collections::HashMap::new();
        for step in 0..3000 {
            let m = format!("m{}", rng.gen_range(0..300)).into_bytes();
            if rng.gen_ratio(2, 3) {
                let s = rng.gen_range(-50..50i64);
                if let Some(old) = scores.insert(m.clone(), s) {
                    model.remove(&(old, m.clone()));
                }
                model.insert((s, m.clone()));
                z.insert(&m, s as f64);
            } else {
                let had = scores.remove(&m);
                if let Some(old) = had {
                    model.remove(&(old, m.clone()));
                }
                assert_eq!(z.remove(&m), had.is_some());
            }
            if step % 500 == 0 {
                check(&z, &model);
            }
        }
        check(&z, &model);
        let r = ScoreRange {
            min: -10.0,
            max: 10.0,
            min_ex: true,
            max_ex: false,
        };
        let (a, b) = z.score_span(&r);
        let n = model.iter().filter(|(s, _)| *s > -10 && *s <= 10).count();
        assert_eq!(b - a, n);
        let removed = z.remove_ranks(a, b);
        assert_eq!(removed, n);
        while z.pop_min().is_some() {}
        assert!(z.is_empty());
    }
}
