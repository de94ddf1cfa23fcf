"""What an API is, for hover: signature, summary, version, a link and the objects its "See Also"
names, from the knowledge base.

Plain lookups in `doc_objects` (and `doc_links`) through a short-lived read-only connection
without extensions: no model, no index, a few milliseconds — safe to call for every hover (from
an executor).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from spark_lsp.config import spark_home
from spark_lsp.kb.db import KBError, has_table, kb_file
from spark_lsp.kb.docs_store import default_versions, has_docs
from spark_lsp.kb.reader import KBReader, file_identity

log = logging.getLogger(__name__)

# Short type names used by the analysis (`analysis.types`) -> the public class they stand for.
TYPE_NAMES = {
    "pandas.obj": ("pandas.DataFrame", "pandas.Series"),
    "dask.DataFrame": ("dask.dataframe.DataFrame",),
    "dask.Series": ("dask.dataframe.Series",),
    "dask.obj": ("dask.dataframe.DataFrame", "dask.dataframe.Series"),
    "dask.Array": ("dask.array.Array",),
    "matplotlib.Axes": ("matplotlib.axes.Axes",),
    "matplotlib.Figure": ("matplotlib.figure.Figure",),
    "torch.Module": ("torch.nn.Module",),
    "numpy.Generator": ("numpy.random.Generator",),
    "keras.Model": ("keras.Model",),
    "pandas.GroupBy": ("pandas.api.typing.DataFrameGroupBy",),
    # accessor namespaces: pandas documents them under Series (Index's are aliases), Dask as
    # classes of its own that `dask.dataframe.Series.str` names
    "pandas.accessor.str": ("pandas.Series.str",),
    "pandas.accessor.dt": ("pandas.Series.dt",),
    "dask.accessor.str": ("dask.dataframe.Series.str",),
    "dask.accessor.dt": ("dask.dataframe.Series.dt",),
}


@dataclass
class SymbolDoc:
    object: str  # the documented name
    library: str
    version: str
    kind: str
    signature: str
    summary: str
    link: str | None
    see_also: list[str] = field(default_factory=list)  # what its documentation's "See Also" names

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def candidate_names(qualname: str) -> list[str]:
    """`pandas.obj.sort_values` -> pandas.DataFrame.sort_values, pandas.Series.sort_values."""
    names = [qualname]
    for short, targets in TYPE_NAMES.items():
        if qualname == short or qualname.startswith(short + "."):
            rest = qualname[len(short):]
            names += [t + rest for t in targets]
    return list(dict.fromkeys(names))


def _major_minor(version: str) -> str:
    m = re.match(r"(\d+)\.(\d+)", version)
    return f"{m.group(1)}.{m.group(2)}" if m else version


def doc_link(library: str, version: str, obj: str, kind: str) -> str | None:
    """The library's page for `obj` at (about) that version, when its URL scheme is known."""
    mm = _major_minor(version)
    plain = version.split("+")[0]
    owner = obj.rsplit(".", 1)[0]
    member = kind in ("method", "property")
    if library == "pandas":
        return f"https://pandas.pydata.org/pandas-docs/version/{plain}/reference/api/{obj}.html"
    if library == "numpy":
        return f"https://numpy.org/doc/{mm}/reference/generated/{obj}.html"
    if library == "scipy":
        return f"https://docs.scipy.org/doc/scipy-{plain}/reference/generated/{obj}.html"
    if library == "sklearn":
        page = owner if member else obj
        return f"https://scikit-learn.org/{mm}/modules/generated/{page}.html" + \
            (f"#{obj}" if member else "")
    if library == "matplotlib":
        return f"https://matplotlib.org/{plain}/api/_as_gen/{obj}.html"
    if library == "torch":
        return f"https://docs.pytorch.org/docs/{mm}/generated/{obj}.html"
    if library == "tensorflow":
        page = owner if member else obj
        path = "tf/" + "/".join(page.split(".")[1:]) if "." in page else "tf"
        return f"https://www.tensorflow.org/versions/r{mm}/api_docs/python/{path}" + \
            (f"#{obj.rsplit('.', 1)[1]}" if member else "")
    if library == "dask":
        return f"https://docs.dask.org/en/stable/generated/{obj}.html"
    if library == "keras":
        return f"https://keras.io/search.html?query={obj.rsplit('.', 1)[-1]}"
    return None


_readers: dict[Path, KBReader] = {}
_readers_lock = threading.Lock()
_Row = tuple[str, str, str, str]  # object, kind, signature, summary


class _NameTable:
    """One library version's documented names and aliases, in memory: a hover or an agent
    query looks up several names, and a dict answers in microseconds where a query over
    `doc_objects` takes 10-50 ms on a loaded machine. Loaded on first use, per file."""

    def __init__(self, rows: list[tuple[str, str, str, str, list[str] | None]],
                 links: list[tuple[str, str]] = ()) -> None:
        self.canonical: dict[str, _Row] = {}
        self.aliases: dict[str, _Row] = {}
        self.links: dict[str, list[str]] = {}
        for obj, target in links:
            self.links.setdefault(obj, []).append(target)
        for obj, kind, signature, summary, aliases in rows:
            row = (obj, kind, signature or "", summary or "")
            self.canonical[obj] = row
            for alias in aliases or ():
                self.aliases.setdefault(alias, row)

    def find(self, names: list[str]) -> _Row | None:
        for name in names:
            if name in self.canonical:
                return self.canonical[name]
        for name in names:
            if name in self.aliases:
                return self.aliases[name]
        return None


class _FileCache:
    def __init__(self, identity: tuple[int, int]) -> None:
        self.identity = identity
        self.versions: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}
        self.tables: dict[tuple[str, str], _NameTable] = {}


_caches: dict[Path, _FileCache] = {}


def _reader(path: Path) -> KBReader:
    with _readers_lock:
        if path not in _readers:
            _readers[path] = KBReader(path, extensions=False)
        return _readers[path]


def _lookup(path: Path, library: str, names: list[str],
            versions: Mapping[str, str] | None) -> tuple[str, _Row, list[str]] | None:
    identity = file_identity(path)
    if identity is None:
        return None
    with _readers_lock:
        cache = _caches.get(path)
        if cache is None or cache.identity != identity:  # a build swapped in a new file
            cache = _caches[path] = _FileCache(identity)
    key = tuple(sorted((versions or {}).items()))
    chosen = cache.versions.get(key)
    version = chosen.get(library) if chosen is not None else None
    table = cache.tables.get((library, version)) if version is not None else None
    if chosen is None or (version is not None and table is None):
        with _reader(path).connection() as con:
            if con is None or not has_docs(con):
                return None
            if chosen is None:
                chosen = cache.versions[key] = default_versions(con, dict(versions or {}))
            version = chosen.get(library)
            if version is None:
                return None
            table = cache.tables.get((library, version))
            if table is None:
                table = cache.tables[(library, version)] = _NameTable(con.execute(
                    "SELECT object, kind, signature, summary, aliases FROM doc_objects "
                    "WHERE library = ? AND version = ?", [library, version]).fetchall(),
                    con.execute(  # a file from before the table has no links
                        "SELECT object, target FROM doc_links WHERE library = ? AND "
                        "version = ? ORDER BY ALL", [library, version]).fetchall()
                    if has_table(con, "doc_links") else [])
    if version is None or table is None:
        return None
    row = table.find(names)
    return (version, row, table.links.get(row[0], [])) if row is not None else None


def describe_symbol(qualname: str, versions: Mapping[str, str] | None = None, *,
                    home: Path | None = None) -> SymbolDoc | None:
    """The documented object `qualname` names (canonical name or alias), for the version in
    `versions` (else the knowledge base's default for that library); None when unknown.

    Never raises for a missing, busy, damaged or too-new knowledge base: hover just has nothing
    to add then (the problem is logged).
    """
    path = kb_file(spark_home() if home is None else home)
    library = qualname.split(".")[0]
    try:
        found = _lookup(path, library, candidate_names(qualname), versions)
    except KBError as exc:
        log.info("no documentation for %s: %s", qualname, exc)
        return None
    if found is None:
        return None
    version, (obj, kind, signature, summary), see_also = found
    return SymbolDoc(obj, library, version, kind, signature, summary,
                     doc_link(library, version, obj, kind), list(see_also))


_CHANGE_SQL = ("(section = 'deprecation' OR regexp_matches(text, "
               "'(?i)versionchanged|deprecated|removed|renamed|no longer|will be removed'))")


def find_symbols(name: str, versions: Mapping[str, str] | None = None, *,
                 home: Path | None = None, libraries: list[str] | None = None,
                 k: int = 3) -> list[SymbolDoc]:
    """Documented objects whose qualified name is `name` or ends with `.name` (a class named in
    an error message: `AgglomerativeClustering`, `DataFrame.append`), shortest names first;
    [] when the knowledge base has no documentation (never raises for it)."""
    if not re.fullmatch(r"[A-Za-z_][\w.]{0,200}", name):
        return []
    path = kb_file(spark_home() if home is None else home)
    try:
        with _reader(path).connection() as con:
            if con is None or not has_docs(con):
                return []
            chosen = default_versions(con, dict(versions or {}))
            scope = [f"{lib}\x1f{v}" for lib, v in chosen.items()
                     if libraries is None or lib in libraries]
            rows = con.execute(
                "SELECT library, version, object, kind, signature, summary FROM doc_objects "
                "WHERE list_contains(?, library || chr(31) || version) AND (object = ? OR "
                "ends_with(object, '.' || ?)) ORDER BY length(object), object LIMIT ?",
                [scope, name, name, k]).fetchall()
    except KBError as exc:
        log.info("no documentation for %s: %s", name, exc)
        return []
    return [SymbolDoc(obj, lib, version, kind, signature, summary,
                      doc_link(lib, version, obj, kind))
            for lib, version, obj, kind, signature, summary in rows]


def change_notes(library: str, version: str, *, obj: str | None = None,
                 mentioning: str | None = None, home: Path | None = None,
                 k: int = 3) -> list[tuple[str, str]]:
    """(object, text) of documentation snippets that describe a version change (deprecation
    sections, "versionchanged", "removed", "renamed"…) of `obj` or its members, mentioning a
    word when given (a removed attribute, a keyword argument); `obj` itself first."""
    if not obj and not mentioning:
        return []
    path = kb_file(spark_home() if home is None else home)
    where, args = [_CHANGE_SQL, "library = ?", "version = ?"], [library, version]
    if mentioning:
        where.append("contains(text, ?)")
        args.append(mentioning)
    if obj:
        where.append("(object = ? OR starts_with(object, ? || '.'))")
        args += [obj, obj]
    try:
        with _reader(path).connection() as con:
            if con is None or not has_docs(con):
                return []
            rows = con.execute(
                f"SELECT object, text FROM docs WHERE {' AND '.join(where)} "
                "ORDER BY (object = ?) DESC, length(object), id LIMIT ?",
                [*args, obj or "", k]).fetchall()
    except KBError as exc:
        log.info("no change notes for %s: %s", obj or mentioning, exc)
        return []
    return [(o, t) for o, t in rows]
