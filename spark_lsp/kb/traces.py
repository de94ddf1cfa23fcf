"""Traces: what happened to each recommendation (shown, accepted, rejected, corrected).

Editors never write the DuckDB file directly: each process appends to its own journal file
(`$SPARK_HOME/journal/<host>-<pid>-<start>.jsonl`, one JSON object a line, flushed and fsynced),
and a single writer merges journals into the database (see `kb.store.merge_journals`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

OUTCOMES = ("shown", "accepted", "rejected", "corrected")
TRACE_SCHEMA_VERSION = 1


@dataclass
class Trace:
    outcome: str
    code: str
    client: str = "unknown"
    file_hash: str = ""
    line: int = 0  # 1-based
    before: str = ""
    after: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    fingerprint: str = ""
    user: str = ""
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    ts: float = field(default_factory=time.time)
    schema: int = TRACE_SCHEMA_VERSION

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {self.outcome!r}; expected one of {OUTCOMES}")

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Trace":
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


def file_hash(uri_or_path: str) -> str:
    """Traces name files by a hash, never by path."""
    return hashlib.blake2b(uri_or_path.encode("utf-8", "surrogatepass"), digest_size=10).hexdigest()


def pseudonymous_user() -> str:
    raw = f"{os.environ.get('USER', '')}@{socket.gethostname()}"
    return hashlib.blake2b(raw.encode(), digest_size=6).hexdigest()


def journal_dir(home: Path) -> Path:
    return home / "journal"


class TraceJournal:
    """Appends traces to this process's own journal file; safe across threads."""

    def __init__(self, home: Path) -> None:
        self.dir = journal_dir(home)
        self.path = self.dir / f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
        self._lock = threading.Lock()

    def append(self, trace: Trace) -> None:
        line = trace.to_json() + "\n"
        with self._lock:
            self.dir.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(line)
                fh.flush()
                os.fsync(fh.fileno())
