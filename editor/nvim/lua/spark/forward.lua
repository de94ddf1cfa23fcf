--- Forwards other tools' diagnostics to Spark: whatever `vim.diagnostic` holds for a buffer Spark
--- serves, from namespaces that are not Spark's (another language server, nvim-lint, …), is sent
--- as the notification `spark/otherDiagnostics` (see docs/editors.md), so that Spark answers on
--- those ranges with a hover section and "Spark: how to fix this".
---
--- A change is sent at once when nothing was sent in the last DELAY_MS; otherwise changes are
--- gathered until DELAY_MS after the last send. Each changed buffer's set is then sent once, and
--- only when it differs from the set sent last. Turn it off with
--- require("spark").setup({ forward_diagnostics = false }).
local M = {}

local METHOD = "spark/otherDiagnostics"
local DELAY_MS = 300
local MAX_PER_BUFFER = 200
local MAX_MESSAGE = 4000
local SOURCE = "spark"

local group = vim.api.nvim_create_augroup("spark.forward", { clear = true })
local pending = {} ---@type table<integer, boolean>
local sent = {} ---@type table<integer, string>
local scheduled = false
local last_flush = 0 -- vim.uv.now() of the last send
M.sent_count = 0 -- notifications sent (for :SparkStatus and tests)

local function spark()
  return require("spark")
end

--- Spark's own namespaces: its clients' push and pull diagnostic namespaces.
local function spark_namespaces(clients)
  local own = {}
  for _, client in ipairs(clients) do
    own[vim.lsp.diagnostic.get_namespace(client.id)] = true
    local ok, pull = pcall(vim.lsp.diagnostic.get_namespace, client.id, true)
    if ok then
      own[pull] = true
    end
  end
  return own
end

--- A byte column of a buffer line in the client's position encoding.
local function character(line, col, encoding)
  col = math.max(0, math.min(col or 0, #line))
  if encoding == "utf-8" then
    return col
  end
  if vim.fn.has("nvim-0.11") == 1 then
    return vim.str_utfindex(line, encoding, col, false)
  end
  local utf32, utf16 = vim.str_utfindex(line, col)
  return encoding == "utf-16" and utf16 or utf32
end

local function to_forwarded(bufnr, d, encoding)
  local function line(lnum)
    return vim.api.nvim_buf_get_lines(bufnr, lnum, lnum + 1, false)[1] or ""
  end
  local end_lnum = d.end_lnum or d.lnum
  local end_col = d.end_col or d.col
  local code = d.code
  if type(code) ~= "string" and type(code) ~= "number" then
    code = nil
  end
  return {
    range = {
      start = { line = d.lnum, character = character(line(d.lnum), d.col, encoding) },
      ["end"] = { line = end_lnum, character = character(line(end_lnum), end_col, encoding) },
    },
    message = tostring(d.message or ""):sub(1, MAX_MESSAGE),
    source = d.source or "",
    code = code,
    severity = d.severity,
  }
end

--- The buffer's diagnostics that are not Spark's, as the server expects them.
function M.collect(bufnr, client, own)
  local out = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    if not own[d.namespace] and d.source ~= SOURCE and d.message and d.message ~= "" then
      table.insert(out, to_forwarded(bufnr, d, client.offset_encoding or "utf-16"))
      if #out >= MAX_PER_BUFFER then
        break
      end
    end
  end
  return out
end

local function notify(client, params)
  if vim.fn.has("nvim-0.11") == 1 then
    return client:notify(METHOD, params)
  end
  return client.notify(METHOD, params)
end

local function flush()
  scheduled = false
  last_flush = vim.uv.now()
  local buffers = pending
  pending = {}
  for bufnr in pairs(buffers) do
    if vim.api.nvim_buf_is_loaded(bufnr) then
      local clients = spark().clients(bufnr)
      local client = clients[1]
      if client and not client.initialized then
        M.changed(bufnr) -- not ready yet: try again shortly
      elseif client then
        local diagnostics = M.collect(bufnr, client, spark_namespaces(spark().clients()))
        local json = vim.json.encode(diagnostics)
        if sent[bufnr] ~= json and (sent[bufnr] ~= nil or #diagnostics > 0) then
          sent[bufnr] = json
          M.sent_count = M.sent_count + 1
          notify(client, {
            uri = vim.uri_from_bufnr(bufnr),
            version = vim.lsp.util.buf_versions and vim.lsp.util.buf_versions[bufnr] or nil,
            diagnostics = diagnostics,
          })
        end
      end
    end
  end
end

--- The diagnostics last sent for a buffer (decoded), or nil.
function M.last_sent(bufnr)
  return sent[bufnr] and vim.json.decode(sent[bufnr]) or nil
end

--- Note a buffer whose diagnostics changed; send after DELAY_MS.
function M.changed(bufnr)
  pending[bufnr] = true
  if not scheduled then
    scheduled = true
    vim.defer_fn(flush, math.max(0, DELAY_MS - (vim.uv.now() - last_flush)))
  end
end

---@param enabled boolean
function M.setup(enabled)
  vim.api.nvim_clear_autocmds({ group = group })
  pending, sent = {}, {}
  if not enabled then
    return
  end
  vim.api.nvim_create_autocmd("DiagnosticChanged", {
    group = group,
    callback = function(args)
      M.changed(args.buf)
    end,
  })
  vim.api.nvim_create_autocmd("LspAttach", {
    group = group,
    callback = function(args)
      local client = vim.lsp.get_client_by_id(args.data.client_id)
      if client and client.name == "spark" then
        sent[args.buf] = nil -- a new server knows nothing yet
        M.changed(args.buf)
      end
    end,
  })
  vim.api.nvim_create_autocmd({ "BufDelete", "BufWipeout" }, {
    group = group,
    callback = function(args)
      sent[args.buf] = nil
      pending[args.buf] = nil
    end,
  })
end

return M
