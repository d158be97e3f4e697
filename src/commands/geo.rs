//! GEO commands: positions kept as sorted-set scores (see `types::geohash`).
//!
//! GEOADD is ZADD with scores computed from coordinates; the searches (GEORADIUS*,
//! GEOSEARCH, GEOSEARCHSTORE) scan the score ranges of up to 9 geohash cells and keep the
//! members inside the shape, in Redis's order, sorted on request.
use super::zset::{add_flags, fit_encoding, limits, store_zset, with_zset, zadd_items};
use super::*;
use crate::resp::Reply;
use crate::types::geohash::{self, Shape};
use crate::types::zset::{ScoreRange, ZSet};
use crate::util::{eq_ic, parse_f64};

pub static COMMANDS: &[Command] = &[
    cmd("geoadd", -5, WRITE | DENYOOM, GEO, geoadd),
    cmd("geodist", -4, READONLY, GEO, geodist),
    cmd("geohash", -2, READONLY, GEO, geohash),
    cmd("geopos", -2, READONLY, GEO, geopos),
    cmd(
        "georadius",
        -6,
        WRITE | DENYOOM | MOVABLE_KEYS,
        GEO,
        georadius,
    ),
    cmd("georadius_ro", -6, READONLY, GEO, georadius_ro),
    cmd(
        "georadiusbymember",
        -5,
        WRITE | DENYOOM | MOVABLE_KEYS,
        GEO,
        georadiusbymember,
    ),
    cmd(
        "georadiusbymember_ro",
        -5,
        READONLY,
        GEO,
        georadiusbymember_ro,
    ),
    cmd("geosearch", -7, READONLY, GEO, geosearch),
    cmd("geosearchstore", -8, WRITE | DENYOOM, GEO, geosearchstore),
];

const BAD_MEMBER: &str = "ERR could not decode requested zset member";

/// Longitude and latitude from two arguments, with Redis's errors.
fn lon_lat(ctx: &mut Ctx, lon: &[u8], lat: &[u8]) -> Option<[f64; 2]> {
    let (Some(x), Some(y)) = (parse_f64(lon), parse_f64(lat)) else {
        ctx.out.error(NOT_FLOAT);
        return None;
    };
    if !(geohash::LON_MIN..=geohash::LON_MAX).contains(&x)
        || !(geohash::LAT_MIN..=geohash::LAT_MAX).contains(&y)
    {
        ctx.out.error(&format!(
            "ERR invalid longitude,latitude pair {x:.6},{y:.6}"
        ));
        return None;
    }
    Some([x, y])
}

/// Metres per unit, or the error replied.
fn unit(ctx: &mut Ctx, u: &[u8]) -> Option<f64> {
    let m = if eq_ic(u, "m") {
        1.0
    } else if eq_ic(u, "km") {
        1000.0
    } else if eq_ic(u, "ft") {
        0.3048
    } else if eq_ic(u, "mi") {
        1609.34
    } else {
        ctx.out
            .error("ERR unsupported unit provided. please use M, KM, FT, MI");
        return None;
    };
    Some(m)
}

/// A non-negative number argument or the given error.
fn size_arg(ctx: &mut Ctx, a: &[u8], not_number: &str, negative: &str) -> Option<f64> {
    match parse_f64(a) {
        None => {
            ctx.out.error(not_number);
            None
        }
        Some(v) if v < 0.0 => {
            ctx.out.error(negative);
            None
        }
        Some(v) => Some(v),
    }
}

/// A coordinate as Redis prints it: "%.17Lf" of the exact value, trailing zeros cut.
fn coord_text(v: f64) -> String {
    let s = format!("{v:.17}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

/// A coordinate reply: RESP3 double, RESP2 bulk string.
fn coord(out: &mut Reply, v: f64) {
    out.double_text(&coord_text(v));
}

/// A distance reply: 4 decimals, rounded half to even as llrint does.
fn dist_text(d: f64) -> String {
    let scaled = (d * 10000.0).round_ties_even();
    format!("{:.4}", scaled / 10000.0)
}

fn geoadd(ctx: &mut Ctx, args: Args) {
    let (f, i) = add_flags(args, false);
    let rest = args.len() - i;
    if rest == 0 || !rest.is_multiple_of(3) || (f.nx && f.xx) {
        return ctx.out.error(SYNTAX);
    }
    let mut items = Vec::with_capacity(rest / 3);
    for j in (i..args.len()).step_by(3) {
        let Some([lon, lat]) = lon_lat(ctx, args.get(j), args.get(j + 1)) else {
            return;
        };
        let score = geohash::score_of(lon, lat).unwrap_or(0);
        items.push((score as f64, args.get(j + 2)));
    }
    zadd_items(ctx, args.get(1), f, &items);
}

fn geopos(ctx: &mut Ctx, args: Args) {
    let n = args.len() - 2;
    let reply = |z: Option<&ZSet>, out: &mut Reply| {
        out.array(n);
        for m in args.iter().skip(2) {
            match z.and_then(|z| z.score(m)).and_then(geohash::position_of) {
                Some([lon, lat]) => {
                    out.array(2);
                    coord(out, lon);
                    coord(out, lat);
                }
                None => out.null_array(),
            }
        }
    };
    if let Ok(pos) = typed_pos::<ZSet>(ctx, args.get(1)) {
        let (db, out) = ctx.db_out();
        reply(pos.map(|s| db.at_as::<ZSet>(s)), out);
    }
}

fn geohash(ctx: &mut Ctx, args: Args) {
    let n = args.len() - 2;
    if let Ok(pos) = typed_pos::<ZSet>(ctx, args.get(1)) {
        let (db, out) = ctx.db_out();
        let z = pos.map(|s| db.at_as::<ZSet>(s));
        out.array(n);
        for m in args.iter().skip(2) {
            match z.and_then(|z| z.score(m)).and_then(geohash::geohash_string) {
                Some(h) => out.bulk(&h),
                None => out.null(),
            }
        }
    }
}

fn geodist(ctx: &mut Ctx, args: Args) {
    let to_m = match args.len() {
        4 => 1.0,
        5 => match unit(ctx, args.get(4)) {
            Some(u) => u,
            None => return,
        },
        _ => return ctx.out.error(SYNTAX),
    };
    let (a, b) = (args.get(2), args.get(3));
    with_zset(
        ctx,
        args.get(1),
        |o| o.null(),
        |z, o| {
            let pos = |m| z.score(m).and_then(geohash::position_of);
            match (pos(a), pos(b)) {
                (Some([x1, y1]), Some([x2, y2])) => {
                    o.bulk(dist_text(geohash::distance(x1, y1, x2, y2) / to_m).as_bytes())
                }
                _ => o.null(),
            }
        },
    );
}

#[derive(Clone, Copy, PartialEq)]
enum Sort {
    None,
    Asc,
    Desc,
}

/// Which command's argument layout is being read.
#[derive(Clone, Copy, PartialEq)]
enum Form {
    /// GEORADIUS[_RO] key lon lat radius unit ...
    Coords { store: bool },
    /// GEORADIUSBYMEMBER[_RO] key member radius unit ...
    Member { store: bool },
    /// GEOSEARCH key ...
    Search,
    /// GEOSEARCHSTORE dst src ...
    SearchStore,
}

/// One member found by a search.
struct Found<'a> {
    member: &'a [u8],
    score: f64,
    dist: f64,
    pos: [f64; 2],
}

fn georadius(ctx: &mut Ctx, args: Args) {
    search(ctx, args, Form::Coords { store: true })
}
fn georadius_ro(ctx: &mut Ctx, args: Args) {
    search(ctx, args, Form::Coords { store: false })
}
fn georadiusbymember(ctx: &mut Ctx, args: Args) {
    search(ctx, args, Form::Member { store: true })
}
fn georadiusbymember_ro(ctx: &mut Ctx, args: Args) {
    search(ctx, args, Form::Member { store: false })
}
fn geosearch(ctx: &mut Ctx, args: Args) {
    search(ctx, args, Form::Search)
}
fn geosearchstore(ctx: &mut Ctx, args: Args) {
    search(ctx, args, Form::SearchStore)
}

/// The centre of a search from a member's position, or the error replied.
fn member_center(ctx: &mut Ctx, pos: usize, m: &[u8]) -> Option<[f64; 2]> {
    let z = ctx.dbm().at_as::<ZSet>(pos);
    let p = z.score(m).and_then(geohash::position_of);
    if p.is_none() {
        ctx.out.error(BAD_MEMBER);
    }
    p
}

/// Radius and metres per unit from `<radius> <unit>`.
fn radius_arg(ctx: &mut Ctx, r: &[u8], u: &[u8]) -> Option<(f64, f64)> {
    let r = size_arg(
        ctx,
        r,
        "ERR need numeric radius",
        "ERR radius cannot be negative",
    )?;
    Some((r, unit(ctx, u)?))
}

/// All the search commands (Redis's georadiusGeneric): parse, scan, reply or store.
fn search(ctx: &mut Ctx, args: Args, form: Form) {
    let src = args.get(if form == Form::SearchStore { 2 } else { 1 });
    let Ok(pos) = typed_pos::<ZSet>(ctx, src) else {
        return;
    };
    let mut center = None;
    // (size in the unit, metres per unit)
    let mut shape: Option<(Shape, f64)> = None;
    let mut store: Option<&[u8]> = None;
    let base = match form {
        Form::Coords { .. } => {
            center = Some(match lon_lat(ctx, args.get(2), args.get(3)) {
                Some(c) => c,
                None => return,
            });
            let Some((r, to_m)) = radius_arg(ctx, args.get(4), args.get(5)) else {
                return;
            };
            shape = Some((Shape::Radius(r), to_m));
            6
        }
        Form::Member { .. } => {
            if let Some(s) = pos {
                center = Some(match member_center(ctx, s, args.get(2)) {
                    Some(c) => c,
                    None => return,
                });
                let Some((r, to_m)) = radius_arg(ctx, args.get(3), args.get(4)) else {
                    return;
                };
                shape = Some((Shape::Radius(r), to_m));
            }
            5
        }
        Form::Search => 2,
        Form::SearchStore => {
            store = Some(args.get(1));
            3
        }
    };
    let may_store = matches!(
        form,
        Form::Coords { store: true } | Form::Member { store: true }
    );
    let searching = matches!(form, Form::Search | Form::SearchStore);
    let (mut withdist, mut withhash, mut withcoord, mut any) = (false, false, false, false);
    let (mut from_member, mut from_lonlat, mut by_radius, mut by_box) =
        (false, false, false, false);
    let mut storedist = false;
    let mut sort = Sort::None;
    let mut count: i64 = 0;
    let mut i = base;
    while i < args.len() {
        let a = args.get(i);
        let left = args.len() - i - 1;
        if eq_ic(a, "withdist") {
            withdist = true;
        } else if eq_ic(a, "withhash") {
            withhash = true;
        } else if eq_ic(a, "withcoord") {
            withcoord = true;
        } else if eq_ic(a, "any") {
            any = true;
        } else if eq_ic(a, "asc") {
            sort = Sort::Asc;
        } else if eq_ic(a, "desc") {
            sort = Sort::Desc;
        } else if eq_ic(a, "count") && left >= 1 {
            let Some(n) = int_arg(ctx, args.get(i + 1)) else {
                return;
            };
            if n <= 0 {
                return ctx.out.error("ERR COUNT must be > 0");
            }
            count = n;
            i += 1;
        } else if (eq_ic(a, "store") || eq_ic(a, "storedist")) && left >= 1 && may_store {
            store = Some(args.get(i + 1));
            storedist = eq_ic(a, "storedist");
            i += 1;
        } else if eq_ic(a, "storedist") && form == Form::SearchStore {
            storedist = true;
        } else if eq_ic(a, "frommember") && left >= 1 && searching && !from_lonlat {
            // Without a source key the arguments are still checked, then the reply is empty.
            if let Some(s) = pos {
                center = Some(match member_center(ctx, s, args.get(i + 1)) {
                    Some(c) => c,
                    None => return,
                });
            }
            from_member = true;
            i += 1;
        } else if eq_ic(a, "fromlonlat") && left >= 2 && searching && !from_member {
            center = Some(match lon_lat(ctx, args.get(i + 1), args.get(i + 2)) {
                Some(c) => c,
                None => return,
            });
            from_lonlat = true;
            i += 2;
        } else if eq_ic(a, "byradius") && left >= 2 && searching && !by_box {
            let Some((r, to_m)) = radius_arg(ctx, args.get(i + 1), args.get(i + 2)) else {
                return;
            };
            shape = Some((Shape::Radius(r), to_m));
            by_radius = true;
            i += 2;
        } else if eq_ic(a, "bybox") && left >= 3 && searching && !by_radius {
            let not_num = |what| format!("ERR need numeric {what}");
            let neg = "ERR height or width cannot be negative";
            let Some(w) = size_arg(ctx, args.get(i + 1), &not_num("width"), neg) else {
                return;
            };
            let Some(h) = size_arg(ctx, args.get(i + 2), &not_num("height"), neg) else {
                return;
            };
            let Some(to_m) = unit(ctx, args.get(i + 3)) else {
                return;
            };
            shape = Some((
                Shape::Box {
                    width: w,
                    height: h,
                },
                to_m,
            ));
            by_box = true;
            i += 3;
        } else {
            return ctx.out.error(SYNTAX);
        }
        i += 1;
    }
    if store.is_some() && (withdist || withhash || withcoord) {
        let what = if form == Form::SearchStore {
            "GEOSEARCHSTORE"
        } else {
            "STORE option in GEORADIUS"
        };
        return ctx.out.error(&format!(
            "ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
        ));
    }
    let name = String::from_utf8_lossy(args.get(0));
    if searching && !(from_member || from_lonlat) {
        return ctx.out.error(&format!(
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}"
        ));
    }
    if searching && !(by_radius || by_box) {
        return ctx.out.error(&format!(
            "ERR exactly one of BYRADIUS and BYBOX can be specified for {name}"
        ));
    }
    if any && count == 0 {
        return ctx
            .out
            .error("ERR the ANY argument requires COUNT argument");
    }
    let (Some(pos), Some(center), Some((shape, to_m))) = (pos, center, shape) else {
        // No source key.
        return match store {
            Some(dst) => store_found(ctx, dst, Vec::new(), ""),
            None => ctx.out.array(0),
        };
    };
    if count != 0 && sort == Sort::None && !any {
        sort = Sort::Asc;
    }
    let shape_m = match shape {
        Shape::Radius(r) => Shape::Radius(r * to_m),
        Shape::Box { width, height } => Shape::Box {
            width: width * to_m,
            height: height * to_m,
        },
    };
    let limit = if any { count as usize } else { 0 };
    let (db, out) = ctx.db_out();
    let mut found = scan(db.at_as::<ZSet>(pos), center, shape_m, limit);
    match sort {
        Sort::None => {}
        Sort::Asc => found.sort_by(|a, b| a.dist.total_cmp(&b.dist)),
        Sort::Desc => found.sort_by(|a, b| b.dist.total_cmp(&a.dist)),
    }
    if count > 0 {
        found.truncate(count as usize);
    }
    for f in found.iter_mut() {
        f.dist /= to_m;
    }
    if let Some(dst) = store {
        // The members are copied out before the destination is written.
        let owned: Vec<(Box<[u8]>, f64)> = found
            .iter()
            .map(|f| (f.member.into(), if storedist { f.dist } else { f.score }))
            .collect();
        let event = if searching {
            "geosearchstore"
        } else {
            "georadiusstore"
        };
        return store_found(ctx, dst, owned, event);
    }
    let extras = withdist as usize + withhash as usize + withcoord as usize;
    out.array(found.len());
    for f in &found {
        if extras > 0 {
            out.array(extras + 1);
        }
        out.bulk(f.member);
        if withdist {
            out.bulk(dist_text(f.dist).as_bytes());
        }
        if withhash {
            out.int(f.score as i64);
        }
        if withcoord {
            out.array(2);
            coord(out, f.pos[0]);
            coord(out, f.pos[1]);
        }
    }
}

/// Members inside the shape, scanning the search cells in Redis's order; with a limit
/// (ANY), stop once that many are found.
fn scan(z: &ZSet, center: [f64; 2], shape: Shape, limit: usize) -> Vec<Found<'_>> {
    let cells = geohash::search_cells(center, shape);
    let mut found = Vec::new();
    let mut last: Option<geohash::Cell> = None;
    for (i, cell) in cells.iter().enumerate() {
        let Some(cell) = *cell else { continue };
        // Huge radii make neighbours coincide: a cell equal to the one just scanned is
        // skipped (as Redis does, the centre cell never counts as "just scanned").
        if last == Some(cell) {
            continue;
        }
        if limit > 0 && found.len() >= limit {
            break;
        }
        let (min, max) = geohash::score_range(cell);
        let range = ScoreRange {
            min,
            max,
            min_ex: false,
            max_ex: true,
        };
        let (first, end) = z.score_span(&range);
        if end > first {
            for (member, score) in z.range(first, end - 1, false) {
                if let Some(pos) = geohash::position_of(score) {
                    if let Some(dist) = geohash::within(center, shape, pos) {
                        found.push(Found {
                            member,
                            score,
                            dist,
                            pos,
                        });
                    }
                }
                if limit > 0 && found.len() >= limit {
                    break;
                }
            }
        }
        last = (i > 0).then_some(cell);
    }
    found
}

/// STORE / STOREDIST / GEOSEARCHSTORE: replace `dst` with the results; replies their count.
fn store_found(ctx: &mut Ctx, dst: &[u8], items: Vec<(Box<[u8]>, f64)>, event: &str) {
    let mut z = ZSet::new_skiplist();
    for (m, s) in &items {
        z.insert(m, *s);
    }
    fit_encoding(&mut z, limits(ctx));
    store_zset(ctx, dst, z, event);
    if !items.is_empty() {
        // Redis counts one change per stored member.
        ctx.srv.data.dirty += items.len() as u64 - 1;
    }
}
