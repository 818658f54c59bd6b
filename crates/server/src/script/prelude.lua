-- Rudis's Lua prelude: run once when the script VM starts, before any user code.
-- It builds the sandbox user scripts run in and the Lua half of the `redis` API.
-- Arguments: the real globals table, the bridge table (Rust primitives), the redis table.
local R, bridge, redis = ...
local getinfo = debug.getinfo
local error, type, tostring, rawget, rawset = error, type, tostring, rawget, rawset
local setmetatable, getmetatable, select = setmetatable, getmetatable, select

local READONLY = 'Attempt to modify a readonly table'
local proxies = setmetatable({}, { __mode = 'k' })

local function deny()
  error(READONLY, 2)
end

-- A read-only view of `t`: reads see `t`, writes fail like Redis's read-only tables.
local function readonly(t)
  local view = {}
  local mt = { __index = t, __newindex = deny }
  local shown = setmetatable({}, { __index = mt, __newindex = deny, __metatable = false })
  proxies[shown] = true
  mt.__metatable = shown
  setmetatable(view, mt)
  proxies[view] = true
  return view
end
bridge.readonly = readonly

R.setmetatable = function(t, mt)
  if proxies[t] then error(READONLY, 0) end
  return setmetatable(t, mt)
end
R.rawset = function(t, k, v)
  if proxies[t] then error(READONLY, 0) end
  return rawset(t, k, v)
end

-- Binary chunks could break the VM: only source code loads.
local loadstring = loadstring
R.loadstring = function(s, name)
  if type(s) == 'string' and s:sub(1, 1) == '\27' then
    return nil, 'binary chunks are not allowed'
  end
  return loadstring(s, name)
end
R.load = nil

function redis.error_reply(msg)
  if select('#', msg) ~= 1 or type(msg) ~= 'string' then
    return { err = 'ERR wrong number or type of arguments' }
  end
  if msg:sub(1, 1) ~= '-' then msg = '-' .. msg end
  return bridge.error_table(msg)
end
function redis.status_reply(msg)
  if type(msg) ~= 'string' then
    return { err = 'ERR wrong number or type of arguments' }
  end
  return { ok = msg }
end
function redis.replicate_commands() return true end
function redis.breakpoint() return false end
function redis.debug() end
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3

-- The error handler: turns any error into Redis's error table, with the position of the
-- user code that raised it (frames of C functions and of this prelude are skipped).
function bridge.handler(err)
  local level = 2
  local info = getinfo(level, 'nSl')
  while info and (info.what == 'C' or info.source == '=rudis') do
    level = level + 1
    info = getinfo(level, 'nSl')
  end
  if type(err) ~= 'table' then
    err = { err = 'ERR ' .. bridge.error_text(err) }
  end
  if info then
    err.source = info.source
    err.line = info.currentline
  end
  return err
end

-- What a library's code sees while FUNCTION LOAD runs it: only the loading API.
local missing = {
  __index = function(_, k)
    error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
  end,
}
local load_redis = setmetatable({
  register_function = bridge.register_function,
  log = redis.log,
  LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
  REDIS_VERSION = redis.REDIS_VERSION,
  REDIS_VERSION_NUM = redis.REDIS_VERSION_NUM,
}, missing)
local load_api = setmetatable({ redis = readonly(load_redis) }, missing)

-- A library's environment and its metatable: the loading API first, then (once Rust moves
-- `__index`) the sandbox's globals.
function bridge.library_env()
  local env, mt = {}, { __index = load_api, __newindex = deny }
  mt.__metatable = readonly(mt)
  setmetatable(env, mt)
  proxies[env] = true
  return env, mt
end

-- Runs a library's code at load (errors are reported without a position handler).
function bridge.load(f)
  return pcall(f)
end

-- Globals: reading a missing one is an error, and nothing may be assigned.
setmetatable(R, {
  __index = function(_, k)
    error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
  end,
})
local G = {}
local gmt = { __index = R, __newindex = deny }
gmt.__metatable = readonly(gmt)
setmetatable(G, gmt)
proxies[G] = true
bridge.globals = G

R.redis = redis
R.print, R.dofile, R.loadfile, R.debug, R.module, R.require = nil, nil, nil, nil, nil, nil
for _, name in ipairs({ 'string', 'math', 'table', 'coroutine', 'redis', 'cjson', 'bit', 'struct', 'cmsgpack' }) do
  local lib = rawget(R, name)
  if lib then R[name] = readonly(lib) end
end
R._G = G
setfenv(0, G)

-- Runs a script (no arguments: EVAL, with KEYS and ARGV as globals) or a function
-- (called with the keys and arguments tables) under the error handler.
function bridge.run(f, keys, args)
  if keys == nil then return xpcall(f, bridge.handler) end
  return xpcall(function() return f(keys, args) end, bridge.handler)
end
