"""`spark learn` on real DuckDB files: candidates with provenance, one transaction, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import duckdb
import pytest
from learning_fixtures import FEATURE_NAMES, POISON_YAML, organic

from spark_lsp.kb.db import kb_file
from spark_lsp.kb.traces import Trace, TraceJournal
from spark_lsp.learning import learn
from spark_lsp.learning.review import list_learned


def record(home, traces):
    journal = TraceJournal(home)
    for t in traces:
        journal.append(t)


def rows(home, sql):
    con = duckdb.connect(str(kb_file(home)), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_learn_creates_a_candidate_with_provenance(spark_home):
    traces = organic(FEATURE_NAMES) + organic(POISON_YAML, "yaml", "6.0")
    record(spark_home, traces)
    report = learn(spark_home)
    assert report.written and report.count("created") == 1 and report.count("rejected") == 1
    [(code, status, _source, body)] = rows(
        spark_home, "SELECT code, status, source, body FROM cards WHERE source = 'learned'")
    body = json.loads(body)
    assert (code, status) == ("SPK5001", "candidate")
    prov = body["provenance"]
    assert prov["trace_ids"] == [t.id for t in traces[:3]]
    assert prov["users"] == 3 and prov["user_ids"] == ["ana", "bo", "cy"]
    assert prov["versions"] == {"sklearn": ["1.6.1"]} and prov["first_seen"] and prov["last_seen"]
    assert body["libraries"] == {"sklearn": ">=1.6.1"}
    assert rows(spark_home, "SELECT count(*), min(relation) FROM card_evidence") == [(3, "support")]
    assert rows(spark_home, "SELECT count(*) FROM learning_runs") == [(1,)]
    [item] = list_learned(spark_home)
    assert item.code == "SPK5001" and item.support == 3
    # learning again changes nothing new
    again = learn(spark_home)
    assert again.count("updated") == 1 and again.count("created") == 0


def test_dry_run_writes_nothing(spark_home):
    record(spark_home, organic(FEATURE_NAMES))
    report = learn(spark_home, dry_run=True)
    assert report.dry_run and report.count("created") == 1 and not report.written
    assert not kb_file(spark_home).exists()


def test_curation_is_one_transaction(spark_home):
    record(spark_home, organic(FEATURE_NAMES) + organic([
        (b.replace("names", "n2"), a.replace("names", "n2"), u) for b, a, u in
        [("y = np.float(x)\n", "y = float(x)\n", "ana"), ("z = np.float(a)\n", "z = float(a)\n", "bo"),
         ("w = np.float(3)\n", "w = float(3)\n", "cy")]], "numpy", "1.26.0"))
    steps = []

    def fail_after_first_card(what: str) -> None:
        steps.append(what)
        if what.startswith("card"):
            raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        learn(spark_home, on_step=fail_after_first_card)
    assert steps == ["card SPK5001"]
    for table in ("card_evidence", "learning_runs"):
        assert rows(spark_home, f"SELECT count(*) FROM {table}") == [(0,)]
    assert rows(spark_home, "SELECT count(*) FROM cards WHERE source = 'learned'") == [(0,)]
    assert learn(spark_home).count("created") == 2  # and the next run does it all


def test_a_process_killed_mid_curation_leaves_nothing_half_written(spark_home):
    record(spark_home, organic(FEATURE_NAMES))
    script = textwrap.dedent(f"""
        import os
        from pathlib import Path
        from spark_lsp.learning import learn

        def die(what):
            if what.startswith("card"):
                os._exit(9)  # no rollback, no close: as if killed
        learn(Path({str(spark_home)!r}), on_step=die)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 9, proc.stderr
    assert rows(spark_home, "SELECT count(*) FROM cards WHERE source = 'learned'") == [(0,)]
    assert rows(spark_home, "SELECT count(*) FROM card_evidence") == [(0,)]
    assert learn(spark_home).count("created") == 1


def test_a_cluster_of_one_is_reported_not_learned(spark_home):
    record(spark_home, organic(FEATURE_NAMES[:1]))
    report = learn(spark_home)
    [d] = report.decisions
    assert d.outcome == "rejected" and "support 1 trace(s) from 1 user(s)" in d.reason
    assert not report.written


def test_contradictory_evidence_is_not_learned(spark_home):
    forth = [("s = df.fillna(method='ffill')\n", "s = df.ffill()\n", f"u{i}") for i in range(4)]
    back = [(a, b, f"w{i}") for i, (b, a, _) in enumerate(forth)]
    record(spark_home, organic(forth, "pandas", "3.1") + organic(back, "pandas", "3.1"))
    report = learn(spark_home)
    assert {d.outcome for d in report.decisions} == {"rejected"}
    assert all("acceptance lower bound" in d.reason for d in report.decisions)
    assert all(d.positive == 4 and d.negative == 4 for d in report.decisions)


def test_a_learned_card_the_team_keeps_rejecting_loses_its_acceptance(spark_home):
    record(spark_home, organic(FEATURE_NAMES))
    learn(spark_home)
    record(spark_home, [Trace("rejected", "SPK5001", user=f"r{i}", ts=time.time())
                        for i in range(6)])
    [d] = learn(spark_home).decisions
    assert d.outcome == "rejected" and "acceptance" in d.reason  # not refreshed


def test_bad_pairs_are_skipped_with_a_reason(spark_home):
    bad = [Trace("organic", "", before="x = 1\n", after="x = 1\n", user="a"),
           Trace("organic", "", before="", after="y = 2\n", user="a"),
           Trace("organic", "", before="a = 1\nb = 2\n", after="a = 2\nb = 3\n", user="a"),
           Trace("organic", "", before="x = df.values\n", after="x = df.to_numpy(\n", user="a")]
    broken = [("v = df.values\n", "v = df.to_numpy(\n", u) for u in ("a", "b", "c")]
    record(spark_home, bad + organic(broken, "pandas", "3.1"))
    report = learn(spark_home)
    reasons = " ".join(s.reason for s in report.skipped)
    assert "same code" in reasons and "no before or no after" in reasons
    assert "not one expression" in reasons and "the after does not parse" in reasons
    for d in report.decisions:  # an after that does not parse never becomes a card
        assert d.outcome == "rejected"
    assert not rows(spark_home, "SELECT * FROM cards WHERE source = 'learned'")
