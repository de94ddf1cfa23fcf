"""The editor's side of "Spark reads diagnostics too": the `spark.explainError` command (a
traceback or warning text, e.g. the terminal's selection, and optionally the open document that
raised it), and `explain_diagnostic` for another server's diagnostic on an open document.

The explanation is shown like "Ask Spark about this" shows an answer: a markdown document opened
with `window/showDocument`, else a `window/showMessage`. When the failing line is in the open
document and a card's rule fires there, the result carries the fix as plain `TextEdit` JSON in
the client's position units.

Other servers' diagnostics (forwarded by the editor: `other_diagnostics.py`) are explained by
`DiagnosticExplainer`, in the agent's worker thread (never on the event loop): it skips Spark's
own diagnostics (`source == "spark"`), answers None when Spark has nothing specific, and caches
answers per message, source, line and document text, so a server that republishes the same
diagnostics costs a dictionary lookup. The core is `Agent.explain_diagnostic(message, source,
line, text)` / `explain_diagnostic_fully` (no LSP types), also usable from the CLI or MCP.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from lsprotocol import types

from spark_lsp.agent import Agent, Recommendation
from spark_lsp.agent.explain_error import ErrorExplanation, explanation_markdown
from spark_lsp.analysis.findings import Finding
from spark_lsp.server.ask import AskFeature, answer_file
from spark_lsp.server.convert import SOURCE, LineIndex, range_to_json

log = logging.getLogger(__name__)

EXPLAIN_ERROR = "spark.explainError"
DIAGNOSTIC_CACHE = 512


def explain_argument(args: tuple[Any, ...]) -> tuple[str, str | None]:
    """(traceback, uri or None) from the command's argument; ValueError when malformed."""
    raw = args[0] if len(args) == 1 else None
    if not isinstance(raw, dict) or not isinstance(raw.get("traceback"), str):
        usage = f'{EXPLAIN_ERROR} takes {{"traceback": "...", "uri": "file:///..."}} (uri optional)'
        raise ValueError(usage)  # noqa: TRY004 - any malformed argument is one InvalidParams
    uri = raw.get("uri")
    if uri is not None and not isinstance(uri, str):
        raise ValueError(f"{EXPLAIN_ERROR}: uri must be a string")
    return raw["traceback"], uri


def write_explanation(key: str, explanation: ErrorExplanation, folder: Path | None = None) -> Path:
    """The explanation as markdown, in the same place "Ask Spark" answers go."""
    path = answer_file(key, folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(f"<!-- Spark's explanation of an error for {key} -->\n" +
                   explanation_markdown(explanation), encoding="utf-8")
    tmp.replace(path)
    return path


def fix_edits(finding: Finding | None, text: str, encoding: str) -> dict[str, Any] | None:
    """A finding's automatic fix as TextEdits in the client's units; None without one."""
    if finding is None or finding.fix is None or not finding.fix.automatic:
        return None
    index = LineIndex(text, encoding)
    return {"code": finding.code, "applicability": finding.fix.applicability,
            "message": finding.fix.message,
            "edits": [{"range": range_to_json(index.range(e.span.start, e.span.end)),
                       "newText": e.content} for e in finding.fix.edits]}


class DiagnosticExplainer:
    """Answers for other servers' diagnostics, cached by (message, source, line text, document)."""

    def __init__(self) -> None:
        self._cache: OrderedDict[str, ErrorExplanation | None] = OrderedDict()
        self._lock = threading.Lock()

    def explain(self, agent: Agent, diagnostic: types.Diagnostic, text: str
                ) -> Recommendation | None:
        """Spark's recommendation for one diagnostic of an open document, or None (Spark's own
        diagnostics, nothing specific to say). Blocking: run it in the agent's worker."""
        explanation = self.explanation(agent, diagnostic, text)
        return explanation.recommendation if explanation is not None else None

    def explanation(self, agent: Agent, diagnostic: types.Diagnostic, text: str
                    ) -> ErrorExplanation | None:
        """`explain` with the whole explanation (its `finding`: the card's fix on that line)."""
        if (diagnostic.source or "").strip().casefold() == SOURCE:
            return None
        line = diagnostic.range.start.line
        lines = text.splitlines()
        line_text = lines[line] if 0 <= line < len(lines) else ""
        raw = "\x1f".join([diagnostic.message, diagnostic.source or "", line_text, str(line),
                           hashlib.blake2b(text.encode("utf-8", "surrogatepass"),
                                           digest_size=8).hexdigest()])
        with self._lock:
            if raw in self._cache:
                self._cache.move_to_end(raw)
                return self._cache[raw]
        try:
            explanation = agent.explain_diagnostic_fully(diagnostic.message,
                                                         diagnostic.source or "", line, text)
        except ValueError as exc:  # too large, or nothing to parse
            log.info("no explanation for a diagnostic: %s", exc)
            explanation = None
        with self._lock:
            self._cache[raw] = explanation
            while len(self._cache) > DIAGNOSTIC_CACHE:
                self._cache.popitem(last=False)
        return explanation


async def explain_diagnostic(feature: AskFeature, explainer: DiagnosticExplainer, agent: Agent,
                             diagnostic: types.Diagnostic, text: str) -> Recommendation | None:
    """`DiagnosticExplainer.explain` in the agent's worker thread (never on the event loop)."""
    return await feature.call(lambda: explainer.explain(agent, diagnostic, text))
