"""Spark's VS Code extension (editor/vscode) in a real VS Code: code-server in headless Chromium.

The extension is built (`npm ci`, `npm run package` -> spark.vsix) and installed into a fresh
code-server (`--install-extension`), which serves a workspace holding a file with a known mistake
on 127.0.0.1 without auth. `editor/vscode/test/e2e/drive.mjs` drives it with playwright-core and
Debian's chromium: the diagnostic (squiggle and Problems panel), the hover, "Spark: Explain This
Finding", the quick fix, save, "Spark: Show My Team's Stats" — a screenshot per step in
test-output/vscode/. Then another extension's diagnostics: a tiny test extension
(editor/vscode/test/fake-linter, installed beside Spark's) publishes Pylance-worded errors through
`vscode.languages.createDiagnosticCollection`; Spark's extension forwards them
(`spark/otherDiagnostics`) and the driver checks Spark's hover on one and applies "Spark: how to fix
this" on the other. This test then checks what the driver saw, the file on disk and the trace.

code-server is installed once, outside the repository, by
editor/vscode/scripts/install-code-server.sh (.ci/run runs it).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from editor_support import (
    CODE,
    FIXED,
    ROOT,
    editor_env,
    output_dir,
    require,
    wait_for_trace,
    workspace,
)

EXTENSION = ROOT / "editor" / "vscode"
INSTALL = EXTENSION / "scripts" / "install-code-server.sh"
DRIVER = EXTENSION / "test" / "e2e" / "drive.mjs"
FAKE_LINTER = EXTENSION / "test" / "fake-linter"
# Pylance would flag both last lines (pandas 3 has no DataFrame.append; `np` is not imported).
FRAMES = ("import pandas as pd\n\n"
          'sales = pd.read_csv("sales.csv")\n'
          'extra = pd.DataFrame({"a": [3]})\n'
          "sales = sales.append(extra, ignore_index=True)\n"
          'total = np.sum(sales["a"])\n')

USER_SETTINGS = {
    "workbench.startupEditor": "none",
    "workbench.tips.enabled": False,
    "workbench.enableExperiments": False,
    "workbench.secondarySideBar.defaultVisibility": "hidden",
    "telemetry.telemetryLevel": "off",
    "update.mode": "none",
    "extensions.autoCheckUpdates": False,
    "extensions.autoUpdate": False,
    "security.workspace.trust.enabled": False,
    "chat.commandCenter.enabled": False,
    "editor.hover.delay": 200,
    "spark.trace.server": "verbose",  # the LSP traffic, in test-output/vscode/spark-output-*.log
}


def chromium() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def node_major() -> int:
    node = shutil.which("node")
    if node is None:
        return 0
    out = subprocess.run([node, "-p", "process.versions.node"], check=False, capture_output=True,
                         text=True, timeout=30)
    return int(out.stdout.split(".")[0]) if out.returncode == 0 else 0


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 300) -> str:
    done = subprocess.run(args, check=False, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, (
        f"{' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def build_vsix() -> Path:
    """`npm ci` (when node_modules is missing or stale), then `npm run package` (typecheck,
    bundle, vsce)."""
    lock = EXTENSION / "package-lock.json"
    installed = EXTENSION / "node_modules" / ".package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        run(["npm", "ci", "--no-audit", "--no-fund"], EXTENSION)
    run(["npm", "run", "package"], EXTENSION)
    vsix = EXTENSION / "spark.vsix"
    assert vsix.is_file()
    return vsix


def build_fake_linter(out: Path) -> Path:
    """The test extension that publishes Pylance-worded diagnostics, packaged by vsce."""
    vsix = out / "fake-linter.vsix"
    run([str(EXTENSION / "node_modules" / ".bin" / "vsce"), "package", "--no-dependencies",
         "--allow-missing-repository", "--skip-license", "-o", str(vsix)], FAKE_LINTER)
    return vsix


def build_docs_kb(env: dict[str, str]) -> bool:
    """A small documentation knowledge base (PyYAML's docs, ~15 s) for "Search Docs", when this
    Spark has `spark kb build`; False when it has not."""
    spark = [sys.executable, "-m", "spark_lsp"]
    probe = subprocess.run([*spark, "kb", "build", "--help"], check=False, capture_output=True,
                           env=env, timeout=60)
    if probe.returncode != 0:
        return False
    run([*spark, "kb", "build", "--libraries", "yaml", "--no-progress"], ROOT, env, timeout=600)
    return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_http(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"code-server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"code-server did not answer {url} in {timeout} s")


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """Stop code-server and everything it started (its own process group)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # extension host, file watchers, spark serve
    except ProcessLookupError:
        pass


def test_vscode_end_to_end(tmp_path: Path, spark_home: Path) -> None:
    require(shutil.which("node") and shutil.which("npm"), "node and npm are not installed")
    require(node_major() == 20, f"code-server 4.100.3 needs node 20, found node {node_major()}")
    browser = chromium()
    require(browser, "chromium is not installed (apt-get install chromium)")
    check = subprocess.run(["bash", str(INSTALL), "--check"], check=False, capture_output=True,
                           text=True, timeout=30)
    require(check.returncode == 0, f"code-server is not installed: run "
            f"{INSTALL.relative_to(ROOT)} ({check.stderr.strip()})")
    code_server = check.stdout.strip().splitlines()[-1]

    started = time.monotonic()
    vsix = build_vsix()
    timings = {"build": time.monotonic() - started}

    root = workspace(tmp_path)
    (root / "frames.py").write_text(FRAMES, encoding="utf-8")
    out = output_dir("vscode")
    fake_linter = build_fake_linter(tmp_path)
    user_data, extensions = tmp_path / "user-data", tmp_path / "extensions"
    (user_data / "User").mkdir(parents=True)
    # spark.interpreter exercises the extension's discovery: `spark` beside this interpreter.
    settings = {**USER_SETTINGS, "spark.interpreter": sys.executable}
    (user_data / "User" / "settings.json").write_text(json.dumps(settings, indent=2))
    env = editor_env(tmp_path, spark_home)
    common = ["--user-data-dir", str(user_data), "--extensions-dir", str(extensions)]

    step = time.monotonic()
    kb_built = build_docs_kb(env)
    timings["docs knowledge base"] = time.monotonic() - step

    step = time.monotonic()
    run(["node", code_server, *common, "--install-extension", str(vsix),
         "--install-extension", str(fake_linter)], ROOT, env, timeout=120)
    timings["install extension"] = time.monotonic() - step

    port = free_port()
    log = (out / "code-server.log").open("wb")
    server = subprocess.Popen(
        ["node", code_server, "--auth", "none", "--bind-addr", f"127.0.0.1:{port}", *common,
         "--disable-telemetry", "--disable-update-check", "--disable-workspace-trust",
         "--disable-getting-started-override", str(root)],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", server)
        step = time.monotonic()
        drive_env = {**env, "SPARK_VSCODE_URL": f"http://127.0.0.1:{port}/?folder={root}",
                     "SPARK_TEST_FILE": "analysis.py", "SPARK_TEST_OUT": str(out),
                     "SPARK_TEST_CODE": CODE, "SPARK_TEST_FIXED": "données = df.to_numpy()",
                     "CHROMIUM": str(browser),
                     "SPARK_TEST_WORKSPACE": str(root),
                     "SPARK_TEST_SEARCH": "safe_load untrusted",
                     "SPARK_TEST_SEARCH_EXPECT": "yaml.",
                     "SPARK_TEST_OTHER_FILE": "frames.py"}
        done = subprocess.run(["node", str(DRIVER)], check=False, cwd=EXTENSION, env=drive_env,
                              capture_output=True, text=True, timeout=300)
        timings["drive"] = time.monotonic() - step
        report_file = out / "report.json"
        report = json.loads(report_file.read_text()) if report_file.exists() else {}
        spark_logs = sorted(user_data.glob("logs/*/exthost*/spark-lsp.spark-lsp/Spark.log"))
        for i, spark_log in enumerate(spark_logs):
            shutil.copy(spark_log, out / f"spark-output-{i}.log")
        assert done.returncode == 0 and not report.get("failed"), (
            f"VS Code failed at step {report.get('failed')!r}: "
            f"{next((s['error'] for s in report.get('steps', []) if not s['ok']), '')}\n"
            f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}\n(screenshots and logs in {out})")
    finally:
        stop_group(server)
        log.close()
    (out / "timings.json").write_text(json.dumps(timings, indent=2))

    # What the editor showed.
    assert report["statusBar"]["text"].endswith("Spark")
    assert "ready" in report["statusBar"]["label"]
    assert "squiggly-" in report["squiggleClass"]
    problems = report["problems"]
    assert any(CODE in row and "Ln 4, Col 11" in row for row in problems), problems
    assert report["problemsBadge"] == "1"
    assert "SPK001 · Use .to_numpy()" in report["hover"] and "Why:" in report["hover"]
    assert "données = df.to_numpy()" in report["hover"]  # the user's own line, fixed
    assert "Why:" in report["explain"]
    assert report["chosenAction"].startswith(f"{CODE}: ")
    assert f"Dismiss {CODE} here" in report["codeActions"]
    assert f"Disable {CODE} in this workspace" in report["codeActions"]
    assert "données = df.to_numpy()" in report["editorText"]
    assert "Suggestions and what happened" in report["stats"]
    assert "accepted\t1" in report["stats"], report["stats"]  # the quick fix, merged and counted
    search = report["search"]
    if kb_built:  # real hits from `spark search`, and the first one opened
        assert any("yaml.safe_load" in row for row in search.get("results", [])), search
        assert "yaml." in search["preview"]
    else:  # a Spark without `spark search` says so
        assert "no docs search yet" in search.get("message", ""), search
    # Started once, then again by "Spark: Restart Server" (the settings step applies live).
    log = "".join(p.read_text() for p in out.glob("spark-output-*.log"))
    assert log.count("starting ") == 2, log
    for name in ("1-diagnostic", "2-hover", "3-explain", "4-quickfix-menu", "5-fixed", "6-stats",
                 "7-search", *(["7-search-preview"] if kb_built else [])):
        assert (out / f"{name}.png").stat().st_size > 10_000

    # Another extension's diagnostics, forwarded: Spark's hover section on the `np` error (no
    # Spark finding there), and its fix applied from Pylance's `append` error.
    assert any("Pylance" in row for row in report["otherProblems"]), report["otherProblems"]
    hover = report["otherHover"]
    assert '"np" is not defined' in hover and "Spark:" in hover and "SPK060" in hover, hover
    assert "Sources:" in hover
    assert any(a.startswith("Spark: how to fix this") for a in report["otherActions"])
    assert report["otherChosenAction"].startswith("Spark: how to fix this")
    assert "sales = pd.concat([sales, extra], ignore_index=True)" in report["otherEditorText"]
    assert "spark/otherDiagnostics" in log and "Pylance" in log
    assert (out / "8-other-hover.png").stat().st_size > 10_000
    assert wait_for_trace(spark_home, code="SPK004", outcome="accepted"), "no SPK004 trace"

    # The quick fix reached the disk, and the server recorded that it was accepted.
    assert (root / "analysis.py").read_text(encoding="utf-8") == FIXED
    accepted = wait_for_trace(spark_home, code=CODE, outcome="accepted")
    assert accepted, "no accepted trace in the journal"
    assert accepted[0]["before"] == "données = df.values"
    assert accepted[0]["after"] == "données = df.to_numpy()"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-v"]))
