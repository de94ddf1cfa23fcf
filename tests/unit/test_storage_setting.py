"""Choosing where the memory lives is one setting (`[tool.spark.memory] store`); a store that
cannot be used is a clear error, never a silent fall back to the local file."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from pg_fixtures import free_port

from spark_lsp.cli import cli
from spark_lsp.config import load_settings
from spark_lsp.kb.db import KBError
from spark_lsp.kb.storage import configured_store, parse_store, use_store
from spark_lsp.kb.traces import Trace, TraceJournal


@pytest.fixture(autouse=True)
def no_chosen_store(monkeypatch):
    use_store(None)
    monkeypatch.delenv("SPARK_MEMORY_STORE", raising=False)
    yield
    use_store(None)


def test_the_setting_from_pyproject_config_env_and_editor(tmp_path, spark_home, monkeypatch):
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[tool.spark.memory]\nstore = "postgresql://spark@db:5432/team"\n')
    assert load_settings(project).memory_store == "postgresql://spark@db:5432/team"
    assert load_settings(project, {"memoryStore": "local"}).memory_store == "local"
    spark_home.mkdir(parents=True)
    (spark_home / "config.toml").write_text('[memory]\nstore = "postgres:dbname=x"\n')
    assert load_settings(tmp_path).memory_store == "postgres:dbname=x"
    monkeypatch.chdir(project)
    assert configured_store().dsn == "postgresql://spark@db:5432/team"
    monkeypatch.setenv("SPARK_MEMORY_STORE", "")
    assert configured_store() is None  # the environment says: the local file
    use_store("postgresql://other@db/x")
    assert configured_store().dsn == "postgresql://other@db/x"


def test_kinds_and_masked_passwords():
    assert parse_store("") is None and parse_store("local") is None
    assert parse_store("postgres:host=db dbname=x").dsn == "host=db dbname=x"
    store = parse_store("postgresql://spark:s3cr3t-pw@db.example.org:5432/team")
    assert store.kind == "postgres" and "s3cr3t" not in store.display
    assert store.display == "postgresql://spark:***@db.example.org:5432/team"
    assert "s3cr3t" not in parse_store("postgres:host=db password=s3cr3t-pw").display
    with pytest.raises(KBError, match="no primary keys"):
        parse_store("ducklake:postgres:dbname=x")
    with pytest.raises(KBError, match="unknown memory store"):
        parse_store("mysql://u:s3cr3t@db/x")


def test_an_unreachable_store_is_an_error_and_the_traces_wait(spark_home, tmp_path,
                                                              monkeypatch):
    url = f"postgresql://spark:s3cr3t-pw@127.0.0.1:{free_port()}/team?connect_timeout=3"
    monkeypatch.setenv("SPARK_MEMORY_STORE", url)
    TraceJournal(spark_home).append(Trace("shown", "SPK001", id="waiting-1"))
    result = CliRunner().invoke(cli, ["traces", "merge"], catch_exceptions=False)
    assert result.exit_code == 2
    assert "cannot reach the memory store postgresql://spark:***@127.0.0.1" in result.stderr
    assert "s3cr3t" not in result.stderr
    lines = list((spark_home / "journal").glob("*.jsonl"))
    assert lines and "waiting-1" in lines[0].read_text()  # still in the journal
