"""Traces -> experience (before/after pairs) -> clusters of the same rewrite, per library.

Experience is what users wrote themselves: `organic` traces (code that matched no card,
rewritten; also agents' shared rewrites) and `corrected` ones (flagged code fixed another way).
Pairs are grouped by library and edit shape (`edits.edit_key`: the minimal change with carried
names abstracted, and the API it is about). Groups about the same API whose shapes differ are
then joined when their code is alike: a weighted sum of the shapes' token similarity and the
cosine of the groups' code embeddings (all-MiniLM-L6-v2 over the edit before and after, see
`vectors.py`) must reach MERGE_AT, and the joined examples must still generalize into one
pattern and rewrite. A joined cluster keeps its parts: curation falls back to them when the
whole is rejected. A pair whose reverse is also in the experience (someone rewrote `B` back into
`A`) is evidence against that rewrite: contradictions are counted in the cluster, not dropped.
"""

from __future__ import annotations

import difflib
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from spark_lsp.kb.traces import Trace
from spark_lsp.learning.edits import EditSite, NoEditSite, edit_key, find_edit
from spark_lsp.learning.vectors import CodeVectors, centroid

log = logging.getLogger(__name__)

EXPERIENCE_OUTCOMES = ("organic", "corrected")
MAX_WINDOW_CHARS = 4000
SHAPE_WEIGHT = 0.5  # of the shapes' token similarity; the rest is the code embeddings' cosine
MERGE_AT = 0.8
MAX_MERGE_EXAMPLES = 64  # a join is checked by generalizing this many of its examples
CENTROID_EXAMPLES = 32  # a group's direction is the mean of this many examples
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
    key: str  # the shape of most of its examples
    examples: list[Example] = field(default_factory=list)
    contradicting: list[Trace] = field(default_factory=list)  # the reverse rewrite
    parts: list[Cluster] = field(default_factory=list)  # the shape groups it joins (2 or more)
    similarity: float = 1.0  # the lowest score at which its parts were joined

    @property
    def keys(self) -> list[str]:
        """Every edit shape in the cluster, its own first."""
        return [self.key] + [p.key for p in self.parts if p.key != self.key]

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


def edit_text(example: Example) -> str:
    """The code an example is about, as embedded: the edited expression or statement before
    and after."""
    return f"{example.site.b_anchor.text()}\n=>\n{example.site.a_anchor.text()}"


def api_of(key: str) -> str:
    """The API an edit shape is about (`get_feature_names` in `get_feature_names :: …`)."""
    return key.split(" :: ", 1)[0]


def shape_similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a.split(), b.split(), autojunk=False).ratio()


def _joinable(groups: list[Cluster]) -> bool:
    """Do the groups' examples generalize into one pattern and rewrite (checked on up to
    MAX_MERGE_EXAMPLES, some of each group)?"""
    from spark_lsp.learning.generalize import CannotGeneralize, generalize

    per = max(2, MAX_MERGE_EXAMPLES // len(groups))
    try:
        generalize([e.site for g in groups for e in g.examples[:per]])
    except CannotGeneralize:
        return False
    except Exception as exc:  # noqa: BLE001 - an odd example keeps the groups apart
        log.debug("cannot check a join: %s", exc)
        return False
    return True


def _find(owner: list[int], i: int) -> int:
    while owner[i] != i:
        owner[i] = owner[owner[i]]
        i = owner[i]
    return i


def join_similar(groups: list[Cluster], vectors: CodeVectors,
                 threshold: float = MERGE_AT) -> list[Cluster]:
    """Join shape groups of the same library and API whose code is alike (see the module
    docstring); the joined examples must generalize together."""
    by_api: dict[tuple[str, str], list[Cluster]] = defaultdict(list)
    for g in groups:
        by_api[(g.library, api_of(g.key))].append(g)
    out: list[Cluster] = []
    for same in by_api.values():
        if len(same) == 1:
            out += same
            continue
        rows = [centroid(vectors.vectors([edit_text(e) for e in g.examples[:CENTROID_EXAMPLES]]))
                for g in same]
        scored = sorted(((SHAPE_WEIGHT * shape_similarity(a.key, b.key)
                          + (1 - SHAPE_WEIGHT) * float(rows[i] @ rows[j]), i, j)
                         for i, a in enumerate(same) for j, b in enumerate(same) if i < j),
                        reverse=True)
        owner = list(range(len(same)))  # union-find over the groups
        members = {i: [g] for i, g in enumerate(same)}
        lowest = {i: 1.0 for i in range(len(same))}
        for score, i, j in scored:
            if score < threshold:
                break
            ri, rj = _find(owner, i), _find(owner, j)
            if ri == rj:
                continue
            joined = members[ri] + members[rj]
            if not _joinable(joined):
                continue
            owner[rj], members[ri] = ri, joined
            lowest[ri] = min(lowest[ri], lowest[rj], score)
            del members[rj]
        for root, parts in members.items():
            if len(parts) == 1:
                out.append(parts[0])
                continue
            parts.sort(key=lambda g: (-len(g.examples), g.key))
            log.info("joined %d edit shapes of %s (similarity >= %.2f): %s", len(parts),
                     api_of(parts[0].key), lowest[root], "; ".join(g.key for g in parts))
            out.append(Cluster(parts[0].library, parts[0].key,
                               [e for g in parts for e in g.examples], parts=parts,
                               similarity=lowest[root]))
    return out


def cluster_experience(examples: list[Example], vectors: CodeVectors | None = None
                       ) -> list[Cluster]:
    """Clusters by (library, edit shape), joined by code similarity when `vectors` are given;
    largest first; one example per trace id."""
    groups: dict[tuple[str, str], Cluster] = {}
    seen: set[str] = set()
    for ex in examples:
        if ex.trace.id in seen:
            continue
        seen.add(ex.trace.id)
        groups.setdefault((ex.library, ex.key), Cluster(ex.library, ex.key)).examples.append(ex)
    reverse: dict[tuple[str, str], list[Trace]] = defaultdict(list)
    for cl in groups.values():
        for ex in cl.examples:
            key = _reverse_key(ex)
            if key is not None:
                reverse[(ex.library, key)].append(ex.trace)
    for (lib, key), cl in groups.items():
        cl.contradicting = reverse.get((lib, key), [])
    clusters = list(groups.values())
    if vectors is not None:
        clusters = join_similar(clusters, vectors)
        for cl in clusters:
            if cl.parts:
                cl.contradicting = [t for p in cl.parts for t in p.contradicting]
    return sorted(clusters, key=lambda c: (-len(c.examples), c.library, c.key))
