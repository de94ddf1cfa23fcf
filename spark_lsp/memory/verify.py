"""From a file on disk to cards an analyzer may run: every check, or one clear refusal.

`verify_file` = `format.read_memory` (limits, structure, signatures, records) + each card
validated like a seed card (`analysis.cards.card_from_dict`) + a time limit per rule
(`rulecheck`). Any failure rejects the whole file: a memory is used entirely or not at all.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from spark_lsp.analysis.cards import Card, card_from_dict
from spark_lsp.memory.format import (
    DEFAULT_LIMITS,
    Limits,
    MemoryFile,
    MemoryFileError,
    read_memory,
)
from spark_lsp.memory.keys import TrustedKeys
from spark_lsp.memory.merge import effective_cards, effective_suppressions
from spark_lsp.memory.rulecheck import RULE_TIME_LIMIT, find_slow_rules

log = logging.getLogger(__name__)


@dataclass
class VerifiedMemory:
    file: MemoryFile
    cards: list[Card] = field(default_factory=list)  # admin-signed: what editors run
    candidates: list[Card] = field(default_factory=list)  # not admin-signed: for review only
    suppressions: dict[str, str] = field(default_factory=dict)  # code -> reason

    @property
    def digest(self) -> str:
        return self.file.digest

    def summary(self) -> str:
        m = self.file.memory
        signer = "a trusted admin key" if self.file.trusted else "an untrusted key"
        name = self.file.path.name if self.file.path else "memory"
        if self.file.version:
            name += f" ({self.file.version.describe()})"
        return (f"{name}: {m.kind} signed by "
                f"{signer} {self.file.signer_id} at {self.file.signed_at}; "
                f"{len(self.cards)} card(s) in use, {len(self.candidates)} candidate(s), "
                f"{len(m.outcomes)} outcome(s), {len(self.suppressions)} suppression(s), "
                f"{len(m.tombstones)} tombstone(s), {len(m.conflicts)} conflict(s)")


_cache: dict[tuple[str, frozenset[str], bool], VerifiedMemory] = {}
_cache_lock = threading.Lock()


def verify_file(path: Path, trusted: TrustedKeys, *, limits: Limits = DEFAULT_LIMITS,
                allow_contribution: bool = False, rule_limit: float = RULE_TIME_LIMIT,
                all_rules: bool = True) -> VerifiedMemory:
    """Read and check `path`; raise MemoryFileError naming the problem.

    With `all_rules=False` only the cards editors would run get the time-limit check (the
    others are never matched). Results are cached by content digest and trusted keys.
    """
    mf = read_memory(path, trusted, limits=limits, allow_contribution=allow_contribution)
    key = (mf.digest, trusted.keys, all_rules)
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None:
        return VerifiedMemory(mf, cached.cards, cached.candidates, cached.suppressions)
    admin_codes = {e.code for e in effective_cards(mf.memory, trusted)}
    verified = VerifiedMemory(mf, suppressions=effective_suppressions(mf.memory, trusted))
    for code, entry in sorted(mf.memory.cards.items()):
        data = entry.card if code in admin_codes else {**entry.card, "status": "candidate"}
        card, problems = card_from_dict(data, f"{path.name}#{code}")
        if card is None:
            raise MemoryFileError("card", f"card {code} is not a valid card: "
                                          f"{'; '.join(f'{p.field}: {p.message}' for p in problems[:3])}")
        (verified.cards if code in admin_codes else verified.candidates).append(card)
    to_time = [e.card for c, e in sorted(mf.memory.cards.items())
               if all_rules or c in admin_codes]
    slow = find_slow_rules(to_time, limit=rule_limit) if to_time else []
    if slow:
        raise MemoryFileError("hanging-rule", "; ".join(s.message for s in slow))
    with _cache_lock:
        if len(_cache) > 32:
            _cache.clear()
        _cache[key] = verified
    return verified

