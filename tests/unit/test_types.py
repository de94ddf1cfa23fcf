"""Type inference on real snippets: what a name or expression holds (pandas, NumPy, Dask)."""

from __future__ import annotations

import textwrap

import pytest

from spark_lsp.analysis.context import FileContext
from spark_lsp.analysis.types import type_matches


def type_of_last_line(src: str) -> str | None:
    """The inferred type of the expression statement on the last line of `src`."""
    ctx = FileContext.from_text(textwrap.dedent(src))
    block = ctx.blocks[-1]
    root = ctx.roots()[-1][1]
    statements = root.find_all(kind="expression_statement")
    return ctx.type_of(statements[-1].child(0), block.start_line)


PANDAS = "import pandas as pd\ndf = pd.DataFrame({'a': [1.0], 'b': [2]})\n"
DASK = "import dask.dataframe as dd\nimport pandas as pd\nddf = dd.from_pandas(pd.DataFrame({'a': [1]}), npartitions=1)\n"


@pytest.mark.parametrize("expr,expected", [
    ("df['a'] > 0", "pandas.obj"),  # a boolean mask
    ("~(df['a'] > 0)", "pandas.obj"),
    ("-df['a']", "pandas.obj"),
    ("(df.a > 1) & (df.b < 2)", "pandas.obj"),
    ("1 < df['a'] < 3", None),  # chained: not elementwise
    ("x > 1", None),
])
def test_comparisons_and_unary_operators_keep_the_library(expr, expected):
    assert type_of_last_line(PANDAS + "x = 3\n" + expr + "\n") == expected


def test_a_mask_variable_is_a_series_for_card_types():
    t = type_of_last_line(PANDAS + "mask = df['a'] > 0\nmask\n")
    assert type_matches(t, "pandas.Series")
    assert not type_matches(t, "=pandas.DataFrame")


@pytest.mark.parametrize("expr,expected", [
    ("df.at[0, 'a']", None),  # one value
    ("df.iat[0, 0]", None),
    ("df.loc[0, 'a']", None),
    ("df.iloc[0, 1]", None),
    ("df['a'][0]", None),
    ("df.a.iloc[0]", None),
    ("df.a.loc['x']", None),
    ("df.loc[df.a > 0, 'a']", "pandas.obj"),  # rows by a mask: a Series
    ("df.loc[:, 'a']", "pandas.obj"),
    ("df.iloc[0]", "pandas.Series"),  # a row
    ("df.loc['x']", "pandas.Series"),
    ("df.loc[['x', 'y']]", "pandas.obj"),
    ("df.a.iloc[1:3]", "pandas.Series"),
    ("df['a'][df.a > 0]", "pandas.obj"),
])
def test_scalar_selections_are_not_frames(expr, expected):
    assert type_of_last_line(PANDAS + expr + "\n") == expected


def test_loop_variable_keys_select_one_value():
    src = PANDAS + "for i in range(3):\n    df.loc[i, 'a']\n"
    assert type_of_last_line(src) is None
    assert type_of_last_line(PANDAS + "for i in range(3):\n    df.loc[i]\n") == "pandas.Series"
    assert type_of_last_line(PANDAS + "i = [0, 1]\ndf.loc[i, 'a']\n") == "pandas.obj"


@pytest.mark.parametrize("expr,expected", [
    ("ddf.values", "dask.Array"),
    ("ddf.to_dask_array(lengths=True)", "dask.Array"),
    ("ddf['a'].mean()", "dask.Scalar"),
    ("ddf.mean()", "dask.Series"),
    ("ddf.a.sum() / ddf.a.count()", "dask.Scalar"),
    ("ddf.a.unique()", "dask.Series"),
    ("ddf.head(3)", "pandas.DataFrame"),  # head computes
    ("ddf['a'].tail()", "pandas.Series"),
    ("ddf.persist()", "dask.DataFrame"),
    ("ddf.compute()", "pandas.DataFrame"),
])
def test_dask_results_stay_lazy_until_computed(expr, expected):
    assert type_of_last_line(DASK + expr + "\n") == expected


def test_pandas_reductions_are_values():
    assert type_of_last_line(PANDAS + "df.a.mean()\n") is None
    assert type_of_last_line(PANDAS + "df.values\n") == "numpy.ndarray"
    assert type_of_last_line(PANDAS + "df.head(3)\n") == "pandas.DataFrame"
