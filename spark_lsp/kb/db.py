"""Opening the knowledge-base file: one writer at a time, bounded retries, errors worded for users.

DuckDB lets one process open a file read-write, and while it does no other process can open it at
all (read-only connections take a shared lock, which also keeps the writer out). So every opener
retries briefly on a lock error, readers give up with `None`, and writers with `KBBusy`.
"""

from __future__ import annotations

import importlib.util
import logging
import random
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import duckdb

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; DuckDB's own file lock still guards the file
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

KB_FILENAME = "spark.duckdb"
EXTENSION_PACKAGES = {"vss": "duckdb_extension_vss", "fts": "duckdb_extension_fts"}


class KBError(Exception):
    """A knowledge-base problem, worded for the user (the CLI prints it and exits 2)."""


class KBBusy(KBError):
    """Another process holds the file (or the writer lock) longer than we were willing to wait."""


class KBCorrupt(KBError):
    """The file is not a readable DuckDB database (or a block fails its checksum)."""


class KBTooNew(KBError):
    """The file's schema is newer than this Spark knows; it is refused and left untouched."""


class ExtensionMissing(KBError):
    """A DuckDB extension's pip package (or its file for this DuckDB version) is missing."""


def kb_file(home: Path) -> Path:
    return home / KB_FILENAME


def utc_now() -> datetime:
    """Naive UTC, for TIMESTAMP columns (DuckDB would shift an aware value to its TimeZone)."""
    return datetime.now(UTC).replace(tzinfo=None)


def rebuild_hint(path: Path) -> str:
    return (f"The file was not changed. Run `spark kb rebuild` to set it aside (it is kept as "
            f"{path.name}.old-<time>) and build a new one.")


@contextmanager
def writer_lock(home: Path, *, timeout: float = 10.0) -> Iterator[None]:
    """Exclusive advisory lock (`$SPARK_HOME/kb.lock`) of Spark's writers: merge, sync, rebuild.

    It serializes Spark's own writers (threads included: each call opens its own descriptor);
    the DuckDB file lock still has to be waited for, since readers and other tools hold it too.
    """
    home.mkdir(parents=True, exist_ok=True)
    lock_path = home / "kb.lock"
    with open(lock_path, "a+b") as fh:
        if fcntl is None:
            yield
            return
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise KBBusy(f"another Spark process is updating the knowledge base (it holds "
                                 f"{lock_path}); try again in a moment") from None
                time.sleep(0.02 + 0.03 * random.random())
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def is_lock_error(exc: BaseException) -> bool:
    """True for 'another process holds the file' (and for this process holding it differently)."""
    text = str(exc).lower()
    return isinstance(exc, duckdb.Error) and (
        "could not set lock" in text or "conflicting lock" in text
        or "different configuration" in text)


def as_kb_error(path: Path, exc: BaseException) -> KBError:
    """Turn a DuckDB exception about `path` into a KBError a user can act on."""
    text = str(exc)
    low = text.lower()
    if is_lock_error(exc):
        return KBBusy(f"the knowledge base {path} is in use by another process; try again in a "
                      f"moment ({text})")
    if "not a valid duckdb database" in low or "corrupt" in low or "checksum" in low:
        return KBCorrupt(f"the knowledge base {path} is damaged: {text}. {rebuild_hint(path)}")
    if "version number" in low or "storage version" in low:
        return KBTooNew(f"the knowledge base {path} was written by another DuckDB version "
                        f"(this is duckdb {duckdb.__version__}): {text}. The file was not changed.")
    return KBError(f"knowledge base {path}: {text}")


@contextmanager
def kb_errors(path: Path) -> Iterator[None]:
    """Re-raise DuckDB errors met while using `path` as KBError (damage shows up at query time)."""
    try:
        yield
    except duckdb.Error as exc:
        raise as_kb_error(path, exc) from exc


def _connect_once(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path), read_only=read_only)
    try:
        # Extensions come only from the pinned pip packages, never from the network.
        con.execute("SET autoinstall_known_extensions=false")
        con.execute("SET autoload_known_extensions=false")
    except BaseException:
        con.close()
        raise
    return con


def connect(path: Path, *, read_only: bool = False,
            timeout: float = 5.0) -> duckdb.DuckDBPyConnection:
    """Open `path`, retrying lock errors with backoff for up to `timeout` seconds.

    Raises KBBusy when the lock never frees, KBCorrupt / KBError for other failures. Keep the
    connection short-lived: while it is open, no other process can write the file.
    """
    deadline = time.monotonic() + timeout
    delay = 0.01
    attempts = 0
    while True:
        attempts += 1
        try:
            return _connect_once(path, read_only)
        except duckdb.Error as exc:
            if not is_lock_error(exc) or time.monotonic() >= deadline:
                if is_lock_error(exc):
                    log.info("gave up opening %s after %d attempts: %s", path, attempts, exc)
                raise as_kb_error(path, exc) from exc
        # jitter keeps two waiting processes from retrying in lockstep
        time.sleep(min(delay * (1 + random.random()), max(0.0, deadline - time.monotonic())))
        delay = min(delay * 2, 0.25)


def open_readonly(path: Path, *, timeout: float = 1.0, extensions: bool = False,
                  memory: bool = True) -> duckdb.DuckDBPyConnection | None:
    """A read-only connection, or None (logged) when the file is missing or a writer holds it
    (a missing file with a server store configured: a connection that reads only the store).

    Raises KBError only for a file that cannot be read at all (damaged, or from a newer Spark):
    that needs the user's attention, while a busy file only needs patience. The schema is checked
    (`kb.migrate.check_schema`); with `extensions`, the extensions the schema needs are loaded
    (full-text and vector queries need them; plain reads, even of a file holding an HNSW index,
    do not — and loading vss verifies a 32 MB signed file, ~0.3 s a connection). With `memory`
    (the default) a configured server store is attached read-only (`kb.storage`); readers of
    documentation only pass False. Close it soon: a reader keeps writers (the trace merger) out.
    """
    from spark_lsp.kb.migrate import check_schema, load_required_extensions

    if not path.is_file():
        if memory:  # the team's memory may be on a server even before this machine wrote
            from spark_lsp.kb.storage import reader_without_local_file

            server = reader_without_local_file()
            if server is not None:
                return server
        log.info("no knowledge base at %s yet", path)
        return None
    try:
        con = connect(path, read_only=True, timeout=timeout)
    except KBBusy as exc:
        log.info("knowledge base busy, reading without it: %s", exc)
        return None
    try:
        with kb_errors(path):
            check_schema(con, path)
            if extensions:
                load_required_extensions(con)
        if memory:
            from spark_lsp.kb.storage import attach_configured

            attach_configured(con, read_only=True)
    except BaseException:
        con.close()
        raise
    return con


def has_table(con: duckdb.DuckDBPyConnection, table: str, database: str | None = None) -> bool:
    """Whether `table` exists in the main schema of `database` (default: current_database(),
    the connection's own file unless a memory store's schema was put first on the search path;
    an attached one by its alias) — a file from before a migration lacks its tables."""
    row = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = "
        "coalesce(?, current_database()) AND schema_name = 'main' AND table_name = ?",
        [database, table]).fetchone()
    return bool(row and row[0])


def has_column(con: duckdb.DuckDBPyConnection, table: str, column: str,
               database: str | None = None) -> bool:
    """Whether `table` (main schema of `database`, as in `has_table`) has `column`: a file from
    before a migration that added it lacks it."""
    row = con.execute(
        "SELECT count(*) FROM duckdb_columns() WHERE database_name = "
        "coalesce(?, current_database()) AND schema_name = 'main' AND table_name = ? "
        "AND column_name = ?", [database, table, column]).fetchone()
    return bool(row and row[0])


def extension_path(name: str) -> Path:
    """The extension file inside its pip package (`duckdb-extension-<name>`), for this DuckDB."""
    package = EXTENSION_PACKAGES.get(name, f"duckdb_extension_{name}")
    pip_name = package.replace("_", "-")
    install = f"pip install '{pip_name}=={duckdb.__version__}'"
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ExtensionMissing(f"the DuckDB extension {name!r} is not installed ({install})")
    base = Path(next(iter(spec.submodule_search_locations))) / "extensions"
    path = base / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    if not path.is_file():
        found = sorted(p.parent.name for p in base.glob(f"v*/{name}.duckdb_extension"))
        raise ExtensionMissing(
            f"{pip_name} has no {name} extension for duckdb {duckdb.__version__} (it has: "
            f"{', '.join(found) or 'none'}); the two versions must match ({install})")
    return path


def load_extensions(con: duckdb.DuckDBPyConnection, names: Iterable[str]) -> list[Path]:
    """LOAD each extension from its pip package's file; never download or autoload one.

    Raises ExtensionMissing naming the package to install. Returns the files loaded.
    """
    con.execute("SET autoinstall_known_extensions=false")
    con.execute("SET autoload_known_extensions=false")
    loaded = []
    for name in dict.fromkeys(names):
        path = extension_path(name)
        quoted = str(path).replace("'", "''")
        try:
            con.execute(f"LOAD '{quoted}'")
        except duckdb.Error as exc:
            raise ExtensionMissing(f"cannot load the DuckDB extension {name!r} from {path}: "
                                   f"{exc}") from exc
        loaded.append(path)
    return loaded
