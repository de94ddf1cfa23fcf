"""Edits while another tool's diagnostics flood in (`spark/otherDiagnostics`).

    python benchmarks/bench_forwarded_flood.py [--burst 5000] [--rate 2000] [--seconds 5]

A real `spark serve` over stdio. Measures the didChange -> publishDiagnostics latency of an edit
(1) with nothing else going on, (2) sent right behind a burst of `--burst` notifications (each a
different set of three diagnostics, as a server republishing on every keystroke would send), and
(3) every 200 ms while a thread keeps sending `--rate` notifications a second for `--seconds`.
Then a hover on the set sent last must carry Spark's section (the latest set won). Prints the
machine and the figures; exit 1 if the server died or the last set was not the one kept.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lspclient import LspClient

CODE = ("import pandas as pd\n\n"
        "sales = pd.read_csv('s.csv')\n"
        "extra = pd.DataFrame({'a': [3]})\n"
        "sales = sales.append(extra, ignore_index=True)\n"
        "total = np.sum(sales['a'])\n")
APPEND = {"range": {"start": {"line": 4, "character": 14}, "end": {"line": 4, "character": 20}},
          "message": 'Cannot access attribute "append" for class "DataFrame"',
          "source": "Pylance", "code": "reportAttributeAccessIssue", "severity": 1}


def frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def noise(uri: str, i: int) -> bytes:
    def d(line: int, message: str, severity: int = 1) -> dict[str, Any]:
        return {"range": {"start": {"line": line, "character": 0},
                          "end": {"line": line, "character": 5}},
                "message": message, "source": "Pylance", "severity": severity}
    return frame({"jsonrpc": "2.0", "method": "spark/otherDiagnostics", "params": {
        "uri": uri, "diagnostics": [d(0, f'"x{i}" is not defined'),
                                    d(2, f'"y{i}" is possibly unbound'),
                                    d(3, f"Import cycle {i}", 2)]}})


class Bench:
    def __init__(self, root: Path) -> None:
        self.client = LspClient()
        self.lock = threading.Lock()
        self.client.initialize(root.as_uri())
        self.uri = (root / "flood.py").as_uri()
        self.version = 1
        self.client.notify("textDocument/didOpen", {"textDocument": {
            "uri": self.uri, "languageId": "python", "version": 1, "text": CODE}})
        self.published(1)

    def write(self, data: bytes) -> None:
        stdin = self.client.proc.stdin
        assert stdin is not None
        with self.lock:
            stdin.write(data)
            stdin.flush()

    def published(self, version: int, timeout: float = 60) -> None:
        self.client.wait_for("textDocument/publishDiagnostics", lambda m: (
            m["params"]["uri"] == self.uri and m["params"].get("version") == version), timeout)

    def edit(self) -> float:
        """One edit; seconds until its diagnostics are published."""
        self.version += 1
        started = time.perf_counter()
        self.write(frame({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
            "textDocument": {"uri": self.uri, "version": self.version},
            "contentChanges": [{"text": CODE + f"v = {self.version}\n"}]}}))
        self.published(self.version)
        return time.perf_counter() - started


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--burst", type=int, default=5000)
    parser.add_argument("--rate", type=int, default=2000, help="notifications a second")
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        bench = Bench(Path(tmp))
        quiet = [bench.edit() for _ in range(10)]
        print(f"edit, nothing else going on: p50 {ms(statistics.median(quiet))}")

        blob = b"".join(noise(bench.uri, i) for i in range(args.burst))
        started = time.perf_counter()
        bench.write(blob)
        behind = bench.edit()
        total = time.perf_counter() - started
        print(f"edit right behind a burst of {args.burst:,} notifications ({len(blob) / 1e6:.1f} "
              f"MB): published {ms(total)} after the burst began ({ms(behind)} after the edit "
              f"was written), {args.burst / total:,.0f} notifications/s read")

        stop = threading.Event()
        sent = [0]

        def flood() -> None:
            i = args.burst
            while not stop.is_set():
                batch = max(1, args.rate // 100)
                bench.write(b"".join(noise(bench.uri, i + k) for k in range(batch)))
                i += batch
                sent[0] += batch
                time.sleep(0.01)

        thread = threading.Thread(target=flood, daemon=True)
        started = time.perf_counter()
        thread.start()
        during = []
        while time.perf_counter() - started < args.seconds:
            during.append(bench.edit())
            time.sleep(0.2)
        stop.set()
        thread.join()
        elapsed = time.perf_counter() - started
        during.sort()
        print(f"edits during a sustained flood ({sent[0] / elapsed:,.0f} notifications/s for "
              f"{elapsed:.1f} s): p50 {ms(statistics.median(during))}, max {ms(during[-1])} "
              f"over {len(during)} edits")

        bench.write(frame({"jsonrpc": "2.0", "method": "spark/otherDiagnostics",
                           "params": {"uri": bench.uri, "diagnostics": [APPEND]}}))
        started = time.perf_counter()
        text = ""
        while time.perf_counter() - started < 20 and "Pylance" not in text:
            hover = bench.client.request("textDocument/hover", {
                "textDocument": {"uri": bench.uri}, "position": {"line": 4, "character": 16}})
            text = (hover or {}).get("contents", {}).get("value", "")
            time.sleep(0.05)
        print(f"hover on the last set's diagnostic answered with Spark's section after "
              f"{ms(time.perf_counter() - started)}")
        alive = bench.client.proc.poll() is None
        bench.client.close()
    return 0 if alive and "Pylance" in text else 1


if __name__ == "__main__":
    sys.exit(main())
