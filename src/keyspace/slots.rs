//! Cluster hash slots: which of the 16384 slots a key belongs to (CRC16 of the key, or of
//! its hash tag), and a per-database index of the keys of each slot.
//!
//! The index ([`SlotIndex`]) exists only in cluster mode (`Db::enable_slot_index`); in
//! standalone mode the keyspace pays one `Option` check per insert or delete. With it,
//! COUNTKEYSINSLOT is a counter read, GETKEYSINSLOT and slot migration visit the keys of
//! one slot, and the non-empty slots are found without scanning the keyspace. It records
//! keyspace positions, which are stable for a key's life, so SCAN cursors are untouched.
use hashbrown::HashSet;

/// Number of hash slots in a Redis cluster.
pub const SLOTS: usize = 16384;

/// CRC16/XMODEM (polynomial 0x1021, initial 0), the checksum Redis Cluster hashes keys by.
const fn crc16_table() -> [u16; 256] {
    let mut t = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = (i as u16) << 8;
        let mut b = 0;
        while b < 8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
            b += 1;
        }
        t[i] = crc;
        i += 1;
    }
    t
}

static CRC16: [u16; 256] = crc16_table();

pub fn crc16(data: &[u8]) -> u16 {
    data.iter().fold(0u16, |crc, &b| {
        (crc << 8) ^ CRC16[((crc >> 8) as u8 ^ b) as usize]
    })
}

/// The hash slot of `key`: of the part between the first `{` and the next `}` when that
/// part is not empty (a hash tag, so related keys share a slot), else of the whole key.
pub fn key_slot(key: &[u8]) -> u16 {
    let tagged = key.iter().position(|&b| b == b'{').and_then(|open| {
        let rest = &key[open + 1..];
        let close = rest.iter().position(|&b| b == b'}')?;
        (close > 0).then(|| &rest[..close])
    });
    crc16(tagged.unwrap_or(key)) & (SLOTS as u16 - 1)
}

/// The keys of each hash slot, by keyspace position, and which slots hold any.
pub struct SlotIndex {
    members: Vec<HashSet<u32>>,
    /// One bit per slot: set when the slot holds a key.
    nonempty: Box<[u64; SLOTS / 64]>,
    len: usize,
}

impl Default for SlotIndex {
    fn default() -> Self {
        SlotIndex {
            members: (0..SLOTS).map(|_| HashSet::new()).collect(),
            nonempty: Box::new([0; SLOTS / 64]),
            len: 0,
        }
    }
}

impl SlotIndex {
    pub fn add(&mut self, key: &[u8], pos: usize) {
        let slot = key_slot(key) as usize;
        if self.members[slot].insert(pos as u32) {
            self.len += 1;
            self.nonempty[slot / 64] |= 1 << (slot % 64);
        }
    }
    pub fn remove(&mut self, key: &[u8], pos: usize) {
        let slot = key_slot(key) as usize;
        let set = &mut self.members[slot];
        if set.remove(&(pos as u32)) {
            self.len -= 1;
            if set.is_empty() {
                // Give the memory of a slot that emptied back (a migrated slot).
                *set = HashSet::new();
                self.nonempty[slot / 64] &= !(1 << (slot % 64));
            }
        }
    }
    pub fn clear(&mut self) {
        *self = SlotIndex::default();
    }
    /// Keys indexed in all slots.
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// CLUSTER COUNTKEYSINSLOT.
    pub fn count(&self, slot: u16) -> usize {
        self.members.get(slot as usize).map_or(0, |s| s.len())
    }
    /// The positions of the keys of `slot` (CLUSTER GETKEYSINSLOT, slot migration).
    pub fn positions(&self, slot: u16) -> impl Iterator<Item = usize> + '_ {
        self.members
            .get(slot as usize)
            .into_iter()
            .flat_map(|s| s.iter().map(|&p| p as usize))
    }
    /// The slots holding keys, in order.
    pub fn nonempty_slots(&self) -> impl Iterator<Item = u16> + '_ {
        self.nonempty.iter().enumerate().flat_map(|(w, &bits)| {
            (0..64)
                .filter(move |b| bits & (1u64 << b) != 0)
                .map(move |b| (w * 64 + b) as u16)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_redis_cluster_slots() {
        // Redis's CLUSTER KEYSLOT answers (and the CRC16/XMODEM check value).
        assert_eq!(crc16(b"123456789"), 0x31c3);
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"bar"), 5061);
        assert_eq!(key_slot(b"somekey"), 11058);
        assert_eq!(key_slot(b""), 0);
        // Hash tags: the first {...} with something inside.
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(key_slot(b"foo{}{bar}"), key_slot(b"foo{}{bar}"));
        assert_ne!(
            key_slot(b"foo{}{bar}"),
            key_slot(b"bar"),
            "empty first tag: whole key"
        );
        assert_eq!(key_slot(b"foo{{bar}}zap"), key_slot(b"{bar"));
        assert_eq!(key_slot(b"foo{bar}{zap}"), key_slot(b"bar"));
    }
}
