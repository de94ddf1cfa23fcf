"""A learned card's data: pattern and rewrite from the generalization, title and why from the
cluster (templates), its examples, and provenance (trace ids, users, dates, versions).

Learned cards are numbered from SPK5001; their status starts as `candidate`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from packaging.version import InvalidVersion, Version

from spark_lsp.learning.cluster import Cluster
from spark_lsp.learning.generalize import Generalization, _short

FIRST_LEARNED_CODE = 5001
MAX_TRACE_IDS = 200


def next_code(used: set[str]) -> str:
    n = FIRST_LEARNED_CODE
    while f"SPK{n}" in used:
        n += 1
    return f"SPK{n}"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def _versions(cluster: Cluster) -> dict[str, list[str]]:
    seen: dict[str, set[str]] = {}
    for ex in cluster.examples:
        for lib, version in ex.trace.versions.items():
            seen.setdefault(lib, set()).add(version)
    return {lib: sorted(vs) for lib, vs in sorted(seen.items())}


def version_range(versions: list[str]) -> str:
    """`>=` the oldest version the rewrite was seen on ('' when none can be read)."""
    parsed = []
    for v in versions:
        try:
            parsed.append(Version(v))
        except InvalidVersion:
            continue
    return f">={min(parsed)}" if parsed else ""


def _title(gen: Generalization) -> str:
    pattern = gen.patterns[0]
    text = f"Learned: `{_short(pattern, 45)}` -> `{_short(gen.template, 45)}`"
    return text if len(text) <= 120 else text[:119] + "…"


def card_data(code: str, cluster: Cluster, gen: Generalization, *, status: str,
              now: float, contradicting: int, acceptance: float, max_examples: int,
              previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """The card as data (validated later by `card_from_dict`)."""
    examples = cluster.examples
    ts = [e.trace.ts for e in examples]
    users = sorted(cluster.users)
    versions = _versions(cluster)
    library = cluster.library or "python"
    spec = version_range(versions.get(library, []))
    first = examples[0].site
    lines = [(f"{len(examples)} edit(s) by {len(users)} people between {_iso(min(ts))} and "
              f"{_iso(max(ts))} rewrote code like `{_short(first.b_anchor.text(), 60)}` as "
              f"`{_short(first.a_anchor.text(), 60)}`.")]
    if versions:
        lines.append("Library versions seen: " + "; ".join(
            f"{lib} {', '.join(vs[:5])}" for lib, vs in versions.items()) + ".")
    lines.append("Learned from the team's traces by `spark learn`; the rewrite reproduces every "
                 "example. Review it with `spark cards review`.")
    prev_prov = dict((previous or {}).get("provenance") or {})
    learned_at = prev_prov.get("learned_at_ts", now)
    provenance = {
        "source": "learned",
        "cluster_key": cluster.key,
        "library": cluster.library,
        "support": len(examples),
        "users": len(users),
        "user_ids": users[:50],
        "contradicting": contradicting,
        "acceptance_lower_bound": round(acceptance, 3),
        "trace_ids": cluster.trace_ids[:MAX_TRACE_IDS],
        "first_seen": _iso(min(ts)),
        "last_seen": _iso(max(ts)),
        "last_seen_ts": max(ts),
        "versions": versions,
        "learned_at": _iso(learned_at),
        "learned_at_ts": learned_at,
        "updated_at": _iso(now),
    }
    if cluster.parts:  # edit shapes joined by code similarity
        provenance["cluster_keys"] = cluster.keys
        provenance["joined_at_similarity"] = round(cluster.similarity, 3)
    for key in ("promoted_at", "promoted_by", "edited_at"):
        if key in prev_prov:
            provenance[key] = prev_prov[key]
    return {
        "code": code,
        "title": _title(gen),
        "category": "learned",
        "severity": "information",
        "status": status,
        "tags": ["learned"] + ([cluster.library] if cluster.library else []),
        "libraries": {library: spec},
        "message": f"Your team rewrites this as `{gen.template}`",
        "rules": [gen.rule(f"{code}-learned")],
        "fix": {"applicability": "unsafe",
                "description": "Apply the rewrite the team uses (learned: review the result)",
                "template": gen.template},
        "why": " ".join(lines),
        "examples": [{"bad": e.site.before, "good": e.site.after, "run": False}
                     for e in examples[:max_examples]],
        "sources": [{"title": f"learned from {len(examples)} trace(s) of {len(users)} "
                              f"user(s)"}],
        "provenance": provenance,
    }


def is_learned_code(code: str) -> bool:
    m = re.fullmatch(r"SPK(\d{4})", code)
    return m is not None and int(m.group(1)) >= FIRST_LEARNED_CODE
