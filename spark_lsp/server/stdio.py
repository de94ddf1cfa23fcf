"""Reading the client's messages from stdin without a thread hop per line.

pygls' stdio reader runs every `readline()` (each header line) and every body `read(n)` in a
worker thread: three thread hand-offs per message, ~0.4 ms each message on a busy 2-core
machine. A client that sends thousands of notifications in a burst (forwarded diagnostics)
then holds up the edits queued behind them for seconds. Here one thread reads stdin in chunks
of up to 64 KiB and hands them to the event loop, which cuts lines and bodies out of its buffer.
The reader thread pauses while MAX_BUFFERED bytes wait, so a client can never make the server
buffer without bound. Measured: see docs/editors.md ("Other tools' diagnostics").
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
import time
from threading import Event
from typing import BinaryIO

from pygls.io_ import StdoutWriter, run_async
from pygls.server import JsonRPCServer

log = logging.getLogger(__name__)

CHUNK = 1 << 16
MAX_BUFFERED = 16 << 20  # bytes read ahead of the event loop at most


class ChunkedStdinReader:
    """pygls' `AsyncReader` (`readline`, `readexactly`) over a file descriptor."""

    def __init__(self, stdin: BinaryIO) -> None:
        self._stream = stdin  # owns the descriptor: keep it open as long as the reader
        self._fd = stdin.fileno()
        self._buffer = bytearray()
        self._eof = False
        self._waiter: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # each written by one thread only: the reader thread reads their difference
        self._received = 0
        self._consumed = 0

    def _start(self) -> None:
        self._loop = asyncio.get_running_loop()
        threading.Thread(target=self._pump, name="spark-stdin", daemon=True).start()

    def _pump(self) -> None:
        loop = self._loop
        assert loop is not None
        while True:
            while self._received - self._consumed > MAX_BUFFERED:
                time.sleep(0.001)
            try:
                chunk = os.read(self._fd, CHUNK)
            except OSError as exc:
                log.warning("reading stdin failed: %s", exc)
                chunk = b""
            self._received += len(chunk)
            try:
                loop.call_soon_threadsafe(self._feed, chunk)
            except RuntimeError:  # the loop has closed: the server is exiting
                return
            if not chunk:
                return

    def _feed(self, chunk: bytes) -> None:
        if chunk:
            self._buffer += chunk
        else:
            self._eof = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def _wait(self) -> None:
        if self._loop is None:
            self._start()
        assert self._loop is not None
        self._waiter = self._loop.create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def _take(self, n: int) -> bytes:
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        self._consumed += len(data)
        return data

    async def readline(self) -> bytes:
        """One line with its b"\\n"; what is left at the end of the input; b"" at its end."""
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                return self._take(end + 1)
            if self._eof:
                return self._take(len(self._buffer))
            await self._wait()

    async def readexactly(self, n: int) -> bytes:
        """`n` bytes, or fewer when the input ends first."""
        while len(self._buffer) < n and not self._eof:
            await self._wait()
        return self._take(min(n, len(self._buffer)))


class ChunkedStdio(JsonRPCServer):
    """Base for a pygls 2.1 `LanguageServer`: `start_io()` reads with `ChunkedStdinReader`
    (the rest is pygls' own `_start_io_async`)."""

    def _start_io_async(self, stdin: BinaryIO | None = None,
                        stdout: BinaryIO | None = None) -> None:
        self._stop_event = Event()
        self.protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))
        try:
            asyncio.run(run_async(stop_event=self._stop_event,
                                  reader=ChunkedStdinReader(stdin or sys.stdin.buffer),
                                  protocol=self.protocol, logger=log,
                                  error_handler=self.report_server_error))
        except BrokenPipeError:
            log.error("Connection to the client is lost! Shutting down the server.")
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            self.shutdown()
