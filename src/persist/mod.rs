//! Persistence and the serialized forms of values: the value codec shared by DUMP/RESTORE,
//! MIGRATE and FUNCTION DUMP (and next RDB, AOF and full sync), and the CRC-64 Redis uses.
pub mod aof;
pub mod codec;
pub mod crc64;
pub mod listpack;
pub mod lzf;
pub mod rdb;
pub mod rdb_load;
pub mod rdb_save;
pub mod snapshot;
