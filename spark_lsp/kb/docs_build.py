"""`spark kb build`: harvest, embed and index documentation in a new file, then swap it in.

The knowledge base is never modified in place. A build writes `spark.duckdb.build-<pid>` next
to it (same file system, so the final rename is atomic), copies the documentation of library
versions that did not change from the current file, embeds only snippets whose text is not in
the vector cache, builds the FTS and HNSW indexes, and only then — holding the writer lock for a
moment — copies cards, traces and every other table from the current file and renames the new
file over it. Readers that have the old file open keep reading it (the inode lives on); the next
open sees the new one. Ctrl-C, a kill, a library that hangs or a full disk leave the old file
serving: the partial new file is deleted (or, after SIGKILL, by the next build).
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import duckdb
import numpy as np

from spark_lsp.config import spark_home
from spark_lsp.kb.card_store import sync_seeds, write_meta
from spark_lsp.kb.db import (
    KBBusy,
    KBError,
    connect,
    has_column,
    has_table,
    kb_errors,
    kb_file,
    utc_now,
    writer_lock,
)
from spark_lsp.kb.docs_store import (
    DOC_TABLES,
    has_docs,
    insert_links,
    insert_objects,
    insert_snippets,
    insert_usage,
)
from spark_lsp.kb.embed import (
    DIM,
    MAX_SEQ_LENGTH,
    MODEL_ID,
    embed_texts,
    model_loaded,
    progress_bar,
    vector_cache,
)
from spark_lsp.kb.harvest import (
    DEFAULT_TIMEOUT,
    HARVESTER,
    DocObject,
    LibraryHarvest,
    Snippet,
    content_hash,
    harvest_library,
    installed_in,
    kill_children,
    parse_libraries,
    python_executable,
    sections_of,
)
from spark_lsp.kb.migrate import check_schema, migrate, schema_version
from spark_lsp.kb.query_encoder import onnx_encoder

log = logging.getLogger(__name__)

# Sections that get a vector. Every section is in the full-text index; a vector per object
# summary (name + description) carries the semantic search at less than half the cost of all
# sections: embedding is the build's slowest stage by far (~50-100 texts/s on 2 cores).
EMBED_SECTIONS = ("summary",)
MODEL_KEY = f"{MODEL_ID}@{MAX_SEQ_LENGTH}"
BUILD_PREFIX = "spark.duckdb.build-"
EMBED_CHUNK = 1024  # texts embedded (and cached) between commits: an interrupt keeps the rest
HARVEST_WORKERS = 2


@dataclass
class LibraryResult:
    library: str
    status: str  # harvested | unchanged | missing | import_failed | timeout | crashed | kept
    version: str = ""
    objects: int = 0
    snippets: int = 0
    seconds: float = 0.0
    message: str = ""


@dataclass
class BuildReport:
    path: Path
    python: str
    libraries: list[LibraryResult] = field(default_factory=list)
    snippets: int = 0
    embedded: int = 0  # snippets with a vector
    newly_embedded: int = 0  # vectors computed by this build (the rest came from the cache)
    seconds: dict[str, float] = field(default_factory=dict)  # stage -> seconds
    size_bytes: int = 0
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        done = sum(1 for r in self.libraries if r.status in ("harvested", "unchanged", "kept"))
        return (f"{self.snippets} snippets from {done} librar{'y' if done == 1 else 'ies'}, "
                f"{self.embedded} with vectors ({self.newly_embedded} newly embedded) in "
                f"{sum(self.seconds.values()):.1f} s -> {self.path}")


Reporter = Callable[[str], None]


def _quiet(message: str) -> None:
    log.info("%s", message)


# -- locks and leftovers -------------------------------------------------------------------------

@contextmanager
def build_lock(home: Path) -> Iterator[None]:
    """One build at a time per SPARK_HOME (a second one fails at once instead of waiting)."""
    home.mkdir(parents=True, exist_ok=True)
    with open(home / "kb-build.lock", "a+b") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise KBBusy("another `spark kb build` is running for this SPARK_HOME; wait for it "
                         "to finish") from None
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _remove(path: Path) -> None:
    for p in (path, path.with_name(path.name + ".wal")):
        try:
            p.unlink()
        except FileNotFoundError:
            pass


def remove_leftovers(home: Path) -> list[Path]:
    """Partial files of builds that were killed (only called while holding the build lock)."""
    found = sorted(p for p in home.glob(BUILD_PREFIX + "*") if not p.name.endswith(".wal"))
    for p in found:
        log.warning("removing %s, left by an interrupted build", p)
        _remove(p)
    return found


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """`kill PID` runs the cleanup like Ctrl-C does (only possible from the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


_DISK_FULL_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}
_DISK_FULL_WORDS = ("no space left", "file too large", "disk quota", "not enough space")


def is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in _DISK_FULL_ERRNOS:
        return True
    return any(w in str(exc).lower() for w in _DISK_FULL_WORDS)


# -- the previous build --------------------------------------------------------------------------

@dataclass
class _Previous:
    exists: bool = False
    libraries: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)


def _harvester_sql(con: duckdb.DuckDBPyConnection, database: str | None = None) -> str:
    """The column expression for the harvester revision of `doc_libraries` rows: revision 0 in
    a file from before migration 005 (the current file is read as it is; the build migrates
    only the new one)."""
    if has_column(con, "doc_libraries", "harvester", database):
        return "coalesce(harvester, 0)"
    return "0"


def _read_previous(path: Path, timeout: float) -> _Previous:
    """What the current file documents. Raises KBTooNew / KBCorrupt: a file that must not be
    replaced blindly (its cards and traces would be lost) stops the build before any work."""
    prev = _Previous(exists=path.exists())
    if not prev.exists:
        return prev
    con = connect(path, read_only=True, timeout=timeout)
    try:
        with kb_errors(path):
            check_schema(con, path)
            if has_docs(con):
                for lib, version, python, objects, snippets, revision in con.execute(
                        f"SELECT library, version, python, objects, snippets, "
                        f"{_harvester_sql(con)} FROM doc_libraries").fetchall():
                    prev.libraries[(lib, version)] = {"python": python, "objects": objects,
                                                      "snippets": snippets,
                                                      "harvester": revision}
    finally:
        con.close()
    return prev


def _load_previous_docs(con: duckdb.DuckDBPyConnection, path: Path,
                        keep: list[tuple[str, str]]) -> tuple[list[LibraryHarvest],
                                                               list[Snippet]]:
    """Objects and snippets of library versions carried over unchanged from the current file."""
    if not keep:
        return [], []
    _attach(con, path, "prev")
    try:
        wanted = [f"{lib}\x1f{version}" for lib, version in keep]
        where = "list_contains(?, library || chr(31) || version)"
        harvests: dict[tuple[str, str], LibraryHarvest] = {}
        for lib, version, python, seconds, at, revision in con.execute(
                f"SELECT library, version, python, seconds, harvested_at, "
                f"{_harvester_sql(con, 'prev')} FROM prev.doc_libraries WHERE {where}",
                [wanted]).fetchall():
            harvests[(lib, version)] = LibraryHarvest(lib, "ok", version, python, seconds=seconds,
                                                      harvested_at=at, harvester=revision)
        for lib, version, obj, kind, sig, aliases in con.execute(
                f"SELECT library, version, object, kind, signature, aliases FROM prev.doc_objects "
                f"WHERE {where} ORDER BY library, version, object", [wanted]).fetchall():
            harvests[(lib, version)].objects.append(
                DocObject(lib, version, obj, kind, sig, "", list(aliases)))
        snippets = [Snippet(*row) for row in con.execute(
            f"SELECT library, version, object, kind, signature, section, text, source FROM "
            f"prev.docs WHERE {where} ORDER BY id", [wanted]).fetchall()]
        # a file from before the table: the counts come with the next harvest
        if has_table(con, "doc_usage", "prev"):
            for lib, version, name, uses in con.execute(
                    f"SELECT library, version, name, uses FROM prev.doc_usage WHERE {where}",
                    [wanted]).fetchall():
                if (lib, version) in harvests:
                    harvests[(lib, version)].usage[name] = uses
        if has_table(con, "doc_links", "prev"):
            for lib, version, obj, target in con.execute(
                    f"SELECT library, version, object, target FROM prev.doc_links "
                    f"WHERE {where} ORDER BY ALL", [wanted]).fetchall():
                if (lib, version) in harvests:
                    harvests[(lib, version)].links.setdefault(obj, []).append(target)
        return list(harvests.values()), snippets
    finally:
        con.execute("DETACH prev")


def _attach(con: duckdb.DuckDBPyConnection, path: Path, alias: str,
            timeout: float = 10.0) -> None:
    quoted = str(path).replace("'", "''")
    deadline = time.monotonic() + timeout
    while True:
        try:
            con.execute(f"ATTACH '{quoted}' AS {alias} (READ_ONLY)")
            return
        except duckdb.Error as exc:
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


# -- stages --------------------------------------------------------------------------------------

def _harvest_all(libraries: list[str], python: str, timeout: float,
                 say: Reporter) -> list[LibraryHarvest]:
    results: list[LibraryHarvest] = []
    if not libraries:
        return results
    with ThreadPoolExecutor(min(HARVEST_WORKERS, len(libraries)),
                            thread_name_prefix="spark-harvest") as pool:
        futures = [pool.submit(harvest_library, lib, python, timeout=timeout)
                   for lib in libraries]
        try:
            for future in futures:
                res = future.result()
                say(f"harvested {res.library} {res.version}: {len(res.objects)} objects "
                    f"in {res.seconds:.1f} s" if res.ok else f"skipped {res.message}")
                results.append(res)
        except BaseException:
            for f in futures:
                f.cancel()
            kill_children()  # threads blocked on a child return at once
            raise
    return results


def _summaries(snippets: list[Snippet]) -> dict[tuple[str, str, str], str]:
    """First paragraph after the signature line of each object's summary snippet."""
    found: dict[tuple[str, str, str], str] = {}
    for s in snippets:
        if s.section == "summary":
            parts = s.text.split("\n\n")
            found[(s.library, s.version, s.object)] = parts[1] if len(parts) > 1 else ""
    return found


def _embed(snippets: list[Snippet], home: Path, progress: bool, say: Reporter,
           previous: Path | None) -> tuple[list[str], np.ndarray, int]:
    """Content hashes and vectors (zero rows: not embedded) for every snippet; new ones cached."""
    texts = [s.embed_text() for s in snippets]
    hashes = [content_hash(t, MODEL_KEY) for t in texts]
    vectors = np.zeros((len(snippets), DIM), dtype=np.float32)
    wanted = [i for i, s in enumerate(snippets) if s.section in EMBED_SECTIONS]
    new = 0
    with vector_cache(home) as cache:
        found = cache.get([hashes[i] for i in wanted])
        if previous is not None and len(found) < len(wanted):
            rescued = _vectors_from(previous, {hashes[i] for i in wanted} - set(found))
            if rescued:
                cache.put(list(rescued), np.stack(list(rescued.values())))
                found.update(rescued)
        missing: dict[str, list[int]] = {}
        for i in wanted:
            vec = found.get(hashes[i])
            if vec is not None:
                vectors[i] = vec
            else:
                missing.setdefault(hashes[i], []).append(i)
        say(f"vectors: {len(wanted) - sum(map(len, missing.values()))} from the cache, "
            f"{len(missing)} to embed")
        if missing:
            keys = list(missing)
            with progress_bar(len(keys), "embedding", progress) as bar:
                for start in range(0, len(keys), EMBED_CHUNK):
                    chunk = keys[start:start + EMBED_CHUNK]
                    vecs = embed_texts([texts[missing[h][0]] for h in chunk],
                                       progress=bar.update)
                    cache.put(chunk, vecs)  # committed: an interrupted build keeps these
                    for h, vec in zip(chunk, vecs, strict=True):
                        vectors[missing[h]] = vec
                    new += len(chunk)
    return hashes, vectors, new


def _vectors_from(path: Path, hashes: set[str]) -> dict[str, np.ndarray]:
    """Vectors stored in a previous knowledge base (when the cache file was lost)."""
    if not hashes or not path.exists():
        return {}
    try:
        con = connect(path, read_only=True, timeout=5.0)
    except KBError:
        return {}
    try:
        rows = con.execute("SELECT content_hash, embedding FROM docs WHERE embedding IS NOT NULL "
                           "AND list_contains(?, content_hash)", [list(hashes)]).fetchall()
    except duckdb.Error:
        return {}
    finally:
        con.close()
    return {h: np.asarray(v, dtype=np.float32) for h, v in rows}


def _names(snippets: list[Snippet], objects: list[DocObject]) -> list[str]:
    aliases = {(o.library, o.version, o.object): o.aliases for o in objects}
    return [" ".join([s.object, *aliases.get((s.library, s.version, s.object), [])[:10]])
            for s in snippets]


def build_indexes(con: duckdb.DuckDBPyConnection) -> None:
    """Full-text over names + text, HNSW (cosine) over the vectors."""
    con.execute("PRAGMA create_fts_index('docs', 'id', 'names', 'text', stemmer='english', "
                "stopwords='english', overwrite=1)")
    # Postings clustered by term: a query reads the few row groups of its terms (zone maps)
    # instead of all of them — BM25 ~3x faster on 68k snippets. Same table, same macros.
    con.execute("CREATE TABLE fts_main_docs.terms_by_term AS "
                "SELECT * FROM fts_main_docs.terms ORDER BY termid, docid")
    con.execute("DROP TABLE fts_main_docs.terms")
    con.execute("ALTER TABLE fts_main_docs.terms_by_term RENAME TO terms")
    con.execute("SET hnsw_enable_experimental_persistence = true")
    con.execute("DROP INDEX IF EXISTS docs_embedding_hnsw")
    # ef_construction 64 instead of 128 halves the build (25k vectors: 8.2 -> 4.4 s); of the
    # exact 50 nearest, 98.3% are still among the 200 neighbours a search fetches (99.3%), and
    # DS-1000 retrieval is unchanged (benchmarks/eval_retrieval.py). Either way a graph can
    # leave a few neighbourhoods out of reach: `bench_kb.py --steps recall` counts the queries
    # that find fewer than half of their 10 nearest (1 of 1,055 at 64 and at 128).
    con.execute("CREATE INDEX docs_embedding_hnsw ON docs USING HNSW (embedding) "
                "WITH (metric = 'cosine', ef_construction = 64)")


def _copy_other_tables(con: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    """Cards, traces, journal offsets, meta — every table of the current file but the docs."""
    _attach(con, path, "cur")
    notes = []
    try:
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = 'cur' AND "
            "schema_name = 'main' ORDER BY table_name").fetchall()]
        mine = {r[0]: r[1] for r in con.execute(
            "SELECT table_name, list(column_name ORDER BY column_index) FROM duckdb_columns() "
            "WHERE database_name = current_database() AND schema_name = 'main' "
            "GROUP BY table_name").fetchall()}
        for table in tables:
            if table in DOC_TABLES or table == "schema_migrations":
                continue
            if table not in mine:
                notes.append(f"table {table} of the current file is unknown here; not copied")
                continue
            theirs = {r[0] for r in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE database_name = 'cur' AND "
                "schema_name = 'main' AND table_name = ?", [table]).fetchall()}
            cols = ", ".join(f'"{c}"' for c in mine[table] if c in theirs)
            con.execute(f'DELETE FROM main."{table}"')
            con.execute(f'INSERT INTO main."{table}" ({cols}) SELECT {cols} FROM cur.main."{table}"')
    finally:
        con.execute("DETACH cur")
    return notes


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _swap(con: duckdb.DuckDBPyConnection, tmp: Path, path: Path, home: Path,
          timeout: float, build_id: str) -> list[str]:
    """Under the writer lock: bring over what writers added meanwhile, then rename."""
    notes: list[str] = []
    with writer_lock(home, timeout=timeout):
        if path.exists():
            notes += _copy_other_tables(con, path)
        sync_seeds(con)
        write_meta(con, {"docs_build_id": build_id,
                         "docs_built_at": utc_now().isoformat(timespec="seconds")})
        con.execute("CHECKPOINT")
        con.close()
        if tmp.with_name(tmp.name + ".wal").exists():
            raise KBError(f"{tmp} still has a write-ahead log after closing; not swapped in")
        _fsync(tmp)
        old_wal = path.with_name(path.name + ".wal")
        if old_wal.exists():
            # Left by a crashed writer. Its commits were read through ATTACH above; beside the
            # new file it would be replayed into the wrong database.
            old_wal.rename(old_wal.with_name(f"{old_wal.name}.replaced-{build_id[:8]}"))
        os.replace(tmp, path)
        _fsync(path.parent)
    return notes


# -- the build -----------------------------------------------------------------------------------

def build_docs(home: Path | None = None, *, python: str | None = None,
               libraries: str | list[str] | None = None, rebuild: bool = False,
               timeout: float = DEFAULT_TIMEOUT, progress: bool = True,
               say: Reporter | None = None, lock_timeout: float = 30.0) -> BuildReport:
    """Harvest `libraries` (default: Spark's list) from `python`, embed, index, swap in.

    Library versions already documented in the knowledge base are carried over without
    harvesting (unless `rebuild`); versions documented before and not touched by this build stay
    too (unless `rebuild`, which keeps only what this build harvested). Raises KBError (and its
    subclasses) with a message for the user; the old file is left as it was.
    """
    home = spark_home() if home is None else home
    say = say or _quiet
    path = kb_file(home)
    exe = python_executable(python)
    report = BuildReport(path, exe)
    tmp = home / f"{BUILD_PREFIX}{os.getpid()}"
    clock = time.monotonic()

    def stage(name: str) -> None:
        nonlocal clock
        now = time.monotonic()
        report.seconds[name] = report.seconds.get(name, 0.0) + now - clock
        clock = now

    with build_lock(home), _sigterm_as_interrupt():
        for left in remove_leftovers(home):
            report.notes.append(f"removed {left.name}, left by an interrupted build")
        previous = _read_previous(path, lock_timeout)
        wanted = parse_libraries(libraries)
        versions = installed_in(exe, wanted)
        to_harvest = []
        for lib in wanted:
            version = versions.get(lib)
            if version is None:
                report.libraries.append(LibraryResult(lib, "missing", message=(
                    f"{lib}: not installed in {exe}; skipped")))
            elif rebuild or version == "unknown" or (lib, version) not in previous.libraries \
                    or previous.libraries[(lib, version)]["harvester"] < HARVESTER:
                to_harvest.append(lib)
        harvests = _harvest_all(to_harvest, exe, timeout, say)
        stage("harvest")
        done = {(h.library, h.version) for h in harvests if h.ok}
        failed = {h.library for h in harvests if not h.ok}
        for h in harvests:
            if not h.ok:
                report.libraries.append(LibraryResult(h.library, h.status, h.version,
                                                      seconds=h.seconds, message=h.message))
        # Everything documented before and not harvested again stays (other versions, other
        # libraries); with --rebuild only the libraries whose harvest failed keep their docs.
        keep = [k for k in previous.libraries
                if k not in done and (not rebuild or k[0] in failed)]

        snippets: list[Snippet] = []
        objects: list[DocObject] = []
        for h in harvests:
            if not h.ok:
                continue
            count = 0
            source = f"introspected from {h.library} {h.version}"
            for obj in h.objects:
                for section, text in sections_of(obj):
                    snippets.append(Snippet(obj.library, obj.version, obj.object, obj.kind,
                                            obj.signature, section, text, source))
                    count += 1
            objects += h.objects
            report.libraries.append(LibraryResult(h.library, "harvested", h.version,
                                                  len(h.objects), count, h.seconds, h.message))
        stage("sections")

        try:
            con = connect(tmp, timeout=lock_timeout)
            try:
                with kb_errors(tmp):
                    migrate(con, tmp)
                    kept_harvests, kept_snippets = _load_previous_docs(con, path, keep)
                    for h in kept_harvests:
                        n = sum(1 for s in kept_snippets
                                if (s.library, s.version) == (h.library, h.version))
                        status = "unchanged" if h.library in wanted and \
                            versions.get(h.library) == h.version else "kept"
                        report.libraries.append(LibraryResult(h.library, status, h.version,
                                                              len(h.objects), n))
                    objects += [o for h in kept_harvests for o in h.objects]
                    harvests += kept_harvests
                    snippets += kept_snippets
                    stage("copy")
                    hashes, vectors, report.newly_embedded = _embed(
                        snippets, home, progress, say, path if path.exists() else None)
                    stage("embed")
                    con.execute("BEGIN TRANSACTION")
                    insert_snippets(con, snippets, _names(snippets, objects), hashes, vectors)
                    _insert_all_objects(con, objects, _summaries(snippets))
                    _insert_libraries(con, harvests, snippets)
                    con.execute("COMMIT")
                    stage("insert")
                    say(f"indexing {len(snippets)} snippets (full text, HNSW)")
                    build_indexes(con)
                    con.execute("CHECKPOINT")
                    stage("index")
                    report.snippets = len(snippets)
                    report.embedded = int(np.any(vectors != 0, axis=1).sum())
                    report.notes += _swap(con, tmp, path, home, lock_timeout, uuid.uuid4().hex)
                    stage("swap")
            finally:
                try:
                    con.close()
                except duckdb.Error:
                    pass
        except BaseException as exc:
            _remove(tmp)
            if isinstance(exc, (KBError, OSError, duckdb.Error)) and is_disk_full(exc):
                raise KBError(
                    f"the disk filled up while building the documentation ({exc}). Nothing was "
                    f"changed: {path} keeps serving the previous knowledge base. Free some "
                    f"space in {home} and run `spark kb build` again.") from exc
            raise
    report.size_bytes = path.stat().st_size
    report.libraries.sort(key=lambda r: r.library)
    if report.newly_embedded and model_loaded():
        # the model is loaded anyway: export the query encoder now (~3 s), not on the first
        # search (it never raises: without it, searches embed with PyTorch)
        onnx_encoder(MAX_SEQ_LENGTH)
    return report


def _insert_all_objects(con: duckdb.DuckDBPyConnection, objects: list[DocObject],
                        summaries: dict[tuple[str, str, str], str]) -> None:
    by_version: dict[tuple[str, str], list[DocObject]] = {}
    for o in objects:
        by_version.setdefault((o.library, o.version), []).append(o)
    for (lib, version), objs in by_version.items():
        insert_objects(con, objs, {o.object: summaries.get((lib, version, o.object), "")
                                   for o in objs})


def _insert_libraries(con: duckdb.DuckDBPyConnection, harvests: list[LibraryHarvest],
                      snippets: list[Snippet]) -> None:
    counts: dict[tuple[str, str], int] = {}
    for s in snippets:
        counts[(s.library, s.version)] = counts.get((s.library, s.version), 0) + 1
    now = utc_now()
    for h in harvests:
        if h.ok:
            con.execute("INSERT OR REPLACE INTO doc_libraries (library, version, python, "
                        "objects, snippets, harvested_at, seconds, harvester) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [h.library, h.version, h.python, len(h.objects),
                         counts.get((h.library, h.version), 0), h.harvested_at or now,
                         round(h.seconds, 3), h.harvester])
            insert_usage(con, h.library, h.version, h.usage)
            insert_links(con, h.library, h.version, h.links)


__all__ = ["BuildReport", "LibraryResult", "build_docs", "build_indexes", "is_disk_full",
           "remove_leftovers", "schema_version"]
