"""The pandas/NumPy/Dask detectors on real snippets: what they flag, what they leave, what they emit."""

from __future__ import annotations

import textwrap

import pytest

from spark_lsp.analysis.cards import card_from_dict
from spark_lsp.analysis.context import FileContext
from spark_lsp.analysis.detectors import DETECTORS
from spark_lsp.analysis.engine import Analyzer
from spark_lsp.analysis.examples import fix_code


def run(name: str, src: str) -> list[tuple[int, str, dict[str, str]]]:
    """(1-based line, matched text, metavariables) for each match of detector `name`."""
    ctx = FileContext.from_text(textwrap.dedent(src))
    return [(m.node.range().start.line + m.offset + 1, m.node.text(), m.metavars)
            for m in DETECTORS[name](ctx)]


PANDAS = "import pandas as pd\ndf = pd.DataFrame({'a': [1], 'b': [2]})\n"
DASK = "import dask.dataframe as dd\nddf = dd.read_csv('x-*.csv')\n"


# -- unstable sorts ------------------------------------------------------------------------------
@pytest.mark.parametrize("line,use", [
    ("df.sort_values('a').head(3)", ".head()"),
    ("df.sort_values(by='a', ascending=False).iloc[0]", ".iloc[...]"),
    ("df.sort_values(['a']).drop_duplicates('b')", ".drop_duplicates()"),
    ("df.sort_values('a')['b'].iloc[0]", ".iloc[...]"),
    ("df.sort_values('a').reset_index(drop=True).head()", ".head()"),
    ("df.sort_values('a').groupby('b').first()", ".groupby(...).first()"),
    ("df.sort_values('a').groupby('b')['a'].agg('last')", ".groupby(...).agg('last')"),
    ("df['a'].sort_values().index[:2]", ".index[...]"),
    ("df['a'].sort_values(ascending=False).index.tolist()", ".index.tolist()"),
])
def test_unstable_sort_values_flags_tie_order_uses(line, use):
    found = run("unstable_sort_values", PANDAS + line + "\n")
    assert [(m[0], m[2]["USE"]) for m in found] == [(3, use)]


@pytest.mark.parametrize("line", [
    "df.sort_values(['a', 'b']).head(3)",  # several keys: stable lexsort
    "df.sort_values('a', kind='stable').head(3)",
    "df.sort_values('a').sum()",
    "out = df.sort_values('a')",
    "df.sort_values('a').iloc[:, 0]",  # column selection
    "df.sort_values(keys).head()",  # unknown number of keys
    "df.sort_values('a').plot()",
    "rows.sort_values('a').head()",  # not known to be pandas
])
def test_unstable_sort_values_leaves_other_sorts(line):
    assert run("unstable_sort_values", PANDAS + line + "\n") == []


def test_unstable_sort_values_metavars_drive_the_fix():
    found = run("unstable_sort_values", PANDAS + "top = df.sort_values(\n    'a',\n).head(1)\n")
    assert found[0][2]["DF"] == "df"
    assert found[0][2]["ARGS"] == "'a'"  # the trailing comma is dropped


@pytest.mark.parametrize("src,use", [
    ("import numpy as np\nx = np.array([1, 1])\nnp.argsort(x)[:1]\n", "sliced or indexed"),
    ("import numpy as np\nx = np.array([1, 1])\nx.argsort()[::-1]\n", "sliced or indexed"),
    ("import numpy as np\nx = np.array([1, 1])\nnames = x\nnames[np.argsort(-x)]\n",
     "used to reorder another array"),
    ("import numpy as np\nr = np.zeros(2)\nnp.sort(r, order='f')\n",
     "an array of records whose ties differ"),
])
def test_unstable_argsort_flags_indexed_results(src, use):
    assert [m[2]["USE"] for m in run("unstable_argsort", src)] == [use]


@pytest.mark.parametrize("src", [
    "import numpy as np\nx = np.array([3, 1])\nnp.sort(x)[:1]\n",  # equal values are identical
    "import numpy as np\nx = np.array([3, 1])\nx[np.argsort(x)]\n",  # that is np.sort(x)
    "import numpy as np\nx = np.array([3, 1])\nnp.argsort(x, kind='stable')[:1]\n",
    "import numpy as np\nx = np.array([3, 1])\norder = np.argsort(x)\n",
    "import torch\nt = torch.tensor([3, 1])\nt.argsort()[:1]\n",
    "np.sort(r, order=['f', 'g'])\n",
])
def test_unstable_argsort_leaves_harmless_sorts(src):
    assert run("unstable_argsort", src) == []


# -- .str / .dt accessors --------------------------------------------------------------------------
@pytest.mark.parametrize("call,accessor", [
    ("s.apply(lambda x: x.lower())", "str.lower()"),
    ("s.map(lambda x: x.strip().upper())", "str.strip().str.upper()"),
    ("s.apply(lambda x: x.split(',')[0])", "str.split(',').str[0]"),
    ("s.apply(lambda x: x.split('::'))", "str.split('::', regex=False)"),
    ("s.apply(lambda x: x[:3])", "str[:3]"),
    ("s.apply(lambda x: len(x))", "str.len()"),
    ("s.apply(len)", "str.len()"),
    ("s.map(str.title)", "str.title()"),
    ("s.apply(lambda x: x.replace('a', 'b'))", "str.replace('a', 'b')"),
    ("s.map(lambda x: x.startswith('a'), na_action='ignore')", "str.startswith('a')"),
    ("s.apply(lambda d: d.year)", "dt.year"),
    ("s.apply(lambda d: d.date())", "dt.date"),
    ("s.apply(lambda d: d.strftime('%Y').lower())", "dt.strftime('%Y').str.lower()"),
    ("s.apply(lambda d: d.floor('h'))", "dt.floor('h')"),
])
def test_accessor_lambda_rewrites(call, accessor):
    src = "import pandas as pd\ns = pd.Series(['a'])\nout = " + call + "\n"
    assert [m[2]["ACCESSOR"] for m in run("accessor_lambda", src)] == [accessor]


@pytest.mark.parametrize("call", [
    "s.apply(lambda x: x.round(2))",  # a float method, not .dt.round
    "s.apply(lambda x: x.lower() + '!')",
    "s.apply(lambda x: x.replace(x[0], ''))",  # argument depends on the element
    "s.apply(lambda x: x.split(',', 1))",  # maxsplit is keyword-only in pandas
    "s.apply(lambda x: x.count('a'))",  # pandas reads a regex
    "s.apply(lambda x: x)",
    "s.apply(lambda x: x.year.lower())",
    "s.apply(lambda x, y: x.lower())",
    "s.apply(lambda x: x.lower(), args=())",
    "df.apply(lambda col: col.year)",  # a DataFrame passes columns
    "items.apply(lambda x: x.lower())",  # not known to be pandas
])
def test_accessor_lambda_leaves_other_functions(call):
    src = "import pandas as pd\ns = pd.Series(['a'])\ndf = pd.DataFrame()\nout = " + call + "\n"
    assert run("accessor_lambda", src) == []


def test_accessor_lambda_respects_a_rebound_len():
    src = "import pandas as pd\ns = pd.Series(['a'])\nlen = print\nout = s.apply(len)\n"
    assert run("accessor_lambda", src) == []


# -- row-wise apply --------------------------------------------------------------------------
@pytest.mark.parametrize("call,vectorized", [
    ("df.apply(lambda r: r['a'] + r['b'], axis=1)", 'df["a"] + df["b"]'.replace('"', "'")),
    ("df.apply(lambda r: r.a * 2, axis='columns')", 'df["a"] * 2'),
    ("df.apply(lambda r: r['a'] > 1 and r['b'] < 2, axis=1)", "(df['a'] > 1) & (df['b'] < 2)"),
    ("df.apply(lambda r: not r['a'] > 1, axis=1)", "~(df['a'] > 1)"),
    ("df.apply(lambda r: np.log(r['a']) - abs(r['b']), axis=1)", "np.log(df['a']) - abs(df['b'])"),
    ("df.apply(lambda r: -(r['a'] - 1) ** 2, axis=1)", "-(df['a'] - 1) ** 2"),
])
def test_rowwise_apply_vectorizes_arithmetic(call, vectorized):
    src = "import numpy as np\n" + PANDAS + "out = " + call + "\n"
    assert [m[2]["VECTORIZED"] for m in run("rowwise_apply_vectorizable", src)] == [vectorized]
    assert run("rowwise_apply", src) == []


def test_rowwise_apply_parenthesizes_inside_a_larger_expression():
    src = PANDAS + "out = df.apply(lambda r: r.a + r.b, axis=1) * 2\n"
    assert run("rowwise_apply_vectorizable", src)[0][2]["VECTORIZED"] == '(df["a"] + df["b"])'


@pytest.mark.parametrize("call", [
    "df.apply(lambda r: r['a'] if r['b'] else 0, axis=1)",
    "df.apply(lambda r: f(r), axis=1)",
    "df.apply(lambda r: r.sum() + r.a, axis=1)",  # a Series method of the row
    "df.apply(lambda r: r.name + 1, axis=1)",  # the row's label, not a column
    "df.apply(lambda r: 1, axis=1)",
    "df.apply(lambda r: r['a'] < r['b'] < 3, axis=1)",
    "df.apply(lambda r: r['a'] + 1, axis=1, raw=True)",
    "df.apply(lambda r: f'{r.a}', axis=1)",
    "df[df.a > 0].apply(lambda r: r.a + 1, axis=1)",  # receiver would be evaluated twice
    "df.apply(score, axis=1)",
])
def test_rowwise_apply_without_exact_rewrite_is_display_only(call):
    src = PANDAS + "out = " + call + "\n"
    assert run("rowwise_apply_vectorizable", src) == []
    assert len(run("rowwise_apply", src)) == 1


@pytest.mark.parametrize("src", [
    PANDAS + "out = df.apply(lambda col: col.max())\n",
    PANDAS + "out = df['a'].apply(lambda v: v + 1)\n",
    "from multiprocessing import Pool\npool = Pool(2)\npool.apply(f, (1,))\n",
    DASK + "out = ddf.apply(lambda r: r.a + 1, axis=1, meta=('a', 'f8'))\n",
])
def test_rowwise_apply_needs_a_pandas_frame_and_axis_1(src):
    assert run("rowwise_apply", src) == run("rowwise_apply_vectorizable", src) == []


# -- loops over rows ------------------------------------------------------------------------
def test_iterrows_loop_with_loc_write():
    src = PANDAS + "for i, row in df.iterrows():\n    df.loc[i, 'c'] = row['a'] * 2\n"
    assert run("iterrows_loop", src) == [
        (3, "df.iterrows()", {"DF": "df", "METHOD": "iterrows", "ROW": "row",
                              "WHAT": "writes `df.loc[i, ...]`"})]


@pytest.mark.parametrize("body,what", [
    ("    total += row['a'] * row['b']\n", "accumulates `total`"),
    ("    out.append(row.a / 2)\n", "appends to `out`"),
    ("    if row['a'] > 0 and row['b'] < 5:\n        out.append(row['a'])\n", "appends to `out`"),
])
def test_iterrows_loop_with_accumulation(body, what):
    src = PANDAS + "total = 0\nout = []\nfor _, row in df.iterrows():\n" + body
    assert [m[2]["WHAT"] for m in run("iterrows_loop", src)] == [what]


def test_itertuples_loop_with_at_write():
    src = PANDAS + "for t in df.itertuples():\n    df.at[t.Index, 'c'] = t.a + 1\n"
    assert [m[2]["WHAT"] for m in run("iterrows_loop", src)] == ["writes `df.at[t.Index, ...]`"]


@pytest.mark.parametrize("body", [
    "    print(i, row['a'])\n",
    "    if row['a'] > 1:\n        df.loc[i, 'c'] = 1\n        break\n",  # a search
    "    out.append(fetch(row['url']))\n",  # arbitrary per-row code
    "    other.loc[i, 'c'] = row['a']\n",  # writes another frame
    "    total += len(str(row))\n",
    "    if not isinstance(row['a'], int):\n        out.append(row['a'])\n",  # Python predicate
    "    if row['a'] not in out:\n        out.append(row['a'])\n",  # depends on loop state
    "    for c in ['a', 'b']:\n        total += row[c]\n",
    "    def f():\n        df.loc[i, 'c'] = 1\n",
])
def test_iterrows_loop_leaves_other_loops(body):
    src = PANDAS + "out = []\nother = pd.DataFrame()\nfor i, row in df.iterrows():\n" + body
    assert run("iterrows_loop", src) == []


@pytest.mark.parametrize("body,line", [
    ("    row['a'] = 10\n", 4),
    ("    if row.a > 1:\n        row.a = 0\n", 5),
    ("    row['a'] += 1\n", 4),
])
def test_iterrows_row_write_is_lost(body, line):
    src = PANDAS + "for i, row in df.iterrows():\n" + body
    assert [(m[0], m[2]["ROW"]) for m in run("iterrows_row_write", src)] == [(line, "row")]


@pytest.mark.parametrize("body", [
    "    row['a'] = 10\n    df.loc[i] = row\n",  # written back
    "    row['a'] = 10\n    kept.append(row)\n",  # the modified copies are collected
    "    x = row['a']\n",
    "    other['a'] = row['a']\n",
])
def test_iterrows_row_write_leaves_used_rows(body):
    src = PANDAS + "kept = []\nother = {}\nfor i, row in df.iterrows():\n" + body
    assert run("iterrows_row_write", src) == []


def test_iterrows_append_needs_a_list():
    src = PANDAS + "out = Queue()\nfor _, row in df.iterrows():\n    out.append(row.a)\n"
    assert run("iterrows_loop", src) == []


@pytest.mark.parametrize("header,body,access", [
    ("for i in range(len(df)):", "    df.loc[i, 'b'] = df.loc[i, 'a'] * 2", "df.loc[i, ...]"),
    ("for i in range(1, len(df)):", "    x = df['a'][i] - df['a'][i - 1]", "df['a'][i]"),
    ("for i in range(df.shape[0]):", "    print(df.iloc[i])", "df.iloc[i]"),
    ("for i in range(len(df.index)):", "    print(df.a[i])", "df.a[i]"),
    ("for i in range(len(s)):", "    print(s[i])", "s[i]"),
])
def test_range_len_loop(header, body, access):
    src = PANDAS + "s = df['a']\n" + header + "\n" + body + "\n"
    assert [m[2]["ACCESS"] for m in run("range_len_loop", src)] == [access]


@pytest.mark.parametrize("src", [
    "items = [1, 2]\nfor i in range(len(items)):\n    items[i] += 1\n",
    PANDAS + "for i in range(len(df)):\n    print(i)\n",
    PANDAS + "for i in range(len(df)):\n    print(df[i])\n",  # a column labelled i
    PANDAS + "for i in range(len(df)):\n    if df.loc[i, 'a'] > 1:\n        break\n",
    PANDAS + "for i in range(len(df.columns)):\n    print(df.columns[i])\n",
    "import numpy as np\narr = np.zeros(3)\nfor i in range(len(arr)):\n    arr[i] = i\n",
    # a recurrence: each value needs the previous result
    PANDAS + "A = df['a']\nB = A.copy()\nfor t in range(1, len(A)):\n"
             "    B[t] = 0.5 * A[t] + 0.3 * B[t - 1]\n",
    PANDAS + "for i in range(1, len(df)):\n    df.loc[i, 'b'] = df.loc[i - 1, 'b'] + df.loc[i, 'a']\n",
])
def test_range_len_loop_leaves_other_loops(src):
    assert run("range_len_loop", src) == []


# -- Dask compute in a loop -----------------------------------------------------------------
@pytest.mark.parametrize("src", [
    DASK + "for c in ['a', 'b']:\n    print(ddf[c].mean().compute())\n",
    DASK + "out = [ddf.a[ddf.a > k].count().compute() for k in range(3)]\n",
    DASK + "import dask\nfor c in cols:\n    dask.compute(ddf[c].sum())\n",
    DASK + "for i in range(ddf.npartitions):\n    part = ddf.get_partition(i).compute()\n",
])
def test_dask_compute_in_loop(src):
    assert len(run("dask_compute_in_loop", src)) == 1


@pytest.mark.parametrize("src", [
    DASK + "total = ddf.a.sum().compute()\nfor i in range(3):\n    print(i, total)\n",
    DASK + "for step in range(3):\n    ddf = ddf.persist()\n    print(ddf.a.max().compute())\n",
    PANDAS + "for c in ['a']:\n    print(df[c].mean())\n",
    "for job in jobs:\n    job.compute()\n",
    DASK + "for c in ddf.columns.compute():\n    print(c)\n",  # the iterable, computed once
])
def test_dask_compute_in_loop_leaves_single_or_iterative_computes(src):
    assert run("dask_compute_in_loop", src) == []


# -- cards with ast-grep transforms ------------------------------------------------------------
def test_rule_transform_feeds_the_fix_template():
    card, problems = card_from_dict({
        "code": "SPK999", "title": "drop inplace", "libraries": {"pandas": ">=1"},
        "why": "a test card with a transform that drops a keyword",
        "rules": [{
            "rule": {"pattern": "$DF.$M($$$ARGS)", "has": {
                "field": "arguments", "has": {"kind": "keyword_argument", "regex": "^inplace"}}},
            "transform": {"KEPT": {"replace": {
                "source": "$$$ARGS", "by": "",
                "replace": r",\s*inplace\s*=\s*True\b(?:\s*,\s*$)?|\binplace\s*=\s*True\s*,?\s*"}}},
            "types": {"DF": ["pandas.DataFrame"]},
        }],
        "fix": {"applicability": "unsafe", "description": "rebind", "template": "$DF = $DF.$M($KEPT)"},
        "examples": [{"bad": "x", "good": "x"}], "sources": [{"url": "https://example.org"}],
    })
    assert problems == []
    analyzer = Analyzer([card])
    src = PANDAS + "df.drop(columns=['a'], inplace=True)\ndf.reset_index(inplace=True, drop=True)\n"
    assert fix_code(analyzer, src, "SPK999") == PANDAS + (
        "df = df.drop(columns=['a'])\ndf = df.reset_index(drop=True)\n")
