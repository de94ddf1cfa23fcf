"""`spark learn`: traces -> clusters -> generalized, verified, filtered candidate cards.

`plan_learning` is a pure function of the traces and the cards (no database): it decides, for
each cluster, to create or update a learned card, to merge the evidence into an existing card,
or to reject it (with the reason), and retires learned cards that expired or were reported
outdated. `learn` reads the knowledge base, plans, and writes the result in one transaction.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from spark_lsp.analysis.cards import Card, card_from_dict
from spark_lsp.analysis.engine import AnalysisOptions, Analyzer
from spark_lsp.config import spark_home
from spark_lsp.kb.card_store import sync_seeds
from spark_lsp.kb.db import kb_errors, kb_file, open_readonly, writer_lock
from spark_lsp.kb.merge import merge_journals, pending_traces
from spark_lsp.kb.migrate import open_writer, schema_version
from spark_lsp.kb.store import query_traces, row_to_trace
from spark_lsp.kb.traces import Trace
from spark_lsp.learning import reinsert
from spark_lsp.learning.candidate import card_data, next_code
from spark_lsp.learning.cluster import Cluster, Skipped, cluster_experience, experience
from spark_lsp.learning.config import LearnConfig
from spark_lsp.learning.filters import (
    Guardrail,
    find_duplicate,
    support_problem,
    wilson_lower_bound,
)
from spark_lsp.learning.generalize import CannotGeneralize, generalize, verify
from spark_lsp.learning.suppress import is_expired, outdated_versions, retire_from
from spark_lsp.learning.trust import card_stats
from spark_lsp.learning.vectors import CodeVectors

if TYPE_CHECKING:
    from spark_lsp.agent.llm import LLMConfig
    from spark_lsp.learning.wording import CardWriter

log = logging.getLogger(__name__)

CREATED, UPDATED, MERGED, REJECTED = "created", "updated", "merged", "rejected"


@dataclass
class Decision:
    library: str
    key: str
    traces: int
    users: int
    positive: float
    negative: float
    acceptance: float  # Wilson lower bound of positive / (positive + negative)
    outcome: str  # created | updated | merged | rejected
    reason: str = ""
    code: str = ""
    status: str = ""
    pattern: str = ""
    template: str = ""
    shapes: int = 1  # edit shapes joined in the cluster (by code similarity)


@dataclass
class LearnReport:
    traces: int = 0
    experience: int = 0  # before/after pairs that could be read
    clusters: int = 0
    decisions: list[Decision] = field(default_factory=list)
    retired: list[tuple[str, str]] = field(default_factory=list)  # (code, why)
    narrowed: list[tuple[str, dict[str, str]]] = field(default_factory=list)  # outdated
    skipped: list[Skipped] = field(default_factory=list)
    dry_run: bool = False
    written: bool = False
    run_id: str = ""
    notes: list[str] = field(default_factory=list)
    embeddings: str = ""  # what measured code similarity: all-MiniLM-L6-v2, or hashed tokens
    worded_by_llm: int = 0  # cards whose title and why the configured model wrote

    def count(self, outcome: str) -> int:
        return sum(1 for d in self.decisions if d.outcome == outcome)

    def summary(self) -> str:
        return (f"{self.traces} trace(s), {self.experience} before/after pair(s) in "
                f"{self.clusters} cluster(s): {self.count(CREATED)} card(s) created, "
                f"{self.count(UPDATED)} updated, {self.count(MERGED)} merged into existing "
                f"cards, {self.count(REJECTED)} rejected; {len(self.retired)} retired"
                + (" (dry run: nothing written)" if self.dry_run else ""))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["skipped"] = len(self.skipped)
        data["summary"] = self.summary()
        return data


@dataclass
class Plan:
    report: LearnReport
    writes: reinsert.Writes


@dataclass
class _Evidence:
    positive: float
    negative: float
    negative_ids: list[str]


def _card(body: dict[str, Any]) -> Card | None:
    card, problems = card_from_dict(body, f"<learned {body.get('code')}>")
    if card is None:
        log.warning("stored learned card %s is invalid: %s", body.get("code"),
                    "; ".join(map(str, problems)))
    return card


def _evidence(cluster: Cluster, existing: Card | None, traces_by_code: dict[str, list[Trace]]
              ) -> _Evidence:
    """For: the cluster's pairs (+ accepts/helpful of its learned card); against: the reverse
    rewrite (+ rejections/`wrong` of its learned card)."""
    positive = float(len(cluster.examples))
    negative_ids = [t.id for t in cluster.contradicting]
    if existing is not None:
        for t in traces_by_code.get(existing.code, []):
            if t.outcome in ("accepted", "helpful"):
                positive += 1
            elif t.outcome in ("rejected", "wrong"):
                negative_ids.append(t.id)
    return _Evidence(positive, float(len(negative_ids)), negative_ids)


def plan_learning(traces: list[Trace], cards: list[Card], learned: list[dict[str, Any]],
                  config: LearnConfig | None = None, now: float | None = None,
                  vectors: CodeVectors | None = None, writer: CardWriter | None = None
                  ) -> Plan:
    """Decide what curation writes. `cards`: the curated (seed/memory) cards; `learned`: the
    stored learned cards' bodies; `vectors`: code embeddings (default: the model when installed
    and `config.embeddings`, cached in SPARK_HOME); `writer`: words new cards with a model."""
    config = config or LearnConfig()
    now = time.time() if now is None else now
    vectors = vectors or CodeVectors(model=config.embeddings)
    report = LearnReport(traces=len(traces))
    writes = reinsert.Writes()
    by_key: dict[str, dict[str, Any]] = {}
    learned_cards: list[Card] = []
    for body in learned:
        prov = body.get("provenance") or {}
        for key in [prov.get("cluster_key"), *(prov.get("cluster_keys") or [])]:
            if key:
                by_key.setdefault(f"{prov.get('library', '')}\0{key}", body)
        card = _card(body)
        if card is not None:
            learned_cards.append(card)
    used = {c.code for c in cards} | {b["code"] for b in learned}
    traces_by_code: dict[str, list[Trace]] = {}
    for t in traces:
        traces_by_code.setdefault(t.code, []).append(t)
    examples, report.skipped = experience(traces)
    report.experience = len(examples)
    clusters = cluster_experience(examples, vectors)
    report.clusters = len(clusters)
    guardrail = Guardrail(cards)
    live = [c for c in cards if c.status != "retired"]
    live_learned = [c for c in learned_cards if c.status != "retired"]
    covering = Analyzer(live + live_learned, AnalysisOptions())
    claimed: set[str] = set()  # a stored learned card is updated by one cluster at most

    def decide(cluster: Cluster) -> Decision:
        previous = next((by_key[k] for k in (f"{cluster.library}\0{key}" for key in cluster.keys)
                         if k in by_key and by_key[k]["code"] not in claimed), None)
        existing = _card(previous) if previous else None
        decision = _decide(cluster, existing, previous, traces_by_code, used, guardrail,
                           covering, live + live_learned, config, now, writes, vectors, writer)
        decision.shapes = len(cluster.keys)
        if decision.outcome == CREATED:
            used.add(decision.code)
        if decision.outcome in (CREATED, UPDATED):
            claimed.add(decision.code)
        return decision

    for cluster in clusters:
        decision = decide(cluster)
        if decision.outcome == REJECTED and cluster.parts:
            # joined by similarity but rejected as a whole: each shape on its own may hold
            parts = [decide(part) for part in cluster.parts]
            if any(d.outcome != REJECTED for d in parts):
                report.decisions += parts
                continue
        report.decisions.append(decision)
    _hygiene(learned, learned_cards, traces, config, now, writes, report)
    report.embeddings = vectors.name
    if writer is not None:
        report.worded_by_llm = writer.written
        report.notes += writer.notes
    if vectors.note and config.embeddings:
        report.notes.append(vectors.note)
    return Plan(report, writes)


def _decide(cluster: Cluster, existing: Card | None, previous: dict[str, Any] | None,
            traces_by_code: dict[str, list[Trace]], used: set[str], guardrail: Guardrail,
            covering: Analyzer, others: list[Card], config: LearnConfig, now: float,
            writes: reinsert.Writes, vectors: CodeVectors | None = None,
            writer: CardWriter | None = None) -> Decision:
    ev = _evidence(cluster, existing, traces_by_code)
    acceptance = wilson_lower_bound(ev.positive, ev.positive + ev.negative, config.z)
    decision = Decision(cluster.library, cluster.key, len(cluster.examples), len(cluster.users),
                        ev.positive, ev.negative, acceptance, REJECTED)

    def reject(reason: str) -> Decision:
        decision.reason = reason
        return decision

    problem = support_problem(len(cluster.examples), len(cluster.users), config.min_traces,
                              config.min_users)
    if problem:
        return reject(problem)
    if acceptance < config.min_acceptance:
        return reject(f"acceptance lower bound {acceptance:.2f} (for {ev.positive:g}, against "
                      f"{ev.negative:g}) is under {config.min_acceptance:.2f}")
    if existing is not None and existing.status == "retired" and \
            existing.provenance.get("retired_reason") == "dropped":
        decision.code = existing.code
        return reject(f"dropped by an admin as {existing.code}")
    try:
        gen = generalize([e.site for e in cluster.examples])
    except CannotGeneralize as exc:
        return reject(f"cannot generalize: {exc}")
    decision.pattern, decision.template = " | ".join(gen.patterns), gen.template
    code = existing.code if existing is not None else next_code(used)
    status = "candidate"
    if existing is not None and existing.status in ("candidate", "curated"):
        status = existing.status
    if config.auto_promote and status == "candidate" and len(cluster.examples) >= \
            config.promote_min_traces and len(cluster.users) >= config.promote_min_users and \
            acceptance >= config.promote_min_acceptance:
        status = "curated"
    body = card_data(code, cluster, gen, status=status, now=now,
                     contradicting=int(ev.negative), acceptance=acceptance,
                     max_examples=config.max_examples, previous=previous)
    if status == "curated" and (existing is None or existing.status != "curated"):
        body["provenance"]["promoted_at"] = body["provenance"]["updated_at"]
        body["provenance"]["promoted_by"] = "auto"
    card, problems = card_from_dict(body, f"<learned {code}>")
    if card is None:
        return reject("invalid card: " + "; ".join(str(p) for p in problems[:3]))
    pairs = [e.pair for e in cluster.examples]
    failures = verify(card, pairs)
    if failures:
        more = f" (and {len(failures) - 3} more)" if len(failures) > 3 else ""
        return reject("verification failed: " + "; ".join(failures[:3]) + more)
    unsafe = guardrail.check(pairs, [(e.site.b_anchor.text(), e.site.a_anchor.text())
                                     for e in cluster.examples])
    if unsafe:
        return reject("guardrail: " + "; ".join(dict.fromkeys(unsafe)))
    duplicate = find_duplicate(card, [e.site for e in cluster.examples],
                               [c for c in others if existing is None or c.code != existing.code],
                               covering, vectors=vectors)
    if duplicate is not None:
        decision.outcome, decision.code = MERGED, duplicate.code
        decision.reason = f"duplicate of {duplicate.code}: {duplicate.why}"
        writes.evidence += [(duplicate.code, tid, "merged") for tid in cluster.trace_ids]
        return decision
    decision.code, decision.status = code, status
    decision.outcome = UPDATED if existing is not None else CREATED
    if writer is not None:
        body = writer.word(body, previous)
    writes.cards.append(body)
    writes.evidence += [(code, tid, "support") for tid in cluster.trace_ids]
    writes.evidence += [(code, tid, "contradict") for tid in ev.negative_ids]
    return decision


def _hygiene(bodies: list[dict[str, Any]], cards: list[Card], traces: list[Trace],
             config: LearnConfig, now: float, writes: reinsert.Writes,
             report: LearnReport) -> None:
    """Expire learned cards nobody confirms; narrow the versions of outdated ones."""
    written = {b["code"] for b in writes.cards}
    stats = card_stats(traces, now, config.trust)
    outdated = outdated_versions(traces)
    by_code = {b["code"]: b for b in bodies}
    for card in cards:
        if card.status == "retired" or card.code in written:
            continue
        body = json.loads(json.dumps(by_code[card.code]))
        if is_expired(card, stats.get(card.code), now, config.hygiene):
            body["status"] = "retired"
            body.setdefault("provenance", {})["retired_reason"] = "expired"
            why = f"nobody confirmed it in {config.hygiene.expire_days:g} days"
            report.retired.append((card.code, why))
            writes.cards.append(body)
            continue
        if card.code in outdated:
            narrowed = retire_from(card.libraries, outdated[card.code])
            if narrowed != card.libraries:
                body["libraries"] = narrowed
                report.narrowed.append((card.code, narrowed))
                writes.cards.append(body)


# -- with the knowledge base -------------------------------------------------------------------

def read_traces(con: duckdb.DuckDBPyConnection) -> list[Trace]:
    return [row_to_trace(r) for r in query_traces(con, newest_first=False).fetchall()]


def read_learned(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    return [json.loads(body) for (body,) in con.execute(
        "SELECT body FROM cards WHERE source = 'learned' ORDER BY code").fetchall()]


def read_overrides(con: duckdb.DuckDBPyConnection) -> dict[str, float]:
    """code -> since (outcomes before a restore do not count)."""
    if schema_version(con) < 3:
        return {}
    return dict(con.execute("SELECT code, since FROM card_overrides WHERE state = 'restored'"
                            ).fetchall())


def curated_cards(extra: list[str] | None = None) -> list[Card]:
    from spark_lsp.analysis import load_default_cards

    return load_default_cards(extra)[0]


def _writer(llm: LLMConfig | None) -> CardWriter | None:
    if llm is None:
        return None
    from spark_lsp.learning.wording import CardWriter

    return CardWriter(llm)


def learn(home: Path | None = None, *, config: LearnConfig | None = None, dry_run: bool = False,
          now: float | None = None, cards: list[Card] | None = None, timeout: float = 10.0,
          on_step: Callable[[str], None] | None = None,
          llm: LLMConfig | None = None) -> LearnReport:
    """Curate the team's traces into learned cards (see the module docstring).

    Not dry: merges pending journals, then plans and writes under the writers' lock, in one
    transaction; with `llm` (`[tool.spark.llm]`) the model words new cards. Dry: reads
    (database and unmerged journal lines), writes nothing and asks no model.
    """
    home = spark_home() if home is None else home
    config = config or LearnConfig.load(home)
    cards = curated_cards() if cards is None else cards
    path = kb_file(home)
    if dry_run:
        traces, learned, offsets = [], [], None
        con = open_readonly(path, timeout=timeout)
        if con is not None:
            try:
                with kb_errors(path):
                    offsets = {}
                    if schema_version(con):
                        traces, learned = read_traces(con), read_learned(con)
                        offsets = dict(con.execute(
                            'SELECT file, "offset" FROM journal_offsets').fetchall())
            finally:
                con.close()
        known = {t.id for t in traces}
        traces += [t for t in pending_traces(home, offsets)[0] if t.id not in known]
        plan = plan_learning(traces, cards, learned, config, now,
                             CodeVectors(home, model=config.embeddings, store=False))
        plan.report.dry_run = True
        return plan.report
    merge_journals(home, timeout=timeout)
    with writer_lock(home, timeout=timeout):
        con, applied = open_writer(path, timeout=timeout)
        try:
            with kb_errors(path):
                if applied:  # a new file: give it its cards as well
                    sync_seeds(con)
                plan = plan_learning(read_traces(con), cards, read_learned(con), config, now,
                                     CodeVectors(home, model=config.embeddings),
                                     _writer(llm))
                if plan.writes:
                    plan.report.run_id = reinsert.write(con, plan.writes, plan.report.to_dict(),
                                                        on_step=on_step)
                    plan.report.written = True
        finally:
            con.close()
    return plan.report
