"""Incremental analysis: after real edits, an analyzer that reuses its per-block results finds
exactly what a cold analysis (fresh analyzer, no shared caches) finds."""

from __future__ import annotations

import random

import pytest

from spark_lsp.analysis.engine import Analyzer
from spark_lsp.analysis.findings import Finding
from spark_lsp.analysis.incremental import clear_shared_caches
from spark_lsp.analysis.source import split_blocks
from spark_lsp.check import make_analyzer
from spark_lsp.config import Settings

NOTEBOOK = '''import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

df = pd.read_csv("sales.csv")
top = df.sort_values("score").head(3)
df["total"] = df.apply(lambda row: row["price"] * row["qty"], axis=1)


def fill_totals(frame: pd.DataFrame) -> pd.DataFrame:
    for i, row in frame.iterrows():
        frame.loc[i, "total"] = row["price"] * row["qty"]
    return frame


X = np.arange(40, dtype=float).reshape(20, 2)
y = np.arange(20) % 2
scaler = StandardScaler()
X_scaled = scaler.fit_transform(X)
X_train, X_test, y_train, y_test = train_test_split(X_scaled, y, random_state=0)
X_test_s = scaler.fit_transform(X_test)

fig, ax = plt.subplots()
ax.plot([1, 2, 3], [1, 4, 9])
plt.title("Squares")
'''
ALL = {"SPK008", "SPK012", "SPK013", "SPK037", "SPK038", "SPK039"}


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return make_analyzer(Settings())[0]


def cold(analyzer: Analyzer, text: str) -> list[Finding]:
    clear_shared_caches()
    return Analyzer(analyzer.cards, analyzer.options).analyze(text, "nb.py")


def signature(findings: list[Finding]) -> list[tuple[object, ...]]:
    return [(f.code, f.span, f.message, f.fingerprint, f.fix, f.metavars, f.matched, f.rule_id,
             f.severity) for f in findings]


def replace(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def insert_at(text: str, line: int, new: str) -> str:
    lines = text.split("\n")
    return "\n".join(lines[:line] + new.split("\n") + lines[line:])


# Each step edits the previous text; `codes` is what the analysis must then find.
STEPS = [
    ("base", lambda t: t, ALL),
    ("lines inserted above every finding",
     lambda t: insert_at(t, 6, "# loaded below\n# cleaned below"), ALL),
    ("those lines deleted", lambda t: replace(t, "# loaded below\n# cleaned below\n", ""), ALL),
    ("a line deleted above the findings", lambda t: replace(t, "import numpy as np\n", ""), ALL),
    ("and put back", lambda t: replace(t, "import pandas", "import numpy as np\nimport pandas"),
     ALL),
    ("an import edited: plt is no longer pyplot",
     lambda t: replace(t, "import matplotlib.pyplot as plt", "import matplotlib as plt"),
     ALL - {"SPK039"}),
    ("the import restored",
     lambda t: replace(t, "import matplotlib as plt", "import matplotlib.pyplot as plt"), ALL),
    ("the assignment feeding `df` no longer makes a frame",
     lambda t: replace(t, 'df = pd.read_csv("sales.csv")', 'df = sorted(load("sales.csv"))'),
     ALL - {"SPK008", "SPK012"}),
    ("and makes one again",
     lambda t: replace(t, 'df = sorted(load("sales.csv"))', 'df = pd.read_csv("sales.csv")'), ALL),
    ("inside a function: the loop no longer writes rows",
     lambda t: replace(t, '        frame.loc[i, "total"] = row["price"] * row["qty"]',
                       '        print(row["price"])'), ALL - {"SPK013"}),
    ("and writes them again",
     lambda t: replace(t, '        print(row["price"])',
                       '        frame.loc[i, "total"] = row["price"] * row["qty"]'), ALL),
    ("a blank line inside the function shifts what follows",
     lambda t: replace(t, "    return frame", "\n    return frame"), ALL),
    ("a statement typed above: `l`", lambda t: insert_at(t, 6, "l"), ALL),
    ("`limit`", lambda t: replace(t, "\nl\n", "\nlimit\n"), ALL),
    ("`limit = 3` binds a name", lambda t: replace(t, "\nlimit\n", "\nlimit = 3\n"), ALL),
    ("`X` rebound above its use", lambda t: replace(t, "limit = 3", "X = limit = 3"), ALL),
    ("the split no longer takes what the scaler learned from",
     lambda t: replace(t, "train_test_split(X_scaled, y", "train_test_split(y, y"),
     ALL - {"SPK037"}),
]


def test_incremental_equals_cold_over_real_edits(analyzer: Analyzer) -> None:
    text = NOTEBOOK
    before: list[Finding] = []
    for name, edit, codes in STEPS:
        text = edit(text)
        got = analyzer.analyze(text, "nb.py")
        assert signature(got) == signature(cold(analyzer, text)), name
        assert {f.code for f in got} == codes, name
        if name == "lines inserted above every finding":
            # everything moved down two lines, line numbers in messages too
            assert [f.span.start.line for f in got] == [f.span.start.line + 2 for f in before]
            split_line = next(f for f in got if f.code == "SPK037").metavars["LINE"]
            assert int(split_line) == int(
                next(f for f in before if f.code == "SPK037").metavars["LINE"]) + 2
        before = got


def test_incremental_equals_cold_over_random_edits(analyzer: Analyzer) -> None:
    """Lines inserted, deleted and duplicated anywhere, also mid-statement."""
    rng = random.Random(7)
    snippets = ["", "x = 1", "df = pd.DataFrame()", "import torch", "    pass", "for i in y:",
                "plt.show()", "X_test = X", '"""', "def f(df):", "    return df.iterrows()"]
    text = NOTEBOOK
    for step in range(40):
        lines = text.split("\n")
        i = rng.randrange(len(lines))
        kind = rng.choice(["insert", "delete", "duplicate"])
        if kind == "insert":
            lines.insert(i, rng.choice(snippets))
        elif kind == "delete" and len(lines) > 5:
            del lines[i]
        else:
            lines.insert(i, lines[rng.randrange(len(lines))])
        text = "\n".join(lines)
        assert signature(analyzer.analyze(text, "nb.py")) == signature(cold(analyzer, text)), (
            step, text)


def test_blocks_are_recut_only_around_an_edit() -> None:
    text = NOTEBOOK * 3
    blocks = split_blocks(text)
    edited = replace(text, "y = np.arange(20) % 2", 'y = """open\nstill open')
    again = split_blocks(edited, (text, blocks))
    assert again == split_blocks(edited)
    assert again[0] is blocks[0]  # blocks above the edit are kept as they are
    closed = replace(edited, "still open", 'still open"""')
    assert split_blocks(closed, (edited, again)) == split_blocks(closed)
