"""Tolerant parsing of Python source into top-level blocks.

A file is cut into top-level blocks (statements that start in column 0). Each block is parsed
on its own with tree-sitter (through ast-grep), so that a half-typed statement only damages its
own block, and so that an edit re-parses only the blocks whose text changed.
"""

from __future__ import annotations

import hashlib
import re
from bisect import bisect_right
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


def split_blocks(text: str, previous: tuple[str, list[Block]] | None = None) -> list[Block]:
    """Cut source text into top-level blocks; joining their texts gives back the source.

    With `previous` (an earlier version's text and blocks), the blocks before the first changed
    line are kept, and cutting resumes there only until it meets a block boundary of the earlier
    version in the unchanged tail: from a common boundary on, both versions cut the same way.
    """
    if previous is not None and previous[1] and text:
        old_text, old_blocks = previous
        if old_text == text:
            return list(old_blocks)
        if old_text:
            return _resplit(old_text, old_blocks, text)
    return _cut(text, 0, 0)


@dataclass(frozen=True)
class _Tail:
    """Where the unchanged tail of the text starts, and the earlier version's blocks there."""

    start: int  # offset in the new text from which it equals the old text's tail
    shift: int  # new offset - old offset in the tail
    line_shift: int
    old_starts: dict[int, int]  # old offset of a block start -> index in old_blocks
    old_blocks: list[Block]


def _cut(text: str, pos: int, line_no: int, tail: _Tail | None = None) -> list[Block]:
    """Blocks of text[pos:], where `pos` starts a block at line `line_no`."""
    blocks: list[Block] = []
    n = len(text)
    start_pos, start_line = pos, line_no
    depth, quote = 0, None
    i = line_no
    while pos < n:
        nl = text.find("\n", pos)
        end = n if nl < 0 else nl + 1
        line = text[pos:end]
        at_col0 = not line[0].isspace() and line[0] != "#"
        if i > start_line and at_col0 and quote is None and not _CONTINUATION.match(line):
            if depth == 0 or _STATEMENT_START.match(line):
                if not (text.startswith("@", start_pos) and _decorated(text[start_pos:pos])):
                    blocks.append(Block(start_line, text[start_pos:pos]))
                    start_pos, start_line, depth = pos, i, 0
                    if tail is not None and pos >= tail.start:
                        j = tail.old_starts.get(pos - tail.shift)
                        if j is not None:  # the earlier version cut here too: the rest is known
                            blocks.extend(Block(b.start_line + tail.line_shift, b.text)
                                          for b in tail.old_blocks[j:])
                            return blocks
        depth, quote = _scan_line(line, depth, quote)
        pos = end
        i += 1
    if start_pos < n or not blocks:
        blocks.append(Block(start_line, text[start_pos:]))
    return blocks


def _resplit(old_text: str, old_blocks: list[Block], text: str) -> list[Block]:
    p = _common_prefix(old_text, text)
    s = _common_suffix(old_text, text, min(len(old_text), len(text)) - p)
    first_changed = text.count("\n", 0, p)
    # The cut at a block's first line depends on that line: resume at the block before it.
    starts = [b.start_line for b in old_blocks]
    j = max(0, bisect_right(starts, max(first_changed - 1, 0)) - 1)
    offsets, off = [], 0
    for b in old_blocks:
        offsets.append(off)
        off += len(b.text)
    shift = len(text) - len(old_text)
    tail = _Tail(start=len(text) - s, shift=shift,
                 line_shift=text.count("\n") - old_text.count("\n"),
                 old_starts={offsets[k]: k for k in range(j + 1, len(old_blocks))},
                 old_blocks=old_blocks)
    return old_blocks[:j] + _cut(text, offsets[j], old_blocks[j].start_line, tail)


def _common_prefix(a: str, b: str) -> int:
    n = min(len(a), len(b))
    if a[:n] == b[:n]:
        return n
    lo, hi = 0, n  # a[:lo] == b[:lo] and a[:hi] != b[:hi]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid
    return lo


def _common_suffix(a: str, b: str, limit: int) -> int:
    """Length of the longest common suffix, at most `limit`."""
    if limit <= 0:
        return 0
    if a[len(a) - limit:] == b[len(b) - limit:]:
        return limit
    lo, hi = 0, limit
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if a[len(a) - mid:len(a) - lo] == b[len(b) - mid:len(b) - lo]:
            lo = mid
        else:
            hi = mid
    return lo


def _decorated(block_text: str) -> bool:
    """True when the block so far is only decorators (they belong with the def that follows)."""
    return all(ln.startswith("@") or not ln.strip() or ln.lstrip().startswith("#")
               for ln in block_text.split("\n"))


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
