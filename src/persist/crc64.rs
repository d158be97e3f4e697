//! CRC-64/Jones (reflected polynomial 0x95ac9329ac4bc9b5), the checksum Redis puts after
//! DUMP payloads and RDB files (its crc64.c), table-driven one byte at a time.

const fn crc_table() -> [u64; 256] {
    let mut t = [0u64; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u64;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0x95ac_9329_ac4b_c9b5
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
}

static CRC_TABLE: [u64; 256] = crc_table();

/// The CRC-64/Jones of `data` (initial value 0, no final xor).
pub fn crc64(data: &[u8]) -> u64 {
    crc64_update(0, data)
}

/// `crc` (of what came before) carried on over `data`: a file's checksum written in parts.
pub fn crc64_update(crc: u64, data: &[u8]) -> u64 {
    data.iter().fold(crc, |crc, &b| {
        CRC_TABLE[((crc ^ b as u64) & 0xff) as usize] ^ (crc >> 8)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc64_jones_check_value() {
        // Redis's crc64.c test vector.
        assert_eq!(crc64(b"123456789"), 0xe9c6d914c4b8d9ca);
        assert_eq!(crc64_update(crc64(b"1234"), b"56789"), 0xe9c6d914c4b8d9ca);
    }
}
