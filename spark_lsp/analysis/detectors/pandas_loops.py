"""Python-level loops over pandas rows, and Dask computations started once per iteration.

A loop is flagged only when its body does something that has a column-wise equivalent:
`df.loc[i, col] = ...` writes, running totals or list appends of arithmetic over the row's fields
(`for i, row in df.iterrows()`), row-by-row indexing (`for i in range(len(df))`). Loops that stop
early (`break`, `return`) are searches and are left alone.
"""

from __future__ import annotations

from collections.abc import Iterator

from ast_grep_py import SgNode

from spark_lsp.analysis.context import FileContext
from spark_lsp.analysis.detectors import DetectorMatch, detector
from spark_lsp.analysis.detectors._nodes import positional
from spark_lsp.analysis.detectors.pandas_rowwise import RowExpression, mentions_row_whole
from spark_lsp.analysis.types import type_matches

_EXITS = ("break_statement", "return_statement", "yield", "raise_statement")


# -- for loops over rows -----------------------------------------------------------------------
def _loop_body_nodes(loop: SgNode, kind: str) -> Iterator[SgNode]:
    """Nodes of `kind` in the loop body, not inside a nested function or class."""
    body = loop.field("body")
    if body is None:
        return
    for node in body.find_all(kind=kind):
        if not any(a.kind() in ("function_definition", "class_definition", "lambda")
                   for a in _ancestors_until(node, loop)):
            yield node


def _ancestors_until(node: SgNode, stop: SgNode) -> Iterator[SgNode]:
    for anc in node.ancestors():
        if anc.range() == stop.range() and anc.kind() == stop.kind():
            return
        yield anc


def _exits_early(loop: SgNode) -> bool:
    """A loop that stops at some row is a search, not a column computation."""
    return any(next(_loop_body_nodes(loop, kind), None) is not None for kind in _EXITS)


def _indexer_write(loop: SgNode, frame: str, row_keys: set[str]) -> str | None:
    """`df.loc[i, "c"] = ...` (or `.at`/`.iat`/`.iloc`) on the looped frame, keyed by the row."""
    for assign in _loop_body_nodes(loop, "assignment"):
        left = assign.field("left")
        if left is None or left.kind() != "subscript":
            continue
        value = left.field("value")
        keys = left.field_children("subscript")
        if value is None or value.kind() != "attribute" or not keys:
            continue
        obj, attr = value.field("object"), value.field("attribute")
        if (obj is not None and attr is not None and obj.text() == frame
                and attr.text() in ("loc", "at", "iat", "iloc") and keys[0].text() in row_keys):
            rest = ", ..." if len(keys) > 1 else ""
            return f"writes `{frame}.{attr.text()}[{keys[0].text()}{rest}]`"
    return None


def _holds_list(ctx: FileContext, name: str, loop: SgNode, offset: int) -> bool:
    """`name` is bound to a list (`[]`, `list()`) before the loop."""
    binding = ctx.infer.binding_at(name, loop.range().start.line + offset)
    if binding is None or binding.value is None:
        return False
    value = binding.value
    return value.kind() == "list" or (value.kind() == "call" and value.text() == "list()")


def _vectorizable_guards(node: SgNode, loop: SgNode, expr: RowExpression) -> bool:
    """Every `if` between the loop and `node` tests a column-wise condition (a mask), so the
    filtered accumulation is `df.loc[mask, ...]`; `isinstance(...)` or loop state is not."""
    for anc in _ancestors_until(node, loop):
        if anc.kind() in ("if_statement", "elif_clause"):
            condition = anc.field("condition")
            if condition is None or expr.render(condition) is None:
                return False
        elif anc.kind() in ("conditional_expression", "for_statement", "while_statement",
                            "try_statement", "else_clause"):
            return False
    return True


def _accumulation(ctx: FileContext, loop: SgNode, offset: int, expr: RowExpression) -> str | None:
    """`total += row["a"] * row["b"]` or `values.append(row["a"] / 2)` with a column-wise value."""
    for aug in _loop_body_nodes(loop, "augmented_assignment"):
        left, right = aug.field("left"), aug.field("right")
        if (left is not None and right is not None and left.kind() == "identifier"
                and expr.uses_row(right) and expr.render(right) is not None
                and not mentions_row_whole(right, expr.row, expr)
                and _vectorizable_guards(aug, loop, expr)):
            return f"accumulates `{left.text()}`"
    for call in _loop_body_nodes(loop, "call"):
        func = call.field("function")
        args = positional(call)
        if func is None or func.kind() != "attribute" or len(args) != 1:
            continue
        obj, attr = func.field("object"), func.field("attribute")
        if obj is None or attr is None or attr.text() != "append" or obj.kind() != "identifier":
            continue
        if not (expr.uses_row(args[0]) and expr.render(args[0]) is not None
                and not mentions_row_whole(args[0], expr.row, expr)
                and _vectorizable_guards(call, loop, expr)):
            continue
        if _holds_list(ctx, obj.text(), loop, offset):
            return f"appends to `{obj.text()}`"
    return None


def _loop_frame(ctx: FileContext, loop: SgNode, offset: int,
                methods: tuple[str, ...]) -> tuple[SgNode, SgNode, str] | None:
    """(iterable call, frame, method) for `for ... in frame.method(...)` over a DataFrame."""
    right = loop.field("right")
    if right is None or right.kind() != "call":
        return None
    func = right.field("function")
    if func is None or func.kind() != "attribute":
        return None
    frame, attr = func.field("object"), func.field("attribute")
    if frame is None or attr is None or attr.text() not in methods:
        return None
    if not type_matches(ctx.type_of(frame, offset), "pandas.DataFrame"):
        return None
    return right, frame, attr.text()


@detector("iterrows_loop", scope="block", words=("iterrows", "itertuples"))
def find_iterrows_loops(ctx: FileContext) -> Iterator[DetectorMatch]:
    """`for i, row in df.iterrows():` whose body writes `df.loc[i, ...]` or accumulates fields."""
    for block, root in ctx.roots():
        offset = block.start_line
        for loop in root.find_all(kind="for_statement"):
            found = _loop_frame(ctx, loop, offset, ("iterrows", "itertuples"))
            left = loop.field("left")
            if found is None or left is None or _exits_early(loop):
                continue
            iterable, frame, method = found
            targets = [n.text() for n in left.named_children()] if left.kind() in (
                "pattern_list", "tuple_pattern") else [left.text()]
            if method == "iterrows" and len(targets) == 2:
                index, row = targets
                row_keys = {index, f"{row}.name"}
            elif method == "itertuples" and len(targets) == 1:
                row = targets[0]
                row_keys = {f"{row}.Index"}
            else:
                continue
            expr = RowExpression(ctx, offset, row, frame.text())
            what = (_indexer_write(loop, frame.text(), row_keys)
                    or _accumulation(ctx, loop, offset, expr))
            if what is None:
                continue
            yield DetectorMatch(iterable, offset, {
                "DF": frame.text(), "METHOD": method, "ROW": row, "WHAT": what})


def _row_write(loop: SgNode, row: str) -> SgNode | None:
    """`row["c"] = v` / `row.c = v` when the row is never used whole (written back, collected):
    `iterrows()` yields copies, so the write is lost."""
    written = None
    assignments = [*_loop_body_nodes(loop, "assignment"),
                   *_loop_body_nodes(loop, "augmented_assignment")]
    for assign in sorted(assignments, key=lambda n: n.range().start.index):
        left = assign.field("left")
        base = left.field("value" if left.kind() == "subscript" else "object") if left else None
        if left is not None and left.kind() in ("subscript", "attribute") and base is not None \
                and base.kind() == "identifier" and base.text() == row:
            written = written or assign
    if written is None:
        return None
    for ident in _loop_body_nodes(loop, "identifier"):
        parent = ident.parent()
        if ident.text() != row or parent is None:
            continue
        holder = parent.field("value" if parent.kind() == "subscript" else "object")
        if parent.kind() not in ("subscript", "attribute") or holder is None or (
                holder.range() != ident.range()):
            return None  # `df.loc[i] = row`, `rows.append(row)`, `f(row)`
    return written


@detector("iterrows_row_write", scope="block", words=("iterrows",))
def find_iterrows_row_writes(ctx: FileContext) -> Iterator[DetectorMatch]:
    """`for i, row in df.iterrows(): row["c"] = 0` changes a copy, not `df`."""
    for block, root in ctx.roots():
        offset = block.start_line
        for loop in root.find_all(kind="for_statement"):
            found = _loop_frame(ctx, loop, offset, ("iterrows",))
            left = loop.field("left")
            if found is None or left is None or left.kind() not in ("pattern_list", "tuple_pattern"):
                continue
            targets = left.named_children()
            if len(targets) != 2 or targets[1].kind() != "identifier":
                continue
            written = _row_write(loop, targets[1].text())
            if written is not None:
                yield DetectorMatch(written, offset, {
                    "DF": found[1].text(), "ROW": targets[1].text(), "INDEX": targets[0].text()})


def _calls(ctx: FileContext, node: SgNode, offset: int, qualname: str) -> list[SgNode] | None:
    """The positional arguments when `node` is a call of `qualname`, else None."""
    func = node.field("function") if node.kind() == "call" else None
    if func is None or func.kind() not in ("identifier", "attribute"):
        return None
    return positional(node) if ctx.qualname_of(func, offset) == qualname else None


def _range_len_frame(ctx: FileContext, loop: SgNode,
                     offset: int) -> tuple[SgNode, SgNode, bool] | None:
    """(range call, frame, is a Series) for `range(len(df))`, `range(1, len(df))`,
    `range(len(df.index))`, `range(df.shape[0])`."""
    right = loop.field("right")
    args = _calls(ctx, right, offset, "builtins.range") if right is not None else None
    if right is None or args is None:
        return None
    if len(args) == 2 and args[0].kind() == "integer":
        args = args[1:]  # `range(1, len(df))`: lagged loops start after the first row
    if len(args) != 1:
        return None
    measured = _calls(ctx, args[0], offset, "builtins.len")
    frame: SgNode | None = None
    if measured is not None and len(measured) == 1:
        frame = measured[0]
        if frame.kind() == "attribute" and _attribute_name(frame) == "index":
            frame = frame.field("object")
    elif args[0].kind() == "subscript" and args[0].text().replace(" ", "").endswith(".shape[0]"):
        shape = args[0].field("value")
        frame = shape.field("object") if shape is not None and shape.kind() == "attribute" else None
    if frame is None:
        return None
    ftype = ctx.type_of(frame, offset)
    if not (type_matches(ftype, "pandas.DataFrame") or type_matches(ftype, "pandas.Series")):
        return None
    return right, frame, type_matches(ftype, "=pandas.Series")


def _attribute_name(node: SgNode) -> str | None:
    attr = node.field("attribute") if node.kind() == "attribute" else None
    return attr.text() if attr is not None else None


def _uses_position(key: SgNode, var: str) -> bool:
    """`i`, `i - 1`, `i + 1` as a row key."""
    if key.kind() == "identifier":
        return key.text() == var
    if key.kind() == "binary_operator":
        left, right = key.field("left"), key.field("right")
        return (left is not None and left.text() == var and right is not None
                and right.kind() == "integer")
    return False


def _positional_access(loop: SgNode, frame: str, var: str, is_series: bool) -> str | None:
    """`df.loc[i, ...]`, `df.iloc[i]`, `df.at[i, ...]`, `df["c"][i]`, `s[i]` in the body."""
    for sub in _loop_body_nodes(loop, "subscript"):
        value = sub.field("value")
        keys = sub.field_children("subscript")
        if value is None or not keys or not _uses_position(keys[0], var):
            continue
        if value.kind() == "attribute":
            obj, attr = value.field("object"), value.field("attribute")
            if obj is None or attr is None or obj.text() != frame or attr.text() == "columns":
                continue
            rest = ", ..." if len(keys) > 1 else ""
            return f"{frame}.{attr.text()}[{keys[0].text()}{rest}]"
        if value.kind() == "subscript":
            inner = value.field("value")
            cols = value.field_children("subscript")
            if (inner is not None and inner.text() == frame and len(cols) == 1
                    and cols[0].kind() == "string"):
                return f"{frame}[{cols[0].text()}][{keys[0].text()}]"
        if is_series and value.text() == frame and len(keys) == 1:
            return f"{frame}[{keys[0].text()}]"
    return None


def _lagged(key: SgNode, var: str) -> bool:
    """`i - 1`, `i - 2`: a key that looks back."""
    left, right = key.field("left"), key.field("right")
    return (key.kind() == "binary_operator" and left is not None and left.text() == var
            and right is not None and right.kind() == "integer" and "-" in key.text())


def _is_recurrence(loop: SgNode, var: str) -> bool:
    """`B[t] = a * A[t] + b * B[t - 1]`: each step needs the previous result (a filter or
    a scan, not a plain column expression)."""
    targets = set()
    for kind in ("assignment", "augmented_assignment"):
        for assign in _loop_body_nodes(loop, kind):
            left = assign.field("left")
            if left is None or left.kind() != "subscript":
                continue
            value, keys = left.field("value"), left.field_children("subscript")
            if value is not None and keys and keys[0].text() == var:
                targets.add((value.text(), tuple(k.text() for k in keys[1:])))
    for sub in _loop_body_nodes(loop, "subscript"):
        keys = sub.field_children("subscript")
        value = sub.field("value")
        if value is not None and keys and _lagged(keys[0], var) and (
                value.text(), tuple(k.text() for k in keys[1:])) in targets:
            return True
    return False


@detector("range_len_loop", scope="block", words=("range",))
def find_range_len_loops(ctx: FileContext) -> Iterator[DetectorMatch]:
    """`for i in range(len(df)):` whose body reads or writes `df` row `i` by position/label."""
    for block, root in ctx.roots():
        offset = block.start_line
        for loop in root.find_all(kind="for_statement"):
            left = loop.field("left")
            if left is None or left.kind() != "identifier" or _exits_early(loop):
                continue
            found = _range_len_frame(ctx, loop, offset)
            if found is None:
                continue
            iterable, frame, is_series = found
            access = _positional_access(loop, frame.text(), left.text(), is_series)
            if access is None or _is_recurrence(loop, left.text()):
                continue
            yield DetectorMatch(iterable, offset, {
                "DF": frame.text(), "I": left.text(), "RANGE": iterable.text(), "ACCESS": access})


# -- Dask: .compute() inside a loop -------------------------------------------------------------
_COMPREHENSIONS = ("list_comprehension", "set_comprehension", "dictionary_comprehension",
                   "generator_expression")


def _loop_variables(node: SgNode) -> set[str]:
    """Names bound by the `for` loops and comprehensions around `node` (in its function)."""
    names: set[str] = set()
    for anc in node.ancestors():
        if anc.kind() in ("function_definition", "class_definition"):
            break
        if anc.kind() == "for_statement":
            body = anc.field("body")
            left = anc.field("left")
            if body is not None and left is not None and _within(node, body):
                names |= _identifiers(left)
        elif anc.kind() in _COMPREHENSIONS:
            for clause in anc.children():
                if clause.kind() == "for_in_clause" and not _within(node, clause):
                    left = clause.field("left")
                    if left is not None:
                        names |= _identifiers(left)
    return names


def _identifiers(node: SgNode) -> set[str]:
    if node.kind() == "identifier":
        return {node.text()}
    return {n.text() for n in node.find_all(kind="identifier")}


def _within(node: SgNode, outer: SgNode) -> bool:
    r, o = node.range(), outer.range()
    return o.start.index <= r.start.index and r.end.index <= o.end.index


@detector("dask_compute_in_loop", scope="block", words=("compute",))
def find_dask_compute_in_loop(ctx: FileContext) -> Iterator[DetectorMatch]:
    """`for c in cols: ddf[c].mean().compute()`: one graph run per iteration."""
    for block, root in ctx.roots():
        offset = block.start_line
        for call in root.find_all(kind="call"):
            func = call.field("function")
            if func is None:
                continue
            subjects = _calls(ctx, call, offset, "dask.compute")
            if subjects is None and _attribute_name(func) == "compute":
                lazy = func.field("object")
                if lazy is None or not type_matches(ctx.type_of(lazy, offset), "dask"):
                    continue
                subjects = [lazy]
            if not subjects:
                continue
            loop_vars = _loop_variables(call)
            if not loop_vars or not any(_identifiers(s) & loop_vars for s in subjects):
                continue
            yield DetectorMatch(call, offset, {"EXPR": call.text()})
