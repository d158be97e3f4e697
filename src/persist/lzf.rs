//! LZF, the compression Redis applies to long strings in RDB files (its lzf_c.c/lzf_d.c
//! format): a stream of literal runs (control byte 0..=31: that many bytes plus one follow)
//! and back references (control byte's top 3 bits: length - 2, 7 meaning "add the next
//! byte"; low 5 bits and one more byte: distance - 1, up to 8192 back).

/// Longest back reference: 7 + 255 + 2.
const MAX_REF: usize = 264;
/// Farthest back reference.
const MAX_OFF: usize = 1 << 13;
/// Longest literal run.
const MAX_LIT: usize = 32;
/// The most output one input byte can give (a 3-byte reference of 264 bytes).
const MAX_RATIO: usize = 88;

/// Decompress `input`, which must expand to exactly `out_len` bytes; None when it does not
/// or is malformed (a run or reference past either end).
pub fn decompress(input: &[u8], out_len: usize) -> Option<Vec<u8>> {
    if out_len > input.len().saturating_mul(MAX_RATIO) {
        return None;
    }
    let mut out = Vec::with_capacity(out_len);
    let mut i = 0;
    while i < input.len() {
        let ctrl = input[i] as usize;
        i += 1;
        if ctrl < 32 {
            let run = input.get(i..i + ctrl + 1)?;
            if out.len() + run.len() > out_len {
                return None;
            }
            out.extend_from_slice(run);
            i += ctrl + 1;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += *input.get(i)? as usize;
                i += 1;
            }
            let len = len + 2;
            let dist = ((ctrl & 0x1f) << 8) + *input.get(i)? as usize + 1;
            i += 1;
            if dist > out.len() || out.len() + len > out_len {
                return None;
            }
            let start = out.len() - dist;
            // The source may overlap what is being written: copy byte by byte.
            for k in 0..len {
                let b = out[start + k];
                out.push(b);
            }
        }
    }
    (out.len() == out_len).then_some(out)
}

/// The table slot of the 3 bytes at the start of `b`, for a table of 2^`bits` slots.
fn hash3(b: &[u8], bits: u32) -> usize {
    let v = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
    (v.wrapping_mul(2654435761) >> (32 - bits)) as usize
}

fn flush_literals(out: &mut Vec<u8>, lit: &[u8]) {
    for chunk in lit.chunks(MAX_LIT) {
        out.push((chunk.len() - 1) as u8);
        out.extend_from_slice(chunk);
    }
}

/// Compress `input`; None when the result would not be smaller than the input.
pub fn compress(input: &[u8]) -> Option<Vec<u8>> {
    let n = input.len();
    if n < 4 {
        return None;
    }
    let mut out = Vec::with_capacity(n);
    // Position + 1 of the last place each 3-byte hash was seen (0: never); sized to the
    // input (256 to 16384 slots) so that short strings do not pay for a large table.
    let bits = (usize::BITS - n.leading_zeros()).clamp(8, 14);
    let mut table = vec![0usize; 1 << bits];
    let mut lit = 0;
    let mut i = 0;
    while i + 2 < n {
        let h = hash3(&input[i..], bits);
        let seen = table[h];
        table[h] = i + 1;
        if seen > 0 {
            let r = seen - 1;
            let off = i - r - 1;
            if off < MAX_OFF && input[r..r + 3] == input[i..i + 3] {
                let max = MAX_REF.min(n - i);
                let mut len = 3;
                while len < max && input[r + len] == input[i + len] {
                    len += 1;
                }
                flush_literals(&mut out, &input[lit..i]);
                let l = len - 2;
                if l < 7 {
                    out.push(((l << 5) | (off >> 8)) as u8);
                } else {
                    out.push(((7 << 5) | (off >> 8)) as u8);
                    out.push((l - 7) as u8);
                }
                out.push((off & 0xff) as u8);
                // Remember the positions inside the match too, for later references.
                for p in i + 1..(i + len).min(n - 2) {
                    table[hash3(&input[p..], bits)] = p + 1;
                }
                i += len;
                lit = i;
                if out.len() >= n {
                    return None;
                }
                continue;
            }
        }
        i += 1;
    }
    flush_literals(&mut out, &input[lit..]);
    (out.len() < n).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn round_trip(data: &[u8]) {
        if let Some(c) = compress(data) {
            assert!(c.len() < data.len());
            assert_eq!(decompress(&c, data.len()).as_deref(), Some(data));
            // A wrong expected length is refused.
            assert!(decompress(&c, data.len() + 1).is_none());
            if !data.is_empty() {
                assert!(decompress(&c, data.len() - 1).is_none());
            }
        }
    }

    #[test]
    fn round_trips() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        assert!(compress(&vec![b'a'; 1000]).is_some());
        round_trip(&vec![b'a'; 1000]);
        round_trip(&vec![0u8; 100_000]);
        round_trip(b"abcabcabcabcabcabcabcabcabcabcabcabcabc hello hello hello hello");
        let text: Vec<u8> = (0..20_000)
            .flat_map(|i| format!("key:{} value:{};", i % 377, i % 13).into_bytes())
            .collect();
        assert!(compress(&text).is_some());
        round_trip(&text);
        for len in [4, 5, 10, 31, 32, 33, 100, 1000, 9000, 70_000] {
            let random: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
            round_trip(&random);
            let small_alphabet: Vec<u8> = (0..len).map(|_| b'a' + rng.gen_range(0..3)).collect();
            round_trip(&small_alphabet);
        }
        // Random data does not compress.
        let random: Vec<u8> = (0..10_000).map(|_| rng.gen()).collect();
        assert!(compress(&random).is_none());
        assert!(compress(b"abc").is_none());
    }

    #[test]
    fn known_stream() {
        // "aaaaaaaaaa": literal 'a', then a reference of 9 at distance 1.
        let c = [0x00, b'a', 0xe0, 0x00, 0x00];
        assert_eq!(decompress(&c, 10).as_deref(), Some(&b"aaaaaaaaaa"[..]));
    }

    #[test]
    fn corrupt_input_is_refused() {
        // A reference before the start of the output.
        assert!(decompress(&[0x20, 0x05], 3).is_none());
        // A literal run past the end of the input.
        assert!(decompress(&[0x05, b'a'], 6).is_none());
        // A reference missing its distance byte.
        assert!(decompress(&[0x00, b'a', 0x20], 4).is_none());
        // Output longer than announced.
        assert!(decompress(&[0x02, b'a', b'b', b'c'], 2).is_none());
        // An absurd announced length is refused before allocating.
        assert!(decompress(&[0x00, b'a'], usize::MAX).is_none());
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        let text: Vec<u8> = (0..3000)
            .flat_map(|i| format!("{} ", i % 50).into_bytes())
            .collect();
        let c = compress(&text).expect("compressible");
        for _ in 0..2000 {
            let mut bad = c.clone();
            let k = rng.gen_range(0..bad.len());
            bad[k] = rng.gen();
            let _ = decompress(&bad, text.len());
            let cut = rng.gen_range(0..bad.len());
            let _ = decompress(&bad[..cut], text.len());
        }
        for _ in 0..2000 {
            let junk: Vec<u8> = (0..rng.gen_range(0..64)).map(|_| rng.gen()).collect();
            let _ = decompress(&junk, rng.gen_range(0..4000));
        }
    }
}
