"""Security mistakes in data scripts that need dataflow: a shell command built from data, a
`requests` session whose TLS verification was turned off."""

from __future__ import annotations

from collections.abc import Iterator

from ast_grep_py import SgNode

from spark_lsp.analysis.context import FileContext
from spark_lsp.analysis.detectors import DetectorMatch, detector
from spark_lsp.analysis.detectors._nodes import (
    argument,
    call_info,
    callee_is,
    calls,
    is_false,
    is_true,
    keyword,
    keyword_node,
    line_of,
    origin_call,
)
from spark_lsp.analysis.source import parse_block

# -- SPK042: a shell command built from data ---------------------------------------------------
_SHELL_KEYWORD = tuple(f"subprocess.{f}" for f in ("run", "call", "check_call", "check_output",
                                                   "Popen"))
_ALWAYS_SHELL = ("os.system", "os.popen", "subprocess.getoutput", "subprocess.getstatusoutput",
                 "asyncio.create_subprocess_shell")
_QUOTING = ("shlex.quote", "shlex.join", "pipes.quote")
_SHELL_NAMES = tuple({f.rsplit(".", 1)[-1] for f in _SHELL_KEYWORD + _ALWAYS_SHELL})


# File-scoped: whether a name holds a constant command depends on all its bindings, function
# locals of other blocks included.
@detector("shell_command_from_data")
def find_shell_command_from_data(ctx: FileContext) -> Iterator[DetectorMatch]:
    for call in calls(ctx, _SHELL_NAMES):
        if not (call.qualname or "").startswith(("subprocess.", "os.", "asyncio.")):
            continue  # the callee must resolve to the module, not a same-named helper
        if callee_is(call, _ALWAYS_SHELL):
            command = argument(call.node, 0, "cmd") or argument(call.node, 0, "command")
        elif callee_is(call, _SHELL_KEYWORD) and is_true(keyword(call.node, "shell")):
            command = argument(call.node, 0, "args")
        else:
            continue
        if command is not None and not _constant(ctx, command, call.offset) \
                and not _quoted(ctx, command, call.offset):
            yield DetectorMatch(call.node, call.offset, {
                "F": call.qualname or "", "CMD": command.text()})


def _constant(ctx: FileContext, node: SgNode, offset: int, depth: int = 0) -> bool:
    """A command fixed in the source: literals, their concatenation, a name bound only to one."""
    kind = node.kind()
    if depth > 5:
        return False
    if kind == "string":
        return not any(True for _ in node.find_all(kind="interpolation"))
    if kind == "concatenated_string":
        return all(_constant(ctx, part, offset, depth + 1) for part in node.named_children())
    if kind == "parenthesized_expression":
        return all(_constant(ctx, part, offset, depth + 1) for part in node.named_children())
    if kind == "binary_operator":
        left, right = node.field("left"), node.field("right")
        return left is not None and right is not None and \
            _constant(ctx, left, offset, depth + 1) and _constant(ctx, right, offset, depth + 1)
    if kind in ("list", "tuple"):
        return True  # with a list, only its first item goes to the shell as the command
    if kind == "identifier":
        bindings = ctx.facts.bindings.get(node.text(), [])
        return bool(bindings) and all(
            b.value is not None and b.index is None and b.type is None
            and _constant(ctx, b.value, b.offset, depth + 1) for b in bindings)
    return False


def _quoted(ctx: FileContext, node: SgNode, offset: int) -> bool:
    """The command quotes its data with `shlex.quote`/`shlex.join` (trusted as a whole)."""
    inner = list(node.find_all(kind="call"))
    return bool(inner) and any(callee_is(call_info(ctx, c, offset), _QUOTING) for c in inner)


# -- SPK043: TLS verification disabled on a session ---------------------------------------------
_SESSIONS = ("requests.Session", "requests.session", "requests.sessions.Session", "httpx.Client",
             "httpx.AsyncClient")
_HTTP_METHODS = {"get", "post", "put", "patch", "delete", "head", "options", "request", "send",
                 "stream"}


@detector("session_verify_disabled")
def find_session_verify_disabled(ctx: FileContext) -> Iterator[DetectorMatch]:
    if not (ctx.facts.uses("requests") or ctx.facts.uses("httpx")):
        return
    for call in calls(ctx, tuple(_HTTP_METHODS)):
        if call.method in _HTTP_METHODS and is_false(keyword(call.node, "verify")) \
                and _is_session(ctx, call.receiver, call.offset):
            kw = keyword_node(call.node, "verify")
            if kw is not None and call.receiver is not None:
                yield DetectorMatch(kw, call.offset, {"S": call.receiver.text()})
    for block in ctx.blocks_with(("verify",)):  # `s.verify = False`
        root = parse_block(block.text)
        for node in root.find_all(kind="assignment"):
            left, right = node.field("left"), node.field("right")
            if left is None or left.kind() != "attribute" or not is_false(right):
                continue
            obj, attr = left.field("object"), left.field("attribute")
            if obj is not None and attr is not None and attr.text() == "verify" and \
                    _is_session(ctx, obj, block.start_line):
                yield DetectorMatch(node, block.start_line, {"S": obj.text()})


def _is_session(ctx: FileContext, obj: SgNode | None, offset: int) -> bool:
    found = origin_call(ctx, obj, offset)
    if found is None and obj is not None and obj.kind() == "identifier":
        # `with requests.Session() as s:` binds `s` through the with-item
        found = _with_target(ctx, obj, offset)
    return found is not None and callee_is(call_info(ctx, *found), _SESSIONS)


def _with_target(ctx: FileContext, ident: SgNode, offset: int) -> tuple[SgNode, int] | None:
    line = line_of(ident, offset)
    for block in ctx.blocks_with((ident.text(),)):
        root = parse_block(block.text)
        for item in root.find_all(kind="as_pattern"):
            target = item.field("alias")
            children = item.named_children()
            value = children[0] if children else None
            if target is None or value is None or value.kind() != "call":
                continue
            if target.text() == ident.text() and line_of(item, block.start_line) <= line:
                return value, block.start_line
    return None
