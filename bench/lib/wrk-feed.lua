-- wrk's script for bench/lib/wrk-load.ts: sends the requests of FEED_FILE (raw HTTP requests,
-- each ended by a NUL byte) in order, wrapping around if the run outlasts them, and prints one
-- line of JSON at the end: requests sent and completed, latency percentiles, errors, and the
-- CPU wrk took from its first request on (its start, reading the file, is not the load's).
local requests = {}
local index = 0
sent = 0
cpu_at_start = nil
local threads = {}

local function cpu_ticks()
  local stat = io.open("/proc/self/stat"):read("*a")
  local fields = {}
  -- Fields after "pid (comm) ": utime and stime are the 12th and 13th.
  for word in stat:gsub("^.*%) ", ""):gmatch("%S+") do fields[#fields + 1] = word end
  return tonumber(fields[12]) + tonumber(fields[13])
end

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local data = io.open(os.getenv("FEED_FILE"), "rb"):read("*a")
  local at = 1
  while true do
    local stop = data:find("\0", at, true)
    if not stop then break end
    requests[#requests + 1] = data:sub(at, stop - 1)
    at = stop + 1
  end
end

function request()
  if sent == 0 then cpu_at_start = cpu_ticks() end
  sent = sent + 1
  index = index % #requests + 1
  return requests[index]
end

function done(summary, latency, _)
  local thread = threads[1]
  local errors = summary.errors
  io.write(string.format(
    'WRK_RESULT {"sent":%d,"completed":%d,"durationUs":%d,"p50Us":%d,"p99Us":%d,"maxUs":%d,' ..
      '"non2xx":%d,"errors":%d,"cpuTicks":%d}\n',
    thread:get("sent"), summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, errors.status, errors.connect + errors.read + errors.write + errors.timeout,
    cpu_ticks() - (thread:get("cpu_at_start") or cpu_ticks())))
end
