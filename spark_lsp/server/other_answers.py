"""What Spark shows on another tool's diagnostic (see `other_diagnostics.py`): a hover section
("Spark: …" cause and fix, with sources) and the code action "Spark: how to fix this".

The action is a `quickfix` carrying the edit when a card's rule fires on the diagnostic's line
with an automatic fix (the card's fix, in the client's position units, for the document's
current version); otherwise it is a `quickfix.spark.explain` action whose command
(`spark.explainDiagnostic`) opens the full recommendation beside the code, as "Ask Spark about
this" does. With an edit, that explanation is offered too ("Spark: explain this").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from spark_lsp.agent import Recommendation
from spark_lsp.agent.explain_error import ErrorExplanation
from spark_lsp.analysis.findings import Finding
from spark_lsp.server.actions import RECORD_OUTCOME, workspace_edit
from spark_lsp.server.ask import HOVER_WAIT
from spark_lsp.server.convert import LineIndex, range_from_json, range_to_json, sanitize
from spark_lsp.server.other_diagnostics import (
    BadParams,
    OtherDiagnostic,
    OtherDiagnosticsFeature,
    read_diagnostic,
)
from spark_lsp.server.snippets import finding_lines, fixed_lines

if TYPE_CHECKING:
    from spark_lsp.server.app import SparkServer

HOW_TO_FIX = "Spark: how to fix this"
EXPLAIN_THIS = "Spark: explain this"
EXPLAIN_KIND = "quickfix.spark.explain"
EXPLAIN_DIAGNOSTIC = "spark.explainDiagnostic"
MAX_SHOWN = 3  # diagnostics at one position answered in a hover
MAX_TITLE_CHARS = 90


def _quote(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def _escape(text: str) -> str:
    """Markdown's special characters in another tool's message, escaped."""
    return re.sub(r"([\\`*_\[\]<>#|])", r"\\\1", text)


def _fence(code: str) -> str:
    fence = "```"
    while fence in code:
        fence += "`"
    return f"{fence}python\n{code}\n{fence}"


def _sources(rec: Recommendation, markdown: bool) -> list[str]:
    out = []
    for card in rec.sources.get("cards", [])[:3]:
        name = f"card {card['code']}"
        out.append(f"[{name}]({card['url']}) {card['title']}" if markdown and card.get("url")
                   else f"{name} {card['title']}")
    for doc in rec.sources.get("docs", [])[:3]:
        name = f"{doc['library']} {doc['version']} " + (f"`{doc['object']}`" if markdown
                                                        else doc["object"])
        out.append(f"[{name}]({doc['url']})" if markdown and doc.get("url") else name)
    for trace in rec.sources.get("traces", [])[:2]:
        out.append(f"team trace {trace['id']} ({trace['outcome']})")
    return out


def automatic_fix(explanation: ErrorExplanation) -> Finding | None:
    """The finding whose automatic fix answers the diagnostic: the rule of the recommended card
    firing on the diagnostic's line."""
    finding = explanation.finding
    if (finding is None or finding.fix is None or not finding.fix.automatic
            or finding.code != explanation.recommendation.code):
        return None
    return finding


def hover_section(diagnostic: OtherDiagnostic, explanation: ErrorExplanation,
                  markdown: bool = True) -> str:
    """One "Spark: …" section for a hover on another tool's diagnostic."""
    rec = explanation.recommendation
    bold = (lambda s: f"**{s}**") if markdown else (lambda s: s)
    title = f"{rec.title} ({rec.code})" if rec.code else rec.title
    said = _quote(diagnostic.message, 160)
    said = f"{diagnostic.source or 'Another tool'} says: {_escape(said) if markdown else said}"
    parts = [f"{bold('Spark:')} {title}", f"_{said}_" if markdown else said, rec.advice]
    fix = automatic_fix(explanation)
    if fix is not None and fix.fix is not None:
        parts.append(f"{bold('Fix')} ({fix.fix.applicability}): {fix.fix.message} — "
                     f"code action “{HOW_TO_FIX}”")
    if rec.example.after:
        if markdown:
            if rec.example.before:
                parts += [bold("Before:"), _fence(rec.example.before)]
            parts += [bold("After:"), _fence(rec.example.after)]
        else:
            parts.append("After:\n" + "\n".join("    " + line
                                                  for line in rec.example.after.splitlines()))
    parts += [c for c in rec.caveats[:2]]
    sources = _sources(rec, markdown)
    if sources:
        parts.append(f"{bold('Sources:')} " + "; ".join(sources))
    return "\n\n".join(parts)


def hover_sections(answers: list[tuple[OtherDiagnostic, ErrorExplanation]],
                   markdown: bool = True, own_code: str | None = None) -> str:
    """The sections of a hover; one whose card is `own_code` (the Spark finding the same hover
    explains already) is cut to a line saying so."""
    rule = "\n\n---\n\n" if markdown else "\n\n"
    parts = []
    for diagnostic, explanation in answers[:MAX_SHOWN]:
        if own_code is not None and explanation.recommendation.code == own_code:
            said = _quote(diagnostic.message, 120)
            parts.append(f"{'**Spark:**' if markdown else 'Spark:'} "
                         f"{diagnostic.source or 'another tool'}'s \"{said}\" has the cause "
                         f"{own_code} explains above.")
        else:
            parts.append(hover_section(diagnostic, explanation, markdown))
    return rule.join(parts)


# -- code actions --------------------------------------------------------------------------------

def _client_diagnostic(diagnostic: OtherDiagnostic,
                       sent: list[types.Diagnostic]) -> types.Diagnostic:
    """The client's own object for the diagnostic when the request carries it (so the editor
    ties the action to it), else ours."""
    for d in sent:
        if d.range == diagnostic.range and d.message[:len(diagnostic.message)] == diagnostic.message:
            return d
    return diagnostic.to_lsp()


def fix_action(uri: str, diagnostic: types.Diagnostic, finding: Finding, text: str,
               version: int | None, encoding: str, document_changes: bool) -> types.CodeAction:
    """The card's automatic fix on another tool's range, recorded like Spark's own quick fix."""
    assert finding.fix is not None
    text = sanitize(text)
    index = LineIndex(text, encoding)
    edits = [types.TextEdit(range=index.range(e.span.start, e.span.end), new_text=e.content)
             for e in finding.fix.edits]
    lines = text.splitlines()
    unsafe = finding.fix.applicability == "unsafe"
    after = fixed_lines(lines, finding, other_edits=False)
    # the user's own line, fixed, says more than the card's generic fix message
    what = after.strip().splitlines()[0] if after and after.strip() else finding.fix.message
    title = _quote(f"{HOW_TO_FIX}: {what or 'apply ' + finding.code + ' fix'}",
                   MAX_TITLE_CHARS) + (" (unsafe)" if unsafe else "")
    return types.CodeAction(
        title=title, kind=types.CodeActionKind.QuickFix, diagnostics=[diagnostic],
        edit=workspace_edit(uri, version, edits, document_changes),
        command=types.Command(title="Record that the suggestion was accepted",
                              command=RECORD_OUTCOME, arguments=[{
                                  "outcome": "accepted", "code": finding.code,
                                  "fingerprint": finding.fingerprint, "uri": uri,
                                  "line": finding.span.start.line + 1,
                                  "before": finding_lines(lines, finding),
                                  "after": fixed_lines(lines, finding) or ""}]))


def explain_action(uri: str, diagnostic: types.Diagnostic, title: str) -> types.CodeAction:
    """Opens the full recommendation (command `spark.explainDiagnostic`)."""
    return types.CodeAction(
        title=title, kind=EXPLAIN_KIND, diagnostics=[diagnostic],
        command=types.Command(title=title, command=EXPLAIN_DIAGNOSTIC, arguments=[{
            "uri": uri, "diagnostic": {
                "range": range_to_json(diagnostic.range), "message": diagnostic.message,
                "source": diagnostic.source or "",
                **({"code": diagnostic.code} if diagnostic.code is not None else {})}}]))


def code_actions(uri: str, answers: list[tuple[OtherDiagnostic, ErrorExplanation]],
                 sent: list[types.Diagnostic], text: str, version: int | None, encoding: str,
                 document_changes: bool) -> list[types.CodeAction]:
    out = []
    for diagnostic, explanation in answers:
        client_diagnostic = _client_diagnostic(diagnostic, sent)
        finding = automatic_fix(explanation)
        if finding is not None:
            out.append(fix_action(uri, client_diagnostic, finding, text, version, encoding,
                                  document_changes))
            out.append(explain_action(uri, client_diagnostic, EXPLAIN_THIS))
        else:
            out.append(explain_action(uri, client_diagnostic, HOW_TO_FIX))
    return out


def wanted(kind: str | None, only: Sequence[str] | None) -> bool:
    """Whether a codeAction request's `only` admits an action of `kind` (or a parent kind)."""
    return not only or any(kind == k or (kind or "").startswith(k + ".") for k in only)


# -- the handlers' share ---------------------------------------------------------------------------

async def hover_for(feature: OtherDiagnosticsFeature, ls: SparkServer, uri: str,
                    position: types.Position, markdown: bool, own_code: str | None = None
                    ) -> str:
    """The "Spark: …" sections for other tools' diagnostics under the cursor ("" when none);
    `own_code`: the code of Spark's own finding there, whose hover comes first."""
    found = feature.at(ls, uri, position)[:MAX_SHOWN]
    if not found:
        return ""
    text = ls.workspace.get_text_document(uri).source
    return hover_sections(await feature.explained(ls, found, text, HOVER_WAIT), markdown,
                          own_code)


async def actions_for(feature: OtherDiagnosticsFeature, ls: SparkServer, uri: str,
                      params: types.CodeActionParams) -> list[types.CodeAction]:
    """"Spark: how to fix this" for other tools' diagnostics in the requested range."""
    only = params.context.only
    if not (wanted(types.CodeActionKind.QuickFix, only) or wanted(EXPLAIN_KIND, only)):
        return []
    found = feature.overlapping(ls, uri, params.range)[:MAX_SHOWN]
    if not found:
        return []
    doc = ls.workspace.get_text_document(uri)
    version, text = doc.version, doc.source
    answers = await feature.explained(ls, found, text, HOVER_WAIT)
    if ls.workspace.get_text_document(uri).version != version:
        return []  # edited meanwhile: the fix's ranges are of an older text
    document_changes = ls.client_supports("workspace.workspace_edit.document_changes")
    return [a for a in code_actions(uri, answers, list(params.context.diagnostics), text,
                                    version, ls.encoding, document_changes)
            if wanted(a.kind, only)]


def explain_diagnostic_argument(args: tuple[Any, ...]) -> tuple[str, OtherDiagnostic]:
    """`spark.explainDiagnostic`'s argument `{"uri", "diagnostic": {range, message, source,
    code?}}`; ValueError when malformed."""
    raw = args[0] if len(args) == 1 else None
    usage = (f'{EXPLAIN_DIAGNOSTIC} takes {{"uri": "file:///...", "diagnostic": {{"range", '
             f'"message", "source", "code"?}}}}')
    if not isinstance(raw, dict) or not isinstance(raw.get("uri"), str):
        raise ValueError(usage)  # noqa: TRY004 - any malformed argument is one InvalidParams
    try:
        diagnostic = read_diagnostic(raw.get("diagnostic"))
        range_from_json(raw["diagnostic"]["range"])
    except (BadParams, KeyError, TypeError) as exc:
        raise ValueError(f"{usage}: {exc}") from None
    if diagnostic is None:
        raise ValueError(f"{EXPLAIN_DIAGNOSTIC}: Spark's own diagnostics are explained by "
                         "their hover")
    return raw["uri"], diagnostic
