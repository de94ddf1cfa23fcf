"""What a candidate card must pass before it reaches the team.

- Support: enough traces from enough different people (one person's habit is not a practice).
- Acceptance: the Wilson lower bound of the share of positive evidence is above a threshold,
  so three agreeing traces can pass while ten split half and half cannot.
- Not a duplicate: an existing card with the same pattern, or one that already flags every
  example at the edit, or one whose pattern and rewrite embed near-identically (all-MiniLM-L6-v2
  over the canonical signature, `vectors.py`), gets the evidence instead.
- Guardrails: the curated security and leakage cards are run over the candidate's *after* code
  (each example, and the rewrite alone); a candidate whose rewrite makes one of them fire where
  it did not fire on the before is rejected. The guardrails are the cards' own knowledge — a new
  security card guards the learner too — not a list of words kept here.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from spark_lsp.analysis.cards import Card
from spark_lsp.analysis.context import FileContext
from spark_lsp.analysis.engine import AnalysisOptions, Analyzer
from spark_lsp.learning.edits import EditSite
from spark_lsp.learning.vectors import CodeVectors, hashed_vector

GUARDRAIL_CATEGORIES = frozenset({"security"})
GUARDRAIL_TAGS = frozenset({"security", "leakage"})
_HEAD = re.compile(r"(?<![\w.])([A-Za-z_]\w*)\s*\.")
NEAR_IDENTICAL = 0.95  # cosine of two cards' signatures above which they are one practice


def wilson_lower_bound(positive: float, total: float, z: float = 1.645) -> float:
    """Lower end of the Wilson score interval of positive/total (0 when there is no evidence).

    z = 1.645 is a one-sided 95% bound: 3 of 3 gives 0.53, 8 of 10 gives 0.54, 5 of 10 gives 0.27.
    """
    if total <= 0:
        return 0.0
    p = min(max(positive / total, 0.0), 1.0)
    z2 = z * z
    center = p + z2 / (2 * total)
    margin = z * math.sqrt(p * (1 - p) / total + z2 / (4 * total * total))
    return max(0.0, (center - margin) / (1 + z2 / total))


def support_problem(traces: int, users: int, min_traces: int, min_users: int) -> str | None:
    if traces < min_traces or users < min_users:
        return (f"support {traces} trace(s) from {users} user(s); at least {min_traces} from "
                f"{min_users} are needed")
    return None


# -- guardrails --------------------------------------------------------------------------------

def is_guardrail(card: Card) -> bool:
    return card.category in GUARDRAIL_CATEGORIES or bool(GUARDRAIL_TAGS & set(card.tags))


def guardrail_cards(cards: Iterable[Card]) -> list[Card]:
    """The curated cards that guard the learner: security and leakage practices."""
    return [c for c in cards if is_guardrail(c) and c.status == "curated"]


def with_imports(text: str) -> str:
    """`text` with `import NAME` for each dotted name's head it does not bind or import.

    A window of a few lines rarely shows its imports; assuming `requests.get` is the module's
    makes the guardrail stricter, never looser (a local variable named like a module only adds
    findings a card might make).
    """
    ctx = FileContext.from_text(text)
    bound = set(ctx.facts.imports) | set(ctx.facts.bindings)
    heads = dict.fromkeys(h for h in _HEAD.findall(text) if h not in bound and h.isidentifier()
                          and h not in ("self", "cls"))
    return "".join(f"import {h}\n" for h in heads) + text


class Guardrail:
    """The guardrail cards, compiled once, run over before/after code."""

    def __init__(self, cards: Iterable[Card]) -> None:
        self.cards = guardrail_cards(cards)
        # no installed versions: a card guards whatever the library version
        self.analyzer = Analyzer(self.cards, AnalysisOptions())

    def codes(self, text: str) -> Counter[str]:
        return Counter(f.code for f in self.analyzer.analyze(text))

    def introduced(self, before: str, after: str) -> list[str]:
        """Guardrail codes that fire more often on `after` than on `before` (both as written and
        with the imports a window lacks)."""
        found: dict[str, int] = {}
        for b, a in ((before, after), (with_imports(before), with_imports(after))):
            cb, ca = self.codes(b), self.codes(a)
            for code, n in ca.items():
                if n > cb.get(code, 0):
                    found[code] = max(found.get(code, 0), n - cb.get(code, 0))
        return sorted(found)

    def check(self, pairs: list[tuple[str, str]],
              rewrite_alone: list[tuple[str, str]] | tuple[()] = ()) -> list[str]:
        """Reasons to reject: which cards the after code (of the examples, or the rewrite on
        its own) makes fire where the before did not."""
        titles = {c.code: c.title for c in self.cards}
        hits: dict[str, list[int]] = {}
        alone: set[str] = set()
        for i, (before, after) in enumerate(pairs, start=1):
            for code in self.introduced(before, after):
                hits.setdefault(code, []).append(i)
        for before, after in rewrite_alone:
            alone.update(self.introduced(before, after))
        reasons = []
        for code in sorted(set(hits) | alone):
            where = []
            if code in hits:
                where.append(f"{len(hits[code])} of {len(pairs)} example(s)")
            if code in alone:
                where.append("the rewrite on its own")
            reasons.append(f"the after introduces {code} ({titles.get(code, '')}) in "
                           + " and ".join(where))
        return reasons


# -- duplicates --------------------------------------------------------------------------------

def code_vector(text: str) -> np.ndarray:
    """The hashed token vector (the fallback when the embedding model is not installed)."""
    return hashed_vector(text)


def similarity(a: str, b: str, vectors: CodeVectors | None = None) -> float:
    """Cosine of two code texts: the model's embeddings when `vectors` has it, else hashed."""
    if vectors is None:
        return float(code_vector(a) @ code_vector(b))
    return vectors.similarity(a, b)


def _canonical(pattern: str) -> str:
    """A pattern with its metavariables renamed in order: `$A.x($B)` == `$X.x($Y)`."""
    names: dict[str, str] = {}

    def rename(m: re.Match[str]) -> str:
        return m.group(1) + names.setdefault(m.group(2), f"M{len(names)}")
    return re.sub(r"(\$+)([A-Z_][A-Z0-9_]*)", rename, "".join(pattern.split()))


def card_parts(card: Card) -> tuple[list[str], str]:
    """A card's patterns (sorted) and rewrite, metavariables canonical."""
    parts = []
    for rule in card.rules:
        cfg = (rule.config or {}).get("rule", {})
        pats = [cfg.get("pattern")] if isinstance(cfg.get("pattern"), str) else [
            alt.get("pattern") for alt in cfg.get("any", []) if isinstance(alt, dict)]
        parts += [_canonical(p) for p in pats if isinstance(p, str)]
    return sorted(parts), _canonical(card.fix.template or "")


def card_signature(card: Card) -> str:
    """Patterns and rewrite of a card, metavariables canonical: equal for the same rule."""
    patterns, template = card_parts(card)
    return " | ".join(patterns) + " => " + template


def _rewrites(card: Card) -> bool:
    specs = [r.fix or card.fix for r in card.rules]
    return any(s.template and s.applicability != "display" for s in specs)


def _reproduces(card: Card, site: EditSite) -> bool:
    from spark_lsp.analysis.examples import fix_code

    fixed = fix_code(Analyzer([card], AnalysisOptions()), site.before, card.code)
    return "".join(fixed.split()) == "".join(site.after.split())


@dataclass
class Duplicate:
    code: str
    why: str


def embedding_similarity(a: Card, b: Card, vectors: CodeVectors) -> float:
    """How alike two cards' rules are: the lower of the cosine of their closest patterns and
    the cosine of their rewrites (each embedded on its own: the text of `A => B` and of its
    reverse `B => A` embed almost alike, a pattern and a rewrite compared apart do not)."""
    (pa, ta), (pb, tb) = card_parts(a), card_parts(b)
    if not pa or not pb or not ta or not tb:
        return 0.0
    rows = vectors.vectors(pa + pb + [ta, tb])
    patterns = rows[:len(pa)] @ rows[len(pa):len(pa) + len(pb)].T
    return float(min(patterns.max(), rows[-2] @ rows[-1]))


def _same_library(a: Card, b: Card) -> bool:
    return not a.libraries or not b.libraries or bool(set(a.libraries) & set(b.libraries))


def find_duplicate(candidate: Card, sites: list[EditSite], existing: list[Card],
                   analyzer: Analyzer | None = None, near: float = NEAR_IDENTICAL,
                   vectors: CodeVectors | None = None) -> Duplicate | None:
    """An existing card the candidate repeats: same pattern and rewrite; or it already flags
    every example's before at the edit; or its pattern and rewrite embed near-identically
    (`vectors`; hashed token vectors when None)."""
    signature = card_signature(candidate)
    for card in existing:
        if card.code != candidate.code and card.fix.template and card_signature(card) == signature:
            return Duplicate(card.code, "same pattern and rewrite")
    if analyzer is not None and sites:
        covering: Counter[str] = Counter()
        for site in sites:
            first, last = site.lines
            codes = {f.code for f in analyzer.analyze(site.before)
                     if f.span.start.line <= last and f.span.end.line >= first}
            covering.update(codes - {candidate.code})
        by_code = {c.code: c for c in existing}
        for code, n in covering.most_common():
            found = by_code.get(code)
            if n < len(sites) or found is None:
                continue
            card = found
            if not _rewrites(card):
                return Duplicate(code, "it already flags every example at the edit (its advice "
                                       "has no automatic rewrite: the examples are evidence)")
            if all(_reproduces(card, site) for site in sites):
                return Duplicate(code, "it already flags every example and rewrites it the same way")
            # the same code rewritten another way: a competing rewrite, kept; trust will rank them
    others = [card for card in existing
              if card.code != candidate.code and card.status != "retired" and card.fix.template
              and _same_library(card, candidate) and card_parts(card)[0]]
    if not others:
        return None
    vectors = vectors or CodeVectors(model=False)
    scores = [embedding_similarity(candidate, card, vectors) for card in others]
    best = int(np.argmax(scores))
    if scores[best] >= near:
        card = others[best]
        kind = "learned" if "learned" in card.tags else "curated"
        return Duplicate(card.code, f"near-identical {kind} card: pattern and rewrite embed at "
                                    f"similarity {scores[best]:.2f} ({vectors.name})")
    return None
