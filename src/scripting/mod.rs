//! Lua scripting as Redis 7.0 does it: EVAL/EVALSHA (and the _RO forms), the SHA1 script
//! cache, SCRIPT LOAD/EXISTS/FLUSH/KILL/HELP, the `redis` library and the sandbox.
//!
//! One Lua 5.1 state (mlua, vendored), created on first use and dropped by SCRIPT FLUSH.
//! While a script runs the state is taken out of the `Server`, so `redis.call` can borrow
//! the server mutably (a scoped function that lives only for that run).
//!
//! The server is single-threaded. A script that runs longer than `busy-reply-threshold`
//! (`lua-time-limit`) serves the event loop from its count hook, as Redis does: other
//! clients get `-BUSY`, and SCRIPT KILL, FUNCTION KILL and SHUTDOWN NOSAVE are served
//! (see [`Running`]). With the threshold at 0 there is no hook and no limit.
mod bit;
mod convert;
mod engine;
pub mod functions;
mod ldb;
mod msgpack;

use crate::commands::*;
use crate::resp::Args;
use crate::server::Ctx;
use hashbrown::HashMap;

pub use engine::sha1_hex;
pub use ldb::LdbMode;

/// Shebang flags (`#!lua flags=...`).
pub const FLAG_SHEBANG: u32 = 1 << 0;
pub const FLAG_NO_WRITES: u32 = 1 << 1;
pub const FLAG_ALLOW_OOM: u32 = 1 << 2;
pub const FLAG_ALLOW_STALE: u32 = 1 << 3;
pub const FLAG_NO_CLUSTER: u32 = 1 << 4;
pub const FLAG_CROSS_SLOT: u32 = 1 << 5;

pub struct Script {
    pub flags: u32,
    /// The compiled function, in the Lua registry: a `Function` handle held this long
    /// takes a slot of mlua's reference stack (8000 at most: 8000 cached scripts were a
    /// panic), a registry entry does not.
    pub func: mlua::RegistryKey,
}

/// The script cache and the Lua state (None until first needed, and while a script runs).
#[derive(Default)]
pub struct Scripting {
    pub lua: Option<engine::State>,
    pub scripts: HashMap<String, Script>,
    /// A script's redis.call is running a command (ACL LOG context "lua").
    pub calling: bool,
    /// FUNCTION libraries, in their own Lua state (SCRIPT FLUSH leaves them alone).
    pub functions: functions::Registry,
    /// The running script's OOM rule (Redis's scriptVerifyOOM): its commands may be
    /// refused for memory only if it lacks allow-oom, memory was over maxmemory when it
    /// started, and it has written nothing yet (a script is never stopped half-way).
    pub oom: ScriptOom,
    /// DEBUG SET-DISABLE-DENY-SCRIPTS 1: scripts may call commands flagged noscript
    /// (Redis's test suite calls DEBUG from scripts this way).
    pub disable_deny_script: bool,
    /// The script or function running now, if any.
    pub running: Option<Running>,
    /// The running script passed busy-reply-threshold: the event loop is served from its
    /// hook and commands without the allow-busy flag are refused with [`busy_error`].
    pub busy: bool,
}

/// The script or function that is running (Redis's scriptRunCtx).
pub struct Running {
    /// EVAL/EVALSHA (SCRIPT KILL stops it), or FCALL (FUNCTION KILL).
    pub eval: bool,
    /// The script's SHA1 or the function's name.
    pub name: String,
    /// The caller's command line, copied when the script timed out (FUNCTION STATS).
    pub argv: Vec<Vec<u8>>,
    pub start: std::time::Instant,
    /// The caller's slab index: its events wait while the script serves the event loop.
    pub client: usize,
    /// It ran a write command: SCRIPT KILL can no longer stop it.
    pub wrote: bool,
    /// SCRIPT KILL / FUNCTION KILL asked it to stop.
    pub killed: bool,
    /// Cluster mode: the slot its keys hash to so far, and whether it may use keys of
    /// several slots (allow-cross-slot-keys).
    pub cluster_slot: Option<u16>,
    pub cross_slot: bool,
    /// The caller's command line (valid while the script runs) and how many keys it
    /// declares (after the third word).
    pub args: crate::resp::parse::RawArgs,
    pub numkeys: usize,
}

/// The keys the running script declared (client-side caching remembers them when the
/// script reads).
pub fn declared_keys(srv: &crate::server::Server) -> Option<Vec<Vec<u8>>> {
    let r = srv.data.scripting.running.as_ref()?;
    // SAFETY: `running` is set only while `engine::run` runs, and the arguments it was
    // given live until then.
    let args = unsafe { r.args.get() };
    Some(
        args.tail(3)
            .iter()
            .take(r.numkeys)
            .map(<[u8]>::to_vec)
            .collect(),
    )
}

/// Redis's -BUSY reply while a script of this kind has timed out.
/// Whether a script call (EVAL, EVALSHA, FCALL and their _RO forms) declares that it
/// writes (Redis's evalGetCommandFlags / fcallGetCommandFlags): Some(true) for declared
/// flags without no-writes, Some(false) with it, None for a script without a shebang
/// (judged by the command's own flags) or an unknown one.
pub fn declares_writes(
    srv: &crate::server::Server,
    name: &str,
    args: crate::resp::Args,
) -> Option<bool> {
    if args.len() < 2 {
        return None;
    }
    if name.starts_with("fcall") {
        let f = srv
            .data
            .scripting
            .functions
            .functions
            .get(&String::from_utf8_lossy(args.get(1)).to_ascii_lowercase())?;
        return Some(!f.flags.iter().any(|x| x == "no-writes"));
    }
    let flags = if name.starts_with("evalsha") {
        let sha = String::from_utf8_lossy(args.get(1)).to_ascii_lowercase();
        srv.data.scripting.scripts.get(&sha)?.flags
    } else {
        match srv.data.scripting.scripts.get(&sha1_hex(args.get(1))) {
            Some(s) => s.flags,
            None => shebang(args.get(1)).ok()?.0,
        }
    };
    (flags & FLAG_SHEBANG != 0).then_some(flags & FLAG_NO_WRITES == 0)
}

pub fn busy_error(eval: bool) -> &'static str {
    if eval {
        "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
    } else {
        "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
    }
}

/// The -BUSY reply for the script running now.
pub fn current_busy_error(srv: &crate::server::Server) -> &'static str {
    busy_error(srv.data.scripting.running.as_ref().is_none_or(|r| r.eval))
}

/// SCRIPT KILL (`eval`) or FUNCTION KILL: stop the running script if it wrote nothing.
pub(crate) fn kill_running(ctx: &mut Ctx, eval: bool) {
    let Some(r) = ctx.srv.data.scripting.running.as_mut() else {
        return ctx.out.error("NOTBUSY No scripts in execution right now.");
    };
    if r.wrote {
        return ctx.out.error("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.");
    }
    if r.eval != eval {
        return ctx.out.error(busy_error(r.eval));
    }
    r.killed = true;
    ctx.out.ok();
}

#[derive(Default, Clone, Copy)]
pub struct ScriptOom {
    pub allow_oom: bool,
    pub at_start: bool,
    /// `srv.dirty` when the script started: a change means it wrote.
    pub dirty_at_start: u64,
}

/// Whether a command a script runs is refused for memory (see [`ScriptOom`]).
pub fn script_command_oom(srv: &crate::server::Server, cmd_flags: u32) -> bool {
    let o = srv.data.scripting.oom;
    !o.allow_oom && o.at_start && srv.data.dirty == o.dirty_at_start && cmd_flags & DENYOOM != 0
}

impl Scripting {
    /// Forget every script and the Lua state (SCRIPT FLUSH).
    pub fn reset(&mut self) {
        self.scripts.clear();
        self.lua = None;
    }
}

/// The flags EVAL, EVALSHA and FCALL share: they run user code, name their keys after a
/// count, and may touch none; the read-only forms add READONLY, the others MAY_REPLICATE.
pub(crate) const RUNS_CODE: u32 =
    NOSCRIPT | SKIP_MONITOR | NO_MANDATORY_KEYS | STALE | MOVABLE_KEYS | SCRIPT_CALL;

pub static COMMANDS: &[Command] = &[
    cmd("eval", -3, RUNS_CODE | MAY_REPLICATE, SCRIPTING, eval)
        .doc("Execute a Lua script server side", "2.6.0"),
    cmd("evalsha", -3, RUNS_CODE | MAY_REPLICATE, SCRIPTING, evalsha)
        .doc("Execute a Lua script server side", "2.6.0"),
    cmd("eval_ro", -3, RUNS_CODE | READONLY, SCRIPTING, eval_ro)
        .doc("Execute a read-only Lua script server side", "7.0.0"),
    cmd(
        "evalsha_ro",
        -3,
        RUNS_CODE | READONLY,
        SCRIPTING,
        evalsha_ro,
    )
    .doc("Execute a read-only Lua script server side", "7.0.0"),
    cmd("script", -2, 0, SCRIPTING, container)
        .subs(SCRIPT)
        .doc("A container for Lua scripts management commands", "2.6.0"),
];

static SCRIPT: &[Command] = &[
    cmd("load", 3, NOSCRIPT | STALE, SCRIPTING, script_load).doc(
        "Load the specified Lua script into the script cache.",
        "2.6.0",
    ),
    cmd("exists", -3, NOSCRIPT, SCRIPTING, script_exists)
        .doc("Check existence of scripts in the script cache.", "2.6.0"),
    cmd("flush", -2, NOSCRIPT, SCRIPTING, script_flush)
        .doc("Remove all the scripts from the script cache.", "2.6.0"),
    cmd("kill", 2, NOSCRIPT | ALLOW_BUSY, SCRIPTING, script_kill)
        .doc("Kill the script currently in execution.", "2.6.0"),
    cmd("debug", 3, NOSCRIPT, SCRIPTING, script_debug)
        .doc("Set the debug mode for executed scripts.", "3.2.0"),
    cmd("help", 2, LOADING | STALE, SCRIPTING, script_help)
        .doc("Show helpful text about the different subcommands", "5.0.0"),
];

const NOSCRIPT_ERR: &str = "NOSCRIPT No matching script. Please use EVAL.";

fn eval(ctx: &mut Ctx, args: Args) {
    eval_maybe_debugged(ctx, args, false)
}
fn evalsha(ctx: &mut Ctx, args: Args) {
    eval_generic(ctx, args, true, false)
}
fn eval_ro(ctx: &mut Ctx, args: Args) {
    eval_maybe_debugged(ctx, args, true)
}

/// EVAL, or with SCRIPT DEBUG on, EVAL in a debugging session: in a forked child (YES;
/// the parent drops its side of the connection) or here (SYNC). Either way the
/// connection closes after the reply, which ends the client's debugging mode.
fn eval_maybe_debugged(ctx: &mut Ctx, args: Args, ro: bool) {
    let mode = ctx.srv.net.clients[ctx.id].ldb;
    if mode == LdbMode::Off {
        return eval_generic(ctx, args, false, ro);
    }
    if mode == LdbMode::Fork {
        match crate::child::fork(ctx.srv, crate::child::Kind::Ldb) {
            Err(e) => {
                ctx.srv.net.clients[ctx.id].ldb = LdbMode::Off;
                return ctx.out.error(&format!(
                    "ERR Fork() failed: can't run EVAL in debugging mode: {e}"
                ));
            }
            Ok(crate::child::Forked::Parent(pid)) => {
                crate::verbose!("Lua debugging session forked as process {pid}");
                let c = &mut ctx.srv.net.clients[ctx.id];
                c.ldb = LdbMode::Off;
                c.detached = true;
                c.close_asap = true;
                return;
            }
            Ok(crate::child::Forked::Child) => crate::child::run_and_exit(|| {
                crate::warn!("ferrokv forked for debugging eval");
                debug_session(ctx, args, ro);
                if let Some(conn) = ctx.srv.net.clients[ctx.id].conn.as_mut() {
                    let _ = conn.write_all_blocking(&ctx.out.buf, 5000);
                    if let Some(tls) = conn.tls.as_mut() {
                        tls.send_close_notify();
                        let _ = conn.write_all_blocking(&[], 5000);
                    }
                }
                crate::warn!("Lua debugging session child exiting");
                true
            }),
        }
    }
    crate::warn!("Synchronous debugging eval session started");
    debug_session(ctx, args, ro);
    crate::warn!("Synchronous debugging eval session ended");
    ctx.srv.net.clients[ctx.id].close_after_reply = true;
}

/// Run the EVAL with the debugger on. Replies already produced for this client go out
/// first: the debugger writes to the connection directly.
fn debug_session(ctx: &mut Ctx, args: Args, ro: bool) {
    let c = &mut ctx.srv.net.clients[ctx.id];
    let earlier = &ctx.out.buf[c.out_pos.min(ctx.out.buf.len())..];
    if let Some(conn) = c.conn.as_mut().filter(|_| !earlier.is_empty()) {
        let _ = conn.write_all_blocking(earlier, 5000);
    }
    ctx.out.buf.clear();
    c.out_pos = 0;
    ldb::start(ctx.srv, ctx.id, args.get(1));
    eval_generic(ctx, args, false, ro);
    ldb::end();
}
fn evalsha_ro(ctx: &mut Ctx, args: Args) {
    eval_generic(ctx, args, true, true)
}

fn eval_generic(ctx: &mut Ctx, args: Args, by_sha: bool, ro: bool) {
    // The script's writes propagate themselves (effects replication).
    ctx.srv.data.prop.prevent();
    // Fed here (EVAL is skip-monitor) so that it shows before its script's commands, even
    // when it fails (NOSCRIPT), as Redis does.
    if !ctx.srv.admin.monitors.is_empty() {
        crate::commands::server::feed_monitors(ctx, args);
    }
    let Some(numkeys) = int_arg(ctx, args.get(2)) else {
        return;
    };
    if numkeys > args.len() as i64 - 3 {
        return ctx
            .out
            .error("ERR Number of keys can't be greater than number of args");
    }
    if numkeys < 0 {
        return ctx.out.error("ERR Number of keys can't be negative");
    }
    let sha = if by_sha {
        let s = args.get(1);
        if s.len() != 40 {
            return ctx.out.error(NOSCRIPT_ERR);
        }
        if ctx.srv.net.clients[ctx.id].ldb != LdbMode::Off {
            return ctx
                .out
                .error("ERR Please use EVAL instead of EVALSHA for debugging");
        }
        String::from_utf8_lossy(s).to_ascii_lowercase()
    } else {
        sha1_hex(args.get(1))
    };
    if !ctx.srv.data.scripting.scripts.contains_key(&sha) {
        if by_sha {
            return ctx.out.error(NOSCRIPT_ERR);
        }
        if let Err(e) = create(ctx, args.get(1), &sha) {
            return ctx.out.error(&e);
        }
    }
    let flags = ctx.srv.data.scripting.scripts[&sha].flags;
    if flags & FLAG_SHEBANG != 0 && flags & FLAG_NO_CLUSTER != 0 && ctx.srv.cluster.is_some() {
        return ctx
            .out
            .error("ERR Can not run script on cluster, 'no-cluster' flag is set.");
    }
    // Without a shebang (compatibility mode) a stale replica runs no script at all; with
    // one, only allow-stale scripts.
    if (flags & FLAG_SHEBANG == 0 || flags & FLAG_ALLOW_STALE == 0) && stale_replica(ctx) {
        return ctx.out.error(
            "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
        );
    }
    if flags & FLAG_SHEBANG != 0 && flags & FLAG_NO_WRITES == 0 {
        if ro {
            return ctx
                .out
                .error("ERR Can not execute a script with write flag using *_ro command.");
        }
        if read_only_replica(ctx) {
            return ctx
                .out
                .error("READONLY You can't write against a read only replica.");
        }
        if crate::commands::no_good_replicas(ctx.srv) {
            return ctx.out.error(crate::commands::NOREPLICAS);
        }
        if flags & FLAG_ALLOW_OOM == 0
            && ctx.srv.cfg.maxmemory > 0
            && !crate::commands::server::free_memory_if_needed(ctx.srv)
        {
            return ctx.out.error(
                "OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'",
            );
        }
    }
    let read_only = ro || flags & FLAG_NO_WRITES != 0;
    set_oom_rule(ctx, flags & FLAG_ALLOW_OOM != 0 || read_only);
    let n = numkeys as usize;
    engine::run(ctx, engine::Callee::Script(&sha), args, n, read_only);
}

/// A read-only replica, for a script that may write: refused (but for its master, whose
/// stream is obeyed).
pub(crate) fn read_only_replica(ctx: &Ctx) -> bool {
    ctx.srv.repl.is_replica()
        && ctx.srv.cfg.replica_read_only
        && ctx.srv.repl.master_client() != Some(ctx.id)
}

/// A replica whose link is down with replica-serve-stale-data no: scripts and functions
/// without the allow-stale flag are refused at once.
pub(crate) fn stale_replica(ctx: &Ctx) -> bool {
    ctx.srv.repl.is_replica()
        && ctx.srv.repl.master_client().is_none()
        && !ctx.srv.cfg.replica_serve_stale_data
}

/// Record the OOM rule of the script or function about to run (see [`ScriptOom`]).
pub(crate) fn set_oom_rule(ctx: &mut Ctx, allow_oom: bool) {
    let at_start = !allow_oom
        && ctx.srv.cfg.maxmemory > 0
        && !crate::commands::server::free_memory_if_needed(ctx.srv);
    ctx.srv.data.scripting.oom = ScriptOom {
        allow_oom,
        at_start,
        dirty_at_start: ctx.srv.data.dirty,
    };
}

/// Compile a script into the cache under `sha`; the error is the reply text.
fn create(ctx: &mut Ctx, body: &[u8], sha: &str) -> Result<(), String> {
    let (flags, skip) = shebang(body)?;
    let state = ctx
        .srv
        .data
        .scripting
        .lua
        .get_or_insert_with(engine::State::new);
    let func = state.compile(&body[skip..])?;
    let func = state
        .lua
        .create_registry_value(func)
        .map_err(|e| format!("ERR Error compiling script (new function): {e}"))?;
    ctx.srv
        .data
        .scripting
        .scripts
        .insert(sha.to_string(), Script { flags, func });
    Ok(())
}

/// Parse a `#!lua flags=a,b` first line: the flags and how many bytes to skip (the line,
/// not its newline, so line numbers stay right).
fn shebang(body: &[u8]) -> Result<(u32, usize), String> {
    if !body.starts_with(b"#!") {
        return Ok((0, 0));
    }
    let Some(end) = body.iter().position(|&c| c == b'\n') else {
        return Err("ERR Invalid script shebang".into());
    };
    let line = String::from_utf8_lossy(&body[..end]);
    let mut parts = line.split_ascii_whitespace();
    let Some(engine) = parts.next() else {
        return Err("ERR Invalid engine in script shebang".into());
    };
    if engine != "#!lua" {
        return Err(format!("ERR Unexpected engine in script shebang: {engine}"));
    }
    let mut flags = FLAG_SHEBANG;
    for p in parts {
        let Some(list) = p.strip_prefix("flags=") else {
            return Err(format!("ERR Unknown lua shebang option: {p}"));
        };
        for f in list.split(',') {
            flags |= match f {
                "no-writes" => FLAG_NO_WRITES,
                "allow-oom" => FLAG_ALLOW_OOM,
                "allow-stale" => FLAG_ALLOW_STALE,
                "no-cluster" => FLAG_NO_CLUSTER,
                "allow-cross-slot-keys" => FLAG_CROSS_SLOT,
                "" => 0,
                _ => return Err(format!("ERR Unexpected flag in script shebang: {f}")),
            };
        }
    }
    Ok((flags, end))
}

fn script_load(ctx: &mut Ctx, args: Args) {
    let body = args.get(2);
    let sha = sha1_hex(body);
    if !ctx.srv.data.scripting.scripts.contains_key(&sha) {
        if let Err(e) = create(ctx, body, &sha) {
            return ctx.out.error(&e);
        }
    }
    ctx.out.bulk_str(&sha);
}

fn script_exists(ctx: &mut Ctx, args: Args) {
    ctx.out.array(args.len() - 2);
    for a in args.iter().skip(2) {
        let sha = String::from_utf8_lossy(a).to_ascii_lowercase();
        let found = ctx.srv.data.scripting.scripts.contains_key(&sha);
        ctx.out.int(found as i64);
    }
}

fn script_flush(ctx: &mut Ctx, args: Args) {
    if args.len() > 3
        || (args.len() == 3
            && !crate::util::eq_ic(args.get(2), "sync")
            && !crate::util::eq_ic(args.get(2), "async"))
    {
        return ctx
            .out
            .error("ERR SCRIPT FLUSH only support SYNC|ASYNC option");
    }
    ctx.srv.data.scripting.reset();
    ctx.out.ok();
}

/// Served from a timed-out script's hook (allow-busy); NOTBUSY otherwise.
fn script_kill(ctx: &mut Ctx, _: Args) {
    kill_running(ctx, true);
}

fn script_debug(ctx: &mut Ctx, args: Args) {
    // Replies still to be written would be overtaken by the debugger's direct writes.
    if ctx.out.buf.len() > ctx.srv.net.clients[ctx.id].out_pos {
        return ctx
            .out
            .error("ERR SCRIPT DEBUG must be called outside a pipeline");
    }
    let a = args.get(2);
    let mode = if crate::util::eq_ic(a, "no") {
        LdbMode::Off
    } else if crate::util::eq_ic(a, "yes") {
        LdbMode::Fork
    } else if crate::util::eq_ic(a, "sync") {
        LdbMode::Sync
    } else {
        return ctx.out.error("ERR Use SCRIPT DEBUG YES/SYNC/NO");
    };
    ctx.srv.net.clients[ctx.id].ldb = mode;
    ctx.out.ok();
}

fn script_help(ctx: &mut Ctx, _: Args) {
    crate::commands::server::help(
        ctx,
        "SCRIPT",
        &[
            "DEBUG (YES|SYNC|NO)",
            "    Set the debug mode for subsequent scripts executed.",
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache. Very dangerous on replicas.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the scripts cache.",
            "    * SYNC: Synchronously flush the scripts cache.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
        ],
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn shebang_flags() {
        assert_eq!(shebang(b"return 1").unwrap(), (0, 0));
        let (f, n) = shebang(b"#!lua flags=no-writes,allow-oom\nreturn 1").unwrap();
        assert_eq!(f, FLAG_SHEBANG | FLAG_NO_WRITES | FLAG_ALLOW_OOM);
        assert_eq!(n, 31);
        assert!(shebang(b"#!lua").is_err());
        assert!(shebang(b"#!py\n")
            .unwrap_err()
            .contains("Unexpected engine"));
        assert!(shebang(b"#!lua flags=bad\n")
            .unwrap_err()
            .contains("Unexpected flag"));
    }
}
