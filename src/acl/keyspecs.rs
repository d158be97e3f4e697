//! Where each command's keys are and how it uses them: Redis 7.0.15's key specs
//! (src/commands/*.json), reduced to what ACL checks need. `access` bits: 1 = the key's
//! value is read, 2 = it is written (insert, update or delete); 0 = neither (EXISTS, TYPE,
//! STRLEN...: any key pattern of the user must still match); NOT_KEY = a shard channel. Generated from the JSON
//! by a short script; sorted by name for binary search.
use super::keys::{Begin, Find, Spec, NOT_KEY};

pub static KEY_SPECS: &[(&str, &[Spec])] = &[
    (
        "append",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 2,
        }],
    ),
    (
        "bitcount",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "bitfield",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 3,
        }],
    ),
    (
        "bitfield_ro",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "bitop",
        &[
            Spec {
                begin: Begin::Index(2),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
                access: 2,
            },
            Spec {
                begin: Begin::Index(3),
                find: Find::Range {
                    last: -1,
                    step: 1,
                    limit: 0,
                },
                access: 1,
            },
        ],
    ),
    (
        "bitpos",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "blmove",
        &[
            Spec {
                begin: Begin::Index(1),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
                access: 3,
            },
            Spec {
                begin: Begin::Index(2),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
                access: 2,
            },
        ],
    ),
    (
        "blmpop",
        &[Spec {
            begin: Begin::Index(2),
            find: Find::Keynum {
                idx: 0,
                first: 1,
                step: 1,
            },
            access: 3,
        }],
    ),
    (
        "blpop",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: -2,
                step: 1,
                limit: 0,
            },
            access: 3,
        }],
    ),
    (
        "brpop",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: -2,
                step: 1,
                limit: 0,
            },
            access: 3,
        }],
    ),
    (
        "brpoplpush",
        &[
            Spec {
                begin: Begin::Index(1),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
                access: 3,
            },
            Spec {
                begin: Begin::Index(2),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
                access: 2,
            },
        ],
    ),
    (
        "bzmpop",
        &[Spec {
            begin: Begin::Index(2),
            find: Find::Keynum {
                idx: 0,
                first: 1,
                step: 1,
            },
            access: 3,
        }],
    ),
    (
        "bzpopmax",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: -2,
                step: 1,
                limit: 0,
            },
            access: 3,
        }],
    ),
    (
        "bzpopmin",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: -2,
                step: 1,
                limit: 0,
            },
            access: 3,
        }],
    ),
    (
        "copy",
        &[
            Spec {
                begin: Begin::Index(1),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
                access: 1,
            },
            Spec {
                begin: Begin::Index(2),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
                access: 2,
            },
        ],
    ),
    (
        "decr",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 3,
        }],
    ),
    (
        "decrby",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 3,
        }],
    ),
    (
        "del",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: -1,
                step: 1,
                limit: 0,
            },
            access: 2,
        }],
    ),
    (
        "dump",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "eval",
        &[Spec {
            begin: Begin::Index(2),
            find: Find::Keynum {
                idx: 0,
                first: 1,
                step: 1,
            },
            access: 3,
        }],
    ),
    (
        "eval_ro",
        &[Spec {
            begin: Begin::Index(2),
            find: Find::Keynum {
                idx: 0,
                first: 1,
                step: 1,
            },
            access: 1,
        }],
    ),
    (
        "evalsha",
        &[Spec {
            begin: Begin::Index(2),
            find: Find::Keynum {
                idx: 0,
                first: 1,
                step: 1,
            },
            access: 3,
        }],
    ),
    (
        "evalsha_ro",
        &[Spec {
            begin: Begin::Index(2),
            find: Find::Keynum {
                idx: 0,
                first: 1,
                step: 1,
            },
            access: 1,
        }],
    ),
    (
        "exists",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: -1,
                step: 1,
                limit: 0,
            },
            access: 0,
        }],
    ),
    (
        "expire",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 2,
        }],
    ),
    (
        "expireat",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 2,
        }],
    ),
    (
        "expiretime",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "fcall",
        &[Spec {
            begin: Begin::Index(2),
            find: Find::Keynum {
                idx: 0,
                first: 1,
                step: 1,
            },
            access: 3,
        }],
    ),
    (
        "fcall_ro",
        &[Spec {
            begin: Begin::Index(2),
            find: Find::Keynum {
                idx: 0,
                first: 1,
                step: 1,
            },
            access: 1,
        }],
    ),
    (
        "geoadd",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 2,
        }],
    ),
    (
        "geodist",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "geohash",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "geopos",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "georadius",
        &[
            Spec {
                begin: Begin::Index(1),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
                access: 1,
            },
            Spec {
                begin: Begin::Keyword("store", 6),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
                access: 2,
            },
            Spec {
                begin: Begin::Keyword("storedist", 6),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
                access: 2,
            },
        ],
    ),
    (
        "georadius_ro",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "georadiusbymember",
        &[
            Spec {
                begin: Begin::Index(1),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
                access: 1,
            },
            Spec {
                begin: Begin::Keyword("store", 5),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
                access: 2,
            },
            Spec {
                begin: Begin::Keyword("storedist", 5),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
                access: 2,
            },
        ],
    ),
    (
        "georadiusbymember_ro",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "geosearch",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "geosearchstore",
        &[
            Spec {
                begin: Begin::Index(1),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
                access: 2,
            },
            Spec {
                begin: Begin::Index(2),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
                access: 1,
            },
        ],
    ),
    (
        "get",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "getbit",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "getdel",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 3,
        }],
    ),
    (
        "getex",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 3,
        }],
    ),
    (
        "getrange",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "getset",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 3,
        }],
    ),
    (
        "hdel",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 2,
        }],
    ),
    (
        "hexists",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 0,
        }],
    ),
    (
        "hget",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "hgetall",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "hincrby",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 3,
        }],
    ),
    (
        "hincrbyfloat",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 3,
        }],
    ),
    (
        "hkeys",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "hlen",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 0,
        }],
    ),
    (
        "hmget",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "hmset",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 2,
        }],
    ),
    (
        "hrandfield",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "hscan",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "hset",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 2,
        }],
    ),
    (
        "hsetnx",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 2,
        }],
    ),
    (
        "hstrlen",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 0,
        }],
    ),
    (
        "hvals",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "incr",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 3,
        }],
    ),
    (
        "incrby",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 3,
        }],
    ),
    (
        "incrbyfloat",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 3,
        }],
    ),
    (
        "lcs",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 1,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "lindex",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "linsert",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 2,
        }],
    ),
    (
        "llen",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 0,
        }],
    ),
    (
        "lmove",
        &[
            Spec {
                begin: Begin::Index(1),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
                access: 3,
            },
            Spec {
                begin: Begin::Index(2),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
                access: 2,
            },
        ],
    ),
    (
        "lmpop",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Keynum {
                idx: 0,
                first: 1,
                step: 1,
            },
            access: 3,
        }],
    ),
    (
        "lpop",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 3,
        }],
    ),
    (
        "lpos",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "lpush",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 2,
        }],
    ),
    (
        "lpushx",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 2,
        }],
    ),
    (
        "lrange",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "lrem",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 2,
        }],
    ),
    (
        "lset",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 2,
        }],
    ),
    (
        "ltrim",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 2,
        }],
    ),
    (
        "memory|usage",
        &[Spec {
            begin: Begin::Index(2),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 0,
        }],
    ),
    (
        "mget",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: -1,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "migrate",
        &[
            Spec {
                begin: Begin::Index(3),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
                access: 3,
            },
            Spec {
                begin: Begin::Keyword("keys", -2),
                find: Find::Range {
                    last: -1,
                    step: 1,
                    limit: 0,
                },
                access: 3,
            },
        ],
    ),
    (
        "move",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 3,
        }],
    ),
    (
        "mset",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: -1,
                step: 2,
                limit: 0,
            },
            access: 2,
        }],
    ),
    (
        "msetnx",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: -1,
                step: 2,
                limit: 0,
            },
            access: 2,
        }],
    ),
    (
        "object|encoding",
        &[Spec {
            begin: Begin::Index(2),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 0,
        }],
    ),
    (
        "object|freq",
        &[Spec {
            begin: Begin::Index(2),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 0,
        }],
    ),
    (
        "object|idletime",
        &[Spec {
            begin: Begin::Index(2),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 0,
        }],
    ),
    (
        "object|refcount",
        &[Spec {
            begin: Begin::Index(2),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 0,
        }],
    ),
    (
        "persist",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 2,
        }],
    ),
    (
        "pexpire",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 2,
        }],
    ),
    (
        "pexpireat",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 2,
        }],
    ),
    (
        "pexpiretime",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "pfadd",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 2,
        }],
    ),
    (
        "pfcount",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: -1,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "pfdebug",
        &[Spec {
            begin: Begin::Index(2),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "pfmerge",
        &[
            Spec {
                begin: Begin::Index(1),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
                access: 3,
            },
            Spec {
                begin: Begin::Index(2),
                find: Find::Range {
                    last: -1,
                    step: 1,
                    limit: 0,
                },
                access: 1,
            },
        ],
    ),
    (
        "psetex",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 2,
        }],
    ),
    (
        "pttl",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "rename",
        &[
            Spec {
                begin: Begin::Index(1),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
                access: 3,
            },
            Spec {
                begin: Begin::Index(2),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
                access: 2,
            },
        ],
    ),
    (
        "renamenx",
        &[
            Spec {
                begin: Begin::Index(1),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
                access: 3,
            },
            Spec {
                begin: Begin::Index(2),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
                access: 2,
            },
        ],
    ),
    (
        "restore",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 2,
        }],
    ),
    (
        "restore-asking",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 2,
        }],
    ),
    (
        "rpop",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 3,
        }],
    ),
    (
        "rpoplpush",
        &[
            Spec {
                begin: Begin::Index(1),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
                access: 3,
            },
            Spec {
                begin: Begin::Index(2),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
                access: 2,
            },
        ],
    ),
    (
        "rpush",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 2,
        }],
    ),
    (
        "rpushx",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 2,
        }],
    ),
    (
        "sadd",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 2,
        }],
    ),
    (
        "scard",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 0,
        }],
    ),
    (
        "sdiff",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: -1,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "sdiffstore",
        &[
            Spec {
                begin: Begin::Index(1),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
                access: 2,
            },
            Spec {
                begin: Begin::Index(2),
                find: Find::Range {
                    last: -1,
                    step: 1,
                    limit: 0,
                },
                access: 1,
            },
        ],
    ),
    (
        "set",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 3,
        }],
    ),
    (
        "setbit",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 3,
        }],
    ),
    (
        "setex",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 2,
        }],
    ),
    (
        "setnx",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 2,
        }],
    ),
    (
        "setrange",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 2,
        }],
    ),
    (
        "sinter",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: -1,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "sintercard",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Keynum {
                idx: 0,
                first: 1,
                step: 1,
            },
            access: 1,
        }],
    ),
    (
        "sinterstore",
        &[
            Spec {
                begin: Begin::Index(1),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
                access: 2,
            },
            Spec {
                begin: Begin::Index(2),
                find: Find::Range {
                    last: -1,
                    step: 1,
                    limit: 0,
                },
                access: 1,
            },
        ],
    ),
    (
        "sismember",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 0,
        }],
    ),
    (
        "smembers",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "smismember",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "smove",
        &[
            Spec {
                begin: Begin::Index(1),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
                access: 3,
            },
            Spec {
                begin: Begin::Index(2),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
                access: 2,
            },
        ],
    ),
    (
        "sort",
        &[
            Spec {
                begin: Begin::Index(1),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
                access: 1,
            },
            Spec {
                begin: Begin::Unknown,
                find: Find::Unknown,
                access: 1,
            },
            Spec {
                begin: Begin::Unknown,
                find: Find::Unknown,
                access: 2,
            },
        ],
    ),
    (
        "sort_ro",
        &[
            Spec {
                begin: Begin::Index(1),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
                access: 1,
            },
            Spec {
                begin: Begin::Unknown,
                find: Find::Unknown,
                access: 1,
            },
        ],
    ),
    (
        "spop",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 3,
        }],
    ),
    (
        "spublish",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: NOT_KEY,
        }],
    ),
    (
        "srandmember",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "srem",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 2,
        }],
    ),
    (
        "sscan",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "ssubscribe",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: -1,
                step: 1,
                limit: 0,
            },
            access: NOT_KEY,
        }],
    ),
    (
        "strlen",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 0,
        }],
    ),
    (
        "substr",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "sunion",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: -1,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "sunionstore",
        &[
            Spec {
                begin: Begin::Index(1),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
                access: 2,
            },
            Spec {
                begin: Begin::Index(2),
                find: Find::Range {
                    last: -1,
                    step: 1,
                    limit: 0,
                },
                access: 1,
            },
        ],
    ),
    (
        "sunsubscribe",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: -1,
                step: 1,
                limit: 0,
            },
            access: NOT_KEY,
        }],
    ),
    (
        "touch",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: -1,
                step: 1,
                limit: 0,
            },
            access: 0,
        }],
    ),
    (
        "ttl",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "type",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 0,
        }],
    ),
    (
        "unlink",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: -1,
                step: 1,
                limit: 0,
            },
            access: 2,
        }],
    ),
    (
        "watch",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: -1,
                step: 1,
                limit: 0,
            },
            access: 0,
        }],
    ),
    (
        "xack",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 2,
        }],
    ),
    (
        "xadd",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 2,
        }],
    ),
    (
        "xautoclaim",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 2,
        }],
    ),
    (
        "xclaim",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 2,
        }],
    ),
    (
        "xdel",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 2,
        }],
    ),
    (
        "xgroup|create",
        &[Spec {
            begin: Begin::Index(2),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 2,
        }],
    ),
    (
        "xgroup|createconsumer",
        &[Spec {
            begin: Begin::Index(2),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 2,
        }],
    ),
    (
        "xgroup|delconsumer",
        &[Spec {
            begin: Begin::Index(2),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 2,
        }],
    ),
    (
        "xgroup|destroy",
        &[Spec {
            begin: Begin::Index(2),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 2,
        }],
    ),
    (
        "xgroup|setid",
        &[Spec {
            begin: Begin::Index(2),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 2,
        }],
    ),
    (
        "xinfo|consumers",
        &[Spec {
            begin: Begin::Index(2),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "xinfo|groups",
        &[Spec {
            begin: Begin::Index(2),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "xinfo|stream",
        &[Spec {
            begin: Begin::Index(2),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "xlen",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 0,
        }],
    ),
    (
        "xpending",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "xrange",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "xread",
        &[Spec {
            begin: Begin::Keyword("streams", 1),
            find: Find::Range {
                last: -1,
                step: 1,
                limit: 2,
            },
            access: 1,
        }],
    ),
    (
        "xreadgroup",
        &[Spec {
            begin: Begin::Keyword("streams", 4),
            find: Find::Range {
                last: -1,
                step: 1,
                limit: 2,
            },
            access: 1,
        }],
    ),
    (
        "xrevrange",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "xsetid",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 2,
        }],
    ),
    (
        "xtrim",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 2,
        }],
    ),
    (
        "zadd",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 2,
        }],
    ),
    (
        "zcard",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 0,
        }],
    ),
    (
        "zcount",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "zdiff",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Keynum {
                idx: 0,
                first: 1,
                step: 1,
            },
            access: 1,
        }],
    ),
    (
        "zdiffstore",
        &[
            Spec {
                begin: Begin::Index(1),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
                access: 2,
            },
            Spec {
                begin: Begin::Index(2),
                find: Find::Keynum {
                    idx: 0,
                    first: 1,
                    step: 1,
                },
                access: 1,
            },
        ],
    ),
    (
        "zincrby",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 3,
        }],
    ),
    (
        "zinter",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Keynum {
                idx: 0,
                first: 1,
                step: 1,
            },
            access: 1,
        }],
    ),
    (
        "zintercard",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Keynum {
                idx: 0,
                first: 1,
                step: 1,
            },
            access: 1,
        }],
    ),
    (
        "zinterstore",
        &[
            Spec {
                begin: Begin::Index(1),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
                access: 2,
            },
            Spec {
                begin: Begin::Index(2),
                find: Find::Keynum {
                    idx: 0,
                    first: 1,
                    step: 1,
                },
                access: 1,
            },
        ],
    ),
    (
        "zlexcount",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "zmpop",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Keynum {
                idx: 0,
                first: 1,
                step: 1,
            },
            access: 3,
        }],
    ),
    (
        "zmscore",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "zpopmax",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 3,
        }],
    ),
    (
        "zpopmin",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 3,
        }],
    ),
    (
        "zrandmember",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "zrange",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "zrangebylex",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "zrangebyscore",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "zrangestore",
        &[
            Spec {
                begin: Begin::Index(1),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
                access: 2,
            },
            Spec {
                begin: Begin::Index(2),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
                access: 1,
            },
        ],
    ),
    (
        "zrank",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "zrem",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 2,
        }],
    ),
    (
        "zremrangebylex",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 2,
        }],
    ),
    (
        "zremrangebyrank",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 2,
        }],
    ),
    (
        "zremrangebyscore",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 2,
        }],
    ),
    (
        "zrevrange",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "zrevrangebylex",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "zrevrangebyscore",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "zrevrank",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "zscan",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "zscore",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
            access: 1,
        }],
    ),
    (
        "zunion",
        &[Spec {
            begin: Begin::Index(1),
            find: Find::Keynum {
                idx: 0,
                first: 1,
                step: 1,
            },
            access: 1,
        }],
    ),
    (
        "zunionstore",
        &[
            Spec {
                begin: Begin::Index(1),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
                access: 2,
            },
            Spec {
                begin: Begin::Index(2),
                find: Find::Keynum {
                    idx: 0,
                    first: 1,
                    step: 1,
                },
                access: 1,
            },
        ],
    ),
];
