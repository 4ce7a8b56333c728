-- Rotates the Authorization header over the sampled keys (one per line in KW_KEYS_FILE).
local keys = {}
local i = 0
local path = os.getenv("KW_PATH") or "/api/v1/auth/check"

function init(args)
  local file = os.getenv("KW_KEYS_FILE")
  for line in io.lines(file) do
    if #line > 0 then keys[#keys + 1] = "Bearer " .. line end
  end
  if #keys == 0 then error("no keys in " .. tostring(file)) end
end

function request()
  i = i % #keys + 1
  return wrk.format("GET", path, { ["Authorization"] = keys[i] })
end

function done(summary, latency, requests)
  io.write(string.format("KW_STATUS non2xx=%d errors=%d\n", summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
