//! The little pieces every packed encoding here shares: LEB128 lengths read forward, and
//! the "backlen" after an element (its size, read right to left) that lets a buffer be
//! walked backwards, as Redis's listpack does.

/// Bytes `n` takes as a varint (and as a backlen: the same 7-bit groups).
#[inline]
pub fn len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

/// Appends `n` as a varint (7 bits a byte, least significant first, high bit = more).
#[inline]
pub fn put(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push(n as u8 | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Reads the varint at `*p`, advancing past it.
#[inline]
pub fn get(b: &[u8], p: &mut usize) -> u64 {
    read(b, p) as u64
}

/// Reads the varint at `*p` as a length, advancing past it (one byte nearly always).
#[inline(always)]
pub fn read(b: &[u8], p: &mut usize) -> usize {
    let c = b[*p];
    *p += 1;
    if c < 0x80 {
        return c as usize;
    }
    let (mut n, mut shift) = ((c & 0x7f) as usize, 7);
    loop {
        let c = b[*p];
        *p += 1;
        n |= ((c & 0x7f) as usize) << shift;
        if c < 0x80 {
            return n;
        }
        shift += 7;
    }
}

/// Writes `n` as a varint at the start of `out`; returns the bytes written (`len(n)`).
#[inline]
pub fn write(out: &mut [u8], mut n: usize) -> usize {
    let mut p = 0;
    while n >= 0x80 {
        out[p] = n as u8 | 0x80;
        n >>= 7;
        p += 1;
    }
    out[p] = n as u8;
    p + 1
}

/// Writes the backlen of an element of `size` bytes at the start of `out` (`len(size)`
/// bytes): most significant group first, every byte after the first flagged.
#[inline]
pub fn write_back(out: &mut [u8], size: usize) {
    let k = len(size);
    for (i, o) in out.iter_mut().enumerate().take(k) {
        let group = ((size >> (7 * (k - 1 - i))) & 127) as u8;
        *o = if i == 0 { group } else { group | 128 };
    }
}

/// The start of the element whose backlen ends at `end`.
#[inline]
pub fn start_before(b: &[u8], end: usize) -> usize {
    let (mut size, mut shift, mut p) = (0usize, 0, end - 1);
    loop {
        let c = b[p];
        size |= ((c & 127) as usize) << shift;
        if c & 128 == 0 {
            break;
        }
        shift += 7;
        p -= 1;
    }
    p - size
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_both_ways() {
        for n in [0usize, 1, 127, 128, 300, 16383, 16384, 1 << 30] {
            let mut v = vec![9u8; 3];
            put(&mut v, n as u64);
            assert_eq!(v.len() - 3, len(n));
            let mut p = 3;
            assert_eq!(get(&v, &mut p), n as u64);
            // An element of `n` bytes followed by its backlen walks back to its start.
            let mut e = vec![0u8; n.min(400)];
            let size = e.len();
            e.resize(size + len(size), 0);
            write_back(&mut e[size..], size);
            assert_eq!(start_before(&e, e.len()), 0);
        }
    }
}
