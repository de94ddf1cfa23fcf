"""A read-only connection reused for a burst of queries, then let go so writers can get in.

Opening the file costs little, but loading vss/fts (signature checks) and the HNSW index on the
first vector query cost a few hundred milliseconds; a language server that hovers and searches
in bursts should pay that once per burst. While a connection is open no other process can write
the file, so it is closed after `idle` seconds without a query (and at the latest `max_age`
seconds after opening). A build swaps in a new file by rename: the next query sees another inode
and reopens; until then the old file keeps answering.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from spark_lsp.kb.db import kb_errors, open_readonly

log = logging.getLogger(__name__)


def file_identity(path: Path) -> tuple[int, int] | None:
    """(device, inode): changes when a build renames a new file into place."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


class KBReader:
    """Thread-safe holder of one short-lived read-only connection to `path`."""

    def __init__(self, path: Path, *, idle: float = 2.0, max_age: float = 10.0,
                 timeout: float = 1.0, extensions: bool = True) -> None:
        self.path = path
        self.idle = idle
        self.max_age = max_age
        self.timeout = timeout
        self.extensions = extensions
        self._lock = threading.RLock()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._identity: tuple[int, int] | None = None
        self._opened = 0.0
        self._last_used = 0.0
        self._timer: threading.Timer | None = None
        self.opens = 0  # for tests and benchmarks

    @property
    def identity(self) -> tuple[int, int] | None:
        """The file the open connection reads (None when closed)."""
        return self._identity if self._con is not None else None

    @contextmanager
    def connection(self) -> Iterator[duckdb.DuckDBPyConnection | None]:
        """The connection (None: no file, or a writer holds it). KBError for a damaged file."""
        with self._lock:
            now = time.monotonic()
            current = file_identity(self.path)
            if self._con is not None and (current != self._identity
                                          or now - self._opened > self.max_age):
                self._close()
            if self._con is None and current is not None:
                self._con = open_readonly(self.path, timeout=self.timeout,
                                          extensions=self.extensions, memory=False)
                if self._con is not None:
                    self._identity, self._opened = current, now
                    self.opens += 1
            try:
                with kb_errors(self.path):
                    yield self._con
            except BaseException:
                self._close()  # a failed query may have left the connection unusable
                raise
            finally:
                self._last_used = time.monotonic()
                self._schedule_close()

    def _schedule_close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._con is None:
            return
        self._timer = threading.Timer(self.idle, self._close_if_idle)
        self._timer.daemon = True
        self._timer.start()

    def _close_if_idle(self) -> None:
        with self._lock:
            if self._con is not None and time.monotonic() - self._last_used >= self.idle * 0.99:
                self._close()

    def _close(self) -> None:
        if self._con is not None:
            try:
                self._con.close()
            except duckdb.Error as exc:
                log.debug("closing %s: %s", self.path, exc)
        self._con = None
        self._identity = None

    def close(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._close()
