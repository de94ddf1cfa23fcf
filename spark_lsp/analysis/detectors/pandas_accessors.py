"""`.apply`/`.map` with a function that a `.str`/`.dt` accessor already computes, vectorized.

`s.apply(lambda x: x.strip().lower())` is `s.str.strip().str.lower()`; `s.map(lambda d: d.year)`
is `s.dt.year`; `s.apply(len)` is `s.str.len()`. The rewrite is built step by step from the
lambda's body and given up as soon as one step has no exact accessor equivalent, or when the
step could belong to another type (`x.round(2)` on floats is not `.dt.round`).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from ast_grep_py import SgNode

from spark_lsp.analysis.context import FileContext
from spark_lsp.analysis.detectors import DetectorMatch, detector
from spark_lsp.analysis.detectors._nodes import positional
from spark_lsp.analysis.detectors.pandas_rowwise import keyword_names
from spark_lsp.analysis.types import type_matches

# str method -> (min, max) positional arguments that `Series.str.<method>` takes the same way.
STR_METHODS: dict[str, tuple[int, int]] = {
    **{m: (0, 0) for m in ("lower", "upper", "title", "capitalize", "casefold", "swapcase",
                           "isalpha", "isdigit", "isalnum", "isnumeric", "isdecimal", "isspace",
                           "islower", "isupper", "istitle")},
    "strip": (0, 1), "lstrip": (0, 1), "rstrip": (0, 1),
    "startswith": (1, 1), "endswith": (1, 1),
    "replace": (2, 2),  # a third positional argument is `count` in Python, `n` in pandas
    "split": (0, 1), "rsplit": (0, 1),  # pandas takes `n=` by keyword only
    "find": (1, 1), "rfind": (1, 1), "zfill": (1, 1),
    "center": (1, 2), "ljust": (1, 2), "rjust": (1, 2),
}
_STR_KINDS = {"elem", "str"}  # element kinds a str method can follow
# Timestamp/Timedelta attributes with a `.dt` twin of the same name.
DT_ATTRIBUTES = {
    "year", "month", "day", "hour", "minute", "second", "microsecond", "nanosecond",
    "dayofweek", "day_of_week", "dayofyear", "day_of_year", "quarter", "days_in_month",
    "daysinmonth", "is_month_start", "is_month_end", "is_quarter_start", "is_quarter_end",
    "is_year_start", "is_year_end", "is_leap_year", "days", "seconds", "microseconds",
}
# Timestamp methods -> `.dt` spelling ("()" kept for methods, dropped for properties).
DT_METHODS = {
    "date": "date", "time": "time", "weekday": "weekday", "day_name": "day_name()",
    "month_name": "month_name()", "strftime": "strftime()", "total_seconds": "total_seconds()",
    "tz_localize": "tz_localize()", "tz_convert": "tz_convert()", "to_period": "to_period()",
}
# Only with a frequency string: `x.round(2)` is a float, `x.round("h")` a Timestamp.
_DT_FREQ_METHODS = {"floor", "ceil", "round"}
_STRING_RESULTS = {"strftime", "day_name", "month_name"}


def _mentions(node: SgNode, name: str) -> bool:
    return node.text() == name or any(n.text() == name for n in node.find_all(kind="identifier"))


def _args_text(call: SgNode) -> str:
    args = call.field("arguments")
    return args.text()[1:-1].strip().rstrip(",").strip() if args is not None else ""


def _split_needs_literal(call: SgNode) -> bool:
    """`.str.split(pat)` reads a pattern longer than one character as a regular expression."""
    args = positional(call)
    if not args:
        return False
    if args[0].kind() != "string":
        return True
    try:
        value = ast.literal_eval(args[0].text())
    except (ValueError, SyntaxError):
        return True
    return not (isinstance(value, str) and len(value) == 1)


def accessor_chain(expr: SgNode, param: str, ctx: FileContext) -> tuple[str, str] | None:
    """(`str.strip().str.lower()`, result kind) for the lambda body `expr`, or None."""
    kind = expr.kind()
    if kind == "identifier":
        return ("", "elem") if expr.text() == param else None
    if kind == "parenthesized_expression":
        inner = expr.named_children()
        return accessor_chain(inner[0], param, ctx) if len(inner) == 1 else None
    if kind == "attribute":
        obj, attr = expr.field("object"), expr.field("attribute")
        if obj is None or attr is None or obj.text() != param or attr.text() not in DT_ATTRIBUTES:
            return None
        return f"dt.{attr.text()}", "value"
    if kind == "subscript":
        value = expr.field("value")
        keys = expr.field_children("subscript")
        if value is None or len(keys) != 1 or _mentions(keys[0], param):
            return None
        if keys[0].kind() not in ("integer", "slice", "unary_operator"):
            return None
        indexed = accessor_chain(value, param, ctx)
        if indexed is None or indexed[1] not in ("elem", "str", "list"):
            return None
        return _join(indexed[0], f"str[{keys[0].text()}]"), "elem"
    if kind == "call":
        return _call_chain(expr, param, ctx)
    return None


def _join(prefix: str, step: str) -> str:
    return f"{prefix}.{step}" if prefix else step


def _call_chain(call: SgNode, param: str, ctx: FileContext) -> tuple[str, str] | None:
    func = call.field("function")
    args_node = call.field("arguments")
    if func is None or args_node is None or args_node.kind() != "argument_list":
        return None
    args = args_node.named_children()
    if func.kind() == "identifier" and func.text() == "len" and "len" not in ctx.facts.bindings:
        if len(args) != 1:
            return None
        inner = accessor_chain(args[0], param, ctx)
        if inner is None or inner[1] not in ("elem", "str", "list"):
            return None
        return _join(inner[0], "str.len()"), "value"
    if func.kind() != "attribute":
        return None
    obj, attr = func.field("object"), func.field("attribute")
    if obj is None or attr is None:
        return None
    method = attr.text()
    if any(_mentions(a, param) for a in args):
        return None
    inner = accessor_chain(obj, param, ctx)
    if inner is None:
        return None
    prefix, elem = inner
    has_keywords = any(a.kind() == "keyword_argument" for a in args)
    if method in STR_METHODS and elem in _STR_KINDS and not has_keywords:
        low, high = STR_METHODS[method]
        if not low <= len(args) <= high or any(a.kind() in ("list_splat", "dictionary_splat")
                                                for a in args):
            return None
        text = _args_text(call)
        if method in ("split", "rsplit") and _split_needs_literal(call):
            text += ", regex=False"
        result = "list" if method in ("split", "rsplit") else "str"
        return _join(prefix, f"str.{method}({text})"), result
    if elem != "elem" or prefix:
        return None  # `.dt` only on the element itself
    if method in DT_METHODS and not (method == "weekday" and args):
        spelled = DT_METHODS[method]
        if spelled.endswith("()"):
            spelled = f"{spelled[:-2]}({_args_text(call)})"
        elif args:
            return None
        return f"dt.{spelled}", "str" if method in _STRING_RESULTS else "value"
    if method in _DT_FREQ_METHODS and len(args) == 1 and args[0].kind() == "string":
        return f"dt.{method}({args[0].text()})", "value"
    return None


def _function_chain(arg: SgNode, ctx: FileContext) -> str | None:
    """`str.lower` -> `str.lower()`, `len` -> `str.len()` (when the names are the builtins)."""
    if arg.kind() == "identifier" and arg.text() == "len" and "len" not in ctx.facts.bindings:
        return "str.len()"
    if arg.kind() != "attribute":
        return None
    obj, attr = arg.field("object"), arg.field("attribute")
    if obj is None or attr is None or obj.text() != "str" or "str" in ctx.facts.bindings:
        return None
    method = attr.text()
    if method in STR_METHODS and STR_METHODS[method][0] == 0:  # callable on the element alone
        return f"str.{method}()"
    return None


@detector("accessor_lambda", scope="block", words=("apply", "map"))
def find_accessor_lambdas(ctx: FileContext) -> Iterator[DetectorMatch]:
    """`s.apply(lambda x: x.lower())` on a pandas Series -> `s.str.lower()`."""
    for block, root in ctx.roots():
        offset = block.start_line
        for call in root.find_all(kind="call"):
            func = call.field("function")
            if func is None or func.kind() != "attribute":
                continue
            receiver, attr = func.field("object"), func.field("attribute")
            if receiver is None or attr is None or attr.text() not in ("apply", "map"):
                continue
            args = positional(call)
            # `map(f, na_action="ignore")` skips NaN like the accessor; other keywords change f
            extra = keyword_names(call)
            if len(args) != 1 or extra not in ([], ["na_action"]) or (
                    extra and attr.text() != "map"):
                continue
            if not type_matches(ctx.type_of(receiver, offset), "=pandas.Series"):
                continue
            chain = _lambda_chain(args[0], ctx)
            if chain is None:
                continue
            yield DetectorMatch(call, offset, {
                "S": receiver.text(), "METHOD": attr.text(), "ACCESSOR": chain})


def _lambda_chain(arg: SgNode, ctx: FileContext) -> str | None:
    if arg.kind() != "lambda":
        return _function_chain(arg, ctx)
    params = arg.field("parameters")
    body = arg.field("body")
    if params is None or body is None:
        return None
    names = params.named_children()
    if len(names) != 1 or names[0].kind() != "identifier":
        return None
    found = accessor_chain(body, names[0].text(), ctx)
    if found is None or not found[0]:
        return None
    return found[0]
