"""`spark mcp`: Spark's capabilities for coding agents, over MCP (stdio).

Tools mirror the editor and CLI through the same agent functions: review_code, get_recommendation,
search_docs, record_outcome, share_insight, explain_error. Bad input (wrong types, code or a
traceback over the size limit, unknown ids, text that is not a Python traceback) becomes a tool
error with a readable message; the server keeps running.
"""

from __future__ import annotations

import logging
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from spark_lsp import __version__

log = logging.getLogger(__name__)

MAX_RESULTS = 20
INSTRUCTIONS = (
    "Spark knows data-science practices (pandas, NumPy, Dask, scikit-learn, matplotlib, PyTorch, "
    "Keras) and the documentation of the library versions installed here. Call review_code on "
    "code you wrote, get_recommendation for a task, explain_error on a traceback or warning, "
    "and record_outcome with the recommendation id once you know whether the advice helped.")


def _agent() -> Any:
    from pathlib import Path

    from spark_lsp.agent import default_agent

    return default_agent(Path.cwd())


def create_mcp_server() -> MCPServer:
    server = MCPServer("spark", instructions=INSTRUCTIONS, version=__version__)

    @server.tool()
    def review_code(code: str, path: str | None = None) -> dict[str, Any]:
        """Check Python code for data-science pitfalls; each finding comes with a
        recommendation (advice, why, before/after in your names, sources)."""
        from spark_lsp.agent import AgentInputError

        try:
            results = _agent().review(code, path or "")
        except AgentInputError as exc:
            raise ToolError(str(exc)) from None
        return {"findings": results, "count": len(results)}

    @server.tool()
    def get_recommendation(task: str, code: str | None = None) -> dict[str, Any]:
        """The best practice for a task ("how do I … in pandas"), tailored to `code` if given."""
        from spark_lsp.agent import AgentInputError

        try:
            return _agent().recommend_task(task, code).to_dict()  # type: ignore[no-any-return]
        except AgentInputError as exc:
            raise ToolError(str(exc)) from None

    @server.tool()
    def search_docs(query: str, library: str | None = None) -> dict[str, Any]:
        """Search the documentation of the installed library versions (hybrid search)."""
        from spark_lsp.kb.db import KBError
        from spark_lsp.kb.search import search

        if not query.strip():
            raise ToolError("query must not be empty")
        if len(query) > 4000:
            raise ToolError("query is longer than 4,000 characters")
        try:
            hits = search(query, library=library, k=10, home=_agent().home,
                          versions=_agent().versions)
        except KBError as exc:
            raise ToolError(str(exc)) from None
        except Exception as exc:  # the embedding model missing: words and names still work
            log.info("hybrid search failed (%s); using bm25", exc)
            try:
                hits = search(query, library=library, k=10, mode="bm25", home=_agent().home)
            except KBError as exc2:
                raise ToolError(str(exc2)) from None
        return {"results": [h.to_json() for h in hits[:MAX_RESULTS]]}

    @server.tool()
    def record_outcome(recommendation_id: str, outcome: str,
                       corrected_code: str | None = None) -> dict[str, Any]:
        """Say what happened to a recommendation: accepted, rejected or corrected (with the
        code you ended up with)."""
        from spark_lsp.agent.feedback import record_outcome as record

        agent = _agent()
        try:
            trace = record(agent.home, recommendation_id, outcome, corrected_code,
                           before=agent.window_of(recommendation_id) or "")
        except ValueError as exc:
            raise ToolError(str(exc)) from None
        return {"recorded": True, "trace_id": trace.id, "outcome": trace.outcome}

    @server.tool()
    def share_insight(title: str, advice: str, example: str,
                      libraries: list[str]) -> dict[str, Any]:
        """Propose a practice you learned; it is queued for curation, not shared directly."""
        from spark_lsp.agent.feedback import share_insight as share

        try:
            return share(_agent().home, title, advice, example, libraries)
        except ValueError as exc:
            raise ToolError(str(exc)) from None

    @server.tool()
    def explain_error(traceback: str, code: str | None = None) -> dict[str, Any]:
        """Explain a Python traceback or warning output: the exception, the failing line in
        your code, the likely cause, the fix (with `code`, the fix on the failing line), the
        library-version context and the sources (cards, docs, past traces)."""
        from spark_lsp.agent import AgentInputError

        try:
            explanation = _agent().explain_error(traceback, code)
        except AgentInputError as exc:
            raise ToolError(str(exc)) from None
        return explanation.to_dict()  # type: ignore[no-any-return]

    return server


def run_stdio() -> None:
    create_mcp_server().run("stdio")
