//! The stream type: entries ordered by ID, consumer groups with pending-entry lists.
//!
//! Entries are packed in chunks (`super::stream_entries`). Beside them, `nodes` models how Redis packs
//! entries into macro nodes of at most `stream-node-max-entries` entries / `-max-bytes`
//! bytes: approximate trimming (`MAXLEN ~`, `MINID ~`) removes whole nodes only, and
//! clients observe the resulting lengths, so they must match Redis's.
use std::collections::{BTreeMap, BTreeSet, VecDeque};

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };
    pub const fn new(ms: u64, seq: u64) -> Self {
        StreamId { ms, seq }
    }
    pub fn is_zero(&self) -> bool {
        *self == Self::MIN
    }
    /// The next ID, or None past the maximum.
    pub fn incr(self) -> Option<StreamId> {
        if self.seq < u64::MAX {
            Some(StreamId::new(self.ms, self.seq + 1))
        } else if self.ms < u64::MAX {
            Some(StreamId::new(self.ms + 1, 0))
        } else {
            None
        }
    }
    /// The previous ID, or None below the minimum.
    pub fn decr(self) -> Option<StreamId> {
        if self.seq > 0 {
            Some(StreamId::new(self.ms, self.seq - 1))
        } else if self.ms > 0 {
            Some(StreamId::new(self.ms - 1, u64::MAX))
        } else {
            None
        }
    }
    /// Write "ms-seq" into `buf` and return it (no allocation).
    pub fn fmt<'a>(&self, buf: &'a mut [u8; 48]) -> &'a [u8] {
        let mut a = itoa::Buffer::new();
        let ms = a.format(self.ms).as_bytes();
        let n = ms.len();
        buf[..n].copy_from_slice(ms);
        buf[n] = b'-';
        let mut b = itoa::Buffer::new();
        let seq = b.format(self.seq).as_bytes();
        buf[n + 1..n + 1 + seq.len()].copy_from_slice(seq);
        &buf[..n + 1 + seq.len()]
    }
}

pub use super::stream_entries::{Entries, EntryRef};

/// A macro node as Redis would hold it: where it starts and what it contains.
#[derive(Clone, Debug)]
struct Node {
    first: StreamId,
    /// The last ID appended to this node (deleted or not).
    last: StreamId,
    live: u64,
    deleted: u64,
    bytes: usize,
}

/// A pending entry: delivered to `consumer`, not yet acknowledged.
#[derive(Clone, Debug)]
pub struct Nack {
    pub consumer: Box<[u8]>,
    pub delivery_time: i64,
    pub delivery_count: u64,
}

#[derive(Clone, Debug)]
pub struct Consumer {
    pub seen_time: i64,
    pub pel: BTreeSet<StreamId>,
}

/// `entries_read` value meaning "unknown".
pub const ENTRIES_READ_INVALID: i64 = -1;

#[derive(Clone, Debug)]
pub struct Group {
    pub last_id: StreamId,
    pub entries_read: i64,
    pub pel: BTreeMap<StreamId, Nack>,
    pub consumers: BTreeMap<Box<[u8]>, Consumer>,
}

impl Group {
    /// Look a consumer up, creating it when absent; refreshes its seen-time.
    pub fn consumer(&mut self, name: &[u8], now: i64) -> &mut Consumer {
        let c = self
            .consumers
            .entry(name.into())
            .or_insert_with(|| Consumer {
                seen_time: now,
                pel: BTreeSet::new(),
            });
        c.seen_time = now;
        c
    }
    /// Move (or create) the pending entry `id` to `consumer`.
    pub fn assign(&mut self, id: StreamId, consumer: &[u8], time: i64, count: u64) {
        if let Some(old) = self.pel.get(&id) {
            if let Some(c) = self.consumers.get_mut(&old.consumer) {
                c.pel.remove(&id);
            }
        }
        self.pel.insert(
            id,
            Nack {
                consumer: consumer.into(),
                delivery_time: time,
                delivery_count: count,
            },
        );
        if let Some(c) = self.consumers.get_mut(consumer) {
            c.pel.insert(id);
        }
    }
    /// Drop a pending entry from the group and its consumer. Returns whether it existed.
    pub fn ack(&mut self, id: StreamId) -> bool {
        match self.pel.remove(&id) {
            Some(n) => {
                if let Some(c) = self.consumers.get_mut(&n.consumer) {
                    c.pel.remove(&id);
                }
                true
            }
            None => false,
        }
    }
}

/// How XADD picks the new entry's ID.
#[derive(Clone, Copy, Debug)]
pub enum IdSpec {
    Auto,
    /// `<ms>-*`: the sequence is generated.
    Ms(u64),
    Exact(StreamId),
}

#[derive(Clone, Copy, Debug)]
pub enum Trim {
    MaxLen(u64),
    MinId(StreamId),
}

#[derive(Clone, Debug, Default)]
pub struct Stream {
    pub entries: Entries,
    nodes: VecDeque<Node>,
    pub last_id: StreamId,
    pub first_id: StreamId,
    pub max_deleted: StreamId,
    pub entries_added: u64,
    pub groups: BTreeMap<Box<[u8]>, Group>,
}

/// Redis's cap on one node's size when stream-node-max-bytes is 0 or larger.
const NODE_MAX_SIZE: usize = 1 << 30;

impl Stream {
    pub fn len(&self) -> usize {
        self.entries.len()
    }
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
    /// Number of macro nodes (XINFO radix-tree-keys).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }
    /// The ID of the newest live entry, or 0-0.
    pub fn last_live_id(&self) -> StreamId {
        self.entries.last().map(|(k, _)| k).unwrap_or_default()
    }

    /// The ID XADD would use, or None when it is not greater than the top item.
    pub fn next_id(&self, spec: IdSpec, now_ms: u64) -> Option<StreamId> {
        let last = self.last_id;
        let id = match spec {
            IdSpec::Exact(id) => id,
            IdSpec::Ms(ms) if ms == last.ms => {
                if last.seq == u64::MAX {
                    return None;
                }
                StreamId::new(ms, last.seq + 1)
            }
            IdSpec::Ms(ms) => StreamId::new(ms, 0),
            IdSpec::Auto if now_ms > last.ms => StreamId::new(now_ms, 0),
            IdSpec::Auto => last.incr()?,
        };
        (id > last).then_some(id)
    }

    /// Append an entry with an ID from `next_id`.
    pub fn append(&mut self, id: StreamId, fields: &[&[u8]], max_entries: u64, max_bytes: u64) {
        let size: usize = fields.iter().map(|f| f.len() + 2).sum::<usize>() + 8;
        let cap = if max_bytes == 0 || max_bytes as usize > NODE_MAX_SIZE {
            NODE_MAX_SIZE
        } else {
            max_bytes as usize
        };
        let new_node = match self.nodes.back() {
            None => true,
            Some(n) => {
                n.bytes + size >= cap || (max_entries > 0 && n.live + n.deleted >= max_entries)
            }
        };
        if new_node {
            self.nodes.push_back(Node {
                first: id,
                last: id,
                live: 0,
                deleted: 0,
                bytes: 0,
            });
        }
        let node = self.nodes.back_mut().expect("a tail node exists");
        node.last = id;
        node.live += 1;
        node.bytes += size;
        self.entries.push(id, fields);
        self.last_id = id;
        self.entries_added += 1;
        if self.entries.len() == 1 {
            self.first_id = id;
        }
    }

    fn node_index(&self, id: StreamId) -> Option<usize> {
        let i = self.nodes.partition_point(|n| n.first <= id);
        i.checked_sub(1)
    }

    /// XDEL one ID. Returns whether an entry was deleted.
    pub fn delete(&mut self, id: StreamId) -> bool {
        if !self.entries.remove(id) {
            return false;
        }
        if let Some(i) = self.node_index(id) {
            let n = &mut self.nodes[i];
            n.live -= 1;
            n.deleted += 1;
            if n.live == 0 {
                self.nodes.remove(i);
            }
        }
        if id > self.max_deleted {
            self.max_deleted = id;
        }
        if id == self.first_id {
            self.refresh_first_id();
        }
        true
    }

    fn refresh_first_id(&mut self) {
        self.first_id = self.entries.first().map(|(k, _)| k).unwrap_or_default();
    }

    /// Trim by MAXLEN or MINID, whole nodes only when `approx`, at most `limit` entries
    /// (0: no limit). Returns the number of entries deleted.
    pub fn trim(&mut self, how: Trim, approx: bool, limit: u64) -> u64 {
        let mut deleted = 0u64;
        while let Some(node) = self.nodes.front().cloned() {
            if let Trim::MaxLen(max) = how {
                if self.entries.len() as u64 <= max {
                    break;
                }
            }
            if limit > 0 && deleted + node.live > limit {
                break;
            }
            let whole = match how {
                Trim::MaxLen(max) => self.entries.len() as u64 - node.live >= max,
                Trim::MinId(min) => node.last < min,
            };
            if whole {
                self.nodes.pop_front();
                match self.nodes.front() {
                    Some(next) => {
                        self.entries.remove_before(next.first);
                    }
                    None => self.entries = Entries::default(),
                }
                deleted += node.live;
                continue;
            }
            if approx {
                break;
            }
            // Delete entries from inside the first node until the target is met.
            let mut n = 0;
            while let Some((id, _)) = self.entries.first() {
                let stop = match how {
                    Trim::MaxLen(max) => self.entries.len() as u64 <= max,
                    Trim::MinId(min) => id >= min,
                };
                if stop || id > node.last {
                    break;
                }
                self.entries.pop_first();
                n += 1;
            }
            let front = self.nodes.front_mut().expect("node still present");
            front.live -= n;
            front.deleted += n;
            deleted += n;
            break;
        }
        if deleted > 0 {
            self.refresh_first_id();
        }
        deleted
    }

    /// Whether any deleted entry may lie in [start, end] (Redis's tombstone test).
    pub fn has_tombstones(&self, start: StreamId, end: StreamId) -> bool {
        if self.entries.is_empty() || self.max_deleted.is_zero() {
            return false;
        }
        if self.first_id > self.max_deleted {
            return false;
        }
        start <= self.max_deleted && self.max_deleted <= end
    }

    /// How many entries were ever added up to `id`, when that can be known.
    pub fn entries_read_at(&self, id: StreamId) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if self.entries.is_empty() && id <= self.last_id {
            return Some(self.entries_added);
        }
        match id.cmp(&self.last_id) {
            std::cmp::Ordering::Equal => return Some(self.entries_added),
            std::cmp::Ordering::Greater => return None,
            _ => {}
        }
        if self.max_deleted.is_zero() || self.max_deleted < self.first_id {
            let len = self.entries.len() as u64;
            match id.cmp(&self.first_id) {
                std::cmp::Ordering::Less => return Some(self.entries_added - len),
                std::cmp::Ordering::Equal => return Some(self.entries_added - len + 1),
                _ => {}
            }
        }
        None
    }

    /// A group's lag: entries not yet delivered to it, when that can be known. Negative
    /// when XGROUP SETID ... ENTRIESREAD claimed more reads than entries were added (Redis
    /// 7.0.15 reports entries-added minus entries-read as it is).
    pub fn lag(&self, g: &Group) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if g.entries_read != ENTRIES_READ_INVALID && !self.has_tombstones(g.last_id, StreamId::MAX)
        {
            return Some((self.entries_added as i64).wrapping_sub(g.entries_read));
        }
        self.entries_read_at(g.last_id)
            .map(|r| (self.entries_added as i64).wrapping_sub(r as i64))
    }

    /// Advance a group's read position past `id` (delivery of a new entry).
    pub fn advance_group(&mut self, group: &[u8], id: StreamId) {
        let tomb = self.has_tombstones(id, StreamId::MAX);
        let estimate = self.entries_read_at(id);
        let added = self.entries_added;
        let Some(g) = self.groups.get_mut(group) else {
            return;
        };
        if id <= g.last_id {
            return;
        }
        if g.entries_read != ENTRIES_READ_INVALID && !tomb {
            g.entries_read += 1;
        } else if added > 0 {
            g.entries_read = estimate.map(|n| n as i64).unwrap_or(ENTRIES_READ_INVALID);
        }
        g.last_id = id;
    }

    pub fn heap_size(&self) -> usize {
        self.entries.heap_size() + self.groups.len() * 128
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> [&'static [u8]; 2] {
        [b"f", b"v"]
    }

    fn filled(n: u64, node_entries: u64) -> Stream {
        let mut s = Stream::default();
        for i in 1..=n {
            let id = s.next_id(IdSpec::Exact(StreamId::new(i, 0)), 0).unwrap();
            s.append(id, &fields(), node_entries, 4096);
        }
        s
    }

    #[test]
    fn approx_trim_removes_whole_nodes_only() {
        let mut s = filled(1000, 100);
        assert_eq!(s.trim(Trim::MaxLen(555), true, 0), 400);
        assert_eq!(s.len(), 600);
        assert_eq!(s.trim(Trim::MaxLen(555), false, 0), 45);
        assert_eq!(s.len(), 555);
        assert_eq!(s.first_id, StreamId::new(446, 0));
    }

    #[test]
    fn ids_must_grow() {
        let mut s = filled(3, 100);
        assert!(s.next_id(IdSpec::Exact(StreamId::new(3, 0)), 0).is_none());
        assert_eq!(s.next_id(IdSpec::Ms(3), 0).unwrap(), StreamId::new(3, 1));
        assert_eq!(s.next_id(IdSpec::Auto, 2).unwrap(), StreamId::new(3, 1));
        s.delete(StreamId::new(1, 0));
        assert_eq!(s.first_id, StreamId::new(2, 0));
        assert_eq!(s.max_deleted, StreamId::new(1, 0));
    }

    #[test]
    fn deleting_a_whole_node_drops_it() {
        let mut s = filled(20, 10);
        assert_eq!(s.node_count(), 2);
        for i in 1..=10 {
            assert!(s.delete(StreamId::new(i, 0)));
        }
        assert_eq!(s.node_count(), 1);
        assert_eq!(s.trim(Trim::MinId(StreamId::new(15, 0)), false, 0), 4);
        assert_eq!(s.len(), 6);
    }
}
