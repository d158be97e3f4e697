//! The cluster bus wire format: Redis 7.0's `clusterMsg`, so ferrokv and redis-server
//! nodes talk to each other. Every integer is big-endian; a message is a fixed
//! 2256-byte header then the type's data (gossip entries and ping extensions for
//! PING/PONG/MEET, a node name for FAIL, channel and message for PUBLISH, a slot bitmap
//! for UPDATE). This module only encodes and decodes; `bus` decides what they mean.

/// Every message starts with this signature ("Redis Cluster message bus").
pub const SIG: &[u8; 4] = b"RCmb";
pub const PROTO_VER: u16 = 1;
/// The fixed header (`sizeof(clusterMsg) - sizeof(union clusterMsgData)`).
pub const HDR_LEN: usize = 2256;
/// One gossip entry (`clusterMsgDataGossip`).
pub const GOSSIP_LEN: usize = 104;
pub const NAMELEN: usize = 40;
pub const IPLEN: usize = 46;
pub const SLOTS: usize = 16384;
pub const SLOT_BYTES: usize = SLOTS / 8;

// Field offsets in the header.
const O_TOTLEN: usize = 4;
const O_VER: usize = 8;
const O_PORT: usize = 10;
const O_TYPE: usize = 12;
const O_COUNT: usize = 14;
const O_CUR_EPOCH: usize = 16;
const O_CFG_EPOCH: usize = 24;
const O_OFFSET: usize = 32;
const O_SENDER: usize = 40;
const O_MYSLOTS: usize = 80;
const O_SLAVEOF: usize = 2128;
const O_MYIP: usize = 2168;
const O_EXTENSIONS: usize = 2214;
const O_PPORT: usize = 2246;
const O_CPORT: usize = 2248;
const O_FLAGS: usize = 2250;
const O_STATE: usize = 2252;
const O_MFLAGS: usize = 2253;

// Message types.
pub const PING: u16 = 0;
pub const PONG: u16 = 1;
pub const MEET: u16 = 2;
pub const FAIL: u16 = 3;
pub const PUBLISH: u16 = 4;
pub const AUTH_REQUEST: u16 = 5;
pub const AUTH_ACK: u16 = 6;
pub const UPDATE: u16 = 7;
pub const MFSTART: u16 = 8;
pub const MODULE: u16 = 9;
pub const PUBLISHSHARD: u16 = 10;
pub const TYPE_COUNT: usize = 11;

// Node flags (as carried in headers and gossip).
pub const N_MASTER: u16 = 1;
pub const N_SLAVE: u16 = 2;
pub const N_PFAIL: u16 = 4;
pub const N_FAIL: u16 = 8;
pub const N_MYSELF: u16 = 16;
pub const N_HANDSHAKE: u16 = 32;
pub const N_NOADDR: u16 = 64;
pub const N_MEET: u16 = 128;
pub const N_MIGRATE_TO: u16 = 256;
pub const N_NOFAILOVER: u16 = 512;

// mflags[0].
pub const MF_PAUSED: u8 = 1;
pub const MF_FORCEACK: u8 = 2;
pub const MF_EXT_DATA: u8 = 4;

/// Ping extension types.
pub const EXT_HOSTNAME: u16 = 0;

/// The name Redis uses in logs and CLUSTER INFO's counters.
pub fn type_name(t: u16) -> &'static str {
    match t {
        PING => "ping",
        PONG => "pong",
        MEET => "meet",
        FAIL => "fail",
        PUBLISH => "publish",
        PUBLISHSHARD => "publishshard",
        AUTH_REQUEST => "auth-req",
        AUTH_ACK => "auth-ack",
        UPDATE => "update",
        MFSTART => "mfstart",
        MODULE => "module",
        _ => "unknown",
    }
}

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_be_bytes([b[o], b[o + 1]])
}
fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_be_bytes(b[o..o + 4].try_into().expect("4 bytes"))
}
fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from_be_bytes(b[o..o + 8].try_into().expect("8 bytes"))
}
fn put16(b: &mut [u8], o: usize, v: u16) {
    b[o..o + 2].copy_from_slice(&v.to_be_bytes());
}
fn put32(b: &mut [u8], o: usize, v: u32) {
    b[o..o + 4].copy_from_slice(&v.to_be_bytes());
}
fn put64(b: &mut [u8], o: usize, v: u64) {
    b[o..o + 8].copy_from_slice(&v.to_be_bytes());
}
/// A NUL-terminated C string field as text (lossy, stops at the first NUL).
fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// What the first 8 bytes of a message say: its total length, or None when the link
/// must be dropped (Redis's "Bad message length or signature").
pub fn frame_len(first8: &[u8]) -> Option<usize> {
    if &first8[..4] != SIG {
        return None;
    }
    let len = u32_at(first8, O_TOTLEN) as usize;
    (len >= HDR_LEN).then_some(len)
}

/// The header fields a node fills in for every message it sends.
pub struct Hdr<'a> {
    pub typ: u16,
    pub port: u16,
    pub pport: u16,
    pub cport: u16,
    pub flags: u16,
    pub state_fail: bool,
    pub mflags0: u8,
    pub current_epoch: u64,
    pub config_epoch: u64,
    pub offset: u64,
    pub sender: &'a [u8; NAMELEN],
    pub myslots: &'a [u8; SLOT_BYTES],
    pub slaveof: Option<&'a [u8; NAMELEN]>,
    pub myip: &'a str,
}

/// Append a header to `out` (its length and count are set by [`finish`]); returns where
/// the message starts.
pub fn begin(out: &mut Vec<u8>, h: &Hdr) -> usize {
    let start = out.len();
    out.resize(start + HDR_LEN, 0);
    let b = &mut out[start..];
    b[..4].copy_from_slice(SIG);
    put16(b, O_VER, PROTO_VER);
    put16(b, O_PORT, h.port);
    put16(b, O_TYPE, h.typ);
    put64(b, O_CUR_EPOCH, h.current_epoch);
    put64(b, O_CFG_EPOCH, h.config_epoch);
    put64(b, O_OFFSET, h.offset);
    b[O_SENDER..O_SENDER + NAMELEN].copy_from_slice(h.sender);
    b[O_MYSLOTS..O_MYSLOTS + SLOT_BYTES].copy_from_slice(h.myslots);
    if let Some(m) = h.slaveof {
        b[O_SLAVEOF..O_SLAVEOF + NAMELEN].copy_from_slice(m);
    }
    let ip = h.myip.as_bytes();
    let n = ip.len().min(IPLEN - 1);
    b[O_MYIP..O_MYIP + n].copy_from_slice(&ip[..n]);
    put16(b, O_PPORT, h.pport);
    put16(b, O_CPORT, h.cport);
    put16(b, O_FLAGS, h.flags);
    b[O_STATE] = h.state_fail as u8;
    b[O_MFLAGS] = h.mflags0;
    start
}

/// Set the total length, the entry count and the number of extensions of the message
/// that starts at `start`.
pub fn finish(out: &mut [u8], start: usize, count: u16, extensions: u16) {
    let len = (out.len() - start) as u32;
    let b = &mut out[start..];
    put32(b, O_TOTLEN, len);
    put16(b, O_COUNT, count);
    put16(b, O_EXTENSIONS, extensions);
}

/// Set mflags[0] bits of the message at `start`.
pub fn or_mflags(out: &mut [u8], start: usize, bits: u8) {
    out[start + O_MFLAGS] |= bits;
}

/// One gossip entry: what the sender knows of another node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gossip {
    pub name: [u8; NAMELEN],
    pub ping_sent: u32,
    pub pong_received: u32,
    pub ip: String,
    pub port: u16,
    pub cport: u16,
    pub flags: u16,
    pub pport: u16,
}

pub fn push_gossip(out: &mut Vec<u8>, g: &Gossip) {
    let start = out.len();
    out.resize(start + GOSSIP_LEN, 0);
    let b = &mut out[start..];
    b[..NAMELEN].copy_from_slice(&g.name);
    put32(b, 40, g.ping_sent);
    put32(b, 44, g.pong_received);
    let ip = g.ip.as_bytes();
    let n = ip.len().min(IPLEN - 1);
    b[48..48 + n].copy_from_slice(&ip[..n]);
    put16(b, 94, g.port);
    put16(b, 96, g.cport);
    put16(b, 98, g.flags);
    put16(b, 100, g.pport);
}

/// The hostname extension (8-byte aligned, NUL-terminated).
pub fn push_hostname_ext(out: &mut Vec<u8>, hostname: &str) {
    let body = (hostname.len() + 1).div_ceil(8) * 8;
    let len = 8 + body;
    let start = out.len();
    out.resize(start + len, 0);
    let b = &mut out[start..];
    put32(b, 0, len as u32);
    put16(b, 4, EXT_HOSTNAME);
    b[8..8 + hostname.len()].copy_from_slice(hostname.as_bytes());
}

/// FAIL's data: the failing node's name.
pub fn push_fail(out: &mut Vec<u8>, about: &[u8; NAMELEN]) {
    out.extend_from_slice(about);
}

/// PUBLISH / PUBLISHSHARD data.
pub fn push_publish(out: &mut Vec<u8>, channel: &[u8], message: &[u8]) {
    out.extend_from_slice(&(channel.len() as u32).to_be_bytes());
    out.extend_from_slice(&(message.len() as u32).to_be_bytes());
    out.extend_from_slice(channel);
    out.extend_from_slice(message);
    // The C struct's 8-byte placeholder is counted out of the length: nothing to pad.
}

/// UPDATE data: a node's config epoch and slots.
pub fn push_update(out: &mut Vec<u8>, epoch: u64, name: &[u8; NAMELEN], slots: &[u8; SLOT_BYTES]) {
    out.extend_from_slice(&epoch.to_be_bytes());
    out.extend_from_slice(name);
    out.extend_from_slice(slots);
}

/// A received message (whole, `totlen` bytes), read in place.
pub struct Msg<'a>(pub &'a [u8]);

impl<'a> Msg<'a> {
    pub fn typ(&self) -> u16 {
        u16_at(self.0, O_TYPE)
    }
    pub fn ver(&self) -> u16 {
        u16_at(self.0, O_VER)
    }
    pub fn port(&self) -> u16 {
        u16_at(self.0, O_PORT)
    }
    pub fn pport(&self) -> u16 {
        u16_at(self.0, O_PPORT)
    }
    pub fn cport(&self) -> u16 {
        u16_at(self.0, O_CPORT)
    }
    pub fn count(&self) -> u16 {
        u16_at(self.0, O_COUNT)
    }
    pub fn flags(&self) -> u16 {
        u16_at(self.0, O_FLAGS)
    }
    pub fn extensions(&self) -> u16 {
        u16_at(self.0, O_EXTENSIONS)
    }
    pub fn mflags0(&self) -> u8 {
        self.0[O_MFLAGS]
    }
    pub fn state_fail(&self) -> bool {
        self.0[O_STATE] != 0
    }
    pub fn current_epoch(&self) -> u64 {
        u64_at(self.0, O_CUR_EPOCH)
    }
    pub fn config_epoch(&self) -> u64 {
        u64_at(self.0, O_CFG_EPOCH)
    }
    pub fn offset(&self) -> u64 {
        u64_at(self.0, O_OFFSET)
    }
    pub fn sender(&self) -> &'a [u8; NAMELEN] {
        self.0[O_SENDER..O_SENDER + NAMELEN]
            .try_into()
            .expect("40 bytes")
    }
    pub fn myslots(&self) -> &'a [u8; SLOT_BYTES] {
        self.0[O_MYSLOTS..O_MYSLOTS + SLOT_BYTES]
            .try_into()
            .expect("2048 bytes")
    }
    /// The sender's master, if it is a replica (all zeros: none).
    pub fn slaveof(&self) -> Option<&'a [u8; NAMELEN]> {
        let s: &[u8; NAMELEN] = self.0[O_SLAVEOF..O_SLAVEOF + NAMELEN]
            .try_into()
            .expect("40 bytes");
        (s.iter().any(|&b| b != 0)).then_some(s)
    }
    /// The IP the sender announces (empty: take the connection's peer address).
    pub fn myip(&self) -> String {
        cstr(&self.0[O_MYIP..O_MYIP + IPLEN])
    }
    pub fn gossip(&self, i: usize) -> Gossip {
        let b = &self.0[HDR_LEN + i * GOSSIP_LEN..HDR_LEN + (i + 1) * GOSSIP_LEN];
        Gossip {
            name: b[..NAMELEN].try_into().expect("40 bytes"),
            ping_sent: u32_at(b, 40),
            pong_received: u32_at(b, 44),
            ip: cstr(&b[48..48 + IPLEN]),
            port: u16_at(b, 94),
            cport: u16_at(b, 96),
            flags: u16_at(b, 98),
            pport: u16_at(b, 100),
        }
    }
    /// The ping extensions: (type, body) pairs. Only called on a validated message.
    pub fn ping_exts(&self) -> Vec<(u16, &'a [u8])> {
        let mut out = Vec::new();
        if self.mflags0() & MF_EXT_DATA == 0 {
            return out;
        }
        let mut at = HDR_LEN + self.count() as usize * GOSSIP_LEN;
        for _ in 0..self.extensions() {
            let len = u32_at(self.0, at) as usize;
            let typ = u16_at(self.0, at + 4);
            out.push((typ, &self.0[at + 8..at + len]));
            at += len;
        }
        out
    }
    pub fn fail_about(&self) -> &'a [u8; NAMELEN] {
        self.0[HDR_LEN..HDR_LEN + NAMELEN]
            .try_into()
            .expect("40 bytes")
    }
    /// PUBLISH's channel and message.
    pub fn publish(&self) -> (&'a [u8], &'a [u8]) {
        let cl = u32_at(self.0, HDR_LEN) as usize;
        let ml = u32_at(self.0, HDR_LEN + 4) as usize;
        let d = HDR_LEN + 8;
        (&self.0[d..d + cl], &self.0[d + cl..d + cl + ml])
    }
    /// UPDATE's config epoch, node name and slots.
    pub fn update(&self) -> (u64, &'a [u8; NAMELEN], &'a [u8; SLOT_BYTES]) {
        let e = u64_at(self.0, HDR_LEN);
        let n = self.0[HDR_LEN + 8..HDR_LEN + 48]
            .try_into()
            .expect("40 bytes");
        let s = self.0[HDR_LEN + 48..HDR_LEN + 48 + SLOT_BYTES]
            .try_into()
            .expect("2048 bytes");
        (e, n, s)
    }

    /// Check the message is as long as its type says (Redis's checks, same words in
    /// the log). Err: the log line; the message is then ignored.
    pub fn validate(&self) -> Result<(), String> {
        let total = self.0.len();
        let typ = self.typ();
        let name = type_name(typ);
        let explen = match typ {
            PING | PONG | MEET => {
                let mut exp = HDR_LEN + GOSSIP_LEN * self.count() as usize;
                if self.mflags0() & MF_EXT_DATA != 0 {
                    for _ in 0..self.extensions() {
                        if exp + 8 > total {
                            return Err(format!(
                                "Received invalid {name} packet with extension data that exceeds total packet length ({total})"
                            ));
                        }
                        let len = u32_at(self.0, exp) as usize;
                        if !len.is_multiple_of(8) || len < 8 {
                            return Err(format!(
                                "Received a {name} packet without proper padding ({len} bytes)"
                            ));
                        }
                        if total - exp < len {
                            return Err(format!(
                                "Received invalid {name} packet with extension data that exceeds total packet length ({total})"
                            ));
                        }
                        exp += len;
                    }
                }
                exp
            }
            FAIL => HDR_LEN + NAMELEN,
            PUBLISH | PUBLISHSHARD => {
                if total < HDR_LEN + 8 {
                    HDR_LEN + 8
                } else {
                    HDR_LEN
                        + 8
                        + u32_at(self.0, HDR_LEN) as usize
                        + u32_at(self.0, HDR_LEN + 4) as usize
                }
            }
            AUTH_REQUEST | AUTH_ACK | MFSTART => HDR_LEN,
            UPDATE => HDR_LEN + 8 + NAMELEN + SLOT_BYTES,
            MODULE => {
                if total < HDR_LEN + 16 {
                    HDR_LEN + 16
                } else {
                    HDR_LEN + 13 + u32_at(self.0, HDR_LEN + 8) as usize
                }
            }
            _ => total,
        };
        if explen != total {
            return Err(format!(
                "Received invalid {name} packet of length {total} but expected length {explen}"
            ));
        }
        Ok(())
    }
}

/// Whether `slot` is set in a slot bitmap.
#[inline]
pub fn bit(map: &[u8; SLOT_BYTES], slot: usize) -> bool {
    map[slot / 8] & (1 << (slot & 7)) != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr<'a>(name: &'a [u8; 40], slots: &'a [u8; SLOT_BYTES], typ: u16) -> Hdr<'a> {
        Hdr {
            typ,
            port: 7000,
            pport: 0,
            cport: 17000,
            flags: N_MASTER | N_MYSELF,
            state_fail: false,
            mflags0: 0,
            current_epoch: 5,
            config_epoch: 3,
            offset: 1234,
            sender: name,
            myslots: slots,
            slaveof: None,
            myip: "10.0.0.1",
        }
    }

    /// The header fields sit at Redis's offsets (cluster.h's static asserts) and read
    /// back as written; gossip entries and the hostname extension too.
    #[test]
    fn a_ping_round_trips_at_redis_offsets() {
        let name = [b'a'; 40];
        let mut slots = [0u8; SLOT_BYTES];
        slots[0] = 0b101;
        let mut out = Vec::new();
        let start = begin(&mut out, &hdr(&name, &slots, PING));
        let g = Gossip {
            name: [b'b'; 40],
            ping_sent: 1,
            pong_received: 2,
            ip: "10.0.0.2".into(),
            port: 7001,
            cport: 17001,
            flags: N_SLAVE,
            pport: 0,
        };
        push_gossip(&mut out, &g);
        push_hostname_ext(&mut out, "host-1");
        or_mflags(&mut out, start, MF_EXT_DATA);
        finish(&mut out, start, 1, 1);
        assert_eq!(out.len(), HDR_LEN + GOSSIP_LEN + 16);
        assert_eq!(&out[..4], b"RCmb");
        assert_eq!(u32_at(&out, 4) as usize, out.len());
        assert_eq!(u16_at(&out, 12), PING);
        assert_eq!(&out[40..80], &name);
        assert_eq!(out[80], 0b101);
        assert_eq!(&out[2168..2176], b"10.0.0.1");
        assert_eq!(u16_at(&out, 2248), 17000);
        let m = Msg(&out);
        m.validate().unwrap();
        assert_eq!(m.count(), 1);
        assert_eq!(m.gossip(0), g);
        assert_eq!(m.myip(), "10.0.0.1");
        assert!(m.slaveof().is_none());
        assert!(bit(m.myslots(), 0) && !bit(m.myslots(), 1) && bit(m.myslots(), 2));
        let exts = m.ping_exts();
        assert_eq!(exts.len(), 1);
        assert_eq!(cstr(exts[0].1), "host-1");
        assert_eq!(
            (m.current_epoch(), m.config_epoch(), m.offset()),
            (5, 3, 1234)
        );
    }

    /// Lengths that do not match the type are refused with Redis's log line, and a
    /// bad signature or a length under the header stops the frame.
    #[test]
    fn malformed_messages_are_refused() {
        let name = [b'a'; 40];
        let slots = [0u8; SLOT_BYTES];
        let mut out = Vec::new();
        let start = begin(&mut out, &hdr(&name, &slots, PING));
        finish(&mut out, start, 3, 0);
        let e = Msg(&out).validate().unwrap_err();
        assert!(
            e.contains("Received invalid ping packet of length 2256 but expected length 2568"),
            "{e}"
        );
        assert!(frame_len(b"RCmb\0\0\0\x10").is_none());
        assert!(frame_len(b"GET /\r\n\r").is_none());
        assert_eq!(frame_len(&out[..8]), Some(HDR_LEN));
        // An extension whose length is not a multiple of 8.
        let mut out = Vec::new();
        let start = begin(&mut out, &hdr(&name, &slots, PONG));
        out.extend_from_slice(&[0, 0, 0, 7, 0, 0, 0, 0]);
        or_mflags(&mut out, start, MF_EXT_DATA);
        finish(&mut out, start, 0, 1);
        assert!(Msg(&out)
            .validate()
            .unwrap_err()
            .contains("without proper padding"));
        // A huge count does not read past the end: it is only a length mismatch.
        let mut out = Vec::new();
        let start = begin(&mut out, &hdr(&name, &slots, MEET));
        finish(&mut out, start, u16::MAX, 0);
        assert!(Msg(&out).validate().is_err());
    }
}
