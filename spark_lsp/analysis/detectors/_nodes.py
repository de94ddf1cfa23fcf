"""Helpers over tree-sitter nodes shared by the ML, plotting and security detectors.

No card knowledge lives here: only how to read calls, arguments, scopes and where a value came
from. Lines are absolute (0-based, in the file), as in `ModuleFacts`.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ast_grep_py import SgNode

from spark_lsp.analysis.context import FileContext
from spark_lsp.analysis.source import Block

_SCOPE_KINDS = ("function_definition", "lambda")
# Methods that hand back the object they were called on (or an equivalent of it).
_SELF_METHODS = {"to", "cuda", "cpu", "eval", "train", "float", "double", "half", "fit",
                 "set_params", "requires_grad_", "share_memory"}
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


@dataclass(frozen=True)
class Call:
    node: SgNode
    offset: int  # first line of the node's block
    qualname: str | None  # `sklearn.model_selection.train_test_split`, `builtins.eval`, ...
    method: str | None  # `fit` for `scaler.fit(X)`
    receiver: SgNode | None  # `scaler` for `scaler.fit(X)`
    line: int  # absolute line of the call
    scope: tuple[int, int] | None  # absolute lines of the enclosing function, None at module level


# The detectors of one analysis share one walk of the file. Keyed by identity; the entry keeps
# its FileContext alive, so an id is never reused while it is cached.
_PER_FILE: dict[int, tuple[FileContext, list[tuple[Block, SgNode]], list[Call]]] = {}
_PER_FILE_MAX = 4


def _walk(ctx: FileContext) -> tuple[list[tuple[Block, SgNode]], list[Call]]:
    cached = _PER_FILE.get(id(ctx))
    if cached is not None and cached[0] is ctx:
        return cached[1], cached[2]
    trees = ctx.roots()
    found = [call_info(ctx, node, block.start_line)
             for block, root in trees for node in root.find_all(kind="call")]
    while len(_PER_FILE) >= _PER_FILE_MAX:
        try:
            _PER_FILE.pop(next(iter(_PER_FILE)))
        except (StopIteration, KeyError, RuntimeError):  # emptied by another thread
            break
    _PER_FILE[id(ctx)] = (ctx, trees, found)
    return trees, found


def calls(ctx: FileContext) -> list[Call]:
    """Every call of the file, in source order, with what its callee resolves to."""
    return _walk(ctx)[1]


def roots(ctx: FileContext) -> list[tuple[Block, SgNode]]:
    """The file's top-level blocks with their parse trees (parsed once per analysis)."""
    return _walk(ctx)[0]


def call_info(ctx: FileContext, node: SgNode, offset: int) -> Call:
    func = node.field("function")
    qual = method = receiver = None
    if func is not None:
        if func.kind() in ("identifier", "attribute") and _is_dotted(func):
            qual = ctx.qualname_of(func, offset)
        if func.kind() == "attribute":
            attr = func.field("attribute")
            method = attr.text() if attr is not None else None
            receiver = func.field("object")
    return Call(node, offset, qual, method, receiver, node.range().start.line + offset,
                scope_of(node, offset))


def _is_dotted(node: SgNode) -> bool:
    while node.kind() == "attribute":
        obj = node.field("object")
        if obj is None:
            return False
        node = obj
    return node.kind() == "identifier"


def callee_is(call: Call, qualnames: Iterable[str]) -> bool:
    """The callee is one of `qualnames`, also when the file never imported it (a fragment)."""
    q = call.qualname
    if q is None:
        return False
    for wanted in qualnames:
        module, _, last = wanted.rpartition(".")
        if q == wanted:
            return True
        # an unresolved bare name (`train_test_split(...)` in a fragment), unless it is a real
        # builtin such as `compile` or `open`
        if q == f"builtins.{last}" and not hasattr(builtins, last):
            return True
        # `sklearn.model_selection._split.train_test_split` is the same function
        if q.startswith(module + ".") and q.endswith("." + last):
            middle = q[len(module) + 1: -len(last) - 1].split(".")
            if all(part.startswith("_") for part in middle):
                return True
    return False


def positional(call: SgNode) -> list[SgNode]:
    args = call.field("arguments")
    if args is None or args.kind() != "argument_list":
        return []
    return [a for a in args.named_children()
            if a.kind() not in ("keyword_argument", "list_splat", "dictionary_splat", "comment")]


def keyword(call: SgNode, name: str) -> SgNode | None:
    """The value given to `name=` in the call, or None."""
    args = call.field("arguments")
    if args is None:
        return None
    for a in args.named_children():
        if a.kind() == "keyword_argument":
            key = a.field("name")
            if key is not None and key.text() == name:
                return a.field("value")
    return None


def keyword_node(call: SgNode, name: str) -> SgNode | None:
    """The whole `name=value` node of a call, or None."""
    value = keyword(call, name)
    return value.parent() if value is not None else None


def argument(call: SgNode, index: int, name: str | None = None) -> SgNode | None:
    args = positional(call)
    if index < len(args):
        return args[index]
    return keyword(call, name) if name else None


def root_identifier(expr: SgNode | None) -> SgNode | None:
    """`X_test` for `X_test`, `X_test[cols]`, `X_test.values`, `X_test.to_numpy().T`."""
    node = expr
    for _ in range(20):
        if node is None:
            return None
        kind = node.kind()
        if kind == "identifier":
            return node
        if kind == "subscript":
            node = node.field("value")
        elif kind == "attribute":
            node = node.field("object")
        elif kind == "parenthesized_expression":
            inner = node.named_children()
            node = inner[0] if inner else None
        elif kind == "call":
            func = node.field("function")
            node = func.field("object") if func is not None and func.kind() == "attribute" else None
        else:
            return None
    return None


def scope_of(node: SgNode, offset: int) -> tuple[int, int] | None:
    """Absolute line range of the function that holds `node`, or None at module level."""
    for anc in node.ancestors():
        if anc.kind() in _SCOPE_KINDS:
            r = anc.range()
            return (r.start.line + offset, r.end.line + offset)
    return None


def enclosing_loops(node: SgNode) -> list[SgNode]:
    """The `for`/`while` statements around `node`, innermost first, inside its function."""
    loops = []
    for anc in node.ancestors():
        if anc.kind() in ("function_definition", "lambda", "class_definition"):
            break
        if anc.kind() in ("for_statement", "while_statement"):
            loops.append(anc)
    return loops


def line_of(node: SgNode, offset: int) -> int:
    return node.range().start.line + offset


def is_true(node: SgNode | None) -> bool:
    return node is not None and node.kind() == "true"


def is_false(node: SgNode | None) -> bool:
    return node is not None and node.kind() == "false"


def words(name: str) -> list[str]:
    """`X_test_scaled` -> [x, test, scaled]; `testLoader` -> [test, loader]."""
    return [w.lower() for w in _WORDS.findall(name)]


def origin_call(ctx: FileContext, expr: SgNode | None, offset: int,
                depth: int = 0) -> tuple[SgNode, int] | None:
    """The call that built the object `expr` holds: `StandardScaler()` for `scaler` after
    `scaler = StandardScaler().fit(X)`; follows names, `.to(device)`-style chains and aliases."""
    if expr is None or depth > 8:
        return None
    kind = expr.kind()
    if kind == "parenthesized_expression":
        children = expr.named_children()
        return origin_call(ctx, children[0] if children else None, offset, depth + 1)
    if kind == "identifier":
        b = ctx.infer.binding_at(expr.text(), line_of(expr, offset))
        if b is None or b.value is None or b.index is not None:
            return None
        return origin_call(ctx, b.value, b.offset, depth + 1)
    if kind == "call":
        func = expr.field("function")
        if func is not None and func.kind() == "attribute":
            attr = func.field("attribute")
            if attr is not None and attr.text() in _SELF_METHODS:
                inner = origin_call(ctx, func.field("object"), offset, depth + 1)
                if inner is not None:
                    return inner
        return expr, offset
    return None


def constructor_name(ctx: FileContext, call: SgNode, offset: int) -> str | None:
    """Qualified name of the class/function a call invokes (`builtins.X` when unresolved)."""
    return call_info(ctx, call, offset).qualname


def statement_of(node: SgNode) -> SgNode:
    """The statement that holds an expression node."""
    current = node
    for anc in node.ancestors():
        if anc.kind() == "block" or anc.kind() == "module":
            return current
        current = anc
    return current


def following_statements(ctx: FileContext, statement: SgNode,
                         offset: int) -> Iterator[tuple[SgNode, int]]:
    """The statements after `statement` in its body; at module level this crosses into the
    next top-level blocks, which are parsed separately."""
    for sibling in statement.next_all():
        if sibling.is_named():
            yield sibling, offset
    parent = statement.parent()
    if parent is None or parent.kind() != "module":
        return
    later = False
    for block, root in roots(ctx):
        if later:
            for top in root.children():
                if top.is_named():
                    yield top, block.start_line
        later = later or block.start_line == offset
