"""Organic traces in one editor session: library calls the user rewrote where no card spoke.

Plain Python over texts and findings (no LSP). A run of edits on the same few lines is one
rewrite: the lines as they were before it started are kept, and the verdict waits until the user
moves on (an edit elsewhere, a save, closing the file) — mid-typing, `pd.read_c(f)` is not a
rewrite. Then `learning.organic.library_call_edit` decides whether a library call became a
different call; if so, an `organic` trace carries the statement before and after (redacted when
journaled). Lines a card flagged are left to the `corrected` outcome.

Split in two for the event loop's sake: `observe`/`settle` only follow line numbers (a
comparison of the changed region with the pending one) and hand back finished `Rewrite`s;
`traces(rewrites)` parses them and reads the document's imports, and the server runs it in a
worker thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from spark_lsp.analysis.findings import Finding
from spark_lsp.kb.traces import Trace, file_hash, pseudonymous_user
from spark_lsp.learning.organic import MAX_STATEMENT_LINES, CallEdit, library_call_edit
from spark_lsp.server.outcomes import Region

MAX_SEEN = 256


@dataclass
class Rewrite:
    """Lines [start, end) of the current text are being rewritten; `original` is the text
    before the rewrite started, where they were lines [start, old_end). `final`: the text once
    the user moved on."""

    original: str
    start: int
    old_end: int
    end: int
    final: str = ""


class OrganicTracker:
    """One document's rewrites of library calls during this session."""

    def __init__(self, uri: str, client: str,
                 versions: Callable[[str], dict[str, str]] = lambda library: {},
                 workspace: str = "") -> None:
        self.file_hash = file_hash(uri)
        self.client = client
        self.workspace = workspace
        self.versions = versions  # library -> {library: installed version}
        self.pending: Rewrite | None = None
        self._seen: set[tuple[str, str]] = set()  # an undo/redo is not a second rewrite
        self._lock = threading.Lock()  # `traces` runs in a worker thread
        self._user = pseudonymous_user()

    def observe(self, old_text: str, old: list[Finding], new_text: str,
                region: Region) -> list[Rewrite]:
        """Rewrites finished now that `new_text` replaced `old_text` (changed in `region`)."""
        finished: list[Rewrite] = []
        pend = self.pending
        if pend is not None and region.edits_lines(pend.start, max(pend.start, pend.end - 1)):
            # the same rewrite goes on; lines above the pending ones are as in `original`,
            # lines below are shifted by what the rewrite added or removed
            if region.old_end > pend.end:
                pend.old_end += region.old_end - pend.end
                pend.end = region.new_end
            else:
                pend.end += region.delta
            pend.start = min(pend.start, region.start)
            if pend.end - pend.start > MAX_STATEMENT_LINES:
                self.pending = None  # grew into a rewrite of a whole block
            return finished
        if pend is not None:
            # moved on: the rewrite is finished in `old_text` (this edit is elsewhere)
            pend.final = old_text
            finished.append(pend)
        self.pending = None
        if region.old_end - region.start > MAX_STATEMENT_LINES or \
                region.new_end - region.start > MAX_STATEMENT_LINES:
            return finished  # a paste or a deletion of a block
        if any(f.span.start.line < region.old_end and f.span.end.line >= region.start
               for f in old):
            return finished  # a card spoke here: a correction, not organic experience
        if region.old_end > region.start:  # lines rewritten (not only inserted)
            self.pending = Rewrite(old_text, region.start, region.old_end, region.new_end)
        return finished

    def settle(self, text: str) -> list[Rewrite]:
        """Finish the rewrite in progress now (on save, close or shutdown)."""
        pend, self.pending = self.pending, None
        if pend is None:
            return []
        pend.final = text
        return [pend]

    def traces(self, rewrites: list[Rewrite]) -> list[Trace]:
        """The organic traces of finished rewrites: those that made a library call a different
        call, once per call pair in this file (parses a few lines; thread-safe)."""
        traces = []
        for rw in rewrites:
            edit = library_call_edit(rw.original, (rw.start, rw.old_end), rw.final,
                                     (rw.start, rw.end))
            if edit is None:
                continue
            key = (edit.call_before, edit.call_after)
            with self._lock:
                if key in self._seen:
                    continue
                if len(self._seen) >= MAX_SEEN:
                    self._seen.clear()
                self._seen.add(key)
            traces.append(self.trace(edit))
        return traces

    def trace(self, edit: CallEdit) -> Trace:
        return Trace(outcome="organic", code="", client=self.client, file_hash=self.file_hash,
                     line=edit.line + 1, before=edit.before, after=edit.after,
                     versions=self.versions(edit.library), user=self._user,
                     workspace=self.workspace)
