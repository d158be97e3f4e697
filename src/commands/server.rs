//! Server commands: CONFIG INFO COMMAND TIME DBSIZE FLUSHDB FLUSHALL SHUTDOWN MONITOR
//! DEBUG MEMORY LASTSAVE, plus eviction under maxmemory and the MONITOR feed.
use super::*;
use crate::config::{self, Apply, SPECS};
use crate::server::Server;
use crate::util::{eq_ic, glob_match, now_ms, now_us};
use crate::{notice, warn};
use std::fmt::Write as _;

pub static COMMANDS: &[Command] = &[
    cmd("config", -2, 0, 0, container).subs(CONFIG),
    cmd(
        "role",
        1,
        NOSCRIPT | LOADING | STALE | FAST,
        ADMIN_CAT | DANGEROUS,
        role,
    ),
    cmd("wait", 3, NOSCRIPT, CONNECTION, wait),
    cmd("lolwut", -1, READONLY | FAST, 0, lolwut),
    cmd("module", -2, 0, 0, container).subs(MODULE),
    cmd("info", -1, LOADING | STALE, DANGEROUS, info),
    cmd("command", -1, LOADING | STALE, CONNECTION, command).subs(COMMAND),
    cmd("time", 1, LOADING | STALE | FAST, 0, time),
    cmd("dbsize", 1, READONLY | FAST, KEYSPACE, dbsize),
    cmd(
        "save",
        1,
        ADMIN | NOSCRIPT | NO_MULTI | NO_ASYNC_LOADING,
        0,
        save,
    ),
    cmd("bgsave", -1, ADMIN | NOSCRIPT | NO_ASYNC_LOADING, 0, bgsave),
    cmd(
        "bgrewriteaof",
        1,
        ADMIN | NOSCRIPT | NO_ASYNC_LOADING,
        0,
        bgrewriteaof,
    ),
    cmd(
        "lastsave",
        1,
        LOADING | STALE | FAST,
        ADMIN_CAT | DANGEROUS,
        lastsave,
    ),
    cmd("flushdb", -1, WRITE, KEYSPACE | DANGEROUS, flushdb),
    cmd("flushall", -1, WRITE, KEYSPACE | DANGEROUS, flushall),
    cmd(
        "shutdown",
        -1,
        ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI | ALLOW_BUSY,
        0,
        shutdown,
    ),
    cmd("monitor", 1, ADMIN | NOSCRIPT | LOADING | STALE, 0, monitor),
    cmd(
        "debug",
        -2,
        ADMIN | NOSCRIPT | LOADING | STALE | PROTECTED,
        0,
        debug,
    ),
    cmd("memory", -2, 0, 0, container).subs(MEMORY),
];

static MODULE: &[Command] = &[
    cmd("help", 2, LOADING | STALE, 0, module_help),
    cmd("list", 2, ADMIN | NOSCRIPT, 0, module_list),
    cmd(
        "load",
        -3,
        ADMIN | NOSCRIPT | PROTECTED | NO_ASYNC_LOADING,
        0,
        module_load,
    ),
    cmd(
        "loadex",
        -3,
        ADMIN | NOSCRIPT | PROTECTED | NO_ASYNC_LOADING,
        0,
        module_load,
    ),
    cmd(
        "unload",
        3,
        ADMIN | NOSCRIPT | PROTECTED | NO_ASYNC_LOADING,
        0,
        module_unload,
    ),
];

/// ROLE: a master with no replicas, until replication lands.
fn role(ctx: &mut Ctx, _: Args) {
    crate::replication::role(ctx.srv, ctx.out);
}

/// WAIT numreplicas timeout: no replica can acknowledge, so as Redis without replicas:
/// 0 at once when none is asked for (or blocking is not allowed: MULTI, scripts), else 0
/// once the timeout (ms, 0 = for ever) expires.
fn wait(ctx: &mut Ctx, args: Args) {
    let Some(n) = crate::util::parse_i64(args.get(1)) else {
        return ctx.out.error("ERR value is not an integer or out of range");
    };
    let Some(ms) = crate::util::parse_i64(args.get(2)) else {
        return ctx
            .out
            .error("ERR timeout is not an integer or out of range");
    };
    if ms < 0 {
        return ctx.out.error("ERR timeout is negative");
    }
    if ms > i64::MAX - crate::util::now_ms() {
        return ctx.out.error("ERR timeout is out of range");
    }
    let deadline = if ms == 0 {
        0
    } else {
        crate::util::now_ms() + ms
    };
    crate::replication::master::wait(ctx, args, n, deadline);
}

/// LOLWUT [VERSION v]: the version line (Redis adds generative art).
fn lolwut(ctx: &mut Ctx, args: Args) {
    let mut i = 1;
    while i < args.len() {
        if eq_ic(args.get(i), "version") && i + 1 < args.len() {
            if crate::util::parse_i64(args.get(i + 1)).is_none() {
                return ctx.out.error("ERR value is not an integer or out of range");
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    ctx.out
        .verbatim(format!("Redis ver. {}\n", crate::REDIS_VERSION).as_bytes());
}

fn module_help(ctx: &mut Ctx, _: Args) {
    help(
        ctx,
        "MODULE",
        &[
            "LIST",
            "    Return a list of loaded modules.",
            "LOAD <path> [<arg> ...]",
            "    Load a module library from <path>, passing to it any optional arguments.",
            "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
            "    Load a module library from <path>, while passing it module configurations and optional arguments.",
            "UNLOAD <name>",
            "    Unload a module.",
        ],
    );
}

/// No module is ever loaded: ferrokv has no module API.
fn module_list(ctx: &mut Ctx, _: Args) {
    ctx.out.array(0);
}

fn module_load(ctx: &mut Ctx, args: Args) {
    if !protected_allowed(ctx, ctx.srv.cfg.enable_module_command.0) {
        return ctx.out.error("ERR MODULE command not allowed. If the enable-module-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.");
    }
    crate::warn!(
        "Module {} failed to load: modules are not supported by ferrokv",
        String::from_utf8_lossy(args.get(2))
    );
    ctx.out
        .error("ERR Error loading the extension. Please check the server logs.");
}

fn module_unload(ctx: &mut Ctx, _: Args) {
    if !protected_allowed(ctx, ctx.srv.cfg.enable_module_command.0) {
        return ctx.out.error("ERR MODULE command not allowed. If the enable-module-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.");
    }
    ctx.out
        .error("ERR Error unloading module: no such module with that name");
}

static CONFIG: &[Command] = &[
    cmd("get", -3, ADMIN | NOSCRIPT | LOADING | STALE, 0, config_get),
    cmd("set", -4, ADMIN | NOSCRIPT | LOADING | STALE, 0, config_set),
    cmd(
        "resetstat",
        2,
        ADMIN | NOSCRIPT | LOADING | STALE,
        0,
        config_resetstat,
    ),
    cmd(
        "rewrite",
        2,
        ADMIN | NOSCRIPT | LOADING | STALE,
        0,
        config_rewrite,
    ),
    cmd("help", 2, LOADING | STALE, 0, config_help),
];

static COMMAND: &[Command] = &[
    cmd("count", 2, LOADING | STALE, CONNECTION, command_count),
    cmd("info", -2, LOADING | STALE, CONNECTION, command_info),
    cmd("docs", -2, LOADING | STALE, CONNECTION, command_docs),
    cmd("list", -2, LOADING | STALE, CONNECTION, command_list),
    cmd("getkeys", -4, LOADING | STALE, CONNECTION, command_getkeys),
    cmd(
        "getkeysandflags",
        -4,
        LOADING | STALE,
        CONNECTION,
        command_getkeysandflags,
    ),
    cmd("help", 2, LOADING | STALE, CONNECTION, command_help),
];

static MEMORY: &[Command] = &[
    cmd("usage", -3, READONLY, 0, memory_usage),
    cmd("stats", 2, 0, 0, memory_stats),
    cmd("doctor", 2, 0, 0, memory_doctor),
    cmd("purge", 2, 0, 0, memory_purge),
    cmd("malloc-stats", 2, 0, 0, memory_malloc_stats),
    cmd("help", 2, LOADING | STALE, 0, memory_help),
];

/// Reply a HELP listing in Redis's shape.
pub fn help(ctx: &mut Ctx, name: &str, lines: &[&str]) {
    ctx.out.array(lines.len() + 3);
    ctx.out.simple(&format!(
        "{name} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    ));
    for l in lines {
        ctx.out.simple(l);
    }
    ctx.out.simple("HELP");
    ctx.out.simple("    Prints this help.");
}

// ---------------- CONFIG ----------------

fn config_get(ctx: &mut Ctx, args: Args) {
    let mut seen: Vec<(&'static str, String)> = Vec::new();
    for pat in args.iter().skip(2) {
        let pat_s = String::from_utf8_lossy(pat).to_ascii_lowercase();
        let is_glob = pat_s.bytes().any(|c| matches!(c, b'*' | b'?' | b'['));
        for s in SPECS {
            let names = std::iter::once(s.name).chain(s.aliases.iter().copied());
            for n in names {
                let hit = if is_glob {
                    s.flags & config::types::HIDDEN == 0
                        && glob_match(pat_s.as_bytes(), n.as_bytes(), true)
                } else {
                    n == pat_s
                };
                if hit && !seen.iter().any(|(x, _)| *x == n) {
                    seen.push((n, shown_value(&ctx.srv.cfg, s)));
                }
            }
        }
    }
    ctx.out.map(seen.len());
    for (n, v) in seen {
        ctx.out.bulk_str(n);
        ctx.out.bulk_str(&v);
    }
}

/// CONFIG GET's value: key passphrases are never echoed back.
fn shown_value(cfg: &config::Config, s: &config::Spec) -> String {
    let v = (s.get)(cfg);
    if s.name.starts_with("tls-") && s.flags & config::types::SENSITIVE != 0 && !v.is_empty() {
        return "(redacted)".into();
    }
    if s.name == "dir" {
        return std::env::current_dir()
            .map(|p| p.display().to_string())
            .unwrap_or(v);
    }
    v
}

fn config_set(ctx: &mut Ctx, args: Args) {
    if !args.len().is_multiple_of(2) {
        return ctx
            .out
            .error("ERR wrong number of arguments for 'config|set' command");
    }
    let mut pairs: Vec<(&'static config::Spec, String)> = Vec::new();
    let loading = ctx.srv.admin.rdb.loading || ctx.srv.admin.rdb.async_loading;
    let mut deny_loading = false;
    for i in (2..args.len()).step_by(2) {
        let name = String::from_utf8_lossy(args.get(i)).into_owned();
        let Some(spec) = config::lookup(&name) else {
            return ctx.out.error(&format!(
                "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
            ));
        };
        if spec.flags & config::types::IMMUTABLE != 0 {
            return ctx.out.error(&format!("ERR CONFIG SET failed (possibly related to argument '{name}') - can't set immutable config"));
        }
        deny_loading |= loading && spec.flags & config::types::DENY_LOADING != 0;
        if pairs.iter().any(|(s, _)| s.name == spec.name) {
            return ctx.out.error(&format!("ERR CONFIG SET failed (possibly related to argument '{name}') - duplicate parameter"));
        }
        pairs.push((spec, String::from_utf8_lossy(args.get(i + 1)).into_owned()));
    }
    if deny_loading {
        return ctx
            .out
            .error("LOADING Redis is loading the dataset in memory");
    }
    let old = ctx.srv.cfg.clone();
    for (spec, v) in &pairs {
        if let Err(e) = set_one(&mut ctx.srv.cfg, spec, v) {
            ctx.srv.cfg = old;
            return ctx.out.error(&format!(
                "ERR CONFIG SET failed (possibly related to argument '{}') - {}",
                spec.name, e
            ));
        }
    }
    let mut applies: Vec<(Apply, &'static str)> = Vec::new();
    for (spec, _) in &pairs {
        if !applies.iter().any(|(a, _)| *a == spec.apply) {
            applies.push((spec.apply, spec.name));
        }
    }
    for (apply, name) in applies {
        if let Err(e) = apply_change(ctx.srv, apply, &old) {
            // All or nothing: restore the old values and re-apply them.
            let new = std::mem::replace(&mut ctx.srv.cfg, old.clone());
            let _ = apply_change(ctx.srv, apply, &new);
            return ctx.out.error(&format!(
                "ERR CONFIG SET failed (possibly related to argument '{name}') - {e}"
            ));
        }
    }
    // repl-backlog-size: at least 16 KB (Redis's minimum), the history cut to it now.
    if ctx.srv.cfg.repl_backlog_size != old.repl_backlog_size {
        ctx.srv.cfg.repl_backlog_size = ctx.srv.cfg.repl_backlog_size.max(16 * 1024);
        crate::replication::resize_backlog(ctx.srv);
    }
    // A cluster node announces its new hostname, ports or flags from now on.
    if ctx.srv.cluster.is_some() {
        crate::cluster::refresh_myself(ctx.srv);
    }
    ctx.out.ok();
}

fn set_one(cfg: &mut config::Config, spec: &config::Spec, v: &str) -> Result<(), String> {
    config::validate(spec, v)?;
    match spec.name {
        // CONFIG SET client-output-buffer-limit merges the classes given.
        "client-output-buffer-limit" => {
            cfg.client_output_buffer_limit = cfg.client_output_buffer_limit.merged(v)?;
            Ok(())
        }
        "dir" => {
            std::env::set_current_dir(v).map_err(|e| e.to_string())?;
            (spec.set)(cfg, v)
        }
        _ => (spec.set)(cfg, v),
    }
}

/// Make a changed option take effect.
pub fn apply_change(srv: &mut Server, apply: Apply, old: &config::Config) -> Result<(), String> {
    match apply {
        Apply::Nothing | Apply::Dir | Apply::Hz | Apply::Limits => Ok(()),
        Apply::Appendonly => {
            use crate::persist::aof;
            let state = srv.admin.aof.state;
            if srv.cfg.appendonly && state == aof::State::Off {
                let in_exec = srv.data.watches.in_exec;
                aof::start(srv, in_exec)
                    .map_err(|_| "Unable to turn on AOF. Check server logs.".to_string())
            } else {
                if !srv.cfg.appendonly && state != aof::State::Off {
                    aof::stop(srv);
                }
                aof::config_changed(srv);
                Ok(())
            }
        }
        Apply::Listeners => {
            if srv.cfg.tls_port != 0 && srv.net.tls.is_none() {
                srv.reload_tls()?;
            }
            if srv.cfg.port != old.port
                || srv.cfg.tls_port != old.tls_port
                || srv.cfg.bind != old.bind
            {
                srv.rebind()
                    .map_err(|e| format!("Unable to listen on this port: {e}"))
            } else {
                Ok(())
            }
        }
        Apply::Tls => {
            if srv.cfg.tls_port != 0 {
                // Redis's text first (clients match on it), then the reason.
                srv.reload_tls().map_err(|e| {
                    warn!("Unable to update TLS configuration: {}", e);
                    format!("Unable to update TLS configuration: {e}")
                })
            } else {
                Ok(())
            }
        }
        Apply::Maxmemory => {
            crate::evict::configure(&srv.cfg);
            // Evicted from the event loop, not inside this command (a MULTI that set it
            // runs whole first), as Redis's eviction time event does.
            srv.data.evict_pending = srv.cfg.maxmemory > 0;
            Ok(())
        }
        Apply::Requirepass => {
            crate::acl::apply_requirepass(srv);
            Ok(())
        }
        Apply::Logging => {
            crate::log::set_level(srv.cfg.loglevel.0);
            Ok(())
        }
        Apply::Maxclients => {
            let want = srv.cfg.maxclients;
            if want <= old.maxclients {
                return Ok(());
            }
            match crate::fdlimit::adjust(want) {
                Ok(n) if n == want => Ok(()),
                Ok(n) => Err(format!(
                    "The operating system is not able to handle the specified number of clients, try with {n}"
                )),
                Err(e) => Err(e),
            }
        }
    }
}

fn config_resetstat(ctx: &mut Ctx, _: Args) {
    ctx.srv.admin.stats.reset();
    let r = &mut ctx.srv.repl;
    (r.sync_full, r.sync_partial_ok, r.sync_partial_err) = (0, 0, 0);
    for s in ctx.srv.admin.cmd_stats.iter_mut() {
        *s = CmdStats::default();
    }
    ctx.out.ok();
}

/// The ACL's users as config lines (None when an aclfile holds them).
fn acl_lines(srv: &Server) -> Option<Vec<String>> {
    srv.cfg.aclfile.is_empty().then(|| {
        srv.admin
            .acl
            .users
            .iter()
            .map(|(n, u)| {
                format!(
                    "user {} {}",
                    String::from_utf8_lossy(n),
                    u.describe(&srv.cmds)
                )
            })
            .collect()
    })
}

fn config_rewrite(ctx: &mut Ctx, _: Args) {
    let Some(path) = ctx.srv.admin.config_file.clone() else {
        return ctx
            .out
            .error("ERR The server is running without a config file");
    };
    let users = acl_lines(ctx.srv);
    match rewrite_config(&ctx.srv.cfg, &path, false, users.as_deref()) {
        Ok(()) => {
            notice!("CONFIG REWRITE executed with success.");
            ctx.out.ok()
        }
        Err(e) => {
            warn!("CONFIG REWRITE failed: {}", e);
            ctx.out.error(&format!("ERR Rewriting config file: {e}"))
        }
    }
}

/// Rewrite the config file as Redis does: keep comments and unknown lines, update lines of
/// known options in place, drop duplicates, append changed options that were not there.
/// `force_all` writes every option, defaults included (DEBUG CONFIG-REWRITE-FORCE-ALL).
///
/// `users`: the `user` lines of the ACL as it is now (ACL LIST), which replace the file's
/// own in place (the rest appended); None when an aclfile holds the users, and the
/// file's `user` lines are dropped.
pub fn rewrite_config(
    cfg: &config::Config,
    path: &str,
    force_all: bool,
    users: Option<&[String]>,
) -> Result<(), String> {
    const SIGNATURE: &str = "# Generated by CONFIG REWRITE";
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let defaults = config::Config::default();
    let mut written: Vec<&'static str> = Vec::new();
    let mut out = String::new();
    let mut signed = false;
    let mut users = users.map(|u| u.iter());
    for line in old.lines() {
        let t = line.trim();
        let name = t
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        if t.starts_with('#') || name.is_empty() {
            signed |= t == SIGNATURE;
            out.push_str(line);
            out.push('\n');
            continue;
        }
        if name == "user" {
            if let Some(u) = users.as_mut().and_then(|u| u.next()) {
                out.push_str(u);
                out.push('\n');
            }
            continue;
        }
        let Some(spec) = config::lookup(&name) else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        if written.contains(&spec.name) {
            continue;
        }
        written.push(spec.name);
        out.push_str(&rewrite_line(cfg, spec));
    }
    // What the file did not have goes at its end, after the signature (once).
    let mut append = |out: &mut String, line: &str| {
        if !signed {
            out.push_str(SIGNATURE);
            out.push('\n');
            signed = true;
        }
        out.push_str(line);
    };
    for spec in SPECS {
        if written.contains(&spec.name)
            || (!force_all && (spec.get)(cfg) == (spec.get)(&defaults))
            || spec.name == "dir"
        {
            continue;
        }
        append(&mut out, &rewrite_line(cfg, spec));
    }
    for u in users.into_iter().flatten() {
        append(&mut out, &format!("{u}\n"));
    }
    let tmp = format!("{path}.tmp-{}", std::process::id());
    std::fs::write(&tmp, out).map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, path).map_err(|e| e.to_string())
}

fn rewrite_line(cfg: &config::Config, spec: &config::Spec) -> String {
    let v = (spec.get)(cfg);
    match spec.name {
        "save" if v.is_empty() => "save \"\"\n".into(),
        // No master, or a cluster node (the cluster says whom it follows): no line, as
        // Redis drops it.
        "replicaof" if v.is_empty() || cfg.cluster_enabled => String::new(),
        // Host and port: two words.
        "replicaof" => format!(
            "replicaof {}\n",
            v.split_whitespace()
                .map(config::file::quote)
                .collect::<Vec<_>>()
                .join(" ")
        ),
        "save" => v
            .split_whitespace()
            .collect::<Vec<_>>()
            .chunks(2)
            .map(|p| format!("save {}\n", p.join(" ")))
            .collect(),
        "client-output-buffer-limit" => v
            .split_whitespace()
            .collect::<Vec<_>>()
            .chunks(4)
            .map(|p| format!("client-output-buffer-limit {}\n", p.join(" ")))
            .collect(),
        "bind" | "oom-score-adj-values" | "latency-tracking-info-percentiles" => {
            format!("{} {}\n", spec.name, v)
        }
        _ => format!("{} {}\n", spec.name, config::file::quote(&v)),
    }
}

fn config_help(ctx: &mut Ctx, _: Args) {
    help(
        ctx,
        "CONFIG",
        &[
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
        ],
    );
}

// ---------------- INFO ----------------

fn info(ctx: &mut Ctx, args: Args) {
    let mut sections: Vec<String> = args
        .iter()
        .skip(1)
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .collect();
    if sections.is_empty() {
        sections.push("default".into());
    }
    let text = info_text(ctx, &sections);
    ctx.out.verbatim(text.as_bytes());
}

const DEFAULT_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
];
const ALL_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "commandstats",
    "errorstats",
    "latencystats",
    "cluster",
    "keyspace",
    "loopstats",
];

pub fn info_text(ctx: &mut Ctx, asked: &[String]) -> String {
    let mut want: Vec<&str> = Vec::new();
    for a in asked {
        match a.as_str() {
            "default" => want.extend(DEFAULT_SECTIONS),
            "all" | "everything" => want.extend(ALL_SECTIONS),
            s => {
                if let Some(x) = ALL_SECTIONS.iter().find(|x| **x == s) {
                    want.push(x)
                }
            }
        }
    }
    let mut out = String::new();
    for sec in ALL_SECTIONS {
        if !want.contains(sec) {
            continue;
        }
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        let title = match *sec {
            "cpu" => "CPU".to_string(),
            s => {
                let mut t = s.to_string();
                t[..1].make_ascii_uppercase();
                t
            }
        };
        let _ = writeln!(out, "# {}\r", title);
        section(ctx, sec, &mut out);
    }
    out
}

fn rusage() -> (f64, f64) {
    // SAFETY: rusage is plain old data; all zeros is a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage fills the struct we own.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    (t(ru.ru_stime), t(ru.ru_utime))
}

fn human(n: u64) -> String {
    let f = n as f64;
    if f < 1024.0 {
        format!("{n}B")
    } else if f < 1024.0 * 1024.0 {
        format!("{:.2}K", f / 1024.0)
    } else if f < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}M", f / 1024.0 / 1024.0)
    } else {
        format!("{:.2}G", f / 1024.0 / 1024.0 / 1024.0)
    }
}

/// "Linux 6.1.0 x86_64", as Redis's INFO prints the OS.
fn uname() -> String {
    // SAFETY: uname fills the struct we own; its fields are NUL-terminated.
    unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut u) != 0 {
            return std::env::consts::OS.into();
        }
        let f = |b: &[libc::c_char]| {
            std::ffi::CStr::from_ptr(b.as_ptr())
                .to_string_lossy()
                .into_owned()
        };
        format!("{} {} {}", f(&u.sysname), f(&u.release), f(&u.machine))
    }
}

fn total_system_memory() -> u64 {
    // SAFETY: sysconf only reads system values.
    let (pages, size) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    (pages.max(0) as u64) * (size.max(0) as u64)
}

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .map(|pages| pages * 4096)
        .unwrap_or(0)
}

/// INFO's TLS fields (in the server section, so `INFO server | grep tls` shows them all):
/// port, certificates (subject, notAfter, days left) and handshake counters.
fn tls_info_section(srv: &Server, o: &mut String) {
    let mut f = |k: &str, v: &dyn std::fmt::Display| {
        let _ = write!(o, "{k}:{v}\r\n");
    };
    f("tls_port", &srv.cfg.tls_port);
    if srv.net.tls.is_none() {
        return;
    }
    let info = &srv.net.tls_info;
    let now = now_ms() / 1000;
    for (role, subject, not_after) in [
        ("server", &info.server_subject, info.server_not_after),
        ("client", &info.client_subject, info.client_not_after),
    ] {
        f(&format!("tls_{role}_cert_subject"), subject);
        f(
            &format!("tls_{role}_cert_not_after"),
            &crate::tls::format_time(not_after),
        );
        f(
            &format!("tls_{role}_cert_days_left"),
            &((not_after - now).div_euclid(86400)),
        );
    }
    let st = &srv.admin.stats;
    let failed: u64 = st.tls_handshake_failures.values().sum();
    f("tls_handshakes_done", &st.tls_handshakes_ok);
    f("tls_handshakes_resumed", &st.tls_handshakes_resumed);
    f("tls_handshakes_failed", &failed);
    let mut reasons: Vec<_> = st.tls_handshake_failures.iter().collect();
    reasons.sort();
    let by_reason: Vec<String> = reasons.iter().map(|(k, v)| format!("{k}={v}")).collect();
    f("tls_handshakes_failed_by_reason", &by_reason.join(","));
}

fn section(ctx: &mut Ctx, sec: &str, o: &mut String) {
    let srv = &*ctx.srv;
    macro_rules! f {
        ($k:expr, $v:expr) => {
            let _ = write!(o, "{}:{}\r\n", $k, $v);
        };
    }
    match sec {
        "server" => {
            let up = srv.admin.started.elapsed().as_secs();
            f!("redis_version", crate::REDIS_VERSION);
            f!("redis_git_sha1", "00000000");
            f!("redis_git_dirty", 0);
            f!("redis_build_id", "0");
            f!("redis_mode", "standalone");
            f!("os", uname());
            f!("arch_bits", 64);
            f!("monotonic_clock", "POSIX clock_gettime");
            f!("multiplexing_api", "epoll");
            f!("atomicvar_api", "c11-builtin");
            f!("gcc_version", "0.0.0");
            f!("process_id", std::process::id());
            f!("process_supervised", "no");
            f!("run_id", srv.admin.run_id);
            f!("tcp_port", srv.cfg.port);
            f!("server_time_usec", now_us());
            f!("uptime_in_seconds", up);
            f!("uptime_in_days", up / 86400);
            f!("hz", srv.cfg.hz);
            f!("configured_hz", srv.cfg.hz);
            f!("lru_clock", crate::evict::lru_clock());
            f!(
                "executable",
                std::env::current_exe()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            );
            f!(
                "config_file",
                srv.admin.config_file.as_deref().unwrap_or("")
            );
            f!("io_threads_active", 0);
            f!("ferrokv_version", env!("CARGO_PKG_VERSION"));
            tls_info_section(srv, o);
        }
        "clients" => {
            f!("connected_clients", srv.net.clients.len());
            f!(
                "cluster_connections",
                srv.cluster.as_deref().map_or(0, |c| c.links.len())
            );
            f!("maxclients", srv.cfg.maxclients);
            f!(
                "client_recent_max_input_buffer",
                srv.net
                    .clients
                    .iter()
                    .map(|(_, c)| c.rbuf.len())
                    .max()
                    .unwrap_or(0)
            );
            f!(
                "client_recent_max_output_buffer",
                srv.net
                    .clients
                    .iter()
                    .map(|(_, c)| c.pending_output())
                    .max()
                    .unwrap_or(0)
            );
            // Clients held by CLIENT PAUSE count as blocked, as in Redis.
            f!(
                "blocked_clients",
                srv.data.blocking.blocked_count() + srv.admin.paused_clients.len()
            );
            f!("tracking_clients", srv.data.tracking.clients);
            f!("clients_in_timeout_table", 0);
        }
        "memory" => {
            let used = crate::evict::used_memory();
            let rss = rss_bytes();
            let peak = srv.admin.peak_memory.max(used);
            let startup = srv.admin.stats.used_memory_startup.min(used);
            let clients: usize = srv
                .net
                .clients
                .iter()
                .map(|(_, c)| c.rbuf.capacity() + c.out.buf.capacity())
                .sum();
            let overhead = (startup + clients as u64).min(used);
            let dataset = used - overhead;
            let pct = |a: u64, b: u64| {
                if b == 0 {
                    0.0
                } else {
                    a as f64 * 100.0 / b as f64
                }
            };
            let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
            let total_sys = total_system_memory();
            f!("used_memory", used);
            f!("used_memory_human", human(used));
            f!("used_memory_rss", rss);
            f!("used_memory_rss_human", human(rss));
            f!("used_memory_peak", peak);
            f!("used_memory_peak_human", human(peak));
            f!("used_memory_peak_perc", format!("{:.2}%", pct(used, peak)));
            f!("used_memory_overhead", overhead);
            f!("used_memory_startup", startup);
            f!("used_memory_dataset", dataset);
            f!(
                "used_memory_dataset_perc",
                format!("{:.2}%", pct(dataset, used - startup))
            );
            // jemalloc's own view, refreshed now (Redis refreshes it from its cron): bytes
            // handed out, in active pages, and resident.
            let (alloc_b, active_b, resident_b) = allocator_stats().unwrap_or((used, used, rss));
            f!("allocator_allocated", alloc_b);
            f!("allocator_active", active_b);
            f!("allocator_resident", resident_b);
            f!("total_system_memory", total_sys);
            f!("total_system_memory_human", human(total_sys));
            // Lua's own memory is not measured: those fields report an empty engine.
            let fns = &srv.data.scripting.functions;
            f!("used_memory_lua", 31744);
            f!("used_memory_vm_eval", 31744);
            f!("used_memory_lua_human", human(31744));
            f!("used_memory_scripts_eval", 0);
            f!("number_of_cached_scripts", srv.data.scripting.scripts.len());
            f!("number_of_functions", fns.functions.len());
            f!("number_of_libraries", fns.libraries.len());
            f!("used_memory_vm_functions", 32768);
            f!("used_memory_vm_total", 64512);
            f!("used_memory_vm_total_human", human(64512));
            f!("used_memory_functions", 0);
            f!("used_memory_scripts", 0);
            f!("used_memory_scripts_human", "0B");
            f!("maxmemory", srv.cfg.maxmemory);
            f!("maxmemory_human", human(srv.cfg.maxmemory as u64));
            f!("maxmemory_policy", srv.cfg.maxmemory_policy_name());
            // Each layer's size over the one it holds: allocator pages over bytes handed
            // out, resident over active, the process's RSS over the allocator's, RSS over
            // used_memory.
            for (name, outer, inner) in [
                ("allocator_frag", active_b, alloc_b),
                ("allocator_rss", resident_b, active_b),
                ("rss_overhead", rss, resident_b),
                ("mem_fragmentation", rss, used),
            ] {
                f!(
                    format!("{name}_ratio"),
                    format!("{:.2}", ratio(outer, inner))
                );
                f!(format!("{name}_bytes"), outer as i64 - inner as i64);
            }
            // The replication buffer: the backlog's share, the replicas' beyond it (not
            // counted for maxmemory), as Redis reports them.
            let repl_mem = srv.repl.backlog.as_ref().map_or(0, |b| b.mem());
            let replicas_mem = if srv.repl.replicas.is_empty() {
                0
            } else {
                crate::replication::replicas_extra_mem(srv)
            };
            let aof_buf = srv.data.prop.aof().map_or(0, |a| a.buf.capacity());
            f!(
                "mem_not_counted_for_evict",
                crate::replication::not_counted_mem(srv) + aof_buf
            );
            f!("mem_replication_backlog", repl_mem - replicas_mem);
            f!("mem_total_replication_buffers", repl_mem);
            f!("mem_clients_slaves", replicas_mem);
            f!("mem_clients_normal", clients);
            f!("mem_cluster_links", 0);
            f!(
                "mem_aof_buffer",
                srv.data.prop.aof().map_or(0, |a| a.buf.capacity())
            );
            f!("mem_allocator", "jemalloc-5.3.0");
            f!("active_defrag_running", 0);
            f!("lazyfree_pending_objects", 0);
            f!("lazyfreed_objects", 0);
        }
        "persistence" => {
            let r = &srv.admin.rdb;
            f!("loading", r.loading as u8);
            if r.loading || r.async_loading {
                let (total, done) = (r.loading_total_bytes, r.loading_loaded_bytes);
                let perc = if total > 0 {
                    done as f64 * 100.0 / total as f64
                } else {
                    0.0
                };
                let elapsed = (crate::util::now_ms() / 1000 - r.loading_started).max(0) as u64;
                let left = if total > 0 {
                    total.saturating_sub(done)
                } else {
                    1
                };
                let eta = if elapsed == 0 {
                    1
                } else {
                    elapsed * left / (done + 1)
                };
                f!("loading_start_time", r.loading_started);
                f!("loading_total_bytes", total);
                f!("loading_rdb_used_mem", 0);
                f!("loading_loaded_bytes", done);
                f!("loading_loaded_perc", format!("{perc:.2}"));
                f!("loading_eta_seconds", eta);
            }
            f!("async_loading", r.async_loading as u8);
            f!("current_cow_peak", r.cow_peak);
            f!("current_cow_size", r.cow_size);
            f!(
                "current_cow_size_age",
                r.cow_updated.map_or(0, |t| t.elapsed().as_secs())
            );
            let perc = if r.keys_total > 0 {
                r.keys_processed as f64 * 100.0 / r.keys_total as f64
            } else {
                0.0
            };
            f!("current_fork_perc", format!("{perc:.2}"));
            f!("current_save_keys_processed", r.keys_processed);
            f!("current_save_keys_total", r.keys_total);
            let r = &srv.admin.rdb;
            f!(
                "rdb_changes_since_last_save",
                crate::persist::snapshot::changes_since_save(srv)
            );
            f!("rdb_bgsave_in_progress", r.child.is_some() as u8);
            f!("rdb_last_save_time", r.last_save);
            f!(
                "rdb_last_bgsave_status",
                if r.last_bgsave_ok { "ok" } else { "err" }
            );
            f!("rdb_last_bgsave_time_sec", r.last_bgsave_secs);
            f!(
                "rdb_current_bgsave_time_sec",
                r.child.map_or(-1, |(_, t, _)| t.elapsed().as_secs() as i64)
            );
            f!("rdb_saves", r.saves);
            f!("rdb_last_cow_size", r.last_cow_size);
            f!("rdb_last_load_keys_expired", r.keys_expired_at_load);
            f!("rdb_last_load_keys_loaded", r.keys_loaded);
            crate::persist::aof::info(srv, &mut |k, v| {
                f!(k, v);
            });
            f!("module_fork_in_progress", 0);
            f!("module_fork_last_cow_size", 0);
            if srv.admin.aof.state != crate::persist::aof::State::Off {
                crate::persist::aof::info_enabled(srv, &mut |k, v| {
                    f!(k, v);
                });
            }
        }
        "stats" => {
            let st = &srv.admin.stats;
            f!("total_connections_received", st.total_connections_received);
            f!("total_commands_processed", st.total_commands_processed);
            f!("instantaneous_ops_per_sec", st.instantaneous_ops());
            f!("total_net_input_bytes", st.net_input_bytes);
            f!("total_net_output_bytes", st.net_output_bytes);
            f!("total_net_repl_input_bytes", st.net_repl_input_bytes);
            f!("total_net_repl_output_bytes", st.net_repl_output_bytes);
            f!(
                "instantaneous_input_kbps",
                format!("{:.2}", st.instantaneous_input_kbps())
            );
            f!(
                "instantaneous_output_kbps",
                format!("{:.2}", st.instantaneous_output_kbps())
            );
            f!("instantaneous_input_repl_kbps", "0.00");
            f!("instantaneous_output_repl_kbps", "0.00");
            f!("rejected_connections", st.rejected_connections);
            f!("sync_full", srv.repl.sync_full);
            f!("sync_partial_ok", srv.repl.sync_partial_ok);
            f!("sync_partial_err", srv.repl.sync_partial_err);
            f!("expired_keys", st.expired_keys);
            f!("expired_stale_perc", "0.00");
            f!("expired_time_cap_reached_count", 0);
            f!("expire_cycle_cpu_milliseconds", 0);
            f!("evicted_keys", st.evicted_keys);
            f!("evicted_clients", 0);
            f!("total_eviction_exceeded_time", 0);
            f!("current_eviction_exceeded_time", 0);
            f!("keyspace_hits", st.keyspace_hits);
            f!("keyspace_misses", st.keyspace_misses);
            f!("pubsub_channels", srv.data.pubsub.channel_count());
            f!("pubsub_patterns", srv.data.pubsub.pattern_count());
            f!("pubsubshard_channels", srv.data.pubsub.shard_count());
            f!("latest_fork_usec", srv.admin.rdb.latest_fork_usec);
            f!("total_forks", srv.admin.stats.total_forks);
            f!("migrate_cached_sockets", srv.net.migrate.cached());
            f!("slave_expires_tracked_keys", 0);
            f!("active_defrag_hits", 0);
            f!("active_defrag_misses", 0);
            f!("active_defrag_key_hits", 0);
            f!("active_defrag_key_misses", 0);
            f!("total_active_defrag_time", 0);
            f!("current_active_defrag_time", 0);
            f!("tracking_total_keys", srv.data.tracking.total_keys());
            f!("tracking_total_items", srv.data.tracking.total_items());
            f!(
                "tracking_total_prefixes",
                srv.data.tracking.total_prefixes()
            );
            f!("unexpected_error_replies", st.unexpected_error_replies);
            f!("total_error_replies", st.total_error_replies);
            f!("dump_payload_sanitizations", 0);
            f!("total_reads_processed", st.total_reads_processed);
            f!("total_writes_processed", st.total_writes_processed);
            f!("io_threaded_reads_processed", 0);
            f!("io_threaded_writes_processed", 0);
            f!("reply_buffer_shrinks", 0);
            f!("reply_buffer_expands", 0);
            // ferrokv's own counters, after Redis's fields.
            f!(
                "client_query_buffer_limit_disconnections",
                st.client_qbuf_limit_disconnections
            );
            f!(
                "client_output_buffer_limit_disconnections",
                st.client_outbuf_limit_disconnections
            );
            f!("eventloop_cycles", srv.net.loop_iterations);
            crate::acl::info_stats(srv, o);
        }
        "replication" => crate::replication::info(srv, o),
        "cpu" => {
            let (sys, user) = rusage();
            f!("used_cpu_sys", format!("{sys:.6}"));
            f!("used_cpu_user", format!("{user:.6}"));
            f!("used_cpu_sys_children", "0.000000");
            f!("used_cpu_user_children", "0.000000");
            // One thread does all the work.
            f!("used_cpu_sys_main_thread", format!("{sys:.6}"));
            f!("used_cpu_user_main_thread", format!("{user:.6}"));
        }
        "modules" => {}
        "cluster" => {
            f!("cluster_enabled", srv.cluster.is_some() as u8);
        }
        "keyspace" => {
            for (i, db) in srv.data.ks.dbs.iter().enumerate() {
                if !db.is_empty() {
                    let _ = write!(
                        o,
                        "db{}:keys={},expires={},avg_ttl={}\r\n",
                        i,
                        db.len(),
                        db.volatile(),
                        db.avg_ttl
                    );
                }
            }
        }
        "commandstats" => {
            for (i, e) in srv.cmds.entries.iter().enumerate() {
                let s = srv.admin.cmd_stats[i];
                if s.calls == 0 && s.rejected_calls == 0 && s.failed_calls == 0 {
                    continue;
                }
                let per = if s.calls > 0 {
                    s.usec as f64 / s.calls as f64
                } else {
                    0.0
                };
                let _ = write!(
                    o,
                    "cmdstat_{}:calls={},usec={},usec_per_call={:.2},rejected_calls={},failed_calls={}\r\n",
                    e.full_name, s.calls, s.usec, per, s.rejected_calls, s.failed_calls
                );
            }
        }
        "latencystats" | "loopstats" => crate::latency::info_section(srv, sec, o),
        "errorstats" => {
            let mut errs: Vec<_> = srv.admin.stats.errors.iter().collect();
            errs.sort();
            for (k, v) in errs {
                let _ = write!(o, "errorstat_{}:count={}\r\n", k, v);
            }
        }
        _ => {}
    }
}

// ---------------- COMMAND ----------------

fn command(ctx: &mut Ctx, args: Args) {
    // Plain COMMAND (no subcommand): every command's info.
    if args.len() == 1 {
        let ids: Vec<usize> = ctx.srv.cmds.top_level().map(|(i, _)| i).collect();
        ctx.out.array(ids.len());
        for id in ids {
            command_info_reply(ctx, id);
        }
    }
}

fn command_count(ctx: &mut Ctx, _: Args) {
    let n = ctx.srv.cmds.top_level().count();
    ctx.out.int(n as i64);
}

fn command_info(ctx: &mut Ctx, args: Args) {
    if args.len() == 2 {
        return command(ctx, args.tail(1));
    }
    ctx.out.array(args.len() - 2);
    for name in args.iter().skip(2) {
        match find_command(ctx.srv, name) {
            Some(id) => command_info_reply(ctx, id),
            None => ctx.out.null_array(),
        }
    }
}

/// "get" or "config|get".
fn find_command(srv: &Server, name: &[u8]) -> Option<usize> {
    match name.iter().position(|&c| c == b'|') {
        Some(p) => srv
            .cmds
            .lookup(&name[..p])
            .and_then(|id| srv.cmds.lookup_sub(id, &name[p + 1..])),
        None => srv.cmds.lookup(name),
    }
}

fn command_info_reply(ctx: &mut Ctx, id: usize) {
    let e = &ctx.srv.cmds.entries[id];
    let c = e.cmd;
    let out = &mut *ctx.out;
    out.array(10);
    out.bulk_str(&e.full_name);
    out.int(c.arity as i64);
    let flags: Vec<&str> = FLAG_NAMES
        .iter()
        .filter(|(b, _)| c.flags & b != 0)
        .map(|(_, n)| *n)
        .collect();
    out.set(flags.len());
    for f in flags {
        out.simple(f);
    }
    let (first, last, step) = e.keys.legacy;
    out.int(first as i64);
    out.int(last as i64);
    out.int(step as i64);
    let cats: Vec<&str> = CATEGORY_NAMES
        .iter()
        .filter(|(b, _)| e.acl & b != 0)
        .map(|(_, n)| *n)
        .collect();
    out.set(cats.len());
    for cat in cats {
        out.simple(&format!("@{cat}"));
    }
    out.array(0); // tips
    super::keyspec::specs_reply(out, e);
    let subs: Vec<usize> = e.subs.values().copied().collect();
    ctx.out.array(subs.len());
    for s in subs {
        command_info_reply(ctx, s);
    }
}

fn command_docs(ctx: &mut Ctx, args: Args) {
    let ids: Vec<usize> = if args.len() == 2 {
        ctx.srv.cmds.top_level().map(|(i, _)| i).collect()
    } else {
        args.iter()
            .skip(2)
            .filter_map(|n| find_command(ctx.srv, n))
            .collect()
    };
    ctx.out.map(ids.len());
    for id in ids {
        command_doc_reply(ctx, id);
    }
}

fn command_doc_reply(ctx: &mut Ctx, id: usize) {
    let e = &ctx.srv.cmds.entries[id];
    let subs: Vec<usize> = e.subs.values().copied().collect();
    ctx.out.bulk_str(&e.full_name);
    ctx.out.map(if subs.is_empty() { 3 } else { 4 });
    ctx.out.bulk_str("summary");
    ctx.out.bulk_str(e.cmd.summary);
    ctx.out.bulk_str("since");
    ctx.out.bulk_str(if e.cmd.since.is_empty() {
        "1.0.0"
    } else {
        e.cmd.since
    });
    ctx.out.bulk_str("group");
    ctx.out.bulk_str(e.group);
    if !subs.is_empty() {
        ctx.out.bulk_str("subcommands");
        ctx.out.map(subs.len());
        for s in subs {
            command_doc_reply(ctx, s);
        }
    }
}

fn command_list(ctx: &mut Ctx, args: Args) {
    let mut filter: Option<(String, String)> = None;
    if args.len() == 5
        && eq_ic(args.get(2), "filterby")
        && ["pattern", "aclcat", "module"]
            .iter()
            .any(|k| eq_ic(args.get(3), k))
    {
        filter = Some((
            String::from_utf8_lossy(args.get(3)).to_ascii_lowercase(),
            String::from_utf8_lossy(args.get(4)).into_owned(),
        ));
    } else if args.len() != 2 {
        return ctx.out.error(SYNTAX);
    }
    let names: Vec<String> = ctx
        .srv
        .cmds
        .entries
        .iter()
        .filter(|e| match &filter {
            None => true,
            Some((k, v)) => match k.as_str() {
                "pattern" => glob_match(v.as_bytes(), e.full_name.as_bytes(), true),
                "aclcat" => CATEGORY_NAMES
                    .iter()
                    .any(|(b, n)| n.eq_ignore_ascii_case(v) && e.acl & b != 0),
                "module" => false,
                _ => false,
            },
        })
        .map(|e| e.full_name.clone())
        .collect();
    ctx.out.array(names.len());
    for n in names {
        ctx.out.bulk_str(&n);
    }
}

/// COMMAND GETKEYS / GETKEYSANDFLAGS: the keys of the command in `args[2..]` with their
/// flags, as the ACL check finds them, with Redis's errors.
fn getkeys_common(ctx: &mut Ctx, args: Args) -> Option<super::keyspec::KeyList> {
    let sub = args.tail(2);
    let Some(id) = find_command_args(ctx.srv, sub) else {
        ctx.out.error("ERR Invalid command specified");
        return None;
    };
    let e = &ctx.srv.cmds.entries[id];
    if !e.keys.has_keys() {
        ctx.out.error("ERR The command has no key arguments");
        return None;
    }
    if !arity_ok(e.cmd.arity, sub.len()) {
        ctx.out
            .error("ERR Invalid number of arguments specified for command");
        return None;
    }
    let argv: smallvec::SmallVec<[&[u8]; 16]> = sub.iter().collect();
    let mut keys = super::keyspec::KeyList::new();
    super::keyspec::keys_of(&e.keys, &argv, &mut keys);
    if keys.is_empty() && e.cmd.flags & NO_MANDATORY_KEYS == 0 {
        ctx.out.error("ERR Invalid arguments specified for command");
        return None;
    }
    Some(keys)
}

fn command_getkeys(ctx: &mut Ctx, args: Args) {
    if let Some(keys) = getkeys_common(ctx, args) {
        ctx.out.array(keys.len());
        for (p, _) in keys {
            ctx.out.bulk(args.get(2 + p));
        }
    }
}

fn command_getkeysandflags(ctx: &mut Ctx, args: Args) {
    if let Some(keys) = getkeys_common(ctx, args) {
        ctx.out.array(keys.len());
        for (p, flags) in keys {
            ctx.out.array(2);
            ctx.out.bulk(args.get(2 + p));
            super::keyspec::flags_reply(ctx.out, flags);
        }
    }
}

/// The command (or subcommand) an argument vector names.
fn find_command_args(srv: &Server, a: Args) -> Option<usize> {
    let id = srv.cmds.lookup(a.get(0))?;
    if !srv.cmds.entries[id].subs.is_empty() && a.len() >= 2 {
        return srv.cmds.lookup_sub(id, a.get(1)).or(Some(id));
    }
    Some(id)
}

fn command_help(ctx: &mut Ctx, _: Args) {
    help(
        ctx,
        "COMMAND",
        &[
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys and the access flags from a full Redis command.",
        ],
    );
}

// ---------------- misc ----------------

fn time(ctx: &mut Ctx, _: Args) {
    let us = now_us();
    ctx.out.array(2);
    ctx.out.bulk_int(us / 1_000_000);
    ctx.out.bulk_int(us % 1_000_000);
}

fn dbsize(ctx: &mut Ctx, _: Args) {
    let n = ctx.dbm().len();
    ctx.out.int(n as i64);
}

fn lastsave(ctx: &mut Ctx, _: Args) {
    ctx.out.int(ctx.srv.admin.rdb.last_save);
}

fn save(ctx: &mut Ctx, _: Args) {
    match crate::persist::snapshot::save(ctx.srv) {
        Ok(()) => ctx.out.ok(),
        Err(e) => ctx.out.error(&e),
    }
}

/// BGSAVE [SCHEDULE]: fork a child that saves; with SCHEDULE, start it once another
/// child (an AOF rewrite) is done instead of failing.
fn bgsave(ctx: &mut Ctx, args: Args) {
    let schedule = match args.len() {
        1 => false,
        2 if eq_ic(args.get(1), "schedule") => true,
        _ => return ctx.out.error(SYNTAX),
    };
    let r = &ctx.srv.admin.rdb;
    if r.child.is_some() {
        return ctx.out.error("ERR Background save already in progress");
    }
    if crate::child::writer_running(ctx.srv) {
        if schedule {
            ctx.srv.admin.rdb.scheduled = true;
            return ctx.out.simple("Background saving scheduled");
        }
        return ctx.out.error("ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.");
    }
    match crate::persist::snapshot::bgsave(ctx.srv) {
        Ok(()) => ctx.out.simple("Background saving started"),
        Err(e) => ctx.out.error(&e),
    }
}

/// BGREWRITEAOF: fork a child that writes a new AOF base (scheduled when another child
/// runs or inside a transaction).
fn bgrewriteaof(ctx: &mut Ctx, _: Args) {
    let in_exec = ctx.srv.data.watches.in_exec;
    match crate::persist::aof::bgrewriteaof(ctx.srv, in_exec) {
        Ok(true) => ctx
            .out
            .simple("Background append only file rewriting started"),
        Ok(false) => ctx
            .out
            .simple("Background append only file rewriting scheduled"),
        Err(e) => ctx.out.error(&e),
    }
}

/// The hooks the AOF loader runs commands and registers libraries through.
fn aof_hooks<'a, 'b>(
    register: &'a mut crate::persist::snapshot::RegisterLibrary<'b>,
) -> crate::persist::aof::Hooks<'a, 'b> {
    crate::persist::aof::Hooks {
        replay: crate::commands::replay,
        register,
        new_client: Server::add_internal_client,
        drop_client: |srv, idx| {
            let c = srv.net.clients.remove(idx);
            crate::commands::on_client_closed(srv, idx, &c);
        },
        in_multi: |srv, idx| srv.net.clients[idx].tx.active,
    }
}

/// How a function library read from a file is registered (`merge`: replacing one of
/// the same name, DEBUG RELOAD MERGE).
fn register_library(merge: bool) -> impl FnMut(&mut Server, &[u8]) -> Result<(), String> {
    move |srv: &mut Server, code: &[u8]| {
        crate::scripting::functions::load_from_file(&mut srv.data.scripting.functions, code, merge)
    }
}

/// A replica's full sync: the dataset (and the function libraries) replaced by the
/// snapshot at `path`.
pub fn load_for_replication(srv: &mut Server, path: &str) -> Result<(), String> {
    empty_data(srv);
    let f = &mut srv.data.scripting.functions;
    f.libraries.clear();
    f.functions.clear();
    let mut register = register_library(false);
    crate::persist::snapshot::load_file(srv, path, false, &mut register)?;
    srv.admin.rdb.dirty_at_save = srv.data.dirty;
    Ok(())
}

/// A replica's diskless full sync that loaded whole: its keyspace and function libraries
/// replace the server's (the libraries compiled first: one that fails keeps everything as
/// it was). Watchers, tracking clients and clients blocked on keys learn of the change as
/// of a FLUSHALL.
pub fn swap_in_for_replication(
    srv: &mut Server,
    mut load: crate::persist::snapshot::StreamLoad,
) -> Result<(), String> {
    let mut reg = crate::scripting::functions::Registry::default();
    for code in &load.functions {
        crate::scripting::functions::load_from_file(&mut reg, code, false)?;
    }
    crate::commands::multi::touch_all_dbs(srv);
    crate::tracking::flushed(srv);
    std::mem::swap(&mut srv.data.ks, &mut load.ks);
    srv.data.scripting.functions = reg;
    for db in 0..srv.data.ks.dbs.len() {
        crate::blocking::signal_db(srv, db);
    }
    srv.data.dirty += 1;
    srv.admin.rdb.dirty_at_save = srv.data.dirty;
    Ok(())
}

/// At startup: the AOF when appendonly yes (Redis then loads no RDB), else the RDB.
pub fn load_at_startup(srv: &mut Server) -> Result<(), String> {
    let mut register = register_library(false);
    // The manifest is read whether the AOF is on or not (a later BGREWRITEAOF or
    // `appendonly yes` goes on from its sequence numbers), as Redis does.
    crate::persist::aof::load_manifest(srv)?;
    if srv.cfg.appendonly {
        crate::persist::aof::load_at_startup(srv, &mut aof_hooks(&mut register))?;
    } else {
        crate::persist::snapshot::load_at_startup(srv, &mut register)?;
    }
    crate::persist::aof::delete_history(srv);
    // What was just loaded is what is on disk.
    srv.admin.rdb.dirty_at_save = srv.data.dirty;
    Ok(())
}

/// DEBUG LOADAOF: write out the AOF buffer, empty the dataset, load the AOF back (a
/// failure ends the process, as in Redis).
fn debug_loadaof(srv: &mut Server) {
    use crate::persist::aof;
    if srv.admin.aof.state != aof::State::Off {
        aof::flush(srv, true);
    }
    empty_data(srv);
    let f = &mut srv.data.scripting.functions;
    f.libraries.clear();
    f.functions.clear();
    if let Err(e) = aof::load_manifest(srv) {
        crate::warn!("{e}");
        std::process::exit(1);
    }
    aof::delete_history(srv);
    let mut register = register_library(false);
    let st = aof::load_files(srv, &mut aof_hooks(&mut register));
    if !matches!(st, aof::Status::Ok | aof::Status::Empty) {
        std::process::exit(1);
    }
    srv.admin.rdb.dirty_at_save = srv.data.dirty;
    crate::warn!("Append Only File loaded by DEBUG LOADAOF");
}

fn flush_mode_ok(ctx: &mut Ctx, args: Args) -> bool {
    match args.len() {
        1 => true,
        2 if eq_ic(args.get(1), "sync") || eq_ic(args.get(1), "async") => true,
        _ => {
            ctx.out.error(SYNTAX);
            false
        }
    }
}

fn flushdb(ctx: &mut Ctx, args: Args) {
    if !flush_mode_ok(ctx, args) {
        return;
    }
    let n = ctx.dbm().len() as u64;
    crate::commands::multi::touch_db(ctx.srv, ctx.db, None);
    crate::tracking::flushed(ctx.srv);
    ctx.dbm().clear();
    crate::blocking::signal_db(ctx.srv, ctx.db);
    ctx.srv.data.dirty += n.max(1);
    ctx.out.ok();
}

/// Empty every database, telling WATCH, client tracking and blocked clients; the number
/// of keys removed (FLUSHALL, DEBUG RELOAD).
pub(crate) fn empty_data(srv: &mut Server) -> u64 {
    crate::commands::multi::touch_all_dbs(srv);
    crate::tracking::flushed(srv);
    let mut removed = 0;
    for db in srv.data.ks.dbs.iter_mut() {
        removed += db.len() as u64;
        db.clear();
    }
    for db in 0..srv.data.ks.dbs.len() {
        crate::blocking::signal_db(srv, db);
    }
    removed
}

/// DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: save, empty the dataset (and functions), load
/// the file back; MERGE replaces keys and libraries that exist.
fn debug_reload(srv: &mut Server, merge: bool, noflush: bool, nosave: bool) -> Result<(), String> {
    use crate::persist::snapshot;
    if srv.admin.rdb.loading {
        return Err("LOADING Redis is loading the dataset in memory".into());
    }
    if !nosave {
        snapshot::save(srv)
            .map_err(|_| "ERR Error trying to save the DB, check the logs".to_string())?;
    }
    if !noflush && !merge {
        empty_data(srv);
        let f = &mut srv.data.scripting.functions;
        f.libraries.clear();
        f.functions.clear();
    }
    let path = srv.cfg.dbfilename.clone();
    let mut register = register_library(merge);
    snapshot::load_file(srv, &path, merge, &mut register).map_err(|e| {
        crate::warn!("{e}");
        "ERR Error trying to load the RDB dump, check server logs.".to_string()
    })?;
    crate::notice!("DB reloaded by DEBUG RELOAD");
    Ok(())
}

fn flushall(ctx: &mut Ctx, args: Args) {
    if !flush_mode_ok(ctx, args) {
        return;
    }
    ctx.srv.data.dirty += empty_data(ctx.srv);
    // As Redis: a running BGSAVE is stopped (it would write the old data), and with save
    // points set the empty dataset is saved at once.
    crate::persist::snapshot::kill_child(ctx.srv);
    if !ctx.srv.cfg.save.0.is_empty() {
        let _ = crate::persist::snapshot::save(ctx.srv);
    }
    // Propagated even when there was nothing to flush.
    ctx.srv
        .data
        .prop
        .force(crate::propagate::AOF | crate::propagate::REPL);
    ctx.out.ok();
}

fn shutdown(ctx: &mut Ctx, args: Args) {
    for a in args.iter().skip(1) {
        if !["nosave", "save", "now", "force", "abort"]
            .iter()
            .any(|o| eq_ic(a, o))
        {
            return ctx.out.error(SYNTAX);
        }
        if eq_ic(a, "abort") {
            return ctx.out.error("ERR No shutdown in progress.");
        }
    }
    let nosave = args.iter().skip(1).any(|a| eq_ic(a, "nosave"));
    if ctx.srv.data.scripting.busy && !nosave {
        // A timed-out script: only SHUTDOWN NOSAVE may stop the server.
        return ctx.out.error(crate::scripting::current_busy_error(ctx.srv));
    }
    let save = args.iter().skip(1).any(|a| eq_ic(a, "save"));
    let force = args.iter().skip(1).any(|a| eq_ic(a, "force"));
    if save && nosave {
        return ctx.out.error(SYNTAX);
    }
    if !crate::persist::snapshot::prepare_shutdown(ctx.srv, save, nosave, force) {
        return ctx.out.error("ERR Errors trying to SHUTDOWN. Check logs.");
    }
    // Redis replies nothing on success: the connection closes when the server exits
    // (after its listeners, so that a client reconnecting at once is refused).
    ctx.srv.admin.shutdown = Some(crate::server::Shutdown { from_signal: false });
}

fn monitor(ctx: &mut Ctx, _: Args) {
    let id = ctx.id;
    let c = ctx.client();
    if c.monitor {
        return;
    }
    c.monitor = true;
    ctx.srv.admin.monitors.push(id);
    ctx.out.ok();
}

/// Send a command to every MONITOR client, in Redis's line format.
pub fn feed_monitors(ctx: &mut Ctx, args: Args) {
    let us = now_us();
    let c = &ctx.srv.net.clients[ctx.id];
    let origin = if ctx.srv.data.scripting.calling {
        "lua".to_string()
    } else if c.kind == crate::server::ClientKind::Unix {
        "unix:".to_string() + &c.unix_path
    } else {
        c.peer.clone()
    };
    let mut line = format!(
        "+{}.{:06} [{} {}]",
        us / 1_000_000,
        us % 1_000_000,
        ctx.db,
        origin
    );
    let hidden = crate::latency::redacted_args(args);
    for (i, a) in args.iter().enumerate() {
        line.push(' ');
        if hidden.contains(&i) {
            line.push_str("\"(redacted)\"");
        } else {
            line.push_str(&repr(a));
        }
    }
    line.push_str("\r\n");
    let mons = ctx.srv.admin.monitors.clone();
    for m in mons {
        if m == ctx.id {
            continue;
        }
        if let Some(mc) = ctx.srv.net.clients.get_mut(m) {
            mc.out.raw(line.as_bytes());
            ctx.srv.net.pending_write.push(m);
        }
    }
}

/// A quoted representation like Redis's sdscatrepr.
pub fn repr(a: &[u8]) -> String {
    let mut s = String::from("\"");
    for &c in a {
        match c {
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            7 => s.push_str("\\a"),
            8 => s.push_str("\\b"),
            c if c.is_ascii_graphic() || c == b' ' => s.push(c as char),
            c => {
                let _ = write!(s, "\\x{:02x}", c);
            }
        }
    }
    s.push('"');
    s
}

/// Whether a protected command is allowed by its enable-*-command option (yes / local / no).
fn protected_allowed(ctx: &Ctx, option: u8) -> bool {
    match option {
        1 => true,
        2 => {
            let c = &ctx.srv.net.clients[ctx.id];
            c.kind == crate::server::ClientKind::Unix
                || c.peer.starts_with("127.")
                || c.peer.starts_with("[::1]")
        }
        _ => false,
    }
}

fn debug(ctx: &mut Ctx, args: Args) {
    if !protected_allowed(ctx, ctx.srv.cfg.enable_debug_command.0) {
        return ctx.out.error("ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.");
    }
    let sub = String::from_utf8_lossy(args.get(1)).to_ascii_lowercase();
    match sub.as_str() {
        // DEBUG ERROR msg: replies with that error (test harnesses inject -LOADING,
        // -READONLY, -OOM with it); a leading '-' gives the code, else ERR.
        "error" if args.len() == 3 => {
            let msg = String::from_utf8_lossy(args.get(2)).replace(['\r', '\n'], " ");
            match msg.strip_prefix('-') {
                Some(m) => ctx.out.error(m),
                None => ctx.out.error(&format!("ERR {msg}")),
            }
        }
        "sleep" if args.len() == 3 => {
            // Redis converts to whole microseconds with a C cast: what is not a finite
            // positive number of them (inf, nan, 1e30, negative) makes no sleep at all.
            let secs = crate::util::parse_f64(args.get(2)).unwrap_or(0.0);
            let micros = secs * 1e6;
            if micros.is_finite() && micros >= 1.0 && micros < i64::MAX as f64 {
                std::thread::sleep(std::time::Duration::from_micros(micros as u64));
            }
            ctx.out.ok();
        }
        "set-active-expire" if args.len() == 3 => {
            ctx.srv.data.active_expire_enabled =
                crate::util::parse_i64(args.get(2)).unwrap_or(1) != 0;
            ctx.out.ok();
        }
        "object" if args.len() == 3 => {
            let key = args.get(2);
            let Some(e) = ctx.srv.data.ks.dbs[ctx.db].raw(key) else {
                return ctx.out.error("ERR no such key");
            };
            let enc = super::keys::encoding_name(e, &ctx.srv.cfg);
            let lru = crate::evict::idle_secs(e.lru());
            // As Redis's rdbSavedObjectLen: the DUMP body without type byte and footer.
            let ser = crate::persist::codec::serialize(e.val(), ctx.srv.cfg.rdbcompression)
                .len()
                .saturating_sub(11);
            let s = format!("Value at:0x0 refcount:1 encoding:{enc} serializedlength:{ser} lru:{} lru_seconds_idle:{lru}", e.lru());
            ctx.out.simple(&s);
        }
        "quicklist-packed-threshold" | "listpack" | "quicklist" | "stringmatch-len" => ctx.out.ok(),
        "set-skip-checksum-validation" if args.len() == 3 => {
            crate::persist::codec::set_skip_checksum(
                crate::util::parse_i64(args.get(2)).unwrap_or(0) != 0,
            );
            ctx.out.ok();
        }
        "clusterlink" if args.len() == 5 && eq_ic(args.get(2), "kill") => {
            let Some(cl) = ctx.srv.cluster.as_deref_mut() else {
                return ctx
                    .out
                    .error("ERR Debug option only available for cluster mode enabled setup!");
            };
            let Some(n) = cl.lookup(args.get(4)) else {
                return ctx.out.error(&format!(
                    "ERR Unknown node {}",
                    String::from_utf8_lossy(args.get(4))
                ));
            };
            let (to, from) = (cl.nodes[n].link, cl.nodes[n].inbound);
            let dir = args.get(3);
            let links = if eq_ic(dir, "from") {
                vec![from]
            } else if eq_ic(dir, "to") {
                vec![to]
            } else if eq_ic(dir, "all") {
                vec![to, from]
            } else {
                return ctx.out.error(&format!(
                    "ERR Unknown direction {}",
                    String::from_utf8_lossy(dir)
                ));
            };
            for l in links.into_iter().flatten() {
                cl.free_link(l);
            }
            ctx.out.ok();
        }
        "drop-cluster-packet-filter" if args.len() == 3 => {
            let Some(t) = crate::util::parse_i64(args.get(2)) else {
                return ctx.out.error("ERR value is not an integer or out of range");
            };
            if let Some(cl) = ctx.srv.cluster.as_deref_mut() {
                cl.drop_filter = t;
            }
            ctx.out.ok();
        }
        "set-disable-deny-scripts" if args.len() == 3 => {
            ctx.srv.data.scripting.disable_deny_script =
                crate::util::parse_i64(args.get(2)).unwrap_or(0) != 0;
            ctx.out.ok();
        }
        "change-repl-id" | "replybuffer" | "dict-resizing" | "pause-cron" => ctx.out.ok(),
        "reload" => {
            // Reloading changes nothing to propagate (Redis: no dirty change).
            ctx.srv.data.prop.prevent();
            let mut flags = (false, false, false);
            for a in args.iter().skip(2) {
                if eq_ic(a, "merge") {
                    flags.0 = true;
                } else if eq_ic(a, "noflush") {
                    flags.1 = true;
                } else if eq_ic(a, "nosave") {
                    flags.2 = true;
                } else {
                    return ctx.out.error(
                        "ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.",
                    );
                }
            }
            match debug_reload(ctx.srv, flags.0, flags.1, flags.2) {
                Ok(()) => ctx.out.ok(),
                Err(e) => ctx.out.error(&e),
            }
        }
        "aof-flush-sleep" if args.len() == 3 => {
            ctx.srv.admin.aof.flush_sleep_us =
                crate::util::parse_i64(args.get(2)).unwrap_or(0).max(0) as u64;
            ctx.out.ok();
        }
        "loadaof" => {
            // Never into the AOF it reloads (it would replay itself) nor to replicas.
            ctx.srv.data.prop.prevent();
            debug_loadaof(ctx.srv);
            ctx.out.ok()
        }
        "mallctl" if args.len() == 3 || args.len() == 4 => {
            // DEBUG MALLCTL <name> [<value>]: a jemalloc control read as an integer, and
            // set first when a value is given (as Redis's debug.c does for size_t ones).
            let mut name = args.get(2).to_vec();
            name.push(0);
            if args.len() == 4 {
                let Some(v) = crate::util::parse_i64(args.get(3)).filter(|v| *v >= 0) else {
                    return ctx.out.error("ERR value is not an integer or out of range");
                };
                // SAFETY: `name` is NUL-terminated; a size_t control takes a usize.
                if let Err(e) = unsafe { tikv_jemalloc_ctl::raw::write::<usize>(&name, v as usize) }
                {
                    return ctx.out.error(&mallctl_error(e));
                }
            }
            // SAFETY: `name` is NUL-terminated; read as the size_t most controls are.
            match unsafe { tikv_jemalloc_ctl::raw::read::<usize>(&name) } {
                Ok(v) => ctx.out.int(v as i64),
                Err(e) => ctx.out.error(&mallctl_error(e)),
            }
        }
        "htstats-key" if args.len() >= 3 => {
            // DEBUG HTSTATS-KEY <key> [full]: a hash-table-encoded value's index, in
            // Redis's layout (chains do not exist here: open addressing).
            let Some(e) = ctx.srv.data.ks.dbs[ctx.db].raw(args.get(2)) else {
                return ctx.out.error("ERR no such key");
            };
            let Some((main, old)) = e.val().table_stats() else {
                return ctx.out.error("ERR The value stored at the specified key is not represented using an hash table");
            };
            let stats = |n: usize, (size, _): (usize, usize), what: &str, k: u8| {
                format!("Hash table {k} stats ({what}):\n table size: {size}\n number of elements: {n}\n")
            };
            let mut text = String::from("[Dictionary HT]\n");
            match old {
                // The old index is the one still read from; the main one is the target.
                Some(o) => {
                    text += &stats(o.1, o, "main hash table", 0);
                    text += &stats(main.1, main, "rehashing target", 1);
                }
                None => text += &stats(main.1, main, "main hash table", 0),
            }
            ctx.out.bulk(text.as_bytes());
        }
        "htstats" if args.len() >= 3 => {
            // DEBUG HTSTATS <db>: the keyspace index's size, in Redis's layout.
            let Some(db) = crate::util::parse_i64(args.get(2))
                .and_then(|d| usize::try_from(d).ok())
                .filter(|&d| d < ctx.srv.data.ks.dbs.len())
            else {
                return ctx.out.error("ERR Out of range database");
            };
            let d = &ctx.srv.data.ks.dbs[db];
            let stats = |n: usize, size: usize| {
                if n == 0 {
                    "No stats available for empty dictionaries\n".to_string()
                } else {
                    format!("Hash table 0 stats (main hash table):\n table size: {size}\n number of elements: {n}\n")
                }
            };
            let text = format!(
                "[Dictionary HT]\n{}[Expires HT]\n{}",
                stats(d.len(), d.dict.buckets()),
                stats(d.volatile(), d.volatile().next_power_of_two())
            );
            ctx.out.bulk(text.as_bytes());
        }
        "digest" if args.len() == 2 => {
            let mut d = [0u8; 20];
            for (i, db) in ctx.srv.data.ks.dbs.iter().enumerate() {
                if !db.is_empty() {
                    let id = (i as u64).to_be_bytes();
                    let dd = db.digest();
                    crate::keyspace::xor_into(&mut d, &crate::keyspace::digest_of(&[&id, &dd]));
                }
            }
            ctx.out.simple(&crate::keyspace::digest_hex(&d));
        }
        "replicate" if args.len() >= 3 => {
            // The words go to the replicas as a command of the stream, unexecuted here.
            let words: Vec<&[u8]> = args.iter().skip(2).collect();
            ctx.srv.data.prop.repl_command(ctx.db, words.into_iter());
            ctx.out.ok();
        }
        "digest-value" => {
            // Like Redis, ignores expiry: a logically expired key still has its digest.
            let db = &ctx.srv.data.ks.dbs[ctx.db];
            ctx.out.array(args.len() - 2);
            for k in args.iter().skip(2) {
                let d = db.dict.pos_of(k).and_then(|s| db.at(s));
                let d = d.map(|e| e.val().digest()).unwrap_or([0; 20]);
                ctx.out.simple(&crate::keyspace::digest_hex(&d));
            }
        }
        "protocol" if args.len() == 3 => debug_protocol(
            ctx,
            &String::from_utf8_lossy(args.get(2)).to_ascii_lowercase(),
        ),
        "config-rewrite-force-all" => debug_rewrite_all(ctx),
        "populate" if (3..=5).contains(&args.len()) => debug_populate(ctx, args),
        "log" if args.len() == 3 => {
            warn!("DEBUG LOG: {}", String::from_utf8_lossy(args.get(2)));
            ctx.out.ok();
        }
        "help" => help(
            ctx,
            "DEBUG",
            &[
                "OBJECT <key>",
                "SLEEP <seconds>",
                "SET-ACTIVE-EXPIRE <0|1>",
                "PROTOCOL <type>",
                "LOG <message>",
            ],
        ),
        _ => ctx.out.error(&format!(
            "ERR unknown subcommand '{}'. Try DEBUG HELP.",
            String::from_utf8_lossy(args.get(1))
        )),
    }
}

/// DEBUG POPULATE <count> [prefix] [size]: keys prefix:N = "value:N" (padded or cut to size),
/// skipping keys that exist.
fn debug_populate(ctx: &mut Ctx, args: Args) {
    let Some(count) = crate::util::parse_i64(args.get(2)).filter(|&n| n >= 0) else {
        return ctx.out.error("ERR count is out of range");
    };
    let prefix = if args.len() > 3 { args.get(3) } else { b"key" };
    let size = if args.len() > 4 {
        match crate::util::parse_i64(args.get(4)) {
            Some(n) if n >= 0 => Some(n as usize),
            _ => return ctx.out.error("ERR size is out of range"),
        }
    } else {
        None
    };
    let mut key = Vec::new();
    for i in 0..count {
        key.clear();
        key.extend_from_slice(prefix);
        let _ = write!(KeyBuf(&mut key), ":{i}");
        if ctx.dbm().exists(&key) {
            continue;
        }
        let mut val = format!("value:{i}").into_bytes();
        if let Some(n) = size {
            val.resize(n, 0);
        }
        ctx.dbm()
            .insert_new(&key, crate::keyspace::Value::Str(val.into()));
    }
    // Not counted as changes, so not propagated: Redis's populate adds the keys to this
    // server only (a replica's own keys stay its own).
    ctx.out.ok();
}

/// fmt::Write into a byte buffer.
struct KeyBuf<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for KeyBuf<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

fn debug_rewrite_all(ctx: &mut Ctx) {
    let Some(path) = ctx.srv.admin.config_file.clone() else {
        return ctx
            .out
            .error("ERR The server is running without a config file");
    };
    let users = acl_lines(ctx.srv);
    match rewrite_config(&ctx.srv.cfg, &path, true, users.as_deref()) {
        Ok(()) => ctx.out.ok(),
        Err(e) => ctx
            .out
            .error(&format!("ERR CONFIG-REWRITE-FORCE-ALL failed: {e}")),
    }
}

fn debug_protocol(ctx: &mut Ctx, t: &str) {
    let out = &mut *ctx.out;
    match t {
        "string" => out.bulk_str("Hello World"),
        "integer" => out.int(12345),
        #[allow(clippy::approx_constant)] // the literal Redis replies with
        "double" => out.double(3.141),
        "bignum" => {
            if out.resp3 {
                out.raw(b"(1234567999999999999999999999999999999\r\n")
            } else {
                out.bulk_str("1234567999999999999999999999999999999")
            }
        }
        "null" => out.null(),
        "array" => {
            out.array(3);
            for i in 0..3 {
                out.int(i);
            }
        }
        "set" => {
            out.set(3);
            for i in 0..3 {
                out.int(i);
            }
        }
        "map" => {
            out.map(3);
            for i in 0..3 {
                out.int(i);
                out.boolean(i == 1);
            }
        }
        "attrib" => {
            if out.resp3 {
                out.raw(b"|1\r\n");
                out.bulk_str("key-popularity");
                out.array(2);
                out.bulk_str("key:123");
                out.int(90);
            }
            out.bulk_str("Some real reply following the attribute");
        }
        "push" => {
            if !out.resp3 {
                return out.error("ERR RESP2 is not supported by this command");
            }
            out.push(2);
            out.bulk_str("server-cpu-usage");
            out.int(42);
            out.bulk_str("Some real reply following the push reply");
        }
        "true" => out.boolean(true),
        "false" => out.boolean(false),
        "verbatim" => out.verbatim(b"This is a verbatim\nstring"),
        _ => out.error("ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false"),
    }
}

fn memory_usage(ctx: &mut Ctx, args: Args) {
    if args.len() != 3 && !(args.len() == 5 && eq_ic(args.get(3), "samples")) {
        return ctx.out.error(SYNTAX);
    }
    let key = args.get(2);
    match ctx.dbm().peek(key) {
        Some(e) => {
            // The block (key, value bytes) and its position and index cell.
            let n = e.val().heap_size() + e.block_size() + 8 + 5;
            ctx.out.int(n as i64)
        }
        None => ctx.out.null(),
    }
}

fn memory_stats(ctx: &mut Ctx, _: Args) {
    let used = crate::evict::used_memory();
    ctx.out.map(4);
    ctx.out.bulk_str("peak.allocated");
    ctx.out.int(ctx.srv.admin.peak_memory.max(used) as i64);
    ctx.out.bulk_str("total.allocated");
    ctx.out.int(used as i64);
    ctx.out.bulk_str("keys.count");
    let keys: usize = ctx.srv.data.ks.dbs.iter().map(|d| d.len()).sum();
    ctx.out.int(keys as i64);
    ctx.out.bulk_str("clients.normal");
    ctx.out.int(
        ctx.srv
            .net
            .clients
            .iter()
            .map(|(_, c)| c.rbuf.capacity() + c.out.buf.capacity())
            .sum::<usize>() as i64,
    );
}

fn memory_doctor(ctx: &mut Ctx, _: Args) {
    ctx.out.verbatim(b"Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.");
}

fn memory_purge(ctx: &mut Ctx, _: Args) {
    ctx.out.ok();
}

fn memory_malloc_stats(ctx: &mut Ctx, _: Args) {
    ctx.out
        .verbatim(b"Stats not supported for the current allocator");
}

fn memory_help(ctx: &mut Ctx, _: Args) {
    help(
        ctx,
        "MEMORY",
        &[
            "DOCTOR",
            "MALLOC-STATS",
            "PURGE",
            "STATS",
            "USAGE <key> [SAMPLES <count>]",
        ],
    );
}

/// Evict keys while used memory is over maxmemory. Returns false when still over the
/// limit (noeviction, or nothing left to evict): the caller answers -OOM.
pub fn free_memory_if_needed(srv: &mut Server) -> bool {
    let max = srv.cfg.maxmemory as u64;
    // Nothing is evicted during a CLIENT PAUSE (nor refused for memory), as in Redis.
    if max == 0 || srv.admin.pause.is_some() {
        return true;
    }
    let policy = crate::evict::policy_of(srv.cfg.maxmemory_policy_name());
    let samples = srv.cfg.maxmemory_samples as usize;
    let decay = srv.cfg.lfu_decay_time;
    let mut guard = 0;
    // The replicas' share of the replication buffer and the AOF buffer are not counted
    // (Redis's freeMemoryGetNotCountedMemory): evicting keys would not shrink them.
    let counted = |srv: &Server| {
        let not = crate::replication::not_counted_mem(srv)
            + srv.data.prop.aof().map_or(0, |a| a.buf.capacity());
        crate::evict::used_memory().saturating_sub(not as u64)
    };
    let used = counted(srv);
    if used <= max {
        return true;
    }
    // As Redis's performEvictions: the overage is measured once, and each eviction is
    // credited with what deleting its key freed, not with what the loop then allocates
    // (the DEL propagated, tracking invalidations queued to clients): otherwise those
    // would feed more evictions, until the keyspace is drained.
    let to_free = used - max;
    let mut freed = 0u64;
    while freed < to_free {
        if policy == crate::evict::Policy::NoEviction {
            return false;
        }
        let Some((db, pos)) =
            crate::evict::pick_victim(&mut srv.data.ks.dbs, policy, samples, decay)
        else {
            return false;
        };
        let key = srv.data.ks.dbs[db].at(pos).map(|e| e.key().to_vec());
        let before = crate::evict::used_memory();
        srv.data.ks.dbs[db].remove_pos(pos);
        freed += before.saturating_sub(crate::evict::used_memory());
        srv.admin.stats.evicted_keys += 1;
        // (Not a change to count in `dirty`, as in Redis: its DEL propagates by itself.)
        crate::notify::evicted(srv, db, key.as_deref().unwrap_or_default());
        guard += 1;
        if guard > 100_000 {
            return counted(srv) <= max;
        }
    }
    true
}

/// A failed mallctl as Redis words it: "ERR " and strerror of its code.
fn mallctl_error(e: tikv_jemalloc_ctl::Error) -> String {
    // SAFETY: `Error` is `repr(transparent)` over a non-zero C int, the errno mallctl gave.
    let code: i32 = unsafe { std::mem::transmute::<tikv_jemalloc_ctl::Error, i32>(e) };
    let text = std::io::Error::from_raw_os_error(code).to_string();
    let text = text.split(" (os error").next().unwrap_or_default();
    format!("ERR {text}")
}

/// jemalloc's (allocated, active, resident) bytes, its statistics refreshed first.
fn allocator_stats() -> Option<(u64, u64, u64)> {
    use tikv_jemalloc_ctl::{epoch, stats};
    epoch::advance().ok()?;
    Some((
        stats::allocated::read().ok()? as u64,
        stats::active::read().ok()? as u64,
        stats::resident::read().ok()? as u64,
    ))
}
