"""Following the team's memory file: each new verified version is handed over, once.

A thread watches the file's folder with `watchfiles` (the file itself is usually replaced by a
rename, which a watch on the file would lose) and, every second as well, compares the file's
identity (inode, size, mtime): on a network mount inotify may never fire. A new identity is
verified (`verify.verify_file`, all in this thread — never on an event loop); a new digest goes
to `on_loaded`, a refused file to `on_rejected` once per version of the file. A file that
disappears leaves the memory in use as it is, and so does a team memory older than the version
this machine accepted before (`memory.rollback`).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from spark_lsp.memory import rollback, rulecheck
from spark_lsp.memory.format import MemoryFileError, describe
from spark_lsp.memory.keys import TrustedKeys
from spark_lsp.memory.verify import VerifiedMemory, verify_file

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
DEBOUNCE_MS = 50


def file_identity(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


class MemoryWatcher:
    def __init__(self, path: Path, trusted: TrustedKeys,
                 on_loaded: Callable[[VerifiedMemory], None],
                 on_rejected: Callable[[str], None], *, home: Path | None = None) -> None:
        from spark_lsp.config import spark_home

        self.path = Path(path).expanduser()
        self.home = spark_home() if home is None else home  # where accepted versions are kept
        self.trusted = trusted
        self.on_loaded = on_loaded
        self.on_rejected = on_rejected
        self.digest: str | None = None  # of the memory handed over last
        self._seen: tuple[int, int, int] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="spark-memory-watch", daemon=True)

    def start(self) -> None:
        rulecheck.keep_warm(True)  # a new version is checked without a child's start-up
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        rulecheck.keep_warm(False)
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def check(self) -> None:
        """Load the file if it changed since the last look (runs in the watcher's thread)."""
        identity = file_identity(self.path)
        if identity is None or identity == self._seen:
            return
        self._seen = identity
        started = time.monotonic()
        try:
            verified = verify_file(self.path, self.trusted, all_rules=False)
            rollback.accept(self.home, verified.file)  # an older version put back: refused
        except MemoryFileError as exc:
            if file_identity(self.path) != identity:
                self._seen = None  # replaced while we read it: look again
                return
            log.warning("%s", describe(exc, self.path))
            self.on_rejected(describe(exc, self.path) + "; the memory in use is unchanged")
            return
        except Exception as exc:  # never let the watcher die: say so and keep the old memory
            log.exception("cannot load the memory file %s", self.path)
            self.on_rejected(f"memory file {self.path} could not be loaded ({exc}); the memory "
                             "in use is unchanged")
            return
        log.info("%s verified in %.2f s", self.path.name, time.monotonic() - started)
        if verified.digest == self.digest:
            return
        self.digest = verified.digest
        if not self._stop.is_set():
            self.on_loaded(verified)

    def _run(self) -> None:
        import watchfiles

        name = self.path.name
        while not self._stop.is_set():
            self.check()
            folder = self.path.parent
            if not folder.is_dir():
                self._stop.wait(POLL_SECONDS)
                continue
            try:
                for _changes in watchfiles.watch(
                        folder, watch_filter=lambda _c, p: Path(p).name == name,
                        stop_event=self._stop, debounce=DEBOUNCE_MS, step=20,
                        rust_timeout=int(POLL_SECONDS * 1000), yield_on_timeout=True,
                        recursive=False, raise_interrupt=False):
                    self.check()  # on a change, and on every timeout (the polling fallback)
                    if not folder.is_dir():
                        break
            except Exception:  # the folder vanished, too many watches, a network mount...
                log.info("watching %s failed; polling instead", folder, exc_info=True)
                self._stop.wait(POLL_SECONDS)
