"""Detection: run practice cards over a file and produce findings (no LSP, no database)."""

from __future__ import annotations

import hashlib
import logging
import re
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from ast_grep_py import SgNode

from spark_lsp.analysis.cards import Card, FixSpec, Rule, render
from spark_lsp.analysis.context import FileContext
from spark_lsp.analysis.detectors import DETECTORS, DetectorMatch
from spark_lsp.analysis.findings import Finding, Position, Span
from spark_lsp.analysis.fixes import build_fix, fix_keeps_parse
from spark_lsp.analysis.source import Block, parse_block
from spark_lsp.analysis.types import type_matches

log = logging.getLogger(__name__)

_IGNORE = re.compile(r"#\s*spark:\s*ignore(?:\[(?P<codes>[A-Z0-9,\s]+)\])?", re.IGNORECASE)
_WORD = re.compile(r"(?<![$\w])[A-Za-z_]\w{2,}")
MAX_FILE_CHARS = 5_000_000


@dataclass
class AnalysisOptions:
    select: set[str] | None = None  # None: all codes
    ignore: set[str] = field(default_factory=set)
    severity: dict[str, str] = field(default_factory=dict)  # code (or "*") -> severity
    versions: dict[str, str] = field(default_factory=dict)  # installed library versions

    def enabled(self, code: str) -> bool:
        if any(code.startswith(i) for i in self.ignore):
            return False
        return self.select is None or any(code.startswith(s) for s in self.select)


@dataclass(frozen=True)
class _CompiledRule:
    card: Card
    rule: Rule
    words: tuple[str, ...]  # literal words a block must contain for the pattern to match


def _required_words(rule: Rule) -> tuple[str, ...]:
    cfg = (rule.config or {}).get("rule", {})
    pattern = cfg.get("pattern") if isinstance(cfg.get("pattern"), str) else None
    if not pattern:
        return ()
    return tuple(sorted(set(_WORD.findall(pattern))))


class Analyzer:
    """Holds compiled cards and a per-block cache of pattern matches; thread-compatible."""

    def __init__(self, cards: Iterable[Card], options: AnalysisOptions | None = None) -> None:
        self.options = options or AnalysisOptions()
        self.cards = [c for c in cards if c.status != "retired"]
        self._pattern_rules = [
            _CompiledRule(c, r, _required_words(r)) for c in self.cards for r in c.rules
            if r.config is not None
        ]
        self._detector_rules = [(c, r) for c in self.cards for r in c.rules if r.detector]
        self._cache: OrderedDict[str, list[tuple[int, SgNode]]] = OrderedDict()
        self._active_codes: dict[str, bool] = {}

    # -- detection -------------------------------------------------------------------------
    def analyze(self, text: str, filename: str = "") -> list[Finding]:
        if len(text) > MAX_FILE_CHARS:
            log.warning("%s: %d characters, over the %d limit; not analysed", filename,
                        len(text), MAX_FILE_CHARS)
            return []
        ctx = FileContext.from_text(text)
        findings: list[Finding] = []
        seen: dict[tuple[str, str], int] = {}
        for block in ctx.blocks:
            for idx, node in self._block_matches(block):
                crule = self._pattern_rules[idx]
                if not self._active(crule.card):
                    continue
                f = self._finding_from_pattern(ctx, crule.card, crule.rule, node, block, seen)
                if f:
                    findings.append(f)
        for card, rule in self._detector_rules:
            if not self._active(card):
                continue
            try:
                matches = list(DETECTORS[rule.detector](ctx))  # type: ignore[index]
            except Exception:  # a broken detector must not take the others down
                log.exception("detector %s failed on %s", rule.detector, filename or "<text>")
                continue
            for m in matches:
                f = self._finding(ctx, card, rule, m.node, m.offset, m.metavars, seen)
                if f:
                    findings.append(f)
        findings = _dedupe(findings)
        for f in findings:
            f.filename = filename
        return findings

    def _active(self, card: Card) -> bool:
        active = self._active_codes.get(card.code)
        if active is None:
            active = self.options.enabled(card.code) and card.applies_to(self.options.versions)
            self._active_codes[card.code] = active
        return active

    def _block_matches(self, block: Block) -> list[tuple[int, SgNode]]:
        key = block.text
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        root = parse_block(block.text)
        text = block.text
        matches: list[tuple[int, SgNode]] = []
        for idx, crule in enumerate(self._pattern_rules):
            if crule.words and not all(w in text for w in crule.words):
                continue
            try:
                found = root.find_all(crule.rule.config)  # type: ignore[arg-type]
            except Exception:
                log.exception("rule %s failed", crule.rule.id)
                continue
            matches.extend((idx, node) for node in found)
        self._cache[key] = matches
        if len(self._cache) > 50_000:
            self._cache.popitem(last=False)
        return matches

    # -- from a match to a finding -----------------------------------------------------------
    def _finding_from_pattern(self, ctx: FileContext, card: Card, rule: Rule, node: SgNode,
                              block: Block, seen: dict[tuple[str, str], int]) -> Finding | None:
        offset = block.start_line
        for var, wanted in rule.types.items():
            sub = node.get_match(var)
            if sub is None or not any(type_matches(ctx.type_of(sub, offset), w) for w in wanted):
                return None
        for var, unwanted in rule.not_types.items():
            sub = node.get_match(var)
            if sub is not None and any(type_matches(ctx.type_of(sub, offset), w) for w in unwanted):
                return None
        for var, globs in rule.qualname.items():
            sub = node.get_match(var)
            q = ctx.qualname_of(sub, offset) if sub is not None else None
            if q is None or not any(fnmatchcase(q, g) for g in globs):
                return None
        if rule.requires_import and not all(ctx.facts.uses(lib) for lib in rule.requires_import):
            return None
        return self._finding(ctx, card, rule, node, offset, None, seen, block)

    def _finding(self, ctx: FileContext, card: Card, rule: Rule, node: SgNode, offset: int,
                 metavars: dict[str, str] | None, seen: dict[tuple[str, str], int],
                 block: Block | None = None) -> Finding | None:
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
        seen[key] = seen.get(key, 0) + 1
        fingerprint = hashlib.blake2b(
            f"{key[0]}\0{key[1]}\0{seen[key]}".encode("utf-8", "surrogatepass"), digest_size=8
        ).hexdigest()
        line = ctx.lines[span.start.line] if span.start.line < len(ctx.lines) else ""
        indent = line[: len(line) - len(line.lstrip())]
        fix = build_fix(spec, ctx, span, values, indent)
        if fix.automatic and not fix_keeps_parse(ctx.text, fix):
            log.info("%s: fix dropped at line %d: it would not parse", card.code, span.start.line + 1)
            fix = None
        message = render(rule.message or card.message, values)
        severity = self.options.severity.get(card.code, self.options.severity.get("*", card.severity))
        return Finding(code=card.code, title=card.title, message=message, severity=severity,
                       span=span, matched=matched, fingerprint=fingerprint, url=card.url,
                       fix=fix, rule_id=rule.id, metavars=values)


def _metavars(node: SgNode, card: Card, rule: Rule, spec: FixSpec,
              block: Block | None) -> dict[str, str]:
    """Values of the metavariables used by the message and fix templates."""
    from spark_lsp.analysis.cards import template_vars

    wanted = template_vars(spec.template or "") + template_vars(rule.message or card.message)
    values: dict[str, str] = {}
    for name, multi in wanted:
        if name in values:
            continue
        transformed = node.get_transformed(name)
        if transformed is not None:
            values[name] = transformed
            continue
        if multi and block is not None:
            parts = node.get_multiple_matches(name)
            if parts:
                start = parts[0].range().start.index
                end = parts[-1].range().end.index
                values[name] = block.text[start:end]
            else:
                values[name] = ""
            continue
        sub = node.get_match(name)
        if sub is not None:
            values[name] = sub.text()
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


def _dedupe(findings: list[Finding]) -> list[Finding]:
    """One finding per (code, span); sorted by position."""
    out: dict[tuple[str, Span], Finding] = {}
    for f in findings:
        out.setdefault((f.code, f.span), f)
    return sorted(out.values(), key=lambda f: (f.span.start, f.code))


__all__ = ["Analyzer", "AnalysisOptions", "DetectorMatch", "Finding"]
