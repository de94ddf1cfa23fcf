"""Matplotlib mistakes that need the order of statements: which Axes is current, which figure
is still open, what a loop creates and never closes."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass

from ast_grep_py import SgNode

from spark_lsp.analysis.context import FileContext
from spark_lsp.analysis.detectors import DetectorMatch, detector
from spark_lsp.analysis.detectors._nodes import (
    Call,
    call_info,
    callee_is,
    calls,
    enclosing_loops,
    following_statements,
    is_false,
    keyword,
    positional,
    statement_of,
)

PLT = "matplotlib.pyplot"
# pyplot function -> the method of the Axes (or Figure) it forwards to, same arguments.
AXES_METHODS = {
    "title": "set_title", "xlabel": "set_xlabel", "ylabel": "set_ylabel", "xlim": "set_xlim",
    "ylim": "set_ylim", "xscale": "set_xscale", "yscale": "set_yscale",
    **{name: name for name in (
        "legend", "grid", "plot", "scatter", "bar", "barh", "hist", "axhline", "axvline",
        "axhspan", "axvspan", "fill_between", "text", "annotate", "errorbar", "boxplot",
        "imshow", "step", "stem", "pie", "violinplot", "hlines", "vlines", "contour",
        "contourf", "loglog", "semilogx", "semilogy", "stackplot", "hexbin", "axis",
        "tick_params", "margins")},
}
FIGURE_METHODS = {"suptitle": "suptitle", "tight_layout": "tight_layout"}
_PYPLOT_FORWARDS = tuple(AXES_METHODS) + tuple(FIGURE_METHODS)
# pyplot wrappers that also make their result the current image for a later `plt.colorbar()`;
# the Axes methods do not, so these are left alone when such a colorbar follows.
_MAPPABLES = {"imshow", "scatter", "contour", "contourf", "hexbin"}
# pyplot calls and methods after which the current Axes may no longer be the one you hold.
_NEW_CURRENT = {"figure", "subplots", "subplot", "axes", "sca", "subplot2grid", "subplot_mosaic",
                "twinx", "twiny", "clf", "close", "add_subplot", "add_axes", "inset_axes",
                "gcf", "cla"}
_PLOTTING_WORDS = ("plot", "fig", "chart", "draw", "graph", "heatmap", "show")


def _plt(call: Call, *names: str) -> bool:
    return callee_is(call, [f"{PLT}.{n}" for n in names]) and \
        (call.qualname or "").startswith(PLT + ".")


# -- SPK039: pyplot state machine next to an Axes you hold -------------------------------------
@dataclass(frozen=True)
class _Holder:
    line: int
    scope: tuple[int, int] | None
    fig: str | None
    ax: str


def _in_order(found: list[Call]) -> list[Call]:
    return sorted(found, key=lambda c: (c.line, c.node.range().start.column))


@detector("plt_with_held_axes")
def find_plt_with_held_axes(ctx: FileContext) -> Iterator[DetectorMatch]:
    holders = [h for c in _in_order(calls(ctx, ("subplots",))) if _plt(c, "subplots")
               for h in [_holder(c)] if h]
    if not holders:
        return
    # Only calls in the scope (function, or module level) of a holder matter.
    scopes = {h.scope for h in holders}
    in_scope: dict[tuple[int, int] | None, list[Call]] = {s: [] for s in scopes}
    for c in calls(ctx):
        if c.scope in scopes:
            in_scope[c.scope].append(c)
    held = {h.ax for h in holders} | {h.fig for h in holders if h.fig}
    breaks = {s: sorted(c.line for c in found if _breaks_current(c, held))
              for s, found in in_scope.items()}
    mixing = {h: _uses(in_scope[h.scope], h, holders) for h in holders}
    colorbars = [c for c in calls(ctx, ("colorbar",)) if _plt(c, "colorbar")]
    for call in _in_order(calls(ctx, _PYPLOT_FORWARDS)):
        name = (call.qualname or "").rsplit(".", 1)[-1]
        if not _plt(call, *AXES_METHODS, *FIGURE_METHODS):
            continue
        holder = max((h for h in holders if h.scope == call.scope and h.line < call.line),
                     key=lambda h: h.line, default=None)
        if holder is None:
            continue
        lines = breaks[call.scope]
        after = bisect_right(lines, holder.line)
        if after < len(lines) and lines[after] < call.line:
            continue  # something in between may have changed the current Axes
        if not mixing[holder]:
            continue
        if name in _MAPPABLES and any(not positional(c.node) and c.scope == call.scope
                                      for c in colorbars):
            continue
        target = holder.ax if name in AXES_METHODS else holder.fig
        binding = ctx.infer.binding_at(target or "", call.line)
        if target is None or binding is None or binding.line != holder.line:
            continue
        func = call.node.field("function")
        if func is None or call.receiver is None:
            continue
        yield DetectorMatch(func, call.offset, {
            "PLT": call.receiver.text(), "NAME": name, "AX": target,
            "METHOD": AXES_METHODS.get(name) or FIGURE_METHODS[name]})


def _holder(call: Call) -> _Holder | None:
    """`fig, ax = plt.subplots()` with a single Axes: who holds the figure and the Axes."""
    parent = call.node.parent()
    if parent is None or parent.kind() != "assignment":
        return None
    left = parent.field("left")
    targets = left.named_children() if left is not None else []
    if len(targets) != 2 or not all(t.kind() == "identifier" for t in targets):
        return None
    args = positional(call.node)
    if any(a.text() != "1" for a in args[:2]) or len(args) > 2:
        return None
    for key in ("nrows", "ncols"):
        value = keyword(call.node, key)
        if value is not None and value.text() != "1":
            return None
    if is_false(keyword(call.node, "squeeze")) or targets[1].text() == "_":
        return None
    fig = targets[0].text()
    return _Holder(call.line, call.scope, None if fig == "_" else fig, targets[1].text())


def _breaks_current(call: Call, held: set[str]) -> bool:
    """May this call change the current Axes (new figure, twin axes, a plotting helper)?"""
    if call.qualname and call.qualname.startswith(PLT + "."):
        last = call.qualname.rsplit(".", 1)[-1]
        return last in _NEW_CURRENT
    if call.method in _NEW_CURRENT:
        return True
    if call.receiver is not None and call.receiver.text() in held:
        return False
    func = call.node.field("function")
    text = func.text().lower() if func is not None else ""
    return any(w in text for w in _PLOTTING_WORDS) and keyword(call.node, "ax") is None


def _uses(scope_calls: list[Call], holder: _Holder, holders: list[_Holder]) -> bool:
    """The code does draw on the Axes it holds (`ax.plot`, `df.plot(ax=ax)`) before the next
    `plt.subplots()`: it mixes the two styles. `scope_calls`: the calls in the holder's scope."""
    end = min((h.line for h in holders if h.scope == holder.scope and h.line > holder.line),
              default=float("inf"))
    for c in scope_calls:
        if c.scope != holder.scope or not holder.line < c.line < end:
            continue
        given = keyword(c.node, "ax")
        if (c.receiver is not None and c.receiver.text() == holder.ax) or \
                (given is not None and given.text() == holder.ax):
            return True
    return False


# -- SPK040: plt.show() inside a loop ---------------------------------------------------------
@detector("show_in_loop")
def find_show_in_loop(ctx: FileContext) -> Iterator[DetectorMatch]:
    if any(_plt(c, "ion", "pause") for c in calls(ctx, ("ion", "pause"))):
        return  # interactive/animated plotting shows inside loops on purpose
    for call in calls(ctx, ("show",)):
        if not _plt(call, "show") or positional(call.node) or is_false(keyword(call.node, "block")):
            continue
        loops = enclosing_loops(call.node)
        if loops and loops[0].kind() == "for_statement" and call.receiver is not None:
            yield DetectorMatch(call.node, call.offset, {"PLT": call.receiver.text()})


# -- SPK041: a figure per iteration, saved and never closed -----------------------------------
MANY_FIGURES = 20  # matplotlib warns from 20 open figures on (figure.max_open_warning)


@detector("figures_not_closed", scope="block", words=("savefig",))
def find_figures_not_closed(ctx: FileContext) -> Iterator[DetectorMatch]:
    by_loop: dict[tuple[int, int], tuple[SgNode, list[Call]]] = {}
    for call in calls(ctx):
        for loop in enclosing_loops(call.node):
            key = (call.offset, loop.range().start.index)
            by_loop.setdefault(key, (loop, []))[1].append(call)
    for loop, loop_calls in by_loop.values():
        match = _unclosed_figure(ctx, loop, loop_calls)
        if match is not None:
            yield match


def _same(a: SgNode, b: SgNode) -> bool:
    return a.range().start.index == b.range().start.index and a.kind() == b.kind()


def _unclosed_figure(ctx: FileContext, loop: SgNode,
                     loop_calls: list[Call]) -> DetectorMatch | None:
    """One figure created per iteration of `loop`, saved, never closed nor shown."""
    creations = [c for c in loop_calls if _plt(c, "figure", "subplots", "subplot_mosaic")]
    if len(creations) != 1 or not _same(enclosing_loops(creations[0].node)[0], loop):
        return None
    created = creations[0]
    if _plt(created, "figure") and (positional(created.node) or keyword(created.node, "num")):
        return None  # `plt.figure(1)` reuses one figure
    if any(_plt(c, "close", "show") or c.method == "close" for c in loop_calls):
        return None
    saves = [c for c in loop_calls if c.method == "savefig"]
    if not saves or created.receiver is None or _few_iterations(loop):
        return None
    save = max(saves, key=lambda c: c.node.range().end.index)
    statement = statement_of(save.node)
    if statement.kind() != "expression_statement" or statement.text() != save.node.text():
        return None
    if _used_after(loop, statement, _figure_names(created) | {created.receiver.text()}):
        return None
    fig = next(iter(_figure_names(created, figure_only=True)), "")
    return DetectorMatch(save.node, save.offset, {
        "SAVE": _dedent_continuation(ctx, save), "PLT": created.receiver.text(), "FIG": fig,
        "CREATE": created.node.text()})


def _few_iterations(loop: SgNode) -> bool:
    """`for i in range(3)` or a literal list of a few items: a handful of figures is fine."""
    if loop.kind() != "for_statement":
        return False
    right = loop.field("right")
    if right is None:
        return False
    if right.kind() in ("list", "tuple"):
        return len(right.named_children()) <= MANY_FIGURES
    if right.kind() == "call" and (right.field("function") or right).text() == "range":
        args = positional(right)
        if args and all(a.kind() == "integer" for a in args):
            bound = int(args[1].text() if len(args) > 1 else args[0].text(), 0)
            start = int(args[0].text(), 0) if len(args) > 1 else 0
            return bound - start <= MANY_FIGURES
    return False


def _figure_names(created: Call, figure_only: bool = False) -> set[str]:
    """Names bound to the new figure (and its Axes) by the creating assignment."""
    parent = created.node.parent()
    if parent is None or parent.kind() != "assignment":
        return set()
    left = parent.field("left")
    if left is None:
        return set()
    if left.kind() == "identifier":
        return {left.text()} if left.text() != "_" else set()
    targets = [t.text() for t in left.named_children() if t.kind() == "identifier"]
    if figure_only:
        return {targets[0]} if targets and targets[0] != "_" and \
            left.named_children()[0].kind() == "identifier" else set()
    return {t for t in targets if t != "_"}


def _used_after(loop: SgNode, statement: SgNode, names: set[str]) -> bool:
    end = statement.range().end.index
    body = loop.field("body")
    if body is None:
        return True
    return any(ident.range().start.index > end and ident.text() in names
               for ident in body.find_all(kind="identifier"))


def _dedent_continuation(ctx: FileContext, save: Call) -> str:
    """The call's text with its continuation lines relative to its first line (the fix engine
    indents every line after the first)."""
    row = save.node.range().start.line + save.offset
    line = ctx.lines[row] if row < len(ctx.lines) else ""
    indent = line[: len(line) - len(line.lstrip())]
    first, *rest = save.node.text().split("\n")
    return "\n".join([first] + [r.removeprefix(indent) for r in rest])


# -- SPK046: plt.savefig after plt.show --------------------------------------------------------
_HARMLESS = {"print", "len", "str", "repr", "int", "float", "round", "format"}


@detector("savefig_after_show")
def find_savefig_after_show(ctx: FileContext) -> Iterator[DetectorMatch]:
    for call in calls(ctx, ("show",)):
        if not _plt(call, "show") or is_false(keyword(call.node, "block")):
            continue
        statement = statement_of(call.node)
        if statement.kind() != "expression_statement":
            continue
        for sibling, offset in following_statements(ctx, statement, call.offset):
            if sibling.kind() == "comment":
                continue
            inner = [call_info(ctx, n, offset) for n in sibling.find_all(kind="call")]
            saves = [c for c in inner if _plt(c, "savefig")]
            if saves and sibling.kind() == "expression_statement":
                yield DetectorMatch(saves[0].node, offset, {
                    "PLT": saves[0].receiver.text() if saves[0].receiver else "plt"})
            if saves or any((c.qualname or "").rsplit(".", 1)[-1] not in _HARMLESS
                            or not (c.qualname or "").startswith("builtins.") for c in inner):
                break
