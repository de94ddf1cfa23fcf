"""Retrieval: practice cards, documentation of the installed versions, similar past traces.

Each kind comes back ranked, with where it came from (`origin`, a score). Every source may be
missing — no knowledge base, no docs built yet, no traces — and then the others still answer;
`Retrieved.notes` says what was unavailable.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz

from spark_lsp.agent.intent import Intent
from spark_lsp.analysis.cards import Card
from spark_lsp.analysis.findings import Finding
from spark_lsp.kb.traces import Trace

log = logging.getLogger(__name__)

DOC_LIBRARIES = ("pandas", "numpy", "scipy", "sklearn", "matplotlib", "torch", "tensorflow",
                 "keras", "dask", "polars")
MAX_CALL_DOCS = 6
TRACE_TTL = 30.0  # seconds a loaded trace list is reused
MAX_TRACES = 2000
MIN_TRACE_SIMILARITY = 60.0
_STOP = {"the", "a", "an", "to", "of", "in", "on", "and", "or", "for", "with", "is", "it", "i",
         "how", "do", "does", "what", "my", "me", "this", "that", "from", "by", "be", "are",
         "use", "using", "can", "get", "want", "have", "has", "not", "no", "as", "at", "into",
         "each", "if", "would", "like", "there", "which", "then", "so", "all", "one", "new",
         "python", "code", "way", "best", "should", "result", "data"}
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_]+")
_GENERIC_TAGS = {"pandas", "numpy", "dask", "matplotlib", "scikit-learn", "sklearn", "torch",
                 "keras", "tensorflow", "scipy", "python", "api", "bug", "performance",
                 "migration", "security", "pyplot", "arrays", "evaluation"}


@dataclass
class CardHit:
    card: Card
    score: float
    origin: str  # finding | detected | related


@dataclass
class DocRef:
    object: str
    library: str
    version: str
    kind: str = ""
    signature: str = ""
    text: str = ""
    url: str | None = None
    score: float = 0.0
    origin: str = "search"  # call | card | search

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TraceHit:
    trace: Trace
    similarity: float  # 0..100


@dataclass
class Retrieved:
    cards: list[CardHit] = field(default_factory=list)
    docs: list[DocRef] = field(default_factory=list)
    traces: list[TraceHit] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)  # detected in the window
    notes: list[str] = field(default_factory=list)


# -- cards -----------------------------------------------------------------------------------

def _words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text) if w.lower() not in _STOP}


def _card_words(card: Card) -> tuple[set[str], set[str]]:
    """(strong, weak) words of a card: API member names and tags; title/message words."""
    # a library's name says which cards may apply, not which one: it is not evidence
    strong = {t.lower() for t in card.tags} - _GENERIC_TAGS
    for src in card.sources:
        obj = src.get("object") or ""
        if obj:
            strong.add(obj.rsplit(".", 1)[-1].lower())
    weak = _words(card.title) | _words(card.message)
    return strong, weak - strong


def rank_cards(intent: Intent, cards: list[Card], findings: list[Finding],
               versions: dict[str, str]) -> list[CardHit]:
    by_code = {c.code: c for c in cards}
    hits: dict[str, CardHit] = {}
    if intent.finding is not None and intent.finding.code in by_code:
        hits[intent.finding.code] = CardHit(by_code[intent.finding.code], 1.0, "finding")
    for f in findings:
        if f.code in by_code and f.code not in hits:
            hits[f.code] = CardHit(by_code[f.code], 0.9, "detected")
    query = _words(intent.question) | _words(" ".join(intent.comments))
    members = {c.rsplit(".", 1)[-1].lower() for c in intent.calls}
    libs = set(intent.libraries)
    for card in cards:
        # a card without rules explains an error message, not code: `explain_error` finds it
        if card.code in hits or not card.rules or not card.applies_to(versions):
            continue
        card_libs = set(card.libraries) - {"python"}
        if card_libs and not card_libs & libs:
            continue
        strong, weak = _card_words(card)
        code_hits = len(members & strong)  # the user calls an API the card is about
        question_hits = len(query & strong)  # words like "apply" or "where" are common alone
        if code_hits == 0 and question_hits < 2:
            continue
        w_hits = len(query & weak)
        score = min(0.7, 0.2 * code_hits + 0.12 * question_hits + 0.04 * w_hits +
                     (0.1 if card_libs & libs else 0.0))
        if score >= 0.3:
            hits[card.code] = CardHit(card, round(score, 3), "related")
    return sorted(hits.values(), key=lambda h: (-h.score, h.card.code))


# -- docs ------------------------------------------------------------------------------------

def _doc_from_symbol(sym: Any, origin: str, score: float) -> DocRef:
    return DocRef(sym.object, sym.library, sym.version, sym.kind, sym.signature, sym.summary,
                  sym.link, score, origin)


def _search_query(intent: Intent) -> str:
    if intent.question:
        return intent.question
    parts = list(intent.comments)
    parts += [c.rsplit(".", 1)[-1] for c in intent.calls[:6]]
    if intent.finding is not None:
        parts.append(intent.finding.title)
    return " ".join(parts)


def retrieve_docs(intent: Intent, cards: list[CardHit], versions: dict[str, str], *,
                  home: Path | None, mode: str, k: int = 5) -> tuple[list[DocRef], list[str]]:
    """Docs of the calls in play, of the top card's sources, and a search for the task."""
    from spark_lsp.kb.db import KBError
    from spark_lsp.kb.search import SearchUnavailable, search
    from spark_lsp.kb.symbols import describe_symbol

    notes: list[str] = []
    found: dict[str, DocRef] = {}

    def add(ref: DocRef) -> None:
        found.setdefault(ref.object, ref)

    wanted: list[tuple[str, str]] = []
    if cards:
        wanted += [(s["object"], "card") for s in cards[0].card.sources if s.get("object")][:4]
    wanted += [(c, "call") for c in intent.calls if c.split(".")[0] in DOC_LIBRARIES]
    for i, (qual, origin) in enumerate(wanted[:MAX_CALL_DOCS + 4]):
        try:
            sym = describe_symbol(qual, versions, home=home)
        except Exception as exc:  # describe_symbol promises not to raise; be sure anyway
            log.warning("describe_symbol(%s) failed: %s", qual, exc)
            sym = None
        if sym is not None:
            add(_doc_from_symbol(sym, origin, round(1.0 - 0.02 * i, 3)))
    query = _search_query(intent)
    library = intent.primary_library
    if library not in DOC_LIBRARIES:
        library = None
    if query.strip():
        hits = []
        try:
            hits = search(query, library, k=k, mode=mode, home=home, versions=versions)
        except SearchUnavailable as exc:
            notes.append(f"documentation not searched: {exc}")
        except KBError as exc:
            notes.append(f"documentation not searched: {exc}")
        except Exception as exc:  # the model or an extension missing: try words only
            log.info("docs search (%s) failed: %s; retrying with bm25", mode, exc)
            try:
                hits = search(query, library, k=k, mode="bm25", home=home, versions=versions)
            except Exception as exc2:
                notes.append(f"documentation not searched: {exc2}")
        for rank, h in enumerate(hits, 1):
            from spark_lsp.kb.symbols import doc_link

            add(DocRef(h.object, h.library, h.version, h.kind, h.signature, h.text,
                       doc_link(h.library, h.version, h.object, h.kind),
                       round(0.8 / rank, 3), "search"))
    return list(found.values()), notes


# -- traces ----------------------------------------------------------------------------------

_trace_cache: dict[Path, tuple[float, list[Trace]]] = {}
_trace_lock = threading.Lock()


def load_traces(home: Path, loader: Callable[[Path], list[Trace]] | None = None) -> list[Trace]:
    """Recent traces (database and unmerged journals), reused for TRACE_TTL seconds."""
    now = time.monotonic()
    with _trace_lock:
        cached = _trace_cache.get(home)
        if cached and now - cached[0] < TRACE_TTL:
            return cached[1]
    if loader is None:
        from spark_lsp.kb.store import list_traces

        def loader(h: Path) -> list[Trace]:
            if not h.exists():
                return []
            return list_traces(h, limit=MAX_TRACES, merge=False, timeout=0.3).traces
    try:
        traces = [t for t in loader(home) if t.before.strip()]
    except Exception as exc:  # a damaged KB must not stop a recommendation
        log.info("traces unavailable: %s", exc)
        traces = []
    with _trace_lock:
        _trace_cache[home] = (now, traces)
    return traces


def forget_traces() -> None:
    with _trace_lock:
        _trace_cache.clear()


def normalize_code(code: str) -> str:
    """Code with comments dropped, literals folded and whitespace collapsed, for comparison."""
    code = re.sub(r"#[^\n]*", "", code)
    code = re.sub(r"(?s)(\"\"\".*?\"\"\"|'''.*?'''|\"[^\"\n]*\"|'[^'\n]*')", "S", code)
    code = re.sub(r"\b\d+(\.\d+)?\b", "N", code)
    return " ".join(code.split())


def similar_traces(intent: Intent, traces: list[Trace], k: int = 5) -> list[TraceHit]:
    focus = normalize_code(intent.window)
    if not focus or not traces:
        return []
    code = intent.finding.code if intent.finding else None
    hits = []
    for t in traces:
        before = normalize_code(t.before)
        if not before:
            continue
        sim = 0.6 * fuzz.partial_ratio(before, focus) + 0.4 * fuzz.token_set_ratio(before, focus)
        if code and t.code == code:
            sim = min(100.0, sim + 10)
        if sim >= MIN_TRACE_SIMILARITY:
            hits.append(TraceHit(t, round(sim, 1)))
    hits.sort(key=lambda h: (-h.similarity, -h.trace.ts))
    return hits[:k]
