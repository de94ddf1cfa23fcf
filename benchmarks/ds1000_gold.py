"""Gold APIs of a DS-1000 problem: the library objects its reference solution uses.

How a name in the reference code becomes a fully qualified, documented object:

1. Imports of the setup code and the solution (`import pandas as pd`, `from scipy import stats`)
   plus the usual aliases (`pd`, `np`, `plt`, `tf`, `torch`) map names to modules.
2. A dotted call or attribute whose head is such a name resolves directly:
   `pd.concat` -> `pandas.concat`, `stats.ranksums` -> `scipy.stats.ranksums`,
   `LinearSVC(...)` -> `sklearn.svm.LinearSVC`.
3. A method on a value of known type resolves to that type's member: types come from assignments
   (`a = np.array(...)` -> `numpy.ndarray`, `svc = LinearSVC(...)` -> the class, factories such as
   `pd.read_csv` -> `pandas.DataFrame` from Spark's analysis), and `df`-like names unbound in the
   setup are pandas DataFrames (DS-1000's convention). `df[...]` may be a frame or a series: both.
4. A method on a value whose library is known but not its type (`df.groupby(...).agg`,
   `torch.max(...).values`) is a *group*: every documented member of that library with that name
   (`pandas.DataFrame.agg`, `pandas.Series.agg`, `pandas.api.typing.DataFrameGroupBy.agg`, ...);
   retrieving any member of the group hits it. Groups of more than 40 names are dropped.
   A call takes the members that are called (methods and functions, and namespaces such as
   `DataFrame.plot`), a plain read the properties: `df2.index` is `DataFrame.index`, never
   `Series.str.index`, the string method that happens to share its name.
   SciPy, scikit-learn and Matplotlib functions mostly return NumPy arrays, so the group of a
   method on their results takes in NumPy's members of that name too (`rankdata(a).astype(int)`
   calls `numpy.ndarray.astype`, not one of SciPy's sparse arrays' `astype`).
5. The `g(df.copy())` wrapper DS-1000 puts around many solutions is scaffolding: its `copy`
   is not gold.
6. Names are resolved against the knowledge base (canonical names and aliases); builtins and
   anything not documented there are dropped. Each gold entry is a set of acceptable objects.
7. Modules are namespaces, not APIs: `plt.plot(...)` makes `pyplot.plot` gold, not `pyplot`
   itself (and `from sklearn import preprocessing` does not make the module gold either). So
   are a class or an accessor that a member is reached through: `s.str.split()` makes
   `Series.str.split` gold, not `Series.str`, and `pd.DataFrame.from_dict(...)` not `DataFrame`
   (`s.str[0]` and `pd.DataFrame(...)` use them, and they are gold there).
8. A conventional alias (`F` for torch.nn.functional) applies only where the code does not bind
   that name itself (`F = {}` in a pandas solution is a dict).
"""

from __future__ import annotations

import ast
import re
import textwrap

from spark_lsp.analysis.types import factory_type
from spark_lsp.kb.symbols import TYPE_NAMES

CONVENTIONAL = {"pd": "pandas", "np": "numpy", "plt": "matplotlib.pyplot", "tf": "tensorflow",
                "torch": "torch", "nn": "torch.nn", "F": "torch.nn.functional", "sns": "seaborn",
                "mpl": "matplotlib", "scipy": "scipy", "sklearn": "sklearn", "keras": "keras",
                "sp": "scipy"}
_DF_NAME = re.compile(r"^(df\d*|df_\w+|\w+_df\d*)$")
MAX_GROUP = 40
ARRAY_RESULTS = {"scipy", "sklearn", "matplotlib"}  # libraries whose results are NumPy arrays


def question_text(prompt: str) -> str:
    """The question: prose (and pasted data) before `A:`; for prompts that are code with a
    comment as the task (Matplotlib), the comment lines."""
    head = prompt.split("\nA:", 1)[0] if "\nA:" in prompt else None
    if head is not None:
        return head.replace("Problem:", "", 1).strip()
    comments = [line.lstrip("# ").strip() for line in prompt.splitlines()
                if line.strip().startswith("#") and "SOLUTION" not in line]
    return "\n".join(c for c in comments if c) or prompt


def setup_code(prompt: str) -> str:
    body = prompt.split("BEGIN SOLUTION")[0]
    blocks = re.findall(r"<code>\n?(.*?)</code>", body, flags=re.DOTALL)
    if blocks:
        return blocks[-1]
    if "\nA:" in prompt:
        tail = prompt.split("\nA:", 1)[1]
        return tail.split("BEGIN SOLUTION")[0].replace("<code>", "")
    return prompt


def _parse(code: str) -> ast.Module | None:
    for attempt in (code, textwrap.dedent(code), "def _f():\n" + textwrap.indent(
            textwrap.dedent(code), "    ")):
        try:
            return ast.parse(attempt)
        except (SyntaxError, ValueError):
            continue
    return None


def _imports(tree: ast.Module | None, names: dict[str, str]) -> None:
    if tree is None:
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                names[a.asname or a.name.split(".")[0]] = a.name if a.asname else \
                    a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                names[a.asname or a.name] = f"{node.module}.{a.name}"


def _bound(tree: ast.Module | None) -> set[str]:
    """Names the code binds itself: assignment and loop targets, parameters, definitions."""
    if tree is None:
        return set()
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            found.add(node.id)
        elif isinstance(node, ast.arg):
            found.add(node.arg)
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            found.add(node.name)
    return found


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return f"{head}.{node.attr}" if head else None
    return None


class GoldResolver:
    """Resolves names of DS-1000 code to documented objects of the knowledge base."""

    def __init__(self, objects: dict[str, str], kinds: dict[str, str]) -> None:
        self.objects = objects  # any public name (canonical or alias) -> canonical object
        self.kinds = kinds  # canonical -> kind
        self.members: dict[tuple[str, str], set[str]] = {}  # (library, member) -> objects
        for canonical, kind in kinds.items():
            if kind in ("method", "property") and "." in canonical:
                lib, member = canonical.split(".")[0], canonical.rsplit(".", 1)[1]
                self.members.setdefault((lib, member), set()).add(canonical)
        # classes and accessors (`pandas.Series.str`) with documented members below them
        parents = {c.rsplit(".", 1)[0] for c in kinds if "." in c}
        self.namespaces = {c for c in parents if kinds.get(c) in ("class", "property")}

    def canonical(self, name: str) -> str | None:
        return self.objects.get(name)

    def _fits(self, obj: str, called: bool) -> bool:
        """A call takes what can be called (methods, functions, and namespaces such as
        `DataFrame.plot`), a plain read the properties."""
        if called:
            return self.kinds[obj] != "property" or obj in self.namespaces
        return self.kinds[obj] == "property"

    def _types(self, tree: ast.Module | None, names: dict[str, str]) -> dict[str, set[str]]:
        types: dict[str, set[str]] = {}
        if tree is None:
            return types
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and \
                    isinstance(node.targets[0], ast.Name) and isinstance(node.value, ast.Call):
                t = self._call_type(node.value, names, types)
                if t:
                    types[node.targets[0].id] = t
        return types

    def _qualify(self, dotted: str, names: dict[str, str]) -> str | None:
        head, _, rest = dotted.partition(".")
        base = names.get(head)
        if base is None:
            return None
        return f"{base}.{rest}" if rest else base

    def _call_type(self, call: ast.Call, names: dict[str, str],
                   types: dict[str, set[str]]) -> set[str]:
        dotted = _dotted(call.func)
        q = self._qualify(dotted, names) if dotted else None
        if q is None:
            return set()
        canon = self.canonical(q)
        if canon and self.kinds.get(canon) == "class":
            return {canon}
        short = factory_type(q)
        if short:
            return set(TYPE_NAMES.get(short, (short,)))
        return set()

    def gold(self, setup: str, reference: str) -> list[set[str]]:
        setup_tree, ref_tree = _parse(setup), _parse(reference)
        bound = _bound(setup_tree) | _bound(ref_tree)
        names = {alias: module for alias, module in CONVENTIONAL.items() if alias not in bound}
        _imports(setup_tree, names)
        _imports(ref_tree, names)
        types = self._types(setup_tree, names)
        types.update(self._types(ref_tree, names))
        groups: list[set[str]] = []
        if ref_tree is None:
            return groups

        def add(group: set[str], through: bool = False) -> None:
            group = {g for g in group if g in self.kinds and self.kinds[g] != "module"
                     and not (through and g in self.namespaces)}
            if group and len(group) <= MAX_GROUP and group not in groups:
                groups.append(group)

        def library_of(node: ast.AST) -> tuple[set[str], str | None]:
            """(possible types, library) of an expression."""
            if isinstance(node, ast.Name):
                if node.id in types:
                    t = types[node.id]
                    return t, next(iter(t)).split(".")[0]
                if _DF_NAME.match(node.id) and node.id not in names:
                    return {"pandas.DataFrame"}, "pandas"
                return set(), None
            if isinstance(node, ast.Subscript):
                t, lib = library_of(node.value)
                if "pandas.DataFrame" in t:
                    return {"pandas.DataFrame", "pandas.Series"}, "pandas"
                return set(), lib
            if isinstance(node, ast.Call):
                t = self._call_type(node, names, types)
                if t:
                    return t, next(iter(t)).split(".")[0]
                dotted = _dotted(node.func)
                q = self._qualify(dotted, names) if dotted else None
                if q:
                    return set(), q.split(".")[0]
                if isinstance(node.func, ast.Attribute):
                    return set(), library_of(node.func.value)[1]
            if isinstance(node, ast.Attribute):
                dotted = _dotted(node)
                q = self._qualify(dotted, names) if dotted else None
                if q:
                    return set(), q.split(".")[0]
                return set(), library_of(node.value)[1]
            return set(), None

        # DS-1000 wraps many solutions as `def g(df): ...` + `result = g(df.copy())`: that copy
        # is the benchmark's scaffolding, not part of the solution.
        local_functions = {n.name for n in ast.walk(ref_tree) if isinstance(n, ast.FunctionDef)}
        scaffolding = {id(arg) for n in ast.walk(ref_tree) if isinstance(n, ast.Call)
                       and isinstance(n.func, ast.Name) and n.func.id in local_functions
                       for arg in n.args if isinstance(arg, ast.Call)
                       and isinstance(arg.func, ast.Attribute) and arg.func.attr == "copy"}
        scaffolding |= {id(n.func) for n in ast.walk(ref_tree) if id(n) in scaffolding}
        called = {id(n.func) for n in ast.walk(ref_tree) if isinstance(n, ast.Call)}
        through = {id(n.value) for n in ast.walk(ref_tree) if isinstance(n, ast.Attribute)}
        for node in ast.walk(ref_tree):
            if not isinstance(node, ast.Attribute | ast.Call | ast.Name) or \
                    id(node) in scaffolding or id(node) in called:  # the call is the use
                continue
            target = node.func if isinstance(node, ast.Call) else node
            via = id(node) in through
            dotted = _dotted(target)
            q = self._qualify(dotted, names) if dotted else None
            if q and "." in q or (q and isinstance(node, ast.Call)):
                canon = self.canonical(q)
                if canon:
                    add({canon}, via)
                    continue
            if isinstance(target, ast.Attribute) and (isinstance(node, ast.Call) or
                                                      q is None):
                owner_types, lib = library_of(target.value)
                member = target.attr
                found = {self.canonical(f"{t}.{member}") for t in owner_types}
                found.discard(None)
                if found:
                    add({f for f in found if f}, via)
                elif lib is not None:
                    group = self.members.get((lib, member), set())
                    if lib in ARRAY_RESULTS:
                        group = group | self.members.get(("numpy", member), set())
                    add({g for g in group if self._fits(g, isinstance(node, ast.Call))}, via)
        return groups
