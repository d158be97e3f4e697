//! The keys a command names and the access it needs to each, from Redis's key specs
//! (generated table in keyspecs.rs), for the ACL key check.
use crate::commands::{Command, READONLY, WRITE};

pub const KEY_READ: u8 = 1;
pub const KEY_WRITE: u8 = 2;

/// Where the search for a spec's first key starts.
pub enum Begin {
    /// At this argument index.
    Index(i32),
    /// After this keyword, searched from `startfrom` (negative: backwards from the end).
    Keyword(&'static str, i32),
    /// Computed by the command itself (handled case by case).
    Unknown,
}

/// How many keys follow the beginning.
pub enum Find {
    /// Up to `last` (>= 0: relative to the first key; < 0: from the end), every `step`;
    /// with `limit` > 1 only 1/limit of the remaining arguments.
    Range {
        last: i32,
        step: i32,
        limit: i32,
    },
    /// A count at `idx` (relative to the beginning), keys from `first`, every `step`.
    Keynum {
        idx: i32,
        first: i32,
        step: i32,
    },
    Unknown,
}

pub struct Spec {
    pub begin: Begin,
    pub find: Find,
    pub access: u8,
}

/// (argument index, access needed) for each key; on the stack for the usual few keys, as
/// the ACL check runs for every command of a restricted user.
pub type KeyList = smallvec::SmallVec<[(usize, u8); 8]>;

/// (argument index, access needed) for every key of the command.
pub fn key_access(cmd: &Command, full_name: &str, argv: &[&[u8]]) -> KeyList {
    let specs = super::keyspecs::KEY_SPECS
        .binary_search_by(|(n, _)| n.cmp(&full_name))
        .ok()
        .map(|i| super::keyspecs::KEY_SPECS[i].1);
    let Some(specs) = specs else {
        // Not a Redis command (or none with keys): the table's positions, access from flags.
        let access = if cmd.flags & READONLY != 0 && cmd.flags & WRITE == 0 {
            KEY_READ
        } else {
            KEY_READ | KEY_WRITE
        };
        return crate::commands::server::key_positions(cmd, argv.len())
            .into_iter()
            .map(|p| (p, access))
            .collect();
    };
    let mut out = KeyList::new();
    // A spec with no access flags marks a shard channel (NOT_KEY in Redis), not a key.
    for spec in specs.iter().filter(|s| s.access != 0) {
        spec_keys(spec, argv, &mut out);
    }
    match full_name {
        "sort" | "sort_ro" => sort_store_key(argv, &mut out),
        // SET reads the old value only with GET (Redis's variable key-spec flags).
        "set" if !argv.iter().skip(3).any(|a| a.eq_ignore_ascii_case(b"get")) => {
            for k in &mut out {
                k.1 = KEY_WRITE;
            }
        }
        _ => {}
    }
    out
}

fn spec_keys(spec: &Spec, argv: &[&[u8]], out: &mut KeyList) {
    let argc = argv.len() as i32;
    let first = match spec.begin {
        Begin::Index(i) => i,
        Begin::Keyword(kw, from) => {
            let found = if from > 0 {
                (from..argc).find(|&i| argv[i as usize].eq_ignore_ascii_case(kw.as_bytes()))
            } else {
                (1..=argc + from)
                    .rev()
                    .find(|&i| argv[i as usize].eq_ignore_ascii_case(kw.as_bytes()))
            };
            match found {
                Some(i) => i + 1,
                None => return,
            }
        }
        Begin::Unknown => return,
    };
    let (first, last, step) = match spec.find {
        Find::Range { last, step, limit } => {
            let end = if last >= 0 {
                first + last
            } else if limit <= 1 {
                argc + last
            } else {
                first + ((argc - first) / limit + last)
            };
            (first, end, step)
        }
        Find::Keynum {
            idx,
            first: f,
            step,
        } => {
            let Some(n) = argv
                .get((first + idx) as usize)
                .and_then(|a| crate::util::parse_i64(a))
                .filter(|&n| n >= 0 && n <= argc as i64)
            else {
                return;
            };
            let start = first + f;
            (start, start + (n as i32 - 1) * step, step)
        }
        Find::Unknown => return,
    };
    let mut i = first;
    while i <= last && i < argc && i >= 1 {
        out.push((i as usize, spec.access));
        i += step.max(1);
    }
}

/// SORT ... STORE key: the destination is written (options with arguments are skipped).
fn sort_store_key(argv: &[&[u8]], out: &mut KeyList) {
    let mut i = 2;
    while i < argv.len() {
        let a = argv[i];
        if a.eq_ignore_ascii_case(b"limit") {
            i += 3;
        } else if a.eq_ignore_ascii_case(b"get") || a.eq_ignore_ascii_case(b"by") {
            i += 2;
        } else if a.eq_ignore_ascii_case(b"store") && i + 1 < argv.len() {
            out.push((i + 1, KEY_WRITE));
            i += 2;
        } else {
            i += 1;
        }
    }
}
