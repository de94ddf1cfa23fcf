"""Synthesis offline: one recommendation from the retrieved material, through jinja2 templates.

The template answer must read well alone (it is also what an LLM answer falls back to): a
title, the advice, why (citing the docs by library, version and object), the user's code
before and after, caveats, a confidence and the sources.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

import jinja2

from spark_lsp.agent.intent import Intent
from spark_lsp.agent.recommendation import Recommendation, recommendation_id
from spark_lsp.agent.retrieve import CardHit, DocRef, Retrieved
from spark_lsp.agent.tailor import Example, tailored_example
from spark_lsp.analysis.cards import version_in

_CHANGE_WORDS = re.compile(r"(?i)\b(deprecated|removed|versionchanged|changed in version|"
                           r"will be removed|futurewarning|no longer)\b")


def _first_sentence(text: str, limit: int = 240) -> str:
    text = " ".join(text.split())
    m = re.match(r"(.+?[.!?])(\s|$)", text)
    sentence = m.group(1) if m else text
    return sentence if len(sentence) <= limit else sentence[:limit - 1].rstrip() + "…"


def _short(obj: str) -> str:
    parts = obj.split(".")
    return ".".join(parts[-2:]) if len(parts) > 2 else obj


def _caveats(intent: Intent, card: CardHit | None, docs: list[DocRef],
             versions: dict[str, str], traces_rejected: int) -> list[str]:
    out: list[str] = []
    for lib in intent.unknown_libraries:
        out.append(f"`{lib}` is not installed here, so Spark cannot check its version or "
                   f"documentation; the advice is generic for it.")
    if card is not None:
        for lib, spec in card.card.libraries.items():
            installed = versions.get(lib)
            inside = version_in(installed, spec) if spec else None
            if inside is None:
                continue
            if inside:
                out.append(f"Applies to {lib} {spec}; you have {lib} {installed}.")
            else:
                out.append(f"Written for {lib} {spec}, but you have {lib} {installed}: "
                           f"check that it still applies.")
        if card.card.fix.applicability == "unsafe":
            out.append("The rewrite can change behaviour (" +
                       card.card.fix.description.rstrip(".") + "): review it before applying.")
        elif card.card.fix.applicability == "display":
            out.append("There is no automatic fix: adapt the example by hand.")
    for d in docs[:3]:
        installed = versions.get(d.library)
        if installed and d.version and installed != d.version:
            out.append(f"The documentation cited for {d.library} is version {d.version}; "
                       f"you have {installed}.")
        m = _CHANGE_WORDS.search(d.text)
        if m:
            out.append(f"`{_short(d.object)}` ({d.library} {d.version}): the documentation "
                       f"mentions a behaviour change ({m.group(1).lower()}).")
    if traces_rejected:
        out.append(f"On similar code your team rejected this {traces_rejected} time(s).")
    return list(dict.fromkeys(out))


def _sources(retrieved: Retrieved, card: CardHit | None, docs: list[DocRef]
             ) -> dict[str, list[dict[str, object]]]:
    cards = [{"code": h.card.code, "title": h.card.title, "origin": h.origin, "score": h.score,
              "url": h.card.url} for h in retrieved.cards[:3]]
    if card is not None:  # the chosen card first
        cards.sort(key=lambda c: c["code"] != card.card.code)
    return {
        "cards": cards,
        "docs": [{"object": d.object, "library": d.library, "version": d.version,
                  "kind": d.kind, "origin": d.origin, "score": d.score, "url": d.url}
                 for d in docs],
        "traces": [{"id": t.trace.id, "outcome": t.trace.outcome, "code": t.trace.code,
                    "similarity": t.similarity} for t in retrieved.traces],
    }


def _confidence(card: CardHit | None, docs: list[DocRef], accepted: int, rejected: int,
                example: Example) -> float:
    if card is not None:
        base = 0.5 + 0.45 * card.score
    elif docs:
        base = 0.25 + 0.35 * max(d.score for d in docs[:3])
    else:
        base = 0.1
    base += min(0.1, 0.03 * accepted) - min(0.3, 0.1 * rejected)
    if example.origin in ("none",):
        base -= 0.1
    return round(max(0.05, min(0.99, base)), 2)


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("spark_lsp.agent", "templates"),
                             autoescape=False, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    env.filters["short"] = _short
    env.filters["sentence"] = _first_sentence
    env.filters["fence"] = _fence
    return env


def _fence(code: str) -> str:
    fence = "```"
    while fence in code:
        fence += "`"
    return f"{fence}python\n{code.rstrip()}\n{fence}"


def synthesize(intent: Intent, retrieved: Retrieved, versions: dict[str, str],
               lines: list[str], imports: dict[str, str], key: str) -> Recommendation:
    """The template recommendation for this intent and material."""
    card = retrieved.cards[0] if retrieved.cards else None
    docs = retrieved.docs
    outcomes = Counter(t.trace.outcome for t in retrieved.traces)
    accepted = outcomes["accepted"] + outcomes["corrected"]
    rejected = outcomes["rejected"]
    example = tailored_example(intent, card, docs, lines, imports)
    top_doc = docs[0] if docs else None
    context = dict(intent=intent, card=card.card if card else None, hit=card, docs=docs[:3],
                   top_doc=top_doc, traces=retrieved.traces, accepted=accepted,
                   rejected=rejected, finding=intent.finding, versions=versions)
    env = _env()
    title = env.get_template("title.j2").render(**context).strip()
    advice = env.get_template("advice.j2").render(**context).strip()
    why = env.get_template("why.j2").render(**context).strip()
    return Recommendation(
        id=recommendation_id(card.card.code if card else None, key),
        title=title, advice=advice, why=why, example=example,
        caveats=_caveats(intent, card, docs, versions, rejected),
        confidence=_confidence(card, docs, accepted, rejected, example),
        sources=_sources(retrieved, card, docs),
        intent=intent.summary(),
        code=card.card.code if card else None,
        notes=list(retrieved.notes),
    )


def render_markdown(rec: Recommendation) -> str:
    return _env().get_template("recommendation.md.j2").render(rec=rec).strip() + "\n"


def render_text(rec: Recommendation) -> str:
    return _env().get_template("recommendation.txt.j2").render(rec=rec).strip() + "\n"
