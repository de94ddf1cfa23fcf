"""From a cluster of before/after pairs to an ast-grep pattern and a rewrite template.

Anti-unification over the examples' edit sites: what is the same in every example stays as
written, what varies becomes a metavariable (`$V1`; the same values in the same examples are the
same variable, in the pattern and in the template). Argument lists of different lengths keep
their changed argument and generalize what is before and after it to `$$$R1`. Names carried
from the before into the after (`df.append(row)` -> `pd.concat([df, row])`) are variables even
when every example happens to use the same name: they are operands, not the API.

A generalization is only a candidate: `verify` runs it on every example, and it must flag each
before, turn it into its after, and flag no after.
"""

from __future__ import annotations

import ast
import itertools
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from ast_grep_py import SgNode, SgRoot

from spark_lsp.analysis.cards import Card
from spark_lsp.analysis.engine import AnalysisOptions, Analyzer
from spark_lsp.analysis.examples import fix_code
from spark_lsp.learning.edits import EditSite, _children, items, list_change, squeeze

log = logging.getLogger(__name__)

LIST_KINDS: dict[str, tuple[str, str]] = {
    "argument_list": ("(", ")"), "list": ("[", "]"), "tuple": ("(", ")"), "set": ("{", "}"),
    "dictionary": ("{", "}")}
MAX_VARIANTS = 4
# Matched whole: `'$V1'` inside a string would be a string holding a dollar sign, not a variable.
ATOMIC_KINDS = frozenset({"string", "concatenated_string", "integer", "float", "true", "false",
                          "none", "identifier"})
# Values around the change (arguments, receivers that are computed) are the user's data, not the
# API, even when every example happens to share them; names and dotted names stay as written.
VALUE_KINDS = frozenset({"call", "subscript", "string", "concatenated_string", "integer", "float",
                         "true", "false", "none", "binary_operator", "parenthesized_expression",
                         "list", "tuple", "dictionary", "set", "list_comprehension", "unary_operator"})
_DOTTED = re.compile(r"^[A-Za-z_][\w.]*$")


class CannotGeneralize(ValueError):
    """The examples do not share a shape a pattern can express (the reason is the message)."""


@dataclass
class Generalization:
    patterns: list[str]  # alternatives (an optional trailing `, $$$R` gives two)
    template: str
    constraints: dict[str, dict[str, str]] = field(default_factory=dict)
    variables: dict[str, list[str]] = field(default_factory=dict)  # name -> value per example
    absent_keywords: list[str] = field(default_factory=list)  # the call must not have these

    def rule(self, rule_id: str) -> dict[str, Any]:
        """The card rule: `pattern`, or `rule: {any: [...]}`, with constraints."""
        data: dict[str, Any] = {"id": rule_id}
        if len(self.patterns) == 1 and not self.absent_keywords:
            data["pattern"] = self.patterns[0]
        else:
            rule: dict[str, Any] = ({"pattern": self.patterns[0]} if len(self.patterns) == 1
                                    else {"any": [{"pattern": p} for p in self.patterns]})
            if self.absent_keywords:
                names = "|".join(re.escape(k) for k in self.absent_keywords)
                rule["not"] = {"has": {"field": "arguments", "has": {
                    "kind": "keyword_argument", "has": {"field": "name",
                                                        "regex": f"^({names})$"}}}}
            data["rule"] = rule
        if self.constraints:
            data["constraints"] = self.constraints
        return data


class _Vars:
    """Metavariables: one per distinct tuple of values (one value per example)."""

    def __init__(self) -> None:
        self.single: dict[tuple[str, ...], str] = {}
        self.multi: dict[tuple[str, ...], str] = {}
        self.values: dict[str, list[str]] = {}
        self.callee: set[str] = set()

    def var(self, nodes: list[SgNode]) -> str:
        key = tuple(squeeze(n.text()) for n in nodes)
        if key not in self.single:
            name = f"V{len(self.single) + 1}"
            self.single[key] = name
            self.values[name] = [n.text() for n in nodes]
        name = self.single[key]
        parent = nodes[0].parent()
        if parent is not None and parent.kind() == "call":
            func = parent.field("function")
            if func is not None and _same_node(func, nodes[0]):
                self.callee.add(name)
        return f"${name}"

    def many(self, texts: list[str]) -> str:
        key = tuple(squeeze(t) for t in texts)
        if key not in self.multi:
            name = f"R{len(self.multi) + 1}"
            self.multi[key] = name
            self.values[name] = texts
        return f"$$${self.multi[key]}"


def _same_node(a: SgNode, b: SgNode) -> bool:
    ra, rb = a.range(), b.range()
    return (ra.start.index, ra.end.index) == (rb.start.index, rb.end.index)


def _text(nodes: list[SgNode]) -> list[str]:
    return [squeeze(n.text()) for n in nodes]


def _same(nodes: list[SgNode]) -> bool:
    texts = _text(nodes)
    return all(t == texts[0] for t in texts)


def _gap(prev: SgNode, nxt: SgNode, source: str) -> str:
    return source[prev.range().end.index:nxt.range().start.index]


def _join(parts: list[str], kids: list[SgNode], source: str) -> str:
    out = parts[0]
    for i in range(1, len(parts)):
        out += _gap(kids[i - 1], kids[i], source) + parts[i]
    return out


class _Unifier:
    def __init__(self, sites: list[EditSite]) -> None:
        self.sites = sites
        self.vars = _Vars()
        self.absent_keywords: set[str] = set()  # an inserted keyword must not be there yet
        # names an example carries from its before into its after (operands, per example)
        self.carried = [_identifiers(s.a_min) for s in sites]

    # -- parts that are the same in before and after (off the edit path) ------------------
    def lgg(self, nodes: list[SgNode], source: str, at_edit: bool = False,
            context: bool = False) -> str:
        """Least general generalization of one subtree per example; `context`: a value beside
        the change, a variable even when all examples share it."""
        first = nodes[0]
        if context and first.kind() in VALUE_KINDS and all(n.is_named() for n in nodes):
            return self.vars.var(nodes)
        if context and all(n.kind() == "attribute" for n in nodes):
            # `<computed value>.method`: the value is data, the method name is the API
            objs = [n.field("object") for n in nodes]
            attrs = {a.text() for n in nodes if (a := n.field("attribute")) is not None}
            if all(o is not None and o.kind() in VALUE_KINDS for o in objs) and len(attrs) == 1:
                return f"{self.vars.var(objs)}.{attrs.pop()}"  # type: ignore[arg-type]
        if _same(nodes) and not (at_edit and self._carried(nodes)):
            return first.text()
        kinds = {n.kind() for n in nodes}
        kids = [_children(n) for n in nodes]
        if len(kinds) == 1 and kids[0] and all(len(k) == len(kids[0]) for k in kids) \
                and first.kind() not in ATOMIC_KINDS:
            try:
                parts = [self.lgg([k[j] for k in kids], source, at_edit, context)
                         for j in range(len(kids[0]))]
                return _join(parts, kids[0], source)
            except CannotGeneralize:
                pass
        if len(kinds) == 1 and first.kind() in LIST_KINDS and all(kids):
            open_, close = LIST_KINDS[first.kind()]
            inner = [n.text()[1:-1].strip() for n in nodes]
            return open_ + self.vars.many(inner) + close
        if all(n.is_named() for n in nodes):
            return self.vars.var(nodes)
        raise CannotGeneralize(f"the examples differ in `{first.text()}` in a way a pattern "
                               "cannot express")

    def _carried(self, nodes: list[SgNode]) -> bool:
        """An identifier operand (not a dotted name's part, a keyword or a called function)
        that each example also has in its after."""
        if any(n.kind() != "identifier" for n in nodes):
            return False
        parent = nodes[0].parent()
        if parent is None or parent.kind() == "attribute":
            return False
        if parent.kind() in ("call", "keyword_argument"):
            role = parent.field("function" if parent.kind() == "call" else "name")
            if role is not None and _same_node(role, nodes[0]):
                return False
        return all(n.text() in carried for n, carried in zip(nodes, self.carried))

    # -- the after side at the change ---------------------------------------------------------
    def after(self, nodes: list[SgNode], source: str) -> str:
        key = tuple(_text(nodes))
        if key in self.vars.single:
            return f"${self.vars.single[key]}"
        if _same(nodes):
            return nodes[0].text()
        kinds = {n.kind() for n in nodes}
        kids = [_children(n) for n in nodes]
        if len(kinds) == 1 and kids[0] and all(len(k) == len(kids[0]) for k in kids):
            parts = [self.after([k[j] for k in kids], source) for j in range(len(kids[0]))]
            return _join(parts, kids[0], source)
        if len(kinds) == 1 and nodes[0].kind() in LIST_KINDS:
            inner = tuple(squeeze(n.text()[1:-1]) for n in nodes)
            if inner in self.vars.multi:
                open_, close = LIST_KINDS[nodes[0].kind()]
                return open_ + f"$$${self.vars.multi[inner]}" + close
        raise CannotGeneralize(f"the after `{nodes[0].text()}` has parts that vary between "
                               "examples and do not come from the before")

    # -- along the edit path --------------------------------------------------------------------
    def on_path(self, bs: list[SgNode], as_: list[SgNode], paths: list[list[int]],
                b_src: str, a_src: str) -> tuple[list[str], str]:
        if not paths[0]:
            edited = self._list_edit(bs, as_, b_src)
            if edited is not None:
                return edited
            pattern = self.lgg(bs, b_src, at_edit=True)
            return [pattern], self.after(as_, a_src)
        if len({b.kind() for b in bs}) != 1 or any(not p for p in paths):
            raise CannotGeneralize("the examples change different kinds of code")
        kb = [_children(b) for b in bs]
        ka = [_children(a) for a in as_]
        pivots = [p[0] for p in paths]
        rest = [p[1:] for p in paths]
        if bs[0].kind() in LIST_KINDS:
            return self._list(bs, kb, ka, pivots, rest, b_src, a_src)
        if all(len(k) == len(kb[0]) for k in kb) and all(p == pivots[0] for p in pivots):
            variants: list[list[str]] = []
            tparts: list[str] = []
            for j in range(len(kb[0])):
                if j == pivots[0]:
                    pats, tpl = self.on_path([k[j] for k in kb], [k[j] for k in ka], rest,
                                             b_src, a_src)
                else:
                    part = self.lgg([k[j] for k in kb], b_src, context=True)
                    pats, tpl = [part], part
                variants.append(pats)
                tparts.append(tpl)
            return self._combine(variants, kb[0], b_src), _join(tparts, ka[0], a_src)
        raise CannotGeneralize(f"the examples differ in the shape of `{bs[0].text()}`")

    def _list_edit(self, bs: list[SgNode], as_: list[SgNode], b_src: str
                   ) -> tuple[list[str], str] | None:
        """Every example inserts (or deletes) the same elements in a list: `f(x)` ->
        `f(x, K=v)`, `f(a, verify=False, b)` -> `f(a, b)`; the other elements become `$$$R`."""
        changes = [list_change(b, a) for b, a in zip(bs, as_)]
        if any(c is None for c in changes):
            return None
        signs = {c[0] for c in changes}  # type: ignore[index]
        changed = {", ".join(squeeze(n.text()) for n in c[3]) for c in changes}  # type: ignore[index]
        if len(signs) != 1:
            return None
        sign = signs.pop()
        first = changes[0]
        text = ", ".join(n.text() for n in first[3])  # type: ignore[index]
        if len(changed) != 1:
            # deleting `K=<any value>`: the value becomes a variable
            removed = [c[3] for c in changes]  # type: ignore[index]
            if sign != "-" or any(len(r) != 1 or r[0].kind() != "keyword_argument"
                                  for r in removed):
                return None
            text = self.lgg([r[0] for r in removed], b_src)
        open_, close = LIST_KINDS[bs[0].kind()]

        prefix, _ = self._context([items(b)[:c[1]] for b, c in zip(bs, changes)])  # type: ignore[index]
        suffix, optional = self._context([items(b)[len(items(b)) - c[2]:] if c[2] else []  # type: ignore[index]
                                          for b, c in zip(bs, changes)])

        def joined(*parts: str) -> str:
            return open_ + ", ".join(p for p in parts if p) + close

        if sign == "-":
            patterns = [joined(prefix, text, suffix)]
            if optional:
                patterns.append(joined(prefix, text))
            return patterns, joined(prefix, suffix)
        if prefix.startswith("$$$") and suffix.startswith("$$$"):
            return None  # where to insert would be ambiguous
        kinds = {n.kind() for n in first[3]}  # type: ignore[index]
        if kinds != {"keyword_argument"} or bs[0].kind() != "argument_list":
            return None  # only a keyword can be told apart from what is already there
        self.absent_keywords |= {n.field("name").text() for n in first[3]  # type: ignore[index, union-attr]
                                 if n.field("name") is not None}
        return [joined(prefix, suffix)], joined(prefix, text, suffix)

    def _context(self, groups: list[list[SgNode]]) -> tuple[str, bool]:
        """The other elements of a list beside the change: nothing, or `$$$R` (which may match
        none) — they are context, whatever the examples held there."""
        texts = [", ".join(n.text() for n in g if n.is_named()) for g in groups]
        if not any(t.strip() for t in texts):
            return "", False
        return self.vars.many(texts), True

    def _combine(self, variants: list[list[str]], kids: list[SgNode], source: str) -> list[str]:
        combos = list(itertools.product(*variants))[:MAX_VARIANTS]
        return [_join(list(c), kids, source) for c in combos]

    def _list(self, bs: list[SgNode], kb: list[list[SgNode]], ka: list[list[SgNode]],
              pivots: list[int], rest: list[list[int]], b_src: str,
              a_src: str) -> tuple[list[str], str]:
        """`f(a, K=x, b)` over examples with other arguments around the changed one."""
        open_, close = LIST_KINDS[bs[0].kind()]
        pats, tpl = self.on_path([k[p] for k, p in zip(kb, pivots)],
                                 [k[p] for k, p in zip(ka, pivots)], rest, b_src, a_src)

        prefix, _ = self._context([k[1:p] for k, p in zip(kb, pivots)])
        suffix, optional = self._context([k[p + 1:-1] for k, p in zip(kb, pivots)])
        head = f"{prefix}, " if prefix else ""
        tail = f", {suffix}" if suffix else ""
        patterns = [f"{open_}{head}{p}{tail}{close}" for p in pats]
        if optional:  # `, $$$R` needs at least one argument there: also try without it
            patterns += [f"{open_}{head}{p}{close}" for p in pats]
        return patterns[:MAX_VARIANTS], f"{open_}{head}{tpl}{tail}{close}"


def _identifiers(node: SgNode) -> set[str]:
    found = {n.text() for n in node.find_all(kind="identifier")}
    if node.kind() == "identifier":
        found.add(node.text())
    return found


def generalize(sites: list[EditSite]) -> Generalization:
    """Anti-unify the examples' edit sites; CannotGeneralize says why not."""
    if not sites:
        raise CannotGeneralize("no examples")
    kinds = {s.b_anchor.kind() for s in sites}
    if len(kinds) != 1:
        raise CannotGeneralize(f"the examples change different kinds of code ({sorted(kinds)})")
    unifier = _Unifier(sites)
    patterns, template = unifier.on_path([s.b_anchor for s in sites],
                                         [s.a_anchor for s in sites],
                                         [list(s.path) for s in sites],
                                         sites[0].before, sites[0].after)
    patterns = list(dict.fromkeys(patterns))
    if not any(re.search(r"(?<![$\w])[A-Za-z_]\w*", p) for p in patterns):
        raise CannotGeneralize("the pattern keeps no name of its own: it would match any code")
    constraints = {}
    for name in sorted(unifier.vars.callee):
        values = unifier.vars.values[name]
        lasts = {v.rsplit(".", 1)[-1] for v in values if _DOTTED.match(v)}
        if len(lasts) == 1 and all(_DOTTED.match(v) for v in values):
            constraints[name] = {"regex": rf"(^|\.){re.escape(lasts.pop())}$"}
    for p in patterns:
        try:
            SgRoot("x = 1\n", "python").root().find_all(pattern=p)
        except Exception as exc:  # noqa: BLE001 - ast-grep raises plain Exception
            raise CannotGeneralize(f"the pattern `{p}` is not valid: {exc}") from None
    if unifier.absent_keywords and kinds != {"call"}:
        raise CannotGeneralize("an inserted keyword argument needs the call as anchor")
    return Generalization(patterns, template, constraints, unifier.vars.values,
                          sorted(unifier.absent_keywords))


# -- verification ------------------------------------------------------------------------------

def _parses(text: str) -> bool:
    try:
        ast.parse(text)
        return True
    except (SyntaxError, ValueError):
        return False


def verify(card: Card, pairs: list[tuple[str, str]]) -> list[str]:
    """Problems of `card` on its examples (empty: it holds): each before must be flagged and
    rewritten into its after, and no after may be flagged."""
    analyzer = Analyzer([card], AnalysisOptions())
    problems: list[str] = []
    for i, (before, after) in enumerate(pairs, start=1):
        found = analyzer.analyze(before)
        if not found:
            problems.append(f"example {i}: the pattern does not flag the before")
            continue
        if not any(f.fix is not None and f.fix.automatic for f in found):
            problems.append(f"example {i}: the rewrite does not parse there (fix dropped)")
            continue
        fixed = fix_code(analyzer, before, card.code)
        if _parses(before) and not _parses(fixed):
            problems.append(f"example {i}: the rewrite does not parse")
        elif squeeze(fixed) != squeeze(after):
            problems.append(f"example {i}: the rewrite gives `{_short(fixed)}`, not the after "
                            f"`{_short(after)}`")
        if analyzer.analyze(after):
            problems.append(f"example {i}: the pattern also flags the after")
    return problems


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
