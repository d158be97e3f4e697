//! `cmsgpack` for scripts: MessagePack as Redis's bundled lua_cmsgpack writes and reads it.
//!
//! Encoding follows that library's choices, so packed bytes are the same: the smallest
//! integer form, float32 when it holds the number exactly (else float64), a table is an
//! array when its keys are exactly 1..n (else a map, in `next` order), anything else nil,
//! and tables nested deeper than 16 are written as nil (a table that holds itself packs as
//! 16 copies). Decoding returns Lua values; unpack_one/unpack_limit also return the offset
//! of the next object, or -1 at the end.
use mlua::{Lua, MultiValue, Table, Value};

const MAX_NESTING: usize = 16;

pub fn register(lua: &Lua) -> mlua::Result<()> {
    let t = lua.create_table()?;
    t.set(
        "pack",
        lua.create_function(|_, args: MultiValue| {
            if args.is_empty() {
                return Err(mlua::Error::runtime("MessagePack pack needs input."));
            }
            let mut out = Vec::new();
            for v in args.iter() {
                encode(v, &mut out, 0)?;
            }
            Ok(mlua::BString::from(out))
        })?,
    )?;
    t.set(
        "unpack",
        lua.create_function(|lua, s: mlua::String| {
            let (_, vals) = unpack(lua, &s.as_bytes(), 0, 0)?;
            Ok(MultiValue::from_iter(vals))
        })?,
    )?;
    t.set(
        "unpack_one",
        lua.create_function(|lua, (s, offset): (mlua::String, Option<i64>)| {
            unpack_returning_offset(lua, &s.as_bytes(), 1, offset.unwrap_or(0))
        })?,
    )?;
    t.set(
        "unpack_limit",
        lua.create_function(
            |lua, (s, limit, offset): (mlua::String, i64, Option<i64>)| {
                unpack_returning_offset(
                    lua,
                    &s.as_bytes(),
                    limit.max(0) as usize,
                    offset.unwrap_or(0),
                )
            },
        )?,
    )?;
    lua.globals().set("cmsgpack", t)
}

fn unpack_returning_offset(
    lua: &Lua,
    b: &[u8],
    limit: usize,
    offset: i64,
) -> mlua::Result<MultiValue> {
    if offset < 0 || offset as usize > b.len() {
        return Err(mlua::Error::runtime(
            "Start offset greater than input length.",
        ));
    }
    let (next, vals) = unpack(lua, b, offset as usize, limit)?;
    let next = if next >= b.len() { -1 } else { next as i64 };
    let mut out = vec![Value::Integer(next)];
    out.extend(vals);
    Ok(MultiValue::from_iter(out))
}

/// Decode up to `limit` objects (0: all) from `at`; returns where decoding stopped.
fn unpack(lua: &Lua, b: &[u8], mut at: usize, limit: usize) -> mlua::Result<(usize, Vec<Value>)> {
    let mut vals = Vec::new();
    while at < b.len() && (limit == 0 || vals.len() < limit) {
        let mut r = Reader { b, at };
        vals.push(r.value(lua, 0)?);
        at = r.at;
    }
    Ok((at, vals))
}

fn int_bytes(out: &mut Vec<u8>, tag: u8, bytes: &[u8]) {
    out.push(tag);
    out.extend_from_slice(bytes);
}

fn encode_int(n: i64, out: &mut Vec<u8>) {
    if n >= 0 {
        match n {
            0..=0x7f => out.push(n as u8),
            0x80..=0xff => int_bytes(out, 0xcc, &[n as u8]),
            0x100..=0xffff => int_bytes(out, 0xcd, &(n as u16).to_be_bytes()),
            0x1_0000..=0xffff_ffff => int_bytes(out, 0xce, &(n as u32).to_be_bytes()),
            _ => int_bytes(out, 0xcf, &(n as u64).to_be_bytes()),
        }
    } else {
        match n {
            -32..=-1 => out.push(n as i8 as u8),
            -128..=-33 => int_bytes(out, 0xd0, &[n as i8 as u8]),
            -32768..=-129 => int_bytes(out, 0xd1, &(n as i16).to_be_bytes()),
            -2147483648..=-32769 => int_bytes(out, 0xd2, &(n as i32).to_be_bytes()),
            _ => int_bytes(out, 0xd3, &n.to_be_bytes()),
        }
    }
}

fn encode_number(n: f64, out: &mut Vec<u8>) {
    // Integral and within i64 (2^63 itself is not).
    if (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&n) && n.fract() == 0.0 {
        return encode_int(n as i64, out);
    }
    if (n as f32) as f64 == n {
        int_bytes(out, 0xca, &(n as f32).to_bits().to_be_bytes());
    } else {
        int_bytes(out, 0xcb, &n.to_bits().to_be_bytes());
    }
}

fn encode_len(out: &mut Vec<u8>, n: usize, fix: (u8, usize), tags: [u8; 3]) {
    if n < fix.1 {
        out.push(fix.0 | n as u8);
    } else if tags[0] != 0 && n <= 0xff {
        int_bytes(out, tags[0], &[n as u8]);
    } else if n <= 0xffff {
        int_bytes(out, tags[1], &(n as u16).to_be_bytes());
    } else {
        int_bytes(out, tags[2], &(n as u32).to_be_bytes());
    }
}

fn encode(v: &Value, out: &mut Vec<u8>, level: usize) -> mlua::Result<()> {
    match v {
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(n) => encode_int(*n, out),
        Value::Number(n) => encode_number(*n, out),
        Value::String(s) => {
            let s = s.as_bytes();
            encode_len(out, s.len(), (0xa0, 32), [0xd9, 0xda, 0xdb]);
            out.extend_from_slice(&s);
        }
        Value::Table(t) if level < MAX_NESTING => {
            if let Some(n) = array_len(t)? {
                encode_len(out, n, (0x90, 16), [0, 0xdc, 0xdd]);
                for i in 1..=n {
                    encode(&t.raw_get::<Value>(i)?, out, level + 1)?;
                }
            } else {
                // Two passes, holding one pair at a time: every value held from Rust
                // takes a slot of Lua's limited reference stack.
                let n = t.clone().pairs::<Value, Value>().count();
                encode_len(out, n, (0x80, 16), [0, 0xde, 0xdf]);
                for pair in t.clone().pairs::<Value, Value>() {
                    let (k, v) = pair?;
                    encode(&k, out, level + 1)?;
                    encode(&v, out, level + 1)?;
                }
            }
        }
        _ => out.push(0xc0),
    }
    Ok(())
}

/// Some(n) when the keys are exactly the integers 1..=n.
fn array_len(t: &Table) -> mlua::Result<Option<usize>> {
    let (mut count, mut max) = (0usize, 0usize);
    for pair in t.clone().pairs::<Value, Value>() {
        let (k, _) = pair?;
        let idx = match k {
            Value::Integer(i) if i > 0 => i as usize,
            Value::Number(n) if n > 0.0 && n.fract() == 0.0 => n as usize,
            _ => return Ok(None),
        };
        count += 1;
        max = max.max(idx);
    }
    Ok((count == max).then_some(count))
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> mlua::Result<&[u8]> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.b.len());
        let end = end.ok_or_else(|| mlua::Error::runtime("Missing bytes in input."))?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn uint(&mut self, n: usize) -> mlua::Result<u64> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, &x| acc << 8 | x as u64))
    }
    fn int(&mut self, n: usize) -> mlua::Result<i64> {
        let u = self.uint(n)?;
        let shift = 64 - 8 * n as u32;
        Ok(((u << shift) as i64) >> shift)
    }
    fn value(&mut self, lua: &Lua, depth: usize) -> mlua::Result<Value> {
        if depth > 1000 {
            return Err(mlua::Error::runtime("Bad data format in input."));
        }
        let tag = self.take(1)?[0];
        Ok(match tag {
            0x00..=0x7f => Value::Integer(tag as i64),
            0xe0..=0xff => Value::Integer(tag as i8 as i64),
            0xc0 => Value::Nil,
            0xc2 => Value::Boolean(false),
            0xc3 => Value::Boolean(true),
            0xcc => Value::Integer(self.uint(1)? as i64),
            0xcd => Value::Integer(self.uint(2)? as i64),
            0xce => Value::Integer(self.uint(4)? as i64),
            0xcf => Value::Number(self.uint(8)? as f64),
            0xd0 => Value::Integer(self.int(1)?),
            0xd1 => Value::Integer(self.int(2)?),
            0xd2 => Value::Integer(self.int(4)?),
            0xd3 => Value::Integer(self.int(8)?),
            0xca => Value::Number(f32::from_bits(self.uint(4)? as u32) as f64),
            0xcb => Value::Number(f64::from_bits(self.uint(8)?)),
            0xa0..=0xbf => self.string(lua, (tag & 0x1f) as usize)?,
            0xd9 | 0xc4 => {
                let n = self.uint(1)? as usize;
                self.string(lua, n)?
            }
            0xda | 0xc5 => {
                let n = self.uint(2)? as usize;
                self.string(lua, n)?
            }
            0xdb | 0xc6 => {
                let n = self.uint(4)? as usize;
                self.string(lua, n)?
            }
            0x90..=0x9f => self.array(lua, (tag & 0x0f) as usize, depth)?,
            0xdc => {
                let n = self.uint(2)? as usize;
                self.array(lua, n, depth)?
            }
            0xdd => {
                let n = self.uint(4)? as usize;
                self.array(lua, n, depth)?
            }
            0x80..=0x8f => self.map(lua, (tag & 0x0f) as usize, depth)?,
            0xde => {
                let n = self.uint(2)? as usize;
                self.map(lua, n, depth)?
            }
            0xdf => {
                let n = self.uint(4)? as usize;
                self.map(lua, n, depth)?
            }
            _ => return Err(mlua::Error::runtime("Bad data format in input.")),
        })
    }
    fn string(&mut self, lua: &Lua, n: usize) -> mlua::Result<Value> {
        Ok(Value::String(lua.create_string(self.take(n)?)?))
    }
    fn array(&mut self, lua: &Lua, n: usize, depth: usize) -> mlua::Result<Value> {
        // Each element takes a byte at least: a count beyond the input is corrupt.
        if n > self.b.len() - self.at {
            return Err(mlua::Error::runtime("Missing bytes in input."));
        }
        let t = lua.create_table()?;
        for i in 1..=n {
            t.raw_set(i, self.value(lua, depth + 1)?)?;
        }
        Ok(Value::Table(t))
    }
    fn map(&mut self, lua: &Lua, n: usize, depth: usize) -> mlua::Result<Value> {
        if n > self.b.len() - self.at {
            return Err(mlua::Error::runtime("Missing bytes in input."));
        }
        let t = lua.create_table()?;
        for _ in 0..n {
            let k = self.value(lua, depth + 1)?;
            let v = self.value(lua, depth + 1)?;
            if !k.is_nil() {
                t.raw_set(k, v)?;
            }
        }
        Ok(Value::Table(t))
    }
}
