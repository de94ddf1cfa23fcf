"""Spark's detectors over the non-empty LLM generations of DS-1000, next to ruff.

    python benchmarks/eval_ds1000.py [--data ../shared/data/ds1000] [--limit N] [--sample 50]

Each generation is analysed twice: as the bare fragment (what an agent emits) and inside the
problem's own setup code (the `<code>` block of the prompt: imports and the input frame), which is
what an editor sees; findings count only on the generation's lines. ruff runs with its
data-science rules (PD, NPY, PERF, S307/S506/S301) on the same fragments, with the setup code too.
Precision comes from hand labels in benchmarks/data/ds1000_precision_labels.csv (see --sample).
"""

from __future__ import annotations

import argparse
import ast
import collections
import csv
import gzip
import json
import os
import platform
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from spark_lsp.analysis import installed_versions
from spark_lsp.check import make_analyzer
from spark_lsp.config import Settings

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "ds1000"
LABELS = ROOT / "benchmarks" / "data" / "ds1000_precision_labels.csv"
RUFF_RULES = "PD,NPY,PERF,S307,S506,S301,S324,S602,S501"


def setup_code(prompt: str) -> str:
    """The problem's setup: the last `<code>` block before `BEGIN SOLUTION`."""
    head = prompt.split("BEGIN SOLUTION")[0]
    blocks = re.findall(r"<code>\n?(.*?)</code>", head, flags=re.S)
    return blocks[-1] if blocks else ""


def load(data: Path, limit: int | None) -> tuple[list[dict], dict[int, dict]]:
    problems = {p["id"]: p for p in map(json.loads, gzip.open(data / "problems.jsonl.gz", "rt"))}
    gens = [g for g in map(json.loads, gzip.open(data / "generations.jsonl.gz", "rt"))
            if not g["code_empty"] and g["code"].strip()]
    if limit:
        gens = random.Random(0).sample(gens, min(limit, len(gens)))
    return gens, problems


def parses(code: str) -> bool:
    try:
        ast.parse(code)
        return True
    except (SyntaxError, ValueError):
        return False


def run_ruff(files: dict[str, str], offsets: dict[str, int]) -> collections.Counter:
    counts: collections.Counter = collections.Counter()
    with tempfile.TemporaryDirectory() as tmp:
        for name, code in files.items():
            Path(tmp, name).write_text(code, encoding="utf-8")
        proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--isolated", "--no-cache",
                               "--select", RUFF_RULES, "--output-format", "json", "--exit-zero",
                               tmp], capture_output=True, text=True)
        for item in json.loads(proc.stdout or "[]"):
            name = Path(item["filename"]).name
            if not item.get("code") or item["code"] == "invalid-syntax":
                continue  # ruff reports every unparsable line; not a finding
            if item["location"]["row"] > offsets.get(name, 0):
                counts[item["code"]] += 1
    return counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--limit", type=int, help="analyse a random subset")
    ap.add_argument("--sample", type=int, default=0,
                    help="print N random findings (seeded) for hand labelling")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-ruff", action="store_true")
    args = ap.parse_args()
    if not (args.data / "generations.jsonl.gz").exists():
        sys.exit(f"error: no DS-1000 data in {args.data}")

    gens, problems = load(args.data, args.limit)
    analyzer, _cards, _ = make_analyzer(Settings())
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"libraries: {json.dumps(installed_versions())}")
    print(f"generations (non-empty): {len(gens)}")

    stats = collections.Counter()
    by_code_frag: collections.Counter = collections.Counter()
    by_code_ctx: collections.Counter = collections.Counter()
    gens_flagged: collections.Counter = collections.Counter()
    records = []
    ruff_frag, ruff_ctx, ruff_offsets = {}, {}, {}
    t0 = time.perf_counter()
    for i, g in enumerate(gens):
        code = g["code"]
        setup = setup_code(problems[g["problem_id"]]["prompt"])
        stats["parses"] += parses(code)
        stats["no_imports"] += not re.search(r"^\s*(import|from)\s", code, re.M)
        frag = analyzer.analyze(code)
        for f in frag:
            by_code_frag[f.code] += 1
        full = setup.rstrip("\n") + "\n" + code
        offset = setup.rstrip("\n").count("\n") + 1
        ctx_findings = [f for f in analyzer.analyze(full) if f.span.start.line >= offset]
        stats["parses_with_setup"] += parses(full)
        for f in ctx_findings:
            by_code_ctx[f.code] += 1
            records.append((g, f, full, offset))
        for code_ in {f.code for f in ctx_findings}:
            gens_flagged[code_] += 1
        stats["flagged"] += bool(ctx_findings)
        name = f"g{i}.py"
        ruff_frag[name], ruff_ctx[name], ruff_offsets[name] = code, full, offset
    elapsed = time.perf_counter() - t0

    n = len(gens)
    print(f"\nanalysed: {n} fragments in {elapsed:.1f} s ({2 * n / elapsed:.0f} analyses/s)")
    print(f"  parse as Python on their own: {stats['parses']} ({stats['parses'] / n:.1%}); "
          f"without any import: {stats['no_imports']} ({stats['no_imports'] / n:.1%})")
    print(f"  parse with the problem's setup code: {stats['parses_with_setup']}; all {n} are "
          "analysed (tolerant parser: unreadable lines are skipped, the rest is checked)")
    print(f"  generations with >=1 finding (with setup): {stats['flagged']} ({stats['flagged'] / n:.1%})")

    rf = rc = collections.Counter()
    if not args.no_ruff:
        rf = run_ruff(ruff_frag, {k: 0 for k in ruff_frag})
        rc = run_ruff(ruff_ctx, ruff_offsets)
    print("\nfindings per Spark code (fragment alone / with setup code / generations flagged):")
    print(f"{'code':8} {'fragment':>9} {'w/ setup':>9} {'gens':>6}")
    for code in sorted(set(by_code_frag) | set(by_code_ctx)):
        print(f"{code:8} {by_code_frag[code]:>9} {by_code_ctx[code]:>9} {gens_flagged[code]:>6}")
    print(f"{'total':8} {sum(by_code_frag.values()):>9} {sum(by_code_ctx.values()):>9}")
    if not args.no_ruff:
        print(f"\nruff {RUFF_RULES} on the same code (fragment alone / with setup code):")
        for code in sorted(set(rf) | set(rc)):
            print(f"{code:8} {rf[code]:>9} {rc[code]:>9}")
        print(f"{'total':8} {sum(rf.values()):>9} {sum(rc.values()):>9}")

    report_precision()
    if args.sample:
        print_sample(records, args.sample, args.seed)


def report_precision() -> None:
    if not LABELS.exists():
        print("\nprecision: no hand labels yet (run with --sample 50 and fill "
              f"{LABELS.relative_to(ROOT)})")
        return
    rows = list(csv.DictReader(LABELS.open()))
    ok = sum(r["label"] == "correct" for r in rows)
    print(f"\nprecision on {len(rows)} hand-checked findings: {ok}/{len(rows)} = {ok / len(rows):.1%}")
    by = collections.defaultdict(lambda: [0, 0])
    for r in rows:
        by[r["code"]][0] += r["label"] == "correct"
        by[r["code"]][1] += 1
    print("  " + ", ".join(f"{c} {a}/{b}" for c, (a, b) in sorted(by.items())))


def print_sample(records, k: int, seed: int) -> None:
    rng = random.Random(seed)
    picked = rng.sample(records, min(k, len(records)))
    print(f"\n--- {len(picked)} random findings (seed {seed}) for hand labelling ---")
    for g, f, full, offset in picked:
        lines = full.splitlines()
        row = f.span.start.line
        window = "\n".join(f"{'>' if j == row else ' '} {lines[j]}"
                           for j in range(max(offset, row - 3), min(len(lines), row + 3)))
        print(f"\n## problem {g['problem_id']} model {g['model']} run {g['run']} "
              f"line {row - offset + 1}: {f.code} {f.message}\n{window}")


if __name__ == "__main__":
    main()
