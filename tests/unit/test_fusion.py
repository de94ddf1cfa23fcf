"""Hybrid fusion (kb/fusion.py): the arithmetic the search and the benchmarks share."""

import math

import pytest

from spark_lsp.kb.fusion import (
    DEPTH_PENALTY,
    HINT_BOOST,
    LINK_DEPTH,
    LINK_WEIGHT,
    NAMED_OWNER_BOOST,
    OWNER_BOOST,
    RRF_K,
    USAGE_FLOOR,
    depth,
    diverse,
    fuse,
    top,
    usage_table,
)
from spark_lsp.kb.symbol_index import hinted_libraries, query_terms

PD = ("pandas", "3.0")


def key(obj: str) -> tuple[str, str, str]:
    return (*PD, obj)


def test_reciprocal_ranks_add_up_and_a_fuzzy_match_votes_with_its_strength() -> None:
    sort_values, groupby = key("pandas.Index.sort_values"), key("pandas.Index.groupby")
    scores, snippet, ranks = fuse({
        "bm25": [(11, sort_values, 9.0), (12, groupby, 8.0), (13, sort_values, 7.0)],
        "vector": [(21, groupby, 0.8)],
        "fuzzy": [(None, sort_values, 0.5)],
    }, {})
    assert scores[sort_values] == pytest.approx(1 / (RRF_K + 1) + 2 * 0.5 / (RRF_K + 1))
    # the second snippet of an object already seen does not count again or take a rank
    assert scores[groupby] == pytest.approx(1 / (RRF_K + 2) + 1 / (RRF_K + 1))
    assert ranks[sort_values] == {"bm25": 1, "fuzzy": 1}
    assert snippet == {sort_values: 11, groupby: 21}


def test_the_best_ranked_snippet_stands_for_its_object() -> None:
    obj = key("pandas.DataFrame.merge")
    _, snippet, _ = fuse({"bm25": [(1, key("pandas.concat"), 3.0), (2, obj, 2.0)],
                          "vector": [(7, obj, 0.9)]}, {})
    assert snippet[obj] == 7  # first in vector, second in bm25


def test_names_below_library_class_member_are_penalised_per_level() -> None:
    shallow, deep = key("pandas.Index.str"), key("pandas.io.formats.style.Styler.format")
    scores, _, _ = fuse({"bm25": [(1, deep, 1.0)], "vector": [(2, shallow, 1.0)]}, {})
    assert scores[shallow] == pytest.approx(1 / (RRF_K + 1))
    assert scores[deep] == pytest.approx(1 / (RRF_K + 1) / (1 + DEPTH_PENALTY * 3))


@pytest.mark.parametrize("name,levels", [
    ("pandas.concat", 0), ("pandas.DataFrame.sort_values", 0), ("numpy.linalg.solve", 0),
    ("pandas.Series.str.contains", 0), ("pandas.Series.dt.year", 0),
    ("numpy.random.Generator.normal", 1), ("pandas.io.formats.style.Styler.format", 3),
])
def test_depth_counts_levels_below_a_class_member_and_not_an_accessor(name, levels) -> None:
    assert depth(name) == levels


def test_usage_prior_lifts_the_common_member_among_equals() -> None:
    loc, at_time = key("pandas.DataFrame.loc"), key("pandas.DataFrame.at_time")
    usage = usage_table([(*PD, "loc", 2488), (*PD, "at_time", 3), ("numpy", "2.0", "x", 0)])
    assert usage[PD][0] == {"loc": 2488, "at_time": 3}
    assert ("numpy", "2.0") not in usage  # no uses, no entry
    scores, _, _ = fuse({"bm25": [(1, at_time, 1.0)], "vector": [(2, loc, 1.0)]}, usage)
    assert scores[loc] == pytest.approx(
        OWNER_BOOST / (RRF_K + 1) * (1 + math.log1p(2488) / math.log1p(2488)))
    assert scores[loc] > scores[at_time] > OWNER_BOOST / (RRF_K + 1)


def test_a_small_library_s_counts_are_measured_against_the_floor() -> None:
    usage = usage_table([("tiny", "1", "run", 5)])
    assert usage[("tiny", "1")][1] == pytest.approx(math.log1p(USAGE_FLOOR))


def test_one_answer_per_member_name_first_then_the_repeats() -> None:
    ranked = [key("pandas.DataFrame.value_counts"), key("pandas.Series.value_counts"),
              key("pandas.Index.value_counts"), key("pandas.DataFrame.nunique")]
    assert diverse(ranked, 2) == [ranked[0], ranked[3]]
    assert diverse(ranked, 3) == [ranked[0], ranked[3], ranked[1]]
    # the same member name in two libraries is two answers
    other = [("numpy", "2.0", "numpy.sum"), key("pandas.DataFrame.sum")]
    assert diverse(other, 2) == other


def test_top_orders_by_score_then_name() -> None:
    a, b, c = key("pandas.a"), key("pandas.b"), key("pandas.c")
    assert top({c: 1.0, b: 2.0, a: 1.0}, 3) == [b, a, c]


def test_libraries_the_query_names_come_first_among_equals():
    torch_sort, np_sort = ("torch", "2", "torch.sort"), ("numpy", "2", "numpy.sort")
    rankings = {"fuzzy": [(None, torch_sort, 0.6), (None, np_sort, 0.6)]}
    plain, _, _ = fuse(rankings, {})
    assert top(plain, 2) == [torch_sort, np_sort]
    hinted = hinted_libraries(query_terms("sort an array"))
    assert hinted == {"numpy"}
    scores, _, _ = fuse(rankings, {}, hinted)
    assert top(scores, 2) == [np_sort, torch_sort]
    assert scores[np_sort] == pytest.approx(HINT_BOOST * 2 * 0.6 / (RRF_K + 2))
    assert hinted_libraries(query_terms("tf.keras layers")) == {"tensorflow", "keras"}
    assert hinted_libraries(query_terms("sort the rows")) == frozenset()


def test_members_of_the_common_classes_and_of_a_class_the_query_names_come_first():
    index, frame, series = (key("pandas.Index.sort_values"), key("pandas.DataFrame.sort_values"),
                            key("pandas.Series.sort_values"))
    plot = ("matplotlib", "3.9", "matplotlib.pyplot.xticks")
    rankings = {"bm25": [(1, index, 1.0), (2, series, 1.0), (3, frame, 1.0), (4, plot, 1.0)]}
    def order(scores: dict) -> list:
        return sorted(scores, key=lambda k: -scores[k])
    scores, _, _ = fuse(rankings, {})
    assert order(scores) == [series, frame, plot, index]
    assert scores[index] == pytest.approx(1 / (RRF_K + 1))
    assert scores[plot] == pytest.approx(OWNER_BOOST / (RRF_K + 4))
    terms = query_terms("sort a DataFrame by two columns, stable")
    assert "dataframe" in terms.mentioned
    scores, _, _ = fuse(rankings, {}, (), None, terms.mentioned)
    assert order(scores) == [frame, series, plot, index]
    assert scores[frame] == pytest.approx(OWNER_BOOST * NAMED_OWNER_BOOST / (RRF_K + 3))
    # a module the query names is not a class: `pyplot` lifts nothing more
    scores, _, _ = fuse(rankings, {}, (), None, query_terms("pyplot xticks").mentioned)
    assert scores[plot] == pytest.approx(OWNER_BOOST / (RRF_K + 4))
    # nor does a class's name inside another word
    assert "index" not in query_terms("reindex the frame").mentioned


def test_a_results_see_also_links_pass_on_a_share_of_its_score():
    drop, dup, loc = (key("pandas.DataFrame.drop_duplicates"), key("pandas.DataFrame.duplicated"),
                      key("pandas.DataFrame.loc"))
    rankings = {"bm25": [(1, drop, 9.0), (2, loc, 8.0)]}
    links = {drop: [dup, loc]}
    plain, _, _ = fuse(rankings, {})
    scores, snippet, ranks = fuse(rankings, {}, (), links)
    # `duplicated` was found by no mode: it comes with the link alone, with no snippet of its own
    assert scores[dup] == pytest.approx(LINK_WEIGHT * plain[drop])
    assert ranks[dup] == {"see_also": 1} and dup not in snippet
    # an object the modes found as well gets the share on top of its own score
    assert scores[loc] == pytest.approx(plain[loc] + LINK_WEIGHT * plain[drop])
    assert ranks[loc] == {"bm25": 2, "see_also": 1}
    assert scores[drop] == plain[drop]  # links are one way


def test_only_the_first_results_pass_on_their_links():
    ranked = [key(f"pandas.f{i:03d}") for i in range(LINK_DEPTH + 1)]
    target = key("pandas.linked")
    rankings = {"bm25": [(i, k, 1.0) for i, k in enumerate(ranked)]}
    scores, _, _ = fuse(rankings, {}, (), {ranked[-1]: [target]})
    assert target not in scores  # the link of result LINK_DEPTH + 1 is not followed
    scores, _, ranks = fuse(rankings, {}, (), {ranked[-2]: [target]})
    assert ranks[target] == {"see_also": LINK_DEPTH}
