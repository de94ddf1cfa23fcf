"""The agent asks an OpenAI-compatible model only when configured, and falls back to its
template answer (saying so) when the endpoint hangs, errors, 429s or answers garbage."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from openai_stub import completion, openai_stub

from spark_lsp.agent import Agent
from spark_lsp.agent.llm import LLMConfig
from spark_lsp.config import Settings

CODE = ('import pandas as pd\nAPI_TOKEN = "abcd1234efgh5678ijkl"\n'
        'sales = pd.read_csv("s.csv")\nmatrix = sales.values\n')
GOOD = {"title": "Prefer to_numpy()", "advice": "Call sales.to_numpy().",
        "why": "pandas 3 documents DataFrame.to_numpy.", "after": "matrix = sales.to_numpy()",
        "caveats": ["none really"], "confidence": 0.8}


def agent_for(base_url: str, timeout: float = 10.0, key_env: str = "") -> Agent:
    settings = Settings(llm={"base_url": base_url, "model": "stub-model", "timeout": timeout,
                             "api_key_env": key_env})
    return Agent(settings)


def test_configured_model_answers_with_schema_and_redacted_code(monkeypatch):
    monkeypatch.setenv("STUB_KEY", "secret-key")
    with openai_stub(lambda body: (200, completion(json.dumps(GOOD)))) as stub:
        rec = agent_for(stub.base_url, key_env="STUB_KEY").recommend_at(CODE, 3)
    assert rec.synthesizer == "llm" and rec.title == "Prefer to_numpy()"
    assert rec.example.after == "matrix = sales.to_numpy()" and rec.example.origin == "llm"
    assert rec.sources["cards"][0]["code"] == "SPK001"  # sources stay Spark's own
    [request] = stub.requests
    assert request["model"] == "stub-model"
    assert request["response_format"]["type"] == "json_schema"
    assert "abcd1234efgh5678ijkl" not in json.dumps(request)  # redacted before sending


@pytest.mark.parametrize("name, respond, reason", [
    ("429", lambda b: (429, {"error": {"message": "slow down"}}), "429"),
    ("500", lambda b: (500, {"error": {"message": "boom"}}), "HTTP 500"),
    ("garbage", lambda b: (200, b"<html>not json"), "could not be read"),
    ("prose", lambda b: (200, completion("I think you should use to_numpy.")), "not JSON"),
    ("schema", lambda b: (200, completion(json.dumps({"title": "x"}))), "schema"),
])
def test_bad_endpoint_falls_back_to_the_template(name, respond, reason):
    with openai_stub(respond) as stub:
        rec = agent_for(stub.base_url).recommend_at(CODE, 3)
    assert rec.synthesizer == "template" and rec.code == "SPK001"
    assert rec.example.after == "matrix = sales.to_numpy()"
    assert any(reason in n and "offline answer" in n for n in rec.notes), rec.notes


def test_hanging_endpoint_times_out_and_falls_back():
    def hang(body):
        time.sleep(3)
        return 200, completion(json.dumps(GOOD))

    with openai_stub(hang) as stub:
        started = time.perf_counter()
        rec = agent_for(stub.base_url, timeout=0.5).recommend_at(CODE, 3)
        elapsed = time.perf_counter() - started
    assert elapsed < 2.5 and rec.synthesizer == "template"
    assert any("did not answer within 0.5 s" in n for n in rec.notes)


def test_example_that_does_not_parse_is_not_shown():
    bad = dict(GOOD, after="matrix = sales.to_numpy(")
    with openai_stub(lambda body: (200, completion(json.dumps(bad)))) as stub:
        rec = agent_for(stub.base_url).recommend_at(CODE, 3)
    assert rec.synthesizer == "llm" and rec.example.after == "matrix = sales.to_numpy()"
    assert any("does not parse" in n for n in rec.notes)


def test_missing_key_variable_is_a_fallback_not_a_request(monkeypatch):
    monkeypatch.delenv("NO_SUCH_KEY", raising=False)
    with openai_stub(lambda body: (200, completion(json.dumps(GOOD)))) as stub:
        rec = agent_for(stub.base_url, key_env="NO_SUCH_KEY").recommend_at(CODE, 3)
    assert stub.requests == [] and any("NO_SUCH_KEY" in n for n in rec.notes)


def test_nothing_is_sent_without_configuration():
    with openai_stub(lambda body: (200, completion(json.dumps(GOOD)))) as stub:
        rec = Agent(Settings()).recommend_at(CODE, 3)
    assert stub.requests == [] and rec.synthesizer == "template"
    assert LLMConfig.from_settings({}) is None and LLMConfig.from_settings({"model": "m"}) is None
