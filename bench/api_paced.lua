-- bench/api's goal check: one kind of request (BENCH_KIND: get, list or create) at a fixed rate
-- (BENCH_RATE requests/s for this wrk process), so that latency is measured at the offered load
-- rather than at saturation. bench/api runs one process per kind at once, so the mix is the
-- sum of them. Run with one wrk thread (-t1): the schedule lives in the thread's Lua state.
dofile(os.getenv("BENCH_LUA_DIR") .. "/api_common.lua")

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock_id, bench_timespec* out);
]]
local CLOCK_MONOTONIC = 1
local timespec = ffi.new("bench_timespec")
local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, timespec)
  return tonumber(timespec.tv_sec) * 1000 + tonumber(timespec.tv_nsec) / 1e6
end

local kind = os.getenv("BENCH_KIND")
local interval_ms = 1000 / tonumber(os.getenv("BENCH_RATE"))
local next_at = nil

-- Each finished request asks when its connection may send the next one: it gets the next free
-- slot of the schedule. A slot nobody was free to take is dropped, not made up for later, so a
-- server that cannot keep up shows as an achieved rate below the offered one.
function delay()
  local now = now_ms()
  local slot = math.max(next_at or now, now)
  next_at = slot + interval_ms
  return slot - now
end

if kind == "get" then
  request = get_instance
elseif kind == "list" then
  request = list_page
else
  request = function()
    return create_instance("g")
  end
end
