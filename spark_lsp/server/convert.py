"""Between analysis data and LSP types: positions, diagnostics, text edits.

Findings count lines as LSP clients (and Python) do, breaking at `\\r\\n`, `\\r` and `\\n`
only (not at form feeds or U+2028), and columns in code points. Clients count columns in the
negotiated position encoding (UTF-16 unless the client offered UTF-8 or UTF-32). `LineIndex`
goes through absolute offsets.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from typing import Any

from lsprotocol import types

from spark_lsp.analysis.findings import Finding, Position

SOURCE = "spark"
SEVERITY = {
    "error": types.DiagnosticSeverity.Error,
    "warning": types.DiagnosticSeverity.Warning,
    "information": types.DiagnosticSeverity.Information,
    "hint": types.DiagnosticSeverity.Hint,
}
_LSP_BREAK = re.compile(r"\r\n|\r|\n")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def sanitize(text: str) -> str:
    """Replace lone surrogates (valid in JSON, not in UTF-8) by U+FFFD.

    One code point for one, and the same number of UTF-16 and UTF-8 units, so every position
    computed on the result is a position in the original.
    """
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)


def units(text: str, encoding: str) -> int:
    """Length of `text` in the client's position units."""
    if encoding == types.PositionEncodingKind.Utf32:
        return len(text)
    if encoding == types.PositionEncodingKind.Utf8:
        return len(text.encode("utf-8", "surrogatepass"))
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def char_column(line: str, character: int, encoding: str) -> int:
    """The index in `line` (a Python string) of a position's `character`, in client units."""
    if encoding == types.PositionEncodingKind.Utf32 or line.isascii():
        return min(character, len(line))
    seen = 0
    for i, ch in enumerate(line):
        if seen >= character:
            return i
        seen += units(ch, encoding)
    return len(line)


class LineIndex:
    """Offsets and positions for one text, in the analyser's and in the client's line model."""

    def __init__(self, text: str, encoding: str = types.PositionEncodingKind.Utf16) -> None:
        self.text = text
        self.encoding = encoding
        self._lsp_starts = [0] + [m.end() for m in _LSP_BREAK.finditer(text)]
        self._py_starts = self._lsp_starts  # the analyser counts lines as the client does

    # -- analyser model -> offsets ----------------------------------------------------------
    def offset(self, pos: Position) -> int:
        """Offset of a finding position (clamped to its line and to the text)."""
        if pos.line >= len(self._py_starts):
            return len(self.text)
        start = self._py_starts[pos.line]
        return min(start + pos.column, self._line_end(self._py_starts, pos.line))

    # -- offsets <-> client positions -------------------------------------------------------
    def position(self, offset: int) -> types.Position:
        offset = max(0, min(offset, len(self.text)))
        line = bisect_right(self._lsp_starts, offset) - 1
        start = self._lsp_starts[line]
        return types.Position(line=line, character=units(self.text[start:offset], self.encoding))

    def offset_at(self, pos: types.Position) -> int:
        """Offset of a client position; a column past the end of its line means the line end."""
        if pos.line >= len(self._lsp_starts):
            return len(self.text)
        start = self._lsp_starts[pos.line]
        end = self._line_end(self._lsp_starts, pos.line)
        line = self.text[start:end]
        if self.encoding == types.PositionEncodingKind.Utf32 or line.isascii():
            return start + min(pos.character, len(line))
        count = 0
        for i, ch in enumerate(line):
            if count >= pos.character:
                return start + i
            count += units(ch, self.encoding)
        return end

    def range(self, start: Position, end: Position) -> types.Range:
        return types.Range(start=self.position(self.offset(start)),
                           end=self.position(self.offset(end)))

    def lsp_line(self, line: int) -> str:
        """The client's line `line`, without its line break ('' past the end)."""
        if line >= len(self._lsp_starts):
            return ""
        return self.text[self._lsp_starts[line]:self._line_end(self._lsp_starts, line)]

    def line_count(self) -> int:
        return len(self._lsp_starts)

    def _line_end(self, starts: list[int], line: int) -> int:
        """Offset of the end of `line`'s content (before its line break)."""
        if line + 1 < len(starts):
            end = starts[line + 1]
            if self.text.startswith("\r\n", end - 2) and end - 2 >= starts[line]:
                return end - 2
            return end - 1
        return len(self.text)


def range_to_json(r: types.Range) -> dict[str, Any]:
    return {"start": {"line": r.start.line, "character": r.start.character},
            "end": {"line": r.end.line, "character": r.end.character}}


def range_from_json(data: Any) -> types.Range:
    """A Range from diagnostic `data`; raises ValueError when it is not one."""
    try:
        return types.Range(
            start=types.Position(line=int(data["start"]["line"]),
                                 character=int(data["start"]["character"])),
            end=types.Position(line=int(data["end"]["line"]), character=int(data["end"]["character"])),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not a range: {data!r}") from exc


def diagnostic_data(finding: Finding, index: LineIndex, version: int | None, before: str,
                    after: str | None) -> dict[str, Any]:
    """Everything a code action needs about a finding, in client units (plain JSON)."""
    fix = None
    if finding.fix is not None:
        fix = {
            "applicability": finding.fix.applicability,
            "message": finding.fix.message,
            "edits": [{"range": range_to_json(index.range(e.span.start, e.span.end)),
                       "newText": e.content}
                      for e in (finding.fix.edits if finding.fix.automatic else ())],
        }
    return {
        "code": finding.code,
        "fingerprint": finding.fingerprint,
        "title": finding.title,
        "matched": finding.matched,
        "version": version,
        "line": finding.span.start.line + 1,
        "before": before,
        "after": after,
        "fix": fix,
    }


def to_diagnostic(finding: Finding, where: LineIndex | types.Range,
                  data: dict[str, Any]) -> types.Diagnostic:
    """The diagnostic of a finding; `where`: the document's LineIndex, or the finding's range in
    client units when it is known already."""
    return types.Diagnostic(
        range=where.range(finding.span.start, finding.span.end) if isinstance(where, LineIndex)
        else where,
        severity=SEVERITY.get(finding.severity, types.DiagnosticSeverity.Warning),
        code=finding.code,
        code_description=types.CodeDescription(href=finding.url) if finding.url else None,
        source=SOURCE,
        message=finding.message,
        data=data,
    )


def text_edits(fix_data: Any) -> list[types.TextEdit]:
    """The TextEdits of a diagnostic's `data.fix` (empty when it has none or is malformed)."""
    if not isinstance(fix_data, dict):
        return []
    edits = []
    for raw in fix_data.get("edits") or []:
        try:
            new_text = raw["newText"]
            if not isinstance(new_text, str):
                return []
            edits.append(types.TextEdit(range=range_from_json(raw["range"]), new_text=new_text))
        except (KeyError, TypeError, ValueError):
            return []
    return edits


def contains(r: types.Range, pos: types.Position) -> bool:
    """`pos` lies in `r`, both ends included (a cursor just after a name is still on it)."""
    return ((r.start.line, r.start.character) <= (pos.line, pos.character)
            <= (r.end.line, r.end.character))
