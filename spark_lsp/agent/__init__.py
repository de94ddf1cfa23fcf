"""The retrieval agent: intent, retrieval, synthesis (templates or an LLM), explanation.

`Agent.recommend_at(text, line)` / `Agent.recommend_task(question, code)` return a
`Recommendation`; `render_markdown` / `render_text` show it. No LSP types here.
"""

from spark_lsp.agent.recommendation import Recommendation
from spark_lsp.agent.service import Agent, AgentInputError, default_agent
from spark_lsp.agent.synthesize import render_markdown, render_text

__all__ = ["Agent", "AgentInputError", "Recommendation", "default_agent", "render_markdown",
           "render_text"]
