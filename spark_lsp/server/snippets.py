"""The code a finding is about, before and after its fix, as a few lines of the user's file.

Lines here are the analyser's (`str.splitlines()`), the model finding spans are in. Fixed lines
are computed on the finding's own lines only, so a 20,000-line file costs nothing extra.
"""

from __future__ import annotations

from spark_lsp.analysis.findings import Edit, Finding, Position, Span
from spark_lsp.analysis.fixes import apply_edits

CONTEXT_LINES = 2
MAX_WINDOW_LINES = 16


def finding_lines(lines: list[str], finding: Finding) -> str:
    """The whole lines the finding spans."""
    return "\n".join(lines[finding.span.start.line:finding.span.end.line + 1])


def fixed_lines(lines: list[str], finding: Finding, other_edits: bool = True) -> str | None:
    """The finding's lines with its fix applied, or None when the fix is not automatic.

    Edits outside those lines (an added import) are shown first, as they would read, unless
    `other_edits` is false.
    """
    fix = finding.fix
    if fix is None or not fix.automatic:
        return None
    first, last = finding.span.start.line, finding.span.end.line
    local, elsewhere = [], []
    for edit in fix.edits:
        if first <= edit.span.start.line and edit.span.end.line <= last:
            local.append(Edit(Span(Position(edit.span.start.line - first, edit.span.start.column),
                                   Position(edit.span.end.line - first, edit.span.end.column)),
                              edit.content))
        else:
            elsewhere.append(edit.content)
    if not local:
        return None
    fixed = apply_edits(finding_lines(lines, finding), local)
    return ("".join(elsewhere) if other_edits else "") + fixed


def window(lines: list[str], start: int, end: int, context: int = CONTEXT_LINES) -> str:
    """Lines [start, end) with `context` lines either side, at most MAX_WINDOW_LINES of the core."""
    end = min(max(end, start), start + MAX_WINDOW_LINES)
    return "\n".join(lines[max(0, start - context):end + context])


def normalized(code: str) -> str:
    """Code with whitespace removed, to compare two spellings of the same expression."""
    return "".join(code.split())
