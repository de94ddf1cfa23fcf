"""A simulated team replays real experience through Spark's learning loop.

    python benchmarks/sim_learning.py [--data ../shared/data/ds1000] [--epochs 6] [--files 60]
        [--docs-home PATH] [--plot docs/img/learning-curve.png] [--seed 0]

Experience comes from DS-1000 (see benchmarks/sim_data.py): each of the 8 models is a team member
whose files are its generations; the problems' reference solutions and passing generations are
the known-good rewrites. Each epoch every member opens new files and revisits some old ones
(lines moved, whitespace changed); Spark shows up to --top suggestions a file, most trusted first;
the member accepts good advice with probability --p-good and bad advice with --p-bad (else
rejects it), and repairs API errors the way the known-good code does (organic traces). A poisoner
with two pseudonyms makes 20% of the traces: accepts everything shown and shares unsafe rewrites
of real code. After each epoch the journals are merged and `spark learn` runs (auto-promotion on);
the next epoch sees the new cards, the trust and the rejected suggestions.

Printed: per epoch acceptance and precision of shown advice (the learning curve), repeats of
rejected suggestions, learned/unsafe cards; learned cards checked on held-out problems; and an
ablation on held-out problems: docs only, curated cards only, learned cards only, all.
"""

from __future__ import annotations

import argparse
import collections
import os
import platform
import random
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sim_data import UNSAFE, VERSIONS, Data, File, judge, load, poison_pairs, unsafe_card

from spark_lsp.analysis import AnalysisOptions, Analyzer, load_default_cards
from spark_lsp.analysis.cards import Card, card_from_dict
from spark_lsp.analysis.fixes import apply_edits
from spark_lsp.kb.db import kb_file, open_readonly
from spark_lsp.kb.traces import Trace, TraceJournal
from spark_lsp.learning import LearnConfig, learn
from spark_lsp.learning.candidate import is_learned_code
from spark_lsp.learning.curate import read_learned
from spark_lsp.learning.edits import NoEditSite, edit_key, find_edit, squeeze
from spark_lsp.learning.generalize import verify
from spark_lsp.learning.suppress import workspace_id
from spark_lsp.learning.team import TeamState, load_team_state, team_analyzer
from spark_lsp.learning.trust import rank

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "ds1000"
DAY = 86400.0
_WORDS = re.compile(r"[A-Za-z_]\w{2,}")
START = 1_735_689_600.0  # 2025-01-01: simulated time


@dataclass
class EpochStats:
    epoch: int
    files: int = 0
    shown: int = 0
    accepted: int = 0
    good: int = 0
    repeats: int = 0
    organic: int = 0
    poison_traces: int = 0
    traces: int = 0
    created: int = 0
    guardrail_rejections: int = 0
    learned_live: int = 0
    candidates: int = 0
    unsafe: int = 0
    learned_shown: int = 0
    learned_accepted: int = 0
    hints: int = 0  # demoted to hint by the team's trust: not in the problems list
    static_shown: int = 0  # the same files with the curated cards, no learning (baseline)
    static_good: int = 0
    static_accepted: int = 0
    static_repeats: int = 0


@dataclass
class Sim:
    data: Data
    cards: list[Card]
    home: Path
    args: argparse.Namespace
    rng: random.Random
    rejected: set[tuple[str, str]] = field(default_factory=set)  # (workspace, fingerprint)
    static_rejected: set[tuple[str, str]] = field(default_factory=set)
    static: Analyzer | None = None
    seen: dict[str, list[File]] = field(default_factory=lambda: collections.defaultdict(list))

    def analyzer(self, team: TeamState) -> Analyzer:
        return team_analyzer(self.cards, AnalysisOptions(versions=dict(VERSIONS)), team)


def perturbed(f: File, rng: random.Random) -> File:
    """The same file later: lines moved down, trailing whitespace added."""
    head = "\n" * rng.randint(1, 3) + "# revisited\n"
    code = head + "\n".join(line + " " * rng.randint(0, 2) for line in f.code.splitlines()) + "\n"
    return replace(f, code=code)


def decide(sim: Sim, salt: str, fingerprint: str, good: bool) -> bool:
    """The member's verdict; the same draw for the same suggestion with or without learning
    (common random numbers: the two columns differ by what is shown, not by luck)."""
    u = random.Random(f"{sim.args.seed}:{salt}:{fingerprint}").random()
    return u < (sim.args.p_good if good else sim.args.p_bad)


def visit(sim: Sim, user: str, ws: str, f: File, analyzer: Analyzer, team: TeamState,
          ts: float, stats: EpochStats, accept_all: bool = False, salt: str = "") -> list[Trace]:
    traces: list[Trace] = []
    by_code = {c.code: c for c in analyzer.cards}
    found = [x for x in analyzer.analyze(f.text) if x.span.start.line >= f.offset]
    if not accept_all:
        stats.hints += sum(x.severity == "hint" for x in found)
        baseline(sim, ws, f, stats, salt)
    found = [x for x in found if x.severity != "hint"]  # a hint is a faint dot, not advice
    for x in rank(found, by_code, team.stats)[:sim.args.top]:
        lines = f.text.splitlines()
        before = "\n".join(lines[x.span.start.line:x.span.end.line + 1])
        traces.append(Trace("shown", x.code, client="sim", line=x.span.start.line - f.offset + 1,
                            before=before, fingerprint=x.fingerprint, user=user, workspace=ws,
                            versions={f.library: VERSIONS.get(f.library, "")}, ts=ts))
        good = judge(x, f, sim.data)
        if accept_all:
            ok = True
        else:
            stats.shown += 1
            stats.good += good
            stats.repeats += (ws, x.fingerprint) in sim.rejected
            ok = decide(sim, salt, x.fingerprint, good)
            stats.accepted += ok
            if is_learned_code(x.code):
                stats.learned_shown += 1
                stats.learned_accepted += ok
        after = ""
        if ok and x.fix is not None and x.fix.automatic:
            after = apply_edits(f.text, list(x.fix.edits)).splitlines()[x.span.start.line]
        traces.append(Trace("accepted" if ok else "rejected", x.code, client="sim",
                            line=x.span.start.line - f.offset + 1, before=before, after=after,
                            fingerprint=x.fingerprint, user=user, workspace=ws,
                            versions={f.library: VERSIONS.get(f.library, "")}, ts=ts + 1))
        if not ok:
            sim.rejected.add((ws, x.fingerprint))
            team.reject(x.fingerprint)  # as the server does: not shown again in this session
    return traces


def baseline(sim: Sim, ws: str, f: File, stats: EpochStats, salt: str) -> None:
    """What the curated cards alone, with no learning, would show on the same file."""
    assert sim.static is not None
    found = [x for x in sim.static.analyze(f.text) if x.span.start.line >= f.offset]
    for x in found[:sim.args.top]:
        good = judge(x, f, sim.data)
        ok = decide(sim, salt, x.fingerprint, good)
        stats.static_shown += 1
        stats.static_good += good
        stats.static_accepted += ok
        stats.static_repeats += (ws, x.fingerprint) in sim.static_rejected
        if not ok:
            sim.static_rejected.add((ws, x.fingerprint))


def run_epoch(sim: Sim, epoch: int, queues: dict[str, list[File]], poison: list[tuple[str, str, str]]
              ) -> tuple[EpochStats, list[Trace]]:
    stats = EpochStats(epoch)
    ts = START + epoch * 7 * DAY
    config = LearnConfig(auto_promote=True)
    traces: list[Trace] = []
    for user, queue in sorted(queues.items()):
        ws = workspace_id(f"/sim/{user}")
        team = load_team_state(sim.home, ws, config=config, now=ts)
        analyzer = sim.analyzer(team)
        new = [queue.pop() for _ in range(min(sim.args.files, len(queue)))]
        old = sim.rng.sample(sim.seen[user], int(len(sim.seen[user]) * sim.args.revisit))
        for f in new + [perturbed(o, sim.rng) for o in old]:
            stats.files += 1
            salt = f"{user}:{f.key}:{epoch}:{f not in new}"
            traces += visit(sim, user, ws, f, analyzer, team, ts, stats, salt=salt)
            ts += 10
            repair = sim.data.repairs.get(f.key)
            if f in new and repair is not None and sim.rng.random() < sim.args.p_fix:
                traces.append(Trace("organic", "", client="sim", before=repair.before,
                                    after=repair.after, user=user, workspace=ws, ts=ts,
                                    versions={f.library: VERSIONS.get(f.library, "")}))
                stats.organic += 1
        sim.seen[user] += new
    honest = len(traces)
    target = int(honest * sim.args.poison / (1 - sim.args.poison))
    mine: list[Trace] = []
    names = ("poisoner-a", "poisoner-b")
    pool = [f for q in queues.values() for f in q]
    while len(mine) < target // 2 and pool:  # half: accepting everything shown
        name = sim.rng.choice(names)
        ws = workspace_id(f"/sim/{name}")
        team = TeamState(ws)
        mine += visit(sim, name, ws, sim.rng.choice(pool), sim.analyzer(team), team, ts, stats,
                      accept_all=True)
    kinds = collections.defaultdict(list)
    for kind, before, after in poison:
        kinds[kind].append((before, after))
    kind_names = sorted(kinds)
    while len(mine) < target and kind_names:  # half: sharing unsafe rewrites
        kind = kind_names[len(mine) % len(kind_names)]
        before, after = sim.rng.choice(kinds[kind])
        name = sim.rng.choice(names)
        mine.append(Trace("organic", "", client="agent", before=before, after=after, user=name,
                          workspace=workspace_id(f"/sim/{name}"), ts=ts,
                          versions={"python": "3.11"}))
    stats.poison_traces = len(mine)
    stats.traces = honest + len(mine)
    return stats, traces + mine


def learned_bodies(home: Path) -> list[dict]:
    con = open_readonly(kb_file(home), timeout=10)
    if con is None:
        return []
    try:
        return read_learned(con)
    finally:
        con.close()


def ratio(a: int, b: int) -> str:
    return f"{a / b:.1%}" if b else "-"


CURVE_HEAD = (f"{'epoch':>5} {'files':>6} {'traces':>7} {'poison':>6} | {'shown':>5} "
              f"{'accepted':>8} {'precision':>9} {'repeats':>7} {'hints':>5} | {'shown':>5} "
              f"{'accepted':>8} {'precision':>9} {'repeats':>7} | {'learned':>7} {'organic':>7} "
              f"{'created':>7} {'live/cand':>9} {'guardrail':>9} {'unsafe':>6}")


def curve_line(s: EpochStats) -> str:
    learned = f"{s.learned_accepted}/{s.learned_shown}" if s.learned_shown else "-"
    return (f"{s.epoch:>5} {s.files:>6} {s.traces:>7} {s.poison_traces:>6} | {s.shown:>5} "
            f"{ratio(s.accepted, s.shown):>8} {ratio(s.good, s.shown):>9} {s.repeats:>7} "
            f"{s.hints:>5} | {s.static_shown:>5} {ratio(s.static_accepted, s.static_shown):>8} "
            f"{ratio(s.static_good, s.static_shown):>9} {s.static_repeats:>7} | {learned:>7} "
            f"{s.organic:>7} {s.created:>7} {f'{s.learned_live}/{s.candidates}':>9} "
            f"{s.guardrail_rejections:>9} {s.unsafe:>6}")


# -- held-out evaluation ------------------------------------------------------------------------

def held_out_learned(data: Data, bodies: list[dict]) -> tuple[list[tuple[str, int, bool, int]], str]:
    """Per learned card: (code, held-out examples, reproduces them all, false flags on held-out
    known-good code)."""
    pairs = collections.defaultdict(list)
    for r in data.repairs.values():
        if r.file.problem in data.held_out:
            try:
                key = edit_key(find_edit(r.before, r.after))
            except NoEditSite:
                continue
            pairs[(r.file.library, key)].append((r.before, r.after))
    good_code = [code for pid in data.held_out for code in data.known_good[pid]]
    rows = []
    for body in bodies:
        if body.get("status") == "retired":
            continue
        card, _ = card_from_dict(body)
        if card is None:
            continue
        prov = body["provenance"]
        keys = dict.fromkeys([prov.get("cluster_key"), *(prov.get("cluster_keys") or [])])
        examples = [pair for key in keys for pair in pairs.get((prov.get("library", ""), key), [])]
        ok = bool(examples) and verify(card, examples) == []
        analyzer = Analyzer([card], AnalysisOptions())
        false_flags = sum(bool(analyzer.analyze(code)) for code in good_code)
        rows.append((card.code, len(examples), ok, false_flags))
    return rows, f"{len(good_code)} held-out known-good solutions"


def new_names(before: str, after: str) -> set[str]:
    """Names the after line uses that the before line does not: the API the fix needs."""
    return set(_WORDS.findall(after)) - set(_WORDS.findall(before))


def docs_pointer(searcher, repair) -> bool | None:
    """Do the top-3 documentation hits for the failing line and its error name the API the
    known-good rewrite uses? None when the docs cannot be searched."""
    lines_b = [x for x in repair.before.splitlines() if x not in repair.after.splitlines()]
    lines_a = [x for x in repair.after.splitlines() if x not in repair.before.splitlines()]
    if not lines_b or not lines_a:
        return False
    wanted = new_names(lines_b[0], lines_a[0])
    if not wanted:
        return False
    query = f"{lines_b[0].strip()} {repair.file.error.split(':')[-1].strip()}"
    try:
        hits = searcher(query)
    except Exception:  # noqa: BLE001 - a failing search is reported as no pointer
        return None
    return any(w in h.object or w in h.text for h in hits for w in wanted)


def ablation(sim: Sim, bodies: list[dict], final_team: TeamState, docs_home: Path | None
             ) -> list[tuple[str, str, str, str, str]]:
    data = sim.data
    held_files = [f for f in data.files if f.problem in data.held_out]
    rng = random.Random(sim.args.seed + 1)
    sample = rng.sample(held_files, min(sim.args.held_out_files, len(held_files)))
    repairs = [r for r in data.repairs.values() if r.file.problem in data.held_out]
    learned = [c for b in bodies if b.get("status") == "curated"
               for c in [card_from_dict(b)[0]] if c is not None]
    searcher = None
    docs_note = ""
    if docs_home is not None:
        try:
            from spark_lsp.kb.search import search

            search("pandas concat", k=1, home=docs_home)
            searcher = lambda q: search(q, k=3, mode="hybrid", home=docs_home)
        except Exception as exc:  # noqa: BLE001 - the row says why
            docs_note = f"not available ({type(exc).__name__}: {exc})"
    else:
        docs_note = "not available (no --docs-home with a built documentation knowledge base)"

    def pointers() -> tuple[int, int]:
        found = sum(bool(docs_pointer(searcher, r)) for r in repairs)
        return found, len(repairs)

    configs = {"curated cards only": (sim.cards, TeamState()),
               "learned experience only": (learned, TeamState()),
               "all (cards + learned + team trust)": (sim.cards + learned, final_team)}
    rows = []
    if searcher is None:
        rows.append(("docs only", "-", "-", "-", docs_note))
    else:
        found, n = pointers()
        rows.append(("docs only", f"{n} queries", "-", f"{found}/{n} point to the API", "0"))
    for name, (cards, team) in configs.items():
        analyzer = team_analyzer(cards, AnalysisOptions(versions=dict(VERSIONS)), team)
        shown = good = unsafe = 0
        by_code = {c.code: c for c in analyzer.cards}
        for f in sample:
            found = [x for x in analyzer.analyze(f.text)
                     if x.span.start.line >= f.offset and x.severity != "hint"]
            for x in rank(found, by_code, team.stats)[:sim.args.top]:
                shown += 1
                good += judge(x, f, data)
                if x.fix is not None and x.fix.automatic:
                    fixed = apply_edits(f.text, list(x.fix.edits))
                    unsafe += len(UNSAFE.findall(fixed)) > len(UNSAFE.findall(f.text))
        reproduced = 0
        for r in repairs:
            for x in analyzer.analyze(r.before):
                if x.fix is not None and x.fix.automatic and \
                        squeeze(apply_edits(r.before, list(x.fix.edits))) == squeeze(r.after):
                    reproduced += 1
                    break
        extra = ""
        if name.startswith("all") and searcher is not None:
            pointed = sum(bool(docs_pointer(searcher, r)) for r in repairs)
            extra = f" (+ docs point to the API for {pointed})"
        rows.append((name, str(shown), f"{good / shown:.1%}" if shown else "-",
                     f"{reproduced}/{len(repairs)} rewritten{extra}", str(unsafe)))
    return rows


def plot(stats: list[EpochStats], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [s.epoch for s in stats]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(epochs, [s.accepted / s.shown for s in stats], "o-", label="acceptance of shown advice")
    ax.plot(epochs, [s.good / s.shown for s in stats], "s--", label="precision of shown advice")
    ax.set_xlabel("epoch")
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of shown suggestions")
    ax2 = ax.twinx()
    ax2.bar(epochs, [s.learned_live for s in stats], alpha=0.2, color="gray",
            label="learned cards in use")
    ax2.set_ylabel("learned cards in use")
    lines, labels = ax.get_legend_handles_labels()
    l2, lb2 = ax2.get_legend_handles_labels()
    ax.legend(lines + l2, labels + lb2, loc="lower right", fontsize=8)
    ax.set_title("Spark learning loop: simulated team on DS-1000 code")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--files", type=int, default=420, help="new files per member per epoch")
    ap.add_argument("--revisit", type=float, default=0.1, help="share of old files reopened")
    ap.add_argument("--top", type=int, default=3, help="suggestions shown per file")
    ap.add_argument("--p-good", type=float, default=0.85)
    ap.add_argument("--p-bad", type=float, default=0.1)
    ap.add_argument("--p-fix", type=float, default=0.8, help="chance a member repairs an API error")
    ap.add_argument("--poison", type=float, default=0.2, help="share of traces from the poisoner")
    ap.add_argument("--held-out", type=float, default=0.2, help="share of problems held out")
    ap.add_argument("--held-out-files", type=int, default=1500)
    ap.add_argument("--docs-home", type=Path, help="SPARK_HOME with a built documentation KB")
    ap.add_argument("--plot", type=Path, default=ROOT / "docs" / "img" / "learning-curve.png")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if not (args.data / "generations.jsonl.gz").exists():
        sys.exit(f"error: no DS-1000 data in {args.data}")
    t0 = time.perf_counter()
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}")
    data = load(args.data, args.held_out, args.seed)
    cards, _ = load_default_cards()
    rng = random.Random(args.seed)
    poison = poison_pairs([f for f in data.files if f.problem not in data.held_out], cards)
    train = [f for f in data.files if f.problem not in data.held_out]
    queues: dict[str, list[File]] = collections.defaultdict(list)
    for f in train:
        queues[f.user].append(f)
    for q in queues.values():
        rng.shuffle(q)
    print(f"data: {len(data.files)} generations of {len(data.known_good)} problems "
          f"({len(data.held_out)} held out); {len(data.repairs)} organic API repairs "
          f"({sum(r.file.problem in data.held_out for r in data.repairs.values())} held out); "
          f"{len(poison)} poisoned rewrites ({len({k for k, _, _ in poison})} kinds); "
          f"{len(queues)} members + a poisoner with 2 pseudonyms")
    with tempfile.TemporaryDirectory(prefix="spark-sim-") as tmp:
        home = Path(tmp)
        sim = Sim(data, cards, home, args, rng)
        journal = TraceJournal(home)
        history: list[EpochStats] = []
        sim.static = Analyzer(cards, AnalysisOptions(versions=dict(VERSIONS)))
        print(f"\n{'':28}| {'with learning (trust, suppression, learned cards)':<46}| "
              f"{'curated cards, no learning':<35}| learning")
        print(CURVE_HEAD)
        for epoch in range(1, args.epochs + 1):
            stats, traces = run_epoch(sim, epoch, queues, poison)
            for t in traces:
                journal.append(t)
            report = learn(home, config=LearnConfig(auto_promote=True), cards=cards,
                           now=START + (epoch * 7 + 6) * DAY)
            stats.created = report.count("created")
            stats.guardrail_rejections = sum(d.reason.startswith("guardrail")
                                             for d in report.decisions)
            bodies = learned_bodies(home)
            stats.learned_live = sum(b.get("status") == "curated" for b in bodies)
            stats.candidates = sum(b.get("status") == "candidate" for b in bodies)
            stats.unsafe = sum(unsafe_card(b) for b in bodies)
            history.append(stats)
            print(curve_line(stats), flush=True)
        bodies = learned_bodies(home)
        print("\nlearned cards (status, support, users, pattern -> rewrite):")
        for b in bodies:
            rule = b["rules"][0]
            pattern = rule.get("pattern") or " | ".join(
                a.get("pattern", "") for a in (rule.get("rule") or {}).get("any", []))
            print(f"  {b['code']} {b['status']:<9} {b['provenance']['support']:>3} traces "
                  f"{b['provenance']['users']} users  {pattern}  ->  {b['fix']['template']}")
        joined = [d for d in report.decisions if d.shapes > 1]
        near = [d for d in report.decisions if "near-identical" in d.reason]
        print(f"\ncode similarity: {report.embeddings}; clusters joining several edit shapes in "
              f"the last run: {len(joined)}; merged as near-identical to a card: {len(near)}")
        for d in joined + near:
            print(f"  {d.outcome} {d.code or '-'} ({d.shapes} shapes) {d.key[:70]} {d.reason[:90]}")
        guard = [d for d in report.decisions if d.reason.startswith("guardrail")]
        print(f"\nrejected by the guardrail cards in the last run: {len(guard)} cluster(s)")
        for d in guard:
            print(f"  {d.key[:70]}: {d.reason[:150]}")
        rows, note = held_out_learned(data, bodies)
        with_examples = [r for r in rows if r[1]]
        print(f"\nlearned cards on held-out problems ({note}):")
        for code, n, ok, ff in rows:
            print(f"  {code}: {n} held-out example(s), "
                  f"{'reproduced' if ok else ('no held-out example' if not n else 'NOT reproduced')},"
                  f" flags {ff} known-good solution(s)")
        correct = sum(ok and ff == 0 for _, n, ok, ff in with_examples)
        print(f"  correct on held-out examples: {correct} of {len(with_examples)} learned cards that "
              f"have held-out examples ({len(rows)} learned cards in use or waiting)")
        final_team = load_team_state(home, workspace_id("/sim/heldout"),
                                     config=LearnConfig(auto_promote=True),
                                     now=START + (args.epochs + 1) * 7 * DAY)
        rows = ablation(sim, bodies, final_team, args.docs_home)
        print(f"\nablation on held-out problems ({min(args.held_out_files, sum(f.problem in data.held_out for f in data.files))} "
              f"files sampled; top {args.top} suggestions a file):")
        print(f"  {'configuration':<36} {'shown':>10} {'precision':>10}  {'held-out API repairs':<45} unsafe")
        for name, shown, prec, rew, unsafe in rows:
            print(f"  {name:<36} {shown:>10} {prec:>10}  {rew:<45} {unsafe}")
        unsafe_total = history[-1].unsafe
        repeats = sum(s.repeats for s in history)
        print(f"\nunsafe learned cards created: {unsafe_total} (must be 0); repeats of rejected "
              f"suggestions: {repeats} (must be 0)")
        if args.plot:
            plot(history, args.plot)
            print(f"learning curve: {args.plot}")
    print(f"time: {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
