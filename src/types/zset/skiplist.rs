//! The large sorted set: a member -> node dictionary plus a skip list ordered by (score, member).
//!
//! Why a skip list: it is what Redis uses, and with a "span" on every forward link (how many
//! bottom-level nodes the link jumps over) one descent gives the rank of a node, the node at
//! a rank, or the number of elements before any monotonic bound, all in O(log n) expected.
//! Nodes live in an arena (`Vec<Node>`, links are u32 indices, freed positions are reused), so
//! there is no unsafe code and no per-link pointer; node 0 is the header.
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

/// A node names its member by the member's position in `index` (positions never move):
/// the member's bytes are stored once, in the dictionary.
#[derive(Clone)]
struct Node {
    pos: u32,
    back: u32,
    score: f64,
    links: Links,
}

/// A node's forward links, one per level. Three nodes in four have one level: that link is
/// kept in place (the enum is the 16 bytes of the boxed slice), with no allocation.
#[derive(Clone)]
enum Links {
    One(Link),
    Many(Box<[Link]>),
}

impl Links {
    fn new(levels: usize) -> Links {
        let nil = Link { next: NIL, span: 0 };
        if levels == 1 {
            Links::One(nil)
        } else {
            Links::Many(vec![nil; levels].into())
        }
    }
}

impl std::ops::Deref for Links {
    type Target = [Link];
    #[inline]
    fn deref(&self) -> &[Link] {
        match self {
            Links::One(l) => std::slice::from_ref(l),
            Links::Many(b) => b,
        }
    }
}

impl std::ops::DerefMut for Links {
    #[inline]
    fn deref_mut(&mut self) -> &mut [Link] {
        match self {
            Links::One(l) => std::slice::from_mut(l),
            Links::Many(b) => b,
        }
    }
}

const _: () = assert!(std::mem::size_of::<Links>() == 16);

/// Total order of (score, member); scores are never NaN.
#[inline]
fn cmp_key(s1: f64, m1: &[u8], s2: f64, m2: &[u8]) -> Ordering {
    s1.partial_cmp(&s2)
        .unwrap_or(Ordering::Equal)
        .then(m1.cmp(m2))
}

#[derive(Clone)]
pub struct SkipList {
    index: Dict<u32>,
    nodes: Vec<Node>,
    free: Vec<u32>,
    tail: u32,
    level: usize,
}

impl Default for SkipList {
    fn default() -> Self {
        SkipList {
            index: Dict::new(),
            nodes: vec![Node {
                pos: NIL,
                score: 0.0,
                back: NIL,
                links: Links::new(MAX_LEVEL),
            }],
            free: Vec::new(),
            tail: NIL,
            level: 1,
        }
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
        self.index.get(m).map(|&n| self.nodes[n as usize].score)
    }
    #[inline]
    fn node(&self, id: u32) -> &Node {
        &self.nodes[id as usize]
    }

    /// Descend keeping, per level, the last node for which `before` holds (the header if
    /// none) and its rank (1-based, header = 0). `before` must hold for a prefix of the order.
    fn seek(&self, before: impl Fn(&Node) -> bool) -> ([u32; MAX_LEVEL], [u32; MAX_LEVEL]) {
        let mut update = [HEAD; MAX_LEVEL];
        let mut rank = [0u32; MAX_LEVEL];
        let mut x = HEAD;
        let mut r = 0u32;
        for i in (0..self.level).rev() {
            loop {
                let l = self.node(x).links[i];
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
    fn count_before(&self, before: impl Fn(&Node) -> bool) -> usize {
        let (_, rank) = self.seek(before);
        rank[0] as usize
    }

    fn alloc(&mut self, n: Node) -> u32 {
        match self.free.pop() {
            Some(id) => {
                self.nodes[id as usize] = n;
                id
            }
            None => {
                self.nodes.push(n);
                (self.nodes.len() - 1) as u32
            }
        }
    }

    /// A node's member.
    #[inline]
    fn mem(&self, n: &Node) -> &[u8] {
        self.index.at(n.pos as usize).map_or(&[][..], |(k, _)| k)
    }

    /// Links a new node for the member at index position `pos`; returns its id.
    fn list_insert(&mut self, pos: u32, score: f64) -> u32 {
        let (update, rank) = {
            let member = self.index.at(pos as usize).map_or(&[][..], |(k, _)| &**k);
            self.seek(|n| cmp_key(n.score, self.mem(n), score, member).is_lt())
        };
        let lvl = random_level();
        if lvl > self.level {
            for i in self.level..lvl {
                self.nodes[HEAD as usize].links[i].span = self.len() as u32;
            }
            self.level = lvl;
        }
        let id = self.alloc(Node {
            pos,
            score,
            back: NIL,
            links: Links::new(lvl),
        });
        for i in 0..lvl {
            let prev = update[i] as usize;
            let pl = self.nodes[prev].links[i];
            self.nodes[id as usize].links[i] = Link {
                next: pl.next,
                span: pl.span - (rank[0] - rank[i]),
            };
            self.nodes[prev].links[i] = Link {
                next: id,
                span: rank[0] - rank[i] + 1,
            };
        }
        for (i, &u) in update.iter().enumerate().take(self.level).skip(lvl) {
            self.nodes[u as usize].links[i].span += 1;
        }
        let back = if update[0] == HEAD { NIL } else { update[0] };
        self.nodes[id as usize].back = back;
        let next = self.nodes[id as usize].links[0].next;
        if next == NIL {
            self.tail = id;
        } else {
            self.nodes[next as usize].back = id;
        }
        id
    }

    /// Unlink node `id` (found through `update`) and free its position.
    fn list_delete(&mut self, id: u32, update: &[u32; MAX_LEVEL]) {
        for (i, &u) in update.iter().enumerate().take(self.level) {
            let ul = self.nodes[u as usize].links[i];
            if ul.next == id {
                let nl = self.nodes[id as usize].links[i];
                self.nodes[u as usize].links[i] = Link {
                    next: nl.next,
                    span: ul.span + nl.span - 1,
                };
            } else {
                self.nodes[u as usize].links[i].span = ul.span.saturating_sub(1);
            }
        }
        let next = self.nodes[id as usize].links[0].next;
        let back = self.nodes[id as usize].back;
        if next == NIL {
            self.tail = back;
        } else {
            self.nodes[next as usize].back = back;
        }
        while self.level > 1 && self.nodes[HEAD as usize].links[self.level - 1].next == NIL {
            self.level -= 1;
        }
        let n = &mut self.nodes[id as usize];
        n.links = Links::Many(Box::default());
        n.pos = NIL;
        self.free.push(id);
    }

    /// Remove the node holding (score, member) from the list.
    fn unlink(&mut self, score: f64, member: &[u8]) -> Option<u32> {
        let (update, _) = self.seek(|n| cmp_key(n.score, self.mem(n), score, member).is_lt());
        let id = self.node(update[0]).links[0].next;
        if id == NIL || self.node(id).score != score || self.mem(self.node(id)) != member {
            return None;
        }
        self.list_delete(id, &update);
        Some(id)
    }

    /// Insert or update; true if the member is new.
    pub fn insert(&mut self, m: &[u8], score: f64) -> bool {
        if let Some(pos) = self.index.pos_of(m) {
            let id = self.index.at(pos).map_or(NIL, |(_, &id)| id);
            let old = self.node(id).score;
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
        let s = self.node(id).score;
        self.unlink(s, m);
        self.index.remove(m);
        true
    }

    fn first_id(&self) -> u32 {
        self.node(HEAD).links[0].next
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
        let (s, m): (f64, Box<[u8]>) = (self.node(id).score, self.mem(self.node(id)).into());
        self.remove(&m);
        Some((m, s))
    }

    /// 0-based rank of a member in ascending order.
    pub fn rank(&self, m: &[u8]) -> Option<usize> {
        let s = self.score(m)?;
        Some(self.count_before(|n| cmp_key(n.score, self.mem(n), s, m).is_lt()))
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
                let l = self.node(x).links[i];
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
        Some((k, self.node(id).score))
    }

    /// SCAN over the member dictionary (stable positions, see `Dict::scan`).
    pub fn scan(&self, cursor: usize, budget: usize, mut f: impl FnMut(&[u8], f64)) -> usize {
        self.index
            .scan(cursor, budget, |k, &id| f(k, self.nodes[id as usize].score))
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
            .map(|(k, &id)| k.len() + 56 + self.node(id).links.len() * 8)
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
        let n = self.z.node(self.cur);
        self.left -= 1;
        self.cur = if self.rev { n.back } else { n.links[0].next };
        Some((self.z.mem(n), n.score))
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
