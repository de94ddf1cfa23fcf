"""Spark: a shared experiential memory for coding agents and data scientists.

Data flow, visible in the package layout:
edit (server/) -> detect (analysis/) -> retrieve (kb/, agent/) -> recommend (agent/)
-> show (server/, cli.py, mcp.py) -> trace (kb/traces.py) -> learn (learning/).
"""

from pathlib import Path

__version__ = "0.1.0"

PACKAGE_DIR = Path(__file__).resolve().parent
SEEDS_DIR = PACKAGE_DIR.parent / "seeds"
