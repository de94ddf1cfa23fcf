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


class LspTextDocument(TextDocument):
    @property
    def lines(self) -> Sequence[str]:  # type: ignore[override]
        return tuple(_LINE.findall(self.source))


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
