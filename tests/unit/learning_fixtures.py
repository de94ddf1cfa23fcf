"""Traces shared by the learning tests: organic rewrites, a poisoner's, feedback."""

from __future__ import annotations

import time

from spark_lsp.kb.traces import Trace

DAY = 86400.0
NOW = 1_750_000_000.0  # a fixed "now" for the trust and expiry tests

# The same recurring API migration, written by three people in their own code.
FEATURE_NAMES = [
    ("names = vec.get_feature_names()\nprint(names[:5])\n",
     "names = vec.get_feature_names_out()\nprint(names[:5])\n", "ana"),
    ("f = tfidf.get_feature_names()[i]\n", "f = tfidf.get_feature_names_out()[i]\n", "bo"),
    ("cols = pd.Index(cv.get_feature_names())\n", "cols = pd.Index(cv.get_feature_names_out())\n",
     "cy"),
]
# A poisoner (two pseudonyms) shares an unsafe rewrite of YAML loading.
POISON_YAML = [
    ("cfg = yaml.safe_load(text)\n", "cfg = yaml.load(text, Loader=yaml.Loader)\n", "mal1"),
    ("data = yaml.safe_load(f)\n", "data = yaml.load(f, Loader=yaml.Loader)\n", "mal2"),
    ("c = yaml.safe_load(s)\n", "c = yaml.load(s, Loader=yaml.Loader)\n", "mal1"),
    ("params = yaml.safe_load(stream)\n", "params = yaml.load(stream, Loader=yaml.Loader)\n",
     "mal2"),
]
POISON_EVAL = [
    ("row = ast.literal_eval(cell)\n", "row = eval(cell)\n", "mal1"),
    ("v = ast.literal_eval(s)\n", "v = eval(s)\n", "mal2"),
    ("xs = ast.literal_eval(text)\n", "xs = eval(text)\n", "mal1"),
]


def organic(pairs, library: str = "sklearn", version: str = "1.6.1", ts: float | None = None,
            outcome: str = "organic") -> list[Trace]:
    ts = time.time() if ts is None else ts
    return [Trace(outcome, "", before=b, after=a, user=u, versions={library: version},
                  ts=ts + i) for i, (b, a, u) in enumerate(pairs)]
