"""What an API is, for hover: signature, summary, version and a link, from the knowledge base.

Plain lookups in `doc_objects` through a short-lived read-only connection without extensions:
no model, no index, a few milliseconds — safe to call for every hover (from an executor).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from spark_lsp.config import spark_home
from spark_lsp.kb.db import KBError, kb_file
from spark_lsp.kb.docs_store import default_versions, has_docs
from spark_lsp.kb.reader import KBReader

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


def _reader(path: Path) -> KBReader:
    with _readers_lock:
        if path not in _readers:
            _readers[path] = KBReader(path, extensions=False)
        return _readers[path]


def describe_symbol(qualname: str, versions: Mapping[str, str] | None = None, *,
                    home: Path | None = None) -> SymbolDoc | None:
    """The documented object `qualname` names (canonical name or alias), for the version in
    `versions` (else the knowledge base's default for that library); None when unknown.

    Never raises for a missing, busy, damaged or too-new knowledge base: hover just has nothing
    to add then (the problem is logged).
    """
    path = kb_file(spark_home() if home is None else home)
    names = candidate_names(qualname)
    library = qualname.split(".")[0]
    try:
        with _reader(path).connection() as con:
            if con is None or not has_docs(con):
                return None
            installed = dict(versions or {})
            chosen = default_versions(con, installed)
            version = chosen.get(library)
            if version is None:
                return None
            row = con.execute(
                "SELECT object, kind, signature, summary FROM doc_objects WHERE library = ? AND "
                "version = ? AND (list_contains(?, object) OR list_has_any(aliases, ?)) "
                "ORDER BY list_position(?, object) NULLS LAST LIMIT 1",
                [library, version, names, names, names]).fetchone()
    except KBError as exc:
        log.info("no documentation for %s: %s", qualname, exc)
        return None
    if row is None:
        return None
    obj, kind, signature, summary = row
    return SymbolDoc(obj, library, version, kind, signature, summary,
                     doc_link(library, version, obj, kind))
