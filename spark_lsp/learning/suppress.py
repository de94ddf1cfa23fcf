"""Memory hygiene: what not to show again, what to demote, what has gone stale.

- A suggestion rejected in a workspace is not shown there again for the same code. The key is
  the finding's fingerprint: the card code, the flagged code without whitespace, and which
  occurrence of that code in the file it is — so moving lines, re-indenting or reformatting
  keeps it, and a copy of the code elsewhere in the file is a separate suggestion.
- A card the team keeps rejecting, with no accepts, is demoted to a hint, then hidden; an admin
  can restore it (`spark cards review --restore CODE`), after which only newer outcomes count.
- A learned card nobody confirms (accepts, marks helpful, or corrects) within the configured
  period expires; `outdated` feedback for a library version retires the card from that version on.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from spark_lsp.analysis.cards import Card
from spark_lsp.kb.traces import Trace
from spark_lsp.learning.trust import DAY, CardStats

NORMAL, HINT, HIDDEN = "normal", "hint", "hidden"


@dataclass(frozen=True)
class HygienePolicy:
    demote_after: int = 3  # rejections with no accept: shown as a hint
    hide_after: int = 6  # rejections with no accept: not shown
    hide_below_trust: float = 0.15  # or: this little trust on at least `hide_min_evidence`
    hide_min_evidence: float = 10.0
    expire_days: float = 180.0  # learned cards nobody confirms expire


def workspace_id(root: Path | str | None) -> str:
    """Traces name a workspace by a hash of its folder, never by its path ('' when none)."""
    if root is None or str(root) == "":
        return ""
    text = str(Path(root).expanduser().resolve())
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def rejected_fingerprints(traces: Iterable[Trace], workspace: str) -> set[str]:
    """Fingerprints of the suggestions rejected in this workspace."""
    return {t.fingerprint for t in traces
            if t.outcome == "rejected" and t.fingerprint and t.workspace == workspace}


def visibility(stats: CardStats | None, policy: HygienePolicy | None = None,
               trust_score: float | None = None) -> str:
    """NORMAL, HINT (demoted) or HIDDEN for a card, from its outcomes since any restore."""
    policy = policy or HygienePolicy()
    if stats is None:
        return NORMAL
    if trust_score is not None and stats.evidence >= policy.hide_min_evidence \
            and trust_score < policy.hide_below_trust:
        return HIDDEN
    if stats.accepted or stats.helpful:
        return NORMAL
    if stats.rejected + stats.wrong >= policy.hide_after:
        return HIDDEN
    if stats.rejected + stats.wrong >= policy.demote_after:
        return HINT
    return NORMAL


def is_expired(card: Card, stats: CardStats | None, now: float | None = None,
               policy: HygienePolicy | None = None) -> bool:
    """A learned card nobody confirmed within `expire_days` of its last confirmation (or of
    when it was learned)."""
    policy = policy or HygienePolicy()
    now = time.time() if now is None else now
    learned_at = float(card.provenance.get("learned_at_ts") or now)
    last = max(learned_at, (stats.last_confirmed if stats and stats.last_confirmed else 0.0),
               float(card.provenance.get("last_seen_ts") or 0.0),
               float(card.provenance.get("restored_at_ts") or 0.0))
    return now - last > policy.expire_days * DAY


def outdated_versions(traces: Iterable[Trace]) -> dict[str, dict[str, str]]:
    """card code -> {library: lowest version reported outdated} from `outdated` feedback."""
    found: dict[str, dict[str, str]] = {}
    for t in traces:
        if t.outcome != "outdated" or not t.code:
            continue
        for lib, version in t.versions.items():
            try:
                v = Version(version)
            except InvalidVersion:
                continue
            current = found.setdefault(t.code, {}).get(lib)
            if current is None or v < Version(current):
                found[t.code][lib] = str(v)
    return found


def retire_from(libraries: dict[str, str], outdated: dict[str, str]) -> dict[str, str]:
    """The card's version ranges, ending before each version reported outdated."""
    out = dict(libraries)
    for lib, version in outdated.items():
        if lib not in out:
            continue
        spec = out[lib].strip()
        bound = f"<{version}"
        if bound in [s.strip() for s in spec.split(",")]:
            continue
        new = f"{spec},{bound}" if spec else bound
        try:
            SpecifierSet(new)
        except InvalidSpecifier:
            continue
        out[lib] = new
    return out


_WS = re.compile(r"\s+")


def same_code(a: str, b: str) -> bool:
    """Two spellings of the same code (whitespace aside)."""
    return _WS.sub("", a) == _WS.sub("", b)
