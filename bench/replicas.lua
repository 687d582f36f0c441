-- wrk script: bench/validate.lua's requests spread over several txv replicas without a load
-- balancer. wrk connects each thread to one address, so thread i goes to port i mod N of
-- BENCH_REPLICA_PORTS (comma-separated; read from the environment because setup() runs before
-- the script's arguments reach init()). Give -t a multiple of N: -t3 -c63 is 21 connections per
-- replica (wrk gives every thread connections / threads).
--   BENCH_REPLICA_PORTS=P1,P2,P3 wrk -t3 -c63 ... -s bench/replicas.lua http://127.0.0.1:P1 -- API_KEY [ID_PREFIX]
dofile("bench/validate.lua") -- init(), request(), done(), and the setup() wrapped below

local ports = {}
for p in string.gmatch(os.getenv("BENCH_REPLICA_PORTS") or "", "%d+") do
  table.insert(ports, p)
end
if #ports == 0 then
  error("bench/replicas.lua: set BENCH_REPLICA_PORTS=P1,P2,...")
end

local validate_setup = setup
local assigned = 0

function setup(thread)
  local port = ports[assigned % #ports + 1]
  assigned = assigned + 1
  thread.addr = wrk.lookup("127.0.0.1", port)[1]
  validate_setup(thread)
end
