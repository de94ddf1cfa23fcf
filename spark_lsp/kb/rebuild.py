"""`spark kb rebuild`: set the knowledge-base file aside and build a fresh one.

Nothing is deleted: the old file is renamed `spark.duckdb.old-<time>`. Whatever can still be read
from it — traces, and cards that did not come from the seeds — is copied into the new file.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from spark_lsp.config import spark_home
from spark_lsp.kb.card_store import sync_seeds
from spark_lsp.kb.db import KBBusy, KBError, KBTooNew, connect, kb_errors, kb_file, writer_lock
from spark_lsp.kb.merge import insert_traces
from spark_lsp.kb.migrate import check_schema, open_writer, schema_version
from spark_lsp.kb.storage import commit_between
from spark_lsp.kb.store import KBReport, query_traces, row_to_trace
from spark_lsp.kb.traces import Trace

log = logging.getLogger(__name__)

_CARD_COLUMNS = ("code, title, status, source, libraries, body, content_hash, path, loaded_at, "
                 "removed_at")


@dataclass
class RebuildReport:
    old_path: Path | None  # where the previous file now is (None: there was none)
    kb: KBReport
    traces_kept: int = 0
    cards_kept: int = 0  # memory / learned cards carried over
    notes: list[str] = field(default_factory=list)


@dataclass
class _Salvage:
    traces: list[Trace] = field(default_factory=list)
    cards: list[tuple[Any, ...]] = field(default_factory=list)  # non-seed card rows
    offsets: list[tuple[Any, ...]] = field(default_factory=list)  # journal_offsets rows


def _salvage(path: Path, timeout: float, notes: list[str]) -> _Salvage:
    """What is still readable in `path`. KBBusy / KBTooNew propagate."""
    found = _Salvage()
    try:
        con = connect(path, read_only=True, timeout=timeout)
        try:
            with kb_errors(path):
                if not check_schema(con, path):
                    return found
            try:
                found.traces = [row_to_trace(r)
                                for r in query_traces(con, newest_first=False).fetchall()]
                # Only with the traces: without them, journals must be read again from the start.
                found.offsets = con.execute(
                    'SELECT file, "offset", updated_at FROM journal_offsets').fetchall()
            except (duckdb.Error, ValueError) as exc:
                found.traces, found.offsets = [], []
                notes.append(f"traces could not be read from the old file: {exc}")
            try:
                found.cards = con.execute(
                    f"SELECT {_CARD_COLUMNS} FROM cards WHERE source <> 'seed'").fetchall()
            except duckdb.Error as exc:
                notes.append(f"memory/learned cards could not be read from the old file: {exc}")
        finally:
            con.close()
    except (KBBusy, KBTooNew):
        raise
    except KBError as exc:
        notes.append(f"nothing could be read from the old file: {exc}")
    return found


def _aside_name(path: Path) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    candidate = path.with_name(f"{path.name}.old-{stamp}")
    n = 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}.old-{stamp}-{n}")
    return candidate


def rebuild_kb(home: Path | None = None, *, timeout: float = 10.0) -> RebuildReport:
    """Rename the current file aside, create a new one (schema + seed cards), copy back what the
    old one still yields. Refuses (KBTooNew) a file from a newer Spark, waits for (KBBusy)
    a file in use."""
    home = spark_home() if home is None else home
    path = kb_file(home)
    notes: list[str] = []
    old_path = None
    with writer_lock(home, timeout=timeout):
        found = _Salvage()
        if path.exists():
            found = _salvage(path, timeout, notes)
            old_path = _aside_name(path)
            path.rename(old_path)
            wal = path.with_name(path.name + ".wal")
            if wal.exists():
                wal.rename(old_path.with_name(old_path.name + ".wal"))
            log.warning("knowledge base moved aside to %s", old_path)
        con, applied = open_writer(path, timeout=timeout)
        try:
            with kb_errors(path):
                con.execute("BEGIN TRANSACTION")
                kept = insert_traces(con, found.traces) if found.traces else 0
                for row in found.cards:
                    con.execute(f"INSERT INTO cards ({_CARD_COLUMNS}) VALUES "
                                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", list(row))
                commit_between(con)  # traces and cards on a server store, offsets local
                for row in found.offsets:
                    con.execute('INSERT INTO journal_offsets (file, "offset", updated_at) '
                                "VALUES (?, ?, ?) ON CONFLICT DO NOTHING", list(row))
                con.execute("COMMIT")
                synced, problems = sync_seeds(con, force=True)
                version = schema_version(con)
        finally:
            con.close()
    report = KBReport(path, version, applied, synced, problems)
    return RebuildReport(old_path, report, kept, len(found.cards), notes)
