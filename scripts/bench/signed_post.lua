-- wrk: POSTs signed Intuit webhook bodies from the file BODIES (`SIGNATURE<TAB>BODY` lines, made by
-- signed_bodies.py). wrk runs 2 threads (-t2): each takes every other line, so no body is sent
-- twice while the file lasts (a thread that runs out starts its lines again). The requests are
-- formatted once in init(), so request() costs wrk next to nothing: the load generator's share of
-- the machine is the same for every receiver measured with it.
local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

local requests, count, next = {}, 0, 0
function init(args)
  local line_number = 0
  local same = (os.getenv("SAME_BODY") or "") ~= ""
  for line in io.lines(os.getenv("BODIES")) do
    if same or line_number % 2 == id then
      local tab = line:find("\t", 1, true)
      count = count + 1
      requests[count] = wrk.format("POST", nil, { ["Content-Type"] = "application/json", ["intuit-signature"] = line:sub(1, tab - 1) }, line:sub(tab + 1))
    end
    line_number = line_number + 1
  end
end

function request()
  next = next % count + 1
  return requests[next]
end
