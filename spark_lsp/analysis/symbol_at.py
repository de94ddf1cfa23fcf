"""The library API a position in a file names: `df.sort_values` -> `pandas.DataFrame.sort_values`.

For hover on any call or attribute (flagged or not). Uses the same tolerant parse and type
inference as detection: module paths come from the file's imports (`pd.read_csv` ->
`pandas.read_csv`, `from sklearn.svm import SVC` -> `sklearn.svm.SVC`), members from the inferred
type of their receiver (`df.groupby` -> `pandas.DataFrame.groupby`). Types keep the analysis's
short names (`pandas.obj`, `matplotlib.Axes`); `kb.symbols.candidate_names` expands them.
"""

from __future__ import annotations

from ast_grep_py import SgNode

from spark_lsp.analysis.source import parse_block, split_blocks
from spark_lsp.analysis.types import TypeInference, _dotted, collect_facts, qualified_name


def _node_at(root: SgNode, line: int, column: int) -> SgNode | None:
    """The innermost identifier at (line, column) of the block, 0-based."""
    found = None
    for node in root.find_all(kind="identifier"):
        r = node.range()
        if r.start.line == line and r.start.column <= column <= r.end.column:
            found = node
            break
    return found


def symbol_at(text: str, line: int, column: int) -> str | None:
    """Fully qualified name of the module member, class or member under the cursor, or None.

    `column` counts characters of the line (as Python strings do).
    """
    blocks = split_blocks(text)
    block = next((b for b in reversed(blocks) if b.start_line <= line), None)
    if block is None:
        return None
    root = parse_block(block.text)
    ident = _node_at(root, line - block.start_line, column)
    if ident is None:
        return None
    parent = ident.parent()
    node = parent if parent is not None and parent.kind() == "attribute" and \
        parent.field("attribute") == ident else ident
    facts = collect_facts(blocks)
    dotted = _dotted(node)
    if dotted is not None:
        head = dotted.split(".")[0]
        q = qualified_name(dotted, facts, bound=head in facts.bindings)
        if q is not None and "." in q:
            return q
    if node.kind() != "attribute":
        return None
    receiver = node.field("object")
    if receiver is None:
        return None
    inference = TypeInference(facts)
    owner = None
    if receiver.kind() == "identifier":  # `clf = SVC()`: the class, not "some estimator"
        owner = _instance_of(inference, receiver.text(),
                             block.start_line + receiver.range().start.line)
    if owner is None:
        owner = inference.type_of(receiver, block.start_line)
    if owner is not None and owner.startswith("module:"):
        owner = owner[7:]
    if not owner or "[" in owner:
        return None
    return f"{owner}.{ident.text()}"


def _instance_of(inference: TypeInference, name: str, line: int) -> str | None:
    """`clf = SVC(...)`: an instance of the class called (a capitalized name), for hover only —
    detection never guesses types this way."""
    binding = inference.binding_at(name, line)
    if binding is None or binding.value is None or binding.index is not None:
        return None
    if binding.value.kind() != "call":
        return None
    called = inference.call_qualname(binding.value)
    if called and called.rsplit(".", 1)[-1][:1].isupper():
        return called
    return None
