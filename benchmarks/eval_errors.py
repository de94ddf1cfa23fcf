"""Spark explaining the errors and warnings of DS-1000 generations.

    python benchmarks/eval_errors.py [--data ../shared/data/ds1000] [--home KB_HOME] [--limit N]
    python benchmarks/eval_errors.py --dump-sample /tmp/sample.md   # for labelling, see below

Items: every non-empty generation whose execution ended with an exception (the `error` field:
the last stderr line), except `AssertionError` (the problem's test rejecting the result) and
`SyntaxError`/`IndentationError`/`TabError` (mostly prose that DSCodeBench's extraction step
kept as code) — those two are reported apart — plus, for every generation, each warning class
it printed (the `warnings` field: class names only). Spark gets that text and the code that ran
(the problem's setup code followed by the generation), as `spark explain-error FILE --code
solution.py` would, with the library versions DSCodeBench ran (pandas 2.2.3, NumPy 1.26.0, …).

Figures: the share of items Spark explains at all (a card, a documentation fact or a past
trace; not the "no explanation" answer), milliseconds per explanation (p50/p95, warm), and on
the hand-labelled random sample in benchmarks/data/error_labels.csv (seed 0, see
benchmarks/data/README.md) hit@1 / hit@3: the cause of the first (first three)
recommendation(s) equals the labelled cause (docs/errors.md lists the causes).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import platform
import random
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval_ds1000 import setup_code

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "ds1000"
LABELS = ROOT / "benchmarks" / "data" / "error_labels.csv"
SEED = 0
SAMPLE = 120
HELD_OUT, HELD_OUT_SEED = 60, 1
EXCLUDED = {"AssertionError": "test verdict", "SyntaxError": "extraction",
            "IndentationError": "extraction", "TabError": "extraction"}
# the environment DSCodeBench ran the generations in (../shared/data/ds1000/README.md)
PINNED = {"pandas": "2.2.3", "numpy": "1.26.0", "scipy": "1.15.2", "sklearn": "1.6.1",
          "matplotlib": "3.10.0", "tensorflow": "2.18.0", "torch": "2.6.0", "xgboost": "3.0.0",
          "seaborn": "0.13.2"}
UNATTRIBUTABLE = "unattributable"


@dataclass
class Item:
    problem_id: int
    model: str
    run: int
    kind: str  # error | warning
    text: str  # what Spark is given: the error line, or the warning class
    library: str
    code: str  # setup + generation
    type: str = ""

    @property
    def key(self) -> tuple[int, str, int, str, str]:
        return (self.problem_id, self.model, self.run, self.kind,
                self.type if self.kind == "warning" else "")


@dataclass
class Result:
    item: Item
    explained: bool
    causes: list[str] = field(default_factory=list)
    codes: list[str | None] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)
    ms: float = 0.0


def error_type(line: str) -> str:
    from spark_lsp.analysis.tracebacks import NotATraceback, parse_error_text

    try:
        parsed = parse_error_text(line)
    except NotATraceback:
        return "(fragment)"
    return parsed.error.name


def load_items(data: Path) -> tuple[list[Item], Counter[str]]:
    """The items, and the excluded errors by type."""
    with gzip.open(data / "problems.jsonl.gz", "rt") as f:
        problems = {p["id"]: p for p in map(json.loads, f)}
    with gzip.open(data / "generations.jsonl.gz", "rt") as f:
        generations = [json.loads(line) for line in f]
    items: list[Item] = []
    excluded: Counter[str] = Counter()
    for g in generations:
        if g["code_empty"] or not g["code"].strip():
            continue
        code = setup_code(problems[g["problem_id"]]["prompt"]).rstrip("\n") + "\n" + g["code"]
        base = {"problem_id": g["problem_id"], "model": g["model"], "run": g["run"],
                "library": g["library"], "code": code}
        if not g["passed"] and (g["error"] or "").strip():
            line = g["error"].strip()
            kind = error_type(line)
            if kind in EXCLUDED:
                excluded[kind] += 1
            else:
                items.append(Item(kind="error", text=line, type=kind, **base))
        for w in dict.fromkeys(g["warnings"] or []):
            items.append(Item(kind="warning", text=w, type=w, **base))
    return items, excluded


def sample(items: list[Item], n: int = SAMPLE, seed: int = SEED,
           exclude: set[Any] | None = None) -> list[Item]:
    """Fragments (a message's last line without its exception line) are not sampled."""
    pool = [it for it in items if it.type != "(fragment)" and it.key not in (exclude or set())]
    return random.Random(seed).sample(pool, min(n, len(pool)))


def held_out(items: list[Item]) -> list[Item]:
    """Sample B: 60 more items (seed 1), none of sample A, labelled after Spark was changed
    following sample A's first run — the unbiased estimate."""
    return sample(items, HELD_OUT, HELD_OUT_SEED, exclude={it.key for it in sample(items)})


def dump_sample(items: list[Item], path: Path, chosen: list[Item] | None = None) -> None:
    """The sample for labelling, with the code (keep it out of the repository)."""
    out = []
    for i, it in enumerate(chosen if chosen is not None else sample(items)):
        out.append(f"## {i} · problem {it.problem_id} · {it.model} run {it.run} · {it.kind}\n")
        out.append(f"```\n{it.text[:600]}\n```\n```python\n{it.code[-3000:]}\n```\n")
    path.write_text("\n".join(out))
    print(f"wrote {path}")


def causes_of(explanation: Any) -> list[str]:
    return [r.intent.get("error", {}).get("cause", "") for r in explanation.recommendations]


def run(items: list[Item], agent: Any) -> list[Result]:
    results = []
    warm = False
    for it in items:
        if not warm:  # imports, the first connection, compiled regexes: not per explanation
            agent.explain_error(it.text, it.code, "solution.py")
            warm = True
        started = time.perf_counter()
        try:
            exp = agent.explain_error(it.text, it.code, "solution.py")
        except ValueError:
            results.append(Result(it, False, ms=(time.perf_counter() - started) * 1000))
            continue
        ms = (time.perf_counter() - started) * 1000
        results.append(Result(it, exp.explained, causes_of(exp),
                              [r.code for r in exp.recommendations],
                              [r.title for r in exp.recommendations], ms))
    return results


def read_labels(path: Path) -> dict[tuple[int, str, int, str, str], dict[str, str]]:
    if not path.is_file():
        return {}
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    return {(int(r["problem_id"]), r["model"], int(r["run"]), r["kind"],
             r["warning"] if r["kind"] == "warning" else ""): r for r in rows}


HIT = "hit@1 / hit@3 = the first / first three recommendations name the labelled cause"


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def machine() -> str:
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, " \
           f"Python {platform.python_version()}"


def report(results: list[Result], excluded: Counter[str], labels: dict[Any, dict[str, str]],
           docs: str) -> dict[str, Any]:
    by_type: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        by_type[f"{r.item.kind}:{r.item.type}"].append(r)
    ms = [r.ms for r in results]
    explained = sum(r.explained for r in results)
    print(f"# Explaining errors: {len(results)} items ({docs}); {machine()}")
    print(f"explained: {explained}/{len(results)} = {explained / max(1, len(results)):.1%}; "
          f"p50 {percentile(ms, 0.5):.1f} ms, p95 {percentile(ms, 0.95):.1f} ms per explanation")
    print(f"not sampled (reported apart): {dict(excluded)}")
    print("\n| item | n | explained % | p50 ms | p95 ms |\n| --- | --- | --- | --- | --- |")
    rows = sorted(by_type.items(), key=lambda kv: -len(kv[1]))
    for name, rs in rows[:25]:
        e = sum(r.explained for r in rs)
        t = [r.ms for r in rs]
        print(f"| {name} | {len(rs)} | {100 * e / len(rs):.1f} | {percentile(t, .5):.1f} | "
              f"{percentile(t, .95):.1f} |")
    rest = [r for _, rs in rows[25:] for r in rs]
    if rest:
        print(f"| (other {len(rows) - 25} kinds) | {len(rest)} | "
              f"{100 * sum(r.explained for r in rest) / len(rest):.1f} | | |")
    out: dict[str, Any] = {"items": len(results), "explained": explained,
                           "p50_ms": percentile(ms, .5), "p95_ms": percentile(ms, .95)}
    for name in sorted({lab["sample"] for lab in labels.values()}):
        chosen = {k: v for k, v in labels.items() if v["sample"] == name}
        out[name] = report_sample(name, results, chosen)
    return out


def report_sample(name: str, results: list[Result], labels: dict[Any, dict[str, str]]
                  ) -> dict[str, Any]:
    """hit@1 / hit@3 on one labelled sample, by cause and by item type; the misses."""
    labelled = [(r, labels[r.item.key]) for r in results if r.item.key in labels]
    scored = [(r, lab) for r, lab in labelled if lab["cause"] != UNATTRIBUTABLE]
    out: dict[str, Any] = {"labelled": len(labelled), "scored": len(scored)}
    print(f"\n## sample {name}")
    if scored:
        hit1 = sum(r.causes[:1] == [lab["cause"]] for r, lab in scored)
        hit3 = sum(lab["cause"] in r.causes[:3] for r, lab in scored)
        out.update(hit1=hit1 / len(scored), hit3=hit3 / len(scored))
        print(f"\nlabelled sample {name}: {len(labelled)} items, {len(labelled) - len(scored)} "
              f"unattributable; on {len(scored)}: hit@1 {hit1 / len(scored):.1%}, "
              f"hit@3 {hit3 / len(scored):.1%}")
        print("\n| labelled cause | n | hit@1 | hit@3 |\n| --- | --- | --- | --- |")
        per: dict[str, list[tuple[Result, dict[str, str]]]] = defaultdict(list)
        for r, lab in scored:
            per[lab["cause"]].append((r, lab))
        for cause, group in sorted(per.items(), key=lambda kv: -len(kv[1])):
            h1 = sum(r.causes[:1] == [cause] for r, _ in group)
            h3 = sum(cause in r.causes[:3] for r, _ in group)
            print(f"| {cause} | {len(group)} | {h1}/{len(group)} | {h3}/{len(group)} |")
        print("\n| item type | n | hit@1 | hit@3 |\n| --- | --- | --- | --- |")
        per_type: dict[str, list[tuple[Result, dict[str, str]]]] = defaultdict(list)
        for r, lab in scored:
            per_type[f"{r.item.kind}:{r.item.type}"].append((r, lab))
        for kind, group in sorted(per_type.items(), key=lambda kv: -len(kv[1])):
            h1 = sum(r.causes[:1] == [lab["cause"]] for r, lab in group)
            h3 = sum(lab["cause"] in r.causes[:3] for r, lab in group)
            print(f"| {kind} | {len(group)} | {h1}/{len(group)} | {h3}/{len(group)} |")
        misses = [(r, lab) for r, lab in scored if lab["cause"] not in r.causes[:3]]
        if misses:
            print("\nmisses at 3 (labelled cause <- Spark's causes):")
            for r, lab in misses:
                print(f"  {r.item.problem_id}/{r.item.model}/{r.item.run} {r.item.text[:70]!r}: "
                      f"{lab['cause']} <- {r.causes[:3]}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--home", type=Path, help="SPARK_HOME with the documentation KB")
    parser.add_argument("--limit", type=int, help="explain only N items (spread evenly)")
    parser.add_argument("--labelled-only", action="store_true",
                        help="explain only the labelled sample")
    parser.add_argument("--dump-sample", type=Path, metavar="FILE",
                        help="write the sample to label (error + code) and stop")
    parser.add_argument("--held-out", action="store_true",
                        help="with --dump-sample: sample B (seed 1) instead of sample A")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args(argv)
    if args.home:
        os.environ["SPARK_HOME"] = str(args.home)
    items, excluded = load_items(args.data)
    if args.dump_sample:
        dump_sample(items, args.dump_sample, held_out(items) if args.held_out else None)
        return 0
    labels = read_labels(LABELS)
    if args.labelled_only:
        items = [it for it in items if it.key in labels]
    elif args.limit:
        step = max(1, len(items) // args.limit)
        items = items[::step][:args.limit]
    from spark_lsp.agent import Agent
    from spark_lsp.config import Settings
    from spark_lsp.kb.docs_store import docs_stats

    agent = Agent(Settings(versions=dict(PINNED)), use_settings_llm=False, docs_mode="bm25")
    stats = docs_stats(agent.home)
    docs = f"docs KB: {stats.snippets:,} snippets" if stats.snippets else "no docs KB"
    figures = report(run(items, agent), excluded, labels, docs)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
