"""Quick fixes for Spark's diagnostics: apply the fix, dismiss it here, disable the code.

Everything comes from the diagnostic's `data` (see `convert.diagnostic_data`); nothing is
re-analysed. Each action that changes the file carries the `spark.recordOutcome` command, which
the client runs after applying the edit, so the journal learns what the user chose.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from lsprotocol import types

from spark_lsp.server.convert import SOURCE, LineIndex, text_edits

RECORD_OUTCOME = "spark.recordOutcome"
DISABLE_CODE = "spark.disableCode"
_IGNORE_LIST = re.compile(r"#\s*spark:\s*ignore\[(?P<codes>[A-Za-z0-9,\s]*)\]", re.IGNORECASE)
_IGNORE_ALL = re.compile(r"#\s*spark:\s*ignore(?!\[)", re.IGNORECASE)


def ignore_comment_edit(line: str, code: str) -> tuple[int, int, str] | None:
    """(start, end, text) in code points that makes `line` ignore `code`; None if it already does.

    An existing `# spark: ignore[...]` list is extended; otherwise a comment is appended.
    """
    m = _IGNORE_LIST.search(line)
    if m:
        codes = [c.strip().upper() for c in m.group("codes").split(",") if c.strip()]
        if code in codes:
            return None
        return m.start("codes"), m.end("codes"), ", ".join([*codes, code])
    if _IGNORE_ALL.search(line):
        return None
    end = len(line)
    content_end = len(line.rstrip())
    return content_end, end, f"  # spark: ignore[{code}]"


def workspace_edit(uri: str, version: int | None, edits: list[types.TextEdit],
                    document_changes: bool) -> types.WorkspaceEdit:
    if document_changes:
        return types.WorkspaceEdit(document_changes=[types.TextDocumentEdit(
            text_document=types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version),
            edits=list(edits))])
    return types.WorkspaceEdit(changes={uri: list(edits)})


def _record(outcome: str, data: dict[str, Any], uri: str, after: str | None) -> types.Command:
    return types.Command(
        title=f"Record that the suggestion was {outcome}",
        command=RECORD_OUTCOME,
        arguments=[{"outcome": outcome, "code": data["code"], "fingerprint": data["fingerprint"],
                    "uri": uri, "line": data.get("line", 0), "before": data.get("before") or "",
                    "after": after or ""}],
    )


def quick_fix(uri: str, diagnostic: types.Diagnostic, data: dict[str, Any], version: int | None,
              document_changes: bool) -> types.CodeAction | None:
    fix = data.get("fix")
    if not isinstance(fix, dict) or fix.get("applicability") not in ("safe", "unsafe"):
        return None
    edits = text_edits(fix)
    if not edits or data.get("version") != version:
        return None  # no edit, or computed for text the user has since changed
    unsafe = fix["applicability"] == "unsafe"
    title = f"{data['code']}: {fix.get('message') or 'apply the fix'}" + (" (unsafe)" if unsafe else "")
    return types.CodeAction(
        title=title,
        kind=types.CodeActionKind.QuickFix,
        diagnostics=[diagnostic],
        is_preferred=not unsafe,
        edit=workspace_edit(uri, version, edits, document_changes),
        command=_record("accepted", data, uri, data.get("after")),
    )


def dismiss(uri: str, diagnostic: types.Diagnostic, data: dict[str, Any], index: LineIndex,
            version: int | None, document_changes: bool) -> types.CodeAction | None:
    """Insert (or extend) `# spark: ignore[CODE]` at the end of the flagged line."""
    code = data["code"]
    row = diagnostic.range.start.line
    if index.lsp_line(row).rstrip().endswith("\\"):
        row = diagnostic.range.end.line  # a comment after a line continuation would break it
    line = index.lsp_line(row)
    change = ignore_comment_edit(line, code)
    if change is None:
        return None
    start, end, new_text = change
    line_start = index.offset_at(types.Position(line=row, character=0))
    edit = types.TextEdit(range=types.Range(start=index.position(line_start + start),
                                            end=index.position(line_start + end)),
                          new_text=new_text)
    after = line[:start] + new_text + line[end:]
    return types.CodeAction(
        title=f"Dismiss {code} here",
        kind=types.CodeActionKind.QuickFix,
        diagnostics=[diagnostic],
        edit=workspace_edit(uri, version, [edit], document_changes),
        command=_record("rejected", data, uri, after),
    )


def disable(uri: str, code: str) -> types.CodeAction:
    return types.CodeAction(
        title=f"Disable {code} in this workspace",
        kind=types.CodeActionKind.QuickFix,
        command=types.Command(title=f"Disable {code}", command=DISABLE_CODE,
                              arguments=[{"code": code, "uri": uri}]),
    )


def wants_quickfix(only: Sequence[str] | None) -> bool:
    return not only or any(types.CodeActionKind.QuickFix.value.startswith(k) or
                           k.startswith(types.CodeActionKind.QuickFix.value) for k in only)


def code_actions(uri: str, diagnostics: list[types.Diagnostic], index: LineIndex,
                 version: int | None, document_changes: bool,
                 lookup: Callable[[types.Diagnostic], dict[str, Any] | None]) -> list[types.CodeAction]:
    """Actions for Spark's diagnostics in a codeAction request; `lookup` finds the data of a
    diagnostic whose client dropped it."""
    actions: list[types.CodeAction] = []
    disabled: set[str] = set()
    for diagnostic in diagnostics:
        if diagnostic.source != SOURCE:
            continue
        data = diagnostic.data if _valid(diagnostic.data) else lookup(diagnostic)
        if data is None:
            continue
        for action in (quick_fix(uri, diagnostic, data, version, document_changes),
                       dismiss(uri, diagnostic, data, index, version, document_changes)):
            if action is not None:
                actions.append(action)
        if data["code"] not in disabled:
            disabled.add(data["code"])
            actions.append(disable(uri, data["code"]))
    return actions


def _valid(data: Any) -> bool:
    return (isinstance(data, dict) and isinstance(data.get("code"), str)
            and isinstance(data.get("fingerprint"), str))


# -- the commands' arguments, as the actions above wrote them ----------------------------------
@dataclass(frozen=True)
class OutcomeArgument:
    outcome: str
    code: str
    fingerprint: str
    uri: str
    line: int
    before: str
    after: str


def outcome_argument(args: tuple[Any, ...]) -> OutcomeArgument:
    """`spark.recordOutcome`'s one object argument; ValueError when it is malformed."""
    if len(args) != 1 or not isinstance(args[0], dict):
        raise ValueError(f"{RECORD_OUTCOME} takes one object argument")
    raw = args[0]
    text = {k: raw.get(k) for k in ("outcome", "code", "fingerprint", "uri")}
    bad = [k for k, v in text.items() if not isinstance(v, str) or not v]
    if raw.get("outcome") not in ("accepted", "rejected"):
        bad.append("outcome (accepted or rejected)")
    line = raw.get("line", 0)
    if not isinstance(line, int) or isinstance(line, bool) or line < 0:
        bad.append("line")
    snippets = {k: raw.get(k) or "" for k in ("before", "after")}
    bad += [k for k, v in snippets.items() if not isinstance(v, str)]
    if bad:
        raise ValueError(f"{RECORD_OUTCOME}: bad or missing {', '.join(dict.fromkeys(bad))}")
    return OutcomeArgument(line=line, **text, **snippets)  # type: ignore[arg-type]


def code_argument(args: tuple[Any, ...]) -> str:
    """`spark.disableCode`'s argument: `{"code": "SPK001"}` (or the code alone)."""
    raw = args[0] if len(args) == 1 else None
    code = raw.get("code") if isinstance(raw, dict) else raw
    if not isinstance(code, str) or not code.strip().isalnum():
        raise ValueError(f"{DISABLE_CODE} takes {{\"code\": \"SPKnnn\"}}")
    return code.strip().upper()
