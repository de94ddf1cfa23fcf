"""Everything detection knows about one file: blocks, parse trees, imports and types.

A `FileContext` is one analysis of one version of a file. `view(block)` gives the same file
seen through one top-level block: its `blocks`/`roots()` are that block only, while facts and
types stay file-wide (every lookup of a binding is noted in `facts.reads`, so the engine knows
what a block's findings depended on).
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ast_grep_py import SgNode

from spark_lsp.analysis.facts import block_facts, collect_facts
from spark_lsp.analysis.source import Block, normalize_breaks, parse_block, split_blocks
from spark_lsp.analysis.types import ModuleFacts, TypeInference, qualified_name

T = TypeVar("T")

# Module aliases a fix template may use as $PD, $NP, ...; added as imports when missing.
MODULE_VARS = {
    "PD": ("pandas", "import pandas as pd", "pd"),
    "NP": ("numpy", "import numpy as np", "np"),
    "PLT": ("matplotlib.pyplot", "import matplotlib.pyplot as plt", "plt"),
    "DD": ("dask.dataframe", "import dask.dataframe as dd", "dd"),
    "TORCH": ("torch", "import torch", "torch"),
    "AST": ("ast", "import ast", "ast"),
    "JSON": ("json", "import json", "json"),
    "YAML": ("yaml", "import yaml", "yaml"),
}


@dataclass
class FileContext:
    text: str
    blocks: list[Block]
    facts: ModuleFacts
    infer: TypeInference
    lines: list[str] = field(default_factory=list)
    _starts: list[int] | None = None
    rule_aliases: dict[int, tuple[str, ...]] = field(default_factory=dict)  # engine's cache
    file: FileContext | None = None  # the whole file, when this is a view of one block
    memo: dict[Any, Any] = field(default_factory=dict)  # helpers' per-analysis values
    _facts_version: tuple[bytes, list[int]] | None = field(default=None, repr=False)

    @classmethod
    def from_text(cls, text: str,
                  previous: tuple[str, list[Block]] | None = None) -> FileContext:
        """The context of `text`; with an earlier version of the same file (its text and
        blocks), only the changed region is cut into blocks again."""
        text = normalize_breaks(text)
        blocks = split_blocks(text, previous)
        facts = collect_facts(blocks)
        return cls(text, blocks, facts, TypeInference(facts), text.split("\n"))

    @property
    def whole(self) -> FileContext:
        return self.file or self

    def view(self, block: Block) -> FileContext:
        """This file seen through one of its blocks (facts and types stay file-wide)."""
        return FileContext(self.text, [block], self.facts, self.infer, self.lines,
                           rule_aliases=self.rule_aliases, file=self.whole)

    def block_at(self, line: int) -> Block | None:
        """The top-level block holding a (0-based) line."""
        starts = self._starts
        if starts is None:
            starts = self._starts = [b.start_line for b in self.blocks]
        i = bisect_right(starts, line) - 1
        return self.blocks[i] if i >= 0 else None

    def roots(self) -> list[tuple[Block, SgNode]]:
        found = self.memo.get("roots")
        if found is None:
            found = self.memo["roots"] = [(b, parse_block(b.text)) for b in self.blocks]
        return list(found)

    def type_of(self, node: SgNode, offset: int) -> str | None:
        return self.infer.type_of(node, offset)

    def qualname_of(self, node: SgNode, offset: int = 0) -> str | None:
        """Fully qualified name of a name/attribute node; unbound bare names are builtins."""
        text = node.text()
        head = text.split(".")[0]
        if not head.isidentifier():
            return None
        bound = head in self.facts.bindings
        q = qualified_name(text, self.facts, bound=bound)
        if q is None and "." not in text and not bound and head not in self.facts.imports:
            return f"builtins.{text}"
        return q

    def module_alias(self, var: str) -> tuple[str, str | None]:
        """(alias to use in code, import line to add or None) for a $PD-style variable."""
        module, import_line, default = MODULE_VARS[var]
        for alias, qual in self.facts.imports.items():
            if qual == module:
                return alias, None
        return default, import_line

    # -- what other blocks can see: for caching per block ------------------------------------
    @property
    def imports_key(self) -> str:
        """A digest of the file's imports (every block's findings may depend on them)."""
        whole = self.whole
        key = whole.memo.get("imports_key")
        if key is None:
            key = whole.memo["imports_key"] = hashlib.blake2b(
                repr(sorted(whole.facts.imports.items())).encode("utf-8", "surrogatepass"),
                digest_size=16).hexdigest()
        return key  # type: ignore[no-any-return]

    def facts_version(self) -> tuple[bytes, list[int]]:
        """(digest of every block's bound names, module-level bindings and imports, in order;
        for each block, how many blocks with such facts come before it). Two analyses with the
        same digest see the same facts from every position that has the same count."""
        whole = self.file or self
        found = whole._facts_version
        if found is None:
            digest = hashlib.blake2b(digest_size=16)
            before, positions = 0, []
            for block in whole.blocks:
                positions.append(before)
                summary = block_facts(block.text)
                if summary.has_facts:
                    digest.update(summary.fingerprint)
                    before += 1
            found = whole._facts_version = (digest.digest(), positions)
        return found

    def summary(self, compute: Callable[[FileContext], T]) -> T:
        """A file-wide value a block-scoped detector needs (e.g. "the file calls `.eval()`"),
        computed once per analysis on the whole file and noted as a dependency."""
        whole = self.whole
        key = ("summary", compute)
        if key not in whole.memo:
            frame = self.facts.reads.open()  # its own lookups are not the caller's
            try:
                whole.memo[key] = compute(whole)
            finally:
                self.facts.reads.close(frame, merge=False)
        self.facts.reads.note(key)
        return whole.memo[key]  # type: ignore[no-any-return]

    def search_words(self, words: Iterable[str]) -> tuple[str, ...]:
        """`words` and the file's import aliases of them (`from numpy import argsort as a`):
        code that calls one of them by name shows one of these."""
        words = tuple(words)
        whole = self.whole
        key = ("search_words", words)
        found = whole.memo.get(key)
        if found is None:
            wanted = set(words)
            found = whole.memo[key] = words + tuple(
                alias for alias, qual in whole.facts.imports.items()
                if qual.rsplit(".", 1)[-1] in wanted and alias not in wanted)
        return found  # type: ignore[no-any-return]

    def blocks_with(self, words: Iterable[str]) -> list[Block]:
        """This context's blocks whose text shows one of `words` (or an import alias of one)."""
        wanted = self.search_words(words)
        key = ("blocks_with", wanted)
        found: list[Block] | None = self.memo.get(key)
        if found is None:
            found = self.memo[key] = [b for b in self.blocks if any(w in b.text for w in wanted)]
        return found
