"""Where a before/after pair of code differs: the edit site, and its normalized shape.

Both texts are parsed (tree-sitter, tolerant of half-written code) and walked in parallel from
the module down while exactly one child differs; where that stops is the minimal change. The
site is then widened to the nearest node a pattern can stand on (a call, an attribute, an
assignment, an import…): a bare identifier would match far too much.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from ast_grep_py import SgNode, SgRoot

# Nodes a learned pattern may be rooted at: expressions and simple statements.
ANCHOR_KINDS = frozenset({
    "call", "attribute", "subscript", "assignment", "augmented_assignment",
    "import_statement", "import_from_statement", "binary_operator", "comparison_operator",
    "boolean_operator", "not_operator", "unary_operator", "conditional_expression", "lambda",
    "list_comprehension", "dictionary_comprehension", "set_comprehension",
    "generator_expression", "return_statement", "delete_statement", "assert_statement",
    "raise_statement",
})
# Past these the change is not one expression or statement: nothing to anchor a pattern on.
_STOP_KINDS = frozenset({"module", "block", "function_definition", "class_definition",
                         "if_statement", "for_statement", "while_statement", "try_statement",
                         "with_statement", "decorated_definition", "ERROR"})
_TOKEN = re.compile(r"[A-Za-z_]\w*|\d[\w.]*|\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'|\S")
_NAME = re.compile(r"[A-Za-z_]\w*$")


def squeeze(text: str) -> str:
    """Code without whitespace: two spellings of one expression compare equal."""
    return "".join(text.split())


@dataclass
class EditSite:
    """One before/after pair and where it differs (ast-grep nodes of both parsed texts)."""

    before: str
    after: str
    b_anchor: SgNode
    a_anchor: SgNode
    path: list[int]  # child indices from the anchor down to the minimal change
    b_min: SgNode
    a_min: SgNode
    _roots: tuple[SgRoot, SgRoot] = field(repr=False, default=None)  # type: ignore[assignment]

    @property
    def lines(self) -> tuple[int, int]:
        """0-based first and last line of the anchor in the before text."""
        r = self.b_anchor.range()
        return r.start.line, r.end.line


class NoEditSite(ValueError):
    """The pair has no single expression or statement that changed (a reason for the report)."""


def _parses(text: str) -> bool:
    try:
        ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return True


def _children(node: SgNode) -> list[SgNode]:
    return [c for c in node.children() if c.kind() != "comment"]


def find_edit(before: str, after: str) -> EditSite:
    """The edit site of a pair; NoEditSite when there is none to learn from."""
    if squeeze(before) == squeeze(after):
        raise NoEditSite("before and after are the same code")
    if _parses(before) and not _parses(after):
        raise NoEditSite("the after does not parse (the rewrite was not finished)")
    b_root, a_root = SgRoot(before, "python"), SgRoot(after, "python")
    x, y = b_root.root(), a_root.root()
    trail: list[tuple[SgNode, SgNode, int]] = []  # (parent before, parent after, child index)
    while x.kind() == y.kind():
        cx, cy = _children(x), _children(y)
        if len(cx) != len(cy):
            break
        diff = [i for i, (p, q) in enumerate(zip(cx, cy)) if squeeze(p.text()) != squeeze(q.text())]
        if len(diff) != 1:
            break
        trail.append((x, y, diff[0]))
        x, y = cx[diff[0]], cy[diff[0]]
    b_min, a_min = x, y
    path: list[int] = []
    while x.kind() not in ANCHOR_KINDS:
        if x.kind() in _STOP_KINDS or not trail:
            raise NoEditSite(f"the change is not one expression or statement (it spans a "
                             f"{x.kind().replace('_', ' ')})")
        x, y, index = trail.pop()
        path.insert(0, index)
    return EditSite(before, after, x, y, path, b_min, a_min, (b_root, a_root))


def _abstract(text: str, shared: set[str], order: dict[str, int]) -> list[str]:
    """Tokens with carried names and literals (in `shared`) replaced by placeholders numbered
    in order of first appearance (`order`, filled as they come); attribute and keyword names
    stay as written (they are the API)."""
    tokens = _TOKEN.findall(text)
    out: list[str] = []
    for i, tok in enumerate(tokens):
        member = i > 0 and tokens[i - 1] == "."
        keyword = i + 1 < len(tokens) and tokens[i + 1] == "=" and (
            i + 2 >= len(tokens) or tokens[i + 2] != "=")
        if tok in shared and not member and not keyword:
            out.append(f"_{order.setdefault(tok, len(order))}")
        else:
            out.append(tok)
    return out


def _operands(text: str) -> set[str]:
    tokens = _TOKEN.findall(text)
    return {t for i, t in enumerate(tokens)
            if (_NAME.match(t) or t[0].isdigit() or t[0] in "'\"")
            and not (i > 0 and tokens[i - 1] == ".")}


def anchor_head(node: SgNode) -> str:
    """The name a pattern is about: a call's function name, an attribute's member, else the
    node kind."""
    kind = node.kind()
    if kind == "call":
        func = node.field("function")
        if func is not None:
            return func.text().rsplit(".", 1)[-1].strip()
    if kind == "attribute":
        attr = node.field("attribute")
        if attr is not None:
            return attr.text()
    if kind in ("import_from_statement", "import_statement"):
        module = node.field("module_name") or node.field("name")
        if module is not None:
            return module.text()
    return kind


LIST_KINDS = frozenset({"argument_list", "list", "tuple", "set", "dictionary"})


def items(node: SgNode) -> list[SgNode]:
    """The elements of a list-like node (its named children)."""
    return [c for c in _children(node) if c.is_named()]


def list_change(before: SgNode, after: SgNode) -> tuple[str, int, int, list[SgNode]] | None:
    """("+"|"-", prefix length, suffix length, changed items) when `after` is `before` with one
    run of elements inserted or deleted; None otherwise."""
    if before.kind() != after.kind() or before.kind() not in LIST_KINDS:
        return None
    ib, ia = items(before), items(after)
    if len(ib) == len(ia):
        return None
    sb, sa = [squeeze(n.text()) for n in ib], [squeeze(n.text()) for n in ia]
    p = 0
    while p < min(len(sb), len(sa)) and sb[p] == sa[p]:
        p += 1
    q = 0
    while q < min(len(sb), len(sa)) - p and sb[-1 - q] == sa[-1 - q]:
        q += 1
    if p + q != min(len(sb), len(sa)):
        return None
    if len(sa) > len(sb):
        return "+", p, q, ia[p:len(ia) - q]
    return "-", p, q, ib[p:len(ib) - q]


def _removed_keyword(node: SgNode) -> str:
    """A removed keyword argument is the same edit whatever its value: `skipna=…`."""
    name = node.field("name") if node.kind() == "keyword_argument" else None
    return f"{name.text()}=…" if name is not None else squeeze(node.text())


def edit_key(site: EditSite) -> str:
    """The shape of the edit: pairs with the same key are the same rewrite of the same API.

    The minimal change on both sides, with names and literals carried from before to after
    replaced by placeholders, plus the name the anchor is about.
    """
    change = list_change(site.b_min, site.a_min)
    if change is not None:  # an argument added or removed: the others do not matter
        sign, _, _, changed = change
        text = ", ".join(_removed_keyword(n) if sign == "-" else squeeze(n.text())
                         for n in changed)
        return f"{anchor_head(site.b_anchor)} :: ({sign} {' '.join(_TOKEN.findall(text))})"
    b, a = site.b_min.text(), site.a_min.text()
    shared = _operands(b) & _operands(a)
    order: dict[str, int] = {}
    left = " ".join(_abstract(b, shared, order))
    right = " ".join(_abstract(a, shared, order))
    return f"{anchor_head(site.b_anchor)} :: {left} => {right}"
