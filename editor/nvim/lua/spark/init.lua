--- Spark for Neovim: registers `spark serve` as a language server for Python buffers.
---
---   require("spark").setup({
---     settings = { spark = { disabledCodes = { "SPK034" }, severity = { SPK001 = "hint" } } },
---   })
---
--- Neovim >= 0.11 gets vim.lsp.config("spark", ...) + vim.lsp.enable("spark"); older versions
--- start the client with vim.lsp.start() from a FileType autocommand.
local M = {}

local NAME = "spark"
local SOURCE = "spark"

---@class spark.Config
---@field cmd? string[] Command that runs the server; default: found by `M.command()`.
---@field python? string Interpreter that has Spark installed; `spark` beside it or `python -m spark_lsp`.
---@field filetypes? string[]
---@field root_markers? string[]
---@field settings? table Sent as initializationOptions and answered to workspace/configuration.
---@field on_attach? fun(client: vim.lsp.Client, bufnr: integer)
---@field capabilities? table
---@field forward_diagnostics? boolean Send other tools' diagnostics to Spark (spark/otherDiagnostics).
local defaults = {
  cmd = nil,
  python = nil,
  filetypes = { "python" },
  root_markers = { "pyproject.toml", "setup.py", "setup.cfg", "requirements.txt", ".git" },
  settings = { spark = {} },
  on_attach = nil,
  capabilities = nil,
  forward_diagnostics = true,
}

---@type spark.Config
M.config = vim.deepcopy(defaults)

local has_config_api = vim.lsp.config ~= nil and vim.lsp.enable ~= nil
--- How the server is registered: "vim.lsp.enable" (Neovim >= 0.11) or "vim.lsp.start".
M.mode = has_config_api and "vim.lsp.enable" or "vim.lsp.start"

local function is_executable(path)
  return path ~= nil and path ~= "" and vim.fn.executable(path) == 1
end

--- The `spark` executable beside a Python interpreter, if there is one.
local function beside(python)
  local dir = vim.fs.dirname(python)
  for _, candidate in ipairs({ dir .. "/spark", dir .. "/spark.exe", dir .. "/Scripts/spark.exe" }) do
    if is_executable(candidate) then
      return candidate
    end
  end
end

--- How to run Spark's CLI (without the subcommand) and where it was found; nil when not found.
---@return string[]|nil, string
function M.cli(config)
  config = config or M.config
  if config.cmd then
    local base = vim.deepcopy(config.cmd)
    if base[#base] == "serve" then
      table.remove(base)
    end
    return base, "setup({ cmd = ... })"
  end
  if config.python then
    local script = beside(config.python)
    if script then
      return { script }, "setup({ python = ... })"
    end
    return { config.python, "-m", "spark_lsp" }, "setup({ python = ... })"
  end
  local venv = vim.env.VIRTUAL_ENV
  if venv and venv ~= "" then
    local script = beside(venv .. "/bin/python")
    if script then
      return { script }, "$VIRTUAL_ENV"
    end
  end
  if is_executable("spark") then
    return { vim.fn.exepath("spark") }, "PATH"
  end
  return nil, "not found: install Spark (pip install spark-lsp) or pass setup({ cmd = ... })"
end

--- The server command: `spark serve` (or the `cmd` given to setup).
---@return string[]|nil
function M.command(config)
  config = config or M.config
  if config.cmd then
    return config.cmd
  end
  local base = M.cli(config)
  if not base then
    return nil
  end
  return vim.list_extend(vim.deepcopy(base), { "serve" })
end

local function client_config(cmd)
  return {
    cmd = cmd,
    filetypes = M.config.filetypes,
    root_markers = M.config.root_markers,
    settings = M.config.settings,
    init_options = M.config.settings,
    on_attach = M.config.on_attach,
    capabilities = M.config.capabilities,
  }
end

local function root_dir(bufnr)
  local name = vim.api.nvim_buf_get_name(bufnr)
  local found = vim.fs.find(M.config.root_markers, { upward = true, path = vim.fs.dirname(name) })[1]
  return found and vim.fs.dirname(found) or vim.fs.dirname(name)
end

--- Start (or reuse) the client for one buffer, without vim.lsp.enable.
local function start(bufnr, cmd)
  if vim.bo[bufnr].buftype ~= "" or not vim.tbl_contains(M.config.filetypes, vim.bo[bufnr].filetype) then
    return
  end
  local config = client_config(cmd)
  config.name = NAME
  config.root_dir = root_dir(bufnr)
  config.root_markers = nil
  config.filetypes = nil
  return vim.lsp.start(config, { bufnr = bufnr })
end

local group = vim.api.nvim_create_augroup("spark.lsp", { clear = true })

--- :SparkExplain, :SparkRestart, :SparkStatus (from plugin/spark.lua, and again from setup() for
--- plugin managers that put only lua/ on the runtimepath).
function M.create_commands()
  vim.api.nvim_create_user_command("SparkExplain", function()
    M.explain()
  end, { desc = "Spark: explain the finding under the cursor" })
  vim.api.nvim_create_user_command("SparkRestart", function()
    M.restart()
  end, { desc = "Spark: restart the language server" })
  vim.api.nvim_create_user_command("SparkStatus", function()
    M.status()
  end, { desc = "Spark: where spark is, the server, the knowledge base" })
end

---@param opts? spark.Config
function M.setup(opts)
  M.config = vim.tbl_deep_extend("force", vim.deepcopy(defaults), opts or {})
  M.create_commands()
  require("spark.forward").setup(M.config.forward_diagnostics ~= false)
  local cmd = M.command()
  if not cmd then
    vim.notify("spark: `spark` not found; install it (pip install spark-lsp) or pass "
      .. "require('spark').setup({ cmd = {...} }). See :checkhealth spark", vim.log.levels.WARN)
    return
  end
  if has_config_api then
    vim.lsp.config(NAME, client_config(cmd))
    vim.lsp.enable(NAME)
  else
    vim.api.nvim_clear_autocmds({ group = group })
    vim.api.nvim_create_autocmd("FileType", {
      group = group,
      pattern = M.config.filetypes,
      callback = function(args)
        start(args.buf, cmd)
      end,
    })
    for _, bufnr in ipairs(vim.api.nvim_list_bufs()) do
      if vim.api.nvim_buf_is_loaded(bufnr) then
        start(bufnr, cmd)
      end
    end
  end
end

local function get_clients(filter)
  return (vim.lsp.get_clients or vim.lsp.get_active_clients)(filter)
end

--- Spark's clients (all of them, or the one attached to `bufnr`).
---@return vim.lsp.Client[]
function M.clients(bufnr)
  return get_clients({ name = NAME, bufnr = bufnr })
end

-- `client:request` (0.11+) and `client.request` (older) differ in how `self` is passed.
local function request(client, method, params, handler, bufnr)
  if vim.fn.has("nvim-0.11") == 1 then
    return client:request(method, params, handler, bufnr)
  end
  return client.request(method, params, handler, bufnr)
end

--- The Spark diagnostic under the cursor, else the first one on the cursor's line.
---@return vim.Diagnostic|nil
function M.finding_at_cursor(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local row, col = unpack(vim.api.nvim_win_get_cursor(0))
  row = row - 1
  local on_line = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr, { lnum = row })) do
    if d.source == SOURCE then
      table.insert(on_line, d)
    end
  end
  for _, d in ipairs(on_line) do
    local end_col = d.end_lnum == row and d.end_col or math.huge
    if col >= d.col and col <= end_col then
      return d
    end
  end
  return on_line[1]
end

local function hover_text(result)
  if not result or not result.contents then
    return nil
  end
  local contents = result.contents
  if type(contents) == "string" then
    return contents
  end
  if contents.value then
    return contents.value
  end
  local parts = {}
  for _, c in ipairs(contents) do
    table.insert(parts, type(c) == "string" and c or c.value)
  end
  return table.concat(parts, "\n\n")
end

--- Where `diagnostic` starts, in the client's position encoding.
local function lsp_position(bufnr, diagnostic, encoding)
  local original = diagnostic.user_data and diagnostic.user_data.lsp
  if original and original.range then
    return original.range.start
  end
  local line = vim.api.nvim_buf_get_lines(bufnr, diagnostic.lnum, diagnostic.lnum + 1, false)[1] or ""
  local character = diagnostic.col
  if encoding ~= "utf-8" then
    if vim.fn.has("nvim-0.11") == 1 then
      character = vim.str_utfindex(line, encoding, diagnostic.col, false)
    else
      local utf32, utf16 = vim.str_utfindex(line, diagnostic.col)
      character = encoding == "utf-16" and utf16 or utf32
    end
  end
  return { line = diagnostic.lnum, character = character }
end

--- Ask the server for its explanation of `diagnostic` (the hover on the finding).
---@param callback fun(text: string|nil, err: string|nil)
function M.explanation(bufnr, diagnostic, callback)
  local client = M.clients(bufnr)[1]
  if not client then
    return callback(nil, "Spark is not attached to this buffer (see :SparkStatus)")
  end
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) },
    position = lsp_position(bufnr, diagnostic, client.offset_encoding or "utf-16"),
  }
  request(client, "textDocument/hover", params, function(err, result)
    if err then
      return callback(nil, err.message or tostring(err))
    end
    callback(hover_text(result), nil)
  end, bufnr)
end

--- :SparkExplain — the explanation of the finding under the cursor, in a floating window.
function M.explain()
  local bufnr = vim.api.nvim_get_current_buf()
  local diagnostic = M.finding_at_cursor(bufnr)
  if not diagnostic then
    vim.notify("spark: no Spark finding on this line", vim.log.levels.INFO)
    return
  end
  M.explanation(bufnr, diagnostic, function(text, err)
    if err then
      vim.notify("spark: " .. err, vim.log.levels.WARN)
      return
    end
    text = text or (diagnostic.code or "") .. " " .. diagnostic.message
    vim.lsp.util.open_floating_preview(vim.split(text, "\n", { plain = true }), "markdown",
      { border = "rounded", focus_id = "spark-explain", max_width = 100 })
  end)
end

--- :SparkRestart — stop Spark's clients and start them again on the buffers they served.
function M.restart()
  local buffers = {}
  for _, client in ipairs(M.clients()) do
    for bufnr in pairs(client.attached_buffers or {}) do
      buffers[bufnr] = true
    end
    client:stop()
  end
  vim.wait(5000, function()
    return #M.clients() == 0
  end, 50)
  local cmd = M.command()
  if not cmd then
    vim.notify("spark: `spark` not found (see :checkhealth spark)", vim.log.levels.ERROR)
    return
  end
  for bufnr in pairs(buffers) do
    if vim.api.nvim_buf_is_loaded(bufnr) then
      start(bufnr, cmd)
    end
  end
end

--- Run Spark's CLI synchronously: `spark ARGS...`; returns (stdout, error).
function M.run_cli(args, timeout_ms)
  local base = M.cli()
  if not base then
    return nil, "spark not found"
  end
  local ok, result = pcall(function()
    return vim.system(vim.list_extend(vim.deepcopy(base), args), { text = true }):wait(timeout_ms or 20000)
  end)
  if not ok then
    return nil, tostring(result)
  end
  if result.code ~= 0 then
    return nil, vim.trim(result.stderr or "") ~= "" and vim.trim(result.stderr) or ("exit code " .. result.code)
  end
  return result.stdout, nil
end

--- `spark status --format json`, decoded; (nil, error) when it fails.
function M.kb_status()
  local out, err = M.run_cli({ "status", "--format", "json" })
  if not out then
    return nil, err
  end
  local ok, decoded = pcall(vim.json.decode, out)
  if not ok then
    return nil, "spark status printed something that is not JSON"
  end
  return decoded, nil
end

--- Lines for :SparkStatus: where Spark is, the clients, what the knowledge base holds.
---@return string[]
function M.status_lines()
  local lines = {}
  local base, origin = M.cli()
  table.insert(lines, base and ("spark: " .. table.concat(base, " ") .. " (from " .. origin .. ")")
    or ("spark: " .. origin))
  local clients = M.clients()
  if #clients == 0 then
    table.insert(lines, "server: not running")
  end
  for _, client in ipairs(clients) do
    local bufs = vim.tbl_keys(client.attached_buffers or {})
    table.insert(lines, string.format("server: client %d (%s), root %s, %d buffer(s)", client.id, M.mode,
      client.root_dir or client.config.root_dir or "none (single file)", #bufs))
  end
  local status, err = M.kb_status()
  if not status then
    table.insert(lines, "knowledge base: " .. err)
    return lines
  end
  table.insert(lines, string.format("knowledge base: %s (%s)", status.path,
    status.exists and ("schema " .. tostring(status.schema_version)) or "not created yet"))
  local outcomes = {}
  for outcome, count in pairs(status.traces or {}) do
    table.insert(outcomes, outcome .. " " .. count)
  end
  table.sort(outcomes)
  table.insert(lines, "traces: " .. (#outcomes > 0 and table.concat(outcomes, ", ") or "none merged yet")
    .. string.format("; %d pending in the journal", status.journal_pending_lines or 0))
  return lines
end

--- :SparkStatus
function M.status()
  vim.api.nvim_echo({ { table.concat(M.status_lines(), "\n") } }, true, {})
end

return M
