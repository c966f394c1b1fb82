-- wrk: POST a body of BODY_BYTES bytes (default 1024) read from BODY_FILE if set.
local file = os.getenv("BODY_FILE")
if file then
  local f = assert(io.open(file, "rb"))
  wrk.body = f:read("*a")
  f:close()
else
  wrk.body = string.rep("x", tonumber(os.getenv("BODY_BYTES") or "1024"))
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/octet-stream"
