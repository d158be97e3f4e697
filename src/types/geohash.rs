//! Geohash arithmetic for the GEO commands, bit-compatible with Redis.
//!
//! A position is stored as a sorted-set score: 26 bits of longitude and 26 of latitude
//! interleaved (latitude in the even bits) over Redis's ranges (±180, ±85.05112878, the
//! Web Mercator limits). Searches look up the geohash cell of the centre at a precision
//! chosen from the radius plus its 8 neighbours, each cell being one score range, and
//! filter the members found by true distance. Every step follows Redis's choices (cell
//! size, which neighbours are skipped, the haversine with Redis's earth radius) so that
//! replies, including their order when unsorted, are the same as redis-server's.

pub const STEP_MAX: u8 = 26;
pub const LAT_MIN: f64 = -85.05112878;
pub const LAT_MAX: f64 = 85.05112878;
pub const LON_MIN: f64 = -180.0;
pub const LON_MAX: f64 = 180.0;

const EARTH_RADIUS_M: f64 = 6372797.560856;
const MERCATOR_MAX: f64 = 20037726.37;
const DEG_TO_RAD: f64 = std::f64::consts::PI / 180.0;

/// The first `step` bits of each coordinate, interleaved.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Cell {
    pub bits: u64,
    pub step: u8,
}

#[derive(Clone, Copy, Debug)]
struct Range {
    min: f64,
    max: f64,
}

const LON_RANGE: Range = Range {
    min: LON_MIN,
    max: LON_MAX,
};
const LAT_RANGE: Range = Range {
    min: LAT_MIN,
    max: LAT_MAX,
};

/// The rectangle a cell covers.
#[derive(Clone, Copy, Debug)]
struct Area {
    lon: Range,
    lat: Range,
}

fn rad(deg: f64) -> f64 {
    deg * DEG_TO_RAD
}
fn deg(rad: f64) -> f64 {
    rad / DEG_TO_RAD
}

/// Spread the 32 bits of `v` to the even bit positions of a u64.
fn spread(v: u32) -> u64 {
    let mut x = v as u64;
    x = (x | x << 16) & 0x0000_FFFF_0000_FFFF;
    x = (x | x << 8) & 0x00FF_00FF_00FF_00FF;
    x = (x | x << 4) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | x << 2) & 0x3333_3333_3333_3333;
    (x | x << 1) & 0x5555_5555_5555_5555
}

/// Gather the even bits of `x` into a u32 (inverse of `spread`).
fn squash(x: u64) -> u32 {
    let mut x = x & 0x5555_5555_5555_5555;
    x = (x | x >> 1) & 0x3333_3333_3333_3333;
    x = (x | x >> 2) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | x >> 4) & 0x00FF_00FF_00FF_00FF;
    x = (x | x >> 8) & 0x0000_FFFF_0000_FFFF;
    (x | x >> 16) as u32
}

fn encode_in(lon_r: Range, lat_r: Range, lon: f64, lat: f64, step: u8) -> Option<Cell> {
    if !(LON_MIN..=LON_MAX).contains(&lon) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
        return None;
    }
    if lat < lat_r.min || lat > lat_r.max || lon < lon_r.min || lon > lon_r.max {
        return None;
    }
    let scale = (1u64 << step) as f64;
    let lat_off = (lat - lat_r.min) / (lat_r.max - lat_r.min) * scale;
    let lon_off = (lon - lon_r.min) / (lon_r.max - lon_r.min) * scale;
    Some(Cell {
        bits: spread(lat_off as u32) | spread(lon_off as u32) << 1,
        step,
    })
}

/// The cell of a position at `step` bits per coordinate (None outside the valid ranges).
pub fn encode(lon: f64, lat: f64, step: u8) -> Option<Cell> {
    encode_in(LON_RANGE, LAT_RANGE, lon, lat, step)
}

fn decode_in(lon_r: Range, lat_r: Range, c: Cell) -> Option<Area> {
    if c.bits == 0 && c.step == 0 {
        return None;
    }
    let scale = (1u64 << c.step) as f64;
    let lat_i = squash(c.bits) as f64;
    let lon_i = squash(c.bits >> 1) as f64;
    let (lat_span, lon_span) = (lat_r.max - lat_r.min, lon_r.max - lon_r.min);
    Some(Area {
        lat: Range {
            min: lat_r.min + (lat_i / scale) * lat_span,
            max: lat_r.min + ((lat_i + 1.0) / scale) * lat_span,
        },
        lon: Range {
            min: lon_r.min + (lon_i / scale) * lon_span,
            max: lon_r.min + ((lon_i + 1.0) / scale) * lon_span,
        },
    })
}

fn decode(c: Cell) -> Option<Area> {
    decode_in(LON_RANGE, LAT_RANGE, c)
}

/// The score GEOADD stores for a position (52 bits), None outside the valid ranges.
pub fn score_of(lon: f64, lat: f64) -> Option<u64> {
    encode(lon, lat, STEP_MAX).map(align52)
}

/// The position (longitude, latitude) a score stands for: the centre of its cell.
pub fn position_of(score: f64) -> Option<[f64; 2]> {
    let a = decode(Cell {
        bits: score as u64,
        step: STEP_MAX,
    })?;
    let lon = ((a.lon.min + a.lon.max) / 2.0).clamp(LON_MIN, LON_MAX);
    let lat = ((a.lat.min + a.lat.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    Some([lon, lat])
}

fn align52(c: Cell) -> u64 {
    c.bits << (52 - 2 * c.step as u32)
}

/// Scores [min, max) of every position inside a cell.
pub fn score_range(c: Cell) -> (f64, f64) {
    let next = Cell {
        bits: c.bits + 1,
        step: c.step,
    };
    (align52(c) as f64, align52(next) as f64)
}

/// Move a cell one step along the bits selected by `mask` (odd bits: longitude, even:
/// latitude), wrapping around within its precision.
fn shift(c: &mut Cell, mask: u64, forward: bool) {
    let width = 64 - 2 * c.step as u32;
    let mine = c.bits & mask;
    let other = c.bits & !mask;
    // All the bits of the other coordinate, within the precision: adding one past them
    // carries straight into the next bit of this coordinate.
    let gaps = (!mask) >> width;
    let moved = if forward {
        mine.wrapping_add(gaps + 1)
    } else {
        (mine | gaps).wrapping_sub(gaps + 1)
    };
    c.bits = (moved & (mask >> width)) | other;
}

const LON_BITS: u64 = 0xAAAA_AAAA_AAAA_AAAA;
const LAT_BITS: u64 = 0x5555_5555_5555_5555;

fn moved(c: Cell, east: i8, north: i8) -> Cell {
    let mut n = c;
    if east != 0 {
        shift(&mut n, LON_BITS, east > 0);
    }
    if north != 0 {
        shift(&mut n, LAT_BITS, north > 0);
    }
    n
}

/// What a search covers: a circle or a box (sizes in metres) around a centre.
#[derive(Clone, Copy, Debug)]
pub enum Shape {
    Radius(f64),
    Box { width: f64, height: f64 },
}

/// Bounding box (min lon, min lat, max lon, max lat) of a shape around `center`.
fn bounds(center: [f64; 2], shape: Shape) -> [f64; 4] {
    let [lon, lat] = center;
    let (half_w, half_h) = match shape {
        Shape::Radius(r) => (r, r),
        Shape::Box { width, height } => (width / 2.0, height / 2.0),
    };
    let lat_delta = deg(half_h / EARTH_RADIUS_M);
    let lon_delta_top = deg(half_w / EARTH_RADIUS_M / rad(lat + lat_delta).cos());
    let lon_delta_bottom = deg(half_w / EARTH_RADIUS_M / rad(lat - lat_delta).cos());
    // The wider edge is the one nearer the equator.
    let lon_delta = if lat < 0.0 {
        lon_delta_bottom
    } else {
        lon_delta_top
    };
    [
        lon - lon_delta,
        lat - lat_delta,
        lon + lon_delta,
        lat + lat_delta,
    ]
}

/// Cell precision for a search radius: cells about as large as the radius, coarser
/// towards the poles where cells narrow.
fn steps_for(mut range_m: f64, lat: f64) -> u8 {
    if range_m == 0.0 {
        return STEP_MAX;
    }
    let mut step: i32 = 1;
    while range_m < MERCATOR_MAX {
        range_m *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, STEP_MAX as i32) as u8
}

/// The cells to scan for a search, in Redis's order: the centre's, then north, south,
/// east, west, north-east, north-west, south-east, south-west. Cells the search area
/// cannot reach are None.
pub fn search_cells(center: [f64; 2], shape: Shape) -> [Option<Cell>; 9] {
    let [min_lon, min_lat, max_lon, max_lat] = bounds(center, shape);
    let radius = match shape {
        Shape::Radius(r) => r,
        Shape::Box { width, height } => ((width / 2.0).powi(2) + (height / 2.0).powi(2)).sqrt(),
    };
    let [lon, lat] = center;
    let mut step = steps_for(radius, lat);
    let mut cell = encode(lon, lat, step).unwrap_or_default();
    // A centre near the edge of its cell may need a coarser cell for the neighbours to
    // cover the whole area.
    let reaches = |c: Cell| {
        let a = |e, n| decode(moved(c, e, n));
        let short = |a: Option<Area>, f: &dyn Fn(Area) -> bool| a.is_some_and(f);
        short(a(0, 1), &|x| x.lat.max < max_lat)
            || short(a(0, -1), &|x| x.lat.min > min_lat)
            || short(a(1, 0), &|x| x.lon.max < max_lon)
            || short(a(-1, 0), &|x| x.lon.min > min_lon)
    };
    if step > 1 && reaches(cell) {
        step -= 1;
        cell = encode(lon, lat, step).unwrap_or_default();
    }
    const DIRS: [(i8, i8); 9] = [
        (0, 0),
        (0, 1),
        (0, -1),
        (1, 0),
        (-1, 0),
        (1, 1),
        (-1, 1),
        (1, -1),
        (-1, -1),
    ];
    let mut cells = DIRS.map(|(e, n)| Some(moved(cell, e, n)));
    if step >= 2 {
        if let Some(area) = decode(cell) {
            let drop_south = area.lat.min < min_lat;
            let drop_north = area.lat.max > max_lat;
            let drop_west = area.lon.min < min_lon;
            let drop_east = area.lon.max > max_lon;
            for (c, &(e, n)) in cells.iter_mut().zip(DIRS.iter()) {
                if (n < 0 && drop_south)
                    || (n > 0 && drop_north)
                    || (e < 0 && drop_west)
                    || (e > 0 && drop_east)
                {
                    *c = None;
                }
            }
        }
    }
    cells
}

fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS_M * (rad(lat2) - rad(lat1)).abs()
}

/// Great-circle distance in metres (haversine on Redis's earth radius).
pub fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let v = ((rad(lon2) - rad(lon1)) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let (lat1r, lat2r) = (rad(lat1), rad(lat2));
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_M * a.sqrt().asin()
}

/// The distance from `center` to `point` if the point lies inside the shape.
pub fn within(center: [f64; 2], shape: Shape, point: [f64; 2]) -> Option<f64> {
    let ([x1, y1], [x2, y2]) = (center, point);
    match shape {
        Shape::Radius(r) => Some(distance(x1, y1, x2, y2)).filter(|&d| d <= r),
        Shape::Box { width, height } => {
            if lat_distance(y2, y1) > height / 2.0 || distance(x2, y2, x1, y2) > width / 2.0 {
                return None;
            }
            Some(distance(x1, y1, x2, y2))
        }
    }
}

/// The standard 11-character geohash of a stored score (re-encoded over ±90 latitude,
/// as the standard defines, not Redis's internal range; the 11th character is '0').
pub fn geohash_string(score: f64) -> Option<[u8; 11]> {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let [lon, lat] = position_of(score)?;
    let std_lat = Range {
        min: -90.0,
        max: 90.0,
    };
    let bits = encode_in(LON_RANGE, std_lat, lon, lat, STEP_MAX)?.bits;
    let mut out = [b'0'; 11];
    for (i, c) in out.iter_mut().enumerate().take(10) {
        *c = ALPHABET[((bits >> (52 - (i + 1) * 5)) & 0x1f) as usize];
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_and_squash_are_inverse() {
        for v in [0u32, 1, 0x3ff_ffff, 0xdead_beef, u32::MAX] {
            assert_eq!(squash(spread(v)), v);
            assert_eq!(spread(v) & !LAT_BITS, 0);
        }
    }

    #[test]
    fn scores_and_positions_match_redis() {
        // Values redis-server 7.0 gives: GEOADD Sicily 13.361389 38.115556 Palermo
        assert_eq!(score_of(13.361389, 38.115556), Some(3479099956230698));
        assert_eq!(score_of(15.087269, 37.502669), Some(3479447370796909));
        let [lon, lat] = position_of(3479099956230698.0).unwrap();
        assert_eq!(format!("{lon:.17}"), "13.36138933897018433");
        assert_eq!(format!("{lat:.17}"), "38.11555639549629859");
        assert_eq!(score_of(181.0, 0.0), None);
        assert_eq!(score_of(0.0, 86.0), None);
        // GEODIST Sicily Palermo Catania -> 166274.1516 m
        let [a, b] = position_of(3479099956230698.0).unwrap();
        let [c, d] = position_of(3479447370796909.0).unwrap();
        assert_eq!(format!("{:.4}", distance(a, b, c, d)), "166274.1516");
        // GEOHASH Sicily Palermo -> sqc8b49rny0
        assert_eq!(&geohash_string(3479099956230698.0).unwrap(), b"sqc8b49rny0");
    }

    #[test]
    fn neighbours_wrap_and_move_one_cell() {
        let c = encode(0.0, 0.0, 4).unwrap();
        let east = moved(c, 1, 0);
        let back = moved(east, -1, 0);
        assert_eq!(back, c);
        let (a, e) = (decode(c).unwrap(), decode(east).unwrap());
        assert_eq!(a.lon.max, e.lon.min);
        assert_eq!(a.lat.min, e.lat.min);
        let north = decode(moved(c, 0, 1)).unwrap();
        assert_eq!(a.lat.max, north.lat.min);
    }
}
