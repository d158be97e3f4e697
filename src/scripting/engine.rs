//! The Lua state and one script run: KEYS/ARGV, the scoped `redis.call` runner, the time
//! limit hook, and the reply conversion.
use super::convert;
use crate::resp::Args;
use crate::server::Ctx;
use mlua::{
    ffi, Function, HookTriggers, Lua, LuaOptions, MultiValue, StdLib, Table, Value, VmState,
};
use std::ffi::c_int;
use std::time::{Duration, Instant};

/// Instructions between two time-limit checks.
const HOOK_EVERY: u32 = 100_000;
/// Hard limit when busy-reply-threshold is 0.
const FALLBACK_LIMIT_MS: u64 = 60_000;

pub struct State {
    pub lua: Lua,
    /// holder.resp: the RESP version redis.setresp chose for this run.
    holder: Table,
    /// The sandboxed global environment scripts run in.
    env: Table,
    /// run(f) = xpcall(f, error handler).
    run: Function,
}

/// Registry name of the command runner, present only while a script runs.
const RAW: &str = "ferrokv_raw";

fn kill_in_user_code(debug: &mlua::Debug, limit_ms: u64) -> mlua::Result<VmState> {
    if debug.source().source.as_deref() != Some("@user_script") {
        return Ok(VmState::Continue);
    }
    Err(mlua::Error::runtime(format!(
        "ERR Script killed: it ran longer than {limit_ms} ms (twice busy-reply-threshold)"
    )))
}

unsafe extern "C-unwind" fn redis_call(l: *mut ffi::lua_State) -> c_int {
    call_from_c(l, true)
}

unsafe extern "C-unwind" fn redis_pcall(l: *mut ffi::lua_State) -> c_int {
    call_from_c(l, false)
}

/// Run the command runner on our arguments; it returns (ok, value). Raise `value` when the
/// command failed and this is redis.call. No Rust value with a destructor is alive here,
/// as lua_error unwinds with longjmp.
unsafe fn call_from_c(l: *mut ffi::lua_State, raise: bool) -> c_int {
    let n = ffi::lua_gettop(l);
    ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, c"ferrokv_raw".as_ptr());
    if ffi::lua_type(l, -1) != ffi::LUA_TFUNCTION {
        ffi::lua_pushliteral(l, "redis.call is only available while a script runs");
        ffi::lua_error(l);
    }
    ffi::lua_insert(l, 1);
    ffi::lua_call(l, n, 2);
    if raise && ffi::lua_toboolean(l, -2) == 0 {
        ffi::lua_error(l);
    }
    1
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
        let lua = unsafe { Lua::unsafe_new_with(libs, LuaOptions::new()) };
        super::bit::register(&lua)?;
        super::convert::register_cjson(&lua)?;
        let holder = lua.create_table()?;
        holder.set("resp", 2)?;
        let sha1 = lua.create_function(|_, s: mlua::String| Ok(sha1_hex(&s.as_bytes())))?;
        let log = lua.create_function(|_, (level, msg): (u8, mlua::String)| {
            crate::log::write(level, format_args!("{}", msg.to_string_lossy()));
            Ok(())
        })?;
        // SAFETY: plain C functions using the Lua API on their own stack.
        let call_c = unsafe { lua.create_c_function(redis_call)? };
        let pcall_c = unsafe { lua.create_c_function(redis_pcall)? };
        let (env, run): (Table, Function) = lua
            .load(include_str!("glue.lua"))
            .set_name("=ferrokv")
            .call((holder.clone(), sha1, log, call_c, pcall_c))?;
        Ok(State {
            lua,
            holder,
            env,
            run,
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

/// Run the cached script `sha` with `rest` = keys then args; the reply goes to `ctx.out`.
pub fn run(ctx: &mut Ctx, sha: &str, rest: Args, numkeys: usize, read_only: bool) {
    let Some(state) = ctx.srv.scripting.lua.take() else {
        return ctx.out.error("ERR Lua state is not available");
    };
    let func = ctx.srv.scripting.scripts[sha].func.clone();
    let limit = match ctx.srv.cfg.busy_reply_threshold {
        0 => FALLBACK_LIMIT_MS,
        n => 2 * n as u64,
    };
    let caller_db = ctx.srv.clients[ctx.id].db;
    ctx.srv.blocking.deny += 1;
    let outcome = run_in_state(&state, ctx, func, rest, numkeys, read_only, limit);
    ctx.srv.blocking.deny -= 1;
    // SELECT inside the script changed the script's database only.
    if let Some(c) = ctx.srv.clients.get_mut(ctx.id) {
        c.db = caller_db;
    }
    ctx.db = caller_db;
    match outcome {
        Ok((true, v)) => convert::lua_to_reply(ctx.out, &v, 0),
        Ok((false, v)) => convert::script_error(ctx.out, &v, sha),
        Err(e) => ctx
            .out
            .error(&format!("ERR Error running script (call to f_{sha}): {e}")),
    }
    state.lua.remove_hook();
    let _ = state.lua.unset_named_registry_value(RAW);
    ctx.srv.scripting.lua = Some(state);
}

fn run_in_state(
    state: &State,
    ctx: &mut Ctx,
    func: Function,
    rest: Args,
    numkeys: usize,
    read_only: bool,
    limit_ms: u64,
) -> mlua::Result<(bool, Value)> {
    let lua = &state.lua;
    let globals = lua.globals();
    let keys =
        lua.create_sequence_from(rest.iter().take(numkeys).map(|k| lua.create_string(k).ok()))?;
    let argv =
        lua.create_sequence_from(rest.iter().skip(numkeys).map(|a| lua.create_string(a).ok()))?;
    globals.raw_set("KEYS", keys)?;
    globals.raw_set("ARGV", argv)?;
    state.holder.set("resp", 2)?;
    let start = Instant::now();
    let limit = Duration::from_millis(limit_ms);
    lua.set_hook(
        HookTriggers::new().every_nth_instruction(HOOK_EVERY),
        move |lua, debug| {
            if start.elapsed() <= limit {
                return Ok(VmState::Continue);
            }
            // Past the limit: check every line too, so a loop around pcall cannot catch
            // the error forever; only the script's own code is interrupted (not the
            // error handler).
            lua.set_hook(
                HookTriggers::new().every_line().every_nth_instruction(1000),
                move |_, debug| kill_in_user_code(&debug, limit_ms),
            );
            kill_in_user_code(&debug, limit_ms)
        },
    );
    let mut db = ctx.db;
    lua.scope(|scope| {
        let holder = state.holder.clone();
        let raw = scope.create_function_mut(move |lua, args: MultiValue| {
            let resp3 = holder.get::<i64>("resp").unwrap_or(2) == 3;
            convert::call_command(lua, ctx, &mut db, resp3, read_only, args)
        })?;
        lua.set_named_registry_value(RAW, raw)?;
        state.run.call::<(bool, Value)>(func)
    })
}
