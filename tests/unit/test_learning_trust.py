"""Trust: a Beta posterior per card from accepts and rejects, decayed with age; severity and
hover text from it."""

from __future__ import annotations

import dataclasses

import pytest
from learning_fixtures import DAY, NOW

from spark_lsp.analysis import load_default_cards
from spark_lsp.kb.traces import Trace
from spark_lsp.learning.trust import (
    TrustPolicy,
    card_stats,
    hover_note,
    rank,
    severity_for,
    trust,
)


def outcomes(code: str, accepted: int, rejected: int, age_days: float = 0.0,
             user: str = "u") -> list[Trace]:
    ts = NOW - age_days * DAY
    return ([Trace("accepted", code, ts=ts, user=user) for _ in range(accepted)]
            + [Trace("rejected", code, ts=ts, user=user) for _ in range(rejected)])


@pytest.fixture(scope="module")
def card():
    cards, _ = load_default_cards()
    return next(c for c in cards if c.code == "SPK001")


def test_posterior_mean_with_priors():
    assert trust(None, "seed") == pytest.approx(3 / 4)  # Beta(3, 1)
    assert trust(None, "learned") == pytest.approx(1 / 2)  # Beta(1, 1)
    stats = card_stats(outcomes("SPK001", 14, 2), NOW)["SPK001"]
    assert trust(stats, "seed") == pytest.approx((3 + 14) / (3 + 1 + 16))
    assert trust(stats, "learned") == pytest.approx((1 + 14) / (2 + 16))


def test_old_outcomes_weigh_less():
    policy = TrustPolicy(half_life_days=30)
    fresh = card_stats(outcomes("SPK001", 0, 8), NOW, policy)["SPK001"]
    old = card_stats(outcomes("SPK001", 0, 8, age_days=60), NOW, policy)["SPK001"]
    assert old.weight_against == pytest.approx(8 * 0.25)  # two half-lives
    assert trust(old) > trust(fresh)
    assert old.rejected == fresh.rejected == 8  # counts stay what they were


def test_other_outcomes():
    traces = [Trace("corrected", "SPK001", ts=NOW), Trace("helpful", "SPK001", ts=NOW),
              Trace("wrong", "SPK001", ts=NOW), Trace("shown", "SPK001", ts=NOW)]
    stats = card_stats(traces, NOW)["SPK001"]
    assert (stats.weight_for, stats.weight_against) == (1.5, 1.0)
    assert stats.shown == 1 and stats.last_confirmed == NOW


def test_hover_counts_what_the_team_decided():
    stats = card_stats(outcomes("SPK001", 14, 2), NOW)["SPK001"]
    assert hover_note(stats) == "accepted 14 of 16 times by your team"
    assert hover_note(card_stats(outcomes("SPK001", 1, 0), NOW)["SPK001"]) == \
        "accepted 1 of 1 time by your team"
    assert hover_note(None) is None


def test_severity_follows_trust_once_there_is_evidence(card):
    card = dataclasses.replace(card, severity="warning")
    few = card_stats(outcomes("SPK001", 0, 2), NOW)["SPK001"]
    assert severity_for(card, few) == "warning"  # not enough evidence yet
    disliked = card_stats(outcomes("SPK001", 1, 9), NOW)["SPK001"]
    assert severity_for(card, disliked) == "hint"
    mixed = card_stats(outcomes("SPK001", 2, 6), NOW)["SPK001"]
    assert severity_for(card, mixed) == "information"
    loved = card_stats(outcomes("SPK001", 20, 0), NOW)["SPK001"]
    assert severity_for(card, loved) == "warning"  # never raised to error
    quiet = dataclasses.replace(card, severity="information")
    assert severity_for(quiet, loved) == "warning"  # raised one step


def test_rank_puts_trusted_advice_first(card):
    from spark_lsp.analysis import AnalysisOptions, Analyzer

    cards, _ = load_default_cards()
    text = "import pandas as pd\ndf = pd.DataFrame({'a': [1]})\nx = df.values\n" \
           "df.fillna(0, inplace=True)\n"
    findings = Analyzer(cards, AnalysisOptions()).analyze(text)
    assert [f.code for f in findings] == ["SPK001", "SPK002"]
    stats = card_stats(outcomes("SPK001", 0, 10) + outcomes("SPK002", 10, 0), NOW)
    assert [f.code for f in rank(findings, {c.code: c for c in cards}, stats)] == ["SPK002", "SPK001"]
