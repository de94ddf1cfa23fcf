"""The memory on a server database: a real PostgreSQL (Debian's binaries), started in a temporary
folder on 127.0.0.1 by these tests and stopped at the end, attached through DuckDB's postgres
extension (`kb.storage`).

- traces written by several processes on two "machines" (two SPARK_HOMEs) at once, with merges,
  memory imports and a SIGKILLed writer, reach PostgreSQL exactly once;
- `spark learn`, `spark cards review`, `spark memory export`, `spark status` and `spark traces
  list` run against it, chosen by `[tool.spark.memory] store` in pyproject.toml, and a second
  machine sees what the first learned;
- the server's tables have the local memory tables' columns, in the same order;
- first use from several processes at once sets the schema up once.

Skipped, saying why, only when this machine has no PostgreSQL binaries.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from learning_fixtures import FEATURE_NAMES, POISON_EVAL, organic
from pg_fixtures import pg_bindir, pg_connection, start_postgres

from spark_lsp.kb.db import kb_file
from spark_lsp.kb.storage import STORE_TABLES, use_store
from spark_lsp.kb.traces import Trace, TraceJournal

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def postgres():
    # .ci/run installs PostgreSQL and sets SPARK_REQUIRE_POSTGRES_TESTS: there, never skip
    give_up = pytest.fail if os.environ.get("SPARK_REQUIRE_POSTGRES_TESTS") else pytest.skip
    if pg_bindir() is None:
        give_up("no PostgreSQL binaries (initdb, pg_ctl) on this machine: install Debian's "
                "`postgresql` (.ci/run does) to test the server store")
    server = start_postgres()
    if server is None:
        give_up("PostgreSQL binaries found, but no unprivileged `postgres` user to run them as "
                "(this test runs as root)")
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.folder, ignore_errors=True)


@pytest.fixture
def store_url(postgres, monkeypatch):
    """A fresh database on the server; the process reads the store from the environment."""
    use_store(None)
    url = postgres.create_database()
    monkeypatch.setenv("SPARK_MEMORY_STORE", url)
    return url


def spark(home: Path, cwd: Path, *args, env: dict | None = None) -> subprocess.CompletedProcess:
    exe = shutil.which("spark")
    cmd = [exe] if exe else [sys.executable, "-m", "spark_lsp"]
    environ = {k: v for k, v in os.environ.items() if k != "SPARK_MEMORY_STORE"}
    return subprocess.run([*cmd, *map(str, args)], env={**environ, "SPARK_HOME": str(home),
                                                        **(env or {})},
                          cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


def server_rows(url: str, sql: str):
    with pg_connection(url) as con:
        return con.execute(sql.replace("{s}", "pg.spark")).fetchall()


def load_bench():
    spec = importlib.util.spec_from_file_location(
        "bench_concurrency", ROOT / "benchmarks" / "bench_concurrency.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_concurrent_writers_on_two_machines_reach_postgres_exactly_once(store_url, tmp_path):
    figures = load_bench().run(tmp_path / "home", writers=3, outcomes=80, kill_after=25,
                               memory_outcomes=50, store=store_url, machines=2)
    print(json.dumps(figures, indent=2))
    assert figures["killed_writer_acked"] is not None
    assert figures["acknowledged"] >= 5 * 80 + 25
    assert figures["missing"] == 0 and figures["duplicated"] == 0
    assert figures["unacknowledged_stored"] <= 1
    assert figures["memory_outcomes"] == 50  # both machines imported it: counted once
    assert figures["journal_pending_lines"] == 0 and figures["set_aside_lines"] <= 1
    assert figures["kb_readable"] and figures["secrets_in_kb"] == 0
    assert figures["ok"], figures
    # they are on the server, each once, and not in either machine's local file
    ids = server_rows(store_url, "SELECT id FROM {s}.traces WHERE client LIKE 'writer%'")
    assert len(ids) == len({i for (i,) in ids}) == figures["stored"]
    import duckdb

    for home in (tmp_path / "home", tmp_path / "home-1"):
        con = duckdb.connect(str(kb_file(home)), read_only=True)
        try:
            assert con.execute("SELECT count(*) FROM traces").fetchone()[0] == 0
            # merge progress stays with the journals it describes
            assert con.execute("SELECT count(*) FROM journal_offsets").fetchone()[0] >= 0
        finally:
            con.close()


def test_learn_review_export_and_a_second_machine(store_url, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    home, other = tmp_path / "home-a", tmp_path / "home-b"
    keygen = spark(home, project, "memory", "keygen")
    assert keygen.returncode == 0, keygen.stderr
    (project / "pyproject.toml").write_text(
        f'[tool.spark.memory]\nstore = "{store_url}"\n{keygen.stdout.strip()}\n')
    journal = TraceJournal(home)
    for trace in organic(FEATURE_NAMES) + organic(POISON_EVAL, "python") + [
            Trace("accepted", "SPK001", client="vscode", before="arr = df.values",
                  after="arr = df.to_numpy()")]:
        journal.append(trace)

    learned = spark(home, project, "learn", "--format", "json")
    assert learned.returncode == 0, learned.stderr
    decisions = json.loads(learned.stdout)["decisions"]
    assert sorted(d["outcome"] for d in decisions) == ["created", "rejected"]
    promote = spark(home, project, "cards", "review", "--promote", "SPK5001")
    assert promote.returncode == 0, promote.stderr

    assert server_rows(store_url, "SELECT status, source FROM {s}.cards WHERE code = 'SPK5001'"
                       ) == [("curated", "learned")]
    assert server_rows(store_url, "SELECT count(*) FROM {s}.learning_runs") == [(1,)]
    assert server_rows(store_url, "SELECT count(*) FROM {s}.card_evidence")[0][0] >= 3
    assert server_rows(store_url, "SELECT count(*) FROM {s}.traces")[0][0] == 7

    # another machine with the same setting sees the team's experience at once
    listing = spark(other, project, "cards", "review")
    assert listing.returncode == 0, listing.stderr
    assert "SPK5001  curated" in listing.stdout
    traces = spark(other, project, "traces", "list", "--limit", "100", "--format", "json")
    assert traces.returncode == 0, traces.stderr
    assert len(json.loads(traces.stdout)) == 7
    status = spark(other, project, "status", "--format", "json")
    assert status.returncode == 0, status.stderr
    assert sum(json.loads(status.stdout)["traces"].values()) == 7

    # an admin exports the memory from the server
    out = project / "team.sparkmem"
    exported = spark(home, project, "memory", "export", out)
    assert exported.returncode == 0, exported.stderr
    from spark_lsp.memory.format import read_memory
    from spark_lsp.memory.keys import trusted_keys

    memory = read_memory(out, trusted_keys([keygen.stdout.split('"')[1]])).memory
    assert "SPK5001" in memory.cards
    assert [o.code for o in memory.outcomes.values()] == ["SPK001"]


def test_the_server_tables_match_the_local_memory_tables(store_url, spark_home):
    from spark_lsp.kb.store import ensure_kb

    ensure_kb(spark_home)
    import duckdb

    con = duckdb.connect(str(kb_file(spark_home)), read_only=True)
    try:
        local = con.execute(
            "SELECT table_name, list(column_name ORDER BY column_index) FROM duckdb_columns() "
            "WHERE schema_name = 'main' AND list_contains(?, table_name) GROUP BY ALL",
            [list(STORE_TABLES)]).fetchall()
    finally:
        con.close()
    remote = server_rows(store_url,
                         "SELECT table_name, list(column_name ORDER BY column_index) "
                         "FROM duckdb_columns() WHERE database_name = 'pg' AND "
                         "schema_name = 'spark' AND table_name <> 'store_migrations' "
                         "GROUP BY ALL")
    assert dict(remote) == dict(local)
    assert sorted(dict(local)) == sorted(STORE_TABLES)


def test_first_use_from_several_processes_sets_the_schema_up_once(store_url, tmp_path):
    procs = []
    for i in range(4):
        home = tmp_path / f"home{i}"
        TraceJournal(home).append(Trace("shown", "SPK001", id=f"first-use-{i}"))
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "spark_lsp", "traces", "merge"],
            env={**os.environ, "SPARK_HOME": str(home), "SPARK_MEMORY_STORE": store_url},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    assert all(rc == 0 for rc, _ in results), results
    assert server_rows(store_url, "SELECT version FROM {s}.store_migrations") == [(1,)]
    assert server_rows(store_url, "SELECT count(*) FROM {s}.traces") == [(4,)]


def _insert_at_once(con, start, traces, errors: list[str]) -> None:
    from spark_lsp.kb.merge import insert_traces

    start.wait()
    try:
        con.execute("BEGIN TRANSACTION")
        insert_traces(con, traces)
        con.execute("COMMIT")
    except Exception as exc:  # noqa: BLE001 - the test reports it
        errors.append(str(exc))
        con.execute("ROLLBACK")


def test_the_same_traces_from_several_machines_at_once_are_stored_once(store_url, tmp_path):
    """Four machines insert the same 300 traces at the same instant (as when one exported trace
    file or team memory reaches everyone): every transaction commits, each trace is stored once.
    DuckDB carries out ON CONFLICT itself (look up, then COPY), so without the server's upsert
    trigger three of the four fail on the primary key (seen when the trigger was dropped)."""
    import threading

    from spark_lsp.kb.migrate import open_writer

    for round_ in range(3):
        traces = [Trace(("shown", "accepted")[i % 2], "SPK001", client="race",
                        id=f"same-{round_}-{i:04d}") for i in range(300)]
        cons = [open_writer(kb_file(tmp_path / f"machine{m}"))[0] for m in range(4)]
        start = threading.Barrier(len(cons))
        errors: list[str] = []

        threads = [threading.Thread(target=_insert_at_once, args=(con, start, traces, errors))
                   for con in cons]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for con in cons:
            con.close()
        assert errors == []
        assert server_rows(store_url, "SELECT count(*), count(DISTINCT id) FROM {s}.traces "
                                      f"WHERE id LIKE 'same-{round_}-%'") == [(300, 300)]
