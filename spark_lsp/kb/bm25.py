"""BM25 over DuckDB's full-text index, scored in memory.

The fts extension builds the index (`PRAGMA create_fts_index`: tokenizer, English stemmer, the
`dict`, `terms`, `docs` and `stats` tables) and tokenizes and stems each query; the scoring reads
the index's postings, loaded once per knowledge-base file into arrays (about 12 bytes per
posting: ~25 MB for the full ~70k-snippet build). Scoring a question then touches only the
postings of its terms — a few milliseconds — where the same BM25 in SQL scans the terms table
on every query (50-100 ms on 2 cores). The formula is the extension's `match_bm25`: k1 = 1.2,
b = 0.75, idf = log10((N - df + 0.5) / (df + 0.5) + 1); `tests/unit/test_docs_kb.py` checks the
ranking against that SQL.
"""

from __future__ import annotations

import logging
import time

import duckdb
import numpy as np

log = logging.getLogger(__name__)

K1 = 1.2
B = 0.75

_TERMS_SQL = ("SELECT DISTINCT d.termid, d.df FROM fts_main_docs.dict d JOIN "
              "(SELECT DISTINCT stem(unnest(fts_main_docs.tokenize(?)), 'english') AS t) q "
              "ON d.term = q.t")


class Postings:
    """The fts index of `docs` as arrays: per term its documents and term frequencies."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        started = time.perf_counter()
        docs = con.execute(
            "SELECT f.docid, f.len, d.id, d.library || chr(31) || d.version AS scope, d.object "
            "FROM fts_main_docs.docs f JOIN docs d ON d.id = f.name ORDER BY f.docid"
        ).fetchnumpy()
        size = int(docs["docid"].max()) + 1 if len(docs["docid"]) else 0
        self.length = np.zeros(size, dtype=np.float64)
        self.length[docs["docid"]] = docs["len"]
        self.snippet = np.full(size, -1, dtype=np.int64)  # docid -> docs.id
        self.snippet[docs["docid"]] = docs["id"]
        self.object = np.empty(size, dtype=object)
        self.object[docs["docid"]] = docs["object"]
        scopes = [str(s) for s in docs["scope"]]
        self.scope_names = sorted(set(scopes))
        code = {name: i for i, name in enumerate(self.scope_names)}
        self.scope = np.full(size, -1, dtype=np.int32)
        self.scope[docs["docid"]] = [code[s] for s in scopes]
        stats = con.execute("SELECT num_docs, avgdl FROM fts_main_docs.stats").fetchone()
        self.num_docs, self.avgdl = (int(stats[0]), float(stats[1])) if stats else (0, 1.0)
        terms = con.execute(
            "SELECT termid, docid, count(*)::INTEGER AS tf FROM fts_main_docs.terms "
            "GROUP BY termid, docid ORDER BY termid, docid").fetchnumpy()
        termids = terms["termid"].astype(np.int64)
        self.docid = terms["docid"].astype(np.int32)
        self.tf = terms["tf"].astype(np.float32)
        top = int(termids.max()) + 1 if len(termids) else 0
        # postings of term t: docid[start[t]:start[t + 1]]
        self.start = np.searchsorted(termids, np.arange(top + 1)).astype(np.int64)
        log.info("BM25 postings: %d documents, %d postings, %.1f MB, loaded in %.2f s",
                 size, len(self.docid), self.nbytes / 1e6, time.perf_counter() - started)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.length, self.snippet, self.scope, self.docid,
                                      self.tf, self.start))

    def search(self, con: duckdb.DuckDBPyConnection, text: str, scopes: list[str],
               n: int) -> list[tuple[int, tuple[str, str, str], float]]:
        """(docs.id, (library, version, object), score) of the `n` best snippets among
        `scopes` ('library\\x1fversion'), best first."""
        terms = con.execute(_TERMS_SQL, [text]).fetchall()
        if not terms or self.num_docs == 0:
            return []
        scores = np.zeros(len(self.length), dtype=np.float64)
        norm = K1 * ((1 - B) + B * self.length / self.avgdl)
        for termid, df in terms:
            if termid + 1 >= len(self.start):
                continue
            lo, hi = self.start[termid], self.start[termid + 1]
            if lo == hi:
                continue
            docs = self.docid[lo:hi]
            tf = self.tf[lo:hi]
            idf = np.log10((self.num_docs - df + 0.5) / (df + 0.5) + 1.0)  # SQL log() is log10
            scores[docs] += idf * tf * (K1 + 1) / (tf + norm[docs])
        allowed = set(scopes)
        wanted = [i for i, name in enumerate(self.scope_names) if name in allowed]
        if len(wanted) < len(self.scope_names):
            scores[~np.isin(self.scope, wanted)] = 0.0
        hits = np.flatnonzero(scores > 0)
        if len(hits) > n:
            hits = hits[np.argpartition(-scores[hits], n - 1)[:n]]
        ids = self.snippet[hits]
        order = np.lexsort((ids, -scores[hits]))  # by score, then snippet id (as the SQL)
        found = []
        for i in order:
            library, version = self.scope_names[self.scope[hits[i]]].split("\x1f", 1)
            found.append((int(ids[i]), (library, version, str(self.object[hits[i]])),
                          float(scores[hits[i]])))
        return found
