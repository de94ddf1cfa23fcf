"""From a match to a finding: metavariable values, span, suppression comments, fix, message."""

from __future__ import annotations

import logging
import re

from ast_grep_py import SgNode

from spark_lsp.analysis.cards import Card, FixSpec, Rule, apply_transforms, render, template_vars
from spark_lsp.analysis.context import FileContext
from spark_lsp.analysis.findings import Finding, Fix, Position, Span
from spark_lsp.analysis.fixes import build_fix, fix_keeps_parse
from spark_lsp.analysis.source import Block

log = logging.getLogger(__name__)

_IGNORE = re.compile(r"#\s*spark:\s*ignore(?:\[(?P<codes>[A-Z0-9,\s]+)\])?", re.IGNORECASE)


def build_finding(ctx: FileContext, card: Card, rule: Rule, node: SgNode, offset: int,
                  metavars: dict[str, str] | None, severity: str, block: Block | None = None
                  ) -> tuple[Finding, tuple[str, str]] | None:
    """A match's finding without its fingerprint, and the key that numbers it; None when a
    `# spark: ignore` comment suppresses it."""
    spec: FixSpec = rule.fix or card.fix
    values = dict(metavars or {})
    if metavars is None:
        values.update(_metavars(node, card, rule, spec, block))
    target = node
    target_var = spec.target or rule.target
    if target_var and metavars is None:
        target = node.get_match(target_var) or node
    span = _span(target, offset)
    if _suppressed(ctx.lines, span, card.code):
        return None
    matched = target.text()
    key = (card.code, re.sub(r"\s+", "", matched))
    line = ctx.lines[span.start.line] if span.start.line < len(ctx.lines) else ""
    indent = line[: len(line) - len(line.lstrip())]
    fix: Fix | None = build_fix(spec, ctx, span, values, indent)
    home = block or ctx.block_at(span.start.line)
    if fix is not None and fix.automatic and home is not None and \
            not fix_keeps_parse(home.text, home.start_line, fix):
        log.info("%s: fix dropped at line %d: it would not parse", card.code, span.start.line + 1)
        fix = None
    message = render(rule.message or card.message, values)
    return Finding(code=card.code, title=card.title, message=message, severity=severity,
                   span=span, matched=matched, fingerprint="", url=card.url,
                   fix=fix, rule_id=rule.id, metavars=values), key


def _metavars(node: SgNode, card: Card, rule: Rule, spec: FixSpec,
              block: Block | None) -> dict[str, str]:
    """Values of the metavariables used by the message and fix templates (and transforms)."""
    wanted = template_vars(spec.template or "") + template_vars(rule.message or card.message)
    sources = [(str(t.get(k, {}).get("source", "")).lstrip("$"), True)
               for t in rule.transform.values() if isinstance(t, dict)
               for k in ("replace", "substring") if k in t]
    values: dict[str, str] = {}
    for name, multi in sources + wanted:
        if name in values or name in rule.transform:
            continue
        multi = multi or name.startswith("$$")
        name = name.lstrip("$")
        parts = node.get_multiple_matches(name) if block is not None else []
        if parts:
            start = parts[0].range().start.index
            end = parts[-1].range().end.index
            values[name] = block.text[start:end]  # type: ignore[union-attr]
            continue
        sub = node.get_match(name)
        if sub is not None:
            values[name] = sub.text()
        elif multi:
            values[name] = ""
    apply_transforms(rule.transform, values)
    return values


def _span(node: SgNode, offset: int) -> Span:
    r = node.range()
    return Span(Position(r.start.line + offset, r.start.column),
                Position(r.end.line + offset, r.end.column))


def _suppressed(lines: list[str], span: Span, code: str) -> bool:
    for row in {span.start.line, span.end.line}:
        if row >= len(lines):
            continue
        m = _IGNORE.search(lines[row])
        if m is None:
            continue
        codes = m.group("codes")
        if codes is None or code in {c.strip().upper() for c in codes.split(",")}:
            return True
    return False
