//! Redis 7 functions: FUNCTION LOAD/LIST/DELETE/FLUSH/STATS/KILL/HELP, FCALL, FCALL_RO.
//!
//! A library is Lua code whose first line is `#!lua name=<library>`; loading it runs the
//! code, which registers functions with `redis.register_function`. Libraries live in their
//! own Lua state, so SCRIPT FLUSH (which drops the scripts' state) leaves them loaded.
use super::engine::{self, Callee, State};
use crate::commands::*;
use crate::resp::Args;
use crate::server::Ctx;
use crate::util::{eq_ic, glob_match};
use std::collections::BTreeMap;

#[derive(Clone)]
pub struct Function {
    /// As registered (the map key is lowercased).
    pub name: String,
    pub library: String,
    /// The callback, in the functions' Lua registry (see `Script::func`).
    pub func: std::rc::Rc<mlua::RegistryKey>,
    pub flags: Vec<String>,
    pub description: Option<String>,
}

#[derive(Clone)]
pub struct Library {
    pub code: Vec<u8>,
    /// Its functions, in registration order.
    pub functions: Vec<String>,
}

/// Function names are case-insensitive (FCALL TEST calls "test"), as in Redis.
fn fkey(name: &str) -> String {
    name.to_ascii_lowercase()
}

#[derive(Default)]
pub struct Registry {
    pub lua: Option<State>,
    pub libraries: BTreeMap<String, Library>,
    /// By lowercased name.
    pub functions: hashbrown::HashMap<String, Function>,
}

impl Registry {
    fn flush(&mut self) {
        self.libraries.clear();
        self.functions.clear();
        self.lua = None;
    }
    fn unlink(&mut self, name: &str) -> Option<(Library, Vec<(String, Function)>)> {
        let lib = self.libraries.remove(name)?;
        let funcs = lib
            .functions
            .iter()
            .filter_map(|f| self.functions.remove_entry(&fkey(f)))
            .collect();
        Some((lib, funcs))
    }
}

pub static COMMANDS: &[Command] = &[
    cmd(
        "fcall",
        -3,
        super::RUNS_CODE | MAY_REPLICATE,
        SCRIPTING,
        fcall,
    )
    .doc("Invoke a function", "7.0.0"),
    cmd(
        "fcall_ro",
        -3,
        super::RUNS_CODE | READONLY,
        SCRIPTING,
        fcall_ro,
    )
    .doc("Invoke a read-only function", "7.0.0"),
    cmd("function", -2, 0, SCRIPTING, container)
        .subs(FUNCTION)
        .doc("A container for function commands", "7.0.0"),
];

static FUNCTION: &[Command] = &[
    cmd("load", -3, WRITE | DENYOOM | NOSCRIPT, SCRIPTING, load).doc(
        "Create a function with the given arguments (name, code, description)",
        "7.0.0",
    ),
    cmd("delete", 3, WRITE | NOSCRIPT, SCRIPTING, delete).doc("Delete a function by name", "7.0.0"),
    cmd("dump", 2, NOSCRIPT, SCRIPTING, dump).doc(
        "Dump all functions into a serialized binary payload",
        "7.0.0",
    ),
    cmd(
        "restore",
        -3,
        WRITE | DENYOOM | NOSCRIPT,
        SCRIPTING,
        restore,
    )
    .doc("Restore all the functions on the given payload", "7.0.0"),
    cmd("flush", -2, WRITE | NOSCRIPT, SCRIPTING, flush)
        .doc("Deletes all libraries and functions", "7.0.0"),
    cmd("list", -2, NOSCRIPT, SCRIPTING, list)
        .doc("List information about all the functions", "7.0.0"),
    cmd("stats", 2, NOSCRIPT | ALLOW_BUSY, SCRIPTING, stats).doc(
        "Return information about the function currently running (name, description, duration)",
        "7.0.0",
    ),
    cmd("kill", 2, NOSCRIPT | ALLOW_BUSY, SCRIPTING, kill)
        .doc("Kill the function currently in execution.", "7.0.0"),
    cmd("help", 2, LOADING | STALE, SCRIPTING, help)
        .doc("Show helpful text about the different subcommands", "7.0.0"),
];

/// The library name from the shebang line and where the code starts (the newline, so
/// line numbers in errors stay those of the whole text), as Redis parses it.
fn metadata(code: &[u8]) -> Result<(String, usize), String> {
    if !code.starts_with(b"#!") {
        return Err("ERR Missing library metadata".into());
    }
    let Some(end) = code.iter().position(|&b| b == b'\n') else {
        return Err("ERR Invalid library metadata".into());
    };
    let line = String::from_utf8_lossy(&code[2..end]);
    let mut parts = line.split_ascii_whitespace();
    // "#! name=x" has an empty engine name: the first word is a key, not the engine.
    let engine = if line.starts_with(|c: char| c.is_ascii_whitespace()) {
        ""
    } else {
        parts.next().unwrap_or("")
    };
    let mut name = None;
    for part in parts {
        // Quotes group characters as in Redis's argument splitting: name="foo" is foo.
        let part = &part.replace('"', "");
        match part.get(..5) {
            Some(k) if k.eq_ignore_ascii_case("name=") => {
                if name.is_some() {
                    return Err(
                        "ERR Invalid metadata value, name argument was given multiple times".into(),
                    );
                }
                name = Some(part[5..].to_string());
            }
            _ => return Err(format!("ERR Invalid metadata value given: {part}")),
        }
    }
    let name = name.ok_or("ERR Library name was not given")?;
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err("ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long".into());
    }
    if !engine.eq_ignore_ascii_case("lua") {
        return Err(format!("ERR Engine '{engine}' not found"));
    }
    Ok((name, end))
}

/// FUNCTION LOAD [REPLACE] code
fn load(ctx: &mut Ctx, args: Args) {
    let mut replace = false;
    for a in args.iter().skip(2).take(args.len() - 3) {
        if eq_ic(a, "replace") {
            replace = true;
        } else {
            return ctx.out.error(&format!(
                "ERR Unknown option given: {}",
                String::from_utf8_lossy(a)
            ));
        }
    }
    let code = args.get(args.len() - 1);
    match load_library(&mut ctx.srv.data.scripting.functions, code, replace) {
        Ok(name) => {
            ctx.srv.data.dirty += 1;
            ctx.out.bulk(name.as_bytes())
        }
        Err(e) => ctx.out.error(&e),
    }
}

/// A library read from an RDB file (or an AOF base): compiled and registered as FUNCTION
/// LOAD would; `replace` for DEBUG RELOAD MERGE.
pub fn load_from_file(reg: &mut Registry, code: &[u8], replace: bool) -> Result<(), String> {
    load_library(reg, code, replace).map(|_| ())
}

fn load_library(reg: &mut Registry, code: &[u8], replace: bool) -> Result<String, String> {
    let (name, start) = metadata(code)?;
    if reg.libraries.contains_key(&name) && !replace {
        return Err(format!("ERR Library '{name}' already exists"));
    }
    let registered = reg
        .lua
        .get_or_insert_with(State::new)
        .load_library(&code[start..])?;
    // The old version stays in place until the new one is known to fit.
    let old = reg.unlink(&name);
    if let Some(clash) = registered
        .iter()
        .find(|f| reg.functions.contains_key(&fkey(&f.name)))
    {
        let err = format!("ERR Function {} already exists", clash.name);
        if let Some((lib, funcs)) = old {
            reg.libraries.insert(name, lib);
            reg.functions.extend(funcs);
        }
        return Err(err);
    }
    let lib = Library {
        code: code.to_vec(),
        functions: registered.iter().map(|f| f.name.clone()).collect(),
    };
    for f in registered {
        reg.functions.insert(
            fkey(&f.name),
            Function {
                name: f.name.clone(),
                library: name.clone(),
                func: std::rc::Rc::new(f.func),
                flags: f.flags,
                description: f.description,
            },
        );
    }
    reg.libraries.insert(name.clone(), lib);
    Ok(name)
}

fn delete(ctx: &mut Ctx, args: Args) {
    let name = String::from_utf8_lossy(args.get(2));
    match ctx.srv.data.scripting.functions.unlink(&name) {
        Some(_) => {
            ctx.srv.data.dirty += 1;
            ctx.out.ok()
        }
        None => ctx.out.error("ERR Library not found"),
    }
}

fn dump(ctx: &mut Ctx, _: Args) {
    let libs = &ctx.srv.data.scripting.functions.libraries;
    let payload =
        crate::persist::codec::serialize_libraries(libs.values().map(|l| l.code.as_slice()));
    ctx.out.bulk(&payload);
}

/// FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE]: all the libraries or none.
fn restore(ctx: &mut Ctx, args: Args) {
    if args.len() > 4 {
        return ctx.out.error(
            "ERR unknown subcommand or wrong number of arguments for 'restore'. Try FUNCTION HELP.",
        );
    }
    let (mut flush, mut replace) = (false, false);
    if args.len() == 4 {
        let p = args.get(3);
        if eq_ic(p, "flush") {
            flush = true;
        } else if eq_ic(p, "replace") {
            replace = true;
        } else if !eq_ic(p, "append") {
            return ctx.out.error(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            );
        }
    }
    let Some(body) = crate::persist::codec::verify(args.get(2)) else {
        return ctx
            .out
            .error("ERR DUMP payload version or checksum are wrong");
    };
    let codes = match crate::persist::codec::deserialize_libraries(body) {
        Ok(c) => c,
        Err(e) => return ctx.out.error(e),
    };
    let reg = &mut ctx.srv.data.scripting.functions;
    let backup = (reg.libraries.clone(), reg.functions.clone());
    if flush {
        // The Lua state stays: a failed restore puts the old functions back.
        reg.libraries.clear();
        reg.functions.clear();
    }
    // (Worded without quotes here, unlike FUNCTION LOAD, as in Redis.)
    let clash = codes
        .iter()
        .filter_map(|c| metadata(c).ok())
        .find(|(name, _)| !replace && reg.libraries.contains_key(name));
    if let Some((name, _)) = clash {
        (reg.libraries, reg.functions) = backup;
        return ctx.out.error(&format!("ERR Library {name} already exists"));
    }
    for code in codes {
        if let Err(e) = load_library(reg, &code, replace) {
            (reg.libraries, reg.functions) = backup;
            return ctx.out.error(&e);
        }
    }
    ctx.srv.data.dirty += 1;
    ctx.out.ok();
}

/// FUNCTION FLUSH [ASYNC|SYNC]
fn flush(ctx: &mut Ctx, args: Args) {
    match args.len() {
        2 => {}
        3 if eq_ic(args.get(2), "async") || eq_ic(args.get(2), "sync") => {}
        3 => {
            return ctx
                .out
                .error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
        }
        _ => return ctx.out.error(
            "ERR unknown subcommand or wrong number of arguments for 'flush'. Try FUNCTION HELP.",
        ),
    }
    ctx.srv.data.scripting.functions.flush();
    ctx.srv.data.dirty += 1;
    ctx.out.ok();
}

/// FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE]
fn list(ctx: &mut Ctx, args: Args) {
    let (mut pattern, mut with_code) = (None, false);
    let mut i = 2;
    while i < args.len() {
        let a = args.get(i);
        if eq_ic(a, "withcode") && !with_code {
            with_code = true;
        } else if eq_ic(a, "libraryname") && pattern.is_none() {
            if i + 1 >= args.len() {
                return ctx.out.error("ERR library name argument was not given");
            }
            pattern = Some(args.get(i + 1));
            i += 1;
        } else {
            return ctx.out.error(&format!(
                "ERR Unknown argument {}",
                String::from_utf8_lossy(a)
            ));
        }
        i += 1;
    }
    let reg = &ctx.srv.data.scripting.functions;
    let libs: Vec<(&String, &Library)> = reg
        .libraries
        .iter()
        .filter(|(n, _)| pattern.is_none_or(|p| glob_match(p, n.as_bytes(), false)))
        .collect();
    let out = &mut *ctx.out;
    out.array(libs.len());
    for (name, lib) in libs {
        out.map(if with_code { 4 } else { 3 });
        out.bulk(b"library_name");
        out.bulk(name.as_bytes());
        out.bulk(b"engine");
        out.bulk(b"LUA");
        out.bulk(b"functions");
        out.array(lib.functions.len());
        for fname in &lib.functions {
            let f = &reg.functions[&fkey(fname)];
            out.map(3);
            out.bulk(b"name");
            out.bulk(fname.as_bytes());
            out.bulk(b"description");
            match &f.description {
                Some(d) => out.bulk(d.as_bytes()),
                None => out.null(),
            }
            out.bulk(b"flags");
            out.set(f.flags.len());
            for flag in &f.flags {
                out.bulk(flag.as_bytes());
            }
        }
        if with_code {
            out.bulk(b"library_code");
            out.bulk(&lib.code);
        }
    }
}

/// FUNCTION STATS: nothing is ever running when a client can ask (one thread).
fn stats(ctx: &mut Ctx, _: Args) {
    let reg = &ctx.srv.data.scripting.functions;
    let out = &mut *ctx.out;
    if let Some(r) = ctx.srv.data.scripting.running.as_ref() {
        if r.eval {
            return out.error(super::busy_error(true));
        }
    }
    out.map(2);
    out.bulk(b"running_script");
    match ctx.srv.data.scripting.running.as_ref() {
        None => out.null(),
        Some(r) => {
            out.map(3);
            out.bulk(b"name");
            out.bulk(r.name.as_bytes());
            out.bulk(b"command");
            out.array(r.argv.len());
            for a in &r.argv {
                out.bulk(a);
            }
            out.bulk(b"duration_ms");
            out.int(r.start.elapsed().as_millis() as i64);
        }
    }
    out.bulk(b"engines");
    out.map(1);
    out.bulk(b"LUA");
    out.map(2);
    out.bulk(b"libraries_count");
    out.int(reg.libraries.len() as i64);
    out.bulk(b"functions_count");
    out.int(reg.functions.len() as i64);
}

fn kill(ctx: &mut Ctx, _: Args) {
    super::kill_running(ctx, false);
}

fn help(ctx: &mut Ctx, _: Args) {
    const LINES: &[&str] = &[
        "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "LOAD [REPLACE] <FUNCTION CODE>",
        "    Create a new library with the given library name and code.",
        "DELETE <LIBRARY NAME>",
        "    Delete the given library.",
        "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
        "    Return general information on all the libraries:",
        "    * Library name",
        "    * The engine used to run the Library",
        "    * Library description",
        "    * Functions list",
        "    * Library code (if WITHCODE is given)",
        "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
        "STATS",
        "    Return information about the current function running:",
        "    * Function name",
        "    * Command used to run the function",
        "    * Duration in MS that the function is running",
        "    If no function is running, return nil",
        "    In addition, returns a list of available engines.",
        "KILL",
        "    Kill the current running function.",
        "FLUSH [ASYNC|SYNC]",
        "    Delete all the libraries.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the libraries.",
        "    * SYNC: Synchronously flush the libraries.",
        "HELP",
        "    Prints this help.",
    ];
    ctx.out.array(LINES.len());
    for l in LINES {
        ctx.out.simple(l);
    }
}

fn fcall(ctx: &mut Ctx, args: Args) {
    fcall_generic(ctx, args, false)
}
fn fcall_ro(ctx: &mut Ctx, args: Args) {
    fcall_generic(ctx, args, true)
}

fn fcall_generic(ctx: &mut Ctx, args: Args, ro: bool) {
    // The function's writes propagate themselves (effects replication).
    ctx.srv.data.prop.prevent();
    if !ctx.srv.admin.monitors.is_empty() {
        crate::commands::server::feed_monitors(ctx, args);
    }
    let name = String::from_utf8_lossy(args.get(1)).into_owned();
    let Some(f) = ctx.srv.data.scripting.functions.functions.get(&fkey(&name)) else {
        return ctx.out.error("ERR Function not found");
    };
    let Some(numkeys) = crate::util::parse_i64(args.get(2)) else {
        return ctx.out.error("ERR Bad number of keys provided");
    };
    if numkeys > args.len() as i64 - 3 {
        return ctx
            .out
            .error("ERR Number of keys can't be greater than number of args");
    }
    if numkeys < 0 {
        return ctx.out.error("ERR Number of keys can't be negative");
    }
    let has = |flag: &str| f.flags.iter().any(|x| x == flag);
    let (no_writes, allow_oom) = (has("no-writes"), has("allow-oom"));
    if has("no-cluster") && ctx.srv.cluster.is_some() {
        return ctx
            .out
            .error("ERR Can not run script on cluster, 'no-cluster' flag is set.");
    }
    if !has("allow-stale") && super::stale_replica(ctx) {
        return ctx.out.error(
            "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
        );
    }
    let (func, name) = (f.func.clone(), f.name.clone());
    if !no_writes {
        if ro {
            return ctx
                .out
                .error("ERR Can not execute a script with write flag using *_ro command.");
        }
        if super::read_only_replica(ctx) {
            return ctx
                .out
                .error("READONLY You can't write against a read only replica.");
        }
        if crate::commands::no_good_replicas(ctx.srv) {
            return ctx.out.error(crate::commands::NOREPLICAS);
        }
        if !allow_oom
            && ctx.srv.cfg.maxmemory > 0
            && !crate::commands::server::free_memory_if_needed(ctx.srv)
        {
            return ctx.out.error(
                "OOM allow-oom flag is not set on the function, can not run it when used memory > 'maxmemory'",
            );
        }
    }
    super::set_oom_rule(ctx, allow_oom || ro || no_writes);
    let callee = Callee::Function { name: &name, func };
    engine::run(ctx, callee, args, numkeys as usize, ro || no_writes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_metadata_as_redis_parses_it() {
        assert_eq!(
            metadata(b"#!lua name=lib\ncode").unwrap(),
            ("lib".into(), 14)
        );
        assert_eq!(metadata(b"#!LUA NAME=lib\n").unwrap().0, "lib");
        let err = |c: &[u8]| metadata(c).unwrap_err();
        assert_eq!(err(b"return 1"), "ERR Missing library metadata");
        assert_eq!(err(b"#!lua name=x"), "ERR Invalid library metadata");
        assert_eq!(err(b"#! name=test\n"), "ERR Engine '' not found");
        assert_eq!(
            err(b"#!lua name=a foo=bar\n"),
            "ERR Invalid metadata value given: foo=bar"
        );
        assert_eq!(err(b"#!lua\n"), "ERR Library name was not given");
        assert_eq!(
            err(b"#!lua name=a name=b\n"),
            "ERR Invalid metadata value, name argument was given multiple times"
        );
        assert!(err(b"#!lua name=a-b\n").starts_with("ERR Library names can only"));
    }
}
