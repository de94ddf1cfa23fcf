"""What a name holds: imports, assignments and a little dataflow, on tolerant parse trees.

Spark flags `.apply` only on pandas/Dask objects, `.values` only on frames, `inplace=` only on
pandas calls. To know the receiver it follows imports and the assignments that feed a name
(`df = pd.read_csv(...)`, `ddf = dd.from_pandas(df)`, `sub = df[df.a > 0]`, ...). Types are
short strings: ``pandas.DataFrame``, ``pandas.Series``, ``pandas.obj`` (frame or series),
``dask.DataFrame``, ``numpy.ndarray``, ``matplotlib.Axes``, ``torch.Module`` ...
"""

from __future__ import annotations

import re
from bisect import bisect_right
from fnmatch import fnmatchcase

from ast_grep_py import SgNode

from spark_lsp.analysis.facts import (  # noqa: F401  (re-exported: where facts used to live)
    FALLBACK,
    Binding,
    FileBindings,
    ModuleFacts,
    ReadKey,
    ReadLog,
    collect_facts,
)

# Aliases that code fragments use without importing (DS-1000 answers, notebook cells).
CONVENTIONAL_ALIASES = {
    "pd": "pandas", "np": "numpy", "plt": "matplotlib.pyplot", "dd": "dask.dataframe",
    "tf": "tensorflow", "torch": "torch", "nn": "torch.nn", "sns": "seaborn", "mpl": "matplotlib",
    "keras": "keras", "sklearn": "sklearn", "scipy": "scipy", "yaml": "yaml", "pickle": "pickle",
    "json": "json", "ast": "ast", "joblib": "joblib",
}

# Qualified call name (glob) -> type of the value it returns. First match wins.
FACTORIES: list[tuple[str, str]] = [
    ("pandas.read_html", "list"),
    ("pandas.read_*", "pandas.DataFrame"),
    ("pandas.DataFrame", "pandas.DataFrame"),
    ("pandas.DataFrame.from_*", "pandas.DataFrame"),
    ("pandas.json_normalize", "pandas.DataFrame"),
    ("pandas.Series", "pandas.Series"),
    ("pandas.merge", "pandas.DataFrame"),
    ("pandas.merge_*", "pandas.DataFrame"),
    ("pandas.pivot_table", "pandas.DataFrame"),
    ("pandas.crosstab", "pandas.DataFrame"),
    ("pandas.get_dummies", "pandas.DataFrame"),
    ("pandas.concat", "pandas.obj"),
    ("pandas.date_range", "pandas.Index"),
    ("pandas.Index", "pandas.Index"),
    ("dask.dataframe.read_*", "dask.DataFrame"),
    ("dask.dataframe.from_*", "dask.DataFrame"),
    ("dask.dataframe.concat", "dask.obj"),
    ("dask.dataframe.merge", "dask.DataFrame"),
    ("numpy.random.default_rng", "numpy.Generator"),
    ("numpy.random.*", "numpy.ndarray"),
    ("numpy.linalg.*", "numpy.ndarray"),
    ("numpy.*", "numpy.ndarray"),
    ("matplotlib.pyplot.figure", "matplotlib.Figure"),
    ("matplotlib.pyplot.gcf", "matplotlib.Figure"),
    ("matplotlib.pyplot.gca", "matplotlib.Axes"),
    ("matplotlib.pyplot.axes", "matplotlib.Axes"),
    ("matplotlib.pyplot.subplot", "matplotlib.Axes"),
    ("matplotlib.pyplot.subplots", "tuple[matplotlib.Figure,matplotlib.Axes]"),
    ("torch.nn.functional.*", "torch.Tensor"),
    ("torch.nn.*", "torch.Module"),
    ("torchvision.models.*", "torch.Module"),
    ("torch.tensor", "torch.Tensor"), ("torch.from_numpy", "torch.Tensor"),
    ("torch.zeros", "torch.Tensor"), ("torch.ones", "torch.Tensor"),
    ("torch.rand*", "torch.Tensor"), ("torch.arange", "torch.Tensor"),
    ("multiprocessing.Pool", "multiprocessing.Pool"),
    ("multiprocessing.pool.*", "multiprocessing.Pool"),
    ("concurrent.futures.*Executor", "concurrent.Executor"),
    ("tensorflow.keras.Sequential", "keras.Model"), ("tensorflow.keras.Model", "keras.Model"),
    ("tensorflow.keras.models.*", "keras.Model"), ("keras.Sequential", "keras.Model"),
    ("keras.Model", "keras.Model"), ("keras.models.*", "keras.Model"),
    ("xgboost.XGB*", "sklearn.Estimator"), ("lightgbm.LGBM*", "sklearn.Estimator"),
    ("catboost.CatBoost*", "sklearn.Estimator"),
]
_SKLEARN_CLASS = re.compile(r"^sklearn\.[\w.]*\.[A-Z]\w*$")

# Methods of a frame-like value whose result is not a frame of the same library.
_NON_FRAME_RESULT = {
    "to_numpy": "numpy.ndarray", "values": "numpy.ndarray", "to_list": "list", "tolist": "list",
    "to_dict": "dict", "columns": "pandas.Index", "index": "pandas.Index", "shape": "tuple",
    "dtypes": None, "dtype": None, "item": None, "iterrows": None, "itertuples": None,
    "items": None, "nunique": None, "size": None, "ndim": None, "empty": None, "any": None,
    "all": None, "plot": None, "hist": None, "to_csv": None, "to_parquet": None, "info": None,
    "describe": "pandas.DataFrame", "str": "accessor.str", "dt": "accessor.dt", "cat": None,
    "groupby": "GroupBy", "rolling": "GroupBy", "resample": "GroupBy", "expanding": "GroupBy",
    "ewm": "GroupBy", "loc": "Indexer", "iloc": "Indexer", "at": "ScalarIndexer",
    "iat": "ScalarIndexer",
    "len": None, "count": None, "T": "DataFrame", "to_frame": "DataFrame",
    "mean": None, "sum": None, "max": None, "min": None, "median": None, "std": None,
    "var": None, "idxmax": None, "idxmin": None, "argmax": None, "argmin": None,
    "unique": "numpy.ndarray", "value_counts": "Series", "to_pandas": None, "persist": "self",
    "compute": "compute", "head": "self", "tail": "self", "get": None, "pop": "Series",
}
# Dask members whose result stays lazy where pandas would give a value or a NumPy array.
_DASK_REDUCTIONS = {"mean", "sum", "max", "min", "median", "std", "var", "count", "nunique",
                    "idxmax", "idxmin", "any", "all", "prod", "sem", "skew", "kurtosis"}
_DASK_LAZY_RESULT = {"values": "dask.Array", "to_dask_array": "dask.Array", "size": "dask.Scalar",
                     "unique": "dask.Series"}
# Attributes of a DataFrame that are not columns.
_FRAME_ATTRS = set(_NON_FRAME_RESULT) | {
    "apply", "map", "applymap", "agg", "aggregate", "transform", "pipe", "query", "eval",
    "attrs", "axes", "flags", "style", "sparse", "memory_usage",
}

# Names that, unbound in the file, hold a pandas DataFrame by the community's convention.
_DF_NAME = re.compile(r"^(df\d*|df_\w+|\w+_df\d*)$")
MAX_DEPTH = 12


def _annotation_type(text: str, facts: ModuleFacts) -> str | None:
    q = qualified_name(text.strip("'\""), facts)
    if q in ("pandas.DataFrame", "pandas.Series", "numpy.ndarray", "dask.dataframe.DataFrame",
             "torch.nn.Module", "torch.Tensor"):
        return {"dask.dataframe.DataFrame": "dask.DataFrame", "torch.nn.Module": "torch.Module"}.get(q, q)
    return None


def qualified_name(dotted: str, facts: ModuleFacts, bound: bool = False) -> str | None:
    """`pd.read_csv` -> `pandas.read_csv` through the file's imports (or the usual aliases)."""
    head, _, rest = dotted.partition(".")
    if head in facts.imports:
        base = facts.imports[head]
    elif head in CONVENTIONAL_ALIASES and not bound:
        base = CONVENTIONAL_ALIASES[head]
    else:
        return None
    return f"{base}.{rest}" if rest else base


def _dotted(node: SgNode) -> str | None:
    """Text of an identifier/attribute chain (`a.b.c`), or None for anything else."""
    kind = node.kind()
    if kind == "identifier":
        return node.text()
    if kind == "attribute":
        obj, attr = node.field("object"), node.field("attribute")
        if obj is not None and attr is not None:
            head = _dotted(obj)
            return f"{head}.{attr.text()}" if head else None
    return None


def factory_type(qualname: str) -> str | None:
    for pattern, result in FACTORIES:
        if fnmatchcase(qualname, pattern):
            return result
    if _SKLEARN_CLASS.match(qualname):
        return "sklearn.Estimator"
    return None


def library_of(type_: str | None) -> str | None:
    if not type_:
        return None
    return type_.split(".")[0]


def type_matches(actual: str | None, wanted: str) -> bool:
    """`pandas` matches any pandas type; `pandas.Series` matches the `pandas.obj` union too.

    A leading `=` asks for the exact type (no frame-or-series union), e.g. for a safe fix.
    """
    if actual is None:
        return False
    if wanted.startswith("="):
        wanted = wanted[1:]
        return actual == wanted or actual.startswith(wanted + ".")
    if actual == wanted or actual.startswith(wanted + "."):
        return True
    lib, _, kind = wanted.partition(".")
    return actual == f"{lib}.obj" and kind in ("DataFrame", "Series")


class TypeInference:
    """Answers `type_of(node)` for nodes of a file's blocks.

    An answer does not depend on which questions came before it: a type is remembered only when
    its computation met neither a cycle nor the depth limit, together with the depth it needed
    (a remembered type is reused only where the limit would not have cut it short) and the names
    it looked up (handed on to the `ReadLog` of whoever reuses it). So a block analysed on its
    own gets the types a whole-file analysis gets.
    """

    def __init__(self, facts: ModuleFacts) -> None:
        self.facts = facts
        self.reads: ReadLog = getattr(facts, "reads", None) or ReadLog()
        # key -> (type, depth needed below the node, names read)
        self._memo: dict[tuple[int, int, int], tuple[str | None, int, frozenset[ReadKey]]] = {}
        self._active: set[tuple[int, int, int]] = set()
        self._cut = 0  # how many computations met a cycle or the depth limit so far
        self._reach = 0  # deepest level the current computation went to
        self._lines: dict[str, list[int]] = {}

    def call_qualname(self, call: SgNode) -> str | None:
        func = call.field("function")
        if func is None:
            return None
        dotted = _dotted(func)
        if dotted is None:
            return None
        head = dotted.split(".")[0]
        return qualified_name(dotted, self.facts, bound=head in self.facts.bindings)

    def type_of(self, node: SgNode, offset: int, depth: int = 0) -> str | None:
        r = node.range()
        key = (r.start.index, r.end.index, offset)
        known = self._memo.get(key)
        if known is not None and depth + known[1] < MAX_DEPTH:
            self._reach = max(self._reach, depth + known[1])
            self.reads.note_all(known[2])
            return known[0]
        if depth >= MAX_DEPTH or key in self._active:
            self._cut += 1
            return None
        self._active.add(key)
        cut, reach = self._cut, self._reach
        self._reach = depth
        frame = self.reads.open()
        try:
            result = self._infer(node, offset, depth)
        finally:
            self._active.discard(key)
            self.reads.close(frame)
        if self._cut == cut:
            self._memo[key] = (result, self._reach - depth, frozenset(frame))
        self._reach = max(reach, self._reach)
        return result

    def _infer(self, node: SgNode, offset: int, depth: int) -> str | None:
        kind = node.kind()
        if kind == "parenthesized_expression":
            inner = node.named_children()
            return self.type_of(inner[0], offset, depth + 1) if inner else None
        if kind == "identifier":
            return self.name_type(node.text(), node.range().start.line + offset, depth)
        if kind == "call":
            return self._call_type(node, offset, depth)
        if kind == "attribute":
            obj, attr = node.field("object"), node.field("attribute")
            if obj is None or attr is None:
                return None
            base = self.type_of(obj, offset, depth + 1)
            return self._member_type(base, attr.text(), is_call=False)
        if kind == "subscript":
            value = node.field("value")
            base = self.type_of(value, offset, depth + 1) if value is not None else None
            return self._subscript_type(base, node, offset)
        if kind in ("binary_operator", "comparison_operator"):
            # `df.a > 0` is a boolean Series; a chained comparison has no elementwise meaning
            sides = node.named_children()
            if kind == "comparison_operator" and len(sides) != 2:
                return None
            for side in sides:
                t = self.type_of(side, offset, depth + 1)
                if t and library_of(t) in ("pandas", "dask", "numpy", "torch"):
                    return _frame_union(t)
        if kind == "unary_operator":  # `~mask`, `-s`
            operand = node.field("argument")
            t = self.type_of(operand, offset, depth + 1) if operand is not None else None
            if t and library_of(t) in ("pandas", "dask", "numpy", "torch"):
                return _frame_union(t)
        return None

    def _call_type(self, node: SgNode, offset: int, depth: int) -> str | None:
        func = node.field("function")
        if func is None:
            return None
        if func.kind() == "attribute":
            obj, attr = func.field("object"), func.field("attribute")
            base = self.type_of(obj, offset, depth + 1) if obj is not None else None
            if base is not None and attr is not None and not base.startswith("module:"):
                return self._member_type(base, attr.text(), is_call=True)
        qual = self.call_qualname(node)
        return factory_type(qual) if qual else None

    def _member_type(self, base: str | None, member: str, is_call: bool) -> str | None:
        if base is None:
            return None
        lib = library_of(base)
        if base.startswith("tuple["):
            return None
        if lib in ("pandas", "dask") and base.split(".")[1] in ("DataFrame", "Series", "obj"):
            if lib == "dask" and member in _DASK_LAZY_RESULT:
                return _DASK_LAZY_RESULT[member]
            if lib == "dask" and member in _DASK_REDUCTIONS and is_call:
                return "dask.Series" if base.endswith("DataFrame") else "dask.Scalar"
            if member in _NON_FRAME_RESULT:
                res = _NON_FRAME_RESULT[member]
                if res == "self" and lib == "dask" and member in ("head", "tail"):
                    return f"pandas.{base.split('.')[1]}"  # Dask computes the first rows
                if res == "self":
                    return base
                if res == "compute":
                    return f"pandas.{base.split('.')[1]}" if lib == "dask" else None
                if res == "Indexer" and base.endswith(".Series"):
                    return f"{lib}.SeriesIndexer"  # `s.loc[label]` is one value
                if res in ("Series", "DataFrame", "GroupBy", "Indexer", "ScalarIndexer"):
                    return f"{lib}.{res}"
                if res and res.startswith("accessor."):
                    return f"{lib}.{res}"
                return res
            if not is_call:
                # df.col is a column unless it is a DataFrame attribute we know.
                return f"{lib}.Series" if base.endswith("DataFrame") and member not in _FRAME_ATTRS else None
            if member in ("apply", "map", "agg", "aggregate", "transform", "pipe", "eval"):
                return None  # depends on the function
            return _frame_union(base)
        if lib in ("pandas", "dask") and base.split(".")[1] in ("GroupBy",):
            return None if member in ("groups", "ngroups", "indices") else f"{lib}.obj"
        if lib in ("pandas", "dask") and base.startswith(f"{lib}.accessor"):
            return f"{lib}.Series" if is_call else f"{lib}.accessor"
        if lib in ("pandas", "dask") and base.endswith("Indexer"):
            return None
        if base == "numpy.ndarray" and member in ("reshape", "copy", "astype", "T", "flatten", "ravel"):
            return base
        if base == "torch.Module" and member in ("to", "cuda", "cpu", "eval", "train", "float", "double"):
            return base
        if base == "keras.Model" and member in ("compile",):
            return None
        return None

    def _subscript_type(self, base: str | None, node: SgNode, offset: int) -> str | None:
        if base is None:
            return None
        lib = library_of(base)
        if lib in ("pandas", "dask"):
            part = base.split(".")[1]
            keys = node.field_children("subscript")
            if part == "ScalarIndexer":
                return None  # `df.at[i, "c"]` is one value
            if part == "SeriesIndexer":
                return None if self._scalar_keys(keys, offset) else f"{lib}.Series"
            if part == "Indexer":
                if len(keys) == 2 and self._scalar_keys(keys, offset):
                    return None  # `df.loc[0, "a"]`
                if lib == "pandas" and len(keys) == 1 and self._scalar_keys(keys, offset):
                    return "pandas.Series"  # `df.iloc[0]`: one row (Dask keeps a frame)
                return f"{lib}.obj"
            if part == "DataFrame":
                subs = node.field_children("subscript")
                if len(subs) == 1 and subs[0].kind() == "string":
                    return f"{lib}.Series"
                if len(subs) == 1 and subs[0].kind() == "list":
                    return f"{lib}.DataFrame"
                return f"{lib}.obj"
            if part == "Series" and self._scalar_keys(keys, offset):
                return None  # `s[0]`, `s["x"]`
            if part in ("Series", "obj"):
                return f"{lib}.obj"
            if part == "GroupBy":
                return f"{lib}.GroupBy"
        if base.startswith("tuple[") and base.endswith("]"):
            return None
        if base == "numpy.ndarray":
            return None  # may be a scalar
        return None

    def _scalar_keys(self, keys: list[SgNode], offset: int) -> bool:
        """Every key is a literal or a loop variable: the subscript selects single labels."""
        def scalar(key: SgNode) -> bool:
            kind = key.kind()
            if kind in ("integer", "float", "string", "true", "false"):
                return True
            if kind == "unary_operator":
                arg = key.field("argument")
                return arg is not None and arg.kind() in ("integer", "float")
            if kind == "identifier":
                binding = self.binding_at(key.text(), key.range().start.line + offset)
                return binding is not None and binding.type == "loop"
            return False
        return bool(keys) and all(scalar(k) for k in keys)

    def name_type(self, name: str, line: int, depth: int = 0) -> str | None:
        binding = self.binding_at(name, line)
        if binding is None:
            if name in self.facts.imports:
                return "module:" + self.facts.imports[name]
            if _DF_NAME.match(name) and not self.facts.uses("dask") and name not in self.facts.bindings:
                return "pandas.DataFrame"
            return None
        btype = binding.type
        if btype is not None and btype.startswith("ann:"):
            annotated = _annotation_type(btype[4:], self.facts)
            if annotated:
                return annotated
            btype = "param" if binding.value is None else None
        if btype == "param":
            if _DF_NAME.match(name) and not self.facts.uses("dask"):
                return "pandas.DataFrame"
            return None
        if btype is not None:
            return None if btype in ("loop", "def") else btype
        if binding.value is None:
            return None
        t = self.type_of(binding.value, binding.offset, depth + 1)
        if binding.index is not None:
            return _tuple_item(t, binding.index)
        return t

    def binding_at(self, name: str, line: int) -> Binding | None:
        """The assignment that feeds `name` at `line`: the last one before it in the same scope."""
        bindings = self.facts.bindings
        candidates = (bindings.lookup(name) if isinstance(bindings, FileBindings)
                      else bindings.get(name))
        if not candidates:
            return None
        lines = self._lines.get(name)
        if lines is None:
            lines = self._lines[name] = [b.line for b in candidates]
        for i in range(bisect_right(lines, line) - 1, -1, -1):
            b = candidates[i]
            if b.scope is not None and not (b.scope[0] <= line <= b.scope[1]):
                continue  # a local of another function
            if b.line < line or (b.line == line and b.type == "param"):
                return b
        # Used before any assignment: e.g. a function defined above the global it reads.
        self.reads.note((FALLBACK, name))
        return next((b for b in candidates if b.scope is None), None)


def _tuple_item(t: str | None, index: int) -> str | None:
    if t and t.startswith("tuple[") and t.endswith("]"):
        items = t[6:-1].split(",")
        return items[index] if index < len(items) else None
    return None


def _frame_union(t: str) -> str:
    lib, _, kind = t.partition(".")
    if lib in ("pandas", "dask") and kind in ("DataFrame", "Series", "obj"):
        return f"{lib}.obj"
    return t
