-- The `redis` library and the sandbox, built once per Lua state. Receives the holder table
-- (holder.resp is the RESP version set by redis.setresp) and Rust helpers.
local holder, sha1hex, log, call_c, pcall_c, readonly_c, setfenv_c, ldb_debug_c, ldb_breakpoint_c = ...
local dbg = debug
local G = _G

-- An error table in Redis's shape: "-CODE msg" keeps its code, anything else gets ERR.
local function errtable(s)
  if string.sub(s, 1, 1) == '-' then
    if string.find(s, ' ', 1, true) then s = string.sub(s, 2) else s = 'ERR ' .. string.sub(s, 2) end
  else
    s = 'ERR ' .. s
  end
  return {err = (string.gsub(s, '[\r\n]+$', ''))}
end

local function readonly()
  error('Attempt to modify a readonly table', 2)
end

local lib = {}
-- call_c/pcall_c are C functions (a Lua wrapper in tail position would lose the caller's
-- frame and so the error's line); they run the command and raise or return its result.
lib.call = call_c
lib.pcall = pcall_c
-- redis.acl_check_cmd(cmd, args...): the command runner in ACL-check mode.
lib.acl_check_cmd = function(...)
  local raw = dbg.getregistry().ferrokv_raw
  if type(raw) ~= 'function' then error('redis.acl_check_cmd is only available while a script runs', 2) end
  local ok, v = raw(false, ...)
  if not ok then error(v, 2) end
  return v
end
lib.error_reply = function(...)
  local s = ...
  if select('#', ...) ~= 1 or type(s) ~= 'string' then return errtable('wrong number or type of arguments') end
  if string.sub(s, 1, 1) ~= '-' then s = '-' .. s end
  return errtable(s)
end
lib.status_reply = function(...)
  local s = ...
  if select('#', ...) ~= 1 or type(s) ~= 'string' then return errtable('wrong number or type of arguments') end
  return {ok = s}
end
lib.sha1hex = function(...)
  if select('#', ...) ~= 1 then error(errtable('wrong number of arguments')) end
  local s = ...
  if type(s) ~= 'string' and type(s) ~= 'number' then s = '' end
  return sha1hex(tostring(s))
end
lib.log = function(...)
  local n = select('#', ...)
  if n < 2 then error(errtable('redis.log() requires two arguments or more.')) end
  local level = ...
  if type(level) ~= 'number' then error(errtable('First argument must be a number')) end
  if level < 0 or level > 3 then error(errtable('Invalid debug level.')) end
  local parts = {}
  for i = 2, n do
    local v = select(i, ...)
    if type(v) == 'string' or type(v) == 'number' then parts[#parts + 1] = tostring(v) end
  end
  log(level, table.concat(parts, ' '))
end
lib.setresp = function(...)
  if select('#', ...) ~= 1 then error(errtable('redis.setresp() requires one argument.')) end
  local v = ...
  if v ~= 2 and v ~= 3 then error(errtable('RESP version must be 2 or 3.')) end
  holder.resp = v
end
lib.set_repl = function(...)
  if select('#', ...) ~= 1 then error(errtable('redis.set_repl() requires one argument.')) end
  local v = ...
  if type(v) ~= 'number' or v < 0 or v > 3 then
    error(errtable('Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.'))
  end
  holder.repl = v
end
lib.replicate_commands = function() return true end
-- The Lua debugger's (no-ops outside a SCRIPT DEBUG session).
lib.breakpoint = ldb_breakpoint_c
lib.debug = ldb_debug_c
lib.LOG_DEBUG, lib.LOG_VERBOSE, lib.LOG_NOTICE, lib.LOG_WARNING = 0, 1, 2, 3
lib.REPL_NONE, lib.REPL_AOF, lib.REPL_SLAVE, lib.REPL_REPLICA, lib.REPL_ALL = 0, 1, 2, 2, 3
lib.REDIS_VERSION, lib.REDIS_VERSION_NUM = '7.0.15', 0x07000f

-- Library tables are wrapped so that scripts see only their own fields; everything a script
-- can reach is sealed at the end of this file (see `seal`).
local function protect(t)
  return setmetatable({}, {__index = t, __newindex = readonly})
end
rawset(G, 'redis', protect(lib))
rawset(G, 'cjson', protect(G.cjson))
rawset(G, 'cmsgpack', protect(G.cmsgpack))
rawset(G, 'bit', protect(G.bit))
-- newproxy(true) gives a userdata whose __gc would run later, inside another user's script.
for _, name in ipairs({'loadfile', 'dofile', 'debug', 'print', 'newproxy'}) do rawset(G, name, nil) end

-- A read-only proxy over `lookup(view, k)`: reading a name it has no value for, or
-- creating one, fails as Redis's protected globals do.
local function strict_view(lookup)
  local view
  view = setmetatable({}, {
    __index = function(_, k)
      local v = lookup(view, k)
      if v == nil then
        error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
      end
      return v
    end,
    __newindex = readonly,
  })
  return view
end

-- User code sees the globals through a proxy. `visible(k)` answers first; it returns
-- (value) or (nil, true) to hide a name.
local function sandbox(visible)
  return strict_view(function(view, k)
    if k == '_G' then return view end
    local v, hidden = visible(k)
    if v == nil and not hidden then v = rawget(G, k) end
    return v
  end)
end
-- KEYS and ARGV of the running script live in the holder (set by the host for each run),
-- never in the sealed globals.
local env = sandbox(function(k)
  if k == 'KEYS' or k == 'ARGV' then return holder[k] end
end)

-- Turns any error into {err=..., source=..., line=...} located in the user's script.
local function handler(e)
  local where
  for lvl = 2, 30 do
    local i = dbg.getinfo(lvl, 'Sl')
    if not i then break end
    if i.what ~= 'C' and i.source ~= '=ferrokv' then where = i break end
  end
  if type(e) == 'userdata' then
    local s = string.gsub(tostring(e), '^runtime error: ', '')
    local cut = string.find(s, '\nstack traceback', 1, true)
    if cut then s = string.sub(s, 1, cut - 1) end
    e = {err = s}
  elseif type(e) ~= 'table' then
    e = {err = 'ERR ' .. tostring(e)}
  else
    -- a copy: the raised table may be sealed (error(redis))
    e = {err = rawget(e, 'err'), ferrokv_counted = rawget(e, 'ferrokv_counted')}
  end
  if where then
    e.source = where.source
    e.line = where.currentline
  end
  return e
end

local function run(f)
  return xpcall(f, handler)
end

-- Functions (FUNCTION LOAD / FCALL). While a library loads, the only global it sees is
-- `redis`, the load API (register_function, log, version); the functions it registers
-- run in the same sandbox as scripts.
local flag_names = {['no-writes'] = true, ['allow-oom'] = true, ['allow-stale'] = true,
  ['no-cluster'] = true, ['allow-cross-slot-keys'] = true}
local registered -- nil unless a library is loading
local registered_names -- the names in `registered`
local function register(name, callback, flags, description)
  if type(name) ~= 'string' then error(errtable('first argument to redis.register_function must be a string'), 2) end
  if type(callback) ~= 'function' then error(errtable('second argument to redis.register_function must be a function'), 2) end
  if not string.find(name, '^[%w_]+$') then
    -- (Redis 7.0 words this error about libraries.)
    error(errtable('Library names can only contain letters, numbers, or underscores(_) and must be at least one character long'), 2)
  end
  -- A set of the names so far: a library of n functions loads in O(n), not O(n^2).
  if registered_names[name] then error(errtable('Function already exists in the library'), 2) end
  registered_names[name] = true
  registered[#registered + 1] = {name = name, callback = callback, flags = flags or {}, description = description}
end
local load_api = {
  register_function = function(...)
    if not registered then
      error(errtable('redis.register_function can only be called on FUNCTION LOAD command'), 2)
    end
    local n = select('#', ...)
    if n == 1 then
      local t = ...
      if type(t) ~= 'table' then
        error(errtable('calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).'), 2)
      end
      local name, callback, flags, description
      for k, v in pairs(t) do
        if type(k) ~= 'string' then error(errtable('named argument key given to redis.register_function is not a string'), 2)
        elseif k == 'function_name' then
          if type(v) ~= 'string' then error(errtable('function_name argument given to redis.register_function must be a string'), 2) end
          name = v
        elseif k == 'description' then
          if type(v) ~= 'string' then error(errtable('description argument given to redis.register_function must be a string'), 2) end
          description = v
        elseif k == 'callback' then
          if type(v) ~= 'function' then error(errtable('callback argument given to redis.register_function must be a function'), 2) end
          callback = v
        elseif k == 'flags' then
          if type(v) ~= 'table' then error(errtable('flags argument to redis.register_function must be a table representing function flags'), 2) end
          flags = {}
          for _, f in ipairs(v) do
            if type(f) ~= 'string' or not flag_names[f] then error(errtable('unknown flag given'), 2) end
            flags[#flags + 1] = f
          end
        else
          error(errtable('unknown argument given to redis.register_function'), 2)
        end
      end
      if not name then error(errtable('redis.register_function must get a function name argument'), 2) end
      if not callback then error(errtable('redis.register_function must get a callback argument'), 2) end
      register(name, callback, flags, description)
    elseif n == 2 then
      register(...)
    else
      error(errtable('wrong number of arguments to redis.register_function'), 2)
    end
  end,
  log = lib.log,
  LOG_DEBUG = lib.LOG_DEBUG, LOG_VERBOSE = lib.LOG_VERBOSE, LOG_NOTICE = lib.LOG_NOTICE,
  LOG_WARNING = lib.LOG_WARNING, REDIS_VERSION = lib.REDIS_VERSION, REDIS_VERSION_NUM = lib.REDIS_VERSION_NUM,
}
-- The load API is all a library sees of `redis` while it loads: anything else is absent.
local load_fields = load_api
load_api = strict_view(function(_, k) return load_fields[k] end)
local loading = false
local fenv = sandbox(function(k)
  if not loading then return nil end
  if k == 'redis' then return load_api end
  return nil, true
end)

-- Run a library's code; returns true and what it registered, or false and the error.
local function load_library(code)
  local f, err = loadstring(code, '@user_function')
  if not f then return false, {err = 'ERR Error compiling function: ' .. tostring(err)} end
  setfenv_c(f, fenv)
  registered, registered_names = {}, {}
  loading = true
  local ok, e = xpcall(f, handler)
  loading = false
  local found = registered
  registered, registered_names = nil, nil
  if not ok then return false, e end
  if #found == 0 then return false, {err = 'ERR No functions registered'} end
  return true, found
end

-- Call a registered function with its keys and arguments.
local function runf(f, keys, args)
  return xpcall(function() return f(keys, args) end, handler)
end

-- Seal every table a script can reach (globals, libraries, the views and their metatables,
-- the string metatable) inside the VM itself: assignment, rawset, table.insert,
-- setmetatable and setfenv all fail on them with Redis's readonly error, whatever route a
-- script takes (getfenv(0), getmetatable, _G). Only the host can clear the mark.
local sealed = {}
local function seal(t)
  if type(t) ~= 'table' or sealed[t] then return end
  sealed[t] = true
  for k, v in next, t do
    seal(k)
    seal(v)
  end
  seal(dbg.getmetatable(t))
  readonly_c(t)
end
seal(G)
seal(env)
seal(fenv)
seal(load_api)
seal(dbg.getmetatable(''))
sealed = nil

return env, run, load_library, runf
