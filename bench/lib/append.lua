-- The naive baseline's load: POST /append/t<1..64> with a GitHub-sized body, round robin.
counter = 0
body = string.rep("x", 1874)
function request()
  counter = counter + 1
  return wrk.format("POST", "/append/t" .. ((counter % 64) + 1), { ["Content-Type"] = "application/json" }, body)
end
