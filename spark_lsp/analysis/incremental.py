"""What a block's findings depended on, and a cache that keeps them while that stays the same.

A block's findings (pattern matches that passed their type checks, block-scoped detector
matches) depend on the block's text and on what their computation looked up elsewhere
(`ReadLog` keys): the file's imports, whether names are bound, the bindings that can feed a
name, and file-wide summaries.

`binding_at` returns the last binding before the line, so lookups from a block and from the
blocks their answers lead to (always above it) see only the module-level bindings *above* the
block: those are its dependency, unless a lookup found nothing above its line and fell back to
the first binding of the file (then all of them count, and where the block sits among them).

A result is reused when, in order of cost:
1. the stamp is the same: no block's facts changed and as many blocks with facts are above it;
2. the bindings it read are the same, numbered by the position of their block among the blocks
   with facts (cheap: one digest per name per analysis);
3. the bindings it read are the same, their blocks only ranked among themselves (exact, position-
   free: inserting lines or a block that binds something else above it keeps the result).
Reused matches are shifted to the block's current first line.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ast_grep_py import SgNode

from spark_lsp.analysis.context import FileContext
from spark_lsp.analysis.facts import (
    ALL_NAMES,
    AT,
    BOUND,
    EVERY,
    FALLBACK,
    FileBindings,
    Record,
    module_records,
)
from spark_lsp.analysis.source import Block

# (node, its block's first line minus this block's, metavariables); None when the detector
# raised on this block (the engine then drops the detector for the whole file, as before).
Matches = list[tuple[SgNode, int, dict[str, str]]]
Reads = frozenset[tuple[str, str]]


@dataclass
class BlockResult:
    patterns: list[tuple[int, SgNode]]  # (pattern rule index, node) that passed every check
    matches: dict[str, Matches | None]  # block-scoped detector -> its matches, when it has any
    reads: Reads  # ReadLog keys of the lookups made
    summaries: tuple[tuple[Callable[[FileContext], Any], Any], ...]  # summaries used, values
    # (facts version, number of blocks with facts above) at which the result was confirmed;
    # empty and never filled when it read ("all", name): the facts version does not cover
    # function locals, which such a read sees
    stamps: set[tuple[bytes, int]]
    numbered: tuple[Any, ...]  # numbered_state(...) at the last confirmation
    ranked: tuple[Any, ...]  # ranked_state(...) when computed
    anchor: int | None = None  # start line, when a match lies in another block
    every: bool = False  # read ("all", name)
    # the findings built from these matches, by (slot, what they depend on outside the
    # block): finding without fingerprint and its numbering key, or None: suppressed
    built: dict[Any, Any] = field(default_factory=dict)


@dataclass
class _Bindings:
    """One name's bindings in a file, for dependency states (once per analysis)."""

    blocks: list[int]  # block index of each binding, in order
    records: list[tuple[int, Record]]
    prefixes: list[bytes]  # digest of the first k (block number, record), k = 0..len


def _bindings(ctx: FileContext, name: str, every: bool) -> _Bindings:
    whole = ctx.whole
    key = ("dependency_bindings", name, every)
    found: _Bindings | None = whole.memo.get(key)
    if found is None:
        records = module_records(whole.facts, whole.blocks, name, every)
        numbers = whole.facts_version()[1]
        h = hashlib.blake2b(digest_size=16)
        prefixes = [h.digest()]
        for i, rec in records:
            h.update(repr((numbers[i], rec)).encode("utf-8", "surrogatepass"))
            prefixes.append(h.digest())
        found = whole.memo[key] = _Bindings([i for i, _ in records], records, prefixes)
    return found


def _bound(ctx: FileContext) -> set[str]:
    bindings = ctx.whole.facts.bindings
    return bindings.names if isinstance(bindings, FileBindings) else set(bindings)


def _names_digest(ctx: FileContext) -> bytes:
    whole = ctx.whole
    found: bytes | None = whole.memo.get("bound_names_digest")
    if found is None:
        found = whole.memo["bound_names_digest"] = hashlib.blake2b(
            "\0".join(sorted(_bound(ctx))).encode("utf-8", "surrogatepass"),
            digest_size=16).digest()
    return found


def numbered_state(ctx: FileContext, index: int, reads: Reads) -> tuple[Any, ...]:
    """The bindings `reads` can see from block `index`, blocks numbered among those with facts.
    Equal states give equal lookups; a block with facts inserted above renumbers (then
    `ranked_state` decides)."""
    bound = _bound(ctx)
    fallback = any(kind == FALLBACK for kind, _ in reads)
    placed = fallback or any(kind == EVERY for kind, _ in reads)  # bindings below count too
    state: list[Any] = [ctx.imports_key, fallback, ctx.facts_version()[1][index] if placed else 0]
    for kind, name in sorted(reads):
        if kind == BOUND or kind == FALLBACK:
            state.append((kind, name, name in bound))
        elif kind == AT or kind == EVERY:
            found = _bindings(ctx, name, kind == EVERY)
            above = bisect_left(found.blocks, index)
            whole = kind == EVERY or fallback
            state.append((kind, name, name in bound, above,
                          found.prefixes[-1] if whole else found.prefixes[above]))
        elif (kind, name) == ALL_NAMES:
            state.append((kind, _names_digest(ctx)))
    return tuple(state)


def ranked_state(ctx: FileContext, index: int, reads: Reads) -> tuple[Any, ...]:
    """The same, with the blocks involved only ranked among themselves (and the block, when
    bindings below it count): position-free."""
    bound = _bound(ctx)
    fallback = any(kind == FALLBACK for kind, _ in reads)
    seen: list[tuple[str, str, bool, list[tuple[int, Record]]]] = []
    blocks = {index} if fallback else set()
    for kind, name in sorted(reads):
        if kind == BOUND or kind == FALLBACK:
            seen.append((kind, name, name in bound, []))
        elif kind == AT or kind == EVERY:
            found = _bindings(ctx, name, kind == EVERY)
            whole = kind == EVERY or fallback
            records = found.records if whole else found.records[:bisect_left(found.blocks, index)]
            if kind == EVERY and not fallback:
                blocks.add(index)
            blocks.update(i for i, _ in records)
            seen.append((kind, name, name in bound, records))
        elif (kind, name) == ALL_NAMES:
            seen.append((kind, name, True, []))
    rank = {i: r for r, i in enumerate(sorted(blocks))}
    return (ctx.imports_key, fallback, rank.get(index), tuple(
        (kind, name, flag, _names_digest(ctx) if (kind, name) == ALL_NAMES else
         tuple((rank[i], rec) for i, rec in records))
        for kind, name, flag, records in seen))


class BlockCache:
    """Results per block text (a few variants each: the same text can sit in several places)."""

    def __init__(self, max_texts: int = 20_000, variants: int = 16) -> None:
        self._results: OrderedDict[str, list[BlockResult]] = OrderedDict()
        self._max_texts = max_texts
        self._variants = variants

    def find(self, ctx: FileContext, index: int, block: Block,
             stamp: tuple[bytes, int]) -> BlockResult | None:
        """A result for block `index` of `ctx` (stamp: facts version, blocks with facts above)
        that still holds."""
        found = self._results.get(block.text)
        if not found:
            return None
        self._results.move_to_end(block.text)
        # cheapest first: a variant confirmed at this very stamp (the usual case), then one
        # whose lookups see the same bindings
        for result in found:
            if stamp in result.stamps and self._holds_here(ctx, block, result):
                return result
        for result in found:
            if stamp in result.stamps or not self._holds_here(ctx, block, result):
                continue
            numbered = numbered_state(ctx, index, result.reads)
            if numbered != result.numbered:
                if ranked_state(ctx, index, result.reads) != result.ranked:
                    continue
                result.numbered = numbered
            if not result.every:
                if len(result.stamps) >= 8:
                    result.stamps.clear()
                result.stamps.add(stamp)
            return result
        return None

    @staticmethod
    def _holds_here(ctx: FileContext, block: Block, result: BlockResult) -> bool:
        if result.anchor is not None and result.anchor != block.start_line:
            return False
        return not result.summaries or all(
            ctx.summary(compute) == value for compute, value in result.summaries)

    def add(self, block: Block, result: BlockResult) -> None:
        found = self._results.setdefault(block.text, [])
        found.insert(0, result)
        del found[self._variants:]
        self._results.move_to_end(block.text)
        while len(self._results) > self._max_texts:
            self._results.popitem(last=False)

    def clear(self) -> None:
        self._results.clear()


def clear_shared_caches() -> None:
    """Forget what every analyzer shares (parse trees, block facts, block calls): the next
    analysis is cold. For tests and benchmarks."""
    from spark_lsp.analysis.detectors import _nodes
    from spark_lsp.analysis.facts import block_facts
    from spark_lsp.analysis.source import parse_block

    parse_block.cache_clear()
    block_facts.cache_clear()
    _nodes.clear_block_calls()
