"""Explaining errors: cards first, then the installed versions' docs, then the team's traces;
the CLI (`spark explain-error`, in a subprocess), the MCP tool and the diagnostics entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from mcp import Client

from spark_lsp.agent import Agent, AgentInputError
from spark_lsp.agent.explain_error import as_python_error, explanation_markdown, explanation_text
from spark_lsp.agent.retrieve import forget_traces
from spark_lsp.config import Settings
from spark_lsp.kb.traces import Trace, TraceJournal
from spark_lsp.mcp import create_mcp_server

APPEND_CODE = textwrap.dedent("""\
    import pandas as pd

    def load(path):
        df = pd.read_csv(path)
        extra = pd.DataFrame({"a": [3]})
        df = df.append(extra, ignore_index=True)
        return df
    """)
APPEND_TB = textwrap.dedent("""\
    Traceback (most recent call last):
      File "/home/ana/report.py", line 9, in <module>
        load("a.csv")
      File "/home/ana/report.py", line 6, in load
        df = df.append(extra, ignore_index=True)
             ^^^^^^^^^
      File "/usr/lib/python3.11/site-packages/pandas/core/generic.py", line 6434, in __getattr__
        return object.__getattribute__(self, name)
    AttributeError: 'DataFrame' object has no attribute 'append'
    """)


@pytest.fixture(scope="module")
def agent() -> Agent:
    return Agent(use_settings_llm=False, docs_mode="bm25")


@pytest.fixture(autouse=True)
def fresh_traces():
    forget_traces()
    yield
    forget_traces()


def test_card_regex_names_cause_fix_version_and_sources(agent: Agent):
    exp = agent.explain_error(APPEND_TB, APPEND_CODE, "/home/ana/report.py")
    rec = exp.recommendation
    assert exp.explained and rec.code == "SPK004"
    assert rec.intent["error"]["cause"] == "removed-api"
    assert exp.location.line == 5 and exp.location.source.startswith("df = df.append(")
    # the card's rule fires on the failing line: its fix, with its range, comes along
    assert exp.finding is not None and exp.finding.code == "SPK004"
    assert exp.finding.span.start.line == 5 and exp.finding.fix.edits
    assert "pd.concat([df, extra], ignore_index=True)" in rec.example.after
    pandas = agent.versions["pandas"]
    assert any("removed in pandas 2.0" in c and f"you run pandas {pandas}" in c
               for c in rec.caveats)
    assert rec.sources["cards"][0]["code"] == "SPK004"
    text = explanation_text(exp)
    assert "Fix on line 6 (SPK004, unsafe)" in text and "Where: " in text
    assert explanation_markdown(exp).startswith("> Error: AttributeError")


def test_specific_card_ranks_above_generic_ones(agent: Agent):
    exp = agent.explain_error("NameError: name 'np' is not defined")
    assert [r.code for r in exp.recommendations[:2]] == ["SPK060", "SPK061"]
    exp = agent.explain_error("AttributeError: module 'numpy' has no attribute 'float'.")
    assert exp.recommendation.code == "SPK084"
    assert "SPK074" in [r.code for r in exp.recommendations]


def test_chained_exception_matches_its_cause(agent: Agent):
    tb = textwrap.dedent("""\
        Traceback (most recent call last):
          File "/home/ana/x.py", line 2, in <module>
            frame = pd.DataFrame({"a": [1]})["date"]
        KeyError: 'date'

        The above exception was the direct cause of the following exception:

        Traceback (most recent call last):
          File "/home/ana/x.py", line 4, in <module>
            raise RuntimeError("could not build the report")
        RuntimeError: could not build the report
        """)
    exp = agent.explain_error(tb)
    assert exp.recommendation.code == "SPK063"
    assert exp.recommendation.intent["error"]["type"] == "RuntimeError"


def test_version_context_says_when_the_installed_version_does_not_emit_it():
    old = Agent(Settings(versions={"pandas": "1.5.3"}), use_settings_llm=False)
    new = Agent(Settings(versions={"pandas": "3.1.1"}), use_settings_llm=False)
    warning = "/a.py:3: SettingWithCopyWarning: A value is trying to be set on a copy of a " \
              "slice from a DataFrame\n  df[m]['b'] = 0\n"
    caveat_old = old.explain_error(warning).recommendation.caveats[0]
    caveat_new = new.explain_error(warning).recommendation.caveats[0]
    assert "you run pandas 1.5.3." in caveat_old
    assert "you run pandas 3.1.1, which does not emit it" in caveat_new


def test_bare_warning_class_is_tied_to_the_code(agent: Agent):
    chained = "import pandas as pd\ndf = pd.DataFrame({'a': [1]})\ndf['a'].iloc[0] = 5\n"
    pinned = Agent(Settings(versions={"pandas": "2.2.3"}), use_settings_llm=False)
    exp = pinned.explain_error("FutureWarning", chained)
    assert exp.recommendation.code == "SPK003" and exp.finding is not None
    # without code, a bare FutureWarning says nothing specific
    assert not pinned.explain_error("FutureWarning").explained


def test_message_fragment_without_its_exception_line(agent: Agent):
    exp = agent.explain_error("Reshape your data either using array.reshape(-1, 1) if your data "
                              "has a single feature or array.reshape(1, -1) if it contains a "
                              "single sample.")
    assert exp.recommendation.code == "SPK070" and exp.error.truncated


@pytest.mark.parametrize("text, message", [
    (("Exception in thread \"main\" java.lang.IllegalStateException: x\n"
      "\tat a.B.c(B.java:1)\n"), "Java"),
    ("nothing went wrong here\n", "not a Python traceback"),
    ("KeyError: 'a'\n" * 200_000, "limit"),
    (5, "must be a string"),
])
def test_bad_input_is_a_clear_error(agent: Agent, text, message):
    with pytest.raises(AgentInputError, match=message):
        agent.explain_error(text)


def test_unknown_error_is_said_plainly(agent: Agent):
    exp = agent.explain_error("spark_test.WeirdFailure: the flux capacitor is empty")
    assert not exp.explained and exp.recommendation.title == "No explanation for WeirdFailure"


def test_team_traces_answer_when_nothing_else_does(spark_home: Path):
    TraceJournal(spark_home).append(Trace(
        outcome="accepted", code="SPK999", before="totals = summarize(frame, by='region')",
        after="totals = summarize(frame.dropna(), by='region')"))
    code = "frame = load()\ntotals = summarize(frame, by='region')\n"
    tb = ("Traceback (most recent call last):\n  File \"job.py\", line 2, in <module>\n"
          "    totals = summarize(frame, by='region')\nWeirdFailure: group empty\n")
    exp = Agent(use_settings_llm=False).explain_error(tb, code, "job.py")
    rec = exp.recommendation
    assert exp.explained and rec.sources["traces"][0]["outcome"] == "accepted"
    assert rec.example.after == "totals = summarize(frame.dropna(), by='region')"


@pytest.mark.parametrize("message, expected", [
    ('Cannot access attribute "append" for class "DataFrame"',
     "AttributeError: 'DataFrame' object has no attribute 'append'"),
    ('"DataFrame" has no attribute "append"  [attr-defined]',
     "AttributeError: 'DataFrame' object has no attribute 'append'"),
    ("Undefined name `np`", "NameError: name 'np' is not defined"),
    ('"np" is not defined', "NameError: name 'np' is not defined"),
    ('Import "statsmodels" could not be resolved', "ModuleNotFoundError: No module named 'statsmodels'"),
    ("Line too long (120 > 100)", ""),
])
def test_other_tools_wording_read_as_python_errors(message, expected):
    assert as_python_error(message) == expected


def test_diagnostic_of_another_server_on_a_line(agent: Agent):
    rec = agent.explain_diagnostic('Cannot access attribute "append" for class "DataFrame"',
                                   "Pylance", 5, APPEND_CODE)
    assert rec is not None and rec.code == "SPK004"
    assert rec.intent["diagnostic"]["source"] == "Pylance"
    assert "pd.concat" in rec.example.after
    assert agent.explain_diagnostic("Line too long (120 > 100)", "ruff", 0, APPEND_CODE) is None


# -- the CLI, in a subprocess -----------------------------------------------------------------------

def spark(*args: str, stdin: bytes | None = None, home: Path) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "SPARK_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "spark_lsp", "explain-error", *args],
                          input=stdin, capture_output=True, env=env, timeout=120, check=False)


@pytest.mark.slow
def test_cli_reads_stdin_file_and_code(tmp_path: Path, spark_home: Path):
    code = tmp_path / "report.py"
    code.write_text(APPEND_CODE)
    tb = tmp_path / "tb.txt"
    tb.write_bytes(b"\x1b[31m" + APPEND_TB.encode() + b"\x1b[0m")
    out = spark(str(tb), "--code", str(code), "--format", "json", home=spark_home)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["recommendation"]["code"] == "SPK004" and data["fix"]["code"] == "SPK004"
    assert data["location"]["line"] == 6 and data["explained"]
    piped = spark(home=spark_home, stdin=b"KeyError: 'date'\n")
    assert piped.returncode == 0 and b"SPK063" in piped.stdout
    dash = spark("-", "--format", "markdown", home=spark_home, stdin=b"KeyError: 'date'\n")
    assert dash.returncode == 0 and dash.stdout.startswith(b"> Error: KeyError")
    big = b"".join(b"step %d ok\n" % i for i in range(400_000)) + APPEND_TB.encode()
    tail = spark(home=spark_home, stdin=big)
    assert tail.returncode == 0 and b"SPK004" in tail.stdout and b"KiB" in tail.stdout


@pytest.mark.slow
def test_cli_bad_input_exits_2_or_1(tmp_path: Path, spark_home: Path):
    java = spark(home=spark_home, stdin=b'Exception in thread "main" java.lang.Error: x\n'
                                         b"\tat a.B.c(B.java:1)\n")
    assert java.returncode == 2 and b"Java" in java.stderr and not java.stdout
    missing = spark(str(tmp_path / "nope.txt"), home=spark_home)
    assert missing.returncode == 2 and b"cannot read" in missing.stderr
    unknown = spark(home=spark_home, stdin=b"acme.Failure: out of flux\n")
    assert unknown.returncode == 1 and b"No explanation for Failure" in unknown.stdout
    binary = tmp_path / "bad.py"
    binary.write_bytes(b"x = '\xff'\n")
    warned = spark("--code", str(binary), home=spark_home, stdin=b"KeyError: 'a'\n")
    assert warned.returncode == 0 and b"not valid UTF-8" in warned.stderr


# -- MCP -----------------------------------------------------------------------------------------

def payload(result) -> dict:
    if result.structured_content is not None:
        return result.structured_content
    return json.loads(result.content[0].text)


async def test_mcp_tool_explains_and_refuses_bad_input():
    async with Client(create_mcp_server()) as client:
        got = payload(await client.call_tool("explain_error", {
            "traceback": APPEND_TB, "code": APPEND_CODE}))
        assert got["recommendation"]["code"] == "SPK004" and got["fix"]["code"] == "SPK004"
        for args, message in [
            ({"traceback": "at com.a.B(B.java:3)\nException in thread \"main\" x"}, "Java"),
            ({"traceback": "x" * 1_000_001}, "limit"),
            ({"traceback": "KeyError: 'a'", "code": "x = 1\n" * 40_000}, "limit"),
            ({}, "traceback"),
        ]:
            result = await client.call_tool("explain_error", args)
            assert result.is_error and message in result.content[0].text
        assert "explain_error" in {t.name for t in (await client.list_tools()).tools}


# -- documentation of the installed versions -------------------------------------------------------

@pytest.fixture(scope="module")
def docs_home(tmp_path_factory):
    """A knowledge base with the docs of sparktinylib 1.0 (tests/docs_fixtures.py)."""
    from docs_fixtures import write_tiny_lib

    from spark_lsp.kb.docs_build import build_docs
    from spark_lsp.kb.store import ensure_kb

    root = tmp_path_factory.mktemp("libs")
    write_tiny_lib(root)
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), old]))
    try:
        home = tmp_path_factory.mktemp("docs-home")
        ensure_kb(home)
        build_docs(home, libraries=["sparktinylib"], progress=False)
    finally:
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old
    return home


@pytest.mark.slow
def test_docs_say_what_is_missing_and_what_changed(docs_home: Path):
    agent = Agent(Settings(versions={"sparktinylib": "1.0"}), home=docs_home,
                  use_settings_llm=False, docs_mode="bm25")
    exp = agent.explain_error("AttributeError: 'Frame' object has no attribute 'mergesort'")
    rec = exp.recommendation
    assert rec.title == "`sparktinylib.Frame.mergesort` does not exist in sparktinylib 1.0"
    assert rec.intent["error"]["cause"] == "removed-api"
    # the deprecation note of Frame.sort_values mentions it
    assert "sparktinylib.Frame.sort_values" in rec.why and "stable" in rec.why
    assert rec.sources["docs"][0]["object"] == "sparktinylib.Frame.sort_values"
    exp = agent.explain_error(
        "TypeError: Frame.sort_values() got an unexpected keyword argument 'order'")
    rec = exp.recommendation
    assert rec.title == "`sparktinylib.Frame.sort_values` in sparktinylib 1.0 takes no `order`"
    assert "kind='quicksort'" in rec.advice
    # the generic card is still offered, after the documented fact
    assert "SPK073" in [r.code for r in exp.recommendations]
