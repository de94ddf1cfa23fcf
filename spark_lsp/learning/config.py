"""The learning loop's settings: `[learning]` in `$SPARK_HOME/config.toml`, then
`[tool.spark.learning]` in the workspace's pyproject.toml (later wins).

```toml
[tool.spark.learning]
min_traces = 3            # support: traces ...
min_users = 2             # ... from this many people
min_acceptance = 0.5      # Wilson lower bound (z = 1.645) of positive evidence
auto_promote = false      # a team may let candidates above the stricter bar below go live
embeddings = true         # all-MiniLM-L6-v2 for clustering and near-duplicates (false: hashed)
promote_min_traces = 6
promote_min_users = 3
promote_min_acceptance = 0.7
half_life_days = 180      # outcomes lose half their weight in trust after this long
expire_days = 180         # learned cards nobody confirms expire after this long
demote_after = 3          # rejections with no accept: hint
hide_after = 6            # rejections with no accept: hidden
```
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from spark_lsp.config import find_pyproject, read_pyproject, spark_home
from spark_lsp.learning.suppress import HygienePolicy
from spark_lsp.learning.trust import TrustPolicy

log = logging.getLogger(__name__)


_FLAGS = ("auto_promote", "embeddings")


@dataclass(frozen=True)
class LearnConfig:
    min_traces: int = 3
    min_users: int = 2
    min_acceptance: float = 0.5
    z: float = 1.645
    auto_promote: bool = False
    promote_min_traces: int = 6
    promote_min_users: int = 3
    promote_min_acceptance: float = 0.7
    max_examples: int = 8  # examples kept in a learned card (all are verified)
    embeddings: bool = True  # code embeddings (all-MiniLM-L6-v2) when installed; else hashed
    trust: TrustPolicy = field(default_factory=TrustPolicy)
    hygiene: HygienePolicy = field(default_factory=HygienePolicy)

    def merged(self, data: dict[str, Any] | None) -> LearnConfig:
        """A copy with the values of a `[learning]` table; bad keys and types are logged."""
        if not data:
            return self
        own = {f.name for f in fields(self) if f.name not in ("trust", "hygiene")}
        nested = {"trust": {f.name for f in fields(TrustPolicy)},
                  "hygiene": {f.name for f in fields(HygienePolicy)}}
        changes: dict[str, Any] = {}
        trust: dict[str, Any] = {}
        hygiene: dict[str, Any] = {}
        for key, value in data.items():
            if isinstance(value, bool) != (key in _FLAGS) or not isinstance(
                    value, (int, float, bool)):
                log.warning("ignoring learning setting %s = %r (wrong type)", key, value)
                continue
            if key in own:
                changes[key] = value
            elif key in nested["trust"]:
                trust[key] = value
            elif key in nested["hygiene"]:
                hygiene[key] = value
            else:
                log.warning("ignoring unknown learning setting %r", key)
        if trust:
            changes["trust"] = replace(self.trust, **trust)
        if hygiene:
            changes["hygiene"] = replace(self.hygiene, **hygiene)
        return replace(self, **changes)

    @classmethod
    def load(cls, home: Path | None = None, workspace: Path | None = None) -> LearnConfig:
        config = cls()
        home = spark_home() if home is None else home
        user_file = home / "config.toml"
        if user_file.is_file():
            try:
                data = tomllib.loads(user_file.read_text(encoding="utf-8"))
                config = config.merged(data.get("learning"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
                log.warning("cannot read %s: %s", user_file, exc)
        if workspace is not None:
            section = read_pyproject(find_pyproject(workspace)).get("learning")
            config = config.merged(section if isinstance(section, dict) else None)
        return config
