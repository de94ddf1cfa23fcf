"""`spark check` time and LSP didChange -> publishDiagnostics latency, with ruff side by side.

    python benchmarks/bench_lsp.py [--edits 60] [--sizes 200,2000,20000]

For each size it writes a realistic data-science module (functions over pandas/NumPy/sklearn with
a few known mistakes), then measures: `spark check` (a real process, and in-process analysis
alone), `ruff check` (a real process), and in a real `spark serve` process the latency from each
incremental `didChange` to the `publishDiagnostics` for that version (p50/p99 over the edits).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lspclient import LspClient  # noqa: E402

HEADER = '''"""Generated benchmark module."""
import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

'''
CHUNK = '''

def load_{i}(path):
    frame = pd.read_csv(path)
    frame = frame.dropna(subset=["price"])
    frame["total_{i}"] = frame["price"] * frame["quantity"]
    frame["region"] = frame["region"].str.lower()
    summary = frame.groupby("region").agg(total=("total_{i}", "sum"))
    return summary.reset_index()


def features_{i}(frame):
    values = frame.values
    ranks = np.argsort(values[:, 0])
    scaled = (values - values.mean(axis=0)) / values.std(axis=0)
    return scaled[ranks]


class Model{i}:
    def __init__(self, alpha={i}):
        self.alpha = alpha
        self.scaler = StandardScaler()

    def fit(self, X, y):
        X_train, X_test, y_train, y_test = train_test_split(X, y, random_state={i})
        self.scaler.fit(X_train)
        self.coef_ = np.linalg.lstsq(self.scaler.transform(X_train), y_train, rcond=None)[0]
        return self
'''


def make_module(lines: int) -> str:
    out, i = [HEADER], 0
    while sum(part.count("\n") for part in out) < lines:
        out.append(CHUNK.format(i=i))
        i += 1
    text = "".join(out)
    return "\n".join(text.split("\n")[:lines]) + "\n"


def timed(cmd: list[str], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(cmd, capture_output=True)
        best = min(best, time.perf_counter() - t)
    return best


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def lsp_latency(path: Path, text: str, edits: int) -> tuple[float, float, float]:
    client = LspClient(env={"SPARK_TRACE": "0"})
    try:
        client.initialize(path.parent.as_uri())
        uri = path.as_uri()
        t = time.perf_counter()
        client.notify("textDocument/didOpen", {"textDocument": {
            "uri": uri, "languageId": "python", "version": 1, "text": text}})
        client.wait_for("textDocument/publishDiagnostics",
                        lambda m: m["params"]["uri"] == uri, timeout=300)
        first = time.perf_counter() - t
        lines = text.split("\n")
        target = len(lines) // 2
        while "=" not in lines[target]:
            target += 1
        col = len(lines[target])
        latencies = []
        for k in range(edits):
            version = k + 2
            new = f"  # edit {k}"
            start = col if k == 0 else col
            end = col if k == 0 else col + len(f"  # edit {k - 1}")
            t = time.perf_counter()
            client.notify("textDocument/didChange", {
                "textDocument": {"uri": uri, "version": version},
                "contentChanges": [{"range": {"start": {"line": target, "character": start},
                                              "end": {"line": target, "character": end}},
                                    "text": new}]})
            msg = client.wait_for("textDocument/publishDiagnostics",
                                  lambda m: m["params"]["uri"] == uri
                                  and m["params"].get("version", version) >= version, timeout=60)
            latencies.append((msg["_t"] - t) * 1000)
        return first * 1000, pct(latencies, 0.5), pct(latencies, 0.99)
    finally:
        client.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--edits", type=int, default=60)
    ap.add_argument("--sizes", default="200,2000,20000")
    args = ap.parse_args()
    from spark_lsp.check import make_analyzer
    from spark_lsp.config import Settings

    analyzer, _, _ = make_analyzer(Settings())
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"{'lines':>6} {'findings':>8} {'analyze ms':>10} {'spark check s':>13} {'ruff s':>7} "
          f"{'lsp open ms':>11} {'p50 ms':>7} {'p99 ms':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        for size in map(int, args.sizes.split(",")):
            text = make_module(size)
            path = Path(tmp) / f"module_{size}.py"
            path.write_text(text)
            analyzer.analyze(text)  # warm
            t = time.perf_counter()
            findings = Analyzer_fresh(text)
            cold = (time.perf_counter() - t) * 1000
            check_s = timed([sys.executable, "-m", "spark_lsp", "check", str(path), "--format", "json"])
            ruff_s = timed([sys.executable, "-m", "ruff", "check", "--isolated", "--no-cache",
                            "--select", "ALL", str(path), "--exit-zero", "-q"])
            first, p50, p99 = lsp_latency(path, text, args.edits)
            print(f"{size:>6} {len(findings):>8} {cold:>10.1f} {check_s:>13.2f} {ruff_s:>7.2f} "
                  f"{first:>11.0f} {p50:>7.1f} {p99:>7.1f}", flush=True)
    print(f"(latency over {args.edits} sequential incremental edits; 'analyze ms' = cold in-process "
          "analysis of the whole file; spark/ruff = wall time of a real process, best of 3)")


def Analyzer_fresh(text: str):
    from spark_lsp.check import make_analyzer
    from spark_lsp.config import Settings

    from spark_lsp.analysis.incremental import clear_shared_caches
    clear_shared_caches()  # parse trees, block facts, block calls: nothing is reused
    analyzer, _, _ = make_analyzer(Settings())
    return analyzer.analyze(text)


if __name__ == "__main__":
    main()
