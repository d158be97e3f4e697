//! The RDB format's numbers, shared by the writer (rdb_save.rs), the reader
//! (rdb_load.rs) and DUMP payloads (codec.rs): the version, the opcodes that frame a
//! file, and the value type bytes (Redis's rdb.h).

/// The RDB version written, and the newest one read (Redis 7.0's).
pub const RDB_VERSION: u16 = 10;

// Opcodes.
pub const OP_FUNCTION2: u8 = 245;
pub const OP_FUNCTION: u8 = 246;
pub const OP_MODULE_AUX: u8 = 247;
pub const OP_IDLE: u8 = 248;
pub const OP_FREQ: u8 = 249;
pub const OP_AUX: u8 = 250;
pub const OP_RESIZEDB: u8 = 251;
pub const OP_EXPIRETIME_MS: u8 = 252;
pub const OP_EXPIRETIME: u8 = 253;
pub const OP_SELECTDB: u8 = 254;
pub const OP_EOF: u8 = 255;

// Value types.
pub const T_STRING: u8 = 0;
pub const T_LIST: u8 = 1;
pub const T_SET: u8 = 2;
pub const T_ZSET: u8 = 3;
pub const T_HASH: u8 = 4;
pub const T_ZSET_2: u8 = 5;
pub const T_MODULE: u8 = 6;
pub const T_MODULE_2: u8 = 7;
pub const T_HASH_ZIPMAP: u8 = 9;
pub const T_LIST_ZIPLIST: u8 = 10;
pub const T_SET_INTSET: u8 = 11;
pub const T_ZSET_ZIPLIST: u8 = 12;
pub const T_HASH_ZIPLIST: u8 = 13;
pub const T_LIST_QUICKLIST: u8 = 14;
pub const T_STREAM_LISTPACKS: u8 = 15;
pub const T_HASH_LISTPACK: u8 = 16;
pub const T_ZSET_LISTPACK: u8 = 17;
pub const T_LIST_QUICKLIST_2: u8 = 18;
pub const T_STREAM_LISTPACKS_2: u8 = 19;
