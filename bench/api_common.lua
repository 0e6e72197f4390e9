-- Shared by bench/api_*.lua (wrk scripts): the token and data set come from bench/api through
-- the environment; each scenario script defines request() from the builders below.
local token = os.getenv("BENCH_TOKEN")
local image_id = os.getenv("BENCH_IMAGE_ID")
local max_seq = tonumber(os.getenv("BENCH_MAX_SEQ") or "0")
local headers = {["Authorization"] = "Bearer " .. (token or ""), ["Content-Type"] = "application/json"}
local ids = {}
local created = 0

-- wrk calls setup() once per thread in its main Lua state, init() in each thread's own state.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end

function init(args)
  math.randomseed(os.time() * 1000 + (thread_id or 0))
  for line in io.lines(os.getenv("BENCH_IDS_FILE")) do
    ids[#ids + 1] = line
  end
end

function get_instance()
  return wrk.format("GET", "/api/v1/instances/" .. ids[math.random(#ids)], headers)
end

-- A page from a random position: the cursor is opaque to clients, but the bench knows its form
-- (src/sparkle/api/pagination.cpp) and so can start anywhere in the 100,000 rows.
function list_page()
  local after = math.random(0, math.max(0, max_seq - 100))
  return wrk.format("GET", "/api/v1/instances?limit=100&cursor=s1." .. after, headers)
end

function create_instance(prefix)
  created = created + 1
  local body = string.format(
    '{"name":"%s-%d-%d","spec":{"vcpus":2,"ram_mib":4096,"disk_gib":40,"image_id":"%s",' ..
    '"power_state":"running","required_traits":["ssd"],"user_data":"#cloud-config\\nhostname: bench\\n"}}',
    prefix, thread_id or 0, created, image_id)
  return wrk.format("POST", "/api/v1/instances", headers, body)
end

-- One line bench/api reads: throughput, latency percentiles in ms, and failed requests (socket
-- errors, timeouts and 4xx/5xx answers: any of them makes the figures invalid).
function done(summary, latency, requests)
  local e = summary.errors
  local failed = e.connect + e.read + e.write + e.status + e.timeout
  io.write(string.format(
    "result requests=%d rps=%.1f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f failed=%d\n",
    summary.requests, summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000, failed))
end
