//! SORT and SORT_RO: sort a list, set or sorted set numerically or by bytes, optionally by
//! the values of other keys (BY pattern, `*` replaced by the element, `->field` reads a hash
//! field), fetch other keys per element (GET), LIMIT the range, STORE the result as a list.
//! ALPHA compares raw bytes (Redis uses strcoll, which is the same in the C locale).
use super::*;
use crate::keyspace::{Db, ValRef, Value, NO_EXPIRE};
use crate::util::eq_ic;
use std::borrow::Cow;
use std::cmp::Ordering;

const CATS: u32 = SET | SORTEDSET | LIST | DANGEROUS;

pub static COMMANDS: &[Command] = &[
    cmd("sort", -2, WRITE | DENYOOM | MOVABLE_KEYS, CATS, sort),
    cmd("sort_ro", -2, READONLY | MOVABLE_KEYS, CATS, sort_ro),
];

const SCORE_ERR: &str = "ERR One or more scores can't be converted into double";

struct Opts<'a> {
    desc: bool,
    alpha: bool,
    limit_start: i64,
    limit_count: i64,
    by: Option<&'a [u8]>,
    /// BY without `*`: keep the container's own order.
    dontsort: bool,
    store: Option<&'a [u8]>,
    gets: Vec<&'a [u8]>,
}

fn sort(ctx: &mut Ctx, args: Args) {
    sort_generic(ctx, args, false)
}

fn sort_ro(ctx: &mut Ctx, args: Args) {
    sort_generic(ctx, args, true)
}

/// BY and GET patterns read keys the ACL check never saw: they need a user who may read
/// every key.
fn reads_all_keys(ctx: &Ctx, args: Args) -> bool {
    ctx.srv
        .cmds
        .lookup(args.get(0))
        .is_some_and(|id| crate::acl::reads_all_keys(ctx.srv, ctx.id, id, args))
}

/// Parse the options; `None` means an error was replied.
fn parse<'a>(ctx: &mut Ctx, args: Args<'a>, readonly: bool) -> Option<Opts<'a>> {
    let mut o = Opts {
        desc: false,
        alpha: false,
        limit_start: 0,
        limit_count: -1,
        by: None,
        dontsort: false,
        store: None,
        gets: Vec::new(),
    };
    let mut j = 2;
    while j < args.len() {
        let a = args.get(j);
        let left = args.len() - j - 1;
        if eq_ic(a, "asc") {
            o.desc = false;
        } else if eq_ic(a, "desc") {
            o.desc = true;
        } else if eq_ic(a, "alpha") {
            o.alpha = true;
        } else if eq_ic(a, "limit") && left >= 2 {
            o.limit_start = int_arg(ctx, args.get(j + 1))?;
            o.limit_count = int_arg(ctx, args.get(j + 2))?;
            j += 2;
        } else if !readonly && eq_ic(a, "store") && left >= 1 {
            o.store = Some(args.get(j + 1));
            j += 1;
        } else if eq_ic(a, "by") && left >= 1 {
            let p = args.get(j + 1);
            o.by = Some(p);
            o.dontsort = !p.contains(&b'*');
            if !o.dontsort && !reads_all_keys(ctx, args) {
                ctx.out
                    .error("ERR BY option of SORT denied due to insufficient ACL permissions.");
                return None;
            }
            j += 1;
        } else if eq_ic(a, "get") && left >= 1 {
            if !reads_all_keys(ctx, args) {
                ctx.out
                    .error("ERR GET option of SORT denied due to insufficient ACL permissions.");
                return None;
            }
            o.gets.push(args.get(j + 1));
            j += 1;
        } else {
            ctx.out.error(SYNTAX);
            return None;
        }
        j += 1;
    }
    Some(o)
}

/// What a BY/GET pattern names for one element: `#` is the element itself; otherwise the
/// first `*` is replaced by the element and the key read as a string, or, with `->field`
/// after the `*`, as a hash field. Missing keys, wrong types and patterns without `*` give None.
fn lookup_pattern<'e>(db: &mut Db, pat: &[u8], elem: &'e [u8]) -> Option<Cow<'e, [u8]>> {
    if pat == b"#" {
        return Some(Cow::Borrowed(elem));
    }
    let star = pat.iter().position(|&c| c == b'*')?;
    let after = &pat[star + 1..];
    let field = after
        .windows(2)
        .position(|w| w == b"->")
        .filter(|&f| f + 2 < after.len());
    let (post, field) = match field {
        Some(f) => (&after[..f], Some(&after[f + 2..])),
        None => (after, None),
    };
    let mut key = Vec::with_capacity(star + elem.len() + post.len());
    key.extend_from_slice(&pat[..star]);
    key.extend_from_slice(elem);
    key.extend_from_slice(post);
    let e = db.get(&key)?;
    match (e.val(), field) {
        (ValRef::Hash(h), Some(f)) => h.get(f).map(|v| Cow::Owned(v.to_vec())),
        (ValRef::Str(s), None) => Some(Cow::Owned(s.to_vec())),
        (ValRef::Int(n), None) => Some(Cow::Owned(itoa::Buffer::new().format(n).into())),
        _ => None,
    }
}

/// A sort weight as strtod reads it: leading blanks allowed, the whole rest must parse,
/// NaN and overflow refused. The empty string is 0, as with strtod.
fn weight(b: &[u8]) -> Option<f64> {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let t = &b[start..];
    if t.is_empty() {
        return if b.is_empty() { Some(0.0) } else { None };
    }
    let v = crate::util::parse_f64(t)?;
    // strtod takes "inf" spelled out, but an overflowing finite form is ERANGE.
    let spelled_inf = t.iter().any(|c| c.eq_ignore_ascii_case(&b'i'));
    (v.is_finite() || spelled_inf).then_some(v)
}

/// The elements to sort and the (start, end) output range over them, following Redis: with
/// a constant BY, lists and sorted sets are read already in range and direction.
fn load(val: ValRef, o: &Opts) -> (Vec<Box<[u8]>>, i64, i64) {
    let len = match val {
        ValRef::List(l) => l.len(),
        ValRef::Set(s) => s.len(),
        ValRef::ZSet(z) => z.len(),
        _ => 0,
    } as i64;
    let mut start = o.limit_start.max(0).min(len);
    let count = o.limit_count.max(-1).min(len);
    let mut end = if count < 0 {
        len - 1
    } else {
        start + count - 1
    };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    if end >= len {
        end = len - 1;
    }
    let mut v: Vec<Box<[u8]>> = Vec::new();
    match val {
        ValRef::List(l) if o.dontsort && end >= start => {
            let (s, n) = (start as usize, (end - start + 1) as usize);
            if o.desc {
                v.extend(l.iter().rev().skip(s).take(n).map(|e| e.into()));
            } else {
                v.extend(l.iter().skip(s).take(n).map(|e| e.into()));
            }
            end -= start;
            start = 0;
        }
        ValRef::List(_) if o.dontsort => {}
        ValRef::ZSet(z) if o.dontsort => {
            if end >= start {
                v.extend(
                    z.range(start as usize, end as usize, o.desc)
                        .map(|(m, _)| Box::<[u8]>::from(m)),
                );
            }
            end -= start;
            start = 0;
        }
        ValRef::List(l) => v.extend(l.iter().map(|e| e.into())),
        ValRef::Set(s) => s.for_each(|m| v.push(m.into())),
        ValRef::ZSet(z) => v.extend(z.iter().map(|(m, _)| Box::<[u8]>::from(m))),
        _ => {}
    }
    (v, start, end)
}

/// An element with its numeric weight and, for ALPHA BY, the bytes it is compared by.
type Weighed = (f64, Option<Vec<u8>>, Box<[u8]>);

fn sort_generic(ctx: &mut Ctx, args: Args, readonly: bool) {
    let Some(mut o) = parse(ctx, args, readonly) else {
        return;
    };
    let key = args.get(1);
    let db = ctx.db;
    let (fill, depth) = (
        ctx.srv.cfg.list_max_listpack_size,
        ctx.srv.cfg.list_compress_depth,
    );
    let in_script = ctx.srv.data.scripting.calling;
    let empty = crate::keyspace::List::default();
    let found = ctx.srv.data.ks.dbs[db].get(key).is_some();
    ctx.hit(found);
    let (mut elems, start, end) = {
        let val = match ctx.srv.data.ks.dbs[db].get(key) {
            Some(e) => e.val(),
            None => ValRef::List(&empty),
        };
        if !matches!(val, ValRef::List(_) | ValRef::Set(_) | ValRef::ZSet(_)) {
            return ctx.out.error(WRONGTYPE);
        }
        // A set has no order of its own: when the result is stored or a script asked,
        // sort it so that it is reproducible (as Redis, for replicas and scripts).
        if o.dontsort && matches!(val, ValRef::Set(_)) && (o.store.is_some() || in_script) {
            o.dontsort = false;
            o.alpha = true;
            o.by = None;
        }
        load(val, &o)
    };
    let mut bad_score = false;
    if !o.dontsort {
        let dbm = &mut ctx.srv.data.ks.dbs[db];
        // Weights: (numeric score, alpha compare bytes); a missing BY key weighs 0 / nothing.
        let mut keyed: Vec<Weighed> = Vec::with_capacity(elems.len());
        for el in elems.drain(..) {
            let mut score = 0.0;
            let mut cmp = None;
            let by = match o.by {
                Some(p) => lookup_pattern(dbm, p, &el).map(|c| c.into_owned()),
                None => None,
            };
            let byval: Option<&[u8]> = match o.by {
                Some(_) => by.as_deref(),
                None => Some(&el),
            };
            if let Some(bv) = byval {
                if o.alpha {
                    if o.by.is_some() {
                        cmp = Some(bv.to_vec());
                    }
                } else {
                    match weight(bv) {
                        Some(s) => score = s,
                        None => bad_score = true,
                    }
                }
            }
            keyed.push((score, cmp, el));
        }
        let (alpha, by_pattern, desc) = (o.alpha, o.by.is_some(), o.desc);
        keyed.sort_by(|a, b| {
            let c = if !alpha {
                a.0.partial_cmp(&b.0)
                    .unwrap_or(Ordering::Equal)
                    .then_with(|| a.2.cmp(&b.2))
            } else if by_pattern {
                match (&a.1, &b.1) {
                    (Some(x), Some(y)) => x.cmp(y),
                    (None, None) => Ordering::Equal,
                    (None, _) => Ordering::Less,
                    (_, None) => Ordering::Greater,
                }
            } else {
                a.2.cmp(&b.2)
            };
            if desc {
                c.reverse()
            } else {
                c
            }
        });
        elems.extend(keyed.into_iter().map(|k| k.2));
    }
    if bad_score {
        return ctx.out.error(SCORE_ERR);
    }
    let range: &[Box<[u8]>] = if end >= start {
        &elems[start as usize..=end as usize]
    } else {
        &[]
    };
    let per = o.gets.len().max(1);
    let outputlen = range.len() * per;
    let dbm = &mut ctx.srv.data.ks.dbs[db];
    match o.store {
        None => {
            ctx.out.array(outputlen);
            for el in range {
                if o.gets.is_empty() {
                    ctx.out.bulk(el);
                }
                for g in &o.gets {
                    match lookup_pattern(dbm, g, el) {
                        Some(v) => ctx.out.bulk(&v),
                        None => ctx.out.null(),
                    }
                }
            }
        }
        Some(dst) => {
            let mut list = crate::keyspace::List::new(fill, depth);
            for el in range {
                if o.gets.is_empty() {
                    list.push_back(el);
                }
                for g in &o.gets {
                    let v = lookup_pattern(dbm, g, el).unwrap_or(Cow::Borrowed(b""));
                    list.push_back(&v);
                }
            }
            if outputlen > 0 {
                dbm.set(dst, Value::List(Box::new(list)), NO_EXPIRE, false);
                ctx.modified(dst);
                ctx.srv.data.dirty += outputlen as u64 - 1;
            } else if dbm.remove(dst).is_some() {
                ctx.modified(dst);
            }
            ctx.out.int(outputlen as i64);
        }
    }
}
