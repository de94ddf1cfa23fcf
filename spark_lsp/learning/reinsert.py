"""Writing what curation decided, in one transaction: learned cards (new, updated, retired),
the evidence that links each to its traces, and a record of the run.

All or nothing: an exception (or the process dying) before COMMIT leaves the knowledge base as
it was. A learned card may never overwrite a seed or memory card with the same code.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb

from spark_lsp.analysis.cards import card_from_dict
from spark_lsp.kb.card_store import content_hash
from spark_lsp.kb.db import utc_now

log = logging.getLogger(__name__)

RELATIONS = ("support", "contradict", "merged")


class CurationError(ValueError):
    """Curation would write something it must not (the message says what)."""


@dataclass
class Writes:
    """What one curation run writes."""

    cards: list[dict[str, Any]] = field(default_factory=list)  # learned card bodies
    evidence: list[tuple[str, str, str]] = field(default_factory=list)  # (code, trace, relation)
    overrides: list[tuple[str, str, float, str]] = field(default_factory=list)  # code, state, since, note

    def __bool__(self) -> bool:
        return bool(self.cards or self.evidence or self.overrides)


def _upsert_card(con: duckdb.DuckDBPyConnection, body: dict[str, Any], now: datetime) -> None:
    code = body["code"]
    row = con.execute("SELECT source FROM cards WHERE code = ?", [code]).fetchone()
    if row is not None and row[0] != "learned":
        raise CurationError(f"{code} is a {row[0]} card; a learned card cannot replace it")
    card, problems = card_from_dict(body, f"<learned {code}>")
    if card is None:
        raise CurationError(f"{code} is not a valid card: " + "; ".join(map(str, problems)))
    con.execute(
        """INSERT INTO cards (code, title, status, source, libraries, body, content_hash, path,
                              loaded_at, removed_at)
           VALUES (?, ?, ?, 'learned', ?::JSON, ?::JSON, ?, NULL, ?, NULL)
           ON CONFLICT (code) DO UPDATE SET title = excluded.title, status = excluded.status,
               libraries = excluded.libraries, body = excluded.body,
               content_hash = excluded.content_hash, loaded_at = excluded.loaded_at,
               removed_at = NULL""",
        [code, body["title"], body.get("status", "candidate"),
         json.dumps(body["libraries"], sort_keys=True), json.dumps(body, ensure_ascii=False),
         content_hash(body), now])


def write(con: duckdb.DuckDBPyConnection, writes: Writes, report: dict[str, Any] | None = None,
          *, on_step: Callable[[str], None] | None = None) -> str:
    """Apply `writes` (and record the run) in one transaction; return the run id.

    `on_step(what)` is called after each write inside the transaction (tests use it to fail
    half-way).
    """
    step = on_step or (lambda what: None)
    run_id = uuid.uuid4().hex
    started = utc_now()
    con.execute("BEGIN TRANSACTION")
    try:
        for body in writes.cards:
            _upsert_card(con, body, started)
            step(f"card {body['code']}")
        if writes.evidence:
            codes, traces, relations = zip(*writes.evidence)
            bad = set(relations) - set(RELATIONS)
            if bad:
                raise CurationError(f"unknown evidence relation(s) {sorted(bad)}")
            con.execute(
                """INSERT INTO card_evidence (code, trace_id, relation, added_at)
                   SELECT unnest($code), unnest($trace), unnest($relation), $now
                   ON CONFLICT (code, trace_id) DO UPDATE SET relation = excluded.relation""",
                {"code": list(codes), "trace": list(traces), "relation": list(relations),
                 "now": started})
            step("evidence")
        for code, state, since, note in writes.overrides:
            con.execute(
                """INSERT INTO card_overrides (code, state, since, note, updated_at)
                   VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT (code) DO UPDATE SET state = excluded.state,
                       since = excluded.since, note = excluded.note,
                       updated_at = excluded.updated_at""",
                [code, state, since, note, started])
            step(f"override {code}")
        if report is not None:
            con.execute("INSERT INTO learning_runs VALUES (?, ?, ?, ?::JSON)",
                        [run_id, started, utc_now(), json.dumps(report, ensure_ascii=False)])
            step("run")
        con.execute("COMMIT")
    except BaseException:
        try:
            con.execute("ROLLBACK")
        except duckdb.Error:
            log.debug("rollback failed", exc_info=True)
        raise
    return run_id
