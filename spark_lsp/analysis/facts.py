"""What a file binds and imports, collected per top-level block and merged per analysis.

Each block's facts are collected once per block text (lines relative to the block). A file's
facts are the blocks' facts shifted to absolute lines, built lazily per name: an edit re-reads
only the blocks it touched, and a name nobody asks about is never materialised.

Reads of a file's bindings are logged (`ReadLog`): the engine caches the findings of a block
together with the names their computation looked up, and reuses them while those names are
bound the same way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ast_grep_py import SgNode

from spark_lsp.analysis.source import Block, parse_block

# What a `ReadLog` notes about a name (always a pair, so keys sort):
AT = "at"  # ("at", name): `binding_at` looked for the binding that feeds it somewhere
FALLBACK = "fallback"  # ("fallback", name): ... and found none before the line
BOUND = "in"  # ("in", name): only whether the file binds it
EVERY = "all"  # ("all", name): every binding of it, function locals of other blocks included
ALL_NAMES = ("names", "")  # the set of bound names (iterated)
ReadKey = tuple[str, Any]  # (kind, name), or ("summary", function) from FileContext.summary


@dataclass
class Binding:
    line: int  # absolute 0-based line
    value: SgNode | None  # the right-hand side, or None when the type is given
    type: str | None = None
    index: int | None = None  # position in a tuple unpacking
    scope: tuple[int, int] | None = None  # (start, end) absolute lines of the function, or None
    offset: int = 0  # first line of the block the value node belongs to


class ReadLog:
    """What was looked up in a file's bindings (keys above), per open frame (innermost last).

    A closed frame passes its names on to the frame around it, so a cached result (a type) can
    carry the names it depended on to every later computation that reuses it.
    """

    def __init__(self) -> None:
        self.frames: list[set[ReadKey]] = []

    def note(self, key: ReadKey) -> None:
        if self.frames:
            self.frames[-1].add(key)

    def note_all(self, keys: frozenset[ReadKey] | set[ReadKey]) -> None:
        if self.frames and keys:
            self.frames[-1].update(keys)

    def open(self) -> set[ReadKey]:
        frame: set[ReadKey] = set()
        self.frames.append(frame)
        return frame

    def close(self, frame: set[ReadKey], merge: bool = True) -> None:
        popped = self.frames.pop()
        assert popped is frame, "read frames closed out of order"
        if merge and self.frames:
            self.frames[-1].update(frame)


@dataclass
class ModuleFacts:
    """Imports and bindings of one file, in source order."""

    imports: dict[str, str] = field(default_factory=dict)
    bindings: Mapping[str, list[Binding]] = field(default_factory=dict)
    reads: ReadLog = field(default_factory=ReadLog)

    @property
    def libraries(self) -> set[str]:
        return {q.split(".")[0] for q in self.imports.values()}

    def uses(self, library: str) -> bool:
        return any(q == library or q.startswith(library + ".") for q in self.imports.values())


# -- one block -----------------------------------------------------------------------------
# A binding without its position: (name, line in its block, type, tuple index, scope lines in
# its block, digest of its block's text when it has a value node: the value's meaning is in
# that text).
Record = tuple[str, int, "str | None", "int | None", "tuple[int, int] | None", "str | None"]


@dataclass(frozen=True)
class BlockFacts:
    """One block's facts, and what other blocks can see of them, without its position."""

    local: ModuleFacts  # lines relative to the block
    records: dict[str, tuple[Record, ...]]  # module-level bindings by name
    every: dict[str, tuple[Record, ...]]  # all bindings by name, function locals included
    fingerprint: bytes  # bound names, module-level records and imports
    has_facts: bool  # binds a name or imports something


@lru_cache(maxsize=20_000)
def block_facts(text: str) -> BlockFacts:
    local = ModuleFacts()
    root = parse_block(text)
    _collect_imports(root, local)
    _collect_bindings(root, 0, local)
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
    every = {
        name: tuple((name, b.line, b.type, b.index, b.scope,
                     digest if b.value is not None else None) for b in bl)
        for name, bl in local.bindings.items()  # type: ignore[union-attr]
    }
    records = {name: tuple(r for r in recs if r[4] is None) for name, recs in every.items()}
    records = {name: recs for name, recs in records.items() if recs}
    fingerprint = hashlib.blake2b(repr((
        sorted(local.bindings), sorted(records.items()), list(local.imports.items()),
    )).encode("utf-8", "surrogatepass"), digest_size=16).digest()
    return BlockFacts(local, records, every, fingerprint, bool(local.bindings or local.imports))


def _block_facts(text: str) -> ModuleFacts:
    """Imports and bindings of one block, lines relative to the block."""
    return block_facts(text).local


# -- a file --------------------------------------------------------------------------------
class FileBindings(Mapping[str, list[Binding]]):
    """A file's bindings by name, in source order, built on first use of each name.

    Every lookup is noted in the file's `ReadLog`: `in` as ("in", name), `[]`/`get` as
    ("all", name), `lookup` (for `binding_at`) as ("at", name). Which blocks bind a name is found by a scan
    per name while few names are asked about (the usual case after an edit: the cached blocks
    ask nothing), and from a full index once many are.
    """

    _SCANS_BEFORE_INDEX = 32

    def __init__(self, blocks: list[Block], local: list[ModuleFacts], reads: ReadLog) -> None:
        self._blocks = blocks
        self._local = local
        self._reads = reads
        self.names: set[str] = set().union(*[lf.bindings.keys() for lf in local])
        self._where: dict[str, list[int]] = {}
        self._indexed = False
        self._built: dict[str, list[Binding]] = {}

    def where(self, name: str) -> list[int]:
        """Indices of the blocks that bind `name`, in order (no note in the read log)."""
        found = self._where.get(name)
        if found is not None:
            return found
        if name not in self.names:
            return []
        if not self._indexed and len(self._where) >= self._SCANS_BEFORE_INDEX:
            self._index()
            return self._where[name]
        found = self._where[name] = [i for i, lf in enumerate(self._local) if name in lf.bindings]
        return found

    def _index(self) -> None:
        where: dict[str, list[int]] = {}
        for i, facts in enumerate(self._local):
            for name in facts.bindings:
                found = where.get(name)
                if found is None:
                    where[name] = [i]
                else:
                    found.append(i)
        self._where, self._indexed = where, True

    def __getitem__(self, name: str) -> list[Binding]:
        self._reads.note((EVERY, name))
        return self._bindings(name)

    def lookup(self, name: str) -> list[Binding] | None:
        """The bindings of `name`, for finding the one that feeds it at some line."""
        self._reads.note((AT, name))
        return self._bindings(name) if name in self.names else None

    def _bindings(self, name: str) -> list[Binding]:
        built = self._built.get(name)
        if built is None:
            if name not in self.names:
                raise KeyError(name)
            built = self._built[name] = self._build(name)
        return built

    def get(self, name: str, default: list[Binding] | None = None) -> list[Binding] | None:  # type: ignore[override]
        self._reads.note((EVERY, name))
        if name not in self.names:
            return default
        return self._bindings(name)

    def __contains__(self, name: object) -> bool:
        self._reads.note((BOUND, str(name)))
        return name in self.names

    def __iter__(self) -> Iterator[str]:
        """Names in order of their first binding."""
        self._reads.note(ALL_NAMES)
        if not self._indexed:
            self._index()
        return iter(self._where)

    def __len__(self) -> int:
        self._reads.note(ALL_NAMES)
        return len(self.names)

    def _build(self, name: str) -> list[Binding]:
        out: list[Binding] = []
        for i in self.where(name):
            off = self._blocks[i].start_line
            for b in self._local[i].bindings[name]:
                scope = (b.scope[0] + off, b.scope[1] + off) if b.scope else None
                out.append(Binding(b.line + off, b.value, b.type, b.index, scope, off))
        out.sort(key=lambda b: b.line)
        return out


def collect_facts(blocks: list[Block]) -> ModuleFacts:
    """Facts of the whole file from per-block facts (cached by block text: an edit re-reads
    only the blocks it touched)."""
    facts = ModuleFacts()
    local = [block_facts(b.text).local for b in blocks]
    for lf in local:
        facts.imports.update(lf.imports)
    facts.bindings = FileBindings(blocks, local, facts.reads)
    return facts


def module_records(facts: ModuleFacts, blocks: list[Block], name: str,
                   every: bool = False) -> list[tuple[int, Record]]:
    """(block index, record) of every module-level binding of `name` (with `every`, of every
    binding), in source order."""
    where = facts.bindings.where(name) if isinstance(facts.bindings, FileBindings) else ()
    out: list[tuple[int, Record]] = []
    for i in where:
        summary = block_facts(blocks[i].text)
        for rec in (summary.every if every else summary.records).get(name, ()):
            out.append((i, rec))
    return out


# -- collection ------------------------------------------------------------------------------
def _collect_imports(root: SgNode, facts: ModuleFacts) -> None:
    for node in root.find_all(kind="import_statement"):
        for child in node.named_children():
            if child.kind() == "dotted_name":
                name = child.text()
                facts.imports[name.split(".")[0]] = name.split(".")[0]
                facts.imports.setdefault(name, name)
            elif child.kind() == "aliased_import":
                imported, alias = child.field("name"), child.field("alias")
                if imported and alias:
                    facts.imports[alias.text()] = imported.text()
    for node in root.find_all(kind="import_from_statement"):
        module = node.field("module_name")
        if module is None or module.text().startswith("."):
            continue
        for child in node.field_children("name"):
            if child.kind() == "dotted_name":
                facts.imports[child.text()] = f"{module.text()}.{child.text()}"
            elif child.kind() == "aliased_import":
                imported, alias = child.field("name"), child.field("alias")
                if imported and alias:
                    facts.imports[alias.text()] = f"{module.text()}.{imported.text()}"


def _scope_of(node: SgNode, offset: int) -> tuple[int, int] | None:
    for anc in node.ancestors():
        if anc.kind() in ("function_definition", "lambda"):
            r = anc.range()
            return (r.start.line + offset, r.end.line + offset)
    return None


def _add(facts: ModuleFacts, name: str, binding: Binding) -> None:
    facts.bindings.setdefault(name, []).append(binding)  # type: ignore[attr-defined]


def _collect_bindings(root: SgNode, offset: int, facts: ModuleFacts) -> None:
    for node in root.find_all(kind="assignment"):
        left, right = node.field("left"), node.field("right")
        line = node.range().start.line + offset
        scope = _scope_of(node, offset)
        annotation = node.field("type")
        if left is None:
            continue
        if left.kind() == "identifier":
            ann_type = f"ann:{annotation.text()}" if annotation else None
            _add(facts, left.text(), Binding(line, right, ann_type, scope=scope, offset=offset))
        elif left.kind() in ("pattern_list", "tuple_pattern", "list_pattern") and right is not None:
            for i, target in enumerate(left.named_children()):
                if target.kind() == "identifier":
                    _add(facts, target.text(), Binding(line, right, index=i, scope=scope, offset=offset))
    for node in root.find_all(kind="for_statement"):
        left = node.field("left")
        if left is not None:
            for ident in [left] if left.kind() == "identifier" else left.find_all(kind="identifier"):
                _add(facts, ident.text(), Binding(node.range().start.line + offset, None, "loop",
                                                  scope=_scope_of(node, offset)))
    for node in root.find_all(kind="function_definition"):
        r = node.range()
        scope = (r.start.line + offset, r.end.line + offset)
        params = node.field("parameters")
        if params is None:
            continue
        for p in params.named_children():
            name_node = p if p.kind() == "identifier" else (p.field("name") or p.child(0))
            if name_node is None or name_node.kind() != "identifier":
                continue
            ann = p.field("type")
            ptype = f"ann:{ann.text()}" if ann is not None else None
            _add(facts, name_node.text(), Binding(scope[0], None, ptype or "param", scope=scope))
    # `def eval(...)` / `class Loader` bind their name: it no longer means the builtin or an
    # import. Methods bind nothing outside their class.
    for node in root.find_all(any=[{"kind": "function_definition"}, {"kind": "class_definition"}]):
        name_node = node.field("name")
        owner = next((a.kind() for a in node.ancestors()
                      if a.kind() in ("function_definition", "class_definition")), None)
        if name_node is not None and owner != "class_definition":
            _add(facts, name_node.text(), Binding(node.range().start.line + offset, None, "def",
                                                  scope=_scope_of(node, offset)))
