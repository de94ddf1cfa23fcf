"""The documentation tables (migration 002): bulk writes, reads of a previous build, statistics.

Bulk writes go through numpy arrays that DuckDB scans in place: `executemany` is ~50x slower,
and vectors become `FLOAT[384]` in SQL, so no pandas or pyarrow is needed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from spark_lsp.config import spark_home
from spark_lsp.kb.db import kb_errors, kb_file, open_readonly
from spark_lsp.kb.embed import DIM
from spark_lsp.kb.harvest import DocObject, Snippet
from spark_lsp.kb.migrate import schema_version

log = logging.getLogger(__name__)

DOCS_SCHEMA = 2  # the migration that created the documentation tables
DOC_TABLES = ("doc_libraries", "doc_objects", "docs", "doc_usage", "doc_links")
_VECTOR_COLUMNS = ", ".join(f"_docs_vec.column{i}" for i in range(DIM))


def has_docs(con: duckdb.DuckDBPyConnection) -> bool:
    return schema_version(con) >= DOCS_SCHEMA


def _column(values: list[Any]) -> np.ndarray:
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    return arr


@contextmanager
def registered(con: duckdb.DuckDBPyConnection, arrays: dict[str, np.ndarray]) -> Iterator[str]:
    """Register 1-D arrays as one-column views; yields `a POSITIONAL JOIN b ...` over them."""
    for name, arr in arrays.items():
        con.register(name, arr)
    try:
        yield " POSITIONAL JOIN ".join(arrays)
    finally:
        for name in arrays:
            con.unregister(name)


def insert_snippets(con: duckdb.DuckDBPyConnection, snippets: list[Snippet], names: list[str],
                    hashes: list[str], vectors: np.ndarray | None, first_id: int = 0) -> None:
    """Insert snippets with ids first_id.., each with its row of `vectors` unless that is zero."""
    if not snippets:
        return
    cols = {
        "id": np.arange(first_id, first_id + len(snippets), dtype=np.int32),
        "library": _column([s.library for s in snippets]),
        "version": _column([s.version for s in snippets]),
        "object": _column([s.object for s in snippets]),
        "kind": _column([s.kind for s in snippets]),
        "signature": _column([s.signature for s in snippets]),
        "section": _column([s.section for s in snippets]),
        "text": _column([s.text for s in snippets]),
        "source": _column([s.source for s in snippets]),
        "names": _column(names),
        "content_hash": _column(hashes),
    }
    has_vec = (np.zeros(len(snippets), dtype=bool) if vectors is None
               else np.any(vectors != 0, axis=1))
    target = ", ".join(cols)
    # DuckDB has no CASE over FLOAT[384]: rows with and without a vector go in two statements.
    for with_vec in (True, False):
        mask = has_vec if with_vec else ~has_vec
        if not mask.any():
            continue
        arrays = {f"_docs_{k}": v[mask] for k, v in cols.items()}
        select = ", ".join(f"{name}.column0" for name in arrays)
        if with_vec and vectors is not None:
            # A 2-D array scans as one column per row: transposed, one column per dimension.
            arrays["_docs_vec"] = np.ascontiguousarray(vectors[mask].T)
            select += f", [{_VECTOR_COLUMNS}]::FLOAT[{DIM}]"
        with registered(con, arrays) as joined:
            con.execute(f"INSERT INTO docs ({target}{', embedding' if with_vec else ''}) "
                        f"SELECT {select} FROM {joined}")


def insert_usage(con: duckdb.DuckDBPyConnection, library: str, version: str,
                 usage: dict[str, int]) -> None:
    """How often each member name of that library version is used in its own source."""
    if usage:
        names = sorted(usage)
        con.execute("INSERT OR REPLACE INTO doc_usage SELECT ?, ?, unnest(?::VARCHAR[]), "
                    "unnest(?::INTEGER[])",
                    [library, version, names, [min(usage[n], 2**31 - 1) for n in names]])


def insert_links(con: duckdb.DuckDBPyConnection, library: str, version: str,
                 links: dict[str, list[str]]) -> None:
    """The objects each object's "See Also" section names (`harvest.see_also_links`)."""
    pairs = sorted({(obj, target) for obj, targets in links.items() for target in targets})
    if pairs:
        con.execute("INSERT OR REPLACE INTO doc_links SELECT ?, ?, unnest(?::VARCHAR[]), "
                    "unnest(?::VARCHAR[])",
                    [library, version, [p[0] for p in pairs], [p[1] for p in pairs]])


def insert_objects(con: duckdb.DuckDBPyConnection, objects: list[DocObject],
                   summaries: dict[str, str]) -> None:
    if not objects:
        return
    arrays = {
        "_o_library": _column([o.library for o in objects]),
        "_o_version": _column([o.version for o in objects]),
        "_o_object": _column([o.object for o in objects]),
        "_o_kind": _column([o.kind for o in objects]),
        "_o_signature": _column([o.signature for o in objects]),
        "_o_summary": _column([summaries.get(o.object, "") for o in objects]),
        "_o_aliases": _column(["\x1f".join(o.aliases) for o in objects]),
    }
    with registered(con, arrays) as joined:
        con.execute(
            "INSERT INTO doc_objects SELECT _o_library.column0, _o_version.column0, "
            "_o_object.column0, _o_kind.column0, _o_signature.column0, _o_summary.column0, "
            "CASE WHEN _o_aliases.column0 = '' THEN []::VARCHAR[] "
            f"ELSE string_split(_o_aliases.column0, chr(31)) END FROM {joined}")


# -- statistics ----------------------------------------------------------------------------------

@dataclass
class DocsStats:
    snippets: int = 0
    embedded: int = 0
    libraries: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if not data["notes"]:
            del data["notes"]
        return data


def library_versions(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, int]]:
    """library -> version -> snippets, for every harvested library version in the file."""
    found: dict[str, dict[str, int]] = {}
    for library, version, n in con.execute(
            "SELECT library, version, snippets FROM doc_libraries ORDER BY library, "
            "harvested_at").fetchall():
        found.setdefault(library, {})[version] = n
    return found


def default_versions(con: duckdb.DuckDBPyConnection,
                     installed: dict[str, str] | None = None) -> dict[str, str]:
    """The version of each library that search uses unless told otherwise.

    The installed version when the file holds it; otherwise the most recently harvested one (a
    library documented from another interpreter with `--python`).
    """
    if installed is None:
        from spark_lsp.analysis import installed_versions

        installed = installed_versions()
    chosen: dict[str, str] = {}
    for library, versions in library_versions(con).items():
        want = installed.get(library)
        chosen[library] = want if want in versions else list(versions)[-1]
    return chosen


def docs_stats(home: Path | None = None, *, timeout: float = 2.0) -> DocsStats:
    """`spark kb stats`: snippets, how many have vectors, and per library its default version."""
    home = spark_home() if home is None else home
    path = kb_file(home)
    stats = DocsStats()
    con = open_readonly(path, timeout=timeout, memory=False)
    if con is None:
        stats.notes.append("no knowledge base yet: run `spark kb build`" if not path.is_file()
                           else "the knowledge base is busy; try again in a moment")
        return stats
    try:
        with kb_errors(path):
            if not has_docs(con):
                stats.notes.append("no documentation yet: run `spark kb build`")
                return stats
            row = con.execute("SELECT count(*), count(embedding) FROM docs").fetchone()
            stats.snippets, stats.embedded = (int(row[0]), int(row[1])) if row else (0, 0)
            versions = library_versions(con)
            for library, version in default_versions(con).items():
                entry: dict[str, Any] = {"version": version, "snippets": versions[library][version]}
                if len(versions[library]) > 1:
                    entry["versions"] = versions[library]
                stats.libraries[library] = entry
    finally:
        con.close()
    return stats
