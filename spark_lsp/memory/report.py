"""`spark memory stats` and `spark memory diff`: what a memory holds, what changed (plain data,
plus the text the CLI prints)."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from spark_lsp.memory.format import MemoryFile
from spark_lsp.memory.keys import TrustedKeys, key_id
from spark_lsp.memory.merge import effective_cards
from spark_lsp.memory.model import OUTCOMES, Memory

_MAIN = ("shown", "accepted", "rejected", "corrected")


@dataclass
class Stats:
    path: str
    size_bytes: int
    kind: str
    signer: str
    trusted: bool
    signed_at: str
    digest: str
    snippets: bool
    cards: int
    cards_in_use: int  # signed by a trusted admin
    outcomes: int
    users: int
    suppressions: list[str]
    tombstones: dict[str, int]
    conflicts: int
    per_card: dict[str, dict[str, int]] = field(default_factory=dict)  # code -> outcome -> n

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def stats(mf: MemoryFile, trusted: TrustedKeys) -> Stats:
    m = mf.memory
    per_card: dict[str, Counter[str]] = {}
    for o in m.outcomes.values():
        per_card.setdefault(o.code, Counter())[o.outcome] += 1
    return Stats(
        path=str(mf.path), size_bytes=mf.size, kind=m.kind, signer=mf.signer_id,
        trusted=mf.trusted, signed_at=mf.signed_at, digest=mf.digest, snippets=m.snippets,
        cards=len(m.cards), cards_in_use=len(effective_cards(m, trusted)),
        outcomes=len(m.outcomes), users=len({o.user for o in m.outcomes.values() if o.user}),
        suppressions=sorted(m.suppressions), conflicts=len(m.conflicts),
        tombstones=dict(Counter(kind for kind, _ in m.tombstones)),
        per_card={code: {o: c[o] for o in OUTCOMES if c[o]}
                  for code, c in sorted(per_card.items())})


def stats_text(s: Stats) -> str:
    trust = "trusted admin key" if s.trusted else "NOT a trusted admin key"
    lines = [f"{s.path}  ({s.size_bytes:,} bytes, {s.kind}, digest {s.digest[:16]})",
             f"signed by {s.signer} ({trust}) at {s.signed_at}",
             (f"cards: {s.cards} ({s.cards_in_use} in use by editors, "
             f"{s.cards - s.cards_in_use} awaiting review)"),
             f"outcomes: {s.outcomes} from {s.users} user(s)"
             + ("; with redacted code snippets" if s.snippets else ""),
             f"suppressions: {', '.join(s.suppressions) or 'none'}",
             f"tombstones: {', '.join(f'{n} {k}' for k, n in sorted(s.tombstones.items())) or 'none'}",
             f"conflicts recorded: {s.conflicts}"]
    if s.per_card:
        lines.append("per card (shown / accepted / rejected / corrected, acceptance):")
        for code, counts in s.per_card.items():
            resolved = counts.get("accepted", 0) + counts.get("rejected", 0)
            rate = f"{counts.get('accepted', 0) / resolved:.0%}" if resolved else "-"
            other = ", ".join(f"{n} {o}" for o, n in counts.items() if o not in _MAIN)
            lines.append(f"  {code}  " + " / ".join(str(counts.get(o, 0)) for o in _MAIN)
                         + f"  {rate}" + (f"  ({other})" if other else ""))
    return "\n".join(lines) + "\n"


@dataclass
class Diff:
    cards_added: list[str] = field(default_factory=list)
    cards_removed: list[str] = field(default_factory=list)
    cards_changed: dict[str, list[str]] = field(default_factory=dict)  # code -> fields changed
    outcomes_added: int = 0
    outcomes_removed: int = 0
    outcome_delta: dict[str, dict[str, int]] = field(default_factory=dict)
    suppressions_added: list[str] = field(default_factory=list)
    suppressions_removed: list[str] = field(default_factory=list)
    tombstones_added: list[str] = field(default_factory=list)
    conflicts_added: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not any(v for v in asdict(self).values())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def diff(a: Memory, b: Memory) -> Diff:
    """What changes from `a` to `b`."""
    d = Diff()
    d.cards_added = sorted(set(b.cards) - set(a.cards))
    d.cards_removed = sorted(set(a.cards) - set(b.cards))
    for code in sorted(set(a.cards) & set(b.cards)):
        old, new = a.cards[code], b.cards[code]
        if old.hash != new.hash:
            keys = sorted(k for k in set(old.card) | set(new.card)
                          if old.card.get(k) != new.card.get(k))
            d.cards_changed[code] = keys
    d.outcomes_added = len(set(b.outcomes) - set(a.outcomes))
    d.outcomes_removed = len(set(a.outcomes) - set(b.outcomes))
    delta: dict[str, Counter[str]] = {}
    for sign, src, other in ((1, b, a), (-1, a, b)):
        for tid in set(src.outcomes) - set(other.outcomes):
            o = src.outcomes[tid]
            delta.setdefault(o.code, Counter())[o.outcome] += sign
    d.outcome_delta = {code: {k: v for k, v in c.items() if v}
                       for code, c in sorted(delta.items()) if any(c.values())}
    d.suppressions_added = sorted(set(b.suppressions) - set(a.suppressions))
    d.suppressions_removed = sorted(set(a.suppressions) - set(b.suppressions))
    d.tombstones_added = sorted(f"{k}:{v}" for k, v in set(b.tombstones) - set(a.tombstones))
    d.conflicts_added = sorted(f"{c}@{h[:12]}" for c, h in set(b.conflicts) - set(a.conflicts))
    return d


def diff_text(d: Diff, a: MemoryFile, b: MemoryFile) -> str:
    if d.empty:
        return "no differences\n"
    lines = [f"--- {a.path} (signed by {a.signer_id} at {a.signed_at})",
             f"+++ {b.path} (signed by {b.signer_id} at {b.signed_at})"]
    cards_b, cards_a = b.memory.cards, a.memory.cards
    lines += [f"+ card {c}: {cards_b[c].title}" for c in d.cards_added]
    lines += [f"- card {c}: {cards_a[c].title}" for c in d.cards_removed]
    lines += [f"~ card {c}: {', '.join(f) or 'metadata'} changed "
              f"(by {key_id(cards_b[c].author)} at {cards_b[c].updated})"
              for c, f in d.cards_changed.items()]
    if d.outcomes_added or d.outcomes_removed:
        lines.append(f"outcomes: +{d.outcomes_added} -{d.outcomes_removed}")
        for code, counts in d.outcome_delta.items():
            lines.append(f"  {code}: " + ", ".join(f"{n:+d} {o}" for o, n in sorted(counts.items())))
    lines += [f"+ suppression {c}" for c in d.suppressions_added]
    lines += [f"- suppression {c}" for c in d.suppressions_removed]
    lines += [f"+ tombstone {t}" for t in d.tombstones_added]
    lines += [f"+ conflict {c}" for c in d.conflicts_added]
    return "\n".join(lines) + "\n"
