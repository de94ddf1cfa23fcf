"""`spark traces import`: traces from a JSON Lines file (the `spark traces export` format).

Every line is checked like a journal line (`traces.trace_from_json`); good lines go into the
knowledge base in one transaction, under the writers' lock. A trace whose id is already there
(or earlier in the file) is a duplicate and is skipped, so importing the same file twice adds
nothing. Code windows are redacted as the editors' journals are. Bad lines are counted and named (`FILE:LINE: why`); with `strict`, one bad line means
nothing is imported.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from spark_lsp.config import spark_home
from spark_lsp.kb.card_store import sync_seeds
from spark_lsp.kb.db import kb_errors, kb_file, writer_lock
from spark_lsp.kb.merge import insert_traces
from spark_lsp.kb.migrate import open_writer
from spark_lsp.kb.traces import (
    MalformedTrace,
    Trace,
    UnknownTraceSchema,
    redacted,
    trace_from_json,
)

log = logging.getLogger(__name__)

MAX_MESSAGES = 20


@dataclass
class ImportReport:
    lines: int = 0  # non-empty lines read
    inserted: int = 0
    duplicates: int = 0  # already in the knowledge base, or earlier in the file
    malformed: int = 0
    unknown_schema: int = 0  # written by a newer Spark
    written: bool = False  # False: nothing was written (dry run, strict refusal, nothing new)
    messages: list[str] = field(default_factory=list)

    @property
    def bad(self) -> int:
        return self.malformed + self.unknown_schema

    def note(self, message: str) -> None:
        log.warning("%s", message)
        if len(self.messages) < MAX_MESSAGES:
            self.messages.append(message)
        elif len(self.messages) == MAX_MESSAGES:
            self.messages.append("... (more lines had problems; the counts are complete)")

    def summary(self) -> str:
        text = f"imported {self.inserted} new trace(s) from {self.lines} line(s)"
        extra = [f"{n} {what}" for n, what in (
            (self.duplicates, "duplicate(s) skipped"), (self.malformed, "malformed"),
            (self.unknown_schema, "from a newer Spark")) if n]
        return text + (f"; {', '.join(extra)}" if extra else "")

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def parse_trace_lines(lines: Iterable[str | bytes], source: str = "<input>",
                      report: ImportReport | None = None) -> tuple[list[Trace], ImportReport]:
    """The traces of the good lines, in file order, each id once; problems go to the report."""
    report = report if report is not None else ImportReport()
    seen: dict[str, Trace] = {}
    for number, raw in enumerate(lines, start=1):
        if isinstance(raw, bytes):
            try:
                raw = raw.decode("utf-8")
            except UnicodeDecodeError:
                report.lines += 1
                report.malformed += 1
                report.note(f"{source}:{number}: not UTF-8 text")
                continue
        if not raw.strip():
            continue
        report.lines += 1
        try:
            trace = trace_from_json(raw)
        except UnknownTraceSchema as exc:
            report.unknown_schema += 1
            report.note(f"{source}:{number}: {exc}")
            continue
        except MalformedTrace as exc:
            report.malformed += 1
            report.note(f"{source}:{number}: {exc}")
            continue
        if trace.id in seen:
            report.duplicates += 1
            continue
        seen[trace.id] = redacted(trace)  # what may be stored, as for the editors' journals
    return list(seen.values()), report


def import_traces(lines: Iterable[str | bytes], home: Path | None = None, *,
                  source: str = "<input>", strict: bool = False, dry_run: bool = False,
                  timeout: float = 10.0) -> ImportReport:
    """Insert the traces of `lines` that are new, in one transaction.

    Raises KBBusy / KBCorrupt / KBTooNew like the other writers; bad lines are reported, not
    raised. `strict`: any bad line and nothing is written. `dry_run`: check and count only.
    """
    home = spark_home() if home is None else home
    traces, report = parse_trace_lines(lines, source)
    if (strict and report.bad) or dry_run or not traces:
        if strict and report.bad:
            report.note(f"{source}: {report.bad} bad line(s); nothing imported (--strict)")
        return report
    path = kb_file(home)
    with writer_lock(home, timeout=timeout):
        con, applied = open_writer(path, timeout=timeout)
        try:
            with kb_errors(path):
                if applied:
                    sync_seeds(con)
                con.execute("BEGIN TRANSACTION")
                try:
                    report.inserted = insert_traces(con, traces)
                    con.execute("COMMIT")
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
        finally:
            con.close()
    report.duplicates += len(traces) - report.inserted
    report.written = report.inserted > 0
    return report
