-- wrk script: requests in absolute-URI form, as a client of a forward proxy sends them.
-- wrk connects to the proxy given on its command line; BENCH_TARGET is the upstream URL.
local target = os.getenv("BENCH_TARGET") or "http://up.bench.example:18080/small"
local authority = target:match("^https?://([^/]+)")
wrk.method = "GET"
wrk.path = target
wrk.headers["Host"] = authority
