"""Documentation retrieval on DS-1000: BM25, vectors, fuzzy names and hybrid, side by side.

    python benchmarks/eval_retrieval.py [--data ../shared/data/ds1000] [--limit N]
                                        [--modes bm25,vector,fuzzy,hybrid,hybrid+ctx]

Needs a knowledge base built with the libraries DS-1000 uses (`spark kb build`, see
docs/benchmarks.md). Query: the problem's question text (the prose before `A:`; for the
Matplotlib problems, whose question is a comment in code, the comment lines). Gold: the library
objects the reference solution uses, resolved to documented, fully qualified names as described
in benchmarks/ds1000_gold.py. Metrics count one hit per gold API (a group of acceptable names):
recall@1/5/10, MRR@10 and NDCG@10 (binary relevance), x100, per library and overall; latency per
query (warm: model and connection loaded). `hybrid+ctx` adds the code context an editor has: the
search is restricted to the documented libraries the problem's setup code imports.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import platform
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ds1000_gold import CONVENTIONAL, GoldResolver, question_text, setup_code

from spark_lsp.config import spark_home
from spark_lsp.kb.db import kb_file, open_readonly
from spark_lsp.kb.docs_store import default_versions
from spark_lsp.kb.search import Searcher

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "ds1000"
HOWTO = Path(__file__).resolve().parent / "howto_queries.tsv"
K = 10


def load_resolver(path: Path) -> tuple[GoldResolver, dict[str, str]]:
    con = open_readonly(path, timeout=10)
    if con is None:
        sys.exit(f"no knowledge base at {path}: run `spark kb build` first")
    try:
        versions = default_versions(con)
        scope = [f"{lib}\x1f{v}" for lib, v in versions.items()]
        objects: dict[str, str] = {}
        kinds: dict[str, str] = {}
        for obj, kind, aliases in con.execute(
                "SELECT object, kind, aliases FROM doc_objects WHERE "
                "list_contains(?, library || chr(31) || version)", [scope]).fetchall():
            kinds[obj] = kind
            objects[obj] = obj
            for alias in aliases:
                objects.setdefault(alias, obj)
    finally:
        con.close()
    return GoldResolver(objects, kinds), versions


# Fusion weights (kb/fusion.py) were chosen on the problems whose original StackOverflow
# question has an even number (within its library) and checked on the odd ones. A split by problem id would leak:
# DS-1000 rewrites most questions into several perturbed problems with consecutive ids.
SPLITS = ("tuning (even origin)", "held-out (odd origin)")


def split_of(problem: dict) -> str:
    origin = problem.get("perturbation_origin_id", problem["id"])
    return SPLITS[int(origin) % 2]


def problems_with_gold(data: Path, limit: int | None, resolver: GoldResolver
                       ) -> tuple[list[tuple[dict, str, list[set[str]]]], dict[str, int]]:
    """The first `limit` DS-1000 problems whose gold resolves, each with its setup code and
    gold; and per library how many problems had none."""
    with gzip.open(data / "problems.jsonl.gz", "rt") as fh:
        problems = [json.loads(line) for line in fh][:limit]
    found, skipped = [], defaultdict(int)
    for p in problems:
        setup = setup_code(p["prompt"])
        gold = resolver.gold(setup, p["reference_code"])
        if gold:
            found.append((p, setup, gold))
        else:
            skipped[p["library"]] += 1
    return found, dict(skipped)


def context_libraries(setup: str, documented: set[str]) -> list[str] | None:
    """The documented libraries the setup code imports (what the editor's file imports)."""
    import ast

    try:
        tree = ast.parse(setup)
    except (SyntaxError, ValueError):
        return None
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {CONVENTIONAL.get(a.name, a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module.split(".")[0])
    if "tensorflow" in found:
        found.add("keras")  # tf.keras is Keras
    return sorted(found & documented) or None


def metrics(ranked: list[str], gold: list[set[str]]) -> dict[str, float]:
    hit_rank: dict[int, int] = {}  # gold group -> first rank that hits it
    gains = []
    for rank, obj in enumerate(ranked[:K], 1):
        gain = 0
        for g, group in enumerate(gold):
            if g not in hit_rank and obj in group:
                hit_rank[g] = rank
                gain = 1
                break
        gains.append(gain)
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
    idcg = sum(1 / math.log2(i + 2) for i in range(min(len(gold), K)))
    first = min(hit_rank.values(), default=None)
    out = {f"R@{k}": sum(1 for r in hit_rank.values() if r <= k) / len(gold) for k in (1, 5, 10)}
    out["MRR"] = 1 / first if first else 0.0
    out["NDCG@10"] = dcg / idcg if idcg else 0.0
    return out


def table(title: str, rows: dict[str, dict[str, float]], n: int) -> str:
    cols = ["R@1", "R@5", "R@10", "MRR", "NDCG@10"]
    out = [f"{title} (n={n})", f"  {'mode':<11}" + "".join(f"{c:>9}" for c in cols)]
    for mode, vals in rows.items():
        out.append(f"  {mode:<11}" + "".join(f"{100 * vals[c]:>9.1f}" for c in cols))
    return "\n".join(out)


def howto_cases() -> list[tuple[str, set[str]]]:
    """(question, the objects that answer it) of benchmarks/howto_queries.tsv."""
    cases = []
    for line in HOWTO.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            query, answers = line.split("\t")
            cases.append((query, set(answers.split(","))))
    return cases


def howto(path: Path, modes: list[str]) -> None:
    """Short questions as a user or an agent types them (benchmarks/howto_queries.tsv)."""
    cases = []
    for query, group in howto_cases():
        # the same member of another class of that library answers too (Series/DataFrame)
        names = {(a.split(".")[0], a.rsplit(".", 1)[-1]) for a in group}
        cases.append((query, group, names))
    searcher = Searcher(path, idle=3600)
    searcher.search("warm up", k=1, mode="hybrid")
    rows = {}
    for mode in modes:
        found = []
        for query, group, names in cases:
            hits = searcher.search(query, k=K, mode=mode)
            ranked = ["answer" if h.object in group or
                      (h.library, h.object.rsplit(".", 1)[-1]) in names else h.object
                      for h in hits]
            found.append(metrics(ranked, [{"answer"}]))
        rows[mode] = {c: statistics.mean(m[c] for m in found) for c in found[0]}
    searcher.close()
    print(table(f"how-to questions ({HOWTO.name})", rows, len(cases)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--limit", type=int, default=None, help="only the first N problems")
    ap.add_argument("--modes", default="bm25,vector,fuzzy,hybrid,hybrid+ctx")
    ap.add_argument("--show", type=int, default=0, help="print N examples with gold and top-5")
    ap.add_argument("--howto", action="store_true",
                    help=f"evaluate the short how-to questions of {HOWTO.name} instead")
    args = ap.parse_args()
    path = kb_file(spark_home())
    if args.howto:
        howto(path, [m for m in args.modes.split(",") if "+" not in m])
        return
    resolver, versions = load_resolver(path)
    problems, skipped = problems_with_gold(args.data, args.limit, resolver)
    modes = args.modes.split(",")
    searcher = Searcher(path, idle=3600)
    searcher.search("warm up", k=1, mode="hybrid")  # model, connection, name index

    per: dict[str, dict[str, list[dict[str, float]]]] = defaultdict(lambda: defaultdict(list))
    latency: dict[str, list[float]] = defaultdict(list)
    gold_sizes = []
    shown = 0
    for p, setup, gold in problems:
        gold_sizes.append(len(gold))
        query = question_text(p["prompt"])
        for mode in modes:
            base, _, ctx = mode.partition("+")
            library = context_libraries(setup, set(versions)) if ctx else None
            started = time.perf_counter()
            hits = searcher.search(query, library=library, k=K, mode=base)
            latency[mode].append(time.perf_counter() - started)
            m = metrics([h.object for h in hits], gold)
            per[mode][p["library"]].append(m)
            per[mode]["overall"].append(m)
            per[mode][split_of(p)].append(m)
            if shown < args.show and mode == modes[-1]:
                print(f"--- #{p['id']} {p['library']}: {query[:100]!r}\n  gold: "
                      f"{[sorted(g)[:2] for g in gold]}\n  top: {[h.object for h in hits[:5]]}")
                shown += 1

    print(f"# Documentation retrieval on DS-1000 — {platform.node()}, {platform.machine()}, "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"knowledge base: {path}; versions: "
          + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())))
    evaluated = len(per[modes[0]]["overall"])
    print(f"problems: {len(problems) + sum(skipped.values())}, with resolvable gold: "
          f"{evaluated} (gold APIs per problem: mean {statistics.mean(gold_sizes):.2f}, "
          f"median {statistics.median(gold_sizes):.0f}); without: {skipped}\n")
    splits = list(SPLITS)
    groups = ["overall", *splits,
              *sorted({g for m in per.values() for g in m} - {"overall", *splits})]
    for group in groups:
        rows = {mode: {c: statistics.mean(x[c] for x in per[mode][group])
                       for c in per[mode][group][0]} for mode in modes if per[mode][group]}
        print(table(group, rows, len(per[modes[0]][group])) + "\n")
    print("latency per query, warm (ms):")
    for mode in modes:
        vals = sorted(latency[mode])
        p95 = vals[min(len(vals) - 1, int(0.95 * len(vals)))]
        print(f"  {mode:<11} p50 {1000 * statistics.median(vals):7.1f}   p95 {1000 * p95:7.1f}")
    searcher.close()


if __name__ == "__main__":
    main()
