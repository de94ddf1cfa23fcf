"""What the team's experience changes in what one workspace is shown — for the language server
(and anything else that shows findings), without LSP types.

`load_team_state` reads the knowledge base (read-only, briefly) and the journal lines not merged
yet: outcomes per card, the suggestions rejected in this workspace, the learned cards the team
promoted, and `outdated` feedback. `TeamState` turns that into analysis options (severity from
trust, demoted cards as hints, hidden cards ignored), a filter for rejected suggestions, adjusted
card version ranges, and hover text.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from spark_lsp.analysis.cards import Card, card_from_dict
from spark_lsp.analysis.engine import AnalysisOptions, Analyzer
from spark_lsp.analysis.findings import Finding
from spark_lsp.kb.db import KBError, kb_file, open_readonly
from spark_lsp.kb.merge import pending_traces
from spark_lsp.kb.migrate import schema_version
from spark_lsp.kb.traces import Trace
from spark_lsp.learning.config import LearnConfig
from spark_lsp.learning.suppress import (
    HIDDEN,
    HINT,
    outdated_versions,
    rejected_fingerprints,
    retire_from,
    visibility,
)
from spark_lsp.learning.trust import CardStats, card_source, card_stats, hover_note, severity_for
from spark_lsp.learning.trust import trust as trust_of

log = logging.getLogger(__name__)

# Columns of the traces that move trust (`shown` traces are many and only counted).
_DECIDING = ("accepted", "rejected", "corrected", "helpful", "wrong", "outdated")


@dataclass
class TeamState:
    workspace: str = ""
    stats: dict[str, CardStats] = field(default_factory=dict)
    rejected: set[str] = field(default_factory=set)  # fingerprints rejected in this workspace
    learned: list[Card] = field(default_factory=list)  # promoted learned cards
    outdated: dict[str, dict[str, str]] = field(default_factory=dict)
    config: LearnConfig = field(default_factory=LearnConfig)

    # -- what a card looks like to this team ---------------------------------------------------
    def visibility(self, card: Card) -> str:
        stats = self.stats.get(card.code)
        return visibility(stats, self.config.hygiene, trust_of(stats, card_source(card)))

    def severity(self, card: Card) -> str:
        if self.visibility(card) == HINT:
            return "hint"
        return severity_for(card, self.stats.get(card.code), self.config.trust)

    def hover_note(self, code: str) -> str | None:
        return hover_note(self.stats.get(code))

    def cards_for(self, cards: Iterable[Card]) -> list[Card]:
        """The cards plus the team's promoted learned ones, version ranges cut where the team
        reported a card outdated."""
        out = []
        codes = set()
        for card in [*cards, *self.learned]:
            if card.code in codes:
                continue
            codes.add(card.code)
            if card.code in self.outdated:
                narrowed = retire_from(card.libraries, self.outdated[card.code])
                if narrowed != card.libraries:
                    card = replace(card, libraries=narrowed)
            out.append(card)
        return out

    def options(self, base: AnalysisOptions, cards: Iterable[Card]) -> AnalysisOptions:
        """`base` with the team's severities (below the user's own per-code choices; none when
        the user set one for every code) and its hidden cards ignored."""
        severity = dict(base.severity)
        ignore = set(base.ignore)
        for card in cards:
            if self.visibility(card) == HIDDEN:
                ignore.add(card.code)
                continue
            if "*" in base.severity or card.code in base.severity:
                continue
            chosen = self.severity(card)
            if chosen != card.severity:
                severity[card.code] = chosen
        return replace(base, severity=severity, ignore=ignore)

    # -- rejected suggestions -----------------------------------------------------------------
    def reject(self, fingerprint: str) -> None:
        if fingerprint:
            self.rejected.add(fingerprint)

    def hides(self, finding: Finding) -> bool:
        return finding.fingerprint in self.rejected


class TeamAnalyzer(Analyzer):
    """An Analyzer that leaves out the suggestions the team rejected in this workspace."""

    def __init__(self, cards: Iterable[Card], options: AnalysisOptions | None = None,
                 team: TeamState | None = None) -> None:
        super().__init__(cards, options)
        self.team = team or TeamState()

    def analyze(self, text: str, filename: str = "") -> list[Finding]:
        return [f for f in super().analyze(text, filename) if not self.team.hides(f)]


def team_analyzer(cards: Iterable[Card], options: AnalysisOptions, team: TeamState
                  ) -> TeamAnalyzer:
    cards = team.cards_for(cards)
    return TeamAnalyzer(cards, team.options(options, cards), team)


def state_from_traces(traces: Iterable[Trace], workspace: str, learned: list[Card] | None = None,
                      config: LearnConfig | None = None, now: float | None = None,
                      since: dict[str, float] | None = None) -> TeamState:
    traces = list(traces)
    config = config or LearnConfig()
    return TeamState(workspace, card_stats(traces, now, config.trust, since),
                     rejected_fingerprints(traces, workspace), list(learned or []),
                     outdated_versions(traces), config)


def load_team_state(home: Path, workspace: str, *, config: LearnConfig | None = None,
                    timeout: float = 0.5, now: float | None = None) -> TeamState:
    """The team's state from the knowledge base and unmerged journals; an empty state (logged)
    when the file is missing, busy or unreadable: the editor keeps working without it."""
    from spark_lsp.learning.curate import read_overrides

    config = config or LearnConfig.load(home)
    now = time.time() if now is None else now
    path = kb_file(home)
    traces: list[Trace] = []
    learned: list[Card] = []
    since: dict[str, float] = {}
    shown: dict[str, int] = {}
    offsets: dict[str, int] | None = None
    try:
        con = open_readonly(path, timeout=timeout)
    except KBError as exc:
        log.warning("team experience not loaded: %s", exc)
        con = None
    if con is not None:
        try:
            if schema_version(con) >= 3:
                rows = con.execute(
                    """SELECT id, ts, code, outcome, fingerprint, versions, "user",
                              coalesce(workspace, '')
                       FROM traces WHERE list_contains(?, outcome)""",
                    [list(_DECIDING)]).fetchall()
                traces = [Trace(outcome=o, code=c, id=i, ts=ts, fingerprint=fp,
                                versions=json.loads(v), user=u, workspace=w)
                          for i, ts, c, o, fp, v, u, w in rows]
                shown = dict(con.execute("SELECT code, count(*) FROM traces "
                                         "WHERE outcome = 'shown' GROUP BY code").fetchall())
                since = read_overrides(con)
                for (body,) in con.execute("SELECT body FROM cards WHERE source = 'learned' "
                                           "AND status = 'curated'").fetchall():
                    card, _ = card_from_dict(json.loads(body), "<learned>")
                    if card is not None:
                        learned.append(card)
            offsets = dict(con.execute('SELECT file, "offset" FROM journal_offsets').fetchall())
        except Exception as exc:  # noqa: BLE001 - never keep the editor from starting
            log.warning("team experience not loaded from %s: %s", path, exc)
        finally:
            con.close()
    try:
        known = {t.id for t in traces}
        traces += [t for t in pending_traces(home, offsets)[0] if t.id not in known]
    except OSError as exc:
        log.warning("unmerged traces not read: %s", exc)
    state = state_from_traces(traces, workspace, learned, config, now, since)
    for code, n in shown.items():
        state.stats.setdefault(code, CardStats(code)).shown += n
    return state
