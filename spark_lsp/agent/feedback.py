"""What comes back from a recommendation: its outcome (a trace) and shared insights.

Outcomes go to this process's trace journal like the editors' (merged by the single writer).
Insights are candidates for curation, appended to `$SPARK_HOME/insights/candidates.jsonl`;
nothing here changes the team's cards.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from spark_lsp.agent.redact import redact
from spark_lsp.agent.tailor import parses
from spark_lsp.kb.traces import OUTCOMES, Trace, TraceJournal, pseudonymous_user

_ID = re.compile(r"^(?P<code>[A-Z]+[0-9]*|ASK)-(?P<hash>[0-9a-f]{6,64})$")
MAX_FIELD_CHARS = 20_000
MAX_TITLE_CHARS = 200
_journals: dict[Path, TraceJournal] = {}
_lock = threading.Lock()


def _journal(home: Path) -> TraceJournal:
    with _lock:
        if home not in _journals:
            _journals[home] = TraceJournal(home)
        return _journals[home]


def record_outcome(home: Path, recommendation_id: str, outcome: str,
                   corrected_code: str | None = None, *, before: str = "",
                   client: str = "mcp", versions: dict[str, str] | None = None) -> Trace:
    """Append the outcome of a recommendation to the journal; ValueError for bad input."""
    m = _ID.match(recommendation_id or "")
    if m is None:
        raise ValueError(f"unknown recommendation id {recommendation_id!r}: expected the `id` "
                         "of a recommendation, like SPK004-1a2b3c4d5e6f")
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, not {outcome!r}")
    if corrected_code is not None and len(corrected_code) > MAX_FIELD_CHARS:
        raise ValueError(f"corrected_code is longer than {MAX_FIELD_CHARS:,} characters")
    if corrected_code and outcome == "accepted":
        outcome = "corrected"  # accepted with changes is a correction
    trace = Trace(outcome=outcome, code=m.group("code"), client=client,
                  before=redact(before)[:MAX_FIELD_CHARS],
                  after=redact(corrected_code or "")[:MAX_FIELD_CHARS],
                  fingerprint=recommendation_id, versions=dict(versions or {}),
                  user=pseudonymous_user())
    _journal(home).append(trace)
    return trace


def insights_file(home: Path) -> Path:
    return home / "insights" / "candidates.jsonl"


def share_insight(home: Path, title: str, advice: str, example: str,
                  libraries: list[str] | dict[str, str]) -> dict[str, Any]:
    """Queue an insight for curation (status `candidate`); ValueError for bad input."""
    for name, value, limit in (("title", title, MAX_TITLE_CHARS), ("advice", advice,
                               MAX_FIELD_CHARS), ("example", example, MAX_FIELD_CHARS)):
        if not isinstance(value, str):
            raise ValueError(f"{name} must be a string")
        if len(value) > limit:
            raise ValueError(f"{name} is longer than {limit:,} characters")
    if not title.strip() or not advice.strip():
        raise ValueError("title and advice must not be empty")
    if isinstance(libraries, dict):
        libs = {str(k): str(v) for k, v in libraries.items()}
    elif isinstance(libraries, list) and all(isinstance(x, str) for x in libraries):
        libs = {lib: "" for lib in libraries}
    else:
        raise ValueError("libraries must be a list of names or a map of name to version range")
    record = {
        "id": uuid.uuid4().hex, "ts": time.time(), "status": "candidate",
        "title": title.strip(), "advice": advice.strip(), "example": redact(example),
        "example_parses": parses(example), "libraries": libs, "user": pseudonymous_user(),
        "host_pid": os.getpid(),
    }
    path = insights_file(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record, ensure_ascii=False) + "\n"
    with _lock, open(path, "a", encoding="utf-8") as fh:
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())
    return {"id": record["id"], "status": "candidate", "example_parses": record["example_parses"],
            "queued_in": str(path),
            "note": "queued for curation; it reaches the team only after review"}
