"""Helpers over tree-sitter nodes shared by the ML, plotting and security detectors.

No card knowledge lives here: only how to read calls, arguments, scopes and where a value came
from. Lines are absolute (0-based, in the file), as in `ModuleFacts`.
"""

from __future__ import annotations

import builtins
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from ast_grep_py import SgNode

from spark_lsp.analysis.context import FileContext
from spark_lsp.analysis.facts import BOUND
from spark_lsp.analysis.source import Block, parse_block

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


@dataclass
class _BlockCalls:
    """The calls of one block (lines relative to it), cached by block text and imports."""

    calls: list[Call]
    heads: frozenset[str]  # names whether a qualname resolves depends on their being bound
    bound: frozenset[str]  # those of them that were bound
    by_name: dict[str, tuple[int, ...]]  # method / last part of the qualname -> positions
    shifted: dict[int, list[Call]] = field(default_factory=dict)  # start line -> calls there
    checked: bytes = b""  # facts version under which `bound` was last confirmed
    volatile: bool = False  # resolving a name looked up more than "is it bound": single-use

    def at(self, start: int) -> list[Call]:
        if start == 0:
            return self.calls
        found = self.shifted.get(start)
        if found is None:
            if len(self.shifted) >= 2:
                self.shifted.clear()
            found = self.shifted[start] = [
                Call(c.node, start, c.qualname, c.method, c.receiver, c.line + start,
                     (c.scope[0] + start, c.scope[1] + start) if c.scope else None)
                for c in self.calls]
        return found


_BLOCK_CALLS: OrderedDict[tuple[str, str], _BlockCalls] = OrderedDict()
_BLOCK_CALLS_MAX = 20_000
_BLOCK_CALLS_LOCK = threading.Lock()  # analyzers in several threads share it


def clear_block_calls() -> None:
    with _BLOCK_CALLS_LOCK:
        _BLOCK_CALLS.clear()


def _entries(ctx: FileContext) -> list[_BlockCalls]:
    """The calls of each of the context's blocks (looked up once per analysis)."""
    found: list[_BlockCalls] | None = ctx.memo.get("block_calls")
    if found is not None:
        return found
    imports, version = ctx.imports_key, ctx.facts_version()[0]
    bindings = ctx.facts.bindings
    view = ctx.file is not None
    found = []
    for block in ctx.blocks:
        key = (block.text, imports)
        with _BLOCK_CALLS_LOCK:
            entry = _BLOCK_CALLS.get(key)
            if entry is not None:
                _BLOCK_CALLS.move_to_end(key)
        # In a view the check also notes the heads: what the block's findings depend on.
        if entry is not None and not entry.volatile and (
                (entry.checked == version and not view)
                or all((h in bindings) == (h in entry.bound) for h in entry.heads)):
            entry.checked = version
            found.append(entry)
            continue
        entry = _compute_calls(ctx, block, version)
        with _BLOCK_CALLS_LOCK:
            _BLOCK_CALLS[key] = entry
            while len(_BLOCK_CALLS) > _BLOCK_CALLS_MAX:
                _BLOCK_CALLS.popitem(last=False)
        found.append(entry)
    ctx.memo["block_calls"] = found
    return found


def _compute_calls(ctx: FileContext, block: Block, version: bytes) -> _BlockCalls:
    reads = ctx.facts.reads
    frame = reads.open()
    try:
        found = [call_info(ctx, node, 0) for node in parse_block(block.text).find_all(kind="call")]
    finally:
        reads.close(frame)
    # qualname_of asks only whether call heads are bound; anything else makes the entry
    # single-use (never found valid again)
    heads = frozenset(name for kind, name in frame if kind == BOUND)
    volatile = any(kind != BOUND for kind, _ in frame)
    by_name: dict[str, list[int]] = {}
    for i, c in enumerate(found):
        for name in {c.method, c.qualname.rsplit(".", 1)[-1] if c.qualname else None}:
            if name is not None:
                by_name.setdefault(name, []).append(i)
    return _BlockCalls(found, heads, frozenset(h for h in heads if h in ctx.facts.bindings),
                       {k: tuple(v) for k, v in by_name.items()}, checked=version,
                       volatile=volatile)


def calls(ctx: FileContext, names: Iterable[str] | None = None) -> list[Call]:
    """The calls of the context's blocks in source order, with what their callees resolve to.

    With `names`, only the calls of a method of one of these names or whose callee's qualified
    name ends with one of them (`callee_is(call, ["sklearn.model_selection.train_test_split"])`
    can only hold for a call listed under `train_test_split`).
    """
    wanted = None if names is None else frozenset(names)
    key = ("calls", wanted)
    found: list[Call] | None = ctx.memo.get(key)
    if found is not None:
        return found
    entries = _entries(ctx)
    found = []
    if wanted is None:
        for block, entry in zip(ctx.blocks, entries):
            found.extend(entry.at(block.start_line))
    else:
        index = _call_index(ctx, entries)
        for i in sorted({i for name in wanted for i in index.get(name, ())}):
            entry, start = entries[i], ctx.blocks[i].start_line
            shifted = entry.at(start)
            found.extend(shifted[p] for p in sorted(
                {p for name in wanted for p in entry.by_name.get(name, ())}))
    ctx.memo[key] = found
    return found


def _call_index(ctx: FileContext, entries: list[_BlockCalls]) -> dict[str, list[int]]:
    """Call name -> indices of the context's blocks that have such a call."""
    index: dict[str, list[int]] | None = ctx.memo.get("call_index")
    if index is None:
        index = {}
        get = index.get
        for i, entry in enumerate(entries):
            for name in entry.by_name:
                found = get(name)
                if found is None:
                    index[name] = [i]
                else:
                    found.append(i)
        ctx.memo["call_index"] = index
    return index


def roots(ctx: FileContext) -> list[tuple[Block, SgNode]]:
    """The context's top-level blocks with their parse trees."""
    return ctx.roots()


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
