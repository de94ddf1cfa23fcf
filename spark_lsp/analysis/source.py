"""Tolerant parsing of Python source into top-level blocks.

A file is cut into top-level blocks (statements that start in column 0). Each block is parsed
on its own with tree-sitter (through ast-grep), so that a half-typed statement only damages its
own block, and so that an edit re-parses only the blocks whose text changed.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache

from ast_grep_py import SgNode, SgRoot

# A column-0 line that starts one of these is a new statement even when an earlier bracket was
# never closed (the usual state of a file being typed).
_STATEMENT_START = re.compile(
    r"^(def|class|import|from|if|for|while|with|try|async|@|return|print\(|[A-Za-z_][\w.]*\s*(\[.*\])?\s*[+\-*/|&]?=[^=])"
)
_CONTINUATION = re.compile(r"^(else|elif|except|finally|case)\b|^[)\]}]")


@dataclass(frozen=True)
class Block:
    """A top-level statement (with its body) of a source file."""

    start_line: int  # 0-based line of the block's first line in the file
    text: str

    @property
    def digest(self) -> str:
        return hashlib.blake2b(self.text.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


_SPECIAL = re.compile(r"\"\"\"|\'\'\'|[\"\'#()\[\]{}\\]")


@lru_cache(maxsize=200_000)
def _scan_line(line: str, depth: int, quote: str | None) -> tuple[int, str | None]:
    """Advance bracket depth and triple-quote state over one line (strings and comments aware)."""
    pos, n = 0, len(line)
    while pos < n:
        if quote:
            j = line.find(quote, pos)
            if j < 0:
                return depth, quote
            pos, quote = j + 3, None
            continue
        m = _SPECIAL.search(line, pos)
        if m is None:
            break
        tok = m.group()
        pos = m.end()
        if tok == "#":
            break
        if tok in ('"""', "'''"):
            quote = tok
        elif tok in "\"\'":
            # a single-quoted string: skip to its end on this line
            j = pos
            while j < n and line[j] != tok:
                j += 2 if line[j] == "\\" else 1
            pos = j + 1
        elif tok in "([{":
            depth += 1
        elif tok in ")]}":
            depth = max(0, depth - 1)
    return depth, quote


_LONE_CR = re.compile(r"\r(?!\n)")


def normalize_breaks(text: str) -> str:
    """Lone `\\r` line breaks become `\\n` (one character for one, so every offset and column
    is kept): tree-sitter counts rows at `\\n` only, LSP clients and Python also at `\\r`."""
    return _LONE_CR.sub("\n", text) if "\r" in text else text


def split_lines(text: str) -> list[str]:
    """Lines ending at "\n" only (as tree-sitter and LSP count them; not form feeds or U+2028)."""
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def split_blocks(text: str) -> list[Block]:
    """Cut source text into top-level blocks; joining their texts gives back the source."""
    lines = split_lines(text)
    blocks: list[Block] = []
    start, depth, quote = 0, 0, None
    for i, line in enumerate(lines):
        at_col0 = bool(line) and not line[0].isspace() and not line.startswith("#")
        if i > start and at_col0 and quote is None and not _CONTINUATION.match(line):
            if depth == 0 or _STATEMENT_START.match(line):
                if not _decorated(lines, start, i):
                    blocks.append(Block(start, "".join(lines[start:i])))
                    start, depth = i, 0
        depth, quote = _scan_line(line, depth, quote)
    if start < len(lines) or not blocks:
        blocks.append(Block(start, "".join(lines[start:])))
    return blocks


def _decorated(lines: list[str], start: int, i: int) -> bool:
    """True when everything from start up to line i is decorators (they belong with the def)."""
    return all(ln.startswith("@") or not ln.strip() or ln.lstrip().startswith("#")
               for ln in lines[start:i]) and lines[start].startswith("@")


@lru_cache(maxsize=20_000)
def parse_block(text: str) -> SgNode:
    """Parse one block; cached by text so unchanged blocks are never parsed twice."""
    return SgRoot(text, "python").root()


def decode_source(data: bytes) -> tuple[str, str | None]:
    """Decode file bytes as UTF-8; undecodable bytes are replaced and reported, never fatal."""
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        return data.decode("utf-8", errors="replace"), (
            f"file is not valid UTF-8 (byte {exc.start}); undecodable bytes were replaced"
        )
