"""Curation of traces into cards, and what the team's experience changes in what is shown.

    traces --cluster--> edit shapes --generalize--> pattern + rewrite --verify/filter-->
    candidate cards --reinsert--> knowledge base --review--> the team's cards
                                                  trust / suppress --> the editor

- `organic`: which edits of a document rewrite a library call (the editor's organic traces).
- `cluster`: before/after pairs (organic and corrected traces), grouped by edit shape and
  joined by code similarity (`vectors`: all-MiniLM-L6-v2 embeddings, hashed fallback).
- `generalize`: anti-unification into an ast-grep pattern and rewrite; verification.
- `filters`: support, Wilson acceptance bound, duplicates, guardrails (the security and leakage
  cards run over the candidate's after code).
- `reinsert`: one transaction for the cards, their evidence and the run.
- `curate`: `spark learn` (`learn`, and the pure `plan_learning`); `wording`: title and why
  of new cards by the configured model (`[tool.spark.llm]`), the template otherwise.
- `review`: `spark cards review` (promote, edit, drop, restore).
- `trust`, `suppress`, `team`: Beta trust per card, rejected-suggestion memory, demotion,
  expiry, outdated versions; `team.load_team_state` for the language server.
"""

from spark_lsp.learning.config import LearnConfig
from spark_lsp.learning.curate import LearnReport, learn, plan_learning

__all__ = ["LearnConfig", "LearnReport", "learn", "plan_learning"]
