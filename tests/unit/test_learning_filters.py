"""Filters: Wilson bound, support, guardrails run through the curated cards, duplicates."""

from __future__ import annotations

import pytest
from learning_fixtures import FEATURE_NAMES, POISON_EVAL, POISON_YAML, organic

from spark_lsp.analysis import load_default_cards
from spark_lsp.analysis.cards import Card
from spark_lsp.learning import plan_learning
from spark_lsp.learning.filters import (
    Guardrail,
    guardrail_cards,
    similarity,
    support_problem,
    wilson_lower_bound,
)


@pytest.fixture(scope="module")
def cards() -> list[Card]:
    return load_default_cards()[0]


def test_wilson_lower_bound():
    assert wilson_lower_bound(0, 0) == 0.0
    assert wilson_lower_bound(3, 3) == pytest.approx(0.5257, abs=1e-3)
    assert wilson_lower_bound(5, 10) == pytest.approx(0.2693, abs=1e-3)  # half and half
    assert wilson_lower_bound(80, 100) > wilson_lower_bound(8, 10) > wilson_lower_bound(4, 5)
    assert wilson_lower_bound(1, 1, z=1.96) == pytest.approx(0.2065, abs=1e-3)
    for pos, n in [(0, 5), (2, 7), (7, 7), (50, 51)]:
        assert 0.0 <= wilson_lower_bound(pos, n) <= pos / n


def test_support_needs_traces_and_people():
    assert support_problem(3, 2, 3, 2) is None
    assert "2 trace(s) from 2 user(s)" in support_problem(2, 2, 3, 2)
    assert support_problem(5, 1, 3, 2) is not None  # one person's habit


def test_the_guardrails_are_the_security_and_leakage_cards(cards):
    codes = {c.code for c in guardrail_cards(cards)}
    assert {"SPK030", "SPK031", "SPK032", "SPK033", "SPK042", "SPK043", "SPK037", "SPK038"} <= codes
    assert "SPK001" not in codes
    guard = Guardrail(cards)
    assert guard.introduced("c = yaml.safe_load(s)", "c = yaml.load(s, Loader=yaml.Loader)") == ["SPK031"]
    assert guard.introduced("v = ast.literal_eval(s)", "v = eval(s)") == ["SPK030"]
    # a window without its imports is read as if the module were imported
    assert guard.introduced("r = requests.get(u)", "r = requests.get(u, verify=False)") == ["SPK043"]
    assert guard.introduced("import subprocess\nsubprocess.run(['ls', d])",
                            "import subprocess\nsubprocess.run('ls ' + d, shell=True)") == ["SPK042"]
    # removing an unsafe practice is not introducing one
    assert guard.introduced("m = torch.load(p)", "m = torch.load(p, weights_only=True)") == []


def test_a_poisoned_candidate_is_rejected_by_the_cards(cards):
    traces = organic(POISON_YAML, "yaml", "6.0") + organic(POISON_EVAL, "python", "3.11")
    plan = plan_learning(traces, cards, [])
    rejected = {d.key: d for d in plan.report.decisions}
    assert len(rejected) == 2
    assert all(d.outcome == "rejected" and d.reason.startswith("guardrail") for d in rejected.values())
    reasons = " ".join(d.reason for d in rejected.values())
    assert "SPK031" in reasons and "SPK030" in reasons
    assert not plan.writes.cards  # nothing unsafe reaches the knowledge base


def test_a_new_guardrail_card_guards_the_learner_too(cards):
    """No word list: a rewrite is unsafe because a card says so. Without the security cards,
    the same poisoned cluster would pass; with a new card about `pickle.loads`, it does not."""
    traces = organic(POISON_YAML, "yaml", "6.0")
    safe = [c for c in cards if c.category != "security"]
    plan = plan_learning(traces, safe, [])
    assert [d.outcome for d in plan.report.decisions] == ["created"]


def test_duplicate_of_an_existing_card_merges_evidence(cards):
    # users fixing `.values` themselves: SPK001 already flags every before at the edit
    pairs = [("arr = df.values\n", "arr = df.to_numpy()\n", "ana"),
             ("m = frame.values\n", "m = frame.to_numpy()\n", "bo"),
             ("x = sales.values\n", "x = sales.to_numpy()\n", "cy")]
    prelude = "import pandas as pd\n" + "".join(f"{n} = pd.DataFrame({{'a': [1]}})\n"
                                                for n in ("df", "frame", "sales"))
    pairs = [(prelude + b, prelude + a, u) for b, a, u in pairs]
    traces = organic(pairs, "pandas", "3.1.1")
    plan = plan_learning(traces, cards, [])
    [d] = plan.report.decisions
    assert d.outcome == "merged" and d.code == "SPK001", d.reason
    assert {(code, rel) for code, _, rel in plan.writes.evidence} == {("SPK001", "merged")}
    assert len(plan.writes.evidence) == 3 and not plan.writes.cards


def test_learning_twice_updates_the_same_card(cards):
    traces = organic(FEATURE_NAMES)
    first = plan_learning(traces, cards, [])
    [body] = first.writes.cards
    assert body["code"] == "SPK5001" and body["status"] == "candidate"
    second = plan_learning(traces, cards, [body])
    [d] = second.report.decisions
    assert d.outcome == "updated" and d.code == "SPK5001"


def test_near_identical_patterns_are_similar_and_different_ones_are_not():
    assert similarity("$V1.get_feature_names => $V1.get_feature_names_out",
                      "$X.get_feature_names => $X.get_feature_names_out") == pytest.approx(1.0)
    assert similarity("np.float => float", "np.int => int") < 0.6


def test_a_competing_rewrite_of_flagged_code_is_kept(cards):
    """SPK001 flags `df.values` and rewrites it to `.to_numpy()`; a team that writes
    `np.asarray(df)` instead gets its own candidate, ranked by trust, not merged away."""
    prelude = "import pandas as pd\n" + "".join(f"{n} = pd.DataFrame({{'a': [1]}})\n"
                                                for n in ("df", "frame", "sales"))
    pairs = [(prelude + f"arr = {n}.values\n", prelude + f"arr = np.asarray({n})\n", u)
             for n, u in (("df", "ana"), ("frame", "bo"), ("sales", "cy"))]
    plan = plan_learning(organic(pairs, "pandas", "3.1.1"), cards, [])
    [d] = plan.report.decisions
    assert d.outcome == "created", d.reason
    assert d.template == "np.asarray($V1)"
