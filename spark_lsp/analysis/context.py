"""Everything detection knows about one file: blocks, parse trees, imports and types."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

from ast_grep_py import SgNode

from spark_lsp.analysis.source import Block, normalize_breaks, parse_block, split_blocks
from spark_lsp.analysis.types import ModuleFacts, TypeInference, collect_facts, qualified_name

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

    @classmethod
    def from_text(cls, text: str) -> "FileContext":
        text = normalize_breaks(text)
        blocks = split_blocks(text)
        facts = collect_facts(blocks)
        return cls(text, blocks, facts, TypeInference(facts), text.split("\n"))

    def block_at(self, line: int) -> Block | None:
        """The top-level block holding a (0-based) line."""
        starts = self._starts
        if starts is None:
            starts = self._starts = [b.start_line for b in self.blocks]
        i = bisect_right(starts, line) - 1
        return self.blocks[i] if i >= 0 else None

    def roots(self) -> list[tuple[Block, SgNode]]:
        return [(b, parse_block(b.text)) for b in self.blocks]

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
