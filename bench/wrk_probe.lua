-- A paced health probe for bench/compute.sh: each connection sends its next
-- request PROBE_INTERVAL_MS after the previous answer (0: back to back), so
-- the probe samples the server's latency without adding a busy client to the
-- cores it measures. wrk starts a request's clock when the request is written,
-- after the delay, so the delay is not part of the latency.
-- The BENCH line comes from wrk_report.lua, loaded from the same folder.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "wrk_report.lua")

local interval_ms = tonumber(os.getenv("PROBE_INTERVAL_MS") or "") or 10
if interval_ms > 0 then
  delay = function() return interval_ms end
end
