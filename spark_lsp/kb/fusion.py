"""Hybrid ranking: reciprocal-rank fusion of the modes' rankings, a depth penalty, a usage
prior, the documentation's "See Also" links, and one answer per member name first. Pure
functions over rankings, so that the benchmarks replay exactly what `search` does.

The weights were chosen on DS-1000 (benchmarks/eval_retrieval.py) on the problems whose
original StackOverflow question has an even number (within its library), and checked on the
odd ones: the perturbed variants of one question share its number, so splitting by problem id
would let a question's variants sit on both sides.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence

from spark_lsp.kb.symbol_index import PREFERRED_OWNERS

Key = tuple[str, str, str]  # library, version, object
# one mode's ranking, best first: (snippet id or None for a name match, object, score)
Ranking = list[tuple[int | None, Key, float]]
# per library version: uses of each member name, and log(1 + the most uses, at least the floor)
Usage = dict[tuple[str, str], tuple[dict[str, int], float]]
# object -> the objects its documentation's "See Also" section names (`doc_links`)
Links = Mapping[Key, Sequence[Key]]

RRF_K = 60
# A name in the query (`df.groupby`, `np.argsort`) is the strongest evidence there is, and
# fuzzy is silent when there is none.
WEIGHTS = {"bm25": 1.0, "vector": 1.0, "fuzzy": 2.0}
# Deep names (`pandas.io.formats.style.Styler.format`) are rarely what a question is about:
# each level below library.Class.member divides the fused score by 1 + DEPTH_PENALTY.
DEPTH_PENALTY = 0.6
# Common APIs first among equally relevant ones: the fused score is multiplied by
# 1 + USAGE_WEIGHT * log(1 + uses) / log(1 + most uses in that library, at least USAGE_FLOOR),
# where uses counts the member name (not modules) in the library's own source (`doc_usage`).
USAGE_WEIGHT = 1.0
USAGE_FLOOR = 1000
# Libraries the query itself names ("a dataframe", "np.where", "tensors"; `symbol_index.
# hinted_libraries`): their objects are multiplied by HINT_BOOST. Without the file's imports,
# DS-1000 NDCG@10 26.0 -> 27.6 on the tuning half, 30.7 -> 32.8 held out; with them, unchanged.
HINT_BOOST = 1.5
# Among equally relevant members, those of the classes most code works with come first
# (`DataFrame.sort_values` before `Index.sort_values`, `pyplot.xticks` before `Axes.set_xticks`):
# ×OWNER_BOOST; and a class the query names ("sort a DataFrame", "the Axes") ×NAMED_OWNER_BOOST.
# Chosen on the tuning half among 1.15-1.5 and 1-1.2: DS-1000 hybrid NDCG@10 30.0 -> 30.6 there,
# 34.6 -> 36.1 held out.
COMMON_OWNERS = frozenset(owner for owner in PREFERRED_OWNERS if "." in owner)
OWNER_BOOST = 1.3
NAMED_OWNER_BOOST = 1.1
# The documentation's own cross-references: each of the first LINK_DEPTH results passes
# LINK_WEIGHT of its score to every object its "See Also" section names, so the API a question
# needs but does not describe (`duplicated`, beside `drop_duplicates`, for "keep the first
# duplicate") can rise with the one it does. Chosen on the tuning half among weights 0.05-0.5
# and depths 3-100; DS-1000 hybrid NDCG@10 28.2 -> 30.0 there, 33.5 -> 34.5 held out.
LINK_WEIGHT = 0.1
LINK_DEPTH = 50


def depth(name: str) -> int:
    """Levels below `library.Class.member` (DEPTH_PENALTY). An accessor is not one:
    `pandas.Series.str.contains` is a member of Series as users write it (`s.str.contains`)."""
    parts = name.split(".")
    accessor = len(parts) >= 4 and parts[-3][:1].isupper() and parts[-2][:1].islower()
    return max(0, len(parts) - 3 - accessor)


def usage_table(rows: Iterable[tuple[str, str, str, int]]) -> Usage:
    """`Usage` from (library, version, member name, uses) rows."""
    found: dict[tuple[str, str], dict[str, int]] = {}
    for library, version, name, uses in rows:
        if uses > 0:
            found.setdefault((library, version), {})[name] = uses
    # a small library's few counts are noise: they never weigh more than USAGE_FLOOR uses
    return {lv: (names, math.log1p(max(USAGE_FLOOR, *names.values())))
            for lv, names in found.items()}


def fuse(rankings: Mapping[str, Ranking], usage: Usage, hinted: Collection[str] = (),
         links: Links | None = None, mentioned: Collection[str] = ()
         ) -> tuple[dict[Key, float], dict[Key, int], dict[Key, dict[str, int]]]:
    """Fused score of every object the modes found or a result's "See Also" names, the snippet
    that stands for it (its best ranked one; none for objects found by name or link only), and
    its rank in each mode ("see_also": the rank of the first result naming it). `hinted`: the
    libraries the query names; `mentioned`: its words, lowercased (`QueryTerms.mentioned`)."""
    scores: dict[Key, float] = {}
    snippet: dict[Key, tuple[int, int]] = {}  # key -> (rank, snippet id) of its best snippet
    ranks: dict[Key, dict[str, int]] = {}
    for mode, ranking in rankings.items():
        seen: set[Key] = set()
        for doc_id, key, score in ranking:
            if key in seen:
                continue
            seen.add(key)
            rank = len(seen)
            # a fuzzy name match votes with its strength: an exact identifier fully, a plain
            # word that happens to be a name (`merge`) less
            weight = WEIGHTS[mode] * (score if mode == "fuzzy" else 1.0)
            scores[key] = scores.get(key, 0.0) + weight / (RRF_K + rank)
            ranks.setdefault(key, {})[mode] = rank
            if doc_id is not None and (key not in snippet or rank < snippet[key][0]):
                snippet[key] = (rank, doc_id)
    for key in scores:
        scores[key] /= 1 + DEPTH_PENALTY * depth(key[2])
        counts = usage.get((key[0], key[1]))
        if counts:
            uses = counts[0].get(key[2].rsplit(".", 1)[-1], 0)
            scores[key] *= 1 + USAGE_WEIGHT * math.log1p(uses) / counts[1]
        if key[0] in hinted:
            scores[key] *= HINT_BOOST
        owner = key[2].rpartition(".")[0]
        if owner in COMMON_OWNERS:
            scores[key] *= OWNER_BOOST
        cls = owner.rpartition(".")[2]
        if cls[:1].isupper() and cls.lower() in mentioned:
            scores[key] *= NAMED_OWNER_BOOST
    if links:
        follow_links(scores, ranks, links)
    return scores, {key: doc_id for key, (_, doc_id) in snippet.items()}, ranks


def follow_links(scores: dict[Key, float], ranks: dict[Key, dict[str, int]], links: Links
                 ) -> None:
    """Add LINK_WEIGHT of each of the first LINK_DEPTH results' scores to the objects its
    "See Also" names (in place; an object named by several results gets each share)."""
    bonus: dict[Key, float] = {}
    via: dict[Key, int] = {}
    for position, key in enumerate(top(scores, LINK_DEPTH), 1):
        for target in links.get(key, ()):
            bonus[target] = bonus.get(target, 0.0) + LINK_WEIGHT * scores[key]
            via.setdefault(target, position)
    for target, extra in bonus.items():
        scores[target] = scores.get(target, 0.0) + extra
        ranks.setdefault(target, {})["see_also"] = via[target]


def diverse(ranked: list[Key], k: int) -> list[Key]:
    """The first `k` of `ranked`, one object per (library, member name) first: four
    `value_counts` (DataFrame, Series, Index, Categorical) say the same thing and push other
    answers off the page. The repeats come after, in their order, when fewer than k remain."""
    first: list[Key] = []
    repeats: list[Key] = []
    seen: set[tuple[str, str]] = set()
    for key in ranked:
        name = (key[0], key[2].rsplit(".", 1)[-1])
        if name in seen:
            repeats.append(key)
        else:
            seen.add(name)
            first.append(key)
        if len(first) >= k:
            break
    return (first + repeats)[:k]


def top(scores: Mapping[Key, float], k: int) -> list[Key]:
    """The `k` best objects by fused score (ties by name), diversified."""
    return diverse(sorted(scores, key=lambda key: (-scores[key], key)), k)
