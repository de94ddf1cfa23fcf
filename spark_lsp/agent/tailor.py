"""Before/after examples in the user's own names, guaranteed to parse.

In order of preference: the finding's own fix applied to the user's lines; the card's fix
template filled with the finding's metavariables; the card's example with its variables and
column names renamed to the user's; a call built from the top documentation hit on the user's
object. Every candidate must pass `ast.parse`; the card's example, as written, is the fallback.
"""

from __future__ import annotations

import ast
import io
import re
import textwrap
import tokenize
from dataclasses import asdict, dataclass
from typing import Any

from spark_lsp.agent.intent import Intent, infer_intent
from spark_lsp.agent.retrieve import CardHit, DocRef
from spark_lsp.analysis.cards import Card, render
from spark_lsp.analysis.findings import Finding
from spark_lsp.analysis.types import type_matches

CONVENTIONAL_ALIASES = {"pandas": "pd", "numpy": "np", "matplotlib.pyplot": "plt",
                        "dask.dataframe": "dd", "tensorflow": "tf", "seaborn": "sns"}
_KEY_STRING = re.compile(r"""\[\s*(?P<q>["'])(?P<name>[^"'\n]{1,60})(?P=q)\s*[\],]""")


@dataclass
class Example:
    before: str
    after: str
    origin: str  # fix | template | card-renamed | card | docs | none
    uses_user_names: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parses(code: str) -> bool:
    """True when `code` (dedented; a trailing block header gets a body) is valid Python."""
    if not code.strip():
        return False
    text = textwrap.dedent(code)
    for candidate in (text, text.rstrip() + "\n    pass\n"):
        try:
            ast.parse(candidate)
            return True
        except (SyntaxError, ValueError):
            continue
    return False


def _user_names_in(code: str, intent: Intent) -> bool:
    words = set(re.findall(r"[A-Za-z_]\w*", code))
    ours = set(intent.names) | {o.name for o in intent.objects}
    return bool(words & ours) or any(f'"{c}"' in code or f"'{c}'" in code for c in intent.columns)


def _from_fix(finding: Finding, lines: list[str]) -> Example | None:
    from spark_lsp.server.snippets import finding_lines, fixed_lines  # plain text helpers

    after = fixed_lines(lines, finding)
    if after is None:
        return None
    before = finding_lines(lines, finding)
    if not parses(after):
        return None
    return Example(textwrap.dedent(before), textwrap.dedent(after), "fix")


def _from_template(finding: Finding, card: Card, lines: list[str]) -> Example | None:
    template = card.fix.template
    if not template or not finding.matched:
        return None
    rendered = render(template, dict(finding.metavars))
    if "$" in rendered:  # a metavariable the finding did not capture
        return None
    first, last = finding.span.start.line, finding.span.end.line
    before = "\n".join(lines[first:last + 1])
    if finding.matched not in before:
        return None
    after = before.replace(finding.matched, rendered, 1)
    if not parses(after):
        return None
    return Example(textwrap.dedent(before), textwrap.dedent(after), "template")


def _rename(code: str, names: dict[str, str], columns: dict[str, str]) -> str:
    """Rename NAME tokens and column-key strings in place; formatting and comments are kept."""
    lines = code.split("\n")
    edits: list[tuple[int, int, int, str]] = []  # row (0-based), start col, end col, text
    tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    for i, tok in enumerate(tokens):
        (srow, scol), (erow, ecol) = tok.start, tok.end
        if srow != erow:
            continue
        prev = tokens[i - 1].string if i else ""
        if tok.type == tokenize.NAME and tok.string in names and prev != ".":
            edits.append((srow - 1, scol, ecol, names[tok.string]))
        elif tok.type == tokenize.STRING and tok.string[:1] in "\"'" and \
                tok.string[1:-1] in columns and len(tok.string) >= 2:
            q = tok.string[0]
            edits.append((srow - 1, scol, ecol, f"{q}{columns[tok.string[1:-1]]}{q}"))
    for row, start, end, text in sorted(edits, reverse=True):
        line = lines[row]
        lines[row] = line[:start] + text + line[end:]
    return "\n".join(lines)


def _from_card_example(card: Card, intent: Intent) -> Example | None:
    if not card.examples:
        return None
    ex = card.examples[0]
    bad, good = ex.bad.rstrip("\n"), ex.good.rstrip("\n")
    theirs = infer_intent(bad + "\n" + good)
    mapping: dict[str, str] = {}
    used: set[str] = set()
    ours = [o for o in intent.objects if o.name not in used]
    for obj in theirs.objects:
        for mine in ours:
            if mine.name in used or mine.name == obj.name:
                continue
            if type_matches(mine.type, obj.type) or type_matches(obj.type, mine.type) or \
                    mine.type == obj.type:
                mapping[obj.name] = mine.name
                used.add(mine.name)
                break
    # never rename onto a name the example already uses for something else
    example_words = set(re.findall(r"[A-Za-z_]\w*", bad + good))
    mapping = {k: v for k, v in mapping.items() if v not in example_words}
    column_map = dict(zip(theirs.columns, [c for c in intent.columns if c not in theirs.columns]))
    if not mapping and not column_map:
        return Example(bad, good, "card")
    try:
        before, after = _rename(bad, mapping, column_map), _rename(good, mapping, column_map)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return Example(bad, good, "card")
    if parses(before) and parses(after):
        return Example(before, after, "card-renamed")
    return Example(bad, good, "card")


def _alias_for(module: str, intent_imports: dict[str, str]) -> tuple[str, str | None]:
    for alias, qual in intent_imports.items():
        if qual == module:
            return alias, None
    alias = CONVENTIONAL_ALIASES.get(module, module.split(".")[-1])
    line = f"import {module} as {alias}" if alias != module else f"import {module}"
    return alias, line


def _from_docs(doc: DocRef, intent: Intent, imports: dict[str, str]) -> Example | None:
    """`df.groupby(...)` on the user's object, or `np.argsort(a)` with the user's array."""
    owner, _, member = doc.object.rpartition(".")
    if not owner or not member.isidentifier():
        return None
    call = "" if doc.kind in ("property", "attribute", "data") else "(...)"
    target = next((o for o in intent.objects
                   if type_matches(o.type, owner) or o.type == owner), None)
    before = _focus_code(intent)
    if target is not None and doc.kind in ("method", "property", "attribute", ""):
        after = f"{target.name}.{member}{call}"
    else:
        module = owner
        alias, import_line = _alias_for(module, imports)
        arg = next((o.name for o in intent.objects if o.library == doc.library), None)
        args = f"({arg}, ...)" if arg and call else call
        after = (import_line + "\n" if import_line else "") + f"{alias}.{member}{args}"
        if doc.kind == "class":
            after = (import_line + "\n" if import_line else "") + f"{alias}.{member}(...)"
    result_name = _assigned_name(before)
    if result_name and not after.startswith("import"):
        after = f"{result_name} = {after}"
    elif result_name:
        head, _, last = after.rpartition("\n")
        after = f"{head}\n{result_name} = {last}"
    if not parses(after):
        return None
    return Example(before, after, "docs")


def _focus_code(intent: Intent) -> str:
    if not intent.window.strip():
        return ""
    lines = intent.window.split("\n")
    if intent.position_line is not None:
        i = intent.position_line - intent.first_line
        lines = lines[i:i + 1]
    else:
        lines = [ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")][-3:]
    return textwrap.dedent("\n".join(lines)).strip("\n")


def _assigned_name(code: str) -> str | None:
    m = re.match(r"\s*([A-Za-z_]\w*)\s*=[^=]", code.split("\n")[-1] if code else "")
    return m.group(1) if m else None


def tailored_example(intent: Intent, card: CardHit | None, docs: list[DocRef],
                     lines: list[str], imports: dict[str, str]) -> Example:
    """The best example that parses; `Example(..., origin="none")` only when nothing does."""
    finding = intent.finding
    candidates: list[Example | None] = []
    if finding is not None and card is not None and card.card.code == finding.code:
        candidates += [_from_fix(finding, lines), _from_template(finding, card.card, lines)]
    if card is not None:
        candidates.append(_from_card_example(card.card, intent))
    elif docs:
        candidates += [_from_docs(d, intent, imports) for d in docs[:3]]
    for ex in candidates:
        if ex is not None and parses(ex.after):
            ex.uses_user_names = _user_names_in(ex.after, intent)
            return ex
    if card is not None and card.card.examples:
        ex0 = card.card.examples[0]
        return Example(ex0.bad.rstrip("\n"), ex0.good.rstrip("\n"), "card")
    return Example("", "", "none")
