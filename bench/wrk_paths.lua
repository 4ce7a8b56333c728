-- bench/wrk_paths.lua - wrk script for `make bench` (issue 9's extract figures): GET requests that
-- rotate over the paths in the file named by KW_PATHS_FILE (one per line: /api/v1/candidates/{refId}
-- for single records, /api/v1/candidates?limit=100&cursor=... for pages), each with the same
-- `Authorization` header, KW_PATHS_AUTH (the environment, never argv). No response() callback (it
-- would make wrk parse every response); bench/run checks exact statuses and bodies with curl before
-- the load, and done() reports the statuses >= 400 and socket errors as bench/wrk_keys.lua does.
local paths = {}
local auth = nil
local i = 0

function init(args)
  local file = os.getenv("KW_PATHS_FILE")
  if file == nil then error("KW_PATHS_FILE is not set") end
  local f = io.open(file, "r")
  if f == nil then error("cannot open " .. file) end
  for line in f:lines() do
    if #line > 0 then paths[#paths + 1] = line end
  end
  f:close()
  if #paths == 0 then error("no paths in " .. file) end
  auth = os.getenv("KW_PATHS_AUTH")
  if auth == nil or #auth == 0 then error("KW_PATHS_AUTH is not set") end
end

function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i], { ["Authorization"] = auth })
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("KW_STATUS requests=%d non2xx=%d errors=%d\n", summary.requests, e.status,
    e.connect + e.read + e.write + e.timeout))
end
