"""`spark check`: find Python files, analyse them, apply fixes; shared by the CLI and MCP."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from spark_lsp.analysis import AnalysisOptions, Analyzer, installed_versions, load_default_cards
from spark_lsp.analysis.cards import Card
from spark_lsp.analysis.findings import Finding
from spark_lsp.analysis.fixes import apply_edits, parses
from spark_lsp.analysis.source import decode_source
from spark_lsp.config import Settings

log = logging.getLogger(__name__)

SKIP_DIRS = {".git", ".hg", ".venv", "venv", "node_modules", "__pycache__", ".tox", ".mypy_cache",
             ".ruff_cache", "build", "dist", "site-packages", ".eggs"}
MAX_FILE_BYTES = 5 * 1024 * 1024


@dataclass
class CheckResult:
    findings: list[Finding] = field(default_factory=list)
    fixed: int = 0
    files: int = 0
    messages: list[str] = field(default_factory=list)  # warnings for stderr
    errors: list[str] = field(default_factory=list)  # errors (exit code 2)


def iter_python_files(paths: list[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_file():
            yield path
        elif path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
                for name in sorted(files):
                    if name.endswith((".py", ".pyi")):
                        yield Path(root) / name


def make_analyzer(settings: Settings, memory_cards: list[Card] | None = None
                  ) -> tuple[Analyzer, dict[str, Card], list[str]]:
    """An analyzer over the seed cards, the settings' card folders and a team memory's cards
    (a memory card reusing a built-in code is skipped: the built-in card wins)."""
    cards, problems = load_default_cards(settings.cards)
    if memory_cards:
        codes = {c.code for c in cards}
        cards = cards + [c for c in memory_cards if c.code not in codes]
    options = AnalysisOptions(
        select=set(settings.select) if settings.select else None,
        ignore=set(settings.ignore),
        severity=dict(settings.severity),
        versions={**installed_versions(), **settings.versions},
    )
    return Analyzer(cards, options), {c.code: c for c in cards}, [str(p) for p in problems]


def check_paths(paths: list[Path], settings: Settings, fix: bool = False,
                unsafe_fixes: bool = False, analyzer: Analyzer | None = None) -> CheckResult:
    result = CheckResult()
    if analyzer is None:
        analyzer, _, problems = make_analyzer(settings)
        result.messages += [f"skipped card: {p}" for p in problems]
    for path in paths:
        if not path.exists():
            result.errors.append(f"{path}: no such file or directory")
    for path in iter_python_files(paths):
        result.files += 1
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                result.messages.append(f"{path}: larger than {MAX_FILE_BYTES} bytes; skipped")
                continue
            data = path.read_bytes()
        except OSError as exc:
            result.errors.append(f"{path}: cannot read: {exc.strerror or exc}")
            continue
        text, warning = decode_source(data)
        if warning:
            result.messages.append(f"{path}: {warning}")
        findings = analyzer.analyze(text, str(path))
        if fix and warning is None:
            findings, count, msgs = _fix_file(path, text, findings, analyzer, unsafe_fixes)
            result.fixed += count
            result.messages += msgs
        result.findings += findings
    return result


def _fix_file(path: Path, text: str, findings: list[Finding], analyzer: Analyzer,
              unsafe: bool) -> tuple[list[Finding], int, list[str]]:
    """Apply fixes (safe, and unsafe when asked) and write the file when it changed."""
    fixed = fix_text(text, analyzer, unsafe, filename=str(path), findings=findings)
    if fixed.text != text:
        path.write_text(fixed.text, encoding="utf-8")
    messages = [f"{path}:{f.span.start.line + 1}: {f.code} fix dropped: "
                "it would leave the file unparsable" for f in fixed.dropped]
    return fixed.findings, len(fixed.applied), messages


@dataclass
class FixedText:
    text: str
    applied: list[Finding]  # the findings whose fixes were applied, round by round
    dropped: list[Finding]  # fixes left out because they would break parsing
    findings: list[Finding]  # what is left after the last round


def fix_text(text: str, analyzer: Analyzer, unsafe: bool = False, filename: str = "",
             findings: list[Finding] | None = None, first_line: int = 0) -> FixedText:
    """`spark check --fix` on a text: fixes (safe, and unsafe when asked) in rounds; a round that
    breaks parsing is retried fix by fix. Only findings from `first_line` (0-based) on are fixed,
    so a caller can put context (a problem's setup code) above the code to fix; lines that fixes
    insert above it (imports) move it down."""
    applied: list[Finding] = []
    dropped: list[Finding] = []
    if findings is None:
        findings = analyzer.analyze(text, filename)
    for _ in range(5):
        fixable = [f for f in findings if f.fix is not None and f.fix.automatic
                   and (f.fix.applicability == "safe" or unsafe)
                   and f.span.start.line >= first_line]
        if not fixable:
            break
        new_text = apply_edits(text, [e for f in fixable for e in f.fix.edits])  # type: ignore[union-attr]
        kept = list(fixable)
        if parses(text) and not parses(new_text):
            # Try the fixes one by one, keeping those that keep the file parsing.
            new_text, kept = text, []
            for f in fixable:
                candidate = apply_edits(new_text, list(f.fix.edits))  # type: ignore[union-attr]
                if parses(candidate):
                    new_text = candidate
                    kept.append(f)
                else:
                    dropped.append(f)
            if not kept:
                break
        if new_text == text:
            break
        first_line += _lines_inserted_above(kept, first_line)
        applied += kept
        text = new_text
        findings = analyzer.analyze(text, filename)
    return FixedText(text, applied, dropped, findings)


def _lines_inserted_above(fixed: list[Finding], line: int) -> int:
    """How far edits above `line` (import insertions) push it down."""
    edits = {e for f in fixed for e in f.fix.edits if e.span.end.line < line}  # type: ignore[union-attr]
    return sum(e.content.count("\n") - (e.span.end.line - e.span.start.line) for e in edits)
