-- End-to-end test of editor/nvim in a real, headless Neovim; run by tests/editors/test_nvim.py:
--   nvim --headless -u NONE -l tests/editors/nvim_e2e.lua
-- Environment: SPARK_NVIM_PLUGIN (the plugin folder), SPARK_TEST_FILE (a Python file with a known
-- mistake), SPARK_TEST_REPORT (where to write the JSON report). Exits non-zero on the first failed
-- step; the report says which step and what the editor showed.
local plugin = assert(os.getenv("SPARK_NVIM_PLUGIN"), "SPARK_NVIM_PLUGIN")
local file = assert(os.getenv("SPARK_TEST_FILE"), "SPARK_TEST_FILE")
local CODE = os.getenv("SPARK_TEST_CODE") or "SPK001"

local harness = dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, "S").source:sub(2)),
  "nvim_harness.lua"))
local report, step, wait, write_report = harness.report, harness.step, harness.wait,
  harness.write_report

if os.getenv("SPARK_TEST_WITHOUT_ENABLE") == "1" then
  -- Pretend to be Neovim < 0.11 (no vim.lsp.config / vim.lsp.enable): the vim.lsp.start path.
  vim.lsp.config = nil
  vim.lsp.enable = nil
end
vim.opt.rtp:prepend(plugin)
vim.cmd("filetype on")
vim.cmd("runtime! plugin/spark.lua")
local spark = require("spark")

local requests = {}
vim.api.nvim_create_autocmd("LspRequest", {
  callback = function(args)
    local request = args.data.request
    if request.type == "complete" then
      requests[request.method] = (requests[request.method] or 0) + 1
    end
  end,
})

spark.setup({})
vim.cmd.edit(vim.fn.fnameescape(file))
local bufnr = vim.api.nvim_get_current_buf()

step("attach", function()
  wait(20000, "the Spark client to attach", function()
    local client = spark.clients(bufnr)[1]
    return client ~= nil and client.initialized
  end)
  local client = spark.clients(bufnr)[1]
  report.mode = spark.mode
  report.server = client.server_info
  report.commands = (client.server_capabilities.executeCommandProvider or {}).commands
end)

local finding
step("diagnostic", function()
  wait(20000, "a " .. CODE .. " diagnostic", function()
    for _, d in ipairs(vim.diagnostic.get(bufnr)) do
      if d.source == "spark" and d.code == CODE then
        finding = d
        return true
      end
    end
    return false
  end)
  report.diagnostic = { code = finding.code, message = finding.message, lnum = finding.lnum,
    col = finding.col, end_col = finding.end_col, severity = finding.severity }
end)

step("hover", function()
  vim.api.nvim_win_set_cursor(0, { finding.lnum + 1, finding.col })
  local encoding = spark.clients(bufnr)[1].offset_encoding
  report.position_encoding = encoding
  local params = vim.lsp.util.make_position_params(0, encoding)
  local results = vim.lsp.buf_request_sync(bufnr, "textDocument/hover", params, 10000) or {}
  local text
  for _, r in pairs(results) do
    if r.result and r.result.contents then
      text = r.result.contents.value or vim.inspect(r.result.contents)
    end
  end
  report.hover = text
  assert(text and text:find(CODE, 1, true), "hover does not name " .. CODE .. ": " .. tostring(text))
end)

step("SparkExplain", function()
  vim.cmd("SparkExplain")
  local float_text
  wait(10000, "the :SparkExplain float", function()
    for _, win in ipairs(vim.api.nvim_list_wins()) do
      if vim.api.nvim_win_get_config(win).relative ~= "" then
        float_text = table.concat(vim.api.nvim_buf_get_lines(vim.api.nvim_win_get_buf(win), 0, -1, false), "\n")
        return float_text:find(CODE, 1, true) ~= nil
      end
    end
    return false
  end)
  report.explain = float_text
  for _, win in ipairs(vim.api.nvim_list_wins()) do
    if vim.api.nvim_win_get_config(win).relative ~= "" then
      vim.api.nvim_win_close(win, true)
    end
  end
end)

step("code action", function()
  local titles = {}
  local params = vim.lsp.util.make_range_params(0, spark.clients(bufnr)[1].offset_encoding)
  params.context = { diagnostics = { finding.user_data.lsp }, only = { "quickfix" } }
  for _, r in pairs(vim.lsp.buf_request_sync(bufnr, "textDocument/codeAction", params, 10000) or {}) do
    for _, action in ipairs(r.result or {}) do
      table.insert(titles, action.title)
    end
  end
  report.code_actions = titles
  local before = requests["workspace/executeCommand"] or 0
  vim.lsp.buf.code_action({
    apply = true,
    context = { only = { "quickfix" } },
    filter = function(action)
      return vim.startswith(action.title, CODE .. ":")
    end,
  })
  wait(10000, "the fix in the buffer", function()
    return table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), "\n"):find("to_numpy()", 1, true) ~= nil
  end)
  -- The action's command (spark.recordOutcome) runs after the edit: wait for its answer.
  wait(10000, "spark.recordOutcome to be answered", function()
    return (requests["workspace/executeCommand"] or 0) > before
  end)
  vim.cmd.write()
  report.buffer = table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), "\n")
  local f = assert(io.open(file))
  report.disk = f:read("*a")
  f:close()
  wait(10000, "the " .. CODE .. " diagnostic to go", function()
    for _, d in ipairs(vim.diagnostic.get(bufnr)) do
      if d.code == CODE then
        return false
      end
    end
    return true
  end)
end)

step("SparkStatus", function()
  report.status = spark.status_lines()
  vim.cmd("SparkStatus")
  assert(table.concat(report.status, "\n"):find("server: client", 1, true), "no client in :SparkStatus")
end)

step("SparkRestart", function()
  local old = spark.clients(bufnr)[1].id
  vim.cmd("SparkRestart")
  wait(20000, "a new Spark client", function()
    local client = spark.clients(bufnr)[1]
    return client ~= nil and client.id ~= old and client.initialized
  end)
end)

step("checkhealth", function()
  vim.cmd("checkhealth spark")
  report.health = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), "\n")
  assert(report.health:find("found ", 1, true), "checkhealth did not find spark")
end)

write_report()
vim.cmd("qa!")
