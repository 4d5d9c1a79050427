-- Open-loop (constant-rate) load for wrk 4, in the manner of wrk2, for bench/indexer.py.
--
-- Run with one connection per thread (wrk -tN -cN): a thread's Lua state then serves exactly one
-- connection, so its delay(), request() and response() calls strictly alternate and each response
-- belongs to the request before it. Each connection sends on a fixed schedule, RATE requests a
-- second, its phase offset by id/THREADS of an interval so that the connections do not fire
-- together. A request's latency is measured from the time it was *meant* to be sent, not from when
-- it went out: when the server falls behind, the requests that queue behind a slow one count their
-- wait (no coordinated omission). wrk's timers have millisecond resolution, so a request leaves up
-- to about 1 ms after its slot; that lateness is reported separately ("lag").
--
-- The bench writes a prelude that sets RATE, THREADS, COUNT and PATHS_FILE and then runs this
-- file. PATHS_FILE holds THREADS blocks of COUNT request paths; thread `id` sends block `id` in turn.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } rigging_bench_timespec;
int clock_gettime(int clock_id, rigging_bench_timespec *tp);
]]
local timespec = ffi.new("rigging_bench_timespec")
local CLOCK_MONOTONIC = 1

local function now_us()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, timespec)
  return tonumber(timespec.tv_sec) * 1000000 + tonumber(timespec.tv_nsec) / 1000
end

-- main state: hand each thread its number, keep the threads for done()
local threads = {}
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

-- thread states
function init(args)
  interval = 1000000 / RATE
  paths = {}
  local first, last, n = id * COUNT + 1, (id + 1) * COUNT, 0
  for line in io.lines(PATHS_FILE) do
    n = n + 1
    if n >= first then
      paths[#paths + 1] = line
    end
    if n >= last then
      break
    end
  end
  sent, completed = 0, 0
  latency = {} -- response time from the intended send time, in 10 us buckets: bucket -> count
  lag = {} -- actual send time minus intended send time, same buckets
  generator_lag = {} -- the same, only for sends whose connection was idle at the intended time
  next_at, current, idle_since = nil, nil, nil
end

local function record(histogram, us)
  local bucket = math.floor(math.max(us, 0) / 10)
  histogram[bucket] = (histogram[bucket] or 0) + 1
end

-- wrk calls delay() right after a response completes (the connection turns writable at once), so
-- it also ends the previous request's clock; no response() hook, so wrk need not hand each body
-- to Lua. Non-2xx answers are counted by wrk itself (summary.errors.status).
function delay()
  local now = now_us()
  if current ~= nil then
    record(latency, now - current)
    completed = completed + 1
    current = nil
  end
  idle_since = now
  if next_at == nil then
    next_at = now + 20000 + interval * id / THREADS -- 20 ms for every connection to open
  end
  local wait_ms = (next_at - now) / 1000
  if wait_ms <= 0 then
    return 0
  end
  return math.ceil(wait_ms)
end

function request()
  if next_at == nil then -- wrk's check of the script before the run: not a scheduled request
    return wrk.format("GET", paths[1])
  end
  local now = now_us()
  current = next_at
  record(lag, now - current)
  if idle_since <= current then
    record(generator_lag, now - current)
  end
  next_at = next_at + interval -- the schedule never slips: late requests catch up
  sent = sent + 1
  return wrk.format("GET", paths[(sent - 1) % #paths + 1])
end

-- main state, after the run: every thread's histograms, for the bench to read
function done(summary, wrk_latency, requests)
  for _, thread in ipairs(threads) do
    io.write(string.format("OPEN_THREAD %d %d\n", thread:get("sent"), thread:get("completed")))
    for name, key in pairs({ OPEN_LATENCY = "latency", OPEN_LAG = "lag", OPEN_GENERATOR_LAG = "generator_lag" }) do
      for bucket, count in pairs(thread:get(key)) do
        io.write(string.format("%s %d %d\n", name, bucket, count))
      end
    end
  end
  local e = summary.errors
  io.write(string.format("OPEN_WRK %d %d %d %d %d %d\n", summary.requests, summary.duration,
    e.connect + e.read + e.write + e.status + e.timeout, wrk_latency:percentile(50), wrk_latency:percentile(95),
    wrk_latency:percentile(99)))
end
