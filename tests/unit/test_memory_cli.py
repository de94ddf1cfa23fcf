"""`spark memory keygen|export|verify|import|merge|diff|stats|sync` on real files and a real
knowledge base, through click's runner and (keygen, verify) through a real `spark` process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner
from memory_fixtures import Admin, card, hanging_card, memory_with, write

from spark_lsp.cli import cli
from spark_lsp.kb.db import kb_file
from spark_lsp.kb.traces import Trace, TraceJournal
from spark_lsp.memory.format import read_memory


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def spark(home: Path, cwd: Path, *args) -> subprocess.CompletedProcess:
    exe = shutil.which("spark")
    cmd = [exe] if exe else [sys.executable, "-m", "spark_lsp"]
    return subprocess.run([*cmd, *map(str, args)], env={**os.environ, "SPARK_HOME": str(home)},
                          cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def project(tmp_path, monkeypatch, spark_home):
    """A project whose pyproject trusts this SPARK_HOME's key (created here)."""
    root = tmp_path / "project"
    root.mkdir()
    result = run("memory", "keygen")
    assert result.exit_code == 0, result.output
    line = result.stdout.strip()
    assert line.startswith('trusted_keys = ["ed25519:')
    (root / "pyproject.toml").write_text(
        f'[tool.spark.memory]\npath = "shared/team.sparkmem"\ninbox = "shared/inbox"\n{line}\n')
    (root / "shared" / "inbox").mkdir(parents=True)
    monkeypatch.chdir(root)
    return root


def kb_rows(home: Path, sql: str, params=()):
    con = duckdb.connect(str(kb_file(home)), read_only=True)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def test_keygen_in_a_real_process(tmp_path):
    home = tmp_path / "home"
    done = spark(home, tmp_path, "memory", "keygen")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith('trusted_keys = ["ed25519:')
    assert (home / "keys" / "memory_ed25519").stat().st_mode & 0o777 == 0o600
    again = spark(home, tmp_path, "memory", "keygen")
    assert again.returncode == 2 and "already exists" in again.stderr


def test_export_verify_import_stats(project, spark_home, tmp_path):
    journal = TraceJournal(spark_home)
    for i, outcome in enumerate(["shown", "accepted", "rejected", "accepted"]):
        journal.append(Trace(outcome, "SPK001", client="vscode", id=f"{i:032x}", ts=1.7e9 + i,
                             before="arr = df.values", after="arr = df.to_numpy()"))
    team_cards = tmp_path / "team-cards"
    team_cards.mkdir()
    import yaml

    (team_cards / "SPK901.yaml").write_text(yaml.safe_dump(card()))
    out = project / "shared" / "team.sparkmem"
    result = run("memory", "export", out, "--cards", team_cards, "--suppress",
                 "SPK005=our pandas is pinned")
    assert result.exit_code == 0, result.output
    assert "1 cards, 4 outcomes, 1 suppressions" in result.stdout

    verify = spark(spark_home, project, "memory", "verify", out)
    assert verify.returncode == 0, verify.stderr
    assert "OK" in verify.stdout and "1 card(s) in use" in verify.stdout

    stats = run("memory", "stats", out, "--format", "json")
    data = json.loads(stats.stdout)
    assert data["per_card"] == {"SPK001": {"shown": 1, "accepted": 2, "rejected": 1}}
    assert data["trusted"] and data["suppressions"] == ["SPK005"]
    assert "2 / 1" in run("memory", "stats", out).stdout  # accepted / rejected columns

    imported = run("memory", "import", out)
    assert imported.exit_code == 0, imported.output
    assert kb_rows(spark_home, "SELECT code, source, status FROM cards WHERE code = 'SPK901'") \
        == [("SPK901", "memory", "curated")]
    # the four outcomes are this machine's own traces: the ids dedupe, nothing is counted twice
    assert kb_rows(spark_home, "SELECT count(*) FROM traces")[0][0] == 4
    meta = dict(kb_rows(spark_home, "SELECT key, value FROM meta"))
    assert json.loads(meta["memory_suppressions"]) == {"SPK005": "our pandas is pinned"}
    assert run("memory", "import", out).exit_code == 0  # again: idempotent
    assert kb_rows(spark_home, "SELECT count(*) FROM traces")[0][0] == 4


def test_import_refuses_a_hostile_file_and_changes_nothing(project, spark_home, tmp_path):
    me = Admin.existing(spark_home)  # the key the project trusts
    good = write(tmp_path / "good.sparkmem", me, memory_with(me, [card()], outcomes=3))
    assert run("memory", "import", good).exit_code == 0
    before = kb_rows(spark_home, "SELECT code, content_hash FROM cards ORDER BY code")
    bad = write(tmp_path / "hang.sparkmem", me, memory_with(me, [card(), hanging_card()]))
    result = run("memory", "import", bad)
    assert result.exit_code == 2
    assert "SPK902" in result.stderr and "[hanging-rule]" in result.stderr
    assert kb_rows(spark_home, "SELECT code, content_hash FROM cards ORDER BY code") == before


def test_diff(project, spark_home, tmp_path):
    from spark_lsp.memory.format import write_memory

    me = Admin.existing(spark_home)
    key = me.key
    a = tmp_path / "a.sparkmem"
    b = tmp_path / "b.sparkmem"
    write_memory(a, memory_with(me, [card()], outcomes=3), key)
    write_memory(b, memory_with(me, [card(title="Team: a better title here"), card("SPK905")],
                                outcomes=6, suppress={"SPK002": "x"}), key)
    text = run("memory", "diff", a, b).stdout
    assert "+ card SPK905" in text and "~ card SPK901: title changed" in text
    assert "outcomes: +3 -0" in text and "+ suppression SPK002" in text
    assert run("memory", "diff", a, a).stdout.strip() == "no differences"


def test_sync_prints_what_it_shares_then_writes(project, spark_home):
    journal = TraceJournal(spark_home)
    journal.append(Trace("accepted", "SPK001", client="vscode", before="x = df.values",
                         after="x = df.to_numpy()"))
    dry = run("memory", "sync", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "Spark will share" in dry.stdout and "SPK001: 1 accepted" in dry.stdout
    assert "no code and no file names" in dry.stdout and "dry run" in dry.stdout
    inbox = project / "shared" / "inbox"
    assert not list(inbox.iterdir())
    done = run("memory", "sync")
    assert done.exit_code == 0, done.output
    (written,) = inbox.glob("*.sparkmem")
    from spark_lsp.memory.keys import trusted_keys

    contribution = read_memory(written, trusted_keys(), require_trusted=False)
    assert contribution.memory.kind == "contribution"
    (outcome,) = contribution.memory.outcomes.values()
    assert outcome.before == "" and outcome.code == "SPK001"  # no code unless --snippets
    merged = run("memory", "merge", inbox)
    assert merged.exit_code == 0, merged.output
    assert "merged 1 file(s)" in merged.stdout


def test_errors_are_one_line_and_exit_2(project, tmp_path):
    missing = run("memory", "verify", tmp_path / "nope.sparkmem")
    assert missing.exit_code == 2 and missing.stderr.startswith("error: no memory file")
    garbage = tmp_path / "garbage.sparkmem"
    garbage.write_text("hello")
    result = run("memory", "stats", garbage)
    assert result.exit_code == 2 and "[corrupt]" in result.stderr
    assert "Traceback" not in result.output
