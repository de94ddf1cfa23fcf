"""Code embeddings in the learner: all-MiniLM-L6-v2 through kb/embed.py with the shared
content-hash cache, edit shapes of one rewrite joined by code similarity, near-identical cards
found by embedding, and the hashed fallback (with its message) when the model is missing."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from learning_fixtures import FEATURE_NAMES, organic

from spark_lsp.analysis import load_default_cards
from spark_lsp.analysis.cards import card_from_dict
from spark_lsp.kb import embed
from spark_lsp.kb.docs_build import MODEL_KEY
from spark_lsp.learning import LearnConfig, plan_learning
from spark_lsp.learning.cluster import cluster_experience, experience
from spark_lsp.learning.filters import find_duplicate
from spark_lsp.learning.vectors import HASHED_NAME, MODEL_NAME, CodeVectors

# One rewrite (pandas 2 removed `level=` from reductions) on plain names and on columns: two
# edit shapes, two people each — neither has the support of three traces alone.
PRELUDE = "import pandas as pd\ndf = pd.DataFrame({'a': [1]})\n"
SUM_LEVEL = [
    ("t = df.sum(level=0)\n", "t = df.groupby(level=0).sum()\n", "ana"),
    ("s = sales.sum(level=1)\n", "s = sales.groupby(level=1).sum()\n", "bo"),
    ("u = df['x'].sum(level=0)\n", "u = df['x'].groupby(level=0).sum()\n", "cy"),
    ("w = frame['y'].sum(level='k')\n", "w = frame['y'].groupby(level='k').sum()\n", "dan"),
]


@pytest.fixture(scope="module")
def cards():
    return load_default_cards()[0]


def sum_level():
    return organic([(PRELUDE + b, PRELUDE + a, u) for b, a, u in SUM_LEVEL], "pandas", "1.5.3")


def test_minilm_vectors_go_through_the_shared_cache(spark_home, monkeypatch):
    assert MODEL_KEY == embed.MODEL_KEY  # the docs build and the learner share cached vectors
    vectors = CodeVectors(spark_home)
    assert vectors.name == MODEL_NAME and vectors.note == ""
    rows = vectors.vectors(["df.sum(level=0)", "df.groupby(level=0).sum()", "df.sum(level=0)"])
    assert rows.shape == (3, embed.DIM)
    assert np.allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-4)
    assert np.allclose(rows[0], rows[2])
    with embed.vector_cache(spark_home) as cache:
        assert len(cache) == 2

    def no_model(*args, **kwargs):
        raise AssertionError("embedded again instead of read from the cache")

    monkeypatch.setattr(embed, "embed_texts", no_model)
    again = CodeVectors(spark_home).vectors(["df.groupby(level=0).sum()"])
    assert np.allclose(again[0], rows[1], atol=1e-6)


def test_shapes_of_one_rewrite_are_joined_by_code_similarity(cards):
    examples, _ = experience(sum_level())
    assert len({e.key for e in examples}) == 2
    assert len(cluster_experience(examples)) == 2  # by shape alone
    vectors = CodeVectors()
    [joined] = cluster_experience(examples, vectors)
    assert len(joined.examples) == 4 and len(joined.keys) == 2 and 0.8 <= joined.similarity < 1

    plan = plan_learning(sum_level(), cards, [], vectors=vectors)
    [d] = plan.report.decisions
    assert d.outcome == "created" and d.traces == 4 and d.shapes == 2, d.reason
    assert plan.report.embeddings == MODEL_NAME
    [body] = plan.writes.cards
    assert body["provenance"]["cluster_keys"] == joined.keys
    # a later run finds the card by either shape
    [again] = plan_learning(sum_level()[2:] + sum_level()[:1], cards, [body],
                            vectors=vectors).report.decisions
    assert again.code == d.code and again.outcome == "updated", again.reason


def test_different_rewrites_of_one_api_stay_apart():
    pairs = [(PRELUDE + f"m = AgglomerativeClustering(n_clusters=2, affinity={v!r})\n",
              PRELUDE + f"m = AgglomerativeClustering(n_clusters=2, metric={v!r})\n", u)
             for v, u in (("euclidean", "ana"), ("manhattan", "bo"), ("cosine", "cy"))]
    pairs += [(PRELUDE + "m = AgglomerativeClustering(affinity='precomputed', n_clusters=3)\n",
               PRELUDE + "m = AgglomerativeClustering(n_clusters=3)\n", u) for u in ("dan", "eve")]
    examples, _ = experience(organic(pairs))
    clusters = cluster_experience(examples, CodeVectors())
    assert sorted(len(c.examples) for c in clusters) == [2, 3]


def test_a_near_identical_card_gets_the_evidence(cards):
    learned = plan_learning(organic(FEATURE_NAMES), cards, []).writes.cards[0]
    existing, _ = card_from_dict(learned)
    # the same rewrite anchored on the call rather than the attribute: not the same pattern,
    # but the same practice
    twin = dict(learned, code="SPK5002",
                rules=[{"id": "twin", "pattern": "$OBJ.get_feature_names()"}],
                fix={**learned["fix"], "template": "$OBJ.get_feature_names_out()"})
    candidate, problems = card_from_dict(twin)
    assert candidate is not None, problems
    dup = find_duplicate(candidate, [], [existing], vectors=CodeVectors())
    assert dup is not None and dup.code == existing.code and MODEL_NAME in dup.why

    def rule(code, pattern, template):
        card, problems = card_from_dict(dict(twin, code=code, rules=[{"id": code, "pattern": pattern}],
                                             fix={**learned["fix"], "template": template}))
        assert card is not None, problems
        return card

    vectors = CodeVectors()
    other = rule("SPK5003", "$X.fit_transform($Y)", "$X.fit($Y).transform($Y)")
    assert find_duplicate(other, [], [existing], vectors=vectors) is None
    # `A => B` and its reverse embed almost alike as one text: pattern and rewrite are compared
    # apart, so a poisoner's reversal is never "a duplicate" of the good card
    safe = rule("SPK5004", "yaml.load($X)", "yaml.safe_load($X)")
    assert find_duplicate(rule("SPK5005", "yaml.safe_load($X)", "yaml.load($X)"), [], [safe],
                          vectors=vectors) is None
    # the same code rewritten another way is a competing rewrite, not a duplicate
    rename = rule("SPK5006", "AgglomerativeClustering($$$A, affinity=$V, $$$B)",
                  "AgglomerativeClustering($$$A, metric=$V, $$$B)")
    drop = rule("SPK5007", "AgglomerativeClustering($$$A, affinity=$V, $$$B)",
                "AgglomerativeClustering($$$A, $$$B)")
    assert find_duplicate(drop, [], [rename], vectors=vectors) is None


def test_without_the_model_the_learner_says_so_and_still_learns(cards, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "sentence_transformers" else real(name, *a))
    vectors = CodeVectors()
    assert vectors.name == HASHED_NAME and "not installed" in vectors.note
    plan = plan_learning(organic(FEATURE_NAMES), cards, [])
    assert plan.report.decisions[0].outcome == "created"
    assert plan.report.embeddings == HASHED_NAME
    assert any("all-MiniLM-L6-v2 is not installed" in n for n in plan.report.notes)
    # a team that turned embeddings off is not warned about it
    quiet = plan_learning(organic(FEATURE_NAMES), cards, [], LearnConfig(embeddings=False))
    assert quiet.report.notes == [] and quiet.report.embeddings == HASHED_NAME
