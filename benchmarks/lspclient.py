"""A minimal LSP client over stdio (Content-Length framing) for benchmarks and smoke tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from queue import Empty, Queue
from typing import Any


class LspClient:
    def __init__(self, cmd: list[str] | None = None, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(cmd or [sys.executable, "-m", "spark_lsp", "serve"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env={**os.environ, **(env or {})})
        self._id = 0
        self.messages: Queue[dict[str, Any]] = Queue()
        self.responses: dict[int, dict[str, Any]] = {}
        self._cv = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        out = self.proc.stdout
        assert out is not None
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            if length is None:
                continue
            msg = json.loads(out.read(length))
            msg["_t"] = time.perf_counter()
            if "id" in msg and "method" not in msg:
                with self._cv:
                    self.responses[msg["id"]] = msg
                    self._cv.notify_all()
            elif "id" in msg and "method" in msg:  # server -> client request: answer null
                self._send({"jsonrpc": "2.0", "id": msg["id"], "result": None})
                self.messages.put(msg)
            else:
                self.messages.put(msg)

    def _send(self, msg: dict[str, Any]) -> None:
        body = json.dumps(msg).encode()
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def request(self, method: str, params: Any, timeout: float = 60) -> Any:
        self._id += 1
        rid = self._id
        self._send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        with self._cv:
            if not self._cv.wait_for(lambda: rid in self.responses, timeout):
                raise TimeoutError(method)
            return self.responses.pop(rid).get("result")

    def notify(self, method: str, params: Any) -> None:
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    def wait_for(self, method: str, pred=lambda m: True, timeout: float = 60) -> dict[str, Any]:
        deadline = time.perf_counter() + timeout
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                raise TimeoutError(method)
            try:
                msg = self.messages.get(timeout=left)
            except Empty:
                raise TimeoutError(method) from None
            if msg.get("method") == method and pred(msg):
                return msg

    def initialize(self, root_uri: str | None = None, options: dict | None = None) -> Any:
        result = self.request("initialize", {
            "processId": os.getpid(), "rootUri": root_uri, "capabilities": {
                "textDocument": {"publishDiagnostics": {"versionSupport": True},
                                 "synchronization": {"didSave": True}}},
            "clientInfo": {"name": "spark-bench"}, "initializationOptions": options or {}})
        self.notify("initialized", {})
        return result

    def close(self) -> None:
        try:
            self.request("shutdown", None, timeout=10)
            self.notify("exit", None)
            self.proc.wait(timeout=10)
        except Exception:
            self.proc.kill()
