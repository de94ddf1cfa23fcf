"""`spark path`, `spark status`, `spark traces list|export|merge`, `spark kb rebuild`: through
click's CliRunner and through a real `spark` process, on real DuckDB files."""

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from spark_lsp.cli import cli
from spark_lsp.kb.db import kb_file
from spark_lsp.kb.traces import Trace, TraceJournal, journal_dir

ROOT = Path(__file__).resolve().parents[2]
TRACE_FIELDS = {f.name for f in dataclasses.fields(Trace)}


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def spark_command() -> list[str]:
    exe = shutil.which("spark")
    return [exe] if exe else [sys.executable, "-m", "spark_lsp"]


def run_spark(home: Path, *args, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "SPARK_HOME": str(home)}
    return subprocess.run([*spark_command(), *map(str, args)], env=env, capture_output=True,
                          text=True, timeout=120, check=False, **kwargs)


@pytest.fixture
def recorded(spark_home):
    """Five traces in this process's journal (not merged yet)."""
    journal = TraceJournal(spark_home)
    traces = [
        Trace("shown", "SPK001", client="vscode", line=3, ts=1000.0, versions={"pandas": "3.0"}),
        Trace("accepted", "SPK001", client="vscode", line=3, ts=1001.0, before="df.values",
              after="df.to_numpy()"),
        Trace("rejected", "SPK002", client="neovim", line=8, ts=1002.0),
        Trace("shown", "SPK002", client="neovim", line=9, ts=1003.0),
        Trace("corrected", "SPK003", client="vscode", line=1, ts=1004.0, after="é ünïcode"),
    ]
    for t in traces:
        journal.append(t)
    return traces


def test_path_prints_the_kb_file(spark_home):
    result = run("path")
    assert result.exit_code == 0
    assert result.stdout.strip() == str(spark_home / "spark.duckdb")


def test_status_of_a_new_home_creates_nothing(spark_home):
    result = run("status")
    assert result.exit_code == 0, result.output
    assert "not created yet" in result.stdout
    data = json.loads(run("status", "--format", "json").stdout)
    assert data["exists"] is False and data["schema_version"] is None
    assert data["latest_schema_version"] >= 1
    assert not kb_file(spark_home).exists()


def test_merge_then_status_counts_everything(spark_home, recorded):
    before = json.loads(run("status", "--format", "json").stdout)
    assert before["journal_pending_lines"] == 5 and before["journal_files"] == 1
    result = run("traces", "merge")
    assert result.exit_code == 0, result.output
    assert "merged 5 new trace(s)" in result.stdout
    assert "merged 0 new" in run("traces", "merge").stdout  # idempotent
    data = json.loads(run("status", "--format", "json").stdout)
    assert data["readable"] and data["schema_version"] == data["latest_schema_version"]
    assert data["traces"] == {"accepted": 1, "corrected": 1, "rejected": 1, "shown": 2}
    assert data["journal_pending_lines"] == 0
    assert data["size_bytes"] == kb_file(spark_home).stat().st_size > 0
    assert sum(data["cards"]["seed"].values()) >= 1
    assert isinstance(data["libraries"], dict)
    text = run("status").stdout
    assert "traces: 5 (1 accepted, 1 corrected, 1 rejected, 2 shown)" in text
    assert f"schema version {data['latest_schema_version']}" in text
    assert "0 line(s) waiting" in text


def test_list_merges_first_and_filters(spark_home, recorded):
    result = run("traces", "list")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["TIME", "OUTCOME", "CODE", "CLIENT", "FILE:LINE", "ID"]
    assert [ln.split()[2] for ln in lines[1:]] == ["corrected", "shown", "rejected", "accepted",
                                                  "shown"]  # newest first
    assert "5 trace(s)" in result.stderr
    con = duckdb.connect(str(kb_file(spark_home)), read_only=True)
    assert con.execute("SELECT count(*) FROM traces").fetchone() == (5,)  # merged
    con.close()
    only = json.loads(run("traces", "list", "--outcome", "shown", "--code", "spk002",
                          "--format", "json").stdout)
    assert [t["id"] for t in only] == [recorded[3].id]
    assert len(json.loads(run("traces", "list", "-n", "2", "--format", "json").stdout)) == 2
    assert run("traces", "list", "--outcome", "maybe").exit_code == 2


def test_list_json_has_the_export_shape(spark_home, recorded):
    listed = json.loads(run("traces", "list", "--format", "json", "--limit", "0").stdout)
    assert all(set(t) == TRACE_FIELDS for t in listed)
    assert {t["id"]: t for t in listed}[recorded[0].id] == dataclasses.asdict(recorded[0])


def test_export_writes_every_trace_as_jsonl(spark_home, recorded, tmp_path):
    result = run("traces", "export")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [Trace.from_dict(r) for r in rows] == recorded  # oldest first, lossless
    assert all(set(r) == TRACE_FIELDS for r in rows)
    TraceJournal(spark_home).append(Trace("accepted", "SPK009", ts=2000.0))
    out = tmp_path / "out" / "traces.jsonl"
    out.parent.mkdir()
    result = run("traces", "export", "--output", out)
    assert result.exit_code == 0, result.output
    assert "exported 6 trace(s)" in result.stderr
    assert len(out.read_text(encoding="utf-8").splitlines()) == 6
    assert not [p for p in out.parent.iterdir() if p != out]  # no temporary file left


def test_merge_reports_malformed_lines(spark_home, recorded):
    with open(TraceJournal(spark_home).path, "w") as fh:
        fh.write("{broken\n")
    result = run("traces", "merge")
    assert result.exit_code == 0
    assert "1 malformed" in result.stdout
    assert "warning:" in result.stderr and "not JSON" in result.stderr


def test_a_damaged_kb_is_exit_2_with_advice_and_rebuild_keeps_it(spark_home, recorded):
    spark_home.mkdir(parents=True, exist_ok=True)
    kb_file(spark_home).write_bytes(b"\x00garbage" * 512)
    for args in (["status"], ["traces", "list"], ["traces", "export"], ["traces", "merge"]):
        result = run(*args)
        assert result.exit_code == 2, args
        assert "damaged" in result.stderr and "spark kb rebuild" in result.stderr
        assert "Traceback" not in result.output
    assert kb_file(spark_home).read_bytes() == b"\x00garbage" * 512
    result = run("kb", "rebuild")
    assert result.exit_code == 0, result.output
    kept = list(spark_home.glob("spark.duckdb.old-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == b"\x00garbage" * 512
    assert "nothing could be read" in result.stderr
    assert len(json.loads(run("traces", "list", "--format", "json").stdout)) == 5


def test_a_newer_schema_is_exit_2(spark_home, recorded):
    assert run("traces", "merge").exit_code == 0
    con = duckdb.connect(str(kb_file(spark_home)))
    con.execute("INSERT INTO schema_migrations VALUES (42, 'future', now()::TIMESTAMP, '9')")
    con.close()
    for args in (["status"], ["traces", "list"], ["traces", "merge"], ["kb", "rebuild"]):
        result = run(*args)
        assert result.exit_code == 2, args
        assert "newer Spark" in result.stderr and "not changed" in result.stderr


def test_a_busy_kb(spark_home, recorded):
    assert run("traces", "merge").exit_code == 0
    TraceJournal(spark_home).append(Trace("accepted", "SPK007", ts=3000.0))
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import duckdb, time
            con = duckdb.connect({str(kb_file(spark_home))!r})
            print("ready", flush=True)
            time.sleep(60)
            """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        result = run("traces", "merge", "--wait", "0.2")
        assert result.exit_code == 2 and "in use by another process" in result.stderr
        listed = run("traces", "list", "--format", "json")
        assert listed.exit_code == 0 and "busy" in listed.stderr
        # this process's journal still holds every line it wrote: all of them are listed
        assert next(t["code"] for t in json.loads(listed.stdout)) == "SPK007"
        assert len(json.loads(listed.stdout)) == 6
        status = run("status")
        assert status.exit_code == 0 and "busy" in status.stdout
    finally:
        holder.kill()
        holder.wait()


def test_a_real_spark_process(spark_home, recorded, tmp_path):
    assert run_spark(spark_home, "path").stdout.strip() == str(kb_file(spark_home))
    merged = run_spark(spark_home, "traces", "merge")
    assert merged.returncode == 0, merged.stderr
    assert "merged 5 new trace(s)" in merged.stdout
    listed = run_spark(spark_home, "traces", "list", "--format", "json", "--code", "SPK001")
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)) == 2
    exported = run_spark(spark_home, "traces", "export")
    assert [json.loads(x)["id"] for x in exported.stdout.splitlines()] == [t.id for t in recorded]
    status = run_spark(spark_home, "status", "--format", "json")
    assert json.loads(status.stdout)["traces"]["shown"] == 2
    kb_file(spark_home).write_bytes(b"junk" * 100)
    broken = run_spark(spark_home, "status")
    assert broken.returncode == 2 and "damaged" in broken.stderr
    assert "Traceback" not in broken.stderr


def test_export_into_a_closed_pipe_is_quiet(spark_home, recorded):
    # more than a pipe buffer of output, written at once (a journal of an exited process)
    lines = "".join(Trace("shown", "SPK001", line=i).to_json() + "\n" for i in range(2000))
    (journal_dir(spark_home) / "otherhost-1-feedbeef.jsonl").write_text(lines)
    env = {**os.environ, "SPARK_HOME": str(spark_home)}
    proc = subprocess.run(f"{' '.join(spark_command())} traces export | head -n 1", shell=True,
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert len(proc.stdout.splitlines()) == 1
    assert "Traceback" not in proc.stderr and "error:" not in proc.stderr


@pytest.mark.parametrize("command", [["path"], ["status"], ["traces"], ["traces", "list"],
                                     ["traces", "export"], ["traces", "merge"], ["kb"],
                                     ["kb", "rebuild"]])
def test_every_command_has_help(command):
    result = run(*command, "--help")
    assert result.exit_code == 0
    usage, _, rest = result.stdout.partition("\n\n")
    assert usage.startswith("Usage: cli " + " ".join(command))
    assert len(rest.split("\n\n")[0].strip()) > 20  # a real sentence, not a stub
