//! Sorted set: member -> score dictionary plus an ordered index by (score, member).
use crate::keyspace::Dict;
use std::collections::BTreeSet;

/// A score with the total order Redis uses (no NaN is ever stored).
#[derive(Clone, Copy, PartialEq, Debug)]
pub struct Score(pub f64);
impl PartialOrd for Score {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Eq for Score {}
impl Ord for Score {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.0
            .partial_cmp(&o.0)
            .unwrap_or(std::cmp::Ordering::Equal)
    }
}

#[derive(Default)]
pub struct ZSet {
    scores: Dict<f64>,
    order: BTreeSet<(Score, Box<[u8]>)>,
}

impl ZSet {
    pub fn len(&self) -> usize {
        self.scores.len()
    }
    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }
    pub fn score(&self, m: &[u8]) -> Option<f64> {
        self.scores.get(m).copied()
    }
    /// Insert or update; true if the member is new.
    pub fn insert(&mut self, m: &[u8], score: f64) -> bool {
        match self.scores.insert(m, score) {
            Some(old) => {
                if old != score {
                    self.order.remove(&(Score(old), Box::from(m)));
                    self.order.insert((Score(score), m.into()));
                }
                false
            }
            None => {
                self.order.insert((Score(score), m.into()));
                true
            }
        }
    }
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self.scores.remove(m) {
            Some((k, s)) => {
                self.order.remove(&(Score(s), k));
                true
            }
            None => false,
        }
    }
    pub fn pop_min(&mut self) -> Option<(Box<[u8]>, f64)> {
        let (s, m) = self.order.pop_first()?;
        self.scores.remove(&m);
        Some((m, s.0))
    }
    pub fn pop_max(&mut self) -> Option<(Box<[u8]>, f64)> {
        let (s, m) = self.order.pop_last()?;
        self.scores.remove(&m);
        Some((m, s.0))
    }
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&[u8], f64)> {
        self.order.iter().map(|(s, m)| (&**m, s.0))
    }
    pub fn max_member_len(&self) -> usize {
        self.scores.keys().map(|k| k.len()).max().unwrap_or(0)
    }
    pub fn heap_size(&self) -> usize {
        self.scores.iter().map(|(k, _)| 2 * k.len() + 64).sum()
    }
}
