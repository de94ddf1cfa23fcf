"""kb/symbol_index.py: exact and fuzzy name matching, and its per-query budget of fuzzy lookups."""

from __future__ import annotations

from spark_lsp.kb import symbol_index
from spark_lsp.kb.symbol_index import MAX_FUZZY_LOOKUPS, SymbolIndex, query_terms

NAMES = ["pandas.DataFrame.sort_values", "pandas.Series.sort_values", "pandas.DataFrame.merge",
         "numpy.argsort", "pandas.DataFrame.groupby"]


def index() -> SymbolIndex:
    return SymbolIndex([(n, ("pandas" if n.startswith("pandas") else "numpy", "1", n), "method")
                        for n in NAMES])


def test_typos_and_exact_names_match():
    found = [key[2] for key, _ in index().match(query_terms("DataFrame.srot_values"))]
    assert found[0] == "pandas.DataFrame.sort_values"
    found = [key[2] for key, _ in index().match(query_terms("np.argsrot kind"))]
    assert found[0] == "numpy.argsort"


def test_abbreviations_are_not_dotted_names():
    terms = query_terms("the labels are one-hot (e.g. [1 0 0]), i.e. a tensor, w.r.t. np.argsort")
    assert terms.identifiers == ["np.argsort"]
    index = SymbolIndex([("torch.Node.g", ("torch", "1", "torch.Node.g"), "property")])
    assert index.match(query_terms("one-hot labels (e.g. [1 0 0])")) == []


def test_a_query_full_of_identifiers_spends_a_bounded_number_of_fuzzy_lookups(monkeypatch):
    calls = []
    real = symbol_index.process.extract

    def counting(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(symbol_index.process, "extract", counting)
    # a typo, a listing's worth of variable names with an exact name among them
    names = [f"my_var_{i}.some_attr_{i}" for i in range(18)]
    names.insert(12, "df.groupby")
    query = "df.srot_values " + " ".join(names)
    found = [key[2] for key, _ in index().match(query_terms(query))]
    assert len(calls) <= MAX_FUZZY_LOOKUPS
    assert "pandas.DataFrame.sort_values" in found  # the early typo still found
    assert "pandas.DataFrame.groupby" in found  # exact names never need the budget


def test_a_typo_in_the_member_does_not_match_a_shorter_member_of_the_class():
    idx = SymbolIndex([(n, ("pandas", "1", n), "method") for n in
                       ["pandas.DataFrame.sort_values", "pandas.DataFrame.values",
                        "pandas.Series.mean"]])
    found = [key[2] for key, _ in idx.match(query_terms("DataFrame.srot_values"))]
    assert found == ["pandas.DataFrame.sort_values"]
    found = [key[2] for key, _ in idx.match(query_terms("Series.mena"))]
    assert found == ["pandas.Series.mean"]


def test_words_that_spell_a_name_find_it():
    idx = SymbolIndex([(n, (n.split(".")[0], "1", n), "function") for n in
                       ["torch.no_grad", "torch.nn.grad", "sklearn.model_selection.train_test_split",
                        "pandas.DataFrame.to_csv"]])
    found = [key[2] for key, _ in idx.match(query_terms("torch no grad inference"))]
    assert found[0] == "torch.no_grad"
    found = [key[2] for key, _ in idx.match(query_terms("stratified train test split"))]
    assert found[0] == "sklearn.model_selection.train_test_split"
    # punctuation ends a run: "to, csv" is not to_csv
    assert "to_csv" not in query_terms("convert it to, csv files").compounds


def test_the_words_of_a_name_near_each_other_in_any_order_find_it():
    idx = SymbolIndex([(n, (n.split(".")[0], "1", n), "method") for n in
                       ["sklearn.model_selection.train_test_split", "pandas.DataFrame.reset_index",
                        "pandas.DataFrame.set_index", "numpy.split", "pandas.DataFrame.to_csv"]])
    matches = {key[2]: score for key, score in
               idx.match(query_terms("split my data into train and test sets"))}
    assert matches["sklearn.model_selection.train_test_split"] == \
        symbol_index.SCATTERED_WEIGHT
    found = [key[2] for key, _ in idx.match(query_terms("how do I reset the index afterwards"))]
    assert found[0] == "pandas.DataFrame.reset_index"
    assert "pandas.DataFrame.set_index" not in found  # "set" is not a word of the query
    # spelt out, a name counts more than scattered
    spelt = {key[2]: score for key, score in idx.match(query_terms("reset index"))}
    assert spelt["pandas.DataFrame.reset_index"] == symbol_index.COMPOUND_WEIGHT
    # words of a name far apart are not that name
    far = "train a model on the data you have and then test it before you split anything"
    assert "sklearn.model_selection.train_test_split" not in \
        [key[2] for key, _ in idx.match(query_terms(far))]


def test_span_is_the_shortest_window_holding_the_words_in_order():
    assert symbol_index._span([[0, 10], [3], [5, 12]]) == 6
    assert symbol_index._span([[0, 4], [6, 9]]) == 3
    assert symbol_index._span([[4], [0]]) > 100  # never in that order


def test_a_name_s_words_in_another_order_are_not_that_name():
    idx = SymbolIndex([(n, ("pandas", "1", n), "function") for n in
                       ["pandas.wide_to_long", "pandas.DataFrame.pivot"]])
    found = [key[2] for key, _ in idx.match(query_terms("pivot a table from long to wide"))]
    assert "pandas.wide_to_long" not in found
    found = [key[2] for key, _ in idx.match(query_terms("reshape from wide format to long format"))]
    assert found[0] == "pandas.wide_to_long"


def test_a_long_question_s_scattered_words_are_not_names():
    idx = SymbolIndex([("sklearn.model_selection.train_test_split",
                        ("sklearn", "1", "sklearn.model_selection.train_test_split"), "function")])
    short = "split my data into train and test sets"
    assert idx.match(query_terms(short))
    long = "I have a frame of measurements from many sensors over several years. " * 3 + short
    assert idx.match(query_terms(long)) == []
