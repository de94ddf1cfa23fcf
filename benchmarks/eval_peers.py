"""Spark against the peer linters' own test fixtures, and ruff against Spark's card examples.

    python benchmarks/eval_peers.py [--data ../shared/data/linter_fixtures] [--details]

1. Peer fixtures. `fixtures_index.csv` / `code/manifest.csv` list the tests of ruff (PD, PERF,
   NPY), pandas-vet, dslinter and CodeSmile: a snippet, a rule, whether the test expects a flag.
   Each peer rule maps to the Spark card(s) for the same practice in
   benchmarks/data/peer_rule_map.csv (coverage same / partial / opposite / none, with the reason
   when it is not `same`). Every snippet goes through Spark's checker API (`make_analyzer` +
   `Analyzer.analyze`, as `spark check` does); a finding counts for a rule when its code is one
   of the rule's cards. Per rule: flag cases Spark also flags (agree), flag cases Spark misses,
   clean cases Spark flags. ruff's fixture files hold positive and negative cases: a positive
   case is a line of ruff's snapshot; any Spark finding on another line counts as "clean flagged".
2. Spark's cards. ruff runs with the ruff rules mapped to each card on the card's examples: how
   many bad examples it catches, how many good examples it flags.

Fixture code is read where it lies; nothing is copied into the repository.
"""

from __future__ import annotations

import argparse
import collections
import csv
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from spark_lsp.analysis import Analyzer, installed_versions
from spark_lsp.analysis.cards import Card
from spark_lsp.check import make_analyzer
from spark_lsp.config import Settings

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "linter_fixtures"
RULE_MAP = ROOT / "benchmarks" / "data" / "peer_rule_map.csv"
RUFF_BASE = "PD,PERF,NPY"


@dataclass(frozen=True)
class RuleMapping:
    tool: str
    rule: str
    spark: tuple[str, ...]
    coverage: str  # same | partial | opposite | none
    reason: str


@dataclass(frozen=True)
class Case:
    """One peer test: a code file, the rule it tests, and what the peer expects.

    `lines` is set for ruff's mixed fixture files: the 1-based lines ruff's snapshot flags."""
    tool: str
    rule: str
    expectation: str  # flag | no_flag | mixed
    path: Path
    name: str
    lines: frozenset[int] | None = None


@dataclass
class RuleScore:
    flag_cases: int = 0
    agree: int = 0
    missed: list[str] = field(default_factory=list)
    clean_cases: int = 0
    clean_flagged: list[str] = field(default_factory=list)
    crashes: list[str] = field(default_factory=list)

    @property
    def misses(self) -> int:
        return len(self.missed)


def load_rule_map(path: Path = RULE_MAP) -> dict[tuple[str, str], RuleMapping]:
    mapping: dict[tuple[str, str], RuleMapping] = {}
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            m = RuleMapping(row["tool"], row["rule"], tuple(row["spark"].split()),
                            row["coverage"], row["reason"])
            if m.coverage not in ("same", "partial", "opposite", "none"):
                raise ValueError(f"{path}: {m.tool} {m.rule}: unknown coverage {m.coverage!r}")
            if m.coverage != "same" and not m.reason:
                raise ValueError(f"{path}: {m.tool} {m.rule}: a reason is required")
            if (m.coverage == "none") == bool(m.spark):
                raise ValueError(f"{path}: {m.tool} {m.rule}: cards and coverage disagree")
            mapping[(m.tool, m.rule)] = m
    return mapping


def _expected_lines(data: Path) -> dict[tuple[str, str, bool], set[int]]:
    """(fixture path, rule, preview snapshot) -> lines ruff's snapshot flags."""
    lines: dict[tuple[str, str, bool], set[int]] = collections.defaultdict(set)
    with (data / "ruff_fixture_diagnostics.csv").open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            preview = "__preview__" in row["snapshot"]
            lines[(row["fixture"], row["rule_code"], preview)].add(int(row["line"]))
    return lines


def load_cases(data: Path) -> list[Case]:
    """Every manifest row with a decidable expectation (the 3 `unknown` rows are left out)."""
    expected = _expected_lines(data)
    cases = []
    with (data / "code" / "manifest.csv").open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["expectation"] not in ("flag", "no_flag", "mixed"):
                continue
            lines = None
            if row["expectation"] == "mixed":
                preview = row["kind"] == "fixture_file_preview"
                lines = frozenset(expected[(row["source_path"], row["rule_code"], preview)])
            name = Path(row["file"]).name + (" (preview)" if row["kind"].endswith("preview")
                                              else "")
            cases.append(Case(row["tool"], row["rule_code"], row["expectation"],
                              data / "code" / row["file"], name, lines))
    return cases


def spark_spans(analyzer: Analyzer, text: str, filename: str) -> dict[str, list[tuple[int, int]]]:
    """Spark code -> the 1-based (first, last) lines of each of its findings in `text`."""
    found: dict[str, list[tuple[int, int]]] = collections.defaultdict(list)
    for f in analyzer.analyze(text, filename):
        found[f.code].append((f.span.start.line + 1, f.span.end.line + 1))
    return dict(found)


def score(cases: list[Case], analyzer: Analyzer, mapping: dict[tuple[str, str], RuleMapping]
          ) -> tuple[dict[tuple[str, str], RuleScore], dict[str, list[str]]]:
    """Per peer rule, how Spark's findings compare with the peer's expectations.

    Also returns, per Spark code, the fixtures it flags whose rule maps to other cards."""
    scores: dict[tuple[str, str], RuleScore] = collections.defaultdict(RuleScore)
    other: dict[str, list[str]] = collections.defaultdict(list)
    cache: dict[Path, dict[str, list[tuple[int, int]]] | None] = {}
    for case in cases:
        key = (case.tool, case.rule)
        s = scores[key]
        if case.path not in cache:
            try:
                text = case.path.read_text(encoding="utf-8", errors="replace")
                cache[case.path] = spark_spans(analyzer, text, str(case.path))
            except Exception as exc:  # noqa: BLE001 - a crash is a result to report, not a stop
                cache[case.path] = None
                s.crashes.append(f"{case.name}: {type(exc).__name__}: {exc}")
        found = cache[case.path]
        if found is None:
            continue
        m = mapping.get(key)
        codes = set(m.spark) if m else set()
        for code in sorted(set(found) - codes):
            other[code].append(f"{case.name} ({case.tool} {case.rule})")
        spans = sorted(span for c in codes for span in found.get(c, ()))
        if case.expectation == "mixed":
            # a finding agrees with the expected diagnostics its lines cover (ruff reports a
            # multi-line call at one keyword, Spark the whole call); one that covers none is extra
            assert case.lines is not None
            s.flag_cases += len(case.lines)
            for line in sorted(case.lines):
                if any(first <= line <= last for first, last in spans):
                    s.agree += 1
                else:
                    s.missed.append(f"{case.name}:{line}")
            s.clean_flagged += [f"{case.name}:{first}" for first, last in spans
                                if not any(first <= line <= last for line in case.lines)]
        elif case.expectation == "flag":
            s.flag_cases += 1
            if spans:
                s.agree += 1
            else:
                s.missed.append(case.name)
        else:
            s.clean_cases += 1
            if spans:
                s.clean_flagged.append(case.name)
    return dict(scores), dict(other)


def card_ruff_rules(mapping: dict[tuple[str, str], RuleMapping]) -> dict[str, list[str]]:
    """Spark code -> the ruff rules that cover the same practice (same or partial)."""
    rules: dict[str, list[str]] = collections.defaultdict(list)
    for m in mapping.values():
        if m.tool == "ruff" and m.coverage in ("same", "partial"):
            for code in m.spark:
                rules[code].append(m.rule)
    return dict(rules)


def run_ruff(files: dict[str, str], select: str) -> dict[str, set[str]]:
    """File name -> ruff rule codes reported on it."""
    found: dict[str, set[str]] = {name: set() for name in files}
    with tempfile.TemporaryDirectory(prefix="spark-peers-") as tmp:
        for name, code in files.items():
            Path(tmp, name).write_text(code, encoding="utf-8")
        proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--isolated", "--no-cache",
                               "--select", select, "--output-format", "json", "--exit-zero",
                               tmp], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"ruff failed: {proc.stderr.strip()}")
        for item in json.loads(proc.stdout or "[]"):
            if item.get("code") and item["code"] != "invalid-syntax":
                found[Path(item["filename"]).name].add(item["code"])
    return found


@dataclass
class CardComparison:
    code: str
    ruff_rules: list[str]
    bad: int = 0
    good: int = 0
    spark_bad: int = 0
    spark_good_flagged: int = 0
    ruff_bad: int = 0  # bad examples caught by an equivalent ruff rule
    ruff_good_flagged: int = 0
    ruff_bad_any: int = 0  # bad examples with any ruff finding of the selection
    ruff_missed: list[str] = field(default_factory=list)  # bad examples no equivalent rule flags


def compare_cards(cards: dict[str, Card], analyzer: Analyzer,
                  mapping: dict[tuple[str, str], RuleMapping]) -> list[CardComparison]:
    equivalent = card_ruff_rules(mapping)
    select = ",".join(sorted({RUFF_BASE, *(r for rs in equivalent.values() for r in rs)}))
    files: dict[str, str] = {}
    for card in cards.values():
        for i, ex in enumerate(card.examples if card.rules else ()):
            files[f"{card.code}_{i}_bad.py"] = ex.bad
            files[f"{card.code}_{i}_good.py"] = ex.good
    ruff_found = run_ruff(files, select)
    rows = []
    for code, card in sorted(cards.items()):
        if not card.rules:
            continue  # a card that only explains error messages detects no code
        c = CardComparison(code, equivalent.get(code, []))
        for i, ex in enumerate(card.examples):
            c.bad += 1
            c.good += 1
            c.spark_bad += any(f.code == code for f in analyzer.analyze(ex.bad))
            c.spark_good_flagged += any(f.code == code for f in analyzer.analyze(ex.good))
            bad_codes = ruff_found[f"{code}_{i}_bad.py"]
            c.ruff_bad += bool(bad_codes & set(c.ruff_rules))
            if c.ruff_rules and not bad_codes & set(c.ruff_rules):
                c.ruff_missed.append(f"{code} example {i + 1} (ruff: {sorted(bad_codes) or '-'})")
            c.ruff_bad_any += bool(bad_codes)
            c.ruff_good_flagged += bool(ruff_found[f"{code}_{i}_good.py"] & set(c.ruff_rules))
        rows.append(c)
    return rows


def print_peer_table(scores: dict[tuple[str, str], RuleScore],
                     mapping: dict[tuple[str, str], RuleMapping], details: bool) -> None:
    print(f"\n{'tool':10} {'rule':40} {'spark':20} {'coverage':9} {'flag':>5} {'agree':>6} "
          f"{'miss':>5} {'clean':>6} {'cl.flag':>7}")
    totals: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for key in sorted(scores):
        s = scores[key]
        m = mapping.get(key)
        coverage = m.coverage if m else "unmapped"
        spark = " ".join(m.spark) if m and m.spark else "-"
        clean = str(s.clean_cases) if s.clean_cases else "-"
        print(f"{key[0]:10} {key[1]:40} {spark:20} {coverage:9} {s.flag_cases:5} {s.agree:6} "
              f"{s.misses:5} {clean:>6} {len(s.clean_flagged):7}")
        group = "covered" if coverage in ("same", "partial", "opposite") else "not covered"
        for t in (totals[group], totals["all"]):
            t.update(flag=s.flag_cases, agree=s.agree, miss=s.misses, clean=s.clean_cases,
                     clean_flagged=len(s.clean_flagged), crashes=len(s.crashes))
        if details:
            for name in s.missed:
                print(f"    miss: {name}")
            for name in s.clean_flagged:
                print(f"    flagged clean: {name}")
        for crash in s.crashes:
            print(f"    CRASH: {crash}")
    for group in ("covered", "not covered", "all"):
        t = totals[group]
        print(f"  {group:12} flag cases {t['flag']:4}  agree {t['agree']:4}  miss {t['miss']:4}  "
              f"clean cases {t['clean']:4}  clean flagged {t['clean_flagged']:3}  "
              f"crashes {t['crashes']}")


def print_card_table(rows: list[CardComparison], details: bool) -> None:
    print(f"\n{'card':7} {'ruff rules':22} {'bad':>4} {'spark':>6} {'ruff':>5} {'ruff any':>8} "
          f"{'good':>5} {'spark fp':>8} {'ruff fp':>7}")
    t: collections.Counter = collections.Counter()
    for c in rows:
        rules = ",".join(c.ruff_rules) or "-"
        print(f"{c.code:7} {rules:22} {c.bad:4} {c.spark_bad:6} {c.ruff_bad:5} {c.ruff_bad_any:8} "
              f"{c.good:5} {c.spark_good_flagged:8} {c.ruff_good_flagged:7}")
        if details:
            for name in c.ruff_missed:
                print(f"    ruff misses: {name}")
        t.update(bad=c.bad, spark=c.spark_bad, ruff=c.ruff_bad, any=c.ruff_bad_any, good=c.good,
                 sfp=c.spark_good_flagged, rfp=c.ruff_good_flagged,
                 with_rule=c.bad if c.ruff_rules else 0, cards_with_rule=bool(c.ruff_rules))
    print(f"  total   bad {t['bad']}: Spark flags {t['spark']}, ruff (equivalent rules) "
          f"{t['ruff']}, ruff (any of {RUFF_BASE} + equivalents) {t['any']}; good {t['good']}: "
          f"Spark flags {t['sfp']}, ruff {t['rfp']}")
    print(f"  {t['cards_with_rule']} of {len(rows)} cards have an equivalent ruff rule "
          f"({t['with_rule']} bad examples)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--details", action="store_true", help="list every miss and clean flag")
    ap.add_argument("--no-ruff", action="store_true", help="skip the card-example comparison")
    args = ap.parse_args()
    if not (args.data / "code" / "manifest.csv").is_file():
        sys.exit(f"error: no linter fixtures in {args.data}")

    mapping = load_rule_map()
    cases = load_cases(args.data)
    analyzer, cards, problems = make_analyzer(Settings())
    for p in problems:
        print(f"skipped card: {p}", file=sys.stderr)
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"libraries: {json.dumps(installed_versions())}")
    unmapped = sorted({(c.tool, c.rule) for c in cases} - set(mapping))
    if unmapped:
        print(f"warning: rules without a mapping: {unmapped}", file=sys.stderr)

    t0 = time.perf_counter()
    scores, other = score(cases, analyzer, mapping)
    elapsed = time.perf_counter() - t0
    files = len({c.path for c in cases})
    print(f"\n1. Peer fixtures: {len(cases)} test cases in {files} files, analysed in "
          f"{elapsed:.1f} s")
    print_peer_table(scores, mapping, args.details)
    if other:
        print("  Spark findings on fixtures whose rule maps to other cards: "
              + ", ".join(f"{k} {len(v)}" for k, v in sorted(other.items())))
        if args.details:
            for code, names in sorted(other.items()):
                for name in names:
                    print(f"    {code}: {name}")

    if not args.no_ruff:
        print("\n2. ruff on Spark's card examples (bad should be flagged, good clean):")
        print_card_table(compare_cards(cards, analyzer, mapping), args.details)


if __name__ == "__main__":
    main()
