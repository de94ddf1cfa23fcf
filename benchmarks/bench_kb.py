"""The documentation knowledge base: build time per stage, size, memory, search latency.

    python benchmarks/bench_kb.py [--python PATH] [--libraries ...] [--home DIR] [--reuse]
                                  [--queries N] [--steps cold,incremental,rss,latency,recall]

1. Cold build into a fresh SPARK_HOME (no vector cache): per-stage seconds (harvest, sections,
   copy, embed, insert, index, swap), snippets/s, file size. `--python` documents another
   environment (the >= 34k build: one with tensorflow-cpu and torch installed).
2. Incremental builds, one library changed (pandas, or the first library):
   a. a new version whose docstrings are the same (version bump): harvest + copy + index;
   b. every summary of that library to embed again (its vectors removed from the cache, and
      not copied from the previous knowledge base either).
3. A process holding what the language server holds (server modules, the knowledge base open,
   the query encoder loaded, one query and one symbol lookup run): its RSS.
4. Warm search latency (including embedding the query) over DS-1000 questions and short
   queries, per mode.
5. The HNSW index's recall: of each query's exact 10 nearest summaries, how many are among the
   neighbours a vector search fetches from the index; and the queries that get fewer than half
   (all DS-1000 questions, the how-to queries and the short ones).

`--reuse` skips step 1 when the home already has a knowledge base (figures of an earlier run);
`--steps cold,incremental,rss,latency,recall` runs only some steps.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import duckdb
import numpy as np

from spark_lsp.kb import docs_build
from spark_lsp.kb.db import kb_file, open_readonly
from spark_lsp.kb.docs_build import BuildReport, build_docs
from spark_lsp.kb.docs_store import docs_stats
from spark_lsp.kb.embed import CACHE_FILENAME, embed_query, vector_literal
from spark_lsp.kb.harvest import installed_in, python_executable
from spark_lsp.kb.search import _VECTOR_SQL, CANDIDATES, Searcher, _prose, hnsw_fetches

ROOT = Path(__file__).resolve().parent.parent
DS1000 = ROOT.parent / "shared" / "data" / "ds1000" / "problems.jsonl.gz"
SHORT_QUERIES = ["sort_values stable", "DataFrame.srot_values", "merge two dataframes on a key",
                 "replace missing values with the column mean", "torch no grad inference",
                 "stratified train test split", "save a figure without showing it",
                 "np.argsort kind", "read a csv file in chunks", "sparse matrix multiply",
                 "convert a tensor to numpy", "rolling window mean", "tf.reduce_sum axis",
                 "group by two columns and count", "pairwise distances between rows"]


def machine() -> str:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0, 0, 0)
    return (f"{platform.node()}: {platform.machine()}, {os.cpu_count()} CPUs, Python "
            f"{platform.python_version()}, load average {load[0]:.1f} / {load[1]:.1f} / "
            f"{load[2]:.1f} (1/5/15 min)")


def show_build(title: str, report: BuildReport) -> None:
    total = sum(report.seconds.values())
    stages = ", ".join(f"{k} {v:.1f}" for k, v in report.seconds.items())
    print(f"{title}: {total:.1f} s ({stages})")
    print(f"  {report.snippets} snippets ({report.snippets / total:.0f}/s overall), "
          f"{report.embedded} with vectors, {report.newly_embedded} newly embedded"
          + (f" ({report.newly_embedded / report.seconds['embed']:.1f}/s)"
             if report.newly_embedded else "")
          + f"; file {report.size_bytes / 1e6:.1f} MB")
    for r in report.libraries:
        print(f"    {r.library:<12} {r.version:<14} {r.status:<10} {r.objects:>6} objects "
              f"{r.snippets:>7} snippets {r.seconds:6.1f} s {r.message}")


def version_bump(home: Path, python: str | None, libraries: list[str], changed: str
                 ) -> BuildReport:
    """A build in which `changed` reports a new version (same docstrings)."""
    real = installed_in

    def bumped(exe: str, libs: list[str], timeout: float = 60.0) -> dict[str, str | None]:
        found = real(exe, libs, timeout)
        if found.get(changed):
            found[changed] = f"{found[changed]}.bench"
        return found

    with mock.patch.object(docs_build, "installed_in", bumped):
        return build_docs(home, python=python, libraries=libraries, progress=False)


def forget_vectors(home: Path, library: str) -> int:
    con = duckdb.connect(str(kb_file(home)), read_only=True)
    hashes = [r[0] for r in con.execute(
        "SELECT DISTINCT content_hash FROM docs WHERE library = ? AND embedding IS NOT NULL",
        [library]).fetchall()]
    con.close()
    cache = duckdb.connect(str(home / CACHE_FILENAME))
    cache.execute("DELETE FROM vectors WHERE list_contains(?, hash)", [hashes])
    cache.close()
    return len(hashes)


_RSS_SCRIPT = """
import json, sys, resource
from pathlib import Path
import spark_lsp.server.app  # what `spark serve` imports
from spark_lsp.kb.search import Searcher
from spark_lsp.kb.symbols import describe_symbol
s = Searcher(Path(sys.argv[1]))
s.search("sort_values stable", k=10, mode="hybrid")
describe_symbol("pandas.DataFrame.sort_values")
status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
print(json.dumps({"rss_mb": int(status["VmRSS"].split()[0]) / 1024,
                  "peak_mb": int(status["VmHWM"].split()[0]) / 1024}))
"""


def server_rss(home: Path) -> dict[str, float]:
    env = {**os.environ, "SPARK_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-c", _RSS_SCRIPT, str(kb_file(home))], env=env,
                          capture_output=True, text=True, timeout=600, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def latency(home: Path, queries: list[str], library: str) -> None:
    searcher = Searcher(kb_file(home), idle=3600)
    searcher.search("warm up", mode="hybrid")
    print(f"warm search latency over {len(queries)} queries (ms; hybrid includes embedding the "
          f"query; one connection kept open):")
    for mode in ("bm25", "vector", "fuzzy", "hybrid"):
        times = []
        embed = []
        for q in queries:
            started = time.perf_counter()
            searcher.search(q, k=10, mode=mode)
            times.append(1000 * (time.perf_counter() - started))
            if mode in ("vector", "hybrid"):
                embed.append(1000 * searcher.timings.get("embed", 0.0))
        times.sort()
        p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
        extra = f"   (query embedding p50 {statistics.median(embed):.1f})" if embed else ""
        print(f"  {mode:<7} p50 {statistics.median(times):6.1f}   p95 {p95:6.1f}{extra}")
    # What a language server pays after its connection was let go (idle close; its name
    # index, postings and vectors stay in memory): open the file, load the extensions a mode
    # needs, and for a search of every library the HNSW index.
    for label, scope in (("every library", None), (f"{library} only", library)):
        reopened = []
        for q in queries[:20]:
            searcher.reader.close()
            started = time.perf_counter()
            searcher.search(q, library=scope, k=10, mode="hybrid")
            reopened.append(1000 * (time.perf_counter() - started))
        print(f"  hybrid, {label}, first query after the connection was let go: p50 "
              f"{statistics.median(reopened):.0f} ms")
    searcher.close()
    # a process's first search: name index, postings and maps loaded (the model already is)
    first = Searcher(kb_file(home))
    started = time.perf_counter()
    first.search(queries[0], k=10, mode="hybrid")
    print(f"  hybrid, a new process's first search (model loaded): "
          f"{1000 * (time.perf_counter() - started):.0f} ms")
    first.close()


def hnsw_recall(home: Path, queries: list[str], k: int = 10) -> None:
    con = open_readonly(kb_file(home), extensions=True)
    if con is None:
        sys.exit(f"no knowledge base at {kb_file(home)}")
    try:
        rows = con.execute("SELECT id, embedding FROM docs WHERE embedding IS NOT NULL"
                           ).fetchnumpy()
        ids, matrix = rows["id"], np.stack(rows["embedding"]).astype(np.float32)
        fetch = hnsw_fetches(CANDIDATES)[0]  # what a hybrid search asks the index for
        recalls, missed = [], []
        for q in queries:
            vec = embed_query(_prose(q)).astype(np.float32)
            exact = set(ids[np.argsort(-(matrix @ vec), kind="stable")[:k]].tolist())
            got = {r[0] for r in con.execute(_VECTOR_SQL, [vector_literal(vec), fetch]
                                             ).fetchall()}
            recalls.append(len(exact & got) / k)
            if recalls[-1] < 0.5:
                missed.append(q)
    finally:
        con.close()
    print(f"\nHNSW recall over {len(queries)} queries: {100 * statistics.mean(recalls):.2f}% of "
          f"the exact {k} nearest among the {fetch} fetched; {len(missed)} queries under 50%"
          + "".join(f"\n  under 50%: {q[:70]!r}" for q in missed[:10]))


STEPS = ("cold", "incremental", "rss", "latency", "recall")


def incremental(home: Path, python: str | None, libraries: list[str], changed: str) -> None:
    show_build(f"\nincremental, {changed} at a new version with the same docstrings",
               version_bump(home, python, libraries, changed))
    n = forget_vectors(home, changed)
    # the previous knowledge base still holds those vectors: a build copies vectors from it when
    # the cache lost them, so this step must not find them there either
    with mock.patch.object(docs_build, "_vectors_from", lambda path, hashes: {}):
        show_build(f"incremental, {changed} at a new version, its {n} summary vectors to "
                   f"embed again", version_bump(home, python, libraries, changed))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--python", default=None)
    ap.add_argument("--libraries", default=None)
    ap.add_argument("--home", type=Path, default=None)
    ap.add_argument("--reuse", action="store_true")
    ap.add_argument("--changed", default="pandas", help="the library that changes in step 2")
    ap.add_argument("--queries", type=int, default=200, help="DS-1000 questions to time")
    ap.add_argument("--steps", default=",".join(STEPS),
                    help=f"steps to run, of {','.join(STEPS)} (default: all)")
    args = ap.parse_args()
    steps = set(args.steps.split(","))
    if steps - set(STEPS):
        ap.error(f"unknown steps: {', '.join(sorted(steps - set(STEPS)))}")
    home = args.home or Path(tempfile.mkdtemp(prefix="spark-bench-kb-"))
    os.environ["SPARK_HOME"] = str(home)
    python = python_executable(args.python)
    print(f"# Knowledge-base benchmark — {machine()}")
    print(f"home {home}; documenting the libraries of {python}\n")
    libraries = args.libraries.split(",") if args.libraries else None
    if not kb_file(home).exists() or ("cold" in steps and not args.reuse):
        cold = build_docs(home, python=args.python, libraries=libraries, progress=False,
                          say=lambda m: print("  ..", m, flush=True))
        show_build("cold build (empty vector cache)", cold)
    stats = docs_stats(home)
    print(f"knowledge base: {stats.snippets} snippets, {stats.embedded} embedded, "
          f"{kb_file(home).stat().st_size / 1e6:.1f} MB; vector cache "
          f"{(home / CACHE_FILENAME).stat().st_size / 1e6:.1f} MB")
    wanted = libraries or list(stats.libraries)
    if "incremental" in steps:
        changed = args.changed if args.changed in stats.libraries else wanted[0]
        incremental(home, args.python, wanted, changed)
    if "rss" in steps:
        rss = server_rss(home)
        print(f"\nserver-like process with the KB open and the query encoder loaded: RSS "
              f"{rss['rss_mb']:.0f} MB (peak {rss['peak_mb']:.0f} MB)")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    questions = []
    if DS1000.exists() and steps & {"latency", "recall"}:
        from ds1000_gold import question_text

        with gzip.open(DS1000, "rt") as fh:
            questions = [question_text(json.loads(line)["prompt"]) for line in fh]
    if "latency" in steps:
        latency(home, SHORT_QUERIES + questions[:args.queries],
                "pandas" if "pandas" in stats.libraries else wanted[0])
    if "recall" in steps:
        from eval_retrieval import howto_cases

        hnsw_recall(home, SHORT_QUERIES + [q for q, _ in howto_cases()] + questions)


if __name__ == "__main__":
    main()
