-- Replays precomputed, correctly signed GitHub deliveries (one line each in $REQ_FILE:
-- event \t delivery id \t signature \t body), each with its own delivery id, from line $REQ_OFFSET on.
-- Requests are formatted in init(), so request() is a table lookup and wrk measures the server.
-- Running out of lines would repeat delivery ids (duplicates, not new tasks): done() reports it.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local path = os.getenv("REQ_FILE")
  local offset = tonumber(os.getenv("REQ_OFFSET") or "0")
  local hook = os.getenv("HOOK_PATH")
  reqs = {}
  wrapped = 0
  idx = 0
  local i = 0
  for line in io.lines(path) do
    if i >= offset then
      local ev, id, sig, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
      reqs[#reqs + 1] = wrk.format("POST", hook, {
        ["Host"] = wrk.headers["Host"],
        ["Content-Type"] = "application/json",
        ["User-Agent"] = "GitHub-Hookshot/bench",
        ["X-GitHub-Event"] = ev,
        ["X-GitHub-Delivery"] = id,
        ["X-Hub-Signature-256"] = sig,
      }, body)
    end
    i = i + 1
  end
end

function request()
  idx = idx + 1
  if idx > #reqs then idx = 1; wrapped = wrapped + 1 end
  return reqs[idx]
end

function done(summary, latency, requests)
  local w = 0
  for _, t in ipairs(threads) do w = w + (t:get("wrapped") or 0) end
  io.write(string.format("WRAPPED %d\n", w))
end
