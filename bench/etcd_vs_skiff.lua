-- wrk script for bench/etcd_vs_skiff.sh. One file for the four request kinds, chosen by env:
--   BENCH_MODE   etcd-put | etcd-get | skiff-create | skiff-get
--   BENCH_PREFIX name prefix of the objects this run writes (unique per run: creates never
--                collide with an earlier phase's objects)
--   BENCH_VALUE  etcd-put: file whose contents are the value (a Pod as skiff stores it, so both
--                stores write the same number of bytes)
--   BENCH_TOKEN  skiff-*: bearer token (wrk cannot present a client certificate)
--   BENCH_KEYS   *-get: read names BENCH_PREFIX-1-1 .. BENCH_PREFIX-1-BENCH_KEYS, which an earlier
--                one-thread create run under that prefix wrote
-- Names are PREFIX-THREAD-N, so the threads of one wrk never generate the same name.
local mode = os.getenv("BENCH_MODE")
local prefix = os.getenv("BENCH_PREFIX") or "p"

local b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local c1 = math.floor(n / 262144) % 64
    local c2 = math.floor(n / 4096) % 64
    local c3 = math.floor(n / 64) % 64
    local c4 = n % 64
    out[#out + 1] = b64chars:sub(c1 + 1, c1 + 1) .. b64chars:sub(c2 + 1, c2 + 1) ..
        (b and b64chars:sub(c3 + 1, c3 + 1) or "=") .. (c and b64chars:sub(c4 + 1, c4 + 1) or "=")
  end
  return table.concat(out)
end

-- setup() runs in the main state once per thread: hand each thread its number.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local counter = 0
local keys = tonumber(os.getenv("BENCH_KEYS") or "1")
local value64
local pod = '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"%s","labels":{"app":"bench"}},' ..
    '"spec":{"schedulerName":"bench-unscheduled","containers":[{"name":"c","image":"busybox:1.36",' ..
    '"command":["sleep","3600"],"resources":{"requests":{"cpu":"10m","memory":"16Mi"}}}]}}'

function init(args)
  math.randomseed(os.time() + (tid or 0))
  if mode == "etcd-put" then
    local f = assert(io.open(os.getenv("BENCH_VALUE"), "rb"))
    value64 = base64(f:read("*a"))
    f:close()
  end
  if mode == "etcd-put" or mode == "etcd-get" then
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/json"
  else
    wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
    wrk.headers["Content-Type"] = "application/json"
  end
end

local function next_name()
  counter = counter + 1
  return prefix .. "-" .. tid .. "-" .. counter
end

-- Not N=1: wrk builds a connection's first request before the TLS handshake and builds it
-- again (the next N) if the handshake needs another round, so name 1 may never be sent.
local function some_name()
  return prefix .. "-1-" .. math.random(math.min(2, keys), keys)
end

function request()
  if mode == "etcd-put" then
    local key = base64("/registry/pods/default/" .. next_name())
    return wrk.format("POST", "/v3/kv/put", nil, '{"key":"' .. key .. '","value":"' .. value64 .. '"}')
  elseif mode == "etcd-get" then
    local key = base64("/registry/pods/default/" .. some_name())
    return wrk.format("POST", "/v3/kv/range", nil, '{"key":"' .. key .. '"}')
  elseif mode == "skiff-create" then
    return wrk.format("POST", "/api/v1/namespaces/default/pods", nil, string.format(pod, next_name()))
  else
    return wrk.format("GET", "/api/v1/namespaces/default/pods/" .. some_name(), nil, nil)
  end
end

-- BENCH_DEBUG=1: print every failed response (costs wrk CPU: off in measured runs).
if os.getenv("BENCH_DEBUG") then
  function response(status, headers, body)
    if status >= 300 then io.stderr:write(status .. " " .. body:sub(1, 300) .. "\n") end
  end
end
