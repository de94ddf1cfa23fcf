"""`spark cards review`: an admin lists learned cards and promotes, edits, drops or restores them.

Each change is one transaction under the writers' lock. An edited card must still be a valid
card, keep its code, and reproduce its own examples (the same verification curation runs).
Dropped cards stay in the knowledge base as `retired` (reason `dropped`), so the next
`spark learn` does not propose them again.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from spark_lsp.analysis.cards import card_from_dict
from spark_lsp.config import spark_home
from spark_lsp.kb.card_store import sync_seeds
from spark_lsp.kb.db import KBError, kb_errors, kb_file, open_readonly, writer_lock
from spark_lsp.kb.migrate import open_writer, schema_version
from spark_lsp.learning import reinsert
from spark_lsp.learning.curate import read_learned, read_traces
from spark_lsp.learning.generalize import verify
from spark_lsp.learning.trust import card_stats, hover_note

_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class ReviewError(KBError):
    """A review action that cannot be done (no such card, invalid edit…)."""


@dataclass
class ReviewItem:
    code: str
    status: str
    title: str
    support: int
    users: int
    first_seen: str
    last_seen: str
    pattern: str
    template: str
    team: str  # "accepted 3 of 4 times by your team" or ""
    retired_reason: str = ""
    body: dict[str, Any] = field(default_factory=dict, repr=False)


def _item(body: dict[str, Any], note: str | None) -> ReviewItem:
    prov = body.get("provenance") or {}
    rule = (body.get("rules") or [{}])[0]
    pattern = rule.get("pattern") or " | ".join(
        a.get("pattern", "") for a in (rule.get("rule") or {}).get("any", []))
    return ReviewItem(body["code"], body.get("status", "candidate"), body.get("title", ""),
                      int(prov.get("support", 0)), int(prov.get("users", 0)),
                      str(prov.get("first_seen", "")), str(prov.get("last_seen", "")), pattern,
                      (body.get("fix") or {}).get("template", ""), note or "",
                      str(prov.get("retired_reason", "")), body)


def list_learned(home: Path | None = None, *, include_retired: bool = False) -> list[ReviewItem]:
    """Learned cards, candidates first."""
    home = spark_home() if home is None else home
    path = kb_file(home)
    con = open_readonly(path, timeout=2.0)
    if con is None:
        return []
    try:
        with kb_errors(path):
            if schema_version(con) < 3:
                return []
            bodies, stats = read_learned(con), card_stats(read_traces(con))
    finally:
        con.close()
    order = {"candidate": 0, "curated": 1, "retired": 2}
    items = [_item(b, hover_note(stats.get(b["code"]))) for b in bodies
             if include_retired or b.get("status") != "retired"]
    return sorted(items, key=lambda i: (order.get(i.status, 3), i.code))


def _change(home: Path | None, code: str, change: Any, *, timeout: float = 10.0) -> dict[str, Any]:
    """Load learned card `code`, let `change(body)` return the new body, write it."""
    home = spark_home() if home is None else home
    path = kb_file(home)
    code = code.strip().upper()
    with writer_lock(home, timeout=timeout):
        con, applied = open_writer(path, timeout=timeout)
        try:
            with kb_errors(path):
                if applied:
                    sync_seeds(con)
                row = con.execute("SELECT body, source FROM cards WHERE code = ?",
                                  [code]).fetchone()
                if row is None:
                    raise ReviewError(f"no card {code} in the knowledge base")
                if row[1] != "learned":
                    raise ReviewError(f"{code} is a {row[1]} card; only learned cards are "
                                      "reviewed here")
                body = change(json.loads(row[0]))
                reinsert.write(con, reinsert.Writes(cards=[body]))
        finally:
            con.close()
    return body


def _stamp(body: dict[str, Any], **values: Any) -> None:
    prov = body.setdefault("provenance", {})
    prov.update(values)


def promote(code: str, home: Path | None = None) -> dict[str, Any]:
    def change(body: dict[str, Any]) -> dict[str, Any]:
        if body.get("status") == "curated":
            raise ReviewError(f"{code} is already promoted")
        body["status"] = "curated"
        body.get("provenance", {}).pop("retired_reason", None)
        _stamp(body, promoted_at=time.strftime("%Y-%m-%d"), promoted_by="admin")
        return body
    return _change(home, code, change)


def drop(code: str, home: Path | None = None) -> dict[str, Any]:
    def change(body: dict[str, Any]) -> dict[str, Any]:
        body["status"] = "retired"
        _stamp(body, retired_reason="dropped", dropped_at=time.strftime("%Y-%m-%d"))
        return body
    return _change(home, code, change)


def card_yaml(body: dict[str, Any]) -> str:
    return yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=100)


def edit(code: str, text: str, home: Path | None = None) -> dict[str, Any]:
    """Replace learned card `code` with the card in `text` (YAML or JSON)."""
    try:
        new = yaml.load(text, Loader=_SafeLoader)
    except yaml.YAMLError as exc:
        raise ReviewError(f"the edited card is not YAML: {exc}") from None
    if not isinstance(new, dict):
        raise ReviewError("the edited card must be a mapping")

    def change(body: dict[str, Any]) -> dict[str, Any]:
        if str(new.get("code", "")).upper() != body["code"]:
            raise ReviewError(f"the edited card must keep its code {body['code']}")
        card, problems = card_from_dict(new, f"<edited {body['code']}>")
        if card is None:
            raise ReviewError("the edited card is not valid: " + "; ".join(map(str, problems)))
        failures = verify(card, [(e.bad, e.good) for e in card.examples])
        if failures:
            raise ReviewError("the edited card does not reproduce its examples: "
                              + "; ".join(failures[:3]))
        _stamp(new, **{k: v for k, v in (body.get("provenance") or {}).items()
                       if k not in (new.get("provenance") or {})})
        _stamp(new, edited_at=time.strftime("%Y-%m-%d"))
        return new
    return _change(home, code, change)


def restore(code: str, home: Path | None = None, *, timeout: float = 10.0) -> float:
    """Count only outcomes after now for `code` (a demoted or hidden card is shown again); a
    retired learned card goes back to candidate. Any card code may be restored."""
    home = spark_home() if home is None else home
    path = kb_file(home)
    code = code.strip().upper()
    since = time.time()
    with writer_lock(home, timeout=timeout):
        con, applied = open_writer(path, timeout=timeout)
        try:
            with kb_errors(path):
                if applied:
                    sync_seeds(con)
                row = con.execute("SELECT body, source FROM cards WHERE code = ?",
                                  [code]).fetchone()
                if row is None:
                    raise ReviewError(f"no card {code} in the knowledge base")
                writes = reinsert.Writes(
                    overrides=[(code, "restored", since, "restored by an admin")])
                if row[1] == "learned":
                    body = json.loads(row[0])
                    if body.get("status") == "retired":
                        body["status"] = "candidate"
                        body.get("provenance", {}).pop("retired_reason", None)
                        _stamp(body, restored_at_ts=since)  # the expiry clock starts again
                        writes.cards.append(body)
                reinsert.write(con, writes)
        finally:
            con.close()
    return since
