"""How much the team trusts each card: a Beta posterior over "this advice is taken".

Each card starts from a prior (curated cards are vetted: Beta(3, 1); learned ones start
undecided: Beta(1, 1)). Accepts and `helpful` feedback count for it; rejections and `wrong`
feedback against it; a correction (the issue was real, the fix was not used) counts half for.
Each outcome weighs 0.5 ** (age / half-life), so last year's verdicts fade. The posterior mean
orders suggestions and picks their severity; the raw counts are what hover shows ("accepted 14 of
16 times by your team").
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from spark_lsp.analysis.cards import Card
from spark_lsp.analysis.findings import Finding
from spark_lsp.kb.traces import Trace

SEVERITY_LADDER = ("hint", "information", "warning", "error")
DAY = 86400.0
# outcome -> (weight for, weight against)
WEIGHTS = {"accepted": (1.0, 0.0), "helpful": (1.0, 0.0), "corrected": (0.5, 0.0),
           "rejected": (0.0, 1.0), "wrong": (0.0, 1.0)}
PRIORS = {"seed": (3.0, 1.0), "memory": (2.0, 1.0), "learned": (1.0, 1.0)}


@dataclass(frozen=True)
class TrustPolicy:
    half_life_days: float = 180.0
    min_evidence: float = 5.0  # decayed outcomes before trust may change a card's severity
    raise_above: float = 0.85  # one step up the ladder (never to error)
    lower_below: float = 0.5  # one step down
    hint_below: float = 0.3  # straight to hint


@dataclass
class CardStats:
    """Outcomes of one card (counts, and decayed weights for and against)."""

    code: str
    accepted: int = 0
    rejected: int = 0
    corrected: int = 0
    helpful: int = 0
    wrong: int = 0
    outdated: int = 0
    shown: int = 0
    weight_for: float = 0.0
    weight_against: float = 0.0
    last_confirmed: float | None = None  # newest accept / helpful / correction
    users_rejecting: set[str] = field(default_factory=set)
    users_accepting: set[str] = field(default_factory=set)

    def add(self, trace: Trace, now: float, policy: TrustPolicy) -> None:
        outcome = trace.outcome
        if outcome in ("accepted", "rejected", "corrected", "helpful", "wrong", "outdated",
                       "shown"):
            setattr(self, outcome, getattr(self, outcome) + 1)
        w_for, w_against = WEIGHTS.get(outcome, (0.0, 0.0))
        if w_for or w_against:
            decay = 0.5 ** (max(0.0, now - trace.ts) / (policy.half_life_days * DAY))
            self.weight_for += w_for * decay
            self.weight_against += w_against * decay
        if w_for:
            self.last_confirmed = max(self.last_confirmed or trace.ts, trace.ts)
            self.users_accepting.add(trace.user)
        if w_against:
            self.users_rejecting.add(trace.user)

    @property
    def decided(self) -> int:
        """Accepts and rejects, as counted in hover."""
        return self.accepted + self.rejected

    @property
    def evidence(self) -> float:
        return self.weight_for + self.weight_against


def card_stats(traces: Iterable[Trace], now: float | None = None,
               policy: TrustPolicy | None = None, since: dict[str, float] | None = None
               ) -> dict[str, CardStats]:
    """Per-card outcome statistics; `since[code]` ignores that card's older traces (a restore)."""
    now = time.time() if now is None else now
    policy = policy or TrustPolicy()
    since = since or {}
    stats: dict[str, CardStats] = {}
    for t in traces:
        if not t.code or t.ts < since.get(t.code, float("-inf")):
            continue
        stats.setdefault(t.code, CardStats(t.code)).add(t, now, policy)
    return stats


def prior(source: str) -> tuple[float, float]:
    return PRIORS.get(source, PRIORS["learned"])


def trust(stats: CardStats | None, source: str = "seed") -> float:
    """Posterior mean of Beta(prior + decayed outcomes)."""
    a, b = prior(source)
    if stats is not None:
        a += stats.weight_for
        b += stats.weight_against
    return a / (a + b)


def card_source(card: Card) -> str:
    return "learned" if "learned" in card.tags or card.category == "learned" else "seed"


def severity_for(card: Card, stats: CardStats | None, policy: TrustPolicy | None = None) -> str:
    """The card's severity, moved by the team's trust once there is enough evidence."""
    policy = policy or TrustPolicy()
    if stats is None or stats.evidence < policy.min_evidence:
        return card.severity
    score = trust(stats, card_source(card))
    level = SEVERITY_LADDER.index(card.severity) if card.severity in SEVERITY_LADDER else 2
    if score < policy.hint_below:
        return "hint"
    if score < policy.lower_below:
        return SEVERITY_LADDER[max(0, level - 1)]
    if score >= policy.raise_above and level < SEVERITY_LADDER.index("warning"):
        return SEVERITY_LADDER[level + 1]
    return card.severity


def hover_note(stats: CardStats | None) -> str | None:
    """"accepted 14 of 16 times by your team" (None before anyone decided)."""
    if stats is None or stats.decided == 0:
        return None
    times = "time" if stats.decided == 1 else "times"
    return f"accepted {stats.accepted} of {stats.decided} {times} by your team"


def rank(findings: list[Finding], cards: dict[str, Card],
         stats: dict[str, CardStats]) -> list[Finding]:
    """Most trusted advice first (stable: position breaks ties)."""
    def score(f: Finding) -> float:
        card = cards.get(f.code)
        return trust(stats.get(f.code), card_source(card) if card else "seed")
    return sorted(findings, key=lambda f: (-score(f), f.span.start, f.code))
