"""`spark traces import`, `spark learn`, `spark cards review`: through click's CliRunner on real
DuckDB files; bad trace lines (malformed, duplicate, unknown schema) and bad edits."""

from __future__ import annotations

import json

import duckdb
from click.testing import CliRunner
from learning_fixtures import FEATURE_NAMES, POISON_EVAL, organic

from spark_lsp.cli import cli
from spark_lsp.kb.db import kb_file
from spark_lsp.kb.trace_import import import_traces
from spark_lsp.kb.traces import TRACE_SCHEMA_VERSION, Trace, TraceJournal


def run(*args, input=None):
    return CliRunner().invoke(cli, [str(a) for a in args], input=input, catch_exceptions=False)


def count(home, sql):
    con = duckdb.connect(str(kb_file(home)), read_only=True)
    try:
        return con.execute(sql).fetchone()[0]
    finally:
        con.close()


def write_jsonl(path, traces, extra=()):
    path.write_text("".join(t.to_json() + "\n" for t in traces) + "".join(e + "\n" for e in extra),
                    encoding="utf-8")
    return path


def test_new_outcomes_and_schema_versions():
    assert Trace("shown", "SPK001").schema == 1  # older Sparks still read these
    assert Trace("organic", "").schema == 2
    assert Trace("outdated", "SPK005", versions={"pandas": "3.0"}).schema == 2
    assert TRACE_SCHEMA_VERSION == 2


def test_import_skips_malformed_duplicate_and_newer_lines(spark_home, tmp_path):
    good = organic(FEATURE_NAMES)
    bad = ["not json", json.dumps({"outcome": "organic", "code": "", "ts": 1.0}),  # no id
           json.dumps({**json.loads(good[0].to_json()), "id": "n1", "outcome": "maybe"}),
           json.dumps({**json.loads(good[0].to_json()), "id": "n2",
                       "schema": TRACE_SCHEMA_VERSION + 1}),
           good[1].to_json()]  # the same trace twice
    path = write_jsonl(tmp_path / "traces.jsonl", good, bad)
    result = run("traces", "import", path)
    assert result.exit_code == 1  # some lines were bad
    assert "imported 3 new trace(s) from 8 line(s); 1 duplicate(s) skipped, 3 malformed, " \
           "1 from a newer Spark" in result.stdout
    assert f"{path}:6: " in result.stderr and "unknown outcome" in result.stderr
    assert f"trace schema {TRACE_SCHEMA_VERSION + 1} is newer" in result.stderr
    assert count(spark_home, "SELECT count(*) FROM traces") == 3
    again = run("traces", "import", write_jsonl(tmp_path / "again.jsonl", good))
    assert again.exit_code == 0 and "imported 0 new trace(s) from 3 line(s); 3 duplicate" in again.stdout


def test_import_strict_refuses_the_whole_file(spark_home, tmp_path):
    path = write_jsonl(tmp_path / "t.jsonl", organic(FEATURE_NAMES), ["{broken"])
    result = run("traces", "import", "--strict", path)
    assert result.exit_code == 2 and "nothing imported" in result.stderr
    assert not kb_file(spark_home).exists()


def test_export_then_import_round_trips(spark_home, tmp_path):
    journal = TraceJournal(spark_home)
    for t in organic(FEATURE_NAMES) + [Trace("helpful", "SPK001", workspace="w1")]:
        journal.append(t)
    exported = tmp_path / "out.jsonl"
    assert run("traces", "export", "-o", exported).exit_code == 0
    other = tmp_path / "other-home"
    report = import_traces(exported.read_bytes().splitlines(), other)
    assert (report.inserted, report.bad) == (4, 0)
    lines = [json.loads(x) for x in exported.read_text().splitlines()]
    assert {x["workspace"] for x in lines} == {"", "w1"}


def test_learn_and_review_from_the_command_line(spark_home, tmp_path):
    write_jsonl(tmp_path / "t.jsonl", organic(FEATURE_NAMES) + organic(POISON_EVAL, "python"))
    assert run("traces", "import", tmp_path / "t.jsonl").exit_code == 0
    dry = run("learn", "--dry-run")
    assert dry.exit_code == 0 and "dry run: nothing written" in dry.stdout
    assert "+ created  SPK5001" in dry.stdout and "guardrail" in dry.stdout
    data = json.loads(run("learn", "--format", "json").stdout)
    assert sorted(d["outcome"] for d in data["decisions"]) == ["created", "rejected"]
    listing = run("cards", "review")
    assert "SPK5001  candidate" in listing.stdout and "$V1.get_feature_names" in listing.stdout
    assert run("cards", "review", "--promote", "SPK5001").exit_code == 0
    assert count(spark_home, "SELECT status FROM cards WHERE code = 'SPK5001'") == "curated"

    # an edit must stay a valid card that reproduces its examples
    [item] = json.loads(run("cards", "review", "--format", "json").stdout)
    bad = run("cards", "review", "--edit", "SPK5001", "--file", "-",
              input="code: SPK5001\ntitle: too short\n")
    assert bad.exit_code == 2 and "not valid" in bad.stderr
    from spark_lsp.learning.review import card_yaml, list_learned
    current = list_learned(spark_home)[0].body
    wrong = dict(current, fix={**current["fix"], "template": "$V1.feature_names_in_"})
    result = run("cards", "review", "--edit", "SPK5001", "--file", "-", input=card_yaml(wrong))
    assert result.exit_code == 2 and "does not reproduce its examples" in result.stderr
    titled = dict(current, title="Use get_feature_names_out (scikit-learn 1.2+)")
    assert run("cards", "review", "--edit", "SPK5001", "--file", "-",
               input=card_yaml(titled)).exit_code == 0
    assert list_learned(spark_home)[0].title == titled["title"]

    assert run("cards", "review", "--drop", "SPK5001").exit_code == 0
    assert run("cards", "review").stdout.startswith("no learned cards")
    assert "dropped" in run("cards", "review", "--all").stdout
    # a dropped card is not proposed again
    again = json.loads(run("learn", "--format", "json").stdout)
    assert any("dropped by an admin" in d["reason"] for d in again["decisions"])
    assert run("cards", "review", "--restore", "SPK5001").exit_code == 0
    assert "SPK5001  candidate" in run("cards", "review").stdout
    missing = run("cards", "review", "--promote", "SPK001")
    assert missing.exit_code == 2 and "seed card" in missing.stderr
    assert item["code"] == "SPK5001"
