"""Workspace commands (`workspace/executeCommand`): ask Spark about a range, explain a traceback
or another tool's diagnostic, record what the user did with a suggestion, disable a code.

Each command reads its arguments first (`parsed`): a malformed call is InvalidParams for the
client, never a failure of the server. Answers that deserve a page are written as markdown and
opened in the editor (`show_answer`), or summed up in a message when the client cannot.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pygls.uris import to_fs_path

from spark_lsp.agent import AgentInputError
from spark_lsp.server import actions
from spark_lsp.server.ask import ASK_SPARK, AskFeature, ask_argument, document_uri, write_answer
from spark_lsp.server.errors import guarded
from spark_lsp.server.explain import EXPLAIN_ERROR, explain_argument, fix_edits, write_explanation
from spark_lsp.server.other_answers import (
    EXPLAIN_DIAGNOSTIC,
    automatic_fix,
    explain_diagnostic_argument,
)
from spark_lsp.server.other_diagnostics import OtherDiagnosticsFeature

if TYPE_CHECKING:
    from spark_lsp.server.app import SparkServer

log = logging.getLogger(__name__)
T = TypeVar("T")


def parsed(parse: Callable[[tuple[Any, ...]], T], args: tuple[Any, ...]) -> T:
    """The command's arguments as `parse` reads them; a malformed call is InvalidParams."""
    try:
        return parse(args)
    except ValueError as exc:
        raise JsonRpcInvalidParams(str(exc)) from None


def open_text(ls: SparkServer, uri: str, command: str) -> str:
    """The text of an open document; InvalidParams for one the editor has not opened."""
    if ls.documents.get(uri) is None:
        raise JsonRpcInvalidParams(f"{command}: {uri} is not open")
    return ls.workspace.get_text_document(uri).source


async def show_answer(ls: SparkServer, answer: Path, message: str) -> bool:
    """Open the answer's markdown file in the editor; a message when the client cannot."""
    shown = False
    if ls.client_supports("window.show_document.support"):
        try:
            result = await ls.window_show_document_async(types.ShowDocumentParams(
                uri=document_uri(answer), take_focus=False))
            shown = bool(result and result.success)
        except Exception as exc:  # noqa: BLE001 - the client refused: a message still gets it across
            log.info("window/showDocument failed: %s", exc)
    if not shown:
        ls.show(f"{message} (full answer: {answer})")
    return shown


def register_commands(server: SparkServer, asker: AskFeature,
                      others: OtherDiagnosticsFeature) -> None:
    @server.command(EXPLAIN_DIAGNOSTIC)
    @guarded("explain_diagnostic")
    async def explain_diagnostic(ls: SparkServer, *args: Any) -> dict[str, Any]:
        uri, diagnostic = parsed(explain_diagnostic_argument, args)
        text = open_text(ls, uri, EXPLAIN_DIAGNOSTIC)
        explanation = await others.explain(ls, diagnostic, text)
        if explanation is None:
            ls.show(f"Spark has nothing specific to say about {diagnostic.source or 'this'}: "
                    f"{diagnostic.message[:200]}")
            return {"recommendation": None}
        rec = explanation.recommendation
        answer = write_explanation(uri, explanation)
        shown = await show_answer(ls, answer, f"Spark: {rec.title}. {rec.advice}")
        return {"recommendation": rec.to_dict(), "document": document_uri(answer),
                "fix": fix_edits(automatic_fix(explanation), text, ls.encoding),
                "shown": shown}

    @server.command(actions.RECORD_OUTCOME)
    @guarded("record_outcome")
    def record_outcome(ls: SparkServer, *args: Any) -> dict[str, Any]:
        a = parsed(actions.outcome_argument, args)
        trace = ls.tracker(a.uri).resolve(a.outcome, a.code, a.fingerprint, a.line, a.before,
                                          a.after)
        ls.record([trace])
        if a.outcome == "rejected":  # not shown again in this workspace for the same code
            ls.team.reject(a.fingerprint)
            ls.republish()
        return {"recorded": bool(ls.settings.trace)}

    @server.command(actions.DISABLE_CODE)
    @guarded("disable_code")
    def disable_code(ls: SparkServer, *args: Any) -> dict[str, Any]:
        ls.disable_code(parsed(actions.code_argument, args))
        return {"disabled": sorted(ls.session_ignore)}

    @server.command(ASK_SPARK)
    @guarded("ask_spark")
    async def ask_spark(ls: SparkServer, *args: Any) -> dict[str, Any]:
        uri, first, last = parsed(ask_argument, args)
        text = open_text(ls, uri, ASK_SPARK)
        agent = asker.agent(ls.settings, list(ls.cards.values()))
        rec = await asker.recommend(agent, text, first, last, uri)
        answer = write_answer(uri, rec)
        shown = await show_answer(ls, answer, f"Spark: {rec.title}. {rec.advice}")
        return {"recommendation": rec.to_dict(), "document": document_uri(answer),
                "shown": shown}

    @server.command(EXPLAIN_ERROR)
    @guarded("explain_error")
    async def explain_error(ls: SparkServer, *args: Any) -> dict[str, Any]:
        traceback, uri = parsed(explain_argument, args)
        text, path = "", ""
        if uri is not None and ls.documents.get(uri) is not None:
            text = ls.workspace.get_text_document(uri).source
            path = to_fs_path(uri) or uri
        agent = asker.agent(ls.settings, list(ls.cards.values()))
        try:
            explanation = await asker.call(lambda: agent.explain_error(traceback, text, path))
        except AgentInputError as exc:  # not a traceback, too large: say so, keep serving
            ls.show(f"Spark: {exc}", types.MessageType.Warning)
            return {"error": str(exc)}
        rec = explanation.recommendation
        answer = write_explanation(uri or "spark:explain-error", explanation)
        shown = await show_answer(ls, answer, f"Spark: {rec.title}. {rec.advice}")
        return {"explanation": explanation.to_dict(), "recommendation": rec.to_dict(),
                "fix": fix_edits(explanation.finding, text, ls.encoding) if text else None,
                "document": document_uri(answer), "shown": shown}
