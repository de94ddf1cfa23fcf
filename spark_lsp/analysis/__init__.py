"""Detection: parse (tolerant), infer what names hold, match practice cards, build fixes.

Nothing here imports from `server/` or `kb/`: this is plain Python over plain data.
"""

from __future__ import annotations

import importlib.metadata
from functools import lru_cache
from pathlib import Path

from spark_lsp import SEEDS_DIR
from spark_lsp.analysis.cards import Card, CardProblem, load_cards
from spark_lsp.analysis.engine import AnalysisOptions, Analyzer
from spark_lsp.analysis.findings import Edit, Finding, Fix, Position, Span

TRACKED_LIBRARIES = ("pandas", "numpy", "dask", "matplotlib", "scikit-learn", "scipy", "torch",
                     "tensorflow", "keras", "polars", "pyyaml", "xgboost", "lightgbm", "seaborn")
# distribution name -> name cards use
_DIST_TO_LIB = {"scikit-learn": "sklearn", "pyyaml": "yaml"}


@lru_cache(maxsize=1)
def installed_versions() -> dict[str, str]:
    """Versions of the data-science libraries in this environment, by import name."""
    found: dict[str, str] = {}
    for dist in TRACKED_LIBRARIES:
        try:
            version = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
        found[_DIST_TO_LIB.get(dist, dist)] = version
    return found


def card_dirs(extra: list[str] | None = None) -> list[Path]:
    return [SEEDS_DIR / "cards", *(Path(p) for p in extra or [])]


def load_default_cards(extra: list[str] | None = None) -> tuple[list[Card], list[CardProblem]]:
    return load_cards(*[d for d in card_dirs(extra) if d.is_dir()])


__all__ = [
    "AnalysisOptions", "Analyzer", "Card", "CardProblem", "Edit", "Finding", "Fix", "Position",
    "Span", "card_dirs", "installed_versions", "load_cards", "load_default_cards",
]
