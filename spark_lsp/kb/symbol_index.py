"""Fuzzy matching of symbol names (rapidfuzz): `DataFrame.srot_values`, `np.argsrot`, `sort_values`.

The index holds every public name of the chosen library versions (canonical names and aliases)
and matches the identifiers a query contains against whole names, their last two components
(`DataFrame.sort_values`) or their last one (`sort_values`). Plain words count only when they are
exactly a name (`merge`, `groupby`), and weakly: prose should not outvote identifiers. Words that
spell a name (`no grad`) count nearly as much as the identifier, and in a short query, so do the
words of a name near each other (`reset the index`), a little less.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field

import duckdb
from rapidfuzz import fuzz, process

_Key = tuple[str, str, str]  # library, version, object

# Module aliases as code usually writes them.
MODULE_ALIASES = {"pd": "pandas", "np": "numpy", "plt": "matplotlib.pyplot", "mpl": "matplotlib",
                  "tf": "tensorflow", "sp": "scipy", "dd": "dask.dataframe", "da": "dask.array",
                  "nn": "torch.nn", "F": "torch.nn.functional", "sk": "sklearn"}
# Words that point a query at a library (ties between pandas and Dask `sort_values`, ...).
LIBRARY_HINTS = {
    "pandas": "pandas", "pd": "pandas", "dataframe": "pandas", "df": "pandas", "series": "pandas",
    "numpy": "numpy", "np": "numpy", "ndarray": "numpy", "array": "numpy", "arrays": "numpy",
    "scipy": "scipy", "sparse": "scipy", "sklearn": "sklearn", "scikit": "sklearn",
    "matplotlib": "matplotlib", "plt": "matplotlib", "plot": "matplotlib", "pyplot": "matplotlib",
    "torch": "torch", "pytorch": "torch", "tensor": "torch", "tensorflow": "tensorflow",
    "tf": "tensorflow", "keras": "keras", "dask": "dask", "dd": "dask",
}
# Classes whose members most queries mean when a member name is shared (`sort_values`).
PREFERRED_OWNERS = ("pandas.DataFrame", "pandas.Series", "numpy", "numpy.ndarray", "torch",
                    "torch.Tensor", "tensorflow", "matplotlib.pyplot", "pandas", "scipy")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
# Abbreviations written like dotted names: "e.g." is not the member `g` of `e` (`torch.Node.g`).
_ABBREVIATIONS = {"e.g", "i.e", "a.k.a", "et.al", "n.b", "w.r.t", "p.s"}
_NOT_SYMBOLS = set(keyword.kwlist) | {
    "print", "range", "len", "list", "dict", "str", "int", "float", "bool", "tuple", "set",
    "None", "True", "False", "self", "result", "results", "data", "value", "values", "example",
    "output", "input", "expected", "solution", "code", "following", "would", "like", "want",
    "using", "number", "column", "columns", "row", "rows", "index",
} | _ABBREVIATIONS
MAX_TERMS = 20
# Approximate lookups per query (~1-2 ms each over ~60k names): a question with a code listing
# holds dozens of identifiers, and typos are in the first few; the rest are matched exactly.
MAX_FUZZY_LOOKUPS = 8
MEMBER_CUTOFF = 75  # `mena` for `mean` is 75; `srot_values` for `values` 71
WORD_WEIGHT = 0.6  # an exact plain-word name counts this much of an identifier match
COMPOUND_WEIGHT = 0.9  # words that spell a name exactly ("sort values"), nearly an identifier
# All the words of a name near each other, in its order or with its last word first as English
# puts the verb ("reset the index", "split it into train and test sets" for train_test_split,
# but not "long to wide" for wide_to_long): more than a plain word, less than the name spelt out.
SCATTERED_WEIGHT = 0.75
SCATTERED_SLACK = 4  # other words allowed among them
# Only in a short query: in a question of paragraphs, words of some name fall near each other by
# chance (on DS-1000's long questions, fuzzy NDCG@10 19.3 -> 18.4 with it, hybrid no better).
SCATTERED_MAX_WORDS = 20


@dataclass
class QueryTerms:
    identifiers: list[str] = field(default_factory=list)  # sort_values, DataFrame.srot_values
    words: list[str] = field(default_factory=list)  # merge, groupby (exact names only)
    hints: set[str] = field(default_factory=set)  # libraries the query points at
    # runs of two or three words written as one name: "no grad" -> no_grad, "train test split"
    compounds: list[str] = field(default_factory=list)
    positions: dict[str, list[int]] = field(default_factory=dict)  # word -> where it occurs
    # every word and name part, lowercased: the classes the query names (`kb/fusion.py`)
    mentioned: set[str] = field(default_factory=set)


def _looks_like_identifier(token: str) -> bool:
    return ("_" in token.strip("_") or "." in token or any(c.isdigit() for c in token)
            or (token[:1].islower() and any(c.isupper() for c in token[1:]))
            or (token[:1].isupper() and any(c.islower() for c in token)
                and sum(c.isupper() for c in token) >= 2))


def query_terms(query: str) -> QueryTerms:
    terms = QueryTerms()
    seen: set[str] = set()
    for token in _IDENT.findall(query):
        token = token.strip(".")
        low = token.lower()
        terms.mentioned.update(low.split("."))
        head = token.split(".")[0]
        if head in LIBRARY_HINTS or head.lower() in LIBRARY_HINTS:
            terms.hints.add(LIBRARY_HINTS.get(head, LIBRARY_HINTS.get(head.lower(), "")))
        if token in seen or len(token) < 3 or token in _NOT_SYMBOLS or low in _NOT_SYMBOLS:
            continue
        seen.add(token)
        if _looks_like_identifier(token):
            if len(terms.identifiers) < MAX_TERMS:
                terms.identifiers.append(token)
        elif len(token) >= 4 and len(terms.words) < MAX_TERMS:
            terms.words.append(low)
    terms.hints.discard("")
    words = re.findall(r"[A-Za-z]+|[^A-Za-z\s]+", query)  # punctuation breaks a run
    if sum(w.isalpha() for w in words) <= SCATTERED_MAX_WORDS:
        for i, word in enumerate(words):
            if word.isalpha():
                terms.positions.setdefault(word.lower(), []).append(i)
    for size in (3, 2):
        for i in range(len(words) - size + 1):
            if len(terms.compounds) >= MAX_TERMS:  # the rest of a long text adds none
                return terms
            run = words[i:i + size]
            if all(w.isalpha() for w in run):
                compound = "_".join(w.lower() for w in run)
                if compound not in terms.compounds:
                    terms.compounds.append(compound)
    return terms


def hinted_libraries(terms: QueryTerms) -> frozenset[str]:
    """The libraries the query names (`tf.keras` is Keras too)."""
    return frozenset(terms.hints | ({"keras"} if "tensorflow" in terms.hints else set()))


class SymbolIndex:
    """Names of the chosen library versions, ready for exact and fuzzy lookups."""

    def __init__(self, entries: list[tuple[str, _Key, str]]) -> None:
        # entries: (public name, key of the object it names, kind)
        self.names = [name for name, _, _ in entries]
        self.keys = [key for _, key, _ in entries]
        self.kinds = [kind for _, _, kind in entries]
        self.roots = {name.split(".")[0] for name in self.names}
        self._full = self._group(self.names, 0)
        self._tail2 = self._group(self.names, 2)
        self._tail1 = self._group(self.names, 1)
        self._choices = {"full": list(self._full), "tail2": list(self._tail2),
                         "tail1": list(self._tail1)}
        # names of two to four words (`reset_index`, `train_test_split`) under their rarest word:
        # a query holds all the words of a name, so it holds that one
        pieces = {tail: tail.split("_") for tail in self._tail1}
        multi = {t: p for t, p in pieces.items() if 2 <= len(p) <= 4 and all(
            w.isalpha() for w in p)}
        counts: dict[str, int] = {}
        for words in multi.values():
            for w in set(words):
                counts[w] = counts.get(w, 0) + 1
        self._by_rarest: dict[str, list[tuple[str, list[str]]]] = {}
        for tail, words in multi.items():
            rarest = min(words, key=lambda w: (counts[w], w))
            self._by_rarest.setdefault(rarest, []).append((tail, words))

    @staticmethod
    def _group(names: list[str], parts: int) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for i, name in enumerate(names):
            key = ".".join(name.split(".")[-parts:]) if parts else name
            out.setdefault(key.lower(), []).append(i)
        return out

    @classmethod
    def load(cls, con: duckdb.DuckDBPyConnection, versions: dict[str, str]) -> SymbolIndex:
        scope = [f"{lib}\x1f{v}" for lib, v in versions.items()]
        rows = con.execute(
            "SELECT library, version, object, kind, aliases FROM doc_objects WHERE "
            "list_contains(?, library || chr(31) || version)", [scope]).fetchall()
        entries: list[tuple[str, _Key, str]] = []
        for library, version, obj, kind, aliases in rows:
            key = (library, version, obj)
            entries.append((obj, key, kind))
            entries += [(alias, key, kind) for alias in aliases or []]
        return cls(entries)

    def __len__(self) -> int:
        return len(self.names)

    # -- matching ---------------------------------------------------------------------------
    def _lookup(self, table: str, term: str, cutoff: float,
                budget: list[int] | None = None) -> list[tuple[int, float]]:
        """Indexes of the names equal to `term` (score 100), else of the closest ones when
        `budget` (a one-item counter) allows another approximate lookup."""
        groups = {"full": self._full, "tail2": self._tail2, "tail1": self._tail1}[table]
        low = term.lower()
        if low in groups:
            return [(i, 100.0) for i in groups[low]]
        if len(low) < 5 or (budget is not None and budget[0] <= 0):
            return []
        if budget is not None:
            budget[0] -= 1
        found = []
        for choice, score, _ in process.extract(low, self._choices[table], scorer=fuzz.ratio,
                                                limit=5, score_cutoff=cutoff):
            found += [(i, float(score)) for i in groups[choice]]
        return found

    def _matches(self, term: str, budget: list[int] | None = None) -> list[tuple[int, float]]:
        parts = term.split(".")
        if parts[0] in MODULE_ALIASES:
            parts = MODULE_ALIASES[parts[0]].split(".") + parts[1:]
        if len(parts) == 1:
            return self._lookup("tail1", parts[0], 85, budget)
        if parts[0] in self.roots:
            found = self._lookup("full", ".".join(parts), 88, budget)
            if found:
                return found
        if parts[0][:1].isupper():  # DataFrame.srot_values: a class and its member
            found = self._lookup("tail2", ".".join(parts[-2:]), 85, budget)
            # the class name carries the ratio of the whole: `DataFrame.values` is 86% like
            # `DataFrame.srot_values`, but `values` is not a typo of `srot_values`
            member = parts[-1].lower()
            found = [(i, s) for i, s in found if s == 100.0 or fuzz.ratio(
                member, self.names[i].rsplit(".", 1)[-1].lower()) >= MEMBER_CUTOFF]
            if found:
                return found
        # df.groupby, x.reshape: the receiver is a variable; its member is what matters
        return [(i, s * 0.9) for i, s in self._lookup("tail1", parts[-1], 85, budget)]

    def _scattered(self, positions: dict[str, list[int]]) -> list[str]:
        """Names whose words all occur in the query, near each other, in order (see
        SCATTERED_WEIGHT)."""
        found = []
        for word in positions:
            for tail, words in self._by_rarest.get(word, ()):
                if all(w in positions for w in words) and any(
                        _span([positions[w] for w in order]) - len(words) <= SCATTERED_SLACK
                        for order in (words, words[-1:] + words[:-1])):
                    found.append(tail)
        return found

    def match(self, terms: QueryTerms, *, libraries: frozenset[str] | None = None,
              limit: int = 50,
              fuzzy_words: bool = True) -> list[tuple[_Key, float]]:
        """Best objects for the query's identifiers and plain-word names, best first.

        Plain words match exactly (`merge`) and, with `fuzzy_words`, with a typo (`argsrot`);
        hybrid search leaves typo'd prose words out: `frames` is not a misspelt `Frame`.
        """
        best: dict[_Key, float] = {}
        budget = [MAX_FUZZY_LOOKUPS]
        compounds = [(c, COMPOUND_WEIGHT) for c in terms.compounds if c in self._tail1]
        spelt = {c for c, _ in compounds}
        scattered = [(t, SCATTERED_WEIGHT) for t in self._scattered(terms.positions)
                     if t not in spelt]
        for term, weight in [(t, 1.0) for t in terms.identifiers] + compounds + scattered + \
                [(w, WORD_WEIGHT) for w in terms.words]:
            if weight == 1.0:
                matches = self._matches(term, budget)
            elif term in self._tail1:
                matches = [(i, 100.0) for i in self._tail1[term]]
            elif fuzzy_words and len(term) >= 6:  # a typo'd name without underscores: argsrot
                matches = self._lookup("tail1", term, 85, budget)
            else:
                matches = []
            for i, score in matches:
                key = self.keys[i]
                if libraries is not None and key[0] not in libraries:
                    continue
                value = score * weight
                if value > best.get(key, 0.0):
                    best[key] = value
        ranked = sorted(best, key=lambda key: (-best[key], -self._prior(key, terms.hints),
                                               len(key[2]), key))
        return [(key, best[key] / 100.0) for key in ranked[:limit]]

    @staticmethod
    def _prior(key: _Key, hints: set[str]) -> int:
        owner = key[2].rsplit(".", 1)[0]
        prior = 100 if key[0] in hints else 0
        if owner in PREFERRED_OWNERS:
            prior += len(PREFERRED_OWNERS) - PREFERRED_OWNERS.index(owner)
        return prior


def _span(occurrences: list[list[int]]) -> int:
    """Fewest consecutive words holding one occurrence of each word, in the given order
    (a large number when they never occur in that order)."""
    best = 1 << 30
    for start in occurrences[0]:
        pos = start
        for places in occurrences[1:]:
            later = [p for p in places if p > pos]
            if not later:
                break
            pos = later[0]
        else:
            best = min(best, pos - start + 1)
    return best
