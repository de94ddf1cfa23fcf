"""The team's experience in the language server's plain parts: hover text, traces carrying the
workspace, promoted learned cards in the analyzer."""

from __future__ import annotations

from learning_fixtures import FEATURE_NAMES, organic

from spark_lsp.analysis import AnalysisOptions, load_default_cards
from spark_lsp.kb.traces import Trace, TraceJournal
from spark_lsp.learning import learn
from spark_lsp.learning.review import promote
from spark_lsp.learning.team import load_team_state, team_analyzer
from spark_lsp.server.hover import hover_text
from spark_lsp.server.outcomes import OutcomeTracker

CODE = "import pandas as pd\nsales = pd.read_csv('s.csv')\nm = sales.values\n"


def test_hover_shows_the_teams_record(spark_home):
    cards, _ = load_default_cards()
    journal = TraceJournal(spark_home)
    for i in range(16):
        journal.append(Trace("accepted" if i < 14 else "rejected", "SPK001", user=f"u{i % 3}"))
    team = load_team_state(spark_home, "ws")
    [f] = [f for f in team_analyzer(cards, AnalysisOptions(), team).analyze(CODE)
           if f.code == "SPK001"]
    text = hover_text(f, next(c for c in cards if c.code == "SPK001"), CODE.splitlines(),
                      team_note=team.hover_note("SPK001"))
    assert "**Your team:** accepted 14 of 16 times by your team" in text
    assert "Your team" not in hover_text(f, None, CODE.splitlines())


def test_traces_carry_the_workspace():
    tracker = OutcomeTracker("file:///p/a.py", "vscode", workspace="abc123")
    trace = tracker.resolve("rejected", "SPK001", "fp", 3, "x", None)
    assert trace.workspace == "abc123" and trace.schema == 1


def test_promoted_learned_cards_reach_the_analyzer(spark_home):
    journal = TraceJournal(spark_home)
    for t in organic(FEATURE_NAMES):
        journal.append(t)
    learn(spark_home)
    code = "names = vectorizer.get_feature_names()\n"
    cards, _ = load_default_cards()
    team = load_team_state(spark_home, "ws")
    assert not team.learned  # a candidate is not shown until promoted
    promote("SPK5001", spark_home)
    team = load_team_state(spark_home, "ws")
    [f] = team_analyzer(cards, AnalysisOptions(), team).analyze(code)
    assert f.code == "SPK5001" and f.severity == "information"
    assert f.fix is not None and "get_feature_names_out" in f.fix.edits[0].content
