//! Where a command's keys are and what it does to each: Redis 7's key specs, the one source
//! for the ACL key check, COMMAND GETKEYS / GETKEYSANDFLAGS, COMMAND INFO (key specs and
//! the legacy first/last/step) and client-side caching. The specs come from Redis's
//! command JSON (generated into keyspec_table.rs by scripts/gen-keyspecs.py) and are
//! attached to the command table's entries by `Table::build`, with Redis's key-finding
//! procedure where it has one (SORT's STORE, MIGRATE's KEYS, SET's GET, BITFIELD's
//! reads...).
use super::Entry;
use crate::resp::Reply;

// Key-spec flags, in the order COMMAND INFO prints them.
pub const RO: u16 = 1 << 0;
pub const RW: u16 = 1 << 1;
pub const OW: u16 = 1 << 2;
pub const RM: u16 = 1 << 3;
pub const ACCESS: u16 = 1 << 4;
pub const UPDATE: u16 = 1 << 5;
pub const INSERT: u16 = 1 << 6;
pub const DELETE: u16 = 1 << 7;
pub const NOT_KEY: u16 = 1 << 8;
pub const INCOMPLETE: u16 = 1 << 9;
pub const VARIABLE_FLAGS: u16 = 1 << 10;

const FLAG_NAMES: [(u16, &str); 11] = [
    (RO, "RO"),
    (RW, "RW"),
    (OW, "OW"),
    (RM, "RM"),
    (ACCESS, "access"),
    (UPDATE, "update"),
    (INSERT, "insert"),
    (DELETE, "delete"),
    (NOT_KEY, "not_key"),
    (INCOMPLETE, "incomplete"),
    (VARIABLE_FLAGS, "variable_flags"),
];

/// Where the search for a spec's first key starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Begin {
    /// At this argument index.
    Index(i32),
    /// After this keyword, searched from `startfrom` (negative: backwards from the end).
    Keyword(&'static str, i32),
    Unknown,
}

/// Which arguments from the beginning are keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Find {
    /// Up to `lastkey` (>= 0: relative to the first key; < 0: from the end), every
    /// `keystep`; with `limit` > 1, only the first 1/limit of the remaining arguments.
    Range {
        lastkey: i32,
        keystep: i32,
        limit: i32,
    },
    /// A count at `keynumidx` (relative to the beginning); keys from `firstkey` (relative
    /// too), every `keystep`.
    Keynum {
        keynumidx: i32,
        firstkey: i32,
        keystep: i32,
    },
    Unknown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeySpec {
    pub flags: u16,
    pub begin: Begin,
    pub find: Find,
    pub notes: &'static str,
}

// Constructors for the generated table.
pub const fn ks(flags: u16, begin: Begin, find: Find) -> KeySpec {
    KeySpec {
        flags,
        begin,
        find,
        notes: "",
    }
}
impl KeySpec {
    pub const fn notes(mut self, notes: &'static str) -> Self {
        self.notes = notes;
        self
    }
}
pub const fn idx(pos: i32) -> Begin {
    Begin::Index(pos)
}
pub const fn kw(keyword: &'static str, startfrom: i32) -> Begin {
    Begin::Keyword(keyword, startfrom)
}
pub const fn range(lastkey: i32, keystep: i32, limit: i32) -> Find {
    Find::Range {
        lastkey,
        keystep,
        limit,
    }
}
pub const fn keynum(keynumidx: i32, firstkey: i32, keystep: i32) -> Find {
    Find::Keynum {
        keynumidx,
        firstkey,
        keystep,
    }
}

/// A key: its argument index and the key-spec flags of what the command does to it.
pub type KeyRef = (usize, u16);
/// On the stack for the usual few keys: the ACL check runs for every command of a user
/// with key patterns.
pub type KeyList = smallvec::SmallVec<[KeyRef; 8]>;

/// A command's own key finder (Redis's getkeys_proc), for what specs cannot say: keys
/// after an option anywhere (SORT ... STORE), flags that depend on the arguments (SET
/// with GET, BITFIELD with only GETs), and what a numkeys that the specs reject means.
pub type GetKeysProc = fn(&[&[u8]], &mut KeyList);

/// What a command table entry knows of its keys, fixed when the table is built.
#[derive(Clone, Copy, Debug, Default)]
pub struct KeyInfo {
    pub specs: &'static [KeySpec],
    pub proc: Option<GetKeysProc>,
    /// COMMAND INFO's first key, last key and step (Redis's legacy range).
    pub legacy: (i32, i32, i32),
    /// Specs alone cannot find the keys (some spec is not a plain range): COMMAND INFO's
    /// movablekeys.
    pub movable: bool,
}

impl KeyInfo {
    /// The specs (and procedure) Redis has for `full_name` ("get", "object|encoding").
    pub fn of(full_name: &str) -> KeyInfo {
        let t = super::keyspec_table::KEY_SPECS;
        let Ok(i) = t.binary_search_by(|(n, _, _)| (*n).cmp(full_name)) else {
            return KeyInfo::default();
        };
        let (specs, proc) = (t[i].1, t[i].2);
        let (legacy, movable) = legacy_range(specs);
        KeyInfo {
            specs,
            proc,
            legacy,
            movable,
        }
    }

    /// Whether the command has key arguments at all (COMMAND GETKEYS; the ACL key check):
    /// a procedure, or a spec that names real keys (not shard channels).
    pub fn has_keys(&self) -> bool {
        self.proc.is_some() || self.specs.iter().any(|s| s.flags & NOT_KEY == 0)
    }
}

/// Redis's legacy (first, last, step) of COMMAND INFO: the consecutive plain index ranges
/// merged, and whether other specs make the keys movable.
fn legacy_range(specs: &[KeySpec]) -> ((i32, i32, i32), bool) {
    let mut movable = false;
    if specs.is_empty() {
        return ((0, 0, 0), false);
    }
    if let [s] = specs {
        if let (
            Begin::Index(pos),
            Find::Range {
                lastkey, keystep, ..
            },
        ) = (s.begin, s.find)
        {
            let last = if lastkey >= 0 { pos + lastkey } else { lastkey };
            return ((pos, last, keystep), s.flags & INCOMPLETE != 0);
        }
    }
    let (mut first, mut last, mut prev_last) = (i32::MAX, 0i32, 0i32);
    for s in specs {
        let (
            Begin::Index(pos),
            Find::Range {
                lastkey, keystep, ..
            },
        ) = (s.begin, s.find)
        else {
            movable = true;
            continue;
        };
        if keystep != 1 || (prev_last != 0 && prev_last != pos - 1) {
            movable = true;
            continue;
        }
        movable |= s.flags & INCOMPLETE != 0;
        first = first.min(pos);
        let abs = if lastkey >= 0 { lastkey + pos } else { lastkey };
        // Compared unsigned, as Redis does: a negative (from the end) last key wins.
        last = (last as u32).max(abs as u32) as i32;
        prev_last = last;
    }
    if first == i32::MAX {
        return ((0, 0, 0), true);
    }
    ((first, last, 1), movable)
}

/// Every key of the command `argv` runs, with its flags (Redis's
/// getKeysFromCommandWithSpecs): the specs when they can tell, else the command's own
/// finder; `out` is cleared first.
pub fn keys_of(k: &KeyInfo, argv: &[&[u8]], out: &mut KeyList) {
    out.clear();
    let mut not_key_free = false;
    let mut variable = false;
    for s in k.specs {
        not_key_free |= s.flags & NOT_KEY == 0;
        variable |= s.flags & VARIABLE_FLAGS != 0;
    }
    if not_key_free && !variable && from_specs(k.specs, argv, out) {
        return;
    }
    out.clear();
    if let Some(proc) = k.proc {
        proc(argv, out);
    }
}

/// The keys the specs find (Redis's getKeysUsingKeySpecs without partial results); false
/// when a spec cannot tell (unknown, incomplete, or a numkeys or range that does not fit).
fn from_specs(specs: &[KeySpec], argv: &[&[u8]], out: &mut KeyList) -> bool {
    let argc = argv.len() as i32;
    for s in specs {
        if s.flags & NOT_KEY != 0 {
            continue;
        }
        let mut first = match s.begin {
            Begin::Index(pos) => pos,
            Begin::Keyword(word, startfrom) => {
                // Searched up to, not including, the last argument (the first, backwards).
                let (start, end) = if startfrom > 0 {
                    (startfrom, argc - 1)
                } else {
                    (argc + startfrom, 1)
                };
                let mut found = 0;
                let mut i = start;
                while i != end && i >= 1 && i < argc {
                    if argv[i as usize].eq_ignore_ascii_case(word.as_bytes()) {
                        found = i + 1;
                        break;
                    }
                    i += if start <= end { 1 } else { -1 };
                }
                if found == 0 {
                    continue;
                }
                found
            }
            Begin::Unknown => return false,
        };
        let (last, step) = match s.find {
            Find::Range {
                lastkey,
                keystep,
                limit,
            } => {
                let last = if lastkey >= 0 {
                    first + lastkey
                } else if limit == 0 {
                    argc + lastkey
                } else {
                    first + ((argc - first) / limit + lastkey)
                };
                (last, keystep)
            }
            Find::Keynum {
                keynumidx,
                firstkey,
                keystep,
            } => {
                let Some(n) = argv
                    .get((first + keynumidx) as usize)
                    .and_then(|a| crate::util::parse_i64(a))
                    .filter(|&n| n >= 0 && n <= i32::MAX as i64)
                else {
                    return false;
                };
                first += firstkey;
                (first + n as i32 - 1, keystep)
            }
            Find::Unknown => return false,
        };
        if last >= argc || last < first || first >= argc {
            return false;
        }
        let mut i = first;
        while i <= last {
            out.push((i as usize, s.flags));
            i += step.max(1);
        }
        if s.flags & INCOMPLETE != 0 {
            return false;
        }
    }
    true
}

/// The access an ACL key pattern must grant for a key with these flags: ACL_READ for
/// ACCESS, ACL_WRITE for INSERT, DELETE or UPDATE (none at all: any pattern matches).
#[inline]
pub fn acl_access(flags: u16) -> u8 {
    let mut a = 0;
    if flags & ACCESS != 0 {
        a |= crate::acl::KEY_READ;
    }
    if flags & (INSERT | DELETE | UPDATE) != 0 {
        a |= crate::acl::KEY_WRITE;
    }
    a
}

/// Key-spec flags as a set of words, as COMMAND INFO and GETKEYSANDFLAGS print them.
pub fn flags_reply(out: &mut Reply, flags: u16) {
    out.set((flags & ((1 << FLAG_NAMES.len()) - 1)).count_ones() as usize);
    for (bit, name) in FLAG_NAMES {
        if flags & bit != 0 {
            out.simple(name);
        }
    }
}

/// COMMAND INFO's key specs element.
pub fn specs_reply(out: &mut Reply, e: &Entry) {
    out.set(e.keys.specs.len());
    for s in e.keys.specs {
        out.map(if s.notes.is_empty() { 3 } else { 4 });
        if !s.notes.is_empty() {
            out.bulk_str("notes");
            out.bulk_str(s.notes);
        }
        out.bulk_str("flags");
        flags_reply(out, s.flags);
        out.bulk_str("begin_search");
        out.map(2);
        out.bulk_str("type");
        match s.begin {
            Begin::Index(pos) => {
                out.bulk_str("index");
                out.bulk_str("spec");
                out.map(1);
                out.bulk_str("index");
                out.int(pos as i64);
            }
            Begin::Keyword(word, startfrom) => {
                out.bulk_str("keyword");
                out.bulk_str("spec");
                out.map(2);
                out.bulk_str("keyword");
                out.bulk_str(word);
                out.bulk_str("startfrom");
                out.int(startfrom as i64);
            }
            Begin::Unknown => {
                out.bulk_str("unknown");
                out.bulk_str("spec");
                out.map(0);
            }
        }
        out.bulk_str("find_keys");
        out.map(2);
        out.bulk_str("type");
        match s.find {
            Find::Range {
                lastkey,
                keystep,
                limit,
            } => {
                out.bulk_str("range");
                out.bulk_str("spec");
                out.map(3);
                out.bulk_str("lastkey");
                out.int(lastkey as i64);
                out.bulk_str("keystep");
                out.int(keystep as i64);
                out.bulk_str("limit");
                out.int(limit as i64);
            }
            Find::Keynum {
                keynumidx,
                firstkey,
                keystep,
            } => {
                out.bulk_str("keynum");
                out.bulk_str("spec");
                out.map(3);
                out.bulk_str("keynumidx");
                out.int(keynumidx as i64);
                out.bulk_str("firstkey");
                out.int(firstkey as i64);
                out.bulk_str("keystep");
                out.int(keystep as i64);
            }
            Find::Unknown => {
                out.bulk_str("unknown");
                out.bulk_str("spec");
                out.map(0);
            }
        }
    }
}

// ---- the commands' own key finders (Redis's getkeys procedures) ----

fn is(a: &[u8], word: &str) -> bool {
    a.eq_ignore_ascii_case(word.as_bytes())
}

/// C's atoi as glibc has it (strtol, then truncated to int): leading blanks, a sign,
/// digits up to the first other byte; 0 when there are none.
fn atoi(a: &[u8]) -> i32 {
    let mut i = a
        .iter()
        .position(|c| !matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c))
        .unwrap_or(a.len());
    let neg = match a.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let mut n: i64 = 0;
    for &c in a[i..].iter().take_while(|c| c.is_ascii_digit()) {
        n = n.saturating_mul(10).saturating_add((c - b'0') as i64);
    }
    (if neg { n.saturating_neg() } else { n }) as i32
}

/// `[store] numkeys key...`: keys from `first` every `step` as many as the count at
/// `count` says, then the destination at `store` (0: none); none when the count does not
/// fit. No flags: the specs of these commands give them when the count is valid.
fn counted(
    argv: &[&[u8]],
    store: usize,
    count: usize,
    first: usize,
    step: usize,
    out: &mut KeyList,
) {
    let argc = argv.len();
    let Some(n) = argv.get(count).map(|a| atoi(a)) else {
        return;
    };
    if n < 1 || first > argc || n as usize > (argc - first) / step {
        return;
    }
    out.extend((0..n as usize).map(|i| (first + i * step, 0)));
    if store != 0 {
        out.push((store, 0));
    }
}

pub fn sintercard_keys(argv: &[&[u8]], out: &mut KeyList) {
    counted(argv, 0, 1, 2, 1, out)
}
pub fn zunion_inter_diff_store_keys(argv: &[&[u8]], out: &mut KeyList) {
    counted(argv, 1, 2, 3, 1, out)
}
pub fn zunion_inter_diff_keys(argv: &[&[u8]], out: &mut KeyList) {
    counted(argv, 0, 1, 2, 1, out)
}
pub fn eval_keys(argv: &[&[u8]], out: &mut KeyList) {
    counted(argv, 0, 2, 3, 1, out)
}
pub fn function_keys(argv: &[&[u8]], out: &mut KeyList) {
    counted(argv, 0, 2, 3, 1, out)
}
pub fn lmpop_keys(argv: &[&[u8]], out: &mut KeyList) {
    counted(argv, 0, 1, 2, 1, out)
}
pub fn blmpop_keys(argv: &[&[u8]], out: &mut KeyList) {
    counted(argv, 0, 2, 3, 1, out)
}
pub fn zmpop_keys(argv: &[&[u8]], out: &mut KeyList) {
    counted(argv, 0, 1, 2, 1, out)
}

/// SORT_RO: the sorted key (BY and GET patterns name keys only through its content).
pub fn sort_ro_keys(_: &[&[u8]], out: &mut KeyList) {
    out.push((1, RO | ACCESS));
}

/// SORT: the sorted key, and the last STORE's destination. Options are skipped by their
/// argument counts (LIMIT 2, BY and GET 1); the word after STORE is looked at as an
/// option again, as SORT itself parses.
pub fn sort_keys(argv: &[&[u8]], out: &mut KeyList) {
    out.push((1, RO | ACCESS));
    let mut store = None;
    let mut i = 2;
    while i < argv.len() {
        let a = argv[i];
        if is(a, "limit") {
            i += 2;
        } else if is(a, "store") && i + 1 < argv.len() {
            store = Some(i + 1);
        } else if is(a, "get") || is(a, "by") {
            i += 1;
        }
        i += 1;
    }
    if let Some(s) = store {
        out.push((s, OW | UPDATE));
    }
}

/// MIGRATE: its key, or with KEYS (and an empty key) the keys after KEYS; none for a key
/// given both ways (the command then answers the syntax error).
pub fn migrate_keys(argv: &[&[u8]], out: &mut KeyList) {
    let argc = argv.len();
    let (mut first, mut num) = (3, 1);
    let mut i = 6;
    while i < argc {
        let a = argv[i];
        if is(a, "keys") {
            if !argv[3].is_empty() {
                num = 0;
            } else {
                first = i + 1;
                num = argc - first;
            }
            break;
        }
        if is(a, "auth") {
            i += 1;
        } else if is(a, "auth2") {
            i += 2;
        }
        i += 1;
    }
    out.extend((first..first + num).map(|p| (p, RW | ACCESS | DELETE)));
}

/// GEORADIUS / GEORADIUSBYMEMBER: the key, and the last STORE or STOREDIST destination.
pub fn georadius_keys(argv: &[&[u8]], out: &mut KeyList) {
    let mut stored = None;
    let mut i = 5;
    while i < argv.len() {
        if (is(argv[i], "store") || is(argv[i], "storedist")) && i + 1 < argv.len() {
            stored = Some(i + 1);
            i += 1;
        }
        i += 1;
    }
    out.push((1, 0));
    out.extend(stored.map(|s| (s, 0)));
}

/// XREAD / XREADGROUP: the first half of what follows STREAMS (options before it are
/// skipped by their argument counts); none for an odd count or no STREAMS.
pub fn xread_keys(argv: &[&[u8]], out: &mut KeyList) {
    let argc = argv.len();
    let mut streams = None;
    let mut i = 1;
    while i < argc {
        let a = argv[i];
        if is(a, "block") || is(a, "count") {
            i += 1;
        } else if is(a, "group") {
            i += 2;
        } else if is(a, "streams") {
            streams = Some(i);
            break;
        } else if !is(a, "noack") {
            break;
        }
        i += 1;
    }
    let Some(s) = streams else {
        return;
    };
    let num = argc - s - 1;
    if num == 0 || !num.is_multiple_of(2) {
        return;
    }
    out.extend((s + 1..s + 1 + num / 2).map(|p| (p, 0)));
}

/// SET: its key is read too with GET.
pub fn set_keys(argv: &[&[u8]], out: &mut KeyList) {
    let get = argv.iter().skip(3).any(|a| is(a, "get"));
    out.push((
        1,
        if get {
            RW | ACCESS | UPDATE
        } else {
            OW | UPDATE
        },
    ));
}

/// BITFIELD: a read when it has only GET and OVERFLOW subcommands (anything it cannot
/// parse counts as a write).
pub fn bitfield_keys(argv: &[&[u8]], out: &mut KeyList) {
    let mut readonly = true;
    let mut i = 2;
    while i < argv.len() {
        let left = argv.len() - i - 1;
        let a = argv[i];
        if is(a, "get") && left >= 2 {
            i += 2;
        } else if (is(a, "set") || is(a, "incrby")) && left >= 3 {
            readonly = false;
            break;
        } else if is(a, "overflow") && left >= 1 {
            i += 1;
        } else {
            readonly = false;
            break;
        }
        i += 1;
    }
    out.push((
        1,
        if readonly {
            RO | ACCESS
        } else {
            RW | ACCESS | UPDATE
        },
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::{families, Table, MOVABLE_KEYS};

    #[test]
    fn table_is_sorted_and_every_row_is_found() {
        let t = super::super::keyspec_table::KEY_SPECS;
        assert!(t.windows(2).all(|w| w[0].0 < w[1].0), "rows not sorted");
        for (name, specs, proc) in t {
            let k = KeyInfo::of(name);
            assert_eq!(k.specs, *specs, "{name}");
            assert_eq!(k.proc.map(|p| p as usize), proc.map(|p| p as usize));
            assert!(k.has_keys() || specs.iter().all(|s| s.flags & NOT_KEY != 0));
        }
        assert!(KeyInfo::of("nosuch").specs.is_empty());
        assert_eq!(KeyInfo::of("get").legacy, (1, 1, 1));
    }

    #[test]
    fn every_served_command_has_redis_specs_attached() {
        let table = Table::build(&families());
        let spec_names: std::collections::HashSet<&str> = super::super::keyspec_table::KEY_SPECS
            .iter()
            .map(|r| r.0)
            .collect();
        let mut served = 0;
        for e in &table.entries {
            let expected = KeyInfo::of(&e.full_name);
            assert_eq!(e.keys.specs, expected.specs, "{}", e.full_name);
            if spec_names.contains(e.full_name.as_str()) {
                served += 1;
                assert!(!e.keys.specs.is_empty() || e.keys.proc.is_some());
            }
            // Redis derives movablekeys from the specs; the rows say it by hand.
            assert_eq!(
                e.cmd.flags & MOVABLE_KEYS != 0,
                e.keys.movable,
                "movablekeys of {}",
                e.full_name
            );
        }
        assert!(served > 150, "only {served} commands found their specs");
    }

    fn keys(name: &str, argv: &[&str]) -> Vec<(usize, u16)> {
        let argv: Vec<&[u8]> = argv.iter().map(|a| a.as_bytes()).collect();
        let mut out = KeyList::new();
        keys_of(&KeyInfo::of(name), &argv, &mut out);
        out.into_vec()
    }

    #[test]
    fn specs_and_procedures_find_keys() {
        assert_eq!(keys("get", &["get", "k"]), [(1, RO | ACCESS)]);
        assert_eq!(
            keys("mset", &["mset", "a", "1", "b", "2"]),
            [(1, OW | UPDATE), (3, OW | UPDATE)]
        );
        assert_eq!(keys("set", &["set", "k", "v"]), [(1, OW | UPDATE)]);
        assert_eq!(
            keys("set", &["set", "k", "v", "GET"]),
            [(1, RW | ACCESS | UPDATE)]
        );
        assert_eq!(
            keys(
                "zunionstore",
                &["zunionstore", "d", "2", "a", "b", "weights", "1", "2"]
            ),
            [(1, OW | UPDATE), (3, RO | ACCESS), (4, RO | ACCESS)]
        );
        assert_eq!(
            keys("zunionstore", &["zunionstore", "d", "3", "a", "b"]),
            []
        );
        assert_eq!(keys("eval", &["eval", "s", "0"]), []);
        // A count Redis's strict parse rejects but its fallback (atoi) reads.
        assert_eq!(keys("eval", &["eval", "s", "+1", "k"]), [(3, 0)]);
        assert_eq!(
            keys(
                "sort",
                &["sort", "k", "by", "w*", "store", "d", "limit", "0", "1"]
            ),
            [(1, RO | ACCESS), (5, OW | UPDATE)]
        );
        assert_eq!(
            keys(
                "migrate",
                &["migrate", "h", "1", "", "0", "5", "auth", "p", "keys", "a", "b"]
            )
            .len(),
            2
        );
        assert_eq!(
            keys(
                "xread",
                &["xread", "count", "2", "streams", "a", "b", "0", "0"]
            ),
            [(4, RO | ACCESS), (5, RO | ACCESS)]
        );
        assert_eq!(
            keys("bitfield", &["bitfield", "k", "get", "u8", "0"]),
            [(1, RO | ACCESS)]
        );
        assert_eq!(
            keys("bitfield", &["bitfield", "k", "set", "u8", "0", "1"]),
            [(1, RW | ACCESS | UPDATE)]
        );
    }

    #[test]
    fn legacy_ranges() {
        assert_eq!(KeyInfo::of("mset").legacy, (1, -1, 2));
        assert_eq!(KeyInfo::of("lmove").legacy, (1, 2, 1));
        assert_eq!(KeyInfo::of("blpop").legacy, (1, -2, 1));
        assert_eq!(KeyInfo::of("eval").legacy, (0, 0, 0));
        assert!(KeyInfo::of("eval").movable);
        assert_eq!(KeyInfo::of("zunionstore").legacy, (1, 1, 1));
        assert_eq!(KeyInfo::of("object|encoding").legacy, (2, 2, 1));
    }
}
