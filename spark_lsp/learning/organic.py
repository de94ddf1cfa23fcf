"""Organic experience from the editor: a library call the user rewrote into a different one.

`library_call_edit(before, after, text)` compares two versions of a few statements (Python's
`ast`, one statement at a time) and answers whether the one statement that changed replaced a
call of a library (`pd.read_csv(...)`, `vec.get_feature_names()` where `vec` was built by an
imported class) with a *different* call: another function or method, keyword names added,
removed or renamed, or a different number of positional arguments. A change of argument values
alone (`head(5)` -> `head(10)`, another file name) is the user's data, not a practice, and is
not experience. `spark learn` then decides whether the rewrite recurs (support from several
people) before anything becomes a card.

Everything here is bounded: only the changed statements are parsed, and of the document only the
imports and assignments that mention the call's first name are read.
"""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

MAX_STATEMENT_LINES = 12  # a bigger change is a paste or a refactoring, not a call rewritten
MAX_CONTEXT_LINES = 3  # lines added above/below the change until both sides parse
# Top-level packages whose calls are experience; the name cards use for them.
LIBRARIES = {"sklearn": "sklearn", "pandas": "pandas", "numpy": "numpy", "scipy": "scipy",
             "matplotlib": "matplotlib", "torch": "torch", "tensorflow": "tensorflow",
             "keras": "keras", "dask": "dask", "polars": "polars", "seaborn": "seaborn",
             "statsmodels": "statsmodels", "xgboost": "xgboost", "lightgbm": "lightgbm",
             "yaml": "yaml", "requests": "requests", "joblib": "joblib", "pickle": "pickle",
             "json": "json", "transformers": "transformers", "plotly": "plotly"}
_IMPORT = re.compile(r"^\s*(?:import\s+(?P<mods>[\w., ]+?(?:\s+as\s+\w+)?(?:\s*,\s*[\w.]+"
                     r"(?:\s+as\s+\w+)?)*)|from\s+(?P<pkg>[\w.]+)\s+import\s+(?P<names>.+))\s*$")
_IMPORT_LINE = re.compile(r"^[ \t]*(?:import|from)[ \t].*$", re.MULTILINE)
_ASSIGN = re.compile(r"^\s*(?P<name>[A-Za-z_]\w*)\s*(?::[^=]+)?=\s*(?P<value>[A-Za-z_][\w.]*)")


@dataclass(frozen=True)
class CallEdit:
    """One library call rewritten: the statements before and after (dedented), the call on
    each side, and the library it belongs to."""

    before: str
    after: str
    call_before: str
    call_after: str
    library: str
    line: int  # 0-based first line of `before` in the document it came from


def document_names(text: str) -> dict[str, str]:
    """name -> library, for the names a document binds to a library: imports (`pd` ->
    pandas, `AgglomerativeClustering` -> sklearn) and simple assignments from them
    (`df = pd.read_csv(...)`, `vec = TfidfVectorizer()`). One pass over the lines."""
    names: dict[str, str] = {}
    assigned: list[tuple[str, str]] = []
    for line in text.splitlines():
        stripped = line.lstrip()
        if stripped.startswith(("import ", "from ")):
            m = _IMPORT.match(line)
            if m is None:
                continue
            if m.group("mods"):
                for part in m.group("mods").split(","):
                    words = part.split()
                    if not words:
                        continue
                    lib = LIBRARIES.get(words[0].split(".")[0])
                    if lib:
                        alias = words[-1] if len(words) == 3 and words[1] == "as" else \
                            words[0].split(".")[0]
                        names[alias] = lib
            else:
                lib = LIBRARIES.get(m.group("pkg").split(".")[0])
                if lib:
                    for part in m.group("names").strip("()\\ ").split(","):
                        words = part.split()
                        if words and words[0] != "*":
                            names[words[-1] if len(words) == 3 else words[0]] = lib
            continue
        m = _ASSIGN.match(line)
        if m is not None:
            assigned.append((m.group("name"), m.group("value").split(".")[0]))
    for name, head in assigned:  # in order: `df = pd.read_csv(...)`, then `d2 = df.copy()`
        if head in names and name not in names:
            names[name] = names[head]
    return names


def library_of_name(text: str, name: str, depth: int = 3) -> str | None:
    """The library `name` is bound to in `text` (as `document_names` says), reading only the
    imports and assignments that mention it: the verdict on an edit stays cheap on big files."""
    imports = [line for line in _IMPORT_LINE.findall(text) if name in line]
    assignments = re.findall(rf"^[ \t]*{re.escape(name)}[ \t]*(?::[^=\n]+)?=(?!=).*$", text,
                             re.MULTILINE)
    found = document_names("\n".join(imports)).get(name)
    if found is not None or depth <= 0:
        return found
    for line in assignments:  # `vec = TfidfVectorizer()`: the head's import is elsewhere
        m = _ASSIGN.match(line)
        if m is not None and m.group("name") == name:
            head = m.group("value").split(".")[0]
            if head != name:
                found = library_of_name(text, head, depth - 1)
                if found is not None:
                    return found
    return None


def _root(node: ast.expr) -> str | None:
    """The name a callee starts from: `pd` in `pd.DataFrame(x).groupby`."""
    while True:
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, ast.Attribute):
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Subscript):
            node = node.value
        else:
            return None


def _shape(call: ast.Call) -> tuple[str, tuple[str | None, ...], int]:
    return ast.dump(call.func), tuple(sorted(k.arg or "**" for k in call.keywords)), len(call.args)


def _fields(node: ast.AST) -> Iterator[tuple[str, object]]:
    for name, value in ast.iter_fields(node):
        if name not in ("ctx", "type_comment"):
            yield name, value


def _differing_path(a: ast.AST, b: ast.AST) -> list[tuple[ast.AST, ast.AST]]:
    """Pairs of corresponding nodes from `a`/`b` down to the smallest one that differs (each
    step: the only field or list element that differs)."""
    path = [(a, b)]
    while type(a) is type(b):
        diff: list[tuple[ast.AST, ast.AST]] = []
        shallow = False  # a differing field that is not a node (a name, a constant, a length)
        for (_, va), (_, vb) in zip(_fields(a), _fields(b)):
            if isinstance(va, ast.AST) and isinstance(vb, ast.AST):
                if ast.dump(va) != ast.dump(vb):
                    diff.append((va, vb))
            elif isinstance(va, list) and isinstance(vb, list) and len(va) == len(vb):
                for x, y in zip(va, vb):
                    if isinstance(x, ast.AST) and isinstance(y, ast.AST):
                        if ast.dump(x) != ast.dump(y):
                            diff.append((x, y))
                    elif x != y:
                        shallow = True
            elif va != vb:
                shallow = True
        if shallow or len(diff) != 1:
            break
        a, b = diff[0]
        path.append((a, b))
    return path


def _statements(text: str) -> list[ast.stmt] | None:
    try:
        return ast.parse(textwrap.dedent(text)).body
    except (SyntaxError, ValueError):
        return None


def statement_call_edit(before: str, after: str,
                        names: Mapping[str, str] | Callable[[str], str | None]
                        ) -> tuple[str, str, str] | None:
    """(call before, call after, library) when the one statement that differs between `before`
    and `after` rewrote a library call into a different call; None otherwise. `names` maps a
    name to its library (a mapping, or a function)."""
    sb, sa = _statements(before), _statements(after)
    if not sb or not sa or len(sb) != len(sa):
        return None
    changed = [(x, y) for x, y in zip(sb, sa) if ast.dump(x) != ast.dump(y)]
    if len(changed) != 1:
        return None
    path = _differing_path(*changed[0])
    for x, y in reversed(path):  # the innermost call around the change
        if isinstance(x, ast.Call):
            if not isinstance(y, ast.Call) or _shape(x) == _shape(y):
                return None  # replaced by something else, or only argument values changed
            root = _root(x.func)
            if root is None:
                return None
            library = names.get(root) if isinstance(names, Mapping) else names(root)
            if library is None:
                return None
            return ast.unparse(x), ast.unparse(y), library
    return None


def library_call_edit(old_text: str, old_range: tuple[int, int], new_text: str,
                      new_range: tuple[int, int]) -> CallEdit | None:
    """The library call rewritten between two versions of a document, where lines
    `old_range` ([start, end)) of `old_text` became `new_range` of `new_text` and everything
    else is the same. Context lines are added until both sides parse (at most a few)."""
    old_lines, new_lines = old_text.splitlines(), new_text.splitlines()
    (os_, oe), (ns, ne) = old_range, new_range
    if oe <= os_ or ne <= ns or oe - os_ > MAX_STATEMENT_LINES or ne - ns > MAX_STATEMENT_LINES:
        return None
    memo: dict[str, str | None] = {}

    def library_of(name: str) -> str | None:
        if name not in memo:
            memo[name] = library_of_name(new_text, name)
        return memo[name]

    # The smallest window that parses on both sides and holds a call edit: a line inside a
    # bracket may parse on its own (`affinity="x",` is a tuple) without being the statement.
    for up, down in sorted(((u, d) for u in range(MAX_CONTEXT_LINES + 1)
                            for d in range(MAX_CONTEXT_LINES + 1)), key=sum):
        if os_ - up < 0 or oe + down > len(old_lines) or ne + down > len(new_lines):
            continue
        before = "\n".join(old_lines[os_ - up:oe + down])
        after = "\n".join(new_lines[ns - up:ne + down])
        if _statements(before) is None or _statements(after) is None:
            continue
        found = statement_call_edit(before, after, library_of)
        if found is None:
            continue
        call_before, call_after, library = found
        return CallEdit(textwrap.dedent(before).strip("\n"), textwrap.dedent(after).strip("\n"),
                        call_before, call_after, library, os_ - up)
    return None
