-- bench/wrk_post.lua - wrk script for `make bench`: POST requests, the same for keyward and its peers.
-- Environment (secrets come in the environment or in files, never in argv):
--   KW_POST_BODIES  file of request bodies, one per line (required)
--   KW_POST_TYPE    Content-Type (default application/x-www-form-urlencoded)
--   KW_POST_AUTH    the Authorization header value, if any (e.g. "Basic ...")
--   KW_POST_ONCE    "1": every body is sent at most once (fresh nonces: a body sent twice would be a
--                   replay); when they run out the script goes on from the first body again (those
--                   requests fail, so bench/run voids the figures) and done() reports exhausted=1.
--                   Otherwise the bodies rotate.
-- No response() callback (it would make wrk parse every response); bench/run checks exact statuses and
-- response shapes with curl before the load.
local bodies = {}
local headers = {}
local i = 0
once = false -- globals: done() reads them from each thread with thread:get
wrapped = 0

function setup(thread)
  threads = threads or {}
  threads[#threads + 1] = thread
end

function init(args)
  local file = os.getenv("KW_POST_BODIES")
  if file == nil then error("KW_POST_BODIES is not set") end
  local f = io.open(file, "r")
  if f == nil then error("cannot open " .. file) end
  for line in f:lines() do
    if #line > 0 then bodies[#bodies + 1] = line end
  end
  f:close()
  if #bodies == 0 then error("no bodies in " .. file) end
  headers["Content-Type"] = os.getenv("KW_POST_TYPE") or "application/x-www-form-urlencoded"
  local auth = os.getenv("KW_POST_AUTH")
  if auth ~= nil and #auth > 0 then headers["Authorization"] = auth end
  once = os.getenv("KW_POST_ONCE") == "1"
end

function request()
  i = i + 1
  if i > #bodies then
    i = 1
    wrapped = 1
  end
  return wrk.format("POST", nil, headers, bodies[i])
end

-- One machine-readable line for bench/run (as bench/wrk_keys.lua), plus how many bodies were sent
-- and whether a run with KW_POST_ONCE=1 ran out of them.
function done(summary, latency, requests)
  local e = summary.errors
  local exhausted = 0
  for _, t in ipairs(threads or {}) do
    if t:get("once") and t:get("wrapped") == 1 then exhausted = 1 end
  end
  io.write(string.format("KW_STATUS requests=%d non2xx=%d errors=%d exhausted=%d\n", summary.requests,
    e.status, e.connect + e.read + e.write + e.timeout, exhausted))
end
