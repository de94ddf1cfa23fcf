"""Learned cards worded by the team's model when `[tool.spark.llm]` is configured, through a
real OpenAI-compatible HTTP server on 127.0.0.1; the template on errors and timeouts."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from learning_fixtures import FEATURE_NAMES, organic

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from openai_stub import completion, openai_stub

from spark_lsp.agent.llm import LLMConfig
from spark_lsp.analysis import load_default_cards
from spark_lsp.cli import cli
from spark_lsp.kb.traces import TraceJournal
from spark_lsp.learning import plan_learning
from spark_lsp.learning.review import list_learned
from spark_lsp.learning.wording import CardWriter

WORDED = {"title": "Call get_feature_names_out() on fitted vectorizers",
          "why": "scikit-learn renamed get_feature_names to get_feature_names_out; the old "
                 "name is gone in recent versions. Check the vectorizer is fitted."}
# a second rewrite, so that a run has two cards to word
ENCODER = [("enc = OneHotEncoder(sparse=False)\n", "enc = OneHotEncoder(sparse_output=False)\n",
            "ana"),
           ("oh = OneHotEncoder(handle_unknown='ignore', sparse=False)\n",
            "oh = OneHotEncoder(handle_unknown='ignore', sparse_output=False)\n", "bo"),
           ("e = OneHotEncoder(sparse=True)\n", "e = OneHotEncoder(sparse_output=True)\n", "cy")]


@pytest.fixture(scope="module")
def cards():
    return load_default_cards()[0]


def traces():
    return organic(FEATURE_NAMES) + organic(ENCODER)


def test_the_model_writes_title_and_why_the_facts_stay_the_templates(cards):
    with openai_stub(lambda body: (200, completion(json.dumps(WORDED)))) as stub:
        writer = CardWriter(LLMConfig(stub.base_url, "stub-model"))
        plan = plan_learning(organic(FEATURE_NAMES), cards, [], writer=writer)
    [body] = plan.writes.cards
    assert body["title"] == WORDED["title"]
    assert body["why"].startswith(WORDED["why"])
    assert "from 3 edit(s) by 3 people" in body["why"]  # counted by Spark, not the model
    assert body["provenance"]["wording"]["by"] == "llm"
    assert body["provenance"]["wording"]["model"] == "stub-model"
    assert plan.report.worded_by_llm == 1 and not plan.report.notes
    [request] = stub.requests
    assert request["response_format"]["json_schema"]["name"] == "spark_card_wording"
    sent = json.dumps(request)
    assert "get_feature_names_out" in sent and "$V1.get_feature_names" in sent

    # learning again with the same rewrite keeps the model's wording without asking again
    with openai_stub(lambda body: (500, {})) as stub:
        again = plan_learning(organic(FEATURE_NAMES), cards, [body],
                              writer=CardWriter(LLMConfig(stub.base_url, "stub-model")))
    [updated] = again.writes.cards
    assert updated["title"] == WORDED["title"] and stub.requests == []


def slow(body):
    time.sleep(3)
    return 200, completion(json.dumps(WORDED))


@pytest.mark.parametrize(("respond", "timeout", "reason"), [
    (lambda body: (500, {"error": {"message": "boom"}}), 10.0, "HTTP 500"),
    (slow, 0.5, "did not answer within 0.5 s"),
    (lambda body: (200, completion("a title, and why")), 10.0, "not JSON"),
    (lambda body: (200, completion(json.dumps({"title": "x", "why": "y"}))), 10.0, "schema"),
])
def test_errors_and_timeouts_keep_the_template_and_stop_asking(cards, respond, timeout, reason):
    with openai_stub(respond) as stub:
        writer = CardWriter(LLMConfig(stub.base_url, "stub-model", timeout=timeout))
        plan = plan_learning(traces(), cards, [], writer=writer)
        requests = len(stub.requests)
    assert len(plan.writes.cards) == 2, [d.reason for d in plan.report.decisions]
    for body in plan.writes.cards:
        assert body["title"].startswith("Learned: ")
        assert body["provenance"]["wording"] == {"by": "template"}
    assert requests == 1  # the second card did not wait for a failing endpoint again
    [note] = plan.report.notes
    assert reason in note and "template" in note


def test_spark_learn_uses_the_workspace_llm_setting(spark_home, tmp_path, monkeypatch, cards):
    journal = TraceJournal(spark_home)
    for t in organic(FEATURE_NAMES):
        journal.append(t)
    with openai_stub(lambda body: (200, completion(json.dumps(WORDED)))) as stub:
        (tmp_path / "pyproject.toml").write_text(
            f'[tool.spark.llm]\nbase_url = "{stub.base_url}"\nmodel = "team-model"\n',
            encoding="utf-8")
        monkeypatch.chdir(tmp_path)
        result = CliRunner().invoke(cli, ["learn", "--format", "json"], catch_exceptions=False)
        dry = CliRunner().invoke(cli, ["learn", "--dry-run"], catch_exceptions=False)
        asked = [r["model"] for r in stub.requests]
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["worded_by_llm"] == 1
    assert asked == ["team-model"]  # once, for the run that writes; a dry run asks nothing
    assert dry.exit_code == 0
    [item] = list_learned(spark_home)
    assert item.title == WORDED["title"]
