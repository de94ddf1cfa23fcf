"""Traces -> experience (before/after pairs) -> clusters of the same rewrite, per library.

Experience is what users wrote themselves: `organic` traces (code that matched no card,
rewritten; also agents' shared rewrites) and `corrected` ones (flagged code fixed another way).
Pairs are grouped by library and edit shape (`edits.edit_key`: the minimal change with carried
names abstracted, and the API it is about). A pair whose reverse is also in the experience
(someone rewrote `B` back into `A`) is evidence against that rewrite: contradictions are counted
in the cluster, not dropped.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from spark_lsp.kb.traces import Trace
from spark_lsp.learning.edits import EditSite, NoEditSite, edit_key, find_edit

log = logging.getLogger(__name__)

EXPERIENCE_OUTCOMES = ("organic", "corrected")
MAX_WINDOW_CHARS = 4000
# Names cards use for libraries, from the imports a window may show.
_IMPORT_LIBRARIES = {"sklearn": "sklearn", "pandas": "pandas", "numpy": "numpy",
                     "scipy": "scipy", "matplotlib": "matplotlib", "torch": "torch",
                     "tensorflow": "tensorflow", "keras": "keras", "dask": "dask",
                     "polars": "polars", "yaml": "yaml", "requests": "requests"}


@dataclass
class Example:
    """One before/after pair from one trace, with its edit site."""

    trace: Trace
    site: EditSite
    key: str
    library: str

    @property
    def pair(self) -> tuple[str, str]:
        return self.site.before, self.site.after


@dataclass
class Cluster:
    library: str
    key: str
    examples: list[Example] = field(default_factory=list)
    contradicting: list[Trace] = field(default_factory=list)  # the reverse rewrite

    @property
    def users(self) -> set[str]:
        return {e.trace.user for e in self.examples}

    @property
    def trace_ids(self) -> list[str]:
        return [e.trace.id for e in self.examples]


@dataclass
class Skipped:
    trace_id: str
    reason: str


def library_of(trace: Trace) -> str:
    """The library a pair is about: the trace's versions name it; else the window's imports."""
    for lib in sorted(trace.versions):
        if lib != "python":
            return lib
    text = trace.before + "\n" + trace.after
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] in ("import", "from"):
            head = words[1].split(".")[0].rstrip(",")
            if head in _IMPORT_LIBRARIES:
                return _IMPORT_LIBRARIES[head]
    return ""


def experience(traces: Iterable[Trace]) -> tuple[list[Example], list[Skipped]]:
    """The pairs that can be learned from, and why the others cannot."""
    found, skipped = [], []
    for t in traces:
        if t.outcome not in EXPERIENCE_OUTCOMES:
            continue
        if not t.before.strip() or not t.after.strip():
            skipped.append(Skipped(t.id, "no before or no after code"))
            continue
        if len(t.before) > MAX_WINDOW_CHARS or len(t.after) > MAX_WINDOW_CHARS:
            skipped.append(Skipped(t.id, "code window too large"))
            continue
        try:
            site = find_edit(t.before, t.after)
        except NoEditSite as exc:
            skipped.append(Skipped(t.id, str(exc)))
            continue
        except Exception as exc:  # noqa: BLE001 - one odd trace must not stop curation
            log.warning("trace %s: cannot read its code: %s", t.id, exc)
            skipped.append(Skipped(t.id, f"cannot read its code: {exc}"))
            continue
        found.append(Example(t, site, edit_key(site), library_of(t)))
    return found, skipped


def _reverse_key(example: Example) -> str | None:
    try:
        return edit_key(find_edit(example.trace.after, example.trace.before))
    except NoEditSite:
        return None


def cluster_experience(examples: list[Example]) -> list[Cluster]:
    """Clusters by (library, edit shape), largest first; one example per trace id."""
    clusters: dict[tuple[str, str], Cluster] = {}
    seen: set[str] = set()
    for ex in examples:
        if ex.trace.id in seen:
            continue
        seen.add(ex.trace.id)
        clusters.setdefault((ex.library, ex.key), Cluster(ex.library, ex.key)).examples.append(ex)
    reverse: dict[tuple[str, str], list[Trace]] = defaultdict(list)
    for cl in clusters.values():
        for ex in cl.examples:
            key = _reverse_key(ex)
            if key is not None:
                reverse[(ex.library, key)].append(ex.trace)
    for (lib, key), cl in clusters.items():
        cl.contradicting = reverse.get((lib, key), [])
    return sorted(clusters.values(), key=lambda c: (-len(c.examples), c.library, c.key))
