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
