"""benchmarks/ds1000_gold.py: how a reference solution becomes gold APIs."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
from ds1000_gold import GoldResolver

KINDS = {
    "matplotlib.pyplot": "module", "matplotlib.pyplot.plot": "function",
    "sklearn.preprocessing": "module", "sklearn.preprocessing.scale": "function",
    "torch.nn.functional": "module", "torch.nn.functional.relu": "function",
    "pandas.DataFrame": "class", "pandas.DataFrame.loc": "property",
    "pandas.Series.loc": "property", "pandas.DataFrame.map": "method",
    "pandas.Series.map": "method", "pandas.DataFrame.keys": "method",
    "pandas.DataFrame.copy": "method",
    "scipy.stats.rankdata": "function", "scipy.sparse.csr_array.astype": "method",
    "numpy.ndarray.astype": "method", "torch.max": "function", "torch.Tensor.values": "method",
    "numpy.ndarray.values": "property",
    "pandas.Series.str": "property", "pandas.Series.str.index": "method",
    "pandas.Series.str.split": "method", "pandas.DataFrame.index": "property",
    "pandas.DataFrame.from_dict": "method", "pandas.DataFrame.plot": "property",
    "pandas.DataFrame.plot.bar": "method", "pandas.Series.sum": "method",
}


def resolver() -> GoldResolver:
    return GoldResolver({k: k for k in KINDS}, dict(KINDS))


def test_modules_used_as_namespaces_are_not_gold():
    gold = resolver().gold("import matplotlib.pyplot as plt\n", "plt.plot(x, y)\n")
    assert gold == [{"matplotlib.pyplot.plot"}]
    gold = resolver().gold("from sklearn import preprocessing\n",
                           "out = preprocessing.scale(data)\n")
    assert gold == [{"sklearn.preprocessing.scale"}]


def test_a_name_the_code_binds_is_not_a_conventional_alias():
    # `F` is torch.nn.functional by convention, but here the solution makes it a dict
    code = "F = {}\nx = F.keys()\ndf.loc[0, 'a'] = 1\n"
    gold = resolver().gold("import pandas as pd\n", code)
    assert {"torch.nn.functional.keys"} not in gold
    assert all(not g & {"torch.nn.functional"} for g in gold)
    assert {"pandas.DataFrame.loc"} in gold
    # where nothing binds it, the convention holds
    assert resolver().gold("import torch\n", "y = F.relu(x)\n") == [{"torch.nn.functional.relu"}]


def test_the_copy_in_ds1000s_wrapper_is_scaffolding():
    code = "def g(df):\n    return df.loc[df['a'] > 1]\nresult = g(df.copy())\n"
    assert resolver().gold("import pandas as pd\n", code) == [{"pandas.DataFrame.loc"}]


def test_a_method_on_an_unknown_result_is_any_member_of_that_name_in_its_library():
    # SciPy's functions return NumPy arrays: NumPy's members of the name count too
    gold = resolver().gold("from scipy.stats import rankdata\n", "r = rankdata(a).astype(int)\n")
    assert {"scipy.sparse.csr_array.astype", "numpy.ndarray.astype"} in gold
    # PyTorch's are tensors: its own members only
    gold = resolver().gold("import torch\n", "v = torch.max(x, 1).values()\n")
    assert {"torch.Tensor.values"} in gold


def test_a_call_takes_methods_and_a_read_takes_properties():
    # `.values` read off torch.max's named tuple is not the method Tensor.values()
    assert resolver().gold("import torch\n", "v = torch.max(x, 1).values\n") == [{"torch.max"}]
    # `.index` of a value of unknown type: the property, not the string method of that name
    code = "out = df.groupby('a').first().index\nn = df.groupby('a').first().sum()\n"
    gold = resolver().gold("import pandas as pd\n", code)
    assert {"pandas.DataFrame.index"} in gold and {"pandas.Series.sum"} in gold
    assert all("pandas.Series.str.index" not in g for g in gold)
    # a call of a namespace that is a property (`df.plot(...)`) keeps it
    gold = resolver().gold("import pandas as pd\n", "df.groupby('a').first().plot(x='a')\n")
    assert {"pandas.DataFrame.plot"} in gold


def test_classes_and_accessors_a_member_is_reached_through_are_namespaces():
    code = "df['b'] = df['a'].str.split(',')\nx = pd.DataFrame.from_dict(d)\n"
    gold = resolver().gold("import pandas as pd\n", code)
    assert {"pandas.Series.str.split"} in gold and {"pandas.DataFrame.from_dict"} in gold
    assert {"pandas.Series.str"} not in gold and {"pandas.DataFrame"} not in gold
    # used on their own they are gold: `s.str[0]`, `pd.DataFrame(...)`
    gold = resolver().gold("import pandas as pd\n", "df['c'] = df['a'].str[0]\n"
                           "out = pd.DataFrame(rows)\n")
    assert {"pandas.Series.str"} in gold and {"pandas.DataFrame"} in gold
