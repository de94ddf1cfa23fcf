"""A card's examples are its tests: bad is flagged, good is not, the fix turns bad into good."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass

from spark_lsp.analysis.cards import Card, Example
from spark_lsp.analysis.engine import AnalysisOptions, Analyzer
from spark_lsp.analysis.fixes import apply_edits

MAX_FIX_ROUNDS = 5


def fix_code(analyzer: Analyzer, text: str, code: str, unsafe: bool = True) -> str:
    """Apply the card's automatic fixes until none is left (ruff-style fix loop)."""
    for _ in range(MAX_FIX_ROUNDS):
        edits = []
        for f in analyzer.analyze(text):
            if f.code != code or f.fix is None or not f.fix.automatic:
                continue
            if f.fix.applicability == "unsafe" and not unsafe:
                continue
            edits.extend(f.fix.edits)
        if not edits:
            break
        text = apply_edits(text, edits)
    return text


@dataclass
class RunResult:
    returncode: int
    stdout: str
    stderr: str
    missing_module: str | None = None


def run_snippet(code: str, timeout: float = 60.0) -> RunResult:
    """Run a snippet in a fresh interpreter (Agg backend, temp cwd) and capture its output."""
    with tempfile.TemporaryDirectory(prefix="spark-example-") as tmp:
        env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONHASHSEED": "0",
               "PYTHONWARNINGS": "ignore", "TF_CPP_MIN_LOG_LEVEL": "3"}
        proc = subprocess.run([sys.executable, "-c", code], cwd=tmp, env=env, timeout=timeout,
                              capture_output=True, text=True)
    missing = None
    if proc.returncode != 0 and "ModuleNotFoundError: No module named" in proc.stderr:
        missing = proc.stderr.rsplit("No module named", 1)[1].strip().strip("'").split("'")[0]
    return RunResult(proc.returncode, proc.stdout, proc.stderr, missing)


def analyzer_for(card: Card) -> Analyzer:
    """An analyzer with this card alone, whatever the installed versions."""
    return Analyzer([card], AnalysisOptions())


def expected_fix(card: Card, example: Example) -> str:
    return example.fixed if example.fixed is not None else example.good
