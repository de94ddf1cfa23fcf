"""The agent in the editor: "Ask Spark about this" on any selection, and the recommendation
added to a finding's hover.

The recommendation is rendered as markdown into a temp file (one per source document,
overwritten on each ask: `<tmp>/spark-ask/<hash of the document uri>.md`) and opened with
`window/showDocument`; a client without it gets a `window/showMessage` with the title and
advice. The agent runs in its own worker thread, never on the event loop, and hover waits for it
at most HOVER_WAIT seconds before showing the plain explanation.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from lsprotocol import types
from pygls.uris import from_fs_path

from spark_lsp.agent import Agent, Recommendation, render_markdown
from spark_lsp.analysis.findings import Finding

log = logging.getLogger(__name__)

ASK_SPARK = "spark.askSpark"
ASK_KIND = "refactor.spark.ask"
HOVER_WAIT = 1.5  # seconds
T = TypeVar("T")


def ask_action(uri: str, selection: types.Range) -> types.CodeAction:
    return types.CodeAction(
        title="Ask Spark about this",
        kind=ASK_KIND,
        command=types.Command(title="Ask Spark about this", command=ASK_SPARK,
                              arguments=[{"uri": uri, "range": {
                                  "start": {"line": selection.start.line,
                                            "character": selection.start.character},
                                  "end": {"line": selection.end.line,
                                          "character": selection.end.character}}}]),
    )


def wants_ask(only: list[str] | None) -> bool:
    return not only or any(ASK_KIND.startswith(k) for k in only)


def ask_argument(args: tuple[Any, ...]) -> tuple[str, int, int]:
    """(uri, first line, last line) from the command's argument; ValueError when malformed."""
    raw = args[0] if len(args) == 1 else None
    try:
        uri = raw["uri"]  # type: ignore[index]
        start = raw["range"]["start"]["line"]  # type: ignore[index]
        end = raw["range"]["end"]["line"]  # type: ignore[index]
    except (TypeError, KeyError):
        raise ValueError(f'{ASK_SPARK} takes {{"uri": ..., "range": {{"start": ..., '
                         f'"end": ...}}}}') from None
    if not isinstance(uri, str) or not all(isinstance(x, int) and not isinstance(x, bool)
                                           and x >= 0 for x in (start, end)):
        raise ValueError(f"{ASK_SPARK}: bad uri or range")
    return uri, start, max(start, end)


def answer_file(uri: str, folder: Path | None = None) -> Path:
    folder = folder or Path(tempfile.gettempdir()) / "spark-ask"
    name = hashlib.blake2b(uri.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()
    return folder / f"{name}.md"


def write_answer(uri: str, rec: Recommendation, folder: Path | None = None) -> Path:
    path = answer_file(uri, folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(f"<!-- Spark's answer for {uri} -->\n" + render_markdown(rec),
                   encoding="utf-8")
    tmp.replace(path)
    return path


def hover_extra(rec: Recommendation, markdown: bool = True) -> str:
    """What the recommendation adds to a finding's hover: caveats, confidence, docs, traces."""
    bold = (lambda s: f"**{s}**") if markdown else (lambda s: s)
    parts = []
    if rec.caveats:
        parts.append(bold("Caveats:") + " " + " ".join(rec.caveats))
    docs = rec.sources.get("docs", [])
    if docs:
        cited = []
        for d in docs[:4]:
            name = f"`{d['object']}`" if markdown else d["object"]
            text = f"{d['library']} {d['version']} {name}"
            cited.append(f"[{text}]({d['url']})" if markdown and d.get("url") else text)
        parts.append(bold("Docs:") + " " + "; ".join(cited))
    traces = rec.sources.get("traces", [])
    if traces:
        parts.append(bold("Team history:") + " " + ", ".join(
            f"{t['outcome']} ({t['similarity']:.0f}% similar)" for t in traces[:3]))
    parts.append(bold("Confidence:") + f" {rec.confidence * 100:.0f}%")
    return "\n\n".join(parts)


class AskFeature:
    """The server's agent and its worker thread (created on first use)."""

    def __init__(self) -> None:
        self._agent: Agent | None = None
        self._key: Any = None
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="spark-agent")

    def agent(self, settings: Any, cards: list[Any]) -> Agent:
        key = (id(settings), len(cards))
        if self._agent is None or key != self._key:
            # bm25 keeps torch out of the editor's process; the CLI and MCP search hybrid
            self._agent = Agent(settings, cards=cards, docs_mode="bm25")
            self._key = key
        return self._agent

    async def recommend(self, agent: Agent, text: str, first: int, last: int, path: str,
                        finding: Finding | None = None) -> Recommendation:
        loop = asyncio.get_running_loop()
        findings = [finding] if finding is not None else None
        return await loop.run_in_executor(
            self.executor, lambda: agent.recommend_at(text, first, last, path=path,
                                                      finding=finding, findings=findings))

    async def call(self, fn: Callable[[], T]) -> T:
        """Run other agent work (an error explanation) in the same worker thread."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn)

    def shutdown(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


def document_uri(path: Path) -> str:
    return from_fs_path(str(path)) or path.as_uri()
