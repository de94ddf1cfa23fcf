"""Per-document state, and the debounced analysis that turns a document into diagnostics.

Each open document has at most one pending analysis task: a newer edit cancels it. Analysis and
conversion run in a worker thread (off the event loop); before publishing, the document's version
and the server's settings generation are checked again, so stale diagnostics are never published.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from spark_lsp.analysis import Analyzer, Finding
from spark_lsp.analysis.engine import MAX_FILE_CHARS
from spark_lsp.server.convert import (
    LineIndex,
    contains,
    diagnostic_data,
    sanitize,
    to_diagnostic,
)
from spark_lsp.server.organic import OrganicTracker
from spark_lsp.server.outcomes import OutcomeTracker, changed_region
from spark_lsp.server.snippets import finding_lines, fixed_lines

if TYPE_CHECKING:
    from spark_lsp.server.app import SparkServer

log = logging.getLogger(__name__)

MAX_DOCUMENT_CHARS = MAX_FILE_CHARS


@dataclass
class Analysis:
    """The findings of one version of a document, and their diagnostics."""

    version: int | None
    text: str  # as analysed (lone surrogates replaced)
    lines: list[str]  # the analyser's lines of `text`
    findings: list[Finding]
    diagnostics: list[types.Diagnostic]


@dataclass
class DocumentState:
    uri: str
    outcomes: OutcomeTracker
    organic: OrganicTracker | None = None  # library calls rewritten where no card spoke
    latest: Analysis | None = None
    task: asyncio.Task[None] | None = None
    told_too_large: bool = False
    _index: tuple[int | None, LineIndex] | None = field(default=None, repr=False)

    def current(self, version: int | None) -> Analysis | None:
        """The latest analysis if it is of `version` (no answers from an older text)."""
        if self.latest is not None and self.latest.version == version:
            return self.latest
        return None

    def finding_at(self, version: int | None, pos: types.Position
                   ) -> tuple[Finding, types.Diagnostic, list[str]] | None:
        """The finding under a client position, its diagnostic, and the analysed lines."""
        analysis = self.current(version)
        if analysis is None:
            return None
        for finding, diagnostic in zip(analysis.findings, analysis.diagnostics):
            if contains(diagnostic.range, pos):
                return finding, diagnostic, analysis.lines
        return None

    def data_for(self, diagnostic: types.Diagnostic) -> dict[str, Any] | None:
        """The data of the published diagnostic at the same range with the same code."""
        if self.latest is None:
            return None
        for ours in self.latest.diagnostics:
            if ours.code == diagnostic.code and ours.range == diagnostic.range:
                return ours.data  # type: ignore[no-any-return]
        return None

    def index(self, version: int | None, text: Callable[[], str], encoding: str) -> LineIndex:
        """A LineIndex of the document's text at `version` (cached per version)."""
        if self._index is None or self._index[0] != version or version is None:
            self._index = (version, LineIndex(sanitize(text()), encoding))
        return self._index[1]


class DocumentStore:
    def __init__(self) -> None:
        self._states: dict[str, DocumentState] = {}

    def open(self, uri: str, outcomes: OutcomeTracker,
             organic: OrganicTracker | None = None) -> DocumentState:
        old = self._states.get(uri)
        if old is not None:
            # reopened without a close: keep what the session knows about its suggestions
            return old
        state = self._states[uri] = DocumentState(uri, outcomes, organic)
        return state

    def get(self, uri: str) -> DocumentState | None:
        return self._states.get(uri)

    def close(self, uri: str) -> DocumentState | None:
        state = self._states.pop(uri, None)
        if state is not None and state.task is not None:
            state.task.cancel()
        return state

    def __iter__(self) -> Iterator[DocumentState]:
        return iter(list(self._states.values()))

    def schedule(self, state: DocumentState,
                 work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run `work` for the document, cancelling its pending work."""
        if state.task is not None and not state.task.done():
            state.task.cancel()
        state.task = asyncio.ensure_future(work())
        state.task.add_done_callback(_log_failure)


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("analysis task failed", exc_info=task.exception())


def analyse(analyzer: Analyzer, text: str, filename: str, version: int | None,
            encoding: str) -> Analysis:
    """Analyse one version of a document and convert its findings (runs in a worker thread)."""
    text = sanitize(text)
    findings = analyzer.analyze(text, filename)
    lines = text.splitlines()
    index = LineIndex(text, encoding) if findings else None
    diagnostics = [_diagnostic(f, index, version, lines, encoding)
                   for f in findings if index is not None]
    return Analysis(version, text, lines, findings, diagnostics)


# A finding's diagnostic (less the document version) depends only on the finding and on the
# lines it and its fix touch: an edit elsewhere reuses it.
_CONVERTED: OrderedDict[tuple[Any, ...], tuple[types.Range, dict[str, Any]]] = OrderedDict()
_CONVERTED_MAX = 20_000


def _diagnostic(f: Finding, index: LineIndex, version: int | None, lines: list[str],
                encoding: str) -> types.Diagnostic:
    before = finding_lines(lines, f)
    rows = {f.span.start.line, f.span.end.line}
    for edit in f.fix.edits if f.fix is not None else ():
        rows.update((edit.span.start.line, edit.span.end.line))
    key = (f.code, f.title, f.message, f.severity, f.url, f.span, f.fingerprint, f.matched,
           f.fix, encoding, before, tuple((row, index.lsp_line(row)) for row in sorted(rows)),
           # a position past the end is clamped to the end of the text
           index.line_count() if max(rows) >= index.line_count() else -1)
    found = _CONVERTED.get(key)
    if found is None:
        data = diagnostic_data(f, index, version, before, fixed_lines(lines, f))
        found = _CONVERTED[key] = (index.range(f.span.start, f.span.end), data)
        while len(_CONVERTED) > _CONVERTED_MAX:
            _CONVERTED.popitem(last=False)
    else:
        _CONVERTED.move_to_end(key)
    rng, data = found
    return to_diagnostic(f, rng, {**data, "version": version})


async def refresh(ls: SparkServer, uri: str, delay: float, settle: bool = False) -> None:
    """Wait `delay` seconds, analyse the document off the loop, publish if still current."""
    if delay > 0:
        await asyncio.sleep(delay)
    state = ls.documents.get(uri)
    if state is None:
        return
    doc = ls.workspace.get_text_document(uri)
    version, text = doc.version, doc.source
    if len(text) > MAX_DOCUMENT_CHARS:
        _too_large(ls, state, version, len(text))
        return
    generation = ls.generation
    loop = asyncio.get_running_loop()
    try:
        analysis = await loop.run_in_executor(ls.analysis_executor, analyse, ls.analyzer, text,
                                              doc.path or uri, version, ls.encoding)
    except Exception as exc:  # a broken card or detector: keep serving, say so once
        log.exception("analysis of %s failed", uri)
        ls.report_failure("analysis", exc)
        return
    if (ls.documents.get(uri) is not state or ls.generation != generation
            or ls.workspace.get_text_document(uri).version != version):
        log.debug("dropped stale analysis of %s v%s", uri, version)
        return
    ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
        uri=uri, diagnostics=analysis.diagnostics, version=version))
    previous, state.latest = state.latest, analysis
    traces = state.outcomes.observe(previous.text if previous else None,
                                    previous.findings if previous else [],
                                    analysis.text, analysis.findings)
    if state.organic is not None:
        finished = []
        if previous is not None and previous.text != analysis.text:
            finished += state.organic.observe(previous.text, previous.findings, analysis.text,
                                              changed_region(previous.lines, analysis.lines))
        if settle:
            finished += state.organic.settle(analysis.text)
        ls.record_rewrites(state.organic, finished)
    if settle:
        traces += state.outcomes.settle(analysis.text, analysis.findings)
    ls.record(traces)


def _too_large(ls: SparkServer, state: DocumentState, version: int | None, size: int) -> None:
    state.latest = None
    ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
        uri=state.uri, diagnostics=[], version=version))
    if not state.told_too_large:
        state.told_too_large = True
        ls.show(f"Spark does not analyse {state.uri.rsplit('/', 1)[-1]}: {size:,} characters is "
                f"over its limit of {MAX_DOCUMENT_CHARS:,}.", types.MessageType.Warning)
