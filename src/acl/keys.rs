//! The keys a command names and the access it needs to each, from Redis's key specs
//! (generated table in keyspecs.rs), for the ACL key check.
use crate::commands::{Command, READONLY, WRITE};

pub const KEY_READ: u8 = 1;
pub const KEY_WRITE: u8 = 2;
/// A spec naming something that is not a key (Redis's NOT_KEY: shard channels).
pub const NOT_KEY: u8 = 4;

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

/// (argument index, access needed, index of the key spec that found it) for each key; on
/// the stack for the usual few keys, as the ACL check runs for every command of a
/// restricted user.
pub type KeyList = smallvec::SmallVec<[(usize, u8, usize); 8]>;

fn specs_of(full_name: &str) -> Option<&'static [Spec]> {
    super::keyspecs::KEY_SPECS
        .binary_search_by(|(n, _)| n.cmp(&full_name))
        .ok()
        .map(|i| super::keyspecs::KEY_SPECS[i].1)
}

/// Whether the command takes key arguments at all (COMMAND GETKEYS): a shard channel's
/// spec does not count.
pub fn has_keys(cmd: &Command, full_name: &str) -> bool {
    match specs_of(full_name) {
        Some(specs) => specs.iter().any(|s| s.access != NOT_KEY),
        None => cmd.keys.first > 0,
    }
}

/// Every key of the command, movable ones included (numkeys, STREAMS, STORE...).
pub fn key_access(cmd: &Command, full_name: &str, argv: &[&[u8]]) -> KeyList {
    let Some(specs) = specs_of(full_name) else {
        // Not a Redis command (or none with keys): the table's positions, access from flags.
        let access = if cmd.flags & READONLY != 0 && cmd.flags & WRITE == 0 {
            KEY_READ
        } else {
            KEY_READ | KEY_WRITE
        };
        return crate::commands::server::key_positions(cmd, argv.len())
            .into_iter()
            .map(|p| (p, access, 0))
            .collect();
    };
    let mut out = KeyList::new();
    // A key with access 0 (EXISTS, TYPE...) still has to match one of the user's patterns.
    for (i, spec) in specs
        .iter()
        .enumerate()
        .filter(|(_, s)| s.access != NOT_KEY)
    {
        if !spec_keys(spec, i, argv, &mut out) {
            // A numkeys that does not fit the arguments: no keys at all, as the
            // command-specific key finders of Redis (ZUNIONSTORE, EVAL...) answer.
            out.clear();
            return out;
        }
    }
    match full_name {
        "sort" | "sort_ro" => sort_store_key(argv, &mut out),
        // SET reads the old value only with GET (Redis's variable key-spec flags).
        "set" if !argv.iter().skip(3).any(|a| a.eq_ignore_ascii_case(b"get")) => {
            for k in &mut out {
                k.1 = KEY_WRITE;
            }
        }
        // MIGRATE's "" key (with KEYS) names no key, as Redis's MIGRATE key finder says.
        "migrate" if argv.get(3).is_some_and(|k| k.is_empty()) => out.retain(|k| k.0 != 3),
        // BITFIELD with only GETs is a read.
        "bitfield" if bitfield_reads_only(argv) => {
            for k in &mut out {
                k.1 = KEY_READ;
            }
        }
        _ => {}
    }
    out
}

/// Append the keys `spec` finds. False when its numkeys argument is invalid.
fn spec_keys(spec: &Spec, index: usize, argv: &[&[u8]], out: &mut KeyList) -> bool {
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
                None => return true,
            }
        }
        Begin::Unknown => return true,
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
                return false;
            };
            if n > 0 && first + f + (n as i32 - 1) * step >= argc {
                return false;
            }
            let start = first + f;
            (start, start + (n as i32 - 1) * step, step)
        }
        Find::Unknown => return true,
    };
    // Past the end (e.g. a numkeys larger than the arguments): no keys from this spec, as
    // in Redis; the command itself then rejects its arguments.
    if last >= argc || last < first {
        return true;
    }
    let mut i = first;
    while i <= last && i < argc && i >= 1 {
        out.push((i as usize, spec.access, index));
        i += step.max(1);
    }
    true
}

/// SORT ... STORE key: the destination (the last STORE's) is written; the options with
/// arguments are skipped. It is key spec 2 of SORT (1 is BY/GET's patterns).
fn sort_store_key(argv: &[&[u8]], out: &mut KeyList) {
    let mut store = None;
    let mut i = 2;
    while i < argv.len() {
        let a = argv[i];
        if a.eq_ignore_ascii_case(b"limit") {
            i += 3;
        } else if a.eq_ignore_ascii_case(b"get") || a.eq_ignore_ascii_case(b"by") {
            i += 2;
        } else if a.eq_ignore_ascii_case(b"store") && i + 1 < argv.len() {
            store = Some(i + 1);
            i += 2;
        } else {
            i += 1;
        }
    }
    out.extend(store.map(|s| (s, KEY_WRITE, 2)));
}

/// Whether a BITFIELD call has GET and OVERFLOW subcommands only; anything else (SET,
/// INCRBY, a syntax error) counts as a write, as Redis decides.
fn bitfield_reads_only(argv: &[&[u8]]) -> bool {
    let mut i = 2;
    while i < argv.len() {
        let left = argv.len() - i - 1;
        let a = argv[i];
        if a.eq_ignore_ascii_case(b"get") && left >= 2 {
            i += 3;
        } else if a.eq_ignore_ascii_case(b"overflow") && left >= 1 {
            i += 2;
        } else {
            return false;
        }
    }
    true
}
