"""Merging memories: deterministic, idempotent and commutative.

Per key, the merge keeps the greatest entry under one fixed order, so the result does not
depend on the order of the inputs and merging a memory with itself changes nothing:

- cards (and their tombstones): an entry signed by a trusted admin beats one that is not;
  then the newer `updated`; then a tombstone beats a card of the same time; then the greater
  content hash. A card version that loses to another version that was *not* edited from it
  (its hash is not in the winner's `history`) is recorded in `conflicts`.
- suppressions: the same order (tombstone kind 'suppression').
- outcomes: one per trace id, so counts add without double counting; an outcome tombstone
  removes its trace id for good.
- conflicts: the union of every input's conflicts and the new ones.

Contributions (`spark memory sync`) can add cards and outcomes, never suppressions or
tombstones: those need an admin's signature.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from spark_lsp.memory.keys import TrustedKeys
from spark_lsp.memory.model import (
    CardEntry,
    Conflict,
    Memory,
    Outcome,
    Signed,
    Suppression,
    Tombstone,
    canonical,
)

log = logging.getLogger(__name__)


@dataclass
class MergeResult:
    memory: Memory
    notes: list[str] = field(default_factory=list)
    new_conflicts: list[Conflict] = field(default_factory=list)


def _admin(entry: Signed, trusted: TrustedKeys) -> bool:
    return entry.author in trusted and entry.signature_ok()


def _rank(entry: CardEntry | Suppression | Tombstone, trusted: TrustedKeys
          ) -> tuple[bool, str, int, bytes]:
    is_tombstone = isinstance(entry, Tombstone)
    return (_admin(entry, trusted), entry.updated, int(is_tombstone), canonical(entry.to_json()))


def merge_memories(memories: Iterable[Memory], trusted: TrustedKeys) -> MergeResult:
    """One memory holding the greatest entry of every key of `memories` (see the module doc)."""
    inputs = list(memories)
    result = MergeResult(Memory(kind="memory", snippets=any(m.snippets for m in inputs)))
    out = result.memory
    card_versions: dict[str, list[CardEntry | Tombstone]] = {}
    suppressions: dict[str, list[Suppression | Tombstone]] = {}
    for memory in inputs:
        for code, card in memory.cards.items():
            card_versions.setdefault(code, []).append(card)
        for (kind, key), tomb in memory.tombstones.items():
            if memory.kind == "contribution" and not _admin(tomb, trusted):
                result.notes.append(f"a contribution's deletion of {kind} {key} was ignored "
                                    "(deletions need an admin's signature)")
                continue
            if kind == "card":
                card_versions.setdefault(key, []).append(tomb)
            elif kind == "suppression":
                suppressions.setdefault(key, []).append(tomb)
            else:
                _keep_greatest(out.tombstones, (kind, key), tomb, trusted)
        for code, sup in memory.suppressions.items():
            if memory.kind == "contribution" and not _admin(sup, trusted):
                result.notes.append(f"a contribution's suppression of {code} was ignored "
                                    "(suppressions need an admin's signature)")
                continue
            suppressions.setdefault(code, []).append(sup)
        for conflict in memory.conflicts.values():
            _keep_conflict(out.conflicts, conflict)
    for code, versions in sorted(card_versions.items()):
        winner = max(versions, key=lambda e: _rank(e, trusted))
        if isinstance(winner, Tombstone):
            out.tombstones[("card", code)] = winner
            continue
        out.cards[code] = winner
        for loser in versions:
            if (isinstance(loser, CardEntry) and loser.hash != winner.hash
                    and loser.hash not in winner.history):
                conflict = Conflict.of(loser)
                if (code, loser.hash) not in out.conflicts:
                    result.new_conflicts.append(conflict)
                _keep_conflict(out.conflicts, conflict)
    for code, entries in sorted(suppressions.items()):
        best = max(entries, key=lambda e: _rank(e, trusted))
        if isinstance(best, Tombstone):
            out.tombstones[("suppression", code)] = best
        else:
            out.suppressions[code] = best
    gone = {key for kind, key in out.tombstones if kind == "outcome"}
    for memory in inputs:
        for trace_id, outcome in memory.outcomes.items():
            if trace_id in gone:
                continue
            old = out.outcomes.get(trace_id)
            if old is None or _outcome_key(outcome) < _outcome_key(old):
                if old is not None:
                    result.notes.append(f"trace {trace_id} has two different outcomes; kept one")
                out.outcomes[trace_id] = outcome
    for conflict in result.new_conflicts:
        log.info("conflict on %s: version %s of %s lost to a concurrent edit", conflict.code,
                 conflict.hash[:12], conflict.updated)
    return result


def _keep_greatest(table: dict[tuple[str, str], Tombstone], key: tuple[str, str],
                   entry: Tombstone, trusted: TrustedKeys) -> None:
    old = table.get(key)
    if old is None or _rank(entry, trusted) > _rank(old, trusted):
        table[key] = entry


def _keep_conflict(table: dict[tuple[str, str], Conflict], conflict: Conflict) -> None:
    """One record per (code, version hash); the same version saved twice keeps the greater."""
    key = (conflict.code, conflict.hash)
    old = table.get(key)
    if old is None or canonical(conflict.to_json()) > canonical(old.to_json()):
        table[key] = conflict


def _outcome_key(outcome: Outcome) -> bytes:
    return canonical(outcome.to_json())


def effective_cards(memory: Memory, trusted: TrustedKeys) -> list[CardEntry]:
    """The card versions editors run: signed by a trusted admin (others await review)."""
    return [memory.cards[c] for c in sorted(memory.cards) if _admin(memory.cards[c], trusted)]


def effective_suppressions(memory: Memory, trusted: TrustedKeys) -> dict[str, str]:
    """Codes suppressed team-wide -> reason (admin-signed suppressions only)."""
    return {code: s.reason for code, s in sorted(memory.suppressions.items())
            if _admin(s, trusted)}
