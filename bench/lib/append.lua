-- The naive baseline's load: POST <APPEND_PREFIX><1..APPEND_OBJECTS> with a GitHub-sized body, round
-- robin (default /append/t over 64 objects; B1's floor sends /batch/s over 4, as the edge's shards).
counter = 0
body = string.rep("x", 1874)
prefix = os.getenv("APPEND_PREFIX") or "/append/t"
objects = tonumber(os.getenv("APPEND_OBJECTS") or "64")
function request()
  counter = counter + 1
  return wrk.format("POST", prefix .. ((counter % objects) + 1), { ["Content-Type"] = "application/json" }, body)
end
