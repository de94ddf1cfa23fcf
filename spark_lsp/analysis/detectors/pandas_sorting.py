"""Unstable sorts whose tie order reaches the result.

pandas' `sort_values` (one key) and NumPy's `argsort`/`sort` default to quicksort, which may put
equal keys in any order. That only matters when the order of ties is *used*: the first rows of the
sorted frame, a position taken from it, the first row of each group, the top-k indices. These
detectors flag a sort without `kind=` only when its result goes straight into such a use.
"""

from __future__ import annotations

from collections.abc import Iterator

from ast_grep_py import SgNode

from spark_lsp.analysis.context import FileContext
from spark_lsp.analysis.detectors import DetectorMatch, detector
from spark_lsp.analysis.detectors._nodes import keyword, positional
from spark_lsp.analysis.types import type_matches

# Methods whose result depends on the order of the rows they get.
_ORDER_METHODS = {"head", "tail", "drop_duplicates", "duplicated", "nth", "first_valid_index",
                  "last_valid_index"}
_ORDER_INDEXERS = {"iloc", "iat"}
# GroupBy methods that pick rows by position inside each group.
_GROUP_ORDER_METHODS = {"first", "last", "head", "tail", "nth", "cumcount"}
_INDEX_ORDER_METHODS = {"tolist", "to_list"}
# Steps that keep the sorted row order between the sort and its use.
_PASSTHROUGH_METHODS = {"reset_index"}


def call_parts(call: SgNode) -> tuple[SgNode | None, str | None]:
    """(receiver, method name) of `receiver.method(...)`, else (None, None)."""
    func = call.field("function")
    if func is None or func.kind() != "attribute":
        return None, None
    attr = func.field("attribute")
    return func.field("object"), attr.text() if attr is not None else None


def argument_text(call: SgNode) -> str:
    """The text between a call's parentheses, without a trailing comma."""
    args = call.field("arguments")
    if args is None:
        return ""
    inner = args.text()[1:-1].strip()
    return inner[:-1].rstrip() if inner.endswith(",") else inner


def _parent_via(node: SgNode, kind: str, field: str) -> SgNode | None:
    """The parent of `node` when it is a `kind` node holding `node` in `field`, else None."""
    parent = node.parent()
    if parent is None or parent.kind() != kind:
        return None
    child = parent.field(field)
    return parent if child is not None and child.range() == node.range() else None


def _attribute_name(node: SgNode) -> str | None:
    attr = node.field("attribute") if node.kind() == "attribute" else None
    return attr.text() if attr is not None else None


def order_sensitive_use(node: SgNode) -> str | None:
    """How the sorted value `node` is used when that use depends on the order of ties."""
    current = node
    for _ in range(6):
        selected = _parent_via(current, "subscript", "value")
        if selected is not None:
            keys = selected.field_children("subscript")
            if len(keys) == 1 and keys[0].kind() in ("string", "list"):
                current = selected  # a column selection keeps the row order
                continue
            return None
        member = _parent_via(current, "attribute", "object")
        name = _attribute_name(member) if member is not None else None
        if member is None or name is None:
            return None
        if name in _ORDER_INDEXERS:
            indexed = _parent_via(member, "subscript", "value")
            keys = indexed.field_children("subscript") if indexed is not None else []
            if not keys or keys[0].kind() == "slice" and keys[0].text().strip() == ":":
                return None  # `.iloc[:, cols]` selects columns
            return f".{name}[...]"
        if name == "index":
            return _index_order_use(member)
        call = _parent_via(member, "call", "function")
        if call is None:
            return None
        if name in _ORDER_METHODS:
            return f".{name}()"
        if name in _PASSTHROUGH_METHODS:
            current = call
            continue
        return _group_order_use(call) if name == "groupby" else None
    return None


def _index_order_use(index: SgNode) -> str | None:
    """`.index[:3]`, `.index.tolist()` on the sorted value."""
    if _parent_via(index, "subscript", "value") is not None:
        return ".index[...]"
    method = _parent_via(index, "attribute", "object")
    name = _attribute_name(method) if method is not None else None
    if method is not None and name in _INDEX_ORDER_METHODS and _parent_via(
            method, "call", "function") is not None:
        return f".index.{name}()"
    return None


def _group_order_use(groupby_call: SgNode) -> str | None:
    """`.groupby(k).first()`, `.groupby(k)["v"].head(2)`, `.groupby(k).agg("last")`."""
    current = groupby_call
    for _ in range(3):
        selected = _parent_via(current, "subscript", "value")
        if selected is not None:
            current = selected
            continue
        member = _parent_via(current, "attribute", "object")
        call = _parent_via(member, "call", "function") if member is not None else None
        if member is None or call is None:
            return None
        method = _attribute_name(member)
        if method in _GROUP_ORDER_METHODS:
            return f".groupby(...).{method}()"
        args = positional(call)
        if (method in ("agg", "aggregate") and args and args[0].kind() == "string"
                and args[0].text().strip("\"'") in ("first", "last")):
            return f".groupby(...).{method}({args[0].text()})"
        return None
    return None


def _single_key(call: SgNode, receiver_type: str | None) -> bool:
    """The sort has exactly one key (several keys use a stable lexsort in pandas)."""
    args = positional(call)
    by = args[0] if args else keyword(call, "by")
    if by is None:
        return not type_matches(receiver_type, "=pandas.DataFrame")  # a Series sorts by itself
    if by.kind() == "string":
        return True
    if by.kind() in ("list", "tuple"):
        return len(by.named_children()) == 1
    return False


@detector("unstable_sort_values", scope="block", words=("sort_values",))
def find_unstable_sort_values(ctx: FileContext) -> Iterator[DetectorMatch]:
    """`df.sort_values("k").head(3)`: one key, default quicksort, first rows used."""
    for block, root in ctx.roots():
        for call in root.find_all(kind="call"):
            receiver, method = call_parts(call)
            if method != "sort_values" or receiver is None or keyword(call, "kind") is not None:
                continue
            rtype = ctx.type_of(receiver, block.start_line)
            frame = type_matches(rtype, "pandas.DataFrame") or type_matches(rtype, "pandas.Series")
            if not frame or not _single_key(call, rtype):
                continue
            use = order_sensitive_use(call)
            if use is None:
                continue
            yield DetectorMatch(call, block.start_line, {
                "DF": receiver.text(), "ARGS": argument_text(call), "USE": use})


def _indexed_by_result(call: SgNode) -> str | None:
    """`order[:k]`-style use of an argsort result: sliced, indexed, or used as an index."""
    if _parent_via(call, "subscript", "value") is not None:
        return "sliced or indexed"
    parent = call.parent()
    if parent is not None and parent.kind() == "subscript":
        keys = parent.field_children("subscript")
        if any(k.range() == call.range() for k in keys):
            return "used to reorder another array"
    return None


def _single_order_field(call: SgNode) -> bool:
    order = keyword(call, "order")
    if order is None:
        return False
    if order.kind() == "string":
        return True
    return order.kind() in ("list", "tuple") and len(order.named_children()) == 1


def _tie_order_use(ctx: FileContext, call: SgNode, offset: int) -> str | None:
    """How an `argsort`/`sort` call's tie order is used, when the call is one and it is used."""
    func = call.field("function")
    if func is None or keyword(call, "kind") is not None:
        return None
    dotted = func.kind() in ("identifier", "attribute")
    qual = ctx.qualname_of(func, offset) if dotted else None
    if qual == "numpy.sort":
        return "an array of records whose ties differ" if _single_order_field(call) else None
    receiver, method = call_parts(call)
    if qual == "numpy.argsort":
        args = positional(call)
        keys = args[0] if args else None
    elif method == "argsort" and receiver is not None:
        rtype = ctx.type_of(receiver, offset)
        numeric = type_matches(rtype, "numpy.ndarray") or type_matches(rtype, "=pandas.Series")
        keys = receiver if numeric else None
    else:
        keys = None
    if keys is None:
        return None
    use = _indexed_by_result(call)
    parent = call.parent()
    value = parent.field("value") if use == "used to reorder another array" and parent else None
    if value is not None and value.text() == keys.text():
        return None  # `x[np.argsort(x)]` is just the sorted values
    return use


@detector("unstable_argsort", scope="block", words=("sort", "argsort"))
def find_unstable_argsort(ctx: FileContext) -> Iterator[DetectorMatch]:
    """`np.argsort(x)[:k]`, `x.argsort()[::-1]`, `np.sort(records, order="f")`: tie order used."""
    for block, root in ctx.roots():
        for call in root.find_all(kind="call"):
            use = _tie_order_use(ctx, call, block.start_line)
            func = call.field("function")
            if use is not None and func is not None:
                yield DetectorMatch(call, block.start_line, {
                    "FUNC": func.text(), "ARGS": argument_text(call), "USE": use})
