-- Spark's user commands. The server itself starts only after require("spark").setup().
if vim.g.loaded_spark then
  return
end
vim.g.loaded_spark = true
require("spark").create_commands()
