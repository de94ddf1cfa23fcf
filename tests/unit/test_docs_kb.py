"""The documentation knowledge base: harvest, sections, embedding cache, atomic swap, search.

Real builds on small libraries written to tmp_path (plus docstring_parser, a real one), real
DuckDB files, the real MiniLM model (loaded once per session, in this process).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import numpy as np
import pytest
from click.testing import CliRunner
from docs_fixtures import write_bad_libs, write_tiny_lib

from spark_lsp.cli import cli
from spark_lsp.kb.db import KBCorrupt, KBError, KBTooNew, kb_file, open_readonly
from spark_lsp.kb.docs_build import BUILD_PREFIX, build_docs
from spark_lsp.kb.docs_store import docs_stats
from spark_lsp.kb.harvest import DocObject, harvest_library, sections_of
from spark_lsp.kb.reader import KBReader
from spark_lsp.kb.search import JSON_KEYS, Searcher, SearchUnavailable, search
from spark_lsp.kb.store import ensure_kb
from spark_lsp.kb.symbols import describe_symbol

LIBS = ["sparktinylib", "docstring_parser"]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="session")
def libs_root(tmp_path_factory):
    """sparktinylib 1.0 and the bad libraries on PYTHONPATH for every harvest child."""
    root = tmp_path_factory.mktemp("libs")
    write_tiny_lib(root)
    write_bad_libs(root)
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), old]))
    yield root
    if old is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = old


@pytest.fixture(scope="session")
def built(tmp_path_factory, libs_root):
    """A SPARK_HOME with cards, a trace table and the docs of the two libraries (built once)."""
    home = tmp_path_factory.mktemp("docs-home")
    ensure_kb(home)
    report = build_docs(home, libraries=LIBS, progress=False)
    return home, report


@pytest.fixture
def kb_copy(built, spark_home):
    """This test's own copy of the built home (knowledge base and vector cache)."""
    shutil.copytree(built[0], spark_home, dirs_exist_ok=True)
    return spark_home


@contextmanager
def docs_writer(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A writing connection to a built knowledge base (its HNSW index needs vss loaded),
    checkpointed when the block ends without an error."""
    from spark_lsp.kb.db import connect, load_extensions

    writer = connect(path)
    load_extensions(writer, ["vss", "fts"])
    try:
        yield writer
        writer.execute("CHECKPOINT")
    finally:
        writer.close()


# -- harvest -------------------------------------------------------------------------------------

def test_harvest_finds_public_objects_with_sections(libs_root):
    result = harvest_library("sparktinylib", timeout=60)
    assert result.ok and result.version == "1.0"
    objects = {o.object: o for o in result.objects}
    assert {"sparktinylib.merge_frames", "sparktinylib.Frame", "sparktinylib.Frame.sort_values",
            "sparktinylib.Frame.shape", "sparktinylib.google_style",
            "sparktinylib.odd.WeirdDoc.method"} <= set(objects)
    assert objects["sparktinylib.Frame.shape"].kind == "property"
    assert objects["sparktinylib.Frame.sort_values"].kind == "method"
    assert objects["sparktinylib.merge_frames"].signature == "(left, right, how='inner')"
    # one object, two public names: the shortest is canonical, the other an alias
    assert "sparktinylib.frame.Frame" in objects["sparktinylib.Frame"].aliases
    assert "sparktinylib.frame.Frame" not in objects

    sections = dict(sections_of(objects["sparktinylib.merge_frames"]))
    assert list(sections) == ["summary", "parameters", "returns", "examples", "notes",
                              "deprecation"]
    assert sections["summary"].startswith("merge_frames(left, right, how='inner')")
    assert "Merge two frames" in sections["summary"]
    assert "how : " in sections["parameters"] and "Which rows to keep" in sections["parameters"]
    assert "merged frame" in sections["returns"]
    assert ">>> merge_frames" in sections["examples"]
    assert "hashing the common columns" in sections["notes"]
    assert sections["deprecation"].startswith("versionchanged 1.0")
    google = dict(sections_of(objects["sparktinylib.google_style"]))
    assert "retries : int" in google["parameters"] and "raw table" in google["returns"]
    deprecated = dict(sections_of(objects["sparktinylib.Frame.sort_values"]))
    assert "deprecated" in deprecated["deprecation"] and "stable" in deprecated["parameters"]


def test_accessor_namespaces_are_documented_once_under_their_path(libs_root):
    """`Series.str.contains`: a class attribute that hands out a namespace class no module
    documents. Its members are documented below the shortest path; the other paths to it are
    aliases."""
    objects = {o.object: o for o in harvest_library("sparktinylib", timeout=60).objects}
    text = objects["sparktinylib.Frame.text"]
    assert text.kind == "property" and "Vectorized text functions" in text.doc
    assert objects["sparktinylib.Frame.text.upper"].kind == "method"
    assert objects["sparktinylib.Frame.text.length"].kind == "property"
    assert "sparktinylib.frame.Column.text" in text.aliases  # Column is not exported
    assert "sparktinylib.frame.Column.text.upper" in objects["sparktinylib.Frame.text.upper"].aliases
    # a subclass inherits the accessor: its paths are aliases too
    assert "sparktinylib.frame.KeyColumn.text" in text.aliases
    assert "sparktinylib.frame.KeyColumn.text.length" in \
        objects["sparktinylib.Frame.text.length"].aliases
    assert not any("Column.text" in name or "_TextMethods" in name for name in objects)


def test_descriptors_of_the_library_own_are_properties(libs_root):
    """pandas' `DataFrame.index` and `columns` are instances of a descriptor class of pandas'
    own (`AxisProperty`), each with its docstring: documented as properties. The fields of a
    namedtuple are descriptors of the standard library's, with a generated docstring: not."""
    objects = {o.object: o for o in harvest_library("sparktinylib", timeout=60).objects}
    labels = objects["sparktinylib.Frame.labels"]
    assert labels.kind == "property" and "names of the columns" in labels.doc
    assert "sparktinylib.frame.Pair" in objects
    assert not any(name.endswith(("Pair.left", "Pair.right")) for name in objects)


def test_submodules_left_out_of_all_and_shared_members(tmp_path, monkeypatch):
    """Like torch: `__all__` names functions but not the `nn` package users call, and legacy
    classes (ByteTensor) carry the very method objects of the main class (Tensor)."""
    pkg = tmp_path / "sparkalllib"
    (pkg / "nn").mkdir(parents=True)
    (pkg / "__init__.py").write_text(textwrap.dedent('''
        """A library whose __all__ leaves out its submodules."""
        __version__ = "2.0"
        __all__ = ["Tensor", "ByteTensor", "ones"]
        from sparkalllib import nn


        def ones(n):
            """A tensor of ones."""


        class Tensor:
            """The main tensor."""

            def abs(self):
                """Absolute value, element-wise."""


        class ByteTensor:
            """A legacy tensor type."""

            abs = Tensor.abs
        '''), encoding="utf-8")
    (pkg / "nn" / "__init__.py").write_text(textwrap.dedent('''
        class Module:
            """Base class for all neural network modules."""

            def eval(self):
                """Set the module in evaluation mode."""
        '''), encoding="utf-8")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    result = harvest_library("sparkalllib", timeout=60)
    assert result.ok, result.message
    objects = {o.object: o for o in result.objects}
    assert {"sparkalllib.nn.Module", "sparkalllib.nn.Module.eval"} <= set(objects)
    assert "sparkalllib.Tensor.abs" in objects and "sparkalllib.ByteTensor.abs" not in objects
    assert "sparkalllib.ByteTensor.abs" in objects["sparkalllib.Tensor.abs"].aliases


def test_odd_docstring_markup_never_breaks_the_harvest(libs_root):
    result = harvest_library("sparktinylib", timeout=60)
    objects = {o.object: o for o in result.objects}
    odd = objects["sparktinylib.odd.surrogates"]
    assert "\x00" not in odd.doc and "\udcff" not in odd.doc  # valid UTF-8 for DuckDB
    for name in ("sparktinylib.odd.surrogates", "sparktinylib.odd.broken_rst",
                 "sparktinylib.odd.epytext", "sparktinylib.odd.WeirdDoc.method"):
        assert sections_of(objects[name])[0][0] == "summary"
    assert objects["sparktinylib.odd.WeirdDoc"].doc == ""  # __doc__ = 42 is no docstring
    for doc in ("Parameters\n----------\n: \n\n   x : \n", "Args:\n    ::::\n", ":param:",
                ".. versionchanged::\n", "Returns\n-------\n" * 3, "@param", "f(\n"):
        found = sections_of(DocObject("x", "1", "x.f", "function", "()", doc))
        assert found and found[0][0] == "summary"
    assert sections_of(DocObject("x", "1", "x.f", "function", "()", "\t\t\n\n\n")) == []


def test_import_failure_and_hang_are_skipped_with_a_note(libs_root, spark_home):
    broken = harvest_library("sparkbrokenlib", timeout=60)
    assert broken.status == "import_failed" and "sparkbrokenlib is broken" in broken.message
    started = time.monotonic()
    hung = harvest_library("sparkhanginglib", timeout=3)
    assert hung.status == "timeout" and "3 s" in hung.message
    assert time.monotonic() - started < 15
    result = run("kb", "build", "--libraries", "sparktinylib,sparkbrokenlib,sparkhanginglib,"
                 "notinstalledlib", "--timeout", "3", "--no-progress")
    assert result.exit_code == 0, result.output
    assert "sparkbrokenlib: import failed" in result.stderr
    assert "sparkhanginglib: introspection took longer than 3 s" in result.stderr
    assert "notinstalledlib: not installed" in result.stderr
    assert set(docs_stats(spark_home).libraries) == {"sparktinylib"}


def test_a_python_that_is_not_there_is_a_clear_error(spark_home, tmp_path):
    result = run("kb", "build", "--python", tmp_path / "nope" / "python")
    assert result.exit_code == 2 and "no Python interpreter there" in result.stderr


# -- build: incremental, atomic, interrupted -----------------------------------------------------

def test_build_report_and_stats(built):
    home, report = built
    assert report.snippets > 40 and 0 < report.embedded < report.snippets
    assert report.newly_embedded <= report.embedded
    assert {r.library: r.status for r in report.libraries} == {
        "sparktinylib": "harvested", "docstring_parser": "harvested"}
    assert set(report.seconds) >= {"harvest", "embed", "index", "swap"}
    stats = docs_stats(home)
    assert stats.snippets == report.snippets and stats.embedded == report.embedded
    assert stats.libraries["sparktinylib"] == {
        "version": "1.0", "snippets": next(r.snippets for r in report.libraries
                                           if r.library == "sparktinylib")}
    con = duckdb.connect(str(kb_file(home)), read_only=True)
    try:  # the cards and traces of the file survived the swap
        assert con.execute("SELECT count(*) FROM cards").fetchone()[0] > 0
        sources = {r[0] for r in con.execute("SELECT DISTINCT source FROM docs").fetchall()}
        assert "introspected from sparktinylib 1.0" in sources
        assert con.execute("SELECT count(*) FROM duckdb_indexes() WHERE index_name = "
                           "'docs_embedding_hnsw'").fetchone()[0] == 1
    finally:
        con.close()


def test_kb_stats_json_shape(kb_copy):
    result = run("kb", "stats", "--format", "json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert set(data) == {"snippets", "embedded", "libraries"}
    assert isinstance(data["snippets"], int) and isinstance(data["embedded"], int)
    for info in data["libraries"].values():
        assert set(info) == {"version", "snippets"} and isinstance(info["snippets"], int)
    assert data["libraries"]["sparktinylib"]["version"] == "1.0"
    assert "snippets:" in run("kb", "stats").stdout


def test_rebuild_embeds_only_what_changed(kb_copy, tmp_path, monkeypatch):
    # nothing changed: versions match, nothing harvested, nothing embedded
    again = build_docs(kb_copy, libraries=LIBS, progress=False)
    assert {r.status for r in again.libraries} == {"unchanged"}
    assert again.newly_embedded == 0
    # --rebuild harvests again, but every vector comes from the cache
    forced = build_docs(kb_copy, libraries=LIBS, rebuild=True, progress=False)
    assert {r.status for r in forced.libraries} == {"harvested"}
    assert forced.newly_embedded == 0 and forced.embedded == again.embedded
    # an upgrade that changes one docstring embeds exactly that summary
    lib2 = write_tiny_lib(tmp_path / "lib2", version="1.1",
                          google_summary="Fetch a table over the network, with retries.")
    monkeypatch.setenv("PYTHONPATH", str(lib2))
    upgraded = build_docs(kb_copy, libraries=["sparktinylib"], progress=False)
    assert upgraded.newly_embedded == 1
    stats = docs_stats(kb_copy)
    # both versions are kept; the newest harvested is the default (not installed in Spark's env)
    assert stats.libraries["sparktinylib"]["version"] == "1.1"
    assert set(stats.libraries["sparktinylib"]["versions"]) == {"1.0", "1.1"}
    hits = search("fetch a table over the network", library="sparktinylib", mode="bm25")
    assert hits[0].object == "sparktinylib.google_style" and hits[0].version == "1.1"
    old = search("fetch a table over the network", library="sparktinylib", mode="bm25",
                 versions={"sparktinylib": "1.0"})
    assert all(h.version == "1.0" for h in old)
    assert "network" not in next(h for h in old if h.object == "sparktinylib.google_style").text


def test_swap_is_atomic_for_a_reader_holding_the_old_file(kb_copy, tmp_path, monkeypatch):
    path = kb_file(kb_copy)
    searcher = Searcher(path, idle=60)
    before = searcher.search("read a table from a text file", mode="bm25", k=3)
    assert before[0].object == "sparktinylib.read_table"
    old_identity = searcher.reader.identity
    # while the searcher keeps its connection open, a build replaces the file
    lib2 = write_tiny_lib(tmp_path / "lib2", version="2.0",
                          google_summary="Stream a table from object storage.")
    monkeypatch.setenv("PYTHONPATH", str(lib2))
    build_docs(kb_copy, libraries=["sparktinylib"], progress=False)
    assert searcher.reader.identity == old_identity  # still the old inode, still answering
    # the next query notices the new file and reopens
    hits = searcher.search("stream a table from object storage", mode="bm25", k=3)
    assert hits[0].object == "sparktinylib.google_style" and hits[0].version == "2.0"
    assert searcher.reader.identity != old_identity
    searcher.close()
    assert not list(kb_copy.glob(BUILD_PREFIX + "*"))


def spark_build_process(home: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "SPARK_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen([sys.executable, "-m", "spark_lsp", "kb", "build", "--no-progress",
                             *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_interrupted_build_leaves_the_old_kb(kb_copy, sig):
    path = kb_file(kb_copy)
    before = digest(path)
    (kb_copy / "embeddings.duckdb").unlink()  # so the build has to embed: a long window
    # numpy's ~1,700 summaries take tens of seconds to embed: the signal lands mid-build even
    # on a loaded machine (the new file exists from the end of the harvest to the swap)
    proc = spark_build_process(kb_copy, "--libraries", ",".join([*LIBS, "numpy"]), "--rebuild")
    try:
        assert wait_for(lambda: list(kb_copy.glob(BUILD_PREFIX + "*")), 300), \
            proc.communicate(timeout=5)
        time.sleep(1)  # into the embedding
        assert proc.poll() is None, "the build finished before it could be interrupted"
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode != 0
    assert digest(path) == before  # untouched, and still the one that answers
    assert search("read a table from a text file", mode="bm25", k=1)[0].object == \
        "sparktinylib.read_table"
    leftovers = list(kb_copy.glob(BUILD_PREFIX + "*"))
    if sig == signal.SIGTERM:
        assert not leftovers and "interrupted" in err  # cleaned up like Ctrl-C
    report = build_docs(kb_copy, libraries=LIBS, progress=False)
    assert not list(kb_copy.glob(BUILD_PREFIX + "*"))
    assert any("interrupted build" in n for n in report.notes) == bool(leftovers)


@pytest.mark.slow
def test_a_full_disk_leaves_the_old_kb_serving(kb_copy):
    path = kb_file(kb_copy)
    before = digest(path)
    limit = 2_000_000  # bytes any file of the build may grow to: the new file cannot fit

    def small_disk() -> None:
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes fail with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = {**os.environ, "SPARK_HOME": str(kb_copy), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "spark_lsp", "kb", "build", "--no-progress",
                           "--libraries", ",".join(LIBS), "--rebuild"], env=env,
                          capture_output=True, text=True, timeout=300, preexec_fn=small_disk,
                          check=False)
    assert proc.returncode == 2, proc.stderr
    assert "disk filled up" in proc.stderr and "keeps serving the previous" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert digest(path) == before and not list(kb_copy.glob(BUILD_PREFIX + "*"))
    assert docs_stats(kb_copy).snippets > 0


def test_corrupt_or_newer_kb_is_refused_with_a_message(spark_home, libs_root):
    spark_home.mkdir(parents=True)
    path = kb_file(spark_home)
    path.write_bytes(b"not a database" * 1000)
    with pytest.raises(KBCorrupt, match="damaged.*spark kb rebuild"):
        build_docs(spark_home, libraries=["sparktinylib"], progress=False)
    assert path.read_bytes() == b"not a database" * 1000
    for args in (["kb", "build", "--libraries", "sparktinylib"], ["search", "frame"],
                 ["kb", "stats"]):
        result = run(*args)
        assert result.exit_code == 2 and "damaged" in result.stderr, (args, result.output)
    assert describe_symbol("sparktinylib.Frame", home=spark_home) is None  # hover: just nothing

    path.unlink()
    ensure_kb(spark_home)
    con = duckdb.connect(str(path))
    con.execute("INSERT INTO schema_migrations VALUES (99, 'future', now()::TIMESTAMP, '9')")
    con.close()
    before = digest(path)
    with pytest.raises(KBTooNew, match="newer Spark"):
        build_docs(spark_home, libraries=["sparktinylib"], progress=False)
    result = run("search", "frame")
    assert result.exit_code == 2 and "newer Spark" in result.stderr
    assert digest(path) == before


def test_no_docs_yet_is_a_clear_message(spark_home):
    with pytest.raises(SearchUnavailable, match="spark kb build"):
        search("anything")
    ensure_kb(spark_home)
    result = run("search", "anything")
    assert result.exit_code == 2 and "spark kb build" in result.stderr
    assert json.loads(run("kb", "stats", "--format", "json").stdout)["snippets"] == 0


# -- search --------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["bm25", "vector", "fuzzy", "hybrid"])
def test_each_mode_finds_the_object(kb_copy, mode):
    queries = {"bm25": "sort rows stable order of equal values",
               "vector": "put the rows of a table in order",
               "fuzzy": "Frame.srot_values", "hybrid": "sort_values stable"}
    hits = search(queries[mode], mode=mode, k=5)
    assert "sparktinylib.Frame.sort_values" in [h.object for h in hits]
    assert len({h.object for h in hits}) == len(hits)  # one hit per object
    assert all(h.version == "1.0" for h in hits if h.library == "sparktinylib")


def test_in_memory_bm25_scores_as_the_fts_sql(kb_copy):
    """BM25 scored from the loaded postings gives DuckDB fts's match_bm25 scores (as SQL)."""
    from spark_lsp.kb.bm25 import Postings
    from spark_lsp.kb.docs_store import default_versions
    from spark_lsp.kb.search import _BM25_SQL, _SCOPE_SQL, _scope

    con = open_readonly(kb_file(kb_copy), extensions=True)
    assert con is not None
    try:
        scope = _scope(default_versions(con), None)
        postings = Postings(con)
        for query in ("sort rows stable order of equal values", "parse a docstring",
                      "merge two frames on their common columns", "zzzz nothing"):
            sql = {r[0]: r[4] for r in con.execute(_BM25_SQL.format(scope=_SCOPE_SQL),
                                                   [query, scope, 1000]).fetchall()}
            ours = {doc_id: score for doc_id, _, score in postings.search(con, query, scope,
                                                                            1000)}
            assert ours.keys() == sql.keys(), query
            assert all(abs(ours[i] - sql[i]) < 1e-6 * max(1.0, sql[i]) for i in sql), \
                [(i, ours[i], sql[i]) for i in sql if abs(ours[i] - sql[i]) > 1e-6]
        one = _scope(default_versions(con), frozenset({"docstring_parser"}))
        assert {key[0] for _, key, _ in postings.search(con, "parse a docstring", one, 50)} \
            == {"docstring_parser"}
    finally:
        con.close()


def test_typos_and_plain_names_in_hybrid(kb_copy):
    for query in ("sort_values stable", "Frame.srot_values", "sparktinylib.Frame.sort_values"):
        top = search(query, k=3)
        assert top[0].object == "sparktinylib.Frame.sort_values", (query, top)
    assert search("merge two frames", k=3)[0].object == "sparktinylib.merge_frames"


def test_the_other_modes_candidates_enter_the_vector_ranking_by_exact_cosine():
    """The HNSW graph can leave a neighbourhood out of reach; what BM25 or the names found is
    scored exactly and takes the place of a farther neighbour (search._with_exact)."""
    from spark_lsp.kb.search import _with_exact

    def unit(cos: float) -> np.ndarray:
        return np.array([cos, (1 - cos * cos) ** 0.5, 0.0], dtype=np.float32)

    a, b, c, d = (("lib", "1", f"lib.{x}") for x in "abcd")
    query = np.array([1.0, 0.0, 0.0], dtype=np.float32)
    found = [(1, a, 0.5), (2, b, 0.4)]
    nearby = [(3, c, unit(0.45)), (4, d, unit(0.1)), (1, a, unit(0.5))]
    assert [(i, k) for i, k, _ in _with_exact(found, nearby, query, 2)] == [(1, a), (3, c)]
    # fewer neighbours than asked for: every candidate has a place
    assert [k for _, k, _ in _with_exact(found, nearby, query, 5)] == [a, c, b, d]
    assert _with_exact(found, [], query, 2) == found


def test_a_query_of_names_shows_summaries_and_a_question_the_section_it_matched(kb_copy):
    # merge_frames's Examples and parse's Returns are what BM25 ranks first for these names
    for query, obj in (("merge_frames", "sparktinylib.merge_frames"),
                       ("how to use docstring_parser.parse", "docstring_parser.parse"),
                       ("Frame.srot_values", "sparktinylib.Frame.sort_values")):
        hits = search(query, k=3)
        assert hits[0].object == obj, query
        assert {h.section for h in hits} == {"summary"}, (query, hits)
    # with words of its own it is a question: "new frame with its rows in order" is in Returns
    hit = search("sort_values new frame with its rows in order", k=1)[0]
    assert (hit.object, hit.section) == ("sparktinylib.Frame.sort_values", "returns")


def test_rankings_are_what_hybrid_fuses(kb_copy):
    """The benchmarks replay fusion over `Searcher.rankings`: it must be what search fuses."""
    from spark_lsp.kb.fusion import fuse, top
    from spark_lsp.kb.symbol_index import hinted_libraries, query_terms

    searcher = Searcher(kb_file(kb_copy))
    try:
        for query in ("sort_values stable", "merge two frames", "parse a docstring",
                      "docstring_parser parse"):
            rankings, usage, links = searcher.rankings(query, n=50)
            assert set(rankings) == {"bm25", "vector", "fuzzy"}
            terms = query_terms(query)
            scores, _, _ = fuse(rankings, usage, hinted_libraries(terms), links, terms.mentioned)
            assert [key[2] for key in top(scores, 5)] == \
                [h.object for h in searcher.search(query, k=5)], query
        assert searcher.rankings("   ") == ({}, {}, {})
        assert searcher.rankings("merge", library="notalibrary")[0] == {}
    finally:
        searcher.close()


def test_extensions_are_loaded_when_a_mode_needs_them(kb_copy):
    """Reopening after a pause costs no vss load (~0.1 s) unless the HNSW index is used."""
    searcher = Searcher(kb_file(kb_copy))

    def loaded() -> set[str]:
        with searcher.reader.connection() as con:
            return {r[0] for r in con.execute(
                "SELECT extension_name FROM duckdb_extensions() WHERE loaded").fetchall()}
    try:
        assert searcher.search("Frame.sort_values", mode="fuzzy")
        assert not {"fts", "vss"} & loaded()
        assert searcher.search("sort rows stable", mode="bm25")
        assert "fts" in loaded() and "vss" not in loaded()
        assert searcher.search("put the rows of a table in order", mode="vector")
        assert {"fts", "vss"} <= loaded()
        searcher.reader.close()  # a new connection starts without them again
        assert searcher.search("put the rows of a table in order", mode="vector")[0].object
        assert "vss" in loaded()
    finally:
        searcher.close()


def test_undecodable_bytes_in_a_query_are_searched_around(kb_copy):
    """A command line in another encoding gives lone surrogates; DuckDB cannot bind them."""
    for mode in ("bm25", "vector", "fuzzy", "hybrid"):
        hits = search("sort_values \udcff stable", mode=mode, k=3)
        assert isinstance(hits, list)
    assert search("sort_values \udcff stable", k=1)[0].object == "sparktinylib.Frame.sort_values"


def test_an_undocumented_library_is_named_with_the_documented_ones(kb_copy):
    result = run("search", "sort", "--library", "nosuchlib")
    assert result.exit_code == 0
    assert "'nosuchlib' is not documented" in result.stderr
    assert "sparktinylib" in result.stderr and "spark kb build --libraries nosuchlib" in \
        result.stderr
    assert "not documented" not in run("search", "sort", "--library", "sparktinylib").stderr


def test_library_filter_and_k(kb_copy):
    hits = search("parse a docstring", library="docstring_parser", k=4)
    assert 0 < len(hits) <= 4 and {h.library for h in hits} == {"docstring_parser"}
    assert search("parse a docstring", library="sparktinylib", k=4, mode="fuzzy") == [] or \
        {h.library for h in search("parse", library="sparktinylib", k=4)} <= {"sparktinylib"}
    assert search("parse a docstring", library="notalibrary") == []


def test_search_json_shape(kb_copy):
    result = run("search", "sort_values stable", "-k", "3", "--format", "json")
    assert result.exit_code == 0, result.output
    items = json.loads(result.stdout)
    assert 0 < len(items) <= 3
    for item in items:
        assert set(item) == set(JSON_KEYS)
        assert isinstance(item["score"], float) and item["text"]
    assert items[0]["object"] == "sparktinylib.Frame.sort_values"
    text = run("search", "sort_values stable", "-k", "2", "--mode", "bm25").stdout
    assert text.startswith(" 1. sparktinylib.Frame.sort_values")


def test_reader_lets_writers_in_after_idle(kb_copy):
    reader = KBReader(kb_file(kb_copy), idle=0.2)
    with reader.connection() as con:
        assert con is not None and con.execute("SELECT 1").fetchone() == (1,)
    assert reader.identity is not None
    assert wait_for(lambda: reader.identity is None, 5)  # closed on its own
    ensure_kb(kb_copy, timeout=2)  # a writer gets in


# -- hover ---------------------------------------------------------------------------------------

def test_describe_symbol(kb_copy):
    doc = describe_symbol("sparktinylib.Frame.sort_values")
    assert doc is not None and doc.version == "1.0" and doc.kind == "method"
    assert doc.signature == "(self, by, kind='quicksort')"
    assert doc.summary.startswith("Sort the rows by the values of one column.")
    assert doc.see_also == ["sparktinylib.Frame.to_records", "sparktinylib.merge_frames"]
    from spark_lsp.server.docs_hover import doc_hover_text

    assert "See also: Frame.to_records, merge_frames" in doc_hover_text(doc, markdown=False)
    alias = describe_symbol("sparktinylib.frame.Frame")
    assert alias is not None and alias.object == "sparktinylib.Frame"
    assert describe_symbol("sparktinylib.nothing_here") is None
    assert describe_symbol("unknownlib.thing") is None
    assert describe_symbol("sparktinylib.Frame", {"sparktinylib": "9.9"}).version == "1.0"
    real = describe_symbol("docstring_parser.parse")
    assert real is not None and real.signature.startswith("(text")


def test_kb_errors_are_kb_errors():
    assert issubclass(SearchUnavailable, KBError)


def test_a_library_whose_distribution_has_another_name_has_its_version(tmp_path, monkeypatch):
    """tensorflow-cpu provides `tensorflow`: its version must be found, or every build would
    document it again as "unknown"."""
    from spark_lsp.kb.harvest import installed_in

    site = tmp_path / "site"
    (site / "renamedlib").mkdir(parents=True)
    (site / "renamedlib" / "__init__.py").write_text("")
    info = site / "renamedlib_cpu-4.5.6.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: renamedlib-cpu\nVersion: 4.5.6\n")
    (info / "top_level.txt").write_text("renamedlib\n")
    monkeypatch.setenv("PYTHONPATH", str(site))
    found = installed_in(sys.executable, ["renamedlib", "surely_not_installed_lib"])
    assert found == {"renamedlib": "4.5.6", "surely_not_installed_lib": None}


def test_api_usage_is_counted_and_lifts_common_apis(kb_copy):
    import math


    path = kb_file(kb_copy)
    con = open_readonly(path, timeout=10)
    try:
        rows = con.execute("SELECT library, name, uses FROM doc_usage").fetchall()
        members = {r[0].rsplit(".", 1)[-1] for r in con.execute(
            "SELECT object FROM doc_objects WHERE kind <> 'module'").fetchall()}
    finally:
        con.close()
    # docstring_parser's own source uses its API; only documented members are counted
    assert any(lib == "docstring_parser" and uses > 0 for lib, _, uses in rows)
    assert {name for _, name, _ in rows} <= members
    before = Searcher(path).search("sort_values stable", k=1)[0]
    with docs_writer(path) as writer:  # the file holds an HNSW index
        writer.execute("INSERT OR REPLACE INTO doc_usage VALUES "
                       "('sparktinylib', '1.0', 'sort_values', 5000)")
    after = Searcher(path).search("sort_values stable", k=1)[0]
    assert after.object == before.object == "sparktinylib.Frame.sort_values"
    expected = before.score * (1 + math.log1p(5000) / math.log1p(5000))
    assert after.score == pytest.approx(expected, rel=1e-3)


def test_a_knowledge_base_without_usage_counts_still_searches(kb_copy):

    with docs_writer(kb_file(kb_copy)) as writer:
        writer.execute("DROP TABLE doc_usage")
    hits = Searcher(kb_file(kb_copy)).search("sort_values stable", k=3)
    assert hits and hits[0].object == "sparktinylib.Frame.sort_values"


def test_usage_counts_and_links_of_unchanged_libraries_are_carried_over(kb_copy):
    def rows(sql):
        con = open_readonly(kb_file(kb_copy), timeout=10)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()

    usage = "SELECT library, version, name, uses FROM doc_usage ORDER BY ALL"
    links = "SELECT * FROM doc_links ORDER BY ALL"
    before = rows(usage), rows(links)
    report = build_docs(kb_copy, libraries=LIBS, progress=False)
    assert {r.status for r in report.libraries} == {"unchanged"}
    assert (rows(usage), rows(links)) == before and all(before)


SEE_ALSO_DOC = """Sort things.

Parameters
----------
by : str
    See Also the column: not an entry.

See Also
--------
DataFrame.duplicated : Indicate duplicate values.
sort, lexsort
:func:`~numpy.argpartition` : Partial sort.
:meth:`the frame's <pandas.Series.sort_values>`
DataFrame.value_counts: Count unique combinations
    of columns, DataFrame.notanentry.

Examples
--------
>>> sort(1)
"""


@pytest.mark.parametrize(("doc", "expected"), [
    (SEE_ALSO_DOC, ["DataFrame.duplicated", "sort", "lexsort", "numpy.argpartition",
                    "pandas.Series.sort_values", "DataFrame.value_counts"]),
    # indented as in a method's __doc__, and a last section running to the end
    ("Sum.\n\n    See Also\n    --------\n    numpy.add : Add.\n        More.\n    mean\n",
     ["numpy.add", "mean"]),
    ("No such section; see also numpy.add.", []),
    # SymPy underlines with equals signs; the next heading ends the section
    (("Invert.\n\nSee Also\n========\n\ninverse_ADJ\ninverse_GE\n\nRaises\n======\n\n"
      "ValueError\n    If singular.\n"), ["inverse_ADJ", "inverse_GE"]),
    ("See Also\n--------\n.. versionadded:: 1.0\n`text with spaces`\n", []),
])
def test_see_also_entries_are_read_from_numpydoc(doc, expected):
    from spark_lsp.kb.harvest import see_also

    assert see_also(doc) == expected


def test_see_also_names_resolve_to_objects_of_the_same_library():
    from spark_lsp.kb.harvest import see_also_links

    def obj(name, doc="", aliases=()):
        return DocObject("pandas", "3.0", name, "function", "", doc, list(aliases))

    objects = [
        obj("pandas.DataFrame.drop_duplicates", "Drop.\n\nSee Also\n--------\n"
            "DataFrame.duplicated : Flag.\nnunique\nmerge\nnumpy.unique\n"
            "drop_duplicates\nSeries.drop_duplicates\nunknown_thing\n"),
        obj("pandas.DataFrame.duplicated"), obj("pandas.DataFrame.nunique"),
        obj("pandas.merge", aliases=["pandas.core.reshape.merge.merge"]),
        obj("pandas.Series.drop_duplicates"),
        obj("pandas.concat", "Join.\n\nSee Also\n--------\ncore.reshape.merge.merge\n"
            "pandas.concat\n"),
    ]
    assert see_also_links(objects) == {
        # under the library, beside the object (its class's member), by a unique ending;
        # itself, other libraries' names and unknown names are dropped
        "pandas.DataFrame.drop_duplicates": ["pandas.DataFrame.duplicated",
                                             "pandas.DataFrame.nunique", "pandas.merge",
                                             "pandas.Series.drop_duplicates"],
        "pandas.concat": ["pandas.merge"],  # an alias: its canonical object
    }


def test_see_also_links_are_stored_and_lift_the_objects_they_name(kb_copy):

    path = kb_file(kb_copy)
    con = open_readonly(path, timeout=10)
    try:
        links = con.execute("SELECT object, target FROM doc_links WHERE library = "
                            "'sparktinylib' ORDER BY ALL").fetchall()
    finally:
        con.close()
    assert links == [("sparktinylib.Frame.sort_values", "sparktinylib.Frame.to_records"),
                     ("sparktinylib.Frame.sort_values", "sparktinylib.merge_frames")]

    def hits():
        return {h.object: h for h in Searcher(path).search("sort the rows by one column", k=20)}

    linked = hits()
    # the rank (before the links' shares) of the first result naming it: sort_values
    assert linked["sparktinylib.Frame.to_records"].modes["see_also"] == 1
    with docs_writer(path) as writer:
        writer.execute("DROP TABLE doc_links")  # as a file from before the table
    plain = hits()
    assert "see_also" not in plain["sparktinylib.Frame.to_records"].modes
    assert plain["sparktinylib.Frame.to_records"].score < \
        linked["sparktinylib.Frame.to_records"].score


def test_any_library_documents_its_unimported_subpackages_under_their_own_names(tmp_path,
                                                                                monkeypatch):
    """Like rich: `import sparkrichlib` imports none of its modules, `columns` imports `Table`
    from `table`, and the wheel installs a second package (`sparkrichlib_impl`, as attrs
    installs `attr`) whose objects the first re-exports."""
    site = tmp_path / "site"
    pkg = site / "sparkrichlib"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(textwrap.dedent('''
        """A terminal library."""
        __all__ = ["print_it", "define"]
        from sparkrichlib_impl import define


        def print_it(text):
            """Print text with colours."""
        '''), encoding="utf-8")
    (pkg / "table.py").write_text(textwrap.dedent('''
        class Table:
            """A renderable that draws a table in the terminal."""

            def add_row(self, *cells):
                """Add a row of cells."""
        '''), encoding="utf-8")
    (pkg / "columns.py").write_text("from sparkrichlib.table import Table\n\n\n"
                                    "class Columns:\n    \"\"\"Cells in columns.\"\"\"\n")
    (pkg / "__main__.py").write_text("raise SystemExit('never imported')\n")
    (site / "sparkrichlib_impl").mkdir()
    (site / "sparkrichlib_impl" / "__init__.py").write_text(
        'def define(cls):\n    """Make a class with validated attributes."""\n    return cls\n')
    info = site / "sparkrichlib-3.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: sparkrichlib\nVersion: 3.0\n")
    (info / "top_level.txt").write_text("sparkrichlib\nsparkrichlib_impl\n")
    monkeypatch.setenv("PYTHONPATH", str(site))
    result = harvest_library("sparkrichlib", timeout=60)
    assert result.ok and result.version == "3.0", result.message
    objects = {o.object: o for o in result.objects}
    assert {"sparkrichlib.table.Table", "sparkrichlib.table.Table.add_row",
            "sparkrichlib.columns.Columns", "sparkrichlib.print_it",
            "sparkrichlib.define"} <= set(objects)
    # documented where it is defined; the module that imports it gives an alias
    assert "sparkrichlib.columns.Table" not in objects
    assert objects["sparkrichlib.table.Table"].aliases == ["sparkrichlib.columns.Table"]


@pytest.mark.parametrize(("names", "home", "expected"), [
    (["rich.columns.Table", "rich.table.Table"], "rich.table", "rich.table.Table"),
    (["pandas.DataFrame", "pandas.core.frame.DataFrame"], "pandas.core.frame",
     "pandas.DataFrame"),
    (["rich.bar.Console", "rich.console.Console"], "rich.console", "rich.console.Console"),
    # defined outside every public path (TensorFlow's keras.src): the first found, shallowest
    (["tensorflow.keras.layers.Dense", "tensorflow.keras.layers.core.Dense"],
     "keras.src.layers.core.dense", "tensorflow.keras.layers.Dense"),
    (["lib.f", "lib.sub.f"], None, "lib.f"),
    # a module named like the start of another is not its package
    (["lib.tab.Table", "lib.table.Table"], "lib.tables", "lib.tab.Table"),
])
def test_canonical_name_is_the_objects_own_module_or_a_package_above(names, home, expected):
    from spark_lsp.kb.introspect_child import canonical_name

    assert canonical_name(names, home) == expected


def test_libraries_documented_by_an_older_harvester_are_harvested_again(kb_copy):
    """A Spark upgrade whose harvester finds more must not keep the old documentation as
    'unchanged' because the library's version did not move."""
    from spark_lsp.kb.harvest import HARVESTER

    def revisions():
        con = open_readonly(kb_file(kb_copy), timeout=10)
        try:
            return dict(con.execute("SELECT library, harvester FROM doc_libraries").fetchall())
        finally:
            con.close()

    assert revisions() == {lib: HARVESTER for lib in LIBS}
    with docs_writer(kb_file(kb_copy)) as writer:
        writer.execute("UPDATE doc_libraries SET harvester = ? WHERE library = 'sparktinylib'",
                       [HARVESTER - 1])
    report = build_docs(kb_copy, libraries=LIBS, progress=False)
    assert {r.library: r.status for r in report.libraries} == {
        "sparktinylib": "harvested", "docstring_parser": "unchanged"}
    assert report.newly_embedded == 0  # same texts: every vector from the cache
    assert revisions() == {lib: HARVESTER for lib in LIBS}


def test_a_knowledge_base_from_before_harvester_revisions_is_harvested_again(kb_copy):
    from spark_lsp.kb.migrate import schema_version

    with docs_writer(kb_file(kb_copy)) as writer:  # the file as migration 4 left it
        writer.execute("ALTER TABLE doc_libraries DROP COLUMN harvester")
        writer.execute("DROP TABLE doc_links")
        writer.execute("DELETE FROM schema_migrations WHERE version >= 5")
        assert schema_version(writer) == 4
    assert search("sort_values stable", k=1, home=kb_copy)  # still searches as it is
    report = build_docs(kb_copy, libraries=LIBS, progress=False)
    assert {r.status for r in report.libraries} == {"harvested"}
    assert report.newly_embedded == 0


def test_a_submodule_whose_import_hangs_is_left_out_not_the_library(tmp_path, monkeypatch):
    pkg = tmp_path / "sparkslowlib"
    pkg.mkdir()
    (pkg / "__init__.py").write_text('"""A library with one submodule that waits forever."""\n'
                                     '__version__ = "1.0"\n')
    (pkg / "fast.py").write_text('def ready():\n    """Answers at once."""\n')
    (pkg / "waits.py").write_text('import time\ntime.sleep(600)\n\n\n'
                                  'def never():\n    """Never reached."""\n')
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    started = time.monotonic()
    result = harvest_library("sparkslowlib", timeout=20)  # a submodule gets 2 s of it
    assert result.ok, result.message
    names = {o.object for o in result.objects}
    assert "sparkslowlib.fast.ready" in names and "sparkslowlib.waits.never" not in names
    assert time.monotonic() - started < 15
