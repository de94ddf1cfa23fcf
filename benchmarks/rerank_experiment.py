"""Would a learned reranker beat the shipped fusion on DS-1000? Measured three ways.

    python benchmarks/rerank_experiment.py [--data ../shared/data/ds1000] [--limit N]
                                           [--candidates 200]

For every problem with gold (as in eval_retrieval.py), the three modes' first `--candidates`
results are taken from `Searcher.rankings`, restricted to the libraries the setup code imports
(`hybrid+ctx`) and unrestricted (`hybrid`). Each candidate object gets features that name no
API: its rank and score in each mode, the usage prior, depth, kind, number of snippets, whether
its name or name words occur in the question, whether its class occurs in the question or the
setup code, whether it is a top-level function, whether its library is the file's first import.
A gradient-boosted classifier (scikit-learn) learns "is gold" on one part of the problems and
ranks the other part; the shipped hybrid search (kb/fusion.py) ranks the same problems.

Splits: by problem id parity (leaks: DS-1000's perturbed variants of one StackOverflow question
have consecutive ids and so sit on both sides), by the original question's number (variants
stay together), and leaving one library out. Prints NDCG@10 x100 for each.
"""

from __future__ import annotations

import argparse
import math
import re
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ds1000_gold import question_text
from eval_retrieval import (
    DEFAULT_DATA,
    SPLITS,
    K,
    context_libraries,
    load_resolver,
    metrics,
    problems_with_gold,
    split_of,
)

from spark_lsp.config import spark_home
from spark_lsp.kb.db import kb_file, open_readonly
from spark_lsp.kb.fusion import RRF_K, Key, Ranking, Usage, top
from spark_lsp.kb.search import Searcher

MODES = ("bm25", "vector", "fuzzy")
KINDS = ("class", "function", "method", "module", "property")


def features(rankings: dict[str, Ranking], usage: Usage, question: str, setup: str,
             kinds: dict[str, str], snippets: dict[str, int]) -> tuple[list[Key], np.ndarray]:
    ranked: dict[Key, dict[str, tuple[int, float]]] = {}
    for mode in MODES:
        ranking = rankings.get(mode, [])
        best = ranking[0][2] if ranking else 1.0
        seen: set[Key] = set()
        for _, key, score in ranking:
            if key not in seen:
                seen.add(key)
                # BM25 scores are on no fixed scale: relative to the query's best
                ranked.setdefault(key, {})[mode] = (len(seen), score / best if mode == "bm25"
                                                    else score)
    words = set(re.findall(r"[a-z_][a-z0-9_]*", question.lower()))
    text = question + "\n" + setup
    imports = re.findall(r"^\s*(?:import|from)\s+([A-Za-z_]+)", setup, re.MULTILINE)
    first = imports[0] if imports else ""
    keys = list(ranked)
    rows = []
    for key in keys:
        obj = key[2]
        parts = obj.split(".")
        member = parts[-1]
        row: list[float] = []
        for mode in MODES:
            if mode in ranked[key]:
                rank, score = ranked[key][mode]
                row += [1.0, 1 / (RRF_K + rank), math.log(rank), score]
            else:
                row += [0.0, 0.0, math.log(1000), 0.0]
        counts = usage.get((key[0], key[1]))
        row.append(math.log1p(counts[0].get(member, 0)) / counts[1] if counts else 0.0)
        row.append(max(0, obj.count(".") - 2))
        row += [float(kinds.get(obj) == kind) for kind in KINDS]
        row.append(math.log1p(snippets.get(obj, 0)))
        row.append(float(member.lower() in words))
        pieces = [w for w in member.lower().split("_") if w]
        row.append(sum(w in words for w in pieces) / max(1, len(pieces)))
        owner = parts[-2] if len(parts) > 2 else ""
        row.append(float(bool(owner) and owner[:1].isupper() and owner in text))
        row.append(float(len(parts) == 2))
        row.append(float(key[0] == first or (first == "tensorflow" and key[0] == "keras")))
        row.append(float(len(ranked[key])))
        rows.append(row)
    return keys, np.array(rows, dtype=np.float64).reshape(len(rows), -1)


def ndcg(problems: list[dict], rank: Callable[[dict], list[str]]) -> float:
    return 100 * statistics.mean(metrics(rank(p), p["gold"])["NDCG@10"] for p in problems)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--limit", type=int, default=None, help="only the first N problems")
    ap.add_argument("--candidates", type=int, default=200, help="per mode")
    args = ap.parse_args()
    try:
        from sklearn.ensemble import HistGradientBoostingClassifier
    except ImportError:
        sys.exit("this experiment needs scikit-learn (pip install -e '.[dev]')")
    path = kb_file(spark_home())
    resolver, versions = load_resolver(path)
    con = open_readonly(path, timeout=10)
    assert con is not None  # load_resolver exits when there is no file
    kinds = dict(con.execute("SELECT object, kind FROM doc_objects").fetchall())
    snippets = dict(con.execute("SELECT object, count(*) FROM docs GROUP BY ALL").fetchall())
    con.close()
    searcher = Searcher(path, idle=3600)
    problems = []
    for p, setup, gold in problems_with_gold(args.data, args.limit, resolver)[0]:
        question = question_text(p["prompt"])
        item = {"id": p["id"], "library": p["library"], "gold": gold, "split": split_of(p)}
        for tag, libs in (("hybrid", None),
                          ("hybrid+ctx", context_libraries(setup, set(versions)))):
            shipped = [h.object for h in searcher.search(question, libs, k=K)]
            rankings, usage, _ = searcher.rankings(question, libs, n=args.candidates)
            keys, x = features(rankings, usage, question, setup, kinds, snippets)
            y = np.array([float(any(k[2] in g for g in gold)) for k in keys])
            item[tag] = {"fusion": shipped, "keys": keys, "x": x, "y": y}
        problems.append(item)
    searcher.close()

    def reranked(tag: str, train: list[dict]) -> Callable[[dict], list[str]]:
        model = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05,
                                               max_leaf_nodes=15, min_samples_leaf=50,
                                               random_state=0)
        model.fit(np.vstack([p[tag]["x"] for p in train]),
                  np.concatenate([p[tag]["y"] for p in train]))

        def rank(p: dict) -> list[str]:
            keys = p[tag]["keys"]
            if not keys:
                return []
            prob = model.predict_proba(p[tag]["x"])[:, 1]
            return [k[2] for k in top(dict(zip(keys, prob, strict=True)), K)]
        return rank

    splits: dict[str, list[tuple[str, list[dict], list[dict]]]] = {
        "problem id parity (leaks)": [(f"ids {r}", [p for p in problems if p["id"] % 2 != r],
                                       [p for p in problems if p["id"] % 2 == r])
                                      for r in (0, 1)],
        "original question parity": [(f"origins {r}",
                                      [p for p in problems if p["split"] != SPLITS[r]],
                                      [p for p in problems if p["split"] == SPLITS[r]])
                                     for r in (0, 1)],
        "leave one library out": [(lib, [p for p in problems if p["library"] != lib],
                                   [p for p in problems if p["library"] == lib])
                                  for lib in sorted({p["library"] for p in problems})],
    }
    print(f"# Learned reranker vs shipped fusion, DS-1000 NDCG@10 x100 ({len(problems)} "
          f"problems, {args.candidates} candidates per mode)")
    for tag in ("hybrid", "hybrid+ctx"):
        print(f"\n{tag}")
        for name, folds in splits.items():
            fusion, learned = [], []
            for label, train, test in folds:
                if not train or not test:  # --limit left a side empty (one library only)
                    print(f"  {name:<28} {label:<12} skipped: no problems to "
                          f"{'train on' if not train else 'test'}")
                    continue
                fusion.append(ndcg(test, lambda p: p[tag]["fusion"]))  # noqa: B023
                learned.append(ndcg(test, reranked(tag, train)))
                print(f"  {name:<28} {label:<12} fusion {fusion[-1]:5.1f}   "
                      f"reranker {learned[-1]:5.1f}   ({len(test)} held out)")
            if fusion:
                print(f"  {name:<28} {'mean':<12} fusion {statistics.mean(fusion):5.1f}   "
                      f"reranker {statistics.mean(learned):5.1f}")


if __name__ == "__main__":
    main()
