"""Detection: run practice cards over a file and produce findings (no LSP, no database)."""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from ast_grep_py import SgNode

from spark_lsp.analysis.cards import Card, Rule
from spark_lsp.analysis.context import FileContext
from spark_lsp.analysis.detectors import DETECTOR_INFO, DetectorMatch
from spark_lsp.analysis.facts import EVERY
from spark_lsp.analysis.findings import Finding, Span
from spark_lsp.analysis.fixes import import_row
from spark_lsp.analysis.incremental import (
    BlockCache,
    BlockResult,
    Matches,
    Reads,
    numbered_state,
    ranked_state,
)
from spark_lsp.analysis.matches import build_finding
from spark_lsp.analysis.prefilter import qualname_words, required_words
from spark_lsp.analysis.source import Block, parse_block
from spark_lsp.analysis.types import type_matches

log = logging.getLogger(__name__)

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
    # one of these (or a file's alias for them) must appear: the last part of `qualname` globs
    names: tuple[str, ...] = ()
    globs: tuple[str, ...] = ()


_PROBE = -1  # cache slot of the combined search for vague rules


class Analyzer:
    """Holds compiled cards and per-block caches; thread-compatible.

    Analysing a new version of a file costs what changed: blocks are re-cut only around the
    edit (per `filename`), and a block's findings are reused while its text and everything its
    analysis looked up elsewhere stay the same (`incremental.py`). Detectors that relate blocks
    to each other run on the whole file each time, on the calls they ask for.
    """

    def __init__(self, cards: Iterable[Card], options: AnalysisOptions | None = None) -> None:
        self.options = options or AnalysisOptions()
        self.cards = [c for c in cards if c.status != "retired"]
        self._pattern_rules = [
            _CompiledRule(c, r, required_words(r), *qualname_words(r)) for c in self.cards
            for r in c.rules if r.config is not None
        ]
        self._detector_rules = [(c, r) for c in self.cards for r in c.rules if r.detector]
        self._cache: OrderedDict[str, dict[int, list[SgNode]]] = OrderedDict()
        self._results = BlockCache()
        self._recent: OrderedDict[str, tuple[str, list[Block]]] = OrderedDict()  # by filename
        # Rules with no literal word to pre-filter on are first tried together, as one search
        # without their constraints: when it finds nothing, none of them can match.
        vague = [cr.rule.config["rule"] for cr in self._pattern_rules  # type: ignore[index]
                 if not cr.words and not cr.names]
        self._vague_probe = {"rule": {"any": vague}} if len(vague) > 1 else None
        self._active_codes: dict[str, bool] = {}
        self._block_detectors = list(dict.fromkeys(
            rule.detector for card, rule in self._detector_rules
            if rule.detector in DETECTOR_INFO and self._active(card)
            and DETECTOR_INFO[rule.detector].scope == "block"))

    # -- detection -------------------------------------------------------------------------
    def analyze(self, text: str, filename: str = "") -> list[Finding]:
        if len(text) > MAX_FILE_CHARS:
            log.warning("%s: %d characters, over the %d limit; not analysed", filename,
                        len(text), MAX_FILE_CHARS)
            return []
        previous = self._recent.get(filename)
        ctx = FileContext.from_text(text, previous)
        self._recent[filename] = (ctx.text, ctx.blocks)
        self._recent.move_to_end(filename)
        while len(self._recent) > 16:
            self._recent.popitem(last=False)
        version, positions = ctx.facts_version()
        results = [self._block_result(ctx, i, block, (version, positions[i]))
                   for i, block in enumerate(ctx.blocks)]
        findings: list[Finding] = []
        seen: dict[tuple[str, str], int] = {}
        # what a finding built in a block depends on besides the block: its position, the
        # file's imports (in order: fix templates pick the first alias) and where an import
        # a fix needs would go
        around = (_digest(repr(list(ctx.facts.imports.items()))), import_row(ctx))
        by_detector, failed = self._block_detector_matches(ctx, results)
        for block, result in zip(ctx.blocks, results):
            where = (block.start_line, *around)
            for n, (idx, node) in enumerate(result.patterns):
                crule = self._pattern_rules[idx]
                f = self._emit(ctx, crule.card, crule.rule, node, block.start_line, None, seen,
                               block, (result.built, ("pattern", n), where))
                if f:
                    findings.append(f)
        for card, rule in self._detector_rules:
            if not self._active(card):
                continue
            name = rule.detector or ""
            if name not in DETECTOR_INFO:
                log.error("card %s names an unknown detector %r", card.code, name)
                continue
            if DETECTOR_INFO[name].scope == "block":
                # one that raised on some block (logged then) gives nothing, as before
                for m, result, slot in [] if name in failed else by_detector.get(name, []):
                    f = self._emit(ctx, card, rule, m.node, m.offset, m.metavars, seen, None,
                                   (result.built, (card.code, rule.id, *slot),
                                    (m.offset, *around)))
                    if f:
                        findings.append(f)
                continue
            for m in self._file_detector_matches(ctx, name, filename):
                f = self._emit(ctx, card, rule, m.node, m.offset, m.metavars, seen)
                if f:
                    findings.append(f)
        findings = _dedupe(findings)
        for f in findings:
            f.filename = filename
        return findings

    @staticmethod
    def _block_detector_matches(ctx: FileContext, results: list[BlockResult]) -> tuple[
            dict[str, list[tuple[DetectorMatch, BlockResult, tuple[str, int]]]], set[str]]:
        """Block-scoped detectors' matches in source order (with the result and slot each comes
        from), and the detectors that raised."""
        by_detector: dict[str, list[tuple[DetectorMatch, BlockResult, tuple[str, int]]]] = {}
        failed: set[str] = set()
        for block, result in zip(ctx.blocks, results):
            for name, found in result.matches.items():
                if found is None:
                    failed.add(name)
                    continue
                by_detector.setdefault(name, []).extend(
                    (DetectorMatch(node, block.start_line + delta, metavars), result, (name, n))
                    for n, (node, delta, metavars) in enumerate(found))
        return by_detector, failed

    def _file_detector_matches(self, ctx: FileContext, name: str,
                               filename: str) -> list[DetectorMatch]:
        try:
            return list(DETECTOR_INFO[name].run(ctx))
        except Exception:  # a broken detector must not take the others down
            log.exception("detector %s failed on %s", name, filename or "<text>")
            return []

    # -- one block ------------------------------------------------------------------------------
    def _block_result(self, ctx: FileContext, index: int, block: Block,
                      stamp: tuple[bytes, int]) -> BlockResult:
        """The block's pattern matches and block-scoped detector matches, from the cache when
        nothing they depended on changed."""
        found = self._results.find(ctx, index, block, stamp)
        if found is not None:
            return found
        view = ctx.view(block)
        reads = ctx.facts.reads
        frame = reads.open()
        try:
            patterns = [(idx, node) for idx, node in self._block_matches(block, view)
                        if self._pattern_holds(view, self._pattern_rules[idx].rule, node,
                                               block.start_line)]
            matches = {name: got for name in self._block_detectors
                       for got in [self._run_on_block(view, name, block)] if got != []}
        finally:
            reads.close(frame, merge=False)
        keys: Reads = frozenset(k for k in frame if isinstance(k[1], str))
        summaries = tuple((k[1], ctx.summary(k[1])) for k in frame if k[0] == "summary")
        moved = any(delta for found in matches.values() for _, delta, _ in found or ())
        every = any(kind == EVERY for kind, _ in keys)
        result = BlockResult(patterns, matches, keys, summaries, set() if every else {stamp},
                             numbered_state(ctx, index, keys), ranked_state(ctx, index, keys),
                             block.start_line if moved else None, every)
        self._results.add(block, result)
        return result

    def _run_on_block(self, view: FileContext, name: str, block: Block) -> Matches | None:
        info = DETECTOR_INFO[name]
        if info.words and not any(w in block.text for w in view.search_words(info.words)):
            return []
        try:
            return [(m.node, m.offset - block.start_line, m.metavars) for m in info.run(view)]
        except Exception:  # a broken detector must not take the others down
            log.exception("detector %s failed on a block at line %d", name, block.start_line + 1)
            return None

    def _active(self, card: Card) -> bool:
        active = self._active_codes.get(card.code)
        if active is None:
            active = self.options.enabled(card.code) and card.applies_to(self.options.versions)
            self._active_codes[card.code] = active
        return active

    def _block_matches(self, block: Block, ctx: FileContext) -> list[tuple[int, SgNode]]:
        """Pattern matches of the active rules in a block; cached per (block text, rule)."""
        text = block.text
        per_rule = self._cache.get(text)
        if per_rule is None:
            per_rule = self._cache[text] = {}
            if len(self._cache) > 20_000:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(text)
        root = None
        matches: list[tuple[int, SgNode]] = []
        for idx, crule in enumerate(self._pattern_rules):
            if not self._active(crule.card):
                continue
            found = per_rule.get(idx)
            if found is None:
                if not self._may_match(idx, crule, text, ctx):
                    continue
                root = root or parse_block(text)
                if self._vague_probe and not crule.words and not crule.names:
                    if _PROBE not in per_rule:
                        per_rule[_PROBE] = [] if root.find(self._vague_probe) is None else [root]
                    if not per_rule[_PROBE]:
                        per_rule[idx] = []
                        continue
                try:
                    found = root.find_all(crule.rule.config)  # type: ignore[arg-type]
                except Exception:
                    log.exception("rule %s failed", crule.rule.id)
                    found = []
                per_rule[idx] = found
            matches.extend((idx, node) for node in found)
        return matches

    def _may_match(self, idx: int, crule: _CompiledRule, text: str, ctx: FileContext) -> bool:
        """Cheap text test before an ast-grep search (each search costs 30-100 µs)."""
        if crule.words and not all(w in text for w in crule.words):
            return False
        if not crule.names or any(n in text for n in crule.names):
            return True
        if not crule.globs:
            return False
        # `from yaml import load as yl`: the call site shows the alias only.
        aliases = ctx.rule_aliases.get(idx)
        if aliases is None:
            aliases = ctx.rule_aliases[idx] = tuple(
                alias for alias, qual in ctx.facts.imports.items()
                if any(fnmatchcase(qual, g) for g in crule.globs))
        return any(alias in text for alias in aliases)

    # -- from a match to a finding -----------------------------------------------------------
    def _pattern_holds(self, ctx: FileContext, rule: Rule, node: SgNode, offset: int) -> bool:
        """The match's metavariables have the types and qualified names the rule asks for."""
        for var, wanted in rule.types.items():
            sub = _capture(node, var)
            if sub is None or not any(type_matches(ctx.type_of(sub, offset), w) for w in wanted):
                return False
        for var, unwanted in rule.not_types.items():
            sub = _capture(node, var)
            if sub is not None and any(type_matches(ctx.type_of(sub, offset), w) for w in unwanted):
                return False
        for var, globs in rule.qualname.items():
            sub = node.get_match(var)
            q = ctx.qualname_of(sub, offset) if sub is not None else None
            if q is None or not any(fnmatchcase(q, g) for g in globs):
                return False
        return not rule.requires_import or all(ctx.facts.uses(lib) for lib in rule.requires_import)

    def _severity(self, card: Card) -> str:
        return self.options.severity.get(card.code, self.options.severity.get("*", card.severity))

    def _emit(self, ctx: FileContext, card: Card, rule: Rule, node: SgNode, offset: int,
              metavars: dict[str, str] | None, seen: dict[tuple[str, str], int],
              block: Block | None = None,
              cached: tuple[dict[Any, Any], Any, tuple[Any, ...]] | None = None
              ) -> Finding | None:
        """The finding of a match, numbered among the same code on the same code text (its
        fingerprint). `cached`: (a block result's findings, this match's slot in it, what the
        finding depends on outside the block): reused while that is the same."""
        if cached is not None:
            store, slot, where = cached
            key = (slot, where)  # the same block text can sit in several places
            if key in store:
                built = store[key]
            else:
                if len(store) >= 64:
                    store.clear()
                built = store[key] = build_finding(ctx, card, rule, node, offset, metavars,
                                                   self._severity(card), block)
        else:
            built = build_finding(ctx, card, rule, node, offset, metavars, self._severity(card),
                                  block)
        if built is None:
            return None  # suppressed
        f, numbered = built
        seen[numbered] = seen.get(numbered, 0) + 1
        fingerprint = hashlib.blake2b(
            f"{numbered[0]}\0{numbered[1]}\0{seen[numbered]}".encode("utf-8", "surrogatepass"),
            digest_size=8).hexdigest()
        return Finding(code=f.code, title=f.title, message=f.message, severity=f.severity,
                       span=f.span, matched=f.matched, fingerprint=fingerprint, url=f.url,
                       fix=f.fix, rule_id=f.rule_id, metavars=dict(f.metavars))

def _capture(node: SgNode, var: str) -> SgNode | None:
    """The metavariable's node within the match. A relational rule that names it again
    (`inside: {has: {pattern: $DF = $X}}`) re-captures it at that other place — e.g. the
    assignment target, where the name is not yet bound — so its type is asked at the match."""
    sub = node.get_match(var)
    if sub is None:
        return None
    r, s = node.range(), sub.range()
    if r.start.index <= s.start.index and s.end.index <= r.end.index:
        return sub
    return node.find(pattern=sub.text()) or sub


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def _dedupe(findings: list[Finding]) -> list[Finding]:
    """One finding per (code, span); sorted by position."""
    out: dict[tuple[str, Span], Finding] = {}
    for f in findings:
        out.setdefault((f.code, f.span), f)
    return sorted(out.values(), key=lambda f: (f.span.start, f.code))


__all__ = ["AnalysisOptions", "Analyzer", "DetectorMatch", "Finding"]
