-- wrk script: each thread sends its share of the pre-signed deliveries in
-- $PAYLOADS (one `signature<TAB>body` per line, thread t taking every line
-- n with n mod threads = t) in order, one request per delivery, for wrk's
-- fixed duration. Running out wraps around and is reported (`wrapped`), as
-- repeats would no longer be distinct events.
local threads = {}
local counter = 1

function setup(thread)
  thread:set("tid", counter)
  table.insert(threads, thread)
  counter = counter + 1
end

function init(args)
  local nthreads = tonumber(os.getenv("WRK_THREADS"))
  mine = {}
  local n = 0
  for line in io.lines(os.getenv("PAYLOADS")) do
    if n % nthreads == tid - 1 then
      local tab = line:find("\t", 1, true)
      table.insert(mine, { line:sub(1, tab - 1), line:sub(tab + 1) })
    end
    n = n + 1
  end
  issued = 0
  ok = 0
  wrapped = 0
  path = os.getenv("TARGET_PATH")
end

function request()
  issued = issued + 1
  if issued > #mine then
    wrapped = 1
  end
  local delivery = mine[(issued - 1) % #mine + 1]
  return wrk.format("POST", path, {
    ["Content-Type"] = "application/json",
    ["Stripe-Signature"] = delivery[1],
  }, delivery[2])
end

function response(status, headers, body)
  if status >= 200 and status <= 299 then
    ok = ok + 1
  end
end

function done(summary, latency, requests)
  local good, wraps = 0, 0
  for _, thread in ipairs(threads) do
    good = good + thread:get("ok")
    wraps = wraps + thread:get("wrapped")
  end
  io.write(string.format("RESULT answered=%d ok=%d seconds=%.3f p50_ms=%.2f p99_ms=%.2f wrapped=%d errors=%d\n",
    summary.requests, good, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, wraps,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
