//! `Entry`: one key of the keyspace — its name, expiry, LRU/LFU clock and value — in a
//! single heap block, so the slab position holding it is one pointer.
//!
//! Why one block: with the key inline in a 64-byte position and a string's bytes in a block of
//! their own, 1M keys of 100-byte strings cost ~193 bytes each (Redis: ~208). Here that
//! key is an 8-byte position plus one 128-byte block (12-byte header, 16-byte key, the bytes)
//! and a lookup reads the key and the value from the same cache lines.
//!
//! Block layout (8-byte aligned):
//! ```text
//!  0  meta: u32  LRU clock or LFU data (low 24 bits) | flags (high 8: type, RAW, VOLATILE)
//!  4  klen: u32  key length, or BOXED (the key is a Box<[u8]> here instead of its bytes)
//!  8  vlen: u32  string length, or BOXED (the bytes are a Box<[u8]>); strings only
//!  .. expire: i64 (unaligned), only when VOLATILE (at 12 for strings, 8 for the others)
//!  .. key bytes
//!  .. payload: string bytes | i64 (Int)
//!  .. (8-aligned) a container itself (Hash, Set, ZSet: one word; List; Stream)
//! ```
//! The header of the other types has no `vlen` (8 bytes): a 13-byte key and a small sorted
//! set's word then fit one 32-byte block.
//! A container lives in the block, not in a box of its own: a small sorted set is this block
//! plus its packed bytes, one allocation fewer (16 bytes a key) than a pointer to a box.
//! Lengths that do not fit a u32 are boxed (a `Box::into_raw` slice pointer in place of the
//! bytes), so any size the protocol accepts is stored.
use super::value::{List, ValMut, ValRef, Value, NO_EXPIRE};
use super::Str;
use crate::types::{hash::Hash, set::Set, stream::Stream, zset::ZSet};
use std::alloc::{self, Layout};
use std::ptr::{self, NonNull};

pub struct Entry {
    p: NonNull<u8>,
}

const T_INT: u8 = 0;
const T_STR: u8 = 1;
const T_LIST: u8 = 2;
const T_HASH: u8 = 3;
const T_SET: u8 = 4;
const T_ZSET: u8 = 5;
const T_STREAM: u8 = 6;
const TYPE_BITS: u8 = 7;
/// A string changed in place (APPEND, SETRANGE...): OBJECT ENCODING "raw".
const RAW: u8 = 8;
/// An expiry follows the header.
const VOLATILE: u8 = 16;

/// Header bytes: strings have a `vlen` word, the other types do not.
#[inline]
fn head(flags: u8) -> usize {
    if flags & TYPE_BITS == T_STR {
        12
    } else {
        8
    }
}
const LRU_BITS: u32 = (1 << 24) - 1;
/// `klen`/`vlen` value meaning "stored as a Box<[u8]>".
const BOXED: u32 = u32::MAX;
/// Lengths from this on are boxed (small in unit tests, so the path is exercised).
#[cfg(not(test))]
const BOX_FROM: usize = BOXED as usize;
#[cfg(test)]
const BOX_FROM: usize = 200;
const FAT: usize = std::mem::size_of::<*mut [u8]>();

/// What goes after the key.
enum Payload<'a> {
    Int(i64),
    Bytes(&'a [u8]),
    /// A container's bytes (`size` of them) to move into the block, which owns the
    /// container from then on; the source is left as moved-from memory.
    Inline(*const u8, usize),
}

/// Where `len` bytes of a key or string go: inline, or as a box.
#[inline]
fn stored_len(len: usize) -> usize {
    if len >= BOX_FROM {
        FAT
    } else {
        len
    }
}

/// Write `b` at `dst` inline, or as a fresh Box<[u8]> when long. Returns the length word.
///
/// Safety: `dst` has room for `stored_len(b.len())` bytes.
unsafe fn put_bytes(dst: *mut u8, b: &[u8]) -> u32 {
    if b.len() >= BOX_FROM {
        ptr::write_unaligned(dst as *mut *mut [u8], Box::into_raw(Box::<[u8]>::from(b)));
        BOXED
    } else {
        ptr::copy_nonoverlapping(b.as_ptr(), dst, b.len());
        b.len() as u32
    }
}

/// The bytes `put_bytes` wrote.
///
/// Safety: `src` and `len` are what `put_bytes` wrote and returned, in a live block.
#[inline]
unsafe fn bytes_at<'a>(src: *const u8, len: u32) -> &'a [u8] {
    if len == BOXED {
        &*ptr::read_unaligned(src as *const *const [u8])
    } else {
        std::slice::from_raw_parts(src, len as usize)
    }
}

/// `bytes_at`, writable.
///
/// Safety: as `bytes_at`, and the caller holds the block uniquely.
#[inline]
unsafe fn bytes_at_mut<'a>(src: *mut u8, len: u32) -> &'a mut [u8] {
    if len == BOXED {
        &mut *ptr::read_unaligned(src as *const *mut [u8])
    } else {
        std::slice::from_raw_parts_mut(src, len as usize)
    }
}

/// Free what `put_bytes` boxed, if anything.
unsafe fn drop_bytes(src: *mut u8, len: u32) {
    if len == BOXED {
        drop(Box::from_raw(ptr::read_unaligned(src as *const *mut [u8])));
    }
}

fn layout(size: usize) -> Layout {
    Layout::from_size_align(size, 8).expect("entry block size")
}

impl Entry {
    /// A new key holding `val`; `expire` is absolute unix ms or NO_EXPIRE.
    pub fn new(key: &[u8], val: Value, expire: i64) -> Entry {
        let lru = crate::evict::lru_clock();
        match val {
            Value::Int(n) => Self::build(key, expire, lru, T_INT, Payload::Int(n)),
            Value::Str(s) => {
                let raw = if s.is_raw() { RAW } else { 0 };
                Self::build(key, expire, lru, T_STR | raw, Payload::Bytes(&s))
            }
            Value::List(l) => moved_in(l, |p| Self::build(key, expire, lru, T_LIST, p)),
            Value::Hash(h) => moved_in(h, |p| Self::build(key, expire, lru, T_HASH, p)),
            Value::Set(s) => moved_in(s, |p| Self::build(key, expire, lru, T_SET, p)),
            Value::ZSet(z) => moved_in(z, |p| Self::build(key, expire, lru, T_ZSET, p)),
            Value::Stream(s) => moved_in(s, |p| Self::build(key, expire, lru, T_STREAM, p)),
        }
    }
    /// A new string key from the bytes a client sent: integer-encoded when they round-trip
    /// (as `Value::from_bytes`), else copied once, straight into the block.
    #[inline]
    pub fn from_bytes(key: &[u8], b: &[u8], expire: i64) -> Entry {
        let lru = crate::evict::lru_clock();
        let (tag, payload) = str_payload(b);
        Self::build(key, expire, lru, tag, payload)
    }

    fn build(key: &[u8], expire: i64, lru: u32, flags: u8, payload: Payload) -> Entry {
        let volatile = expire != NO_EXPIRE;
        let flags = flags | if volatile { VOLATILE } else { 0 };
        let kend = head(flags) + if volatile { 8 } else { 0 } + stored_len(key.len());
        let size = match payload {
            Payload::Int(_) => kend + 8,
            Payload::Bytes(b) => kend + stored_len(b.len()),
            Payload::Inline(_, n) => align8(kend) + n,
        };
        let lay = layout(size);
        // SAFETY: the size is non-zero (the header); every byte of the header and of the parts
        // after it is written below before the block is read.
        unsafe {
            let p = alloc::alloc(lay);
            let Some(p) = NonNull::new(p) else {
                alloc::handle_alloc_error(lay)
            };
            let b = p.as_ptr();
            ptr::write(b as *mut u32, (lru & LRU_BITS) | (flags as u32) << 24);
            let mut at = b.add(head(flags));
            if volatile {
                ptr::write_unaligned(at as *mut i64, expire);
                at = at.add(8);
            }
            ptr::write(b.add(4) as *mut u32, put_bytes(at, key));
            at = at.add(stored_len(key.len()));
            let vlen = match payload {
                Payload::Int(n) => {
                    ptr::write_unaligned(at as *mut i64, n);
                    0
                }
                Payload::Inline(src, n) => {
                    let dst = b.add(align8(at.offset_from(b) as usize));
                    ptr::copy_nonoverlapping(src, dst, n);
                    0
                }
                Payload::Bytes(s) => put_bytes(at, s),
            };
            if flags & TYPE_BITS == T_STR {
                ptr::write(b.add(8) as *mut u32, vlen);
            }
            Entry { p }
        }
    }

    #[inline]
    fn meta(&self) -> u32 {
        // SAFETY: a live block starts with its aligned header.
        unsafe { ptr::read(self.p.as_ptr() as *const u32) }
    }
    #[inline]
    fn flags(&self) -> u8 {
        (self.meta() >> 24) as u8
    }
    #[inline]
    fn klen_word(&self) -> u32 {
        // SAFETY: the header's second word (aligned) is the key length.
        unsafe { ptr::read(self.p.as_ptr().add(4) as *const u32) }
    }
    #[inline]
    fn vlen_word(&self) -> u32 {
        // SAFETY: the header's third word (aligned) is the value length.
        unsafe { ptr::read(self.p.as_ptr().add(8) as *const u32) }
    }
    #[inline]
    fn key_offset(&self) -> usize {
        head(self.flags()) + if self.flags() & VOLATILE != 0 { 8 } else { 0 }
    }
    #[inline]
    fn payload_offset(&self) -> usize {
        let k = self.klen_word();
        self.key_offset() + if k == BOXED { FAT } else { k as usize }
    }
    fn size(&self) -> usize {
        let tag = self.flags() & TYPE_BITS;
        match tag {
            T_STR if self.vlen_word() == BOXED => self.payload_offset() + FAT,
            T_STR => self.payload_offset() + self.vlen_word() as usize,
            T_INT => self.payload_offset() + 8,
            _ => align8(self.payload_offset()) + container_size(tag),
        }
    }
    /// Where a container lives in the block (8-aligned, after the key).
    #[inline]
    fn word(&self) -> *mut u8 {
        // SAFETY: `build` placed the container at this offset, inside the block.
        unsafe { self.p.as_ptr().add(align8(self.payload_offset())) }
    }

    #[inline]
    pub fn key(&self) -> &[u8] {
        // SAFETY: klen describes the key written at key_offset by `build`.
        unsafe { bytes_at(self.p.as_ptr().add(self.key_offset()), self.klen_word()) }
    }
    /// Absolute unix ms, or NO_EXPIRE.
    #[inline]
    pub fn expire(&self) -> i64 {
        if self.flags() & VOLATILE == 0 {
            return NO_EXPIRE;
        }
        // SAFETY: VOLATILE blocks hold the expiry right after the header.
        unsafe { ptr::read_unaligned(self.p.as_ptr().add(head(self.flags())) as *const i64) }
    }
    /// Set or clear the expiry. Adding or removing one rebuilds the block (8 bytes more or
    /// less); changing one is a write.
    /// Only `Db` calls this: it keeps the count of volatile keys.
    pub(super) fn set_expire(&mut self, at: i64) {
        let had = self.flags() & VOLATILE != 0;
        if had && at != NO_EXPIRE {
            // SAFETY: the block has the expiry word (VOLATILE), written over in place.
            unsafe {
                ptr::write_unaligned(self.p.as_ptr().add(head(self.flags())) as *mut i64, at)
            };
        } else if had || at != NO_EXPIRE {
            *self = self.remade(None, at);
        }
    }
    /// LRU clock (seconds, 24 bits like Redis) or, under an LFU policy, the LFU counter
    /// and decay time packed as Redis does (16 bits minutes, 8 bits counter).
    #[inline]
    pub fn lru(&self) -> u32 {
        self.meta() & LRU_BITS
    }
    #[inline]
    pub fn set_lru(&mut self, lru: u32) {
        let meta = (self.meta() & !LRU_BITS) | (lru & LRU_BITS);
        // SAFETY: the aligned header word of a live block we own mutably.
        unsafe { ptr::write(self.p.as_ptr() as *mut u32, meta) };
    }

    /// The value, to read.
    #[inline]
    pub fn val(&self) -> ValRef<'_> {
        let off = self.payload_offset();
        // SAFETY: the tag says what `build` wrote at the payload offset; container
        // pointers come from Box::into_raw of the matching type and live as long as
        // the block.
        unsafe {
            match self.flags() & TYPE_BITS {
                T_STR => ValRef::Str(bytes_at(self.p.as_ptr().add(off), self.vlen_word())),
                T_INT => ValRef::Int(ptr::read_unaligned(self.p.as_ptr().add(off) as *const i64)),
                T_LIST => ValRef::List(&*(self.word() as *const List)),
                T_HASH => ValRef::Hash(&*(self.word() as *const Hash)),
                T_SET => ValRef::Set(&*(self.word() as *const Set)),
                T_ZSET => ValRef::ZSet(&*(self.word() as *const ZSet)),
                _ => ValRef::Stream(&*(self.word() as *const Stream)),
            }
        }
    }
    /// The value, to change a container in place. Strings and integers are read-only
    /// here: `set_val`, `set_bytes` and `modify_str` replace them.
    #[inline]
    pub fn val_mut(&mut self) -> ValMut<'_> {
        // SAFETY: as in `val`; `&mut self` makes the container borrow unique.
        unsafe {
            match self.flags() & TYPE_BITS {
                T_LIST => ValMut::List(&mut *(self.word() as *mut List)),
                T_HASH => ValMut::Hash(&mut *(self.word() as *mut Hash)),
                T_SET => ValMut::Set(&mut *(self.word() as *mut Set)),
                T_ZSET => ValMut::ZSet(&mut *(self.word() as *mut ZSet)),
                T_STREAM => ValMut::Stream(&mut *(self.word() as *mut Stream)),
                _ => ValMut::String,
            }
        }
    }
    /// A string changed in place (OBJECT ENCODING "raw" whatever its length).
    pub fn is_raw(&self) -> bool {
        self.flags() & RAW != 0
    }

    /// Replace the value, keeping key, expiry and clock.
    pub fn set_val(&mut self, val: Value) {
        *self = Entry::new(self.key(), val, self.expire()).with_lru(self.lru());
    }
    /// Replace the value with a client's string (integer-encoded when it round-trips).
    /// A string of the same stored size is overwritten in place: no allocation.
    pub fn set_bytes(&mut self, b: &[u8]) {
        let (tag, payload) = str_payload(b);
        let flags = self.flags();
        if flags & TYPE_BITS == tag && flags & RAW == 0 {
            let off = self.payload_offset();
            // SAFETY: the payload offset lies inside the block.
            let dst = unsafe { self.p.as_ptr().add(off) };
            match payload {
                // SAFETY: an Int block has its 8-byte word at the payload offset.
                Payload::Int(n) => return unsafe { ptr::write_unaligned(dst as *mut i64, n) },
                Payload::Bytes(s) if self.vlen_word() as usize == s.len() && s.len() < BOX_FROM => {
                    // SAFETY: an inline string of the same length: exactly its bytes are
                    // overwritten, and `s` (a client's buffer) cannot overlap the block.
                    return unsafe { ptr::copy_nonoverlapping(s.as_ptr(), dst, s.len()) };
                }
                _ => {}
            }
        }
        let (expire, lru) = (self.expire(), self.lru());
        *self = Self::build(self.key(), expire, lru, tag, payload);
    }
    /// Replace the value with an integer (INCR...): a write in place when it is one.
    #[inline]
    pub fn set_int(&mut self, n: i64) {
        if self.flags() & TYPE_BITS == T_INT {
            let off = self.payload_offset();
            // SAFETY: an Int block has its 8-byte word at the payload offset.
            unsafe { ptr::write_unaligned(self.p.as_ptr().add(off) as *mut i64, n) };
        } else {
            self.set_val(Value::Int(n));
        }
    }
    /// Change a string (or integer) value as bytes in a `Vec`; marks it "raw".
    pub fn modify_str<R>(&mut self, f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
        let mut tmp = itoa::Buffer::new();
        let mut v = self.val().str_bytes(&mut tmp).unwrap_or_default().to_vec();
        let r = f(&mut v);
        match self.str_mut() {
            // Same length (a sketch's registers, bits): written back in place.
            Some(b) if b.len() == v.len() => b.copy_from_slice(&v),
            _ => self.set_val(Value::Str(Str::raw(v))),
        }
        r
    }
    /// The bytes of a string value, to change in place (an integer becomes its decimal
    /// form first); marks it "raw". None for other types.
    pub fn str_mut(&mut self) -> Option<&mut [u8]> {
        match self.flags() & TYPE_BITS {
            T_INT => {
                let mut tmp = itoa::Buffer::new();
                let ValRef::Int(n) = self.val() else {
                    unreachable!("tagged int")
                };
                let (expire, lru) = (self.expire(), self.lru());
                let digits = tmp.format(n).as_bytes();
                *self = Self::build(self.key(), expire, lru, T_STR, Payload::Bytes(digits));
            }
            T_STR => {}
            _ => return None,
        }
        let meta = self.meta() | (RAW as u32) << 24;
        let (off, vlen) = (self.payload_offset(), self.vlen_word());
        // SAFETY: the payload is this string's bytes (inline or boxed), borrowed uniquely.
        unsafe {
            ptr::write(self.p.as_ptr() as *mut u32, meta);
            Some(bytes_at_mut(self.p.as_ptr().add(off), vlen))
        }
    }
    /// Grow (with zero bytes) or shrink a string value to `len` bytes, in place when the
    /// allocator can; marks it "raw". The bytes are the block's tail, so this is one
    /// `realloc`. No-op for other types.
    pub fn resize_str(&mut self, len: usize) {
        let Some(cur) = self.str_mut().map(|b| b.len()) else {
            return;
        };
        if cur == len {
            return;
        }
        if self.vlen_word() == BOXED || len >= BOX_FROM {
            return self.modify_str(|v| v.resize(len, 0));
        }
        let (old, off) = (self.size(), self.payload_offset());
        // SAFETY: the block was allocated with `layout(old)`; the new size keeps the header
        // and key, and vlen is updated to match before anything reads the block again.
        unsafe {
            let p = alloc::realloc(self.p.as_ptr(), layout(old), off + len);
            let Some(p) = NonNull::new(p) else {
                alloc::handle_alloc_error(layout(off + len))
            };
            if len > cur {
                ptr::write_bytes(p.as_ptr().add(off + cur), 0, len - cur);
            }
            ptr::write(p.as_ptr().add(8) as *mut u32, len as u32);
            self.p = p;
        }
    }
    fn with_lru(mut self, lru: u32) -> Entry {
        self.set_lru(lru);
        self
    }
    /// The same value under another key (RENAME, MOVE): containers move, strings copy.
    pub fn rekey(mut self, key: &[u8]) -> Entry {
        let expire = self.expire();
        self.remade(Some(key), expire)
    }
    /// A deep copy under `key` (COPY).
    pub fn copy_as(&self, key: &[u8]) -> Entry {
        let (expire, lru) = (self.expire(), crate::evict::lru_clock());
        let flags = self.flags() & (TYPE_BITS | RAW);
        match self.val() {
            ValRef::Int(n) => Self::build(key, expire, lru, flags, Payload::Int(n)),
            ValRef::Str(s) => Self::build(key, expire, lru, flags, Payload::Bytes(s)),
            v => Entry::new(key, v.to_value(), expire),
        }
    }
    /// OBJECT ENCODING of a string: "int", "embstr" for a short value made whole, "raw".
    pub fn str_encoding(&self) -> &'static str {
        match self.val() {
            ValRef::Int(_) => "int",
            ValRef::Str(s) if !self.is_raw() && s.len() <= super::strval::EMBSTR_MAX => "embstr",
            _ => "raw",
        }
    }
    /// The value, taking ownership of a container; the block is freed.
    pub fn into_value(mut self) -> Value {
        let v = match self.val() {
            ValRef::Int(n) => Value::Int(n),
            ValRef::Str(s) => {
                let s = if self.is_raw() {
                    Str::raw(s.to_vec())
                } else {
                    Str::new(s)
                };
                Value::Str(s)
            }
            _ => {
                let w = self.word();
                // SAFETY: the block holds a container of the tagged type at `w`, moved
                // out here; the block disowns it below so Drop does not drop it again.
                let v = unsafe {
                    match self.flags() & TYPE_BITS {
                        T_LIST => Value::List(Box::new(ptr::read(w as *const List))),
                        T_HASH => Value::Hash(Box::new(ptr::read(w as *const Hash))),
                        T_SET => Value::Set(Box::new(ptr::read(w as *const Set))),
                        T_ZSET => Value::ZSet(Box::new(ptr::read(w as *const ZSet))),
                        _ => Value::Stream(Box::new(ptr::read(w as *const Stream))),
                    }
                };
                self.disown();
                v
            }
        };
        drop(self);
        v
    }
    /// Bytes of the block and of any boxed key or string (MEMORY USAGE).
    pub fn block_size(&self) -> usize {
        let boxed_key = if self.klen_word() == BOXED {
            self.key().len()
        } else {
            0
        };
        let boxed_val = match self.val() {
            ValRef::Str(s) if self.vlen_word() == BOXED => s.len(),
            _ => 0,
        };
        self.size() + boxed_key + boxed_val
    }
    /// A new block with this value under `key` (None: the same key) and `expire`; a
    /// container's ownership moves to it, leaving this block an integer to be dropped.
    fn remade(&mut self, key: Option<&[u8]>, expire: i64) -> Entry {
        let flags = self.flags() & (TYPE_BITS | RAW);
        let payload = match self.val() {
            ValRef::Int(n) => Payload::Int(n),
            ValRef::Str(s) => Payload::Bytes(s),
            _ => Payload::Inline(self.word(), container_size(flags & TYPE_BITS)),
        };
        let new = Self::build(
            key.unwrap_or(self.key()),
            expire,
            self.lru(),
            flags,
            payload,
        );
        self.disown();
        new
    }
    /// Forget a container (now owned elsewhere): the block and a boxed key are freed here,
    /// and the entry is left pointing at `EMPTY`, which Drop skips.
    fn disown(&mut self) {
        if !matches!(self.flags() & TYPE_BITS, T_INT | T_STR) {
            let size = self.size();
            let b = self.p.as_ptr();
            // SAFETY: the block is `size` bytes; its key (boxed or not) and the block are
            // freed once, and the entry never reads them again.
            unsafe {
                drop_bytes(b.add(self.key_offset()), self.klen_word());
                alloc::dealloc(b, layout(size));
            }
            self.p = NonNull::from(&EMPTY).cast();
        }
    }
}

/// What a disowned entry points at: a string block of no key and no bytes, never freed.
static EMPTY: [u32; 3] = [(T_STR as u32) << 24, 0, 0];

#[inline]
fn align8(n: usize) -> usize {
    (n + 7) & !7
}

/// Bytes of the container a type tag stands for.
fn container_size(tag: u8) -> usize {
    match tag {
        T_LIST => std::mem::size_of::<List>(),
        T_HASH => std::mem::size_of::<Hash>(),
        T_SET => std::mem::size_of::<Set>(),
        T_ZSET => std::mem::size_of::<ZSet>(),
        _ => std::mem::size_of::<Stream>(),
    }
}

// Containers sit at 8-aligned offsets of 8-aligned blocks.
const _: () = assert!(
    std::mem::align_of::<List>() <= 8
        && std::mem::align_of::<Hash>() <= 8
        && std::mem::align_of::<Set>() <= 8
        && std::mem::align_of::<ZSet>() <= 8
        && std::mem::align_of::<Stream>() <= 8
);

/// Build a block around a boxed container: its bytes move into the block, the box's
/// memory is freed without dropping what moved.
fn moved_in<T>(b: Box<T>, build: impl FnOnce(Payload) -> Entry) -> Entry {
    let raw = Box::into_raw(b);
    let e = build(Payload::Inline(raw as *const u8, std::mem::size_of::<T>()));
    // SAFETY: `raw` is a live box whose contents the block now owns; freeing it as
    // MaybeUninit releases the memory without running T's destructor.
    unsafe { drop(Box::from_raw(raw as *mut std::mem::MaybeUninit<T>)) };
    e
}

/// A client string's tag and payload: an integer when the bytes round-trip.
#[inline]
fn str_payload(b: &[u8]) -> (u8, Payload<'_>) {
    if b.len() <= 20 {
        if let Some(n) = crate::util::parse_i64(b) {
            return (T_INT, Payload::Int(n));
        }
    }
    (T_STR, Payload::Bytes(b))
}

impl Drop for Entry {
    fn drop(&mut self) {
        if std::ptr::eq(self.p.as_ptr(), EMPTY.as_ptr() as *const u8) {
            return;
        }
        let flags = self.flags();
        let b = self.p.as_ptr();
        // SAFETY: what is freed is what `build` allocated or boxed, once.
        unsafe {
            match flags & TYPE_BITS {
                T_STR => drop_bytes(b.add(self.payload_offset()), self.vlen_word()),
                T_INT => {}
                T_LIST => ptr::drop_in_place(self.word() as *mut List),
                T_HASH => ptr::drop_in_place(self.word() as *mut Hash),
                T_SET => ptr::drop_in_place(self.word() as *mut Set),
                T_ZSET => ptr::drop_in_place(self.word() as *mut ZSet),
                _ => ptr::drop_in_place(self.word() as *mut Stream),
            }
            drop_bytes(b.add(self.key_offset()), self.klen_word());
            alloc::dealloc(b, layout(self.size()));
        }
    }
}

impl super::dict::Keyed for Entry {
    #[inline]
    fn key(&self) -> &[u8] {
        Entry::key(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Moving a container to a new block (expiry added or removed, RENAME) or out of it
    /// frees the old block's boxed key: the heap (jemalloc's counters for this thread) is
    /// back where it started.
    #[test]
    fn moving_a_container_frees_the_old_key() {
        let key = vec![b'k'; BOX_FROM + 10];
        let mk = || {
            let mut z = ZSet::new();
            z.insert(b"a", 1.0);
            Value::ZSet(Box::new(z))
        };
        // Warm up thread-local caches and counters.
        drop(Entry::new(&key, mk(), NO_EXPIRE).rekey(&key));
        let before = crate::evict::used_memory();
        for _ in 0..1000 {
            let mut e = Entry::new(&key, mk(), NO_EXPIRE);
            e.set_expire(5);
            e.set_expire(NO_EXPIRE);
            let e = e.rekey(&key);
            drop(e.into_value());
        }
        let after = crate::evict::used_memory();
        assert!(after <= before + 4096, "{before} -> {after}");
    }

    #[test]
    fn a_cell_is_one_pointer() {
        assert_eq!(std::mem::size_of::<Option<Entry>>(), 8);
    }

    #[test]
    fn a_16_byte_key_with_100_bytes_fills_one_128_byte_block() {
        let e = Entry::from_bytes(b"key:000000000001", &[b'v'; 100], NO_EXPIRE);
        assert_eq!(e.size(), 128);
        assert_eq!(e.key(), b"key:000000000001");
        assert!(matches!(e.val(), ValRef::Str(s) if s == [b'v'; 100]));
    }

    #[test]
    fn keys_values_and_expiry_round_trip_inline_and_boxed() {
        for klen in [0, 1, 16, BOX_FROM - 1, BOX_FROM, 300] {
            for vlen in [0, 3, 21, 100, BOX_FROM, 1000] {
                let key: Vec<u8> = (0..klen).map(|i| i as u8 ^ 0x5a).collect();
                let val: Vec<u8> = (0..vlen).map(|i| b'a' + (i % 26) as u8).collect();
                let mut e = Entry::from_bytes(&key, &val, NO_EXPIRE);
                assert_eq!(e.key(), &key[..]);
                assert_eq!(e.expire(), NO_EXPIRE);
                e.set_lru(0x123456);
                e.set_expire(1_700_000_000_000);
                assert_eq!(
                    (e.key(), e.expire(), e.lru()),
                    (&key[..], 1_700_000_000_000, 0x123456)
                );
                let mut tmp = itoa::Buffer::new();
                assert_eq!(e.val().str_bytes(&mut tmp), Some(&val[..]));
                e.set_expire(1_700_000_000_001);
                e.set_expire(NO_EXPIRE);
                assert_eq!(
                    (e.key(), e.expire(), e.lru()),
                    (&key[..], NO_EXPIRE, 0x123456)
                );
                assert_eq!(e.val().str_bytes(&mut tmp), Some(&val[..]));
                let e = e.rekey(b"other");
                assert_eq!(e.key(), b"other");
                assert_eq!(e.val().str_bytes(&mut tmp), Some(&val[..]));
            }
        }
    }

    /// OBJECT ENCODING of strings, as Redis 7.0: "int", "embstr" up to 44 bytes made whole,
    /// "raw" when longer or changed in place.
    #[test]
    fn string_encodings() {
        for (b, enc) in [
            (&b"12"[..], "int"),
            (b"007", "embstr"),
            (&[b'x'; 44][..], "embstr"),
            (&[b'x'; 45][..], "raw"),
        ] {
            assert_eq!(Entry::from_bytes(b"k", b, NO_EXPIRE).str_encoding(), enc);
        }
        let mut e = Entry::from_bytes(b"k", b"abc", NO_EXPIRE);
        e.resize_str(2);
        assert_eq!(e.str_encoding(), "raw", "changed in place");
        e.set_bytes(b"abc");
        assert_eq!(e.str_encoding(), "embstr", "a new value is made whole");
    }

    #[test]
    fn integers_strings_and_raw_strings() {
        let mut e = Entry::from_bytes(b"n", b"12345", NO_EXPIRE);
        assert!(matches!(e.val(), ValRef::Int(12345)));
        e.set_bytes(b"-7");
        assert!(matches!(e.val(), ValRef::Int(-7)));
        e.set_bytes(b"007");
        assert!(matches!(e.val(), ValRef::Str(b"007")));
        e.set_bytes(b"abc");
        assert!(matches!(e.val(), ValRef::Str(b"abc")));
        assert!(!e.is_raw());
        let n = e.modify_str(|v| {
            v.extend_from_slice(b"def");
            v.len()
        });
        assert_eq!(n, 6);
        assert!(e.is_raw() && matches!(e.val(), ValRef::Str(b"abcdef")));
        e.set_expire(5);
        assert!(e.is_raw(), "a new expiry keeps the encoding");
        e.set_bytes(b"xyz");
        assert!(!e.is_raw() && e.expire() == 5 && matches!(e.val(), ValRef::Str(b"xyz")));
    }

    #[test]
    fn containers_are_owned_changed_in_place_and_moved_out() {
        let list: List = [&b"a"[..]].into_iter().collect();
        let mut e = Entry::new(b"l", Value::List(Box::new(list)), 42);
        if let ValMut::List(l) = e.val_mut() {
            l.push_back(b"b");
        }
        let copy = e.copy_as(b"l2");
        assert!(matches!(copy.val(), ValRef::List(l) if l.len() == 2));
        e.set_expire(NO_EXPIRE);
        assert!(matches!(e.val(), ValRef::List(l) if l.len() == 2));
        let Value::List(l) = e.into_value() else {
            panic!("a list")
        };
        assert_eq!(l.len(), 2);
        drop(copy);
    }

    /// Every path over keys and strings on both sides of the boxing threshold, with and
    /// without an expiry, and every container type (run under valgrind when changed).
    #[test]
    fn every_path_every_shape() {
        let sval = |e: &Entry| {
            let mut t = itoa::Buffer::new();
            e.val().str_bytes(&mut t).expect("a string").to_vec()
        };
        let containers = || {
            let mut s = Set::default();
            s.insert(b"m", 512);
            let mut z = ZSet::new();
            z.insert(b"a", 1.0);
            vec![
                Value::List(Box::new([&b"x"[..]].into_iter().collect())),
                Value::Hash(Box::new(Hash::new())),
                Value::Set(Box::new(s)),
                Value::ZSet(Box::new(z)),
                Value::Stream(Box::default()),
            ]
        };
        for klen in [0usize, 5, BOX_FROM - 1, BOX_FROM, 300] {
            let k: Vec<u8> = (0..klen).map(|i| (i % 251) as u8).collect();
            for exp in [NO_EXPIRE, 12345] {
                for vl in [0usize, 1, 8, 20, 21, 50, BOX_FROM - 1, BOX_FROM, 500] {
                    let v: Vec<u8> = (0..vl).map(|i| b'a' + (i % 26) as u8).collect();
                    let mut e = Entry::from_bytes(&k, &v, exp);
                    e.set_lru(777);
                    assert_eq!(sval(&e), v);
                    for nl in [0, 3, BOX_FROM - 1, BOX_FROM, 250, 10, 0, BOX_FROM + 1] {
                        e.resize_str(nl);
                        assert_eq!(sval(&e).len(), nl);
                        assert_eq!((e.key(), e.expire(), e.lru()), (&k[..], exp, 777));
                        assert!(e.is_raw());
                        assert!(e.block_size() >= nl + k.len());
                    }
                    e.set_expire(NO_EXPIRE);
                    e.set_expire(99);
                    assert!(e.is_raw());
                    let c = e.copy_as(b"copy");
                    assert_eq!(sval(&c), sval(&e));
                    e.set_bytes(&v);
                    assert_eq!(sval(&e), v);
                    e.set_bytes(b"42");
                    e.set_int(43);
                    assert!(matches!(e.val(), ValRef::Int(43)));
                    e.resize_str(2);
                    assert_eq!(sval(&e), b"43");
                    e.set_int(-5);
                    let n = e.modify_str(|b| {
                        b.extend_from_slice(&[b'z'; 300]);
                        b.len()
                    });
                    assert_eq!(n, 302);
                    e.set_bytes(&[b'q'; 300]);
                    e.set_bytes(&[b'r'; 300]);
                    let e2 = e.rekey(&k);
                    assert!(matches!(e2.into_value(), Value::Str(s) if *s == [b'r'; 300]));
                    drop(c.into_value());
                    let mut i = Entry::from_bytes(&k, b"-9223372036854775808", exp);
                    let s = i.str_mut().expect("a string");
                    assert_eq!(s, b"-9223372036854775808");
                    s[0] = b'+';
                    assert_eq!(sval(&i), b"+9223372036854775808");
                }
                for c in containers() {
                    let mut e = Entry::new(&k, c, exp);
                    e.set_lru(5);
                    e.set_expire(7);
                    e.set_expire(NO_EXPIRE);
                    e.set_expire(8);
                    assert_eq!((e.key(), e.lru(), e.expire()), (&k[..], 5, 8));
                    let c2 = e.copy_as(&k);
                    let e = e.rekey(b"zz");
                    assert!(e.block_size() > 0);
                    drop(c2);
                    let mut e = Entry::new(&k, e.into_value(), exp);
                    assert!(e.str_mut().is_none());
                    e.resize_str(10);
                    e.set_bytes(b"abc");
                    assert_eq!(sval(&e), b"abc");
                    let mut e = Entry::new(&k, containers().remove(0), exp);
                    e.set_int(1);
                    let mut e = Entry::new(&k, containers().remove(1), exp);
                    e.set_val(containers().remove(2));
                    e.set_val(Value::Str(Str::new(&[b'x'; 300])));
                    e.set_val(containers().remove(4));
                }
            }
        }
    }

    #[test]
    fn block_size_counts_boxed_keys_and_values() {
        let e = Entry::from_bytes(&[b'k'; 300], &[b'v'; 1000], NO_EXPIRE);
        assert!(e.block_size() >= 1300, "block_size {}", e.block_size());
    }
}
