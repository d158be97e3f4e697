-- The `redis` library and the sandbox, built once per Lua state. Receives the holder table
-- (holder.resp is the RESP version set by redis.setresp) and Rust helpers.
local holder, sha1hex, log, call_c, pcall_c = ...
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
end
lib.replicate_commands = function() return true end
lib.breakpoint = function() return false end
lib.debug = function() end
lib.LOG_DEBUG, lib.LOG_VERBOSE, lib.LOG_NOTICE, lib.LOG_WARNING = 0, 1, 2, 3
lib.REPL_NONE, lib.REPL_AOF, lib.REPL_SLAVE, lib.REPL_REPLICA, lib.REPL_ALL = 0, 1, 2, 2, 3
lib.REDIS_VERSION, lib.REDIS_VERSION_NUM = '7.0.15', 0x00070f

-- Tables scripts may read but not change: writes, setmetatable and changes through
-- getmetatable all fail with Redis's readonly error.
local protected = setmetatable({}, {__mode = 'k'})
local shown_meta = setmetatable({}, {__newindex = readonly, __metatable = false})
local function protect(t)
  local p = setmetatable({}, {__index = t, __newindex = readonly, __metatable = shown_meta})
  protected[p] = true
  return p
end
local raw_setmetatable = setmetatable
rawset(G, 'setmetatable', function(t, m)
  if protected[t] then error('Attempt to modify a readonly table', 2) end
  return raw_setmetatable(t, m)
end)
-- Precompiled (binary) chunks are refused, as Redis does.
local raw_loadstring = loadstring
rawset(G, 'loadstring', function(s, ...)
  if type(s) == 'string' and string.byte(s, 1) == 27 then return nil end
  return raw_loadstring(s, ...)
end)
rawset(G, 'redis', protect(lib))
rawset(G, 'cjson', protect(G.cjson))
rawset(G, 'bit', protect(G.bit))
for _, name in ipairs({'loadfile', 'dofile', 'debug', 'print'}) do rawset(G, name, nil) end

-- Scripts see the globals through this proxy: reading an unknown name or creating one fails.
local env
env = setmetatable({}, {
  __index = function(_, k)
    if k == '_G' then return env end
    local v = rawget(G, k)
    if v == nil then
      error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
    end
    return v
  end,
  __newindex = readonly,
  __metatable = shown_meta,
})
protected[env] = true

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

return env, run
