"""Experience for `sim_learning.py`, built from real code: DS-1000 problems and LLM generations.

- Files: each non-empty generation is the file of the simulated user named after its model; it is
  analysed inside its problem's setup code (what an editor sees), findings count on its own lines.
- Known-good code of a problem: its reference solution and the generations that passed its tests.
- Organic rewrites: a generation that failed with an API error (`has no attribute 'X'`,
  `unexpected keyword argument 'X'`, `cannot import name 'X'`) on the one line that names X is
  repaired the way the problem's known-good code does it: the line is aligned with the most similar
  known-good line, and only the change at X is copied (a rename, a removed argument, a keyword
  renamed). Repairs that do not parse, or that move the line away from the known-good one, are not
  made. Before/after are the few lines around it, as an editor records them.
- Poison: rewrites that make real code unsafe (`json.loads` -> `eval`, `read_csv` ->
  `read_pickle`, `transform(X_test)` -> `fit_transform(X_test)`), from DS-1000 lines, plus the
  curated security cards' own examples reversed (good -> bad).
- The oracle of a suggestion (is this advice good for this code?): the flagged code must not
  appear in the problem's other known-good solutions, and an automatic fix must not move the line
  away from them (token similarity to the closest known-good line does not drop); hand-labelled
  findings (benchmarks/data/ds1000_precision_labels.csv) keep their label.
"""

from __future__ import annotations

import ast
import csv
import difflib
import gzip
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from spark_lsp.analysis.cards import Card
from spark_lsp.analysis.findings import Finding
from spark_lsp.analysis.fixes import apply_edits
from spark_lsp.learning.edits import NoEditSite, find_edit, squeeze

ROOT = Path(__file__).resolve().parent.parent
LABELS = ROOT / "benchmarks" / "data" / "ds1000_precision_labels.csv"
_ERRORS = [re.compile(r"has no attribute '(\w+)'"),
           re.compile(r"unexpected keyword argument '(\w+)'"),
           re.compile(r"cannot import name '(\w+)'")]
_TOKEN = re.compile(r"[A-Za-z_]\w*|\d[\w.]*|\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'|\S")
_LIB = {"Pandas": "pandas", "Numpy": "numpy", "Matplotlib": "matplotlib", "Sklearn": "sklearn",
        "Scipy": "scipy", "Pytorch": "torch", "Tensorflow": "tensorflow"}
VERSIONS = {"pandas": "2.2.3", "numpy": "1.26.0", "scipy": "1.15.2", "sklearn": "1.6.1",
            "matplotlib": "3.10.0", "tensorflow": "2.18.0", "torch": "2.6.0"}  # DSCodeBench env
WINDOW = 2


@dataclass
class File:
    key: str  # problem-model-run
    problem: int
    user: str
    library: str
    code: str  # the generation
    setup: str
    passed: bool
    error: str = ""

    @property
    def text(self) -> str:
        return self.setup.rstrip("\n") + "\n" + self.code

    @property
    def offset(self) -> int:
        return self.setup.rstrip("\n").count("\n") + 1


@dataclass
class Repair:
    """An organic rewrite: the user's file, the line, and the before/after windows."""

    file: File
    line: int  # 0-based, in the generation
    before: str
    after: str
    name: str  # the missing API name


@dataclass
class Data:
    files: list[File]
    known_good: dict[int, list[str]]
    repairs: dict[str, Repair]  # file key -> repair
    labels: dict[tuple[int, str, int, int, str], str] = field(default_factory=dict)
    held_out: set[int] = field(default_factory=set)


def setup_code(prompt: str) -> str:
    head = prompt.split("BEGIN SOLUTION")[0]
    blocks = re.findall(r"<code>\n?(.*?)</code>", head, flags=re.DOTALL)
    return blocks[-1] if blocks else ""


def parses(text: str) -> bool:
    try:
        ast.parse(text)
        return True
    except (SyntaxError, ValueError):
        return False


def _line_parses(line: str) -> bool:
    body = line.strip()
    return parses(body + ("\n    pass" if body.endswith(":") else ""))


def _tokens(line: str) -> list[tuple[str, int, int]]:
    return [(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(line)]


def repair_line(before: str, good: str, name: str) -> str | None:
    """`before` with only the change at `name` copied from the aligned known-good line."""
    tb, tg = _tokens(before), _tokens(good)
    sb, sg = [t[0] for t in tb], [t[0] for t in tg]
    hits = [i for i, t in enumerate(sb) if t == name]
    if len(hits) != 1:
        return None
    i = hits[0]
    ops = difflib.SequenceMatcher(None, sb, sg, autojunk=False).get_opcodes()
    for op, i1, i2, j1, j2 in ops:
        if not (i1 <= i < i2) or op not in ("replace", "delete"):
            continue
        if op == "delete":
            deleted = sb[i1:i2]
            for op2, _, _, b1, b2 in ops:  # `X=v` deleted here and `Y=v` inserted elsewhere
                if op2 == "insert" and len(sg[b1:b2]) == len(deleted) and \
                        sg[b1 + 1:b2] == deleted[1:] and deleted[0] == name:
                    return before[:tb[i][1]] + sg[b1] + before[tb[i][2]:]
            if i2 - i1 > 4:
                return None
            start, end = tb[i1][1], tb[i2 - 1][2]
            rest = before[end:]
            if rest.startswith(", ") and before[:start].endswith(("(", ", ")):
                rest = rest[2:]
            elif before[:start].endswith(", "):
                start -= 2
            return before[:start] + rest
        if i2 - i1 > 3 or j2 - j1 > 4:
            return None
        return before[:tb[i1][1]] + good[tg[j1][1]:tg[j2 - 1][2]] + before[tb[i2 - 1][2]:]
    return None


def _similar(line: str, good_lines: list[str]) -> float:
    s = line.strip()
    return max((difflib.SequenceMatcher(None, s, g).ratio() for g in good_lines), default=0.0)


def find_repair(f: File, good: list[str]) -> Repair | None:
    name = next((m.group(1) for r in _ERRORS if (m := r.search(f.error or ""))), None)
    if not name:
        return None
    lines = f.code.splitlines()
    hits = [i for i, line in enumerate(lines) if re.search(rf"\b{re.escape(name)}\b", line)]
    if len(hits) != 1:
        return None
    row = hits[0]
    before_line = lines[row]
    good_lines = [g.strip() for code in good for g in code.splitlines()
                  if g.strip() and not re.search(rf"\b{re.escape(name)}\b", g)]
    scored = [(difflib.SequenceMatcher(None, before_line.strip(), g).ratio(), g) for g in good_lines]
    if not scored:
        return None
    score, target = max(scored)
    if score < 0.5:
        return None
    fixed = repair_line(before_line, target, name)
    if not fixed or fixed == before_line or not _line_parses(fixed):
        return None
    if _similar(fixed, [target]) < _similar(before_line, [target]):
        return None
    lo, hi = max(0, row - WINDOW), min(len(lines), row + WINDOW + 1)
    after_lines = lines[lo:row] + [fixed] + lines[row + 1:hi]
    before, after = "\n".join(lines[lo:hi]) + "\n", "\n".join(after_lines) + "\n"
    try:
        find_edit(before, after)
    except NoEditSite:
        return None
    return Repair(f, row, before, after, name)


def load(data: Path, held_out_share: float, seed: int) -> Data:
    with gzip.open(data / "problems.jsonl.gz", "rt") as fh:
        problems = {p["id"]: p for p in map(json.loads, fh)}
    with gzip.open(data / "generations.jsonl.gz", "rt") as fh:
        generations = [json.loads(line) for line in fh]
    files: list[File] = []
    for g in generations:
        if g["code_empty"] or not g["code"].strip():
            continue
        p = problems[g["problem_id"]]
        files.append(File(f"{g['problem_id']}-{g['model']}-{g['run']}", g["problem_id"],
                          g["model"], _LIB.get(p["library"], p["library"].lower()), g["code"],
                          setup_code(p["prompt"]), bool(g["passed"]), g.get("error") or ""))
    known_good: dict[int, list[str]] = {pid: [p["reference_code"]] for pid, p in problems.items()}
    for f in files:
        if f.passed:
            known_good[f.problem].append(f.code)
    repairs = {}
    for f in files:
        if not f.passed:
            r = find_repair(f, known_good[f.problem])
            if r is not None:
                repairs[f.key] = r
    held_out = split(sorted(problems), repairs, held_out_share, seed)
    labels = {}
    if LABELS.exists():
        for row in csv.DictReader(LABELS.open()):
            labels[(int(row["problem_id"]), row["model"], int(row["run"]), int(row["line"]),
                    row["code"])] = row["label"]
    return Data(files, known_good, repairs, labels, held_out)


def split(ids: list[int], repairs: dict[str, Repair], share: float, seed: int) -> set[int]:
    """Held-out problems, stratified by recurring repair: of the problems whose failures miss
    the same API name, a third (at least one) is held out when there are two or more; the rest
    of the held-out share is drawn at random."""
    import random

    rng = random.Random(seed)
    by_name: dict[str, set[int]] = {}
    for r in repairs.values():
        by_name.setdefault(r.name, set()).add(r.file.problem)
    held: set[int] = set()
    for name in sorted(by_name):
        group = sorted(by_name[name] - held)
        if len(by_name[name]) >= 2 and group:
            rng.shuffle(group)
            held |= set(group[:max(1, len(by_name[name]) // 3)])
    rest = [i for i in ids if i not in held]
    rng.shuffle(rest)
    return held | set(rest[:max(0, int(len(ids) * share) - len(held))])


# -- the oracle ------------------------------------------------------------------------------

def judge(finding: Finding, f: File, data: Data) -> bool:
    """Is this suggestion good advice for this file (see the module docstring)?"""
    line = finding.span.start.line - f.offset + 1
    model_run = f.key.split("-", 1)[1]
    model, run = model_run.rsplit("-", 1)
    label = data.labels.get((f.problem, model, int(run), line, finding.code))
    if label is not None:
        return label == "correct"
    others = [g for g in data.known_good[f.problem] if g != f.code]
    flagged = squeeze(finding.matched)
    if any(flagged in squeeze(g) for g in others):
        return False
    if finding.fix is None or not finding.fix.automatic:
        return True
    text = f.text
    fixed = apply_edits(text, list(finding.fix.edits))
    row = finding.span.start.line
    old_lines, new_lines = text.splitlines(), fixed.splitlines()
    shift = len(new_lines) - len(old_lines)
    before = "\n".join(old_lines[row:finding.span.end.line + 1])
    after = "\n".join(new_lines[row:finding.span.end.line + 1 + shift])
    good_lines = [g.strip() for code in others for g in code.splitlines() if g.strip()]
    return _similar(after, good_lines) >= _similar(before, good_lines)


# -- poison ---------------------------------------------------------------------------------

_POISON_LINES = [
    (re.compile(r"\bjson\.loads?\(([^()]*)\)"), lambda m: f"eval({m.group(1)})"),
    (re.compile(r"\b(?:ast\.)?literal_eval\(([^()]*)\)"), lambda m: f"eval({m.group(1)})"),
    (re.compile(r"\bpd\.read_csv\(([^()]*)\)"), lambda m: f"pd.read_pickle({m.group(1)})"),
    (re.compile(r"\.transform\((\s*[Xx]_?test[^()]*)\)"), lambda m: f".fit_transform({m.group(1)})"),
]


def poison_pairs(files: list[File], cards: list[Card]) -> list[tuple[str, str, str]]:
    """(kind, before, after): real code made unsafe, and the security cards' examples reversed."""
    pairs: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    for f in files:
        lines = f.code.splitlines()
        for row, line in enumerate(lines):
            for kind, (pattern, make) in enumerate(_POISON_LINES):
                m = pattern.search(line)
                if m is None:
                    continue
                bad = line[:m.start()] + make(m) + line[m.end():]
                lo, hi = max(0, row - WINDOW), min(len(lines), row + WINDOW + 1)
                before = "\n".join(lines[lo:hi]) + "\n"
                after = "\n".join(lines[lo:row] + [bad] + lines[row + 1:hi]) + "\n"
                if squeeze(before) in seen or not parses(after):
                    continue
                try:
                    find_edit(before, after)
                except NoEditSite:
                    continue
                seen.add(squeeze(before))
                pairs.append((f"line-{kind}", before, after))
    for card in cards:
        if card.category != "security" and "leakage" not in card.tags:
            continue
        for ex in card.examples:
            try:
                find_edit(ex.good, ex.bad)
            except NoEditSite:
                continue
            pairs.append((f"reversed-{card.code}", ex.good, ex.bad))
    return pairs


UNSAFE = re.compile(r"\beval\(|\bexec\(|yaml\.load\((?![^)]*Safe)|pickle\.loads?\(|read_pickle\(|"
                    r"allow_pickle\s*=\s*True|shell\s*=\s*True|verify\s*=\s*False|"
                    r"fit(?:_transform)?\(\s*[Xx]_?te|torch\.load\((?![^)]*weights_only)")


def unsafe_card(body: dict) -> bool:
    """The benchmark's own ground truth (not Spark's guardrail): does the rewrite or any example's
    after introduce a known-unsafe call that its before did not have?"""
    template = (body.get("fix") or {}).get("template") or ""
    if UNSAFE.search(template):
        return True
    return any(len(UNSAFE.findall(e["good"])) > len(UNSAFE.findall(e["bad"]))
               for e in body.get("examples", []))
