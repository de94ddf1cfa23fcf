"""Build fix edits from a card's template, and apply edits to text safely."""

from __future__ import annotations

import ast
import logging
import re

from spark_lsp.analysis.cards import FixSpec, render, template_vars
from spark_lsp.analysis.context import MODULE_VARS, FileContext
from spark_lsp.analysis.findings import Edit, Fix, Position, Span

log = logging.getLogger(__name__)
_EMPTY = "\x00EMPTY\x00"


def build_fix(spec: FixSpec, ctx: FileContext, span: Span, values: dict[str, str],
              indent: str) -> Fix:
    """A Fix for `span` from `spec`; display-only when the card has no template."""
    if not spec.template or spec.applicability == "display":
        return Fix("display", spec.description)
    values = dict(values)
    imports = list(spec.imports)
    for name, _multi in template_vars(spec.template):
        if name in MODULE_VARS and name not in values:
            alias, import_line = ctx.module_alias(name)
            values[name] = alias
            if import_line:
                imports.append(import_line)
    for name, multi in template_vars(spec.template):
        if multi and values.get(name, "") == "":
            values[name] = _EMPTY
    content = _clean_empty(render(spec.template, values))
    if "\n" in content:
        first, *rest = content.split("\n")
        content = "\n".join([first] + [indent + ln if ln else ln for ln in rest])
    edits = [Edit(span, content)]
    edits += import_edits(ctx, imports)
    return Fix(spec.applicability, spec.description, tuple(edits))


def _clean_empty(text: str) -> str:
    text = re.sub(r"\(\s*" + _EMPTY + r"\s*,\s*", "(", text)
    text = re.sub(r",\s*" + _EMPTY + r"\s*\)", ")", text)
    text = re.sub(r",\s*" + _EMPTY, "", text)
    return text.replace(_EMPTY, "")


def import_edits(ctx: FileContext, imports: list[str]) -> list[Edit]:
    """Insert the import lines the file lacks, after its existing top-level imports."""
    missing = []
    for line in dict.fromkeys(imports):
        try:
            node = ast.parse(line).body[0]
        except (SyntaxError, IndexError):
            continue
        names = ([(a.asname or a.name, a.name) for a in node.names]
                 if isinstance(node, ast.Import) else
                 [(a.asname or a.name, f"{node.module}.{a.name}") for a in node.names]
                 if isinstance(node, ast.ImportFrom) else [])
        if not all(ctx.facts.imports.get(alias) == qual for alias, qual in names):
            missing.append(line)
    if not missing:
        return []
    pos = Position(import_row(ctx), 0)
    return [Edit(Span(pos, pos), "".join(m + "\n" for m in missing))]


def import_row(ctx: FileContext) -> int:
    """The line where missing imports go (once per analysis)."""
    whole = ctx.whole
    row: int | None = whole.memo.get("import_row")
    if row is None:
        row = whole.memo["import_row"] = _import_insertion_line(whole.lines)
    return row


def _import_insertion_line(lines: list[str]) -> int:
    """After leading comments, the module docstring and the first run of top-level imports."""
    i, n = 0, len(lines)
    while i < n and lines[i].startswith("#"):
        i += 1
    row = i
    if i < n and lines[i].lstrip()[:3] in ('"""', "'''"):
        quote = lines[i].lstrip()[:3]
        j = i if lines[i].count(quote) >= 2 else next(
            (k for k in range(i + 1, n) if quote in lines[k]), n - 1)
        i = row = j + 1
    depth = 0
    while i < n:
        line = lines[i]
        if depth > 0:
            depth += line.count("(") - line.count(")")
            if depth <= 0:
                row = i + 1
        elif line.startswith(("import ", "from ")):
            depth = line.count("(") - line.count(")")
            if depth <= 0:
                row = i + 1
        elif line.strip() and not line.startswith("#"):
            break
        i += 1
    return row


def offset_of(text: str, line_starts: list[int], pos: Position) -> int:
    if pos.line >= len(line_starts):
        return len(text)
    return min(line_starts[pos.line] + pos.column, len(text))


_BREAK = re.compile(r"\r\n|\r|\n")


def line_starts(text: str) -> list[int]:
    """Offsets where lines start; lines break at \\r\\n, \\r and \\n (as LSP and Python)."""
    return [0] + [m.end() for m in _BREAK.finditer(text)]


def apply_edits(text: str, edits: list[Edit]) -> str:
    """Apply non-overlapping edits (later ones first); overlapping edits are skipped, and so
    are repeats (two findings whose fixes need the same import insert it once)."""
    starts = line_starts(text)
    spans = sorted(((offset_of(text, starts, e.span.start), offset_of(text, starts, e.span.end), e)
                    for e in dict.fromkeys(edits)), key=lambda t: (t[0], t[1]))
    chosen, last_end = [], -1
    for start, end, edit in spans:
        if start < last_end:
            continue
        chosen.append((start, end, edit))
        last_end = max(end, start)
    out = text
    for start, end, edit in reversed(chosen):
        out = out[:start] + edit.content + out[end:]
    return out


def parses(text: str) -> bool:
    try:
        ast.parse(text)
        return True
    except (SyntaxError, ValueError):
        return False


_PARSE_CACHE: dict[str, bool] = {}


def parses_cached(text: str) -> bool:
    ok = _PARSE_CACHE.get(text)
    if ok is None:
        if len(_PARSE_CACHE) > 20_000:
            _PARSE_CACHE.clear()
        ok = _PARSE_CACHE[text] = parses(text)
    return ok


def fix_keeps_parse(block_text: str, block_start: int, fix: Fix) -> bool:
    """A fix may not turn a parsing block into a broken one.

    Only the top-level block that holds the fix is re-parsed (blocks start in column 0, so each
    parses on its own); import insertions are whole import lines. A block that does not parse
    yet (half-typed code) is not judged: the edit is local and tree-sitter has read it.
    """
    if not parses_cached(block_text):
        return True
    n_lines = block_text.count("\n") + 1
    local = [Edit(Span(Position(e.span.start.line - block_start, e.span.start.column),
                       Position(e.span.end.line - block_start, e.span.end.column)), e.content)
             for e in fix.edits
             if block_start <= e.span.start.line and e.span.end.line < block_start + n_lines]
    if not local:
        return True
    return parses_cached(apply_edits(block_text, local))
