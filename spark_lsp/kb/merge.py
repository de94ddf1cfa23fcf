"""Merging trace journals into the knowledge base: the one way traces reach the DuckDB file.

Rules that keep every line exactly once:
- A journal's liveness is decided *before* it is read: a writer found dead cannot add more.
- Only complete lines are merged. How far each journal was merged is committed in the same
  transaction as its traces (`journal_offsets`), so a crash re-reads at most what was not
  committed, and trace ids dedupe the rest.
- A live writer's file is never truncated or removed (it may be appending right now); a file is
  removed only after its writer has exited and all its lines are committed.
- Lines that cannot be merged (malformed, or from a newer trace schema) are copied to
  `journal/rejected/<file>` before their journal is removed: counted, reported, never dropped.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb

from spark_lsp.config import spark_home
from spark_lsp.kb.card_store import sync_seeds
from spark_lsp.kb.db import kb_errors, kb_file, utc_now, writer_lock
from spark_lsp.kb.migrate import open_writer
from spark_lsp.kb.storage import commit_between
from spark_lsp.kb.traces import (
    MalformedTrace,
    Trace,
    UnknownTraceSchema,
    journal_dir,
    trace_from_json,
)

log = logging.getLogger(__name__)

MAX_MESSAGES = 20
REJECTED_DIR = "rejected"


@dataclass
class MergeReport:
    files: int = 0  # journal files read
    lines: int = 0  # complete lines read
    inserted: int = 0
    duplicates: int = 0  # already in the knowledge base (or twice in the journals)
    malformed: int = 0
    unknown_schema: int = 0
    partial_kept: int = 0  # incomplete last lines of live writers, left for the next merge
    removed_files: int = 0  # journals of exited writers, fully merged
    messages: list[str] = field(default_factory=list)
    _dropped_messages: int = field(default=0, repr=False)
    _quiet: bool = field(default=False, repr=False)  # reading for display, not merging

    def note(self, message: str) -> None:
        log.log(logging.DEBUG if self._quiet else logging.WARNING, "%s", message)
        if len(self.messages) < MAX_MESSAGES:
            self.messages.append(message)
        else:
            self._dropped_messages += 1

    def all_messages(self) -> list[str]:
        more = [f"... and {self._dropped_messages} more"] if self._dropped_messages else []
        return self.messages + more

    def summary(self) -> str:
        text = (f"merged {self.inserted} new trace(s) from {self.lines} line(s) in "
                f"{self.files} journal file(s)")
        extra = [f"{n} {what}" for n, what in (
            (self.duplicates, "already present"), (self.malformed, "malformed"),
            (self.unknown_schema, "from a newer Spark"),
            (self.partial_kept, "incomplete line(s) kept for the next merge"),
            (self.removed_files, "finished journal(s) removed")) if n]
        return text + (f"; {', '.join(extra)}" if extra else "")

    def to_dict(self) -> dict[str, object]:
        data = {k: v for k, v in asdict(self).items() if not k.startswith("_")}
        data["messages"] = self.all_messages()
        return data


@dataclass
class JournalChunk:
    """The new complete lines of one journal file, parsed."""

    path: Path
    end: int  # offset just after the last byte consumed
    finished: bool  # its writer has exited: the file goes once this chunk is committed
    traces: list[Trace] = field(default_factory=list)
    rejected: list[bytes] = field(default_factory=list)


def journal_owner(name: str) -> tuple[str, int] | None:
    """(host, pid) from a `<host>-<pid>-<random>.jsonl` name; None for other names."""
    if not name.endswith(".jsonl"):
        return None
    parts = name[: -len(".jsonl")].rsplit("-", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    return parts[0], int(parts[1])


def writer_alive(path: Path) -> bool:
    """Whether the journal's writer may still append. Unsure (other host, odd name) -> True."""
    owner = journal_owner(path.name)
    if owner is None or owner[0] != socket.gethostname() or os.name != "posix":
        return True
    pid = owner[1]
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def read_chunk(path: Path, start: int, report: MergeReport | None = None) -> JournalChunk | None:
    """Parse the complete lines of `path` after byte `start`; None if the file is gone."""
    report = report if report is not None else MergeReport()
    finished = not writer_alive(path)  # before reading, so nothing can be appended after
    try:
        with open(path, "rb") as fh:
            if os.fstat(fh.fileno()).st_size < start:
                log.info("%s is shorter than its merged offset; reading it again", path.name)
                start = 0
            fh.seek(start)
            data = fh.read()
    except FileNotFoundError:
        return None
    cut = data.rfind(b"\n") + 1
    chunk = JournalChunk(path, start + cut, finished)
    pos = start
    for raw in data[:cut].split(b"\n")[:-1]:
        where = f"{path.name} at byte {pos}"
        pos += len(raw) + 1
        if not raw.strip():
            continue
        report.lines += 1
        try:
            chunk.traces.append(trace_from_json(raw.decode("utf-8")))
        except UnicodeDecodeError:
            _reject(report, chunk, raw, f"{where}: not UTF-8 text")
        except UnknownTraceSchema as exc:
            report.unknown_schema += 1
            chunk.rejected.append(raw)
            report.note(f"{where}: {exc}")
        except MalformedTrace as exc:
            _reject(report, chunk, raw, f"{where}: {exc}")
    tail = data[cut:]
    if tail:
        if finished:
            report.lines += 1
            _reject(report, chunk, tail, f"{path.name} at byte {pos}: incomplete last line "
                                         "(its writer exited while writing it)")
            chunk.end = start + len(data)
        else:
            report.partial_kept += 1
            log.info("%s: incomplete last line kept for the next merge (writer still running)",
                     path.name)
    return chunk


def _reject(report: MergeReport, chunk: JournalChunk, raw: bytes, message: str) -> None:
    report.malformed += 1
    chunk.rejected.append(raw)
    report.note(message)


def insert_traces(con: duckdb.DuckDBPyConnection, traces: list[Trace]) -> int:
    """Insert traces whose id is new; return how many were inserted."""
    # One statement over column lists: executemany costs ~2 ms a row in DuckDB's Python client.
    columns = {name: [getattr(t, name) for t in traces] for name in
               ("id", "ts", "client", "file_hash", "line", "code", "fingerprint", "outcome",
                "before", "after", "user", "schema", "workspace")}
    versions = [json.dumps(t.versions, sort_keys=True, ensure_ascii=False) for t in traces]
    row = con.execute(
        """INSERT INTO traces (id, ts, client, file_hash, line, code, fingerprint, outcome,
                               "before", "after", versions, "user", "schema", workspace)
           SELECT unnest($id), unnest($ts::DOUBLE[]), unnest($client), unnest($file_hash),
                  unnest($line::INTEGER[]), unnest($code), unnest($fingerprint),
                  unnest($outcome), unnest($before), unnest($after),
                  unnest($versions)::JSON, unnest($user), unnest($schema::INTEGER[]),
                  unnest($workspace)
           ON CONFLICT DO NOTHING""",
        {**columns, "versions": versions}).fetchone()
    return int(row[0]) if row else 0


def _commit(con: duckdb.DuckDBPyConnection, chunks: list[JournalChunk], offsets: dict[str, int],
            present: set[str], report: MergeReport) -> None:
    """Insert the chunks' traces and record how far each journal was read, atomically."""
    unique: dict[str, Trace] = {}
    for chunk in chunks:
        for trace in chunk.traces:
            if trace.id in unique:
                report.duplicates += 1
            else:
                unique[trace.id] = trace
    now = utc_now()
    con.execute("BEGIN TRANSACTION")
    try:
        if unique:
            report.inserted = insert_traces(con, list(unique.values()))
            report.duplicates += len(unique) - report.inserted
        commit_between(con)  # traces on a server store, offsets in the local file
        for chunk in chunks:
            name = chunk.path.name
            if chunk.finished:
                con.execute("DELETE FROM journal_offsets WHERE file = ?", [name])
            elif offsets.get(name) != chunk.end:
                con.execute(
                    'INSERT INTO journal_offsets (file, "offset", updated_at) VALUES (?, ?, ?) '
                    'ON CONFLICT (file) DO UPDATE SET "offset" = excluded."offset", '
                    "updated_at = excluded.updated_at", [name, chunk.end, now])
        for name in set(offsets) - present:
            con.execute("DELETE FROM journal_offsets WHERE file = ?", [name])
        con.execute("COMMIT")
    except BaseException:
        try:
            con.execute("ROLLBACK")
        except duckdb.Error:
            log.debug("rollback failed", exc_info=True)
        raise


def _set_aside(chunk: JournalChunk, report: MergeReport) -> bool:
    """Append rejected lines to `journal/rejected/<name>`; False (and a message) if that fails."""
    if not chunk.rejected:
        return True
    target = chunk.path.parent / REJECTED_DIR / chunk.path.name
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "ab") as fh:
            fh.write(b"".join(raw + b"\n" for raw in chunk.rejected))
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        report.note(f"cannot set aside {len(chunk.rejected)} unmergeable line(s) of "
                    f"{chunk.path.name} in {target}: {exc}; the journal is kept")
        return False
    return True


def merge_journals(home: Path | None = None, *, timeout: float = 10.0) -> MergeReport:
    """Insert every new journal line into the knowledge base, in one transaction.

    Creates or migrates the file if needed (and then syncs the seed cards too). Waits up to
    `timeout` seconds for other writers (the `kb.lock` advisory lock, then DuckDB's file lock)
    and raises KBBusy after that; raises KBCorrupt / KBTooNew / KBError when the file cannot be
    used. Safe to call from any process at any time, concurrently with `TraceJournal.append` in
    others. Lines that cannot be merged are reported in the MergeReport, not raised.
    """
    home = spark_home() if home is None else home
    report = MergeReport()
    folder = journal_dir(home)
    if not any(folder.glob("*.jsonl")):
        return report
    path = kb_file(home)
    with writer_lock(home, timeout=timeout):
        con, applied = open_writer(path, timeout=timeout)
        try:
            with kb_errors(path):
                if applied:  # a new (or upgraded) file: give it its cards as well
                    sync_seeds(con)
                offsets = dict(con.execute('SELECT file, "offset" FROM journal_offsets').fetchall())
                files = sorted(folder.glob("*.jsonl"))
                chunks = [c for p in files
                          if (c := read_chunk(p, offsets.get(p.name, 0), report)) is not None]
                report.files = len(chunks)
                _commit(con, chunks, offsets, {p.name for p in files}, report)
        finally:
            con.close()
        for chunk in chunks:
            if _set_aside(chunk, report) and chunk.finished:
                chunk.path.unlink(missing_ok=True)
                report.removed_files += 1
    log.info("%s", report.summary())
    return report


def pending_traces(home: Path, offsets: dict[str, int] | None) -> tuple[list[Trace], int]:
    """Traces in journal lines not merged yet (after `offsets`; all lines when None), and how
    many complete lines those are, malformed ones included. Reads only; changes nothing."""
    traces: list[Trace] = []
    report = MergeReport(_quiet=True)
    for path in sorted(journal_dir(home).glob("*.jsonl")):
        chunk = read_chunk(path, (offsets or {}).get(path.name, 0), report)
        if chunk is not None:
            traces += chunk.traces
    return traces, report.lines
