//! One-word containers: a compact encoding's bytes behind a thin pointer, or a boxed
//! large form, in a single tagged word.
//!
//! A `Box<[u8]>` is two words and an enum of it and a `Box<Big>` is two words too; here
//! either is one: the pointer's low bit says which (1: packed bytes, 0: the box). The
//! key's block (see `keyspace::entry`) then holds an 8-byte container: a 13-byte key and
//! its small sorted set's header fit a 32-byte block instead of a 48-byte one.
//!
//! `ThinBytes` keeps its length and capacity in front of the bytes (`[len][cap][bytes]`,
//! one allocation of jemalloc's size class for its length: the room the allocator hands
//! out anyway). A resize within that room is a write of the length, not a `realloc`: an
//! LPUSH + RPOP pair on a small list allocates nothing, and an update that shrinks then
//! regrows a pair (ZADD of a new score) does not move the bytes twice. The room is given
//! back when the bytes fall to half of it. The empty buffer points at a static header, so
//! an empty container allocates nothing.
use std::alloc::{self, Layout};
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::ptr::{self, NonNull};

/// The most bytes a compact form holds: past this it takes its large form, as Redis's
/// listpacks do past LISTPACK_MAX_SAFETY_SIZE (whatever the `*-max-listpack-*` limits say:
/// a user may raise them to gigabytes). Small in unit tests, so the path is exercised.
#[cfg(not(test))]
pub const SAFE_BYTES: usize = 1 << 30;
#[cfg(test)]
pub const SAFE_BYTES: usize = 1 << 14;

/// Bytes before the data: the length and the capacity (u32 each).
const PRE: usize = 8;

#[repr(C, align(4))]
struct Header(u32, u32);

/// The header of every empty buffer (never written, never freed).
static EMPTY: Header = Header(0, 0);

/// The size jemalloc allocates for a request of `n` bytes (its default classes: 16-byte
/// steps to 128, then four classes per doubling).
pub fn size_class(n: usize) -> usize {
    if n <= 8 {
        8
    } else if n <= 128 {
        n.div_ceil(16) * 16
    } else {
        let spacing = 1usize << ((usize::BITS - 1 - (n - 1).leading_zeros()) - 2);
        n.div_ceil(spacing) * spacing
    }
}

/// The block of a buffer of capacity `cap`.
fn layout(cap: usize) -> Layout {
    Layout::from_size_align(PRE + cap, 4).expect("packed buffer size")
}

/// The capacity to allocate for `len` bytes: the rest of their size class.
fn cap_for(len: usize) -> usize {
    size_class(PRE + len) - PRE
}

/// A byte buffer in one word: a pointer to `[len: u32][cap: u32][bytes]` with bit 0 set.
#[repr(transparent)]
pub struct ThinBytes {
    w: NonNull<u8>,
}

// SAFETY: the buffer is uniquely owned, like a Box<[u8]>.
unsafe impl Send for ThinBytes {}
// SAFETY: shared access only reads.
unsafe impl Sync for ThinBytes {}

impl ThinBytes {
    #[inline]
    fn base(&self) -> *mut u8 {
        self.w.as_ptr().wrapping_sub(1)
    }
    #[inline]
    fn is_static(&self) -> bool {
        ptr::eq(self.base() as *const Header, &EMPTY)
    }
    #[inline]
    fn tagged(base: *mut u8) -> NonNull<u8> {
        // SAFETY: base is a live header (alignment 4), so base + 1 is not null.
        unsafe { NonNull::new_unchecked(base.wrapping_add(1)) }
    }
    pub fn new() -> Self {
        ThinBytes {
            w: Self::tagged(&EMPTY as *const Header as *mut u8),
        }
    }
    /// A buffer of `len` bytes, uninitialized past the header (the caller writes them).
    fn with_len(len: usize) -> Self {
        if len == 0 {
            return Self::new();
        }
        let cap = cap_for(len);
        let lay = layout(cap);
        let n = u32::try_from(cap).expect("packed buffer under 4 GB");
        // SAFETY: non-zero size; the header is written before the buffer is used.
        unsafe {
            let p = alloc::alloc(lay);
            if p.is_null() {
                alloc::handle_alloc_error(lay)
            }
            ptr::write(p as *mut u32, len as u32);
            ptr::write(p.add(4) as *mut u32, n);
            ThinBytes { w: Self::tagged(p) }
        }
    }
    #[inline]
    fn cap(&self) -> usize {
        // SAFETY: the base is always a live, aligned header.
        unsafe { ptr::read(self.base().add(4) as *const u32) as usize }
    }
    pub fn from_slice(b: &[u8]) -> Self {
        let mut t = Self::with_len(b.len());
        t.as_mut_slice().copy_from_slice(b);
        t
    }
    #[inline]
    pub fn len(&self) -> usize {
        // SAFETY: the base is always a live, aligned header.
        unsafe { ptr::read(self.base() as *const u32) as usize }
    }
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Whether `extra` more bytes keep the buffer within `SAFE_BYTES`.
    #[inline]
    pub fn fits(&self, extra: usize) -> bool {
        self.len().saturating_add(extra) <= SAFE_BYTES
    }
    /// Bytes allocated: the header and the capacity (nothing when empty).
    pub fn heap_size(&self) -> usize {
        if self.is_static() {
            0
        } else {
            PRE + self.cap()
        }
    }
    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: `len` initialized bytes follow the header.
        unsafe { std::slice::from_raw_parts(self.base().add(PRE), self.len()) }
    }
    #[inline]
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as `as_slice`, borrowed uniquely; an empty buffer yields an empty slice
        // (nothing is written through it).
        unsafe { std::slice::from_raw_parts_mut(self.base().add(PRE), self.len()) }
    }
    /// Resizes to `len` bytes, keeping the first `min(len, old)`; new bytes are zero.
    /// Within the capacity this writes the length; past it, or below half of it, the
    /// block is reallocated to `len`'s size class (as Redis's listpack resizes).
    pub fn resize(&mut self, len: usize) {
        let (old, cap) = (self.len(), self.cap());
        if len == old {
            return;
        }
        if len == 0 {
            *self = Self::new();
            return;
        }
        if self.is_static() {
            *self = Self::with_len(len);
            self.as_mut_slice().fill(0);
            return;
        }
        let n = u32::try_from(len).expect("packed buffer under 4 GB");
        let to = if len > cap || PRE + cap >= 2 * size_class(PRE + len) {
            cap_for(len)
        } else {
            cap
        };
        // SAFETY: the block was allocated with layout(cap); it is reallocated only to
        // layout(to), whose capacity is written with the length at once; the grown part
        // of the bytes is zeroed before any read.
        unsafe {
            let p = if to == cap {
                self.base()
            } else {
                let p = alloc::realloc(self.base(), layout(cap), PRE + to);
                if p.is_null() {
                    alloc::handle_alloc_error(layout(to))
                }
                ptr::write(p.add(4) as *mut u32, to as u32);
                p
            };
            ptr::write(p as *mut u32, n);
            if len > old {
                ptr::write_bytes(p.add(PRE + old), 0, len - old);
            }
            self.w = Self::tagged(p);
        }
    }
    /// Replaces the bytes `start..end` with `n` bytes of room (zeroed when the buffer
    /// grew), returning that room to write into.
    pub fn splice(&mut self, start: usize, end: usize, n: usize) -> &mut [u8] {
        let old = self.len();
        assert!(start <= end && end <= old, "splice range");
        let new = old - (end - start) + n;
        if new < old {
            self.as_mut_slice().copy_within(end..old, start + n);
            self.resize(new);
        } else if new > old {
            self.resize(new);
            self.as_mut_slice().copy_within(end..old, start + n);
        }
        &mut self.as_mut_slice()[start..start + n]
    }
    /// Inserts `b` at `at`.
    pub fn insert(&mut self, at: usize, b: &[u8]) {
        self.splice(at, at, b.len()).copy_from_slice(b);
    }
    /// Removes the bytes `start..end`.
    pub fn remove(&mut self, start: usize, end: usize) {
        self.splice(start, end, 0);
    }
}

impl Default for ThinBytes {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for ThinBytes {
    fn drop(&mut self) {
        if !self.is_static() {
            // SAFETY: a non-static buffer was allocated with layout(cap).
            unsafe { alloc::dealloc(self.base(), layout(self.cap())) }
        }
    }
}

impl Clone for ThinBytes {
    fn clone(&self) -> Self {
        Self::from_slice(self.as_slice())
    }
}

impl Deref for ThinBytes {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl DerefMut for ThinBytes {
    #[inline]
    fn deref_mut(&mut self) -> &mut [u8] {
        self.as_mut_slice()
    }
}

impl std::fmt::Debug for ThinBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_slice().fmt(f)
    }
}

/// A type that is a `ThinBytes` underneath (`#[repr(transparent)]` over it), so a
/// `Packed` word can be read as one.
///
/// # Safety
/// Implementors must be `#[repr(transparent)]` over `ThinBytes`.
pub unsafe trait ThinRepr: Sized {}

// SAFETY: ThinBytes is itself.
unsafe impl ThinRepr for ThinBytes {}

/// Which form a `Packed` holds, borrowed.
pub enum Form<S, B> {
    Packed(S),
    Big(B),
}

/// One word: an `S` (compact bytes, tag 1) or a `Box<B>` (tag 0).
#[repr(transparent)]
pub struct Packed<S: ThinRepr, B> {
    w: NonNull<u8>,
    _m: PhantomData<(S, Box<B>)>,
}

// SAFETY: owns an S or a Box<B>, like an enum of them.
unsafe impl<S: ThinRepr + Send, B: Send> Send for Packed<S, B> {}
// SAFETY: as above.
unsafe impl<S: ThinRepr + Sync, B: Sync> Sync for Packed<S, B> {}

impl<S: ThinRepr, B> Packed<S, B> {
    const BIG_ALIGNED: () = assert!(std::mem::align_of::<B>() >= 2, "tag bit free");

    pub fn compact(s: S) -> Self {
        let s = std::mem::ManuallyDrop::new(s);
        // SAFETY: S is a ThinBytes underneath (ThinRepr), whose word has bit 0 set.
        let w = unsafe { ptr::read(&*s as *const S as *const NonNull<u8>) };
        Packed { w, _m: PhantomData }
    }
    pub fn big(b: Box<B>) -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::BIG_ALIGNED;
        // SAFETY: Box::into_raw is never null; its alignment leaves bit 0 clear.
        let w = unsafe { NonNull::new_unchecked(Box::into_raw(b) as *mut u8) };
        Packed { w, _m: PhantomData }
    }
    #[inline]
    pub fn is_packed(&self) -> bool {
        self.w.as_ptr() as usize & 1 == 1
    }
    #[inline]
    pub fn get(&self) -> Form<&S, &B> {
        if self.is_packed() {
            // SAFETY: a tag-1 word is an S (repr(transparent) over the same word).
            Form::Packed(unsafe { &*(self as *const Self as *const S) })
        } else {
            // SAFETY: a tag-0 word is a live Box<B> we own.
            Form::Big(unsafe { &*(self.w.as_ptr() as *const B) })
        }
    }
    #[inline]
    pub fn get_mut(&mut self) -> Form<&mut S, &mut B> {
        if self.is_packed() {
            // SAFETY: as `get`, borrowed uniquely. S's methods may replace the word with
            // another tag-1 word (a reallocated buffer), never a tag-0 one.
            Form::Packed(unsafe { &mut *(self as *mut Self as *mut S) })
        } else {
            // SAFETY: as `get`, borrowed uniquely.
            Form::Big(unsafe { &mut *(self.w.as_ptr() as *mut B) })
        }
    }
}

impl<S: ThinRepr, B> Drop for Packed<S, B> {
    fn drop(&mut self) {
        // SAFETY: the word is the S or the Box<B> its tag says, owned here, dropped once.
        unsafe {
            if self.is_packed() {
                ptr::drop_in_place(self as *mut Self as *mut S);
            } else {
                drop(Box::from_raw(self.w.as_ptr() as *mut B));
            }
        }
    }
}

impl<S: ThinRepr + Clone, B: Clone> Clone for Packed<S, B> {
    fn clone(&self) -> Self {
        match self.get() {
            Form::Packed(s) => Self::compact(s.clone()),
            Form::Big(b) => Self::big(Box::new(b.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splices_resize_in_place_and_keep_bytes() {
        let mut t = ThinBytes::new();
        assert!(t.is_empty());
        t.insert(0, b"world");
        t.insert(0, b"hello ");
        assert_eq!(&*t, b"hello world");
        t.splice(5, 6, 3).copy_from_slice(b", w");
        assert_eq!(&*t, b"hello, wworld");
        t.remove(7, 9);
        assert_eq!(&*t, b"hello, orld");
        t.resize(13);
        assert_eq!(&*t, b"hello, orld\0\0");
        let c = t.clone();
        t.remove(0, t.len());
        assert!(t.is_empty() && t.is_static());
        assert_eq!(&*c, b"hello, orld\0\0");
        assert_eq!(std::mem::size_of::<Packed<ThinBytes, u64>>(), 8);
        // Within the capacity (its size class) a resize is a length write: the block
        // stays where it is; below half of it, the room goes back.
        let mut t = ThinBytes::from_slice(&[7; 20]);
        let at = t.base();
        assert_eq!(t.heap_size(), 32);
        t.resize(24);
        assert_eq!((t.base(), &t[18..]), (at, &[7, 7, 0, 0, 0, 0][..]));
        t.resize(25);
        assert_eq!((t.heap_size(), t.len()), (48, 25));
        t.resize(20);
        assert_eq!(t.heap_size(), 48);
        t.resize(8);
        assert_eq!((t.heap_size(), &t[..]), (16, &[7; 8][..]));
        let mut big = ThinBytes::from_slice(&[1; 1000]);
        for n in (1..1000).rev() {
            big.resize(n);
            assert!(big.heap_size() < 2 * size_class(PRE + n) + 16);
        }
        assert_eq!(
            [8, 9, 128, 129, 160, 161, 1025, 6536, 8192, 8193].map(size_class),
            [8, 16, 128, 160, 160, 192, 1280, 7168, 8192, 10240]
        );
        assert_eq!(std::mem::size_of::<Option<Packed<ThinBytes, u64>>>(), 8);
    }

    #[test]
    fn packed_holds_either_form_and_drops_it() {
        let mut p: Packed<ThinBytes, Vec<u8>> = Packed::compact(ThinBytes::from_slice(b"abc"));
        match p.get_mut() {
            Form::Packed(s) => s.insert(3, b"def"),
            Form::Big(_) => panic!("packed"),
        }
        assert!(matches!(p.get(), Form::Packed(s) if &**s == b"abcdef"));
        let q = p.clone();
        p = Packed::big(Box::new(b"big".to_vec()));
        assert!(matches!(p.get(), Form::Big(b) if b == b"big"));
        assert!(matches!(q.get(), Form::Packed(s) if &**s == b"abcdef"));
    }
}
