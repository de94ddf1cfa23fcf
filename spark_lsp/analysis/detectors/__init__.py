"""Python detectors: for practices whose detection needs dataflow that a pattern cannot express.

A card names a detector (`rules: [{detector: fit_before_split}]`); the detector yields
`DetectorMatch`es, which the engine turns into findings exactly like pattern matches.

How a detector is registered decides how much work an edit costs:

- `scope="block"`: every match comes from looking at one top-level block (other blocks are
  read only through `ctx.facts`, `ctx.infer`/`ctx.type_of`/`ctx.qualname_of` and
  `ctx.summary(...)`). The engine runs it on `ctx.view(block)` for each block and keeps the
  matches of a block while its text and everything it looked up stay the same. Its matches
  must not depend on where the block is: no absolute line in a metavariable, lines only
  compared with each other.
- `scope="file"` (the default): it relates calls of different blocks (a fit above a split) and
  runs on the whole file after every edit; it should look only at the calls it needs
  (`_nodes.calls(ctx, names)`).
- `words` (block scope): a block whose text contains none of them (nor an import alias of one)
  cannot give a match, and is skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ast_grep_py import SgNode

from spark_lsp.analysis.context import FileContext


@dataclass
class DetectorMatch:
    node: SgNode  # the node to report (and to replace when the fix has a template)
    offset: int  # first line of the node's block in the file
    metavars: dict[str, str] = field(default_factory=dict)


Detector = Callable[[FileContext], Iterable[DetectorMatch]]


@dataclass(frozen=True)
class DetectorInfo:
    run: Detector
    scope: str = "file"  # "block" | "file"
    words: tuple[str, ...] = ()


DETECTORS: dict[str, Detector] = {}
DETECTOR_INFO: dict[str, DetectorInfo] = {}


def detector(name: str, scope: str = "file",
             words: Iterable[str] = ()) -> Callable[[Detector], Detector]:
    if scope not in ("block", "file"):
        raise ValueError(f"detector {name}: scope must be 'block' or 'file', not {scope!r}")

    def register(fn: Detector) -> Detector:
        DETECTORS[name] = fn
        DETECTOR_INFO[name] = DetectorInfo(fn, scope, tuple(words))
        return fn
    return register


def _register_all() -> None:
    """Importing every module of this package registers its detectors."""
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")


_register_all()
