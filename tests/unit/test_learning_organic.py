"""Organic experience from the editor: which edits rewrite a library call, the session tracker
that waits until a rewrite is finished, and `spark learn` turning such traces into a candidate."""

from __future__ import annotations

import itertools
import time
from dataclasses import replace

import pytest

from spark_lsp.analysis import Analyzer, load_default_cards
from spark_lsp.learning import plan_learning
from spark_lsp.learning.organic import document_names, library_call_edit, statement_call_edit
from spark_lsp.server.organic import OrganicTracker
from spark_lsp.server.outcomes import changed_region

HEAD = ("import pandas as pd\n"
        "from sklearn.feature_extraction.text import TfidfVectorizer\n"
        "\n")
FEATURES = HEAD + "vec = TfidfVectorizer()\nnames = vec.get_feature_names()\nprint(names[:5])\n"


@pytest.fixture(scope="module")
def cards():
    return load_default_cards()[0]


def one_edit(old: str, new: str):
    region = changed_region(old.splitlines(), new.splitlines())
    return library_call_edit(old, (region.start, region.old_end), new,
                             (region.start, region.new_end))


# -- the edit extraction -----------------------------------------------------------------------

def test_document_names_follow_imports_and_simple_assignments():
    names = document_names(FEATURES + "import numpy as np, json\nimport os\n"
                           "df = pd.read_csv('a.csv')\nsub = df[df.a > 1]\nx: int = 3\n")
    assert names["pd"] == "pandas" and names["np"] == "numpy" and names["json"] == "json"
    assert names["TfidfVectorizer"] == "sklearn" and names["vec"] == "sklearn"
    assert names["df"] == "pandas" and names["sub"] == "pandas"
    assert "os" not in names and "x" not in names


@pytest.mark.parametrize(("before", "after", "calls"), [
    # a method renamed, on an object built by an imported class
    ("names = vec.get_feature_names()", "names = vec.get_feature_names_out()",
     ("vec.get_feature_names()", "vec.get_feature_names_out()")),
    # a keyword added
    ("m = torch.load(f)", "m = torch.load(f, weights_only=True)",
     ("torch.load(f)", "torch.load(f, weights_only=True)")),
    # a keyword removed, a positional argument instead
    ("t = df.sum(level=0)", "t = df.sum(0)", ("df.sum(level=0)", "df.sum(0)")),
    # another function of the library; the innermost call around the change
    ("x = pd.DataFrame(np.array(rows))", "x = pd.DataFrame(np.asarray(rows))",
     ("np.array(rows)", "np.asarray(rows)")),
])
def test_a_library_call_rewritten_into_another_call(before, after, calls):
    names = {"vec": "sklearn", "torch": "torch", "df": "pandas", "pd": "pandas", "np": "numpy"}
    found = statement_call_edit(before, after, names)
    assert found is not None and found[:2] == calls


@pytest.mark.parametrize(("before", "after"), [
    ("df = pd.read_csv('a.csv')", "df = pd.read_csv('b.csv')"),  # the user's data, not the API
    ("top = df.head(5)", "top = df.head(10)"),
    ("y = helper(x)", "y = other(x)"),  # not a library
    ("y = np.sum(x)", "y = x.sum"),  # the call is gone, not rewritten into a call
    ("a = np.ones(3)\nb = np.zeros(3)", "a = np.ones(4)\nb = np.empty(3)"),  # two statements
    ("total = np.sum(x)", "total = np.sum(x) +"),  # half-typed
])
def test_edits_that_are_not_organic_experience(before, after):
    names = {"pd": "pandas", "df": "pandas", "np": "numpy"}
    assert statement_call_edit(before, after, names) is None


def test_a_multi_line_call_is_read_as_its_whole_statement():
    old = HEAD + ("from sklearn.cluster import AgglomerativeClustering\n"
                  "model = AgglomerativeClustering(\n"
                  "    n_clusters=3,\n"
                  "    affinity='euclidean',\n"
                  ")\n"
                  "model.fit(X)\n")
    edit = one_edit(old, old.replace("affinity=", "metric="))
    assert edit is not None and edit.library == "sklearn"
    assert edit.before.startswith("model = AgglomerativeClustering(") and edit.before.endswith(")")
    assert "metric='euclidean'" in edit.after and "model.fit" not in edit.after
    assert edit.line == old.splitlines().index("model = AgglomerativeClustering(")


def test_an_indented_statement_is_dedented():
    old = HEAD + "def load(f):\n    df = pd.read_csv(f, error_bad_lines=False)\n    return df\n"
    edit = one_edit(old, old.replace("error_bad_lines=False", "on_bad_lines='skip'"))
    assert edit is not None
    assert edit.before == "df = pd.read_csv(f, error_bad_lines=False)"
    assert edit.after == "df = pd.read_csv(f, on_bad_lines='skip')"


# -- the session tracker -----------------------------------------------------------------------

def session(texts: list[str], analyzer: Analyzer | None = None,
            tracker: OrganicTracker | None = None) -> tuple[OrganicTracker, list]:
    """Feed consecutive versions of one document to a tracker, as the server does."""
    tracker = tracker or OrganicTracker("file:///w/a.py", "test", lambda lib: {lib: "1.0"}, "ws")
    traces = []
    for old, new in itertools.pairwise(texts):
        findings = analyzer.analyze(old) if analyzer else []
        traces += tracker.traces(tracker.observe(
            old, findings, new, changed_region(old.splitlines(), new.splitlines())))
    return tracker, traces


def settle(tracker: OrganicTracker, text: str) -> list:
    """What the server records on save or close."""
    return tracker.traces(tracker.settle(text))


def typed(text: str, old: str, steps: list[str]) -> list[str]:
    return [text] + [text.replace(old, s) for s in steps]


def test_a_rewrite_is_recorded_once_the_user_moves_on():
    versions = typed(FEATURES, "get_feature_names()",
                     ["get_feature_names_()", "get_feature_names_o()", "get_feature_names_out()"])
    tracker, traces = session(versions)
    assert traces == [] and tracker.pending is not None  # mid-typing: no verdict yet
    moved_on = versions[-1] + "print(len(names))\n"
    _, traces = session([versions[-1], moved_on], tracker=tracker)
    [t] = traces
    assert t.outcome == "organic" and t.code == "" and t.client == "test"
    assert t.before == "names = vec.get_feature_names()"
    assert t.after == "names = vec.get_feature_names_out()"
    assert t.versions == {"sklearn": "1.0"} and t.workspace == "ws"
    assert t.line == FEATURES.splitlines().index("names = vec.get_feature_names()") + 1
    assert t.schema == 2 and t.file_hash and "/w/a.py" not in t.to_json()


def test_save_settles_and_the_same_rewrite_twice_in_a_file_is_one_trace():
    fixed = FEATURES.replace("get_feature_names()", "get_feature_names_out()")
    tracker, traces = session([FEATURES, fixed])
    [t] = traces + settle(tracker, fixed)
    assert t.after.endswith("get_feature_names_out()")
    # typed and taken back before moving on: nothing
    _, traces = session([fixed, FEATURES, fixed], tracker=tracker)
    assert traces + settle(tracker, fixed) == []
    # undone (the reverse rewrite is evidence against it), then redone: not counted again
    _, traces = session([fixed, FEATURES], tracker=tracker)
    [back] = traces + settle(tracker, FEATURES)
    assert back.before.endswith("_out()") and back.after.endswith("get_feature_names()")
    _, traces = session([FEATURES, fixed], tracker=tracker)
    assert traces + settle(tracker, fixed) == []


def test_no_trace_for_data_edits_new_lines_or_lines_a_card_flags(cards):
    tracker, traces = session(typed(FEATURES, "names[:5]", ["names[:10]"]))
    assert traces + settle(tracker, FEATURES) == []
    # a new line typed from scratch is not a rewrite of existing code
    grown = FEATURES + "frame = pd.DataFrame(names)\n"
    tracker, traces = session([FEATURES, grown, grown + "x = 1\n"])
    assert traces + settle(tracker, grown) == []
    # yaml.load is flagged by a card: the user's fix is a `corrected` outcome, not organic
    flagged = "import yaml\n\ncfg = yaml.load(open('c.yml'))\nprint(cfg)\n"
    tracker, traces = session([flagged, flagged.replace("yaml.load", "yaml.safe_load")],
                              Analyzer(cards))
    assert traces + settle(tracker, flagged) == []


def test_observing_an_edit_is_cheap_on_a_large_file():
    body = "".join(f"v{i} = pd.read_csv('f{i}.csv').head({i})\n" for i in range(2000))
    old = HEAD + body
    new = old.replace("head(1000)", "tail(1000)")
    old_lines, new_lines = old.splitlines(), new.splitlines()
    tracker = OrganicTracker("file:///w/big.py", "test")
    started = time.perf_counter()
    for _ in range(50):  # what the server adds to each edit: the region, then the tracker
        tracker.pending = None
        tracker.observe(old, [], new, changed_region(old_lines, new_lines))
    per_edit = (time.perf_counter() - started) / 50
    assert per_edit < 0.002, per_edit
    started = time.perf_counter()  # in the server, this part runs in a worker thread
    [t] = settle(tracker, new)
    assert time.perf_counter() - started < 0.2
    assert t.before.endswith(".head(1000)") and t.after.endswith(".tail(1000)")


# -- from the editor to a candidate card -------------------------------------------------------

def test_spark_learn_clusters_recorded_organic_traces_into_a_candidate(cards):
    traces = []
    for user, (var, obj) in {"ana": ("names", "vec"), "bo": ("cols", "cv"),
                             "cy": ("feats", "tfidf")}.items():
        text = (HEAD + f"{obj} = TfidfVectorizer()\n{var} = {obj}.get_feature_names()\n"
                f"print({var}[:5])\n")
        fixed = text.replace("get_feature_names()", "get_feature_names_out()")
        tracker, _ = session([text, fixed])
        traces += [replace(t, user=user) for t in settle(tracker, fixed)]
    assert len(traces) == 3 and {t.outcome for t in traces} == {"organic"}
    plan = plan_learning(traces, cards, [])
    [d] = plan.report.decisions
    assert d.outcome == "created" and d.library == "sklearn", d.reason
    assert "get_feature_names" in d.pattern and d.template.endswith(".get_feature_names_out")
    [body] = plan.writes.cards
    assert body["status"] == "candidate" and body["provenance"]["users"] == 3
