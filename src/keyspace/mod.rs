//! The keyspace: `databases` numbered dictionaries of keys to typed values with expiry.
//! Expiry is lazy (checked on every lookup) plus an incremental active cycle run from cron.
pub mod chunked;
pub mod clock;
pub mod dict;
pub mod entry;
pub mod key;
pub mod slots;
pub mod strval;
pub mod value;

pub use dict::{Dict, Key, Table};
pub use entry::Entry;
pub use strval::Str;
pub use value::{
    digest_hex, digest_of, xor_into, Container, List, Members, ValMut, ValRef, Value, NO_EXPIRE,
};

use crate::util::now_ms;
use std::time::Instant;

#[derive(Default)]
pub struct Db {
    pub dict: Table<Entry>,
    /// The positions of the keys with a TTL.
    pub expires: Expires,
    /// Where the active expiry cycle resumes (a position in `expires`).
    expire_cursor: usize,
    /// Keys active expiry has looked at, ever: its work, whatever the clock says.
    pub expire_checks: u64,
    pub avg_ttl: i64,
    /// Keys deleted by lazy expiry, drained after each write/command (notifications, WATCH).
    pub lazy_expired: Vec<Key>,
    /// The keys of each cluster hash slot: in cluster mode only (`enable_slot_index`).
    pub slots: Option<Box<slots::SlotIndex>>,
}

/// Outcome of a lookup that honours expiry.
impl Db {
    pub fn len(&self) -> usize {
        self.dict.len()
    }
    /// Number of keys with a TTL (INFO keyspace "expires=").
    pub fn volatile(&self) -> usize {
        self.expires.len()
    }
    pub fn is_empty(&self) -> bool {
        self.dict.is_empty()
    }

    /// Slot of a live key, counted as an access (the LRU clock or LFU counter that
    /// eviction and OBJECT IDLETIME/FREQ read); an expired key is deleted on the way (lazy
    /// expiry).
    #[inline]
    pub fn find(&mut self, key: &[u8]) -> Option<usize> {
        self.lookup(key, true)
    }
    /// `find` without counting an access: Redis's LOOKUP_NOTOUCH (EXISTS, TYPE, TTL,
    /// OBJECT, MEMORY USAGE).
    #[inline]
    pub fn peek_pos(&mut self, key: &[u8]) -> Option<usize> {
        self.lookup(key, false)
    }
    #[inline]
    fn lookup(&mut self, key: &[u8], touch: bool) -> Option<usize> {
        let pos = self.dict.pos_of(key)?;
        let e = self.dict.item_mut(pos)?;
        let exp = e.expire();
        if exp != NO_EXPIRE && exp <= clock::now() && !clock::replaying() {
            // A master deletes it; loading or a replica only hides it (see `clock`).
            if clock::deletes_expired() {
                if let Some(e) = self.dict.take(pos) {
                    self.expires.remove(pos);
                    if let Some(ix) = &mut self.slots {
                        ix.remove(e.key(), pos);
                    }
                    self.lazy_expired.push(e.key().into());
                }
            }
            return None;
        }
        if touch {
            // Stored only when it changes (the LRU clock ticks once a second): reads of a
            // hot key leave its cache line clean.
            let (old, new) = (e.lru(), crate::evict::accessed(e.lru()));
            if new != old {
                e.set_lru(new);
            }
        }
        Some(pos)
    }
    /// The entry of a live key, not counted as an access (see `peek_pos`).
    #[inline]
    /// The entry as stored, expired or not, with no side effect (DEBUG OBJECT, as Redis's
    /// direct dictionary lookup).
    pub fn raw(&self, key: &[u8]) -> Option<&Entry> {
        self.dict.item(self.dict.pos_of(key)?)
    }
    pub fn peek(&mut self, key: &[u8]) -> Option<&Entry> {
        let s = self.peek_pos(key)?;
        self.dict.item(s)
    }
    #[inline]
    pub fn get(&mut self, key: &[u8]) -> Option<&Entry> {
        let s = self.find(key)?;
        self.dict.item(s)
    }
    #[inline]
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let s = self.find(key)?;
        self.dict.item_mut(s)
    }
    /// The live value at `key` as a `T`: Ok(None) when absent, Err(()) when the key holds
    /// another type.
    #[inline]
    #[allow(clippy::result_unit_err)] // Err is WRONGTYPE: the caller replies it
    pub fn typed_mut<T: Container>(&mut self, key: &[u8]) -> Result<Option<&mut T>, ()> {
        match self.get_mut(key) {
            None => Ok(None),
            Some(e) => T::of_mut(e.val_mut()).map(Some).ok_or(()),
        }
    }
    /// `typed_mut` for reading (a lookup may still delete an expired key, hence `&mut`).
    #[inline]
    #[allow(clippy::result_unit_err)] // Err is WRONGTYPE: the caller replies it
    pub fn typed<T: Container>(&mut self, key: &[u8]) -> Result<Option<&T>, ()> {
        self.typed_mut(key).map(|o| o.map(|v| &*v))
    }
    /// The position of the live value at `key` if it is a `T` (for commands that read it,
    /// then write elsewhere, then come back): Ok(None) when absent, Err(()) on another type.
    #[inline]
    #[allow(clippy::result_unit_err)] // Err is WRONGTYPE: the caller replies it
    pub fn typed_pos<T: Container>(&mut self, key: &[u8]) -> Result<Option<usize>, ()> {
        match self.find(key) {
            None => Ok(None),
            Some(pos) => match self.at(pos) {
                Some(e) if T::of(e.val()).is_some() => Ok(Some(pos)),
                _ => Err(()),
            },
        }
    }
    /// The `T` at a position `typed_pos` returned.
    #[inline]
    pub fn at_as<T: Container>(&self, pos: usize) -> &T {
        self.at(pos)
            .and_then(|e| T::of(e.val()))
            .expect("position checked to hold this type")
    }
    #[inline]
    pub fn at_as_mut<T: Container>(&mut self, pos: usize) -> &mut T {
        self.at_mut(pos)
            .and_then(|e| T::of_mut(e.val_mut()))
            .expect("position checked to hold this type")
    }
    /// The entry at a position (from `find`), expired or not.
    #[inline]
    pub fn at(&self, pos: usize) -> Option<&Entry> {
        self.dict.item(pos)
    }
    #[inline]
    pub fn at_mut(&mut self, pos: usize) -> Option<&mut Entry> {
        self.dict.item_mut(pos)
    }
    /// EXISTS: not an access.
    pub fn exists(&mut self, key: &[u8]) -> bool {
        self.peek_pos(key).is_some()
    }
    /// Set a key to a value (a `Value`, or the bytes of a string a client sent, which are
    /// copied once, straight into the entry), replacing any old value. `keep_ttl` keeps the
    /// old expiry. Returns true when the key was created (the "new" keyspace event).
    #[inline]
    pub fn set(&mut self, key: &[u8], val: impl NewValue, expire: i64, keep_ttl: bool) -> bool {
        match self.find(key) {
            Some(pos) => {
                let e = self.dict.item_mut(pos).expect("position just found");
                let old_exp = e.expire();
                // `find` counted the access; the new value keeps the key's clock (and LFU
                // counter), as Redis's overwrite does.
                val.replace(e);
                if !keep_ttl {
                    e.set_expire(expire);
                    match (old_exp != NO_EXPIRE, expire != NO_EXPIRE) {
                        (true, false) => self.expires.remove(pos),
                        (false, true) => self.expires.add(pos),
                        _ => {}
                    }
                }
                false
            }
            None => {
                let pos = self.dict.add(val.create(key, expire));
                if expire != NO_EXPIRE {
                    self.expires.add(pos);
                }
                if let Some(ix) = &mut self.slots {
                    ix.add(key, pos);
                }
                true
            }
        }
    }
    /// Insert a key known to be absent (after `find` said so). Returns its position.
    pub fn insert_new(&mut self, key: &[u8], val: Value) -> usize {
        let pos = self.dict.add(Entry::new(key, val, NO_EXPIRE));
        if let Some(ix) = &mut self.slots {
            ix.add(key, pos);
        }
        pos
    }
    /// Insert a whole entry (value, key and expiry) whose key is known to be absent
    /// (RENAME, MOVE, COPY, RESTORE). Returns its position.
    pub fn insert_entry(&mut self, e: Entry) -> usize {
        let volatile = e.expire() != NO_EXPIRE;
        let pos = self.dict.add(e);
        if volatile {
            self.expires.add(pos);
        }
        if let Some(ix) = &mut self.slots {
            let key = self.dict.item(pos).expect("just added").key();
            ix.add(key, pos);
        }
        pos
    }
    /// The expiry of a live key: None if missing, Some(NO_EXPIRE) if persistent.
    pub fn expire_of(&mut self, key: &[u8]) -> Option<i64> {
        let s = self.peek_pos(key)?;
        self.dict.item(s).map(|e| e.expire())
    }
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let pos = self.dict.pos_of(key)?;
        self.remove_pos(pos)
    }
    pub fn remove_pos(&mut self, pos: usize) -> Option<Entry> {
        let e = self.dict.take(pos)?;
        if e.expire() != NO_EXPIRE {
            self.expires.remove(pos);
        }
        if let Some(ix) = &mut self.slots {
            ix.remove(e.key(), pos);
        }
        Some(e)
    }
    /// Set or clear the expiry of a live key (absolute unix ms, or NO_EXPIRE).
    pub fn set_expire(&mut self, pos: usize, at: i64) {
        if let Some(e) = self.dict.item_mut(pos) {
            match (e.expire() != NO_EXPIRE, at != NO_EXPIRE) {
                (true, false) => self.expires.remove(pos),
                (false, true) => self.expires.add(pos),
                _ => {}
            }
            e.set_expire(at);
        }
    }
    /// Order-independent digest of every key, value and expiry (DEBUG DIGEST); all zeros
    /// when empty.
    pub fn digest(&self) -> [u8; 20] {
        let mut d = [0u8; 20];
        for (_, e) in self.dict.items() {
            let exp = e.expire().to_be_bytes();
            xor_into(&mut d, &digest_of(&[e.key(), &e.val().digest(), &exp]));
        }
        d
    }
    pub fn clear(&mut self) {
        self.dict.clear();
        self.expires = Expires::default();
        self.expire_cursor = 0;
        if let Some(ix) = &mut self.slots {
            ix.clear();
        }
    }

    /// Keep the keys of each cluster hash slot (cluster mode), from now on and for the
    /// keys already here.
    pub fn enable_slot_index(&mut self) {
        let mut ix = Box::<slots::SlotIndex>::default();
        for (pos, e) in self.dict.items() {
            ix.add(e.key(), pos);
        }
        self.slots = Some(ix);
    }

    /// One run of active expiry, as Redis's cycle: look at keys with a TTL in batches of
    /// 20 (resuming where the last run stopped), deleting the expired ones, and go on while
    /// a batch finds more than 10% of them expired and `deadline` is not reached. So a
    /// server whose keys are not expiring does ~20 checks a tick, however many keys it
    /// holds. Returns (keys deleted, whether it stopped at the deadline with expired keys
    /// still turning up).
    pub fn active_expire(
        &mut self,
        deadline: Instant,
        expired_keys: &mut Vec<Key>,
    ) -> (usize, bool) {
        const BATCH: usize = 20;
        let now = now_ms();
        let mut deleted = 0;
        // i128: TTLs can be near i64::MAX (PEXPIREAT 9223372036854775807).
        let (mut ttl_sum, mut ttl_n) = (0i128, 0i128);
        let more = loop {
            let checks = BATCH.min(self.expires.len());
            if checks == 0 {
                break false;
            }
            let mut found = 0;
            for _ in 0..checks {
                if self.expire_cursor >= self.expires.len() {
                    self.expire_cursor = 0;
                }
                let Some(pos) = self.expires.at(self.expire_cursor) else {
                    break;
                };
                self.expire_checks += 1;
                let exp = self.dict.item(pos).map_or(NO_EXPIRE, |e| e.expire());
                if exp != NO_EXPIRE && exp <= now {
                    if let Some(e) = self.remove_pos(pos) {
                        expired_keys.push(e.key().into());
                    }
                    // The last position moved into this one: look at it next.
                    deleted += 1;
                    found += 1;
                } else {
                    debug_assert!(exp != NO_EXPIRE, "position {pos} listed as volatile");
                    ttl_sum += (exp - now) as i128;
                    ttl_n += 1;
                    self.expire_cursor += 1;
                }
            }
            if found * 10 <= checks {
                break false;
            }
            if Instant::now() >= deadline {
                break true;
            }
        };
        if ttl_n > 0 {
            let avg = ttl_sum / ttl_n;
            self.avg_ttl = if self.avg_ttl == 0 {
                avg as i64
            } else {
                ((self.avg_ttl as i128 * 49 + avg) / 50) as i64
            };
        }
        if self.expires.is_empty() {
            self.avg_ttl = 0;
        }
        (deleted, more)
    }
}

/// The positions of the keys with a TTL, as Redis's `expires` dict: active expiry and the
/// volatile-* eviction policies look at these instead of sampling the whole keyspace.
#[derive(Default)]
pub struct Expires {
    cells: Vec<u32>,
    /// Where each position sits in `positions` (removal is a swap with the last).
    pos: hashbrown::HashMap<u32, u32, foldhash::fast::RandomState>,
}

impl Expires {
    pub fn len(&self) -> usize {
        self.cells.len()
    }
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }
    /// The position at position `i`, if any.
    #[inline]
    pub fn at(&self, i: usize) -> Option<usize> {
        self.cells.get(i).map(|&s| s as usize)
    }
    /// A random volatile key's position.
    pub fn random(&self) -> Option<usize> {
        use rand::Rng;
        if self.cells.is_empty() {
            return None;
        }
        self.at(rand::thread_rng().gen_range(0..self.cells.len()))
    }
    fn add(&mut self, pos: usize) {
        let n = self.cells.len() as u32;
        if let hashbrown::hash_map::Entry::Vacant(v) = self.pos.entry(pos as u32) {
            v.insert(n);
            self.cells.push(pos as u32);
        }
    }
    fn remove(&mut self, pos: usize) {
        let Some(i) = self.pos.remove(&(pos as u32)) else {
            return;
        };
        self.cells.swap_remove(i as usize);
        if let Some(&moved) = self.cells.get(i as usize) {
            self.pos.insert(moved, i);
        }
    }
}

/// What `Db::set` stores: an owned `Value`, or a client's string bytes.
pub trait NewValue {
    fn replace(self, e: &mut Entry);
    fn create(self, key: &[u8], expire: i64) -> Entry;
}

impl NewValue for Value {
    fn replace(self, e: &mut Entry) {
        e.set_val(self)
    }
    fn create(self, key: &[u8], expire: i64) -> Entry {
        Entry::new(key, self, expire)
    }
}

impl NewValue for &[u8] {
    #[inline]
    fn replace(self, e: &mut Entry) {
        e.set_bytes(self)
    }
    #[inline]
    fn create(self, key: &[u8], expire: i64) -> Entry {
        Entry::from_bytes(key, self, expire)
    }
}

pub struct Keyspace {
    pub dbs: Vec<Db>,
}

impl Keyspace {
    pub fn new(n: usize) -> Self {
        Keyspace {
            dbs: (0..n).map(|_| Db::default()).collect(),
        }
    }

    /// A server's keyspace: `n` databases; a cluster node's one database is cut by hash
    /// slot (COUNTKEYSINSLOT, migration).
    pub fn for_server(n: usize, cluster: bool) -> Self {
        let mut ks = Keyspace::new(n);
        if cluster {
            ks.dbs[0].enable_slot_index();
        }
        ks
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// The keys with a TTL follow every change of expiry, and each active expiry run looks
    /// at them from where the last one stopped, wrapping around without losing a check.
    #[test]
    fn expires_tracks_ttls_and_active_expiry_wraps_around() {
        let mut db = Db::default();
        let far = now_ms() + 1_000_000;
        db.set(b"a", &b"1"[..], far, false);
        db.set(b"b", &b"2"[..], NO_EXPIRE, false);
        assert_eq!(db.volatile(), 1);
        let deadline = || Instant::now() + Duration::from_millis(50);
        let mut gone = Vec::new();
        assert_eq!(db.active_expire(deadline(), &mut gone), (0, false));
        // The only volatile key expires; the next run must find it at once.
        let pos = db.find(b"a").expect("live");
        db.set_expire(pos, now_ms() - 1);
        assert_eq!(db.active_expire(deadline(), &mut gone), (1, false));
        assert_eq!(gone.len(), 1);
        assert_eq!((db.len(), db.volatile()), (1, 0));
        // PERSIST, overwrite without keep_ttl, and removal all leave the list.
        db.set(b"c", &b"3"[..], far, false);
        let c = db.find(b"c").expect("live");
        db.set_expire(c, NO_EXPIRE);
        db.set(b"d", &b"4"[..], far, false);
        db.set(b"d", &b"5"[..], NO_EXPIRE, false);
        db.set(b"e", &b"6"[..], far, false);
        db.remove(b"e");
        assert_eq!(db.volatile(), 0);
    }

    /// Active expiry's work follows the keys with a TTL, not the keyspace: with many keys
    /// and a few far TTLs a run looks at one batch of 20 and stops (it used to walk every
    /// key, overrun its budget and run again at once: an idle core at 100%); keys that do
    /// expire are all deleted while batches keep finding them, and a run that reaches its
    /// deadline says so after one batch.
    #[test]
    fn active_expiry_work_follows_the_keys_with_a_ttl() {
        let mut db = Db::default();
        let far = now_ms() + 1_000_000;
        for i in 0..200_000 {
            db.set(format!("plain:{i}").as_bytes(), &b"v"[..], NO_EXPIRE, false);
        }
        for i in 0..100 {
            db.set(format!("far:{i}").as_bytes(), &b"v"[..], far, false);
        }
        let later = || Instant::now() + Duration::from_secs(60);
        let mut gone = Vec::new();
        for run in 1..=10 {
            assert_eq!(db.active_expire(later(), &mut gone), (0, false));
            assert_eq!(db.expire_checks, 20 * run, "one batch per run");
        }
        let past = now_ms() - 1;
        for i in 0..20_000 {
            db.set(format!("short:{i}").as_bytes(), &b"v"[..], past, false);
        }
        // A deadline already passed: one batch, and the backlog reported.
        let checks = db.expire_checks;
        let (deleted, more) = db.active_expire(Instant::now(), &mut gone);
        assert!(more && deleted > 2, "{deleted} {more}");
        assert_eq!(db.expire_checks - checks, 20);
        // Enough time: every expired key goes, each looked at about once.
        let checks = db.expire_checks;
        let mut total = deleted;
        while db.volatile() > 100 {
            let (deleted, more) = db.active_expire(later(), &mut gone);
            assert!(!more);
            total += deleted;
        }
        assert_eq!((total, gone.len(), db.len()), (20_000, 20_000, 200_100));
        assert!(db.expire_checks - checks < 20_000 + 200 * 20);
    }

    /// A master deletes the expired key a lookup finds; a replica or a loading server
    /// only hides it (absent to the lookup, still stored, no expiry reported), until
    /// the master's DEL or the end of the load.
    #[test]
    fn only_a_master_deletes_the_expired_keys_it_finds() {
        let mut db = Db::default();
        db.set(b"gone", &b"1"[..], now_ms() - 10, false);
        clock::set_deletes_expired(false);
        assert!(db.find(b"gone").is_none(), "hidden");
        assert!(db.peek_pos(b"gone").is_none());
        assert_eq!(db.len(), 1, "but kept");
        assert!(db.lazy_expired.is_empty());
        clock::set_deletes_expired(true);
        assert!(db.find(b"gone").is_none());
        assert_eq!(db.len(), 0, "deleted");
        assert_eq!(db.lazy_expired.len(), 1);
    }

    /// The per-slot index agrees with the keyspace after inserts, overwrites, deletes,
    /// renames, lazy and active expiry, and a flush; standalone databases have none.
    #[test]
    fn the_slot_index_follows_every_insert_and_delete() {
        use super::slots::{key_slot, SLOTS};
        let check = |db: &Db| {
            let ix = db.slots.as_ref().expect("enabled");
            let mut want = vec![Vec::new(); SLOTS];
            for (pos, e) in db.dict.items() {
                want[key_slot(e.key()) as usize].push(pos);
            }
            for (slot, want) in want.iter_mut().enumerate() {
                let mut got: Vec<usize> = ix.positions(slot as u16).collect();
                got.sort_unstable();
                want.sort_unstable();
                assert_eq!(&got, want, "slot {slot}");
                assert_eq!(ix.count(slot as u16), want.len());
            }
            let nonempty: Vec<u16> = ix.nonempty_slots().collect();
            let expect: Vec<u16> = (0..SLOTS as u16).filter(|&s| ix.count(s) > 0).collect();
            assert_eq!(nonempty, expect);
            assert_eq!(ix.len(), db.len());
        };
        let mut db = Db::default();
        assert!(db.slots.is_none());
        db.set(b"early", &b"1"[..], NO_EXPIRE, false);
        db.set(b"{tag}early", &b"1"[..], NO_EXPIRE, false);
        db.enable_slot_index();
        check(&db);
        let mut seed = 7u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as usize
        };
        let past = now_ms() - 1;
        for round in 0..20_000 {
            let k = format!("{{t{}}}k{}", next() % 50, next() % 3000);
            match next() % 6 {
                0 | 1 => {
                    db.set(k.as_bytes(), &b"v"[..], NO_EXPIRE, false);
                }
                // Already expired: the next lookup deletes it.
                2 => {
                    db.set(k.as_bytes(), &b"v"[..], past, false);
                }
                3 => {
                    db.remove(k.as_bytes());
                }
                4 => {
                    if let Some(pos) = db.find(k.as_bytes()) {
                        let e = db.remove_pos(pos).unwrap().rekey(b"renamed");
                        db.remove(b"renamed");
                        db.insert_entry(e);
                    }
                }
                _ => {
                    let mut gone = Vec::new();
                    db.active_expire(Instant::now() + Duration::from_millis(5), &mut gone);
                }
            }
            if round % 5000 == 4999 {
                check(&db);
            }
        }
        db.clear();
        check(&db);
        assert!(db.slots.as_ref().unwrap().is_empty());
    }
}
