"""Other language servers' diagnostics, forwarded by the editor: `spark/otherDiagnostics`.

A client sends, for an open document, the diagnostics other tools (Pylance, mypy, ruff, …)
publish: `{"uri", "version"?, "diagnostics": [{"range", "message", "source", "code"?,
"severity"?}]}`. Each notification replaces the previous set of that document. Spark answers
on the other tool's range with a hover section and a "Spark: how to fix this" code action
(`other_answers.py`).

Editing must never stall, even under a flood (thousands of notifications a second):

- pygls would turn every JSON object of an unknown notification into a namedtuple (~0.5 ms a
  diagnostic, on the event loop): `SparkProtocol` keeps this one's params as parsed JSON.
- The handler only checks the envelope and keeps the latest params per document (O(1)); the
  first notification starts a short timer, and when it fires the latest set wins (coalescing).
- Sets are bounded: at most MAX_PER_DOCUMENT diagnostics (errors first), MAX_MESSAGE_CHARS per
  message, MAX_DOCUMENTS documents.
- Explanations run in the agent's worker thread, one at a time, cached; a newer set stops the
  explanation of an older one. Spark's own diagnostics (source "spark") are never explained.
- Malformed params are logged (and sent as `window/logMessage`) at most once per reason every
  few seconds, with a count of the ones not logged; the server goes on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import attrs
from lsprotocol import types
from pygls.protocol import LanguageServerProtocol

from spark_lsp.agent.explain_error import MAX_DIAGNOSTIC_CHARS, ErrorExplanation
from spark_lsp.agent.service import MAX_CODE_CHARS
from spark_lsp.server.ask import AskFeature
from spark_lsp.server.convert import SOURCE, contains
from spark_lsp.server.explain import DiagnosticExplainer

if TYPE_CHECKING:
    from spark_lsp.server.app import SparkServer

log = logging.getLogger(__name__)

OTHER_DIAGNOSTICS = "spark/otherDiagnostics"
MAX_PER_DOCUMENT = 200  # diagnostics kept per document (errors first, then by position)
MAX_SCANNED = 5_000  # entries of one notification read at all
MAX_MESSAGE_CHARS = MAX_DIAGNOSTIC_CHARS  # longer messages are cut
MAX_FIELD_CHARS = 200  # source, code
MAX_DOCUMENTS = 256  # documents with a set (and pending notifications)
MAX_POSITION = 2**31 - 1
COALESCE_SECONDS = 0.1  # a burst of notifications for one document is read once per interval
EXPLAIN_EAGERLY = 50  # diagnostics of a set explained ahead of hovers (the rest on demand)
LOG_EVERY_SECONDS = 5.0


class BadParams(ValueError):
    """A forwarded notification or diagnostic that is not what docs/editors.md describes."""


@attrs.define
class OtherDiagnosticsMessage:
    """`spark/otherDiagnostics` as it arrived: params stay plain JSON (see the module doc)."""

    method: str
    jsonrpc: str
    params: Any = None


class SparkProtocol(LanguageServerProtocol):
    """pygls' protocol, with `spark/otherDiagnostics` read as plain JSON and handed straight
    to `other_diagnostics_handler` (pygls' generic dispatch — runtime protocol checks, a context
    copy, a uuid per message — costs more than the handler itself)."""

    other_diagnostics_handler: Callable[[Any], None] | None = None

    def get_message_type(self, method: str) -> type[Any] | None:  # type: ignore[override]
        if method == OTHER_DIAGNOSTICS:  # (pygls caches its own answers; this one is a compare)
            return OtherDiagnosticsMessage
        return super().get_message_type(method)

    def handle_message(self, message: Any) -> None:
        handler = self.other_diagnostics_handler
        if type(message) is OtherDiagnosticsMessage and handler is not None:
            if not self._shutdown:
                handler(message.params)
            return
        super().handle_message(message)


@dataclass(frozen=True)
class OtherDiagnostic:
    """One diagnostic of another tool, range in the client's position units."""

    range: types.Range
    message: str
    source: str
    code: str | None = None
    severity: int | None = None

    def to_lsp(self) -> types.Diagnostic:
        return types.Diagnostic(
            range=self.range, message=self.message, source=self.source or None, code=self.code,
            severity=types.DiagnosticSeverity(self.severity) if self.severity else None)


@dataclass
class DiagnosticSet:
    version: int | None
    diagnostics: list[OtherDiagnostic]
    generation: int


# -- reading params ----------------------------------------------------------------------------

def _int(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_POSITION:
        raise BadParams(f"{what} must be an integer from 0 to {MAX_POSITION}")
    return value


def _position(raw: Any, what: str) -> types.Position:
    if not isinstance(raw, dict):
        raise BadParams(f"{what} must be an object {{line, character}}")
    return types.Position(line=_int(raw.get("line"), f"{what}.line"),
                          character=_int(raw.get("character"), f"{what}.character"))


def _text(value: Any, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


def read_envelope(params: Any) -> tuple[str, int | None, list[Any]]:
    """(uri, version, raw diagnostics) of a notification; BadParams when it is not one."""
    if not isinstance(params, dict):
        raise BadParams(f"params must be an object {{uri, version?, diagnostics}}, not "
                        f"{type(params).__name__}")
    uri = params.get("uri")
    if not isinstance(uri, str) or not uri or len(uri) > 8_192:
        raise BadParams("params.uri must be a document URI (a non-empty string)")
    version = params.get("version")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
        raise BadParams("params.version must be an integer or absent")
    diagnostics = params.get("diagnostics")
    if not isinstance(diagnostics, list):
        raise BadParams("params.diagnostics must be a list (empty to clear)")
    return uri, version, diagnostics


def read_diagnostic(raw: Any) -> OtherDiagnostic | None:
    """One forwarded diagnostic; None for Spark's own; BadParams when malformed."""
    if not isinstance(raw, dict):
        raise BadParams("a diagnostic must be an object {range, message, source, code?, "
                        "severity?}")
    rng = raw.get("range")
    if not isinstance(rng, dict):
        raise BadParams("diagnostic.range must be an object {start, end}")
    start, end = _position(rng.get("start"), "range.start"), _position(rng.get("end"), "range.end")
    if (end.line, end.character) < (start.line, start.character):
        raise BadParams("diagnostic.range ends before it starts")
    message = raw.get("message")
    if not isinstance(message, str) or not message.strip():
        raise BadParams("diagnostic.message must be a non-empty string")
    source = _text(raw.get("source"), MAX_FIELD_CHARS).strip()
    if source.casefold() == SOURCE:
        return None  # Spark's own: never fed back
    code = raw.get("code")
    if isinstance(code, dict):  # VS Code's {value, target}
        code = code.get("value")
    code = str(code)[:MAX_FIELD_CHARS] if isinstance(code, (str, int)) and code != "" else None
    severity = raw.get("severity")
    if severity not in (1, 2, 3, 4) or isinstance(severity, bool):
        severity = None
    return OtherDiagnostic(types.Range(start=start, end=end), message[:MAX_MESSAGE_CHARS],
                           source, code, severity)


def read_diagnostics(raw: list[Any]) -> tuple[list[OtherDiagnostic], Counter[str]]:
    """The diagnostics worth keeping (bounded, errors first) and what was wrong with the rest."""
    kept: list[OtherDiagnostic] = []
    problems: Counter[str] = Counter()
    for item in raw[:MAX_SCANNED]:
        try:
            diagnostic = read_diagnostic(item)
        except BadParams as exc:
            problems[str(exc)] += 1
            continue
        if diagnostic is not None:
            kept.append(diagnostic)
    if len(raw) > MAX_SCANNED:
        problems[f"only the first {MAX_SCANNED:,} diagnostics of a notification are read"] += (
            len(raw) - MAX_SCANNED)
    if len(kept) > MAX_PER_DOCUMENT:
        problems[f"at most {MAX_PER_DOCUMENT} diagnostics per document are kept (errors "
                 "first)"] += len(kept) - MAX_PER_DOCUMENT
        kept.sort(key=lambda d: (d.severity or 5, d.range.start.line, d.range.start.character))
        kept = kept[:MAX_PER_DOCUMENT]
    return kept, problems


def overlaps(a: types.Range, b: types.Range) -> bool:
    return ((a.start.line, a.start.character) <= (b.end.line, b.end.character)
            and (b.start.line, b.start.character) <= (a.end.line, a.end.character))


# -- the feature -------------------------------------------------------------------------------

class LogLimiter:
    """At most one log line per reason every `every` seconds; the others are counted."""

    def __init__(self, every: float = LOG_EVERY_SECONDS) -> None:
        self.every = every
        self._last: dict[str, float] = {}
        self._muted: Counter[str] = Counter()

    def allow(self, reason: str) -> tuple[bool, int]:
        """(log it now, how many of this reason were not logged since the last line)."""
        now = time.monotonic()
        last = self._last.get(reason)
        if last is not None and now - last < self.every:
            self._muted[reason] += 1
            return False, 0
        if len(self._last) > 1_000:  # reasons are a fixed set; this only bounds a surprise
            self._last.clear()
        self._last[reason] = now
        return True, self._muted.pop(reason, 0)


class OtherDiagnosticsFeature:
    """Forwarded diagnostics per document, coalesced, and their explanations."""

    def __init__(self, asker: AskFeature, explainer: DiagnosticExplainer | None = None) -> None:
        self.asker = asker
        self.explainer = explainer or DiagnosticExplainer()
        self.limiter = LogLimiter()
        self._sets: OrderedDict[str, DiagnosticSet] = OrderedDict()
        self._pending: dict[str, tuple[int | None, list[Any]]] = {}
        self._timers: dict[str, asyncio.Task[None]] = {}
        self._generation = 0
        self.received = 0  # notifications, and sets actually read (after coalescing):
        self.read = 0  # for the debug log

    # -- notifications ------------------------------------------------------------------------
    def receive(self, ls: SparkServer, params: Any) -> None:
        """The notification's handler: O(1), whatever the flood."""
        self.received += 1
        try:
            uri, version, raw = read_envelope(params)
        except BadParams as exc:
            self.warn(ls, str(exc), f"Spark ignored a {OTHER_DIAGNOSTICS} notification: {exc}")
            return
        if uri not in self._pending and len(self._pending) >= MAX_DOCUMENTS:
            self.warn(ls, "too many documents", f"Spark ignored {OTHER_DIAGNOSTICS} for {uri}: "
                      f"more than {MAX_DOCUMENTS} documents are waiting")
            return
        self._pending[uri] = (version, raw)
        if uri not in self._timers:
            timer = asyncio.ensure_future(self._settle(ls, uri))
            timer.add_done_callback(_log_failure)
            self._timers[uri] = timer

    async def _settle(self, ls: SparkServer, uri: str) -> None:
        try:
            await asyncio.sleep(COALESCE_SECONDS)
        finally:
            self._timers.pop(uri, None)  # a notification from now on starts a new timer
        self._read_pending(ls, uri)
        found = self._sets.get(uri)
        if found is not None:
            await self._explain_ahead(ls, uri, found.generation)

    def _read_pending(self, ls: SparkServer, uri: str) -> None:
        """Replace the document's set by the latest notification's, if one is waiting."""
        pending = self._pending.pop(uri, None)
        if pending is None:
            return
        version, raw = pending
        old = self._sets.get(uri)
        if (version is not None and old is not None and old.version is not None
                and version < old.version):
            log.debug("ignored forwarded diagnostics of %s v%s: v%s is known", uri, version,
                      old.version)
            return
        diagnostics, problems = read_diagnostics(raw)
        for problem, count in problems.items():
            self.warn(ls, problem, f"Spark skipped {count} forwarded diagnostic(s) of "
                      f"{uri.rsplit('/', 1)[-1]}: {problem}")
        self.read += 1
        log.debug("%s: %d forwarded diagnostic(s) kept (set %d of %d notifications)", uri,
                  len(diagnostics), self.read, self.received)
        self._generation += 1
        self._sets[uri] = DiagnosticSet(version, diagnostics, self._generation)
        self._sets.move_to_end(uri)
        while len(self._sets) > MAX_DOCUMENTS:
            self._sets.popitem(last=False)

    async def _explain_ahead(self, ls: SparkServer, uri: str, generation: int) -> None:
        """Explain a new set in the agent's thread, one at a time, so hovers find answers ready;
        stop when a newer set arrives or the document closes."""
        found = self._sets.get(uri)
        if found is None or found.generation != generation or ls.documents.get(uri) is None:
            return
        agent = self.agent(ls)
        for diagnostic in list(found.diagnostics[:EXPLAIN_EAGERLY]):
            current = self._sets.get(uri)
            if current is None or current.generation != generation or ls.documents.get(uri) is None:
                return
            text = ls.workspace.get_text_document(uri).source
            if len(text) > MAX_CODE_CHARS:
                return
            await self.asker.call(partial(self.explainer.explanation, agent,
                                          diagnostic.to_lsp(), text))

    def warn(self, ls: SparkServer, reason: str, message: str) -> None:
        allowed, muted = self.limiter.allow(reason)
        if not allowed:
            return
        if muted:
            message += f" ({muted} more like it in the last {LOG_EVERY_SECONDS:.0f} s not logged)"
        log.warning("%s", message)
        try:
            ls.window_log_message(types.LogMessageParams(type=types.MessageType.Warning,
                                                         message=message))
        except Exception as exc:  # noqa: BLE001 - the log line above is what matters
            log.debug("window/logMessage failed: %s", exc)

    # -- documents -----------------------------------------------------------------------------
    def opened(self, ls: SparkServer, uri: str) -> None:
        """A document opened after its diagnostics arrived: explain them now."""
        found = self._sets.get(uri)
        if found is not None and found.diagnostics:
            task = asyncio.ensure_future(self._explain_ahead(ls, uri, found.generation))
            task.add_done_callback(_log_failure)

    def closed(self, uri: str) -> None:
        self._sets.pop(uri, None)
        self._pending.pop(uri, None)
        timer = self._timers.pop(uri, None)
        if timer is not None:
            timer.cancel()

    def diagnostics(self, ls: SparkServer, uri: str) -> list[OtherDiagnostic]:
        """The document's current set; a set still waiting for its timer is read now (a hover
        right after the notification must not miss it)."""
        self._read_pending(ls, uri)
        found = self._sets.get(uri)
        return list(found.diagnostics) if found is not None else []

    def at(self, ls: SparkServer, uri: str, position: types.Position) -> list[OtherDiagnostic]:
        return [d for d in self.diagnostics(ls, uri) if contains(d.range, position)]

    def overlapping(self, ls: SparkServer, uri: str, rng: types.Range) -> list[OtherDiagnostic]:
        return [d for d in self.diagnostics(ls, uri) if overlaps(d.range, rng)]

    # -- explanations --------------------------------------------------------------------------
    def agent(self, ls: SparkServer) -> Any:
        return self.asker.agent(ls.settings, list(ls.cards.values()))

    async def explain(self, ls: SparkServer, diagnostic: OtherDiagnostic, text: str
                      ) -> ErrorExplanation | None:
        """The explanation (cached) of one diagnostic against `text`, in the agent's thread."""
        if len(text) > MAX_CODE_CHARS:
            return None
        return await self.asker.call(partial(self.explainer.explanation, self.agent(ls),
                                             diagnostic.to_lsp(), text))

    async def explained(self, ls: SparkServer, found: list[OtherDiagnostic], text: str,
                        wait: float) -> list[tuple[OtherDiagnostic, ErrorExplanation]]:
        """Explanations of `found` that are ready within `wait` seconds in all (a slow one is
        still computed and cached for next time)."""
        deadline = time.monotonic() + wait
        out = []
        for diagnostic in found:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                explanation = await asyncio.wait_for(self.explain(ls, diagnostic, text), left)
            except TimeoutError:
                break
            if explanation is not None:
                out.append((diagnostic, explanation))
        return out

    def shutdown(self) -> None:
        for timer in list(self._timers.values()):
            timer.cancel()


def _log_failure(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("forwarded diagnostics: %s", task.exception(), exc_info=task.exception())
