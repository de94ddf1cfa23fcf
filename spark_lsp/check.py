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
    """Apply fixes (safe, and unsafe when asked) in rounds; a round that breaks parsing is dropped."""
    messages: list[str] = []
    applied = 0
    original = text
    for _ in range(5):
        fixable = [f for f in findings if f.fix is not None and f.fix.automatic
                   and (f.fix.applicability == "safe" or unsafe)]
        if not fixable:
            break
        new_text = apply_edits(text, [e for f in fixable for e in f.fix.edits])  # type: ignore[union-attr]
        if parses(text) and not parses(new_text):
            # Try the fixes one by one, keeping those that keep the file parsing.
            new_text, kept = text, 0
            for f in fixable:
                candidate = apply_edits(new_text, list(f.fix.edits))  # type: ignore[union-attr]
                if parses(candidate):
                    new_text, kept = candidate, kept + 1
                else:
                    messages.append(f"{path}:{f.span.start.line + 1}: {f.code} fix dropped: "
                                    "it would leave the file unparsable")
            if kept == 0:
                break
        if new_text == text:
            break
        applied += sum(1 for _ in fixable)
        text = new_text
        findings = analyzer.analyze(text, str(path))
    if text != original:
        path.write_text(text, encoding="utf-8")
    return findings, applied, messages
