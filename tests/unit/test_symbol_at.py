"""The library API under the cursor (analysis/symbol_at.py) and the documented names it maps to
(kb/symbols.candidate_names), as the docs hover looks them up."""

import pytest

from spark_lsp.analysis.symbol_at import symbol_at
from spark_lsp.kb.symbols import candidate_names

CODE = '''import pandas as pd
df = pd.read_csv("x.csv")
m = df["name"].str.contains("ab")
y = df["when"].dt.year
top = df.sort_values("when")
'''


@pytest.mark.parametrize("line,word,name,documented", [
    (1, "read_csv", "pandas.read_csv", "pandas.read_csv"),
    (2, "str", "pandas.Series.str", "pandas.Series.str"),
    (2, "contains", "pandas.accessor.str.contains", "pandas.Series.str.contains"),
    (3, "year", "pandas.accessor.dt.year", "pandas.Series.dt.year"),
    (4, "sort_values", "pandas.DataFrame.sort_values", "pandas.DataFrame.sort_values"),
])
def test_the_name_under_the_cursor_and_where_it_is_documented(line, word, name, documented):
    column = CODE.splitlines()[line].index(word) + 1
    assert symbol_at(CODE, line, column) == name
    assert documented in candidate_names(name)
