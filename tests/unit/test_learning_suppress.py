"""Memory hygiene: rejected suggestions stay hidden in their workspace (across line moves and
reformatting), repeatedly rejected cards are demoted then hidden and can be restored, learned
cards expire, `outdated` feedback retires a card from a version on."""

from __future__ import annotations

import time

import pytest
from learning_fixtures import DAY, FEATURE_NAMES, NOW, organic

from spark_lsp.analysis import AnalysisOptions, load_default_cards
from spark_lsp.kb.traces import Trace, TraceJournal
from spark_lsp.learning import plan_learning
from spark_lsp.learning.review import restore
from spark_lsp.learning.suppress import (
    HIDDEN,
    HINT,
    NORMAL,
    HygienePolicy,
    is_expired,
    outdated_versions,
    retire_from,
    visibility,
    workspace_id,
)
from spark_lsp.learning.team import load_team_state, state_from_traces, team_analyzer
from spark_lsp.learning.trust import card_stats

CODE = """import pandas as pd

sales = pd.read_csv("sales.csv")
matrix = sales.values
print(matrix.sum())
"""
MOVED = """import pandas as pd
import numpy as np


sales = pd.read_csv("sales.csv")
def total():
    return (sales
            .values).sum()
"""


@pytest.fixture(scope="module")
def cards():
    return load_default_cards()[0]


def analyzer_for(cards, traces, workspace="ws1"):
    team = state_from_traces(traces, workspace)
    return team_analyzer(cards, AnalysisOptions(), team)


def test_a_rejected_suggestion_is_not_shown_again_there(cards, tmp_path):
    plain = analyzer_for(cards, [])
    [finding] = [f for f in plain.analyze(CODE) if f.code == "SPK001"]
    rejected = Trace("rejected", "SPK001", fingerprint=finding.fingerprint, user="ana",
                     workspace=workspace_id(tmp_path))
    here = analyzer_for(cards, [rejected], workspace_id(tmp_path))
    assert not [f for f in here.analyze(CODE) if f.code == "SPK001"]
    # lines moved, re-indented, split over lines: the same suggestion, still not shown
    assert not [f for f in here.analyze(MOVED) if f.code == "SPK001"]
    # another workspace still sees it; so does other code in this one
    elsewhere = analyzer_for(cards, [rejected], workspace_id(tmp_path / "other"))
    assert [f for f in elsewhere.analyze(CODE) if f.code == "SPK001"]
    other = CODE.replace("matrix = sales.values", "matrix = sales.head().values")
    assert [f for f in here.analyze(other) if f.code == "SPK001"]


def test_a_second_copy_of_the_code_is_a_separate_suggestion(cards):
    plain = analyzer_for(cards, [])
    [first] = [f for f in plain.analyze(CODE) if f.code == "SPK001"]
    twice = CODE + "again = sales.values\n"
    found = [f for f in plain.analyze(twice) if f.code == "SPK001"]
    assert len(found) == 2 and found[0].fingerprint == first.fingerprint
    here = analyzer_for(cards, [Trace("rejected", "SPK001", fingerprint=first.fingerprint,
                                      workspace="ws1")])
    [left] = [f for f in here.analyze(twice) if f.code == "SPK001"]
    assert left.fingerprint == found[1].fingerprint


def test_demoted_then_hidden_then_restored(spark_home, cards):
    policy = HygienePolicy()
    journal = TraceJournal(spark_home)
    for i in range(policy.demote_after):
        journal.append(Trace("rejected", "SPK002", user=f"u{i}", ts=time.time() - 10))
    team = load_team_state(spark_home, "ws1")
    spk002 = next(c for c in cards if c.code == "SPK002")
    assert team.visibility(spk002) == HINT
    options = team.options(AnalysisOptions(), cards)
    assert options.severity["SPK002"] == "hint" and "SPK002" not in options.ignore
    for i in range(policy.hide_after - policy.demote_after):
        journal.append(Trace("rejected", "SPK002", user=f"v{i}", ts=time.time() - 10))
    team = load_team_state(spark_home, "ws1")
    assert team.visibility(spk002) == HIDDEN
    assert "SPK002" in team.options(AnalysisOptions(), cards).ignore
    restore("SPK002", spark_home)  # only outcomes from now on count
    assert load_team_state(spark_home, "ws1").visibility(spk002) == NORMAL


def test_one_accept_keeps_a_card_visible_but_low_trust_hides_it():
    stats = card_stats([Trace("rejected", "SPK002", ts=NOW)] * 8
                       + [Trace("accepted", "SPK002", ts=NOW)], NOW)["SPK002"]
    assert visibility(stats) == NORMAL
    assert visibility(stats, trust_score=0.1) == NORMAL  # 9 outcomes: not enough to hide
    stats = card_stats([Trace("rejected", "SPK002", ts=NOW)] * 12
                       + [Trace("accepted", "SPK002", ts=NOW)], NOW)["SPK002"]
    assert visibility(stats, trust_score=0.1) == HIDDEN


def test_learned_cards_nobody_confirms_expire(cards):
    old = NOW - 400 * DAY
    first = plan_learning(organic(FEATURE_NAMES, ts=old), cards, [], now=old)
    [body] = first.writes.cards
    later = plan_learning([], cards, [body], now=NOW)
    assert later.report.retired == [(body["code"], "nobody confirmed it in 180 days")]
    [retired] = later.writes.cards
    assert retired["status"] == "retired"
    assert retired["provenance"]["retired_reason"] == "expired"
    # an accept within the period keeps it
    confirmed = [Trace("accepted", body["code"], ts=NOW - 10 * DAY)]
    assert plan_learning(confirmed, cards, [body], now=NOW).report.retired == []
    from spark_lsp.analysis.cards import card_from_dict
    card, _ = card_from_dict(body)
    assert is_expired(card, None, NOW) and not is_expired(card, None, old + DAY)


def test_outdated_feedback_retires_the_card_for_that_version(cards):
    feedback = [Trace("outdated", "SPK005", versions={"pandas": "2.0.0"}, user="ana"),
                Trace("outdated", "SPK005", versions={"pandas": "3.1"}, user="bo")]
    assert outdated_versions(feedback) == {"SPK005": {"pandas": "2.0.0"}}
    assert retire_from({"pandas": ">=1.5"}, {"pandas": "2.0.0"}) == {"pandas": ">=1.5,<2.0.0"}
    team = state_from_traces(feedback, "ws1")
    spk005 = next(c for c in team.cards_for(cards) if c.code == "SPK005")
    assert not spk005.applies_to({"pandas": "2.1.0"})
    assert spk005.applies_to({"pandas": "1.5.3"})
    # learned cards get the narrowed range written by `spark learn`
    first = plan_learning(organic(FEATURE_NAMES), cards, [])
    [body] = first.writes.cards
    fb = [Trace("outdated", body["code"], versions={"sklearn": "1.9"}, ts=time.time())]
    later = plan_learning(fb, cards, [body])
    assert later.report.narrowed == [(body["code"], {"sklearn": ">=1.6.1,<1.9"})]
