"""No secret is stored in a trace or leaves in an exported memory.

Fifty kinds of secrets are seeded into code that a user edits: the real outcome tracker turns
the edits into traces (code windows before and after), the real journal stores them, the
journal is merged into a real knowledge base, a learned card carrying secrets is put in it too,
and a memory is exported with code snippets on. None of the secrets appears in the journal
files, in any column of the knowledge base, or in any member of the exported file."""

from __future__ import annotations

import json

import duckdb
import pytest
from memory_fixtures import Admin, card, members
from secrets_corpus import SECRETS

from spark_lsp.analysis import Analyzer, load_default_cards
from spark_lsp.analysis.cards import card_from_dict
from spark_lsp.kb.card_store import sync_cards
from spark_lsp.kb.db import kb_file
from spark_lsp.kb.merge import merge_journals
from spark_lsp.kb.migrate import open_writer
from spark_lsp.memory.admin import export_memory
from spark_lsp.memory.format import read_memory
from spark_lsp.memory.privacy import redact
from spark_lsp.memory.store import LocalSources
from spark_lsp.server.outcomes import OutcomeTracker, TraceSink


def needles():
    return [(kind, needle) for kind, _, needle in SECRETS]


def leaks(text: str) -> list[str]:
    """Kinds whose secret (or a 12-character piece of it) is in `text`."""
    found = []
    for kind, needle in needles():
        pieces = [needle] + [needle[i:i + 12] for i in range(0, max(1, len(needle) - 11), 4)]
        if any(p in text for p in pieces if len(p) >= 8 or p == needle):
            found.append(kind)
    return found


@pytest.mark.parametrize("kind,code,needle", SECRETS, ids=[s[0] for s in SECRETS])
def test_each_secret_is_redacted(kind, code, needle):
    out = redact(code)
    assert not leaks(out), out
    assert "<redacted:" in out or "~" in out


def test_ordinary_code_is_left_alone():
    code = ("import pandas as pd\n"
            'df = pd.read_csv("sales.csv")\n'
            "token_counts = tokenizer(texts, max_length=512)\n"
            "password = getpass.getpass()\n"
            'api_key = os.environ["OPENAI_API_KEY"]\n'
            'result = df.groupby("region").agg(total=("amount", "sum"))\n'
            "model = RandomForestClassifier(n_estimators=100, random_state=42)\n"
            "y = X @ weights + bias\n")
    assert redact(code) == code


def edited_traces(spark_home):
    """Each secret next to a flagged line that the user rewrites another way: real traces."""
    cards, _ = load_default_cards()
    analyzer = Analyzer(cards)
    sink = TraceSink(lambda: spark_home)
    written = []
    for i, (kind, code, _) in enumerate(SECRETS):
        header = "import pandas as pd\nimport numpy as np\ndf = pd.DataFrame({'a': [1]})\n"
        old = header + f"arr = df.values\n{code}\n"
        new = header + f"arr = np.asarray(df)  # rewritten by hand\n{code}\n"
        tracker = OutcomeTracker(f"file:///work/secret_{i}.py", "vscode")
        old_findings = analyzer.analyze(old, "x.py")
        assert any(f.code == "SPK001" for f in old_findings), kind
        traces = tracker.observe(None, [], old, old_findings)
        traces += tracker.observe(old, old_findings, new, analyzer.analyze(new, "x.py"))
        traces += tracker.settle(new, analyzer.analyze(new, "x.py"))
        assert any(t.outcome == "corrected" for t in traces), kind
        sink.write(traces)
        written += traces
    return written


def test_fifty_secrets_reach_neither_the_trace_store_nor_the_exported_file(spark_home, tmp_path):
    written = edited_traces(spark_home)
    assert len([t for t in written if t.outcome == "corrected"]) == 50
    # the code windows did hold the secrets before redaction
    assert len(leaks("\n".join(t.before for t in written))) == 50

    journal_text = "".join(p.read_text() for p in (spark_home / "journal").glob("*.jsonl"))
    assert journal_text.count('"corrected"') == 50
    assert leaks(journal_text) == []
    assert journal_text.count("<redacted:") >= 50

    merge_journals(spark_home)
    learned = card("SPK990", why="Found while fixing " + " ".join(c for _, c, _ in SECRETS[:10]))
    learned["examples"][0]["bad"] = "\n".join(c for _, c, _ in SECRETS[10:])
    learned_card, problems = card_from_dict(learned)
    assert learned_card is not None, problems
    con, _ = open_writer(kb_file(spark_home))
    try:
        sync_cards(con, [learned_card], source="learned")
    finally:
        con.close()

    admin = Admin(spark_home)  # this machine's user is the admin who exports
    out = tmp_path / "team.sparkmem"
    export_memory(spark_home, out, admin.trusted, LocalSources(snippets=True))
    exported = read_memory(out, admin.trusted)
    assert len(exported.memory.outcomes) == len(written)
    assert "SPK990" in exported.memory.cards
    assert any(o.before for o in exported.memory.outcomes.values())  # snippets were included
    for name, data in members(out.read_bytes()).items():
        assert leaks(data.decode("utf-8")) == [], name

    con = duckdb.connect(str(kb_file(spark_home)), read_only=True)
    try:
        # the trace store (the learned card was put in the cards table with its secrets on
        # purpose, to show that the export redacts cards too)
        rows = con.execute("SELECT * FROM traces").fetchall()
        assert len(rows) == len(written)
        assert leaks(json.dumps(rows, default=str)) == []
    finally:
        con.close()
