--- :checkhealth spark
local M = {}

local health = vim.health or require("health")
local start = health.start or health.report_start
local ok = health.ok or health.report_ok
local warn = health.warn or health.report_warn
local error = health.error or health.report_error
local info = health.info or health.report_info

function M.check()
  local spark = require("spark")
  start("spark")

  local version = tostring(vim.version())
  if vim.fn.has("nvim-0.10") == 0 then
    warn("Neovim " .. version .. " is too old: Spark's plugin needs 0.10 or newer (vim.system)")
  else
    ok("Neovim " .. version .. ": the server is registered with " .. spark.mode)
  end

  local base, origin = spark.cli()
  if not base then
    error("spark " .. origin, {
      "pip install spark-lsp (in the environment you work in)",
      "or require('spark').setup({ cmd = { '/path/to/spark', 'serve' } })",
      "or require('spark').setup({ python = '/path/to/python' })",
    })
    return
  end
  local spark_version, err = spark.run_cli({ "--version" })
  if spark_version then
    ok(string.format("found %s (%s) via %s", table.concat(base, " "), vim.trim(spark_version), origin))
  else
    error(string.format("%s does not run: %s", table.concat(base, " "), err))
    return
  end

  local status, status_err = spark.kb_status()
  if not status then
    error("spark status failed: " .. status_err, { "spark kb rebuild sets a damaged knowledge base aside" })
  elseif not status.exists then
    warn("knowledge base not created yet: " .. status.path, {
      "Findings, hover and quick fixes work without it.",
      "It is created when the first traces are merged: spark traces merge",
    })
  elseif not status.readable then
    error("knowledge base is not readable: " .. status.path, { "spark kb rebuild" })
  elseif status.schema_version ~= status.latest_schema_version then
    warn(string.format("knowledge base schema %s, this Spark expects %s: %s", tostring(status.schema_version),
      tostring(status.latest_schema_version), status.path), { "spark traces merge migrates it" })
  else
    ok(string.format("knowledge base ready: %s (schema %s)", status.path, tostring(status.schema_version)))
  end
  for _, note in ipairs(status and status.notes or {}) do
    info(note)
  end

  local clients = spark.clients()
  if #clients == 0 then
    info("no Spark client running (open a Python file after require('spark').setup())")
  else
    for _, client in ipairs(clients) do
      ok(string.format("client %d attached to %d buffer(s)", client.id, #vim.tbl_keys(client.attached_buffers or {})))
    end
  end
end

return M
