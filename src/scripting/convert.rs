//! Conversions between RESP replies and Lua values, both ways, as Redis 7.0 defines them,
//! and running one command for `redis.call` / `redis.pcall`.
use crate::commands::{self, MAY_REPLICATE, NOSCRIPT, WRITE};
use crate::resp::{Args, Reply};
use crate::server::Ctx;
use mlua::{Lua, MultiValue, Table, Value};
use std::cell::Cell;
use std::rc::Rc;

/// Nesting beyond this is refused instead of overflowing the stack.
const MAX_DEPTH: usize = 1000;

/// The words of a command from Lua values (strings, numbers), back to back with spans.
type Words = (Vec<u8>, Vec<(u32, u32)>);
fn command_words(args: &MultiValue) -> Option<Words> {
    let mut buf = Vec::new();
    let mut spans = Vec::with_capacity(args.len());
    for v in args.iter() {
        let s = match v {
            Value::String(s) => s.as_bytes().to_vec(),
            Value::Integer(n) => number_arg(*n as f64).into_bytes(),
            Value::Number(n) => number_arg(*n).into_bytes(),
            _ => return None,
        };
        spans.push((buf.len() as u32, (buf.len() + s.len()) as u32));
        buf.extend_from_slice(&s);
    }
    Some((buf, spans))
}

/// redis.call / redis.pcall (or, with `acl_check`, redis.acl_check_cmd: may the user run
/// this command with these arguments?): returns (true, value) or (false, {err=...}).
pub fn call_command(
    lua: &Lua,
    ctx: &mut Ctx,
    db: &mut usize,
    resp3: bool,
    read_only: bool,
    acl_check: bool,
    args: MultiValue,
) -> mlua::Result<(bool, Value)> {
    let fail = |msg: &str| -> mlua::Result<(bool, Value)> {
        super::ldb::log_error(msg);
        let t = lua.create_table()?;
        t.set("err", msg)?;
        Ok((false, Value::Table(t)))
    };
    if args.is_empty() {
        return fail("ERR Please specify at least one argument for this redis lib call");
    }
    let Some((buf, spans)) = command_words(&args) else {
        return fail("ERR Lua redis lib command arguments must be strings or integers");
    };
    let args = Args::new(&buf, &spans);
    if acl_check {
        return match crate::commands::lookup_full(&ctx.srv.cmds, args) {
            Some(id) => Ok((
                true,
                Value::Boolean(crate::acl::permits(ctx.srv, ctx.id, id, args)),
            )),
            None => fail("ERR Invalid command passed to redis.acl_check_cmd()"),
        };
    }
    super::ldb::log_command(args);
    let Some(mut id) = ctx.srv.cmds.lookup(args.get(0)) else {
        return fail("ERR Unknown Redis command called from script");
    };
    let top = ctx.srv.cmds.entries[id].cmd;
    if !arity_ok(top.arity, args.len()) {
        return fail("ERR Wrong number of args calling Redis command from script");
    }
    if !top.subs.is_empty() {
        if let Some(sid) = ctx.srv.cmds.lookup_sub(id, args.get(1)) {
            id = sid;
        }
    }
    let cmd = ctx.srv.cmds.entries[id].cmd;
    if !arity_ok(cmd.arity, args.len()) {
        return fail("ERR Wrong number of args calling Redis command from script");
    }
    // Refusals of the script's own rules count as a rejected call of the command and
    // an error reply (as Redis's scriptCall does), so the script's failure is not
    // counted again.
    let refuse = |ctx: &mut Ctx, msg: &str| -> mlua::Result<(bool, Value)> {
        super::ldb::log_error(msg);
        ctx.srv.admin.cmd_stats[id].rejected_calls += 1;
        ctx.srv
            .admin
            .stats
            .record_errors(&mut vec!["ERR".to_string()]);
        let t = lua.create_table()?;
        t.set("err", msg)?;
        t.set(COUNTED, true)?;
        Ok((false, Value::Table(t)))
    };
    if cmd.flags & NOSCRIPT != 0 && !ctx.srv.data.scripting.disable_deny_script {
        return refuse(ctx, "ERR This Redis command is not allowed from script");
    }
    if read_only && cmd.flags & (WRITE | MAY_REPLICATE) != 0 {
        return refuse(
            ctx,
            "ERR Write commands are not allowed from read-only scripts.",
        );
    }
    if ctx.srv.cluster.is_some() && !ctx.srv.net.clients[ctx.id].is_master {
        if let Some(msg) = crate::cluster::route::script_check(ctx.srv, ctx.id, id, args) {
            return refuse(ctx, &msg);
        }
    }
    if cmd.flags & WRITE != 0 {
        // SCRIPT KILL can no longer stop this script (Redis's SCRIPT_WRITE_DIRTY).
        if let Some(r) = ctx.srv.data.scripting.running.as_mut() {
            r.wrote = true;
        }
    }
    let mut out = Reply {
        buf: Vec::new(),
        resp3,
        errors: Vec::new(),
        limit: 0,
    };
    let mut inner = Ctx {
        srv: &mut *ctx.srv,
        out: &mut out,
        id: ctx.id,
        db: *db,
    };
    let outer = std::mem::replace(&mut inner.srv.data.scripting.calling, true);
    commands::execute(&mut inner, args);
    inner.srv.data.scripting.calling = outer;
    *db = inner.db;
    super::ldb::log_reply(&out.buf);
    if out.buf.first() == Some(&b'-') {
        // The command's error was counted in the error stats when it was replied: the
        // script's failure it causes is not counted again (Redis 7.0's
        // ERR_REPLY_FLAG_NO_STATS_UPDATE).
        let line = &out.buf[1..out.buf.len().saturating_sub(2)];
        let t = lua.create_table()?;
        t.set("err", String::from_utf8_lossy(line))?;
        t.set(COUNTED, true)?;
        return Ok((false, Value::Table(t)));
    }
    let mut pos = 0;
    let v = resp_to_lua(lua, &out.buf, &mut pos, 0)?;
    Ok((true, v))
}

/// A number argument of redis.call as Redis 7.0 writes it ("%.17g": no precision lost,
/// unlike Lua's own tostring).
fn number_arg(n: f64) -> String {
    crate::util::fmt_g(n, 17)
}

fn arity_ok(arity: i32, n: usize) -> bool {
    (arity > 0 && n == arity as usize) || (arity < 0 && n >= (-arity) as usize)
}

fn line<'a>(buf: &'a [u8], pos: &mut usize) -> &'a [u8] {
    let start = *pos;
    let end = memchr::memchr(b'\r', &buf[start..]).map_or(buf.len(), |i| start + i);
    *pos = (end + 2).min(buf.len());
    &buf[start..end]
}

fn num(b: &[u8]) -> i64 {
    crate::util::parse_i64(b).unwrap_or(0)
}

fn tagged(lua: &Lua, key: &str, v: impl mlua::IntoLua) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    t.set(key, v)?;
    Ok(Value::Table(t))
}

/// One RESP reply (as written by `Reply`) into a Lua value.
fn resp_to_lua(lua: &Lua, buf: &[u8], pos: &mut usize, depth: usize) -> mlua::Result<Value> {
    if *pos >= buf.len() || depth > MAX_DEPTH {
        return Ok(Value::Nil);
    }
    let tag = buf[*pos];
    *pos += 1;
    let head = line(buf, pos);
    Ok(match tag {
        b'+' => tagged(lua, "ok", lua.create_string(head)?)?,
        b'-' => tagged(lua, "err", lua.create_string(head)?)?,
        b':' => Value::Number(num(head) as f64),
        b'$' | b'=' => {
            let n = num(head);
            if n < 0 {
                return Ok(Value::Boolean(false));
            }
            let body = &buf[*pos..(*pos + n as usize).min(buf.len())];
            *pos = (*pos + n as usize + 2).min(buf.len());
            if tag == b'$' {
                Value::String(lua.create_string(body)?)
            } else {
                let t = lua.create_table()?;
                let (fmt, text) = if body.len() >= 4 {
                    (&body[..3], &body[4..])
                } else {
                    (&b"txt"[..], body)
                };
                t.set("format", lua.create_string(fmt)?)?;
                t.set("string", lua.create_string(text)?)?;
                tagged(lua, "verbatim_string", t)?
            }
        }
        b'*' | b'>' => {
            let n = num(head);
            if n < 0 {
                return Ok(Value::Boolean(false));
            }
            let t = lua.create_table()?;
            for i in 1..=n {
                t.raw_set(i, resp_to_lua(lua, buf, pos, depth + 1)?)?;
            }
            Value::Table(t)
        }
        b'%' => {
            let t = lua.create_table()?;
            for _ in 0..num(head) {
                let k = resp_to_lua(lua, buf, pos, depth + 1)?;
                let v = resp_to_lua(lua, buf, pos, depth + 1)?;
                t.raw_set(k, v)?;
            }
            tagged(lua, "map", t)?
        }
        b'~' => {
            let t = lua.create_table()?;
            for _ in 0..num(head) {
                let k = resp_to_lua(lua, buf, pos, depth + 1)?;
                t.raw_set(k, true)?;
            }
            tagged(lua, "set", t)?
        }
        b'_' => Value::Nil,
        b'#' => Value::Boolean(head == b"t"),
        b',' => {
            let d = crate::util::parse_f64(head).unwrap_or(0.0);
            tagged(lua, "double", d)?
        }
        b'(' => tagged(lua, "big_number", lua.create_string(head)?)?,
        b'|' => {
            // Attributes are not exposed to scripts (as in Redis 7.0): skip them and
            // return the reply they annotate.
            for _ in 0..num(head).max(0) * 2 {
                resp_to_lua(lua, buf, pos, depth + 1)?;
            }
            return resp_to_lua(lua, buf, pos, depth + 1);
        }
        _ => Value::Nil,
    })
}

/// Write an error reply exactly as given (Redis does not add "ERR" to script errors).
fn raw_error(out: &mut Reply, msg: &[u8]) {
    out.buf.push(b'-');
    for &c in msg {
        out.buf
            .push(if c == b'\r' || c == b'\n' { b' ' } else { c });
    }
    out.buf.extend_from_slice(b"\r\n");
    let code = msg.split(|&c| c == b' ').next().unwrap_or(b"ERR");
    out.errors.push(String::from_utf8_lossy(code).into_owned());
}

fn field(t: &Table, k: &str) -> Value {
    t.raw_get(k).unwrap_or(Value::Nil)
}

/// The script's return value into the client's reply.
/// `script_resp3`: the script's own protocol (redis.setresp(3)), which decides how Lua
/// booleans convert (Redis 7.0): under RESP2 true is :1 and false is null, whatever the
/// client speaks; under RESP3 they are booleans in the client's protocol (#t/#f for a
/// RESP3 client, :1/:0 for a RESP2 one).
pub fn lua_to_reply(out: &mut Reply, v: &Value, depth: usize, script_resp3: bool) {
    if depth > MAX_DEPTH {
        return out.error("ERR reached lua stack limit");
    }
    match v {
        Value::String(s) => out.bulk(&s.as_bytes()),
        Value::Boolean(b) if script_resp3 && out.resp3 => out.boolean(*b),
        Value::Boolean(b) if script_resp3 => out.int(*b as i64),
        Value::Boolean(true) => out.int(1),
        Value::Boolean(false) => out.null(),
        Value::Integer(n) => out.int(*n),
        Value::Number(n) => out.int(*n as i64),
        Value::Table(t) => table_to_reply(out, t, depth, script_resp3),
        _ => out.null(),
    }
}

fn table_to_reply(out: &mut Reply, t: &Table, depth: usize, script_resp3: bool) {
    if let Value::String(e) = field(t, "err") {
        raw_error(out, &e.as_bytes());
        if matches!(field(t, COUNTED), Value::Boolean(true)) {
            if let Some(code) = out.errors.last_mut() {
                code.clear();
            }
        }
        return;
    }
    if let Value::String(s) = field(t, "ok") {
        let s = s.to_string_lossy().replace(['\r', '\n'], " ");
        return out.simple(&s);
    }
    if let Value::Number(d) = field(t, "double") {
        return out.double(d);
    }
    if let Value::Integer(d) = field(t, "double") {
        return out.double(d as f64);
    }
    if let Value::String(s) = field(t, "big_number") {
        // Line breaks would end the reply early: Redis maps them to spaces.
        let s: Vec<u8> = s
            .as_bytes()
            .iter()
            .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
            .collect();
        if out.resp3 {
            out.raw(b"(");
            out.raw(&s);
            out.raw(b"\r\n");
        } else {
            out.bulk(&s);
        }
        return;
    }
    if let Value::Table(m) = field(t, "map") {
        let pairs: Vec<(Value, Value)> = m.pairs().filter_map(Result::ok).collect();
        out.map(pairs.len());
        for (k, v) in &pairs {
            lua_to_reply(out, k, depth + 1, script_resp3);
            lua_to_reply(out, v, depth + 1, script_resp3);
        }
        return;
    }
    if let Value::Table(s) = field(t, "set") {
        let keys: Vec<Value> = s
            .pairs::<Value, Value>()
            .filter_map(Result::ok)
            .map(|(k, _)| k)
            .collect();
        out.set(keys.len());
        for k in &keys {
            lua_to_reply(out, k, depth + 1, script_resp3);
        }
        return;
    }
    if let Value::Table(v) = field(t, "verbatim_string") {
        if let (Value::String(_), Value::String(s)) = (field(&v, "format"), field(&v, "string")) {
            return out.verbatim(&s.as_bytes());
        }
    }
    // An array: elements 1, 2, ... up to the first nil.
    let mut items = Vec::new();
    for i in 1.. {
        match t.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(v) => items.push(v),
        }
    }
    out.array(items.len());
    for v in &items {
        lua_to_reply(out, v, depth + 1, script_resp3);
    }
}

/// Error-table field set when the error was already counted in the error stats.
const COUNTED: &str = "ferrokv_counted";

/// A failed run: the error table (or string) into "-msg script: <sha>, on <source>:<line>.".
pub fn script_error(out: &mut Reply, v: &Value, sha: &str) {
    let Value::Table(t) = v else {
        let msg = match v {
            Value::String(s) => s.to_string_lossy().to_string(),
            _ => "execution failure".into(),
        };
        let msg: String = msg.chars().take(100).collect();
        return out.error(&format!("ERR Error running script {sha}, {msg}"));
    };
    let mut msg = match field(t, "err") {
        Value::String(s) => s.as_bytes().to_vec(),
        _ => b"ERR unknown error".to_vec(),
    };
    let line = match field(t, "line") {
        Value::Integer(n) => Some(n),
        Value::Number(n) => Some(n as i64),
        _ => None,
    };
    if let (Value::String(src), Some(line)) = (field(t, "source"), line) {
        msg.extend_from_slice(
            format!(" script: {sha}, on {}:{line}.", src.to_string_lossy()).as_bytes(),
        );
    }
    raw_error(out, &msg);
    if matches!(field(t, COUNTED), Value::Boolean(true)) {
        // Still a failed call of EVAL/FCALL, but no second count in errorstats.
        if let Some(code) = out.errors.last_mut() {
            code.clear();
        }
    }
}

/// lua-cjson's settings that change behaviour here (the others are accepted and ignored).
struct JsonCfg {
    encode_max_depth: Cell<usize>,
    decode_max_depth: Cell<usize>,
    encode_invalid_numbers: Cell<bool>,
}

/// `cjson.encode` / `cjson.decode` through serde_json.
pub fn register_cjson(lua: &Lua) -> mlua::Result<()> {
    let cfg = Rc::new(JsonCfg {
        encode_max_depth: Cell::new(1000),
        decode_max_depth: Cell::new(1000),
        encode_invalid_numbers: Cell::new(false),
    });
    let cjson = lua.create_table()?;
    let c = cfg.clone();
    cjson.set(
        "encode",
        lua.create_function(move |_, v: Value| {
            let mut s = String::new();
            encode_json(&v, &mut s, 0, &c)?;
            Ok(s)
        })?,
    )?;
    let c = cfg.clone();
    cjson.set(
        "decode",
        lua.create_function(move |lua, s: mlua::String| {
            let j: serde_json::Value = serde_json::from_slice(&s.as_bytes()).map_err(|e| {
                mlua::Error::runtime(format!("Expected value but found invalid token: {e}"))
            })?;
            let depth = json_depth(&j);
            if depth > c.decode_max_depth.get() {
                return Err(mlua::Error::runtime(format!(
                    "Found too many nested data structures ({depth})"
                )));
            }
            json_to_lua(lua, &j)
        })?,
    )?;
    cjson.set(
        "null",
        Value::LightUserData(mlua::LightUserData(std::ptr::null_mut())),
    )?;
    // Each setting takes an optional new value and returns the current one.
    let c = cfg.clone();
    cjson.set(
        "encode_max_depth",
        lua.create_function(move |_, n: Option<usize>| {
            n.inspect(|&n| c.encode_max_depth.set(n));
            Ok(c.encode_max_depth.get())
        })?,
    )?;
    let c = cfg.clone();
    cjson.set(
        "decode_max_depth",
        lua.create_function(move |_, n: Option<usize>| {
            n.inspect(|&n| c.decode_max_depth.set(n));
            Ok(c.decode_max_depth.get())
        })?,
    )?;
    let c = cfg;
    cjson.set(
        "encode_invalid_numbers",
        lua.create_function(move |_, b: Option<bool>| {
            b.inspect(|&b| c.encode_invalid_numbers.set(b));
            Ok(c.encode_invalid_numbers.get())
        })?,
    )?;
    for name in [
        "encode_keep_buffer",
        "encode_number_precision",
        "decode_invalid_numbers",
        "encode_sparse_array",
    ] {
        cjson.set(name, lua.create_function(|_, v: MultiValue| Ok(v))?)?;
    }
    lua.globals().set("cjson", cjson)
}

/// Nesting of arrays and objects (a scalar is 0).
fn json_depth(j: &serde_json::Value) -> usize {
    match j {
        serde_json::Value::Array(a) => 1 + a.iter().map(json_depth).max().unwrap_or(0),
        serde_json::Value::Object(o) => 1 + o.values().map(json_depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn encode_json(v: &Value, s: &mut String, depth: usize, cfg: &JsonCfg) -> mlua::Result<()> {
    match v {
        Value::Nil | Value::LightUserData(_) => s.push_str("null"),
        Value::Boolean(b) => s.push_str(if *b { "true" } else { "false" }),
        Value::Integer(n) => s.push_str(&n.to_string()),
        Value::Number(n) => {
            if !n.is_finite() && !cfg.encode_invalid_numbers.get() {
                return Err(mlua::Error::runtime(
                    "Cannot serialise number: must not be NaN or Inf",
                ));
            }
            if n.fract() == 0.0 && n.abs() < 1e14 {
                s.push_str(&(*n as i64).to_string())
            } else {
                s.push_str(&crate::util::fmt_double(*n))
            }
        }
        Value::String(x) => {
            s.push_str(&serde_json::Value::String(x.to_string_lossy().to_string()).to_string())
        }
        Value::Table(t) => {
            let depth = depth + 1;
            // Capped so that a table holding itself cannot exhaust the stack.
            if depth > cfg.encode_max_depth.get().min(MAX_DEPTH) {
                return Err(mlua::Error::runtime(format!(
                    "Cannot serialise, excessive nesting ({depth})"
                )));
            }
            let len = t.raw_len();
            let count = t.pairs::<Value, Value>().count();
            if count == len && len > 0 || count == 0 {
                if count == 0 {
                    s.push_str("{}");
                    return Ok(());
                }
                s.push('[');
                for i in 1..=len {
                    if i > 1 {
                        s.push(',');
                    }
                    encode_json(&t.raw_get::<Value>(i)?, s, depth, cfg)?;
                }
                s.push(']');
            } else {
                s.push('{');
                let mut first = true;
                for pair in t.pairs::<Value, Value>() {
                    let (k, v) = pair?;
                    let key = match &k {
                        Value::String(x) => x.to_string_lossy().to_string(),
                        Value::Integer(n) => n.to_string(),
                        Value::Number(n) => crate::util::fmt_double(*n),
                        _ => {
                            return Err(mlua::Error::runtime(
                                "Cannot serialise table: table key must be a number or string",
                            ))
                        }
                    };
                    if !first {
                        s.push(',');
                    }
                    first = false;
                    s.push_str(&serde_json::Value::String(key).to_string());
                    s.push(':');
                    encode_json(&v, s, depth, cfg)?;
                }
                s.push('}');
            }
        }
        other => {
            return Err(mlua::Error::runtime(format!(
                "Cannot serialise {}: type not supported",
                other.type_name()
            )))
        }
    }
    Ok(())
}

fn json_to_lua(lua: &Lua, j: &serde_json::Value) -> mlua::Result<Value> {
    use serde_json::Value as J;
    Ok(match j {
        J::Null => Value::LightUserData(mlua::LightUserData(std::ptr::null_mut())),
        J::Bool(b) => Value::Boolean(*b),
        J::Number(n) => Value::Number(n.as_f64().unwrap_or(0.0)),
        J::String(s) => Value::String(lua.create_string(s)?),
        J::Array(a) => {
            let t = lua.create_table()?;
            for (i, v) in a.iter().enumerate() {
                t.raw_set(i + 1, json_to_lua(lua, v)?)?;
            }
            Value::Table(t)
        }
        J::Object(o) => {
            let t = lua.create_table()?;
            for (k, v) in o {
                t.raw_set(k.as_str(), json_to_lua(lua, v)?)?;
            }
            Value::Table(t)
        }
    })
}
