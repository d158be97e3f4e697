//! The Lua state and one script run: KEYS/ARGV, the scoped `redis.call` runner, the time
//! limit hook, and the reply conversion.
use super::convert;
use crate::resp::{parse::RawArgs, Args};
use crate::server::{Ctx, Server};
use mlua::{
    ffi, Function, HookTriggers, Lua, LuaOptions, MultiValue, StdLib, Table, Value, VmState,
};
use std::ffi::c_int;
use std::time::{Duration, Instant};

/// Instructions between two time-limit checks (Redis's count hook uses the same).
const HOOK_EVERY: u32 = 100_000;

pub struct State {
    pub lua: Lua,
    /// holder.resp: the RESP version redis.setresp chose for this run.
    holder: Table,
    /// The sandboxed global environment scripts run in.
    env: Table,
    /// run(f) = xpcall(f, error handler).
    run: Function,
    /// load_library(code) -> true, registered functions | false, error (FUNCTION LOAD).
    load_library: Function,
    /// runf(f, keys, args) = xpcall of a registered function (FCALL).
    runf: Function,
}

/// A function a library registered while loading.
pub struct Registered {
    pub name: String,
    /// The callback, in the Lua registry (see `super::Script::func`).
    pub func: mlua::RegistryKey,
    pub flags: Vec<String>,
    pub description: Option<String>,
}

/// What a run calls: a cached script (by SHA1) or a library's function.
pub enum Callee<'a> {
    Script(&'a str),
    Function {
        name: &'a str,
        func: std::rc::Rc<mlua::RegistryKey>,
    },
}

/// Longest a library's code may run while it loads.
const LOAD_LIMIT: Duration = Duration::from_millis(500);

/// Registry name of the command runner, present only while a script runs.
const RAW: &str = "ferrokv_raw";

/// The error a killed script stops with (Redis's wording).
const KILLED: &str = "ERR Script killed by user with SCRIPT KILL...";

fn kill_in_user_code(debug: &mlua::Debug) -> mlua::Result<VmState> {
    // Scripts and library functions; not the glue (its error handler must run).
    if !matches!(
        debug.source().source.as_deref(),
        Some("@user_script" | "@user_function")
    ) {
        return Ok(VmState::Continue);
    }
    Err(mlua::Error::runtime(KILLED))
}

unsafe extern "C-unwind" fn redis_call(l: *mut ffi::lua_State) -> c_int {
    call_from_c(l, true)
}

unsafe extern "C-unwind" fn redis_pcall(l: *mut ffi::lua_State) -> c_int {
    call_from_c(l, false)
}

/// Run the command runner on our arguments; it returns (ok, value). Raise `value` when the
/// command failed and this is redis.call. The arguments reach the runner packed in a table
/// (`raw(true, n, {...})`): passed one by one, the runner's own frame would overflow
/// Lua's C stack limit (8000) for the ~8000 arguments `unpack` can give. No Rust value
/// with a destructor is alive here, as lua_error unwinds with longjmp.
unsafe fn call_from_c(l: *mut ffi::lua_State, raise: bool) -> c_int {
    let n = ffi::lua_gettop(l);
    ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, c"ferrokv_raw".as_ptr());
    if ffi::lua_type(l, -1) != ffi::LUA_TFUNCTION {
        ffi::lua_pushliteral(l, "redis.call is only available while a script runs");
        ffi::lua_error(l);
    }
    // A C function has LUA_MINSTACK (20) free slots above its arguments: enough here.
    ffi::lua_pushboolean(l, 1);
    ffi::lua_pushinteger(l, n as ffi::lua_Integer);
    ffi::lua_createtable(l, n, 0);
    for i in 1..=n {
        ffi::lua_pushvalue(l, i);
        ffi::lua_rawseti(l, -2, i as ffi::lua_Integer);
    }
    ffi::lua_call(l, 3, 2);
    if raise && ffi::lua_toboolean(l, -2) == 0 {
        ffi::lua_error(l);
    }
    1
}

extern "C-unwind" {
    // vendor/lua-src (FERROKV.md): the read-only mark of sealed tables.
    fn ferrokv_setreadonly(l: *mut ffi::lua_State, idx: c_int, enabled: c_int);
}

/// seal(t): marks the table read-only inside the VM (glue.lua seals the sandbox with it).
unsafe extern "C-unwind" fn seal_table(l: *mut ffi::lua_State) -> c_int {
    ffi::luaL_checktype(l, 1, ffi::LUA_TTABLE);
    ferrokv_setreadonly(l, 1, 1);
    0
}

/// setfenv_c(f, t): the host's setfenv, which the sandbox's own setfenv refuses once the
/// function's environment is sealed (FUNCTION LOAD gives a library its environment).
unsafe extern "C-unwind" fn set_function_env(l: *mut ffi::lua_State) -> c_int {
    ffi::luaL_checktype(l, 1, ffi::LUA_TFUNCTION);
    ffi::luaL_checktype(l, 2, ffi::LUA_TTABLE);
    ffi::lua_settop(l, 2);
    ffi::lua_setfenv(l, 1);
    0
}

pub fn sha1_hex(body: &[u8]) -> String {
    use sha1::{Digest, Sha1};
    hex::encode(Sha1::digest(body))
}

impl State {
    pub fn new() -> State {
        Self::build().expect("the Lua state and its libraries load")
    }

    fn build() -> mlua::Result<State> {
        // The debug library is needed by the error handler (line numbers); the glue
        // removes it from the globals.
        let libs = StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG;
        // SAFETY: the debug library is loaded for the glue's error handler only; the glue
        // removes it from the globals before any user code can run.
        let lua = unsafe { Lua::unsafe_new_with(libs, LuaOptions::new()) };
        super::bit::register(&lua)?;
        super::convert::register_cjson(&lua)?;
        super::msgpack::register(&lua)?;
        let holder = lua.create_table()?;
        holder.set("resp", 2)?;
        let sha1 = lua.create_function(|_, s: mlua::String| Ok(sha1_hex(&s.as_bytes())))?;
        let log = lua.create_function(|_, (level, msg): (u8, mlua::String)| {
            crate::log::write(level, format_args!("{}", msg.to_string_lossy()));
            Ok(())
        })?;
        // SAFETY: plain C functions using the Lua API on their own stack.
        let call_c = unsafe { lua.create_c_function(redis_call)? };
        // SAFETY: as call_c.
        let pcall_c = unsafe { lua.create_c_function(redis_pcall)? };
        // SAFETY: both check their arguments' types before using them.
        let seal_c = unsafe { lua.create_c_function(seal_table)? };
        // SAFETY: as seal_c.
        let setfenv_c = unsafe { lua.create_c_function(set_function_env)? };
        // SAFETY: they read their arguments with the type-checking Lua API only.
        let ldb_debug_c = unsafe { lua.create_c_function(super::ldb::debug_c)? };
        // SAFETY: as ldb_debug_c.
        let ldb_breakpoint_c = unsafe { lua.create_c_function(super::ldb::breakpoint_c)? };
        let (env, run, load_library, runf): (Table, Function, Function, Function) = lua
            .load(include_str!("glue.lua"))
            .set_name("=ferrokv")
            .call((
                holder.clone(),
                sha1,
                log,
                call_c,
                pcall_c,
                seal_c,
                setfenv_c,
                ldb_debug_c,
                ldb_breakpoint_c,
            ))?;
        lua.set_named_registry_value(
            super::ldb::ENV.to_str().expect("an ASCII name"),
            env.clone(),
        )?;
        Ok(State {
            lua,
            holder,
            env,
            run,
            load_library,
            runf,
        })
    }

    /// Compile a script body into a function running in the sandbox.
    pub fn compile(&self, body: &[u8]) -> Result<Function, String> {
        self.lua
            .load(body)
            .set_name("@user_script")
            .set_environment(self.env.clone())
            .into_function()
            .map_err(|e| {
                let msg = match &e {
                    mlua::Error::SyntaxError { message, .. } => message.clone(),
                    other => other.to_string(),
                };
                format!("ERR Error compiling script (new function): {msg}")
            })
    }
}

impl State {
    /// Run a library's code (the part after its shebang line) and return the functions
    /// it registered, or the error reply text. A library may run for LOAD_LIMIT at most.
    pub fn load_library(&self, code: &[u8]) -> Result<Vec<Registered>, String> {
        // Free the registry entries of functions deleted or replaced since the last load.
        self.lua.expire_registry_values();
        let start = Instant::now();
        self.lua.set_hook(
            HookTriggers::new().every_nth_instruction(HOOK_EVERY),
            move |_, _| {
                if start.elapsed() > LOAD_LIMIT {
                    return Err(mlua::Error::runtime("FUNCTION LOAD timeout"));
                }
                Ok(VmState::Continue)
            },
        );
        let outcome = self
            .lua
            .create_string(code)
            .and_then(|c| self.load_library.call::<(bool, Value)>(c));
        self.lua.remove_hook();
        let registered = match outcome {
            Ok((true, Value::Table(t))) => t,
            Ok((_, v)) => return Err(load_error(&v)),
            Err(e) => return Err(format!("ERR Error registering functions: {e}")),
        };
        let mut out = Vec::new();
        for entry in registered.sequence_values::<Table>() {
            let entry = entry.map_err(|e| format!("ERR {e}"))?;
            let flags: Table = entry.get("flags").map_err(|e| format!("ERR {e}"))?;
            let callback: Function = entry.get("callback").map_err(|e| format!("ERR {e}"))?;
            out.push(Registered {
                name: entry.get("name").map_err(|e| format!("ERR {e}"))?,
                func: self
                    .lua
                    .create_registry_value(callback)
                    .map_err(|e| format!("ERR {e}"))?,
                flags: flags.sequence_values::<String>().flatten().collect(),
                description: entry.get("description").ok().flatten(),
            });
        }
        Ok(out)
    }
}

/// The reply text for a library that failed to load ({err=...} from the glue).
fn load_error(v: &Value) -> String {
    let msg = match v {
        Value::Table(t) => t.get::<String>("err").unwrap_or_default(),
        Value::String(s) => s.to_string_lossy().to_string(),
        _ => String::new(),
    };
    if msg.starts_with("ERR Error compiling function") || msg == "ERR No functions registered" {
        return msg;
    }
    format!("ERR Error registering functions: {msg}")
}

/// Where the Lua state of scripts (or of functions) is kept between runs.
fn slot_of<'a>(ctx: &'a mut Ctx, is_function: bool) -> &'a mut Option<State> {
    if is_function {
        &mut ctx.srv.data.scripting.functions.lua
    } else {
        &mut ctx.srv.data.scripting.lua
    }
}

/// Run a script or a function called by `args` (EVAL/EVALSHA/FCALL and their _RO forms:
/// the keys and arguments start at the fourth word); the reply goes to `ctx.out`.
pub fn run(ctx: &mut Ctx, callee: Callee, args: Args, numkeys: usize, read_only: bool) {
    let is_function = matches!(callee, Callee::Function { .. });
    let Some(state) = slot_of(ctx, is_function).take() else {
        return ctx.out.error("ERR Lua state is not available");
    };
    let (func, name) = match callee {
        Callee::Script(sha) => {
            match state
                .lua
                .registry_value::<Function>(&ctx.srv.data.scripting.scripts[sha].func)
            {
                Ok(f) => (f, sha.to_string()),
                Err(e) => {
                    *slot_of(ctx, is_function) = Some(state);
                    return ctx.out.error(&format!("ERR {e}"));
                }
            }
        }
        Callee::Function { name, func } => match state.lua.registry_value::<Function>(&func) {
            Ok(f) => (f, name.to_string()),
            Err(e) => {
                *slot_of(ctx, is_function) = Some(state);
                return ctx.out.error(&format!("ERR {e}"));
            }
        },
    };
    let caller_db = ctx.srv.net.clients[ctx.id].db;
    let cross_slot = if is_function {
        ctx.srv
            .data
            .scripting
            .functions
            .functions
            .get(&name.to_ascii_lowercase())
            .is_some_and(|f| f.flags.iter().any(|x| x == "allow-cross-slot-keys"))
    } else {
        ctx.srv.data.scripting.scripts[&name].flags & super::FLAG_CROSS_SLOT != 0
    };
    ctx.srv.data.blocking.deny += 1;
    // The script is one command in time: no key expires in the middle of it.
    crate::keyspace::clock::freeze();
    ctx.srv.data.scripting.running = Some(super::Running {
        eval: !is_function,
        name,
        argv: Vec::new(),
        start: Instant::now(),
        client: ctx.id,
        wrote: false,
        killed: false,
        cluster_slot: None,
        cross_slot,
        args: args.into_raw(),
        numkeys,
    });
    let outcome = run_in_state(&state, ctx, func, is_function, args, numkeys, read_only);
    let running = ctx.srv.data.scripting.running.take();
    ctx.srv.data.scripting.busy = false;
    ctx.srv.data.blocking.deny -= 1;
    // SELECT inside the script changed the script's database only.
    if let Some(c) = ctx.srv.net.clients.get_mut(ctx.id) {
        c.db = caller_db;
    }
    ctx.db = caller_db;
    let name = running.map(|r| r.name).unwrap_or_default();
    match outcome {
        Ok((true, v)) => {
            let script_resp3 = state.holder.get::<i64>("resp").unwrap_or(2) == 3;
            convert::lua_to_reply(ctx.out, &v, 0, script_resp3)
        }
        Ok((false, v)) => convert::script_error(ctx.out, &v, &name),
        Err(e) => ctx
            .out
            .error(&format!("ERR Error running script (call to f_{name}): {e}")),
    }
    state.lua.remove_hook();
    let _ = state.lua.unset_named_registry_value(RAW);
    *slot_of(ctx, is_function) = Some(state);
}

/// The count hook of a running script (Redis's scriptInterrupt): past
/// busy-reply-threshold the script is "timed out" and serves the event loop at every
/// call (other clients get -BUSY; SCRIPT/FUNCTION KILL and SHUTDOWN NOSAVE are served).
/// Once killed, every line of the script's own code raises, so pcall cannot keep it alive.
fn busy_hook(
    lua: &Lua,
    debug: &mlua::Debug,
    srv: &mut Server,
    threshold: Duration,
    args: RawArgs,
) -> mlua::Result<VmState> {
    let Some(r) = srv.data.scripting.running.as_mut() else {
        return Ok(VmState::Continue);
    };
    if !srv.data.scripting.busy {
        let elapsed = r.start.elapsed();
        if elapsed < threshold {
            return Ok(VmState::Continue);
        }
        crate::warn!(
            "Slow script detected: still in execution after {} milliseconds. You can try killing the script using the {} command. Script name is: {}.",
            elapsed.as_millis(),
            if r.eval { "SCRIPT KILL" } else { "FUNCTION KILL" },
            r.name
        );
        // SAFETY: the hook is removed before `run` returns, and the caller's arguments
        // live (unchanged) until then.
        r.argv = unsafe { args.get() }.to_vecs();
        srv.data.scripting.busy = true;
    }
    if let Some(serve) = srv.net.events_while_blocked {
        serve(srv);
    }
    if srv
        .data
        .scripting
        .running
        .as_ref()
        .is_some_and(|r| r.killed)
    {
        crate::warn!("Lua script killed by user with SCRIPT KILL.");
        lua.set_hook(HookTriggers::new().every_line(), |_, debug| {
            kill_in_user_code(&debug)
        });
        return kill_in_user_code(debug);
    }
    Ok(VmState::Continue)
}

#[allow(clippy::too_many_arguments)]
fn run_in_state(
    state: &State,
    ctx: &mut Ctx,
    func: Function,
    is_function: bool,
    args: Args,
    numkeys: usize,
    read_only: bool,
) -> mlua::Result<(bool, Value)> {
    let lua = &state.lua;
    let rest = args.tail(3);
    let keys =
        lua.create_sequence_from(rest.iter().take(numkeys).map(|k| lua.create_string(k).ok()))?;
    let argv =
        lua.create_sequence_from(rest.iter().skip(numkeys).map(|a| lua.create_string(a).ok()))?;
    // Scripts see KEYS and ARGV as globals (the sandbox reads them from the holder: the
    // globals are sealed); functions get them as arguments.
    let call_args = if is_function {
        Some((keys, argv))
    } else {
        state.holder.raw_set("KEYS", keys)?;
        state.holder.raw_set("ARGV", argv)?;
        None
    };
    state.holder.set("resp", 2)?;
    state.holder.set("repl", crate::propagate::ALL)?;
    // Redis sets no hook at all when busy-reply-threshold is 0: no limit, no cost.
    let threshold = ctx.srv.cfg.busy_reply_threshold.max(0) as u64;
    if super::ldb::active() && !is_function {
        // A debugged script has the debugger's line hook instead (its own time limit
        // stops the script for the client; nothing else is served meanwhile).
        // SAFETY: the state the script runs on; `run` removes the hook afterwards.
        unsafe { lua.exec_raw::<()>((), |l| super::ldb::install_hook(l))? };
    } else if threshold > 0 {
        let srv: *mut Server = &mut *ctx.srv;
        let raw = args.into_raw();
        lua.set_hook(
            HookTriggers::new().every_nth_instruction(HOOK_EVERY),
            move |lua, debug| {
                // SAFETY: the hook runs on this thread only while the script executes Lua
                // code, never while `redis.call` (the other user of the server) runs a
                // command, and it is removed before `run` returns: no two live uses of
                // the server overlap.
                let srv = unsafe { &mut *srv };
                busy_hook(lua, &debug, srv, Duration::from_millis(threshold), raw)
            },
        );
    }
    let mut db = ctx.db;
    lua.scope(|scope| {
        let holder = state.holder.clone();
        let raw = scope.create_function_mut(move |lua, mut args: MultiValue| {
            let resp3 = holder.get::<i64>("resp").unwrap_or(2) == 3;
            // redis.set_repl: where this script's commands propagate from now on.
            let repl = holder.get::<u8>("repl").unwrap_or(crate::propagate::ALL);
            // raw(true, n, {args}) from redis.call/pcall; raw(false, args...) from
            // redis.acl_check_cmd (a boolean is never a command word).
            let acl_check = matches!(args.front(), Some(Value::Boolean(false)));
            args.pop_front();
            if !acl_check {
                let n = match args.pop_front() {
                    Some(Value::Integer(n)) => n,
                    _ => 0,
                };
                let packed = match args.pop_front() {
                    Some(Value::Table(t)) => t,
                    _ => return Err(mlua::Error::runtime("bad redis.call arguments")),
                };
                for i in 1..=n {
                    args.push_back(packed.raw_get(i)?);
                }
            }
            let withheld = std::mem::replace(
                &mut ctx.srv.data.prop.withheld,
                crate::propagate::ALL & !repl,
            );
            let r = convert::call_command(lua, ctx, &mut db, resp3, read_only, acl_check, args);
            ctx.srv.data.prop.withheld = withheld;
            r
        })?;
        lua.set_named_registry_value(RAW, raw)?;
        match call_args {
            Some((keys, argv)) => state.runf.call::<(bool, Value)>((func, keys, argv)),
            None => state.run.call::<(bool, Value)>(func),
        }
    })
}
