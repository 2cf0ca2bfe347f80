-- wrk script for every bench scenario. Environment:
--   BENCH_SCENARIO  bare | validate | validate_same | activate | consume | floating | ls_check
--   BENCH_TOKEN     bearer token (ls_check)
--   BENCH_KEYS      key file written by `licensd-bench seed` (lines: key [fingerprint])
--   BENCH_SEQUENTIAL=1 with BENCH_THREADS=T: walk the keys in order (first checks of each license)
--                   instead of picking them at random
-- Prints one machine-readable RESULT line when done.

local scenario = os.getenv("BENCH_SCENARIO") or "bare"
local keys_file = os.getenv("BENCH_KEYS")
local keys, prints = {}, {}
local counter = 0
local threads = 0
local sequential = os.getenv("BENCH_SEQUENTIAL") == "1"
local thread_count = tonumber(os.getenv("BENCH_THREADS") or "1")

function setup(thread)
  thread:set("thread_id", threads)
  threads = threads + 1
end

function init(args)
  if keys_file and keys_file ~= "" then
    for line in io.lines(keys_file) do
      local key, fingerprint = line:match("^(%S+)%s*(%S*)")
      if key then
        keys[#keys + 1] = key
        prints[#prints + 1] = fingerprint
      end
    end
  end
  math.randomseed(os.time() + (thread_id or 0) * 7919)
  if scenario == "ls_check" then
    -- LicenseSpring clients send a Date header (checked against a 15-minute window) and a token.
    wrk.method = "GET"
    wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_TOKEN") or "")
    wrk.headers["Date"] = os.date("!%a, %d %b %Y %H:%M:%S GMT")
  else
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/json"
  end
end

function request()
  counter = counter + 1
  if scenario == "bare" then
    return wrk.format(nil, nil, nil, "{}")
  end
  local i = math.random(#keys)
  if sequential then
    i = ((counter - 1) * thread_count + thread_id) % #keys + 1
  end
  if scenario == "ls_check" then
    return wrk.format(nil, wrk.path .. "?product=bench&hardware_id=" .. prints[i] .. "&license_key=" .. keys[i])
  end
  local body
  if scenario == "validate" then
    body = '{"key":"' .. keys[i] .. '","fingerprint":"' .. prints[i] .. '"}'
  elseif scenario == "validate_same" then
    body = '{"key":"' .. keys[1] .. '","fingerprint":"' .. prints[1] .. '"}'
  elseif scenario == "activate" then
    body = '{"key":"' .. keys[i] .. '","fingerprint":"new-' .. thread_id .. '-' .. counter .. '"}'
  elseif scenario == "consume" then
    body = '{"key":"' .. keys[i] .. '","amount":1}'
  elseif scenario == "floating" then
    -- A fixed pool of devices per thread: first checkouts take seats, later ones renew leases.
    body = '{"key":"' .. keys[i] .. '","fingerprint":"seat-' .. thread_id .. '-' .. (counter % 500) .. '"}'
  end
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  local errors = e.connect + e.read + e.write + e.status + e.timeout
  io.write(string.format("RESULT requests=%d duration_us=%d errors=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration, errors, latency:percentile(50), latency:percentile(99)))
end
