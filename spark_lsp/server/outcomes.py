"""What became of each suggestion in one editor session: shown, accepted, rejected, corrected.

Plain Python over findings and texts (no LSP), so every rule here is testable on its own.

- `shown`: once per (document, fingerprint) per session, when first published.
- `accepted` / `rejected`: from the quick fix and the dismiss action (the client runs the command
  `spark.recordOutcome` after applying the action's edit).
- `corrected`: a finding disappeared because the user edited its lines, without accepting or
  dismissing it, and the code there now reads differently. The decision waits until the user
  has moved on (an edit elsewhere, a save, closing the file): mid-typing, `df.val` is not a fix.
  Not a correction: the finding coming back, deleting the lines outright, typing exactly the
  suggested fix, or adding a `# spark: ignore` comment.

Files are named by `file_hash(uri)`, never by path.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from spark_lsp.analysis.findings import Finding
from spark_lsp.kb.traces import Trace, TraceJournal, file_hash, pseudonymous_user
from spark_lsp.server.snippets import (
    finding_lines,
    fixed_lines,
    normalized,
    window,
)

log = logging.getLogger(__name__)

RESOLVED_OUTCOMES = ("accepted", "rejected")
MAX_FIELD_CHARS = 4000
_IGNORE = re.compile(r"#\s*spark:\s*ignore(?:\[(?P<codes>[A-Za-z0-9,\s]+)\])?", re.IGNORECASE)


@dataclass
class _Pending:
    """A finding that vanished while its lines were being edited; the verdict is not in yet."""

    finding: Finding
    before: str  # a window of the old text around the finding
    before_core: str  # exactly the finding's old lines
    expected: str | None  # those lines with the suggested fix applied
    lines: tuple[int, int]  # [start, end) of the edited region in the latest text
    anchor: int  # where the finding's first line is now


@dataclass(frozen=True)
class Region:
    """Lines [start, old_end) of the old text became lines [start, new_end) of the new one."""

    start: int
    old_end: int
    new_end: int

    @property
    def delta(self) -> int:
        return self.new_end - self.old_end

    def map(self, start: int, end: int) -> tuple[int, int]:
        """Where old lines [start, end) are in the new text (the edit replaces what it touched)."""
        new_start = start if start < self.start else (
            start + self.delta if start >= self.old_end else self.start)
        new_end = end + self.delta if end > self.old_end else (
            end if end <= self.start else self.new_end)
        return new_start, max(new_start, new_end)

    def edits_lines(self, first: int, last: int) -> bool:
        """The change rewrote at least one of the lines first..last (inclusive)."""
        return first < self.old_end and last >= self.start

    def touches(self, start: int, end: int) -> bool:
        """The change is in or right next to lines [start, end)."""
        return start <= self.old_end and end >= self.start


def changed_region(old: list[str], new: list[str]) -> Region:
    """The lines between the common prefix and the common suffix of two versions."""
    n, m = len(old), len(new)
    limit = min(n, m)
    p = 0
    while p < limit and old[p] == new[p]:
        p += 1
    s = 0
    while s < limit - p and old[n - 1 - s] == new[m - 1 - s]:
        s += 1
    return Region(p, n - s, m - s)


def _clip(text: str | None) -> str:
    text = text or ""
    text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates cannot be journaled
    return text if len(text) <= MAX_FIELD_CHARS else text[:MAX_FIELD_CHARS] + "\n…"


class OutcomeTracker:
    """One document's suggestions and their fates during this session."""

    def __init__(self, uri: str, client: str,
                 versions: Callable[[str], dict[str, str]] = lambda code: {},
                 workspace: str = "") -> None:
        self.file_hash = file_hash(uri)
        self.client = client
        self.workspace = workspace  # a hash: rejections are remembered per workspace
        self.versions = versions
        self.shown: set[str] = set()
        self.resolved: set[str] = set()
        self.pending: dict[str, _Pending] = {}
        self._user = pseudonymous_user()

    def trace(self, outcome: str, finding_code: str, fingerprint: str, line: int, before: str,
              after: str | None) -> Trace:
        return Trace(outcome=outcome, code=finding_code, client=self.client,
                     file_hash=self.file_hash, line=max(0, line), before=_clip(before),
                     after=_clip(after), versions=self.versions(finding_code),
                     fingerprint=fingerprint, user=self._user, workspace=self.workspace)

    # -- events ------------------------------------------------------------------------------
    def observe(self, old_text: str | None, old: list[Finding], new_text: str,
                new: list[Finding]) -> list[Trace]:
        """Traces due now that `new` (found in `new_text`) replaces `old` (found in `old_text`)."""
        traces: list[Trace] = []
        new_lines = new_text.splitlines()
        if old_text is not None and old_text != new_text:
            old_lines = old_text.splitlines()
            region = changed_region(old_lines, new_lines)
            traces += self._follow_pending(region, new_lines, new)
            self._note_vanished(region, old_lines, old, new)
        # an accepted or dismissed suggestion that is back (an undo) can have a new fate
        self.resolved.difference_update(f.fingerprint for f in new)
        for f in new:
            if f.fingerprint not in self.shown:
                self.shown.add(f.fingerprint)
                traces.append(self.trace("shown", f.code, f.fingerprint, f.span.start.line + 1,
                                         finding_lines(new_lines, f), fixed_lines(new_lines, f)))
        return traces

    def resolve(self, outcome: str, code: str, fingerprint: str, line: int, before: str,
                after: str | None) -> Trace:
        """The user accepted or dismissed a suggestion (through its code action)."""
        if outcome not in RESOLVED_OUTCOMES:
            raise ValueError(f"outcome must be one of {RESOLVED_OUTCOMES}, not {outcome!r}")
        self.resolved.add(fingerprint)
        self.pending.pop(fingerprint, None)
        return self.trace(outcome, code, fingerprint, line, before, after)

    def settle(self, text: str, findings: list[Finding]) -> list[Trace]:
        """Decide every pending correction now (on save, close or shutdown)."""
        lines = text.splitlines()
        traces = []
        for pend in list(self.pending.values()):
            t = self._verdict(pend, lines, findings)
            if t is not None:
                traces.append(t)
        self.pending.clear()
        return traces

    # -- corrections -------------------------------------------------------------------------
    def _follow_pending(self, region: Region, lines: list[str], new: list[Finding]) -> list[Trace]:
        traces = []
        for fp, pend in list(self.pending.items()):
            start, end = region.map(*pend.lines)
            pend.anchor = region.map(pend.anchor, pend.anchor + 1)[0]
            if region.touches(*pend.lines):  # still being edited
                pend.lines = (min(start, region.start), max(end, region.new_end))
                if _still_there(pend.finding, new, *pend.lines):
                    del self.pending[fp]
                continue
            pend.lines = (start, end)
            del self.pending[fp]
            t = self._verdict(pend, lines, new)
            if t is not None:
                traces.append(t)
        return traces

    def _note_vanished(self, region: Region, old_lines: list[str], old: list[Finding],
                       new: list[Finding]) -> None:
        for f in old:
            first, last = f.span.start.line, f.span.end.line
            if (f.fingerprint in self.resolved or f.fingerprint in self.pending
                    or not region.edits_lines(first, last)):
                continue
            start, end = region.map(first, last + 1)
            start, end = min(start, region.start), max(end, region.new_end)
            if _still_there(f, new, start, end):
                continue
            self.pending[f.fingerprint] = _Pending(
                finding=f,
                before=window(old_lines, first, last + 1),
                before_core=finding_lines(old_lines, f),
                expected=fixed_lines(old_lines, f, other_edits=False),
                lines=(start, end),
                anchor=region.map(first, first + 1)[0],
            )

    def _verdict(self, pend: _Pending, lines: list[str], findings: list[Finding]) -> Trace | None:
        start, end = pend.lines
        f = pend.finding
        if f.fingerprint in self.resolved:
            return None
        after_core = "\n".join(lines[start:end])
        if not after_core.strip():
            return None  # deleted, not rewritten
        if any(g.code == f.code and start <= g.span.start.line < end for g in findings):
            return None  # still flagged there
        if normalized(after_core) == normalized(pend.before_core):
            return None
        if pend.expected is not None and normalized(pend.expected) in normalized(after_core):
            return None  # the suggested fix, applied or typed: an accept, not a correction
        for line in lines[start:end]:
            m = _IGNORE.search(line)
            if m and (m.group("codes") is None
                      or f.code in {c.strip().upper() for c in m.group("codes").split(",")}):
                return None  # dismissed
        return self.trace("corrected", f.code, f.fingerprint, pend.anchor + 1, pend.before,
                          window(lines, start, end))


def _still_there(f: Finding, new: list[Finding], start: int, end: int) -> bool:
    key = normalized(f.matched)
    return any(g.code == f.code and normalized(g.matched) == key
               and start <= g.span.start.line < max(end, start + 1) for g in new)


@dataclass
class TraceSink:
    """Appends traces to this process's journal; the file is created on the first trace."""

    home: Callable[[], Path]
    _journal: TraceJournal | None = field(default=None, init=False)

    @property
    def path(self) -> Path | None:
        return self._journal.path if self._journal else None

    def write(self, traces: list[Trace]) -> None:
        """Append; raises OSError when the journal cannot be written."""
        if not traces:
            return
        if self._journal is None:
            self._journal = TraceJournal(self.home())
        for t in traces:
            self._journal.append(t)
