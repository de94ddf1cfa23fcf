"""pygls' workspace, with documents that break lines where LSP clients do.

pygls splits a document with `str.splitlines()`, which also breaks at form feeds, `\\x1c`-`\\x1e`,
`\\x85`, U+2028 and U+2029. Clients break only at `\\r\\n`, `\\r` and `\\n`, so an incremental edit
below a form feed (common in older Python files) would land on the wrong line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from lsprotocol import types
from pygls.workspace import TextDocument, Workspace

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


# What `str.splitlines()` breaks at besides \r\n, \r and \n.
_OTHER_BREAKS = "\v\f\x1c\x1d\x1e\x85\u2028\u2029"


class LspTextDocument(TextDocument):
    @property
    def lines(self) -> Sequence[str]:  # type: ignore[override]
        source = self.source
        if not any(c in source for c in _OTHER_BREAKS):
            return tuple(source.splitlines(True))  # the same lines, split in C
        return tuple(_LINE.findall(source))

    def _apply_incremental_change(self, change: types.TextDocumentContentChangePartial) -> None:
        """pygls' edit, with the untouched lines copied by `str.join` instead of a Python loop
        over every line of the document (an edit costs what copying the text costs)."""
        lines = self.lines
        r = self._position_codec.range_from_client_units(lines, change.range)
        start, end = r.start, r.end
        if start.line == len(lines):  # at the very end of the document
            self._source = self.source + change.text
            return
        if start.line > len(lines):  # past the end: pygls drops the edit
            return
        head = "".join(lines[:start.line]) + lines[start.line][:start.character]
        if end.line < len(lines):
            tail = lines[end.line][end.character:] + "".join(lines[end.line + 1:])
        else:
            tail = ""
        self._source = head + change.text + tail


class LspWorkspace(Workspace):
    def _create_text_document(self, doc_uri: str, source: str | None = None,
                              version: int | None = None,
                              language_id: str | None = None) -> TextDocument:
        return LspTextDocument(doc_uri, source=source, version=version, language_id=language_id,
                               sync_kind=self._sync_kind, position_codec=self.position_codec)

    @classmethod
    def like(cls, workspace: Workspace) -> LspWorkspace:
        """An empty workspace with the same root, folders and position encoding."""
        return cls(workspace.root_uri, types.TextDocumentSyncKind.Incremental,
                   list(workspace.folders.values()), workspace.position_encoding)
