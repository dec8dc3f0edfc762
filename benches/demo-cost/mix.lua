-- wrk script: the demo's route mix (benches/demo-cost/mix), cycled in order on every
-- connection, signed in as one user.
-- Usage: wrk -s mix.lua URL -- MIX_FILE TOKEN USER_ID WORKFLOW_ID
local requests = {}
local next_request = 0

function init(args)
  local file, token, uid, wid = args[1], args[2], args[3], args[4]
  for line in io.lines(file) do
    local method, path, body = line:match("^(%S+) (%S+) (.*)$")
    if method then
      path = path:gsub("{uid}", uid):gsub("{wid}", wid)
      local headers = { ["Authorization"] = "Bearer " .. token }
      if body == "-" then
        body = nil
      else
        headers["Content-Type"] = "application/json"
      end
      requests[#requests + 1] = wrk.format(method, path, headers, body)
    end
  end
  if #requests == 0 then
    error("no request in " .. file)
  end
end

function request()
  next_request = next_request % #requests + 1
  return requests[next_request]
end
