-- bench/wrk_keys.lua - wrk script for `make bench`: rotates `Authorization: Bearer <key>` over the
-- sampled secrets (one per line in the file named by KW_KEYS_FILE), so neither nginx nor keyward
-- answers the same key twice in a row. The path is the URL's (wrk.path): the same script drives
-- /api/v1/auth/check and /healthz, with valid or with well-formed unknown keys. No response() callback: it would make wrk parse every response
-- and slow the load generator; bench/run checks exact status codes with curl instead.
local keys = {}
local i = 0

function init(args)
  local file = os.getenv("KW_KEYS_FILE")
  if file == nil then error("KW_KEYS_FILE is not set") end
  local f = io.open(file, "r")
  if f == nil then error("cannot open " .. file) end
  for line in f:lines() do
    if #line > 0 then keys[#keys + 1] = "Bearer " .. line end
  end
  f:close()
  if #keys == 0 then error("no keys in " .. file) end
end

function request()
  i = i % #keys + 1
  return wrk.format(nil, nil, { ["Authorization"] = keys[i] })
end

-- One machine-readable line for bench/run: requests, statuses >= 400 and socket errors (a run of
-- unknown keys must have every request answered >= 400, a run of valid keys none).
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("KW_STATUS requests=%d non2xx=%d errors=%d\n", summary.requests, e.status,
    e.connect + e.read + e.write + e.timeout))
end
