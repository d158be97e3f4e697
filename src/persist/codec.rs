//! DUMP payloads in Redis's own format, so that RESTORE takes what redis-server's DUMP
//! gives and the reverse, and MIGRATE works between the two: the value's RDB type byte
//! and object encoding (as in an RDB file, src/persist/rdb_save.rs and rdb_load.rs), then
//! the RDB version (2 bytes little-endian) and the CRC-64/Jones of everything before it
//! (8 bytes little-endian). FUNCTION DUMP uses the same framing around FUNCTION2 records.
//! Also MEMORY USAGE's estimate and MIGRATE's "still as sent" check.
use super::crc64::crc64;
use super::rdb_save::{self, Lru, Options, RDB_VERSION};
use crate::keyspace::{ValRef, Value};

pub use super::rdb_load::Shape;

pub const BAD_PAYLOAD: &str = "ERR DUMP payload version or checksum are wrong";
pub const BAD_FORMAT: &str = "ERR Bad data format";

/// How payloads are written: LZF for strings past 20 bytes when `rdbcompression` (as
/// Redis's DUMP), stream nodes cut by the default node limits.
const OPTS: Options<'static> = Options {
    compression: true,
    checksum: true,
    aux: &[],
    lru: Lru::None,
    stream_node_max_entries: 100,
    stream_node_max_bytes: 4096,
    key_save_delay_us: 0,
    compact: rdb_save::Compact::DEFAULT,
    progress: None,
};

/// The payload for a value (type, object, version, checksum); `compress` is the server's
/// rdbcompression.
pub fn serialize(v: ValRef, compress: bool) -> Vec<u8> {
    let opts = Options {
        compression: compress,
        ..OPTS
    };
    let mut b = vec![rdb_save::type_of(&v, &opts)];
    rdb_save::put_object(&mut b, &v, &opts);
    seal(b)
}

/// Append the version and checksum trailer.
fn seal(mut body: Vec<u8>) -> Vec<u8> {
    body.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(&body);
    body.extend_from_slice(&crc.to_le_bytes());
    body
}

/// FUNCTION DUMP: each library's code as a FUNCTION2 record, then the trailer.
pub fn serialize_libraries<'a>(codes: impl Iterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut b = Vec::new();
    for code in codes {
        b.push(rdb_save::OP_FUNCTION2);
        rdb_save::put_string(&mut b, code, OPTS.compression);
    }
    seal(b)
}

/// FUNCTION RESTORE: the libraries' code from a verified body, or Redis's error.
pub fn deserialize_libraries(body: &[u8]) -> Result<Vec<Vec<u8>>, &'static str> {
    super::rdb_load::load_functions(body)
}

/// Check the trailer: an RDB version this server reads (Redis's, up to 10) and the
/// checksum. Returns the body (type byte included).
pub fn verify(payload: &[u8]) -> Option<&[u8]> {
    if payload.len() < 10 {
        return None;
    }
    let (head, crc) = payload.split_at(payload.len() - 8);
    let (body, ver) = head.split_at(head.len() - 2);
    let crc = u64::from_le_bytes(crc.try_into().ok()?);
    let skip = SKIP_CHECKSUM.load(std::sync::atomic::Ordering::Relaxed);
    (u16::from_le_bytes([ver[0], ver[1]]) <= RDB_VERSION && (skip || crc64(head) == crc))
        .then_some(body)
}

/// Rebuild a value from a verified body; what is wrong when it is malformed.
pub fn deserialize(body: &[u8], opts: &super::rdb_load::LoadOpts) -> Result<Value, String> {
    super::rdb_load::load_object(body, opts)
}

/// DEBUG SET-SKIP-CHECKSUM-VALIDATION: RESTORE takes payloads whatever their checksum
/// (Redis's test suite uses it to feed corrupt payloads to the loader).
static SKIP_CHECKSUM: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub fn set_skip_checksum(yes: bool) {
    SKIP_CHECKSUM.store(yes, std::sync::atomic::Ordering::Relaxed);
}
