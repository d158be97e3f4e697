//! Listpack encoding (Redis 5+'s compact list of strings and integers), for what Redis's
//! file formats keep in listpacks: stream nodes and list (quicklist) nodes; hash and
//! sorted set encodings next.
//!
//! Layout: total bytes (u32 LE), element count (u16 LE, 65535 when it does not fit),
//! the elements, and 0xFF. Each element is its encoding and data followed by its own
//! length ("backlen", 1 to 5 bytes read right to left) so it can be walked backwards.

pub struct Listpack {
    b: Vec<u8>,
    n: usize,
}

impl Default for Listpack {
    fn default() -> Self {
        Self::new()
    }
}

impl Listpack {
    pub fn new() -> Self {
        let mut b = Vec::with_capacity(64);
        b.extend_from_slice(&[0; 6]);
        Listpack { b, n: 0 }
    }

    /// An integer in the smallest integer encoding that holds it.
    pub fn push_int(&mut self, v: i64) {
        let start = self.b.len();
        if (0..=127).contains(&v) {
            self.b.push(v as u8);
        } else if (-4096..=4095).contains(&v) {
            let u = (v as u16) & 0x1fff;
            self.b.push(0xc0 | (u >> 8) as u8);
            self.b.push(u as u8);
        } else if let Ok(x) = i16::try_from(v) {
            self.b.push(0xf1);
            self.b.extend_from_slice(&x.to_le_bytes());
        } else if (-(1 << 23)..(1 << 23)).contains(&v) {
            self.b.push(0xf2);
            self.b.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
        } else if let Ok(x) = i32::try_from(v) {
            self.b.push(0xf3);
            self.b.extend_from_slice(&x.to_le_bytes());
        } else {
            self.b.push(0xf4);
            self.b.extend_from_slice(&v.to_le_bytes());
        }
        self.end_element(start);
    }

    /// A string; as an integer when it is an integer's canonical text, as Redis stores it.
    pub fn push_str(&mut self, s: &[u8]) {
        if s.len() <= 20 {
            if let Some(n) = crate::util::parse_i64(s) {
                if itoa::Buffer::new().format(n).as_bytes() == s {
                    return self.push_int(n);
                }
            }
        }
        let start = self.b.len();
        let n = s.len();
        if n < 64 {
            self.b.push(0x80 | n as u8);
        } else if n < 4096 {
            self.b.push(0xe0 | (n >> 8) as u8);
            self.b.push(n as u8);
        } else {
            self.b.push(0xf0);
            self.b.extend_from_slice(&(n as u32).to_le_bytes());
        }
        self.b.extend_from_slice(s);
        self.end_element(start);
    }

    /// The element's backlen: its size in 7-bit groups, most significant first, every
    /// byte but the first (read last, from the right) flagged with the high bit.
    fn end_element(&mut self, start: usize) {
        let mut l = (self.b.len() - start) as u64;
        let mut groups = [0u8; 5];
        let mut k = 0;
        loop {
            groups[k] = (l & 127) as u8;
            l >>= 7;
            k += 1;
            if l == 0 {
                break;
            }
        }
        // groups[0] is the lowest 7 bits, written last; all but the first written are flagged.
        for i in (0..k).rev() {
            self.b.push(if i == k - 1 {
                groups[i]
            } else {
                groups[i] | 128
            });
        }
        self.n += 1;
    }

    /// Its size so far, in bytes (without the end byte).
    pub fn len_bytes(&self) -> usize {
        self.b.len()
    }

    /// Elements pushed so far.
    pub fn count(&self) -> usize {
        self.n
    }

    /// The finished listpack's bytes.
    pub fn finish(mut self) -> Vec<u8> {
        self.b.push(0xff);
        let total = self.b.len() as u32;
        self.b[0..4].copy_from_slice(&total.to_le_bytes());
        let n = self.n.min(65535) as u16;
        self.b[4..6].copy_from_slice(&n.to_le_bytes());
        self.b
    }
}
