"""Retrieval for an error or warning: where it happened in the user's code, the cards that declare
its message, and what the documentation of the installed versions says about the object the
message (or the failing line) names.

Order of evidence: a card whose `errors` regex matches the message (the exception itself first,
then the exceptions chained before it); a card whose rule fires on the failing line and that
declares messages of the same class (a bare `FutureWarning` with code); then the docs: the
attribute, keyword or import the message names, looked up in the documentation of the version
installed here, with the deprecation / "versionchanged" notes that mention it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from spark_lsp.analysis.cards import Card, ErrorPattern
from spark_lsp.analysis.findings import Finding
from spark_lsp.analysis.tracebacks import Frame, ParsedError, RaisedError

log = logging.getLogger(__name__)

MAX_CARD_HITS = 5
_QUOTED = re.compile(r"""['"]([A-Za-z_][\w.]{0,80})['"]""")


@dataclass
class Location:
    """Where the error happened in the code Spark was given (0-based line), or only in the
    traceback (`line` None)."""

    path: str = ""
    line: int | None = None
    source: str = ""  # the failing line's code
    guessed: bool = False  # found from the names in the message, not from a frame

    def to_dict(self) -> dict[str, object]:
        return {"path": self.path, "line": None if self.line is None else self.line + 1,
                "source": self.source, "guessed": self.guessed}


@dataclass
class ErrorCardHit:
    card: Card
    score: float
    origin: str  # message | cause | code
    pattern: ErrorPattern | None = None
    matched: str = ""  # the error text the pattern matched
    finding: Finding | None = None  # the card's rule on the failing line: the fix is known


@dataclass
class DocFact:
    """Something the documentation of an installed version says (or does not say) about the
    object an error names."""

    kind: str  # missing | signature | change | documented
    object: str
    library: str
    version: str
    text: str = ""
    url: str | None = None
    detail: str = ""  # the attribute / keyword / name in question


@dataclass
class NamedInError:
    owner: str = ""  # DataFrame, numpy, AgglomerativeClustering.__init__, sklearn.metrics
    member: str = ""  # append, affinity, mean_squared_error
    kind: str = ""  # attribute | module-attribute | keyword | import | call
    suggestion: str = ""  # Python's "Did you mean: 'x'?"


_NAMED = [
    ("module-attribute", re.compile(r"module '(?P<owner>[\w.]+)' has no attribute '(?P<member>\w+)'")),
    ("attribute", re.compile(r"(?:type object )?'(?P<owner>[\w.]+)' (?:object )?has no "
                             r"attribute '(?P<member>\w+)'")),
    ("keyword", re.compile(r"(?P<owner>[\w.]+)\(\) got an unexpected keyword argument "
                           r"'(?P<member>\w+)'")),
    ("import", re.compile(r"cannot import name '(?P<member>\w+)' from '(?P<owner>[\w.]+)'")),
    ("call", re.compile(r"(?P<owner>[\w.]+)\(\) (?:takes|missing|got multiple values)")),
]
_DID_YOU_MEAN = re.compile(r"Did you mean:? '?(?P<name>[\w.]+)'?\??")


def named_in(error: RaisedError) -> NamedInError | None:
    """The object and member an error message is about, when its wording says."""
    for kind, pattern in _NAMED:
        m = pattern.search(error.message[:2000])
        if m:
            found = NamedInError(m.group("owner"), m.groupdict().get("member") or "", kind)
            dym = _DID_YOU_MEAN.search(error.message[m.end():m.end() + 200])
            if dym:
                found.suggestion = dym.group("name")
            return found
    return None


# -- where ---------------------------------------------------------------------------------------

def locate(parsed: ParsedError, code: str, path: str = "") -> Location:
    """The failing line in `code`: the innermost user frame of the traceback that is this file
    (by name, else by its printed source line), else a line using a name the message quotes."""
    frames = [f for err in [parsed.error, *reversed(parsed.causes)] for f in reversed(err.frames)
              if f.is_user_code]
    lines = code.splitlines()
    name = Path(path).name if path else ""
    same_file = [f for f in frames if name and Path(f.path.replace("\\", "/")).name == name]
    for frame in same_file + frames:
        line = _line_of(frame, lines, exact=frame in same_file or len(frames) == 1)
        if line is not None:
            return Location(path or frame.path, line, lines[line].strip())
    if frames and not lines:
        f = frames[0]
        return Location(f.path, None, f.source)
    if lines:
        line = _guess_line(parsed.error, lines)
        if line is not None:
            return Location(path, line, lines[line].strip(), guessed=True)
    return Location(path)


def _line_of(frame: Frame, lines: list[str], exact: bool) -> int | None:
    if not lines:
        return None
    i = frame.line - 1
    if 0 <= i < len(lines) and (not frame.source or lines[i].strip() == frame.source) \
            and (exact or frame.source):
        return i
    if frame.source:
        hits = [j for j, ln in enumerate(lines) if ln.strip() == frame.source]
        if hits:
            return min(hits, key=lambda j: abs(j - i))
    return None


def _guess_line(error: RaisedError, lines: list[str]) -> int | None:
    """A line that uses what the message names: `.append(`, `date`, `keyword=`."""
    names = [m.group(1) for m in _QUOTED.finditer(error.message[:500])]
    named = named_in(error)
    if named is not None and named.member:
        names.insert(0, named.member)
    for name in dict.fromkeys(n.rsplit(".", 1)[-1] for n in names):
        word = re.compile(rf"(?<![\w]){re.escape(name)}(?![\w])")
        for i, ln in enumerate(lines):
            code = ln.split("#", 1)[0]
            if code.strip() and word.search(code):
                return i
    return None


# -- cards ---------------------------------------------------------------------------------------

def declares(card: Card, type_name: str) -> bool:
    """Whether a card's messages are of this class (its regexes, their examples, its examples)."""
    texts = [p.regex for p in card.errors] + [e for p in card.errors for e in p.examples] + \
        [ex.error or "" for ex in card.examples]
    return any(type_name in t for t in texts)


def match_cards(parsed: ParsedError, cards: list[Card], findings: list[Finding],
                location: Location, libraries: set[str] | None = None,
                code: str = "") -> list[ErrorCardHit]:
    """Cards that explain the error, best first. `libraries`: those the code imports or the
    traceback passes through, when known — a card about another library ranks lower. A
    pattern with a condition on the code (`in_code`, `with_finding`: how a bare
    `FutureWarning` is tied to a call) counts only when `code` meets it."""
    hits: dict[str, ErrorCardHit] = {}
    on_line = {f.code: f for f in findings if location.line is not None
               and f.span.start.line <= location.line <= f.span.end.line}
    first: dict[str, Finding] = {}
    for f in findings:
        first.setdefault(f.code, f)
    fired = set(first)
    for rank, err in enumerate([parsed.error, *reversed(parsed.causes)]):
        base = 1.0 if rank == 0 else 0.9
        for card in cards:
            if card.code in hits:
                continue
            best: tuple[float, ErrorPattern, str] | None = None
            for pattern in card.errors:
                if pattern.search(err.text) is None or not _code_agrees(pattern, card, code,
                                                                         fired):
                    continue
                score = base * (0.7 + 0.3 * specificity(pattern)) * _fit(card, libraries)
                if pattern.needs_code:  # a guess from the code, not the message's wording
                    score *= 0.9
                if best is None or score > best[0]:
                    best = (score, pattern, err.text)
            if best is not None:
                finding = on_line.get(card.code) or (first.get(card.code)
                                                     if best[1].with_finding else None)
                hits[card.code] = ErrorCardHit(card, round(best[0], 3),
                                               "message" if rank == 0 else "cause", best[1],
                                               best[2], finding)
    by_code = {c.code: c for c in cards}
    for code_, f in on_line.items() if parsed.error.name else []:
        owner = by_code.get(code_)
        # the card's rule fires on the failing line and it explains messages of this class
        if owner is not None and code_ not in hits and declares(owner, parsed.error.name):
            hits[code_] = ErrorCardHit(owner, 0.75, "code", finding=f)
    for hit in hits.values():
        if hit.finding is not None and hit.origin != "code":
            hit.score = min(1.0, round(hit.score + 0.05, 3))
    return sorted(hits.values(), key=lambda h: (-h.score, h.card.code))[:MAX_CARD_HITS]


_REGEX_SYNTAX = re.compile(r"\\[dwsDWSbBAZ]|\[[^\]]*\]|\(\?[:!=<P]?(?:<\w+>)?|[()|*+?^$.]|"
                          r"\{\d*,?\d*\}")


def specificity(pattern: ErrorPattern) -> float:
    """0..1: how much literal text a regex holds — `^KeyError: ` explains less than
    `'DataFrame' object has no attribute 'append'`."""
    literal = re.sub(r"\W", "", _REGEX_SYNTAX.sub("", pattern.regex))
    return min(1.0, len(literal) / 30)


def _code_agrees(pattern: ErrorPattern, card: Card, code: str, fired: set[str]) -> bool:
    if not pattern.needs_code:
        return True
    if not code.strip():
        return False
    if pattern.in_code and not pattern.found_in(code):
        return False
    return not pattern.with_finding or card.code in fired


def _fit(card: Card, libraries: set[str] | None) -> float:
    """A card tagged `generic` stands back for a specific one; a card about a library the code
    does not use stands back too."""
    factor = 0.85 if "generic" in card.tags else 1.0
    own = set(card.libraries) - {"python"}
    if libraries and own and not own & libraries:
        factor *= 0.7
    return factor


def version_context(hit: ErrorCardHit, versions: dict[str, str]) -> list[str]:
    """"This message comes from pandas >=2.0 (removed in pandas 2.0); you run pandas 3.1.1"."""
    pattern = hit.pattern
    out: list[str] = []
    if pattern is None:
        return out
    for lib, spec in pattern.versions.items():
        installed = versions.get(lib)
        what = f"This message comes from {lib} {spec}" + (f" ({pattern.note})" if pattern.note
                                                          else "")
        if installed is None:
            out.append(f"{what}; {lib} is not installed here.")
            continue
        emits = pattern.emitted_by({lib: installed})
        if emits is False:
            out.append(f"{what}, but you run {lib} {installed}, which does not emit it: the "
                       f"message comes from another environment, or it changed since.")
        else:
            out.append(f"{what}; you run {lib} {installed}.")
    if not pattern.versions and pattern.note:
        out.append(pattern.note[:1].upper() + pattern.note[1:] + ".")
    return out


# -- documentation -------------------------------------------------------------------------------

@dataclass
class ErrorDocs:
    facts: list[DocFact] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def error_docs(error: RaisedError, libraries: list[str], versions: dict[str, str], *,
               home: Path | None) -> ErrorDocs:
    """What the installed versions' documentation says about what the message names."""
    from spark_lsp.kb.symbols import change_notes, describe_symbol, find_symbols

    out = ErrorDocs()
    named = named_in(error)
    if named is None:
        return out
    owner = named.owner.removesuffix(".__init__")
    libs = libraries or None
    if named.kind in ("module-attribute", "import"):
        owners = [owner] if owner.split(".")[0] in _known_libraries(versions) else []
    else:
        owners = [owner] if "." in owner and owner.split(".")[0] in _known_libraries(versions) \
            else [s.object for s in find_symbols(owner, versions, home=home, libraries=libs)]
        if not owners and libs:
            owners = [s.object for s in find_symbols(owner, versions, home=home)]
    for qual in owners[:2]:
        library = qual.split(".")[0]
        if named.kind in ("attribute", "module-attribute", "import") and named.member:
            sym = describe_symbol(f"{qual}.{named.member}", versions, home=home)
            if sym is not None:
                out.facts.append(DocFact("documented", sym.object, sym.library, sym.version,
                                         sym.summary, sym.link, named.member))
                continue
            owner_doc = describe_symbol(qual, versions, home=home)
            version = owner_doc.version if owner_doc else versions.get(library, "")
            if not version:
                continue
            out.facts.append(DocFact("missing", f"{qual}.{named.member}", library, version,
                                     "", owner_doc.link if owner_doc else None, named.member))
            if named.suggestion:
                alt = describe_symbol(f"{qual}.{named.suggestion.rsplit('.', 1)[-1]}", versions,
                                      home=home)
                if alt is not None:
                    out.facts.append(DocFact("documented", alt.object, alt.library, alt.version,
                                             alt.summary, alt.link, named.suggestion))
            for obj, text in change_notes(library, version, obj=qual, mentioning=named.member,
                                          home=home):
                out.facts.append(DocFact("change", obj, library, version, text, None,
                                         named.member))
        else:
            sym = describe_symbol(qual, versions, home=home)
            if sym is None:
                continue
            out.facts.append(DocFact("signature", sym.object, sym.library, sym.version,
                                     sym.signature, sym.link, named.member))
            # only notes that name the keyword: the object's other changes would be noise
            notes = change_notes(sym.library, sym.version, obj=sym.object,
                                 mentioning=named.member, home=home) if named.member else []
            for obj, text in notes:
                out.facts.append(DocFact("change", obj, sym.library, sym.version, text, None,
                                         named.member))
    return out


def _known_libraries(versions: dict[str, str]) -> set[str]:
    from spark_lsp.agent.retrieve import DOC_LIBRARIES

    return set(DOC_LIBRARIES) | set(versions)
