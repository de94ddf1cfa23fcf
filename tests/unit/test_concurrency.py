"""Four writer processes through the real journal while merges and a memory import run; one
writer is SIGKILLed half-way. Every acknowledged trace ends up in the knowledge base exactly
once, nothing is left unmerged, nothing is corrupt, and the knowledge base opens.
(`benchmarks/bench_concurrency.py` with smaller numbers.)"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_concurrency.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_concurrency", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_writers_merges_import_and_a_killed_writer(tmp_path):
    figures = load_bench().run(tmp_path / "home", writers=4, outcomes=80, kill_after=25,
                               memory_outcomes=50)
    assert figures["killed_writer_acked"] is not None  # the kill happened mid-way
    assert figures["acknowledged"] >= 3 * 80 + 25
    assert figures["missing"] == 0
    assert figures["duplicated"] == 0
    assert figures["unacknowledged_stored"] <= 1  # appended, killed before its ack was written
    assert figures["memory_outcomes"] == 50
    assert figures["journal_pending_lines"] == 0 and figures["set_aside_lines"] <= 1
    assert figures["kb_readable"] and figures["secrets_in_kb"] == 0
    assert figures["merges_during_run"] >= 1 and len(figures["import_seconds"]) == 2
    assert figures["ok"]
