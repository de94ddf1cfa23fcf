"""Python detectors: for practices whose detection needs dataflow that a pattern cannot express.

A card names a detector (`rules: [{detector: fit_before_split}]`); the detector yields
`DetectorMatch`es, which the engine turns into findings exactly like pattern matches.
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
DETECTORS: dict[str, Detector] = {}


def detector(name: str) -> Callable[[Detector], Detector]:
    def register(fn: Detector) -> Detector:
        DETECTORS[name] = fn
        return fn
    return register



def _register_all() -> None:
    """Importing every module of this package registers its detectors."""
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")


_register_all()
