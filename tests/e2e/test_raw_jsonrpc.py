"""`spark serve` with nothing but JSON-RPC: Content-Length framing over stdio, and over TCP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from queue import Empty, Queue
from typing import Any, BinaryIO

import pytest

pytestmark = pytest.mark.slow  # each test starts `spark serve` processes

SERVE = [sys.executable, "-m", "spark_lsp", "serve"]
TEXT = 'import pandas as pd\nframe = pd.read_csv("a.csv")\nresult = frame.values\n'


def frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message).encode("utf-8")
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def read_messages(stream: BinaryIO, out: Queue) -> None:
    """Parse framed messages until EOF; check every header block."""
    while True:
        headers = {}
        while True:
            line = stream.readline()
            if not line:
                out.put(None)
                return
            if line == b"\r\n":
                break
            assert line.endswith(b"\r\n"), line
            name, _, value = line.decode("ascii").partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers["content-length"])
        body = stream.read(length)
        assert len(body) == length
        out.put(json.loads(body.decode("utf-8")))


class RawSession:
    def __init__(self, write, stream: BinaryIO) -> None:
        self.write = write
        self.queue: Queue = Queue()
        threading.Thread(target=read_messages, args=(stream, self.queue), daemon=True).start()
        self.next_id = 0
        self.backlog: list[dict[str, Any]] = []

    def request(self, method: str, params: Any) -> dict[str, Any]:
        self.next_id += 1
        self.write(frame({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params}))
        return self.expect(lambda m: m.get("id") == self.next_id and "method" not in m)

    def notify(self, method: str, params: Any) -> None:
        self.write(frame({"jsonrpc": "2.0", "method": method, "params": params}))

    def expect(self, predicate, timeout: float = 20) -> dict[str, Any]:
        """The first message (in arrival order) matching; others stay for later calls."""
        for i, message in enumerate(self.backlog):
            if predicate(message):
                return self.backlog.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            try:
                message = self.queue.get(timeout=max(0.01, deadline - time.monotonic()))
            except Empty:
                raise AssertionError("no matching message") from None
            assert message is not None, "the server closed the connection"
            if "method" in message and "id" in message:  # a request from the server
                self.write(frame({"jsonrpc": "2.0", "id": message["id"], "result": None}))
            if predicate(message):
                return message
            self.backlog.append(message)


def check_session(session: RawSession, root: Path) -> None:
    init = session.request("initialize", {"processId": os.getpid(), "rootUri": root.as_uri(),
                                          "capabilities": {}, "clientInfo": {"name": "raw"}})
    caps = init["result"]["capabilities"]
    assert caps["textDocumentSync"]["change"] == 2 and caps["textDocumentSync"]["openClose"]
    assert caps["hoverProvider"] and caps["codeActionProvider"]["codeActionKinds"] == [
        "quickfix", "refactor.spark.ask"]
    assert set(caps["executeCommandProvider"]["commands"]) == {"spark.recordOutcome",
                                                               "spark.disableCode",
                                                               "spark.askSpark",
                                                               "spark.explainError",
                                                               "spark.explainDiagnostic"}
    assert caps["positionEncoding"] == "utf-16"
    assert init["result"]["serverInfo"]["name"] == "spark"
    session.notify("initialized", {})

    uri = (root / "raw.py").as_uri()
    # two messages in one write, the second split over two writes
    opened = frame({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {
        "textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": TEXT}}})
    hover = frame({"jsonrpc": "2.0", "id": 99, "method": "textDocument/hover", "params": {
        "textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}}})
    session.write(opened + hover[:7])
    session.write(hover[7:])
    assert session.expect(lambda m: m.get("id") == 99)["result"] is None
    published = session.expect(lambda m: m.get("method") == "textDocument/publishDiagnostics")
    [d] = [d for d in published["params"]["diagnostics"] if d["code"] == "SPK001"]
    assert published["params"]["version"] == 1
    assert d["range"]["start"] == {"line": 2, "character": 9}
    assert session.request("shutdown", None)["result"] is None
    session.notify("exit", None)


def test_stdio(tmp_path: Path):
    proc = subprocess.Popen(SERVE, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdin and proc.stdout

    def write(data: bytes) -> None:
        proc.stdin.write(data)  # type: ignore[union-attr]
        proc.stdin.flush()  # type: ignore[union-attr]

    try:
        check_session(RawSession(write, proc.stdout), tmp_path)
        assert proc.wait(timeout=20) == 0
        assert b"Traceback" not in proc.stderr.read()  # type: ignore[union-attr]
    finally:
        proc.kill()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_tcp(tmp_path: Path):
    port = free_port()
    proc = subprocess.Popen([*SERVE, "--tcp", f"127.0.0.1:{port}"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=1)
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not listen"
                assert proc.poll() is None, proc.stderr.read()  # type: ignore[union-attr]
                time.sleep(0.1)
        with sock:
            sock.settimeout(None)
            check_session(RawSession(sock.sendall, sock.makefile("rb")), tmp_path)
            assert proc.wait(timeout=20) == 0
    finally:
        proc.kill()
