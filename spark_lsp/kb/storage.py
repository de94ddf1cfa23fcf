"""Where the memory lives: the local DuckDB file (the default) or a PostgreSQL server.

One setting chooses — `[tool.spark.memory] store` (pyproject.toml, or `[memory] store` in
`$SPARK_HOME/config.toml`), the `SPARK_MEMORY_STORE` environment variable, or the editor's
`memoryStore`:

    store = "postgresql://spark@db.example.org:5432/spark"   # a libpq URL; the password from
                                                             # ~/.pgpass or PGPASSWORD

With a server store, every connection the knowledge base hands out (`migrate.open_writer`,
`db.open_readonly`) ATTACHes the database through DuckDB's postgres extension (loaded from its
pip package like vss and fts, never downloaded) and puts its `spark` schema first on the search
path. The memory tables — cards, traces (outcomes included), meta (team suppressions), learned
cards' evidence, overrides and learning runs — then resolve to the server, and the rest of Spark
runs the same SQL as on the local file. What stays in the local file is what belongs to one
machine: the documentation tables and how far each local journal was merged.

Exactly once: a trace's id is the primary key on the server too, and traces are inserted with
`ON CONFLICT DO NOTHING` under READ COMMITTED, so merges from any number of machines can run at
once. The server's schema has its own numbered migrations (`migrations/postgres/`), applied
under a PostgreSQL advisory lock.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from spark_lsp.kb.db import KBError, KBTooNew, load_extensions

log = logging.getLogger(__name__)

ENV = "SPARK_MEMORY_STORE"
ALIAS = "spark_store"  # the attached database
SCHEMA = "spark"  # the PostgreSQL schema that holds the memory tables
STORE_TABLES = ("meta", "cards", "traces", "card_evidence", "card_overrides", "learning_runs")
MIGRATIONS_DIR = Path(__file__).with_name("migrations") / "postgres"
_LOCK_KEY = 0x5350_4B4D  # pg_advisory_xact_lock key of the schema migrations ("SPKM")
_PASSWORD = re.compile(r"(://[^:/@]*:)[^@]*@|(password\s*=\s*)\S+", re.IGNORECASE)


class StoreUnavailable(KBError):
    """The configured server cannot be reached or used; nothing falls back to the local file."""


@dataclass(frozen=True)
class Store:
    """A server database that holds the memory tables."""

    kind: str  # "postgres"
    dsn: str  # a libpq URL or key=value connection string

    @property
    def display(self) -> str:
        """The connection string with any password masked: safe for messages and logs."""
        return mask_passwords(self.dsn)


def mask_passwords(text: str) -> str:
    """`scheme://user:***@host` and `password=***`: for anything that may quote a DSN."""
    return _PASSWORD.sub(lambda m: (m.group(1) + "***@") if m.group(1)
                         else (m.group(2) + "***"), text)


def parse_store(value: str | None) -> Store | None:
    """The store a setting names; None for the local file. KBError for an unknown kind."""
    text = (value or "").strip()
    if text.lower() in ("", "local", "file", "duckdb"):
        return None
    low = text.lower()
    if low.startswith(("postgresql://", "postgres://")):
        return Store("postgres", text)
    if low.startswith("postgres:"):
        return Store("postgres", text[len("postgres:"):])
    if low.startswith("ducklake:"):
        raise KBError("a DuckLake catalog cannot hold Spark's memory: DuckLake tables have no "
                      "primary keys, which is what keeps each trace exactly once across writers. "
                      "Use a postgresql:// store (DuckLake can still receive exported copies)")
    raise KBError(f"unknown memory store {Store('?', text).display!r}: set "
                  "[tool.spark.memory] store to a postgresql:// URL, or leave it unset for the "
                  "local file")


_chosen: str | None = None


def use_store(value: str | None) -> None:
    """Fix this process's store (the language server: from its workspace's settings). Empty or
    None: read the setting on each connection again."""
    global _chosen
    _chosen = value or None


def configured_store() -> Store | None:
    """The store in effect: `use_store`, else the environment, else the settings read from the
    user's config.toml and the pyproject.toml of the current folder."""
    if _chosen is not None:
        return parse_store(_chosen)
    if os.environ.get(ENV) is not None:
        return parse_store(os.environ[ENV])
    from spark_lsp.config import load_settings

    return parse_store(load_settings(Path.cwd()).memory_store)


def is_attached(con: duckdb.DuckDBPyConnection) -> bool:
    row = con.execute("SELECT count(*) FROM duckdb_databases() WHERE database_name = ?",
                      [ALIAS]).fetchone()
    return bool(row and row[0])


def attach(con: duckdb.DuckDBPyConnection, store: Store, *, read_only: bool) -> None:
    """ATTACH the store as `spark_store` (its tables are routed by `route`)."""
    load_extensions(con, ["postgres_scanner"])
    dsn = store.dsn.replace("'", "''")
    options = "TYPE postgres, ISOLATION_LEVEL 'READ COMMITTED'" + (", READ_ONLY" if read_only
                                                                    else "")
    try:
        con.execute(f"ATTACH '{dsn}' AS {ALIAS} ({options})")
    except duckdb.Error as exc:
        raise StoreUnavailable(f"cannot reach the memory store {store.display}: "
                               f"{_first_line(exc)}. Traces wait in the local journal until it "
                               "is back; nothing was written to the local file instead") from exc


def route(con: duckdb.DuckDBPyConnection) -> None:
    """Unqualified names: the store's schema first, then the local file's `main`."""
    row = con.execute("SELECT current_database()").fetchone()
    local = str(row[0]) if row else "memory"
    con.execute(f"SET search_path = '{ALIAS}.{SCHEMA},{_ident(local)}.main'")


def commit_between(con: duckdb.DuckDBPyConnection) -> None:
    """End the open transaction and start another when the memory tables are on the server:
    one DuckDB transaction writes to one database, and local bookkeeping (journal offsets)
    goes to the local file. Trace ids keep a crash in between from counting anything twice."""
    if is_attached(con):
        con.execute("COMMIT")
        con.execute("BEGIN TRANSACTION")


def attach_configured(con: duckdb.DuckDBPyConnection, *, read_only: bool,
                      migrate: bool = False) -> list[int]:
    """Attach the configured store, if any (migrating it when `migrate`); versions applied."""
    store = configured_store()
    if store is None or is_attached(con):
        return []
    attach(con, store, read_only=read_only)
    applied = migrate_store(con, store) if migrate else []
    if not check_store_schema(con, store):
        raise StoreUnavailable(f"the memory store {store.display} has no Spark tables yet; any "
                               "command that writes sets them up (e.g. `spark traces merge`)")
    route(con)
    return applied


def reader_without_local_file() -> duckdb.DuckDBPyConnection | None:
    """For a machine with no knowledge-base file yet: an in-memory connection that reads the
    configured store (None without one). It holds only the local bookkeeping a reader expects:
    no journal merged yet, and the schema version the store's memory tables have the shape of
    (the latest; a store at an older version would have been migrated by any writer)."""
    if configured_store() is None:
        return None
    from spark_lsp.kb.migrate import known_migrations

    con = duckdb.connect()
    try:
        con.execute("SET autoinstall_known_extensions=false")
        con.execute("SET autoload_known_extensions=false")
        con.execute('CREATE TABLE journal_offsets (file VARCHAR PRIMARY KEY, "offset" BIGINT '
                    "NOT NULL, updated_at TIMESTAMP)")
        con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR "
                    "NOT NULL, applied_at TIMESTAMP, spark_version VARCHAR NOT NULL)")
        for m in known_migrations():
            con.execute("INSERT INTO schema_migrations VALUES (?, ?, NULL, ?)",
                        [m.version, m.name, _spark_version()])
        attach_configured(con, read_only=True)
    except BaseException:
        con.close()
        raise
    return con


# -- the server's schema -------------------------------------------------------------------------

def store_migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) of `migrations/postgres/NNN_name.sql`, numbered 1..n."""
    found = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        m = re.match(r"^(\d{3})_([a-z0-9_]+)\.sql$", path.name)
        if not m:
            raise RuntimeError(f"store migration {path.name} is not named NNN_name.sql")
        found.append((int(m.group(1)), m.group(2), path.read_text(encoding="utf-8")))
    if [v for v, _, _ in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"store migrations in {MIGRATIONS_DIR} must be numbered 1..n")
    return found


def store_version(con: duckdb.DuckDBPyConnection) -> int:
    """The highest store migration applied; 0 for a server without Spark's schema."""
    # Asked of PostgreSQL itself: DuckDB's catalog of the attached server is slower to list.
    row = con.execute("SELECT * FROM postgres_query(?, ?)", [ALIAS, (
        f"SELECT to_regclass('{SCHEMA}.store_migrations') IS NOT NULL")]).fetchone()
    if not row or not row[0]:
        return 0
    row = con.execute("SELECT * FROM postgres_query(?, ?)", [ALIAS, (
        f"SELECT coalesce(max(version), 0) FROM {SCHEMA}.store_migrations")]).fetchone()
    return int(row[0]) if row else 0


def check_store_schema(con: duckdb.DuckDBPyConnection, store: Store) -> int:
    version = store_version(con)
    latest = len(store_migrations())
    if version > latest:
        raise KBTooNew(f"the memory store {store.display} has schema version {version}, newer "
                       f"than this Spark knows ({latest}); upgrade Spark. Nothing was changed")
    return version


def migrate_store(con: duckdb.DuckDBPyConnection, store: Store) -> list[int]:
    """Bring the server's schema up to date, once across all machines; the versions applied."""
    steps = store_migrations()
    if check_store_schema(con, store) == len(steps):
        return []
    con.execute("BEGIN TRANSACTION")
    try:
        # Serializes machines migrating at once; released at COMMIT / ROLLBACK.
        _pg(con, f"SELECT pg_advisory_xact_lock({_LOCK_KEY})")
        _pg(con, f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        _pg(con, f"CREATE TABLE IF NOT EXISTS {SCHEMA}.store_migrations (version INTEGER "
                 "PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMP NOT NULL DEFAULT "
                 "(now() AT TIME ZONE 'utc'), spark_version TEXT NOT NULL)")
        con.execute("CALL pg_clear_cache()")
        current = store_version(con)
        applied = []
        for version, name, sql in steps:
            if version <= current:
                continue
            _pg(con, f"SET LOCAL search_path = {SCHEMA}; {sql}")
            _pg(con, f"INSERT INTO {SCHEMA}.store_migrations (version, name, spark_version) "
                     f"VALUES ({version}, '{name}', '{_spark_version()}')")
            applied.append(version)
        con.execute("COMMIT")
    except duckdb.Error as exc:
        con.execute("ROLLBACK")
        raise StoreUnavailable(f"the memory store {store.display} could not be set up; nothing "
                               f"was changed: {_first_line(exc)}") from exc
    con.execute("CALL pg_clear_cache()")
    if applied:
        log.info("memory store %s: applied migrations %s", store.display, applied)
    return applied


def _pg(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Run `sql` on the server as is, in the connection's open transaction."""
    con.execute("CALL postgres_execute(?, ?)", [ALIAS, sql])


def _spark_version() -> str:
    from spark_lsp import __version__

    return __version__.replace("'", "")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _first_line(exc: BaseException) -> str:
    """The error's first line, passwords masked (libpq errors quote the connection string)."""
    text = str(exc).strip()
    return mask_passwords(text.splitlines()[0]) if text else type(exc).__name__
