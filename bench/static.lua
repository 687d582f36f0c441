-- wrk script for the nginx static 200 reference: plain GET /, and the same WRKSUMMARY line as
-- bench/validate.lua (p50/p99/p99.9, request and error counts).
function done(summary, latency, requests)
  local s = summary
  local non2xx = s.errors.status
  local sockerr = s.errors.connect + s.errors.read + s.errors.write + s.errors.timeout
  io.write(string.format(
    "WRKSUMMARY requests=%d duration_us=%d non2xx=%d socket_errors=%d p50_us=%d p99_us=%d p999_us=%d max_us=%d\n",
    s.requests, s.duration, non2xx, sockerr,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max))
end
