"""Traces: what happened to each recommendation (shown, accepted, rejected, corrected).

Editors never write the DuckDB file directly: each process appends to its own journal file
(`$SPARK_HOME/journal/<host>-<pid>-<start>.jsonl`, one JSON object a line, flushed and fsynced),
and a single writer merges journals into the database (see `kb.store.merge_journals`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import socket
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# `organic`: code that matched no card, rewritten by the user (or shared by an agent) — a
# before/after pair to learn from. Feedback on a recommendation: `wrong`, `outdated` (for the
# library versions the trace carries), `helpful`.
OUTCOMES = ("shown", "accepted", "rejected", "corrected", "organic", "wrong", "outdated", "helpful")
FEEDBACK = ("wrong", "outdated", "helpful")
# Schema 2 added `organic`, the feedback kinds and the `workspace` field. A trace with one of the
# first four outcomes is still written as schema 1, which older Sparks read (they ignore
# `workspace`); the new kinds are schema 2, which older Sparks set aside as "from a newer Spark".
TRACE_SCHEMA_VERSION = 2
_SCHEMA_1_OUTCOMES = OUTCOMES[:4]


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
    schema: int = 0  # 0: the lowest schema that can hold the trace (set below)
    workspace: str = ""  # hash of the workspace folder: rejections are remembered per workspace

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {self.outcome!r}; expected one of {OUTCOMES}")
        if not self.schema:
            self.schema = 1 if self.outcome in _SCHEMA_1_OUTCOMES else 2

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Trace:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


def redacted(trace: Trace) -> Trace:
    """The trace with secrets redacted from its code windows: what may be stored."""
    from spark_lsp.memory.privacy import redact

    return replace(trace, before=redact(trace.before), after=redact(trace.after))


def file_hash(uri_or_path: str) -> str:
    """Traces name files by a hash, never by path."""
    return hashlib.blake2b(uri_or_path.encode("utf-8", "surrogatepass"), digest_size=10).hexdigest()


def pseudonymous_user() -> str:
    raw = f"{os.environ.get('USER', '')}@{socket.gethostname()}"
    return hashlib.blake2b(raw.encode(), digest_size=6).hexdigest()


def journal_dir(home: Path) -> Path:
    return home / "journal"


class TraceJournal:
    """Appends traces to this process's own journal file; safe across threads.

    The file name carries host and pid (`<host>-<pid>-<random>.jsonl`): the merger only removes
    a journal once that process is gone, so a live writer's file is never pulled from under it.
    """

    def __init__(self, home: Path) -> None:
        self.dir = journal_dir(home)
        self.path = self.dir / f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
        self._lock = threading.Lock()
        self._torn = False  # a write failed half-way: start the next line on a fresh line

    def append(self, trace: Trace) -> None:
        """Write one trace (its code windows redacted first), flushed and fsynced."""
        line = redacted(trace).to_json() + "\n"
        with self._lock:
            self.dir.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as fh:
                try:
                    fh.write(("\n" if self._torn else "") + line)
                    fh.flush()
                    os.fsync(fh.fileno())
                except BaseException:
                    self._torn = True
                    raise
                self._torn = False


class MalformedTrace(ValueError):
    """A journal line that is not a trace this Spark can read."""


class UnknownTraceSchema(MalformedTrace):
    """A trace written by a newer Spark (its `schema` is above TRACE_SCHEMA_VERSION)."""


_TEXT_FIELDS = ("id", "outcome", "code", "client", "file_hash", "before", "after", "fingerprint",
                "user", "workspace")


def trace_from_json(text: str) -> Trace:
    """Parse and check one journal line; raise `MalformedTrace` (or `UnknownTraceSchema`).

    Checked strictly because the line goes into typed database columns: one bad line must be
    set aside, not block every later merge.
    """
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise MalformedTrace(f"not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise MalformedTrace(f"expected a JSON object, got {type(data).__name__}")
    schema = data.get("schema", TRACE_SCHEMA_VERSION)
    if not isinstance(schema, int) or isinstance(schema, bool) or schema < 1:
        raise MalformedTrace(f"bad schema {schema!r}")
    if schema > TRACE_SCHEMA_VERSION:
        raise UnknownTraceSchema(f"trace schema {schema} is newer than this Spark reads "
                                 f"({TRACE_SCHEMA_VERSION}); upgrade Spark to merge it")
    missing = [k for k in ("id", "outcome", "code", "ts") if k not in data]
    if missing:
        raise MalformedTrace(f"missing {', '.join(missing)}")
    for key in _TEXT_FIELDS:
        value = data.get(key, "")
        if not isinstance(value, str):
            raise MalformedTrace(f"{key} must be a string, got {type(value).__name__}")
    if not data["id"]:
        raise MalformedTrace("empty id")
    line, ts = data.get("line", 0), data["ts"]
    if not isinstance(line, int) or isinstance(line, bool) or not 0 <= line < 2**31:
        raise MalformedTrace(f"line must be a whole number from 0 to 2**31-1, got {line!r}")
    if not isinstance(ts, (int, float)) or isinstance(ts, bool) or not math.isfinite(ts):
        raise MalformedTrace(f"ts must be a finite number of seconds, got {ts!r}")
    versions = data.get("versions", {})
    if not isinstance(versions, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in versions.items()):
        raise MalformedTrace("versions must map library names to version strings")
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedTrace("text that is not valid Unicode (a lone surrogate)") from None
    try:
        return Trace.from_dict({**data, "ts": float(ts)})
    except (TypeError, ValueError) as exc:
        raise MalformedTrace(str(exc)) from None
