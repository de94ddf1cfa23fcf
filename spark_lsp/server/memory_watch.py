"""The team memory in the language server: follow `[tool.spark.memory] path` (or the editor's
`memoryPath`), and put each new verified version into the analyzer without a restart.

Verification (signature, limits, a time limit per rule in a child process) and the analyzer
rebuild run in the watcher's thread; the event loop only swaps the finished analyzer in and
republishes open documents, so diagnostics are never waiting on a reload. A refused file
leaves the memory in use as it was and shows one message per version of the file.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types

from spark_lsp.analysis import Analyzer, Card
from spark_lsp.check import make_analyzer
from spark_lsp.config import Settings
from spark_lsp.memory.keys import team_trusted_keys
from spark_lsp.memory.verify import VerifiedMemory
from spark_lsp.memory.watch import MemoryWatcher
from spark_lsp.server.errors import feature_logger

if TYPE_CHECKING:
    from spark_lsp.server.app import SparkServer

log = feature_logger("memory")


class MemoryFeature:
    """The server's team memory: what is in use, and the watcher that follows the file."""

    def __init__(self, ls: SparkServer) -> None:
        self.ls = ls
        self.cards: list[Card] = []  # the memory's cards in the analyzer
        self.suppressed: set[str] = set()  # codes the team suppressed
        self.digest: str | None = None
        self._watcher: MemoryWatcher | None = None
        self._followed: tuple[str, frozenset[str]] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._told: set[str] = set()

    def follow(self, settings: Settings) -> None:
        """(Re)start following the configured file when its path or trusted keys changed."""
        trusted = team_trusted_keys(settings)
        wanted = (settings.memory_path, trusted.keys) if settings.memory_path else None
        if wanted == self._followed:
            return
        self.stop()
        self._followed = wanted
        if wanted is None:
            return
        for problem in trusted.problems:
            self._tell(f"Spark: {problem}", types.MessageType.Warning)
        if not trusted:
            self._tell(f"Spark: a team memory is configured ({settings.memory_path}) but no "
                       "trusted_keys: it cannot be verified and is not used.",
                       types.MessageType.Warning)
            return
        self._loop = asyncio.get_running_loop()
        self._watcher = MemoryWatcher(Path(settings.memory_path), trusted, self._loaded,
                                      self._rejected)
        self._watcher.start()
        log.info("following the team memory %s", settings.memory_path)

    def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None

    # -- the watcher's thread ----------------------------------------------------------------
    def _loaded(self, verified: VerifiedMemory) -> None:
        settings = self.ls.settings
        old = {c.code for c in self.cards}
        builtin = [c for code, c in self.ls.cards.items() if code not in old]  # no YAML re-read
        new = [c for c in verified.cards if c.code not in {b.code for b in builtin}]
        analyzer = Analyzer(builtin + new)
        cards = {c.code: c for c in builtin + new}
        self._call(self._install, settings, verified, analyzer, cards)

    def _rejected(self, message: str) -> None:
        # the watcher calls this once per version of the file: every refusal is shown
        self._call(self.ls.show, f"Spark: {message}", types.MessageType.Warning)

    def _call(self, fn, *args) -> None:  # type: ignore[no-untyped-def]
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # the loop closed in between: the server is exiting
            pass

    # -- the event loop ----------------------------------------------------------------------
    def _install(self, built_for: Settings, verified: VerifiedMemory, analyzer: Analyzer,
                 cards: dict[str, Card]) -> None:
        ls = self.ls
        if self._watcher is None or self._watcher.stopped:
            return  # the configuration changed meanwhile
        if (ls.settings.cards, ls.settings.versions) != (built_for.cards, built_for.versions):
            analyzer, cards, _ = make_analyzer(ls.settings, verified.cards)
        self.cards, self.suppressed = list(verified.cards), set(verified.suppressions)
        self.digest = verified.digest
        ls.cards, ls.analyzer = cards, analyzer
        ls.apply_options()  # the settings' options and the team's suppressions; republishes
        summary = verified.summary()
        log.info("team memory in use: %s", summary)
        ls.window_log_message(types.LogMessageParams(type=types.MessageType.Info,
                                                     message=f"Spark: team memory {summary}"))

    def _tell(self, message: str, kind: types.MessageType) -> None:
        if message in self._told:
            return
        self._told.add(message)
        self.ls.show(message, kind)
