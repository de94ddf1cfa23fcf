"""Numbered schema migrations (`migrations/NNN_name.sql`), applied in order in one transaction.

A migration that needs a DuckDB extension says so on a line of its own:

    -- requires: vss, fts

Such extensions are loaded before any migration runs and by every later connection: DuckDB
cannot write (or checkpoint) a file holding an HNSW index unless `vss` is loaded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import duckdb

from spark_lsp import __version__
from spark_lsp.kb.db import KBError, KBTooNew, connect, kb_errors, load_extensions

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_FILE = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")
_REQUIRES = re.compile(r"^--\s*requires:\s*(.+)$", re.MULTILINE)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str
    requires: tuple[str, ...] = ()


def parse_migrations(folder: Path) -> list[Migration]:
    """Every `NNN_name.sql` in `folder`, in order; versions must run 1, 2, 3… without gaps."""
    found = []
    for path in sorted(folder.glob("*.sql")):
        m = _FILE.match(path.name)
        if not m:
            raise RuntimeError(f"migration file {path.name} is not named NNN_name.sql")
        sql = path.read_text(encoding="utf-8")
        requires = tuple(x.strip() for line in _REQUIRES.findall(sql)
                         for x in line.split(",") if x.strip())
        found.append(Migration(int(m.group(1)), m.group(2), sql, requires))
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations in {folder} must be numbered 1..n, found {versions}")
    return found


@lru_cache(maxsize=1)
def known_migrations() -> tuple[Migration, ...]:
    return tuple(parse_migrations(MIGRATIONS_DIR))


def latest_version(migrations: tuple[Migration, ...] | list[Migration] | None = None) -> int:
    migrations = known_migrations() if migrations is None else migrations
    return max((m.version for m in migrations), default=0)


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The highest migration applied to this file; 0 for a new (or non-Spark) file."""
    # Not `db.has_table`: with a memory store attached, its schema comes first on the search
    # path and current_database() names the store, not the file that holds schema_migrations.
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'main' "
        "AND table_name = 'schema_migrations'").fetchone()
    if not exists or not exists[0]:
        return 0
    row = con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
    return int(row[0]) if row else 0


def check_schema(con: duckdb.DuckDBPyConnection, path: Path,
                 migrations: tuple[Migration, ...] | list[Migration] | None = None) -> int:
    """The file's schema version; KBTooNew if a newer Spark wrote it (nothing is changed)."""
    version = schema_version(con)
    latest = latest_version(migrations)
    if version > latest:
        raise KBTooNew(
            f"the knowledge base {path} has schema version {version}, but this Spark "
            f"({__version__}) knows versions up to {latest}: it was written by a newer Spark. "
            f"Upgrade Spark (pip install -U spark-lsp) or set SPARK_HOME to another folder. "
            f"The file was not changed.")
    return version


def load_required_extensions(con: duckdb.DuckDBPyConnection,
                             migrations: tuple[Migration, ...] | list[Migration] | None = None,
                             ) -> None:
    """Load the extensions that the applied migrations need (checked schema first)."""
    migrations = known_migrations() if migrations is None else migrations
    version = schema_version(con)
    load_extensions(con, [x for m in migrations if m.version <= version for x in m.requires])


def migrate(con: duckdb.DuckDBPyConnection, path: Path,
            migrations: tuple[Migration, ...] | list[Migration] | None = None) -> list[int]:
    """Apply pending migrations in one transaction; return the versions applied.

    All or nothing: a failing migration rolls back every one applied in this call.
    """
    migrations = known_migrations() if migrations is None else migrations
    current = check_schema(con, path, migrations)
    load_extensions(con, [x for m in migrations for x in m.requires])
    pending = [m for m in migrations if m.version > current]
    if not pending:
        return []
    con.execute("BEGIN TRANSACTION")
    step = pending[0]
    try:
        con.execute("""CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY, name VARCHAR NOT NULL,
            applied_at TIMESTAMP NOT NULL DEFAULT make_timestamp(epoch_us(current_timestamp)),
            spark_version VARCHAR NOT NULL)""")
        for step in pending:
            con.execute(step.sql)
            con.execute("INSERT INTO schema_migrations (version, name, spark_version) "
                        "VALUES (?, ?, ?)", [step.version, step.name, __version__])
        con.execute("COMMIT")
    except duckdb.Error as exc:
        con.execute("ROLLBACK")
        raise KBError(f"migration {step.version:03d}_{step.name} failed on {path}; nothing was "
                      f"changed: {exc}") from exc
    return [m.version for m in pending]


def open_writer(path: Path, *, timeout: float = 10.0
                ) -> tuple[duckdb.DuckDBPyConnection, list[int]]:
    """A read-write connection with the schema brought up to date, and the migrations applied.

    With a server store configured (`kb.storage`), the connection has it attached, its schema
    up to date, and the memory tables routed to it; its migrations count as applied too.
    Callers hold `db.writer_lock` and close the connection as soon as their work is committed.
    """
    from spark_lsp.kb.storage import attach_configured

    path.parent.mkdir(parents=True, exist_ok=True)
    con = connect(path, timeout=timeout)
    try:
        with kb_errors(path):
            applied = migrate(con, path)
        applied += attach_configured(con, read_only=False, migrate=True)
    except BaseException:
        con.close()
        raise
    return con, applied
