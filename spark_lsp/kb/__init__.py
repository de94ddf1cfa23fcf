"""The knowledge base: one DuckDB file (cards, docs, traces) plus an append-only trace journal."""
