"""Tables and the plot of benchmarks/eval_repair.py: printed as they are made, and written as
markdown into a report between two markers (text outside the markers is kept)."""

from __future__ import annotations

import collections
import difflib
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from ds1000_exec import RunResult

if TYPE_CHECKING:
    from eval_repair import Generation, RepairOutcome

VARIANTS = ("safe", "all")  # safe fixes only; safe + unsafe fixes

START = "<!-- eval_repair.py: generated from here -->"
END = "<!-- eval_repair.py: generated up to here -->"
MIN_FLAGGED = 30
VARIANT_NAMES = {"safe": "safe fixes", "all": "safe + unsafe fixes"}


_NUMBER = re.compile(r"^[+-]?[\d,.]+( ?%| pp)?$|^-$")


def table(header: list[str], rows: Iterable[list]) -> list[str]:
    """A markdown table; columns of numbers are right-aligned."""
    rows = [[str(c) for c in row] for row in rows]
    align = ["---:" if i and rows and all(_NUMBER.match(r[i]) for r in rows) else "---"
             for i in range(len(header))]
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return out


def pct(a: int, b: int) -> str:
    return f"{100 * a / b:.1f}%" if b else "-"


def pp(delta: int, total: int) -> str:
    return f"{100 * delta / total:+.2f} pp" if total else "-"


class Report:
    def __init__(self, gens: list[Generation], problems: dict[int, dict]) -> None:
        self.gens = gens
        self.problems = problems
        self.md: list[str] = []

    def emit(self, lines: list[str] | str) -> None:
        lines = [lines] if isinstance(lines, str) else lines
        for line in lines:
            print(line, flush=True)
        self.md += lines

    # -- sections ----------------------------------------------------------------------------
    def header(self, command: str, machine: str, versions: dict[str, str]) -> None:
        pins = ("pandas", "numpy", "scipy", "scikit-learn", "matplotlib", "seaborn",
                "xgboost-cpu", "tensorflow-cpu", "keras")
        self.emit([f"Command: `{command}`", "", f"Machine: {machine}.", "",
                   "Execution environment: Python 3.11, "
                   + ", ".join(f"{n} {versions[n]}" for n in pins if n in versions) + ".", ""])
        excluded = collections.defaultdict(list)
        for g in self.gens:
            if g.excluded:
                excluded[g.excluded].append(g)
        for why, gs in excluded.items():
            self.emit([(f"Excluded from execution: {len(gs):,} generations of "
                        f"{len({g.problem_id for g in gs})} problems — {why}."), ""])

    def analysis_summary(self, seconds: float) -> None:
        nonempty = [g for g in self.gens if not g.empty]
        flagged = [g for g in nonempty if g.codes]
        fixable = {v: [g for g in nonempty if v in g.fixed] for v in VARIANTS}
        skipped = collections.Counter(g.skipped for g in nonempty if g.skipped)
        self.emit(["## Spark on the generations", "",
                   f"{len(self.gens):,} generations, {len(nonempty):,} non-empty, analysed inside "
                   f"their problem's setup code in {seconds:.0f} s; {len(flagged):,} have at least "
                   f"one finding; the safe fixes change {len(fixable['safe']):,} of them, safe + "
                   f"unsafe fixes {len(fixable['all']):,}"
                   + (f" ({', '.join(f'{n} skipped: {w}' for w, n in skipped.items())})"
                      if skipped else "") + ".", ""])

    def labels(self, sample: list[Generation], results: dict[str, RunResult],
               repeats: dict[str, list[bool]], seed: int) -> None:
        agree = [g for g in sample if results[g.key].passed == g.passed]
        self.emit(["## 1. Reproducing the published labels", "",
                   (f"Random sample of {len(sample)} runnable non-empty generations (seed {seed}; "
                    "drawn outside excluded libraries, minus those whose harness imports one): "
                    f"**{len(agree)}/{len(sample)} = {pct(len(agree), len(sample))}** agree with "
                    "the published pass/fail label."), ""])
        reasons: dict[str, list[Generation]] = collections.defaultdict(list)
        for g in sample:
            if results[g.key].passed == g.passed:
                continue
            cause = (self.problems[g.problem_id].get("reference_check") or {}).get("cause", "")
            if len(set(repeats.get(g.key, []))) > 1:
                why = "flaky: the same code passes and fails across our 3 runs"
            elif cause == "needs_network":
                why = "needs network (`seaborn.load_dataset`): labels were made with network"
            elif results[g.key].status == "timeout":
                why = "timeout here"
            else:
                why = f"other: {'passes' if results[g.key].passed else 'fails'} here"
            reasons[why].append(g)
        if reasons:
            rows = [[why, len(gs), ", ".join(sorted({f"p{g.problem_id}" for g in gs})),
                     "; ".join(sorted({_short(results[g.key].error) for g in gs}))[:200]]
                    for why, gs in sorted(reasons.items(), key=lambda kv: -len(kv[1]))]
            self.emit(table(["disagreement", "generations", "problems", "error here"], rows) + [""])

    def repairs(self, outcome: RepairOutcome) -> None:
        self.emit(["## 2. Applying Spark's fixes and running the tests", "",
                   ("Baseline: the original generation run here (not the published label). "
                   "*changed*: generations whose code the fixes change; *fail→pass* / "
                   "*pass→fail*: flips confirmed by 3 runs of each side; *net*: (fail→pass − "
                   "pass→fail) over **all** generations of the row (empty ones included), in "
                   "percentage points of pass@1."), ""])
        for by, name in (("model", "model"), ("library", "library")):
            rows = []
            keys = sorted({getattr(g, by) for g in self.gens})
            for k in keys + ["all"]:
                total = [g for g in self.gens if k == "all" or getattr(g, by) == k]
                ids = {id(g) for g in total}
                base = sum(g.passed for g in total)
                row = [k, len(total), pct(base, len(total))]
                if all(g.excluded for g in total):
                    rows.append(row + ["not run"] * 4 * len(VARIANTS))
                    continue
                for v in VARIANTS:
                    ch = [g for g in outcome.changed[v] if id(g) in ids]
                    fp = [f for f in outcome.repairs(v) if id(f.gen) in ids]
                    pf = [f for f in outcome.regressions(v) if id(f.gen) in ids]
                    row += [len(ch), len(fp), len(pf), pp(len(fp) - len(pf), len(total))]
                rows.append(row)
            head = [name, "generations", "pass@1 (labels)"]
            for v in VARIANTS:
                head += [f"{v}: changed", "fail→pass", "pass→fail", "net"]
            self.emit([f"### By {name}", ""] + table(head, rows) + [""])
        self._by_code(outcome)
        flaky = [f for f in outcome.flips if not f.confirmed]
        if flaky:
            self.emit([f"Flaky flips (not counted): {len(flaky)} — "
                       + ", ".join(sorted({f'p{f.gen.problem_id}' for f in flaky})) + ".", ""])
        for v in VARIANTS:
            regs = outcome.regressions(v)
            self.emit([f"### Regressions from {VARIANT_NAMES[v]}: {len(regs)}", ""])
            for f in regs:
                self.emit([(f"- `{f.gen.key}` ({f.gen.library}; fixes: "
                            f"{', '.join(f.gen.fix_codes[v])}): fails with "
                            f"`{_short(f.after_error)}`"),
                           "", "```diff"] + _diff(f.gen.code, f.gen.fixed[v]) + ["```", ""])

    def _by_code(self, outcome: RepairOutcome) -> None:
        rows = []
        codes = sorted({c for v in VARIANTS for g in outcome.changed[v] for c in g.fix_codes[v]})
        for code in codes:
            row = [code]
            for v in VARIANTS:
                kinds = collections.Counter(outcome_of(outcome, g, v) for g in outcome.changed[v]
                                            if code in g.fix_codes[v])
                row += [sum(kinds.values()), kinds["fail→pass"], kinds["pass→fail"],
                        kinds["fail→fail, new error"]]
            rows.append(row)
        head = ["code"]
        for v in VARIANTS:
            head += [f"{v}: changed", "fail→pass", "pass→fail", "new error"]
        self.emit(["### By code", "",
                   ("A generation fixed by several codes counts for each. *new error*: it fails "
                    "before and after, but with another error after the fix (the fix got past "
                    "the error it targets, and the generation fails further on)."), ""]
                  + table(head, rows) + [""])
        by_safe = {id(f.gen) for f in outcome.repairs("safe")}
        repairs = outcome.repairs("safe") + [f for f in outcome.repairs("all")
                                             if id(f.gen) not in by_safe]
        self.emit([f"### Repairs (fail→pass): {len(repairs)}", ""])
        for f in repairs:
            self.emit([(f"- `{f.gen.key}` ({f.gen.library}; {VARIANT_NAMES[f.variant]}: "
                        f"{', '.join(f.gen.fix_codes[f.variant])})"), "", "```diff"]
                      + _diff(f.gen.code, f.gen.fixed[f.variant]) + ["```", ""])

    def containment(self, runs: list[RunResult]) -> None:
        status = collections.Counter(r.status for r in runs)
        kinds = collections.Counter(k for r in runs for k in r.kinds.split(",") if k)
        rows = [["runs (distinct program × attempt)", len(runs)]]
        rows += [[f"status: {s}", n] for s, n in sorted(status.items())]
        rows += [[f"failed with: {k}", n] for k, n in sorted(kinds.items())]
        secs = sorted(r.seconds for r in runs if not r.cached)
        if secs:
            rows.append(["median seconds per run (not cached)", f"{secs[len(secs) // 2]:.1f}"])
        self.emit(["## Bad input, contained", "",
                   ("Every run: 120 s timeout, 16 MiB cap on each file written (stdout and stderr "
                   "included), 8 GiB address space, its own folder as cwd and HOME; in the "
                   "namespaces sandbox no network and every mount read-only except that folder "
                   "and fresh /tmp, /var/tmp, /dev/shm. *syntax*: the program did not parse; "
                   "*write_outside*: a write hit the read-only file system."), ""]
                  + table(["what", "count"], rows) + [""])

    def predictors(self) -> None:
        gens = [g for g in self.gens if not g.empty]
        counts = collections.Counter(c for g in gens for c in g.codes)
        rows = []
        self.predict: list[tuple[str, float, float]] = []
        for code, n in sorted(counts.items()):
            if n < MIN_FLAGGED:
                continue
            flagged = [g for g in gens if code in g.codes]
            libs = {g.library for g in flagged}
            problems = {g.problem_id for g in flagged}
            same_lib = [g for g in gens if code not in g.codes and g.library in libs]
            same_problem = [g for g in gens if code not in g.codes and g.problem_id in problems]
            fail_with = _fail_rate(flagged)
            fail_problem = _fail_rate(same_problem)
            self.predict.append((code, fail_with, fail_problem))
            rows.append([code, n, len(problems), f"{100 * fail_with:.1f}%",
                         f"{100 * _fail_rate(same_lib):.1f}%", f"{100 * fail_problem:.1f}%",
                         f"{100 * (fail_with - fail_problem):+.1f}"])
        base = sum(not g.passed for g in gens)
        self.emit(["## 3. Do findings predict failure?", "",
                   (f"Published labels, {len(gens):,} non-empty generations (fail rate "
                    f"{pct(base, len(gens))}); codes flagging ≥ {MIN_FLAGGED} generations. "
                    "*fail without*: unflagged generations of the same libraries, and of the same "
                    "problems (the problems where the code flags at least one generation; this "
                    "controls for how hard a problem is)."), ""]
                  + table(["code", "flagged", "problems", "fail with", "without: same libraries",
                           "without: same problems", "with − without same problems (pp)"],
                          rows) + [""])

    def footer(self, seconds: float) -> None:
        self.emit([f"Wall time: {seconds / 60:.1f} min.", ""])

    # -- outputs -------------------------------------------------------------------------------
    def plot(self, outcome: RepairOutcome, path: Path) -> None:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
        kinds = ["fail→pass", "pass→fail", "pass→pass", "fail→fail, new error",
                 "fail→fail, same error", "flaky"]
        colors = ["tab:green", "tab:red", "tab:blue", "tab:orange", "lightgray", "black"]
        codes_fixed = sorted({c for g in outcome.changed["all"] for c in g.fix_codes["all"]},
                             reverse=True)
        counts = {c: collections.Counter(outcome_of(outcome, g, "all")
                                         for g in outcome.changed["all"]
                                         if c in g.fix_codes["all"]) for c in codes_fixed}
        lefts = [0] * len(codes_fixed)
        for kind, color in zip(kinds, colors):
            widths = [counts[c][kind] for c in codes_fixed]
            left.barh(codes_fixed, widths, left=lefts, color=color, label=kind)
            lefts = [a + b for a, b in zip(lefts, widths)]
        left.set_xlabel("generations changed by safe + unsafe fixes, by outcome of the tests")
        left.set_title("Applying Spark's fixes (original vs fixed, same environment)")
        left.tick_params(axis="y", labelsize=8)
        left.legend(fontsize=7, loc="lower right")
        codes = [c for c, _, _ in self.predict]
        ys = range(len(codes))
        right.barh([y - 0.2 for y in ys], [100 * w for _, w, _ in self.predict], 0.4,
                   label="with the finding")
        right.barh([y + 0.2 for y in ys], [100 * wo for _, _, wo in self.predict], 0.4,
                   label="without (same problems)")
        right.set_yticks(list(ys), codes, fontsize=8)
        right.set_xlabel("fail rate of generations (published labels, %)")
        right.set_title(f"Findings and failure (codes on ≥ {MIN_FLAGGED} generations)")
        right.legend(fontsize=8)
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)
        plt.close(fig)

    def write(self, path: Path, plot: Path | None) -> None:
        body = list(self.md)
        if plot is not None:
            rel = Path(*Path(plot).resolve().parts[len(path.resolve().parent.parts):])
            alt = ("test outcomes of the generations each code's fixes changed; fail rate with "
                   "and without each finding")
            body += [f"![{alt}]({rel.as_posix()})", ""]
        generated = "\n".join([START, *body, END])
        old = path.read_text(encoding="utf-8") if path.exists() else ""
        if START in old and END in old:
            text = old[:old.index(START)] + generated + old[old.index(END) + len(END):]
        else:
            text = ("# pass@1 repair on DS-1000\n\nWritten by `benchmarks/eval_repair.py`; the "
                    "part between the markers is regenerated on each run.\n\n" + generated + "\n")
        path.write_text(text, encoding="utf-8")


def outcome_of(outcome: RepairOutcome, g: Generation, variant: str) -> str:
    flip = next((f for f in outcome.flips if f.gen is g and f.variant == variant), None)
    if flip is not None:
        return ("fail→pass" if not flip.before else "pass→fail") if flip.confirmed else "flaky"
    before, after = outcome.results[g.key]["orig"], outcome.results[g.key][variant]
    if before.passed:
        return "pass→pass"
    same = _short(before.error) == _short(after.error)
    return "fail→fail, same error" if same else "fail→fail, new error"


def _fail_rate(gens: list[Generation]) -> float:
    return sum(not g.passed for g in gens) / len(gens) if gens else 0.0


def _short(error: str) -> str:
    return re.sub(r"\s+", " ", error or "").strip()[:120]


def _diff(before: str, after: str) -> list[str]:
    return [ln.rstrip("\n") for ln in difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True), "generation", "fixed",
        n=1)]

