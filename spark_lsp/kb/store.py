"""The knowledge-base store: create/migrate the DuckDB file, sync cards, read what it holds.

This is the module to import: it re-exports the errors, `open_readonly`, `load_extensions`,
`merge_journals` and `sync_cards` from the smaller modules beside it.

Process model: editors' servers only *read* this file (`open_readonly`, short-lived) and append
traces to their own journal (`kb.traces.TraceJournal`); writers — `ensure_kb`, `merge_journals`,
`rebuild_kb` — take `$SPARK_HOME/kb.lock`, open the file, commit, and close it at once.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

import duckdb

from spark_lsp.analysis.cards import Card
from spark_lsp.config import spark_home
from spark_lsp.kb.card_store import (
    CARD_SOURCES,
    CardSync,
    content_hash,
    read_meta,
    sync_cards,
    sync_seeds,
)
from spark_lsp.kb.db import (
    ExtensionMissing,
    KBBusy,
    KBCorrupt,
    KBError,
    KBTooNew,
    connect,
    kb_errors,
    kb_file,
    load_extensions,
    open_readonly,
    writer_lock,
)
from spark_lsp.kb.merge import MergeReport, merge_journals, pending_traces
from spark_lsp.kb.migrate import latest_version, open_writer, schema_version
from spark_lsp.kb.traces import OUTCOMES, Trace, journal_dir

log = logging.getLogger(__name__)


# -- creating and updating -----------------------------------------------------------------------

@dataclass
class KBReport:
    path: Path
    schema_version: int
    migrations_applied: list[int]
    cards: CardSync | None  # None: seeds unchanged since the last sync
    problems: list[str] = field(default_factory=list)  # seed cards that failed validation


def ensure_kb(home: Path | None = None, *, timeout: float = 10.0,
              cards: list[Card] | None = None) -> KBReport:
    """Create or migrate the knowledge base and sync the seed cards into it.

    Seeds are re-read only when their files changed (or `cards` is given, e.g. by tests).
    Raises KBBusy after `timeout` seconds of waiting for other writers, KBCorrupt / KBTooNew
    for a file it must not touch.
    """
    home = spark_home() if home is None else home
    path = kb_file(home)
    with writer_lock(home, timeout=timeout):
        con, applied = open_writer(path, timeout=timeout)
        try:
            with kb_errors(path):
                synced, problems = sync_seeds(con, cards)
                version = schema_version(con)
        finally:
            con.close()
    return KBReport(path, version, applied, synced, problems)


# -- reading -------------------------------------------------------------------------------------

def _offsets(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return dict(con.execute('SELECT file, "offset" FROM journal_offsets').fetchall())


@dataclass
class KBStatus:
    path: str
    exists: bool
    readable: bool  # False: missing, or busy (another process is writing it)
    size_bytes: int
    schema_version: int | None
    latest_schema_version: int
    cards: dict[str, dict[str, int]]  # source -> status -> count
    traces: dict[str, int]  # outcome -> count
    journal_files: int
    journal_pending_lines: int  # complete lines not merged yet (all lines when not readable)
    libraries: dict[str, str]  # installed versions of the tracked libraries
    meta: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def kb_status(home: Path | None = None, *, timeout: float = 1.0) -> KBStatus:
    """What the knowledge base holds, read-only; a busy file gives a partial answer with a note."""
    from spark_lsp.analysis import installed_versions

    home = spark_home() if home is None else home
    path = kb_file(home)
    status = KBStatus(str(path), path.is_file(), False, path.stat().st_size if path.is_file()
                      else 0, None, latest_version(), {}, {}, 0, 0, dict(installed_versions()))
    offsets: dict[str, int] | None = None
    from spark_lsp.kb.storage import configured_store

    store = configured_store()
    if store is not None:
        status.notes.append(f"cards and traces are on the memory store {store.display}")
    con = open_readonly(path, timeout=timeout)
    if con is None and path.is_file():
        status.notes.append("the knowledge base is busy (another process is writing it); "
                            "try again in a moment")
    elif con is not None:
        try:
            with kb_errors(path):
                status.readable = True
                status.schema_version = schema_version(con)
                if status.schema_version:
                    for source, card_status, n in con.execute(
                            "SELECT source, status, count(*) FROM cards GROUP BY ALL "
                            "ORDER BY ALL").fetchall():
                        status.cards.setdefault(source, {})[card_status] = n
                    status.traces = dict(con.execute(
                        "SELECT outcome, count(*) FROM traces GROUP BY ALL ORDER BY ALL"
                    ).fetchall())
                    status.meta = read_meta(con)
                offsets = _offsets(con) if status.schema_version else {}
        finally:
            con.close()
    status.journal_files = len(list(journal_dir(home).glob("*.jsonl")))
    _, status.journal_pending_lines = pending_traces(home, offsets)
    return status


_TRACE_COLUMNS = ('id, ts, client, file_hash, line, code, fingerprint, outcome, "before", '
                  '"after", versions, "user", "schema", coalesce(workspace, \'\')')


def row_to_trace(row: tuple[Any, ...]) -> Trace:
    (id_, ts, client, fhash, line, code, fingerprint, outcome, before, after, versions, user,
     schema, workspace) = row
    return Trace(outcome=outcome, code=code, client=client, file_hash=fhash, line=line,
                 before=before, after=after, versions=json.loads(versions),
                 fingerprint=fingerprint, user=user, id=id_, ts=ts, schema=schema,
                 workspace=workspace)


@dataclass
class TraceListing:
    traces: list[Trace]
    notes: list[str] = field(default_factory=list)  # why the list may be incomplete
    merge: MergeReport | None = None


def _try_merge(home: Path, timeout: float, notes: list[str]) -> MergeReport | None:
    try:
        return merge_journals(home, timeout=timeout)
    except KBBusy as exc:
        notes.append(f"journals not merged ({exc}); unmerged traces are read from the journals")
        return None


def query_traces(con: duckdb.DuckDBPyConnection, *, outcome: str | None = None,
                  code: str | None = None, newest_first: bool = True, limit: int | None = None,
                  ) -> duckdb.DuckDBPyConnection:
    where: list[str] = ["TRUE"]
    params: list[object] = []
    for column, value in (("outcome", outcome), ("code", code)):
        if value:
            where.append(f"{column} = ?")
            params.append(value)
    order = "ts DESC, id" if newest_first else "ts, id"
    columns = _TRACE_COLUMNS
    try:  # the `traces` that names resolve to: the file's own, or a server store's
        con.execute("SELECT workspace FROM traces LIMIT 0")
    except duckdb.BinderException:
        columns = columns.replace("coalesce(workspace, '')", "''")  # a file before migration 3
    sql = f"SELECT {columns} FROM traces WHERE {' AND '.join(where)} ORDER BY {order}"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return con.execute(sql, params)


def list_traces(home: Path | None = None, *, limit: int | None = 20, outcome: str | None = None,
                code: str | None = None, merge: bool = True, timeout: float = 2.0
                ) -> TraceListing:
    """The newest traces (database and unmerged journal lines), filtered by outcome and code.

    Merges the journals first when the file is free within `timeout`; otherwise lists what it
    can read and says so in `notes`.
    """
    home = spark_home() if home is None else home
    path = kb_file(home)
    notes: list[str] = []
    report = _try_merge(home, timeout, notes) if merge else None
    found: dict[str, Trace] = {}
    offsets: dict[str, int] | None = None
    # after a merge that found the file busy, do not make the user wait twice as long
    con = open_readonly(path, timeout=min(timeout, 0.5) if notes else timeout)
    if con is None and path.is_file():
        notes.append("the knowledge base is busy; only unmerged journal traces are listed")
    if con is not None:
        try:
            with kb_errors(path):
                offsets = {}
                if schema_version(con):
                    rows = query_traces(con, outcome=outcome, code=code, limit=limit).fetchall()
                    found = {t.id: t for t in map(row_to_trace, rows)}
                    offsets = _offsets(con)
        finally:
            con.close()
    for trace in pending_traces(home, offsets)[0]:
        if (not outcome or trace.outcome == outcome) and (not code or trace.code == code):
            found.setdefault(trace.id, trace)
    traces = sorted(found.values(), key=lambda t: (-t.ts, t.id))
    return TraceListing(traces[:limit] if limit is not None else traces, notes, report)


def export_traces(out: TextIO, home: Path | None = None, *, merge: bool = True,
                  timeout: float = 10.0) -> int:
    """Write every trace as JSONL, one `Trace` a line (`Trace.to_json`: its fields, keys sorted).

    Merged traces come oldest first, then any journal lines not merged yet. Unlike
    `list_traces`, a busy file is an error (KBBusy): an export must be complete. Returns the
    number of traces written.
    """
    from spark_lsp.kb.migrate import check_schema
    from spark_lsp.kb.storage import attach_configured

    home = spark_home() if home is None else home
    path = kb_file(home)
    if merge:
        merge_journals(home, timeout=timeout)
    count = 0
    offsets: dict[str, int] | None = None
    known: set[str] = set()
    pending: list[Trace] = []
    if path.is_file():
        con = connect(path, read_only=True, timeout=timeout)
        try:
            with kb_errors(path):
                offsets = {}
                attach_configured(con, read_only=True)  # a server store, when configured
                if check_schema(con, path):
                    cursor = query_traces(con, newest_first=False)
                    while rows := cursor.fetchmany(1000):
                        for trace in map(row_to_trace, rows):
                            out.write(trace.to_json() + "\n")
                            count += 1
                    offsets = _offsets(con)
                    pending = pending_traces(home, offsets)[0]
                    known = {r[0] for r in con.execute(
                        "SELECT id FROM traces WHERE list_contains(?, id)",
                        [[t.id for t in pending]]).fetchall()}
        finally:
            con.close()
    if offsets is None:
        pending = pending_traces(home, None)[0]
    unique = {t.id: t for t in pending if t.id not in known}
    for trace in sorted(unique.values(), key=lambda t: (t.ts, t.id)):
        out.write(trace.to_json() + "\n")
        count += 1
    return count


__all__ = [
    "CARD_SOURCES",
    "OUTCOMES",
    "CardSync",
    "ExtensionMissing",
    "KBBusy",
    "KBCorrupt",
    "KBError",
    "KBReport",
    "KBStatus",
    "KBTooNew",
    "MergeReport",
    "TraceListing",
    "content_hash",
    "ensure_kb",
    "export_traces",
    "kb_file",
    "kb_status",
    "list_traces",
    "load_extensions",
    "merge_journals",
    "open_readonly",
    "sync_cards",
]
