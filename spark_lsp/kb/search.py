"""Search the documentation: BM25 (DuckDB fts), vectors (HNSW, vss), fuzzy symbol names
(rapidfuzz), and hybrid = reciprocal-rank fusion of the three.

Results are objects, not raw snippets: each mode ranks snippets, the best snippet of an object
stands for it, and one hit per object comes back. Search is restricted to one version per
library: the installed one when the knowledge base holds it (see `docs_store.default_versions`).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import numpy as np

from spark_lsp.config import spark_home
from spark_lsp.kb.bm25 import Postings
from spark_lsp.kb.db import KBError, has_table, kb_file, load_extensions
from spark_lsp.kb.docs_store import default_versions, has_docs
from spark_lsp.kb.embed import DIM, ModelUnavailable, embed_query, vector_literal
from spark_lsp.kb.fusion import Key, Links, Ranking, Usage, fuse, top, usage_table
from spark_lsp.kb.harvest import clean_text, import_name
from spark_lsp.kb.reader import KBReader
from spark_lsp.kb.symbol_index import QueryTerms, SymbolIndex, hinted_libraries, query_terms

log = logging.getLogger(__name__)
T = TypeVar("T")

MODES = ("bm25", "vector", "fuzzy", "hybrid")
CANDIDATES = 50  # per mode, before fusion (kb/fusion.py)
RESCORED = 20  # the first of BM25's and of the names' that the vector mode scores exactly
JSON_KEYS = ("object", "library", "version", "kind", "section", "score", "text")


@dataclass
class DocHit:
    object: str  # fully qualified name
    library: str
    version: str
    kind: str
    section: str
    score: float
    text: str
    signature: str = ""
    source: str = ""
    modes: dict[str, int] = field(default_factory=dict)  # mode -> rank (1-based) it had there

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        return {k: data[k] for k in JSON_KEYS}


class SearchUnavailable(KBError):
    """No documentation to search yet (or the file is busy)."""


_SNIPPET_COLUMNS = "id, library, version, object, kind, section, text, signature, source"


def _scope(versions: dict[str, str], libraries: frozenset[str] | None) -> list[str]:
    pairs = [(lib, v) for lib, v in versions.items() if libraries is None or lib in libraries]
    return [f"{lib}\x1f{v}" for lib, v in pairs]


_SCOPE_SQL = "list_contains(?, library || chr(31) || version)"
# BM25 as DuckDB's fts `match_bm25` computes it (k1 = 1.2, b = 0.75, same tables and tokens),
# for all matching documents at once: the macro, evaluated once per row, is several times slower.
_BM25_SQL = """
WITH tokens AS (SELECT DISTINCT stem(unnest(fts_main_docs.tokenize(?)), 'english') AS t),
qt AS (SELECT termid, df FROM fts_main_docs.dict JOIN tokens ON term = t),
tf AS (SELECT docid, termid, count(*) AS tf FROM fts_main_docs.terms
       WHERE termid IN (SELECT termid FROM qt) GROUP BY docid, termid),
st AS (SELECT num_docs, avgdl FROM fts_main_docs.stats),
scored AS (
    SELECT d.name AS id, sum(log((st.num_docs - qt.df + 0.5) / (qt.df + 0.5) + 1) * tf.tf * 2.2
                             / (tf.tf + 1.2 * (0.25 + 0.75 * d.len / st.avgdl))) AS score
    FROM tf JOIN qt USING (termid) JOIN fts_main_docs.docs d USING (docid) CROSS JOIN st
    GROUP BY d.name)
SELECT s.id, docs.library, docs.version, docs.object, s.score
FROM scored s JOIN docs ON docs.id = s.id
WHERE {scope}
ORDER BY s.score DESC, s.id LIMIT ?
"""
_VECTOR_SQL = (f"SELECT id, library, version, object, array_cosine_distance(embedding, "
               f"?::FLOAT[{DIM}]) AS d FROM docs ORDER BY d LIMIT ?")


def _prose(query: str, max_words: int = 60) -> str:
    """The question's words without data dumps: long pasted tables drown BM25 and overflow
    the model's 128 tokens. Short queries pass unchanged."""
    if len(query.split()) <= max_words:
        return query
    kept = []
    for line in query.splitlines():
        words = line.split()
        if not words:
            continue
        alpha = sum(1 for w in words if re.fullmatch(r"[A-Za-z][A-Za-z'’,.:;?!()-]*", w))
        if alpha >= max(3, 0.6 * len(words)):
            kept.append(line.strip())
    text = " ".join(kept) or query
    return " ".join(text.split()[:max_words])


def _with_exact(found: Ranking, nearby: list[tuple[int, Key, np.ndarray]], query: np.ndarray,
                n: int) -> Ranking:
    """The HNSW neighbours `found`, with the `nearby` objects (the other modes' first
    candidates) that are nearer than the n-th neighbour by exact cosine, as an exact search
    would rank them. The HNSW graph can leave a neighbourhood out of reach: "read a parquet file"
    got torch's `read_file` and none of its 10 nearest summaries (`bench_kb.py --steps
    recall`), while BM25 and the names found `pandas.read_parquet`."""
    if not nearby:
        return found
    have = {key for _, key, _ in found}
    floor = found[n - 1][2] if len(found) >= n else -1.0
    q = query.astype(np.float32)
    merged = found + [(i, key, score) for i, key, vec in nearby if key not in have
                      for score in (float(vec @ q),) if score > floor]
    merged.sort(key=lambda f: (-f[2], f[0] or 0))
    return merged[:n]


def hnsw_fetches(n: int) -> tuple[int, int]:
    """How many HNSW neighbours a vector search for `n` results fetches: first, and again
    when the searched versions hold too few of them (`Searcher._vector`)."""
    return max(4 * n, 200), max(40 * n, 2000)


_EMBEDDER = ThreadPoolExecutor(1, thread_name_prefix="spark-embed-query")


class Searcher:
    """Search over one knowledge-base file; keeps a short-lived connection and name index."""

    def __init__(self, path: Path, *, idle: float = 2.0) -> None:
        self.path = path
        # extensions are loaded when a mode needs them (`_extension`), not on every reopen
        self.reader = KBReader(path, idle=idle, extensions=False)
        self._symbols: SymbolIndex | None = None
        self._symbols_key: tuple[Any, ...] | None = None
        self._versions: dict[str, str] | None = None
        self._done: tuple[int, set[str]] = (-1, set())  # see `_once_per_connection`
        self._file_state: dict[str, Any] = {}  # see `_per_file`
        self._file_key: tuple[int, int] | None = None
        self._lock = threading.Lock()
        self.timings: dict[str, float] = {}

    def close(self) -> None:
        self.reader.close()

    # -- per-file state ---------------------------------------------------------------------
    def _state(self, con: duckdb.DuckDBPyConnection, versions: dict[str, str] | None
               ) -> tuple[dict[str, str], SymbolIndex]:
        key = (self.reader.identity, tuple(sorted((versions or {}).items())))
        if self._symbols is None or key != self._symbols_key:
            chosen = default_versions(con, versions)
            self._symbols = SymbolIndex.load(con, chosen)
            self._versions = chosen
            self._symbols_key = key
        assert self._versions is not None
        return self._versions, self._symbols

    def _per_file(self, name: str, load: Callable[[], T]) -> T:
        """State read from the open file (postings, vectors, maps): loaded on first use, dropped
        when a build has replaced the file."""
        if self._file_key != self.reader.identity:
            self._file_state = {}
            self._file_key = self.reader.identity
        if name not in self._file_state:
            self._file_state[name] = load()
        return self._file_state[name]

    # -- modes --------------------------------------------------------------------------------
    def _once_per_connection(self, what: str, action: Callable[[], None]) -> None:
        """Run `action` on the first need of the open connection (again after a reopen; not
        marked done when it raises). No writer can change the file while it is open."""
        if self._done[0] != self.reader.opens:
            self._done = (self.reader.opens, set())
        if what not in self._done[1]:
            action()
            self._done[1].add(what)

    def _extension(self, con: duckdb.DuckDBPyConnection, name: str) -> None:
        """Load `name` into this connection on first need: fts for BM25's tokenizer and
        stemmer, vss for the HNSW index. A search restricted to one library's vectors needs no
        vss, and loading it verifies a 32 MB signed file (~0.1 s) each time the connection is
        reopened after a pause."""
        self._once_per_connection(name, lambda: load_extensions(con, [name]))

    def _bm25(self, con: duckdb.DuckDBPyConnection, query: str, scope: list[str],
              n: int) -> list[tuple[int, Key, float]]:
        text = _prose(query)
        if not text.strip():
            return []
        self._extension(con, "fts")
        postings = self._per_file("postings", lambda: Postings(con))
        return postings.search(con, text, scope, n)

    def _embedding(self, query: str) -> np.ndarray:
        started = time.perf_counter()
        vec = embed_query(_prose(query))
        self.timings["embed"] = time.perf_counter() - started
        return vec

    def _block(self, con: duckdb.DuckDBPyConnection, scope: str
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One library version's vectors in memory (ids in order, objects, unit vectors), loaded
        once per file."""
        blocks: dict[str, tuple[Any, Any, np.ndarray]] = self._per_file("vector_blocks", dict)
        block = blocks.get(scope)
        if block is None:
            library, version = scope.split("\x1f", 1)
            rows = con.execute(
                "SELECT id, object, embedding FROM docs WHERE embedding IS NOT NULL AND "
                "library = ? AND version = ? ORDER BY id", [library, version]).fetchnumpy()
            matrix = np.stack(rows["embedding"]).astype(np.float32) if len(rows["id"]) \
                else np.zeros((0, DIM), dtype=np.float32)
            block = blocks[scope] = (rows["id"], rows["object"], matrix)
        return block

    def _exact(self, con: duckdb.DuckDBPyConnection, query: np.ndarray, allowed: set[str],
               n: int) -> list[tuple[int, Key, float]]:
        """Exact cosine over the vectors of the searched versions, in memory (the vectors are
        unit length, so cosine is a dot product)."""
        found: list[tuple[int, Key, float]] = []
        for scope in sorted(allowed):
            ids, objects, matrix = self._block(con, scope)
            if not len(ids):
                continue
            sims = matrix @ query.astype(np.float32)
            top = np.argsort(-sims, kind="stable")[:n]
            library, version = scope.split("\x1f", 1)
            found += [(int(ids[i]), (library, version, str(objects[i])), float(sims[i]))
                      for i in top]
        found.sort(key=lambda f: (-f[2], f[0]))
        return found[:n]

    def _vector(self, con: duckdb.DuckDBPyConnection, query: np.ndarray, scope: list[str],
                n: int) -> list[tuple[int, Key, float]]:
        allowed = set(scope)
        # 'library\x1fversion' -> snippets with vectors
        counts: dict[str, int] = self._per_file("vector_counts", lambda: dict(con.execute(
            "SELECT library || chr(31) || version, count(*) FROM docs "
            "WHERE embedding IS NOT NULL GROUP BY ALL").fetchall()))
        total = sum(counts.values())
        scoped = sum(c for s, c in counts.items() if s in allowed)
        if 2 * scoped < total:
            # One or two libraries of nine: HNSW would mostly return other libraries'
            # neighbours (and serves only an unfiltered `ORDER BY distance LIMIT n`); an exact
            # search over that library's few thousand vectors in memory takes ~1 ms.
            return self._exact(con, query, allowed, n)
        self._extension(con, "vss")
        vec = vector_literal(query)
        # Fetch more HNSW neighbours than needed and keep those of the searched versions; when
        # that leaves too few, fall back to an exact scan of those versions.
        for limit in hnsw_fetches(n):
            rows = con.execute(_VECTOR_SQL, [vec, limit]).fetchall()
            found = [(r[0], (r[1], r[2], r[3]), 1.0 - float(r[4])) for r in rows
                     if r[4] is not None and f"{r[1]}\x1f{r[2]}" in allowed]
            if len(found) >= n or len(rows) < limit:
                return found[:n]
        rows = con.execute(
            f"SELECT id, library, version, object, array_cosine_distance(embedding, "
            f"?::FLOAT[{DIM}]) AS d FROM docs WHERE embedding IS NOT NULL AND {_SCOPE_SQL} "
            f"ORDER BY d LIMIT ?", [vec, scope, n]).fetchall()
        return [(r[0], (r[1], r[2], r[3]), 1.0 - float(r[4])) for r in rows]

    # -- the entry points ---------------------------------------------------------------------
    def search(self, query: str, library: str | Collection[str] | None = None, k: int = 10,
               mode: str = "hybrid",
               *, versions: dict[str, str] | None = None) -> list[DocHit]:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        # a command line in another encoding brings lone surrogates, which DuckDB cannot bind
        query = clean_text(query).strip()
        if not query or k <= 0:
            return []
        with self._lock, self.reader.connection() as con:
            # names and library hints: read by the fuzzy mode and the fusion only
            terms = query_terms(query) if mode in ("fuzzy", "hybrid") else QueryTerms()
            rankings = self._rankings(con, query, terms, library, mode,
                                      max(CANDIDATES, 3 * k), versions)
            started = time.perf_counter()
            if not rankings:
                hits = []
            elif mode == "hybrid":
                hits = self._fused_hits(con, rankings, terms, k)
            else:
                hits = self._single(con, rankings[mode], mode, k)
            self.timings["fetch"] = time.perf_counter() - started
        return hits

    def rankings(self, query: str, library: str | Collection[str] | None = None,
                 n: int = CANDIDATES, *, versions: dict[str, str] | None = None
                 ) -> tuple[dict[str, Ranking], Usage, Links]:
        """What hybrid search fuses: each mode's first `n` snippets or names, the usage counts
        and the "See Also" links (for replaying the fusion in benchmarks: `fusion.fuse(rankings,
        usage, symbol_index.hinted_libraries(terms), links, terms.mentioned)` with `terms =
        query_terms(query)`)."""
        query = clean_text(query).strip()
        if not query or n <= 0:
            return {}, {}, {}
        with self._lock, self.reader.connection() as con:
            return (self._rankings(con, query, query_terms(query), library, "hybrid", n,
                                   versions), self._usage(con), self._links(con))

    def _rankings(self, con: duckdb.DuckDBPyConnection | None, query: str, terms: QueryTerms,
                  library: str | Collection[str] | None, mode: str, n: int,
                  versions: dict[str, str] | None) -> dict[str, Ranking]:
        if con is None:
            raise SearchUnavailable(
                f"no knowledge base at {self.path}: run `spark kb build`"
                if not self.path.is_file() else
                f"the knowledge base {self.path} is busy (being written); try again")
        def require_docs() -> None:
            if not has_docs(con):
                raise self._no_docs()
        self._once_per_connection("docs", require_docs)
        chosen, symbols = self._state(con, versions)
        if not chosen:
            raise self._no_docs()
        if isinstance(library, str):
            library = [library]
        libs = frozenset(import_name(x) for x in library) if library else None
        scope = _scope(chosen, libs)
        if not scope:
            return {}
        rankings: dict[str, Ranking] = {}
        # The query's embedding (model, ~20-40 ms) is computed on a worker thread while BM25
        # and the name index run here: on two cores they overlap instead of adding up.
        modes = ("bm25", "fuzzy", "vector") if mode == "hybrid" else (mode,)
        embedding = _EMBEDDER.submit(self._embedding, query) if "vector" in modes else None
        for m in modes:
            started = time.perf_counter()
            if m == "bm25":
                found: Ranking = list(self._bm25(con, query, scope, n))
            elif m == "vector":
                # while the worker embeds the query: the vectors of the other modes' first
                # candidates, which the graph may have left out of reach (_with_exact)
                nearby = self._summary_vectors(con, [
                    key for other in ("bm25", "fuzzy")
                    for _, key, _ in rankings.get(other, ())[:RESCORED]])
                try:
                    assert embedding is not None
                    vec = embedding.result()
                    found = _with_exact(list(self._vector(con, vec, scope, n)), nearby, vec, n)
                except ModelUnavailable as exc:
                    if mode == "vector":
                        raise
                    log.warning("hybrid search without vectors: %s", exc)
                    continue
            else:
                found = [(None, key, score) for key, score in
                         symbols.match(terms, libraries=libs, limit=n,
                                       fuzzy_words=mode == "fuzzy")]
            rankings[m] = found
            self.timings[m] = time.perf_counter() - started
        return rankings

    def _summary_vectors(self, con: duckdb.DuckDBPyConnection, keys: list[Key]
                         ) -> list[tuple[int, Key, np.ndarray]]:
        """(summary id, object, vector) of each of these objects that has one, from the
        library versions' vectors in memory (a lookup in SQL costs 3-5 ms per query)."""
        found = []
        for key in dict.fromkeys(keys):
            summary = self._summary_id(con, key)
            if summary is None:
                continue
            ids, _, matrix = self._block(con, f"{key[0]}\x1f{key[1]}")
            row = int(np.searchsorted(ids, summary))
            if row < len(ids) and ids[row] == summary:
                found.append((summary, key, matrix[row]))
        return found

    def _no_docs(self) -> SearchUnavailable:
        return SearchUnavailable(f"{self.path} holds no documentation yet: run `spark kb build`")

    def _single(self, con: duckdb.DuckDBPyConnection, ranking: Ranking, mode: str, k: int
                ) -> list[DocHit]:
        best: dict[Key, tuple[int | None, float, int]] = {}
        for doc_id, key, score in ranking:
            if key not in best:
                best[key] = (doc_id, score, len(best) + 1)
            if len(best) >= k:
                break
        return self._hits(con, [(key, doc_id, score, {mode: rank})
                                for key, (doc_id, score, rank) in best.items()])

    def _fused_hits(self, con: duckdb.DuckDBPyConnection, rankings: dict[str, Ranking],
                    terms: QueryTerms, k: int) -> list[DocHit]:
        scores, snippet, ranks = fuse(rankings, self._usage(con), hinted_libraries(terms),
                                      self._links(con), terms.mentioned)
        # A query of names and nothing else (`value_counts`, `DataFrame.srot_values`) asks
        # what they are: each result shows its summary, not whichever section matched best.
        names_only = bool(terms.identifiers) and not terms.words
        return self._hits(con, [(key, None if names_only else snippet.get(key), scores[key],
                                 ranks[key]) for key in top(scores, k)])

    def _usage(self, con: duckdb.DuckDBPyConnection) -> Usage:
        """Uses of each member name per library version; empty for a knowledge base built
        before `doc_usage` existed."""
        return self._per_file("usage", lambda: usage_table(con.execute(
            "SELECT library, version, name, uses FROM doc_usage").fetchall())
            if has_table(con, "doc_usage") else {})

    def _links(self, con: duckdb.DuckDBPyConnection) -> Links:
        """The objects each object's "See Also" names; empty for a knowledge base built before
        `doc_links` existed."""
        def load() -> Links:
            links: dict[Key, list[Key]] = {}
            if has_table(con, "doc_links"):
                for library, version, obj, target in con.execute(
                        "SELECT library, version, object, target FROM doc_links "
                        "ORDER BY ALL").fetchall():
                    links.setdefault((library, version, obj), []).append(
                        (library, version, target))
            return links
        return self._per_file("links", load)

    def _summary_id(self, con: duckdb.DuckDBPyConnection, key: Key) -> int | None:
        """The snippet that stands for an object found by name only: its summary (else its
        first snippet). The map is read once per file (~50 ms) — the same lookup in SQL scans
        the whole table on every query."""
        summaries: dict[Key, int] = self._per_file("summaries", lambda: {
            (r[0], r[1], r[2]): r[3] for r in con.execute(
                "SELECT library, version, object, coalesce(min(id) FILTER "
                "(WHERE section = 'summary'), min(id)) FROM docs GROUP BY ALL").fetchall()})
        return summaries.get(key)

    def _hits(self, con: duckdb.DuckDBPyConnection,
              chosen: list[tuple[Key, int | None, float, dict[str, int]]]) -> list[DocHit]:
        """DocHits in the given order, each showing its snippet (or its object's summary)."""
        chosen = [(key, doc_id if doc_id is not None else self._summary_id(con, key), score,
                   ranks) for key, doc_id, score, ranks in chosen]
        ids = [doc_id for _, doc_id, _, _ in chosen if doc_id is not None]
        # ids inlined (integers): an IN list of constants is a point lookup, a list parameter
        # a scan of the whole table
        rows = {r[0]: r for r in con.execute(
            f"SELECT {_SNIPPET_COLUMNS} FROM docs WHERE id IN "
            f"({','.join(str(int(i)) for i in ids)})").fetchall()} if ids else {}
        hits = []
        for key, doc_id, score, ranks in chosen:
            row = rows.get(doc_id) if doc_id is not None else None
            if row is None:
                continue
            _, library, version, obj, kind, section, text, signature, source = row
            hits.append(DocHit(obj, library, version, kind, section, round(score, 6), text,
                               signature, source, ranks))
        return hits


_searchers: dict[Path, Searcher] = {}
_searchers_lock = threading.Lock()


def searcher_for(home: Path | None = None) -> Searcher:
    """The process's Searcher for `$SPARK_HOME/spark.duckdb` (reused: warm connection, index)."""
    path = kb_file(spark_home() if home is None else home)
    with _searchers_lock:
        if path not in _searchers:
            _searchers[path] = Searcher(path)
        return _searchers[path]


def search(query: str, library: str | Collection[str] | None = None, k: int = 10,
           mode: str = "hybrid", *,
           home: Path | None = None, versions: dict[str, str] | None = None) -> list[DocHit]:
    """Search the documentation of the installed library versions.

    `library`: one import name or several (default: every documented library). `versions`:
    the version to search for a library (default: the installed one when documented, else the
    most recently harvested). mode: bm25 | vector | fuzzy | hybrid. Raises SearchUnavailable when there is nothing to
    search, KBError for a damaged file, ModelUnavailable (vector/hybrid) without the model.
    """
    return searcher_for(home).search(query, library, k, mode, versions=versions)
