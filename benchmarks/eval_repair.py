"""pass@1 repair on DS-1000: do Spark's fixes make real LLM solutions pass (or fail)?

    python benchmarks/eval_repair.py [--data ../shared/data/ds1000] [--sample 600] [--seed 0]
        [--workers 2] [--report docs/eval-ds1000.md] [--plot docs/img/eval-ds1000.png]

1. Builds (once) the pinned environment the labels were made with, outside the repository
   (`benchmarks/ds1000_exec.py`), and re-runs a seeded random sample of generations to check that
   it reproduces the published pass/fail labels.
2. Analyses every non-empty generation inside its problem's setup code (as `eval_ds1000.py`
   does) and, where Spark has an automatic fix on the generation's lines, applies the safe fixes
   only, and separately safe + unsafe fixes, exactly as `spark check --fix [--unsafe-fixes]`
   would (`spark_lsp.check.fix_text`), then runs original and fixed programs through the
   problem's tests. A pass/fail flip is re-run twice on both sides; it counts only when all
   three runs of each side agree (else it is reported as flaky).
3. Says whether findings predict failure: fail rate (published labels) of generations with and
   without each Spark code that flags >= 30 generations.

Results are cached (`~/.cache/spark-eval/ds1000-results.sqlite`): a second run only analyses.
"""

from __future__ import annotations

import argparse
import collections
import difflib
import gzip
import json
import os
import platform
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ds1000_exec import (
    ANALYSIS_VERSIONS,
    EXCLUDED_LIBRARIES,
    Job,
    Runner,
    RunResult,
    default_runner,
    exclusion,
    installed,
)
from eval_ds1000 import setup_code
from repair_report import VARIANTS, Report

from spark_lsp.analysis.engine import Analyzer
from spark_lsp.check import fix_text, make_analyzer
from spark_lsp.config import Settings

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "ds1000"
REPEATS = 3  # runs of each side of a flip


@dataclass
class Generation:
    problem_id: int
    model: str
    run: int
    library: str
    code: str
    passed: bool  # the published label
    empty: bool
    codes: set[str] = field(default_factory=set)  # Spark codes on the generation's lines
    fixed: dict[str, str] = field(default_factory=dict)  # variant -> fixed code, when changed
    fix_codes: dict[str, list[str]] = field(default_factory=dict)  # variant -> codes fixed
    skipped: str = ""  # why a fix was not evaluated
    excluded: str = ""  # why it cannot run in the pinned environment

    @property
    def key(self) -> str:
        return f"{self.model}/run{self.run}/p{self.problem_id}"


def load(data: Path, tensorflow: bool = True) -> tuple[list[Generation], dict[int, dict]]:
    with gzip.open(data / "problems.jsonl.gz", "rt") as fh:
        problems = {p["id"]: p for p in map(json.loads, fh)}
    with gzip.open(data / "generations.jsonl.gz", "rt") as fh:
        gens = [Generation(g["problem_id"], g["model"], g["run"], g["library"], g["code"] or "",
                           g["passed"] in (True, "True", "true"),
                           bool(g["code_empty"]) or not (g["code"] or "").strip())
                for g in map(json.loads, fh)]
    reasons = {pid: exclusion(p, tensorflow) for pid, p in problems.items()}
    for g in gens:
        g.excluded = reasons[g.problem_id]
    return gens, problems


def runnable(g: Generation) -> bool:
    return not g.empty and not g.excluded


# -- fixing ------------------------------------------------------------------------------------

def split_fixed(before: str, after: str, offset: int) -> tuple[list[str], str] | None:
    """Undo the setup prefix: (lines fixes inserted into the setup, e.g. imports; the fixed
    generation). None when a fix changed a setup line (fixes are limited to the generation)."""
    a, b = before.splitlines(keepends=True), after.splitlines(keepends=True)
    prefix: list[str] = []
    body: list[str] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            body += b[j1 + max(0, offset - i1):j2] if i2 > offset else []
        elif i1 < offset and tag == "insert":
            prefix += b[j1:j2]
        elif i1 < offset:
            return None
        else:
            body += b[j1:j2]
    if len(b) != offset + len(prefix) + len(body):
        return None
    return prefix, "".join(body)


def fix_generation(g: Generation, setup: str, analyzer: Analyzer) -> None:
    """Findings and fixed versions of one generation, analysed below its problem's setup."""
    setup = setup.rstrip("\n")
    full = setup + "\n" + g.code
    offset = setup.count("\n") + 1
    findings = analyzer.analyze(full)
    mine = [f for f in findings if f.span.start.line >= offset]
    g.codes = {f.code for f in mine}
    if not any(f.fix is not None and f.fix.automatic for f in mine):
        return
    for variant in VARIANTS:
        result = fix_text(full, analyzer, unsafe=variant == "all", findings=findings,
                          first_line=offset)
        if result.text == full:
            continue
        split = split_fixed(full, result.text, offset)
        if split is None:
            g.skipped = "a fix changed the setup code"
            continue
        prefix, body = split
        first = next((ln for ln in body.splitlines() if ln.strip()), "")
        indent = first[:len(first) - len(first.lstrip())]
        code = "".join(indent + ln for ln in prefix) + body
        if code != g.code:
            g.fixed[variant] = code
            g.fix_codes[variant] = sorted({f.code for f in result.applied})


def analyse_all(gens: list[Generation], problems: dict[int, dict], analyzer: Analyzer) -> float:
    t0 = time.perf_counter()
    setups = {pid: setup_code(p["prompt"]) for pid, p in problems.items()}
    for g in gens:
        if not g.empty:
            fix_generation(g, setups[g.problem_id], analyzer)
    return time.perf_counter() - t0


# -- running -----------------------------------------------------------------------------------

def progress_printer(label: str):
    t0 = time.monotonic()

    def show(done: int, total: int) -> None:
        if done % 50 == 0 or done == total:
            rate = done / max(time.monotonic() - t0, 1e-9)
            eta = (total - done) / rate if rate else 0
            print(f"  {label}: {done}/{total} ({rate:.2f}/s, ~{eta / 60:.0f} min left)",
                  file=sys.stderr, flush=True)
    return show


@dataclass
class Flip:
    gen: Generation
    variant: str
    before: bool  # the original passed
    confirmed: bool  # every repeat of both sides agreed
    after_error: str


@dataclass
class RepairOutcome:
    results: dict[str, dict[str, RunResult]]  # gen key -> "orig"/variant -> first run
    flips: list[Flip]
    changed: dict[str, list[Generation]]  # variant -> generations the variant changed

    def regressions(self, variant: str) -> list[Flip]:
        return [f for f in self.flips if f.variant == variant and f.before and f.confirmed]

    def repairs(self, variant: str) -> list[Flip]:
        return [f for f in self.flips if f.variant == variant and not f.before and f.confirmed]


def evaluate_repairs(gens: list[Generation], problems: dict[int, dict], runner: Runner,
                     variants: tuple[str, ...] = VARIANTS) -> RepairOutcome:
    """Run every changed generation before and after its fixes; confirm flips by repeating."""
    changed = {v: [g for g in gens if runnable(g) and v in g.fixed] for v in variants}
    todo = {g.key: g for v in variants for g in changed[v]}

    def job(g: Generation, code: str, attempt: int = 0) -> Job:
        return Job(g.problem_id, problems[g.problem_id]["code_context"], code, attempt)

    jobs = {(k, side): job(g, g.code if side == "orig" else g.fixed[side])
            for k, g in todo.items() for side in ("orig", *variants) if side == "orig"
            or side in g.fixed}
    done = runner.run_all(jobs.values(), progress_printer("fixed generations"))
    results: dict[str, dict[str, RunResult]] = collections.defaultdict(dict)
    for (k, side), j in jobs.items():
        results[k][side] = done[j]
    candidates = [(todo[k], v) for k in todo for v in variants if v in results[k]
                  and results[k][v].passed != results[k]["orig"].passed]
    repeats = {(g.key, side, a): job(g, g.code if side == "orig" else g.fixed[side], a)
               for g, v in candidates for side in ("orig", v) for a in range(1, REPEATS)}
    again = runner.run_all(repeats.values(), progress_printer("repeats of flips"))
    flips = []
    for g, v in candidates:
        runs = {side: [results[g.key][side].passed]
                + [again[repeats[(g.key, side, a)]].passed for a in range(1, REPEATS)]
                for side in ("orig", v)}
        steady = all(len(set(r)) == 1 for r in runs.values())
        flips.append(Flip(g, v, results[g.key]["orig"].passed, steady,
                          results[g.key][v].error))
    return RepairOutcome(dict(results), flips, changed)


def reproduce_labels(gens: list[Generation], problems: dict[int, dict], runner: Runner,
                     size: int, seed: int) -> tuple[list[Generation], dict[str, RunResult],
                                                    dict[str, list[bool]]]:
    # drawn from the non-empty generations outside excluded libraries, then those whose test
    # harness needs an excluded library are dropped (the draw stays the same when such
    # exclusions change)
    pool = [g for g in gens if not g.empty and g.library not in EXCLUDED_LIBRARIES]
    drawn = random.Random(seed).sample(pool, min(size, len(pool)))
    sample = [g for g in drawn if runnable(g)]

    def job(g: Generation, attempt: int = 0) -> Job:
        return Job(g.problem_id, problems[g.problem_id]["code_context"], g.code, attempt)

    done = runner.run_all([job(g) for g in sample], progress_printer("label sample"))
    results = {g.key: done[job(g)] for g in sample}
    differ = [g for g in sample if results[g.key].passed != g.passed]
    again = runner.run_all([job(g, a) for g in differ for a in range(1, REPEATS)],
                           progress_printer("repeats of disagreements"))
    repeats = {g.key: [results[g.key].passed] + [again[job(g, a)].passed
                                                   for a in range(1, REPEATS)] for g in differ}
    return sample, results, repeats


# -- main --------------------------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--sample", type=int, default=600, help="generations for the label check")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-tensorflow", action="store_true",
                    help="leave TensorFlow out of the environment (its problems are skipped)")
    ap.add_argument("--problems", help="comma-separated problem ids (default: all)")
    ap.add_argument("--report", type=Path, help="write the markdown report here")
    ap.add_argument("--plot", type=Path, help="write the PNG plot here")
    args = ap.parse_args()
    if not (args.data / "generations.jsonl.gz").exists():
        sys.exit(f"error: no DS-1000 data in {args.data}")
    t_start = time.monotonic()
    gens, problems = load(args.data, tensorflow=not args.no_tensorflow)
    if args.problems:
        keep = {int(p) for p in args.problems.split(",")}
        gens = [g for g in gens if g.problem_id in keep]
    runner = default_runner(args.workers, tensorflow=not args.no_tensorflow)
    env_versions = installed(runner.env_root)
    report = Report(gens, problems)
    report.header(command=" ".join(["python", "benchmarks/eval_repair.py", *sys.argv[1:]]),
                  machine=f"{platform.machine()}, {os.cpu_count()} cores, "
                          f"{args.workers} workers, sandbox: {runner.sandbox}",
                  versions=env_versions)

    analyzer, _, _ = make_analyzer(Settings(versions=dict(ANALYSIS_VERSIONS)))
    seconds = analyse_all(gens, problems, analyzer)
    report.analysis_summary(seconds)

    sample, results, repeats = reproduce_labels(gens, problems, runner, args.sample, args.seed)
    report.labels(sample, results, repeats, args.seed)

    outcome = evaluate_repairs(gens, problems, runner)
    report.repairs(outcome)
    report.containment([r for by_side in outcome.results.values() for r in by_side.values()]
                       + list(results.values()))
    report.predictors()
    report.footer(time.monotonic() - t_start)
    if args.plot:
        report.plot(outcome, args.plot)
    if args.report:
        report.write(args.report, args.plot)


if __name__ == "__main__":
    main()
