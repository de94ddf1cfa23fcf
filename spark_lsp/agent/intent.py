"""Intent: what the developer is doing around a position, read from the code alone.

Libraries imported (and the versions installed here), the objects in play with what they hold
(a pandas vs Dask vs NumPy value, a fitted estimator, a Keras model…), the calls being made,
nearby comments, the finding there if any, and a task label. Plain data; no LSP, no database.
"""

from __future__ import annotations

import io
import keyword
import re
import sys
import tokenize
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from spark_lsp.analysis.context import FileContext
from spark_lsp.analysis.findings import Finding

WINDOW_BEFORE = 6  # lines of context above the position
WINDOW_AFTER = 3
MAX_WINDOW_LINES = 40

# import name -> the name `installed_versions()` uses
_LIB_ALIASES = {"sklearn": "sklearn", "tf": "tensorflow", "yaml": "yaml"}

TASKS: dict[str, tuple[str, ...]] = {
    "loading": ("read_csv", "read_parquet", "read_excel", "read_json", "read_sql", "load",
                "loadtxt", "genfromtxt", "open", "from_pandas", "read_table", "dataloader",
                "dataset", "load_dataset", "read"),
    "cleaning": ("dropna", "fillna", "isna", "isnull", "notna", "replace", "astype",
                 "drop_duplicates", "strip", "clip", "interpolate", "to_datetime", "to_numeric",
                 "rename", "drop", "where", "mask", "missing", "nan", "clean", "duplicate"),
    "aggregation": ("groupby", "agg", "aggregate", "pivot_table", "resample", "rolling",
                    "value_counts", "sum", "mean", "count", "nunique", "cumsum", "transform",
                    "group", "aggregate", "average", "total"),
    "reshaping": ("merge", "concat", "join", "melt", "pivot", "stack", "unstack", "explode",
                  "reshape", "transpose", "append", "combine", "wide", "long"),
    "indexing": ("loc", "iloc", "at", "iat", "query", "set_index", "reset_index", "sort_values",
                 "sort_index", "argsort", "argmax", "argmin", "nonzero", "index", "select",
                 "filter", "row", "rows", "column", "columns"),
    "plotting": ("plot", "plt", "hist", "scatter", "imshow", "subplots", "figure", "bar",
                 "legend", "xlabel", "ylabel", "title", "savefig", "show", "seaborn", "sns",
                 "axes", "colorbar", "tick", "xticks", "yticks", "chart"),
    "training": ("fit", "fit_transform", "compile", "train", "backward", "optimizer", "step",
                 "epochs", "loss", "zero_grad", "partial_fit", "gridsearchcv", "model"),
    "evaluation": ("predict", "score", "accuracy_score", "cross_val_score", "evaluate",
                   "confusion_matrix", "classification_report", "roc_auc_score", "metrics",
                   "predict_proba", "f1_score", "mean_squared_error", "accuracy"),
    "io": ("to_csv", "to_parquet", "to_excel", "to_json", "save", "savez", "dump", "write",
           "to_pickle", "export"),
    "numerics": ("linalg", "dot", "matmul", "einsum", "solve", "integrate", "optimize",
                 "interp", "fft", "stats", "norm", "eig", "sparse", "array", "tensor",
                 "zeros", "ones", "arange", "linspace", "random", "matrix", "vector"),
}
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KEY_STRING = re.compile(r"""\[\s*(?P<q>["'])(?P<name>[^"'\n]{1,60})(?P=q)\s*[\],]""")


@dataclass
class ObjectInPlay:
    name: str
    type: str  # e.g. pandas.DataFrame, dask.DataFrame, numpy.ndarray, sklearn.Estimator
    library: str


@dataclass
class Intent:
    """What the agent believes the developer is doing at one place (or asks about)."""

    window: str  # the code looked at (empty for a question without code)
    first_line: int = 0  # 0-based line of the window's first line in the file
    position_line: int | None = None  # 0-based line asked about
    question: str = ""
    libraries: dict[str, str | None] = field(default_factory=dict)  # import -> version|None
    objects: list[ObjectInPlay] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)  # qualified where known: pandas.DataFrame.x
    comments: list[str] = field(default_factory=list)
    finding: Finding | None = None
    task: str = "general"
    names: list[str] = field(default_factory=list)  # the user's identifiers, in order
    columns: list[str] = field(default_factory=list)  # string keys: df["price"] -> price
    path: str = ""

    @property
    def primary_library(self) -> str | None:
        counted = Counter(o.library for o in self.objects)
        counted.update(c.split(".")[0] for c in self.calls if "." in c)
        ranked = [lib for lib, _ in counted.most_common() if lib in self.libraries]
        if ranked:
            return ranked[0]
        mentioned = _library_in_text(self.question)
        if mentioned:
            return mentioned
        return next(iter(self.libraries), None)

    @property
    def unknown_libraries(self) -> list[str]:
        return [lib for lib, v in self.libraries.items() if v is None]

    def summary(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "libraries": dict(self.libraries),
            "objects": [asdict(o) for o in self.objects],
            "calls": list(self.calls),
            "comments": list(self.comments),
            "finding": self.finding.code if self.finding else None,
        }


_LIBRARY_WORDS = {
    "pandas": "pandas", "dataframe": "pandas", "numpy": "numpy", "array": "numpy",
    "matplotlib": "matplotlib", "pyplot": "matplotlib", "plot": "matplotlib",
    "sklearn": "sklearn", "scikit-learn": "sklearn", "scikit": "sklearn", "scipy": "scipy",
    "torch": "torch", "pytorch": "torch", "tensor": "torch", "tensorflow": "tensorflow",
    "keras": "keras", "dask": "dask", "polars": "polars",
}


def _library_in_text(text: str) -> str | None:
    words = [w.lower() for w in re.findall(r"[A-Za-z][\w-]*", text)]
    for w in words:  # an explicit library name wins over a hint like "array"
        if w in _LIBRARY_WORDS and w not in ("array", "plot", "tensor", "dataframe"):
            return _LIBRARY_WORDS[w]
    for w in words:
        if w in _LIBRARY_WORDS:
            return _LIBRARY_WORDS[w]
    return None


def _comments(window: str) -> list[str]:
    found: list[str] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(window).readline):
            if tok.type == tokenize.COMMENT:
                text = tok.string.lstrip("#").strip()
                if text and not text.lower().startswith(("spark:", "noqa", "type:")):
                    found.append(text)
            elif tok.type == tokenize.STRING and tok.string.lstrip("rbuRBU").startswith(
                    ('"""', "'''")):
                found.append(tok.string.strip("rbuRBU\"'").strip().split("\n")[0])
    except (tokenize.TokenError, IndentationError, SyntaxError):
        # half-typed code: fall back to lines that start with `#`
        found += [ln.strip().lstrip("#").strip() for ln in window.splitlines()
                  if ln.strip().startswith("#") and ln.strip().lstrip("#").strip()]
    return found[:8]


def _names(window: str) -> list[str]:
    """Identifiers of the window that the user chose (not keywords, not attributes)."""
    seen: dict[str, None] = {}
    code = _strip_strings_and_comments(window)
    for m in _WORD.finditer(code):
        word = m.group(0)
        before = code[:m.start()].rstrip()
        if before.endswith(".") or keyword.iskeyword(word) or word in dir(__builtins__):
            continue
        seen.setdefault(word, None)
    return list(seen)


def _strip_strings_and_comments(text: str) -> str:
    text = re.sub(r"#[^\n]*", "", text)
    return re.sub(r"(?s)(\"\"\".*?\"\"\"|'''.*?'''|\"[^\"\n]*\"|'[^'\n]*')", '""', text)


def task_label(words: list[str]) -> str:
    """The task most of these call names and words point to ("general" when none do)."""
    scores: Counter[str] = Counter()
    for w in words:
        lw = w.lower()
        for task, keys in TASKS.items():
            if lw in keys:
                scores[task] += 1
    if not scores:
        return "general"
    return sorted(scores.items(), key=lambda kv: (-kv[1], list(TASKS).index(kv[0])))[0][0]


def _library_versions(ctx: FileContext, versions: dict[str, str]) -> dict[str, str | None]:
    libs: dict[str, str | None] = {}
    for qual in ctx.facts.imports.values():
        top = qual.split(".")[0]
        if top in sys.stdlib_module_names:  # always there: no version to check, no docs
            continue
        lib = _LIB_ALIASES.get(top, top)
        libs.setdefault(lib, versions.get(lib))
    return libs


def _calls_and_objects(ctx: FileContext, first: int, last: int
                       ) -> tuple[list[str], list[ObjectInPlay]]:
    calls: dict[str, None] = {}
    objects: dict[str, ObjectInPlay] = {}
    for block in ctx.blocks:
        end = block.start_line + block.text.count("\n")
        if end < first or block.start_line > last:
            continue
        from spark_lsp.analysis.source import parse_block

        root = parse_block(block.text)
        off = block.start_line
        for node in root.find_all(kind="identifier"):
            line = node.range().start.line + off
            if not first <= line <= last:
                continue
            parent = node.parent()
            if parent is not None and parent.kind() == "attribute" and \
                    parent.field("attribute") == node:
                continue
            name = node.text()
            if name in objects:
                continue
            t = ctx.type_of(node, off)
            if t and not t.startswith("module:") and "." in t:
                objects[name] = ObjectInPlay(name, t, t.split(".")[0])
        for call in root.find_all(kind="call"):
            line = call.range().start.line + off
            if not first <= line <= last:
                continue
            qual = ctx.infer.call_qualname(call)
            func = call.field("function")
            if func is not None and func.kind() == "attribute":
                obj, attr = func.field("object"), func.field("attribute")
                if obj is not None and attr is not None:
                    t = ctx.type_of(obj, off)
                    if t and not t.startswith("module:") and "." in t:
                        qual = f"{t}.{attr.text()}"
                    elif qual is None:
                        qual = attr.text()
            elif qual is None and func is not None:
                qual = func.text()
            if qual:
                calls.setdefault(qual, None)
    return list(calls)[:30], list(objects.values())[:20]


def infer_intent(text: str, line: int | None = None, end_line: int | None = None, *,
                 versions: dict[str, str] | None = None, finding: Finding | None = None,
                 question: str = "", path: str = "", ctx: FileContext | None = None) -> Intent:
    """The intent at lines [line, end_line] of `text` (the whole text when `line` is None).

    Tolerant of half-typed code: the parse is tree-sitter's, which recovers around errors.
    """
    versions = versions or {}
    ctx = ctx or FileContext.from_text(text)
    lines = ctx.lines
    if line is None:
        first, last = 0, max(0, len(lines) - 1)
        focus_first, focus_last = first, last
        if len(lines) > MAX_WINDOW_LINES:  # a question with a long snippet: look at the end
            first = focus_first = len(lines) - MAX_WINDOW_LINES
    else:
        line = max(0, min(line, max(0, len(lines) - 1)))
        end = line if end_line is None else max(line, min(end_line, len(lines) - 1))
        focus_first, focus_last = line, end
        first = max(0, line - WINDOW_BEFORE)
        last = min(len(lines) - 1, end + WINDOW_AFTER, first + MAX_WINDOW_LINES)
    window = "\n".join(lines[first:last + 1])
    calls, objects = _calls_and_objects(ctx, first, last)
    focus = "\n".join(lines[focus_first:focus_last + 1])
    libs = _library_versions(ctx, versions)
    asked = _library_in_text(question)
    if asked and asked not in libs:
        libs[asked] = versions.get(asked)
    # the lines asked about count twice as much as their surroundings
    focus_words = _WORD.findall(_strip_strings_and_comments(focus))
    words = [c.rsplit(".", 1)[-1] for c in calls] + re.findall(r"[A-Za-z_]+", question) * 3 + \
        focus_words * 2
    comments = _comments(window)
    for c in comments:
        words += re.findall(r"[A-Za-z_]+", c)
    return Intent(
        window=window, first_line=first, position_line=line, question=question.strip(),
        libraries=libs, objects=objects, calls=calls, comments=comments, finding=finding,
        task=task_label(words), names=_names(focus) or _names(window),
        columns=list(dict.fromkeys(m.group("name") for m in _KEY_STRING.finditer(window)))[:12],
        path=path,
    )
