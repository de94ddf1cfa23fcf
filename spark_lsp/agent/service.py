"""The agent: intent -> retrieval -> synthesis (templates, then the LLM when configured).

One `Agent` per process serves the CLI, the language server and MCP through the same methods.
Answers are cached by a hash of the code window and its context (finding, question, versions,
model), so a repeated hover or question costs a dictionary lookup.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spark_lsp.agent.intent import Intent, infer_intent
from spark_lsp.agent.llm import LLMConfig, improve
from spark_lsp.agent.recommendation import Recommendation
from spark_lsp.agent.redact import redact
from spark_lsp.agent.retrieve import (
    Retrieved,
    load_traces,
    rank_cards,
    retrieve_docs,
    similar_traces,
)
from spark_lsp.agent.synthesize import synthesize
from spark_lsp.analysis import Analyzer, Card, Finding, installed_versions
from spark_lsp.analysis.context import FileContext
from spark_lsp.config import Settings, spark_home

if TYPE_CHECKING:
    from spark_lsp.agent.explain_error import ErrorExplanation

log = logging.getLogger(__name__)

MAX_CODE_CHARS = 200_000  # bigger input is refused with a clear error (MCP, CLI)
MAX_QUESTION_CHARS = 4_000
MAX_REVIEW_FINDINGS = 20
CACHE_SIZE = 256


class AgentInputError(ValueError):
    """Input the agent cannot work with; the message is meant for the user."""


def check_code(code: str, what: str = "code") -> None:
    if not isinstance(code, str):
        raise AgentInputError(f"{what} must be a string, got {type(code).__name__}")
    if len(code) > MAX_CODE_CHARS:
        raise AgentInputError(f"{what} is {len(code):,} characters; the limit is "
                              f"{MAX_CODE_CHARS:,}. Send the function or cell you are asking about.")


class Agent:
    def __init__(self, settings: Settings | None = None, *, home: Path | None = None,
                 cards: list[Card] | None = None, docs_mode: str = "hybrid",
                 llm: LLMConfig | None = None, use_settings_llm: bool = True) -> None:
        from spark_lsp.check import make_analyzer

        self.settings = settings or Settings()
        if cards is None:
            self.analyzer, by_code, _ = make_analyzer(self.settings)
        else:
            from spark_lsp.analysis import AnalysisOptions

            by_code = {c.code: c for c in cards}
            self.analyzer = Analyzer(cards, AnalysisOptions(versions=installed_versions()))
        self.cards: dict[str, Card] = by_code
        self.versions = {**installed_versions(), **self.settings.versions}
        self._home = home
        self.docs_mode = docs_mode
        self.llm = llm if llm is not None else (
            LLMConfig.from_settings(self.settings.llm) if use_settings_llm else None)
        self._cache: OrderedDict[str, Recommendation] = OrderedDict()
        self._lock = threading.Lock()
        self._windows: OrderedDict[str, str] = OrderedDict()  # recommendation id -> code
        self.timings: dict[str, float] = {}

    @property
    def home(self) -> Path:
        return self._home if self._home is not None else spark_home()

    # -- entry points ------------------------------------------------------------------------
    def recommend_at(self, text: str, line: int, end_line: int | None = None, *,
                     path: str = "", finding: Finding | None = None,
                     findings: list[Finding] | None = None, question: str = "") -> Recommendation:
        """The recommendation for lines [line, end_line] (0-based) of a file's text."""
        check_code(text)
        ctx = FileContext.from_text(text)
        if findings is None:
            findings = self._analyze(text, path)
        last = line if end_line is None else end_line
        if finding is None:
            finding = _finding_at(findings, line, last)
        intent = infer_intent(text, line, end_line, versions=self.versions, finding=finding,
                              question=question[:MAX_QUESTION_CHARS], path=path, ctx=ctx)
        # other findings of the window would only blur the sources: keep the lines asked about
        near = [f for f in findings if f.span.start.line <= last and f.span.end.line >= line]
        return self._recommend(intent, near, ctx)

    def recommend_task(self, task: str, code: str | None = None) -> Recommendation:
        """Advice for a question ("how do I … in pandas"), with the user's code when given."""
        if not isinstance(task, str) or not task.strip():
            raise AgentInputError("the task must be a non-empty string")
        if len(task) > MAX_QUESTION_CHARS:
            raise AgentInputError(f"the task is {len(task):,} characters; the limit is "
                                  f"{MAX_QUESTION_CHARS:,}")
        code = code or ""
        check_code(code)
        ctx = FileContext.from_text(code)
        findings = self._analyze(code, "") if code.strip() else []
        intent = infer_intent(code, None, versions=self.versions, question=task, ctx=ctx,
                              finding=findings[0] if findings else None)
        return self._recommend(intent, findings, ctx)

    def review(self, code: str, path: str = "") -> list[dict[str, Any]]:
        """Every finding in `code`, each with its recommendation."""
        check_code(code)
        findings = self._analyze(code, path)
        out = []
        for f in findings[:MAX_REVIEW_FINDINGS]:
            rec = self.recommend_at(code, f.span.start.line, f.span.end.line, path=path,
                                    finding=f, findings=findings)
            out.append({"finding": f.to_dict(), "recommendation": rec.to_dict()})
        return out

    def explain_error(self, traceback: str | bytes, code: str | None = None, path: str = "",
                      *, cut: bool = False) -> ErrorExplanation:
        """Explain a traceback or warning text, with the code that raised it when given.
        `cut`: the text is the tail of a longer input (its first line may be partial)."""
        from spark_lsp.agent.explain_error import MAX_TRACEBACK_CHARS, explain_text
        from spark_lsp.analysis.tracebacks import NotATraceback

        if not isinstance(traceback, (str, bytes)):
            raise AgentInputError(f"the traceback must be a string, got {type(traceback).__name__}")
        if len(traceback) > MAX_TRACEBACK_CHARS:
            raise AgentInputError(f"the traceback is {len(traceback):,} characters; the limit is "
                                  f"{MAX_TRACEBACK_CHARS:,}. Send the end of the log.")
        code = code or ""
        check_code(code)
        try:
            explanation = explain_text(self, traceback, code, path, cut=cut)
        except NotATraceback as exc:
            raise AgentInputError(str(exc)) from None
        window = explanation.location.source or code[-2000:]
        with self._lock:
            for rec in explanation.recommendations:
                self._windows[rec.id] = window
            while len(self._windows) > CACHE_SIZE:
                self._windows.popitem(last=False)
        return explanation

    def explain_diagnostic(self, message: str, source: str, line: int,
                           text: str) -> Recommendation | None:
        """Spark's recommendation for another tool's diagnostic on 0-based `line` of `text`,
        or None when it has nothing specific (see `explain_error.explain_diagnostic`)."""
        from spark_lsp.agent.explain_error import explain_diagnostic

        check_code(text)
        return explain_diagnostic(self, message, source, line, text)

    def explain_diagnostic_fully(self, message: str, source: str, line: int,
                                 text: str) -> ErrorExplanation | None:
        """`explain_diagnostic` with the whole `ErrorExplanation` (its `finding` carries the
        card's fix on that line), for an editor that offers the fix on the other tool's range."""
        from spark_lsp.agent.explain_error import explain_diagnostic_fully

        check_code(text)
        return explain_diagnostic_fully(self, message, source, line, text)

    def window_of(self, recommendation_id: str) -> str | None:
        with self._lock:
            return self._windows.get(recommendation_id)

    # -- the pipeline ------------------------------------------------------------------------
    def _analyze(self, text: str, path: str) -> list[Finding]:
        try:
            return self.analyzer.analyze(text, path)
        except Exception as exc:  # one bad card must not cost the recommendation
            log.warning("analysis failed: %s", exc)
            return []

    def _key(self, intent: Intent) -> str:
        f = intent.finding
        context = {
            "window": intent.window, "line": (intent.position_line or 0) - intent.first_line,
            "question": intent.question, "finding": [f.code, f.matched] if f else None,
            "versions": {k: self.versions.get(k) for k in sorted(intent.libraries)},
            "llm": self.llm.cache_key() if self.llm else None, "mode": self.docs_mode,
        }
        raw = json.dumps(context, sort_keys=True, default=str)
        return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()

    def _recommend(self, intent: Intent, findings: list[Finding], ctx: FileContext
                   ) -> Recommendation:
        key = self._key(intent)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        started = time.perf_counter()
        retrieved = self.retrieve(intent, findings)
        self.timings["retrieve"] = time.perf_counter() - started
        rec = synthesize(intent, retrieved, self.versions, ctx.lines, ctx.facts.imports, key)
        if self.llm is not None:
            rec = improve(rec, self.llm, _material(retrieved), intent.window, intent.question)
        self.timings["total"] = time.perf_counter() - started
        with self._lock:
            self._cache[key] = rec
            self._windows[rec.id] = intent.window
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
            while len(self._windows) > CACHE_SIZE:
                self._windows.popitem(last=False)
        return rec

    def retrieve(self, intent: Intent, findings: list[Finding]) -> Retrieved:
        retrieved = Retrieved(findings=findings)
        retrieved.cards = rank_cards(intent, list(self.cards.values()), findings, self.versions)
        retrieved.docs, notes = retrieve_docs(intent, retrieved.cards, self.versions,
                                              home=self.home, mode=self.docs_mode)
        retrieved.notes += notes
        retrieved.traces = similar_traces(intent, load_traces(self.home))
        return retrieved


def _finding_at(findings: list[Finding], first: int, last: int) -> Finding | None:
    for f in findings:
        if f.span.start.line <= last and f.span.end.line >= first:
            return f
    return None


def _material(r: Retrieved) -> dict[str, Any]:
    """What the model may use: cards, docs and traces (code in traces redacted)."""
    return {
        "cards": [{"code": h.card.code, "title": h.card.title, "why": h.card.why,
                   "fix": h.card.fix.description,
                   "example": ({"before": h.card.examples[0].bad, "after": h.card.examples[0].good}
                               if h.card.examples else None)} for h in r.cards[:3]],
        "docs": [{"object": d.object, "library": d.library, "version": d.version,
                  "signature": d.signature, "text": d.text[:800]} for d in r.docs[:5]],
        "traces": [{"outcome": t.trace.outcome, "code": t.trace.code,
                    "before": redact(t.trace.before)[:600], "after": redact(t.trace.after)[:600]}
                   for t in r.traces[:3]],
    }


_agents: dict[tuple[str, ...], Agent] = {}
_agents_lock = threading.Lock()


def default_agent(workspace: Path | None = None) -> Agent:
    """The process's agent for a workspace's settings (kept warm between calls)."""
    from spark_lsp.config import load_settings

    settings = load_settings(workspace)
    key = (str(workspace), json.dumps(settings.llm, sort_keys=True, default=str),
           ",".join(settings.cards), str(spark_home()))
    with _agents_lock:
        if key not in _agents:
            _agents[key] = Agent(settings)
        return _agents[key]
