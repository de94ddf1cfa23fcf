"""Recommendations for an error or warning: its cause, the fix, the version context, sources.

    parsed = parse_error_text(traceback)            # analysis.tracebacks: detect
    explanation = explain(agent, parsed, code, path) # error_match: retrieve; here: recommend

Candidates are ranked together: cards that declare the message (scored by how specific the
regex is), what the documentation of the installed versions says about the object the message
names (an attribute that is not there, a keyword its signature lacks, the deprecation note
that mentions it), and the team's past fixes of similar code. Each becomes the agent's
`Recommendation`; the best comes first. `explain_diagnostic` does the same for another tool's
diagnostic (Pylance, mypy, ruff…) on a line of an open document.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from spark_lsp.agent.error_match import (
    DocFact,
    ErrorCardHit,
    Location,
    error_docs,
    locate,
    match_cards,
    version_context,
)
from spark_lsp.agent.intent import Intent, infer_intent
from spark_lsp.agent.recommendation import Recommendation, recommendation_id
from spark_lsp.agent.retrieve import (
    CardHit,
    DocRef,
    Retrieved,
    TraceHit,
    load_traces,
    retrieve_docs,
    similar_traces,
)
from spark_lsp.agent.synthesize import render_markdown, render_text, synthesize
from spark_lsp.agent.tailor import Example
from spark_lsp.analysis.context import FileContext
from spark_lsp.analysis.findings import Finding
from spark_lsp.analysis.tracebacks import (
    Frame,
    NotATraceback,
    ParsedError,
    RaisedError,
    message_fragment,
    parse_error_text,
)

if TYPE_CHECKING:
    from spark_lsp.agent.service import Agent

log = logging.getLogger(__name__)

MAX_TRACEBACK_CHARS = 1_000_000  # MCP / LSP input; the CLI reads only a file's tail
MAX_DIAGNOSTIC_CHARS = 4_000
TOP_K = 3
_SITE_LIBRARY = re.compile(r"(?:site|dist)-packages[/\\](?P<lib>[A-Za-z_]\w*)")


@dataclass
class ErrorExplanation:
    error: ParsedError
    location: Location
    recommendations: list[Recommendation]  # best first; never empty
    explained: bool  # False: no card, documentation or trace had anything to say
    finding: Finding | None = None  # a card's rule on the failing line: the fix and its range
    notes: list[str] = field(default_factory=list)

    @property
    def recommendation(self) -> Recommendation:
        return self.recommendations[0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "error": self.error.to_dict(),
            "location": self.location.to_dict(),
            "explained": self.explained,
            "recommendation": self.recommendation.to_dict(),
            "alternatives": [r.to_dict() for r in self.recommendations[1:]],
            "fix": self.finding.to_dict() if self.finding is not None else None,
            "notes": list(self.notes),
        }


@dataclass
class _Candidate:
    score: float
    kind: str  # card | docs | trace
    hit: ErrorCardHit | None = None
    facts: list[DocFact] = field(default_factory=list)
    trace: TraceHit | None = None


# -- the pipeline ----------------------------------------------------------------------------------

def explain(agent: Agent, parsed: ParsedError, code: str = "", path: str = "", *,
            k: int = TOP_K) -> ErrorExplanation:
    """Up to `k` recommendations for a parsed error, with the user's code when given."""
    location = locate(parsed, code, path)
    findings = _analyze(agent, code, path)
    cards = list(agent.cards.values())
    ctx = FileContext.from_text(code) if code.strip() else None
    intent = _intent(parsed.error, location, code, path, agent.versions, ctx)
    known = set(intent.libraries) | set(_libraries(parsed.error, location, agent.versions))
    hits = match_cards(parsed, cards, findings, location, known or None, code)
    candidates = [_Candidate(h.score, "card", hit=h) for h in hits]
    if not hits or hits[0].score < 0.95:
        candidates += _doc_candidates(parsed.error, intent, agent)
    traces = similar_traces(intent, load_traces(agent.home)) if intent.window.strip() else []
    if traces and traces[0].trace.after.strip():
        candidates.append(_Candidate(0.3 + traces[0].similarity / 400, "trace",
                                     trace=traces[0]))
    candidates.sort(key=lambda c: -c.score)
    recs = []
    for cand in candidates[:k]:
        try:
            recs.append(_recommend(cand, parsed, location, intent, hits, traces, agent, ctx))
        except Exception as exc:  # noqa: BLE001 - one bad candidate must not cost the others
            log.warning("no recommendation from %s candidate: %s", cand.kind, exc)
    explained = bool(recs)
    if not recs:
        recs = [_unexplained(parsed.error, location)]
    finding = next((h.finding for h in hits if h.finding is not None), None)
    return ErrorExplanation(parsed, location, recs, explained, finding, list(parsed.notes))


def explain_text(agent: Agent, text: str | bytes, code: str = "", path: str = "", *,
                 cut: bool = False) -> ErrorExplanation:
    """Parse a traceback / warning text and explain it. NotATraceback when it is neither —
    unless a card recognises the text as (the end of) a message it explains."""
    try:
        parsed = parse_error_text(text, cut=cut)
    except NotATraceback as exc:
        if exc.language is not None:
            raise
        parsed = ParsedError(message_fragment(text, cut=cut), truncated=True, notes=[
            "no exception line was found; the text was read as the end of a message"])
        explanation = explain(agent, parsed, code, path)
        if explanation.recommendation.code is None or not explanation.explained:
            raise
        return explanation
    return explain(agent, parsed, code, path)


def explain_diagnostic(agent: Agent, message: str, source: str, line: int,
                       text: str) -> Recommendation | None:
    """A recommendation for another tool's diagnostic (Pylance, mypy, ruff, a test runner) on
    0-based `line` of a document's `text`; None when Spark has nothing specific to say.

    The message is read as the Python error it stands for (`Cannot access attribute "append"
    for class "DataFrame"` -> `AttributeError: 'DataFrame' object has no attribute 'append'`),
    and as written (cards may declare a tool's own wording).
    """
    explanation = explain_diagnostic_fully(agent, message, source, line, text)
    return explanation.recommendation if explanation is not None else None


def explain_diagnostic_fully(agent: Agent, message: str, source: str, line: int,
                             text: str) -> ErrorExplanation | None:
    """`explain_diagnostic` with the whole explanation: its `finding` is the card's rule firing
    on the diagnostic's line (the fix an editor can offer on the other tool's range)."""
    message = message[:MAX_DIAGNOSTIC_CHARS]
    source_line = text.splitlines()[line].strip() if 0 <= line < len(text.splitlines()) else ""
    for candidate in dict.fromkeys([as_python_error(message), message.strip()]):
        if not candidate:
            continue
        try:
            parsed = parse_error_text(candidate)
        except ValueError:
            parsed = ParsedError(RaisedError("Diagnostic", candidate))
        parsed.error.frames = [Frame("<document>", line + 1, "", source_line)]
        explanation = explain(agent, parsed, text, "<document>", k=1)
        if explanation.explained:
            rec = explanation.recommendation
            rec.intent.setdefault("diagnostic", {"source": source, "message": message})
            return explanation
    return None


# -- other tools' wording ----------------------------------------------------------------------------

_DIAGNOSTIC_FORMS = [
    # Pylance / pyright
    (re.compile(r'Cannot access attribute "(?P<a>\w+)" for class "(?P<c>[\w.\[\]]+)"'),
     "AttributeError: '{c}' object has no attribute '{a}'"),
    (re.compile(r'"(?P<a>\w+)" is not a known attribute of module "(?P<m>[\w.]+)"'),
     "AttributeError: module '{m}' has no attribute '{a}'"),
    (re.compile(r'No parameter named "(?P<k>\w+)"'),
     "TypeError: got an unexpected keyword argument '{k}'"),
    (re.compile(r'"(?P<n>\w+)" is not defined'), "NameError: name '{n}' is not defined"),
    (re.compile(r'Import "(?P<m>[\w.]+)" could not be resolved'),
     "ModuleNotFoundError: No module named '{m}'"),
    (re.compile(r'"(?P<n>\w+)" is unknown import symbol'), "ImportError: cannot import name '{n}'"),
    (re.compile(r'The (?:method|function|class) "(?P<n>\w+)"(?: in class "(?P<c>\w+)")? is '
                r'deprecated'), "FutureWarning: {c}.{n} is deprecated"),
    # mypy
    (re.compile(r'"(?P<c>[\w.\[\]]+)" has no attribute "(?P<a>\w+)"'),
     "AttributeError: '{c}' object has no attribute '{a}'"),
    (re.compile(r'Module "(?P<m>[\w.]+)" has no attribute "(?P<a>\w+)"'),
     "AttributeError: module '{m}' has no attribute '{a}'"),
    (re.compile(r'Unexpected keyword argument "(?P<k>\w+)" for "(?P<f>[\w.]+)"'),
     "TypeError: {f}() got an unexpected keyword argument '{k}'"),
    (re.compile(r'Name "(?P<n>\w+)" is not defined'), "NameError: name '{n}' is not defined"),
    # ruff / pyflakes
    (re.compile(r"Undefined name `(?P<n>\w+)`"), "NameError: name '{n}' is not defined"),
    (re.compile(r"undefined name '(?P<n>\w+)'"), "NameError: name '{n}' is not defined"),
]


def as_python_error(message: str) -> str:
    """The `Type: message` a diagnostic's wording stands for ('' when not recognised)."""
    for pattern, template in _DIAGNOSTIC_FORMS:
        m = pattern.search(message)
        if m:
            values = {k: (v or "").split("[")[0].rsplit(".", 1)[-1] if k == "c" else (v or "")
                      for k, v in m.groupdict().items()}
            return template.format(**values).replace(" .", " ").replace("'.", "'")
    return ""


# -- pieces --------------------------------------------------------------------------------------------

def _analyze(agent: Agent, code: str, path: str) -> list[Finding]:
    if not code.strip():
        return []
    try:
        return agent.analyzer.analyze(code, path)
    except Exception as exc:  # noqa: BLE001 - one bad card must not cost the explanation
        log.warning("analysis failed: %s", exc)
        return []


def _libraries(error: RaisedError, location: Location, versions: dict[str, str]) -> list[str]:
    """Libraries the error involves when there is no code: frames, the exception's module."""
    libs: dict[str, None] = {}
    for frame in error.frames:
        m = _SITE_LIBRARY.search(frame.path)
        if m:
            libs[m.group("lib")] = None
    if "." in error.type:
        libs[error.type.split(".")[0]] = None
    return [lib for lib in libs if lib in versions] or list(libs)


def _intent(error: RaisedError, location: Location, code: str, path: str,
            versions: dict[str, str], ctx: FileContext | None) -> Intent:
    if ctx is not None:
        return infer_intent(code, location.line, versions=versions, path=path, ctx=ctx)
    libs = {lib: versions.get(lib) for lib in _libraries(error, location, versions)}
    return Intent(window=location.source, libraries=libs, path=path)


def _doc_candidates(error: RaisedError, intent: Intent, agent: Agent) -> list[_Candidate]:
    libraries = [lib for lib in intent.libraries if lib in agent.versions]
    docs = error_docs(error, libraries, agent.versions, home=agent.home)
    facts = docs.facts
    if not facts:
        return []
    # a documented fact about the very object and member the message names is more specific
    # than a generic card (at most 0.85), less than a card that declares the message itself
    kinds = {f.kind for f in facts}
    if kinds & {"missing", "signature"}:
        score = 0.9 if "change" in kinds else 0.88
    else:
        score = 0.5
    return [_Candidate(score, "docs", facts=facts)]


def _key(*parts: object) -> str:
    raw = "\x1f".join(str(p) for p in parts)
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def _error_summary(parsed: ParsedError, location: Location) -> dict[str, Any]:
    frame = parsed.user_frame
    return {"type": parsed.error.type, "message": parsed.error.message[:500],
            "warning": parsed.error.warning,
            "frame": {"path": frame.path, "line": frame.line, "function": frame.function,
                      "source": frame.source} if frame else None,
            "location": location.to_dict()}


def _recommend(cand: _Candidate, parsed: ParsedError, location: Location, intent: Intent,
               hits: list[ErrorCardHit], traces: list[TraceHit], agent: Agent,
               ctx: FileContext | None) -> Recommendation:
    lines = ctx.lines if ctx is not None else []
    imports = ctx.facts.imports if ctx is not None else {}
    key = _key(parsed.error.text, location.source, intent.window, cand.kind,
               cand.hit.card.code if cand.hit else "", sorted(agent.versions.items()))
    if cand.kind == "card" and cand.hit is not None:
        hit = cand.hit
        intent.finding = hit.finding
        others = [CardHit(h.card, h.score, f"error-{h.origin}") for h in hits if h is not hit]
        retrieved = Retrieved(cards=[CardHit(hit.card, hit.score, f"error-{hit.origin}"),
                                     *others], traces=traces,
                              findings=[hit.finding] if hit.finding else [])
        # the docs of the card's sources only: a search on the message's words adds little
        quiet = replace(intent, comments=[], calls=[], finding=None)
        retrieved.docs, retrieved.notes = retrieve_docs(
            quiet, retrieved.cards[:1], agent.versions, home=agent.home, mode="bm25")
        rec = synthesize(intent, retrieved, agent.versions, lines, imports, key)
        if hit.finding is None and not hit.card.rules and hit.card.examples:
            # an error card's example shows the cause, not the user's line: renaming its
            # variables to the user's would only blur it
            ex = hit.card.examples[0]
            rec.example = Example(ex.bad.rstrip("\n"), ex.good.rstrip("\n"), "card")
        rec.caveats = version_context(hit, agent.versions) + rec.caveats
        cause = _card_cause(hit, parsed.error.name)
    elif cand.kind == "docs":
        rec = _from_docs(cand.facts, parsed.error, key, traces)
        cause = "removed-api" if any(f.kind in ("missing", "signature") for f in cand.facts) \
            else "type-confusion"
    else:
        assert cand.trace is not None
        rec = _from_trace(cand.trace, parsed.error, key)
        cause = "team-history"
    rec.intent["error"] = {**_error_summary(parsed, location), "cause": cause}
    return rec


def _card_cause(hit: ErrorCardHit, type_name: str) -> str:
    """The cause the matched message stands for (the card's category when it does not say)."""
    if hit.pattern is not None and hit.pattern.cause:
        return hit.pattern.cause
    for p in hit.card.errors:
        if p.cause and (type_name in p.regex or any(type_name in e for e in p.examples)):
            return p.cause
    return next((p.cause for p in hit.card.errors if p.cause), hit.card.category)


def _quote(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def _from_docs(facts: list[DocFact], error: RaisedError, key: str,
               traces: list[TraceHit]) -> Recommendation:
    main = next((f for f in facts if f.kind in ("missing", "signature")), facts[0])
    lib = f"{main.library} {main.version}"
    changes = [f for f in facts if f.kind == "change"]
    alternative = next((f for f in facts if f.kind == "documented" and f is not main), None)
    if main.kind == "missing":
        title = f"`{main.object}` does not exist in {lib}"
        advice = (f"`{main.detail}` is not part of {lib}, the version installed here: it was "
                  f"removed or renamed, or the object is not the type you expect.")
        if alternative is not None:
            advice += f" Did you mean `{alternative.object}`: {_quote(alternative.text, 160)}"
    elif main.kind == "signature":
        title = f"`{main.object}` in {lib}" + (f" takes no `{main.detail}`" if main.detail
                                              else ": check the call")
        advice = f"Its signature in {lib} is `{_quote(main.object.rsplit('.', 1)[-1] + main.text, 240)}`."
        if main.detail:
            advice += f" Pass only parameters it lists; `{main.detail}` is not one of them."
    else:
        title = f"`{main.object}` exists in {lib}: check what the object really is"
        advice = (f"{lib} documents `{main.object}`, so the value the code calls it on is "
                  f"probably not a {main.object.rsplit('.', 1)[0]}.")
    why = error.text[:300] + "."
    if changes:
        why += " " + " ".join(f"The {c.library} {c.version} documentation of `{c.object}` says: "
                              f"\"{_quote(c.text)}\"" for c in changes[:2])
    docs = [DocRef(f.object, f.library, f.version, "", "", f.text, f.url, 0.9, "error")
            for f in facts if f.kind != "missing"]
    sources = {"cards": [], "docs": [d.to_dict() for d in docs],
               "traces": [{"id": t.trace.id, "outcome": t.trace.outcome, "code": t.trace.code,
                           "similarity": t.similarity} for t in traces]}
    caveats = [(f"Checked against the documentation of {lib} (installed here); the traceback "
                "may come from another version.")]
    return Recommendation(
        id=recommendation_id(None, key), title=title, advice=advice, why=why,
        example=Example("", "", "none"), caveats=caveats,
        confidence=0.7 if changes else 0.55, sources=sources, intent={})


def _from_trace(trace: TraceHit, error: RaisedError, key: str) -> Recommendation:
    t = trace.trace
    return Recommendation(
        id=recommendation_id(t.code, key),
        title="Your team changed similar code before",
        advice=(f"On code {trace.similarity:.0f}% similar to the failing line, the team's "
                f"change ({t.outcome}) is shown below; {error.name} may have the same cause."),
        why=f"{error.text[:300]}. Spark has no card or documentation note for this message.",
        example=Example(t.before.strip("\n"), t.after.strip("\n"), "trace"),
        caveats=["Based on one past change of similar code, not on the message itself."],
        confidence=round(min(0.5, 0.2 + trace.similarity / 400), 2),
        sources={"cards": [], "docs": [], "traces": [
            {"id": t.id, "outcome": t.outcome, "code": t.code,
             "similarity": trace.similarity}]},
        code=t.code, intent={})


def _unexplained(error: RaisedError, location: Location) -> Recommendation:
    where = f" at `{location.source}`" if location.source else ""
    return Recommendation(
        id=recommendation_id(None, _key(error.text, location.source)),
        title=f"No explanation for {error.name}",
        advice=(f"Spark has no practice card, documentation note or past trace for "
                f"`{_quote(error.text, 160)}`{where}. Build the documentation knowledge base "
                f"(`spark kb build`) for documentation-backed answers."),
        why="Nothing in Spark's cards, the documentation of your installed versions or your "
            "team's traces matched this message.",
        example=Example("", "", "none"), confidence=0.05,
        sources={"cards": [], "docs": [], "traces": []}, intent={"error": {
            "type": error.type, "message": error.message[:500],
            "location": location.to_dict()}})


# -- rendering -----------------------------------------------------------------------------------------

def _header(exp: ErrorExplanation) -> list[str]:
    err = exp.error.error
    kind = "Warning" if err.warning else "Error"
    out = [f"{kind}: {_quote(err.text, 300)}"]
    loc = exp.location
    if loc.line is not None or loc.source:
        where = f"{loc.path or 'your code'}" + (f":{loc.line + 1}" if loc.line is not None else "")
        out.append(f"Where: {where}" + (" (guessed from the message)" if loc.guessed else "") +
                   (f": {loc.source}" if loc.source else ""))
    if exp.error.causes:
        out.append("Caused by: " + "; ".join(_quote(c.text, 120) for c in exp.error.causes))
    if exp.error.warnings:
        out.append("Also printed: " + "; ".join(
            f"{_quote(w.text.split(chr(10))[0], 100)} ({w.frames[0].path}:{w.frames[0].line})"
            if w.frames else _quote(w.text, 100) for w in exp.error.warnings[:3]) +
            (f" and {len(exp.error.warnings) - 3} more" if len(exp.error.warnings) > 3 else ""))
    if exp.finding is not None and exp.finding.fix is not None:
        out.append(f"Fix on line {exp.finding.span.start.line + 1} ({exp.finding.code}, "
                   f"{exp.finding.fix.applicability}): {exp.finding.fix.message}")
    out += [f"Note: {n}" for n in exp.notes]
    return out


def explanation_text(exp: ErrorExplanation) -> str:
    parts = ["\n".join(_header(exp)), render_text(exp.recommendation).rstrip()]
    if len(exp.recommendations) > 1:
        parts.append("Other possible causes:\n" + "\n".join(
            f"  - {r.title}" + (f" [{r.code}]" if r.code else "")
            for r in exp.recommendations[1:]))
    return "\n\n".join(parts) + "\n"


def explanation_markdown(exp: ErrorExplanation) -> str:
    header = "\n".join(f"> {line}" for line in _header(exp))
    parts = [header, render_markdown(exp.recommendation).rstrip()]
    if len(exp.recommendations) > 1:
        parts.append("**Other possible causes:**\n\n" + "\n".join(
            f"- {r.title}" + (f" ({r.code})" if r.code else "") for r in exp.recommendations[1:]))
    return "\n\n".join(parts) + "\n"
