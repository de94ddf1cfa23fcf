"""The DuckDB knowledge base: migrations, refusal of files it must not touch, extensions, card
sync, journal merge (dedupe, malformed lines, partial lines, idempotence) and real concurrency
between processes. Every test uses real DuckDB files under its own SPARK_HOME."""

import hashlib
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from spark_lsp.analysis.cards import Card, FixSpec
from spark_lsp.kb.db import (
    ExtensionMissing,
    KBBusy,
    KBCorrupt,
    KBError,
    KBTooNew,
    extension_path,
    kb_file,
    load_extensions,
    open_readonly,
)
from spark_lsp.kb.merge import journal_owner, merge_journals
from spark_lsp.kb.migrate import (
    known_migrations,
    latest_version,
    load_required_extensions,
    migrate,
    parse_migrations,
    schema_version,
)
from spark_lsp.kb.rebuild import rebuild_kb
from spark_lsp.kb.store import ensure_kb, kb_status, list_traces, sync_cards
from spark_lsp.kb.traces import TRACE_SCHEMA_VERSION, Trace, TraceJournal, journal_dir

ROOT = Path(__file__).resolve().parents[2]


def make_card(code, title="A title", status="curated", **extra):
    raw = {"code": code, "title": title, "status": status, "libraries": {"pandas": ">=2"},
           "why": "because", **extra}
    return Card(code=code, title=title, libraries={"pandas": ">=2"}, rules=(), why="because",
                fix=FixSpec("safe", "fix it"), examples=(), sources=(), status=status,
                path=f"/seeds/{code}.yaml", raw=raw)


def digest(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(proc.stdout)


def journal_file(home: Path, pid: int) -> Path:
    import socket

    folder = journal_dir(home)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{socket.gethostname()}-{pid}-abcd1234.jsonl"


def db_traces(home: Path) -> list[tuple]:
    con = duckdb.connect(str(kb_file(home)), read_only=True)
    try:
        return con.execute("SELECT id, outcome, code, line FROM traces ORDER BY id").fetchall()
    finally:
        con.close()


def start_python(code: str, home: Path) -> subprocess.Popen:
    """A real process running `code` with this test's SPARK_HOME; it prints 'ready' when set."""
    env = {**os.environ, "SPARK_HOME": str(home), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    return proc


# -- migrations ----------------------------------------------------------------------------------

def test_ensure_kb_creates_the_foundation_tables(spark_home):
    report = ensure_kb(spark_home, cards=[make_card("SPK901")])
    assert report.migrations_applied == list(range(1, latest_version() + 1))
    assert report.schema_version == latest_version()
    con = duckdb.connect(str(kb_file(spark_home)), read_only=True)
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert {"cards", "traces", "meta", "schema_migrations", "journal_offsets"} <= tables
    columns = {r[0] for r in con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE table_name = 'traces'").fetchall()}
    assert set(Trace.__dataclass_fields__) <= columns
    assert con.execute("SELECT version, name FROM schema_migrations ORDER BY version"
                       ).fetchall()[0] == (1, "init")
    meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
    assert meta["spark_version"] and meta["seeds_fingerprint"]
    con.close()
    again = ensure_kb(spark_home)
    assert again.migrations_applied == []


def test_migrations_apply_in_order_in_one_transaction(tmp_path):
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "001_a.sql").write_text("CREATE TABLE a (x INTEGER);")
    (folder / "002_b.sql").write_text("INSERT INTO a VALUES (1); CREATE TABLE b (y INTEGER);")
    (folder / "003_broken.sql").write_text("INSERT INTO a VALUES (2); CREATE TABLE oops (;")
    path = tmp_path / "kb.duckdb"
    con = duckdb.connect(str(path))
    with pytest.raises(KBError, match="003_broken failed.*nothing was changed"):
        migrate(con, path, parse_migrations(folder))
    assert schema_version(con) == 0
    assert not con.execute("SELECT * FROM duckdb_tables()").fetchall()
    (folder / "003_broken.sql").write_text("INSERT INTO a VALUES (3);")
    assert migrate(con, path, parse_migrations(folder)) == [1, 2, 3]
    assert con.execute("SELECT list(x ORDER BY x) FROM a").fetchone()[0] == [1, 3]
    assert migrate(con, path, parse_migrations(folder)) == []
    con.close()


def test_migration_files_must_be_numbered_without_gaps(tmp_path):
    (tmp_path / "001_a.sql").write_text("SELECT 1;")
    (tmp_path / "003_c.sql").write_text("SELECT 1;")
    with pytest.raises(RuntimeError, match="numbered 1..n"):
        parse_migrations(tmp_path)
    (tmp_path / "2_b.sql").write_text("SELECT 1;")
    with pytest.raises(RuntimeError, match="NNN_name.sql"):
        parse_migrations(tmp_path)


def test_shipped_migrations_are_well_formed():
    migrations = known_migrations()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert migrations[0].name == "init" and migrations[0].requires == ()


def test_a_later_migration_can_add_vectors_fts_and_hnsw(tmp_path):
    """The docs tables of later issues: a migration that needs vss and fts says so."""
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "001_init.sql").write_text((ROOT / "spark_lsp/kb/migrations/001_init.sql")
                                         .read_text())
    (folder / "002_docs.sql").write_text(textwrap.dedent("""\
        -- requires: vss, fts
        SET hnsw_enable_experimental_persistence = true;
        CREATE TABLE docs (id INTEGER PRIMARY KEY, text VARCHAR, vec FLOAT[3]);
        INSERT INTO docs VALUES (1, 'sort stable mergesort', [1, 0, 0]),
                                (2, 'apply lambda vectorize', [0, 1, 0]);
        CREATE INDEX docs_hnsw ON docs USING HNSW (vec);
        """))
    migrations = parse_migrations(folder)
    assert migrations[1].requires == ("vss", "fts")
    path = tmp_path / "kb.duckdb"
    con = duckdb.connect(str(path))
    assert migrate(con, path, migrations) == [1, 2]
    con.execute("PRAGMA create_fts_index('docs', 'id', 'text')")
    con.close()
    con = duckdb.connect(str(path))
    load_required_extensions(con, migrations)
    con.execute("SET hnsw_enable_experimental_persistence = true")
    con.execute("INSERT INTO docs VALUES (3, 'stable sort', [0.9, 0.1, 0])")
    nearest = con.execute("SELECT id FROM docs ORDER BY array_distance(vec, [1, 0, 0]::FLOAT[3]) "
                          "LIMIT 1").fetchone()
    assert nearest == (1,)
    hits = con.execute("SELECT id FROM (SELECT id, fts_main_docs.match_bm25(id, 'mergesort') AS s "
                       "FROM docs) WHERE s IS NOT NULL").fetchall()
    assert hits == [(1,)]
    con.close()


# -- files Spark must not touch ------------------------------------------------------------------

def test_a_newer_schema_is_refused_and_left_untouched(spark_home):
    ensure_kb(spark_home, cards=[])
    path = kb_file(spark_home)
    con = duckdb.connect(str(path))
    con.execute("INSERT INTO schema_migrations (version, name, spark_version) "
                "VALUES (99, 'future', '9.0')")
    con.close()
    before = digest(path)
    TraceJournal(spark_home).append(Trace("shown", "SPK001"))
    for attempt in (lambda: ensure_kb(spark_home), lambda: merge_journals(spark_home),
                    lambda: open_readonly(path), lambda: rebuild_kb(spark_home)):
        with pytest.raises(KBTooNew,
                           match=r"schema version 99.*knows versions up to \d+.*not changed"):
            attempt()
    assert digest(path) == before
    assert not list(spark_home.glob("spark.duckdb.old-*"))


@pytest.mark.parametrize("content", [b"not a database at all\n" * 500, b""])
def test_a_garbage_file_is_a_clear_error_and_kept(spark_home, content):
    spark_home.mkdir(parents=True)
    path = kb_file(spark_home)
    path.write_bytes(content)
    before = digest(path)
    with pytest.raises(KBCorrupt, match=r"damaged.*spark kb rebuild"):
        ensure_kb(spark_home)
    with pytest.raises(KBCorrupt):
        open_readonly(path)
    TraceJournal(spark_home).append(Trace("shown", "SPK001"))
    with pytest.raises(KBCorrupt):
        merge_journals(spark_home)
    assert digest(path) == before


def test_a_damaged_block_is_reported_as_damage(spark_home):
    ensure_kb(spark_home, cards=[])
    path = kb_file(spark_home)
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE filler AS SELECT range AS i, 'x' || range AS s FROM range(200000)")
    con.close()
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.seek(size // 2)
        fh.write(os.urandom(size // 4))
    from spark_lsp.kb.db import kb_errors

    # The header is fine: the damage shows when a damaged block is read, on opening (the
    # catalog's blocks, wherever the file's layout put them) or in the query.
    with pytest.raises(KBCorrupt, match="damaged"), kb_errors(path):
        con = open_readonly(path)
        assert con is not None
        try:
            con.execute("SELECT max(s) FROM filler").fetchall()
        finally:
            con.close()


def test_rebuild_sets_the_old_file_aside_and_keeps_what_it_can(spark_home):
    journal = TraceJournal(spark_home)
    for i in range(3):
        journal.append(Trace("accepted", "SPK001", line=i))
    ensure_kb(spark_home, cards=[make_card("SPK901")])
    merge_journals(spark_home)
    con = duckdb.connect(str(kb_file(spark_home)))
    sync_cards(con, [make_card("SPKM01")], source="memory")
    con.close()
    report = rebuild_kb(spark_home)
    assert report.old_path.exists() and report.traces_kept == 3 and report.cards_kept == 1
    assert len(db_traces(spark_home)) == 3
    assert merge_journals(spark_home).inserted == 0  # offsets were carried over too
    # a garbage file: set aside byte for byte, a new one built
    kb_file(spark_home).write_bytes(b"garbage" * 100)
    report = rebuild_kb(spark_home)
    assert report.old_path.read_bytes() == b"garbage" * 100
    assert any("nothing could be read" in n for n in report.notes)
    assert kb_status(spark_home).schema_version == latest_version()
    assert merge_journals(spark_home).inserted == 3  # the live journal is read again


# -- extensions ----------------------------------------------------------------------------------

def test_extensions_load_from_their_pip_packages():
    con = duckdb.connect()
    paths = load_extensions(con, ["vss", "fts"])
    assert [p.name for p in paths] == ["vss.duckdb_extension", "fts.duckdb_extension"]
    assert all(f"v{duckdb.__version__}" in str(p) for p in paths)
    loaded = {r[0] for r in con.execute(
        "SELECT extension_name FROM duckdb_extensions() WHERE loaded").fetchall()}
    assert {"vss", "fts"} <= loaded
    assert con.execute("SELECT current_setting('autoload_known_extensions')").fetchone() == (False,)
    con.execute("CREATE TABLE v (vec FLOAT[2]); INSERT INTO v VALUES ([1, 2]);"
                "CREATE INDEX v_idx ON v USING HNSW (vec)")
    con.close()


def test_a_missing_extension_package_is_a_clear_error():
    with pytest.raises(ExtensionMissing, match=r"'nosuch' is not installed.*pip install "
                                               r"'duckdb-extension-nosuch=="):
        load_extensions(duckdb.connect(), ["nosuch"])


def test_an_extension_for_another_duckdb_or_a_bad_file_is_a_clear_error(tmp_path, monkeypatch):
    import importlib

    package = tmp_path / "duckdb_extension_fake"
    (package / "extensions" / "v0.0.1").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "extensions" / "v0.0.1" / "fake.duckdb_extension").write_bytes(b"x")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    with pytest.raises(ExtensionMissing,
                       match=r"no fake extension for duckdb .*\(it has: v0\.0\.1\)"):
        extension_path("fake")
    right = package / "extensions" / f"v{duckdb.__version__}"
    right.mkdir()
    (right / "fake.duckdb_extension").write_bytes(b"not a shared library")
    assert extension_path("fake") == right / "fake.duckdb_extension"
    with pytest.raises(ExtensionMissing, match="cannot load the DuckDB extension 'fake'"):
        load_extensions(duckdb.connect(), ["fake"])


# -- cards ---------------------------------------------------------------------------------------

def test_sync_cards_upserts_by_hash_and_marks_removed(spark_home):
    ensure_kb(spark_home, cards=[])
    con = duckdb.connect(str(kb_file(spark_home)))
    first = sync_cards(con, [make_card("SPK901"), make_card("SPK902")])
    assert first.added == ["SPK901", "SPK902"]
    sync_cards(con, [make_card("SPKM01")], source="memory")
    same = sync_cards(con, [make_card("SPK901"), make_card("SPK902")])
    assert same.unchanged == 2 and not (same.added or same.updated or same.removed)
    changed = sync_cards(con, [make_card("SPK901", title="New title")])
    assert changed.updated == ["SPK901"] and changed.removed == ["SPK902"]
    rows = {r[0]: r[1:] for r in con.execute(
        "SELECT code, title, status, source, body->>'title', removed_at IS NOT NULL FROM cards"
    ).fetchall()}
    assert rows["SPK901"] == ("New title", "curated", "seed", "New title", False)
    assert rows["SPK902"] == ("A title", "removed", "seed", "A title", True)
    assert rows["SPKM01"][1:3] == ("curated", "memory")  # other sources are left alone
    back = sync_cards(con, [make_card("SPK901", title="New title"), make_card("SPK902")])
    assert back.restored == ["SPK902"]
    assert con.execute("SELECT status FROM cards WHERE code = 'SPK902'").fetchone() == ("curated",)
    con.close()


def test_ensure_kb_loads_the_seed_cards_once(spark_home):
    first = ensure_kb(spark_home)
    assert first.cards is not None and first.cards.added
    assert ensure_kb(spark_home).cards is None  # seeds unchanged: not read again
    status = kb_status(spark_home)
    assert sum(status.cards["seed"].values()) == len(first.cards.added)


# -- journal merge -------------------------------------------------------------------------------

def test_merge_inserts_once_and_is_idempotent(spark_home):
    journal = TraceJournal(spark_home)
    traces = [Trace("shown", "SPK001", line=i, versions={"pandas": "3.0"}) for i in range(5)]
    for t in traces:
        journal.append(t)
    report = merge_journals(spark_home)
    assert (report.files, report.lines, report.inserted, report.duplicates) == (1, 5, 5, 0)
    assert merge_journals(spark_home).inserted == 0
    journal.append(Trace("accepted", "SPK001", line=9))
    again = merge_journals(spark_home)
    assert (again.lines, again.inserted) == (1, 1)  # only the new line is read
    # the same trace in another journal (e.g. a replayed file) is stored once
    other = journal_file(spark_home, dead_pid())
    other.write_text(traces[0].to_json() + "\n" + traces[1].to_json() + "\n")
    dup = merge_journals(spark_home)
    assert (dup.inserted, dup.duplicates, dup.removed_files) == (0, 2, 1)
    assert not other.exists()
    rows = db_traces(spark_home)
    assert len(rows) == 6 == len({r[0] for r in rows})
    con = duckdb.connect(str(kb_file(spark_home)), read_only=True)
    stored = con.execute("SELECT versions->>'pandas', ts FROM traces WHERE id = ?",
                         [traces[0].id]).fetchone()
    assert stored == ("3.0", traces[0].ts)
    con.close()


def test_merge_sets_aside_malformed_lines_and_newer_schemas(spark_home):
    good = Trace("rejected", "SPK002", line=3)
    lines = [
        good.to_json(),
        "not json at all",
        json.dumps([1, 2]),
        json.dumps({"outcome": "shown", "code": "SPK001", "ts": 1.0}),  # no id
        json.dumps({**json.loads(good.to_json()), "id": "x2", "outcome": "maybe"}),
        json.dumps({**json.loads(good.to_json()), "id": "x3", "line": "7"}),
        json.dumps({**json.loads(good.to_json()), "id": "x4", "line": 2**40}),
        json.dumps({**json.loads(good.to_json()), "id": "x5", "versions": {"pandas": 3}}),
        json.dumps({**json.loads(good.to_json()), "id": "x6", "before": "\ud800"}),
        json.dumps({**json.loads(good.to_json()), "id": "x7", "schema": TRACE_SCHEMA_VERSION + 1}),
        "",
    ]
    path = journal_file(spark_home, dead_pid())
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8") + b"\xff\xfe broken\n")
    report = merge_journals(spark_home)
    assert (report.inserted, report.malformed, report.unknown_schema) == (1, 9, 1)
    text = "\n".join(report.messages)
    for phrase in ("not JSON", "expected a JSON object", "missing id", "unknown outcome",
                   "line must be a whole number", "got '7'", "got 1099511627776",
                   "versions must map", "lone surrogate",
                   f"trace schema {TRACE_SCHEMA_VERSION + 1} is newer", "not UTF-8"):
        assert phrase in text, phrase
    assert f"{path.name} at byte" in text
    rejected = journal_dir(spark_home) / "rejected" / path.name
    assert len(rejected.read_bytes().splitlines()) == 10  # nothing is dropped
    assert not path.exists()
    assert db_traces(spark_home) == [(good.id, "rejected", "SPK002", 3)]


def test_a_partial_last_line_waits_for_a_live_writer(spark_home):
    path = journal_file(spark_home, os.getpid())  # this process: alive
    first, second = Trace("shown", "SPK001"), Trace("accepted", "SPK001")
    half = len(second.to_json()) // 2
    path.write_text(first.to_json() + "\n" + second.to_json()[:half])
    report = merge_journals(spark_home)
    assert (report.inserted, report.partial_kept, report.malformed) == (1, 1, 0)
    assert path.exists()
    with open(path, "a") as fh:
        fh.write(second.to_json()[half:] + "\n")
    assert merge_journals(spark_home).inserted == 1
    assert len(db_traces(spark_home)) == 2


def test_a_partial_last_line_of_a_dead_writer_is_malformed(spark_home):
    path = journal_file(spark_home, dead_pid())
    ok, cut = Trace("shown", "SPK001"), Trace("accepted", "SPK001").to_json()[:40]
    path.write_text(ok.to_json() + "\n" + cut)
    report = merge_journals(spark_home)
    assert (report.inserted, report.malformed, report.partial_kept) == (1, 1, 0)
    assert "incomplete last line" in report.messages[0]
    assert (journal_dir(spark_home) / "rejected" / path.name).read_text() == cut + "\n"
    assert not path.exists()


def test_journal_names_carry_their_writer(spark_home):
    journal = TraceJournal(spark_home)
    assert journal_owner(journal.path.name)[1] == os.getpid()
    assert journal_owner("my-host-name-123-abcd.jsonl") == ("my-host-name", 123)
    assert journal_owner("notes.jsonl") is None


def test_a_torn_write_does_not_swallow_the_next_trace(spark_home, monkeypatch):
    from spark_lsp.kb import traces as traces_module

    journal = TraceJournal(spark_home)
    journal.append(Trace("shown", "SPK001"))

    class HalfWriter:
        """A file whose write stops half-way (disk full): the line has no newline."""

        def __init__(self, fh):
            self.fh = fh

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

        def write(self, text):
            self.fh.write(text[: len(text) // 2])
            self.fh.flush()
            raise OSError(28, "No space left on device")

    real_open = open
    monkeypatch.setattr(traces_module, "open", lambda *a, **k: HalfWriter(real_open(*a, **k)),
                        raising=False)
    with pytest.raises(OSError):
        journal.append(Trace("shown", "SPK002"))
    monkeypatch.undo()
    after = Trace("accepted", "SPK003")
    journal.append(after)
    report = merge_journals(spark_home)
    assert (report.inserted, report.malformed) == (2, 1)
    assert after.id in {r[0] for r in db_traces(spark_home)}


# -- concurrency with real processes -------------------------------------------------------------

HOLD_FILE = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1] if len(sys.argv) > 1 else {path!r}, read_only={ro})
print("ready", flush=True)
time.sleep({seconds})
con.close()
"""


def test_open_readonly_gives_none_while_a_writer_holds_the_file(spark_home):
    ensure_kb(spark_home, cards=[])
    path = kb_file(spark_home)
    holder = start_python(HOLD_FILE.format(path=str(path), ro=False, seconds=30), spark_home)
    try:
        started = time.monotonic()
        assert open_readonly(path, timeout=0.3) is None
        assert time.monotonic() - started < 5
        with pytest.raises(KBBusy, match="in use by another process"):
            merge_journals_with_line(spark_home, timeout=0.3)
        listing = list_traces(spark_home, timeout=0.3)  # still lists the journal's traces
        assert len(listing.traces) == 1 and listing.notes
        assert not kb_status(spark_home, timeout=0.3).readable
    finally:
        holder.kill()
        holder.wait()
    assert open_readonly(path) is not None
    assert open_readonly(spark_home / "missing.duckdb") is None


def merge_journals_with_line(home, timeout):
    if not list(journal_dir(home).glob("*.jsonl")):
        TraceJournal(home).append(Trace("shown", "SPK001"))
    return merge_journals(home, timeout=timeout)


def test_the_writer_waits_for_a_reader_to_finish(spark_home):
    ensure_kb(spark_home, cards=[])
    reader = start_python(HOLD_FILE.format(path=str(kb_file(spark_home)), ro=True, seconds=1.0),
                          spark_home)
    try:
        started = time.monotonic()
        report = merge_journals_with_line(spark_home, timeout=20)
        assert report.inserted == 1
        assert time.monotonic() - started > 0.3  # it did have to wait
    finally:
        reader.wait()


def test_only_one_merger_runs(spark_home):
    holder = start_python(f"""
        import fcntl, pathlib, time
        home = pathlib.Path({str(spark_home)!r}); home.mkdir(parents=True, exist_ok=True)
        fh = open(home / "kb.lock", "a+b"); fcntl.flock(fh, fcntl.LOCK_EX)
        print("ready", flush=True); time.sleep(30)
        """, spark_home)
    try:
        with pytest.raises(KBBusy, match="another Spark process is updating"):
            merge_journals_with_line(spark_home, timeout=0.3)
    finally:
        holder.kill()
        holder.wait()
    assert merge_journals(spark_home).inserted == 1


WRITER = """
import sys, time
from pathlib import Path
from spark_lsp.kb.traces import Trace, TraceJournal
home, name, n = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
journal = TraceJournal(home)
print("ready", flush=True)
for i in range(n):
    journal.append(Trace("shown", "SPK001", client=name, line=i, id=f"{name}-{i}"))
    time.sleep(0.004)  # an editor's pace, so that merges overlap the writing many times
"""

MERGER = """
import sys, time
from pathlib import Path
from spark_lsp.kb.db import KBBusy
from spark_lsp.kb.merge import merge_journals
home, stop = Path(sys.argv[1]), Path(sys.argv[2])
merges = 0
print("ready", flush=True)
while not stop.exists():
    try:
        merges += merge_journals(home, timeout=5).inserted > 0
    except KBBusy:
        pass
    time.sleep(0.02)
print(merges, flush=True)
"""


@pytest.mark.slow
def test_two_writers_and_a_merger_store_every_trace_once(spark_home, tmp_path):
    ensure_kb(spark_home, cards=[])
    env = {**os.environ, "SPARK_HOME": str(spark_home), "PYTHONPATH": str(ROOT)}
    stop = tmp_path / "stop"
    n = 300
    merger = subprocess.Popen([sys.executable, "-c", MERGER, str(spark_home), str(stop)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert merger.stdout.readline().strip() == "ready"  # merging before the writers start
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(spark_home), name, str(n)],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True) for name in ("alpha", "beta")]
    for w in writers:
        _, err = w.communicate(timeout=120)
        assert w.returncode == 0, err
    stop.touch()
    out, err = merger.communicate(timeout=120)
    assert merger.returncode == 0, err
    assert int(out) >= 3, "the merger should have merged while the writers were writing"
    final = merge_journals(spark_home)
    assert final.malformed == 0
    rows = db_traces(spark_home)
    ids = [r[0] for r in rows]
    assert len(ids) == len(set(ids)) == 2 * n
    assert set(ids) == {f"{name}-{i}" for name in ("alpha", "beta") for i in range(n)}
    assert not list(journal_dir(spark_home).glob("*.jsonl"))  # writers exited: files removed
    assert not (journal_dir(spark_home) / "rejected").exists()
