//! Editing a `Box<[u8]>` as a `Vec<u8>`: the compact encodings keep their bytes in an
//! exact-size box (16 bytes, where a Vec is 24), so that with the other variant's box the
//! encoding enum is 16 bytes and the value's own box takes a 16-byte block.

/// Runs `f` on the bytes as a Vec, then puts them back as an exact-size box (a shrink
/// reallocates, as Redis's listpack and intset do after a delete).
#[inline]
pub fn edit<R>(b: &mut Box<[u8]>, f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    let mut v = std::mem::take(b).into_vec();
    let r = f(&mut v);
    *b = v.into_boxed_slice();
    r
}
