"""The memory and the local knowledge base: import a verified memory, snapshot local experience.

Import (one writer, under `kb.lock`):
- cards -> `cards` with source 'memory' (`kb.card_store.sync_cards`; cards not signed by a
  trusted admin go in as status 'candidate'; a card reusing a built-in code is skipped);
- outcomes -> `traces` with client 'memory' and no code (the trace id is the primary key, so
  one's own traces that come back through the team memory are not counted twice); outcome
  tombstones delete such rows;
- suppressions and the memory's provenance -> `meta` (`memory_*` keys);
- a copy of the file -> `$SPARK_HOME/memory/imported.sparkmem`, the base of the next export.

No schema change was needed: the tables of migration 001 hold all of it.
"""

from __future__ import annotations

import io
import json
import logging
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from spark_lsp.analysis.cards import card_from_dict
from spark_lsp.kb.card_store import CardSync, sync_cards, write_meta
from spark_lsp.kb.db import kb_errors, kb_file, open_readonly, utc_now, writer_lock
from spark_lsp.kb.merge import insert_traces
from spark_lsp.kb.migrate import open_writer
from spark_lsp.kb.store import export_traces
from spark_lsp.kb.traces import Trace, trace_from_json
from spark_lsp.memory.model import (
    CARD_CODE,
    CardEntry,
    Memory,
    Outcome,
    Suppression,
    Tombstone,
    card_hash,
)
from spark_lsp.memory.privacy import redact, redact_json
from spark_lsp.memory.safeload import UnsafeInput, loads_yaml
from spark_lsp.memory.verify import VerifiedMemory

log = logging.getLogger(__name__)

MEMORY_DIR = "memory"
IMPORTED = "imported.sparkmem"
MEMORY_CLIENT = "memory"  # the `client` of traces that came from a team memory
MAX_CARD_FILE = 256 * 1024


class MemoryInputError(ValueError):
    """Local input (a card folder, a flag) that cannot go into a memory, worded for the user."""


def imported_path(home: Path) -> Path:
    return home / MEMORY_DIR / IMPORTED


# -- import ----------------------------------------------------------------------------------

@dataclass
class ImportReport:
    cards: CardSync | None = None
    outcomes_added: int = 0
    outcomes_present: int = 0
    outcomes_removed: int = 0
    suppressions: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        cards = self.cards.summary() if self.cards else "cards: unchanged"
        return (f"{cards}; outcomes: {self.outcomes_added} added, {self.outcomes_present} "
                f"already present, {self.outcomes_removed} removed; "
                f"{len(self.suppressions)} team suppression(s)")


def _outcome_trace(outcome: Outcome) -> Trace:
    day = datetime.strptime(outcome.day, "%Y-%m-%d").replace(tzinfo=UTC)
    return Trace(outcome=outcome.outcome, code=outcome.code, client=MEMORY_CLIENT,
                 versions=dict(outcome.versions), user=outcome.user, id=outcome.id,
                 ts=day.timestamp(), before=outcome.before, after=outcome.after)


def import_memory(verified: VerifiedMemory, home: Path, *, timeout: float = 10.0
                  ) -> ImportReport:
    """Put a verified memory into the knowledge base at `home` (see the module doc).

    A memory older than the version of its team accepted on this machine is refused first
    (MemoryFileError `rollback`, nothing changed); an imported one becomes the accepted version.
    """
    from spark_lsp.memory import rollback

    rollback.check(home, verified.file)
    report = ImportReport(suppressions=dict(verified.suppressions))
    memory = verified.file.memory
    path = kb_file(home)
    with writer_lock(home, timeout=timeout):
        con, _ = open_writer(path, timeout=timeout)
        try:
            with kb_errors(path):
                builtin = {code for (code,) in con.execute(
                    "SELECT code FROM cards WHERE source = 'seed' AND status <> 'removed'"
                ).fetchall()}
                cards = [c for c in verified.cards + verified.candidates if c.code not in builtin]
                report.notes += [f"card {c.code} has the code of a built-in card; not imported"
                                 for c in verified.cards + verified.candidates
                                 if c.code in builtin]
                report.cards = sync_cards(con, cards, source="memory")
                _import_outcomes(con, memory, report)
        finally:
            con.close()
    target = imported_path(home)
    target.parent.mkdir(parents=True, exist_ok=True)
    if verified.file.path is not None and verified.file.path.resolve() != target.resolve():
        with (tempfile.NamedTemporaryFile(dir=target.parent, prefix=".import.",
                                          delete=False) as tmp,
              open(verified.file.path, "rb") as src):
            shutil.copyfileobj(src, tmp)
        Path(tmp.name).replace(target)
    rollback.accept(home, verified.file)
    return report


def _import_outcomes(con: Any, memory: Memory, report: ImportReport) -> None:
    traces = [_outcome_trace(o) for o in memory.outcomes.values()]
    gone = [key for kind, key in memory.tombstones if kind == "outcome"]
    con.execute("BEGIN TRANSACTION")
    try:
        if traces:
            report.outcomes_added = insert_traces(con, traces)
            report.outcomes_present = len(traces) - report.outcomes_added
        if gone:
            row = con.execute("DELETE FROM traces WHERE client = ? AND list_contains(?, id)",
                              [MEMORY_CLIENT, gone]).fetchone()
            report.outcomes_removed = int(row[0]) if row else 0
        write_meta(con, {"memory_suppressions": json.dumps(report.suppressions, sort_keys=True),
                         "memory_imported_at": utc_now().isoformat(timespec="seconds")})
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


# -- local experience -> a memory --------------------------------------------------------------

@dataclass
class LocalSources:
    """What a snapshot is made of; `spark memory export` and `sync` fill it from their flags."""

    cards_dirs: list[Path] = field(default_factory=list)
    learned: bool = True  # the knowledge base's learned cards
    outcomes: bool = True  # the knowledge base's own traces (not those from a team memory)
    snippets: bool = False  # include redacted code windows with outcomes
    suppress: dict[str, str] = field(default_factory=dict)  # code -> reason
    unsuppress: list[str] = field(default_factory=list)
    drop: list[str] = field(default_factory=list)  # card codes to delete (tombstones)


def load_card_folder(folder: Path) -> list[dict[str, Any]]:
    """Card data from `*.yaml` under `folder`, parsed with the hardened YAML loader."""
    if not folder.is_dir():
        raise MemoryInputError(f"no card folder at {folder}")
    cards: list[dict[str, Any]] = []
    for path in sorted(folder.rglob("*.y*ml")):
        try:
            if path.stat().st_size > MAX_CARD_FILE:
                raise MemoryInputError(f"{path}: larger than {MAX_CARD_FILE:,} bytes")
            data = loads_yaml(path.read_text(encoding="utf-8"))
        except UnsafeInput as exc:
            raise MemoryInputError(f"{path}: {exc}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise MemoryInputError(f"{path}: cannot read: {exc}") from None
        for doc in data if isinstance(data, list) else [data]:
            card, problems = card_from_dict(doc, str(path))
            if card is None:
                raise MemoryInputError("; ".join(str(p) for p in problems[:3]))
            cards.append(doc)
    return cards


def _learned_cards(home: Path, notes: list[str]) -> list[dict[str, Any]]:
    con = open_readonly(kb_file(home), timeout=5.0)
    if con is None:
        if kb_file(home).is_file():
            notes.append("the knowledge base is busy: its learned cards were not included")
        return []
    try:
        with kb_errors(kb_file(home)):
            rows = con.execute("SELECT body FROM cards WHERE source = 'learned' AND status "
                               "<> 'removed' ORDER BY code").fetchall()
    finally:
        con.close()
    return [json.loads(body) for (body,) in rows]


def _local_outcomes(home: Path, snippets: bool) -> list[Outcome]:
    buffer = io.StringIO()
    export_traces(buffer, home)
    out = []
    for line in buffer.getvalue().splitlines():
        trace = trace_from_json(line)
        if trace.client == MEMORY_CLIENT or not CARD_CODE.match(trace.code):
            continue  # came from the team (it is there already), or names no card
        day = datetime.fromtimestamp(trace.ts, UTC).strftime("%Y-%m-%d")
        out.append(Outcome(trace.id, trace.code, trace.outcome, day, trace.user,
                           dict(trace.versions),
                           redact(trace.before)[:4000] if snippets else "",
                           redact(trace.after)[:4000] if snippets else ""))
    return out


def snapshot(home: Path, key: Ed25519PrivateKey, sources: LocalSources, *, kind: str,
             base: Memory | None = None, now: str) -> tuple[Memory, list[str]]:
    """This machine's experience as a memory signed entry by entry with `key`.

    A card identical to its version in `base` keeps that version (author, time, signature);
    a changed one becomes a new version whose history continues the base's.
    """
    notes: list[str] = []
    memory = Memory(kind=kind, snippets=sources.snippets)
    raw_cards: dict[str, dict[str, Any]] = {}
    if sources.learned:
        for data in _learned_cards(home, notes):
            raw_cards[str(data.get("code"))] = data
    for folder in sources.cards_dirs:
        for data in load_card_folder(folder):
            raw_cards[str(data["code"])] = data
    for code, data in sorted(raw_cards.items()):
        clean = redact_json(data)
        card, problems = card_from_dict(clean, f"<{code}>")
        if card is None:
            notes.append(f"card {code} left out: after redaction it is no longer valid "
                         f"({'; '.join(p.message for p in problems[:2])})")
            continue
        old = base.cards.get(code) if base else None
        if old is not None and old.hash == card_hash(clean):
            memory.cards[code] = old
            continue
        history = (*old.history, old.hash) if old is not None else ()
        memory.cards[code] = CardEntry.create(key, clean, now, history)
    if sources.outcomes:
        for outcome in _local_outcomes(home, sources.snippets):
            memory.outcomes[outcome.id] = outcome
    for code, reason in sorted(sources.suppress.items()):
        old_s = base.suppressions.get(code) if base else None
        memory.suppressions[code] = (old_s if old_s is not None and old_s.reason == reason
                                     else Suppression.create(key, code, redact(reason), now))
    for code in sources.unsuppress:
        memory.tombstones[("suppression", code)] = Tombstone.create(key, "suppression", code, now)
    for code in sources.drop:
        memory.cards.pop(code, None)
        memory.tombstones[("card", code)] = Tombstone.create(key, "card", code, now)
    return memory, notes

