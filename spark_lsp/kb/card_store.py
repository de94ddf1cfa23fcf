"""Cards in the knowledge base: upserted by code and content hash, never deleted.

A card whose source (the seeds folder, the memory file, the learner) no longer provides it is
marked 'removed'; its row and the traces naming it stay.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb

from spark_lsp import SEEDS_DIR, __version__
from spark_lsp.analysis.cards import Card
from spark_lsp.kb.db import utc_now

log = logging.getLogger(__name__)

CARD_SOURCES = ("seed", "memory", "learned")
REMOVED = "removed"


@dataclass
class CardSync:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)  # back in the source after a removal
    removed: list[str] = field(default_factory=list)  # marked removed, rows kept
    unchanged: int = 0

    def summary(self) -> str:
        return (f"cards: {len(self.added)} added, {len(self.updated)} updated, "
                f"{len(self.restored)} restored, {len(self.removed)} removed, "
                f"{self.unchanged} unchanged")


def _jsonable(value: Any) -> Any:
    """YAML can hold dates; the body column holds JSON."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def card_body(card: Card) -> dict[str, Any]:
    body = card.raw or {"code": card.code, "title": card.title, "libraries": card.libraries,
                        "status": card.status, "why": card.why}
    return _jsonable(body)


def content_hash(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def sync_cards(con: duckdb.DuckDBPyConnection, cards: Iterable[Card], *,
               source: str = "seed") -> CardSync:
    """Upsert `cards` by code and content hash, in one transaction.

    Cards of `source` that are in the table but not in `cards` are marked 'removed' (their rows,
    and the traces that name them, are kept); a removed card that comes back is restored.
    """
    if source not in CARD_SOURCES:
        raise ValueError(f"source must be one of {CARD_SOURCES}, not {source!r}")
    existing = {code: (h, status, src) for code, h, status, src in con.execute(
        "SELECT code, content_hash, status, source FROM cards").fetchall()}
    now = utc_now()
    report = CardSync()
    seen: set[str] = set()
    con.execute("BEGIN TRANSACTION")
    try:
        for card in cards:
            seen.add(card.code)
            body = card_body(card)
            digest = content_hash(body)
            old = existing.get(card.code)
            if old == (digest, card.status, source):
                report.unchanged += 1
                continue
            con.execute(
                """INSERT INTO cards (code, title, status, source, libraries, body, content_hash,
                                      path, loaded_at, removed_at)
                   VALUES (?, ?, ?, ?, ?::JSON, ?::JSON, ?, ?, ?, NULL)
                   ON CONFLICT (code) DO UPDATE SET title = excluded.title,
                       status = excluded.status, source = excluded.source,
                       libraries = excluded.libraries, body = excluded.body,
                       content_hash = excluded.content_hash, path = excluded.path,
                       loaded_at = excluded.loaded_at, removed_at = NULL""",
                [card.code, card.title, card.status, source,
                 json.dumps(card.libraries, sort_keys=True), json.dumps(body, ensure_ascii=False),
                 digest, card.path or None, now])
            if old is None:
                report.added.append(card.code)
            elif old[1] == REMOVED and old[0] == digest:
                report.restored.append(card.code)
            else:
                report.updated.append(card.code)
        report.removed = sorted(code for code, (_, status, src) in existing.items()
                                if src == source and status != REMOVED and code not in seen)
        for code in report.removed:
            con.execute("UPDATE cards SET status = ?, removed_at = ? WHERE code = ?",
                        [REMOVED, now, code])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return report


def seeds_fingerprint(folder: Path | None = None) -> str:
    """Changes when a seed card file (or Spark's version) changes: skips needless re-syncs."""
    folder = SEEDS_DIR / "cards" if folder is None else folder
    h = hashlib.sha256(__version__.encode())
    for path in sorted(folder.rglob("*.y*ml")) if folder.is_dir() else []:
        st = path.stat()
        h.update(f"{path.relative_to(folder)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def read_meta(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return dict(con.execute("SELECT key, value FROM meta").fetchall())


def write_meta(con: duckdb.DuckDBPyConnection, values: dict[str, str]) -> None:
    for key, value in values.items():
        con.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET "
                    "value = excluded.value", [key, value])


def sync_seeds(con: duckdb.DuckDBPyConnection, cards: list[Card] | None = None, *,
               force: bool = False) -> tuple[CardSync | None, list[str]]:
    """Sync the seed cards if their files changed since the last sync (or `cards`/`force`)."""
    from spark_lsp.analysis import load_default_cards

    meta = read_meta(con)
    fingerprint = seeds_fingerprint()
    synced, problems = None, []
    if force or cards is not None or meta.get("seeds_fingerprint") != fingerprint:
        if cards is None:
            cards, found = load_default_cards()
            problems = [str(p) for p in found]
        synced = sync_cards(con, cards, source="seed")
        log.info("%s", synced.summary())
    now = utc_now().isoformat(timespec="seconds")
    write_meta(con, {"spark_version": __version__, "seeds_fingerprint": fingerprint,
                    **({"created_at": now} if "created_at" not in meta else {}),
                    **({"cards_synced_at": now} if synced else {})})
    return synced, problems


