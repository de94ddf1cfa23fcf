-- Forwarding other tools' diagnostics from a real, headless Neovim; run by
-- tests/editors/test_nvim_forward.py:  nvim --headless -u NONE -l tests/editors/nvim_forward.lua
-- A namespace that is not Spark's (standing in for another language server or nvim-lint) gets
-- Pylance-worded diagnostics; the plugin forwards them (spark/otherDiagnostics); Spark's hover and
-- "Spark: how to fix this" then answer on their ranges. Environment as nvim_e2e.lua.
local plugin = assert(os.getenv("SPARK_NVIM_PLUGIN"), "SPARK_NVIM_PLUGIN")
local file = assert(os.getenv("SPARK_TEST_FILE"), "SPARK_TEST_FILE")

local harness = dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, "S").source:sub(2)),
  "nvim_harness.lua"))
local report, step, wait, write_report = harness.report, harness.step, harness.wait,
  harness.write_report

vim.opt.rtp:prepend(plugin)
vim.cmd("filetype on")
vim.cmd("runtime! plugin/spark.lua")
local spark = require("spark")
local forward = require("spark.forward")
spark.setup({})
vim.cmd.edit(vim.fn.fnameescape(file))
local bufnr = vim.api.nvim_get_current_buf()
local lines = vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)
local function find(needle)
  for i, line in ipairs(lines) do
    local col = line:find(needle, 1, true)
    if col then
      return i - 1, col - 1
    end
  end
  error("not in the file: " .. needle)
end
local append_row, append_col = find(".append(")
local np_row, np_col = find("np.")

step("attach", function()
  wait(20000, "Spark's diagnostics", function()
    for _, d in ipairs(vim.diagnostic.get(bufnr)) do
      if d.source == "spark" then
        return true
      end
    end
    return false
  end)
end)

local ns = vim.api.nvim_create_namespace("fake-pylance")
step("other namespace", function()
  vim.diagnostic.set(ns, bufnr, {
    { lnum = append_row, col = append_col + 1, end_lnum = append_row, end_col = append_col + 7,
      message = 'Cannot access attribute "append" for class "DataFrame"', source = "Pylance",
      code = "reportAttributeAccessIssue", severity = vim.diagnostic.severity.ERROR },
    { lnum = np_row, col = np_col, end_lnum = np_row, end_col = np_col + 2,
      message = '"np" is not defined', source = "Pylance", code = "reportUndefinedVariable",
      severity = vim.diagnostic.severity.ERROR },
  })
  wait(10000, "the diagnostics to be forwarded", function()
    local last = forward.last_sent(bufnr)
    return last ~= nil and #last == 2
  end)
  report.forwarded = forward.last_sent(bufnr)
  report.sent_count = forward.sent_count
end)

local function request(method, params)
  local texts = {}
  for _, r in pairs(vim.lsp.buf_request_sync(bufnr, method, params, 10000) or {}) do
    table.insert(texts, r.result)
  end
  return texts
end

step("hover", function()
  vim.api.nvim_win_set_cursor(0, { np_row + 1, np_col })
  local encoding = spark.clients(bufnr)[1].offset_encoding
  local params = vim.lsp.util.make_position_params(0, encoding)
  wait(20000, "Spark's section in the hover", function()
    for _, result in ipairs(request("textDocument/hover", params)) do
      if result.contents and (result.contents.value or ""):find("Spark:", 1, true) then
        report.hover = result.contents.value
        return true
      end
    end
    return false
  end)
end)

step("code action", function()
  vim.api.nvim_win_set_cursor(0, { append_row + 1, append_col + 2 })
  local encoding = spark.clients(bufnr)[1].offset_encoding
  local params = vim.lsp.util.make_range_params(0, encoding)
  -- as vim.lsp.buf.code_action() sends it: the context holds only this client's diagnostics
  params.context = { diagnostics = {}, only = { "quickfix" } }
  local titles = {}
  for _, result in ipairs(request("textDocument/codeAction", params)) do
    for _, action in ipairs(result) do
      table.insert(titles, action.title)
    end
  end
  report.code_actions = titles
  vim.lsp.buf.code_action({
    apply = true,
    context = { only = { "quickfix" } },
    filter = function(action)
      return vim.startswith(action.title, "Spark: how to fix this")
    end,
  })
  wait(10000, "the fix in the buffer", function()
    return table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), "\n"):find("pd.concat(", 1, true) ~= nil
  end)
  report.buffer = table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), "\n")
end)

step("turned off", function()
  forward.setup(false)
  local before = forward.sent_count
  vim.diagnostic.set(ns, bufnr, {
    { lnum = 0, col = 0, end_lnum = 0, end_col = 6, message = "x", source = "other", severity = 1 },
  })
  vim.wait(1000)
  report.sent_while_off = forward.sent_count - before
end)

write_report()
vim.cmd("qa!")
