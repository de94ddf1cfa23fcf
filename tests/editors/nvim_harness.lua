-- The step runner the headless Neovim test scripts share (nvim_e2e.lua, nvim_forward.lua):
-- each step is timed and recorded in a JSON report at $SPARK_TEST_REPORT; the first failure
-- writes the report and exits non-zero, so the Python test can say which step failed and why.
local report_path = assert(os.getenv("SPARK_TEST_REPORT"), "SPARK_TEST_REPORT")

local M = { report = { nvim = tostring(vim.version()), steps = {} } }

function M.write_report()
  local f = assert(io.open(report_path, "w"))
  f:write(vim.json.encode(M.report))
  f:close()
end

function M.step(name, fn)
  local started = vim.uv.hrtime()
  local ok, err = xpcall(fn, debug.traceback)
  table.insert(M.report.steps, { name = name, ok = ok, ms = (vim.uv.hrtime() - started) / 1e6,
    error = not ok and tostring(err) or nil })
  if not ok then
    M.report.failed = name
    M.write_report()
    vim.cmd("cquit 1")
  end
end

function M.wait(ms, what, predicate)
  if not vim.wait(ms, predicate, 50) then
    error("timed out after " .. ms .. " ms waiting for " .. what)
  end
end

return M
