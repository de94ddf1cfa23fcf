"""Shared by the real-editor tests: prerequisites that skip (or fail in CI), the workspace with a
known mistake, and the trace check.

Set SPARK_REQUIRE_EDITOR_TESTS=1 (as .ci/run does) to turn a missing editor, browser or node into a
failure instead of a skip.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output"
REQUIRED = os.environ.get("SPARK_REQUIRE_EDITOR_TESTS") == "1"

# One known mistake (SPK001: `.values` on a DataFrame, safe fix `.to_numpy()`), with a non-ASCII
# name before it on its line so that UTF-8, UTF-16 and code-point columns all differ.
MISTAKE = 'import pandas as pd\n\ndf = pd.read_csv("ventes.csv")\ndonnées = df.values\n'
FIXED = 'import pandas as pd\n\ndf = pd.read_csv("ventes.csv")\ndonnées = df.to_numpy()\n'
CODE = "SPK001"


def require(condition: object, reason: str) -> None:
    """Skip with `reason` when `condition` is false; fail instead when editor tests are required."""
    if condition:
        return
    if REQUIRED:
        pytest.fail(f"{reason} (SPARK_REQUIRE_EDITOR_TESTS=1: the editor tests must run)")
    pytest.skip(reason)


def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "workspace"
    root.mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "ventes"\nversion = "0"\n')
    (root / "analysis.py").write_text(MISTAKE, encoding="utf-8")
    return root


def editor_env(tmp_path: Path, spark_home: Path) -> dict[str, str]:
    """The environment for the editor: its own XDG folders and SPARK_HOME; this Python's `spark`
    first on PATH."""
    env = dict(os.environ)
    xdg = tmp_path / "xdg"
    for name in ("CONFIG", "DATA", "STATE", "CACHE"):
        folder = xdg / name.lower()
        folder.mkdir(parents=True, exist_ok=True)
        env[f"XDG_{name}_HOME"] = str(folder)
    env["SPARK_HOME"] = str(spark_home)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def output_dir(editor: str) -> Path:
    folder = OUTPUT / editor
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def run_nvim_script(nvim: str, script: Path, cwd: Path, env: dict[str, str],
                    out: Path) -> dict[str, Any]:
    """Run a headless Neovim test script that writes its steps to $SPARK_TEST_REPORT (set in
    `env`); keep its output in `out`/nvim.log; fail with the first failed step. The report."""
    report_file = Path(env["SPARK_TEST_REPORT"])
    done = subprocess.run([nvim, "--headless", "-u", "NONE", "-l", str(script)], check=False,
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=180)
    (out / "nvim.log").write_text(done.stdout + done.stderr)
    report = json.loads(report_file.read_text()) if report_file.exists() else {}
    error = next((s["error"] for s in report.get("steps", []) if not s["ok"]), done.stderr[-2000:])
    assert done.returncode == 0 and not report.get("failed"), (
        f"nvim failed at step {report.get('failed')!r}: {error}")
    return report


def traces(spark_home: Path, **filters: str) -> list[dict[str, Any]]:
    """`spark traces list --format json` against the editor's SPARK_HOME."""
    args = [sys.executable, "-m", "spark_lsp", "traces", "list", "--format", "json",
            "--limit", "100"]
    for key, value in filters.items():
        args += [f"--{key}", value]
    env = {**os.environ, "SPARK_HOME": str(spark_home)}
    done = subprocess.run(args, check=False, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def wait_for_trace(spark_home: Path, timeout: float = 20.0, **filters: str) -> list[dict[str, Any]]:
    """Traces matching `filters`, waiting for the server's journal writes to land."""
    deadline = time.monotonic() + timeout
    while True:
        found = traces(spark_home, **filters)
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.5)
