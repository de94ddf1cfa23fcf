"""Row-wise `DataFrame.apply(f, axis=1)`, and turning an expression over one row into columns.

`RowExpression` renders `row["a"] * row["b"] > 3` as `df["a"] * df["b"] > 3` when every part has
an exact column-wise meaning (arithmetic, single comparisons, `and`/`or`/`not` over booleans,
elementwise NumPy functions); the loop detectors use it to tell a vectorizable loop body from
one that calls arbitrary code per row.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ast_grep_py import SgNode

from spark_lsp.analysis.context import FileContext
from spark_lsp.analysis.detectors import DetectorMatch, detector
from spark_lsp.analysis.detectors._nodes import keyword, positional
from spark_lsp.analysis.types import type_matches

# Names that are Series/DataFrame members, so `row.<name>` is not (only) a column.
_MEMBER_NAMES = frozenset({
    "T", "abs", "add", "agg", "align", "all", "any", "apply", "array", "at", "attrs", "axes",
    "between", "clip", "columns", "combine", "copy", "corr", "count", "cov", "cummax", "cummin",
    "cumprod", "cumsum", "describe", "diff", "div", "divide", "dot", "drop", "dropna", "dt",
    "dtype", "dtypes", "duplicated", "empty", "eq", "equals", "explode", "ffill", "bfill",
    "fillna", "filter", "first", "flags", "ge", "get", "groupby", "gt", "head", "hist", "iat",
    "idxmax", "idxmin", "iloc", "index", "info", "interpolate", "isin", "isna", "isnull", "item",
    "items", "keys", "kurt", "last", "le", "loc", "lt", "map", "mask", "max", "mean", "median",
    "memory_usage", "min", "mod", "mode", "mul", "multiply", "name", "nbytes", "ndim", "ne",
    "nlargest", "notna", "notnull", "nsmallest", "nunique", "pct_change", "pipe", "plot", "pop",
    "pow", "prod", "product", "quantile", "query", "rank", "reindex", "rename", "replace",
    "round", "sample", "sem", "shape", "shift", "size", "skew", "sort_index", "sort_values",
    "squeeze", "std", "str", "style", "sub", "subtract", "sum", "tail", "take", "to_dict",
    "to_list", "to_numpy", "tolist", "transform", "truncate", "unique", "update", "value_counts",
    "values", "var", "where", "xs", "Index",
})
_ARITHMETIC = {"+", "-", "*", "/", "//", "%", "**", "&", "|", "^"}
_COMPARISONS = {"<", ">", "<=", ">=", "==", "!="}
_ELEMENTWISE_FUNCTIONS = {
    "builtins.abs", "builtins.round", "numpy.abs", "numpy.absolute", "numpy.log", "numpy.log1p",
    "numpy.log2", "numpy.log10", "numpy.exp", "numpy.expm1", "numpy.sqrt", "numpy.square",
    "numpy.floor", "numpy.ceil", "numpy.sign", "numpy.sin", "numpy.cos", "numpy.tan",
    "numpy.isnan", "numpy.maximum", "numpy.minimum",
}
_ATOMIC = {"subscript", "attribute", "call", "parenthesized_expression", "identifier", "integer",
           "float", "string", "true", "false"}


# -- expressions over one row ---------------------------------------------------------------
@dataclass
class RowExpression:
    """Turns an expression over a row variable into the same expression over the frame's columns."""

    ctx: FileContext
    offset: int
    row: str
    frame: str

    def column(self, node: SgNode) -> str | None:
        """`row["a"]` / `row.a` -> `a`'s literal (`"a"`), else None."""
        if node.kind() == "subscript":
            value, keys = node.field("value"), node.field_children("subscript")
            if (value is not None and value.text() == self.row and len(keys) == 1
                    and keys[0].kind() == "string" and not keys[0].find(kind="interpolation")):
                return keys[0].text()
        if node.kind() == "attribute":
            obj, attr = node.field("object"), node.field("attribute")
            if (obj is not None and attr is not None and obj.text() == self.row
                    and attr.text() not in _MEMBER_NAMES and not attr.text().startswith("_")):
                return f'"{attr.text()}"'
        return None

    def render(self, node: SgNode) -> str | None:
        """The column-wise expression, or None when some part has no column-wise meaning."""
        kind = node.kind()
        col = self.column(node)
        if col is not None:
            return f"{self.frame}[{col}]"
        if kind in ("integer", "float", "true", "false"):
            return node.text()
        if kind == "string":
            return None if node.find(kind="interpolation") else node.text()
        if kind == "parenthesized_expression":
            inner = node.named_children()
            body = self.render(inner[0]) if len(inner) == 1 else None
            return f"({body})" if body is not None else None
        if kind == "unary_operator":
            op, arg = node.field("operator"), node.field("argument")
            body = self.render(arg) if arg is not None else None
            return f"{op.text()}{body}" if op is not None and body is not None else None
        if kind == "binary_operator":
            left, op, right = node.field("left"), node.field("operator"), node.field("right")
            if left is None or op is None or right is None or op.text() not in _ARITHMETIC:
                return None
            lhs, rhs = self.render(left), self.render(right)
            return f"{lhs} {op.text()} {rhs}" if lhs is not None and rhs is not None else None
        if kind == "comparison_operator":
            sides = node.named_children()
            if len(sides) != 2:
                return None  # `a < b < c` has no elementwise meaning
            symbol = " ".join(c.text() for c in node.children() if not c.is_named())
            lhs, rhs = self.render(sides[0]), self.render(sides[1])
            if symbol not in _COMPARISONS or lhs is None or rhs is None:
                return None
            return f"{lhs} {symbol} {rhs}"
        if kind in ("boolean_operator", "not_operator"):
            return self._render_logic(node)
        if kind == "call":
            return self._render_call(node)
        return None

    def _render_logic(self, node: SgNode) -> str | None:
        """`a > 0 and b < 1` -> `(df["a"] > 0) & (df["b"] < 1)`: only over booleans."""
        if node.kind() == "not_operator":
            arg = node.field("argument")
            if arg is None or not _is_boolean(arg):
                return None
            body = self.render(arg)
            return f"~{_wrap(arg, body)}" if body is not None else None
        left, right, op = node.field("left"), node.field("right"), node.field("operator")
        if left is None or right is None or op is None:
            return None
        if not (_is_boolean(left) and _is_boolean(right)):
            return None
        lhs, rhs = self.render(left), self.render(right)
        if lhs is None or rhs is None:
            return None
        symbol = "&" if op.text() == "and" else "|"
        return f"{_wrap(left, lhs)} {symbol} {_wrap(right, rhs)}"

    def _render_call(self, node: SgNode) -> str | None:
        func = node.field("function")
        args_node = node.field("arguments")
        if func is None or args_node is None or args_node.kind() != "argument_list":
            return None
        if func.kind() not in ("identifier", "attribute"):
            return None
        if self.ctx.qualname_of(func, self.offset) not in _ELEMENTWISE_FUNCTIONS:
            return None
        parts = []
        for arg in args_node.named_children():
            body = self.render(arg)
            if body is None:
                return None
            parts.append(body)
        return f"{func.text()}({', '.join(parts)})"

    def uses_row(self, node: SgNode) -> bool:
        if self.column(node) is not None:
            return True
        return any(self.column(n) is not None for n in _descendants(node))


def _descendants(node: SgNode) -> Iterator[SgNode]:
    for kind in ("subscript", "attribute"):
        yield from node.find_all(kind=kind)


def _is_boolean(node: SgNode) -> bool:
    kind = node.kind()
    if kind == "parenthesized_expression":
        inner = node.named_children()
        return len(inner) == 1 and _is_boolean(inner[0])
    return kind in ("comparison_operator", "boolean_operator", "not_operator", "true", "false")


def _wrap(node: SgNode, text: str) -> str:
    """Parenthesize an operand of `&`/`|`/`~`, which bind tighter than comparisons."""
    return text if node.kind() in _ATOMIC or node.kind() == "not_operator" else f"({text})"


# -- df.apply(f, axis=1) ---------------------------------------------------------------------
@dataclass
class RowwiseApply:
    call: SgNode
    offset: int
    frame: SgNode
    vectorized: str | None  # the column-wise expression, when there is an exact one


def keyword_names(call: SgNode) -> list[str]:
    """Names of the keyword arguments of a call."""
    args = call.field("arguments")
    names = []
    for arg in args.named_children() if args is not None else []:
        name = arg.field("name") if arg.kind() == "keyword_argument" else None
        if name is not None:
            names.append(name.text())
    return names


def _is_rowwise(call: SgNode) -> bool:
    axis = keyword(call, "axis")
    if axis is None:
        args = positional(call)
        axis = args[1] if len(args) > 1 else None
    return axis is not None and axis.text() in ("1", "'columns'", '"columns"')


def rowwise_applies(ctx: FileContext) -> Iterator[RowwiseApply]:
    for block, root in ctx.roots():
        offset = block.start_line
        for call in root.find_all(kind="call"):
            func = call.field("function")
            if func is None or func.kind() != "attribute":
                continue
            frame, attr = func.field("object"), func.field("attribute")
            if frame is None or attr is None or attr.text() != "apply" or not _is_rowwise(call):
                continue
            if not type_matches(ctx.type_of(frame, offset), "pandas.DataFrame"):
                continue
            yield RowwiseApply(call, offset, frame, _vectorize_apply(ctx, call, frame, offset))


def _vectorize_apply(ctx: FileContext, call: SgNode, frame: SgNode, offset: int) -> str | None:
    args = positional(call)
    if len(args) != 1 or len(keyword_names(call)) != 1 or args[0].kind() != "lambda":
        return None  # `raw=True`, `result_type=...`, `args=...` change what the function sees
    if frame.kind() not in ("identifier", "attribute"):
        return None  # the rewrite would evaluate the receiver once per column
    params = args[0].field("parameters")
    body = args[0].field("body")
    names = params.named_children() if params is not None else []
    if body is None or len(names) != 1 or names[0].kind() != "identifier":
        return None
    expr = RowExpression(ctx, offset, names[0].text(), frame.text())
    if not expr.uses_row(body) or mentions_row_whole(body, names[0].text(), expr):
        return None
    text = expr.render(body)
    if text is None:
        return None
    return text if body.kind() in _ATOMIC or not _needs_parentheses(call) else f"({text})"


def mentions_row_whole(body: SgNode, row: str, expr: RowExpression) -> bool:
    """The row is used other than through `row["col"]`/`row.col` (e.g. `f(row)`, `row.sum()`)."""
    for ident in body.find_all(kind="identifier"):
        if ident.text() != row:
            continue
        parent = ident.parent()
        if parent is None or expr.column(parent) is None:
            return True
    return body.kind() == "identifier" and body.text() == row


def _needs_parentheses(call: SgNode) -> bool:
    parent = call.parent()
    if parent is None:
        return False
    if parent.kind() == "subscript":
        value = parent.field("value")
        return value is not None and value.range() == call.range()  # `(a + b)[mask]`
    return parent.kind() not in ("assignment", "augmented_assignment", "expression_statement",
                                 "argument_list", "keyword_argument", "return_statement",
                                 "parenthesized_expression", "list", "tuple", "pair",
                                 "expression_list", "set")


@detector("rowwise_apply_vectorizable", scope="block", words=("apply",))
def find_vectorizable_rowwise_apply(ctx: FileContext) -> Iterator[DetectorMatch]:
    """`df.apply(lambda r: r["a"] * r["b"], axis=1)` -> `df["a"] * df["b"]`."""
    for found in rowwise_applies(ctx):
        if found.vectorized is not None:
            yield DetectorMatch(found.call, found.offset,
                                {"DF": found.frame.text(), "VECTORIZED": found.vectorized})


@detector("rowwise_apply", scope="block", words=("apply",))
def find_rowwise_apply(ctx: FileContext) -> Iterator[DetectorMatch]:
    """Any other `df.apply(f, axis=1)` on a DataFrame: one Python call per row."""
    for found in rowwise_applies(ctx):
        if found.vectorized is None:
            yield DetectorMatch(found.call, found.offset, {"DF": found.frame.text()})
