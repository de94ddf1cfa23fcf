"""The language server's plain parts, without LSP: positions, outcomes, actions, settings."""

from __future__ import annotations

import pytest
from lsprotocol import types

from spark_lsp.analysis.findings import Position
from spark_lsp.check import make_analyzer
from spark_lsp.config import Settings
from spark_lsp.server.actions import ignore_comment_edit
from spark_lsp.server.convert import LineIndex, sanitize, units
from spark_lsp.server.outcomes import OutcomeTracker, changed_region
from spark_lsp.server.settings import client_name, editor_settings

HEAD = 'import pandas as pd\nframe = pd.read_csv("a.csv")\nx = 1\n'
BAD = HEAD + "grid = frame.values\nprint(grid)\n"


@pytest.fixture(scope="module")
def analyzer():
    return make_analyzer(Settings(select=["SPK001"]))[0]


# -- positions ------------------------------------------------------------------------------
@pytest.mark.parametrize("encoding,expected", [("utf-16", 9), ("utf-8", 12), ("utf-32", 8)])
def test_line_index_columns_follow_the_encoding(encoding: str, expected: int):
    text = 'a = "é📊"; b = 1\n'
    index = LineIndex(text, encoding)
    pos = index.position(text.index(";"))
    assert (pos.line, pos.character) == (0, expected)
    assert index.offset_at(pos) == text.index(";")
    assert units("é📊", encoding) == {"utf-16": 3, "utf-8": 6, "utf-32": 2}[encoding]


def test_line_index_maps_analyser_lines_to_client_lines():
    # the analyser and clients break lines at \r\n, \r and \n only (not form feeds or U+2028)
    text = "a = 1\x0cb = 2\nc = '\u2028'; d = 3\r\ne = 4\rf = 5"
    index = LineIndex(text, "utf-16")
    lines = ["a = 1\x0cb = 2", "c = '\u2028'; d = 3", "e = 4", "f = 5"]
    for row, line in enumerate(lines):
        start = index.offset(Position(row, 0))
        assert text[start:start + len(line)] == line
    f = index.position(index.offset(Position(len(lines) - 1, 0)))
    assert (f.line, f.character) == (3, 0)
    d = index.position(text.index("d = 3"))
    assert (d.line, d.character) == (1, 9)
    assert index.lsp_line(1) == "c = '\u2028'; d = 3"
    # past the end of a line or of the text: clamped
    assert index.offset_at(types.Position(line=0, character=99)) == text.index("\n")
    assert index.offset_at(types.Position(line=99, character=0)) == len(text)


def test_sanitize_keeps_positions():
    text = "a\ud800b\udcffc"
    clean = sanitize(text)
    assert clean == "a\ufffdb\ufffdc" and len(clean) == len(text)
    assert units(clean, "utf-16") == units(text, "utf-16")
    assert units(clean, "utf-8") == units(text, "utf-8")
    assert sanitize("plain") == "plain"


# -- dismiss --------------------------------------------------------------------------------
def test_ignore_comment_edit():
    assert ignore_comment_edit("x = df.values   ", "SPK001") == (13, 16, "  # spark: ignore[SPK001]")
    line = "x = df.values  # spark: ignore[SPK002]"
    start, end, new = ignore_comment_edit(line, "SPK001")  # type: ignore[misc]
    assert line[:start] + new + line[end:] == "x = df.values  # spark: ignore[SPK002, SPK001]"
    assert ignore_comment_edit("x = 1  # spark: ignore[SPK001]", "SPK001") is None
    assert ignore_comment_edit("x = 1  # spark: ignore", "SPK001") is None


# -- outcomes -------------------------------------------------------------------------------
def test_changed_region():
    r = changed_region(["a", "b", "c", "d"], ["a", "B", "B2", "c", "d"])
    assert (r.start, r.old_end, r.new_end) == (1, 2, 3)
    assert r.map(3, 4) == (4, 5) and r.map(0, 1) == (0, 1) and r.map(1, 2) == (1, 3)


class Session:
    """A document edited step by step, as the server sees it."""

    def __init__(self, analyzer, text: str) -> None:
        self.analyzer = analyzer
        self.tracker = OutcomeTracker("file:///p/a.py", "test")
        self.text, self.findings = None, []
        self.traces = self.step(text)

    def step(self, text: str):
        findings = self.analyzer.analyze(text)
        traces = self.tracker.observe(self.text, self.findings, text, findings)
        self.text, self.findings = text, findings
        return traces

    def outcomes(self, traces) -> list[str]:
        return [t.outcome for t in traces]


def test_shown_once_per_fingerprint(analyzer):
    s = Session(analyzer, BAD)
    assert s.outcomes(s.traces) == ["shown"]
    assert s.outcomes(s.step(BAD + "y = 2\n")) == []
    assert s.outcomes(s.step(BAD)) == []


def test_rewrite_is_a_correction_once_the_user_moves_on(analyzer):
    s = Session(analyzer, BAD)
    fingerprint = s.findings[0].fingerprint
    assert s.step(BAD.replace("frame.values", "frame.val")) == []  # mid-typing: no verdict
    assert s.step(BAD.replace("frame.values", "np.asarray(frame)")) == []
    # an edit next to the rewritten line is still part of it; one further away is moving on
    assert s.step(BAD.replace("frame.values", "np.asarray(frame)").replace("x = 1", "x = 2")) == []
    [t] = s.step(BAD.replace("frame.values", "np.asarray(frame)").replace("x = 1", "x = 2")
                 .replace("import pandas as pd", "import numpy as np\nimport pandas as pd"))
    assert t.outcome == "corrected" and t.fingerprint == fingerprint and t.line == 5
    assert "grid = frame.values" in t.before and "grid = np.asarray(frame)" in t.after
    assert t.file_hash and "a.py" not in t.file_hash


def test_coming_back_is_not_a_correction(analyzer):
    s = Session(analyzer, BAD)
    s.step(BAD.replace("frame.values", "frame.val"))
    s.step(BAD)  # typed back: the finding is there again
    assert s.tracker.pending == {}
    assert s.tracker.settle(s.text, s.findings) == []


@pytest.mark.parametrize("rewrite", [
    "grid = frame.to_numpy()\n",  # the suggested fix, typed by hand
    "grid = frame.values  # spark: ignore[SPK001]\n",  # dismissed by hand
    "",  # deleted
])
def test_not_corrections(analyzer, rewrite: str):
    s = Session(analyzer, BAD)
    s.step(BAD.replace("grid = frame.values\n", rewrite))
    assert s.tracker.settle(s.text, s.findings) == []


def test_resolved_findings_are_not_corrections(analyzer):
    s = Session(analyzer, BAD)
    f = s.findings[0]
    s.step(BAD.replace("frame.values", "list(frame)"))
    t = s.tracker.resolve("rejected", f.code, f.fingerprint, 4, "grid = frame.values", "x")
    assert t.outcome == "rejected" and t.client == "test"
    assert s.tracker.settle(s.text, s.findings) == []
    with pytest.raises(ValueError):
        s.tracker.resolve("shown", f.code, f.fingerprint, 4, "", "")


# -- settings -------------------------------------------------------------------------------
def test_editor_settings():
    got = editor_settings({"spark": {"enabledCodes": "spk001, SPK002", "disabledCodes": ["spk3"],
                                     "trace": {"server": "verbose"}, "debounceMs": 99999,
                                     "severity": "hint", "serverPath": "/x"}})
    assert got == {"select": ["SPK001", "SPK002"], "ignore": ["SPK3"], "debounce_ms": 5000,
                   "severity": "hint"}
    assert editor_settings({"traceRecording": "off"}) == {"trace": False}
    assert editor_settings(None) == {} and editor_settings(["x"]) == {}


@pytest.mark.parametrize("name,short", [("Visual Studio Code", "vscode"), ("Neovim", "neovim"),
                                        ("GNU Emacs", "emacs"), (None, "unknown"),
                                        ("My Editor 2", "my-editor-2")])
def test_client_name(name, short):
    assert client_name(name) == short
