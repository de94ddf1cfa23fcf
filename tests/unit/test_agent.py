"""The retrieval agent on real code: intent, cards, traces, tailored examples, bad input."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from spark_lsp.agent import Agent, AgentInputError, render_markdown, render_text
from spark_lsp.agent.feedback import insights_file, record_outcome, share_insight
from spark_lsp.agent.intent import infer_intent
from spark_lsp.agent.redact import redact
from spark_lsp.agent.retrieve import forget_traces
from spark_lsp.cli import cli
from spark_lsp.kb.traces import Trace, TraceJournal

CODE = """import pandas as pd
import numpy as np

# monthly sales per region
sales = pd.read_csv("sales.csv")
sales = sales.append({"region": "north", "price": 3}, ignore_index=True)
matrix = sales.values
top = np.argsort(sales["price"].to_numpy())[-3:]
"""


@pytest.fixture(scope="module")
def agent() -> Agent:
    return Agent()


@pytest.fixture(autouse=True)
def fresh_traces():
    forget_traces()
    yield
    forget_traces()


def test_intent_reads_libraries_objects_calls_and_task():
    intent = infer_intent(CODE, 7, versions={"pandas": "3.0.0", "numpy": "2.0.0"})
    assert intent.libraries == {"pandas": "3.0.0", "numpy": "2.0.0"}
    assert {"name": "sales", "type": "pandas.DataFrame", "library": "pandas"} in [
        vars(o) for o in intent.objects]
    assert "numpy.argsort" in intent.calls and "pandas.read_csv" in intent.calls
    assert intent.comments == ["monthly sales per region"]
    assert intent.task == "indexing"
    assert "price" in intent.columns and "top" in intent.names


def test_dask_and_estimator_objects_are_told_apart():
    code = ("import dask.dataframe as dd\nfrom sklearn.linear_model import LinearRegression\n"
            "ddf = dd.read_csv('x-*.csv')\nmodel = LinearRegression()\nmodel.fit(X, y)\n")
    intent = infer_intent(code, 4)
    types_ = {o.name: o.type for o in intent.objects}
    assert types_["ddf"].startswith("dask.") and types_["model"] == "sklearn.Estimator"
    assert intent.task == "training"


def test_finding_recommendation_uses_the_users_names(agent: Agent):
    rec = agent.recommend_at(CODE, 6)
    assert rec.code == "SPK001" and rec.id.startswith("SPK001-")
    assert rec.example.before == "matrix = sales.values"
    assert rec.example.after == "matrix = sales.to_numpy()"
    assert rec.example.uses_user_names and rec.example.origin == "fix"
    assert rec.sources["cards"][0]["code"] == "SPK001"
    assert any("pandas" in c for c in rec.caveats) and 0.5 < rec.confidence <= 0.99
    md = render_markdown(rec)
    assert "### Use .to_numpy()" in md and "```python\nmatrix = sales.to_numpy()\n```" in md
    assert "**Why:**" in md and "SPK001" in md
    assert "After:" in render_text(rec)


def test_unsafe_fix_is_tailored_and_says_behaviour_may_change(agent: Agent):
    rec = agent.recommend_at(CODE, 5)
    assert rec.code == "SPK004"
    ast.parse(rec.example.after)
    assert "pd.concat([sales" in rec.example.after
    assert any("change behaviour" in c for c in rec.caveats)


def test_card_example_is_renamed_to_the_users_names(agent: Agent):
    rec = agent.recommend_task("should I use .values or to_numpy on my frame?",
                               "import pandas as pd\norders = pd.read_csv('o.csv')\n"
                               "print(orders['amount'])\n")
    assert rec.code == "SPK001"
    ast.parse(rec.example.after)
    assert "orders" in rec.example.after and rec.example.origin == "card-renamed"


def test_half_typed_position_answers(agent: Agent):
    text = "import pandas as pd\nsales = pd.read_csv('s.csv')\ntotals = sales.groupby(\n"
    rec = agent.recommend_at(text, 2)
    assert rec.title and rec.intent["libraries"]["pandas"]
    assert rec.example.after == "" or ast.parse(rec.example.after)


def test_unknown_library_is_a_caveat(agent: Agent):
    rec = agent.recommend_at("import frobnicate as fb\nx = fb.load('a')\n", 1)
    assert rec.intent["libraries"] == {"frobnicate": None}
    assert any("frobnicate" in c and "not installed" in c for c in rec.caveats)


def test_empty_kb_is_a_note_not_an_error(agent: Agent, spark_home: Path):
    rec = agent.recommend_task("how do I group by a column and sum in pandas")
    assert rec.sources["docs"] == []
    assert any("documentation not searched" in n for n in rec.notes)
    assert "spark kb build" in rec.advice or rec.code


def test_answers_are_cached_by_window_and_context(agent: Agent):
    first = agent.recommend_at(CODE, 6)
    assert agent.recommend_at(CODE, 6) is first
    assert agent.recommend_at(CODE + "\n# more\n", 6) is not first  # another window


def test_similar_past_traces_are_sources(spark_home: Path):
    journal = TraceJournal(spark_home)
    journal.append(Trace(outcome="rejected", code="SPK001", before="arr = frame.values",
                         after="arr = frame.values"))
    journal.append(Trace(outcome="accepted", code="SPK009", before="np.sort(x)", after="y"))
    rec = Agent().recommend_at(CODE, 6)
    traces = rec.sources["traces"]
    assert [t["code"] for t in traces] == ["SPK001"] and traces[0]["outcome"] == "rejected"
    assert any("rejected" in c for c in rec.caveats)


def test_bad_input_is_a_clear_error(agent: Agent):
    with pytest.raises(AgentInputError, match="limit"):
        agent.recommend_at("x = 1\n" * 40_000, 0)
    with pytest.raises(AgentInputError, match="non-empty"):
        agent.recommend_task("   ")
    rec = agent.recommend_at("x = 1\n", 500)  # past the end: the last line
    assert rec.title


def test_local_redactor_alone_masks_secrets():
    from spark_lsp.agent.redact import _local_redact

    out = _local_redact('key = "sk-abcdefghijklmnopqrstuvwx"\nu = "https://me:pw1234@h/x"\n')
    assert "abcdefghijklmnopqrstuvwx" not in out and "pw1234" not in out


def test_redaction_masks_secrets():
    code = ('API_KEY = "sk-abcdefghijklmnopqrstuvwx"\npassword="hunter22"\n'
            'url = "postgres://bob:s3cret@db/x"\nheaders = {"Authorization": "Bearer abcdefghijklmnop"}\n')
    out = redact(code)
    for secret in ("sk-abcdefghijklmnopqrstuvwx", "hunter22", "s3cret", "abcdefghijklmnop"):
        assert secret not in out
    assert "API_KEY" in out and "postgres://" in out and "<redacted" in out


def test_record_outcome_and_share_insight(spark_home: Path):
    trace = record_outcome(spark_home, "SPK001-abcdef123456", "accepted", "x = df.to_numpy()")
    assert trace.outcome == "corrected" and trace.code == "SPK001"
    lines = "".join(p.read_text() for p in (spark_home / "journal").glob("*.jsonl"))
    assert "SPK001-abcdef123456" in lines
    with pytest.raises(ValueError, match="outcome"):
        record_outcome(spark_home, "SPK001-abcdef123456", "maybe")
    with pytest.raises(ValueError, match="recommendation id"):
        record_outcome(spark_home, "../etc", "accepted")
    result = share_insight(spark_home, "Use pd.NA", "Prefer pd.NA", 'token = "abcdefgh1234"',
                           ["pandas"])
    assert result["status"] == "candidate"
    [row] = [json.loads(x) for x in insights_file(spark_home).read_text().splitlines()]
    assert row["status"] == "candidate" and "abcdefgh1234" not in row["example"]
    with pytest.raises(ValueError):
        share_insight(spark_home, "", "a", "b", ["pandas"])


def test_cli_ask_file_line_and_question(tmp_path: Path):
    path = tmp_path / "report.py"
    path.write_text(CODE)
    runner = CliRunner()
    result = runner.invoke(cli, ["ask", f"{path}:7", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["code"] == "SPK001" and data["example"]["after"] == "matrix = sales.to_numpy()"
    result = runner.invoke(cli, ["ask", f"{path}:7", "--format", "markdown"])
    assert result.exit_code == 0 and result.output.startswith("### ")
    result = runner.invoke(cli, ["ask", "how do I sort values stably in pandas"])
    assert result.exit_code == 0 and "Confidence:" in result.output
    result = runner.invoke(cli, ["ask", f"{path}:99"])
    assert result.exit_code == 2 and "outside" in result.output
    result = runner.invoke(cli, ["ask", f"{tmp_path / 'missing.py'}:1"])
    assert result.exit_code == 2 and "cannot read" in result.output
